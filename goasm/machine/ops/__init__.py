"""Instruction handlers, one module per family (DESIGN.md, "Style").

Each module registers its handlers with :func:`goasm.machine.ops.base.handles`;
:func:`all_handlers` collects them for :data:`goasm.machine.semantics.TABLE`.
"""

from __future__ import annotations

FAMILIES = (
    "mov",
    "alu",
    "shift",
    "muldiv",
    "branch",
    "stack",
    "xchg",
    "bits",
    "string",
    "misc",
    "sse",
    "sse_int",
    "sse_fp",
    "crypto",
    "strcmp",
    "bmi",
    "intext",
    "vmov",
    "kmask",
    "vperm",
    "vgather",
    "vcrypto",
    "vint",
    "vint_cmp",
    "vint_shift",
    "vint_bits",
    "vint_pack",
    "vfp",
    "vfp_cvt",
    "vfp512",
    "sysreg",
)
"""The family modules, one per line (adding one never conflicts with another)."""


def all_handlers():
    """``[(handler, specs)]`` for every registered handler of every family module."""
    import importlib

    out = []
    for name in FAMILIES:
        module = importlib.import_module(f"goasm.machine.ops.{name}")
        for value in vars(module).values():
            specs = getattr(value, "goasm_handles", None)
            if specs is not None and callable(value):
                out.append((value, specs))
    return out

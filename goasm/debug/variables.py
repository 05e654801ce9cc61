"""A function's arguments and locals, named as the assembly names them.

Arguments come from the Go declaration next to the ``.s`` file (:mod:`goasm.gosig`:
go vet's asmdecl names, ``a+0(FP)``, ``s_len+8(FP)``, results included); without one,
from the ``name+off(FP)`` operands the function's instructions use. Locals are the
``name-off(SP)`` operands (the pseudo-SP). Each variable is placed relative to the
frame's CFA (see :mod:`goasm.debug.frames`): the loader rewrote every operand to a
hardware-SP offset, so ``CFA offset = linked offset - SP delta - 8`` at that instruction.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from goasm import ir
from goasm.debug.frames import sp_deltas

_WIDTH_SUFFIX = {"Q": 8, "L": 4, "W": 2, "B": 1}


@attrs.frozen
class Variable:
    """An argument, result or local: ``name`` (``n``), ``written`` (``n+0(FP)``),
    ``kind`` (``arg``, ``result`` or ``local``), ``rel`` (offset from the CFA),
    ``size`` in bytes and ``typ`` (a Go type name, or "" when unknown)."""

    name: str
    written: str
    kind: str
    rel: int
    size: int
    typ: str = ""


def operand_size(op: str) -> int:
    """Bytes a memory operand of instruction ``op`` covers (its width suffix)."""
    if op.endswith(("OU", "OA")) or op in ("MOVO", "MOVUPS", "MOVAPS", "MOVUPD", "MOVAPD"):
        return 16
    return _WIDTH_SUFFIX.get(op[-1:], 8)


class FrameVariables:
    """Arguments and locals per function of one image (computed once per function)."""

    def __init__(self, image) -> None:
        self.image = image
        self._cache: dict = {}
        self._decls: dict = {}

    def _signature(self, fn):
        from goasm.gosig import declarations_near

        if not fn.file:
            return None
        folder = str(Path(fn.file).resolve().parent)
        if folder not in self._decls:
            self._decls.update(declarations_near([fn.file]))
        short = fn.name.rsplit(".", 1)[-1].split("<", 1)[0]
        return self._decls.get(folder, {}).get(short)

    def of(self, fn) -> tuple:
        """(arguments and results, locals) of :class:`goasm.image.Function` ``fn``."""
        if fn.name in self._cache:
            return self._cache[fn.name]
        used_args: dict = {}
        locals_: dict = {}
        deltas = sp_deltas(fn)
        for ins in fn.instrs:
            d = deltas.get(ins.addr)
            if d is None:
                continue
            for a in ins.args:
                if not isinstance(a, ir.Mem) or a.kind not in (ir.NameKind.PARAM,
                                                               ir.NameKind.AUTO):
                    continue
                rel = a.offset - d - 8
                size = operand_size(ins.op)
                if a.kind is ir.NameKind.PARAM:
                    key = (a.symbol, rel)
                    prev = used_args.get(key)
                    used_args[key] = max(size, prev or 0)
                else:
                    written = rel + 8 + fn.bpsize
                    key = (a.symbol, written)
                    locals_[key] = max(size, locals_.get(key, 0))
        sig = self._signature(fn)
        if sig is not None:
            args = [Variable(s.name, str(s), "result" if s.result else "arg", s.offset, s.size,
                             s.what) for s in sig.slots()]
        else:
            args = [Variable(name, f"{name}+{rel}(FP)", "arg", rel, size)
                    for (name, rel), size in sorted(used_args.items(), key=lambda kv: kv[0][1])]
        locs = [Variable(name, f"{name}{written:+d}(SP)",
                         "local", written - 8 - fn.bpsize, size)
                for (name, written), size in sorted(locals_.items(), key=lambda kv: -kv[0][1])]
        out = self._cache[fn.name] = (tuple(args), tuple(locs))
        return out

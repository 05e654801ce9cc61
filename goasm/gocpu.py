"""The CPU feature variables Go computes at start-up: ``internal/cpu.X86`` and
``golang.org/x/sys/cpu.X86``, from a :class:`goasm.machine.state.CPUModel`.

Go fills these structs from CPUID and XGETBV before any package's ``init`` runs
(``internal/cpu``: ``Initialize`` → ``doinit`` in ``cpu_x86.go``; ``x/sys/cpu``:
``archInit`` in ``cpu_x86.go``); assembly and the package variables derived from them
(``var hasADX = cpu.X86.HasADX && cpu.X86.HasBMI2``) then choose code paths. goasm
computes the same fields from the machine's CPU model with the rules below, one per
field, read off those Go sources (Go 1.27.3; ``tests/test_packages.py`` checks them
against the ``cpu_x86.go`` files of the installed toolchain):

- a CPUID bit (leaf, subleaf, register, bit; Intel SDM Vol. 2, CPUID, Tables 3-8 and
  3-10/3-11/3-20/3-23);
- gates that must hold as well: ``osavx`` (OSXSAVE set and XCR0 enabling the XMM and
  YMM state, SDM Vol. 1, 13.3), ``osavx512`` (also opmask, ZMM_Hi256 and Hi16_ZMM),
  another field (``HasAVX``), the leaf-7 subleaf-1 presence (``leaf7.1``: CPUID.7.0.EAX
  >= 1) or a further CPUID bit (``"7.0.ebx.31"``);
- fields set to a constant or derived from others (``HasAVX512``: F, CD, BW, DQ and VL).

XCR0 is the model's ``xcr0`` when it has one; otherwise the state Linux enables for
what the CPU reports: x87 and SSE, AVX's YMM state when AVX is reported, and the
AVX-512 state when AVX512F is (the kernel sets XCR0 to the supported xfeatures).
No ``GODEBUG=cpu.*`` options are applied (a fresh process without them).
"""

from __future__ import annotations

from types import MappingProxyType

import attrs

EAX, EBX, ECX, EDX = range(4)
_REG = {"eax": EAX, "ebx": EBX, "ecx": ECX, "edx": EDX}


@attrs.frozen
class Rule:
    """``field = CPUID(leaf, subleaf).reg bit`` and every gate (see the module
    docstring); ``value`` instead of a CPUID bit for fields set to a constant."""

    field: str
    leaf: int = 0
    subleaf: int = 0
    reg: int = 0
    bit: int = 0
    gates: tuple = ()
    value: bool | None = None


def _r(field, where, bit, *gates):
    leaf, sub, reg = where.split(".")
    return Rule(field, int(leaf, 0), int(sub), _REG[reg], bit, tuple(gates))


INTERNAL_CPU = (
    # cpuid(1, 0)
    _r("HasSSE3", "1.0.ecx", 0),
    _r("HasPCLMULQDQ", "1.0.ecx", 1),
    _r("HasSSSE3", "1.0.ecx", 9),
    _r("HasSSE41", "1.0.ecx", 19),
    _r("HasSSE42", "1.0.ecx", 20),
    _r("HasPOPCNT", "1.0.ecx", 23),
    _r("HasAES", "1.0.ecx", 25),
    _r("HasOSXSAVE", "1.0.ecx", 27),
    _r("HasAVX", "1.0.ecx", 28, "osavx"),
    _r("HasFMA", "1.0.ecx", 12, "HasAVX", "HasOSXSAVE"),
    # cpuid(7, 0)
    _r("HasBMI1", "7.0.ebx", 3),
    _r("HasAVX2", "7.0.ebx", 5, "osavx"),
    _r("HasBMI2", "7.0.ebx", 8),
    _r("HasERMS", "7.0.ebx", 9),
    _r("HasADX", "7.0.ebx", 19),
    _r("HasSHA", "7.0.ebx", 29),
    _r("HasVAES", "7.0.ecx", 9, "HasAVX"),
    _r("HasVPCLMULQDQ", "7.0.ecx", 10),
    _r("HasAVX512F", "7.0.ebx", 16, "osavx512"),
    _r("HasAVX512CD", "7.0.ebx", 28, "HasAVX512F"),
    _r("HasAVX512BW", "7.0.ebx", 30, "HasAVX512F"),
    _r("HasAVX512DQ", "7.0.ebx", 17, "HasAVX512F"),
    _r("HasAVX512VL", "7.0.ebx", 31, "HasAVX512F"),
    _r("HasAVX512GFNI", "7.0.ecx", 8, "HasAVX512F"),
    _r("HasAVX512BITALG", "7.0.ecx", 12, "HasAVX512F"),
    _r("HasAVX512VPOPCNTDQ", "7.0.ecx", 14, "HasAVX512F"),
    _r("HasAVX512VBMI", "7.0.ecx", 1, "HasAVX512F"),
    _r("HasAVX512VBMI2", "7.0.ecx", 6, "HasAVX512F"),
    _r("HasAVX512VAES", "7.0.ecx", 9, "HasAVX512F", "HasAES", "7.0.ebx.31"),
    _r("HasAVX512VNNI", "7.0.ecx", 11, "HasAVX512F"),
    _r("HasAVX512VPCLMULQDQ", "7.0.ecx", 10, "HasAVX512F"),
    _r("HasGFNI", "7.0.ecx", 8, "HasAVX512F"),
    _r("HasFSRM", "7.0.edx", 4),
    # cpuid(0x80000001, 0)
    _r("HasRDTSCP", "0x80000001.0.edx", 27),
    # cpuid(7, 1), when CPUID.7.0.EAX >= 1
    _r("HasAVXVNNI", "7.1.eax", 4, "leaf7.1", "HasAVX"),
)
"""internal/cpu ``doinit`` (cpu_x86.go), in its order."""

INTERNAL_CPU_DERIVED = (
    ("HasAVX512", ("HasAVX512F", "HasAVX512CD", "HasAVX512BW", "HasAVX512DQ", "HasAVX512VL")),
)
"""internal/cpu ``doDerived``: fields that are the AND of others."""

XSYS_CPU = (
    # cpuid(1, 0)
    _r("HasSSE2", "1.0.edx", 26),
    _r("HasSSE3", "1.0.ecx", 0),
    _r("HasPCLMULQDQ", "1.0.ecx", 1),
    _r("HasSSSE3", "1.0.ecx", 9),
    _r("HasFMA", "1.0.ecx", 12),
    _r("HasCX16", "1.0.ecx", 13),
    _r("HasSSE41", "1.0.ecx", 19),
    _r("HasSSE42", "1.0.ecx", 20),
    _r("HasPOPCNT", "1.0.ecx", 23),
    _r("HasAES", "1.0.ecx", 25),
    _r("HasOSXSAVE", "1.0.ecx", 27),
    _r("HasRDRAND", "1.0.ecx", 30),
    _r("HasAVX", "1.0.ecx", 28, "osavx"),
    # cpuid(7, 0)
    _r("HasBMI1", "7.0.ebx", 3),
    _r("HasAVX2", "7.0.ebx", 5, "osavx"),
    _r("HasBMI2", "7.0.ebx", 8),
    _r("HasERMS", "7.0.ebx", 9),
    _r("HasRDSEED", "7.0.ebx", 18),
    _r("HasADX", "7.0.ebx", 19),
    _r("HasAVX512", "7.0.ebx", 16, "osavx512"),
    Rule("HasAVX512F", gates=("HasAVX512",), value=True),
    _r("HasAVX512CD", "7.0.ebx", 28, "HasAVX512"),
    _r("HasAVX512ER", "7.0.ebx", 27, "HasAVX512"),
    _r("HasAVX512PF", "7.0.ebx", 26, "HasAVX512"),
    _r("HasAVX512VL", "7.0.ebx", 31, "HasAVX512"),
    _r("HasAVX512BW", "7.0.ebx", 30, "HasAVX512"),
    _r("HasAVX512DQ", "7.0.ebx", 17, "HasAVX512"),
    _r("HasAVX512IFMA", "7.0.ebx", 21, "HasAVX512"),
    _r("HasAVX512VBMI", "7.0.ecx", 1, "HasAVX512"),
    _r("HasAVX5124VNNIW", "7.0.edx", 2, "HasAVX512"),
    _r("HasAVX5124FMAPS", "7.0.edx", 3, "HasAVX512"),
    _r("HasAVX512VPOPCNTDQ", "7.0.ecx", 14, "HasAVX512"),
    _r("HasAVX512VPCLMULQDQ", "7.0.ecx", 10, "HasAVX512"),
    _r("HasAVX512VNNI", "7.0.ecx", 11, "HasAVX512"),
    _r("HasAVX512GFNI", "7.0.ecx", 8, "HasAVX512"),
    _r("HasAVX512VAES", "7.0.ecx", 9, "HasAVX512"),
    _r("HasAVX512VBMI2", "7.0.ecx", 6, "HasAVX512"),
    _r("HasAVX512BITALG", "7.0.ecx", 12, "HasAVX512"),
    _r("HasAMXTile", "7.0.edx", 24),
    _r("HasAMXInt8", "7.0.edx", 25),
    _r("HasAMXBF16", "7.0.edx", 22),
    # cpuid(7, 1), when CPUID.7.0.EAX >= 1
    _r("HasAVX512BF16", "7.1.eax", 5, "leaf7.1", "HasAVX512"),
    _r("HasAVXIFMA", "7.1.eax", 23, "leaf7.1", "HasAVX"),
    _r("HasAVXVNNI", "7.1.eax", 4, "leaf7.1", "HasAVX"),
    _r("HasAVXVNNIInt8", "7.1.edx", 4, "leaf7.1", "HasAVX"),
)
"""golang.org/x/sys/cpu ``archInit`` (cpu_x86.go), in its order."""

RULES = MappingProxyType({
    "internal/cpu": (INTERNAL_CPU, INTERNAL_CPU_DERIVED),
    "golang.org/x/sys/cpu": (XSYS_CPU, ()),
    "vendor/golang.org/x/sys/cpu": (XSYS_CPU, ()),
})

XCR0_X87_SSE = 0b11
XCR0_AVX = 0b100
XCR0_AVX512 = 0b11100000


def xcr0(model) -> int:
    """XGETBV(0) on ``model`` (see the module docstring)."""
    value = getattr(model, "xcr0", None)
    if value is not None:
        return int(value)
    if not model.cpuid(1)[ECX] >> 27 & 1:
        return 0
    out = XCR0_X87_SSE
    if model.cpuid(1)[ECX] >> 28 & 1:
        out |= XCR0_AVX
        if model.cpuid(7)[EBX] >> 16 & 1:
            out |= XCR0_AVX512
    return out


def field_names(package: str) -> tuple:
    """The ``X86`` fields goasm computes for ``package`` (() for other packages)."""
    if package not in RULES:
        return ()
    rules, derived = RULES[package]
    return tuple(r.field for r in rules) + tuple(f for f, _ in derived)


def features(package: str, model) -> dict[str, bool]:
    """The ``X86`` fields of ``package`` (``internal/cpu`` or ``golang.org/x/sys/cpu``)
    as Go sets them on a CPU described by ``model``; {} for other packages."""
    if package not in RULES:
        return {}
    rules, derived = RULES[package]
    ecx1 = model.cpuid(1)[ECX]
    x = xcr0(model) if ecx1 >> 27 & 1 else 0
    osavx = x & 0b110 == 0b110
    facts = {
        "osavx": osavx,
        "osavx512": osavx and x & XCR0_AVX512 == XCR0_AVX512,
        "leaf7.1": model.cpuid(0)[EAX] >= 7 and model.cpuid(7, 0)[EAX] >= 1,
    }
    out: dict[str, bool] = {}
    for rule in rules:
        ok = True
        for gate in rule.gates:
            if gate in facts:
                ok = ok and facts[gate]
            elif gate in out:
                ok = ok and out[gate]
            else:                       # "leaf.subleaf.reg.bit"
                leaf, sub, reg, bit = gate.split(".")
                ok = ok and bool(model.cpuid(int(leaf, 0), int(sub))[_REG[reg]] >> int(bit) & 1)
        if rule.value is not None:
            out[rule.field] = bool(ok and rule.value)
        else:
            out[rule.field] = ok and bool(model.cpuid(rule.leaf, rule.subleaf)[rule.reg]
                                          >> rule.bit & 1)
    for field, parts in derived:
        out[field] = all(out.get(p, False) for p in parts)
    return out

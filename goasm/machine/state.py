"""CPU state: general-purpose and XMM registers, RIP, FS/GS bases, lazily computed RFLAGS,
and the CPUID model (:class:`CPUModel`, the ``--cpu`` presets and the feature table).

Register file layout follows the hardware encoding order (Intel SDM Vol. 2, 2.1.5,
Table 2-2; ``goasm.arch.amd64.GPR64``): ``regs[0]`` is RAX (Plan 9 ``AX``), ``regs[4]``
RSP (``SP``) ... ``regs[15]`` R15. Values are unsigned 64-bit Python ints. Compiled
instructions capture the ``regs`` and ``xmm`` lists themselves, so they are only ever
modified in place (``regs[:] = ...``), never rebound.

RFLAGS (SDM Vol. 1, 3.4.3): the six status flags live in the lazy slots described in
:mod:`goasm.machine.flags`; DF is ``df`` (0/1); the remaining bits POPF may set at CPL 3
(TF, NT, AC, ID) are kept in ``rflags_rest``; IF and bit 1 always read as 1, as for a
Linux user process.
"""

from __future__ import annotations

from types import MappingProxyType

import attrs

from goasm.arch.amd64 import GPR8, GPR8_HIGH, GPR64
from goasm.machine import flags as fl

M64 = (1 << 64) - 1

GPR_INDEX = MappingProxyType({name: i for i, name in enumerate(GPR64)})
BYTE_INDEX = MappingProxyType({name: i for i, name in enumerate(GPR8)})
HIGH_INDEX = MappingProxyType({name: i for i, name in enumerate(GPR8_HIGH)})
# AH, CH, DH, BH are bits 8-15 of AX, CX, DX, BX (regs 0, 1, 2, 3).
HIGH_REG = MappingProxyType({"AH": 0, "CH": 1, "DH": 2, "BH": 3})


def _bits(*positions: int) -> int:
    out = 0
    for p in positions:
        out |= 1 << p
    return out


# CPUID leaves whose output depends on ECX (SDM Vol. 2, CPUID, Table 3-8).
_SUBLEAF_LEAVES = frozenset({4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D, 0x1E,
                             0x1F, 0x20, 0x23, 0x24})

EAX, EBX, ECX, EDX = range(4)


@attrs.frozen
class Feature:
    """A CPUID feature flag (SDM Vol. 2, CPUID, Tables 3-10, 3-11, 3-20 and 3-23) and
    the instructions goasm must execute before it may advertise it (Go mnemonics)."""

    name: str
    leaf: int
    reg: int
    bit: int
    mnemonics: tuple = ()
    always: bool = False     # architectural in 64-bit mode (and required by Go)


def _m(text: str) -> tuple:
    return tuple(text.split())


def _simd_mnemonics() -> MappingProxyType:
    """``{feature: mnemonics}`` of the VEX/EVEX families, from the data file
    ``goasm/arch/amd64_simd_features.txt`` (generated from cmd/asm's testdata by
    ``tools/gen_simd_features.py``)."""
    from importlib import resources

    text = resources.files("goasm.arch").joinpath("amd64_simd_features.txt").read_text(
        encoding="utf-8")
    out: dict = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            feature, op = line.split()
            out.setdefault(feature, []).append(op)
    return MappingProxyType({k: tuple(v) for k, v in out.items()})


_SIMD = _simd_mnemonics()

FEATURES = (
    Feature("tsc", 1, EDX, 4, _m("RDTSC")),
    Feature("cx8", 1, EDX, 8, _m("CMPXCHG8B")),
    Feature("cmov", 1, EDX, 15, _m("CMOVQEQ CMOVLEQ CMOVWEQ")),
    Feature("clfsh", 1, EDX, 19, _m("CLFLUSH")),
    Feature("sse", 1, EDX, 25, always=True),
    Feature("sse2", 1, EDX, 26, always=True),
    Feature("sse3", 1, ECX, 0, _m("ADDSUBPD ADDSUBPS HADDPD HADDPS HSUBPD HSUBPS LDDQU "
                                  "MOVDDUP MOVSHDUP MOVSLDUP")),
    Feature("pclmulqdq", 1, ECX, 1, _m("PCLMULQDQ")),
    Feature("ssse3", 1, ECX, 9, _m("PABSB PABSD PABSW PALIGNR PHADDD PHADDSW PHADDW PHSUBD "
                                   "PHSUBSW PHSUBW PMADDUBSW PMULHRSW PSHUFB PSIGNB PSIGND "
                                   "PSIGNW")),
    Feature("fma", 1, ECX, 12, _SIMD["fma"]),
    Feature("cx16", 1, ECX, 13, _m("CMPXCHG16B")),
    Feature("sse4.1", 1, ECX, 19, _m(
        "BLENDPD BLENDPS BLENDVPD BLENDVPS DPPD DPPS EXTRACTPS INSERTPS MOVNTDQA MPSADBW "
        "PACKUSDW PBLENDVB PBLENDW PCMPEQQ PEXTRB PEXTRD PEXTRQ PHMINPOSUW PINSRB PINSRD "
        "PINSRQ PMAXSB PMAXSD PMAXUD PMAXUW PMINSB PMINSD PMINUD PMINUW PMOVSXBD PMOVSXBQ "
        "PMOVSXBW PMOVSXDQ PMOVSXWD PMOVSXWQ PMOVZXBD PMOVZXBQ PMOVZXBW PMOVZXDQ PMOVZXWD "
        "PMOVZXWQ PMULDQ PMULLD PTEST ROUNDPD ROUNDPS ROUNDSD ROUNDSS")),
    Feature("sse4.2", 1, ECX, 20, _m("CRC32B CRC32W CRC32L CRC32Q PCMPESTRI PCMPESTRM "
                                     "PCMPISTRI PCMPISTRM PCMPGTQ")),
    Feature("movbe", 1, ECX, 22, _m("MOVBEW MOVBEL MOVBEQ")),
    Feature("popcnt", 1, ECX, 23, _m("POPCNTW POPCNTL POPCNTQ")),
    Feature("aes", 1, ECX, 25, _m("AESENC AESENCLAST AESDEC AESDECLAST AESIMC "
                                  "AESKEYGENASSIST")),
    Feature("osxsave", 1, ECX, 27, _m("XGETBV")),
    Feature("avx", 1, ECX, 28, _SIMD["avx"]),
    Feature("f16c", 1, ECX, 29, _SIMD["f16c"]),
    Feature("rdrand", 1, ECX, 30, _m("RDRANDW RDRANDL RDRANDQ")),
    Feature("bmi1", 7, EBX, 3, _m("ANDNL ANDNQ BEXTRL BEXTRQ BLSIL BLSIQ BLSMSKL BLSMSKQ "
                                  "BLSRL BLSRQ TZCNTW TZCNTL TZCNTQ")),
    Feature("avx2", 7, EBX, 5, _SIMD["avx2"]),
    Feature("bmi2", 7, EBX, 8, _m("BZHIL BZHIQ MULXL MULXQ PDEPL PDEPQ PEXTL PEXTQ RORXL "
                                  "RORXQ SARXL SARXQ SHLXL SHLXQ SHRXL SHRXQ")),
    Feature("avx512f", 7, EBX, 16, _SIMD["avx512f"]),
    Feature("avx512dq", 7, EBX, 17, _SIMD["avx512dq"]),
    Feature("rdseed", 7, EBX, 18, _m("RDSEEDW RDSEEDL RDSEEDQ")),
    Feature("adx", 7, EBX, 19, _m("ADCXL ADCXQ ADOXL ADOXQ")),
    Feature("avx512ifma", 7, EBX, 21, _SIMD["avx512ifma"]),
    Feature("clflushopt", 7, EBX, 23, _m("CLFLUSHOPT")),
    Feature("avx512cd", 7, EBX, 28, _SIMD["avx512cd"]),
    Feature("sha", 7, EBX, 29, _m("SHA1RNDS4 SHA1NEXTE SHA1MSG1 SHA1MSG2 SHA256RNDS2 "
                                  "SHA256MSG1 SHA256MSG2")),
    Feature("avx512bw", 7, EBX, 30, _SIMD["avx512bw"]),
    Feature("avx512vl", 7, EBX, 31, _SIMD["avx512vl"]),
    Feature("avx512vbmi", 7, ECX, 1, _SIMD["avx512vbmi"]),
    Feature("avx512vbmi2", 7, ECX, 6, _SIMD["avx512vbmi2"]),
    Feature("gfni", 7, ECX, 8, _SIMD["gfni"]),
    Feature("vaes", 7, ECX, 9, _SIMD["vaes"]),
    Feature("vpclmulqdq", 7, ECX, 10, _SIMD["vpclmulqdq"]),
    Feature("avx512vnni", 7, ECX, 11, _SIMD["avx512vnni"]),
    Feature("avx512bitalg", 7, ECX, 12, _SIMD["avx512bitalg"]),
    Feature("avx512vpopcntdq", 7, ECX, 14, _SIMD["avx512vpopcntdq"]),
    Feature("lahf_lm", 0x80000001, ECX, 0, _m("LAHF SAHF")),
    Feature("abm", 0x80000001, ECX, 5, _m("LZCNTW LZCNTL LZCNTQ")),
    Feature("prefetchw", 0x80000001, ECX, 8, _m("PREFETCHW")),
    Feature("syscall", 0x80000001, EDX, 11, _m("SYSCALL")),
    Feature("rdtscp", 0x80000001, EDX, 27, _m("RDTSCP")),
    Feature("lm", 0x80000001, EDX, 29, always=True),
)
"""Every feature flag goasm may report. Not in the list, so never reported: x87 (FPU),
MMX, FXSR and the XSAVE instructions (XSAVE itself: OSXSAVE and XGETBV are reported,
the state-saving instructions are not executed), FSGSBASE, AVX-VNNI, AVX-512
FP16/BF16, the Xeon Phi AVX-512 families, and the performance hints ERMS/FSRM (REP MOVSB
is executed either way). The SIMD features' mnemonic lists are every mnemonic of that
family in cmd/asm's encoding tests (``_simd_mnemonics``)."""

REQUIRES = MappingProxyType({
    "avx": ("osxsave",), "fma": ("avx",), "f16c": ("avx",), "avx2": ("avx",),
    "vaes": ("avx", "aes"), "vpclmulqdq": ("avx", "pclmulqdq"),
    "avx512f": ("avx2", "fma", "f16c"),
    **{name: ("avx512f",) for name in (
        "avx512dq", "avx512ifma", "avx512cd", "avx512bw", "avx512vl", "avx512vbmi",
        "avx512vbmi2", "avx512vnni", "avx512bitalg", "avx512vpopcntdq")},
})
"""Features reported only together with others, as on every real processor and as
software checks them (Go's internal/cpu: AVX needs OSXSAVE; SDM Vol. 1, 14.3 and 15.2:
AVX-512 needs the AVX state, its subsets need AVX-512F)."""


def _close(features) -> frozenset[str]:
    """``features`` without those whose :data:`REQUIRES` are missing."""
    out = set(features)
    changed = True
    while changed:
        changed = False
        for name in list(out):
            if any(r not in out for r in REQUIRES.get(name, ())):
                out.discard(name)
                changed = True
    return frozenset(out)


def implemented_features() -> frozenset[str]:
    """The :data:`FEATURES` whose instructions all have handlers in
    :data:`goasm.machine.semantics.TABLE` (plus the architectural ones), closed under
    :data:`REQUIRES`."""
    from goasm.machine.semantics import TABLE

    return _close(f.name for f in FEATURES
                  if f.always or all(m in TABLE for m in f.mnemonics))


# The x86-64 micro-architecture levels (x86-64 psABI; what GOAMD64=v1..v4 require,
# runtime/asm_amd64.s V2_FEATURES_CX ... V4_OS_SUPPORT_AX). x87, MMX and FXSR belong to
# v1 but goasm does not execute them, so they are not reported.
LEVEL_V1 = frozenset({"tsc", "cx8", "cmov", "clfsh", "sse", "sse2", "syscall", "lm"})
LEVEL_V2 = LEVEL_V1 | {"cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4.1", "sse4.2"}
LEVEL_V3 = LEVEL_V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "osxsave"}
LEVEL_V4 = LEVEL_V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


@attrs.frozen
class Preset:
    """A ``--cpu`` preset: vendor, leaf 1 EAX (family/model/stepping) and EBX, the
    features offered (None: everything goasm implements; always intersected with it)
    and the GOAMD64 level ``go build`` would assemble for (the preprocessor defines
    ``GOAMD64_<level>``)."""

    vendor: str
    eax1: int
    ebx1: int
    offered: frozenset | None
    goamd64: str
    about: str


# CLFLUSH line 8*8 bytes, 1 logical CPU (leaf 1 EBX) for all presets.
PRESETS = MappingProxyType({
    # Family 6 model 0x8F stepping 8: Sapphire Rapids (4th generation Xeon Scalable).
    "intel": Preset("GenuineIntel", 0x000806F8, 0x00010800, None, "v1",
                    "a current Intel server CPU (Sapphire Rapids): AVX2, FMA, AVX-512, SHA, "
                    "GFNI, VAES, VPCLMULQDQ"),
    # Family 0x19 (0xF + extended 0xA) model 0x11: Zen 4 (EPYC 9004, Genoa).
    "amd": Preset("AuthenticAMD", 0x00A10F11, 0x00010800, None, "v1",
                  "a current AMD server CPU (Zen 4): AVX2, FMA, AVX-512, SHA, GFNI, VAES, "
                  "VPCLMULQDQ"),
    # Intel signatures limited to an x86-64 level (GOAMD64=v1 .. v4).
    "v1": Preset("GenuineIntel", 0x000806F8, 0x00010800, LEVEL_V1, "v1",
                 "x86-64 baseline (GOAMD64=v1): Go's fallback code paths"),
    "v2": Preset("GenuineIntel", 0x000806F8, 0x00010800, LEVEL_V2, "v2",
                 "x86-64-v2 (GOAMD64=v2)"),
    "v3": Preset("GenuineIntel", 0x000806F8, 0x00010800, LEVEL_V3, "v3",
                 "x86-64-v3 (GOAMD64=v3): AVX2, FMA, BMI"),
    "v4": Preset("GenuineIntel", 0x000806F8, 0x00010800, LEVEL_V4, "v4",
                 "x86-64-v4 (GOAMD64=v4): AVX-512 F/BW/CD/DQ/VL"),
    # This machine's processor (read from /proc/cpuinfo), limited to what goasm executes.
    "host": Preset("host", 0, 0x00010800, None, "v1",
                   "this machine's CPU features, limited to what goasm executes"),
})
DEFAULT_PRESET = "intel"

_BRAND = "goasm virtual CPU"

# Linux /proc/cpuinfo flag names that differ from FEATURES names.
_LINUX_FLAGS = MappingProxyType({
    "pni": "sse3", "sse4_1": "sse4.1", "sse4_2": "sse4.2", "sha_ni": "sha",
    "clflush": "clfsh", "avx512_vbmi2": "avx512vbmi2", "avx512_vnni": "avx512vnni",
    "avx512_bitalg": "avx512bitalg", "avx512_vpopcntdq": "avx512vpopcntdq",
})


def host_cpu(cpuinfo: str | None = None) -> tuple[str, int, frozenset, str]:
    """``(vendor, leaf 1 EAX, features, model name)`` of this machine's first
    processor from ``/proc/cpuinfo`` (Linux; the flags are what the kernel enabled, so
    AVX state the OS does not manage is absent). OSXSAVE is reported with XSAVE, as
    Linux sets CR4.OSXSAVE whenever the processor has it."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                cpuinfo = f.read()
        except OSError as exc:
            raise OSError(f"the host preset reads /proc/cpuinfo: {exc}") from exc
    info: dict = {}
    for line in cpuinfo.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    flags = set(info.get("flags", "").split())
    names = {_LINUX_FLAGS.get(x, x) for x in flags}
    if "xsave" in flags:
        names.add("osxsave")
    known = {f.name for f in FEATURES}
    family, model, stepping = (int(info.get(k, "0") or 0) for k in ("cpu family", "model",
                                                                     "stepping"))
    base_family = min(family, 0xF)
    eax1 = (family - base_family) << 20 | (model >> 4) << 16 | base_family << 8 \
        | (model & 0xF) << 4 | (stepping & 0xF)
    return (info.get("vendor_id", "GenuineIntel"), eax1, frozenset(names & known),
            info.get("model name", ""))


# XSAVE state components (SDM Vol. 1, 13.2 and Table 13-1; CPUID leaf 0xD): number ->
# (size, offset in the standard format).
XSAVE_COMPONENTS = MappingProxyType({2: (256, 576), 5: (64, 1088), 6: (512, 1152),
                                     7: (1024, 1664)})


def xcr0_for(features) -> int:
    """XCR0 as Linux sets it for a processor with ``features``: x87 and SSE state, AVX
    state with AVX, opmask/ZMM_Hi256/Hi16_ZMM with AVX-512F (0, no XGETBV, without
    OSXSAVE)."""
    if "osxsave" not in features:
        return 0
    return 0x3 | (0x4 if "avx" in features else 0) | (0xE0 if "avx512f" in features else 0)


def feature_leaves(features, eax1: int = 0x000806F8, ebx1: int = 0x00010800,
                   brand: str = _BRAND) -> MappingProxyType:
    """The CPUID leaves advertising ``features`` (names from :data:`FEATURES`), with
    the processor signature ``eax1``/``ebx1``, a brand string (leaves 0x80000002-4) and,
    with OSXSAVE, leaf 0xD describing the XSAVE state components of XCR0."""
    regs: dict[tuple, list] = {(1, 0): [eax1, ebx1, 0, 0], (7, 0): [0, 0, 0, 0],
                               (0x80000001, 0): [0, 0, 0, 0]}
    known = {f.name: f for f in FEATURES}
    for name in features:
        f = known[name]
        regs[(f.leaf, 0)][f.reg] |= 1 << f.bit
    xcr0 = xcr0_for(features)
    if xcr0:
        size = max([576] + [XSAVE_COMPONENTS[c][0] + XSAVE_COMPONENTS[c][1]
                            for c in XSAVE_COMPONENTS if xcr0 >> c & 1])
        regs[(0xD, 0)] = [xcr0 & 0xFFFFFFFF, size, size, xcr0 >> 32]
        regs[(0xD, 1)] = [0, 0, 0, 0]
        for c, (sz, off) in XSAVE_COMPONENTS.items():
            if xcr0 >> c & 1:
                regs[(0xD, c)] = [sz, off, 0, 0]
    text = brand.encode("ascii", "replace")[:47].ljust(48, b"\0")
    for i in range(3):
        chunk = text[16 * i:16 * i + 16]
        regs[(0x80000002 + i, 0)] = [int.from_bytes(chunk[j:j + 4], "little")
                                     for j in range(0, 16, 4)]
    return MappingProxyType({k: tuple(v) for k, v in regs.items()})


def host_vendor(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The host processor's CPUID vendor string ("GenuineIntel", "AuthenticAMD", ...), read
    from Linux's ``/proc/cpuinfo``; "GenuineIntel" when it cannot be read. Oracle tests
    that run instructions on the host compare with a model of the same vendor, since
    Intel and AMD processors differ in a few documented corners (which NaN an
    instruction returns, whether an operand must be aligned)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "GenuineIntel"


@attrs.frozen
class CPUModel:
    """What CPUID and XGETBV report (SDM Vol. 2, CPUID and XGETBV).

    ``leaves`` maps ``(leaf, subleaf)`` (subleaf 0 for leaves without subleaves) to
    ``(eax, ebx, ecx, edx)``. Leaf 0 (max leaf, vendor) and 0x80000000 (max extended
    leaf) are computed from ``vendor``, ``max_leaf`` and ``max_ext_leaf``; any other leaf
    not in ``leaves`` reads as zeros. The default model (and :meth:`preset`) advertises
    exactly what goasm executes (:func:`implemented_features`), so the Go runtime and
    ``internal/cpu`` pick code paths goasm can run. ``goamd64`` is the level the
    preprocessor assembles for (``GOAMD64_<level>``).
    """

    vendor: str = "GenuineIntel"
    max_leaf: int = 0xD
    max_ext_leaf: int = 0x80000004
    leaves: MappingProxyType = attrs.field(
        factory=lambda: feature_leaves(implemented_features()))
    goamd64: str = "v1"

    @classmethod
    def preset(cls, name: str = DEFAULT_PRESET, *, features=None) -> "CPUModel":
        """A ``--cpu`` preset (:data:`PRESETS`); ``features`` overrides the advertised
        feature names (default: :func:`implemented_features`)."""
        p = PRESETS[name]
        feats = implemented_features() if features is None else frozenset(features)
        vendor, eax1, brand = p.vendor, p.eax1, f"{_BRAND} ({name} preset)"
        if name == "host":
            vendor, eax1, offered, model_name = host_cpu()
            feats &= offered
            brand = f"{_BRAND} (host: {model_name})"
        elif p.offered is not None:
            feats &= p.offered
        return cls(vendor=vendor, leaves=feature_leaves(_close(feats), eax1, p.ebx1, brand),
                   goamd64=p.goamd64)

    @property
    def features(self) -> frozenset[str]:
        """The names of the :data:`FEATURES` this model reports."""
        return frozenset(f.name for f in FEATURES
                         if self.cpuid(f.leaf)[f.reg] >> f.bit & 1)

    @property
    def xcr0(self) -> int:
        """What XGETBV with ECX=0 returns (0 when the model has no OSXSAVE: #UD)."""
        return xcr0_for(self.features)

    def cpuid(self, leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
        """``(eax, ebx, ecx, edx)`` for CPUID with EAX=leaf, ECX=subleaf."""
        if leaf == 0:
            v = self.vendor.encode("ascii").ljust(12, b"\0")[:12]
            word = [int.from_bytes(v[i:i + 4], "little") for i in (0, 4, 8)]
            return (self.max_leaf, word[0], word[2], word[1])
        if leaf == 0x80000000:
            return (self.max_ext_leaf, 0, 0, 0)
        if leaf > self.max_leaf and leaf < 0x80000000 or leaf > self.max_ext_leaf:
            return (0, 0, 0, 0)
        if leaf not in _SUBLEAF_LEAVES:
            subleaf = 0
        return self.leaves.get((leaf, subleaf), (0, 0, 0, 0))


NVEC = 32
"""Vector registers V0..V31 (X/Y/Z0..31, SDM Vol. 1, 15.1: AVX-512 has 32 registers of
512 bits; X/Y16..31 and Z are reachable only through EVEX)."""
NK = 8
"""Opmask registers K0..K7 (SDM Vol. 1, 15.1.3)."""
MXCSR_RESET = 0x1F80
"""MXCSR after reset and for a new Linux process (SDM Vol. 1, 10.2.3.1): all exceptions
masked, round to nearest, FTZ and DAZ off."""
M128 = (1 << 128) - 1


class CPU:
    """One hardware thread's registers.

    Attributes: ``regs`` (16 unsigned 64-bit ints), the vector registers split in two
    lists of :data:`NVEC` ints -- ``xmm[i]`` bits 0..127 of Vi and ``vhi[i]`` bits
    128..511 of Vi shifted down (``Vi = xmm[i] | vhi[i] << 128``) -- ``kreg`` (the
    :data:`NK` opmask registers, 64-bit), ``mxcsr``, ``pc``, ``fs_base``, ``gs_base``,
    ``df``, ``rflags_rest``, ``tsc`` (last RDTSC value), and the lazy flag slots
    ``fk fa fb fr fc`` (see :mod:`goasm.machine.flags`).

    The split follows the SDM's rule for mixing encodings (Vol. 1, 14.1.3 "Processor
    State" and 15.5): legacy SSE instructions write only bits 0..127 and leave the rest
    as it was, so their handlers work on ``xmm`` alone; VEX and EVEX writes zero
    everything above the operation width, so they write ``vhi`` too.

    During :meth:`goasm.machine.machine.Machine.run` ``pc`` is brought up to date before
    every native call, syscall and fault, and when run returns.
    """

    __slots__ = ("regs", "xmm", "vhi", "kreg", "mxcsr", "pc", "fs_base", "gs_base",
                 "fk", "fa", "fb", "fr", "fc", "df", "rflags_rest", "tsc")

    def __init__(self) -> None:
        self.regs = [0] * 16
        self.xmm = [0] * NVEC
        self.vhi = [0] * NVEC
        self.kreg = [0] * NK
        self.mxcsr = MXCSR_RESET
        self.pc = 0
        self.fs_base = 0
        self.gs_base = 0
        self.df = 0
        self.rflags_rest = 0
        self.tsc = 0
        fl.set_explicit(self, 0)

    # ---------------------------------------------------------------- RFLAGS

    def get_rflags(self) -> int:
        """The full RFLAGS value (status flags materialised, IF and bit 1 set)."""
        return (fl.MATERIALIZE[self.fk](self) | (fl.DF if self.df else 0) | self.rflags_rest
                | fl.IF | fl.ALWAYS_ONE)

    def set_rflags(self, value: int) -> None:
        """Load RFLAGS as POPFQ does at CPL 3: only :data:`flags.USER_WRITABLE` bits."""
        fl.set_explicit(self, value)
        self.df = 1 if value & fl.DF else 0
        self.rflags_rest = value & (fl.TF | fl.NT | fl.AC | fl.ID)

    def flag(self, name: str) -> int:
        """One flag by name (``CF`` ``PF`` ``AF`` ``ZF`` ``SF`` ``OF`` ``DF`` ...) as 0/1."""
        return 1 if self.get_rflags() & getattr(fl, name) else 0

    # ---------------------------------------------------------------- vectors

    def get_vec(self, i: int) -> int:
        """The whole 512-bit value of vector register ``i``."""
        return self.xmm[i] | self.vhi[i] << 128

    def set_vec(self, i: int, value: int) -> None:
        """Set all 512 bits of vector register ``i``."""
        self.xmm[i] = value & M128
        self.vhi[i] = value >> 128 & ((1 << 384) - 1)

    # ---------------------------------------------------------------- snapshots

    def save(self) -> tuple:
        """An immutable copy of the whole state (for snapshots and thread switches)."""
        return (tuple(self.regs), tuple(self.xmm), tuple(self.vhi), tuple(self.kreg),
                self.mxcsr, self.pc, self.fs_base, self.gs_base,
                self.fk, self.fa, self.fb, self.fr, self.fc, self.df, self.rflags_rest,
                self.tsc)

    def load(self, state: tuple) -> None:
        """Restore a :meth:`save` result in place (the register lists keep their identity)."""
        (regs, xmm, vhi, kreg, self.mxcsr, self.pc, self.fs_base, self.gs_base, self.fk,
         self.fa, self.fb, self.fr, self.fc, self.df, self.rflags_rest, self.tsc) = state
        self.regs[:] = regs
        self.xmm[:] = xmm
        self.vhi[:] = vhi
        self.kreg[:] = kreg

    def __repr__(self) -> str:
        regs = " ".join(f"{n}={v:#x}" for n, v in zip(GPR64, self.regs))
        return f"<CPU pc={self.pc:#x} {regs} rflags={self.get_rflags():#x}>"

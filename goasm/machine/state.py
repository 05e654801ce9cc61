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
    Feature("rdrand", 1, ECX, 30, _m("RDRANDW RDRANDL RDRANDQ")),
    Feature("bmi1", 7, EBX, 3, _m("ANDNL ANDNQ BEXTRL BEXTRQ BLSIL BLSIQ BLSMSKL BLSMSKQ "
                                  "BLSRL BLSRQ TZCNTW TZCNTL TZCNTQ")),
    Feature("rdseed", 7, EBX, 18, _m("RDSEEDW RDSEEDL RDSEEDQ")),
    Feature("bmi2", 7, EBX, 8, _m("BZHIL BZHIQ MULXL MULXQ PDEPL PDEPQ PEXTL PEXTQ RORXL "
                                  "RORXQ SARXL SARXQ SHLXL SHLXQ SHRXL SHRXQ")),
    Feature("adx", 7, EBX, 19, _m("ADCXL ADCXQ ADOXL ADOXQ")),
    Feature("clflushopt", 7, EBX, 23, _m("CLFLUSHOPT")),
    Feature("sha", 7, EBX, 29, _m("SHA1RNDS4 SHA1NEXTE SHA1MSG1 SHA1MSG2 SHA256RNDS2 "
                                  "SHA256MSG1 SHA256MSG2")),
    Feature("lahf_lm", 0x80000001, ECX, 0, _m("LAHF SAHF")),
    Feature("abm", 0x80000001, ECX, 5, _m("LZCNTW LZCNTL LZCNTQ")),
    Feature("prefetchw", 0x80000001, ECX, 8, _m("PREFETCHW")),
    Feature("syscall", 0x80000001, EDX, 11, _m("SYSCALL")),
    Feature("rdtscp", 0x80000001, EDX, 27, _m("RDTSCP")),
    Feature("lm", 0x80000001, EDX, 29, always=True),
)
"""Every feature flag goasm may report. Not in the list, so never reported: x87 (FPU),
MMX, FXSR/XSAVE/OSXSAVE, AVX and later vector extensions, FMA, FSGSBASE, and the
performance hints ERMS/FSRM (REP MOVSB is executed either way)."""


def implemented_features() -> frozenset[str]:
    """The :data:`FEATURES` whose instructions all have handlers in
    :data:`goasm.machine.semantics.TABLE` (plus the architectural ones)."""
    from goasm.machine.semantics import TABLE

    return frozenset(f.name for f in FEATURES
                     if f.always or all(m in TABLE for m in f.mnemonics))


# The x86-64 micro-architecture levels goasm can present (the psABI levels that
# GOAMD64=v1/v2 select; v3 needs AVX2). x87, MMX and FXSR belong to v1 but goasm does not
# execute them, so they are not reported.
LEVEL_V1 = frozenset({"tsc", "cx8", "cmov", "clfsh", "sse", "sse2", "syscall", "lm"})
LEVEL_V2 = LEVEL_V1 | {"cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4.1", "sse4.2"}

# Presets (``goasm run --cpu``): vendor, leaf 1 EAX (family/model/stepping) and EBX, and
# the features offered (None: everything goasm implements; always intersected with it).
PRESETS = MappingProxyType({
    # Family 6 model 0x55 stepping 4 (Skylake-SP); CLFLUSH line 8*8 bytes, 1 logical CPU.
    "intel": ("GenuineIntel", 0x00050654, 0x00010800, None),
    # Family 0x17 (0xF + extended 0x8) model 0x31 (Zen 2).
    "amd": ("AuthenticAMD", 0x00830F10, 0x00010800, None),
    # An Intel signature limited to the x86-64 baseline / v2: Go's fallback code paths.
    "v1": ("GenuineIntel", 0x00050654, 0x00010800, LEVEL_V1),
    "v2": ("GenuineIntel", 0x00050654, 0x00010800, LEVEL_V2),
})

_BRAND = "goasm virtual CPU"


def feature_leaves(features, eax1: int = 0x00050654, ebx1: int = 0x00010800,
                   brand: str = _BRAND) -> MappingProxyType:
    """The CPUID leaves advertising ``features`` (names from :data:`FEATURES`), with
    the processor signature ``eax1``/``ebx1`` and a brand string (leaves 0x80000002-4)."""
    regs: dict[tuple, list] = {(1, 0): [eax1, ebx1, 0, 0], (7, 0): [0, 0, 0, 0],
                               (0x80000001, 0): [0, 0, 0, 0]}
    known = {f.name: f for f in FEATURES}
    for name in features:
        f = known[name]
        regs[(f.leaf, 0)][f.reg] |= 1 << f.bit
    text = brand.encode("ascii")[:47].ljust(48, b"\0")
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
    """What CPUID reports (SDM Vol. 2, CPUID).

    ``leaves`` maps ``(leaf, subleaf)`` (subleaf 0 for leaves without subleaves) to
    ``(eax, ebx, ecx, edx)``. Leaf 0 (max leaf, vendor) and 0x80000000 (max extended
    leaf) are computed from ``vendor``, ``max_leaf`` and ``max_ext_leaf``; any other leaf
    not in ``leaves`` reads as zeros. The default model (and :meth:`preset`) advertises
    exactly what goasm executes (:func:`implemented_features`), so the Go runtime and
    ``internal/cpu`` pick code paths goasm can run: no AVX, no x87/MMX, no ERMS.
    """

    vendor: str = "GenuineIntel"
    max_leaf: int = 7
    max_ext_leaf: int = 0x80000004
    leaves: MappingProxyType = attrs.field(
        factory=lambda: feature_leaves(implemented_features()))

    @classmethod
    def preset(cls, name: str = "intel", *, features=None) -> "CPUModel":
        """A ``--cpu`` preset (:data:`PRESETS`); ``features`` overrides the advertised
        feature names (default: :func:`implemented_features`)."""
        vendor, eax1, ebx1, offered = PRESETS[name]
        feats = implemented_features() if features is None else frozenset(features)
        if offered is not None:
            feats &= offered
        return cls(vendor=vendor, leaves=feature_leaves(
            feats, eax1, ebx1, f"{_BRAND} ({name} preset)"))

    @property
    def features(self) -> frozenset[str]:
        """The names of the :data:`FEATURES` this model reports."""
        return frozenset(f.name for f in FEATURES
                         if self.cpuid(f.leaf)[f.reg] >> f.bit & 1)

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

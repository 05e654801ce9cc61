"""CPU state: general-purpose and XMM registers, RIP, FS/GS bases, lazily computed RFLAGS,
and the CPUID model.

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


@attrs.frozen
class CPUModel:
    """What CPUID reports (SDM Vol. 2, CPUID).

    ``leaves`` maps ``(leaf, subleaf)`` (subleaf 0 for leaves without subleaves) to
    ``(eax, ebx, ecx, edx)``. Leaf 0 (max leaf, vendor) and 0x80000000 (max extended
    leaf) are computed from ``vendor``, ``max_leaf`` and ``max_ext_leaf``; any other leaf
    not in ``leaves`` reads as zeros. The default model advertises exactly what goasm
    executes: the base ISA with TSC, CMPXCHG8B, CMOV, SSE/SSE2 (leaf 1 EDX bits 4, 8, 15,
    25, 26), CMPXCHG16B and POPCNT (leaf 1 ECX bits 13, 23), SYSCALL and LAHF/SAHF in
    64-bit mode (leaf 0x80000001) and nothing wider (no SSE3+, no AVX, no BMI).
    """

    vendor: str = "GenuineIntel"
    max_leaf: int = 7
    max_ext_leaf: int = 0x80000001
    leaves: MappingProxyType = attrs.field(factory=lambda: MappingProxyType({
        # Family 6 model 0x55 stepping 4; CLFLUSH line size 8*8 bytes, 1 logical CPU.
        (1, 0): (0x00050654, 0x00010800, _bits(13, 23), _bits(4, 8, 15, 25, 26)),
        (7, 0): (0, 0, 0, 0),
        (0x80000001, 0): (0, 0, _bits(0), _bits(11, 29)),  # SYSCALL, long mode
    }))

    def cpuid(self, leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
        """``(eax, ebx, ecx, edx)`` for CPUID with EAX=leaf, ECX=subleaf."""
        if leaf == 0:
            v = self.vendor.encode("ascii").ljust(12, b"\0")[:12]
            word = [int.from_bytes(v[i:i + 4], "little") for i in (0, 4, 8)]
            return (self.max_leaf, word[0], word[2], word[1])
        if leaf == 0x80000000:
            return (self.max_ext_leaf, 0, 0, 0)
        if leaf not in _SUBLEAF_LEAVES:
            subleaf = 0
        return self.leaves.get((leaf, subleaf), (0, 0, 0, 0))


class CPU:
    """One hardware thread's registers.

    Attributes: ``regs`` (16 unsigned 64-bit ints), ``xmm`` (16 unsigned 128-bit ints),
    ``pc``, ``fs_base``, ``gs_base``, ``df``, ``rflags_rest``, ``tsc`` (last RDTSC value),
    and the lazy flag slots ``fk fa fb fr fc`` (see :mod:`goasm.machine.flags`).
    During :meth:`goasm.machine.machine.Machine.run` ``pc`` is brought up to date before
    every native call, syscall and fault, and when run returns.
    """

    __slots__ = ("regs", "xmm", "pc", "fs_base", "gs_base", "fk", "fa", "fb", "fr", "fc",
                 "df", "rflags_rest", "tsc")

    def __init__(self) -> None:
        self.regs = [0] * 16
        self.xmm = [0] * 16
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

    # ---------------------------------------------------------------- snapshots

    def save(self) -> tuple:
        """An immutable copy of the whole state (for snapshots and thread switches)."""
        return (tuple(self.regs), tuple(self.xmm), self.pc, self.fs_base, self.gs_base,
                self.fk, self.fa, self.fb, self.fr, self.fc, self.df, self.rflags_rest,
                self.tsc)

    def load(self, state: tuple) -> None:
        """Restore a :meth:`save` result in place (the register lists keep their identity)."""
        (regs, xmm, self.pc, self.fs_base, self.gs_base, self.fk, self.fa, self.fb,
         self.fr, self.fc, self.df, self.rflags_rest, self.tsc) = state
        self.regs[:] = regs
        self.xmm[:] = xmm

    def __repr__(self) -> str:
        regs = " ".join(f"{n}={v:#x}" for n, v in zip(GPR64, self.regs))
        return f"<CPU pc={self.pc:#x} {regs} rflags={self.get_rflags():#x}>"

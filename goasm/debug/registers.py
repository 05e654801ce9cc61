"""The register file as the debugger shows and edits it: names, groups, values.

Names are Plan 9's (Go's assembler guide, "Architecture-specific details": ``AX`` ..
``R15``, ``SP``, ``BP``, ``X0`` ..); Intel names (``RAX``, ``RIP``, ``EFLAGS``) are
accepted as aliases. ``FS`` and ``GS`` stand for the segment *bases* (what
``arch_prctl(ARCH_SET_FS)`` sets), which is how Go's TLS works on linux/amd64.

Vector registers go through one accessor (:meth:`RegisterFile.vector`), so the views
grow with the CPU's register file: ``cpu.xmm[i]`` holds bits 0..127 and, when the CPU
has them, ``cpu.vhi[i]`` bits 128..511 (shifted down by 128); ``Y``/``Z`` registers,
``K0``-``K7`` (``cpu.kreg``) and ``MXCSR`` (``cpu.mxcsr``) appear once the CPU state
has those attributes (Intel SDM Vol. 1, 15.1: the AVX-512 register file, 32 ZMM
registers and 8 opmask registers).
"""

from __future__ import annotations

import re
import types

from goasm.arch.amd64 import GPR64
from goasm.debug.errors import CommandError

M64 = (1 << 64) - 1

GENERAL = ("PC", "SP", "BP", "AX", "BX", "CX", "DX", "SI", "DI", "R8", "R9", "R10", "R11",
           "R12", "R13", "R14", "R15")
"""General registers in the order ``regs`` prints them."""

REG_ORDER = GENERAL + ("FLAGS", "FS", "GS")

INTEL_NAMES = types.MappingProxyType({
    "RAX": "AX", "RBX": "BX", "RCX": "CX", "RDX": "DX", "RSI": "SI", "RDI": "DI",
    "RBP": "BP", "RSP": "SP", "RIP": "PC", "EFLAGS": "FLAGS", "RFLAGS": "FLAGS",
    "FS_BASE": "FS", "GS_BASE": "GS",
})

FLAG_BITS = (("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9),
             ("DF", 10), ("OF", 11))
"""RFLAGS bits (SDM Vol. 1, 3.4.3, Figure 3-8)."""

_BYTE = frozenset({"AL", "BL", "CL", "DL", "AH", "BH", "CH", "DH", "SIB", "DIB", "BPB",
                   "SPB"})
_VECTOR = re.compile(r"([XYZ])(\d{1,2})")
_WIDTH = types.MappingProxyType({"X": 128, "Y": 256, "Z": 512})


def canonical(name: str) -> str | None:
    """The register ``name`` stands for (upper case, Plan 9 spelling), or None.
    ``g`` is not a register here: in expressions it is the runtime's current g."""
    if name == "g":
        return None
    up = name.upper()
    up = INTEL_NAMES.get(up, up)
    if up in ("FS", "GS", "PC", "FLAGS") or up in GPR64 or up in _BYTE or up == "MXCSR":
        return up
    if re.fullmatch(r"R(8|9|1[0-5])B", up) or re.fullmatch(r"K[0-7]", up):
        return up
    m = _VECTOR.fullmatch(up)
    if m and int(m.group(2)) < 32:
        return up
    return None


def vector_width(name: str) -> int:
    """Bits of vector register ``name`` (a :func:`canonical` name), 0 for others."""
    m = _VECTOR.fullmatch(name)
    return _WIDTH[m.group(1)] if m else 0


class RegisterFile:
    """Read and write the registers of one CPU by name (see the module docstring)."""

    def __init__(self, machine) -> None:
        self.machine = machine
        self.cpu = machine.cpu

    # ------------------------------------------------------------------ vectors

    @property
    def vector_count(self) -> int:
        return len(self.cpu.xmm)

    @property
    def vector_bits(self) -> int:
        """The widest vector register the CPU state holds (128, or 512 with ``vhi``)."""
        return 512 if hasattr(self.cpu, "vhi") else 128

    def vector(self, i: int) -> int:
        """All the bits of vector register ``i`` the CPU holds (bit 0 = lane 0)."""
        value = self.cpu.xmm[i]
        if hasattr(self.cpu, "vhi"):
            value |= self.cpu.vhi[i] << 128
        return value

    def set_vector(self, i: int, value: int, bits: int) -> None:
        """Write the low ``bits`` of vector register ``i`` (the rest is kept)."""
        value &= (1 << bits) - 1
        self.cpu.xmm[i] = value & ((1 << 128) - 1)
        if bits > 128 and hasattr(self.cpu, "vhi"):
            keep = self.cpu.vhi[i] & ~((1 << (bits - 128)) - 1)
            self.cpu.vhi[i] = keep | (value >> 128)

    def _vector_ref(self, name: str):
        m = _VECTOR.fullmatch(name)
        bits = _WIDTH[m.group(1)]
        i = int(m.group(2))
        if i >= self.vector_count or bits > self.vector_bits:
            raise CommandError(f"register {name} is not in this CPU's register file "
                               f"({self.vector_count} vector registers of "
                               f"{self.vector_bits} bits)")
        return i, bits

    # ------------------------------------------------------------------ any register

    def get(self, name: str) -> int:
        """The value of register ``name`` (a :func:`canonical` name)."""
        cpu = self.cpu
        if name == "FS":
            return cpu.fs_base
        if name == "GS":
            return cpu.gs_base
        if name == "FLAGS":
            return cpu.get_rflags()
        if name == "PC":
            return cpu.pc
        if _VECTOR.fullmatch(name):
            i, bits = self._vector_ref(name)
            return self.vector(i) & ((1 << bits) - 1)
        if name[0] == "K" and name[1:].isdigit():
            return self._optional("kreg", name)[int(name[1:])]
        if name == "MXCSR":
            return self._optional("mxcsr", name)
        return self.machine.reg(name)

    def set(self, name: str, value: int) -> None:
        """Set register ``name``; byte registers keep the other bits (as ``MOVB``)."""
        cpu = self.cpu
        if name == "FS":
            cpu.fs_base = value & M64
        elif name == "GS":
            cpu.gs_base = value & M64
        elif name == "FLAGS":
            cpu.set_rflags(value & M64)
        elif _VECTOR.fullmatch(name):
            i, bits = self._vector_ref(name)
            self.set_vector(i, value, bits)
        elif name[0] == "K" and name[1:].isdigit():
            self._optional("kreg", name)[int(name[1:])] = value & M64
        elif name == "MXCSR":
            self._optional("mxcsr", name)
            cpu.mxcsr = value & 0xFFFFFFFF
        else:
            self.machine.set_reg(name, value & M64)

    def _optional(self, attr: str, name: str):
        if not hasattr(self.cpu, attr):
            raise CommandError(f"register {name} is not in this CPU's register file")
        return getattr(self.cpu, attr)

    # ------------------------------------------------------------------ views

    def general(self) -> dict:
        """``REG_ORDER`` name -> value."""
        out = {name: self.cpu.regs[i] for i, name in enumerate(GPR64)}
        out["PC"] = self.cpu.pc
        out["FLAGS"] = self.cpu.get_rflags()
        out["FS"] = self.cpu.fs_base
        out["GS"] = self.cpu.gs_base
        return {name: out[name] for name in REG_ORDER}

    def vectors(self) -> list:
        """[(name, bits, value)] of every vector register at its full width (X, or Z
        once the CPU holds 512 bits), then K0-K7 and MXCSR when present."""
        prefix = {128: "X", 512: "Z"}[self.vector_bits]
        out = [(f"{prefix}{i}", self.vector_bits, self.vector(i))
               for i in range(self.vector_count)]
        if hasattr(self.cpu, "kreg"):
            out += [(f"K{i}", 64, v) for i, v in enumerate(self.cpu.kreg)]
        if hasattr(self.cpu, "mxcsr"):
            out.append(("MXCSR", 32, self.cpu.mxcsr))
        return out


def flag_names(rflags: int) -> list:
    """The names of the flags set in ``rflags``."""
    return [f for f, bit in FLAG_BITS if rflags >> bit & 1]


def vector_lanes(value: int, bits: int, lane_bits: int = 64) -> list:
    """``value`` split into lanes of ``lane_bits``, lane 0 first."""
    mask = (1 << lane_bits) - 1
    return [(value >> (i * lane_bits)) & mask for i in range(bits // lane_bits)]

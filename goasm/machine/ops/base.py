"""Code generation primitives shared by the instruction handlers.

:func:`decode` turns linked IR operands into :class:`Operand` records once, at load time;
an :class:`Emitter` collects the Python source of one instruction (see
:mod:`goasm.machine.semantics` for the conventions) with constants passed as factory
parameters; :func:`handles` registers a handler for mnemonics by explicit decorator
arguments (DESIGN.md, "Style").
"""

from __future__ import annotations

import struct
from types import MappingProxyType

import attrs

from goasm import ir
from goasm.arch.amd64 import CONDITIONS, MNEMONIC_ALIASES
from goasm.errors import LinkError, MachineFault, UnimplementedError
from goasm.image import Target
from goasm.machine import flags as fl
from goasm.machine.state import BYTE_INDEX, GPR_INDEX, HIGH_REG

M64 = (1 << 64) - 1
MASK = MappingProxyType({1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: M64, 16: (1 << 128) - 1})
MASK_TEXT = MappingProxyType({1: "0xFF", 2: "0xFFFF", 4: "0xFFFFFFFF",
                              8: "0xFFFFFFFFFFFFFFFF",
                              16: "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"})
BITS = MappingProxyType({1: 8, 2: 16, 4: 32, 8: 64, 16: 128})

ENV_NAMES = ("cpu", "regs", "xmm", "rd8", "rd16", "rd32", "rd64", "rd128",
             "wr8", "wr16", "wr32", "wr64", "wr128", "m", "mem", "vhi", "kreg", "rdv", "wrv")

# Condition suffix aliases for SETcc/CMOVcc, derived from the Jcc aliases cmd/asm accepts
# (JAE -> JCC gives SETAE -> SETCC); Go itself only spells the canonical forms.
CONDITION_ALIASES = MappingProxyType({
    alias[1:]: target[1:] for alias, target in MNEMONIC_ALIASES.items()
    if alias.startswith("J") and target.startswith("J") and target[1:] in CONDITIONS
})


class BadForm(Exception):
    """Raised by a handler for an operand combination it does not implement."""


# --------------------------------------------------------------------------- operands

@attrs.frozen
class Operand:
    """An operand decoded at compile time.

    ``kind``: ``gpr`` (``index``; ``high`` for AH..BH; ``byte_name`` when written as a
    byte register), ``xmm`` (a vector register: ``index`` 0..31, ``vw`` its width as
    written -- 16 for X, 32 for Y, 64 for Z), ``kreg`` (an opmask register, ``index``
    0..7), ``imm`` (``value``), ``mem`` and ``addr`` (effective address parts:
    ``base``/``index`` register numbers or None, ``scale``, ``disp`` including a resolved
    symbol address, ``tls`` for FS-relative), ``vsib`` (a gather/scatter address whose
    ``index`` is a vector register number, ``vw`` that register's width), ``target``
    (``value`` = branch address), ``tlsreg`` (the TLS pseudo-register), ``other``.
    """

    kind: str
    index: int = -1
    value: int = 0
    high: bool = False
    byte_name: bool = False
    base: int | None = None
    scale: int = 0
    disp: int = 0
    tls: bool = False
    direct: bool = False       # mem naming a symbol with no registers: CALL/JMP target
    fimm: float | None = None  # a FloatImm's value (its float32 bits for 4-byte reads)
    vw: int = 0                # vector register width in bytes (xmm, vsib index)
    text: str = ""

    @property
    def is_reg(self) -> bool:
        return self.kind == "gpr"


def _float_bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def decode(arg, image) -> Operand:
    """Decode one linked IR operand (see the module docstring of goasm.machine)."""
    text = str(arg)
    if isinstance(arg, ir.Reg):
        name = "R14" if arg.name == "g" else arg.name
        if name in GPR_INDEX:
            return Operand("gpr", index=GPR_INDEX[name], text=text)
        if name in BYTE_INDEX:
            return Operand("gpr", index=BYTE_INDEX[name], byte_name=True, text=text)
        if name in HIGH_REG:
            return Operand("gpr", index=HIGH_REG[name], high=True, byte_name=True, text=text)
        vec = vector_register(name)
        if vec is not None:
            return Operand("xmm", index=vec[0], vw=vec[1], text=text)
        if name in KREG_INDEX:
            return Operand("kreg", index=KREG_INDEX[name], text=text)
        if name == "TLS":
            return Operand("tlsreg", text=text)
        return Operand("other", text=text)
    if isinstance(arg, ir.Imm):
        return Operand("imm", value=arg.value, text=text)
    if isinstance(arg, ir.FloatImm):
        return Operand("imm", value=_float_bits(arg.value), fimm=arg.value, text=text)
    if isinstance(arg, Target):
        return Operand("target", value=arg.addr, text=text)
    if isinstance(arg, ir.Mem):
        return _decode_mem(arg, image, "mem", text)
    if isinstance(arg, ir.Addr):
        return _decode_mem(arg.mem, image, "addr", text)
    if isinstance(arg, ir.Indirect) and isinstance(arg.target, ir.Mem):
        # *sym(SB): always a load through memory, never a direct branch.
        return attrs.evolve(_decode_mem(arg.target, image, "mem", text), direct=False)
    return Operand("other", text=text)


VECTOR_WIDTH = MappingProxyType({"X": 16, "Y": 32, "Z": 64})
KREG_INDEX = MappingProxyType({f"K{i}": i for i in range(8)})


def vector_register(name: str):
    """``(number, width in bytes)`` of a vector register name (X0..X31, Y0..Y31,
    Z0..Z31), else None."""
    width = VECTOR_WIDTH.get(name[:1])
    digits = name[1:]
    if width is None or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        return None
    n = int(digits)
    return (n, width) if n < 32 else None


def _reg_number(name: str | None) -> int | None:
    if name is None:
        return None
    name = "R14" if name == "g" else name
    if name not in GPR_INDEX:
        raise BadForm(f"register {name} cannot address memory")
    return GPR_INDEX[name]


def _decode_mem(mem: ir.Mem, image, kind: str, text: str) -> Operand:
    disp = mem.offset
    if mem.base == "TLS" or mem.index == "TLS":
        # linux/amd64 local-exec TLS: 0(TLS) is the g slot at -8(FS) (go_tls.h,
        # cmd/internal/obj/x86/obj6.go rewrites off(reg)(TLS*1) to off(TLS)).
        return Operand(kind, disp=disp - 8, tls=True, text=text)
    base, index = mem.base, mem.index
    direct = False
    if mem.kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC):
        sym = image.symbols.get(mem.symbol) if mem.symbol is not None else None
        if sym is None and mem.symbol is not None:
            sym = image.lookup(mem.symbol)
        if sym is None:
            raise LinkError(f"undefined symbol {mem.symbol}", mem.pos)
        disp += sym.addr
        direct = base is None and index is None
    elif mem.kind in (ir.NameKind.PARAM, ir.NameKind.AUTO) and base is None:
        base = "SP"
    vindex = vector_register(index) if index else None
    if vindex is not None:
        # VSIB (SDM Vol. 2, 2.3.12): a vector of indices; gathers and scatters only.
        return Operand("vsib", base=_reg_number(base), index=vindex[0], vw=vindex[1],
                       scale=mem.scale or 1, disp=disp, text=text)
    return Operand(kind, base=_reg_number(base), index=_reg_number(index) if index else -1,
                   scale=(mem.scale or 1) if index else 0, disp=disp, direct=direct, text=text)


# --------------------------------------------------------------------------- emitter

class Emitter:
    """Builds the body of one instruction's function (see the module docstring)."""

    def __init__(self, compiler: "Compiler", ins) -> None:
        self.compiler = compiler
        self.ins = ins
        self.machine = compiler.machine
        self.params: list = [ins.next_addr]
        self.names: list[str] = ["_nxt"]
        self.lines: list[str] = []
        self.depth = 2
        self._tmp = 0
        self._ea: dict[int, str] = {}
        self.gpr_writes: dict[int, list] = {}   # register -> widths of its write() calls

    # ---- source building

    def const(self, value) -> str:
        """A factory parameter holding ``value``; returns its name."""
        for i, v in enumerate(self.params):
            if v is value or (type(v) is int and type(value) is int and v == value):
                return self.names[i]
        name = f"_p{len(self.params)}"
        self.params.append(value)
        self.names.append(name)
        return name

    def emit(self, *lines: str) -> None:
        for line in lines:
            self.lines.append("    " * self.depth + line)

    def tmp(self, prefix: str = "t") -> str:
        self._tmp += 1
        return f"{prefix}{self._tmp}"

    class _Block:
        def __init__(self, e):
            self.e = e

        def __enter__(self):
            self.e.depth += 1

        def __exit__(self, *exc):
            self.e.depth -= 1

    def block(self, header: str):
        """``with e.block("if x:"):`` emits the header and indents the body."""
        self.emit(header)
        return Emitter._Block(self)

    def next(self) -> None:
        """Fall through to the next instruction."""
        self.emit("return _nxt")

    def call(self, fn, *args: str) -> str:
        """An expression calling the compile-time Python callable ``fn``."""
        return f"{self.const(fn)}({', '.join(args)})"

    # ---- operands

    def ea(self, op: Operand) -> str:
        """A local holding the effective address of a ``mem``/``addr`` operand."""
        key = id(op)
        if key in self._ea:
            return self._ea[key]
        if op.tls:
            expr = f"(cpu.fs_base + {self.const(op.disp)}) & 0xFFFFFFFFFFFFFFFF"
        else:
            parts = []
            if op.base is not None:
                parts.append(f"regs[{self.const(op.base)}]")
            if op.index is not None and op.index >= 0:
                parts.append(f"regs[{self.const(op.index)}]"
                             + (f" * {op.scale}" if op.scale != 1 else ""))
            if op.disp or not parts:
                parts.append(self.const(op.disp & M64 if not parts else op.disp))
            expr = " + ".join(parts)
            if len(parts) > 1:
                expr = f"({expr}) & 0xFFFFFFFFFFFFFFFF"
        name = self.tmp("ea")
        self.emit(f"{name} = {expr}")
        self._ea[key] = name
        return name

    def read(self, op: Operand, width: int) -> str:
        """An expression for the operand's value, unsigned, masked to ``width`` bytes."""
        k = op.kind
        if k == "gpr":
            r = f"regs[{self.const(op.index)}]"
            if op.high:
                return f"({r} >> 8 & 0xFF)"
            return r if width == 8 else f"({r} & {MASK_TEXT[width]})"
        if k == "imm":
            if op.fimm is not None and width == 4:
                return self.const(struct.unpack("<I", struct.pack("<f", op.fimm))[0])
            if width == 8 and op.fimm is None and 0x80000000 <= op.value <= 0xFFFFFFFF:
                # A 64-bit operation carries at most an imm32, sign-extended (SDM Vol. 2,
                # 2.2.1.5); cmd/asm encodes $0x80000000..$0xFFFFFFFF that way too
                # (ANDQ $0xFFFFFFFF, AX is 48 25 ff ff ff ff). MOVQ to a register is the
                # exception (mov.py): it gets MOVL or a full imm64.
                return self.const((op.value - (1 << 32)) & M64)
            return self.const(op.value & MASK[width])
        if k == "mem":
            return f"rd{BITS[width]}({self.ea(op)})"
        if k == "addr":
            ea = self.ea(op)
            return ea if width == 8 else f"({ea} & {MASK_TEXT[width]})"
        if k == "xmm":
            x = f"xmm[{self.const(op.index)}]"
            return x if width == 16 else f"({x} & {MASK_TEXT[width]})"
        if k == "target":
            return self.const(op.value)
        raise BadForm(f"operand {op.text} cannot be read")

    def write(self, op: Operand, width: int, value: str) -> None:
        """Store ``value`` (already masked to ``width``) into the operand.

        32-bit register writes zero-extend to 64 bits, 8- and 16-bit writes keep the
        other bits (SDM Vol. 1, 3.4.1.1); AH..BH are bits 8-15. XMM writes of 4/8 bytes
        zero the rest of the register (MOVD/MOVQ, SDM Vol. 2).
        """
        k = op.kind
        v = value if value.isidentifier() or value.isdigit() else f"({value})"
        if k == "gpr":
            self.gpr_writes.setdefault(op.index, []).append(1 if op.high else width)
            r = f"regs[{self.const(op.index)}]"
            if op.high:
                self.emit(f"{r} = {r} & 0xFFFFFFFFFFFF00FF | {v} << 8")
            elif width >= 4:
                self.emit(f"{r} = {v}")
            elif width == 2:
                self.emit(f"{r} = {r} & 0xFFFFFFFFFFFF0000 | {v}")
            else:
                self.emit(f"{r} = {r} & 0xFFFFFFFFFFFFFF00 | {v}")
            return
        if k == "mem":
            self.emit(f"wr{BITS[width]}({self.ea(op)}, {v})")
            return
        if k == "xmm":
            self.emit(f"xmm[{self.const(op.index)}] = {v}")
            return
        raise BadForm(f"operand {op.text} cannot be written")

    # ---- flags

    def flags(self, family: int, width: int, *, r: str, a: str | None = None,
              b: str | None = None, c: str | None = None) -> None:
        """Record the lazy flag state (:mod:`goasm.machine.flags`)."""
        self.emit(f"cpu.fk = {fl.kind(family, width)}")
        if a is not None:
            self.emit(f"cpu.fa = {a}")
        if b is not None:
            self.emit(f"cpu.fb = {b}")
        if c is not None:
            self.emit(f"cpu.fc = {c}")
        self.emit(f"cpu.fr = {r}")

    def carry(self) -> str:
        """An expression for CF (a bool)."""
        return f"{self.const(fl.CF_BY_KIND)}[cpu.fk](cpu)"

    def cond(self, cc: str) -> str:
        """An expression testing a Go condition suffix (EQ, NE, CS, ...)."""
        if cc == "EQ":
            return "cpu.fr == 0"
        if cc == "NE":
            return "cpu.fr != 0"
        return f"{self.const(fl.CONDITION[cc])}[cpu.fk](cpu)"

    # ---- faults

    def fault(self, fn) -> None:
        """Emit ``raise fn()`` with ``fn`` a compile-time exception factory."""
        self.emit(f"raise {self.const(fn)}()")

    # ---- finish

    def source(self) -> str:
        header = "def _make(" + ", ".join(ENV_NAMES + tuple(self.names)) + "):\n"
        body = "\n".join(self.lines) if self.lines else "        return _nxt"
        return header + "    def _op():\n" + body + "\n    return _op\n"


def fault_factory(message: str, signal: str, *, code: str | None = None,
                  addr: int | None = None):
    """A zero-argument callable making a fresh :class:`MachineFault` (``Emitter.fault``)."""
    def make():
        return MachineFault(message, signal=signal, code=code, addr=addr)
    return make


def unimplemented(message: str, pos):
    """A closure raising :class:`UnimplementedError` (``message``, ``pos``) when run."""
    def _op():
        raise UnimplementedError(message, pos)
    _op.goasm_unimplemented = message    # lets tools classify forms without running them
    return _op


def handles(*specs):
    """Register the decorated handler for ``specs``: ``(mnemonic, kwargs)`` pairs (see
    :func:`sized`). The handler is called as ``handler(emitter, operands, **kwargs)``
    and either emits code (returning None) or returns a ready closure."""
    def deco(fn):
        fn.goasm_handles = tuple(specs)
        return fn
    return deco


def sized(stem: str, widths: str = "BWLQ", **kwargs):
    """``(stem+suffix, dict(kwargs, width=n))`` for each width suffix in ``widths``."""
    size = {"B": 1, "W": 2, "L": 4, "Q": 8}
    return tuple((stem + s, dict(kwargs, width=size[s])) for s in widths)


def one(mnemonic: str, **kwargs):
    """A single ``(mnemonic, kwargs)`` spec."""
    return ((mnemonic, kwargs),)

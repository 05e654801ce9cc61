"""Unit tests of the machine core: memory, lazy flags, each instruction family on
hand-built images, faults and their Go-style reports, limits, hooks, snapshots.

Images are built from Plan 9 text by a tiny test-local linker (``build``): one address
per instruction from TEXT_BASE, labels and n(PC) resolved to Targets, prefixes merged,
GLOBL/DATA laid out from DATA_BASE. Expected values come from the Intel SDM (cited per
test) and plain Python integer arithmetic; the cross-check against a real x86 emulator
is tests/test_semantics_unicorn.py.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goasm import ir
from goasm.errors import LimitError, MachineFault, Pos, UnimplementedError
from goasm.image import (DATA_BASE, TEXT_BASE, Function, Image, LInstr, Segment, Symbol,
                         SymKind, Target)
from goasm.machine import flags as fl
from goasm.machine.machine import Machine, ProgramExit, StopReason
from goasm.machine.memory import Memory
from goasm.machine.report import format_fault
from goasm.machine.state import CPUModel
from goasm.parse import parse_source

M64 = (1 << 64) - 1
STACK = 0x7F0000
STACK_SIZE = 0x10000
SP0 = STACK + STACK_SIZE - 0x100
PREFIXES = {"REP", "REPN", "REPE", "REPNE", "LOCK"}


# --------------------------------------------------------------------------- helpers

def _linked(name: str) -> str:
    name = name.replace("\u00b7", ".")
    return "main" + name if name.startswith(".") else name


def build(src: str, filename: str = "/src/test.s") -> Image:
    """Link Plan 9 text into an Image the way the real loader would, minus frames."""
    prog = parse_source(src, filename)
    image = Image()
    funcs, datas = [], []
    for s in prog.statements:
        if isinstance(s, ir.Text):
            funcs.append((_linked(s.symbol.name), s, []))
        elif isinstance(s, (ir.Label, ir.Instr)):
            funcs[-1][2].append(s)
        else:
            datas.append(s)
    addr = DATA_BASE
    for s in datas:
        if isinstance(s, ir.Globl):
            name = _linked(s.symbol.name) + ("<>" if s.symbol.static else "")
            ro = bool((s.flags or 0) & 8)
            image.symbols[name] = Symbol(name, addr, s.size,
                                         SymKind.RODATA if ro else SymKind.DATA)
            image.segments.append(Segment(addr, bytearray(s.size), not ro, name))
            addr += (s.size + 0xFFF) & ~0xFFF
    for s in datas:
        if isinstance(s, ir.Data):
            name = _linked(s.symbol.name) + ("<>" if s.symbol.static else "")
            seg = next(g for g in image.segments if g.name == name)
            v = s.value
            data = (v.value & ((1 << (8 * s.width)) - 1)).to_bytes(s.width, "little") \
                if isinstance(v, ir.Imm) else v.value.ljust(s.width, b"\0")[:s.width]
            seg.data[s.offset:s.offset + s.width] = data
    addr = TEXT_BASE
    layout = []
    for name, text, body in funcs:
        start, labels, items, pending = addr, {}, [], []
        for s in body:
            if isinstance(s, ir.Label):
                labels[s.name] = addr
            elif s.op in PREFIXES and not s.args:
                pending.append(s.op)
            else:
                items.append((addr, s, tuple(pending)))
                pending = []
                addr += 1
        image.symbols[name] = Symbol(name, start, max(addr - start, 1), SymKind.TEXT,
                                     pos=text.pos)
        layout.append((name, text, labels, items))
        addr = (addr + 16) & ~15
    for name, text, labels, items in layout:
        out = []
        for i, (a, s, prefixes) in enumerate(items):
            args = []
            for arg in s.args:
                if isinstance(arg, ir.LabelRef):
                    arg = Target(labels[arg.name], label=arg.name)
                elif isinstance(arg, ir.PCRel):
                    arg = Target(a + arg.delta)
                elif isinstance(arg, ir.Mem) and arg.symbol and arg.kind in (
                        ir.NameKind.EXTERN, ir.NameKind.STATIC):
                    arg = ir.Mem(arg.offset, arg.base, arg.index, arg.scale,
                                 _linked(arg.symbol) + ("<>" if arg.kind is ir.NameKind.STATIC
                                                        else ""), arg.kind)
                elif isinstance(arg, ir.Addr) and arg.mem.symbol and arg.mem.kind in (
                        ir.NameKind.EXTERN, ir.NameKind.STATIC):
                    m = arg.mem
                    arg = ir.Addr(ir.Mem(m.offset, m.base, m.index, m.scale,
                                         _linked(m.symbol) + ("<>" if m.kind is ir.NameKind.STATIC
                                                              else ""), m.kind))
                args.append(arg)
            li = LInstr(addr=a, op=s.op, args=tuple(args), suffixes=s.suffixes, pos=s.pos,
                        func=name, index=i, prefixes=prefixes)
            image.code[a] = li
            out.append(li)
        bpsize = 0
        image.functions[name] = Function(image.symbols[name], text, text.flags or 0,
                                         max(text.frame, 0), text.args, tuple(out), bpsize)
    image.entry = layout[0][0] if layout else None
    image.index_symbols()
    return image


def machine(src: str, **kw) -> Machine:
    """A machine for ``src`` with a mapped stack and pc at the first function."""
    m = Machine(build(src), stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO(),
                **kw)
    m.mem.map(STACK, STACK_SIZE, name="stack")
    m.cpu.regs[4] = SP0
    return m


def run(body: str, regs: dict | None = None, flags: int | None = None, **kw) -> Machine:
    """Run ``body`` (one function, NOSPLIT) to its end; returns the machine."""
    m = machine(f"TEXT ·f(SB), 4, $0\n{body}\n", **kw)
    for name, value in (regs or {}).items():
        m.set_reg(name, value)
    if flags is not None:
        m.cpu.set_rflags(flags)
    end = max(m.image.code) + 1
    m.run(until=end)
    return m


def F(m: Machine, name: str) -> int:
    return m.cpu.flag(name)


# --------------------------------------------------------------------------- memory

def test_memory_map_read_write_and_faults():
    mem = Memory()
    mem.map(0x10000, 0x2000, name="a")
    mem.write_u64(0x10ffc, 0x1122334455667788)      # crosses a page boundary
    assert mem.read_u64(0x10ffc) == 0x1122334455667788
    assert mem.read(0x10ffc, 8) == bytes.fromhex("8877665544332211")
    assert mem.read_u16(0x10fff) == 0x4455
    with pytest.raises(MachineFault) as exc:
        mem.read_u64(0x11ffc)                        # runs into an unmapped page
    assert exc.value.signal == "SIGSEGV" and exc.value.addr == 0x12000
    assert exc.value.code == "SEGV_MAPERR"
    mem.map(0x20000, 0x1000, writable=False, name="ro")
    mem.load(0x20000, b"hello\0world")
    assert mem.read_cstring(0x20000) == b"hello"
    assert mem.read_cstring(0x20006, limit=3) == b"wor"
    with pytest.raises(MachineFault) as exc:
        mem.write_u8(0x20001, 1)
    assert exc.value.code == "SEGV_ACCERR" and exc.value.addr == 0x20001
    # a faulting cross-page write changes nothing
    with pytest.raises(MachineFault):
        mem.write(0x11ffe, b"abcd")
    assert mem.read(0x11ffe, 2) == b"\0\0"
    assert mem.regions() == [(0x10000, 0x12000, True, "a"), (0x20000, 0x21000, False, "ro")]
    mem.unmap(0x10000, 0x1000)
    assert not mem.is_mapped(0x10000) and mem.is_mapped(0x11000)
    with pytest.raises(MachineFault):
        mem.protect(0x10000, 0x2000, writable=False)


def test_memory_limit_counts_touched_pages():
    mem = Memory(limit=0x3000)
    mem.map(0, 0x2000)
    mem.map(0x10000, 1 << 40)                        # mapping costs nothing
    assert mem.mapped_bytes == 0x2000 + (1 << 40) and mem.touched_bytes == 0
    assert mem.read_u64(0x10000 + (1 << 39)) == 0    # reading zeros touches nothing
    for addr in (0, 0x1000, 0x10000):
        mem.write_u8(addr, 1)
    assert mem.touched_bytes == 0x3000
    with pytest.raises(LimitError, match="memory limit"):
        mem.write_u8(0x20000, 1)
    mem.write_u8(0x10001, 2)                         # pages already touched still work
    mem.unmap(0, 0x2000)
    mem.write_u8(0x20000, 1)                         # unmapping gave two pages back
    assert mem.touched_bytes == 0x2000


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 0x1FF8), st.integers(0, M64), st.sampled_from([1, 2, 4, 8]))
def test_memory_roundtrip(addr, value, width):
    mem = Memory()
    mem.map(0x4000, 0x2000)
    getattr(mem, f"write_u{width * 8}")(0x4000 + addr, value)
    assert getattr(mem, f"read_u{width * 8}")(0x4000 + addr) == value & ((1 << (8 * width)) - 1)
    assert mem.read(0x4000 + addr, width) == (value & ((1 << (8 * width)) - 1)).to_bytes(
        width, "little")


# --------------------------------------------------------------------------- widths

def test_width_semantics():
    """SDM Vol. 1 3.4.1.1: 32-bit results zero-extend, 8/16-bit results keep the rest."""
    m = run("MOVQ $-1, AX\nMOVQ $-1, BX\nMOVQ $-1, CX\nMOVQ $-1, DX\n"
            "MOVL $5, AX\nMOVW $5, BX\nMOVB $5, CX\nMOVB $5, DH\n"
            "MOVQ $-1, R8\nADDL $1, R8\nMOVQ $-1, R9\nADDB $1, R9\nMOVQ $0x1234, R10\n"
            "MOVB R10, SIB\nMOVQ $0, R11\nMOVB $0x80, R11B")
    assert m.reg("AX") == 5
    assert m.reg("BX") == 0xFFFFFFFFFFFF0005
    assert m.reg("CX") == 0xFFFFFFFFFFFFFF05
    assert m.reg("DX") == 0xFFFFFFFFFFFF05FF and m.reg("DH") == 5
    assert m.reg("R8") == 0
    assert m.reg("R9") == 0xFFFFFFFFFFFFFF00
    assert m.reg("SI") & 0xFF == 0x34
    assert m.reg("R11") == 0x80


def test_high_byte_registers():
    m = run("MOVQ $0x1122334455667788, AX\nMOVB AH, BL\nMOVB $0xAB, AH\nADDB $1, CH\n"
            "MOVBLZX AH, DX", regs={"CX": 0xFF00})
    assert m.reg("BL") == 0x77
    assert m.reg("AX") == 0x112233445566AB88
    assert m.reg("CX") == 0 and F(m, "ZF") == 1 and F(m, "CF") == 1
    assert m.reg("DX") == 0xAB


def test_movx_and_lea():
    m = run("MOVQ $0x80, AX\nMOVBQSX AX, BX\nMOVBQZX AX, CX\nMOVWLSX AX, DX\n"
            "MOVQ $-2, R8\nMOVLQZX R8, R9\nMOVLQSX R8, R10\n"
            "LEAQ 8(AX)(CX*4), R11\nLEAL -0x100(AX), R12\nLEAW 0x10000(AX), R13")
    assert m.reg("BX") == M64 - 0x7F
    assert m.reg("CX") == 0x80
    assert m.reg("DX") == 0x80
    assert m.reg("R9") == 0xFFFFFFFE
    assert m.reg("R10") == M64 - 1
    assert m.reg("R11") == 0x80 + 8 + 0x200
    assert m.reg("R12") == (0x80 - 0x100) & 0xFFFFFFFF
    assert m.reg("R13") == 0x80


def test_symbols_and_addresses():
    src = ("GLOBL ·x(SB), 0, $16\nDATA ·x+0(SB)/8, $0x1234\nDATA ·x+8(SB)/8, $7\n"
           "GLOBL ro<>(SB), 8, $8\nDATA ro<>+0(SB)/8, $99\n"
           "TEXT ·f(SB), 4, $0\nMOVQ ·x(SB), AX\nMOVQ ·x+8(SB), BX\nMOVQ $·x(SB), CX\n"
           "LEAQ ·x+8(SB), DX\nMOVQ ro<>(SB), SI\nADDQ $1, ·x(SB)\nMOVQ ·x(SB), DI\n"
           "MOVQ (CX)(BX*1), R8\nMOVQ AX, ro<>(SB)\n")
    m = Machine(build(src))
    sym = m.image.symbols["main.x"]
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert m.reg("AX") == 0x1234 and m.reg("BX") == 7
    assert m.reg("CX") == sym.addr and m.reg("DX") == sym.addr + 8
    assert m.reg("SI") == 99 and m.reg("DI") == 0x1235
    assert m.reg("R8") == m.mem.read_u64(sym.addr + 7)
    assert exc.value.code == "SEGV_ACCERR"          # read-only RODATA
    assert exc.value.pos.line == 15


def test_param_auto_and_tls():
    m = machine("TEXT ·f(SB), 4, $0\nMOVQ (TLS), AX\nMOVQ $5, 0(CX)(TLS*1)\nMOVQ 0(CX)(TLS*1), BX\n"
                "MOVQ TLS, CX\n")
    m.mem.map(0x900000, 0x1000)
    m.cpu.fs_base = 0x900008
    m.mem.write_u64(0x900000, 0xC0FFEE)
    m.run(until=max(m.image.code) + 1)
    assert m.reg("AX") == 0xC0FFEE and m.reg("BX") == 5
    # PARAM/AUTO operands with base None are SP-based
    img = Image()
    img.code[TEXT_BASE] = LInstr(TEXT_BASE, "MOVQ", (ir.Mem(16, None, None, 0, "a",
                                                            ir.NameKind.PARAM), ir.Reg("AX")))
    img.symbols["f"] = Symbol("f", TEXT_BASE, 1, SymKind.TEXT)
    m2 = Machine(img)
    m2.mem.map(STACK, STACK_SIZE)
    m2.cpu.regs[4] = SP0
    m2.mem.write_u64(SP0 + 16, 42)
    m2.cpu.pc = TEXT_BASE
    m2.step()
    assert m2.reg("AX") == 42


# --------------------------------------------------------------------------- ALU & flags

@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["ADD", "SUB", "AND", "OR", "XOR", "ADC", "SBB", "CMP", "TEST"]),
       st.sampled_from([("B", 8), ("W", 16), ("L", 32), ("Q", 64)]),
       st.integers(0, M64), st.integers(0, M64), st.booleans())
def test_alu_against_python(op, size, a, b, carry):
    """ADD/SUB/... against plain integer arithmetic (SDM Vol. 1 3.4.3.1 for the flags)."""
    s, bits = size
    mask = (1 << bits) - 1
    m = run(f"{op}{s} BX, AX", regs={"AX": a, "BX": b}, flags=fl.CF if carry else 0)
    x, y, c = a & mask, b & mask, int(carry)
    full = {"ADD": x + y, "SUB": x - y, "ADC": x + y + c, "SBB": x - y - c, "CMP": y - x,
            "AND": x & y, "OR": x | y, "XOR": x ^ y, "TEST": x & y}[op]
    r = full & mask
    if op in ("CMP", "TEST"):
        assert m.reg("AX") == a
    elif bits == 32:
        assert m.reg("AX") == r
    else:
        assert m.reg("AX") == (a & ~mask & M64) | r
    assert F(m, "ZF") == (r == 0)
    assert F(m, "SF") == (r >> (bits - 1))
    assert F(m, "PF") == (bin(r & 0xFF).count("1") % 2 == 0)
    if op in ("ADD", "ADC"):
        assert F(m, "CF") == (full > mask)
    elif op in ("SUB", "SBB", "CMP"):
        assert F(m, "CF") == (full < 0)
    else:
        assert F(m, "CF") == 0 and F(m, "OF") == 0


def test_cmp_operand_order_and_conditions():
    """Plan 9 ``CMPQ a, b`` compares a with b: JLT jumps when a < b (Go asm guide)."""
    m = run("CMPQ AX, BX\nSETLT CL\nSETGT DL\nSETCS R8B\nSETHI R9B\nSETEQ R10B\nSETNE R11B",
            regs={"AX": 1, "BX": 2})
    assert (m.reg("CL"), m.reg("DL"), m.reg("R8B"), m.reg("R9B"), m.reg("R10B"),
            m.reg("R11B")) == (1, 0, 1, 0, 0, 1)
    m = run("CMPQ AX, $-1\nSETLT CL\nSETCS DL", regs={"AX": 0})
    assert (m.reg("CL"), m.reg("DL")) == (0, 1)


def test_inc_dec_preserve_carry():
    """SDM Vol. 2 INC/DEC: CF is not affected."""
    m = run("STC\nINCQ AX\nSETCS BL\nCLC\nDECQ CX\nSETCS DL\nSETMI SIB",
            regs={"AX": M64, "CX": 0})
    assert m.reg("AX") == 0 and m.reg("BL") == 1
    assert m.reg("CX") == M64 and m.reg("DL") == 0 and m.reg("SIB") == 1
    m = run("INCB AL\nSETOS BL", regs={"AX": 0x7F})
    assert m.reg("AL") == 0x80 and m.reg("BL") == 1


def test_neg_not():
    m = run("NEGQ AX\nSETCS BL\nNEGL CX\nSETCS DL\nNOTW SI", regs={"AX": 5, "CX": 0,
                                                                 "SI": 0x1234_0000})
    assert m.reg("AX") == M64 - 4 and m.reg("BL") == 1
    assert m.reg("CX") == 0 and m.reg("DL") == 0
    assert m.reg("SI") == 0x1234_FFFF


def test_rflags_roundtrip_and_pushf_popf():
    m = run("PUSHFQ\nPOPQ AX\nPUSHQ $0x8D5\nPOPFQ\nPUSHFQ\nPOPQ BX", flags=fl.CF | fl.ZF)
    assert m.reg("AX") & (fl.ARITH | fl.DF) == fl.CF | fl.ZF
    assert m.reg("AX") & 0x202 == 0x202
    assert m.reg("BX") & 0xFFF == 0x8D5 | 0x202
    assert m.cpu.get_rflags() & fl.ARITH == 0x8D5 & fl.ARITH
    assert m.cpu.df == 0


def test_lahf_sahf_clc_stc_cmc():
    m = run("STC\nCMC\nSETCS BL\nMOVB $0xD5, AH\nSAHF\nLAHF", flags=fl.OF)
    assert m.reg("BL") == 0
    assert m.reg("AH") == 0xD7
    assert m.cpu.get_rflags() & fl.ARITH == 0xD5 | fl.OF


# --------------------------------------------------------------------------- shifts

def test_shifts_and_rotates():
    m = run("SHLQ $4, AX\nSHRQ CX, BX\nSARL $1, DX\nROLB $1, SIB\nRORW $8, DI",
            regs={"AX": 0xF000000000000001, "BX": 0x100, "CX": 0x104, "DX": 0x80000002,
                  "SI": 0x81, "DI": 0x1234})
    assert m.reg("AX") == 0x10
    assert m.reg("BX") == 0x10                      # count 0x104 & 63 = 4
    assert m.reg("DX") == 0xC0000001
    assert m.reg("SI") == 0x03
    assert m.reg("DI") == 0x3412
    m = run("SHLQ $0, AX", regs={"AX": 1}, flags=fl.CF | fl.ZF)
    assert m.cpu.get_rflags() & fl.ARITH == fl.CF | fl.ZF   # count 0: flags unchanged
    m = run("SHLQ $1, AX\nSETCS BL\nSETOS CL", regs={"AX": 0x8000000000000000})
    assert m.reg("AX") == 0 and m.reg("BL") == 1 and m.reg("CL") == 1


def test_double_shifts():
    """``SHLQ CX, src, dst`` is SHLD dst, src, CL (checked with go tool asm -S)."""
    m = run("SHLQ CX, AX, R11\nSHRQ $8, AX, R12\nSHLL $4, AX, R13",
            regs={"AX": 0xAB00000000000000, "CX": 4, "R11": 0x0123456789ABCDEF,
                  "R12": 0x1122334455667788, "R13": 0xFFFFFFFF12345678})
    assert m.reg("R11") == 0x123456789ABCDEFA
    assert m.reg("R12") == 0x0011223344556677
    assert m.reg("R13") == 0x23456780


def test_rcl_rcr():
    m = run("STC\nRCLQ $1, AX\nSETCS BL\nRCRB $1, CL", regs={"AX": 0x8000000000000000,
                                                         "CX": 0x02})
    assert m.reg("AX") == 1 and m.reg("BL") == 1
    assert m.reg("CL") == 0x81                       # CF (1) rotated into bit 7


# --------------------------------------------------------------------------- mul/div

def test_mul_imul():
    m = run("MULQ BX", regs={"AX": 1 << 63, "BX": 4})
    assert (m.reg("DX"), m.reg("AX"), F(m, "CF"), F(m, "OF")) == (2, 0, 1, 1)
    m = run("IMULQ BX", regs={"AX": M64, "BX": 3})
    assert (m.reg("DX"), m.reg("AX"), F(m, "CF")) == (M64, M64 - 2, 0)
    m = run("IMULQ BX, CX\nIMUL3Q $-2, BX, DX\nIMUL3L $3, BX, SI\nMULB BL",
            regs={"AX": 0x20, "BX": 0x10, "CX": 7, "DX": 1, "SI": M64})
    assert m.reg("CX") == 0x70 and m.reg("DX") == M64 - 0x1F and m.reg("SI") == 0x30
    assert m.reg("AX") == 0x200 and F(m, "CF") == 1


def test_div_idiv():
    m = run("DIVQ BX", regs={"DX": 1, "AX": 5, "BX": 2})
    assert m.reg("AX") == (1 << 63) + 2 and m.reg("DX") == 1
    m = run("IDIVL BX", regs={"DX": M64, "AX": (-7) & M64, "BX": 2})
    assert m.reg("AX") == (-3) & 0xFFFFFFFF and m.reg("DX") == (-1) & 0xFFFFFFFF
    m = run("DIVB BL", regs={"AX": 0x1234_0107, "BX": 2})
    assert m.reg("AX") == 0x1234_0183


@pytest.mark.parametrize("body,regs", [
    ("DIVQ BX", {"BX": 0}),
    ("DIVQ BX", {"DX": 2, "BX": 2}),                        # quotient overflow
    ("IDIVQ BX", {"DX": M64, "AX": 1 << 63, "BX": M64}),    # INT64_MIN / -1
])
def test_divide_error(body, regs):
    m = machine(f"TEXT ·main(SB), 4, $0\nMOVQ $1, CX\n{body}\n")
    for k, v in regs.items():
        m.set_reg(k, v)
    with pytest.raises(MachineFault) as exc:
        m.run()
    f = exc.value
    assert f.signal == "SIGFPE" and f.pc == TEXT_BASE + 1 and f.addr == TEXT_BASE + 1
    text = format_fault(m, f)
    assert text.startswith("panic: runtime error: integer divide by zero\n"
                           f"[signal SIGFPE: floating-point exception code=0x1 "
                           f"addr={TEXT_BASE + 1:#x} pc={TEXT_BASE + 1:#x}]\n\n"
                           "goroutine 1 [running]:\nmain.main()\n\t/src/test.s:3 +0x1\n")


# --------------------------------------------------------------------------- control

def test_jcc_aliases_and_loop():
    m = run("MOVQ $10, CX\nXORQ AX, AX\nloop:\nADDQ CX, AX\nDECQ CX\nJNZ loop\n"
            "CMPQ AX, $55\nJE ok\nMOVQ $-1, AX\nok:\nMOVQ $3, CX\nl2:\nINCQ BX\nLOOP l2")
    assert m.reg("AX") == 55 and m.reg("BX") == 3 and m.reg("CX") == 0


def test_call_ret_indirect():
    src = ("TEXT ·main(SB), 4, $0\nCALL ·add(SB)\nMOVQ $·add(SB), R8\nCALL R8\n"
           "LEAQ ·dbl(SB), R9\nMOVQ R9, 8(SP)\nCALL 8(SP)\nJMP ·tail(SB)\n"
           "TEXT ·add(SB), 4, $0\nADDQ $1, AX\nRET\n"
           "TEXT ·dbl(SB), 4, $0\nSHLQ $1, AX\nRET\n"
           "TEXT ·tail(SB), 4, $0\nPUSHQ $0\nPUSHQ AX\nMOVQ 0(SP), BX\nCALL ·popper(SB)\n"
           "INT $3\n"
           "TEXT ·popper(SB), 4, $0\nRET $8\n")
    m = machine(src)
    sp = m.cpu.regs[4]
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert exc.value.signal == "SIGTRAP"
    assert m.reg("AX") == 4 and m.reg("BX") == 4
    assert m.cpu.regs[4] == sp - 8                 # RET $8 popped the PUSHQ AX slot
    assert m.image.describe(exc.value.pc) == "main.tail+0x4"


def test_push_pop_variants():
    m = run("PUSHQ SP\nPOPQ AX\nPUSHW $0x1234\nPOPW BX\nPUSHQ $-1\nPOPQ (SP)\n"
            "MOVQ -8(SP), CX\nPUSHQ $7\nPOPQ SP", regs={"BX": 0xFFFF0000})
    assert m.reg("AX") == SP0
    assert m.reg("BX") == 0xFFFF1234
    assert m.reg("CX") == M64
    assert m.reg("SP") == 7


def test_cmov_setcc():
    m = run("CMPQ AX, BX\nCMOVQLT CX, DX\nCMOVLGT CX, SI\nCMOVWEQ CX, DI\nSETCC R8",
            regs={"AX": 1, "BX": 2, "CX": 0x1111, "DX": 0, "SI": M64, "DI": M64})
    assert m.reg("DX") == 0x1111
    assert m.reg("SI") == 0xFFFFFFFF          # 32-bit CMOV zero-extends even when false
    assert m.reg("DI") == M64
    assert m.reg("R8") & 0xFF == 0


def test_condition_aliases_for_setcc():
    """x86 spellings (SETAE, CMOVQNZ) run as Go's canonical SETCC/CMOVQNE."""
    img = Image(symbols={"f": Symbol("f", TEXT_BASE, 2, SymKind.TEXT)})
    img.code[TEXT_BASE] = LInstr(TEXT_BASE, "SETAE", (ir.Reg("AL"),))
    img.code[TEXT_BASE + 1] = LInstr(TEXT_BASE + 1, "CMOVQNZ", (ir.Reg("CX"), ir.Reg("DX")),
                                     index=1)
    m = Machine(img)
    m.set_reg("CX", 9)
    m.cpu.pc = TEXT_BASE
    m.step()
    m.step()
    assert m.reg("AL") == 1 and m.reg("DX") == 9


# --------------------------------------------------------------------------- exchange & bits

def test_xchg_cmpxchg_xadd():
    m = run("XCHGQ AX, BX\nMOVQ $5, CX\nLOCK\nCMPXCHGQ CX, R8\nSETEQ R9B\n"
            "CMPXCHGQ CX, R10\nXADDL R11, R12",
            regs={"AX": 1, "BX": 2, "R8": 2, "R10": 9, "R11": 3, "R12": 4})
    assert m.reg("AX") == 9 and m.reg("BX") == 1
    assert m.reg("R8") == 5 and m.reg("R9B") == 1 and m.reg("R10") == 9
    assert m.reg("R11") == 4 and m.reg("R12") == 7


def test_bits():
    m = run("BSFQ AX, BX\nBSRQ AX, CX\nBSFQ DX, SI\nSETEQ DIB\nBSWAPQ R8\nBSWAPL R9\n"
            "BTQ $3, R10\nSETCS R11B\nBTSQ $0, R10\nPOPCNTQ R10, R12",
            regs={"AX": 0x0F00, "DX": 0, "SI": 77, "R8": 0x0102030405060708,
                  "R9": 0xFFFFFFFF11223344, "R10": 0x8})
    assert (m.reg("BX"), m.reg("CX"), m.reg("SI"), m.reg("DIB")) == (8, 11, 77, 1)
    assert m.reg("R8") == 0x0807060504030201 and m.reg("R9") == 0x44332211
    assert m.reg("R11B") == 1 and m.reg("R10") == 9 and m.reg("R12") == 2


def test_sign_extension_ops():
    m = run("CQO", regs={"AX": 1 << 63, "DX": 5})
    assert m.reg("DX") == M64
    m = run("CDQ\nCWD", regs={"AX": 0x1_0000_8000, "DX": M64})
    assert m.reg("DX") == 0xFFFF    # CDQ: EDX = 0 (EAX > 0), zero-extended; CWD: DX = sign of AX
    m = run("CBW\nCWDE\nCDQE", regs={"AX": 0x80})
    assert m.reg("AX") == M64 - 0x7F


def test_xmm_moves():
    m = run("MOVQ AX, X1\nMOVQ X1, BX\nMOVOU X1, X2\nMOVOU X2, (SP)\nMOVQ 0(SP), CX\n"
            "PXOR X1, X1\nMOVL $7, DX\nMOVL DX, X3", regs={"AX": 0x1234, "X1": 1 << 100,
                                            "X3": (1 << 128) - 1})
    assert m.reg("BX") == 0x1234 and m.reg("CX") == 0x1234
    assert m.reg("X2") == 0x1234 and m.reg("X1") == 0 and m.reg("X3") == 7


# --------------------------------------------------------------------------- strings

def _string_machine(body, n, df):
    m = machine(f"TEXT ·f(SB), 4, $0\n{body}\n")
    m.mem.map(0x500000, 0x3000)
    m.mem.write(0x500000, bytes(range(256)) * 16)
    m.set_reg("CX", n)
    m.cpu.df = df
    return m


@pytest.mark.parametrize("df", [0, 1])
def test_rep_movs_stos_with_df(df):
    """SDM Vol. 2 MOVS/STOS: RSI/RDI step by the element size, backwards when DF=1."""
    m = _string_machine("REP\nMOVSQ\nMOVQ $0x4142, AX\nMOVQ $3, CX\nREP\nSTOSW", 4, df)
    src, dst = (0x500000, 0x501000) if not df else (0x500018, 0x501018)
    m.set_reg("SI", src)
    m.set_reg("DI", dst)
    m.run(until=max(m.image.code) + 1)
    assert m.mem.read(0x501000, 32) == bytes(range(32))
    assert m.reg("SI") == (src - 32 if df else src + 32)
    assert m.reg("CX") == 0
    if df:   # STOSW at 0x500ff8, 0x500ff6, 0x500ff4
        assert m.mem.read(0x500FF4, 6) == b"\x42\x41" * 3
        assert m.reg("DI") == 0x500FF2
    else:
        assert m.mem.read(0x501020, 6) == b"\x42\x41" * 3
        assert m.reg("DI") == 0x501026


def test_rep_movsb_overlap_replicates():
    m = _string_machine("REP\nMOVSB", 8, 0)
    m.set_reg("SI", 0x500000)
    m.set_reg("DI", 0x500001)
    m.run(until=max(m.image.code) + 1)
    assert m.mem.read(0x500000, 9) == b"\0" * 9


def test_repne_scasb_and_repe_cmpsb():
    m = _string_machine("REPN\nSCASB\nMOVQ CX, R8\nMOVQ $16, CX\nREP\nCMPSB", 100, 0)
    m.set_reg("AX", 5)
    m.set_reg("DI", 0x500000)
    m.run(until=max(m.image.code) - 2)
    assert m.reg("DI") == 0x500006 and m.reg("CX") == 94
    m.set_reg("SI", 0x500000)
    m.set_reg("DI", 0x500100)
    m.run(until=max(m.image.code) + 1)
    assert m.reg("CX") == 0 and F(m, "ZF") == 1


def test_rep_fault_leaves_progress():
    m = _string_machine("REP\nSTOSQ", 1000, 0)
    m.set_reg("DI", 0x502FF0)
    with pytest.raises(MachineFault) as exc:
        m.run(until=max(m.image.code) + 1)
    assert exc.value.addr == 0x503000
    assert m.reg("DI") == 0x503000 and m.reg("CX") == 998


@pytest.mark.parametrize("body", ["REP\nLODSB", "REP\nSTOSB", "REPN\nSCASB", "REP\nMOVSB"])
def test_long_rep_is_interruptible(body):
    """A REP over a terabyte returns every string.CHUNK elements, registers describing
    the progress, so a step limit stops it (issue #18: REP escaped --max-steps)."""
    from goasm.machine.ops.string import CHUNK

    m = machine(f"TEXT ·f(SB), 4, $0\n{body}\n")
    m.mem.map(1 << 40, 1 << 40)                  # lazy: costs nothing until touched
    m.set_reg("CX", 1 << 40)
    m.set_reg("SI", 1 << 40)
    m.set_reg("DI", 1 << 40)
    m.set_reg("AX", 1)                           # SCASB never finds it in zeroes
    start = m.cpu.pc
    m.run(max_steps=3)
    assert m.cpu.pc == start and m.reg("CX") == (1 << 40) - 3 * CHUNK
    assert m.steps == 3


# --------------------------------------------------------------------------- faults & reports

def test_nil_dereference_report():
    m = machine("TEXT ·main(SB), 4, $0\nMOVQ $0, AX\nMOVQ 0(AX), BX\n")
    with pytest.raises(MachineFault) as exc:
        m.run()
    f = exc.value
    assert (f.signal, f.addr, f.pc, f.code) == ("SIGSEGV", 0, TEXT_BASE + 1, "SEGV_MAPERR")
    assert str(f.pos) == "/src/test.s:3:1"
    assert format_fault(m, f) == (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc={TEXT_BASE + 1:#x}]\n"
        "\ngoroutine 1 [running]:\nmain.main()\n\t/src/test.s:3 +0x1\n")


def test_unexpected_fault_address_report_and_traceback():
    """An access that is not a nil dereference (Go's sigpanic: addr >= 0x1000) throws;
    the traceback follows the frame-pointer chain."""
    src = ("TEXT ·main(SB), 4, $0\nPUSHQ BP\nMOVQ SP, BP\nCALL ·g(SB)\nRET\n"
           "TEXT ·g(SB), 4, $0\nMOVQ $0xf0000ffc, AX\nMOVQ $1, (AX)\n")
    m = machine(src)
    m.mem.map(0xF0000000, 0x1000)
    with pytest.raises(MachineFault) as exc:
        m.run()
    g = m.image.symbols["main.g"].addr
    assert exc.value.pc == g + 1 and exc.value.addr == 0xF0001000
    assert format_fault(m, exc.value) == (
        "unexpected fault address 0xf0001000\nfatal error: fault\n"
        f"[signal SIGSEGV: segmentation violation code=0x1 addr=0xf0001000 pc={g + 1:#x}]\n"
        "\ngoroutine 1 [running]:\nmain.g()\n\t/src/test.s:8 +0x1\n"
        "main.main()\n\t/src/test.s:4 +0x3\n")


def test_trap_ill_hlt_reports():
    m = machine("TEXT ·main(SB), 4, $0\nNOP\nBYTE $0xcc\n")
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert exc.value.signal == "SIGTRAP" and exc.value.pc == TEXT_BASE + 1
    text = format_fault(m, exc.value)
    assert text.startswith(f"SIGTRAP: trace trap\nPC={TEXT_BASE + 2:#x} m=0 sigcode=128\n\n"
                           "goroutine 1 [running]:\nmain.main()\n\t/src/test.s:3 +0x1\n\n"
                           "rax    0x0\n")
    assert "rip    " in text and "rflags " in text
    m = machine("TEXT ·main(SB), 4, $0\nUD2\n")
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert exc.value.signal == "SIGILL"
    assert format_fault(m, exc.value).startswith("SIGILL: illegal instruction\nPC=")
    m = machine("TEXT ·main(SB), 4, $0\nHLT\n")
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert exc.value.signal == "SIGSEGV" and exc.value.addr == 0
    assert format_fault(m, exc.value).startswith("unexpected fault address 0x0\n"
                                                 "fatal error: fault\n"
                                                 "[signal SIGSEGV: segmentation violation "
                                                 "code=0x80 addr=0x0 pc=")


def test_jump_to_nowhere():
    m = machine("TEXT ·main(SB), 4, $0\nMOVQ $0x1234, AX\nJMP AX\n")
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert (exc.value.signal, exc.value.pc, exc.value.addr) == ("SIGSEGV", 0x1234, 0x1234)
    assert m.cpu.pc == 0x1234 and m.steps == 2


def test_unimplemented_instruction_fails_only_when_executed():
    m = machine("TEXT ·main(SB), 4, $0\nJMP skip\nFSQRT\nBYTE $0x90\nskip:\n"
                "MOVQ $1, AX\nFSQRT\n")
    with pytest.raises(UnimplementedError) as exc:
        m.run()
    assert str(exc.value) == "/src/test.s:7:1: unimplemented instruction FSQRT"
    assert m.reg("AX") == 1 and m.cpu.pc == TEXT_BASE + 4
    m = machine("TEXT ·main(SB), 4, $0\nBYTE $0x90\n")
    with pytest.raises(UnimplementedError, match=r"test.s:2:1: unimplemented instruction "
                                                 r"BYTE\s+\$144"):
        m.run()
    m = machine("TEXT ·main(SB), 4, $0\nINT $0x80\n")
    with pytest.raises(UnimplementedError, match="INT"):
        m.run()


# --------------------------------------------------------------------------- machine API

LOOP = "TEXT ·main(SB), 4, $0\nloop:\nINCQ AX\nJMP loop\n"


def test_step_limit():
    m = machine(LOOP, max_steps=1001)
    with pytest.raises(LimitError) as exc:
        m.run()
    assert m.steps == 1001
    assert str(exc.value).startswith("/src/test.s:")
    assert "step limit 1001 reached at main.main" in exc.value.message
    assert "(/src/test.s:" in exc.value.message
    assert m.reg("AX") == 501


def test_run_budget_until_and_step():
    m = machine(LOOP)
    r = m.run(max_steps=10)
    assert r == StopReason("max_steps", TEXT_BASE) and m.steps == 10 and m.reg("AX") == 5
    r = m.run(until=TEXT_BASE + 1)
    assert r.kind == "until" and r.pc == TEXT_BASE + 1 and m.steps == 11
    r = m.run(until=TEXT_BASE + 1)          # the first instruction always executes
    assert r.kind == "until" and m.steps == 13 and m.reg("AX") == 7
    r = m.step()
    assert r.kind == "step" and m.cpu.pc == TEXT_BASE and m.steps == 14
    r = m.run(until=lambda mm: mm.reg("AX") == 20)
    assert r.kind == "until" and m.reg("AX") == 20


def test_hooks():
    m = machine(LOOP)
    seen = []
    h = m.add_hook("instruction", lambda mm: seen.append(mm.cpu.pc) or
                   ("stop" if len(seen) == 5 else None))
    r = m.run()
    assert r.kind == "hook" and r.value == "stop" and seen[:4] == [TEXT_BASE, TEXT_BASE + 1] * 2
    assert m.steps == 4
    m.remove_hook(h)
    assert m.run(max_steps=3).kind == "max_steps"
    with pytest.raises(ValueError):
        m.add_hook("bogus", print)


def test_natives_syscall_exit():
    src = ("TEXT ·main(SB), 4, $0\nMOVQ $41, DI\nCALL ·native(SB)\nMOVQ $60, AX\nSYSCALL\n"
           "TEXT ·native(SB), 4, $0\nINT $3\n")
    m = machine(src)
    native = m.image.symbols["main.native"].addr

    def add_one(mm):
        mm.set_reg("AX", mm.reg("DI") + 1)
        mm.ret()
    m.natives[native] = add_one

    def syscall(mm):
        assert mm.cpu.pc == TEXT_BASE + 4
        if mm.reg("AX") == 60:
            mm.exit(mm.reg("DI") + 1)
    m.syscall = syscall
    r = m.run()
    assert r == StopReason("exit", TEXT_BASE + 3, status=42) and m.exit_status == 42
    assert m.reg("CX") == TEXT_BASE + 4               # SYSCALL's RCX = return address
    del m.natives[native]
    m.cpu.pc = TEXT_BASE
    with pytest.raises(MachineFault):                 # INT $3 is back
        m.run()
    m2 = machine(src.replace("CALL ·native(SB)\n", ""))
    with pytest.raises(UnimplementedError, match="syscall 60"):
        m2.run()
    with pytest.raises(ProgramExit):
        m.exit(3)


def test_cpuid_and_rdtsc():
    m = run("MOVL $0, AX\nCPUID\nMOVQ BX, R8\nMOVQ DX, R9\nMOVQ CX, R10\nMOVQ AX, R11\n"
            "MOVL $1, AX\nCPUID\nMOVQ DX, R12\nRDTSC\nMOVQ AX, R13\nRDTSC",
            regs={"AX": M64, "CX": M64})
    vendor = b"".join(m.reg(r).to_bytes(4, "little") for r in ("R8", "R9", "R10"))
    assert vendor == b"GenuineIntel" and m.reg("R11") == 0xD     # max leaf: 0xD (XSAVE state)
    assert m.reg("R12") & (1 << 26) and m.reg("R12") & (1 << 25)   # SSE2, SSE
    assert m.reg("AX") > m.reg("R13")
    model = CPUModel(vendor="AuthenticAMD", max_leaf=1)
    m = run("MOVL $0, AX\nCPUID", cpu_model=model)
    assert m.reg("AX") == 1 and m.reg("BX").to_bytes(4, "little") == b"Auth"


def test_snapshot_restore():
    m = machine(LOOP)
    m.mem.write_u64(STACK, 11)
    m.run(max_steps=6)
    snap = m.snapshot()
    m.run(max_steps=100)
    m.mem.write_u64(STACK, 22)
    m.restore(snap)
    assert m.reg("AX") == 3 and m.steps == 6 and m.mem.read_u64(STACK) == 11
    m.run(max_steps=2)
    assert m.reg("AX") == 4


def test_reg_names_and_entry():
    m = machine(LOOP)
    assert m.cpu.pc == m.image.symbols["main.main"].addr
    m.set_reg("g", 5)
    m.set_reg("AH", 0x1FF)
    m.set_reg("X15", -1)
    m.set_reg("RFLAGS", fl.ZF | fl.DF)
    assert m.reg("R14") == 5 and m.reg("AX") == 0xFF00 and m.reg("X15") == (1 << 128) - 1
    assert m.reg("RFLAGS") & 0xFFF == fl.ZF | fl.DF | 0x202
    m.set_reg("Y1", -1)          # a VEX-style write: bits above 256 are zeroed
    m.set_reg("Z2", -1)
    m.set_reg("X2", 0)           # a legacy-SSE-style write: bits above 128 kept
    m.set_reg("K3", 1 << 70 | 5)
    assert m.reg("Z1") == m.reg("Y1") == (1 << 256) - 1 and m.reg("X1") == (1 << 128) - 1
    assert m.reg("Z2") == (1 << 512) - 1 - ((1 << 128) - 1) and m.reg("K3") == 5
    assert m.reg("MXCSR") == 0x1F80
    for bad in ("Y32", "Z07", "K8", "W0"):
        with pytest.raises(KeyError):
            m.reg(bad)
    assert "main.main" in m.where()


def test_readonly_segments_and_describe():
    img = Image(symbols={"ro": Symbol("ro", DATA_BASE, 4, SymKind.RODATA)},
                segments=[Segment(DATA_BASE, bytearray(b"abcd"), False, "ro")])
    m = Machine(img)
    assert m.mem.read(DATA_BASE, 4) == b"abcd" and not m.mem.is_writable(DATA_BASE)


def test_compile_once_and_factory_cache():
    m = machine("TEXT ·main(SB), 4, $0\n" + "ADDQ $1, AX\nADDQ $2, BX\n" * 50)
    assert len(m.compiler._factories) == 1
    m.run(until=max(m.image.code) + 1)
    assert m.reg("AX") == 50 and m.reg("BX") == 100


def test_flags_module_invariants():
    """ZF == (fr == 0) for every kind, so EQ/NE need no table lookup."""
    class C:
        pass
    c = C()
    for k in range(fl.NKINDS):
        for fr in (0, 1, 0x80):
            c.fk, c.fa, c.fb, c.fr, c.fc = k, 3, 5, fr, 0
            if k // 4 == fl.EXPLICIT:
                c.fa = fl.ZF if fr == 0 else 0
            assert fl.ZF_BY_KIND[k](c) == (fr == 0)
            assert fl.condition(c, "EQ") == (fr == 0)


def test_pos_is_reported_for_faults_in_natives():
    m = machine("TEXT ·main(SB), 4, $0\nCALL ·n(SB)\nTEXT ·n(SB), 4, $0\nRET\n")
    n = m.image.symbols["main.n"].addr

    def bad(mm):
        mm.mem.read_u64(0x10)
    m.natives[n] = bad
    with pytest.raises(MachineFault) as exc:
        m.run()
    assert exc.value.pc == n and exc.value.addr == 0x10
    assert isinstance(exc.value.pos, Pos)

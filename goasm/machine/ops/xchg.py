"""Exchanges and atomics: XCHG, CMPXCHG, XADD, CMPXCHG8B/16B (Intel SDM Vol. 2).

With a single thread the LOCK prefix changes nothing. CMPXCHG compares the accumulator
with the destination (flags of ``acc - dest``, family SUB): equal stores the source in
the destination, otherwise the destination is loaded into the accumulator (a memory
destination is written back unchanged, as the processor does).
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import MASK_TEXT, BadForm, Operand, handles, sized


@handles(*sized("XCHG"))
def xchg(e, args, width):
    """``XCHGQ a, b``."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    x, y = args
    e.emit(f"a = {e.read(x, width)}", f"b = {e.read(y, width)}")
    if x.kind == "mem":          # do the memory side first so a fault changes nothing
        e.write(x, width, "b")
        e.write(y, width, "a")
    else:
        e.write(y, width, "a")
        e.write(x, width, "b")
    e.next()


@handles(*sized("CMPXCHG"))
def cmpxchg(e, args, width):
    """``CMPXCHGQ src, dst``."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    acc = Operand("gpr", index=0, text="AX")
    mask = MASK_TEXT[width]
    e.emit(f"s = {e.read(src, width)}", f"d = {e.read(dst, width)}",
           f"a = {e.read(acc, width)}")
    with e.block("if a == d:"):
        e.write(dst, width, "s")
    with e.block("else:"):
        if dst.kind == "mem":
            e.write(dst, width, "d")
        e.write(acc, width, "d")
    e.flags(fl.SUB, width, a="a", b="d", r=f"(a - d) & {mask}")
    e.next()


@handles(*sized("XADD"))
def xadd(e, args, width):
    """``XADDQ src, dst``: tmp = src + dst; src = dst; dst = tmp (flags of the add)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    e.emit(f"s = {e.read(src, width)}", f"d = {e.read(dst, width)}",
           f"r = (s + d) & {MASK_TEXT[width]}")
    if dst.kind == "mem":
        e.write(dst, width, "r")
        e.write(src, width, "d")
    else:
        e.write(src, width, "d")
        e.write(dst, width, "r")
    e.flags(fl.ADD, width, a="d", b="s", r="r")
    e.next()


@handles(("CMPXCHG8B", dict(width=4)), ("CMPXCHG16B", dict(width=8)))
def cmpxchg_double(e, args, width):
    """``CMPXCHG8B mem``: compare EDX:EAX with m64; equal stores ECX:EBX and sets ZF,
    else loads the memory into EDX:EAX and clears ZF (other flags unaffected).
    CMPXCHG16B needs a 16-byte aligned operand (#GP, SIGSEGV otherwise)."""
    if len(args) != 1 or args[0].kind != "mem":
        raise BadForm("expected a memory operand")
    mem = args[0]
    bits = width * 8
    mask = MASK_TEXT[width]
    ea = e.ea(mem)
    if width == 8:
        from goasm.machine.ops.sse import GP_FAULT
        with e.block(f"if {ea} & 15:"):
            e.fault(GP_FAULT)
    e.emit(f"v = rd{bits * 2}({ea})" if width == 4 else f"v = rd128({ea})",
           f"cmp = ((regs[2] & {mask}) << {bits}) | (regs[0] & {mask})")
    with e.block("if v == cmp:"):
        e.emit(f"{'wr64' if width == 4 else 'wr128'}({ea}, ((regs[1] & {mask}) << {bits}) "
               f"| (regs[3] & {mask}))", "z = 1")
    with e.block("else:"):
        if width == 4:
            e.emit("wr64(" + ea + ", v)", "regs[0] = v & 0xFFFFFFFF", "regs[2] = v >> 32")
        else:
            e.emit(f"wr128({ea}, v)", "regs[0] = v & 0xFFFFFFFFFFFFFFFF", "regs[2] = v >> 64")
        e.emit("z = 0")
    e.emit(f"{e.const(fl.replace)}(cpu, {fl.ZF}, z << 6)")
    e.next()

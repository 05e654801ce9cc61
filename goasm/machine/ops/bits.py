"""Bit manipulation: BSF, BSR, BSWAP, BT/BTS/BTR/BTC, POPCNT (Intel SDM Vol. 2).

BSF/BSR with a zero source set ZF and leave the destination unchanged (the documented
AMD behaviour, and what Intel processors do); otherwise ZF = 0 and the destination gets
the bit index. Their other flags are undefined; goasm uses family LOGIC with ``fr`` =
source so that ``ZF == (fr == 0)`` holds. BT* set CF to the selected bit and keep ZF;
POPCNT clears every flag but ZF (set when the source is zero).
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import BITS, MASK_TEXT, BadForm, handles, sized


@handles(*sized("BSF", "WLQ", op="BSF"), *sized("BSR", "WLQ", op="BSR"))
def bsf(e, args, op, width):
    """``BSFQ src, dst`` / ``BSRQ src, dst``."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    e.emit(f"s = {e.read(src, width)}")
    with e.block("if s:"):
        e.emit("r = (s & -s).bit_length() - 1" if op == "BSF" else "r = s.bit_length() - 1")
        e.write(dst, width, "r")
    e.flags(fl.LOGIC, width, r="s")
    e.next()


@handles(*sized("BSWAP", "LQ"))
def bswap(e, args, width):
    """``BSWAPQ reg``: reverse the byte order."""
    if len(args) != 1 or args[0].kind != "gpr":
        raise BadForm("BSWAP needs a register")
    (dst,) = args
    e.emit(f"d = {e.read(dst, width)}",
           f"r = int.from_bytes(d.to_bytes({width}, 'little'), 'big')")
    e.write(dst, width, "r")
    e.next()


@handles(*sized("BT", "WLQ", op=None), *sized("BTS", "WLQ", op="|"),
         *sized("BTR", "WLQ", op="&~"), *sized("BTC", "WLQ", op="^"))
def bt(e, args, op, width):
    """``BTQ bit, base``: CF = bit of base (a register bit offset addresses a bit string
    when ``base`` is memory); BTS/BTR/BTC then set/clear/complement it."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    bit, base = args
    bits = BITS[width]
    if bit.kind == "imm":
        e.emit(f"n = {e.const(bit.value & (bits - 1))}")
    elif base.kind == "mem":
        # Bit-string addressing: the signed offset selects the operand (SDM Vol. 2, BT).
        sb = 1 << (bits - 1)
        shift = {16: 4, 32: 5, 64: 6}[bits]
        e.emit(f"o = ({e.read(bit, width)} ^ {sb}) - {sb}")
        ea = e.ea(base)
        e.emit(f"{ea} = ({ea} + (o >> {shift}) * {width}) & 0xFFFFFFFFFFFFFFFF",
               f"n = o & {bits - 1}")
    else:
        e.emit(f"n = {e.read(bit, width)} & {bits - 1}")
    e.emit(f"d = {e.read(base, width)}", "c = (d >> n) & 1")
    if op == "|":
        e.write(base, width, "d | (1 << n)")
    elif op == "&~":
        e.write(base, width, f"d & ~(1 << n) & {MASK_TEXT[width]}")
    elif op == "^":
        e.write(base, width, "d ^ (1 << n)")
    e.emit(f"{e.const(fl.replace)}(cpu, {fl.CF}, c)")
    e.next()


@handles(*sized("POPCNT", "WLQ"))
def popcnt(e, args, width):
    """``POPCNTQ src, dst``."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    e.emit(f"s = {e.read(src, width)}", "r = s.bit_count()")
    e.write(dst, width, "r")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, 0 if s else {fl.ZF})")
    e.next()



"""Multiplication and division: MUL, IMUL (one-, two- and three-operand: IMUL3x),
DIV, IDIV (Intel SDM Vol. 2: MUL, IMUL, DIV, IDIV).

One-operand forms use AL/AX/EAX/RAX and write AX, DX:AX, EDX:EAX or RDX:RAX. MUL/IMUL
set CF = OF when the high half is significant (flag family MUL); SF ZF AF PF are
undefined. DIV/IDIV leave the flags alone (all undefined) and raise a divide error
(#DE) on a zero divisor or a quotient that does not fit, which Linux delivers as SIGFPE
with si_code FPE_INTDIV and Go reports as "integer divide by zero".
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import BITS, MASK_TEXT, BadForm, fault_factory, handles, sized

DIVIDE_ERROR = fault_factory("integer divide by zero", "SIGFPE", code="FPE_INTDIV")


def _signed(expr: str, width: int) -> str:
    sb = 1 << (BITS[width] - 1)
    return f"(({expr} ^ {sb}) - {sb})"


def _write_pair(e, width, lo: str, hi: str) -> None:
    """Store a double-width result: AX for 8-bit, else DX:AX / EDX:EAX / RDX:RAX."""
    if width == 1:
        e.emit(f"regs[0] = regs[0] & 0xFFFFFFFFFFFF0000 | ({hi} << 8) | {lo}")
    elif width == 2:
        e.emit(f"regs[0] = regs[0] & 0xFFFFFFFFFFFF0000 | {lo}",
               f"regs[2] = regs[2] & 0xFFFFFFFFFFFF0000 | {hi}")
    else:
        e.emit(f"regs[0] = {lo}", f"regs[2] = {hi}")


@handles(*sized("MUL", op="MUL"), *sized("IMUL", op="IMUL"))
def mul(e, args, op, width):
    """``MULx src`` / ``IMULx src``: accumulator * src; ``IMULx src, dst``: dst *= src."""
    bits = BITS[width]
    mask = MASK_TEXT[width]
    if len(args) == 1:
        (src,) = args
        e.emit(f"s = {e.read(src, width)}", f"a = regs[0] & {mask}")
        if op == "MUL":
            e.emit("p = a * s", f"lo = p & {mask}", f"hi = p >> {bits}", "c = hi != 0")
        else:
            e.emit(f"p = {_signed('a', width)} * {_signed('s', width)}",
                   f"lo = p & {mask}", f"hi = (p >> {bits}) & {mask}",
                   f"c = p != {_signed('lo', width)}")
        _write_pair(e, width, "lo", "hi")
        e.flags(fl.MUL, width, c="c", r="lo")
        e.next()
        return
    if op != "IMUL" or len(args) != 2 or width == 1:
        raise BadForm("unsupported MUL/IMUL form")
    src, dst = args
    _imul(e, width, e.read(src, width), e.read(dst, width), dst)


@handles(*sized("IMUL3", "WLQ"))
def imul3(e, args, width):
    """``IMUL3Q $imm, src, dst``: dst = src * imm (signed, truncated)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    imm, src, dst = args
    _imul(e, width, e.read(imm, width), e.read(src, width), dst)


def _imul(e, width, x: str, y: str, dst) -> None:
    mask = MASK_TEXT[width]
    e.emit(f"x = {x}", f"y = {y}", f"p = {_signed('x', width)} * {_signed('y', width)}",
           f"r = p & {mask}", f"c = p != {_signed('r', width)}")
    e.write(dst, width, "r")
    e.flags(fl.MUL, width, c="c", r="r")
    e.next()


@handles(*sized("DIV", signed=False), *sized("IDIV", signed=True))
def div(e, args, width, signed):
    """``DIVx src`` / ``IDIVx src``: quotient to AL/AX/EAX/RAX, remainder to AH/DX/EDX/RDX;
    IDIV truncates toward zero."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    (src,) = args
    bits = BITS[width]
    mask = MASK_TEXT[width]
    e.emit(f"s = {e.read(src, width)}")
    with e.block("if s == 0:"):
        e.fault(DIVIDE_ERROR)
    if width == 1:
        e.emit("n = regs[0] & 0xFFFF")
    else:
        e.emit(f"n = ((regs[2] & {mask}) << {bits}) | (regs[0] & {mask})")
    if not signed:
        e.emit("q, rem = divmod(n, s)")
        with e.block(f"if q > {mask}:"):
            e.fault(DIVIDE_ERROR)
    else:
        nb = 1 << (2 * bits - 1)
        sb = 1 << (bits - 1)
        e.emit(f"n = (n ^ {nb}) - {nb}", f"s = (s ^ {sb}) - {sb}",
               "q = abs(n) // abs(s)", "q = -q if (n < 0) != (s < 0) else q",
               "rem = n - q * s")
        with e.block(f"if not -{sb} <= q < {sb}:"):
            e.fault(DIVIDE_ERROR)
        e.emit(f"q &= {mask}", f"rem &= {mask}")
    _write_pair(e, width, "q", "rem")
    e.next()

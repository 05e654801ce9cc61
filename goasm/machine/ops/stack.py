"""Stack operations: PUSH/POP (Q and W), PUSHF/POPF, LEAVE (Intel SDM Vol. 2: PUSH,
POP, PUSHF/PUSHFQ, POPF/POPFQ, LEAVE).

PUSH reads its operand before decrementing RSP (``PUSHQ SP`` pushes the old value);
POP increments RSP before computing a memory destination that uses RSP and before
writing a register destination, so ``POPQ SP`` loads the popped value. POPF changes only
the flags a CPL-3 program may change (:data:`goasm.machine.flags.USER_WRITABLE`).
"""

from __future__ import annotations

from goasm.machine.ops.base import MASK_TEXT, BadForm, Operand, handles, one


@handles(("PUSHQ", dict(width=8)), ("PUSHW", dict(width=2)))
def push(e, args, width):
    """``PUSHQ src``."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    src = args[0]
    if src.kind == "imm":       # push imm32/imm8 sign-extended to the operand size
        v = e.read(src, width)
    else:
        v = e.read(src, width)
    e.emit(f"v = {v}", f"sp = (regs[4] - {width}) & 0xFFFFFFFFFFFFFFFF",
           f"wr{width * 8}(sp, v)", "regs[4] = sp")
    e.next()


@handles(("POPQ", dict(width=8)), ("POPW", dict(width=2)))
def pop(e, args, width):
    """``POPQ dst``."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    dst = args[0]
    e.emit("sp = regs[4]", f"v = rd{width * 8}(sp)")
    if dst.kind == "mem":
        # The destination address is computed with the incremented RSP; apply the
        # increment only after the store succeeds.
        dst_after = Operand("mem", base=dst.base, index=dst.index, scale=dst.scale,
                            disp=dst.disp + (width if dst.base == 4 else 0),
                            tls=dst.tls, text=dst.text)
        if dst.index == 4:
            raise BadForm("SP cannot be an index register")
        e.write(dst_after, width, "v")
        e.emit(f"regs[4] = (sp + {width}) & 0xFFFFFFFFFFFFFFFF")
    else:
        e.emit(f"regs[4] = (sp + {width}) & 0xFFFFFFFFFFFFFFFF")
        e.write(dst, width, "v")
    e.next()


@handles(("PUSHFQ", dict(width=8)), ("PUSHFW", dict(width=2)))
def pushf(e, args, width):
    """``PUSHFQ``: push RFLAGS (RF and VM read as 0)."""
    if args:
        raise BadForm("PUSHF takes no operands")
    e.emit(f"v = cpu.get_rflags() & {MASK_TEXT[width]}",
           f"sp = (regs[4] - {width}) & 0xFFFFFFFFFFFFFFFF", f"wr{width * 8}(sp, v)",
           "regs[4] = sp")
    e.next()


@handles(("POPFQ", dict(width=8)), ("POPFW", dict(width=2)))
def popf(e, args, width):
    """``POPFQ``: pop into the user-writable RFLAGS bits."""
    if args:
        raise BadForm("POPF takes no operands")
    e.emit("sp = regs[4]", f"v = rd{width * 8}(sp)")
    if width == 2:
        e.emit("v |= cpu.get_rflags() & ~0xFFFF")
    e.emit(f"regs[4] = (sp + {width}) & 0xFFFFFFFFFFFFFFFF", "cpu.set_rflags(v)")
    e.next()


@handles(*one("LEAVEQ"))
def leave(e, args):
    """``LEAVEQ``: RSP = RBP; RBP = pop."""
    if args:
        raise BadForm("LEAVE takes no operands")
    e.emit("sp = regs[5]", "v = rd64(sp)", "regs[4] = (sp + 8) & 0xFFFFFFFFFFFFFFFF",
           "regs[5] = v")
    e.next()

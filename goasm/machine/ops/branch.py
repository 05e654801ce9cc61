"""Control transfer: JMP, CALL, RET, Jcc in every Go spelling, JCXZ, LOOP
(Intel SDM Vol. 2: JMP, CALL, RET, Jcc, LOOP/LOOPcc).

Targets: a resolved :class:`goasm.image.Target`, a register or memory operand
(indirect), or ``sym(SB)`` with no registers, which is a direct transfer to the linked
symbol (Go's ``CALL runtime·foo(SB)``). CALL pushes the address of the next instruction;
``RET $n`` pops n more bytes after the return address.
"""

from __future__ import annotations

from goasm.arch.amd64 import CONDITIONS
from goasm.machine.ops.base import BadForm, handles, one


def target(e, op) -> str:
    """An expression for a branch destination (see the module docstring)."""
    if op.kind == "target":
        return e.const(op.value)
    if op.kind == "mem" and op.direct:
        return e.const(op.disp)
    if op.kind in ("gpr", "mem"):
        v = e.tmp("t")
        e.emit(f"{v} = {e.read(op, 8)}")
        return v
    raise BadForm(f"bad branch target {op.text}")


@handles(*one("JMP"))
def jmp(e, args):
    """``JMP target``."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    e.emit(f"return {target(e, args[0])}")


@handles(*one("CALL"))
def call(e, args):
    """``CALL target``: push the return address, jump."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    t = target(e, args[0])
    e.emit("sp = (regs[4] - 8) & 0xFFFFFFFFFFFFFFFF", "wr64(sp, _nxt)", "regs[4] = sp",
           f"return {t}")


@handles(*one("RET"))
def ret(e, args):
    """``RET`` / ``RET $n``."""
    extra = 0
    if args:
        if len(args) != 1 or args[0].kind != "imm":
            raise BadForm("RET takes an optional immediate")
        extra = args[0].value & 0xFFFF
    e.emit("sp = regs[4]", "t = rd64(sp)",
           f"regs[4] = (sp + {8 + extra}) & 0xFFFFFFFFFFFFFFFF", "return t")


@handles(*(("J" + cc, dict(cc=cc)) for cc in CONDITIONS))
def jcc(e, args, cc):
    """``Jcc target`` (aliases such as JAE, JZ are canonicalised by the compiler)."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    t = target(e, args[0])
    with e.block(f"if {e.cond(cc)}:"):
        e.emit(f"return {t}")
    e.next()


@handles(("JCXZW", dict(width=2)), ("JCXZL", dict(width=4)), ("JCXZQ", dict(width=8)))
def jcxz(e, args, width):
    """``JCXZL target``: jump if CX/ECX/RCX is zero (flags untouched)."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    t = target(e, args[0])
    mask = {2: "0xFFFF", 4: "0xFFFFFFFF", 8: "0xFFFFFFFFFFFFFFFF"}[width]
    with e.block(f"if not regs[1] & {mask}:"):
        e.emit(f"return {t}")
    e.next()


@handles(("LOOP", dict(cc=None)), ("LOOPEQ", dict(cc="EQ")), ("LOOPNE", dict(cc="NE")))
def loop(e, args, cc):
    """``LOOP target``: RCX -= 1 (no flags); jump if RCX != 0 (and ZF test for cc)."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    t = target(e, args[0])
    e.emit("c = (regs[1] - 1) & 0xFFFFFFFFFFFFFFFF", "regs[1] = c")
    test = "c" if cc is None else f"c and {e.cond(cc)}"
    with e.block(f"if {test}:"):
        e.emit(f"return {t}")
    e.next()

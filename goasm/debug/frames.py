"""Stack frames: how far SP is from the return address at every instruction, and the
unwinder built on it (``stack``, ``frame``, DAP ``stackTrace``, ``stepout``, ``rev``).

A function's SP adjustments are found by walking its control-flow graph from the entry
(delta 0), as Go's assembler tracks ``Spadj`` (cmd/internal/obj/x86/obj6.go): PUSH/POP,
``SUBQ``/``ADDQ $n, SP``, ``ADJSP``, ``LEAQ n(SP), SP``. A frame's CFA is the caller's SP
(just above the return address); ``a+0(FP)`` is at the CFA and the pseudo-SP (locals,
``x-8(SP)``) is ``CFA - 8 - the saved BP`` (Go's assembler guide, "The pseudo-registers").
"""

from __future__ import annotations

import attrs

from goasm import ir
from goasm.arch.amd64 import TEXTFLAG


@attrs.frozen
class Frame:
    """One stack frame: ``pc`` (for callers the return address), ``sp`` and ``cfa`` (the
    caller's SP, None when unknown); ``index`` counts from the innermost frame (0);
    ``pos`` is the source position shown for it (a caller's is its CALL); ``g`` the
    goroutine it belongs to; ``live`` whether it is on the running goroutine, whose
    other registers are the CPU's."""

    pc: int
    sp: int
    cfa: int | None
    caller: bool
    index: int = 0
    pos: object = None
    g: int = 0
    live: bool = True


def _sp_effect(ins):
    """How an instruction moves SP (bytes pushed: +8 for PUSHQ), None when it sets SP
    to something the frame analysis cannot follow (MOVQ x, SP; ANDQ $~15, SP)."""
    op = ins.op
    args = ins.args
    if op in ("PUSHQ", "PUSHFQ"):
        return 8
    if op in ("PUSHW", "PUSHFW"):
        return 2
    if op in ("POPQ", "POPFQ"):
        return -8
    if op in ("POPW", "POPFW"):
        return -2
    if op == "ADJSP" and args and isinstance(args[0], ir.Imm):
        return args[0].value
    if not args:
        return 0
    last = args[-1]
    if not (isinstance(last, ir.Reg) and last.name == "SP"):
        return 0
    if op.startswith(("CMP", "TEST", "BT")):
        return 0
    src = args[0]
    if op == "SUBQ" and isinstance(src, ir.Imm):
        return src.value
    if op == "ADDQ" and isinstance(src, ir.Imm):
        return -src.value
    if op == "LEAQ" and isinstance(src, ir.Mem) and src.base == "SP" and not src.index \
            and not src.symbol:
        return -src.offset
    return None


def sp_deltas(fn) -> dict:
    """For each instruction address of ``fn``: bytes between SP and the return address
    slot (SP + delta = where CALL left the return address), or None where unknown."""
    instrs = fn.instrs
    index = {ins.addr: i for i, ins in enumerate(instrs)}
    out: dict = {}
    if not instrs:
        return out
    work = [(instrs[0].addr, 0)]
    while work:
        addr, delta = work.pop()
        while addr in index and addr not in out:
            ins = instrs[index[addr]]
            out[addr] = delta
            if delta is not None:
                eff = _sp_effect(ins)
                after = None if eff is None else delta + eff
            else:
                after = None
            op = ins.op
            target = ins.args[0] if ins.args else None
            if op.startswith("J") or op.startswith("LOOP"):
                if hasattr(target, "addr") and target.addr in index:
                    work.append((target.addr, after))
                if op == "JMP":
                    break
            if op in ("RET", "UD2", "INT", "HLT"):
                break
            addr, delta = ins.next_addr, after
    return out


class Unwinder:
    """Frames of one image on one machine. ``read_u64(addr)`` reads a word or returns
    None when it is not mapped (the session's quiet read, which watchpoints do not see)."""

    def __init__(self, image, natives, read_u64) -> None:
        self.image = image
        self.natives = natives
        self.read_u64 = read_u64
        self._deltas: dict = {}

    def function(self, pc: int):
        """The :class:`goasm.image.Function` containing ``pc``, or None."""
        sym, _ = self.image.symbol_at(pc)
        return self.image.functions.get(sym.name) if sym is not None else None

    def delta_at(self, pc: int):
        """SP-to-return-slot distance at ``pc`` (see :func:`sp_deltas`; an executable's
        own table, its ``pcsp``, when the image has one); 0 at a native."""
        if pc in self.natives:
            return 0
        from_table = getattr(self.image, "sp_delta", None)
        if from_table is not None:
            return from_table(pc)
        fn = self.function(pc)
        if fn is None:
            return None
        deltas = self._deltas.get(fn.name)
        if deltas is None:
            deltas = self._deltas[fn.name] = sp_deltas(fn)
        return deltas.get(pc)

    def topframe(self, pc: int) -> bool:
        top = getattr(self.image, "top_frame", None)
        if top is not None:
            return top(pc)
        fn = self.function(pc)
        return fn is not None and bool(fn.flags & TEXTFLAG["TOPFRAME"])

    def is_code(self, addr: int) -> bool:
        return addr in self.image.code or addr in self.natives

    def cfa(self, pc: int, sp: int):
        d = self.delta_at(pc)
        return None if d is None else sp + d + 8

    def call_site(self, ret: int):
        """The instruction a return address belongs to (the CALL before it)."""
        code = self.image.code
        for a in range(ret - 1, ret - 17, -1):
            ins = code.get(a)
            if ins is not None:
                return ins if ins.next_addr == ret else None
        return None

    def _pos(self, pc: int, caller: bool):
        line_at = getattr(self.image, "line_at", None)
        if line_at is not None:         # an executable: its line table, as Go's traceback
            return line_at(pc - 1 if caller else pc)
        ins = self.call_site(pc) if caller else self.image.code.get(pc)
        return ins.pos if ins is not None else None

    def unwind(self, pc: int, sp: int, *, limit: int = 100, g: int = 0,
               live: bool = True) -> list:
        """Frames from (``pc``, ``sp``) outwards, using each function's SP deltas; stops
        at a TOPFRAME function, an unknown frame or a return address that is not code."""
        frames: list = []
        caller = False
        while len(frames) < limit:
            d = self.delta_at(pc)
            index = len(frames)
            pos = self._pos(pc, caller)
            if d is None:
                frames.append(Frame(pc, sp, None, caller, index, pos, g, live))
                break
            slot = sp + d
            frames.append(Frame(pc, sp, slot + 8, caller, index, pos, g, live))
            if self.topframe(pc):
                break
            ret = self.read_u64(slot)
            if ret is None or not self.is_code(ret):
                break
            pc, sp, caller = ret, slot + 8, True
        return frames

"""The run commands of a session, built on :meth:`Session.resume`,
:meth:`Session.reverse` and the unwinder: instruction and line steps (into or over
calls), step out, continue to a location, and their reverse counterparts.

A mixin of :class:`goasm.debug.session.Session`.
"""

from __future__ import annotations

from goasm.debug.errors import CommandError
from goasm.debug.values import M64


class Stepping:
    """See the module docstring."""


    def step(self, count: int = 1) -> Stop:
        """``count`` instructions, into calls (breakpoints stop a longer run)."""
        return self.resume(limit=count, use_bps=count > 1)

    def _return_pred(self, ret: int, sp: int):
        """Back at ``ret`` with SP = ``sp`` (followed through stack growth, which moves
        the frame)."""
        events = self.model.events
        state = {"sp": sp, "seen": len(events)}

        def pred(mm):
            if len(events) != state["seen"]:
                for ev in events[state["seen"]:]:
                    if getattr(ev, "kind", "") == "stack_growth" and \
                            ev.old_lo <= state["sp"] <= ev.old_hi:
                        state["sp"] += ev.new_hi - ev.old_hi
                state["seen"] = len(events)
            return mm.cpu.pc == ret and mm.cpu.regs[4] == state["sp"]
        return pred

    def next(self, count: int = 1) -> Stop:
        """Instructions over calls: a CALL runs until it returns (a breakpoint inside
        stops it); stops early at a breakpoint, the end or a fault."""
        stop = None
        for _ in range(count):
            m = self.machine
            ins = self.image.code.get(m.cpu.pc)
            pred = None
            if ins is not None and ins.op == "CALL":
                pred = self._return_pred(ins.next_addr, m.cpu.regs[4])
            stop = self.resume(pred=pred, limit=None if pred else 1,
                               use_bps=pred is not None)
            if not (stop.kind == "limit" or (stop.kind == "break" and stop.bp is None)):
                break
        return stop

    def stepout(self) -> Stop:
        """Run until the current function returns to its caller."""
        self.require_live()
        m = self.machine
        d = self.unwinder.delta_at(m.cpu.pc)
        if d is None:
            raise CommandError(f"cannot find the return address of "
                               f"{self.image.describe(m.cpu.pc)} (its frame is unknown here)")
        slot = m.cpu.regs[4] + d
        ret = self.peek_int(slot, 8)
        if not self.locations.is_code(ret):
            raise CommandError(f"{self.image.describe(m.cpu.pc)} has no caller to return to "
                               f"(0({slot:#x}) holds {ret:#x})")
        return self.resume(pred=self._return_pred(ret, slot + 8))

    def cont(self, spec: str | None = None) -> Stop:
        """Run to a breakpoint, or to ``spec`` (a location) first."""
        pred = None
        if spec:
            targets = frozenset(self.resolve(spec))
            pred = lambda mm: mm.cpu.pc in targets  # noqa: E731
        return self.resume(pred=pred)

    def step_line(self, *, over: bool) -> Stop:
        """Instructions (over calls when ``over``) until the source line changes."""
        here = self._line(self.machine.cpu.pc)
        while True:
            stop = self.next() if over else self.step()
            if stop.kind != "limit" and not (stop.kind == "break" and stop.bp is None):
                return stop
            line = self._line(stop.pc)
            if line is None or line != here:
                return stop

    def _line(self, pc: int):
        ins = self.image.code.get(pc)
        return (ins.pos.file, ins.pos.line) if ins is not None and ins.pos else None

    def rev_step(self) -> Stop:
        return self.reverse(None)

    def rev_continue(self) -> Stop:
        return self.reverse(self.bp_pred, watches=bool(self.breakpoints.watchpoints()))

    def rev_next(self) -> Stop:
        """Back to the previous instruction of this function (over calls)."""
        cpu = self.machine.cpu
        cfa = self.unwinder.cfa(cpu.pc, cpu.regs[4])
        if cfa is None:
            return self.reverse(None)
        gr = self.goroutines
        g = gr.current_g()
        lo = gr.field(g, "stack", "lo") if gr.g_ok(g) else 0
        hi = gr.field(g, "stack", "hi") if gr.g_ok(g) else M64

        def pred(mm):
            c = self.unwinder.cfa(mm.cpu.pc, mm.cpu.regs[4])
            return c is not None and cfa <= c <= hi and lo <= mm.cpu.regs[4]
        return self.reverse(pred)

    def rev_stepout(self) -> Stop:
        """Back to the CALL that entered this function."""
        cpu = self.machine.cpu
        cfa = self.unwinder.cfa(cpu.pc, cpu.regs[4])
        if cfa is None:
            raise CommandError("cannot find this function's frame")
        calls = self.call_sites
        return self.reverse(lambda mm: mm.cpu.pc in calls and mm.cpu.regs[4] == cfa)

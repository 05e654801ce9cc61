"""Goroutines (and, later, machine threads) as the debugger lists and selects them.

A *thread* of the debugger is a goroutine of the runtime model: every g it knows
(``runtime.g0`` and ``allgs``), with its id (goid), status (the ``_G*`` constants of
``go_asm.h``), stack bounds and where it is (the CPU's PC/SP for the running one, its
``g.sched`` gobuf otherwise). Ids are the goids; g0 -- the system stack of m0, which
runs the bootstrap and the scheduler -- gets :data:`SYSTEM_THREAD_BASE` + the m's id, so
the machine threads of a multi-threaded program can add their g0s next to it.
"""

from __future__ import annotations

import attrs

from goasm.debug.errors import CommandError

SYSTEM_THREAD_BASE = 1_000_000
"""Thread id of m0's g0 (m N's g0 will be SYSTEM_THREAD_BASE + N)."""


@attrs.frozen
class Thread:
    """One goroutine: ``id`` (the DAP thread id), ``g`` (its address), ``goid``,
    ``status``, ``current`` (running on the CPU), ``pc``/``sp`` (the CPU's for the
    running one, else its gobuf's), and its stack ``[lo, hi)``."""

    id: int
    g: int
    goid: int
    name: str
    status: str
    current: bool
    pc: int
    sp: int
    lo: int
    hi: int

    @property
    def system(self) -> bool:
        return self.id >= SYSTEM_THREAD_BASE


class Goroutines:
    """The runtime's goroutines in one session (reads go through the session's quiet
    memory access, so watchpoints do not see them)."""

    def __init__(self, session) -> None:
        self.s = session

    @property
    def layout(self):
        return self.s.model.layout

    def g0(self) -> int | None:
        sym = self.s.image.lookup("runtime.g0")
        return sym.addr if sym is not None else None

    def current_g(self) -> int:
        """The word at -8(FS), or 0 when TLS is not set up."""
        fs = self.s.machine.cpu.fs_base
        if not fs or not self.s.mapped(fs - 8):
            return 0
        return self.s.peek_int(fs - 8, 8)

    def g_ok(self, g: int) -> bool:
        return bool(g) and self.s.mapped(g, self.layout.g.size)

    def field(self, g: int, field: str, sub: str | None = None) -> int:
        L = self.layout
        if sub is None:
            off = L.g.off(field)
            size = {"atomicstatus": 4, "preempt": 1}.get(field, 8)
        else:
            off = L.g_stack(sub) if field == "stack" else L.g_sched(sub)
            size = 8
        return self.s.peek_int(g + off, size)

    def all_gs(self) -> list:
        gs = []
        g0 = self.g0()
        if g0 is not None:
            gs.append(g0)
        for g in getattr(self.s.model, "allgs", ()):
            if g not in gs:
                gs.append(g)
        return [g for g in gs if self.g_ok(g)]

    def running_g(self) -> int:
        """The g the CPU runs: the TLS g, or g0 before TLS is set up."""
        cur = self.current_g()
        if self.g_ok(cur):
            return cur
        return self.g0() or 0

    def thread_of(self, g: int) -> Thread:
        s = self.s
        g0 = self.g0()
        goid = self.field(g, "goid")
        current = g == self.running_g()
        if current:
            pc, sp = s.machine.cpu.pc, s.machine.cpu.regs[4]
        else:
            pc, sp = self.field(g, "sched", "pc"), self.field(g, "sched", "sp")
            if not pc and self.layout.g.has("startpc"):
                pc = self.field(g, "startpc")
        lo, hi = self.field(g, "stack", "lo"), self.field(g, "stack", "hi")
        status = s.values.status_name(self.field(g, "atomicstatus"))
        if g == g0:
            return Thread(SYSTEM_THREAD_BASE, g, goid, "g0 (m0's system stack)", status,
                          current, pc, sp, lo, hi)
        return Thread(goid, g, goid, f"Goroutine {goid}", status, current, pc, sp, lo, hi)

    def threads(self) -> list:
        """Every goroutine, g0 first."""
        return [self.thread_of(g) for g in self.all_gs()]

    def thread(self, ident: int) -> Thread:
        """The goroutine with thread id ``ident`` (a goid, or g0's system id)."""
        for t in self.threads():
            if t.id == ident:
                return t
        raise CommandError(f"no goroutine {ident}")

    def by_goid(self, which: str) -> Thread:
        """``g0`` or a goid, as the CLI names goroutines."""
        if which == "g0":
            return self.thread(SYSTEM_THREAD_BASE)
        if not which.isdigit():
            raise CommandError(f"no goroutine {which!r}")
        found = [t for t in self.threads() if t.goid == int(which)]
        if not found:
            raise CommandError(f"no goroutine {which}")
        return min(found, key=lambda t: t.system)

    def current(self) -> Thread | None:
        g = self.running_g()
        return self.thread_of(g) if self.g_ok(g) else None

    def stackmap_target(self, which: str | None):
        """(thread, sp, pc, note) of the goroutine ``stackmap`` draws: on g0 inside
        morestack/newstack, the goroutine being grown."""
        s = self.s
        cpu = s.machine.cpu
        if which is not None:
            t = self.by_goid(which)
            return t, t.sp, t.pc, ("" if t.current else "not running: SP and PC from g.sched")
        cur = self.current_g()
        g0 = self.g0()
        if not self.g_ok(cur):
            if g0 is not None and self.g_ok(g0) and self.field(g0, "stack", "hi"):
                cur = g0
            else:
                raise CommandError("no goroutine yet: TLS and g0's stack are not set up")
        mg = self.field(cur, "m")
        curg = s.peek_int(mg + self.layout.m.curg, 8) if mg and s.mapped(mg) else 0
        if cur == g0 and curg and self.g_ok(curg):
            t = self.thread_of(curg)
            if t.sp and t.lo <= t.sp <= t.hi and not (t.lo <= cpu.regs[4] <= t.hi):
                note = (f"on g0 in {s.image.describe(cpu.pc)}: showing goroutine "
                        f"{t.goid}, SP from g.sched.sp")
                return t, t.sp, t.pc, note
        return self.thread_of(cur), cpu.regs[4], cpu.pc, ""

"""One debugging session: a process, its history, breakpoints and watchpoints, and
the operations both front ends (the ``goasm debug`` CLI and the ``goasm dap`` server)
are built from. Nothing here prints: stops come back as :class:`Stop` values and
out-of-band messages (tracepoints, breakpoint-condition errors) go to ``on_notice``.

Running (:meth:`Session.resume`, and the commands of :mod:`goasm.debug.stepping` on
top of it): the machine runs
until a breakpoint, a watchpoint, a predicate, an instruction count, the program's end,
a fault, or a pause request (:meth:`Session.pause`, from another thread; checked
between chunks of at most one snapshot interval). Reverse execution restores a snapshot
and executes forward (:mod:`goasm.debug.history`); :meth:`Session.search_back` finds the
latest earlier state where a breakpoint triggers or a watched range was accessed.

Changing the state by hand (:meth:`Session.assign`) starts a new timeline from the
current step: the snapshots after it are dropped.
"""

from __future__ import annotations

import threading

import attrs

from goasm.debug.breakpoints import EVENTS, Breakpoints, WatchHit, parse_condition
from goasm.debug.errors import CommandError
from goasm.debug.expr import Evaluator, number, parse
from goasm.debug.frames import Unwinder
from goasm.debug.goroutines import Goroutines
from goasm.debug.history import History
from goasm.debug.locations import Locations
from goasm.debug.registers import RegisterFile, canonical, vector_width
from goasm.debug.scope import Scope
from goasm.debug.stepping import Stepping
from goasm.debug.streams import ProgramOutput, ReplayableInput
from goasm.debug.values import M64, ValueModel
from goasm.debug.variables import FrameVariables
from goasm.errors import LimitError, MachineFault, UnimplementedError

_ACCESS_HOOK = {"r": "read", "w": "write", "rw": "access"}


@attrs.frozen
class Stop:
    """Why and where the program stopped.

    ``kind``: ``break`` (a breakpoint, or the command's own target), ``watch``,
    ``limit`` (the instruction count was done), ``exit``, ``fault``, ``error``
    (unimplemented or a resource limit), ``interrupt`` (paused), ``rev`` (reverse
    execution arrived), ``start`` (reverse execution reached step 0).
    """

    kind: str
    pc: int
    steps: int
    bp: object = None
    watch: WatchHit | None = None
    status: int | None = None
    fault: object = None


class Session(Stepping):
    """A process under the debugger (see the module docstring).

    ``program_stdout``/``program_stderr``: where the program's fd 1 and 2 go (binary or
    text streams); ``program_stdin``: its fd 0 (default: empty); ``before_output``: called
    before program output is written (to end a half-written line of the front end).
    """

    def __init__(self, files, *, include_dirs=(), defines=None, argv=(), env=(), cpu=None,
                 goroot=None, program_stdout=None, program_stderr=None, program_stdin=None,
                 before_output=None, snapshot_interval: int = 50_000,
                 max_snapshots: int = 64) -> None:
        self.files = list(files)
        self.load_args = dict(include_dirs=tuple(include_dirs), defines=defines,
                              argv=tuple(argv), env=tuple(env), cpu=cpu)
        if goroot is not None:
            self.load_args["goroot"] = goroot
        self.program_targets = (program_stdout, program_stderr)
        self.program_stdin_source = program_stdin
        self.before_output = before_output
        self.snapshot_interval = snapshot_interval
        self.max_snapshots = max_snapshots
        self.breakpoints = Breakpoints()
        self.on_notice = None
        self.observer = None
        self._pause = threading.Event()
        self.start()

    # ------------------------------------------------------------------ process

    def start(self) -> None:
        """Load and start a fresh process (breakpoints are kept)."""
        from goasm import api

        outs = tuple(ProgramOutput(t, self.before_output) for t in self.program_targets)
        stdin = ReplayableInput(self.program_stdin_source)
        proc = api.start(self.files, stdout=outs[0], stderr=outs[1], stdin=stdin,
                         **self.load_args)
        self.proc = proc
        self.machine = proc.machine
        self.model = proc.model
        self.image = proc.machine.image
        self.outputs = outs
        self.history = History(proc, outs, stdin, interval=self.snapshot_interval,
                               limit=self.max_snapshots)
        self.history.take()
        self.dead: str | None = None
        self.fault = None
        self.events_seen = len(self.model.events)
        natives = self.machine.natives
        self.locations = Locations(self.image, natives)
        self.unwinder = Unwinder(self.image, natives, self._peek_u64)
        self.variables = FrameVariables(self.image)
        self.registers = RegisterFile(self.machine)
        self.values = ValueModel(self.peek_int, self.mapped, self.locations.symbolize,
                                 lambda: self.model.layout)
        self.goroutines = Goroutines(self)
        code = self.image.code
        if hasattr(self.image, "syscall_sites"):    # an executable: code decoded on demand
            self.syscall_sites = self.image.syscall_sites()
            self.call_sites = self.image.call_sites()
        else:
            self.syscall_sites = tuple(sorted(a for a, ins in code.items()
                                              if ins.op == "SYSCALL"))
            self.call_sites = frozenset(a for a, ins in code.items() if ins.op == "CALL")

    def restart(self) -> None:
        self.start()
        self.breakpoints.reset_hits()

    @property
    def pid(self) -> int:
        return self.proc.linux.pid

    def notice(self, text: str) -> None:
        if self.on_notice is not None:
            self.on_notice(text)

    def new_events(self) -> list:
        """Runtime events since the last call."""
        events = self.model.events
        new = events[self.events_seen:]
        self.events_seen = len(events)
        return new

    # ------------------------------------------------------------------ memory

    def peek(self, addr: int, size: int) -> bytes:
        """Memory as the debugger reads it: watchpoints are not told."""
        mem = self.machine.mem
        muted, mem.muted = mem.muted, True
        try:
            return mem.read(addr & M64, size)
        except MachineFault:
            raise CommandError(f"cannot access memory at {addr & M64:#x}") from None
        finally:
            mem.muted = muted

    def peek_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.peek(addr, size), "little")

    def _peek_u64(self, addr: int):
        return self.peek_int(addr, 8) if self.mapped(addr) else None

    def mapped(self, addr: int, size: int = 8) -> bool:
        mem = self.machine.mem
        return addr > 0 and mem.is_mapped(addr) and mem.is_mapped(addr + size - 1)

    def poke(self, addr: int, data: bytes) -> None:
        """Write memory by hand (a new timeline from here, see :meth:`assign`)."""
        mem = self.machine.mem
        muted, mem.muted = mem.muted, True
        try:
            mem.write(addr & M64, data)
        except MachineFault as err:
            raise CommandError(f"cannot write memory at {addr & M64:#x}: {err}") from None
        finally:
            mem.muted = muted
        self.history.branch()

    # ------------------------------------------------------------------ frames & values

    def top_frame(self):
        cpu = self.machine.cpu
        return self.unwinder.unwind(cpu.pc, cpu.regs[4], limit=1)[0]

    def frames(self, thread=None, limit: int = 100) -> list:
        """The frames of ``thread`` (a :class:`goasm.debug.goroutines.Thread`; default:
        the one running), innermost first."""
        if thread is None or thread.current:
            cpu = self.machine.cpu
            return self.unwinder.unwind(cpu.pc, cpu.regs[4], limit=limit)
        return self.unwinder.unwind(thread.pc, thread.sp, limit=limit, g=thread.g,
                                    live=False)

    def scope(self, frame=None) -> Scope:
        return Scope(self, frame)

    def evaluate(self, text: str, frame=None):
        """Evaluate an expression (:mod:`goasm.debug.expr`) in ``frame``."""
        return Evaluator(self.scope(frame)).evaluate(text)

    def check_syntax(self, text: str) -> None:
        parse(text, Scope.is_register)

    def evaluate_number(self, text: str, frame=None) -> int:
        return self.values.number(self.evaluate(text, frame))

    def assign(self, target: str, value_text: str, frame=None) -> None:
        """``set TARGET = VALUE``: a register, or anything that lives in memory."""
        name = target.strip()
        args, locs = self.scope(frame).variables()
        reg = canonical(name)
        if reg is not None and not any(v.name == name for v in args + locs):
            if frame is not None and (frame.index or not frame.live):
                raise CommandError(f"{reg} can only be set in the innermost frame of the "
                                   "running goroutine")
            wide = vector_width(reg) and value_text.strip()[:1].isdigit()
            value = number(value_text.strip()) if wide else \
                self.evaluate_number(value_text, frame)
            self.registers.set(reg, value)
            self.history.branch()
            return
        self.store(self.evaluate(target, frame), self.evaluate_number(value_text, frame), name)

    def store(self, v, value: int, what: str = "the value") -> None:
        """Write ``value`` where :class:`goasm.debug.values.Value` ``v`` lives."""
        if v.addr is None or v.is_aggregate:
            raise CommandError(f"cannot assign to {what} (not a register or a value in "
                               "memory)")
        n = v.nbytes
        self.poke(v.addr, (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little"))

    # ------------------------------------------------------------------ breakpoints

    def add_breakpoint(self, spec: str, *, tracepoint: bool = False, frame=None):
        """A breakpoint on a location spec or a runtime event, ``[if EXPR]``."""
        spec, cond = parse_condition(spec)
        if cond:
            self.check_syntax(cond)
        words = spec.split()
        event = words[0] if words and (words[0] in EVENTS or words[0] == "syscall") else None
        nr = None
        if event == "syscall":
            from goasm.machine.syscalls import SYSCALL_NAMES, SYSCALL_NUMBERS

            if len(words) > 2:
                raise CommandError("usage: break syscall [name|number]")
            if len(words) == 2:
                name = words[1]
                if name.isdigit():
                    nr = int(name)
                elif name in SYSCALL_NUMBERS:
                    nr = SYSCALL_NUMBERS[name]
                else:
                    raise CommandError(f"unknown system call {name!r}")
            addrs = self.syscall_sites
            if not addrs:
                raise CommandError("the program has no SYSCALL instruction")
            what = f"syscall {SYSCALL_NAMES.get(nr, nr)}" if nr is not None else "syscall"
            desc = f"event {what} ({len(addrs)} SYSCALL sites)"
        elif event is not None:
            if len(words) > 1:
                raise CommandError(f"event {event} takes no argument")
            sym = self.image.lookup(EVENTS[event][0])
            if sym is None:
                raise CommandError(f"event {event}: {EVENTS[event][0]} is not linked")
            addrs = (sym.addr,)
            desc = f"event {event} at {self.locations.where(sym.addr)}"
        else:
            addrs = self.resolve(spec, frame)
            desc = self.locations.where(addrs[0])
        return self.breakpoints.add(spec=spec, addrs=tuple(addrs), desc=desc, event=event,
                                    syscall_nr=nr, cond=cond, tracepoint=tracepoint)

    def add_watchpoint(self, mode: str, expr: str, frame=None):
        """delve's ``watch -r|-w|-rw EXPR``: the memory the expression lives in."""
        v = self.evaluate(expr, frame)
        if v.addr is None:
            raise CommandError(f"{expr} is not in memory (watch needs a memory location)")
        if v.is_aggregate:
            raise CommandError(f"{expr} is a {v.typ}: watch one of its fields")
        return self.watch_range(mode, v.addr, v.nbytes, expr)

    def watch_range(self, mode: str, addr: int, size: int, label: str):
        """A watchpoint (``r``, ``w`` or ``rw``) on ``[addr, addr + size)``."""
        if mode not in ("r", "w", "rw") or not 0 < size <= 64:
            raise CommandError(f"bad watchpoint -{mode} of {size} bytes")
        desc = f"{label} [{addr:#x}, {addr + size:#x}) -{mode}"
        return self.breakpoints.add(spec=label, addrs=(addr,), desc=desc, watch=mode,
                                    size=size)

    def resolve(self, spec: str, frame=None) -> tuple:
        """Code addresses of a location spec (see :mod:`goasm.debug.locations`)."""
        pc = frame.pc if frame is not None else self.machine.cpu.pc
        return self.locations.resolve(spec, pc=pc,
                                      evaluate=lambda t: self.evaluate_number(t, frame))

    def _condition(self, bp, report: bool) -> bool:
        try:
            return bool(self.evaluate_number(bp.cond))
        except CommandError as err:
            if report:
                self.notice(f"error evaluating breakpoint {bp.id} condition: {err}")
            return not report

    def _bp_hit(self, mm, bps):
        """The first breakpoint in ``bps`` that stops here (tracepoints are reported)."""
        for bp in bps:
            if not self.breakpoints.triggers(bp, mm, lambda b: self._condition(b, True)):
                continue
            if bp.tracepoint:
                bp.hits += 1
                self.notice(f"> tracepoint {bp.id}: {self.locations.where(mm.cpu.pc)} "
                            f"[step {mm.steps}]")
                continue
            return bp
        return None

    def bp_pred(self, mm) -> bool:
        """True when a stopping breakpoint triggers in the current state (for rev)."""
        for bp in self.breakpoints.by_addr.get(mm.cpu.pc, ()):
            if not bp.tracepoint and self.breakpoints.triggers(
                    bp, mm, lambda b: self._condition(b, False)):
                return True
        return False

    # ------------------------------------------------------------------ watch hooks

    def _watch_hooks(self, on_hit) -> list:
        """Install a memory hook per enabled watchpoint; ``on_hit(WatchHit)``'s return
        value stops the run after the accessing instruction (None: go on)."""
        hooks = []
        for bp in self.breakpoints.watchpoints():
            start, size = bp.addrs[0], bp.size

            def fn(machine, access, bp=bp, start=start, size=size):
                old = self.peek(start, size)
                new = bytearray(old)
                if access.kind == "write":
                    for i, b in enumerate(access.data):
                        j = access.addr + i - start
                        if 0 <= j < size:
                            new[j] = b
                return on_hit(WatchHit(bp, access.kind, access.addr, access.size,
                                       int.from_bytes(old, "little"),
                                       int.from_bytes(new, "little")))
            hooks.append(self.machine.add_hook(_ACCESS_HOOK[bp.watch], fn, start=start,
                                               end=start + size))
        return hooks

    def _remove_hooks(self, hooks) -> None:
        for h in hooks:
            self.machine.remove_hook(h)

    # ------------------------------------------------------------------ running

    def require_live(self) -> None:
        if self.dead == "exited":
            raise CommandError(f"Process {self.pid} has exited with status "
                               f"{self.machine.exit_status} (use rev or restart)")
        if self.dead:
            raise CommandError(f"the process stopped: {self.dead} (use rev or restart)")

    def pause(self) -> None:
        """Ask a running :meth:`resume` (in another thread) to stop soon."""
        self._pause.set()

    def resume(self, *, pred=None, limit=None, use_bps=True) -> Stop:
        """Run forward until a breakpoint or watchpoint, ``pred(machine)``, ``limit``
        instructions, the program's end, a fault or a pause (see the module docstring)."""
        self.require_live()
        m = self.machine
        start = m.steps
        hit = []
        bp_index = self.breakpoints.by_addr if use_bps else {}

        def check(mm):
            bps = bp_index.get(mm.cpu.pc)
            if bps:
                bp = self._bp_hit(mm, bps)
                if bp is not None:
                    hit.append(bp)
                    return True
            return pred is not None and bool(pred(mm))

        until = check if (bp_index or pred is not None) else None
        hooks = self._watch_hooks(lambda h: h) if use_bps else []
        kind, watch, first = None, None, True
        self._pause.clear()
        try:
            while kind is None:
                if not first and until is not None and check(m):
                    kind = "break"
                    break
                done = m.steps - start
                if limit is not None and done >= limit:
                    kind = "limit"
                    break
                if self._pause.is_set():
                    kind = "interrupt"
                    break
                budget = self.history.next_boundary(m.steps) - m.steps
                if limit is not None:
                    budget = min(budget, limit - done)
                r = self._observed_run(until, budget) if self.observer else \
                    m.run(until=until, max_steps=budget)
                first = False
                if r.kind == "exit":
                    kind = "exit"
                elif r.kind == "hook":
                    kind, watch = "watch", r.value
                elif r.kind == "until":
                    kind = "break"
                elif m.steps % self.history.interval == 0:
                    self.history.take()
        except MachineFault as fault:
            kind = "fault"
            self.fault = fault
            self.dead = f"{fault.signal} at {self.image.describe(m.cpu.pc)}"
        except (UnimplementedError, LimitError) as err:
            kind = "error"
            self.fault = err
            self.dead = str(err)
        except KeyboardInterrupt:
            kind = "interrupt"
            self._remove_hooks(hooks)
            hooks = []
            self.goto(max(m.steps - 1, 0))
        finally:
            self._remove_hooks(hooks)
        if kind == "exit":
            self.dead = "exited"
        if kind not in ("fault", "error"):
            self.history.take()
        bp = hit[0] if hit else (watch.bp if watch is not None else None)
        if bp is not None:
            bp.hits += 1
        return Stop(kind, m.cpu.pc, m.steps, bp, watch, m.exit_status, self.fault)

    def _observed_run(self, until, budget):
        """Run instruction by instruction through ``observer(machine, step)``, which
        calls ``step()`` (one instruction, hooks included) and returns its result."""
        from goasm.machine.machine import StopReason

        m = self.machine
        for i in range(budget):
            if i and until is not None and until(m):
                return StopReason("until", m.cpu.pc)
            if i and self._pause.is_set():
                break
            r = self.observer(m, lambda: m.run(max_steps=1))
            if r.kind in ("exit", "hook"):
                return r
        return StopReason("max_steps", m.cpu.pc)

    def goto(self, step: int) -> None:
        """Put the process in the state it had after ``step`` instructions (restore a
        snapshot, then execute forward; program output is not repeated)."""
        m = self.machine
        at = self.history.restore(step)
        if at < step:
            r = m.run(max_steps=step - at)
            if m.steps != step:
                raise CommandError(f"replay stopped at step {m.steps} ({r.kind}), "
                                   f"not {step}")
        self.dead = "exited" if m.exit_status is not None else None
        self.fault = None
        self.events_seen = len(self.model.events)

    def search_back(self, pred, before: int, *, watches: bool = False):
        """The latest state t < ``before`` where ``pred`` holds or (``watches``) the
        instruction that led to it accessed a watched range: (t, WatchHit or None), or
        None when there is none."""
        m = self.machine
        upper = before - 1
        for s in reversed([s for s in self.history.order if s <= upper]):
            self.history.restore(s)
            accesses: list = []
            hooks = self._watch_hooks(lambda h: accesses.append((m.steps, h))) \
                if watches else []
            found = s if pred is not None and pred(m) else None
            try:
                while m.steps < upper:
                    r = m.run(until=pred, max_steps=upper - m.steps)
                    if r.kind == "until":
                        found = m.steps
                        continue
                    if r.kind == "max_steps" and m.steps == upper and pred is not None \
                            and pred(m):
                        found = upper
                    break
            finally:
                self._remove_hooks(hooks)
            best = max((a for a in accesses if a[0] <= upper), default=None,
                       key=lambda a: a[0])
            if best is not None and (found is None or best[0] >= found):
                return best
            if found is not None:
                return found, None
            upper = s       # the access that led to state s is replayed from before it
        return None

    def reverse(self, pred, *, watches: bool = False) -> Stop:
        """Go back to the latest earlier state :meth:`search_back` finds (``pred``
        None and no ``watches``: one instruction)."""
        m = self.machine
        here = m.steps
        if here == 0:
            raise CommandError("already at the start of the program (step 0)")
        if pred is None and not watches:
            found = (here - 1, None)
        else:
            found = self.search_back(pred, here, watches=watches)
        if found is None:
            self.goto(0)
            return Stop("start", m.cpu.pc, 0)
        self.goto(found[0])
        watch = found[1]
        if watch is None and pred == self.bp_pred:
            bp = next((b for b in self.breakpoints.by_addr.get(m.cpu.pc, ())
                       if not b.tracepoint), None)
        else:
            bp = watch.bp if watch is not None else None
        return Stop("rev", m.cpu.pc, m.steps, bp, watch)

"""The machine: an image's instructions compiled to closures, a CPU, a memory, and the
loops that run them.

Run loop (DESIGN.md, "Performance design"): every instruction of ``image.code`` is
compiled once, at construction, into a closure returning the next pc
(:mod:`goasm.machine.semantics`); natives are closures too, so the fast loop is only
``pc = code[pc]()`` in chunks of a ``range`` — no hook checks, no step counter per
instruction, no parsing. ``cpu.pc`` is written back before natives, syscalls and when
the loop ends or faults. Before-instruction hooks (:meth:`Machine.add_hook`) and a
callable ``until`` switch :meth:`Machine.run` to a separate, slower loop.

Stopping (:class:`StopReason`): ``run`` returns when the program exits (``"exit"``, via
:class:`ProgramExit`), when pc reaches ``until`` (``"until"``), when this call's
``max_steps`` budget is used up (``"max_steps"``), or when a hook returns a value other
than None (``"hook"``). Faults raise :class:`goasm.errors.MachineFault` with ``pc`` and
``pos`` filled in; the machine-wide ``max_steps`` given to the constructor is a hard limit
and raises :class:`goasm.errors.LimitError`. ``steps`` counts instructions (and native
calls) started.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping

import attrs

from goasm.errors import LimitError, MachineFault
from goasm.machine.memory import Memory
from goasm.machine.semantics import Compiler
from goasm.machine.state import BYTE_INDEX, CPU, GPR_INDEX, HIGH_REG, M64, CPUModel

CHUNK = 1 << 14
"""Instructions per inner-loop chunk of the fast loop (steps are added per chunk)."""


class ProgramExit(Exception):
    """The emulated program exited (``exit``/``exit_group``); ``status`` is its code."""

    def __init__(self, status: int) -> None:
        super().__init__(f"exit status {status}")
        self.status = status


@attrs.frozen
class StopReason:
    """Why :meth:`Machine.run` (or :meth:`Machine.step`) returned.

    ``kind``: ``"exit"`` (``status`` set), ``"until"``, ``"max_steps"``, ``"hook"``
    (``value`` is what the hook returned) or ``"step"`` (a single step completed).
    ``pc`` is where execution would continue.
    """

    kind: str
    pc: int
    status: int | None = None
    value: object = None


@attrs.frozen
class Snapshot:
    """A copy of the CPU, memory and counters (:meth:`Machine.snapshot`)."""

    cpu: tuple
    memory: dict
    steps: int
    exit_status: int | None


class _Until(Exception):
    """Raised by the sentinel closure placed at ``run(until=addr)``."""


class NativeTable(MutableMapping):
    """``machine.natives``: address -> Python callable taking the machine.

    Setting an entry installs a closure in the machine's code table (so natives cost
    the same dispatch as instructions); deleting it restores the compiled instruction,
    if any, at that address.
    """

    def __init__(self, machine: "Machine") -> None:
        self._machine = machine
        self._fns: dict[int, object] = {}

    def __getitem__(self, addr: int):
        return self._fns[addr]

    def __setitem__(self, addr: int, fn) -> None:
        self._fns[addr] = fn
        self._machine._code[addr] = _native_closure(self._machine, addr, fn)

    def __delitem__(self, addr: int) -> None:
        del self._fns[addr]
        self._machine._code.pop(addr, None)
        compiled = self._machine._compiled.get(addr)
        if compiled is not None:
            self._machine._code[addr] = compiled

    def __iter__(self):
        return iter(self._fns)

    def __len__(self) -> int:
        return len(self._fns)


def _native_closure(machine: "Machine", addr: int, fn):
    cpu = machine.cpu

    def _native():
        cpu.pc = addr
        fn(machine)
        return cpu.pc
    return _native


def _no_syscall(machine: "Machine") -> None:
    from goasm.errors import UnimplementedError

    n = machine.cpu.regs[0]
    raise UnimplementedError(f"syscall {n}", machine.pos_of(machine.cpu.pc))


_SIGNALS_WITH_PC_ADDR = frozenset({"SIGFPE", "SIGILL"})


class Machine:
    """Executes an :class:`goasm.image.Image` (see the module docstring and
    ``goasm.machine``'s contract)."""

    def __init__(self, image, *, cpu_model: CPUModel | None = None, stdout=None,
                 stderr=None, stdin=None, max_steps: int | None = None,
                 memory_limit: int = 1 << 32) -> None:
        self.image = image
        self.cpu = CPU()
        self.mem = Memory(memory_limit)
        self.cpu_model = cpu_model if cpu_model is not None else CPUModel()
        self.stdout = stdout if stdout is not None else getattr(sys.stdout, "buffer", sys.stdout)
        self.stderr = stderr if stderr is not None else getattr(sys.stderr, "buffer", sys.stderr)
        self.stdin = stdin if stdin is not None else getattr(sys.stdin, "buffer", sys.stdin)
        self.max_steps = max_steps
        self.steps = 0
        self.exit_status: int | None = None
        self.syscall = _no_syscall
        self._hooks: list = []
        self._map_segments()
        self.compiler = Compiler(self)
        self._compiled: dict[int, object] = {}
        for addr, ins in image.code.items():
            self._compiled[addr] = self.compiler.compile(ins)
        self._code: dict[int, object] = dict(self._compiled)
        self.natives = NativeTable(self)
        if image.entry is not None:
            sym = image.lookup(image.entry)
            if sym is not None:
                self.cpu.pc = sym.addr

    def _map_segments(self) -> None:
        # Read-only segments first: a page shared with a writable segment stays writable.
        for seg in sorted(self.image.segments, key=lambda s: s.writable):
            self.mem.map(seg.addr, max(len(seg.data), 1), writable=seg.writable,
                         name=seg.name)
        for seg in self.image.segments:
            self.mem.load(seg.addr, bytes(seg.data))

    # ---------------------------------------------------------------- registers

    def reg(self, name: str) -> int:
        """A register by Plan 9 name: AX..R15 (64-bit), AL..R15B, AH..BH, X0..X15
        (128-bit), ``g`` (R14), PC, RFLAGS, FS_BASE, GS_BASE."""
        regs = self.cpu.regs
        if name == "g":
            name = "R14"
        if name in GPR_INDEX:
            return regs[GPR_INDEX[name]]
        if name in BYTE_INDEX:
            return regs[BYTE_INDEX[name]] & 0xFF
        if name in HIGH_REG:
            return (regs[HIGH_REG[name]] >> 8) & 0xFF
        if name[:1] == "X" and name[1:].isdigit() and int(name[1:]) < 16:
            return self.cpu.xmm[int(name[1:])]
        if name in ("PC", "IP", "RIP"):
            return self.cpu.pc
        if name in ("RFLAGS", "FLAGS"):
            return self.cpu.get_rflags()
        if name == "FS_BASE":
            return self.cpu.fs_base
        if name == "GS_BASE":
            return self.cpu.gs_base
        raise KeyError(f"unknown register {name}")

    def set_reg(self, name: str, value: int) -> None:
        """Set a register by name (see :meth:`reg`); byte registers keep the other bits."""
        regs = self.cpu.regs
        if name == "g":
            name = "R14"
        if name in GPR_INDEX:
            regs[GPR_INDEX[name]] = value & M64
        elif name in BYTE_INDEX:
            i = BYTE_INDEX[name]
            regs[i] = (regs[i] & ~0xFF & M64) | (value & 0xFF)
        elif name in HIGH_REG:
            i = HIGH_REG[name]
            regs[i] = (regs[i] & ~0xFF00 & M64) | ((value & 0xFF) << 8)
        elif name[:1] == "X" and name[1:].isdigit() and int(name[1:]) < 16:
            self.cpu.xmm[int(name[1:])] = value & ((1 << 128) - 1)
        elif name in ("PC", "IP", "RIP"):
            self.cpu.pc = value
        elif name in ("RFLAGS", "FLAGS"):
            self.cpu.set_rflags(value)
        elif name == "FS_BASE":
            self.cpu.fs_base = value & M64
        elif name == "GS_BASE":
            self.cpu.gs_base = value & M64
        else:
            raise KeyError(f"unknown register {name}")

    # ---------------------------------------------------------------- stack & control

    def push(self, value: int) -> None:
        """Push a 64-bit value (RSP -= 8)."""
        sp = (self.cpu.regs[4] - 8) & M64
        self.mem.write_u64(sp, value)
        self.cpu.regs[4] = sp

    def pop(self) -> int:
        """Pop a 64-bit value (RSP += 8)."""
        sp = self.cpu.regs[4]
        value = self.mem.read_u64(sp)
        self.cpu.regs[4] = (sp + 8) & M64
        return value

    def ret(self) -> None:
        """Return from the current function: pc = pop() (what a native ends with)."""
        self.cpu.pc = self.pop()

    def call(self, addr: int, return_addr: int) -> None:
        """Push ``return_addr`` and continue at ``addr``."""
        self.push(return_addr)
        self.cpu.pc = addr

    def jump(self, addr: int) -> None:
        """Continue at ``addr``."""
        self.cpu.pc = addr

    def exit(self, status: int) -> None:
        """End the program (raises :class:`ProgramExit`, which ``run`` turns into a
        ``StopReason("exit")``)."""
        raise ProgramExit(status)

    # ---------------------------------------------------------------- introspection

    def pos_of(self, pc: int):
        """Source position of the instruction at ``pc`` (or None)."""
        ins = self.image.code.get(pc)
        return ins.pos if ins is not None else None

    def where(self, pc: int | None = None) -> str:
        """``symbol+off (file:line)`` for ``pc`` (default: the current pc)."""
        pc = self.cpu.pc if pc is None else pc
        pos = self.pos_of(pc)
        text = self.image.describe(pc)
        return f"{text} ({pos})" if pos is not None else text

    def compiled(self, addr: int):
        """The closure executed at ``addr`` (instruction or native), or None."""
        return self._code.get(addr)

    # ---------------------------------------------------------------- hooks

    def add_hook(self, kind: str, fn):
        """Call ``fn(machine)`` before every instruction (``kind="instruction"``) while
        running, with ``cpu.pc`` current; a return value other than None stops ``run``
        with ``StopReason("hook", value=...)``. Hooks may change ``cpu.pc``. Returns a
        handle for :meth:`remove_hook`. Any hook makes ``run`` use the slow loop."""
        if kind != "instruction":
            raise ValueError(f"unknown hook kind {kind!r}")
        handle = (kind, fn)
        self._hooks.append(handle)
        return handle

    def remove_hook(self, handle) -> None:
        """Remove a hook added by :meth:`add_hook`."""
        self._hooks.remove(handle)

    # ---------------------------------------------------------------- faults

    def _fault_at(self, pc: int) -> MachineFault:
        return MachineFault(f"unexpected fault address {pc:#x}: no instruction at pc",
                            signal="SIGSEGV", addr=pc, pc=pc, code="SEGV_MAPERR",
                            pos=None)

    def _complete(self, exc: BaseException, pc: int) -> None:
        self.cpu.pc = pc
        if isinstance(exc, MachineFault):
            if exc.pc is None:
                exc.pc = pc
            if exc.pos is None:
                exc.pos = self.pos_of(exc.pc)
            if exc.addr is None and exc.signal in _SIGNALS_WITH_PC_ADDR:
                exc.addr = exc.pc

    def _limit(self, pc: int) -> LimitError:
        pos = self.pos_of(pc)
        where = self.image.describe(pc) + (f" ({pos})" if pos is not None else "")
        return LimitError(f"step limit {self.max_steps} reached at {where}", pos)

    # ---------------------------------------------------------------- running

    def step(self) -> StopReason:
        """Execute one instruction at ``cpu.pc`` (hooks are not called)."""
        if self.max_steps is not None and self.steps >= self.max_steps:
            raise self._limit(self.cpu.pc)
        pc = self.cpu.pc
        fn = self._code.get(pc)
        if fn is None:
            fault = self._fault_at(pc)
            self._complete(fault, pc)
            raise fault
        self.steps += 1
        try:
            pc = fn()
        except ProgramExit as exc:
            self.cpu.pc = pc
            self.exit_status = exc.status
            return StopReason("exit", pc, status=exc.status)
        except BaseException as exc:
            self._complete(exc, pc)
            raise
        self.cpu.pc = pc
        return StopReason("step", pc)

    def run(self, *, until=None, max_steps: int | None = None) -> StopReason:
        """Run from ``cpu.pc`` (see the module docstring for how it stops).

        ``until`` is an address (stop *before* executing the instruction there) or a
        callable ``until(machine) -> bool`` checked before each instruction; the
        instruction at the starting pc always executes. ``max_steps`` bounds this call.
        """
        if self._hooks or (until is not None and callable(until)):
            return self._run_slow(until, max_steps)
        return self._run_fast(until, max_steps)

    def _budget(self, max_steps: int | None):
        """(instructions allowed in this call or None, True when the machine-wide
        limit is the binding one)."""
        hard = None if self.max_steps is None else max(self.max_steps - self.steps, 0)
        if max_steps is None:
            return hard, hard is not None
        if hard is None or max_steps < hard:
            return max_steps, False
        return hard, True

    def _run_fast(self, until, max_steps) -> StopReason:
        code = self._code
        cpu = self.cpu
        pc = cpu.pc
        remaining, hard = self._budget(max_steps)
        saved = None
        if until is not None:
            saved = code.get(until, _MISSING)

            def _sentinel():
                raise _Until
            if pc == until and remaining != 0:   # the first instruction always runs
                r = self.step()
                if r.kind == "exit":
                    return r
                pc = cpu.pc
                if remaining is not None:
                    remaining -= 1
            code[until] = _sentinel
        i = -1
        n = 0
        try:
            while remaining is None or remaining > 0:
                n = CHUNK if remaining is None or remaining > CHUNK else remaining
                i = -1
                for i in range(n):
                    pc = code[pc]()
                self.steps += n
                if remaining is not None:
                    remaining -= n
                i = -1
                n = 0
        except _Until:
            self.steps += i
            cpu.pc = pc
            return StopReason("until", pc)
        except ProgramExit as exc:
            self.steps += i + 1
            cpu.pc = pc
            self.exit_status = exc.status
            return StopReason("exit", pc, status=exc.status)
        except KeyError as exc:
            if pc in code:
                self.steps += i + 1
                self._complete(exc, pc)
                raise
            self.steps += i
            fault = self._fault_at(pc)
            self._complete(fault, pc)
            raise fault from None
        except BaseException as exc:
            self.steps += i + 1
            self._complete(exc, pc)
            raise
        finally:
            if saved is not None:
                if saved is _MISSING:
                    code.pop(until, None)
                else:
                    code[until] = saved
        cpu.pc = pc
        if hard:
            raise self._limit(pc)
        return StopReason("max_steps", pc)

    def _run_slow(self, until, max_steps) -> StopReason:
        cpu = self.cpu
        code = self._code
        remaining, hard = self._budget(max_steps)
        hooks = self._hooks
        first = True
        while True:
            pc = cpu.pc
            if remaining is not None and remaining <= 0:
                if hard:
                    raise self._limit(pc)
                return StopReason("max_steps", pc)
            if not first and until is not None:
                if (until(self) if callable(until) else pc == until):
                    return StopReason("until", pc)
            first = False
            for _, fn in tuple(hooks):
                value = fn(self)
                if value is not None:
                    return StopReason("hook", cpu.pc, value=value)
            pc = cpu.pc
            fn = code.get(pc)
            if fn is None:
                fault = self._fault_at(pc)
                self._complete(fault, pc)
                raise fault
            self.steps += 1
            if remaining is not None:
                remaining -= 1
            try:
                cpu.pc = fn()
            except ProgramExit as exc:
                cpu.pc = pc
                self.exit_status = exc.status
                return StopReason("exit", pc, status=exc.status)
            except BaseException as exc:
                self._complete(exc, pc)
                raise

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> Snapshot:
        """Copy CPU state, memory and counters (a plain copy; copy-on-write later)."""
        return Snapshot(self.cpu.save(), self.mem.save(), self.steps, self.exit_status)

    def restore(self, snap: Snapshot) -> None:
        """Return to a :meth:`snapshot` (in place: compiled code stays valid)."""
        self.cpu.load(snap.cpu)
        self.mem.load_saved(snap.memory)
        self.steps = snap.steps
        self.exit_status = snap.exit_status


_MISSING = object()

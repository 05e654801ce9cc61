"""The machine: an image's instructions compiled to closures, a CPU, a memory, and the
loops that run them.

Run loop (DESIGN.md, "Performance design"): every instruction of ``image.code`` is
compiled once, at construction, into a closure returning the next pc
(:mod:`goasm.machine.semantics`); natives are closures too. The fast loop
(:meth:`Machine._run_translated`) dispatches ``pc = table[pc]()`` where hot code has
been translated into one Python function per region, registers and flags in locals
(:mod:`goasm.machine.translate`, built from the same handler output as the closures);
``GOASM_ENGINE=closure`` runs the closures instead (:meth:`Machine._run_closures`).
``cpu.pc`` is written back before natives, syscalls and when the loop ends or faults.
Hooks (:meth:`Machine.add_hook`: before or after every instruction, at given addresses,
on system calls, on memory accesses) and a callable ``until`` switch :meth:`Machine.run`
to a separate, slower loop -- except when only ``instruction`` hooks are installed,
which translated regions call inline; memory hooks added with ``precise=False`` keep the
fast loop (the memory watches them at page granularity).

Stopping (:class:`StopReason`): ``run`` returns when the program exits (``"exit"``, via
:class:`ProgramExit`), when pc reaches ``until`` (``"until"``), when this call's
``max_steps`` budget is used up (``"max_steps"``), or when a hook returns a value other
than None (``"hook"``). Faults raise :class:`goasm.errors.MachineFault` with ``pc`` and
``pos`` filled in; the machine-wide ``max_steps`` given to the constructor is a hard limit
and raises :class:`goasm.errors.LimitError`. ``steps`` counts instructions (and native
calls) started.
"""

from __future__ import annotations

import contextlib
import re
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
    """The CPU, memory and counters at one moment (:meth:`Machine.snapshot`); memory
    pages are shared copy-on-write with the machine (:meth:`Memory.save`)."""

    cpu: tuple
    memory: dict
    steps: int
    exit_status: int | None


class _Until(Exception):
    """Raised by the sentinel closure placed at ``run(until=addr)``."""


HOOK_KINDS = ("instruction", "after", "pc", "syscall", "read", "write", "access")
"""What :meth:`Machine.add_hook` accepts (see its docstring)."""


@attrs.frozen
class Access:
    """A memory access reported to a ``read``/``write``/``access`` hook: ``kind``
    (``"read"`` or ``"write"``), ``addr``, ``size``, ``data`` (the bytes read, or about to
    be written) and ``pc`` (the instruction or native making it: exact in the slow loop,
    ``cpu.pc`` as last written back for ``precise=False`` hooks in the fast loop)."""

    kind: str
    addr: int
    size: int
    data: bytes
    pc: int


@attrs.frozen
class SyscallCall:
    """A system call about to run, for ``syscall`` hooks: ``nr`` (AX) and ``args`` (DI,
    SI, DX, R10, R8, R9: the Linux convention, syscall(2)) at the SYSCALL at ``pc``."""

    nr: int
    args: tuple
    pc: int


@attrs.define(eq=False)
class Hook:
    """A handle returned by :meth:`Machine.add_hook` (pass it to ``remove_hook``)."""

    kind: str
    fn: object
    at: frozenset = frozenset()
    watch: object = None
    precise: bool = True


@attrs.frozen
class _HookTable:
    """The hooks as the slow loop uses them (rebuilt when hooks change)."""

    before: tuple = ()
    after: tuple = ()
    at: dict = attrs.field(factory=dict)
    syscall: tuple = ()
    slow: bool = False


_NO_STOP = object()

_MACHINE_NAME = re.compile(r"\bm\b")
"""The machine's name inside generated instruction bodies (goasm.machine.semantics)."""

_HOOK_TABLES_KEPT = 16
"""Distinct hook tables a machine keeps interned (see :meth:`Machine._rebuild_hooks`)."""


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
        self._machine._code_changed(addr)

    def __delitem__(self, addr: int) -> None:
        del self._fns[addr]
        self._machine._code.pop(addr, None)
        compiled = self._machine._compiled.get(addr)
        if compiled is not None:
            self._machine._code[addr] = compiled
        self._machine._code_changed(addr)

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


def _vector_register(name: str):
    """``(index, width in bytes)`` for X0..X31, Y0..Y31, Z0..Z31, else None."""
    width = {"X": 16, "Y": 32, "Z": 64}.get(name[:1])
    if width is None or not name[1:].isdigit() or int(name[1:]) >= 32 or name[1:2] == "0" \
            and len(name) > 2:
        return None
    return int(name[1:]), width


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
        self._hooks: list = []          # every Hook that needs the slow loop
        self._all_hooks: list = []
        self._table = _HookTable()
        self._hook_tables: dict = {}
        self.probe = None
        self._syscall_sites: frozenset | None = None
        self._stop_value = _NO_STOP
        self.last_pc: int | None = None
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
        # The segment's bytes back the mapping: pages are made when first touched.
        for seg in sorted(self.image.segments, key=lambda s: s.writable):
            self.mem.map(seg.addr, max(len(seg.data), 1), writable=seg.writable,
                         name=seg.name, backing=seg.data)

    # ---------------------------------------------------------------- registers

    def reg(self, name: str) -> int:
        """A register by Plan 9 name: AX..R15 (64-bit), AL..R15B, AH..BH, X0..X31
        (128-bit), Y0..Y31 (256-bit), Z0..Z31 (512-bit), K0..K7, MXCSR, ``g`` (R14), PC,
        RFLAGS, FS_BASE, GS_BASE."""
        regs = self.cpu.regs
        if name == "g":
            name = "R14"
        if name in GPR_INDEX:
            return regs[GPR_INDEX[name]]
        if name in BYTE_INDEX:
            return regs[BYTE_INDEX[name]] & 0xFF
        if name in HIGH_REG:
            return (regs[HIGH_REG[name]] >> 8) & 0xFF
        vec = _vector_register(name)
        if vec is not None:
            i, nbytes = vec
            return self.cpu.get_vec(i) & ((1 << (8 * nbytes)) - 1)
        if name[:1] == "K" and name[1:] in ("0", "1", "2", "3", "4", "5", "6", "7"):
            return self.cpu.kreg[int(name[1:])]
        if name == "MXCSR":
            return self.cpu.mxcsr
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
        elif _vector_register(name) is not None:
            # Like a load into the register: bits above its width are kept for X (as a
            # legacy SSE write), zeroed for Y and Z (as a VEX/EVEX write).
            i, nbytes = _vector_register(name)
            value &= (1 << (8 * nbytes)) - 1
            if nbytes == 16:
                self.cpu.xmm[i] = value
            else:
                self.cpu.set_vec(i, value)
        elif name[:1] == "K" and name[1:] in ("0", "1", "2", "3", "4", "5", "6", "7"):
            self.cpu.kreg[int(name[1:])] = value & M64
        elif name == "MXCSR":
            self.cpu.mxcsr = value & 0xFFFFFFFF
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

    def add_hook(self, kind: str, fn, *, at=None, start: int | None = None,
                 end: int | None = None, precise: bool = True) -> Hook:
        """Install a hook; returns a :class:`Hook` handle for :meth:`remove_hook`.

        ``kind``:

        - ``"instruction"``: ``fn(machine)`` before every instruction, ``cpu.pc`` current;
        - ``"after"``: ``fn(machine)`` after every instruction, ``cpu.pc`` = where execution
          continues, ``machine.last_pc`` = the instruction that ran;
        - ``"pc"``: ``fn(machine)`` before the instruction at ``at`` (an address, several,
          or a location string: ``symbol``, ``symbol:label``, ``file.s:line``, see
          :func:`goasm.hooks.resolve`);
        - ``"syscall"``: ``fn(machine, call)`` before each SYSCALL instruction
          (:class:`SyscallCall`); returning an int *replaces* the call: the kernel is not
          entered, AX gets that value (RCX/R11 are set as the instruction does);
        - ``"read"``, ``"write"``, ``"access"`` (both): ``fn(machine, access)`` for every
          access overlapping ``[start, end)`` (:class:`Access`), by instructions, natives
          and the kernel alike. Reads are reported after they happen, writes before
          (raising cancels the write).

        A value other than None returned by an ``instruction``/``pc`` hook stops ``run``
        before that instruction, by an ``after`` or memory hook after the current one:
        ``StopReason("hook", value=...)``. Exceptions raised by a hook propagate to the
        caller of ``run`` (a fault's ``cpu.pc`` is the instruction that was running).

        Every hook makes ``run`` use the slow loop, except memory hooks added with
        ``precise=False``: those are served by page-granular watches in
        :class:`Memory` under any loop (their return value is ignored and ``access.pc``
        is only as current as the loop keeps ``cpu.pc``). :meth:`step` ignores hooks.
        """
        if kind not in HOOK_KINDS:
            raise ValueError(f"unknown hook kind {kind!r} (one of {', '.join(HOOK_KINDS)})")
        hook = Hook(kind, fn, precise=precise)
        if kind == "pc":
            if at is None:
                raise ValueError("a pc hook needs at=address or location")
            hook.at = frozenset(self._resolve_at(at))
        elif kind in ("read", "write", "access"):
            if start is None or end is None:
                raise ValueError(f"a {kind} hook needs start= and end=")
            hook.watch = self.mem.watch(start, end, self._access_dispatch(hook),
                                        read=kind != "write", write=kind != "read")
        if kind == "syscall" and self._syscall_sites is None:
            self._syscall_sites = frozenset(
                addr for addr, ins in self.image.code.items() if ins.op == "SYSCALL")
        self._all_hooks.append(hook)
        if precise or kind not in ("read", "write", "access"):
            self._hooks.append(hook)
        self._rebuild_hooks()
        return hook

    @contextlib.contextmanager
    def hooks_suspended(self):
        """A context in which no hook runs (memory watchers are muted too): for work
        the machine does on its own behalf, such as bootstrapping a process."""
        saved, muted = self._hooks, self.mem.muted
        self._hooks = []
        self._rebuild_hooks()
        self.mem.muted = True
        try:
            yield
        finally:
            self._hooks = saved
            self._rebuild_hooks()
            self.mem.muted = muted

    def remove_hook(self, handle: Hook) -> None:
        """Remove a hook added by :meth:`add_hook`."""
        self._all_hooks.remove(handle)
        if handle in self._hooks:
            self._hooks.remove(handle)
        if handle.watch is not None:
            self.mem.unwatch(handle.watch)
        self._rebuild_hooks()

    def _resolve_at(self, at) -> list[int]:
        if isinstance(at, int):
            return [at]
        if isinstance(at, str):
            from goasm.hooks import resolve

            return resolve(self.image, at)
        out: list[int] = []
        for a in at:
            out.extend(self._resolve_at(a))
        return out

    def _access_dispatch(self, hook: Hook):
        def _on_access(kind, addr, size, data):
            pc = self.last_pc if hook.precise and self.last_pc is not None else self.cpu.pc
            value = hook.fn(self, Access(kind, addr, size, bytes(data), pc))
            if value is not None and hook.precise and self._stop_value is _NO_STOP:
                self._stop_value = value
        return _on_access

    def _rebuild_hooks(self) -> None:
        before, after, syscall = [], [], []
        at: dict[int, list] = {}
        for h in self._hooks:
            if h.kind == "instruction":
                before.append(h.fn)
            elif h.kind == "after":
                after.append(h.fn)
            elif h.kind == "syscall":
                syscall.append(h.fn)
            elif h.kind == "pc":
                for a in h.at:
                    at.setdefault(a, []).append(h.fn)
        table = _HookTable(tuple(before), tuple(after),
                           {a: tuple(fns) for a, fns in at.items()}, tuple(syscall),
                           bool(self._hooks))
        # Interned: the same hooks give the same table object, so translations made for
        # it (keyed by its identity) are found again when hooks are removed and re-added
        # (a checker attaches and detaches around every call).
        try:
            key = (table.before, table.after, tuple(sorted(table.at.items())),
                   table.syscall, table.slow)
            hash(key)
        except TypeError:       # unhashable hook callables: no interning
            self._table = table
            return
        known = self._hook_tables.get(key)
        if known is None:
            known = self._hook_tables[key] = table
            while len(self._hook_tables) > _HOOK_TABLES_KEPT:
                del self._hook_tables[next(iter(self._hook_tables))]
        self._table = known

    def _syscall_hooks(self, fns, pc: int) -> bool:
        """Run ``syscall`` hooks before the SYSCALL at ``pc``; True when one replaced it
        (AX, RCX, R11 and ``cpu.pc`` are then set as after the instruction)."""
        regs = self.cpu.regs
        call = SyscallCall(regs[0], (regs[7], regs[6], regs[2], regs[10], regs[8], regs[9]), pc)
        for fn in fns:
            value = fn(self, call)
            if value is not None:
                nxt = self.image.code[pc].next_addr
                regs[0] = value & M64
                regs[1] = nxt
                regs[11] = self.cpu.get_rflags()
                self.cpu.pc = nxt
                return True
        return False

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
        if self.probe is not None:
            self.probe.observe(True)
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
        probe = self.probe
        if (until is not None and callable(until)) or \
                (self._hooks and not self._hooks_translatable()):
            if probe is not None:
                probe.observe(True)
            return self._run_slow(until, max_steps)
        if probe is not None:
            probe.observe(self._translator() is None)
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
        """The loop without hooks: translated regions (:mod:`goasm.machine.translate`)
        unless ``GOASM_ENGINE=closure`` selects the per-instruction closures."""
        tr = self._translator()
        if tr is None:
            return self._run_closures(until, max_steps)
        tr.check_memory()
        if self._hooks:
            if until is not None and self.cpu.pc == until:
                if self.probe is not None:
                    self.probe.observe(True)
                return self._run_slow(until, max_steps)
            table = tr.hooked_table(self._table, self.probe)
        else:
            table = tr.hooked_table(None, self.probe)
        return self._run_translated(tr, table, until, max_steps)

    def _hooks_translatable(self) -> bool:
        """Only ``instruction`` hooks, or only ``pc`` hooks, and a translating engine:
        translated regions call the former inline before every instruction, the latter
        at their addresses (:mod:`goasm.machine.translate`), instead of the slow loop."""
        t = self._table
        if t.after or t.syscall or (t.before and t.at) or not (t.before or t.at):
            return False
        if any(h.kind not in ("instruction", "pc") for h in self._hooks):
            return False
        return self._translator() is not None

    def warm(self, addr: int) -> None:
        """Translate the code at ``addr`` on its first dispatch instead of after
        ``GOASM_HOT`` of them (and the straight-line code after it, see
        :meth:`goasm.machine.translate.Translator.hot`): for a function that is called
        through :meth:`goasm.Machine.call`, whose second call should already run
        translated. Nothing happens with ``GOASM_ENGINE=closure``."""
        tr = self._translator()
        if tr is not None:
            tr.warm(addr)

    def set_probe(self, probe) -> None:
        """Install (or with None remove) the *access probe*: the runtime checker's way
        of seeing the stack accesses of the running code (:mod:`goasm.checker`).

        In the translating engine the probe's filter is generated into translated code
        and its cold closures (:mod:`goasm.machine.translate`, "Access probes"); every
        other loop, :meth:`step`, and the accesses of the kernel and of string
        instructions are served by the probe's own memory watches: ``run`` calls
        ``probe.observe(True)`` before those and ``probe.observe(False)`` before the
        translated loop."""
        self.probe = probe

    def _code_changed(self, addr: int) -> None:
        """The closure at ``addr`` changed (a native): drop translations using it."""
        tr = self.__dict__.get("_translator_obj")
        if tr is not None:
            tr.invalidate(addr)
        clocked = self.__dict__.get("_clocked_code")
        if clocked is not None:
            clocked.pop(addr, None)

    def reads_clock(self, pc: int) -> bool:
        """Does the code at ``pc`` read the virtual clock (``steps``: RDTSC, and the
        kernel behind SYSCALL), or reach the machine in other ways (a native, a
        handler-built closure)? Run loops that count steps per chunk bring ``steps`` up
        to date before such code, so the clock reads the same in every loop."""
        if pc in self.natives:
            return True
        fn = dict.get(self._compiled, pc)
        known = getattr(fn, "goasm_reaches_machine", None)
        if known is not None:           # compiled from a generated body (the usual case)
            return known
        ins = self.image.code.get(pc)
        if ins is None:
            return False
        from goasm.machine.ops.base import Emitter

        e = self.compiler.generate(ins)
        return not isinstance(e, Emitter) or any(_MACHINE_NAME.search(line) for line in e.lines)

    def _translator(self):
        """This machine's :class:`goasm.machine.translate.Translator` (made on first
        use, with the engine ``GOASM_ENGINE`` selects), or None for ``closure``."""
        tr = self.__dict__.get("_translator_obj", _MISSING)
        if tr is _MISSING:
            from goasm.machine.translate import Translator, engine_from_env

            engine, threshold = engine_from_env()
            tr = None if engine == "closure" else Translator(self, threshold=threshold)
            self._translator_obj = tr
        return tr

    def _run_translated(self, tr, table, until, max_steps) -> StopReason:
        """Run dispatching on ``table`` (``tr.table``, or a hooked table); every entry
        consumes ``tr.fuel[0]`` for the instructions it starts, so ``steps`` and the
        budgets stay exact (see :mod:`goasm.machine.translate`). A region that raises
        leaves the pc of the instruction that raised in ``fuel[1]``."""
        from goasm.machine.translate import CHUNK as GRANT, HookStop, Rehook

        cpu = self.cpu
        fuel = tr.fuel
        pc = cpu.pc
        remaining, hard = self._budget(max_steps)
        saved = _MISSING
        if until is not None:
            if pc == until and remaining != 0:   # the first instruction always runs
                r = self.step()
                if r.kind == "exit":
                    return r
                pc = cpu.pc
                if remaining is not None:
                    remaining -= 1
            tr.add_barrier(until)
            saved = dict.get(table, until, _MISSING)

            def _sentinel():
                raise _Until
            table[until] = _sentinel
        fuel[1] = None
        if table.probe is not None:
            table.probe.observe(False)      # the translated code reports accesses
        try:
            while remaining is None or remaining > 0:
                grant = GRANT if remaining is None or remaining > GRANT else remaining
                fuel[0] = grant
                fuel[2] = self.steps + grant
                try:
                    while fuel[0] > 0:
                        pc = table[pc]()
                finally:
                    used = grant - fuel[0]
                    self.steps = fuel[2] - fuel[0]
                    if remaining is not None:
                        remaining -= used
        except _Until:
            cpu.pc = pc
            return StopReason("until", pc)
        except HookStop as exc:
            return StopReason("hook", cpu.pc, value=exc.value)
        except Rehook:
            pc = cpu.pc = fuel[3]
            rehook = True
        except ProgramExit as exc:
            if fuel[1] is not None:
                pc = fuel[1]
            cpu.pc = pc
            self.exit_status = exc.status
            return StopReason("exit", pc, status=exc.status)
        except BaseException as exc:
            if fuel[1] is not None:
                pc = fuel[1]
            self._complete(exc, pc)
            raise
        else:
            rehook = False
        finally:
            fuel[1] = None
            if until is not None:
                if saved is _MISSING:
                    table.pop(until, None)
                else:
                    table[until] = saved
        if rehook:      # the hooks changed: continue under the new ones
            if until is not None and pc == until:
                return StopReason("until", pc)
            if remaining is not None and remaining <= 0:
                if hard:
                    raise self._limit(pc)
                return StopReason("max_steps", pc)
            return self.run(until=until, max_steps=None if hard else remaining)
        cpu.pc = pc
        if hard:
            raise self._limit(pc)
        return StopReason("max_steps", pc)

    def _run_closures(self, until, max_steps) -> StopReason:
        """The per-instruction closure loop (``GOASM_ENGINE=closure``). Steps are
        counted per chunk; an instruction that reads the clock (:meth:`reads_clock`)
        ends the chunk early (its entry in the loop's table raises ``_ClockSync``) and
        runs with ``steps`` exact."""
        code = self.__dict__.get("_clocked_code")
        if code is None:
            code = self._clocked_code = _ClockedCode(self)
        real = self._code
        cpu = self.cpu
        pc = cpu.pc
        remaining, hard = self._budget(max_steps)
        saved = None
        if until is not None:
            saved = dict.get(code, until, _MISSING)

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
                try:
                    for i in range(n):
                        pc = code[pc]()
                except _ClockSync:
                    # the instruction at pc reads the clock: count what ran, then it
                    self.steps += i + 1
                    if remaining is not None:
                        remaining -= i + 1
                    i = -1
                    n = 0
                    pc = real[pc]()
                    continue
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
            if dict.__contains__(code, pc):
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
        """The loop with hooks (see :meth:`add_hook`): per instruction, the ``until``
        check, ``instruction`` hooks, ``pc`` hooks, ``syscall`` hooks at SYSCALL sites,
        the instruction, a stop requested by a memory hook, ``after`` hooks."""
        cpu = self.cpu
        code = self._code
        remaining, hard = self._budget(max_steps)
        first = True
        self._stop_value = _NO_STOP
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
            table = self._table
            for fn in table.before:
                value = fn(self)
                if value is not None:
                    return StopReason("hook", cpu.pc, value=value)
            if table.at:
                fns = table.at.get(cpu.pc)
                if fns:
                    for fn in fns:
                        value = fn(self)
                        if value is not None:
                            return StopReason("hook", cpu.pc, value=value)
            pc = cpu.pc
            self.last_pc = pc
            self.steps += 1
            if remaining is not None:
                remaining -= 1
            if table.syscall and pc in self._syscall_sites and \
                    self._syscall_hooks(table.syscall, pc):
                pass
            else:
                fn = code.get(pc)
                if fn is None:
                    self.steps -= 1
                    fault = self._fault_at(pc)
                    self._complete(fault, pc)
                    raise fault
                try:
                    cpu.pc = fn()
                except ProgramExit as exc:
                    cpu.pc = pc
                    self.exit_status = exc.status
                    return StopReason("exit", pc, status=exc.status)
                except BaseException as exc:
                    self._complete(exc, pc)
                    raise
            if self._stop_value is not _NO_STOP:
                value, self._stop_value = self._stop_value, _NO_STOP
                return StopReason("hook", cpu.pc, value=value)
            for fn in table.after:
                value = fn(self)
                if value is not None:
                    return StopReason("hook", cpu.pc, value=value)

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> Snapshot:
        """The CPU state, memory and counters now. Cheap: memory pages are shared
        copy-on-write (:meth:`Memory.save`), so taking a snapshot copies no page and
        the machine copies a page only when it first writes to it afterwards."""
        return Snapshot(self.cpu.save(), self.mem.save(), self.steps, self.exit_status)

    def restore(self, snap: Snapshot) -> None:
        """Return to a :meth:`snapshot` (in place: compiled code stays valid; hooks and
        natives stay installed). Restoring the snapshot taken or restored last only
        revisits the pages written since, so restore-and-run loops stay cheap."""
        self.cpu.load(snap.cpu)
        self.mem.load_saved(snap.memory)
        self.steps = snap.steps
        self.exit_status = snap.exit_status


_MISSING = object()


class _ClockSync(Exception):
    """Raised by the closure loop's entry for an instruction that reads the clock."""


def _clock_sync():
    raise _ClockSync


class _ClockedCode(dict):
    """The closure loop's table: the machine's closures, except that an instruction
    reading the clock (:meth:`Machine.reads_clock`) has an entry raising
    :class:`_ClockSync`; built per pc on first dispatch."""

    __slots__ = ("machine",)

    def __init__(self, machine: "Machine") -> None:
        super().__init__()
        self.machine = machine

    def __missing__(self, pc):
        m = self.machine
        fn = m._code[pc]            # KeyError: no instruction there (the loop faults)
        if m.reads_clock(pc):
            fn = _clock_sync
        self[pc] = fn
        return fn

"""The Go half of goasm's runtime: Go-level runtime functions modelled in Python.

Go's start-up is half assembly (``runtime_s/*.s``, executed instruction by
instruction) and half Go (``check``, ``args``, ``osinit``, ``schedinit``, ``newproc``,
``mstart0``, ``schedule``, ``newstack``, ``goexit1``, ``runtime.main``). goasm models the
Go half here. Each function is a *native*: the loader gives it a text symbol, the
assembly CALLs it like any function (ABI0: arguments on the stack above the return
address), and the machine runs the Python callable bound at that address
(:meth:`RuntimeModel.bind`). Natives read and write the same emulated memory as the
assembly, through the struct layouts of :mod:`goasm.machine.layout`, so everything they
do can be inspected afterwards (g0, m0, each g and its stack).

What is modelled, per Go function (Go 1.27 sources):

- runtime1.go ``check``; ``args`` → ``sysargs`` (os_linux.go): argc/argv, auxv;
- os_linux.go ``osinit``; proc.go ``schedinit`` (one M, no Ps, no GC);
- proc.go ``newproc``/``newproc1``/``malg``/``gostartcallfn``: a g and its stack in a
  heap region at ``0xc000000000`` (Go's first arena hint), FIFO run queue;
- proc.go ``mstart0``/``mstart1``, ``schedule``, ``execute`` (through the real
  ``runtime·gogo`` of asm_amd64.s), ``goexit1``/``goexit0``;
- stack.go ``newstack``/``copystack``: double the stack, copy, move the frame-pointer
  chain, free the old stack; "stack overflow" beyond ``max_stack``;
- proc.go ``main``: calls ``main.main`` and exits 0 when it returns;
- print.go ``printint`` & co. for assembly that prints like Go's ``print``.

State (run queue, all gs, goid counter, heap cursor, event log) lives on the model
instance: one model per machine.
"""

from __future__ import annotations

import collections

import attrs

from goasm.machine.events import Event
from goasm.errors import GoasmError, LinkError
from goasm.machine import layout as _layout
from goasm.machine.syscalls import Linux, ProcessExit, SyscallEvent, TlsBaseSet

M64 = (1 << 64) - 1
PAGE = 4096
HEAP_BASE = 0xC0_0000_0000      # Go's first heap arena hint on linux/amd64 (malloc.go)
STACK_BASE = 0xC0_4000_0000     # goroutine stacks (Go takes them from the same arenas)
G0_STACK_SIZE = 64 * 1024       # the bit of OS stack rt0_go gives g0 (asm_amd64.s)
MAX_STACK = 1_000_000_000       # runtime.maxstacksize on 64-bit (proc.go main)

__all__ = [
    "RuntimeModel", "state_json", "G0Stack", "ArgsRead", "GoroutineCreated", "ContextSwitch",
    "StackGrowth", "GoroutineExit", "TlsBaseSet", "SyscallEvent", "ProcessExit",
]


# --------------------------------------------------------------------------- events

@attrs.frozen
class G0Stack(Event):
    """g0's stack as rt0_go set it up (recorded when ``runtime.check`` runs)."""

    kind = "g0_stack"
    step: int
    g0: int
    lo: int
    hi: int
    stackguard0: int
    stackguard1: int


    def __str__(self) -> str:
        return (f"g0 stack [{self.lo:#x}, {self.hi:#x}) ({(self.hi - self.lo) // 1024} KiB), "
                f"stackguard0={self.stackguard0:#x} stackguard1={self.stackguard1:#x}")


@attrs.frozen
class ArgsRead(Event):
    """``runtime.args``: argc, argv and what sysargs took from the auxiliary vector."""

    kind = "args"
    step: int
    argc: int
    argv: int
    pagesize: int
    random: int


    def __str__(self) -> str:
        return (f"args: argc={self.argc} argv={self.argv:#x}; auxv AT_PAGESZ={self.pagesize} "
                f"AT_RANDOM={self.random:#x}")


@attrs.frozen
class GoroutineCreated(Event):
    """``newproc``: goroutine ``goid`` (g at ``g``) will start at ``entry`` (``entry_name``)."""

    kind = "goroutine_created"
    step: int
    goid: int
    g: int
    stack_lo: int
    stack_hi: int
    entry: int
    entry_name: str


    def __str__(self) -> str:
        return (f"newproc: goroutine {self.goid} (g={self.g:#x}) runs {self.entry_name}, stack "
                f"[{self.stack_lo:#x}, {self.stack_hi:#x}) ({self.stack_hi - self.stack_lo} bytes)")


@attrs.frozen
class ContextSwitch(Event):
    """The current g changes (``execute``, ``goexit1``); goid -1 when there is no g."""

    kind = "context_switch"
    step: int
    from_g: int
    from_goid: int
    to_g: int
    to_goid: int
    reason: str


    def __str__(self) -> str:
        return (f"switch g {self.from_goid} ({self.from_g:#x}) -> g {self.to_goid} "
                f"({self.to_g:#x}): {self.reason}")


@attrs.frozen
class StackGrowth(Event):
    """``newstack``/``copystack``: goroutine ``goid``'s stack moved and doubled (or more)."""

    kind = "stack_growth"
    json_extra = ("old_size", "new_size")
    step: int
    goid: int
    g: int
    old_lo: int
    old_hi: int
    new_lo: int
    new_hi: int
    used: int

    @property
    def old_size(self) -> int:
        return self.old_hi - self.old_lo

    @property
    def new_size(self) -> int:
        return self.new_hi - self.new_lo


    def __str__(self) -> str:
        return (f"stack growth: goroutine {self.goid} {self.old_size} -> {self.new_size} bytes, "
                f"[{self.old_lo:#x}, {self.old_hi:#x}) -> [{self.new_lo:#x}, {self.new_hi:#x}), "
                f"{self.used} bytes in use copied")


@attrs.frozen
class GoroutineExit(Event):
    """``goexit1``: goroutine ``goid`` returned from its function."""

    kind = "goroutine_exit"
    step: int
    goid: int
    g: int


    def __str__(self) -> str:
        return f"goexit: goroutine {self.goid} (g={self.g:#x}) is done"


# --------------------------------------------------------------------------- memory helpers

class _Bump:
    """A bump allocator over an address range, mapping pages on demand (no reuse)."""

    def __init__(self, base: int, limit: int, name: str) -> None:
        self.base = base
        self.next = base
        self.limit = limit
        self.name = name

    def alloc(self, mem, size: int, align: int = 8, name: str | None = None) -> int:
        addr = (self.next + align - 1) & ~(align - 1)
        if addr + size > self.limit:
            raise GoasmError(f"goasm runtime: {self.name} region exhausted allocating {size} bytes")
        self.next = addr + size
        mem.map(addr, size, writable=True, name=name or self.name)
        return addr


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _signed64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


# --------------------------------------------------------------------------- bounds errors

BOUNDS_ERRORS = {
    # goPanic<name>: (format, format when x < 0 (None: no such form), x is signed)
    "Index": ("index out of range [%x] with length %y", "index out of range [%x]", True),
    "IndexU": ("index out of range [%x] with length %y", None, False),
    "SliceAlen": ("slice bounds out of range [:%x] with length %y",
                  "slice bounds out of range [:%x]", True),
    "SliceAlenU": ("slice bounds out of range [:%x] with length %y", None, False),
    "SliceAcap": ("slice bounds out of range [:%x] with capacity %y",
                  "slice bounds out of range [:%x]", True),
    "SliceAcapU": ("slice bounds out of range [:%x] with capacity %y", None, False),
    "SliceB": ("slice bounds out of range [%x:%y]", "slice bounds out of range [%x:]", True),
    "SliceBU": ("slice bounds out of range [%x:%y]", None, False),
    "Slice3Alen": ("slice bounds out of range [::%x] with length %y",
                   "slice bounds out of range [::%x]", True),
    "Slice3AlenU": ("slice bounds out of range [::%x] with length %y", None, False),
    "Slice3Acap": ("slice bounds out of range [::%x] with capacity %y",
                   "slice bounds out of range [::%x]", True),
    "Slice3AcapU": ("slice bounds out of range [::%x] with capacity %y", None, False),
    "Slice3B": ("slice bounds out of range [:%x:%y]", "slice bounds out of range [:%x:]", True),
    "Slice3BU": ("slice bounds out of range [:%x:%y]", None, False),
    "Slice3C": ("slice bounds out of range [%x:%y:]", "slice bounds out of range [%x::]", True),
    "Slice3CU": ("slice bounds out of range [%x:%y:]", None, False),
    "SliceConvert": ("cannot convert slice with length %y to array or pointer to array "
                     "with length %x", None, True),
}
"""The bounds-check panics (runtime/error.go ``boundsError.Error``, its
``boundsErrorFmts``/``boundsNegErrorFmts``; panic.go ``goPanicIndex`` & co.): ``%x`` is
the failing index (unsigned for the ``U`` variants), ``%y`` the length or capacity."""


def bounds_message(name: str, x: int, y: int) -> str:
    """The text of a ``runtime error`` for ``goPanic<name>(x, y)`` (words as read from
    the stack: x reinterpreted as signed unless the variant is unsigned)."""
    fmt, neg, signed = BOUNDS_ERRORS[name]
    xs = _signed64(x) if signed else x & M64
    if signed and xs < 0 and neg is not None:
        fmt = neg
    return "runtime error: " + fmt.replace("%x", str(xs)).replace("%y", str(_signed64(y)))


# --------------------------------------------------------------------------- the model

class RuntimeModel:
    """The Go-level runtime of one machine (see the module docstring).

    ``layout``: struct offsets and constants (default: Go 1.27's, which the generated
    ``runtime_s/go_asm.h`` uses too). ``goroutine_stack``: the initial stack of a new
    goroutine (Go 1.27 starts at 2 KiB, ``fixedStack``; goasm's default is 8 KiB).
    ``max_stack``: the largest stack before "stack overflow" (Go: 1 GB). ``events``: a
    list to append :mod:`events <goasm.machine.runtime>` to (shared with :class:`Linux`
    by the API so a trace sees both in order).
    """

    def __init__(self, layout: _layout.Layout | None = None, *, goroutine_stack: int = 8192,
                 max_stack: int = MAX_STACK, events: list | None = None,
                 heap_base: int = HEAP_BASE, stack_base: int = STACK_BASE) -> None:
        if goroutine_stack & (goroutine_stack - 1) or goroutine_stack < PAGE:
            raise GoasmError(f"goroutine stack size {goroutine_stack} must be a power of two >= {PAGE}")
        self.layout = layout or _layout.default_layout()
        self.goroutine_stack = goroutine_stack
        self.max_stack = max_stack
        self.events = events if events is not None else []
        self._heap = _Bump(heap_base, stack_base, "[heap]")
        self._stacks = _Bump(stack_base, stack_base + (1 << 40), "[goroutine stack]")
        self.runq: collections.deque = collections.deque()
        self.allgs: list[int] = []
        self.goidgen = 0
        self.main_entered: set[int] = set()
        self.addrs: dict[str, int] = {}
        self.argc = 0
        self.argv = 0
        self.auxv: dict[int, int] = {}
        self.unmodelled: tuple = ()
        self.last_panic: str | None = None
        self.bound = False

    # ------------------------------------------------------------------ wiring

    def natives(self) -> dict:
        """Linked name -> callable(machine), for every Go function this model provides."""
        return {
            "runtime.check": self.check,
            "runtime.args": self.args,
            "runtime.osinit": self.osinit,
            "runtime.schedinit": self.schedinit,
            "runtime.newproc": self.newproc,
            "runtime.mstart0": self.mstart0,
            "runtime.main": self.main,
            "runtime.newstack": self.newstack,
            "runtime.goexit1": self.goexit1,
            "runtime.Gosched": self.gosched,
            "runtime.badmorestackg0": self.badmorestackg0,
            "runtime.badmorestackgsignal": self.badmorestackgsignal,
            "runtime.badmcall": self.badmcall,
            "runtime.badmcall2": self.badmcall2,
            "runtime.printlock": self.printlock,
            "runtime.printunlock": self.printunlock,
            "runtime.printint": self.printint,
            "runtime.printuint": self.printuint,
            "runtime.printhex": self.printhex,
            "runtime.printbool": self.printbool,
            "runtime.printpointer": self.printpointer,
            "runtime.printstring": self.printstring,
            "runtime.printnl": self.printnl,
            "runtime.printsp": self.printsp,
            **{f"runtime.goPanic{name}": self._bounds_panic(name) for name in BOUNDS_ERRORS},
        }

    def data_symbols(self) -> list[tuple[str, int]]:
        """Go variables the natives keep in emulated memory (linked as BSS unless the
        assembly declares them): ``runtime.ncpu`` (osinit), ``runtime.physPageSize``
        (sysargs), ``runtime.mainStarted`` and ``runtime.maxstacksize`` (proc.go main)."""
        return [
            ("runtime.ncpu", 4),
            ("runtime.physPageSize", 8),
            ("runtime.mainStarted", 1),
            ("runtime.maxstacksize", 8),
        ]

    def bind(self, machine) -> None:
        """Install the natives at their symbols' addresses (``machine.natives[addr]``) and
        look up the symbols the model uses. A name the assembly defines itself (TEXT)
        keeps the assembly."""
        from goasm.image import SymKind

        symbols = machine.image.symbols
        for name, fn in self.natives().items():
            sym = symbols.get(name)
            if sym is not None and sym.kind is SymKind.NATIVE:
                machine.natives[sym.addr] = fn
        for name in ("runtime.g0", "runtime.m0", "runtime.gogo", "runtime.goexit",
                     "runtime.exit", "runtime.abort", "runtime.main", "runtime.mstart0",
                     "runtime.argc", "runtime.argv", "runtime.ncpu", "runtime.physPageSize",
                     "runtime.mainStarted", "runtime.maxstacksize", "main.main"):
            sym = symbols.get(name)
            if sym is not None:
                self.addrs[name] = sym.addr
        stubs = []
        for name, sym in symbols.items():
            if sym.kind is SymKind.UNDEF:
                machine.natives[sym.addr] = self._stub(name)
                stubs.append(name)
        self.unmodelled = tuple(sorted(stubs))
        self.bound = True

    def _stub(self, name: str):
        def stub(machine) -> None:
            self.unmodelled_call(machine, name)
        stub.__doc__ = f"Go function {name}: not modelled by goasm."
        return stub

    def unmodelled_description(self) -> str:
        """How the unmodelled-call message names this runtime."""
        return "goasm's runtime"

    def unmodelled_call(self, machine, name: str) -> None:
        """A symbol the image does not define was called or jumped to (a Go function
        goasm does not model; lazy linking left it unresolved): stop with its name and
        the calling instruction's file:line (the CALL before the return address on the
        stack; a jump there has no return address of its own, so the caller's caller is
        named instead)."""
        from goasm.errors import UnimplementedError

        sp = machine.cpu.regs[4]
        ret = machine.mem.read_u64(sp) if machine.mem.is_mapped(sp) else 0
        site = machine.image.code.get(ret - 1)
        if site is not None and site.op == "CALL":
            pos, where = site.pos, machine.image.describe(site.addr)
        else:
            pos, where = None, f"return address {ret:#x}"
            last = getattr(machine, "last_pc", None)
            ins = machine.image.code.get(last) if last is not None else None
            if ins is not None and ins.op == "JMP":
                pos, where = ins.pos, machine.image.describe(ins.addr)
        raise UnimplementedError(
            f"call of Go function {name} (from {where}), which goasm does not model "
            f"with {self.unmodelled_description()}", pos)

    # ------------------------------------------------------------------ helpers

    def _sym(self, name: str) -> int:
        try:
            return self.addrs[name]
        except KeyError:
            raise GoasmError(f"goasm runtime: symbol {name} is not linked "
                             "(load the program with goasm's runtime_s)") from None

    @staticmethod
    def _arg(machine, n: int) -> int:
        """The n-th 8-byte ABI0 argument word of a native (above the return address)."""
        return machine.mem.read_u64((machine.cpu.regs[4] + 8 + 8 * n) & M64)

    @staticmethod
    def _step(machine) -> int:
        return getattr(machine, "steps", 0)

    def _emit(self, machine, fd: int, data: bytes) -> None:
        """Write runtime output (print, fatal errors) to fd 1/2 of the emulated process."""
        kernel = getattr(machine, "syscall", None)
        if isinstance(kernel, Linux):
            kernel.emit(machine, fd, data)
            return
        stream = getattr(machine, "stderr" if fd == 2 else "stdout", None)
        if stream is not None:
            try:
                stream.write(data)
            except TypeError:
                stream.write(data.decode("utf-8", "replace"))

    def _bounds_panic(self, name: str):
        def go_panic(machine) -> None:
            self.panic(machine, bounds_message(name, self._arg(machine, 0),
                                               self._arg(machine, 1)))
        go_panic.__doc__ = f"panic.go goPanic{name}(x, y): a bounds-check panic."
        return go_panic

    def panic(self, machine, message: str) -> None:
        """panic.go ``gopanic`` of a runtime error nobody recovers (goasm has no deferred
        calls): ``panic: <message>``, the goroutine and the assembly that panicked (the
        caller of the panic entry), ``[recovered]`` never; exit status 2, as Go's
        ``fatalpanic`` ends the process."""
        g = self.current_g(machine)
        goid = self._goid(machine, g) if g else -1
        ret = machine.mem.read_u64(machine.cpu.regs[4]) if machine.mem.is_mapped(
            machine.cpu.regs[4]) else 0
        site = machine.image.code.get(ret - 1)
        where = ""
        if site is not None:
            where = f"{site.func}(...)\n\t{site.pos}\n"
        self.last_panic = message
        self._emit(machine, 2, (f"panic: {message}\n\ngoroutine {goid} [running]:\n"
                                f"{where}").encode())
        machine.exit(2)

    def _throw(self, machine, message: str, detail: str = "") -> None:
        """runtime.throw (panic.go): "fatal error: <message>" on stderr, exit status 2."""
        self._emit(machine, 2, (detail + f"fatal error: {message}\n").encode())
        machine.exit(2)

    def current_g(self, machine) -> int:
        """The g in the TLS slot (-8(FS)), 0 when TLS is not set up."""
        fs = machine.cpu.fs_base
        if not fs or not machine.mem.is_mapped(fs - 8):
            return 0
        return machine.mem.read_u64(fs - 8)

    def _set_g(self, machine, g: int) -> None:
        """setg: the TLS g slot and R14 (ABIInternal's g register)."""
        machine.mem.write_u64(machine.cpu.fs_base - 8, g)
        machine.cpu.regs[14] = g

    def _goid(self, machine, g: int) -> int:
        if not g:
            return -1
        return machine.mem.read_u64(g + self.layout.g.goid)

    def _gogo(self, machine, gobuf: int, return_to: int) -> None:
        """CALL runtime·gogo(gobuf) from a native: push the argument and a return address
        (never used: gogo does not return) and continue at gogo."""
        machine.push(gobuf)
        machine.call(self._sym("runtime.gogo"), return_to)

    # ------------------------------------------------------------------ start-up

    def check(self, machine) -> None:
        """runtime1.go ``check``: Go checks its compiler's assumptions (type sizes,
        atomics, NaN handling, timediv). goasm checks that the layout it runs with is
        self-consistent and records g0's stack as rt0_go left it (a :class:`G0Stack`)."""
        L = self.layout
        if L.g.size < L.g.sched + L.gobuf.size or L.m.size < L.m.tls + 8 * L.tls_slots:
            self._throw(machine, "runtime: bad g or m layout")
            return
        g0 = self._sym("runtime.g0")
        mem = machine.mem
        self.events.append(G0Stack(self._step(machine), g0, mem.read_u64(g0 + L.g_stack("lo")),
                                   mem.read_u64(g0 + L.g_stack("hi")),
                                   mem.read_u64(g0 + L.g.stackguard0),
                                   mem.read_u64(g0 + L.g.stackguard1)))
        machine.ret()

    def args(self, machine) -> None:
        """runtime1.go ``args(c int32, v **byte)`` and os_linux.go ``sysargs``: keep argc
        and argv (``runtime·argc``/``argv``), skip argv and envp to the auxiliary vector
        and take AT_PAGESZ (``physPageSize``) and AT_RANDOM (``startupRand``) from it."""
        mem = machine.mem
        argc = _signed32(self._arg(machine, 0))
        argv = self._arg(machine, 1)
        self.argc, self.argv = argc, argv
        if "runtime.argc" in self.addrs:
            mem.write_u32(self.addrs["runtime.argc"], argc)
        if "runtime.argv" in self.addrs:
            mem.write_u64(self.addrs["runtime.argv"], argv)
        # argv[argc] is NULL; envp follows up to its NULL; then auxv pairs.
        n = max(argc, 0) + 1
        while mem.read_u64(argv + 8 * n) != 0:
            n += 1
        p = argv + 8 * (n + 1)
        auxv = {}
        for _ in range(4096):
            tag, val = mem.read_u64(p), mem.read_u64(p + 8)
            if tag == 0:
                break
            auxv[tag] = val
            p += 16
        self.auxv = auxv
        pagesize = auxv.get(6, 0)
        if "runtime.physPageSize" in self.addrs:
            mem.write_u64(self.addrs["runtime.physPageSize"], pagesize)
        self.events.append(ArgsRead(self._step(machine), argc, argv, pagesize, auxv.get(25, 0)))
        machine.ret()

    def osinit(self, machine) -> None:
        """os_linux.go ``osinit``: the number of CPUs (Go asks sched_getaffinity; goasm's
        machine has one) and the huge page size (not modelled)."""
        kernel = getattr(machine, "syscall", None)
        ncpu = getattr(kernel, "cpus", 1) if isinstance(kernel, Linux) else 1
        if "runtime.ncpu" in self.addrs:
            machine.mem.write_u32(self.addrs["runtime.ncpu"], ncpu)
        machine.ret()

    def schedinit(self, machine) -> None:
        """proc.go ``schedinit``: Go initialises locks, the memory allocator, the CPU
        features, the GC, the Ps (GOMAXPROCS) and m0 (``mcommoninit``: id 0, procid).
        goasm has one M and no Ps or GC: it checks the g0/m0 links rt0_go made, gives m0
        its id and thread id, and sets up the goroutine bookkeeping."""
        L = self.layout
        mem = machine.mem
        g0, m0 = self._sym("runtime.g0"), self._sym("runtime.m0")
        if mem.read_u64(m0 + L.m.g0) != g0 or mem.read_u64(g0 + L.g.m) != m0:
            self._throw(machine, "schedinit: g0 and m0 are not linked (rt0_go did not run?)")
            return
        if L.m.has("id"):
            mem.write_u64(m0 + L.m.id, 0)
        if L.m.has("procid"):
            kernel = getattr(machine, "syscall", None)
            mem.write_u64(m0 + L.m.procid, kernel.pid if isinstance(kernel, Linux) else 0)
        if L.m.has("alllink"):
            mem.write_u64(m0 + L.m.alllink, 0)
        if "runtime.maxstacksize" in self.addrs:
            mem.write_u64(self.addrs["runtime.maxstacksize"], self.max_stack)
        mem.write_u32(g0 + L.g.atomicstatus, L.consts.get("_Grunning", 2))
        if g0 not in self.allgs:
            self.allgs.append(g0)
        machine.ret()

    # ------------------------------------------------------------------ goroutines

    def _stackalloc(self, machine, size: int, goid: int) -> int:
        """stack.go ``stackalloc``: ``size`` bytes aligned to ``size`` (Go's stack spans
        are too), mapped fresh (zeroed)."""
        return self._stacks.alloc(machine.mem, size, align=size, name="[goroutine stack]")

    def newproc(self, machine) -> None:
        """proc.go ``newproc(fn *funcval)`` → ``newproc1``: a new g (``malg``: g struct
        and stack), ``gostartcallfn`` so that it starts at ``fn.fn`` with ``goexit+1`` as
        the return address, status _Grunnable, then ``runqput``."""
        L = self.layout
        mem = machine.mem
        fv = self._arg(machine, 0)
        callerpc = mem.read_u64(machine.cpu.regs[4])
        if fv == 0:
            self._throw(machine, "go of nil func value")
            return
        entry = mem.read_u64(fv + L.funcval.fn)
        caller = self.current_g(machine)

        # malg: the g and its stack.
        self.goidgen += 1
        goid = self.goidgen
        g = self._heap.alloc(mem, L.g.size, align=8)
        size = self.goroutine_stack
        lo = self._stackalloc(machine, size, goid)
        hi = lo + size
        mem.write_u64(g + L.g_stack("lo"), lo)
        mem.write_u64(g + L.g_stack("hi"), hi)
        mem.write_u64(g + L.g.stackguard0, lo + L.stack_guard)
        mem.write_u64(g + L.g.stackguard1, M64)
        # newproc1: room for 4 words at the top (reads just past the frame), then
        # gostartcall pushes goexit+1 as the return address of fn's frame.
        sp = hi - 4 * 8
        if L.g.has("stktopsp"):
            mem.write_u64(g + L.g.stktopsp, sp)
        goexit_next = self._sym("runtime.goexit") + 1   # + PCQuantum: past goexit's NOP
        sp -= 8
        mem.write_u64(sp, goexit_next)
        mem.write_u64(g + L.g_sched("sp"), sp)
        mem.write_u64(g + L.g_sched("pc"), entry)
        mem.write_u64(g + L.g_sched("g"), g)
        mem.write_u64(g + L.g_sched("ctxt"), fv)
        mem.write_u64(g + L.g_sched("bp"), 0)
        mem.write_u64(g + L.g.goid, goid)
        if L.g.has("parentGoid"):
            mem.write_u64(g + L.g.parentGoid, self._goid(machine, caller) if caller else 0)
        if L.g.has("gopc"):
            mem.write_u64(g + L.g.gopc, callerpc)
        if L.g.has("startpc"):
            mem.write_u64(g + L.g.startpc, entry)
        mem.write_u32(g + L.g.atomicstatus, L.consts.get("_Grunnable", 1))
        self.allgs.append(g)
        self.runq.append(g)
        self.events.append(GoroutineCreated(self._step(machine), goid, g, lo, hi, entry,
                                            machine.image.describe(entry)))
        machine.ret()

    def mstart0(self, machine) -> None:
        """proc.go ``mstart0``/``mstart1``: g0's guards become ``lo + stackGuard`` (now
        ordinary Go code may run on g0), g0.sched records mstart's frame (where
        morestack and goexit later run the scheduler), then ``schedule()``."""
        L = self.layout
        mem = machine.mem
        g0 = self.current_g(machine)
        if not g0:
            raise GoasmError("mstart0: no g in TLS (rt0_go did not set up TLS)")
        lo = mem.read_u64(g0 + L.g_stack("lo"))
        mem.write_u64(g0 + L.g.stackguard0, lo + L.stack_guard)
        mem.write_u64(g0 + L.g.stackguard1, lo + L.stack_guard)
        sp = machine.cpu.regs[4]
        mem.write_u64(g0 + L.g_sched("g"), g0)
        mem.write_u64(g0 + L.g_sched("pc"), mem.read_u64(sp))   # getcallerpc: in mstart
        mem.write_u64(g0 + L.g_sched("sp"), sp + 8)             # getcallersp: mstart's SP
        self.schedule(machine, g0)

    def schedule(self, machine, g0: int) -> None:
        """proc.go ``schedule`` (``findRunnable``: the run queue, FIFO) then ``execute``.
        Runs on g0. With nothing runnable and no way to get work, Go reports the
        deadlock; so does this."""
        if not self.runq:
            self._throw(machine, "no goroutines (main called runtime.Goexit) - deadlock!")
            return
        self.execute(machine, self.runq.popleft(), g0)

    def execute(self, machine, gp: int, g0: int) -> None:
        """proc.go ``execute``: m.curg = gp, gp.m = m, _Grunning, stackguard0 reset to
        ``lo + stackGuard`` (it may hold stackPreempt), then ``gogo(&gp.sched)``."""
        L = self.layout
        mem = machine.mem
        m = mem.read_u64(g0 + L.g.m)
        mem.write_u64(m + L.m.curg, gp)
        mem.write_u64(gp + L.g.m, m)
        mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Grunning", 2))
        lo = mem.read_u64(gp + L.g_stack("lo"))
        mem.write_u64(gp + L.g.stackguard0, lo + L.stack_guard)
        self.events.append(ContextSwitch(self._step(machine), g0, self._goid(machine, g0), gp,
                                         self._goid(machine, gp), "execute"))
        self._gogo(machine, gp + L.g.sched, self._sym("runtime.mstart0"))

    def goexit1(self, machine) -> None:
        """proc.go ``goexit1`` → ``mcall(goexit0)`` → ``gdestroy``: the goroutine is
        _Gdead, m.curg = nil, back on g0's stack, ``schedule()``."""
        L = self.layout
        mem = machine.mem
        gp = self.current_g(machine)
        m = mem.read_u64(gp + L.g.m)
        g0 = mem.read_u64(m + L.m.g0)
        mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Gdead", 6))
        mem.write_u64(gp + L.g.m, 0)
        mem.write_u64(m + L.m.curg, 0)
        self.events.append(GoroutineExit(self._step(machine), self._goid(machine, gp), gp))
        self.events.append(ContextSwitch(self._step(machine), gp, self._goid(machine, gp), g0,
                                         self._goid(machine, g0), "goexit"))
        self._set_g(machine, g0)
        machine.cpu.regs[4] = mem.read_u64(g0 + L.g_sched("sp"))
        machine.cpu.regs[5] = 0
        self.schedule(machine, g0)

    def gosched(self, machine) -> None:
        """proc.go ``Gosched`` → ``mcall(gosched_m)`` → ``goschedImpl``: the caller's
        context goes into g.sched (resume at the return address, with the caller's SP
        and BP), the goroutine becomes _Grunnable at the tail of the run queue, and g0
        runs ``schedule()``."""
        L = self.layout
        mem = machine.mem
        gp = self.current_g(machine)
        m = mem.read_u64(gp + L.g.m)
        g0 = mem.read_u64(m + L.m.g0)
        if gp == g0:
            self._throw(machine, "runtime: mcall called on m->g0 stack")
            return
        sp = machine.cpu.regs[4]
        mem.write_u64(gp + L.g_sched("pc"), mem.read_u64(sp))
        mem.write_u64(gp + L.g_sched("sp"), sp + 8)
        mem.write_u64(gp + L.g_sched("bp"), machine.cpu.regs[5])
        mem.write_u64(gp + L.g_sched("g"), gp)
        mem.write_u64(gp + L.g_sched("ctxt"), 0)
        mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Grunnable", 1))
        mem.write_u64(m + L.m.curg, 0)
        self.runq.append(gp)
        self.events.append(ContextSwitch(self._step(machine), gp, self._goid(machine, gp), g0,
                                         self._goid(machine, g0), "Gosched"))
        self._set_g(machine, g0)
        machine.cpu.regs[4] = mem.read_u64(g0 + L.g_sched("sp"))
        machine.cpu.regs[5] = 0
        self.schedule(machine, g0)

    def main(self, machine) -> None:
        """proc.go ``main``, the main goroutine's function: Go sets ``mainStarted``, the
        1 GB stack limit, starts sysmon, runs the init tasks and the GC, then calls
        ``main_main`` (the user's ``main.main``) and ``exit(0)`` when it returns.

        Here: ``main.main`` is called with this native's own address as its return
        address, so a traceback shows ``runtime.main`` as its caller, as in Go. When
        ``main.main`` returns, execution lands here again on the same goroutine, which
        then calls ``runtime·exit(0)`` (sys_linux_amd64.s: exit_group).
        """
        mem = machine.mem
        g = self.current_g(machine)
        me = self._sym("runtime.main")
        if g in self.main_entered:
            # main.main returned: exit(0). Push exit's argument and call it; should it
            # return, the return address is abort (Go loops on a nil store instead).
            self.main_entered.discard(g)
            exit_fn = self.addrs.get("runtime.exit")
            if exit_fn is None:
                machine.exit(0)
                return
            machine.push(0)
            machine.call(exit_fn, self.addrs.get("runtime.abort", me))
            return
        main_main = machine.image.symbols.get("main.main")
        if main_main is None:
            raise LinkError("function main is undeclared in the main package: the program "
                            "needs `TEXT ·main(SB), $0-0` (package main's main function)")
        if "runtime.mainStarted" in self.addrs:
            mem.write_u8(self.addrs["runtime.mainStarted"], 1)
        self.main_entered.add(g)
        machine.call(main_main.addr, me)

    # ------------------------------------------------------------------ stacks

    def newstack(self, machine) -> None:
        """stack.go ``newstack``, called by ``runtime·morestack`` on g0's stack.

        The goroutine is m.curg; morestack saved its context in g.sched (pc = the
        ``JMP 0`` after ``CALL morestack_noctxt`` in f's prologue tail, so f restarts
        from its first instruction) and its caller in m.morebuf. A stackguard0 of
        stackPreempt is a preemption request, not a lack of stack: the goroutine goes
        back on the run queue (``gopreempt_m``). Otherwise the new size is twice the
        old, more if f's frame needs it (``funcMaxSPDelta``); beyond ``max_stack`` Go
        throws "stack overflow". ``copystack`` moves the goroutine, then
        ``gogo(&g.sched)`` resumes it.
        """
        L = self.layout
        mem = machine.mem
        thisg = self.current_g(machine)
        m = mem.read_u64(thisg + L.g.m)
        gp = mem.read_u64(m + L.m.curg)
        morebuf_g = mem.read_u64(m + L.m_morebuf("g"))
        if not gp or morebuf_g != gp:
            self._throw(machine, "runtime: wrong goroutine in newstack",
                        f"runtime: newstack called from g={morebuf_g:#x}\n\tm={m:#x} "
                        f"m->curg={gp:#x} m->g0={mem.read_u64(m + L.m.g0):#x}\n")
            return
        for field in ("pc", "sp", "g"):
            mem.write_u64(m + L.m_morebuf(field), 0)
        g0 = thisg
        guard0 = mem.read_u64(gp + L.g.stackguard0)
        if guard0 == L.consts.get("stackPreempt"):
            lo = mem.read_u64(gp + L.g_stack("lo"))
            mem.write_u64(gp + L.g.stackguard0, lo + L.stack_guard)
            mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Grunnable", 1))
            mem.write_u64(m + L.m.curg, 0)
            self.runq.append(gp)
            self.events.append(ContextSwitch(self._step(machine), gp, self._goid(machine, gp), g0,
                                             self._goid(machine, g0), "preempted"))
            self.schedule(machine, g0)
            return

        lo = mem.read_u64(gp + L.g_stack("lo"))
        hi = mem.read_u64(gp + L.g_stack("hi"))
        sp = mem.read_u64(gp + L.g_sched("sp"))
        oldsize = hi - lo
        newsize = oldsize * 2
        fn = self._function_at(machine, mem.read_u64(gp + L.g_sched("pc")))
        if fn is not None:
            needed = max(fn.frame, 0) + L.stack_guard
            used = hi - sp
            while newsize - used < needed:
                newsize *= 2
        if newsize > self.max_stack:
            self._throw(machine, "stack overflow",
                        f"runtime: goroutine stack exceeds {self.max_stack}-byte limit\n"
                        f"runtime: sp={sp:#x} stack=[{lo:#x}, {hi:#x}]\n")
            return
        mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Gcopystack", 8))
        self.copystack(machine, gp, newsize)
        mem.write_u32(gp + L.g.atomicstatus, L.consts.get("_Grunning", 2))
        self._gogo(machine, gp + L.g.sched, self._sym("runtime.abort"))

    def _function_at(self, machine, pc: int):
        sym, _off = machine.image.symbol_at(pc)
        if sym is None:
            return None
        return machine.image.functions.get(sym.name)

    def copystack(self, machine, gp: int, newsize: int) -> None:
        """stack.go ``copystack``: allocate the new stack, copy the used part
        ``[sched.sp, hi)`` to the same distance below the new ``hi``, and move every
        pointer into the old stack that the runtime knows about: ``sched.sp``,
        ``sched.bp``, ``sched.ctxt``, ``stktopsp`` and the saved frame pointers along
        the BP chain (``adjustframe``: Go also moves pointers its stack maps describe;
        assembly frames have none). Then the old stack is freed (unmapped: a stale
        pointer into it now faults instead of reading garbage)."""
        L = self.layout
        mem = machine.mem
        old_lo = mem.read_u64(gp + L.g_stack("lo"))
        old_hi = mem.read_u64(gp + L.g_stack("hi"))
        sp = mem.read_u64(gp + L.g_sched("sp"))
        goid = self._goid(machine, gp)
        new_lo = self._stackalloc(machine, newsize, goid)
        new_hi = new_lo + newsize
        delta = new_hi - old_hi
        used = old_hi - sp
        mem.write(new_hi - used, mem.read(sp, used))

        def inside(p: int) -> bool:
            return old_lo <= p < old_hi

        # The frame-pointer chain: each saved BP sits at the address the next BP names.
        bp = mem.read_u64(gp + L.g_sched("bp"))
        seen = 0
        while inside(bp) and bp >= sp and seen < (1 << 22):
            saved = mem.read_u64(bp + delta)
            if not inside(saved):
                break
            mem.write_u64(bp + delta, saved + delta)
            bp = saved
            seen += 1
        for field in ("sp", "bp", "ctxt"):
            v = mem.read_u64(gp + L.g_sched(field))
            if inside(v) or (field == "sp" and v == old_hi):
                mem.write_u64(gp + L.g_sched(field), v + delta)
        if L.g.has("stktopsp"):
            v = mem.read_u64(gp + L.g.stktopsp)
            if inside(v):
                mem.write_u64(gp + L.g.stktopsp, v + delta)
        mem.write_u64(gp + L.g_stack("lo"), new_lo)
        mem.write_u64(gp + L.g_stack("hi"), new_hi)
        mem.write_u64(gp + L.g.stackguard0, new_lo + L.stack_guard)
        mem.unmap(old_lo, old_hi - old_lo)
        self.events.append(StackGrowth(self._step(machine), goid, gp, old_lo, old_hi, new_lo,
                                       new_hi, used))

    def badmorestackg0(self, machine) -> None:
        """proc.go ``badmorestackg0``: morestack on g0 (the OS stack cannot grow): Go
        prints the g0 stack and throws "morestack on g0" (exit status 2)."""
        L = self.layout
        mem = machine.mem
        g = self.current_g(machine)
        lo, hi = mem.read_u64(g + L.g_stack("lo")), mem.read_u64(g + L.g_stack("hi"))
        sp = mem.read_u64(g + L.g_sched("sp"))
        self._throw(machine, "morestack on g0",
                    f"runtime: morestack on g0, stack [{lo:#x} {hi:#x}], sp={sp:#x}, "
                    f"called from {machine.image.describe(mem.read_u64(g + L.g_sched('pc')))}\n")

    def badmorestackgsignal(self, machine) -> None:
        """proc.go ``badmorestackgsignal``: writes "fatal: morestack on gsignal" and
        returns; morestack then calls abort."""
        self._emit(machine, 2, b"fatal: morestack on gsignal\n")
        machine.ret()

    def badmcall(self, machine) -> None:
        """proc.go ``badmcall``: mcall called on g0."""
        self._throw(machine, "runtime: mcall called on m->g0 stack")

    def badmcall2(self, machine) -> None:
        """proc.go ``badmcall2``: the function given to mcall returned."""
        self._throw(machine, "runtime: mcall function returned")

    # ------------------------------------------------------------------ print.go

    def _print(self, machine, text: str) -> None:
        self._emit(machine, 2, text.encode("utf-8", "surrogateescape"))
        machine.ret()

    def printlock(self, machine) -> None:
        """print.go ``printlock``: one thread, nothing to lock."""
        machine.ret()

    def printunlock(self, machine) -> None:
        """print.go ``printunlock``."""
        machine.ret()

    def printint(self, machine) -> None:
        """print.go ``printint(v int64)``: decimal, to stderr (as Go's print does)."""
        self._print(machine, str(_signed64(self._arg(machine, 0))))

    def printuint(self, machine) -> None:
        """print.go ``printuint(v uint64)``."""
        self._print(machine, str(self._arg(machine, 0)))

    def printhex(self, machine) -> None:
        """print.go ``printhex(v uint64)``: ``0x`` and lower-case hex digits."""
        self._print(machine, f"{self._arg(machine, 0):#x}")

    def printpointer(self, machine) -> None:
        """print.go ``printpointer(p unsafe.Pointer)``: as printhex."""
        self._print(machine, f"{self._arg(machine, 0):#x}")

    def printbool(self, machine) -> None:
        """print.go ``printbool(v bool)``."""
        self._print(machine, "true" if self._arg(machine, 0) & 0xFF else "false")

    def printstring(self, machine) -> None:
        """print.go ``printstring(s string)``: the string header is (ptr, len)."""
        ptr, n = self._arg(machine, 0), self._arg(machine, 1)
        data = machine.mem.read(ptr, n) if n else b""
        self._emit(machine, 2, data)
        machine.ret()

    def printnl(self, machine) -> None:
        """print.go ``printnl``."""
        self._print(machine, "\n")

    def printsp(self, machine) -> None:
        """print.go ``printsp``."""
        self._print(machine, " ")


# --------------------------------------------------------------------------- --state-json

_REG_ORDER = ("AX", "BX", "CX", "DX", "SI", "DI", "BP", "SP", "R8", "R9", "R10", "R11", "R12",
              "R13", "R14", "R15")


def _readable(mem, addr: int, size: int) -> bool:
    return addr != 0 and mem.is_mapped(addr) and mem.is_mapped(addr + size - 1)


def decode_g(machine, layout: _layout.Layout, addr: int) -> dict | None:
    """A g struct at ``addr`` as a dict (None when 0 or unmapped)."""
    L = layout
    mem = machine.mem
    if not _readable(mem, addr, L.g.size):
        return None
    r = mem.read_u64
    out = {
        "addr": addr,
        "stack_lo": r(addr + L.g_stack("lo")),
        "stack_hi": r(addr + L.g_stack("hi")),
        "stackguard0": r(addr + L.g.stackguard0),
        "stackguard1": r(addr + L.g.stackguard1),
        "m": r(addr + L.g.m),
        "goid": r(addr + L.g.goid),
        "status": mem.read_u32(addr + L.g.atomicstatus),
        "sched": {f: r(addr + L.g_sched(f)) for f in ("sp", "pc", "g", "ctxt", "bp")},
    }
    return out


def decode_m(machine, layout: _layout.Layout, addr: int) -> dict | None:
    """An m struct at ``addr`` as a dict (None when 0 or unmapped)."""
    L = layout
    mem = machine.mem
    if not _readable(mem, addr, L.m.size):
        return None
    r = mem.read_u64
    out = {
        "addr": addr,
        "g0": r(addr + L.m.g0),
        "curg": r(addr + L.m.curg),
        "gsignal": r(addr + L.m.gsignal),
        "tls0": r(addr + L.m.tls),
        "tls": [r(addr + L.m.tls + 8 * i) for i in range(L.tls_slots)],
        "morebuf": {f: r(addr + L.m_morebuf(f)) for f in ("sp", "pc", "g")},
    }
    if L.m.has("procid"):
        out["procid"] = r(addr + L.m.procid)
    if L.m.has("id"):
        out["id"] = r(addr + L.m.id)
    return out


def state_json(machine, model: RuntimeModel | None = None, *, entry_sp: int | None = None) -> dict:
    """The machine and runtime state for ``goasm run --state-json``.

    Keys: ``stopped_at`` (``symbol+off``), ``pc``, ``entry_sp``, ``regs`` (AX … R15, SP,
    BP, PC, FLAGS), ``fs_base``, ``tls_g`` (the raw word at -8(FS), or null),
    ``symbols`` (linked name → address), and the decoded ``g`` (the g in TLS, null when
    TLS is not set up or does not hold a g), ``g0`` and ``m0``; ``steps``.
    """
    layout = model.layout if model is not None else _layout.default_layout()
    cpu = machine.cpu
    mem = machine.mem
    regs = {name: machine.reg(name) for name in _REG_ORDER}
    regs["PC"] = cpu.pc
    regs["FLAGS"] = cpu.get_rflags()
    symbols = {name: sym.addr for name, sym in machine.image.symbols.items()}
    tls_g = None
    if cpu.fs_base and _readable(mem, cpu.fs_base - 8, 8):
        tls_g = mem.read_u64(cpu.fs_base - 8)
    g0_addr = symbols.get("runtime.g0")
    m0_addr = symbols.get("runtime.m0")
    return {
        "stopped_at": machine.image.describe(cpu.pc),
        "pc": cpu.pc,
        "entry_sp": entry_sp,
        "regs": regs,
        "fs_base": cpu.fs_base,
        "tls_g": tls_g,
        "symbols": symbols,
        "g": decode_g(machine, layout, tls_g) if tls_g else None,
        "g0": decode_g(machine, layout, g0_addr) if g0_addr is not None else None,
        "m0": decode_m(machine, layout, m0_addr) if m0_addr is not None else None,
        "steps": getattr(machine, "steps", 0),
    }

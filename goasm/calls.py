"""Calling assembly functions the way Go does: ``goasm.Machine(image).call("add", 1, 2)``.

How a call runs (the design of issue 7, "Testing toolkit"):

1. *Bootstrap once.* The process starts as ``goasm run`` starts it (kernel stack,
   ``_rt0_amd64_linux`` → ``rt0_go`` → ``schedinit`` → ``newproc`` → ``mstart`` →
   ``schedule`` → ``gogo``) and stops when the main goroutine is about to run
   ``runtime.main``: a goroutine exists, TLS and R14 hold its g, its stack has guards.
   That state is kept as a snapshot (:meth:`Machine.ready`), copy-on-write.
2. *Each call* restores that snapshot (unless ``fresh=False``), copies strings, slices
   and pointees into an arena of emulated memory, and builds the call frame on the
   goroutine's stack exactly as a Go caller would: ABI0 (Go's asm guide, "Function
   calling convention"): arguments and results in the caller's outgoing area at
   ``8(SP)`` upward, laid out by :mod:`goasm.gosig`; ABIInternal (cmd/compile's
   ``abi-internal.md``): register arguments in AX BX CX DI SI R8-R11 / X0-X14, R14 = g,
   X15 = 0, spill space reserved. The return address is a trap address that is no
   instruction; ``run(until=trap)`` ends the call there.
3. The stack-split prologue, ``morestack`` and ``newstack`` work as in a program: a deep
   call grows the goroutine's stack (results are read relative to the SP at return, so a
   moved stack is fine).
4. Results are decoded from the frame (ABI0) or the registers (ABIInternal); the
   argument slices, strings and pointees are read back from the arena
   (:attr:`CallResult.args`), so a function that fills a ``[]byte`` can be checked.

The runtime checker (:mod:`goasm.checker`) is on by default: a call that writes outside
its frame, reads a result before writing it, returns with SP/BP off, clobbers R14 in
ABIInternal code or leaves a result unwritten raises :class:`goasm.checker.CheckError`.

Go values in Python: integers of every width (a value outside the type's range is a
:class:`CallError` naming the parameter, never silently wrapped), ``bool``,
``float``/``complex``; ``uintptr``/``unsafe.Pointer``/``*T`` as int addresses, or
:class:`Ref` (a pointee to allocate; ``Ref(bytearray)`` raw pointee bytes, updated in
place after the call), ``bytes``/``bytearray`` for a pointer (copied, address passed,
read back: a ``bytearray`` in place); ``string`` as ``str`` (UTF-8) or ``bytes``,
decoded as ``bytes``; slices as ``list``/``tuple`` (``bytes`` for ``[]byte``),
:class:`Slice` for extra capacity, :meth:`Machine.slice_at` for memory already
prepared, None for nil, decoded as ``list``/``bytes``; arrays likewise (fixed length);
structs as ``dict`` (or a sequence in field order), decoded as ``dict``; interfaces as
``(type, data)`` words; funcs, chans and maps as raw words. A value of the wrong kind
is a :class:`CallError` too.
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path

import attrs

from goasm.errors import GoasmError, LimitError
from goasm.gosig import GoType, Signature, packages_near, parse_signature
from goasm.image import TEXT_BASE
from goasm.machine import machine as _core
from goasm.machine.state import M64

ARENA_BASE = 0xE0_0000_0000
"""Where call arguments' strings, slices and pointees are copied (``[call arena]``)."""
ARENA_SIZE = 1 << 32
TRAP = TEXT_BASE - 0x10
"""The return address of a call: no instruction lives there; reaching it ends the call."""
DEFAULT_CALL_STEPS = 20_000_000
FREG = {f"X{i}": i for i in range(16)}


class CallError(GoasmError):
    """A call that could not be made, or did not return normally."""


class CallExit(CallError):
    """The called function ended the process (``exit``/``exit_group``): ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@attrs.frozen
class Ref:
    """A pointer argument whose pointee goasm allocates: ``Ref(5)`` for ``*int64`` passes
    the address of an int64 holding 5; :attr:`CallResult.args` has its value after the
    call. ``Ref()`` is a zero pointee."""

    value: object = None


@attrs.frozen
class SliceAt:
    """A slice header over memory that is already there (:meth:`Machine.slice_at`):
    nothing is copied; ``addr``, ``len``, ``cap``."""

    addr: int
    len: int
    cap: int


@attrs.frozen
class Slice:
    """A slice argument with spare capacity: ``Slice(b"ab", cap=16)``."""

    items: object
    cap: int | None = None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bytes__(self) -> bytes:
        return bytes(self.items)


@attrs.frozen
class Unsupported:
    """One gap :meth:`Machine.unsupported` found: ``kind`` (``unresolved`` or
    ``unimplemented``), the symbol or mnemonic ``name``, the instruction's ``pos`` and
    ``function``, and a ``message``."""

    kind: str
    name: str
    pos: object
    function: str
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.function}: {self.message}"


@attrs.frozen
class CallResult:
    """What :meth:`Machine.invoke` returns: ``value`` (None, the one result, or a tuple),
    ``results`` (always a tuple), ``args`` (after the call: slices, strings and pointees
    read back from memory, other arguments as passed), ``steps`` executed, checker
    ``findings``, ``sp`` (the argument area's address at return)."""

    value: object
    results: tuple
    args: tuple
    steps: int
    findings: tuple = ()
    sp: int = 0
    signature: Signature | None = None


@attrs.frozen
class ProcessSnapshot:
    """A :meth:`Machine.snapshot`: the core machine snapshot plus the Python state of
    the runtime model and the kernel (the run queue, the heap cursor, open mappings...)."""

    machine: _core.Snapshot
    model: dict
    linux: dict
    events: int
    arena: int


def _wrap(v: int, bits: int) -> int:
    return v & ((1 << bits) - 1)


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


class Machine(_core.Machine):
    """A machine that can call the assembly functions of an image like Go code does
    (``goasm.Machine``; see the module docstring).

    ``Machine(image, *, cpu=None, argv=(), env=(), stdout=None, stderr=None,
    stdin=None, max_steps=None, call_steps=DEFAULT_CALL_STEPS, check=True, model=None,
    goroutine_stack=8192, dynlink=False)``. ``image`` comes from :func:`goasm.load` (with
    the embedded runtime, the default). ``cpu``: ``"intel"``, ``"amd"`` or a
    :class:`goasm.machine.state.CPUModel`. ``check``: the checker's default for
    :meth:`call` (True raises on findings, ``"collect"`` only reports them, False
    turns it off). ``dynlink``: R15 is callee-saved in ABIInternal code (checker).

    Everything of the core machine works too (hooks, snapshots, ``run``); the core's
    ``call(addr, return_addr)`` (push and jump) is still available with two ints.
    """

    def __init__(self, image, *, cpu=None, argv=(), env=(), stdout=None, stderr=None,
                 stdin=None, max_steps=None, call_steps: int = DEFAULT_CALL_STEPS,
                 check=True, model=None, goroutine_stack: int = 8192,
                 dynlink: bool = False, program_name: str = "goasm-call",
                 random: bytes = bytes(16), auxv: dict | None = None) -> None:
        from goasm.api import cpu_model
        from goasm.image import Image
        from goasm.machine.runtime import RuntimeModel
        from goasm.machine.state import CPUModel
        from goasm.machine.syscalls import Linux

        if not isinstance(image, Image):
            raise GoasmError(f"goasm.Machine needs an image from goasm.load(...) or "
                             f"goasm.load_package(...), not {type(image).__name__}")
        if cpu is None or isinstance(cpu, str):
            cpu = cpu_model(cpu)
        elif not isinstance(cpu, CPUModel):
            raise GoasmError(f"cpu: a preset name or a CPUModel, not {cpu!r}")
        super().__init__(image, cpu_model=cpu, stdout=stdout, stderr=stderr, stdin=stdin,
                         max_steps=max_steps)
        if model is None and image.goroot is not None:
            from goasm.machine.goruntime import GoRuntimeModel

            model = GoRuntimeModel(image.goroot)
        self.model = model if model is not None else RuntimeModel(
            goroutine_stack=goroutine_stack)
        self.linux = Linux(stdout=stdout, stderr=stderr, stdin=stdin, events=self.model.events)
        self.syscall = self.linux
        self.call_steps = call_steps
        self.check = check
        self.dynlink = dynlink
        self.argv = (program_name, *argv)
        self.env = tuple(env)
        self.random = bytes(random)
        self.auxv = dict(auxv or {})
        self.entry_sp: int | None = None
        self._ready: ProcessSnapshot | None = None
        self._arena = ARENA_BASE
        self._decls: dict | None = None
        self._sig_cache: dict = {}
        self._sig_errors: dict = {}
        self._checker = None
        self.model.bind(self)
        self._var_types: dict = {}
        if image.variables:
            self._init_variables()
        if not image.packages:      # read the .go files now, not in the first call
            files = {f.file for f in image.functions.values() if f.file}
            self._decls = packages_near(sorted(files))

    # ------------------------------------------------------------------ bootstrap

    def ready(self) -> ProcessSnapshot:
        """Start the process and run it until the main goroutine is about to run
        ``runtime.main``; the snapshot of that state (taken once) is what each call
        starts from."""
        if self._ready is None:
            self._bootstrap()
        return self._ready

    def _bootstrap(self) -> None:
        import os

        from goasm.machine.process import start_process

        image = self.image
        if image.lookup("_rt0_amd64_linux") is None or image.lookup("runtime.main") is None:
            raise CallError("calls need the Go runtime linked in: load the files with "
                            "goasm.load(files) (runtime=True, the default)")
        self.entry_sp = start_process(self, argv=[os.fsencode(a) for a in self.argv],
                                      env=[os.fsencode(e) for e in self.env],
                                      random=self.random, auxv=self.auxv or None)
        target = image.lookup("runtime.main").addr
        with self.hooks_suspended():
            reason = self.run(until=target, max_steps=10_000_000)
        if reason.kind != "until":
            raise CallError(f"the runtime did not reach runtime.main ({reason.kind} at "
                            f"{self.where(reason.pc)})")
        if not self.model.current_g(self):
            raise CallError("no goroutine after the bootstrap")
        self._ready = self.snapshot()
        if self.check:
            self._get_checker()         # signatures and stacks learnt once, not in a call

    def reset(self) -> None:
        """Return to the :meth:`ready` state."""
        self.restore(self.ready())

    # ------------------------------------------------------------------ snapshots

    def _keep(self) -> dict:
        keep = [self, self.image, getattr(self.model, "layout", None), self.model.events,
                self.linux, self.model, *self.linux.streams.values()]
        goroot = getattr(self.model, "goroot", None)
        if goroot is not None:
            keep.append(goroot)
        return {id(x): x for x in keep if x is not None}

    def snapshot(self) -> ProcessSnapshot:
        """The whole process: CPU, memory (copy-on-write), the runtime model's and the
        kernel's Python state and the call arena's cursor."""
        keep = self._keep()
        return ProcessSnapshot(super().snapshot(), copy.deepcopy(vars(self.model), keep),
                               copy.deepcopy(vars(self.linux), keep), len(self.model.events),
                               self._arena)

    def restore(self, snap) -> None:
        """Return to a :meth:`snapshot` (a core snapshot restores CPU and memory only)."""
        if not isinstance(snap, ProcessSnapshot):
            super().restore(snap)
            return
        super().restore(snap.machine)
        keep = self._keep()
        events = self.model.events
        for obj, saved in ((self.model, snap.model), (self.linux, snap.linux)):
            fresh = copy.deepcopy(saved, keep)
            vars(obj).clear()
            vars(obj).update(fresh)
        del events[snap.events:]
        self.model.events = events
        self.linux.events = events
        self._arena = snap.arena

    # ------------------------------------------------------------------ signatures

    def function(self, name: str):
        """The :class:`goasm.image.Function` called ``name``: ``add``, ``·add`` (in the
        first package: ``main`` for :func:`goasm.load`), or qualified (``main.add``,
        ``crypto/md5.block``)."""
        if not isinstance(name, str):
            raise CallError(f"a function name (str) is needed, not {name!r}")
        image = self.image
        sym = image.lookup(name)
        if sym is None and "." not in name.replace("\u00b7", "."):
            sym = image.lookup(f"{image.main_package}.{name}")
        if sym is None and name.startswith("\u00b7"):
            sym = image.lookup(f"{image.main_package}.{name[1:]}")
        if sym is None:
            raise CallError(f"no function {name} in the image")
        fn = image.functions.get(sym.name)
        if fn is None:
            raise CallError(f"{sym.name} is not an assembly function ({sym.kind.value})")
        return fn

    def signature(self, name: str) -> Signature | None:
        """The Go declaration of function ``name`` from its package's ``.go`` files
        (None when there is none)."""
        fn = self.function(name)
        sig = self.signature_of(fn)
        if sig is None and fn.name in self._sig_errors:
            message, site = self._sig_errors[fn.name]
            raise CallError(f"the Go declaration of {fn.name} ({site}) cannot be laid out: "
                            f"{message}")
        return sig

    def signature_of(self, fn) -> Signature | None:
        """The Go declaration of :class:`goasm.image.Function` ``fn`` (or None; a
        declaration that exists but cannot be laid out is remembered and reported by
        :meth:`invoke`)."""
        if fn.name in self._sig_cache:
            return self._sig_cache[fn.name]
        from goasm.gosig import SignatureError

        pkg, short = self._declaring_package(fn)
        sig = None
        if pkg is not None:
            try:
                sig = pkg.signature(short)
            except SignatureError as exc:
                self._sig_errors[fn.name] = (exc.message, pkg.declaration_site(short))
        self._sig_cache[fn.name] = sig
        return sig

    def _declaring_package(self, fn):
        """The :class:`goasm.gosig.GoPackage` declaring ``fn`` and its Go name."""
        from goasm.gosig import split_linked_name

        path, short = split_linked_name(fn.name)
        pkg = self.image.packages.get(path)
        if pkg is not None:
            return pkg.decls, short
        if not fn.file:
            return None, short
        if self._decls is None:
            files = {f.file for f in self.image.functions.values() if f.file}
            self._decls = packages_near(sorted(files))
        return self._decls.get(str(Path(fn.file).resolve().parent)), short

    # ------------------------------------------------------------------ calls

    def call(self, target, *args, sig=None, check=None, fresh: bool = True,
             max_steps: int | None = None, state=None):
        """Call the assembly function ``target`` (a name) with Python ``args`` and return
        its result: None, the single result, or a tuple (see the module docstring).

        ``sig``: the Go signature as text (``"func(a, b int64) int64"``) or a
        :class:`goasm.gosig.Signature`; default: the declaration in the ``.go`` files
        beside the ``.s``. ``check``: see the class docstring (default: the machine's).
        ``fresh``: start from the :meth:`ready` state (False: from the current memory,
        e.g. after writing globals). ``max_steps``: instruction budget of the call.
        ``state``: a :class:`goasm.strategies.CallState` (scratch register values at
        entry, stack already in use).

        ``call(addr, return_addr)`` with two ints is the core machine's push-and-jump.
        """
        __tracebackhide__ = True    # pytest: show the test's line, not goasm's
        if isinstance(target, int) and not isinstance(target, bool):
            if len(args) != 1 or sig is not None:
                raise TypeError("call(addr, return_addr) takes two addresses; name "
                                "the function with a string to call it like Go")
            return super().call(target, args[0])
        result = self.invoke(target, *args, sig=sig, check=check, fresh=fresh,
                             max_steps=max_steps, state=state)
        return result.value

    def invoke(self, target, *args, sig=None, check=None, fresh: bool = True,
               max_steps: int | None = None, state=None) -> CallResult:
        """:meth:`call`, returning a :class:`CallResult` with the details."""
        __tracebackhide__ = True
        from goasm.checker import CheckError

        from goasm.image import Function

        if isinstance(target, Function):
            fn = target
        elif isinstance(target, str):
            fn = self.function(target)
        else:
            raise CallError(f"call: a function name, not {target!r}")
        if isinstance(sig, str):
            sig = parse_signature(sig)
        elif sig is not None and not isinstance(sig, Signature):
            raise CallError(f"sig: Go signature text or a Signature, not {sig!r}")
        if sig is None:
            sig = self.signature_of(fn)
        if sig is None and fn.name in self._sig_errors:
            message, site = self._sig_errors[fn.name]
            raise CallError(f"the Go declaration of {fn.name} ({site}) cannot be laid out: "
                            f"{message}; pass sig= to call it anyway")
        if sig is None:
            raise CallError(f"no Go declaration for {fn.name}: put `func "
                            f"{fn.name.rsplit('.', 1)[-1]}(...)` in a .go file next to "
                            f"{fn.file or 'the .s file'}, or pass sig=")
        if len(args) != len(sig.params) and not (sig.variadic and len(args) >= len(sig.params) - 1):
            raise CallError(f"{fn.name}: {len(sig.params)} arguments expected "
                            f"({sig}), {len(args)} given")
        if sig.variadic and not (len(args) == len(sig.params) and isinstance(
                args[-1], (list, tuple, Slice, bytes)) or args[-1:] == (None,)):
            args = (*args[:len(sig.params) - 1], list(args[len(sig.params) - 1:]))
        check = self.check if check is None else check
        self.ready()
        if fresh:
            self.restore(self._ready)
        internal = fn.symbol.abi == "ABIInternal"
        self.warm(fn.symbol.addr)       # translated from the first call on (goasm.machine)
        frame = _CallFrame(self, fn, sig, internal)
        frame.build(args, state)
        checker = None
        if check:
            checker = self._get_checker()
            checker.begin_call(fn, sig, frame.entry_sp, self.cpu.regs[5])
            checker.attach()
        start_steps = self.steps
        budget = self.call_steps if max_steps is None else max_steps
        try:
            reason = self.run(until=TRAP, max_steps=budget)
        except GoasmError as exc:
            # A mistake the checker saw often ends in a crash (RET to garbage): report
            # the mistake, with the crash as its consequence.
            if checker is not None and checker.findings:
                raise CheckError(checker.findings, None, after=exc) from exc
            raise
        finally:
            if checker is not None:
                checker.detach()
        steps = self.steps - start_steps
        if reason.kind == "exit":
            why = getattr(self.model, "last_panic", None)
            raise CallExit(f"{fn.name} ended the process with exit status {reason.status}"
                           + (f" (panic: {why})" if why else ""),
                           reason.status)
        if reason.kind == "max_steps":
            raise LimitError(f"{fn.name} did not return within {budget} steps (now at "
                             f"{self.where(reason.pc)})", self.pos_of(reason.pc))
        if reason.kind != "until":
            raise CallError(f"{fn.name}: stopped by a hook at {self.where(reason.pc)} "
                            f"(value {reason.value!r})")
        findings = tuple(checker.findings) if checker is not None else ()
        results = frame.results()
        value = None if not results else results[0] if len(results) == 1 else results
        out = CallResult(value, results, frame.args_after(), steps, findings,
                         frame.sp_at_return(), sig)
        if findings and check is True:
            raise CheckError(findings, out)
        return out

    def _get_checker(self):
        from goasm.checker import Checker

        if self._checker is None:
            self._checker = Checker(self, signatures=self._signature_map(),
                                    dynlink=self.dynlink)
        self._checker.reset()
        return self._checker

    def _signature_map(self) -> dict:
        out = {}
        for name, fn in self.image.functions.items():
            sig = self.signature_of(fn)
            if sig is not None:
                out[name] = sig
        return out

    # ------------------------------------------------------------------ package variables

    def _init_variables(self) -> None:
        """Give every package variable of a :func:`goasm.load_package` image its Go
        initial value (:mod:`goasm.goexpr`; ``internal/cpu.X86`` and the variables
        computed from it from this machine's CPU model, :mod:`goasm.gocpu`), or the
        value the load was given (``vars=``). Variables goasm cannot evaluate are one
        error naming each with its declaration's file:line."""
        from goasm import gocpu, goexpr

        image = self.image
        session = goexpr.Session(lambda path: gocpu.features(path, self.cpu_model))
        problems = []

        def problem(var, message: str) -> None:
            message = message.removeprefix(f"{var.where}: ")
            problems.append(f"  {var.where}: var {var.name}: {message}")

        for name, var in sorted(image.variables.items()):
            if var.type is None:
                problem(var, var.error or "its type is unknown")
                continue
            if name in image.var_overrides:
                self._var_types[name] = var.type
                self._write_var(name, var.type, image.var_overrides[name])
                continue
            gp = image.declarations.get(var.path) if image.declarations is not None else None
            try:
                if gp is None:
                    raise goexpr.ExprError(f"package {var.path} is not at hand")
                value = goexpr.var_value(gp, var.name, session)
            except (goexpr.ExprError, GoasmError) as exc:
                problem(var, exc.message)
                continue
            self._var_types[name] = var.type
            self._write_var(name, var.type, value.value)
        if problems:
            raise GoasmError("goasm cannot give these package variables their Go initial "
                             "values; pass them with goasm.load_package(..., vars={name: "
                             "value}):\n" + "\n".join(problems))

    def _write_var(self, name: str, t: GoType, value) -> None:
        sym = self.image.symbols[name]
        try:
            raw = self.encode(t, value)
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise CallError(f"variable {name} ({t}): cannot store {value!r}: {exc}") from None
        self.mem.write(sym.addr, raw)

    def set_var(self, name: str, value) -> None:
        """Set package variable ``name`` (short: in the first package; or qualified,
        ``math/big.hasADX``) to the Python ``value`` (as :meth:`call` takes values of its
        Go type), for this call and every later one: the :meth:`ready` state changes."""
        from goasm.packages import resolve_variable

        key = resolve_variable(self.image, name)
        t = self._var_types.get(key) or self.image.variables[key].type
        if self._ready is not None:
            self.restore(self._ready)
            self._write_var(key, t, value)
            self._ready = self.snapshot()
        else:
            self._write_var(key, t, value)
        self._var_types[key] = t

    def get_var(self, name: str):
        """The current value of package variable ``name`` (see :meth:`set_var`)."""
        from goasm.packages import resolve_variable

        key = resolve_variable(self.image, name)
        t = self._var_types.get(key) or self.image.variables[key].type
        return self.read_value(t, self.image.symbols[key].addr)

    # ------------------------------------------------------------------ gaps

    def unsupported(self) -> list:
        """What this image needs that goasm does not have, known before any run: every
        reference to an unresolved symbol (a Go function goasm does not model, a
        variable nobody defines) and every instruction goasm does not implement, each
        with its file:line (:class:`Unsupported`). Reaching one of them is an error;
        everything else runs."""
        from goasm import ir
        from goasm.image import SymKind

        from goasm.resources import runtime_dir

        image = self.image
        undefined = {n for n, sym in image.symbols.items() if sym.kind is SymKind.UNDEF}
        embedded = {fn.name for fn in image.functions.values()
                    if fn.file and Path(fn.file).resolve().parent == runtime_dir().resolve()}
        out = []
        for addr in sorted(image.code):
            ins = image.code[addr]
            if ins.func in embedded:        # goasm's own runtime: not the user's gap
                continue
            for arg in ins.args:
                mem = arg.mem if isinstance(arg, ir.Addr) else (
                    arg.target if isinstance(arg, ir.Indirect) else arg)
                if isinstance(mem, ir.Mem) and mem.symbol in undefined:
                    what = ("Go function" if ins.op in ("CALL", "JMP") and
                            isinstance(arg, ir.Mem) else "symbol")
                    out.append(Unsupported("unresolved", mem.symbol, ins.pos, ins.func,
                                           f"{what} {mem.symbol} is not defined"))
            fn = self._compiled.get(addr)
            message = getattr(fn, "goasm_unimplemented", None)
            if message is not None:
                out.append(Unsupported("unimplemented", ins.mnemonic, ins.pos, ins.func,
                                       message))
        return out

    # ------------------------------------------------------------------ arena

    def slice_at(self, addr: int, n: int, cap: int | None = None) -> SliceAt:
        """A slice argument over ``n`` elements at ``addr`` (memory a test prepared,
        e.g. with :meth:`alloc`): passed as is, nothing copied."""
        return SliceAt(addr, n, n if cap is None else cap)

    def alloc(self, size, align: int = 16) -> int:
        """Zeroed emulated memory in the call arena, ``size`` bytes (or, given bytes,
        that many bytes holding them), e.g. for data a function receives as a raw
        pointer; its address. Calls start from the :meth:`ready` state, so memory
        allocated between calls lives until the next call unless ``fresh=False``."""
        if isinstance(size, (bytes, bytearray, memoryview)):
            data = bytes(size)
            addr = self.alloc(len(data), align)
            self.mem.write(addr, data)
            return addr
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise CallError(f"alloc: a size in bytes or the bytes to store, not {size!r}")
        addr = (self._arena + align - 1) & -align
        end = addr + max(size, 1)
        if end > ARENA_BASE + ARENA_SIZE:
            raise LimitError(f"call arena exhausted allocating {size} bytes")
        self.mem.map(addr, max(size, 1), name="[call arena]")
        self._arena = end
        return addr

    # ------------------------------------------------------------------ values

    def encode_argument(self, function: str, param, value) -> bytes:
        """:meth:`encode` for parameter ``param`` of ``function``: a value that does not
        fit the parameter's Go type is a :class:`CallError` naming the parameter."""
        try:
            return self.encode(param.type, value)
        except CallError as exc:
            raise CallError(f"{function}: argument {param.name} ({param.type}): "
                            f"{exc.message}") from None
        except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as exc:
            raise CallError(f"{function}: argument {param.name} ({param.type}): cannot pass "
                            f"{value!r}: {exc}") from None

    def encode(self, t: GoType, value) -> bytes:
        """The bytes of ``value`` as a Go value of type ``t`` (strings, slices and
        pointees are copied into the arena; see the module docstring). An integer
        outside the range of ``t`` is a :class:`CallError`."""
        k = t.kind
        if k == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise CallError(f"expected an integer, got {value!r}")
            bits = 8 * t.size
            lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if t.signed
                      else (0, (1 << bits) - 1))
            if not lo <= value <= hi:
                raise CallError(f"{value} is out of range for {t} ([{lo}, {hi}])")
            return _wrap(value, bits).to_bytes(t.size, "little")
        if k == "bool":
            if not isinstance(value, (bool, int)) or isinstance(value, int) and \
                    not isinstance(value, bool) and value not in (0, 1):
                raise CallError(f"expected a bool, got {value!r}")
            return b"\x01" if value else b"\x00"
        if k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CallError(f"expected a float, got {value!r}")
            return struct.pack("<f" if t.size == 4 else "<d", float(value))
        if k == "complex":
            if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
                raise CallError(f"expected a complex number, got {value!r}")
            c = complex(value)
            fmt = "<ff" if t.size == 8 else "<dd"
            return struct.pack(fmt, c.real, c.imag)
        if k == "ptr":
            return self._pointer(t, value).to_bytes(8, "little")
        if k in ("func", "chan", "map"):
            return (0 if value is None else int(value) & M64).to_bytes(8, "little")
        if k == "iface":
            a, b = (0, 0) if value is None else value
            return (int(a) & M64).to_bytes(8, "little") + (int(b) & M64).to_bytes(8, "little")
        if k == "string":
            if not isinstance(value, (str, bytes, bytearray, memoryview)):
                raise CallError(f"expected a str or bytes, got {value!r}")
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            ptr = 0
            if data:
                ptr = self.alloc(len(data), 8)
                self.mem.write(ptr, data)
            return ptr.to_bytes(8, "little") + len(data).to_bytes(8, "little")
        if k == "slice":
            if value is None:
                return bytes(24)
            if isinstance(value, SliceAt):
                if value.cap < value.len:
                    raise CallError(f"cap {value.cap} < len {value.len}")
                return b"".join((x & M64).to_bytes(8, "little")
                                for x in (value.addr, value.len, value.cap))
            cap = None
            if isinstance(value, Slice):
                value, cap = value.items, value.cap
            if isinstance(value, (int, float, bool)) or (isinstance(value, str)
                                                          and not t.is_bytes):
                raise CallError(f"expected a sequence for {t}, got {value!r}")
            data = self._elements(t.elem, value)
            n = len(data) // t.elem.size if t.elem.size else len(value)
            cap = n if cap is None else cap
            if cap < n:
                raise CallError(f"{t}: cap {cap} < len {n}")
            ptr = self.alloc(cap * t.elem.size, max(t.elem.align, 8))
            if data:
                self.mem.write(ptr, data)
            return b"".join(x.to_bytes(8, "little") for x in (ptr, n, cap))
        if k == "array":
            if isinstance(value, (int, float, bool)) or value is None:
                raise CallError(f"expected {t.length} elements, got {value!r}")
            data = self._elements(t.elem, value)
            if len(data) != t.size:
                raise CallError(f"{t}: expected {t.length} elements, got {len(value)}")
            return data
        if k == "struct":
            out = bytearray(t.size)
            if isinstance(value, (int, float, bool, str, bytes)) or value is None:
                raise CallError(f"expected a dict or a sequence of fields, got {value!r}")
            if isinstance(value, dict):
                unknown = set(value) - {f for f, _, _ in t.fields}
                if unknown:
                    raise CallError(f"{t}: no field {', '.join(sorted(unknown))}")
                items = [value.get(f) for f, _, _ in t.fields]
            else:
                items = list(value)
                if len(items) != len(t.fields):
                    raise CallError(f"{t}: expected {len(t.fields)} fields, got {len(items)}")
            for (_f, ft, off), v in zip(t.fields, items):
                if v is None and ft.kind not in ("ptr", "slice", "iface", "func", "chan", "map"):
                    v = _zero(ft)
                out[off:off + ft.size] = self.encode(ft, v)
            return bytes(out)
        raise CallError(f"cannot pass a value of type {t}")

    def _elements(self, elem: GoType, value) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)) and elem.kind == "int" \
                and elem.size == 1:
            return bytes(value)
        if isinstance(value, str) and elem.kind == "int" and elem.size == 1:
            return value.encode("utf-8")
        return b"".join(self.encode(elem, v) for v in value)

    def _pointer(self, t: GoType, value) -> int:
        if value is None:
            return 0
        if isinstance(value, Ref) and isinstance(value.value, (bytes, bytearray)):
            value = value.value       # raw pointee bytes (read back after the call)
        if isinstance(value, Ref):
            elem = t.elem or _BYTE
            v = _zero(elem) if value.value is None else value.value
            raw = self.encode(elem, v)
            addr = self.alloc(max(len(raw), 1), max(elem.align, 8))
            self.mem.write(addr, raw)
            return addr
        if isinstance(value, (bytes, bytearray)):
            addr = self.alloc(max(len(value), 1), 16)
            self.mem.write(addr, bytes(value))
            return addr
        if isinstance(value, int) and not isinstance(value, bool):
            return value & M64
        raise CallError(f"{t}: expected an address, a Ref or bytes, got {value!r}")

    def decode(self, t: GoType, raw: bytes):
        """The Python value of Go value bytes ``raw`` of type ``t`` (reading the memory
        strings and slices point to)."""
        k = t.kind
        if k == "int":
            v = int.from_bytes(raw[:t.size], "little")
            return _signed(v, 8 * t.size) if t.signed else v
        if k == "bool":
            return raw[0] != 0
        if k == "float":
            return struct.unpack("<f" if t.size == 4 else "<d", raw[:t.size])[0]
        if k == "complex":
            re_, im = struct.unpack("<ff" if t.size == 8 else "<dd", raw[:t.size])
            return complex(re_, im)
        if k in ("ptr", "func", "chan", "map"):
            return int.from_bytes(raw[:8], "little")
        if k == "iface":
            return (int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little"))
        if k == "string":
            ptr, n = (int.from_bytes(raw[i:i + 8], "little") for i in (0, 8))
            return self._read_elements(_BYTE_SLICE.elem, ptr, n, "string")
        if k == "slice":
            ptr, n = (int.from_bytes(raw[i:i + 8], "little") for i in (0, 8))
            return self._read_elements(t.elem, ptr, n, str(t))
        if k == "array":
            if t.is_bytes:
                return bytes(raw[:t.size])
            es = t.elem.size
            return [self.decode(t.elem, raw[i * es:(i + 1) * es]) for i in range(t.length)]
        if k == "struct":
            return {f: self.decode(ft, raw[off:off + ft.size]) for f, ft, off in t.fields}
        raise CallError(f"cannot decode a value of type {t}")

    def _read_elements(self, elem: GoType, ptr: int, n: int, what: str):
        if n > (1 << 40) or n < 0:
            raise CallError(f"{what} of implausible length {n}")
        size = n * elem.size
        if size == 0:
            return b"" if elem.kind == "int" and elem.size == 1 and not elem.signed else []
        data = self.mem.read(ptr, size)
        if elem.kind == "int" and elem.size == 1 and not elem.signed:
            return data
        es = elem.size
        return [self.decode(elem, data[i * es:(i + 1) * es]) for i in range(n)]

    def read_value(self, t: GoType, addr: int):
        """The Go value of type ``t`` stored at ``addr``."""
        return self.decode(t, self.mem.read(addr, t.size) if t.size else b"")


_BYTE = GoType("int", 1, 1, "byte")
_BYTE_SLICE = GoType("slice", 24, 8, "[]byte", elem=_BYTE)


def _zero(t: GoType):
    k = t.kind
    if k == "int":
        return 0
    if k == "bool":
        return False
    if k == "float":
        return 0.0
    if k == "complex":
        return 0j
    if k == "string":
        return b""
    if k == "array":
        return bytes(t.length) if t.is_bytes else [_zero(t.elem) for _ in range(t.length)]
    if k == "struct":
        return {f: _zero(ft) for f, ft, _ in t.fields}
    return None


class _CallFrame:
    """One call's frame on the goroutine stack (see the module docstring)."""

    def __init__(self, machine: Machine, fn, sig: Signature, internal: bool) -> None:
        self.m = machine
        self.fn = fn
        self.sig = sig
        self.internal = internal
        self.layout = sig.internal() if internal else None
        self.passed: list = []
        self.readback: list = []
        self.base = 0
        self.entry_sp = 0

    def _stack_bounds(self) -> tuple[int, int, int]:
        m = self.m
        L = m.model.layout
        g = m.model.current_g(m)
        lo = m.mem.read_u64(g + L.g_stack("lo"))
        hi = m.mem.read_u64(g + L.g_stack("hi"))
        return g, lo, hi

    def build(self, args, state=None) -> None:
        m = self.m
        sig = self.sig
        size = self.layout.size if self.internal else sig.frame_size
        used = getattr(state, "stack_used", 0) & ~7
        g, lo, hi = self._stack_bounds()
        L = m.model.layout
        need = size + 256 + L.stack_guard + used
        while hi - lo < need:            # grow the goroutine's stack first (copystack)
            m.model.copystack(m, g, 2 * (hi - lo))
            g, lo, hi = self._stack_bounds()
        fake_bp = hi - 48                # the caller's saved-BP slot: end of the chain
        m.mem.write_u64(fake_bp, 0)
        base = (fake_bp - used - size) & ~15
        m.mem.write(base, bytes(size))
        regs = m.cpu.regs
        xmm = m.cpu.xmm
        regs[:] = [0] * 16
        xmm[:] = [0] * len(xmm)
        m.cpu.vhi[:] = [0] * len(xmm)
        m.cpu.set_rflags(0)
        for name, value in (getattr(state, "regs", None) or {}).items():
            if name in ("SP", "BP", "R14", "g", "PC"):
                raise CallError(f"call state: {name} is set by the call itself")
            m.set_reg(name, value)
        values = []
        for p, v in zip(sig.params, args):
            raw = m.encode_argument(self.fn.name, p, v)
            values.append(raw)
            self.passed.append(v)
            self.readback.append(self._readback_of(p.type, v, raw))
        if self.internal:
            for a, raw in zip(self.layout.args, values):
                if a.regs:
                    _to_registers(m, a.param.type, raw, a.regs)
                else:
                    m.mem.write(base + a.offset, raw)
        else:
            for p, raw in zip(sig.params, values):
                m.mem.write(base + p.offset, raw)
        regs[4] = base - 8
        m.mem.write_u64(base - 8, TRAP)
        regs[5] = fake_bp
        regs[14] = g
        m.cpu.pc = self.fn.symbol.addr
        self.base = base
        self.entry_sp = base - 8

    def _readback_of(self, t: GoType, v, raw: bytes):
        """How to show argument ``v`` after the call: (type, address, length) of the
        memory it was copied to, or None to show it as passed."""
        if t.kind == "slice" and v is not None:
            ptr, n = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")
            return ("elements", t.elem, ptr, n)
        if t.kind == "string" and v is not None:
            ptr, n = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")
            return ("elements", _BYTE, ptr, n)
        if t.kind == "ptr" and isinstance(v, Ref) and isinstance(v.value, (bytes, bytearray)):
            return ("raw", v.value, int.from_bytes(raw[:8], "little"), len(v.value))
        if t.kind == "ptr" and isinstance(v, (bytes, bytearray)):
            return ("raw", v, int.from_bytes(raw[:8], "little"), len(v))
        if t.kind == "ptr" and isinstance(v, Ref):
            return ("value", t.elem or _BYTE, int.from_bytes(raw[:8], "little"), 0)
        return None

    def sp_at_return(self) -> int:
        """The argument area at return: SP after RET popped the trap address."""
        return self.m.cpu.regs[4]

    def results(self) -> tuple:
        m = self.m
        base = self.sp_at_return()
        out = []
        if self.internal:
            for a in self.layout.results:
                if a.regs:
                    out.append(m.decode(a.param.type, _from_registers(m, a.param.type, a.regs)))
                else:
                    out.append(m.read_value(a.param.type, base + a.offset))
            return tuple(out)
        for p in self.sig.results:
            out.append(m.read_value(p.type, base + p.offset))
        return tuple(out)

    def args_after(self) -> tuple:
        out = []
        for v, rb in zip(self.passed, self.readback):
            if rb is None:
                out.append(v)
            elif rb[0] == "elements":
                _, elem, ptr, n = rb
                out.append(self.m._read_elements(elem, ptr, n, "argument"))
            elif rb[0] == "raw":
                _, original, ptr, n = rb
                data = self.m.mem.read(ptr, n) if n else b""
                if isinstance(original, bytearray):
                    original[:] = data          # the caller's buffer, updated in place
                out.append(Ref(data) if isinstance(v, Ref) else data)
            else:
                _, elem, ptr, _n = rb
                out.append(Ref(self.m.read_value(elem, ptr)))
        return tuple(out)


def _base_values(t: GoType, raw: bytes) -> list:
    """ABIInternal: the base values of a value (abi-internal.md "Register-assignment"),
    as ``(kind, size, bytes)``."""
    k = t.kind
    if k in ("int", "bool", "ptr", "func", "chan", "map"):
        return [("int", t.size, raw[:t.size])]
    if k == "float":
        return [("float", t.size, raw[:t.size])]
    if k == "complex":
        h = t.size // 2
        return [("float", h, raw[:h]), ("float", h, raw[h:t.size])]
    if k in ("string", "iface"):
        return [("int", 8, raw[:8]), ("int", 8, raw[8:16])]
    if k == "slice":
        return [("int", 8, raw[i:i + 8]) for i in (0, 8, 16)]
    if k == "struct":
        out = []
        for _f, ft, off in t.fields:
            out.extend(_base_values(ft, raw[off:off + ft.size]))
        return out
    if k == "array":
        return _base_values(t.elem, raw) if t.length == 1 else []
    raise CallError(f"cannot pass {t} in registers")


def _to_registers(m: Machine, t: GoType, raw: bytes, regs: tuple) -> None:
    for (kind, size, data), reg in zip(_base_values(t, raw), regs):
        value = int.from_bytes(data, "little")
        if kind == "int":
            m.set_reg(reg, value)       # zero-extended, as the compiler's MOVx does
        else:
            m.cpu.xmm[FREG[reg]] = value


def _from_registers(m: Machine, t: GoType, regs: tuple) -> bytes:
    """Reassemble a value's bytes from its result registers."""
    shapes = _base_values(t, bytes(t.size))
    out = bytearray(t.size)
    offsets = _base_offsets(t, 0)
    for (kind, size, _d), reg, off in zip(shapes, regs, offsets):
        v = m.reg(reg) if kind == "int" else m.cpu.xmm[FREG[reg]]
        out[off:off + size] = (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(out)


def _base_offsets(t: GoType, off: int) -> list:
    k = t.kind
    if k in ("complex",):
        return [off, off + t.size // 2]
    if k in ("string", "iface"):
        return [off, off + 8]
    if k == "slice":
        return [off, off + 8, off + 16]
    if k == "struct":
        out = []
        for _f, ft, foff in t.fields:
            out.extend(_base_offsets(ft, off + foff))
        return out
    if k == "array":
        return _base_offsets(t.elem, off) if t.length == 1 else []
    return [off]

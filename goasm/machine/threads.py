"""A machine for real programs: code decoded lazily, several threads, signals for faults.

:class:`ThreadedMachine` is a :class:`goasm.machine.machine.Machine` whose kernel
(``machine.syscall``) is a :class:`goasm.machine.kernel.ThreadedLinux`. Two things
differ from the base machine:

Lazy code
    The image's ``code`` may be a mapping that decodes on demand (:class:`LazyCode`,
    for an ELF executable: nothing is decoded up front). Instructions are compiled to
    closures when they are first reached, in every run loop (the tables the loops use
    are :class:`_CodeTable`\\ s whose misses compile), and the translator still turns
    hot regions into Python functions.

Threads
    :meth:`run` and :meth:`step` hand the CPU to the next thread when the running one
    has used its quantum: the switch happens when ``steps`` reaches the kernel's
    ``next_switch``, an exact instruction count, so the interleaving is the same in the
    fast loop, under ``--trace`` (which steps) and in the debugger. Blocking system calls
    switch threads inside the call (see :mod:`goasm.machine.kernel`). A fault whose
    signal the program handles (Go installs a SIGSEGV handler) is delivered as a signal
    instead of ending the run.

The state of every thread lives in the kernel object, so the debugger's snapshots of
the kernel cover all threads (:mod:`goasm.debug.history`).
"""

from __future__ import annotations

import gc
import os

from goasm.errors import DecodeError, LinkError, MachineFault, UnimplementedError
from goasm.machine.machine import Machine, StopReason


TRANSLATE_AFTER = 2_000_000
"""Instructions a program runs on closures before hot code is translated."""

HOT_LATE = 200
"""Dispatches of a pc before it is translated, after :data:`TRANSLATE_AFTER`."""

GC_THRESHOLD = 100_000
"""Allocations between collections of the youngest generation while a threaded machine
runs (Python's default is 700)."""


class LazyCode(dict):
    """``image.code`` for compiled code: address -> :class:`goasm.image.LInstr`, filled
    on first access by ``decode(addr)`` (which returns the instruction or None when
    there is no code at ``addr``). ``get``, ``in`` and ``[]`` all decode; iterating
    shows only what was decoded so far."""

    __slots__ = ("decode",)

    def __init__(self, decode) -> None:
        super().__init__()
        self.decode = decode

    def __missing__(self, addr):
        ins = self.decode(addr)
        if ins is None:
            raise KeyError(addr)
        self[addr] = ins
        return ins

    def get(self, addr, default=None):
        try:
            return self[addr]
        except KeyError:
            return default

    def __contains__(self, addr) -> bool:
        return self.get(addr) is not None


class _CodeTable(dict):
    """The machine's address -> closure tables (``_compiled``, ``_code``) over lazy code:
    a miss compiles the instruction at that address (KeyError when there is none)."""

    __slots__ = ("machine",)

    def __init__(self, machine) -> None:
        super().__init__()
        self.machine = machine

    def __missing__(self, addr):
        fn = self.machine._compile_at(addr)
        if fn is None:
            raise KeyError(addr)
        return fn

    def get(self, addr, default=None):
        try:
            return self[addr]
        except KeyError:
            return default

    def __contains__(self, addr) -> bool:
        return self.get(addr) is not None


class ThreadedMachine(Machine):
    """See the module docstring. ``machine.syscall`` must be set to the kernel before
    running."""

    decoded_code = True
    """The image's code is decoded machine code (of a real executable): the compiler
    skips the checks of Go's assembler (:meth:`goasm.machine.semantics.Compiler.generate`)."""

    def __init__(self, image, **kwargs) -> None:
        super().__init__(image, **kwargs)
        self._compiled = _CodeTable(self)
        self._code = _CodeTable(self)
        self.decoded_code = isinstance(image.code, LazyCode)

    def _translator(self):
        """Closures for a program's start-up, translated regions once it has run
        :data:`TRANSLATE_AFTER` instructions (then only code dispatched :data:`HOT_LATE`
        times), unless ``GOASM_ENGINE`` chooses. A Go program's start-up runs ~20 K
        distinct instructions a few times each, where translating costs more than it
        saves (println: 2.2 s of CPU with closures, 3.0-4.6 s translated from the start);
        a long computation gains (26 M instructions of sha256 + sort: 13.4 s with
        closures, 9.8 s translated at 200 dispatches)."""
        if os.environ.get("GOASM_ENGINE", "").strip():
            return super()._translator()
        if self.steps < TRANSLATE_AFTER:
            return None
        tr = self.__dict__.get("_translator_obj")
        if tr is None:          # stored where the machine invalidates translations
            from goasm.machine.translate import Translator

            tr = self._translator_obj = Translator(self, threshold=HOT_LATE)
        return tr

    # ---------------------------------------------------------------- lazy code

    def _compile_at(self, addr: int):
        """Compile the instruction at ``addr`` into both tables (a native keeps its
        closure in ``_code``); None when there is no instruction there."""
        try:
            ins = self.image.code.get(addr)
        except DecodeError as err:
            ins = None
            fn = _undecodable(self, addr, err)
            dict.__setitem__(self._compiled, addr, fn)
            if addr not in self.natives:
                dict.__setitem__(self._code, addr, fn)
            return dict.__getitem__(self._code, addr)
        if ins is None:
            return None
        try:
            fn = self.compiler.compile(ins, checked=self.decoded_code)
        except LinkError as err:       # a form Go's assembler would not write
            fn = _unimplemented(f"unimplemented instruction at {self.image.describe(addr)}: "
                                f"{err.message}")
        dict.__setitem__(self._compiled, addr, fn)
        if addr in self.natives:
            return dict.__getitem__(self._code, addr)
        dict.__setitem__(self._code, addr, fn)
        return fn

    # ---------------------------------------------------------------- threads

    @property
    def kernel(self):
        """The kernel (``machine.syscall``) when it schedules threads, else None."""
        k = self.syscall
        return k if hasattr(k, "preempt") else None

    def thread_id(self) -> int | None:
        """The id of the thread on the CPU (None without a threaded kernel)."""
        k = self.kernel
        return k.current if k is not None else None

    def _switch_due(self, k) -> None:
        if self.steps >= k.next_switch:
            k.preempt(self)

    def prepare_step(self) -> None:
        """Make the thread switch due before the next instruction now (tools that show
        the pc and thread before calling :meth:`step` call this first)."""
        k = self.kernel
        if k is not None:
            self._switch_due(k)

    def step(self) -> StopReason:
        """One instruction of the thread on the CPU (after a quantum switch when one is
        due); a handled fault delivers its signal and counts as the step."""
        k = self.kernel
        if k is None:
            return super().step()
        self._switch_due(k)
        try:
            return super().step()
        except MachineFault as fault:
            if not k.deliver_fault(self, fault):
                raise
            return StopReason("step", self.cpu.pc)

    def run(self, *, until=None, max_steps: int | None = None) -> StopReason:
        """:meth:`Machine.run` over all threads: each slice runs up to the next quantum
        switch (see the module docstring). Python's cyclic garbage collector runs less
        often meanwhile (decoding and compiling make many small objects, few cycles:
        ~13% of a Go program's start-up was collections)."""
        k = self.kernel
        if k is None:
            return super().run(until=until, max_steps=max_steps)
        old = gc.get_threshold()
        if old[0] < GC_THRESHOLD:
            gc.set_threshold(GC_THRESHOLD, *old[1:])
        try:
            return self._run_threads(k, until, max_steps)
        finally:
            gc.set_threshold(*old)

    def _run_threads(self, k, until, max_steps) -> StopReason:
        remaining = max_steps
        first = True
        while True:
            if remaining is not None and remaining <= 0:
                return StopReason("max_steps", self.cpu.pc)
            self._switch_due(k)
            if not first and until is not None:
                if (until(self) if callable(until) else self.cpu.pc == until):
                    return StopReason("until", self.cpu.pc)
            first = False
            budget = max(k.next_switch - self.steps, 1)
            if remaining is not None and remaining < budget:
                budget = remaining
            before = self.steps
            try:
                r = super().run(until=until, max_steps=budget)
            except MachineFault as fault:
                if not k.deliver_fault(self, fault):
                    raise
                r = None
            if remaining is not None:
                remaining -= self.steps - before
            if r is not None and r.kind != "max_steps":
                return r


def _undecodable(machine, addr: int, err: DecodeError):
    """The closure for bytes that are not an instruction goasm can run: invalid machine
    code raises SIGILL (#UD), as the CPU does; a valid instruction without a Go spelling
    is an :class:`UnimplementedError` naming it."""
    where = machine.image.describe(addr)
    if str(err.message).startswith(("invalid instruction", "truncated instruction")):
        def _illegal():
            raise MachineFault(f"illegal instruction at {where}: {err.message}",
                               signal="SIGILL", addr=addr, pc=addr, code="ILL_ILLOPN")
        return _illegal

    return _unimplemented(f"unimplemented instruction at {where}: {err.message}")


def _unimplemented(message: str):
    def _raise():
        raise UnimplementedError(message)
    return _raise

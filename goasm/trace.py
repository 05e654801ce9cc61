"""``goasm run --trace``: every executed instruction, and runtime events in words.

One line per instruction: ``symbol+offset``, ``file:line``, the instruction as the
loader executes it, then the registers it changed -- prefixed with ``[tid]``, the thread
running it, in a program with threads (a real Go binary) (``AX=0x1``, ``SP=...``, ``FLAGS``,
``FS``). Runtime events (TLS base set, g0 stack bounds, goroutine created, context
switch, stack growth, syscalls) are printed as ``# ...`` lines when they happen.

Tracing is the slow path by design (DESIGN.md, performance): it single-steps the
machine and never touches the fast loop.
"""

from __future__ import annotations

import os

from goasm.arch.amd64 import GPR64


def short_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class Tracer:
    """Single-steps ``machine`` and writes the trace to ``out`` (a text stream)."""

    def __init__(self, machine, model, out):
        self.machine = machine
        self.model = model
        self.out = out
        self.seen_events = 0
        self.tid = None

    def _thread(self):
        """The id of the thread about to run (programs with threads: real Go binaries,
        :class:`goasm.machine.threads.ThreadedMachine`), else None."""
        thread_id = getattr(self.machine, "thread_id", None)
        return thread_id() if thread_id is not None else None

    def _registers(self):
        cpu = self.machine.cpu
        return (tuple(cpu.regs), cpu.get_rflags(), cpu.fs_base)

    def _changes(self, before, after) -> str:
        parts = []
        for name, a, b in zip(GPR64, before[0], after[0]):
            if a != b:
                parts.append(f"{name}={b:#x}")
        if before[1] != after[1]:
            parts.append(f"FLAGS={after[1]:#x}")
        if before[2] != after[2]:
            parts.append(f"FS={after[2]:#x}")
        return " ".join(parts)

    def _events(self) -> None:
        events = getattr(self.model, "events", None)
        if events is None:
            return
        while self.seen_events < len(events):
            self.out.write(f"# {events[self.seen_events]}\n")
            self.seen_events += 1

    def line(self, pc: int, before, after) -> str:
        machine = self.machine
        ins = machine.image.code.get(pc)
        where = machine.image.describe(pc)
        pos = ins.pos if ins is not None else None
        src = f"{short_path(pos.file)}:{pos.line}" if pos is not None else "-"
        text = str(ins).replace("\t", " ") if ins is not None else "(runtime model)"
        changes = self._changes(before, after)
        line = f"{where:<32} {src:<28} {text:<40} {changes}".rstrip()
        return f"[{self.tid}] {line}" if self.tid is not None else line

    def run(self, *, until=None):
        """Step until exit, ``until`` (an address) or a fault; returns the StopReason."""
        machine = self.machine
        self._events()
        prepare = getattr(machine, "prepare_step", None)
        while True:
            if prepare is not None:     # a thread switch due now happens before the line
                prepare()
                self._events()
            pc = machine.cpu.pc
            if until is not None and pc == until and machine.steps > 0:
                from goasm.machine.machine import StopReason

                self.out.flush()
                return StopReason("until", pc)
            before = self._registers()
            self.tid = self._thread()
            try:
                reason = machine.step()
            except BaseException:
                self.out.write(self.line(pc, before, self._registers()) + "  <- stopped here\n")
                self._events()
                self.out.flush()
                raise
            self.out.write(self.line(pc, before, self._registers()) + "\n")
            self._events()
            if reason.kind != "step":
                self.out.flush()
                return reason

"""Breakpoints, tracepoints and watchpoints: one numbered table (ids shared, as in
delve), what each one is on, and whether it triggers.

Breakpoints take location specs (:mod:`goasm.debug.locations`) or runtime events of the
bootstrap: ``settls`` (entry of ``runtime·settls``, about to call
``arch_prctl(ARCH_SET_FS)``), ``morestack``, ``newstack`` (stack growth), ``gogo`` (a
switch to a goroutine) and ``syscall [name|number]`` (before any SYSCALL instruction,
optionally only for that system call). Watchpoints are memory ranges watched for reads,
writes or both (delve's ``watch -r|-w|-rw``), served by :meth:`goasm.machine.memory.Memory.watch`.
"""

from __future__ import annotations

import re
import types

import attrs

from goasm.debug.errors import CommandError

EVENTS = types.MappingProxyType({
    "settls": ("runtime.settls",
               "runtime·settls is about to call arch_prctl(ARCH_SET_FS, &m0.tls+8)"),
    "morestack": ("runtime.morestack",
                  "a function's stack-split check failed: morestack saves its context "
                  "and switches to g0"),
    "newstack": ("runtime.newstack",
                 "newstack (on g0) is about to double the goroutine's stack and copy it"),
    "gogo": ("runtime.gogo", "gogo is about to switch to the goroutine in its gobuf"),
})
"""Runtime events a breakpoint can name: event -> (symbol, what stopping there shows)."""


@attrs.define
class Breakpoint:
    """A breakpoint, tracepoint (``tracepoint``: reports, does not stop) or watchpoint
    (``watch``: ``"r"``, ``"w"`` or ``"rw"`` on ``[addrs[0], addrs[0] + size)``)."""

    id: int
    spec: str
    addrs: tuple
    desc: str
    event: str | None = None
    syscall_nr: int | None = None
    cond: str | None = None
    enabled: bool = True
    tracepoint: bool = False
    hits: int = 0
    watch: str | None = None
    size: int = 0

    @property
    def kind(self) -> str:
        if self.watch:
            return "Watchpoint"
        return "Tracepoint" if self.tracepoint else "Breakpoint"


@attrs.frozen
class WatchHit:
    """A watched access: the watchpoint, ``access`` (``read``/``write``), the bytes
    touched (``addr``, ``size``) and the watched value before and after."""

    bp: Breakpoint
    access: str
    addr: int
    size: int
    old: int
    new: int


def parse_condition(spec: str) -> tuple:
    """``LOCSPEC [if EXPR]`` -> (LOCSPEC, EXPR or None)."""
    m = re.match(r"(.*?)\s+if\s+(.+)$", spec)
    return (m.group(1), m.group(2)) if m else (spec, None)


def parse_watch(arg: str) -> tuple:
    """``[-r|-w|-rw] EXPR`` -> (mode, EXPR); without a flag, writes (gdb's ``watch``)."""
    words = arg.split(None, 1)
    if words and words[0] in ("-r", "-w", "-rw"):
        if len(words) < 2:
            raise CommandError("usage: watch [-r|-w|-rw] <expr>")
        return words[0][1:], words[1]
    if words and words[0].startswith("-") and not words[0][1:2].isdigit():
        raise CommandError(f"wrong argument {words[0]!r} to watch (-r, -w or -rw)")
    if not arg.strip():
        raise CommandError("usage: watch [-r|-w|-rw] <expr>")
    return "w", arg.strip()


class Breakpoints:
    """The session's numbered breakpoints with an index by code address."""

    def __init__(self) -> None:
        self.all: dict[int, Breakpoint] = {}
        self.next_id = 1
        self.by_addr: dict = {}

    def __iter__(self):
        return iter(self.all.values())

    def __len__(self) -> int:
        return len(self.all)

    def add(self, **fields) -> Breakpoint:
        bp = Breakpoint(self.next_id, **fields)
        self.next_id += 1
        self.all[bp.id] = bp
        self.reindex()
        return bp

    def get(self, ident) -> Breakpoint:
        text = str(ident).strip()
        if not text.isdigit() or int(text) not in self.all:
            raise CommandError(f"no breakpoint {text!r}")
        return self.all[int(text)]

    def remove(self, bp: Breakpoint) -> None:
        del self.all[bp.id]
        self.reindex()

    def clear(self) -> None:
        self.all.clear()
        self.reindex()

    def reindex(self) -> None:
        idx: dict = {}
        for bp in self.all.values():
            if bp.enabled and not bp.watch:
                for a in bp.addrs:
                    idx.setdefault(a, []).append(bp)
        self.by_addr = idx

    def watchpoints(self) -> list:
        return [bp for bp in self.all.values() if bp.watch and bp.enabled]

    def reset_hits(self) -> None:
        for bp in self.all.values():
            bp.hits = 0

    @staticmethod
    def triggers(bp: Breakpoint, machine, condition) -> bool:
        """Whether ``bp`` (at the current pc) triggers: its system call number matches
        and ``condition(bp)`` holds (evaluated only when it has one)."""
        if bp.syscall_nr is not None and machine.cpu.regs[0] != bp.syscall_nr:
            return False
        return not bp.cond or condition(bp)

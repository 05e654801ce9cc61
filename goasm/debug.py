"""``goasm debug``: step through a program and Go's start-up, with delve's commands.

A command interpreter over one emulated process (:func:`goasm.api.start`). Command
names, aliases and behaviour follow delve's command reference (go-delve/delve,
``Documentation/cli/README.md``): ``break``/``b``, ``breakpoints``/``bp``, ``clear``,
``clearall``, ``condition``/``cond``, ``toggle``, ``continue``/``c``, ``next``/``n``,
``step``/``s`` and ``step-instruction``/``si`` (both one instruction here: the unit of
an assembly program), ``stepout``/``so``, ``rev``, ``rewind``/``rw``, ``restart``/``r``,
``regs``, ``print``/``p``, ``examinemem``/``x``, ``display``, ``stack``/``bt``,
``goroutines``/``grs``, ``list``/``ls``/``l``, ``disassemble``/``disass``, ``funcs``,
``source``, ``help``/``h``, ``exit``/``quit``/``q``. goasm adds ``stackmap`` (a picture
of a goroutine's stack, to scale), ``events`` (the runtime's event log) and ``trace
on|off`` (print every executed instruction, as ``goasm run --trace`` does; ``trace
LOCSPEC`` is delve's tracepoint).

Breakpoints take delve's location specs (``runtime·settls``, ``main.sum+0x3``,
``file.s:LINE``, ``*0xADDR``) and runtime events of the bootstrap: ``settls`` (entry of
``runtime·settls``, about to call ``arch_prctl(ARCH_SET_FS)``), ``morestack``,
``newstack`` (stack growth), ``gogo`` (a switch to a goroutine) and ``syscall [name]``
(before any SYSCALL instruction, optionally only for that system call).

Reverse execution (``rev step``, ``rev next``, ``rev stepout``, ``rev continue``):
the machine is deterministic (virtual clock, no host input unless given), so a past
state is reached by restoring a snapshot and executing forward. :class:`History` keeps
whole-process snapshots (CPU, memory, the runtime model's and the kernel's Python
state, the program's stream positions) at step 0, every ``snapshot_interval`` steps and
at every stop; pages equal to those of the previous snapshot are shared. Program output
is written once per session: each stream counts the bytes the program has produced and
only bytes beyond the furthest point ever reached are passed on, so re-execution (for
``rev``, or forward again after it) never duplicates output.

Program input and output: what the program writes to fd 1 and 2 goes to the
debugger's output stream (interleaved in order with the debugger's own lines) unless
other streams are given; its stdin is empty unless a stream is given (the terminal
belongs to the debugger's prompt).

The CLI (``goasm debug``) calls :func:`main`; ``python -m goasm.debug FILE.s`` works
too. Commands are read with readline (history, line editing) when the input is a
terminal and line by line otherwise, so sessions can be scripted; ``--init FILE`` runs
a command file first (delve's ``--init``). End of input quits.
"""

from __future__ import annotations

import argparse
import bisect
import codecs
import copy
import os
import re
import sys
import types

import attrs

from goasm import ir
from goasm.arch.amd64 import GPR64, TEXTFLAG
from goasm.machine.state import PRESETS
from goasm.errors import GoasmError, LimitError, MachineFault, UnimplementedError

M64 = (1 << 64) - 1
PROMPT = "(goasm) "

DELVE_CLI = "go-delve/delve Documentation/cli/README.md"

# Runtime events a breakpoint can name: event -> (symbol, what stopping there shows).
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

# Registers in the order ``regs`` prints them (Plan 9 names).
REG_ORDER = ("PC", "SP", "BP", "AX", "BX", "CX", "DX", "SI", "DI", "R8", "R9", "R10", "R11",
             "R12", "R13", "R14", "R15", "FLAGS", "FS", "GS")

# AMD64 (Intel) register names accepted by ``print``, mapped to Plan 9 names.
INTEL_NAMES = types.MappingProxyType({
    "RAX": "AX", "RBX": "BX", "RCX": "CX", "RDX": "DX", "RSI": "SI", "RDI": "DI",
    "RBP": "BP", "RSP": "SP", "RIP": "PC", "EFLAGS": "FLAGS", "RFLAGS": "FLAGS",
    "FS_BASE": "FS", "GS_BASE": "GS",
})

_FLAG_BITS = (("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9),
              ("DF", 10), ("OF", 11))

# Field types of the runtime structs (runtime/runtime2.go, runtime/stack.go); offsets
# come from the layout (goasm.machine.layout). "*g" fields are dereferenced by a
# further field access, as delve does.
STRUCT_FIELDS = types.MappingProxyType({
    "stack": types.MappingProxyType({"lo": "uintptr", "hi": "uintptr"}),
    "gobuf": types.MappingProxyType({
        "sp": "uintptr", "pc": "uintptr", "g": "*g", "ctxt": "uintptr", "ret": "uintptr",
        "lr": "uintptr", "bp": "uintptr"}),
    "funcval": types.MappingProxyType({"fn": "uintptr"}),
    "g": types.MappingProxyType({
        "stack": "stack", "stackguard0": "uintptr", "stackguard1": "uintptr",
        "_panic": "uintptr", "_defer": "uintptr", "m": "*m", "sched": "gobuf",
        "syscallsp": "uintptr", "syscallpc": "uintptr", "syscallbp": "uintptr",
        "stktopsp": "uintptr", "param": "uintptr", "atomicstatus": "uint32",
        "goid": "uint64", "schedlink": "*g", "preempt": "bool", "lockedm": "*m",
        "parentGoid": "uint64", "gopc": "uintptr", "startpc": "uintptr"}),
    "m": types.MappingProxyType({
        "g0": "*g", "morebuf": "gobuf", "procid": "uint64", "gsignal": "*g",
        "tls": "[tls]uintptr", "mstartfn": "uintptr", "curg": "*g", "p": "uintptr",
        "id": "int64", "locks": "int32", "alllink": "*m", "schedlink": "*m",
        "lockedg": "*g"}),
})

_SCALARS = types.MappingProxyType({
    "uintptr": (8, False), "uint64": (8, False), "int64": (8, True), "uint32": (4, False),
    "int32": (4, True), "bool": (1, False), "uint8": (1, False),
})

_DECIMAL_FIELDS = frozenset({"goid", "atomicstatus", "id", "locks", "parentGoid", "procid",
                             "preempt"})


class CommandError(Exception):
    """A command cannot be carried out; the message is shown as ``Command failed: ...``."""


# =========================================================================== streams

class ProgramOutput:
    """A binary stream the emulated program writes fd 1 or 2 to.

    ``pos`` counts the bytes produced on the current timeline (saved with every
    snapshot); ``high`` is the furthest ever reached. Only bytes beyond ``high`` are
    passed to ``target``, so re-executing a stretch already shown writes nothing.
    ``target`` is a binary or a text stream (then decoded as UTF-8).
    """

    def __init__(self, target, before_write=None) -> None:
        self.target = target
        self.before_write = before_write
        self.pos = 0
        self.high = 0
        self.dangling = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data) -> int:
        data = bytes(data)
        start = self.pos
        self.pos += len(data)
        if self.pos <= self.high:
            return len(data)
        fresh = data[max(0, self.high - start):]
        self.high = self.pos
        if self.target is None or not fresh:
            return len(data)
        if self.before_write is not None:
            self.before_write()
        try:
            self.target.write(fresh)
        except TypeError:
            self.target.write(self._decoder.decode(fresh))
        self.dangling = not fresh.endswith(b"\n")
        try:
            self.target.flush()
        except (AttributeError, ValueError):
            pass
        return len(data)

    def flush(self) -> None:
        pass


class ReplayableInput:
    """The program's stdin: every byte read is kept, so that re-execution after a
    ``rev`` reads the same bytes again (``pos`` is part of each snapshot)."""

    def __init__(self, source=None) -> None:
        self.source = source
        self.buffer = bytearray()
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        want = n if n is not None and n >= 0 else 1 << 20
        if self.pos + want > len(self.buffer) and self.source is not None:
            more = self.source.read(self.pos + want - len(self.buffer))
            if isinstance(more, str):
                more = more.encode("utf-8")
            self.buffer += more or b""
        data = bytes(self.buffer[self.pos:self.pos + want])
        self.pos += len(data)
        return data


# =========================================================================== history

@attrs.frozen
class ProcessState:
    """Everything that changes while the program runs: the machine's snapshot and the
    Python state of the runtime model and of the kernel, with stream positions."""

    steps: int
    machine: object
    model: dict
    linux: dict
    events: int
    out_pos: tuple
    in_pos: int


class History:
    """Snapshots of one process keyed by step count (see the module docstring).

    ``take()`` records the current state (once per step count); ``restore(step)``
    returns to the latest snapshot at or before ``step`` and says which one it was.
    Beyond ``limit`` snapshots the one closing the smallest gap is dropped (never step
    0 nor the latest), so old history thins out instead of growing without bound.
    """

    def __init__(self, proc, outputs, stdin, *, interval: int, limit: int) -> None:
        self.proc = proc
        self.outputs = outputs
        self.stdin = stdin
        self.interval = max(1, interval)
        self.limit = max(4, limit)
        self.states: dict[int, ProcessState] = {}
        self.order: list[int] = []
        self._last_pages: dict = {}

    def _keep(self) -> dict:
        proc = self.proc
        keep = [proc.machine, proc.machine.image, getattr(proc.model, "layout", None),
                proc.model.events,
                proc.linux, proc.model, self.stdin, *self.outputs]
        keep += list(proc.linux.streams.values())
        return {id(x): x for x in keep if x is not None}

    def take(self) -> None:
        """Snapshot the current state (no-op when one exists for this step)."""
        proc = self.proc
        steps = proc.machine.steps
        if steps in self.states:
            return
        snap = proc.machine.snapshot()
        pages = {}
        last = self._last_pages
        for pn, entry in snap.memory.items():
            prev = last.get(pn)
            pages[pn] = prev if prev is not None and prev == entry else entry
        snap = attrs.evolve(snap, memory=pages)
        self._last_pages = pages
        state = ProcessState(
            steps, snap,
            copy.deepcopy(vars(proc.model), self._keep()),
            copy.deepcopy(vars(proc.linux), self._keep()),
            len(proc.model.events),
            tuple(o.pos for o in self.outputs),
            self.stdin.pos)
        self.states[steps] = state
        bisect.insort(self.order, steps)
        while len(self.order) > self.limit:
            self._thin()

    def _thin(self) -> None:
        order = self.order
        best, best_gap = None, None
        for i in range(1, len(order) - 1):
            gap = order[i + 1] - order[i - 1]
            if best_gap is None or gap < best_gap:
                best, best_gap = i, gap
        if best is None:
            return
        del self.states[order[best]]
        del order[best]

    def at_or_before(self, step: int) -> int:
        i = bisect.bisect_right(self.order, step) - 1
        if i < 0:
            raise CommandError(f"no snapshot at or before step {step}")
        return self.order[i]

    def restore(self, step: int) -> int:
        """Restore the latest snapshot at or before ``step``; returns its step."""
        at = self.at_or_before(step)
        state = self.states[at]
        proc = self.proc
        proc.machine.restore(state.machine)
        del proc.model.events[state.events:]
        for obj, saved in ((proc.model, state.model), (proc.linux, state.linux)):
            fresh = copy.deepcopy(saved, self._keep())
            vars(obj).clear()
            vars(obj).update(fresh)
        for out, pos in zip(self.outputs, state.out_pos):
            out.pos = pos
        self.stdin.pos = state.in_pos
        return at

    def next_boundary(self, step: int) -> int:
        """The next step count at which a periodic snapshot is due."""
        return (step // self.interval + 1) * self.interval


# =========================================================================== frames

@attrs.frozen
class Frame:
    """One stack frame: ``pc`` (the return address for callers), ``sp`` and ``cfa``
    (the caller's SP: just above the return address), None when unknown."""

    pc: int
    sp: int
    cfa: int | None
    caller: bool


def _sp_effect(ins):
    """How an instruction moves SP (bytes pushed: +8 for PUSHQ), None when it sets SP
    to something the frame analysis cannot follow (MOVQ x, SP; ANDQ $~15, SP)."""
    op = ins.op
    args = ins.args
    if op in ("PUSHQ", "PUSHFQ"):
        return 8
    if op in ("PUSHW", "PUSHFW"):
        return 2
    if op in ("POPQ", "POPFQ"):
        return -8
    if op in ("POPW", "POPFW"):
        return -2
    if op == "ADJSP" and args and isinstance(args[0], ir.Imm):
        return args[0].value
    if not args:
        return 0
    last = args[-1]
    if not (isinstance(last, ir.Reg) and last.name == "SP"):
        return 0
    if op.startswith(("CMP", "TEST", "BT")):
        return 0
    src = args[0]
    if op == "SUBQ" and isinstance(src, ir.Imm):
        return src.value
    if op == "ADDQ" and isinstance(src, ir.Imm):
        return -src.value
    if op == "LEAQ" and isinstance(src, ir.Mem) and src.base == "SP" and not src.index \
            and not src.symbol:
        return -src.offset
    return None


def sp_deltas(fn) -> dict:
    """For each instruction address of ``fn``: bytes between SP and the return address
    slot (SP + delta = where CALL left the return address), or None where unknown.

    Found by walking the control-flow graph from the entry (delta 0), as Go's assembler
    tracks ``Spadj`` (cmd/internal/obj/x86/obj6.go): PUSH/POP, SUB/ADD $n, SP, ADJSP.
    """
    instrs = fn.instrs
    index = {ins.addr: i for i, ins in enumerate(instrs)}
    out: dict = {}
    if not instrs:
        return out
    work = [(instrs[0].addr, 0)]
    while work:
        addr, delta = work.pop()
        while addr in index and addr not in out:
            ins = instrs[index[addr]]
            out[addr] = delta
            if delta is not None:
                eff = _sp_effect(ins)
                after = None if eff is None else delta + eff
            else:
                after = None
            op = ins.op
            target = ins.args[0] if ins.args else None
            if op.startswith("J") or op.startswith("LOOP"):
                if hasattr(target, "addr") and target.addr in index:
                    work.append((target.addr, after))
                if op == "JMP":
                    break
            if op in ("RET", "UD2", "INT", "HLT"):
                break
            addr, delta = ins.next_addr, after
    return out


# =========================================================================== expressions

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*)
   |(?P<name>[A-Za-z_\u00b7\u2215][\w\u00b7\u2215]*(?:<>)?
        (?:[./][A-Za-z_\u00b7\u2215][\w\u00b7\u2215]*(?:<>)?)*)
   |(?P<op><<|>>|&&|\|\||==|!=|<=|>=|&\^|[-+*/%&|^~!()\[\]<>$])
)""", re.X)

_BINARY = (
    ("||",),
    ("&&",),
    ("==", "!=", "<", "<=", ">", ">="),
    ("+", "-", "|", "^"),
    ("*", "/", "%", "<<", ">>", "&", "&^"),
)


def tokenize(text: str) -> list:
    """Tokens of a ``print`` expression: (kind, text) with kind num, name or op."""
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise CommandError(f"bad expression near {text[pos:pos + 12]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over Go's operator precedence (the Go spec, "Operators"),
    plus Plan 9 memory operands ``off(REG)`` and ``[expr]`` for a memory word."""

    def __init__(self, tokens, is_register) -> None:
        self.toks = tokens
        self.i = 0
        self.is_register = is_register

    def peek(self, k: int = 0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text):
        kind, value = self.take()
        if value != text:
            raise CommandError(f"expected {text!r}, found {value or 'end of expression'!r}")

    def parse(self):
        node = self.binary(0)
        if self.i != len(self.toks):
            raise CommandError(f"unexpected {self.peek()[1]!r} in expression")
        return node

    def binary(self, level):
        if level == len(_BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _BINARY[level]:
            op = self.take()[1]
            node = ("bin", op, node, self.binary(level + 1))
        return node

    def _memref(self, sign):
        kind, value = self.peek()
        if kind == "num" and self.peek(1)[1] == "(" and self.peek(2)[0] == "name" \
                and self.is_register(self.peek(2)[1]) and self.peek(3)[1] == ")":
            self.i += 4
            return ("mem", sign * _int(value), self.toks[self.i - 2][1])
        return None

    def unary(self):
        kind, value = self.peek()
        if kind == "op" and value == "-":
            self.take()
            mem = self._memref(-1)
            return mem if mem is not None else ("un", "-", self.unary())
        if kind == "op" and value in ("+", "!", "^", "~", "*", "&", "$"):
            self.take()
            if value in ("+", "$"):
                return self.unary()
            return ("un", value, self.unary())
        return self.postfix()

    def postfix(self):
        node = self.primary()
        while self.peek()[1] == "[":
            self.take()
            index = self.binary(0)
            self.expect("]")
            node = ("index", node, index)
        return node

    def primary(self):
        mem = self._memref(1)
        if mem is not None:
            return mem
        kind, value = self.take()
        if kind == "num":
            return ("num", _int(value))
        if kind == "name":
            return ("name", value)
        if value == "(":
            node = self.binary(0)
            self.expect(")")
            return node
        if value == "[":
            node = self.binary(0)
            self.expect("]")
            return ("un", "*", node)
        raise CommandError(f"unexpected {value or 'end of expression'!r} in expression")


def _int(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise CommandError(f"bad number {text!r}") from None


@attrs.frozen
class Value:
    """An evaluated expression: ``typ`` is ``int``, a scalar field type, a struct
    (``g``, ``m``, ``gobuf``, ``stack``), a pointer (``*g``) or an array; ``value`` the
    number, or the address of a struct or array; ``addr`` where it lives, if in memory."""

    typ: str
    value: int
    addr: int | None = None


# =========================================================================== breakpoints

@attrs.define
class Breakpoint:
    """A breakpoint (or tracepoint) on one or more code addresses."""

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


@attrs.frozen
class Command:
    """One row of the command table."""

    name: str
    aliases: tuple
    handler: str
    usage: str
    summary: str
    details: str = ""


def _cmd(name, aliases, handler, usage, summary, details=""):
    return Command(name, tuple(aliases), handler, usage, summary, details)


COMMANDS = (
    _cmd("break", ("b",), "cmd_break", "break <locspec|event> [if <expr>]",
         "Sets a breakpoint.",
         "A locspec is a symbol (runtime·settls, main.sum), symbol+offset (runtime.rt0_go+0x1e,\n"
         "offsets count instructions), file.s:LINE, LINE (in the current file) or *0xADDR.\n"
         "Runtime events: settls, morestack, newstack, gogo, syscall [name|number].\n"
         "'if <expr>' stops only when the expression is non-zero (see 'help print')."),
    _cmd("breakpoints", ("bp",), "cmd_breakpoints", "breakpoints",
         "Print out info for active breakpoints."),
    _cmd("clear", (), "cmd_clear", "clear <breakpoint id>", "Deletes breakpoint."),
    _cmd("clearall", (), "cmd_clearall", "clearall", "Deletes all breakpoints."),
    _cmd("condition", ("cond",), "cmd_condition", "condition <breakpoint id> [<expr>]",
         "Set breakpoint condition (none: remove it)."),
    _cmd("toggle", (), "cmd_toggle", "toggle <breakpoint id>",
         "Toggles on or off a breakpoint."),
    _cmd("continue", ("c",), "cmd_continue", "continue [<locspec>]",
         "Run until breakpoint or program termination.",
         "With a locspec, run until that location is reached (or a breakpoint is hit)."),
    _cmd("next", ("n",), "cmd_next", "next [count]",
         "Step over to the next instruction (a CALL runs until it returns)."),
    _cmd("step", ("s",), "cmd_step", "step [count]",
         "Single step one instruction (into CALLs)."),
    _cmd("step-instruction", ("si", "stepi"), "cmd_step", "step-instruction [count]",
         "Single step a single instruction."),
    _cmd("stepout", ("so",), "cmd_stepout", "stepout",
         "Step out of the current function (run until it returns to its caller)."),
    _cmd("rev", (), "cmd_rev", "rev step|next|stepout|continue",
         "Reverses the execution of the target program for the command specified.",
         "rev step goes back exactly one instruction; rev next goes back to the previous\n"
         "instruction of this function (over calls); rev stepout back to the CALL that\n"
         "entered it; rev continue back to the previous breakpoint hit (or step 0)."),
    _cmd("rewind", ("rw",), "cmd_rewind", "rewind",
         "Run backwards until breakpoint or the start of the program (rev continue)."),
    _cmd("restart", ("r",), "cmd_restart", "restart",
         "Restart process (breakpoints are kept)."),
    _cmd("regs", (), "cmd_regs", "regs [-a]",
         "Print contents of CPU registers; changed ones are marked with *.",
         "-a also prints X0-X15."),
    _cmd("print", ("p",), "cmd_print", "print <expression>",
         "Evaluate an expression.",
         "Registers (AX, SP, PC, FS = the FS base...), symbols (runtime·g0, main.sum:\n"
         "their address), g (the g in TLS, -8(FS)), g0, m0, m (g.m), curg (m0.curg) and\n"
         "their fields (g.stack.hi, g0.sched.sp, m0.tls[0], g.m.curg.goid), memory\n"
         "words (*(SP+8), [SP+8], -8(FS), 16(R14)), &field, integers and Go operators."),
    _cmd("examinemem", ("x",), "cmd_x", "x/<count><size><format> <address>",
         "Examine raw memory at the given address.",
         "gdb style: x/8gx SP (size b h w g; format x d u o t a c s i).\n"
         "delve style: x -fmt hex|dec|oct|bin|addr -count N -size 1|2|4|8 <address>."),
    _cmd("display", (), "cmd_display", "display [-a <expr> | -d <number>]",
         "Print value of an expression every time the program stops."),
    _cmd("stack", ("bt",), "cmd_stack", "stack [<depth>] [-offsets]",
         "Print stack trace (frames found from each function's frame layout)."),
    _cmd("goroutines", ("grs",), "cmd_goroutines", "goroutines", "List program goroutines."),
    _cmd("stackmap", ("sm",), "cmd_stackmap", "stackmap [g0|<goid>] [-rows N]",
         "Draw a goroutine's stack to scale: hi, frames, SP, stackguard0, lo.",
         "Stopped on g0 inside morestack/newstack, it shows the goroutine being grown."),
    _cmd("list", ("ls", "l"), "cmd_list", "list [<locspec>]", "Show source code."),
    _cmd("disassemble", ("disass",), "cmd_disassemble", "disassemble [-l <locspec>]",
         "Show the instructions of a function as the loader will execute them."),
    _cmd("funcs", (), "cmd_funcs", "funcs [<regex>]", "Print list of functions."),
    _cmd("events", (), "cmd_events", "events [N]",
         "Print the last N runtime events (TLS, stacks, goroutines, syscalls)."),
    _cmd("trace", ("t",), "cmd_trace", "trace on|off | trace <locspec>",
         "on/off: print every executed instruction while running; otherwise set a\n"
         "tracepoint (reports when reached, does not stop)."),
    _cmd("source", (), "cmd_source", "source <path>",
         "Executes a file containing a list of commands."),
    _cmd("help", ("h",), "cmd_help", "help [command]", "Prints the help message."),
    _cmd("exit", ("quit", "q"), "cmd_exit", "exit", "Exit the debugger."),
)


def _command_table() -> types.MappingProxyType:
    table = {}
    for c in COMMANDS:
        table[c.name] = c
        for a in c.aliases:
            table[a] = c
    return types.MappingProxyType(table)


COMMAND_TABLE = _command_table()


def _kib(n: int) -> str:
    v = n / 1024
    return f"{v:.0f} KiB" if v == int(v) else f"{v:.1f} KiB"


# =========================================================================== debugger

class Debugger:
    """A debugging session over one emulated process (see the module docstring).

    ``stdin``/``stdout``: the command input and the debugger's output (text streams;
    default the process's). ``program_stdout``/``program_stderr``: where the program's
    fd 1 and 2 go (default: ``stdout``, so that output interleaves in order);
    ``program_stdin``: its fd 0 (default: empty). ``color``: ANSI highlighting of
    changed registers (default: when ``stdout`` is a terminal).
    """

    def __init__(self, files, *, include_dirs=(), defines=None, argv=(), env=(), cpu=None,
                 stdin=None, stdout=None, program_stdout=None, program_stderr=None,
                 program_stdin=None, color=None, snapshot_interval: int = 50_000,
                 max_snapshots: int = 64, context: int = 2, goroot=None) -> None:
        self.files = list(files)
        self.load_args = dict(include_dirs=tuple(include_dirs), defines=defines,
                              argv=tuple(argv), env=tuple(env), cpu=cpu)
        if goroot is not None:          # a Go installation's runtime (goasm.api.start)
            self.load_args["goroot"] = goroot
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = stdout if stdout is not None else sys.stdout
        self.program_targets = (program_stdout if program_stdout is not None else self.out,
                                program_stderr if program_stderr is not None else self.out)
        self.program_stdin_source = program_stdin
        if color is None:
            color = _isatty(self.out)
        self.color = color
        self.snapshot_interval = snapshot_interval
        self.max_snapshots = max_snapshots
        self.context = context
        self.breakpoints: dict[int, Breakpoint] = {}
        self.next_bp_id = 1
        self.displays: list[str] = []
        self.tracing = False
        self.quit = False
        self.last_command = ""
        self._source_cache: dict = {}
        self._start()

    # ------------------------------------------------------------------ process

    def _start(self) -> None:
        from goasm import api

        outs = tuple(ProgramOutput(t, self._before_program_output)
                     for t in self.program_targets)
        stdin = ReplayableInput(self.program_stdin_source)
        proc = api.start(self.files, stdout=outs[0], stderr=outs[1], stdin=stdin,
                         **self.load_args)
        self.proc = proc
        self.machine = proc.machine
        self.model = proc.model
        self.image = proc.machine.image
        self.outputs = outs
        self.program_stdin = stdin
        self.history = History(proc, outs, stdin, interval=self.snapshot_interval,
                               limit=self.max_snapshots)
        self.history.take()
        self.dead: str | None = None
        self.fault = None
        self.last_bp = None
        self.events_seen = len(self.model.events)
        self.prev_regs = self._reg_values()
        self._deltas: dict = {}
        self._lines = None
        self._syscall_sites = tuple(sorted(a for a, ins in self.image.code.items()
                                           if ins.op == "SYSCALL"))
        self._call_sites = frozenset(a for a, ins in self.image.code.items()
                                     if ins.op == "CALL")
        self._tracer = None
        self._rebuild_index()

    def _before_program_output(self) -> None:
        try:
            self.out.flush()
        except (AttributeError, ValueError):
            pass

    def w(self, text: str = "") -> None:
        """Write a line of debugger output (after any unfinished program line)."""
        for o in getattr(self, "outputs", ()):
            if o.dangling and o.target is self.out:
                self.out.write("\n")
                o.dangling = False
        self.out.write(text + "\n")

    # ------------------------------------------------------------------ registers

    def _reg_values(self) -> dict:
        m = self.machine
        cpu = m.cpu
        out = {name: cpu.regs[i] for i, name in enumerate(GPR64)}
        out["PC"] = cpu.pc
        out["FLAGS"] = cpu.get_rflags()
        out["FS"] = cpu.fs_base
        out["GS"] = cpu.gs_base
        return out

    def _is_register(self, name: str) -> bool:
        return self._register_name(name) is not None

    @staticmethod
    def _register_name(name: str) -> str | None:
        if name == "g":
            return None
        up = name.upper()
        up = INTEL_NAMES.get(up, up)
        if up in ("FS", "GS", "PC", "FLAGS", "SP", "BP"):
            return up
        if up in GPR64:
            return up
        if up in ("AL", "BL", "CL", "DL", "AH", "BH", "CH", "DH", "SIB", "DIB", "BPB", "SPB") \
                or re.fullmatch(r"R(8|9|1[0-5])B", up) or re.fullmatch(r"X(\d|1[0-5])", up):
            return up
        return None

    def _reg(self, name: str) -> int:
        if name == "FS":
            return self.machine.cpu.fs_base
        if name == "GS":
            return self.machine.cpu.gs_base
        return self.machine.reg(name)

    # ------------------------------------------------------------------ memory & symbols

    def _read(self, addr: int, size: int) -> int:
        try:
            return int.from_bytes(self.machine.mem.read(addr & M64, size), "little")
        except MachineFault:
            raise CommandError(f"cannot access memory at {addr & M64:#x}") from None

    def _mapped(self, addr: int, size: int = 8) -> bool:
        mem = self.machine.mem
        return addr > 0 and mem.is_mapped(addr) and mem.is_mapped(addr + size - 1)

    def _symbolize(self, value: int) -> str:
        """`` <runtime.g0+0x10>`` when ``value`` points into a symbol, else ``""``."""
        if value < 0x1000:
            return ""
        sym, off = self.image.symbol_at(value)
        if sym is None:
            return ""
        return f" <{sym.name}+{off:#x}>" if off else f" <{sym.name}>"

    def _is_code(self, addr: int) -> bool:
        return addr in self.image.code or addr in self.machine.natives

    def _native_doc(self, addr: int) -> str:
        fn = self.machine.natives.get(addr)
        doc = getattr(fn, "__doc__", None) or ""
        first = " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")
        if ". " in first:
            first = first[:first.index(". ") + 1]
        return first

    # ------------------------------------------------------------------ frames

    def delta_at(self, pc: int):
        """SP-to-return-slot distance at ``pc`` (see :func:`sp_deltas`); 0 at a native."""
        if pc in self.machine.natives:
            return 0
        sym, _ = self.image.symbol_at(pc)
        if sym is None:
            return None
        fn = self.image.functions.get(sym.name)
        if fn is None:
            return None
        deltas = self._deltas.get(sym.name)
        if deltas is None:
            deltas = self._deltas[sym.name] = sp_deltas(fn)
        return deltas.get(pc)

    def _topframe(self, pc: int) -> bool:
        sym, _ = self.image.symbol_at(pc)
        fn = self.image.functions.get(sym.name) if sym is not None else None
        return fn is not None and bool(fn.flags & TEXTFLAG["TOPFRAME"])

    def cfa(self, pc: int | None = None, sp: int | None = None):
        m = self.machine
        pc = m.cpu.pc if pc is None else pc
        sp = m.cpu.regs[4] if sp is None else sp
        d = self.delta_at(pc)
        return None if d is None else sp + d + 8

    def unwind(self, pc: int, sp: int, limit: int = 100) -> list:
        """Frames from (``pc``, ``sp``) outwards, using each function's SP deltas; stops
        at a TOPFRAME function, an unknown frame or a return address that is not code."""
        frames = []
        caller = False
        while len(frames) < limit:
            d = self.delta_at(pc)
            if d is None:
                frames.append(Frame(pc, sp, None, caller))
                break
            slot = sp + d
            frames.append(Frame(pc, sp, slot + 8, caller))
            if self._topframe(pc) or not self._mapped(slot):
                break
            ret = self.machine.mem.read_u64(slot)
            if not self._is_code(ret):
                break
            pc, sp, caller = ret, slot + 8, True
        return frames

    def _call_site(self, ret: int):
        """The instruction a return address belongs to (the CALL before it)."""
        code = self.image.code
        for a in range(ret - 1, ret - 17, -1):
            ins = code.get(a)
            if ins is not None:
                return ins if ins.next_addr == ret else None
        return None

    def _frame_where(self, frame: Frame) -> tuple:
        """(name+off, file:line) of a frame; a caller is shown at its CALL."""
        pc = frame.pc
        name = self.image.describe(pc)
        ins = self._call_site(pc) if frame.caller else self.image.code.get(pc)
        if frame.caller and ins is None and pc in self.machine.natives:
            return name, "(Go runtime function modelled by goasm)"
        if ins is None and pc in self.machine.natives:
            return name, "(Go runtime function modelled by goasm)"
        return name, self._pos_text(ins.pos) if ins is not None and ins.pos else "?"

    # ------------------------------------------------------------------ runtime structs

    @property
    def layout(self):
        return self.model.layout

    def _sym_addr(self, name: str) -> int | None:
        sym = self.image.lookup(name)
        return sym.addr if sym is not None else None

    def current_g(self) -> int:
        """The word at -8(FS), or 0 when TLS is not set up."""
        fs = self.machine.cpu.fs_base
        if not fs or not self._mapped(fs - 8):
            return 0
        return self.machine.mem.read_u64(fs - 8)

    def _g_ok(self, g: int) -> bool:
        return bool(g) and self._mapped(g, self.layout.g.size)

    def _gfield(self, g: int, field: str, sub: str | None = None) -> int:
        L = self.layout
        if sub is None:
            off = L.g.off(field)
        elif field == "stack":
            off = L.g_stack(sub)
        else:
            off = L.g_sched(sub)
        size = _SCALARS.get(STRUCT_FIELDS["g"].get(field, "uintptr"), (8, False))[0]
        return self._read(g + off, 8 if sub else size)

    def _all_gs(self) -> list:
        gs = []
        g0 = self._sym_addr("runtime.g0")
        if g0 is not None:
            gs.append(g0)
        for g in getattr(self.model, "allgs", ()):
            if g not in gs:
                gs.append(g)
        return gs

    def _status_name(self, status: int) -> str:
        for name, value in self.layout.consts.items():
            if name.startswith("_G") and value == status:
                return name[2:].lower()
        return f"status {status}"

    # ------------------------------------------------------------------ expressions

    def evaluate(self, text: str) -> Value:
        """Evaluate a ``print`` expression (see ``help print``)."""
        if not text.strip():
            raise CommandError("missing expression")
        node = _Parser(tokenize(text), self._is_register).parse()
        return self._eval(node)

    def _eval(self, node) -> Value:
        kind = node[0]
        if kind == "num":
            return Value("int", node[1] & M64 if node[1] >= 0 else node[1])
        if kind == "name":
            return self._resolve(node[1])
        if kind == "mem":
            _, off, reg = node
            addr = (self._reg(self._register_name(reg)) + off) & M64
            return Value("uintptr", self._read(addr, 8), addr)
        if kind == "index":
            base = self._eval(node[1])
            idx = self._number(self._eval(node[2]))
            m = re.fullmatch(r"\[(\w+)\](\w+)", base.typ)
            if m is None:
                raise CommandError(f"cannot index a value of type {base.typ}")
            n = self.layout.tls_slots if m.group(1) == "tls" else int(m.group(1))
            if not 0 <= idx < n:
                raise CommandError(f"index {idx} out of range [0, {n})")
            size = _SCALARS[m.group(2)][0]
            addr = base.value + idx * size
            return Value(m.group(2), self._read(addr, size), addr)
        if kind == "un":
            op, operand = node[1], node[2]
            if op == "&":
                v = self._eval(operand)
                if v.addr is None:
                    raise CommandError("cannot take the address of a value not in memory")
                return Value("uintptr", v.addr)
            v = self._eval(operand)
            if op == "*":
                if v.typ.startswith("*"):
                    return self._deref(v)
                addr = self._number(v) & M64
                return Value("uintptr", self._read(addr, 8), addr)
            x = self._number(v)
            if op == "-":
                return Value("int", (-x) & M64)
            if op in ("^", "~"):
                return Value("int", (~x) & M64)
            if op == "!":
                return Value("int", int(not x))
        if kind == "bin":
            op = node[1]
            a = self._number(self._eval(node[2]))
            if op == "&&":
                return Value("int", int(bool(a) and bool(self._number(self._eval(node[3])))))
            if op == "||":
                return Value("int", int(bool(a) or bool(self._number(self._eval(node[3])))))
            b = self._number(self._eval(node[3]))
            return Value("int", _binop(op, a, b))
        raise CommandError("bad expression")

    def _number(self, v: Value) -> int:
        if v.typ in STRUCT_FIELDS or v.typ.startswith("["):
            raise CommandError(f"{v.typ} is a struct, not a number (use & for its address)")
        return v.value

    def _deref(self, v: Value) -> Value:
        typ = v.typ[1:]
        if not v.value:
            raise CommandError(f"nil *{typ}")
        if not self._mapped(v.value, self.layout.structs[typ].size):
            raise CommandError(f"*{typ} {v.value:#x} is not in mapped memory")
        return Value(typ, v.value, v.value)

    def _field(self, v: Value, name: str) -> Value:
        if v.typ.startswith("*"):
            v = self._deref(v)
        fields = STRUCT_FIELDS.get(v.typ)
        if fields is None:
            raise CommandError(f"a value of type {v.typ} has no fields (.{name})")
        struct = self.layout.structs[v.typ]
        if name not in fields or not struct.has(name):
            known = ", ".join(f for f in fields if struct.has(f))
            raise CommandError(f"runtime.{v.typ} has no field {name!r} (fields: {known})")
        ftype = fields[name]
        addr = v.value + struct.off(name)
        if ftype in STRUCT_FIELDS or ftype.startswith("["):
            return Value(ftype, addr, addr)
        if ftype.startswith("*"):
            return Value(ftype, self._read(addr, 8), addr)
        size, signed = _SCALARS[ftype]
        raw = self._read(addr, size)
        if signed and raw >> (size * 8 - 1):
            raw -= 1 << (size * 8)
        return Value(ftype, raw & M64, addr)

    def _root(self, name: str) -> Value | None:
        """``g``, ``g0``, ``m0``, ``m``, ``curg``, registers and symbols."""
        if name == "g":
            g = self.current_g()
            if not self.machine.cpu.fs_base:
                raise CommandError("g: TLS is not set up yet (the FS base is 0)")
            if not self._g_ok(g):
                raise CommandError(f"g: -8(FS) holds {g:#x}, not a g")
            return Value("g", g, g)
        if name in ("g0", "m0"):
            addr = self._sym_addr(f"runtime.{name}")
            if addr is None:
                raise CommandError(f"runtime.{name} is not linked")
            return Value(name[0], addr, addr)
        if name == "m":
            return self._field(self._root("g"), "m")
        if name == "curg":
            return self._field(self._root("m0"), "curg")
        reg = self._register_name(name)
        if reg is not None:
            return Value("int", self._reg(reg))
        sym = self.image.lookup(name)
        if sym is not None:
            return Value("uintptr", sym.addr)
        return None

    def _resolve(self, text: str) -> Value:
        parts = re.split(r"\.(?![^.]*/)", text) if "/" in text else text.split(".")
        for n in range(len(parts), 0, -1):
            head = ".".join(parts[:n])
            root = self._root(head)
            if root is None:
                continue
            rest = parts[n:]
            if rest and root.typ == "uintptr":
                sym = self.image.lookup(head)
                if sym is not None and sym.name in ("runtime.g0", "runtime.m0"):
                    root = Value(sym.name[-2], sym.addr, sym.addr)
            for field in rest:
                root = self._field(root, field)
            return root
        raise CommandError(f"could not find symbol value for {text}")

    def format_value(self, v: Value) -> str:
        if v.typ in STRUCT_FIELDS:
            return self._format_struct(v)
        if v.typ.startswith("["):
            return self._format_array(v)
        if v.typ.startswith("*"):
            return f"(*runtime.{v.typ[1:]}) {v.value:#x}{self._symbolize(v.value)}"
        x = v.value & M64
        text = f"{x:#x} ({x}"
        if x >> 63:
            text += f", {x - (1 << 64)}"
        return text + ")" + self._symbolize(x)

    def _format_scalar(self, name: str, ftype: str, value: int) -> str:
        if ftype.startswith("*"):
            return f"{value:#x}{self._symbolize(value)}"
        if name == "atomicstatus":
            return f"{value} ({self._status_name(value)})"
        if name in _DECIMAL_FIELDS:
            return str(value if value < 1 << 63 else value - (1 << 64))
        return f"{value:#x}{self._symbolize(value)}"

    def _format_fields(self, v: Value) -> list:
        struct = self.layout.structs[v.typ]
        fields = STRUCT_FIELDS[v.typ]
        out = []
        for name in sorted((f for f in fields if struct.has(f)), key=struct.off):
            fv = self._field(v, name)
            if fv.typ in STRUCT_FIELDS:
                inner = ", ".join(f"{k}: {t}" for k, t in self._format_fields(fv))
                out.append((name, "{" + inner + "}"))
            elif fv.typ.startswith("["):
                out.append((name, self._format_array(fv)))
            else:
                out.append((name, self._format_scalar(name, fields[name], fv.value)))
        return out

    def _format_struct(self, v: Value) -> str:
        lines = [f"runtime.{v.typ} @ {v.value:#x}{self._symbolize(v.value)} {{"]
        for name, text in self._format_fields(v):
            lines.append(f"    {name}: {text}")
        return "\n".join(lines + ["}"])

    def _format_array(self, v: Value) -> str:
        m = re.fullmatch(r"\[(\w+)\](\w+)", v.typ)
        n = self.layout.tls_slots if m.group(1) == "tls" else int(m.group(1))
        size = _SCALARS[m.group(2)][0]
        vals = [self._read(v.value + i * size, size) for i in range(n)]
        return "[" + ", ".join(f"{x:#x}" for x in vals) + "]"

    # ------------------------------------------------------------------ locations

    def _line_index(self) -> dict:
        """Source file (absolute) -> line -> sorted instruction addresses."""
        if self._lines is None:
            idx: dict = {}
            for addr, ins in self.image.code.items():
                pos = ins.pos
                if pos is None or pos.line <= 0:
                    continue
                f = os.path.abspath(pos.file)
                idx.setdefault(f, {}).setdefault(pos.line, []).append(addr)
            for lines in idx.values():
                for v in lines.values():
                    v.sort()
            self._lines = idx
        return self._lines

    def _find_file(self, name: str) -> str:
        files = list(self._line_index())
        want = os.path.abspath(name)
        if want in files:
            return want
        norm = name.replace("\\", "/").lstrip("./")
        hits = [f for f in files if f.endswith("/" + norm) or os.path.basename(f) == norm]
        if not hits:
            raise CommandError(f"no source file matches {name!r}")
        if len(hits) > 1:
            raise CommandError(f"{name!r} is ambiguous: " + ", ".join(map(self._rel, hits)))
        return hits[0]

    def _current_file(self) -> str:
        ins = self.image.code.get(self.machine.cpu.pc)
        if ins is None or ins.pos is None:
            raise CommandError("no current source file (stopped in a modelled function)")
        return os.path.abspath(ins.pos.file)

    def _lookup_code_symbol(self, name: str):
        from goasm.image import SymKind

        sym = self.image.lookup(name)
        if sym is None:
            cands = [s for n, s in self.image.symbols.items()
                     if n.endswith("." + name) and s.kind in (SymKind.TEXT, SymKind.NATIVE)]
            if len(cands) == 1:
                sym = cands[0]
            elif cands:
                raise CommandError(f"{name} is ambiguous: "
                                   + ", ".join(sorted(s.name for s in cands)))
        if sym is None:
            raise CommandError(f"location {name!r} not found")
        if sym.kind not in (SymKind.TEXT, SymKind.NATIVE):
            raise CommandError(f"{sym.name} is {sym.kind.value}, not code")
        return sym

    def resolve_locspec(self, spec: str) -> tuple:
        """Code addresses for a delve-style location spec (see ``help break``)."""
        spec = spec.strip()
        if not spec:
            raise CommandError("missing location")
        if spec.startswith("*") or re.fullmatch(r"0[xX][0-9a-fA-F]+", spec):
            addr = self._number(self.evaluate(spec.lstrip("*")))
            if not self._is_code(addr):
                raise CommandError(f"no instruction at {addr:#x}")
            return (addr,)
        m = re.fullmatch(r"(.*?):(\d+)", spec)
        if m or spec.isdigit():
            path, line = (m.group(1), int(m.group(2))) if m else ("", int(spec))
            f = self._find_file(path) if path else self._current_file()
            lines = self._line_index()[f]
            for ln in range(line, line + 20):
                if ln in lines:
                    return (lines[ln][0],)
            raise CommandError(f"no code at {self._rel(f)}:{line}")
        m = re.fullmatch(r"(.+?)\s*\+\s*(0[xX][0-9a-fA-F]+|\d+)", spec)
        if m:
            sym = self._lookup_code_symbol(m.group(1))
            addr = sym.addr + int(m.group(2), 0)
            if not self._is_code(addr) or self.image.symbol_at(addr)[0] is not sym:
                raise CommandError(f"{spec}: no instruction of {sym.name} there")
            return (addr,)
        return (self._lookup_code_symbol(spec).addr,)

    # ------------------------------------------------------------------ breakpoints

    def _rebuild_index(self) -> None:
        idx: dict = {}
        for bp in self.breakpoints.values():
            if bp.enabled:
                for a in bp.addrs:
                    idx.setdefault(a, []).append(bp)
        self._bp_index = idx

    def add_breakpoint(self, spec: str, *, tracepoint: bool = False) -> Breakpoint:
        cond = None
        m = re.match(r"(.*?)\s+if\s+(.+)$", spec)
        if m:
            spec, cond = m.group(1), m.group(2)
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
            addrs = self._syscall_sites
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
            desc = f"event {event} at {self._where_text(sym.addr)}"
        else:
            addrs = self.resolve_locspec(spec)
            desc = self._where_text(addrs[0])
        bp = Breakpoint(self.next_bp_id, spec, tuple(addrs), desc, event, nr, cond,
                        tracepoint=tracepoint)
        self.next_bp_id += 1
        self.breakpoints[bp.id] = bp
        self._rebuild_index()
        return bp

    def _bp_hit(self, mm, bps):
        """The first breakpoint in ``bps`` that triggers in the current state (tracepoints
        report and do not stop)."""
        for bp in bps:
            if bp.syscall_nr is not None and mm.cpu.regs[0] != bp.syscall_nr:
                continue
            if bp.cond:
                try:
                    if not self._number(self.evaluate(bp.cond)):
                        continue
                except CommandError as err:
                    self.w(f"error evaluating breakpoint {bp.id} condition: {err}")
            if bp.tracepoint:
                bp.hits += 1
                self.w(f"> tracepoint {bp.id}: {self._where_text(mm.cpu.pc)} "
                       f"[step {mm.steps}]")
                continue
            return bp
        return None

    def _bp_pred(self, mm) -> bool:
        """True when a (stopping) breakpoint triggers at the current state (for rev)."""
        bps = self._bp_index.get(mm.cpu.pc)
        if not bps:
            return False
        for bp in bps:
            if bp.tracepoint:
                continue
            if bp.syscall_nr is not None and mm.cpu.regs[0] != bp.syscall_nr:
                continue
            if bp.cond:
                try:
                    if not self._number(self.evaluate(bp.cond)):
                        continue
                except CommandError:
                    pass
            return True
        return False

    def _get_bp(self, arg: str) -> Breakpoint:
        arg = arg.strip()
        if not arg.isdigit() or int(arg) not in self.breakpoints:
            raise CommandError(f"no breakpoint {arg!r}")
        return self.breakpoints[int(arg)]

    # ------------------------------------------------------------------ running

    def _require_live(self) -> None:
        if self.dead == "exited":
            raise CommandError(f"Process {self.proc.linux.pid} has exited with status "
                               f"{self.machine.exit_status} (use rev or restart)")
        if self.dead:
            raise CommandError(f"the process stopped: {self.dead} (use rev or restart)")

    def resume(self, *, pred=None, limit=None, use_bps=True, quiet=False):
        """Run forward until a breakpoint, ``pred(machine)``, ``limit`` instructions, the
        program's end or a fault; then report the stop. Returns the stop kind."""
        self._require_live()
        m = self.machine
        self.prev_regs = self._reg_values()
        start = m.steps
        hit = []
        bp_index = self._bp_index if use_bps else {}

        def check(mm):
            bps = bp_index.get(mm.cpu.pc)
            if bps:
                bp = self._bp_hit(mm, bps)
                if bp is not None:
                    hit.append(bp)
                    return True
            return pred is not None and bool(pred(mm))

        until = check if (bp_index or pred is not None) else None
        kind = None
        first = True
        try:
            while kind is None:
                if not first and until is not None and check(m):
                    kind = "break"
                    break
                done = m.steps - start
                if limit is not None and done >= limit:
                    kind = "limit"
                    break
                budget = self.history.next_boundary(m.steps) - m.steps
                if limit is not None:
                    budget = min(budget, limit - done)
                if self.tracing:
                    r = self._trace_run(until, budget)
                else:
                    r = m.run(until=until, max_steps=budget)
                first = False
                if r.kind == "exit":
                    kind = "exit"
                elif r.kind in ("until", "hook"):
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
            self.goto(max(m.steps - 1, 0))
        if kind == "exit":
            self.dead = "exited"
        if kind not in ("fault", "error"):
            self.history.take()
        self.last_bp = hit[0] if hit else None
        if not quiet:
            self.report_stop(kind, self.last_bp)
        return kind

    def _trace_run(self, until, budget):
        from goasm.machine.machine import StopReason
        from goasm.trace import Tracer

        m = self.machine
        if self._tracer is None:
            self._tracer = Tracer(m, self.model, self.out)
        for i in range(budget):
            if i and until is not None and until(m):
                return StopReason("until", m.cpu.pc)
            pc = m.cpu.pc
            before = self._tracer._registers()
            r = m.step()
            self.w(self._tracer.line(pc, before, self._tracer._registers()))
            self._print_events()
            if r.kind == "exit":
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

    def search_back(self, pred, before: int):
        """The latest step t < ``before`` whose state satisfies ``pred``, or None."""
        m = self.machine
        upper = before - 1
        steps = [s for s in self.history.order if s <= upper]
        for s in reversed(steps):
            if s > upper:
                continue
            self.history.restore(s)
            found = s if pred(m) else None
            while m.steps < upper:
                r = m.run(until=pred, max_steps=upper - m.steps)
                if r.kind == "until":
                    found = m.steps
                    continue
                if r.kind == "max_steps" and m.steps == upper and pred(m):
                    found = upper
                break
            if found is not None:
                return found
            upper = s - 1
        return None

    def reverse(self, pred, what: str) -> None:
        m = self.machine
        here = m.steps
        if here == 0:
            raise CommandError("already at the start of the program (step 0)")
        self.prev_regs = self._reg_values()
        found = self.search_back(pred, here) if pred is not None else here - 1
        if found is None:
            self.goto(0)
            self.w(f"{what}: reached the start of the program (step 0)")
        else:
            self.goto(found)
        self.report_stop("rev", None)

    # ------------------------------------------------------------------ reporting

    def _rel(self, path: str) -> str:
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return path
        return path if rel.startswith("..") else rel

    def _pos_text(self, pos) -> str:
        return f"{self._rel(pos.file)}:{pos.line}"

    def _where_text(self, addr: int) -> str:
        ins = self.image.code.get(addr)
        where = self.image.describe(addr)
        if ins is not None and ins.pos is not None:
            return f"{addr:#x} for {where}() {self._pos_text(ins.pos)}"
        return f"{addr:#x} for {where}() (modelled in Python)"

    def _source_lines(self, path: str):
        if path not in self._source_cache:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    self._source_cache[path] = fh.read().split("\n")
            except OSError:
                self._source_cache[path] = None
        return self._source_cache[path]

    def _print_source(self, path: str, line: int, before: int, after: int,
                      mark: bool = True, current: int | None = None) -> None:
        """Lines around ``line``; ``=>`` marks ``current`` (default ``line``)."""
        current = line if current is None else current
        lines = self._source_lines(path)
        if lines is None:
            self.w(f"(no source for {self._rel(path)})")
            return
        lo = max(1, line - before)
        hi = min(len(lines), line + after)
        for n in range(lo, hi + 1):
            arrow = "=>" if mark and n == current else "  "
            self.w(f"{arrow}{n:6}:\t{lines[n - 1].rstrip()}")

    def _print_location(self, pc: int) -> None:
        ins = self.image.code.get(pc)
        if ins is None:
            if pc in self.machine.natives:
                doc = self._native_doc(pc)
                self.w(f"    (a Go runtime function modelled in Python; no assembly) {doc}")
            return
        if ins.pos is not None and ins.pos.line > 0:
            self._print_source(os.path.abspath(ins.pos.file), ins.pos.line, self.context,
                               self.context)
        note = "   (inserted by the assembler)" if ins.synthetic else ""
        self.w(f"    {pc:#x}:\t{str(ins).replace(chr(9), ' ')}{note}")

    def _print_events(self, cap: int | None = None) -> None:
        events = self.model.events
        new = events[self.events_seen:]
        self.events_seen = len(events)
        if cap is not None and len(new) > cap:
            skipped = len(new) - cap
            new = new[-cap:]
            self.w(f"# ... {skipped} earlier events (see 'events')")
        for ev in new:
            self.w(f"# {ev}")

    def report_stop(self, kind: str, bp: Breakpoint | None) -> None:
        m = self.machine
        if not self.tracing:
            self._print_events(cap=10)
        else:
            self.events_seen = len(self.model.events)
        if kind == "exit":
            self.w(f"Process {self.proc.linux.pid} has exited with status {m.exit_status}")
            return
        if kind == "fault":
            from goasm.machine import report

            self.w(report.format_fault(m, self.fault).rstrip("\n"))
            self.w(f"Process stopped by a fault ({self.fault.signal}); "
                   "use 'rev step' to go back or 'restart'.")
            return
        if kind == "error":
            render = getattr(self.fault, "render", None)
            self.w(f"goasm: {render() if render else self.fault}")
            self.w("Process stopped; use 'rev step' to go back or 'restart'.")
            return
        pc = m.cpu.pc
        ins = self.image.code.get(pc)
        where = self.image.describe(pc)
        loc = self._pos_text(ins.pos) if ins is not None and ins.pos else "(modelled in Python)"
        head = "> "
        tail = ""
        if bp is not None:
            bp.hits += 1
            head += f"[Breakpoint {bp.id}] "
            tail = f" (hits total:{bp.hits})"
        if kind == "interrupt":
            head += "[interrupted] "
        self.w(f"{head}{where}() {loc}{tail} (PC: {pc:#x}) [step {m.steps}]")
        if bp is not None and bp.event in EVENTS:
            self.w(f"    event {bp.event}: {EVENTS[bp.event][1]}")
        self._print_location(pc)
        for i, expr in enumerate(self.displays):
            try:
                self.w(f"{i}: {expr} = {self.format_value(self.evaluate(expr))}")
            except CommandError as err:
                self.w(f"{i}: {expr} = <error: {err}>")

    # ------------------------------------------------------------------ command loop

    def onecmd(self, line: str) -> None:
        """Execute one command line; errors are reported and the session goes on."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        word, _, rest = line.partition(" ")
        suffix = ""
        if "/" in word:
            word, _, suffix = word.partition("/")
            suffix = "/" + suffix
        cmd = COMMAND_TABLE.get(word)
        if cmd is None:
            self.w(f"Command failed: command not available: {word} (try 'help')")
            return
        try:
            getattr(self, cmd.handler)((suffix + " " + rest).strip() if suffix else rest.strip())
        except CommandError as err:
            self.w(f"Command failed: {err}")
        except GoasmError as err:
            self.w(f"Command failed: {err}")
        except KeyboardInterrupt:
            self.w("interrupted")
        except Exception as err:  # keep the session alive whatever happens
            if os.environ.get("GOASM_DEBUG"):
                import traceback

                traceback.print_exc()
            self.w(f"Command failed: internal error: {type(err).__name__}: {err}")

    def run_lines(self, lines, *, echo: bool = True) -> None:
        for line in lines:
            if self.quit:
                return
            if echo:
                self.w(PROMPT + line.rstrip("\n"))
            self.onecmd(line)

    def cmdloop(self, init: str | None = None) -> None:
        """Read commands until ``exit`` or end of input (readline on a terminal)."""
        if init:
            self.cmd_source(init)
        interactive = _isatty(self.stdin) and _isatty(self.out)
        use_input = interactive and self.stdin is sys.stdin and self.out is sys.stdout
        if use_input:
            self._setup_readline()
        while not self.quit:
            try:
                if use_input:
                    line = input(PROMPT)
                else:
                    self.out.write(PROMPT)
                    self.out.flush()
                    line = self.stdin.readline()
                    if not line:
                        raise EOFError
                    if not interactive:
                        self.out.write(line if line.endswith("\n") else line + "\n")
            except EOFError:
                self.out.write("\n" if interactive else "")
                break
            except KeyboardInterrupt:
                self.out.write("^C\n")
                continue
            line = line.strip()
            if not line and interactive:
                line = self.last_command
            elif line:
                self.last_command = line
            self.onecmd(line)
        try:
            self.out.flush()
        except (AttributeError, ValueError):
            pass

    def _setup_readline(self) -> None:
        try:
            import readline
        except ImportError:
            return
        names = sorted(COMMAND_TABLE)

        def complete(text, state):
            buf = readline.get_line_buffer()
            if " " not in buf.lstrip():
                pool = names
            else:
                pool = list(self.image.symbols) + list(EVENTS) + ["syscall"]
            hits = [n for n in pool if n.startswith(text)]
            return hits[state] if state < len(hits) else None

        readline.set_completer(complete)
        readline.set_completer_delims(" \t\n")
        readline.parse_and_bind("tab: complete")

    # ------------------------------------------------------------------ commands: breakpoints

    def cmd_break(self, arg: str) -> None:
        """delve ``break [name] <locspec>``; here also runtime events."""
        if not arg:
            raise CommandError("usage: break <locspec|event> [if <expr>]")
        bp = self.add_breakpoint(arg)
        cond = f" if {bp.cond}" if bp.cond else ""
        self.w(f"Breakpoint {bp.id} set {'on' if bp.event else 'at'} {bp.desc}{cond}")

    def cmd_breakpoints(self, arg: str) -> None:
        """delve ``breakpoints``."""
        if not self.breakpoints:
            self.w("No breakpoints.")
        for bp in self.breakpoints.values():
            kind = "Tracepoint" if bp.tracepoint else "Breakpoint"
            state = "" if bp.enabled else " (disabled)"
            self.w(f"{kind} {bp.id}{state} {'on' if bp.event else 'at'} {bp.desc} "
                   f"({bp.hits})")
            if bp.cond:
                self.w(f"\tcond {bp.cond}")

    def cmd_clear(self, arg: str) -> None:
        """delve ``clear <id>``."""
        bp = self._get_bp(arg)
        del self.breakpoints[bp.id]
        self._rebuild_index()
        self.w(f"Breakpoint {bp.id} cleared at {bp.desc}")

    def cmd_clearall(self, arg: str) -> None:
        """delve ``clearall``."""
        n = len(self.breakpoints)
        self.breakpoints.clear()
        self._rebuild_index()
        self.w(f"{n} breakpoints cleared")

    def cmd_condition(self, arg: str) -> None:
        """delve ``condition <id> <expr>``."""
        ident, _, expr = arg.partition(" ")
        bp = self._get_bp(ident)
        bp.cond = expr.strip() or None
        self.w(f"Breakpoint {bp.id}: " + (f"cond {bp.cond}" if bp.cond else "no condition"))

    def cmd_toggle(self, arg: str) -> None:
        """delve ``toggle <id>``."""
        bp = self._get_bp(arg)
        bp.enabled = not bp.enabled
        self._rebuild_index()
        self.w(f"Breakpoint {bp.id} {'enabled' if bp.enabled else 'disabled'}")

    # ------------------------------------------------------------------ commands: running

    @staticmethod
    def _count(arg: str) -> int:
        if not arg:
            return 1
        if not arg.isdigit() or int(arg) < 1:
            raise CommandError(f"expected a positive count, got {arg!r}")
        return int(arg)

    def cmd_continue(self, arg: str) -> None:
        """delve ``continue [<locspec>]``."""
        pred = None
        if arg:
            targets = frozenset(self.resolve_locspec(arg))
            pred = lambda mm: mm.cpu.pc in targets  # noqa: E731
        self.resume(pred=pred)

    def cmd_step(self, arg: str) -> None:
        """delve ``step-instruction``: ``count`` instructions, into CALLs."""
        n = self._count(arg)
        self.resume(limit=n, use_bps=n > 1)

    def _over_call_pred(self):
        """The stop condition of ``next`` at a CALL: back at the next instruction with
        the same SP (followed through stack growth, which moves the frame)."""
        m = self.machine
        ins = self.image.code.get(m.cpu.pc)
        if ins is None or ins.op != "CALL":
            return None
        return self._return_pred(ins.next_addr, m.cpu.regs[4])

    def _return_pred(self, ret: int, sp: int):
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

    def cmd_next(self, arg: str) -> None:
        """delve ``next [count]``: one instruction, a CALL as a whole (breakpoints inside
        the call stop it)."""
        n = self._count(arg)
        regs = self._reg_values()
        for i in range(n):
            pred = self._over_call_pred()
            kind = self.resume(pred=pred, limit=None if pred else 1,
                               use_bps=pred is not None, quiet=i < n - 1)
            if i < n - 1 and not (kind == "limit" or (kind == "break"
                                                      and self.last_bp is None)):
                self.report_stop(kind, self.last_bp)
                break
        self.prev_regs = regs

    def cmd_stepout(self, arg: str) -> None:
        """delve ``stepout``: run until the current function returns to its caller."""
        self._require_live()
        m = self.machine
        d = self.delta_at(m.cpu.pc)
        if d is None:
            raise CommandError(f"cannot find the return address of "
                               f"{self.image.describe(m.cpu.pc)} (its frame is unknown here)")
        slot = m.cpu.regs[4] + d
        ret = self._read(slot, 8)
        if not self._is_code(ret):
            raise CommandError(f"{self.image.describe(m.cpu.pc)} has no caller to return to "
                               f"(0({slot:#x}) holds {ret:#x})")
        self.resume(pred=self._return_pred(ret, slot + 8))

    def cmd_rev(self, arg: str) -> None:
        """delve ``rev <command>``: step, next, stepout or continue backwards."""
        what = arg.strip()
        if what in ("step", "s", "si", "step-instruction", "stepi"):
            self.reverse(None, "rev step")
        elif what in ("continue", "c"):
            self.reverse(self._bp_pred, "rev continue")
        elif what in ("next", "n"):
            cfa = self.cfa()
            if cfa is None:
                self.reverse(None, "rev next")
                return
            g = self.current_g()
            lo = self._gfield(g, "stack", "lo") if self._g_ok(g) else 0
            hi = self._gfield(g, "stack", "hi") if self._g_ok(g) else M64

            def pred(mm):
                c = self.cfa(mm.cpu.pc, mm.cpu.regs[4])
                return c is not None and cfa <= c <= hi and lo <= mm.cpu.regs[4]
            self.reverse(pred, "rev next")
        elif what in ("stepout", "so"):
            cfa = self.cfa()
            if cfa is None:
                raise CommandError("cannot find this function's frame")
            calls = self._call_sites
            self.reverse(lambda mm: mm.cpu.pc in calls and mm.cpu.regs[4] == cfa,
                         "rev stepout")
        else:
            raise CommandError("usage: rev step|next|stepout|continue")

    def cmd_rewind(self, arg: str) -> None:
        """delve ``rewind``: rev continue."""
        self.cmd_rev("continue")

    def cmd_restart(self, arg: str) -> None:
        """delve ``restart``: a fresh process; breakpoints and displays are kept."""
        self._start()
        for bp in self.breakpoints.values():
            bp.hits = 0
        self.w(f"Process restarted with PID {self.proc.linux.pid} "
               f"(at {self.image.describe(self.machine.cpu.pc)}, step 0)")

    # ------------------------------------------------------------------ commands: state

    def cmd_regs(self, arg: str) -> None:
        """delve ``regs [-a]`` with Plan 9 register names; ``*`` marks the registers
        changed by the last command that ran the program."""
        if arg.strip() not in ("", "-a"):
            raise CommandError("usage: regs [-a]")
        now = self._reg_values()
        for name in REG_ORDER:
            v = now[name]
            changed = self.prev_regs.get(name) != v
            note = ""
            if name == "PC":
                note = "  " + self.image.describe(v)
            elif name == "FLAGS":
                note = "  [" + " ".join(f for f, bit in _FLAG_BITS if v >> bit & 1) + "]"
            elif name == "FS" and v:
                g = self._read(v - 8, 8) if self._mapped(v - 8) else None
                note = "  (TLS base" + (f"; -8(FS) = {g:#x}{self._symbolize(g)}"
                                        if g is not None else "") + ")"
            else:
                note = self._symbolize(v)
            text = f"{name:>6} = {v:#018x}{note}"
            if changed:
                text = "*" + text[1:]
                if self.color:
                    text = f"\x1b[1;33m{text}\x1b[0m"
            self.w(text)
        if arg.strip() == "-a":
            for i in range(16):
                self.w(f"{'X' + str(i):>6} = {self.machine.cpu.xmm[i]:#034x}")

    def cmd_print(self, arg: str) -> None:
        """delve ``print <expr>`` (``print/x`` and ``print/d`` as in gdb)."""
        fmt = None
        if arg.startswith("/"):
            fmt, _, arg = arg[1:].partition(" ")
        v = self.evaluate(arg)
        if fmt in ("x", "d") and v.typ not in STRUCT_FIELDS and not v.typ.startswith("["):
            self.w(f"{v.value:#x}" if fmt == "x" else str(v.value))
            return
        if fmt not in (None, "x", "d"):
            raise CommandError(f"unknown print format /{fmt} (use /x or /d)")
        self.w(self.format_value(v))

    def cmd_display(self, arg: str) -> None:
        """delve ``display -a <expr>`` / ``display -d <n>`` / ``display``."""
        if arg.startswith("-a "):
            expr = arg[3:].strip()
            _Parser(tokenize(expr), self._is_register).parse()    # syntax only
            self.displays.append(expr)
        elif arg.startswith("-d "):
            n = arg[3:].strip()
            if not n.isdigit() or int(n) >= len(self.displays):
                raise CommandError(f"no display {n!r}")
            del self.displays[int(n)]
            return
        elif arg:
            raise CommandError("usage: display [-a <expr> | -d <number>]")
        for i, expr in enumerate(self.displays):
            try:
                self.w(f"{i}: {expr} = {self.format_value(self.evaluate(expr))}")
            except CommandError as err:
                self.w(f"{i}: {expr} = <error: {err}>")

    def cmd_x(self, arg: str) -> None:
        """gdb ``x/NSF addr`` and delve ``examinemem [-fmt f] [-count n] [-size s] addr``."""
        count, size, fmt = 1, 8, "x"
        if arg.startswith("/"):
            spec, _, arg = arg[1:].partition(" ")
            m = re.fullmatch(r"(\d*)([bhwgxduotacsi]*)", spec)
            if m is None:
                raise CommandError(f"bad format /{spec} (like /8gx)")
            if m.group(1):
                count = int(m.group(1))
            for ch in m.group(2):
                if ch in "bhwg":
                    size = {"b": 1, "h": 2, "w": 4, "g": 8}[ch]
                else:
                    fmt = ch
        else:
            words = arg.split()
            rest = []
            i = 0
            fmts = {"hex": "x", "dec": "d", "oct": "o", "bin": "t", "addr": "a"}
            while i < len(words):
                w = words[i]
                if w in ("-fmt", "-count", "-len", "-size") and i + 1 < len(words):
                    v = words[i + 1]
                    if w == "-fmt":
                        if v not in fmts:
                            raise CommandError(f"unknown -fmt {v} (hex, dec, oct, bin, addr)")
                        fmt = fmts[v]
                    elif w in ("-count", "-len"):
                        count = self._count(v)
                    else:
                        if v not in ("1", "2", "4", "8"):
                            raise CommandError("-size must be 1, 2, 4 or 8")
                        size = int(v)
                    i += 2
                elif w == "-x":
                    i += 1
                else:
                    rest.append(w)
                    i += 1
            arg = " ".join(rest)
        if not arg.strip():
            raise CommandError("usage: x/<count><size><format> <address>")
        if count > 1000:
            raise CommandError("count must be at most 1000")
        v = self.evaluate(arg)
        addr = v.value if v.typ in STRUCT_FIELDS or v.typ.startswith("[") else self._number(v)
        addr &= M64
        if fmt == "i":
            self._x_instructions(addr, count)
            return
        if fmt == "s":
            for _ in range(count):
                try:
                    s = self.machine.mem.read_cstring(addr)
                except MachineFault:
                    raise CommandError(f"cannot access memory at {addr:#x}") from None
                self.w(f"{addr:#x}{self._symbolize(addr)}:\t{s!r}"[:200])
                addr += len(s) + 1
            return
        if fmt == "c":
            size = 1
        per_row = {8: 2, 4: 4, 2: 8, 1: 8}[size]
        sp = self.machine.cpu.regs[4]
        for row in range(0, count, per_row):
            a = addr + row * size
            items = []
            notes = []
            for j in range(min(per_row, count - row)):
                val = self._read(a + j * size, size)
                items.append(_fmt_word(val, size, fmt))
                if fmt == "a":
                    sym = self._symbolize(val)
                    if sym:
                        notes.append(sym.strip())
            label = self._symbolize(a)
            if not label and sp <= a < sp + (1 << 16):
                label = f" <SP+{a - sp:#x}>"
            line = f"{a:#x}{label}:\t" + "  ".join(items)
            if notes:
                line += "   " + " ".join(notes)
            self.w(line)

    def _x_instructions(self, addr: int, count: int) -> None:
        code = self.image.code
        if addr not in code and addr not in self.machine.natives:
            raise CommandError(f"no instruction at {addr:#x}")
        pc = self.machine.cpu.pc
        for _ in range(count):
            ins = code.get(addr)
            mark = "=>" if addr == pc else "  "
            if ins is None:
                if addr in self.machine.natives:
                    self.w(f"{mark} {addr:#x} {self.image.describe(addr):<28} "
                           "(modelled in Python)")
                break
            pos = self._pos_text(ins.pos) if ins.pos else ""
            self.w(f"{mark} {addr:#x} {self.image.describe(addr):<28} "
                   f"{str(ins).replace(chr(9), ' '):<36} {pos}")
            addr = ins.next_addr

    def cmd_stack(self, arg: str) -> None:
        """delve ``stack [depth] [-offsets]``, alias ``bt``."""
        depth, offsets = 50, False
        for word in arg.split():
            if word == "-offsets":
                offsets = True
            elif word.isdigit():
                depth = int(word)
            else:
                raise CommandError("usage: stack [<depth>] [-offsets]")
        m = self.machine
        frames = self.unwind(m.cpu.pc, m.cpu.regs[4], limit=depth + 1)
        for i, fr in enumerate(frames[:depth]):
            name, where = self._frame_where(fr)
            self.w(f"{i:>2}  {fr.pc:#018x} in {name}")
            self.w(f"    at {where}")
            if offsets:
                cfa = f"{fr.cfa:#x}" if fr.cfa is not None else "?"
                size = f"{fr.cfa - fr.sp}" if fr.cfa is not None else "?"
                self.w(f"    frame: SP={fr.sp:#x} CFA={cfa} size={size}")
        last = frames[-1] if frames else None
        if len(frames) > depth:
            self.w(f"(more frames; use 'stack {depth * 2}')")
        elif last is not None and last.cfa is None and not self._topframe(last.pc):
            self.w(f"({self.image.describe(last.pc)} loaded SP itself (a stack switch): "
                   "the frames beyond it are not followed)")

    def cmd_goroutines(self, arg: str) -> None:
        """delve ``goroutines``: every g the runtime knows, ``*`` on the current one."""
        cur = self.current_g()
        gs = [g for g in self._all_gs() if self._g_ok(g)]
        for g in gs:
            goid = self._gfield(g, "goid")
            status = self._status_name(self._gfield(g, "atomicstatus"))
            if g == cur:
                pc = self.machine.cpu.pc
            else:
                pc = self._gfield(g, "sched", "pc")
                if not pc and self.layout.g.has("startpc"):
                    pc = self._gfield(g, "startpc")
            lo, hi = self._gfield(g, "stack", "lo"), self._gfield(g, "stack", "hi")
            label = " (g0)" if g == self._sym_addr("runtime.g0") else ""
            mark = "*" if g == cur else " "
            ins = self.image.code.get(pc)
            where = self._pos_text(ins.pos) if ins is not None and ins.pos else "-"
            size = _kib(hi - lo) if hi > lo else "no stack"
            self.w(f"{mark} Goroutine {goid}{label} g={g:#x} [{status}] "
                   f"{self.image.describe(pc) if pc else '-'} {where}  stack {size}")
        self.w(f"[{len(gs)} goroutines]")

    def _stackmap_target(self, which: str | None):
        """(g, sp, pc, note) of the goroutine ``stackmap`` draws."""
        m = self.machine
        g0 = self._sym_addr("runtime.g0")
        cur = self.current_g()
        if which is None:
            if not self._g_ok(cur):
                if g0 is not None and self._g_ok(g0) and self._gfield(g0, "stack", "hi"):
                    g = g0
                else:
                    raise CommandError("no goroutine yet: TLS and g0's stack are not set up")
            else:
                g = cur
            mg = self._gfield(g, "m") if self._g_ok(g) else 0
            curg = self._read(mg + self.layout.m.curg, 8) if mg and self._mapped(mg) else 0
            if g == g0 and curg and self._g_ok(curg):
                sp = self._gfield(curg, "sched", "sp")
                pc = self._gfield(curg, "sched", "pc")
                lo, hi = self._gfield(curg, "stack", "lo"), self._gfield(curg, "stack", "hi")
                if sp and lo <= sp <= hi and not (lo <= m.cpu.regs[4] <= hi):
                    note = (f"on g0 in {self.image.describe(m.cpu.pc)}: showing goroutine "
                            f"{self._gfield(curg, 'goid')}, SP from g.sched.sp")
                    return curg, sp, pc, note
            return g, m.cpu.regs[4], m.cpu.pc, ""
        if which == "g0":
            g = g0
        else:
            if not which.isdigit():
                raise CommandError(f"no goroutine {which!r}")
            found = [g for g in self._all_gs() if self._g_ok(g)
                     and self._gfield(g, "goid") == int(which)]
            if not found:
                raise CommandError(f"no goroutine {which}")
            g = found[0]
        if g == cur:
            return g, m.cpu.regs[4], m.cpu.pc, ""
        return g, self._gfield(g, "sched", "sp"), self._gfield(g, "sched", "pc"), \
            "not running: SP and PC from g.sched"

    def cmd_stackmap(self, arg: str) -> None:
        """goasm's picture of one goroutine's stack (see ``help stackmap``)."""
        rows, which = 16, None
        words = arg.split()
        i = 0
        while i < len(words):
            if words[i] == "-rows" and i + 1 < len(words):
                rows = self._count(words[i + 1])
                i += 2
            elif which is None:
                which = words[i]
                i += 1
            else:
                raise CommandError("usage: stackmap [g0|<goid>] [-rows N]")
        rows = max(4, min(rows, 200))
        g, sp, pc, note = self._stackmap_target(which)
        for line in self.render_stackmap(g, sp, pc, rows, note):
            self.w(line)

    def render_stackmap(self, g: int, sp: int, pc: int, rows: int, note: str = "") -> list:
        lo, hi = self._gfield(g, "stack", "lo"), self._gfield(g, "stack", "hi")
        guard = self._gfield(g, "stackguard0")
        goid = self._gfield(g, "goid")
        size = hi - lo
        if size <= 0:
            raise CommandError(f"goroutine {goid} has no stack yet")
        g0 = self._sym_addr("runtime.g0")
        name = "g0" if g == g0 else f"goroutine {goid}"
        used = hi - sp if lo <= sp <= hi else None
        row = size // rows
        row_text = _kib(row) if row >= 1024 else f"{row} bytes"
        out = [f"{name} (g={g:#x}) stack {_kib(size)} [{lo:#x}, {hi:#x})"
               + (f", {used} bytes used ({100 * used // size}%)" if used is not None
                  else f", SP {sp:#x} is outside")
               + f", one row = {row_text}"]
        if note:
            out.append(f"({note})")
        frames = []
        if lo <= sp <= hi and pc:
            frames = [f for f in self.unwind(pc, sp, limit=1 << 20) if f.sp <= hi]
        unit = size / rows

        def row_of(addr):
            return min(rows - 1, max(0, int((hi - addr) / unit))) if addr < hi else 0

        by_row: list = [[] for _ in range(rows)]
        for fr in frames:
            top = min(fr.cfa if fr.cfa is not None else fr.sp + 8, hi)
            fname = self.image.symbol_at(fr.pc)[0]
            by_row[row_of(top - 1)].append(fname.name if fname is not None else hex(fr.pc))
        markers: list = [[] for _ in range(rows)]
        if lo <= sp <= hi:
            markers[row_of(sp)].append(("SP", sp))
        if lo <= guard <= hi:
            markers[row_of(guard)].append(("stackguard0", guard))
        width = 12
        out.append(f"{hi:#18x} +{'-' * width}+ hi")
        for r in range(rows):
            top = hi - r * unit
            if lo <= sp <= hi:
                used_part = max(0.0, min(1.0, (top - sp) / unit))
            else:
                used_part = 0.0
            n_used = round(width * used_part)
            free_ch = ":" if lo <= guard <= hi and top <= guard + unit / 2 else "."
            bar = "#" * n_used + free_ch * (width - n_used)
            names = _compress(by_row[r])
            mk = markers[r]
            left = f"{mk[0][1]:#18x}" if mk else " " * 18
            text = ""
            if mk:
                text = " ".join(f"<- {label}" for label, _ in mk)
                if any(label == "SP" for label, _ in mk) and pc:
                    text += f" ({self.image.describe(pc)})"
            if names:
                text = (text + "  " if text else "") + names
            out.append(f"{left} |{bar}| {text}".rstrip())
        out.append(f"{lo:#18x} +{'-' * width}+ lo")
        return out

    def cmd_list(self, arg: str) -> None:
        """delve ``list [<locspec>]``: source around PC (or the location), ``=>`` marks
        the current line."""
        if arg:
            addr = self.resolve_locspec(arg)[0]
        else:
            addr = self.machine.cpu.pc
        ins = self.image.code.get(addr)
        if ins is None or ins.pos is None:
            if addr in self.machine.natives:
                self.w(f"{self.image.describe(addr)} is a Go runtime function modelled in "
                       f"Python: {self._native_doc(addr)}")
                return
            raise CommandError(f"no source for {addr:#x}")
        self.w(f"Showing {self._pos_text(ins.pos)} (PC: {addr:#x})")
        here = self.image.code.get(self.machine.cpu.pc)
        mark = here is not None and here.pos is not None and \
            os.path.abspath(here.pos.file) == os.path.abspath(ins.pos.file)
        line = here.pos.line if mark else ins.pos.line
        self._print_source(os.path.abspath(ins.pos.file), ins.pos.line, 5, 5, mark=mark,
                           current=line)

    def cmd_disassemble(self, arg: str) -> None:
        """delve ``disassemble [-l <locspec>]``: the function's instructions as the
        loader executes them (prologue and stack-split check included)."""
        spec = arg[3:].strip() if arg.startswith("-l ") else arg.strip()
        addr = self.resolve_locspec(spec)[0] if spec else self.machine.cpu.pc
        sym, _ = self.image.symbol_at(addr)
        fn = self.image.functions.get(sym.name) if sym is not None else None
        if fn is None:
            raise CommandError(f"{self.image.describe(addr)} has no assembly "
                               "(a Go runtime function modelled in Python)")
        self.w(f"TEXT {fn.name}(SB) {self._rel(fn.file) if fn.file else ''}".rstrip())
        pc = self.machine.cpu.pc
        for ins in fn.instrs:
            mark = "=>" if ins.addr == pc else "  "
            pos = f"{os.path.basename(ins.pos.file)}:{ins.pos.line}" if ins.pos else ""
            self.w(f"{mark}\t{pos}\t{ins.addr:#x}\t{str(ins).replace(chr(9), ' ')}")

    def cmd_funcs(self, arg: str) -> None:
        """delve ``funcs [<regex>]``."""
        from goasm.image import SymKind

        try:
            rx = re.compile(arg) if arg else None
        except re.error as err:
            raise CommandError(f"bad regex: {err}") from None
        for name, sym in sorted(self.image.symbols.items()):
            if sym.kind not in (SymKind.TEXT, SymKind.NATIVE):
                continue
            if rx is None or rx.search(name):
                self.w(name + ("  (modelled in Python)" if sym.kind is SymKind.NATIVE else ""))

    def cmd_events(self, arg: str) -> None:
        """The runtime model's event log (what ``goasm run --trace`` prints as ``#``)."""
        n = self._count(arg) if arg else 20
        for ev in self.model.events[-n:]:
            self.w(f"[step {getattr(ev, 'step', '?')}] {ev}")

    def cmd_trace(self, arg: str) -> None:
        """``trace on|off`` or delve's ``trace <locspec>`` (a tracepoint)."""
        if arg in ("on", "off"):
            self.tracing = arg == "on"
            self.w(f"instruction trace {arg}")
            return
        if not arg:
            self.w(f"instruction trace {'on' if self.tracing else 'off'}")
            return
        bp = self.add_breakpoint(arg, tracepoint=True)
        self.w(f"Tracepoint {bp.id} set {'on' if bp.event else 'at'} {bp.desc}")

    def cmd_source(self, arg: str) -> None:
        """delve ``source <path>``: run the commands in a file."""
        path = arg.strip()
        if not path:
            raise CommandError("usage: source <path>")
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as err:
            raise CommandError(f"{path}: {err.strerror}") from None
        self.run_lines(lines)

    def cmd_help(self, arg: str) -> None:
        """delve ``help [command]``."""
        if arg:
            cmd = COMMAND_TABLE.get(arg.strip())
            if cmd is None:
                raise CommandError(f"no such command {arg.strip()!r}")
            self.w(cmd.summary)
            self.w("")
            self.w("\t" + cmd.usage)
            if cmd.details:
                self.w("")
                self.w(cmd.details)
            if cmd.aliases:
                self.w("")
                self.w("Aliases: " + " ".join(cmd.aliases))
            return
        self.w("The following commands are available (delve's names; see 'help <command>'):")
        for cmd in COMMANDS:
            names = cmd.name + (f" (alias: {' | '.join(cmd.aliases)})" if cmd.aliases else "")
            self.w(f"    {names:<40} {cmd.summary.splitlines()[0]}")

    def cmd_exit(self, arg: str) -> None:
        """delve ``exit``."""
        self.quit = True


# =========================================================================== helpers

def _binop(op: str, a: int, b: int) -> int:
    if op in ("/", "%") and b == 0:
        raise CommandError("division by zero")
    if op in ("<<", ">>") and b > 127:
        raise CommandError("shift count too large")
    res = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
        "%": lambda: a % b, "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
        "|": lambda: a | b, "^": lambda: a ^ b, "&^": lambda: a & ~b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
        "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
    }[op]()
    return res & M64


def _fmt_word(val: int, size: int, fmt: str) -> str:
    bits = size * 8
    if fmt in ("x", "a"):
        return f"0x{val:0{size * 2}x}"
    if fmt == "d":
        return str(val - (1 << bits) if val >> (bits - 1) else val)
    if fmt == "u":
        return str(val)
    if fmt == "o":
        return f"0{val:o}"
    if fmt == "t":
        return f"{val:0{bits}b}"
    if fmt == "c":
        return repr(chr(val)) if 32 <= val < 127 else f"\\x{val:02x}"
    return f"{val:#x}"


def _compress(names: list) -> str:
    groups: list = []
    for n in names:
        if groups and groups[-1][0] == n:
            groups[-1][1] += 1
        else:
            groups.append([n, 1])
    parts = [n if k == 1 else f"{n} x{k}" for n, k in groups]
    if len(parts) > 4:
        parts = parts[:2] + ["..."] + parts[-1:]
    return ", ".join(parts)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# =========================================================================== entry points

def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``goasm debug`` (for the CLI's subparser)."""
    p.add_argument("files", nargs="+", metavar="FILE.s")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="search DIR for #include files")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VAL]",
                   help="predefine a preprocessor macro")
    p.add_argument("--init", metavar="FILE", help="run the debugger commands in FILE first")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="add K=V to the program's environment")
    p.add_argument("--cpu", choices=tuple(PRESETS), default="intel")
    p.add_argument("--goroot", metavar="DIR|auto",
                   help="run that Go release's own runtime assembly instead of goasm's")


def main(ns, *, stdin=None, stdout=None) -> int:
    """Run ``goasm debug`` for parsed arguments ``ns`` (``files``, ``include``,
    ``define``, ``init``, ``program_args``; optional ``env``, ``cpu``). Returns the exit
    status: 0, or 1 when the program cannot be loaded."""
    out = stdout if stdout is not None else sys.stdout
    try:
        dbg = Debugger(ns.files, include_dirs=getattr(ns, "include", ()) or (),
                       defines=list(getattr(ns, "define", ()) or ()),
                       argv=getattr(ns, "program_args", ()) or (),
                       env=getattr(ns, "env", ()) or (), cpu=getattr(ns, "cpu", None),
                       goroot=getattr(ns, "goroot", None), stdin=stdin, stdout=out)
    except GoasmError as err:
        out.flush()
        sys.stderr.write(err.render() + "\n")
        return 1
    out.write(f"Type 'help' for list of commands. Stopped at "
              f"{dbg.image.describe(dbg.machine.cpu.pc)} (the process entry point), "
              f"step 0.\n")
    dbg.cmdloop(init=getattr(ns, "init", None))
    return 0


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    program_args: list = []
    if "--" in argv:
        cut = argv.index("--")
        argv, program_args = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(prog="python -m goasm.debug",
                                description="Debug a Go assembly program (delve-like).")
    add_arguments(p)
    ns = p.parse_args(argv)
    ns.program_args = program_args
    return main(ns)


if __name__ == "__main__":
    sys.exit(_main())

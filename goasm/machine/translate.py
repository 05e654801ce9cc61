"""Translated execution: hot code becomes one Python function per *region*.

DESIGN.md, "Performance design": one closure per instruction runs ~8 M instructions/s,
Python source generated per basic block ~15 M/s and per function ~22 M/s. This module
is the fast path of :meth:`goasm.machine.machine.Machine.run` (hooks, a callable
``until``, :meth:`~goasm.machine.machine.Machine.step` and tracing keep using the
per-instruction closures).

One definition of every instruction
    A region is built from the very source the instruction handlers emit for the
    per-instruction closures (:meth:`goasm.machine.semantics.Compiler.generate`): the
    bodies are concatenated and *rewritten*, never re-implemented. ``regs[k]`` becomes a
    local ``_Gk`` (loaded before its first use, written back at exits); the lazy flag
    slots ``cpu.fk fa fb fr fc`` (:mod:`goasm.machine.flags`) become locals ``_Sfk`` ...
    once written in the region, and a condition or carry test whose flag kind is known
    at that point is replaced by the formula text from :mod:`goasm.machine.flags`
    (``fa < fb`` for ``JCS`` after ``CMPQ``) -- the same text the flag function tables
    are compiled from. Flags are therefore computed only where they are read, and stored
    to the CPU only at region exits. Operand constants are inlined as literals.

Regions
    A region starts at a pc that has been dispatched ``threshold`` times and follows
    the instruction stream: through fall-through, through conditional branches (the
    taken side is an exit), through direct ``JMP``/``CALL`` (the trace continues at the
    target). It ends at an indirect transfer (``RET``, ``JMP AX``), an instruction whose
    handler built its own closure (string instructions), a native, an ``until``
    address, a pc already in the trace, or after :data:`MAX_TRACE` instructions. A
    branch back to the region's first instruction becomes ``continue`` of a ``while``
    loop, so a loop runs with its registers in locals. Instructions that reach
    machine state by other ways (``SYSCALL``, ``CPUID``: the machine ``m``; ``POPFQ``:
    the whole ``cpu``) are bracketed: everything dirty is written back before, the
    locals reloaded after.

Memory operands
    A load ``x = rdN(a)`` or store ``wrN(a, v)`` becomes an inline lookup in the
    memory's fast page tables (``Memory._r``/``_w``) and a ``struct`` access, with the
    method call only on a miss (unmapped, read-only, watched or copy-on-write page, or
    an access crossing a page), as :mod:`goasm.machine.memory` prescribes for code
    that reads those tables.

Cold code and hot spots
    Until a pc is hot its table entry runs the instruction's closure. Only entries
    reached by a jump, call, return or region exit count towards :data:`HOT` (code
    executed instruction by instruction would otherwise grow a region at every pc).

Hooks
    With only ``instruction`` hooks installed, :meth:`Machine.run
    <goasm.machine.machine.Machine.run>` uses a second table whose regions keep the
    handlers' bodies as they are (state in the CPU, not in locals) and call the hooks
    inline before each instruction with ``cpu.pc`` and ``machine.steps`` current, as
    the slow loop does; a hook that returns a value stops the run, one that moves
    ``cpu.pc`` or changes the hooks hands control back to the run loop. With only
    ``pc`` hooks, regions are the fast ones and the hooks' addresses are region
    boundaries whose table entries call the hooks first (registers are in the CPU at
    every region boundary). Other hook kinds use the slow loop. The machine interns
    its hook tables and the translator keeps a table per (hook table, probe), so
    hooks removed and added again -- a checker around every call -- find their
    translations again (:data:`MAX_TABLES`).

Access probes
    The runtime checker (:mod:`goasm.checker`) sees memory through an *access probe*
    (:meth:`Machine.set_probe <goasm.machine.machine.Machine.set_probe>`) instead of
    memory watches, which would take every stack page off the fast tables. In a
    probed table every memory access of translated code is preceded by the probe's
    filter, a few comparisons with the bounds in ``probe.cell`` (``[max stack size,
    innermost entry SP, top of the frames' area, result area low, high]``), and calls
    ``probe.probe_write(pc, addr, size, sp)`` / ``probe.probe_read(...)`` only when
    the access may concern the checker (see :class:`goasm.checker.Checker`); cold
    code runs closures compiled with checking accessors (``_probed_env``).
    Instructions that reach memory otherwise (SYSCALL: the kernel; string
    instructions, built as closures by their handlers) run alone, between
    ``probe.observe(True)`` and ``probe.observe(False)``: the probe watches memory
    itself meanwhile, as it does under every other loop.

The clock
    ``machine.steps`` is the virtual clock (RDTSC, the kernel's clock_gettime). While
    an instruction runs it counts the instructions started, that one included, in
    every loop: regions set it before an instruction that reaches the machine
    (``sync``), single-instruction entries before such instructions and natives
    (:meth:`Translator.clocked`), the closure loop ends its chunk before them.

Exactness
    Every dispatched callable consumes *fuel* (``fuel[0]``, the instructions this run
    may still execute) for each instruction it starts, and never more than it has: a
    region checks ``fuel >= its length`` on entry (else it executes only its first
    instruction) and ``fuel >= used + length`` at each loop back edge. So ``steps`` and
    ``max_steps`` are exact. A fault (or :class:`~goasm.machine.machine.ProgramExit`)
    inside a region writes the dirty locals back, sets ``cpu.pc`` to the instruction
    that raised and reports it in ``fuel[1]``: the state is what instruction-by-
    instruction execution leaves (the handlers write registers only after the accesses
    that can fault, see :mod:`goasm.machine.semantics`).

Engines (``GOASM_ENGINE``, read when a machine is built): ``translate`` (default: hot
code translated after :data:`HOT` dispatches), ``eager`` (translate on first dispatch;
the test suite runs every machine test with it) and ``closure`` (no translation).
``GOASM_HOT=N`` changes the threshold.
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
import re

from goasm.machine import flags as fl
from goasm.machine.ops.base import ENV_NAMES, Emitter

HOT = 16
"""Dispatches of a pc before a region is translated there (start-up code that runs
once is never compiled)."""

MAX_TRACE = 96
"""Most instructions in one region."""

CHUNK = 1 << 16
"""Fuel handed out per round of the run loop (``machine.steps`` is brought up to date
between rounds, so RDTSC's virtual counter advances during long runs)."""

ENGINES = ("translate", "eager", "closure")

SLOTS = ("fk", "fa", "fb", "fr", "fc")

_PARAM = re.compile(r"\b(_p\d+|_nxt)\b")
_REG = re.compile(r"\bregs\[(\d+)\]")
_XREG = re.compile(r"\bxmm\[(\d+)\]")
XMM_BASE = 100
"""Register numbers from here on are XMM registers (``xmm[k - XMM_BASE]``, local
``_X{k - XMM_BASE}``); below, general-purpose registers (``regs[k]``, local ``_G{k}``)."""


def _local(k: int) -> str:
    """The region local holding register number ``k`` (see :data:`XMM_BASE`)."""
    return f"_G{k}" if k < XMM_BASE else f"_X{k - XMM_BASE}"


def _home(k: int) -> str:
    """Where register number ``k`` lives in the CPU."""
    return f"regs[{k}]" if k < XMM_BASE else f"xmm[{k - XMM_BASE}]"
_SLOT = re.compile(r"\bcpu\.(fk|fa|fb|fr|fc)\b")
_TABLE_CALL = re.compile(r"\b(_o[0-9a-f]+)\[cpu\.fk\]\(cpu\)")
_CPU_ATTR = re.compile(r"\bcpu\b(?:\s*\.\s*(\w+))?")
_SYNC_NAMES = re.compile(r"\b(?:m|mem|regs|xmm)\b")
_RESERVED = re.compile(r"\b(?:_G\d+|_X\d+|_S[a-z]+|_F|_N|_I|_B|_v|_pg|_MR|_MW|_RD\d+|_WR\d+"
                       r"|_h\d+|_ht|_single|_unwind|fuel|_region|_lo|_hi|_R\d+|_K|_PW|_PR|_PC|_P[rw]\w+)\b")
"""Names the region code uses itself: a handler body using one is not translated."""
_MARK = re.compile(r"\x00(\w+)\x00")
_MASK32 = re.compile(r"\((\x00G(\d+)\x00) & 0xFFFFFFFF\)")
_TEMP_ASSIGN = re.compile(r"([a-z]\w*) = (.+)")
_NAME = re.compile(r"\b[A-Za-z_]\w*\b")
_EMBEDDED_READ = re.compile(r"\brd(8|16|32|64|128)\(([A-Za-z_]\w*|\d+)\)")
_CONDITIONAL = re.compile(r"\b(?:if|and|or|lambda)\b")
_SLOT_STORE = re.compile(r"\x00S(fk|fa|fb|fr|fc)\x00 = ")
_FK_MAP = re.compile(r"(_o[0-9a-f]+)\[\x00Sfk\x00\]")
"""``fk = table[fk]``: a flag kind mapped by a constant table (flags.ROTATED), folded
to a literal when the kind is known."""
_TEMPLATE_SLOT = re.compile(r"\b(fa|fb|fr|fc)\b")
_FREE_CPU_ATTRS = frozenset({"df", "tsc", "fs_base", "gs_base", "vhi", "kreg", "mxcsr",
                             "rflags_rest"})
_FLAG_CPU_ATTRS = frozenset({"get_rflags", "set_rflags", "flag"})
_MISSING = object()
_READ_LINE = re.compile(r"(?P<dst>[A-Za-z_]\w*) = (?P<q>\()?rd(?P<n>8|16|32|64|128)"
                        r"\((?P<a>[A-Za-z_]\w*|\d+)\)(?(q)\))$")
_WRITE_LINE = re.compile(r"wr(?P<n>8|16|32|64|128)\((?P<a>[A-Za-z_]\w*|\d+), (?P<v>.+)\)$")
_MEMORY_NAMES = ("_MR", "_MW", "_RD16", "_RD32", "_RD64", "_RD128", "_WR16", "_WR32", "_WR64",
                 "_WR128")
_CAN_RAISE = re.compile(r"[\w\])]\s*\(|\braise\b|/|%")
_REACHES = re.compile(r"\bm\.syscall\b|\bmem\b")
"""A body reaching memory other than through the ``rd*``/``wr*`` accessors (the kernel
behind ``SYSCALL``, the memory object itself): with an access probe it runs bracketed."""
_ACCESSOR = re.compile(r"\b(rd|wr)(\d+|v)\(")
"""A call, a raise or a division: what can raise inside a handler's body (arithmetic,
comparisons and subscripts of its own tables cannot)."""


def engine_from_env() -> tuple[str, int]:
    """(engine, hot threshold) from ``GOASM_ENGINE`` / ``GOASM_HOT`` (module docstring)."""
    from goasm.errors import GoasmError

    engine = os.environ.get("GOASM_ENGINE", "translate").strip().lower() or "translate"
    if engine not in ENGINES:
        raise GoasmError(f"GOASM_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    hot = os.environ.get("GOASM_HOT", "").strip()
    if hot and not hot.isdigit():
        raise GoasmError(f"GOASM_HOT={hot!r}: expected a number of dispatches")
    threshold = int(hot) if hot else (1 if engine == "eager" else HOT)
    return engine, max(threshold, 1)


# --------------------------------------------------------------------------- analysis

def _assign_split(text: str):
    """``(targets, rhs, augmented)`` for an assignment statement, else None."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            nxt = text[i + 1:i + 2]
            prev = text[i - 1:i] if i else ""
            if nxt == "=" or prev in ("=", "!"):
                return None
            if prev in "<>":
                # "<=" / ">=" comparisons, or "<<=" / ">>=" augmented assignments
                if text[i - 2:i] in ("<<", ">>"):
                    return text[:i - 2], text[i + 1:], True
                return None
            if prev in "+-*/%&|^@":
                j = i - 1
                if prev in "*/" and text[i - 2:i - 1] == prev:
                    j -= 1
                return text[:j], text[i + 1:], True
            return text[:i], text[i + 1:], False
    return None


class _Line:
    __slots__ = ("indent", "text", "raw", "ret", "rawret")

    def __init__(self, indent: int, text: str, raw: str, ret: str | None,
                 rawret: str | None) -> None:
        self.indent = indent      # nesting below the body's top level
        self.text = text          # with register/slot/table markers
        self.raw = raw            # parameters substituted only (for bracketed sync)
        self.ret = ret            # the returned expression of a return statement (marked)
        self.rawret = rawret      # the same, unmarked


class _Instr:
    """One instruction's body, analysed for region translation."""

    __slots__ = ("pc", "nxt", "lines", "objs", "kind", "reads", "writes", "cond_writes",
                 "sreads", "swrites", "cond_swrites", "tables", "exits", "final",
                 "target", "can_raise", "fk_literal", "reaches", "fk_map", "fk_line",
                 "narrow")

    def __init__(self, pc: int, nxt: int) -> None:
        self.pc = pc
        self.nxt = nxt
        self.lines: list[_Line] = []
        self.objs: dict[str, object] = {}
        self.kind = "plain"       # plain | flagsync (reaches cpu's flags) | sync
        self.reads: set[int] = set()
        self.writes: set[int] = set()
        self.cond_writes: set[int] = set()
        self.sreads: set[str] = set()
        self.swrites: set[str] = set()
        self.cond_swrites: set[str] = set()
        self.tables: dict[str, tuple] = {}   # marker -> (("cond", cc) / ("flag", name)
        #                                              / ("mat",), table parameter name)
        self.exits = False        # a return other than the final one
        self.final = "next"       # next | const | dynamic | raise
        self.target: int | None = None
        self.can_raise = True
        self.fk_literal: int | None = None
        self.reaches = False      # memory other than through rd*/wr* (see _REACHES)
        self.fk_map: tuple | None = None   # fk = fk_map[fk] (flags.ROTATED)
        self.fk_line: str | None = None    # that line (marked)
        self.narrow: dict[int, bool] = {}  # register -> written only 32 bits wide
        #                                    (True: unconditionally)


def _table_kinds() -> dict[int, tuple]:
    out = {id(t): ("cond", cc) for cc, t in fl.CONDITION.items()}
    for name, table in zip(fl.FLAG_NAMES, (fl.CF_BY_KIND, fl.PF_BY_KIND, fl.AF_BY_KIND,
                                           fl.ZF_BY_KIND, fl.SF_BY_KIND, fl.OF_BY_KIND)):
        out[id(table)] = ("flag", name)
    out[id(fl.MATERIALIZE)] = ("mat",)
    out[id(fl.CARRIES)] = ("carries",)
    return out


def analyze(e: Emitter, pc: int, nxt: int, table_kinds: dict) -> _Instr | None:
    """Analyse the body an :class:`Emitter` generated (None: cannot be translated)."""
    info = _Instr(pc, nxt)
    params = dict(zip(e.names, e.params))
    params["_nxt"] = nxt

    def literal(match):
        value = params[match.group(1)]
        if type(value) is int or type(value) is bool or value is None:
            return f"({value!r})" if type(value) is int and value < 0 else repr(value)
        name = f"_o{id(value):x}"
        info.objs[name] = value
        return name

    body = e.lines or ["        return _nxt"]
    base = len(body[0]) - len(body[0].lstrip(" "))
    raw_lines = []
    for line in body:
        stripped = line.lstrip(" ")
        indent = (len(line) - len(stripped) - base) // 4
        if indent < 0 or _RESERVED.search(stripped):
            return None
        raw_lines.append((indent, _PARAM.sub(literal, stripped)))

    kinds = set()
    has_loop = False
    for indent, text in raw_lines:
        if text.startswith(("for ", "while ")):
            has_loop = True
        probe = _SLOT.sub("", _TABLE_CALL.sub("", text))
        if _SYNC_NAMES.search(_XREG.sub("", _REG.sub("", probe))):
            kinds.add("sync")
        for m in _CPU_ATTR.finditer(probe):
            attr = m.group(1)
            if attr in _FREE_CPU_ATTRS:
                continue
            kinds.add("flagsync" if attr is None or attr in _FLAG_CPU_ATTRS else "sync")
        for m in _TABLE_CALL.finditer(text):
            if id(info.objs.get(m.group(1))) not in table_kinds:
                kinds.add("flagsync")
    info.kind = "sync" if "sync" in kinds else ("flagsync" if kinds else "plain")

    last = len(raw_lines) - 1
    for n, (indent, text) in enumerate(raw_lines):
        rawret = None
        if text == "return" or text.startswith("return "):
            rawret = text[6:].strip()
            if n != last:
                info.exits = True
        marked = text
        if info.kind != "sync":
            marked = _REG.sub(lambda m: f"\x00G{m.group(1)}\x00", marked)
            marked = _XREG.sub(lambda m: f"\x00G{XMM_BASE + int(m.group(1))}\x00", marked)
            if info.kind == "plain":
                def table(m):
                    key = f"T{len(info.tables)}"
                    info.tables[key] = (table_kinds[id(info.objs[m.group(1)])], m.group(1))
                    return f"\x00{key}\x00"
                marked = _TABLE_CALL.sub(table, marked)
                marked = _SLOT.sub(lambda m: f"\x00S{m.group(1)}\x00", marked)
            split = _assign_split(marked) if rawret is None else None
            targets, rhs = (split[0], split[1]) if split else ("", marked)
            if split and split[2]:
                rhs = targets + " " + rhs
            for m in _MARK.finditer(targets):
                tag = m.group(1)
                if tag[0] == "G":
                    info.writes.add(int(tag[1:]))
                    if indent:
                        info.cond_writes.add(int(tag[1:]))
                elif tag[0] == "S":
                    info.swrites.add(tag[1:])
                    if indent:
                        info.cond_swrites.add(tag[1:])
                    if tag == "Sfk":
                        value = rhs.strip() if not split[2] else ""
                        info.fk_literal = int(value) if value.isdigit() and not indent else None
                        mapped = _FK_MAP.fullmatch(value)
                        if mapped and not indent and info.objs.get(mapped.group(1)) is fl.ROTATED:
                            info.fk_map = fl.ROTATED
                            info.fk_line = marked
            for m in _MARK.finditer(rhs):
                tag = m.group(1)
                if tag[0] == "G":
                    info.reads.add(int(tag[1:]))
                elif tag[0] == "S":
                    info.sreads.add(tag[1:])
        ret = marked[6:].strip() if rawret is not None else None
        info.lines.append(_Line(indent, marked, text, ret, rawret))

    # Registers every write of which is a 32-bit Emitter.write (zero-extended, so the
    # value fits in 32 bits): a later `(reg & 0xFFFFFFFF)` needs no mask.
    counts: dict[int, int] = {}
    for line in info.lines:
        split = _assign_split(line.text) if line.rawret is None else None
        if split:
            for m in _MARK.finditer(split[0]):
                if m.group(1)[0] == "G":
                    k = int(m.group(1)[1:])
                    counts[k] = counts.get(k, 0) + 1
    for k, widths in getattr(e, "gpr_writes", {}).items():
        if set(widths) == {4} and counts.get(k) == len(widths):
            info.narrow[k] = k not in info.cond_writes

    if info.exits and has_loop:
        return None     # a return inside a handler's own loop: no `continue` rewriting
    final = raw_lines[last][1]
    if final.startswith("raise"):
        info.final = "raise"
    elif info.lines[last].rawret is None:
        return None     # a body that can run off its end: not a handler's shape
    elif info.lines[last].rawret == str(nxt):
        info.final = "next"
    elif info.lines[last].rawret.isdigit():
        info.final = "const"
        info.target = int(info.lines[last].rawret)
    else:
        info.final = "dynamic"
    code = "\n".join(t for _, t in raw_lines)
    info.can_raise = bool(_CAN_RAISE.search(code))
    info.reaches = bool(_REACHES.search(code))
    return info


# --------------------------------------------------------------------------- regions

class _Region:
    """Builds the source of one region (see the module docstring)."""

    def __init__(self, tr: "Translator", head: int, trace: list[_Instr], end: int | None,
                 loop: bool, hooks: tuple | None = None, probe=None) -> None:
        self.tr = tr
        self.hooks = hooks        # before-instruction hooks called inline (raw bodies)
        self.probe = probe        # an access probe whose filters guard memory accesses
        self.head = head
        self.trace = trace
        self.end = end            # pc after the last instruction when it falls through
        self.loop = loop
        self.out: list[str] = []
        self.objs: dict[str, object] = {}
        # state
        self.loaded: set[int] = set()
        self.rdirty: set[int] = set()
        self.sdirty: set[str] = set()
        self.sdef: set[str] = set()
        self.kind: int | None = None
        self.unwind: list[tuple] = []
        self.dead: list[set] = [set() for _ in trace]
        self.narrow: set[int] = set()     # registers known to hold 32-bit values

    def emit(self, depth: int, text: str) -> None:
        self.out.append("    " * depth + text)

    # ---- state transfer

    def flush_regs(self, depth: int, regs) -> None:
        for k in sorted(regs):
            self.emit(depth, f"{_home(k)} = {_local(k)}")

    def flush_slots(self, depth: int, slots) -> None:
        for s in SLOTS:
            if s in slots:
                self.emit(depth, f"cpu.{s} = _S{s}")

    def exit(self, depth: int, expr: str, count: int, regs, slots, *, back: bool = False):
        """Code leaving the region (or looping back) after ``count`` instructions of
        this pass."""
        used = f"(_N + {count})" if self.loop else str(count)
        if back:
            self.emit(depth, f"_N += {count}")
            self.emit(depth, f"if _N + {len(self.trace)} <= _F:")
            self.emit(depth + 1, "continue")
            used = "_N"
        self.flush_regs(depth, regs)
        self.flush_slots(depth, slots)
        self.emit(depth, f"fuel[0] = _F - {used}")
        self.emit(depth, f"return {expr}")

    # ---- one instruction

    def render_hooked(self, j: int, info: _Instr, depth: int) -> None:
        """Instruction ``j`` with the hooks called before it, as the slow loop does
        (``cpu.pc`` and ``machine.steps`` current; a result other than None stops the
        run: the region returns -1; a hook that moved ``cpu.pc`` or changed the hooks
        hands the instruction back to the run loop: -2)."""
        before = f"_B + _N + {j}" if self.loop else f"_B + {j}"
        used = f"(_N + {j})" if self.loop else str(j)
        self.emit(depth, f"cpu.pc = {info.pc}")
        self.emit(depth, f"m.steps = {before}")
        self.emit(depth, f"_I = {-j - 1}")       # a hook that raises: j ran, not j + 1
        for h in range(len(self.hooks)):
            self.emit(depth, f"_v = _h{h}(m)")
            self.emit(depth, "if _v is not None:")
            self.emit(depth + 1, "fuel[3] = _v")
            self.emit(depth + 1, f"fuel[0] = _F - {used}")
            self.emit(depth + 1, "return -1")
        self.emit(depth, f"if cpu.pc != {info.pc} or m._table is not _ht:")
        self.emit(depth + 1, f"fuel[0] = _F - {used}")
        self.emit(depth + 1, "return -2")
        self.emit(depth, f"m.last_pc = {info.pc}")
        self.emit(depth, f"_I = {j}")
        if info.kind == "sync":      # the clock: this instruction counts as started
            self.emit(depth, f"m.steps = {before} + 1")
        self.unwind.append((info.pc, (), ()))
        self.objs.update(info.objs)
        self.probe_pc(depth, info)
        for n, line in enumerate(info.lines):
            if line.rawret is None:
                self.emit(depth + line.indent, self.probed(line.raw))
            elif not self._falls_through(j, info, n):
                back = self.loop and line.rawret == str(self.head)
                self.exit(depth + line.indent, self.probed(line.rawret), j + 1, (), (),
                          back=back)

    # ---- access probes and the clock

    def probed(self, text: str) -> str:
        """``text`` with the memory accessors replaced by the probe's checking ones."""
        if self.probe is None:
            return text
        return _ACCESSOR.sub(lambda mm: f"_P{mm.group(1)[0]}{mm.group(2)}(", text)

    def probe_pc(self, depth: int, info: _Instr) -> None:
        """Before an instruction using the probe's checking accessors: the pc they
        report, and SP in the CPU (the filters read it there)."""
        if self.probe is None or not any(_ACCESSOR.search(line.raw) for line in info.lines):
            return
        self.emit(depth, f"_PC[0] = {info.pc}")
        if 4 in self.rdirty:
            self.emit(depth, "regs[4] = _G4")

    def steps_now(self, depth: int, j: int) -> None:
        """``machine.steps`` as the slow loop has it while instruction ``j`` runs (the
        instructions started so far, this one included): for bodies reading the clock."""
        used = f"_N + {j + 1}" if self.loop else str(j + 1)
        self.emit(depth, f"m.steps = fuel[2] - _F + {used}")

    def render(self, j: int, info: _Instr, depth: int) -> None:
        if self.hooks is not None:
            self.render_hooked(j, info, depth)
            return
        count = j + 1
        if info.can_raise:
            self.emit(depth, f"_I = {j}")
        if info.kind == "sync":
            self.flush_regs(depth, self.rdirty)
            self.flush_slots(depth, self.sdirty)
            self.rdirty = set()
            self.sdirty = set()
            self.unwind.append((info.pc, (), ()))
            self.objs.update(info.objs)
            self.steps_now(depth, j)
            self.probe_pc(depth, info)
            for n, line in enumerate(info.lines):
                if line.rawret is None:
                    self.emit(depth + line.indent, self.probed(line.raw))
                elif not self._falls_through(j, info, n):
                    # never a `continue`: the locals are reloaded only after the body
                    self.exit(depth + line.indent, self.probed(line.rawret), count, (), ())
            self.kind = None
            self.narrow = set()
            for k in sorted(self.loaded):
                self.emit(depth, f"{_local(k)} = {_home(k)}")
            for s in SLOTS:
                if s in self.sdef:
                    self.emit(depth, f"_S{s} = cpu.{s}")
            return

        # registers: load what is read, or written only conditionally / before an exit
        need = info.reads | info.cond_writes | (info.writes if info.exits else set())
        for k in sorted(need - self.loaded):
            self.emit(depth, f"{_local(k)} = {_home(k)}")
        self.loaded |= need

        dead = self.dead[j]
        swrites = info.swrites - dead
        if info.kind == "flagsync":
            self.flush_slots(depth, self.sdirty)
            self.sdirty = set()
            subst_slot = None
        else:
            if any(t[0] == "mat" or self.kind is None for t, _ in info.tables.values()):
                # a flag function reads the CPU's slots: store them first
                self.flush_slots(depth, self.sdirty)
                self.sdirty = set()
            pre = set()
            for s in swrites:
                if s in info.cond_swrites or s in info.sreads or info.exits:
                    pre.add(s)
            for s in SLOTS:
                if s in pre and s not in self.sdirty and s not in self.sdef:
                    self.emit(depth, f"_S{s} = cpu.{s}")
            self.sdef |= pre
            self.sdirty |= pre
            subst_slot = set(self.sdirty)

        kind = self.kind

        def repl(m):
            tag = m.group(1)
            if tag[0] == "G":
                return _local(int(tag[1:]))
            if tag[0] == "S":
                s = tag[1:]
                if subst_slot is not None and (s in subst_slot or s in swrites):
                    return f"_S{s}"
                return f"cpu.{s}"
            t, name = info.tables[tag]
            if t[0] == "mat" or kind is None:
                return f"{name}[cpu.fk](cpu)"
            if t[0] == "cond":
                expr = fl.condition_expression(t[1], kind)
            elif t[0] == "carries":
                expr = fl.carries_expression(kind)
            else:
                expr = fl.flag_expressions(kind)[t[1]]
            expr = _TEMPLATE_SLOT.sub(
                lambda mm: f"_S{mm.group(1)}" if mm.group(1) in subst_slot
                else f"cpu.{mm.group(1)}", expr)
            return f"({expr})"

        wb_regs = self.rdirty | info.writes
        wb_slots = (self.sdirty | swrites) if subst_slot is not None else set()
        self.unwind.append((info.pc, tuple(sorted(wb_regs)), tuple(s for s in SLOTS if s in wb_slots)))
        self.objs.update(info.objs)
        start = len(self.out)
        narrow = set(self.narrow)
        for n, line in enumerate(info.lines):
            if dead and not line.indent:
                target = _SLOT_STORE.match(line.text)
                if target is not None and target.group(1) in dead:
                    continue        # a flag slot nothing reads before it is written again
            if info.fk_map is not None and kind is not None and line.text is info.fk_line:
                text = f"_Sfk = {info.fk_map[kind]}"
            else:
                text = line.text
                if narrow and "0xFFFFFFFF)" in text:
                    # a register last written 32 bits wide needs no 32-bit mask
                    text = _MASK32.sub(lambda mm: mm.group(1) if int(mm.group(2)) in narrow
                                       else mm.group(0), text)
                text = _MARK.sub(repl, text)
                if narrow and line.rawret is None:
                    split = _assign_split(line.text)
                    if split:
                        for mm in _MARK.finditer(split[0]):
                            if mm.group(1)[0] == "G":
                                narrow.discard(int(mm.group(1)[1:]))
            d = depth + line.indent
            if line.ret is None:
                text = self.hoist_reads(d, text, info.pc)
                if not self.memory_access(d, text, info.pc):
                    if self.probe is not None and _ACCESSOR.search(text):
                        self.emit(d, f"_PC[0] = {info.pc}")
                        if 4 in self.rdirty:
                            self.emit(d, "regs[4] = _G4")
                    self.emit(d, self.probed(text))
                continue
            if self._falls_through(j, info, n):
                continue
            expr = _MARK.sub(repl, line.ret)
            if self.probe is not None and _ACCESSOR.search(expr):
                self.emit(d, f"_PC[0] = {info.pc}")
                if 4 in self.rdirty:
                    self.emit(d, "regs[4] = _G4")
                expr = self.probed(expr)
            back = self.loop and expr == str(self.head)
            self.exit(d, expr, count, wb_regs, wb_slots, back=back)

        self.out[start:] = _propagate(_dead_code(self.out[start:], depth), depth)
        for k in info.writes:
            if info.narrow.get(k):
                self.narrow.add(k)
            elif k not in info.narrow:
                self.narrow.discard(k)
        self.rdirty |= info.writes
        self.loaded |= info.writes
        if subst_slot is not None:
            self.sdirty |= swrites
            self.sdef |= swrites
            if "fk" in info.swrites:
                self.kind = info.fk_literal if "fk" not in info.cond_swrites else None
                if info.fk_map is not None and "fk" not in info.cond_swrites:
                    self.kind = info.fk_map[kind] if kind is not None else None
        else:
            self.kind = None
            for s in SLOTS:
                if s in self.sdef:
                    self.emit(depth, f"_S{s} = cpu.{s}")

    def hoist_reads(self, depth: int, text: str, pc: int) -> str:
        """A line reading memory inside an expression (``t = a + rd64(ea)``) has its
        reads taken out first, in order, as inline loads into ``_R0``, ``_R1`` ... -- not
        when the expression evaluates parts conditionally (``if``/``and``/``or``), where
        a read taken out could fault where the instruction does not."""
        if not self.tr.inline_memory or _READ_LINE.match(text) \
                or not _EMBEDDED_READ.search(text) or _CONDITIONAL.search(text):
            return text
        n = 0

        def take(m):
            nonlocal n
            name = f"_R{n}"
            n += 1
            self.memory_access(depth, f"{name} = rd{m.group(1)}({m.group(2)})", pc)
            return name
        return _EMBEDDED_READ.sub(take, text)

    def memory_access(self, depth: int, text: str, pc: int) -> bool:
        """Emit ``x = rdN(a)`` / ``wrN(a, v)`` with the page lookup inline: the
        memory's fast tables (``Memory._r``/``_w``) first, the method on a miss (an
        unmapped, read-only, watched or copy-on-write page, or an access crossing a
        page), as :mod:`goasm.machine.memory` prescribes. With an access probe, its
        filter comes first (see the module docstring). False: not such a line."""
        if not self.tr.inline_memory:
            return False
        sp = "_G4" if 4 in self.loaded else "regs[4]"
        m = _READ_LINE.match(text)
        if m is not None:
            dst, n, a = m.group("dst"), int(m.group("n")), m.group("a")
            size = n // 8
            if self.probe is not None:
                self.emit(depth, f"if {a} + {size} > _K[3] and {a} < _K[4]:")
                self.emit(depth + 1, f"_PR({pc}, {a}, {size}, {sp})")
            self.emit(depth, f"_pg = _MR.get({a} >> 12)")
            if size == 1:
                self.emit(depth, "if _pg is not None:")
                self.emit(depth + 1, f"{dst} = _pg[{a} & 4095]")
            elif size == 16:
                self.emit(depth, f"if _pg is not None and {a} & 4095 <= 4080:")
                self.emit(depth + 1, f"_lo, _hi = _RD128(_pg, {a} & 4095)")
                self.emit(depth + 1, f"{dst} = _lo | _hi << 64")
            else:
                self.emit(depth, f"if _pg is not None and {a} & 4095 <= {4096 - size}:")
                self.emit(depth + 1, f"{dst} = _RD{n}(_pg, {a} & 4095)[0]")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{dst} = rd{n}({a})")
            return True
        m = _WRITE_LINE.match(text)
        if m is not None and _simple_value(m.group("v")):
            n, a, v = int(m.group("n")), m.group("a"), m.group("v")
            size = n // 8
            if self.probe is not None:
                slack = self.probe.slack(pc)
                self.emit(depth, f"if {slack} < {sp} - {a} <= _K[0] or "
                                 f"({a} + {size} > _K[1] and {a} <= _K[2]):")
                self.emit(depth + 1, f"_PW({pc}, {a}, {size}, {sp})")
            self.emit(depth, f"_pg = _MW.get({a} >> 12)")
            if size == 1:
                self.emit(depth, "if _pg is not None:")
                self.emit(depth + 1, f"_pg[{a} & 4095] = {v} & 0xFF")
            elif size == 16:
                self.emit(depth, f"if _pg is not None and {a} & 4095 <= 4080:")
                self.emit(depth + 1, f"_WR128(_pg, {a} & 4095, {v} & 0xFFFFFFFFFFFFFFFF, "
                                     f"{v} >> 64 & 0xFFFFFFFFFFFFFFFF)")
            else:
                self.emit(depth, f"if _pg is not None and {a} & 4095 <= {4096 - size}:")
                self.emit(depth + 1, f"_WR{n}(_pg, {a} & 4095, {v} & {hex((1 << n) - 1)})")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"wr{n}({a}, {v})")
            return True
        return False

    def _falls_through(self, j: int, info: _Instr, n: int) -> bool:
        """Is line ``n`` of trace instruction ``j`` its final return into the next
        instruction of the trace (fall-through, or a followed JMP/CALL)?"""
        if n != len(info.lines) - 1:
            return False
        if info.final == "next":
            return True
        return info.final == "const" and j < len(self.trace) - 1

    # ---- whole region

    def dead_slots(self) -> list[set]:
        """For each instruction, the flag slots it writes that nothing reads before they
        are written again: a backward pass over the trace. Every exit, fault point
        (the unwind writes the slots back), flag read or bracketed instruction reads
        the slots the flag kind in effect uses (all of them when it is not known); an
        instruction setting kind K makes the slots K does not use irrelevant."""
        trace = self.trace
        kinds = []
        kind = None
        for info in trace:                       # the kind before each instruction
            kinds.append(kind)
            if info.kind != "plain":
                kind = None
            elif "fk" in info.swrites:
                if "fk" in info.cond_swrites:
                    kind = None
                elif info.fk_literal is not None:
                    kind = info.fk_literal
                elif info.fk_map is not None and kind is not None:
                    kind = info.fk_map[kind]
                else:
                    kind = None
        everything = set(SLOTS)
        live = everything if self.loop else _used_slots(kind)
        dead = []
        for j in range(len(trace) - 1, -1, -1):
            info = trace[j]
            after = kinds[j + 1] if j + 1 < len(trace) else kind
            if info.kind != "plain" or info.tables or info.exits or info.can_raise \
                    or info.final not in ("next", "const"):
                dead.append(set())
                live = _used_slots(kinds[j]) | _used_slots(after)
                continue
            uncond = info.swrites - info.cond_swrites
            if info.fk_map is not None and "fk" in uncond and "fk" not in live:
                dead.append(uncond - live)      # CF/OF replaced in flags nobody reads
                live = live - uncond
                continue
            dead.append(uncond - live - info.sreads)
            killed = set(uncond)
            if info.fk_literal is not None and "fk" in uncond:
                killed |= everything - _used_slots(info.fk_literal)
            live = (live - killed) | info.sreads
            if info.fk_map is not None:
                live |= {"fk", "fa", "fb", "fr"}
        dead.reverse()
        return dead

    def source(self) -> str:
        trace = self.trace
        n = len(trace)
        if self.hooks is None:
            self.dead = self.dead_slots()
        self.emit(1, "def _region():")
        self.emit(2, "_F = fuel[0]")
        self.emit(2, f"if _F < {n}:")
        self.emit(3, "return _single()")
        self.emit(2, "_I = 0")
        depth = 3
        if self.hooks is not None:
            self.emit(2, "_B = fuel[2] - _F")
            if self.loop:
                self.emit(2, "_N = 0")
                self.emit(2, "try:")
                self.emit(3, "while True:")
                depth = 4
            else:
                self.emit(2, "try:")
        elif self.loop:
            regs_used, regs_written, slots_written = set(), set(), set()
            for info in trace:
                if info.kind != "sync":
                    regs_used |= info.reads | info.writes
                    regs_written |= info.writes
                if info.kind == "plain":
                    slots_written |= info.swrites
            self.emit(2, "_N = 0")
            for k in sorted(regs_used):
                self.emit(2, f"{_local(k)} = {_home(k)}")
            for s in SLOTS:
                if s in slots_written:
                    self.emit(2, f"_S{s} = cpu.{s}")
            self.loaded = set(regs_used)
            self.rdirty = set(regs_written)
            self.sdirty = set(slots_written)
            self.sdef = set(slots_written)
            self.emit(2, "try:")
            self.emit(3, "while True:")
            depth = 4
        else:
            self.emit(2, "try:")
        for j, info in enumerate(trace):
            self.render(j, info, depth)
        if trace[-1].final == "next":
            self.exit(depth, str(self.end), n, self.rdirty, self.sdirty,
                      back=self.loop and self.end == self.head)
        if self.hooks is None:
            self.out = _fuse(self.out)
        self.emit(2, "except BaseException:")
        self.emit(3, f"_unwind(locals(), _I, {'_N' if self.loop else '0'})")
        self.emit(3, "raise")
        self.emit(1, "return _region")
        hooks = tuple(f"_h{i}" for i in range(len(self.hooks))) + ("_ht",) \
            if self.hooks is not None else ()
        probe = _probe_names() if self.probe is not None else ()
        params = ENV_NAMES + ("fuel", "_single", "_unwind") + _MEMORY_NAMES + hooks + probe \
            + tuple(self.objs)
        # The factory's values the body uses become default arguments of the region:
        # fast locals (LOAD_FAST) instead of closure cells (LOAD_DEREF).
        used = set(_NAME.findall("\n".join(self.out[1:])))
        bound = ", ".join(f"{n}={n}" for n in params if n in used)
        self.out[0] = f"    def _region({bound}):"
        return f"def _make({', '.join(params)}):\n" + "\n".join(self.out) + "\n"


@functools.lru_cache(maxsize=None)
def _slots_read_by(k: int) -> frozenset:
    fx = fl.flag_expressions(k)
    text = " ".join(fx.values()) + " " + " ".join(
        fl.condition_expression(cc, k, fx) for cc in fl.CONDITION_NAMES)
    return frozenset({"fk"} | set(_TEMPLATE_SLOT.findall(text)))


def _used_slots(k) -> set:
    """The lazy flag slots flag kind ``k`` reads (its flag and condition formulas); all
    of them when ``k`` is None (not known)."""
    return set(SLOTS) if k is None else set(_slots_read_by(k))


def _targets(text: str) -> set[str]:
    """Names a line assigns (assignment targets, a ``for`` loop's variables)."""
    if text.startswith("for "):
        return set(_NAME.findall(text[4:text.find(" in ")]))
    split = _assign_split(text)
    return set(_NAME.findall(split[0])) if split else set()


def _propagate(lines: list[str], depth: int) -> list[str]:
    """``lines`` (one instruction's rendering) with each handler temporary that is
    assigned a pure expression at the top level and read exactly once afterwards (before
    any reassignment of it or of what the expression reads) replaced by that expression:
    ``a = _G2; b = 8; r = (a + b) & M`` becomes ``r = (_G2 + 8) & M``."""
    indent = "    " * depth
    out = list(lines)
    if any(line.strip().startswith(("for ", "while ")) for line in out):
        return out          # a handler's own loop: a use may run after its inputs change
    i = 0
    while i < len(out):
        line = out[i]
        stripped = line[len(indent):]
        m = _TEMP_ASSIGN.fullmatch(stripped) if line.startswith(indent) \
            and not stripped.startswith(" ") else None
        split = _assign_split(stripped) if m is not None else None
        if m is None or split is None or split[2] or _CAN_RAISE.search(m.group(2)):
            i += 1
            continue
        name, expr = m.group(1), m.group(2).strip()
        reads = set(_NAME.findall(expr))
        word = re.compile(rf"\b{name}\b")
        use = None
        count = 0
        clobbered = False       # something the expression reads changes before the use
        for j in range(i + 1, len(out)):
            text = out[j].strip()
            hits = len(word.findall(text))
            targets = _targets(text)
            if hits:
                count += hits
                if use is None:
                    use = j
                    if name in targets:
                        clobbered = True    # read by an augmented assignment to it
            if use is None and reads & targets:
                clobbered = True
            if name in targets or count > 1:
                break           # reassigned (uses counted up to here), or read twice
        if clobbered:
            i += 1
            continue
        if count != 1 or use is None:
            i += 1
            continue
        if re.fullmatch(r"[A-Za-z_]\w*|\d+", expr) or (expr.startswith("(") and
                                                          _simple_value(expr)):
            value = expr
        else:
            value = f"({expr})"
        out[use] = word.sub(lambda _m: value, out[use], count=1)
        del out[i]
    return out


_SIMPLE_ASSIGN = re.compile(r"( *)([A-Za-z_]\w*) = (.+)")


def _fuse(lines: list[str]) -> list[str]:
    """Forward substitution across instructions: in a run of consecutive simple
    assignments at one indentation (pure expressions: no call, no raise, no division --
    nothing there can raise, exit or be observed), a definition that is read once and
    then redefined within the run is substituted into that read, so
    ``_G2 = (_G2 + 3) & M; _G2 = (_G2 ^ _G1) & M`` becomes one statement. The value
    dropped was never visible: the run has no exit, fault point or hook."""
    out = list(lines)
    start = 0
    while start < len(out):
        m = _SIMPLE_ASSIGN.fullmatch(out[start])
        if m is None or _CAN_RAISE.search(m.group(3)):
            start += 1
            continue
        indent = m.group(1)
        end = start
        while end < len(out):
            mm = _SIMPLE_ASSIGN.fullmatch(out[end])
            if mm is None or mm.group(1) != indent or _CAN_RAISE.search(mm.group(3)) \
                    or _assign_split(out[end].strip()) is None \
                    or _assign_split(out[end].strip())[2]:
                break
            end += 1
        run = [_SIMPLE_ASSIGN.fullmatch(line).groups()[1:] for line in out[start:end]]
        run = _fuse_run([list(x) for x in run])
        out[start:end] = [f"{indent}{name} = {_strip_masks(expr)}" for name, expr in run]
        start += len(run) + 1
    return out


_MOD_OPS = (ast.Add, ast.Sub, ast.Mult, ast.BitXor, ast.BitOr, ast.BitAnd, ast.LShift)


def _strip_masks(expr: str) -> str:
    """``expr`` without the inner ``& (2**k - 1)`` masks an outer mask makes redundant:
    under ``& (2**k - 1)``, ``+ - * ^ | & <<`` and unary ``- ~`` depend only on the low k
    bits of their operands (arithmetic modulo 2**k; Python's integers behave as infinite
    two's complement), so ``((a & M) + b & M) ^ c) & M`` is ``((a + b) ^ c) & M``."""
    if expr.count("& 0x") < 2:
        return expr
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return expr

    def ones(node):
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value > 0 \
                and node.value & (node.value + 1) == 0:
            return node.value.bit_length()
        return None

    def strip(node, bits):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitAnd):
                width = ones(node.right)
                if width is not None:
                    if bits is not None and width >= bits:
                        return strip(node.left, bits)
                    node.left = strip(node.left, width)
                    return node
            if bits is not None and isinstance(node.op, _MOD_OPS):
                node.left = strip(node.left, bits)
                if not isinstance(node.op, ast.LShift):
                    node.right = strip(node.right, bits)
                else:
                    node.right = strip(node.right, None)
                return node
        elif isinstance(node, ast.UnaryOp) and bits is not None \
                and isinstance(node.op, (ast.USub, ast.Invert)):
            node.operand = strip(node.operand, bits)
            return node
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                setattr(node, field, strip(value, None))
            elif isinstance(value, list):
                setattr(node, field, [strip(v, None) if isinstance(v, ast.AST) else v
                                      for v in value])
        return node
    return ast.unparse(strip(tree.body, None))


_FUSE_WINDOW = 16
"""How far after a definition :func:`_fuse_run` looks for its one read and its
redefinition: fusing is linear in a run's length (long unrolled SIMD runs -- sha256's
blockAVX2 -- made an unbounded search cubic: seconds per region)."""


def _fuse_run(run: list[list[str]]) -> list[list[str]]:
    i = 0
    while i < len(run):
        name, expr = run[i]
        reads = set(_NAME.findall(expr))
        word = re.compile(rf"\b{name}\b")
        use = None
        ok = False
        for j in range(i + 1, min(len(run), i + 1 + _FUSE_WINDOW)):
            hits = len(word.findall(run[j][1]))
            if hits:
                if use is not None or hits > 1:
                    break
                use = j
            if run[j][0] == name:
                ok = use is not None
                break
            if use is None and run[j][0] in reads:
                break       # an input of the expression changes before the read
        if not ok:
            i += 1
            continue
        value = expr if re.fullmatch(r"[A-Za-z_]\w*|\d+", expr) or (
            expr.startswith("(") and _simple_value(expr)) else f"({expr})"
        run[use][1] = word.sub(lambda _m: value, run[use][1], count=1)
        del run[i]
        i = max(i - 1, 0)       # the definition before may fuse into the changed read now
    return run


def _dead_code(lines: list[str], depth: int) -> list[str]:
    """``lines`` (one instruction's rendering, top level at ``depth``) without the
    assignments to handler temporaries (lower-case names) that no later line reads and
    that cannot raise or call anything (flag inputs whose flags turned out dead)."""
    needed: set[str] = set()
    keep = []
    indent = "    " * depth
    for line in reversed(lines):
        stripped = line[len(indent):] if line.startswith(indent) else line.lstrip()
        top = line.startswith(indent) and not stripped.startswith(" ")
        m = _TEMP_ASSIGN.fullmatch(stripped) if top else None
        if m is not None and _assign_split(stripped) is not None \
                and not _assign_split(stripped)[2] and not _CAN_RAISE.search(m.group(2)):
            name = m.group(1)
            if name not in needed:
                continue
            needed.discard(name)
            needed.update(_NAME.findall(m.group(2)))
        else:
            needed.update(_NAME.findall(stripped))
        keep.append(line)
    keep.reverse()
    return keep


def _simple_value(v: str) -> bool:
    """An identifier, a number, or one parenthesised group: safe to repeat in both
    branches of an inlined store (no commas at its top level)."""
    if re.fullmatch(r"[A-Za-z_]\w*|\d+", v):
        return True
    if not (v.startswith("(") and v.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(v):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(v) - 1:
                return False
    return depth == 0


def _memory_env(mem) -> tuple:
    """The values of :data:`_MEMORY_NAMES` for ``mem`` (its fast page tables and the
    struct accessors its methods use)."""
    import struct

    u16, u32, u64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
    u128 = struct.Struct("<QQ")             # a 128-bit value as its two halves
    return (mem._r, mem._w, u16.unpack_from, u32.unpack_from, u64.unpack_from,
            u128.unpack_from, u16.pack_into, u32.pack_into, u64.pack_into, u128.pack_into)


def _make_unwind(cpu, regs, xmm, fuel, entries):
    """The fault path of a region: write back what was dirty when instruction ``i``
    raised, point ``cpu.pc`` at it and charge the instructions started."""
    def _unwind(local, i, used):
        if i < 0:               # raised by a hook before instruction -i - 1
            pc = entries[-i - 1][0]
            cpu.pc = pc
            fuel[1] = pc
            fuel[0] = local["_F"] - (used - i - 1)
            return
        pc, wb_regs, wb_slots = entries[i]
        for k in wb_regs:
            v = local.get(_local(k), _MISSING)
            if v is not _MISSING:
                if k < XMM_BASE:
                    regs[k] = v
                else:
                    xmm[k - XMM_BASE] = v
        for s in wb_slots:
            v = local.get(f"_S{s}", _MISSING)
            if v is not _MISSING:
                setattr(cpu, s, v)
        cpu.pc = pc
        fuel[1] = pc
        fuel[0] = local["_F"] - (used + i + 1)
    return _unwind


# --------------------------------------------------------------------------- dispatch

class HookStop(Exception):
    """Raised by the run loop's entry -1: a hook returned ``value`` (``fuel[3]``)."""

    def __init__(self, value) -> None:
        super().__init__(value)
        self.value = value


class Rehook(Exception):
    """Raised by the run loop's entry -2 when the hooks changed during the run; the
    run continues at ``fuel[3]`` under the new hooks."""


class _Table(dict):
    """pc -> callable returning the next pc; built on first dispatch (stub or region).

    ``hooks`` is None for a table without ``instruction`` hooks, else those hooks (its
    entries call them before every instruction); ``at`` maps the addresses of ``pc``
    hooks to their functions (those addresses are region boundaries, and their entries
    call the hooks first, the real entry is then in ``inner``); ``hook_table`` is the
    machine's hook table the entries were built for; ``probe`` the access probe their
    memory accesses report to, or None (see the module docstring)."""

    __slots__ = ("tr", "hooks", "hook_table", "at", "probe", "inner", "regions", "covering",
                 "code")

    def __init__(self, tr: "Translator", hooks: tuple | None = None, hook_table=None,
                 at=None, probe=None):
        super().__init__()
        self.tr = tr
        self.hooks = hooks
        self.hook_table = hook_table
        self.at = dict(at) if at else {}
        self.probe = probe
        self.inner: dict = {}                     # pc of a pc hook -> its real entry
        self.regions: dict[int, tuple] = {}       # head -> (function, source, pcs,
        #                                           fall-through continuation or None)
        self.covering: dict[int, set[int]] = {}   # pc -> heads of regions including it
        self.code: dict = {}                      # pc -> the closure run when cold
        if hooks is not None or self.at:
            self[-1] = tr.hook_stop
            self[-2] = functools.partial(tr.hook_jump, self)

    def __missing__(self, pc):
        return self.tr.entry(self, pc)


MAX_TABLES = 8
"""Hooked or probed dispatch tables a translator keeps (least recently built dropped):
a checker attached and detached around every call finds its table again."""


def _probe_names() -> tuple:
    """The names probed regions receive: the probe's filter bounds ``_K``, its write and
    read functions ``_PW``/``_PR``, the cell ``_PC`` holding the pc the checking
    accessors report, and those accessors (``_Pr64`` for ``rd64`` ...)."""
    return ("_K", "_PW", "_PR", "_PC") + tuple(
        f"_P{n[0]}{n[2:]}" for n in ENV_NAMES if _ACCESSOR.fullmatch(n + "("))


def _accessor_size(name: str):
    """Bytes accessed by the environment accessor ``name`` (``rd64`` -> 8), or None when
    the size is an argument (``rdv(a, n)``, ``wrv(a, n, v)``)."""
    digits = name[2:]
    return int(digits) // 8 if digits.isdigit() else None


def _probed_env(probe, regs, pcell, env: tuple) -> tuple:
    """The checking accessors of a probe (the values of :func:`_probe_names` after
    ``_K _PW _PR _PC``), and the environment with them in place of the plain ones (for
    cold closures): each runs the probe's filter with ``regs[4]`` as SP and the pc in
    ``pcell[0]``, then the plain accessor."""
    k = probe.cell
    pw, pr = probe.probe_write, probe.probe_read

    def reader(fn, size):
        if size is None:
            def rdv(a, n):
                if a + n > k[3] and a < k[4]:
                    pr(pcell[0], a, n, regs[4])
                return fn(a, n)
            return rdv

        def rd(a):
            if a + size > k[3] and a < k[4]:
                pr(pcell[0], a, size, regs[4])
            return fn(a)
        return rd

    def writer(fn, size):
        if size is None:
            def wrv(a, n, v):
                sp = regs[4]
                if 0 < sp - a <= k[0] or (a + n > k[1] and a <= k[2]):
                    pw(pcell[0], a, n, sp)
                fn(a, n, v)
            return wrv

        def wr(a, v):
            sp = regs[4]
            if 0 < sp - a <= k[0] or (a + size > k[1] and a <= k[2]):
                pw(pcell[0], a, size, sp)
            fn(a, v)
        return wr

    accessors = []
    out = list(env)
    for i, name in enumerate(ENV_NAMES):
        if _ACCESSOR.fullmatch(name + "("):
            size = _accessor_size(name)
            fn = reader(env[i], size) if name[0] == "r" else writer(env[i], size)
            accessors.append(fn)
            out[i] = fn
    return tuple(accessors), tuple(out)


class Translator:
    """A machine's translated-code cache and dispatch tables (see the module
    docstring); :meth:`goasm.machine.machine.Machine._run_translated` is the loop."""

    def __init__(self, machine, *, threshold: int = HOT) -> None:
        self.machine = machine
        self.threshold = threshold
        # fuel[0]: instructions left; [1]: pc of the instruction that raised;
        # [2]: machine.steps when fuel[0] reaches 0; [3]: a hook's value / next pc.
        self.fuel = [0, None, 0, None]
        self.last = [None]      # fall-through address of the last cold instruction
        mem = machine.mem
        self.inline_memory = isinstance(getattr(mem, "_r", None), dict) and \
            isinstance(getattr(mem, "_w", None), dict)
        self.memory_env = _memory_env(mem) if self.inline_memory else (None,) * 10
        self.table = _Table(self)
        self._hooked: dict = {}     # (id(hook table), id(probe)) -> (hook table, probe, _Table)
        self.barriers: set[int] = set()
        self._info: dict[int, object] = {}
        self._table_kinds = _table_kinds()
        self._probe_env: dict = {}  # id(probe) -> (probe, pcell, accessors, env)
        self.eager: set[int] = set()    # pcs translated on their first dispatch (warm)

    def check_memory(self) -> None:
        """Regions inline lookups in the memory's fast page tables (``Memory._r`` and
        ``_w``); if the memory ever replaced those dicts, forget every region."""
        mem = self.machine.mem
        if self.inline_memory and (getattr(mem, "_r", None) is not self.memory_env[0]
                                   or getattr(mem, "_w", None) is not self.memory_env[1]):
            self.inline_memory = isinstance(getattr(mem, "_r", None), dict) and \
                isinstance(getattr(mem, "_w", None), dict)
            self.memory_env = _memory_env(mem) if self.inline_memory else (None,) * 10
            self.table = _Table(self)
            self._hooked = {}

    def hooked_table(self, hook_table, probe=None) -> _Table:
        """The table for the machine's hook table ``hook_table`` (``instruction`` hooks
        called before every instruction, ``pc`` hooks at their addresses; None: no
        hooks) and access probe ``probe`` (or None). Tables are kept and found again
        by the identity of both (the machine interns its hook tables), so translations
        survive hooks that come and go, as a checker's do around every call."""
        if hook_table is None and probe is None:
            return self.table
        key = (id(hook_table), id(probe))
        got = self._hooked.get(key)
        if got is not None and got[0] is hook_table and got[1] is probe:
            return got[2]
        hooks = hook_table.before if hook_table is not None and hook_table.before else None
        at = hook_table.at if hook_table is not None else None
        t = _Table(self, hooks, hook_table, at, probe)
        self._hooked[key] = (hook_table, probe, t)
        while len(self._hooked) > MAX_TABLES:
            del self._hooked[next(iter(self._hooked))]
        return t

    # ---- cold code

    def entry(self, table: _Table, pc: int):
        """Build the entry for ``pc`` in ``table`` (on its first dispatch)."""
        if pc in table.at:
            fn = self._at_entry(table, pc)
            table[pc] = fn
            return fn
        return self.stub(table, pc, table)

    def _at_entry(self, table: _Table, pc: int):
        """The entry of a ``pc`` hook's address: the hooks (``cpu.pc`` and
        ``machine.steps`` current, as the slow loop calls them), then the real entry
        (``table.inner``). A hook's value stops the run (entry -1); a hook that moved
        ``cpu.pc`` or changed the hooks hands over to entry -2."""
        m = self.machine
        cpu = m.cpu
        fuel = self.fuel
        fns = table.at[pc]
        ht = table.hook_table
        inner = table.inner
        tr = self

        def _at():
            cpu.pc = pc
            m.steps = fuel[2] - fuel[0]
            for h in fns:
                v = h(m)
                if v is not None:
                    fuel[3] = v
                    return -1
            if cpu.pc != pc or m._table is not ht:
                return -2
            fn = inner.get(pc)
            if fn is None:
                fn = tr.stub(table, pc, inner)
            return fn()
        return _at

    def stub(self, table: _Table, pc: int, into: dict):
        """The entry for a pc not translated (yet), installed in ``into`` (the table,
        or its ``inner`` map for a pc hook's address): runs the instruction's closure,
        charging one instruction of fuel, and counts dispatches."""
        m = self.machine
        if m._code.get(pc) is None:
            def _missing():
                raise m._fault_at(pc)
            return _missing
        one = self._single(table, pc)
        threshold = self.threshold
        if threshold <= 1 or pc in self.eager:
            self.hot(table, pc, into)
            return into[pc]
        count = 0
        tr = self
        ins = m.image.code.get(pc)
        nxt = ins.next_addr if ins is not None else None
        last = self.last

        def _stub():
            # Count only entries by a jump, call, return or region exit: code run
            # instruction by instruction would otherwise get a region at every pc.
            nonlocal count
            if last[0] != pc:
                count += 1
                if count >= threshold:
                    tr.hot(table, pc, into)
            n = one()
            last[0] = n if n == nxt else None
            return n
        into[pc] = _stub
        return _stub

    def clocked(self, pc: int) -> bool:
        """Does the code at ``pc`` read ``machine.steps`` (the virtual clock: RDTSC,
        the kernel's clock_gettime behind SYSCALL, natives), or reach the machine in
        other ways? Its single-instruction entry then brings ``steps`` up to date."""
        info = self.info(pc)
        return info is None or info.kind == "sync"

    def bracketed(self, table: _Table, pc: int) -> bool:
        """With an access probe: does the instruction at ``pc`` reach memory other than
        through the accessors (the kernel behind SYSCALL, a handler-built closure such
        as a string instruction)? It then runs alone, the probe observing memory."""
        if table.probe is None:
            return False
        m = self.machine
        if pc in m.natives:
            return False            # natives are the runtime model: not checked
        info = self.info(pc)
        return info is None or info.reaches

    def closure(self, table: _Table, pc: int):
        """The closure executing the instruction at ``pc`` alone in ``table``: the
        machine's, or with a probe, one compiled with the checking accessors (or the
        machine's in a bracket that makes the probe observe memory itself)."""
        m = self.machine
        fn = m._code[pc]
        probe = table.probe
        if probe is None or pc in m.natives:
            return fn
        got = table.code.get(pc)
        if got is not None:
            return got
        _, pcell, _, env = self.probe_env(probe)
        if self.bracketed(table, pc):
            plain = fn

            def fn():
                pcell[0] = pc
                m.last_pc = pc
                probe.observe(True)
                try:
                    return plain()
                finally:
                    probe.observe(False)
        else:
            e = m.compiler.generate(m.image.code[pc])
            body = m.compiler.factory(e.source())(*env, *e.params)

            def fn():
                pcell[0] = pc
                return body()
        table.code[pc] = fn
        return fn

    def probe_env(self, probe):
        """(probe, pc cell, checking accessors, environment with them) for ``probe``."""
        got = self._probe_env.get(id(probe))
        if got is None or got[0] is not probe:
            pcell = [0]
            accessors, env = _probed_env(probe, self.machine.cpu.regs, pcell,
                                         self.machine.compiler.env)
            got = self._probe_env[id(probe)] = (probe, pcell, accessors, env)
        return got

    def _single(self, table: _Table, pc: int):
        """An entry executing just the instruction at ``pc`` (with the table's hooks)."""
        m = self.machine
        fn = self.closure(table, pc)
        fuel = self.fuel
        if table.hooks is None:
            if self.clocked(pc):
                def _one_clocked():
                    fuel[0] -= 1
                    m.steps = fuel[2] - fuel[0]
                    return fn()
                return _one_clocked

            def _one():
                fuel[0] -= 1
                return fn()
            return _one
        cpu = m.cpu
        hooks = table.hooks
        ht = table.hook_table

        def _one_hooked():
            cpu.pc = pc
            m.steps = fuel[2] - fuel[0]
            for h in hooks:
                v = h(m)
                if v is not None:
                    fuel[3] = v
                    return -1
            if cpu.pc != pc or m._table is not ht:
                return -2
            m.last_pc = pc
            fuel[0] -= 1
            m.steps = fuel[2] - fuel[0]
            return fn()
        return _one_hooked

    def hook_stop(self):
        """Entry -1: a hook asked to stop."""
        raise HookStop(self.fuel[3])

    def hook_jump(self, table: _Table):
        """Entry -2: a hook moved ``cpu.pc`` (or changed the hooks): execute the
        instruction at ``cpu.pc`` without calling hooks again, as the slow loop does."""
        m = self.machine
        fuel = self.fuel
        pc = m.cpu.pc
        if m._code.get(pc) is None:
            raise m._fault_at(pc)
        fn = self.closure(table, pc)
        fuel[1] = pc
        m.last_pc = pc
        fuel[0] -= 1
        m.steps = fuel[2] - fuel[0]
        nxt = fn()
        fuel[1] = None
        if m._table is not table.hook_table or m.probe is not table.probe:
            fuel[3] = nxt
            raise Rehook
        return nxt

    def hot(self, table: _Table, pc: int, into: dict | None = None) -> None:
        """Translate the region starting at ``pc`` and install it in ``into`` (default:
        the table), or a plain counting entry when nothing there can be translated.
        A region that ends by falling through (it reached :data:`MAX_TRACE`, or code
        it cannot include) is as hot as its continuation: that is translated too, and
        so on, so straight-line code called a few times (a fully unrolled
        ``keccakF1600``) does not wait for every piece to become hot on its own."""
        work = [(pc, into)]
        while work:
            pc, into = work.pop()
            region = self.translate(table, pc)
            (table if into is None else into)[pc] = \
                region if region is not None else self._single(table, pc)
            if region is None:
                continue
            end = table.regions[pc][3]
            if end is None or end == pc or end in table.regions or end in self.barriers \
                    or self.machine._code.get(end) is None:
                continue
            work.append((end, table.inner if end in table.at else None))

    def warm(self, pc: int) -> None:
        """Translate at ``pc`` on its first dispatch, in every table (see
        :meth:`goasm.machine.machine.Machine.warm`)."""
        self.eager.add(pc)
        for table in self._tables():
            entry = table.inner.get(pc) if pc in table.at else dict.get(table, pc)
            if entry is not None and pc not in table.regions:
                (table.inner if pc in table.at else table).pop(pc, None)

    # ---- translation

    def info(self, pc: int):
        got = self._info.get(pc, _MISSING)
        if got is _MISSING:
            got = None
            m = self.machine
            ins = m.image.code.get(pc)
            if ins is not None and m._code.get(pc) is m._compiled.get(pc) is not None:
                e = m.compiler.generate(ins)
                if isinstance(e, Emitter):
                    got = analyze(e, pc, ins.next_addr, self._table_kinds)
            self._info[pc] = got
        return got

    def trace(self, head: int, table: _Table | None = None):
        """(instructions, end pc, loop?) of the region starting at ``head`` (for
        ``table``: its pc hooks' addresses are boundaries, its probe's bracketed
        instructions run alone, and a region already translated there is joined: the
        trace ends at its head, so regions entered at different labels of one long
        straight-line body -- sha256's blockAVX2 -- never translate the rest of it twice)."""
        at = table.at if table is not None else {}
        trace: list[_Instr] = []
        seen: set[int] = set()
        pc = head
        loop = False
        end = None
        while True:
            if pc in seen or (trace and (pc in self.barriers or pc in at
                                         or (table is not None and pc in table.regions))) \
                    or len(trace) >= MAX_TRACE:
                end = pc
                break
            info = self.info(pc)
            if info is None or (table is not None and self.bracketed(table, pc)):
                end = pc
                break
            trace.append(info)
            seen.add(pc)
            for line in info.lines:
                if line.rawret is not None and line.rawret == str(head):
                    loop = True
            if info.final == "next":
                pc = info.nxt
            elif info.final == "const":
                pc = info.target
                if pc == head:
                    loop = True
                    end = pc
                    break
            else:
                break
        if end == head:
            loop = True
        if head in at:
            loop = False        # back to a hooked head: through its entry, not `continue`
        return trace, end, loop

    def translate(self, table: _Table, head: int):
        """The region function for ``head`` in ``table`` (None when its first
        instruction cannot be translated)."""
        trace, end, loop = self.trace(head, table)
        if not trace:
            return None
        r = _Region(self, head, trace, end, loop, table.hooks, table.probe)
        src = r.source()
        m = self.machine
        namespace: dict = {}
        exec(builtins.compile(src, f"<goasm-region {head:#x}>", "exec"), namespace)  # noqa: S102
        unwind = _make_unwind(m.cpu, m.cpu.regs, m.cpu.xmm, self.fuel, tuple(r.unwind))
        hooks = (*table.hooks, table.hook_table) if table.hooks is not None else ()
        probe = ()
        if table.probe is not None:
            p, pcell, accessors, _ = self.probe_env(table.probe)
            probe = (p.cell, p.probe_write, p.probe_read, pcell, *accessors)
        fn = namespace["_make"](*m.compiler.env, self.fuel, self._single(table, head), unwind,
                                *self.memory_env, *hooks, *probe, *r.objs.values())
        pcs = tuple(i.pc for i in trace)
        follow = end if trace[-1].final == "next" and not loop else None
        table.regions[head] = (fn, src, pcs, follow)
        for pc in pcs:
            table.covering.setdefault(pc, set()).add(head)
        return fn

    # ---- invalidation

    def _tables(self):
        return (self.table, *(t for _, _, t in self._hooked.values()))

    def invalidate(self, addr: int) -> None:
        """Forget translations that include ``addr`` (a native installed or removed)."""
        self._info.pop(addr, None)
        for table in self._tables():
            table.pop(addr, None)
            table.inner.pop(addr, None)
            table.code.pop(addr, None)
            for head in table.covering.pop(addr, ()):
                self._drop(table, head)

    def _drop(self, table: _Table, head: int) -> None:
        entry = table.regions.pop(head, None)
        if entry is None:
            return
        if table.get(head) is entry[0]:
            del table[head]
        if table.inner.get(head) is entry[0]:
            del table.inner[head]
        for pc in entry[2]:
            heads = table.covering.get(pc)
            if heads is not None:
                heads.discard(head)

    def add_barrier(self, addr: int) -> None:
        """Make ``addr`` a region boundary (``run(until=addr)``): regions that run
        through it are dropped and rebuilt when hot again."""
        if addr in self.barriers:
            return
        self.barriers.add(addr)
        for table in self._tables():
            for head in tuple(table.covering.get(addr, ())):
                if head != addr:
                    self._drop(table, head)

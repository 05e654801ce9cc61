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
    ``cpu.pc`` or changes the hooks hands control back to the run loop. Other hook
    kinds use the slow loop.

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

import builtins
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
_SLOT = re.compile(r"\bcpu\.(fk|fa|fb|fr|fc)\b")
_TABLE_CALL = re.compile(r"\b(_o[0-9a-f]+)\[cpu\.fk\]\(cpu\)")
_CPU_ATTR = re.compile(r"\bcpu\b(?:\s*\.\s*(\w+))?")
_SYNC_NAMES = re.compile(r"\b(?:m|mem|regs)\b")
_RESERVED = re.compile(r"\b(?:_G\d+|_S[a-z]+|_F|_N|_I|_B|_v|_pg|_MR|_MW|_RD\d+|_WR\d+"
                       r"|_h\d+|_ht|_single|_unwind|fuel|_region)\b")
"""Names the region code uses itself: a handler body using one is not translated."""
_MARK = re.compile(r"\x00(\w+)\x00")
_TEMPLATE_SLOT = re.compile(r"\b(fa|fb|fr|fc)\b")
_FREE_CPU_ATTRS = frozenset({"df", "tsc", "fs_base", "gs_base", "xmm", "vhi", "kreg", "mxcsr",
                             "rflags_rest"})
_FLAG_CPU_ATTRS = frozenset({"get_rflags", "set_rflags", "flag"})
_MISSING = object()
_READ_LINE = re.compile(r"(?P<dst>[A-Za-z_]\w*) = (?P<q>\()?rd(?P<n>8|16|32|64)"
                        r"\((?P<a>[A-Za-z_]\w*|\d+)\)(?(q)\))$")
_WRITE_LINE = re.compile(r"wr(?P<n>8|16|32|64)\((?P<a>[A-Za-z_]\w*|\d+), (?P<v>.+)\)$")
_MEMORY_NAMES = ("_MR", "_MW", "_RD16", "_RD32", "_RD64", "_WR16", "_WR32", "_WR64")
_CAN_RAISE = re.compile(r"[\w\])]\s*\(|\braise\b|/|%")
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
                 "target", "can_raise", "fk_literal")

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


def _table_kinds() -> dict[int, tuple]:
    out = {id(t): ("cond", cc) for cc, t in fl.CONDITION.items()}
    for name, table in zip(fl.FLAG_NAMES, (fl.CF_BY_KIND, fl.PF_BY_KIND, fl.AF_BY_KIND,
                                           fl.ZF_BY_KIND, fl.SF_BY_KIND, fl.OF_BY_KIND)):
        out[id(table)] = ("flag", name)
    out[id(fl.MATERIALIZE)] = ("mat",)
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
        if _SYNC_NAMES.search(_REG.sub("", probe)):
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
            for m in _MARK.finditer(rhs):
                tag = m.group(1)
                if tag[0] == "G":
                    info.reads.add(int(tag[1:]))
                elif tag[0] == "S":
                    info.sreads.add(tag[1:])
        ret = marked[6:].strip() if rawret is not None else None
        info.lines.append(_Line(indent, marked, text, ret, rawret))

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
    return info


# --------------------------------------------------------------------------- regions

class _Region:
    """Builds the source of one region (see the module docstring)."""

    def __init__(self, tr: "Translator", head: int, trace: list[_Instr], end: int | None,
                 loop: bool, hooks: tuple | None = None) -> None:
        self.tr = tr
        self.hooks = hooks        # before-instruction hooks called inline (raw bodies)
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

    def emit(self, depth: int, text: str) -> None:
        self.out.append("    " * depth + text)

    # ---- state transfer

    def flush_regs(self, depth: int, regs) -> None:
        for k in sorted(regs):
            self.emit(depth, f"regs[{k}] = _G{k}")

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
        self.unwind.append((info.pc, (), ()))
        self.objs.update(info.objs)
        for n, line in enumerate(info.lines):
            if line.rawret is None:
                self.emit(depth + line.indent, line.raw)
            elif not self._falls_through(j, info, n):
                back = self.loop and line.rawret == str(self.head)
                self.exit(depth + line.indent, line.rawret, j + 1, (), (), back=back)

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
            last = len(info.lines) - 1
            for n, line in enumerate(info.lines):
                if line.rawret is None:
                    self.emit(depth + line.indent, line.raw)
                elif not self._falls_through(j, info, n):
                    # never a `continue`: the locals are reloaded only after the body
                    self.exit(depth + line.indent, line.rawret, count, (), ())
            self.kind = None
            for k in sorted(self.loaded):
                self.emit(depth, f"_G{k} = regs[{k}]")
            for s in SLOTS:
                if s in self.sdef:
                    self.emit(depth, f"_S{s} = cpu.{s}")
            return

        # registers: load what is read, or written only conditionally / before an exit
        need = info.reads | info.cond_writes | (info.writes if info.exits else set())
        for k in sorted(need - self.loaded):
            self.emit(depth, f"_G{k} = regs[{k}]")
        self.loaded |= need

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
            for s in info.swrites:
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
                return f"_G{tag[1:]}"
            if tag[0] == "S":
                s = tag[1:]
                if subst_slot is not None and (s in subst_slot or s in info.swrites):
                    return f"_S{s}"
                return f"cpu.{s}"
            t, name = info.tables[tag]
            if t[0] == "mat" or kind is None:
                return f"{name}[cpu.fk](cpu)"
            expr = (fl.condition_expression(t[1], kind) if t[0] == "cond"
                    else fl.flag_expressions(kind)[t[1]])
            expr = _TEMPLATE_SLOT.sub(
                lambda mm: f"_S{mm.group(1)}" if mm.group(1) in subst_slot
                else f"cpu.{mm.group(1)}", expr)
            return f"({expr})"

        wb_regs = self.rdirty | info.writes
        wb_slots = (self.sdirty | info.swrites) if subst_slot is not None else set()
        self.unwind.append((info.pc, tuple(sorted(wb_regs)), tuple(s for s in SLOTS if s in wb_slots)))
        self.objs.update(info.objs)
        for n, line in enumerate(info.lines):
            text = _MARK.sub(repl, line.text)
            d = depth + line.indent
            if line.ret is None:
                if not self.memory_access(d, text):
                    self.emit(d, text)
                continue
            if self._falls_through(j, info, n):
                continue
            expr = _MARK.sub(repl, line.ret)
            back = self.loop and expr == str(self.head)
            self.exit(d, expr, count, wb_regs, wb_slots, back=back)

        self.rdirty |= info.writes
        self.loaded |= info.writes
        if subst_slot is not None:
            self.sdirty |= info.swrites
            self.sdef |= info.swrites
            if "fk" in info.swrites:
                self.kind = info.fk_literal if "fk" not in info.cond_swrites else None
        else:
            self.kind = None
            for s in SLOTS:
                if s in self.sdef:
                    self.emit(depth, f"_S{s} = cpu.{s}")

    def memory_access(self, depth: int, text: str) -> bool:
        """Emit ``x = rdN(a)`` / ``wrN(a, v)`` with the page lookup inline: the
        memory's fast tables (``Memory._r``/``_w``) first, the method on a miss (an
        unmapped, read-only, watched or copy-on-write page, or an access crossing a
        page), as :mod:`goasm.machine.memory` prescribes. False: not such a line."""
        if not self.tr.inline_memory:
            return False
        m = _READ_LINE.match(text)
        if m is not None:
            dst, n, a = m.group("dst"), int(m.group("n")), m.group("a")
            size = n // 8
            self.emit(depth, f"_pg = _MR.get({a} >> 12)")
            if size == 1:
                self.emit(depth, "if _pg is not None:")
                self.emit(depth + 1, f"{dst} = _pg[{a} & 4095]")
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
            self.emit(depth, f"_pg = _MW.get({a} >> 12)")
            if size == 1:
                self.emit(depth, "if _pg is not None:")
                self.emit(depth + 1, f"_pg[{a} & 4095] = {v} & 0xFF")
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

    def source(self) -> str:
        trace = self.trace
        n = len(trace)
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
                self.emit(2, f"_G{k} = regs[{k}]")
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
        self.emit(2, "except BaseException:")
        self.emit(3, f"_unwind(locals(), _I, {'_N' if self.loop else '0'})")
        self.emit(3, "raise")
        self.emit(1, "return _region")
        hooks = tuple(f"_h{i}" for i in range(len(self.hooks))) + ("_ht",) \
            if self.hooks is not None else ()
        names = ", ".join(ENV_NAMES + ("fuel", "_single", "_unwind") + _MEMORY_NAMES + hooks
                          + tuple(self.objs))
        return f"def _make({names}):\n" + "\n".join(self.out) + "\n"


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
    return (mem._r, mem._w, u16.unpack_from, u32.unpack_from, u64.unpack_from,
            u16.pack_into, u32.pack_into, u64.pack_into)


def _make_unwind(cpu, regs, fuel, entries):
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
            v = local.get(f"_G{k}", _MISSING)
            if v is not _MISSING:
                regs[k] = v
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
    ``hooks`` is None for the plain table, else the before-instruction hooks its
    entries call (with ``hook_table``, the machine's hook table they were built for)."""

    __slots__ = ("tr", "hooks", "hook_table", "regions", "covering")

    def __init__(self, tr: "Translator", hooks: tuple | None = None, hook_table=None):
        super().__init__()
        self.tr = tr
        self.hooks = hooks
        self.hook_table = hook_table
        self.regions: dict[int, tuple] = {}       # head -> (function, source, pcs)
        self.covering: dict[int, set[int]] = {}   # pc -> heads of regions including it
        if hooks is not None:
            self[-1] = tr.hook_stop
            self[-2] = tr.hook_jump

    def __missing__(self, pc):
        return self.tr.stub(self, pc)


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
        self.memory_env = _memory_env(mem) if self.inline_memory else (None,) * 8
        self.table = _Table(self)
        self.hooked: _Table | None = None
        self.barriers: set[int] = set()
        self._info: dict[int, object] = {}
        self._table_kinds = _table_kinds()

    def check_memory(self) -> None:
        """Regions inline lookups in the memory's fast page tables (``Memory._r`` and
        ``_w``); if the memory ever replaced those dicts, forget every region."""
        mem = self.machine.mem
        if self.inline_memory and (getattr(mem, "_r", None) is not self.memory_env[0]
                                   or getattr(mem, "_w", None) is not self.memory_env[1]):
            self.inline_memory = isinstance(getattr(mem, "_r", None), dict) and \
                isinstance(getattr(mem, "_w", None), dict)
            self.memory_env = _memory_env(mem) if self.inline_memory else (None,) * 8
            self.table = _Table(self)
            self.hooked = None

    def hooked_table(self, hooks: tuple, hook_table) -> _Table:
        """The table whose entries call ``hooks`` before every instruction."""
        t = self.hooked
        if t is None or t.hooks != hooks or t.hook_table is not hook_table:
            t = self.hooked = _Table(self, hooks, hook_table)
        return t

    # ---- cold code

    def stub(self, table: _Table, pc: int):
        """The entry for a pc not translated (yet): runs the instruction's closure,
        charging one instruction of fuel, and counts dispatches."""
        m = self.machine
        if m._code.get(pc) is None:
            def _missing():
                raise m._fault_at(pc)
            return _missing
        one = self._single(table, pc)
        threshold = self.threshold
        if threshold <= 1:
            self.hot(table, pc)
            return table[pc]
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
                    tr.hot(table, pc)
            n = one()
            last[0] = n if n == nxt else None
            return n
        table[pc] = _stub
        return _stub

    def _single(self, table: _Table, pc: int):
        """An entry executing just the instruction at ``pc`` (with the table's hooks)."""
        m = self.machine
        fn = m._code[pc]
        fuel = self.fuel
        if table.hooks is None:
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
            return fn()
        return _one_hooked

    def hook_stop(self):
        """Entry -1: a hook asked to stop."""
        raise HookStop(self.fuel[3])

    def hook_jump(self):
        """Entry -2: a hook moved ``cpu.pc`` (or changed the hooks): execute the
        instruction at ``cpu.pc`` without calling hooks again, as the slow loop does."""
        m = self.machine
        fuel = self.fuel
        pc = m.cpu.pc
        fn = m._code.get(pc)
        if fn is None:
            raise m._fault_at(pc)
        fuel[1] = pc
        m.last_pc = pc
        fuel[0] -= 1
        m.steps = fuel[2] - fuel[0]
        nxt = fn()
        fuel[1] = None
        hooked = self.hooked
        if hooked is None or m._table is not hooked.hook_table:
            fuel[3] = nxt
            raise Rehook
        return nxt

    def hot(self, table: _Table, pc: int) -> None:
        """Translate the region starting at ``pc`` and install it (or a plain counting
        entry when nothing there can be translated)."""
        region = self.translate(table, pc)
        table[pc] = region if region is not None else self._single(table, pc)

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

    def trace(self, head: int):
        """(instructions, end pc, loop?) of the region starting at ``head``."""
        trace: list[_Instr] = []
        seen: set[int] = set()
        pc = head
        loop = False
        end = None
        while True:
            if pc in seen or (trace and pc in self.barriers) or len(trace) >= MAX_TRACE:
                end = pc
                break
            info = self.info(pc)
            if info is None:
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
        return trace, end, loop

    def translate(self, table: _Table, head: int):
        """The region function for ``head`` in ``table`` (None when its first
        instruction cannot be translated)."""
        trace, end, loop = self.trace(head)
        if not trace:
            return None
        r = _Region(self, head, trace, end, loop, table.hooks)
        src = r.source()
        m = self.machine
        namespace: dict = {}
        exec(builtins.compile(src, f"<goasm-region {head:#x}>", "exec"), namespace)  # noqa: S102
        unwind = _make_unwind(m.cpu, m.cpu.regs, self.fuel, tuple(r.unwind))
        hooks = (*table.hooks, table.hook_table) if table.hooks is not None else ()
        fn = namespace["_make"](*m.compiler.env, self.fuel, self._single(table, head), unwind,
                                *self.memory_env, *hooks, *r.objs.values())
        pcs = tuple(i.pc for i in trace)
        table.regions[head] = (fn, src, pcs)
        for pc in pcs:
            table.covering.setdefault(pc, set()).add(head)
        return fn

    # ---- invalidation

    def _tables(self):
        return (self.table,) if self.hooked is None else (self.table, self.hooked)

    def invalidate(self, addr: int) -> None:
        """Forget translations that include ``addr`` (a native installed or removed)."""
        self._info.pop(addr, None)
        for table in self._tables():
            table.pop(addr, None)
            for head in table.covering.pop(addr, ()):
                self._drop(table, head)

    def _drop(self, table: _Table, head: int) -> None:
        entry = table.regions.pop(head, None)
        if entry is None:
            return
        if table.get(head) is entry[0]:
            del table[head]
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

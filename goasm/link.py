"""The loader: from parsed files (IR) to a runnable :class:`goasm.image.Image`.

This is where goasm does what ``go tool asm`` (``cmd/asm/internal/asm``, ``cmd/internal/obj``,
``cmd/internal/obj/x86``) and the linker (``cmd/link``) do between parsing and running, for
linux/amd64 built without ``-shared``/``-dynlink``:

* names: ``·foo`` in package P is ``P.foo``, ``∕`` is ``/`` (``lex.Make``, ``qualifySymbol``);
  ``foo<>`` is file-local;
* labels and ``n(PC)`` branches (``asm.go`` ``asmJump``/``patch``; ``pass.go`` ``linkpatch``
  and ``brloop``);
* per-instruction rewrites (``obj6.go`` ``progedit``);
* frames: the BP save, the stack-split check, the ``morestack`` tail, epilogues and the
  FP/pseudo-SP offsets (``obj6.go`` ``preprocess``, ``stacksplit``, ``loadG``), and the
  ``ADJSP`` lowering of ``asm6.go`` ``span6``;
* DATA/GLOBL contents (``asm.go`` ``asmData``/``asmGlobl``, ``data.go``) and the layout of
  text, rodata, data and bss;
* symbol resolution, undefined and duplicate symbols (``cmd/link``);
* raw ``BYTE``/``WORD``/``LONG``/``QUAD`` runs decoded into instructions
  (:mod:`goasm.decode.raw`).

Every rule is written once, in a function whose docstring names the Go function it mirrors.
``go tool asm -S`` is the oracle (``tests/test_expand_oracle.py``).

Deliberate differences: instructions occupy one address unit each; LOCK/REP/REPN/XACQUIRE/
XRELEASE statements are merged into the following instruction's ``prefixes`` (Go keeps them
as separate one-byte instructions; :mod:`goasm.expand` prints them that way) unless that
instruction is itself a branch target; FUNCDATA/PCDATA are dropped (they count for ``n(PC)``).
"""

from __future__ import annotations

import math
import struct
from typing import Iterable, Sequence

import attrs

from goasm import ir
from goasm.arch import amd64
from goasm.decode import raw
from goasm.errors import LinkError, Pos
from goasm.image import (DATA_BASE, PAGE_SIZE, TEXT_BASE, Function, Image, LInstr, Segment,
                         SegmentData, SymKind, Symbol, Target)

# internal/abi/stack.go
STACK_SMALL = 128
STACK_BIG = 4096
PTR_SIZE = 8
# runtime.g: stack.lo, stack.hi, stackguard0 (obj6.go stacksplit: 2*PtrSize).
G_STACKGUARD0 = 2 * PTR_SIZE
# The largest symbol and data section Go accepts: cmd/internal/obj/objfile.go MaxSymSize
# ("symbol too large") and cmd/link/internal/ld/data.go cutoff ("too much data").
MAX_SYM_SIZE = 2_000_000_000
FUNC_ALIGN = 16          # text symbols start at multiples of 16 address units
DATA_MAXALIGN = 32       # cmd/link symalign: Maxalign on amd64

PREFIX_OPS = frozenset({"LOCK", "REP", "REPN", "XACQUIRE", "XRELEASE"})
"""x86 prefix pseudo-instructions (asm6.go optab: one prefix byte, no operands)."""

_NON_CODE = frozenset({"FUNCDATA", "PCDATA"})
_CALL_OPS = frozenset({"CALL", "DUFFCOPY", "DUFFZERO"})
_GPR64 = frozenset(amd64.GPR64)

# isZeroArgRuntimeCall (obj6.go)
_ZERO_ARG_RUNTIME_CALLS = frozenset({
    "runtime.panicdivide", "runtime.panicwrap", "runtime.panicshift", "runtime.panicBounds",
    "runtime.panicExtend",
})

# progedit (obj6.go): instructions whose float-constant source is replaced by a
# $f32./$f64. read-only symbol.
_F32_OPS = frozenset({
    "MOVSS", "VMOVSS", "FMOVF", "FADDF", "FSUBF", "FSUBRF", "FMULF", "FDIVF", "FDIVRF", "FCOMF",
    "FCOMFP", "ADDSS", "SUBSS", "MULSS", "DIVSS", "COMISS", "UCOMISS",
})
_F64_OPS = frozenset({
    "MOVSD", "VMOVSD", "FMOVD", "FADDD", "FSUBD", "FSUBRD", "FMULD", "FDIVD", "FDIVRD", "FCOMD",
    "FCOMDP", "ADDSD", "SUBSD", "MULSD", "DIVSD", "COMISD", "UCOMISD",
})
_CMP_IMM3_OPS = frozenset({"CMPPD", "CMPPS", "CMPSD", "CMPSS"})

# asm6.go asmins: instructions whose optab prefix is Pb get their 64-bit register operands
# (From and To) renamed to the byte registers (``bytereg``: MOVB AX, (DI) is MOVB AL, (DI));
# the Zmb_r forms rename the source only.
_BYTE_OPS = frozenset({
    "ADCB", "ADDB", "ANDB", "CMPB", "CMPSB", "CMPXCHGB", "DECB", "DIVB", "IDIVB", "IMULB", "INB",
    "INCB", "INSB", "LODSB", "MOVB", "MOVSB", "MULB", "NEGB", "NOTB", "ORB", "OUTB", "OUTSB",
    "RCLB", "RCRB", "ROLB", "RORB", "SALB", "SARB", "SBBB", "SCASB", "SETCC", "SETCS", "SETEQ",
    "SETGE", "SETGT", "SETHI", "SETLE", "SETLS", "SETLT", "SETMI", "SETNE", "SETOC", "SETOS",
    "SETPC", "SETPL", "SETPS", "SHLB", "SHRB", "STOSB", "SUBB", "TESTB", "XADDB", "XCHGB", "XORB",
})
_BYTE_SRC_OPS = frozenset({"MOVBLSX", "MOVBLZX", "MOVBQSX", "MOVBQZX", "MOVBWSX", "MOVBWZX"})
_BYTE_REG = dict(zip(amd64.GPR64, amd64.GPR8))

# preprocess (obj6.go): stack-pointer adjustment of push/pop instructions.
_SP_DELTA = {
    "PUSHL": 4, "PUSHFL": 4, "PUSHQ": 8, "PUSHFQ": 8, "PUSHW": 2, "PUSHFW": 2,
    "POPL": -4, "POPFL": -4, "POPQ": -8, "POPFQ": -8, "POPW": -2, "POPFW": -2,
}

# Symbols cmd/link defines itself (ld/symtab.go): section boundaries, created on demand.
_LINKER_BOUNDS = {
    "runtime.text": ("text", False), "runtime.etext": ("text", True),
    "runtime.rodata": ("rodata", False), "runtime.erodata": ("rodata", True),
    "runtime.noptrdata": ("noptrdata", False), "runtime.enoptrdata": ("noptrdata", True),
    "runtime.data": ("data", False), "runtime.edata": ("data", True),
    "runtime.bss": ("bss", False), "runtime.ebss": ("bss", True),
    "runtime.noptrbss": ("noptrbss", False), "runtime.enoptrbss": ("noptrbss", True),
    "runtime.end": ("noptrbss", True),
}

_DATA_SECTIONS = (  # order of cmd/link's data layout; (section, kind, writable)
    ("rodata", SymKind.RODATA, False),
    ("noptrdata", SymKind.NOPTRDATA, True),
    ("data", SymKind.DATA, True),
    ("bss", SymKind.BSS, True),
    ("noptrbss", SymKind.NOPTRBSS, True),
)


@attrs.frozen
class LinkUnit:
    """One parsed file and the Go package it belongs to (``main`` for user files,
    ``runtime`` for the runtime's own files); ``·foo`` links as ``<package>.foo``."""

    program: ir.Program
    package: str = "main"


# --------------------------------------------------------------------------- names

def path_to_prefix(path: str) -> str:
    """The symbol prefix of a package path (objabi.PathToPrefix): control characters,
    ``%``, ``"``, non-ASCII and dots after the last slash are %-escaped."""
    slash = path.rfind("/")
    out = []
    for i, ch in enumerate(path.encode("utf-8")):
        if ch <= 0x20 or ch == 0x25 or ch == 0x22 or ch >= 0x7F or (ch == 0x2E and i > slash):
            out.append(f"%{ch:02x}")
        else:
            out.append(chr(ch))
    return "".join(out)


def qualify(name: str, package: str) -> str:
    """Go's linked name for a symbol as written: ``·`` becomes ``.`` and ``∕`` ``/``
    (cmd/asm lex.Make); a leading ``.`` gets the package prefix (parse.go qualifySymbol)."""
    name = name.replace("\u00b7", ".").replace("\u2215", "/")
    if name.startswith("."):
        name = path_to_prefix(package) + name
    return name


def _abi(abi: str | None) -> str:
    return abi or "ABI0"


def _err(message: str, pos: Pos | None) -> LinkError:
    return LinkError(message, pos)


# --------------------------------------------------------------------------- program model

class _Prog:
    """A mutable instruction while one function is being processed (obj.Prog's role).

    ``target`` is the in-function branch target (another ``_Prog``, the ``_START`` marker for
    the TEXT itself, or None for a branch whose target was lost in ``brloop``); it is only
    meaningful when ``branch`` is set. The branch operand is always the last one.
    """

    __slots__ = ("op", "args", "suffixes", "pos", "synthetic", "branch", "target", "label",
                 "prefixes", "source", "listing")

    def __init__(self, op, args=(), suffixes=(), pos=None, synthetic=False):
        self.op = op
        self.args = list(args)
        self.suffixes = tuple(suffixes)
        self.pos = pos
        self.synthetic = synthetic
        self.branch = False
        self.target = None
        self.label = None
        self.prefixes = ()
        self.source = ""      # raw BYTE/LONG statements this instruction was decoded from
        self.listing = None   # how -S lists them (goasm.decode.raw.RawListing)


_START = object()   # branch target: the TEXT prog itself, i.e. the function's first instruction


@attrs.define
class _TextDef:
    unit: int
    text: ir.Text
    body: list
    name: str
    written: str
    file: str


@attrs.define
class _DataDef:
    unit: int
    globl: ir.Globl | None
    name: str
    written: str
    file: str
    size: int = 0
    flags: int = 0
    datas: list = attrs.field(factory=list)     # [ir.Data]
    pos: Pos | None = None


@attrs.define
class _FuncWork:
    """A function between frame processing and layout."""

    name: str
    written: str
    file: str
    text: ir.Text
    abi: str
    flags: int
    frame: int
    args: int | None
    bpsize: int
    progs: list


# --------------------------------------------------------------------------- the linker

def link(units: Sequence[LinkUnit], *, natives: Iterable = (), data_symbols: Iterable = (),
         entry: str | None = None, strict: bool = True) -> Image:
    """Link ``units`` into an :class:`Image`.

    ``natives``: names (or ``(name, size)`` pairs) of Go-level functions implemented in
    Python; each gets a :attr:`SymKind.NATIVE` text symbol unless an assembly TEXT defines
    the name. ``data_symbols``: ``(name, size)`` pairs of Go variables the runtime model
    declares (``runtime.g0``), laid out in BSS unless a GLOBL defines them. ``entry``: the
    entry symbol (default ``_rt0_amd64_linux``, else ``main.main``, when defined).
    ``strict``: an undefined symbol is a :class:`LinkError` (cmd/link: "relocation target
    not defined"); otherwise it becomes an :attr:`SymKind.UNDEF` placeholder without code.
    """
    return _Linker(list(units), natives, data_symbols, strict).run(entry)


class _Linker:
    """State of one :func:`link` call."""

    def __init__(self, units, natives, data_symbols, strict):
        self.units = units
        self.natives = [(qualify(n, "main"), 1) if isinstance(n, str)
                        else (qualify(n[0], "main"), n[1]) for n in natives]
        self.data_symbols = [(qualify(n, "main"), s) for n, s in data_symbols]
        self.strict = strict
        self.texts: dict = {}        # key -> _TextDef
        self.datas: dict = {}        # key -> _DataDef
        self.by_name_abi: dict = {}  # (go name, abi) -> key
        self.statics: list = []      # per unit: {qualified name: key}
        self.used_keys: set = set()
        self.floats: dict = {}       # "$f64...." -> bytes
        self.refs: dict = {}         # key of an undefined reference -> first Pos
        self.decoder = None          # goasm.decode.Decoder, made for the first raw run

    # ---- names and definitions

    def static_key(self, unit: int, qualified: str) -> str:
        """File-local ``foo<>``: ``foo<>`` when unique across the link, else ``foo<>#N``."""
        table = self.statics[unit]
        if qualified not in table:
            key = f"{qualified}<>"
            n = 2
            while key in self.used_keys:
                key = f"{qualified}<>#{n}"
                n += 1
            self.used_keys.add(key)
            table[qualified] = key
        return table[qualified]

    def def_key(self, unit: int, sym: ir.SymbolName, package: str) -> str:
        """The key (linked name) a definition of ``sym`` gets."""
        name = qualify(sym.name, package)
        if sym.static:
            return self.static_key(unit, name)
        abi = _abi(sym.abi)
        if (name, abi) in self.by_name_abi:
            return self.by_name_abi[(name, abi)]
        other = "ABIInternal" if abi == "ABI0" else "ABI0"
        key = name if (name, other) not in self.by_name_abi else f"{name}<{abi}>"
        self.by_name_abi[(name, abi)] = key
        self.used_keys.add(key)
        return key

    def ref_key(self, unit: int, name: str, static: bool, abi: str | None, package: str,
                pos: Pos | None) -> str:
        """Resolve a reference to a linked name. A reference to one ABI of a symbol defined
        only in the other ABI binds to that definition (the linker's ABI wrappers)."""
        qualified = qualify(name, package)
        return self.ref_qualified(unit, qualified, static, abi, pos)

    def ref_qualified(self, unit, qualified, static, abi, pos) -> str:
        if static:
            key = self.static_key(unit, qualified)
        else:
            abi = _abi(abi)
            other = "ABIInternal" if abi == "ABI0" else "ABI0"
            key = self.by_name_abi.get((qualified, abi)) or self.by_name_abi.get((qualified, other))
            if key is None:
                key = qualified
        if key not in self.texts and key not in self.datas and key not in self.refs:
            self.refs[key] = pos
        return key

    def collect(self) -> None:
        """Split every unit into TEXT bodies, GLOBLs and DATA; check redeclarations
        (plist.go InitTextSym/GloblPos: "symbol X redeclared")."""
        for u, unit in enumerate(self.units):
            self.statics.append({})
            prog = unit.program
            fname = prog.file
            current = None
            seen_here: dict = {}
            globl_flags = {str(g.symbol): g.flags or 0 for g in prog.statements
                           if isinstance(g, ir.Globl)}
            for stmt in prog.statements:
                if isinstance(stmt, ir.Text):
                    key = self.def_key(u, stmt.symbol, unit.package)
                    self._check_redeclared(key, stmt.pos, seen_here)
                    current = _TextDef(u, stmt, [], key, str(stmt.symbol), fname)
                    if key in self.texts or key in self.datas:
                        self._duplicate(key, stmt.flags or 0, stmt.pos)
                    else:
                        self.texts[key] = current
                    seen_here[key] = stmt.pos
                elif isinstance(stmt, ir.Globl):
                    key = self.def_key(u, stmt.symbol, unit.package)
                    self._check_redeclared(key, stmt.pos, seen_here)
                    d = self.datas.get(key)
                    if key in self.texts or (d is not None and (d.globl is not None or d.unit != u)):
                        self._duplicate(key, stmt.flags or 0, stmt.pos)
                        continue
                    if d is None:
                        d = self.datas[key] = _DataDef(u, None, key, str(stmt.symbol), fname)
                    if stmt.size < 0:
                        # objfile.go stores the size as uint32 (SetSiz): cmd/link then
                        # rejects the symbol as too large.
                        raise _err(f"{stmt.symbol}: negative size {stmt.size} (the linker "
                                   f"reads it as {stmt.size & 0xFFFFFFFF} bytes: symbol "
                                   f"too large)", stmt.pos)
                    if stmt.size > MAX_SYM_SIZE:
                        raise _err(f"{stmt.symbol}: symbol too large ({stmt.size} bytes > "
                                   f"{MAX_SYM_SIZE} bytes)", stmt.pos)
                    d.globl = stmt
                    d.size = stmt.size
                    d.flags = stmt.flags or 0
                    d.pos = stmt.pos
                    seen_here[key] = stmt.pos
                elif isinstance(stmt, ir.Data):
                    key = self.def_key(u, stmt.symbol, unit.package)
                    d = self.datas.get(key)
                    if d is None or d.unit != u:
                        if d is not None and d.globl is not None and d.unit != u:
                            # DATA for a symbol GLOBL'd in another file: a separate definition.
                            self._duplicate(key, globl_flags.get(str(stmt.symbol), 0), stmt.pos)
                            continue
                        d = self.datas[key] = _DataDef(u, None, key, str(stmt.symbol), fname,
                                                       pos=stmt.pos)
                    d.datas.append(stmt)
                else:
                    if current is None:
                        raise _err(f"{type(stmt).__name__.lower()} outside of a TEXT symbol",
                                   stmt.pos)
                    current.body.append(stmt)

    def _check_redeclared(self, key, pos, seen_here):
        if key in seen_here:
            other = seen_here[key]
            raise _err(f"symbol {key} redeclared (other declaration at {other})", pos)

    def _duplicate(self, key, flags, pos):
        """cmd/link: a second definition is an error unless DUPOK (the first one is kept)."""
        first = self.texts.get(key) or self.datas.get(key)
        first_flags = 0
        first_pos = None
        if isinstance(first, _TextDef):
            first_flags = first.text.flags or 0
            first_pos = first.text.pos
        elif first is not None:
            first_flags = first.flags
            first_pos = first.pos
        dupok = amd64.TEXTFLAG["DUPOK"]
        if (flags | first_flags) & dupok:
            return
        raise _err(f"duplicated definition of symbol {key}"
                   + (f" (first defined at {first_pos})" if first_pos else ""), pos)

    # ---- driver

    def run(self, entry) -> Image:
        self.collect()
        for name, _size in self.data_symbols:
            self.used_keys.add(name)
        works = [self.process_function(t) for t in self.texts.values()]
        self.check_datas()
        return self.layout(works, entry)

    # ---- functions

    def process_function(self, td: _TextDef) -> _FuncWork:
        """Turn one TEXT body into its final instruction list, as Go's assembler does:
        parse-time branch resolution, linkpatch (progedit + brloop), preprocess, span6."""
        unit = self.units[td.unit]
        text = td.text
        flags = text.flags or 0
        abi = _abi(text.symbol.abi)
        if abi == "ABIInternal" and not flags & amd64.TEXTFLAG["NOSPLIT"]:
            # asm.go asmText
            raise _err(f'TEXT "{td.name}": ABIInternal requires NOSPLIT', text.pos)
        progs = self.source_progs(td, unit)
        for p in progs:
            self.progedit(p)
        _brloop(progs)
        fw = _FuncWork(td.name, td.written, td.file, text, abi, flags, text.frame, text.args, 0,
                       progs)
        # preprocess returns early for a TEXT without instructions; cmd/asm adds FUNCDATA
        # (plist.go Flushplist) to ABI0 functions of the package being assembled, so only
        # the other empty functions escape frame processing.
        gets_funcdata = (abi == "ABI0" and td.name.startswith(path_to_prefix(unit.package) + ".")
                         and td.name != "runtime.addmoduledata")
        if progs or gets_funcdata:
            self.preprocess(fw, td)
        _span6(fw)
        fw.progs = _finish_progs(fw.progs)
        return fw

    def source_progs(self, td: _TextDef, unit: LinkUnit) -> list:
        """The function's instructions in source order with branch targets resolved
        (asm.go asmJump/patch: labels are function-scoped; ``n(PC)`` counts source
        instructions, FUNCDATA/PCDATA and prefixes included; pass.go linkpatch)."""
        progs: list = []
        labels: dict = {}
        pending: list = []
        body, sources = td.body, {}
        if any(raw.is_raw(s) for s in body):     # BYTE/LONG runs -> decoded instructions
            if self.decoder is None:
                from goasm.decode.core import Decoder

                self.decoder = Decoder()
            body, sources = raw.expand_runs(body, self.decoder)
        for stmt in body:
            if isinstance(stmt, ir.Label):
                if stmt.name in labels or stmt.name in pending:
                    raise _err(f'label "{stmt.name}" multiply defined', stmt.pos)
                pending.append(stmt.name)
                continue
            p = _Prog(amd64.canonical_mnemonic(stmt.op), stmt.args, stmt.suffixes, stmt.pos)
            if sources:
                p.source, p.listing = sources.get(id(stmt), ("", None))
            progs.append(p)
            for name in pending:
                labels[name] = p
            pending.clear()
        for i, p in enumerate(progs):
            if p.op in _NON_CODE:
                continue   # FUNCDATA/PCDATA: no code, their symbols are the toolchain's
            p.args = [self.resolve_operand(a, td, unit) for a in p.args]
            if not p.args:
                continue
            last = p.args[-1]
            if isinstance(last, ir.LabelRef):
                target = labels.get(last.name)
                if target is None:
                    raise _err(f"undefined label {last.name}", last.pos or p.pos)
                p.branch, p.target, p.label = True, target, last.name
            elif isinstance(last, ir.PCRel):
                j = i + last.delta
                if j == -1:
                    target = _START
                elif 0 <= j < len(progs):
                    target = progs[j]
                else:
                    raise _err(f"branch out of range: {last.delta}(PC) in {td.name}",
                               last.pos or p.pos)
                p.branch, p.target = True, target
            for a in p.args[:-1]:
                if isinstance(a, (ir.LabelRef, ir.PCRel)):
                    raise _err(f"branch target must be the last operand of {p.op}", p.pos)
        return progs

    def resolve_operand(self, arg, td: _TextDef, unit: LinkUnit):
        """SB references get their linked name; FP references must be named (parse.go:
        "cannot reference FP without a symbol")."""
        if isinstance(arg, ir.Mem):
            if arg.kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC):
                key = self.ref_key(td.unit, arg.symbol, arg.kind is ir.NameKind.STATIC, arg.abi,
                                   unit.package, arg.pos)
                return attrs.evolve(arg, symbol=key)
            if arg.kind is ir.NameKind.PARAM and not arg.symbol:
                raise _err("cannot reference FP without a symbol", arg.pos)
            if arg.kind in (ir.NameKind.PARAM, ir.NameKind.AUTO) and arg.base is not None:
                raise _err(f"{arg}: a named FP/SP reference cannot have a base register", arg.pos)
            return arg
        if isinstance(arg, ir.Addr):
            return attrs.evolve(arg, mem=self.resolve_operand(arg.mem, td, unit))
        if isinstance(arg, ir.Indirect) and isinstance(arg.target, ir.Mem):
            return attrs.evolve(arg, target=self.resolve_operand(arg.target, td, unit))
        return arg

    def progedit(self, p: _Prog) -> None:
        """Per-instruction rewrites of obj6.go progedit for linux/amd64 (1-instruction TLS)."""
        args = p.args
        # MOVQ TLS, reg -> NOP;  off(reg)(TLS*1) -> off(TLS)
        if (p.op in ("MOVQ", "MOVL") and len(args) == 2 and isinstance(args[0], ir.Reg)
                and args[0].name == "TLS" and isinstance(args[1], ir.Reg)
                and args[1].name in _GPR64):
            p.op, p.args, p.suffixes = "NOP", [], ()
            return
        if args:
            ends = {0, len(args) - 1}
            for i in ends:
                a = args[i]
                if (isinstance(a, ir.Mem) and a.index == "TLS" and a.base in _GPR64
                        and a.kind is ir.NameKind.NONE):
                    args[i] = attrs.evolve(a, base="TLS", index=None, scale=0)
        # third operand 0 of CMPPS etc. is the immediate $0
        if p.op in _CMP_IMM3_OPS and args:
            a = args[-1]
            if (isinstance(a, ir.Mem) and a.kind is ir.NameKind.NONE and a.base is None
                    and a.index is None):
                args[-1] = ir.Imm(a.offset, pos=a.pos)
        # MOVL/MOVQ $addr -> LEAL/LEAQ
        if args and isinstance(args[0], ir.Addr) and p.op in ("MOVL", "MOVQ"):
            p.op = "LEAL" if p.op == "MOVL" else "LEAQ"
            args[0] = args[0].mem
        # float constants -> $f32./$f64. read-only symbols (XORPS for +0.0 into X0-X15)
        if args and isinstance(args[0], ir.FloatImm) and (p.op in _F32_OPS or p.op in _F64_OPS):
            value = args[0].value
            if (p.op in ("MOVSS", "VMOVSS", "MOVSD", "VMOVSD") and _float64_bits(value) == 0
                    and isinstance(args[-1], ir.Reg) and _is_x0_15(args[-1].name)):
                p.op = "XORPS"
                p.args = [args[-1], args[-1]]
                return
            if p.op in _F32_OPS:
                raw = _float32_bytes(value)
                name = f"$f32.{int.from_bytes(raw, 'little'):08x}"
            else:
                raw = struct.pack("<d", value)
                name = f"$f64.{int.from_bytes(raw, 'little'):016x}"
            self.floats.setdefault(name, raw)
            args[0] = ir.Mem(symbol=name, kind=ir.NameKind.EXTERN, pos=args[0].pos)

    def preprocess(self, fw: _FuncWork, td: _TextDef) -> None:
        """obj6.go preprocess: BP save, auto-NOSPLIT of small leaves, the stack-split check,
        the frame (ADJSP), FP/pseudo-SP offsets, PUSH/POP tracking and RET epilogues."""
        flags = fw.flags
        nosplit = amd64.TEXTFLAG["NOSPLIT"]
        noframe = amd64.TEXTFLAG["NOFRAME"]
        progs = fw.progs
        autoffset = max(fw.frame, 0)
        # Instructions decoded from raw bytes are opaque to cmd/asm: they count for
        # neither calls, nor SP tracking, nor RET epilogues.
        has_call = any(p.op in _CALL_OPS and not p.source for p in progs)
        if not flags & noframe and not (autoffset == 0 and not has_call):
            bpsize = PTR_SIZE
            autoffset += bpsize
            fw.frame += bpsize
        else:
            bpsize = 0
            flags |= noframe
        fw.bpsize = bpsize
        if autoffset < STACK_SMALL and not flags & nosplit:
            leaf = True
            for q in progs:
                if q.source:
                    continue
                if q.op == "CALL" and not self.is_zero_arg_runtime_call(q):
                    leaf = False
                    break
                if q.op in _CALL_OPS and autoffset >= STACK_SMALL - 8:
                    leaf = False
                    break
            if leaf:
                flags |= nosplit
        fw.flags = flags
        if autoffset % PTR_SIZE:
            raise _err(f"unaligned stack size {autoffset}", td.text.pos)

        tpos = td.text.pos
        prologue: list = []
        tail: list = []
        if not flags & nosplit:
            prologue, tail = self.stacksplit(fw, autoffset, tpos, progs)
        if bpsize:
            prologue.append(_Prog("PUSHQ", [ir.Reg("BP")], pos=tpos, synthetic=True))
            prologue.append(_Prog("MOVQ", [ir.Reg("SP"), ir.Reg("BP")], pos=tpos, synthetic=True))
        localoffset = autoffset - bpsize
        if localoffset:
            prologue.append(_Prog("ADJSP", [ir.Imm(localoffset)], pos=tpos, synthetic=True))
        everything = prologue + progs + tail
        fw.progs = self.frame_offsets(fw, everything, autoffset, bpsize, localoffset)

    def is_zero_arg_runtime_call(self, p: _Prog) -> bool:
        """obj6.go isZeroArgRuntimeCall: runtime panics a leaf may call and stay NOSPLIT."""
        a = p.args[-1] if p.args else None
        return (isinstance(a, ir.Mem) and a.kind is ir.NameKind.EXTERN
                and _go_name(a.symbol) in _ZERO_ARG_RUNTIME_CALLS)

    def stacksplit(self, fw: _FuncWork, framesize: int, tpos, progs):
        """obj6.go stacksplit + loadG for an ABI0 function (ABIInternal asm functions must be
        NOSPLIT): load g from TLS into R14, compare SP (or SP-framesize+StackSmall, with an
        underflow check for frames above StackBig) with g.stackguard0 and branch to a tail
        ``NOP; CALL runtime.morestack[_noctxt]; JMP <function start>``."""
        rg = "R14"   # REGG; REGENTRYTMP0 = R12 is the scratch register
        tmp = "R12"
        guard = ir.Mem(offset=G_STACKGUARD0, base=rg)
        pre = [_Prog("MOVQ", [ir.Mem(base="TLS"), ir.Reg(rg)], pos=tpos, synthetic=True)]
        jumps = []
        if framesize <= STACK_SMALL:
            pre.append(_Prog("CMPQ", [ir.Reg("SP"), guard], pos=tpos, synthetic=True))
        elif framesize <= STACK_BIG:
            pre.append(_Prog("LEAQ", [ir.Mem(offset=-(framesize - STACK_SMALL), base="SP"),
                                      ir.Reg(tmp)], pos=tpos, synthetic=True))
            pre.append(_Prog("CMPQ", [ir.Reg(tmp), guard], pos=tpos, synthetic=True))
        else:
            pre.append(_Prog("MOVQ", [ir.Reg("SP"), ir.Reg(tmp)], pos=tpos, synthetic=True))
            pre.append(_Prog("SUBQ", [ir.Imm(framesize - STACK_SMALL), ir.Reg(tmp)], pos=tpos,
                             synthetic=True))
            jcs = _Prog("JCS", [None], pos=tpos, synthetic=True)
            pre.append(jcs)
            jumps.append(jcs)
            pre.append(_Prog("CMPQ", [ir.Reg(tmp), guard], pos=tpos, synthetic=True))
        jls = _Prog("JLS", [None], pos=tpos, synthetic=True)
        pre.append(jls)
        jumps.append(jls)
        last_pos = progs[-1].pos if progs else tpos
        nop = _Prog("NOP", [], pos=last_pos, synthetic=True)
        needctxt = fw.flags & amd64.TEXTFLAG["NEEDCTXT"]
        morestack = "runtime.morestack" if needctxt else "runtime.morestack_noctxt"
        key = self.ref_qualified(None, morestack, False, None, tpos)
        call = _Prog("CALL", [ir.Mem(symbol=key, kind=ir.NameKind.EXTERN)], pos=tpos,
                     synthetic=True)
        back = _Prog("JMP", [None], pos=tpos, synthetic=True)
        back.branch, back.target = True, _START
        for j in jumps:
            j.branch, j.target, j.label = True, nop, "morestack"
        return pre, [nop, call, back]

    def frame_offsets(self, fw, progs, autoffset, bpsize, localoffset) -> list:
        """The second half of obj6.go preprocess: walk every instruction with the running
        SP delta; ``name+off(FP)`` becomes ``off + delta + 8`` (return PC) from the hardware
        SP and ``name-off(SP)`` becomes ``off + delta - bpsize``; PUSH/POP/ADJSP move the
        delta; each RET checks the balance and, when there is a frame, becomes
        ``ADJSP -locals; POPQ BP; RET`` (a RET with a target becomes a JMP)."""
        out = []
        deltasp = 0
        for p in progs:
            n = len(p.args)
            adjust = {0, n - 1} if n else set()
            if n >= 3:
                adjust.add(1)   # GetFrom3: the first of RestArgs
            for i in adjust:
                p.args[i] = _adjust_frame_ref(p.args[i], deltasp, bpsize)
            if p.source:      # raw bytes: Go's assembler does not see a PUSH or RET there
                out.append(p)
                continue
            delta = _SP_DELTA.get(p.op)
            if delta is not None:
                deltasp += delta
                out.append(p)
                continue
            if p.op == "ADJSP":
                if n != 1 or not isinstance(p.args[0], ir.Imm):
                    raise _err("ADJSP needs a constant operand", p.pos)
                deltasp += p.args[0].value
                out.append(p)
                continue
            if p.op != "RET":
                out.append(p)
                continue
            if autoffset != deltasp:
                raise _err(f"{fw.name}: unbalanced PUSH/POP", p.pos)
            ret_args = p.args
            if autoffset:
                first = True
                if localoffset:
                    # The RET prog itself becomes the first epilogue instruction, so branches
                    # to the RET now reach the epilogue (as in Go).
                    p.op, p.args, p.synthetic = "ADJSP", [ir.Imm(-localoffset)], True
                    out.append(p)
                    first = False
                if bpsize:
                    if first:
                        p.op, p.args, p.synthetic = "POPQ", [ir.Reg("BP")], True
                        out.append(p)
                        first = False
                    else:
                        out.append(_Prog("POPQ", [ir.Reg("BP")], pos=p.pos, synthetic=True))
                if not first:
                    p = _Prog("RET", ret_args, pos=p.pos)
            p.op = "RET"
            p.args = ret_args
            if ret_args and (isinstance(ret_args[-1], ir.Reg) or (
                    isinstance(ret_args[-1], ir.Mem)
                    and ret_args[-1].kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC))):
                p.op = "JMP"   # retjmp
            out.append(p)
        return out

    # ---- data

    def check_datas(self) -> None:
        """DATA rules of asm.go asmData and data.go (WriteInt/WriteFloat/WriteString/
        WriteAddr), plus what cmd/link rejects: DATA without GLOBL, DATA past the size."""
        tlsbss = amd64.TEXTFLAG["TLSBSS"]
        for d in self.datas.values():
            if d.globl is None and d.datas:
                first = d.datas[0]
                raise _err(f"DATA for {d.name} without a GLOBL", first.pos)
            last_end = None
            for stmt in d.datas:
                off, width, value = stmt.offset, stmt.width, stmt.value
                if last_end is not None and off < last_end:
                    raise _err(f"overlapping DATA entry for {d.name}", stmt.pos)
                last_end = off + width
                if isinstance(value, ir.Imm):
                    if width not in (1, 2, 4, 8):
                        raise _err(f"bad int size for DATA argument: {width}", stmt.pos)
                elif isinstance(value, ir.FloatImm):
                    if width not in (4, 8):
                        raise _err(f"bad float size for DATA argument: {width}", stmt.pos)
                elif isinstance(value, ir.StrImm):
                    if width < len(value.value):
                        raise _err(f"WriteString: bad string size: {width} < {len(value.value)}",
                                   stmt.pos)
                elif isinstance(value, ir.Addr):
                    if width != PTR_SIZE:
                        raise _err(f"bad addr size for DATA argument: {width}", stmt.pos)
                    m = value.mem
                    if m.kind not in (ir.NameKind.EXTERN, ir.NameKind.STATIC) or m.base or m.index:
                        raise _err(f"DATA address must be a symbol(SB) reference: {value}",
                                   stmt.pos)
                    self.ref_key(d.unit, m.symbol, m.kind is ir.NameKind.STATIC, m.abi,
                                 self.units[d.unit].package, stmt.pos)
                else:
                    raise _err("DATA value must be an immediate constant or address", stmt.pos)
                if off < 0 or off + width > d.size:
                    raise _err(f"DATA {d.name}+{off}/{width} is outside the symbol "
                               f"(GLOBL size {d.size})", stmt.pos)
                if d.flags & tlsbss:
                    raise _err(f"cannot supply data for TLSBSS var {d.name}", stmt.pos)

    def data_kind(self, d: _DataDef) -> SymKind:
        """plist.go GloblPos + data.go prepwrite: RODATA wins; NOPTR picks the no-pointer
        section; DATA initialisers move a symbol from BSS to DATA."""
        flags = d.flags
        if flags & amd64.TEXTFLAG["RODATA"]:
            return SymKind.RODATA
        noptr = flags & (amd64.TEXTFLAG["NOPTR"] | amd64.TEXTFLAG["TLSBSS"])
        if d.datas:
            return SymKind.NOPTRDATA if noptr else SymKind.DATA
        return SymKind.NOPTRBSS if noptr else SymKind.BSS

    # ---- layout

    def layout(self, works: list, entry) -> Image:
        image = Image()
        image.files = tuple(u.program.file for u in self.units)
        symbols = image.symbols
        # text
        addr = TEXT_BASE
        placed = []
        for fw in works:
            addr = _align(addr, FUNC_ALIGN)
            sym = Symbol(fw.name, addr, len(fw.progs), SymKind.TEXT, written=fw.written,
                         file=fw.file, pos=fw.text.pos, flags=fw.flags, abi=fw.abi)
            symbols[fw.name] = sym
            placed.append((fw, sym))
            addr += max(len(fw.progs), 1)
        for name, size in self.natives:
            if name in symbols:
                continue
            addr = _align(addr, FUNC_ALIGN)
            symbols[name] = Symbol(name, addr, max(size, 1), SymKind.NATIVE, written=name)
            addr += max(size, 1)
        text_end = addr
        # data
        data_syms: dict = {}   # section -> [(key, size, DataDef|None)]
        for sec, _kind, _w in _DATA_SECTIONS:
            data_syms[sec] = []
        section_of = {SymKind.RODATA: "rodata", SymKind.NOPTRDATA: "noptrdata",
                      SymKind.DATA: "data", SymKind.BSS: "bss", SymKind.NOPTRBSS: "noptrbss"}
        for name in sorted(self.floats):
            data_syms["rodata"].append((name, len(self.floats[name]), None))
        for key, d in self.datas.items():
            if d.globl is None:
                continue
            data_syms[section_of[self.data_kind(d)]].append((key, d.size, d))
        for name, size in self.data_symbols:
            if name in symbols or name in self.datas:
                continue
            data_syms["bss"].append((name, size, None))
        # undefined references
        missing = [k for k in self.refs
                   if k not in symbols and k not in self.datas and k not in self.floats
                   and k not in _LINKER_BOUNDS
                   and not any(k == n for n, _ in self.data_symbols)]
        if missing and self.strict:
            key = missing[0]
            raise _err(f"undefined symbol {key}", self.refs[key])
        for key in missing:
            addr = _align(addr, FUNC_ALIGN)
            symbols[key] = Symbol(key, addr, 1, SymKind.UNDEF, written=key,
                                  pos=self.refs[key])
            addr += 1
        bounds = {"text": (TEXT_BASE, text_end)}
        daddr = DATA_BASE
        for sec, kind, writable in _DATA_SECTIONS:
            entries = data_syms[sec]
            daddr = _align(daddr, PAGE_SIZE)
            start = daddr
            for key, size, d in entries:
                daddr = _align(daddr, _symalign(size))
                if d is not None:
                    symbols[key] = Symbol(key, daddr, size, kind, written=d.written, file=d.file,
                                          pos=d.pos, flags=d.flags)
                else:
                    symbols[key] = Symbol(key, daddr, size, kind, written=key)
                daddr += size
            if daddr - start > MAX_SYM_SIZE:
                _key, big, d = max(entries, key=lambda e: e[1])
                raise _err(f"too much data in section .{sec} ({daddr - start} bytes, over "
                           f"{MAX_SYM_SIZE}; the largest symbol is {_key}, {big} bytes)",
                           d.pos if d is not None else None)
            bounds[sec] = (start, daddr)
            if daddr > start:
                image.segments.append(Segment(start, SegmentData(daddr - start), writable,
                                              "." + sec))
        for key in self.refs:
            if key in _LINKER_BOUNDS and key not in symbols:
                sec, end = _LINKER_BOUNDS[key]
                lo, hi = bounds[sec]
                symbols[key] = Symbol(key, hi if end else lo, 0,
                                      SymKind.NOPTRBSS if sec != "text" else SymKind.TEXT,
                                      written=key)
        self.fill_data(image)
        for fw, sym in placed:
            image.functions[fw.name] = self.make_function(fw, sym, image)
            for ins in image.functions[fw.name].instrs:
                image.code[ins.addr] = ins
        image.entry = self.pick_entry(entry, symbols)
        image.index_symbols()
        return image

    def fill_data(self, image: Image) -> None:
        """Write DATA initialisers and float constants into the segments (little-endian)."""
        seg_of = {}
        for seg in image.segments:
            seg_of[seg.name] = seg

        def write(addr, raw):
            for seg in image.segments:
                if seg.addr <= addr and addr + len(raw) <= seg.addr + len(seg.data):
                    seg.data[addr - seg.addr: addr - seg.addr + len(raw)] = raw
                    return
            raise AssertionError(f"no segment for {addr:#x}")

        for name, raw in self.floats.items():
            write(image.symbols[name].addr, raw)
        for key, d in self.datas.items():
            if d.globl is None:
                continue
            base = image.symbols[key].addr
            for stmt in d.datas:
                write(base + stmt.offset, self.data_bytes(stmt, d, image))

    def data_bytes(self, stmt: ir.Data, d: _DataDef, image: Image) -> bytes:
        value, width = stmt.value, stmt.width
        if isinstance(value, ir.Imm):
            return (value.value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        if isinstance(value, ir.FloatImm):
            return _float32_bytes(value.value) if width == 4 else struct.pack("<d", value.value)
        if isinstance(value, ir.StrImm):
            return value.value.ljust(width, b"\0")
        m = value.mem
        package = self.units[d.unit].package
        key = self.ref_key(d.unit, m.symbol, m.kind is ir.NameKind.STATIC, m.abi, package, stmt.pos)
        sym = image.symbols[key]   # defined, or an UNDEF placeholder (strict=False)
        return ((sym.addr + m.offset) & ((1 << 64) - 1)).to_bytes(8, "little")

    def make_function(self, fw: _FuncWork, sym: Symbol, image: Image) -> Function:
        """Materialise the final instructions: addresses, indices and branch Targets."""
        index = {id(p): i for i, p in enumerate(fw.progs)}
        instrs = []
        for i, p in enumerate(fw.progs):
            args = list(p.args)
            if p.branch:
                t = p.target
                ti = 0 if t is _START else index[id(t)]
                args[-1] = Target(sym.addr + ti, ti, p.label, pos=p.pos)
            instrs.append(LInstr(sym.addr + i, p.op, tuple(args), p.suffixes, p.pos or fw.text.pos,
                                 fw.name, i, 1, p.synthetic, p.prefixes, p.source,
                                 p.listing))
        return Function(sym, fw.text, fw.flags, fw.frame, fw.args, tuple(instrs), fw.bpsize,
                        fw.file)

    def pick_entry(self, entry, symbols) -> str | None:
        if entry is None:
            for candidate in ("_rt0_amd64_linux", "main.main"):
                if candidate in symbols:
                    return candidate
            return None
        name = entry
        if name not in symbols:
            name = qualify(entry, "main")
        if name not in symbols:
            raise _err(f"entry symbol {entry} is not defined", None)
        return name


# --------------------------------------------------------------------------- helpers

def _go_name(key: str) -> str:
    """The Go symbol name of a linked name (``foo<>#2`` -> ``foo``, ``f<ABIInternal>`` -> ``f``)."""
    if "<" in key:
        return key[: key.index("<")]
    return key


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _symalign(size: int) -> int:
    """cmd/link symalign for a symbol without explicit alignment: the largest power of two
    not above its size, at most Maxalign (32)."""
    align = DATA_MAXALIGN
    while align > size and align > 1:
        align >>= 1
    return align


def _float64_bits(value: float) -> int:
    return int.from_bytes(struct.pack("<d", value), "little")


def _float32_bytes(value: float) -> bytes:
    """Go's float32(x): round to nearest even, overflowing to ±Inf."""
    try:
        return struct.pack("<f", value)
    except OverflowError:
        return struct.pack("<f", math.copysign(math.inf, value))


def _is_x0_15(name: str) -> bool:
    return name.startswith("X") and name[1:].isdigit() and int(name[1:]) < 16


def _adjust_frame_ref(arg, deltasp: int, bpsize: int):
    """One operand of obj6.go preprocess's offset pass (NAME_AUTO / NAME_PARAM)."""
    if isinstance(arg, ir.Addr):
        inner = _adjust_frame_ref(arg.mem, deltasp, bpsize)
        return arg if inner is arg.mem else attrs.evolve(arg, mem=inner)
    if isinstance(arg, ir.Indirect) and isinstance(arg.target, ir.Mem):
        inner = _adjust_frame_ref(arg.target, deltasp, bpsize)
        return arg if inner is arg.target else attrs.evolve(arg, target=inner)
    if not isinstance(arg, ir.Mem):
        return arg
    if arg.kind is ir.NameKind.AUTO:
        return attrs.evolve(arg, offset=arg.offset + deltasp - bpsize, base="SP")
    if arg.kind is ir.NameKind.PARAM:
        return attrs.evolve(arg, offset=arg.offset + deltasp + PTR_SIZE, base="SP")
    return arg


def _brloop(progs: list) -> None:
    """pass.go linkpatch + brloop (Flag_optimize is on in cmd/asm): a branch to a JMP is
    redirected to that JMP's final target; a chain of 5000 JMPs (a JMP loop) loses its
    target, which span6 turns into a branch to itself. Instructions decoded from raw bytes
    are opaque to cmd/asm: a raw branch keeps its target and a branch to a raw JMP is not
    redirected."""
    for p in progs:
        if not p.branch or p.target is None or p.source:
            continue
        q = p.target
        count = 0
        while True:
            if (q is _START or q.op != "JMP" or not q.branch or q.target is None
                    or q.source):
                break
            count += 1
            if count >= 5000:
                q = None
                break
            q = q.target
        p.target = q


def _bytereg(arg):
    if isinstance(arg, ir.Reg) and arg.name in _BYTE_REG:
        return ir.Reg(_BYTE_REG[arg.name], pos=arg.pos)
    return arg


def _span6(fw: _FuncWork) -> None:
    """The parts of asm6.go span6/asmins visible in ``go tool asm -S``: a branch without
    target branches to itself; ``ADJSP $n`` becomes ``SUBQ $n, SP`` or ``ADDQ $-n, SP``
    (with the flipped forms for 0x80, which encode shorter; ``ADJSP $0`` is an invalid
    instruction); byte instructions name byte registers (``bytereg``)."""
    for p in fw.progs:
        if p.args and p.op in _BYTE_OPS:
            p.args[0] = _bytereg(p.args[0])
            p.args[-1] = _bytereg(p.args[-1])
        elif p.args and p.op in _BYTE_SRC_OPS:
            p.args[0] = _bytereg(p.args[0])
        if p.branch and p.target is None:
            p.target = p
        if p.op == "ADJSP":
            v = p.args[0].value
            if v == 0:
                raise _err("invalid instruction: ADJSP $0", p.pos)
            if v == 0x80 or (v < 0 and v != -0x80):
                p.op, p.args = "ADDQ", [ir.Imm(-v), ir.Reg("SP")]
            else:
                p.op, p.args = "SUBQ", [ir.Imm(v), ir.Reg("SP")]


def _finish_progs(progs: list) -> list:
    """Drop FUNCDATA/PCDATA (branches to them go to the next instruction, at the same
    pc in Go's output) and merge prefix statements into the instruction they prefix."""
    kept = []
    redirect = {}
    pending_drop = []
    for p in progs:
        if p.op in _NON_CODE:
            pending_drop.append(p)
            continue
        for d in pending_drop:
            redirect[id(d)] = p
        pending_drop.clear()
        kept.append(p)
    for d in pending_drop:
        redirect[id(d)] = None
    targeted = set()
    for p in kept:
        if p.branch and p.target is not _START:
            t = p.target
            if id(t) in redirect:
                t = redirect[id(t)]
                if t is None:
                    raise _err("branch to the end of the function", p.pos)
                p.target = t
            targeted.add(id(t))
    out = []
    pending = []
    for p in kept:
        if p.op in PREFIX_OPS and not p.args:
            if pending and id(p) in targeted:
                out.extend(pending)
                pending = []
            pending.append(p)
            continue
        if pending:
            if id(p) in targeted:
                out.extend(pending)
            else:
                # A branch to the first prefix now lands on the merged instruction.
                p.prefixes = tuple(q.op for q in pending) + p.prefixes
                for q in pending:
                    redirect[id(q)] = p
            pending = []
        out.append(p)
    out.extend(pending)
    for p in out:
        if p.branch and p.target is not _START and id(p.target) in redirect:
            p.target = redirect[id(p.target)]
    return out

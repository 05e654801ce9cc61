"""Go function signatures and the frames Go lays out for them (linux/amd64).

An assembly function's arguments come from the Go declaration that goes with it, e.g.
``func add(a, b int64) (sum int64, ok bool)`` in a ``.go`` file next to the ``.s``.
This module reads such declarations (a small Go tokenizer and a parser for function
declarations, ``type`` and ``const`` declarations; bodies are skipped) and computes
where each argument and result lives:

- **ABI0** (Go's assembler guide, "Function calling convention"; cmd/compile's
  ``abi-internal.md``, "stack-based calling convention"; go vet's ``asmdecl`` pass):
  arguments at increasing offsets from ``0(FP)``, each aligned to its type's alignment;
  then the offset is rounded up to the pointer size and the results follow the same way.
  ``args_size`` is the offset after the last result, not rounded, the number
  ``TEXT ·f(SB), $frame-args`` must declare (vet: "wrong argument size"). Unnamed
  parameters are called ``arg``, ``arg1`` ..., unnamed results ``ret``, ``ret1`` ...;
  the parts of a string are ``s_base``/``s_len``, of a slice ``_base``/``_len``/``_cap``,
  of a complex ``_real``/``_imag``, of an interface ``_type``/``_data``, of arrays and
  structs ``_0``, ``_field``: the names asmdecl accepts in ``name+off(FP)``.
- **ABIInternal** (``abi-internal.md``, "Function call argument and result passing",
  "amd64 architecture"): values broken down into base types and assigned to the
  integer registers AX BX CX DI SI R8 R9 R10 R11 and X0..X14; what does not fit, or
  holds an array longer than 1, goes on the stack; spill space for register arguments
  follows the stack results.

Sizes and alignments are gc's for amd64 (``types.SizesFor("gc", "amd64")``): int and
pointers 8 bytes, a string 16, a slice 24, an interface 16, complex64 8 with 4-byte
alignment; a struct is padded to its alignment, plus one byte when it ends in a
zero-size field.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from goasm.errors import GoasmError

PTR_SIZE = 8
INT_REGS = ("AX", "BX", "CX", "DI", "SI", "R8", "R9", "R10", "R11")
FLOAT_REGS = tuple(f"X{i}" for i in range(15))


class SignatureError(GoasmError):
    """A Go declaration goasm cannot read or lay out."""


# =========================================================================== types

@attrs.frozen
class GoType:
    """A Go type as far as frames care: ``kind`` is one of ``int`` (``signed``),
    ``bool``, ``float``, ``complex``, ``ptr`` (``elem``; also ``unsafe.Pointer`` with
    elem None), ``string``, ``slice`` (``elem``), ``array`` (``elem``, ``length``),
    ``struct`` (``fields``: ``(name, type, offset)``), ``iface``, ``func``, ``chan``,
    ``map``; ``name`` is how Go spells it."""

    kind: str
    size: int
    align: int
    name: str
    signed: bool = False
    elem: "GoType | None" = None
    length: int = 0
    fields: tuple = ()

    def __str__(self) -> str:
        return self.name

    @property
    def is_bytes(self) -> bool:
        """``[]byte``/``[N]byte`` elements: decoded as Python ``bytes``."""
        return (self.elem is not None and self.elem.kind == "int" and self.elem.size == 1
                and not self.elem.signed and self.kind in ("slice", "array"))


def _int(name, size, signed):
    return GoType("int", size, size, name, signed=signed)


BASIC = {
    "int8": _int("int8", 1, True), "int16": _int("int16", 2, True),
    "int32": _int("int32", 4, True), "int64": _int("int64", 8, True),
    "int": _int("int", 8, True), "rune": _int("rune", 4, True),
    "uint8": _int("uint8", 1, False), "byte": _int("byte", 1, False),
    "uint16": _int("uint16", 2, False), "uint32": _int("uint32", 4, False),
    "uint64": _int("uint64", 8, False), "uint": _int("uint", 8, False),
    "uintptr": _int("uintptr", 8, False),
    "bool": GoType("bool", 1, 1, "bool"),
    "float32": GoType("float", 4, 4, "float32"),
    "float64": GoType("float", 8, 8, "float64"),
    "complex64": GoType("complex", 8, 4, "complex64"),
    "complex128": GoType("complex", 16, 8, "complex128"),
    "string": GoType("string", 16, 8, "string"),
    "unsafe.Pointer": GoType("ptr", 8, 8, "unsafe.Pointer"),
    "error": GoType("iface", 16, 8, "error"),
    "any": GoType("iface", 16, 8, "any"),
}


def _align(n: int, a: int) -> int:
    return (n + a - 1) & -a


def pointer_to(t: GoType) -> GoType:
    return GoType("ptr", 8, 8, "*" + t.name, elem=t)


def slice_of(t: GoType) -> GoType:
    return GoType("slice", 24, 8, "[]" + t.name, elem=t)


def array_of(t: GoType, n: int) -> GoType:
    return GoType("array", t.size * n, t.align, f"[{n}]{t.name}", elem=t, length=n)


def struct_of(fields, name: str | None = None) -> GoType:
    """gc's struct layout: fields aligned, size rounded to the struct's alignment, one
    more byte when the last field has size zero (so &last is inside the struct)."""
    off, align, out = 0, 1, []
    for fname, ft in fields:
        off = _align(off, ft.align)
        out.append((fname, ft, off))
        off += ft.size
        align = max(align, ft.align)
    if out and out[-1][1].size == 0 and off > 0:
        off += 1
    size = _align(off, align)
    if name is None:
        name = "struct{" + "; ".join(f"{n} {t.name}" for n, t, _ in out) + "}"
    return GoType("struct", size, align, name, fields=tuple(out))


# =========================================================================== tokens

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<ident>[^\W\d]\w*)
  | (?P<number>\.?\d(?:[\w.]|[eEpP][+-])*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
  | (?P<rune>'(?:[^'\\\n]|\\[^\n]+?)')
  | (?P<op>\.\.\.|<<=?|>>=?|&\^=?|<-|:=|&&|\|\||\+\+|--|[-+*/%&|^<>=!]=?|[()\[\]{},;.:~])
""", re.VERBOSE | re.DOTALL)


@attrs.frozen
class Token:
    kind: str
    text: str
    line: int
    bol: bool          # first token on its line


def tokenize(src: str, filename: str = "<go>") -> list[Token]:
    """Go tokens (The Go Programming Language Specification, "Lexical elements"),
    without comments; ``bol`` marks the first token of a line."""
    out: list[Token] = []
    pos, line, bol = 0, 1, True
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise SignatureError(f"{filename}:{line}: unexpected character {src[pos]!r}")
        kind = m.lastgroup
        text = m.group()
        if kind == "nl":
            line += 1
            bol = True
        elif kind == "comment":
            if "\n" in text:
                line += text.count("\n")
                bol = True
        elif kind != "ws":
            out.append(Token(kind, text, line, bol))
            bol = False
        pos = m.end()
    return out


# =========================================================================== signatures

@attrs.frozen
class Param:
    """One argument or result: its Go ``name`` (or arg/ret/retN), ``type`` and ABI0
    ``offset`` from 0(FP)."""

    name: str
    type: GoType
    offset: int


@attrs.frozen
class Slot:
    """A named piece of the argument area as go vet's asmdecl names it (``s_len``):
    ``offset`` from 0(FP), ``size``, whether it is part of the results."""

    name: str
    offset: int
    size: int
    result: bool
    what: str = ""

    def __str__(self) -> str:
        return f"{self.name}+{self.offset}(FP)"


@attrs.frozen
class RegAssignment:
    """ABIInternal: one argument or result in registers (``regs``: one register name per
    base value, in order) or on the stack (``offset`` from the stack-argument base)."""

    param: Param
    regs: tuple = ()
    offset: int | None = None


@attrs.frozen
class InternalLayout:
    """ABIInternal frame (``abi-internal.md``): ``args``/``results`` assignments,
    ``spill`` offsets of register arguments, total stack ``size``."""

    args: tuple
    results: tuple
    spill: tuple
    size: int


@attrs.frozen
class Signature:
    """A Go function type with its ABI0 frame layout (see the module docstring)."""

    name: str
    params: tuple
    results: tuple
    args_size: int
    results_offset: int
    variadic: bool = False
    where: str = ""

    @property
    def frame_size(self) -> int:
        """Bytes the caller reserves: ``args_size`` rounded to the pointer size."""
        return _align(self.args_size, PTR_SIZE)

    @property
    def results_end(self) -> int:
        return self.args_size if self.results else self.results_offset

    def slots(self) -> list[Slot]:
        """Every named piece of arguments and results (asmdecl's components)."""
        out: list[Slot] = []
        for p in self.params:
            out.extend(_components(p.type, p.name, p.offset, False))
        for p in self.results:
            out.extend(_components(p.type, p.name, p.offset, True))
        return out

    def result_slots(self) -> list[Slot]:
        return [s for s in self.slots() if s.result]

    def slot_at(self, offset: int) -> Slot | None:
        """The named piece holding byte ``offset`` of the argument area, or None."""
        for s in self.slots():
            if s.offset <= offset < s.offset + s.size:
                return s
        return None

    def internal(self) -> InternalLayout:
        """The ABIInternal assignment of this signature (registers and stack)."""
        return _internal_layout(self)

    def __str__(self) -> str:
        ps = ", ".join(f"{p.name} {p.type}" for p in self.params)
        rs = ", ".join(f"{p.name} {p.type}" for p in self.results)
        return f"func {self.name}({ps})" + (f" ({rs})" if rs else "")


def _components(t: GoType, name: str, off: int, result: bool) -> list[Slot]:
    """asmdecl's componentsOfType: the pieces vet lets ``name+off(FP)`` refer to."""
    k = t.kind
    if k == "string":
        return [Slot(name + "_base", off, 8, result, "string base"),
                Slot(name + "_len", off + 8, 8, result, "string len")]
    if k == "slice":
        return [Slot(name + "_base", off, 8, result, "slice base"),
                Slot(name + "_len", off + 8, 8, result, "slice len"),
                Slot(name + "_cap", off + 16, 8, result, "slice cap")]
    if k == "iface":
        return [Slot(name + "_type", off, 8, result, "interface type"),
                Slot(name + "_data", off + 8, 8, result, "interface data")]
    if k == "complex":
        h = t.size // 2
        return [Slot(name + "_real", off, h, result, f"real({t.name})"),
                Slot(name + "_imag", off + h, h, result, f"imag({t.name})")]
    if k == "struct":
        out: list[Slot] = []
        for fname, ft, foff in t.fields:
            out.extend(_components(ft, f"{name}_{fname}", off + foff, result))
        return out
    if k == "array":
        out = []
        for i in range(t.length):
            out.extend(_components(t.elem, f"{name}_{i}", off + i * t.elem.size, result))
        return out
    if t.size == 0:
        return []
    return [Slot(name, off, t.size, result, t.name)]


def layout(name: str, params, results, *, variadic: bool = False, where: str = "") -> Signature:
    """ABI0 offsets for ``params``/``results`` given as ``[(name or None, GoType)]``
    (see the module docstring; asmdecl's asmParseDecl computes the same)."""
    off = 0
    ps, rs = [], []
    for i, (pname, t) in enumerate(params):
        off = _align(off, t.align)
        ps.append(Param(pname or ("arg" if i == 0 else f"arg{i}"), t, off))
        off += t.size
    if results:
        off = _align(off, PTR_SIZE)
    roff = off if results else _align(off, PTR_SIZE)
    for i, (rname, t) in enumerate(results):
        off = _align(off, t.align)
        rs.append(Param(rname or ("ret" if i == 0 else f"ret{i}"), t, off))
        off += t.size
    return Signature(name, tuple(ps), tuple(rs), off, roff, variadic, where)


# ---------------------------------------------------------------- ABIInternal

def _register_assign(t: GoType, ni: int, nf: int):
    """Registers for one value (abi-internal.md "Register-assignment"), or None."""
    k = t.kind
    if k in ("int", "bool", "ptr", "func", "chan", "map"):
        return ([("int", t)], ni + 1, nf) if ni + 1 <= len(INT_REGS) else None
    if k == "float":
        return ([("float", t)], ni, nf + 1) if nf + 1 <= len(FLOAT_REGS) else None
    parts: list[GoType]
    if k == "complex":
        half = BASIC["float32"] if t.size == 8 else BASIC["float64"]
        parts = [half, half]
    elif k == "string":
        parts = [BASIC["uintptr"], BASIC["int"]]
    elif k == "iface":
        parts = [BASIC["uintptr"], BASIC["uintptr"]]
    elif k == "slice":
        parts = [BASIC["uintptr"], BASIC["int"], BASIC["int"]]
    elif k == "struct":
        parts = [ft for _, ft, _ in t.fields]
    elif k == "array":
        if t.length == 0:
            return [], ni, nf
        if t.length > 1:
            return None
        parts = [t.elem]
    else:
        return None
    out = []
    for part in parts:
        r = _register_assign(part, ni, nf)
        if r is None:
            return None
        vals, ni, nf = r
        out.extend(vals)
    return out, ni, nf


def _internal_layout(sig: Signature) -> InternalLayout:
    off = 0

    def assign(params):
        nonlocal off
        ni = nf = 0
        out = []
        for p in params:
            r = None if p.type.size == 0 else _register_assign(p.type, ni, nf)
            if r is None:
                off = _align(off, p.type.align)
                out.append(RegAssignment(p, (), off))
                off += p.type.size
                continue
            vals, ni2, nf2 = r
            regs = []
            for kind, _t in vals:
                if kind == "int":
                    regs.append(INT_REGS[ni])
                    ni += 1
                else:
                    regs.append(FLOAT_REGS[nf])
                    nf += 1
            assert (ni, nf) == (ni2, nf2)
            out.append(RegAssignment(p, tuple(regs)))
        return tuple(out)

    args = assign(sig.params)
    off = _align(off, PTR_SIZE)
    results = assign(sig.results)
    off = _align(off, PTR_SIZE)
    spill = []
    for a in args:
        if a.regs:
            off = _align(off, a.param.type.align)
            spill.append(off)
            off += a.param.type.size
    off = _align(off, PTR_SIZE)
    return InternalLayout(args, results, tuple(spill), off)


# =========================================================================== parser

_TYPE_KEYWORDS = frozenset({"func", "chan", "map", "struct", "interface"})


class _Env:
    """Where the names in one file's declarations resolve (The Go Programming Language
    Specification, "Declarations and scope"): the package block (``pkg``: every file's
    types and constants), the file block (``imports``: alias -> import path), then the
    universe (:data:`BASIC`)."""

    def __init__(self, pkg: "GoPackage", imports: dict | None = None) -> None:
        self.pkg = pkg
        self.imports = dict(imports or {})

    def imported(self, alias: str, tok=None, where: str = "") -> "GoPackage":
        """The package a qualified identifier ``alias.X`` names (loaded, or found by the
        package's resolver); a :class:`SignatureError` naming it otherwise."""
        path = self.imports.get(alias)
        if path is None:
            for p in self.imports.values():     # an import whose package name differs
                other = self.pkg.resolve(p)
                if other is not None and other.name == alias:
                    return other
            line = f":{tok.line}" if tok is not None else ""
            raise SignatureError(f"{where}{line}: {alias} is not an imported package")
        other = self.pkg.resolve(path)
        if other is None:
            line = f":{tok.line}" if tok is not None else ""
            raise SignatureError(f"{where}{line}: package {path} (imported as {alias}) is "
                                 f"not loaded: load it too (goasm.load_package(..., "
                                 f"{path!r}))")
        return other


class TokenCursor:
    """A position (``i``) in a list of Go tokens (``toks``): what the declaration parser
    and goasm.goexpr's evaluator both walk. A subclass says how its errors read
    (``error``) and what running out of tokens is called (``END``)."""

    END = "unexpected end of input"

    def peek(self, k: int = 0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at(self, text: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.text == text and t.kind in ("op", "ident")

    def take(self):
        t = self.peek()
        if t is None:
            raise self.error(self.END)
        self.i += 1
        return t

    def expect(self, text: str):
        t = self.take()
        if t.text != text:
            raise self.error(f"expected {text!r}, found {t.text!r}", t)
        return t

    def error(self, msg: str, tok=None) -> GoasmError:
        raise NotImplementedError


class _Parser(TokenCursor):
    """Recursive descent over Go tokens for types and parameter lists."""

    END = "unexpected end of declaration"

    def __init__(self, tokens, where: str, env: _Env | None = None) -> None:
        self.toks = tokens
        self.i = 0
        self.where = where
        self.env = env if env is not None else _Env(GoPackage(()))

    def error(self, msg: str, tok=None) -> SignatureError:
        tok = tok or self.peek()
        line = f":{tok.line}" if tok is not None else ""
        return SignatureError(f"{self.where}{line}: {msg}")

    # ---- types

    def type_(self) -> GoType:
        t = self.take()
        if t.text == "(":
            inner = self.type_()
            self.expect(")")
            return inner
        if t.text == "*":
            return pointer_to(self.type_())
        if t.text == "[":
            if self.at("]"):
                self.take()
                return slice_of(self.type_())
            n = self.const_expr()
            self.expect("]")
            return array_of(self.type_(), n)
        if t.text == "...":
            raise self.error("... is only allowed on the last parameter", t)
        if t.text == "<-" and self.at("chan"):
            self.take()
            self.type_()
            return GoType("chan", 8, 8, "<-chan")
        if t.kind != "ident":
            raise self.error(f"unexpected {t.text!r} in a type", t)
        if t.text == "struct":
            return self.struct_body()
        if t.text == "interface":
            self.skip_braces()
            return GoType("iface", 16, 8, "interface{...}")
        if t.text == "func":
            self.signature_tail("func")
            return GoType("func", 8, 8, "func(...)")
        if t.text == "chan":
            if self.at("<-"):
                self.take()
            self.type_()
            return GoType("chan", 8, 8, "chan")
        if t.text == "map":
            self.expect("[")
            self.type_()
            self.expect("]")
            self.type_()
            return GoType("map", 8, 8, "map")
        name = t.text
        if self.at(".") and self.peek(1) is not None and self.peek(1).kind == "ident":
            self.take()
            name += "." + self.take().text
        if self.at("["):
            raise self.error(f"generic type {name}[...] is not supported", t)
        return self.named(name, t)

    def named(self, name: str, tok=None) -> GoType:
        """A type name: declared in the package, qualified (``cpu.CacheLinePad``: the
        imported package's declaration) or predeclared."""
        if "." in name and name != "unsafe.Pointer":
            alias, sel = name.split(".", 1)
            try:
                other = self.env.imported(alias, tok, self.where)
                return other.type(sel, where=f"{self.where}:{tok.line if tok else 0}")
            except SignatureError as exc:
                raise SignatureError(f"type {name}: {exc.message}") from None
        pkg = self.env.pkg
        if pkg.has_type(name):
            return pkg.type(name, where=f"{self.where}:{tok.line if tok else 0}")
        if name in BASIC:
            return BASIC[name]
        raise self.error(f"unknown type {name} (declare it in a .go file of the package)", tok)

    def struct_body(self) -> GoType:
        self.expect("{")
        fields = []
        while not self.at("}"):
            if self.at(";"):
                self.take()
                continue
            names = [self.take().text]
            embedded = self.at(";") or self.at("}") or self.at(".") or (
                self.peek() is not None and (self.peek().bol or self.peek().kind == "string"))
            if names[0] == "*":       # an embedded pointer: *T
                names = ["*" + self.peek().text]
                embedded = True
            if embedded:   # an embedded field: its name is the type's
                self.i -= 1
                ft = self.type_()
                fields.append((names[0].lstrip("*").rsplit(".", 1)[-1], ft))
            else:
                while self.at(","):
                    self.take()
                    names.append(self.take().text)
                ft = self.type_()
                fields.extend((n, ft) for n in names)
            if self.peek() is not None and self.peek().kind == "string":
                self.take()   # a tag
            if self.at(";"):
                self.take()
            elif not self.at("}") and not self.peek().bol:
                raise self.error(f"unexpected {self.peek().text!r} in struct type")
        self.expect("}")
        return struct_of(fields)

    def skip_braces(self) -> None:
        self.expect("{")
        depth = 1
        while depth:
            t = self.take()
            if t.text == "{":
                depth += 1
            elif t.text == "}":
                depth -= 1

    def const_expr(self) -> int:
        """An array length: a constant expression of the package
        (:mod:`goasm.goexpr`), which must be a non-negative integer."""
        from goasm import goexpr

        start = self.i
        depth = 0
        while self.peek() is not None:          # up to the closing ]
            t = self.peek()
            if t.text in ("(", "[", "{"):
                depth += 1
            elif t.text in (")", "]", "}"):
                if depth == 0:
                    break
                depth -= 1
            self.i += 1
        toks = self.toks[start:self.i]
        if not toks:
            raise self.error("missing array length")
        try:
            value = goexpr.Evaluator(self.env, self.where).constant(toks)
        except goexpr.ExprError as exc:
            raise self.error(f"array length: {exc}", toks[0]) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"array length {value!r} is not a non-negative integer", toks[0])
        return value

    # ---- parameters

    def params(self) -> tuple[list, bool]:
        """``( ... )`` → ``[(name or None, GoType)]`` and whether the last is variadic."""
        self.expect("(")
        groups: list[list] = []
        cur: list = []
        depth = 0
        while True:
            t = self.take()
            if depth == 0 and t.text == ")":
                if cur:
                    groups.append(cur)
                break
            if depth == 0 and t.text == ",":
                groups.append(cur)
                cur = []
                continue
            if t.text in "([{":
                depth += 1
            elif t.text in ")]}":
                depth -= 1
            cur.append(t)
        parsed = []
        named = False
        for g in groups:
            if (len(g) >= 2 and g[0].kind == "ident" and g[1].text != "."
                    and g[0].text not in _TYPE_KEYWORDS):
                parsed.append((g[0].text, g[1:]))
                named = True
            else:
                parsed.append((None, g))
        out: list = []
        variadic = False
        if named:
            pending: list[str] = []
            for name, toks in parsed:
                if name is None:
                    if len(toks) != 1 or toks[0].kind != "ident":
                        raise self.error("mixed named and unnamed parameters", toks[0])
                    pending.append(toks[0].text)
                    continue
                t, v = self.param_type(toks)
                variadic = variadic or v
                out.extend((n, t) for n in pending + [name])
                pending = []
            if pending:
                raise self.error("mixed named and unnamed parameters")
        else:
            for _, toks in parsed:
                t, v = self.param_type(toks)
                variadic = variadic or v
                out.append((None, t))
        return out, variadic

    def param_type(self, toks) -> tuple[GoType, bool]:
        variadic = toks[0].text == "..."
        sub = _Parser(toks[1:] if variadic else toks, self.where, self.env)
        t = sub.type_()
        if sub.peek() is not None:
            raise self.error(f"unexpected {sub.peek().text!r} in a parameter", sub.peek())
        return (slice_of(t) if variadic else t), variadic

    def signature_tail(self, name: str, where: str = "") -> Signature:
        """Parameters and results after the function name."""
        if self.at("["):
            raise self.error(f"generic function {name} cannot be implemented in assembly")
        params, variadic = self.params()
        results: list = []
        t = self.peek()
        if t is not None and t.text == "(":
            results, _ = self.params()
        elif t is not None and not t.bol and t.text not in ("{", ";", ")", ",", "]", "}"):
            results = [(None, self.type_())]
        return layout(name, params, results, variadic=variadic, where=where)


# =========================================================================== files

@attrs.frozen
class ConstSpec:
    """One constant of a ``const`` declaration: its expression tokens (repeated from
    the previous spec of the group when omitted), its ``iota`` (the spec's index in the
    group), the index of its name in the spec (``a, b = 1, 2``), its type tokens (or
    None), the source ``line`` and the declaring file's ``path``."""

    name: str
    expr: tuple
    iota: int
    index: int
    typ: tuple | None
    line: int
    path: str


@attrs.frozen
class VarSpec:
    """One package-level variable: type tokens (or None), initializer tokens (or None:
    the zero value; for ``a, b = f()`` the whole right-hand side with ``index``), the
    source ``line`` and the declaring file's ``path``."""

    name: str
    typ: tuple | None
    expr: tuple | None
    index: int
    count: int
    line: int
    path: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@attrs.frozen
class GoFile:
    """The parts of a Go source file goasm uses: ``package``, ``funcs`` (name ->
    :class:`Signature` resolved with this file's declarations alone; see
    :class:`GoPackage` for the whole package), ``bodyless`` (names declared without a
    body: the ones assembly implements), ``imports`` (``(alias or None, path)``), and the
    raw package-level declarations: ``type_decls`` (name -> tokens), ``const_decls``
    (name -> :class:`ConstSpec`), ``var_decls`` (name -> :class:`VarSpec`),
    ``func_decls`` (name -> (tokens after the name, line, has a body))."""

    path: str
    package: str
    funcs: dict
    bodyless: frozenset
    imports: tuple = ()
    type_decls: dict = attrs.field(factory=dict)
    const_decls: dict = attrs.field(factory=dict)
    var_decls: dict = attrs.field(factory=dict)
    func_decls: dict = attrs.field(factory=dict)


def _split_decls(toks):
    """Top-level declarations: runs of tokens starting at a keyword at the start of a
    line and at brace/paren depth 0."""
    decls, cur, depth = [], [], 0
    for t in toks:
        if depth == 0 and t.bol and t.text in ("package", "import", "func", "type", "var",
                                                "const") and cur:
            decls.append(cur)
            cur = []
        if t.text in "([{" and t.kind == "op":
            depth += 1
        elif t.text in ")]}" and t.kind == "op":
            depth = max(depth - 1, 0)
        cur.append(t)
    if cur:
        decls.append(cur)
    return decls


def _spec_groups(decl):
    """The specs of ``import``/``type``/``const``/``var`` declarations, grouped
    ``( ... )`` or single."""
    body = decl[1:]
    if body and body[0].text == "(":
        specs, cur, depth = [], [], 0
        for t in body[1:]:
            if depth == 0 and t.text == ")":
                break
            if depth == 0 and (t.bol or t.text == ";") and cur:
                specs.append(cur)
                cur = []
            if t.text == ";" and depth == 0:
                continue
            if t.text in "([{":
                depth += 1
            elif t.text in ")]}":
                depth -= 1
            cur.append(t)
        if cur:
            specs.append(cur)
        return specs
    return [body]


def _split_top(toks, sep: str = ",") -> list:
    """``toks`` split at ``sep`` outside brackets."""
    out, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
        if depth == 0 and t.text == sep and t.kind == "op":
            out.append(cur)
            cur = []
            continue
        cur.append(t)
    out.append(cur)
    return out


def _names_before(spec) -> tuple[list[str], int]:
    """``a, b`` at the start of a const/var spec: the names and where they end."""
    names = []
    i = 0
    while i < len(spec) and spec[i].kind == "ident":
        names.append(spec[i].text)
        i += 1
        if i < len(spec) and spec[i].text == ",":
            i += 1
            continue
        break
    return names, i


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text[1:-1]


def parse_go_source(src: str, path: str = "<go>") -> GoFile:
    """Read a Go file's package clause, imports, and its package-level type, constant,
    variable and function declarations (see the module docstring); ``funcs`` resolves
    the function signatures with this file's declarations alone."""
    toks = tokenize(src, path)
    decls = _split_decls(toks)
    package = ""
    imports: list = []
    types: dict = {}
    consts: dict = {}
    variables: dict = {}
    funcs_raw: dict = {}
    for d in decls:
        kw = d[0].text
        if kw == "package" and len(d) > 1:
            package = d[1].text
        elif kw == "import":
            for spec in _spec_groups(d):
                if spec and spec[-1].kind == "string":
                    alias = spec[0].text if len(spec) == 2 else None
                    imports.append((alias, _unquote(spec[-1].text)))
        elif kw == "type":
            for spec in _spec_groups(d):
                if len(spec) >= 2 and spec[0].kind == "ident":
                    rest = spec[1:]
                    if rest and rest[0].text == "=":
                        rest = rest[1:]
                    if (len(rest) > 2 and rest[0].text == "[" and rest[1].kind == "ident"
                            and (rest[2].kind == "ident" or rest[2].text == ",")):
                        continue   # a generic type (type G[T any] ...): no frames for it
                    types[spec[0].text] = tuple(rest)
        elif kw == "const":
            last_expr, last_type = None, None
            for iota, spec in enumerate(_spec_groups(d)):
                names, i = _names_before(spec)
                if not names:
                    continue
                eq = next((j for j in range(i, len(spec)) if spec[j].text == "="), None)
                if eq is not None:
                    last_type = tuple(spec[i:eq]) or None
                    last_expr = [tuple(x) for x in _split_top(spec[eq + 1:])]
                elif i < len(spec):
                    last_type = tuple(spec[i:])      # `X T` alone is invalid Go; keep it
                if last_expr is None:
                    continue
                for k, name in enumerate(names):
                    if name == "_" or k >= len(last_expr):
                        continue
                    consts[name] = ConstSpec(name, last_expr[k], iota, k, last_type,
                                             spec[0].line, path)
        elif kw == "var":
            for spec in _spec_groups(d):
                names, i = _names_before(spec)
                if not names:
                    continue
                eq = next((j for j in range(i, len(spec)) if spec[j].text == "="
                           and spec[j].kind == "op"), None)
                typ = tuple(spec[i:eq if eq is not None else len(spec)]) or None
                exprs = [tuple(x) for x in _split_top(spec[eq + 1:])] if eq is not None else []
                for k, name in enumerate(names):
                    if name == "_":
                        continue
                    if not exprs:
                        expr = None
                    elif len(exprs) == len(names):
                        expr = exprs[k]
                    else:
                        expr = tuple(spec[eq + 1:])   # a, b = f(): one multi-value call
                    variables[name] = VarSpec(name, typ, expr, k, len(names), spec[0].line,
                                              path)
        elif kw == "func":
            if len(d) < 2 or d[1].kind != "ident":
                continue   # a method: (r T) Name
            rest = tuple(d[2:])
            depth = 0
            body = False
            for j, t in enumerate(rest):    # a { at depth 0 after the signature: the body
                if t.text in ("(", "["):
                    depth += 1
                elif t.text in (")", "]"):
                    depth -= 1
                elif t.text == "{" and depth == 0:
                    if j and rest[j - 1].text in ("struct", "interface"):
                        continue
                    body = True
                    break
            funcs_raw.setdefault(d[1].text, (rest, d[0].line, body))
    gf = GoFile(path, package, {}, frozenset(n for n, v in funcs_raw.items() if not v[2]),
                tuple(imports), types, consts, variables, funcs_raw)
    alone = GoPackage([gf])
    funcs = {}
    for name in funcs_raw:
        try:
            funcs[name] = alone.signature(name)
        except SignatureError:
            continue
    gf.funcs.update(funcs)
    return gf


def split_linked_name(symbol: str) -> tuple[str, str]:
    """A linked symbol name as (package path, Go name): ``crypto/md5.block`` ->
    (``crypto/md5``, ``block``); an ABI suffix (``<ABIInternal>``) and the linker's
    ``%2e`` escapes of dots (objabi.PathToPrefix) are undone."""
    base = symbol.split("<", 1)[0]
    path, _, name = base.rpartition(".")
    return path.replace("%2e", ".").replace("%2E", "."), name


def parse_go_file(path) -> GoFile:
    """:func:`parse_go_source` of a file."""
    path = Path(path)
    return parse_go_source(path.read_text(encoding="utf-8", errors="replace"), str(path))


def default_import_name(path: str) -> str:
    """The package name an import path usually declares (its last element, without a
    major-version suffix ``/v2`` or ``gopkg.in``'s ``.v2``); the real name comes from
    the package clause when the package is loaded."""
    parts = [p for p in path.split("/") if p]
    last = parts[-1] if parts else path
    if re.fullmatch(r"v\d+", last) and len(parts) > 1:
        last = parts[-2]
    last = re.sub(r"\.v\d+$", "", last)
    return last.replace("-", "_").replace(".", "_")


class GoPackage:
    """The package block of one Go package: the types, constants, variables and
    function declarations of all its files (The Go Programming Language Specification,
    "Declarations and scope": package-level names are visible in every file of the
    package; imports only in the file that has them).

    ``files``: :class:`GoFile` objects (as ``go build`` selects them: build constraints
    are the caller's business). ``path``: the import path (``crypto/md5``). ``resolver``:
    ``callable(import_path) -> GoPackage | None`` for qualified names (``cpu.X86``,
    ``cpu.CacheLinePad``). Types and constants are resolved on first use and cached.
    """

    def __init__(self, files, *, path: str = "", resolver=None, name: str | None = None) -> None:
        self.files = tuple(files)
        self.path = path
        self.name = name or next((f.package for f in self.files if f.package), "")
        self.resolver = resolver
        self._envs = {f.path: _Env(self, {(a or default_import_name(p)): p
                                          for a, p in f.imports if a not in ("_", ".")})
                      for f in self.files}
        self._types: dict = {}
        self.consts: dict = {}
        self.vars: dict = {}
        self._funcs: dict = {}
        for f in self.files:
            env = self._envs[f.path]
            for name, toks in f.type_decls.items():
                self._types.setdefault(name, (toks, env, f.path))
            for name, spec in f.const_decls.items():
                self.consts.setdefault(name, spec)
            for name, spec in f.var_decls.items():
                self.vars.setdefault(name, spec)
            for name, (toks, line, body) in f.func_decls.items():
                prev = self._funcs.get(name)
                if prev is None or (prev[3] and not body):    # bodyless declarations win
                    self._funcs[name] = (toks, line, f.path, body)
        self._resolving: set = set()
        self._sigs: dict = {}
        self._values: dict = {}

    def __repr__(self) -> str:
        return f"<GoPackage {self.path or self.name} ({len(self.files)} files)>"

    def env_of(self, path: str) -> _Env:
        """The scope of the file ``path`` (its imports)."""
        return self._envs.get(path) or _Env(self)

    def resolve(self, import_path: str) -> "GoPackage | None":
        if import_path == self.path:
            return self
        return self.resolver(import_path) if self.resolver is not None else None

    # ---- types

    def has_type(self, name: str) -> bool:
        return name in self._types

    def type(self, name: str, where: str = "") -> GoType:
        """The :class:`GoType` of the package-level type ``name``."""
        value = self._types.get(name)
        if value is None:
            raise SignatureError(f"{where}: unknown type {name} in package "
                                 f"{self.path or self.name}")
        if isinstance(value, GoType):
            return value
        toks, env, path = value
        if name in self._resolving:
            raise SignatureError(f"{path}: invalid recursive type {name}")
        self._resolving.add(name)
        try:
            sub = _Parser(toks, path, env)
            resolved = sub.type_()
        finally:
            self._resolving.discard(name)
        if resolved.kind in ("int", "float", "complex", "bool", "string", "struct"):
            resolved = attrs.evolve(resolved, name=name)
        self._types[name] = resolved
        return resolved

    # ---- functions

    def func_names(self):
        return list(self._funcs)

    def bodyless(self) -> frozenset:
        return frozenset(n for n, v in self._funcs.items() if not v[3])

    def signature(self, name: str) -> Signature | None:
        """The signature of function ``name`` (None: not declared); a declaration that
        cannot be laid out raises :class:`SignatureError` saying why."""
        if name in self._sigs:
            return self._sigs[name]
        entry = self._funcs.get(name)
        if entry is None:
            return None
        toks, line, path, _body = entry
        p = _Parser(toks, path, self.env_of(path))
        sig = p.signature_tail(name, where=f"{path}:{line}")
        self._sigs[name] = sig
        return sig

    def declaration_site(self, name: str) -> str | None:
        entry = self._funcs.get(name)
        return f"{entry[2]}:{entry[1]}" if entry is not None else None


def parse_signature(text: str, *, types: dict | None = None) -> Signature:
    """A signature written as Go: ``"func add(a, b int64) (sum int64, ok bool)"`` (the
    ``func`` keyword and the name are optional: ``"(p []byte) int"``). ``types`` maps
    extra type names to :class:`GoType` or Go type text."""
    toks = tokenize(text, "<signature>")
    p = _Parser(toks, "<signature>", _Env(_types_package(types)))
    if p.at("func"):
        p.take()
    name = ""
    if p.peek() is not None and p.peek().kind == "ident":
        name = p.take().text
    sig = p.signature_tail(name or "f", where="<signature>")
    if p.peek() is not None and p.peek().text != "{":
        raise p.error(f"unexpected {p.peek().text!r} after the signature")
    return sig


def _types_package(types: dict | None) -> GoPackage:
    pkg = GoPackage(())
    for k, v in (types or {}).items():
        pkg._types[k] = v if isinstance(v, GoType) else (
            tuple(tokenize(v, f"<type {k}>")), _Env(pkg), f"<type {k}>")
    return pkg


def parse_type(text: str, *, types: dict | None = None) -> GoType:
    """A Go type from its text (``"[]int32"``, ``"struct{ a int8; b int64 }"``)."""
    p = _Parser(tokenize(text, "<type>"), "<type>", _Env(_types_package(types)))
    t = p.type_()
    if p.peek() is not None:
        raise p.error(f"unexpected {p.peek().text!r} after the type")
    return t


DEFAULT_TAGS = frozenset({"linux", "amd64", "gc", "unix", "amd64.v1",
                          "goexperiment.regabiwrappers", "goexperiment.regabiargs",
                          *(f"go1.{i}" for i in range(1, 100))})
"""Build tags for reading the ``.go`` files beside assembly loaded with
:func:`goasm.load` (no GOROOT at hand): linux/amd64, gc, GOAMD64=v1, the register ABI
experiments, every Go 1.N release tag (go/build ``Context.matchTag``)."""


def package_files(folder, tags=DEFAULT_TAGS) -> list[GoFile]:
    """The ``.go`` files of ``folder`` that ``go build`` with ``tags`` compiles (test
    files included: their declarations can serve assembly too), parsed."""
    from goasm.goroot import file_matches

    out = []
    for go in sorted(Path(folder).glob("*.go")):
        try:
            if not file_matches(go, tags):
                continue
            out.append(parse_go_file(go))
        except (OSError, GoasmError):
            continue
    return out


def packages_near(s_files) -> dict:
    """The Go package in the folder of each of ``s_files``: every ``.go`` file there
    (``_test.go`` files included; build constraints for linux/amd64,
    :data:`DEFAULT_TAGS`), ``{folder: GoPackage}``."""
    out: dict = {}
    for f in s_files:
        folder = str(Path(f).resolve().parent)
        if folder not in out:
            out[folder] = GoPackage(package_files(folder))
    return out


def declarations_near(s_files) -> dict:
    """Go declarations for assembly functions, ``{folder: {name: Signature}}``: the
    functions of :func:`packages_near` whose declarations can be laid out (those
    without a body win over those with one)."""
    out: dict = {}
    for folder, pkg in packages_near(s_files).items():
        sigs = {}
        for name in pkg.func_names():
            try:
                sig = pkg.signature(name)
            except SignatureError:
                continue
            if sig is not None:
                sigs[name] = sig
        out[folder] = sigs
    return out

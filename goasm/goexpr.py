"""Go constant expressions and package-variable initializers, evaluated in Python.

An assembly function often reads package variables whose values Go computes before
``main`` runs: ``var _K = [...]uint64{0x428a2f98d728ae22, ...}``,
``var primes = [...]uint64{prime1, prime2}``, ``var hasADX = cpu.X86.HasADX &&
cpu.X86.HasBMI2``. This module evaluates the initializers people write for them
(The Go Programming Language Specification, "Constants", "Constant expressions",
"Operators", "Conversions", "Composite literals", "Iota"):

- integer, floating-point, rune, string and boolean literals, ``true``/``false``/``nil``
  and ``iota``;
- package-level constants and variables of the package and of imported packages
  (``cpu.X86HasADX``), typed or untyped; CPU feature variables ``X86`` of
  ``internal/cpu`` and ``golang.org/x/sys/cpu`` come from the :class:`Session`
  (:mod:`goasm.gocpu`: what ``cpu.Initialize`` computes from CPUID);
- unary ``+ - ! ^``, binary ``* / % << >> & &^ + - | ^ == != < <= > >= && ||``
  with Go's precedence, integer division truncating toward zero, typed results
  wrapped to their width;
- conversions ``T(x)``, ``len``/``cap`` of constant strings and arrays, and
  composite literals of arrays (``[...]T``/``[N]T``, keyed elements), slices and
  structs, elided element types included.

Anything else (function calls, maps, closures, ``make``) is an :class:`ExprError` that
says what it met. Values are plain Python: ``int``, ``float``, ``bool``, ``bytes``
(strings), ``list`` (arrays, slices), ``dict`` (structs), with a
:class:`goasm.gosig.GoType` (None for an untyped constant).
"""

from __future__ import annotations

import re

import attrs

from goasm.errors import GoasmError
from goasm.gosig import (BASIC, GoType, SignatureError, TokenCursor, _Env, _Parser, array_of,
                         slice_of)


class ExprError(GoasmError):
    """An expression goasm cannot evaluate (the message says what and why)."""


@attrs.frozen
class Value:
    """A Go value: ``type`` None for an untyped constant (its kind follows from the
    Python value), and the Python ``value``."""

    type: GoType | None
    value: object


CPU_PACKAGES = frozenset({"internal/cpu", "golang.org/x/sys/cpu", "vendor/golang.org/x/sys/cpu"})
"""Packages whose ``X86`` variable is the CPU's feature set (``cpu.Initialize``)."""

_UNTYPED_BOOL = None
_BINARY_PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
                "+": 4, "-": 4, "|": 4, "^": 4,
                "*": 5, "/": 5, "%": 5, "<<": 5, ">>": 5, "&": 5, "&^": 5}


class Session:
    """One evaluation of package variables: their values (each computed once), the
    CPU feature values (``cpu_features(import_path) -> {field: bool}``, or None to
    probe: every feature false, recording that the CPU was consulted), and the
    variables being computed (to report initialization cycles)."""

    def __init__(self, cpu_features=None) -> None:
        self.cpu_features = cpu_features
        self.values: dict = {}
        self.active: list = []
        self.cpu_used: set = set()       # variables whose value depends on the CPU

    def features(self, path: str) -> dict:
        if self.cpu_features is None:
            return {}
        return dict(self.cpu_features(path) or {})


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, (bytes, str)):
        return "string"
    return "other"


def wrap(t: GoType, v: int) -> int:
    """``v`` as a value of integer type ``t`` (two's complement wrap, as a conversion)."""
    bits = 8 * t.size
    v &= (1 << bits) - 1
    if t.signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def convert(t: GoType, val: Value, where: str = "") -> Value:
    """The conversion ``t(val)``."""
    v = val.value
    k = t.kind
    if k == "int":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"{where}: cannot convert {v!r} to {t}")
        return Value(t, wrap(t, int(v)))
    if k == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"{where}: cannot convert {v!r} to {t}")
        return Value(t, float(v))
    if k == "bool":
        if not isinstance(v, bool):
            raise ExprError(f"{where}: cannot convert {v!r} to {t}")
        return Value(t, v)
    if k == "string":
        if isinstance(v, (bytes, bytearray)):
            return Value(t, bytes(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return Value(t, chr(v).encode("utf-8", "surrogatepass") if 0 <= v < 0x110000
                         else "\ufffd".encode())
        raise ExprError(f"{where}: cannot convert {v!r} to {t}")
    if k == "slice" and t.is_bytes and isinstance(v, (bytes, bytearray)):
        return Value(t, bytes(v))
    if k == "ptr" and (v is None or (isinstance(v, int) and not isinstance(v, bool))):
        return Value(t, v)
    if val.type is not None and val.type.kind == k and val.type.size == t.size:
        return Value(t, v)
    raise ExprError(f"{where}: cannot convert {v!r} to {t}")


class Evaluator(TokenCursor):
    """Evaluates expression tokens in the scope ``env`` (a file of a
    :class:`goasm.gosig.GoPackage`). ``where`` prefixes messages; ``iota`` is the
    constant's index in its group; ``session`` gives variables and CPU features."""

    END = "unexpected end of expression"

    def __init__(self, env: _Env, where: str, *, iota: int | None = None,
                 session: Session | None = None) -> None:
        self.env = env
        self.where = where
        self.iota = iota
        self.session = session
        self.toks: list = []
        self.i = 0

    # ------------------------------------------------------------------ entry points

    def constant(self, toks):
        """The Python value of a constant expression."""
        return self.value(toks).value

    def value(self, toks, want: GoType | None = None) -> Value:
        """The :class:`Value` of the expression ``toks`` (converted to ``want`` if given,
        as an assignment would)."""
        self.toks = list(toks)
        self.i = 0
        v = self.expr(0)
        if self.i < len(self.toks):
            raise self.fail(f"unexpected {self.toks[self.i].text!r}")
        if want is not None:
            v = self.assign(want, v)
        return v

    # ------------------------------------------------------------------ helpers

    def fail(self, message: str, tok=None) -> ExprError:
        tok = tok if tok is not None else (self.toks[self.i] if self.i < len(self.toks)
                                           else (self.toks[-1] if self.toks else None))
        line = f":{tok.line}" if tok is not None and ":" not in self.where else ""
        return ExprError(f"{self.where}{line}: {message}")

    error = fail

    def assign(self, t: GoType, v: Value) -> Value:
        """``v`` assigned to a variable of type ``t`` (untyped constants converted)."""
        if v.type is None or t.kind in ("int", "float", "bool", "string"):
            if t.kind in ("iface",):
                return v
            return convert(t, v, self.where)
        return Value(t, v.value)

    # ------------------------------------------------------------------ expressions

    def expr(self, level: int) -> Value:
        left = self.unary()
        while True:
            t = self.peek()
            if t is None or t.kind != "op" or _BINARY_PREC.get(t.text, 0) <= level:
                return left
            op = self.take().text
            if op in ("&&", "||"):     # both sides are evaluated: no side effects here
                right = self.expr(_BINARY_PREC[op])
                left = self.logical(op, left, right, t)
            else:
                right = self.expr(_BINARY_PREC[op])
                left = self.binary(op, left, right, t)

    def logical(self, op, a: Value, b: Value, tok) -> Value:
        if not isinstance(a.value, bool) or not isinstance(b.value, bool):
            raise self.fail(f"operator {op} needs booleans", tok)
        v = (a.value and b.value) if op == "&&" else (a.value or b.value)
        return Value(a.type or b.type, v)

    def binary(self, op: str, a: Value, b: Value, tok) -> Value:
        x, y = a.value, b.value
        if op in ("==", "!=", "<", "<=", ">", ">="):
            try:
                r = {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y,
                     ">=": x >= y}[op]
            except TypeError:
                raise self.fail(f"cannot compare {x!r} {op} {y!r}", tok) from None
            return Value(_UNTYPED_BOOL, r)
        if op in ("<<", ">>"):
            if not (_kind(x) == "int" and _kind(y) == "int") or y < 0:
                raise self.fail(f"bad shift {x!r} {op} {y!r}", tok)
            r = x << y if op == "<<" else x >> y
            return Value(a.type, wrap(a.type, r) if a.type is not None and a.type.kind == "int"
                         else r)
        t = a.type or b.type
        kx, ky = _kind(x), _kind(y)
        if kx == "string" and ky == "string" and op == "+":
            return Value(t, bytes(x) + bytes(y))
        if kx not in ("int", "float") or ky not in ("int", "float"):
            raise self.fail(f"operator {op} not defined on {x!r}, {y!r}", tok)
        is_float = kx == "float" or ky == "float" or (t is not None and t.kind == "float")
        if op == "/":
            if y == 0:
                raise self.fail("division by zero", tok)
            if is_float:
                r = x / y
            else:
                q = abs(x) // abs(y)
                r = q if (x >= 0) == (y >= 0) else -q
        elif op == "%":
            if is_float or y == 0:
                raise self.fail(f"bad operands for %: {x!r}, {y!r}", tok)
            r = abs(x) % abs(y)
            r = r if x >= 0 else -r
        elif op in ("&", "|", "^", "&^"):
            if is_float:
                raise self.fail(f"operator {op} not defined on floats", tok)
            r = {"&": x & y, "|": x | y, "^": x ^ y, "&^": x & ~y}[op]
        else:
            r = {"+": x + y, "-": x - y, "*": x * y}[op]
        if t is not None and t.kind == "int":
            r = wrap(t, int(r))
        elif t is not None and t.kind == "float":
            r = float(r)
        return Value(t, r)

    def unary(self) -> Value:
        t = self.peek()
        if t is not None and t.kind == "op" and t.text in ("+", "-", "!", "^"):
            self.take()
            v = self.unary()
            x = v.value
            if t.text == "!":
                if not isinstance(x, bool):
                    raise self.fail("operator ! needs a boolean", t)
                return Value(v.type, not x)
            if _kind(x) not in ("int", "float"):
                raise self.fail(f"operator {t.text} not defined on {x!r}", t)
            if t.text == "+":
                return v
            if t.text == "-":
                r = -x
            else:
                if _kind(x) != "int":
                    raise self.fail("operator ^ needs an integer", t)
                if v.type is not None and v.type.kind == "int" and not v.type.signed:
                    r = x ^ ((1 << (8 * v.type.size)) - 1)
                else:
                    r = ~x
            return Value(v.type, wrap(v.type, r) if v.type is not None
                         and v.type.kind == "int" else r)
        if t is not None and t.text in ("&", "<-", "*") and t.kind == "op":
            raise self.fail(f"operator {t.text} in an initializer is not supported", t)
        return self.primary()

    # ------------------------------------------------------------------ operands

    def primary(self) -> Value:
        t = self.peek()
        if t is None:
            raise self.fail("missing operand")
        if t.text == "(" and t.kind == "op":
            self.take()
            v = self.expr(0)
            self.expect(")")
            return self.postfix(v)
        if t.text == "[" or t.text in ("struct", "map", "func", "chan"):
            typ = self.type_here()
            if self.at("("):
                self.take()
                v = self.expr(0)
                self.expect(")")
                return convert(typ, v, self.where)
            if self.at("{"):
                return self.postfix(self.composite(typ))
            raise self.fail(f"a type ({typ}) is not a value", t)
        if t.kind == "number":
            self.take()
            return self.postfix(Value(None, _number(t.text, self.fail)))
        if t.kind == "rune":
            self.take()
            return Value(None, _rune(t.text, self.fail))
        if t.kind == "string":
            self.take()
            return self.postfix(Value(None, _string(t.text, self.fail)))
        if t.kind == "ident":
            return self.postfix(self.identifier())
        raise self.fail(f"unexpected {t.text!r}", t)

    def postfix(self, v: Value) -> Value:
        while True:
            if self.at(".") and self.peek(1) is not None and self.peek(1).kind == "ident":
                self.take()
                name = self.take()
                if not isinstance(v.value, dict):
                    raise self.fail(f"selector .{name.text} on a non-struct value", name)
                if name.text not in v.value:
                    raise self.fail(f"no field {name.text} in {v.type}", name)
                ft = None
                if v.type is not None:
                    ft = next((f for n, f, _o in v.type.fields if n == name.text), None)
                v = Value(ft, v.value[name.text])
                continue
            if self.at("["):
                self.take()
                idx = self.expr(0)
                self.expect("]")
                seq = v.value
                if not isinstance(seq, (list, bytes)) or _kind(idx.value) != "int" \
                        or not 0 <= idx.value < len(seq):
                    raise self.fail("bad index expression")
                elem = v.type.elem if v.type is not None and v.type.elem is not None else None
                item = seq[idx.value]
                v = Value(elem if elem is not None else (BASIC["byte"]
                                                        if isinstance(seq, bytes) else None),
                          item)
                continue
            return v

    def type_here(self) -> GoType:
        """Parse a type at the current position (``[...]T`` for a composite literal
        gives an array whose length the literal decides: length -1)."""
        if self.at("[") and self.at("...", 1) and self.at("]", 2):
            self.i += 3
            elem = self.type_here()
            return GoType("array", 0, elem.align, f"[...]{elem.name}", elem=elem, length=-1)
        p = _Parser(self.toks, self.where, self.env)
        p.i = self.i
        try:
            typ = p.type_()
        except SignatureError as exc:
            raise ExprError(exc.message) from None
        self.i = p.i
        return typ

    def identifier(self) -> Value:
        t = self.take()
        name = t.text
        if name == "true" or name == "false":
            return Value(_UNTYPED_BOOL, name == "true")
        if name == "nil":
            return Value(None, None)
        if name == "iota":
            if self.iota is None:
                raise self.fail("iota outside a constant declaration", t)
            return Value(None, self.iota)
        pkg = self.env.pkg
        # a qualified identifier: an imported package's constant, variable or type
        if self.at(".") and name not in pkg.consts and name not in pkg.vars \
                and not pkg.has_type(name) and (name in self.env.imports or
                                                 self._is_import_name(name)):
            self.take()
            sel = self.take()
            if name == "unsafe":
                raise self.fail(f"unsafe.{sel.text} is not supported in initializers", sel)
            path = self.env.imports.get(name)
            if path in CPU_PACKAGES and sel.text == "X86":
                return self.cpu_value(pkg.resolve(path), path)
            try:
                other = self.env.imported(name, t, self.where)
            except SignatureError as exc:
                raise ExprError(exc.message) from None
            if other.path in CPU_PACKAGES and sel.text == "X86":
                return self.cpu_value(other, other.path)
            if other.has_type(sel.text) and (self.at("(") or self.at("{")):
                typ = other.type(sel.text)
                return self.after_type(typ, sel)
            return package_value(other, sel.text, self.session, self.where)
        if name in ("len", "cap") and self.at("("):
            self.take()
            v = self.expr(0)
            self.expect(")")
            if not isinstance(v.value, (bytes, list)):
                raise self.fail(f"{name} of {v.value!r}", t)
            n = len(v.value)
            if name == "cap" and v.type is not None and v.type.kind == "array":
                n = v.type.length
            return Value(BASIC["int"], n)
        if name in pkg.consts:
            return package_value(pkg, name, self.session, self.where)
        if name in pkg.vars:
            return package_value(pkg, name, self.session, self.where)
        if pkg.has_type(name) or name in BASIC:
            typ = pkg.type(name) if pkg.has_type(name) else BASIC[name]
            return self.after_type(typ, t)
        if self.at("("):
            raise self.fail(f"the initializer calls {name}(...): goasm evaluates "
                            "constants, not function calls", t)
        raise self.fail(f"undefined: {name}", t)

    def _is_import_name(self, name: str) -> bool:
        for p in self.env.imports.values():
            other = self.env.pkg.resolve(p)
            if other is not None and other.name == name:
                return True
        return False

    def after_type(self, typ: GoType, tok) -> Value:
        if self.at("("):
            self.take()
            v = self.expr(0)
            self.expect(")")
            return convert(typ, v, self.where)
        if self.at("{"):
            return self.composite(typ)
        raise self.fail(f"type {typ} is not a value", tok)

    def cpu_value(self, pkg, path: str) -> Value:
        """``cpu.X86`` of ``internal/cpu`` or ``golang.org/x/sys/cpu`` (``pkg``: its
        declarations, None when its source is not at hand): a struct whose bool fields
        are the :class:`Session`'s CPU features."""
        session = self.session
        if session is None:
            raise self.fail("cpu.X86 is a variable: not allowed in a constant")
        if session.active:
            session.cpu_used.update(session.active)
        typ = None
        if pkg is not None and "X86" in pkg.vars and pkg.vars["X86"].typ:
            try:
                typ = var_type(pkg, "X86", session)
            except (ExprError, SignatureError):
                typ = None
        feats = session.features(path)
        if typ is not None and typ.kind == "struct":
            fields = {n: (feats.get(n, False) if ft.kind == "bool" else _zero(ft))
                      for n, ft, _o in typ.fields}
        else:                           # no declaration at hand: the fields goasm knows
            from goasm.gocpu import field_names

            fields = {n: feats.get(n, False) for n in field_names(path)}
        return Value(typ, fields)

    # ------------------------------------------------------------------ composite literals

    def composite(self, typ: GoType) -> Value:
        """``T{...}`` for array, slice and struct types (keyed or positional elements;
        element literals may omit their type)."""
        self.expect("{")
        items: list = []          # (key Value|name|None, Value)
        while not self.at("}"):
            key = None
            if typ.kind == "struct" and self.peek() is not None and \
                    self.peek().kind == "ident" and self.at(":", 1):
                key = self.take().text
                self.take()
            elem_type = self._elem_type(typ, key, len(items))
            if self.at("{"):
                v = self.composite(elem_type)
            else:
                v = self.expr(0)
            if self.at(":") and typ.kind in ("array", "slice"):
                self.take()
                key = v
                v = self.composite(elem_type) if self.at("{") else self.expr(0)
            items.append((key, self.assign(elem_type, v) if elem_type is not None else v))
            if self.at(","):
                self.take()
            elif not self.at("}"):
                raise self.fail(f"unexpected {self.peek().text!r} in a composite literal")
        self.expect("}")
        if typ.kind == "struct":
            out = {n: _zero(ft) for n, ft, _o in typ.fields}
            names = [n for n, _ft, _o in typ.fields]
            for i, (key, v) in enumerate(items):
                field = key if key is not None else (names[i] if i < len(names) else None)
                if field not in out:
                    raise self.fail(f"unknown field {field} in {typ}")
                out[field] = v.value
            return Value(typ, out)
        if typ.kind not in ("array", "slice"):
            raise self.fail(f"composite literal of {typ} is not supported")
        values: dict = {}
        index = 0
        for key, v in items:
            if key is not None:
                if _kind(key.value) != "int" or key.value < 0:
                    raise self.fail(f"bad index {key.value!r} in a composite literal")
                index = key.value
            values[index] = v.value
            index += 1
        n = max(values) + 1 if values else 0
        if typ.kind == "array" and typ.length >= 0:
            if n > typ.length:
                raise self.fail(f"index {n - 1} out of bounds for {typ}")
            n = typ.length
        seq = [values.get(i, _zero(typ.elem)) for i in range(n)]
        if typ.kind == "array":
            t = array_of(typ.elem, n) if typ.length < 0 else typ
        else:
            t = typ if typ.elem is not None else slice_of(typ.elem)
        return Value(t, seq)

    def _elem_type(self, typ: GoType, key, index: int) -> GoType | None:
        if typ.kind in ("array", "slice"):
            return typ.elem
        if typ.kind == "struct":
            fields = typ.fields
            if key is not None:
                return next((ft for n, ft, _o in fields if n == key), None)
            return fields[index][1] if index < len(fields) else None
        return None


# --------------------------------------------------------------------------- package values

def package_value(pkg, name: str, session: Session | None, where: str = "") -> Value:
    """The value of package-level constant or variable ``name`` of ``pkg``
    (:class:`goasm.gosig.GoPackage`); variables need a :class:`Session`."""
    if name in pkg.consts:
        return const_value(pkg, name)
    if name in pkg.vars:
        if session is None:
            raise ExprError(f"{where}: {name} is a variable, not a constant")
        return var_value(pkg, name, session)
    raise ExprError(f"{where}: {pkg.path or pkg.name}.{name} is not a constant or "
                    f"variable goasm can find")


def const_value(pkg, name: str) -> Value:
    """A package-level constant (its typed or untyped value), cached on ``pkg``."""
    key = ("const", name)
    cached = pkg._values.get(key)
    if cached is not None:
        if cached == "busy":
            raise ExprError(f"{pkg.consts[name].path}:{pkg.consts[name].line}: constant "
                            f"{name} refers to itself")
        return cached
    spec = pkg.consts[name]
    pkg._values[key] = "busy"
    try:
        env = pkg.env_of(spec.path)
        where = f"{spec.path}:{spec.line}"
        ev = Evaluator(env, where, iota=spec.iota)
        want = None
        if spec.typ:
            p = _Parser(list(spec.typ), spec.path, env)
            try:
                want = p.type_()
            except SignatureError as exc:
                raise ExprError(exc.message) from None
        v = ev.value(spec.expr, want)
    except BaseException:
        pkg._values.pop(key, None)
        raise
    pkg._values[key] = v
    return v


def var_type(pkg, name: str, session: Session | None = None) -> GoType:
    """The declared type of a package variable, or the type of its initializer (for
    ``f(...)`` of a package function with one result, that result's type, even though
    goasm does not evaluate the call)."""
    spec = pkg.vars[name]
    env = pkg.env_of(spec.path)
    if spec.typ:
        p = _Parser(list(spec.typ), spec.path, env)
        return p.type_()
    try:
        return var_value(pkg, name, session if session is not None else Session()).type
    except ExprError:
        expr = spec.expr or ()
        if len(expr) >= 3 and expr[0].kind == "ident" and expr[1].text == "(" \
                and expr[-1].text == ")" and spec.count == 1:
            try:
                sig = pkg.signature(expr[0].text)
            except SignatureError:
                sig = None
            if sig is not None and len(sig.results) == 1:
                return sig.results[0].type
        raise


def var_value(pkg, name: str, session: Session) -> Value:
    """The initial value of package variable ``name`` in ``session`` (evaluated once
    per session; a variable whose value depends on the CPU is recorded in
    ``session.cpu_used``)."""
    key = (pkg.path or id(pkg), name)
    if key in session.values:
        return session.values[key]
    spec = pkg.vars[name]
    where = f"{spec.path}:{spec.line}"
    if key in session.active:
        raise ExprError(f"{where}: initialization cycle through {name}")
    session.active.append(key)
    try:
        env = pkg.env_of(spec.path)
        want = None
        if spec.typ:
            try:
                want = _Parser(list(spec.typ), spec.path, env).type_()
            except SignatureError as exc:
                raise ExprError(exc.message) from None
        if spec.expr is None:
            if pkg.path in CPU_PACKAGES and name == "X86":
                v = Evaluator(env, where, session=session).cpu_value(pkg, pkg.path)
            else:
                if want is None:
                    raise ExprError(f"{where}: var {name} has neither a type nor a value")
                v = Value(want, _zero(want))
        else:
            if spec.count > 1 and len(spec.expr) and _split_count(spec.expr) != spec.count:
                raise ExprError(f"{where}: var {name} is one of several values of one "
                                "function call, which goasm does not evaluate")
            v = Evaluator(env, where, session=session).value(spec.expr, want)
            if v.type is None:
                v = Value(_default_type(v.value, where), v.value)
                v = convert(v.type, v, where) if v.type.kind != "bool" else v
    finally:
        session.active.pop()
    session.values[key] = v
    return v


def _split_count(toks) -> int:
    depth, n = 0, 1
    for t in toks:
        if t.text in "([{" and t.kind == "op":
            depth += 1
        elif t.text in ")]}" and t.kind == "op":
            depth -= 1
        elif t.text == "," and depth == 0:
            n += 1
    return n


def _default_type(v, where: str) -> GoType:
    """The default type of an untyped constant (spec: "Constants")."""
    k = _kind(v)
    if k == "bool":
        return BASIC["bool"]
    if k == "int":
        return BASIC["int"]
    if k == "float":
        return BASIC["float64"]
    if k == "string":
        return BASIC["string"]
    raise ExprError(f"{where}: untyped nil has no type")


def _zero(t: GoType | None):
    if t is None:
        return None
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
        return [_zero(t.elem) for _ in range(max(t.length, 0))]
    if k == "struct":
        return {n: _zero(ft) for n, ft, _o in t.fields}
    return None


# --------------------------------------------------------------------------- literals

def _number(text: str, fail):
    s = text.replace("_", "")
    try:
        if re.fullmatch(r"0[0-7]+", s):
            return int(s, 8)
        if re.fullmatch(r"0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*[pP][+-]?\d+", s):
            return float.fromhex(s)
        if re.fullmatch(r"(0[xXbBoO])?[0-9a-fA-F]+", s):
            return int(s, 0)
        if s.endswith("i"):
            raise fail(f"imaginary constant {text} is not supported")
        return float(s)
    except ValueError:
        raise fail(f"bad number {text}") from None


def _string(text: str, fail) -> bytes:
    if text.startswith("`"):
        return text[1:-1].replace("\r", "").encode("utf-8")
    try:
        return _go_unquote(text[1:-1])
    except ValueError as exc:
        raise fail(f"bad string literal {text}: {exc}") from None


def _rune(text: str, fail) -> int:
    try:
        raw = _go_unquote(text[1:-1], rune=True)
    except ValueError as exc:
        raise fail(f"bad rune literal {text}: {exc}") from None
    if isinstance(raw, int):
        return raw
    s = raw.decode("utf-8")
    if len(s) != 1:
        raise fail(f"bad rune literal {text}")
    return ord(s)


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39,
            '"': 34}


def _go_unquote(body: str, rune: bool = False):
    """Go string/rune literal escapes (spec: "Rune literals", "String literals"):
    ``\\x`` and octal escapes are bytes, ``\\u``/``\\U`` code points (UTF-8)."""
    out = bytearray()
    i = 0
    code = None
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            code = out[-1]
            i += 4
        elif e in "01234567":
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            code = out[-1]
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            cp = int(body[i + 2:i + 2 + n], 16)
            out += chr(cp).encode("utf-8", "surrogatepass")
            code = cp
            i += 2 + n
        else:
            raise ValueError(f"unknown escape \\{e}")
    if rune and code is not None and len(body) <= 10:
        return code
    return bytes(out)


__all__ = ["ExprError", "Value", "Evaluator", "Session", "CPU_PACKAGES", "package_value",
           "const_value", "var_value", "var_type", "convert", "wrap"]

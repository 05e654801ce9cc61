"""Parse preprocessed Plan 9 amd64 assembly into goasm's IR.

``grammar/plan9_amd64.lark`` (LALR, :mod:`goasm.parse_tree`) gives the shape;
:class:`goasm.parse_tree._ToIR` gives the meaning,
following ``cmd/asm/internal/asm/parse.go`` (operand forms, ``(SB)``/``(FP)``/``(SP)``/
``(PC)`` pseudo-registers, register pairs, expression evaluation) and ``asm.go``
(TEXT/DATA/GLOBL operands). No Lark object escapes this module: callers get
:mod:`goasm.ir` nodes or a :class:`goasm.errors.ParseError` with file:line:col.
"""

from __future__ import annotations

import os
from pathlib import Path

from goasm import ir
from goasm.arch import amd64
from goasm.errors import ParseError, Pos
from goasm.preprocess import Limits, Line, preprocess, preprocess_file
from goasm.resources import runtime_include_dir

_MASK64 = (1 << 64) - 1


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


# --------------------------------------------------------------------------- literals

def parse_int_literal(text: str) -> int:
    """Go integer literal (strconv.ParseUint(s, 0, 64)): 0x, 0o, 0b, leading-0 octal, ``_``."""
    digits = text.replace("_", "")
    low = digits.lower()
    if low.startswith("0x"):
        value = int(digits[2:], 16)
    elif low.startswith("0b"):
        value = int(digits[2:], 2)
    elif low.startswith("0o"):
        value = int(digits[2:], 8)
    elif len(digits) > 1 and digits[0] == "0":
        if any(c in "89" for c in digits):
            raise ValueError(f"invalid digit in octal literal {text}")
        value = int(digits, 8)
    else:
        value = int(digits, 10)
    if value > _MASK64:
        raise ValueError(f"integer constant {text} overflows uint64")
    return value


def parse_float_literal(text: str) -> float:
    """Go float literal (strconv.ParseFloat(s, 64)), decimal or hexadecimal."""
    digits = text.replace("_", "")
    if digits.lower().startswith("0x"):
        value = float.fromhex(digits)
    else:
        value = float(digits)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"floating-point constant {text} out of range")
    return value


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unquote(text: str) -> bytes:
    """Go's strconv.Unquote for "..." and '...' literals, returning UTF-8 bytes."""
    quote = text[0]
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        esc = body[i + 1] if i + 1 < len(body) else ""
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc == quote:
            out.append(ord(quote))
            i += 2
        elif esc == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif esc in "01234567":
            value = int(body[i + 1:i + 4], 8)
            if value > 255:
                raise ValueError(f"octal escape value > 255 in {text}")
            out.append(value)
            i += 4
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            code = int(body[i + 2:i + 2 + width], 16)
            if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError(f"invalid Unicode escape in {text}")
            out += chr(code).encode("utf-8")
            i += 2 + width
        else:
            raise ValueError(f"invalid escape \\{esc} in {text}")
    return bytes(out)


def char_value(text: str) -> int:
    """The value of a Go character literal ('a', '\\n', '\\x41', '\\u00e9')."""
    body = text[1:-1]
    if body.startswith("\\"):
        raw = unquote(text)
        if body[1] in "uU":
            return ord(raw.decode("utf-8"))
        return raw[0]
    if len(body) != 1:
        raise ValueError(f"invalid character literal {text}")
    return ord(body)


# --------------------------------------------------------------------------- expressions

class _ExprEval:
    """cmd/asm's expression evaluator (parse.go expr/term/factor) over a token list.

    Evaluation is on uint64; ``<<`` ends a term, ``>>`` takes a whole term as its count,
    and the errors (division by zero, shifts of values with the high bit set) are Go's.
    The three rules are written as in parse.go, as generators: a rule "calls" another by
    yielding the generator of it and receives its value, and :meth:`run` drives them
    with an explicit stack, so any nesting depth costs heap, not Python recursion.
    """

    def __init__(self, tokens, error):
        self.tokens = tokens
        self.i = 0
        self.error = error

    def peek(self):
        return self.tokens[self.i].type if self.i < len(self.tokens) else None

    def next(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def run(self) -> int:
        tokens = self.tokens
        if len(tokens) == 1 and tokens[0].type == "INT":       # the common case
            value = self.literal(tokens[0])
            self.i = 1
        else:
            value = _drive(self.expr())
        if self.i != len(tokens):
            tok = tokens[self.i]
            self.error(f"unexpected {tok.value!r} in expression", tok)
        return value

    def literal(self, tok) -> int:
        try:
            if tok.type == "INT":
                return parse_int_literal(tok.value)
            return char_value(tok.value)
        except ValueError as exc:
            self.error(str(exc), tok)

    def expr(self):
        value = yield self.term()
        while True:
            kind = self.peek()
            if kind == "PLUS":
                self.next()
                value = (value + (yield self.term())) & _MASK64
            elif kind == "MINUS":
                self.next()
                value = (value - (yield self.term())) & _MASK64
            elif kind == "PIPE":
                self.next()
                value |= yield self.term()
            elif kind == "CARET":
                self.next()
                value ^= yield self.term()
            else:
                return value

    def term(self):
        value = yield self.factor()
        while True:
            kind = self.peek()
            if kind == "STAR":
                self.next()
                value = (value * (yield self.factor())) & _MASK64
            elif kind == "SLASH":
                tok = self.next()
                if value >> 63:
                    self.error("divide of value with high bit set", tok)
                divisor = yield self.factor()
                if divisor == 0:
                    self.error("division by zero", tok)
                value //= divisor
            elif kind == "PERCENT":
                tok = self.next()
                divisor = yield self.factor()
                if value >> 63:
                    self.error("modulo of value with high bit set", tok)
                if divisor == 0:
                    self.error("modulo by zero", tok)
                value %= divisor
            elif kind == "LSH":
                tok = self.next()
                shift = yield self.factor()
                if shift >> 63:
                    self.error("negative left shift count", tok)
                return (value << shift) & _MASK64 if shift < 64 else 0
            elif kind == "RSH":
                tok = self.next()
                shift = yield self.term()
                if shift >> 63:
                    self.error("negative right shift count", tok)
                if value >> 63:
                    self.error("right shift of value with high bit set", tok)
                value = value >> shift if shift < 64 else 0
            elif kind == "AMP":
                self.next()
                value &= yield self.factor()
            else:
                return value

    def factor(self):
        if self.i >= len(self.tokens):
            self.error("unexpected end of expression", self.tokens[-1] if self.tokens else None)
        tok = self.next()
        kind = tok.type
        if kind == "INT" or kind == "CHAR":
            return self.literal(tok)
        if kind == "PLUS":
            return (yield self.factor())
        if kind == "MINUS":
            return (-(yield self.factor())) & _MASK64
        if kind == "TILDE":
            return (yield self.factor()) ^ _MASK64
        if kind == "LPAR":
            value = yield self.expr()
            if self.peek() != "RPAR":
                self.error("missing closing paren", tok)
            self.next()
            return value
        self.error(f"unexpected {tok.value!r} evaluating expression", tok)
        raise AssertionError("unreachable")


def _drive(gen):
    """Run generator-coded recursive rules (see :class:`_ExprEval`) with an explicit
    stack: a yielded generator is a call, its return value the result sent back."""
    stack = [gen]
    value = None
    while True:
        try:
            callee = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            if not stack:
                return stop.value
            value = stop.value
            continue
        stack.append(callee)
        value = None


def too_deep(text: str, limit: int) -> int | None:
    """Where the expressions of one line first nest more than ``limit`` deep (a 0-based
    index into ``text``), or None. Depth counts the parentheses and unary operators
    (``+ - ~``) enclosing an operand: the recursion depth cmd/asm's factor() reaches,
    and the depth of the parse tree. A linear scan that skips string and character
    literals and takes every other character as it comes (an upper bound for text that
    is not an expression); lines shorter than ``limit`` cannot nest that deep."""
    if len(text) <= limit:
        return None
    base = 0                 # depth of the current parenthesis level
    bases: list[int] = []
    run = 0                  # unary operators since the last operand at this level
    operand = True           # expecting an operand (so + - ~ are unary)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == " " or c == "\t":
            i += 1
            continue
        if operand and (c == "-" or c == "+" or c == "~"):
            run += 1
            if base + run > limit:
                return i
        elif c == "(":
            bases.append(base)
            base += run + 1
            run = 0
            if base > limit:
                return i
            operand = True
        elif c == ")":
            base = bases.pop() if bases else 0
            run = 0
            operand = False
        elif c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            run = 0
            operand = False
            continue
        else:
            operand = c in "+-|^*/%&<>,:;$"
            run = 0
        i += 1
    return None


# --------------------------------------------------------------------------- tree → IR

class _Named:
    """Intermediate form of ``sym[<attr>][±off][(group)...]`` before we know its role."""

    __slots__ = ("name", "attr", "offset", "groups", "tok")

    def __init__(self, name, attr, offset, groups, tok):
        self.name, self.attr, self.offset, self.groups, self.tok = name, attr, offset, groups, tok


class _Bare:
    """A bare non-register name: a branch label if the instruction jumps, else an error."""

    __slots__ = ("name", "pos")

    def __init__(self, name, pos):
        self.name, self.pos = name, pos


# --------------------------------------------------------------------------- public API

def _check_depth(lines: list[Line], limit: int) -> None:
    """Refuse, with its position, a line whose expressions nest more than ``limit``
    deep (:func:`too_deep`; ``Limits.max_expression_depth``) before parsing it."""
    for line in lines:
        at = too_deep(line.text, limit)
        if at is not None:
            col = line.col + at if not line.expanded else line.col
            raise ParseError(f"expression nested more than {limit} deep (parentheses and "
                             f"unary operators)", Pos(line.file, line.line, col),
                             line.source or line.text)


def parse_lines(lines: list[Line], filename: str = "<input>", *,
                limits: Limits | None = None) -> ir.Program:
    """Parse preprocessed lines (from :func:`goasm.preprocess.preprocess`) into a Program."""
    from goasm.cache import no_gc

    _check_depth(lines, (limits or Limits()).max_expression_depth)
    with no_gc():   # the parse tree and the IR are acyclic: collections only cost time
        from goasm import parse_tree

        return ir.Program(tuple(parse_tree.statements(lines)), file=filename)


_TREE_NAMES = frozenset({"_lark", "_ToIR", "_lark_error", "_parse_mixed", "_transform"})


def __getattr__(name: str):
    """The Lark side of the parser (:mod:`goasm.parse_tree`) under its old names, imported
    on first use: a program whose IR is cached never imports Lark (~0.1 s of start-up)."""
    if name in _TREE_NAMES:
        from goasm import parse_tree

        return getattr(parse_tree, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _include_dirs(include_dirs):
    return tuple(Path(d) for d in include_dirs)


def parse_source(text: str, filename: str = "<input>", *, include_dirs=(), defines=None,
                 limits: Limits | None = None) -> ir.Program:
    """Preprocess and parse ``text`` as if read from ``filename``."""
    lines = preprocess(text, filename, include_dirs=_include_dirs(include_dirs), defines=defines,
                       limits=limits or Limits(), builtin_include_dirs=(runtime_include_dir(),))
    return parse_lines(lines, filename, limits=limits)


def parse_file(path, *, include_dirs=(), defines=None, limits: Limits | None = None) -> ir.Program:
    """Preprocess and parse the file at ``path`` (``#include`` resolved from its folder first).

    The result is cached on disk by content (:mod:`goasm.cache`; ``GOASM_NO_CACHE=1``
    turns that off): loading an unchanged file again costs no preprocessing or parsing.
    """
    from goasm import cache

    path = os.fspath(path)
    dirs = _include_dirs(include_dirs)
    builtin = (runtime_include_dir(),)
    limits = limits or Limits()
    store = cache.IRCache.default()
    key = data = None
    if store is not None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            store = None            # preprocess_file reports the error
        else:
            key = store.key(path, data, dirs, builtin, defines, limits)
            hit = store.get(key)
            if hit is not None:
                return hit
    with cache.no_gc():     # lines, tree and IR are acyclic: collections only cost time
        lines = preprocess_file(path, include_dirs=dirs, defines=defines, limits=limits,
                                builtin_include_dirs=builtin)
        program = parse_lines(lines, path, limits=limits)
        if store is not None:
            store.put(key, path, data, dirs, builtin, program)
    return program

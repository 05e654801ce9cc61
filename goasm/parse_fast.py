"""A fast path in front of the Lark parser, for the usual shapes of Plan 9 lines.

Almost every line of Go assembly is ``[label:] OP [operand, ...]`` (or TEXT, DATA,
GLOBL) with registers, ``$expr``, ``expr(R)(I*s)``, ``sym+expr(SB)``,
``name+expr(FP)``, ``$"string"`` operands, statements separated by newlines or ``;``.
For those lines this module does the lexing and the LALR parsing of
``grammar/plan9_amd64.lark`` by hand -- a regular-expression tokenizer producing the
``lark.Token`` objects Lark's lexer would (type, value, line, column) and a recursive
descent recognizer (iterative inside expressions) building the children lists the grammar's rules would (anonymous
tokens filtered, expressions as the flat token lists ``expr``/``term``/``factor``
transform to) -- and hands them to the *same* transformer methods
(:class:`goasm.parse_tree._ToIR`) that give every node its meaning. So operand rules,
positions and error messages are still defined once, in :mod:`goasm.parse`.

Anything else (``*`` operands, suffixes, register lists, floats, ``AX:DX`` pairs,
anything the tokenizer does not know, or a shape the recognizer does not accept) goes
to Lark, all such lines of a file in one parse, and the statements are put back in
line order. On any error, in either path, the whole file is parsed again by Lark
alone, so errors (and which one is reported first) are exactly Lark's. Equality with
Lark alone -- IR, every position, errors -- is tested on random token soups, on the
repository's sources and on the whole Go corpus (tests/test_cache.py).
"""

from __future__ import annotations

import re

import lark

from goasm.parse_tree import _ToIR

_NAME = r"(?:[^\W\d]|[\u00b7\u2215])(?:\w|[\u00b7\u2215])*"
# INT as in the grammar, and not followed by what would make Lark's lexer read a FLOAT
# (a "." or an exponent: the grammar's lookahead already excludes word characters).
_INT = r"(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*)(?![\w\u00b7\u2215.])"
_CHAR = r"'(?:[^'\\\n]|\\(?:[abfnrtv\\'\"]|[0-7]{3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}))'"
_STRING = r'"(?:[^"\\\n]|\\.)*"'
_TOKEN = re.compile(rf"([ \t\r\f\v]*)(?:({_NAME}|{_INT}|{_CHAR}|{_STRING}"
                    r"|<<|>>|[$,()+\-*:<>|^&/%~;])|(.))")
_PUNCT = {"$": "DOLLAR", ",": "COMMA", "(": "LPAR", ")": "RPAR", "+": "PLUS", "-": "MINUS",
          "*": "STAR", ":": "COLON", "<": "LT", ">": "GT", "|": "PIPE", "^": "CARET",
          "&": "AMP", "/": "SLASH", "%": "PERCENT", "~": "TILDE", "<<": "LSH", ">>": "RSH",
          ";": "SEMI"}
_KEYWORDS = frozenset({"TEXT", "DATA", "GLOBL"})
_ADD_OPS = frozenset({"PLUS", "MINUS", "PIPE", "CARET"})             # rule expr
_MUL_OPS = frozenset({"STAR", "SLASH", "PERCENT", "AMP", "LSH", "RSH"})   # rule term
_UNARY = frozenset({"PLUS", "MINUS", "TILDE"})                        # rule factor
_EXPR_START = frozenset({"INT", "CHAR", "PLUS", "MINUS", "TILDE", "LPAR"})
_END = "END"


class _Fallback(Exception):
    """The line is not one of the shapes handled here."""


def _tokens(text: str, line: int):
    """``(kinds, tokens)`` of one line, padded with ``END`` kinds; raises
    :class:`_Fallback` on characters outside the handled shapes. Tokens are made as
    Lark's lexer makes them (``Token._future_new``: type, value, positions). The kind
    follows from the first character, as the token alternatives cannot overlap there
    (names start with a letter, ``_``, ``·`` or ``∕``; integers with a digit; a
    character or string literal only matches whole)."""
    kinds: list = []
    toks: list = []
    new = lark.Token._future_new
    punct = _PUNCT
    pos = 0
    for ws, value, bad in _TOKEN.findall(text):
        if bad:
            raise _Fallback
        start = pos + len(ws)
        pos = start + len(value)
        if not value:
            break                            # trailing whitespace
        c = value[0]
        kind = punct.get(value)
        if kind is None:
            if c.isdigit():
                kind = "INT"
            elif c == "'":
                kind = "CHAR"
            elif c == '"':
                kind = "STRING"
            else:
                kind = "NAME"
                if value in _KEYWORDS and kinds and kinds[-1] != "SEMI":
                    raise _Fallback          # a keyword inside a statement
        kinds.append(kind)
        toks.append(new(kind, value, start, line, start + 1, line, pos + 1, pos))
    kinds.extend((_END,) * 6)                # lookahead past the end reads END
    toks.extend((None,) * 6)
    return kinds, toks


# --------------------------------------------------------------------------- expressions

def _expr_into(kinds, toks, i, out):
    """Append the tokens of the expression at ``i`` to ``out`` and return the index after
    it: ``factor {op factor}`` where ``factor`` is ``{+ - ~} (INT | CHAR | ( expr ))``
    (the grammar's expr/term/factor; precedence does not matter for the token list).
    Iterative: parentheses nest to any depth."""
    depth = 0
    while True:
        k = kinds[i]
        while k in _UNARY:
            out.append(toks[i])
            i += 1
            k = kinds[i]
        if k == "LPAR":                      # LPAR/RPAR are named terminals here: kept
            out.append(toks[i])
            i += 1
            depth += 1
            continue
        if k != "INT" and k != "CHAR":
            raise _Fallback
        out.append(toks[i])
        i += 1
        k = kinds[i]
        while k == "RPAR" and depth:
            out.append(toks[i])
            i += 1
            depth -= 1
            k = kinds[i]
        if k in _MUL_OPS or k in _ADD_OPS:
            out.append(toks[i])
            i += 1
        elif depth:
            raise _Fallback                  # "(" without its ")"
        else:
            return i


def _expr(kinds, toks, i):
    """An expression: a single INT/CHAR token, or the flat token list the ``expr``,
    ``term`` and ``factor`` rules transform to (goasm.parse_tree._ToIR._tokens)."""
    out: list = []
    i = _expr_into(kinds, toks, i, out)
    return (out[0] if len(out) == 1 else out), i


def _first(value):
    """The first token of an expression value."""
    return value[0] if type(value) is list else value


# --------------------------------------------------------------------------- operands

def _groups(t, kinds, toks, i, most):
    """Up to ``most`` of ``( NAME [* INT] )`` (these parentheses are anonymous)."""
    out = []
    while kinds[i] == "LPAR" and len(out) < most:
        if kinds[i + 1] != "NAME":
            raise _Fallback
        if kinds[i + 2] == "RPAR":
            out.append(t.group([toks[i + 1]]))
            i += 3
        elif kinds[i + 2] == "STAR" and kinds[i + 3] == "INT" and kinds[i + 4] == "RPAR":
            out.append(t.group([toks[i + 1], toks[i + 2], toks[i + 3]]))
            i += 5
        else:
            raise _Fallback
    return out, i


def _named(t, kinds, toks, i):
    """``NAME [<>|<ABI>] [(+|-) expr] [group [group [group]]]`` (rule ``named``)."""
    children = [toks[i]]
    i += 1
    if kinds[i] == "LT":
        if kinds[i + 1] == "GT":
            children.append(t.symattr([toks[i], toks[i + 1]]))
            i += 2
        elif kinds[i + 1] == "NAME" and kinds[i + 2] == "GT":
            children.append(t.symattr([toks[i], toks[i + 1], toks[i + 2]]))
            i += 3
        else:
            raise _Fallback
    k = kinds[i]
    if k == "PLUS" or k == "MINUS":
        sign = toks[i]
        value, i = _expr(kinds, toks, i + 1)
        children.append(t.symoff([sign, value]))
    if kinds[i] == "LPAR":
        groups, i = _groups(t, kinds, toks, i, 3)
        children.extend(groups)
    return t.named(children), i


# The rules the transformer positions (goasm.parse_tree._positioned) take the position of
# their first token; here it is known without searching the children for it.
_PLAIN_NAMED = _ToIR.plain_named.__wrapped__
_DOLLAR_NAMED = _ToIR.dollar_named.__wrapped__
_IMM = _ToIR.imm.__wrapped__
_SIMM = _ToIR.simm.__wrapped__
_ABSOLUTE = _ToIR.absolute.__wrapped__
_MEM = _ToIR.mem.__wrapped__
_DOLLAR_MEM = _ToIR.dollar_mem.__wrapped__
_LABEL = _ToIR.label.__wrapped__
_INSTR = _ToIR.instr.__wrapped__


def _operand(t, kinds, toks, i):
    k = kinds[i]
    if k == "NAME":
        first = toks[i]
        named, i = _named(t, kinds, toks, i)
        return _PLAIN_NAMED(t, t.tok_pos(first), [named]), i
    if k == "DOLLAR":
        i += 1                               # "$" is anonymous
        k = kinds[i]
        if k == "NAME":
            first = toks[i]
            named, i = _named(t, kinds, toks, i)
            return _DOLLAR_NAMED(t, t.tok_pos(first), [named]), i
        if k == "STRING":
            return _SIMM(t, t.tok_pos(toks[i]), [toks[i]]), i + 1
        if k == "LPAR" and kinds[i + 1] == "NAME":
            children = []
            first = toks[i + 1]              # the group's register name
        elif k in _EXPR_START:
            value, i = _expr(kinds, toks, i)
            first = _first(value)
            if kinds[i] != "LPAR":
                return _IMM(t, t.tok_pos(first), [value]), i
            children = [value]
        else:
            raise _Fallback
        groups, i = _groups(t, kinds, toks, i, 2)
        children.extend(groups)
        return _DOLLAR_MEM(t, t.tok_pos(first), children), i
    if k == "LPAR" and kinds[i + 1] == "NAME":
        children = []
        first = toks[i + 1]
    elif k in _EXPR_START:
        value, i = _expr(kinds, toks, i)
        first = _first(value)
        if kinds[i] != "LPAR":
            return _ABSOLUTE(t, t.tok_pos(first), [value]), i
        children = [value]
    else:
        raise _Fallback
    groups, i = _groups(t, kinds, toks, i, 2)
    children.extend(groups)
    return _MEM(t, t.tok_pos(first), children), i


# --------------------------------------------------------------------------- statements

def _text(t, kinds, toks, i):
    """``TEXT operand , [tflags ,] $ [-] INT [- INT]``."""
    op, i = _operand(t, kinds, toks, i)
    children = [op]
    if kinds[i] != "COMMA":
        raise _Fallback
    i += 1
    if kinds[i] != "DOLLAR":
        if kinds[i] == "NAME":
            flags, i = toks[i], i + 1
        else:
            flags, i = _expr(kinds, toks, i)
        children.append(t.tflags([flags]))
        if kinds[i] != "COMMA":
            raise _Fallback
        i += 1
    if kinds[i] != "DOLLAR":
        raise _Fallback
    i += 1
    frame = []
    if kinds[i] == "MINUS":
        frame.append(toks[i])
        i += 1
    if kinds[i] != "INT":
        raise _Fallback
    frame.append(toks[i])
    i += 1
    if kinds[i] == "MINUS" and kinds[i + 1] == "INT":
        frame += (toks[i], toks[i + 1])
        i += 2
    children.append(t.frame(frame))
    return t.text(children), i


def _data(t, kinds, toks, i):
    """``DATA named / INT , operand``."""
    if kinds[i] != "NAME":
        raise _Fallback
    named, i = _named(t, kinds, toks, i)
    if kinds[i] != "SLASH" or kinds[i + 1] != "INT" or kinds[i + 2] != "COMMA":
        raise _Fallback
    width = toks[i + 1]
    op, i = _operand(t, kinds, toks, i + 3)
    return t.data([named, width, op]), i


def _globl(t, kinds, toks, i):
    """``GLOBL operand {, operand}``."""
    op, i = _operand(t, kinds, toks, i)
    children = [op]
    while kinds[i] == "COMMA":
        op, i = _operand(t, kinds, toks, i + 1)
        children.append(op)
    return t.globl(children), i


def _statements(t, text: str, line: int) -> list:
    """``{label* [core] ;}`` of one line, through the transformer ``t``."""
    kinds, toks = _tokens(text, line)
    out = []
    i = 0
    while True:
        while kinds[i] == "NAME" and kinds[i + 1] == "COLON":
            if toks[i] in _KEYWORDS:
                raise _Fallback              # Lark's lexer reads the keyword here
            out.append(_LABEL(t, t.tok_pos(toks[i]), [toks[i]]))   # ":" is anonymous
            i += 2
        k = kinds[i]
        if k == "SEMI":
            i += 1
            continue
        if k == _END:
            return out
        if k != "NAME":
            raise _Fallback
        word = toks[i]
        if word in _KEYWORDS:
            rule = _text if word == "TEXT" else _data if word == "DATA" else _globl
            st, i = rule(t, kinds, toks, i + 1)
            out.append(st)
        else:
            children = [word]
            i += 1
            if kinds[i] != _END and kinds[i] != "SEMI":
                op, i = _operand(t, kinds, toks, i)
                children.append(op)
                while kinds[i] == "COMMA":
                    children.append(toks[i])         # opsep returns its COMMA token
                    op, i = _operand(t, kinds, toks, i + 1)
                    children.append(op)
            out.append(_INSTR(t, t.tok_pos(word), children))
        k = kinds[i]
        if k == "SEMI":
            i += 1
        elif k != _END:
            raise _Fallback


def split(lines, transformer) -> tuple[list, list[int]]:
    """Parse what this module can: ``(per-line statement lists or None, indices of the
    lines left to Lark)``. Raises whatever the transformer raises (the caller then
    parses the whole file with Lark).

    A line whose text, column and expansion flag equal an earlier line's (a third of
    the Go corpus: ``RET``, ``ADCQ $0, DX`` ...) is not parsed again: the earlier IR is
    rebuilt with this line's file and line number (:meth:`goasm.cache.Codec.relocate`),
    which is what parsing it would give, as a position is all that differs."""
    from goasm.cache import Unencodable, codec

    c = codec()
    encode, relocate = c.encode, c.relocate
    out: list = [None] * len(lines)
    rest: list[int] = []
    seen: dict = {}
    for i, line in enumerate(lines):
        text = line.text
        key = (text, line.col, bool(line.expanded))
        template = seen.get(key)
        if template is not None:
            if type(template) is not list:        # encoded on its second use only
                try:
                    template = seen[key] = encode(template)
                except Unencodable:
                    template = None
            if template is not None:
                out[i] = list(relocate(template, line.file, line.line))
                continue
        try:
            sts = out[i] = _statements(transformer, text, i + 1)
        except _Fallback:
            rest.append(i)
            continue
        if sts:
            seen[key] = tuple(sts)
    return out, rest

"""The Go assembler's preprocessor, re-implemented.

Source of truth: ``cmd/asm/internal/lex`` (``input.go``, ``tokenizer.go``, ``lex.go``,
``slice.go``, ``stack.go``) in the Go distribution, and "A Quick Guide to Go's Assembler"
(https://go.dev/doc/asm).  cmd/asm runs a token stream through a C-like preprocessor;
this module produces the same token sequence but hands it on as *lines of text*
(:class:`Line`), each tagged with the file and line it came from, so that the grammar
downstream can keep exact columns for ordinary lines.

What cmd/asm does, and therefore what this module does:

* Tokens come from Go's ``text/scanner`` (whitespace is space, tab and CR; ``//`` and
  ``/* */`` comments; ``"..."`` strings and ``'x'`` char literals; no raw back-quoted
  strings).  Identifiers are letters, digits (not first), ``_``, ``·`` (U+00B7) and
  ``∕`` (U+2215).  A comment is whitespace; a ``/* */`` comment that spans lines does
  not end the statement (the text after it continues the line before it).
* Directives start with ``#`` as the first token of a line (``# define`` is fine):
  ``#include "file"`` (quoted only, no ``<file>``), ``#define``, ``#undef``,
  ``#ifdef``, ``#ifndef``, ``#else``, ``#endif`` and ``#line N "file"``.  Anything
  else (``#if``, ``#error``, ...) is an error.  Every directive must be followed by a
  newline, so a file ending in ``#endif`` with no final newline is an error, as is a
  ``#define`` with a body on the last line without a newline.
* ``#define NAME(a, b) body`` is function-like only when ``(`` touches the name.  A
  ``\\`` at the end of a line continues a ``#define`` body (only there; elsewhere it is
  an ordinary, invalid, token); the body keeps those newlines, so a multi-line macro
  expands to several lines (statements), exactly like cmd/asm's ``Slice`` of tokens.
  Inside a body ``\\`` may only escape a newline or another ``\\``.
* Redefining a macro, even identically, is an error; so is ``#undef`` of an unknown
  name.  ``#ifdef`` state is one stack across includes; an unclosed ``#ifdef`` at the
  end of input is an error.  In a skipped region only ``#else``, ``#endif``,
  ``#ifdef``, ``#ifndef`` and ``#line`` are interpreted (``#line`` takes effect even
  there); other directive lines are ignored, but macros on skipped lines are still
  invoked (so a bad invocation is an error even there).
* Macro arguments are collected raw (not pre-expanded), split at top-level commas,
  must not cross a newline, and their count must match.  An empty argument leaves the
  formal's name in the body (input.go substitutes only non-nil token lists).  The substituted body is
  re-scanned, and an identifier from it may take its arguments from the text that
  follows the invocation.  There is no "painted blue" rule: a macro whose expansion
  invokes itself again recurses until a limit stops it (cmd/asm: "recursive macro
  invocation" / "input recursion"); here that is an :class:`InputLimitError` naming the
  macros.  A function-like macro named without ``(`` is left as it is.
* ``-D NAME`` defines NAME as ``1``; ``-D NAME=VALUE`` as VALUE (``predefine`` in
  input.go).  ``go build`` passes ``-D GOOS_<os> -D GOARCH_<arch> -D GOAMD64_<level>``
  (cmd/go/internal/work/gc.go), hence :data:`DEFAULT_DEFINES`.
* ``#line N "file"`` re-bases positions.  cmd/asm computes the new base one line too
  late, so the line right after ``#line 100 "f.s"`` is recorded as ``f.s:99`` (seen in
  ``go tool asm -S``); this module reproduces that numbering.

Where this module deliberately differs, it is stricter or less surprising: includes are
not looked up relative to the process's current directory (cmd/asm tries that first)
but in the including file's folder, then the main file's folder (cmd/asm's rule), then
``include_dirs`` and ``builtin_include_dirs``; include cycles are reported as such;
an unterminated literal or ``/*`` comment is an error (cmd/asm only prints a warning and
usually fails later); ``·`` in macro bodies is kept as is (cmd/asm rewrites it to ``.``
inside macro tokens, which the parser treats alike).
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterable, Iterator, Mapping

import attrs

from goasm.errors import InputLimitError, Pos, PreprocessError

__all__ = [
    "DEFAULT_DEFINES",
    "Limits",
    "Line",
    "preprocess",
    "preprocess_file",
]


@attrs.frozen
class Line:
    """One logical source line after preprocessing.

    ``text`` has comments removed (single-line ``/* */`` comments become spaces, so columns
    stay exact), ``\\``-continuations of ``#define`` bodies resolved and macros expanded.
    ``file``/``line`` say where it came from (after ``#line`` re-basing); ``col`` is the
    column of ``text[0]`` (always 1 here: leading whitespace is kept).  When ``expanded``
    is non-empty the line came (partly) from those macros and columns inside ``text`` are
    only approximate.  ``source`` is the original physical line, for error carets.
    """

    text: str
    file: str
    line: int
    col: int = 1
    expanded: tuple[str, ...] = ()
    source: str = ""


@attrs.frozen
class Limits:
    """Resource limits of the front end: exceeding one of :func:`preprocess`'s raises
    :class:`InputLimitError`, ``max_expression_depth`` (the parser's) a ParseError."""

    max_include_depth: int = 64
    max_expansions: int = 100_000
    max_expansion_depth: int = 200
    max_line_length: int = 1_000_000
    #: Parentheses and unary operators nested around an operand (goasm.parse.too_deep):
    #: ten times the 1,000 Go's own sources could ever need; cmd/asm has no limit.
    max_expression_depth: int = 10_000


#: What ``go build`` passes to ``go tool asm`` for linux/amd64 (``-D GOOS_linux -D
#: GOARCH_amd64 -D GOAMD64_v1``); a ``-D NAME`` without value is defined as ``1``.
DEFAULT_DEFINES: Mapping[str, str] = types.MappingProxyType(
    {"GOOS_linux": "1", "GOARCH_amd64": "1", "GOAMD64_v1": "1"}
)

# Families of DEFAULT_DEFINES: a user define in the same family replaces the default
# (``defines={"GOAMD64_v3": None}`` means GOAMD64=v3, as go build would pass it).
_DEFAULT_FAMILIES = ("GOOS_", "GOARCH_", "GOAMD64_")

# ---------------------------------------------------------------------------------
# Lexical patterns (text/scanner as configured in cmd/asm/internal/lex/tokenizer.go).

_IDENT = r"(?:[^\W\d]|[\u00b7\u2215])[\w\u00b7\u2215]*"
_NUMBER = (
    r"(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?"
    r"|0[oObB][0-9_]*(?:\.[0-9_]*)?"
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?"
    r"|\.[0-9][0-9_]*)"
    r"(?:[eEpP][+-]?[0-9_]*)?"
)
_STRING = r'"(?:[^"\\]|\\.)*"?'
_CHAR = r"'(?:[^'\\]|\\.)*'?"

_IDENT_RE = re.compile(_IDENT)
# Comment/literal scanner for one physical line.
_SCAN_RE = re.compile(r'"(?:[^"\\]|\\.)*(")?|\'(?:[^\'\\]|\\.)*(\')?|/[/*]')
# Tokenizer for one comment-free logical line.  Kinds: i ident, n number, s string,
# c char, o operator/punctuation; L (newline) and M (macro name not to expand) are made
# elsewhere.  LSH/RSH/ARR/ROT are single tokens as in tokenizer.go.
_TOKEN_RE = re.compile(
    rf"[ \t\r]*(?:(?P<i>{_IDENT})|(?P<n>{_NUMBER})|(?P<s>{_STRING})|(?P<c>{_CHAR})"
    r"|(?P<o><<|>>|->|@>|[^ \t\r]))"
)
_DIGITS_RE = re.compile(r"[0-9]+")
_ESCAPE_RE = re.compile(
    r"\\(?:([abfnrtv\\\"])|([0-7]{3})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.?))",
    re.S,
)
_SIMPLE_ESCAPES = types.MappingProxyType({
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
    '"': '"'})

_WS = " \t\r"
_NL = ("L", "\n", "", 0)
_WORDISH = "_.\u00b7\u2215"
_GLUE_PAIRS = frozenset({"<<", ">>", "->", "@>", "//", "/*"})
_SKIPPED_OK = frozenset({"else", "endif", "ifdef", "ifndef", "line"})

# A token is a tuple (kind, text, ws, col): ws is the whitespace that preceded it (used
# to rebuild the text), col its 1-based column on the line being processed (0 when it
# comes from a macro body).


def _tokenize(text: str, newline: bool) -> list[tuple[str, str, str, int]]:
    """Tokens of one comment-free logical line, plus a newline token if it had one."""
    toks = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        start = m.start(kind)
        toks.append((kind, m.group(kind), text[m.start():start], start + 1))
    if newline:
        toks.append(_NL)
    return toks


def _quote(tok) -> str:
    """Go-style quoting of a token's text for messages (``strconv.Quote``-like)."""
    if tok is None:
        return "EOF"
    text = tok[1]
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _go_unquote(lit: str) -> str:
    """``strconv.Unquote`` for a double-quoted Go string literal."""
    if len(lit) < 2 or lit[0] != '"' or lit[-1] != '"':
        raise ValueError("invalid syntax")
    body = lit[1:-1]
    out = bytearray()
    pos = 0
    for m in _ESCAPE_RE.finditer(body):
        out += body[pos:m.start()].encode("utf-8", "surrogatepass")
        pos = m.end()
        simple, octal, hex2, u4, u8, bad = m.groups()
        if simple is not None:
            out += _SIMPLE_ESCAPES[simple].encode()
        elif octal is not None:
            value = int(octal, 8)
            if value > 255:
                raise ValueError("invalid syntax")
            out.append(value)
        elif hex2 is not None:
            out.append(int(hex2, 16))
        elif u4 is not None or u8 is not None:
            value = int(u4 or u8, 16)
            if value > 0x10FFFF or 0xD800 <= value < 0xE000:
                raise ValueError("invalid syntax")
            out += chr(value).encode()
        else:
            raise ValueError("invalid syntax")
    out += body[pos:].encode("utf-8", "surrogatepass")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-8") from None


def _needs_space(a: str, b: str) -> bool:
    """Whether characters a then b, written with no space, would fuse two tokens."""
    if (a.isalnum() or a in _WORDISH) and (b.isalnum() or b in _WORDISH):
        return True
    return a + b in _GLUE_PAIRS


def _continues(toks) -> bool:
    """Whether a ``#define`` line ends in an (unescaped) backslash before its newline."""
    if not toks or toks[-1][0] != "L":
        return False
    n = 0
    i = len(toks) - 2
    while i >= 0 and toks[i][1] == "\\" and toks[i][0] == "o":
        n += 1
        i -= 1
    return n % 2 == 1


def _own_dir(name: str) -> str | None:
    """The folder of a file name, or None for pseudo names such as ``<input>``."""
    if name.startswith("<") and name.endswith(">"):
        return None
    return os.path.dirname(name)


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text[1:] if text.startswith("\ufeff") else text


class _Macro:
    __slots__ = ("name", "params", "body")

    def __init__(self, name: str, params: tuple[str, ...] | None, body: tuple):
        self.name = name
        self.params = params  # None: object-like; () or more: function-like
        self.body = body


class _FileCtx:
    __slots__ = ("name", "dir", "phys", "disp", "delta", "key")

    def __init__(self, name: str, directory: str | None, phys: list[str], key: str | None):
        self.name = name
        self.dir = directory
        self.phys = phys
        self.disp = name  # display name (changed by #line)
        self.delta = 0  # reported line = physical line + delta (changed by #line)
        self.key = key


class _Stream:
    """A stack of token readers, like cmd/asm's ``Stack`` of ``Tokenizer``/``Slice``.

    A finished reader is popped only when read past its end (as in stack.go), so a macro
    whose last token re-invokes it keeps growing the stack: that is how runaway recursion
    is caught.
    """

    __slots__ = ("stack", "col")

    def __init__(self, toks):
        self.stack = [[toks, 0, None]]
        self.col = 1

    def next(self):
        stack = self.stack
        while True:
            top = stack[-1]
            i = top[1]
            toks = top[0]
            if i < len(toks):
                top[1] = i + 1
                tok = toks[i]
                if tok[3]:
                    self.col = tok[3]
                return tok
            if len(stack) == 1:
                return None
            stack.pop()


class _Preprocessor:
    def __init__(self, macros: dict[str, _Macro], limits: Limits, include_dirs, builtin_dirs,
                 main_dir: str | None):
        self.macros = macros
        self.limits = limits
        self.include_dirs = [os.fspath(d) for d in include_dirs]
        self.builtin_dirs = [os.fspath(d) for d in builtin_dirs]
        self.main_dir = main_dir
        self.out: list[Line] = []
        self.ifdefs: list[tuple[bool, Pos, str]] = []
        self.expansions = 0
        self.chain: list[_FileCtx] = []
        self.ctx: _FileCtx | None = None
        self.ln = 0  # physical line (in self.ctx) of the logical line being processed
        self.end = 0  # physical line where that logical line ends
        self.dcol = 1  # column of the '#' of the directive being processed

    # -- errors --------------------------------------------------------------------

    def _pos(self, col: int = 0, line: int | None = None) -> Pos:
        ctx = self.ctx
        ln = self.ln if line is None else line
        return Pos(ctx.disp, ln + ctx.delta, col)

    def _source(self, line: int | None = None) -> str | None:
        ln = self.ln if line is None else line
        phys = self.ctx.phys
        if 1 <= ln <= len(phys):
            return phys[ln - 1].rstrip("\r")
        return None

    def _error(self, msg: str, col: int = 0, cls=PreprocessError, line: int | None = None):
        raise cls(msg, self._pos(col, line), self._source(line))

    # -- files ---------------------------------------------------------------------

    def run_file(self, text: str, name: str, key: str | None) -> None:
        """Preprocess one file's text, appending to ``self.out``."""
        phys = text.split("\n")
        final_nl = True
        if phys[-1] == "":
            phys.pop()
        else:
            final_nl = False
        ctx = _FileCtx(name, _own_dir(name), phys, key)
        saved = (self.ctx, self.ln, self.end)
        self.ctx = ctx
        self.chain.append(ctx)
        try:
            self._process(ctx, final_nl)
        finally:
            self.chain.pop()
            self.ctx, self.ln, self.end = saved

    def _logical_lines(self, ctx: _FileCtx, final_nl: bool) -> Iterator[tuple[str, int, int, bool]]:
        """Comment-free logical lines: (text, first line, last line, ends in newline).

        ``//`` comments are cut, one-line ``/* */`` comments become spaces of the same
        width, and a ``/* */`` comment spanning lines joins the text around it into one
        line (text/scanner does not produce the newlines inside a comment).
        """
        phys = ctx.phys
        n = len(phys)
        scan = _SCAN_RE.search
        in_block = False
        block_at = (0, 0)
        pieces: list[str] = []
        start = 0
        for idx, line in enumerate(phys):
            ln = idx + 1
            if in_block:
                end = line.find("*/")
                if end < 0:
                    continue
                in_block = False
                pos = end + 2
                if "".join(pieces).strip(_WS) == "":
                    pieces = [" " * pos]
                    start = ln
                else:
                    pieces.append(" ")
            else:
                if "/" not in line and '"' not in line and "'" not in line:
                    yield line, ln, ln, ln < n or final_nl
                    continue
                pieces = []
                start = ln
                pos = 0
            while True:
                m = scan(line, pos)
                if m is None:
                    pieces.append(line[pos:])
                    break
                s = m.start()
                g = m.group()
                if g == "//":
                    pieces.append(line[pos:s])
                    break
                if g == "/*":
                    pieces.append(line[pos:s])
                    end = line.find("*/", s + 2)
                    if end < 0:
                        in_block = True
                        block_at = (ln, s + 1)
                        break
                    pieces.append(" " * (end + 2 - s))
                    pos = end + 2
                    continue
                if m.group(1) is None and m.group(2) is None:
                    self.ln = ln
                    self._error("literal not terminated", s + 1)
                pieces.append(line[pos:m.end()])
                pos = m.end()
            if in_block:
                continue
            yield "".join(pieces), start, ln, ln < n or final_nl
        if in_block:
            self.ln = block_at[0]
            self._error("comment not terminated", block_at[1])

    def _process(self, ctx: _FileCtx, final_nl: bool) -> None:
        macros = self.macros
        out = self.out
        findall = _IDENT_RE.findall
        lines = self._logical_lines(ctx, final_nl)
        for text, ln, end, nl in lines:
            self.ln = ln
            self.end = end
            stripped = text.lstrip(_WS)
            if not stripped:
                continue
            ifdefs = self.ifdefs
            enabled = ifdefs[-1][0] if ifdefs else True
            if stripped[0] == "#":
                toks = _tokenize(text, nl)
                if (enabled and len(toks) > 1 and toks[1][0] == "i"
                        and toks[1][1] == "define"):
                    while _continues(toks):
                        more = next(lines, None)
                        if more is None:
                            break
                        toks.extend(_tokenize(more[0], more[3]))
                        self.end = more[2]
                self._run(toks)
                continue
            if not macros.keys().isdisjoint(findall(text)) or (enabled and "#" in text):
                self._run(_tokenize(text, nl))
            elif enabled:
                out.append(Line(text.rstrip(_WS), ctx.disp, ln + ctx.delta, 1, (),
                                ctx.phys[ln - 1].rstrip("\r")))

    def finish(self) -> None:
        if self.ifdefs:
            _, pos, source = self.ifdefs[-1]
            raise PreprocessError("unclosed #ifdef or #ifndef", pos, source)

    # -- the token engine (Input.Next in input.go) ----------------------------------

    def _run(self, toks) -> None:
        """Run one logical line's tokens through directives and macro expansion."""
        st = _Stream(toks)
        macros = self.macros
        max_len = self.limits.max_line_length
        bol = True
        parts: list[str] = []
        last = ""
        length = 0
        names: list[str] = []
        while True:
            tok = st.next()
            if tok is None:
                break
            kind = tok[0]
            if kind == "o" and tok[1] == "#":
                if not bol:
                    self._error("'#' must be first item on line", st.col)
                self.dcol = st.col
                bol = self._hash(st)
                continue
            if kind == "i":
                macro = macros.get(tok[1])
                if macro is not None:
                    names.append(macro.name)
                    self._invoke(st, macro, tok)
                    continue
            bol = kind == "L"
            if self.ifdefs and not self.ifdefs[-1][0]:
                continue
            if bol:
                self._flush(parts, names)
                parts = []
                last = ""
                length = 0
                continue
            ws = tok[2]
            text = tok[1]
            if not ws and last and _needs_space(last, text[0]):
                ws = " "
            parts.append(ws)
            parts.append(text)
            last = text[-1]
            length += len(ws) + len(text)
            if length > max_len:
                self._error(f"expanded line longer than {max_len} characters"
                            f" (expanding {names[-1] if names else '?'})",
                            st.col, InputLimitError)
        self._flush(parts, names)

    def _flush(self, parts: list[str], names: list[str]) -> None:
        if not parts:
            return
        text = "".join(parts).rstrip(_WS)
        if not text.lstrip(_WS):
            return
        ctx = self.ctx
        self.out.append(Line(text, ctx.disp, self.ln + ctx.delta, 1,
                             tuple(dict.fromkeys(names)), self._source() or ""))

    def _push(self, st: _Stream, toks, name: str) -> None:
        stack = st.stack
        limit = self.limits.max_expansion_depth
        if len(stack) > limit:
            chain = [r[2] for r in stack if r[2] is not None] + [name]
            seen: dict[str, int] = {}
            for i, n in enumerate(chain):
                if n in seen:
                    cycle = " -> ".join(chain[seen[n]:i + 1])
                    self._error(f"recursive macro invocation: {cycle}"
                                f" (expansion nested more than {limit} deep)",
                                st.col, InputLimitError)
                seen[n] = i
            self._error(f"macro expansion nested more than {limit} deep: "
                        f"{chain[0]} -> ... -> {chain[-1]}", st.col, InputLimitError)
        stack.append([toks, 0, name])

    def _invoke(self, st: _Stream, macro: _Macro, name_tok) -> None:
        """invokeMacro/argsFor/collectArgument in input.go."""
        self.expansions += 1
        if self.expansions > self.limits.max_expansions:
            self._error(f"too many macro expansions (more than {self.limits.max_expansions})"
                        f" while expanding {macro.name}", st.col, InputLimitError)
        name_col = name_tok[3] or st.col
        if macro.params is None:
            body = macro.body
            if body:
                first = body[0]
                body = [(first[0], first[1], name_tok[2], 0), *body[1:]]
            self._push(st, body, macro.name)
            return
        tok = st.next()
        if tok is None or tok[0] != "o" or tok[1] != "(":
            # Invoked without arguments: the name stands for itself (input.go).
            back = [("M", macro.name, name_tok[2], name_tok[3])]
            if tok is not None:
                back.append(tok)
            st.stack.append([back, 0, None])
            return
        args: list[list] = []
        cur: list = []
        depth = 0
        while True:
            tok = st.next()
            if tok is None or tok[0] == "L":
                self._error(f"unterminated arg list invoking macro: {macro.name}", name_col)
            if tok[0] == "o":
                t = tok[1]
                if depth == 0 and (t == ")" or t == ","):
                    args.append(cur)
                    cur = []
                    if t == ")":
                        break
                    continue
                if t == "(":
                    depth += 1
                elif t == ")":
                    depth -= 1
            cur.append(tok)
        params = macro.params
        if not params and len(args) == 1 and not args[0]:
            args = []
        elif len(args) != len(params):
            self._error(f"wrong arg count for macro {macro.name}"
                        f" (want {len(params)}, got {len(args)})", name_col)
        actuals = dict(zip(params, args))
        body = []
        for bt in macro.body:
            if bt[0] == "i":
                # An empty actual is a nil slice in input.go, and a nil substitution
                # leaves the formal's name in place: F(,) gives the body unchanged.
                actual = actuals.get(bt[1])
                if actual:
                    a0 = actual[0]
                    body.append((a0[0], a0[1], bt[2], a0[3]))
                    body.extend(actual[1:])
                    continue
            body.append(bt)
        if body:
            first = body[0]
            body[0] = (first[0], first[1], name_tok[2], first[3])
        self._push(st, body, macro.name)

    # -- directives (hash and friends in input.go) -----------------------------------

    def _hash(self, st: _Stream) -> bool:
        """Process a directive after ``#``; report whether it was interpreted."""
        tok = st.next()
        if tok is None or tok[0] != "i":
            self._error(f"expected identifier after '#'; got {_quote(tok)}", st.col)
        name = tok[1]
        if self.ifdefs and not self.ifdefs[-1][0] and name not in _SKIPPED_OK:
            return False
        handler = getattr(self, "_d_" + name, None) if name.isidentifier() else None
        if handler is None:
            self._error(f"unexpected token after '#': {name} (unknown directive #{name}; "
                        "cmd/asm knows #include #define #undef #ifdef #ifndef #else "
                        "#endif #line)", tok[3] or st.col)
        handler(st)
        return True

    def _macro_name(self, st: _Stream) -> str:
        tok = st.next()
        if tok is None or tok[0] != "i":
            self._error(f"expected identifier after # directive; got {_quote(tok)}", st.col)
        return tok[1]

    def _expect_newline(self, st: _Stream, directive: str) -> None:
        tok = st.next()
        if tok is None or tok[0] != "L":
            self._error(f"expected newline after {directive}; got {_quote(tok)}", st.col)

    def _d_define(self, st: _Stream) -> None:
        name = self._macro_name(st)
        tok = st.next()
        params = None
        body = []
        if tok is not None and tok[0] != "L":
            if tok[0] == "o" and tok[1] == "(" and not tok[2]:
                plist: list[str] = []
                accept = True
                while True:
                    tok = st.next()
                    if tok is not None and tok[0] == "o" and tok[1] == ")":
                        tok = st.next()
                        break
                    if tok is not None and tok[0] == "o" and tok[1] == ",":
                        if accept:
                            self._error(f"bad syntax in definition for macro: {name}", st.col)
                        accept = True
                    elif tok is not None and tok[0] == "i":
                        if not accept:
                            self._error(f"bad syntax in definition for macro: {name}", st.col)
                        if tok[1] in plist:
                            self._error(f"duplicate argument {tok[1]} in definition for"
                                        f" macro: {name}", st.col)
                        plist.append(tok[1])
                        accept = False
                    else:
                        self._error(f"bad definition for macro: {name}", st.col)
                params = tuple(plist)
            while tok is None or tok[0] != "L":
                if tok is None:
                    self._error(f"missing newline in definition for macro: {name}", st.col)
                if tok[0] == "o" and tok[1] == "\\":
                    tok = st.next()
                    if tok is None or not (tok[0] == "L" or (tok[0] == "o" and tok[1] == "\\")):
                        self._error("can only escape \\ or \\n in definition for macro: "
                                    f"{name}", st.col)
                body.append((tok[0], tok[1], tok[2], 0) if tok[3] else tok)
                tok = st.next()
        if name in self.macros:
            self._error(f"redefinition of macro: {name}", st.col)
        self.macros[name] = _Macro(name, params, tuple(body))

    def _d_undef(self, st: _Stream) -> None:
        name = self._macro_name(st)
        if name not in self.macros:
            self._error(f"#undef for undefined macro: {name}", st.col)
        tok = st.next()
        if tok is None or tok[0] != "L":
            self._error(f"syntax error in #undef for macro: {name}", st.col)
        del self.macros[name]

    def _ifdef(self, st: _Stream, truth: bool) -> None:
        col = self.dcol
        name = self._macro_name(st)
        self._expect_newline(st, "#if[n]def")
        if self.ifdefs and not self.ifdefs[-1][0]:
            truth = False
        elif name not in self.macros:
            truth = not truth
        self.ifdefs.append((truth, self._pos(col), self._source() or ""))

    def _d_ifdef(self, st: _Stream) -> None:
        self._ifdef(st, True)

    def _d_ifndef(self, st: _Stream) -> None:
        self._ifdef(st, False)

    def _d_else(self, st: _Stream) -> None:
        self._expect_newline(st, "#else")
        ifdefs = self.ifdefs
        if not ifdefs:
            self._error("unmatched #else", st.col)
        if len(ifdefs) == 1 or ifdefs[-2][0]:
            truth, pos, source = ifdefs[-1]
            ifdefs[-1] = (not truth, pos, source)

    def _d_endif(self, st: _Stream) -> None:
        self._expect_newline(st, "#endif")
        if not self.ifdefs:
            self._error("unmatched #endif", st.col)
        self.ifdefs.pop()

    def _d_line(self, st: _Stream) -> None:
        tok = st.next()
        if tok is None or tok[0] != "n":
            self._error(f"expected line number after #line; got {_quote(tok)}", st.col)
        if not _DIGITS_RE.fullmatch(tok[1]) or int(tok[1]) >= 1 << 63:
            self._error(f"error parsing #line: invalid number {tok[1]}", st.col)
        number = int(tok[1])
        tok = st.next()
        if tok is None or tok[0] != "s":
            self._error(f"expected file name in #line; got {_quote(tok)}", st.col)
        try:
            fname = _go_unquote(tok[1])
        except ValueError as e:
            self._error(f"unquoting #line file name: {e}", st.col)
        tok = st.next()
        if tok is None or tok[0] != "L":
            self._error(f"unexpected token at end of #line: {_quote(tok)}", st.col)
        # input.go bases the new numbering one line late: the line after the
        # directive gets number-1 (checked with go tool asm -S, Go 1.27).
        ctx = self.ctx
        ctx.disp = fname
        ctx.delta = number - (self.end + 2)

    def _d_include(self, st: _Stream) -> None:
        col = self.dcol
        tok = st.next()
        if tok is None or tok[0] != "s":
            self._error(f"expected string after #include; got {_quote(tok)}", st.col)
        try:
            name = _go_unquote(tok[1])
        except ValueError as e:
            self._error(f"unquoting include file name: {e}", st.col)
        self._expect_newline(st, "#include")
        ctx = self.ctx
        if os.path.isabs(name):
            candidates = [name]
            dirs: list[str] = []
        else:
            dirs = []
            for d in (ctx.dir, self.main_dir, *self.include_dirs, *self.builtin_dirs):
                if d is not None and d not in dirs:
                    dirs.append(d)
            candidates = [os.path.join(d, name) for d in dirs]
        data = path = None
        for path in candidates:
            try:
                with open(path, "rb") as f:
                    data = f.read()
                break
            except OSError:
                continue
        if data is None:
            where = ", ".join(d or "." for d in dirs) if dirs else "no directories"
            self._error(f"#include: cannot find {name!r} (searched: {where})", col)
        key = os.path.normcase(os.path.abspath(path))
        for i, c in enumerate(self.chain):
            if c.key == key:
                cycle = " -> ".join([x.name for x in self.chain[i:]] + [path])
                self._error(f"include cycle: {cycle}", col)
        if len(self.chain) > self.limits.max_include_depth:
            self._error(f"#include nested too deeply (more than"
                        f" {self.limits.max_include_depth} levels) including {path}",
                        col, InputLimitError)
        self.run_file(_decode(data), path, key)


def _define_tokens(value: str) -> tuple:
    """Tokens of a -D value (``Tokenize`` in lex.go: comments dropped, newlines kept)."""
    toks: list = []
    state = _Preprocessor({}, Limits(), (), (), None)
    ctx = _FileCtx("command line", None, value.split("\n"), None)
    state.ctx = ctx
    lines = list(state._logical_lines(ctx, False))
    for i, (text, _, _, nl) in enumerate(lines):
        toks.extend((k, t, ws, 0) for k, t, ws, _ in _tokenize(text, nl and i < len(lines) - 1))
    return tuple(toks)


def _initial_macros(defines, predefine: bool) -> dict[str, _Macro]:
    """Macros from DEFAULT_DEFINES and -D style definitions (``predefine`` in input.go)."""
    user: list[tuple[str, str]] = []
    if defines is not None:
        if isinstance(defines, Mapping):
            items: Iterable = defines.items()
        elif isinstance(defines, str):
            raise TypeError("defines must be a mapping or an iterable of 'NAME[=VALUE]' strings")
        else:
            items = []
            for d in defines:
                i = d.find("=")
                items.append((d[:i], d[i + 1:]) if i > 0 else (d, None))
        for name, value in items:
            user.append((name, "1" if value is None else str(value)))
    pairs: list[tuple[str, str]] = []
    if predefine:
        for name, value in DEFAULT_DEFINES.items():
            family = next(f for f in _DEFAULT_FAMILIES if name.startswith(f))
            if not any(u.startswith(family) for u, _ in user):
                pairs.append((name, value))
    pairs.extend(user)
    macros: dict[str, _Macro] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not _IDENT_RE.fullmatch(name):
            raise PreprocessError(f"parsing -D: {name!r} is not a valid identifier name",
                                  Pos("command line"))
        macros[name] = _Macro(name, None, _define_tokens(value))
    return macros


def preprocess(text: str, filename: str = "<input>", *, include_dirs=(), defines=None,
               limits: Limits = Limits(), builtin_include_dirs=(), predefine: bool = True,
               ) -> list[Line]:
    """Preprocess Go assembly source ``text`` as cmd/asm's lexer would.

    ``filename`` names the text in positions; unless it is a pseudo name like
    ``<input>``, its folder is searched first for ``#include`` files, then
    ``include_dirs`` (``-I``) in order, then ``builtin_include_dirs`` (e.g. goasm's own
    ``textflag.h``).  ``defines`` is a mapping NAME -> value (``None``: defined as ``1``,
    like ``-D NAME``) or an iterable of ``"NAME[=VALUE]"`` strings; they are added to
    :data:`DEFAULT_DEFINES` (a define of another ``GOOS_``/``GOARCH_``/``GOAMD64_`` value
    replaces that default) unless ``predefine`` is false.  Raises
    :class:`~goasm.errors.PreprocessError` (:class:`~goasm.errors.InputLimitError` for a limit).
    """
    filename = os.fspath(filename)
    main_dir = _own_dir(filename)
    state = _Preprocessor(_initial_macros(defines, predefine), limits, include_dirs,
                          builtin_include_dirs, main_dir)
    key = None if main_dir is None else os.path.normcase(os.path.abspath(filename))
    state.run_file(text[1:] if text.startswith("\ufeff") else text, filename, key)
    state.finish()
    return state.out


def preprocess_file(path, *, include_dirs=(), defines=None, limits: Limits = Limits(),
                    builtin_include_dirs=(), predefine: bool = True) -> list[Line]:
    """Read ``path`` (UTF-8) and :func:`preprocess` it under that name."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PreprocessError(f"cannot read {path}: {e.strerror or e}", Pos(path)) from e
    return preprocess(_decode(data), path, include_dirs=include_dirs, defines=defines,
                      limits=limits, builtin_include_dirs=builtin_include_dirs,
                      predefine=predefine)

"""The Lark half of goasm's parser: the LALR parser built from
``grammar/plan9_amd64.lark``, :class:`_ToIR` (parse trees into :mod:`goasm.ir`, following
``cmd/asm/internal/asm/parse.go`` and ``asm.go``), Lark's errors as
:class:`goasm.errors.ParseError`, and the mixed parse (:mod:`goasm.parse_fast` for the
usual line shapes, Lark for the rest). :mod:`goasm.parse` imports this module only when
a file must be parsed (its IR is not cached): Lark costs ~0.1 s to import.
"""

from __future__ import annotations

import functools
import os
import tempfile

import lark

from goasm import ir
from goasm.arch import amd64
from goasm.errors import GoasmError, ParseError, Pos
from goasm.parse import (_Bare, _ExprEval, _Named, _signed64, parse_float_literal,
                         parse_int_literal, unquote)
from goasm.preprocess import Line
from goasm.resources import grammar_path


def statements(lines: list[Line]) -> list:
    """The IR statements of preprocessed ``lines``: the mixed parse, or after an error
    anywhere the whole text through Lark (so errors are always Lark's)."""
    got = _parse_mixed(lines)
    if got is not None:
        return got
    text = "\n".join(line.text for line in lines)
    try:
        tree = _lark().parse(text)
    except lark.exceptions.LarkError as exc:
        raise _lark_error(exc, lines) from None
    return _transform(_ToIR(lines), tree)


@functools.lru_cache(maxsize=None)
def _lark() -> lark.Lark:
    """The LALR parser, built once per process; its tables come from Lark's grammar
    cache (:func:`goasm.cache.lark_cache_file`, written atomically) when caching is on."""
    from goasm import cache

    grammar = grammar_path().read_text(encoding="utf-8")
    options = dict(parser="lalr", lexer="contextual", propagate_positions=False,
                   maybe_placeholders=False)
    path = cache.lark_cache_file(grammar)
    if path is None:
        return lark.Lark(grammar, cache=False, **options)
    if os.path.exists(path):
        return lark.Lark(grammar, cache=path, **options)
    try:   # build into a private file, then rename it into place
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        os.close(fd)
        os.unlink(tmp)
    except OSError:
        return lark.Lark(grammar, cache=False, **options)
    parser = lark.Lark(grammar, cache=tmp, **options)
    try:
        os.replace(tmp, path)
    except OSError:
        pass
    return parser


class _ToIR(lark.Transformer):
    """Builds IR nodes; every error names the source position (cmd/asm messages)."""

    def __init__(self, lines: list[Line]):
        super().__init__(visit_tokens=False)
        self.lines = lines

    # ---- positions and errors

    def pos_of(self, line: int, column: int) -> Pos:
        src = self.lines[line - 1]
        return Pos(src.file, src.line, src.col + column - 1 if not src.expanded else src.col)

    def tok_pos(self, tok) -> Pos | None:
        if tok is None or getattr(tok, "line", None) is None:
            return None
        return self.pos_of(tok.line, tok.column)

    def first_pos(self, children) -> Pos | None:
        """Position of the first token under ``children`` (rules carry no Lark meta: building
        it doubles parse time)."""
        for c in children:
            if isinstance(c, lark.Token):
                return self.tok_pos(c)
            if isinstance(c, list):
                found = self.first_pos(c)
                if found is not None:
                    return found
            elif isinstance(c, tuple):
                return self.first_pos(c[:1])
            elif isinstance(c, _Named):
                return self.tok_pos(c.tok)
            elif isinstance(c, _Bare):
                return c.pos
            elif getattr(c, "pos", None) is not None:
                return c.pos
        return None

    def fail(self, message: str, where=None):
        if isinstance(where, Pos) or where is None:
            pos = where
        else:
            pos = self.tok_pos(where)
        source = None
        if pos is not None:
            for src in self.lines:
                if src.file == pos.file and src.line == pos.line:
                    source = src.source or src.text
                    break
        raise ParseError(message, pos, source)

    def eval(self, tokens) -> int:
        return _ExprEval(tokens, self.fail).run()

    # ---- expressions: keep tokens in order

    def _tokens(self, children):
        out = []
        for c in children:
            if isinstance(c, list):
                out.extend(c)
            else:
                out.append(c)
        return out

    expr = term = factor = fexpr = _tokens

    def float_value(self, toks) -> float:
        """cmd/asm floatExpr: a float literal under any number of signs and parentheses."""
        sign = 1.0
        for tok in toks:
            if tok.type == "MINUS":
                sign = -sign
            elif tok.type == "FLOAT":
                try:
                    return sign * parse_float_literal(tok.value)
                except ValueError as exc:
                    self.fail(str(exc), tok)
        self.fail("bad floating-point expression", toks[0])

    # ---- pieces of operands

    def symattr(self, children):
        if len(children) == 2:
            return "<>"
        abi = str(children[1])
        if abi not in amd64.ABIS:
            self.fail(f"malformed ABI selector {abi!r}", children[1])
        return abi

    def symoff(self, children):
        return self._tokens(children)

    def group(self, children):
        name = children[0]
        scale = 0
        if len(children) == 3:
            scale_tok = children[2]
            try:
                scale = parse_int_literal(scale_tok.value)
            except ValueError:
                scale = -1
            if scale not in amd64.VALID_SCALES or scale_tok.value not in ("1", "2", "4", "8"):
                self.fail(f"bad scale: {scale_tok.value}", scale_tok)
        return (name, scale)

    def named(self, children):
        name_tok = children[0]
        attr = None
        offset = None
        groups = []
        for c in children[1:]:
            if isinstance(c, str) and not isinstance(c, lark.Token):
                attr = c
            elif isinstance(c, list):
                offset = c
            elif isinstance(c, tuple):
                groups.append(c)
        return _Named(str(name_tok), attr, offset, groups, name_tok)

    def register(self, tok, *, prefix=None) -> ir.Reg:
        name = str(tok)
        if not amd64.is_register(name):
            self.fail(f"expected register; found {name}", tok)
        if name in amd64.PSEUDO:
            self.fail(f"illegal use of pseudo-register {name}", tok)
        if prefix == "$":
            self.fail(f"prefix $ not allowed for register: ${name}", tok)
        return ir.Reg(amd64.canonical_register(name), pos=self.tok_pos(tok))

    def indirect(self, groups, mem_kwargs, prefix, pos, first_tok):
        """cmd/asm registerIndirect: ``(R)``, ``(R*s)``, ``(R)(I*s)`` after an optional offset."""
        (base_tok, scale), rest = groups[0], groups[1:]
        base = str(base_tok)
        if not amd64.is_register(base):
            self.fail(f"indirect through non-register {base}", base_tok)
        if base in ("SB", "FP"):
            self.fail(f"cannot reference {base} without a symbol", base_tok)
        if base == "PC":
            if prefix is not None:
                self.fail("illegal addressing mode for PC", base_tok)
            if scale or rest:
                self.fail("illegal use of PC", base_tok)
            return ir.PCRel(_signed64(mem_kwargs.get("offset", 0)), pos=pos)
        base = amd64.canonical_register(base)
        if scale:
            if rest:
                self.fail("expected end of operand after scaled index", rest[0][0])
            return ir.Mem(index=base, scale=scale, pos=pos, **mem_kwargs)
        mem_kwargs = dict(mem_kwargs, base=base)
        if rest:
            idx_tok, idx_scale = rest[0]
            idx = str(idx_tok)
            if not amd64.is_register(idx):
                self.fail(f"expected register; found {idx}", idx_tok)
            mem_kwargs.update(index=amd64.canonical_register(idx), scale=idx_scale)
        return ir.Mem(pos=pos, **mem_kwargs)

    def resolve_named(self, named: _Named, prefix, pos):
        """Give meaning to a name-first operand, as cmd/asm's operand()/symbolReference()."""
        tok = named.tok
        if amd64.is_register(named.name):
            if named.attr or named.offset or named.groups:
                self.fail(f"expected end of operand after register {named.name}", tok)
            if prefix == "*":
                prefix = None
            reg = self.register(tok, prefix=prefix)
            return reg
        if not named.groups:
            if prefix is None and named.attr is None and named.offset is None:
                return _Bare(named.name, pos)
            self.fail(f"illegal or missing addressing mode for symbol {named.name}", tok)
        offset = _signed64(self.eval(named.offset)) if named.offset else 0
        (pseudo_tok, scale), rest = named.groups[0], named.groups[1:]
        pseudo = str(pseudo_tok)
        static = named.attr == "<>"
        abi = named.attr if named.attr not in (None, "<>") else None
        if scale:
            self.fail(f"expected pseudo-register; found {pseudo}*{scale}", pseudo_tok)
        if pseudo == "SB":
            kind = ir.NameKind.STATIC if static else ir.NameKind.EXTERN
        elif pseudo == "FP":
            kind = ir.NameKind.PARAM
        elif pseudo == "SP":
            kind = ir.NameKind.AUTO
        elif pseudo == "PC":
            self.fail(f"illegal addressing mode for symbol {named.name} with (PC)", pseudo_tok)
        else:
            self.fail(f"expected pseudo-register; found {pseudo}", pseudo_tok)
        if kind in (ir.NameKind.PARAM, ir.NameKind.AUTO) and (static or abi):
            self.fail(f"symbol attribute not allowed on {pseudo} reference", tok)
        kwargs = dict(offset=offset, symbol=named.name, kind=kind, abi=abi)
        if rest:
            mem = self.indirect(rest, kwargs, prefix, pos, tok)
        else:
            mem = ir.Mem(pos=pos, **kwargs)
        if prefix == "$":
            return ir.Addr(mem, pos=pos)
        if prefix == "*":
            return ir.Indirect(mem, pos=pos)
        return mem

    # ---- operands

    def plain_named(self, pos, children):
        return self.resolve_named(children[0], None, pos)

    def dollar_named(self, pos, children):
        return self.resolve_named(children[0], "$", pos)

    def star_named(self, pos, children):
        return self.resolve_named(children[1], "*", pos)

    def reglist(self, pos, children):
        lo, _minus, hi = children
        for tok in (lo, hi):
            if not amd64.is_register(str(tok)) or str(tok) in amd64.PSEUDO:
                self.fail(f"register list: bad register {tok}", tok)
        return ir.RegList(str(lo), str(hi), pos=pos)

    def imm(self, pos, children):
        return ir.Imm(_signed64(self.eval(self._tokens(children))), pos=pos)

    def fimm(self, pos, children):
        return ir.FloatImm(self.float_value(self._tokens(children)), pos=pos)

    def simm(self, pos, children):
        tok = children[0]
        try:
            value = unquote(tok.value)
        except (ValueError, IndexError) as exc:
            self.fail(f"string parse error: {exc}", tok)
        return ir.StrImm(value, pos=pos)

    def absolute(self, pos, children):
        return ir.Mem(offset=_signed64(self.eval(self._tokens(children))), pos=pos)

    def star_absolute(self, pos, children):
        return ir.Indirect(ir.Imm(_signed64(self.eval(self._tokens(children[1:])))), pos=pos)

    def _mem(self, pos, children, prefix):
        groups = [c for c in children if isinstance(c, tuple)]
        expr = [c for c in children if isinstance(c, (list, lark.Token)) and
                not (isinstance(c, lark.Token) and c.type == "STAR" and c is children[0] and prefix == "*")]
        kwargs = {}
        if expr:
            kwargs["offset"] = _signed64(self.eval(self._tokens(expr)))
        mem = self.indirect(groups, kwargs, prefix, pos, None)
        if prefix == "$":
            return ir.Addr(mem, pos=pos)
        return mem

    def mem(self, pos, children):
        return self._mem(pos, children, None)

    def dollar_mem(self, pos, children):
        return self._mem(pos, children, "$")

    def star_mem(self, pos, children):
        return self._mem(pos, children, "*")

    # ---- statements

    def label(self, pos, children):
        return ir.Label(str(children[0]), pos=pos)

    def suffix(self, children):
        return ("suffix", str(children[0]))

    def opsep(self, children):
        return children[0]

    def instr(self, pos, children):
        op_tok = children[0]
        op = str(op_tok)
        if not amd64.is_mnemonic(op):
            self.fail(f"unrecognized instruction {op!r}", op_tok)
        suffixes = []
        operands = []
        colon_at = -1
        for c in children[1:]:
            if isinstance(c, tuple) and len(c) == 2 and c[0] == "suffix":
                suffixes.append(c[1])
            elif isinstance(c, lark.Token) and c.type in ("COMMA", "COLON"):
                if c.type == "COLON":
                    if colon_at >= 0:
                        self.fail("invalid ':' in operand", c)
                    colon_at = len(operands)
            else:
                operands.append(c)
                if colon_at >= 0 and len(operands) == colon_at + 1:
                    # Old x86 register-pair syntax: AX:DX becomes DX, AX (parse.go line()).
                    operands[colon_at - 1], operands[colon_at] = operands[colon_at], operands[colon_at - 1]
                    colon_at = -2
        jump = amd64.is_jump(op)
        for i, arg in enumerate(operands):
            if isinstance(arg, _Bare):
                if not jump:
                    self.fail(f"illegal or missing addressing mode for symbol {arg.name}", arg.pos)
                operands[i] = ir.LabelRef(arg.name, pos=arg.pos)
            elif isinstance(arg, ir.PCRel) and not jump:
                self.fail(f"illegal use of (PC) in non-branch instruction {op}", arg.pos)
        return ir.Instr(op, tuple(operands), tuple(suffixes), pos=pos)

    def _symbol_name(self, operand, what, pos) -> ir.SymbolName:
        if (not isinstance(operand, ir.Mem) or operand.kind not in (ir.NameKind.EXTERN, ir.NameKind.STATIC)
                or operand.base is not None or operand.index is not None):
            self.fail(f"{what}: expected symbol reference, found {operand}", pos)
        return ir.SymbolName(operand.symbol, operand.kind is ir.NameKind.STATIC, operand.abi)

    def tflags(self, children):
        c = children[0]
        if isinstance(c, lark.Token) and c.type == "NAME":
            self.fail(f"TEXT flag {c} is not defined (missing #include \"textflag.h\"?)", c)
        return ("flags", self.eval(self._tokens(children)))

    def frame(self, children):
        toks = list(children)
        negative = False
        if toks and toks[0].type == "MINUS":
            negative = True
            toks = toks[1:]
        frame_tok = toks[0]
        try:
            frame = parse_int_literal(frame_tok.value)
            args = parse_int_literal(toks[2].value) if len(toks) == 3 else None
        except ValueError as exc:
            self.fail(str(exc), frame_tok)
        if frame >> 63 or (args is not None and args >> 31):
            self.fail(f"frame or argument size out of range", frame_tok)
        return ("frame", -frame if negative else frame, args)

    def text(self, pos, children):
        sym = children[0]
        if isinstance(sym, ir.Mem) and sym.offset != 0:
            self.fail("TEXT: symbol offset must be zero", pos)
        name = self._symbol_name(sym, "TEXT", pos)
        flags = None
        frame = args = None
        for c in children[1:]:
            if isinstance(c, tuple) and c[0] == "flags":
                flags = c[1]
            elif isinstance(c, tuple) and c[0] == "frame":
                frame, args = c[1], c[2]
        return ir.Text(name, frame, args, flags, pos=pos)

    def data(self, pos, children):
        named, width_tok, value = [c for c in children
                                   if not (isinstance(c, lark.Token) and c.type == "SLASH")]
        target = self.resolve_named(named, None, pos)
        if isinstance(target, _Bare):
            self.fail(f"DATA: illegal or missing addressing mode for symbol {target.name}", pos)
        name = self._symbol_name(target, "DATA", pos)
        try:
            width = parse_int_literal(width_tok.value)
        except ValueError as exc:
            self.fail(str(exc), width_tok)
        if isinstance(value, _Bare) or not isinstance(value, (ir.Imm, ir.FloatImm, ir.StrImm, ir.Addr)):
            self.fail(f"DATA value must be an immediate constant or address", pos)
        return ir.Data(name, target.offset, width, value, pos=pos)

    def globl(self, pos, children):
        ops = [c for c in children if not isinstance(c, lark.Token)]
        if len(ops) not in (2, 3):
            self.fail("GLOBL: expected 2 or 3 operands", pos)
        for op in ops:
            if isinstance(op, _Bare):
                self.fail(f"GLOBL: illegal or missing addressing mode for symbol {op.name}", op.pos)
        name = self._symbol_name(ops[0], "GLOBL", pos)
        flags = None
        if len(ops) == 3:
            f = ops[1]
            if not (isinstance(f, ir.Mem) and f.kind is ir.NameKind.NONE and f.base is None
                    and f.index is None):
                self.fail(f"GLOBL: flags must be an integer constant, found {f}", pos)
            flags = f.offset
        size = ops[-1]
        if not isinstance(size, ir.Imm):
            self.fail("GLOBL size must be an immediate constant", pos)
        return ir.Globl(name, size.value, flags, pos=pos)

    def start(self, children):
        return [c for c in children if not isinstance(c, lark.Token)]


def _positioned(method):
    """Call ``method(self, pos, children)`` with the position of the rule's first token."""
    def wrapper(self, children):
        return method(self, self.first_pos(children), children)
    wrapper.__wrapped__ = method        # goasm.parse_fast passes the position itself
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name in ("plain_named", "dollar_named", "star_named", "reglist", "imm", "fimm", "simm",
              "absolute", "star_absolute", "mem", "dollar_mem", "star_mem", "label", "instr",
              "text", "data", "globl"):
    setattr(_ToIR, _name, _positioned(getattr(_ToIR, _name)))
del _name


# --------------------------------------------------------------------------- errors

_TOKEN_WORDS = {
    "_NL": "newline", "$END": "end of input", "COMMA": "','", "COLON": "':'", "LPAR": "'('",
    "RPAR": "')'", "STAR": "'*'", "PLUS": "'+'", "MINUS": "'-'", "NAME": "name", "INT": "integer",
}


def _lark_error(exc: lark.exceptions.LarkError, lines: list[Line]) -> ParseError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    pos = None
    source = None
    if isinstance(line, int) and 0 < line <= len(lines):
        src = lines[line - 1]
        col = src.col + column - 1 if isinstance(column, int) and column > 0 and not src.expanded else src.col
        pos = Pos(src.file, src.line, col)
        source = src.source or src.text
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        tok = exc.token
        what = "end of line" if tok.type in ("_NL", "$END") else repr(str(tok))
        msg = f"syntax error: unexpected {what}"
        if tok.type == "$END" and lines:
            last = lines[-1]
            pos = Pos(last.file, last.line, last.col + len(last.text))
            source = last.source or last.text
    elif isinstance(exc, lark.exceptions.UnexpectedCharacters):
        msg = f"syntax error: unexpected character {exc.char!r}"
    else:
        msg = f"syntax error: {exc}"
    return ParseError(msg, pos, source)


def _parse_mixed(lines: list[Line]):
    """The statements of ``lines`` with the usual line shapes parsed by
    :mod:`goasm.parse_fast` and the rest by Lark in one batch (each statement put back
    at the line of its first token); None after an error anywhere, so that the whole
    file goes through Lark and errors are always Lark's."""
    from goasm import parse_fast

    transformer = _ToIR(lines)
    try:
        per_line, rest = parse_fast.split(lines, transformer)
    except GoasmError:
        return None
    if rest:
        batch = [lines[i] for i in rest]
        for i in rest:
            per_line[i] = []
        try:
            tree = _lark().parse("\n".join(line.text for line in batch))
            batch_ir = _ToIR(batch)
            for child in tree.children:
                if isinstance(child, lark.Token):
                    continue
                line = _first_line(child)
                if line is None:
                    return None
                per_line[rest[line - 1]].append(_transform(batch_ir, child))
        except (lark.exceptions.LarkError, GoasmError):
            return None
    return [st for sts in per_line for st in sts]


def _first_line(tree) -> int | None:
    """The line (in Lark's numbering) of the first token under ``tree``."""
    stack = [iter(tree.children)]
    while stack:
        for c in stack[-1]:
            if isinstance(c, lark.Token):
                return c.line
            if isinstance(c, lark.Tree):
                stack.append(iter(c.children))
                break
        else:
            stack.pop()
    return None


# Rules whose transform is the flat list of their tokens (_ToIR._tokens).
_FLAT_RULES = frozenset({"expr", "term", "factor", "fexpr"})


def _flat_tokens(tree) -> list:
    """The tokens under ``tree`` in order: what ``_ToIR._tokens`` gives for the
    expression rules, in one linear pass."""
    out: list = []
    stack = [iter(tree.children)]
    while stack:
        for c in stack[-1]:
            if isinstance(c, lark.Tree):
                stack.append(iter(c.children))
                break
            out.append(c)
        else:
            stack.pop()
    return out


def _transform(t: _ToIR, tree):
    """``t.transform(tree)`` (a Lark Transformer, tokens not visited) bottom-up with
    an explicit stack instead of recursion, so any nesting depth works; expression
    subtrees become their flat token lists in one pass (:func:`_flat_tokens`)."""
    if not isinstance(tree, lark.Tree):
        return tree
    if tree.data in _FLAT_RULES:
        return _flat_tokens(tree)
    stack = [(tree, [], iter(tree.children))]
    while True:
        node, done, rest = stack[-1]
        for child in rest:
            if isinstance(child, lark.Tree):
                if child.data in _FLAT_RULES:
                    done.append(_flat_tokens(child))
                    continue
                stack.append((child, [], iter(child.children)))
                break
            done.append(child)
        else:
            stack.pop()
            method = getattr(t, node.data, None)
            value = method(done) if method is not None else \
                t.__default__(node.data, done, node.meta)
            if not stack:
                return value
            stack[-1][1].append(value)



"""The debugger's expression language (``print``, ``x``, ``set``, ``watch``, breakpoint
conditions, DAP ``evaluate``).

Go's operators with Go's precedence (the Go spec, "Operators"), integers in Go's
notations, and Plan 9 operands (Go's assembler guide): ``off(REG)`` is the memory word
at REG+off, ``name+off(FP)`` an argument and ``name-off(SP)`` a local of the selected
frame (the pseudo-registers), ``[expr]`` and ``*expr`` the word at an address. Names are
the frame's arguments and locals (``n``), registers (``AX``, ``FS`` = the FS base,
``X0``), ``g`` (the g in TLS, ``-8(FS)``), ``g0``, ``m0``, ``m`` (g.m), ``curg``
(m0.curg), symbols (``runtime·g0``: their address) and struct fields
(``g.stack.hi``, ``m0.tls[0]``, ``g.m.curg.goid``).

What names mean is asked of a *scope* (:class:`goasm.debug.session.Scope`): the
session's state in one frame.
"""

from __future__ import annotations

import re

from goasm.debug.errors import CommandError
from goasm.debug.values import M64, Value, binop

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

PSEUDO = ("FP", "SP")


def tokenize(text: str) -> list:
    """Tokens of an expression: (kind, text) with kind num, name or op."""
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


def number(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise CommandError(f"bad number {text!r}") from None


class Parser:
    """Recursive descent over Go's operator precedence, plus the Plan 9 operands.
    The tree is tuples: ``("num", n)``, ``("name", text)``, ``("mem", off, REG)``,
    ``("pmem", name, off, "FP"|"SP")``, ``("index", x, i)``, ``("un", op, x)``,
    ``("bin", op, x, y)``."""

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

    def _paren_reg(self, k: int):
        """The register of ``( REG )`` starting at token ``k`` ahead, or None."""
        if self.peek(k)[1] == "(" and self.peek(k + 1)[0] == "name" \
                and self.peek(k + 2)[1] == ")":
            return self.peek(k + 1)[1]
        return None

    def _memref(self, sign):
        """``off(REG)``, ``off(FP)`` (after an optional sign already taken)."""
        kind, value = self.peek()
        if kind != "num":
            return None
        reg = self._paren_reg(1)
        if reg in PSEUDO and reg == "FP":
            self.i += 4
            return ("pmem", None, sign * number(value), reg)
        if reg is not None and self.is_register(reg):
            self.i += 4
            return ("mem", sign * number(value), reg)
        return None

    def _named_memref(self):
        """``name+off(FP)``, ``name-off(SP)``, ``name(FP)``: the pseudo-registers."""
        kind, name = self.peek()
        if kind != "name":
            return None
        reg = self._paren_reg(1)
        if reg in PSEUDO:
            self.i += 4
            return ("pmem", name, 0, reg)
        sign = self.peek(1)[1]
        if sign in ("+", "-") and self.peek(2)[0] == "num" and self._paren_reg(3) in PSEUDO:
            off = number(self.peek(2)[1]) * (1 if sign == "+" else -1)
            reg = self._paren_reg(3)
            self.i += 6
            return ("pmem", name, off, reg)
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
        if mem is None:
            mem = self._named_memref()
        if mem is not None:
            return mem
        kind, value = self.take()
        if kind == "num":
            return ("num", number(value))
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


def parse(text: str, is_register):
    """The tree of expression ``text`` (syntax only)."""
    if not text.strip():
        raise CommandError("missing expression")
    return Parser(tokenize(text), is_register).parse()


class Evaluator:
    """Evaluates expression trees in a scope (see the module docstring)."""

    def __init__(self, scope) -> None:
        self.scope = scope
        self.values = scope.values

    def evaluate(self, text: str) -> Value:
        return self.eval(parse(text, self.scope.is_register))

    def eval(self, node) -> Value:
        kind = node[0]
        values = self.values
        if kind == "num":
            return Value("int", node[1] & M64 if node[1] >= 0 else node[1])
        if kind == "name":
            return self.resolve(node[1])
        if kind == "mem":
            _, off, reg = node
            addr = (self.scope.register(reg) + off) & M64
            return Value("uintptr", values.read(addr, 8), addr)
        if kind == "pmem":
            return self.scope.pseudo(node[1], node[2], node[3])
        if kind == "index":
            return values.index(self.eval(node[1]), values.number(self.eval(node[2])))
        if kind == "un":
            return self._unary(node[1], node[2])
        if kind == "bin":
            op = node[1]
            a = values.number(self.eval(node[2]))
            if op in ("&&", "||"):
                if (op == "&&") != bool(a):
                    return Value("int", int(bool(a)))
                return Value("int", int(bool(values.number(self.eval(node[3])))))
            b = values.number(self.eval(node[3]))
            return Value("int", binop(op, a, b))
        raise CommandError("bad expression")

    def _unary(self, op, operand) -> Value:
        values = self.values
        v = self.eval(operand)
        if op == "&":
            if v.addr is None:
                raise CommandError("cannot take the address of a value not in memory")
            return Value("uintptr", v.addr)
        if op == "*":
            if v.typ.startswith("*"):
                return values.deref(v)
            addr = values.number(v) & M64
            return Value("uintptr", values.read(addr, 8), addr)
        x = values.number(v)
        if op == "-":
            return Value("int", (-x) & M64)
        if op in ("^", "~"):
            return Value("int", (~x) & M64)
        return Value("int", int(not x))

    def resolve(self, text: str) -> Value:
        """A name, possibly with ``.field`` accesses (symbols may contain dots: the
        longest prefix that names something wins)."""
        parts = re.split(r"\.(?![^.]*/)", text) if "/" in text else text.split(".")
        for n in range(len(parts), 0, -1):
            head = ".".join(parts[:n])
            root = self.scope.root(head, fields=n < len(parts))
            if root is None:
                continue
            for field in parts[n:]:
                root = self.values.field(root, field)
            return root
        raise CommandError(f"could not find symbol value for {text}")

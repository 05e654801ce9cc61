"""The typed IR of a Plan 9 amd64 assembly file.

Every node is a frozen ``attrs`` class. Each carries ``pos`` (a :class:`goasm.errors.Pos`)
that takes no part in equality, so that ``parse(str(node)) == node`` holds for the round
trip. ``str(node)`` prints canonical Plan 9 syntax in the style of ``go tool asm -S``.

Operand kinds mirror ``cmd/internal/obj.Addr`` types as produced by
``cmd/asm/internal/asm/parse.go`` (see Go's assembler guide, https://go.dev/doc/asm):

==================  ===============================  ====================
IR class            written as                       obj.Addr type
==================  ===============================  ====================
``Reg``             ``AX``, ``X0``, ``K1``, ``TLS``  TYPE_REG
``RegList``         ``[Z0-Z3]``                      TYPE_REGLIST
``Imm``             ``$42``, ``$'a'``, ``$~15``      TYPE_CONST
``FloatImm``        ``$1.5``                         TYPE_FCONST
``StrImm``          ``$"abc\\x00"``                  TYPE_SCONST
``Mem``             ``8(AX)(BX*4)``, ``sym+8(SB)``,  TYPE_MEM
                    ``a+0(FP)``, ``x-8(SP)``, ``0``
``Addr``            ``$sym(SB)``, ``$8(SP)``         TYPE_ADDR
``Indirect``        ``*sym(SB)``, ``*8``             TYPE_INDIR
``PCRel``           ``2(PC)``                        TYPE_BRANCH (relative)
``LabelRef``        ``loop``                         TYPE_BRANCH (label)
==================  ===============================  ====================
"""

from __future__ import annotations

import enum
import math
from typing import Union

import attrs

from goasm.errors import Pos

_POS = dict(default=None, eq=False, repr=False, order=False, hash=False)


def _pos_field():
    return attrs.field(**_POS)


class NameKind(enum.Enum):
    """How a memory operand is named (``obj.Addr.Name``)."""

    NONE = "none"        # off(REG), absolute addresses
    EXTERN = "extern"    # sym(SB)
    STATIC = "static"    # sym<>(SB): file-local
    PARAM = "param"      # name+off(FP): argument frame
    AUTO = "auto"        # name-off(SP): the pseudo stack pointer (locals)


# --------------------------------------------------------------------------- operands

@attrs.frozen
class Reg:
    """A register by its Plan 9 name (``AX``, ``R8``, ``AL``, ``X3``, ``Y0``, ``K1``, ``TLS``)."""

    name: str
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class RegList:
    """An x86 register block ``[lo-hi]`` (AVX-512 4FMAPS/4VNNIW)."""

    lo: str
    hi: str
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"[{self.lo}-{self.hi}]"


@attrs.frozen
class Imm:
    """An integer immediate ``$value``; stored as a signed 64-bit value like obj.Addr.Offset."""

    value: int
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"${self.value}"


def format_float(value: float) -> str:
    """Shortest text that Go's float scanner reads back to exactly ``value``."""
    if math.isinf(value) or math.isnan(value):
        raise ValueError(f"float immediate {value} has no Plan 9 spelling")
    text = repr(value)
    if "e" not in text and "." not in text:
        text += ".0"
    return text


@attrs.frozen
class FloatImm:
    """A floating-point immediate ``$1.5`` (obj.TYPE_FCONST)."""

    value: float
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"$({format_float(self.value)})"


def quote_bytes(data: bytes) -> str:
    """Quote ``data`` as a Go interpreted string literal (strconv.Quote-compatible escapes)."""
    out = ['"']
    for b in data:
        ch = chr(b)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    return "".join(out)


@attrs.frozen
class StrImm:
    """A string immediate ``$"..."`` (DATA only); the bytes after Go unquoting."""

    value: bytes
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return "$" + quote_bytes(self.value)


def _offset_suffix(offset: int) -> str:
    if offset == 0:
        return ""
    return f"+{offset}" if offset > 0 else f"{offset}"


@attrs.frozen
class Mem:
    """A memory reference ``[symbol][<>|<ABI>][±offset](base)(index*scale)``.

    ``base`` is a hardware register name or None; the pseudo-registers live in ``kind``:
    EXTERN/STATIC mean ``(SB)``, PARAM ``(FP)``, AUTO ``(SP)`` with a name. A plain
    ``8(SP)`` is the hardware stack pointer: ``kind`` NONE, ``base`` "SP".
    ``scale`` is 0 when no index is written.
    """

    offset: int = 0
    base: str | None = None
    index: str | None = None
    scale: int = 0
    symbol: str | None = None
    kind: NameKind = NameKind.NONE
    abi: str | None = None
    pos: Pos | None = _pos_field()

    @property
    def is_symbolic(self) -> bool:
        return self.kind is not NameKind.NONE

    def __str__(self) -> str:
        if self.kind is NameKind.NONE:
            text = "" if self.offset == 0 and self.base is not None else str(self.offset)
            if self.offset == 0 and self.base is None and self.index is not None:
                text = ""
            if self.base is not None:
                text += f"({self.base})"
        else:
            attr = "<>" if self.kind is NameKind.STATIC else (f"<{self.abi}>" if self.abi else "")
            pseudo = {NameKind.EXTERN: "SB", NameKind.STATIC: "SB",
                      NameKind.PARAM: "FP", NameKind.AUTO: "SP"}[self.kind]
            text = f"{self.symbol}{attr}{_offset_suffix(self.offset)}({pseudo})"
            if self.base is not None:
                text += f"({self.base})"
        if self.index is not None:
            text += f"({self.index}*{self.scale})" if self.scale else f"({self.index})"
        return text


@attrs.frozen
class Addr:
    """The address of a memory reference: ``$sym(SB)``, ``$8(SP)``, ``$x-8(SP)`` (TYPE_ADDR)."""

    mem: Mem
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"${self.mem}"


@attrs.frozen
class Indirect:
    """``*sym(SB)`` or ``*8``: obj.TYPE_INDIR, which Go's linker rejects; kept for fidelity."""

    target: Union[Mem, Imm]
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        inner = self.target
        return "*" + (str(inner.value) if isinstance(inner, Imm) else str(inner))


@attrs.frozen
class PCRel:
    """A branch ``n(PC)``: ``n`` instructions forward (or back) from this one."""

    delta: int
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"{self.delta}(PC)"


@attrs.frozen
class LabelRef:
    """A branch to a label of the current TEXT symbol."""

    name: str
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return self.name


Operand = Union[Reg, RegList, Imm, FloatImm, StrImm, Mem, Addr, Indirect, PCRel, LabelRef]


# --------------------------------------------------------------------------- statements

@attrs.frozen
class Label:
    """``name:`` — labels are local to the TEXT symbol that contains them."""

    name: str
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"{self.name}:"


@attrs.frozen
class Instr:
    """An instruction (or FUNCDATA/PCDATA/PCALIGN pseudo-op): mnemonic, suffixes, operands.

    ``suffixes`` are the x86 modifiers written after dots (``.Z``, ``.BCST``, ``.RN_SAE``).
    Operands are in Plan 9 order (source first, destination last). The old register-pair
    syntax ``R11:AX`` is stored as the two operands ``AX, R11``, as cmd/asm does.
    """

    op: str
    args: tuple = ()
    suffixes: tuple = ()
    pos: Pos | None = _pos_field()

    @property
    def mnemonic(self) -> str:
        return self.op + "".join("." + s for s in self.suffixes)

    def __str__(self) -> str:
        if not self.args:
            return self.mnemonic
        return f"{self.mnemonic}\t" + ", ".join(str(a) for a in self.args)


@attrs.frozen
class SymbolName:
    """A symbol as written in a definition: name, file-local (``<>``) and ABI selector."""

    name: str
    static: bool = False
    abi: str | None = None

    def __str__(self) -> str:
        attr = "<>" if self.static else (f"<{self.abi}>" if self.abi else "")
        return f"{self.name}{attr}"


def format_textflags(flags: int) -> str:
    """``NOSPLIT|NOFRAME`` style text for a flag word (values from textflag.h)."""
    from goasm.arch.amd64 import TEXTFLAGS

    names = []
    rest = flags
    for name, bit in TEXTFLAGS:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(str(rest))
    return "|".join(names) if names else "0"


ARGS_SIZE_UNKNOWN = None


@attrs.frozen
class Text:
    """``TEXT sym(SB), flags, $frame-args``: starts a function.

    ``frame`` may be negative (``$-8``: no frame, not even the return-address slot is
    counted); ``args`` is None when the ``-args`` part is absent (ArgsSizeUnknown).
    ``flags`` is None when the flags operand is absent.
    """

    symbol: SymbolName
    frame: int
    args: int | None = None
    flags: int | None = None
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        frame = f"${self.frame}" + ("" if self.args is None else f"-{self.args}")
        parts = [f"{self.symbol}(SB)"]
        if self.flags is not None:
            parts.append(format_textflags(self.flags))
        parts.append(frame)
        return "TEXT\t" + ", ".join(parts)


@attrs.frozen
class Data:
    """``DATA sym+off(SB)/width, $value``: initialise ``width`` bytes of a symbol."""

    symbol: SymbolName
    offset: int
    width: int
    value: Operand
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        return f"DATA\t{self.symbol}{_offset_suffix(self.offset)}(SB)/{self.width}, {self.value}"


@attrs.frozen
class Globl:
    """``GLOBL sym(SB), flags, $size``: declare a data symbol of ``size`` bytes."""

    symbol: SymbolName
    size: int
    flags: int | None = None
    pos: Pos | None = _pos_field()

    def __str__(self) -> str:
        parts = [f"{self.symbol}(SB)"]
        if self.flags is not None:
            parts.append(format_textflags(self.flags))
        parts.append(f"${self.size}")
        return "GLOBL\t" + ", ".join(parts)


Statement = Union[Label, Instr, Text, Data, Globl]


@attrs.frozen
class Program:
    """A parsed file: its statements in source order."""

    statements: tuple
    file: str = attrs.field(default="<input>", eq=False)

    def __str__(self) -> str:
        lines = []
        if any(isinstance(s, (Text, Globl)) and s.flags is not None for s in self.statements):
            lines.append('#include "textflag.h"')
        for s in self.statements:
            lines.append(str(s) if isinstance(s, (Label, Text)) else "\t" + str(s))
        return "\n".join(lines) + "\n"

    def texts(self) -> list[Text]:
        return [s for s in self.statements if isinstance(s, Text)]


def to_json(node) -> object:
    """A JSON-ready structure for any IR node, positions included (``goasm parse --json``)."""
    if isinstance(node, (list, tuple)):
        return [to_json(n) for n in node]
    if isinstance(node, enum.Enum):
        return node.value
    if isinstance(node, bytes):
        return node.decode("latin-1")
    if isinstance(node, Pos):
        return {"file": node.file, "line": node.line, "col": node.col}
    if attrs.has(type(node)):
        out = {"node": type(node).__name__}
        for f in attrs.fields(type(node)):
            value = getattr(node, f.name)
            if value is None and f.name != "pos":
                continue
            out[f.name] = to_json(value)
        return out
    return node

"""Lane helpers shared by the SSE handler modules (``sse``, ``sse_int``, ``sse_fp``,
``crypto``, ``strcmp``); this module registers no handlers itself.

An XMM register is one unsigned 128-bit Python int (``CPU.xmm``); lane 0 is the least
significant (Intel SDM Vol. 1, 4.6.1 "Packed data types": little-endian element order).
:func:`split`/:func:`join` convert between the int and a tuple of lanes; the emission
helpers build the operands-compute-write-back body every SSE instruction shares
(DESIGN.md, "Style"), including the 16-byte alignment check that 128-bit memory
operands of legacy-SSE instructions require (SDM Vol. 2A, 2.5 "Instruction Exception
Specification", exception types 1 and 4: #GP(0) unless the instruction page says the
operand may be unaligned; Linux delivers it as SIGSEGV with si_code SI_KERNEL).
"""

from __future__ import annotations

import struct
from types import MappingProxyType

from goasm.machine.ops.base import BadForm, fault_factory

M128 = (1 << 128) - 1
M64 = (1 << 64) - 1
GP_FAULT = fault_factory("general protection fault (misaligned 16-byte operand)",
                         "SIGSEGV", code="SI_KERNEL", addr=0)

_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
_UNSIGNED = MappingProxyType({w: struct.Struct(f"<{16 // w}{c}") for w, c in _FORMATS.items()})
_SIGNED = MappingProxyType({w: struct.Struct(f"<{16 // w}{c.lower()}")
                            for w, c in _FORMATS.items()})
LANE_MASK = MappingProxyType({1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: M64})


def split(value: int, width: int) -> tuple:
    """The unsigned lanes (``width`` bytes each) of a 128-bit value, lane 0 first."""
    return _UNSIGNED[width].unpack(value.to_bytes(16, "little"))


def split_signed(value: int, width: int) -> tuple:
    """The lanes of a 128-bit value read as two's-complement signed integers."""
    return _SIGNED[width].unpack(value.to_bytes(16, "little"))


def join(lanes, width: int) -> int:
    """The 128-bit value holding ``lanes`` (lane 0 first), each masked to ``width``."""
    m = LANE_MASK[width]
    return int.from_bytes(_UNSIGNED[width].pack(*[x & m for x in lanes]), "little")


def repeat(pattern: int, width: int) -> int:
    """``pattern`` (``width`` bytes) replicated into every lane of 128 bits."""
    out = 0
    for i in range(16 // width):
        out |= pattern << (8 * width * i)
    return out


def signed(value: int, bits: int) -> int:
    """``value`` (``bits`` wide, unsigned) as a two's-complement signed int."""
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


# --------------------------------------------------------------------------- emission

def aligned(e, op) -> None:
    """#GP when the 16-byte memory operand ``op`` is not 16-byte aligned."""
    if op.kind == "mem":
        with e.block(f"if {e.ea(op)} & 15:"):
            e.fault(GP_FAULT)


def need(args, count: int):
    if len(args) != count:
        raise BadForm(f"expected {count} operands, got {len(args)}")
    return args


def xmm_or_mem(op, what: str = "source") -> None:
    if op.kind not in ("xmm", "mem"):
        raise BadForm(f"{what} must be an XMM register or memory")


def xmm(op, what: str = "destination") -> None:
    if op.kind != "xmm":
        raise BadForm(f"{what} must be an XMM register")


def imm8(op) -> int:
    if op.kind != "imm":
        raise BadForm("expected an immediate")
    return op.value & 0xFF


def read_src(e, src, mem_width: int, *, align: bool = True) -> str:
    """An expression for the source operand: a whole XMM register, or ``mem_width``
    bytes of memory (checked for 16-byte alignment when ``mem_width`` is 16 and ``align``).
    """
    if src.kind == "xmm":
        return e.read(src, 16)
    if src.kind != "mem":
        raise BadForm("source must be an XMM register or memory")
    if mem_width == 16 and align:
        aligned(e, src)
    return e.read(src, mem_width)


def inline(expr):
    """Give a lane value function the text of its body: ``expr(e, *args)`` returns a
    Python expression computing the same value from the argument expressions (constants
    through ``e.const``). :func:`binary` and :func:`unary` then emit it in place of a call,
    so translated code runs it without a Python call."""
    def deco(fn):
        fn.goasm_expr = expr
        return fn
    return deco


def _apply(e, fn, *args: str) -> str:
    """The value of ``fn(*args)``: its inline expression, or a call."""
    expr = getattr(fn, "goasm_expr", None)
    return expr(e, *args) if expr is not None else e.call(fn, *args)


def binary(e, args, fn, *, mem_width: int = 16, align: bool = True, imm: bool = False,
           imm_last: bool = False) -> None:
    """``OP [$imm,] src, dst``: ``dst = fn(dst, src[, imm])``, with ``src`` an XMM register
    or ``mem_width`` bytes of memory. ``imm_last``: Go's CMPPS order ``src, dst, $imm``."""
    if imm:
        if imm_last:
            src, dst, i = need(args, 3)
        else:
            i, src, dst = need(args, 3)
        extra = (e.const(imm8(i)),)
    else:
        src, dst = need(args, 2)
        extra = ()
    xmm(dst)
    s = read_src(e, src, mem_width, align=align)
    e.emit(f"s = {s}")
    if getattr(fn, "goasm_expr", None) is not None:
        e.emit(f"d = xmm[{e.const(dst.index)}]")
        e.write(dst, 16, _apply(e, fn, "d", "s", *extra))
    else:
        e.write(dst, 16, e.call(fn, f"xmm[{e.const(dst.index)}]", "s", *extra))
    e.next()


def unary(e, args, fn, *, mem_width: int = 16, align: bool = True, imm: bool = False) -> None:
    """``OP [$imm,] src, dst``: ``dst = fn(src[, imm])`` (the old ``dst`` is not read)."""
    if imm:
        i, src, dst = need(args, 3)
        extra = (e.const(imm8(i)),)
    else:
        src, dst = need(args, 2)
        extra = ()
    xmm(dst)
    s = read_src(e, src, mem_width, align=align)
    e.emit(f"s = {s}")
    e.write(dst, 16, _apply(e, fn, "s", *extra))
    e.next()


def blendv_lanes(width: int):
    """The value function of the variable blends (SDM: PBLENDVB, BLENDVPS, BLENDVPD): lane
    i of ``width`` bytes from ``s`` when the top bit of ``mask``'s lane i is set, else
    from ``d``."""
    top = 8 * width - 1
    full = (1 << (8 * width)) - 1

    def fn(d, s, mask):
        sel = join([full if m >> top else 0 for m in split(mask, width)], width)
        return (s & sel) | (d & ~sel & M128)
    return fn


def blendv(e, args, fn) -> None:
    """The shared body of PBLENDVB/BLENDVPS/BLENDVPD ``X0, src, dst`` (X0 implicit)."""
    mask, src, dst = need(args, 3)
    if mask.kind != "xmm" or mask.index != 0:
        raise BadForm("the mask operand must be X0")
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 16)}")
    e.write(dst, 16, e.call(fn, f"xmm[{e.const(dst.index)}]", "s", "xmm[0]"))
    e.next()

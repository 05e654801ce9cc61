"""Packed integer SSE2/SSSE3/SSE4.1/SSE4.2 instructions on XMM registers, in Go's
spelling (Intel SDM Vol. 2; Go names: L = doubleword, O = octword/double quadword).

Arithmetic: PADDB/W/L/Q, PSUBB/W/L/Q, PADDSB/SW, PADDUSB/USW, PSUBSB/SW, PSUBUSB/USW,
PAVGB/W, PMULLW, PMULHW, PMULHUW, PMULULQ (PMULUDQ), PMULDQ, PMULLD, PMULHRSW,
PMADDWL (PMADDWD), PMADDUBSW, PSADBW, MPSADBW, PABSB/W/D, PSIGNB/W/D,
PHADDW/D/SW, PHSUBW/D/SW, PHMINPOSUW, PMIN*/PMAX* (UB SB UW SW UD SD).
Compares: PCMPEQB/W/L/Q, PCMPGTB/W/L/Q; PTEST.
Shifts: PSLLW/L/Q, PSRLW/L/Q, PSRAW/L (immediate or XMM/m128 count), PSLLO/PSRLO
(PSLLDQ/PSRLDQ byte shifts), PALIGNR.
Pack/unpack/shuffle: PACKSSWB, PACKSSLW (PACKSSDW), PACKUSWB, PACKUSDW, PUNPCKL/H BW WL LQ
QDQ, PSHUFB, PSHUFD (= PSHUFL), PSHUFHW, PSHUFLW, PBLENDW, PBLENDVB, PMOVSX*/PMOVZX*,
PMOVMSKB.

No flags are affected except by PTEST (SDM: ZF = (src AND dst) == 0, CF = (src AND NOT
dst) == 0, AF OF PF SF cleared). MMX (M0-M7) forms are not modelled and stay
unimplemented.
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops import vec
from goasm.machine.ops import vint as V
from goasm.machine.ops import vint_lanes as L
from goasm.machine.ops import vint_pack as P
from goasm.machine.ops.base import MASK_TEXT, BadForm, handles
from goasm.machine.ops.lanes import (binary, blendv, blendv_lanes, imm8, need, read_src,
                                     unary, xmm)


# --------------------------------------------------------------------------- arithmetic
# The value functions are the VEX/EVEX ones at 128 bits (goasm.machine.ops.vint*: one
# definition of each lane operation, SWAR where the semantics allow): ``fn(dst, src)``
# is ``fn(src1, src2)`` of the three-operand forms.

_SIZE = {"B": 1, "W": 2, "L": 4, "Q": 8}
W = 16


def _texted(fn, text):
    """``fn`` (a shared value function, which computes) with the text translated code runs
    in its place (:func:`goasm.machine.ops.lanes.inline`): a new function object, so the
    shared one is left as it is."""
    def value(*a):
        return fn(*a)
    value.goasm_expr = text
    return value


def _add_sub(width: int, sub: bool):
    """PADD*/PSUB*: the shared lane function, inline as :func:`vec.add_lanes`'s SWAR text."""
    return _texted(L.add_sub(width, W, sub), vec.lanes_text(width, W, sub))


_EQB_TABLE = bytes([0xFF] + [0] * 255)


def _cmpeq(width: int):
    """PCMPEQB by one bytes.translate (0 -> FF, anything else -> 0); the wider ones shared."""
    if width != 1:
        return L.cmpeq(width, W)
    return _texted(L.cmpeq(1, W),
                   lambda e, d, s: f"int.from_bytes(({d} ^ {s}).to_bytes(16, 'little')"
                                   f".translate({e.const(_EQB_TABLE)}), 'little')")


def _pshuf(kind: str, ew: int, imm: int):
    """PSHUFD with its immediate known: four shifts and masks inline; PSHUFLW/PSHUFHW by
    the shared function."""
    fn = P._select(ew, W, P._pshuf_sel(kind, W, imm))
    if kind != "D":
        return fn

    def text(e, s):
        parts = []
        for i in range(4):
            sel = imm >> (2 * i) & 3
            lane = f"{s} >> {32 * sel} & 0xFFFFFFFF" if sel else f"{s} & 0xFFFFFFFF"
            parts.append(f"({lane})" if i == 0 else f"({lane}) << {32 * i}")
        return " | ".join(parts)
    return _texted(fn, text)


@handles(*((f"PADD{s}", dict(fn=_add_sub(w, False))) for s, w in _SIZE.items()),
         *((f"PSUB{s}", dict(fn=_add_sub(w, True))) for s, w in _SIZE.items()))
def padd(e, args, fn):
    """``PADDB src, dst`` ...: lane-wise wrapping add/subtract (SDM: PADDB/PADDW/PADDD/
    PADDQ, PSUBB/PSUBW/PSUBD/PSUBQ)."""
    binary(e, args, fn)


_SATURATING = (
    ("PADDSB", 1, True, False), ("PADDSW", 2, True, False), ("PADDUSB", 1, False, False),
    ("PADDUSW", 2, False, False), ("PSUBSB", 1, True, True), ("PSUBSW", 2, True, True),
    ("PSUBUSB", 1, False, True), ("PSUBUSW", 2, False, True),
)

_MINMAX = (
    ("PMINUB", 1, False, False), ("PMAXUB", 1, False, True), ("PMINSW", 2, True, False),
    ("PMAXSW", 2, True, True), ("PMINSB", 1, True, False), ("PMAXSB", 1, True, True),
    ("PMINUW", 2, False, False), ("PMAXUW", 2, False, True), ("PMINUD", 4, False, False),
    ("PMAXUD", 4, False, True), ("PMINSD", 4, True, False), ("PMAXSD", 4, True, True),
)


def _phminposuw(s):
    return V._phminposuw(s)


@handles(*((n, dict(fn=L.saturating(w, W, sg, sub))) for n, w, sg, sub in _SATURATING),
         *((n, dict(fn=L.minmax(w, W, sg, mx))) for n, w, sg, mx in _MINMAX),
         *((f"PCMPEQ{s}", dict(fn=_cmpeq(w))) for s, w in _SIZE.items()),
         *((f"PCMPGT{s}", dict(fn=L.cmpgt(w, W))) for s, w in _SIZE.items()),
         ("PMULLW", dict(fn=V._mul_low(2, W))), ("PMULLD", dict(fn=V._mul_low(4, W))),
         ("PMULHW", dict(fn=V._mul_high(2, W, True))),
         ("PMULHUW", dict(fn=V._mul_high(2, W, False))),
         ("PMULULQ", dict(fn=V._mul_dq(W, False))), ("PMULDQ", dict(fn=V._mul_dq(W, True))),
         ("PMULHRSW", dict(fn=V._mulhrs(W))), ("PMADDWL", dict(fn=V._pmaddwd(W))),
         ("PMADDUBSW", dict(fn=V._pmaddubsw(W))), ("PSADBW", dict(fn=V._psadbw(W))),
         ("PAVGB", dict(fn=L.average(1, W))), ("PAVGW", dict(fn=L.average(2, W))),
         ("PSIGNB", dict(fn=L.psign(1, W))), ("PSIGNW", dict(fn=L.psign(2, W))),
         ("PSIGND", dict(fn=L.psign(4, W))),
         ("PHADDW", dict(fn=V._horizontal(2, W, False, False))),
         ("PHADDD", dict(fn=V._horizontal(4, W, False, False))),
         ("PHADDSW", dict(fn=V._horizontal(2, W, False, True))),
         ("PHSUBW", dict(fn=V._horizontal(2, W, True, False))),
         ("PHSUBD", dict(fn=V._horizontal(4, W, True, False))),
         ("PHSUBSW", dict(fn=V._horizontal(2, W, True, True))))
def lanewise(e, args, fn):
    """``OP src, dst``: ``dst = fn(dst, src)`` lane by lane (SDM Vol. 2, the instruction
    pages of PADDSB ... PHSUBSW: saturating arithmetic, min/max, compares producing
    all-ones lanes, multiplies keeping the low or high half, averages rounding up,
    PSIGN, horizontal add/subtract with dst's pairs in the low half)."""
    binary(e, args, fn)


@handles(("PABSB", dict(fn=L.absolute(1, W))), ("PABSW", dict(fn=L.absolute(2, W))),
         ("PABSD", dict(fn=L.absolute(4, W))),
         ("PHMINPOSUW", dict(fn=_phminposuw)))
def unary_op(e, args, fn):
    """``PABSB src, dst``: absolute values of src's signed lanes (0x80 stays 0x80);
    ``PHMINPOSUW``: the minimum unsigned word of src and its lowest index in bits 18:16,
    the rest zeroed (SDM: PABSB/PABSW/PABSD, PHMINPOSUW)."""
    unary(e, args, fn)


def binary_imm(e, args, make) -> None:
    """``OP $imm, src, dst``: :func:`binary` with the value function ``make(imm)`` chosen
    at load time (the immediate is part of the instruction)."""
    i, src, dst = need(args, 3)
    binary(e, (src, dst), make(imm8(i)))


def unary_imm(e, args, make) -> None:
    """``OP $imm, src, dst``: :func:`unary` with ``make(imm)`` chosen at load time."""
    i, src, dst = need(args, 3)
    unary(e, (src, dst), make(imm8(i)))


@handles(("MPSADBW", {}))
def mpsadbw(e, args):
    """``MPSADBW $imm, src, dst``: eight sums of absolute differences of dst's 4-byte
    windows (offset imm[2]*4) against src's block imm[1:0] (SDM: MPSADBW)."""
    binary_imm(e, args, lambda imm: V._mpsadbw(W, imm & 7))


# --------------------------------------------------------------------------- PTEST

def _ptest(d, s) -> int:
    return (0 if s & d else fl.ZF) | (0 if s & ~d else fl.CF)


@handles(("PTEST", {}))
def ptest(e, args):
    """``PTEST src, dst``: ZF = (src & dst) == 0, CF = (src & ~dst) == 0; AF, OF, PF and
    SF cleared (SDM: PTEST)."""
    src, dst = need(args, 2)
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 16)}")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {e.call(_ptest, f'xmm[{e.const(dst.index)}]', 's')})")
    e.next()


# --------------------------------------------------------------------------- shifts

_SHIFTS = tuple((f"P{k}{s}", k, w) for k in ("SLL", "SRL") for s, w in
                (("W", 2), ("L", 4), ("Q", 8))) + (("PSRAW", "SRA", 2), ("PSRAL", "SRA", 4))


@handles(*((n, dict(fn=L.shift_uniform(k, w, W))) for n, k, w in _SHIFTS))
def pshift(e, args, fn):
    """``PSLLW $n, dst`` / ``PSLLW src, dst``: shift every lane by an immediate count or
    by the unsigned 64-bit count in the low quadword of an XMM register or m128; counts
    of the lane width or more give 0 (logical) or the sign fill (arithmetic) (SDM:
    PSLLW/PSLLD/PSLLQ, PSRLW/PSRLD/PSRLQ, PSRAW/PSRAD)."""
    src, dst = need(args, 2)
    xmm(dst)
    if src.kind == "imm":
        n = e.const(src.value & 0xFF)
    else:
        e.emit(f"n = {read_src(e, src, 16)} & {MASK_TEXT[8]}")
        n = "n"
    e.write(dst, 16, e.call(fn, f"xmm[{e.const(dst.index)}]", n))
    e.next()


@handles(("PSLLO", dict(left=True)), ("PSRLO", dict(left=False)))
def pshift_bytes(e, args, left):
    """``PSLLO $n, dst``: shift the whole register by n bytes (n > 15 clears it) (SDM:
    PSLLDQ, PSRLDQ)."""
    src, dst = need(args, 2)
    xmm(dst)
    n = imm8(src)
    x = f"xmm[{e.const(dst.index)}]"
    if n > 15:
        e.write(dst, 16, "0")
    elif left:
        e.write(dst, 16, f"({x} << {8 * n}) & {MASK_TEXT[16]}")
    else:
        e.write(dst, 16, f"{x} >> {8 * n}")
    e.next()


@handles(("PALIGNR", {}))
def palignr(e, args):
    """``PALIGNR $imm, src, dst``: dst = bytes imm..imm+15 of the 32-byte dst:src (SDM:
    PALIGNR)."""
    binary_imm(e, args, lambda imm: P._palignr(W, imm))


# --------------------------------------------------------------------------- pack/unpack

_PACKS = (("PACKSSWB", 2, False), ("PACKSSLW", 4, False), ("PACKUSWB", 2, True),
          ("PACKUSDW", 4, True))
_UNPACKS = (("BW", 1), ("WL", 2), ("LQ", 4), ("QDQ", 8))


@handles(*((n, dict(fn=P._pack(w, W, u))) for n, w, u in _PACKS),
         *((f"PUNPCKL{s}", dict(fn=vec.interleaver(w, W, False))) for s, w in _UNPACKS),
         *((f"PUNPCKH{s}", dict(fn=vec.interleaver(w, W, True))) for s, w in _UNPACKS))
def pack(e, args, fn):
    """``PACKSSWB src, dst``: dst's then src's signed lanes narrowed with signed or
    unsigned saturation; ``PUNPCKLBW src, dst``: interleave the low (H: high) halves,
    dst's lane first (SDM: PACKSSWB/PACKSSDW, PACKUSWB, PACKUSDW, PUNPCKLBW ...
    PUNPCKHQDQ)."""
    binary(e, args, fn)


@handles(("PSHUFB", {}))
def pshufb(e, args):
    """``PSHUFB src, dst``: byte i of dst = old dst byte src[i] & 15, or 0 when bit 7 of
    src[i] is set (SDM: PSHUFB)."""
    binary(e, args, P._pshufb(W))


@handles(("PSHUFD", dict(kind="D", ew=4)), ("PSHUFL", dict(kind="D", ew=4)),
         ("PSHUFLW", dict(kind="LW", ew=2)), ("PSHUFHW", dict(kind="HW", ew=2)))
def pshuf(e, args, kind, ew):
    """``PSHUFD $imm, src, dst``: dst lane i = src lane imm[2i+1:2i] (PSHUFLW/PSHUFHW:
    the low/high four words, the other half copied) (SDM: PSHUFD, PSHUFLW, PSHUFHW)."""
    unary_imm(e, args, lambda imm: _pshuf(kind, ew, imm))


@handles(("PBLENDW", {}))
def pblendw(e, args):
    """``PBLENDW $imm, src, dst``: word i from src when imm bit i is set (SDM: PBLENDW)."""
    binary_imm(e, args, lambda imm: P._blend_imm(2, W, imm, True))


@handles(("PBLENDVB", dict(fn=blendv_lanes(1))))
def pblendvb(e, args, fn):
    """``PBLENDVB X0, src, dst``: byte i from src when bit 7 of byte i of X0 is set (SDM:
    PBLENDVB)."""
    blendv(e, args, fn)


def _pmovx(sew: int, dew: int, signed: bool):
    fn = P._extend(sew, dew, W, signed)
    mask = (1 << (8 * W // dew * sew)) - 1

    def extend(s: int) -> int:
        return fn(s & mask)
    return extend


_PMOVX = (("BW", 1, 2), ("BD", 1, 4), ("BQ", 1, 8), ("WD", 2, 4), ("WQ", 2, 8), ("DQ", 4, 8))


@handles(*((f"PMOV{k}X{s}", dict(fn=_pmovx(a, b, k == "S"), mem_width=16 // b * a))
           for k in ("S", "Z") for s, a, b in _PMOVX))
def pmovx(e, args, fn, mem_width):
    """``PMOVZXBW src, dst``: sign/zero-extend the low lanes of src (an XMM register or
    8/4/2 bytes of memory, no alignment needed) (SDM: PMOVSX, PMOVZX)."""
    unary(e, args, fn, mem_width=mem_width)


_MSB_GATHER = 0x2040810204081
"""``(x & 0x8080808080808080) * _MSB_GATHER >> 56 & 0xFF`` gathers the top bits of the
eight bytes of x into one byte (each byte's bit lands at bit 56 + its index, no carries)."""


@handles(("PMOVMSKB", {}))
def pmovmskb(e, args):
    """``PMOVMSKB X, r``: bit i of r32 = bit 7 of byte i of X, upper bits zeroed (SDM:
    PMOVMSKB)."""
    src, dst = need(args, 2)
    if src.kind != "xmm" or dst.kind != "gpr":
        raise BadForm("needs XMM source and register destination")
    e.emit(f"s = {e.read(src, 16)} & 0x80808080808080808080808080808080")
    e.write(dst, 4, f"((s & 0xFFFFFFFFFFFFFFFF) * {_MSB_GATHER} >> 56 & 0xFF | "
                    f"(s >> 64) * {_MSB_GATHER} >> 48 & 0xFF00) if s else 0")
    e.next()

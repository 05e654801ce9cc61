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
from goasm.machine.ops.base import MASK_TEXT, BadForm, handles
from goasm.machine.ops.lanes import (M128, binary, blendv, blendv_lanes, imm8, join, need,
                                     read_src, repeat, split, split_signed, unary, xmm)

_SIZE = {"B": 1, "W": 2, "L": 4, "Q": 8}


# --------------------------------------------------------------------------- arithmetic

def _swar_add(width: int):
    h = repeat(1 << (8 * width - 1), width)
    low = M128 ^ h

    def add(d, s):
        return ((d & low) + (s & low)) ^ ((d ^ s) & h)
    return add


def _swar_sub(width: int):
    h = repeat(1 << (8 * width - 1), width)
    low = M128 ^ h

    def sub(d, s):
        return ((d | h) - (s & low)) ^ ((d ^ s ^ h) & h)
    return sub


@handles(*((f"PADD{s}", dict(fn=_swar_add(w))) for s, w in _SIZE.items()),
         *((f"PSUB{s}", dict(fn=_swar_sub(w))) for s, w in _SIZE.items()))
def padd(e, args, fn):
    """``PADDB src, dst`` ...: lane-wise wrapping add/subtract (SDM: PADDB/PADDW/PADDD/
    PADDQ, PSUBB/PSUBW/PSUBD/PSUBQ)."""
    binary(e, args, fn)


def _lanewise(width: int, is_signed: bool, op):
    get = split_signed if is_signed else split

    def fn(d, s):
        return join(map(op, get(d, width), get(s, width)), width)
    return fn


def _clamp(lo, hi):
    def clamp(v):
        return lo if v < lo else hi if v > hi else v
    return clamp


def _sat(width, is_signed, sign):
    bits = 8 * width
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if is_signed else (0, (1 << bits) - 1)
    c = _clamp(lo, hi)
    if sign > 0:
        return _lanewise(width, is_signed, lambda a, b: c(a + b))
    return _lanewise(width, is_signed, lambda a, b: c(a - b))


_SATURATING = (
    ("PADDSB", 1, True, 1), ("PADDSW", 2, True, 1), ("PADDUSB", 1, False, 1),
    ("PADDUSW", 2, False, 1), ("PSUBSB", 1, True, -1), ("PSUBSW", 2, True, -1),
    ("PSUBUSB", 1, False, -1), ("PSUBUSW", 2, False, -1),
)

_MINMAX = (
    ("PMINUB", 1, False, min), ("PMAXUB", 1, False, max), ("PMINSW", 2, True, min),
    ("PMAXSW", 2, True, max), ("PMINSB", 1, True, min), ("PMAXSB", 1, True, max),
    ("PMINUW", 2, False, min), ("PMAXUW", 2, False, max), ("PMINUD", 4, False, min),
    ("PMAXUD", 4, False, max), ("PMINSD", 4, True, min), ("PMAXSD", 4, True, max),
)


def _cmpeq(width):
    if width == 1:
        table = bytes([0xFF] + [0] * 255)

        def eqb(d, s):
            return int.from_bytes((d ^ s).to_bytes(16, "little").translate(table), "little")
        return eqb
    m = (1 << (8 * width)) - 1
    return _lanewise(width, False, lambda a, b: m if a == b else 0)


def _cmpgt(width):
    m = (1 << (8 * width)) - 1
    return _lanewise(width, True, lambda a, b: m if a > b else 0)


def _mulhi(bits, is_signed):
    return _lanewise(bits // 8, is_signed, lambda a, b: (a * b) >> bits)


def _pmuludq(d, s):
    return (((d & 0xFFFFFFFF) * (s & 0xFFFFFFFF))
            | (((d >> 64) & 0xFFFFFFFF) * ((s >> 64) & 0xFFFFFFFF)) << 64)


def _pmuldq(d, s):
    a = split_signed(d, 4)
    b = split_signed(s, 4)
    return join((a[0] * b[0], a[2] * b[2]), 8)


def _pmulhrsw(d, s):
    pairs = zip(split_signed(d, 2), split_signed(s, 2))
    return join([((a * b >> 14) + 1) >> 1 for a, b in pairs], 2)


def _pmaddwd(d, s):
    p = [a * b for a, b in zip(split_signed(d, 2), split_signed(s, 2))]
    return join([p[i] + p[i + 1] for i in range(0, 8, 2)], 4)


_SAT16 = _clamp(-0x8000, 0x7FFF)


def _pmaddubsw(d, s):
    # dst bytes unsigned, src bytes signed (SDM PMADDUBSW).
    p = [a * b for a, b in zip(split(d, 1), split_signed(s, 1))]
    return join([_SAT16(p[i] + p[i + 1]) for i in range(0, 16, 2)], 2)


def _psadbw(d, s):
    a, b = split(d, 1), split(s, 1)
    lo = sum(abs(a[i] - b[i]) for i in range(8))
    hi = sum(abs(a[i] - b[i]) for i in range(8, 16))
    return lo | hi << 64


def _mpsadbw(d, s, imm):
    a, b = split(d, 1), split(s, 1)
    ao = (imm >> 2 & 1) * 4
    bo = (imm & 3) * 4
    out = []
    for i in range(8):
        out.append(sum(abs(a[ao + i + j] - b[bo + j]) for j in range(4)))
    return join(out, 2)


def _avg(width):
    return _lanewise(width, False, lambda a, b: (a + b + 1) >> 1)


def _abs(width):
    def fn(s):
        return join([abs(x) for x in split_signed(s, width)], width)
    return fn


def _sign(width):
    return _lanewise(width, True, lambda a, b: -a if b < 0 else 0 if b == 0 else a)


def _hop(width, op, sat):
    def fn(d, s):
        a = split_signed(d, width)
        b = split_signed(s, width)
        out = [op(a[i], a[i + 1]) for i in range(0, len(a), 2)]
        out += [op(b[i], b[i + 1]) for i in range(0, len(b), 2)]
        if sat:
            out = [_SAT16(v) for v in out]
        return join(out, width)
    return fn


def _phminposuw(s):
    w = split(s, 2)
    m = min(w)
    return m | w.index(m) << 16


@handles(*((n, dict(fn=_sat(w, sg, sign))) for n, w, sg, sign in _SATURATING),
         *((n, dict(fn=_lanewise(w, sg, f))) for n, w, sg, f in _MINMAX),
         *((f"PCMPEQ{s}", dict(fn=_cmpeq(w))) for s, w in _SIZE.items()),
         *((f"PCMPGT{s}", dict(fn=_cmpgt(w))) for s, w in _SIZE.items()),
         ("PMULLW", dict(fn=_lanewise(2, False, lambda a, b: a * b))),
         ("PMULLD", dict(fn=_lanewise(4, False, lambda a, b: a * b))),
         ("PMULHW", dict(fn=_mulhi(16, True))), ("PMULHUW", dict(fn=_mulhi(16, False))),
         ("PMULULQ", dict(fn=_pmuludq)), ("PMULDQ", dict(fn=_pmuldq)),
         ("PMULHRSW", dict(fn=_pmulhrsw)), ("PMADDWL", dict(fn=_pmaddwd)),
         ("PMADDUBSW", dict(fn=_pmaddubsw)), ("PSADBW", dict(fn=_psadbw)),
         ("PAVGB", dict(fn=_avg(1))), ("PAVGW", dict(fn=_avg(2))),
         ("PSIGNB", dict(fn=_sign(1))), ("PSIGNW", dict(fn=_sign(2))),
         ("PSIGND", dict(fn=_sign(4))),
         ("PHADDW", dict(fn=_hop(2, lambda a, b: a + b, False))),
         ("PHADDD", dict(fn=_hop(4, lambda a, b: a + b, False))),
         ("PHADDSW", dict(fn=_hop(2, lambda a, b: a + b, True))),
         ("PHSUBW", dict(fn=_hop(2, lambda a, b: a - b, False))),
         ("PHSUBD", dict(fn=_hop(4, lambda a, b: a - b, False))),
         ("PHSUBSW", dict(fn=_hop(2, lambda a, b: a - b, True))))
def lanewise(e, args, fn):
    """``OP src, dst``: ``dst = fn(dst, src)`` lane by lane (SDM Vol. 2, the instruction
    pages of PADDSB ... PHSUBSW: saturating arithmetic, min/max, compares producing
    all-ones lanes, multiplies keeping the low or high half, averages rounding up,
    PSIGN, horizontal add/subtract with dst's pairs in the low half)."""
    binary(e, args, fn)


@handles(("PABSB", dict(fn=_abs(1))), ("PABSW", dict(fn=_abs(2))),
         ("PABSD", dict(fn=_abs(4))),
         ("PHMINPOSUW", dict(fn=_phminposuw)))
def unary_op(e, args, fn):
    """``PABSB src, dst``: absolute values of src's signed lanes (0x80 stays 0x80);
    ``PHMINPOSUW``: the minimum unsigned word of src and its lowest index in bits 18:16,
    the rest zeroed (SDM: PABSB/PABSW/PABSD, PHMINPOSUW)."""
    unary(e, args, fn)


@handles(("MPSADBW", dict(fn=_mpsadbw)))
def mpsadbw(e, args, fn):
    """``MPSADBW $imm, src, dst``: eight sums of absolute differences of dst's 4-byte
    windows (offset imm[2]*4) against src's block imm[1:0] (SDM: MPSADBW)."""
    binary(e, args, fn, imm=True)


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

def _shift_fn(kind: str, width: int):
    bits = 8 * width

    def by_count(d, n):
        if kind == "SRA":
            if n >= bits:
                n = bits - 1
            return join([v >> n for v in split_signed(d, width)], width)
        if n >= bits:
            return 0
        lane = (1 << bits) - 1
        if kind == "SLL":
            return (d << n) & repeat((lane << n) & lane, width)
        return (d >> n) & repeat(lane >> n, width)
    return by_count


_SHIFTS = tuple((f"P{k}{s}", k, w) for k in ("SLL", "SRL") for s, w in
                (("W", 2), ("L", 4), ("Q", 8))) + (("PSRAW", "SRA", 2), ("PSRAL", "SRA", 4))


@handles(*((n, dict(fn=_shift_fn(k, w))) for n, k, w in _SHIFTS))
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


def _palignr(d, s, imm):
    return ((d << 128 | s) >> (8 * imm)) & M128 if imm < 32 else 0


@handles(("PALIGNR", {}))
def palignr(e, args):
    """``PALIGNR $imm, src, dst``: dst = bytes imm..imm+15 of the 32-byte dst:src (SDM:
    PALIGNR)."""
    binary(e, args, _palignr, imm=True)


# --------------------------------------------------------------------------- pack/unpack

def _pack(width, lo, hi):
    c = _clamp(lo, hi)

    def fn(d, s):
        return join([c(v) for v in split_signed(d, width) + split_signed(s, width)], width // 2)
    return fn


def _unpack(width, high):
    half = 8 // width

    def fn(d, s):
        a = split(d, width)
        b = split(s, width)
        base = half if high else 0
        out = []
        for i in range(base, base + half):
            out += (a[i], b[i])
        return join(out, width)
    return fn


_PACKS = (("PACKSSWB", 2, -0x80, 0x7F), ("PACKSSLW", 4, -0x8000, 0x7FFF),
          ("PACKUSWB", 2, 0, 0xFF), ("PACKUSDW", 4, 0, 0xFFFF))
_UNPACKS = (("BW", 1), ("WL", 2), ("LQ", 4), ("QDQ", 8))


@handles(*((n, dict(fn=_pack(w, lo, hi))) for n, w, lo, hi in _PACKS),
         *((f"PUNPCKL{s}", dict(fn=_unpack(w, False))) for s, w in _UNPACKS),
         *((f"PUNPCKH{s}", dict(fn=_unpack(w, True))) for s, w in _UNPACKS))
def pack(e, args, fn):
    """``PACKSSWB src, dst``: dst's then src's signed lanes narrowed with signed or
    unsigned saturation; ``PUNPCKLBW src, dst``: interleave the low (H: high) halves,
    dst's lane first (SDM: PACKSSWB/PACKSSDW, PACKUSWB, PACKUSDW, PUNPCKLBW ...
    PUNPCKHQDQ)."""
    binary(e, args, fn)


def _pshufb(d, s):
    a = d.to_bytes(16, "little")
    return int.from_bytes(bytes(0 if c & 0x80 else a[c & 15] for c in s.to_bytes(16, "little")),
                          "little")


def _pshufd(s, imm):
    a = split(s, 4)
    return join([a[imm >> (2 * i) & 3] for i in range(4)], 4)


def _pshuflw(s, imm):
    a = split(s, 2)
    return join([a[imm >> (2 * i) & 3] for i in range(4)] + list(a[4:]), 2)


def _pshufhw(s, imm):
    a = split(s, 2)
    return join(list(a[:4]) + [a[4 + (imm >> (2 * i) & 3)] for i in range(4)], 2)


@handles(("PSHUFB", {}))
def pshufb(e, args):
    """``PSHUFB src, dst``: byte i of dst = old dst byte src[i] & 15, or 0 when bit 7 of
    src[i] is set (SDM: PSHUFB)."""
    binary(e, args, _pshufb)


@handles(("PSHUFD", dict(fn=_pshufd)), ("PSHUFL", dict(fn=_pshufd)),
         ("PSHUFLW", dict(fn=_pshuflw)), ("PSHUFHW", dict(fn=_pshufhw)))
def pshuf(e, args, fn):
    """``PSHUFD $imm, src, dst``: dst lane i = src lane imm[2i+1:2i] (PSHUFLW/PSHUFHW:
    the low/high four words, the other half copied) (SDM: PSHUFD, PSHUFLW, PSHUFHW)."""
    unary(e, args, fn, imm=True)


def _pblendw(d, s, imm):
    a, b = split(d, 2), split(s, 2)
    return join([b[i] if imm >> i & 1 else a[i] for i in range(8)], 2)


@handles(("PBLENDW", {}))
def pblendw(e, args):
    """``PBLENDW $imm, src, dst``: word i from src when imm bit i is set (SDM: PBLENDW)."""
    binary(e, args, _pblendw, imm=True)


@handles(("PBLENDVB", dict(fn=blendv_lanes(1))))
def pblendvb(e, args, fn):
    """``PBLENDVB X0, src, dst``: byte i from src when bit 7 of byte i of X0 is set (SDM:
    PBLENDVB)."""
    blendv(e, args, fn)


def _pmovx(src_w, dst_w, is_signed):
    n = 16 // dst_w
    bits = 8 * src_w
    m = (1 << bits) - 1

    def fn(s):
        out = []
        for i in range(n):
            v = s >> (bits * i) & m
            if is_signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
        return join(out, dst_w)
    return fn


_PMOVX = (("BW", 1, 2), ("BD", 1, 4), ("BQ", 1, 8), ("WD", 2, 4), ("WQ", 2, 8), ("DQ", 4, 8))


@handles(*((f"PMOV{k}X{s}", dict(fn=_pmovx(a, b, k == "S"), mem_width=16 // b * a))
           for k in ("S", "Z") for s, a, b in _PMOVX))
def pmovx(e, args, fn, mem_width):
    """``PMOVZXBW src, dst``: sign/zero-extend the low lanes of src (an XMM register or
    8/4/2 bytes of memory, no alignment needed) (SDM: PMOVSX, PMOVZX)."""
    unary(e, args, fn, mem_width=mem_width)


def _pmovmskb(s):
    return int(s.to_bytes(16, "little").translate(_MSB_ASCII)[::-1], 2)


_MSB_ASCII = bytes([0x30] * 128 + [0x31] * 128)


@handles(("PMOVMSKB", {}))
def pmovmskb(e, args):
    """``PMOVMSKB X, r``: bit i of r32 = bit 7 of byte i of X, upper bits zeroed (SDM:
    PMOVMSKB)."""
    src, dst = need(args, 2)
    if src.kind != "xmm" or dst.kind != "gpr":
        raise BadForm("needs XMM source and register destination")
    e.write(dst, 4, e.call(_pmovmskb, e.read(src, 16)))
    e.next()

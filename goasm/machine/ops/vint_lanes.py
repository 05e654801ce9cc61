"""Lane arithmetic on whole Python ints for the integer SIMD families (``vint*``
modules); this module registers no handlers.

A vector of ``width`` bytes is one unsigned int, element 0 in the least significant
``ew`` bytes (Intel SDM Vol. 1, 4.6.1 "Packed data types"). Every function here is a
*factory* cached per (element width, vector width, ...) that returns the value function
a handler passes to its generated code as a constant, so the constants (lane masks,
``struct`` formats) are computed once, at load time (DESIGN.md, "Performance design").

Two techniques, chosen per operation:

* SWAR ("SIMD within a register"): a few big-int operations on the whole vector, with
  the top bit of every lane handled separately so that no carry or borrow crosses a
  lane (:func:`goasm.machine.ops.vec.add_lanes` is the model). Used wherever the
  semantics allow: saturating add/subtract, compares, min/max, averages, absolute
  value, PSIGN, shifts by a uniform count, rotates and funnel shifts by an immediate,
  population counts. These cost the same few operations at 128, 256 or 512 bits.
* ``struct`` unpacking into a tuple of elements, ``map`` over them, one ``pack``: for
  multiplies, variable shifts and everything whose lanes interact.

Opmask results (compares, VPTESTM, VPMOV*2M) use :func:`movemask`: the top bit of each
lane gathered into an int, by slicing the vector's bytes.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from goasm.machine.ops.vec import FULL, high_bits, repeat

_FMT = {1: "b", 2: "h", 4: "i", 8: "q"}
_MSB_DIGIT = bytes([0x30] * 128 + [0x31] * 128)     # byte -> "0"/"1" by its top bit


# --------------------------------------------------------------------------- struct

@lru_cache(maxsize=None)
def fmt(ew: int, count: int, signed: bool) -> struct.Struct:
    """``struct`` for ``count`` little-endian elements of ``ew`` bytes."""
    c = _FMT[ew]
    return struct.Struct(f"<{count}{c if signed else c.upper()}")


@lru_cache(maxsize=None)
def unpacker(ew: int, width: int, signed: bool = False):
    """``fn(value) -> tuple`` of the ``width // ew`` elements of a ``width``-byte value."""
    unpack = fmt(ew, width // ew, signed).unpack

    def fn(value: int) -> tuple:
        return unpack(value.to_bytes(width, "little"))
    return fn


@lru_cache(maxsize=None)
def packer(ew: int, width: int, signed: bool = False):
    """``fn(elements) -> int``: the inverse of :func:`unpacker`; the elements must be in
    range for the format (signed or unsigned ``ew`` bytes)."""
    pack = fmt(ew, width // ew, signed).pack

    def fn(elements) -> int:
        return int.from_bytes(pack(*elements), "little")
    return fn


@lru_cache(maxsize=None)
def map2(op, ew: int, width: int, signed: bool = False, out_signed: bool | None = None):
    """``fn(a, b)``: element i of the result is ``op(a[i], b[i])`` (elements signed or
    not); ``op`` returns a value in range for the output format (``out_signed``,
    default ``signed``)."""
    ua = unpacker(ew, width, signed)
    pk = packer(ew, width, signed if out_signed is None else out_signed)

    def fn(a: int, b: int) -> int:
        return pk(map(op, ua(a), ua(b)))
    return fn


@lru_cache(maxsize=None)
def map1(op, ew: int, width: int, signed: bool = False, out_signed: bool | None = None):
    """``fn(a)``: element i of the result is ``op(a[i])`` (see :func:`map2`)."""
    ua = unpacker(ew, width, signed)
    pk = packer(ew, width, signed if out_signed is None else out_signed)

    def fn(a: int) -> int:
        return pk(map(op, ua(a)))
    return fn


# --------------------------------------------------------------------------- masks

@lru_cache(maxsize=None)
def movemask(ew: int, width: int):
    """``fn(value) -> int``: bit i = the top bit of element i (SDM: PMOVMSKB,
    VPMOVB2M ...); also turns an all-ones/all-zeros lane mask into opmask bits."""
    def fn(value: int) -> int:
        return int(value.to_bytes(width, "little")[ew - 1::ew].translate(_MSB_DIGIT)[::-1], 2)
    return fn


@lru_cache(maxsize=None)
def spreader(ew: int, width: int):
    """``fn(tops) -> int``: every lane whose top bit is set in ``tops`` (only top bits
    set) becomes all ones, the others 0 (one multiplication: no carry crosses lanes)."""
    shift = 8 * ew - 1
    lane = FULL[ew]

    def fn(tops: int) -> int:
        return (tops >> shift) * lane
    return fn


@lru_cache(maxsize=None)
def nonzero_tops(ew: int, width: int):
    """``fn(x) -> int``: the top bit of every lane of ``x`` that is not zero."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h

    def fn(x: int) -> int:
        return (((x & low) + low) | x) & h
    return fn


@lru_cache(maxsize=None)
def ugt_tops(ew: int, width: int):
    """``fn(a, b) -> int``: the top bit of every lane where a > b (unsigned): the borrow
    out of the lane-wise ``b - a``."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h

    def fn(a: int, b: int) -> int:
        d = ((b | h) - (a & low)) ^ ((b ^ ~a) & h)
        return ((~b & a) | (~(b ^ a) & d)) & h
    return fn


@lru_cache(maxsize=None)
def sgt_tops(ew: int, width: int):
    """``fn(a, b) -> int``: the top bit of every lane where a > b (signed): the unsigned
    compare with the sign bits flipped."""
    h = high_bits(ew, width)
    ugt = ugt_tops(ew, width)

    def fn(a: int, b: int) -> int:
        return ugt(a ^ h, b ^ h)
    return fn


@lru_cache(maxsize=None)
def cmpeq(ew: int, width: int):
    """``fn(a, b)``: all ones in every lane where a == b (SDM: PCMPEQB/W/D/Q); bytes go
    through a 256-entry translation table (0 -> 0xFF, else 0)."""
    if ew == 1:
        table = bytes([0xFF] + [0] * 255)

        def eqb(a: int, b: int) -> int:
            return int.from_bytes((a ^ b).to_bytes(width, "little").translate(table), "little")
        return eqb
    h = high_bits(ew, width)
    nz = nonzero_tops(ew, width)
    spread = spreader(ew, width)

    def fn(a: int, b: int) -> int:
        return spread(nz(a ^ b) ^ h)
    return fn


@lru_cache(maxsize=None)
def cmpgt(ew: int, width: int, signed: bool = True):
    """``fn(a, b)``: all ones in every lane where a > b (SDM: PCMPGTB/W/D/Q)."""
    gt = (sgt_tops if signed else ugt_tops)(ew, width)
    spread = spreader(ew, width)

    def fn(a: int, b: int) -> int:
        return spread(gt(a, b))
    return fn


# --------------------------------------------------------------------------- arithmetic

@lru_cache(maxsize=None)
def add_sub(ew: int, width: int, subtract: bool):
    """``fn(a, b)``: lane-wise ``a + b`` (``subtract``: ``a - b``) modulo the lane size
    (SDM: PADDB/W/D/Q, PSUBB/W/D/Q): :func:`goasm.machine.ops.vec.add_lanes` and
    ``sub_lanes`` with their constants bound once."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h

    if subtract:
        def fn(a: int, b: int) -> int:
            return ((a | h) - (b & low)) ^ ((a ^ ~b) & h)
    else:
        def fn(a: int, b: int) -> int:
            return ((a & low) + (b & low)) ^ ((a ^ b) & h)
    return fn


@lru_cache(maxsize=None)
def saturating(ew: int, width: int, signed: bool, subtract: bool):
    """``fn(a, b)``: lane-wise ``a + b`` (``subtract``: ``a - b``) clamped to the lane's
    signed or unsigned range (SDM: PADDSB/W, PADDUSB/W, PSUBSB/W, PSUBUSB/W)."""
    h = high_bits(ew, width)
    full = FULL[width]
    low = full ^ h
    spread = spreader(ew, width)
    shift = 8 * ew - 1
    maxpos = low & repeat(ew, width) * (FULL[ew] >> 1)      # 0x7F.. in every lane

    if not signed and not subtract:
        def fn(a: int, b: int) -> int:
            s = ((a & low) + (b & low)) ^ ((a ^ b) & h)
            return s | spread(((a & b) | ((a | b) & ~s)) & h)
    elif not signed:
        def fn(a: int, b: int) -> int:
            d = ((a | h) - (b & low)) ^ ((a ^ ~b) & h)
            return d & ~spread(((~a & b) | (~(a ^ b) & d)) & h)
    elif not subtract:
        def fn(a: int, b: int) -> int:
            s = ((a & low) + (b & low)) ^ ((a ^ b) & h)
            ov = ~(a ^ b) & (a ^ s) & h
            if not ov:
                return s
            m = spread(ov)
            return (s & ~m) | ((maxpos + ((a & h) >> shift)) & m)
    else:
        def fn(a: int, b: int) -> int:
            d = ((a | h) - (b & low)) ^ ((a ^ ~b) & h)
            ov = (a ^ b) & (a ^ d) & h
            if not ov:
                return d
            m = spread(ov)
            return (d & ~m) | ((maxpos + ((a & h) >> shift)) & m)
    return fn


@lru_cache(maxsize=None)
def minmax(ew: int, width: int, signed: bool, want_max: bool):
    """``fn(a, b)``: lane-wise min or max, signed or unsigned (SDM: PMINSB ... PMAXUQ)."""
    gt = (sgt_tops if signed else ugt_tops)(ew, width)
    spread = spreader(ew, width)
    full = FULL[width]

    if want_max:
        def fn(a: int, b: int) -> int:
            m = spread(gt(a, b))
            return (a & m) | (b & ~m & full)
    else:
        def fn(a: int, b: int) -> int:
            m = spread(gt(a, b))
            return (b & m) | (a & ~m & full)
    return fn


@lru_cache(maxsize=None)
def absdiff(ew: int, width: int):
    """``fn(a, b)``: lane-wise ``|a - b|`` of unsigned lanes: max minus min, which never
    borrows across lanes."""
    gt = ugt_tops(ew, width)
    spread = spreader(ew, width)
    full = FULL[width]

    def fn(a: int, b: int) -> int:
        m = spread(gt(a, b))
        return ((a & m) | (b & ~m & full)) - ((b & m) | (a & ~m & full))
    return fn


@lru_cache(maxsize=None)
def fold_sum(ew: int, to_ew: int, width: int):
    """``fn(a)``: the sum of every group of ``ew``-byte unsigned lanes within each
    ``to_ew``-byte lane, left in that lane (adjacent halves added pairwise, widening at
    each step; the sums must fit their lane)."""
    steps = []
    size = ew
    while size < to_ew:
        steps.append((8 * size, repeat(2 * size, width) * FULL[size]))
        size *= 2

    def fn(x: int) -> int:
        for shift, mask in steps:
            x = (x & mask) + ((x >> shift) & mask)
        return x
    return fn


@lru_cache(maxsize=None)
def average(ew: int, width: int):
    """``fn(a, b)``: lane-wise ``(a + b + 1) >> 1`` unsigned, as ``(a | b) - ((a ^ b) >>
    1)`` per lane (SDM: PAVGB, PAVGW)."""
    low = FULL[width] ^ high_bits(ew, width)

    def fn(a: int, b: int) -> int:
        return (a | b) - (((a ^ b) >> 1) & low)
    return fn


@lru_cache(maxsize=None)
def absolute(ew: int, width: int):
    """``fn(a)``: lane-wise absolute value of signed lanes, the most negative value
    unchanged (SDM: PABSB/W/D/Q): ``(a ^ m) - m`` with m the lane's sign spread."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h
    spread = spreader(ew, width)

    def fn(a: int) -> int:
        m = spread(a & h)
        x = a ^ m
        return ((x | h) - (m & low)) ^ ((x ^ ~m) & h)
    return fn


@lru_cache(maxsize=None)
def psign(ew: int, width: int):
    """``fn(a, b)``: lane i = -a[i] if b[i] < 0, 0 if b[i] == 0, else a[i] (SDM: PSIGNB/W/D)."""
    h = high_bits(ew, width)
    full = FULL[width]
    low = full ^ h
    spread = spreader(ew, width)
    nz = nonzero_tops(ew, width)

    def fn(a: int, b: int) -> int:
        m = spread(b & h)
        x = a ^ m
        neg = ((x | h) - (m & low)) ^ ((x ^ ~m) & h)
        return neg & spread(nz(b))
    return fn


@lru_cache(maxsize=None)
def popcount(ew: int, width: int):
    """``fn(a)``: the number of set bits of every lane (SDM: VPOPCNTB/W/D/Q), by the
    classic SWAR reduction (bit pairs, nibbles, bytes, then wider sums)."""
    r = repeat(1, width)
    m1, m2, m4 = 0x55 * r, 0x33 * r, 0x0F * r
    steps = []
    size = 1
    while size < ew:
        steps.append((8 * size, repeat(size * 2, width) * FULL[size]))
        size *= 2

    def fn(x: int) -> int:
        x = x - ((x >> 1) & m1)
        x = (x & m2) + ((x >> 2) & m2)
        x = (x + (x >> 4)) & m4
        for shift, mask in steps:
            x = (x + (x >> shift)) & mask
        return x
    return fn


# --------------------------------------------------------------------------- shifts

@lru_cache(maxsize=None)
def shift_uniform(kind: str, ew: int, width: int):
    """``fn(a, n)``: every lane shifted by the same count ``n`` (unsigned, any size):
    ``SLL``/``SRL`` give 0 and ``SRA`` the sign fill for counts of the lane width or
    more (SDM: PSLLW/D/Q, PSRLW/D/Q, PSRAW/D/Q)."""
    bits = 8 * ew
    lane = FULL[ew]
    h = high_bits(ew, width)
    spread = spreader(ew, width)
    keep_left = [repeat(ew, width) * ((lane << n) & lane) for n in range(bits)]
    keep_right = [repeat(ew, width) * (lane >> n) for n in range(bits)]

    if kind == "SLL":
        def fn(a: int, n: int) -> int:
            return (a << n) & keep_left[n] if n < bits else 0
    elif kind == "SRL":
        def fn(a: int, n: int) -> int:
            return (a >> n) & keep_right[n] if n < bits else 0
    else:
        def fn(a: int, n: int) -> int:
            if n >= bits:
                n = bits - 1
            return ((a >> n) & keep_right[n]) | (spread(a & h) & ~keep_right[n])
    return fn


@lru_cache(maxsize=None)
def rotate_imm(ew: int, width: int, n: int):
    """``fn(a)``: every lane rotated left by ``n`` (mod the lane width) (SDM: VPROLD/Q;
    VPRORD/Q rotate right, i.e. left by width - n)."""
    bits = 8 * ew
    n %= bits
    lane = FULL[ew]
    hi = repeat(ew, width) * ((lane << n) & lane)
    lo = repeat(ew, width) * (lane >> (bits - n)) if n else 0

    def fn(a: int) -> int:
        return ((a << n) & hi) | ((a >> (bits - n)) & lo) if n else a
    return fn


@lru_cache(maxsize=None)
def funnel_imm(ew: int, width: int, n: int, left: bool):
    """``fn(a, b)``: lane i of the concatenation ``a[i]:b[i]`` shifted left by ``n`` (mod
    the lane width), upper half (``left``: SDM VPSHLDW/D/Q); or ``b[i]:a[i]`` shifted
    right, lower half (VPSHRDW/D/Q)."""
    bits = 8 * ew
    n %= bits
    lane = FULL[ew]
    r = repeat(ew, width)
    if left:
        hi = r * ((lane << n) & lane)
        lo = r * (lane >> (bits - n)) if n else 0

        def fn(a: int, b: int) -> int:
            return ((a << n) & hi) | ((b >> (bits - n)) & lo) if n else a
    else:
        lo = r * (lane >> n)
        hi = r * ((lane << (bits - n)) & lane) if n else 0

        def fn(a: int, b: int) -> int:
            return ((a >> n) & lo) | ((b << (bits - n)) & hi) if n else a
    return fn

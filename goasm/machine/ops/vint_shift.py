"""VEX and EVEX integer shifts and rotates (Intel SDM Vol. 2, the page of each
instruction): VPSLLW/D/Q, VPSRLW/D/Q, VPSRAW/D/Q (by an immediate or by the count in
the low quadword of an XMM register or m128; VPSRAQ is EVEX only), the variable shifts
VPSLLVW/D/Q, VPSRLVW/D/Q, VPSRAVW/D/Q, the byte shifts VPSLLDQ/VPSRLDQ (per 128-bit
lane), rotates VPROLD/Q, VPRORD/Q and VPROLVD/Q, VPRORVD/Q, and the funnel shifts of
AVX512_VBMI2: VPSHLDW/D/Q, VPSHRDW/D/Q (immediate count) and VPSHLDVW/D/Q, VPSHRDVW/D/Q
(per-element counts, the destination supplying half of every concatenation).

A shift by one count for every lane is a SWAR formula on the whole vector
(:func:`goasm.machine.ops.vint_lanes.shift_uniform`); variable counts go element by
element.
"""

from __future__ import annotations

from functools import lru_cache

from goasm.machine.ops import vec
from goasm.machine.ops import vint_lanes as L
from goasm.machine.ops.vec import FULL, M128, vhandles
from goasm.machine.ops.vint import check_encoding, lanes_form

M64 = (1 << 64) - 1
_WDQ = (("W", 2), ("D", 4), ("Q", 8))


@lru_cache(maxsize=None)
def _by_imm(kind: str, ew: int, width: int, n: int):
    shift = L.shift_uniform(kind, ew, width)

    def fn(a: int) -> int:
        return shift(a, n)
    return fn


_UNIFORM = tuple((f"VP{k}{s}", dict(kind=k, ew=w)) for k in ("SLL", "SRL", "SRA")
                 for s, w in _WDQ)


@vhandles(*_UNIFORM)
def vshift(e, args, kind, ew):
    """``VPSLLD $n, src, [K,] dst`` / ``VPSLLD count, src, [K,] dst``: every lane of src
    shifted by the immediate, or by the unsigned 64-bit count in the low quadword of an
    XMM register or m128; counts of the lane width or more give 0 (logical) or the sign
    fill (arithmetic) (SDM: PSLLW/D/Q, PSRLW/D/Q, PSRAW/D/Q; VPSRAQ is EVEX only). The
    immediate form's source may be memory (EVEX, with broadcast for D/Q)."""
    if args and args[0].kind == "imm":
        lanes_form(e, args, lambda w, n: _by_imm(kind, ew, w, n), ew, nsrc=1, imm=True)
        return
    v = vec.parse(args, e.ins, nsrc=2, bcst=False)
    check_encoding(v, e.ins)
    vec.need_vec(v.dst)
    src, count = v.srcs
    vec.need_vec(src, "source")
    vec.need_vec_or_mem(count, "count")
    if count.kind == "xmm":
        e.emit(f"n = xmm[{e.const(count.index)}] & {e.const(M64)}")
    else:
        e.emit(f"n = rd128({e.ea(count)}) & {e.const(M64)}")
    e.emit(f"a = {vec.read(e, v, src, ew)}")
    vec.write(e, v, e.call(L.shift_uniform(kind, ew, v.width), "a", "n"), ew)
    e.next()


@lru_cache(maxsize=None)
def _variable(kind: str, ew: int, width: int):
    bits = 8 * ew
    m = FULL[ew]
    if kind == "SLL":
        return L.map2(lambda x, n: (x << n) & m if n < bits else 0, ew, width)
    if kind == "SRL":
        return L.map2(lambda x, n: x >> n if n < bits else 0, ew, width)
    if kind == "SRA":
        ua = L.unpacker(ew, width, True)
        ub = L.unpacker(ew, width)
        pk = L.packer(ew, width, True)
        top = bits - 1

        def sra(a: int, b: int) -> int:
            return pk(map(lambda x, n: x >> (n if n < top else top), ua(a), ub(b)))
        return sra
    if kind == "ROL":
        return L.map2(lambda x, n: ((x << (n & bits - 1)) | (x >> (bits - (n & bits - 1)))) & m,
                      ew, width)
    return L.map2(lambda x, n: ((x >> (n & bits - 1)) | (x << (bits - (n & bits - 1)))) & m,
                  ew, width)


_VARIABLE = tuple((f"VP{k}V{s}", dict(kind=k, ew=w)) for k in ("SLL", "SRL", "SRA")
                  for s, w in _WDQ) + tuple(
    (f"VP{k}V{s}", dict(kind=k, ew=w)) for k in ("ROL", "ROR") for s, w in _WDQ[1:])


@vhandles(*_VARIABLE)
def vshiftv(e, args, kind, ew):
    """``VPSLLVD counts, src, [K,] dst``: lane i of src shifted by counts[i] (unsigned;
    logical shifts give 0 and VPSRAV* the sign fill for counts of the lane width or
    more); ``VPROLVD``/``VPRORVD`` rotate by counts[i] mod the lane width (SDM: VPSLLVW/
    D/Q, VPSRLVW/D/Q, VPSRAVW/D/Q, PROLD/PROLVD ... PRORVQ)."""
    lanes_form(e, args, lambda w: _variable(kind, ew, w), ew)


@lru_cache(maxsize=None)
def _rot(ew: int, width: int, n: int, left: bool):
    bits = 8 * ew
    return L.rotate_imm(ew, width, n % bits if left else (bits - n % bits) % bits)


@vhandles(("VPROLD", dict(ew=4, left=True)), ("VPROLQ", dict(ew=8, left=True)),
          ("VPRORD", dict(ew=4, left=False)), ("VPRORQ", dict(ew=8, left=False)))
def vrotate(e, args, ew, left):
    """``VPROLD $n, src, [K,] dst``: every lane rotated left (VPROR*: right) by n mod the
    lane width (SDM: PROLD/PROLQ, PRORD/PRORQ)."""
    lanes_form(e, args, lambda w, n: _rot(ew, w, n, left), ew, nsrc=1, imm=True)


def _byte_shift(width: int, n: int, left: bool):
    if n > 15:
        return lambda a: 0
    keep = 0
    for i in range(width // 16):
        keep |= ((M128 << (8 * n) & M128) if left else (M128 >> (8 * n))) << (128 * i)
    if left:
        return lambda a: (a << (8 * n)) & keep
    return lambda a: (a >> (8 * n)) & keep


@vhandles(("VPSLLDQ", dict(left=True)), ("VPSRLDQ", dict(left=False)))
def vbyteshift(e, args, left):
    """``VPSLLDQ $n, src, dst``: every 128-bit lane shifted left (VPSRLDQ: right) by n
    bytes, zeros shifted in; n > 15 clears it; no writemask (SDM: PSLLDQ, PSRLDQ)."""
    lanes_form(e, args, lambda w, n: _byte_shift(w, n, left), 16, nsrc=1, imm=True,
               bcst=False, masking=False)


_FUNNEL = tuple((f"VPSH{d}D{s}", dict(ew=w, left=d == "L")) for d in ("L", "R")
                for s, w in _WDQ)


@vhandles(*_FUNNEL)
def vfunnel(e, args, ew, left):
    """``VPSHLDD $n, src2, src1, [K,] dst``: lane i = the upper half of ``src1[i]:src2[i]``
    shifted left by n mod the lane width; ``VPSHRDD``: the lower half of ``src2[i]:
    src1[i]`` shifted right (SDM: VPSHLD, VPSHRD; AVX512_VBMI2)."""
    lanes_form(e, args, lambda w, n: L.funnel_imm(ew, w, n, left), ew, imm=True)


@lru_cache(maxsize=None)
def _funnel_var(ew: int, width: int, left: bool):
    bits = 8 * ew
    m = FULL[ew]
    u = L.unpacker(ew, width)
    pk = L.packer(ew, width)
    if left:
        def op(d, x, n):
            n &= bits - 1
            return ((d << n) | (x >> (bits - n))) & m
    else:
        def op(d, x, n):
            n &= bits - 1
            return ((d >> n) | (x << (bits - n))) & m

    def fn(d: int, a: int, b: int) -> int:
        return pk(map(op, u(d), u(a), u(b)))
    return fn


_FUNNEL_V = tuple((f"VPSH{d}DV{s}", dict(ew=w, left=d == "L")) for d in ("L", "R")
                  for s, w in _WDQ)


@vhandles(*_FUNNEL_V)
def vfunnelv(e, args, ew, left):
    """``VPSHLDVD counts, src, [K,] dst``: lane i of dst = the upper half of
    ``dst[i]:src[i]`` shifted left by counts[i] mod the lane width; ``VPSHRDVD``: the
    lower half of ``src[i]:dst[i]`` shifted right (SDM: VPSHLDV, VPSHRDV;
    AVX512_VBMI2)."""
    lanes_form(e, args, lambda w: _funnel_var(ew, w, left), ew, acc=True)


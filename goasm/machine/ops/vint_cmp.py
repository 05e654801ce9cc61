"""VEX and EVEX integer compares and tests (Intel SDM Vol. 2, the page of each
instruction): VPCMPEQB/W/D/Q and VPCMPGTB/W/D/Q (VEX: all-ones lanes in a vector; EVEX:
bits in an opmask register), VPCMPB/W/D/Q and VPCMPUB/UW/UD/UQ with a predicate
immediate, VPTESTMB/W/D/Q and VPTESTNMB/W/D/Q, VPMOVM2B/W/D/Q and VPMOVB2M/W2M/D2M/Q2M
(opmask <-> vector), VPSHUFBITQMB (AVX512_BITALG) and VPTEST (flags).

An opmask result has one bit per element, bits above the element count cleared, ANDed
with the writemask when there is one (SDM Vol. 2, 2.6.4 "zeroing-masking" for opmask
destinations). The compares are SWAR formulas on the whole vector
(:mod:`goasm.machine.ops.vint_lanes`), the bits gathered by ``movemask``.
"""

from __future__ import annotations

from functools import lru_cache

from goasm.machine import flags as fl
from goasm.machine.ops import vec
from goasm.machine.ops import vint_lanes as L
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import high_bits, vhandles
from goasm.machine.ops.vint import check_encoding, lanes_form

_SIZES = (("B", 1), ("W", 2), ("D", 4), ("Q", 8))


@lru_cache(maxsize=None)
def _eq_bits(ew: int, width: int):
    nz = L.nonzero_tops(ew, width)
    mm = L.movemask(ew, width)
    h = high_bits(ew, width)

    def fn(a: int, b: int) -> int:
        return mm(nz(a ^ b) ^ h)
    return fn


@lru_cache(maxsize=None)
def _gt_bits(ew: int, width: int, signed: bool = True):
    gt = (L.sgt_tops if signed else L.ugt_tops)(ew, width)
    mm = L.movemask(ew, width)

    def fn(a: int, b: int) -> int:
        return mm(gt(a, b))
    return fn


@vhandles(*((f"VPCMPEQ{s}", dict(ew=w, eq=True)) for s, w in _SIZES),
          *((f"VPCMPGT{s}", dict(ew=w, eq=False)) for s, w in _SIZES))
def vpcmpeq(e, args, ew, eq):
    """``VPCMPEQB src2, src1, dst``: lane i of dst = all ones when src1[i] == src2[i]
    (VPCMPGT*: src1[i] > src2[i], signed), else 0; with an opmask destination (EVEX)
    bit i of it instead (SDM: PCMPEQB/W/D/Q, PCMPGTB/W/D/Q)."""
    if args and args[-1].kind == "kreg":
        make = (lambda w: _eq_bits(ew, w)) if eq else (lambda w: _gt_bits(ew, w))
        lanes_form(e, args, make, ew, kdst=True)
        return
    make = (lambda w: L.cmpeq(ew, w)) if eq else (lambda w: L.cmpgt(ew, w))
    lanes_form(e, args, make, ew, evex=False)


@lru_cache(maxsize=None)
def _cmp_pred(ew: int, width: int, signed: bool, pred: int):
    """Bits of the predicate (SDM VPCMP: 0 EQ, 1 LT, 2 LE, 3 FALSE, 4 NEQ, 5 NLT,
    6 NLE, 7 TRUE)."""
    h = high_bits(ew, width)
    nz = L.nonzero_tops(ew, width)
    gt = (L.sgt_tops if signed else L.ugt_tops)(ew, width)
    mm = L.movemask(ew, width)
    ones = (1 << (width // ew)) - 1
    pred &= 7
    if pred == 3:
        return lambda a, b: 0
    if pred == 7:
        return lambda a, b: ones
    tops = {0: lambda a, b: nz(a ^ b) ^ h, 4: lambda a, b: nz(a ^ b),
            1: lambda a, b: gt(b, a), 5: lambda a, b: gt(b, a) ^ h,
            6: lambda a, b: gt(a, b), 2: lambda a, b: gt(a, b) ^ h}[pred]

    def fn(a: int, b: int) -> int:
        return mm(tops(a, b))
    return fn


@vhandles(*((f"VPCMP{s}", dict(ew=w, signed=True)) for s, w in _SIZES),
          *((f"VPCMPU{s}", dict(ew=w, signed=False)) for s, w in _SIZES))
def vpcmp(e, args, ew, signed):
    """``VPCMPD $pred, src2, src1, [K,] kdst``: bit i of kdst = ``src1[i] PRED src2[i]``
    with the predicate imm[2:0] (EQ, LT, LE, FALSE, NEQ, NLT, NLE, TRUE), signed or
    unsigned (VPCMPU*) (SDM: VPCMPB/VPCMPUB, VPCMPW/UW, VPCMPD/UD, VPCMPQ/UQ)."""
    if not args or args[-1].kind != "kreg":
        raise BadForm("destination must be an opmask register")
    lanes_form(e, args, lambda w, imm: _cmp_pred(ew, w, signed, imm), ew, imm=True,
               kdst=True)


@lru_cache(maxsize=None)
def _testm(ew: int, width: int, negate: bool):
    nz = L.nonzero_tops(ew, width)
    mm = L.movemask(ew, width)
    h = high_bits(ew, width) if negate else 0

    def fn(a: int, b: int) -> int:
        return mm(nz(a & b) ^ h)
    return fn


@vhandles(*((f"VPTESTM{s}", dict(ew=w, negate=False)) for s, w in _SIZES),
          *((f"VPTESTNM{s}", dict(ew=w, negate=True)) for s, w in _SIZES))
def vptestm(e, args, ew, negate):
    """``VPTESTMD src2, src1, [K,] kdst``: bit i of kdst = (src1[i] AND src2[i]) != 0
    (VPTESTNM*: == 0) (SDM: VPTESTMB/W/D/Q, VPTESTNMB/W/D/Q)."""
    if not args or args[-1].kind != "kreg":
        raise BadForm("destination must be an opmask register")
    lanes_form(e, args, lambda w: _testm(ew, w, negate), ew, kdst=True)


@vhandles(*((f"VPMOVM2{s}", dict(ew=w)) for s, w in _SIZES))
def vpmovm2(e, args, ew):
    """``VPMOVM2D K, dst``: lane i of dst = all ones when bit i of K is set, else 0; no
    writemask (SDM: VPMOVM2B/W/D/Q)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False, masking=False)
    vec.need_vec(v.dst)
    src = v.srcs[0]
    if src.kind != "kreg":
        raise BadForm("source must be an opmask register")
    lanes = e.const(vec.lane_mask(ew, v.width))
    value = e.call(vec.expander(ew, v.width), f"kreg[{e.const(src.index)}] & {lanes}")
    vec.write(e, v, value, ew)
    e.next()


@vhandles(*((f"VPMOV{s}2M", dict(ew=w)) for s, w in _SIZES))
def vpmov2m(e, args, ew):
    """``VPMOVD2M src, kdst``: bit i of kdst = the top bit of src's lane i, the bits above
    the lane count cleared (SDM: VPMOVB2M/W2M/D2M/Q2M)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False, masking=False)
    src = v.srcs[0]
    vec.need_vec(src, "source")
    if v.dst.kind != "kreg":
        raise BadForm("destination must be an opmask register")
    vec.write(e, v, e.call(L.movemask(ew, v.width), vec.read(e, v, src, ew)), ew)
    e.next()


@lru_cache(maxsize=None)
def _shufbitqmb(width: int):
    uq = L.unpacker(8, width)
    ub = L.unpacker(1, width)

    def fn(a: int, b: int) -> int:
        idx = ub(b)
        out = 0
        for i, q in enumerate(uq(a)):
            for j in range(8):
                out |= (q >> (idx[8 * i + j] & 63) & 1) << (8 * i + j)
        return out
    return fn


@vhandles(("VPSHUFBITQMB", {}))
def vpshufbitqmb(e, args):
    """``VPSHUFBITQMB src2, src1, [K,] kdst``: bit 8i+j of kdst = bit ``src2.byte[8i+j] &
    63`` of src1's quadword i (SDM: VPSHUFBITQMB; AVX512_BITALG)."""
    if not args or args[-1].kind != "kreg":
        raise BadForm("destination must be an opmask register")
    lanes_form(e, args, _shufbitqmb, 1, kdst=True, bcst=False)


def _ptest(a: int, b: int) -> int:
    return (0 if a & b else fl.ZF) | (0 if b & ~a else fl.CF)


@vhandles(("VPTEST", {}))
def vptest(e, args):
    """``VPTEST src, dst``: ZF = (src AND dst) == 0, CF = (src AND NOT dst) == 0; AF, OF,
    PF and SF cleared; no register is written (SDM: PTEST; VEX.128/256)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False, masking=False)
    check_encoding(v, e.ins, evex=False)
    vec.need_vec(v.dst)
    vec.need_vec_or_mem(v.srcs[0])
    e.emit(f"a = {vec.vreg_expr(e, v.dst.index, v.width)}",
           f"b = {vec.read(e, v, v.srcs[0], 1)}")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {e.call(_ptest, 'a', 'b')})")
    e.next()


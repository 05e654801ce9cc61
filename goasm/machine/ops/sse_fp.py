"""SSE/SSE2/SSE3/SSE4.1 floating point on XMM registers, scalar and packed, in Go's
spelling (Intel SDM Vol. 2, the page of each instruction; Vol. 1, 4.8 "Real numbers
and floating-point formats" and 11.5 "SSE, SSE2 and SSE3 exceptions").

Arithmetic: ADD/SUB/MUL/DIV/MIN/MAX/SQRT × SD SS PD PS, ADDSUBPD/PS, HADDPD/PS,
HSUBPD/PS, DPPD/DPPS; compares: CMPSD/CMPSS/CMPPD/CMPPS (predicates 0-7), COMISD/COMISS,
UCOMISD/UCOMISS; rounding: ROUNDSD/SS/PD/PS (SSE4.1); conversions (Go names, L = 32-bit
integer, Q = 64-bit): CVTSL2SD CVTSQ2SD CVTSL2SS CVTSQ2SS CVTSD2SL CVTSD2SQ CVTTSD2SL
CVTTSD2SQ CVTSS2SL CVTSS2SQ CVTTSS2SL CVTTSS2SQ CVTSD2SS CVTSS2SD CVTPL2PD CVTPL2PS
CVTPD2PL CVTTPD2PL CVTPS2PL CVTTPS2PL CVTPD2PS CVTPS2PD.

The machine runs with MXCSR at its reset value 0x1F80 (round to nearest even, all
exceptions masked, DAZ and FTZ off); MXCSR itself (its sticky exception flags, a
different rounding mode) is not modelled, so LDMXCSR/STMXCSR stay unimplemented.

Exactness: double results are Python float arithmetic, which on every platform goasm
runs on is IEEE 754 binary64 with round-to-nearest-even; single results are computed in
double and rounded once to binary32, which is exact for +, -, *, / and sqrt because
53 >= 2*24 + 2 (double rounding is innocuous). NaNs follow SDM Vol. 1, Table 4-7 for
SSE: if the first source (Go's destination) is a NaN it is the result, else the second
source's NaN; a signalling NaN is returned quietened; an invalid operation with no NaN
input returns the default "QNaN floating-point indefinite" (0xFFF8000000000000 /
0xFFC00000). MIN/MAX return the second source (Go's source) unchanged when either input
is a NaN or both are zeros. Conversions to integers that are invalid (NaN, infinity,
out of range) return the "integer indefinite" 0x80000000 / 0x8000000000000000.
"""

from __future__ import annotations

import math
import struct
from types import MappingProxyType
from typing import NamedTuple

from goasm.machine import flags as fl
from goasm.machine.ops.base import MASK, BadForm, handles
from goasm.machine.ops.lanes import (M64, M128, binary, join, need, read_src, split, unary,
                                     xmm)

_D = struct.Struct("<d")
_Q = struct.Struct("<Q")
_F = struct.Struct("<f")
_I = struct.Struct("<I")


def _to64(b: int) -> float:
    return _D.unpack(_Q.pack(b))[0]


def _from64(x: float) -> int:
    return _Q.unpack(_D.pack(x))[0]


def _to32(b: int) -> float:
    return _F.unpack(_I.pack(b))[0]


def _from32(x: float) -> int:
    """``x`` rounded to binary32 (to nearest even); overflow gives an infinity."""
    try:
        return _I.unpack(_F.pack(x))[0]
    except OverflowError:
        return 0xFF800000 if x < 0 else 0x7F800000


class Fmt(NamedTuple):
    """A binary floating-point format: bit masks and conversions to Python floats."""

    width: int          # bytes
    exp: int            # exponent field mask
    mant: int           # significand field mask
    quiet: int          # the quiet bit of a NaN
    sign: int
    indefinite: int     # the default QNaN
    to_float: object
    from_float: object

    def isnan(self, b: int) -> bool:
        return (b & self.exp) == self.exp and (b & self.mant) != 0


F64 = Fmt(8, 0x7FF0000000000000, 0x000FFFFFFFFFFFFF, 0x0008000000000000, 1 << 63,
          0xFFF8000000000000, _to64, _from64)
F32 = Fmt(4, 0x7F800000, 0x007FFFFF, 0x00400000, 1 << 31, 0xFFC00000, _to32, _from32)


# --------------------------------------------------------------------------- arithmetic

def _div(x: float, y: float) -> float:
    if y == 0.0:
        if x == 0.0:
            return math.nan
        return math.copysign(math.inf, math.copysign(1.0, x) * math.copysign(1.0, y))
    return x / y


_OPS = MappingProxyType({"ADD": lambda x, y: x + y, "SUB": lambda x, y: x - y,
                         "MUL": lambda x, y: x * y, "DIV": _div})


def arith(fmt: Fmt, op):
    """``fn(a, b)`` on raw bits: ``a op b`` with SSE NaN rules (module docstring)."""
    isnan, quiet, to, frm, indef = fmt.isnan, fmt.quiet, fmt.to_float, fmt.from_float, \
        fmt.indefinite

    def fn(a, b):
        if isnan(a):
            return a | quiet
        if isnan(b):
            return b | quiet
        r = op(to(a), to(b))
        if r != r:
            return indef
        return frm(r)
    return fn


def sqrt(fmt: Fmt):
    """``fn(a)``: the correctly rounded square root (negative non-zero: indefinite)."""
    def fn(a):
        if fmt.isnan(a):
            return a | fmt.quiet
        x = fmt.to_float(a)
        if x < 0.0:
            return fmt.indefinite
        return fmt.from_float(math.sqrt(x))
    return fn


def minmax(fmt: Fmt, is_max: bool):
    """``fn(a, b)``: MIN returns ``a < b ? a : b``, MAX ``a > b ? a : b`` (so ``b`` for
    NaNs and for two zeros)."""
    isnan, to = fmt.isnan, fmt.to_float

    def fn(a, b):
        if isnan(a) or isnan(b):
            return b
        x, y = to(a), to(b)
        if is_max:
            return a if x > y else b
        return a if x < y else b
    return fn


def _predicate(fmt: Fmt, imm: int):
    isnan, to = fmt.isnan, fmt.to_float
    ones = MASK[fmt.width]
    p = imm & 7

    def fn(a, b):
        if isnan(a) or isnan(b):
            r = p in (3, 4, 5, 6)     # UNORD, NEQ, NLT, NLE
        else:
            x, y = to(a), to(b)
            r = (x == y, x < y, x <= y, False, x != y, not x < y, not x <= y, True)[p]
        return ones if r else 0
    return fn


# --------------------------------------------------------------------------- lane plumbing

def scalar(fmt: Fmt, fn):
    """``f(d, s)``: the low lane of d replaced by ``fn(d_low, s_low)``."""
    low = MASK[fmt.width]
    keep = M128 ^ low

    def f(d, s):
        return (d & keep) | fn(d & low, s & low)
    return f


def scalar_unary(fmt: Fmt, fn):
    low = MASK[fmt.width]
    keep = M128 ^ low

    def f(d, s):
        return (d & keep) | fn(s & low)
    return f


def packed(fmt: Fmt, fn):
    w = fmt.width

    def f(d, s):
        return join(map(fn, split(d, w), split(s, w)), w)
    return f


def packed_unary(fmt: Fmt, fn):
    w = fmt.width

    def f(s):
        return join(map(fn, split(s, w)), w)
    return f


_FMTS = (("SD", F64, False), ("SS", F32, False), ("PD", F64, True), ("PS", F32, True))


def _binary_specs():
    for name, fmt, is_packed in _FMTS:
        wrap = packed if is_packed else scalar
        mem = 16 if is_packed else fmt.width
        for op, f in _OPS.items():
            yield f"{op}{name}", dict(fn=wrap(fmt, arith(fmt, f)), mem_width=mem)
        yield f"MIN{name}", dict(fn=wrap(fmt, minmax(fmt, False)), mem_width=mem)
        yield f"MAX{name}", dict(fn=wrap(fmt, minmax(fmt, True)), mem_width=mem)
        if is_packed:
            yield f"SQRT{name}", dict(fn=_unary_as_binary(packed_unary(fmt, sqrt(fmt))),
                                      mem_width=mem)
        else:
            yield f"SQRT{name}", dict(fn=scalar_unary(fmt, sqrt(fmt)), mem_width=mem)


def _unary_as_binary(f):
    def g(d, s):
        return f(s)
    return g


def _addsub(fmt: Fmt):
    add, sub = arith(fmt, _OPS["ADD"]), arith(fmt, _OPS["SUB"])
    w = fmt.width

    def f(d, s):
        return join([(add if i & 1 else sub)(a, b)
                     for i, (a, b) in enumerate(zip(split(d, w), split(s, w)))], w)
    return f


def _horizontal(fmt: Fmt, op):
    fn = arith(fmt, op)
    w = fmt.width

    def f(d, s):
        a, b = split(d, w), split(s, w)
        return join([fn(a[i], a[i + 1]) for i in range(0, len(a), 2)]
                    + [fn(b[i], b[i + 1]) for i in range(0, len(b), 2)], w)
    return f


@handles(*_binary_specs(),
         ("ADDSUBPD", dict(fn=_addsub(F64), mem_width=16)),
         ("ADDSUBPS", dict(fn=_addsub(F32), mem_width=16)),
         ("HADDPD", dict(fn=_horizontal(F64, _OPS["ADD"]), mem_width=16)),
         ("HADDPS", dict(fn=_horizontal(F32, _OPS["ADD"]), mem_width=16)),
         ("HSUBPD", dict(fn=_horizontal(F64, _OPS["SUB"]), mem_width=16)),
         ("HSUBPS", dict(fn=_horizontal(F32, _OPS["SUB"]), mem_width=16)))
def fp_binary(e, args, fn, mem_width):
    """``ADDSD src, dst``: dst = dst OP src on the low lane (SD/SS; the rest of dst kept,
    memory sources of 8/4 bytes need no alignment) or on every lane (PD/PS, aligned m128);
    SQRT takes only src. ADDSUB subtracts in even lanes and adds in odd ones; HADD/HSUB
    combine adjacent pairs, dst's pairs in the low half (SDM: ADDSD ... HSUBPS)."""
    binary(e, args, fn, mem_width=mem_width)


def _dpp(fmt: Fmt):
    mul, add = arith(fmt, _OPS["MUL"]), arith(fmt, _OPS["ADD"])
    w = fmt.width
    n = 16 // w

    def f(d, s, imm):
        a, b = split(d, w), split(s, w)
        p = [mul(a[i], b[i]) if imm >> (4 + i) & 1 else 0 for i in range(n)]
        out = []
        for k in range(n):
            if not imm >> k & 1:
                out.append(0)
            elif n == 2:
                out.append(add(p[k], p[1 - k]))
            else:
                e = k & 1
                t1 = add(p[e ^ 1], p[e])
                t2 = add(p[2 + (e ^ 1)], p[2 + e])
                out.append(add(t1, t2) if k < 2 else add(t2, t1))
        return join(out, w)
    return f


@handles(("DPPD", dict(fn=_dpp(F64))), ("DPPS", dict(fn=_dpp(F32))))
def dpp(e, args, fn):
    """``DPPS $imm, src, dst``: the products of the lanes selected by imm[7:4] (others
    +0.0) summed pairwise, each sum rounded, stored in the lanes selected by imm[3:0],
    +0.0 elsewhere (SDM: DPPS, DPPD).

    The sums are the same in every lane, but which NaN survives when several products are
    NaNs is not: the processor evaluates each destination lane k with its own operand
    order (the left operand is the rule's "first source"): DPPD lane k adds p[k] +
    p[1-k]; DPPS lane k adds t1 = p[1-e] + p[e] and t2 = p[3-e] + p[2+e] (e = k & 1),
    then t1 + t2 for k < 2 and t2 + t1 otherwise. Measured on an Intel processor with
    tests/test_sse.py's native harness; the SDM's pseudo-code (p0+p1, (p0+p1)+(p2+p3)) does
    not say, and Unicorn picks NaNs by x87 rules."""
    binary(e, args, fn, imm=True)


# --------------------------------------------------------------------------- compares

def _cmp(fmt: Fmt, is_packed: bool):
    preds = tuple(_predicate(fmt, i) for i in range(8))
    w = fmt.width
    low = MASK[w]
    keep = M128 ^ low
    if is_packed:
        def f(d, s, imm):
            p = preds[imm & 7]
            return join(map(p, split(d, w), split(s, w)), w)
    else:
        def f(d, s, imm):
            return (d & keep) | preds[imm & 7](d & low, s & low)
    return f


@handles(*((f"CMP{n}", dict(fn=_cmp(fmt, p), mem_width=16 if p else fmt.width))
           for n, fmt, p in _FMTS))
def cmp(e, args, fn, mem_width):
    """``CMPSD src, dst, $pred``: dst lane = all ones when ``dst pred src`` holds, with the
    predicates EQ LT LE UNORD NEQ NLT NLE ORD for imm[2:0] (SDM: CMPSD, CMPSS, CMPPD,
    CMPPS; Go writes the immediate last)."""
    binary(e, args, fn, mem_width=mem_width, imm=True, imm_last=True)


def _comis(fmt: Fmt):
    isnan, to = fmt.isnan, fmt.to_float
    low = MASK[fmt.width]

    def f(d, s):
        a, b = d & low, s & low
        if isnan(a) or isnan(b):
            return fl.ZF | fl.PF | fl.CF
        x, y = to(a), to(b)
        if x > y:
            return 0
        if x < y:
            return fl.CF
        return fl.ZF
    return f


@handles(("COMISD", dict(fn=_comis(F64), width=8)), ("UCOMISD", dict(fn=_comis(F64), width=8)),
         ("COMISS", dict(fn=_comis(F32), width=4)), ("UCOMISS", dict(fn=_comis(F32), width=4)))
def comis(e, args, fn, width):
    """``UCOMISD src, dst``: compare dst's low lane with src: ZF PF CF = 111 unordered,
    000 greater, 001 less, 100 equal; OF, SF, AF cleared (SDM: COMISD, UCOMISD, COMISS,
    UCOMISS; they differ only in which NaNs signal #IA, masked here)."""
    src, dst = need(args, 2)
    xmm(dst, "first operand")
    e.emit(f"s = {read_src(e, src, width)}")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {e.call(fn, f'xmm[{e.const(dst.index)}]', 's')})")
    e.next()


# --------------------------------------------------------------------------- rounding

def _round_value(x: float, mode: int) -> float:
    if mode == 0:
        r = round(x)
    elif mode == 1:
        r = math.floor(x)
    elif mode == 2:
        r = math.ceil(x)
    else:
        r = math.trunc(x)
    return float(r) if r else math.copysign(0.0, x)


def _round(fmt: Fmt):
    limit = 2.0 ** (52 if fmt is F64 else 23)

    def fn(a, imm):
        if fmt.isnan(a):
            return a | fmt.quiet
        x = fmt.to_float(a)
        if not abs(x) < limit:       # infinities and values already integral
            return a
        return fmt.from_float(_round_value(x, 0 if imm & 4 else imm & 3))
    return fn


def _round_scalar(fmt: Fmt):
    fn = _round(fmt)
    low = MASK[fmt.width]
    keep = M128 ^ low

    def f(d, s, imm):
        return (d & keep) | fn(s & low, imm)
    return f


def _round_packed(fmt: Fmt):
    fn = _round(fmt)
    w = fmt.width

    def f(s, imm):
        return join([fn(v, imm) for v in split(s, w)], w)
    return f


@handles(("ROUNDSD", dict(fn=_round_scalar(F64), mem_width=8)),
         ("ROUNDSS", dict(fn=_round_scalar(F32), mem_width=4)))
def round_scalar(e, args, fn, mem_width):
    """``ROUNDSD $imm, src, dst``: dst's low lane = src's rounded to an integer value by
    imm[1:0] (nearest even, down, up, toward zero) or, with imm[2], MXCSR.RC (nearest);
    NaNs quietened (SDM: ROUNDSD, ROUNDSS)."""
    binary(e, args, fn, mem_width=mem_width, imm=True)


@handles(("ROUNDPD", dict(fn=_round_packed(F64))), ("ROUNDPS", dict(fn=_round_packed(F32))))
def round_packed(e, args, fn):
    """``ROUNDPD $imm, src, dst``: every lane rounded as ROUNDSD (SDM: ROUNDPD, ROUNDPS)."""
    unary(e, args, fn, imm=True)


# --------------------------------------------------------------------------- conversions

def to_int(fmt: Fmt, bits: int, truncate: bool):
    """``fn(a)``: the float in ``a`` as a ``bits``-bit two's-complement integer, rounded
    to nearest even (or toward zero); invalid gives the integer indefinite."""
    indef = 1 << (bits - 1)
    lo, hi = -indef, indef - 1
    mask = (1 << bits) - 1

    def fn(a):
        if (a & fmt.exp) == fmt.exp:
            return indef
        x = fmt.to_float(a)
        r = math.trunc(x) if truncate else round(x)
        if r < lo or r > hi:
            return indef
        return r & mask
    return fn


def int_to_f32(n: int) -> int:
    """The binary32 nearest to the integer ``n`` (ties to even), rounded once."""
    m = abs(n)
    shift = m.bit_length() - 24
    if shift > 0:
        q, r = divmod(m, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1
        m = q << shift
    return _from32(float(-m if n < 0 else m))


def int_to_f64(n: int) -> int:
    """The binary64 nearest to ``n`` (Python's int->float conversion rounds correctly)."""
    return _from64(float(n))


def f64_to_f32(a: int) -> int:
    """CVTSD2SS on one lane: NaNs keep sign and the top payload bits, quietened."""
    if F64.isnan(a):
        return (a >> 32 & 0x80000000) | 0x7FC00000 | (a >> 29 & 0x003FFFFF)
    return _from32(_to64(a))


def f32_to_f64(a: int) -> int:
    """CVTSS2SD on one lane (exact); NaNs quietened, payload moved to the top bits."""
    if F32.isnan(a):
        return (a & 0x80000000) << 32 | 0x7FF8000000000000 | (a & 0x003FFFFF) << 29
    return _from64(_to32(a))


def _signed(bits):
    top = 1 << (bits - 1)

    def fn(v):
        return v - (top << 1) if v & top else v
    return fn


_S32, _S64 = _signed(32), _signed(64)

# Go name: (source format, destination integer bits, truncate)
_TO_INT = (
    ("CVTSD2SL", F64, 32, False), ("CVTSD2SQ", F64, 64, False),
    ("CVTTSD2SL", F64, 32, True), ("CVTTSD2SQ", F64, 64, True),
    ("CVTSS2SL", F32, 32, False), ("CVTSS2SQ", F32, 64, False),
    ("CVTTSS2SL", F32, 32, True), ("CVTTSS2SQ", F32, 64, True),
)


@handles(*((n, dict(fn=to_int(f, b, t), src_width=f.width, dst_width=b // 8))
           for n, f, b, t in _TO_INT))
def cvt_to_int(e, args, fn, src_width, dst_width):
    """``CVTSD2SL src, r``: the low double (SS: single) of an XMM register or memory as a
    32-bit (L, zero-extended into the 64-bit register) or 64-bit (Q) integer, rounded to
    nearest even (CVTT: toward zero); invalid inputs give the integer indefinite (SDM:
    CVTSD2SI, CVTTSD2SI, CVTSS2SI, CVTTSS2SI)."""
    src, dst = need(args, 2)
    if dst.kind != "gpr" or src.kind not in ("xmm", "mem"):
        raise BadForm("needs an XMM/memory source and a register destination")
    e.write(dst, dst_width, e.call(fn, e.read(src, src_width)))
    e.next()


def _from_int(conv, bits, fmt):
    sign = _signed(bits)
    low = MASK[fmt.width]
    keep = M128 ^ low

    def f(d, n):
        return (d & keep) | conv(sign(n))
    return f


_FROM_INT = (
    ("CVTSL2SD", 32, F64, int_to_f64), ("CVTSQ2SD", 64, F64, int_to_f64),
    ("CVTSL2SS", 32, F32, int_to_f32), ("CVTSQ2SS", 64, F32, int_to_f32),
)


@handles(*((n, dict(fn=_from_int(c, b, f), src_width=b // 8)) for n, b, f, c in _FROM_INT))
def cvt_from_int(e, args, fn, src_width):
    """``CVTSL2SD r/m, X``: the signed 32-bit (L) or 64-bit (Q) integer converted to the low
    double (SS: single) of X, rounded to nearest even; the rest of X kept (SDM: CVTSI2SD,
    CVTSI2SS)."""
    src, dst = need(args, 2)
    xmm(dst)
    if src.kind not in ("gpr", "mem"):
        raise BadForm("source must be a register or memory")
    e.emit(f"s = {e.read(src, src_width)}")
    e.write(dst, 16, e.call(fn, f"xmm[{e.const(dst.index)}]", "s"))
    e.next()


def _cvtsd2ss(d, s):
    return (d & (M128 ^ 0xFFFFFFFF)) | f64_to_f32(s & M64)


def _cvtss2sd(d, s):
    return (d & (M128 ^ M64)) | f32_to_f64(s & 0xFFFFFFFF)


def _cvtpd2ps(s):
    return f64_to_f32(s & M64) | f64_to_f32(s >> 64) << 32


def _cvtps2pd(s):
    return f32_to_f64(s & 0xFFFFFFFF) | f32_to_f64(s >> 32 & 0xFFFFFFFF) << 64


def _cvtpl2pd(s):
    return int_to_f64(_S32(s & 0xFFFFFFFF)) | int_to_f64(_S32(s >> 32 & 0xFFFFFFFF)) << 64


def _cvtpl2ps(s):
    return join([int_to_f32(_S32(v)) for v in split(s, 4)], 4)


def _pd2pl(truncate):
    fn = to_int(F64, 32, truncate)

    def f(s):
        return fn(s & M64) | fn(s >> 64) << 32
    return f


def _ps2pl(truncate):
    fn = to_int(F32, 32, truncate)

    def f(s):
        return join([fn(v) for v in split(s, 4)], 4)
    return f


@handles(("CVTSD2SS", dict(fn=_cvtsd2ss, mem_width=8)),
         ("CVTSS2SD", dict(fn=_cvtss2sd, mem_width=4)))
def cvt_scalar(e, args, fn, mem_width):
    """``CVTSD2SS src, dst``: the low double of src (or m64) rounded to the low single of
    dst (CVTSS2SD: widened exactly); the rest of dst kept (SDM: CVTSD2SS, CVTSS2SD)."""
    binary(e, args, fn, mem_width=mem_width)


@handles(("CVTPD2PS", dict(fn=_cvtpd2ps, mem_width=16)),
         ("CVTPS2PD", dict(fn=_cvtps2pd, mem_width=8)),
         ("CVTPL2PD", dict(fn=_cvtpl2pd, mem_width=8)),
         ("CVTPL2PS", dict(fn=_cvtpl2ps, mem_width=16)),
         ("CVTPD2PL", dict(fn=_pd2pl(False), mem_width=16)),
         ("CVTTPD2PL", dict(fn=_pd2pl(True), mem_width=16)),
         ("CVTPS2PL", dict(fn=_ps2pl(False), mem_width=16)),
         ("CVTTPS2PL", dict(fn=_ps2pl(True), mem_width=16)))
def cvt_packed(e, args, fn, mem_width):
    """``CVTPD2PS src, dst``: packed conversions; results narrower than 128 bits fill the
    low half and zero the high one; sources of 8 bytes (CVTPS2PD, CVTPL2PD) need no
    alignment (SDM: CVTPD2PS, CVTPS2PD, CVTDQ2PD, CVTDQ2PS, CVTPD2DQ, CVTTPD2DQ,
    CVTPS2DQ, CVTTPS2DQ)."""
    unary(e, args, fn, mem_width=mem_width)

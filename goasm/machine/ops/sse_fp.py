"""SSE/SSE2/SSE3/SSE4.1 floating point on XMM registers, scalar and packed, in Go's
spelling (Intel SDM Vol. 2, the page of each instruction; Vol. 1, 4.8 "Real numbers
and floating-point formats" and 11.5 "SSE, SSE2 and SSE3 exceptions").

Arithmetic: ADD/SUB/MUL/DIV/MIN/MAX/SQRT × SD SS PD PS, ADDSUBPD/PS, HADDPD/PS,
HSUBPD/PS, DPPD/DPPS; compares: CMPSD/CMPSS/CMPPD/CMPPS (predicates 0-7), COMISD/COMISS,
UCOMISD/UCOMISS; rounding: ROUNDSD/SS/PD/PS (SSE4.1); conversions (Go names, L = 32-bit
integer, Q = 64-bit): CVTSL2SD CVTSQ2SD CVTSL2SS CVTSQ2SS CVTSD2SL CVTSD2SQ CVTTSD2SL
CVTTSD2SQ CVTSS2SL CVTSS2SQ CVTTSS2SL CVTTSS2SQ CVTSD2SS CVTSS2SD CVTPL2PD CVTPL2PS
CVTPD2PL CVTTPD2PL CVTPS2PL CVTTPS2PL CVTPD2PS CVTPS2PD.

Every element is computed by :mod:`goasm.machine.fp` under MXCSR: its rounding
control, FTZ and DAZ, the sticky exception flags, and #XM (SIGFPE) for an unmasked
exception, with the NaN rules of SDM Vol. 1, Table 4-7 (the first source -- Go's
destination -- wins, quietened). These are the same kernels the VEX/EVEX forms use
(:mod:`goasm.machine.ops.vfp`); legacy SSE writes leave bits 128..511 as they were.
"""

from __future__ import annotations

from functools import partial

from goasm.machine import flags as fl
from goasm.machine import fp
from goasm.machine.ops import fpvec
from goasm.machine.ops.base import BadForm, handles
from goasm.machine.ops.lanes import M128, imm8, need, read_src, xmm
from goasm.machine.ops.vfp import (_addsub_kernel, _cmp_lane, _comis_fn, _horizontal_kernel,
                                   binary_kernel, cmp_kernel, dpp_kernel, round_kernel, scalar_kernel,
                                   sqrt_kernel)

_FMTS = (("SD", fp.F64, False), ("SS", fp.F32, False), ("PD", fp.F64, True),
         ("PS", fp.F32, True))


def _emit_packed(e, dst, kernel, nin: int = 2) -> None:
    d = f"xmm[{e.const(dst.index)}]"
    args = (d, "s") if nin == 2 else ("s",)
    e.write(dst, 16, e.call(kernel, "cpu", e.const(0xFFFF), *args))


def _emit_scalar(e, dst, kernel, ew: int, nin: int = 2) -> None:
    low = (1 << (8 * ew)) - 1
    d = f"xmm[{e.const(dst.index)}]"
    args = (f"{d} & {e.const(low)}", f"s & {e.const(low)}") if nin == 2 else \
        (f"s & {e.const(low)}",)
    e.write(dst, 16, f"{d} & {e.const(M128 ^ low)} | {e.call(kernel, 'cpu', '1', *args)}")


def _binary_specs():
    for name, fmt, is_packed in _FMTS:
        for op in ("ADD", "SUB", "MUL", "DIV", "MIN", "MAX", "SQRT"):
            yield f"{op}{name}", dict(op=op, fmt=fmt, is_packed=is_packed)


@handles(*_binary_specs())
def fp_binary(e, args, op, fmt, is_packed):
    """``ADDSD src, dst``: dst = dst OP src on the low element (SD/SS; the rest of dst
    kept, memory sources of 8/4 bytes need no alignment) or on every element (PD/PS,
    aligned m128); SQRT takes only src (SDM: ADDSD ... SQRTPS)."""
    src, dst = need(args, 2)
    xmm(dst)
    ew = fmt.nbytes
    e.emit(f"s = {read_src(e, src, 16 if is_packed else ew)}")
    if op == "SQRT":
        if is_packed:
            _emit_packed(e, dst, sqrt_kernel(fmt, 16 // ew), 1)
        else:
            _emit_scalar(e, dst, fpvec.scalar(partial(fp.sqrt, fmt), 1,
                                              fast=fpvec.fast_sqrt(fmt, 1)), ew, 1)
    elif is_packed:
        _emit_packed(e, dst, binary_kernel(fmt, op, 16 // ew))
    else:
        _emit_scalar(e, dst, scalar_kernel(fmt, op), ew)
    e.next()


@handles(("ADDSUBPD", dict(fmt=fp.F64, kind="addsub")),
         ("ADDSUBPS", dict(fmt=fp.F32, kind="addsub")),
         ("HADDPD", dict(fmt=fp.F64, kind="ADD")), ("HADDPS", dict(fmt=fp.F32, kind="ADD")),
         ("HSUBPD", dict(fmt=fp.F64, kind="SUB")), ("HSUBPS", dict(fmt=fp.F32, kind="SUB")))
def fp_horizontal(e, args, fmt, kind):
    """ADDSUB subtracts in even elements and adds in odd ones; HADD/HSUB combine adjacent
    pairs, dst's pairs in the low half (SDM: ADDSUBPD, HADDPS, HSUBPD ...)."""
    src, dst = need(args, 2)
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 16)}")
    if kind == "addsub":
        k = _addsub_kernel(fmt, 16 // fmt.nbytes)
    else:
        k = _horizontal_kernel(fmt, kind, 16)
    _emit_packed(e, dst, k)
    e.next()


# --------------------------------------------------------------------------- DPPS / DPPD

@handles(("DPPD", dict(fmt=fp.F64)), ("DPPS", dict(fmt=fp.F32)))
def dpp(e, args, fmt):
    """``DPPS $imm, src, dst``: see :func:`dpp_kernel`; the NaN order follows the CPU
    model's vendor."""
    i, src, dst = need(args, 3)
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 16)}")
    k = dpp_kernel(fmt, imm8(i), 16, e.machine.cpu_model.vendor)
    _emit_packed(e, dst, k)
    e.next()


# --------------------------------------------------------------------------- compares

@handles(*((f"CMP{n}", dict(fmt=fmt, is_packed=p)) for n, fmt, p in _FMTS))
def cmp(e, args, fmt, is_packed):
    """``CMPSD src, dst, $pred``: dst element = all ones when ``dst pred src`` holds, with
    the predicates EQ LT LE UNORD NEQ NLT NLE ORD for imm[2:0] (SDM: CMPSD, CMPSS, CMPPD,
    CMPPS; Go writes the immediate last)."""
    src, dst, i = need(args, 3)
    xmm(dst)
    imm = imm8(i) & 7
    ew = fmt.nbytes
    e.emit(f"s = {read_src(e, src, 16 if is_packed else ew)}")
    if is_packed:
        _emit_packed(e, dst, cmp_kernel(fmt, imm, 16 // ew, to_mask=False))
    else:
        _emit_scalar(e, dst, fpvec.scalar(_cmp_lane(fmt, imm), 2,
                                          fast=fpvec.fast_compare(fmt, 1, imm, ew)), ew)
    e.next()


@handles(("COMISD", dict(fmt=fp.F64, signal=True)), ("UCOMISD", dict(fmt=fp.F64, signal=False)),
         ("COMISS", dict(fmt=fp.F32, signal=True)), ("UCOMISS", dict(fmt=fp.F32, signal=False)))
def comis(e, args, fmt, signal):
    """``UCOMISD src, dst``: compare dst's low element with src: ZF PF CF = 111
    unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared; COMIS signals IE
    for any NaN, UCOMIS for a signalling one (SDM: COMISD, UCOMISD, COMISS, UCOMISS)."""
    src, dst = need(args, 2)
    xmm(dst, "first operand")
    ew = fmt.nbytes
    low = e.const((1 << (8 * ew)) - 1)
    e.emit(f"s = {read_src(e, src, ew)} & {low}")
    fn = _comis_fn(fmt, signal, False)
    e.emit(f"{e.const(fl.set_explicit)}(cpu, "
           f"{e.call(fn, 'cpu', f'xmm[{e.const(dst.index)}] & {low}', 's')})")
    e.next()


# --------------------------------------------------------------------------- rounding

@handles(("ROUNDSD", dict(fmt=fp.F64, is_packed=False)),
         ("ROUNDSS", dict(fmt=fp.F32, is_packed=False)),
         ("ROUNDPD", dict(fmt=fp.F64, is_packed=True)),
         ("ROUNDPS", dict(fmt=fp.F32, is_packed=True)))
def round_(e, args, fmt, is_packed):
    """``ROUNDSD $imm, src, dst``: round to an integer by imm[1:0] (nearest even, down,
    up, toward zero), or MXCSR.RC with imm[2]; imm[3] suppresses PE; NaNs quietened (SDM:
    ROUNDSD, ROUNDSS, ROUNDPD, ROUNDPS)."""
    i, src, dst = need(args, 3)
    xmm(dst)
    imm = imm8(i) & 0xF
    ew = fmt.nbytes
    e.emit(f"s = {read_src(e, src, 16 if is_packed else ew)}")
    if is_packed:
        _emit_packed(e, dst, round_kernel(fmt, 16 // ew, imm), 1)
    else:
        k = fpvec.scalar(lambda a, mx: fp.round_integral(fmt, a, mx, imm), 1)
        _emit_scalar(e, dst, k, ew, 1)
    e.next()


# --------------------------------------------------------------------------- conversions

def _signed(bits):
    top = 1 << (bits - 1)

    def fn(v):
        return v - (top << 1) if v & top else v
    return fn


_TO_INT = (
    ("CVTSD2SL", fp.F64, 32, False), ("CVTSD2SQ", fp.F64, 64, False),
    ("CVTTSD2SL", fp.F64, 32, True), ("CVTTSD2SQ", fp.F64, 64, True),
    ("CVTSS2SL", fp.F32, 32, False), ("CVTSS2SQ", fp.F32, 64, False),
    ("CVTTSS2SL", fp.F32, 32, True), ("CVTTSS2SQ", fp.F32, 64, True),
)


@handles(*((n, dict(fmt=f, bits=b, truncate=t)) for n, f, b, t in _TO_INT))
def cvt_to_int(e, args, fmt, bits, truncate):
    """``CVTSD2SL src, r``: the low double (SS: single) of an XMM register or memory as a
    32-bit (L, zero-extended into the 64-bit register) or 64-bit (Q) integer, rounded by
    MXCSR.RC (CVTT: toward zero); invalid inputs give the integer indefinite with IE
    (SDM: CVTSD2SI, CVTTSD2SI, CVTSS2SI, CVTTSS2SI)."""
    src, dst = need(args, 2)
    if dst.kind != "gpr" or src.kind not in ("xmm", "mem"):
        raise BadForm("needs an XMM/memory source and a register destination")
    k = fpvec.scalar(lambda a, mx: fp.to_int(fmt, a, mx, bits, True, truncate), 1)
    e.write(dst, bits // 8, e.call(k, "cpu", "1", e.read(src, fmt.nbytes)))
    e.next()


_FROM_INT = (("CVTSL2SD", 32, fp.F64), ("CVTSQ2SD", 64, fp.F64),
             ("CVTSL2SS", 32, fp.F32), ("CVTSQ2SS", 64, fp.F32))


@handles(*((n, dict(bits=b, fmt=f)) for n, b, f in _FROM_INT))
def cvt_from_int(e, args, bits, fmt):
    """``CVTSL2SD r/m, X``: the signed 32-bit (L) or 64-bit (Q) integer converted to the
    low double (SS: single) of X, rounded by MXCSR.RC; the rest of X kept (SDM:
    CVTSI2SD, CVTSI2SS)."""
    src, dst = need(args, 2)
    xmm(dst)
    if src.kind not in ("gpr", "mem"):
        raise BadForm("source must be a register or memory")
    conv = _signed(bits)
    k = fpvec.scalar(lambda n, mx: fp.from_int(fmt, conv(n), mx), 1)
    low = (1 << fmt.bits) - 1
    e.emit(f"s = {e.read(src, bits // 8)}")
    d = f"xmm[{e.const(dst.index)}]"
    e.write(dst, 16, f"{d} & {e.const(M128 ^ low)} | {e.call(k, 'cpu', '1', 's')}")
    e.next()


def _conv(src, dst, truncate=False):
    """The element function of a packed conversion (see vfp_cvt.lane_fn)."""
    from goasm.machine.ops.vfp_cvt import lane_fn
    return lane_fn(src, dst, truncate)


_P = {"PS": (4, fp.F32), "PD": (8, fp.F64), "PL": (4, "i")}


@handles(("CVTSD2SS", dict(src=fp.F64, dst=fp.F32)),
         ("CVTSS2SD", dict(src=fp.F32, dst=fp.F64)))
def cvt_scalar(e, args, src, dst):
    """``CVTSD2SS src, dst``: the low double of src (or m64) rounded to the low single of
    dst (CVTSS2SD: widened exactly); the rest of dst kept (SDM: CVTSD2SS, CVTSS2SD)."""
    s, d = need(args, 2)
    xmm(d)
    e.emit(f"s = {read_src(e, s, src.nbytes)} & {e.const((1 << src.bits) - 1)}")
    k = fpvec.scalar(lambda a, mx: fp.convert(src, dst, a, mx), 1,
                     fast=fpvec.fast_convert(src, dst, 1))
    low = (1 << dst.bits) - 1
    x = f"xmm[{e.const(d.index)}]"
    e.write(d, 16, f"{x} & {e.const(M128 ^ low)} | {e.call(k, 'cpu', '1', 's')}")
    e.next()


# Go name: (source kind, destination kind, truncate, memory source bytes)
_PACKED = (("CVTPD2PS", "PD", "PS", False, 16), ("CVTPS2PD", "PS", "PD", False, 8),
           ("CVTPL2PD", "PL", "PD", False, 8), ("CVTPL2PS", "PL", "PS", False, 16),
           ("CVTPD2PL", "PD", "PL", False, 16), ("CVTTPD2PL", "PD", "PL", True, 16),
           ("CVTPS2PL", "PS", "PL", False, 16), ("CVTTPS2PL", "PS", "PL", True, 16))


@handles(*((n, dict(src=_P[s], dst=_P[d], truncate=t, mem_width=w))
           for n, s, d, t, w in _PACKED))
def cvt_packed(e, args, src, dst, truncate, mem_width):
    """``CVTPD2PS src, dst``: packed conversions; results narrower than 128 bits fill the
    low half and zero the high one; sources of 8 bytes (CVTPS2PD, CVTPL2PD) need no
    alignment (SDM: CVTPD2PS, CVTPS2PD, CVTDQ2PD, CVTDQ2PS, CVTPD2DQ, CVTTPD2DQ,
    CVTPS2DQ, CVTTPS2DQ)."""
    s, d = need(args, 2)
    xmm(d)
    sb, db = src[0], dst[0]
    n = 16 // max(sb, db)
    e.emit(f"s = {read_src(e, s, mem_width)}")
    if s.kind == "xmm" and n * sb < 16:
        e.emit(f"s = s & {e.const((1 << (8 * n * sb)) - 1)}")
    fast = None
    if isinstance(src[1], fp.Fmt) and isinstance(dst[1], fp.Fmt):
        fast = fpvec.fast_convert(src[1], dst[1], n)
    k = fpvec.elementwise((_conv(src, dst, truncate),), sb, db, n, 1, fast=fast)
    e.write(d, 16, e.call(k, "cpu", e.const((1 << n) - 1), "s"))
    e.next()


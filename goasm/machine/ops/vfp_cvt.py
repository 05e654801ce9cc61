"""VEX and EVEX conversions (Intel SDM Vol. 2, each VCVT* page), in Go's names: D =
signed 32-bit, UD = unsigned 32-bit, Q/QQ = signed 64-bit, UQQ = unsigned 64-bit
integers; PS/PD/PH = binary32/binary64/binary16 floats; SI/USI = a general register
(L: 32-bit, Q: 64-bit); a trailing X or Y on a narrowing conversion names the width of
its source (``VCVTPD2PSY Y1, X2``, ``VCVTPD2DQX (AX), X3``).

Rounding follows MXCSR.RC (or EVEX embedded rounding); the CVTT forms truncate.
Invalid conversions to integers (NaN, infinity, out of range) give the integer
indefinite -- ``1 << (bits - 1)`` signed, all ones unsigned -- with IE (SDM Vol. 1,
4.8.3.7 and the VCVTPS2UDQ pages). F16C's VCVTPS2PH takes its rounding from imm[1:0],
or MXCSR.RC when imm[2] is set (SDM: VCVTPS2PH, Table 5-?? "Immediate byte encoding").
"""

from __future__ import annotations

import attrs

from goasm.machine import fp
from goasm.machine.ops import fpvec, vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import vhandles
from goasm.machine.ops.vfp import (RC_OF, _check_rounding_form, scalar_mask, scalar_mem,
                                   scalar_write)

# element kinds: (bytes, "f" float format | "i" signed | "u" unsigned)
KINDS = {"PS": (4, fp.F32), "PD": (8, fp.F64), "PH": (2, fp.F16), "DQ": (4, "i"),
         "UDQ": (4, "u"), "QQ": (8, "i"), "UQQ": (8, "u")}


def _signed(bits: int):
    top = 1 << (bits - 1)

    def fn(n: int) -> int:
        return n - (top << 1) if n & top else n
    return fn


def lane_fn(src, dst, truncate: bool, imm: int | None = None):
    """``fn(bits, mx) -> (bits, flags)`` converting one element."""
    sbytes, skind = src
    dbytes, dkind = dst
    if isinstance(skind, fp.Fmt) and isinstance(dkind, fp.Fmt):
        if imm is not None:           # VCVTPS2PH: imm picks the rounding; FTZ not applied
            rc = None if imm & 4 else imm & 3
            return lambda a, mx: fp.convert(skind, dkind, a, mx & ~fp.FTZ, rc)
        return lambda a, mx: fp.convert(skind, dkind, a, mx)
    if isinstance(skind, fp.Fmt):
        bits = 8 * dbytes
        signed = dkind == "i"
        return lambda a, mx: fp.to_int(skind, a, mx, bits, signed, truncate)
    conv = _signed(8 * sbytes) if skind == "i" else (lambda n: n)
    return lambda a, mx: fp.from_int(dkind, conv(a), mx)


def _exact(src, dst) -> bool:
    """Conversions that never round (only ``{sae}`` is accepted, not ``{er}``)."""
    sb, sk = src
    db, dk = dst
    if isinstance(sk, fp.Fmt) and isinstance(dk, fp.Fmt):
        return dk.mbits > sk.mbits
    if not isinstance(sk, fp.Fmt):
        return dk is fp.F64 and sb == 4
    return False


def _read_low(e, v, op, ew) -> str:
    """Source ``op`` at ``v.width`` bytes, which may be less than a register (the
    widening conversions read the low half: 8 bytes of an X register)."""
    if op.kind == "xmm" and v.width < 16:
        return f"(xmm[{e.const(op.index)}] & {e.const(vec.FULL[v.width])})"
    return vec.read(e, v, op, ew)


def _packed_specs():
    pairs = [("PS", "PD"), ("PD", "PS"), ("DQ", "PS"), ("DQ", "PD"),
             ("UDQ", "PS"), ("UDQ", "PD"), ("PS", "DQ"), ("PD", "DQ"), ("PS", "UDQ"),
             ("PD", "UDQ"), ("PD", "QQ"), ("PD", "UQQ"), ("PS", "QQ"), ("PS", "UQQ"),
             ("QQ", "PD"), ("UQQ", "PD"), ("QQ", "PS"), ("UQQ", "PS")]
    for s, d in pairs:
        src, dst = KINDS[s], KINDS[d]
        trunc_ok = not isinstance(dst[1], fp.Fmt)
        for t in (("", False), ("T", True)) if trunc_ok else (("", False),):
            name = f"VCVT{t[0]}{s}2{d}"
            narrowing = dst[0] < src[0]
            kw = dict(src=src, dst=dst, truncate=t[1])
            if narrowing:
                yield name, dict(kw, src_width=64)
                yield name + "X", dict(kw, src_width=16)
                yield name + "Y", dict(kw, src_width=32)
            else:
                yield name, dict(kw, src_width=None)


@vhandles(*_packed_specs())
def vcvt_packed(e, args, src, dst, truncate, src_width):
    """``VCVTPD2PSY src, [K,] dst``: convert each element; a narrowing conversion fills
    the low part of dst and zeroes the rest, a widening one reads the low part of its
    source (SDM: VCVTPS2PD, VCVTPD2PS, VCVTDQ2PS, VCVTPS2UDQ, VCVTQQ2PD ...)."""
    v = vec.parse(args, e.ins, nsrc=1, rounding=True)
    _check_rounding_form(v)
    if v.rounding is not None and (truncate or _exact(src, dst)):
        raise BadForm("embedded rounding on an exact or truncating conversion")
    (sb, sk), (db, dk) = src, dst
    s, d = v.srcs[0], v.dst
    vec.need_vec(d)
    vec.need_vec_or_mem(s)
    if db < sb:                                   # narrowing: the source width decides
        width = s.vw if s.kind == "xmm" else src_width
        if s.kind == "xmm" and src_width != 64 and s.vw != src_width:
            raise BadForm("source register does not match the X/Y suffix")
        n = width // sb
    else:
        n = d.vw // db
        width = n * sb
    rc = RC_OF[v.rounding] if v.rounding is not None else None
    fast = None
    if isinstance(sk, fp.Fmt) and isinstance(dk, fp.Fmt) and not v.sae:
        fast = fpvec.fast_convert(sk, dk, n)
    kernel = fpvec.elementwise((lane_fn(src, dst, truncate),), sb, db, n, 1, sae=v.sae,
                               rc=rc, fast=fast)
    vs = attrs.evolve(v, width=width)
    e.emit(f"a = {_read_low(e, vs, s, sb)}")
    out = n * db
    vd = attrs.evolve(v, width=max(out, 16))
    e.emit(f"r = {e.call(kernel, 'cpu', vec.mask_expr(e, vs, sb), 'a')}")
    vec.write(e, vd, "r", db, lanes=n if out < 16 else None)
    e.next()


@vhandles(("VCVTPH2PS", dict()))
def vcvtph2ps(e, args):
    """``VCVTPH2PS src, [K,] dst``: binary16 elements widened exactly to binary32
    (SDM: VCVTPH2PS; DAZ is not applied to binary16 inputs and their denormals raise
    no DE -- measured)."""
    v = vec.parse(args, e.ins, nsrc=1, rounding=True, bcst=False)
    _check_rounding_form(v)
    if v.rounding is not None:
        raise BadForm("embedded rounding on an exact conversion")
    s, d = v.srcs[0], v.dst
    vec.need_vec(d)
    vec.need_vec_or_mem(s)
    n = d.vw // 4
    def lane(a, mx):
        r, f = fp.convert(fp.F16, fp.F32, a, mx & ~fp.DAZ)
        return r, f & ~fp.DE            # binary16 denormals are normal binary32: no DE

    kernel = fpvec.elementwise((lane,), 2, 4, n, 1, sae=v.sae)
    vs = attrs.evolve(v, width=2 * n)
    e.emit(f"a = {_read_low(e, vs, s, 2)}")
    e.emit(f"r = {e.call(kernel, 'cpu', vec.mask_expr(e, vs, 2), 'a')}")
    vec.write(e, v, "r", 4)
    e.next()


@vhandles(("VCVTPS2PH", dict()))
def vcvtps2ph(e, args):
    """``VCVTPS2PH $imm, src, [K,] dst``: binary32 elements rounded to binary16 by
    imm[1:0], or MXCSR.RC when imm[2]; dst is a register (zeroed above the result) or
    memory (masked: only the selected elements are stored) (SDM: VCVTPS2PH)."""
    v = vec.parse(args, e.ins, nsrc=1, imm=True, rounding=True, bcst=False)
    _check_rounding_form(v)
    if v.rounding is not None:
        raise BadForm("only .SAE")
    s, d = v.srcs[0], v.dst
    vec.need_vec(s, "source")
    if d.kind not in ("xmm", "mem"):
        raise BadForm("destination must be a vector register or memory")
    if v.zeroing and d.kind == "mem":
        raise BadForm(".Z on a store")
    n = s.vw // 4
    kernel = fpvec.elementwise((lane_fn(KINDS["PS"], KINDS["PH"], False, v.imm),), 4, 2, n,
                               1, sae=v.sae)
    e.emit(f"a = {vec.vreg_expr(e, s.index, s.vw)}")
    vs = attrs.evolve(v, width=s.vw)
    out = 2 * n
    if d.kind == "mem":
        # A store that faults leaves MXCSR alone: check the selected elements first.
        e.emit(f"{e.call(fpvec.probe_store, 'mem', e.ea(d), '2', e.const(n), vec.mask_expr(e, vs, 4))}")
    e.emit(f"r = {e.call(kernel, 'cpu', vec.mask_expr(e, vs, 4), 'a')}")
    if d.kind == "mem":
        vd = attrs.evolve(v, width=out)
        vec.write(e, vd, "r", 2)
    else:
        vd = attrs.evolve(v, width=max(out, 16))
        vec.write(e, vd, "r", 2, lanes=n if out < 16 else None)
    e.next()


# --------------------------------------------------------------------------- scalar

@vhandles(("VCVTSD2SS", dict(src=fp.F64, dst=fp.F32)),
          ("VCVTSS2SD", dict(src=fp.F32, dst=fp.F64)))
def vcvt_scalar_float(e, args, src, dst):
    """``VCVTSD2SS src2, src1, [K,] dst``: element 0 of src2 converted; the rest of 128
    bits from src1 (SDM: VCVTSD2SS, VCVTSS2SD)."""
    v = vec.parse(args, e.ins, nsrc=2, rounding=True, bcst=False)
    _check_rounding_form(v)
    if v.rounding is not None and dst.mbits > src.mbits:
        raise BadForm("embedded rounding on an exact conversion")
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec_or_mem(b)
    e.emit(f"a = {vec.vreg_expr(e, a.index, 16)}")
    e.emit(f"b = {scalar_mem(e, v, b, src.nbytes)}" if b.kind == "mem"
           else f"b = xmm[{e.const(b.index)}] & {e.const((1 << src.bits) - 1)}")
    rc = RC_OF[v.rounding] if v.rounding is not None else None
    k = fpvec.scalar(lambda x, mx: fp.convert(src, dst, x, mx), 1, sae=v.sae, rc=rc,
                     fast=None if v.sae else fpvec.fast_convert(src, dst, 1))
    e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'b')}")
    scalar_write(e, v, dst.nbytes, "r")
    e.next()


def _from_int_specs():
    for name, fmt in (("SD", fp.F64), ("SS", fp.F32)):
        for u in ("", "U"):
            for sfx, bits in (("L", 32), ("Q", 64)):
                yield f"VCVT{u}SI2{name}{sfx}", dict(fmt=fmt, bits=bits, signed=not u)


@vhandles(*_from_int_specs())
def vcvt_from_int(e, args, fmt, bits, signed):
    """``VCVTSI2SDQ r/m64, src1, dst``: a signed (VCVTUSI: unsigned) integer rounded
    to element 0; the rest of 128 bits from src1 (SDM: VCVTSI2SD, VCVTUSI2SD)."""
    v = vec.parse(args, e.ins, nsrc=2, rounding=True, masking=False, bcst=False)
    if v.sae and v.srcs[1].kind == "mem":
        raise BadForm("embedded rounding needs a register source")
    if v.sae and v.rounding is None:
        raise BadForm("only embedded rounding (not .SAE)")
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    if b.kind not in ("gpr", "mem"):
        raise BadForm("source must be a general register or memory")
    e.emit(f"a = {vec.vreg_expr(e, a.index, 16)}")
    e.emit(f"b = {e.read(b, bits // 8)}")
    conv = _signed(bits) if signed else (lambda n: n)
    rc = RC_OF[v.rounding] if v.rounding is not None else None
    k = fpvec.scalar(lambda x, mx: fp.from_int(fmt, conv(x), mx), 1, sae=v.sae, rc=rc)
    e.emit(f"r = {e.call(k, 'cpu', '1', 'b')}")
    scalar_write(e, v, fmt.nbytes, "r")
    e.next()


def _to_int_specs():
    for name, fmt in (("SD", fp.F64), ("SS", fp.F32)):
        for t in ("", "T"):
            yield f"VCVT{t}{name}2SI", dict(fmt=fmt, bits=32, signed=True, truncate=bool(t))
            yield f"VCVT{t}{name}2SIQ", dict(fmt=fmt, bits=64, signed=True,
                                             truncate=bool(t))
            yield f"VCVT{t}{name}2USIL", dict(fmt=fmt, bits=32, signed=False,
                                              truncate=bool(t))
            yield f"VCVT{t}{name}2USIQ", dict(fmt=fmt, bits=64, signed=False,
                                              truncate=bool(t))


@vhandles(*_to_int_specs())
def vcvt_to_int(e, args, fmt, bits, signed, truncate):
    """``VCVTSD2SIQ X/m64, r64``: element 0 converted to a signed (USI: unsigned)
    integer, rounded by MXCSR.RC or embedded rounding (CVTT: truncated); a 32-bit
    result is zero-extended into the register (SDM: VCVTSD2SI, VCVTTSS2USI ...)."""
    v = vec.parse(args, e.ins, nsrc=1, rounding=True, masking=False, bcst=False)
    s, d = v.srcs[0], v.dst
    if v.sae and s.kind == "mem":
        raise BadForm("embedded rounding needs a register source")
    if v.rounding is not None and truncate:
        raise BadForm("only .SAE on a truncating conversion")
    if d.kind != "gpr" or s.kind not in ("xmm", "mem"):
        raise BadForm("needs a vector/memory source and a general register")
    rc = RC_OF[v.rounding] if v.rounding is not None else None
    k = fpvec.scalar(lambda x, mx: fp.to_int(fmt, x, mx, bits, signed, truncate), 1,
                     sae=v.sae, rc=rc)
    src = e.read(s, fmt.nbytes) if s.kind == "mem" else \
        f"xmm[{e.const(s.index)}] & {e.const((1 << fmt.bits) - 1)}"
    e.emit(f"b = {src}")
    e.write(d, bits // 8, e.call(k, "cpu", "1", "b"))
    e.next()

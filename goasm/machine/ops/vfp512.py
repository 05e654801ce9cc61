"""AVX-512 floating-point specials and the approximate reciprocals (Intel SDM Vol. 2,
each page; element semantics in :mod:`goasm.machine.fp` and
:mod:`goasm.machine.fp_approx`): VGETEXP, VGETMANT, VFIXUPIMM, VRANGE, VREDUCE,
VSCALEF, VFPCLASS (PS PD SS SD), VRCP14/VRSQRT14 (PS PD SS SD), and the 12-bit
VRCPPS/VRCPSS/VRSQRTPS/VRSQRTSS with their legacy SSE forms RCPPS/RCPSS/RSQRTPS/RSQRTSS.

Packed forms: ``OP [$imm,] src, [K,] dst`` or ``OP [$imm,] src2, src1, [K,] dst``;
scalar forms compute element 0 from src2 (register or memory element) and copy the rest
of 128 bits from src1.
"""

from __future__ import annotations

from functools import lru_cache

import attrs

from goasm.machine import fp, fp_approx
from goasm.machine.ops import fpvec, vec
from goasm.machine.ops.base import BadForm, handles
from goasm.machine.ops.lanes import M128, need, read_src, xmm
from goasm.machine.ops.vec import vhandles
from goasm.machine.ops.vfp import (FMTS, RC_OF, _check_rounding_form, _low, packed,
                                   scalar_mask, scalar_sources, scalar_write)


def _lane(kind: str, fmt: fp.Fmt, imm: int | None):
    """The element function ``fn(*bits, mx) -> (bits, flags)`` of a family."""
    if kind == "GETEXP":
        return lambda a, mx: fp.getexp(fmt, a, mx)
    if kind == "GETMANT":
        return lambda a, mx: fp.getmant(fmt, a, mx, imm)
    if kind == "REDUCE":
        return lambda a, mx: fp.reduce_(fmt, a, mx, imm)
    if kind == "RNDSCALE":
        return lambda a, mx: fp.round_integral(fmt, a, mx, imm & 0xF, imm >> 4)
    if kind == "RCP14":
        return lambda a, mx: fp_approx.rcp14(fmt, a, mx)
    if kind == "RSQRT14":
        return lambda a, mx: fp_approx.rsqrt14(fmt, a, mx)
    if kind == "RCP":
        return fp_approx.rcp12
    if kind == "RSQRT":
        return fp_approx.rsqrt12
    if kind == "RANGE":
        return lambda a, b, mx: fp.range_(fmt, a, b, mx, imm)
    if kind == "SCALEF":
        return lambda a, b, mx: fp.scalef(fmt, a, b, mx)
    if kind == "FIXUPIMM":
        return lambda d, a, t, mx: fp.fixupimm(fmt, d, a, t, mx, imm)
    raise ValueError(kind)


_UNARY = {"GETEXP": (False, False), "GETMANT": (True, False), "REDUCE": (True, False),
          "RCP14": (False, False), "RSQRT14": (False, False)}
"""kind -> (takes an immediate, accepts embedded rounding)"""
_BINARY = {"RANGE": (True, False), "SCALEF": (False, True)}


@lru_cache(maxsize=None)
def _packed_kernel(kind, fmt, n, imm, nin, sae, rc):
    return fpvec.elementwise((_lane(kind, fmt, imm),), fmt.nbytes, fmt.nbytes, n, nin,
                             sae=sae, rc=rc)


def _specs(kinds):
    for kind in kinds:
        for sfx, fmt in FMTS.items():
            yield f"V{kind}{sfx}", dict(kind=kind, fmt=fmt, scalar=sfx[0] == "S")


@vhandles(*_specs(_UNARY))
def vunary512(e, args, kind, fmt, scalar):
    """``VGETEXPPD src, [K,] dst`` / ``VGETEXPSD src2, src1, [K,] dst`` and the same
    shapes with an immediate first (VGETMANT, VREDUCE) or none (VRCP14, VRSQRT14): an
    element function per element (SDM: VGETEXPPD, VGETMANTPD, VREDUCEPD, VRCP14PD,
    VRSQRT14PD and their scalar forms)."""
    has_imm, _ = _UNARY[kind]
    approx = kind in ("RCP14", "RSQRT14")
    v = vec.parse(args, e.ins, nsrc=2 if scalar else 1, imm=has_imm, rounding=not approx,
                  bcst=not scalar)
    if v.rounding is not None:
        raise BadForm("only .SAE")
    _check_rounding_form(v)
    ew = fmt.nbytes
    imm = v.imm
    if scalar:
        scalar_sources(e, v, ew)
        k = fpvec.scalar(_lane(kind, fmt, imm), 1, sae=v.sae)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'b')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    vec.need_vec_or_mem(v.srcs[0])
    packed(e, v, ew, _packed_kernel(kind, fmt, v.width // ew, imm, 1, v.sae, None), 1)


@vhandles(*_specs(_BINARY))
def vbinary512(e, args, kind, fmt, scalar):
    """``VSCALEFPD src2, src1, [K,] dst`` (``a * 2**floor(b)``), ``VRANGEPD $imm, src2,
    src1, [K,] dst`` (SDM: VSCALEFPD, VRANGEPD and their scalar forms)."""
    has_imm, er = _BINARY[kind]
    v = vec.parse(args, e.ins, nsrc=2, imm=has_imm, rounding=True, bcst=not scalar)
    if v.rounding is not None and not er:
        raise BadForm("only .SAE")
    _check_rounding_form(v)
    ew = fmt.nbytes
    rc = RC_OF[v.rounding] if v.rounding is not None else None
    if scalar:
        scalar_sources(e, v, ew)
        k = fpvec.scalar(_lane(kind, fmt, v.imm), 2, sae=v.sae, rc=rc)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'a & ' + e.const(_low(ew)), 'b')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    packed(e, v, ew, _packed_kernel(kind, fmt, v.width // ew, v.imm, 2, v.sae, rc), 2)


@vhandles(*_specs(("FIXUPIMM",)))
def vfixupimm(e, args, kind, fmt, scalar):
    """``VFIXUPIMMPD $imm, tbl, src1, [K,] dst``: each element of src1 replaced by the
    response its class selects in the 32-bit table of tbl's element, or dst's element
    kept (SDM: VFIXUPIMMPD, VFIXUPIMMSD)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, rounding=True, bcst=not scalar)
    if v.rounding is not None:
        raise BadForm("only .SAE")
    _check_rounding_form(v)
    vec.need_vec(v.dst)
    src1, tbl = v.srcs
    vec.need_vec(src1, "first source")
    vec.need_vec_or_mem(tbl)
    ew = fmt.nbytes
    lane = _lane(kind, fmt, v.imm)
    if scalar:
        if v.bcst:
            raise BadForm(".BCST on a scalar instruction")
        low = e.const(_low(ew))
        e.emit(f"a = {vec.vreg_expr(e, src1.index, 16)}")
        e.emit(f"d = {vec.vreg_expr(e, v.dst.index, 16)} & {low}")
        from goasm.machine.ops.vfp import scalar_mem
        e.emit(f"t = {scalar_mem(e, v, tbl, ew)}" if tbl.kind == "mem"
               else f"t = {vec.vreg_expr(e, tbl.index, 16)} & {low}")
        k = fpvec.scalar(lane, 3, sae=v.sae)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'd', f'a & {low}', 't')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    n = v.width // ew
    e.emit(f"d = {vec.vreg_expr(e, v.dst.index, v.width)}")
    e.emit(f"a = {vec.read(e, v, src1, ew)}", f"t = {vec.read(e, v, tbl, ew)}")
    k = fpvec.elementwise((lane,), ew, ew, n, 3, sae=v.sae)
    e.emit(f"r = {e.call(k, 'cpu', vec.mask_expr(e, v, ew), 'd', 'a', 't')}")
    vec.write(e, v, "r", ew)
    e.next()


def _fpclass_specs():
    for sfx, fmt in (("PS", fp.F32), ("PD", fp.F64)):
        yield f"VFPCLASS{sfx}", dict(fmt=fmt, width=None, scalar=False)
        for w, wide in (("X", 16), ("Y", 32), ("Z", 64)):
            yield f"VFPCLASS{sfx}{w}", dict(fmt=fmt, width=wide, scalar=False)
    yield "VFPCLASSSS", dict(fmt=fp.F32, width=16, scalar=True)
    yield "VFPCLASSSD", dict(fmt=fp.F64, width=16, scalar=True)


@lru_cache(maxsize=None)
def _fpclass_kernel(fmt, n, imm):
    ew = fmt.nbytes
    st = vec._struct(ew, ew * n, False)

    def run(cpu, mask, a):
        xs = st.unpack(a.to_bytes(ew * n, "little"))
        mx = cpu.mxcsr
        out = 0
        for i in range(n):
            if mask >> i & 1 and fp.fpclass(fmt, xs[i], imm, mx):
                out |= 1 << i
        return out
    return run


@vhandles(*_fpclass_specs())
def vfpclass(e, args, fmt, width, scalar):
    """``VFPCLASSPDZ $imm, src, [K,] Kdst``: one opmask bit per element, set when the
    element is in a class imm8 selects (ANDed with the writemask); no exception is
    raised (SDM: VFPCLASSPD). X/Y/Z name the width of a memory source."""
    v = vec.parse(args, e.ins, nsrc=1, imm=True, bcst=not scalar)
    if v.dst.kind != "kreg":
        raise BadForm("the destination is an opmask register")
    src = v.srcs[0]
    vec.need_vec_or_mem(src)
    ew = fmt.nbytes
    if scalar:
        w = ew
    elif src.kind == "xmm":
        w = src.vw
        if width is not None and width != w:
            raise BadForm("source register does not match the X/Y/Z suffix")
    else:
        if width is None:
            raise BadForm("a memory source needs the X, Y or Z suffix")
        w = width
    n = max(w // ew, 1)
    vs = attrs.evolve(v, width=max(w, ew))
    if scalar:
        from goasm.machine.ops.vfp import scalar_mem
        e.emit(f"a = {scalar_mem(e, v, src, ew)}" if src.kind == "mem"
               else f"a = xmm[{e.const(src.index)}] & {e.const(_low(ew))}")
    else:
        e.emit(f"a = {vec.read(e, vs, src, ew)}")
    mask = f"kreg[{e.const(v.k)}]" if v.k else e.const((1 << n) - 1)
    e.emit(f"kreg[{e.const(v.dst.index)}] = "
           f"{e.call(_fpclass_kernel(fmt, n, v.imm), 'cpu', mask, 'a')}")
    e.next()


# --------------------------------------------------------------------------- 12-bit approximations

@vhandles(("VRCPPS", dict(kind="RCP", scalar=False)), ("VRSQRTPS", dict(kind="RSQRT", scalar=False)),
          ("VRCPSS", dict(kind="RCP", scalar=True)), ("VRSQRTSS", dict(kind="RSQRT", scalar=True)))
def vrcp12(e, args, kind, scalar):
    """``VRCPPS src, dst`` / ``VRCPSS src2, src1, dst``: approximate reciprocals (square
    roots) with 12-bit precision, as the recording processor computes them
    (:mod:`goasm.machine.fp_approx`; SDM: RCPPS, RSQRTPS)."""
    v = vec.parse(args, e.ins, nsrc=2 if scalar else 1, masking=False, bcst=False)
    if v.evex:
        raise BadForm("VEX only")
    if scalar:
        scalar_sources(e, v, 4)
        k = fpvec.scalar(_lane(kind, fp.F32, None), 1)
        e.emit(f"r = {e.call(k, 'cpu', '1', 'b')}")
        scalar_write(e, v, 4, "r")
        e.next()
        return
    vec.need_vec_or_mem(v.srcs[0])
    packed(e, v, 4, _packed_kernel(kind, fp.F32, v.width // 4, None, 1, False, None), 1)


@handles(("RCPPS", dict(kind="RCP", scalar=False)), ("RSQRTPS", dict(kind="RSQRT", scalar=False)),
         ("RCPSS", dict(kind="RCP", scalar=True)), ("RSQRTSS", dict(kind="RSQRT", scalar=True)))
def rcp12(e, args, kind, scalar):
    """``RCPPS src, dst`` / ``RCPSS src, dst`` (legacy SSE; the scalar form keeps the
    rest of dst)."""
    src, dst = need(args, 2)
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 4 if scalar else 16)}")
    d = f"xmm[{e.const(dst.index)}]"
    if scalar:
        k = fpvec.scalar(_lane(kind, fp.F32, None), 1)
        e.write(dst, 16, f"{d} & {e.const(M128 ^ 0xFFFFFFFF)} | "
                         f"{e.call(k, 'cpu', '1', 's & 0xFFFFFFFF')}")
    else:
        k = _packed_kernel(kind, fp.F32, 4, None, 1, False, None)
        e.write(dst, 16, e.call(k, "cpu", e.const(0xF), "s"))
    e.next()

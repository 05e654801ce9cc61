"""VEX and EVEX floating-point arithmetic (Intel SDM Vol. 2, the page of each
instruction; MXCSR and exceptions as in :mod:`goasm.machine.fp`):

* VADD/VSUB/VMUL/VDIV/VSQRT/VMIN/VMAX × PS PD SS SD (EVEX: embedded rounding, ``.SAE``
  for MIN/MAX, broadcast, writemasks);
* FMA3: VFMADD/VFMSUB/VFNMADD/VFNMSUB × 132 213 231 × PS PD SS SD and
  VFMADDSUB/VFMSUBADD × 132 213 231 × PS PD, rounded once;
* VADDSUBPS/PD, VHADDPS/PD, VHSUBPS/PD, VDPPS/VDPPD (VEX only);
* VCMPPS/PD/SS/SD (all 32 predicates; EVEX into an opmask register), VCOMISS/SD and
  VUCOMISS/SD;
* VROUNDPS/PD/SS/SD (VEX) and VRNDSCALEPS/PD/SS/SD (EVEX).

Operand roles follow Go's order (:mod:`goasm.machine.ops.vec`): ``VADDPD src2, src1,
[K,] dst``. Scalar forms compute element 0 from both sources and copy the rest of the
128 bits from ``src1`` (VEX/EVEX ``VADDSD``; SDM "DEST[127:64] := SRC1[127:64]").
"""

from __future__ import annotations

from functools import lru_cache, partial

from goasm.machine import flags as fl
from goasm.machine import fp
from goasm.machine.ops import fpvec, vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import vhandles

FMTS = {"PS": fp.F32, "PD": fp.F64, "SS": fp.F32, "SD": fp.F64}
RC_OF = {"RN": fp.RN, "RD": fp.RD, "RU": fp.RU, "RZ": fp.RZ}


def _rounding(v, *, allow_rc: bool = True):
    """``(sae, rc)`` of an EVEX suffix (``rc`` None: MXCSR's)."""
    if v.rounding is not None and not allow_rc:
        raise BadForm("embedded rounding not accepted (only .SAE)")
    return v.sae, (RC_OF[v.rounding] if v.rounding is not None else None)


def _check_rounding_form(v) -> None:
    if v.sae and any(s.kind == "mem" for s in v.srcs):
        raise BadForm("embedded rounding/SAE needs register operands")


def _low(width: int) -> int:
    return (1 << (8 * width)) - 1


# --------------------------------------------------------------------------- lane ops

def _lane_binary(fmt, op):
    if op == "ADD":
        return partial(fp.add, fmt)
    if op == "SUB":
        return lambda a, b, mx: fp.add(fmt, a, b, mx, True)
    if op == "MUL":
        return partial(fp.mul, fmt)
    if op == "DIV":
        return partial(fp.div, fmt)
    if op == "MIN":
        return lambda a, b, mx: fp.minmax(fmt, a, b, mx, False)
    if op == "MAX":
        return lambda a, b, mx: fp.minmax(fmt, a, b, mx, True)
    raise ValueError(op)


_FAST = {"ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div"}


def _fast_binary(fmt, op, n, sae, rc):
    if sae or rc is not None:
        return None
    if op in _FAST:
        return fpvec.fast_binary(fmt, n, _FAST[op])
    return fpvec.fast_minmax(fmt, n, op == "MAX")


@lru_cache(maxsize=None)
def binary_kernel(fmt, op: str, n: int, *, sae=False, rc=None):
    """The kernel of a packed ADD/SUB/MUL/DIV/MIN/MAX on ``n`` elements."""
    return fpvec.elementwise((_lane_binary(fmt, op),), fmt.nbytes, fmt.nbytes, n, 2,
                             sae=sae, rc=rc, fast=_fast_binary(fmt, op, n, sae, rc))


@lru_cache(maxsize=None)
def scalar_kernel(fmt, op: str, *, sae=False, rc=None):
    return fpvec.scalar(_lane_binary(fmt, op), 2, sae=sae, rc=rc,
                        fast=_fast_binary(fmt, op, 1, sae, rc))


@lru_cache(maxsize=None)
def sqrt_kernel(fmt, n: int, *, sae=False, rc=None):
    fast = fpvec.fast_sqrt(fmt, n) if not sae and rc is None else None
    return fpvec.elementwise((partial(fp.sqrt, fmt),), fmt.nbytes, fmt.nbytes, n, 1,
                             sae=sae, rc=rc, fast=fast)


# --------------------------------------------------------------------------- emission helpers

def _sources(e, v, ew, *, vec_first=True):
    """Read ``v``'s sources into locals a, b (Intel order: a = src1 (vvvv), b = src2)."""
    names = []
    for i, s in enumerate(v.srcs):
        if i == 0 and vec_first and len(v.srcs) > 1:
            vec.need_vec(s, "first source")
        else:
            vec.need_vec_or_mem(s)
        name = "abc"[i]
        e.emit(f"{name} = {vec.read(e, v, s, ew)}")
        names.append(name)
    return names


def packed(e, v, ew, kernel, nin):
    """``r = kernel(cpu, mask, a[, b])`` on the operation width, then write-back."""
    vec.need_vec(v.dst)
    names = _sources(e, v, ew)
    e.emit(f"r = {e.call(kernel, 'cpu', vec.mask_expr(e, v, ew), *names)}")
    vec.write(e, v, "r", ew)
    e.next()


def scalar_sources(e, v, ew):
    """a = src1 (all 128 bits), b = element 0 of src2 (register or ``ew`` bytes of
    memory)."""
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec_or_mem(b)
    if v.bcst:
        raise BadForm(".BCST on a scalar instruction")
    e.emit(f"a = {vec.vreg_expr(e, a.index, 16)}")
    if b.kind == "mem":
        e.emit(f"b = {scalar_mem(e, v, b, ew)}")
    else:
        e.emit(f"b = {vec.vreg_expr(e, b.index, 16)} & {e.const(_low(ew))}")


def scalar_mem(e, v, op, ew) -> str:
    """Element 0 from memory; with a writemask whose bit 0 is clear it is not read, so
    it cannot fault (SDM Vol. 2, 2.8: fault suppression for masked-off elements)."""
    if v.k:
        return f"({e.read(op, ew)} if kreg[{e.const(v.k)}] & 1 else 0)"
    return e.read(op, ew)


def scalar_write(e, v, ew, value: str) -> None:
    """Element 0 = ``value`` (masked by bit 0 of the writemask), the rest of 128 bits
    from src1 (local ``a``), zero above."""
    low = _low(ew)
    if v.k:
        k = f"kreg[{e.const(v.k)}] & 1"
        if v.zeroing:
            value = f"({value} if {k} else 0)"
        else:
            old = vec.vreg_expr(e, v.dst.index, 16)
            value = f"({value} if {k} else {old} & {e.const(low)})"
    v16 = vec.VOp(v.dst, v.srcs, v.imm, 0, False, False, v.rounding, v.sae, 16, v.evex)
    vec.store(e, v16.dst, 16, f"a & {e.const(vec.FULL[16] ^ low)} | {value}")


def scalar_mask(e, v) -> str:
    return f"kreg[{e.const(v.k)}]" if v.k else "1"


# --------------------------------------------------------------------------- ADD SUB MUL DIV MIN MAX

def _arith_specs():
    for op in ("ADD", "SUB", "MUL", "DIV", "MIN", "MAX"):
        for sfx, fmt in FMTS.items():
            yield f"V{op}{sfx}", dict(op=op, fmt=fmt, scalar=sfx[0] == "S")


@vhandles(*_arith_specs())
def varith(e, args, op, fmt, scalar):
    """``VADDPD src2, src1, [K,] dst``: dst = src1 OP src2 per element (SDM: ADDPD ...
    MAXSD); MIN/MAX return src2 for NaNs and equal zeros (:func:`fp.minmax`)."""
    v = vec.parse(args, e.ins, nsrc=2, rounding=True, bcst=not scalar)
    sae, rc = _rounding(v, allow_rc=op not in ("MIN", "MAX"))
    _check_rounding_form(v)
    ew = fmt.nbytes
    if scalar:
        scalar_sources(e, v, ew)
        k = scalar_kernel(fmt, op, sae=sae, rc=rc)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'a & ' + e.const(_low(ew)), 'b')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    packed(e, v, ew, binary_kernel(fmt, op, v.width // ew, sae=sae, rc=rc), 2)


@vhandles(*((f"VSQRT{s}", dict(fmt=f, scalar=s[0] == "S")) for s, f in FMTS.items()))
def vsqrt(e, args, fmt, scalar):
    """``VSQRTPD src, [K,] dst`` / ``VSQRTSD src2, src1, [K,] dst``: square roots,
    correctly rounded (SDM: SQRTPD, SQRTSD)."""
    ew = fmt.nbytes
    if scalar:
        v = vec.parse(args, e.ins, nsrc=2, rounding=True, bcst=False)
        sae, rc = _rounding(v)
        _check_rounding_form(v)
        scalar_sources(e, v, ew)
        k = fpvec.scalar(partial(fp.sqrt, fmt), 1, sae=sae, rc=rc,
                         fast=fpvec.fast_sqrt(fmt, 1) if not sae else None)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'b')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    v = vec.parse(args, e.ins, nsrc=1, rounding=True)
    sae, rc = _rounding(v)
    _check_rounding_form(v)
    vec.need_vec(v.dst)
    vec.need_vec_or_mem(v.srcs[0])
    packed(e, v, ew, sqrt_kernel(fmt, v.width // ew, sae=sae, rc=rc), 1)


# --------------------------------------------------------------------------- FMA

_FMA_KINDS = {
    # name: (negate product, negate addend) for even and odd elements
    "MADD": ((False, False), (False, False)),
    "MSUB": ((False, True), (False, True)),
    "NMADD": ((True, False), (True, False)),
    "NMSUB": ((True, True), (True, True)),
    "MADDSUB": ((False, True), (False, False)),     # even: a*b - c, odd: a*b + c
    "MSUBADD": ((False, False), (False, True)),
}
_FMA_ORDER = {"132": (0, 2, 1), "213": (1, 0, 2), "231": (1, 2, 0)}
"""Operand order: (a, b, c) of ``a*b + c`` as indices into (dst, src2/vvvv, src3/rm)."""


def _fma_specs():
    for kind in _FMA_KINDS:
        for order in _FMA_ORDER:
            for sfx, fmt in FMTS.items():
                if sfx[0] == "S" and kind in ("MADDSUB", "MSUBADD"):
                    continue
                yield f"VF{kind}{order}{sfx}", dict(kind=kind, order=order, fmt=fmt,
                                                    scalar=sfx[0] == "S")


def _fma_lane(fmt, negp, negc):
    def fn(a, b, c, mx):
        return fp.fma(fmt, a, b, c, mx, negp, negc)
    return fn


@lru_cache(maxsize=None)
def fma_kernel(fmt, kind: str, n: int, *, sae=False, rc=None):
    even, odd = _FMA_KINDS[kind]
    fns = (_fma_lane(fmt, *even),) if even == odd else (_fma_lane(fmt, *even),
                                                       _fma_lane(fmt, *odd))
    fast = fpvec.fast_fma(fmt, n, *even) if even == odd and not sae and rc is None \
        else None
    return fpvec.elementwise(fns, fmt.nbytes, fmt.nbytes, n, 3, sae=sae, rc=rc, fast=fast)


@vhandles(*_fma_specs())
def vfma(e, args, kind, order, fmt, scalar):
    """``VFMADD231PD src3, src2, [K,] dst``: dst = ±(a*b) ± c with one rounding, where
    (a, b, c) is (dst, src3, src2) for 132, (src2, dst, src3) for 213 and
    (src2, src3, dst) for 231 (SDM: VFMADD132PD ...); MADDSUB subtracts in even
    elements and adds in odd ones, MSUBADD the reverse. A NaN operand wins in the
    order a, b, c."""
    v = vec.parse(args, e.ins, nsrc=2, rounding=True, bcst=not scalar)
    sae, rc = _rounding(v)
    _check_rounding_form(v)
    vec.need_vec(v.dst)
    src2, src3 = v.srcs
    vec.need_vec(src2, "first source")
    vec.need_vec_or_mem(src3)
    ew = fmt.nbytes
    ia, ib, ic = _FMA_ORDER[order]
    if scalar:
        if v.bcst:
            raise BadForm(".BCST on a scalar instruction")
        low = e.const(_low(ew))
        e.emit(f"d = {vec.vreg_expr(e, v.dst.index, 16)}")
        e.emit(f"s2 = {vec.vreg_expr(e, src2.index, 16)} & {low}")
        e.emit(f"s3 = {scalar_mem(e, v, src3, ew)}" if src3.kind == "mem"
               else f"s3 = {vec.vreg_expr(e, src3.index, 16)} & {low}")
        ops = ("d & " + low, "s2", "s3")
        even = _FMA_KINDS[kind][0]
        k = fpvec.scalar(_fma_lane(fmt, *even), 3, sae=sae, rc=rc,
                         fast=fpvec.fast_fma(fmt, 1, *even) if not sae and rc is None
                         else None)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), ops[ia], ops[ib], ops[ic])}")
        e.emit("a = d")         # the upper elements come from the destination
        scalar_write(e, v, ew, "r")
        e.next()
        return
    e.emit(f"d = {vec.vreg_expr(e, v.dst.index, v.width)}")
    e.emit(f"s2 = {vec.read(e, v, src2, ew)}")
    e.emit(f"s3 = {vec.read(e, v, src3, ew)}")
    ops = ("d", "s2", "s3")
    k = fma_kernel(fmt, kind, v.width // ew, sae=sae, rc=rc)
    e.emit(f"r = {e.call(k, 'cpu', vec.mask_expr(e, v, ew), ops[ia], ops[ib], ops[ic])}")
    vec.write(e, v, "r", ew)
    e.next()


# --------------------------------------------------------------------------- compares

def _cmp_lane(fmt, imm):
    ones = (1 << fmt.bits) - 1

    def fn(a, b, mx):
        t, f = fp.compare(fmt, a, b, mx, imm)
        return (ones if t else 0), f
    return fn


def _cmp_bit_lane(fmt, imm):
    def fn(a, b, mx):
        t, f = fp.compare(fmt, a, b, mx, imm)
        return (1 if t else 0), f
    return fn


@lru_cache(maxsize=None)
def cmp_kernel(fmt, imm: int, n: int, *, to_mask: bool, sae=False):
    """Packed compare: all-ones elements (VEX) or one bit per element (EVEX, into K)."""
    if not to_mask:
        return fpvec.elementwise((_cmp_lane(fmt, imm),), fmt.nbytes, fmt.nbytes, n, 2,
                                 sae=sae, fast=None if sae else
                                 fpvec.fast_compare(fmt, n, imm, fmt.nbytes))
    inner = fpvec.elementwise((_cmp_bit_lane(fmt, imm),), fmt.nbytes, 1, n, 2, sae=sae)
    fast = None if sae else fpvec.fast_compare(fmt, n, imm, 0)
    full = (1 << n) - 1

    def run(cpu, mask, a, b):
        if fast is not None and mask & full == full:
            r = fast(cpu, a, b)
            if r is not None:
                return r
        r = inner(cpu, mask, a, b)      # one byte (0 or 1) per element
        out = 0                         # gather bit 0 of every byte
        i = 0
        while r:
            if r & 1:
                out |= 1 << i
            r >>= 8
            i += 1
        return out
    return run


@vhandles(*((f"VCMP{s}", dict(fmt=f, scalar=s[0] == "S")) for s, f in FMTS.items()))
def vcmp(e, args, fmt, scalar):
    """``VCMPPD $pred, src2, src1, [K,] dst``: the 32 predicates of imm[4:0] (SDM
    CMPPD Table 3-1; the quiet/signalling variants differ only in IE for a QNaN). A
    vector destination gets all-ones/zero elements; an opmask destination one bit
    per element, ANDed with the writemask, zero above (EVEX)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, rounding=True, bcst=not scalar)
    sae, _ = _rounding(v, allow_rc=False)
    _check_rounding_form(v)
    ew = fmt.nbytes
    imm = v.imm & 31
    to_mask = v.dst.kind == "kreg"
    if not to_mask and v.k:
        raise BadForm("a vector compare result takes no writemask")
    if scalar:
        a, b = v.srcs
        vec.need_vec(a, "first source")
        vec.need_vec_or_mem(b)
        e.emit(f"a = {vec.vreg_expr(e, a.index, 16)}")
        e.emit(f"b = {scalar_mem(e, v, b, ew)}" if b.kind == "mem"
               else f"b = {vec.vreg_expr(e, b.index, 16)} & {e.const(_low(ew))}")
        lane = _cmp_bit_lane(fmt, imm) if to_mask else _cmp_lane(fmt, imm)
        k = fpvec.scalar(lane, 2, sae=sae, fast=None if sae else fpvec.fast_compare(
            fmt, 1, imm, 0 if to_mask else fmt.nbytes))
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'a & ' + e.const(_low(ew)), 'b')}")
        if to_mask:
            e.emit(f"kreg[{e.const(v.dst.index)}] = r")
        else:
            vec.need_vec(v.dst)
            scalar_write(e, v, ew, "r")
        e.next()
        return
    n = v.width // ew
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec_or_mem(b)
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {vec.read(e, v, b, ew)}")
    k = cmp_kernel(fmt, imm, n, to_mask=to_mask, sae=sae)
    e.emit(f"r = {e.call(k, 'cpu', vec.mask_expr(e, v, ew), 'a', 'b')}")
    if to_mask:
        e.emit(f"kreg[{e.const(v.dst.index)}] = r")
    else:
        vec.need_vec(v.dst)
        vec.store(e, v.dst, v.width, "r")
    e.next()


def _comis_fn(fmt, signal_qnan: bool, sae: bool):
    def fn(cpu, a, b):
        mx = cpu.mxcsr
        rel, f = fp.relation(fmt, a, b, mx | (fp.MASKS if sae else 0), signal_qnan)
        if f and not sae:
            fp.commit(cpu, f, mx)
        return (fl.ZF | fl.PF | fl.CF if rel == fp.UN else fl.CF if rel == fp.LT
                else fl.ZF if rel == fp.EQ else 0)
    return fn


@vhandles(*((n, dict(fmt=f, signal=not n.startswith("VU")))
            for n, f in (("VCOMISS", fp.F32), ("VCOMISD", fp.F64),
                         ("VUCOMISS", fp.F32), ("VUCOMISD", fp.F64))))
def vcomis(e, args, fmt, signal):
    """``VUCOMISD src, dst``: compare element 0 of dst with src: ZF PF CF = 111
    unordered, 000 greater, 001 less, 100 equal; OF SF AF cleared. VCOMIS signals IE
    for any NaN, VUCOMIS only for a signalling one (SDM: COMISD, UCOMISD)."""
    v = vec.parse(args, e.ins, nsrc=1, rounding=True, masking=False, bcst=False)
    sae, _ = _rounding(v, allow_rc=False)
    _check_rounding_form(v)
    src, dst = v.srcs[0], v.dst
    vec.need_vec(dst, "first operand")
    vec.need_vec_or_mem(src)
    ew = fmt.nbytes
    low = e.const(_low(ew))
    e.emit(f"s = {e.read(src, ew)}" if src.kind == "mem"
           else f"s = xmm[{e.const(src.index)}] & {low}")
    fn = _comis_fn(fmt, signal, sae)
    e.emit(f"{e.const(fl.set_explicit)}(cpu, "
           f"{e.call(fn, 'cpu', f'xmm[{e.const(dst.index)}] & {low}', 's')})")
    e.next()


# --------------------------------------------------------------------------- horizontal, ADDSUB, DPP

def _addsub_kernel(fmt, n):
    add = _lane_binary(fmt, "ADD")
    sub = _lane_binary(fmt, "SUB")
    return fpvec.elementwise((sub, add), fmt.nbytes, fmt.nbytes, n, 2)


@vhandles(("VADDSUBPS", dict(fmt=fp.F32)), ("VADDSUBPD", dict(fmt=fp.F64)))
def vaddsub(e, args, fmt):
    """``VADDSUBPD src2, src1, dst``: subtract in even elements, add in odd ones (SDM:
    ADDSUBPD)."""
    v = vec.parse(args, e.ins, nsrc=2, masking=False, bcst=False)
    if v.evex:
        raise BadForm("VEX only")
    packed(e, v, fmt.nbytes, _addsub_kernel(fmt, v.width // fmt.nbytes), 2)


def _horizontal_kernel(fmt, op, width):
    """HADD/HSUB per 128-bit lane: [a0 op a1, a2 op a3, b0 op b1, b2 op b3] (PS)."""
    ew = fmt.nbytes
    n = width // ew
    per = 16 // ew
    lane = _lane_binary(fmt, op)
    st = vec._struct(ew, width, False)

    def run(cpu, mask, a, b):
        mx = cpu.mxcsr
        xs = st.unpack(a.to_bytes(width, "little"))
        ys = st.unpack(b.to_bytes(width, "little"))
        out = []
        flags = 0
        for base in range(0, n, per):
            for src in (xs, ys):
                for i in range(base, base + per, 2):
                    r, f = lane(src[i], src[i + 1], mx)
                    out.append(r)
                    flags |= f
        if flags:
            fp.commit(cpu, flags, mx)
        return int.from_bytes(st.pack(*out), "little")
    return run


@vhandles(*((f"VH{op}{s}", dict(fmt=f, op=op)) for op in ("ADD", "SUB")
            for s, f in (("PS", fp.F32), ("PD", fp.F64))))
def vhorizontal(e, args, fmt, op):
    """``VHADDPS src2, src1, dst``: adjacent pairs of src1 then of src2, per 128-bit
    lane (SDM: HADDPS, HSUBPD)."""
    v = vec.parse(args, e.ins, nsrc=2, masking=False, bcst=False)
    if v.evex:
        raise BadForm("VEX only")
    packed(e, v, fmt.nbytes, _horizontal_kernel(fmt, op, v.width), 2)


@lru_cache(maxsize=None)
def dpp_kernel(fmt: fp.Fmt, imm: int, width: int, vendor: str):
    """DPPS/DPPD (and VDPPS per 128-bit lane): the products of the elements selected by
    imm[7:4] (others +0.0) summed pairwise, each sum rounded, stored in the elements
    selected by imm[3:0], +0.0 elsewhere (SDM: DPPS, DPPD).

    Which NaN survives when several products are NaNs depends on the order of the
    additions, which the SDM's pseudo-code (p0+p1, (p0+p1)+(p2+p3)) does not fix and
    processors differ on: Intel evaluates each destination element k with its own
    operand order -- DPPD: p[k] + p[1-k]; DPPS: t1 = p[1-e] + p[e], t2 = p[3-e] +
    p[2+e] (e = k & 1), then t1 + t2 for k < 2, else t2 + t1 (measured on an Intel
    processor); AMD (measured on Zen 4) follows the SDM's order, (p0 + p1) + (p2 + p3),
    the same for every element. Exception flags are those of every product and
    sum computed (a masked-out product is +0.0 and raises nothing)."""
    ew = fmt.nbytes
    n = 16 // ew
    mul = partial(fp.mul, fmt)
    add = partial(fp.add, fmt)
    elem = (1 << fmt.bits) - 1

    def lane128(x, y, mx):
        xs = [x >> (8 * ew * i) & elem for i in range(n)]
        ys = [y >> (8 * ew * i) & elem for i in range(n)]
        flags = 0
        p = []
        for i in range(n):
            if imm >> (4 + i) & 1:
                r, f = mul(xs[i], ys[i], mx)
                flags |= f
                p.append(r)
            else:
                p.append(0)
        if vendor == "AuthenticAMD":
            if n == 2:
                s, f = add(p[0], p[1], mx)
                flags |= f
                sums = [s, s]
            else:
                t1, f1 = add(p[0], p[1], mx)
                t2, f2 = add(p[2], p[3], mx)
                s, f3 = add(t1, t2, mx)
                flags |= f1 | f2 | f3
                sums = [s] * 4
        else:
            sums = []
            for k in range(n):
                if n == 2:
                    s, f = add(p[k], p[1 - k], mx)
                else:
                    e1 = k & 1
                    t1, f1 = add(p[e1 ^ 1], p[e1], mx)
                    t2, f2 = add(p[2 + (e1 ^ 1)], p[2 + e1], mx)
                    s, f = add(t1, t2, mx) if k < 2 else add(t2, t1, mx)
                    f |= f1 | f2
                flags |= f
                sums.append(s)
        out = 0
        for k in range(n):
            if imm >> k & 1:
                out |= sums[k] << (8 * ew * k)
        return out, flags

    def run(cpu, mask, a, b):
        mx = cpu.mxcsr
        out = 0
        flags = 0
        for i in range(width // 16):
            r, f = lane128(a >> (128 * i) & vec.M128, b >> (128 * i) & vec.M128, mx)
            out |= r << (128 * i)
            flags |= f
        if flags:
            fp.commit(cpu, flags, mx)
        return out
    return run


@vhandles(("VDPPD", dict(fmt=fp.F64)), ("VDPPS", dict(fmt=fp.F32)))
def vdpp(e, args, fmt):
    """``VDPPS $imm, src2, src1, dst``: DPPS on each 128-bit lane (VDPPD: 128 bits only)
    (SDM: DPPS, DPPD; see :func:`dpp_kernel`)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False)
    if v.evex or (fmt is fp.F64 and v.width != 16):
        raise BadForm("VEX only" if v.evex else "VDPPD is 128-bit only")
    packed(e, v, fmt.nbytes, dpp_kernel(fmt, v.imm, v.width, e.machine.cpu_model.vendor), 2)


# --------------------------------------------------------------------------- ROUND / RNDSCALE

def round_kernel(fmt, n, imm, *, scale=0, sae=False):
    def lane(a, mx):
        return fp.round_integral(fmt, a, mx, imm, scale)
    return fpvec.elementwise((lane,), fmt.nbytes, fmt.nbytes, n, 1, sae=sae)


@vhandles(*((f"VROUND{s}", dict(fmt=f, scalar=s[0] == "S", evex=False))
            for s, f in FMTS.items()),
          *((f"VRNDSCALE{s}", dict(fmt=f, scalar=s[0] == "S", evex=True))
            for s, f in FMTS.items()))
def vround(e, args, fmt, scalar, evex):
    """``VROUNDPD $imm, src, dst`` / ``VROUNDSD $imm, src2, src1, dst``: round to an
    integer by imm[1:0] (nearest even, down, up, toward zero), or MXCSR.RC when imm[2];
    imm[3] suppresses PE (SDM: ROUNDPD). VRNDSCALE also scales: round to a multiple of
    2**-imm[7:4] (SDM: VRNDSCALEPD)."""
    ew = fmt.nbytes
    v = vec.parse(args, e.ins, nsrc=2 if scalar else 1, imm=True, rounding=evex,
                  masking=evex, bcst=evex and not scalar)
    if not evex and v.evex:
        raise BadForm("VEX only")
    sae, _ = _rounding(v, allow_rc=False)
    _check_rounding_form(v)
    imm = v.imm
    scale = imm >> 4 if evex else 0
    k = round_kernel(fmt, 1 if scalar else v.width // ew, imm & 0xF, scale=scale, sae=sae)
    if scalar:
        scalar_sources(e, v, ew)
        k = fpvec.scalar(lambda a, mx: fp.round_integral(fmt, a, mx, imm & 0xF, scale), 1,
                         sae=sae)
        e.emit(f"r = {e.call(k, 'cpu', scalar_mask(e, v), 'b')}")
        scalar_write(e, v, ew, "r")
        e.next()
        return
    vec.need_vec_or_mem(v.srcs[0])
    packed(e, v, ew, k, 1)

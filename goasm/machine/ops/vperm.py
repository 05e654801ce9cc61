"""VEX and EVEX data movement within registers (Intel SDM Vol. 2, the pages of each
instruction): broadcasts (VBROADCASTSS/SD/F128/I128, VBROADCAST{F,I}{32X2,32X4,32X8,64X2,
64X4}, VPBROADCASTB/W/D/Q), permutes (VPERMD/Q/PS/PD/B/W, VPERMT2*, VPERMI2*,
VPERM2F128/I128, VPERMILPS/PD), shuffles (VSHUFPS/PD, VSHUF{F,I}{32X4,64X2}), VALIGND/Q,
inserts and extracts (VINSERT{F,I}128 and the EVEX {32X4,32X8,64X2,64X4} forms,
VEXTRACT*, VINSERTPS/VEXTRACTPS, VPINSRB/W/D/Q, VPEXTRB/W/D/Q), VUNPCK{L,H}PS/PD,
blends (VBLENDPS/PD, VBLENDVPS/PD, VBLENDMPS/PD, VPBLENDMB/W/D/Q), duplicating moves
(VMOVDDUP, VMOVSHDUP, VMOVSLDUP), scalar and half moves (VMOVSS, VMOVSD, VMOVD, VMOVQ,
VMOVHPS/PD, VMOVLPS/PD, VMOVHLPS, VMOVLHPS), sign-bit masks (VMOVMSKPS/PD, VPMOVMSKB)
and VTESTPS/PD.

Every handler goes through :mod:`goasm.machine.ops.vec` (Go's operand order, writemasks,
zeroing above the operation width). The value functions work on whole Python ints and
are built once per instruction form at load time.
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops import vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import FULL, M128, vhandles

M64 = (1 << 64) - 1


def part(e, op, nbytes: int) -> str:
    """An expression for the low ``nbytes`` of a vector or general register, or ``nbytes``
    of memory."""
    if op.kind == "xmm":
        if nbytes <= 16:
            x = f"xmm[{e.const(op.index)}]"
            return x if nbytes == 16 else f"({x} & {e.const(FULL[nbytes])})"
        return vec.vreg_expr(e, op.index, nbytes)
    if op.kind == "mem":
        if nbytes <= 8:
            return e.read(op, nbytes)
        return f"rd128({e.ea(op)})" if nbytes == 16 else f"rdv({e.ea(op)}, {nbytes})"
    if op.kind == "gpr" and nbytes <= 8:
        return e.read(op, nbytes)
    raise BadForm(f"operand {op.text} cannot be a source here")


def vreg(e, op) -> str:
    """A whole vector register source at its own width."""
    vec.need_vec(op, "source")
    return vec.vreg_expr(e, op.index, op.vw)


# --------------------------------------------------------------------------- broadcasts

def _bc(names, chunk, ew, gpr=False):
    return tuple((n, dict(chunk=chunk, ew=ew, gpr=gpr)) for n in names)


@vhandles(*_bc(("VBROADCASTSS",), 4, 4), *_bc(("VBROADCASTSD",), 8, 8),
          *_bc(("VBROADCASTF128", "VBROADCASTI128"), 16, 16),
          *_bc(("VBROADCASTF32X2", "VBROADCASTI32X2"), 8, 4),
          *_bc(("VBROADCASTF32X4", "VBROADCASTI32X4"), 16, 4),
          *_bc(("VBROADCASTF64X2", "VBROADCASTI64X2"), 16, 8),
          *_bc(("VBROADCASTF32X8", "VBROADCASTI32X8"), 32, 4),
          *_bc(("VBROADCASTF64X4", "VBROADCASTI64X4"), 32, 8),
          *_bc(("VPBROADCASTB",), 1, 1, True), *_bc(("VPBROADCASTW",), 2, 2, True),
          *_bc(("VPBROADCASTD",), 4, 4, True), *_bc(("VPBROADCASTQ",), 8, 8, True))
def vbroadcast(e, args, chunk, ew, gpr):
    """``VPBROADCASTD src, [K,] dst``: the low ``chunk`` bytes of src (a vector register,
    memory, or for VPBROADCAST* in EVEX a general register) repeated over dst; masking
    per ``ew``-byte element (SDM: VBROADCAST, VPBROADCAST, VBROADCASTF32X2 ...)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    vec.need_vec(v.dst)
    src = v.srcs[0]
    if src.kind == "gpr" and not gpr:
        raise BadForm("source must be a vector register or memory")
    if chunk >= v.width:
        raise BadForm("broadcast chunk as wide as the destination")
    e.emit(f"s = {vec.read_chunk(e, v, src, chunk, ew)}")
    vec.write(e, v, f"s * {e.const(vec.repeat(chunk, v.width))}", ew)
    e.next()


# --------------------------------------------------------------------------- permutes

def _perm_var(ew: int, width: int):
    n = width // ew

    def fn(table: int, index: int) -> int:
        t = vec.split(table, ew, width)
        return vec.join([t[i % n] for i in vec.split(index, ew, width)], ew, width)
    return fn


@vhandles(("VPERMD", dict(ew=4)), ("VPERMPS", dict(ew=4)), ("VPERMB", dict(ew=1)),
          ("VPERMW", dict(ew=2)), ("VPERMQ", dict(ew=8, imm_form=True)),
          ("VPERMPD", dict(ew=8, imm_form=True)))
def vperm(e, args, ew, imm_form=False):
    """``VPERMD table, index, [K,] dst``: dst[i] = table[index[i] mod n] across the whole
    vector (SDM: VPERMD/VPERMPS, VPERMB, VPERMW, VPERMQ/VPERMPD); ``VPERMQ $imm, src,
    [K,] dst`` picks qword ``imm >> 2i & 3`` within each 256-bit half."""
    if imm_form and args and args[0].kind == "imm":
        v = vec.parse(args, e.ins, nsrc=1, imm=True)
        vec.need_vec(v.dst)
        if v.width < 32:
            raise BadForm("VPERMQ $imm needs 256 or 512 bits")
        sel = [(v.imm >> (2 * (i % 4)) & 3) + 4 * (i // 4) for i in range(v.width // 8)]
        width = v.width

        def fn(s):
            q = vec.split(s, 8, width)
            return vec.join([q[j] for j in sel], 8, width)
        e.emit(f"s = {vec.read(e, v, v.srcs[0], 8, elementwise=False)}")
        vec.write(e, v, e.call(fn, "s"), 8)
        e.next()
        return
    v = vec.parse(args, e.ins, nsrc=2)
    vec.need_vec(v.dst)
    index, table = v.srcs
    vec.need_vec(index, "index")
    if v.width < 32 and ew >= 4:
        raise BadForm("needs 256 or 512 bits")
    e.emit(f"t = {vec.read(e, v, table, ew, elementwise=False)}", f"x = {vec.read(e, v, index, ew, elementwise=False)}")
    vec.write(e, v, e.call(_perm_var(ew, v.width), "t", "x"), ew)
    e.next()


def _perm2(ew: int, width: int, index_in_dst: bool):
    n = width // ew

    def fn(t1: int, index: int, t2: int) -> int:
        a, b = vec.split(t1, ew, width), vec.split(t2, ew, width)
        out = []
        for i in vec.split(index, ew, width):
            j = i % (2 * n)
            out.append(b[j - n] if j >= n else a[j])
        return vec.join(out, ew, width)
    return fn


def _two_tables(stem, index_in_dst):
    return tuple((f"{stem}{s}", dict(ew=w, index_in_dst=index_in_dst))
                 for s, w in (("B", 1), ("W", 2), ("D", 4), ("Q", 8), ("PS", 4), ("PD", 8)))


@vhandles(*_two_tables("VPERMT2", False), *_two_tables("VPERMI2", True))
def vperm2tables(e, args, ew, index_in_dst):
    """``VPERMT2D t2, index, [K,] dst``: dst[i] = (index[i] & n ? t2 : dst)[index[i] mod n]
    (dst is the first table); ``VPERMI2D t2, t1, [K,] dst``: the same with dst holding the
    indices. Masked-off elements keep dst's old value (SDM: VPERMT2B/W/D/Q/PS/PD,
    VPERMI2B/W/D/Q/PS/PD)."""
    v = vec.parse(args, e.ins, nsrc=2)
    vec.need_vec(v.dst)
    mid, t2 = v.srcs
    vec.need_vec(mid, "second source")
    e.emit(f"d = {vec.vreg_expr(e, v.dst.index, v.width)}", f"m = {vec.read(e, v, mid, ew, elementwise=False)}",
           f"t = {vec.read(e, v, t2, ew, elementwise=False)}")
    fn = _perm2(ew, v.width, index_in_dst)
    value = e.call(fn, "m", "d", "t") if index_in_dst else e.call(fn, "d", "m", "t")
    vec.write(e, v, value, ew, old="d")
    e.next()


def _perm2x128(imm: int):
    def pick(s2, s1, sel):
        if sel & 8:
            return 0
        return (s1, s1 >> 128, s2, s2 >> 128)[sel & 3] & M128

    def fn(s2, s1):
        return pick(s2, s1, imm) | pick(s2, s1, imm >> 4) << 128
    return fn


@vhandles(("VPERM2F128", {}), ("VPERM2I128", {}))
def vperm2x128(e, args):
    """``VPERM2I128 $imm, src2, src1, dst``: each 128-bit half of dst is one of src1.lo,
    src1.hi, src2.lo, src2.hi (imm[1:0], imm[5:4]) or zero (imm bit 3, 7) (SDM:
    VPERM2I128, VPERM2F128)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False)
    vec.need_vec(v.dst)
    a, b = v.srcs
    if v.width != 32:
        raise BadForm("needs YMM registers")
    e.emit(f"a = {vec.read(e, v, a, 4)}", f"b = {vec.read(e, v, b, 4)}")
    vec.write(e, v, e.call(_perm2x128(v.imm), "b", "a"), 4)
    e.next()


def _permil_imm(ew: int, width: int, imm: int):
    n = 16 // ew

    def fn(s):
        out = []
        for k, lane in enumerate(vec.lanes128(s, width)):
            el = vec.split(lane, ew, 16)
            if ew == 4:
                out.append(vec.join([el[imm >> (2 * i) & 3] for i in range(4)], 4, 16))
            else:
                bits = imm >> (2 * k)
                out.append(vec.join([el[bits >> i & 1] for i in range(n)], 8, 16))
        return vec.from_lanes128(out)
    return fn


def _permil_var(ew: int, width: int):
    def fn(s, c):
        out = []
        for lane, ctl in zip(vec.lanes128(s, width), vec.lanes128(c, width)):
            el = vec.split(lane, ew, 16)
            sel = [x & 3 for x in vec.split(ctl, 4, 16)] if ew == 4 else \
                [x >> 1 & 1 for x in vec.split(ctl, 8, 16)]
            out.append(vec.join([el[j] for j in sel], ew, 16))
        return vec.from_lanes128(out)
    return fn


@vhandles(("VPERMILPS", dict(ew=4)), ("VPERMILPD", dict(ew=8)))
def vpermil(e, args, ew):
    """``VPERMILPS $imm, src, [K,] dst`` / ``VPERMILPS ctl, src, [K,] dst``: permute the
    elements within each 128-bit lane by the immediate (the same pattern in every lane;
    VPERMILPD: one bit per element) or by a control vector (bits 1:0 of each dword;
    VPERMILPD: bit 1 of each qword) (SDM: VPERMILPS, VPERMILPD)."""
    if args and args[0].kind == "imm":
        v = vec.parse(args, e.ins, nsrc=1, imm=True)
        vec.need_vec(v.dst)
        e.emit(f"s = {vec.read(e, v, v.srcs[0], ew, elementwise=False)}")
        vec.write(e, v, e.call(_permil_imm(ew, v.width, v.imm), "s"), ew)
    else:
        v = vec.parse(args, e.ins, nsrc=2)
        vec.need_vec(v.dst)
        src, ctl = v.srcs
        vec.need_vec(src, "first source")
        e.emit(f"s = {vec.read(e, v, src, ew, elementwise=False)}", f"c = {vec.read(e, v, ctl, ew, elementwise=False)}")
        vec.write(e, v, e.call(_permil_var(ew, v.width), "s", "c"), ew)
    e.next()


# --------------------------------------------------------------------------- shuffles

def _shufps(width: int, imm: int):
    sel = [imm >> (2 * i) & 3 for i in range(4)]

    def fn(s1, s2):
        out = []
        for a, b in zip(vec.lanes128(s1, width), vec.lanes128(s2, width)):
            ea, eb = vec.split(a, 4, 16), vec.split(b, 4, 16)
            out.append(vec.join((ea[sel[0]], ea[sel[1]], eb[sel[2]], eb[sel[3]]), 4, 16))
        return vec.from_lanes128(out)
    return fn


def _shufpd(width: int, imm: int):
    def fn(s1, s2):
        out = []
        for k, (a, b) in enumerate(zip(vec.lanes128(s1, width), vec.lanes128(s2, width))):
            lo = a >> (64 * (imm >> (2 * k) & 1)) & M64
            hi = b >> (64 * (imm >> (2 * k + 1) & 1)) & M64
            out.append(lo | hi << 64)
        return vec.from_lanes128(out)
    return fn


def _shuf128(width: int, imm: int):
    if width == 32:
        sel = [(0, imm & 1), (1, imm >> 1 & 1)]
    else:
        sel = [(0, imm & 3), (0, imm >> 2 & 3), (1, imm >> 4 & 3), (1, imm >> 6 & 3)]

    def fn(s1, s2):
        srcs = (vec.lanes128(s1, width), vec.lanes128(s2, width))
        return vec.from_lanes128([srcs[w][i] for w, i in sel])
    return fn


@vhandles(("VSHUFPS", dict(ew=4, fn=_shufps)), ("VSHUFPD", dict(ew=8, fn=_shufpd)),
          ("VSHUFF32X4", dict(ew=4, fn=_shuf128)), ("VSHUFI32X4", dict(ew=4, fn=_shuf128)),
          ("VSHUFF64X2", dict(ew=8, fn=_shuf128)), ("VSHUFI64X2", dict(ew=8, fn=_shuf128)))
def vshuf(e, args, ew, fn):
    """``VSHUFPS $imm, src2, src1, [K,] dst``: per 128-bit lane, the two low elements from
    src1 and the two high ones from src2, chosen by imm (SDM: SHUFPS, SHUFPD);
    VSHUFF32X4 and friends choose whole 128-bit lanes: the low half of dst from src1,
    the high half from src2 (SDM: VSHUFF32x4/VSHUFF64x2/VSHUFI32x4/VSHUFI64x2)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    if fn is _shuf128 and v.width == 16:
        raise BadForm("needs 256 or 512 bits")
    e.emit(f"a = {vec.read(e, v, a, ew, elementwise=False)}", f"b = {vec.read(e, v, b, ew, elementwise=False)}")
    vec.write(e, v, e.call(fn(v.width, v.imm), "a", "b"), ew)
    e.next()


def _valign(ew: int, width: int, imm: int):
    n = width // ew
    shift = imm % n

    def fn(hi, lo):
        both = lo | hi << (8 * width)
        return both >> (8 * ew * shift) & FULL[width]
    return fn


@vhandles(("VALIGND", dict(ew=4)), ("VALIGNQ", dict(ew=8)))
def valign(e, args, ew):
    """``VALIGND $imm, src2, src1, [K,] dst``: src1:src2 (src1 the high half) shifted right
    by ``imm mod n`` elements, the low n elements kept (SDM: VALIGND/VALIGNQ)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.read(e, v, a, ew, elementwise=False)}", f"b = {vec.read(e, v, b, ew, elementwise=False)}")
    vec.write(e, v, e.call(_valign(ew, v.width, v.imm), "a", "b"), ew)
    e.next()


@vhandles(("VUNPCKLPS", dict(ew=4, high=False)), ("VUNPCKHPS", dict(ew=4, high=True)),
          ("VUNPCKLPD", dict(ew=8, high=False)), ("VUNPCKHPD", dict(ew=8, high=True)))
def vunpck_fp(e, args, ew, high):
    """``VUNPCKLPS src2, src1, [K,] dst``: interleave the low (H: high) elements of src1
    and src2 within each 128-bit lane (SDM: UNPCKLPS, UNPCKHPS, UNPCKLPD, UNPCKHPD)."""
    v = vec.parse(args, e.ins, nsrc=2)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.read(e, v, a, ew, elementwise=False)}", f"b = {vec.read(e, v, b, ew, elementwise=False)}")
    vec.write(e, v, e.call(vec.unpack, "a", "b", e.const(ew), e.const(v.width),
                           e.const(high)), ew)
    e.next()


# --------------------------------------------------------------------------- blends

def _blend_imm(ew: int, width: int, imm: int):
    n = width // ew
    bits = 0
    for i in range(n):
        if imm >> (i % 8) & 1:
            bits |= FULL[ew] << (8 * ew * i)
    keep = FULL[width] ^ bits

    def fn(a, b):
        return (b & bits) | (a & keep)
    return fn


@vhandles(("VBLENDPS", dict(ew=4)), ("VBLENDPD", dict(ew=8)))
def vblend(e, args, ew):
    """``VBLENDPS $imm, src2, src1, dst``: element i from src2 when imm bit (i mod 8) is
    set, else from src1 (SDM: BLENDPS, BLENDPD)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False)
    vec.need_vec(v.dst)
    a, b = v.srcs
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {vec.read(e, v, b, ew)}")
    vec.write(e, v, e.call(_blend_imm(ew, v.width, v.imm), "a", "b"), ew)
    e.next()


def _blendv(ew: int, width: int):
    tops = vec.high_bits(ew, width)
    shift = 8 * ew - 1

    def fn(a, b, mask):
        sel = ((mask & tops) >> shift) * FULL[ew]
        return (b & sel) | (a & ~sel & FULL[width])
    return fn


@vhandles(("VBLENDVPS", dict(ew=4)), ("VBLENDVPD", dict(ew=8)), ("VPBLENDVB", dict(ew=1)))
def vblendv(e, args, ew):
    """``VBLENDVPS mask, src2, src1, dst``: element i from src2 when the top bit of mask's
    element i is set, else from src1 (SDM: BLENDVPS, BLENDVPD, PBLENDVB)."""
    v = vec.parse(args, e.ins, nsrc=3, masking=False, bcst=False)
    vec.need_vec(v.dst)
    a, b, mask = v.srcs
    vec.need_vec(mask, "mask")
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {vec.read(e, v, b, ew)}",
           f"c = {vec.read(e, v, mask, ew)}")
    vec.write(e, v, e.call(_blendv(ew, v.width), "a", "b", "c"), ew)
    e.next()


@vhandles(("VBLENDMPS", dict(ew=4)), ("VBLENDMPD", dict(ew=8)), ("VPBLENDMB", dict(ew=1)),
          ("VPBLENDMW", dict(ew=2)), ("VPBLENDMD", dict(ew=4)), ("VPBLENDMQ", dict(ew=8)))
def vblendm(e, args, ew):
    """``VBLENDMPS src2, src1, K, dst``: element i from src2 where K bit i is set, else
    from src1 (``.Z``: zero); without a mask every element is src2's (SDM: VBLENDMPD/
    VBLENDMPS, VPBLENDMB/W/D/Q)."""
    v = vec.parse(args, e.ins, nsrc=2, bcst=ew >= 4)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {vec.read(e, v, b, ew)}")
    vec.write(e, v, "b", ew, old="a")
    e.next()


# --------------------------------------------------------------------------- inserts/extracts

def _chunked(names, chunk, ew):
    return tuple((n, dict(chunk=chunk, ew=ew)) for n in names)


@vhandles(*_chunked(("VINSERTF128", "VINSERTI128", "VINSERTF32X4", "VINSERTI32X4"), 16, 4),
          *_chunked(("VINSERTF64X2", "VINSERTI64X2"), 16, 8),
          *_chunked(("VINSERTF32X8", "VINSERTI32X8"), 32, 4),
          *_chunked(("VINSERTF64X4", "VINSERTI64X4"), 32, 8))
def vinsert(e, args, chunk, ew):
    """``VINSERTI128 $imm, src2, src1, [K,] dst``: dst = src1 with its ``chunk``-byte part
    number imm (mod parts) replaced by src2 (SDM: VINSERTF128/VINSERTI128,
    VINSERTF32x4/64x2/32x8/64x4 ...)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, bcst=False)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    if chunk >= v.width:
        raise BadForm("the inserted part must be narrower than the destination")
    sel = v.imm % (v.width // chunk)
    shift = 8 * chunk * sel
    hole = FULL[v.width] ^ (FULL[chunk] << shift)
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {part(e, b, chunk)}")
    vec.write(e, v, f"a & {e.const(hole)} | b << {shift}", ew)
    e.next()


@vhandles(*_chunked(("VEXTRACTF128", "VEXTRACTI128", "VEXTRACTF32X4", "VEXTRACTI32X4"), 16, 4),
          *_chunked(("VEXTRACTF64X2", "VEXTRACTI64X2"), 16, 8),
          *_chunked(("VEXTRACTF32X8", "VEXTRACTI32X8"), 32, 4),
          *_chunked(("VEXTRACTF64X4", "VEXTRACTI64X4"), 32, 8))
def vextract(e, args, chunk, ew):
    """``VEXTRACTI128 $imm, src, [K,] dst``: the ``chunk``-byte part number imm (mod parts)
    of src, to a register (zeroing above ``chunk``) or memory (masked per element) (SDM:
    VEXTRACTF128/VEXTRACTI128, VEXTRACTF32x4 ...)."""
    v = vec.parse(args, e.ins, nsrc=1, imm=True, bcst=False, width=chunk)
    src = v.srcs[0]
    vec.need_vec(src, "source")
    if v.dst.kind not in ("xmm", "mem") or chunk >= src.vw:
        raise BadForm("extracts a part of a wider register")
    if v.zeroing and v.dst.kind == "mem":
        raise BadForm(".Z on a store")
    sel = v.imm % (src.vw // chunk)
    e.emit(f"s = {vec.vreg_expr(e, src.index, src.vw)} >> {8 * chunk * sel} "
           f"& {e.const(FULL[chunk])}")
    vec.write(e, v, "s", ew, suppress=False)
    e.next()


def _gpr_or_mem_dst(dst):
    if dst.kind not in ("gpr", "mem"):
        raise BadForm("destination must be a general register or memory")


@vhandles(("VEXTRACTPS", dict(ew=4)), ("VPEXTRB", dict(ew=1)), ("VPEXTRW", dict(ew=2)),
          ("VPEXTRD", dict(ew=4)), ("VPEXTRQ", dict(ew=8)))
def vextract_elem(e, args, ew):
    """``VPEXTRD $imm, X, dst``: element imm (mod n) of X to a general register
    (zero-extended; to a 32-bit register except VPEXTRQ) or memory (``ew`` bytes) (SDM:
    PEXTRB/PEXTRW/PEXTRD/PEXTRQ, EXTRACTPS)."""
    v = vec.parse(args, e.ins, nsrc=1, imm=True, masking=False, bcst=False)
    src, dst = v.srcs[0], v.dst
    vec.need_vec(src, "source")
    _gpr_or_mem_dst(dst)
    sel = v.imm % (16 // ew)
    value = f"xmm[{e.const(src.index)}] >> {8 * ew * sel} & {e.const(FULL[ew])}"
    e.write(dst, 8 if dst.kind == "gpr" else ew, value)
    e.next()


@vhandles(("VPINSRB", dict(ew=1)), ("VPINSRW", dict(ew=2)), ("VPINSRD", dict(ew=4)),
          ("VPINSRQ", dict(ew=8)))
def vinsert_elem(e, args, ew):
    """``VPINSRD $imm, src2, src1, dst``: src1 with element imm (mod n) replaced by the low
    ``ew`` bytes of src2 (a general register or memory); dst bits above 128 zeroed (SDM:
    PINSRB/PINSRW/PINSRD/PINSRQ)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False, width=16)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec(v.dst)
    if b.kind not in ("gpr", "mem"):
        raise BadForm("the inserted value comes from a general register or memory")
    shift = 8 * ew * (v.imm % (16 // ew))
    hole = M128 ^ (FULL[ew] << shift)
    e.emit(f"b = {e.read(b, ew)}")
    vec.store(e, v.dst, 16, f"xmm[{e.const(a.index)}] & {e.const(hole)} | b << {shift}")
    e.next()


def _insertps(imm: int):
    count_s, count_d, zmask = imm >> 6 & 3, imm >> 4 & 3, imm & 15

    def fn(d, s, from_mem):
        t = s & 0xFFFFFFFF if from_mem else s >> (32 * count_s) & 0xFFFFFFFF
        out = d & ~(0xFFFFFFFF << (32 * count_d)) & M128 | t << (32 * count_d)
        for i in range(4):
            if zmask >> i & 1:
                out &= ~(0xFFFFFFFF << (32 * i)) & M128
        return out
    return fn


@vhandles(("VINSERTPS", {}))
def vinsertps(e, args):
    """``VINSERTPS $imm, src2, src1, dst``: src1 with dword imm[5:4] replaced by src2's
    dword imm[7:6] (a 32-bit memory source is used as is), then the dwords in imm[3:0]
    zeroed (SDM: INSERTPS)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False, width=16)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec(v.dst)
    e.emit(f"b = {part(e, b, 4 if b.kind == 'mem' else 16)}")
    vec.store(e, v.dst, 16, e.call(_insertps(v.imm), f"xmm[{e.const(a.index)}]", "b",
                                   e.const(b.kind == "mem")))
    e.next()


# --------------------------------------------------------------------------- dup moves

def _dup(ew: int, width: int, odd: bool):
    def fn(s):
        el = vec.split(s, ew, width)
        return vec.join([el[i | 1] if odd else el[i & ~1] for i in range(len(el))], ew, width)
    return fn


@vhandles(("VMOVDDUP", dict(ew=8, odd=False)), ("VMOVSLDUP", dict(ew=4, odd=False)),
          ("VMOVSHDUP", dict(ew=4, odd=True)))
def vdup(e, args, ew, odd):
    """``VMOVDDUP src, [K,] dst``: every even element copied to the odd position after it
    (VMOVSHDUP: every odd element copied down); VMOVDDUP's 128-bit form reads only 8 bytes
    of memory (SDM: MOVDDUP, MOVSLDUP, MOVSHDUP)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    vec.need_vec(v.dst)
    src = v.srcs[0]
    if ew == 8 and v.width == 16 and src.kind == "mem":
        e.emit(f"s = {e.read(src, 8)}")
    else:
        e.emit(f"s = {vec.read(e, v, src, ew, elementwise=False)}")
    vec.write(e, v, e.call(_dup(ew, v.width, odd), "s"), ew)
    e.next()


# --------------------------------------------------------------------------- scalar moves

@vhandles(("VMOVSS", dict(ew=4)), ("VMOVSD", dict(ew=8)))
def vmovs(e, args, ew):
    """``VMOVSS m32, [K,] X`` loads one element and zeroes the rest of the register;
    ``VMOVSS X, [K,] m32`` stores one; ``VMOVSS X1, X2, [K,] X3``: X3 = X2 with its low
    element from X1. The writemask governs element 0 only (SDM: MOVSS, MOVSD)."""
    if len(args) in (2, 3) and args[0].kind == "mem" or args[-1].kind == "mem":
        v = vec.parse(args, e.ins, nsrc=1, bcst=False, width=16)
        src, dst = v.srcs[0], v.dst
        if dst.kind == "xmm" and src.kind == "mem":
            if v.k:     # a masked-off element is not read, so it cannot fault
                e.emit(f"s = {e.read(src, ew)} if kreg[{e.const(v.k)}] & 1 else 0")
            else:
                e.emit(f"s = {e.read(src, ew)}")
            vec.write(e, v, "s", ew, lanes=1)
        elif dst.kind == "mem" and src.kind == "xmm":
            if v.zeroing:
                raise BadForm(".Z on a store")
            value = f"xmm[{e.const(src.index)}] & {e.const(FULL[ew])}"
            if v.k:
                with e.block(f"if kreg[{e.const(v.k)}] & 1:"):
                    e.write(dst, ew, value)
            else:
                e.write(dst, ew, value)
        else:
            raise BadForm("needs a memory and an XMM operand")
        e.next()
        return
    v = vec.parse(args, e.ins, nsrc=2, bcst=False, width=16)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec(b, "second source")
    vec.need_vec(v.dst)
    low = FULL[ew]
    e.emit(f"a = xmm[{e.const(a.index)}]", f"b = xmm[{e.const(b.index)}]")
    vec.write(e, v, f"a & {e.const(M128 ^ low)} | b & {e.const(low)}", ew, lanes=1)
    e.next()


@vhandles(("VMOVD", dict(ew=4)), ("VMOVQ", dict(ew=8)))
def vmovdq(e, args, ew):
    """``VMOVD src, dst``: the low ``ew`` bytes between an XMM register and a general
    register or memory; a register destination is zero-extended (XMM: to 512 bits);
    ``VMOVQ X1, X2`` copies the low quadword and zeroes the rest (SDM: MOVD/MOVQ)."""
    v = vec.parse(args, e.ins, nsrc=1, masking=False, bcst=False, width=16)
    src, dst = v.srcs[0], v.dst
    if dst.kind == "xmm":
        if src.kind not in ("xmm", "mem", "gpr"):
            raise BadForm("bad source")
        vec.store(e, dst, 16, part(e, src, ew))
    elif src.kind == "xmm" and dst.kind in ("gpr", "mem"):
        e.write(dst, 8 if dst.kind == "gpr" and ew == 8 else ew, part(e, src, ew))
    else:
        raise BadForm("one operand must be an XMM register")
    e.next()


@vhandles(("VMOVHPS", dict(high=True)), ("VMOVHPD", dict(high=True)),
          ("VMOVLPS", dict(high=False)), ("VMOVLPD", dict(high=False)))
def vmovhl_mem(e, args, high):
    """``VMOVHPD m64, src1, dst``: dst = src1's low quadword with the high one loaded
    (VMOVLPD: src1's high quadword, the low one loaded); ``VMOVHPD X, m64`` stores X's
    high (low) quadword (SDM: MOVHPD, MOVHPS, MOVLPD, MOVLPS)."""
    if len(args) == 2:
        src, dst = args
        vec.need_vec(src, "source")
        if dst.kind != "mem":
            raise BadForm("the two-operand form stores to memory")
        x = f"xmm[{e.const(src.index)}]"
        e.write(dst, 8, f"{x} >> 64" if high else f"{x} & {e.const(M64)}")
        e.next()
        return
    v = vec.parse(args, e.ins, nsrc=2, masking=False, bcst=False, width=16)
    a, m = v.srcs
    vec.need_vec(a, "first source")
    if m.kind != "mem":
        raise BadForm("the three-operand form loads from memory")
    e.emit(f"b = {e.read(m, 8)}", f"a = xmm[{e.const(a.index)}]")
    value = f"a & {e.const(M64)} | b << 64" if high else f"a & {e.const(M128 ^ M64)} | b"
    vec.store(e, v.dst, 16, value)
    e.next()


@vhandles(("VMOVHLPS", dict(high_to_low=True)), ("VMOVLHPS", dict(high_to_low=False)))
def vmovhlps(e, args, high_to_low):
    """``VMOVHLPS src2, src1, dst``: dst = src1's high quadword : src2's high quadword;
    ``VMOVLHPS``: dst = src2's low quadword : src1's low quadword (high : low) (SDM:
    MOVHLPS, MOVLHPS)."""
    v = vec.parse(args, e.ins, nsrc=2, masking=False, bcst=False, width=16)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec(b, "second source")
    e.emit(f"a = xmm[{e.const(a.index)}]", f"b = xmm[{e.const(b.index)}]")
    if high_to_low:
        value = f"a & {e.const(M128 ^ M64)} | b >> 64"
    else:
        value = f"a & {e.const(M64)} | (b & {e.const(M64)}) << 64"
    vec.store(e, v.dst, 16, value)
    e.next()


# --------------------------------------------------------------------------- sign masks

def _msk(ew: int, width: int):
    n = width // ew
    top = 8 * ew - 1

    def fn(s):
        out = 0
        for i in range(n):
            out |= (s >> (8 * ew * i + top) & 1) << i
        return out
    return fn


@vhandles(("VMOVMSKPS", dict(ew=4)), ("VMOVMSKPD", dict(ew=8)), ("VPMOVMSKB", dict(ew=1)))
def vmovmsk(e, args, ew):
    """``VMOVMSKPS X, r``: bit i of r = the sign bit of element i; the rest of the 64-bit
    register cleared (SDM: MOVMSKPS, MOVMSKPD, PMOVMSKB)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    vec.need_vec(src, "source")
    if dst.kind != "gpr":
        raise BadForm("destination must be a general register")
    e.write(dst, 8, e.call(_msk(ew, src.vw), vreg(e, src)))
    e.next()


def _vtest(ew: int, width: int):
    tops = vec.high_bits(ew, width)

    def fn(a, b):
        return (0 if a & b & tops else fl.ZF) | (0 if ~a & b & tops else fl.CF)
    return fn


@vhandles(("VTESTPS", dict(ew=4)), ("VTESTPD", dict(ew=8)))
def vtest(e, args, ew):
    """``VTESTPS src2, src1``: ZF = no element has the sign bit set in both src1 and
    src2, CF = no element has it set in src2 and clear in src1; AF OF PF SF cleared
    (SDM: VTESTPS/VTESTPD)."""
    v = vec.parse(args, e.ins, nsrc=1, masking=False, bcst=False)
    b, a = v.srcs[0], v.dst
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.vreg_expr(e, a.index, v.width)}", f"b = {vec.read(e, v, b, ew)}")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {e.call(_vtest(ew, v.width), 'a', 'b')})")
    e.next()

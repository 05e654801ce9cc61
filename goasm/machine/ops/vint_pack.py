"""VEX and EVEX integer packs, shuffles, blends and width conversions (Intel SDM Vol. 2,
the page of each instruction): VPACKSSWB, VPACKSSDW, VPACKUSWB, VPACKUSDW, the
interleaves VPUNPCKL/H{BW,WD,DQ,QDQ}, VPSHUFB, VPSHUFD/VPSHUFHW/VPSHUFLW, VPALIGNR,
VPBLENDW/VPBLENDD (VEX), sign and zero extension VPMOVSX*/VPMOVZX*, and the EVEX
down-converting moves VPMOV{QB,QW,QD,DB,DW,WB} with their signed (S) and unsigned (US)
saturating forms, to a register or to memory.

Packs, interleaves, byte shuffles and VPALIGNR work within each 128-bit lane (SDM Vol. 1,
14.1.2). Their result elements come from other positions of the sources, so a masked
memory source is read whole: the SDM's exception class E4NF, no memory fault
suppression (the CPU oracle checks it).
"""

from __future__ import annotations

from functools import lru_cache

import attrs

from goasm.machine.ops import vec
from goasm.machine.ops import vint_lanes as L
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import M128, vhandles
from goasm.machine.ops.vint import check_encoding, lanes_form


def _clamp(lo: int, hi: int):
    def clamp(x: int) -> int:
        return lo if x < lo else hi if x > hi else x
    return clamp


# --------------------------------------------------------------------------- packs

@lru_cache(maxsize=None)
def _pack(sew: int, width: int, unsigned: bool):
    dew = sew // 2
    bits = 8 * dew
    clamp = _clamp(0, (1 << bits) - 1) if unsigned else \
        _clamp(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    ua = L.unpacker(sew, width, True)
    pk = L.packer(dew, width, not unsigned)
    n = 16 // sew

    def fn(a: int, b: int) -> int:
        x, y = ua(a), ua(b)
        out = []
        for i in range(0, width // sew, n):
            out += x[i:i + n]
            out += y[i:i + n]
        return pk(map(clamp, out))
    return fn


_PACKS = (("VPACKSSWB", 2, False), ("VPACKSSDW", 4, False), ("VPACKUSWB", 2, True),
          ("VPACKUSDW", 4, True))


@vhandles(*((n, dict(sew=w, unsigned=u)) for n, w, u in _PACKS))
def vpack(e, args, sew, unsigned):
    """``VPACKSSDW src2, src1, [K,] dst``: per 128-bit lane, src1's then src2's signed
    elements narrowed to half width with signed (SS) or unsigned (US) saturation (SDM:
    PACKSSWB/PACKSSDW, PACKUSWB, PACKUSDW); broadcast per source dword for the DW forms."""
    lanes_form(e, args, lambda w: _pack(sew, w, unsigned), sew // 2, bcst=sew == 4,
               bcst_ew=sew, elementwise=False)


_UNPACKS = (("BW", 1), ("WD", 2), ("DQ", 4), ("QDQ", 8))


@vhandles(*((f"VPUNPCKL{s}", dict(ew=w, high=False)) for s, w in _UNPACKS),
          *((f"VPUNPCKH{s}", dict(ew=w, high=True)) for s, w in _UNPACKS))
def vpunpck(e, args, ew, high):
    """``VPUNPCKLBW src2, src1, [K,] dst``: per 128-bit lane, the low (H: high) halves of
    src1 and src2 interleaved, src1's element first (SDM: PUNPCKLBW ... PUNPCKHQDQ)."""
    lanes_form(e, args, lambda w: vec.interleaver(ew, w, high), ew, elementwise=False)


# --------------------------------------------------------------------------- shuffles

@lru_cache(maxsize=None)
def _pshufb(width: int):
    zeros = bytes(128)

    def fn(a: int, b: int) -> int:
        table = a.to_bytes(width, "little")
        index = b.to_bytes(width, "little")
        out = b"".join(index[i:i + 16].translate(table[i:i + 16] * 8 + zeros)
                       for i in range(0, width, 16))
        return int.from_bytes(out, "little")
    return fn


@vhandles(("VPSHUFB", {}))
def vpshufb(e, args):
    """``VPSHUFB index, table, [K,] dst``: byte i of dst = byte ``index[i] & 15`` of table's
    128-bit lane, or 0 when bit 7 of index[i] is set (SDM: PSHUFB). A masked memory
    source is read whole (no fault suppression, checked on the CPU)."""
    lanes_form(e, args, _pshufb, 1, elementwise=False)


@lru_cache(maxsize=None)
def _select(ew: int, width: int, sel: tuple):
    u = L.unpacker(ew, width)
    pk = L.packer(ew, width)

    def fn(a: int) -> int:
        x = u(a)
        return pk([x[j] for j in sel])
    return fn


def _pshuf_sel(kind: str, width: int, imm: int) -> tuple:
    sel = []
    if kind == "D":
        for lane in range(0, width // 4, 4):
            sel += [lane + (imm >> (2 * i) & 3) for i in range(4)]
        return tuple(sel)
    for lane in range(0, width // 2, 8):
        low = [lane + i for i in range(4)]
        high = [lane + 4 + i for i in range(4)]
        shuffled = [(lane if kind == "LW" else lane + 4) + (imm >> (2 * i) & 3) for i in range(4)]
        sel += shuffled + high if kind == "LW" else low + shuffled
    return tuple(sel)


@vhandles(("VPSHUFD", dict(kind="D", ew=4)), ("VPSHUFHW", dict(kind="HW", ew=2)),
          ("VPSHUFLW", dict(kind="LW", ew=2)))
def vpshuf(e, args, kind, ew):
    """``VPSHUFD $imm, src, [K,] dst``: per 128-bit lane, dword i = src dword imm[2i+1:2i]
    (VPSHUFLW/HW: the low/high four words the same way, the other four copied) (SDM:
    PSHUFD, PSHUFLW, PSHUFHW)."""
    lanes_form(e, args, lambda w, imm: _select(ew, w, _pshuf_sel(kind, w, imm)), ew, nsrc=1,
               imm=True, elementwise=False)


@lru_cache(maxsize=None)
def _palignr(width: int, imm: int):
    """Per 128-bit lane ``(a:b) >> 8 * imm``, on the whole vector: b's bytes move down
    within their lane, a's bytes into the top of the same lane (the bits that would
    cross into the neighbouring lane are masked off)."""
    if imm >= 32:
        return lambda a, b: 0
    lanes = range(width // 16)
    if imm >= 16:
        n = 8 * (imm - 16)
        keep = sum((M128 >> n) << (128 * i) for i in lanes)
        return lambda a, b: (a >> n) & keep
    n = 8 * imm
    keep_b = sum((M128 >> n) << (128 * i) for i in lanes)
    keep_a = sum((M128 << (128 - n) & M128) << (128 * i) for i in lanes)

    def fn(a: int, b: int) -> int:
        return ((b >> n) & keep_b) | ((a << (128 - n)) & keep_a)
    return fn


@vhandles(("VPALIGNR", {}))
def vpalignr(e, args):
    """``VPALIGNR $imm, src2, src1, [K,] dst``: per 128-bit lane, bytes imm..imm+15 of the
    32-byte concatenation src1:src2 (src2 low); imm >= 32 gives 0 (SDM: PALIGNR)."""
    lanes_form(e, args, _palignr, 1, imm=True, elementwise=False)


@lru_cache(maxsize=None)
def _blend_imm(ew: int, width: int, imm: int, repeat_lanes: bool):
    sel = 0
    n = width // ew
    for i in range(n):
        bit = i % 8 if repeat_lanes else i
        if bit < 8 and imm >> bit & 1:
            sel |= vec.FULL[ew] << (8 * ew * i)
    keep = vec.FULL[width] ^ sel

    def fn(a: int, b: int) -> int:
        return (b & sel) | (a & keep)
    return fn


@vhandles(("VPBLENDW", dict(ew=2)), ("VPBLENDD", dict(ew=4)))
def vpblend(e, args, ew):
    """``VPBLENDW $imm, src2, src1, dst``: element i from src2 when imm bit i is set (for
    words, bit i mod 8: the same pattern in every 128-bit lane), else from src1 (SDM:
    PBLENDW, VPBLENDD; VEX only)."""
    lanes_form(e, args, lambda w, imm: _blend_imm(ew, w, imm, ew == 2), ew, imm=True,
               evex=False)


# --------------------------------------------------------------------------- extensions

@lru_cache(maxsize=None)
def _extend(sew: int, dew: int, width: int, signed: bool):
    n = width // dew
    unpack = L.fmt(sew, n, signed).unpack
    pack = L.fmt(dew, n, signed).pack
    nbytes = n * sew

    def fn(a: int) -> int:
        return int.from_bytes(pack(*unpack(a.to_bytes(nbytes, "little"))), "little")
    return fn


_EXTENDS = (("BW", 1, 2), ("BD", 1, 4), ("BQ", 1, 8), ("WD", 2, 4), ("WQ", 2, 8), ("DQ", 4, 8))


@vhandles(*((f"VPMOV{k}X{s}", dict(sew=a, dew=b, signed=k == "S"))
            for k in ("S", "Z") for s, a, b in _EXTENDS))
def vpmovx(e, args, sew, dew, signed):
    """``VPMOVZXBD src, [K,] dst``: the low elements of src (a vector register or memory of
    the needed size, no alignment) sign- or zero-extended to fill dst (SDM: PMOVSX,
    PMOVZX). With a writemask, the source elements of masked-off lanes are not read
    (memory fault suppression, checked on the CPU)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    vec.need_vec(v.dst)
    width = v.dst.vw
    v = attrs.evolve(v, width=width)
    check_encoding(v, e.ins)
    src = v.srcs[0]
    vec.need_vec_or_mem(src)
    nbytes = width // dew * sew
    if src.kind == "xmm":
        value = f"{vec.vreg_expr(e, src.index, 16 if nbytes <= 16 else 32)} & " \
                f"{e.const(vec.FULL[nbytes])}"
    else:
        # Masked-off elements are not read (memory fault suppression per source element).
        value = vec.read(e, attrs.evolve(v, width=nbytes), src, sew)
    e.emit(f"a = {value}")
    vec.write(e, v, e.call(_extend(sew, dew, width, signed), "a"), dew)
    e.next()


@lru_cache(maxsize=None)
def _narrow(sew: int, dew: int, swidth: int, sat: str):
    n = swidth // sew
    dbits = 8 * dew
    if sat == "S":
        unpack = L.fmt(sew, n, True).unpack
        pack = L.fmt(dew, n, True).pack
        clamp = _clamp(-(1 << (dbits - 1)), (1 << (dbits - 1)) - 1)
    elif sat == "US":
        unpack = L.fmt(sew, n, False).unpack
        pack = L.fmt(dew, n, False).pack
        top = (1 << dbits) - 1

        def clamp(x: int) -> int:
            return top if x > top else x
    else:
        unpack = L.fmt(sew, n, False).unpack
        pack = L.fmt(dew, n, False).pack
        m = (1 << dbits) - 1

        def clamp(x: int) -> int:
            return x & m

    def fn(a: int) -> int:
        return int.from_bytes(pack(*map(clamp, unpack(a.to_bytes(swidth, "little")))), "little")
    return fn


_NARROWS = (("QB", 8, 1), ("QW", 8, 2), ("QD", 8, 4), ("DB", 4, 1), ("DW", 4, 2), ("WB", 2, 1))


@vhandles(*((f"VPMOV{k}{s}", dict(sew=a, dew=b, sat=k)) for k in ("", "S", "US")
            for s, a, b in _NARROWS))
def vpmovdown(e, args, sew, dew, sat):
    """``VPMOVQB src, [K,] dst``: every element of src truncated (VPMOVS*: with signed
    saturation, VPMOVUS*: unsigned saturation) to the narrower width, packed into the low
    part of dst; a register's bits above them are zeroed, a memory destination gets only
    the selected elements (SDM: VPMOVQB/VPMOVSQB/VPMOVUSQB ... VPMOVWB/VPMOVSWB/
    VPMOVUSWB)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    src, dst = v.srcs[0], v.dst
    vec.need_vec(src, "source")
    swidth = src.vw
    n = swidth // sew
    nbytes = n * dew
    if dst.kind == "xmm":
        v = attrs.evolve(v, width=max(16, nbytes))
        if dst.vw < nbytes:
            raise BadForm("destination register too narrow")
        lanes = n
    elif dst.kind == "mem":
        if v.zeroing:
            raise BadForm(".Z on a store")
        v = attrs.evolve(v, width=nbytes)
        lanes = None
    else:
        raise BadForm("destination must be a vector register or memory")
    e.emit(f"a = {vec.vreg_expr(e, src.index, swidth)}")
    vec.write(e, v, e.call(_narrow(sew, dew, swidth, sat), "a"), dew, lanes=lanes)
    e.next()

"""VEX and EVEX instructions whose memory accesses depend on a mask or on data (Intel SDM
Vol. 2, the pages of each instruction): gathers (VPGATHERDD/DQ/QD/QQ, VGATHERDPS/DPD/QPS/
QPD), scatters (VPSCATTER*, VSCATTER*), compress and expand (VPCOMPRESSB/W/D/Q,
VCOMPRESSPS/PD, VPEXPANDB/W/D/Q, VEXPANDPS/PD) and the VEX masked moves (VMASKMOVPS/PD,
VPMASKMOVD/Q, VMASKMOVDQU).

Faults, as the SDM specifies them:

* Masked-off elements are never accessed, so they never fault (SDM Vol. 2, 2.8 and each
  page's "Faults occur only due to mask-bit required memory accesses").
* Gathers and scatters access their elements in element order. When one faults, the
  elements before it are complete and their mask bits (the mask vector's element for
  VEX, the opmask bit for EVEX) are cleared, the rest are untouched, and the fault is
  raised (SDM: VPGATHERDD "the instruction ... can be suspended by an exception ... the
  destination and mask registers are partially updated"). A gather that completes
  clears its whole mask.
* The VEX masked loads and compress/expand memory forms behave as one access of the
  selected elements: nothing is written to a register when one of them faults.
"""

from __future__ import annotations

from goasm.machine.ops import vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import FULL, M64, vhandles

# --------------------------------------------------------------------------- gathers


def _sext(value: int, ew: int) -> int:
    bits = 8 * ew
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def _addresses(base: int, index_value: int, iw: int, scale: int, disp: int, n: int):
    """The ``n`` element addresses of a VSIB operand (indices sign-extended)."""
    return [(base + _sext(index_value >> (8 * iw * j) & FULL[iw], iw) * scale + disp) & M64
            for j in range(n)]


def _gather_fn(mem, cpu, ew: int, iw: int, n: int, scale: int, disp: int, evex: bool,
               dst: int, dwidth: int, vl: int, mreg: int, normalise: bool):
    """The run-time body of one gather form (see the module docstring).

    Elements are processed in order and each one's mask is cleared as the loop passes
    it, selected or not. On completion the destination is zeroed above the ``dwidth``
    bytes gathered and the whole mask register (VEX) or opmask (EVEX) is zero. When
    element j faults, the destination keeps its old bits except the elements loaded
    (and, for EVEX only, is zeroed above the vector length ``vl`` -- the wider of the
    destination and index registers -- if an element was loaded), the mask elements before j are zero, those from j on keep their
    values on AMD (measured on an AMD EPYC, Zen 4) and are all ones if selected, zero
    if not, on Intel (``normalise``: the SDM's pseudo-code first rewrites every VEX mask
    element as all ones or zero)."""
    lane = FULL[ew]
    top = 8 * ew - 1

    def fn(base: int, index_value: int) -> None:
        addrs = _addresses(base, index_value, iw, scale, disp, n)
        old = cpu.get_vec(dst)
        if evex:
            kold = cpu.kreg[mreg]
            mask = kold & ((1 << n) - 1)
        else:
            mold = cpu.get_vec(mreg)
            mask = sum(1 << j for j in range(n) if mold >> (8 * ew * j + top) & 1)
        out = old
        j = -1
        try:
            for j in range(n):
                if mask >> j & 1:
                    v = mem.read_int(addrs[j], ew)
                    out = out & ~(lane << (8 * ew * j)) | v << (8 * ew * j)
        except BaseException:
            loaded = mask & ((1 << j) - 1)
            cpu.set_vec(dst, out & FULL[vl] if evex and loaded else out)
            passed = (1 << j) - 1          # every element before the faulting one
            if evex:
                cpu.kreg[mreg] = kold & ~passed
            else:
                left = mold
                for i in range(n):
                    if i < j:
                        keep = 0
                    elif normalise:
                        keep = lane if mask >> i & 1 else 0
                    else:
                        keep = mold >> (8 * ew * i) & lane
                    left = left & ~(lane << (8 * ew * i)) | keep << (8 * ew * i)
                cpu.set_vec(mreg, left)
            raise
        cpu.set_vec(dst, out & FULL[dwidth])
        if evex:
            cpu.kreg[mreg] = 0
        else:
            cpu.set_vec(mreg, 0)
    return fn


def _gathers():
    """VPGATHER{index}{data} and VGATHER{index}{data}: D/Q indices, D/Q (PS/PD) data."""
    out = []
    for idx, iw in (("D", 4), ("Q", 8)):
        for data, fdata, ew in (("D", "PS", 4), ("Q", "PD", 8)):
            out.append((f"VPGATHER{idx}{data}", dict(ew=ew, iw=iw)))
            out.append((f"VGATHER{idx}{fdata}", dict(ew=ew, iw=iw)))
    return tuple(out)


@vhandles(*_gathers())
def vgather(e, args, ew, iw):
    """VEX ``VPGATHERDD mask, (base)(Xi*s), dst``: element j of dst is loaded from
    base + index[j]*s + disp when the top bit of mask element j is set; EVEX
    ``VPGATHERDD (base)(Zi*s), K, dst`` uses opmask bit j. Element size ``ew``, index
    size ``iw`` (D: dwords, Q: qwords, sign-extended); n = min(elements of dst, of the
    index). The mask is cleared as elements complete (SDM: VPGATHERDD/VPGATHERQD,
    VPGATHERDQ/VPGATHERQQ, VGATHERDPS/DPD/QPS/QPD)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    if args[0].kind == "vsib":
        addr, k, dst = args
        if k.kind != "kreg" or k.index == 0:
            raise BadForm("an EVEX gather needs an opmask register K1..K7")
        evex, mreg = True, k.index
    else:
        mvec, addr, dst = args
        vec.need_vec(mvec, "mask")
        evex, mreg = False, mvec.index
    if addr.kind != "vsib":
        raise BadForm("needs a vector-indexed (VSIB) address")
    vec.need_vec(dst)
    if getattr(e.ins, "suffixes", ()):
        raise BadForm("gathers take no suffixes")
    n = min(dst.vw // ew, addr.vw // iw)
    dwidth = n * ew        # VGATHERQPS X, (..)(X*s): 2 elements, bits 64.. zeroed
    base = f"regs[{e.const(addr.base)}]" if addr.base is not None else "0"
    fn = _gather_fn(e.machine.mem, e.machine.cpu, ew, iw, n, addr.scale, addr.disp, evex,
                    dst.index, dwidth, max(dst.vw, addr.vw), mreg,
                    e.machine.cpu_model.vendor != "AuthenticAMD")
    e.emit(f"{e.const(fn)}({base}, {vec.vreg_expr(e, addr.index, addr.vw)})")
    e.next()


def _scatter_fn(mem, cpu, ew: int, iw: int, n: int, scale: int, disp: int, src: int,
                mreg: int):
    """The run-time body of one scatter form: elements stored in order, each one's
    opmask bit cleared once stored; on completion the whole opmask is zero, after a
    fault it keeps its other bits (measured on an AMD EPYC, Zen 4)."""
    lane = FULL[ew]

    def fn(base: int, index_value: int) -> None:
        addrs = _addresses(base, index_value, iw, scale, disp, n)
        value = cpu.get_vec(src)
        k = cpu.kreg[mreg]
        try:
            for j in range(n):
                if k >> j & 1:
                    mem.write_int(addrs[j], ew, value >> (8 * ew * j) & lane)
                    k &= ~(1 << j)
        except BaseException:
            cpu.kreg[mreg] = k
            raise
        cpu.kreg[mreg] = 0
    return fn


def _scatters():
    out = []
    for prefix, names in (("VPSCATTER", (("D", 4), ("Q", 8))),
                          ("VSCATTER", (("PS", 4), ("PD", 8)))):
        for idx, iw in (("D", 4), ("Q", 8)):
            for data, ew in names:
                out.append((f"{prefix}{idx}{data}", dict(ew=ew, iw=iw)))
    return tuple(out)


@vhandles(*_scatters())
def vscatter(e, args, ew, iw):
    """``VPSCATTERDD src, K, (base)(Zi*s)``: element j of src is stored at
    base + index[j]*s + disp when opmask bit j is set, in element order (a later element
    overwrites an earlier one at the same address); K is cleared as elements complete
    (SDM: VPSCATTERDD/DQ/QD/QQ, VSCATTERDPS/DPD/QPS/QPD)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    src, k, addr = args
    vec.need_vec(src, "source")
    if k.kind != "kreg" or k.index == 0 or addr.kind != "vsib":
        raise BadForm("expected src, K1..K7, VSIB address")
    n = min(src.vw // ew, addr.vw // iw)
    base = f"regs[{e.const(addr.base)}]" if addr.base is not None else "0"
    fn = _scatter_fn(e.machine.mem, e.machine.cpu, ew, iw, n, addr.scale, addr.disp,
                     src.index, k.index)
    e.emit(f"{e.const(fn)}({base}, {vec.vreg_expr(e, addr.index, addr.vw)})")
    e.next()


# --------------------------------------------------------------------------- compress/expand

def _compress(ew: int, width: int):
    lane = FULL[ew]

    def fn(s: int, mask: int):
        """(packed value, number of bytes used)."""
        out, k = 0, 0
        for j in range(width // ew):
            if mask >> j & 1:
                out |= (s >> (8 * ew * j) & lane) << (8 * ew * k)
                k += 1
        return out, k * ew
    return fn


def _compress_name(stem, pairs):
    return tuple((stem + s, dict(ew=w)) for s, w in pairs)


@vhandles(*_compress_name("VPCOMPRESS", (("B", 1), ("W", 2), ("D", 4), ("Q", 8))),
          *_compress_name("VCOMPRESS", (("PS", 4), ("PD", 8))))
def vcompress(e, args, ew):
    """``VPCOMPRESSD src, [K,] dst``: the elements of src selected by K, packed into the
    low elements of dst. A register keeps (``.Z``: zeroes) the elements above them; a
    memory destination receives exactly the packed elements, nothing beyond (SDM:
    VPCOMPRESSB/W/D/Q, VCOMPRESSPS/PD)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    src, dst = v.srcs[0], v.dst
    vec.need_vec(src, "source")
    fn = e.const(_compress(ew, v.width))
    e.emit(f"s = {vec.vreg_expr(e, src.index, v.width)}",
           f"r, used = {fn}(s, {vec.mask_expr(e, v, ew)})")
    if dst.kind == "mem":
        if v.zeroing:
            raise BadForm(".Z on a store")
        with e.block("if used:"):
            e.emit(f"wrv({e.ea(dst)}, used, r)")
    elif dst.kind == "xmm":
        if v.zeroing:
            value = "r"
        else:
            value = (f"r | {vec.vreg_expr(e, dst.index, v.width)} & "
                     f"({e.const(FULL[v.width])} ^ ((1 << (8 * used)) - 1))")
        vec.store(e, dst, v.width, value)
    else:
        raise BadForm("destination must be a vector register or memory")
    e.next()


def _expand(ew: int, width: int):
    lane = FULL[ew]
    n = width // ew

    def fn(s: int, mask: int) -> int:
        out, k = 0, 0
        for j in range(n):
            if mask >> j & 1:
                out |= (s >> (8 * ew * k) & lane) << (8 * ew * j)
                k += 1
        return out
    return fn


@vhandles(*_compress_name("VPEXPAND", (("B", 1), ("W", 2), ("D", 4), ("Q", 8))),
          *_compress_name("VEXPAND", (("PS", 4), ("PD", 8))))
def vexpand(e, args, ew):
    """``VPEXPANDD src, [K,] dst``: consecutive elements of src (from element 0, or from
    memory: exactly popcount(K) elements, nothing beyond) placed at the positions K
    selects; the others merged or zeroed (SDM: VPEXPANDB/W/D/Q, VEXPANDPS/PD)."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    src, dst = v.srcs[0], v.dst
    vec.need_vec(dst)
    e.emit(f"k = {vec.mask_expr(e, v, ew)}")
    if src.kind == "mem":
        e.emit(f"used = k.bit_count() * {ew}")
        e.emit(f"s = rdv({e.ea(src)}, used) if used else 0")
    else:
        vec.need_vec(src, "source")
        e.emit(f"s = {vec.vreg_expr(e, src.index, v.width)}")
    vec.write(e, v, e.call(_expand(ew, v.width), "s", "k"), ew)
    e.next()


# --------------------------------------------------------------------------- VEX masked moves

def _masked_load(mem, ew: int, width: int):
    top = 8 * ew - 1
    n = width // ew

    def fn(addr: int, mvec: int) -> int:
        out = 0
        for j in range(n):
            if mvec >> (8 * ew * j + top) & 1:
                out |= mem.read_int((addr + ew * j) & M64, ew) << (8 * ew * j)
        return out
    return fn


def _masked_store(mem, ew: int, width: int):
    top = 8 * ew - 1
    n = width // ew
    lane = FULL[ew]

    def fn(addr: int, mvec: int, value: int) -> None:
        sel = [j for j in range(n) if mvec >> (8 * ew * j + top) & 1]
        for j in sel:              # check every selected element first: all or nothing
            mem.check(addr + ew * j, ew, write=True)
        for j in sel:
            mem.write_int((addr + ew * j) & M64, ew, value >> (8 * ew * j) & lane)
    return fn


@vhandles(("VMASKMOVPS", dict(ew=4)), ("VMASKMOVPD", dict(ew=8)),
          ("VPMASKMOVD", dict(ew=4)), ("VPMASKMOVQ", dict(ew=8)))
def vmaskmov(e, args, ew):
    """``VPMASKMOVD m, mask, dst``: element j loaded when the top bit of mask element j is
    set, else 0; ``VPMASKMOVD src, mask, m``: element j stored only when selected.
    Unselected elements are never accessed (SDM: VMASKMOVPS/PD, VPMASKMOVD/Q)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    first, mask, last = args
    vec.need_vec(mask, "mask")
    width = mask.vw
    m = vec.vreg_expr(e, mask.index, width)
    if first.kind == "mem" and last.kind == "xmm":
        fn = _masked_load(e.machine.mem, ew, width)
        e.emit(f"r = {e.const(fn)}({e.ea(first)}, {m})")
        vec.store(e, last, width, "r")
    elif first.kind == "xmm" and last.kind == "mem":
        fn = _masked_store(e.machine.mem, ew, width)
        e.emit(f"{e.const(fn)}({e.ea(last)}, {m}, {vec.vreg_expr(e, first.index, width)})")
    else:
        raise BadForm("expected memory, mask, register or register, mask, memory")
    e.next()


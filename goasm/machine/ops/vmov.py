"""VEX and EVEX moves and bitwise operations (Intel SDM Vol. 2,
the pages of each instruction): VMOVDQU/VMOVDQA (Go's names for the VEX forms),
VMOVDQU8/16/32/64 and VMOVDQA32/64 (EVEX), VMOVUPS/VMOVAPS/VMOVUPD/VMOVAPD,
VMOVNTDQ/VMOVNTPS/VMOVNTPD, VMOVNTDQA, VLDDQU; VPAND/VPANDN/VPOR/VPXOR (VEX),
VPANDD/Q, VPANDND/Q, VPORD/Q, VPXORD/Q (EVEX), VANDPS/PD, VANDNPS/PD, VORPS/PD,
VXORPS/PD. (VPADDB/W/D/Q and VPSUBB/W/D/Q live with the other integer lane arithmetic in
:mod:`goasm.machine.ops.vint`.)

These are the reference users of :mod:`goasm.machine.ops.vec`: every handler parses
its operands with :func:`vec.parse`, reads sources with :func:`vec.read` and stores
with :func:`vec.write`, so VEX.128/256 and EVEX.128/256/512 (writemask, ``.Z``,
``.BCST``) share one definition.
"""

from __future__ import annotations

from goasm.machine.ops import vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.vec import vhandles


def _moves(names, aligned, ew):
    return tuple((n, dict(aligned=aligned, ew=ew)) for n in names)


@vhandles(*_moves(("VMOVDQU", "VLDDQU"), False, 1),
          *_moves(("VMOVDQA", "VMOVNTDQ", "VMOVNTDQA"), True, 1),
          *_moves(("VMOVDQU8",), False, 1), *_moves(("VMOVDQU16",), False, 2),
          *_moves(("VMOVDQU32", "VMOVUPS"), False, 4),
          *_moves(("VMOVDQU64", "VMOVUPD"), False, 8),
          *_moves(("VMOVDQA32", "VMOVAPS", "VMOVNTPS"), True, 4),
          *_moves(("VMOVDQA64", "VMOVAPD", "VMOVNTPD"), True, 8))
def vmov(e, args, aligned, ew):
    """``VMOVDQU src, [K,] dst``: copy a whole vector between registers and memory
    (SDM: MOVDQU/VMOVDQU8/16/32/64, MOVDQA/VMOVDQA32/64, MOVUPS, MOVAPS, MOVNTDQ ...).
    With a writemask, a load merges or zeroes the unselected elements and a store
    leaves them untouched; neither accesses them. The aligned forms raise #GP on an
    address not aligned to the vector width, whatever the mask."""
    v = vec.parse(args, e.ins, nsrc=1, bcst=False)
    src, dst = v.srcs[0], v.dst
    if "xmm" not in (src.kind, dst.kind) or src.kind not in ("xmm", "mem") \
            or dst.kind not in ("xmm", "mem"):
        raise BadForm("needs a vector register and a register or memory")
    if v.zeroing and dst.kind == "mem":
        raise BadForm(".Z on a store")
    if aligned:
        vec.aligned(e, src, v.width, v, ew)
        vec.aligned(e, dst, v.width, v, ew)
    value = vec.read(e, v, src, ew)
    if v.k and dst.kind == "xmm" and src.kind == "mem":
        # The masked load already read the unselected elements as 0.
        e.emit(f"s = {value}")
        value = "s"
    vec.write(e, v, value, ew)
    e.next()


def _bitwise(names, op, ew):
    return tuple((n, dict(op=op, ew=ew)) for n in names)


@vhandles(*_bitwise(("VPAND", "VANDPS"), "&", 4), *_bitwise(("VANDPD",), "&", 8),
          *_bitwise(("VPANDD",), "&", 4), *_bitwise(("VPANDQ",), "&", 8),
          *_bitwise(("VPOR", "VORPS", "VPORD"), "|", 4), *_bitwise(("VORPD", "VPORQ"), "|", 8),
          *_bitwise(("VPXOR", "VXORPS", "VPXORD"), "^", 4),
          *_bitwise(("VXORPD", "VPXORQ"), "^", 8),
          *_bitwise(("VPANDN", "VANDNPS", "VPANDND"), "andn", 4),
          *_bitwise(("VANDNPD", "VPANDNQ"), "andn", 8))
def vbitwise(e, args, op, ew):
    """``VPXOR src2, src1, [K,] dst``: dst = src1 OP src2 (VPANDN: ``~src1 & src2``),
    SDM: PAND, PANDN, POR, PXOR, ANDPS ... and their EVEX D/Q forms (the element width
    matters only for masking and broadcast)."""
    v = vec.parse(args, e.ins, nsrc=2)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    vec.need_vec_or_mem(b)
    e.emit(f"a = {vec.read(e, v, a, ew)}", f"b = {vec.read(e, v, b, ew)}")
    if op == "andn":
        value = f"~a & b & {e.const(vec.FULL[v.width])}"
    else:
        value = f"a {op} b"
    vec.write(e, v, value, ew)
    e.next()

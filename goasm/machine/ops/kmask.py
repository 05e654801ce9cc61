"""The AVX-512 opmask instructions (Intel SDM Vol. 2, the pages of each; Vol. 1, 15.6.2
"Opmask Instructions"): KMOVB/W/D/Q, KAND/KANDN/KOR/KXOR/KXNOR, KADD, KNOT, KSHIFTL/R,
KTEST, KORTEST and KUNPCKBW/WD/DQ, plus VPBROADCASTMB2Q/VPBROADCASTMW2D (AVX512CD).

Go's operand order is Intel's reversed: ``KANDW K4, K3, K1`` is ``KANDW k1, k3, k4``
(K1 = K3 & K4). Every write to an opmask register zero-extends the result of the
operation width (B: 8, W: 16, D: 32, Q: 64 bits) to 64 bits; KMOV to a general register
zero-extends to 64 bits too. KTEST and KORTEST set ZF and CF and clear OF, SF, AF, PF.
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops import vec
from goasm.machine.ops.base import BadForm, handles
from goasm.machine.ops.vec import vhandles

_WIDTH = {"B": 1, "W": 2, "D": 4, "Q": 8}


def _sized(stem: str, widths: str = "BWDQ", **kw):
    return tuple((stem + s, dict(kw, width=_WIDTH[s])) for s in widths)


def _kreg(op, what: str = "operand") -> int:
    if op.kind != "kreg":
        raise BadForm(f"{what} must be an opmask register")
    return op.index


@handles(*_sized("KMOV"))
def kmov(e, args, width):
    """``KMOVW src, dst``: between opmask registers, to/from memory (``width`` bytes)
    and to/from a general register (32-bit register for B/W/D, 64-bit for Q); the
    destination opmask or general register is zero-extended (SDM: KMOVW/KMOVB/KMOVQ/KMOVD)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    mask = vec.FULL[width]
    if dst.kind == "kreg":
        if src.kind == "kreg":
            value = f"kreg[{e.const(src.index)}] & {e.const(mask)}"
        elif src.kind in ("gpr", "mem"):
            value = e.read(src, width)
        else:
            raise BadForm("source must be an opmask, general register or memory")
        e.emit(f"kreg[{e.const(dst.index)}] = {value}")
    elif src.kind == "kreg" and dst.kind in ("gpr", "mem"):
        value = f"kreg[{e.const(src.index)}] & {e.const(mask)}"
        if dst.kind == "gpr":
            e.write(dst, 8, value)          # zero-extended to 64 bits
        else:
            e.write(dst, width, value)
    else:
        raise BadForm("one operand must be an opmask register")
    e.next()


@handles(*_sized("KAND", op="a & b"), *_sized("KANDN", op="~a & b"),
         *_sized("KOR", op="a | b"), *_sized("KXOR", op="a ^ b"),
         *_sized("KXNOR", op="~(a ^ b)"), *_sized("KADD", op="a + b"))
def kbinary(e, args, width, op):
    """``KANDW src2, src1, dst``: dst = src1 OP src2 on the low ``width`` bytes,
    zero-extended (SDM: KANDW, KANDNW (~src1 & src2), KORW, KXORW, KXNORW, KADDW)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    b, a, dst = (_kreg(x) for x in args)
    e.emit(f"a = kreg[{e.const(a)}]", f"b = kreg[{e.const(b)}]")
    e.emit(f"kreg[{e.const(dst)}] = ({op}) & {e.const(vec.FULL[width])}")
    e.next()


@handles(*_sized("KNOT"))
def knot(e, args, width):
    """``KNOTW src, dst``: dst = ~src on ``width`` bytes (SDM: KNOTW)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = (_kreg(x) for x in args)
    e.emit(f"kreg[{e.const(dst)}] = ~kreg[{e.const(src)}] & {e.const(vec.FULL[width])}")
    e.next()


def _kshift(left: bool, width: int):
    bits = 8 * width
    mask = vec.FULL[width]

    def fn(k: int, n: int) -> int:
        if n >= bits:
            return 0
        return (k << n) & mask if left else (k & mask) >> n
    return fn


@handles(*_sized("KSHIFTL", left=True), *_sized("KSHIFTR", left=False))
def kshift(e, args, width, left):
    """``KSHIFTLW $n, src, dst``: dst = src << n (KSHIFTR: >>) on ``width`` bytes; a count
    of the width or more gives 0 (the count is imm8 unsigned) (SDM: KSHIFTLW, KSHIFTRW)."""
    if len(args) != 3 or args[0].kind != "imm":
        raise BadForm("expected $imm, K, K")
    n = args[0].value & 0xFF
    src, dst = _kreg(args[1]), _kreg(args[2])
    e.emit(f"kreg[{e.const(dst)}] = {e.call(_kshift(left, width), f'kreg[{e.const(src)}]', e.const(n))}")
    e.next()


def _ktest(width: int, kind: str):
    mask = vec.FULL[width]

    def fn(a: int, b: int) -> int:
        if kind == "or":
            t = (a | b) & mask
            return (0 if t else fl.ZF) | (fl.CF if t == mask else 0)
        return (0 if a & b & mask else fl.ZF) | (0 if ~a & b & mask else fl.CF)
    return fn


@handles(*_sized("KTEST", kind="and"), *_sized("KORTEST", kind="or"))
def ktest(e, args, width, kind):
    """``KTESTW src2, src1``: ZF = (src1 & src2) == 0, CF = (~src1 & src2) == 0;
    ``KORTESTW src2, src1``: ZF = (src1 | src2) == 0, CF = (src1 | src2) all ones; on
    ``width`` bytes; OF SF AF PF cleared (SDM: KTESTW, KORTESTW)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    b, a = (_kreg(x) for x in args)
    bits = e.call(_ktest(width, kind), f"kreg[{e.const(a)}]", f"kreg[{e.const(b)}]")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {bits})")
    e.next()


@handles(("KUNPCKBW", dict(width=1)), ("KUNPCKWD", dict(width=2)),
         ("KUNPCKDQ", dict(width=4)))
def kunpck(e, args, width):
    """``KUNPCKBW src2, src1, dst``: dst = src1[low] << 8*width | src2[low], each half
    ``width`` bytes (SDM: KUNPCKBW, KUNPCKWD, KUNPCKDQ)."""
    if len(args) != 3:
        raise BadForm("expected 3 operands")
    b, a, dst = (_kreg(x) for x in args)
    m = e.const(vec.FULL[width])
    e.emit(f"kreg[{e.const(dst)}] = (kreg[{e.const(a)}] & {m}) << {8 * width} "
           f"| kreg[{e.const(b)}] & {m}")
    e.next()


@vhandles(("VPBROADCASTMB2Q", dict(src_width=1, ew=8)),
          ("VPBROADCASTMW2D", dict(src_width=2, ew=4)))
def vpbroadcastm(e, args, src_width, ew):
    """``VPBROADCASTMB2Q K, dst``: every ``ew``-byte element of dst = the low byte (MW2D:
    word) of K, zero-extended (SDM: VPBROADCASTMB2Q/VPBROADCASTMW2D)."""
    v = vec.parse(args, e.ins, nsrc=1, masking=False, bcst=False)
    src = v.srcs[0]
    vec.need_vec(v.dst)
    k = _kreg(src, "source")
    value = f"(kreg[{e.const(k)}] & {e.const(vec.FULL[src_width])}) * " \
            f"{e.const(vec.repeat(ew, v.width))}"
    vec.write(e, v, value, ew)
    e.next()

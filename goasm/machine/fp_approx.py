"""The approximate reciprocals, bit-exact as processors compute them (data measured on
real hardware by tools/measure_fp_approx.py into fp_approx.txt):

* VRCP14PS/PD/SS/SD and VRSQRT14PS/PD/SS/SD (AVX-512F; SDM Vol. 2: "relative error
  less than 2**-14"; Intel publishes the exact algorithm as reference code). Measured:
  the result depends on the top 16 (VRCP14) or 15 (VRSQRT14) significand bits and, for
  the root, the exponent's parity; it is a piecewise-linear function on 64 segments,
  ``r = (P[i] - C[i] * f) >> s`` with i the top 6 (VRCP14) or parity + top 5 (VRSQRT14)
  bits and f the next 10, giving a 17-bit significand; binary64 inputs use the same
  top bits. An input with a zero significand (a power of two, an even one for the
  root) gives the exact answer. Denormal inputs are normalized (zeros under DAZ), tiny
  results are denormalized by truncation (zeros under FTZ); no exception is raised.
* VRCPPS/VRCPSS and VRSQRTPS/VRSQRTSS (SSE/AVX; "relative error <= 1.5 * 2**-12"):
  the 12-bit approximations are implementation-specific (SDM) and differ between
  vendors. The table is what the recording processor returns for each of the 4096
  leading-significand values (8192 with the exponent's parity for the root); denormal
  inputs read as zeros and tiny results flush to zero whatever MXCSR says (SDM: RCPPS).
  Only the recording vendor's table exists: a model of another vendor uses it too --
  a known difference, listed in the README (each result is within the SDM's bound).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from goasm.machine import fp

DATA = Path(__file__).with_name("fp_approx.txt")


@lru_cache(maxsize=None)
def tables():
    """``{"rcp14": [(P, C)] * 64, "rsqrt14": [(P, C)] * 64, "rcp12": [v] * 4096,
    "rsqrt12": [v] * 8192, "vendor": str}`` from fp_approx.txt."""
    out: dict = {}
    section = None
    for line in DATA.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            if section.startswith("vendor "):
                out["vendor"] = section.split(" ", 1)[1]
                section = None
            else:
                out[section] = []
            continue
        if section in ("rcp14", "rsqrt14"):
            p, c = line.split()
            out[section].append((int(p), int(c)))
        else:
            out[section] += [int(w, 16) + 4096 for w in line.split()]
    return out


# --------------------------------------------------------------------------- fitting (tools)

def _solve(ys, shift, f0=0):
    """(C, P): ``ys[f] == (P - C * (f + f0)) >> shift`` for every f, else ValueError."""
    n = len(ys)
    c0 = round((ys[0] - ys[-1]) * (1 << shift) / (n - 1))
    for c in range(c0 - 8, c0 + 9):
        lo = max(y * (1 << shift) + c * (f + f0) for f, y in enumerate(ys))
        hi = min(y * (1 << shift) + (1 << shift) - 1 + c * (f + f0) for f, y in enumerate(ys))
        if lo <= hi:
            return c, lo
    raise ValueError("not piecewise linear")


def _sig17(b: int) -> int:
    """The 17-bit significand of a binary32 result in [0.5, 1] (1.0 -> 2**17)."""
    v = ((1 << 23) | (b & 0x7FFFFF)) >> 7
    return v if (b >> 23) & 0xFF == 126 else v << 1


def fit14(rcp: list, rsq: list) -> list:
    """Text lines of the [rcp14] and [rsqrt14] sections from the measured results for
    every 16-bit (15-bit and parity) leading significand."""
    lines = ["[rcp14]"]
    vals = [_sig17(b) for b in rcp]
    for i in range(64):
        ys = vals[i * 1024:(i + 1) * 1024]
        c, p = _solve(ys[1:], 10, 1) if i == 0 else _solve(ys, 10)
        lines.append(f"{p} {c}")
    lines.append("[rsqrt14]")
    vals = [_sig17(b) for b in rsq]
    for i in range(64):
        ys = vals[i * 1024:(i + 1) * 1024]
        c, p = _solve(ys[1:], 9, 1) if i == 0 else _solve(ys, 9)
        lines.append(f"{p} {c}")
    return lines


def format12(vendor: str, rcp: list, rsq: list) -> list:
    lines = [f"[vendor {vendor}]"]
    for name, vals in (("rcp12", rcp), ("rsqrt12", rsq)):
        lines.append(f"[{name}]")
        v = [(((1 << 23) | (b & 0x7FFFFF)) >> 11) - 4096 for b in vals]
        if any((b >> 23) & 0xFF != 126 for b in vals):
            raise ValueError("a 12-bit result outside [0.5, 1)")
        for i in range(0, len(v), 32):
            lines.append(" ".join(f"{x:03x}" for x in v[i:i + 32]))
    return lines


# --------------------------------------------------------------------------- the functions

def _normalize(fmt: fp.Fmt, b: int, mx: int):
    """``(sign, E, frac)`` of a finite non-zero input (denormals normalized), or None
    for a zero (or a denormal under DAZ)."""
    s = 1 if b & fmt.sign else 0
    e = (b & fmt.exp) >> fmt.mbits
    m = b & fmt.frac
    if e == 0:
        if m == 0 or mx & fp.DAZ:
            return None
        sh = fmt.mbits + 1 - m.bit_length()
        return s, fmt.emin - sh, (m << sh) & fmt.frac
    return s, e - fmt.bias, m


def _pack17(fmt: fp.Fmt, s: int, E: int, sig: int, mx: int) -> int:
    """``sig * 2**(E - 16)`` (``sig`` in [2**16, 2**17]) with the significand truncated
    into a denormal when tiny (zero under FTZ) and infinity on overflow."""
    if sig >> 17:
        sig >>= 1
        E += 1
    sign = fmt.sign if s else 0
    be = E + fmt.bias
    if be >= (1 << fmt.ebits) - 1:
        return sign | fmt.inf
    if be <= 0:
        if mx & fp.FTZ:
            return sign
        return sign | (sig << (fmt.mbits - 16)) >> (1 - be)
    return sign | be << fmt.mbits | (sig - (1 << 16)) << (fmt.mbits - 16)


def rcp14(fmt: fp.Fmt, b: int, mx: int):
    """VRCP14: ``(bits, 0)``; NaNs quietened, 1/±0 = ±inf, 1/±inf = ±0."""
    if (b & fmt.exp) == fmt.exp:
        if b & fmt.frac:
            return b | fmt.quiet, 0
        return b & fmt.sign, 0
    n = _normalize(fmt, b, mx)
    if n is None:
        return (b & fmt.sign) | fmt.inf, 0
    s, E, m = n
    if m == 0:
        return _pack17(fmt, s, -E, 1 << 16, mx), 0
    m16 = m >> (fmt.mbits - 16)
    p, c = tables()["rcp14"][m16 >> 10]
    return _pack17(fmt, s, -E - 1, (p - c * (m16 & 1023)) >> 10, mx), 0


def rsqrt14(fmt: fp.Fmt, b: int, mx: int):
    """VRSQRT14: ``(bits, 0)``; NaNs quietened, negative -> QNaN indefinite,
    ±0 -> ±inf, +inf -> +0."""
    if (b & fmt.exp) == fmt.exp:
        if b & fmt.frac:
            return b | fmt.quiet, 0
        return (fmt.indefinite if b & fmt.sign else 0), 0
    n = _normalize(fmt, b, mx)
    if n is None:
        return (b & fmt.sign) | fmt.inf, 0
    s, E, m = n
    if s:
        return fmt.indefinite, 0
    odd = E & 1
    if m == 0 and not odd:
        return _pack17(fmt, 0, -(E >> 1), 1 << 16, mx), 0
    m15 = m >> (fmt.mbits - 15)
    p, c = tables()["rsqrt14"][odd * 32 + (m15 >> 10)]
    return _pack17(fmt, 0, -((E - odd) >> 1) - 1, (p - c * (m15 & 1023)) >> 9, mx), 0


def rcp12(b: int, mx: int):
    """VRCPPS/RCPSS on one binary32 element: ``(bits, 0)`` (see the module docstring)."""
    s = b & 0x80000000
    e = (b >> 23) & 0xFF
    if e == 0xFF:
        return (b | 0x400000 if b & 0x7FFFFF else s), 0
    if e == 0:
        return s | 0x7F800000, 0
    v = tables()["rcp12"][(b & 0x7FFFFF) >> 11]
    re = 253 - e                       # 2**-(e-127) * v/2**13, v/2**13 in [0.5, 1)
    if re <= 0:
        return s, 0
    return s | re << 23 | (v << 11) & 0x7FFFFF, 0


def rsqrt12(b: int, mx: int):
    """VRSQRTPS/RSQRTSS on one binary32 element: ``(bits, 0)``."""
    s = b & 0x80000000
    e = (b >> 23) & 0xFF
    if e == 0xFF:
        if b & 0x7FFFFF:
            return b | 0x400000, 0
        return (0xFFC00000 if s else 0), 0
    if e == 0:
        return s | 0x7F800000, 0
    if s:
        return 0xFFC00000, 0
    E = e - 127
    odd = E & 1
    v = tables()["rsqrt12"][odd * 4096 + ((b & 0x7FFFFF) >> 11)]
    re = 126 - ((E - odd) >> 1)
    return re << 23 | (v << 11) & 0x7FFFFF, 0

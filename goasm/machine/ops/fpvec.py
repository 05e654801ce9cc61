"""Element loops for the floating-point handlers (``sse_fp``, ``vfp``): run a lane
function of :mod:`goasm.machine.fp` over the selected elements of whole vectors (Python
ints), collect the exception flags of those elements only (masked-off elements raise
nothing: SDM Vol. 2, 2.8 / 15.6.x "writemask"), and record them in MXCSR or raise #XM
(:func:`goasm.machine.fp.commit`) before the caller writes anything.

A *kernel* is built once per instruction form at load time and called as
``kernel(cpu, mask, a[, b[, c]])`` -> the result vector; ``mask`` selects the elements
(a writemask, or all ones). EVEX embedded rounding and ``{sae}`` (SDM Vol. 2, 2.7.5)
are compile-time parameters: the elements see MXCSR with that rounding control and
every exception masked, and the flags are discarded.

The default MXCSR takes a fast path for the common operations (:func:`fast_binary`):
Python floats are IEEE binary64 with round-to-nearest-even, so for inputs that are
neither NaN, infinity nor denormal, and results that are normal numbers, a double
operation *is* the instruction's result; the sticky precision flag must already be set
(it stays set in real programs), else the exact path decides whether the result is
inexact. Everything else goes through the exact per-element path.
"""

from __future__ import annotations

import array
import math
import operator
import struct
from functools import lru_cache

from goasm.machine import fp
from goasm.machine.ops import vec


@lru_cache(maxsize=None)
def _st(ew: int, n: int) -> struct.Struct:
    return vec._struct(ew, ew * n, False)


def effective_mx(mx: int, sae: bool, rc: int | None) -> int:
    """MXCSR as the elements see it: embedded rounding replaces RC, ``{sae}`` masks all
    exceptions (their flags are then dropped by the caller)."""
    if rc is not None:
        mx = fp.with_rc(mx, rc)
    if sae:
        mx |= fp.MASKS
    return mx


def elementwise(fns, in_ew: int, out_ew: int, n: int, nin: int, *, sae: bool = False,
                rc: int | None = None, fast=None):
    """A kernel applying ``fns[i % len(fns)](x_i[, y_i[, z_i]], mx) -> (bits, flags)`` to
    element i of its ``nin`` inputs (``in_ew``-byte elements) for each selected i,
    giving ``n`` elements of ``out_ew`` bytes (unselected ones 0). ``fast(cpu, *vals)``
    may return the whole result (all elements selected) or None."""
    fns = tuple(fns)
    k = len(fns)
    sin, sout = _st(in_ew, n), _st(out_ew, n)
    nbytes = in_ew * n
    full = (1 << n) - 1
    f0 = fns[0]
    idx = range(n)

    def finish(cpu, mx, out, flags):
        if flags and not sae:
            fp.commit(cpu, flags, mx)
        return int.from_bytes(sout.pack(*out), "little")

    if nin == 1:
        def run(cpu, mask, a):
            if fast is not None and mask & full == full:
                r = fast(cpu, a)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            m2 = effective_mx(mx, sae, rc)
            xs = sin.unpack(a.to_bytes(nbytes, "little"))
            out = [0] * n
            flags = 0
            for i in idx:
                if mask >> i & 1:
                    out[i], f = (f0 if k == 1 else fns[i % k])(xs[i], m2)
                    flags |= f
            return finish(cpu, mx, out, flags)
    elif nin == 2:
        def run(cpu, mask, a, b):
            if fast is not None and mask & full == full:
                r = fast(cpu, a, b)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            m2 = effective_mx(mx, sae, rc)
            xs = sin.unpack(a.to_bytes(nbytes, "little"))
            ys = sin.unpack(b.to_bytes(nbytes, "little"))
            out = [0] * n
            flags = 0
            for i in idx:
                if mask >> i & 1:
                    out[i], f = (f0 if k == 1 else fns[i % k])(xs[i], ys[i], m2)
                    flags |= f
            return finish(cpu, mx, out, flags)
    else:
        def run(cpu, mask, a, b, c):
            if fast is not None and mask & full == full:
                r = fast(cpu, a, b, c)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            m2 = effective_mx(mx, sae, rc)
            xs = sin.unpack(a.to_bytes(nbytes, "little"))
            ys = sin.unpack(b.to_bytes(nbytes, "little"))
            zs = sin.unpack(c.to_bytes(nbytes, "little"))
            out = [0] * n
            flags = 0
            for i in idx:
                if mask >> i & 1:
                    out[i], f = (f0 if k == 1 else fns[i % k])(xs[i], ys[i], zs[i], m2)
                    flags |= f
            return finish(cpu, mx, out, flags)
    return run


def scalar(fn, nin: int, *, sae: bool = False, rc: int | None = None, fast=None):
    """A kernel for one element (scalar SS/SD forms): ``kernel(cpu, mask, x[, y[, z]])``
    -> the result element (0 when ``mask`` bit 0 is clear)."""
    if nin == 1:
        def run(cpu, mask, a):
            if not mask & 1:
                return 0
            if fast is not None:
                r = fast(cpu, a)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            r, f = fn(a, effective_mx(mx, sae, rc))
            if f and not sae:
                fp.commit(cpu, f, mx)
            return r
    elif nin == 2:
        def run(cpu, mask, a, b):
            if not mask & 1:
                return 0
            if fast is not None:
                r = fast(cpu, a, b)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            r, f = fn(a, b, effective_mx(mx, sae, rc))
            if f and not sae:
                fp.commit(cpu, f, mx)
            return r
    else:
        def run(cpu, mask, a, b, c):
            if not mask & 1:
                return 0
            if fast is not None:
                r = fast(cpu, a, b, c)
                if r is not None:
                    return r
            mx = cpu.mxcsr
            r, f = fn(a, b, c, effective_mx(mx, sae, rc))
            if f and not sae:
                fp.commit(cpu, f, mx)
            return r
    return run


def probe_store(mem, addr: int, ew: int, n: int, mask: int) -> None:
    """Raise the fault a store of the selected ``ew``-byte elements at ``addr`` would
    raise, before the instruction records any exception flag (a faulting store leaves
    MXCSR unchanged, measured)."""
    full = (1 << n) - 1
    if mask & full == full:
        mem.check(addr, ew * n, write=True)
        return
    for i in range(n):
        if mask >> i & 1:
            mem.check(addr + ew * i, ew, write=True)


# --------------------------------------------------------------------------- fast paths

_FAST_MASK = 0xFFFF & ~(fp.FLAGS & ~fp.PE) & ~fp.DAZ & ~fp.FTZ
"""MXCSR bits that must equal :data:`_FAST_VALUE` for the fast path: all exceptions
masked, round to nearest, PE already set (the other sticky flags and DAZ/FTZ may be
anything: the fast path only runs where they cannot matter)."""
_FAST_VALUE = fp.DEFAULT | fp.PE


@lru_cache(maxsize=None)
def swar(fmt: fp.Fmt, n: int):
    """``special(v)``: true when any of the ``n`` elements of ``v`` (bits) is a NaN, an
    infinity or a denormal; ``tiny(v)``: true when any is a zero or a denormal --
    a few whole-int operations instead of an element loop (DESIGN.md, performance)."""
    ew = fmt.nbytes
    rep = vec.repeat(ew, ew * n)
    em = fmt.exp * rep
    mm = fmt.frac * rep
    signs = fmt.sign * rep
    elsb = fmt.hidden * rep
    shift = fmt.bits - 1 - fmt.mbits

    def special(v: int) -> bool:
        e = v & em
        if (e + elsb) & signs:                       # exponent all ones
            return True
        zexp = ~(e + em) & signs                     # exponent zero
        if not zexp:
            return False
        return bool((zexp >> shift) & ((v & mm) + mm))

    def tiny(v: int) -> bool:
        e = v & em
        return bool(~(e + em) & signs)
    return special, tiny


_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "div": operator.truediv}


@lru_cache(maxsize=None)
def fast_binary(fmt: fp.Fmt, n: int, op: str):
    """The default-MXCSR fast path of ADD/SUB/MUL/DIV on ``n`` elements (see the module
    docstring): ``fast(cpu, a, b)`` -> result bits, or None to take the exact path.

    binary32 elements are computed in binary64 and rounded once to binary32: exact
    for +, -, *, / since 53 >= 2*24 + 2 (double rounding is innocuous; Figueroa,
    "When is double rounding innocuous?", 1995). Both inputs are checked with one
    SWAR pass over the two vectors side by side."""
    special, tiny = swar(fmt, n)
    special2, tiny2 = swar(fmt, 2 * n)
    ew = fmt.nbytes
    nbytes = ew * n
    nbits = 8 * nbytes
    code = fmt.code
    unpack = struct.Struct(f"<{n}{code}").unpack
    fn = _OPS[op]
    zero_ok = op in ("add", "sub")       # exact zeros of a sum raise nothing
    check_div = op == "div"
    arr = array.array

    def fast(cpu, a, b):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or special2(a << nbits | b):
            return None
        if check_div and tiny(b):
            return None
        r = int.from_bytes(arr(code, map(fn, unpack(a.to_bytes(nbytes, "little")),
                                         unpack(b.to_bytes(nbytes, "little")))).tobytes(),
                           "little")
        if special(r) or (not zero_ok and tiny(r)):
            return None
        return r
    return fast


@lru_cache(maxsize=None)
def fast_sqrt(fmt: fp.Fmt, n: int):
    """Default-MXCSR fast path of SQRT (non-negative normal inputs)."""
    special, tiny = swar(fmt, n)
    nbytes = fmt.nbytes * n
    code = fmt.code
    unpack = struct.Struct(f"<{n}{code}").unpack
    signs = fmt.sign * vec.repeat(fmt.nbytes, nbytes)
    sq = math.sqrt

    def fast(cpu, a):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or a & signs or special(a) or tiny(a):
            return None
        return int.from_bytes(array.array(code, map(sq, unpack(a.to_bytes(nbytes, "little"))))
                              .tobytes(), "little")
    return fast


def _minf(x, y):
    return x if x < y else y


def _maxf(x, y):
    return x if x > y else y


@lru_cache(maxsize=None)
def fast_minmax(fmt: fp.Fmt, n: int, is_max: bool):
    """Default-MXCSR fast path of MIN/MAX: without NaNs or denormals (DE) the result is
    ``a < b ? a : b`` on the values, which Python floats compute with the same choice
    for equal values (the second operand) and keep the sign of a zero."""
    special2, _ = swar(fmt, 2 * n)
    nbytes = fmt.nbytes * n
    nbits = 8 * nbytes
    code = fmt.code
    unpack = struct.Struct(f"<{n}{code}").unpack
    fn = _maxf if is_max else _minf

    def fast(cpu, a, b):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or special2(a << nbits | b):
            return None
        return int.from_bytes(array.array(code, map(fn, unpack(a.to_bytes(nbytes, "little")),
                                                    unpack(b.to_bytes(nbytes, "little"))))
                              .tobytes(), "little")
    return fast


_REL = {fp.LT: operator.lt, fp.EQ: operator.eq, fp.GT: operator.gt,
        fp.LT | fp.EQ: operator.le, fp.GT | fp.EQ: operator.ge, fp.LT | fp.GT: operator.ne}


@lru_cache(maxsize=None)
def fast_compare(fmt: fp.Fmt, n: int, imm: int, out_ew: int):
    """Default-MXCSR fast path of CMPPS/VCMPPD predicate ``imm``: without NaNs or
    denormals no flag can be raised and the unordered cases do not arise; the result
    is all ones (``out_ew`` bytes) or one bit (``out_ew`` 0: a mask) per element."""
    special2, _ = swar(fmt, 2 * n)
    nbytes = fmt.nbytes * n
    nbits = 8 * nbytes
    unpack = struct.Struct(f"<{n}{fmt.code}").unpack
    true = fp.PREDICATES[imm & 31][0] & (fp.LT | fp.EQ | fp.GT)
    if true == 0 or true == fp.LT | fp.EQ | fp.GT:
        rel = None
    else:
        rel = _REL[true]
    ones = (1 << (8 * out_ew)) - 1 if out_ew else 1
    const = 0
    if rel is None and true:
        for i in range(n):
            const |= ones << (i * (8 * out_ew if out_ew else 1))
    step = 8 * out_ew if out_ew else 1

    def fast(cpu, a, b):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or special2(a << nbits | b):
            return None
        if rel is None:
            return const
        out = 0
        sh = 0
        for t in map(rel, unpack(a.to_bytes(nbytes, "little")),
                     unpack(b.to_bytes(nbytes, "little"))):
            if t:
                out |= ones << sh
            sh += step
        return out
    return fast


_SPLIT = 134217729.0            # 2**27 + 1: Veltkamp's split of a binary64
_FMA_HI = 2.0 ** 995
_FMA_LO = 2.0 ** -968


def _fma64(x: float, y: float, z: float):
    """``x*y + z`` rounded once, or None: Dekker's exact product (Veltkamp split, no
    hardware FMA needed) and ``math.fsum``, which rounds the exact sum of its inputs
    correctly (to nearest even). Valid while no split overflows and the product's error
    term is representable; zero results go to the exact path (their sign)."""
    p = x * y
    ap = abs(p)
    if not (_FMA_LO < ap < _FMA_HI) or not (abs(x) < _FMA_HI and abs(y) < _FMA_HI):
        return None
    t = _SPLIT * x
    xh = t - (t - x)
    xl = x - xh
    t = _SPLIT * y
    yh = t - (t - y)
    yl = y - yh
    err = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    r = math.fsum((p, err, z))
    return r if r else None


def _fma32(x: float, y: float, z: float):
    """binary32 ``x*y + z`` rounded once, or None: the product is exact in binary64, the
    sum is split exactly into ``s + e`` (TwoSum), and rounding ``s`` to binary32 is
    right unless ``s`` is a binary32 tie with ``e != 0`` (then None)."""
    p = x * y
    s = p + z
    bb = s - p
    e = (p - (s - bb)) + (z - bb)
    if e and (_Q.unpack(_D.pack(s))[0] & 0x1FFFFFFF) == 0x10000000:
        return None
    return s if s else None


_D = struct.Struct("<d")
_Q = struct.Struct("<Q")


@lru_cache(maxsize=None)
def fast_fma(fmt: fp.Fmt, n: int, negp: bool, negc: bool):
    """Default-MXCSR fast path of FMA (``±(a*b) ± c``) on ``n`` elements."""
    special3, _ = swar(fmt, 3 * n)
    special, tiny = swar(fmt, n)
    nbytes = fmt.nbytes * n
    nbits = 8 * nbytes
    code = fmt.code
    unpack = struct.Struct(f"<{n}{code}").unpack
    one = _fma64 if fmt is fp.F64 else _fma32
    sp = -1.0 if negp else 1.0
    sc = -1.0 if negc else 1.0

    def fast(cpu, a, b, c):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or special3((a << nbits | b) << nbits | c):
            return None
        out = []
        for x, y, z in zip(unpack(a.to_bytes(nbytes, "little")),
                           unpack(b.to_bytes(nbytes, "little")),
                           unpack(c.to_bytes(nbytes, "little"))):
            r = one(sp * x, y, sc * z)
            if r is None:
                return None
            out.append(r)
        r = int.from_bytes(array.array(code, out).tobytes(), "little")
        if special(r) or tiny(r):
            return None
        return r
    return fast


@lru_cache(maxsize=None)
def fast_convert(src: fp.Fmt, dst: fp.Fmt, n: int):
    """Default-MXCSR fast path of a float-to-float conversion (CVTPD2PS, CVTPS2PD):
    normal inputs, results neither infinite nor tiny."""
    special, tiny = swar(src, n)
    dspecial, dtiny = swar(dst, n)
    nbytes = src.nbytes * n
    unpack = struct.Struct(f"<{n}{src.code}").unpack
    code = dst.code

    def fast(cpu, a):
        if cpu.mxcsr & _FAST_MASK != _FAST_VALUE or special(a) or tiny(a):
            return None
        r = int.from_bytes(array.array(code, unpack(a.to_bytes(nbytes, "little"))).tobytes(),
                           "little")
        if dspecial(r) or dtiny(r):
            return None
        return r
    return fast

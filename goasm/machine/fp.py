"""IEEE 754 binary floating point as the SSE/AVX/AVX-512 units compute it: formats,
MXCSR (rounding control, FTZ, DAZ, sticky exception flags, exception masks), exact
arithmetic rounded once, and the SIMD floating-point exception (#XM).

Sources of truth: Intel SDM Vol. 1, 4.8 "Real numbers and floating-point formats",
4.9 "Overview of floating-point exceptions", 10.2.3 "MXCSR control and status register",
11.5 "SSE, SSE2 and SSE3 exceptions" (pre- and post-computation exceptions) and Table
4-7 (NaN results); Vol. 2, each instruction's page. Details the manuals leave open were
measured on the host processor with goasm's native harness (:mod:`goasm.native`), and
the recorded CPU oracle (tests/data/cpu_oracle) checks all of it:

* Tininess is detected *after* rounding (with unbounded exponent): a result that rounds
  up to the smallest normal raises no underflow. A masked underflow sets UE only when
  the result is also inexact; an unmasked one is reported for every tiny result.
* FTZ flushes a tiny result to a zero of its sign and sets UE and PE; DAZ reads
  denormal inputs as zeros of their sign and sets no DE.
* A NaN input (quiet or signalling) suppresses DE for the other operands; so does an
  invalid operation (``sqrt(-denormal)``) and a division by zero (``denormal / 0``
  sets only ZE).
* With an unmasked exception the destination is not written; if a *pre-computation*
  exception (IE, DE, ZE) of any element is unmasked, only the pre-computation flags of
  all elements are set, else every flag of every element is. Linux delivers #XM as
  SIGFPE with ``si_code`` chosen from ``flags & ~masks`` in the order IE (FPE_FLTINV),
  ZE (FPE_FLTDIV), OE (FPE_FLTOVF), DE or UE (FPE_FLTUND), PE (FPE_FLTRES)
  (arch/x86/kernel/traps.c ``fpu__exception_code``).

Exact values are ``(-1)**sign * m * 2**e`` with Python ints; :func:`round_pack` rounds
one to a format under an MXCSR value and returns the bits and the flags it raised.
Results that are not exact multiples (quotients, roots) are passed with two extra
quotient bits and a *sticky* bit, which rounds correctly in every mode. Fast paths for
the default MXCSR live with the vector drivers (:mod:`goasm.machine.ops.vfp`).
"""

from __future__ import annotations

import struct
from math import isqrt

from goasm.errors import MachineFault

# MXCSR (SDM Vol. 1, Figure 10-3).
IE, DE, ZE, OE, UE, PE = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
FLAGS = 0x3F
DAZ = 0x40
MASKS = 0x1F80
RC_SHIFT = 13
RC_MASK = 0x6000
FTZ = 0x8000
DEFAULT = 0x1F80
TINY = 0x100
"""Internal flag: the result was tiny (an unmasked underflow reports even exact tiny
results); never stored in MXCSR (:func:`commit` converts it)."""
PRE = IE | DE | ZE
"""Pre-computation exceptions (SDM Vol. 1, 11.5.1)."""

RN, RD, RU, RZ = 0, 1, 2, 3
"""Rounding control values (MXCSR.RC, EVEX.RC, ROUNDSD imm[1:0])."""

FPE_CODES = (("FPE_FLTINV", IE), ("FPE_FLTDIV", ZE), ("FPE_FLTOVF", OE),
             ("FPE_FLTUND", DE | UE), ("FPE_FLTRES", PE))

ZERO, FINITE, INF, QNAN, SNAN = range(5)


class Fmt:
    """A binary interchange format (SDM Vol. 1, Table 4-3; binary16 for F16C)."""

    __slots__ = ("name", "nbytes", "bits", "ebits", "mbits", "bias", "emin", "emax",
                 "sign", "exp", "frac", "quiet", "inf", "indefinite", "max", "hidden",
                 "mant_min", "code")

    def __init__(self, name: str, nbytes: int, ebits: int, mbits: int, code: str) -> None:
        self.name, self.nbytes, self.ebits, self.mbits = name, nbytes, ebits, mbits
        self.bits = 8 * nbytes
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.emax = self.bias
        self.sign = 1 << (self.bits - 1)
        self.exp = ((1 << ebits) - 1) << mbits
        self.frac = (1 << mbits) - 1
        self.hidden = 1 << mbits
        self.quiet = 1 << (mbits - 1)
        self.inf = self.exp
        self.indefinite = self.sign | self.exp | self.quiet
        self.max = self.exp - 1
        self.mant_min = self.emin - mbits      # exponent of the smallest denormal
        self.code = code                       # struct code for Python floats ("" none)

    def __repr__(self) -> str:
        return f"Fmt({self.name})"

    def isnan(self, b: int) -> bool:
        return (b & self.exp) == self.exp and (b & self.frac) != 0

    def is_denormal(self, b: int) -> bool:
        return (b & self.exp) == 0 and (b & self.frac) != 0


F16 = Fmt("f16", 2, 5, 10, "e")
BF16 = Fmt("bf16", 2, 8, 7, "")
F32 = Fmt("f32", 4, 8, 23, "f")
F64 = Fmt("f64", 8, 11, 52, "d")


def rc_of(mx: int) -> int:
    return mx >> RC_SHIFT & 3


def with_rc(mx: int, rc: int) -> int:
    return mx & ~RC_MASK | rc << RC_SHIFT


# --------------------------------------------------------------------------- decoding

def classify(fmt: Fmt, b: int, mx: int):
    """``(kind, sign, m, e, denormal)`` of the bits ``b``: kind ZERO, FINITE (value
    ``m * 2**e``), INF, QNAN or SNAN; ``denormal`` when ``b`` is a denormal that counts
    as one (DAZ off). With MXCSR.DAZ a denormal reads as a zero of its sign."""
    s = 1 if b & fmt.sign else 0
    ex = b & fmt.exp
    fr = b & fmt.frac
    if ex == 0:
        if fr == 0:
            return ZERO, s, 0, 0, False
        if mx & DAZ:
            return ZERO, s, 0, 0, False
        return FINITE, s, fr, fmt.mant_min, True
    if ex == fmt.exp:
        if fr == 0:
            return INF, s, 0, 0, False
        return (QNAN if fr & fmt.quiet else SNAN), s, 0, 0, False
    return FINITE, s, fr | fmt.hidden, (ex >> fmt.mbits) - fmt.bias - fmt.mbits, False


def quieten(fmt: Fmt, b: int) -> int:
    return b | fmt.quiet


def pick_nan(fmt: Fmt, *ops):
    """The NaN result when some operand is a NaN (SDM Vol. 1, Table 4-7, SSE column and
    the FMA pages): the first NaN operand in order, quietened; IE when any operand is a
    signalling NaN. ``None`` when no operand is a NaN."""
    out = None
    flags = 0
    for b in ops:
        if (b & fmt.exp) == fmt.exp and b & fmt.frac:
            if out is None:
                out = b | fmt.quiet
            if not b & fmt.quiet:
                flags = IE
    if out is None:
        return None
    return out, flags


# --------------------------------------------------------------------------- rounding

def zero(fmt: Fmt, s: int) -> int:
    return fmt.sign if s else 0


def overflow_result(fmt: Fmt, s: int, rc: int) -> int:
    """The masked overflow response (SDM Vol. 1, Table 4-10)."""
    if rc == RN or (rc == RD and s) or (rc == RU and not s):
        return (fmt.sign if s else 0) | fmt.inf
    return (fmt.sign if s else 0) | fmt.max


def round_pack(fmt: Fmt, s: int, m: int, e: int, mx: int, rc: int | None = None):
    """Round ``(-1)**s * m * 2**e`` (``m > 0``; ``m``'s lowest bit may be a sticky bit
    below the rounding point) to ``fmt`` with MXCSR ``mx`` (``rc`` overrides its
    rounding control): ``(bits, flags)`` with PE, OE, UE and the internal TINY flag."""
    if rc is None:
        rc = mx >> RC_SHIFT & 3
    mb = fmt.mbits
    p = mb + 1
    L = m.bit_length()
    E = e + L - 1                       # exponent of the leading bit
    emin = fmt.emin
    q = (E if E >= emin else emin) - mb  # exponent of the result's last bit
    shift = q - e
    inexact = False
    if shift > 0:
        r = m >> shift
        rem = m - (r << shift)
        if rem:
            inexact = True
            if rc == RN:
                half = 1 << (shift - 1)
                if rem > half or (rem == half and r & 1):
                    r += 1
            elif (rc == RU and not s) or (rc == RD and s):
                r += 1
    else:
        r = m << -shift
    flags = 0
    if E < emin:
        # Tiny after rounding? Only E == emin - 1 can round up to 2**emin.
        tiny = True
        if E == emin - 1 and inexact:
            # Round m to p bits with an unbounded exponent.
            sh = L - p
            ru = m >> sh if sh > 0 else m << -sh
            if sh > 0:
                rem = m - (ru << sh)
                if rem:
                    if rc == RN:
                        half = 1 << (sh - 1)
                        if rem > half or (rem == half and ru & 1):
                            ru += 1
                    elif (rc == RU and not s) or (rc == RD and s):
                        ru += 1
            if ru >> p:
                tiny = False
        if tiny:
            if mx & FTZ:
                return (fmt.sign if s else 0), UE | PE | TINY
            flags = TINY | (UE | PE if inexact else 0)
        elif inexact:
            flags = PE
        # r is the denormal encoding (r == 2**mb is the smallest normal)
        return (fmt.sign if s else 0) | r, flags
    if r >> p:                          # rounding carried into a new bit
        r >>= 1
        q += 1
    be = q + mb + fmt.bias
    if be >= (1 << fmt.ebits) - 1:
        return overflow_result(fmt, s, rc), OE | PE
    return (fmt.sign if s else 0) | be << mb | (r & fmt.frac), PE if inexact else 0


def round_sticky(fmt: Fmt, s: int, num: int, den: int, e: int, mx: int,
                 rc: int | None = None):
    """Round ``(-1)**s * num/den * 2**e`` (``num, den > 0``) once."""
    # Quotient with at least p + 2 bits, then a sticky bit for the remainder.
    k = fmt.mbits + 3 - (num.bit_length() - den.bit_length())
    if k < 0:
        k = 0
    q, rem = divmod(num << k, den)
    q = q << 1 | (1 if rem else 0)
    return round_pack(fmt, s, q, e - k - 1, mx, rc)


def from_int(fmt: Fmt, n: int, mx: int, rc: int | None = None):
    """The integer ``n`` rounded to ``fmt`` (CVTSI2SD ...): ``(bits, flags)``; only PE
    can be raised."""
    if n == 0:
        return 0, 0
    s = 1 if n < 0 else 0
    return round_pack(fmt, s, -n if s else n, 0, mx, rc)


# --------------------------------------------------------------------------- arithmetic

def _zero_sum_sign(sa: int, sb: int, rc: int) -> int:
    """Sign of an exact zero sum (SDM Vol. 1, 4.8.3.4 / IEEE 754 6.3)."""
    if sa == sb:
        return sa
    return 1 if rc == RD else 0


def add(fmt: Fmt, a: int, b: int, mx: int, negate_b: bool = False, rc: int | None = None):
    """``a + b`` (``a - b`` with ``negate_b``): ``(bits, flags)``."""
    nan = pick_nan(fmt, a, b)
    if nan is not None:
        return nan
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    if negate_b:
        sb ^= 1
    if rc is None:
        rc = mx >> RC_SHIFT & 3
    if ka == INF or kb == INF:
        if ka == INF and kb == INF and sa != sb:
            return fmt.indefinite, IE
        flags = DE if da or db else 0
        return (fmt.sign if (sa if ka == INF else sb) else 0) | fmt.inf, flags
    flags = DE if da or db else 0
    if ka == ZERO and kb == ZERO:
        return zero(fmt, _zero_sum_sign(sa, sb, rc)), flags
    if ka == ZERO:
        # b exactly (it may be a denormal: rounding it again gives it back, with UE/FTZ)
        r, f = round_pack(fmt, sb, mb, eb, mx, rc)
        return r, flags | f
    if kb == ZERO:
        r, f = round_pack(fmt, sa, ma, ea, mx, rc)
        return r, flags | f
    e = ea if ea < eb else eb
    va = (ma << (ea - e)) * (-1 if sa else 1)
    vb = (mb << (eb - e)) * (-1 if sb else 1)
    v = va + vb
    if v == 0:
        return zero(fmt, 1 if rc == RD else 0), flags
    r, f = round_pack(fmt, 1 if v < 0 else 0, abs(v), e, mx, rc)
    return r, flags | f


def mul(fmt: Fmt, a: int, b: int, mx: int, rc: int | None = None):
    """``a * b``: ``(bits, flags)``."""
    nan = pick_nan(fmt, a, b)
    if nan is not None:
        return nan
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    s = sa ^ sb
    if ka == INF or kb == INF:
        if ka == ZERO or kb == ZERO:
            return fmt.indefinite, IE
        return (fmt.sign if s else 0) | fmt.inf, DE if da or db else 0
    flags = DE if da or db else 0
    if ka == ZERO or kb == ZERO:
        return zero(fmt, s), flags
    r, f = round_pack(fmt, s, ma * mb, ea + eb, mx, rc)
    return r, flags | f


def div(fmt: Fmt, a: int, b: int, mx: int, rc: int | None = None):
    """``a / b``: ``(bits, flags)``; a finite non-zero ``a`` over zero raises only ZE."""
    nan = pick_nan(fmt, a, b)
    if nan is not None:
        return nan
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    s = sa ^ sb
    if ka == INF:
        if kb == INF:
            return fmt.indefinite, IE
        return (fmt.sign if s else 0) | fmt.inf, DE if db else 0
    if kb == INF:
        return zero(fmt, s), DE if da else 0
    if kb == ZERO:
        if ka == ZERO:
            return fmt.indefinite, IE
        return (fmt.sign if s else 0) | fmt.inf, ZE
    flags = DE if da or db else 0
    if ka == ZERO:
        return zero(fmt, s), flags
    r, f = round_sticky(fmt, s, ma, mb, ea - eb, mx, rc)
    return r, flags | f


def sqrt(fmt: Fmt, a: int, mx: int, rc: int | None = None):
    """The square root of ``a``: ``(bits, flags)``; ``sqrt(-0) = -0``."""
    nan = pick_nan(fmt, a)
    if nan is not None:
        return nan
    k, s, m, e, d = classify(fmt, a, mx)
    if k == ZERO:
        return zero(fmt, s), 0
    if s:
        return fmt.indefinite, IE
    if k == INF:
        return fmt.inf, 0
    flags = DE if d else 0
    if e & 1:
        m <<= 1
        e -= 1
    # enough bits: the root needs p + 2 bits
    k2 = max(0, 2 * (fmt.mbits + 3) - m.bit_length())
    k2 += k2 & 1
    m <<= k2
    e -= k2
    root = isqrt(m)
    sticky = 1 if root * root != m else 0
    r, f = round_pack(fmt, 0, root << 1 | sticky, e // 2 - 1, mx, rc)
    return r, flags | f


def fma(fmt: Fmt, a: int, b: int, c: int, mx: int, neg_product: bool = False,
        neg_addend: bool = False, rc: int | None = None):
    """``(±a*b) ± c`` rounded once (SDM Vol. 2, VFMADD132PD ...): ``(bits, flags)``.
    A NaN operand wins in the order a, b, c (measured: no IE for ``0 * inf + QNaN``)."""
    nan = pick_nan(fmt, a, b, c)
    if nan is not None:
        return nan
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    kc, sc, mc, ec, dc = classify(fmt, c, mx)
    sp = sa ^ sb ^ (1 if neg_product else 0)
    if neg_addend:
        sc ^= 1
    if rc is None:
        rc = mx >> RC_SHIFT & 3
    if ka == INF or kb == INF:
        if ka == ZERO or kb == ZERO:
            return fmt.indefinite, IE
        if kc == INF and sc != sp:
            return fmt.indefinite, IE
        return (fmt.sign if sp else 0) | fmt.inf, DE if da or db or dc else 0
    if kc == INF:
        return (fmt.sign if sc else 0) | fmt.inf, DE if da or db or dc else 0
    flags = DE if da or db or dc else 0
    pzero = ka == ZERO or kb == ZERO
    if pzero:
        if kc == ZERO:
            return zero(fmt, _zero_sum_sign(sp, sc, rc)), flags
        r, f = round_pack(fmt, sc, mc, ec, mx, rc)
        return r, flags | f
    mp, ep = ma * mb, ea + eb
    if kc == ZERO:
        r, f = round_pack(fmt, sp, mp, ep, mx, rc)
        return r, flags | f
    e = ep if ep < ec else ec
    v = (mp << (ep - e)) * (-1 if sp else 1) + (mc << (ec - e)) * (-1 if sc else 1)
    if v == 0:
        return zero(fmt, 1 if rc == RD else 0), flags
    r, f = round_pack(fmt, 1 if v < 0 else 0, abs(v), e, mx, rc)
    return r, flags | f


# --------------------------------------------------------------------------- exceptions

def commit(cpu, flags: int, mx: int | None = None) -> None:
    """Record the exception ``flags`` raised by one instruction (the union over its
    elements) in MXCSR and raise #XM (SIGFPE) when one of them is unmasked; the caller
    has not written the destination yet (SDM Vol. 1, 11.5.1 and 11.5.2)."""
    if mx is None:
        mx = cpu.mxcsr
    unmasked = ~(mx >> 7) & FLAGS
    if flags & TINY and unmasked & UE:
        flags |= UE
    flags &= FLAGS
    if not flags & unmasked:
        cpu.mxcsr = mx | flags
        return
    if flags & PRE & unmasked:
        flags &= PRE
    cpu.mxcsr = mx = mx | flags
    raise xm_fault(mx)


def xm_fault(mx: int) -> MachineFault:
    """The SIGFPE Linux delivers for #XM under MXCSR ``mx`` (flags already set)."""
    err = ~(mx >> 7) & mx & FLAGS
    code = "FPE_FLTRES"
    for name, bits in FPE_CODES:
        if err & bits:
            code = name
            break
    return MachineFault("floating point exception (SIMD #XM)", signal="SIGFPE", code=code)


# --------------------------------------------------------------------------- Python floats

_D = struct.Struct("<d")
_Q = struct.Struct("<Q")
_F = struct.Struct("<f")
_I = struct.Struct("<I")


def to_float(fmt: Fmt, b: int) -> float:
    """The value of the bits ``b`` as a Python float (exact for F16/F32/F64)."""
    if fmt is F64:
        return _D.unpack(_Q.pack(b))[0]
    if fmt is F32:
        return _F.unpack(_I.pack(b))[0]
    return struct.unpack("<e", b.to_bytes(2, "little"))[0]


def from_double(b64: int) -> float:
    return _D.unpack(_Q.pack(b64))[0]


def double_bits(x: float) -> int:
    return _Q.unpack(_D.pack(x))[0]


# --------------------------------------------------------------------------- min/max, compares

def minmax(fmt: Fmt, a: int, b: int, mx: int, is_max: bool):
    """MIN/MAX (SDM Vol. 2, MINPS/MAXPS): ``a < b ? a : b`` (``>`` for MAX), so the
    second operand ``b`` unchanged when either is a NaN (IE for a signalling one or, as
    for every compare, a quiet one too) or both are zeros."""
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    if mx & DAZ:            # the result is the operand as read: a denormal became a zero
        if ka == ZERO:
            a &= fmt.sign
        if kb == ZERO:
            b &= fmt.sign
    if ka >= QNAN or kb >= QNAN:
        return b, IE
    flags = DE if da or db else 0
    c = _cmp3(fmt, a, ka, b, kb)
    if is_max:
        return (a if c > 0 else b), flags
    return (a if c < 0 else b), flags


def _cmp3(fmt: Fmt, a: int, ka: int, b: int, kb: int) -> int:
    """-1, 0, 1 comparing two non-NaN values by their bits (sign-magnitude order is the
    numeric order; zeros, and denormals read as zeros under DAZ, are equal)."""
    va = 0 if ka == ZERO else (-(a & ~fmt.sign) if a & fmt.sign else a)
    vb = 0 if kb == ZERO else (-(b & ~fmt.sign) if b & fmt.sign else b)
    return (va > vb) - (va < vb)


# Predicates 0..15 (SDM Vol. 2, CMPPS Table 3-1): the relations that make them true
# (bits LT=1, EQ=2, GT=4, UNORDERED=8) and whether a QNaN signals.
LT, EQ, GT, UN = 1, 2, 4, 8
_PRED_TRUE = (EQ, LT, LT | EQ, UN, LT | GT | UN, EQ | GT | UN, GT | UN, LT | EQ | GT,
              EQ | UN, LT | UN, LT | EQ | UN, 0, LT | GT, EQ | GT, GT, LT | EQ | GT | UN)
_PRED_SIGNAL = (0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0)
PREDICATES = tuple((_PRED_TRUE[i & 15], _PRED_SIGNAL[i & 15] ^ (i >> 4)) for i in range(32))
"""imm8[4:0] -> (relations that are true, signals on QNaN)."""


def relation(fmt: Fmt, a: int, b: int, mx: int, signal_qnan: bool):
    """``(LT|EQ|GT|UN, flags)`` comparing ``a`` with ``b``: IE for a signalling NaN,
    or a quiet one when ``signal_qnan``; DE for a denormal when neither is a NaN."""
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    if ka >= QNAN or kb >= QNAN:
        if ka == SNAN or kb == SNAN or signal_qnan:
            return UN, IE
        return UN, 0
    c = _cmp3(fmt, a, ka, b, kb)
    return (LT, EQ, GT)[c + 1], DE if da or db else 0


def compare(fmt: Fmt, a: int, b: int, mx: int, imm: int):
    """CMPPS/VCMPPS predicate ``imm & 31``: ``(true?, flags)``."""
    true, sig = PREDICATES[imm & 31]
    rel, flags = relation(fmt, a, b, mx, bool(sig))
    return bool(rel & true), flags


# --------------------------------------------------------------------------- to integers

def round_to_int(k: int, s: int, m: int, e: int, rc: int):
    """``(n, inexact)``: the finite value ``(-1)**s * m * 2**e`` rounded to an integer
    by ``rc`` (RN ties to even)."""
    if e >= 0:
        n = m << e
        return (-n if s else n), False
    sh = -e
    n = m >> sh
    rem = m - (n << sh)
    if rem:
        if rc == RN:
            half = 1 << (sh - 1)
            if rem > half or (rem == half and n & 1):
                n += 1
        elif (rc == RU and not s) or (rc == RD and s):
            n += 1
    return (-n if s else n), rem != 0


def to_int(fmt: Fmt, a: int, mx: int, bits: int, signed: bool, truncate: bool):
    """CVT(T)SD2SI and friends: ``(value masked to bits, flags)``. NaN, infinity and
    out-of-range give the integer indefinite (signed: ``1 << (bits-1)``, unsigned: all
    ones) with IE; an inexact conversion sets PE. DAZ applies; DE is never set."""
    indef = 1 << (bits - 1) if signed else (1 << bits) - 1
    k, s, m, e, d = classify(fmt, a, mx)
    if k >= INF:
        return indef, IE
    if k == ZERO:
        return 0, 0
    n, inexact = round_to_int(k, s, m, e, RZ if truncate else mx >> RC_SHIFT & 3)
    if signed:
        if not -(1 << (bits - 1)) <= n < (1 << (bits - 1)):
            return indef, IE
    elif not 0 <= n < (1 << bits):
        return indef, IE
    return n & ((1 << bits) - 1), PE if inexact else 0


# --------------------------------------------------------------------------- format changes

def convert(src: Fmt, dst: Fmt, a: int, mx: int, rc: int | None = None):
    """A float of format ``src`` rounded to format ``dst`` (CVTSD2SS, CVTSS2SD, VCVTPS2PH,
    VCVTPH2PS): ``(bits, flags)``. A NaN keeps its sign and the top bits of its payload,
    quietened (IE when signalling); a denormal input sets DE."""
    k, s, m, e, d = classify(src, a, mx)
    if k >= QNAN:
        payload = a & src.frac
        sh = src.mbits - dst.mbits
        payload = payload >> sh if sh >= 0 else payload << -sh
        return ((dst.sign if s else 0) | dst.exp | dst.quiet | payload), \
            (IE if k == SNAN else 0)
    if k == INF:
        return (dst.sign if s else 0) | dst.inf, 0
    if k == ZERO:
        return zero(dst, s), 0
    r, f = round_pack(dst, s, m, e, mx, rc)
    return r, f | (DE if d else 0)


def round_integral(fmt: Fmt, a: int, mx: int, imm: int, scale: int = 0):
    """ROUNDSD/ROUNDPS and VRNDSCALE*: ``a`` rounded to a multiple of ``2**-scale`` by
    imm[1:0] (or MXCSR.RC when imm[2]); PE unless imm[3]; a signalling NaN is quietened
    with IE; DAZ applies and DE is never set (measured)."""
    k, s, m, e, d = classify(fmt, a, mx)
    if k >= QNAN:
        return a | fmt.quiet, (IE if k == SNAN else 0)
    if k == INF:
        return a, 0
    if k == ZERO:
        return zero(fmt, s), 0
    rc = mx >> RC_SHIFT & 3 if imm & 4 else imm & 3
    e2 = e + scale
    if e2 >= 0:
        return a, 0                                   # already integral
    n, inexact = round_to_int(k, 0, m, e2, rc if not s else {RD: RU, RU: RD}.get(rc, rc))
    flags = PE if inexact and not imm & 8 else 0
    if n == 0:
        return zero(fmt, s), flags
    r, f = round_pack(fmt, s, n, -scale, mx & ~FTZ, RN)
    return r, flags


# --------------------------------------------------------------------------- AVX-512 specials

def _one(fmt: Fmt) -> int:
    return fmt.bias << fmt.mbits


def getexp(fmt: Fmt, a: int, mx: int):
    """VGETEXP: ``floor(log2(|a|))`` as a float (SDM: VGETEXPPD): ±0 -> -inf, ±inf ->
    +inf, a denormal's true exponent (DE)."""
    k, s, m, e, d = classify(fmt, a, mx)
    if k >= QNAN:
        return a | fmt.quiet, (IE if k == SNAN else 0)
    if k == ZERO:
        return fmt.sign | fmt.inf, 0
    if k == INF:
        return fmt.inf, 0
    E = e + m.bit_length() - 1
    r, _ = from_int(fmt, E, mx)
    return r, DE if d else 0


def getmant(fmt: Fmt, a: int, mx: int, imm: int):
    """VGETMANT: the significand normalized to the interval imm[1:0] -- [1,2), [1/2,2)
    (by the exponent's parity), [1/2,1), [3/4,3/2) -- with sign control imm[3:2]:
    source sign, +, QNaN indefinite (IE) for a negative non-zero source, + with that
    rule (SDM: VGETMANTPD, Table 5-7). ±0 and ±inf give ±1."""
    k, s, m, e, d = classify(fmt, a, mx)
    if k >= QNAN:
        return a | fmt.quiet, (IE if k == SNAN else 0)
    sc = imm >> 2 & 3
    if sc & 2 and s and k != ZERO:
        return fmt.indefinite, IE
    sign = fmt.sign if s and not sc & 1 else 0
    flags = DE if d else 0
    if k in (ZERO, INF):
        return sign | _one(fmt), flags
    L = m.bit_length()
    E = e + L - 1
    sig = (m << (fmt.mbits + 1 - L)) & fmt.frac          # fraction of 1.sig
    interval = imm & 3
    kexp = 0
    if interval == 1:
        kexp = -1 if E & 1 else 0
    elif interval == 2:
        kexp = -1
    elif interval == 3:
        kexp = -1 if sig >> (fmt.mbits - 1) else 0
    return sign | (fmt.bias + kexp) << fmt.mbits | sig, flags


# VFIXUPIMM token classes and responses (SDM: VFIXUPIMMPD, Table 5-9 and its Operation).
_QNAN_T, _SNAN_T, _ZERO_T, _ONE_T, _NEGINF_T, _POSINF_T, _NEG_T, _POS_T = range(8)


def _fixup_constants(fmt: Fmt):
    import struct as _s

    def fbits(x):
        if fmt is F64:
            return _s.unpack("<Q", _s.pack("<d", x))[0]
        return _s.unpack("<I", _s.pack("<f", x))[0]
    return {12: fbits(90.0), 13: fbits(1.5707963267948966), 11: fbits(0.5)}


def fixupimm(fmt: Fmt, dst: int, a: int, tbl: int, mx: int, imm: int):
    """VFIXUPIMM: replace ``a`` by the response its class selects in the 32-bit table
    ``tbl`` (or keep ``dst``), raising ZE/IE as imm8 asks (SDM: VFIXUPIMMPD)."""
    k, s, m, e, d = classify(fmt, a, mx)
    if k == ZERO and (a & ~fmt.sign):
        a &= fmt.sign                                   # DAZ'd denormal
    if k == QNAN:
        j = _QNAN_T
    elif k == SNAN:
        j = _SNAN_T
    elif k == ZERO:
        j = _ZERO_T
    elif k == INF:
        j = _NEGINF_T if s else _POSINF_T
    elif a == _one(fmt):
        j = _ONE_T
    else:
        j = _NEG_T if s else _POS_T
    resp = tbl >> (4 * j) & 0xF
    sign = fmt.sign
    if resp == 0:
        r = dst
    elif resp == 1:
        r = a
    elif resp == 2:
        r = a | fmt.quiet if k >= QNAN else a | fmt.exp | fmt.quiet
    elif resp == 3:
        r = fmt.indefinite
    elif resp == 4:
        r = sign | fmt.inf
    elif resp == 5:
        r = fmt.inf
    elif resp == 6:
        r = (a & sign) | fmt.inf
    elif resp == 7:
        r = sign
    elif resp == 8:
        r = 0
    elif resp == 9:
        r = sign | _one(fmt)
    elif resp == 10:
        r = _one(fmt)
    elif resp == 14:
        r = fmt.max
    elif resp == 15:
        r = sign | fmt.max
    else:
        r = _fixup_constants(fmt)[resp]
    flags = 0
    if j == _ZERO_T:
        flags |= (ZE if imm & 1 else 0) | (IE if imm & 2 else 0)
    elif j == _ONE_T:
        flags |= (ZE if imm & 4 else 0) | (IE if imm & 8 else 0)
    elif j == _SNAN_T:
        flags |= IE if imm & 16 else 0
    elif j == _NEGINF_T:
        flags |= IE if imm & 32 else 0
    elif j == _NEG_T:
        flags |= IE if imm & 64 else 0
    elif j == _POSINF_T:
        flags |= IE if imm & 128 else 0
    return r, flags


def range_(fmt: Fmt, a: int, b: int, mx: int, imm: int):
    """VRANGE: min, max, min-magnitude or max-magnitude (imm[1:0]) of ``a`` (src1) and
    ``b`` (src2) with the sign of ``a``, of the selected value, + or - (imm[3:2]; SDM:
    VRANGEPD, Table 5-12). Measured: equal magnitudes -- min picks the negative one,
    max the positive one; a quiet NaN loses to a number; a signalling NaN is returned
    quietened (IE) as it is, two quiet ones give ``a`` with the sign control; NaNs suppress DE."""
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    flags = 0
    if ka >= QNAN or kb >= QNAN:
        if ka == SNAN:
            return a | fmt.quiet, IE            # no sign control (measured)
        elif kb == SNAN:
            return b | fmt.quiet, IE
        elif ka == QNAN and kb == QNAN:
            r = a
        else:
            r = b if ka == QNAN else a          # the number
            if r == b and kb == ZERO:
                r &= fmt.sign
            elif r == a and ka == ZERO:
                r &= fmt.sign
    else:
        if ka == ZERO:
            a &= fmt.sign
        if kb == ZERO:
            b &= fmt.sign
        flags = DE if da or db else 0
        op = imm & 3
        if op < 2:
            # signed order with -0 < +0
            va = -(a & ~fmt.sign) - 1 if a & fmt.sign else a
            vb = -(b & ~fmt.sign) - 1 if b & fmt.sign else b
            if op == 0:
                r = a if va <= vb else b
            else:
                r = a if va >= vb else b
        else:
            ma_, mb_ = a & ~fmt.sign, b & ~fmt.sign
            if ma_ == mb_:
                va = -1 if a & fmt.sign else 0
                vb = -1 if b & fmt.sign else 0
                r = (a if va <= vb else b) if op == 2 else (a if va >= vb else b)
            elif op == 2:
                r = a if ma_ < mb_ else b
            else:
                r = a if ma_ > mb_ else b
    sc = imm >> 2 & 3
    if sc == 0:
        r = (r & ~fmt.sign) | (a & fmt.sign)
    elif sc == 2:
        r &= ~fmt.sign
    elif sc == 3:
        r |= fmt.sign
    return r, flags


def reduce_(fmt: Fmt, a: int, mx: int, imm: int):
    """VREDUCE: ``a - round(a * 2**M) * 2**-M`` with M = imm[7:4], rounding by imm[1:0]
    or MXCSR.RC (imm[2]); PE when the rounding was inexact, unless imm[3] (SDM:
    VREDUCEPD)."""
    k, s, m, e, d = classify(fmt, a, mx)
    if k >= QNAN:
        return a | fmt.quiet, (IE if k == SNAN else 0)
    M = imm >> 4
    rc = mx >> RC_SHIFT & 3 if imm & 4 else imm & 3
    if k == INF:
        return 0, 0
    if k == ZERO:                       # x - x: +0, or -0 when rounding down
        return zero(fmt, 1 if rc == RD else 0), 0
    flags = 0                           # a denormal input raises no DE (measured)
    e2 = e + M
    if e2 >= 0:
        return zero(fmt, 1 if rc == RD else 0), flags
    n, inexact = round_to_int(k, 0, m, e2, rc if not s else {RD: RU, RU: RD}.get(rc, rc))
    # a - n * 2**-M, exactly, in units of 2**e; PE only when that is not representable
    v = m - (n << (-e2))
    if v == 0:
        return zero(fmt, 1 if rc == RD else 0), flags
    rs = s ^ (1 if v < 0 else 0)
    r, f = round_pack(fmt, rs, abs(v), e, mx, rc)
    if f & TINY and mx & FTZ:
        f = PE                          # flushed to zero: PE only (measured)
    return r, flags | (f & ~PE if imm & 8 else f)


def scalef(fmt: Fmt, a: int, b: int, mx: int):
    """VSCALEF: ``a * 2**floor(b)`` rounded once (SDM: VSCALEFPD, Table 5-29).
    Measured: a quiet NaN ``a`` scaled by ±inf gives +inf / +0; a denormal ``b``
    raises no DE."""
    if (a & fmt.exp) == fmt.exp and a & fmt.quiet and (b & ~fmt.sign) == fmt.inf:
        return (0 if b & fmt.sign else fmt.inf), 0
    nan = pick_nan(fmt, a, b)
    if nan is not None:
        return nan
    ka, sa, ma, ea, da = classify(fmt, a, mx)
    kb, sb, mb, eb, db = classify(fmt, b, mx)
    flags = DE if da else 0             # a denormal scale raises no DE (measured)
    if kb == INF:
        if not sb:
            if ka == ZERO:
                return fmt.indefinite, IE
            return (fmt.sign if sa else 0) | fmt.inf, flags
        if ka == INF:
            return fmt.indefinite, IE
        return zero(fmt, sa), flags
    if ka == INF:
        return a, flags
    if ka == ZERO:
        return zero(fmt, sa), flags
    if kb == ZERO:
        n = 0
    else:
        n, _ = round_to_int(kb, sb, mb, eb, RD)
    limit = 4 * (fmt.emax + fmt.mbits + 2)
    n = max(-limit, min(limit, n))
    r, f = round_pack(fmt, sa, ma, ea + n, mx)
    return r, flags | f


def fpclass(fmt: Fmt, a: int, imm: int, mx: int = DEFAULT) -> bool:
    """VFPCLASS: whether ``a`` is in one of the classes imm8 selects: QNaN, +0, -0,
    +inf, -inf, denormal, negative finite, SNaN (bits 0..7; SDM: VFPCLASSPD). Under
    MXCSR.DAZ a denormal is classified as a zero of its sign (measured)."""
    s = a & fmt.sign
    ex = a & fmt.exp
    fr = a & fmt.frac
    if ex == 0 and mx & DAZ:
        fr = 0
    if ex == fmt.exp:
        if fr:
            return bool(imm & (1 if fr & fmt.quiet else 0x80))
        return bool(imm & (0x10 if s else 0x08))
    if ex == 0 and fr == 0:
        return bool(imm & (0x04 if s else 0x02))
    if ex == 0 and imm & 0x20:
        return True
    return bool(s and imm & 0x40)

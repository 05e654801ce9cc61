"""Whole machine states for the real-CPU oracle of the SIMD families (VEX and EVEX).

A :class:`VState` is everything a VEX/EVEX instruction form can read or write in a user
process: the 16 general registers, RFLAGS (status flags and DF), the 32 vector
registers of 512 bits (V0..V31: X/Y/Z0..31), the opmask registers K0..K7, MXCSR, and the
bytes of the scratch *data window* that memory operands point into. The window sits
between two unmapped pages, so an access that runs off either end faults (masked-off
elements placed there must not).

States are generated **deterministically from a per-form key** (:func:`generate`),
using only SHAKE-256 (FIPS 202) as the source of bytes and integer arithmetic on it --
never ``random``, hypothesis or anything else whose output may change with the Python
version -- because the real CPU's answers for them are recorded once
(``tools/record_cpu_oracle.py``) and replayed on every machine. Changing what
:func:`generate` produces invalidates the recordings: bump :data:`GENERATOR` and
re-record.

What a generated state contains (per form, state ``i`` of ``n``):

* general registers: random 64-bit values, boundary values (0, -1, sign bits, 2**31 ...),
  small numbers; base and index registers of the memory operand are set so that the
  operand lands in the window (:func:`_place_memory`);
* vector registers the form names get *patterns* (:func:`_pattern`): float lanes of
  the form's element type drawn from edge values (QNaN and SNaN with payloads, both
  signs of zero and infinity, denormals, the largest and smallest normals, halfway
  cases, integer-boundary floats), integer lanes with extremes, small lane values
  (shift counts, indices, permutation selectors), sign-bit masks, all-zero/all-ones;
  the other registers hold random bits;
* opmask registers: all ones, zero, low 8/16 bits set, random;
* MXCSR: 0x1F80 in most states, otherwise any rounding mode with FTZ/DAZ and sticky
  flags set at random (exceptions stay masked);
* memory operands: 64-byte aligned, unaligned, or at an edge of the window so that part
  of the access falls on an unmapped page -- for masked forms (EVEX writemask,
  VMASKMOV, VPMASKMOV) usually with the elements beyond the edge masked off;
* VSIB (gathers, scatters): each index element points at its own address in the window,
  some at an unmapped page with their mask bit clear (and now and then set: a fault),
  sometimes several elements at one address.

:func:`delta` renders an outcome as the canonical bytes of what changed (a fault, and
the registers, flags, MXCSR and 16-byte memory chunks that differ from the input state),
:func:`digest` hashes that; the recorded data stores digests, so comparing goasm with
the recording is comparing digests. :func:`parse_delta` and :func:`describe` make
mismatches readable.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field

from goasm import ir
from goasm.arch.amd64 import GPR8, GPR8_HIGH, GPR64

GENERATOR = 2
"""Version of :func:`generate`; recordings name the version they were made with."""

M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
M512 = (1 << 512) - 1

# ---------------------------------------------------------------------------- layout
# The data window both the native harness and goasm map at the same address, with an
# unmapped page below and above it.
DATA = 0x10000000
DATA_SIZE = 0x4000
DATA_END = DATA + DATA_SIZE
PTR_LO = DATA + 0x1000          # memory operands point into [PTR_LO, PTR_LO + 0x800)
STRING_LO = DATA + 0x2000       # RSI/RDI for string instructions
STACK_TOP = DATA + 0x3800       # RSP (the stack grows down from here)
GATHER_CENTER = DATA + 0x1800   # VSIB elements point around here
MXCSR_DEFAULT = 0x1F80

CF, PF, AF, ZF, SF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800
STATUS = CF | PF | AF | ZF | SF | OF
FLAG_MASK = STATUS | DF
"""The RFLAGS bits states set and outcomes compare (IF and bit 1 are always 1 in user
mode; TF and AC stay clear)."""

GPR_INDEX = {name: i for i, name in enumerate(GPR64)}
GPR_INDEX.update({name: i for i, name in enumerate(GPR8)})
GPR_INDEX.update({name: i for i, name in enumerate(GPR8_HIGH)})
GPR_INDEX["g"] = 14
_VREG = re.compile(r"([XYZ])([0-9]|[12][0-9]|3[01])")
_VWIDTH = {"X": 16, "Y": 32, "Z": 64}


def vector_reg(name: str):
    """``(number, width in bytes)`` of X0..X31 / Y0..Y31 / Z0..Z31, else None."""
    m = _VREG.fullmatch(name or "")
    return (int(m.group(2)), _VWIDTH[m.group(1)]) if m else None


def k_reg(name: str):
    """The number of K0..K7, else None."""
    if name and len(name) == 2 and name[0] == "K" and name[1] in "01234567":
        return int(name[1])
    return None


# ---------------------------------------------------------------------------- views

@dataclass(frozen=True)
class View:
    """The part of the state a host can observe: ``nvec`` vector registers of
    ``vbytes`` bytes, and the opmask registers when ``kregs``."""

    name: str
    nvec: int
    vbytes: int
    kregs: bool

    @property
    def vmask(self) -> int:
        return (1 << (8 * self.vbytes)) - 1


VIEWS = {
    "avx512": View("avx512", 32, 64, True),
    "avx": View("avx", 16, 32, False),
    "sse": View("sse", 16, 16, False),
}
FULL = VIEWS["avx512"]


# ---------------------------------------------------------------------------- states

@dataclass
class VState:
    """A whole user-visible machine state (see the module docstring)."""

    regs: list
    vec: list
    k: list
    flags: int
    mxcsr: int
    data: bytearray

    def copy(self) -> "VState":
        return VState(list(self.regs), list(self.vec), list(self.k), self.flags, self.mxcsr,
                      bytearray(self.data))

    def read(self, addr: int, n: int) -> int:
        off = addr - DATA
        if 0 <= off <= DATA_SIZE - n:
            return int.from_bytes(self.data[off:off + n], "little")
        return 0

    def write(self, addr: int, n: int, value: int) -> None:
        """Store ``n`` bytes little-endian at ``addr`` (the part inside the window)."""
        raw = (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
        off = addr - DATA
        lo, hi = max(off, 0), min(off + n, DATA_SIZE)
        if lo < hi:
            self.data[lo:hi] = raw[lo - off:hi - off]


@dataclass(frozen=True)
class Fault:
    """How a form stopped: the signal, Linux's ``si_code`` name and ``si_addr``;
    ``addr`` is :data:`AT_PC` when it is the faulting instruction's own address (#UD,
    SIMD floating-point exceptions), which differs between the machines."""

    signal: str
    code: str
    addr: int | None

    def __str__(self) -> str:
        where = "" if self.addr is None else (
            " at the instruction" if self.addr == AT_PC else f" addr={self.addr:#x}")
        return f"{self.signal} ({self.code}){where}"


AT_PC = -1


@dataclass
class VOutcome:
    """The state after a form ran (or where it faulted: registers as the fault left
    them, e.g. a gather's partly cleared mask) and the fault, if any."""

    state: VState
    fault: Fault | None = None


# ---------------------------------------------------------------------------- delta

def delta(before: VState, after: VOutcome, view: View = FULL) -> bytes:
    """The canonical bytes of what ``after`` changed relative to ``before``, limited to
    what ``view`` observes: ``F`` fault, ``r`` general registers, ``f`` flags (status
    and DF), ``m`` MXCSR, ``k`` opmask registers, ``v`` vector registers (whole, at the
    view's width), ``d`` 16-byte chunks of the window. Equal outcomes give equal bytes."""
    out = bytearray()
    s = after.state
    if after.fault is not None:
        f = after.fault
        out += f"F{f.signal}/{f.code}/{'' if f.addr is None else f.addr};".encode()
    for i in range(16):
        if s.regs[i] != before.regs[i]:
            out += b"r" + bytes((i,)) + s.regs[i].to_bytes(8, "little")
    if (s.flags ^ before.flags) & FLAG_MASK:
        out += b"f" + (s.flags & FLAG_MASK).to_bytes(2, "little")
    if s.mxcsr != before.mxcsr:
        out += b"m" + s.mxcsr.to_bytes(4, "little")
    if view.kregs:
        for i in range(8):
            if s.k[i] != before.k[i]:
                out += b"k" + bytes((i,)) + s.k[i].to_bytes(8, "little")
    vmask, vbytes = view.vmask, view.vbytes
    for i in range(view.nvec):
        v = s.vec[i] & vmask
        if v != before.vec[i] & vmask:
            out += b"v" + bytes((i,)) + v.to_bytes(vbytes, "little")
    if s.data != before.data:
        a, b = s.data, before.data
        for blk in range(0, DATA_SIZE, 256):
            if a[blk:blk + 256] != b[blk:blk + 256]:
                for off in range(blk, blk + 256, 16):
                    if a[off:off + 16] != b[off:off + 16]:
                        out += b"d" + off.to_bytes(2, "little") + bytes(a[off:off + 16])
    return bytes(out)


def parse_delta(raw: bytes, view: View = FULL) -> dict:
    """:func:`delta` bytes back to ``{component: value}``: ``"fault"`` (text), ``"R3"``
    style names for registers (``"AX"``...), ``"V5"``, ``"K1"``, ``"RFLAGS"``,
    ``"MXCSR"``, ``("mem", address)`` for 16-byte chunks."""
    out: dict = {}
    i = 0
    while i < len(raw):
        tag = raw[i:i + 1]
        if tag == b"F":
            end = raw.index(b";", i)
            out["fault"] = raw[i + 1:end].decode()
            i = end + 1
        elif tag == b"r":
            out[GPR64[raw[i + 1]]] = int.from_bytes(raw[i + 2:i + 10], "little")
            i += 10
        elif tag == b"f":
            out["RFLAGS"] = int.from_bytes(raw[i + 1:i + 3], "little")
            i += 3
        elif tag == b"m":
            out["MXCSR"] = int.from_bytes(raw[i + 1:i + 5], "little")
            i += 5
        elif tag == b"k":
            out[f"K{raw[i + 1]}"] = int.from_bytes(raw[i + 2:i + 10], "little")
            i += 10
        elif tag == b"v":
            n = view.vbytes
            out[f"V{raw[i + 1]}"] = int.from_bytes(raw[i + 2:i + 2 + n], "little")
            i += 2 + n
        elif tag == b"d":
            off = int.from_bytes(raw[i + 1:i + 3], "little")
            out[("mem", DATA + off)] = bytes(raw[i + 3:i + 19])
            i += 19
        else:
            raise ValueError(f"bad delta tag {tag!r} at {i}")
    return out


def digest(raw: bytes) -> bytes:
    """8-byte BLAKE2b of a :func:`delta`."""
    return hashlib.blake2b(raw, digest_size=8).digest()


def _lanes(value: int, nbytes: int, lane: int) -> list:
    return [(value >> (8 * lane * j)) & ((1 << (8 * lane)) - 1) for j in range(nbytes // lane)]


def _fmt_vec(value: int, nbytes: int, lane: int) -> str:
    w = 2 * lane
    return "[" + " ".join(f"{x:0{w}x}" for x in reversed(_lanes(value, nbytes, lane))) + "]"


def compare_deltas(want: bytes, got: bytes, before: VState, *, view: View = FULL,
                   lane: int = 4, want_name: str = "cpu", got_name: str = "goasm") -> list:
    """Readable differences between two deltas of the same input state: which register,
    which ``lane``-byte lanes (highest first, the differing lanes marked), which memory
    chunk, the fault."""
    a, b = parse_delta(want, view), parse_delta(got, view)
    problems = []
    for key in sorted(set(a) | set(b), key=str):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if key == "fault":
            problems.append(f"fault: {want_name} {va or 'none'}, {got_name} {vb or 'none'}")
        elif isinstance(key, tuple):
            old = bytes(before.data[key[1] - DATA:key[1] - DATA + 16])
            problems.append(f"memory {key[1]:#x}: {want_name} {(va or old).hex()} "
                            f"{got_name} {(vb or old).hex()} (input {old.hex()})")
        elif key.startswith("V"):
            n = int(key[1:])
            old = before.vec[n] & view.vmask
            va = old if va is None else va
            vb = old if vb is None else vb
            diff = [j for j, (x, y) in enumerate(zip(_lanes(va, view.vbytes, lane),
                                                     _lanes(vb, view.vbytes, lane))) if x != y]
            problems.append(f"{key} lanes {diff} ({8 * lane}-bit, lane 0 = lowest) differ:\n"
                            f"      {want_name:6} {_fmt_vec(va, view.vbytes, lane)}\n"
                            f"      {got_name:6} {_fmt_vec(vb, view.vbytes, lane)}\n"
                            f"      input  {_fmt_vec(old, view.vbytes, lane)}")
        else:
            old = _component(before, key)
            va = old if va is None else va
            vb = old if vb is None else vb
            problems.append(f"{key}: {want_name} {va:#x} {got_name} {vb:#x} (input {old:#x})")
    return problems


def _component(s: VState, key: str) -> int:
    if key == "RFLAGS":
        return s.flags & FLAG_MASK
    if key == "MXCSR":
        return s.mxcsr
    if key.startswith("K") and key[1:].isdigit():
        return s.k[int(key[1:])]
    return s.regs[GPR64.index(key)]


# ---------------------------------------------------------------------------- bytes

class Stream:
    """A deterministic byte source: the SHAKE-256 output of ``key`` (FIPS 202), read
    front to back. Everything :func:`generate` draws comes from here."""

    __slots__ = ("_key", "_buf", "_pos")

    def __init__(self, key: bytes, size: int = 1024) -> None:
        self._key = key
        self._buf = hashlib.shake_256(key).digest(size)
        self._pos = 0

    def _grow(self, end: int) -> None:
        self._buf = hashlib.shake_256(self._key).digest(max(2 * len(self._buf), end))

    def take(self, n: int) -> bytes:
        pos = self._pos
        end = pos + n
        if end > len(self._buf):
            self._grow(end)
        self._pos = end
        return self._buf[pos:end]

    def u32(self) -> int:
        pos = self._pos
        if pos + 4 > len(self._buf):
            self._grow(pos + 4)
        self._pos = pos + 4
        return _U32_FROM(self._buf, pos)[0]

    def below(self, n: int) -> int:
        """0 <= x < n (n well below 2**32; the modulo bias is irrelevant here)."""
        pos = self._pos
        if pos + 4 > len(self._buf):
            self._grow(pos + 4)
        self._pos = pos + 4
        return _U32_FROM(self._buf, pos)[0] % n

    def pct(self, p: int) -> bool:
        """True with probability ``p`` percent."""
        return self.below(100) < p

    def bits(self, n: int) -> int:
        return int.from_bytes(self.take((n + 7) // 8), "little") & ((1 << n) - 1)

    def choice(self, seq):
        return seq[self.below(len(seq))]


_U32_FROM = struct.Struct("<I").unpack_from


# ---------------------------------------------------------------------------- values

def _f32(x: float) -> int:
    import struct

    return struct.unpack("<I", struct.pack("<f", x))[0]


def _f64(x: float) -> int:
    import struct

    return struct.unpack("<Q", struct.pack("<d", x))[0]


F32_EDGES = tuple(sorted(set(
    [_f32(v) for v in (0.0, 1.0, 0.5, 1.5, 2.5, 3.0, 0.1, 1e10, 1e-10, 2.0 ** 31, 2.0 ** 32,
                       2.0 ** 63, 2.0 ** 64, 65504.0, 2.0 ** -24, 1.0 / 3, 255.5, 32767.5,
                       float("inf"))]
    + [0x7F7FFFFF, 0x00800000, 0x00000001, 0x007FFFFF, 0x00400000, 0x4B000000, 0x4AFFFFFF]
    + [_f32(v) | 0x80000000 for v in (0.0, 1.0, 2.5, 2.0 ** 31, 2.0 ** 31 + 256, 0.5,
                                      float("inf"))]
    + [0x80000001, 0x807FFFFF, 0xFF7FFFFF]
    # QNaN default, negative, with payloads; SNaN with payloads (both signs)
    + [0x7FC00000, 0xFFC00000, 0x7FC12345, 0xFFE00001, 0x7FFFFFFF,
       0x7F800001, 0x7FA00000, 0xFF800123, 0x7FBFFFFF])))
"""Single-precision edge values (bit patterns): signed zeros and infinities, QNaN and
SNaN with payloads, denormals, the extreme normals, halfway cases, integer boundaries."""

F64_EDGES = tuple(sorted(set(
    [_f64(v) for v in (0.0, 1.0, 0.5, 1.5, 2.5, 3.0, 0.1, 1e10, 1e-300, 2.0 ** 31, 2.0 ** 32,
                       2.0 ** 63, 2.0 ** 64, 2.0 ** 31 - 0.5, 2.0 ** 52, 1.0 / 3,
                       3.4028234663852886e38, 1e-40, float("inf"))]
    + [0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0x0000000000000001, 0x000FFFFFFFFFFFFF,
       0x0008000000000000]
    + [_f64(v) | (1 << 63) for v in (0.0, 1.0, 2.5, 2.0 ** 31, 2.0 ** 63, 0.5, float("inf"),
                                     2.0 ** 31 + 1)]
    + [0x8000000000000001, 0xFFEFFFFFFFFFFFFF]
    + [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000012345, 0xFFFC000000000001,
       0x7FFFFFFFFFFFFFFF, 0x7FF0000000000001, 0x7FF4000000000000, 0xFFF0000000000123,
       0x7FF7FFFFFFFFFFFF])))
"""Double-precision edge values, as :data:`F32_EDGES`."""

F16_EDGES = (0x0000, 0x8000, 0x3C00, 0xBC00, 0x3800, 0x3E00, 0x4100, 0x7BFF, 0xFBFF, 0x0400,
             0x0001, 0x03FF, 0x8001, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7E01, 0x7C01, 0x7D00,
             0xFC01, 0x3555, 0x5BFF, 0x5C00)
"""Half-precision edge values (VCVTPH2PS): zeros, ones, extremes, denormals, infinities,
QNaN and SNaN with payloads."""


def _int_edges(nbytes: int) -> tuple:
    bits = 8 * nbytes
    m = (1 << bits) - 1
    top = 1 << (bits - 1)
    vals = {0, 1, 2, 3, 7, m, m - 1, top, top - 1, top + 1, 0x7F, 0x80, 0xFF, 0x7FFF,
            0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (m >> 1) ^ 0x55, 0x10,
            0xFF00FF00FF00FF00, 0x00FF00FF00FF00FF}
    return tuple(sorted(v & m for v in vals))


INT_EDGES = {n: _int_edges(n) for n in (1, 2, 4, 8)}


def _table(key: bytes, nbytes: int, edges: tuple, kind: str) -> tuple:
    """256 lane values: the edge values (repeated to about 40 %), plausible numbers (for
    floats: random sign and mantissa, exponent near the bias), and random bits; fixed,
    generated from ``key``."""
    s = Stream(b"goasm-vecstate-table/" + key, 4096)
    out = []
    bits = 8 * nbytes
    while len(out) < 100:
        out.extend(edges)
    out = out[:100]
    for _ in range(96):
        if kind == "f32":
            out.append(s.bits(1) << 31 | (127 - 12 + s.below(24)) << 23 | s.bits(23))
        elif kind == "f64":
            out.append(s.bits(1) << 63 | (1023 - 20 + s.below(40)) << 52 | s.bits(52))
        elif kind == "f16":
            out.append(s.bits(1) << 15 | (15 - 6 + s.below(12)) << 10 | s.bits(10))
        else:
            out.append(s.bits(s.below(bits) + 1))
    while len(out) < 256:
        out.append(s.bits(bits))
    return tuple(v.to_bytes(nbytes, "little") for v in out)


_TABLES = {
    "f32": _table(b"f32", 4, F32_EDGES, "f32"),
    "f64": _table(b"f64", 8, F64_EDGES, "f64"),
    "f16": _table(b"f16", 2, F16_EDGES, "f16"),
    "i1": _table(b"i1", 1, INT_EDGES[1], "int"),
    "i2": _table(b"i2", 2, INT_EDGES[2], "int"),
    "i4": _table(b"i4", 4, INT_EDGES[4], "int"),
    "i8": _table(b"i8", 8, INT_EDGES[8], "int"),
}
_LANE = {"f32": 4, "f64": 8, "f16": 2, "i1": 1, "i2": 2, "i4": 4, "i8": 8}

GPR_EDGES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
             0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
             0xFFFFFFFFFFFFFFFE, M64)


def _gpr(s: Stream) -> int:
    r = s.below(100)
    if r < 20:
        return s.choice(GPR_EDGES)
    if r < 32:
        return s.bits(6)
    if r < 40:
        return (-(s.below(0x200) + 1)) & M64
    if r < 55:
        return s.bits(32)
    return s.bits(64)


def _pattern(s: Stream, nbytes: int, kinds: tuple) -> int:
    """One vector value of ``nbytes`` bytes: lanes of one of ``kinds`` (preferred, see
    :func:`_kinds`) or of another shape now and then."""
    r = s.below(100)
    if r < 55:
        kind = kinds[s.below(len(kinds))]
    elif r < 65:
        kind = s.choice(("f32", "f64", "i1", "i2", "i4", "i8"))
    elif r < 75:
        return s.bits(8 * nbytes)
    elif r < 83:                                     # small lane values
        lane = s.choice((1, 2, 4, 8))
        top = s.choice((8, 16, 32, 64, 128))
        raw = s.take(nbytes // lane)
        return int.from_bytes(b"".join((x % top).to_bytes(lane, "little") for x in raw),
                              "little")
    elif r < 92:                                     # sign masks (VMASKMOV, blends)
        lane = s.choice((4, 8, 1, 2))
        signs = s.bits(nbytes // lane)
        body = s.bits(8 * nbytes) if s.pct(50) else 0
        top = 1 << (8 * lane - 1)
        m = 0
        for j in range(nbytes // lane):
            if signs >> j & 1:
                m |= top << (8 * lane * j)
        lanemask = sum((top - 1) << (8 * lane * j) for j in range(nbytes // lane))
        return m | (body & lanemask)
    else:                                            # constants and broadcasts
        c = s.below(4)
        if c == 0:
            return 0
        if c == 1:
            return (1 << (8 * nbytes)) - 1
        kind = s.choice(kinds)
        lane = _TABLES[kind][s.below(256)]
        return int.from_bytes(lane * (nbytes // len(lane)), "little")
    table = _TABLES[kind]
    lane = _LANE[kind]
    raw = s.take(nbytes // lane)
    return int.from_bytes(b"".join([table[x] for x in raw]), "little")


def _kinds(op: str) -> tuple:
    """Lane shapes a mnemonic most likely reads (by its suffix)."""
    if "PH" in op:
        return ("f16", "f32")
    if op.endswith(("PS", "SS")) or "PS2" in op or "SS2" in op or "PSX" in op:
        return ("f32", "f32", "i4")
    if op.endswith(("PD", "SD")) or "PD2" in op or "SD2" in op or "PDX" in op:
        return ("f64", "f64", "i8")
    if "2PS" in op or "2SS" in op:
        return ("i4", "i8", "f64", "f32")
    if "2PD" in op or "2SD" in op:
        return ("i4", "i8", "f32")
    last = op[-1:]
    lane = {"B": "i1", "W": "i2", "D": "i4", "Q": "i8"}.get(last)
    if lane is not None:
        return (lane, lane, "i1")
    return ("i1", "i2", "i4", "i8")


def element_size(op: str) -> int:
    """The element size that masks (EVEX writemask, VMASKMOV) apply to, by suffix."""
    m = re.search(r"(8|16|32|64)$", op)
    if op.startswith(("VMOVDQU", "VMOVDQA")) and m:
        return int(m.group(1)) // 8
    m = re.search(r"(32|64)X(2|4|8)$", op)
    if m:
        return int(m.group(1)) // 8
    if op.endswith(("PS", "SS")):
        return 4
    if op.endswith(("PD", "SD")):
        return 8
    return {"B": 1, "W": 2, "D": 4, "Q": 8}.get(op[-1:], 4)


# ---------------------------------------------------------------------------- plans

@dataclass
class Plan:
    """What :func:`generate` needs to know about one form, derived once from its linked
    instruction: the registers it names, its memory operand, its masks."""

    op: str
    gprs: tuple = ()
    vecs: tuple = ()                 # (number, width) of the vector registers it names
    kregs: tuple = ()
    mem: object = None               # ir.Mem (plain memory operand)
    vsib: object = None              # ir.Mem whose index is a vector register
    writemask: int | None = None     # K register masking the operation (EVEX)
    vmask: int | None = None         # vector register holding a VEX mask (VMASKMOV, gathers)
    esize: int = 4
    kinds: tuple = ("i4",)
    gather: tuple | None = None      # (index size, data size, elements)
    implicit_di: bool = False        # VMASKMOVDQU stores through DI
    explicit_lengths: bool = False   # VPCMPESTRI/M read lengths from AX and DX
    loads_mxcsr: bool = False        # (V)LDMXCSR
    extra: dict = field(default_factory=dict)


def plan(op: str, args) -> Plan:
    """The :class:`Plan` of a form (``op`` without suffixes, its ir operands)."""
    p = Plan(op=op, esize=element_size(op), kinds=_kinds(op))
    gprs, vecs, kregs = [], [], []
    for a in args:
        if isinstance(a, ir.Reg):
            if a.name in GPR_INDEX:
                gprs.append(GPR_INDEX[a.name])
            elif vector_reg(a.name):
                vecs.append(vector_reg(a.name))
            elif k_reg(a.name) is not None:
                kregs.append(k_reg(a.name))
        elif isinstance(a, ir.Mem) and a.kind is ir.NameKind.NONE:
            if vector_reg(a.index):
                p.vsib = a
                vecs.append(vector_reg(a.index))
            else:
                p.mem = a
            for r in (a.base, a.index):
                if r in GPR_INDEX:
                    gprs.append(GPR_INDEX[r])
    p.gprs, p.vecs, p.kregs = tuple(gprs), tuple(vecs), tuple(kregs)
    if not op.startswith("K") and len(args) >= 3 and isinstance(args[-2], ir.Reg) \
            and k_reg(args[-2].name) is not None:
        p.writemask = k_reg(args[-2].name)
    if op in ("VMASKMOVPS", "VMASKMOVPD", "VPMASKMOVD", "VPMASKMOVQ") and len(args) == 3:
        p.vmask = vector_reg(args[1].name)[0] if isinstance(args[1], ir.Reg) else None
    if p.vsib is not None:
        m = re.search(r"(GATHER|SCATTER)(D|Q)", op)
        if m:
            isize = 4 if m.group(2) == "D" else 8
            dsize = 4 if op.endswith(("PS", "D")) else 8
            data = args[0] if m.group(1) == "SCATTER" else args[-1]
            dw = vector_reg(data.name)[1] if isinstance(data, ir.Reg) and vector_reg(data.name) \
                else 16
            iw = vector_reg(p.vsib.index)[1]
            p.gather = (isize, dsize, min(iw // isize, dw // dsize))
            p.esize = dsize
            if p.writemask is None and isinstance(args[0], ir.Reg) and vector_reg(args[0].name):
                p.vmask = vector_reg(args[0].name)[0]       # VEX gathers: mask first
    p.implicit_di = op == "VMASKMOVDQU"
    p.explicit_lengths = op in ("VPCMPESTRI", "VPCMPESTRM")
    p.loads_mxcsr = op in ("VLDMXCSR", "LDMXCSR")
    return p


# ---------------------------------------------------------------------------- generate

def form_key(source: str, line: int, text: str) -> bytes:
    """The per-form seed: where the form comes from and its text."""
    return f"goasm-vecstate/{GENERATOR}/{source}:{line}:{text}".encode()


class FormStates:
    """The states of one form: ``states(n)`` (deterministic, see the module docstring).
    The random bulk (unused registers, the window's bytes) is drawn once per form; every
    state draws its own values for everything the form names."""

    def __init__(self, key: bytes, p: Plan) -> None:
        self.key = key
        self.plan = p
        bulk = hashlib.shake_256(key + b"/bulk").digest(DATA_SIZE + 32 * 64)
        self.data = bulk[:DATA_SIZE]
        self.vec = [int.from_bytes(bulk[DATA_SIZE + 64 * i:DATA_SIZE + 64 * i + 64], "little")
                    for i in range(32)]

    def state(self, i: int) -> VState:
        return generate(self, i)

    def states(self, n: int) -> list:
        return [generate(self, i) for i in range(n)]


def generate(fs: FormStates, i: int) -> VState:
    """State ``i`` of a form (see the module docstring for what it contains)."""
    p = fs.plan
    s = Stream(fs.key + b"/%d" % i)
    regs = [_gpr(s) for _ in range(16)]
    regs[4] = STACK_TOP
    vec = list(fs.vec)
    for n, width in p.vecs:
        vec[n] = _pattern(s, 64, p.kinds) if s.pct(70) else \
            _pattern(s, width, p.kinds) | (s.bits(512) >> (8 * width) << (8 * width))
    if p.vmask is not None:             # VMASKMOV / VEX gather masks: all, none, some
        r = s.below(100)
        if r < 20:
            vec[p.vmask] = M512
        elif r < 30:
            vec[p.vmask] = 0
    k = [_kvalue(s) for _ in range(8)]
    flags = s.bits(12) & STATUS | (DF if s.pct(20) else 0)
    mxcsr = MXCSR_DEFAULT
    if i % 4 == 3 or s.pct(10):
        mxcsr = MXCSR_DEFAULT | s.below(4) << 13 | (0x8000 if s.pct(50) else 0) \
            | (0x40 if s.pct(50) else 0) | (s.bits(6) if s.pct(50) else 0)
    st = VState(regs, vec, k, flags, mxcsr, bytearray(fs.data))
    if p.mem is not None:
        _place_memory(s, p, st)
    if p.vsib is not None and p.gather is not None:
        _place_vsib(s, p, st)
    if p.implicit_di:
        st.regs[7] = PTR_LO + 16 * s.below(64) + (s.below(16) if s.pct(30) else 0)
    if p.explicit_lengths:
        for r in (0, 2):
            if s.pct(85):
                st.regs[r] = (st.regs[r] & ~0xFFFFFFFF | (s.below(41) - 20) & 0xFFFFFFFF) & M64
    return st


def _kvalue(s: Stream) -> int:
    r = s.below(100)
    if r < 25:
        return M64
    if r < 35:
        return 0
    if r < 45:
        return s.choice((0xFF, 0xFFFF, 0xFFFFFFFF, 0x5555, 0xAAAAAAAAAAAAAAAA, 1, 0x8000))
    return s.bits(64)


def _set_address(p_mem: ir.Mem, st: VState, target: int, s: Stream) -> int:
    """Set the operand's base/index registers so that it addresses ``target`` (or
    within a few bytes below it when one register is both base and index); returns the
    address."""
    disp = p_mem.offset
    base = GPR_INDEX.get(p_mem.base) if p_mem.base else None
    index = GPR_INDEX.get(p_mem.index) if p_mem.index else None
    scale = p_mem.scale or 1
    if base is not None and index is not None and base == index:
        r = (target - disp) // (1 + scale)
        st.regs[base] = r & M64
        return r * (1 + scale) + disp
    if index is not None:
        iv = s.below(8) if s.pct(75) else 0
        if base is None:
            iv = (target - disp) // scale
            st.regs[index] = iv & M64
            return iv * scale + disp
        st.regs[index] = iv
        st.regs[base] = (target - disp - iv * scale) & M64
        return target
    if base is not None:
        st.regs[base] = (target - disp) & M64
    return target


def _place_memory(s: Stream, p: Plan, st: VState) -> None:
    """Point the memory operand into the window: aligned, unaligned, or over an edge;
    write a pattern there; for masked forms, mask off what lies beyond the edge."""
    masked = p.writemask is not None or p.vmask is not None
    r = s.below(100)
    edge = 35 if masked else 12
    if r < edge:
        if s.pct(70):            # the access runs off the top of the window
            target = DATA_END - (s.below(128) + 1)
        else:                    # ... or starts below its bottom
            target = DATA - (s.below(64) + 1)
    elif r < edge + 15:
        target = PTR_LO + 64 * s.below(24) + s.below(63) + 1
    else:
        target = PTR_LO + 64 * s.below(24)
    addr = _set_address(p.mem, st, target, s)
    if p.loads_mxcsr and s.pct(85):
        value = MXCSR_DEFAULT | s.below(4) << 13 | (0x8000 if s.pct(30) else 0) \
            | (0x40 if s.pct(30) else 0) | s.bits(6)
        if s.pct(15):
            value &= ~(s.bits(6) << 7)       # unmask some exceptions
        st.write(addr, 4, value)
    else:
        st.write(addr, 128, _pattern(s, 64, p.kinds) | _pattern(s, 64, p.kinds) << 512)
    if masked and (addr >= DATA_END - 128 or addr < DATA) and s.pct(75):
        # Elements past the edge masked off: the ones below the top edge / above the
        # bottom edge stay active (all, or a random part of them).
        esize = p.esize
        n = 64 // esize
        if addr >= DATA:
            inside = max(0, (DATA_END - addr) // esize)
            active = [j < inside for j in range(n)]
        else:
            outside = -((addr - DATA) // esize)
            active = [j >= outside for j in range(n)]
        if s.pct(40):
            active = [a and s.pct(60) for a in active]
        _set_mask(p, st, active)


def _set_mask(p: Plan, st: VState, active: list) -> None:
    if p.writemask is not None:
        kv = st.k[p.writemask] & ~((1 << len(active)) - 1)
        for j, a in enumerate(active):
            kv |= int(a) << j
        st.k[p.writemask] = kv
    elif p.vmask is not None:
        esize = p.esize
        v = st.vec[p.vmask]
        top = 1 << (8 * esize - 1)
        for j, a in enumerate(active[:64 // esize]):
            bit = top << (8 * esize * j)
            v = v | bit if a else v & ~bit
        st.vec[p.vmask] = v & M512


def _place_vsib(s: Stream, p: Plan, st: VState) -> None:
    """Gathers and scatters: one address per element (see the module docstring)."""
    m = p.vsib
    isize, dsize, n = p.gather
    scale = m.scale or 1
    disp = m.offset
    base = GPR_INDEX.get(m.base) if m.base else None
    center = GATHER_CENTER + dsize * s.below(16)
    if base is not None:
        st.regs[base] = (center - disp) & M64
        origin = center
    else:
        origin = disp
    edge_state = s.pct(30)
    fault_state = edge_state and s.pct(20)
    few = [dsize * (s.below(0x200) - 0x100) for _ in range(3)] if s.pct(15) else None
    addrs, active = [], []
    for j in range(n):
        if edge_state and s.pct(35):
            off = (DATA_END + s.below(0x400) if s.pct(70) else DATA - 0x40 - s.below(0x400)) \
                - center
            on = False
        else:
            off = s.choice(few) if few is not None else dsize * (s.below(0x200) - 0x100)
            if few is None and s.pct(15):
                off += s.below(dsize)
            on = s.pct(75)
        iv = (center + off - origin) // scale
        addrs.append((iv, origin + iv * scale))
        active.append(on)
    outside = [j for j, (_, a) in enumerate(addrs) if a < DATA or a + dsize > DATA_END]
    if fault_state and outside:
        active[s.choice(outside)] = True
    if s.pct(30) and not edge_state:
        active = [True] * n
    idx_reg = vector_reg(m.index)[0]
    v = st.vec[idx_reg]
    imask = (1 << (8 * isize)) - 1
    table = _TABLES[p.kinds[0]]
    for j, (iv, addr) in enumerate(addrs):
        v = v & ~(imask << (8 * isize * j)) | (iv & imask) << (8 * isize * j)
        st.write(addr, dsize, int.from_bytes(table[s.below(256)] * 8, "little"))
    st.vec[idx_reg] = v & M512
    _set_mask(p, st, active)

"""The vector framework shared by every VEX and EVEX handler (AVX, AVX2, FMA, F16C,
AVX-512); this module registers no handlers itself, except the moves and bitwise and
add/subtract families that show how it is used (:mod:`goasm.machine.ops.vmov`).

Register file (:class:`goasm.machine.state.CPU`): vector register Vi is
``xmm[i] | vhi[i] << 128`` (512 bits); legacy SSE handlers use ``xmm`` alone and leave
``vhi`` as it is, VEX and EVEX writes zero every bit above the operation width
(SDM Vol. 1, 14.1.3 and 15.5; Vol. 2, 2.3.10 "AVX Instructions and the Upper 128-bits
of YMM registers" and 2.7.1 for EVEX). Opmask registers are ``kreg[0..7]``.

Go's operand order (https://go.dev/doc/asm, "AVX-512"; ``cmd/asm`` testdata
``amd64enc.s``/``avx512enc/*.s``) is Intel's reversed, with the opmask written just
before the destination::

    Intel:  VPADDD zmm1 {k1}{z}, zmm2, zmm3/m512/m32bcst
    Go:     VPADDD.Z Z3, Z2, K1, Z1          (VPADDD.BCST.Z (AX), Z2, K1, Z1)

    Intel:  VPSHUFD zmm1 {k1}, zmm2/m512, imm8
    Go:     VPSHUFD $imm, Z2, K1, Z1

:func:`parse` turns the operand list into a :class:`VOp`: ``imm``, the sources in
*Intel* order (``srcs[0]`` is the VEX.vvvv/first source, the r/m operand comes after
it), the opmask register number ``k`` (0: no masking -- K0 cannot be a writemask,
SDM Vol. 2, 2.6.4), zeroing (``.Z``), embedded broadcast (``.BCST``) and the rounding
override or SAE (``.RN_SAE`` ... ``.SAE``, SDM Vol. 2, 2.7.5 and 2.7.6), and the
operation width ``width`` (16, 32 or 64 bytes: the widest vector register named).

Emission, through the :class:`goasm.machine.ops.base.Emitter`:

* :func:`read` -- an expression for a source at the operation width: a register
  (``xmm[n]``, ``xmm[n] | (vhi[n] & M128) << 128`` for 256 bits ...), memory
  (``rdv(ea, width)``; with a writemask, masked-off elements never fault: SDM Vol. 2,
  2.8 "memory fault suppression"), or an embedded broadcast (one element read and
  replicated with a multiplication).
* :func:`write` -- store a result computed at the operation width: VEX/EVEX zeroing
  above the width, EVEX merge or zero masking per element, masked stores that never
  touch masked-off elements, and results to opmask registers (comparisons).
* lane helpers (:func:`split`, :func:`join`, :func:`repeat`, :func:`lane_mask`,
  :func:`add_lanes`, :func:`sub_lanes`) that work on whole Python ints: SWAR formulas
  where the semantics allow (DESIGN.md, "Performance design": no element loops where a
  few big-int operations do the job), ``struct`` unpacking elsewhere.

Handlers register with :func:`vhandles` instead of :func:`~goasm.machine.ops.base.handles`
so that instructions with Go's EVEX suffixes reach them (other handlers never see
suffixes: :meth:`goasm.machine.semantics.Compiler.generate`).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from types import MappingProxyType

import attrs

from goasm.machine.ops.base import BITS, BadForm, MachineFault, fault_factory

M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
WIDTHS = (16, 32, 64)
FULL = MappingProxyType({w: (1 << (8 * w)) - 1 for w in (1, 2, 4, 8, 16, 32, 64)})
ROUNDING = MappingProxyType({"RN_SAE": "RN", "RD_SAE": "RD", "RU_SAE": "RU", "RZ_SAE": "RZ"})
"""EVEX embedded rounding suffixes -> the rounding mode they force (SDM Vol. 2, 2.7.5)."""

GP_FAULT = fault_factory("general protection fault (misaligned vector operand)",
                         "SIGSEGV", code="SI_KERNEL", addr=0)
"""#GP for an aligned vector move (VMOVDQA, VMOVAPS, ...) on an address not aligned to
its width; Linux delivers SIGSEGV with si_code SI_KERNEL (SDM Vol. 2, 2.5 exception
type 1)."""


def vhandles(*specs):
    """:func:`goasm.machine.ops.base.handles` for vector handlers: they also receive
    instructions with EVEX suffixes (``.Z``, ``.BCST``, ``.RN_SAE`` ...), which
    :func:`parse` validates."""
    def deco(fn):
        fn.goasm_handles = tuple(specs)
        fn.goasm_suffixes = True
        return fn
    return deco


# --------------------------------------------------------------------------- operands

@attrs.frozen
class VOp:
    """One vector instruction's operands in their roles (see the module docstring)."""

    dst: object
    srcs: tuple
    imm: int | None
    k: int
    zeroing: bool
    bcst: bool
    rounding: str | None        # "RN" "RD" "RU" "RZ" forced by an EVEX suffix, else None
    sae: bool                   # exceptions suppressed ({sae} or any rounding override)
    width: int                  # operation width in bytes
    evex: bool                  # uses an EVEX-only feature (Z/K/X16+/suffix/mask)


def parse(args, ins, *, nsrc: int, imm: bool = False, width: int | None = None,
          masking: bool = True, bcst: bool = True, rounding: bool = False) -> VOp:
    """Split Go operands ``[$imm,] src_n..src_1, [K,] dst`` into a :class:`VOp`.

    ``nsrc`` counts the sources written (not the destination, even when it is also
    read, as for FMA); ``width`` forces the operation width (else: the widest vector
    register among the operands, 16 when there is none); ``masking``/``bcst``/
    ``rounding`` say which EVEX features the instruction accepts.
    """
    args = list(args)
    suffixes = tuple(getattr(ins, "suffixes", ()))
    value = None
    if imm:
        if not args or args[0].kind != "imm":
            raise BadForm("expected an immediate first")
        value = args.pop(0).value & 0xFF
    if len(args) == nsrc + 2:
        if args[-2].kind != "kreg":
            raise BadForm("expected an opmask register before the destination")
        k = args.pop(-2).index
        if k == 0:
            raise BadForm("K0 cannot be a writemask")
        if not masking:
            raise BadForm("this instruction takes no writemask")
    elif len(args) == nsrc + 1:
        k = 0
    else:
        raise BadForm(f"expected {nsrc + 1} operands (plus an optional opmask), "
                      f"got {len(args)}")
    dst = args[-1]
    srcs = tuple(reversed(args[:-1]))
    zeroing = "Z" in suffixes
    broadcast = "BCST" in suffixes
    mode = None
    sae = False
    for s in suffixes:
        if s in ("Z", "BCST"):
            continue
        if s == "SAE" or s in ROUNDING:
            if not rounding:
                raise BadForm(f"suffix .{s} not accepted")
            mode = ROUNDING.get(s)
            sae = True
            continue
        raise BadForm(f"unknown suffix .{s}")
    if zeroing and (not masking or k == 0 and dst.kind != "xmm"):
        raise BadForm(".Z needs a vector destination")
    if broadcast and (not bcst or not any(s.kind == "mem" for s in srcs)):
        raise BadForm(".BCST needs a memory source")
    if width is None:
        width = max([a.vw for a in (dst, *srcs) if a.kind == "xmm"], default=16)
    evex = bool(k or suffixes or width == 64 or any(
        a.kind == "xmm" and a.index >= 16 or a.kind == "kreg" for a in (dst, *srcs)))
    return VOp(dst, srcs, value, k, zeroing, broadcast, mode, sae, width, evex)


def need_vec(op, what: str = "destination") -> None:
    if op.kind != "xmm":
        raise BadForm(f"{what} must be a vector register")


def need_vec_or_mem(op, what: str = "source") -> None:
    if op.kind not in ("xmm", "mem"):
        raise BadForm(f"{what} must be a vector register or memory")


# --------------------------------------------------------------------------- lanes

_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


@lru_cache(maxsize=None)
def _struct(ew: int, width: int, signed: bool) -> struct.Struct:
    c = _FMT[ew]
    return struct.Struct(f"<{width // ew}{c.lower() if signed else c}")


def split(value: int, ew: int, width: int, signed: bool = False) -> tuple:
    """The lanes (``ew`` bytes each, lane 0 first) of a ``width``-byte value."""
    return _struct(ew, width, signed).unpack(value.to_bytes(width, "little"))


def join(lanes, ew: int, width: int) -> int:
    """The ``width``-byte value holding ``lanes`` (lane 0 first), each masked to ``ew``."""
    m = FULL[ew]
    return int.from_bytes(_struct(ew, width, False).pack(*[x & m for x in lanes]), "little")


@lru_cache(maxsize=None)
def repeat(ew: int, width: int) -> int:
    """1 in the lowest bit of every ``ew``-byte lane: ``x * repeat(ew, width)`` broadcasts
    an element ``x`` to every lane."""
    out = 0
    for i in range(width // ew):
        out |= 1 << (8 * ew * i)
    return out


@lru_cache(maxsize=None)
def high_bits(ew: int, width: int) -> int:
    """The top bit of every ``ew``-byte lane."""
    return repeat(ew, width) << (8 * ew - 1)


def add_lanes(a: int, b: int, ew: int, width: int) -> int:
    """Lane-wise ``a + b`` modulo 2**(8*ew), on whole ints (SWAR: the top bit of each
    lane is added without carry-out, so no carry crosses into the next lane)."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h
    return ((a & low) + (b & low)) ^ ((a ^ b) & h)


def sub_lanes(a: int, b: int, ew: int, width: int) -> int:
    """Lane-wise ``a - b`` modulo 2**(8*ew) (SWAR: every lane borrows from its own top
    bit, set beforehand, never from the next lane)."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h
    return ((a | h) - (b & low)) ^ ((a ^ ~b) & h)


def lanes_text(ew: int, width: int, sub: bool):
    """:func:`add_lanes` (or :func:`sub_lanes`) as the text translated code runs in place
    of a call (:func:`goasm.machine.ops.lanes.inline`): the same formula, its masks as
    the translator's constants."""
    h = high_bits(ew, width)
    low = FULL[width] ^ h
    if sub:
        return (lambda e, a, b: f"(({a} | {e.const(h)}) - ({b} & {e.const(low)})) ^ "
                                f"(({a} ^ ~{b}) & {e.const(h)})")
    return (lambda e, a, b: f"(({a} & {e.const(low)}) + ({b} & {e.const(low)})) ^ "
                            f"(({a} ^ {b}) & {e.const(h)})")


class _Expander:
    """``mask bits -> bit mask`` of the selected lanes, memoised per (lane width, vector
    width): the same writemask values recur, so this is one dict lookup at run time."""

    __slots__ = ("ew", "width", "cache")

    def __init__(self, ew: int, width: int) -> None:
        self.ew, self.width, self.cache = ew, width, {}

    def __call__(self, mask: int) -> int:
        out = self.cache.get(mask)
        if out is None:
            lane = FULL[self.ew]
            out = 0
            for i in range(self.width // self.ew):
                if mask >> i & 1:
                    out |= lane << (8 * self.ew * i)
            if len(self.cache) < 4096:
                self.cache[mask] = out
        return out


@lru_cache(maxsize=None)
def expander(ew: int, width: int) -> _Expander:
    """The shared :class:`_Expander` for ``ew``-byte lanes of a ``width``-byte vector."""
    return _Expander(ew, width)


def lane_mask(ew: int, width: int) -> int:
    """The opmask bits that govern a ``width``-byte vector of ``ew``-byte lanes."""
    return (1 << (width // ew)) - 1


# --------------------------------------------------------------------------- memory

def _masked_reader(mem, ew: int, width: int):
    """``read(addr, mask)``: the ``width`` bytes at ``addr`` with the lanes whose mask
    bit is clear read as 0 and never accessed (SDM Vol. 2, 2.8: faults on masked-off
    elements are suppressed). Tries one access first; only when it faults are the
    selected elements read one by one, so the first selected element that faults is the
    one reported."""
    expand = expander(ew, width)
    lanes = width // ew

    def read(addr: int, mask: int) -> int:
        if mask == 0:
            return 0
        try:
            return mem.read_int(addr, width) & expand(mask)
        except MachineFault:
            pass
        out = 0
        for i in range(lanes):
            if mask >> i & 1:
                out |= mem.read_int((addr + ew * i) & M64, ew) << (8 * ew * i)
        return out
    return read


def _chunk_reader(mem, chunk: int, ew: int, width: int):
    """``read(addr, mask)``: the ``chunk`` bytes at ``addr`` that a writemasked broadcast
    repeats over ``width`` bytes of ``ew``-byte elements (VBROADCASTF32X4 ..., and
    ``.BCST`` with ``chunk == ew``). Element j of the chunk is accessed only when some
    selected result element is a copy of it, so masked-off copies never fault (measured
    on an AMD EPYC, Zen 4: a 16-byte VBROADCASTF32X4 whose mask selects only copies of
    elements 2 and 3 faults at chunk+8)."""
    per = chunk // ew
    copies = width // ew
    lane = FULL[ew]

    def need(mask: int) -> int:
        out = 0
        for i in range(copies):
            if mask >> i & 1:
                out |= 1 << (i % per)
        return out

    def read(addr: int, mask: int) -> int:
        wanted = need(mask)
        if wanted == (1 << per) - 1:
            return mem.read_int(addr, chunk)
        if wanted == 0:
            return 0
        try:
            return mem.read_int(addr, chunk)
        except MachineFault:
            pass
        out = 0
        for j in range(per):
            if wanted >> j & 1:
                out |= (mem.read_int((addr + ew * j) & M64, ew) & lane) << (8 * ew * j)
        return out
    return read


def read_chunk(e, v: VOp, op, chunk: int, ew: int) -> str:
    """An expression for the ``chunk`` bytes a broadcast repeats (a register's low bytes,
    or memory read with :func:`_chunk_reader`'s fault suppression when masked)."""
    if op.kind == "mem":
        if v.k:
            fn = e.const(_chunk_reader(e.machine.mem, chunk, ew, v.width))
            return f"{fn}({e.ea(op)}, {mask_expr(e, v, ew)})"
        if chunk <= 8:
            return e.read(op, chunk)
        return f"rd128({e.ea(op)})" if chunk == 16 else f"rdv({e.ea(op)}, {chunk})"
    if op.kind == "xmm":
        return f"({vreg_expr(e, op.index, max(chunk, 16))} & {e.const(FULL[chunk])})"
    if op.kind == "gpr" and chunk <= 8:
        return e.read(op, chunk)
    raise BadForm(f"operand {op.text} cannot be broadcast")


def _masked_writer(mem, ew: int, width: int):
    """``write(addr, value, mask)``: store the lanes of ``value`` whose mask bit is set,
    in element order; masked-off elements are neither written nor checked (SDM Vol. 2,
    VMOVDQU32 ... "Memory Fault Suppression")."""
    lanes = width // ew
    lane = FULL[ew]
    expand = expander(ew, width)

    def write(addr: int, value: int, mask: int) -> None:
        if mask == 0:
            return
        if mask == (1 << lanes) - 1:
            mem.write_int(addr, width, value)
            return
        # All-or-nothing like the hardware: check every selected element first, then
        # write, so a fault leaves memory untouched.
        for i in range(lanes):
            if mask >> i & 1:
                mem.check(addr + ew * i, ew, write=True)
        try:
            old = mem.read_int(addr, width)
        except MachineFault:
            for i in range(lanes):
                if mask >> i & 1:
                    mem.write_int((addr + ew * i) & M64, ew, value >> (8 * ew * i) & lane)
            return
        sel = expand(mask)
        mem.write_int(addr, width, (value & sel) | (old & ~sel))
    return write


# --------------------------------------------------------------------------- emission

def vreg_expr(e, index: int, width: int) -> str:
    """An expression for the low ``width`` bytes of vector register ``index``."""
    x = f"xmm[{e.const(index)}]"
    if width == 16:
        return x
    h = f"vhi[{e.const(index)}]"
    if width == 32:
        return f"({x} | ({h} & {e.const(M128)}) << 128)"
    return f"({x} | {h} << 128)"


def mask_expr(e, v: VOp, ew: int) -> str:
    """An expression for the writemask bits governing ``v``'s lanes (all ones when
    unmasked)."""
    lanes = lane_mask(ew, v.width)
    if v.k == 0:
        return e.const(lanes)
    return f"(kreg[{e.const(v.k)}] & {e.const(lanes)})"


def read(e, v: VOp, op, ew: int, *, width: int | None = None, elementwise: bool = True) -> str:
    """An expression for source ``op`` of ``v`` at ``width`` (default: the operation
    width), with ``ew``-byte elements for broadcast and fault suppression.

    ``elementwise``: element i of this source feeds only element i of the result, so
    with a writemask the masked-off elements of a memory source are never read (SDM
    Vol. 2, 2.8, exception classes E1-E4); shuffles and permutes pass False (classes
    "NF": no fault suppression, the whole operand is read)."""
    width = v.width if width is None else width
    if op.kind == "xmm":
        return vreg_expr(e, op.index, width)
    if op.kind == "mem":
        ea = e.ea(op)
        if v.bcst:
            return f"{read_chunk(e, v, op, ew, ew)} * {e.const(repeat(ew, width))}"
        if v.k and width == v.width and elementwise:
            fn = e.const(_masked_reader(e.machine.mem, ew, width))
            return f"{fn}({ea}, {mask_expr(e, v, ew)})"
        if width <= 8:
            return e.read(op, width)
        if width == 16:
            return f"rd128({ea})"
        return f"rdv({ea}, {width})"
    if op.kind == "imm":
        return e.const(op.value & FULL[min(width, 8)])
    raise BadForm(f"operand {op.text} cannot be a vector source")


def write(e, v: VOp, value: str, ew: int, *, lanes: int | None = None,
          old: str | None = None, suppress: bool = True) -> None:
    """Store ``value`` (a ``v.width``-byte result, already masked to that width) into
    ``v.dst``.

    A vector register gets the result with everything above ``v.width`` zeroed; with a
    writemask, element i (``ew`` bytes) takes the result when mask bit i is set, else
    keeps its old value (merge masking) or becomes 0 (``.Z``). ``lanes`` limits masking
    to the first ``lanes`` elements (scalar instructions: 1); the rest always take the
    result. ``old`` overrides the merge source (default: the destination's old value).
    A memory destination stores only the selected elements; an opmask destination
    (comparisons) gets the result bits ANDed with the writemask. ``suppress=False``: the
    instruction has no memory fault suppression (the extracts: measured on an AMD EPYC,
    Zen 4, a masked VEXTRACTF32X4 store faults on its first byte whatever the mask), so
    the whole destination is checked before the selected elements are written.
    """
    dst, width = v.dst, v.width
    if dst.kind == "kreg":
        if v.k:
            value = f"({value}) & kreg[{e.const(v.k)}]"
        e.emit(f"kreg[{e.const(dst.index)}] = {value}")
        return
    if v.k:
        n = width // ew if lanes is None else lanes
        sel_mask = f"(kreg[{e.const(v.k)}] & {e.const((1 << n) - 1)})"
        if dst.kind == "mem":
            if lanes is not None and lanes * ew != width:
                raise BadForm("masked partial store")
            if not suppress:
                e.emit(f"mem.check({e.ea(dst)}, {width}, write=True)")
            fn = e.const(_masked_writer(e.machine.mem, ew, width))
            e.emit(f"{fn}({e.ea(dst)}, {value}, {sel_mask})")
            return
        keep = FULL[width] ^ FULL[n * ew] if n * ew < width else 0
        e.emit(f"r = {value}")
        e.emit(f"sel = {e.const(expander(ew, n * ew))}({sel_mask})"
               + (f" | {e.const(keep)}" if keep else ""))
        if v.zeroing:
            value = "r & sel"
        else:
            prev = old if old is not None else vreg_expr(e, dst.index, width)
            value = f"r & sel | {prev} & ~sel & {e.const(FULL[width])}"
    store(e, dst, width, value)


def store(e, dst, width: int, value: str) -> None:
    """Write ``value`` (``width`` bytes) to a vector register, zeroing every bit above
    ``width`` (VEX/EVEX), or to memory."""
    if dst.kind == "xmm":
        i = e.const(dst.index)
        if width == 16:
            e.emit(f"xmm[{i}] = {value}", f"vhi[{i}] = 0")
        else:
            e.emit(f"r = {value}", f"xmm[{i}] = r & {e.const(M128)}", f"vhi[{i}] = r >> 128")
        return
    if dst.kind == "mem":
        ea = e.ea(dst)
        if width <= 8:
            e.emit(f"wr{BITS[width]}({ea}, {value})")
        elif width == 16:
            e.emit(f"wr128({ea}, {value})")
        else:
            e.emit(f"wrv({ea}, {width}, {value})")
        return
    raise BadForm(f"operand {dst.text} cannot be a vector destination")


def aligned(e, op, width: int, v: VOp | None = None, ew: int = 1) -> None:
    """#GP unless the memory operand ``op`` is aligned to ``width`` bytes (the aligned
    moves VMOVDQA, VMOVAPS, VMOVNTDQ ...). With a writemask (``v``), AMD processors skip
    the check when no element is selected (measured on an AMD EPYC, Zen 4: a misaligned
    VMOVAPD store with K1 selecting nothing does not fault, one selecting any element
    does); Intel's SDM specifies the check regardless of the mask (exception class E1),
    which goasm follows for Intel models."""
    if op.kind != "mem":
        return
    test = f"{e.ea(op)} & {width - 1}"
    if v is not None and v.k and e.machine.cpu_model.vendor == "AuthenticAMD":
        test = f"{test} and {mask_expr(e, v, ew)}"
    with e.block(f"if {test}:"):
        e.fault(GP_FAULT)


# --------------------------------------------------------------------------- lane shapes

def lanes128(value: int, width: int) -> list:
    """The 128-bit lanes of a ``width``-byte value, lane 0 first (most VEX/EVEX shuffles
    work within each 128-bit lane, SDM Vol. 1, 14.1.2 "Instruction Syntax Enhancements")."""
    return [value >> (128 * i) & M128 for i in range(width // 16)]


def from_lanes128(lanes) -> int:
    """Inverse of :func:`lanes128`."""
    out = 0
    for i, x in enumerate(lanes):
        out |= x << (128 * i)
    return out


def unpack(a: int, b: int, ew: int, width: int, high: bool) -> int:
    """Interleave the low (``high``: the high) halves of the ``ew``-byte elements of ``a``
    and ``b`` within each 128-bit lane: ``a0 b0 a1 b1 ...`` (SDM: PUNPCKLBW ... PUNPCKHQDQ,
    UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD and their VEX/EVEX forms)."""
    return interleaver(ew, width, high)(a, b)


@lru_cache(maxsize=None)
def interleaver(ew: int, width: int, high: bool):
    """:func:`unpack` for one element width, vector width and half, built once: the
    elements are placed by slice assignment, lane by lane."""
    n = 16 // ew
    half = n // 2
    base = half if high else 0
    fmt = _struct(ew, width, False)
    count = width // ew

    def fn(a: int, b: int) -> int:
        x = fmt.unpack(a.to_bytes(width, "little"))
        y = fmt.unpack(b.to_bytes(width, "little"))
        out = [0] * count
        for i in range(0, count, n):
            lo = i + base
            out[i:i + n:2] = x[lo:lo + half]
            out[i + 1:i + n:2] = y[lo:lo + half]
        return int.from_bytes(fmt.pack(*out), "little")
    return fn

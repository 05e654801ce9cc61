"""Data movement and bitwise operations on XMM registers (Intel SDM Vol. 2, the pages of
each instruction): MOVDQA/MOVDQU (Go: MOVO/MOVOU), MOVAPS/MOVUPS/MOVAPD/MOVUPD, MOVNTDQ
(MOVNTO), LDDQU, PXOR PAND POR PANDN, XORPS/XORPD, ANDPS/ANDPD, ANDNPS/ANDNPD, ORPS/ORPD;
MOVSD/MOVSS, MOVHPD/MOVHPS/MOVLPD/MOVLPS, MOVHLPS/MOVLHPS, MOVMSKPS/MOVMSKPD, MOVDDUP,
MOVSHDUP/MOVSLDUP, MOVNTDQA, MASKMOVOU (MASKMOVDQU); SHUFPS/SHUFPD, UNPCKL/H PS/PD,
BLENDPS/PD, BLENDVPS/PD, INSERTPS/EXTRACTPS, PINSRB/W/D/Q, PEXTRB/W/D/Q. (MOVQ/MOVL
between XMM and registers or memory are MOV forms, see :mod:`goasm.machine.ops.mov`.)

Aligned forms (and legacy-SSE memory sources of the bitwise ops) raise #GP on an
address that is not 16-byte aligned, which Linux delivers as SIGSEGV (si_code SI_KERNEL,
si_addr 0).
"""

from __future__ import annotations

from goasm.machine.ops import lanes
from goasm.machine.ops.base import MASK, MASK_TEXT, BadForm, handles
from goasm.machine.ops.lanes import GP_FAULT  # noqa: F401  (xchg.py raises it too)
from goasm.machine.ops.lanes import M64, M128, imm8, join, need, split, unary, xmm
from goasm.machine.ops.lanes import aligned as _aligned

FULL = "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"


@handles(("MOVOU", dict(aligned=False)), ("MOVUPS", dict(aligned=False)),
         ("MOVUPD", dict(aligned=False)), ("LDDQU", dict(aligned=False)),
         ("MOVO", dict(aligned=True)), ("MOVAPS", dict(aligned=True)),
         ("MOVAPD", dict(aligned=True)), ("MOVNTO", dict(aligned=True)),
         ("MOVNTPS", dict(aligned=True)), ("MOVNTPD", dict(aligned=True)))
def movo(e, args, aligned):
    """``MOVOU src, dst``: copy 16 bytes between XMM registers and memory."""
    if len(args) != 2 or "xmm" not in (args[0].kind, args[1].kind):
        raise BadForm("needs an XMM operand")
    src, dst = args
    if aligned:
        _aligned(e, src)
        _aligned(e, dst)
    e.write(dst, 16, e.read(src, 16))
    e.next()


@handles(("PXOR", dict(op="^")), ("XORPS", dict(op="^")), ("XORPD", dict(op="^")),
         ("PAND", dict(op="&")), ("ANDPS", dict(op="&")), ("ANDPD", dict(op="&")),
         ("POR", dict(op="|")), ("ORPS", dict(op="|")), ("ORPD", dict(op="|")),
         ("PANDN", dict(op="andn")), ("ANDNPS", dict(op="andn")),
         ("ANDNPD", dict(op="andn")))
def bitwise(e, args, op):
    """``PXOR src, dst``: dst = dst OP src (PANDN: dst = ~dst & src)."""
    if len(args) != 2 or args[1].kind != "xmm":
        raise BadForm("needs an XMM destination")
    src, dst = args
    _aligned(e, src)
    e.emit(f"s = {e.read(src, 16)}", f"d = {e.read(dst, 16)}")
    e.write(dst, 16, f"~d & s & {FULL}" if op == "andn" else f"d {op} s")
    e.next()


# --------------------------------------------------------------------------- scalar moves

@handles(("MOVSD", dict(width=8)), ("MOVSS", dict(width=4)))
def movs(e, args, width):
    """``MOVSD src, dst``: between XMM registers only the low 64 (MOVSS: 32) bits move and
    the rest of dst is kept; a load from memory zeroes the rest of the register; a store
    writes 8 (4) bytes (SDM: MOVSD, MOVSS)."""
    src, dst = need(args, 2)
    if src.kind == "xmm" and dst.kind == "xmm":
        low = MASK[width]
        d = f"xmm[{e.const(dst.index)}]"
        e.write(dst, 16, f"{d} & {e.const(M128 ^ low)} | xmm[{e.const(src.index)}] & {low}")
    elif src.kind == "mem" and dst.kind == "xmm":
        e.write(dst, 16, e.read(src, width))
    elif src.kind == "xmm" and dst.kind == "mem":
        e.write(dst, width, e.read(src, width))
    else:
        raise BadForm("needs XMM registers or memory")
    e.next()


@handles(("MOVHPD", dict(high=True)), ("MOVHPS", dict(high=True)),
         ("MOVLPD", dict(high=False)), ("MOVLPS", dict(high=False)))
def movhl_mem(e, args, high):
    """``MOVHPD m64, X`` loads the high quadword of X (MOVLPD: the low one), keeping the
    other half; ``MOVHPD X, m64`` stores it (SDM: MOVHPD, MOVHPS, MOVLPD, MOVLPS)."""
    src, dst = need(args, 2)
    if src.kind == "mem" and dst.kind == "xmm":
        d = f"xmm[{e.const(dst.index)}]"
        e.emit(f"v = {e.read(src, 8)}")
        if high:
            e.write(dst, 16, f"{d} & {M64} | v << 64")
        else:
            e.write(dst, 16, f"{d} & {e.const(M128 ^ M64)} | v")
    elif src.kind == "xmm" and dst.kind == "mem":
        s = f"xmm[{e.const(src.index)}]"
        e.write(dst, 8, f"{s} >> 64" if high else f"{s} & {M64}")
    else:
        raise BadForm("needs one memory operand")
    e.next()


@handles(("MOVHLPS", dict(high_to_low=True)), ("MOVLHPS", dict(high_to_low=False)))
def movhlps(e, args, high_to_low):
    """``MOVHLPS src, dst``: dst low quadword = src high quadword; ``MOVLHPS``: dst high
    quadword = src low quadword; the other half of dst is kept (SDM: MOVHLPS, MOVLHPS)."""
    src, dst = need(args, 2)
    xmm(src, "source")
    xmm(dst)
    s = f"xmm[{e.const(src.index)}]"
    d = f"xmm[{e.const(dst.index)}]"
    if high_to_low:
        e.write(dst, 16, f"{d} & {e.const(M128 ^ M64)} | {s} >> 64")
    else:
        e.write(dst, 16, f"{d} & {M64} | ({s} & {M64}) << 64")
    e.next()


def _movmskps(s):
    return (s >> 31 & 1) | (s >> 62 & 2) | (s >> 93 & 4) | (s >> 124 & 8)


def _movmskpd(s):
    return (s >> 63 & 1) | (s >> 126 & 2)


@handles(("MOVMSKPS", dict(fn=_movmskps)), ("MOVMSKPD", dict(fn=_movmskpd)))
def movmsk(e, args, fn):
    """``MOVMSKPS X, r``: the sign bits of X's four singles (MOVMSKPD: two doubles) in the
    low bits of r32, the rest zeroed (SDM: MOVMSKPS, MOVMSKPD)."""
    src, dst = need(args, 2)
    xmm(src, "source")
    if dst.kind != "gpr":
        raise BadForm("destination must be a register")
    e.write(dst, 4, e.call(fn, f"xmm[{e.const(src.index)}]"))
    e.next()


def _movddup(s):
    lo = s & M64
    return lo | lo << 64


def _movshdup(s):
    a = split(s, 4)
    return join((a[1], a[1], a[3], a[3]), 4)


def _movsldup(s):
    a = split(s, 4)
    return join((a[0], a[0], a[2], a[2]), 4)


@handles(("MOVDDUP", dict(fn=_movddup, mem_width=8)),
         ("MOVSHDUP", dict(fn=_movshdup, mem_width=16)),
         ("MOVSLDUP", dict(fn=_movsldup, mem_width=16)),
         ("MOVNTDQA", dict(fn=None, mem_width=16)))
def movdup(e, args, fn, mem_width):
    """``MOVDDUP src, dst``: the low quadword of src (or m64) in both halves; MOVSHDUP /
    MOVSLDUP: the odd / even singles duplicated; MOVNTDQA: an aligned 16-byte load (SDM:
    MOVDDUP, MOVSHDUP, MOVSLDUP, MOVNTDQA)."""
    if fn is None:
        if need(args, 2)[0].kind != "mem":
            raise BadForm("MOVNTDQA loads from memory")
        fn = _identity
    unary(e, args, fn, mem_width=mem_width)


def _identity(s):
    return s


@handles(("MASKMOVOU", {}), ("VMASKMOVDQU", {}))
def maskmovou(e, args):
    """``MASKMOVOU mask, data``: store the bytes of data whose mask byte has bit 7 set to
    the 16 bytes at (DI); no alignment needed (SDM: MASKMOVDQU; Go's operand order puts
    the mask, ModRM.rm, first)."""
    mask, data = need(args, 2)
    xmm(mask, "mask")
    xmm(data, "data")
    e.emit(f"k = xmm[{e.const(mask.index)}]", f"v = xmm[{e.const(data.index)}]",
           "a = regs[7]")
    with e.block("for i in range(16):"):
        with e.block("if k >> (8 * i + 7) & 1:"):
            e.emit("wr8((a + i) & 0xFFFFFFFFFFFFFFFF, v >> (8 * i))")
    e.next()


# --------------------------------------------------------------------------- shuffles

def _shufps(d, s, imm):
    a, b = split(d, 4), split(s, 4)
    return join((a[imm & 3], a[imm >> 2 & 3], b[imm >> 4 & 3], b[imm >> 6 & 3]), 4)


def _shufpd(d, s, imm):
    a, b = split(d, 8), split(s, 8)
    return join((a[imm & 1], b[imm >> 1 & 1]), 8)


def _unpck(width, high):
    half = 8 // width

    def fn(d, s):
        a, b = split(d, width), split(s, width)
        base = half if high else 0
        out = []
        for i in range(base, base + half):
            out += (a[i], b[i])
        return join(out, width)
    return fn


def _blend(width):
    n = 16 // width

    def fn(d, s, imm):
        a, b = split(d, width), split(s, width)
        return join([b[i] if imm >> i & 1 else a[i] for i in range(n)], width)
    return fn


@handles(("SHUFPS", dict(fn=_shufps)), ("SHUFPD", dict(fn=_shufpd)),
         ("BLENDPS", dict(fn=_blend(4))), ("BLENDPD", dict(fn=_blend(8))))
def shufps(e, args, fn):
    """``SHUFPS $imm, src, dst``: the low two singles picked from dst, the high two from
    src by imm's 2-bit fields (SHUFPD: 1-bit fields); ``BLENDPS``: lane i from src when imm
    bit i is set (SDM: SHUFPS, SHUFPD, BLENDPS, BLENDPD)."""
    lanes.binary(e, args, fn, imm=True)


@handles(("UNPCKLPS", dict(fn=_unpck(4, False))), ("UNPCKHPS", dict(fn=_unpck(4, True))),
         ("UNPCKLPD", dict(fn=_unpck(8, False))), ("UNPCKHPD", dict(fn=_unpck(8, True))))
def unpck(e, args, fn):
    """``UNPCKLPS src, dst``: interleave the low (H: high) halves, dst's lane first (SDM:
    UNPCKLPS, UNPCKHPS, UNPCKLPD, UNPCKHPD)."""
    lanes.binary(e, args, fn)


@handles(("BLENDVPS", dict(fn=lanes.blendv_lanes(4))),
         ("BLENDVPD", dict(fn=lanes.blendv_lanes(8))))
def blendv(e, args, fn):
    """``BLENDVPS X0, src, dst``: lane i from src when the sign bit of X0's lane i is set
    (SDM: BLENDVPS, BLENDVPD; X0 is implicit)."""
    lanes.blendv(e, args, fn)


def _insertps(d, s, imm):
    a = list(split(d, 4))
    a[imm >> 4 & 3] = s
    return join([0 if imm >> i & 1 else a[i] for i in range(4)], 4)


@handles(("INSERTPS", {}))
def insertps(e, args):
    """``INSERTPS $imm, src, dst``: single imm[7:6] of src (or m32) into lane imm[5:4] of
    dst, then the lanes set in imm[3:0] zeroed (SDM: INSERTPS)."""
    i, src, dst = need(args, 3)
    imm = imm8(i)
    xmm(dst)
    if src.kind == "xmm":
        e.emit(f"s = xmm[{e.const(src.index)}] >> {32 * (imm >> 6)} & 0xFFFFFFFF")
    elif src.kind == "mem":
        e.emit(f"s = {e.read(src, 4)}")
    else:
        raise BadForm("source must be an XMM register or memory")
    e.write(dst, 16, e.call(_insertps, f"xmm[{e.const(dst.index)}]", "s", e.const(imm)))
    e.next()


# --------------------------------------------------------------------------- insert/extract

@handles(("PINSRB", dict(width=1)), ("PINSRW", dict(width=2)), ("PINSRD", dict(width=4)),
         ("PINSRQ", dict(width=8)))
def pinsr(e, args, width):
    """``PINSRB $i, r/m, X``: lane i (modulo the lane count) of X = the low bits of r32/r64
    or memory (SDM: PINSRB/PINSRD/PINSRQ, PINSRW)."""
    i, src, dst = need(args, 3)
    xmm(dst)
    if src.kind not in ("gpr", "mem"):
        raise BadForm("source must be a register or memory")
    sh = 8 * width * (imm8(i) % (16 // width))
    e.emit(f"s = {e.read(src, width)}")
    keep = M128 ^ (MASK[width] << sh)
    e.write(dst, 16, f"xmm[{e.const(dst.index)}] & {e.const(keep)} | s << {sh}")
    e.next()


@handles(("PEXTRB", dict(width=1)), ("PEXTRW", dict(width=2)), ("PEXTRD", dict(width=4)),
         ("PEXTRQ", dict(width=8)), ("EXTRACTPS", dict(width=4)))
def pextr(e, args, width):
    """``PEXTRB $i, X, r/m``: lane i (modulo the lane count) of X into memory or a register,
    zero-extended (SDM: PEXTRB/PEXTRD/PEXTRQ, PEXTRW, EXTRACTPS)."""
    i, src, dst = need(args, 3)
    xmm(src, "source")
    sh = 8 * width * (imm8(i) % (16 // width))
    v = f"xmm[{e.const(src.index)}] >> {sh} & {MASK_TEXT[width]}"
    if dst.kind == "gpr":
        e.write(dst, max(width, 4), v)
    elif dst.kind == "mem":
        e.write(dst, width, v)
    else:
        raise BadForm("destination must be a register or memory")
    e.next()

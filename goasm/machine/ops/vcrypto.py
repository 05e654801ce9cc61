"""VEX and EVEX forms of the crypto and string instructions (Intel SDM Vol. 2, the pages
of each instruction): VAESENC/VAESENCLAST/VAESDEC/VAESDECLAST (AVX, and VAES on 256 and
512 bits: the round on every 128-bit lane), VAESIMC, VAESKEYGENASSIST, VPCLMULQDQ (one
carry-less product per 128-bit lane), the GFNI instructions VGF2P8AFFINEQB,
VGF2P8AFFINEINVQB and VGF2P8MULB, and VPCMPESTRI/M, VPCMPISTRI/M.

The per-lane functions are those of the legacy instructions
(:mod:`goasm.machine.ops.crypto`, :mod:`goasm.machine.ops.strcmp`), so each primitive has
one definition. GF(2^8) arithmetic uses the AES polynomial x^8 + x^4 + x^3 + x + 1
(SDM: GF2P8MULB).
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops import crypto, strcmp, vec
from goasm.machine.ops.base import BadForm
from goasm.machine.ops.crypto import GF_EXP, GF_INV, GF_LOG
from goasm.machine.ops.vec import M64, vhandles


def _per_lane(fn, width: int):
    def run(a, b, *extra):
        return vec.from_lanes128([fn(x, y, *extra) for x, y in zip(vec.lanes128(a, width),
                                                                    vec.lanes128(b, width))])
    return run


@vhandles(("VAESENC", dict(fn=crypto.aesenc)), ("VAESENCLAST", dict(fn=crypto.aesenclast)),
          ("VAESDEC", dict(fn=crypto.aesdec)), ("VAESDECLAST", dict(fn=crypto.aesdeclast)))
def vaes(e, args, fn):
    """``VAESENC key, state, dst``: one AES round of each 128-bit lane of state with the
    round key in the same lane of key (SDM: AESENC ... and the VAES forms; no writemask)."""
    v = vec.parse(args, e.ins, nsrc=2, masking=False, bcst=False)
    vec.need_vec(v.dst)
    state, key = v.srcs
    vec.need_vec(state, "state")
    e.emit(f"a = {vec.read(e, v, state, 16)}", f"b = {vec.read(e, v, key, 16)}")
    vec.write(e, v, e.call(_per_lane(fn, v.width), "a", "b"), 16)
    e.next()


@vhandles(("VAESIMC", dict(fn=crypto.aesimc, imm=False)),
          ("VAESKEYGENASSIST", dict(fn=crypto.aeskeygenassist, imm=True)))
def vaes_unary(e, args, fn, imm):
    """``VAESIMC src, dst`` / ``VAESKEYGENASSIST $rcon, src, dst`` on 128 bits, the rest of
    dst zeroed (SDM: AESIMC, AESKEYGENASSIST)."""
    v = vec.parse(args, e.ins, nsrc=1, imm=imm, masking=False, bcst=False, width=16)
    vec.need_vec(v.dst)
    e.emit(f"s = {vec.read(e, v, v.srcs[0], 16)}")
    extra = (e.const(v.imm),) if imm else ()
    vec.write(e, v, e.call(fn, "s", *extra), 16)
    e.next()


def _clmul_lane(imm: int):
    def fn(d, s):
        return crypto.clmul(d >> 64 if imm & 1 else d & M64, s >> 64 if imm & 0x10 else s & M64)
    return fn


@vhandles(("VPCLMULQDQ", {}))
def vpclmulqdq(e, args):
    """``VPCLMULQDQ $imm, src2, src1, dst``: in each 128-bit lane, the carry-less product
    of src1's quadword imm[0] and src2's quadword imm[4] (SDM: PCLMULQDQ; VPCLMULQDQ on
    256/512 bits)."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True, masking=False, bcst=False)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.read(e, v, a, 16)}", f"b = {vec.read(e, v, b, 16)}")
    vec.write(e, v, e.call(_per_lane(_clmul_lane(v.imm), v.width), "a", "b"), 16)
    e.next()


# --------------------------------------------------------------------------- GFNI

GF_MUL = tuple(bytes(GF_EXP[la + GF_LOG[b]] if b else 0 for b in range(256)) if a else bytes(256)
               for a, la in ((a, GF_LOG[a]) for a in range(256)))
"""GF(2^8) products modulo x^8 + x^4 + x^3 + x + 1 (rows of 256), from the field's
log tables in goasm.machine.ops.crypto (one definition of the field)."""


def _affine_table(matrix: int, imm: int) -> bytes:
    """The 256-byte map x -> A*x + imm for the 8x8 bit matrix ``matrix`` (a quadword whose
    byte 7-i is row i: SDM GF2P8AFFINEQB "affine_byte")."""
    out = bytearray(256)
    rows = [matrix >> (8 * (7 - i)) & 0xFF for i in range(8)]
    for x in range(256):
        r = 0
        for i in range(8):
            r |= ((rows[i] & x).bit_count() & 1) << i
        out[x] = r ^ imm
    return bytes(out)


def _affine(width: int, imm: int, inverse: bool):
    cache: dict = {}

    def fn(x: int, a: int) -> int:
        xb = x.to_bytes(width, "little")
        out = bytearray(width)
        for q in range(width // 8):
            m = a >> (64 * q) & M64
            table = cache.get(m)
            if table is None:
                table = _affine_table(m, imm)
                if len(cache) < 1024:
                    cache[m] = table
            for i in range(8 * q, 8 * q + 8):
                b = xb[i]
                out[i] = table[GF_INV[b] if inverse else b]
        return int.from_bytes(out, "little")
    return fn


@vhandles(("VGF2P8AFFINEQB", dict(inverse=False)), ("VGF2P8AFFINEINVQB", dict(inverse=True)))
def gf2p8affine(e, args, inverse):
    """``VGF2P8AFFINEQB $imm, A, x, [K,] dst``: every byte b of x (its multiplicative
    inverse for AFFINEINV) mapped to A*b + imm over GF(2), A the 8x8 bit matrix in the
    same quadword of A; broadcast takes a quadword (SDM: GF2P8AFFINEQB,
    GF2P8AFFINEINVQB). Go's assembler has no legacy-SSE GFNI mnemonics."""
    v = vec.parse(args, e.ins, nsrc=2, imm=True)
    vec.need_vec(v.dst)
    x, a = v.srcs
    vec.need_vec(x, "first source")
    e.emit(f"x = {vec.read(e, v, x, 1)}", f"a = {vec.read(e, v, a, 8, elementwise=False)}")
    vec.write(e, v, e.call(_affine(v.width, v.imm, inverse), "x", "a"), 1)
    e.next()


def _gf_mulb(width: int):
    def fn(a: int, b: int) -> int:
        xa, xb = a.to_bytes(width, "little"), b.to_bytes(width, "little")
        return int.from_bytes(bytes(GF_MUL[p][q] for p, q in zip(xa, xb)), "little")
    return fn


@vhandles(("VGF2P8MULB", {}))
def gf2p8mulb(e, args):
    """``VGF2P8MULB src2, src1, [K,] dst``: byte-wise product in GF(2^8) (SDM:
    GF2P8MULB)."""
    v = vec.parse(args, e.ins, nsrc=2, bcst=False)
    vec.need_vec(v.dst)
    a, b = v.srcs
    vec.need_vec(a, "first source")
    e.emit(f"a = {vec.read(e, v, a, 1)}", f"b = {vec.read(e, v, b, 1)}")
    vec.write(e, v, e.call(_gf_mulb(v.width), "a", "b"), 1)
    e.next()


# --------------------------------------------------------------------------- string compares

@vhandles(("VPCMPESTRI", dict(explicit=True, index=True)),
          ("VPCMPESTRM", dict(explicit=True, index=False)),
          ("VPCMPISTRI", dict(explicit=False, index=True)),
          ("VPCMPISTRM", dict(explicit=False, index=False)))
def vpcmpstr(e, args, explicit, index):
    """``VPCMPESTRI $imm, src2, src1``: PCMPESTRI and friends (module
    :mod:`goasm.machine.ops.strcmp`); the mask forms write XMM0 with bits above 128
    zeroed (SDM: PCMPESTRM "VEX.128 encoded version: ... DEST[MAXVL-1:128] <- 0")."""
    if len(args) != 3 or args[0].kind != "imm":
        raise BadForm("expected $imm, src2, src1")
    i, src, dst = args
    vec.need_vec(dst, "first source")
    if src.kind not in ("xmm", "mem"):
        raise BadForm("second source must be an XMM register or memory")
    b = f"xmm[{e.const(src.index)}]" if src.kind == "xmm" else f"rd128({e.ea(src)})"
    e.emit(f"b = {b}")
    lengths = ("regs[0]", "regs[2]") if explicit else ("None", "None")
    fn = strcmp.pcmpstri if index else strcmp.pcmpstrm
    e.emit(f"r, f = {e.call(fn, f'xmm[{e.const(dst.index)}]', 'b', e.const(i.value & 0xFF), *lengths)}")
    if index:
        e.emit("regs[1] = r")
    else:
        e.emit("xmm[0] = r", "vhi[0] = 0")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, f)")
    e.next()


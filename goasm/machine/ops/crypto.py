"""AES-NI, carry-less multiplication, the SHA extensions and CRC32 (Intel SDM Vol. 2:
AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC, AESKEYGENASSIST, PCLMULQDQ, SHA1RNDS4,
SHA1NEXTE, SHA1MSG1, SHA1MSG2, SHA256RNDS2, SHA256MSG1, SHA256MSG2, CRC32; the AES steps
are those of FIPS-197, sections 5.1 and 5.3, the SHA ones FIPS 180-4).

The 128-bit AES state is the XMM value with byte ``i`` (bits 8i+7..8i) holding FIPS-197's
``s[i % 4][i // 4]`` (row ``i % 4`` of column ``i // 4``). One round is computed with
four 256-entry tables per direction that combine SubBytes and MixColumns (the usual
"T-table" formulation); all tables are built once at import from the S-box definition
(multiplicative inverse in GF(2^8) followed by the affine map) and are tuples.
"""

from __future__ import annotations

import array
import functools

from goasm.machine.ops.base import BadForm, handles
from goasm.machine.ops.lanes import M64, binary, need, read_src, unary, xmm


def _xtime(a: int) -> int:
    a <<= 1
    return a ^ 0x11B if a & 0x100 else a


def _exp_log() -> tuple:
    """Powers of the generator 3 and their logarithms in GF(2^8) modulo
    x^8 + x^4 + x^3 + x + 1 (FIPS 197, 4.2); the powers are listed twice so that
    ``EXP[LOG[a] + LOG[b]]`` needs no reduction."""
    exp = [0] * 510
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = exp[i + 255] = x
        log[x] = i
        x ^= _xtime(x)
    return tuple(exp), tuple(log)


GF_EXP, GF_LOG = _exp_log()


def gf_mul(a: int, b: int) -> int:
    """The product in GF(2^8) (AES's field; also GFNI's GF2P8MULB)."""
    return GF_EXP[GF_LOG[a] + GF_LOG[b]] if a and b else 0


_gmul = gf_mul

GF_INV = (0,) + tuple(GF_EXP[255 - GF_LOG[a]] for a in range(1, 256))
"""Multiplicative inverses, 0 for 0 (the AES S-box's and GF2P8AFFINEINVQB's convention)."""


def _sbox() -> tuple:
    inv = GF_INV
    out = []
    for a in range(256):
        x = inv[a]
        s = x
        for k in range(1, 5):
            s ^= ((x << k) | (x >> (8 - k))) & 0xFF
        out.append(s ^ 0x63)
    return tuple(out)


SBOX = _sbox()
INV_SBOX = tuple(SBOX.index(i) for i in range(256))


def _tables(box, coeffs) -> tuple:
    """Four tables: T_r[x] = the column word contributed by byte x sitting in row r."""
    out = []
    for r in range(4):
        col = [coeffs[(row - r) % 4] for row in range(4)]
        out.append(tuple(sum(_gmul(box[x], c) << (8 * row) for row, c in enumerate(col))
                         for x in range(256)))
    return tuple(out)


_ENC = _tables(SBOX, (2, 1, 1, 3))
_DEC = _tables(INV_SBOX, (14, 9, 13, 11))
_IMC = _tables(tuple(range(256)), (14, 9, 13, 11))
_SHIFT = tuple(r + 4 * ((c + r) % 4) for c in range(4) for r in range(4))
_INV_SHIFT = tuple(r + 4 * ((c - r) % 4) for c in range(4) for r in range(4))


def _round(state: int, tables, shift) -> int:
    b = state.to_bytes(16, "little")
    t0, t1, t2, t3 = tables
    out = 0
    for c in range(4):
        k = 4 * c
        out |= (t0[b[shift[k]]] ^ t1[b[shift[k + 1]]] ^ t2[b[shift[k + 2]]]
                ^ t3[b[shift[k + 3]]]) << (32 * c)
    return out


def _last(state: int, box, shift) -> int:
    b = state.to_bytes(16, "little")
    return int.from_bytes(bytes(box[b[shift[i]]] for i in range(16)), "little")


def aesenc(state: int, key: int) -> int:
    """ShiftRows, SubBytes, MixColumns, AddRoundKey (SDM: AESENC)."""
    return _round(state, _ENC, _SHIFT) ^ key


def aesenclast(state: int, key: int) -> int:
    """ShiftRows, SubBytes, AddRoundKey (SDM: AESENCLAST)."""
    return _last(state, SBOX, _SHIFT) ^ key


def aesdec(state: int, key: int) -> int:
    """InvShiftRows, InvSubBytes, InvMixColumns, AddRoundKey (SDM: AESDEC)."""
    return _round(state, _DEC, _INV_SHIFT) ^ key


def aesdeclast(state: int, key: int) -> int:
    """InvShiftRows, InvSubBytes, AddRoundKey (SDM: AESDECLAST)."""
    return _last(state, INV_SBOX, _INV_SHIFT) ^ key


_IDENTITY = tuple(range(16))


def aesimc(s: int) -> int:
    """InvMixColumns (SDM: AESIMC)."""
    return _round(s, _IMC, _IDENTITY)


def _subword(w: int) -> int:
    return int.from_bytes(bytes(SBOX[b] for b in w.to_bytes(4, "little")), "little")


def aeskeygenassist(s: int, imm: int) -> int:
    """[RotWord(SubWord(X3)) ^ imm, SubWord(X3), RotWord(SubWord(X1)) ^ imm, SubWord(X1)]
    from the high dword down, X1 and X3 the source's dwords 1 and 3 (SDM:
    AESKEYGENASSIST; RotWord rotates right by 8 bits in this byte order)."""
    x1 = _subword(s >> 32 & 0xFFFFFFFF)
    x3 = _subword(s >> 96 & 0xFFFFFFFF)

    def rot(w):
        return ((w >> 8) | (w << 24)) & 0xFFFFFFFF
    return x1 | (rot(x1) ^ imm) << 32 | x3 << 64 | (rot(x3) ^ imm) << 96


@handles(("AESENC", dict(fn=aesenc)), ("AESENCLAST", dict(fn=aesenclast)),
         ("AESDEC", dict(fn=aesdec)), ("AESDECLAST", dict(fn=aesdeclast)))
def aes_round(e, args, fn):
    """``AESENC key, state``: one AES round on the state register with the round key
    from an XMM register or aligned m128 (SDM: AESENC, AESENCLAST, AESDEC, AESDECLAST)."""
    binary(e, args, fn)


@handles(("AESIMC", dict(fn=aesimc)))
def aes_imc(e, args, fn):
    """``AESIMC src, dst``: dst = InvMixColumns(src) (SDM: AESIMC)."""
    unary(e, args, fn)


@handles(("AESKEYGENASSIST", dict(fn=aeskeygenassist)))
def aes_keygen(e, args, fn):
    """``AESKEYGENASSIST $rcon, src, dst`` (SDM: AESKEYGENASSIST)."""
    unary(e, args, fn, imm=True)


def clmul(a: int, b: int) -> int:
    """The carry-less (GF(2)[x]) product of two 64-bit values, 127 bits."""
    r = 0
    while b:
        low = b & -b
        r ^= a * low
        b ^= low
    return r


def _pclmulqdq(d: int, s: int, imm: int) -> int:
    a = d >> 64 if imm & 1 else d & M64
    b = s >> 64 if imm & 0x10 else s & M64
    return clmul(a, b)


@handles(("PCLMULQDQ", {}))
def pclmulqdq(e, args):
    """``PCLMULQDQ $imm, src, dst``: dst = carry-less product of dst's quadword imm[0]
    and src's quadword imm[4] (SDM: PCLMULQDQ)."""
    binary(e, args, _pclmulqdq, imm=True)


# --------------------------------------------------------------------------- SHA extensions

M32 = 0xFFFFFFFF


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & M32


def _ror(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & M32


def _dwords(v: int) -> tuple:
    """(dword 3, dword 2, dword 1, dword 0): the SDM's [127:96] .. [31:0] order."""
    return (v >> 96 & M32, v >> 64 & M32, v >> 32 & M32, v & M32)


def _pack(d3: int, d2: int, d1: int, d0: int) -> int:
    return (d3 & M32) << 96 | (d2 & M32) << 64 | (d1 & M32) << 32 | (d0 & M32)


_SHA1_K = (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6)


def _sha1_f(i: int, b: int, c: int, d: int) -> int:
    if i == 0:
        return (b & c) ^ (~b & d & M32)
    if i == 2:
        return (b & c) ^ (b & d) ^ (c & d)
    return b ^ c ^ d


def sha1rnds4(d: int, s: int, imm: int) -> int:
    """Four SHA-1 rounds on A B C D = dst's dwords 3..0 with W0+E, W1, W2, W3 = src's
    dwords 3..0 and the function/constant of round group imm[1:0] (SDM: SHA1RNDS4)."""
    f = imm & 3
    k = _SHA1_K[f]
    a, b, c, dd = _dwords(d)
    w = _dwords(s)
    e = 0
    for i in range(4):
        a, b, c, dd, e = ((_sha1_f(f, b, c, dd) + _rol(a, 5) + w[i] + e + k) & M32,
                          a, _rol(b, 30), c, dd)
    return _pack(a, b, c, dd)


def sha1nexte(d: int, s: int) -> int:
    """src with its dword 3 plus (dst's dword 3 ROL 30) (SDM: SHA1NEXTE)."""
    return (s & ((1 << 96) - 1)) | (((s >> 96) + _rol(d >> 96, 30)) & M32) << 96


def sha1msg1(d: int, s: int) -> int:
    """W0..W3 = dst's dwords 3..0, W4 W5 = src's dwords 3, 2: [W2^W0, W3^W1, W4^W2,
    W5^W3] (SDM: SHA1MSG1)."""
    w0, w1, w2, w3 = _dwords(d)
    w4, w5, _, _ = _dwords(s)
    return _pack(w2 ^ w0, w3 ^ w1, w4 ^ w2, w5 ^ w3)


def sha1msg2(d: int, s: int) -> int:
    """The message words W16..W19 from dst's partial XORs and src's W13..W15 (SDM:
    SHA1MSG2)."""
    x3, x2, x1, x0 = _dwords(d)
    _, w13, w14, w15 = _dwords(s)
    w16 = _rol(x3 ^ w13, 1)
    w17 = _rol(x2 ^ w14, 1)
    w18 = _rol(x1 ^ w15, 1)
    w19 = _rol(x0 ^ w16, 1)
    return _pack(w16, w17, w18, w19)


def _s0(x):
    return _ror(x, 7) ^ _ror(x, 18) ^ (x >> 3)


def _s1(x):
    return _ror(x, 17) ^ _ror(x, 19) ^ (x >> 10)


def sha256rnds2(d: int, s: int, wk: int) -> int:
    """Two SHA-256 rounds: A B E F = src's dwords 3..0, C D G H = dst's dwords 3..0,
    WK0 WK1 = X0's dwords 0, 1; the result is [A, B, E, F] (SDM: SHA256RNDS2)."""
    c, dd, g, h = _dwords(d)
    a, b, e, f = _dwords(s)
    for i in range(2):
        w = wk >> (32 * i) & M32
        ch = (e & f) ^ (~e & g & M32)
        maj = (a & b) ^ (a & c) ^ (b & c)
        t = (ch + (_ror(e, 6) ^ _ror(e, 11) ^ _ror(e, 25)) + w + h) & M32
        a, b, c, dd, e, f, g, h = ((t + maj + (_ror(a, 2) ^ _ror(a, 13) ^ _ror(a, 22))) & M32,
                                   a, b, c, (t + dd) & M32, e, f, g)
    return _pack(a, b, e, f)


def sha256msg1(d: int, s: int) -> int:
    """[W3+σ0(W4), W2+σ0(W3), W1+σ0(W2), W0+σ0(W1)] with W0..W3 = dst's dwords 0..3 and
    W4 = src's dword 0 (SDM: SHA256MSG1)."""
    w3, w2, w1, w0 = _dwords(d)
    w4 = s & M32
    return _pack(w3 + _s0(w4), w2 + _s0(w3), w1 + _s0(w2), w0 + _s0(w1))


def sha256msg2(d: int, s: int) -> int:
    """W16..W19 from dst's partial sums and src's W14, W15 (dwords 2, 3) (SDM:
    SHA256MSG2)."""
    x3, x2, x1, x0 = _dwords(d)
    w15, w14, _, _ = _dwords(s)
    w16 = (x0 + _s1(w14)) & M32
    w17 = (x1 + _s1(w15)) & M32
    w18 = (x2 + _s1(w16)) & M32
    w19 = (x3 + _s1(w17)) & M32
    return _pack(w19, w18, w17, w16)


def sha_aligned(e) -> bool:
    """Whether the SHA instructions' m128 operand must be 16-byte aligned: on Intel
    processors it must (SDM Vol. 2, SHA1MSG1 ...: "#GP if a memory operand is not
    aligned on a 16-byte boundary"); AMD processors accept any address (measured on an
    AMD EPYC, Zen 4: no fault for SHA1RNDS4/SHA1NEXTE/SHA1MSG1/2/SHA256RNDS2/MSG1/2 at
    an address 8 bytes off). goasm follows the CPU model's vendor."""
    return e.machine.cpu_model.vendor != "AuthenticAMD"


@handles(("SHA1NEXTE", dict(fn=sha1nexte)), ("SHA1MSG1", dict(fn=sha1msg1)),
         ("SHA1MSG2", dict(fn=sha1msg2)), ("SHA256MSG1", dict(fn=sha256msg1)),
         ("SHA256MSG2", dict(fn=sha256msg2)))
def sha_msg(e, args, fn):
    """``SHA1MSG1 src, dst``: dst = fn(dst, src), src an XMM register or m128 (aligned on
    Intel, :func:`sha_aligned`) (SDM: SHA1NEXTE, SHA1MSG1, SHA1MSG2, SHA256MSG1,
    SHA256MSG2)."""
    binary(e, args, fn, align=sha_aligned(e))


@handles(("SHA1RNDS4", {}))
def sha1_rounds(e, args):
    """``SHA1RNDS4 $f, src, dst`` (SDM: SHA1RNDS4)."""
    binary(e, args, sha1rnds4, imm=True, align=sha_aligned(e))


@handles(("SHA256RNDS2", {}))
def sha256_rounds(e, args):
    """``SHA256RNDS2 X0, src, dst``: X0 holds WK0, WK1 (SDM: SHA256RNDS2)."""
    wk, src, dst = need(args, 3)
    if wk.kind != "xmm" or wk.index != 0:
        raise BadForm("the first operand must be X0")
    xmm(dst)
    e.emit(f"s = {read_src(e, src, 16, align=sha_aligned(e))}")
    e.write(dst, 16, e.call(sha256rnds2, f"xmm[{e.const(dst.index)}]", "s", "xmm[0]"))
    e.next()


# --------------------------------------------------------------------------- CRC32

def _crc_table() -> tuple:
    out = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        out.append(c)
    return tuple(out)


_CRC32C = _crc_table()


def _slice_tables() -> tuple:
    """``T[k][b]``: the CRC-32C of byte ``b`` followed by ``k`` zero bytes, for k < 8
    (the "slicing-by-8" tables: the CRC of n bytes is the XOR of one lookup per byte)."""
    tables = [_CRC32C]
    for _ in range(7):
        prev = tables[-1]
        tables.append(tuple((v >> 8) ^ _CRC32C[v & 0xFF] for v in prev))
    return tuple(tables)


_CRC32C_SLICES = _slice_tables()


def crc32c(crc: int, data: int, width: int) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of the ``width`` bytes of
    ``data`` (least significant first) continued from ``crc``, with no pre- or
    post-inversion (SDM: CRC32)."""
    crc &= M32
    for _ in range(width):
        crc = (crc >> 8) ^ _CRC32C[(crc ^ data) & 0xFF]
        data >>= 8
    return crc


@functools.lru_cache(maxsize=1)
def _crc32c_halves() -> tuple:
    """``H[k][h]``: the CRC-32C of the two bytes of ``h`` (low byte first) followed by
    ``2k`` zero bytes, k < 4 -- slicing by 16 bits, four lookups for eight bytes (arrays
    of 65536 32-bit words, 1 MiB in all, built on first use: about 20 ms)."""
    t = _CRC32C_SLICES
    out = []
    for k in range(4):
        lo, hi = t[2 * k + 1], t[2 * k]
        table = array.array("I", [lo[h & 0xFF] ^ hi[h >> 8] for h in range(65536)])
        assert table.itemsize == 4
        out.append(table)
    return tuple(out)


def _crc32c_text(e, crc: str, data: str, width: int) -> str:
    """The expression of :func:`crc32c` for a known width, unrolled: ``x = crc ^ data``
    (emitted), then one table lookup per 16 bits of ``x`` (one 8-bit lookup for a
    single byte); the bytes of ``crc`` beyond the width shift down unchanged."""
    e.emit(f"x = {crc} ^ {data}")
    if width == 1:
        terms = [f"{e.const(_CRC32C)}[x & 0xFF]"]
    else:
        halves = _crc32c_halves()
        terms = []
        for j in range(width // 2):
            part = "x & 0xFFFF" if j == 0 else f"x >> {16 * j} & 0xFFFF"
            if 16 * (j + 1) == 64:
                part = f"x >> {16 * j}"
            terms.append(f"{e.const(halves[width // 2 - 1 - j])}[{part}]")
    if width < 4:
        terms.append(f"x >> {8 * width}")
    return " ^ ".join(terms)


@handles(("CRC32B", dict(width=1)), ("CRC32W", dict(width=2)), ("CRC32L", dict(width=4)),
         ("CRC32Q", dict(width=8)))
def crc32(e, args, width):
    """``CRC32B src, dst``: dst = CRC-32C of src's 1/2/4/8 bytes continued from dst's low
    32 bits, zero-extended to 64 bits; no flags (SDM: CRC32, an SSE4.2 instruction)."""
    src, dst = need(args, 2)
    if dst.kind != "gpr" or src.kind not in ("gpr", "mem"):
        raise BadForm("needs a register destination and a register/memory source")
    data = e.read(src, width)
    if src.kind == "mem":       # a plain load line (the translator inlines its page lookup)
        e.emit(f"v = {data}")
        data = "v"
    e.emit(f"r = {_crc32c_text(e, e.read(dst, 4), data, width)}")
    e.write(dst, 4, "r")
    e.next()

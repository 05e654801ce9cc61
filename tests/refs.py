"""Python references for the Go std kernels tests/test_packages.py and
tests/test_std_simd.py run: written from the algorithms' specifications (RFC 1321 MD5,
FIPS 197 AES, FIPS 180-4 SHA-1/SHA-256 compression and SHA-512 constants, RFC 8439
ChaCha20, Poly1305 and the ChaCha20-Poly1305 AEAD, CRC-32/CRC-32C as in RFC 3720 and
ITU-T V.42, Curve25519 field arithmetic, the exp algorithm of Go's math/exp_amd64.s with
an exact fused multiply-add), each checked against a published vector or Python's own
library in the tests."""

from __future__ import annotations

import math
import struct
import zlib
from fractions import Fraction

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1

# --------------------------------------------------------------------------- MD5 (RFC 1321)

_MD5_S = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_MD5_K = [int(abs(math.sin(i + 1)) * 2**32) & M32 for i in range(64)]


def _rotl32(x: int, n: int) -> int:
    x &= M32
    return ((x << n) | (x >> (32 - n))) & M32


def md5_blocks(state, data: bytes) -> list[int]:
    """The MD5 compression function over whole 64-byte blocks (RFC 1321, 3.4)."""
    a0, b0, c0, d0 = state
    for off in range(0, len(data) - len(data) % 64, 64):
        m = struct.unpack("<16I", data[off:off + 64])
        a, b, c, d = a0, b0, c0, d0
        for i in range(64):
            if i < 16:
                f, g = (b & c) | (~b & d), i
            elif i < 32:
                f, g = (d & b) | (~d & c), (5 * i + 1) % 16
            elif i < 48:
                f, g = b ^ c ^ d, (3 * i + 5) % 16
            else:
                f, g = c ^ (b | (~d & M32)), (7 * i) % 16
            f = (f + a + _MD5_K[i] + m[g]) & M32
            a, d, c = d, c, b
            b = (b + _rotl32(f, _MD5_S[i])) & M32
        a0, b0, c0, d0 = (a0 + a) & M32, (b0 + b) & M32, (c0 + c) & M32, (d0 + d) & M32
    return [a0, b0, c0, d0]


MD5_INIT = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]


def md5_pad(msg: bytes) -> bytes:
    n = len(msg)
    return msg + b"\x80" + bytes((55 - n) % 64) + struct.pack("<Q", (8 * n) & M64)


# --------------------------------------------------------------------------- multi-word arithmetic

def words_to_int(ws) -> int:
    return sum(w << (64 * i) for i, w in enumerate(ws))


def int_to_words(v: int, n: int) -> list[int]:
    return [(v >> (64 * i)) & M64 for i in range(n)]


def add_vv(x, y):
    """math/big addVV: z = x + y, the carry out."""
    n = len(x)
    s = words_to_int(x) + words_to_int(y)
    return int_to_words(s, n), s >> (64 * n)


def sub_vv(x, y):
    """math/big subVV: z = x - y, the borrow out."""
    n = len(x)
    d = words_to_int(x) - words_to_int(y)
    return int_to_words(d % (1 << (64 * n)), n), 1 if d < 0 else 0


def mul_add_vww(x, m, a):
    """math/big mulAddVWW: z = x*m + a, the carry word."""
    n = len(x)
    v = words_to_int(x) * m + a
    return int_to_words(v, n), v >> (64 * n)


def add_mul_vvww(x, y, m, a):
    """math/big addMulVVWW: z = x + y*m + a, the carry word."""
    n = len(x)
    v = words_to_int(x) + words_to_int(y) * m + a
    return int_to_words(v, n), v >> (64 * n)


# --------------------------------------------------------------------------- CRC

def _crc_table(poly: int) -> list[int]:
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        out.append(c)
    return out


_CASTAGNOLI = _crc_table(0x82F63B78)


def crc32c_update(crc: int, data: bytes) -> int:
    """The reflected CRC-32C (Castagnoli) register update, no pre/post inversion."""
    for b in data:
        crc = _CASTAGNOLI[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def crc32_ieee_update(crc: int, data: bytes) -> int:
    """The reflected CRC-32 (IEEE) register update, no pre/post inversion (zlib inverts
    before and after)."""
    return zlib.crc32(data, crc ^ M32) ^ M32


# --------------------------------------------------------------------------- Poly1305

P1305 = (1 << 130) - 5


def poly1305_update(h: int, r: int, msg: bytes) -> int:
    """h = (h + block) * r mod 2^130-5 per 16-byte block, the last one padded with a
    1 byte (RFC 8439, 2.5.1)."""
    for off in range(0, len(msg), 16):
        block = msg[off:off + 16]
        n = int.from_bytes(block + b"\x01", "little")
        h = (h + n) * r % P1305
    return h


def poly1305_tag(key: bytes, msg: bytes) -> bytes:
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    h = poly1305_update(0, r, msg)
    return ((h + s) % (1 << 128)).to_bytes(16, "little")


# --------------------------------------------------------------------------- Curve25519 field

P25519 = (1 << 255) - 19


def fe_value(limbs) -> int:
    return sum(l << (51 * i) for i, l in enumerate(limbs))


# --------------------------------------------------------------------------- SHA-512 constants

def _primes(n: int) -> list[int]:
    out, k = [], 2
    while len(out) < n:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


def _icbrt(n: int) -> int:
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x * x * x > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


def sha512_k() -> list[int]:
    """FIPS 180-4, 4.2.3: the first 64 bits of the fractional parts of the cube roots
    of the first 80 primes."""
    return [_icbrt(p << 192) & M64 for p in _primes(80)]


# --------------------------------------------------------------------------- AES (FIPS 197)

def _xtime(a: int) -> int:
    a <<= 1
    return (a ^ 0x1B) & 0xFF if a & 0x100 else a


def _gmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _sbox() -> list[int]:
    inv = [0] * 256
    for i in range(1, 256):
        for j in range(1, 256):
            if _gmul(i, j) == 1:
                inv[i] = j
                break
    out = []
    for i in range(256):
        b = inv[i]
        s = b
        for k in range(1, 5):
            s ^= ((b << k) | (b >> (8 - k))) & 0xFF
        out.append(s ^ 0x63)
    return out


SBOX = _sbox()


def aes_expand(key: bytes) -> list[list[int]]:
    """FIPS 197, 5.2: the round keys as 4x4 byte states (column-major)."""
    nk = len(key) // 4
    nr = nk + 6
    w = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = list(w[i - 1])
        if i % nk == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        elif nk > 6 and i % nk == 4:
            t = [SBOX[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - nk], t)])
    return [sum(w[4 * r:4 * r + 4], []) for r in range(nr + 1)]


def aes_encrypt(key: bytes, block: bytes) -> bytes:
    """FIPS 197, 5.1: Cipher()."""
    rks = aes_expand(key)
    s = [a ^ b for a, b in zip(block, rks[0])]
    for rnd in range(1, len(rks)):
        s = [SBOX[b] for b in s]
        s = [s[(i + 4 * (i % 4)) % 16] for i in range(16)]      # ShiftRows
        if rnd != len(rks) - 1:
            out = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                out += [_gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                        a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                        a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                        _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2)]
            s = out
        s = [a ^ b for a, b in zip(s, rks[rnd])]
    return bytes(s)


def aes_ctr(key: bytes, ivlo: int, ivhi: int, src: bytes) -> bytes:
    """crypto/internal/fips140/aes ctrBlocks: block i is XORed with
    E(big-endian (ivhi:ivlo) + i)."""
    iv = (ivhi << 64) | ivlo
    out = bytearray()
    for i in range(0, len(src), 16):
        ks = aes_encrypt(key, ((iv + i // 16) % (1 << 128)).to_bytes(16, "big"))
        out += bytes(a ^ b for a, b in zip(src[i:i + 16], ks))
    return bytes(out)


# ------------------------------------------------------------- SHA-1 / SHA-256 (FIPS 180-4)

SHA1_INIT = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
SHA256_INIT = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]


def sha_pad(msg: bytes, block: int = 64) -> bytes:
    """FIPS 180-4, 5.1: the message, a 1 bit, zeros, and the bit length (big-endian,
    8 bytes for 64-byte blocks, 16 for 128-byte blocks)."""
    lw = block // 8
    n = len(msg)
    return msg + b"\x80" + bytes((block - lw - 1 - n) % block) + (8 * n).to_bytes(lw, "big")


def sha1_blocks(state, data: bytes) -> list[int]:
    """The SHA-1 compression function over whole 64-byte blocks (FIPS 180-4, 6.1.2)."""
    h = list(state)
    for off in range(0, len(data) - len(data) % 64, 64):
        w = list(struct.unpack(">16I", data[off:off + 64]))
        for t in range(16, 80):
            w.append(_rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1))
        a, b, c, d, e = h
        for t in range(80):
            if t < 20:
                f, k = (b & c) | (~b & d), 0x5A827999
            elif t < 40:
                f, k = b ^ c ^ d, 0x6ED9EBA1
            elif t < 60:
                f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b ^ c ^ d, 0xCA62C1D6
            tmp = (_rotl32(a, 5) + (f & M32) + e + k + w[t]) & M32
            a, b, c, d, e = tmp, a, _rotl32(b, 30), c, d
        h = [(x + y) & M32 for x, y in zip(h, (a, b, c, d, e))]
    return h


def _rotr32(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & M32


def sha256_k() -> list[int]:
    """FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots
    of the first 64 primes."""
    return [_icbrt(p << 96) & M32 for p in _primes(64)]


_SHA256_K = sha256_k()


def sha256_blocks(state, data: bytes) -> list[int]:
    """The SHA-256 compression function over whole 64-byte blocks (FIPS 180-4, 6.2.2)."""
    h = list(state)
    for off in range(0, len(data) - len(data) % 64, 64):
        w = list(struct.unpack(">16I", data[off:off + 64]))
        for t in range(16, 64):
            s0 = _rotr32(w[t - 15], 7) ^ _rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3)
            s1 = _rotr32(w[t - 2], 17) ^ _rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & M32)
        a, b, c, d, e, f, g, hh = h
        for t in range(64):
            t1 = (hh + (_rotr32(e, 6) ^ _rotr32(e, 11) ^ _rotr32(e, 25))
                  + ((e & f) ^ (~e & g)) + _SHA256_K[t] + w[t]) & M32
            t2 = ((_rotr32(a, 2) ^ _rotr32(a, 13) ^ _rotr32(a, 22))
                  + ((a & b) ^ (a & c) ^ (b & c))) & M32
            a, b, c, d, e, f, g, hh = (t1 + t2) & M32, a, b, c, (d + t1) & M32, e, f, g
        h = [(x + y) & M32 for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return h


# ------------------------------------------------------------- ChaCha20-Poly1305 (RFC 8439)

def chacha20_state(key: bytes, nonce: bytes, counter: int = 0) -> list[int]:
    """RFC 8439, 2.3: the constants, the key, the block counter and the nonce as 16
    little-endian words (what Go's setupState builds for chacha20Poly1305Seal/Open)."""
    return ([0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
            + list(struct.unpack("<8I", key)) + [counter & M32]
            + list(struct.unpack("<3I", nonce)))


def chacha20_block(state) -> bytes:
    """RFC 8439, 2.3: 20 rounds (10 column + diagonal double rounds), the input added."""
    x = list(state)

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & M32
        x[d] = _rotl32(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & M32
        x[b] = _rotl32(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & M32
        x[d] = _rotl32(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & M32
        x[b] = _rotl32(x[b] ^ x[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return struct.pack("<16I", *((a + b) & M32 for a, b in zip(x, state)))


def chacha20_xor(state, data: bytes, counter: int) -> bytes:
    """RFC 8439, 2.4: data XOR the key stream from block ``counter`` on."""
    out = bytearray()
    for i in range(0, len(data), 64):
        st = list(state)
        st[12] = (counter + i // 64) & M32
        ks = chacha20_block(st)
        out += bytes(a ^ b for a, b in zip(data[i:i + 64], ks))
    return bytes(out)


def _pad16(b: bytes) -> bytes:
    return bytes(-len(b) % 16)


def aead_tag(state, ciphertext: bytes, ad: bytes) -> bytes:
    """RFC 8439, 2.8: Poly1305 keyed by block 0 over ad | pad | ct | pad | lengths."""
    otk = chacha20_block(state)[:32]
    mac = (ad + _pad16(ad) + ciphertext + _pad16(ciphertext)
           + struct.pack("<QQ", len(ad), len(ciphertext)))
    return poly1305_tag(otk, mac)


def aead_seal(state, plaintext: bytes, ad: bytes) -> bytes:
    """RFC 8439, 2.8: ChaCha20 from counter 1, then the tag: ciphertext || tag."""
    ct = chacha20_xor(state, plaintext, 1)
    return ct + aead_tag(state, ct, ad)


def aead_open(state, sealed: bytes, ad: bytes):
    """RFC 8439, 2.8: the plaintext, or None when the tag does not match."""
    ct, tag = sealed[:-16], sealed[-16:]
    if aead_tag(state, ct, ad) != tag:
        return None
    return chacha20_xor(state, ct, 1)


# --------------------------------------------------------------------------- exp (math/exp_amd64.s)

def fma(a: float, b: float, c: float) -> float:
    """a*b + c rounded once to nearest-even (IEEE 754 fusedMultiplyAdd) for finite
    operands: the exact sum as a Fraction, rounded by int/int true division (correctly
    rounded in CPython; too large: the infinity of its sign). Infinite or NaN operands
    take the host's two-step arithmetic (the same specials: no rounding happens)."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    v = Fraction(a) * Fraction(b) + Fraction(c)
    if v == 0:
        return a * b + c              # the sign of an exact zero as IEEE 754 6.3 says
    try:
        return v.numerator / v.denominator
    except OverflowError:
        return math.inf if v > 0 else -math.inf


_LN2U = 0.69314718055966295651160180568695068359375
_LN2L = 0.28235290563031577122588448175013436025525412068e-12
_LOG2E = 1.4426950408889634073599246810018920
_EXP_OVERFLOW = 7.09782712893384e+02
# 1/k! for the Taylor terms of e^r (k = 8 .. 2 by descending order, then 1/2 = 0.5)
_EXP_TAYLOR = (2.4801587301587301587e-5, 1.9841269841269841270e-4, 1.3888888888888888889e-3,
               8.3333333333333333333e-3, 4.1666666666666666667e-2, 1.6666666666666666667e-1,
               0.5, 1.0)


def _cvtsd2si32(v: float) -> int:
    """CVTSD2SL at MXCSR's default rounding (nearest-even); out of range (or NaN): the
    integer indefinite value 0x80000000 (Intel SDM, CVTSD2SI)."""
    if not math.isfinite(v) or not -2**31 <= round(v) < 2**31:
        return -(1 << 31)
    return round(v)


def go_exp_amd64(x: float, use_fma: bool) -> float:
    """The algorithm of Go's math.archExp on amd64 (math/exp_amd64.s), step by step in
    double precision, with ``use_fma`` its FMA variant (math.useFMA): k = round(x*log2e);
    r = (x - k*ln2hi - k*ln2lo)/16 (Cody-Waite reduction, one FMA each with FMA); e^r - 1
    by the Taylor polynomial of degree 8 in Horner form (FMA: one rounding per step),
    squared four times through (y + 2)*y (= (1+y)^2 - 1), plus 1; then scaled by 2^k
    through the exponent field (two steps in the subnormal range). Specials: NaN and
    +Inf return x, -Inf returns 0, x > 709.78... overflows to +Inf."""
    if math.isnan(x) or math.isinf(x):
        return 0.0 if x < 0 else x
    if x > _EXP_OVERFLOW:
        return math.inf
    k = _cvtsd2si32(_LOG2E * x)
    kf = float(k)
    if use_fma:
        r = fma(-_LN2U, kf, x)
        r = fma(-_LN2L, kf, r)
    else:
        r = x - _LN2U * kf
        r = r - _LN2L * kf
    r *= 0.0625
    p = _EXP_TAYLOR[0]
    for c in _EXP_TAYLOR[1:]:
        p = fma(p, r, c) if use_fma else p * r + c
    y = r * p
    for i in range(4):
        t = y + 2.0
        if use_fma and i == 3:
            y = fma(t, y, 1.0)
        else:
            y = y * t
    if not use_fma:
        y = y + 1.0
    e = k + 0x3FF
    if e <= 0:
        if e < -52:
            return 0.0
        y *= _exp2_bits(e + 0x3FE)
        return y * _exp2_bits(1)
    if e >= 0x7FF:
        return math.inf
    return y * _exp2_bits(e)


def _exp2_bits(biased: int) -> float:
    """The double whose bits are ``biased << 52`` (SHLQ $52; MOVQ to X1)."""
    return struct.unpack("<d", struct.pack("<Q", (biased << 52) & M64))[0]

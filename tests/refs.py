"""Python references for the Go std kernels tests/test_packages.py runs: written from
the algorithms' specifications (RFC 1321 MD5, FIPS 197 AES, FIPS 180-4 SHA-512
constants, RFC 8439 Poly1305, CRC-32/CRC-32C as in RFC 3720 and ITU-T V.42, Curve25519
field arithmetic), each checked against a published vector or Python's own library in
the tests."""

from __future__ import annotations

import math
import struct
import zlib

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

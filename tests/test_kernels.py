"""Real kernels from the installed Go sources, run by goasm, against Python references.

The assembly is the toolchain's own (read at test time, never copied): internal/bytealg's
IndexByte, Count, memequal (bytes.Equal's kernel) and Compare/cmpstring, the runtime's
memmove and memclrNoHeapPointers, and math/big's addVV, subVV and mulAddVWW. Each file is
parsed with the include directories ``go build`` uses (its package's generated
``go_asm.h``, ``$GOROOT/pkg/include``) and linked without the runtime (references to Go
functions such as ``countGeneric`` stay undefined: reaching one would fault).

``internal/cpu.X86`` and ``runtime.memmoveBits`` are data symbols the test fills the way
Go's ``internal/cpu`` and ``runtime/cpuflags_amd64.go`` would from goasm's CPUID
(:class:`goasm.machine.state.CPUModel`, without AVX): POPCNT and the SSE levels on; ERMS/FSRM
(REP MOVSB/STOSB preferred) is switched on for some examples so those paths run too.

Calls follow Go's conventions (a local helper, independent of ``Machine.call``): ABI0
(Go's asm guide: arguments and results in the caller's frame at ``0(FP)`` = ``8(SP)`` at
entry) and ABIInternal (cmd/compile's abi-internal.md: integer arguments in AX, BX, CX,
DI, SI, R8, R9, R10, R11; results from AX; R14 = g, X15 = 0). The return address is a
sentinel with no instruction; ``run(until=sentinel)`` ends the call. Registers the
callee does not take as arguments hold random values.
"""

from __future__ import annotations

import random
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import goroot as gr
from goasm.image import TEXT_BASE
from goasm.link import LinkUnit, link
from goasm.machine.machine import Machine
from goasm.machine.state import CPUModel, implemented_features
from goasm.parse import parse_file

SENTINEL = TEXT_BASE - 0x10
STACK = 0x7F000000
STACK_SIZE = 0x10000
BUF = 0x7E000000
BUF_SIZE = 0x6000            # three 8 KiB areas: A, B (and C for math/big)
G_AREA = 0x7D000000
M64 = (1 << 64) - 1
ABI_INTERNAL_INT = ("AX", "BX", "CX", "DI", "SI", "R8", "R9", "R10", "R11")

KERNEL_FILES = (
    ("internal/bytealg", "indexbyte_amd64.s"),
    ("internal/bytealg", "count_amd64.s"),
    ("internal/bytealg", "equal_amd64.s"),
    ("internal/bytealg", "compare_amd64.s"),
    ("runtime", "memmove_amd64.s"),
    ("runtime", "memclr_amd64.s"),
    ("math/big", "arith_amd64.s"),
)

# internal/cpu field -> the CPUModel feature that makes Go set it (internal/cpu
# cpu_x86.go doinit); AVX stays off (no OSXSAVE/XGETBV), so do AVX2 and AVX-512.
CPU_FIELDS = {"POPCNT": "popcnt", "SSE3": "sse3", "SSSE3": "ssse3", "SSE41": "sse4.1",
              "SSE42": "sse4.2", "BMI1": "bmi1", "BMI2": "bmi2", "ADX": "adx", "AES": "aes",
              "PCLMULQDQ": "pclmulqdq", "SHA": "sha"}

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


class Kernels:
    """The linked kernels in one machine, with call helpers."""

    def __init__(self, goroot, go_asm_dirs):
        packages = sorted({pkg for pkg, _ in KERNEL_FILES})
        files = {(f.import_path, f.path.name): f
                 for f in gr.asm_files(goroot, packages=packages, go_asm_dirs=go_asm_dirs)}
        units = []
        self.offsets: dict[str, int] = {}
        for pkg, name in KERNEL_FILES:
            f = files[(pkg, name)]
            units.append(LinkUnit(parse_file(f.path, include_dirs=f.include_dirs), pkg))
            for d in f.include_dirs:
                h = d / "go_asm.h"
                if h.is_file():
                    for m in re.finditer(r"#define const_offsetX86Has(\w+) (\d+)",
                                         h.read_text()):
                        self.offsets[m.group(1)] = int(m.group(2))
        self.image = link(units, strict=False, data_symbols=(("internal/cpu.X86", 256),
                                                             ("runtime.memmoveBits", 8)))
        # A model without AVX (no OSXSAVE): this module runs the SSE paths; the AVX2 paths
        # of the same kernels run in the package tests with the default model.
        self.model = CPUModel.preset(features=implemented_features() - {"avx", "osxsave"})
        m = self.m = Machine(self.image, cpu_model=self.model)
        m.mem.map(STACK, STACK_SIZE, name="stack")
        m.mem.map(BUF, BUF_SIZE, name="buffers")
        m.mem.map(G_AREA, 0x1000, name="g")
        self.x86 = self.image.lookup("internal/cpu.X86").addr
        self.memmove_bits = self.image.lookup("runtime.memmoveBits").addr
        self.set_cpu(erms=False)

    def set_cpu(self, *, erms: bool) -> None:
        """internal/cpu.X86 as Go computes it from goasm's CPUID; ERMS/FSRM on request
        (and runtime.memmoveBits = repmovsPreferred with them, as on an Intel CPU)."""
        mem = self.m.mem
        mem.write(self.x86, bytes(256))
        features = self.model.features
        for field, feature in CPU_FIELDS.items():
            if field in self.offsets and feature in features:
                mem.write_u8(self.x86 + self.offsets[field], 1)
        if erms and "ERMS" in self.offsets:
            mem.write_u8(self.x86 + self.offsets["ERMS"], 1)
        mem.write_u8(self.memmove_bits, 2 if erms else 0)

    def addr(self, name: str) -> int:
        sym = self.image.lookup(name)
        assert sym is not None and sym.kind.value == "text", name
        return sym.addr

    def _prepare(self, rng) -> None:
        cpu = self.m.cpu
        cpu.regs[:] = [rng.getrandbits(64) for _ in range(16)]
        cpu.xmm[:16] = [rng.getrandbits(128) for _ in range(15)] + [0]     # X15 = 0
        cpu.set_rflags(0x202)
        cpu.regs[14] = G_AREA

    def _run(self, name: str, sp: int) -> None:
        m = self.m
        m.mem.write_u64(sp, SENTINEL)
        m.cpu.regs[4] = sp
        m.cpu.pc = self.addr(name)
        reason = m.run(until=SENTINEL, max_steps=2_000_000)
        assert reason.kind == "until", reason
        assert m.cpu.regs[4] == sp + 8, "SP not restored"
        assert m.cpu.df == 0, "DF left set"

    def call_abi0(self, name: str, frame: bytes, rng) -> bytes:
        """Call an ABI0 function with ``frame`` as its argument/result area; returns
        the area after the call."""
        self._prepare(rng)
        sp = STACK + STACK_SIZE - 0x200 - len(frame)
        sp &= ~15
        sp -= 8                              # as after a CALL from an aligned frame
        self.m.mem.write(sp + 8, frame)
        self._run(name, sp)
        return self.m.mem.read(sp + 8, len(frame))

    def call_internal(self, name: str, args, rng) -> list[int]:
        """Call an ABIInternal function with integer ``args``; returns the registers."""
        self._prepare(rng)
        for reg, value in zip(ABI_INTERNAL_INT, args):
            self.m.set_reg(reg, value & M64)
        sp = (STACK + STACK_SIZE - 0x200) & ~15
        sp -= 8
        self._run(name, sp)
        return list(self.m.cpu.regs)

    def fill(self, rng) -> None:
        self.m.mem.write(BUF, rng.randbytes(BUF_SIZE))

    def read(self, addr: int, n: int) -> bytes:
        return self.m.mem.read(addr, n)

    def write(self, addr: int, data: bytes) -> None:
        self.m.mem.write(addr, data)


@pytest.fixture(scope="module")
def k(goroot, go_asm_dirs):
    return Kernels(goroot, go_asm_dirs)


def _slice(addr: int, n: int, cap: int | None = None) -> bytes:
    return struct.pack("<QQQ", addr, n, n if cap is None else cap)


sizes = st.one_of(st.integers(0, 70), st.integers(0, 4096), st.sampled_from(
    (15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 2047, 2048, 2049,
     4095, 4096)))


# --------------------------------------------------------------------------- bytealg

@SETTINGS
@given(n=sizes, align=st.integers(0, 63), seed=st.integers(0, 2**32 - 1),
       where=st.one_of(st.none(), st.floats(0, 1)), string=st.booleans())
def test_indexbyte(k, n, align, seed, where, string):
    rng = random.Random(seed)
    k.fill(rng)
    data = bytearray(rng.randbytes(n))
    c = rng.randrange(256)
    data = data.replace(bytes([c]), bytes([c ^ 0x5A]))
    if where is not None and n:
        data[min(int(where * n), n - 1)] = c
    base = BUF + align
    k.write(base, bytes(data))
    if string:
        frame = struct.pack("<QQQQ", base, n, c | rng.getrandbits(56) << 8, M64)
        out = k.call_abi0("internal/bytealg.IndexByteString", frame, rng)
        got = struct.unpack_from("<q", out, 24)[0]
    else:
        frame = _slice(base, n, n + 5) + struct.pack("<QQ", c, M64)
        out = k.call_abi0("internal/bytealg.IndexByte", frame, rng)
        got = struct.unpack_from("<q", out, 32)[0]
    assert got == bytes(data).find(bytes([c]))


@SETTINGS
@given(n=sizes, align=st.integers(0, 63), seed=st.integers(0, 2**32 - 1),
       density=st.sampled_from((0.0, 0.01, 0.1, 0.5, 1.0)))
def test_count(k, n, align, seed, density):
    rng = random.Random(seed)
    k.fill(rng)
    c = rng.randrange(256)
    data = bytes(c if rng.random() < density else (c + 1 + rng.randrange(255)) % 256
                 for _ in range(n))
    base = BUF + align
    k.write(base, data)
    frame = _slice(base, n) + struct.pack("<QQ", c, M64)
    out = k.call_abi0("internal/bytealg.Count", frame, rng)
    assert struct.unpack_from("<q", out, 32)[0] == data.count(bytes([c]))


@SETTINGS
@given(n=sizes, align_a=st.integers(0, 63), align_b=st.integers(0, 63),
       seed=st.integers(0, 2**32 - 1), diff=st.one_of(st.none(), st.floats(0, 1)),
       same=st.booleans())
def test_memequal(k, n, align_a, align_b, seed, diff, same):
    rng = random.Random(seed)
    k.fill(rng)
    a = bytearray(rng.randbytes(n))
    b = bytearray(a)
    if diff is not None and n:
        b[min(int(diff * n), n - 1)] ^= 1 << rng.randrange(8)
    pa, pb = BUF + align_a, BUF + 0x2000 + align_b
    if same:
        pb = pa
        b = a
    k.write(pa, bytes(a))
    k.write(pb, bytes(b))
    regs = k.call_internal("runtime.memequal", (pa, pb, n), rng)
    assert regs[0] & 0xFF == (1 if a == b else 0)


@SETTINGS
@given(na=sizes, nb=sizes, align_a=st.integers(0, 63), align_b=st.integers(0, 63),
       seed=st.integers(0, 2**32 - 1), prefix=st.booleans(), string=st.booleans())
def test_compare(k, na, nb, align_a, align_b, seed, prefix, string):
    rng = random.Random(seed)
    k.fill(rng)
    a = rng.randbytes(na)
    b = rng.randbytes(nb)
    if prefix:                                   # long common prefixes
        b = a[:nb] + b[na:] if nb > na else a[:nb]
        if b and rng.random() < 0.5:
            i = rng.randrange(len(b))
            b = b[:i] + bytes([b[i] ^ 0x80]) + b[i + 1:]
    pa, pb = BUF + align_a, BUF + 0x2000 + align_b
    k.write(pa, a)
    k.write(pb, b)
    if string:
        regs = k.call_internal("runtime.cmpstring", (pa, na, pb, nb), rng)
    else:
        regs = k.call_internal("internal/bytealg.Compare", (pa, na, na + 3, pb, nb, nb), rng)
    want = (a > b) - (a < b)
    assert regs[0] == want & M64


# --------------------------------------------------------------------------- runtime

@SETTINGS
@given(n=sizes, src_off=st.integers(0, 4200), dst_off=st.integers(0, 4200),
       seed=st.integers(0, 2**32 - 1), overlap=st.booleans(), erms=st.booleans())
def test_memmove(k, n, src_off, dst_off, seed, overlap, erms):
    rng = random.Random(seed)
    k.fill(rng)
    k.set_cpu(erms=erms)
    if overlap:      # both inside one 8 KiB area, overlapping when the offsets are near
        src = BUF + src_off % 0x800
        dst = BUF + (src - BUF + rng.randrange(-n - 8, n + 9)) % 0x800
        src, dst = min(src, BUF + 0x2000 - n), min(dst, BUF + 0x2000 - n)
    else:
        src, dst = BUF + src_off % (0x2000 - n + 1), BUF + 0x2000 + dst_off % (0x2000 - n + 1)
    before = bytearray(k.read(BUF, BUF_SIZE))
    moved = bytes(before[src - BUF:src - BUF + n])
    k.call_internal("runtime.memmove", (dst, src, n), rng)
    before[dst - BUF:dst - BUF + n] = moved
    assert k.read(BUF, BUF_SIZE) == bytes(before)
    k.set_cpu(erms=False)


@SETTINGS
@given(n=sizes, off=st.integers(0, 4200), seed=st.integers(0, 2**32 - 1),
       erms=st.booleans())
def test_memclr(k, n, off, seed, erms):
    rng = random.Random(seed)
    k.fill(rng)
    k.set_cpu(erms=erms)
    ptr = BUF + off % (0x2000 - n + 1)
    before = bytearray(k.read(BUF, BUF_SIZE))
    k.call_internal("runtime.memclrNoHeapPointers", (ptr, n), rng)
    before[ptr - BUF:ptr - BUF + n] = bytes(n)
    assert k.read(BUF, BUF_SIZE) == bytes(before)
    k.set_cpu(erms=False)


# --------------------------------------------------------------------------- math/big

words = st.lists(st.one_of(st.integers(0, M64), st.sampled_from((0, 1, M64, M64 - 1))),
                 max_size=40)


def _words(ws) -> bytes:
    return struct.pack(f"<{len(ws)}Q", *ws)


@SETTINGS
@given(x=words, seed=st.integers(0, 2**32 - 1), sub=st.booleans(), data=st.data())
def test_add_sub_vv(k, x, seed, sub, data):
    rng = random.Random(seed)
    n = len(x)
    y = data.draw(st.lists(st.integers(0, M64), min_size=n, max_size=n))
    k.fill(rng)
    px, py, pz = BUF, BUF + 0x2000, BUF + 0x4000
    k.write(px, _words(x))
    k.write(py, _words(y))
    frame = _slice(pz, n) + _slice(px, n) + _slice(py, n) + struct.pack("<Q", M64)
    out = k.call_abi0("math/big.subVV" if sub else "math/big.addVV", frame, rng)
    z = struct.unpack(f"<{n}Q", k.read(pz, 8 * n))
    xv = sum(w << (64 * i) for i, w in enumerate(x))
    yv = sum(w << (64 * i) for i, w in enumerate(y))
    total = xv - yv if sub else xv + yv
    want_c = 1 if (total < 0 or total >> (64 * n)) else 0
    total %= 1 << (64 * n) if n else 1
    assert list(z) == [(total >> (64 * i)) & M64 for i in range(n)]
    assert struct.unpack_from("<Q", out, 72)[0] == want_c


@SETTINGS
@given(x=words, m=st.integers(0, M64), a=st.integers(0, M64), seed=st.integers(0, 2**32 - 1))
def test_mul_add_vww(k, x, m, a, seed):
    rng = random.Random(seed)
    n = len(x)
    k.fill(rng)
    px, pz = BUF, BUF + 0x2000
    k.write(px, _words(x))
    frame = _slice(pz, n) + _slice(px, n) + struct.pack("<QQQ", m, a, M64)
    out = k.call_abi0("math/big.mulAddVWW", frame, rng)
    z = struct.unpack(f"<{n}Q", k.read(pz, 8 * n))
    xv = sum(w << (64 * i) for i, w in enumerate(x))
    total = xv * m + a
    assert list(z) == [(total >> (64 * i)) & M64 for i in range(n)]
    assert struct.unpack_from("<Q", out, 64)[0] == total >> (64 * n)


def test_kernels_take_the_sse_paths(k):
    """internal/cpu.X86 as filled: POPCNT and SSE4.2 on, AVX2 off (CPUID of goasm)."""
    mem = k.m.mem
    assert mem.read_u8(k.x86 + k.offsets["POPCNT"]) == 1
    assert mem.read_u8(k.x86 + k.offsets["AVX2"]) == 0
    assert "avx2" not in k.model.features

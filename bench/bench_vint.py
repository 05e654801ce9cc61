"""Benchmark: an integer SIMD kernel at 256 bits (AVX2, VEX) and the same work at 128
bits (legacy SSE), ``bench/programs/vintloop.s``.

The loop mixes a 1 KiB buffer into four accumulators with the instruction mix of
ChaCha/BLAKE-style and byte-scanning kernels (VPADDD, VPXOR, VPSHUFB, shifts, VPOR,
VPADDUSB, VPMAXUB, VPCMPEQB, VPMULLD, VPSADBW, VPUNPCKLBW, VPALIGNR, VPADDQ, loads and
stores). Each variant is loaded with the real loader (``goasm.api.load``, no runtime),
called on a fresh stack and timed five times per engine: translated (default) and
per-instruction closures (``GOASM_ENGINE=closure``). Prints the median instructions per
second of each; the 256-bit kernel does twice the work per instruction. Usage::

    python bench/bench_vint.py [rounds]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine_env, median_of, report, timed  # noqa: E402

PROGRAM = HERE / "programs" / "vintloop.s"
STACK = 0x7F000000
RETURN = 0xDEAD0000       # not code: run(until=RETURN) stops when the function returns


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
            m.mem.write(image.lookup("buf<>").addr, bytes(range(256)) * 4)
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
    for name, label in (("vintloop256", "256-bit AVX2 kernel"),
                        ("vintloop128", "128-bit SSE kernel")):
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

"""Benchmark: a memory-heavy loop (copy and compare, ``bench/programs/memloop.s``).

Each round reads, updates and writes 1024 quadwords, copies them to a second buffer
and compares the buffers again (about 14 K instructions per round, 6 K memory
accesses); the function is loaded with the real loader (``goasm.api.load``, no
runtime), called on a fresh stack and timed five times per engine: translated
(default) and per-instruction closures (``GOASM_ENGINE=closure``). Prints the median
instructions/second. Usage::

    python bench/bench_memory.py [rounds]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine_env, median_of, report, timed  # noqa: E402

PROGRAM = HERE / "programs" / "memloop.s"
STACK = 0x7F000000
RETURN = 0xDEAD0000       # not code: run(until=RETURN) stops when the function returns


def rate(rounds: int, engine: str | None):
    from goasm.api import load
    from goasm.machine.machine import Machine

    image = load([PROGRAM], runtime=False, defines={"ROUNDS": str(rounds)})
    entry = image.lookup("main.memloop").addr
    with machine_env(engine):
        m = Machine(image)
        m.mem.map(STACK, 0x10000)

        def once():
            m.cpu.regs[4] = STACK + 0x8000
            m.push(RETURN)
            m.cpu.pc = entry
            m.steps = 0
            dt = timed(lambda: m.run(until=RETURN))
            if m.mem.read_u64(m.cpu.regs[4]) != rounds:
                raise SystemExit(f"memloop ({engine or 'default'}): wrong result")
            return m.steps / dt
        median, values = median_of(once)
    return median, values, m.steps


def main(argv: list[str]) -> int:
    rounds = int(argv[1]) if len(argv) > 1 else 40
    translated, values, steps = rate(rounds, None)
    sys.stdout.write(f"memory loop (copy and compare): {steps} instructions per run\n")
    report("goasm translated", translated, values, "M instr/s", 1e6)
    median, values, _ = rate(rounds, "closure")
    report("goasm closures (GOASM_ENGINE=closure)", median, values, "M instr/s", 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

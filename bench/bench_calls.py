"""Benchmark: call-heavy recursion with goroutine stack growth
(``examples/recursion/recursion.s``: sum(20000) through real frames, so the stack-split
check calls ``runtime·morestack`` and the goroutine stack is copied ten times).

The whole program runs (start-up, recursion, printing) five times per engine from a
freshly started process image; the median instructions/second is printed, for the
translated engine (default) and the per-instruction closures
(``GOASM_ENGINE=closure``). Stack copies are done by the Python runtime model and
count as one step each, so they weigh on this figure. Usage::

    python bench/bench_calls.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine_env, median_of, report, timed  # noqa: E402

PROGRAM = HERE.parent / "examples" / "recursion" / "recursion.s"


def rate(engine: str | None):
    from goasm import api

    steps = [0]

    def once():
        with machine_env(engine):
            out = io.BytesIO()
            proc = api.start([PROGRAM], stdout=out)
            dt = timed(lambda: proc.machine.run())
        if out.getvalue() != b"200010000\n":
            raise SystemExit(f"recursion ({engine or 'default'}): wrong output {out.getvalue()!r}")
        steps[0] = proc.machine.steps
        return proc.machine.steps / dt
    median, values = median_of(once)
    return median, values, steps[0]


def main(argv: list[str]) -> int:
    translated, values, steps = rate(None)
    sys.stdout.write(f"call-heavy recursion with stack growth: {steps} instructions per run\n")
    report("goasm translated", translated, values, "M instr/s", 1e6)
    median, values, _ = rate("closure")
    report("goasm closures (GOASM_ENGINE=closure)", median, values, "M instr/s", 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

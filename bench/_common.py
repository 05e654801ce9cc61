"""Shared helpers of the benchmarks: medians of repeated runs and a uniform report line.

Every benchmark script runs in one process, repeats its measurement :data:`RUNS` times
and prints the median (the figure the README quotes) with the individual runs, so the
noise of a shared machine is visible. ``GOASM_BENCH_RUNS`` changes the repeat count.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

RUNS = int(os.environ.get("GOASM_BENCH_RUNS", "5"))


def median_of(fn, runs: int = RUNS) -> tuple[float, list[float]]:
    """Call ``fn()`` (returning a number) ``runs`` times: (median, all values)."""
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def timed(fn) -> float:
    """Wall-clock seconds of one ``fn()`` call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(label: str, median: float, values, unit: str, scale: float = 1.0,
           fmt: str = "{:.2f}") -> None:
    """``label: median unit (runs: ...)`` on stdout."""
    runs = ", ".join(fmt.format(v / scale) for v in values)
    sys.stdout.write(f"{label}: {fmt.format(median / scale)} {unit} (runs: {runs})\n")
    sys.stdout.flush()


def machine_env(engine: str | None):
    """A context manager selecting the execution engine (``GOASM_ENGINE``) for the
    machines built inside it."""
    import contextlib

    @contextlib.contextmanager
    def _env():
        old = os.environ.get("GOASM_ENGINE")
        if engine is None:
            os.environ.pop("GOASM_ENGINE", None)
        else:
            os.environ["GOASM_ENGINE"] = engine
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("GOASM_ENGINE", None)
            else:
                os.environ["GOASM_ENGINE"] = old
    return _env()

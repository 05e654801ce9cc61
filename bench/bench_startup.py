"""Benchmark: start-up of ``goasm run examples/hello/hello.s`` (whole process).

Each figure is the median of five runs of a fresh process (wall clock, from spawning
the interpreter until it exits, having printed ``hello, world``):

- ``warm``: the IR and grammar caches (:mod:`goasm.cache`) hold the files;
- ``cold``: both caches empty (a new cache folder per run): preprocess, Lark tables,
  parse and cache writes all happen in the process;
- ``no cache``: ``GOASM_NO_CACHE=1``.

Python's own bytecode cache is on, as in an installed goasm (``PYTHONDONTWRITEBYTECODE``
is removed and ``PYTHONPYCACHEPREFIX`` points into the scratch folder; one untimed run
fills it). The scratch cache folder is deleted afterwards; the user's cache is not
touched. The in-process split (imports, load, machine, run to ``main.main``) of a warm
run is printed as well. Usage::

    python bench/bench_startup.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import median_of, report  # noqa: E402

HELLO = HERE.parent / "examples" / "hello" / "hello.s"

_SPLIT = r"""
import time, io
t0 = time.perf_counter()
from goasm import api
from goasm.machine.machine import Machine
t1 = time.perf_counter()
image = api.load([HELLO])
t2 = time.perf_counter()
proc = api.start([HELLO], stdout=io.BytesIO())
t3 = time.perf_counter()
main = proc.machine.image.lookup("main.main").addr
proc.machine.run(until=main)
t4 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f} {t4 - t3:.4f} {proc.machine.steps}")
"""


def command() -> list[str]:
    script = Path(sys.executable).parent / "goasm"
    if script.exists():
        return [str(script), "run", str(HELLO)]
    return [sys.executable, "-m", "goasm", "run", str(HELLO)]


def environment(scratch: Path, cache: Path | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("GOASM_NO_CACHE", None)
    env.pop("GOASM_ENGINE", None)
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    if cache is None:
        env["GOASM_NO_CACHE"] = "1"
    else:
        env["GOASM_CACHE_DIR"] = str(cache)
    return env


def run_once(env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(command(), env=env, capture_output=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0 or out.stdout != b"hello, world\n":
        raise SystemExit(f"goasm run failed: {out.returncode} {out.stdout!r} {out.stderr!r}")
    return dt


def main(argv: list[str]) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="goasm-bench-startup-"))
    try:
        warm_cache = scratch / "warm"
        run_once(environment(scratch, warm_cache))          # fills pyc and caches
        median, values = median_of(lambda: run_once(environment(scratch, warm_cache)))
        report("goasm run hello.s, warm caches", median, values, "s", fmt="{:.3f}")
        counter = iter(range(1000))
        median, values = median_of(
            lambda: run_once(environment(scratch, scratch / f"cold{next(counter)}")))
        report("goasm run hello.s, cold caches", median, values, "s", fmt="{:.3f}")
        median, values = median_of(lambda: run_once(environment(scratch, None)))
        report("goasm run hello.s, GOASM_NO_CACHE=1", median, values, "s", fmt="{:.3f}")
        env = environment(scratch, warm_cache)
        code = f"HELLO = {str(HELLO)!r}\n" + _SPLIT
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        imports, load, start, run, steps = out.stdout.split()
        sys.stdout.write(f"warm split: imports {float(imports):.3f} s, load (parse+link) "
                         f"{float(load):.3f} s, start (machine, process) {float(start):.3f} s, "
                         f"run to main.main {float(run):.3f} s ({steps} instructions)\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

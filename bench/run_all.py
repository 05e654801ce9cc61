"""Run every benchmark, each in its own process, and print what they print.

    python bench/run_all.py            # all of them (the README's figures)
    python bench/run_all.py int_loop memory

Each script repeats its measurement five times and prints medians (see
``bench/_common.py``); ``GOASM_BENCH_RUNS`` changes the count. The machines these
figures come from are shared: run it when the machine is otherwise idle, or expect
noise.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("int_loop", "memory", "calls", "kernels", "startup", "parse", "decode", "vint", "vfp",
           "std_simd")


def main(argv: list[str]) -> int:
    names = argv[1:] or list(SCRIPTS)
    status = 0
    for name in names:
        script = HERE / f"bench_{name}.py"
        sys.stdout.write(f"== {script.name}\n")
        sys.stdout.flush()
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)]).returncode
        sys.stdout.write(f"   ({time.perf_counter() - t0:.1f} s, exit {rc})\n")
        status = status or rc
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

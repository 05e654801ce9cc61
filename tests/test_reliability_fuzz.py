"""The CLI fuzzer (tests/fuzz_cli.py) with a fixed budget: random programs through the
whole ``goasm run`` path end with the README's exit statuses, never an internal error,
and all of them together stay under 500 MB of host memory (the peak resident size of
the one process that runs them, measured with wait4).

``GOASM_FUZZ_EXAMPLES`` (default 150) and ``GOASM_FUZZ_SEED`` (default 18) change the
budget and the programs; a failure prints the shrunk program that caused it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_RSS = 500 << 20


def test_cli_fuzz_has_no_internal_errors(tmp_path):
    env = dict(os.environ, GOASM_CACHE_DIR=str(tmp_path / "cache"),
               GOASM_FUZZ_EXAMPLES=os.environ.get("GOASM_FUZZ_EXAMPLES", "150"),
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    with open(tmp_path / "out.txt", "w+b") as out:
        proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_cli.py")], stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        report = out.read().decode("utf-8", "replace")
    assert proc.returncode == 0, report[-20000:]
    assert "no internal error" in report, report[-5000:]
    assert usage.ru_maxrss * 1024 < MAX_RSS, (usage.ru_maxrss, report[-2000:])

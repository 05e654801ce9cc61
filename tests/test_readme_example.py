"""The README's "Testing your assembly" example (examples/testing) runs and passes: a
``.s`` + ``.go`` pair and a pytest file using goasm's pytest plugin (the
``goasm_machine`` fixture) and goasm.strategies. It is run the way a user runs it, as
its own pytest session; the plugin comes from the ``pytest11`` entry point when goasm
is installed, or is named with ``-p`` otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "testing"


def _plugin_registered() -> bool:
    return any(ep.value == "goasm.pytest_plugin"
               for ep in metadata.entry_points(group="pytest11"))


def run_example(tmp_path, *extra):
    args = [sys.executable, "-m", "pytest", str(EXAMPLE / "test_arith.py"), "-q",
            "-p", "no:cacheprovider", *extra]
    if not _plugin_registered():
        args += ["-p", "goasm.pytest_plugin"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=600)


def test_readme_example_passes(tmp_path):
    res = run_example(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 passed" in res.stdout


def test_readme_example_catches_a_broken_function(tmp_path):
    """The same tests fail, naming the file and line, on a copy of the assembly whose
    Add forgets to write ``ok``: the checker's result-unwritten finding."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in EXAMPLE.iterdir():
        if f.suffix in (".s", ".go", ".py"):
            text = f.read_text()
            if f.suffix == ".s":
                text = text.replace("\tSETOC\tok+24(FP)", "")
            (broken / f.name).write_text(text)
    args = [sys.executable, "-m", "pytest", str(broken / "test_arith.py"), "-q", "-x",
            "-p", "no:cacheprovider", "-k", "test_add"]
    if not _plugin_registered():
        args += ["-p", "goasm.pytest_plugin"]
    res = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "RET without writing to 1-byte ok+24(FP)" in res.stdout
    assert "arith_amd64.s:" in res.stdout


def test_plugin_entry_point_is_declared():
    text = (REPO / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\ngoasm = "goasm.pytest_plugin"' in text
    if not _plugin_registered():
        pytest.skip("goasm is not installed with its entry points in this environment")

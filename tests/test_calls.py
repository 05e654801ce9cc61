"""goasm.Machine.call: assembly functions called the way Go calls them.

The oracle is the real toolchain: ``tests/data/native_calls`` holds a ``.s`` with one or
more functions per argument kind (integers of every width, bool, uintptr,
unsafe.Pointer, pointers, slices, strings, arrays of those, with Go's padding between
them), their Go declarations, and a Go program that calls them natively on cases read
from a file. Hypothesis draws the cases (with goasm.strategies, from the same
declarations); goasm's call() and the native binary must print the same results. The
layout itself (offsets, argument sizes) is checked against ``go vet``'s asmdecl on
random signatures.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
import goasm.strategies as gst
from goasm import gosig
from goasm.calls import CallError, CallExit, Ref, Slice
from goasm.errors import LimitError

import native

REPO = Path(__file__).resolve().parent.parent
NATIVE_DIR = REPO / "tests" / "data" / "native_calls"
CASES_PER_FUNCTION = 30


def quiet_machine(files, **kw):
    return goasm.Machine(goasm.load(files), stdout=io.BytesIO(), stderr=io.BytesIO(), **kw)


@pytest.fixture(scope="module")
def native_machine():
    return quiet_machine([NATIVE_DIR / "calls_amd64.s"])


# ----------------------------------------------------------------------------- encoding
# The line format main.go reads and writes (see its comment).

def _items(v):
    return (v.items, v.cap) if isinstance(v, Slice) else (v, len(v))


def enc_item(t, v) -> str:
    if t.kind == "int":
        return str(v)
    if t.kind == "bool":
        return "1" if v else "0"
    if t.kind == "string" or (t.kind == "ptr" and t.elem is None):
        return "x" + bytes(v).hex()
    if t.kind == "ptr":
        return str(v.value if isinstance(v, Ref) else v)
    if t.kind == "array":
        return ",".join(enc_item(t.elem, x) for x in v)
    if t.kind == "slice":
        items, cap = _items(v)
        if t.is_bytes:
            return f"x{bytes(items).hex()};{cap}"
        return ",".join(enc_item(t.elem, x) for x in items) + f";{cap}"
    raise AssertionError(t)


def enc_result(t, v) -> str:
    if t.kind in ("string",) or (t.kind == "slice" and t.is_bytes):
        return "x" + bytes(v).hex()
    return enc_item(t, v)


def _fix(name, args):
    """Arguments main.go can rebuild: peek reads exactly len(u) bytes."""
    if name == "peek":
        return (args[0], len(args[0]))
    return args


def goasm_line(machine, name, sig, args) -> str:
    res = machine.invoke(name, *args)
    out = [enc_result(p.type, v) for p, v in zip(sig.results, res.results)]
    if name == "deref":
        out += [str(a.value) for a in res.args]
    if name == "rev":
        out.append("x" + bytes(res.args[0]).hex())
    return "|".join([name, *out])


# ----------------------------------------------------------------------------- native

def test_call_matches_native_go_on_hypothesis_inputs(native_machine, tmp_path):
    """Every function of calls_amd64.s, on CASES_PER_FUNCTION hypothesis inputs each:
    goasm's results (and what the function wrote through its arguments) equal the
    natively built program's."""
    decls = gosig.parse_go_file(NATIVE_DIR / "calls.go").funcs
    cases = []
    for name, sig in decls.items():
        @settings(max_examples=CASES_PER_FUNCTION, derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.just(name), gst.arguments(sig, max_len=12))
        def collect(fname, args):
            cases.append((fname, _fix(fname, args)))
        collect()
    lines, expected = [], []
    for name, args in cases:
        sig = decls[name]
        lines.append("|".join([name, *(enc_item(p.type, a) for p, a in zip(sig.params, args))]))
        expected.append(goasm_line(native_machine, name, sig, args))
    binary = native.build_native(NATIVE_DIR)
    inputs = tmp_path / "cases.txt"
    inputs.write_text("\n".join(lines) + "\n")
    out, err, status = native.run_native(binary, [str(inputs)])
    assert status == 0, err.decode()
    got = out.decode().splitlines()
    assert len(got) == len(expected) == len(cases)
    mismatches = [(c, g, e) for c, g, e in zip(lines, got, expected) if g != e]
    assert not mismatches, "\n".join(f"in: {c}\n  native: {g}\n  goasm:  {e}"
                                      for c, g, e in mismatches[:10])
    assert {c[0] for c in cases} == set(decls)


# ----------------------------------------------------------------------------- layout vs vet

_VET_TYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "int",
              "uint", "uintptr", "bool", "float32", "float64", "complex64", "complex128",
              "string", "[]byte", "[]int32", "*int64", "unsafe.Pointer", "[3]uint16",
              "[2]int64", "[1]bool", "[2]string", "struct{ a int8; b int64; c int16 }",
              "[0]int64"]

_WIDTH_OPS = {1: "MOVB", 2: "MOVW", 4: "MOVL", 8: "MOVQ"}


def _asm_for(name, sig) -> str:
    lines = [f"TEXT ·{name}(SB), NOSPLIT, $0-{sig.args_size}"]
    for slot in sig.slots():
        op = _WIDTH_OPS.get(slot.size)
        if op is None:
            continue
        if slot.what in ("float32",):
            op = "MOVSS"
        elif slot.what in ("float64",):
            op = "MOVSD"
        elif slot.what.startswith("real(complex64") or slot.what.startswith("imag(complex64"):
            op = "MOVSS"
        elif slot.what.startswith(("real(complex128", "imag(complex128")):
            op = "MOVSD"
        reg = "X0" if op in ("MOVSS", "MOVSD") else "AX"
        if slot.result:
            lines.append(f"\t{op}\t{reg}, {slot.name}+{slot.offset}(FP)")
        else:
            lines.append(f"\t{op}\t{slot.name}+{slot.offset}(FP), {reg}")
    lines.append("\tRET")
    return "\n".join(lines) + "\n"


def test_frame_layout_agrees_with_go_vet():
    """Random signatures (hypothesis): goasm's offsets and argument sizes, written into
    assembly as ``name+off(FP)`` and ``$0-size``, pass go vet's asmdecl check (which
    computes them with go/types). One vet run over all of them."""
    sigs = []

    @settings(max_examples=80, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(_VET_TYPES), max_size=6),
           st.lists(st.sampled_from(_VET_TYPES), max_size=3))
    def collect(params, results):
        sigs.append((params, results))
    collect()
    assert len(sigs) >= 40
    go = native.require_go()
    decls, asm = ["package main", "", 'import "unsafe"', "", "var _ unsafe.Pointer", ""], [
        '#include "textflag.h"', ""]
    for i, (params, results) in enumerate(sigs):
        ps = ", ".join(f"p{j} {t}" for j, t in enumerate(params))
        rs = ", ".join(f"r{j} {t}" for j, t in enumerate(results))
        text = f"func f{i}({ps}) ({rs})"
        decls.append(text)
        asm.append(_asm_for(f"f{i}", gosig.parse_signature(text)))
    decls.append("func main() {}")
    with tempfile.TemporaryDirectory(prefix="goasm-vet-") as tmp:
        d = Path(tmp)
        (d / "go.mod").write_text("module example\n\ngo 1.27\n")
        (d / "decl.go").write_text("\n".join(decls) + "\n")
        (d / "f_amd64.s").write_text("\n".join(asm))
        env = native._go_env(native.cache_root())
        proc = subprocess.run([go, "vet", "."], cwd=d, capture_output=True, text=True,
                              env=env, timeout=native.BUILD_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]


# ----------------------------------------------------------------------------- behaviour

ADD_S = REPO / "examples" / "testing" / "arith_amd64.s"


@pytest.fixture(scope="module")
def arith():
    return quiet_machine([ADD_S])


def test_call_names_and_values(arith):
    assert arith.call("Add", 2, 3) == (5, True)
    assert arith.call("·Add", -1, -2) == (-3, True)
    assert arith.call("main.Add", 2**63 - 1, 1) == (-2**63, False)
    with pytest.raises(CallError, match=r"argument a \(int64\): 18446744073709551615 is out "
                       r"of range for int64"):
        arith.call("Add", 2**64 - 1, 0)                          # never silently wrapped
    assert arith.call("Sum", []) == 0
    assert arith.call("Sum", None) == 0                          # a nil slice
    assert arith.call("Sum", Slice([1, 2], cap=9)) == 3
    assert arith.call("IndexByte", "héllo", ord("l")) == 3     # str is UTF-8


def test_call_with_explicit_signature(arith):
    # The same code seen through another declaration: a (uint64, uint64) pair.
    assert arith.call("Add", 1, 2, sig="func(a, b uint64) (uint64, bool)") == (3, True)


def test_invoke_reports_steps_args_and_sp(arith):
    res = arith.invoke("IndexByte", Slice(b"abc", cap=8), ord("c"))
    assert res.value == 2 and res.results == (2,)
    assert res.args == (b"abc", ord("c"))
    assert res.steps > 5 and res.findings == ()
    assert res.sp % 16 == 0                     # the argument area is 16-byte aligned


def test_errors(arith, tmp_path):
    with pytest.raises(CallError, match="arguments expected"):
        arith.call("Add", 1)
    with pytest.raises(CallError, match="no function"):
        arith.call("Nope")
    src = tmp_path / "nodecl.s"
    src.write_text('#include "textflag.h"\nTEXT ·f(SB), NOSPLIT, $0-8\n\tRET\n')
    with pytest.raises(CallError, match="no Go declaration"):
        quiet_machine([src]).call("f", 1)


def test_exit_and_step_limit(tmp_path):
    src = tmp_path / "x.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT ·quit(SB), NOSPLIT, $0-8\n\tMOVQ code+0(FP), DI\n\tMOVQ $231, AX\n"
                   "\tSYSCALL\n\tRET\n"
                   "TEXT ·spin(SB), NOSPLIT, $0-0\nl:\n\tJMP l\n")
    (tmp_path / "x.go").write_text("package main\nfunc quit(code int)\nfunc spin()\n")
    m = quiet_machine([src])
    with pytest.raises(CallExit) as info:
        m.call("quit", 3)
    assert info.value.status == 3
    with pytest.raises(LimitError, match="did not return"):
        m.call("spin", max_steps=1000)


RECURSION = REPO / "examples" / "recursion" / "recursion.s"


def test_deep_call_grows_the_goroutine_stack():
    """sum(n) recurses n frames of 128 bytes on an 8 KiB goroutine stack: the stack-split
    prologue calls morestack, newstack copies the stack, and the results come back."""
    m = quiet_machine([RECURSION])
    res = m.invoke("sum", 3000)
    assert res.value == 3000 * 3001 // 2
    growth = [e for e in m.model.events if e.kind == "stack_growth"]
    assert len(growth) >= 5
    assert res.sp >= growth[-1].new_lo and res.sp < growth[-1].new_hi
    # The next call starts from the bootstrapped state again: no growth left over.
    assert m.call("sum", 3) == 6
    assert not [e for e in m.model.events if e.kind == "stack_growth"]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 400), gst.call_states())
def test_stack_growth_at_any_depth(n, state):
    """Whatever the stack already holds and whatever garbage the scratch registers
    hold, sum(n) is right (growth happens at different depths)."""
    m = _recursion_machine()
    assert m.call("sum", n, state=state) == n * (n + 1) // 2


def _recursion_machine(cache={}):  # noqa: B006 - one machine for the examples
    if "m" not in cache:
        cache["m"] = quiet_machine([RECURSION])
    return cache["m"]


def test_fresh_false_keeps_memory(tmp_path):
    src = tmp_path / "ctr.s"
    src.write_text('#include "textflag.h"\n'
                   "GLOBL ·counter(SB), NOPTR, $8\n"
                   "TEXT ·bump(SB), NOSPLIT, $0-8\n\tINCQ ·counter(SB)\n"
                   "\tMOVQ ·counter(SB), AX\n\tMOVQ AX, ret+0(FP)\n\tRET\n")
    (tmp_path / "ctr.go").write_text("package main\nfunc bump() int\n")
    m = quiet_machine([src])
    assert [m.call("bump") for _ in range(3)] == [1, 1, 1]
    assert [m.call("bump", fresh=False) for _ in range(3)] == [2, 3, 4]
    m.reset()
    assert m.call("bump", fresh=False) == 1


def test_abiinternal_calls_use_registers(tmp_path):
    src = tmp_path / "r.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT ·addr<ABIInternal>(SB), NOSPLIT, $0\n"
                   "\tADDQ BX, AX\n\tMOVQ CX, BX\n\tADDQ DI, BX\n\tRET\n"
                   "TEXT ·slen<ABIInternal>(SB), NOSPLIT, $0\n"
                   "\tMOVQ BX, AX\n\tMOVSD X0, X1\n\tMOVSD X1, X0\n\tRET\n")
    (tmp_path / "r.go").write_text("package main\nfunc addr(a, b int64, s string) (int64, int)\n"
                                   "func slen(s string, f float64) (int, float64)\n")
    m = quiet_machine([src])
    # s arrives in CX (ptr) and DI (len): the second result is ptr + len.
    total, end = m.call("addr", 40, 2, "abc")
    assert total == 42 and end > 3
    assert m.call("slen", "hello", 2.5) == (5, 2.5)


def test_snapshot_restore_is_cheap_and_exact(arith):
    arith.reset()
    snap = arith.snapshot()
    before = arith.mem.read(arith.cpu.regs[4] - 64, 96)
    arith.call("Add", 1, 2, fresh=False)
    arith.restore(snap)
    assert arith.mem.read(arith.cpu.regs[4] - 64, 96) == before
    assert arith.call("Add", 7, 8) == (15, True)


def test_process_start_parameters(tmp_path):
    src = tmp_path / "a.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT ·argc(SB), NOSPLIT, $0-8\n\tMOVL runtime·argc(SB), AX\n"
                   "\tMOVQ AX, ret+0(FP)\n\tRET\n")
    (tmp_path / "a.go").write_text("package main\nfunc argc() int\n")
    m = goasm.Machine(goasm.load([src]), argv=["x", "y"], env=["A=1"], cpu="amd",
                      stdout=io.BytesIO(), stderr=io.BytesIO())
    assert m.call("argc") == 3
    assert m.cpu_model.vendor == "AuthenticAMD"


def test_go_signature_parser_handles_real_declarations():
    gf = gosig.parse_go_source(
        "package p\n\nimport \"unsafe\"\n\nconst N = 2 << 1\n\n"
        "type (\n\tPoint struct{ X, Y int32 }\n\tID = uint16\n)\n\n"
        "type Grid [N]Point\n\n"
        "var f = func() {}\n\n"
        "//go:noescape\nfunc scan(p unsafe.Pointer, g Grid, id ID, xs ...int) (n int, err error)\n"
        "func body(a int) int {\n\treturn a\n}\n"
        "func (p Point) Method() int\n")
    sig = gf.funcs["scan"]
    assert gf.bodyless == {"scan"}
    assert [(p.name, p.offset) for p in sig.params] == [("p", 0), ("g", 8), ("id", 40),
                                                        ("xs", 48)]
    assert sig.variadic and sig.args_size == 96
    assert str(sig.slots()[1]) == "g_0_X+8(FP)"
    assert [s.name for s in sig.result_slots()] == ["n", "err_type", "err_data"]
    assert "Method" not in gf.funcs

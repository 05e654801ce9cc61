"""goasm.strategies, and the properties they were made for: Go values survive the trip
into emulated memory and back; every function returns with SP = entry SP + 8 and BP
preserved whatever its frame size and PUSHQ/POPQ sequence; the bootstrap relations hold
for any argv/env/auxv on every CPU preset."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
import goasm.strategies as gst
from goasm import api, gosig
from goasm.calls import Ref, Slice
from goasm.machine.machine import Machine as CoreMachine
from goasm.machine.process import AT_RANDOM, start_process
from goasm.machine.runtime import RuntimeModel, state_json
from goasm.machine.syscalls import Linux

from test_run import check_bootstrap

REPO = Path(__file__).resolve().parent.parent
ARITH = REPO / "examples" / "testing" / "arith_amd64.s"
HELLO = REPO / "examples" / "hello" / "hello.s"
SLOW = settings(deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def machine():
    m = goasm.Machine(goasm.load([ARITH]), stdout=io.BytesIO(), stderr=io.BytesIO())
    m.ready()
    return m


TYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "int",
         "uintptr", "bool", "float32", "float64", "complex128", "string", "[]byte",
         "[]int16", "[3]uint32", "[2]string", "*int32", "[]*uint8",
         "struct{ a int8; b []byte; c [2]bool }"]


def normal(t, v):
    """What decoding gives back for a value drawn for type t."""
    k = t.kind
    if k == "string":
        return bytes(v)
    if k == "slice":
        items = v.items if isinstance(v, Slice) else v
        return bytes(items) if t.is_bytes else [normal(t.elem, x) for x in items]
    if k == "array":
        return bytes(v) if t.is_bytes else [normal(t.elem, x) for x in v]
    if k == "struct":
        return {f: normal(ft, v[f]) for f, ft, _ in t.fields}
    return v


@SLOW
@given(st.data())
def test_go_values_round_trip_through_memory(machine, data):
    text = data.draw(st.sampled_from(TYPES))
    t = gosig.parse_type(text)
    v = data.draw(gst.go_values(t, allow_nan=True))
    machine.reset()
    raw = machine.encode(t, v)
    assert len(raw) == t.size
    back = machine.decode(t, raw)
    if t.kind == "ptr":
        assert machine.read_value(t.elem, back) == normal(t.elem, v.value)
    elif t.kind == "slice" and t.elem.kind == "ptr":
        assert [machine.read_value(t.elem.elem, p) for p in back] == \
            [x.value for x in (v.items if isinstance(v, Slice) else v)]
    elif t.kind == "float":
        assert back == v or (math.isnan(back) and math.isnan(v))
    elif t.kind == "complex":
        assert repr(back) == repr(v) or back == v
    else:
        assert back == normal(t, v)
    if t.kind == "int":
        lo = -(1 << (8 * t.size - 1)) if t.signed else 0
        assert lo <= v < lo + (1 << (8 * t.size))


@SLOW
@given(st.data())
def test_arguments_follow_the_declaration(machine, data):
    args = data.draw(gst.arguments(machine, "IndexByte"))
    s, c = args
    assert isinstance(c, int) and 0 <= c < 256
    assert machine.call("IndexByte", s, c) == bytes(s).find(bytes([c]))
    more = data.draw(gst.arguments("func(a int8, p *uint16, s [2]string) bool"))
    assert isinstance(more[1], Ref) and len(more[2]) == 2


# ----------------------------------------------------------------------------- stack alignment

def balanced(max_len: int = 12):
    """PUSHQ/POPQ sequences that never pop more than they pushed and end balanced."""
    def build(steps):
        out, depth = [], 0
        for push in steps:
            if push or depth == 0:
                out.append("PUSHQ\tAX" if len(out) % 3 else "PUSHFQ")
                depth += 1
            else:
                out.append("POPQ\tCX" if len(out) % 2 else "POPFQ")
                depth -= 1
        out += ["POPQ\tDX"] * depth
        return out
    return st.lists(st.booleans(), max_size=max_len).map(build)


@st.composite
def stack_programs(draw):
    frame_f = 8 * draw(st.integers(0, 400))           # 0 .. 3200 bytes of locals
    frame_g = 8 * draw(st.integers(0, 40))
    nosplit_f = frame_f <= 256 and draw(st.booleans())
    calls = frame_f >= 16 and draw(st.booleans())
    body_f = draw(balanced())
    body_g = draw(balanced())
    lines = ['#include "textflag.h"', "",
             f"TEXT ·f(SB), {'NOSPLIT, ' if nosplit_f else ''}${frame_f}-16",
             "\tMOVQ\ta+0(FP), AX"]
    lines += [f"\t{op}" for op in body_f]
    if calls:
        lines += ["\tMOVQ\tAX, 0(SP)", "\tCALL\t·g(SB)", "\tMOVQ\t8(SP), AX"]
    lines += ["\tMOVQ\tAX, ret+8(FP)", "\tRET", "",
              f"TEXT ·g(SB), NOSPLIT, ${frame_g}-16", "\tMOVQ\ta+0(FP), AX",
              *[f"\t{op}" for op in body_g], "\tINCQ\tAX", "\tMOVQ\tAX, ret+8(FP)", "\tRET", ""]
    return "\n".join(lines), calls


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(stack_programs(), st.integers(-1000, 1000), gst.call_states())
def test_every_function_returns_with_sp_plus_8_and_bp(tmp_path_factory, program, a, state):
    src_text, calls = program
    d = tmp_path_factory.mktemp("stack")
    (d / "f.s").write_text(src_text)
    (d / "f.go").write_text("package main\nfunc f(a int64) int64\nfunc g(a int64) int64\n")
    m = goasm.Machine(goasm.load([d / "f.s"]), stdout=io.BytesIO(), stderr=io.BytesIO(),
                      goroutine_stack=1 << 16)
    rets = {i.addr for fn in m.image.functions.values() if fn.name in ("main.f", "main.g")
            for i in fn.instrs if i.op == "RET"}
    entries = []
    checked = []

    def on_entry(m):
        entries.append((m.cpu.regs[4], m.cpu.regs[5]))

    def after(m):
        if m.last_pc in rets:
            sp, bp = entries.pop()
            checked.append((m.cpu.regs[4] == sp + 8, m.cpu.regs[5] == bp))

    m.add_hook("pc", on_entry, at=["f", "g"])
    m.add_hook("after", after)
    # check=True: the runtime checker verifies the same relations independently.
    assert m.call("f", a, state=state) == a + (1 if calls else 0)
    assert checked and all(ok_sp and ok_bp for ok_sp, ok_bp in checked)
    assert len(checked) == (2 if calls else 1) and not entries


def test_stack_alignment_survives_stack_growth():
    """The same relations while the goroutine stack moves (8 KiB start, 3200-byte
    frames): the checker relocates its frames with copystack."""
    src = """#include "textflag.h"
TEXT ·f(SB), $3200-16
	MOVQ	a+0(FP), AX
	TESTQ	AX, AX
	JZ	done
	PUSHQ	AX
	POPQ	BX
	DECQ	AX
	MOVQ	AX, 0(SP)
	CALL	·f(SB)
	MOVQ	8(SP), AX
	ADDQ	a+0(FP), AX
done:
	MOVQ	AX, ret+8(FP)
	RET
"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "f.s").write_text(src)
        (Path(tmp) / "f.go").write_text("package main\nfunc f(a int64) int64\n")
        m = goasm.Machine(goasm.load([Path(tmp) / "f.s"]), stdout=io.BytesIO(),
                          stderr=io.BytesIO())
        res = m.invoke("f", 40)
    assert res.value == 40 * 41 // 2 and res.findings == ()
    assert [e for e in m.model.events if e.kind == "stack_growth"]


# ----------------------------------------------------------------------------- bootstrap

@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(gst.process_starts(max_args=8), gst.cpu_names())
def test_bootstrap_property_on_every_cpu_preset(start, cpu):
    """DESIGN.md's bootstrap relations (tests/test_run.py) for any argv, environment,
    AT_RANDOM and auxv, on every CPU preset; AT_RANDOM's bytes are where the
    auxiliary vector says."""
    model = RuntimeModel()
    image = api.load([HELLO], model=model)
    m = CoreMachine(image, cpu_model=api.cpu_model(cpu), stdout=io.BytesIO(),
                    stderr=io.BytesIO())
    model.bind(m)
    m.syscall = Linux(stdout=io.BytesIO(), stderr=io.BytesIO(), events=model.events)
    entry = start_process(m, argv=[b"hello", *start.argv], env=list(start.env),
                          random=start.random, auxv=start.auxv or None)
    reason = m.run(until=image.lookup("runtime.check").addr)
    assert reason.kind == "until"
    state = state_json(m, model, entry_sp=entry)
    check_bootstrap(state, list(start.argv), list(start.env))
    m.run(until=image.lookup("runtime.osinit").addr)
    assert m.mem.read(model.auxv[AT_RANDOM], 16) == start.random
    for tag, value in start.auxv.items():
        assert model.auxv[tag] == value
    assert model.argc == 1 + len(start.argv)
    vendor = m.cpu_model.cpuid(0, 0)
    assert (vendor[1] == 0x756E6547) == (api.cpu_model(cpu).vendor == "GenuineIntel")


def test_cpu_models_are_the_presets():
    seen = set()

    @settings(max_examples=20, database=None)
    @given(gst.cpu_models())
    def collect(model):
        seen.add(model.vendor)
    collect()
    assert seen == {"GenuineIntel", "AuthenticAMD"}

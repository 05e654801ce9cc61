"""The translated engine (goasm.machine.translate) against the per-instruction closures.

Both paths are built from the same handler output, so the closures are the reference:
every check here runs a program in a machine that translates everything on first
dispatch (``threshold=1``, the ``eager`` engine) and in one that never translates
(``GOASM_ENGINE=closure``), and requires *identical* results -- registers, RFLAGS,
memory, ``steps``, ``cpu.pc``, the fault (signal, address, pc), exit status, hook
observations. Sources of programs:

- random straight-line and looping programs over the integer, flag, stack and memory
  instructions (hypothesis), with faults and ``max_steps`` budgets at every length;
- every example under ``examples/`` (the whole Go-style start-up included);
- every instruction form of Go's ``amd64enc.s`` that goasm implements, run from the
  conformance suite's states against Unicorn as tests/test_conformance.py does for the
  closures (goasm.conformance), but through translated one-instruction regions.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm.errors import MachineFault
from goasm.machine.machine import Machine
from goasm.machine.translate import Translator

REPO = Path(__file__).resolve().parent.parent
M64 = (1 << 64) - 1
STACK = 0x7F000000
RETURN = 0xDEAD0000


# --------------------------------------------------------------------------- helpers

def eager(machine: Machine) -> Machine:
    """Make ``machine`` translate every pc on its first dispatch."""
    machine._translator_obj = Translator(machine, threshold=1)
    return machine


def closures(machine: Machine) -> Machine:
    """Make ``machine`` run per-instruction closures only."""
    machine._translator_obj = None
    return machine


def load_source(tmp_path: Path, src: str, name: str = "prog.s"):
    from goasm.api import load

    path = tmp_path / name
    path.write_text(src)
    return load([path], runtime=False)


def load_generated(tmp_path: Path, src: str):
    """Load a generated program; forms Go's assembler would reject are skipped."""
    from hypothesis import reject

    from goasm.errors import LinkError

    image = load_source(tmp_path, src)
    try:
        Machine(image)
    except LinkError:
        reject()
    return image


def state(m: Machine, scratch: int | None = None) -> dict:
    out = {"regs": list(m.cpu.regs), "rflags": m.cpu.get_rflags(), "pc": m.cpu.pc,
           "steps": m.steps, "xmm": list(m.cpu.xmm)}
    if scratch is not None:
        out["mem"] = m.mem.read(scratch, 4096)
    out["stack"] = m.mem.read(STACK + 0x7000, 0x1000)
    return out


def run_outcome(m: Machine, **kw):
    try:
        r = m.run(**kw)
        return ("stop", r.kind, r.pc, r.status)
    except MachineFault as exc:
        return ("fault", exc.signal, exc.addr, exc.pc, exc.code)


def prepared(image, entry: str, regs: dict) -> Machine:
    m = Machine(image)
    m.mem.map(STACK, 0x8000 + 0x1000)
    m.cpu.regs[4] = STACK + 0x7800
    for k, v in regs.items():
        m.cpu.regs[k] = v & M64
    m.push(RETURN)
    m.cpu.pc = image.lookup(entry).addr
    return m


# --------------------------------------------------------------------------- programs

REGS = ("AX", "BX", "CX", "DX", "SI", "DI", "R8", "R9", "R10", "R11")
W = {"B": 1, "W": 2, "L": 4, "Q": 8}
BYTE = {"AX": "AL", "BX": "BL", "CX": "CL", "DX": "DL", "SI": "SIB", "DI": "DIB",
        "R8": "R8B", "R9": "R9B", "R10": "R10B", "R11": "R11B"}
CCS = ("EQ", "NE", "CS", "CC", "HI", "LS", "MI", "PL", "OS", "OC", "PS", "PC", "LT", "GE",
       "LE", "GT")


def _reg(draw, width="Q"):
    r = draw(st.sampled_from(REGS))
    return BYTE[r] if width == "B" else r


def _mem(draw):
    return f"{draw(st.integers(0, 500)) * 8}(R12)"


@st.composite
def instruction(draw, label_count):
    kind = draw(st.sampled_from(["alu", "alu", "alu_mem", "unary", "shift", "mov", "movx",
                                 "lea", "setcc", "cmov", "bt", "flags", "stack", "jcc",
                                 "mul", "xchg", "bswap", "cmp"]))
    w = draw(st.sampled_from("BWLQ"))
    if kind in ("alu", "alu_mem", "cmp"):
        op = draw(st.sampled_from(["ADD", "SUB", "ADC", "SBB", "AND", "OR", "XOR"]
                                  if kind != "cmp" else ["CMP", "TEST"]))
        src = draw(st.one_of(st.builds(lambda v: f"${v}", st.integers(-128, 127)),
                             st.just(_reg(draw, w))))
        dst = _mem(draw) if kind == "alu_mem" else _reg(draw, w)
        if op == "CMP":             # Go's operand order: CMPQ x, y compares x with y
            return f"CMP{w} {dst}, {src}"
        return f"{op}{w} {src}, {dst}"
    if kind == "unary":
        op = draw(st.sampled_from(["INC", "DEC", "NEG", "NOT"]))
        return f"{op}{w} {draw(st.one_of(st.just(_reg(draw, w)), st.just(_mem(draw))))}"
    if kind == "shift":
        op = draw(st.sampled_from(["SHL", "SHR", "SAR", "ROL", "ROR", "RCL", "RCR"]))
        count = draw(st.one_of(st.builds(lambda v: f"${v}", st.integers(0, 70)), st.just("CX")))
        return f"{op}{w} {count}, {_reg(draw, w)}"
    if kind == "mov":
        return draw(st.sampled_from([
            f"MOV{w} {_reg(draw, w)}, {_reg(draw, w)}", f"MOV{w} {_mem(draw)}, {_reg(draw, w)}",
            f"MOV{w} {_reg(draw, w)}, {_mem(draw)}",
            f"MOVQ ${draw(st.integers(-2**63, 2**63 - 1))}, {_reg(draw)}"]))
    if kind == "movx":
        op = draw(st.sampled_from(["MOVBQZX", "MOVBQSX", "MOVWQZX", "MOVWQSX", "MOVLQZX",
                                   "MOVLQSX", "MOVBLZX"]))
        src = _reg(draw, "B") if op.startswith("MOVB") else _reg(draw)
        return f"{op} {draw(st.sampled_from([src, _mem(draw)]))}, {_reg(draw)}"
    if kind == "lea":
        return f"LEAQ {draw(st.integers(-64, 64))}({_reg(draw)})({_reg(draw)}*4), {_reg(draw)}"
    if kind == "setcc":
        return f"SET{draw(st.sampled_from(CCS))} {_reg(draw, 'B')}"
    if kind == "cmov":
        ww = draw(st.sampled_from("WLQ"))
        return f"CMOV{ww}{draw(st.sampled_from(CCS))} {_reg(draw)}, {_reg(draw)}"
    if kind == "bt":
        op = draw(st.sampled_from(["BT", "BTS", "BTR", "BTC"]))
        ww = draw(st.sampled_from("WLQ"))
        return f"{op}{ww} ${draw(st.integers(0, 63))}, {_reg(draw)}"
    if kind == "flags":
        return draw(st.sampled_from(["CLC", "STC", "CMC", "LAHF", "SAHF", "CDQ", "CQO",
                                     "CWD", "CDQE"]))
    if kind == "stack":
        return draw(st.sampled_from([f"PUSHQ {_reg(draw)}", f"POPQ {_reg(draw)}",
                                     "PUSHFQ", "POPFQ", f"PUSHQ ${draw(st.integers(-9, 9))}"]))
    if kind == "jcc":
        return f"J{draw(st.sampled_from(CCS))} L{draw(st.integers(0, label_count - 1))}"
    if kind == "mul":
        return draw(st.sampled_from([f"IMULQ {_reg(draw)}, {_reg(draw)}", f"MULQ {_reg(draw)}",
                                     f"IMUL3Q ${draw(st.integers(-99, 99))}, {_reg(draw)}, "
                                     f"{_reg(draw)}"]))
    if kind == "xchg":
        return f"XCHGQ {_reg(draw)}, {draw(st.sampled_from([_reg(draw), _mem(draw)]))}"
    if kind == "bswap":
        return f"BSWAP{draw(st.sampled_from('LQ'))} {_reg(draw)}"
    raise AssertionError(kind)


@st.composite
def program(draw):
    """A NOSPLIT function: a loop of random instructions (R15 counts the passes), with
    forward branches to labels placed at random points, a balanced stack, and, in some
    programs, a load from an unmapped address somewhere."""
    n = draw(st.integers(1, 24))
    labels = draw(st.integers(1, 4))
    body = [draw(instruction(labels)) for _ in range(n)]
    # Pushes and pops must balance per pass: count and fix up at the end of the loop.
    depth = 0
    fixed = []
    for ins in body:
        if ins.startswith(("PUSHQ", "PUSHFQ")):
            depth += 1
        elif ins.startswith(("POPQ", "POPFQ")):
            if depth == 0:
                ins = "NOP"
            else:
                depth -= 1
        fixed.append(ins)
    positions = sorted(draw(st.lists(st.integers(0, n), min_size=labels, max_size=labels)))
    lines = []
    for i, ins in enumerate(fixed):
        for k, p in enumerate(positions):
            if p == i:
                lines.append(f"L{k}:")
        lines.append(ins)
    for k, p in enumerate(positions):
        if p == n:
            lines.append(f"L{k}:")
    if draw(st.booleans()) and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "MOVQ 8(R14), R13")   # R14 = 0: fault
    passes = draw(st.integers(1, 40))
    src = ("#include \"textflag.h\"\n"
           "GLOBL scratch<>(SB), NOPTR, $4096\n"
           "TEXT ·f(SB), NOSPLIT, $0-0\n"
           "\tLEAQ scratch<>(SB), R12\n"
           f"\tMOVQ ${passes}, R15\n"
           "top:\n" + "".join(f"\t{x}\n" for x in lines) +
           "".join("\tPOPQ R13\n" for _ in range(depth)) +
           "\tDECQ R15\n\tJNZ top\n\tRET\n")
    regs = {k: draw(st.integers(0, M64)) for k in (0, 1, 2, 3, 6, 7, 8, 9, 10, 11)}
    regs[14] = 0
    return src, regs


def _both(image, regs, **kw):
    out = []
    for mode in (closures, eager):
        m = mode(prepared(image, "main.f", regs))
        scratch = image.lookup("scratch<>").addr
        result = run_outcome(m, **kw)
        out.append((result, state(m, scratch)))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(program())
def test_random_programs_translate_exactly(tmp_path_factory, prog):
    src, regs = prog
    image = load_generated(tmp_path_factory.mktemp("p"), src)
    ref, got = _both(image, regs, until=RETURN, max_steps=20_000)
    assert got == ref, src


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(program(), st.data())
def test_budgets_are_exact(tmp_path_factory, prog, data):
    """``max_steps`` stops after exactly that many instructions wherever it falls (inside
    a region, a loop pass, before a fault), and running on completes the program."""
    src, regs = prog
    image = load_generated(tmp_path_factory.mktemp("p"), src)
    first = data.draw(st.integers(0, 400))
    second = data.draw(st.integers(1, 400))
    results = []
    for mode in (closures, eager):
        m = mode(prepared(image, "main.f", regs))
        scratch = image.lookup("scratch<>").addr
        trail = []
        for budget in (first, second, 20_000):
            trail.append(run_outcome(m, until=RETURN, max_steps=budget))
            trail.append(state(m, scratch))
            if trail[-2][0] == "fault" or trail[-2][1] == "until":
                break
        results.append(trail)
    assert results[1] == results[0], src


# --------------------------------------------------------------------------- specifics

LOOP = """#include "textflag.h"
TEXT ·f(SB), NOSPLIT, $0-0
	MOVQ $1000, CX
	XORQ AX, AX
loop:
	ADDQ $3, AX
	XORQ CX, AX
mid:
	SUBQ $1, CX
	CMPQ CX, $0
	JNE loop
	RET
"""


def test_until_inside_a_translated_loop(tmp_path):
    image = load_source(tmp_path, LOOP)
    mid = image.lookup("main.f").addr + 4
    results = []
    for mode in (closures, eager):
        m = mode(prepared(image, "main.f", {}))
        m.run(until=RETURN, max_steps=500)      # the loop is hot and translated now
        trail = []
        for _ in range(3):
            r = m.run(until=mid)
            trail.append((r.kind, r.pc, m.steps, list(m.cpu.regs)))
        r = m.run(until=RETURN)
        trail.append((r.kind, r.pc, m.steps, list(m.cpu.regs)))
        results.append(trail)
    assert results[0] == results[1]
    assert results[0][0][1] == mid


def test_fault_in_a_region_reports_the_instruction(tmp_path):
    src = ('#include "textflag.h"\nTEXT ·f(SB), NOSPLIT, $0-0\n'
           "\tMOVQ $7, AX\n\tADDQ $1, AX\n\tMOVQ AX, BX\n\tMOVQ 16(R14), CX\n"
           "\tMOVQ $9, AX\n\tRET\n")
    image = load_source(tmp_path, src)
    out = []
    for mode in (closures, eager):
        m = mode(prepared(image, "main.f", {14: 0x10}))
        with pytest.raises(MachineFault) as exc:
            m.run(until=RETURN)
        out.append((exc.value.pc, exc.value.addr, str(exc.value.pos), m.cpu.pc, m.steps,
                    list(m.cpu.regs), m.cpu.get_rflags()))
    assert out[0] == out[1]
    assert out[1][0] == image.lookup("main.f").addr + 3
    assert out[1][5][0] == 8 and out[1][5][3] == 8


def test_natives_replace_translated_code(tmp_path):
    image = load_source(tmp_path, LOOP)
    m = eager(prepared(image, "main.f", {}))
    m.run(until=RETURN)
    assert m.cpu.regs[1] == 0
    base = image.lookup("main.f").addr

    def native(machine):        # stands for "SUBQ $1, CX": subtract 2 instead
        machine.cpu.regs[1] = (machine.cpu.regs[1] - 2) & M64
        machine.jump(base + 5)
    m.natives[base + 4] = native
    m.cpu.regs[4] = STACK + 0x7800
    m.push(RETURN)
    m.cpu.pc = base
    m.run(until=RETURN)
    assert m.steps > 0 and m.cpu.regs[1] == 0
    del m.natives[base + 4]
    m.cpu.regs[4] = STACK + 0x7800
    m.push(RETURN)
    m.cpu.pc = base
    steps = m.steps
    m.run(until=RETURN)
    assert m.steps - steps == 2 + 5 * 1000 + 1


def _hook_trace(image, mode, *, stop_at=None, jump=None, remove_at=None, at=None):
    m = mode(prepared(image, "main.f", {}))
    seen = []
    handle = None
    entries = []

    def hook(machine):
        seen.append((machine.cpu.pc, machine.steps, tuple(machine.cpu.regs[:4]),
                     machine.cpu.get_rflags()))
        if stop_at is not None and machine.steps == stop_at:
            return "stop"
        if jump is not None and machine.steps == jump[0]:
            machine.cpu.pc = jump[1]
        if remove_at is not None and machine.steps == remove_at:
            machine.remove_hook(handle)
        return None
    if at is None:
        handle = m.add_hook("instruction", hook)
    else:
        base = image.lookup("main.f").addr
        handle = m.add_hook("pc", hook, at=[base + a for a in at])
    r = run_outcome(m, until=RETURN, max_steps=3000)
    return seen, r, state(m)


@pytest.mark.parametrize("case", [{}, {"stop_at": 1234}, {"jump": (500, None)},
                                  {"remove_at": 777}, {"at": (2, 4)},
                                  {"at": (2, 4), "stop_at": 1502}, {"at": (3,), "jump": (503, None)},
                                  {"at": (0, 2, 6), "remove_at": 777}],
                         ids=["plain", "stop", "jump", "remove", "pc", "pc-stop", "pc-jump",
                              "pc-remove"])
def test_hooks_see_the_same_run(tmp_path, case):
    """An ``instruction`` hook, or ``pc`` hooks, run in translated code (translated
    engine) or in the slow loop (closure engine): same calls, same machine state at
    each, same stops."""
    image = load_source(tmp_path, LOOP)
    if "jump" in case:
        case = dict(case, jump=(case["jump"][0], image.lookup("main.f").addr + 1))
    ref = _hook_trace(image, closures, **case)
    got = _hook_trace(image, eager, **case)
    assert got == ref
    assert len(ref[0]) > 100


# --------------------------------------------------------------------------- programs

EXAMPLES = sorted(p for p in (REPO / "examples").glob("*/*.s") if p.stem == p.parent.name)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_run_identically(path, monkeypatch):
    """Whole programs, the Go-style start-up included: same output, exit status and
    instruction count with translation (eager and default thresholds) and without."""
    from goasm import api

    results = []
    for engine in ("closure", "eager", "translate"):
        monkeypatch.setenv("GOASM_ENGINE", engine)
        out, err = io.BytesIO(), io.BytesIO()
        r = api.run([path], stdout=out, stderr=err)
        results.append((r.status, r.crash_report, r.steps, out.getvalue(), err.getvalue()))
    assert results[0] == results[1] == results[2]


def test_cli_engines(tmp_path):
    """``goasm run`` under each GOASM_ENGINE value (a subprocess each)."""
    hello = REPO / "examples" / "hello" / "hello.s"
    for engine in ("closure", "eager", "translate"):
        env = dict(os.environ, GOASM_ENGINE=engine, GOASM_CACHE_DIR=str(tmp_path / "c"))
        out = subprocess.run([sys.executable, "-m", "goasm", "run", str(hello)], env=env,
                             capture_output=True, timeout=120)
        assert (out.returncode, out.stdout) == (0, b"hello, world\n"), out.stderr
    env = dict(os.environ, GOASM_ENGINE="bogus")
    out = subprocess.run([sys.executable, "-m", "goasm", "run", str(hello)], env=env,
                         capture_output=True, timeout=120)
    assert out.returncode != 0


# --------------------------------------------------------------------------- conformance

CHUNKS = 4


@pytest.fixture(scope="module")
def translated_runner(goroot):
    pytest.importorskip("unicorn")
    from goasm import conformance as C

    suite = C.Suite(goroot)

    class TranslatedEngine(C.GoasmEngine):
        """Runs a form as a translated one-instruction region (``until`` its next
        address, which bounds the region)."""

        def run(self, form, s):
            from goasm.errors import MachineFault as Fault

            m = self.m
            cpu = m.cpu
            cpu.regs[:] = s.regs
            cpu.xmm[:len(s.xmm)] = s.xmm
            cpu.set_rflags(s.flags)
            cpu.mxcsr = C.MXCSR_DEFAULT
            m.mem.write(C.DATA, bytes(s.data))
            cpu.pc = form.addr
            try:
                m.run(until=form.ins.next_addr, max_steps=1)
            except Fault as exc:
                return C.Outcome(exc.signal)
            return C.Outcome(None, list(cpu.regs), list(cpu.xmm[:len(s.xmm)]), cpu.get_rflags(),
                             m.mem.read(C.DATA, C.DATA_SIZE),
                             cpu.mxcsr if C.MXCSR_MODELLED else None)

    runner = C.Runner(suite)
    eager(suite.machine())
    runner.goasm = TranslatedEngine(suite.machine())
    yield suite, runner
    runner.close()


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_conformance_through_translated_regions(chunk, translated_runner):
    """tests/test_conformance.py for the translated engine: every implemented form of
    amd64enc.s against Unicorn (the processor deciding disagreements), 20 states each."""
    from goasm import conformance as C

    suite, runner = translated_runner
    groups = suite.groups()
    names = C.chunk_groups(groups, CHUNKS)[chunk]
    results = []
    for name in names:
        results += runner.check_group(groups[name], states=20)
    bad = [r for r in results if r.mismatches]
    assert not bad, "\n".join(r.first for r in bad[:20])
    tr = suite.machine()._translator()
    assert tr.table.regions, "no form was translated"

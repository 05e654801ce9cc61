"""``goasm run``: the whole pipeline through the embedded runtime, from the CLI and the API.

The bootstrap relations asserted here are the ones DESIGN.md records from a real Go 1.27
binary under gdb (entry SP = E): g0.stack.hi = (E − 40) & ~15, lo = hi − 65536,
stackguard0 = stackguard1 = lo, m0.tls[0] = &g0, FS base = &m0.tls + 8.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import api
from goasm.machine.layout import default_layout
from goasm.machine.state import PRESETS

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "examples" / "hello" / "hello.s"


def goasm(*argv, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "goasm", *argv], capture_output=True, cwd=cwd,
                          timeout=timeout)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- bootstrap

def bootstrap_state(argv, env, cpu=None):
    out, err = io.BytesIO(), io.BytesIO()
    result = api.run([HELLO], argv=argv, env=env, until="runtime·check", cpu=cpu,
                     stdout=out, stderr=err)
    assert result.state is not None, (result, err.getvalue())
    return result.state


def check_bootstrap(state, argv, env):
    E = state["entry_sp"]
    g0, m0 = state["g0"], state["m0"]
    regs = state["regs"]
    layout = default_layout()
    # runtime·check was CALLed from rt0_go's aligned frame: SP + 8 is that frame.
    frame_sp = regs["SP"] + 8
    assert frame_sp % 16 == 0
    assert g0["stack_hi"] == (E - 40) & ~15 == frame_sp
    assert g0["stack_lo"] == g0["stack_hi"] - 65536
    assert g0["stackguard0"] == g0["stackguard1"] == g0["stack_lo"]
    assert m0["tls0"] == g0["addr"] and state["tls_g"] == g0["addr"]
    assert state["fs_base"] == m0["addr"] + layout.m.tls + 8
    assert g0["m"] == m0["addr"] and m0["g0"] == g0["addr"]
    assert E % 16 == 0
    return frame_sp


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\0" not in b), max_size=64),
       st.lists(st.binary(max_size=40).filter(lambda b: b"\0" not in b), max_size=64))
def test_bootstrap_property_any_argv_env(argv, env):
    from goasm.machine.process import start_process  # noqa: F401  (API under test)

    proc = api.start([HELLO], argv=argv, env=env, stdout=io.BytesIO(), stderr=io.BytesIO())
    m = proc.machine
    reason = m.run(until=m.image.lookup("runtime·check").addr)
    assert reason.kind == "until"
    from goasm.machine.runtime import state_json

    state = state_json(m, proc.model, entry_sp=proc.entry_sp)
    frame_sp = check_bootstrap(state, argv, env)
    # rt0_go stored argc at 24(SP) and argv at 32(SP) of its aligned frame.
    argc = m.mem.read_u64(frame_sp + 24)
    argv_ptr = m.mem.read_u64(frame_sp + 32)
    assert argc == 1 + len(argv)
    assert argv_ptr == proc.entry_sp + 8
    for i, arg in enumerate(argv):
        assert m.mem.read_cstring(m.mem.read_u64(argv_ptr + 8 * (i + 1)), limit=64) == arg
    envp = argv_ptr + 8 * (len(argv) + 2)
    for i, var in enumerate(env):
        assert m.mem.read_cstring(m.mem.read_u64(envp + 8 * i), limit=64) == var


@pytest.mark.parametrize("cpu", sorted(PRESETS))
def test_bootstrap_relations_every_cpu_preset(cpu):
    check_bootstrap(bootstrap_state([], [], cpu=cpu), [], [])


def test_state_json_cli(tmp_path):
    out = tmp_path / "state.json"
    res = goasm("run", "--until", "runtime·check", "--state-json", str(out), str(HELLO))
    assert res.returncode == 0, res.stderr
    state = json.loads(out.read_text())
    for key in ("stopped_at", "entry_sp", "regs", "fs_base", "symbols", "g", "g0", "m0"):
        assert key in state
    for reg in ("AX", "R15", "SP", "BP", "PC", "FLAGS"):
        assert reg in state["regs"]
    assert state["stopped_at"] == "runtime.check"
    assert state["symbols"]["runtime.g0"] == state["g0"]["addr"]
    check_bootstrap(state, [], [])


def test_trace_shows_the_bootstrap_walk():
    res = goasm("run", "--trace", str(HELLO))
    assert res.returncode == 0 and res.stdout == b"hello, world\n"
    trace = res.stderr.decode()
    order = ["_rt0_amd64_linux", "runtime.rt0_go", "CPUID", "runtime.settls", "TLS base (FS)",
             "runtime.check", "g0 stack", "runtime.newproc", "goroutine 1", "runtime.gogo",
             "main.main", "exit_group"]
    positions = [trace.find(word) for word in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions))
    assert positions == sorted(positions)


def test_program_arguments_after_double_dash(tmp_path):
    """Arguments after `--` reach the program: runtime·args stored argc; exit with it."""
    src = write(tmp_path, "args.s", """#include "textflag.h"
TEXT ·main(SB), NOSPLIT, $0
	MOVL	runtime·argc(SB), DI
	MOVQ	$231, AX	// exit_group(argc)
	SYSCALL
	RET
""")
    res = goasm("run", str(src), "--", "-x", "y", "--z")
    assert res.returncode == 4, res.stderr


# ----------------------------------------------------------------------------- bad programs

def test_undefined_symbol_is_a_load_error(tmp_path):
    src = write(tmp_path, "u.s", "TEXT ·main(SB), $8\n\tCALL ·nosuch(SB)\n\tRET\n")
    res = goasm("run", str(src))
    assert res.returncode == 1
    first = res.stderr.decode().splitlines()[0]
    assert first.startswith(f"goasm: {src}:2:") and "undefined symbol" in first and "nosuch" in first
    assert b"Traceback" not in res.stderr


def test_unimplemented_instruction_names_it(tmp_path):
    src = write(tmp_path, "x.s", "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                                  "\tFSQRT\n\tRET\n")
    res = goasm("run", str(src))
    assert res.returncode == 125
    first = res.stderr.decode().splitlines()[0]
    assert "unimplemented instruction FSQRT" in first and f"{src}:3" in first


def test_fault_gives_go_style_crash_report(tmp_path):
    src = write(tmp_path, "f.s", "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                                  "\tMOVQ $0xdead000, AX\n\tMOVQ (AX), BX\n\tRET\n")
    res = goasm("run", str(src))
    assert res.returncode == 2
    report = res.stderr.decode()
    assert report.splitlines()[0] == "unexpected fault address 0xdead000"
    assert "signal SIGSEGV" in report and "addr=0xdead000" in report
    assert "main.main" in report and f"{src}:4" in report
    # the goroutine's frames end at main.main, as Go prints them: the entry address
    # the goroutine returns into is no caller frame
    assert report.endswith(f"goroutine 1 [running]:\nmain.main()\n\t{src}:4 +0x1\n"), report


def test_nil_dereference_is_a_go_panic(tmp_path):
    src = write(tmp_path, "n.s", "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                                  "\tMOVQ $0, AX\n\tMOVQ AX, 8(AX)\n\tRET\n")
    res = goasm("run", str(src))
    assert res.returncode == 2
    report = res.stderr.decode()
    assert report.startswith("panic: runtime error: invalid memory address or nil pointer "
                             "dereference")
    assert "[signal SIGSEGV: segmentation violation code=0x1 addr=0x8 pc=" in report


def test_infinite_loop_hits_max_steps(tmp_path):
    src = write(tmp_path, "l.s", "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                                  "loop:\n\tJMP loop\n")
    res = goasm("run", "--max-steps", "100000", str(src))
    assert res.returncode == 124
    first = res.stderr.decode().splitlines()[0]
    assert "step limit 100000 reached" in first and "main.main" in first


def test_unimplemented_syscall_names_it(tmp_path):
    src = write(tmp_path, "s.s", "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                                  "\tMOVQ $2, AX\n\tSYSCALL\n\tRET\n")
    res = goasm("run", str(src))
    assert res.returncode == 125
    assert "unimplemented syscall open (2)" in res.stderr.decode().splitlines()[0]


def test_missing_file_and_parse_error(tmp_path):
    res = goasm("run", str(tmp_path / "nope.s"))
    assert res.returncode == 1 and b"no such file" in res.stderr
    bad = write(tmp_path, "b.s", "TEXT ·main(SB), $0\n\tMOVQ AX BX\n")
    res = goasm("run", str(bad))
    assert res.returncode == 1
    assert res.stderr.decode().startswith(f"goasm: {bad}:2:")

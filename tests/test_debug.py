"""``goasm debug`` (goasm/debug/): scripted sessions over the bootstrap, stack growth
in the deep-recursion example, reverse execution, a real terminal, and bad input.

Oracles: ``goasm run --until SYMBOL --state-json`` (the machine state at the same
point, reached by the fast loop without the debugger) and a fresh process executed
forward to the same step count (for reverse execution).
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import api
from goasm.debug import Debugger, main
from goasm.errors import GoasmError

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "examples" / "hello" / "hello.s"
RECURSION = REPO / "examples" / "recursion" / "recursion.s"
PROMPT = "(goasm) "


# --------------------------------------------------------------------------- helpers

def session(files, script: str, **kwargs) -> tuple:
    """Run ``script`` through a debugger; returns (debugger, transcript)."""
    out = io.StringIO()
    dbg = Debugger(files, stdin=io.StringIO(script), stdout=out, color=False, **kwargs)
    dbg.cmdloop()
    return dbg, out.getvalue()


def replies(transcript: str) -> list:
    """[(command, output text)] of a non-interactive transcript (commands are echoed
    after the prompt)."""
    out = []
    for chunk in transcript.split(PROMPT)[1:]:
        cmd, _, text = chunk.partition("\n")
        if cmd.strip() or text:
            out.append((cmd.strip(), text))
    return out


def first_replies(transcript: str) -> dict:
    """Command -> the output of its first occurrence."""
    out: dict = {}
    for cmd, text in replies(transcript):
        out.setdefault(cmd, text)
    return out


def printed(transcript: str, command: str, nth: int = 0) -> int:
    """The value a ``print`` printed (its first hex number)."""
    found = [text for cmd, text in replies(transcript) if cmd == command]
    assert len(found) > nth, f"{command!r} not in transcript:\n{transcript}"
    m = re.match(r"(0x[0-9a-f]+) \((\d+)", found[nth])
    assert m, f"{command!r} printed {found[nth]!r}"
    assert int(m.group(1), 16) == int(m.group(2))
    return int(m.group(1), 16)


def state_json(tmp_path, files, until: str) -> dict:
    """``goasm run FILES --until SYMBOL --state-json PATH`` (the CLI, as users run it)."""
    path = tmp_path / f"state-{until}.json"
    proc = subprocess.run([sys.executable, "-m", "goasm", "run", *map(str, files),
                           "--until", until, "--state-json", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(path.read_text())


def full_state(dbg) -> tuple:
    """Registers, memory and the runtime model's and kernel's Python state."""
    m = dbg.machine
    model = {k: v for k, v in vars(dbg.model).items() if k not in ("layout", "events")}
    model["_heap"] = vars(model["_heap"]).copy()
    model["_stacks"] = vars(model["_stacks"]).copy()
    linux = {k: v for k, v in vars(dbg.proc.linux).items() if k not in ("events", "streams")}
    return (m.cpu.save(), m.mem.save(), m.steps, m.exit_status, repr(model), repr(linux),
            len(dbg.model.events))


def no_pointers_copy(tmp_path) -> Path:
    """examples/recursion without NO_LOCAL_POINTERS (which the loader may not accept
    yet: it references no_pointers_stackmap)."""
    text = RECURSION.read_text()
    path = tmp_path / "recursion.s"
    path.write_text("\n".join(line for line in text.splitlines()
                              if "NO_LOCAL_POINTERS" not in line) + "\n")
    return path


def stackmap_sizes(transcript: str) -> list:
    sizes = []
    for cmd, text in replies(transcript):
        if cmd.startswith("stackmap"):
            m = re.search(r"goroutine 1 \(g=0x[0-9a-f]+\) stack (\d+) KiB", text)
            assert m, text
            sizes.append(int(m.group(1)))
    return sizes


# --------------------------------------------------------------------------- 1. bootstrap

BOOTSTRAP_SCRIPT = """\
break runtime·settls
continue
print FS
next
next
next
next
next
print FS
print -8(FS)
break runtime·check
continue
print g0.stack.hi
print g0.stack.lo
print g0.stackguard0
print -8(FS)
print m0.tls[0]
print &m0.tls + 8
break main·main
continue
print SP
print g
print g.stack.hi
print g.goid
regs
stack
goroutines
stackmap
exit
"""


def test_bootstrap_walk_agrees_with_state_json(tmp_path):
    dbg, text = session([HELLO], BOOTSTRAP_SCRIPT)
    at_check = state_json(tmp_path, [HELLO], "runtime.check")
    at_main = state_json(tmp_path, [HELLO], "main.main")

    r = first_replies(text)
    assert "[Breakpoint 1] runtime.settls()" in r["continue"]
    assert printed(text, "print FS") == 0                      # before arch_prctl
    fifth_next = [t for c, t in replies(text) if c == "next"][4]
    assert "# TLS base (FS)" in fifth_next                     # stepped over the SYSCALL
    assert "runtime.settls+0x5()" in fifth_next
    fs = printed(text, "print FS", 1)
    assert fs == at_check["fs_base"] == at_check["m0"]["addr"] + 128 + 8
    assert printed(text, "print &m0.tls + 8") == fs            # DESIGN.md: FS = &m0.tls + 8
    assert printed(text, "print -8(FS)") == 0                  # the g slot, still empty

    assert f"[step {at_check['steps']}]" in [t for c, t in replies(text) if c == "continue"][1]
    assert printed(text, "print g0.stack.hi") == at_check["g0"]["stack_hi"]
    assert printed(text, "print g0.stack.lo") == at_check["g0"]["stack_lo"]
    assert printed(text, "print g0.stackguard0") == at_check["g0"]["stackguard0"]
    assert printed(text, "print -8(FS)", 1) == at_check["tls_g"] == at_check["g0"]["addr"]
    assert printed(text, "print m0.tls[0]") == at_check["g0"]["addr"]

    assert f"[step {at_main['steps']}]" in [t for c, t in replies(text) if c == "continue"][2]
    assert "main.main()" in [t for c, t in replies(text) if c == "continue"][2]
    assert printed(text, "print SP") == at_main["regs"]["SP"]
    assert printed(text, "print g.stack.hi") == at_main["g"]["stack_hi"]
    assert int(r["print g.goid"].split()[0], 16) == at_main["g"]["goid"] == 1
    assert f"runtime.g @ {at_main['g']['addr']:#x}" in r["print g"]
    assert re.search(r"^[* ]\s+PC = 0x0*401000\s+main\.main", r["regs"], re.M)
    assert "main.main" in r["stack"] and "runtime.main" in r["stack"]
    assert "* Goroutine 1" in r["goroutines"]
    assert "goroutine 1 (g=" in r["stackmap"] and "<- SP" in r["stackmap"]


def test_break_on_events_and_syscall_names():
    script = """\
break settls
break syscall arch_prctl
break gogo
break syscall write
continue
continue
print AX
continue
continue
print AX
breakpoints
exit
"""
    _, text = session([HELLO], script)
    cont = [t for c, t in replies(text) if c == "continue"]
    assert "[Breakpoint 1] runtime.settls()" in cont[0]
    assert "[Breakpoint 2] runtime.settls+0x4()" in cont[1]       # the SYSCALL, AX = 158
    assert printed(text, "print AX") == 158
    assert "[Breakpoint 3] runtime.gogo()" in cont[2]
    assert "[Breakpoint 4] main.main+0x4()" in cont[3]
    assert printed(text, "print AX", 1) == 1
    assert "event syscall write" in first_replies(text)["breakpoints"]


def test_print_expressions():
    script = """\
continue runtime.check
print runtime·g0
print runtime.m0
print g0.m
print g0.m.g0
print *(SP)
print [SP]
print 0(SP)
print SP+8*2
print (1 << 4) | 3
print -1
print m0.g0 == runtime.g0
print g0.m.tls[1]
print/x 255
x/4gx SP
x/2i PC
x -fmt dec -count 2 -size 4 SP
exit
"""
    dbg, text = session([HELLO], script)
    r = first_replies(text)
    g0 = dbg.image.lookup("runtime.g0").addr
    m0 = dbg.image.lookup("runtime.m0").addr
    assert printed(text, "print runtime·g0") == g0
    assert "<runtime.g0>" in r["print runtime·g0"]
    assert printed(text, "print runtime.m0") == m0
    assert f"(*runtime.m) {m0:#x}" in r["print g0.m"]
    assert f"(*runtime.g) {g0:#x}" in r["print g0.m.g0"]
    ret = printed(text, "print *(SP)")
    assert ret == printed(text, "print [SP]") == printed(text, "print 0(SP)")
    assert "runtime.rt0_go" in r["print *(SP)"]
    assert printed(text, "print SP+8*2") == dbg.machine.cpu.regs[4] + 16
    assert printed(text, "print (1 << 4) | 3") == 19
    assert "-1)" in r["print -1"]
    assert printed(text, "print m0.g0 == runtime.g0") == 1
    assert printed(text, "print g0.m.tls[1]") == 0
    assert r["print/x 255"].strip() == "0xff"
    assert r["x/4gx SP"].count("\n") == 2 and "<SP+0x10>" in r["x/4gx SP"]
    assert r["x/2i PC"].startswith("=>") and "runtime.check" in r["x/2i PC"]
    assert len(r["x -fmt dec -count 2 -size 4 SP"].split("\t")[1].split()) == 2


# --------------------------------------------------------------------------- 2. stack growth

NEWSTACK_SCRIPT = """\
break newstack
continue
stackmap
continue
stackmap
continue
stackmap
continue
stackmap -rows 8
stack
exit
"""


def check_growth(files):
    _, text = session(files, NEWSTACK_SCRIPT)
    hits = [t for c, t in replies(text) if c == "continue"]
    assert all("runtime.newstack()" in h for h in hits), text
    assert [f"hits total:{i}" in h for i, h in enumerate(hits, 1)] == [True] * 4
    sizes = stackmap_sizes(text)
    assert len(sizes) == 4
    for small, big in zip(sizes, sizes[1:]):
        assert big == 2 * small, sizes
    # each stack growth event reported on the way doubles too
    growth = re.findall(r"stack growth: goroutine 1 (\d+) -> (\d+) bytes", text)
    assert [int(b) for a, b in growth] == [2 * int(a) for a, b in growth]
    assert len(growth) == 3
    maps = [t for c, t in replies(text) if c.startswith("stackmap")]
    assert all("main.sum x" in t and "stackguard0" in t and " hi" in t and " lo" in t
               for t in maps)
    assert all("(on g0 in runtime.newstack: showing goroutine 1" in t for t in maps)
    assert "runtime.morestack" in first_replies(text)["stack"]


def test_recursion_newstack_doubles(tmp_path):
    check_growth([no_pointers_copy(tmp_path)])


def test_real_recursion_example_newstack_doubles():
    try:
        api.load([RECURSION])
    except GoasmError as err:
        if "no_pointers_stackmap" in str(err):
            pytest.xfail("the loader does not accept FUNCDATA no_pointers_stackmap yet")
        raise
    check_growth([RECURSION])


def test_next_over_a_call_that_grows_the_stack(tmp_path):
    script = """\
break main.main
continue
next 7
next
print 8(SP)
stepout
exit
"""
    _, text = session([no_pointers_copy(tmp_path)], script)
    nexts = [t for c, t in replies(text) if c.startswith("next")]
    assert "CALL main.sum(SB)" in nexts[0]
    assert "stack growth" in nexts[1] and "main.main+0x8()" in nexts[1]
    assert printed(text, "print 8(SP)") == 20000 * 20001 // 2


def test_output_is_not_repeated_by_reverse_execution(tmp_path):
    script = """\
continue
rev step
rev step
rev step
continue
rev continue
continue
exit
"""
    _, text = session([no_pointers_copy(tmp_path)], script)
    assert text.count("200010000") == 1, text
    assert text.count("has exited with status 0") == 3


# --------------------------------------------------------------------------- 3. reverse

@pytest.mark.parametrize("spec", ["runtime.settls+0x4", "runtime.newstack", "runtime.gogo+0x6",
                                  "main.main"])
def test_rev_step_restores_exactly(tmp_path, spec):
    path = no_pointers_copy(tmp_path)
    out = io.StringIO()
    dbg = Debugger([path], stdout=out, stdin=io.StringIO(""), snapshot_interval=1000)
    dbg.onecmd(f"continue {spec}")
    before = full_state(dbg)
    dbg.onecmd("step")
    after = full_state(dbg)
    assert after != before
    dbg.onecmd("rev step")
    assert full_state(dbg) == before
    dbg.onecmd("step")
    assert full_state(dbg) == after


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 120), st.integers(0, 119))
def test_rev_lands_where_forward_execution_does(far, back):
    back = min(back, far)
    dbg = Debugger([HELLO], stdout=io.StringIO(), stdin=io.StringIO(""), snapshot_interval=16)
    dbg.onecmd(f"step {far}")
    reached = dbg.machine.steps
    for _ in range(min(back, 5)):
        dbg.onecmd("rev step")
    if back > 5:
        dbg.goto(max(reached - back, 0))
    fresh = Debugger([HELLO], stdout=io.StringIO(), stdin=io.StringIO(""))
    if dbg.machine.steps:
        fresh.onecmd(f"step {dbg.machine.steps}")
    assert full_state(dbg)[:4] == full_state(fresh)[:4]


def test_rev_next_stepout_continue():
    script = """\
break runtime.settls
break main.main
continue
continue
rev continue
rev step
rev stepout
rev next
rev continue
rev continue
exit
"""
    _, text = session([HELLO], script)
    revs = [t for c, t in replies(text) if c.startswith("rev")]
    assert "[step 35]" in revs[0] and "runtime.settls()" in revs[0]
    assert "runtime.rt0_go+0x1e()" in revs[1]                # the CALL runtime.settls
    assert "runtime.rt0_go+0x1d()" in revs[3]                # LEAQ before it
    assert "reached the start of the program" in revs[4]
    assert "Command failed: already at the start" in revs[5]


# --------------------------------------------------------------------------- terminal

class Pty:
    """A child process on a pseudo-terminal; ``expect`` reads until a pattern shows."""

    def __init__(self, argv, cwd):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.chdir(cwd)
            os.environ["TERM"] = "xterm"
            os.environ.pop("GOASM_DEBUG", None)
            os.execv(argv[0], argv)
        self.screen = ""

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        start = len(self.screen)
        deadline = time.monotonic() + timeout
        while True:
            plain = _plain(self.screen[start:])
            m = re.search(pattern, plain)
            if m:
                return plain
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timeout waiting for {pattern!r}; screen:\n{plain}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"child ended waiting for {pattern!r}:\n{plain}")
                self.screen += data.decode("utf-8", "replace")

    def command(self, line: str, timeout: float = 30.0) -> str:
        self.send(line + "\r")
        return self.expect(r"\(goasm\) $", timeout)

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, 9)
        raise AssertionError("debugger did not exit")


def _plain(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return text.replace("\r", "")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pty")
def test_terminal_session():
    term = Pty([sys.executable, "-m", "goasm.debug", str(HELLO)], REPO)
    try:
        term.expect(r"\(goasm\) $")
        screen = term.command("break runtime.settls")
        assert "Breakpoint 1 set at" in screen
        screen = term.command("continue")
        assert "[Breakpoint 1] runtime.settls()" in screen and "=>" in screen
        term.command("next 4")
        before = term.command("regs")
        # line editing: type "rgs", move left twice, insert "e" -> "regs"
        term.send("rgs\x1b[D\x1b[De")
        screen = term.command("")
        assert re.search(r"PC = 0x0*401154\s+runtime\.settls\+0x4", screen), screen
        # history: arrow up recalls "regs"
        term.send("\x1b[A")
        screen = term.command("")
        assert "FLAGS = " in screen
        screen = term.command("step")
        assert "# TLS base (FS) = " in screen and "settls+0x5()" in screen
        screen = term.command("regs")
        assert re.search(r"^\*\s+FS = 0x0*602268", screen, re.M), screen
        screen = term.command("rev step")
        assert "runtime.settls+0x4()" in screen
        after = term.command("regs")
        assert _regs_block(after) == _regs_block(before)
        screen = term.command("up")
        assert "Frame 1: runtime.rt0_go+0x1f() " in screen and "CALL" in screen
        screen = term.command("down")
        assert "Frame 0: runtime.settls+0x4() " in screen
        screen = term.command("frobnicate")
        assert "Command failed: command not available: frobnicate" in screen
        term.send("\x04")                                  # Ctrl-D: end of input
        assert term.wait() == 0
    finally:
        try:
            os.close(term.fd)
        except OSError:
            pass


def _regs_block(screen: str) -> list:
    return [re.sub(r"^\*", " ", line) for line in screen.splitlines()
            if re.match(r"^[* ]\s*[A-Z0-9]+ = 0x", line)]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_screen(tmp_path):
    name = f"goasm-debug-{os.getpid()}"
    cmd = f"cd {REPO} && {sys.executable} -m goasm.debug {HELLO}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "150", "-y", "50", cmd],
                   check=True)
    try:
        def screen():
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", name],
                                  capture_output=True, text=True).stdout

        def wait_for(pattern):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = screen()
                if re.search(pattern, text, re.M):
                    return text
                time.sleep(0.1)
            raise AssertionError(f"{pattern!r} never shown:\n{screen()}")

        wait_for(r"^\(goasm\)\s*$")
        subprocess.run(["tmux", "send-keys", "-t", name, "break newstack", "Enter"], check=True)
        wait_for(r"Breakpoint 1 set on event newstack")
        subprocess.run(["tmux", "send-keys", "-t", name, "c", "Enter"], check=True)
        text = wait_for(r"Process \d+ has exited with status 0")
        assert "hello, world" in text
        subprocess.run(["tmux", "send-keys", "-t", name, "restart", "Enter"], check=True)
        wait_for(r"Process restarted")
        subprocess.run(["tmux", "send-keys", "-t", name, "watch -w m0.tls[0]", "Enter"],
                       check=True)
        wait_for(r"Watchpoint 2 set at m0.tls\[0\]")
        subprocess.run(["tmux", "send-keys", "-t", name, "c", "Enter"], check=True)
        wait_for(r"> \[Watchpoint 2\] runtime\.")
        subprocess.run(["tmux", "send-keys", "-t", name, "q", "Enter"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


# --------------------------------------------------------------------------- 4. bad input

def test_errors_keep_the_session_alive():
    script = """\
frobnicate
break
break nosuchsymbol
break runtime.g0
break hello.s:9999
break syscall nosuchcall
print g
print 1 +
print 1/0
print g0.nosuchfield
print nosuch
x/8gx
x/8gx 0
step -1
stack foo
rev sideways
rev step
clear 42
condition 42 AX
list nosuch.s:3
stackmap
trace nosuch
regs -z
help nosuchcommand
print 1+2
"""
    _, text = session([HELLO], script)
    r = replies(text)
    for cmd, out in r[:-1]:
        assert out.startswith("Command failed: "), (cmd, out)
        assert out.count("\n") == 1, (cmd, out)
    assert r[-1] == ("print 1+2", "0x3 (3)\n" + "")


def test_end_of_input_quits_cleanly():
    proc = subprocess.run([sys.executable, "-m", "goasm.debug", str(HELLO)],
                          input="break main.main\ncontinue\nprint AX\n", capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "[Breakpoint 1] main.main()" in proc.stdout
    assert proc.stdout.rstrip().endswith(PROMPT.rstrip())


def test_init_file_and_load_error(tmp_path, capsys):
    init = tmp_path / "init.txt"
    init.write_text("break main.main\ncontinue\n")
    import argparse

    ns = argparse.Namespace(files=[str(HELLO)], include=[], define=[], init=str(init),
                            program_args=[], env=[], cpu=None)
    out = io.StringIO()
    assert main(ns, stdin=io.StringIO("print PC\n"), stdout=out) == 0
    assert "[Breakpoint 1] main.main()" in out.getvalue()
    assert printed(out.getvalue(), "print PC") == 0x401000

    bad = tmp_path / "bad.s"
    bad.write_text("TEXT ·main(SB), $0\n\tFROB AX\n")
    ns.files = [str(bad)]
    ns.init = None
    assert main(ns, stdin=io.StringIO(""), stdout=io.StringIO()) == 1
    assert "bad.s:2" in capsys.readouterr().err


def test_help_lists_delve_commands():
    _, text = session([HELLO], "help\nhelp break\n")
    r = first_replies(text)
    for name in ("break", "clear", "continue", "step", "next", "stepout", "rev", "regs",
                 "print", "examinemem", "stack", "goroutines", "list", "stackmap", "trace",
                 "restart", "help"):
        assert re.search(rf"^\s+{re.escape(name)}\b", r["help"], re.M), name
    assert "Aliases: b" in r["help break"]


def test_trace_restart_and_tracepoints():
    script = """\
trace on
step 3
trace off
trace runtime.settls
continue main.main
restart
breakpoints
continue
exit
"""
    _, text = session([HELLO], script)
    r = replies(text)
    traced = first_replies(text)["step 3"]
    assert "runtime/" not in traced
    assert traced.count("rt0_linux_amd64.s") >= 3
    assert "> tracepoint 1: " in first_replies(text)["continue main.main"]
    assert "Process restarted" in first_replies(text)["restart"]
    assert "hello, world" in [t for c, t in r if c == "continue"][0]

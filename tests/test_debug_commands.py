"""delve's commands that ``goasm debug`` gained with the debugger package: ``frame``,
``up``, ``down``, ``args``, ``locals``, ``watch`` (forward and in reverse), ``set``,
``goroutine N`` and ``display`` across ``restart`` -- as scripted sessions.

Oracles: the machine's own memory hooks on a fresh process (every write to a watched
word, by step), the hardware view of the same frame (``8(SP)`` at entry is ``n+0(FP)``),
and the program's output after ``set`` changed its argument.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from goasm import api

from test_debug import first_replies, printed, replies, session

REPO = Path(__file__).resolve().parent.parent
HELLO = REPO / "examples" / "hello" / "hello.s"
RECURSION = REPO / "examples" / "recursion" / "recursion.s"


def test_frames_args_and_locals_in_the_selected_frame():
    script = """\
break main.sum
continue
continue
args
print 8(SP)
frame 1
args
locals
print n
print saved-8(SP)
up
print n
down
down
down
frame 1 print n
print n
stack
step
print n
exit
"""
    _, text = session([RECURSION], script)
    r = replies(text)
    args = [t for c, t in r if c == "args"]
    assert args[0].startswith("n = 0x4e1f (19999)    // n+0(FP) uint64\n")
    assert "ret = 0x0 (0)    // ret+8(FP) uint64" in args[0]
    assert printed(text, "print 8(SP)") == 19999             # n+0(FP) at entry, by hand
    frames = [t for c, t in r if c in ("frame 1", "up", "down")]
    assert frames[0].startswith("Frame 1: main.sum+0xd() ") and "CALL ·sum(SB)" in frames[0]
    assert args[1].startswith("n = 0x4e20 (20000)")
    assert first_replies(text)["locals"].startswith("saved = 0x4e20 (20000)    // saved-8(SP)")
    assert printed(text, "print n") == 20000 == printed(text, "print saved-8(SP)")
    assert frames[1].startswith("Frame 2: main.main+0x8() ")
    assert [t for c, t in r if c == "print n"][1].startswith("Command failed: could not find")
    assert frames[2].startswith("Frame 1: ") and frames[3].startswith("Frame 0: main.sum() ")
    assert frames[4].startswith("Command failed: already at the innermost frame")
    assert printed(text, "frame 1 print n") == 20000
    assert printed(text, "print n", 2) == 19999              # frame 0 stays selected
    assert printed(text, "print n", 3) == 19999              # running resets the frame


def write_steps(files, addr: int) -> list:
    """Every step at which an instruction (or the kernel) writes the word at ``addr``:
    the machine's own write hook on a fresh process run to its end."""
    proc = api.start(files, stdout=io.BytesIO())
    steps = []
    proc.machine.add_hook("write", lambda m, access: steps.append(m.steps),
                          start=addr, end=addr + 8)
    assert proc.machine.run().kind == "exit"
    return steps


def test_watch_write_forward_and_in_reverse_agree_with_the_machines_write_hook():
    dbg, text = session([HELLO], "watch -w m0.tls[0]\n" + "continue\n" * 8
                        + "rev continue\n" * 8 + "exit\n")
    r = replies(text)
    assert r[0][1].startswith("Watchpoint 1 set at m0.tls[0] [0x")
    addr = int(re.search(r"\[(0x[0-9a-f]+),", r[0][1]).group(1), 16)
    assert addr == dbg.image.lookup("runtime.m0").addr + 128          # m.tls
    oracle = write_steps([HELLO], addr)
    assert oracle, "the g slot is written during start-up"
    forward = [t for c, t in r if c == "continue"]
    hits = [int(re.search(r"\[step (\d+)\]", t).group(1)) for t in forward
            if "[Watchpoint 1]" in t]
    assert hits == oracle
    assert "has exited with status 0" in forward[len(oracle)]
    assert all(re.search(r"write of 8 bytes at 0x[0-9a-f]+ by the previous instruction: "
                         r"m0.tls\[0\] = 0x[0-9a-f]+ -> 0x[0-9a-f]+", t)
               for t in forward[:len(oracle)])
    back = [t for c, t in r if c == "rev continue"]
    rev_hits = [int(re.search(r"\[step (\d+)\]", t).group(1)) for t in back
                if "[Watchpoint 1]" in t]
    assert rev_hits == oracle[::-1]
    assert "reached the start of the program" in back[len(oracle)]


def test_watch_read_and_errors():
    script = """\
watch -r g0.stackguard0
continue
print PC
watch AX
watch g0
watch -x g0.goid
watch
breakpoints
clear 1
breakpoints
exit
"""
    _, text = session([HELLO], script)
    r = first_replies(text)
    assert "[Watchpoint 1]" in r["continue"]
    assert re.search(r"read of 8 bytes at 0x[0-9a-f]+ by the previous instruction", r["continue"])
    assert r["watch AX"].startswith("Command failed: AX is not in memory")
    assert r["watch g0"].startswith("Command failed: g0 is a g: watch one of its fields")
    assert r["watch -x g0.goid"].startswith("Command failed: wrong argument '-x'")
    assert r["watch"].startswith("Command failed: usage: watch")
    assert "Watchpoint 1 at g0.stackguard0 [0x" in r["breakpoints"] and "-r (1)" in \
        r["breakpoints"]
    assert r["clear 1"].startswith("Watchpoint 1 cleared")


def test_set_registers_and_memory_changes_what_the_program_does():
    script = """\
break main.sum
continue
set n+0(FP) = 3
args
set AX = 0x1234
print AX
set -8(FS) = -8(FS)
set g0.stackguard0 = g0.stackguard0 + 0
set 42 = 1
set AX
clearall
continue
exit
"""
    _, text = session([RECURSION], script)
    r = first_replies(text)
    assert r["set n+0(FP) = 3"] == "n+0(FP) = 0x3 (3)\n"
    assert r["args"].startswith("n = 0x3 (3)")
    assert printed(text, "print AX") == 0x1234
    assert r["set -8(FS) = -8(FS)"].startswith("-8(FS) = 0x")
    assert r["set 42 = 1"].startswith("Command failed: cannot assign to 42")
    assert r["set AX"].startswith("Command failed: usage: set")
    # sum(3) = 6 instead of sum(20000): the new timeline runs to its own end
    out = [t for c, t in replies(text) if c == "continue"][1]
    assert out.startswith("6\n") and "200010000" not in text
    assert "has exited with status 0" in out


def test_goroutine_selection_and_display_survives_restart():
    script = """\
display -a g0.stackguard0
break main.sum
continue
goroutines
goroutine 0
stack
print PC
print AX
goroutine
goroutine 1
goroutine 0 print PC == g0.sched.pc
goroutine 7
restart
continue
exit
"""
    _, text = session([RECURSION], script)
    r = first_replies(text)
    assert "0: g0.stackguard0 = 0x" in r["continue"]
    assert r["goroutine 0"].startswith("Switched from 1 to 0\nFrame 0: runtime.mstart")
    assert r["stack"].startswith(" 0  0x") and "runtime.mstart" in r["stack"]
    assert "runtime.mstart" in r["print PC"]
    assert r["print AX"].startswith("Command failed: AX is not known for a goroutine that "
                                    "is not running")
    assert r["goroutine"].startswith("Thread 1000000 (g0 (m0's system stack)) [running]")
    assert r["goroutine 1"].startswith("Switched from 0 to 1\nFrame 0: main.sum()")
    assert printed(text, "goroutine 0 print PC == g0.sched.pc") == 1
    assert r["goroutine 7"].startswith("Command failed: no goroutine 7")
    after_restart = [t for c, t in replies(text) if c == "continue"][1]
    assert "[Breakpoint 1] main.sum()" in after_restart
    assert "0: g0.stackguard0 = 0x" in after_restart


def test_vector_registers_at_the_register_files_width():
    """X/Y/Z views of one register (SDM Vol. 1, 15.5: XMMi is the low 128 bits of YMMi,
    YMMi the low 256 of ZMMi), K0-K7 and MXCSR (reset value 0x1F80, SDM Vol. 1, 10.2.3)."""
    wide = (0xA5 << 500) | (0x11 << 200) | 0x2233
    script = f"""\
set Z1 = {wide:#x}
print Z1
print Y1
print X1
set X1 = 7
print Z1
set K3 = 0x55
print K3
print MXCSR
regs -a
exit
"""
    dbg, text = session([HELLO], script)
    r = replies(text)
    zs = [t.strip() for c, t in r if c == "print Z1"]
    assert int(zs[0], 16) == wide
    assert int(first_replies(text)["print Y1"].strip(), 16) == wide & ((1 << 256) - 1)
    assert int(first_replies(text)["print X1"].strip(), 16) == 0x2233
    assert int(zs[1], 16) == (wide & ~((1 << 128) - 1)) | 7     # X1 keeps bits 128..511
    assert printed(text, "print K3") == 0x55
    assert printed(text, "print MXCSR") == 0x1F80
    regs = first_replies(text)["regs -a"]
    names = re.findall(r"^\s*([A-Z]+\d*) = ", regs, re.M)
    assert names[-41:] == [f"Z{i}" for i in range(32)] + [f"K{i}" for i in range(8)] + \
        ["MXCSR"]
    assert dbg.machine.cpu.vhi[1] == wide >> 128

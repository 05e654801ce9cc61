"""Observation never changes the program: the virtual clock (clock_gettime, through
SYSCALL) and RDTSC advance by retired instructions identically in every execution mode
(DESIGN.md, "Threads": "a virtual clock that advances by retired instructions
identically in every execution mode").

A generated program runs loops of random lengths between clock reads, calls a function,
and prints every value it read (raw bytes on stdout). The reference is the slow loop
(an ``after`` hook forces it: one instruction at a time, ``steps`` counted before each);
the output and the step count must be identical when the same program runs translated
(the default engine, and ``eager``, which translates everything on first dispatch), with
per-instruction closures (``GOASM_ENGINE=closure``), traced (``--trace``), stepped with
``Machine.step``, with an ``instruction`` hook, with ``pc`` hooks, and with the runtime
checker on.
"""

from __future__ import annotations

import io
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import api

HEADER = """#include "textflag.h"

GLOBL buf<>(SB), NOPTR, $%(size)d

TEXT ·spin(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	XORQ AX, AX
spinloop:
	ADDQ CX, AX
	ROLQ $3, AX
	DECQ CX
	JNE spinloop
	RET

TEXT ·main(SB), $24-0
	LEAQ buf<>(SB), R12
"""

RDTSC = """	MOVQ $%(n)d, CX
loop%(i)d:
	ADDQ $1, BX
	DECQ CX
	JNE loop%(i)d
	RDTSC
	MOVL AX, %(off)d(R12)
	MOVL DX, %(off4)d(R12)
"""

CLOCK = """	MOVQ $%(n)d, 0(SP)
	CALL ·spin(SB)
	LEAQ ts-16(SP), SI
	MOVQ $1, DI               // CLOCK_MONOTONIC
	MOVQ $228, AX             // SYS_clock_gettime
	SYSCALL
	MOVQ ts-16(SP), AX
	MOVQ AX, %(off)d(R12)
	MOVQ ts-8(SP), AX
	ADDQ $%(i)d, AX
	MOVQ AX, %(off8)d(R12)
"""

TRAILER = """	MOVQ $1, AX               // SYS_write
	MOVQ $1, DI
	MOVQ R12, SI
	MOVQ $%(size)d, DX
	SYSCALL
	RET
"""


def program(blocks) -> str:
    size = 16 * len(blocks)
    parts = [HEADER % {"size": size}]
    for i, (kind, n) in enumerate(blocks):
        off = 16 * i
        template = RDTSC if kind == "rdtsc" else CLOCK
        parts.append(template % {"n": n, "i": i, "off": off, "off4": off + 4,
                                 "off8": off + 8})
    parts.append(TRAILER % {"size": size})
    return "".join(parts)


def run_mode(path, mode: str, monkeypatch):
    """(stdout bytes, steps) of the program under ``mode``."""
    if mode in ("eager", "closure"):
        monkeypatch.setenv("GOASM_ENGINE", mode)
    else:
        monkeypatch.delenv("GOASM_ENGINE", raising=False)
    out = io.BytesIO()
    if mode == "trace":
        res = api.run([path], stdout=out, stderr=io.BytesIO(), trace=io.StringIO())
        return out.getvalue(), res.steps
    if mode == "check":
        res = api.run([path], stdout=out, stderr=io.BytesIO(), check=True)
        assert res.findings == ()
        return out.getvalue(), res.steps
    proc = api.start([path], stdout=out, stderr=io.BytesIO())
    m = proc.machine
    if mode == "slow":
        m.add_hook("after", lambda mm: None)
    elif mode == "instruction":
        m.add_hook("instruction", lambda mm: None)
    elif mode == "pc":
        m.add_hook("pc", lambda mm: None, at=["main.spin", "main.main"])
    if mode == "step":
        while True:
            r = m.step()
            if r.kind == "exit":
                break
    else:
        r = m.run()
        assert r.kind == "exit", r
    return out.getvalue(), m.steps


MODES = ("translate", "eager", "closure", "trace", "step", "instruction", "pc", "check")


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(("rdtsc", "clock")), st.integers(1, 60)),
                min_size=1, max_size=5))
def test_clock_reads_the_same_in_every_mode(tmp_path_factory, monkeypatch, blocks):
    path = tmp_path_factory.mktemp("clock") / "clock.s"
    path.write_text(program(blocks))
    want = run_mode(path, "slow", monkeypatch)
    assert len(want[0]) == 16 * len(blocks)
    # the values really move with the instructions retired
    values = struct.unpack(f"<{2 * len(blocks)}Q", want[0])
    assert all(v > 0 for v in values[::2])
    for mode in MODES:
        assert run_mode(path, mode, monkeypatch) == want, mode

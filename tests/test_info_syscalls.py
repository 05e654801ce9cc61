"""The information system calls real code makes (uname, getuid & co., getppid,
getrlimit/prlimit64, getrandom): fixed virtual answers in the same deterministic world,
laid out as their man pages say, called from assembly through Machine.call."""

from __future__ import annotations

import io

import pytest

import goasm
from goasm.machine import syscalls as sc

SRC = r"""
#include "textflag.h"

// func sys0(nr uintptr) int64
TEXT ·sys0(SB), NOSPLIT, $0-16
	MOVQ	nr+0(FP), AX
	SYSCALL
	MOVQ	AX, ret+8(FP)
	RET

// func sys4(nr, a, b, c, d uintptr) int64
TEXT ·sys4(SB), NOSPLIT, $0-48
	MOVQ	nr+0(FP), AX
	MOVQ	a+8(FP), DI
	MOVQ	b+16(FP), SI
	MOVQ	c+24(FP), DX
	MOVQ	d+32(FP), R10
	SYSCALL
	MOVQ	AX, ret+40(FP)
	RET
"""

GO = """
package main

func sys0(nr uintptr) int64
func sys4(nr, a, b, c, d uintptr) int64
"""


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    d = tmp_path_factory.mktemp("info")
    (d / "sys_amd64.s").write_text(SRC)
    (d / "sys.go").write_text(GO)
    return goasm.Machine(goasm.load([d / "sys_amd64.s"]), stdout=io.BytesIO(),
                         stderr=io.BytesIO())


def test_ids(m):
    assert [m.call("sys0", nr) for nr in (102, 107, 104, 108, 110)] == [1000, 1000, 1000,
                                                                         1000, 1]


def test_uname(m):
    m.reset()
    buf = m.alloc(6 * 65)
    assert m.call("sys4", 63, buf, 0, 0, 0, fresh=False) == 0
    raw = m.mem.read(buf, 6 * 65)
    fields = [raw[i * 65:(i + 1) * 65].split(b"\0")[0].decode() for i in range(6)]
    assert fields == ["Linux", "goasm", "6.1.0-goasm", "#1 SMP goasm", "x86_64", "(none)"]
    assert m.call("sys4", 63, 8, 0, 0, 0) == -sc.EFAULT


def test_rlimits(m):
    m.reset()
    buf = m.alloc(16)
    assert m.call("sys4", 97, 3, buf, 0, 0, fresh=False) == 0       # RLIMIT_STACK
    assert m.mem.read_u64(buf) == 8 << 20 and m.mem.read_u64(buf + 8) == sc.RLIM_INFINITY
    assert m.call("sys4", 97, 99, buf, 0, 0, fresh=False) == -sc.EINVAL
    # prlimit64(0, RLIMIT_NOFILE, new, old): lower the soft limit, read it back
    new = m.alloc((512).to_bytes(8, "little") + (4096).to_bytes(8, "little"))
    assert m.call("sys4", 302, 0, 7, new, buf, fresh=False) == 0
    assert m.mem.read_u64(buf) == 1024
    assert m.call("sys4", 302, 0, 7, 0, buf, fresh=False) == 0
    assert m.mem.read_u64(buf) == 512
    up = m.alloc((512).to_bytes(8, "little") + (1 << 20).to_bytes(8, "little"))
    assert m.call("sys4", 302, 0, 7, up, 0, fresh=False) == -sc.EPERM
    assert m.call("sys4", 302, 4242, 7, 0, buf, fresh=False) == -sc.ESRCH
    m.reset()                                   # each call starts from the ready state
    buf = m.alloc(16)
    assert m.call("sys4", 302, 0, 7, 0, buf, fresh=False) == 0
    assert m.mem.read_u64(buf) == 1024


def test_getrandom_is_seeded(m):
    def draw(n):
        m.reset()
        buf = m.alloc(n)
        assert m.call("sys4", 318, buf, n, 0, 0, fresh=False) == n
        first = m.mem.read(buf, n)
        assert m.call("sys4", 318, buf, n, 1, 0, fresh=False) == n   # GRND_NONBLOCK
        return first, m.mem.read(buf, n)

    a1, a2 = draw(40)
    b1, b2 = draw(40)
    assert (a1, a2) == (b1, b2) and a1 != a2          # the same world, a fresh stream
    assert len(set(a1)) > 10
    assert m.call("sys4", 318, 0, 0, 8, 0) == -sc.EINVAL

"""Unit tests of the emulated Linux kernel (goasm/machine/syscalls.py).

Expected results follow the man pages (write(2), arch_prctl(2), mmap(2), ...) and the
x86-64 syscall ABI (syscall(2)); the name table is checked against the x/sys/unix table
that ships inside the Go toolchain (zsysnum_linux_amd64.go), when one is installed.
"""

from __future__ import annotations

import io
import re

import pytest

from goasm.errors import Pos, UnimplementedError
from goasm.image import Image, LInstr
from goasm.machine import syscalls as sc
from goasm.machine.memory import Memory
from goasm.machine.state import CPU


class Exited(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


class FakeMachine:
    """The parts of a Machine the kernel uses: cpu, mem, image, steps, exit."""

    def __init__(self):
        self.cpu = CPU()
        self.mem = Memory()
        self.image = Image()
        self.steps = 0

    def exit(self, status):
        raise Exited(status)


REG = {"AX": 0, "CX": 1, "DX": 2, "SI": 6, "DI": 7, "R8": 8, "R9": 9, "R10": 10, "R11": 11}
BUF = 0x10000


def call(m, linux, nr, *args):
    regs = m.cpu.regs
    regs[0] = nr
    for name, value in zip(("DI", "SI", "DX", "R10", "R8", "R9"), args):
        regs[REG[name]] = value & sc.M64
    linux(m)
    r = regs[0]
    return r - (1 << 64) if r >> 63 else r


@pytest.fixture
def m():
    machine = FakeMachine()
    machine.mem.map(BUF, 0x4000)
    return machine


def test_write_stdout_and_stderr(m):
    out, err = io.BytesIO(), io.BytesIO()
    linux = sc.Linux(stdout=out, stderr=err)
    m.mem.write(BUF, b"hello\n")
    assert call(m, linux, 1, 1, BUF, 6) == 6
    assert call(m, linux, 1, 2, BUF, 5) == 5
    assert out.getvalue() == b"hello\n"
    assert err.getvalue() == b"hello"


def test_write_to_text_stream_and_capture(m):
    text = io.StringIO()
    linux = sc.Linux(stdout=text)
    m.mem.write(BUF, "héllo".encode())
    assert call(m, linux, 1, 1, BUF, 6) == 6
    assert text.getvalue() == "héllo"
    captured = sc.Linux()
    call(m, captured, 1, 2, BUF, 6)
    assert bytes(captured.output[2]) == "héllo".encode()


def test_write_bad_fd_is_ebadf(m):
    linux = sc.Linux(stdout=io.BytesIO())
    assert call(m, linux, 1, 3, BUF, 1) == -sc.EBADF
    assert call(m, linux, 1, 0, BUF, 1) == -sc.EBADF


def test_write_unmapped_buffer_is_efault(m):
    linux = sc.Linux(stdout=io.BytesIO())
    assert call(m, linux, 1, 1, 0x900000, 4) == -sc.EFAULT


def test_read_stdin(m):
    linux = sc.Linux(stdin=io.BytesIO(b"abc"))
    assert call(m, linux, 0, 0, BUF, 2) == 2
    assert m.mem.read(BUF, 2) == b"ab"
    assert call(m, linux, 0, 0, BUF, 10) == 1
    assert call(m, linux, 0, 0, BUF, 10) == 0          # end of file
    assert call(m, linux, 0, 5, BUF, 10) == -sc.EBADF


def test_syscall_clobbers_rcx_r11(m):
    linux = sc.Linux(stdout=io.BytesIO())
    m.image.code[0x401000] = LInstr(addr=0x401000, op="SYSCALL", pos=Pos("a.s", 3, 2))
    m.cpu.pc = 0x401000
    m.cpu.regs[1] = m.cpu.regs[11] = 0x5555
    call(m, linux, 39)
    assert m.cpu.regs[1] == 0x401001                     # RCX = next RIP
    assert m.cpu.regs[11] == m.cpu.get_rflags()          # R11 = RFLAGS


def test_arch_prctl_set_and_get_fs(m):
    events = []
    linux = sc.Linux(events=events)
    assert call(m, linux, 158, sc.ARCH_SET_FS, 0x602168) == 0
    assert m.cpu.fs_base == 0x602168
    assert call(m, linux, 158, sc.ARCH_GET_FS, BUF) == 0
    assert m.mem.read_u64(BUF) == 0x602168
    tls = [e for e in events if isinstance(e, sc.TlsBaseSet)]
    assert tls and tls[0].addr == 0x602168
    assert any(isinstance(e, sc.SyscallEvent) and e.name == "arch_prctl" for e in events)


@pytest.mark.parametrize("addr", [0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000, 0x7FFF_FFFF_F000,
                                  (1 << 64) - 8])
def test_arch_prctl_non_canonical_is_eperm(m, addr):
    linux = sc.Linux()
    m.cpu.fs_base = 0x1234
    assert call(m, linux, 158, sc.ARCH_SET_FS, addr) == -sc.EPERM
    assert m.cpu.fs_base == 0x1234


def test_arch_prctl_bad_code_and_fault(m):
    linux = sc.Linux()
    assert call(m, linux, 158, 0x1234, 0) == -sc.EINVAL
    assert call(m, linux, 158, sc.ARCH_GET_FS, 0x900000) == -sc.EFAULT


def test_unknown_syscall_error_names_it_and_the_site(m):
    linux = sc.Linux()
    m.image.code[0x401000] = LInstr(addr=0x401000, op="SYSCALL", pos=Pos("prog.s", 12, 2))
    m.cpu.pc = 0x401000
    with pytest.raises(UnimplementedError) as exc:
        call(m, linux, 57)
    assert str(exc.value) == "unimplemented syscall fork (57) at prog.s:12"
    with pytest.raises(UnimplementedError, match=r"unimplemented syscall syscall_999 \(999\)"):
        call(m, linux, 999)


def test_unknown_syscall_site_after_pc_advanced(m):
    linux = sc.Linux()
    m.image.code[0x401000] = LInstr(addr=0x401000, op="SYSCALL", pos=Pos("prog.s", 9, 2))
    m.cpu.pc = 0x401001
    with pytest.raises(UnimplementedError, match=r"openat \(257\) at prog.s:9"):
        call(m, linux, 257)


def test_exit_group_and_exit(m):
    events = []
    linux = sc.Linux(events=events)
    with pytest.raises(Exited) as exc:
        call(m, linux, 231, 0x103)
    assert exc.value.status == 3
    assert isinstance(events[-1], sc.ProcessExit) and events[-1].syscall == "exit_group"
    with pytest.raises(Exited) as exc:
        call(m, linux, 60, 7)
    assert exc.value.status == 7


def test_getpid_gettid_yield(m):
    linux = sc.Linux(pid=4242)
    assert call(m, linux, 39) == 4242
    assert call(m, linux, 186) == 4242
    assert call(m, linux, 24) == 0


def test_clock_gettime_and_nanosleep_use_the_virtual_clock(m):
    linux = sc.Linux(start_ns=5_000_000_000, ns_per_step=10)
    m.steps = 100
    assert call(m, linux, 228, 1, BUF) == 0
    assert (m.mem.read_u64(BUF), m.mem.read_u64(BUF + 8)) == (5, 1000)
    m.mem.write_u64(BUF + 16, 2)
    m.mem.write_u64(BUF + 24, 500)
    assert call(m, linux, 35, BUF + 16, 0) == 0
    assert call(m, linux, 228, 1, BUF) == 0
    assert (m.mem.read_u64(BUF), m.mem.read_u64(BUF + 8)) == (7, 1500)
    assert call(m, linux, 228, 0, BUF) == 0
    assert m.mem.read_u64(BUF) == 7 + linux.epoch_ns // 10**9
    assert call(m, linux, 228, 99, BUF) == -sc.EINVAL
    assert call(m, linux, 228, 1, 0x900000) == -sc.EFAULT
    m.mem.write_u64(BUF + 24, 1_000_000_000)
    assert call(m, linux, 35, BUF + 16, 0) == -sc.EINVAL


def test_mmap_anonymous(m):
    linux = sc.Linux()
    prot_rw = sc.PROT_READ | sc.PROT_WRITE
    flags = sc.MAP_PRIVATE | sc.MAP_ANONYMOUS
    a = call(m, linux, 9, 0, 10000, prot_rw, flags, -1, 0)
    assert a > 0 and a % 4096 == 0 and a + 12288 <= sc.MMAP_TOP
    assert m.mem.read(a, 12288) == bytes(12288)
    m.mem.write_u64(a + 12280, 7)
    b = call(m, linux, 9, 0, 4096, prot_rw, flags, -1, 0)
    assert b + 4096 <= a or b >= a + 12288
    # a free hint is honoured
    hint = 0xC000000000
    assert call(m, linux, 9, hint, 8192, prot_rw, flags, -1, 0) == hint
    # the same hint again is taken: the kernel picks another place
    assert call(m, linux, 9, hint, 8192, prot_rw, flags, -1, 0) != hint
    # MAP_FIXED replaces (fresh zero pages)
    m.mem.write_u64(hint, 99)
    assert call(m, linux, 9, hint, 4096, prot_rw, flags | sc.MAP_FIXED, -1, 0) == hint
    assert m.mem.read_u64(hint) == 0
    assert call(m, linux, 9, hint, 4096, prot_rw, flags | sc.MAP_FIXED_NOREPLACE, -1, 0) == -sc.EEXIST
    # read-only and PROT_NONE
    r = call(m, linux, 9, 0, 4096, sc.PROT_READ, flags, -1, 0)
    assert m.mem.is_mapped(r) and not m.mem.is_writable(r)
    n = call(m, linux, 9, 0, 4096, 0, flags, -1, 0)
    assert n > 0 and not m.mem.is_mapped(n)
    # munmap
    assert call(m, linux, 11, a, 12288) == 0
    assert not m.mem.is_mapped(a)
    assert call(m, linux, 11, a + 1, 4096) == -sc.EINVAL


def test_mmap_errors(m):
    linux = sc.Linux()
    rw = sc.PROT_READ | sc.PROT_WRITE
    assert call(m, linux, 9, 0, 0, rw, sc.MAP_PRIVATE | sc.MAP_ANONYMOUS, -1, 0) == -sc.EINVAL
    assert call(m, linux, 9, 0, 4096, rw, sc.MAP_ANONYMOUS, -1, 0) == -sc.EINVAL      # no type
    assert call(m, linux, 9, 0, 4096, rw, sc.MAP_PRIVATE, 1, 0) == -sc.ENODEV        # a file
    assert call(m, linux, 9, 0, 4096, rw, sc.MAP_PRIVATE, 5, 0) == -sc.EBADF
    assert call(m, linux, 9, 0x1001, 4096, rw,
                sc.MAP_PRIVATE | sc.MAP_ANONYMOUS | sc.MAP_FIXED, -1, 0) == -sc.EINVAL
    assert call(m, linux, 9, 0, 4096, rw, sc.MAP_PRIVATE | sc.MAP_ANONYMOUS, -1, 1) == -sc.EINVAL


def test_madvise_dontneed_zeroes(m):
    linux = sc.Linux()
    m.mem.write_u64(BUF, 0xABCD)
    assert call(m, linux, 28, BUF, 4096, 0) == 0           # MADV_NORMAL: untouched
    assert m.mem.read_u64(BUF) == 0xABCD
    assert call(m, linux, 28, BUF, 4096, sc.MADV_DONTNEED) == 0
    assert m.mem.read_u64(BUF) == 0
    assert call(m, linux, 28, BUF + 8, 4096, 4) == -sc.EINVAL


def test_signals_are_recorded(m):
    linux = sc.Linux()
    act = [0x401234, 0x1C000004, 0x401300, 0]
    m.mem.write(BUF, b"".join(v.to_bytes(8, "little") for v in act))
    assert call(m, linux, 13, 11, BUF, BUF + 64, 8) == 0
    assert m.mem.read(BUF + 64, 32) == bytes(32)           # no previous action
    assert linux.sigactions[11] == tuple(act)
    assert call(m, linux, 13, 11, 0, BUF + 64, 8) == 0
    assert m.mem.read_u64(BUF + 64) == 0x401234
    assert call(m, linux, 13, 9, BUF, 0, 8) == -sc.EINVAL    # SIGKILL
    assert call(m, linux, 13, 11, BUF, 0, 16) == -sc.EINVAL  # sigsetsize
    # sigprocmask: block, then read back
    m.mem.write_u64(BUF, (1 << 1) | (1 << 8))                # SIGINT(2), SIGKILL(9)
    assert call(m, linux, 14, 0, BUF, BUF + 8, 8) == 0
    assert m.mem.read_u64(BUF + 8) == 0
    assert linux.sigmask == 1 << 1                            # SIGKILL cannot be blocked
    assert call(m, linux, 14, 7, BUF, 0, 8) == -sc.EINVAL
    # sigaltstack
    m.mem.write(BUF, (0x7000).to_bytes(8, "little") + bytes(8) + (32768).to_bytes(8, "little"))
    assert call(m, linux, 131, 0, BUF + 32) == 0
    assert m.mem.read_u32(BUF + 40) == sc.SS_DISABLE
    assert call(m, linux, 131, BUF, 0) == 0
    assert linux.altstack == (0x7000, 0, 32768)


def test_events_and_str(m):
    events = []
    linux = sc.Linux(events=events, stdout=io.BytesIO())
    m.mem.write(BUF, b"x")
    call(m, linux, 1, 3, BUF, 1)
    ev = events[-1]
    assert ev.to_json()["name"] == "write" and ev.result == -sc.EBADF
    assert "write(0x3" in str(ev) and "errno" in str(ev)


def test_name_table_is_consistent():
    assert sc.SYSCALL_NAMES[0] == "read" and sc.SYSCALL_NAMES[158] == "arch_prctl"
    assert sc.SYSCALL_NUMBERS["exit_group"] == 231
    assert sc.IMPLEMENTED >= {"read", "write", "mmap", "exit_group", "arch_prctl"}


def test_name_table_matches_x_sys_unix(goroot):
    """Every number in golang.org/x/sys/unix's zsysnum_linux_amd64.go has our name."""
    path = goroot / "src" / "cmd" / "vendor" / "golang.org" / "x" / "sys" / "unix" / "zsysnum_linux_amd64.go"
    if not path.is_file():
        pytest.skip("no x/sys/unix table in this toolchain")
    table = dict((int(n), name.lower()) for name, n in
                 re.findall(r"SYS_(\w+)\s*=\s*(\d+)", path.read_text()))
    assert table, "parsed nothing"
    for nr, name in table.items():
        if nr in sc.SYSCALL_NAMES:
            assert sc.SYSCALL_NAMES[nr] == name, (nr, sc.SYSCALL_NAMES[nr], name)
    missing = sorted(set(table) - set(sc.SYSCALL_NAMES))
    assert not missing, missing

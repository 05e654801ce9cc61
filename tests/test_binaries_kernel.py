"""The kernel for real programs (goasm.machine.kernel, threads, signals) on small Plan 9
programs that make raw system calls -- no Go runtime in between -- and on Python-level
calls where a program would be longer than the property it checks.

Oracles: the man pages the handlers cite (clone(2), futex(2), sigaction(2), signal(7),
epoll(7), eventfd(2)) and Linux's signal frame layout (arch/x86/include/uapi/asm/
sigcontext.h), which Go's own signal handler reads in tests/test_binaries.py.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from goasm import api
from goasm.errors import LimitError, UnimplementedError
from goasm.machine import signals as sg
from goasm.machine.kernel import Deadlock, ThreadedLinux
from goasm.machine.process import start_process
from goasm.machine.state import CPUModel
from goasm.machine.threads import ThreadedMachine
from goasm.resources import runtime_dir

DATA = Path(__file__).resolve().parent / "data" / "kernel"


def start(name: str, *, quantum: int = 1000, stdin: bytes = b""):
    image = api.load([DATA / name], runtime=False, include_dirs=[runtime_dir()])
    out, err = io.BytesIO(), io.BytesIO()
    m = ThreadedMachine(image, cpu_model=CPUModel(), stdout=out, stderr=err,
                        max_steps=20_000_000)
    k = ThreadedLinux(stdout=out, stderr=err, stdin=io.BytesIO(stdin), quantum=quantum)
    m.syscall = k
    start_process(m, argv=[b"t"], entry="main.start")
    return m, k


def test_clone_and_futex_wake_the_waiting_parent():
    m, k = start("clone_futex.s")
    r = m.run()
    assert (r.kind, r.status) == ("exit", 42)
    assert sorted(k.threads) == [1000, 1001]
    assert k.threads[1001].state == "exited"
    assert k.threads[1001].steps >= 40_000         # the child spun while the parent waited
    kinds = [e.kind for e in k.events]
    assert "thread_created" in kinds and "thread_switch" in kinds and "thread_exit" in kinds


@pytest.mark.parametrize("quantum", [1, 7, 1000, 100_000])
def test_any_quantum_gives_the_same_result(quantum):
    m, _k = start("clone_futex.s", quantum=quantum)
    assert m.run().status == 42


def test_stepping_interleaves_threads_as_running_does():
    m1, k1 = start("clone_futex.s", quantum=50)
    m1.run(max_steps=3000)
    m2, k2 = start("clone_futex.s", quantum=50)
    for _ in range(3000):
        m2.step()
    assert m1.steps == m2.steps == 3000
    assert (m1.cpu.save(), k1.current) == (m2.cpu.save(), k2.current)
    assert [str(e) for e in k1.events] == [str(e) for e in k2.events]


def test_signal_frames_and_sigreturn():
    m, k = start("signals.s")
    r = m.run()
    # SIGUSR1 10, on the alternate stack 4, SIGSEGV 22, SEGV_MAPERR 1 at address 0,
    # kill's result (0) restored by rt_sigreturn, the faulting code skipped
    assert (r.kind, r.status) == ("exit", 37)
    delivered = [e for e in k.events if e.kind == "signal"]
    assert [e.sig for e in delivered] == [10, 11]
    assert sum(e.kind == "sigreturn" for e in k.events) == 2
    assert k.sigmask == 0          # the handler's mask was undone


def test_fault_without_handler_is_reported():
    m, k = start("clone_futex.s")
    from goasm.errors import MachineFault

    m.run(max_steps=3)
    m.cpu.regs[0] = 0
    assert k.deliver_fault(m, MachineFault("x", signal="SIGSEGV", addr=0,
                                           code="SEGV_MAPERR")) is False


# --------------------------------------------------------------------------- Python level

class _Mach:
    """Just enough of a machine for syscall handlers that only touch memory."""

    def __init__(self):
        from goasm.machine.memory import Memory
        from goasm.machine.state import CPU

        self.mem = Memory()
        self.mem.map(0x10000, 0x10000)
        self.cpu = CPU()
        self.steps = 0


def test_eventfd_epoll_readiness():
    k = ThreadedLinux()
    m = _Mach()
    ep = k.sys_epoll_create1(m, 0)
    efd = k.sys_eventfd2(m, 0, 0o4000)
    m.mem.write(0x10000, struct.pack("<IQ", 1, 0xABCD))
    assert k.sys_epoll_ctl(m, ep, 1, efd, 0x10000) == 0
    assert k.sys_epoll_pwait(m, ep, 0x10100, 8, 0, 0) == 0        # nothing ready
    m.mem.write_u64(0x10200, 5)
    assert k.sys_write(m, efd, 0x10200, 8) == 8
    assert k.sys_epoll_pwait(m, ep, 0x10100, 8, 0, 0) == 1
    assert struct.unpack("<IQ", m.mem.read(0x10100, 12)) == (1, 0xABCD)
    assert k.sys_read(m, efd, 0x10300, 8) == 8 and m.mem.read_u64(0x10300) == 5
    assert k.sys_read(m, efd, 0x10300, 8) == -11                    # EAGAIN
    assert k.sys_epoll_ctl(m, ep, 1, efd, 0x10000) == -17           # EEXIST


def test_virtual_files_and_descriptors():
    k = ThreadedLinux()
    m = _Mach()
    path = b"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size\0"
    m.mem.write(0x10000, path)
    fd = k.sys_openat(m, (-100) & (2**64 - 1), 0x10000, 0, 0)
    assert fd == 3
    assert k.sys_read(m, fd, 0x11000, 64) == 8 and m.mem.read(0x11000, 8) == b"2097152\n"
    assert k.sys_read(m, fd, 0x11000, 64) == 0
    assert k.sys_close(m, fd) == 0 and k.sys_close(m, fd) == -9
    m.mem.write(0x10000, b"/proc/self/cgroup\0")
    assert k.sys_openat(m, (-100) & (2**64 - 1), 0x10000, 0, 0) == -2      # ENOENT
    m.mem.write(0x10000, b"/tmp/x\0")
    assert k.sys_openat(m, (-100) & (2**64 - 1), 0x10000, 0o101, 0o644) == -30   # EROFS
    assert k.sys_fcntl(m, 1, 3, 0) == 1                # F_GETFL: O_WRONLY
    assert k.sys_fcntl(m, 9, 1, 0) == -9


def test_getrandom_is_deterministic():
    outs = []
    for _ in range(2):
        k = ThreadedLinux(seed=7)
        m = _Mach()
        assert k.sys_getrandom(m, 0x10000, 100, 0) == 100
        outs.append(m.mem.read(0x10000, 100))
    assert outs[0] == outs[1] and len(set(outs[0])) > 20


def test_futex_requeue_and_deadlock():
    m, k = start("clone_futex.s")
    m.run(max_steps=20)                       # the child exists, both runnable
    child = k.threads[1001]
    child.state, child.wait, child.seq = "waiting", ("futex", 0x100, 0xFFFFFFFF), 1
    assert k.sys_futex(m, 0x100, 3, 0, 1, 0x200, 0) == 1       # REQUEUE: moved 1
    assert child.wait[1] == 0x200
    assert k.sys_futex(m, 0x200, 1, 1, 0, 0, 0) == 1           # WAKE
    assert child.state == "runnable" and child.result == 0
    child.state, child.wait = "waiting", ("futex", 0x300, 0xFFFFFFFF)
    with pytest.raises(Deadlock):
        k.block(m, ("futex", 0x400, 0xFFFFFFFF))
    assert issubclass(Deadlock, LimitError)


def test_unimplemented_syscall_names_the_call():
    m, k = start("clone_futex.s")
    m.cpu.regs[0] = 41                        # socket
    with pytest.raises(UnimplementedError, match=r"unimplemented syscall socket \(41\) in "):
        k(m)


def test_siginfo_layout():
    info = sg.siginfo(11, 1, addr=0x1234)
    assert len(info) == 128
    assert struct.unpack_from("<iiiiQ", info) == (11, 0, 1, 0, 0x1234)
    assert struct.unpack_from("<iiiiiI", sg.siginfo(23, sg.SI_TKILL, pid=7, uid=1000)) == \
        (23, 0, -6, 0, 7, 1000)


def test_pipe_readiness_and_end_of_file():
    k = ThreadedLinux()
    m = _Mach()
    assert k.sys_pipe2(m, 0x10000, 0o4000) == 0
    r, w = struct.unpack("<ii", m.mem.read(0x10000, 8))
    ep = k.sys_epoll_create1(m, 0)
    m.mem.write(0x10010, struct.pack("<IQ", 1, 7))
    assert k.sys_epoll_ctl(m, ep, 1, r, 0x10010) == 0
    assert k.sys_epoll_pwait(m, ep, 0x10100, 4, 0, 0) == 0
    m.mem.write(0x10200, b"xyz")
    assert k.sys_write(m, w, 0x10200, 3) == 3
    assert k.sys_epoll_pwait(m, ep, 0x10100, 4, 0, 0) == 1
    assert k.sys_read(m, r, 0x10300, 2) == 2 and m.mem.read(0x10300, 2) == b"xy"
    assert k.sys_read(m, r, 0x10300, 8) == 1
    assert k.sys_read(m, r, 0x10300, 8) == -11            # EAGAIN: empty, non-blocking
    assert k.sys_close(m, w) == 0
    assert k.sys_read(m, r, 0x10300, 8) == 0              # end of file
    assert k.sys_write(m, r, 0x10200, 1) == -9            # the read end


def test_access_and_getrusage():
    k = ThreadedLinux()
    m = _Mach()
    m.steps = 3_000_000_000
    m.mem.write(0x10000, b"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size\0")
    at = (-100) & (2**64 - 1)
    assert k.sys_faccessat(m, at, 0x10000, 4) == 0          # R_OK
    assert k.sys_faccessat(m, at, 0x10000, 2) == -13        # W_OK: EACCES
    m.mem.write(0x10000, b"/usr/bin/ls\0")
    assert k.sys_access(m, 0x10000, 1) == -2
    assert k.sys_getrusage(m, 0, 0x11000) == 0
    assert struct.unpack("<qq", m.mem.read(0x11000, 16)) == (3, 0)

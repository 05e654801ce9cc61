"""The kernel of a multi-threaded process: threads, futexes, time, signals, epoll and
files, on top of :class:`goasm.machine.syscalls.Linux`.

This is what a real, statically linked Go program needs from Linux (DESIGN.md,
"Threads (real binaries)"): the runtime starts threads with clone(2) even for
``println``, parks them on futexes, sleeps in nanosleep and epoll_pwait, preempts
goroutines with tgkill(SIGURG) and turns a SIGSEGV into a Go panic in its handler.

Threads
    Every thread is a :class:`Thread`: its registers (``CPU.save()``) while it is off
    the CPU, its signal mask, alternate stack and pending signals, and what it waits
    for. One thread at a time is on the machine's CPU (the machine has one register
    file; a switch saves it and loads another). The scheduler is deterministic:
    round-robin in thread-creation order, switching when the running thread has run
    ``quantum`` instructions (:meth:`ThreadedLinux.preempt`, called by the run loop of
    :class:`goasm.machine.threads.ThreadedMachine` at exact step counts) or when it
    blocks (futex, nanosleep, epoll_pwait, sched_yield, exit). A system call that
    blocks switches threads *inside* the call: the SYSCALL instruction then continues
    at the other thread's pc, so every run loop (fast, traced, hooked, debugged)
    interleaves threads identically.

Time
    The virtual clock is ``start_ns + steps * ns_per_step + slept_ns``: it advances by
    retired instructions (the machine's ``steps``, counted over all threads) and jumps
    forward when every thread waits (``slept_ns`` grows to the earliest deadline). No
    vDSO is offered (no AT_SYSINFO_EHDR), so the runtime reads the clock with
    clock_gettime(2). When every thread waits without a deadline the process can never
    run again: :class:`Deadlock` (a :class:`goasm.errors.LimitError`).

Signals
    Delivered as Linux does (:mod:`goasm.machine.signals`): on the alternate stack when
    the handler asked for SA_ONSTACK, with a ``struct rt_sigframe`` (siginfo, ucontext,
    FXSAVE image), and undone by rt_sigreturn(2). A signal is delivered to a thread when
    it returns to user mode: at the end of a system call of that thread, when it is
    switched onto the CPU, and at once for a fault (:meth:`ThreadedLinux.deliver_fault`,
    so a nil dereference becomes Go's ``sigpanic``). A signal sent to a waiting thread
    ends the wait with EINTR. SIGURG preemption requests are therefore delivered, at
    the next deterministic point.

Pipes (pipe2(2), pipe(7)) and eventfds are the only descriptors a read may wait on;
Go 1.21's netpoller wakes itself through a pipe, later releases through an eventfd.

Every system call is documented by its handler (``sys_<name>``, the man page it
follows); numbers without a handler raise :class:`goasm.errors.UnimplementedError`
naming the call, the function making it and its callers (exit status 125).
"""

from __future__ import annotations

import hashlib
import struct
import types

import attrs

from goasm.errors import LimitError, MachineFault, UnimplementedError
from goasm.machine import signals as sg
from goasm.machine import vfs
from goasm.machine.events import Event
from goasm.machine.syscalls import (EBADF, EFAULT, EINTR, EINVAL, ENOSYS, EPERM, KTIME_MAX,
                                    RLIMITS, SYSCALL_NAMES, UNAME, Linux, SyscallEvent,
                                    syscall_name)

M64 = (1 << 64) - 1
ENOENT = 2
ESRCH = 3
EAGAIN = 11
EACCES = 13
EEXIST = 17
ENOTDIR = 20
EISDIR = 21
EMFILE = 24
ENOTTY = 25
ESPIPE = 29
EROFS = 30
ERANGE = 34
ENAMETOOLONG = 36
EPIPE = 32
ETIMEDOUT = 110

NS = 1_000_000_000

# clone(2) flags (include/uapi/linux/sched.h).
CLONE_VM = 0x100
CLONE_FS = 0x200
CLONE_FILES = 0x400
CLONE_SIGHAND = 0x800
CLONE_VFORK = 0x4000
CLONE_THREAD = 0x10000
CLONE_SYSVSEM = 0x40000
CLONE_SETTLS = 0x80000
CLONE_PARENT_SETTID = 0x100000
CLONE_CHILD_CLEARTID = 0x200000
CLONE_CHILD_SETTID = 0x1000000

# futex(2) operations (include/uapi/linux/futex.h).
FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
FUTEX_NAMES = types.MappingProxyType({0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD",
                                      3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
                                      5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI",
                                      7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
                                      9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET",
                                      11: "FUTEX_WAIT_REQUEUE_PI",
                                      12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"})

# epoll(7).
EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP = 0x1, 0x4, 0x8, 0x10
EPOLLRDHUP, EPOLLONESHOT, EPOLLET = 0x2000, 1 << 30, 1 << 31
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EPOLL_EVENT = struct.Struct("<IQ")      # struct epoll_event is packed on x86-64

# eventfd(2).
EFD_SEMAPHORE = 1
EFD_MAX = (1 << 64) - 2

# fcntl(2).
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_DUPFD_CLOEXEC = 1030
FD_CLOEXEC = 1
AT_FDCWD = -100
TIMER_ABSTIME = 1

UTSNAME = tuple(v.encode() for v in UNAME.values())
"""uname(2): sysname, nodename, release, version, machine, domainname -- the same
virtual machine as a .s program's (goasm.machine.syscalls.UNAME)."""

CPUS = 2
"""CPUs sched_getaffinity reports by default (GOMAXPROCS): two, like the machines the
tests compare native runs on -- goroutine ids, and so tracebacks, depend on it."""

_NO_RESULT = object()
"""A handler's result when the registers are already final (rt_sigreturn, a thread
that exited, a call that blocked and switched threads)."""

_INTERRUPTIBLE = frozenset({"futex", "sleep", "epoll", "read"})


class Deadlock(LimitError):
    """Every thread waits and none of them can ever be woken."""


# --------------------------------------------------------------------------- events

@attrs.frozen
class ThreadCreated(Event):
    """clone(2) created thread ``tid`` (its stack pointer ``sp``, FS base ``tls``)."""

    kind = "thread_created"
    step: int
    parent: int
    tid: int
    sp: int
    tls: int

    def __str__(self) -> str:
        return (f"thread {self.tid} created by thread {self.parent}: SP {self.sp:#x}, "
                f"FS base {self.tls:#x}")


@attrs.frozen
class ThreadSwitch(Event):
    """The CPU switches from thread ``prev`` to thread ``tid`` (``why``: the quantum
    ended, or what ``prev`` now waits for)."""

    kind = "thread_switch"
    step: int
    prev: int
    tid: int
    why: str

    def __str__(self) -> str:
        return f"thread {self.tid} runs ({self.why} in thread {self.prev})"


@attrs.frozen
class ThreadExit(Event):
    kind = "thread_exit"
    step: int
    tid: int
    status: int

    def __str__(self) -> str:
        return f"thread {self.tid} exits ({self.status})"


@attrs.frozen
class ClockJump(Event):
    """Every thread waits: the virtual clock jumps ``ns`` ahead to the first deadline."""

    kind = "clock_jump"
    step: int
    ns: int

    def __str__(self) -> str:
        return f"every thread waits: the clock jumps {self.ns} ns ahead"


@attrs.frozen
class SignalDelivered(Event):
    """Signal ``sig`` runs its handler in thread ``tid`` (frame at ``frame``)."""

    kind = "signal"
    step: int
    tid: int
    sig: int
    handler: int
    frame: int
    pc: int

    def __str__(self) -> str:
        return (f"signal {sg.signal_name(self.sig)} delivered to thread {self.tid} at "
                f"pc {self.pc:#x}: handler {self.handler:#x}, frame {self.frame:#x}")


@attrs.frozen
class SignalReturn(Event):
    kind = "sigreturn"
    step: int
    tid: int
    pc: int

    def __str__(self) -> str:
        return f"rt_sigreturn in thread {self.tid}: back to {self.pc:#x}"


# --------------------------------------------------------------------------- threads

@attrs.define(eq=False)
class Thread:
    """One thread of the process (see the module docstring).

    ``state``: ``running`` (on the CPU), ``runnable``, ``waiting`` or ``exited``;
    ``wait`` says what a waiting thread waits for (``("futex", addr, bitset)``,
    ``("epoll", epfd, events, maxevents)``, ``("sleep",)``); ``deadline`` (virtual ns)
    ends a timed wait with ``timeout_result``; ``result`` is the value of RAX when it
    runs again; ``call`` the (nr, args) of the system call it waits in.
    """

    tid: int
    cpu: tuple | None = None
    state: str = "runnable"
    wait: tuple | None = None
    seq: int = 0
    deadline: int | None = None
    timeout_result: int = 0
    result: int | None = None
    call: tuple | None = None
    sigmask: int = 0
    altstack: tuple | None = None
    pending: list = attrs.Factory(list)
    clear_tid: int = 0
    steps: int = 0

    @property
    def alive(self) -> bool:
        return self.state != "exited"


def _signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class ThreadedLinux(Linux):
    """The kernel of one multi-threaded process (see the module docstring).

    ``quantum``: instructions a thread runs before the next runnable one gets the CPU;
    ``seed``: the bytes getrandom(2) returns are SHA-256 of the seed and a counter;
    ``files``: path -> content of the virtual file system (default :data:`vfs.FILES`);
    ``execfn``: what readlink("/proc/self/exe") answers. The other arguments are
    :class:`~goasm.machine.syscalls.Linux`'s.
    """

    def __init__(self, *, quantum: int = 10_000, seed: int = 0, files=None,
                 execfn: bytes = b"", cpus: int = CPUS, **kwargs) -> None:
        super().__init__(cpus=cpus, **kwargs)
        self.quantum = quantum
        self.seed = seed
        self.random_counter = 0
        self.files = types.MappingProxyType(dict(vfs.FILES if files is None else files))
        self.execfn = execfn
        main = Thread(self.pid, state="running")
        self.threads: dict[int, Thread] = {main.tid: main}
        self.current = main.tid
        self.next_tid = self.pid + 1
        self.next_switch = quantum
        self.on_cpu_since = 0
        self.wait_seq = 0
        self.fds = vfs.standard_table()
        self.limits = dict(RLIMITS)
        self.cwd = "/"

    # ------------------------------------------------------------------ dispatch

    def __call__(self, machine) -> None:
        """Execute the system call in the registers (the SYSCALL instruction has set
        RCX, R11 and ``cpu.pc`` already). A call that blocks leaves another thread on
        the CPU; pending signals of the thread returning to user mode are delivered."""
        regs = machine.cpu.regs
        nr = regs[0]
        args = (regs[7], regs[6], regs[2], regs[10], regs[8], regs[9])
        handler = _TABLE.get(nr)
        if handler is None:
            raise UnimplementedError(f"unimplemented syscall {syscall_name(nr)} ({nr}) "
                                     f"{self.where(machine)}")
        self.calls += 1
        tid = self.current
        result = getattr(self, handler)(machine, *args)
        if result is _NO_RESULT:
            self.deliver_pending(machine)
            return
        if self.record:
            self.events.append(SyscallEvent(machine.steps, nr, syscall_name(nr),
                                            args[:_ARGC.get(nr, 6)], result))
        if self.current == tid:
            regs[0] = result & M64
        self.deliver_pending(machine)

    def where(self, machine) -> str:
        """``in FUNC (file:line), called from FUNC (file:line) ...``: the SYSCALL being
        executed and up to four callers, by the frame-pointer chain (Go keeps BP as a
        frame pointer on amd64)."""
        image = machine.image
        pc = machine.cpu.pc
        for back in (2, 1):     # SYSCALL is 0F 05 in machine code, 1 unit in goasm's layout
            ins = image.code.get(pc - back)
            if ins is not None and ins.op == "SYSCALL" and ins.next_addr == pc:
                pc -= back
                break
        parts = [f"in {_describe(image, pc)}"]
        bp = machine.cpu.regs[5]
        mem = machine.mem
        for _ in range(4):
            try:
                ret = mem.read_u64(bp + 8)
                bp_next = mem.read_u64(bp)
            except MachineFault:
                break
            if not ret or image.symbol_at(ret - 1)[0] is None:
                break
            parts.append(f"called from {_describe(image, ret - 1)}")
            if bp_next <= bp:
                break
            bp = bp_next
        return ", ".join(parts)

    # ------------------------------------------------------------------ threads

    @property
    def thread(self) -> Thread:
        """The thread on the CPU."""
        return self.threads[self.current]

    def live_threads(self) -> list:
        return [t for t in self.threads.values() if t.alive]

    def _save_current(self, machine) -> Thread:
        t = self.thread
        t.cpu = machine.cpu.save()
        t.sigmask = self.sigmask
        t.altstack = self.altstack
        t.steps += machine.steps - self.on_cpu_since
        return t

    def _load(self, machine, t: Thread) -> None:
        machine.cpu.load(t.cpu)
        t.cpu = None
        t.state = "running"
        self.current = t.tid
        self.sigmask = t.sigmask
        self.altstack = t.altstack
        self.on_cpu_since = machine.steps
        self.next_switch = machine.steps + self.quantum
        if t.result is not None:
            machine.cpu.regs[0] = t.result & M64
            if self.record and t.call is not None:
                nr, args = t.call
                self.events.append(SyscallEvent(machine.steps, nr, syscall_name(nr),
                                                args[:_ARGC.get(nr, 6)], _signed(t.result)))
            t.result = None
        t.call = None

    def _wake(self, t: Thread, result: int) -> None:
        t.state = "runnable"
        t.wait = None
        t.deadline = None
        t.result = result

    def _expire(self, now: int) -> None:
        """End the timed waits whose deadline has passed."""
        for t in self.threads.values():
            if t.state == "waiting" and t.deadline is not None and t.deadline <= now:
                self._wake(t, t.timeout_result)

    def _next_runnable(self) -> Thread | None:
        order = list(self.threads)
        i = order.index(self.current)
        for tid in order[i + 1:] + order[:i + 1]:
            t = self.threads[tid]
            if t.state == "runnable":
                return t
        return None

    def _switch(self, machine, why: str) -> None:
        """Put the next runnable thread on the CPU (the current one was saved, or has
        exited). When none is runnable, the clock jumps to the earliest deadline."""
        prev = self.current
        self._expire(self.now_ns(machine))
        nxt = self._next_runnable()
        while nxt is None:
            timed = [t for t in self.threads.values()
                     if t.state == "waiting" and t.deadline is not None]
            if not timed:
                raise Deadlock(self._deadlock_message(machine))
            first = min(t.deadline for t in timed)
            jump = max(0, first - self.now_ns(machine))
            self.slept_ns += jump
            if self.record:
                self.events.append(ClockJump(machine.steps, jump))
            self._expire(first)
            nxt = self._next_runnable()
        if self.record and nxt.tid != prev:
            self.events.append(ThreadSwitch(machine.steps, prev, nxt.tid, why))
        self._load(machine, nxt)
        self.deliver_pending(machine)

    def _deadlock_message(self, machine) -> str:
        waits = ", ".join(f"thread {t.tid}: {_wait_text(t.wait)}"
                          for t in self.threads.values() if t.state == "waiting")
        return (f"deadlock: every thread waits and none can be woken ({waits}) at step "
                f"{machine.steps}")

    def preempt(self, machine) -> None:
        """The running thread's quantum is over (the run loop calls this when
        ``machine.steps`` reaches ``next_switch``): the next runnable thread, if any,
        gets the CPU."""
        self._expire(self.now_ns(machine))
        nxt = self._next_runnable()
        if nxt is None or nxt.tid == self.current:
            self.next_switch = machine.steps + self.quantum
            return
        t = self._save_current(machine)
        t.state = "runnable"
        self._switch(machine, "quantum")

    def block(self, machine, wait: tuple, *, deadline: int | None = None,
              timeout_result: int = 0, call: tuple | None = None):
        """The current thread waits for ``wait`` (until ``deadline``, virtual ns, when
        given); another thread gets the CPU. Returns the handler result meaning
        "registers final"."""
        t = self._save_current(machine)
        t.state = "waiting"
        t.wait = wait
        self.wait_seq += 1
        t.seq = self.wait_seq
        t.deadline = deadline
        t.timeout_result = timeout_result
        t.call = call
        self._switch(machine, _wait_text(wait))
        return _NO_RESULT

    def _call_of(self, machine) -> tuple:
        regs = machine.cpu.regs
        return (regs[0], (regs[7], regs[6], regs[2], regs[10], regs[8], regs[9]))

    # ------------------------------------------------------------------ clone / exit

    def sys_clone(self, machine, flags, stack, ptid, ctid, tls, *_):
        """clone(2) for a thread (CLONE_VM|CLONE_THREAD|CLONE_SIGHAND): the child gets a
        copy of the registers with RAX = 0, SP = ``stack`` and, with CLONE_SETTLS, FS
        base = ``tls``; it shares memory, files and signal handlers, starts with the
        parent's signal mask and no alternate stack, and runs when the scheduler picks
        it. A new process (fork, vfork) is not modelled."""
        need = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND
        if flags & need != need:
            raise UnimplementedError(f"clone(flags={flags:#x}) creates a new process, which "
                                     f"goasm does not model {self.where(machine)}")
        tid = self.next_tid
        self.next_tid += 1
        cpu = machine.cpu
        saved = cpu.save()
        regs0 = list(saved[0])
        regs0[0] = 0
        if stack:
            regs0[4] = stack & M64
        child_cpu = (tuple(regs0),) + saved[1:]
        if flags & CLONE_SETTLS:
            # CPU.save() order: regs, xmm, vhi, kreg, mxcsr, pc, fs_base, ...
            child_cpu = child_cpu[:6] + (tls & M64,) + child_cpu[7:]
        try:
            if flags & CLONE_PARENT_SETTID:
                machine.mem.write_u32(ptid, tid)
            if flags & CLONE_CHILD_SETTID:
                machine.mem.write_u32(ctid, tid)
        except MachineFault:
            return -EFAULT
        child = Thread(tid, cpu=child_cpu, sigmask=self.sigmask,
                       clear_tid=ctid if flags & CLONE_CHILD_CLEARTID else 0)
        self.threads[tid] = child
        if self.record:
            self.events.append(ThreadCreated(machine.steps, self.current, tid,
                                             child_cpu[0][4], child_cpu[6]))
        return tid

    def sys_exit(self, machine, status, *_):
        """exit(2): ends the calling thread (CLONE_CHILD_CLEARTID: 0 is stored at that
        address and one futex waiter there woken); the last thread ends the process."""
        t = self.thread
        if len(self.live_threads()) <= 1:
            self._exit(machine, status, "exit")
        t.steps += machine.steps - self.on_cpu_since
        t.state = "exited"
        t.cpu = None
        if t.clear_tid:
            try:
                machine.mem.write_u32(t.clear_tid, 0)
                self._futex_wake(t.clear_tid, 1, FUTEX_BITSET_MATCH_ANY)
            except MachineFault:
                pass
        if self.record:
            self.events.append(ThreadExit(machine.steps, t.tid, status & 0xFF))
        self._switch(machine, "exit")
        return _NO_RESULT

    def sys_gettid(self, machine, *_):
        """gettid(2)."""
        return self.current

    def sys_set_tid_address(self, machine, tidptr, *_):
        """set_tid_address(2): CLONE_CHILD_CLEARTID for the calling thread."""
        self.thread.clear_tid = tidptr
        return self.current

    def sys_sched_yield(self, machine, *_):
        """sched_yield(2): the next runnable thread, if any, gets the CPU."""
        machine.cpu.regs[0] = 0
        nxt = self._next_runnable()
        if nxt is not None and nxt.tid != self.current:
            t = self._save_current(machine)
            t.state = "runnable"
            self._switch(machine, "sched_yield")
            return _NO_RESULT
        return 0

    # ------------------------------------------------------------------ futex

    def _timeout(self, machine, addr: int, absolute: bool, clock: int):
        """Deadline (monotonic virtual ns) of a timespec at ``addr``, or None for NULL;
        raises ValueError for an invalid timespec, MachineFault when unreadable."""
        if not addr:
            return None
        sec, nsec = self._timespec(machine, addr)
        if sec < 0 or not 0 <= nsec < NS:
            raise ValueError("timespec")
        span = min(sec * NS + nsec, KTIME_MAX)
        if absolute:
            # an absolute time on ``clock``: the same instant on the monotonic clock
            return span - (self.now_ns(machine, clock) - self.now_ns(machine, 1))
        return self.now_ns(machine, 1) + span

    def _futex_wake(self, addr: int, count: int, bitset: int) -> int:
        woken = 0
        waiters = sorted((t for t in self.threads.values()
                          if t.state == "waiting" and t.wait[0] == "futex"
                          and t.wait[1] == addr and t.wait[2] & bitset),
                         key=lambda t: t.seq)
        for t in waiters:
            if woken >= count:
                break
            self._wake(t, 0)
            woken += 1
        return woken

    def sys_futex(self, machine, uaddr, op, val, timeout, uaddr2, val3):
        """futex(2): FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
        FUTEX_WAKE_OP, FUTEX_WAIT_BITSET and FUTEX_WAKE_BITSET (private or shared: one
        process either way). Waiters are woken in the order they started waiting."""
        cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) & 0xFFFFFFFF
        val &= 0xFFFFFFFF
        if uaddr & 3:
            return -EINVAL
        if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
            bitset = FUTEX_BITSET_MATCH_ANY if cmd == FUTEX_WAIT else val3 & 0xFFFFFFFF
            if not bitset:
                return -EINVAL
            try:
                current = machine.mem.read_u32(uaddr)
                clock = 0 if op & FUTEX_CLOCK_REALTIME else 1
                deadline = self._timeout(machine, timeout, cmd == FUTEX_WAIT_BITSET, clock)
            except MachineFault:
                return -EFAULT
            except ValueError:
                return -EINVAL
            if current != val:
                return -EAGAIN
            if deadline is not None and deadline <= self.now_ns(machine):
                return -ETIMEDOUT
            return self.block(machine, ("futex", uaddr, bitset), deadline=deadline,
                              timeout_result=-ETIMEDOUT, call=self._call_of(machine))
        if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
            bitset = FUTEX_BITSET_MATCH_ANY if cmd == FUTEX_WAKE else val3 & 0xFFFFFFFF
            if not bitset:
                return -EINVAL
            return self._futex_wake(uaddr, _signed(val, 32) if val >> 31 else val, bitset)
        if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
            if uaddr2 & 3:
                return -EINVAL
            if cmd == FUTEX_CMP_REQUEUE:
                try:
                    if machine.mem.read_u32(uaddr) != val3 & 0xFFFFFFFF:
                        return -EAGAIN
                except MachineFault:
                    return -EFAULT
            woken = self._futex_wake(uaddr, val, FUTEX_BITSET_MATCH_ANY)
            limit = timeout & 0xFFFFFFFF            # val2 travels in the timeout argument
            moved = 0
            for t in sorted((t for t in self.threads.values() if t.state == "waiting"
                             and t.wait[0] == "futex" and t.wait[1] == uaddr),
                            key=lambda t: t.seq):
                if moved >= limit:
                    break
                t.wait = ("futex", uaddr2, t.wait[2])
                moved += 1
            return woken + moved
        if cmd == FUTEX_WAKE_OP:
            return self._futex_wake_op(machine, uaddr, val, timeout & 0xFFFFFFFF, uaddr2,
                                       val3 & 0xFFFFFFFF)
        raise UnimplementedError(f"unimplemented futex operation "
                                 f"{FUTEX_NAMES.get(cmd, cmd)} {self.where(machine)}")

    def _futex_wake_op(self, machine, uaddr, val, val2, uaddr2, val3):
        """FUTEX_WAKE_OP: ``*uaddr2 = oldval OP oparg``; wake ``val`` waiters on uaddr and,
        if ``oldval CMP cmparg``, ``val2`` on uaddr2 (futex(2), the encoding of val3)."""
        if uaddr2 & 3:
            return -EINVAL
        opcode, cmp = (val3 >> 28) & 0xF, (val3 >> 24) & 0xF
        oparg, cmparg = (val3 >> 12) & 0xFFF, val3 & 0xFFF
        if opcode & 8:                       # FUTEX_OP_OPARG_SHIFT
            oparg = 1 << (oparg & 31)
            opcode &= 7
        try:
            old = machine.mem.read_u32(uaddr2)
            new = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg,
                   4: old ^ oparg}.get(opcode)
            if new is None:
                return -ENOSYS
            machine.mem.write_u32(uaddr2, new & 0xFFFFFFFF)
        except MachineFault:
            return -EFAULT
        woken = self._futex_wake(uaddr, val, FUTEX_BITSET_MATCH_ANY)
        sold = _signed(old, 32)
        ok = {0: sold == cmparg, 1: sold != cmparg, 2: sold < cmparg, 3: sold <= cmparg,
              4: sold > cmparg, 5: sold >= cmparg}.get(cmp)
        if ok is None:
            return -ENOSYS
        if ok:
            woken += self._futex_wake(uaddr2, val2, FUTEX_BITSET_MATCH_ANY)
        return woken

    # ------------------------------------------------------------------ time

    def sys_nanosleep(self, machine, req, rem, *_):
        """nanosleep(2): the thread waits until the virtual clock has advanced by the
        requested time (other threads run meanwhile; the clock jumps when none can)."""
        try:
            deadline = self._timeout(machine, req, False, 1)
        except MachineFault:
            return -EFAULT
        except ValueError:
            return -EINVAL
        if deadline <= self.now_ns(machine):
            return 0
        return self.block(machine, ("sleep",), deadline=deadline, timeout_result=0,
                          call=self._call_of(machine))

    def sys_clock_nanosleep(self, machine, clock, flags, req, rem, *_):
        """clock_nanosleep(2): relative, or TIMER_ABSTIME on ``clock``; returns the
        error number itself (not -1/errno)."""
        if clock not in (0, 1, 7):            # REALTIME, MONOTONIC, BOOTTIME
            return EINVAL
        try:
            deadline = self._timeout(machine, req, bool(flags & TIMER_ABSTIME), clock)
        except MachineFault:
            return EFAULT
        except ValueError:
            return EINVAL
        if deadline <= self.now_ns(machine):
            return 0
        return self.block(machine, ("sleep",), deadline=deadline, timeout_result=0,
                          call=self._call_of(machine))

    def sys_gettimeofday(self, machine, tv, tz, *_):
        """gettimeofday(2) on the virtual realtime clock."""
        t = self.now_ns(machine, 0)
        try:
            if tv:
                machine.mem.write(tv, struct.pack("<qq", t // NS, (t % NS) // 1000))
            if tz:
                machine.mem.write(tz, bytes(8))
        except MachineFault:
            return -EFAULT
        return 0

    def sys_time(self, machine, tloc, *_):
        """time(2)."""
        t = self.now_ns(machine, 0) // NS
        if tloc:
            try:
                machine.mem.write_u64(tloc, t)
            except MachineFault:
                return -EFAULT
        return t

    def sys_clock_getres(self, machine, clock, res, *_):
        """clock_getres(2): 1 ns for every clock."""
        if clock > 11:
            return -EINVAL
        if res:
            try:
                machine.mem.write(res, struct.pack("<qq", 0, 1))
            except MachineFault:
                return -EFAULT
        return 0

    # ------------------------------------------------------------------ signals

    def sys_rt_sigreturn(self, machine, *_):
        """rt_sigreturn(2): restore the context saved in the signal frame the handler
        returned from (its ``ucontext`` is at SP: the handler's RET popped pretcode):
        every general register, RIP, the user-writable RFLAGS bits, MXCSR and XMM0-15,
        and the signal mask. The alternate stack is restored only when the thread is
        not on it (Linux's restore_altstack then fails with EPERM, silently)."""
        cpu = machine.cpu
        uc = cpu.regs[4]
        try:
            ctx = sg.read_context(machine.mem, uc)
            fp = sg.read_fpstate(machine.mem, ctx["fpstate"]) if ctx["fpstate"] else None
        except MachineFault:
            raise MachineFault(f"rt_sigreturn: no signal frame at SP {uc:#x}",
                               signal="SIGSEGV", addr=uc, code="SI_KERNEL") from None
        was_on = sg.on_stack(uc, self.altstack)
        cpu.regs[:] = ctx["regs"]
        cpu.set_rflags(ctx["rflags"])
        cpu.pc = ctx["rip"]
        if fp is not None:
            cpu.mxcsr = fp[0] & 0xFFFF
            cpu.xmm[:16] = fp[1]
        self.sigmask = ctx["sigmask"] & ~(sg.sigbit(9) | sg.sigbit(19)) & M64
        sp, flags, size = ctx["stack"]
        if not was_on:
            self.altstack = None if flags & sg.SS_DISABLE else (sp, flags & sg.SS_AUTODISARM,
                                                                size)
        if self.record:
            self.events.append(SignalReturn(machine.steps, self.current, cpu.pc))
        return _NO_RESULT

    def _send(self, t: Thread, sig: int, info: bytes) -> None:
        """Make ``sig`` pending for thread ``t``; a wait it is in ends with EINTR when
        the signal would run a handler."""
        if any(p[0] == sig for p in t.pending):
            return                               # standard signals do not queue
        t.pending.append((sig, info))
        if t.state == "waiting" and t.wait[0] in _INTERRUPTIBLE and \
                not t.sigmask & sg.sigbit(sig) and self._disposition(sig) == "handler":
            self._wake(t, -EINTR)

    def _disposition(self, sig: int) -> str:
        """``handler``, ``ignore`` or ``default`` (the default action terminates)."""
        handler = self.sigactions.get(sig, (sg.SIG_DFL, 0, 0, 0))[0]
        if handler == sg.SIG_IGN or (handler == sg.SIG_DFL and sig in sg.IGNORED_BY_DEFAULT):
            return "ignore"
        return "default" if handler == sg.SIG_DFL else "handler"

    def sys_tgkill(self, machine, tgid, tid, sig, *_):
        """tgkill(2): ``sig`` to thread ``tid`` of this process (si_code SI_TKILL)."""
        if sig > 64 or _signed(tid, 32) <= 0 or _signed(tgid, 32) <= 0:
            return -EINVAL
        t = self.threads.get(tid)
        if tgid != self.pid or t is None or not t.alive:
            return -ESRCH
        if sig:
            self._send(t, sig, sg.siginfo(sig, sg.SI_TKILL, pid=self.pid, uid=1000))
        return 0

    def sys_tkill(self, machine, tid, sig, *_):
        """tkill(2)."""
        return self.sys_tgkill(machine, self.pid, tid, sig)

    def sys_kill(self, machine, pid, sig, *_):
        """kill(2) to this process (pid, 0 or -1): the signal goes to the first thread
        that does not block it (the calling one when it can take it)."""
        if sig > 64:
            return -EINVAL
        if _signed(pid, 32) not in (0, -1, self.pid):
            return -ESRCH if _signed(pid, 32) > 0 else -EPERM
        if sig:
            info = sg.siginfo(sig, sg.SI_USER, pid=self.pid, uid=1000)
            cands = [self.thread] + [t for t in self.live_threads() if t.tid != self.current]
            target = next((t for t in cands if not (t.sigmask if t.tid != self.current
                                                    else self.sigmask) & sg.sigbit(sig)),
                          self.thread)
            self._send(target, sig, info)
        return 0

    def deliver_pending(self, machine) -> None:
        """Deliver the pending signals the running thread does not block (see the module
        docstring): each runs its handler on a new frame; the lowest number first."""
        t = self.thread
        while t.pending:
            ready = [p for p in t.pending if not self.sigmask & sg.sigbit(p[0])]
            if not ready:
                return
            sig, info = min(ready, key=lambda p: p[0])
            t.pending.remove((sig, info))
            kind = self._disposition(sig)
            if kind == "ignore":
                continue
            if kind == "default":
                self._killed(machine, sig)
            self._setup_frame(machine, sig, info)

    def deliver_fault(self, machine, fault: MachineFault) -> bool:
        """A fault in the running thread: run the program's handler for its signal, as
        Linux does for a hardware exception (force_sig_fault), with ``cpu.pc`` at the
        faulting instruction. False when the signal has no handler or is blocked: the
        process dies of it (the caller reports the fault)."""
        sig, info, trapno, err, cr2 = sg.fault_info(fault)
        if self._disposition(sig) != "handler" or self.sigmask & sg.sigbit(sig):
            return False
        try:
            self._setup_frame(machine, sig, info, trapno=trapno, err=err, cr2=cr2)
        except MachineFault:
            return False
        return True

    def _killed(self, machine, sig: int) -> None:
        """The default action of ``sig``: the process terminates (the status a shell
        reports, 128 + the signal number)."""
        self._exit(machine, 128 + sig, f"killed by {sg.signal_name(sig)}")

    def _setup_frame(self, machine, sig: int, info: bytes, *, trapno: int = 0, err: int = 0,
                     cr2: int = 0) -> None:
        """Push a signal frame for ``sig`` on the running thread and enter its handler
        (arch/x86/kernel/signal.c: get_sigframe, x64_setup_rt_frame, signal_setup_done)."""
        handler, flags, restorer, mask = self.sigactions[sig]
        cpu = machine.cpu
        sp = (cpu.regs[4] - sg.REDZONE) & M64
        if flags & sg.SA_ONSTACK and self.altstack is not None and \
                not sg.on_stack(sp, self.altstack):
            sp = self.altstack[0] + self.altstack[2]
        if not flags & sg.SA_RESTORER:
            raise MachineFault(f"signal {sg.signal_name(sig)}: handler installed without "
                               "SA_RESTORER", signal="SIGSEGV", addr=0, code="SI_KERNEL")
        old_mask = self.sigmask
        frame, data, fp, fx = sg.build_frame(cpu, sp, info=info, mask=old_mask,
                                             altstack=self.altstack, restorer=restorer,
                                             trapno=trapno, err=err, cr2=cr2)
        machine.mem.write(fp, fx)
        machine.mem.write(frame, data)
        pc = cpu.pc
        regs = cpu.regs
        regs[7] = sig
        regs[6] = frame + sg.INFO_OFFSET
        regs[2] = frame + sg.UC_OFFSET
        regs[0] = 0
        regs[4] = frame
        cpu.df = 0
        cpu.rflags_rest &= ~0x100                  # TF
        cpu.pc = handler
        new = old_mask | mask
        if not flags & sg.SA_NODEFER:
            new |= sg.sigbit(sig)
        self.sigmask = new & ~(sg.sigbit(9) | sg.sigbit(19)) & M64
        if flags & sg.SA_RESETHAND:
            self.sigactions[sig] = (sg.SIG_DFL, 0, 0, 0)
        if self.altstack is not None and self.altstack[1] & sg.SS_AUTODISARM:
            self.altstack = None
        if self.record:
            self.events.append(SignalDelivered(machine.steps, self.current, sig, handler,
                                               frame, pc))

    # ------------------------------------------------------------------ files

    def _desc(self, fd: int):
        d = self.fds.get(fd)
        return d.desc if d is not None else None

    def _new_fd(self, obj, flags: int, cloexec: bool, start: int = 0) -> int:
        fd = vfs.lowest_free(self.fds, start)
        if fd >= self.limits[7][0]:
            return -EMFILE
        self.fds[fd] = vfs.Descriptor(vfs.Description(obj, flags), cloexec)
        return fd

    def _path(self, machine, addr: int) -> str:
        raw = machine.mem.read_cstring(addr, 4096)
        return raw.decode("utf-8", "surrogateescape")

    def sys_openat(self, machine, dirfd, path, flags, mode, *_):
        """openat(2) on the virtual file system (module :mod:`goasm.machine.vfs`):
        read-only opens of its files succeed, other paths are ENOENT, writing is EROFS.
        Relative paths resolve against the working directory "/" (dirfd must be
        AT_FDCWD)."""
        try:
            name = self._path(machine, path)
        except MachineFault:
            return -EFAULT
        if not name:
            return -ENOENT
        if not name.startswith("/") and _signed(dirfd, 32) != AT_FDCWD:
            return -EBADF if _signed(dirfd, 32) not in self.fds else -ENOTDIR
        full = vfs.normalize(name, self.cwd)
        data = self.files.get(full)
        acc = flags & vfs.O_ACCMODE
        if data is None:
            if flags & vfs.O_CREAT:
                return -EROFS
            return -ENOENT
        if acc != vfs.O_RDONLY or flags & (vfs.O_TRUNC | vfs.O_CREAT):
            return -EROFS
        if flags & vfs.O_DIRECTORY:
            return -ENOTDIR
        return self._new_fd(vfs.RegularFile(full, data), flags & (vfs.O_ACCMODE | vfs.O_NONBLOCK),
                            bool(flags & vfs.O_CLOEXEC))

    def sys_open(self, machine, path, flags, mode, *_):
        """open(2): openat(AT_FDCWD, ...)."""
        return self.sys_openat(machine, AT_FDCWD & M64, path, flags, mode)

    def sys_close(self, machine, fd, *_):
        """close(2); the last descriptor of a pipe end closes that end (readers then see
        end of file)."""
        d = self.fds.pop(fd, None)
        if d is None:
            return -EBADF
        for desc in self.fds.values():
            obj = desc.desc.obj
            if isinstance(obj, vfs.Epoll):
                obj.interest.pop(fd, None)
        obj = d.desc.obj
        if isinstance(obj, vfs.PipeEnd) and not any(x.desc is d.desc for x in self.fds.values()):
            if obj.write:
                obj.pipe.writers -= 1
            else:
                obj.pipe.readers -= 1
            self._poll_wake(machine)
        return 0

    def sys_pipe2(self, machine, fds, flags, *_):
        """pipe2(2): O_NONBLOCK and O_CLOEXEC; the two descriptors are written as ints."""
        if flags & ~(vfs.O_NONBLOCK | vfs.O_CLOEXEC):
            return -EINVAL
        pipe = vfs.Pipe()
        cloexec = bool(flags & vfs.O_CLOEXEC)
        r = self._new_fd(vfs.PipeEnd(pipe, False), vfs.O_RDONLY | (flags & vfs.O_NONBLOCK),
                         cloexec)
        if r < 0:
            return r
        w = self._new_fd(vfs.PipeEnd(pipe, True), vfs.O_WRONLY | (flags & vfs.O_NONBLOCK),
                         cloexec)
        if w < 0:
            del self.fds[r]
            return w
        try:
            machine.mem.write(fds, struct.pack("<ii", r, w))
        except MachineFault:
            del self.fds[r], self.fds[w]
            return -EFAULT
        return 0

    def sys_pipe(self, machine, fds, *_):
        """pipe(2)."""
        return self.sys_pipe2(machine, fds, 0)

    def sys_read(self, machine, fd, buf, count, *_):
        """read(2): stdin from the host stream, a file of the virtual file system, an
        eventfd (the counter, 8 bytes; EAGAIN at 0 when non-blocking)."""
        desc = self._desc(fd)
        if desc is None:
            return -EBADF
        obj = desc.obj
        if isinstance(obj, vfs.StdStream):
            if obj.fd != 0:
                return -EBADF
            return super().sys_read(machine, 0, buf, count)
        if isinstance(obj, vfs.RegularFile):
            data = obj.data[obj.pos:obj.pos + min(count, 1 << 20)]
            try:
                machine.mem.write(buf, data)
            except MachineFault:
                return -EFAULT
            obj.pos += len(data)
            return len(data)
        if isinstance(obj, vfs.PipeEnd):
            if obj.write:
                return -EBADF
            pipe = obj.pipe
            if not pipe.data:
                if not pipe.writers:
                    return 0
                if desc.flags & vfs.O_NONBLOCK:
                    return -EAGAIN
                return self.block(machine, ("read", fd, buf, count),
                                  call=self._call_of(machine))
            data = bytes(pipe.data[:min(count, 1 << 20)])
            try:
                machine.mem.write(buf, data)
            except MachineFault:
                return -EFAULT
            del pipe.data[:len(data)]
            self._poll_wake(machine)
            return len(data)
        if isinstance(obj, vfs.EventFd):
            if count < 8:
                return -EINVAL
            if obj.count == 0:
                if desc.flags & vfs.O_NONBLOCK:
                    return -EAGAIN
                raise UnimplementedError(f"a blocking read of an eventfd {self.where(machine)}")
            value = 1 if obj.semaphore else obj.count
            try:
                machine.mem.write(buf, value.to_bytes(8, "little"))
            except MachineFault:
                return -EFAULT
            obj.count -= value
            return 8
        return -EINVAL

    def sys_pread64(self, machine, fd, buf, count, offset, *_):
        """pread64(2): files of the virtual file system only (ESPIPE otherwise)."""
        desc = self._desc(fd)
        if desc is None:
            return -EBADF
        if not isinstance(desc.obj, vfs.RegularFile):
            return -ESPIPE
        if offset >> 63:
            return -EINVAL
        data = desc.obj.data[offset:offset + min(count, 1 << 20)]
        try:
            machine.mem.write(buf, data)
        except MachineFault:
            return -EFAULT
        return len(data)

    def sys_write(self, machine, fd, buf, count, *_):
        """write(2): stdout and stderr go to the host streams; an eventfd adds the 8-byte
        value to its counter (and wakes epoll waiters); files are read-only (EBADF)."""
        desc = self._desc(fd)
        if desc is None:
            return -EBADF
        obj = desc.obj
        if isinstance(obj, vfs.StdStream):
            if obj.fd == 0:
                return -EBADF
            return super().sys_write(machine, obj.fd, buf, count)
        if isinstance(obj, vfs.PipeEnd):
            if not obj.write:
                return -EBADF
            pipe = obj.pipe
            if not pipe.readers:
                self._send(self.thread, 13, sg.siginfo(13, sg.SI_USER, pid=self.pid,
                                                       uid=1000))
                return -EPIPE
            room = pipe.capacity - len(pipe.data)
            if room <= 0:
                if desc.flags & vfs.O_NONBLOCK:
                    return -EAGAIN
                raise UnimplementedError(f"a blocking write to a full pipe {self.where(machine)}")
            try:
                data = machine.mem.read(buf, min(count, room))
            except MachineFault:
                return -EFAULT
            pipe.data += data
            self._poll_wake(machine)
            return len(data)
        if isinstance(obj, vfs.EventFd):
            if count < 8:
                return -EINVAL
            try:
                value = machine.mem.read_u64(buf)
            except MachineFault:
                return -EFAULT
            if value == M64:
                return -EINVAL
            if obj.count + value > EFD_MAX:
                if desc.flags & vfs.O_NONBLOCK:
                    return -EAGAIN
                raise UnimplementedError(f"a blocking write of an eventfd {self.where(machine)}")
            obj.count += value
            self._poll_wake(machine)
            return 8
        return -EBADF

    def sys_lseek(self, machine, fd, offset, whence, *_):
        """lseek(2) on files of the virtual file system (SEEK_SET, SEEK_CUR, SEEK_END)."""
        desc = self._desc(fd)
        if desc is None:
            return -EBADF
        obj = desc.obj
        if not isinstance(obj, vfs.RegularFile):
            return -ESPIPE
        base = {0: 0, 1: obj.pos, 2: len(obj.data)}.get(whence)
        if base is None:
            return -EINVAL
        pos = base + _signed(offset)
        if pos < 0:
            return -EINVAL
        obj.pos = pos
        return pos

    def sys_fcntl(self, machine, fd, cmd, arg, *_):
        """fcntl(2): F_GETFD/F_SETFD (FD_CLOEXEC), F_GETFL/F_SETFL (O_NONBLOCK and
        O_APPEND may change), F_DUPFD and F_DUPFD_CLOEXEC."""
        d = self.fds.get(fd)
        if d is None:
            return -EBADF
        if cmd == F_GETFD:
            return FD_CLOEXEC if d.cloexec else 0
        if cmd == F_SETFD:
            d.cloexec = bool(arg & FD_CLOEXEC)
            return 0
        if cmd == F_GETFL:
            return d.desc.flags
        if cmd == F_SETFL:
            keep = d.desc.flags & ~(vfs.O_NONBLOCK | vfs.O_APPEND)
            d.desc.flags = keep | (arg & (vfs.O_NONBLOCK | vfs.O_APPEND))
            return 0
        if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
            new = vfs.lowest_free(self.fds, arg & 0xFFFFFFFF)
            self.fds[new] = vfs.Descriptor(d.desc, cmd == F_DUPFD_CLOEXEC)
            return new
        return -EINVAL

    def sys_dup(self, machine, fd, *_):
        """dup(2)."""
        d = self.fds.get(fd)
        if d is None:
            return -EBADF
        new = vfs.lowest_free(self.fds)
        self.fds[new] = vfs.Descriptor(d.desc, False)
        return new

    def sys_dup3(self, machine, fd, new, flags, *_):
        """dup3(2) (and dup2(2), which allows ``new == fd``)."""
        d = self.fds.get(fd)
        if d is None:
            return -EBADF
        if fd == new or flags & ~vfs.O_CLOEXEC:
            return -EINVAL
        if new in self.fds:
            self.sys_close(machine, new)
        self.fds[new] = vfs.Descriptor(d.desc, bool(flags & vfs.O_CLOEXEC))
        return new

    def sys_dup2(self, machine, fd, new, *_):
        """dup2(2)."""
        if fd == new:
            return fd if fd in self.fds else -EBADF
        return self.sys_dup3(machine, fd, new, 0)

    def sys_ioctl(self, machine, fd, req, *_):
        """ioctl(2): no descriptor is a terminal (ENOTTY)."""
        return -EBADF if fd not in self.fds else -ENOTTY

    def sys_fstat(self, machine, fd, statbuf, *_):
        """fstat(2): the standard streams are pipes, files of the virtual file system
        read-only regular files (struct stat of x86-64, 144 bytes)."""
        desc = self._desc(fd)
        if desc is None:
            return -EBADF
        obj = desc.obj
        if isinstance(obj, vfs.RegularFile):
            mode, size = 0o100444, len(obj.data)
        elif isinstance(obj, (vfs.StdStream, vfs.PipeEnd)):
            mode, size = 0o010600, 0
        else:
            mode, size = 0o600, 0                   # anon_inode (eventfd, epoll)
        return self._stat(machine, statbuf, mode, size, ino=fd + 3)

    def sys_newfstatat(self, machine, dirfd, path, statbuf, flags, *_):
        """newfstatat(2) (AT_EMPTY_PATH: fstat of dirfd); files of the virtual file
        system only."""
        try:
            name = self._path(machine, path)
        except MachineFault:
            return -EFAULT
        if not name and flags & 0x1000:
            return self.sys_fstat(machine, dirfd, statbuf)
        data = self.files.get(vfs.normalize(name, self.cwd)) if name else None
        if data is None:
            return -ENOENT
        return self._stat(machine, statbuf, 0o100444, len(data), ino=hash(name) & 0xFFFF)

    def _stat(self, machine, buf, mode, size, ino):
        st = struct.pack("<QQQIIIiQqqq", 1, ino, 1, mode, 1000, 1000, 0, 0, size, 4096,
                         (size + 511) // 512).ljust(144, b"\0")
        try:
            machine.mem.write(buf, st)
        except MachineFault:
            return -EFAULT
        return 0

    def sys_readlinkat(self, machine, dirfd, path, buf, size, *_):
        """readlinkat(2): /proc/self/exe names the program; nothing else is a link."""
        try:
            name = self._path(machine, path)
        except MachineFault:
            return -EFAULT
        if vfs.normalize(name, self.cwd) != "/proc/self/exe" or not self.execfn:
            return -ENOENT
        data = self.execfn[:size]
        try:
            machine.mem.write(buf, data)
        except MachineFault:
            return -EFAULT
        return len(data)

    def sys_readlink(self, machine, path, buf, size, *_):
        """readlink(2)."""
        return self.sys_readlinkat(machine, AT_FDCWD & M64, path, buf, size)

    def sys_faccessat2(self, machine, dirfd, path, mode, flags, *_):
        """faccessat2(2): the files of the virtual file system are readable (R_OK) and
        nothing else exists (ENOENT); nothing is writable or executable (EACCES)."""
        try:
            name = self._path(machine, path)
        except MachineFault:
            return -EFAULT
        if mode & ~7:
            return -EINVAL
        if not name or self.files.get(vfs.normalize(name, self.cwd)) is None:
            return -ENOENT
        return -EACCES if mode & 3 else 0       # W_OK (2), X_OK (1)

    def sys_faccessat(self, machine, dirfd, path, mode, *_):
        """faccessat(2)."""
        return self.sys_faccessat2(machine, dirfd, path, mode, 0)

    def sys_access(self, machine, path, mode, *_):
        """access(2)."""
        return self.sys_faccessat2(machine, AT_FDCWD & M64, path, mode, 0)

    def sys_getrusage(self, machine, who, usage, *_):
        """getrusage(2): user time is the virtual time the process (RUSAGE_SELF, 0) or the
        calling thread (RUSAGE_THREAD, 1) has run -- one nanosecond per instruction --
        and every other field is 0 (struct rusage, 144 bytes)."""
        if who == 0:
            ns = machine.steps * self.ns_per_step
        elif who == 1:
            ns = (self.thread.steps + machine.steps - self.on_cpu_since) * self.ns_per_step
        elif who == (-1) & M64:                  # RUSAGE_CHILDREN: there are none
            ns = 0
        else:
            return -EINVAL
        data = struct.pack("<qq", ns // NS, (ns % NS) // 1000).ljust(144, b"\0")
        try:
            machine.mem.write(usage, data)
        except MachineFault:
            return -EFAULT
        return 0

    def sys_getcwd(self, machine, buf, size, *_):
        """getcwd(2): the working directory is "/"."""
        data = self.cwd.encode() + b"\0"
        if size < len(data):
            return -ERANGE
        try:
            machine.mem.write(buf, data)
        except MachineFault:
            return -EFAULT
        return len(data)

    # ------------------------------------------------------------------ eventfd & epoll

    def sys_eventfd2(self, machine, initval, flags, *_):
        """eventfd2(2): EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC."""
        if flags & ~(EFD_SEMAPHORE | vfs.O_NONBLOCK | vfs.O_CLOEXEC):
            return -EINVAL
        return self._new_fd(vfs.EventFd(initval & 0xFFFFFFFF, bool(flags & EFD_SEMAPHORE)),
                            vfs.O_RDWR | (flags & vfs.O_NONBLOCK), bool(flags & vfs.O_CLOEXEC))

    def sys_eventfd(self, machine, initval, *_):
        """eventfd(2)."""
        return self.sys_eventfd2(machine, initval, 0)

    def sys_epoll_create1(self, machine, flags, *_):
        """epoll_create1(2) (EPOLL_CLOEXEC)."""
        if flags & ~vfs.O_CLOEXEC:
            return -EINVAL
        return self._new_fd(vfs.Epoll(), vfs.O_RDWR, bool(flags & vfs.O_CLOEXEC))

    def sys_epoll_create(self, machine, size, *_):
        """epoll_create(2)."""
        if _signed(size, 32) <= 0:
            return -EINVAL
        return self.sys_epoll_create1(machine, 0)

    def sys_epoll_ctl(self, machine, epfd, op, fd, event, *_):
        """epoll_ctl(2): EPOLL_CTL_ADD/MOD/DEL; regular files cannot be watched
        (EPERM)."""
        ep = self._desc(epfd)
        target = self._desc(fd)
        if ep is None or target is None:
            return -EBADF
        if not isinstance(ep.obj, vfs.Epoll) or fd == epfd:
            return -EINVAL
        if isinstance(target.obj, vfs.RegularFile):
            return -EPERM
        interest = ep.obj.interest
        if op == EPOLL_CTL_DEL:
            return 0 if interest.pop(fd, None) is not None else -ENOENT
        try:
            events, data = EPOLL_EVENT.unpack(machine.mem.read(event, EPOLL_EVENT.size))
        except MachineFault:
            return -EFAULT
        if op == EPOLL_CTL_ADD:
            if fd in interest:
                return -EEXIST
        elif op == EPOLL_CTL_MOD:
            if fd not in interest:
                return -ENOENT
        else:
            return -EINVAL
        interest[fd] = vfs.Interest(events | EPOLLERR | EPOLLHUP, data)
        self._poll_wake(machine)
        return 0

    def _ready(self, ep: vfs.Epoll, maxevents: int, consume: bool) -> list:
        """The (events, data) an epoll_wait on ``ep`` reports now (at most maxevents)."""
        out = []
        for fd, it in ep.interest.items():
            if len(out) >= maxevents:
                break
            desc = self._desc(fd)
            if desc is None or not it.armed:
                continue
            obj = desc.obj
            if isinstance(obj, vfs.EventFd):
                level = (EPOLLIN if obj.count else 0) | (EPOLLOUT if obj.count < EFD_MAX else 0)
            elif isinstance(obj, vfs.PipeEnd):
                pipe = obj.pipe
                if obj.write:
                    level = (EPOLLOUT if len(pipe.data) < pipe.capacity else 0) | \
                        (EPOLLERR if not pipe.readers else 0)
                else:
                    level = (EPOLLIN if pipe.data else 0) | (EPOLLHUP if not pipe.writers else 0)
            elif isinstance(obj, vfs.StdStream):
                level = EPOLLOUT if obj.fd else EPOLLIN
            else:
                level = 0
            got = level & it.events
            if got:
                out.append((got, it.data))
                if consume and it.events & (EPOLLONESHOT | EPOLLET):
                    it.armed = False
        return out

    def _poll_wake(self, machine) -> None:
        """Readiness changed: re-arm edge-triggered interests and end the waits of
        epoll_wait callers that now have events."""
        for desc in {id(d.desc): d.desc for d in self.fds.values()}.values():
            if isinstance(desc.obj, vfs.Epoll):
                for it in desc.obj.interest.values():
                    if it.events & EPOLLET:
                        it.armed = True
        for t in sorted(self.threads.values(), key=lambda t: t.seq):
            if t.state == "waiting" and t.wait[0] == "read":
                self._retry_read(machine, t)
            if t.state != "waiting" or t.wait[0] != "epoll":
                continue
            _kind, epfd, events, maxevents = t.wait
            ep = self._desc(epfd)
            if ep is None:
                continue
            ready = self._ready(ep.obj, maxevents, True)
            if ready:
                try:
                    machine.mem.write(events, b"".join(EPOLL_EVENT.pack(e & 0xFFFFFFFF, d)
                                                       for e, d in ready))
                    self._wake(t, len(ready))
                except MachineFault:
                    self._wake(t, -EFAULT)

    def _retry_read(self, machine, t: Thread) -> None:
        """A thread blocked in read(2) on a pipe: finish the read once there are bytes
        (or no writer)."""
        _kind, fd, buf, count = t.wait
        desc = self._desc(fd)
        if desc is None or not isinstance(desc.obj, vfs.PipeEnd):
            self._wake(t, -EBADF)
            return
        pipe = desc.obj.pipe
        if pipe.data:
            data = bytes(pipe.data[:min(count, 1 << 20)])
            try:
                machine.mem.write(buf, data)
            except MachineFault:
                self._wake(t, -EFAULT)
                return
            del pipe.data[:len(data)]
            self._wake(t, len(data))
        elif not pipe.writers:
            self._wake(t, 0)

    def sys_epoll_pwait(self, machine, epfd, events, maxevents, timeout, sigmask, *_):
        """epoll_pwait(2): the ready events now; otherwise the thread waits until one is
        ready or ``timeout`` ms pass (-1: no timeout, 0: do not wait). The signal mask
        argument is applied only for the call in Linux; goasm does not change it."""
        ep = self._desc(epfd)
        if ep is None:
            return -EBADF
        if not isinstance(ep.obj, vfs.Epoll):
            return -EINVAL
        maxevents = _signed(maxevents, 32)
        if maxevents <= 0:
            return -EINVAL
        ready = self._ready(ep.obj, maxevents, True)
        if ready:
            try:
                machine.mem.write(events, b"".join(EPOLL_EVENT.pack(e & 0xFFFFFFFF, d)
                                                   for e, d in ready))
            except MachineFault:
                return -EFAULT
            return len(ready)
        ms = _signed(timeout, 32)
        if ms == 0:
            return 0
        deadline = None if ms < 0 else self.now_ns(machine) + ms * 1_000_000
        return self.block(machine, ("epoll", epfd, events, maxevents), deadline=deadline,
                          timeout_result=0, call=self._call_of(machine))

    def sys_epoll_wait(self, machine, epfd, events, maxevents, timeout, *_):
        """epoll_wait(2)."""
        return self.sys_epoll_pwait(machine, epfd, events, maxevents, timeout, 0)

    # ------------------------------------------------------------------ process

    def sys_prlimit64(self, machine, pid, resource, new, old, *_):
        """prlimit64(2) on this process: :data:`RLIMITS`; raising a hard limit is EPERM
        (an unprivileged process)."""
        if pid not in (0, self.pid):
            return -ESRCH
        if resource not in self.limits:
            return -EINVAL
        cur = self.limits[resource]
        try:
            if new:
                soft, hard = struct.unpack("<QQ", machine.mem.read(new, 16))
            if old:
                machine.mem.write(old, struct.pack("<QQ", *cur))
        except MachineFault:
            return -EFAULT
        if new:
            if soft > hard:
                return -EINVAL
            if hard > cur[1]:
                return -EPERM
            self.limits[resource] = (soft, hard)
        return 0

    def sys_getrlimit(self, machine, resource, rlim, *_):
        """getrlimit(2)."""
        return self.sys_prlimit64(machine, 0, resource, 0, rlim)

    def sys_setrlimit(self, machine, resource, rlim, *_):
        """setrlimit(2)."""
        return self.sys_prlimit64(machine, 0, resource, rlim, 0)

    def sys_getrandom(self, machine, buf, count, flags, *_):
        """getrandom(2): a deterministic stream, SHA-256 of (seed, counter) blocks, so a
        program runs the same every time (GRND_NONBLOCK/GRND_RANDOM change nothing)."""
        if flags & ~7:
            return -EINVAL
        count = min(count, 33_554_431)
        out = bytearray()
        while len(out) < count:
            out += hashlib.sha256(f"goasm-getrandom:{self.seed}:{self.random_counter}"
                                  .encode()).digest()
            self.random_counter += 1
        try:
            machine.mem.write(buf, bytes(out[:count]))
        except MachineFault:
            return -EFAULT
        return count

    def sys_uname(self, machine, buf, *_):
        """uname(2): :data:`UTSNAME` (six 65-byte fields)."""
        try:
            machine.mem.write(buf, b"".join(f.ljust(65, b"\0") for f in UTSNAME))
        except MachineFault:
            return -EFAULT
        return 0

    def sys_getuid(self, machine, *_):
        """getuid(2): 1000 (as AT_UID)."""
        return 1000

    sys_geteuid = sys_getuid
    sys_getgid = sys_getuid
    sys_getegid = sys_getuid

    def sys_getppid(self, machine, *_):
        """getppid(2): the parent is init (1)."""
        return 1


def _wait_text(wait) -> str:
    if wait is None:
        return "running"
    kind = wait[0]
    if kind == "futex":
        return f"futex wait on {wait[1]:#x}"
    if kind == "epoll":
        return f"epoll_wait on fd {wait[1]}"
    if kind == "sleep":
        return "sleep"
    if kind == "read":
        return f"read of fd {wait[1]}"
    return kind


def _describe(image, pc: int) -> str:
    text = image.describe(pc)
    ins = image.code.get(pc) if hasattr(image.code, "get") else None
    pos = getattr(ins, "pos", None)
    if pos is not None and pos.line > 0:
        return f"{text} ({pos.file}:{pos.line})"
    return text


def _handler_table() -> types.MappingProxyType:
    """Syscall number -> method name: every ``sys_<name>`` of :class:`ThreadedLinux`
    whose name is a Linux system call."""
    return types.MappingProxyType({nr: f"sys_{name}" for nr, name in SYSCALL_NAMES.items()
                                   if callable(getattr(ThreadedLinux, f"sys_{name}", None))})


_TABLE = _handler_table()

# Arguments each call takes, for the event log (syscall(2) signatures).
_ARGC = types.MappingProxyType({
    SYSCALL_NUMBERS_nr: argc for SYSCALL_NUMBERS_nr, argc in (
        (0, 3), (1, 3), (2, 3), (3, 1), (5, 2), (8, 3), (9, 6), (10, 3), (11, 2), (13, 4),
        (14, 4), (15, 0), (16, 3), (17, 4), (24, 0), (28, 3), (32, 1), (33, 2), (35, 2),
        (39, 0), (56, 5), (60, 1), (62, 2), (63, 1), (72, 3), (79, 2), (89, 3), (96, 2),
        (97, 2), (102, 0), (104, 0), (107, 0), (108, 0), (110, 0), (131, 2), (158, 2),
        (160, 2), (186, 0), (200, 2), (201, 1), (202, 6), (204, 3), (218, 1), (228, 2),
        (229, 2), (230, 4), (231, 1), (232, 4), (233, 4), (234, 3), (257, 4), (262, 4),
        (267, 4), (281, 6), (284, 1), (290, 2), (291, 1), (292, 3), (302, 4), (318, 3))
})

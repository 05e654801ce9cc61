"""Emulated Linux x86-64 system calls.

A :class:`Linux` instance is the kernel of one emulated process: it is installed as
``machine.syscall`` and called by the SYSCALL instruction. Nothing reaches the host
except the bytes a program writes to fd 1 and 2 (and reads from fd 0), which go to the
streams given; time is a virtual clock, memory comes from the machine's own address
space.

The convention (syscall(2), "Architecture calling conventions", x86-64): the number
in RAX, arguments in RDI, RSI, RDX, R10, R8, R9; the result in RAX, where
``-4095 <= result <= -1`` is ``-errno``. The SYSCALL instruction itself overwrites RCX
with the address of the next instruction and R11 with RFLAGS (Intel SDM Vol. 2,
SYSCALL), which is why Go's wrappers treat both as clobbered; so does this kernel.

Implemented, each following its man page: read(2) (fd 0), write(2) (fd 1, 2), exit(2),
exit_group(2), arch_prctl(2) (ARCH_SET_FS/GET_FS/SET_GS/GET_GS), mmap(2)/munmap(2)
(anonymous only), mprotect(2), madvise(2), brk(2), getpid(2), gettid(2), clock_gettime(2), nanosleep(2),
sched_yield(2), sched_getaffinity(2), rt_sigaction(2), rt_sigprocmask(2),
sigaltstack(2) (signal state is recorded, never delivered), and the information calls
with fixed virtual answers: uname(2), getuid(2)/geteuid(2)/getgid(2)/getegid(2),
getppid(2), getrlimit(2)/prlimit64(2) and getrandom(2) (bytes from a seed, the same in
every run). Any other number raises
:class:`goasm.errors.UnimplementedError` naming the call and where it was made.
"""

from __future__ import annotations

import types

import attrs

from goasm.machine.events import Event
from goasm.errors import MachineFault, UnimplementedError

M64 = (1 << 64) - 1
PAGE = 4096

# errno values (asm-generic/errno-base.h, errno.h)
EPERM = 1
EINTR = 4
EBADF = 9
ENOMEM = 12
EFAULT = 14
EEXIST = 17
ENODEV = 19
EINVAL = 22
ENOSYS = 38

# arch_prctl(2) codes (asm/prctl.h)
ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004

# mmap(2) (asm-generic/mman-common.h, mman.h)
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 1, 2, 3
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_FIXED_NOREPLACE = 0x100000
PROT_SEM, PROT_GROWSDOWN, PROT_GROWSUP = 0x8, 0x01000000, 0x02000000
# madvise(2) advice values Linux knows (asm-generic/mman-common.h)
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_KNOWN = frozenset({0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                        21, 22, 23, 24, 25, 100, 101})
# The lowest address mmap gives out or accepts for MAP_FIXED (vm.mmap_min_addr default).
MMAP_MIN_ADDR = 0x10000

# Time is a signed 64-bit count of nanoseconds in Linux (include/linux/ktime.h).
KTIME_MAX = (1 << 63) - 1

# The most one read/write transfers (include/linux/fs.h: INT_MAX & PAGE_MASK), and the
# chunk in which goasm copies it.
MAX_RW_COUNT = 0x7FFFF000
RW_CHUNK = 1 << 16

# The highest user address + 1 on x86-64 with 4-level paging (TASK_SIZE_MAX,
# arch/x86/include/asm/page_64_types.h): arch_prctl refuses bases at or above it.
TASK_SIZE_MAX = (1 << 47) - PAGE

# Where mmap places mappings without a usable hint: top-down below this address, as
# Linux does below the stack (mm/util.c, arch_get_unmapped_area_topdown).
MMAP_TOP = 0x7FFF_F7FF_F000

ESRCH = 3

# getrlimit(2) resources (asm-generic/resource.h) and their virtual limits
# (soft, hard), those of a typical Linux login; RLIM_INFINITY is ~0.
RLIM_INFINITY = M64
RLIMITS = types.MappingProxyType({
    0: (RLIM_INFINITY, RLIM_INFINITY),      # RLIMIT_CPU
    1: (RLIM_INFINITY, RLIM_INFINITY),      # RLIMIT_FSIZE
    2: (RLIM_INFINITY, RLIM_INFINITY),      # RLIMIT_DATA
    3: (8 << 20, RLIM_INFINITY),            # RLIMIT_STACK
    4: (0, RLIM_INFINITY),                  # RLIMIT_CORE
    5: (RLIM_INFINITY, RLIM_INFINITY),      # RLIMIT_RSS
    6: (4096, 4096),                        # RLIMIT_NPROC
    7: (1024, 4096),                        # RLIMIT_NOFILE
    8: (8 << 20, 8 << 20),                  # RLIMIT_MEMLOCK
    9: (RLIM_INFINITY, RLIM_INFINITY),      # RLIMIT_AS
    10: (RLIM_INFINITY, RLIM_INFINITY),     # RLIMIT_LOCKS
    11: (4096, 4096),                       # RLIMIT_SIGPENDING
    12: (819200, 819200),                   # RLIMIT_MSGQUEUE
    13: (0, 0),                             # RLIMIT_NICE
    14: (0, 0),                             # RLIMIT_RTPRIO
    15: (RLIM_INFINITY, RLIM_INFINITY),     # RLIMIT_RTTIME
})

# uname(2): struct utsname, six NUL-padded 65-byte fields (sys/utsname.h, _UTSNAME_LENGTH).
UTSNAME_FIELD = 65
UNAME = types.MappingProxyType({
    "sysname": "Linux", "nodename": "goasm", "release": "6.1.0-goasm",
    "version": "#1 SMP goasm", "machine": "x86_64", "domainname": "(none)",
})

# getrandom(2) flags (linux/random.h) and its per-call limit (getrandom(2): "a maximum
# of 33554431 bytes is returned by a single call" from the urandom source).
GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4
GETRANDOM_MAX = (1 << 25) - 1

SIGKILL, SIGSTOP = 9, 19
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31

# Linux x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl), for
# messages and traces. One entry per line.
SYSCALL_NAMES = types.MappingProxyType({
    0: "read",
    1: "write",
    2: "open",
    3: "close",
    4: "stat",
    5: "fstat",
    6: "lstat",
    7: "poll",
    8: "lseek",
    9: "mmap",
    10: "mprotect",
    11: "munmap",
    12: "brk",
    13: "rt_sigaction",
    14: "rt_sigprocmask",
    15: "rt_sigreturn",
    16: "ioctl",
    17: "pread64",
    18: "pwrite64",
    19: "readv",
    20: "writev",
    21: "access",
    22: "pipe",
    23: "select",
    24: "sched_yield",
    25: "mremap",
    26: "msync",
    27: "mincore",
    28: "madvise",
    29: "shmget",
    30: "shmat",
    31: "shmctl",
    32: "dup",
    33: "dup2",
    34: "pause",
    35: "nanosleep",
    36: "getitimer",
    37: "alarm",
    38: "setitimer",
    39: "getpid",
    40: "sendfile",
    41: "socket",
    42: "connect",
    43: "accept",
    44: "sendto",
    45: "recvfrom",
    46: "sendmsg",
    47: "recvmsg",
    48: "shutdown",
    49: "bind",
    50: "listen",
    51: "getsockname",
    52: "getpeername",
    53: "socketpair",
    54: "setsockopt",
    55: "getsockopt",
    56: "clone",
    57: "fork",
    58: "vfork",
    59: "execve",
    60: "exit",
    61: "wait4",
    62: "kill",
    63: "uname",
    64: "semget",
    65: "semop",
    66: "semctl",
    67: "shmdt",
    68: "msgget",
    69: "msgsnd",
    70: "msgrcv",
    71: "msgctl",
    72: "fcntl",
    73: "flock",
    74: "fsync",
    75: "fdatasync",
    76: "truncate",
    77: "ftruncate",
    78: "getdents",
    79: "getcwd",
    80: "chdir",
    81: "fchdir",
    82: "rename",
    83: "mkdir",
    84: "rmdir",
    85: "creat",
    86: "link",
    87: "unlink",
    88: "symlink",
    89: "readlink",
    90: "chmod",
    91: "fchmod",
    92: "chown",
    93: "fchown",
    94: "lchown",
    95: "umask",
    96: "gettimeofday",
    97: "getrlimit",
    98: "getrusage",
    99: "sysinfo",
    100: "times",
    101: "ptrace",
    102: "getuid",
    103: "syslog",
    104: "getgid",
    105: "setuid",
    106: "setgid",
    107: "geteuid",
    108: "getegid",
    109: "setpgid",
    110: "getppid",
    111: "getpgrp",
    112: "setsid",
    113: "setreuid",
    114: "setregid",
    115: "getgroups",
    116: "setgroups",
    117: "setresuid",
    118: "getresuid",
    119: "setresgid",
    120: "getresgid",
    121: "getpgid",
    122: "setfsuid",
    123: "setfsgid",
    124: "getsid",
    125: "capget",
    126: "capset",
    127: "rt_sigpending",
    128: "rt_sigtimedwait",
    129: "rt_sigqueueinfo",
    130: "rt_sigsuspend",
    131: "sigaltstack",
    132: "utime",
    133: "mknod",
    134: "uselib",
    135: "personality",
    136: "ustat",
    137: "statfs",
    138: "fstatfs",
    139: "sysfs",
    140: "getpriority",
    141: "setpriority",
    142: "sched_setparam",
    143: "sched_getparam",
    144: "sched_setscheduler",
    145: "sched_getscheduler",
    146: "sched_get_priority_max",
    147: "sched_get_priority_min",
    148: "sched_rr_get_interval",
    149: "mlock",
    150: "munlock",
    151: "mlockall",
    152: "munlockall",
    153: "vhangup",
    154: "modify_ldt",
    155: "pivot_root",
    156: "_sysctl",
    157: "prctl",
    158: "arch_prctl",
    159: "adjtimex",
    160: "setrlimit",
    161: "chroot",
    162: "sync",
    163: "acct",
    164: "settimeofday",
    165: "mount",
    166: "umount2",
    167: "swapon",
    168: "swapoff",
    169: "reboot",
    170: "sethostname",
    171: "setdomainname",
    172: "iopl",
    173: "ioperm",
    174: "create_module",
    175: "init_module",
    176: "delete_module",
    177: "get_kernel_syms",
    178: "query_module",
    179: "quotactl",
    180: "nfsservctl",
    181: "getpmsg",
    182: "putpmsg",
    183: "afs_syscall",
    184: "tuxcall",
    185: "security",
    186: "gettid",
    187: "readahead",
    188: "setxattr",
    189: "lsetxattr",
    190: "fsetxattr",
    191: "getxattr",
    192: "lgetxattr",
    193: "fgetxattr",
    194: "listxattr",
    195: "llistxattr",
    196: "flistxattr",
    197: "removexattr",
    198: "lremovexattr",
    199: "fremovexattr",
    200: "tkill",
    201: "time",
    202: "futex",
    203: "sched_setaffinity",
    204: "sched_getaffinity",
    205: "set_thread_area",
    206: "io_setup",
    207: "io_destroy",
    208: "io_getevents",
    209: "io_submit",
    210: "io_cancel",
    211: "get_thread_area",
    212: "lookup_dcookie",
    213: "epoll_create",
    214: "epoll_ctl_old",
    215: "epoll_wait_old",
    216: "remap_file_pages",
    217: "getdents64",
    218: "set_tid_address",
    219: "restart_syscall",
    220: "semtimedop",
    221: "fadvise64",
    222: "timer_create",
    223: "timer_settime",
    224: "timer_gettime",
    225: "timer_getoverrun",
    226: "timer_delete",
    227: "clock_settime",
    228: "clock_gettime",
    229: "clock_getres",
    230: "clock_nanosleep",
    231: "exit_group",
    232: "epoll_wait",
    233: "epoll_ctl",
    234: "tgkill",
    235: "utimes",
    236: "vserver",
    237: "mbind",
    238: "set_mempolicy",
    239: "get_mempolicy",
    240: "mq_open",
    241: "mq_unlink",
    242: "mq_timedsend",
    243: "mq_timedreceive",
    244: "mq_notify",
    245: "mq_getsetattr",
    246: "kexec_load",
    247: "waitid",
    248: "add_key",
    249: "request_key",
    250: "keyctl",
    251: "ioprio_set",
    252: "ioprio_get",
    253: "inotify_init",
    254: "inotify_add_watch",
    255: "inotify_rm_watch",
    256: "migrate_pages",
    257: "openat",
    258: "mkdirat",
    259: "mknodat",
    260: "fchownat",
    261: "futimesat",
    262: "newfstatat",
    263: "unlinkat",
    264: "renameat",
    265: "linkat",
    266: "symlinkat",
    267: "readlinkat",
    268: "fchmodat",
    269: "faccessat",
    270: "pselect6",
    271: "ppoll",
    272: "unshare",
    273: "set_robust_list",
    274: "get_robust_list",
    275: "splice",
    276: "tee",
    277: "sync_file_range",
    278: "vmsplice",
    279: "move_pages",
    280: "utimensat",
    281: "epoll_pwait",
    282: "signalfd",
    283: "timerfd_create",
    284: "eventfd",
    285: "fallocate",
    286: "timerfd_settime",
    287: "timerfd_gettime",
    288: "accept4",
    289: "signalfd4",
    290: "eventfd2",
    291: "epoll_create1",
    292: "dup3",
    293: "pipe2",
    294: "inotify_init1",
    295: "preadv",
    296: "pwritev",
    297: "rt_tgsigqueueinfo",
    298: "perf_event_open",
    299: "recvmmsg",
    300: "fanotify_init",
    301: "fanotify_mark",
    302: "prlimit64",
    303: "name_to_handle_at",
    304: "open_by_handle_at",
    305: "clock_adjtime",
    306: "syncfs",
    307: "sendmmsg",
    308: "setns",
    309: "getcpu",
    310: "process_vm_readv",
    311: "process_vm_writev",
    312: "kcmp",
    313: "finit_module",
    314: "sched_setattr",
    315: "sched_getattr",
    316: "renameat2",
    317: "seccomp",
    318: "getrandom",
    319: "memfd_create",
    320: "kexec_file_load",
    321: "bpf",
    322: "execveat",
    323: "userfaultfd",
    324: "membarrier",
    325: "mlock2",
    326: "copy_file_range",
    327: "preadv2",
    328: "pwritev2",
    329: "pkey_mprotect",
    330: "pkey_alloc",
    331: "pkey_free",
    332: "statx",
    333: "io_pgetevents",
    334: "rseq",
    335: "uretprobe",
    336: "uprobe",
    424: "pidfd_send_signal",
    425: "io_uring_setup",
    426: "io_uring_enter",
    427: "io_uring_register",
    428: "open_tree",
    429: "move_mount",
    430: "fsopen",
    431: "fsconfig",
    432: "fsmount",
    433: "fspick",
    434: "pidfd_open",
    435: "clone3",
    436: "close_range",
    437: "openat2",
    438: "pidfd_getfd",
    439: "faccessat2",
    440: "process_madvise",
    441: "epoll_pwait2",
    442: "mount_setattr",
    443: "quotactl_fd",
    444: "landlock_create_ruleset",
    445: "landlock_add_rule",
    446: "landlock_restrict_self",
    447: "memfd_secret",
    448: "process_mrelease",
    449: "futex_waitv",
    450: "set_mempolicy_home_node",
    451: "cachestat",
    452: "fchmodat2",
    453: "map_shadow_stack",
    454: "futex_wake",
    455: "futex_wait",
    456: "futex_requeue",
    457: "statmount",
    458: "listmount",
    459: "lsm_get_self_attr",
    460: "lsm_set_self_attr",
    461: "lsm_list_modules",
    462: "mseal",
    463: "setxattrat",
    464: "getxattrat",
    465: "listxattrat",
    466: "removexattrat",
    467: "open_tree_attr",
    468: "file_getattr",
    469: "file_setattr",
    470: "listns",
    471: "rseq_slice_yield",
})

SYSCALL_NUMBERS = types.MappingProxyType({name: nr for nr, name in SYSCALL_NAMES.items()})


def syscall_name(nr: int) -> str:
    """``write`` for 1; ``syscall_<nr>`` for numbers Linux does not define."""
    return SYSCALL_NAMES.get(nr, f"syscall_{nr}")


# --------------------------------------------------------------------------- events

@attrs.frozen
class SyscallEvent(Event):
    """A system call and its result (``result`` is the raw RAX value, signed)."""

    kind = "syscall"
    step: int
    nr: int
    name: str
    args: tuple
    result: int


    def __str__(self) -> str:
        args = ", ".join(hex(a) for a in self.args)
        return f"syscall {self.name}({args}) = {self.result:#x}" if self.result >= 0 \
            else f"syscall {self.name}({args}) = -{-self.result} (errno)"


@attrs.frozen
class TlsBaseSet(Event):
    """arch_prctl(ARCH_SET_FS, addr) succeeded: the FS base (thread pointer) is ``addr``."""

    kind = "tls_base"
    step: int
    addr: int


    def __str__(self) -> str:
        return f"TLS base (FS) = {self.addr:#x}; the g slot -8(FS) is at {self.addr - 8:#x}"


@attrs.frozen
class ProcessExit(Event):
    """exit or exit_group: the process ends with ``status``."""

    kind = "exit"
    step: int
    status: int
    syscall: str


    def __str__(self) -> str:
        return f"{self.syscall}({self.status})"


# --------------------------------------------------------------------------- helpers

def _signed(value: int) -> int:
    value &= M64
    return value - (1 << 64) if value >> 63 else value


def _write_stream(stream, data: bytes) -> None:
    """Write bytes to a binary stream, or decoded to a text stream."""
    try:
        stream.write(data)
    except TypeError:
        stream.write(data.decode("utf-8", "replace"))


def _read_stream(stream, n: int) -> bytes:
    data = stream.read(n)
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data or b""


def syscall_site(machine):
    """The SYSCALL instruction being executed (an ``LInstr``) or None.

    The machine brings ``cpu.pc`` up to date before calling the kernel; depending on the
    core that is the SYSCALL itself or the instruction after it, so both are checked.
    """
    code = getattr(machine.image, "code", {})
    pc = machine.cpu.pc
    ins = code.get(pc)
    if ins is not None and ins.op == "SYSCALL":
        return ins
    for back in (1, 2):
        ins = code.get(pc - back)
        if ins is not None and ins.op == "SYSCALL" and ins.next_addr == pc:
            return ins
    return None


def _where(machine) -> str:
    ins = syscall_site(machine)
    if ins is not None and ins.pos is not None:
        pos = ins.pos
        return f"{pos.file}:{pos.line}" if pos.line > 0 else str(pos)
    try:
        return machine.image.describe(machine.cpu.pc)
    except Exception:  # pragma: no cover - an image without symbols
        return hex(machine.cpu.pc)


# Handlers by number: number -> method name of Linux. Data, one entry per line.
_HANDLERS = types.MappingProxyType({
    0: "sys_read",
    1: "sys_write",
    9: "sys_mmap",
    10: "sys_mprotect",
    11: "sys_munmap",
    12: "sys_brk",
    13: "sys_rt_sigaction",
    14: "sys_rt_sigprocmask",
    24: "sys_sched_yield",
    28: "sys_madvise",
    35: "sys_nanosleep",
    39: "sys_getpid",
    60: "sys_exit",
    63: "sys_uname",
    97: "sys_getrlimit",
    102: "sys_getuid",
    104: "sys_getgid",
    107: "sys_geteuid",
    108: "sys_getegid",
    110: "sys_getppid",
    131: "sys_sigaltstack",
    158: "sys_arch_prctl",
    186: "sys_gettid",
    204: "sys_sched_getaffinity",
    228: "sys_clock_gettime",
    231: "sys_exit_group",
    302: "sys_prlimit64",
    318: "sys_getrandom",
})

IMPLEMENTED = frozenset(SYSCALL_NAMES[nr] for nr in _HANDLERS)


class Linux:
    """The emulated kernel of one process; ``machine.syscall = Linux(...)``.

    ``stdout``/``stderr`` receive what the program writes to fd 1 and 2 (binary streams;
    text streams get UTF-8-decoded text); when None, the machine's own ``stdout``/
    ``stderr`` are used if it has them, otherwise the bytes are kept in
    ``self.output[fd]``. ``stdin`` feeds read(0, ...) (None: end of file at once).

    The virtual clock reads ``start_ns + steps * ns_per_step + slept`` (CLOCK_REALTIME
    adds ``epoch_ns``); nanosleep advances ``slept``. Signal dispositions, the signal
    mask and the alternate stack are recorded in ``sigactions``, ``sigmask`` and
    ``altstack``. Every call is appended to ``events`` (a list that may be shared with
    the runtime model) unless ``record`` is False.
    """

    def __init__(self, *, stdout=None, stderr=None, stdin=None, events: list | None = None,
                 record: bool = True, pid: int = 1000, ns_per_step: int = 1,
                 start_ns: int = 1_000_000_000, epoch_ns: int = 1_700_000_000_000_000_000,
                 mmap_top: int = MMAP_TOP, cpus: int = 1, uid: int = 1000, gid: int = 1000,
                 ppid: int = 1, random_seed: bytes = b"goasm") -> None:
        self.streams = {0: stdin, 1: stdout, 2: stderr}
        self.uid = uid
        self.gid = gid
        self.ppid = ppid
        self.rlimits = dict(RLIMITS)
        self.random_seed = bytes(random_seed)
        self.random_drawn = 0
        self.output: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self.events = events if events is not None else []
        self.record = record
        self.pid = pid
        self.ns_per_step = ns_per_step
        self.start_ns = start_ns
        self.epoch_ns = epoch_ns
        self.slept_ns = 0
        self.mmap_top = mmap_top
        self.cpus = cpus
        self.brk_start: int | None = None     # brk(2): set on first use
        self.brk = 0
        self.sigactions: dict[int, tuple[int, int, int, int]] = {}
        self.sigmask = 0
        self.altstack: tuple[int, int, int] | None = None   # (sp, flags, size)
        self.calls = 0

    # ------------------------------------------------------------------ dispatch

    def __call__(self, machine) -> None:
        """Execute the system call the registers describe (SYSCALL instruction)."""
        regs = machine.cpu.regs
        nr = regs[0]
        args = (regs[7], regs[6], regs[2], regs[10], regs[8], regs[9])
        handler = _HANDLERS.get(nr)
        if handler is None:
            raise UnimplementedError(
                f"unimplemented syscall {syscall_name(nr)} ({nr}) at {_where(machine)}")
        self.calls += 1
        result = getattr(self, handler)(machine, *args)
        if self.record:
            self.events.append(SyscallEvent(getattr(machine, "steps", 0), nr, syscall_name(nr),
                                            args[:_ARGC.get(nr, 6)], result))
        regs[0] = result & M64
        site = syscall_site(machine)
        regs[1] = site.next_addr if site is not None else machine.cpu.pc   # RCX = return RIP
        regs[11] = machine.cpu.get_rflags()                                # R11 = RFLAGS

    # ------------------------------------------------------------------ streams

    def _stream(self, machine, fd: int):
        stream = self.streams.get(fd)
        if stream is None:
            stream = getattr(machine, {0: "stdin", 1: "stdout", 2: "stderr"}[fd], None)
        return stream

    def emit(self, machine, fd: int, data: bytes) -> None:
        """Deliver bytes written to fd 1 or 2 (also used by the runtime model's print)."""
        stream = self._stream(machine, fd)
        if stream is None:
            self.output[fd] += data
        else:
            _write_stream(stream, data)

    # ------------------------------------------------------------------ clock

    def now_ns(self, machine, clock: int = 1) -> int:
        """The virtual time of ``clock`` in nanoseconds, at most ``KTIME_MAX`` (Linux
        keeps time in a signed 64-bit count of nanoseconds, include/linux/ktime.h, and
        saturates there instead of wrapping)."""
        t = self.start_ns + getattr(machine, "steps", 0) * self.ns_per_step + self.slept_ns
        if clock in (0, 5):       # CLOCK_REALTIME, CLOCK_REALTIME_COARSE
            t += self.epoch_ns
        return min(t, KTIME_MAX)

    # ------------------------------------------------------------------ files

    def sys_read(self, machine, fd, buf, count, *_):
        """read(2): fd 0 only; other fds are not open (EBADF)."""
        if fd != 0:
            return -EBADF
        count = min(count, 1 << 20)
        stream = self._stream(machine, 0)
        data = _read_stream(stream, count) if stream is not None and count else b""
        try:
            machine.mem.write(buf, data)
        except MachineFault:
            return -EFAULT
        return len(data)

    def sys_write(self, machine, fd, buf, count, *_):
        """write(2): fd 1 and 2 go to the streams; any other fd is not open (EBADF).
        At most MAX_RW_COUNT bytes are written (fs/read_write.c), copied in chunks: a
        buffer that faults part way gives a short write, or EFAULT if nothing was
        copied."""
        if fd not in (1, 2):
            return -EBADF
        if count >> 63:
            return -EINVAL
        count = min(count, MAX_RW_COUNT)
        done = 0
        while done < count:
            n = min(count - done, RW_CHUNK)
            try:
                data = machine.mem.read((buf + done) & M64, n)
            except MachineFault as fault:
                ok = (fault.addr - buf - done) & M64 if fault.addr is not None else 0
                data = machine.mem.read((buf + done) & M64, ok) if 0 < ok < n else b""
                if data:
                    self.emit(machine, fd, data)
                    done += len(data)
                return done if done else -EFAULT
            self.emit(machine, fd, data)
            done += n
        return done

    # ------------------------------------------------------------------ process

    def _exit(self, machine, status: int, name: str):
        status &= 0xFF
        if self.record:
            self.events.append(ProcessExit(getattr(machine, "steps", 0), status, name))
        machine.exit(status)

    def sys_exit(self, machine, status, *_):
        """exit(2): ends the calling thread; with one thread, the process."""
        self._exit(machine, status, "exit")

    def sys_exit_group(self, machine, status, *_):
        """exit_group(2): ends every thread of the process with ``status & 0xff``."""
        self._exit(machine, status, "exit_group")

    def sys_getpid(self, machine, *_):
        """getpid(2)."""
        return self.pid

    def sys_gettid(self, machine, *_):
        """gettid(2): the main thread's id equals the process id."""
        return self.pid

    def sys_getppid(self, machine, *_):
        """getppid(2): the virtual parent (``ppid``, default 1: init)."""
        return self.ppid

    def sys_getuid(self, machine, *_):
        """getuid(2): the virtual user (``uid``)."""
        return self.uid

    def sys_geteuid(self, machine, *_):
        """geteuid(2): no set-user-ID, so the real user."""
        return self.uid

    def sys_getgid(self, machine, *_):
        """getgid(2): the virtual group (``gid``)."""
        return self.gid

    def sys_getegid(self, machine, *_):
        """getegid(2): no set-group-ID, so the real group."""
        return self.gid

    def sys_uname(self, machine, buf, *_):
        """uname(2): :data:`UNAME`, each field NUL-padded to 65 bytes."""
        raw = b"".join(UNAME[f].encode()[:UTSNAME_FIELD - 1].ljust(UTSNAME_FIELD, b"\0")
                       for f in ("sysname", "nodename", "release", "version", "machine",
                                 "domainname"))
        try:
            machine.mem.write(buf, raw)
        except MachineFault:
            return -EFAULT
        return 0

    def _rlimit(self, machine, resource, new, old):
        if resource not in self.rlimits:
            return -EINVAL
        try:
            if new:
                raw = machine.mem.read(new, 16)
                cur, hi = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
            if old:
                cur0, hi0 = self.rlimits[resource]
                machine.mem.write(old, cur0.to_bytes(8, "little") + hi0.to_bytes(8, "little"))
        except MachineFault:
            return -EFAULT
        if new:
            if cur > hi:
                return -EINVAL
            if hi > self.rlimits[resource][1]:
                return -EPERM        # an unprivileged process cannot raise the hard limit
            self.rlimits[resource] = (cur, hi)
        return 0

    def sys_getrlimit(self, machine, resource, rlim, *_):
        """getrlimit(2): struct rlimit {rlim_cur, rlim_max} (u64 each), :data:`RLIMITS`."""
        return self._rlimit(machine, resource, 0, rlim)

    def sys_prlimit64(self, machine, pid, resource, new, old, *_):
        """prlimit64(2) on this process (pid 0 or its own): reads the old limits and
        sets new ones (cur <= max, and the hard limit only lowered: EINVAL/EPERM)."""
        if pid not in (0, self.pid):
            return -ESRCH
        return self._rlimit(machine, resource, new, old)

    def sys_getrandom(self, machine, buf, count, flags, *_):
        """getrandom(2): ``count`` bytes (at most 32 MiB - 1 per call) of a stream that
        only depends on ``random_seed`` (SHA-256 of seed and block number): the same in
        every run, and different for each call; flags other than GRND_NONBLOCK,
        GRND_RANDOM and GRND_INSECURE are EINVAL (RANDOM with INSECURE too)."""
        import hashlib

        if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) or (
                flags & GRND_RANDOM and flags & GRND_INSECURE):
            return -EINVAL
        count = min(count, GETRANDOM_MAX)
        start, end = self.random_drawn, self.random_drawn + count
        out = bytearray()
        for block in range(start // 32, (end + 31) // 32):
            out += hashlib.sha256(self.random_seed + block.to_bytes(8, "little")).digest()
        data = bytes(out[start % 32:start % 32 + count])
        try:
            machine.mem.write(buf, data)
        except MachineFault:
            return -EFAULT
        self.random_drawn = end
        return count

    def sys_sched_yield(self, machine, *_):
        """sched_yield(2): nothing else to run."""
        return 0

    def sys_sched_getaffinity(self, machine, pid, size, mask, *_):
        """sched_getaffinity(2): CPUs 0..cpus-1; returns the bytes written (the kernel's
        cpumask size, 8 here)."""
        if pid not in (0, self.pid):
            return -3  # ESRCH
        if size < 8 or size & 7:
            return -EINVAL
        try:
            machine.mem.write(mask, ((1 << self.cpus) - 1).to_bytes(8, "little"))
        except MachineFault:
            return -EFAULT
        return 8

    def sys_arch_prctl(self, machine, code, addr, *_):
        """arch_prctl(2): set or get the FS/GS base. A base at or above TASK_SIZE_MAX (not
        a user address) is refused with EPERM, as arch/x86/kernel/process_64.c does."""
        cpu = machine.cpu
        if code in (ARCH_SET_FS, ARCH_SET_GS):
            if addr >= TASK_SIZE_MAX:
                return -EPERM
            if code == ARCH_SET_FS:
                cpu.fs_base = addr
                if self.record:
                    self.events.append(TlsBaseSet(getattr(machine, "steps", 0), addr))
            else:
                cpu.gs_base = addr
            return 0
        if code in (ARCH_GET_FS, ARCH_GET_GS):
            value = cpu.fs_base if code == ARCH_GET_FS else cpu.gs_base
            try:
                machine.mem.write_u64(addr, value)
            except MachineFault:
                return -EFAULT
            return 0
        return -EINVAL

    # ------------------------------------------------------------------ time

    def _timespec(self, machine, addr):
        sec = _signed(machine.mem.read_u64(addr))
        nsec = _signed(machine.mem.read_u64(addr + 8))
        return sec, nsec

    def sys_clock_gettime(self, machine, clock, tp, *_):
        """clock_gettime(2) on the virtual clock: CLOCK_REALTIME (0) counts from
        ``epoch_ns``; the monotonic, boot-time and CPU-time clocks (1-7) from ``start_ns``."""
        if clock > 7:
            return -EINVAL
        t = self.now_ns(machine, clock)
        try:
            machine.mem.write(tp, (t // 1_000_000_000).to_bytes(8, "little")
                              + (t % 1_000_000_000).to_bytes(8, "little"))
        except MachineFault:
            return -EFAULT
        return 0

    def sys_nanosleep(self, machine, req, rem, *_):
        """nanosleep(2): advances the virtual clock by the requested time at once."""
        try:
            sec, nsec = self._timespec(machine, req)
        except MachineFault:
            return -EFAULT
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            return -EINVAL
        # A valid but huge request sleeps until KTIME_MAX (timespec64_to_ktime
        # saturates): the virtual clock stops there.
        self.slept_ns = min(self.slept_ns + sec * 1_000_000_000 + nsec, KTIME_MAX)
        return 0

    # ------------------------------------------------------------------ memory

    def _free(self, machine, start: int, end: int) -> bool:
        return PAGE <= start and end <= TASK_SIZE_MAX and \
            not machine.mem.overlaps(start, end - start)

    def _find_gap(self, machine, length: int) -> int | None:
        """Top-down search below ``mmap_top`` for ``length`` free bytes (O(mappings))."""
        top = self.mmap_top
        for s, e, *_ in reversed(machine.mem.mappings()):
            if s >= top:
                continue
            if e <= top - length:
                break
            top = s
        return top - length if top - length >= MMAP_MIN_ADDR else None

    def sys_mmap(self, machine, addr, length, prot, flags, fd, offset):
        """mmap(2), anonymous private or shared memory only.

        File mappings fail (there are no files: ENODEV for the standard fds, EBADF for
        others). Pages cost nothing until touched (goasm.machine.memory), so any size
        that fits the address space is granted. PROT_NONE mappings only reserve address
        space (any access faults); the others read as zeros, writable unless PROT_WRITE
        is missing. MAP_FIXED replaces what was there, MAP_FIXED_NOREPLACE fails with
        EEXIST instead; a plain hint is used when that range is free, otherwise the
        mapping goes top-down below ``mmap_top``.
        """
        if length == 0 or length >> 63:
            return -EINVAL
        mtype = flags & MAP_TYPE
        if mtype not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
            return -EINVAL
        if offset & (PAGE - 1):
            return -EINVAL
        if not flags & MAP_ANONYMOUS:
            fd32 = fd & 0xFFFFFFFF
            return -ENODEV if fd32 in (0, 1, 2) else -EBADF
        size = (length + PAGE - 1) & ~(PAGE - 1)
        if size > TASK_SIZE_MAX:
            return -ENOMEM
        fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
        if fixed:
            if addr & (PAGE - 1):
                return -EINVAL
            if addr + size > TASK_SIZE_MAX or addr < MMAP_MIN_ADDR:
                return -ENOMEM if addr + size > TASK_SIZE_MAX else -EPERM
            if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and \
                    not self._free(machine, addr, addr + size):
                return -EEXIST
            machine.mem.unmap(addr, size)
            start = addr
        elif addr and not addr & (PAGE - 1) and addr >= MMAP_MIN_ADDR and \
                self._free(machine, addr, addr + size):
            start = addr
        else:
            start = self._find_gap(machine, size)
            if start is None:
                return -ENOMEM
        machine.mem.map(start, size, writable=bool(prot & PROT_WRITE),
                        readable=bool(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)), name="mmap")
        return start

    def sys_munmap(self, machine, addr, length, *_):
        """munmap(2): addr must be page aligned; unmapping nothing is not an error."""
        if addr & (PAGE - 1) or length == 0 or length >> 63:
            return -EINVAL
        size = (length + PAGE - 1) & ~(PAGE - 1)
        if addr + size > TASK_SIZE_MAX:
            return -EINVAL
        machine.mem.unmap(addr, size)
        return 0

    def sys_mprotect(self, machine, addr, length, prot, *_):
        """mprotect(2): addr page aligned, prot only PROT_READ/WRITE/EXEC (and the
        GROWSDOWN/GROWSUP flags, which must then not both be set); ENOMEM when part of
        the range is not mapped (then nothing changes here)."""
        if addr & (PAGE - 1) or prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM
                                         | PROT_GROWSDOWN | PROT_GROWSUP):
            return -EINVAL
        if prot & PROT_GROWSDOWN and prot & PROT_GROWSUP:
            return -EINVAL
        size = (length + PAGE - 1) & ~(PAGE - 1)
        if length and size == 0 or addr + size < addr:
            return -ENOMEM
        if size == 0:
            return 0
        if addr + size > TASK_SIZE_MAX or not machine.mem.is_covered(addr, size):
            return -ENOMEM
        machine.mem.protect(addr, size, writable=bool(prot & PROT_WRITE),
                            readable=bool(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
        return 0

    def sys_madvise(self, machine, addr, length, advice, *_):
        """madvise(2): advice only, except MADV_DONTNEED, after which the pages read as
        their initial contents (zeros for anonymous memory), as Linux guarantees for
        private mappings. MADV_FREE may keep the contents (and here always does). An
        unknown advice is EINVAL; a range not entirely mapped ENOMEM (after applying the
        advice to what is mapped)."""
        if addr & (PAGE - 1) or advice not in MADV_KNOWN:
            return -EINVAL
        size = (length + PAGE - 1) & ~(PAGE - 1)
        if length and size == 0 or addr + size < addr:
            return -EINVAL
        if size == 0:
            return 0
        if advice == MADV_DONTNEED:
            machine.mem.discard(addr, size)
        if not machine.mem.is_covered(addr, size):
            return -ENOMEM
        return 0

    def _brk_base(self, machine) -> int:
        """Where the heap of brk(2) starts: the page after the highest segment."""
        if self.brk_start is None:
            segs = getattr(machine.image, "segments", ())
            end = max((seg.addr + len(seg.data) for seg in segs), default=0x600000)
            self.brk_start = self.brk = (end + PAGE - 1) & ~(PAGE - 1)
        return self.brk_start

    def sys_brk(self, machine, addr, *_):
        """brk(2) (the system call, not the libc wrapper): returns the new program break,
        or the old one when ``addr`` is below the start of the heap or the pages needed
        are not free; growing maps zero pages, shrinking unmaps them (mm/mmap.c)."""
        base = self._brk_base(machine)
        old = self.brk
        if addr < base or addr > TASK_SIZE_MAX:
            return old
        new_top = (addr + PAGE - 1) & ~(PAGE - 1)
        old_top = (old + PAGE - 1) & ~(PAGE - 1)
        if new_top > old_top:
            if machine.mem.overlaps(old_top, new_top - old_top):
                return old
            machine.mem.map(old_top, new_top - old_top, name="[heap]")
        elif new_top < old_top:
            machine.mem.unmap(new_top, old_top - new_top)
        self.brk = addr
        return addr

    # ------------------------------------------------------------------ signals

    def sys_rt_sigaction(self, machine, sig, act, oact, sigsetsize, *_):
        """rt_sigaction(2): records the disposition (struct sigaction of the kernel:
        handler, flags, restorer, mask, 8 bytes each); no signal is ever delivered."""
        if sigsetsize != 8 or not 1 <= sig <= 64:
            return -EINVAL
        if act and sig in (SIGKILL, SIGSTOP):
            return -EINVAL
        try:
            new = None
            if act:
                raw = machine.mem.read(act, 32)
                new = tuple(int.from_bytes(raw[i:i + 8], "little") for i in range(0, 32, 8))
            if oact:
                old = self.sigactions.get(sig, (0, 0, 0, 0))
                machine.mem.write(oact, b"".join(v.to_bytes(8, "little") for v in old))
        except MachineFault:
            return -EFAULT
        if new is not None:
            self.sigactions[sig] = new
        return 0

    def sys_rt_sigprocmask(self, machine, how, set_, oset, sigsetsize, *_):
        """rt_sigprocmask(2): SIG_BLOCK (0), SIG_UNBLOCK (1), SIG_SETMASK (2); SIGKILL
        and SIGSTOP cannot be blocked."""
        if sigsetsize != 8:
            return -EINVAL
        try:
            new = machine.mem.read_u64(set_) if set_ else None
            if oset:
                machine.mem.write_u64(oset, self.sigmask)
        except MachineFault:
            return -EFAULT
        if new is not None:
            if how == 0:
                mask = self.sigmask | new
            elif how == 1:
                mask = self.sigmask & ~new
            elif how == 2:
                mask = new
            else:
                return -EINVAL
            self.sigmask = mask & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))) & M64
        return 0

    def sys_sigaltstack(self, machine, ss, old, *_):
        """sigaltstack(2): stack_t is {ss_sp u64, ss_flags i32 (+pad), ss_size u64}."""
        try:
            new = None
            if ss:
                raw = machine.mem.read(ss, 24)
                new = (int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:12], "little"),
                       int.from_bytes(raw[16:24], "little"))
            if old:
                sp, fl, size = self.altstack if self.altstack is not None else (0, SS_DISABLE, 0)
                machine.mem.write(old, sp.to_bytes(8, "little") + fl.to_bytes(4, "little")
                                  + bytes(4) + size.to_bytes(8, "little"))
        except MachineFault:
            return -EFAULT
        if new is not None:
            if new[1] & ~(SS_DISABLE | SS_ONSTACK | SS_AUTODISARM):
                return -EINVAL
            self.altstack = None if new[1] & SS_DISABLE else new
        return 0


# How many arguments each implemented call takes (for the event log).
_ARGC = types.MappingProxyType({
    0: 3, 1: 3, 9: 6, 10: 3, 11: 2, 12: 1, 13: 4, 14: 4, 24: 0, 28: 3, 35: 2, 39: 0, 60: 1,
    63: 1, 97: 2, 102: 0, 104: 0, 107: 0, 108: 0, 110: 0, 131: 2, 158: 2, 186: 0, 204: 3,
    228: 2, 231: 1, 302: 4, 318: 3,
})

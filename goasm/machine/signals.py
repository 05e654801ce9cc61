"""Linux signals on x86-64: numbers, ``siginfo_t``, and the ``rt_sigframe`` a handler
runs on.

The frame is the one Linux builds (arch/x86/kernel/signal.c ``get_sigframe`` /
``x64_setup_rt_frame``, arch/x86/include/asm/sigframe.h ``struct rt_sigframe``,
arch/x86/include/uapi/asm/sigcontext.h ``struct sigcontext``, include/uapi/asm-generic/
siginfo.h), so a handler that reads or edits the interrupted context -- Go's
``sigtramp``/``sighandler``, which injects ``sigpanic`` or ``asyncPreempt`` by rewriting
the saved RIP and RSP -- works unchanged, and ``rt_sigreturn`` resumes from whatever the
handler left there::

    sp (16-byte aligned - 8, as after a CALL)
    +0    pretcode            the handler returns here: sa_restorer (SA_RESTORER)
    +8    struct ucontext     uc_flags, uc_link, uc_stack (stack_t, 24 bytes),
                              uc_mcontext (struct sigcontext, 256 bytes), uc_sigmask
    +312  siginfo_t           128 bytes
    ...   (padding)
    fpstate (64-byte aligned) the FXSAVE image (512 bytes): MXCSR, XMM0-XMM15

``struct sigcontext`` (the ``gregs`` of glibc's and Go's ``mcontext``): r8 r9 r10 r11
r12 r13 r14 r15 rdi rsi rbp rbx rdx rax rcx rsp rip eflags, then cs/gs/fs/ss (16 bits
each), err, trapno, oldmask, cr2, the fpstate pointer and 8 reserved words.

The vector state saved is what an FXSAVE image holds (SDM Vol. 1, 10.5.1, Table 10-2):
MXCSR and XMM0-XMM15 (the bits above 127 and the EVEX-only registers are not part of it;
a handler in goasm never runs VEX code on a CPU model without AVX).
"""

from __future__ import annotations

import struct
import types

M64 = (1 << 64) - 1

# Signal numbers (arch/x86/include/uapi/asm/signal.h). One entry per line.
SIGNAL_NUMBERS = types.MappingProxyType({
    "SIGHUP": 1,
    "SIGINT": 2,
    "SIGQUIT": 3,
    "SIGILL": 4,
    "SIGTRAP": 5,
    "SIGABRT": 6,
    "SIGBUS": 7,
    "SIGFPE": 8,
    "SIGKILL": 9,
    "SIGUSR1": 10,
    "SIGSEGV": 11,
    "SIGUSR2": 12,
    "SIGPIPE": 13,
    "SIGALRM": 14,
    "SIGTERM": 15,
    "SIGSTKFLT": 16,
    "SIGCHLD": 17,
    "SIGCONT": 18,
    "SIGSTOP": 19,
    "SIGTSTP": 20,
    "SIGTTIN": 21,
    "SIGTTOU": 22,
    "SIGURG": 23,
    "SIGXCPU": 24,
    "SIGXFSZ": 25,
    "SIGVTALRM": 26,
    "SIGPROF": 27,
    "SIGWINCH": 28,
    "SIGIO": 29,
    "SIGPWR": 30,
    "SIGSYS": 31,
})
SIGNAL_NAMES = types.MappingProxyType({n: name for name, n in SIGNAL_NUMBERS.items()})

SIGSEGV = SIGNAL_NUMBERS["SIGSEGV"]
SIGURG = SIGNAL_NUMBERS["SIGURG"]

IGNORED_BY_DEFAULT = frozenset(SIGNAL_NUMBERS[n] for n in ("SIGCHLD", "SIGURG", "SIGWINCH",
                                                           "SIGCONT"))
"""Signals whose default action is to ignore them (signal(7), "Standard signals")."""

SIG_DFL, SIG_IGN = 0, 1

# sigaction(2) flags.
SA_NOCLDSTOP = 0x1
SA_SIGINFO = 0x4
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

# sigaltstack(2) flags.
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31

# si_code values (include/uapi/asm-generic/siginfo.h).
SI_USER = 0
SI_KERNEL = 0x80
SI_TKILL = -6
SI_CODES = types.MappingProxyType({
    None: 0,
    "SEGV_MAPERR": 1,
    "SEGV_ACCERR": 2,
    "BUS_ADRALN": 1,
    "FPE_INTDIV": 1,
    "FPE_INTOVF": 2,
    "ILL_ILLOPN": 2,
    "TRAP_BRKPT": 1,
    "SI_KERNEL": SI_KERNEL,
})

# Exception vectors for sigcontext.trapno (SDM Vol. 3, 6.3.1, Table 6-1).
TRAPNO = types.MappingProxyType({"SIGFPE": 0, "SIGTRAP": 3, "SIGILL": 6, "SIGSEGV": 14,
                                 "SIGBUS": 17})

# Layout (see the module docstring).
UC_OFFSET = 8
UC_STACK = 16                   # within the ucontext
UC_MCONTEXT = 40
UC_SIGMASK = 40 + 256
UCONTEXT_SIZE = UC_SIGMASK + 8
INFO_OFFSET = UC_OFFSET + UCONTEXT_SIZE
SIGINFO_SIZE = 128
FRAME_SIZE = INFO_OFFSET + SIGINFO_SIZE
FPSTATE_SIZE = 512
REDZONE = 128                   # the System V AMD64 ABI red zone (3.2.2)

# struct sigcontext: the general registers in their order, as goasm register indices
# (RAX=0 RCX=1 RDX=2 RBX=3 RSP=4 RBP=5 RSI=6 RDI=7 R8..R15=8..15).
SIGCONTEXT_GPRS = (8, 9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 3, 2, 0, 1, 4)
_RIP, _EFLAGS, _SEGS, _ERR, _TRAPNO, _OLDMASK, _CR2, _FPSTATE = (
    8 * 16, 8 * 17, 8 * 18, 8 * 19, 8 * 20, 8 * 21, 8 * 22, 8 * 23)
USER_CS, USER_SS = 0x33, 0x2B   # arch/x86/include/asm/segment.h (__USER_CS, __USER_DS)

UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x2, 0x4

_FX_MXCSR, _FX_MXCSR_MASK, _FX_XMM = 24, 28, 160
MXCSR_MASK = 0xFFFF
FCW_DEFAULT = 0x37F             # x87 control word after FNINIT (SDM Vol. 1, 8.1.5)

_Q = struct.Struct("<Q")


def signal_name(sig: int) -> str:
    return SIGNAL_NAMES.get(sig, f"signal {sig}")


def sigbit(sig: int) -> int:
    """The bit of ``sig`` in a sigset_t (signal 1 is bit 0)."""
    return 1 << (sig - 1)


def siginfo(sig: int, code: int, *, addr: int = 0, pid: int = 0, uid: int = 0) -> bytes:
    """A ``siginfo_t``: si_signo, si_errno (0), si_code, then the union -- ``si_addr`` for
    the fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP), ``si_pid``/``si_uid``
    for kill/tgkill."""
    head = struct.pack("<iii4x", sig, 0, code)
    if code > 0 and sig in (4, 5, 7, 8, 11):
        body = _Q.pack(addr & M64)
    else:
        body = struct.pack("<iI", pid, uid)
    return (head + body).ljust(SIGINFO_SIZE, b"\0")


def fault_info(fault) -> tuple[int, bytes, int, int, int]:
    """``(signal, siginfo, trapno, err, cr2)`` for a :class:`goasm.errors.MachineFault`.

    For a page fault the error code has bit 1 set for a write and bit 0 when the page
    was present (a protection fault), with bit 2 (user mode) always set (SDM Vol. 3,
    4.7, Figure 4-12); CR2 holds the faulting address.
    """
    sig = SIGNAL_NUMBERS.get(fault.signal, SIGSEGV)
    code = fault.code if isinstance(fault.code, int) else SI_CODES.get(fault.code, 0)
    addr = fault.addr if fault.addr is not None else 0
    trapno = TRAPNO.get(fault.signal, 13)
    err = cr2 = 0
    if fault.signal == "SIGSEGV" and code in (1, 2):
        err = 4 | (2 if "write" in str(fault.message) else 0) | (1 if code == 2 else 0)
        cr2 = addr
    elif code == SI_KERNEL:
        trapno = 13                  # #GP: si_addr is 0
    return sig, siginfo(sig, code, addr=addr), trapno, err, cr2


def on_stack(sp: int, altstack) -> bool:
    """Is ``sp`` on the alternate signal stack ``(ss_sp, flags, size)``?"""
    if altstack is None:
        return False
    base, _flags, size = altstack
    return base < sp <= base + size


def stack_t(altstack, sp: int) -> bytes:
    """The ``stack_t`` Linux saves in ``uc_stack``: the alternate stack, with SS_ONSTACK
    when ``sp`` is on it, or SS_DISABLE when there is none."""
    if altstack is None:
        return struct.pack("<Qi4xQ", 0, SS_DISABLE, 0)
    base, flags, size = altstack
    state = SS_ONSTACK if on_stack(sp, altstack) else 0
    return struct.pack("<Qi4xQ", base, state | (flags & SS_AUTODISARM), size)


def build_frame(cpu, sp: int, *, info: bytes, mask: int, altstack, restorer: int,
                trapno: int = 0, err: int = 0, cr2: int = 0, regs_sp: int | None = None):
    """``(frame address, bytes at frame address, fpstate address, fpstate bytes)`` for a
    signal whose frame is placed below ``sp`` (already the alternate stack's top or the
    interrupted SP minus the red zone). ``cpu`` is the interrupted state."""
    fp = (sp - FPSTATE_SIZE) & ~63
    frame = ((fp - FRAME_SIZE) & ~15) - 8
    regs = cpu.regs
    gregs = [regs[i] for i in SIGCONTEXT_GPRS]
    mc = bytearray(256)
    for i, v in enumerate(gregs):
        _Q.pack_into(mc, 8 * i, v & M64)
    _Q.pack_into(mc, _RIP, cpu.pc & M64)
    _Q.pack_into(mc, _EFLAGS, cpu.get_rflags())
    struct.pack_into("<HHHH", mc, _SEGS, USER_CS, 0, 0, USER_SS)
    for off, v in ((_ERR, err), (_TRAPNO, trapno), (_OLDMASK, mask), (_CR2, cr2),
                   (_FPSTATE, fp)):
        _Q.pack_into(mc, off, v & M64)
    uc = (_Q.pack(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS) + _Q.pack(0)
          + stack_t(altstack, regs[4] if regs_sp is None else regs_sp) + bytes(mc)
          + _Q.pack(mask & M64))
    data = _Q.pack(restorer & M64) + uc + info
    fx = bytearray(FPSTATE_SIZE)
    struct.pack_into("<H", fx, 0, FCW_DEFAULT)
    struct.pack_into("<II", fx, _FX_MXCSR, cpu.mxcsr, MXCSR_MASK)
    for i in range(16):
        fx[_FX_XMM + 16 * i:_FX_XMM + 16 * i + 16] = cpu.xmm[i].to_bytes(16, "little")
    return frame, data, fp, bytes(fx)


def read_context(mem, uc: int) -> dict:
    """The ucontext at ``uc`` as ``rt_sigreturn`` restores it: ``regs`` (goasm order),
    ``rip``, ``rflags``, ``fpstate`` (address, 0 for none), ``sigmask`` and ``stack``
    (``(ss_sp, ss_flags, ss_size)``)."""
    raw = mem.read(uc, UCONTEXT_SIZE)
    mc = raw[UC_MCONTEXT:UC_MCONTEXT + 256]
    regs = [0] * 16
    for i, r in enumerate(SIGCONTEXT_GPRS):
        regs[r] = _Q.unpack_from(mc, 8 * i)[0]
    sp, flags, size = struct.unpack_from("<Qi4xQ", raw, UC_STACK)
    return {"regs": regs, "rip": _Q.unpack_from(mc, _RIP)[0],
            "rflags": _Q.unpack_from(mc, _EFLAGS)[0],
            "fpstate": _Q.unpack_from(mc, _FPSTATE)[0],
            "sigmask": _Q.unpack_from(raw, UC_SIGMASK)[0],
            "stack": (sp, flags & 0xFFFFFFFF, size)}


def read_fpstate(mem, addr: int) -> tuple[int, list]:
    """``(mxcsr, [xmm0..xmm15])`` from the FXSAVE image at ``addr``."""
    raw = mem.read(addr, FPSTATE_SIZE)
    mxcsr = struct.unpack_from("<I", raw, _FX_MXCSR)[0]
    xmm = [int.from_bytes(raw[_FX_XMM + 16 * i:_FX_XMM + 16 * i + 16], "little")
           for i in range(16)]
    return mxcsr, xmm

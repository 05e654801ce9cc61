"""Go-style crash reports for machine faults.

The texts follow what the Go runtime prints (``runtime/signal_unix.go``: ``sigpanic``,
``fatalsignal``; ``runtime/panic.go``: ``dopanic_m``; ``runtime/signal_amd64.go``:
``dumpregs``) with the default GOTRACEBACK level:

- SIGSEGV at an address below 0x1000 with si_code SEGV_MAPERR/SEGV_ACCERR: the
  ``panic: runtime error: invalid memory address or nil pointer dereference`` panic;
  any other SIGSEGV: ``unexpected fault address 0x...`` + ``fatal error: fault``.
- SIGFPE (#DE): ``panic: runtime error: integer divide by zero``; a SIMD floating-point
  exception (#XM, si_code FPE_FLT*): ``panic: runtime error: floating point error``.
- SIGTRAP / SIGILL (not turned into panics): ``SIGTRAP: trace trap`` and
  ``PC=... m=0 sigcode=...``, the goroutine traceback and a register dump.

The traceback names frames ``symbol(...)`` with ``\\tfile:line +0xoff`` below, using the
image's symbols and instruction positions; callers are found by walking the frame
pointer chain (saved BP at 0(BP), return address at 8(BP)), and, for a function that
has not saved BP, the return address at 0(SP). It stops at the first address that is
not code. Goroutine and m numbers are those of the main goroutine (1) and m0.
"""

from __future__ import annotations

from types import MappingProxyType

from goasm.errors import MachineFault

SIGNAL_NAMES = MappingProxyType({
    "SIGSEGV": "SIGSEGV: segmentation violation",
    "SIGBUS": "SIGBUS: bus error",
    "SIGFPE": "SIGFPE: floating-point exception",
    "SIGILL": "SIGILL: illegal instruction",
    "SIGTRAP": "SIGTRAP: trace trap",
})

# si_code values (Linux asm-generic/siginfo.h).
SIGCODES = MappingProxyType({
    None: 0,
    "SEGV_MAPERR": 1,
    "SEGV_ACCERR": 2,
    "FPE_INTDIV": 1,
    "FPE_INTOVF": 2,
    "FPE_FLTDIV": 3,
    "FPE_FLTOVF": 4,
    "FPE_FLTUND": 5,
    "FPE_FLTRES": 6,
    "FPE_FLTINV": 7,
    "FPE_FLTSUB": 8,
    "ILL_ILLOPN": 2,
    "TRAP_BRKPT": 1,
    "SI_KERNEL": 0x80,
})

MAX_FRAMES = 100


def _sigcode(fault: MachineFault) -> int:
    code = fault.code
    if isinstance(code, int):
        return code
    return SIGCODES.get(code, 0)


def _frame_lines(machine, pc: int, call_site: bool) -> list[str]:
    """``name()`` and ``\tfile:line +0xoff`` for a frame; for a caller frame ``pc`` is
    the return address, attributed to the call instruction before it (as Go does)."""
    at = pc - 1 if call_site else pc
    sym, _ = machine.image.symbol_at(at)
    name = sym.name if sym is not None else f"{pc:#x}"
    off = pc - sym.addr if sym is not None else 0
    ins = _instr_at_or_before(machine, at)
    pos = ins.pos if ins is not None else None
    where = f"{pos.file}:{pos.line}" if pos is not None else "?"
    return [f"{name}()", f"\t{where} +{off:#x}"]


def _instr_at_or_before(machine, addr: int):
    code = machine.image.code
    for a in range(addr, addr - 16, -1):
        ins = code.get(a)
        if ins is not None:
            return ins
    return None


def _is_code(machine, addr: int) -> bool:
    return addr in machine.image.code or addr in machine.natives


def _is_caller(machine, ret: int) -> bool:
    """Is ``ret`` the return address of a call? Code, and not a function's entry: a
    goroutine starts with the entry of the function it returns into on its stack (as
    Go's newproc puts goexit there), which is no call site and ends the traceback."""
    if not _is_code(machine, ret):
        return False
    sym, _ = machine.image.symbol_at(ret)
    return sym is None or sym.addr != ret


def traceback(machine, pc: int) -> list[str]:
    """Traceback lines for the goroutine running at ``pc`` (see the module docstring)."""
    lines = _frame_lines(machine, pc, call_site=False)
    mem = machine.mem
    regs = machine.cpu.regs
    seen = 0
    fn = None
    sym, _ = machine.image.symbol_at(pc)
    if sym is not None:
        fn = machine.image.functions.get(sym.name)
    bp = regs[5]
    # A frameless function (or one stopped before its prologue saved BP): the caller's
    # return address is at 0(SP).
    if fn is None or fn.bpsize == 0:
        try:
            ret = mem.read_u64(regs[4])
        except MachineFault:
            ret = None
        if ret is not None and _is_caller(machine, ret):
            lines += _frame_lines(machine, ret, call_site=True)
            seen += 1
    while seen < MAX_FRAMES and bp:
        try:
            ret = mem.read_u64(bp + 8)
            next_bp = mem.read_u64(bp)
        except MachineFault:
            break
        if not _is_caller(machine, ret):
            break
        lines += _frame_lines(machine, ret, call_site=True)
        seen += 1
        if next_bp <= bp:
            break
        bp = next_bp
    return lines


def _dumpregs(machine, rip: int) -> list[str]:
    cpu = machine.cpu
    r = cpu.regs
    rows = [("rax", r[0]), ("rbx", r[3]), ("rcx", r[1]), ("rdx", r[2]), ("rdi", r[7]),
            ("rsi", r[6]), ("rbp", r[5]), ("rsp", r[4]), ("r8", r[8]), ("r9", r[9]),
            ("r10", r[10]), ("r11", r[11]), ("r12", r[12]), ("r13", r[13]),
            ("r14", r[14]), ("r15", r[15]), ("rip", rip), ("rflags", cpu.get_rflags()),
            ("cs", 0x33), ("fs", 0), ("gs", 0)]
    return [f"{name:<7}{value:#x}" for name, value in rows]


def format_fault(machine, fault: MachineFault) -> str:
    """The text the Go runtime would print for ``fault`` (ends with a newline)."""
    pc = fault.pc if fault.pc is not None else machine.cpu.pc
    addr = fault.addr if fault.addr is not None else 0
    signal = fault.signal
    code = _sigcode(fault)
    signame = SIGNAL_NAMES.get(signal, signal)
    out: list[str] = []
    if signal in ("SIGSEGV", "SIGBUS", "SIGFPE"):
        if signal == "SIGFPE":
            # runtime/signal_unix.go sigpanic: FPE_INTDIV, FPE_INTOVF, else panicfloat
            out.append("panic: runtime error: integer divide by zero" if code in (0, 1)
                       else "panic: runtime error: integer overflow" if code == 2
                       else "panic: runtime error: floating point error")
        elif signal == "SIGSEGV" and code in (0, 1, 2) and addr < 0x1000:
            out.append("panic: runtime error: invalid memory address or nil pointer "
                       "dereference")
        else:
            out.append(f"unexpected fault address {addr:#x}")
            out.append("fatal error: fault")
        out.append(f"[signal {signame} code={code:#x} addr={addr:#x} pc={pc:#x}]")
        out.append("")
        out.append("goroutine 1 [running]:")
        out += traceback(machine, pc)
        return "\n".join(out) + "\n"
    # SIGTRAP / SIGILL: fatalsignal. The trap PC of INT3 is the next instruction.
    trap_pc = pc
    if signal == "SIGTRAP":
        ins = machine.image.code.get(pc)
        trap_pc = ins.next_addr if ins is not None else pc
    out.append(signame)
    out.append(f"PC={trap_pc:#x} m=0 sigcode={code}")
    out.append("")
    out.append("goroutine 1 [running]:")
    out += traceback(machine, pc)
    out.append("")
    out += _dumpregs(machine, trap_pc)
    return "\n".join(out) + "\n"

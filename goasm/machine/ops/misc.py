"""Everything else in the integer core: no-ops and fences, flag instructions
(CLC STC CMC CLD STD LAHF SAHF), sign extension of the accumulator (CBW CWDE CDQE CWD
CDQ CQO), SETcc, CMOVcc, CPUID, RDTSC, RDTSCP, SYSCALL, and the trapping instructions
(INT3 / ``BYTE $0xcc``, UD2, HLT). Intel SDM Vol. 2, the instruction pages of the same
names; signals as Linux delivers them to a user process (signal(7), sigaction(2)).
"""

from __future__ import annotations

from goasm.arch.amd64 import CONDITIONS
from goasm.machine import flags as fl
from goasm.machine.ops.base import (MASK_TEXT, BadForm, fault_factory, handles, one,
                                    unimplemented)

BREAKPOINT = fault_factory("trace trap (breakpoint)", "SIGTRAP", code="SI_KERNEL")
ILLEGAL = fault_factory("illegal instruction", "SIGILL", code="ILL_ILLOPN")
# HLT at CPL 3 raises #GP(0); Linux sends SIGSEGV with si_code SI_KERNEL, si_addr 0.
PRIVILEGED = fault_factory("general protection fault (privileged instruction)", "SIGSEGV",
                           code="SI_KERNEL", addr=0)

_NOPS = ("NOP", "NOPL", "NOPW", "PAUSE", "LFENCE", "MFENCE", "SFENCE", "PREFETCHT0",
         "PREFETCHT1", "PREFETCHT2", "PREFETCHNTA", "PREFETCHW", "PCDATA", "FUNCDATA",
         "PCALIGN", "LOCK", "CLFLUSH", "CLFLUSHOPT", "ENDBR64")


@handles(*((n, {}) for n in _NOPS))
def nop(e, args):
    """No architectural effect for a single-threaded user program (operands ignored)."""
    e.next()


@handles(("CLC", dict(clear=fl.CF, set_=0)), ("STC", dict(clear=fl.CF, set_=fl.CF)),
         ("CMC", dict(clear=0, set_=-1)))
def carry_flag(e, args, clear, set_):
    """CLC / STC / CMC."""
    if set_ == -1:
        e.emit(f"{e.const(fl.replace)}(cpu, {fl.CF}, 0 if {e.carry()} else {fl.CF})")
    else:
        e.emit(f"{e.const(fl.replace)}(cpu, {clear}, {set_})")
    e.next()


@handles(("CLD", dict(df=0)), ("STD", dict(df=1)))
def direction_flag(e, args, df):
    """CLD / STD."""
    e.emit(f"cpu.df = {df}")
    e.next()


_LAHF_BITS = fl.SF | fl.ZF | fl.AF | fl.PF | fl.CF


@handles(*one("LAHF"))
def lahf(e, args):
    """AH = SF:ZF:0:AF:0:PF:1:CF."""
    e.emit(f"v = {e.const(fl.MATERIALIZE)}[cpu.fk](cpu) & {_LAHF_BITS} | 2",
           "regs[0] = regs[0] & 0xFFFFFFFFFFFF00FF | v << 8")
    e.next()


@handles(*one("SAHF"))
def sahf(e, args):
    """SF ZF AF PF CF = bits of AH (OF unaffected)."""
    e.emit(f"{e.const(fl.replace)}(cpu, {_LAHF_BITS}, (regs[0] >> 8) & {_LAHF_BITS})")
    e.next()


@handles(("CBW", dict(src=1)), ("CWDE", dict(src=2)), ("CDQE", dict(src=4)))
def widen(e, args, src):
    """CBW: AX = sext(AL); CWDE: EAX = sext(AX); CDQE: RAX = sext(EAX)."""
    sb = 1 << (8 * src - 1)
    dst = 2 * src
    e.emit(f"v = ((regs[0] & {MASK_TEXT[src]}) ^ {sb}) - {sb} & {MASK_TEXT[dst]}")
    if dst == 2:
        e.emit("regs[0] = regs[0] & 0xFFFFFFFFFFFF0000 | v")
    else:
        e.emit("regs[0] = v")
    e.next()


@handles(("CWD", dict(width=2)), ("CDQ", dict(width=4)), ("CQO", dict(width=8)))
def sign_into_dx(e, args, width):
    """CWD / CDQ / CQO: DX/EDX/RDX = all copies of the accumulator's sign bit."""
    top = width * 8 - 1
    e.emit(f"v = {MASK_TEXT[width]} if regs[0] >> {top} & 1 else 0")
    if width == 2:
        e.emit("regs[2] = regs[2] & 0xFFFFFFFFFFFF0000 | v")
    else:
        e.emit("regs[2] = v")
    e.next()


@handles(*(("SET" + cc, dict(cc=cc)) for cc in CONDITIONS))
def setcc(e, args, cc):
    """``SETcc dst``: the byte 1 if the condition holds, else 0."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    e.emit(f"v = 1 if {e.cond(cc)} else 0")
    e.write(args[0], 1, "v")
    e.next()


@handles(*(("CMOV" + w + cc, dict(cc=cc, width={"W": 2, "L": 4, "Q": 8}[w]))
           for w in "WLQ" for cc in CONDITIONS))
def cmov(e, args, cc, width):
    """``CMOVQEQ src, dst``. The source is read either way; a 32-bit destination register
    is zero-extended even when the condition is false (SDM Vol. 2, CMOVcc)."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    if dst.kind != "gpr":
        raise BadForm("CMOV needs a register destination")
    e.emit(f"s = {e.read(src, width)}")
    with e.block(f"if {e.cond(cc)}:"):
        e.write(dst, width, "s")
    if width == 4:
        with e.block("else:"):
            e.write(dst, 4, e.read(dst, 4))
    e.next()


@handles(*one("CPUID"))
def cpuid(e, args):
    """EAX, EBX, ECX, EDX = the machine's :class:`goasm.machine.state.CPUModel` answer for
    leaf EAX, subleaf ECX (upper halves zeroed)."""
    e.emit("regs[0], regs[3], regs[1], regs[2] = "
           "m.cpu_model.cpuid(regs[0] & 0xFFFFFFFF, regs[1] & 0xFFFFFFFF)")
    e.next()


@handles(*one("RDTSC"))
def rdtsc(e, args):
    """EDX:EAX = a virtual time-stamp counter: the machine's step count (updated per
    run-loop chunk), forced strictly increasing between reads."""
    e.emit("t = max(cpu.tsc + 1, m.steps)", "cpu.tsc = t", "regs[0] = t & 0xFFFFFFFF",
           "regs[2] = (t >> 32) & 0xFFFFFFFF")
    e.next()


# IA32_TSC_AUX as Linux programs it: (NUMA node << 12) | CPU number (arch/x86/kernel/
# cpu/common.c setup_getcpu). goasm's virtual machine is CPU 0 of node 0.
TSC_AUX = 0


@handles(*one("RDTSCP"))
def rdtscp(e, args):
    """RDTSC, then ECX = IA32_TSC_AUX (:data:`TSC_AUX`), upper halves zeroed (SDM Vol. 2,
    RDTSCP)."""
    e.emit("t = max(cpu.tsc + 1, m.steps)", "cpu.tsc = t", "regs[0] = t & 0xFFFFFFFF",
           "regs[2] = (t >> 32) & 0xFFFFFFFF", f"regs[1] = {TSC_AUX}")
    e.next()


@handles(*one("SYSCALL"))
def syscall(e, args):
    """RCX = return address, R11 = RFLAGS (as the instruction does), then the machine's
    ``syscall`` callable runs with ``cpu.pc`` at the next instruction; execution
    continues wherever it leaves ``cpu.pc``."""
    e.emit("regs[1] = _nxt", "regs[11] = cpu.get_rflags()", "cpu.pc = _nxt",
           "m.syscall(m)", "return cpu.pc")


@handles(*one("INT"))
def int_(e, args):
    """``INT $3`` traps (SIGTRAP); other vectors are not implemented."""
    if len(args) == 1 and args[0].kind == "imm" and args[0].value == 3:
        e.fault(BREAKPOINT)
        return None
    return unimplemented(f"unimplemented instruction {e.ins}", e.ins.pos)


@handles(("BYTE", dict(width=1)), ("WORD", dict(width=2)), ("LONG", dict(width=4)),
         ("QUAD", dict(width=8)))
def raw(e, args, width):
    """Raw bytes in the instruction stream: ``BYTE $0xcc`` is INT3; anything else is
    not implemented (goasm executes instructions, not machine code)."""
    if width == 1 and len(args) == 1 and args[0].kind == "imm" and args[0].value & 0xFF == 0xCC:
        e.fault(BREAKPOINT)
        return None
    return unimplemented(f"unimplemented instruction {e.ins}", e.ins.pos)


@handles(*one("UD2"), *one("UD1"), *one("UD0"))
def ud(e, args):
    """Undefined instruction: SIGILL."""
    e.fault(ILLEGAL)


@handles(*one("HLT"))
def hlt(e, args):
    """Privileged at CPL 3: #GP, delivered as SIGSEGV."""
    e.fault(PRIVILEGED)

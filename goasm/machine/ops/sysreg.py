"""Processor state outside the data registers: XGETBV, MXCSR (LDMXCSR, STMXCSR and the
VEX forms VLDMXCSR, VSTMXCSR) and the upper parts of the vector registers (VZEROUPPER,
VZEROALL). Intel SDM Vol. 2, the instruction pages of the same names; Vol. 1, 10.2.3
(MXCSR) and 13.3 (XCR0).

- XGETBV reads the extended control register selected by ECX into EDX:EAX (upper halves
  of RDX/RAX cleared). Only XCR0 exists (the model reports no XGETBV1, CPUID.(EAX=0DH,
  ECX=1):EAX[2] = 0): another ECX is #GP(0); without OSXSAVE in the machine's CPU model
  (:class:`goasm.machine.state.CPUModel`) the instruction is #UD. XCR0 is the model's
  (:attr:`~goasm.machine.state.CPUModel.xcr0`: 0x3, 0x7 with AVX, 0xE7 with AVX-512),
  read when the instruction runs, so a model swapped in later is honoured.
- LDMXCSR/VLDMXCSR m32 load MXCSR; a value with a bit set outside MXCSR_MASK = 0xFFFF
  (bits 16-31 reserved) is #GP(0). STMXCSR/VSTMXCSR m32 store it. Linux delivers #GP as
  SIGSEGV with si_code SI_KERNEL and address 0, #UD as SIGILL (ILL_ILLOPN).
- VZEROUPPER zeroes bits 128 and up of V0-V15, VZEROALL all bits of V0-V15; V16-V31 are
  not touched (in 64-bit mode both act on registers 0-15 only).
"""

from __future__ import annotations

from goasm.machine.ops.base import BadForm, fault_factory, handles, one
from goasm.machine.ops.misc import ILLEGAL

GP_FAULT = fault_factory("general protection fault", "SIGSEGV", code="SI_KERNEL", addr=0)
MXCSR_MASK = 0xFFFF
"""Writable MXCSR bits (SDM Vol. 1, 11.6.6: MXCSR_MASK 0xFFFF on processors with DAZ)."""


def _xgetbv(m, regs):
    model = m.cpu_model
    xcr0 = model.xcr0
    if not xcr0:
        raise ILLEGAL()
    if regs[1] & 0xFFFFFFFF:
        raise GP_FAULT()
    regs[0] = xcr0 & 0xFFFFFFFF
    regs[2] = xcr0 >> 32


@handles(*one("XGETBV"))
def xgetbv(e, args):
    """EDX:EAX = XCR[ECX] (see the module docstring)."""
    if args:
        raise BadForm("XGETBV takes no operands")
    e.emit(e.call(_xgetbv, "m", "regs"))
    e.next()


@handles(*one("LDMXCSR"), *one("VLDMXCSR"))
def ldmxcsr(e, args):
    """MXCSR = m32 (#GP on reserved bits, after the memory read)."""
    if len(args) != 1 or args[0].kind != "mem":
        raise BadForm("LDMXCSR loads a 32-bit memory operand")
    e.emit(f"v = {e.read(args[0], 4)}")
    with e.block(f"if v & {~MXCSR_MASK & 0xFFFFFFFF}:"):
        e.fault(GP_FAULT)
    e.emit("cpu.mxcsr = v")
    e.next()


@handles(*one("STMXCSR"), *one("VSTMXCSR"))
def stmxcsr(e, args):
    """m32 = MXCSR."""
    if len(args) != 1 or args[0].kind != "mem":
        raise BadForm("STMXCSR stores to a 32-bit memory operand")
    e.write(args[0], 4, "cpu.mxcsr")
    e.next()


_ZEROS16 = (0,) * 16


@handles(*one("VZEROUPPER"))
def vzeroupper(e, args):
    """Bits 128 and up of V0-V15 = 0."""
    if args:
        raise BadForm("VZEROUPPER takes no operands")
    e.emit(f"vhi[0:16] = {e.const(_ZEROS16)}")
    e.next()


@handles(*one("VZEROALL"))
def vzeroall(e, args):
    """V0-V15 = 0."""
    if args:
        raise BadForm("VZEROALL takes no operands")
    z = e.const(_ZEROS16)
    e.emit(f"xmm[0:16] = {z}", f"vhi[0:16] = {z}")
    e.next()

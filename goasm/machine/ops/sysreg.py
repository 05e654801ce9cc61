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
(MXCSR loads/stores and VZEROUPPER/VZEROALL join this module with the 512-bit
register file.)
"""

from __future__ import annotations

from goasm.machine.ops.base import BadForm, fault_factory, handles, one
from goasm.machine.ops.misc import ILLEGAL

GP_FAULT = fault_factory("general protection fault", "SIGSEGV", code="SI_KERNEL", addr=0)


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

"""128-bit moves and bitwise operations on XMM registers (Intel SDM Vol. 2: MOVDQA/
MOVDQU (Go: MOVO/MOVOU), MOVAPS/MOVUPS/MOVAPD/MOVUPD, MOVNTDQ (MOVNTO), PXOR PAND POR
PANDN, XORPS/XORPD, ANDPS/ANDPD, ANDNPS/ANDNPD, ORPS/ORPD).

Aligned forms (and legacy-SSE memory sources of the bitwise ops) raise #GP on an
address that is not 16-byte aligned, which Linux delivers as SIGSEGV (si_code SI_KERNEL,
si_addr 0).
"""

from __future__ import annotations

from goasm.machine.ops.base import BadForm, fault_factory, handles

GP_FAULT = fault_factory("general protection fault (misaligned 16-byte operand)",
                         "SIGSEGV", code="SI_KERNEL", addr=0)
FULL = "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"


def _aligned(e, op) -> None:
    if op.kind == "mem":
        with e.block(f"if {e.ea(op)} & 15:"):
            e.fault(GP_FAULT)


@handles(("MOVOU", dict(aligned=False)), ("MOVUPS", dict(aligned=False)),
         ("MOVUPD", dict(aligned=False)), ("LDDQU", dict(aligned=False)),
         ("MOVO", dict(aligned=True)), ("MOVAPS", dict(aligned=True)),
         ("MOVAPD", dict(aligned=True)), ("MOVNTO", dict(aligned=True)),
         ("MOVNTPS", dict(aligned=True)), ("MOVNTPD", dict(aligned=True)))
def movo(e, args, aligned):
    """``MOVOU src, dst``: copy 16 bytes between XMM registers and memory."""
    if len(args) != 2 or "xmm" not in (args[0].kind, args[1].kind):
        raise BadForm("needs an XMM operand")
    src, dst = args
    if aligned:
        _aligned(e, src)
        _aligned(e, dst)
    e.write(dst, 16, e.read(src, 16))
    e.next()


@handles(("PXOR", dict(op="^")), ("XORPS", dict(op="^")), ("XORPD", dict(op="^")),
         ("PAND", dict(op="&")), ("ANDPS", dict(op="&")), ("ANDPD", dict(op="&")),
         ("POR", dict(op="|")), ("ORPS", dict(op="|")), ("ORPD", dict(op="|")),
         ("PANDN", dict(op="andn")), ("ANDNPS", dict(op="andn")),
         ("ANDNPD", dict(op="andn")))
def bitwise(e, args, op):
    """``PXOR src, dst``: dst = dst OP src (PANDN: dst = ~dst & src)."""
    if len(args) != 2 or args[1].kind != "xmm":
        raise BadForm("needs an XMM destination")
    src, dst = args
    _aligned(e, src)
    e.emit(f"s = {e.read(src, 16)}", f"d = {e.read(dst, 16)}")
    e.write(dst, 16, f"~d & s & {FULL}" if op == "andn" else f"d {op} s")
    e.next()

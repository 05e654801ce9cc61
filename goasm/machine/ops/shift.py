"""Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR, and the double shifts SHLD/SHRD
that Go spells as three-operand ``SHLQ CX, src, dst`` / ``SHRQ $n, src, dst``
(Intel SDM Vol. 2: SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD).

The count (an immediate or CL, written ``CX``) is masked to 5 bits, 6 for 64-bit
operands; a masked count of 0 changes neither the destination nor any flag. Shifts set
CF to the last bit shifted out and SF ZF PF from the result (flag family SHIFT); rotates
change only CF and OF and keep the other flags lazily (the ROT flag kinds of
:mod:`goasm.machine.flags`). A count known at compile time (an immediate) is applied
without a runtime test.
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import BITS, MASK_TEXT, BadForm, handles, sized


def _count(e, op, width):
    """The masked count: an int when it is known at compile time (an immediate, or the
    implicit 1 when ``op`` is None), else None after emitting ``n = CL & mask``."""
    cmask = 0x3F if width == 8 else 0x1F
    if op is None:
        return 1
    if op.kind == "imm":
        return op.value & cmask
    if op.kind == "gpr" and op.index == 1 and not op.high:
        e.emit(f"n = regs[1] & {cmask:#x}")
        return None
    raise BadForm(f"shift count must be an immediate or CX, not {op.text}")


def _counted(e, n, dst, width, body) -> None:
    """Emit ``body()`` for a count ``n`` (see :func:`_count`): unconditionally for a
    known non-zero count, not at all for a known zero, else under ``if n:`` (a masked
    count of 0 changes neither the destination nor any flag)."""
    if n is None:
        with e.block("if n:"):
            body()
        _zero_count_write(e, dst, width)
    elif n:
        body()
    else:
        _zero_count_write(e, dst, width, always=True)


def _rotate_flags(e) -> None:
    """CF and OF replaced (``c``, ``o``), the other flags kept: the lazy ROT kinds
    (:data:`goasm.machine.flags.ROTATED`), nothing computed."""
    e.emit(f"cpu.fk = {e.const(fl.ROTATED)}[cpu.fk]", "cpu.fc = c | o << 11")


@handles(*sized("SHL", op="SHL"), *sized("SAL", op="SHL"), *sized("SHR", op="SHR"),
         *sized("SAR", op="SAR"), *sized("ROL", op="ROL"), *sized("ROR", op="ROR"),
         *sized("RCL", op="RCL"), *sized("RCR", op="RCR"))
def shift(e, args, op, width):
    """``SHLQ count, dst`` ...; the three-operand SHL/SHR forms are SHLD/SHRD."""
    if len(args) == 3 and op in ("SHL", "SHR"):
        return double_shift(e, args, op, width)
    if len(args) == 1 and op in ("SHL", "SHR", "SAR", "ROL", "ROR", "RCL", "RCR"):
        args = (None, args[0])   # implicit count 1 (D0/D1 encodings)
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    count, dst = args
    bits = BITS[width]
    mask = MASK_TEXT[width]
    sign = 1 << (bits - 1)
    n = _count(e, count, width)
    nv = "n" if n is None else str(n)      # a known count is a literal (folded by Python)
    e.emit(f"d = {e.read(dst, width)}")

    def body():
        if op == "SHL":
            if n is None:
                e.emit(f"r = (d << n) & {mask}",
                       f"c = (d >> ({bits} - n)) & 1 if n <= {bits} else 0")
            else:
                e.emit(f"r = (d << {n}) & {mask}",
                       f"c = (d >> {bits - n}) & 1" if n <= bits else "c = 0")
        elif op == "SHR":
            e.emit(f"r = d >> {nv}", f"c = (d >> ({nv} - 1)) & 1")
        elif op == "SAR":
            e.emit(f"s = (d ^ {sign}) - {sign}", f"r = (s >> {nv}) & {mask}",
                   f"c = (s >> ({nv} - 1)) & 1")
        elif op in ("ROL", "ROR"):
            if n is None:
                e.emit(f"k = n % {bits}")
            k = "k" if n is None else str(n % bits)
            if op == "ROL":
                e.emit(f"r = ((d << {k}) | (d >> ({bits} - {k}))) & {mask}", "c = r & 1",
                       f"o = (r >> {bits - 1}) ^ c")
            else:
                e.emit(f"r = ((d >> {k}) | (d << ({bits} - {k}))) & {mask}",
                       f"c = r >> {bits - 1}", f"o = c ^ ((r >> {bits - 2}) & 1)")
        else:  # RCL / RCR: rotate the (bits+1)-bit value CF:dest
            full = (1 << (bits + 1)) - 1
            if n is None:
                e.emit(f"k = n % {bits + 1}")
            k = "k" if n is None else str(n % (bits + 1))
            e.emit(f"x = ({e.carry()} << {bits}) | d")
            if op == "RCL":
                e.emit(f"x = ((x << {k}) | (x >> ({bits + 1} - {k}))) & {full:#x}",
                       f"r = x & {mask}", f"c = x >> {bits}", f"o = (r >> {bits - 1}) ^ c")
            else:
                e.emit(f"x = ((x >> {k}) | (x << ({bits + 1} - {k}))) & {full:#x}",
                       f"r = x & {mask}", f"c = x >> {bits}",
                       f"o = (r >> {bits - 1}) ^ ((r >> {bits - 2}) & 1)")
        e.write(dst, width, "r")
        if op in ("SHL", "SHR", "SAR"):
            e.flags(fl.SHIFT, width, a="d", c="c", r="r")
        else:
            _rotate_flags(e)
    _counted(e, n, dst, width, body)
    e.next()


def _zero_count_write(e, dst, width, *, always: bool = False) -> None:
    """A 32-bit register destination is written (zero-extended) even for a masked count
    of 0 (checked on an Intel Xeon through a Go-built harness; Unicorn agrees)."""
    if width == 4 and dst.kind == "gpr":
        if always:
            e.write(dst, 4, "d")
            return
        with e.block("else:"):
            e.write(dst, 4, "d")


def double_shift(e, args, op, width):
    """SHLD/SHRD: ``SHLQ count, src, dst`` shifts dst, filling from src (SDM Vol. 2,
    SHLD/SHRD; for 16-bit operands a count above 16 leaves the result undefined)."""
    count, src, dst = args
    if width == 1:
        raise BadForm("no 8-bit double shift")
    bits = BITS[width]
    mask = MASK_TEXT[width]
    n = _count(e, count, width)
    nv = "n" if n is None else str(n)
    e.emit(f"s = {e.read(src, width)}", f"d = {e.read(dst, width)}")

    def body():
        if op == "SHL":
            e.emit(f"x = (d << {bits}) | s", f"r = ((x << {nv}) >> {bits}) & {mask}",
                   f"c = (x >> ({2 * bits} - {nv})) & 1")
        else:
            e.emit(f"x = (s << {bits}) | d", f"r = (x >> {nv}) & {mask}",
                   f"c = (x >> ({nv} - 1)) & 1")
        e.write(dst, width, "r")
        e.flags(fl.SHIFT, width, a="d", c="c", r="r")
    _counted(e, n, dst, width, body)
    e.next()

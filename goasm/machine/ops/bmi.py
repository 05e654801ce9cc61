"""Bit-manipulation extensions on general registers: LZCNT (ABM), TZCNT and BMI1 (ANDN,
BEXTR, BLSI, BLSMSK, BLSR), BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX) and ADX
(ADCX, ADOX). Intel SDM Vol. 2, the instruction pages of the same names; Vol. 1,
chapter 5 "Instruction Set Summary" (the BMI1, BMI2 and ADX groups).

Plan 9 operand order (cmd/asm, checked against amd64enc.s): the destination is last and
the VEX.vvvv operand sits where Intel's last source is, e.g. ``ANDNQ src2, src1, dst``
(dst = ~src1 & src2), ``BEXTRQ control, src, dst``, ``BZHIQ index, src, dst``,
``SHLXQ count, src, dst``, ``PDEPQ mask, src, dst``, ``MULXQ src, lo, hi`` (hi:lo =
RDX * src), ``RORXQ $imm, src, dst``, ``BLSIQ src, dst``.

Flags: BMI2 and MULX leave them alone; ADCX changes only CF and ADOX only OF (kept
lazily, as the rotates do: the ROT flag kinds of :mod:`goasm.machine.flags`); the
others set the flags the SDM lists (undefined ones follow the LOGIC family or are
computed from the result; tests compare only the defined flags).
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import BITS, MASK_TEXT, BadForm, handles, sized


def _n(args, n):
    if len(args) != n:
        raise BadForm(f"expected {n} operands")
    return args


def _gpr_dst(op):
    if op.kind != "gpr":
        raise BadForm("the destination must be a general register")


@handles(*sized("LZCNT", "WLQ", op="LZCNT"), *sized("TZCNT", "WLQ", op="TZCNT"))
def count_zeros(e, args, op, width):
    """``LZCNTQ src, dst`` / ``TZCNTQ src, dst``: leading/trailing zero bits (the width
    for a zero source). CF = (src == 0), ZF = (dst == 0); OF SF AF PF undefined."""
    src, dst = _n(args, 2)
    _gpr_dst(dst)
    bits = BITS[width]
    e.emit(f"s = {e.read(src, width)}")
    if op == "LZCNT":
        e.emit(f"r = {bits} - s.bit_length()")
    else:
        e.emit(f"r = (s & -s).bit_length() - 1 if s else {bits}")
    e.write(dst, width, "r")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, (0 if s else {fl.CF}) | (0 if r else {fl.ZF}))")
    e.next()


@handles(*sized("ANDN", "LQ"))
def andn(e, args, width):
    """``ANDNQ src2, src1, dst``: dst = ~src1 & src2; SF ZF from the result, CF = OF = 0."""
    src2, src1, dst = _n(args, 3)
    _gpr_dst(dst)
    e.emit(f"r = ~{e.read(src1, width)} & {e.read(src2, width)} & {MASK_TEXT[width]}")
    e.write(dst, width, "r")
    e.flags(fl.LOGIC, width, r="r")
    e.next()


@handles(*sized("BEXTR", "LQ"))
def bextr(e, args, width):
    """``BEXTRQ control, src, dst``: the field of ``len`` = control[15:8] bits from bit
    ``start`` = control[7:0] of src, zero-extended (bits past the operand are zeros).
    ZF from the result, CF = OF = 0."""
    control, src, dst = _n(args, 3)
    _gpr_dst(dst)
    e.emit(f"c = {e.read(control, width)}", "start = c & 0xFF", "n = (c >> 8) & 0xFF",
           f"r = ({e.read(src, width)} >> start) & ((1 << n) - 1) if start < {BITS[width]} "
           "else 0")
    e.write(dst, width, "r")
    e.flags(fl.LOGIC, width, r="r")
    e.next()


@handles(*sized("BLSI", "LQ", op="BLSI"), *sized("BLSMSK", "LQ", op="BLSMSK"),
         *sized("BLSR", "LQ", op="BLSR"))
def blsx(e, args, op, width):
    """``BLSIQ src, dst``: dst = src & -src (lowest set bit); BLSMSK: src ^ (src - 1)
    (mask up to it); BLSR: src & (src - 1) (reset it). CF = (src != 0) for BLSI, else
    (src == 0); ZF SF from the result (BLSMSK: ZF = 0); OF = 0."""
    src, dst = _n(args, 2)
    _gpr_dst(dst)
    mask = MASK_TEXT[width]
    top = BITS[width] - 1
    e.emit(f"s = {e.read(src, width)}")
    if op == "BLSI":
        e.emit("r = s & -s", f"f = {fl.CF} if s else 0")
    elif op == "BLSMSK":
        e.emit(f"r = (s ^ (s - 1)) & {mask}", f"f = 0 if s else {fl.CF}")
    else:
        e.emit(f"r = s & (s - 1) & {mask}", f"f = 0 if s else {fl.CF}")
    e.write(dst, width, "r")
    e.emit(f"f |= (0 if r else {fl.ZF}) | ({fl.SF} if r >> {top} else 0)"
           f" | (0 if (r & 0xFF).bit_count() & 1 else {fl.PF})",
           f"{e.const(fl.set_explicit)}(cpu, f)")
    e.next()


@handles(*sized("BZHI", "LQ"))
def bzhi(e, args, width):
    """``BZHIQ index, src, dst``: src with the bits from position index[7:0] up cleared
    (unchanged when the index reaches the width). CF = (index > width - 1); ZF SF from
    the result; OF = 0."""
    index, src, dst = _n(args, 3)
    _gpr_dst(dst)
    bits = BITS[width]
    e.emit(f"n = {e.read(index, width)} & 0xFF", f"r = {e.read(src, width)}")
    with e.block(f"if n < {bits}:"):
        e.emit("r &= (1 << n) - 1")
    e.write(dst, width, "r")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, ({fl.CF} if n > {bits - 1} else 0)"
           f" | (0 if r else {fl.ZF}) | ({fl.SF} if r >> {bits - 1} else 0)"
           f" | (0 if (r & 0xFF).bit_count() & 1 else {fl.PF}))")
    e.next()


@handles(*sized("SARX", "LQ", op="SAR"), *sized("SHLX", "LQ", op="SHL"),
         *sized("SHRX", "LQ", op="SHR"))
def shiftx(e, args, op, width):
    """``SHLXQ count, src, dst``: shift by count masked to 5 (6 for 64-bit) bits; flags
    unaffected."""
    count, src, dst = _n(args, 3)
    _gpr_dst(dst)
    bits = BITS[width]
    mask = MASK_TEXT[width]
    e.emit(f"n = {e.read(count, width)} & {bits - 1}", f"s = {e.read(src, width)}")
    if op == "SHL":
        e.emit(f"r = (s << n) & {mask}")
    elif op == "SHR":
        e.emit("r = s >> n")
    else:
        sb = 1 << (bits - 1)
        e.emit(f"r = (((s ^ {sb}) - {sb}) >> n) & {mask}")
    e.write(dst, width, "r")
    e.next()


@handles(*sized("RORX", "LQ"))
def rorx(e, args, width):
    """``RORXQ $imm, src, dst``: rotate right by imm masked to 5/6 bits; flags
    unaffected."""
    imm, src, dst = _n(args, 3)
    _gpr_dst(dst)
    if imm.kind != "imm":
        raise BadForm("RORX needs an immediate count")
    bits = BITS[width]
    k = imm.value & (bits - 1)
    e.emit(f"s = {e.read(src, width)}")
    e.write(dst, width, f"((s >> {k}) | (s << {bits - k})) & {MASK_TEXT[width]}"
            if k else "s")
    e.next()


def _pdep(src: int, mask: int) -> int:
    """Deposit the low bits of ``src`` at the set bits of ``mask`` (SDM Vol. 2, PDEP)."""
    out = 0
    bit = 1
    while mask:
        low = mask & -mask
        if src & bit:
            out |= low
        bit <<= 1
        mask ^= low
    return out


def _pext(src: int, mask: int) -> int:
    """Gather the bits of ``src`` at the set bits of ``mask`` into the low bits (PEXT)."""
    out = 0
    bit = 1
    while mask:
        low = mask & -mask
        if src & low:
            out |= bit
        bit <<= 1
        mask ^= low
    return out


@handles(*sized("PDEP", "LQ", fn=_pdep), *sized("PEXT", "LQ", fn=_pext))
def pdep_pext(e, args, width, fn):
    """``PDEPQ mask, src, dst`` / ``PEXTQ mask, src, dst``; flags unaffected."""
    mask, src, dst = _n(args, 3)
    _gpr_dst(dst)
    e.emit(f"r = {e.call(fn, e.read(src, width), e.read(mask, width))}")
    e.write(dst, width, "r")
    e.next()


@handles(*sized("MULX", "LQ"))
def mulx(e, args, width):
    """``MULXQ src, lo, hi``: hi:lo = RDX * src (unsigned), flags unaffected. The low
    half is written first, so ``hi`` wins when both name the same register."""
    src, lo, hi = _n(args, 3)
    _gpr_dst(lo)
    _gpr_dst(hi)
    bits = BITS[width]
    mask = MASK_TEXT[width]
    e.emit(f"p = (regs[2] & {mask}) * {e.read(src, width)}")
    e.write(lo, width, f"p & {mask}")
    e.write(hi, width, f"p >> {bits}")
    e.next()


@handles(*sized("ADCX", "LQ", flag=fl.CF), *sized("ADOX", "LQ", flag=fl.OF))
def adx(e, args, width, flag):
    """``ADCXQ src, dst``: dst += src + CF, CF = carry out, other flags unchanged;
    ``ADOXQ``: the same with OF as the carry (two independent carry chains)."""
    src, dst = _n(args, 2)
    _gpr_dst(dst)
    bits = BITS[width]
    # Lazily: the kind becomes its ROT kind (flags.ROTATED), fc = CF | OF << 11.
    shift = 0 if flag == fl.CF else 11
    e.emit(f"c = {e.const(fl.CARRIES)}[cpu.fk](cpu)",
           f"t = {e.read(dst, width)} + {e.read(src, width)} + (c >> {shift} & 1)")
    e.write(dst, width, f"t & {MASK_TEXT[width]}")
    e.emit(f"cpu.fk = {e.const(fl.ROTATED)}[cpu.fk]",
           f"cpu.fc = c & {0x801 ^ (1 << shift)} | (t >> {bits}) << {shift}")
    e.next()

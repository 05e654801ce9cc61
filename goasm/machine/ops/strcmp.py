"""SSE4.2 packed string comparisons: PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM (Intel
SDM Vol. 2, 4.1 "Imm8 control byte operation for PCMPESTRI / PCMPESTRM / PCMPISTRI /
PCMPISTRM" and the four instruction pages).

Go writes ``PCMPESTRI $imm, src2, src1``: ``src1`` (an XMM register, SDM's xmm1: the
character set, ranges or needle) and ``src2`` (an XMM register or 16 bytes of memory,
no alignment required: the string) with explicit lengths in EAX (src1) and EDX (src2),
taken as absolute values of signed 32-bit integers saturated to the element count, or
implicit lengths ending at the first zero element. The index forms write ECX (zero-
extended to RCX), the mask forms XMM0. Flags: CF = IntRes2 != 0, ZF = src2 shorter than
the element count, SF = src1 shorter, OF = IntRes2[0], AF = PF = 0.
"""

from __future__ import annotations

from goasm.machine import flags as fl
from goasm.machine.ops.base import BadForm, handles
from goasm.machine.ops.lanes import imm8, join, need, read_src, split, split_signed, xmm


def _elements(value: int, imm: int) -> tuple:
    width = 2 if imm & 1 else 1
    return split_signed(value, width) if imm & 2 else split(value, width)


def _implicit_length(elems) -> int:
    for i, v in enumerate(elems):
        if v == 0:
            return i
    return len(elems)


def _explicit_length(reg: int, n: int) -> int:
    v = reg & 0xFFFFFFFF
    if v & 0x80000000:
        v = (1 << 32) - v
    return min(v, n)


def compare(a: int, b: int, imm: int, la: int | None, lb: int | None):
    """``(IntRes2, len_a, len_b, n)`` for src1 ``a`` and src2 ``b`` (explicit lengths
    ``la``/``lb`` as raw EAX/EDX values, or None for implicit)."""
    ea, eb = _elements(a, imm), _elements(b, imm)
    n = len(ea)
    la = _implicit_length(ea) if la is None else _explicit_length(la, n)
    lb = _implicit_length(eb) if lb is None else _explicit_length(lb, n)
    agg = imm >> 2 & 3
    res = 0
    if agg == 0:            # equal any: b[j] in the set a[0:la]
        for j in range(lb):
            if eb[j] in ea[:la]:
                res |= 1 << j
    elif agg == 1:          # ranges: a[2k] <= b[j] <= a[2k+1]
        for j in range(lb):
            for i in range(0, la - 1, 2):
                if ea[i] <= eb[j] <= ea[i + 1]:
                    res |= 1 << j
                    break
    elif agg == 2:          # equal each: both valid and equal, or both invalid
        for i in range(n):
            va, vb = i < la, i < lb
            if (va and vb and ea[i] == eb[i]) or (not va and not vb):
                res |= 1 << i
    else:                   # equal ordered: the needle a[0:la] starts at b[j]
        for j in range(n):
            ok = True
            for i in range(n - j):
                if i >= la:          # needle ended: true
                    break
                if j + i >= lb or ea[i] != eb[j + i]:
                    ok = False
                    break
            if ok:
                res |= 1 << j
    pol = imm >> 4 & 3
    full = (1 << n) - 1
    if pol == 1:
        res ^= full
    elif pol == 3:
        res ^= (1 << lb) - 1
    return res, la, lb, n


def _flags(res: int, la: int, lb: int, n: int) -> int:
    return ((fl.CF if res else 0) | (fl.ZF if lb < n else 0) | (fl.SF if la < n else 0)
            | (fl.OF if res & 1 else 0))


def pcmpstri(a: int, b: int, imm: int, la, lb) -> tuple[int, int]:
    """``(ECX, flags)`` of PCMPESTRI/PCMPISTRI."""
    res, la, lb, n = compare(a, b, imm, la, lb)
    if res == 0:
        index = n
    elif imm & 0x40:
        index = res.bit_length() - 1
    else:
        index = (res & -res).bit_length() - 1
    return index, _flags(res, la, lb, n)


def pcmpstrm(a: int, b: int, imm: int, la, lb) -> tuple[int, int]:
    """``(XMM0, flags)`` of PCMPESTRM/PCMPISTRM."""
    res, la, lb, n = compare(a, b, imm, la, lb)
    if imm & 0x40:
        width = 16 // n
        mask = join([-(res >> i & 1) for i in range(n)], width)
    else:
        mask = res
    return mask, _flags(res, la, lb, n)


@handles(("PCMPESTRI", dict(explicit=True, index=True)),
         ("PCMPESTRM", dict(explicit=True, index=False)),
         ("PCMPISTRI", dict(explicit=False, index=True)),
         ("PCMPISTRM", dict(explicit=False, index=False)))
def pcmpstr(e, args, explicit, index):
    """``PCMPESTRI $imm, src2, src1`` (module docstring)."""
    i, src, dst = need(args, 3)
    imm = imm8(i)
    xmm(dst, "first source")
    if src.kind not in ("xmm", "mem"):
        raise BadForm("second source must be an XMM register or memory")
    e.emit(f"b = {read_src(e, src, 16, align=False)}")
    lengths = ("regs[0]", "regs[2]") if explicit else ("None", "None")
    fn = pcmpstri if index else pcmpstrm
    e.emit(f"r, f = {e.call(fn, f'xmm[{e.const(dst.index)}]', 'b', e.const(imm), *lengths)}")
    if index:
        e.emit("regs[1] = r")
    else:
        e.emit("xmm[0] = r")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, f)")
    e.next()

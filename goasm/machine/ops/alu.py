"""Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT
(Intel SDM Vol. 2 instruction pages; flag formulas in :mod:`goasm.machine.flags`).

Plan 9 operand order: ``ADDQ src, dst`` is dst += src, but ``CMPQ a, b`` sets the flags
of ``a - b`` (Go asm guide; cmd/asm keeps CMP's operands in source order), checked
against ``go tool asm`` and Unicorn in tests/test_semantics_unicorn.py.
"""

from __future__ import annotations

from types import MappingProxyType

from goasm.machine import flags as fl
from goasm.machine.ops.base import MASK_TEXT, BadForm, handles, sized

_ARITH = MappingProxyType({"ADD": fl.ADD, "SUB": fl.SUB, "ADC": fl.ADC, "SBB": fl.SBB})
_LOGIC = MappingProxyType({"AND": "&", "OR": "|", "XOR": "^"})


@handles(*sized("ADD", op="ADD"), *sized("SUB", op="SUB"), *sized("ADC", op="ADC"),
         *sized("SBB", op="SBB"), *sized("AND", op="AND"), *sized("OR", op="OR"),
         *sized("XOR", op="XOR"))
def alu(e, args, op, width):
    """``OPx src, dst``: dst = dst OP src, flags per family."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    src, dst = args
    mask = MASK_TEXT[width]
    e.emit(f"b = {e.read(src, width)}", f"a = {e.read(dst, width)}")
    if op in _LOGIC:
        e.emit(f"r = a {_LOGIC[op]} b")
        e.write(dst, width, "r")
        e.flags(fl.LOGIC, width, r="r")
    elif op in ("ADD", "SUB"):
        e.emit(f"r = (a {'+' if op == 'ADD' else '-'} b) & {mask}")
        e.write(dst, width, "r")
        e.flags(_ARITH[op], width, a="a", b="b", r="r")
    else:
        e.emit(f"c = 1 if {e.carry()} else 0",
               f"r = (a {'+' if op == 'ADC' else '-'} b {'+' if op == 'ADC' else '-'} c) & {mask}")
        e.write(dst, width, "r")
        e.flags(_ARITH[op], width, a="a", b="b", c="c", r="r")
    e.next()


@handles(*sized("CMP", op="CMP"), *sized("TEST", op="TEST"))
def compare(e, args, op, width):
    """``CMPx a, b``: flags of a - b; ``TESTx a, b``: flags of a & b. Nothing written."""
    if len(args) != 2:
        raise BadForm("expected 2 operands")
    x, y = args
    e.emit(f"a = {e.read(x, width)}", f"b = {e.read(y, width)}")
    if op == "CMP":
        e.flags(fl.SUB, width, a="a", b="b", r=f"(a - b) & {MASK_TEXT[width]}")
    else:
        e.flags(fl.LOGIC, width, r="a & b")
    e.next()


@handles(*sized("INC", op="INC"), *sized("DEC", op="DEC"), *sized("NEG", op="NEG"),
         *sized("NOT", op="NOT"))
def unary(e, args, op, width):
    """INC/DEC (CF unaffected), NEG (flags of 0 - d), NOT (no flags)."""
    if len(args) != 1:
        raise BadForm("expected 1 operand")
    (dst,) = args
    mask = MASK_TEXT[width]
    e.emit(f"d = {e.read(dst, width)}")
    if op == "NOT":
        e.write(dst, width, f"d ^ {mask}")
    elif op == "NEG":
        e.emit(f"r = -d & {mask}")
        e.write(dst, width, "r")
        e.flags(fl.SUB, width, a="0", b="d", r="r")
    else:
        e.emit(f"r = (d {'+' if op == 'INC' else '-'} 1) & {mask}", f"c = {e.carry()}")
        e.write(dst, width, "r")
        e.flags(fl.INC if op == "INC" else fl.DEC, width, c="c", r="r")
    e.next()

"""When two Go instructions are the same machine instruction ("modulo the alias table").

The decoder writes each instruction one way; Go's assembler accepts several spellings of
many of them. :func:`canonical` maps every spelling to one, using only Go's own rules:

* mnemonic aliases cmd/asm resolves while parsing (``JAE`` = ``JCC``, ``MOVD`` = ``MOVQ``:
  :data:`goasm.arch.amd64.MNEMONIC_ALIASES`) and distinct Go mnemonics that assemble to
  the same bytes (:data:`goasm.arch.amd64.ENCODING_SYNONYMS`);
* byte registers: byte instructions name their 64-bit register (``MOVB R11, (BX)``
  means R11B, asm6.go ``bytereg``; the loader does the same rename,
  :func:`goasm.link._span6`), CRC32B's source included;
* ``CMPPS X1, X2, 3``: the third operand is the immediate (obj6.go ``progedit``);
* ``MOVQ $c, R`` with 0 <= c < 2**32 *is* ``MOVL $c, R`` (asm6.go ``Ziq_rp`` emits the
  zero-extending 32-bit move).

:func:`equivalent` also compares immediates and displacements the way the encoder
stores them: modulo the width of their field (``VPERMQ $-40`` and ``$216`` are the same
imm8; ``LEAL 2400959708(BP)`` has the disp32 -1894007588).
"""

from __future__ import annotations

import attrs

from goasm import ir
from goasm.arch import amd64

# The loader's byte-register rules (asm6.go bytereg), plus CRC32B's byte source.
from goasm.link import _BYTE_OPS, _BYTE_SRC_OPS, _bytereg  # noqa: PLC2701

_BYTE_SOURCE = _BYTE_SRC_OPS | {"CRC32B"}
_CMP_IMM3 = frozenset({"CMPPS", "CMPPD", "CMPSS", "CMPSD"})
_GPR64 = frozenset(amd64.GPR64)


def canonical_op(op: str) -> str:
    """The one mnemonic for every Go spelling of the same instruction."""
    op = amd64.MNEMONIC_ALIASES.get(op, op)
    return amd64.ENCODING_SYNONYMS.get(op, op)


def canonical(ins: ir.Instr) -> ir.Instr:
    """``ins`` with Go's alternative spellings resolved (see the module docstring);
    positions dropped."""
    op = canonical_op(ins.op)
    args = list(ins.args)
    if args and op in _BYTE_OPS:
        args[0] = _bytereg(args[0])
        args[-1] = _bytereg(args[-1])
    elif args and op in _BYTE_SOURCE:
        args[0] = _bytereg(args[0])
    if op in _CMP_IMM3 and len(args) == 3:
        a = args[2]
        if isinstance(a, ir.Mem) and a.kind is ir.NameKind.NONE and a.base is None \
                and a.index is None:
            args[2] = ir.Imm(a.offset)
    if (op == "MOVQ" and len(args) == 2 and isinstance(args[0], ir.Imm)
            and 0 <= args[0].value < 1 << 32 and isinstance(args[1], ir.Reg)
            and args[1].name in _GPR64):
        op = "MOVL"
    args = [_strip(a) for a in args]
    return ir.Instr(op, tuple(args), tuple(ins.suffixes))


def _strip(arg):
    if attrs.has(type(arg)) and getattr(arg, "pos", None) is not None:
        return attrs.evolve(arg, pos=None)
    return arg


def equivalent(a: ir.Instr, b: ir.Instr, *, imm_bits: int = 64, disp_bits: int = 64) -> bool:
    """True when ``a`` and ``b`` assemble to the same instruction, immediates compared
    modulo ``2**imm_bits`` and displacements modulo ``2**disp_bits`` (their fields)."""
    a, b = canonical(a), canonical(b)
    if a.op != b.op or a.suffixes != b.suffixes or len(a.args) != len(b.args):
        return False
    for x, y in zip(a.args, b.args):
        if x == y:
            continue
        if isinstance(x, ir.Imm) and isinstance(y, ir.Imm):
            if (x.value - y.value) % (1 << imm_bits) == 0:
                continue
            return False
        if isinstance(x, ir.Mem) and isinstance(y, ir.Mem):
            if attrs.evolve(x, offset=0) == attrs.evolve(y, offset=0) and \
                    (x.offset - y.offset) % (1 << disp_bits) == 0:
                continue
            return False
        return False
    return True

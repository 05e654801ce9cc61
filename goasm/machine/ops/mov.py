"""Data movement: MOV, MOVZX/MOVSX in Go's spelling (MOVBQZX ... MOVSWW/MOVZWW), LEA
(Intel SDM Vol. 2: MOV, MOVZX, MOVSX/MOVSXD, MOVD/MOVQ, LEA). No flags are affected."""

from __future__ import annotations

from goasm.machine.ops.base import MASK_TEXT, BadForm, handles, one, sized


def _two(args):
    if len(args) != 2:
        raise BadForm(f"expected 2 operands, got {len(args)}")
    return args


@handles(*sized("MOV"), *one("MOVQL", width=4))
def mov(e, args, width):
    """``MOVx src, dst``; MOVL/MOVQ also move between GPR/memory and XMM (MOVD/MOVQ,
    zero-extending into the XMM register). ``MOVQ TLS, r`` is a no-op: with local-exec
    TLS the register is only used as ``0(r)(TLS*1)`` (obj6.go, CanUse1InsnTLS)."""
    src, dst = _two(args)
    if src.kind == "tlsreg":
        e.next()
        return
    if (src.kind == "xmm" or dst.kind == "xmm") and width not in (4, 8):
        raise BadForm("XMM operands need MOVL or MOVQ")
    if src.kind == "imm" and dst.kind == "gpr" and width == 8 and src.fimm is None:
        # MOVQ $imm, reg: cmd/asm picks MOVL (zero-extending) or MOV r64, imm64, so
        # the value is exactly what was written; memory destinations take an imm32,
        # sign-extended (Emitter.read).
        e.write(dst, 8, e.const(src.value & 0xFFFFFFFFFFFFFFFF))
        e.next()
        return
    e.write(dst, width, e.read(src, width))
    e.next()


# (mnemonic, source width, destination width, sign-extend)
_EXTENSIONS = (
    ("MOVBLSX", 1, 4, True),
    ("MOVBLZX", 1, 4, False),
    ("MOVBQSX", 1, 8, True),
    ("MOVBQZX", 1, 8, False),
    ("MOVBWSX", 1, 2, True),
    ("MOVBWZX", 1, 2, False),
    ("MOVLQSX", 4, 8, True),
    ("MOVLQZX", 4, 8, False),
    ("MOVWLSX", 2, 4, True),
    ("MOVWLZX", 2, 4, False),
    ("MOVWQSX", 2, 8, True),
    ("MOVWQZX", 2, 8, False),
    # 66 0F BF / 66 0F B7: MOVSX/MOVZX r16, r/m16 (cmd/asm renames a register source
    # to its byte name, the encoding is the same): a 16-bit move.
    ("MOVSWW", 2, 2, True),
    ("MOVZWW", 2, 2, False),
)


@handles(*((n, dict(src_width=s, dst_width=d, signed=sg)) for n, s, d, sg in _EXTENSIONS))
def movx(e, args, src_width, dst_width, signed):
    """``MOVBQSX src, dst`` ...: zero or sign extend (MOVZX, MOVSX, MOVSXD)."""
    src, dst = _two(args)
    v = e.read(src, src_width)
    if signed:
        sb = 1 << (8 * src_width - 1)
        v = f"(({v} ^ {sb}) - {sb}) & {MASK_TEXT[dst_width]}"
    e.write(dst, dst_width, v)
    e.next()


@handles(*sized("LEA", "WLQ"))
def lea(e, args, width):
    """``LEAQ mem, dst``: the effective address, truncated to the operand size."""
    src, dst = _two(args)
    if src.kind not in ("mem", "addr"):
        raise BadForm("LEA needs a memory operand")
    ea = e.ea(src)
    e.write(dst, width, ea if width == 8 else f"{ea} & {MASK_TEXT[width]}")
    e.next()

"""Integer instructions outside the base set: MOVBE and MOVNTI (Intel SDM Vol. 2: MOVBE,
MOVNTI). Neither changes a flag. (CRC32, an SSE4.2 instruction on general registers,
lives with the other SSE4.2/crypto instructions in ``crypto.py``.)
"""

from __future__ import annotations

from goasm.machine.ops.base import BadForm, handles, sized


@handles(*sized("MOVBE", "WLQ"))
def movbe(e, args, width):
    """``MOVBEQ src, dst``: move with the byte order reversed; one operand is memory."""
    if len(args) != 2 or "mem" not in (args[0].kind, args[1].kind):
        raise BadForm("MOVBE moves between a register and memory")
    src, dst = args
    e.emit(f"v = {e.read(src, width)}",
           f"r = int.from_bytes(v.to_bytes({width}, 'little'), 'big')")
    e.write(dst, width, "r")
    e.next()


@handles(*sized("MOVNTI", "LQ"))
def movnti(e, args, width):
    """``MOVNTIQ reg, mem``: a store with a non-temporal hint (no cache model: a MOV)."""
    if len(args) != 2 or args[0].kind != "gpr" or args[1].kind != "mem":
        raise BadForm("MOVNTI stores a register to memory")
    e.write(args[1], width, e.read(args[0], width))
    e.next()


"""Integer instructions outside the base set: MOVBE and MOVNTI (no flags changed) and
RDRAND/RDSEED (Intel SDM Vol. 2: MOVBE, MOVNTI, RDRAND, RDSEED). (CRC32, an SSE4.2
instruction on general registers, lives with the other SSE4.2/crypto instructions in
``crypto.py``; XGETBV with the other processor-state instructions in ``sysreg.py``.)

RDRAND/RDSEED always succeed (CF = 1, OF SF ZF AF PF = 0) with numbers from a generator
seeded by the instruction's address, so runs are reproducible.
"""

from __future__ import annotations

import random

from goasm.machine import flags as fl
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



@handles(*sized("RDRAND", "WLQ"), *sized("RDSEED", "WLQ"))
def rdrand(e, args, width):
    """``RDRANDQ reg``: a random number; CF = 1 (valid), the other flags cleared."""
    if len(args) != 1 or args[0].kind != "gpr":
        raise BadForm("RDRAND/RDSEED need a register")
    rng = random.Random(e.ins.addr)
    e.emit(f"r = {e.const(rng.getrandbits)}({8 * width})")
    e.write(args[0], width, "r")
    e.emit(f"{e.const(fl.set_explicit)}(cpu, {fl.CF})")
    e.next()

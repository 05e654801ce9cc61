"""String instructions: MOVS, STOS, LODS, CMPS, SCAS at every width, with the REP,
REPE and REPNE prefixes, and XLAT (Intel SDM Vol. 2: MOVS, STOS, LODS, CMPS, SCAS,
REP/REPE/REPZ/REPNE/REPNZ, XLAT/XLATB).

Each element moves RSI/RDI by the element size, backwards when DF is set. A repeated
instruction runs while RCX != 0, decrementing RCX per element; REPE/REPNE CMPS/SCAS
also stop when ZF becomes 0/1. A fault stops with RCX/RSI/RDI describing the elements
done (SDM: "the registers are updated to reflect the iteration at which the fault
occurred"). Forward REP MOVS/STOS over non-overlapping (or forward-safe) ranges copy in
bulk. These handlers are ordinary Python closures (they loop anyway); they return the
next pc like generated code.
"""

from __future__ import annotations

from goasm.errors import MachineFault
from goasm.machine import flags as fl
from goasm.machine.ops.base import MASK, BadForm, handles, one, sized

M64 = (1 << 64) - 1
CHUNK = 1 << 16
"""Elements one dispatch of a REP instruction handles. A longer repetition returns its own
address with RCX/RSI/RDI describing the elements done, exactly as the processor leaves a
REP string instruction interrupted between iterations (SDM Vol. 2, REP: "the
instruction ... can be interrupted ... the registers are updated ... and execution
resumes at the interrupted instruction"), so ``--max-steps``, hooks and the debugger
regain control at least every CHUNK elements; each resumption counts as a step."""
_REPE = frozenset({"REP", "REPE", "REPZ"})
_REPNE = frozenset({"REPN", "REPNE", "REPNZ"})


def _prefix(ins) -> str | None:
    for p in ins.prefixes:
        if p in _REPE:
            return "REPE"
        if p in _REPNE:
            return "REPNE"
    return None


@handles(*sized("MOVS", op="MOVS"), *sized("STOS", op="STOS"), *sized("LODS", op="LODS"),
         *sized("CMPS", op="CMPS"), *sized("SCAS", op="SCAS"))
def string_op(e, args, op, width):
    """``REP; MOVSQ`` ... (operands, if written, are ignored as cmd/asm does)."""
    if args:
        raise BadForm("string instructions take no operands")
    m = e.machine
    return _build(m.cpu, m.mem, op, width, _prefix(e.ins), e.ins.next_addr, e.ins.addr)


def _build(cpu, mem, op, width, rep, nxt, here):
    regs = cpu.regs
    rd = {1: mem.read_u8, 2: mem.read_u16, 4: mem.read_u32, 8: mem.read_u64}[width]
    wr = {1: mem.write_u8, 2: mem.write_u16, 4: mem.write_u32, 8: mem.write_u64}[width]
    mask = MASK[width]
    keep = M64 & ~mask if width < 4 else 0
    sub_kind = fl.kind(fl.SUB, width)

    def movs():
        d = -width if cpu.df else width
        wr(regs[7], rd(regs[6]))
        regs[6] = (regs[6] + d) & M64
        regs[7] = (regs[7] + d) & M64

    def stos():
        wr(regs[7], regs[0] & mask)
        regs[7] = (regs[7] + (-width if cpu.df else width)) & M64

    def lods():
        v = rd(regs[6])
        regs[0] = (regs[0] & keep) | v
        regs[6] = (regs[6] + (-width if cpu.df else width)) & M64

    def cmps():
        d = -width if cpu.df else width
        a = rd(regs[6])
        b = rd(regs[7])
        regs[6] = (regs[6] + d) & M64
        regs[7] = (regs[7] + d) & M64
        cpu.fk, cpu.fa, cpu.fb, cpu.fr = sub_kind, a, b, (a - b) & mask

    def scas():
        a = regs[0] & mask
        b = rd(regs[7])
        regs[7] = (regs[7] + (-width if cpu.df else width)) & M64
        cpu.fk, cpu.fa, cpu.fb, cpu.fr = sub_kind, a, b, (a - b) & mask

    step = {"MOVS": movs, "STOS": stos, "LODS": lods, "CMPS": cmps, "SCAS": scas}[op]

    if rep is None:
        def single():
            step()
            return nxt
        return single

    if op in ("CMPS", "SCAS"):
        stop_on_equal = rep == "REPNE"

        def repeat_cmp():
            for _ in range(CHUNK):
                if not regs[1]:
                    return nxt
                step()
                regs[1] = (regs[1] - 1) & M64
                if (cpu.fr == 0) == stop_on_equal:
                    return nxt
            return here if regs[1] else nxt
        return repeat_cmp

    def elementwise(n):
        for _ in range(n):
            step()
            regs[1] = (regs[1] - 1) & M64

    def bulk(n) -> bool:
        size = n * width
        if op == "MOVS":
            src, dst = regs[6], regs[7]
            if src + size > M64 + 1 or dst + size > M64 + 1 or src < dst < src + size:
                return False
            try:
                mem.write(dst, mem.read(src, size))
            except MachineFault:
                return False
            regs[6] = src + size & M64
        elif op == "STOS":
            dst = regs[7]
            if dst + size > M64 + 1:
                return False
            try:
                mem.write(dst, (regs[0] & mask).to_bytes(width, "little") * n)
            except MachineFault:
                return False
        else:
            return False
        regs[7] = dst + size & M64
        regs[1] = (regs[1] - n) & M64
        return True

    def repeat():
        if regs[1]:
            n = min(regs[1], CHUNK)
            if cpu.df or not bulk(n):
                elementwise(n)
        return here if regs[1] else nxt
    return repeat


@handles(*one("XLAT"))
def xlat(e, args):
    """``XLAT``: AL = the byte at RBX + zero-extended AL (table lookup)."""
    if args:
        raise BadForm("XLAT takes no operands")
    e.emit("v = rd8((regs[3] + (regs[0] & 0xFF)) & 0xFFFFFFFFFFFFFFFF)",
           "regs[0] = regs[0] & 0xFFFFFFFFFFFFFF00 | v")
    e.next()

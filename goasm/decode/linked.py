"""Decoded instructions as the machine executes them (:class:`goasm.image.LInstr`).

For running compiled code (an ELF executable, code in memory): decode one instruction
at an arbitrary address with :meth:`goasm.decode.Decoder.decode_one` and turn it into an
``LInstr`` at that address, with its real byte size, a direct branch's destination as
a :class:`goasm.image.Target` (absolute address) and RIP-relative memory already
resolved to absolute addresses (a ``Decoder(rip=absolute_mem)``). The machine can then
execute compiled code lazily, instruction by instruction, exactly like loaded ``.s``
code: the handlers only see IR operands.
"""

from __future__ import annotations

from goasm.decode.core import Decoded, Decoder, absolute_mem
from goasm.errors import Pos
from goasm.image import LInstr, Target


def link_instr(d: Decoded, addr: int, *, func: str = "", index: int = 0,
               pos: Pos | None = None, target_label=None) -> LInstr:
    """``d`` (decoded at ``addr``) as an :class:`LInstr` of ``d.size`` bytes at ``addr``;
    ``target_label(address)`` may name the branch target (for display)."""
    ins = d.instr
    args = ins.args
    if d.target is not None:
        label = target_label(d.target) if target_label else None
        args = args + (Target(d.target, -1, label, pos=pos),)
    return LInstr(addr, ins.op, args, ins.suffixes, pos, func, index, d.size, False,
                  d.prefixes)


class CodeReader:
    """Decodes instructions on demand from a ``read(addr, n) -> bytes`` callable (memory
    of a running machine, an ELF file's segments); caches the ``LInstr`` per address.
    ``func_of(addr) -> (name, pos)`` may say which function and source line an address
    belongs to."""

    MAX_INSN = 15      # the longest x86 instruction (SDM Vol. 2, 2.3.11)

    def __init__(self, read, *, func_of=None, decoder: Decoder | None = None) -> None:
        self.read = read
        self.func_of = func_of
        self.decoder = decoder or Decoder(rip=absolute_mem)
        self._code: dict = {}

    def at(self, addr: int) -> LInstr:
        """The instruction at ``addr`` (raises :class:`goasm.errors.DecodeError`)."""
        ins = self._code.get(addr)
        if ins is None:
            data = self.read(addr, self.MAX_INSN)
            d = self.decoder.decode_one(data, 0, addr)
            func, pos = self.func_of(addr) if self.func_of else ("", None)
            ins = self._code[addr] = link_instr(d, addr, func=func, pos=pos)
        return ins

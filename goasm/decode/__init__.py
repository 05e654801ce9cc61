"""x86-64 machine code -> goasm IR: the second entrance next to the parser (DESIGN.md,
"Second entrances").

iced-x86 decodes the bytes; a table *generated* from Go's encoder tests
(:mod:`goasm.decode.table`, :mod:`goasm.decode.gen`) says how Go writes each instruction
code, so a decoded instruction is the same :class:`goasm.ir.Instr` the parser produces
for its Go text (``decode(bytes) == parse(text)`` for every line of cmd/asm's
``amd64enc.s``, ``amd64enc_extra.s`` and ``avx512enc/*.s``, modulo Go's alternative
spellings, :mod:`goasm.decode.equiv`). Handlers, translation, trace, checker and debugger
therefore run decoded code unchanged.

API
---
``Decoder(rip=None)``
    One decoder (converters and a cache of converted byte strings; not thread-safe).
    ``rip``: None refuses RIP-relative operands; :func:`absolute_mem` writes them as
    the absolute address they reach; any ``callable(address) -> ir.Mem`` may name a
    symbol instead.
``Decoder.decode_all(data, addr=0) -> [Decoded]``
    Every instruction of ``data`` placed at ``addr``; :class:`goasm.errors.DecodeError`
    (with ``offset`` and ``data``) unless the bytes are whole valid instructions.
``Decoder.decode_one(data, offset=0, addr=0) -> Decoded``
    The instruction starting at ``data[offset]``, located at ``addr``.
:class:`Decoded`
    ``offset``, ``size`` (bytes), ``instr`` (:class:`goasm.ir.Instr`, shared and
    position-free), ``target`` (absolute address of a direct branch's destination; Go
    writes it as the last operand, it is not in ``instr.args``), ``prefixes``
    (``LOCK``/``REP``/``REPN``); ``text()`` renders Go syntax.
``link_instr(decoded, addr, ...)`` (:mod:`goasm.decode.linked`)
    One decoded instruction as the machine executes it: a
    :class:`goasm.image.LInstr` at its real address with its real byte ``size``, the
    branch target a :class:`goasm.image.Target` and RIP-relative memory resolved to
    absolute addresses. With :meth:`Decoder.decode_one` this lets a machine execute
    compiled code lazily, one instruction at a time, at any address (the real-binaries
    work).

Raw ``BYTE``/``WORD``/``LONG``/``QUAD`` runs inside TEXT symbols are decoded at load
time by :mod:`goasm.decode.raw` (called from :mod:`goasm.link`).
"""

__all__ = ["Decoded", "DecodedRun", "Decoder", "absolute_mem", "code_name"]


def __getattr__(name):
    """The decoder's names, imported on first use: loading iced-x86 and the table costs
    start-up time that programs without machine code need not pay."""
    if name in __all__:
        from goasm.decode import core

        return getattr(core, name)
    raise AttributeError(f"module 'goasm.decode' has no attribute {name!r}")

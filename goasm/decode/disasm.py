"""``goasm disasm``: machine code in Go assembly syntax.

``disasm_hex("0f01d0")`` is ``["XGETBV"]``; :func:`disasm_elf` prints the functions of an
ELF object or executable the way ``go tool objdump`` lays them out::

    TEXT main.main(SB) /src/main.go
      main.go:7	0x499de0	493b6610	CMPQ	SP, 16(R14)

with the instructions as goasm's decoder writes them (the same IR the parser produces,
:mod:`goasm.decode`), branch targets and RIP-relative operands named by symbol where
one starts there (``CALL runtime.morestack_noctxt.abi0(SB)``, ``os.Stdout(SB)``), and
file:line from Go's line table when the binary has one (:mod:`goasm.elf`).
Nothing here prints: callers get text and the list of problems.
"""

from __future__ import annotations

import os

from goasm import ir
from goasm.decode.core import Decoder, absolute_mem
from goasm.errors import DecodeError, GoasmError


def parse_hex(text: str) -> bytes:
    """Bytes from hex text (spaces, commas, ``0x`` prefixes and ``\\x`` escapes allowed)."""
    cleaned = text.replace("\\x", " ").replace("0x", " ").replace(",", " ")
    try:
        return bytes.fromhex("".join(cleaned.split()))
    except ValueError:
        raise GoasmError(f"--hex: not hexadecimal bytes: {text!r}") from None


def disasm_hex(text: str, addr: int = 0) -> list[str]:
    """One line of Go syntax per instruction in the hex bytes ``text``; raises
    :class:`goasm.errors.DecodeError` for invalid or truncated bytes."""
    data = parse_hex(text)
    if not data:
        raise GoasmError("--hex: no bytes to decode")
    return [d.text() for d in Decoder(rip=absolute_mem).decode_all(data, addr)]


def disasm_elf(path, symbol: str | None = None) -> tuple[str, list[str]]:
    """The listing of every function (or only ``symbol``) of an ELF file, and the
    problems met (undecodable bytes): ``(text, problems)``."""
    from goasm.elf import ElfFile

    elf = ElfFile(path)
    if symbol is not None:
        funcs = [elf.symbol(symbol)]
    else:
        funcs = [s for s in elf.functions() if s.size and
                 any(sec.name == s.section and sec.executable for sec in elf.sections)]

    def named(addr: int):
        sym, off = elf.symbol_at(addr)
        return sym, off

    def rip(addr: int) -> ir.Mem:
        sym, off = named(addr)
        if sym is None:
            return absolute_mem(addr)
        return ir.Mem(offset=off, symbol=sym.name, kind=ir.NameKind.EXTERN)

    def target_text(addr: int) -> str:
        sym, off = named(addr)
        if sym is not None and off == 0:
            return f"{sym.name}(SB)"
        return f"{addr:#x}"

    decoder = Decoder(rip=rip)
    out: list[str] = []
    problems: list[str] = []
    for sym in funcs:
        data = elf.code(sym)
        first = elf.line(sym.addr)
        out.append(f"TEXT {sym.name}(SB)" + (f" {first[0]}" if first else ""))
        pos = 0
        while pos < len(data):
            addr = sym.addr + pos
            where = elf.line(addr)
            src = f"{os.path.basename(where[0])}:{where[1]}" if where else ""
            try:
                d = decoder.decode_one(data, pos, addr)
            except DecodeError as exc:
                problems.append(f"{sym.name}+{pos:#x} ({addr:#x}): {exc.message}")
                out.append(f"  {src}\t{addr:#x}\t{data[pos:pos + 1].hex()}\t?")
                pos += 1
                continue
            text = d.text(target_text).replace("\t", " ")
            out.append(f"  {src}\t{addr:#x}\t{data[pos:pos + d.size].hex()}\t{text}")
            pos += d.size
        out.append("")
    return "\n".join(out), problems

"""Raw ``BYTE``/``WORD``/``LONG``/``QUAD`` runs inside TEXT symbols, decoded at load time.

Go assembly often writes instructions as bytes (SHA-NI rounds as ``LONG``s, AVX code
from generators as ``BYTE`` lines, ``XGETBV`` as ``BYTE $0x0f; BYTE $0x01; BYTE $0xd0``).
cmd/asm copies them into the text (asm6.go: ``ABYTE``/``AWORD``/``ALONG``/``AQUAD``
emit their operand little-endian). goasm decodes each *run* -- consecutive raw
statements, labels allowed between them -- into instructions
(:mod:`goasm.decode`), split across lines as the bytes fall, so that everything after
the loader treats them like written instructions.

Rules (each violation is a :class:`goasm.errors.LinkError` with file:line and the bytes):

* the run must decode into whole, valid instructions;
* a label inside the run must fall on an instruction boundary;
* a decoded direct branch must land on an instruction of the same run or right after
  it (its bytes only say "N bytes further", and goasm does not lay out the other
  instructions in bytes); a RIP-relative operand is refused for the same reason.

Each decoded instruction keeps the text of the raw statements it came from
(:attr:`goasm.image.LInstr.source`), so listings, traces, the debugger and error
messages show ``LONG $0xdacb380f  // SHA256RNDS2 X0, X1, X2``.
"""

from __future__ import annotations

import bisect

from goasm import ir
from goasm.decode.core import Decoder
from goasm.errors import DecodeError, LinkError

RAW_WIDTH = {"BYTE": 1, "WORD": 2, "LONG": 4, "QUAD": 8}


def is_raw(stmt) -> bool:
    """A ``BYTE``/``WORD``/``LONG``/``QUAD $constant`` statement."""
    return (isinstance(stmt, ir.Instr) and stmt.op in RAW_WIDTH and not stmt.suffixes
            and len(stmt.args) == 1 and isinstance(stmt.args[0], ir.Imm))


def raw_bytes(stmt: ir.Instr) -> bytes:
    """The bytes cmd/asm emits for a raw statement: the value, little-endian, truncated
    to the width."""
    width = RAW_WIDTH[stmt.op]
    return (stmt.args[0].value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def raw_text(stmt: ir.Instr) -> str:
    """``LONG $0xdacb380f``: the statement with its value in hex."""
    width = RAW_WIDTH[stmt.op]
    return f"{stmt.op} ${stmt.args[0].value & ((1 << (8 * width)) - 1):#x}"


def expand_runs(body: list, decoder: Decoder | None = None) -> tuple[list, dict]:
    """``body`` (the statements of one TEXT symbol) with every raw run replaced by its
    decoded instructions; also ``{id(instr): source text}`` for those instructions."""
    if not any(is_raw(s) for s in body):
        return body, {}
    decoder = decoder or Decoder()
    out: list = []
    sources: dict = {}
    i = 0
    n = len(body)
    while i < n:
        if not is_raw(body[i]):
            out.append(body[i])
            i += 1
            continue
        j = i
        while j < n and (is_raw(body[j]) or isinstance(body[j], ir.Label)):
            j += 1
        run = body[i:j]
        trailing = []
        while isinstance(run[-1], ir.Label):     # labels after the last raw statement
            trailing.insert(0, run.pop())
        followed = any(isinstance(s, ir.Instr) for s in body[j:])
        out += _decode_run(run, decoder, sources, followed)
        out += trailing
        i = j
    return out, sources


def _decode_run(run: list, decoder: Decoder, sources: dict, followed: bool) -> list:
    pieces: list = []      # (offset, statement)
    labels: list = []      # (offset, Label)
    data = bytearray()
    for stmt in run:
        if isinstance(stmt, ir.Label):
            labels.append((len(data), stmt))
        else:
            pieces.append((len(data), stmt))
            data += raw_bytes(stmt)
    data = bytes(data)
    starts = [off for off, _ in pieces]

    def piece_at(offset: int):
        return pieces[bisect.bisect_right(starts, offset) - 1][1]

    try:
        decoded = decoder.decode_all(data)
    except DecodeError as exc:
        stmt = piece_at(exc.offset)
        raise LinkError(f"raw bytes do not decode into whole instructions: {exc.message} "
                        f"(byte {exc.offset} of the {len(data)}-byte run starting at "
                        f"{pieces[0][1].pos})", stmt.pos) from None
    # statement index (within the run's output) of each instruction's first statement
    first_stmt: dict = {}
    count = 0
    for d in decoded:
        first_stmt[d.offset] = count
        count += len(d.prefixes) + 1
    first_stmt[len(data)] = count
    label_at: dict = {}
    for off, label in labels:
        if off not in first_stmt:
            d = _containing(decoded, off)
            raise LinkError(f"label {label.name} falls inside the instruction "
                            f"{d.text()} decoded from {data[d.offset:d.offset + d.size].hex()}",
                            label.pos)
        label_at.setdefault(off, []).append(label)
    out: list = []
    for d in decoded:
        stmt = piece_at(d.offset)
        pos = stmt.pos
        out += label_at.get(d.offset, [])
        for prefix in d.prefixes:
            out.append(ir.Instr(prefix, (), (), pos))
        ins = d.instr
        args = ins.args
        if d.target is not None:
            t = d.target
            code = data[d.offset:d.offset + d.size].hex()
            if t not in first_stmt:
                inside = 0 <= t < len(data)
                where = (f"inside the instruction {_containing(decoded, t).text()}" if inside
                         else "outside the raw bytes it is written in")
                raise LinkError(f"the branch {d.text(_rel(d))} ({code}) lands {where}", pos)
            if t == len(data) and not followed:
                raise LinkError(f"the branch {d.text(_rel(d))} ({code}) goes past the end of "
                                f"the function", pos)
            here = first_stmt[d.offset] + len(d.prefixes)
            args = args + (ir.PCRel(first_stmt[t] - here, pos=pos),)
        new = ir.Instr(ins.op, args, ins.suffixes, pos)
        out.append(new)
        sources[id(new)] = _source(pieces, starts, d)
    return out


def _rel(d):
    return lambda t: f"{t - d.offset - d.size:+d} bytes"


def _containing(decoded, offset: int):
    for d in decoded:
        if d.offset <= offset < d.offset + d.size:
            return d
    return decoded[-1]


def _source(pieces, starts, d) -> str:
    """The raw statements holding the instruction's bytes (``[a:b]`` when it uses only
    part of them)."""
    end = d.offset + d.size
    first = bisect.bisect_right(starts, d.offset) - 1
    last = bisect.bisect_left(starts, end) - 1
    chosen = pieces[first:last + 1]
    text = "; ".join(raw_text(s) for _, s in chosen)
    lo = chosen[0][0]
    hi = chosen[-1][0] + RAW_WIDTH[chosen[-1][1].op]
    if d.offset != lo or end != hi:
        text += f" [{d.offset - lo}:{end - lo}]"
    return text

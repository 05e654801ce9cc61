"""Raw ``BYTE``/``WORD``/``LONG``/``QUAD`` runs inside TEXT symbols, decoded at load time.

Go assembly often writes instructions as bytes (SHA-NI rounds as ``LONG``s, AVX code
from generators as ``BYTE`` lines, ``XGETBV`` as ``BYTE $0x0f; BYTE $0x01; BYTE $0xd0``).
cmd/asm copies them into the text (asm6.go: ``ABYTE``/``AWORD``/``ALONG``/``AQUAD``
emit their operand little-endian). goasm decodes each *run* -- consecutive raw
statements, labels allowed between them -- into instructions
(:mod:`goasm.decode`), split across lines as the bytes fall, so that everything after
the loader treats them like written instructions.

Rules (each violation is a :class:`goasm.errors.LinkError` with file:line and the bytes):

* the run must decode into whole, valid instructions -- the bytes execution can reach,
  when a run holds data after a jump (decoded from its start, its labels and its branch
  targets, following fall-through; bytes nothing reaches stay ``BYTE`` data, which is
  an error only when executed);
* a label inside the run must fall on an instruction boundary;
* a decoded direct branch must land on an instruction of the same run or right after
  it (its bytes only say "N bytes further", and goasm does not lay out the other
  instructions in bytes); a RIP-relative operand is refused for the same reason.

Each decoded instruction keeps the text of the raw statements it came from
(:attr:`goasm.image.LInstr.source`), so traces, the debugger and error messages show
``LONG $0xdacb380f  // SHA256RNDS2 X0, X1, X2``, and a :class:`RawListing`
(:attr:`goasm.image.LInstr.listing`): the raw statements as ``go tool asm -S`` lists
them, one line per ``BYTE``/``WORD``/``LONG``/``QUAD`` at its own offset
(``LONG\t$3670751247``), each listed with the instruction (or data byte) its first byte
belongs to; listings add the decoding as a comment on the line where it begins.
"""

from __future__ import annotations

import bisect

from goasm import ir
from goasm.errors import DecodeError, LinkError

RAW_WIDTH = {"BYTE": 1, "WORD": 2, "LONG": 4, "QUAD": 8}


class RawListing:
    """How an instruction decoded from a raw run is listed in the style of
    ``go tool asm -S``, which sees only the raw statements (asm6.go ABYTE...): ``lines``,
    the statements whose first byte lies in the instruction's bytes (its prefixes
    included), as Go prints them (``BYTE\t$204``; possibly none); ``inside``: the
    instruction begins inside the statement listed before it (a ``LONG`` holding two
    instructions), where listings put its decoding; ``prefixes``: how many of the
    instruction's ``prefixes`` came from its bytes (the others are written statements
    merged into it, listed on their own lines as usual)."""

    __slots__ = ("lines", "inside", "prefixes")

    def __init__(self, lines: tuple, inside: bool, prefixes: int = 0):
        self.lines = lines
        self.inside = inside
        self.prefixes = prefixes

    def __eq__(self, other):
        return (isinstance(other, RawListing) and self.lines == other.lines
                and self.inside == other.inside and self.prefixes == other.prefixes)

    def __hash__(self):
        return hash((self.lines, self.inside, self.prefixes))

    def __repr__(self):
        return f"RawListing({self.lines!r}, {self.inside!r}, {self.prefixes!r})"


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


def listing_line(stmt: ir.Instr) -> str:
    """The raw statement as ``go tool asm -S`` prints it: the operand as the assembler
    holds it (an int64: ``LONG $0xdacb380f`` is ``LONG\t$3670751247``, ``QUAD $~0`` is
    ``QUAD\t$-1``)."""
    value = stmt.args[0].value & ((1 << 64) - 1)
    if value >> 63:
        value -= 1 << 64
    return f"{stmt.op}\t${value}"


def expand_runs(body: list, decoder=None) -> tuple[list, dict]:
    """``body`` (the statements of one TEXT symbol) with every raw run replaced by its
    decoded instructions; also ``{id(instr): (source text, RawListing)}`` for the
    instructions (and data bytes) that came from raw runs.
    ``decoder``: a :class:`goasm.decode.Decoder` to reuse (its caches), else a new one."""
    if not any(is_raw(s) for s in body):
        return body, {}
    if decoder is None:
        from goasm.decode.core import Decoder

        decoder = Decoder()
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


# Go mnemonics after which the processor never reaches the next byte.
_NO_FALLTHROUGH = frozenset({"JMP", "RET", "UD1", "UD2", "HLT"})


def _decode_run(run: list, decoder, sources: dict, followed: bool) -> list:
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
    stmt_starts = frozenset(starts)

    def listing(lo: int, hi: int, prefixes: int = 0) -> RawListing:
        a = bisect.bisect_left(starts, lo)
        b = bisect.bisect_left(starts, hi)
        return RawListing(tuple(listing_line(s) for _, s in pieces[a:b]),
                          lo not in stmt_starts, prefixes)

    def piece_at(offset: int):
        return pieces[bisect.bisect_right(starts, offset) - 1][1]

    try:
        decoded = decoder.decode_all(data)
    except DecodeError:
        decoded = None
    if decoded is None or not _aligned(decoded, labels, len(data)):
        decoded = _reachable(data, labels, decoder, piece_at, pieces)
    # the run's statements in order: decoded instructions, and BYTEs for data no
    # decoded path reaches; the statement index of each instruction's first statement
    entries: list = []
    cursor = 0
    for d in decoded:
        entries += [(off, None) for off in range(cursor, d.offset)]
        entries.append((d.offset, d))
        cursor = d.offset + d.size
    entries += [(off, None) for off in range(cursor, len(data))]
    first_stmt: dict = {}
    count = 0
    for off, d in entries:
        first_stmt[off] = count
        count += 1 if d is None else len(d.prefixes) + 1
    first_stmt[len(data)] = count
    by_offset = {d.offset: d for d in decoded}
    label_at: dict = {}
    for off, label in labels:
        if off not in by_offset and off != len(data):
            d = _containing(decoded, off)
            raise LinkError(f"label {label.name} falls inside the instruction "
                            f"{d.text()} decoded from {data[d.offset:d.offset + d.size].hex()}",
                            label.pos)
        label_at.setdefault(off, []).append(label)
    out: list = []
    for off, d in entries:
        stmt = piece_at(off)
        pos = stmt.pos
        if d is None:               # data: cmd/asm emits the byte, nothing executes it
            byte = ir.Instr("BYTE", (ir.Imm(data[off]),), (), pos)
            out.append(byte)
            sources[id(byte)] = ("", listing(off, off + 1))
            continue
        out += label_at.get(d.offset, [])
        for prefix in d.prefixes:   # merged into the instruction by the linker
            pre = ir.Instr(prefix, (), (), pos)
            out.append(pre)
            sources[id(pre)] = ("", RawListing((), True))
        ins = d.instr
        args = ins.args
        if d.target is not None:
            t = d.target
            code = data[d.offset:d.offset + d.size].hex()
            if t not in by_offset and t != len(data):
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
        sources[id(new)] = (_source(pieces, starts, d),
                            listing(d.offset, d.offset + d.size, len(d.prefixes)))
    out += label_at.get(len(data), [])
    return out


def _aligned(decoded: list, labels: list, end: int) -> bool:
    """Every label and in-run branch target of a linear decoding is an instruction
    start (or the end of the run)."""
    starts = {d.offset for d in decoded} | {end}
    return all(off in starts for off, _ in labels) and all(
        d.target in starts for d in decoded
        if d.target is not None and 0 <= d.target <= end)


def _reachable(data: bytes, labels: list, decoder, piece_at, pieces) -> list:
    """Decode only what execution can reach, as the processor does: from the start of
    the run, from its labels and from the targets of the branches found, following
    fall-through except after JMP/RET/UD2 (data after a jump, e.g.
    crypto/internal/boring/sig's marker bytes, stays data). Reachable bytes that are not
    an instruction, and instructions that overlap, are load errors."""
    found: dict = {}
    why: dict = {0: None}
    for off, label in labels:
        why.setdefault(off, label)
    work = [0] + [off for off, _ in labels]
    end = len(data)
    while work:
        p = work.pop(0)
        if p in found or not 0 <= p < end:
            continue
        inside = next((d for d in found.values() if d.offset < p < d.offset + d.size), None)
        reason = why.get(p)
        if inside is not None:
            what = (f"label {reason.name}" if isinstance(reason, ir.Label)
                    else f"a branch target (+{p})")
            raise LinkError(f"{what} falls inside the instruction {inside.text()} decoded "
                            f"from {data[inside.offset:inside.offset + inside.size].hex()}",
                            reason.pos if isinstance(reason, ir.Label) else piece_at(p).pos)
        try:
            d = decoder.decode_one(data, p, p)
        except DecodeError as exc:
            raise LinkError(f"raw bytes do not decode into whole instructions: {exc.message} "
                            f"(byte {p} of the {end}-byte run starting at {pieces[0][1].pos})",
                            piece_at(p).pos) from None
        later = next((q for q in found if p < q < p + d.size), None)
        if later is not None:
            raise LinkError(f"the instruction {d.text()} decoded at byte {p} overlaps the one "
                            f"at byte {later} ({found[later].text()})", piece_at(p).pos)
        found[p] = d
        if d.target is not None and 0 <= d.target <= end:
            why.setdefault(d.target, None)
            work.append(d.target)
        if d.instr.op not in _NO_FALLTHROUGH:
            work.append(p + d.size)
    return [found[k] for k in sorted(found)]


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

"""Learn the decode table (:mod:`goasm.decode.table`) from Go's encoder tests.

Every line of :mod:`goasm.decode.testdata` pairs Go's text with machine code. For each
encoding, iced-x86 decodes the bytes into an instruction code and operands in Intel
order; each Go operand is matched against what could have produced it (iced operand N
as a register, memory or immediate; the same register by its 64-bit name; a register
block; a register the encoding implies) and the intersection over all lines of the same
code is that code's template. When x86test lists an encoding under a mnemonic that is
not the one cmd/asm uses for those bytes (``FADDD (BX), F0 // d803 or dc03``: d803 is the
32-bit FADDF), the mnemonic under which the code is listed first wins.

:func:`verify` then decodes every listed encoding with the learned table and compares
the result with the parsed text (:func:`goasm.decode.equiv.equivalent`).

Used by ``tools/gen_decode_table.py`` (writes ``goasm/decode/amd64_decode.txt``) and by
``tests/test_decode.py`` (regenerates it and compares; checks every line).
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from pathlib import Path

import attrs
import iced_x86 as iced

from goasm import ir
from goasm.decode import core, equiv
from goasm.decode import table as dtable
from goasm.decode.testdata import EncLine, read_lines
from goasm.errors import DecodeError

_FIELD_BITS = {
    iced.OpKind.IMMEDIATE8: 8, iced.OpKind.IMMEDIATE8_2ND: 8, iced.OpKind.IMMEDIATE16: 16,
    iced.OpKind.IMMEDIATE32: 32, iced.OpKind.IMMEDIATE64: 64, iced.OpKind.IMMEDIATE8TO16: 8,
    iced.OpKind.IMMEDIATE8TO32: 8, iced.OpKind.IMMEDIATE8TO64: 8,
    iced.OpKind.IMMEDIATE32TO64: 32,
}


def field_bits(data: bytes) -> tuple[int, int]:
    """(immediate, displacement) field widths in bits of the instruction in ``data``
    (64 when it has none): what :func:`goasm.decode.equiv.equivalent` compares modulo."""
    dec = iced.Decoder(64, data)
    x = dec.decode()
    offs = dec.get_constant_offsets(x)
    imm = offs.immediate_size * 8 or 64
    disp = offs.displacement_size * 8 or 64
    return imm, disp


@attrs.define
class Sample:
    """One encoding of one test line, decoded by iced."""

    line: EncLine
    index: int           # which listed encoding (-1: the one cmd/asm emits)
    code: str
    op: str               # the canonical Go mnemonic of the line
    cands: list           # per Go operand (opmask removed): set of template tokens


def _candidates(x, args, mem_of) -> list:
    out = []
    for arg in args:
        c = set()
        for i in range(x.op_count):
            k = x.op_kind(i)
            if k == iced.OpKind.REGISTER:
                reg = x.op_register(i)
                nat = core._NATURAL.get(reg)
                if isinstance(arg, ir.Reg):
                    if arg.name == nat:
                        c.add(f"o{i}")
                    elif arg.name == core._WIDE.get(reg):
                        c.add(f"o{i}:w")
                elif isinstance(arg, ir.RegList) and nat and nat[0] in "XYZ":
                    if arg.lo == nat and arg.hi == f"{nat[0]}{int(nat[1:]) + 3}":
                        c.add(f"o{i}:l4")
            elif k == iced.OpKind.MEMORY:
                try:
                    m = mem_of(x)
                except DecodeError:
                    continue
                if isinstance(arg, ir.Mem) and attrs.evolve(arg, offset=0, pos=None) == \
                        attrs.evolve(m, offset=0) and (arg.offset - m.offset) % (1 << 32) == 0:
                    c.add(f"o{i}")
            elif k in _FIELD_BITS:
                if isinstance(arg, ir.Imm):
                    v = x.immediate8_2nd if k == iced.OpKind.IMMEDIATE8_2ND else x.immediate(i)
                    if (v - arg.value) % (1 << _FIELD_BITS[k]) == 0:
                        c.add(f"o{i}")
        if isinstance(arg, ir.Reg):
            c.add("=" + arg.name)
        out.append(c)
    return out


def _token_rank(tok: str) -> tuple:
    if tok.startswith("="):
        return (3, tok)
    if ":w" in tok:
        return (2, tok)
    if ":l4" in tok:
        return (1, tok)
    return (0, tok)


def _choose(inter: list) -> tuple | None:
    """One token per position, preferring operands to constants and each iced operand
    used once."""
    used: set = set()
    out = []
    for cands in inter:
        if not cands:
            return None
        ranked = sorted(cands, key=_token_rank)
        pick = next((t for t in ranked if t.startswith("=") or t.split(":")[0] not in used),
                    ranked[0])
        if not pick.startswith("="):
            used.add(pick.split(":")[0])
        out.append(pick)
    return tuple(out)


def render(data: bytes) -> str | None:
    """iced's Intel rendering of the instruction in ``data`` with every memory size
    shown, or None when iced does not decode it into exactly those bytes. Two encodings
    with the same rendering are the same instruction (VEX and EVEX forms of one
    operation, the two directions of a register-register ALU form)."""
    x = iced.Decoder(64, data).decode()
    if x.code == iced.Code.INVALID or x.len != len(data):
        return None
    return _formatter().format(x)


@functools.lru_cache(maxsize=None)
def _formatter():
    """iced's Intel formatter with every memory size shown (made once, never changed)."""
    fmt = iced.Formatter(iced.FormatterSyntax.INTEL)
    fmt.memory_size_options = iced.MemorySizeOptions.ALWAYS
    return fmt


def alternatives(line: EncLine) -> tuple[list, list]:
    """The listed encodings of ``line`` split into (same instruction as the emitted
    one, different instruction or refused by iced): x86test lists some encodings that
    are not what the text means (``FADDD (BX), F0 // d803 or dc03``: d803 adds a
    float32) or that the processor rejects (EVEX.L'L != 0 of the 128-bit-only VMOVHPD)."""
    want = render(line.emitted)
    same, other = [], []
    for j, data in enumerate(line.encodings):
        if data == line.emitted:
            continue
        (same if render(data) == want else other).append(j)
    return same, other


@attrs.define
class Learned:
    rules: list
    problems: list       # text lines: codes whose template could not be learned
    different: list      # (EncLine, index): listed encodings of another instruction


def learn(lines: list[EncLine]) -> Learned:
    """The generated rules from the encoder test lines: from the bytes cmd/asm emits
    for each line and the listed alternatives that are the same instruction."""
    helper = core.Decoder(rip=core.absolute_mem, rules={})
    samples: dict = defaultdict(list)      # code -> [Sample]
    different = []
    problems = []
    for line in lines:
        parsed = equiv.canonical(line.instr)
        same, other = alternatives(line)
        different += [(line, j) for j in other]
        for j in [-1] + same:
            data = line.emitted if j < 0 else line.encodings[j]
            if data == core._GO_UD1:
                continue      # cmd/asm's UD1 without ModRM: special-cased by the decoder
            x = iced.Decoder(64, data).decode()
            if x.code == iced.Code.INVALID or x.len != len(data):
                problems.append(f"{line.name}: iced does not decode {data.hex()}")
                continue
            args = list(parsed.args)
            if x.op_mask:
                k = core._NATURAL[x.op_mask]
                if len(args) < 2 or args[-2] != ir.Reg(k):
                    problems.append(f"{line.name}: opmask {k} is not the operand before "
                                    f"the destination")
                    continue
                del args[-2]
            code = core.code_name(x.code)
            samples[code].append(Sample(line, j, code, parsed.op,
                                        _candidates(x, args, helper._mem)))
    rules = []
    for code in sorted(samples):
        group = samples[code]
        first = Counter(s.op for s in group if s.index < 0)
        total = Counter(s.op for s in group)
        op = max(total, key=lambda o: (first[o], total[o], o))
        chosen = [s for s in group if s.op == op]
        arity = max(len(s.cands) for s in chosen)
        full = [s for s in chosen if len(s.cands) == arity]
        inter = [set.intersection(*(s.cands[p] for s in full)) for p in range(arity)]
        template = _choose(inter)
        if template is None:
            example = full[0]
            problems.append(f"{code} {op}: no consistent template (per operand "
                            f"{[sorted(t) for t in inter]}), e.g. {example.line.name}")
            continue
        rules.append(dtable.Rule(code, op, template, dtable.GENERATED))
    return Learned(rules, problems, different)


@attrs.define
class Mismatch:
    line: EncLine
    index: int
    got: str


def verify(lines: list[EncLine], rules: dict | None = None) -> tuple[int, list]:
    """Decode the bytes cmd/asm emits for every line, and every listed alternative that
    is the same instruction (:func:`alternatives`), with ``rules`` (default: goasm's
    tables) and compare with the parsed line; returns (encodings checked, [Mismatch])."""
    decoder = core.Decoder(rip=core.absolute_mem, rules=rules)
    checked = 0
    bad = []
    for line in lines:
        same, _ = alternatives(line)
        for j in [-1] + same:
            data = line.emitted if j < 0 else line.encodings[j]
            checked += 1
            try:
                got = decoder.decode_all(data)
            except DecodeError as exc:
                bad.append(Mismatch(line, j, f"error: {exc.message}"))
                continue
            if len(got) != 1:
                bad.append(Mismatch(line, j, " ; ".join(d.text() for d in got)))
                continue
            imm, disp = field_bits(data)
            if not equiv.equivalent(got[0].instr, line.instr, imm_bits=imm, disp_bits=disp):
                bad.append(Mismatch(line, j, got[0].text()))
    return checked, bad


def header(goroot: Path, learned: Learned, n_lines: int) -> str:
    version = (Path(goroot) / "VERSION").read_text(encoding="utf-8").splitlines()[0]
    return (
        "Generated by tools/gen_decode_table.py -- DO NOT EDIT.\n"
        f"Source: {version} cmd/asm/internal/asm/testdata/amd64enc.s, amd64enc_extra.s,\n"
        f"avx512enc/*.s ({n_lines} lines); decoder iced-x86 {iced_version()}.\n"
        "Format: iced code <TAB> Go mnemonic <TAB> operand template (goasm/decode/table.py).\n"
        f"{len(learned.rules)} codes."
    )


def iced_version() -> str:
    from importlib.metadata import version

    return version("iced-x86")


def generate(goroot: Path) -> tuple[str, Learned, list]:
    """The text of ``amd64_decode.txt`` for ``goroot``, the learning result and the lines."""
    lines = read_lines(goroot)
    learned = learn(lines)
    text = dtable.format_rules(learned.rules, header(goroot, learned, len(lines)))
    return text, learned, lines


def check_examples(goroot: Path, text: str | None = None) -> tuple[int, list]:
    """Assemble the ``#go:`` example of every hand-written rule with ``go tool asm`` and
    decode the bytes: each must give its rule's code and (unless written as BYTEs) the
    example's instruction. Returns (examples checked, [problem text])."""
    import tempfile

    from goasm.conformance import assemble_lines
    from goasm.parse import parse_source

    if text is None:
        text = dtable.read_data(dtable.HAND_RULES)
    rules = dtable.parse_rules(text, dtable.HAND_RULES)
    examples = dtable.examples(text)
    order = list(examples)      # file order
    src = ["TEXT examples(SB), 516, $0"]        # NOSPLIT|NOFRAME
    first = len(src) + 1
    for c in order:     # each followed by a non-branch: "1(PC)" must not reach a JMP
        src += ["\t" + examples[c], "\tPAUSE"]
    src += ["\tMOVQ $0x1122334455667788, AX"] * 40 + ["far:", "\tRET", ""]
    source = "\n".join(src)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "examples.s"
        path.write_text(source, encoding="utf-8")
        emitted = assemble_lines(goroot, path)
    prog = parse_source(source, "examples.s")
    parsed = {s.pos.line: s for s in prog.statements if isinstance(s, ir.Instr)}
    decoder = core.Decoder(rip=core.absolute_mem)
    problems = []
    for i, code in enumerate(order):
        n = first + 2 * i
        text_n = examples[code]
        data = emitted.get(n)
        if data is None:
            problems.append(f"{code}: cmd/asm emitted nothing for {text_n!r}")
            continue
        x = iced.Decoder(64, data).decode()
        got = core.code_name(x.code)
        if got != code or x.len != len(data):
            problems.append(f"{code}: {text_n!r} assembles to {data.hex()} = {got}")
            continue
        if text_n.startswith("BYTE"):
            continue
        dec = decoder.decode_one(data)
        want = parsed[n]
        if dec.target is not None:
            want = ir.Instr(want.op, want.args[:-1], want.suffixes)
        imm, disp = field_bits(data)
        if not equiv.equivalent(dec.instr, want, imm_bits=imm, disp_bits=disp) \
                or dec.instr.op != rules[code].op:
            problems.append(f"{code}: {text_n!r} ({data.hex()}) decodes as {dec.text()}")
    return len(order), problems

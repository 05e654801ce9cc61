"""Raw BYTE/WORD/LONG/QUAD runs in TEXT (goasm.decode.raw; issue #14 acceptance 3).

Each idiom is written twice, as raw machine code the way real Go modules write it and
as the mnemonic, and both versions run from the same hypothesis-generated states: the
registers, vector registers, flags, memory and faults must be the same. The machine
code is checked against cmd/asm too: ``go tool asm`` assembles the mnemonic version to
exactly the raw bytes. Then the load-time errors (bytes that are not whole instructions,
labels and branches inside an instruction) and the listing
(``LONG $0xd1cb380f  // SHA256RNDS2 X0, X1, X2``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm.errors import GoasmError, LinkError, MachineFault
from goasm.machine.machine import Machine
from snippets import link_snippet

SCRATCH = 0x200000
REGION = 0x1000
M64 = (1 << 64) - 1

# (name, raw version, mnemonic version). SI and DI point into the scratch page.
IDIOMS = [
    ("XGETBV on one line", "MOVL $0, CX\n BYTE $0x0f; BYTE $0x01; BYTE $0xd0",
     "MOVL $0, CX\n XGETBV"),
    ("XGETBV over three lines", "MOVL $0, CX\n BYTE $0x0f\n BYTE $0x01\n BYTE $0xd0",
     "MOVL $0, CX\n XGETBV"),
    ("RDTSCP", "BYTE $0x0f; BYTE $0x01; BYTE $0xf9", "RDTSCP"),
    ("SHA256RNDS2 as a LONG", "LONG $0xd1cb380f", "SHA256RNDS2 X0, X1, X2"),
    ("SHA256 message schedule", "LONG $0xcacc380f; LONG $0xd3cd380f",
     "SHA256MSG1 X2, X1\n SHA256MSG2 X3, X2"),
    ("PCLMULQDQ as BYTEs", "BYTE $0x66; BYTE $0x0f; BYTE $0x3a; BYTE $0x44; BYTE $0xd1; "
     "BYTE $0x11", "PCLMULQDQ $0x11, X1, X2"),
    ("PCLMULQDQ as WORD+LONG", "WORD $0x0f66; LONG $0x00d1443a", "PCLMULQDQ $0x00, X1, X2"),
    ("a MOVL as a WORD", "WORD $0xc889", "MOVL CX, AX"),
    ("VEX moves as a QUAD", "QUAD $0x077ffec5066ffec5",
     "VMOVDQU (SI), Y0\n VMOVDQU Y0, (DI)"),
    ("VEX 128-bit load as a LONG", "LONG $0x066ffac5", "VMOVDQU (SI), X0"),
    ("a loop with a raw LOOP", "MOVQ $5, CX\nloop:\n BYTE $0x48; BYTE $0xff; BYTE $0xc0\n"
     " BYTE $0xe2; BYTE $0xfb", "MOVQ $5, CX\nloop:\n INCQ AX\n LOOP loop"),
    ("a raw branch over a raw instruction", "BYTE $0x74; BYTE $0x03\n"
     " BYTE $0x48; BYTE $0xff; BYTE $0xc0\n ADDQ $1, BX",
     "JEQ skip\n INCQ AX\nskip:\n ADDQ $1, BX"),
    ("a mnemonic branch to a label between raw lines", "JMP two\n BYTE $0x48; BYTE $0xff; "
     "BYTE $0xc0\ntwo:\n BYTE $0x48; BYTE $0xff; BYTE $0xc3",
     "JMP two\n INCQ AX\ntwo:\n INCQ BX"),
    ("LOCK-prefixed XADD", "BYTE $0xf0; BYTE $0x48; BYTE $0x0f; BYTE $0xc1; BYTE $0x06",
     "LOCK\n XADDQ AX, (SI)"),
    ("REP MOVSB", "MOVQ $16, CX\n WORD $0xa4f3", "MOVQ $16, CX\n REP; MOVSB"),
]


class Runner:
    def __init__(self, body: str):
        image, self.entry, self.end = link_snippet(body)
        self.image = image
        self.m = Machine(image)
        self.m.mem.map(SCRATCH, REGION, name="scratch")

    def run(self, regs, vecs, flags, data):
        m = self.m
        cpu = m.cpu
        cpu.regs[:] = regs
        for i, v in enumerate(vecs):
            if hasattr(cpu, "set_vec"):
                cpu.set_vec(i, v)
            else:
                cpu.xmm[i] = v & ((1 << 128) - 1)
        cpu.set_rflags(flags)
        m.mem.write(SCRATCH, data)
        cpu.pc = self.entry
        cpu.tsc = 0
        try:
            m.run(until=self.end, max_steps=1000)
        except MachineFault as exc:
            return ("fault", exc.signal)
        except GoasmError as exc:
            return ("error", type(exc).__name__, re.sub(r" \(.*\)$", "", exc.message))
        vec = [cpu.get_vec(i) for i in range(32)] if hasattr(cpu, "get_vec") else list(cpu.xmm)
        return ("ok", list(cpu.regs), vec, cpu.get_rflags(), m.mem.read(SCRATCH, REGION),
                m.steps)


def _states():
    reg = st.one_of(st.integers(0, M64), st.sampled_from([0, 1, 2, M64, 1 << 63]))
    return st.tuples(st.lists(reg, min_size=16, max_size=16),
                     st.lists(st.integers(0, (1 << 256) - 1), min_size=16, max_size=16),
                     st.integers(0, 0xFFF), st.binary(min_size=REGION, max_size=REGION))


@pytest.mark.parametrize("name,raw,mnemonic", IDIOMS, ids=[i[0] for i in IDIOMS])
def test_raw_idiom_runs_like_the_mnemonic(name, raw, mnemonic):
    a, b = Runner(raw), Runner(mnemonic)
    seen = []

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_states())
    def check(state):
        regs, vecs, flags, data = state
        regs = list(regs)
        regs[4] = SCRATCH + 0x800                     # SP
        regs[6], regs[7] = SCRATCH + 0x100, SCRATCH + 0x200    # SI, DI
        flags = flags & 0xCD5                         # status flags only, DF clear
        want = b.run(regs, vecs, flags, data)
        got = a.run(regs, vecs, flags, data)
        assert got == want, f"{name}: raw {got[:2]} mnemonic {want[:2]}"
        seen.append(want[0])

    check()
    assert len(seen) >= 25


def test_raw_bytes_are_what_cmd_asm_emits(goroot, tmp_path):
    """The raw versions above are the bytes cmd/asm assembles the mnemonics to (one
    function per idiom; the listing's hex bytes of both must be equal)."""
    from goasm.conformance import assemble_lines

    def code(body: str) -> bytes:
        path = tmp_path / "f.s"
        path.write_text("TEXT f(SB), 516, $0\n" + body.replace(";", "\n") + "\n")
        return b"".join(assemble_lines(goroot, path).values())

    checked = 0
    for name, raw, mnemonic in IDIOMS:
        if "XADDQ" in mnemonic:
            continue                 # cmd/asm puts LOCK on its own line: same bytes anyway
        assert code(raw) == code(mnemonic), name
        checked += 1
    assert checked == len(IDIOMS) - 1


def _link_error(body: str) -> LinkError:
    with pytest.raises(LinkError) as exc:
        link_snippet(body)
    return exc.value


def test_undecodable_run_is_a_load_error_with_line_and_bytes():
    err = _link_error("NOP\nBYTE $0x0f; BYTE $0x01\nRET")
    assert err.pos.line == 3 and err.pos.file == "form.s"
    assert "0f01" in err.message and "whole instructions" in err.message
    err = _link_error("LONG $0xffffffff\nRET")
    assert "ffffffff" in err.message and err.pos.line == 2


def test_label_inside_a_decoded_instruction():
    err = _link_error("BYTE $0x48\nmid:\nBYTE $0xff; BYTE $0xc0\nJMP mid")
    assert err.pos.line == 3 and "mid" in err.message and "INCQ" in err.message


def test_raw_branch_must_land_on_a_boundary_of_its_run():
    # INCQ AX; JMP -4: back into the middle of the INCQ, which also runs from the top
    err = _link_error("BYTE $0x48; BYTE $0xff; BYTE $0xc0\nBYTE $0xeb; BYTE $0xfc\nRET")
    assert "inside the instruction INCQ" in err.message or "overlaps" in err.message
    assert err.pos.line in (2, 3)
    err = _link_error("BYTE $0xeb; BYTE $0x10\nRET")
    assert "outside the raw bytes" in err.message
    err = _link_error("NOP\nBYTE $0xeb; BYTE $0x00")
    assert "past the end of the function" in err.message


def test_data_after_a_jump_stays_data():
    """Execution never reaches bytes jumped over: they stay BYTE data, as for the CPU
    (crypto/internal/boring/sig writes a marker this way: JMP over 29 bytes, RET)."""
    body = ("BYTE $0xeb; BYTE $0x03\n"          # JMP +3
            "BYTE $0xff; BYTE $0xff; BYTE $0xff\n"   # not an instruction
            "BYTE $0x48; BYTE $0xff; BYTE $0xc0\n"   # INCQ AX
            "RET")
    image, entry, end = link_snippet(body)
    ops = [i.op for i in image.functions["main.f"].instrs]
    assert ops == ["JMP", "BYTE", "BYTE", "BYTE", "INCQ", "RET"]
    m = Machine(image)
    m.cpu.pc = entry
    m.run(until=image.functions["main.f"].instrs[-1].addr)      # stop at the RET
    assert m.cpu.regs[0] == 1
    # the same bytes reached by fall-through are an error
    err = _link_error("BYTE $0x90\nBYTE $0xff; BYTE $0xff; BYTE $0xff\nRET")
    assert "ffffff" in err.message


def test_rip_relative_raw_bytes_are_refused():
    err = _link_error("BYTE $0x48; BYTE $0x8b; BYTE $0x05; LONG $0\nRET")
    assert "RIP-relative" in err.message


def test_listing_shows_source_and_decoding(tmp_path):
    from goasm import api

    src = tmp_path / "sha.s"
    src.write_text("#include \"textflag.h\"\nTEXT ·f(SB), NOSPLIT, $0\n"
                   "\tLONG $0xd1cb380f\n\tBYTE $0x0f; BYTE $0x01\n\tBYTE $0xd0\n\tRET\n")
    text = api.expand([src])
    # as go tool asm -S lists them (one line per statement, Go's int64 operand), the
    # decoding beside the statement where it begins
    assert ("\tLONG\t$3519756303  // SHA256RNDS2\tX0, X1, X2\n"
            "\tBYTE\t$15  // XGETBV\n\tBYTE\t$1\n\tBYTE\t$208\n\tRET\n") in text
    image = api.load([src], runtime=False)
    fn = image.functions["main.f"]
    assert str(fn.instrs[0]) == "LONG $0xd1cb380f  // SHA256RNDS2\tX0, X1, X2"
    assert fn.instrs[1].pos.line == 4 and fn.instrs[1].source.startswith("BYTE $0xf")


def test_raw_run_with_nothing_to_decode_keeps_other_data():
    """A raw statement whose operand is not a constant (an address) is left as it is:
    executing it is an error that names it."""
    image, entry, end = link_snippet("QUAD $sym<>(SB)\nRET\nGLOBL sym<>(SB), 8, $8")
    assert image.functions["main.f"].instrs[0].op == "QUAD"


def test_runtime_goexit_nops_decode(tmp_path):
    """goasm's own runtime writes NOPs as BYTE $0x90 (runtime_s/asm_amd64.s goexit)."""
    from goasm import api

    image = api.load([Path(__file__).parent.parent / "examples" / "hello" / "hello.s"])
    goexit = image.functions["runtime.goexit"]
    assert [i.op for i in goexit.instrs][:2] == ["NOP", "CALL"]
    assert goexit.instrs[0].source == "BYTE $0x90"


def test_trace_and_errors_show_the_source_beside_the_decoding():
    import io

    from goasm.errors import UnimplementedError
    from goasm.trace import Tracer

    image, entry, end = link_snippet("LONG $0xd1cb380f\nWORD $0x03dc\nRET")
    m = Machine(image)
    m.cpu.pc = entry
    out = io.StringIO()
    with pytest.raises(UnimplementedError) as exc:     # x87: not implemented
        Tracer(m, None, out).run()
    lines = out.getvalue().splitlines()
    assert "LONG $0xd1cb380f  // SHA256RNDS2 X0, X1, X2" in lines[0]
    assert "form.s:2" in lines[0]
    assert "WORD $0x3dc  // FADDD (BX), F0" in lines[1] and "stopped here" in lines[1]
    assert str(exc.value) == ("form.s:3:1: unimplemented instruction FADDD "
                              "(WORD $0x3dc  // FADDD (BX), F0)")

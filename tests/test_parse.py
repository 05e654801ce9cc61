"""Front end: grammar + transformer → IR. Operand forms follow cmd/asm's parse.go;
expected values below were checked against ``go tool asm -S`` (Go 1.27)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm import ir
from goasm.errors import GoasmError, ParseError
from goasm.parse import parse_source

NOSPLIT = 4


def one(text: str):
    """The single statement of ``text``."""
    prog = parse_source(text, "t.s")
    assert len(prog.statements) == 1, prog.statements
    return prog.statements[0]


def args(text: str):
    return one(text).args


# ----------------------------------------------------------------------------- operands

@pytest.mark.parametrize("src, expected", [
    ("MOVQ AX, BX", (ir.Reg("AX"), ir.Reg("BX"))),
    ("MOVB AH, R15B", (ir.Reg("AH"), ir.Reg("R15B"))),
    ("MOVQ $42, AX", (ir.Imm(42), ir.Reg("AX"))),
    ("MOVQ $-1, AX", (ir.Imm(-1), ir.Reg("AX"))),
    ("MOVQ $0xffffffffffffffff, AX", (ir.Imm(-1), ir.Reg("AX"))),
    ("ANDQ $~15, SP", (ir.Imm(-16), ir.Reg("SP"))),
    ("SUBQ $(4*8+7), SP", (ir.Imm(39), ir.Reg("SP"))),
    ("MOVQ $(1<<3 | 1<<5), AX", (ir.Imm(40), ir.Reg("AX"))),
    ("MOVQ $1<<3 | 1<<5, AX", (ir.Imm(40), ir.Reg("AX"))),
    ("MOVB $'0', AL", (ir.Imm(48), ir.Reg("AL"))),
    ("MOVB $'\\n', AL", (ir.Imm(10), ir.Reg("AL"))),
    ("MOVQ 8(SP), AX", (ir.Mem(offset=8, base="SP"), ir.Reg("AX"))),
    ("MOVQ -8(SP), AX", (ir.Mem(offset=-8, base="SP"), ir.Reg("AX"))),
    ("MOVQ (AX), BX", (ir.Mem(base="AX"), ir.Reg("BX"))),
    ("MOVQ 16(AX)(BX*8), CX", (ir.Mem(offset=16, base="AX", index="BX", scale=8), ir.Reg("CX"))),
    ("MOVQ (AX*4), CX", (ir.Mem(index="AX", scale=4), ir.Reg("CX"))),
    ("MOVQ (TLS), AX", (ir.Mem(base="TLS"), ir.Reg("AX"))),
    ("MOVQ 0(CX)(TLS*1), AX", (ir.Mem(base="CX", index="TLS", scale=1), ir.Reg("AX"))),
    ("LEAQ (-64*1024+104)(SP), BX", (ir.Mem(offset=-65432, base="SP"), ir.Reg("BX"))),
    ("MOVL $0xf1, 0xf1", (ir.Imm(0xF1), ir.Mem(offset=0xF1))),
    ("MOVQ a+0(FP), AX", (ir.Mem(symbol="a", kind=ir.NameKind.PARAM), ir.Reg("AX"))),
    ("MOVQ AX, ret+16(FP)", (ir.Reg("AX"), ir.Mem(offset=16, symbol="ret", kind=ir.NameKind.PARAM))),
    ("MOVQ AX, x-8(SP)", (ir.Reg("AX"), ir.Mem(offset=-8, symbol="x", kind=ir.NameKind.AUTO))),
    ("MOVQ runtime·g0(SB), AX",
     (ir.Mem(symbol="runtime·g0", kind=ir.NameKind.EXTERN), ir.Reg("AX"))),
    ("MOVQ $runtime·g0(SB), AX",
     (ir.Addr(ir.Mem(symbol="runtime·g0", kind=ir.NameKind.EXTERN)), ir.Reg("AX"))),
    ("MOVQ foo<>+8(SB), AX",
     (ir.Mem(offset=8, symbol="foo", kind=ir.NameKind.STATIC), ir.Reg("AX"))),
    ("MOVQ internal∕cpu·X86+8(SB), AX",
     (ir.Mem(offset=8, symbol="internal∕cpu·X86", kind=ir.NameKind.EXTERN), ir.Reg("AX"))),
    ("CALL runtime·morestack<ABIInternal>(SB)",
     (ir.Mem(symbol="runtime·morestack", kind=ir.NameKind.EXTERN, abi="ABIInternal"),)),
    ("MOVQ foo+32(SP)(CX*2), DX",
     (ir.Mem(offset=32, symbol="foo", kind=ir.NameKind.AUTO, index="CX", scale=2), ir.Reg("DX"))),
    ("JMP bar<>+4(SB)(R11*4)",
     (ir.Mem(offset=4, symbol="bar", kind=ir.NameKind.STATIC, index="R11", scale=4),)),
    ("JMP 2(PC)", (ir.PCRel(2),)),
    ("JMP -4(PC)", (ir.PCRel(-4),)),
    ("JMP loop", (ir.LabelRef("loop"),)),
    ("JMP AX", (ir.Reg("AX"),)),
    ("JMP *AX", (ir.Reg("AX"),)),
    ("JMP *4(SP)", (ir.Mem(offset=4, base="SP"),)),
    ("JMP *(R12)(R13*4)", (ir.Mem(base="R12", index="R13", scale=4),)),
    ("MOVSD $(1.5), X0", (ir.FloatImm(1.5), ir.Reg("X0"))),
    ("MOVSD $-1.5, X0", (ir.FloatImm(-1.5), ir.Reg("X0"))),
    ("MOVSD $1e10, X0", (ir.FloatImm(1e10), ir.Reg("X0"))),
    ("V4FMADDPS 17(SP), [Z0-Z3], K2, Z0",
     (ir.Mem(offset=17, base="SP"), ir.RegList("Z0", "Z3"), ir.Reg("K2"), ir.Reg("Z0"))),
    ("MOVQ g, AX", (ir.Reg("R14"), ir.Reg("AX"))),
    ("SHLL CX, R11:AX", (ir.Reg("CX"), ir.Reg("AX"), ir.Reg("R11"))),
])
def test_operand_forms(src, expected):
    assert args(src) == expected


def test_suffixes_and_prefix_statements():
    ins = one("VADDPD.RU_SAE.Z Z1, Z2, K1, Z3")
    assert ins.op == "VADDPD" and ins.suffixes == ("RU_SAE", "Z")
    assert str(ins) == "VADDPD.RU_SAE.Z\tZ1, Z2, K1, Z3"
    prog = parse_source("LOCK; XADDL AX, (BX)\nREP; MOVSQ", "t.s")
    assert [s.op for s in prog.statements] == ["LOCK", "XADDL", "REP", "MOVSQ"]


def test_expression_rules_follow_cmd_asm():
    # `>>` takes a whole term as its count; `-` binds as a unary factor.
    assert args("MOVQ $(64 >> 2*2), AX")[0] == ir.Imm(4)
    assert args("MOVQ $-2*3, AX")[0] == ir.Imm(-6)
    assert args("MOVQ foo-8+4(SB), AX")[0].offset == -4
    assert args("MOVQ $0x7fffffffffffffff+1, AX")[0] == ir.Imm(-(1 << 63))
    assert args("MOVQ $0b1010|0o17, AX")[0] == ir.Imm(15)
    assert args("MOVQ $1_000, AX")[0] == ir.Imm(1000)


# ----------------------------------------------------------------------------- statements

def test_text_data_globl():
    src = '''#include "textflag.h"
TEXT ·add(SB), NOSPLIT|NOFRAME, $24-16
TEXT runtime·rt0_go<ABIInternal>(SB),NOSPLIT,$-8
TEXT foo<>(SB), $0
DATA msg<>+0(SB)/8, $"hello\\n\\x00\\x01"
DATA ptr<>+8(SB)/8, $msg<>(SB)
DATA f64<>(SB)/8, $1.5
GLOBL msg<>(SB), RODATA|NOPTR, $16
GLOBL big(SB), $4096
'''
    s = parse_source(src, "t.s").statements
    assert s[0] == ir.Text(ir.SymbolName("·add"), 24, 16, NOSPLIT | 512)
    assert s[1] == ir.Text(ir.SymbolName("runtime·rt0_go", abi="ABIInternal"), -8, None, NOSPLIT)
    assert s[2] == ir.Text(ir.SymbolName("foo", static=True), 0, None, None)
    assert s[3] == ir.Data(ir.SymbolName("msg", True), 0, 8, ir.StrImm(b"hello\n\x00\x01"))
    assert s[4].value == ir.Addr(ir.Mem(symbol="msg", kind=ir.NameKind.STATIC))
    assert s[5].value == ir.FloatImm(1.5)
    assert s[6] == ir.Globl(ir.SymbolName("msg", True), 16, 8 | 16)
    assert s[7] == ir.Globl(ir.SymbolName("big"), 4096, None)
    assert str(s[0]) == "TEXT\t·add(SB), NOSPLIT|NOFRAME, $24-16"
    assert str(s[3]) == 'DATA\tmsg<>(SB)/8, $"hello\\n\\x00\\x01"'


def test_labels_and_separators():
    prog = parse_source("a: b: MOVQ AX, BX; NOP\nc:\n\tRET ; ; \n", "t.s")
    kinds = [type(s).__name__ for s in prog.statements]
    assert kinds == ["Label", "Label", "Instr", "Instr", "Label", "Instr"]


def test_positions_point_at_source():
    prog = parse_source("TEXT ·f(SB), $0\n\tMOVQ\t$1, 8(SP)\nloop:\tJMP loop\n", "p.s")
    text, mov, label, jmp = prog.statements
    assert (mov.pos.file, mov.pos.line, mov.pos.col) == ("p.s", 2, 2)
    assert mov.args[1].pos.line == 2 and mov.args[1].pos.col == 11
    assert label.pos.line == 3 and jmp.pos.line == 3 and jmp.pos.col == 7


def test_positions_survive_macros_and_includes(tmp_path):
    (tmp_path / "inc.h").write_text("#define LOAD(r) MOVQ 0(r), r\n")
    (tmp_path / "m.s").write_text('#include "inc.h"\nTEXT ·f(SB), $0\n\tLOAD(AX)\n\tRET\n')
    from goasm.parse import parse_file

    prog = parse_file(tmp_path / "m.s")
    assert prog.statements[1] == ir.Instr("MOVQ", (ir.Mem(base="AX"), ir.Reg("AX")))
    assert prog.statements[1].pos.line == 3 and prog.statements[1].pos.file.endswith("m.s")


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("src, message", [
    ("MOVQ AX BX", "syntax error"),
    ("FOO AX", "unrecognized instruction 'FOO'"),
    ("MOVQ (SB), AX", "cannot reference SB without a symbol"),
    ("MOVQ 0(FP), AX", "cannot reference FP without a symbol"),
    ("MOVQ foo(AX), BX", "expected pseudo-register; found AX"),
    ("MOVQ $AX, BX", "prefix $ not allowed for register"),
    ("MOVQ foo, AX", "illegal or missing addressing mode for symbol foo"),
    ("MOVQ (foo), AX", "indirect through non-register foo"),
    ("MOVQ 8(AX)(BX*3), AX", "bad scale: 3"),
    ("MOVQ $1/0, AX", "division by zero"),
    ("MOVQ $(1, AX", "syntax error"),
    ("MOVQ SB, AX", "illegal use of pseudo-register SB"),
    ("MOVQ $99999999999999999999999, AX", "overflows uint64"),
    ("TEXT foo(SB), NOSPLIT, $0", "missing #include \"textflag.h\""),
    ("MOVQ 1 2, AX", "syntax error"),
    ("MOVQ @, AX", "unexpected character"),
    ("MOVQ $\"abc, AX", "literal not terminated"),
])
def test_errors_have_position_and_message(src, message):
    with pytest.raises(GoasmError) as info:
        parse_source("\n" + src + "\n", "bad.s")
    err = info.value
    assert message in err.message
    assert err.pos.file == "bad.s" and err.pos.line == 2 and err.pos.col >= 1
    rendered = err.render().splitlines()
    assert rendered[0].startswith("bad.s:2:")
    assert rendered[1] == src and rendered[2].strip() == "^"


# ----------------------------------------------------------------------------- round trip

REGS = ["AX", "BX", "CX", "DX", "SI", "DI", "BP", "R8", "R15", "SP"]
SYMS = ["foo", "runtime·g0", "·add", "internal∕cpu·X86", "a_b1"]

int64s = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
offsets = st.integers(min_value=-(1 << 31), max_value=(1 << 31) - 1)
regs = st.sampled_from(REGS).map(ir.Reg)
mems = st.one_of(
    st.builds(lambda o, b: ir.Mem(offset=o, base=b), offsets, st.sampled_from(REGS + ["TLS"])),
    st.builds(lambda o, b, i, s: ir.Mem(offset=o, base=b, index=i, scale=s),
              offsets, st.sampled_from(REGS), st.sampled_from(REGS[:-1]), st.sampled_from([1, 2, 4, 8])),
    st.builds(lambda o, n, k: ir.Mem(offset=o, symbol=n, kind=k), offsets, st.sampled_from(SYMS),
              st.sampled_from([ir.NameKind.EXTERN, ir.NameKind.STATIC])),
    st.builds(lambda o, n, k: ir.Mem(offset=o, symbol=n, kind=k), offsets, st.sampled_from(["a", "ret", "x"]),
              st.sampled_from([ir.NameKind.PARAM, ir.NameKind.AUTO])),
    st.builds(lambda o: ir.Mem(offset=o), st.integers(min_value=0, max_value=1 << 40)),
)
operands = st.one_of(
    regs, mems, st.builds(ir.Imm, int64s), mems.filter(lambda m: m.base != "TLS" and (m.base or m.symbol)).map(ir.Addr),
    st.builds(ir.FloatImm, st.floats(allow_nan=False, allow_infinity=False)),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["MOVQ", "ADDL", "LEAQ", "CMPXCHGQ", "VPADDD"]),
       st.lists(operands, min_size=0, max_size=3))
def test_round_trip_generated_operands(op, operands_):
    ins = ir.Instr(op, tuple(operands_))
    again = one(str(ins))
    assert again == ins, (str(ins), again)
    assert str(again) == str(ins)


@settings(max_examples=200)
@given(st.binary(max_size=40), st.integers(min_value=1, max_value=64), st.integers(0, 4096))
def test_round_trip_data_strings(data, width, offset):
    d = ir.Data(ir.SymbolName("s", True), offset, width, ir.StrImm(data))
    assert one(str(d)) == d


# ----------------------------------------------------------------------------- fuzzing

TOKENS = ["MOVQ", "TEXT", "DATA", "GLOBL", "JMP", "AX", "SP", "FP", "SB", "PC", "TLS", "$", "(", ")",
          "[", "]", ",", ":", ";", "*", "+", "-", "<", ">", "<>", "<<", ">>", "/", "~", "0", "8",
          "0x10", "1.5", "'a'", '"s"', "foo", "·", "#define", "#include", "#ifdef", "#endif",
          "\\", "\n", " ", "//", "/*", "*/", "x", "NOSPLIT", "|", "^", "%", "&", "@", "\t", "·f",
          "#undef", "#else", "A", "A(", "R11", "X0", "K1", "[Z0-Z3]", "$'", "\"", "'"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_fuzz_token_soup_only_goasm_errors(tokens):
    try:
        parse_source(" ".join(tokens), "fuzz.s")
    except GoasmError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_goasm_errors(data):
    try:
        parse_source(data.decode("utf-8", errors="replace"), "fuzz.s")
    except GoasmError:
        pass


MUTANTS = [
    "TEXT runtime·rt0_go(SB),NOSPLIT|NOFRAME|TOPFRAME,$0",
    "\tMOVQ\t$runtime·g0(SB), DI",
    "\tLEAQ\t(-64*1024)(SP), BX",
    "\tMOVQ\tBX, (g_stack+stack_lo)(DI)",
    "\tCMPL\tBX, $0x756E6547  // \"Genu\"",
    "\tJEQ 2(PC)",
    "\tVPGATHERDQ X12,(R13)(AX*2), X11",
    "DATA\truntime·mainPC+0(SB)/8,$runtime·main<ABIInternal>(SB)",
    "\tMOVQ\ta+0(FP), AX; PUSHQ AX",
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MUTANTS), st.data())
def test_fuzz_mutated_corpus_lines_only_goasm_errors(line, data):
    text = list('#include "textflag.h"\n' + line)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = data.draw(st.sampled_from(list("()$,:;*+-<>~#\\\"'·0aX\n") + ["(SB)", "(FP)"]))
        if action == "insert":
            text.insert(i, ch)
        elif text and i < len(text):
            if action == "delete":
                del text[i]
            else:
                text[i] = ch
    try:
        parse_source("".join(text), "mut.s")
    except GoasmError:
        pass


# ----------------------------------------------------------------------------- CLI

def _goasm(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "goasm", *argv], capture_output=True, text=True,
                          cwd=cwd)


def test_cli_parse_text_and_json(tmp_path):
    f = tmp_path / "f.s"
    f.write_text("TEXT ·f(SB), $0-8\n\tMOVQ a+0(FP), AX\n\tRET\n")
    out = _goasm("parse", str(f))
    assert out.returncode == 0, out.stderr
    assert "MOVQ\ta(FP), AX" in out.stdout
    js = _goasm("parse", "--json", str(f))
    data = json.loads(js.stdout)
    mov = data["statements"][1]
    assert mov["node"] == "Instr" and mov["op"] == "MOVQ"
    assert mov["pos"] == {"file": str(f), "line": 2, "col": 2}


def test_cli_parse_error_is_one_report_not_a_traceback(tmp_path):
    f = tmp_path / "bad.s"
    f.write_text("TEXT ·f(SB), $0\n\tMOVQ (FOO), AX\n")
    out = _goasm("parse", str(f))
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == f"goasm: {f}:2:8: indirect through non-register FOO"
    assert lines[1] == "\tMOVQ (FOO), AX" and lines[2] == "\t      ^"
    assert "Traceback" not in out.stderr


def test_cli_define_and_include(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "h.h").write_text("#define VAL 7\n")
    f = tmp_path / "f.s"
    f.write_text('#include "h.h"\n#ifdef EXTRA\nTEXT ·f(SB), $0\n\tMOVQ $VAL, AX\n#endif\n')
    out = _goasm("parse", "-I", str(tmp_path / "inc"), "-D", "EXTRA", str(f))
    assert out.returncode == 0, out.stderr
    assert "MOVQ\t$7, AX" in out.stdout

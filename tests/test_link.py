"""The loader (goasm.link): names, layout, DATA/GLOBL, labels, frames, prefixes, errors.

Expected values follow ``go tool asm -S`` / cmd/link behaviour (see the docstrings in
goasm/link.py); the line-by-line comparison with the real assembler is in
test_expand_oracle.py.
"""

from __future__ import annotations

import struct

import pytest

from goasm import ir
from goasm.errors import LinkError
from goasm.expand import expand_function, expand_image, function_to_json, image_to_json
from goasm.image import DATA_BASE, PAGE_SIZE, TEXT_BASE, SymKind, Target
from goasm.link import LinkUnit, link, path_to_prefix, qualify
from goasm.parse import parse_source

TEXTFLAG_H = """
#define NOPROF 1
#define DUPOK 2
#define NOSPLIT 4
#define RODATA 8
#define NOPTR 16
#define WRAPPER 32
#define NEEDCTXT 64
#define TLSBSS 256
#define NOFRAME 512
#define TOPFRAME 2048
"""

MORESTACK = ("runtime.morestack", "runtime.morestack_noctxt")


def unit(text: str, name: str = "a.s", package: str = "main") -> LinkUnit:
    return LinkUnit(parse_source(TEXTFLAG_H + text, name), package)


def line(n: int) -> int:
    """The file line of line ``n`` (1-based) of a test text, which follows the macros."""
    return TEXTFLAG_H.count("\n") + n


def build(*texts, natives=MORESTACK, **kw):
    units = [unit(t, f"f{i}.s") if isinstance(t, str) else t for i, t in enumerate(texts)]
    return link(units, natives=natives, **kw)


def link_error(*texts, **kw) -> LinkError:
    with pytest.raises(LinkError) as info:
        build(*texts, **kw)
    return info.value


def calls(image, name):
    return [i for i in image.functions[name].instrs if i.op == "CALL"]


def seg_bytes(image, addr, n):
    for seg in image.segments:
        if seg.addr <= addr < seg.addr + len(seg.data):
            return bytes(seg.data[addr - seg.addr: addr - seg.addr + n])
    raise AssertionError(hex(addr))


# --------------------------------------------------------------------------- names

def test_qualify_names():
    assert qualify("·add", "main") == "main.add"
    assert qualify("runtime·rt0_go", "main") == "runtime.rt0_go"
    assert qualify("internal∕cpu·X86", "runtime") == "internal/cpu.X86"
    assert qualify("·x", "example.com/a.b") == "example.com/a%2eb.x"
    assert path_to_prefix("crypto/internal/fips140/sha256") == "crypto/internal/fips140/sha256"


def test_symbol_names_and_written():
    image = build("""
TEXT ·add(SB), NOSPLIT, $0
	RET
TEXT runtime·thing(SB), NOSPLIT, $0
	CALL internal∕cpu·Init(SB)
	RET
TEXT internal∕cpu·Init(SB), NOSPLIT, $0
	RET
""")
    assert {"main.add", "runtime.thing", "internal/cpu.Init"} <= set(image.symbols)
    assert image.symbols["main.add"].written == "·add"
    call = next(i for i in image.functions["runtime.thing"].instrs if i.op == "CALL")
    assert call.args[0].symbol == "internal/cpu.Init"
    assert image.lookup("·add") is image.symbols["main.add"]


def test_package_prefix():
    image = link([unit("TEXT ·f(SB), NOSPLIT, $0\n\tRET\n", package="runtime")])
    assert "runtime.f" in image.functions


def test_static_symbols_are_file_local():
    a = "TEXT helper<>(SB), NOSPLIT, $0\n\tRET\nTEXT ·a(SB), NOSPLIT, $0\n\tCALL helper<>(SB)\n\tRET\n"
    b = "TEXT helper<>(SB), NOSPLIT, $0\n\tRET\nTEXT ·b(SB), NOSPLIT, $0\n\tCALL helper<>(SB)\n\tRET\n"
    image = build(a, b)
    assert image.symbols["helper<>"].file == "f0.s"
    assert image.symbols["helper<>#2"].file == "f1.s"
    assert image.symbols["helper<>#2"].written == "helper<>"
    assert calls(image, "main.a")[0].args[0].symbol == "helper<>"
    assert calls(image, "main.b")[0].args[0].symbol == "helper<>#2"
    # Go prints the branch as helper(SB), the TEXT as helper<>(SB) ... STATIC
    assert "CALL\thelper(SB)" in expand_function(image.functions["main.b"])
    assert expand_function(image.functions["helper<>#2"])[0] == \
        "TEXT\thelper<>(SB), NOSPLIT|NOFRAME|STATIC, $0"


def test_static_reference_to_other_file_is_undefined():
    err = link_error("TEXT ·a(SB), NOSPLIT, $0\n\tCALL helper<>(SB)\n\tRET\n",
                     "TEXT helper<>(SB), NOSPLIT, $0\n\tRET\n")
    assert "undefined symbol helper<>" in err.message
    assert (err.pos.file, err.pos.line) == ("f0.s", line(2))


def test_abi_selectors():
    image = link([unit("""
TEXT ·fi<ABIInternal>(SB), NOSPLIT, $0
	RET
TEXT ·g(SB), NOSPLIT, $0
	CALL ·fi(SB)
	CALL ·fi<ABIInternal>(SB)
	RET
""", package="runtime")])
    sym = image.symbols["runtime.fi"]
    assert sym.abi == "ABIInternal"
    found = calls(image, "runtime.g")
    assert found[0].args[0].symbol == found[1].args[0].symbol == "runtime.fi"
    assert "ABIInternal" in expand_function(image.functions["runtime.fi"])[0]


def test_both_abis_defined():
    image = link([unit("""
TEXT ·f(SB), NOSPLIT, $0
	RET
TEXT ·f<ABIInternal>(SB), NOSPLIT, $0
	NOP
	RET
TEXT ·g(SB), NOSPLIT, $0
	CALL ·f(SB)
	CALL ·f<ABIInternal>(SB)
	RET
""", package="runtime")])
    assert image.symbols["runtime.f"].abi == "ABI0"
    assert image.symbols["runtime.f<ABIInternal>"].abi == "ABIInternal"
    found = calls(image, "runtime.g")
    assert [c.args[0].symbol for c in found] == ["runtime.f", "runtime.f<ABIInternal>"]


def test_abi_internal_requires_nosplit():
    err = link_error("TEXT ·f<ABIInternal>(SB), $0\n\tRET\n")
    assert err.message == 'TEXT "main.f": ABIInternal requires NOSPLIT'
    assert err.pos.line == line(1)


# --------------------------------------------------------------------------- layout

def test_text_layout_alignment_and_indices():
    image = build("""
TEXT ·a(SB), NOSPLIT, $0
	NOP
	NOP
	RET
TEXT ·b(SB), NOSPLIT, $0
	RET
""")
    a, b = image.symbols["main.a"], image.symbols["main.b"]
    assert a.addr == TEXT_BASE and a.size == 3 and a.kind is SymKind.TEXT
    assert b.addr == TEXT_BASE + 16
    fn = image.functions["main.a"]
    assert [i.addr for i in fn.instrs] == [TEXT_BASE, TEXT_BASE + 1, TEXT_BASE + 2]
    assert [i.index for i in fn.instrs] == [0, 1, 2]
    assert all(i.size == 1 and i.func == "main.a" for i in fn.instrs)
    assert image.code[TEXT_BASE + 2].op == "RET"
    assert image.describe(TEXT_BASE + 2) == "main.a+0x2"
    assert image.files == ("f0.s",)


def test_natives_and_asm_wins():
    image = build("TEXT runtime·check(SB), NOSPLIT, $0\n\tRET\n",
                  natives=["runtime.check", ("runtime.newstack", 4), "runtime·args"])
    assert image.symbols["runtime.check"].kind is SymKind.TEXT
    ns = image.symbols["runtime.newstack"]
    assert ns.kind is SymKind.NATIVE and ns.size == 4 and ns.addr % 16 == 0
    assert image.symbols["runtime.args"].kind is SymKind.NATIVE
    assert ns.addr not in image.code


def test_entry_selection():
    image = build("TEXT main·main(SB), NOSPLIT, $0\n\tRET\n")
    assert image.entry == "main.main"
    image = build("TEXT _rt0_amd64_linux(SB), NOSPLIT, $0\n\tRET\nTEXT main·main(SB), NOSPLIT, $0\n\tRET\n")
    assert image.entry == "_rt0_amd64_linux"
    image = build("TEXT ·f(SB), NOSPLIT, $0\n\tRET\n", entry="·f")
    assert image.entry == "main.f"
    with pytest.raises(LinkError, match="entry symbol"):
        build("TEXT ·f(SB), NOSPLIT, $0\n\tRET\n", entry="nope")


# --------------------------------------------------------------------------- DATA / GLOBL

DATA_SRC = """
DATA ·ints+0(SB)/1, $0x11
DATA ·ints+1(SB)/1, $-1
DATA ·ints+2(SB)/2, $0x2233
DATA ·ints+4(SB)/4, $-2
DATA ·ints+8(SB)/8, $0x0102030405060708
GLOBL ·ints(SB), NOPTR, $16
DATA floats<>+0(SB)/4, $1.5
DATA floats<>+8(SB)/8, $-2.25
GLOBL floats<>(SB), RODATA, $16
DATA str<>+0(SB)/8, $"hi\\n"
GLOBL str<>(SB), RODATA, $8
DATA ptrs<>+0(SB)/8, $·ints(SB)
DATA ptrs<>+8(SB)/8, $str<>+2(SB)
DATA ptrs<>+16(SB)/8, $·f(SB)
GLOBL ptrs<>(SB), $24
GLOBL ·zero(SB), $40
GLOBL ·nozero(SB), NOPTR, $8
TEXT ·f(SB), NOSPLIT, $0
	MOVQ ·ints+8(SB), AX
	LEAQ str<>(SB), BX
	MOVQ $ptrs<>+8(SB), CX
	RET
"""


def test_data_contents_and_sections():
    image = build(DATA_SRC, data_symbols=[("runtime.g0", 400), ("·zero", 8)])
    s = image.symbols
    assert s["main.ints"].kind is SymKind.NOPTRDATA
    assert s["floats<>"].kind is SymKind.RODATA and s["str<>"].kind is SymKind.RODATA
    assert s["ptrs<>"].kind is SymKind.DATA
    assert s["main.zero"].kind is SymKind.BSS and s["main.zero"].size == 40   # GLOBL wins
    assert s["main.nozero"].kind is SymKind.NOPTRBSS
    assert s["runtime.g0"].kind is SymKind.BSS and s["runtime.g0"].size == 400
    assert seg_bytes(image, s["main.ints"].addr, 16) == bytes.fromhex(
        "11ff3322feffffff0807060504030201")
    assert seg_bytes(image, s["floats<>"].addr, 16) == (
        struct.pack("<f", 1.5) + bytes(4) + struct.pack("<d", -2.25))
    assert seg_bytes(image, s["str<>"].addr, 8) == b"hi\n\0\0\0\0\0"
    ptrs = seg_bytes(image, s["ptrs<>"].addr, 24)
    assert struct.unpack("<3Q", ptrs) == (s["main.ints"].addr, s["str<>"].addr + 2,
                                          s["main.f"].addr)
    rodata = [seg for seg in image.segments if seg.name == ".rodata"][0]
    assert not rodata.writable and rodata.addr == DATA_BASE
    assert all(seg.addr % PAGE_SIZE == 0 for seg in image.segments)
    assert all(seg.writable for seg in image.segments if seg.name != ".rodata")
    # references in code carry linked names
    ins = image.functions["main.f"].instrs
    assert ins[0].args[0].symbol == "main.ints" and ins[0].args[0].offset == 8
    assert ins[1].args[0].symbol == "str<>"
    assert ins[2].op == "LEAQ" and ins[2].args[0].symbol == "ptrs<>"   # progedit


def test_data_alignment():
    image = build("GLOBL a<>(SB), $3\nGLOBL b<>(SB), $8\nGLOBL c<>(SB), $64\nGLOBL d<>(SB), $1\n")
    s = image.symbols
    assert s["b<>"].addr % 8 == 0 and s["c<>"].addr % 32 == 0


@pytest.mark.parametrize("src,message,lineno", [
    ("DATA s<>+0(SB)/8, $1\nDATA s<>+4(SB)/4, $1\nGLOBL s<>(SB), RODATA, $8\n",
     "overlapping DATA entry for s<>", 2),
    ("DATA s<>+8(SB)/8, $1\nGLOBL s<>(SB), RODATA, $8\n", "outside the symbol", 1),
    ("DATA s<>+0(SB)/8, $1\n", "DATA for s<> without a GLOBL", 1),
    ("DATA s<>+0(SB)/3, $1\nGLOBL s<>(SB), $8\n", "bad int size for DATA argument: 3", 1),
    ("DATA s<>+0(SB)/2, $1.0\nGLOBL s<>(SB), $8\n", "bad float size for DATA argument: 2", 1),
    ('DATA s<>+0(SB)/2, $"abc"\nGLOBL s<>(SB), $8\n', "WriteString: bad string size: 2 < 3", 1),
    ("DATA s<>+0(SB)/4, $s<>(SB)\nGLOBL s<>(SB), $8\n", "bad addr size for DATA argument: 4", 1),
    ("GLOBL s<>(SB), $8\nGLOBL s<>(SB), $8\n", "symbol s<> redeclared", 2),
    ("DATA s<>+0(SB)/8, $·missing(SB)\nGLOBL s<>(SB), $8\n", "undefined symbol main.missing", 1),
])
def test_data_errors(src, message, lineno):
    err = link_error(src)
    assert message in err.message
    assert (err.pos.file, err.pos.line) == ("f0.s", line(lineno))


def test_data_duplicates_across_files():
    err = link_error("GLOBL ·x(SB), $8\n", "GLOBL ·x(SB), $8\n")
    assert "duplicated definition of symbol main.x" in err.message and err.pos.file == "f1.s"
    image = build("GLOBL ·x(SB), DUPOK, $8\n", "DATA ·x+0(SB)/8, $1\nGLOBL ·x(SB), DUPOK, $8\n")
    assert image.symbols["main.x"].file == "f0.s"


def test_undefined_symbols_strict_and_lenient():
    src = "TEXT ·f(SB), NOSPLIT, $0\n\tCALL ·g(SB)\n\tMOVQ runtime·x(SB), AX\n\tRET\n"
    err = link_error(src)
    assert err.message == "undefined symbol main.g"
    assert (err.pos.file, err.pos.line) == ("f0.s", line(2))
    image = build(src, strict=False)
    assert image.symbols["main.g"].kind is SymKind.UNDEF
    assert image.symbols["runtime.x"].kind is SymKind.UNDEF
    assert image.symbols["main.g"].addr not in image.code


def test_morestack_must_exist():
    err = link_error("TEXT ·f(SB), $0\n\tCALL ·f(SB)\n\tRET\n", natives=())
    assert err.message == "undefined symbol runtime.morestack_noctxt"
    assert err.pos.line == line(1)


def test_linker_section_symbols():
    image = build("TEXT ·f(SB), NOSPLIT, $0\n\tMOVQ $runtime·etext(SB), AX\n"
                  "\tMOVQ $runtime·end(SB), BX\n\tRET\nGLOBL ·v(SB), NOPTR, $8\n")
    assert image.symbols["runtime.etext"].addr >= image.symbols["main.f"].addr + 3
    assert image.symbols["runtime.end"].addr >= image.symbols["main.v"].addr + 8


def test_duplicate_text():
    err = link_error("TEXT ·f(SB), NOSPLIT, $0\n\tRET\nTEXT ·f(SB), NOSPLIT, $0\n\tRET\n")
    assert "symbol main.f redeclared" in err.message and err.pos.line == line(3)
    err = link_error("TEXT ·f(SB), NOSPLIT, $0\n\tRET\n", "TEXT ·f(SB), NOSPLIT, $0\n\tRET\n")
    assert "duplicated definition of symbol main.f" in err.message and err.pos.file == "f1.s"
    image = build("TEXT ·f(SB), DUPOK|NOSPLIT, $0\n\tRET\n",
                  "TEXT ·f(SB), DUPOK|NOSPLIT, $0\n\tNOP\n\tRET\n")
    assert len(image.functions["main.f"].instrs) == 1   # the first definition is kept


def test_float_constants_become_rodata():
    image = build("TEXT ·f(SB), NOSPLIT, $0\n\tMOVSD $1.5, X0\n\tMOVSS $1.5, X1\n"
                  "\tMOVSD $0.0, X2\n\tADDSD $1.5, X3\n\tRET\n")
    ins = image.functions["main.f"].instrs
    assert ins[0].args[0].symbol == "$f64.3ff8000000000000"
    assert ins[1].args[0].symbol == "$f32.3fc00000"
    assert ins[2].op == "XORPS" and ins[2].args == (ir.Reg("X2"), ir.Reg("X2"))
    assert ins[3].args[0].symbol == "$f64.3ff8000000000000"
    sym = image.symbols["$f64.3ff8000000000000"]
    assert sym.kind is SymKind.RODATA and seg_bytes(image, sym.addr, 8) == struct.pack("<d", 1.5)


# --------------------------------------------------------------------------- labels, branches

def test_labels_and_pc_relative():
    image = build("""
TEXT ·f(SB), NOSPLIT, $0
loop:
	DECQ AX
	JNE loop
	JMP 2(PC)
	NOP
	RET
""")
    ins = image.functions["main.f"].instrs
    jne, jmp = ins[1].args[0], ins[2].args[0]
    assert isinstance(jne, Target) and jne.index == 0 and jne.label == "loop"
    assert jne.addr == image.symbols["main.f"].addr
    assert jmp.index == 4 and jmp.label is None


def test_labels_are_function_scoped():
    image = build("""
TEXT ·a(SB), NOSPLIT, $0
x:	NOP
	JMP x
TEXT ·b(SB), NOSPLIT, $0
	NOP
x:	RET
	JMP x
""")
    assert image.functions["main.a"].instrs[1].args[0].index == 0
    assert image.functions["main.b"].instrs[2].args[0].index == 1


def test_pc_counts_source_instructions():
    """n(PC) counts FUNCDATA/PCDATA and prefix statements, before prologue insertion
    (asm.go asmJump); the target is where that instruction ends up."""
    image = build("""
TEXT ·f(SB), $8-0
	JMP 3(PC)
	PCDATA $0, $1
	LOCK
	XADDQ AX, (BX)
	CALL ·f(SB)
	RET
""")
    fn = image.functions["main.f"]
    jmp = next(i for i in fn.instrs if i.op == "JMP" and not i.synthetic)
    target = fn.instrs[jmp.args[0].index]
    assert target.op == "XADDQ" and target.prefixes == ()   # a branch target: not merged
    assert fn.instrs[target.index - 1].op == "LOCK"


@pytest.mark.parametrize("src,message,lineno", [
    ("TEXT ·f(SB), NOSPLIT, $0\n\tJMP nowhere\n\tRET\n", "undefined label nowhere", 2),
    ("TEXT ·f(SB), NOSPLIT, $0\na:\tJMP a\na:\tRET\n", 'label "a" multiply defined', 3),
    ("TEXT ·f(SB), NOSPLIT, $0\n\tJMP 3(PC)\n\tRET\n", "branch out of range", 2),
    ("TEXT ·f(SB), NOSPLIT, $0\n\tRET\n\tJMP -3(PC)\n", "branch out of range", 3),
    ("TEXT ·f(SB), NOSPLIT, $0\n\tJMP end\n\tRET\nend:\n", "undefined label end", 2),
])
def test_branch_errors(src, message, lineno):
    err = link_error(src)
    assert message in err.message
    assert (err.pos.file, err.pos.line) == ("f0.s", line(lineno))


def test_jump_to_jump_is_collapsed():
    """pass.go brloop: a branch to a JMP goes to the JMP's final target."""
    image = build("""
TEXT ·f(SB), NOSPLIT, $0
a:	JMP b
b:	JMP c
c:	JEQ a
	JMP x
x:	JMP x
	RET
""")
    ins = image.functions["main.f"].instrs
    assert [i.args[0].index for i in ins[:3]] == [2, 2, 2]
    # JMP x where x is a JMP loop: brloop gives up and span6 makes both self-branches
    assert ins[3].args[0].index == 3 and ins[4].args[0].index == 4


def test_branch_to_pcdata_goes_to_next_instruction():
    image = build("TEXT ·f(SB), NOSPLIT, $0\nx:\tPCDATA $0, $1\n\tNOP\n\tJMP x\n\tRET\n")
    ins = image.functions["main.f"].instrs
    assert [i.op for i in ins] == ["NOP", "JMP", "RET"]
    assert ins[1].args[0].index == 0


def test_mnemonic_aliases_are_canonical():
    image = build("TEXT ·f(SB), NOSPLIT, $0\n\tJAE 1(PC)\n\tJZ 1(PC)\n\tMOVD AX, X0\n\tRET\n")
    assert [i.op for i in image.functions["main.f"].instrs] == ["JCC", "JEQ", "MOVQ", "RET"]


# --------------------------------------------------------------------------- prefixes

def test_prefixes_merge():
    image = build("""
TEXT ·f(SB), NOSPLIT, $0
	LOCK
	XADDQ AX, (BX)
top:	REP; MOVSQ
	XACQUIRE; LOCK; XCHGL AX, (BX)
	JMP top
	RET
""")
    fn = image.functions["main.f"]
    ops = [(i.prefixes, i.op) for i in fn.instrs]
    assert ops == [(("LOCK",), "XADDQ"), (("REP",), "MOVSQ"), (("XACQUIRE", "LOCK"), "XCHGL"),
                   ((), "JMP"), ((), "RET")]
    assert fn.instrs[3].args[0].index == 1   # label on REP: the merged MOVSQ
    assert str(fn.instrs[0]) == "LOCK; XADDQ\tAX, (BX)"
    # expand prints prefixes on their own lines, as go tool asm -S does
    assert expand_function(fn)[1:] == [
        "LOCK", "XADDQ\tAX, (BX)", "REP", "MOVSQ", "XACQUIRE", "LOCK", "XCHGL\tAX, (BX)",
        "JMP\t2", "RET"]


def test_prefix_before_branch_target_is_kept_alone():
    image = build("TEXT ·f(SB), NOSPLIT, $0\n\tJMP 2(PC)\n\tREP\n\tMOVSB\n\tRET\n")
    ops = [(i.prefixes, i.op) for i in image.functions["main.f"].instrs]
    assert ops == [((), "JMP"), ((), "REP"), ((), "MOVSB"), ((), "RET")]


# --------------------------------------------------------------------------- frames

DESIGN = """
TEXT ·add(SB), $24-24
	MOVQ a+0(FP), AX
	PUSHQ AX
	MOVQ b+8(FP), BX
	POPQ AX
	ADDQ BX, AX
	MOVQ AX, x-8(SP)
	MOVQ AX, ret+16(FP)
	RET
"""


def test_design_example():
    image = build(DESIGN)
    fn = image.functions["main.add"]
    assert (fn.frame, fn.args, fn.bpsize) == (32, 24, 8)
    assert fn.flags & 4   # NOSPLIT added: small leaf
    ins = fn.instrs
    assert [i.synthetic for i in ins] == [True] * 3 + [False] * 7 + [True, True, False]
    a = ins[3].args[0]
    assert (a.base, a.offset, a.kind, a.symbol) == ("SP", 40, ir.NameKind.PARAM, "a")
    assert ins[5].args[0].offset == 56   # after PUSHQ
    x = ins[8].args[1]
    assert (x.base, x.offset, x.kind, x.symbol) == ("SP", 16, ir.NameKind.AUTO, "x")
    assert ins[9].args[1].offset == 56
    assert ins[0].pos.line == line(2)             # prologue: the TEXT's position
    assert ins[10].pos.line == ins[12].pos.line == line(10)   # epilogue: the RET's
    assert expand_function(fn)[0] == "TEXT\tmain.add(SB), NOSPLIT, $32-24"


def test_stack_split_small_frame():
    image = build("TEXT ·f(SB), $8-0\n\tCALL ·f(SB)\n\tRET\n")
    assert expand_function(image.functions["main.f"]) == [
        "TEXT\tmain.f(SB), $16-0",
        "MOVQ\t(TLS), R14", "CMPQ\tSP, 16(R14)", "JLS\t10",
        "PUSHQ\tBP", "MOVQ\tSP, BP", "SUBQ\t$8, SP",
        "CALL\tmain.f(SB)", "ADDQ\t$8, SP", "POPQ\tBP", "RET",
        "NOP", "CALL\truntime.morestack_noctxt(SB)", "JMP\t0",
    ]


def test_stack_split_medium_and_huge_frames():
    mid = build("TEXT ·f(SB), $200-0\n\tCALL ·f(SB)\n\tRET\n").functions["main.f"]
    assert expand_function(mid)[1:5] == ["MOVQ\t(TLS), R14", "LEAQ\t-80(SP), R12",
                                         "CMPQ\tR12, 16(R14)", "JLS\t11"]
    huge = build("TEXT ·f(SB), $5000-0\n\tCALL ·f(SB)\n\tRET\n").functions["main.f"]
    assert expand_function(huge)[1:7] == ["MOVQ\t(TLS), R14", "MOVQ\tSP, R12",
                                          "SUBQ\t$4880, R12", "JCS\t13", "CMPQ\tR12, 16(R14)",
                                          "JLS\t13"]


def test_needctxt_uses_morestack():
    fn = build("TEXT ·f(SB), NEEDCTXT, $0\n\tCALL ·f(SB)\n\tRET\n").functions["main.f"]
    assert "CALL\truntime.morestack(SB)" in expand_function(fn)


def test_leaf_rules():
    image = build("""
TEXT ·leaf(SB), $112-0
	RET
TEXT ·big(SB), $120-0
	RET
TEXT ·panics(SB), $104-0
	CALL runtime·panicdivide(SB)
	RET
TEXT ·panics2(SB), $112-0
	CALL runtime·panicdivide(SB)
	RET
TEXT ·frameless(SB), $0-8
	RET
TEXT ·negative(SB), $-8-8
	MOVQ a+0(FP), AX
	RET
TEXT ·negcall(SB), $-8-8
	MOVQ a+0(FP), AX
	CALL ·leaf(SB)
	RET
""", strict=False)
    f = image.functions
    nosplit, noframe = 4, 512
    assert f["main.leaf"].flags & nosplit and f["main.leaf"].frame == 120
    assert not f["main.big"].flags & nosplit            # 128 >= StackSmall
    assert f["main.panics"].flags & nosplit             # isZeroArgRuntimeCall
    assert not f["main.panics2"].flags & nosplit        # frame >= StackSmall-8
    assert f["main.frameless"].flags & noframe and f["main.frameless"].bpsize == 0
    assert f["main.negative"].frame == -8 and f["main.negative"].instrs[0].args[0].offset == 8
    assert f["main.negcall"].frame == 0 and f["main.negcall"].bpsize == 8
    assert expand_function(f["main.negative"])[0] == "TEXT\tmain.negative(SB), NOSPLIT|NOFRAME, $-8-8"


def test_noframe_with_locals():
    fn = build("TEXT ·f(SB), NOFRAME|NOSPLIT, $16-8\n\tMOVQ a+0(FP), AX\n"
               "\tMOVQ x-8(SP), BX\n\tRET\n").functions["main.f"]
    assert expand_function(fn)[1:] == ["SUBQ\t$16, SP", "MOVQ\ta+24(FP), AX",
                                       "MOVQ\tx+8(SP), BX", "ADDQ\t$16, SP", "RET"]


def test_ret_in_the_middle_and_retjmp():
    fn = build("""
TEXT ·f(SB), NOSPLIT, $16-0
	JEQ done
	RET
done:
	MOVQ x-8(SP), AX
	RET ·g(SB)
TEXT ·g(SB), NOSPLIT, $0
	RET
""").functions["main.f"]
    assert expand_function(fn)[1:] == [
        "PUSHQ\tBP", "MOVQ\tSP, BP", "SUBQ\t$16, SP", "JEQ\t7",
        "ADDQ\t$16, SP", "POPQ\tBP", "RET",
        "MOVQ\tx+8(SP), AX", "ADDQ\t$16, SP", "POPQ\tBP", "JMP\tmain.g(SB)"]
    # a branch to a RET reaches the first epilogue instruction
    fn2 = build("TEXT ·h(SB), NOSPLIT, $8-0\n\tJMP r\n\tNOP\nr:\tRET\n").functions["main.h"]
    assert fn2.instrs[3].args[0].index == 5 and fn2.instrs[5].op == "ADDQ"


def test_adjsp_lowering_and_tracking():
    fn = build("TEXT ·f(SB), NOSPLIT, $0-8\n\tADJSP $128\n\tMOVQ a+0(FP), AX\n"
               "\tADJSP $-128\n\tRET\n").functions["main.f"]
    assert expand_function(fn)[1:] == ["ADDQ\t$-128, SP", "MOVQ\ta+136(FP), AX",
                                       "SUBQ\t$-128, SP", "RET"]


@pytest.mark.parametrize("src,message,lineno", [
    ("TEXT ·f(SB), NOSPLIT, $8\n\tPUSHQ AX\n\tRET\n", "main.f: unbalanced PUSH/POP", 3),
    ("TEXT ·f(SB), NOSPLIT, $12\n\tRET\n", "unaligned stack size 20", 1),
    ("TEXT ·f(SB), NOSPLIT, $0\n\tADJSP $0\n\tRET\n", "invalid instruction: ADJSP $0", 2),
])
def test_frame_errors(src, message, lineno):
    err = link_error(src)
    assert err.message == message
    assert (err.pos.file, err.pos.line) == ("f0.s", line(lineno))


def test_unnamed_fp_is_an_error():
    # the parser rejects it already; the loader checks IR built by hand too
    prog = ir.Program((
        ir.Text(ir.SymbolName("·f"), 0, 8, 4),
        ir.Instr("MOVQ", (ir.Mem(offset=0, kind=ir.NameKind.PARAM), ir.Reg("AX"))),
        ir.Instr("RET"),
    ), file="hand.s")
    with pytest.raises(LinkError, match="cannot reference FP without a symbol"):
        link([LinkUnit(prog)])


def test_tls_rewrites():
    fn = build("TEXT ·f(SB), NOSPLIT, $0\n\tMOVQ TLS, CX\n\tMOVQ 0(CX)(TLS*1), AX\n"
               "\tMOVQ AX, 8(CX)(TLS*1)\n\tRET\n").functions["main.f"]
    assert expand_function(fn)[1:] == ["NOP", "MOVQ\t(TLS), AX", "MOVQ\tAX, 8(TLS)", "RET"]
    assert fn.instrs[1].args[0] == ir.Mem(base="TLS")


def test_byte_registers():
    fn = build("TEXT ·f(SB), NOSPLIT, $0\n\tMOVB AX, (DI)\n\tSETEQ SI\n\tMOVBQZX CX, DX\n"
               "\tRET\n").functions["main.f"]
    assert [i.args for i in fn.instrs[:3]] == [
        (ir.Reg("AL"), ir.Mem(base="DI")), (ir.Reg("SIB"),), (ir.Reg("CL"), ir.Reg("DX"))]


def test_instruction_outside_text():
    err = link_error("\tNOP\nTEXT ·f(SB), NOSPLIT, $0\n\tRET\n")
    assert "outside of a TEXT" in err.message and err.pos.line == line(1)


# --------------------------------------------------------------------------- expand output

def test_expand_image_and_json():
    image = build(DESIGN, "TEXT ·g(SB), NOSPLIT, $0\n\tRET\n")
    text = expand_image(image)
    assert text.startswith("TEXT\tmain.add(SB), NOSPLIT, $32-24\n\tPUSHQ\tBP\n")
    assert "\n\nTEXT\tmain.g(SB), NOSPLIT|NOFRAME, $0\n\tRET\n" in text
    assert "main.g" not in expand_image(image, files=["f0.s"])
    data = function_to_json(image.functions["main.add"])
    assert data["text"] == "TEXT\tmain.add(SB), NOSPLIT, $32-24"
    assert data["instrs"][3]["text"] == "MOVQ\ta+40(FP), AX"
    assert data["instrs"][0]["synthetic"] is True
    whole = image_to_json(image)
    assert {f["name"] for f in whole["functions"]} == {"main.add", "main.g"}
    assert any(s["name"] == "runtime.morestack" and s["kind"] == "native" for s in whole["symbols"])

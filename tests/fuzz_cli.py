"""A fuzzer of the whole ``goasm run`` path (issue #18): hypothesis writes programs --
random instructions with random operands, DATA/GLOBL of random sizes, random system
calls with random arguments -- and each one goes through ``goasm.cli.main`` exactly as
the command line would run it, under a step limit and a memory limit.

Every run must end with one of the README's exit statuses (the program's own 0-255, or
goasm's 1, 2, 124, 125) and never with an internal error (status 70, "internal error",
a Python traceback) or a hang (a single step or system call that the step limit cannot
stop). The runs share this one process, so its peak memory bounds them all:
tests/test_reliability_fuzz.py starts it and measures that.

``python tests/fuzz_cli.py [EXAMPLES] [SEED]`` (defaults: ``GOASM_FUZZ_EXAMPLES``,
else 100, and ``GOASM_FUZZ_SEED``, else 18). Exit status 0: all good; 1: a failing
program was found (printed, shrunk).
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from goasm import cli
from goasm.arch import amd64

STEPS = 20_000
MEMORY = "64M"
HANG_SECONDS = 20           # one run, wall clock: a hang is a failure

GPRS = ("AX", "BX", "CX", "DX", "SI", "DI", "BP", "R8", "R9", "R10", "R11", "R12", "R13",
        "R15", "SP")
XMMS = ("X0", "X1", "X2", "X7", "X15")
HIGH = 1 << 44

# Instructions by operand shape (Go's operand order: source first). The fuzzer also
# draws, rarely, from every mnemonic Go's assembler knows with any operands (most of
# those fail to load, status 1, or are unimplemented, status 125).
ALU = ("ADDQ", "ADDL", "SUBQ", "ADCQ", "SBBQ", "ANDQ", "ORQ", "XORQ", "CMPQ", "TESTQ",
       "MOVQ", "MOVL", "MOVW", "MOVB")
SHIFTS = ("SHLQ", "SHRQ", "SARQ", "ROLQ", "RORQ", "SHLL", "SARL", "BTQ", "BTSQ")
TO_REGISTER = ("IMULQ", "CMOVQEQ", "CMOVQLT", "BSFQ", "BSRQ", "POPCNTQ", "LZCNTQ",
               "TZCNTQ", "MOVBQSX", "MOVWQZX", "MOVLQSX", "MOVBLZX", "ANDNQ")
SSE = ("MOVOU", "PADDQ", "PXOR", "PCMPEQB", "MOVSD", "ADDSD", "SQRTSD", "MULSD", "DIVSD",
       "UCOMISD", "PUNPCKLBW", "PSHUFB", "AESENC", "PCLMULQDQ")
UNARY = ("INCQ", "DECQ", "NEGQ", "NOTQ", "MULQ", "DIVQ", "IDIVQ", "PUSHQ", "POPQ", "SETEQ",
         "SETHI", "BSWAPQ", "DIVL", "IMULQ", "MULB")
NO_OPERAND = ("CQO", "CDQ", "RDTSC", "CPUID", "NOP", "PUSHFQ", "POPFQ", "CLD", "STD",
              "REP; MOVSB", "REP; STOSQ", "REP; STOSB", "REP; LODSB", "REP; MOVSQ",
              "REPN; SCASB", "REP; CMPSB", "LFENCE", "PAUSE", "XLAT", "SYSCALL", "UD2",
              "INT $3", "HLT", "RET", "MOVSQ", "STOSB", "LODSQ")
# Linux x86-64 system call numbers: those goasm implements, some it does not, nonsense.
SYSCALLS = (0, 1, 9, 10, 11, 12, 13, 14, 24, 28, 35, 39, 60, 131, 158, 186, 204, 228, 231,
            2, 3, 56, 202, 230, 318, 435, 471, 472, 1000, 1 << 32, (1 << 64) - 1)
RANGE_SYSCALLS = (9, 10, 11, 28, 12)

U64 = (1 << 64) - 1
interesting_ints = st.one_of(
    st.integers(-4, 300),
    st.sampled_from([0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                     0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, U64, 4095, 4096, 4097,
                     1 << 20, 1 << 30, 1 << 40, 1 << 45, 1 << 47, 1 << 62, HIGH,
                     HIGH + 4096, -(1 << 31), -(1 << 63)]),
    st.integers(-(1 << 63), U64),
)
small_ints = st.one_of(st.integers(-2, 70), st.integers(-(1 << 31), (1 << 31) - 1))
sizes = st.one_of(st.integers(1, 80), st.integers(4000, 9000),
                  st.sampled_from([1 << 20, 1 << 30, 1_999_999_999]))
rare_sizes = st.sampled_from([0, 2_000_000_000, 2_000_000_001, 1 << 31, 1 << 33, 1 << 40,
                              -1, -64])


def imm(v: int) -> str:
    return f"${v}"


def chance(draw, one_in: int) -> bool:
    return draw(st.integers(0, one_in - 1)) == 0


@st.composite
def globls(draw, i: int):
    """``GLOBL sym<i><>`` of a random size and flags, with random DATA (rarely invalid)."""
    size = draw(rare_sizes) if chance(draw, 25) else draw(sizes)
    flags = draw(st.sampled_from(["NOPTR", "NOPTR", "RODATA|NOPTR", "0", "DUPOK|NOPTR"]))
    name = f"sym{i}<>"
    lines = []
    at = 0
    for _ in range(draw(st.integers(0, 3))):
        width = draw(st.sampled_from([1, 2, 4, 8, 8]))
        off = at + draw(st.integers(0, 16))
        if chance(draw, 30):
            off, width = draw(st.integers(-8, max(size, 0) + 8)), draw(st.sampled_from([3, 16]))
        elif off + width > size:
            break
        value = imm(draw(interesting_ints)) if draw(st.booleans()) else \
            '$"' + draw(st.text("abcxyz", max_size=width)) + '"'
        lines.append(f"DATA {name}+{off}(SB)/{width}, {value}")
        at = off + width
    lines.append(f"GLOBL {name}(SB), {flags}, ${size}")
    return "\n".join(lines)


BASES = ("R12", "R13", "SP")           # the prologue points R12/R13 into data


@st.composite
def memory(draw, nsyms: int):
    kind = draw(st.integers(0, 9))
    if kind <= 3 and nsyms:
        return f"sym{draw(st.integers(0, nsyms - 1))}<>+{draw(st.integers(0, 64))}(SB)"
    if kind <= 7:
        base = draw(st.sampled_from(BASES))
        disp = draw(st.integers(-16, 120)) if base != "SP" else draw(st.integers(0, 56))
        if chance(draw, 3):
            return f"{disp}({base})({draw(st.sampled_from(('AX', 'CX', 'DI')))}*" \
                   f"{draw(st.sampled_from([1, 2, 4, 8]))})"
        return f"{disp}({base})"
    return f"{draw(small_ints)}({draw(st.sampled_from(GPRS))})"


def reg(draw) -> str:
    return draw(st.sampled_from(GPRS[:-1] if not chance(draw, 40) else GPRS))


@st.composite
def syscall(draw, nsyms: int):
    """A system call: random number and arguments, or a range call (mmap, munmap,
    mprotect, madvise, brk) with addresses and lengths of every scale."""
    lines = []
    if draw(st.booleans()):
        nr = draw(st.sampled_from(RANGE_SYSCALLS))
        addr = draw(st.one_of(st.just(0), st.just(HIGH),
                              st.integers(0, 1 << 20).map(lambda k: HIGH + 4096 * k),
                              interesting_ints.map(lambda v: v & U64)))
        length = draw(st.one_of(st.sampled_from([1, 4096, 8192, 1 << 20, 1 << 30, 1 << 40,
                                                 1 << 46, 1 << 47, 1 << 63]),
                                interesting_ints.map(lambda v: v & U64)))
        third = draw(st.one_of(st.integers(0, 7), st.sampled_from([4, 8, 100]),
                               interesting_ints.map(lambda v: v & U64)))
        flags = draw(st.sampled_from([0x22, 0x32, 0x100022, 0x21, 0x2, 0]))
        args = [("DI", addr), ("SI", length), ("DX", third), ("R10", flags),
                ("R8", U64), ("R9", 0)]
    else:
        nr = draw(st.sampled_from(SYSCALLS))
        args = []
        for r in draw(st.lists(st.sampled_from(("DI", "SI", "DX", "R10", "R8", "R9")),
                               unique=True, max_size=6)):
            if nsyms and draw(st.integers(0, 2)) == 0:
                lines.append(f"\tLEAQ sym{draw(st.integers(0, nsyms - 1))}<>(SB), {r}")
            else:
                args.append((r, draw(interesting_ints) & U64))
    lines = [f"\tMOVQ ${nr}, AX"] + lines + [f"\tMOVQ ${v}, {r}" for r, v in args]
    lines.append("\tSYSCALL")
    return "\n".join(lines)


@st.composite
def operand_any(draw, nsyms: int):
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        return reg(draw)
    if kind == 2:
        return imm(draw(interesting_ints))
    if kind == 3:
        return draw(st.sampled_from(XMMS))
    return draw(memory(nsyms))


@st.composite
def instruction(draw, nsyms: int, labels: int):
    kind = draw(st.integers(0, 29))
    if kind <= 4:
        return draw(syscall(nsyms))
    if kind <= 6:
        return "\t" + draw(st.sampled_from(NO_OPERAND))
    if kind <= 9:
        op = draw(st.sampled_from(UNARY))
        return f"\t{op} {reg(draw) if draw(st.booleans()) else draw(memory(nsyms))}"
    if kind <= 11:
        jcc = draw(st.sampled_from(("JEQ", "JNE", "JLT", "JHI", "JCS", "JMP", "LOOP", "CALL")))
        return f"\t{jcc} l{draw(st.integers(0, labels - 1))}" if labels else "\tNOP"
    if kind == 12:                      # anything Go's assembler knows, any operands
        op = draw(st.sampled_from(sorted(amd64.MNEMONICS)))
        ops = draw(st.lists(operand_any(nsyms), max_size=3))
        return f"\t{op} {', '.join(ops)}".rstrip()
    if kind <= 14:
        op = draw(st.sampled_from(SHIFTS))
        src = "CX" if draw(st.booleans()) else imm(draw(st.integers(0, 70)))
        return f"\t{op} {src}, {reg(draw) if draw(st.booleans()) else draw(memory(nsyms))}"
    if kind <= 17:
        op = draw(st.sampled_from(TO_REGISTER))
        src = reg(draw) if draw(st.booleans()) else draw(memory(nsyms))
        return f"\t{op} {src}, {reg(draw)}"
    if kind <= 19:
        op = draw(st.sampled_from(SSE))
        src = draw(st.sampled_from(XMMS)) if draw(st.booleans()) else draw(memory(nsyms))
        extra = f"${draw(st.integers(0, 255))}, " if op in ("PCLMULQDQ",) else ""
        return f"\t{op} {extra}{src}, {draw(st.sampled_from(XMMS))}"
    if kind == 20:
        src = draw(memory(nsyms))
        return f"\tLEAQ {src}, {reg(draw)}"
    op = draw(st.sampled_from(ALU))
    src_kind = draw(st.integers(0, 2))
    wide = op in ("MOVQ",)
    if src_kind == 0:
        src = imm(draw(interesting_ints if wide else small_ints))
    elif src_kind == 1:
        src = reg(draw)
    else:
        return f"\t{op} {draw(memory(nsyms))}, {reg(draw)}"
    dst = reg(draw) if draw(st.booleans()) else draw(memory(nsyms))
    return f"\t{op} {src}, {dst}"


@st.composite
def programs(draw) -> str:
    nsyms = draw(st.integers(0, 3))
    data = [draw(globls(i)) for i in range(nsyms)]
    labels = draw(st.integers(0, 3))
    body = draw(st.lists(instruction(nsyms, labels), min_size=1, max_size=25))
    for i in range(labels):
        body.insert(draw(st.integers(0, len(body))), f"l{i}:")
    prologue = []
    if nsyms:
        prologue = [f"\tLEAQ sym{draw(st.integers(0, nsyms - 1))}<>(SB), R12",
                    f"\tLEAQ sym{draw(st.integers(0, nsyms - 1))}<>(SB), R13"]
    else:
        prologue = ["\tLEAQ 8(SP), R12", "\tLEAQ 16(SP), R13"]
    end = draw(st.sampled_from(["\tRET", "\tMOVQ $231, AX\n\tMOVQ $7, DI\n\tSYSCALL\n\tRET"]))
    frame = draw(st.sampled_from(["$64-0", "$64-0", "$0-0"]))
    flags = draw(st.sampled_from(["NOSPLIT", "NOSPLIT", "0", "NOSPLIT|NOFRAME"]))
    return ('#include "textflag.h"\n' + "\n".join(data) + "\n"
            f"TEXT ·main(SB), {flags}, {frame}\n" + "\n".join(prologue + body)
            + f"\n{end}\n")


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no result after {HANG_SECONDS} s")


def run_cli(path: str) -> tuple[int, str]:
    """``goasm run --max-steps STEPS --memory-limit MEMORY path`` in this process."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
    inp = io.TextIOWrapper(io.BytesIO(b"some input\n"), encoding="utf-8")
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = out, err, inp
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        status = cli.main(["run", "--max-steps", str(STEPS), "--memory-limit", MEMORY, path])
    finally:
        signal.alarm(0)
        sys.stdout, sys.stderr, sys.stdin = saved
    err.flush()
    return status, err.buffer.getvalue().decode("utf-8", "replace")


STATUSES: dict[int, int] = {}


def check(source: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.s")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        status, err = run_cli(path)
    STATUSES[status] = STATUSES.get(status, 0) + 1
    if os.environ.get("GOASM_FUZZ_VERBOSE"):
        print(f"--- status {status}: {err.splitlines()[:1]}", file=sys.stderr)
    assert "internal error" not in err and "Traceback" not in err, err
    assert 0 <= status <= 255, status
    if status in (1, 124, 125):
        assert err.startswith("goasm: ") or "goasm: " in err or err == "", (status, err)


def main(argv: list[str]) -> int:
    examples = int(argv[1]) if len(argv) > 1 else int(os.environ.get("GOASM_FUZZ_EXAMPLES",
                                                                     100))
    seed_value = int(argv[2]) if len(argv) > 2 else int(os.environ.get("GOASM_FUZZ_SEED", 18))

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate, Phase.shrink),
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def fuzz(source):
        check(source)

    try:
        fuzz()
    except Exception as exc:  # hypothesis printed the falsifying program
        print(f"fuzz_cli: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"fuzz_cli: {examples} programs, seed {seed_value}: no internal error; exit "
          f"statuses {dict(sorted(STATUSES.items()))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

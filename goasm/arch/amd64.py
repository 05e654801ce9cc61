"""amd64 architecture tables for goasm: registers, text flags, branch mnemonics.

Source of truth: Go's assembler guide (https://go.dev/doc/asm), the register names
that ``cmd/asm`` accepts for amd64 (``cmd/internal/obj/x86`` Register list plus the
pseudo-registers SB, FP, PC and the ``g`` alias of R14), and ``runtime/textflag.h``.
Tables are data: one entry per line.
"""

from __future__ import annotations

# General-purpose 64-bit registers in hardware encoding order (Intel SDM Vol. 2, 2.1.5).
GPR64 = (
    "AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI",
    "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
)

# Low-byte registers in encoding order; Go spells SPL/BPL/SIL/DIL as SPB/BPB/SIB/DIB.
GPR8 = (
    "AL", "CL", "DL", "BL", "SPB", "BPB", "SIB", "DIB",
    "R8B", "R9B", "R10B", "R11B", "R12B", "R13B", "R14B", "R15B",
)

# Legacy high-byte registers: bits 8-15 of AX, CX, DX, BX.
GPR8_HIGH = ("AH", "CH", "DH", "BH")

SEGMENT = ("CS", "SS", "DS", "ES", "FS", "GS")
SYSTEM = ("GDTR", "IDTR", "LDTR", "MSW", "TASK")

PSEUDO = ("SB", "FP", "PC")  # SP is both the hardware register and the pseudo-SP.


def _numbered(prefix: str, count: int) -> tuple:
    return tuple(f"{prefix}{i}" for i in range(count))


X87 = _numbered("F", 8)
MMX = _numbered("M", 8)
OPMASK = _numbered("K", 8)
XMM = _numbered("X", 32)
YMM = _numbered("Y", 32)
ZMM = _numbered("Z", 32)
CONTROL = _numbered("CR", 16)
DEBUG = _numbered("DR", 8)
TEST = _numbered("TR", 8)

REGISTERS = frozenset(
    GPR64 + GPR8 + GPR8_HIGH + SEGMENT + SYSTEM + X87 + MMX + OPMASK + XMM + YMM + ZMM
    + CONTROL + DEBUG + TEST + ("TLS",) + PSEUDO + ("g",)
)
"""Every name cmd/asm treats as a register on amd64 (``g`` is the ABIInternal alias of R14)."""

REGISTER_ALIASES = {"g": "R14"}

VECTOR_PREFIXES = ("X", "Y", "Z")

# runtime/textflag.h, in ascending bit order.
TEXTFLAGS = (
    ("NOPROF", 1),
    ("DUPOK", 2),
    ("NOSPLIT", 4),
    ("RODATA", 8),
    ("NOPTR", 16),
    ("WRAPPER", 32),
    ("NEEDCTXT", 64),
    ("TLSBSS", 256),
    ("NOFRAME", 512),
    ("REFLECTMETHOD", 1024),
    ("TOPFRAME", 2048),
    ("ABIWRAPPER", 4096),
)
TEXTFLAG = dict(TEXTFLAGS)

ABIS = ("ABI0", "ABIInternal")

VALID_SCALES = (1, 2, 4, 8)


def is_register(name: str) -> bool:
    """True when cmd/asm would read ``name`` as a register (pseudo-registers included)."""
    return name in REGISTERS


def canonical_register(name: str) -> str:
    """The register name goasm stores: ``g`` becomes ``R14``, everything else unchanged."""
    return REGISTER_ALIASES.get(name, name)


def is_jump(mnemonic: str) -> bool:
    """cmd/asm/internal/arch.jumpX86: names starting with J, CALL, LOOP*, XBEGIN are branches."""
    return mnemonic.startswith("J") or mnemonic == "CALL" or mnemonic.startswith("LOOP") \
        or mnemonic == "XBEGIN"

# Mnemonic aliases cmd/asm accepts for amd64 (cmd/asm/internal/arch archX86), alias -> canonical.
MNEMONIC_ALIASES = {
    "JA": "JHI",
    "JAE": "JCC",
    "JB": "JCS",
    "JBE": "JLS",
    "JC": "JCS",
    "JE": "JEQ",
    "JG": "JGT",
    "JHS": "JCC",
    "JL": "JLT",
    "JLO": "JCS",
    "JNA": "JLS",
    "JNAE": "JCS",
    "JNB": "JCC",
    "JNBE": "JHI",
    "JNC": "JCC",
    "JNG": "JLE",
    "JNGE": "JLT",
    "JNL": "JGE",
    "JNLE": "JGT",
    "JNO": "JOC",
    "JNP": "JPC",
    "JNS": "JPL",
    "JNZ": "JNE",
    "JO": "JOS",
    "JP": "JPS",
    "JPE": "JPS",
    "JPO": "JPC",
    "JS": "JMI",
    "JZ": "JEQ",
    "MASKMOVDQU": "MASKMOVOU",
    "MOVBELL": "MOVBEL",
    "MOVBEQQ": "MOVBEQ",
    "MOVBEWW": "MOVBEW",
    "MOVD": "MOVQ",
    "MOVDQ2Q": "MOVQ",
    "MOVNTDQ": "MOVNTO",
    "MOVOA": "MOVO",
    "PADDD": "PADDL",
    "PSLLDQ": "PSLLO",
    "PSRLDQ": "PSRLO",
}

# Distinct Go mnemonics that assemble to the same machine instruction, spelling -> the one
# goasm's decoder writes (cmd/internal/obj/x86/asm6.go optab: same opcode bytes and
# operand forms). Unlike MNEMONIC_ALIASES these are separate instructions in cmd/asm;
# goasm.decode.equiv treats them as one when comparing decoded and parsed text.
ENCODING_SYNONYMS = {
    "PSHUFD": "PSHUFL",          # {APSHUFD, yxshuf, Pq, 0x70} = {APSHUFL, yxshuf, Pq, 0x70}
    "SYSENTER64": "SYSENTER",    # REX.W 0F 34: the CPU ignores REX.W (SDM Vol. 2, SYSENTER)
}

# Condition codes in Go's spelling (suffix of Jcc/SETcc/CMOVxcc) -> the RFLAGS test
# (Intel SDM Vol. 1, Appendix B "EFLAGS Condition Codes").
CONDITIONS = {
    "CC": "CF == 0",                  # above or equal / not below (unsigned)
    "CS": "CF == 1",                  # below (unsigned)
    "EQ": "ZF == 1",
    "GE": "SF == OF",
    "GT": "ZF == 0 and SF == OF",
    "HI": "CF == 0 and ZF == 0",      # above (unsigned)
    "LE": "ZF == 1 or SF != OF",
    "LS": "CF == 1 or ZF == 1",       # below or equal (unsigned)
    "LT": "SF != OF",
    "MI": "SF == 1",
    "NE": "ZF == 0",
    "OC": "OF == 0",
    "OS": "OF == 1",
    "PC": "PF == 0",
    "PL": "SF == 0",
    "PS": "PF == 1",
}


def canonical_mnemonic(op: str) -> str:
    """The instruction cmd/asm assembles for ``op`` (aliases such as JAE -> JCC resolved)."""
    return MNEMONIC_ALIASES.get(op, op)


def _load_mnemonics() -> frozenset:
    from importlib import resources

    text = resources.files("goasm.arch").joinpath("amd64_mnemonics.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


MNEMONICS = _load_mnemonics()
"""Canonical mnemonics cmd/asm accepts on amd64 (data file ``amd64_mnemonics.txt``)."""


def is_mnemonic(op: str) -> bool:
    """True when cmd/asm knows ``op`` as an amd64 instruction (aliases included)."""
    return op in MNEMONICS or op in MNEMONIC_ALIASES

"""Differential test of goasm's SSE..SSE4.2, AES-NI, PCLMULQDQ and scalar/packed SSE
floating point against Unicorn, with the processor itself as the referee.

Oracle (DESIGN.md, "Oracles"): every form is assembled by ``go tool asm -S`` (all forms
in ONE run), its machine code executed in Unicorn (QEMU's x86 emulator, Icelake-Server
model) from hypothesis-generated states, and the same Plan 9 text executed by goasm.
XMM lanes, memory and registers are drawn per form from a flavour: integer lanes around
the lane boundaries, floating-point lanes rich in special values (±0, ±inf, quiet and
signalling NaNs with payloads, denormals, the largest finite values, values next to the
32/64-bit integer conversion limits and to rounding ties), or byte strings for the SSE4.2
string instructions. goasm must agree on all 16 GPRs, all 16 XMM registers, the six
status flags and DF, the scratch memory and faulting.

Where goasm and Unicorn disagree the state is run on the real CPU (a Go-built harness
that loads the whole register file, executes the same instruction and dumps it back,
started once per session): if the processor agrees with goasm the disagreement is
recorded as a Unicorn error and the state passes; otherwise the test fails. The harness
needs linux/amd64 with the instruction's CPUID feature; without it disagreements fail.

``GOASM_SSE_NATIVE=all`` runs every state on the processor too and compares goasm with
it directly (slower; for auditing Unicorn). A summary line (forms, states, mismatches,
Unicorn disagreements settled by the CPU) is written at the end of the session.
"""

from __future__ import annotations

import os
import platform
import random
import re
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

unicorn = pytest.importorskip("unicorn")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from unicorn import x86_const as X  # noqa: E402

from goasm.errors import MachineFault, UnimplementedError  # noqa: E402
from goasm.machine import flags as fl  # noqa: E402
from goasm.machine.machine import Machine  # noqa: E402
from snippets import link_snippet  # noqa: E402

CODE = 0x100000
SCRATCH = 0x200000
STACK = 0x300000
REGION = 0x1000
PTR_BASE = SCRATCH + 0x400
STACK_TOP = STACK + 0x800
M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
FLAGS = fl.CF | fl.PF | fl.AF | fl.ZF | fl.SF | fl.OF | fl.DF
GPR = ("AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8", "R9", "R10", "R11", "R12",
       "R13", "R14", "R15")
UC_GPR = tuple(getattr(X, f"UC_X86_REG_{n}") for n in
               ("RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10",
                "R11", "R12", "R13", "R14", "R15"))
UC_XMM = tuple(getattr(X, f"UC_X86_REG_XMM{i}") for i in range(16))
POINTERS = ("BX", "DI")        # registers that hold scratch addresses in every form


# --------------------------------------------------------------------------- forms

@dataclass
class Form:
    """One instruction under test: ``flavor`` picks the lane generator (``i1 i2 i4 i8``
    integer lanes of that many bytes, ``f64``/``f32`` floating point, ``str`` strings),
    ``setup(state, rng)`` adjusts a state, ``cpu`` the /proc/cpuinfo flag the real CPU
    needs to referee it; ``no_unicorn(state)`` is true for states Unicorn cannot run
    (they go to the CPU only)."""

    name: str
    body: str
    flavor: str = "i1"
    setup: object = None
    cpu: str = "sse2"
    no_unicorn: object = None


def _gpr_ints(state, rng):
    """DX, R11 and the memory at (BX): integers around the conversion edges."""
    edges = (0, 1, M64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF,
             0x8000000000000000, 0x1000001, 0x20000003, (1 << 53) + 1, (1 << 63) - 1,
             0xFFFFFFFF80000000, 0x0000000100000001, (1 << 24) + 1, M64 - (1 << 24))
    for r in (2, 11):
        state["regs"][r] = rng.choice(edges) if rng.random() < 0.4 else (
            rng.getrandbits(64) >> rng.randrange(0, 64))
        if rng.random() < 0.2:
            state["regs"][r] = (-rng.randrange(0, 1 << rng.randrange(1, 64))) & M64
    off = state["regs"][3] - SCRATCH
    state["scratch"][off:off + 8] = state["regs"][2].to_bytes(8, "little")


def _shift_count(state, rng):
    """Shift counts: X11's and (BX)'s low quadword small most of the time."""
    for i in (11,):
        if rng.random() < 0.8:
            state["xmm"][i] = (state["xmm"][i] & ~M64) | rng.randrange(0, 70)
    off = state["regs"][3] - SCRATCH
    if rng.random() < 0.8:
        state["scratch"][off:off + 8] = rng.randrange(0, 70).to_bytes(8, "little")


def _lengths(state, rng):
    """EAX/EDX: explicit string lengths (signed 32-bit, upper halves random)."""
    for r in (0, 2):
        v = rng.choice((rng.randrange(-20, 21), rng.randrange(-20, 21), 0x80000000,
                        0x7FFFFFFF, 16, 8, -16, rng.getrandbits(32)))
        high = rng.getrandbits(32) << 32 if rng.random() < 0.3 else 0
        state["regs"][r] = high | (v & 0xFFFFFFFF)


def _int_min_length(state) -> bool:
    """Unicorn 2.1 (QEMU's pcmp_elen: abs() of INT32_MIN stays negative) crashes the
    process on an explicit length of 0x80000000; the CPU saturates it to 16/8."""
    return any(state["regs"][r] & 0xFFFFFFFF == 0x80000000 for r in (0, 2))


def _maskmov(state, rng):
    state["regs"][7] = SCRATCH + 0x600 + rng.randrange(0, 40)


def build_forms() -> list[Form]:
    forms: list[Form] = []

    def add(name, body, flavor="i1", setup=None, cpu="sse2", no_unicorn=None):
        forms.append(Form(name, body, flavor, setup, cpu, no_unicorn))

    def binary(op, flavor, cpu="sse2", mem=True, same=True):
        add(f"{op} X11,X2", f"{op} X11, X2", flavor, cpu=cpu)
        if same:
            add(f"{op} X2,X2", f"{op} X2, X2", flavor, cpu=cpu)
        if mem:
            add(f"{op} m,X11", f"{op} (BX), X11", flavor, cpu=cpu)

    def with_imm(op, imms, flavor, cpu="sse2", mem=True, last=False):
        for imm in imms:
            if last:
                add(f"{op} X11,X2,${imm}", f"{op} X11, X2, ${imm}", flavor, cpu=cpu)
            else:
                add(f"{op} ${imm},X11,X2", f"{op} ${imm}, X11, X2", flavor, cpu=cpu)
        if mem:
            imm = imms[-1]
            if last:
                add(f"{op} m,X2,${imm}", f"{op} (BX), X2, ${imm}", flavor, cpu=cpu)
            else:
                add(f"{op} ${imm},m,X2", f"{op} ${imm}, (BX), X2", flavor, cpu=cpu)

    # ---- moves
    for text in ("MOVQ DX, X2", "MOVQ X11, R11", "MOVL DX, X2", "MOVL X11, R11",
                 "MOVQ X11, X2", "MOVQ (BX), X2", "MOVQ X11, (BX)", "MOVL (BX), X2",
                 "MOVL X2, 4(BX)", "MOVOU 8(BX), X2", "MOVOU X11, 24(BX)", "MOVO (BX), X2",
                 "MOVO X2, 16(BX)", "MOVOA (BX), X11", "MOVD DX, X11", "MOVD X11, DX",
                 "MOVSD X11, X2", "MOVSD (BX), X2", "MOVSD X2, 8(BX)", "MOVSS X11, X2",
                 "MOVSS 4(BX), X2", "MOVSS X2, 12(BX)", "MOVHPD (BX), X2",
                 "MOVHPD X11, 8(BX)", "MOVLPD (BX), X2", "MOVLPD X11, 8(BX)",
                 "MOVHPS (BX), X2", "MOVHPS X11, 8(BX)", "MOVLPS (BX), X11",
                 "MOVLPS X2, 8(BX)", "MOVHLPS X11, X2", "MOVLHPS X11, X2",
                 "MOVHLPS X2, X2", "MOVDDUP X11, X2", "MOVDDUP 8(BX), X2",
                 "MOVSHDUP X11, X2", "MOVSHDUP (BX), X2", "MOVSLDUP X11, X2",
                 "MOVSLDUP (BX), X2", "MOVNTDQA (BX), X11", "LDDQU 3(BX), X2",
                 "MOVUPS 5(BX), X2", "MOVAPD X11, X2", "MOVNTO X2, (BX)"):
        add(text, text, "f32" if "PS" in text or "SS" in text else "f64",
            cpu="sse4_1" if "NTDQA" in text else "sse2")
    for text in ("MOVMSKPS X11, DX", "MOVMSKPD X2, R11", "PMOVMSKB X11, DX",
                 "PMOVMSKB X2, R11"):
        add(text, text, "i1")
    add("MASKMOVOU X11, X2", "MASKMOVOU X11, X2", "i1", setup=_maskmov)
    add("MASKMOVOU X2, X2", "MASKMOVOU X2, X2", "i1", setup=_maskmov)

    # ---- bitwise (existing) and integer arithmetic
    for op in ("PXOR", "PAND", "POR", "PANDN", "XORPS", "ANDPD", "ANDNPS", "ORPD"):
        binary(op, "i4", same=op in ("PXOR", "PANDN"))
    for s, w in (("B", "i1"), ("W", "i2"), ("L", "i4"), ("Q", "i8")):
        for op in ("PADD", "PSUB"):
            binary(op + s, w)
        binary("PCMPEQ" + s, w, cpu="sse4_1" if s == "Q" else "sse2")
        binary("PCMPGT" + s, w, cpu="sse4_2" if s == "Q" else "sse2")
    binary("PADDD", "i4")
    for op, w in (("PADDSB", "i1"), ("PADDSW", "i2"), ("PADDUSB", "i1"), ("PADDUSW", "i2"),
                  ("PSUBSB", "i1"), ("PSUBSW", "i2"), ("PSUBUSB", "i1"), ("PSUBUSW", "i2"),
                  ("PMULLW", "i2"), ("PMULHW", "i2"), ("PMULHUW", "i2"), ("PMULULQ", "i4"),
                  ("PMADDWL", "i2"), ("PAVGB", "i1"), ("PAVGW", "i2"), ("PSADBW", "i1"),
                  ("PMINUB", "i1"), ("PMAXUB", "i1"), ("PMINSW", "i2"), ("PMAXSW", "i2"),
                  ("PACKSSWB", "i2"), ("PACKSSLW", "i4"), ("PACKUSWB", "i2"),
                  ("PUNPCKLBW", "i1"), ("PUNPCKLWL", "i2"), ("PUNPCKLLQ", "i4"),
                  ("PUNPCKLQDQ", "i8"), ("PUNPCKHBW", "i1"), ("PUNPCKHWL", "i2"),
                  ("PUNPCKHLQ", "i4"), ("PUNPCKHQDQ", "i8")):
        binary(op, w, same=False)
    for op, w in (("PSHUFB", "i1"), ("PSIGNB", "i1"), ("PSIGNW", "i2"), ("PSIGND", "i4"),
                  ("PABSB", "i1"), ("PABSW", "i2"), ("PABSD", "i4"), ("PHADDW", "i2"),
                  ("PHADDD", "i4"), ("PHADDSW", "i2"), ("PHSUBW", "i2"), ("PHSUBD", "i4"),
                  ("PHSUBSW", "i2"), ("PMADDUBSW", "i1"), ("PMULHRSW", "i2")):
        # same register: QEMU's horizontal ops overwrite dst before reading src
        binary(op, w, cpu="ssse3", same=op.startswith(("PH", "PSHUFB")))
    for op, w in (("PMULLD", "i4"), ("PMULDQ", "i4"), ("PMINSB", "i1"), ("PMAXSB", "i1"),
                  ("PMINUW", "i2"), ("PMAXUW", "i2"), ("PMINUD", "i4"), ("PMAXUD", "i4"),
                  ("PMINSD", "i4"), ("PMAXSD", "i4"), ("PACKUSDW", "i4"),
                  ("PHMINPOSUW", "i2"), ("PTEST", "i8")):
        binary(op, w, cpu="sse4_1", same=op == "PTEST")
    for src, dst in (("BW", 2), ("BD", 4), ("BQ", 8), ("WD", 4), ("WQ", 8), ("DQ", 8)):
        for k in ("S", "Z"):
            op = f"PMOV{k}X{src}"
            add(f"{op} X11,X2", f"{op} X11, X2", "i1", cpu="sse4_1")
            add(f"{op} m,X2", f"{op} 3(BX), X2", "i1", cpu="sse4_1")

    # ---- shifts
    for op, w in (("PSLLW", "i2"), ("PSLLL", "i4"), ("PSLLQ", "i8"), ("PSRLW", "i2"),
                  ("PSRLL", "i4"), ("PSRLQ", "i8"), ("PSRAW", "i2"), ("PSRAL", "i4")):
        for n in (0, 1, 7, 15, 16, 31, 33, 63, 64, 127):
            add(f"{op} ${n},X2", f"{op} ${n}, X2", w)
        add(f"{op} X11,X2", f"{op} X11, X2", w, setup=_shift_count)
        add(f"{op} m,X2", f"{op} (BX), X2", w, setup=_shift_count)
    for op in ("PSLLO", "PSRLO", "PSLLDQ", "PSRLDQ"):
        for n in (0, 1, 5, 15, 16, 127):
            add(f"{op} ${n},X2", f"{op} ${n}, X2", "i1")

    # ---- shuffles, blends, insert/extract
    with_imm("PALIGNR", (0, 3, 15, 16, 17, 31, 32, 200), "i1", cpu="ssse3")
    for op in ("PSHUFD", "PSHUFL", "PSHUFHW", "PSHUFLW"):
        with_imm(op, (0x1B, 0xE4, 0x4E, 0xFF), "i2")
    with_imm("PBLENDW", (0, 0x5A, 0xFF), "i2", cpu="sse4_1")
    with_imm("MPSADBW", (0, 1, 2, 7), "i1", cpu="sse4_1")
    for op in ("BLENDPS", "BLENDPD"):
        with_imm(op, (0, 5, 0xF), "f32", cpu="sse4_1")
    with_imm("SHUFPS", (0x1B, 0xE4, 0x4E), "f32")
    with_imm("SHUFPD", (0, 1, 2, 3), "f64")
    for op in ("UNPCKLPS", "UNPCKHPS", "UNPCKLPD", "UNPCKHPD"):
        binary(op, "f32", same=False)
    for op, flavor in (("PBLENDVB", "i1"), ("BLENDVPS", "f32"), ("BLENDVPD", "f64")):
        add(f"{op} X0,X11,X2", f"{op} X0, X11, X2", flavor, cpu="sse4_1")
        add(f"{op} X0,m,X2", f"{op} X0, (BX), X2", flavor, cpu="sse4_1")
    with_imm("INSERTPS", (0, 0x1B, 0x4E, 0xC2, 0xF0, 0x3F), "f32", cpu="sse4_1")
    for op, imms, cpu in (("PINSRB", (0, 7, 15, 31), "sse4_1"), ("PINSRW", (0, 5, 9), "sse2"),
                          ("PINSRD", (0, 3, 6), "sse4_1"), ("PINSRQ", (0, 1, 3), "sse4_1")):
        for imm in imms:
            add(f"{op} ${imm},DX,X2", f"{op} ${imm}, DX, X2", "i1", cpu=cpu)
        add(f"{op} ${imms[1]},m,X11", f"{op} ${imms[1]}, 5(BX), X11", "i1", cpu=cpu)
    for op, imms, cpu in (("PEXTRB", (0, 7, 15, 31), "sse4_1"), ("PEXTRW", (0, 5, 9), "sse2"),
                          ("PEXTRD", (0, 3, 6), "sse4_1"), ("PEXTRQ", (0, 1, 3), "sse4_1"),
                          ("EXTRACTPS", (0, 1, 2, 3), "sse4_1")):
        for imm in imms:
            add(f"{op} ${imm},X11,DX", f"{op} ${imm}, X11, DX", "i1", cpu=cpu)
        add(f"{op} ${imms[1]},X2,m", f"{op} ${imms[1]}, X2, 5(BX)", "i1", cpu=cpu)
    add("PEXTRW $3,X2,m", "PEXTRW $3, X2, 6(BX)", "i1", cpu="sse4_1")

    # ---- floating point
    for suffix, flavor in (("SD", "f64"), ("SS", "f32"), ("PD", "f64"), ("PS", "f32")):
        for op in ("ADD", "SUB", "MUL", "DIV", "MIN", "MAX", "SQRT"):
            binary(op + suffix, flavor, same=op in ("ADD", "SUB", "MIN", "MUL"))
        with_imm("CMP" + suffix, (0, 1, 2, 3, 4, 5, 6, 7, 12), flavor, last=True)
        with_imm("ROUND" + suffix, (0, 1, 2, 3, 4, 9, 10, 11), flavor, cpu="sse4_1")
    for op in ("COMISD", "UCOMISD", "COMISS", "UCOMISS"):
        binary(op, "f64" if op.endswith("D") else "f32", same=True)
    for op in ("ADDSUBPD", "HADDPD", "HSUBPD"):
        binary(op, "f64", cpu="pni", same=op != "ADDSUBPD")
    for op in ("ADDSUBPS", "HADDPS", "HSUBPS"):
        binary(op, "f32", cpu="pni", same=op != "ADDSUBPS")
    with_imm("DPPD", (0x31, 0x33, 0xFF, 0x12), "f64", cpu="sse4_1")
    with_imm("DPPS", (0xF1, 0xFF, 0x3C, 0x95, 0x7F), "f32", cpu="sse4_1")
    for op, flavor in (("CVTSD2SL", "f64"), ("CVTSD2SQ", "f64"), ("CVTTSD2SL", "f64"),
                       ("CVTTSD2SQ", "f64"), ("CVTSS2SL", "f32"), ("CVTSS2SQ", "f32"),
                       ("CVTTSS2SL", "f32"), ("CVTTSS2SQ", "f32")):
        add(f"{op} X11,DX", f"{op} X11, DX", flavor)
        add(f"{op} m,R11", f"{op} 8(BX), R11", flavor)
    for op in ("CVTSL2SD", "CVTSQ2SD", "CVTSL2SS", "CVTSQ2SS"):
        add(f"{op} DX,X2", f"{op} DX, X2", "f64", setup=_gpr_ints)
        add(f"{op} R11,X11", f"{op} R11, X11", "f64", setup=_gpr_ints)
        add(f"{op} m,X2", f"{op} (BX), X2", "f64", setup=_gpr_ints)
    for op, flavor in (("CVTSD2SS", "f64"), ("CVTSS2SD", "f32"), ("CVTPD2PS", "f64"),
                       ("CVTPS2PD", "f32"), ("CVTPD2PL", "f64"), ("CVTTPD2PL", "f64"),
                       ("CVTPS2PL", "f32"), ("CVTTPS2PL", "f32"), ("CVTPL2PD", "i4"),
                       ("CVTPL2PS", "i4")):
        binary(op, flavor, same=False)

    # ---- crypto
    for op in ("AESENC", "AESENCLAST", "AESDEC", "AESDECLAST", "AESIMC"):
        binary(op, "i1", cpu="aes", same=op == "AESENC")
    with_imm("AESKEYGENASSIST", (0, 1, 0x1B, 0x36, 0xFF), "i1", cpu="aes")
    with_imm("PCLMULQDQ", (0x00, 0x01, 0x10, 0x11, 0xFE), "i8", cpu="pclmulqdq")

    for op in ("SHA1NEXTE", "SHA1MSG1", "SHA1MSG2", "SHA256MSG1", "SHA256MSG2"):
        binary(op, "i4", cpu="sha_ni", same=op == "SHA1MSG1")
    with_imm("SHA1RNDS4", (0, 1, 2, 3), "i4", cpu="sha_ni")
    add("SHA256RNDS2 X0,X11,X2", "SHA256RNDS2 X0, X11, X2", "i4", cpu="sha_ni")
    add("SHA256RNDS2 X0,m,X2", "SHA256RNDS2 X0, (BX), X2", "i4", cpu="sha_ni")
    for s, w in (("B", 1), ("W", 2), ("L", 4), ("Q", 8)):
        add(f"CRC32{s} R11,DX", f"CRC32{s} R11, DX", "i8", setup=_gpr_ints, cpu="sse4_2")
        add(f"CRC32{s} m,R11", f"CRC32{s} 3(BX), R11", "i8", setup=_gpr_ints, cpu="sse4_2")
    add("CRC32B DL,R11", "CRC32B DL, R11", "i8", setup=_gpr_ints, cpu="sse4_2")

    # ---- legacy SSE alignment: a 16-byte memory operand must be 16-byte aligned (#GP)
    # unless the instruction says otherwise; Unicorn does not check, the CPU referees.
    for text in ("PADDB 8(BX), X2", "ADDPD 8(BX), X2", "PTEST 4(BX), X2", "MOVO 8(BX), X2",
                 "MOVO X2, 4(BX)", "AESENC 8(BX), X2", "PSHUFB 1(BX), X2",
                 "MOVSHDUP 8(BX), X2", "PUNPCKLBW 8(BX), X2", "PCLMULQDQ $0, 8(BX), X2",
                 "DPPS $0xff, 4(BX), X2", "ROUNDPD $0, 8(BX), X2", "CMPPS 4(BX), X2, $1",
                 "PSLLW 8(BX), X2", "MOVNTDQA 8(BX), X2", "PHMINPOSUW 8(BX), X2",
                 "PXOR 8(BX), X2", "SHA1MSG1 8(BX), X2", "PBLENDVB X0, 8(BX), X2",
                 "CVTPD2PS 8(BX), X2", "PSHUFD $0, 8(BX), X2", "MOVNTO X2, 8(BX)",
                 # no alignment required:
                 "ADDSD 4(BX), X2", "MOVSD 3(BX), X2", "COMISS 1(BX), X2",
                 "CVTPS2PD 4(BX), X2", "CVTPL2PD 4(BX), X2", "PMOVZXBW 1(BX), X2",
                 "ROUNDSD $1, 4(BX), X2", "PINSRQ $1, 4(BX), X2", "MOVHPD 4(BX), X2",
                 "MOVDDUP 4(BX), X2", "INSERTPS $0x10, 2(BX), X2", "PCMPISTRI $0, 1(BX), X2",
                 "LDDQU 1(BX), X2", "MOVUPD 8(BX), X2", "MOVOU X2, 1(BX)"):
        cpu = "sha_ni" if "SHA" in text else "pclmulqdq" if "PCLMUL" in text else \
            "aes" if "AES" in text else "sse4_2" if "PCMP" in text else "sse4_1"
        add("align " + text, text, "f64" if "PD" in text or "SD" in text else "i4",
            cpu=cpu)

    # ---- SSE4.2 strings
    for op in ("PCMPESTRI", "PCMPESTRM", "PCMPISTRI", "PCMPISTRM"):
        setup = _lengths if "E" in op[4:6] else None
        for imm in (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
                    0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x14, 0x18, 0x1C, 0x30, 0x34, 0x38, 0x3A,
                    0x3C, 0x3D, 0x40, 0x44, 0x48, 0x4C, 0x70, 0x7C):
            add(f"{op} ${imm:#x},X11,X2", f"{op} ${imm:#x}, X11, X2", "str", setup=setup,
                cpu="sse4_2", no_unicorn=_int_min_length)
        add(f"{op} $0x0c,m,X2", f"{op} $0x0c, 5(BX), X2", "str", setup=setup, cpu="sse4_2",
            no_unicorn=_int_min_length)
    return forms


FORMS = build_forms()


# --------------------------------------------------------------------------- assembling

def _source(forms) -> str:
    out = []
    for i, f in enumerate(forms):
        out.append(f"TEXT ·f{i}(SB), 516, $0")
        out += ["\t" + line for line in f.body.splitlines()]
    return "\n".join(out) + "\n"


_HEX = re.compile(r"^\t0x[0-9a-f]{4} ((?:[0-9a-f]{2} )+)")


def assemble(go: str, forms) -> list[bytes]:
    """Machine code of each form, from ONE ``go tool asm -S`` run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "forms.s"
        path.write_text(_source(forms))
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
        out = subprocess.run([go, "tool", "asm", "-S", "-p", "main", "-o",
                              str(Path(tmp) / "forms.o"), str(path)],
                             capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"go tool asm failed:\n{out.stderr}{out.stdout}")
    code: dict[int, bytearray] = {}
    current = None
    for line in out.stdout.splitlines():
        m = re.match(r"^main\.f(\d+) STEXT", line)
        if m:
            current = int(m.group(1))
            code[current] = bytearray()
            continue
        h = _HEX.match(line)
        if h and current is not None:
            code[current] += bytes.fromhex(h.group(1).replace(" ", ""))
    return [bytes(code[i]) for i in range(len(forms))]


@pytest.fixture(scope="session")
def machine_code(go_cmd):
    return assemble(go_cmd, FORMS)


# --------------------------------------------------------------------------- states

F64_SPECIAL = (
    0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x3FE0000000000000,
    0x3FF8000000000000, 0x4004000000000000, 0xC004000000000000, 0x7FF0000000000000,
    0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000123,
    0xFFFC00000000BEEF, 0x7FF0000000000001, 0xFFF4000000000000, 0x7FF7FFFFFFFFFFFF,
    0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF,
    0xFFEFFFFFFFFFFFFF, 0x41E0000000000000, 0x41DFFFFFFFC00000, 0x41DFFFFFFFE00000,
    0xC1E0000000000000, 0xC1E0000000100000, 0xC1E0000000200000, 0x43E0000000000000,
    0x43DFFFFFFFFFFFFF, 0xC3E0000000000000, 0xC3E0000000000001, 0x4330000000000001,
    0x4330000000000000, 0x432FFFFFFFFFFFFF, 0x3FDFFFFFFFFFFFFF, 0x36A0000000000000,
    0x47EFFFFFE0000000, 0x47EFFFFFF0000000, 0x3690000000000000, 0x380FFFFFC0000000,
)
F32_SPECIAL = (
    0, 0x80000000, 0x3F800000, 0xBF800000, 0x3F000000, 0x3FC00000, 0x40200000,
    0xC0200000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC00123, 0xFFE0BEEF,
    0x7F800001, 0xFFA00000, 0x7FBFFFFF, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
    0xFF7FFFFF, 0x4F000000, 0x4EFFFFFF, 0xCF000000, 0xCF000001, 0x5F000000, 0x5EFFFFFF,
    0xDF000000, 0xDF000001, 0x4B000001, 0x4B000000, 0x4AFFFFFF, 0x3EFFFFFF, 0x0B800000,
)


F64_NANS = tuple(v for v in F64_SPECIAL if v & 0x7FF0000000000000 == 0x7FF0000000000000
                 and v & 0xFFFFFFFFFFFFF)
F32_NANS = tuple(v for v in F32_SPECIAL if v & 0x7F800000 == 0x7F800000 and v & 0x7FFFFF)


def _lane(flavor: str, rng: random.Random, nan: float = 0.0) -> tuple[int, int]:
    """(value, width) of one random lane of a flavour (``nan``: the share of NaN lanes,
    with random payloads, on top of those among the special values)."""
    r = rng.random()
    if flavor in ("f64", "f32") and rng.random() < nan:
        if flavor == "f64":
            return rng.choice(F64_NANS) ^ rng.getrandbits(rng.choice((0, 3, 51))), 8
        return rng.choice(F32_NANS) ^ rng.getrandbits(rng.choice((0, 3, 22))), 4
    if flavor == "f64":
        if r < 0.45:
            return rng.choice(F64_SPECIAL), 8
        if r < 0.8:
            x = rng.choice((rng.uniform(-8, 8), rng.uniform(-1e6, 1e6),
                            float(rng.randrange(-40, 40)) / 2, rng.uniform(-1e-300, 1e-300),
                            rng.uniform(-3e9, 3e9), rng.uniform(-1e19, 1e19),
                            rng.uniform(-1e38, 1e38)))
            return struct.unpack("<Q", struct.pack("<d", x))[0], 8
        return rng.getrandbits(64), 8
    if flavor == "f32":
        if r < 0.45:
            return rng.choice(F32_SPECIAL), 4
        if r < 0.8:
            x = rng.choice((rng.uniform(-8, 8), rng.uniform(-1e6, 1e6),
                            float(rng.randrange(-40, 40)) / 2, rng.uniform(-1e-38, 1e-38),
                            rng.uniform(-3e9, 3e9), rng.uniform(-1e19, 1e19)))
            return struct.unpack("<I", struct.pack("<f", x))[0], 4
        return rng.getrandbits(32), 4
    if flavor == "str":
        if r < 0.25:
            return 0, 1
        return rng.choice(b"abcabcz\x80\xff\x01"), 1
    w = int(flavor[1:])
    bits = 8 * w
    if r < 0.35:
        return rng.choice((0, 1, (1 << (bits - 1)) - 1, 1 << (bits - 1), (1 << bits) - 1,
                           (1 << (bits - 1)) + 1, 2, (1 << bits) - 2)), w
    if r < 0.5:
        return rng.getrandbits(min(bits, 9)), w
    return rng.getrandbits(bits), w


def _vector(flavor: str, rng: random.Random, nan: float = 0.0) -> int:
    out, pos = 0, 0
    while pos < 128:
        v, w = _lane(flavor, rng, nan)
        out |= v << pos
        pos += 8 * w
    return out & M128


def _state_strategy():
    return st.fixed_dictionaries({
        "seed": st.integers(0, 2**32 - 1),
        "share": st.integers(0, 3),       # how often lanes of X2/X11/(BX) coincide
        "nan": st.sampled_from((0.0, 0.0, 0.25, 0.7)),   # extra NaN lanes (FP flavours)
        "flags": st.integers(0, 0xFFF),
        "ptr": st.integers(0, 63),
    })


def concretize(form: Form, raw) -> dict:
    rng = random.Random(raw["seed"])
    regs = [rng.getrandbits(64) for _ in range(16)]
    xmm = [_vector(form.flavor, rng, raw["nan"]) for _ in range(16)]
    scratch = bytearray()
    while len(scratch) < REGION:
        scratch += _vector(form.flavor, rng, raw["nan"]).to_bytes(16, "little")
    regs[3] = PTR_BASE + raw["ptr"] * 16
    regs[7] = SCRATCH + 0x800 + raw["ptr"] * 16
    regs[4] = STACK_TOP
    # Make lanes equal between the operands now and then (equal compares, zero
    # differences, identical NaNs).
    share = raw["share"]
    if share:
        off = regs[3] - SCRATCH
        mem = int.from_bytes(scratch[off:off + 16], "little")
        width = 4 if form.flavor in ("f32", "i4") else 8 if form.flavor in ("f64", "i8") \
            else 2 if form.flavor == "i2" else 1
        lm = (1 << (8 * width)) - 1
        for i in range(16 // width):
            sh = 8 * width * i
            if rng.random() < share / 4:
                xmm[11] = (xmm[11] & ~(lm << sh)) | (xmm[2] & (lm << sh))
            if rng.random() < share / 4:
                mem = (mem & ~(lm << sh)) | (xmm[2] & (lm << sh))
        scratch[off:off + 16] = mem.to_bytes(16, "little")
    state = {"regs": regs, "xmm": xmm, "scratch": scratch,
             "stack": bytearray(rng.randbytes(REGION)),
             "flags": raw["flags"] & (FLAGS & ~fl.DF)}
    if form.setup is not None:
        form.setup(state, rng)
    return state


# --------------------------------------------------------------------------- runners

class UnicornRunner:
    def __init__(self, code: bytes):
        uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        uc.ctl_set_cpu_model(X.UC_CPU_X86_ICELAKE_SERVER)
        uc.mem_map(CODE, 0x10000)
        uc.mem_map(SCRATCH, REGION)
        uc.mem_map(STACK, REGION)
        uc.mem_write(CODE, code)
        self.uc, self.end = uc, CODE + len(code)

    def run(self, state):
        uc = self.uc
        for r, v in zip(UC_GPR, state["regs"]):
            uc.reg_write(r, v)
        for r, v in zip(UC_XMM, state["xmm"]):
            uc.reg_write(r, v)
        uc.reg_write(X.UC_X86_REG_EFLAGS, state["flags"] | 0x202)
        uc.mem_write(SCRATCH, bytes(state["scratch"]))
        uc.mem_write(STACK, bytes(state["stack"]))
        fault = None
        try:
            uc.emu_start(CODE, self.end, count=100)
        except unicorn.UcError as exc:
            fault = str(exc)
        if fault is None and uc.reg_read(X.UC_X86_REG_RIP) != self.end:
            fault = f"stopped at {uc.reg_read(X.UC_X86_REG_RIP):#x}"
        return {"fault": fault, "regs": [uc.reg_read(r) for r in UC_GPR],
                "xmm": [uc.reg_read(r) for r in UC_XMM],
                "flags": uc.reg_read(X.UC_X86_REG_EFLAGS),
                "scratch": bytes(uc.mem_read(SCRATCH, REGION))}


class GoasmRunner:
    def __init__(self, body: str):
        from goasm.machine.state import CPUModel, host_vendor

        image, self.entry, self.end = link_snippet(body)
        # The host processor settles disagreements: model its vendor.
        m = Machine(image, cpu_model=CPUModel(vendor=host_vendor()))
        m.mem.map(SCRATCH, REGION, name="scratch")
        m.mem.map(STACK, REGION, name="stack")
        self.m = m

    def run(self, state):
        m = self.m
        m.cpu.regs[:] = state["regs"]
        m.cpu.xmm[:16] = state["xmm"]
        m.cpu.set_rflags(state["flags"])
        m.mem.write(SCRATCH, bytes(state["scratch"]))
        m.mem.write(STACK, bytes(state["stack"]))
        m.cpu.pc = self.entry
        fault = None
        try:
            m.run(until=self.end, max_steps=100)
        except MachineFault as exc:
            fault = exc.signal
        return {"fault": fault, "regs": list(m.cpu.regs), "xmm": list(m.cpu.xmm[:16]),
                "flags": m.cpu.get_rflags(), "scratch": m.mem.read(SCRATCH, REGION)}


# ---- the processor

_NATIVE_GO = """package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"unsafe"
)

const stateSize = 392

var state [stateSize]byte
var scratch [3 * 4096]byte

%(decls)s

var forms = []func(p unsafe.Pointer){%(names)s}

func main() {
	base := (uintptr(unsafe.Pointer(&scratch[0])) + 4095) &^ 4095
	page := unsafe.Slice((*byte)(unsafe.Pointer(base)), 4096)
	fmt.Printf("%%d\\n", base)
	in := bufio.NewReaderSize(os.Stdin, 1<<16)
	out := bufio.NewWriter(os.Stdout)
	for {
		var idx int
		var st, mem string
		if _, err := fmt.Fscan(in, &idx, &st, &mem); err != nil {
			return
		}
		b, _ := hex.DecodeString(st)
		copy(state[:], b)
		m, _ := hex.DecodeString(mem)
		copy(page, m)
		forms[idx](unsafe.Pointer(&state[0]))
		fmt.Fprintf(out, "%%s %%s\\n", hex.EncodeToString(state[:]), hex.EncodeToString(page))
		out.Flush()
	}
}
"""

# byte offsets in the state block: 16 XMM (0..255), 16 GPRs (256..383), RFLAGS (384)
_LOAD_GPRS = [(n, 256 + 8 * i) for i, n in enumerate(GPR)
              if n not in ("SP", "BP", "R14", "R15")]


def _native_asm(forms) -> str:
    lines = ['#include "textflag.h"']
    for i, f in enumerate(forms):
        lines += [f"TEXT ·run{i}(SB), NOSPLIT, $16-8",
                  "\tMOVQ p+0(FP), R15", "\tMOVQ R14, save-8(SP)",
                  "\tMOVQ 384(R15), AX", "\tPUSHQ AX", "\tPOPFQ"]
        lines += [f"\tMOVOU {16 * x}(R15), X{x}" for x in range(16)]
        lines += [f"\tMOVQ {off}(R15), {n}" for n, off in _LOAD_GPRS]
        lines += ["\t" + line for line in f.body.splitlines()]
        lines += ["\tMOVQ p+0(FP), R15"]
        lines += [f"\tMOVOU X{x}, {16 * x}(R15)" for x in range(16)]
        lines += [f"\tMOVQ {n}, {off}(R15)" for n, off in _LOAD_GPRS]
        lines += ["\tPUSHFQ", "\tPOPQ AX", "\tMOVQ AX, 384(R15)",
                  "\tMOVQ save-8(SP), R14", "\tXORPS X15, X15", "\tRET"]
    return "\n".join(lines) + "\n"


def _cpu_flags() -> frozenset:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    m = re.search(r"^flags\s*:(.*)$", text, re.M)
    return frozenset(m.group(1).split()) if m else frozenset()


class Native:
    """The Go-built harness, kept running: one line in (form, state, scratch page), one
    line out (state, scratch page). The scratch page is page-aligned in the harness too,
    so alignment faults would match; pointer registers are rebased to it."""

    def __init__(self, go: str, forms):
        self.flags = _cpu_flags()
        self.proc = None
        if not (platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")):
            return
        self.tmp = tempfile.TemporaryDirectory()
        d = Path(self.tmp.name)
        decls = "\n".join(f"func run{i}(p unsafe.Pointer)" for i in range(len(forms)))
        names = ", ".join(f"run{i}" for i in range(len(forms)))
        (d / "go.mod").write_text("module ssecheck\n\ngo 1.22\n")
        (d / "main.go").write_text(_NATIVE_GO % {"decls": decls, "names": names})
        (d / "forms_amd64.s").write_text(_native_asm(forms))
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod", GOPROXY="off",
                   CGO_ENABLED="0", GOOS="linux", GOARCH="amd64", GOWORK="off")
        out = subprocess.run([go, "build", "-o", str(d / "ssecheck"), "."], cwd=d,
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"go build of the native harness failed:\n{out.stderr}")
        self.exe = d / "ssecheck"
        self._start()

    def _start(self):
        self.stderr = open(Path(self.tmp.name) / "stderr", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen([str(self.exe)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, bufsize=1)
        self.base = int(self.proc.stdout.readline())

    def _died(self) -> str:
        """The signal that ended the harness (the Go runtime prints "SIGSEGV: ...")."""
        self.proc.wait(timeout=10)
        self.stderr.seek(0)
        m = re.search(r"^(SIG[A-Z]+):", self.stderr.read(), re.M)
        self.stderr.close()
        self._start()
        return m.group(1) if m else "harness died"

    def supports(self, form: Form) -> bool:
        return self.proc is not None and form.cpu in self.flags

    def _to_native(self, v: int) -> int:
        return v - SCRATCH + self.base if SCRATCH <= v < SCRATCH + REGION else v

    def _from_native(self, v: int) -> int:
        return v - self.base + SCRATCH if self.base <= v < self.base + REGION else v

    def run(self, index: int, form: Form, state) -> dict:
        regs = list(state["regs"])
        for name in POINTERS:
            i = GPR.index(name)
            regs[i] = self._to_native(regs[i])
        blob = b"".join(x.to_bytes(16, "little") for x in state["xmm"])
        blob += b"".join(r.to_bytes(8, "little") for r in regs)
        blob += (state["flags"] | 0x202).to_bytes(8, "little")
        self.proc.stdin.write(f"{index} {blob.hex()} {bytes(state['scratch']).hex()}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if not line:        # the instruction faulted (SIGILL/SIGSEGV ends the harness)
            return {"fault": self._died()}
        out = bytes.fromhex(line[0])
        xmm = [int.from_bytes(out[16 * i:16 * i + 16], "little") for i in range(16)]
        got = [int.from_bytes(out[256 + 8 * i:264 + 8 * i], "little") for i in range(16)]
        for name in ("SP", "BP", "R14", "R15"):
            i = GPR.index(name)
            got[i] = state["regs"][i]
        got = [self._from_native(v) for v in got]
        flags = int.from_bytes(out[384:392], "little")
        return {"fault": None, "regs": got, "xmm": xmm, "flags": flags,
                "scratch": bytes.fromhex(line[1])}

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
            self.stderr.close()
            self.tmp.cleanup()


@pytest.fixture(scope="session")
def native(go_cmd):
    n = Native(go_cmd, FORMS)
    yield n
    n.close()


# --------------------------------------------------------------------------- comparing

def compare(want, got) -> list[str]:
    """Differences between an oracle's outcome and goasm's (faults: the CPU's signal
    must match; Unicorn's errors only have to be there)."""
    if (want["fault"] is None) != (got["fault"] is None) or (
            str(want["fault"]).startswith("SIG") and want["fault"] != got["fault"]):
        return [f"fault: want {want['fault']!r} goasm {got['fault']!r}"]
    if want["fault"] is not None:
        return []
    problems = []
    for i, name in enumerate(GPR):
        if want["regs"][i] != got["regs"][i]:
            problems.append(f"{name}: want {want['regs'][i]:#x} goasm {got['regs'][i]:#x}")
    for i in range(16):
        if want["xmm"][i] != got["xmm"][i]:
            problems.append(f"X{i}: want {want['xmm'][i]:#034x} goasm {got['xmm'][i]:#034x}")
    if (want["flags"] ^ got["flags"]) & FLAGS:
        problems.append(f"flags: want {want['flags'] & FLAGS:#x} goasm {got['flags'] & FLAGS:#x}")
    if want["scratch"] != got["scratch"]:
        first = next(i for i in range(REGION) if want["scratch"][i] != got["scratch"][i])
        problems.append(f"scratch+{first:#x}: want {want['scratch'][first:first + 16].hex()} "
                        f"goasm {got['scratch'][first:first + 16].hex()}")
    return problems


@pytest.fixture(scope="session")
def summary(request):
    stats = {"forms": 0, "states": 0, "mismatches": set(), "settled": {}, "native": 0,
             "cpu_only": 0}
    yield stats

    def report():
        plugins = request.config.pluginmanager
        tr = plugins.get_plugin("terminalreporter")
        capture = plugins.get_plugin("capturemanager")
        if tr is None or not stats["forms"]:
            return
        settled = sum(stats["settled"].values())
        lines = [f"sse differential: {stats['forms']} forms, {stats['states']} states, "
                 f"{len(stats['mismatches'])} forms with mismatches; {settled} Unicorn "
                 f"disagreements in {len(stats['settled'])} forms settled by the CPU "
                 f"({stats['native']} native runs, {stats['cpu_only']} states only the CPU "
                 f"could run)"]
        if stats["settled"]:
            lines.append("  Unicorn wrong, the CPU agrees with goasm (form: states): " + ", ".join(
                f"{name}: {n}" for name, n in sorted(stats["settled"].items())))
        if capture is not None:
            with capture.global_and_fixture_disabled():
                tr.ensure_newline()
                for line in lines:
                    tr.write_line(line)
        else:
            for line in lines:
                tr.write_line(line)
    request.addfinalizer(report)


NATIVE_ALL = os.environ.get("GOASM_SSE_NATIVE") == "all"


@pytest.mark.parametrize("index", range(len(FORMS)), ids=[f.name for f in FORMS])
def test_form(index, machine_code, native, summary):
    form = FORMS[index]
    uc = UnicornRunner(machine_code[index])
    ga = GoasmRunner(form.body)
    count = [0]

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_state_strategy())
    def check(raw):
        state = concretize(form, raw)
        try:
            got = ga.run(state)
        except UnimplementedError as exc:
            pytest.fail(f"{form.name}: {exc}")
        count[0] += 1
        summary["states"] += 1
        problems = None                 # None: no answer from Unicorn
        if form.no_unicorn is None or not form.no_unicorn(state):
            want = uc.run(state)
            if "UC_ERR_INSN_INVALID" not in str(want["fault"]):   # Unicorn lacks SHA-NI
                problems = compare(want, got)
        if (problems is None or problems or NATIVE_ALL) and native.supports(form):
            cpu = native.run(index, form, state)
            summary["native"] += 1
            cpu_problems = compare(cpu, got)
            if not cpu_problems:
                if problems:
                    summary["settled"][form.name] = summary["settled"].get(form.name, 0) + 1
                elif problems is None:
                    summary["cpu_only"] += 1
                return
            problems = ["(the CPU) " + p for p in cpu_problems] + \
                ["(unicorn) " + p for p in problems or ["not run"]]
        elif problems is None:
            return
        if problems:
            summary["mismatches"].add(form.name)
            detail = " ".join(f"X{i}={state['xmm'][i]:#034x}" for i in (0, 2, 11))
            off = state["regs"][3] - SCRATCH
            mem = bytes(state["scratch"][off:off + 16]).hex()
            regs = " ".join(f"{n}={state['regs'][GPR.index(n)]:#x}" for n in ("AX", "DX", "R11"))
            raise AssertionError(f"{form.name}: " + "; ".join(problems)
                                 + f"\n  initial {detail} (BX)={mem} {regs} "
                                   f"flags={state['flags']:#x}")

    check()
    summary["forms"] += 1
    assert count[0] >= 50


# --------------------------------------------------------------------------- known answers

def test_aes_fips197_vector():
    """FIPS-197 Appendix C.1 (AES-128): key 000102..0f, plaintext 00112233..ff, through
    AESKEYGENASSIST / AESENC / AESENCLAST and back through AESIMC / AESDEC /
    AESDECLAST (the equivalent inverse cipher, FIPS-197 5.3.5)."""
    from goasm.machine.ops import crypto

    def expand(k, rcon):
        t = crypto.aeskeygenassist(k, rcon) >> 96
        for _ in range(3):
            k ^= (k << 32) & M128
        return k ^ (t * ((1 << 96) | (1 << 64) | (1 << 32) | 1))

    keys = [int.from_bytes(bytes(range(16)), "little")]
    for rcon in (1, 2, 4, 8, 16, 32, 64, 128, 0x1B, 0x36):
        keys.append(expand(keys[-1], rcon))
    s = int.from_bytes(bytes.fromhex("00112233445566778899aabbccddeeff"), "little") ^ keys[0]
    for k in keys[1:10]:
        s = crypto.aesenc(s, k)
    s = crypto.aesenclast(s, keys[10])
    assert s.to_bytes(16, "little").hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    s ^= keys[10]
    for k in reversed(keys[1:10]):
        s = crypto.aesdec(s, crypto.aesimc(k))
    s = crypto.aesdeclast(s, keys[0])
    assert s.to_bytes(16, "little").hex() == "00112233445566778899aabbccddeeff"


def _words(block: bytes) -> list[int]:
    return list(struct.unpack(">16I", block))


def _padded(msg: bytes) -> bytes:
    return msg + b"\x80" + bytes((55 - len(msg)) % 64) + struct.pack(">Q", 8 * len(msg))


def _dw(*d3_to_d0) -> int:
    out = 0
    for d in d3_to_d0:
        out = (out << 32) | (d & 0xFFFFFFFF)
    return out


def _add32(a: int, b: int) -> int:
    return sum((((a >> s) + (b >> s)) & 0xFFFFFFFF) << s for s in (0, 32, 64, 96))


def test_sha1_extensions_against_hashlib():
    """One SHA-1 block compressed with SHA1RNDS4/SHA1NEXTE/SHA1MSG1/SHA1MSG2 (the flow of
    Intel's SHA extensions paper) equals hashlib's digest."""
    import hashlib

    from goasm.machine.ops import crypto
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    w = _words(_padded(b"goasm"))
    msgs = [_dw(*w[4 * i:4 * i + 4]) for i in range(4)]
    for g in range(4, 20):
        t = crypto.sha1msg1(msgs[g - 4], msgs[g - 3]) ^ msgs[g - 2]
        msgs.append(crypto.sha1msg2(t, msgs[g - 1]))
    abcd = _dw(*h[:4])
    prev = 0
    for g in range(20):
        x = _add32(msgs[0], h[4] << 96) if g == 0 else crypto.sha1nexte(prev, msgs[g])
        prev = abcd
        abcd = crypto.sha1rnds4(abcd, x, g // 5)
    e = crypto.sha1nexte(prev, 0) >> 96
    out = [(v + x) & 0xFFFFFFFF for v, x in
           zip(h, (abcd >> 96, abcd >> 64, abcd >> 32, abcd, e))]
    assert struct.pack(">5I", *out) == hashlib.sha1(b"goasm").digest()


def test_sha256_extensions_against_hashlib():
    """One SHA-256 block with SHA256RNDS2/SHA256MSG1/SHA256MSG2 equals hashlib's."""
    import hashlib

    from goasm.machine.ops import crypto
    k = [int(((p ** (1 / 3)) % 1) * 2**32) for p in
         [n for n in range(2, 312) if all(n % d for d in range(2, n))][:64]]
    h = [int(((p ** 0.5) % 1) * 2**32) for p in (2, 3, 5, 7, 11, 13, 17, 19)]
    assert k[0] == 0x428A2F98 and h[0] == 0x6A09E667
    w = _words(_padded(b"goasm"))
    msgs = [_dw(*reversed(w[4 * i:4 * i + 4])) for i in range(4)]   # W[4i] in dword 0
    for g in range(4, 16):
        t = crypto.sha256msg1(msgs[g - 4], msgs[g - 3])
        t = _add32(t, ((msgs[g - 1] << 128 | msgs[g - 2]) >> 32) & M128)   # PALIGNR $4
        msgs.append(crypto.sha256msg2(t, msgs[g - 1]))
    abef, cdgh = _dw(h[0], h[1], h[4], h[5]), _dw(h[2], h[3], h[6], h[7])
    for g in range(16):
        wk = _add32(msgs[g], _dw(*reversed(k[4 * g:4 * g + 4])))
        cdgh = crypto.sha256rnds2(cdgh, abef, wk)
        abef, cdgh = cdgh, abef
        cdgh = crypto.sha256rnds2(cdgh, abef, wk >> 64)
        abef, cdgh = cdgh, abef
    a, b, e, f = (abef >> s & 0xFFFFFFFF for s in (96, 64, 32, 0))
    c, d, g_, hh = (cdgh >> s & 0xFFFFFFFF for s in (96, 64, 32, 0))
    out = [(x + y) & 0xFFFFFFFF for x, y in zip((a, b, c, d, e, f, g_, hh), h)]
    assert struct.pack(">8I", *out) == hashlib.sha256(b"goasm").digest()


def test_crc32c_check_value():
    """CRC-32C of "123456789" with the usual pre/post inversion is 0xE3069283 (RFC 3720
    B.4 / the CRC catalogue's CRC-32/ISCSI check value)."""
    from goasm.machine.ops import crypto
    crc = 0xFFFFFFFF
    for b in b"123456789":
        crc = crypto.crc32c(crc, b, 1)
    assert crc ^ 0xFFFFFFFF == 0xE3069283
    assert crypto.crc32c(0xFFFFFFFF, int.from_bytes(b"12345678", "little"), 8) == \
        crypto.crc32c(crypto.crc32c(0xFFFFFFFF, 0x34333231, 4), 0x38373635, 4)

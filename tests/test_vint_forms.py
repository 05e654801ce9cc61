"""Every VEX and EVEX form of the integer SIMD families in Go's assembler tests compiles
to a handler (none is "unimplemented"), and operand forms the instructions do not have
are refused with a message naming them.

The forms are the lines of ``cmd/asm/internal/asm/testdata/amd64enc.s``,
``amd64enc_extra.s`` and ``avx512enc/*.s`` (read from the installed toolchain at test
time) whose mnemonic a ``goasm.machine.ops.vint*`` module handles; their semantics are
checked against the real CPU by the recorded and live oracle
(tests/test_conformance_cpu.py).
"""

from __future__ import annotations

import pytest

from goasm.errors import LinkError
from goasm.link import LinkUnit, link
from goasm.machine.machine import Machine
from goasm.machine.semantics import TABLE
from goasm.parse import parse_file
from snippets import link_snippet

TESTDATA = "src/cmd/asm/internal/asm/testdata"
SOURCES = ("amd64enc.s", "amd64enc_extra.s", "avx512enc/avx512f.s", "avx512enc/avx512bw.s",
           "avx512enc/avx512dq.s", "avx512enc/avx512cd.s", "avx512enc/avx512_ifma.s",
           "avx512enc/avx512_vbmi.s", "avx512enc/avx512_vbmi2.s", "avx512enc/avx512_vnni.s",
           "avx512enc/avx512_bitalg.s", "avx512enc/avx512_vpopcntdq.s")

VINT = frozenset(op for op, (handler, _) in TABLE.items()
                 if handler.__module__.startswith("goasm.machine.ops.vint"))


def test_the_integer_families_are_registered():
    for op in ("VPADDSB", "VPMULLQ", "VPMADD52HUQ", "VPDPBUSDS", "VPMULTISHIFTQB",
               "VDBPSADBW", "VPCMPUQ", "VPTESTNMB", "VPMOVQ2M", "VPSHUFBITQMB", "VPTEST",
               "VPSRAQ", "VPSHRDVW", "VPROLVQ", "VPTERNLOGQ", "VPCONFLICTD", "VPLZCNTQ",
               "VPOPCNTW", "VPACKUSDW", "VPUNPCKHQDQ", "VPALIGNR", "VPMOVUSQB", "VPMOVZXWQ"):
        assert op in VINT, op


@pytest.mark.parametrize("source", SOURCES)
def test_every_integer_form_compiles(goroot, source):
    path = goroot / TESTDATA / source
    image = link([LinkUnit(parse_file(path, include_dirs=[goroot / "pkg" / "include"]),
                           "main")], strict=False)
    m = Machine(image)
    forms = [ins for ins in image.code.values() if ins.op in VINT]
    bad = [f"{ins.pos.line}: {ins}: {m.compiled(ins.addr).goasm_unimplemented}"
           for ins in forms
           if getattr(m.compiled(ins.addr), "goasm_unimplemented", None) is not None]
    assert forms
    assert not bad, "\n".join(bad[:20])


BAD_FORMS = (
    ("VPHADDW Z1, Z2, Z3", "invalid instruction"),    # refused at load time, as Go does
    ("VPSIGNB X1, X2, K1, X3", "no EVEX form"),
    ("VPBLENDW $1, X1, X2, K1, X3", "no EVEX form"),
    ("VPHMINPOSUW Y1, Y2", "no 256-bit form"),
    ("VPCMPEQB Z1, Z2, Z3", "no EVEX form"),          # EVEX compares write an opmask
    ("VPCMPB $1, X1, X2, X3", "opmask register"),
    ("VPSADBW Z1, Z2, K1, Z3", "no writemask"),
    ("VPSLLDQ $1, Z1, K1, Z2", "no writemask"),
    ("VPADDSB.BCST (AX), Z2, Z3", "BCST"),          # byte elements: no broadcast
    ("VPTESTMD X1, X2, X3", "opmask register"),
)


@pytest.mark.parametrize("text,message", BAD_FORMS)
def test_forms_without_an_encoding_are_refused(text, message):
    image, entry, _ = link_snippet(f"\t{text}")
    try:
        why = getattr(Machine(image).compiled(entry), "goasm_unimplemented", None)
    except LinkError as exc:
        why = str(exc)
    assert why is not None and message in why, why

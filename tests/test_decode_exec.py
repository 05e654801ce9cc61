"""Decoded instructions execute exactly like parsed ones (issue #14 acceptance 2).

Every form of the conformance suite (goasm.conformance: each ``amd64enc.s`` line plus
the REP and corner-case extras) that goasm implements is taken twice: as goasm parses
and links its text, and as goasm decodes the machine code cmd/asm emits for it (linked
the same way). Both run in goasm from the same generated states (the conformance
machinery's state generation: pointer registers into the scratch window, per-mnemonic
setups) and must end in identical states: every register, every vector register, all
of RFLAGS (undefined flags included: it is the same handler), the memory window and
faults. Unicorn is not involved: the parsed side is checked against it by
tests/test_conformance.py.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest

from goasm import conformance as C
from goasm import ir
from goasm.decode import Decoder
from goasm.errors import Pos
from goasm.link import LinkUnit, link
from goasm.machine.machine import Machine

STATES = 8
CHUNKS = 4


@pytest.fixture(scope="module")
def suite(goroot):
    return C.Suite(goroot)


@pytest.fixture(scope="module")
def decoded(suite):
    """The checked forms, decoded from their machine code and linked as one function;
    returns (forms, {form index: decoded LInstr address}, machine)."""
    forms = [f for f in suite.classified() if f.status == "checked"]
    decoder = Decoder()
    stmts = [ir.Text(ir.SymbolName("decoded"), 0, None, 516)]       # NOSPLIT|NOFRAME
    lines = {}
    for i, f in enumerate(forms):
        ds = decoder.decode_all(f.code)
        assert len(ds) == 1, f.name
        d = ds[0]
        pos = Pos("decoded.s", i + 2, 1)
        stmts += [ir.Instr(p, (), (), pos) for p in d.prefixes]
        stmts.append(ir.Instr(d.instr.op, d.instr.args, d.instr.suffixes, pos))
        lines[i + 2] = i
    image = link([LinkUnit(ir.Program(tuple(stmts), "decoded.s"))], strict=False)
    addr = {}
    for ins in image.code.values():
        if ins.pos is not None and ins.pos.line in lines:
            addr[lines[ins.pos.line]] = ins.addr
    m = Machine(image)
    m.mem.map(C.DATA, C.DATA_SIZE, name="conformance")
    return forms, addr, m


def _chunks():
    return list(range(CHUNKS))


@pytest.mark.parametrize("chunk", _chunks())
def test_decoded_forms_run_like_parsed(chunk, suite, decoded, record_property):
    forms, addr, m = decoded
    parsed_engine = C.GoasmEngine(suite.machine())
    decoded_engine = C.GoasmEngine(m)
    groups: dict = {}
    for i, f in enumerate(forms):
        groups.setdefault(C._stem(f.op), []).append(i)
    names = sorted(groups)[chunk::CHUNKS]
    runs = 0
    bad = []
    for name in names:
        idx = groups[name]
        plan = C.plan_group([forms[i] for i in idx])
        rng = random.Random(name)
        for _ in range(STATES):
            raw = {"seed": rng.getrandbits(32),
                   "gpr": tuple(C._random_reg(rng) for _ in plan.gprs),
                   "xmm": tuple(rng.getrandbits(128) for _ in plan.xmms),
                   "flags": rng.getrandbits(12), "df": rng.randrange(4),
                   "memval": C._random_reg(rng), "small": rng.randrange(71),
                   "ptr": rng.randrange(121), "align": rng.choice((0, 0, 1, 4, 8, 15))}
            base = C.base_state(raw, plan)
            for i in idx:
                f = forms[i]
                s = C.concretize(f, raw, base)
                want = parsed_engine.run(f, s)
                got = decoded_engine.run(SimpleNamespace(addr=addr[i]), s)
                runs += 1
                if got != want:
                    bad.append(f"{f.name}: decoded {m.image.code[addr[i]]} -> "
                               f"{_diff(want, got)}")
    record_property("decode_exec", json.dumps({"forms": sum(len(groups[n]) for n in names),
                                               "runs": runs}))
    assert len(forms) > 4000
    assert not bad, "\n".join(bad[:20])


def _diff(want, got) -> str:
    if want.fault != got.fault:
        return f"fault {got.fault!r}, parsed {want.fault!r}"
    for field in ("regs", "xmm", "flags", "data", "mxcsr"):
        if getattr(want, field) != getattr(got, field):
            return f"{field} differ"
    return "?"

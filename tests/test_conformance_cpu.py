"""VEX and EVEX conformance against the real CPU (goasm.cpuoracle, goasm.native).

Every VEX/EVEX form of Go's assembler tests (amd64enc.s, amd64enc_extra.s,
avx512enc/*.s) that goasm implements is replayed from the deterministic states of
goasm.vecstate and compared with the answers a real processor gave, recorded in
tests/data/cpu_oracle/ (``tools/record_cpu_oracle.py``; the files name the CPU). This
runs on any machine, no AVX-512 needed: 0 mismatches required. Where the host can run
the forms, a sampled live comparison runs as well. The forms are split into shards so
pytest-xdist spreads them; conftest.py prints the per-family table at the end:

    cpu oracle (VEX/EVEX vs the real CPU): ... forms checked, ... states, 0 mismatching

Check one mnemonic or family while implementing it:

    python tools/conformance.py --vex VPADDD          (live where possible, + recorded)
    python tools/conformance.py --family AVX512BW
    pytest tests/test_conformance_cpu.py -k recorded
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from goasm import cpuoracle as O
from goasm import vecstate as V
from goasm.native import HostCPU

SHARDS = 8
LIVE_SHARDS = 4
LIVE_STATES = (0, 3, 9, 14, 22, 31, 38, 47)
LIVE_FRACTION = 4          # one form in LIVE_FRACTION runs live (by a hash of its key)


def need(reason: str):
    """Skip, or fail when the oracles are required (GOASM_REQUIRE_ORACLES=1, as in CI)."""
    if os.environ.get("GOASM_REQUIRE_ORACLES") == "1":
        pytest.fail(f"oracle missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def simd_suite(goroot):
    return O.SimdSuite(goroot)


@pytest.fixture(scope="module")
def recordings():
    recs = O.load_recordings()
    if not recs:
        need("no recorded CPU answers in tests/data/cpu_oracle")
    return recs


@pytest.fixture(scope="module")
def host():
    h = HostCPU()
    yield h
    h.close()


def _record(record_property, results, name="cpu_oracle_run"):
    table = O.family_table_results(results)
    record_property(name, json.dumps(table))


@pytest.mark.parametrize("shard", range(SHARDS))
def test_recorded_answers(shard, simd_suite, recordings, host, record_property):
    """goasm agrees with the recorded CPU on every state of every implemented form."""
    forms = O.shard(simd_suite.select(status="checked"), SHARDS, shard)
    results = O.check_recorded(simd_suite, forms, recordings,
                               host=host if host.available else None)
    _record(record_property, results)
    missing = [f"{r.form.name}: {r.skipped}" for r in results
               if r.skipped and r.skipped != "the recording CPU does not execute it"]
    assert not missing, "forms without usable recorded answers:\n" + "\n".join(missing[:30])
    assert all(r.states >= O.STATES for r in results if not r.skipped)
    known = O.known_mismatches()
    record_property("cpu_oracle_known", json.dumps(
        [r.form.name for r in results if r.mismatches and r.form.op in known]))
    bad = [r for r in results if r.mismatches and r.form.op not in known]
    assert not bad, "\n" + O.format_results(bad)


def _live_sample(form) -> bool:
    return hashlib.blake2b(form.key, digest_size=2).digest()[0] % LIVE_FRACTION == 0


@pytest.mark.parametrize("shard", range(LIVE_SHARDS))
def test_live_sample(shard, simd_suite, recordings, host, record_property):
    """A sample of the implemented forms (one in four, eight states each) on this
    machine's processor, where it executes them."""
    if not host.start():
        need("no native harness (linux/amd64) on this host")
    forms = [f for f in O.shard(simd_suite.select(status="checked"), LIVE_SHARDS, shard)
             if _live_sample(f)]
    vendor = next(iter(recordings.values())).header["cpu"]["vendor"]
    results = O.check_live(simd_suite, forms, host, states=LIVE_STATES,
                           recorded_vendor=vendor)
    _record(record_property, results, "cpu_oracle_live")
    known = O.known_mismatches()
    bad = [r for r in results if r.mismatches and r.form.op not in known]
    assert not bad, "\n" + O.format_results(bad)


def test_known_mismatches_still_mismatch(simd_suite, recordings):
    """Every mnemonic in tests/data/cpu_oracle/known_mismatches.txt still disagrees with
    the recorded CPU somewhere (else delete its line: the list only shrinks)."""
    known = O.known_mismatches()
    forms = [f for f in simd_suite.select(status="checked") if f.op in known]
    results = O.check_recorded(simd_suite, forms, recordings, max_details=0)
    still = {r.form.op for r in results if r.mismatches}
    assert set(known) <= still, f"agree with the CPU now, remove: {sorted(set(known) - still)}"


def test_recordings_cover_the_suite(simd_suite, recordings, record_property):
    """Every VEX/EVEX form in scope has recorded answers made from the current state
    generator, the Go release the tests use, and go tool asm's bytes; unimplemented
    forms are listed in the summary."""
    record_property("cpu_oracle_forms", json.dumps(O.family_table_status(simd_suite)))
    version = (simd_suite.goroot / "VERSION").read_text().splitlines()[0].strip()
    by_source: dict = {}
    for f in simd_suite.classified():
        if f.status != "excluded":
            by_source.setdefault(f.source, []).append(f)
    assert set(by_source) <= set(recordings), sorted(set(by_source) - set(recordings))
    problems = []
    for source, forms in by_source.items():
        rec = recordings[source]
        h = rec.header
        assert h["format"] == O.FORMAT and h["generator"] == V.GENERATOR, \
            f"{source}: recorded with generator {h['generator']} (now {V.GENERATOR}): " \
            "re-record with tools/record_cpu_oracle.py"
        assert h["go"] == version, f"{source}: recorded for {h['go']}, testing {version}"
        assert h["states"] == O.STATES and h["view"] == "avx512"
        assert h["fingerprint"] == O.states_fingerprint(forms), \
            f"{source}: the state generator's output changed; re-record"
        for f in forms:
            r = rec.get(f)
            if r is None:
                problems.append(f"{f.name}: not recorded")
            elif r.code != f.code:
                problems.append(f"{f.name}: recorded bytes {r.code.hex()}, "
                                f"go tool asm {f.code.hex()}")
    assert not problems, "\n".join(problems[:30])
    unsupported = [r for rec in recordings.values() for r in rec.records.values()
                   if r.status != "ok"]
    assert not unsupported, [f"{r.source}:{r.line}: {r.text}" for r in unsupported][:20]


def test_recordings_are_small():
    """The recorded answers stay a few MB."""
    total = sum(p.stat().st_size for p in O.data_dir().glob("*.bin.xz"))
    assert total < 5_000_000


# --------------------------------------------------------------------------- harness

def _nop_states(n=50):
    return V.FormStates(V.form_key("test", 1, "NOP"), V.plan("NOPL", ())).states(n)


def test_native_round_trip(host):
    """The prologue/epilogue load and store the whole state exactly (a NOP changes
    nothing), and faults come back with signal, si_code and address."""
    if not host.start():
        need("no native harness (linux/amd64) on this host")
    states = _nop_states()
    for s, o in zip(states, host.run(b"\x90", states)):
        assert V.delta(s, o, host.view) == b""
    s = states[:1]
    load_end = b"\x48\x8b\x04\x25" + (V.DATA_END - 4).to_bytes(4, "little")
    assert host.run(load_end, s)[0].fault == V.Fault("SIGSEGV", "SEGV_MAPERR", V.DATA_END)
    assert host.run(b"\x0f\x0b", s)[0].fault == V.Fault("SIGILL", "ILL_ILLOPN", V.AT_PC)
    movaps = b"\x0f\x28\x04\x25" + (V.DATA + 8).to_bytes(4, "little")    # misaligned
    assert host.run(movaps, s)[0].fault == V.Fault("SIGSEGV", "SI_KERNEL", 0)
    # After a fault the harness still works.
    assert V.delta(states[1], host.run(b"\x90", states[1:2])[0], host.view) == b""


def test_native_sees_the_whole_register_file(host):
    """On an AVX-512 host the harness observes Z0-Z31 and K0-K7: VPADDD Z31, Z30, K1,
    Z16 (merge-masked) computed by Python agrees with the processor."""
    if not host.start():
        need("no native harness (linux/amd64) on this host")
    if host.view.name != "avx512":
        pytest.skip(f"this host exposes the {host.view.name} state only")
    # vpaddd zmm16{k1}, zmm30, zmm31  (EVEX.512.66.0F.W0 FE /r)
    code = bytes.fromhex("6281 0d41 fec7".replace(" ", ""))
    for s in _nop_states(10):
        o = host.run(code, [s])[0]
        a, b, old, k = s.vec[30], s.vec[31], s.vec[16], s.k[1]
        want = 0
        for j in range(16):
            m = 0xFFFFFFFF << (32 * j)
            lane = ((a & m) + (b & m)) & m if k >> j & 1 else old & m
            want |= lane
        assert o.fault is None and o.state.vec[16] == want
        assert V.parse_delta(V.delta(s, o)).keys() <= {"V16"}


# --------------------------------------------------------------------------- states

def test_states_are_deterministic_and_cover_the_edges(simd_suite):
    """Generated states depend only on the form (recorded answers need that) and
    contain the edge cases the oracle is for."""
    def forms(op, source=None):
        return [f for f in simd_suite.forms if f.op == op and (source is None or
                                                               f.source == source)]

    f = forms("VADDPS")[0]
    a, b = f.states(), f.states()
    assert [(s.regs, s.vec, s.k, s.flags, s.mxcsr, s.data) for s in a] == \
        [(s.regs, s.vec, s.k, s.flags, s.mxcsr, s.data) for s in b]
    lanes = set()
    for g in forms("VADDPS") + forms("VMULPS"):
        for s in g.states():
            for n, _ in g.plan.vecs:
                lanes.update((s.vec[n] >> (32 * j)) & 0xFFFFFFFF for j in range(16))
    for special in (0x7FC00000, 0x7F800001, 0x00000001, 0x80000000, 0xFF800000, 0x7F7FFFFF):
        assert special in lanes, hex(special)
    mxcsrs = {s.mxcsr for s in f.states()}
    assert V.MXCSR_DEFAULT in mxcsrs and len(mxcsrs) > 5
    # Memory operands: aligned, unaligned and over an edge of the window.
    g = [x for x in forms("VMOVDQU32") if "(" in x.text and "K" in x.text][0]
    eas = [O._effective_address(g.plan.mem, s) for s in g.states()]
    assert any(e % 64 == 0 for e in eas) and any(e % 64 for e in eas)
    assert any(e >= V.DATA_END - 64 or e < V.DATA for e in eas)
    # Gathers: some elements point outside the window with their mask bit clear.
    gx = forms("VPGATHERDD", "amd64enc_extra.s")[0]
    outside = 0
    for s in gx.states():
        idx, mask = s.vec[gx.plan.vsib and V.vector_reg(gx.plan.vsib.index)[0]], \
            s.vec[gx.plan.vmask]
        base = s.regs[V.GPR_INDEX[gx.plan.vsib.base]] + gx.plan.vsib.offset
        for j in range(gx.plan.gather[2]):
            i = (idx >> (32 * j)) & 0xFFFFFFFF
            addr = base + (i - (1 << 32) if i >> 31 else i) * (gx.plan.vsib.scale or 1)
            if not V.DATA <= addr < V.DATA_END and not mask >> (32 * j + 31) & 1:
                outside += 1
    assert outside > 5


def test_delta_round_trip():
    s = _nop_states(1)[0]
    t = s.copy()
    t.regs[3] ^= 1
    t.vec[17] ^= 1 << 300
    t.k[2] = 5
    t.flags ^= V.ZF
    t.mxcsr |= 1
    t.data[100] ^= 0xFF
    d = V.parse_delta(V.delta(s, V.VOutcome(t, V.Fault("SIGSEGV", "SEGV_MAPERR", 5))))
    assert d["BX"] == t.regs[3] and d["V17"] == t.vec[17] and d["K2"] == 5
    assert d["RFLAGS"] == t.flags & V.FLAG_MASK and d["MXCSR"] == t.mxcsr
    assert d[("mem", V.DATA + 96)] == bytes(t.data[96:112])
    assert d["fault"] == "SIGSEGV/SEGV_MAPERR/5"


# --------------------------------------------------------------------------- CPUID

def test_simd_features_table_is_current(simd_suite):
    """goasm/arch/amd64_simd_features.txt is what tools/gen_simd_features.py makes from
    the Go release the tests use."""
    from importlib import resources

    text = resources.files("goasm.arch").joinpath(O.FEATURES_FILE).read_text(encoding="utf-8")
    assert text == O.features_text(simd_suite), "run tools/gen_simd_features.py"


def test_advertised_simd_features_are_complete(simd_suite):
    """CPUID reports a SIMD feature only when every encoded form of it runs: the
    mnemonic-level rule of goasm.machine.state, checked form by form."""
    from goasm.machine.state import CPUModel

    feats = CPUModel().features
    missing = [f"{f.name} [{f.family}]" for f in simd_suite.classified()
               if f.status == "unimplemented" and (
                   O.FAMILY_FEATURE.get(f.family) in feats
                   or (f.vl and "avx512vl" in feats))]
    assert not missing, f"{len(missing)} forms of advertised features are unimplemented:\n" \
        + "\n".join(missing[:40])


# --------------------------------------------------------------------------- masking

EDGE_OPS = ("VPCOMPRESSD", "VPCOMPRESSQ", "VCOMPRESSPS", "VPEXPANDD", "VMOVDQU32",
            "VMOVDQU8", "VMOVUPD", "VMASKMOVPS", "VPMASKMOVQ", "VPGATHERDD", "VGATHERQPD",
            "VPSCATTERDD")


def test_masked_off_elements_on_unmapped_pages(simd_suite, recordings, record_property):
    """Masked loads and stores, VPCOMPRESS/VPEXPAND and gathers/scatters whose masked-off
    elements point at an unmapped page do not fault, and a faulting element is reported
    with its own address -- on the recorded CPU (the states cover both cases for every
    one of these mnemonics) and, for the forms goasm implements, in goasm, state by
    state (fault and whole outcome)."""
    vendor = next(iter(recordings.values())).header["cpu"]["vendor"]
    engine = O.GoasmEngine(simd_suite, vendor)
    quiet, loud, checked, problems = {}, {}, set(), []
    for f in simd_suite.classified():
        if f.op not in EDGE_OPS or f.status == "excluded" or \
                (f.plan.mem is None and f.plan.vsib is None):
            continue
        if f.plan.writemask is None and f.plan.vmask is None:
            continue
        r = recordings[f.source].get(f)
        for i, s in enumerate(f.states()):
            if not O.outside_window(f, s):
                continue
            fault = r.faults[i]
            if not fault:
                quiet[f.op] = quiet.get(f.op, 0) + 1
            elif fault.startswith("SIGSEGV (SEGV_MAPERR) addr="):
                addr = int(fault.rsplit("=", 1)[1], 16)
                if not V.DATA <= addr < V.DATA_END:
                    loud[f.op] = loud.get(f.op, 0) + 1
            if f.status == "checked":
                checked.add(f.op)
                d = V.delta(s, engine.run(f, s))
                got = O._fault_text(V.parse_delta(d).get("fault"))
                if got != fault or V.digest(d)[:2] != r.states[2 * i:2 * i + 2]:
                    problems.append(f"{f.name} state {i}: CPU {fault or 'no fault'}, "
                                    f"goasm {got or 'no fault'}")
    record_property("cpu_oracle_edges", json.dumps({"quiet": quiet, "loud": loud,
                                                    "goasm": sorted(checked)}))
    assert set(quiet) == set(EDGE_OPS), sorted(set(EDGE_OPS) - set(quiet))
    assert set(loud) == set(EDGE_OPS) - {"VPEXPANDD"} or set(loud) == set(EDGE_OPS), \
        sorted(set(EDGE_OPS) - set(loud))
    assert not problems, "\n".join(problems[:30])

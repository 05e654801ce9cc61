"""The CPU model (goasm.machine.state: FEATURES, REQUIRES, PRESETS, CPUModel) and the
processor-state instructions (goasm.machine.ops.sysreg: XGETBV, LDMXCSR/STMXCSR,
VLDMXCSR/VSTMXCSR, VZEROUPPER/VZEROALL).

CPUID must never advertise what goasm cannot execute: a feature is reported only when
every mnemonic of it has a handler (and the features it needs are reported too);
tests/test_conformance_cpu.py checks the same at the level of every encoded form.
"""

from __future__ import annotations

import pytest

from goasm.errors import GoasmError, MachineFault
from goasm.machine import state as S


def _machine(body: str, model=None):
    from goasm.link import LinkUnit, link
    from goasm.machine.machine import Machine
    from goasm.parse import parse_source

    prog = parse_source(f"TEXT ·f(SB),4,$0\n{body}\n\tRET\n", "r.s")
    image = link([LinkUnit(prog, "main")], strict=False)
    m = Machine(image, cpu_model=model)
    m.cpu.pc = image.lookup("main.f").addr
    m.mem.map(0x10000000, 0x1000)
    return m


def test_cpuid_reports_what_goasm_implements():
    from goasm.machine.semantics import TABLE

    model = S.CPUModel()
    assert model.features == S.implemented_features()
    for f in S.FEATURES:
        if f.name in model.features and not f.always:
            assert all(m in TABLE for m in f.mnemonics), f.name
        for need in S.REQUIRES.get(f.name, ()):
            assert f.name not in model.features or need in model.features, (f.name, need)
    # goasm executes the scalar/integer extensions Go's kernels select on ...
    assert {"popcnt", "sse4.2", "bmi1", "bmi2", "adx", "abm", "movbe", "cx16", "osxsave"} \
        <= model.features
    # ... AVX exactly when every AVX mnemonic runs (then leaf 1 ECX 28 and XCR0 bit 2).
    avx = all(m in TABLE for m in next(f for f in S.FEATURES if f.name == "avx").mnemonics)
    assert ("avx" in model.features) == avx
    assert bool(model.cpuid(1)[2] & 1 << 28) == avx and bool(model.xcr0 & 4) == avx
    assert not model.cpuid(1)[3] & 1                    # no x87 FPU


def test_simd_features_list_every_family_mnemonic():
    """The generated table names hundreds of mnemonics per SIMD feature (and only
    mnemonics cmd/asm knows)."""
    from goasm.arch.amd64 import MNEMONICS

    simd = S._simd_mnemonics()
    assert len(simd["avx"]) > 250 and len(simd["avx2"]) > 100 and len(simd["avx512f"]) > 300
    assert {"VZEROUPPER", "VLDMXCSR", "VPTEST", "VAESENC"} <= set(simd["avx"])
    assert {"VPGATHERDD", "VPERMQ", "VPBROADCASTB"} <= set(simd["avx2"])
    assert {"KANDW", "VPTERNLOGD", "VPERMT2D", "VSCATTERDPS"} <= set(simd["avx512f"])
    for ops in simd.values():
        assert set(ops) <= MNEMONICS


def test_presets():
    from goasm.api import cpu_model

    model = S.CPUModel()
    intel, amd = cpu_model("intel"), cpu_model("amd")
    assert cpu_model(None) == intel and S.DEFAULT_PRESET == "intel"
    assert intel.vendor == "GenuineIntel" and amd.vendor == "AuthenticAMD"
    assert intel.features == amd.features == model.features
    # Sapphire Rapids: family 6 model 0x8F; Zen 4: family 0xF + 0xA, model 0x11.
    eax = intel.cpuid(1)[0]
    assert (eax >> 8) & 0xF == 6 and ((eax >> 12) & 0xF0 | (eax >> 4) & 0xF) == 0x8F
    eax = amd.cpuid(1)[0]
    assert (eax >> 8) & 0xF == 0xF and (eax >> 20) & 0xFF == 0xA
    assert ((eax >> 12) & 0xF0 | (eax >> 4) & 0xF) == 0x11
    brand = b"".join(r.to_bytes(4, "little") for leaf in (0x80000002, 0x80000003, 0x80000004)
                     for r in amd.cpuid(leaf)).rstrip(b"\0")
    assert brand.startswith(b"goasm") and b"amd" in brand
    levels = [cpu_model(n) for n in ("v1", "v2", "v3", "v4")]
    assert {"sse2", "cmov", "cx8"} <= levels[0].features and "popcnt" not in levels[0].features
    assert levels[0].features < levels[1].features <= levels[2].features <= levels[3].features
    for lvl, offered in zip(levels, (S.LEVEL_V1, S.LEVEL_V2, S.LEVEL_V3, S.LEVEL_V4)):
        assert lvl.features <= offered and lvl.features <= model.features
    assert [lvl.goamd64 for lvl in levels] == ["v1", "v2", "v3", "v4"]
    assert intel.goamd64 == amd.goamd64 == "v1"
    with pytest.raises(GoasmError):
        cpu_model("via")


def test_host_preset_reads_cpuinfo():
    """``host``: this machine's vendor, signature and flags (Linux names mapped),
    limited to what goasm implements."""
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
            "model name\t: AMD EPYC 9654\nstepping\t: 1\nflags\t\t: fpu sse sse2 pni "
            "ssse3 sse4_1 sse4_2 popcnt xsave avx avx2 fma f16c sha_ni avx512f "
            "avx512_vbmi2\n\nprocessor\t: 1\n")
    vendor, eax1, feats, name = S.host_cpu(text)
    assert vendor == "AuthenticAMD" and eax1 == 0x00A10F11 and name == "AMD EPYC 9654"
    assert {"sse3", "sse4.1", "sse4.2", "sha", "osxsave", "avx", "avx512vbmi2"} <= feats
    assert "fpu" not in feats
    import os

    if os.path.exists("/proc/cpuinfo"):
        host = S.CPUModel.preset("host")
        assert host.features <= S.implemented_features()
        assert host.vendor == S.host_cpu()[0]


def test_leaf_0xd_and_xcr0():
    """XCR0 and CPUID leaf 0xD follow the features (SDM Vol. 1, 13.2: standard-format
    offsets and sizes of the AVX, opmask, ZMM_Hi256 and Hi16_ZMM components)."""
    base = S.LEVEL_V2 | {"osxsave"}
    avx = S.CPUModel(leaves=S.feature_leaves(base | {"avx"}))
    assert avx.xcr0 == 0x7 and avx.cpuid(0xD, 0) == (0x7, 832, 832, 0)
    assert avx.cpuid(0xD, 2) == (256, 576, 0, 0) and avx.cpuid(0xD, 5) == (0, 0, 0, 0)
    v4 = S.CPUModel(leaves=S.feature_leaves(base | S.LEVEL_V4))
    assert v4.xcr0 == 0xE7 and v4.cpuid(0xD, 0) == (0xE7, 2688, 2688, 0)
    assert [v4.cpuid(0xD, c)[:2] for c in (5, 6, 7)] == [(64, 1088), (512, 1152),
                                                         (1024, 1664)]
    assert S.CPUModel(leaves=S.feature_leaves(S.LEVEL_V2)).xcr0 == 0
    assert v4.cpuid(0, 0)[0] >= 0xD


def test_xgetbv():
    """XGETBV: EDX:EAX = XCR0 (upper halves cleared); ECX != 0 is #GP; without OSXSAVE
    the instruction is #UD."""
    v4 = S.CPUModel(leaves=S.feature_leaves(S.LEVEL_V4))
    m = _machine("\tMOVQ $-1, AX\n\tMOVQ $-1, DX\n\tXORL CX, CX\n\tXGETBV", v4)
    for _ in range(4):
        m.step()
    assert (m.reg("AX"), m.reg("DX")) == (0xE7, 0)
    m = _machine("\tMOVL $1, CX\n\tXGETBV", v4)
    m.step()
    with pytest.raises(MachineFault) as exc:
        m.step()
    assert (exc.value.signal, exc.value.code, exc.value.addr) == ("SIGSEGV", "SI_KERNEL", 0)
    m = _machine("\tXGETBV", S.CPUModel.preset("v1"))
    with pytest.raises(MachineFault) as exc:
        m.step()
    assert exc.value.signal == "SIGILL"


def test_mxcsr_load_store():
    """LDMXCSR/VLDMXCSR load MXCSR (#GP on bits 16-31), STMXCSR/VSTMXCSR store it."""
    m = _machine("\tMOVQ $0x10000000, BX\n\tLDMXCSR (BX)\n\tVSTMXCSR 8(BX)\n"
                 "\tVLDMXCSR 4(BX)\n\tSTMXCSR 12(BX)")
    m.mem.write(0x10000000, (0x7F80 | 0x40 | 0x3).to_bytes(4, "little")
                + (0x1F80).to_bytes(4, "little"))
    for _ in range(3):
        m.step()
    assert m.cpu.mxcsr == 0x7FC3
    assert m.mem.read(0x10000008, 4) == (0x7FC3).to_bytes(4, "little")
    m.step()
    m.step()
    assert m.cpu.mxcsr == 0x1F80 and m.mem.read(0x1000000C, 4) == b"\x80\x1f\0\0"
    m = _machine("\tMOVQ $0x10000000, BX\n\tLDMXCSR (BX)")
    m.mem.write(0x10000000, (0x1F80 | 1 << 16).to_bytes(4, "little"))
    m.step()
    with pytest.raises(MachineFault) as exc:
        m.step()
    assert (exc.value.signal, exc.value.code) == ("SIGSEGV", "SI_KERNEL")
    assert m.cpu.mxcsr == 0x1F80


def test_vzeroupper_vzeroall():
    """VZEROUPPER clears bits 128+ of V0-V15, VZEROALL all of V0-V15; V16-V31 keep
    their value (64-bit mode)."""
    m = _machine("\tVZEROUPPER\n\tVZEROALL")
    full = (1 << 512) - 1
    for i in range(32):
        m.cpu.set_vec(i, full - i)
    m.step()
    for i in range(32):
        assert m.cpu.get_vec(i) == ((full - i) & ((1 << 128) - 1) if i < 16 else full - i)
    m.step()
    for i in range(32):
        assert m.cpu.get_vec(i) == (0 if i < 16 else full - i)


def test_goamd64_macro_follows_the_preset(tmp_path):
    """``--cpu v3`` assembles with GOAMD64_v3 defined, as go build -D GOAMD64_v3 would;
    an explicit -D GOAMD64_* wins."""
    from goasm import api

    assert api.with_goamd64(None, "v3") == ["GOAMD64_v3"]
    assert api.with_goamd64(["X=1"], "v2") == ["X=1", "GOAMD64_v2"]
    assert api.with_goamd64(["GOAMD64_v4"], "v1") == ["GOAMD64_v4"]
    assert api.with_goamd64({"Y": None}, "v3") == {"Y": None, "GOAMD64_v3": None}
    src = tmp_path / "lvl.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT main·main(SB),NOSPLIT,$0\n"
                   "#ifdef GOAMD64_v3\n\tMOVL $3, DI\n#else\n#ifdef GOAMD64_v1\n"
                   "\tMOVL $1, DI\n#else\n\tMOVL $9, DI\n#endif\n#endif\n"
                   "\tMOVL $231, AX\n\tSYSCALL\n")
    assert api.run([src], cpu="v3").status == 3
    assert api.run([src], cpu="v1").status == 1
    assert api.run([src], cpu="intel").status == 1
    assert api.run([src], cpu="v3", defines=["GOAMD64_v2"]).status == 9


# --------------------------------------------------------------------------- programs

def _hello(cpu: str, goroot=None):
    import io
    from pathlib import Path

    from goasm import api

    out, err = io.BytesIO(), io.BytesIO()
    hello = Path(__file__).resolve().parent.parent / "examples" / "hello" / "hello.s"
    try:
        r = api.run([hello], cpu=cpu, stdout=out, stderr=err, goroot=goroot)
        return out.getvalue(), r.status, ""
    except GoasmError as exc:
        return out.getvalue(), None, exc.message


_LEVEL = {"v3": S.LEVEL_V3, "v4": S.LEVEL_V4}


@pytest.mark.parametrize("cpu", sorted(S.PRESETS))
def test_hello_under_every_preset(cpu, goroot):
    """examples/hello prints what the native binary prints (tests/test_examples.py) under
    every preset, with the embedded runtime and with Go 1.27's own runtime assembly.
    Under v3/v4 Go's rt0_go checks the level with CPUID/XGETBV: while goasm does not
    execute all of it (so the preset does not advertise it), Go refuses to run -- its
    bad_cpu path, which calls runtime·write -- instead of running code goasm lacks."""
    from goasm.machine import goruntime

    from conftest import cache_dir

    assert _hello(cpu) == (b"hello, world\n", 0, "")
    rt = goruntime.prepare(goroot, cache_dir=cache_dir())
    out, status, message = _hello(cpu, rt)
    model = S.CPUModel.preset(cpu)
    if cpu in _LEVEL and not _LEVEL[cpu] <= model.features:
        assert status is None and "runtime.write" in message and \
            "runtime.rt0_go" in message, (out, status, message)
    else:
        assert (out, status, message) == (b"hello, world\n", 0, "")

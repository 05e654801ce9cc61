"""goasm's runtime: the layout model against the real toolchain's go_asm.h, the
generated runtime_s/go_asm.h, and the bootstrap run end to end (runtime_s/*.s + the
Python natives of goasm/machine/runtime.py).

Oracles: the go_asm.h that Go's compiler writes for package runtime (go build -work -a
runtime; cached by conftest's go_asm_dirs) and the bootstrap relations measured on a Go
1.27 binary under gdb (DESIGN.md): g0.stack.hi = (E - 40) & ~15, lo = hi - 65536, both
guards = lo, m0.tls[0] = &g0, FS base = &m0.tls + 8, g0.m = &m0, m0.g0 = &g0.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from goasm.errors import GoasmError, LinkError
from goasm.machine import layout as lay
from goasm.machine.runtime import (ContextSwitch, G0Stack, GoroutineCreated, GoroutineExit,
                                   RuntimeModel, StackGrowth, state_json)

REPO = Path(__file__).resolve().parent.parent
RT = REPO / "runtime_s"


# --------------------------------------------------------------------------- layout

def test_builtin_layout_basics():
    L = lay.default_layout()
    assert L.g.stackguard0 == 16 and L.g.stackguard1 == 24
    assert L.g_stack("lo") == 0 and L.g_stack("hi") == 8
    assert L.g_sched("sp") == 56 and L.g_sched("bp") == 96
    assert L.m.tls == 128 and L.m_morebuf("pc") == 16
    assert L.stack_guard == 928 and L.stack_small == 128 and L.const("stackMin") == 2048
    with pytest.raises(GoasmError, match="no field"):
        L.g.off("nosuch")
    with pytest.raises(AttributeError):
        L.g.nosuch  # noqa: B018


def test_layout_matches_toolchain_go_asm_h(go_asm_dirs):
    """Every modelled field and constant equals the compiler's go_asm.h (Go 1.27)."""
    text = (Path(go_asm_dirs["runtime"]) / "go_asm.h").read_text()
    real = lay.parse_go_asm_h(text)
    ours = lay.default_layout()
    checked = 0
    for sname, s in ours.structs.items():
        assert int(real[f"{sname}__size"]) == s.size, sname
        for field, off in s.fields.items():
            assert int(real[f"{sname}_{field}"]) == off, f"{sname}_{field}"
            checked += 1
    for cname, value in ours.consts.items():
        if cname in ("stackSmall", "stackBig"):      # internal/abi, not in runtime's header
            continue
        assert int(real[f"const_{cname}"]) == value, cname
        checked += 1
    assert checked > 40
    # and reading the header gives the same layout
    parsed = lay.Layout.from_go_asm_h(text)
    assert dict(parsed.structs) == dict(ours.structs)
    assert dict(parsed.consts) == dict(ours.consts)


def test_layout_from_older_go_asm_h():
    """Go 1.21's go_asm.h (cached by the goroot tests, when present): gobuf still has
    ``ret``, m is smaller and m.tls sits at 136."""
    from conftest import cache_dir

    found = sorted(cache_dir().glob("go1.21*/runtime/go_asm.h"))
    if not found:
        pytest.skip("no Go 1.21 go_asm.h in the test cache")
    L = lay.Layout.from_go_asm_h(found[0].read_text(), version="go1.21")
    assert L.gobuf.ret == 32 and L.gobuf.bp == 48 and L.gobuf.size == 56
    assert L.m.tls == 136 and L.m.curg == 192 and L.m.gsignal == 80
    assert L.g.size == 408 and not L.g.has("syscallbp")
    assert L.stack_guard == 928


def test_from_go_asm_h_reports_missing_and_aliases():
    with pytest.raises(GoasmError, match="g_stackguard0"):
        lay.Layout.from_go_asm_h(lay.render_go_asm_h(lay.default_layout())
                                 .replace("#define g_stackguard0 16\n", ""))
    old_style = lay.render_go_asm_h(lay.default_layout()).replace("const_stackGuard", "const__StackGuard")
    assert lay.Layout.from_go_asm_h(old_style).stack_guard == 928


def test_go_asm_h_is_up_to_date():
    """runtime_s/go_asm.h is what ``python -m goasm.machine.layout`` writes."""
    assert (RT / "go_asm.h").read_text() == lay.render_go_asm_h(lay.default_layout())


def test_generated_header_round_trips():
    L = lay.default_layout()
    again = lay.Layout.from_go_asm_h(lay.render_go_asm_h(L))
    assert dict(again.structs) == dict(L.structs) and dict(again.consts) == dict(L.consts)


# --------------------------------------------------------------------------- running

def _machine_api():
    try:
        from goasm.machine.machine import Machine, ProgramExit  # noqa: F401
    except ImportError:
        pytest.skip("goasm.machine.machine is not available yet")
    return Machine, ProgramExit


def build(tmp_path, user_src: str, *, argv=(b"prog",), env=(), **model_kw):
    """Load runtime_s + the user file the way the API does, bind the model, start the
    process. Returns (machine, model, entry_sp, out, err)."""
    Machine, _ = _machine_api()
    from goasm.link import LinkUnit, link
    from goasm.machine.process import start_process
    from goasm.machine.syscalls import Linux
    from goasm.parse import parse_file

    user = tmp_path / "main.s"
    user.write_text(user_src)
    model = RuntimeModel(**model_kw)
    units = [LinkUnit(parse_file(p, include_dirs=[RT]), "runtime") for p in sorted(RT.glob("*.s"))]
    units.append(LinkUnit(parse_file(user), "main"))
    image = link(units, natives=model.natives().keys(), data_symbols=model.data_symbols())
    out, err = io.BytesIO(), io.BytesIO()
    machine = Machine(image, stdout=out, stderr=err, max_steps=20_000_000)
    model.bind(machine)
    machine.syscall = Linux(stdout=out, stderr=err, events=model.events)
    sp = start_process(machine, argv=list(argv), env=list(env), random=bytes(range(16)))
    return machine, model, sp, out, err


def run(machine):
    """Run to the end; the exit status (ProgramExit), or None if run() returned."""
    _, ProgramExit = _machine_api()
    try:
        machine.run()
    except ProgramExit as e:
        return e.status
    return getattr(machine, "exit_status", None)


HELLO = """\
#include "textflag.h"

DATA msg<>+0(SB)/6, $"hello\\n"
GLOBL msg<>(SB), RODATA, $6

// func main()
TEXT ·main(SB), NOSPLIT, $0-0
	MOVQ	$1, DI		// fd 1
	LEAQ	msg<>(SB), SI
	MOVQ	$6, DX
	MOVQ	$1, AX		// SYS_write
	SYSCALL
	RET
"""


def test_hello(tmp_path):
    machine, model, sp, out, err = build(tmp_path, HELLO)
    assert run(machine) == 0
    assert out.getvalue() == b"hello\n"
    assert err.getvalue() == b""
    kinds = [e.kind for e in model.events]
    for k in ("tls_base", "g0_stack", "args", "goroutine_created", "context_switch", "exit"):
        assert k in kinds, k
    created = [e for e in model.events if isinstance(e, GoroutineCreated)]
    assert created[0].goid == 1 and created[0].entry_name == "runtime.main"
    assert created[0].stack_hi - created[0].stack_lo == 8192


def test_bootstrap_relations_at_check(tmp_path):
    machine, model, E, out, err = build(tmp_path, HELLO)
    check = machine.image.symbols["runtime.check"].addr
    original = machine.natives[check]
    snaps = []

    def spy(m):
        snaps.append(state_json(m, model, entry_sp=E))
        original(m)

    machine.natives[check] = spy
    assert run(machine) == 0
    assert len(snaps) == 1
    st = snaps[0]
    g0, m0 = st["g0"], st["m0"]
    sym = st["symbols"]
    assert st["entry_sp"] == E and E % 16 == 0
    assert st["stopped_at"] == "runtime.check"
    assert g0["addr"] == sym["runtime.g0"] and m0["addr"] == sym["runtime.m0"]
    assert g0["stack_hi"] == (E - 40) & ~15
    assert g0["stack_lo"] == g0["stack_hi"] - 65536
    assert g0["stackguard0"] == g0["stack_lo"] == g0["stackguard1"]
    assert m0["tls0"] == g0["addr"]
    assert st["fs_base"] == sym["runtime.m0"] + 128 + 8
    assert g0["m"] == m0["addr"] and m0["g0"] == g0["addr"]
    assert st["g"]["addr"] == g0["addr"] and st["tls_g"] == g0["addr"]
    assert st["regs"]["SP"] == ((E - 40) & ~15) - 8        # the CALL pushed a return address
    # argc/argv copied to 24(SP)/32(SP) of rt0_go's frame
    mem = machine.mem
    assert mem.read_u64(g0["stack_hi"] + 24) == 1 and mem.read_u64(g0["stack_hi"] + 32) == E + 8
    g0ev = [e for e in model.events if isinstance(e, G0Stack)][0]
    assert (g0ev.lo, g0ev.hi) == (g0["stack_lo"], g0["stack_hi"])


def test_state_after_exit(tmp_path):
    machine, model, E, out, err = build(tmp_path, HELLO)
    assert run(machine) == 0
    st = state_json(machine, model, entry_sp=E)
    # the main goroutine is current: goid 1, on m0, its guard above its lo
    g = st["g"]
    assert g["goid"] == 1 and g["m"] == st["m0"]["addr"] and st["m0"]["curg"] == g["addr"]
    assert g["stackguard0"] == g["stack_lo"] + 928
    # mstart0 raised g0's guards to lo + stackGuard
    assert st["g0"]["stackguard0"] == st["g0"]["stack_lo"] + 928
    assert set(st["regs"]) >= {"AX", "R15", "SP", "BP", "PC", "FLAGS"}
    import json
    json.dumps(st)


def test_missing_main_is_a_clear_error(tmp_path):
    machine, *_ = build(tmp_path, "TEXT ·other(SB), $0-0\n\tRET\n")
    with pytest.raises(LinkError, match="function main is undeclared in the main package"):
        run(machine)


RECURSION = """\
#include "textflag.h"

GLOBL ·depth(SB), NOPTR, $8
GLOBL ·result(SB), NOPTR, $8

// func main(): sum(N) on a goroutine stack that starts at 8 KiB.
TEXT ·main(SB), $16-0
	MOVQ	$%(n)d, AX
	MOVQ	AX, 0(SP)
	CALL	·sum(SB)
	MOVQ	8(SP), AX
	MOVQ	AX, ·result(SB)
	MOVQ	AX, 0(SP)
	CALL	runtime·printint(SB)
	CALL	runtime·printnl(SB)
	RET

// func sum(n int) int: n + sum(n-1), keeping n in a local across the call.
// At n == 0 it walks the frame-pointer chain and counts the frames.
TEXT ·sum(SB), $48-16
	MOVQ	n+0(FP), AX
	CMPQ	AX, $0
	JNE	rec
	MOVQ	BP, CX
	MOVQ	$0, DX
walk:
	INCQ	DX
	MOVQ	(CX), CX
	TESTQ	CX, CX
	JNE	walk
	MOVQ	DX, ·depth(SB)
	MOVQ	$0, ret+8(FP)
	RET
rec:
	MOVQ	AX, x-8(SP)
	DECQ	AX
	MOVQ	AX, 0(SP)
	CALL	·sum(SB)
	MOVQ	8(SP), AX
	ADDQ	x-8(SP), AX
	MOVQ	AX, ret+8(FP)
	RET
"""


def test_deep_recursion_grows_the_stack(tmp_path):
    n = 20000
    machine, model, E, out, err = build(tmp_path, RECURSION % {"n": n})
    assert run(machine) == 0
    assert err.getvalue() == f"{n * (n + 1) // 2}\n".encode()
    mem = machine.mem
    assert mem.read_u64(machine.image.symbols["main.result"].addr) == n * (n + 1) // 2
    # frames: sum(0..n) and main.main, each with a saved BP; the chain survived every move
    assert mem.read_u64(machine.image.symbols["main.depth"].addr) == n + 2
    growths = [e for e in model.events if isinstance(e, StackGrowth)]
    assert len(growths) >= 8
    assert growths[0].old_size == 8192 and growths[0].new_size == 16384
    for a, b in zip(growths, growths[1:]):
        assert b.old_size == a.new_size and (b.old_lo, b.old_hi) == (a.new_lo, a.new_hi)
    assert all(e.goid == 1 for e in growths)
    # old stacks are freed
    assert not mem.is_mapped(growths[0].old_lo)
    g = state_json(machine, model, entry_sp=E)["g"]
    assert (g["stack_lo"], g["stack_hi"]) == (growths[-1].new_lo, growths[-1].new_hi)


def test_stack_overflow_is_fatal(tmp_path):
    src = """\
TEXT ·main(SB), $0-0
	CALL	·down(SB)
	RET

TEXT ·down(SB), $1000-0
	CALL	·down(SB)
	RET
"""
    machine, model, E, out, err = build(tmp_path, src, max_stack=1 << 16)
    assert run(machine) == 2
    text = err.getvalue().decode()
    assert "runtime: goroutine stack exceeds 65536-byte limit" in text
    assert text.rstrip().endswith("fatal error: stack overflow")


GOROUTINES = """\
#include "textflag.h"

DATA ·workerPC+0(SB)/8, $·worker(SB)
GLOBL ·workerPC(SB), RODATA, $8
GLOBL ·flag(SB), NOPTR, $8

// func main(): start worker, yield to it, check it ran.
TEXT ·main(SB), $8-0
	MOVQ	$·workerPC(SB), AX
	MOVQ	AX, 0(SP)
	CALL	runtime·newproc(SB)
	CALL	runtime·Gosched(SB)
	MOVQ	·flag(SB), AX
	CMPQ	AX, $42
	JEQ	ok
	MOVL	$3, 0(SP)
	CALL	runtime·exit(SB)
ok:
	RET

TEXT ·worker(SB), NOSPLIT, $0-0
	MOVQ	$42, ·flag(SB)
	RET
"""


def test_goroutine_runs_and_exits(tmp_path):
    machine, model, E, out, err = build(tmp_path, GOROUTINES)
    assert run(machine) == 0
    created = [e for e in model.events if isinstance(e, GoroutineCreated)]
    assert [e.goid for e in created] == [1, 2]
    assert created[1].entry_name == "main.worker"
    exits = [e for e in model.events if isinstance(e, GoroutineExit)]
    assert [e.goid for e in exits] == [2]
    switches = [(e.from_goid, e.to_goid, e.reason) for e in model.events
                if isinstance(e, ContextSwitch)]
    assert switches == [(0, 1, "execute"), (1, 0, "Gosched"), (0, 2, "execute"),
                        (2, 0, "goexit"), (0, 1, "execute")]


def test_model_state_is_per_instance():
    a, b = RuntimeModel(), RuntimeModel()
    a.runq.append(1)
    assert not b.runq and a.events is not b.events
    assert set(a.natives()) >= {"runtime.check", "runtime.args", "runtime.osinit",
                                "runtime.schedinit", "runtime.newproc", "runtime.mstart0",
                                "runtime.main", "runtime.newstack", "runtime.goexit1",
                                "runtime.badmorestackg0", "runtime.badmorestackgsignal"}
    with pytest.raises(GoasmError):
        RuntimeModel(goroutine_stack=3000)


SYS_WRAPPERS = """\
#include "textflag.h"

DATA msg<>+0(SB)/3, $"hi\\n"
GLOBL msg<>(SB), RODATA, $3
GLOBL ·vals(SB), NOPTR, $64

TEXT ·main(SB), $48-0
	// write1(1, msg, 3)
	MOVQ	$1, 0(SP)
	LEAQ	msg<>(SB), AX
	MOVQ	AX, 8(SP)
	MOVL	$3, 16(SP)
	CALL	runtime·write1(SB)
	MOVL	24(SP), AX
	MOVQ	AX, ·vals+0(SB)
	// nanotime1
	CALL	runtime·nanotime1(SB)
	MOVQ	0(SP), AX
	MOVQ	AX, ·vals+8(SB)
	// usleep(1500000)
	MOVL	$1500000, 0(SP)
	CALL	runtime·usleep(SB)
	CALL	runtime·nanotime1(SB)
	MOVQ	0(SP), AX
	MOVQ	AX, ·vals+16(SB)
	// mmap(0, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANON, -1, 0)
	MOVQ	$0, 0(SP)
	MOVQ	$8192, 8(SP)
	MOVL	$3, 16(SP)
	MOVL	$0x22, 20(SP)
	MOVL	$-1, 24(SP)
	MOVL	$0, 28(SP)
	CALL	runtime·mmap(SB)
	MOVQ	32(SP), AX
	MOVQ	AX, ·vals+24(SB)
	MOVQ	40(SP), AX
	MOVQ	AX, ·vals+32(SB)
	// mmap of a file: error 19 (ENODEV)
	MOVL	$0x02, 20(SP)
	MOVL	$1, 24(SP)
	CALL	runtime·mmap(SB)
	MOVQ	32(SP), AX
	MOVQ	AX, ·vals+40(SB)
	MOVQ	40(SP), AX
	MOVQ	AX, ·vals+48(SB)
	CALL	runtime·getpid(SB)
	MOVQ	0(SP), AX
	MOVQ	AX, ·vals+56(SB)
	RET
"""


def test_sys_linux_wrappers(tmp_path):
    """The ABI0 wrappers of sys_linux_amd64.s: write1, nanotime1, usleep, mmap (and its
    error convention p = nil, err = errno), getpid."""
    machine, model, E, out, err = build(tmp_path, SYS_WRAPPERS)
    assert run(machine) == 0
    assert out.getvalue() == b"hi\n"
    a = machine.image.symbols["main.vals"].addr
    vals = [machine.mem.read_u64(a + 8 * i) for i in range(8)]
    assert vals[0] == 3
    assert vals[2] - vals[1] >= 1_500_000_000          # usleep advanced the virtual clock
    assert vals[3] % 4096 == 0 and vals[3] and vals[4] == 0
    assert machine.mem.is_writable(vals[3] + 8191)
    assert (vals[5], vals[6]) == (0, 19)               # ENODEV: no file mappings
    assert vals[7] == machine.syscall.pid


def test_state_before_tls(tmp_path):
    """Stopped at settls: g0's stack is set, TLS is not (g is null)."""
    machine, model, E, out, err = build(tmp_path, HELLO)
    r = machine.run(until=machine.image.symbols["runtime.settls"].addr)
    assert r.kind == "until"
    st = state_json(machine, model, entry_sp=E)
    assert st["stopped_at"] == "runtime.settls"
    assert st["g"] is None and st["tls_g"] is None and st["fs_base"] == 0
    assert st["g0"]["stack_hi"] == (E - 40) & ~15
    assert st["regs"]["DI"] == st["symbols"]["runtime.m0"] + 128
    assert st["m0"]["g0"] == 0


def _defines(path: Path) -> dict:
    import re

    return {m.group(1): m.group(2).split("//")[0].split("/*")[0].strip()
            for m in re.finditer(r"^#define\s+(\w+)\s+(.+)$", path.read_text(), re.M)}


def test_textflag_h_matches_arch_table():
    from goasm.arch.amd64 import TEXTFLAG

    ours = _defines(RT / "include" / "textflag.h")
    assert {k: int(v) for k, v in ours.items()} == dict(TEXTFLAG)


def test_headers_match_go(goroot):
    """Our textflag.h and funcdata.h define the same numbers as Go's runtime headers."""
    for name in ("textflag.h", "funcdata.h"):
        real = _defines(goroot / "src" / "runtime" / name)
        ours = _defines(RT / "include" / name)
        for key, value in ours.items():
            assert key in real, (name, key)
            assert real[key] == value, (name, key, value, real[key])


def test_asm_amd64_h_matches_go(goroot):
    """Our asm_amd64.h defines, for each GOAMD64 level, the same hasX names as Go's
    pkg/include/asm_amd64.h (read from the toolchain, never copied)."""
    import re

    from goasm.preprocess import preprocess

    def defined(path, level):
        text = path.read_text()
        out = set()
        for name in set(re.findall(r"^#define\s+(has\w+)", text, re.M)):
            probe = preprocess(text + f"\n#ifdef {name}\nYES\n#endif\n", str(path),
                               defines={f"GOAMD64_{level}": None})
            if any(line.text == "YES" for line in probe):
                out.add(name)
        return out

    for level in ("v1", "v2", "v3", "v4"):
        assert defined(RT / "include" / "asm_amd64.h", level) == \
            defined(goroot / "pkg" / "include" / "asm_amd64.h", level), level

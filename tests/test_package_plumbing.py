"""load_package's plumbing on small packages written here (issue 15): symbols named by
import path, two packages in one image, lazy linking and Machine.unsupported(),
declarations across files and packages, package variables with their Go initial
values, go_asm.h from the toolchain, the runtime helpers of runtime_s/, the CPU rules
checked against the installed Go sources, and Machine.call's argument checks."""

from __future__ import annotations

import io
import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
from goasm import gocpu, packages
from goasm.calls import CallError, CallExit
from goasm.errors import GoasmError, LinkError, UnimplementedError
from goasm.machine.state import PRESETS, CPUModel

from conftest import cache_dir

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def write_package(root, files: dict):
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def machine(image, cpu="v2", **kw):
    return goasm.Machine(image, cpu=cpu, stdout=io.BytesIO(), stderr=io.BytesIO(), **kw)


def counter_package(root, module: str, op: str):
    return write_package(root, {
        "go.mod": f"module {module}\n\ngo 1.21\n",
        "c.go": "package c\n\nfunc Compress(x uint64) uint64\n",
        "c_amd64.s": f"""
            #include "textflag.h"

            // func Compress(x uint64) uint64
            TEXT ·Compress(SB), NOSPLIT, $0-16
            \tMOVQ\tx+0(FP), AX
            \t{op}
            \tMOVQ\tAX, ret+8(FP)
            \tRET
            """,
    })


# ----------------------------------------------------------------------------- names

def test_two_packages_in_one_image(tmp_path):
    """Two packages both defining ·Compress load together; qualified names pick one,
    short names resolve in the first package."""
    a = counter_package(tmp_path / "a", "example.com/a", "INCQ\tAX")
    b = counter_package(tmp_path / "b", "example.com/b", "SHLQ\t$1, AX")
    image = goasm.load_package(a, b)
    assert {"example.com/a.Compress", "example.com/b.Compress"} <= set(image.functions)
    m = machine(image)
    assert m.call("example.com/a.Compress", 5) == 6
    assert m.call("example.com/b.Compress", 5) == 10
    assert m.call("Compress", 5) == 6
    assert m.call("·Compress", 7) == 8


def test_package_path_from_go_mod_subdirectory(tmp_path):
    write_package(tmp_path, {"go.mod": "module github.com/x/y\n"})
    d = counter_package(tmp_path / "inner" / "deep", "ignored", "NOTQ\tAX")
    (d / "go.mod").unlink()
    image = goasm.load_package(d)
    assert "github.com/x/y/inner/deep.Compress" in image.functions


def test_directory_outside_a_module_is_named_by_its_package_clause(tmp_path):
    d = counter_package(tmp_path / "c", "x", "DECQ\tAX")
    (d / "go.mod").unlink()
    image = goasm.load_package(d)
    assert "c.Compress" in image.functions and image.main_package == "c"
    assert machine(image).call("Compress", 1) == 0


# ----------------------------------------------------------------------------- lazy linking

def lazy_package(root):
    return write_package(root, {
        "go.mod": "module example.com/lazy\n",
        "l.go": """
            package lazy

            func helper(x int64) int64 { return x }

            func Good(x int64) int64
            func Bad(x int64) int64
            func Worse() int64
            """,
        "l_amd64.s": """
            #include "textflag.h"

            TEXT ·Good(SB), NOSPLIT, $0-16
            \tMOVQ\tx+0(FP), AX
            \tADDQ\tAX, AX
            \tMOVQ\tAX, ret+8(FP)
            \tRET

            TEXT ·Bad(SB), $16-16
            \tMOVQ\tx+0(FP), AX
            \tMOVQ\tAX, 0(SP)
            \tCALL\t·helper(SB)
            \tMOVQ\t8(SP), AX
            \tMOVQ\tAX, ret+8(FP)
            \tRET

            TEXT ·Worse(SB), NOSPLIT, $0-8
            \tMOVQ\t·nowhere(SB), AX
            \tMOVQ\tAX, ret+0(FP)
            \tRET
            """,
    })


def test_lazy_linking(tmp_path):
    """A package whose functions reach unresolved symbols loads; the others are
    callable; reaching one names it; unsupported() lists them beforehand."""
    d = lazy_package(tmp_path / "lazy")
    m = machine(goasm.load_package(d))
    gaps = m.unsupported()
    got = {(g.kind, g.name, g.pos.line, g.function) for g in gaps}
    assert ("unresolved", "example.com/lazy.helper", 12, "example.com/lazy.Bad") in got
    assert ("unresolved", "example.com/lazy.nowhere", 18, "example.com/lazy.Worse") in got
    assert all(str(g).startswith(str(d / "l_amd64.s")) for g in gaps)
    assert m.call("Good", 21) == 42
    with pytest.raises(UnimplementedError, match=r"Go function example\.com/lazy\.helper "
                       r"\(from example\.com/lazy\.Bad\+0x\w+\)") as info:
        m.call("Bad", 1)
    assert info.value.pos.line == 12
    with pytest.raises(LinkError, match=r"undefined symbol example\.com/lazy\.nowhere") as info:
        m.call("Worse")
    assert info.value.pos.line == 18
    assert m.call("Good", 2) == 4


def test_load_is_lazy_and_run_is_strict(tmp_path):
    src = tmp_path / "u.s"
    src.write_text("TEXT ·f(SB), $8-8\n\tCALL ·nosuch(SB)\n\tRET\n"
                   "TEXT ·g(SB), $0-8\n\tMOVQ $3, ret+0(FP)\n\tRET\n")
    m = machine(goasm.load(str(src)))           # one path, not a list
    assert m.call("g", sig="func() int") == 3
    assert [g.name for g in m.unsupported()] == ["main.nosuch"]
    with pytest.raises(LinkError, match="undefined symbol main.nosuch"):
        goasm.load([src], lazy=False)


# ----------------------------------------------------------------------------- declarations

def test_declarations_across_files_and_packages(tmp_path):
    """Types, constants and iota blocks from any file of the package serve every
    declaration; a type of another package of the module resolves through it."""
    write_package(tmp_path, {"go.mod": "module example.com/m\n"})
    write_package(tmp_path / "geo", {"geo.go": """
        package geo

        type Point struct {
        \tX, Y int32
        }
        """})
    write_package(tmp_path / "p", {
        "types.go": """
            package p

            import "example.com/m/geo"

            const (
            \tsmall = iota + 2
            \tmedium
            \tlarge
            )

            type Grid [large * 2]geo.Point
            type Word uint
            """,
        "decl.go": """
            package p

            import g "example.com/m/geo"

            func Sum(grid *Grid, w Word, p g.Point) int64
            """,
        "p_amd64.s": """
            #include "textflag.h"

            TEXT ·Sum(SB), NOSPLIT, $0-32
            \tMOVQ\tgrid+0(FP), SI
            \tMOVLQSX\t4(SI), AX
            \tADDQ\tw+8(FP), AX
            \tMOVLQSX\tp_Y+20(FP), BX
            \tADDQ\tBX, AX
            \tMOVQ\tAX, ret+24(FP)
            \tRET
            """,
    })
    m = machine(goasm.load_package(tmp_path / "p"))
    sig = m.signature("Sum")
    assert sig.params[0].type.elem.length == 8 and str(sig.params[2].type) == "Point"
    grid = [{"X": 1, "Y": 10}] + [{"X": 0, "Y": 0}] * 7
    assert m.call("Sum", goasm.Ref(grid), 100, {"X": 5, "Y": 1000}) == 1110


def test_undeclarable_type_names_itself(tmp_path):
    d = write_package(tmp_path / "q", {
        "go.mod": "module example.com/q\n",
        "q.go": 'package q\n\nimport "example.com/elsewhere/zzz"\n\nfunc F(t *zzz.T)\n',
        "q_amd64.s": "TEXT ·F(SB), 4, $0-8\n\tRET\n",
    })
    m = machine(goasm.load_package(d))
    with pytest.raises(CallError, match=r"q\.go:5\).*zzz\.T.*example\.com/elsewhere/zzz.*"
                       r"not loaded"):
        m.call("F", 0)


# ----------------------------------------------------------------------------- variables

VARS_GO = """
package vars

import "golang.org/x/sys/cpu"

const (
\ta = iota * 10
\tb
\tc
)

type Kind uint8

const (
\tKA Kind = iota + 1
\tKB
)

const p1 uint64 = 11400714785074694791
const p2 = p1 * 3

var primes = [...]uint64{p1, p2, 4: 1}
var table = [4]uint32{a, b, c}
var name = "h\\u00e9llo"
var enabled = c > b && !false || false
var kind = KB
var useSSE41 = cpu.X86.HasSSE41 && cpu.X86.HasSSSE3
var computed = compute()
var negative int16 = -a - 7

func compute() int { return 1 }

func Prime(i int) uint64
func Table(i int) uint32
func Name() string
func Flags() (e bool, k uint8, s bool)
func Computed() int
func Negative() int16
"""

VARS_S = """
#include "textflag.h"

TEXT ·Prime(SB), NOSPLIT, $0-16
\tMOVQ\ti+0(FP), AX
\tLEAQ\t·primes(SB), SI
\tMOVQ\t(SI)(AX*8), AX
\tMOVQ\tAX, ret+8(FP)
\tRET

TEXT ·Table(SB), NOSPLIT, $0-12
\tMOVQ\ti+0(FP), AX
\tLEAQ\t·table(SB), SI
\tMOVL\t(SI)(AX*4), AX
\tMOVL\tAX, ret+8(FP)
\tRET

TEXT ·Name(SB), NOSPLIT, $0-16
\tMOVQ\t·name+0(SB), AX
\tMOVQ\tAX, ret_base+0(FP)
\tMOVQ\t·name+8(SB), AX
\tMOVQ\tAX, ret_len+8(FP)
\tRET

TEXT ·Flags(SB), NOSPLIT, $0-3
\tMOVB\t·enabled(SB), AX
\tMOVB\tAX, e+0(FP)
\tMOVB\t·kind(SB), AX
\tMOVB\tAX, k+1(FP)
\tMOVB\t·useSSE41(SB), AX
\tMOVB\tAX, s+2(FP)
\tRET

TEXT ·Computed(SB), NOSPLIT, $0-8
\tMOVQ\t·computed(SB), AX
\tMOVQ\tAX, ret+0(FP)
\tRET

TEXT ·Negative(SB), NOSPLIT, $0-2
\tMOVW\t·negative(SB), AX
\tMOVW\tAX, ret+0(FP)
\tRET
"""


@pytest.fixture(scope="module")
def vars_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vars")
    return write_package(root, {"go.mod": "module example.com/vars\n", "vars.go": VARS_GO,
                                "vars_amd64.s": VARS_S})


def test_package_variables_get_their_go_values(vars_dir):
    image = goasm.load_package(vars_dir, vars={"computed": 99})
    for preset, sse41 in (("v1", False), ("v2", True)):
        m = machine(image, preset)
        assert [m.call("Prime", i) for i in range(5)] == [
            11400714785074694791, 11400714785074694791 * 3 % 2**64, 0, 0, 1]
        assert [m.call("Table", i) for i in range(4)] == [0, 10, 20, 0]
        assert m.call("Name") == "héllo".encode()
        assert m.call("Flags") == (True, 2, sse41)
        assert m.call("Computed") == 99
        assert m.call("Negative") == -7
        m.set_var("computed", 5)
        assert m.call("Computed") == 5 and m.get_var("example.com/vars.computed") == 5


def test_unevaluable_variable_is_an_error_at_machine_creation(vars_dir):
    image = goasm.load_package(vars_dir)
    with pytest.raises(GoasmError, match=r"vars\.go:27: var computed: .*calls compute"):
        machine(image)
    with pytest.raises(GoasmError, match=r"no package variable nosuch"):
        goasm.load_package(vars_dir, vars={"nosuch": 1})


# ----------------------------------------------------------------------------- go_asm.h

def test_go_asm_h_is_generated_by_the_toolchain(tmp_path, goroot):
    """The package's own go_asm.h (struct offsets and constants of its Go code), from
    go build, cached; never goasm's runtime header."""
    d = write_package(tmp_path / "hdr", {
        "go.mod": "module example.com/hdr\n\ngo 1.21\n",
        "h.go": """
            package hdr

            type T struct {
            \ta uint8
            \tb uint64
            }

            const K = 42

            func Off() int64
            """,
        "h_amd64.s": """
            #include "go_asm.h"
            #include "textflag.h"

            TEXT ·Off(SB), NOSPLIT, $0-8
            \tMOVQ\t$T_b, AX
            \tADDQ\t$const_K, AX
            \tADDQ\t$T__size, AX
            \tMOVQ\tAX, ret+0(FP)
            \tRET
            """,
    })
    image = goasm.load_package(d, goroot=goroot, cache_dir=cache_dir())
    pkg = image.packages["example.com/hdr"]
    assert (pkg.go_asm_dir / "go_asm.h").read_text().count("#define T_b 8") == 1
    assert machine(image).call("Off") == 8 + 42 + 16
    again = goasm.load_package(d, goroot=goroot, cache_dir=cache_dir())
    assert again.packages["example.com/hdr"].go_asm_dir == pkg.go_asm_dir


def test_go_asm_h_is_never_borrowed(tmp_path, monkeypatch):
    """A package's #include "go_asm.h" never finds goasm's runtime header ($g_m would
    silently assemble to its offset; go build fails)."""
    src = tmp_path / "g.s"
    src.write_text('#include "go_asm.h"\nTEXT ·f(SB), 4, $0-8\n\tMOVQ $g_m, ret+0(FP)\n\tRET\n')
    with pytest.raises(GoasmError, match="go_asm.h"):
        goasm.load([src])
    d = write_package(tmp_path / "p", {"go.mod": "module example.com/p\n",
                                       "p.go": "package p\n\nfunc f() int\n"})
    (d / "p_amd64.s").write_text(src.read_text())
    monkeypatch.setattr(packages, "discover_goroot", lambda: None)
    with pytest.raises(GoasmError, match=r"includes go_asm\.h, which only the Go toolchain "
                       r"generates .* no Go toolchain was found"):
        goasm.load_package(d)


# ----------------------------------------------------------------------------- runtime helpers

HELPERS_S = """
#include "textflag.h"

// func Move(to, from unsafe.Pointer, n uintptr)
TEXT ·Move(SB), $24-24
\tMOVQ\tto+0(FP), AX
\tMOVQ\tAX, 0(SP)
\tMOVQ\tfrom+8(FP), AX
\tMOVQ\tAX, 8(SP)
\tMOVQ\tn+16(FP), AX
\tMOVQ\tAX, 16(SP)
\tCALL\truntime·memmove(SB)
\tRET

// func Clear(p unsafe.Pointer, n uintptr)
TEXT ·Clear(SB), $16-16
\tMOVQ\tp+0(FP), AX
\tMOVQ\tAX, 0(SP)
\tMOVQ\tn+8(FP), AX
\tMOVQ\tAX, 8(SP)
\tCALL\truntime·memclrNoHeapPointers(SB)
\tRET

// func Equal(a, b []byte) bool
TEXT ·Equal(SB), $32-49
\tMOVQ\ta_len+8(FP), CX
\tCMPQ\tCX, b_len+32(FP)
\tJNE\tdiffer
\tMOVQ\ta_base+0(FP), AX
\tMOVQ\tAX, 0(SP)
\tMOVQ\tb_base+24(FP), AX
\tMOVQ\tAX, 8(SP)
\tMOVQ\tCX, 16(SP)
\tCALL\truntime·memequal(SB)
\tMOVB\t24(SP), AX
\tMOVB\tAX, ret+48(FP)
\tRET
differ:
\tMOVB\t$0, ret+48(FP)
\tRET

// func Cmp(a, b string) int
TEXT ·Cmp(SB), $40-40
\tMOVQ\ta_base+0(FP), AX
\tMOVQ\tAX, 0(SP)
\tMOVQ\ta_len+8(FP), AX
\tMOVQ\tAX, 8(SP)
\tMOVQ\tb_base+16(FP), AX
\tMOVQ\tAX, 16(SP)
\tMOVQ\tb_len+24(FP), AX
\tMOVQ\tAX, 24(SP)
\tCALL\truntime·cmpstring(SB)
\tMOVQ\t32(SP), AX
\tMOVQ\tAX, ret+32(FP)
\tRET

// func Pid() int
TEXT ·Pid(SB), $0-8
\tCALL\truntime·entersyscall(SB)
\tMOVL\t$39, AX
\tSYSCALL
\tMOVQ\tAX, ret+0(FP)
\tCALL\truntime·exitsyscall(SB)
\tRET

// func Barrier(p, q uintptr)
TEXT ·Barrier(SB), $0-16
\tCALL\truntime·gcWriteBarrier2(SB)
\tMOVQ\tp+0(FP), AX
\tMOVQ\tAX, (R11)
\tMOVQ\tq+8(FP), AX
\tMOVQ\tAX, 8(R11)
\tRET

// func At(xs []int64, i int) int64
TEXT ·At(SB), NOSPLIT, $0-40
\tMOVQ\ti+24(FP), AX
\tMOVQ\txs_len+8(FP), CX
\tCMPQ\tAX, CX
\tJCC\tbad
\tMOVQ\txs_base+0(FP), SI
\tMOVQ\t(SI)(AX*8), AX
\tMOVQ\tAX, ret+32(FP)
\tRET
bad:
\tCALL\truntime·panicIndex(SB)
"""

HELPERS_GO = """
package helpers

import "unsafe"

func Move(to, from unsafe.Pointer, n uintptr)
func Clear(p unsafe.Pointer, n uintptr)
func Equal(a, b []byte) bool
func Cmp(a, b string) int
func Pid() int
func Barrier(p, q uintptr)
func At(xs []int64, i int) int64
"""


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    d = write_package(tmp_path_factory.mktemp("helpers"), {
        "go.mod": "module example.com/helpers\n", "h.go": HELPERS_GO, "h_amd64.s": HELPERS_S})
    return machine(goasm.load_package(d))


def test_memmove_overlapping_over_prepared_memory(helpers):
    m = helpers

    @SETTINGS
    @given(st.binary(min_size=1, max_size=120), st.data())
    def check(data, draw):
        n = draw.draw(st.integers(0, len(data)))
        src = draw.draw(st.integers(0, len(data) - n))
        dst = draw.draw(st.integers(0, len(data) - n))
        m.reset()
        base = m.alloc(data)
        m.call("Move", base + dst, base + src, n, fresh=False)
        want = bytearray(data)
        want[dst:dst + n] = data[src:src + n]
        assert m.mem.read(base, len(data)) == bytes(want)
        m.reset()
        base = m.alloc(data)
        m.call("Clear", base + dst, n, fresh=False)
        want = bytearray(data)
        want[dst:dst + n] = bytes(n)
        assert m.mem.read(base, len(data)) == bytes(want)
    check()


def test_memequal_and_cmpstring(helpers):
    @SETTINGS
    @given(st.binary(max_size=40), st.binary(max_size=40), st.booleans())
    def check(a, b, same):
        if same:
            b = a
        assert helpers.call("Equal", a, b) == (a == b)
        assert helpers.call("Cmp", a, b) == (a > b) - (a < b)
    check()


def test_syscall_bracket_and_write_barrier(helpers):
    assert helpers.call("Pid") == helpers.linux.pid
    helpers.call("Barrier", 1, 2)


def test_bounds_panic(helpers):
    assert helpers.call("At", [5, 6, 7], 2) == 7
    with pytest.raises(CallExit, match=r"exit status 2 \(panic: runtime error: index out "
                       r"of range \[3\] with length 3\)"):
        helpers.call("At", [5, 6, 7], 3)
    with pytest.raises(CallExit, match=r"index out of range \[-1\]\)"):
        helpers.call("At", [5], -1)


def test_slice_at_and_raw_pointers(helpers):
    """bytes and bytearray for a pointer are read back (a bytearray in place);
    slice_at passes memory the test prepared."""
    buf = bytearray(b"0123456789")
    res = helpers.invoke("Move", buf, b"abc", 3)
    assert bytes(buf) == b"abc3456789" and res.args[0] == b"abc3456789"
    raw = bytearray(8)
    helpers.call("Clear", goasm.Ref(raw), 0)
    helpers.reset()
    base = helpers.alloc(b"xyzxyz")
    assert helpers.call("Equal", helpers.slice_at(base, 3), helpers.slice_at(base + 3, 3),
                        fresh=False) is True


# ----------------------------------------------------------------------------- call checks

def test_call_argument_checks(helpers, tmp_path):
    m = helpers
    with pytest.raises(CallError, match=r"At: argument i \(int\): 9223372036854775808 is "
                       r"out of range"):
        m.call("At", [1], 1 << 63)
    with pytest.raises(CallError, match=r"argument xs \(\[\]int64\): .*-9223372036854775809"):
        m.call("At", [-(1 << 63) - 1], 0)
    with pytest.raises(CallError, match=r"argument i \(int\): expected an integer, got 'x'"):
        m.call("At", [1], "x")
    with pytest.raises(CallError, match=r"argument xs \(\[\]int64\): expected a sequence"):
        m.call("At", 5, 0)
    with pytest.raises(CallError, match=r"argument a \(string\): expected a str or bytes"):
        m.call("Cmp", 1, "x")
    with pytest.raises(CallError, match="a function name"):
        m.call(None, 1)
    with pytest.raises(GoasmError, match="needs an image"):
        goasm.Machine(None)
    src = tmp_path / "b.s"
    src.write_text("TEXT ·f(SB), 4, $0-9\n\tMOVB b+0(FP), AX\n\tMOVB AX, ret+8(FP)\n\tRET\n")
    mb = machine(goasm.load(src))
    assert mb.call("f", 255, sig="func(b byte) byte") == 255
    with pytest.raises(CallError, match=r"argument b \(byte\): 256 is out of range for byte"):
        mb.call("f", 256, sig="func(b byte) byte")
    with pytest.raises(GoasmError, match="expected a path"):
        goasm.load([3])


# ----------------------------------------------------------------------------- CPU rules

def _source_rules(text: str) -> dict:
    """From a cpu_x86.go: field -> (leaf, subleaf, register, bit) of each
    ``X86.HasF = isSet(reg, cpuid_C)`` line."""
    consts = {m.group(1): int(m.group(2)) for m in
              re.finditer(r"^\s*cpuid_(\w+)\s*=\s*1\s*<<\s*(\d+)", text, re.M)}
    regs = {}
    for m in re.finditer(r"^\s*(\w+), (\w+), (\w+), (\w+) :?= cpuid\((\w+), (\d+)\)",
                         text, re.M):
        for i, name in enumerate(m.group(1, 2, 3, 4)):
            if name != "_":
                regs[name] = (int(m.group(5), 0), int(m.group(6)), i)
    out = {}
    for m in re.finditer(r"X86\.(Has\w+) = isSet\((\w+), cpuid_(\w+)\)", text):
        field, reg, const = m.groups()
        if reg in regs and const in consts:
            leaf, sub, r = regs[reg]
            out[field] = (leaf, sub, r, consts[const])
    return out


@pytest.mark.parametrize("package, rel", [
    ("internal/cpu", "internal/cpu/cpu_x86.go"),
    ("golang.org/x/sys/cpu", "vendor/golang.org/x/sys/cpu/cpu_x86.go"),
])
def test_cpu_rules_match_the_go_sources(goroot, package, rel):
    """Every ``X86.HasF = isSet(reg, cpuid_C)`` of the installed Go's cpu_x86.go is a
    rule of goasm.gocpu with the same CPUID leaf, register and bit."""
    source = _source_rules((goroot / "src" / rel).read_text())
    ours = {r.field: (r.leaf, r.subleaf, r.reg, r.bit) for r in gocpu.RULES[package][0]
            if r.value is None}
    assert len(source) > 15
    assert {f: source[f] for f in source} == {f: ours.get(f) for f in source}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_cpu_features_follow_the_model(preset):
    model = CPUModel.preset(preset)
    feats = gocpu.features("internal/cpu", model)
    assert feats["HasSSE42"] == ("sse4.2" in model.features)
    assert feats["HasADX"] == ("adx" in model.features)
    assert not feats["HasAVX"] or "avx" in getattr(model, "features", ())
    assert gocpu.features("example.com/other", model) == {}


# ----------------------------------------------------------------------------- --goroot images

def test_machine_on_a_goroot_image(tmp_path, goroot):
    """goasm.Machine on an image loaded with goroot= runs that release's runtime (the
    model follows the image; its snapshots work), and a Go variable nobody defines is
    an error when reached, never a silent zero."""
    from goasm.machine import goruntime

    src = tmp_path / "f.s"
    src.write_text('#include "textflag.h"\n'
                   "TEXT ·f(SB), NOSPLIT, $0-16\n\tMOVQ x+0(FP), AX\n\tADDQ $1, AX\n"
                   "\tMOVQ AX, ret+8(FP)\n\tRET\n"
                   "TEXT ·g(SB), NOSPLIT, $0-8\n\tMOVQ ·undefinedvar(SB), AX\n"
                   "\tMOVQ AX, ret+0(FP)\n\tRET\n")
    rt = goruntime.prepare(goroot, cache_dir=cache_dir())
    m = machine(goasm.load([src], goroot=rt))
    assert isinstance(m.model, goruntime.GoRuntimeModel)
    assert m.call("f", 1, sig="func(x int) int") == 2
    assert m.call("f", 41, sig="func(x int) int") == 42
    with pytest.raises(LinkError, match=r"f\.s:8:2: undefined symbol main\.undefinedvar"):
        m.call("g", sig="func() int")


# ----------------------------------------------------------------------------- the README example

def test_readme_package_example(tmp_path):
    """examples/testing/test_package.py (the README's load_package example) passes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(repo / "examples" / "testing" / "test_package.py")],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 passed" in res.stdout

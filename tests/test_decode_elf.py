"""``goasm disasm`` and goasm.elf: machine code of real binaries in Go syntax.

Oracles: a Go program built by the installed toolchain (``go build``), listed by
``go tool objdump`` (addresses, bytes and file:line from the same line table), and a C
object file from the system compiler listed by binutils ``objdump`` (instruction
boundaries). The Go syntax itself is checked by tests/test_decode.py against cmd/asm;
x86asm's GoSyntax (what go tool objdump prints) spells many instructions differently
(``MOVZX``, ``TESTL SI, SI`` for a byte test), so only its boundaries and lines are
compared here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import cache_dir
from goasm import cli
from goasm.decode import disasm
from goasm.decode.linked import CodeReader
from goasm.elf import ElfFile

MAIN_GO = """package main

import "fmt"

func add(a, b int64) int64

func main() { fmt.Println(add(2, 3)) }
"""
ADD_S = """#include "textflag.h"
TEXT ·add(SB), NOSPLIT, $0-24
\tMOVQ a+0(FP), AX
\tMOVQ b+8(FP), BX
\tADDQ BX, AX
\tLONG $0xd1cb380f
\tMOVQ AX, ret+16(FP)
\tRET
"""


@pytest.fixture(scope="module")
def go_binary(go_cmd, tmp_path_factory):
    out = cache_dir() / "decode-elf" / "prog"
    if not out.exists():
        src = tmp_path_factory.mktemp("prog")
        (src / "main.go").write_text(MAIN_GO)
        (src / "add_amd64.s").write_text(ADD_S)
        (src / "go.mod").write_text("module example.com/m\ngo 1.21\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="", CGO_ENABLED="0")
        r = subprocess.run([go_cmd, "build", "-trimpath", "-o", str(out), "."], cwd=src,
                           env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return out


def _objdump_go(go_cmd, binary, symbol=None) -> dict:
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    cmd = [go_cmd, "tool", "objdump"] + (["-s", symbol] if symbol else []) + [str(binary)]
    text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return _listing(text)


def _listing(text: str) -> dict:
    """addr -> (file:line, hex, instruction text) of a go tool objdump style listing."""
    out = {}
    for line in text.splitlines():
        if line.startswith("TEXT") or not line.strip():
            continue
        parts = [p for p in line.strip().split("\t") if p]
        if parts[0].startswith("0x"):
            parts = [""] + parts
        src, addr, code = parts[:3]
        src = "" if src == ":-1" else src      # objdump: no line table entry
        out[int(addr, 16)] = (src, code, " ".join(parts[3:]).strip())
    return out


def test_disasm_hex_cli(capsys):
    assert cli.main(["disasm", "--hex", "0f01d0"]) == 0
    assert capsys.readouterr().out == "XGETBV\n"
    assert cli.main(["disasm", "--hex", "0f 01 f9 0f38cbd1"]) == 0
    assert capsys.readouterr().out == "RDTSCP\nSHA256RNDS2 X0, X1, X2\n"
    assert cli.main(["disasm", "--hex", "0f01"]) == 1
    err = capsys.readouterr().err
    assert "truncated instruction: 0f01" in err and "Traceback" not in err
    assert cli.main(["disasm", "--hex", "ffffffff"]) == 1
    assert "invalid instruction: ffffffff" in capsys.readouterr().err
    assert cli.main(["disasm", "--hex", "xyz"]) == 1
    assert "not hexadecimal" in capsys.readouterr().err
    assert cli.main(["disasm"]) == 1


def test_disasm_go_functions_match_go_tool_objdump(go_cmd, go_binary):
    """main.main and the assembly function: same addresses, bytes and file:line as go
    tool objdump; the hand-encoded LONG shows as SHA256RNDS2."""
    for sym in ("main.main", "main.add"):
        text, problems = disasm.disasm_elf(go_binary, sym)
        assert problems == []
        ours = _listing(text)
        theirs = _objdump_go(go_cmd, go_binary, f"^{sym}(.abi0)?$")
        assert {a: v[:2] for a, v in ours.items()} == {a: v[:2] for a, v in theirs.items()}
    text, _ = disasm.disasm_elf(go_binary, "main.add")
    first = text.splitlines()[0]
    assert first.startswith("TEXT main.add.abi0(SB) ") and first.endswith("add_amd64.s")
    assert "add_amd64.s:6\t" in text and "\t0f38cbd1\tSHA256RNDS2 X0, X1, X2" in text
    main_text, _ = disasm.disasm_elf(go_binary, "main.main")
    assert "CALL main.add.abi0(SB)" in main_text and "MOVQ (TLS), R14" in main_text


@pytest.mark.slow
def test_disasm_whole_go_binary(go_cmd, go_binary):
    """Every function of the binary decodes; where go tool objdump (x86asm) finds the
    same instruction start, the bytes and file:line agree. x86asm mis-sizes VZEROUPPER
    (it takes the next byte along), so a few boundaries after one differ."""
    text, problems = disasm.disasm_elf(go_binary)
    assert problems == []
    ours, theirs = _listing(text), _objdump_go(go_cmd, go_binary)
    common = set(ours) & set(theirs)
    assert len(common) > 0.999 * len(theirs)
    lines_differ = [a for a in common if ours[a][0] != theirs[a][0]]
    assert lines_differ == []
    bytes_differ = [a for a in common if ours[a][1] != theirs[a][1]]
    assert all(ours[a][2] == "VZEROUPPER" for a in bytes_differ)


def test_disasm_c_object_matches_binutils(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    objdump = shutil.which("objdump")
    if not (cc and objdump):
        if os.environ.get("GOASM_REQUIRE_ORACLES") == "1":
            pytest.fail("no C compiler or binutils objdump")
        pytest.skip("no C compiler or binutils objdump")
    src = tmp_path / "c.c"
    src.write_text("int sq(int x){return x*x;}\n"
                   "long sum(long*a,int n){long s=0;for(int i=0;i<n;i++)s+=a[i];return s;}\n")
    obj = tmp_path / "c.o"
    subprocess.run([cc, "-O2", "-c", str(src), "-o", str(obj)], check=True)
    text, problems = disasm.disasm_elf(obj)
    assert problems == [] and "TEXT sq(SB)" in text and "IMULL DI, DI" in text
    ours = {a: v[1] for a, v in _listing(text).items()}
    dump = subprocess.run([objdump, "-d", str(obj)], capture_output=True, text=True,
                          check=True).stdout
    theirs = {}
    for line in dump.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip().endswith(":") and parts[0].startswith(" "):
            addr = int(parts[0].strip()[:-1], 16)
            theirs[addr] = parts[1].replace(" ", "")
    elf = ElfFile(obj)
    # binutils numbers each section from 0; goasm lays .text out from 0 too
    assert elf.symbol("sum").addr == 0x10
    # binutils also lists the padding between functions (no symbol covers it)
    assert ours == {a: v for a, v in theirs.items() if a in ours}
    assert len(ours) >= 15


def test_disasm_elf_errors(tmp_path):
    bad = tmp_path / "x.o"
    bad.write_bytes(b"not an elf")
    assert cli.main(["disasm", str(bad)]) == 1
    assert cli.main(["disasm", str(tmp_path / "missing")]) == 1


def test_code_reader_decodes_lazily_at_any_address(go_binary):
    """The API for running compiled code: one LInstr at a time, real sizes, absolute
    branch targets and RIP-relative operands."""
    elf = ElfFile(go_binary)
    sym = elf.symbol("main.main")
    reader = CodeReader(elf.read)
    addr, seen = sym.addr, []
    while addr < sym.addr + sym.size:
        ins = reader.at(addr)
        seen.append(ins)
        addr = ins.next_addr
    assert addr == sym.addr + sym.size
    call = next(i for i in seen if i.op == "CALL")
    assert call.args[-1].addr == elf.symbol("main.add").addr and call.size == 5
    jls = seen[1]
    assert jls.op == "JLS" and jls.args[-1].addr > sym.addr
    rip = [i for i in seen if i.op == "LEAQ" and i.args[0].base is None]
    assert rip and all(i.args[0].offset > sym.addr for i in rip)
    assert reader.at(sym.addr) is seen[0]

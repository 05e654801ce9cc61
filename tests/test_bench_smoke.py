"""The benchmarks run (bench/, one process each) and print what the README quotes.

Tiny sizes and one repetition (``GOASM_BENCH_RUNS=1``): this checks that the scripts
work and that their results are right, not how fast anything is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(script: str, *args: str, timeout: float = 300) -> str:
    env = dict(os.environ, GOASM_BENCH_RUNS="1")
    env.pop("GOASM_ENGINE", None)
    out = subprocess.run([sys.executable, str(BENCH / script), *args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_int_loop():
    pytest.importorskip("unicorn")
    text = run("bench_int_loop.py", "2000")
    for label in ("goasm translated:", "goasm closures", "hook reading 3 registers",
                  "unicorn + trivial code hook:", "ratio goasm translated / unicorn"):
        assert label in text, text


def test_memory():
    text = run("bench_memory.py", "2")
    assert "goasm translated:" in text and "goasm closures" in text


def test_calls():
    text = run("bench_calls.py")
    assert "call-heavy recursion" in text and "goasm translated:" in text


def test_kernels(go_cmd):
    """Every real kernel runs through Machine.call with the checker off and on, gives
    the reference result, and runs in Unicorn from a Go-built binary."""
    pytest.importorskip("unicorn")
    text = run("bench_kernels.py", "--size", "256", timeout=600)
    for name in ("md5", "keccak", "crc32c", "crc32-clmul", "indexbyte", "addmul"):
        for label in ("goasm checker off:", "goasm checker on:", "short call (",
                      "unicorn + trivial code hook:", "ratio goasm/unicorn: checker off"):
            assert f"\n{name} {label}" in text, (name, label, text)


def test_startup():
    text = run("bench_startup.py")
    for label in ("warm caches:", "cold caches:", "GOASM_NO_CACHE=1:", "warm split:"):
        assert label in text, text


@pytest.mark.slow
def test_parse(go_cmd):
    text = run("bench_parse.py", timeout=900)
    for label in ("cold (empty IR cache):", "GOASM_NO_CACHE=1:", "warm (IR cache filled):"):
        assert label in text, text


def test_vint():
    text = run("bench_vint.py", "1")
    for label in ("256-bit AVX2 kernel, goasm translated", "128-bit SSE kernel, goasm closures"):
        assert label in text, text


def test_run_all_lists_every_script():
    from importlib import util

    spec = util.spec_from_file_location("run_all", BENCH / "run_all.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert {f"bench_{n}.py" for n in mod.SCRIPTS} == {p.name for p in BENCH.glob("bench_*.py")}


def test_decode():
    text = run("bench_decode.py", "20000")
    for label in ("iced-x86 alone", "into IR (decode_run):", "into IR, Decoded objects",
                  "LInstr one at a time"):
        assert label in text, text


def test_std_simd(go_cmd):
    text = run("bench_std_simd.py", "256")
    for label in ("sha256 blockAVX2, 256 bytes", "run alone", "crc32 ieeeCLMUL (AVX-512)"):
        assert label in text, text

"""The initial process stack (goasm/machine/process.py) against the layout Linux builds
(fs/binfmt_elf.c create_elf_tables; System V AMD64 ABI 3.4.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goasm.errors import GoasmError, LimitError
from goasm.image import Image, Symbol, SymKind
from goasm.machine import process as pr
from goasm.machine.memory import Memory
from goasm.machine.state import CPU

TOP = 0x7FFF_FFFF_F000


class FakeMachine:
    def __init__(self):
        self.cpu = CPU()
        self.mem = Memory()
        self.image = Image()
        self.image.symbols["_rt0_amd64_linux"] = Symbol("_rt0_amd64_linux", 0x401000, 1, SymKind.TEXT)


def words(mem, addr, n):
    return [mem.read_u64(addr + 8 * i) for i in range(n)]


def test_exact_layout():
    """argv = ["prog", "a"], env = ["K=V"]: every address worked out by hand.

    top-8 = 0x...eff8 end marker; "prog\\0" at 0x...eff3 (AT_EXECFN); the strings block
    "prog\\0a\\0K=V\\0" (11 bytes) at 0x...efe8; aligned down to 0x...efe0; "x86_64\\0"
    at 0x...efd9; 16 random bytes at 0x...efc9; aligned to 0x...efc0; 32 words of table
    (argc, 2 argv, NULL, 1 envp, NULL, 12 auxv pairs, AT_NULL pair) -> SP = 0x...eec0.
    """
    m = FakeMachine()
    rnd = bytes(range(1, 17))
    sp = pr.start_process(m, argv=[b"prog", b"a"], env=[b"K=V"], random=rnd)
    assert sp == 0x7FFF_FFFF_EEC0
    assert m.cpu.regs[4] == sp and m.cpu.pc == 0x401000
    assert all(v == 0 for i, v in enumerate(m.cpu.regs) if i != 4)
    mem = m.mem
    assert mem.read(0x7FFF_FFFF_EFF8, 8) == bytes(8)
    assert mem.read(0x7FFF_FFFF_EFF3, 5) == b"prog\0"
    assert mem.read(0x7FFF_FFFF_EFE8, 11) == b"prog\0a\0K=V\0"
    assert mem.read(0x7FFF_FFFF_EFD9, 7) == b"x86_64\0"
    assert mem.read(0x7FFF_FFFF_EFC9, 16) == rnd
    table = words(mem, sp, 32)
    assert table[:6] == [2, 0x7FFF_FFFF_EFE8, 0x7FFF_FFFF_EFED, 0, 0x7FFF_FFFF_EFEF, 0]
    auxv = list(zip(table[6::2], table[7::2]))
    assert auxv == [
        (pr.AT_HWCAP, 0), (pr.AT_PAGESZ, 4096), (pr.AT_CLKTCK, 100), (pr.AT_UID, 1000),
        (pr.AT_EUID, 1000), (pr.AT_GID, 1000), (pr.AT_EGID, 1000), (pr.AT_SECURE, 0),
        (pr.AT_RANDOM, 0x7FFF_FFFF_EFC9), (pr.AT_HWCAP2, 0), (pr.AT_EXECFN, 0x7FFF_FFFF_EFF3),
        (pr.AT_PLATFORM, 0x7FFF_FFFF_EFD9), (pr.AT_NULL, 0),
    ]
    # the stack region is mapped, 8 MiB below the top, and nothing above it
    assert mem.is_writable(TOP - (8 << 20)) and not mem.is_mapped(TOP)
    assert not mem.is_mapped(TOP - (8 << 20) - 1)


def test_build_is_pure_and_matches_start():
    m = FakeMachine()
    layout = pr.build_initial_stack(argv=[b"x"], env=[])
    sp = pr.start_process(m, argv=[b"x"], env=[])
    assert layout.sp == sp
    assert m.mem.read(sp, len(layout.data)) == layout.data
    assert layout.auxv_dict()[pr.AT_PAGESZ] == 4096


def test_auxv_override_and_hwcap_from_cpu_model():
    layout = pr.build_initial_stack(argv=[b"p"], env=[], auxv={pr.AT_CLKTCK: 250, 99: 7})
    d = layout.auxv_dict()
    assert d[pr.AT_CLKTCK] == 250 and d[99] == 7

    class WithModel(FakeMachine):
        class cpu_model:
            @staticmethod
            def cpuid(leaf, sub=0):
                return (0, 0, 0, 0x178BFBFF)

    m = WithModel()
    sp = pr.start_process(m, argv=[b"p"], env=[])
    assert m.mem.read_u64(sp + 8 * 4) == pr.AT_HWCAP and m.mem.read_u64(sp + 8 * 5) == 0x178BFBFF


def test_errors():
    m = FakeMachine()
    with pytest.raises(GoasmError, match="NUL"):
        pr.start_process(m, argv=[b"a\0b"], env=[])
    with pytest.raises(GoasmError, match="not defined"):
        pr.start_process(m, argv=[b"a"], env=[], entry="nope")
    with pytest.raises(LimitError, match="argument list too long"):
        pr.start_process(m, argv=[b"x" * 10000], env=[], stack_size=8192)
    with pytest.raises(GoasmError, match="16 bytes"):
        pr.build_initial_stack(argv=[], env=[], random=b"short")


def test_empty_argv():
    layout = pr.build_initial_stack(argv=[], env=[])
    assert layout.argc == 0 and layout.sp % 16 == 0


_strs = st.lists(st.binary(max_size=40).filter(lambda b: b"\0" not in b), max_size=12)


@settings(max_examples=60, deadline=None)
@given(argv=_strs.filter(bool), env=_strs, rnd=st.binary(min_size=16, max_size=16))
def test_any_arguments(argv, env, rnd):
    """Alignment and content under any argc/argv/env (DESIGN.md: hypothesis property)."""
    m = FakeMachine()
    sp = pr.start_process(m, argv=argv, env=env, random=rnd)
    mem = m.mem
    assert sp % 16 == 0
    assert mem.read_u64(sp) == len(argv)
    p = sp + 8
    for a in argv:
        assert mem.read_cstring(mem.read_u64(p)) == a
        p += 8
    assert mem.read_u64(p) == 0
    p += 8
    for e in env:
        assert mem.read_cstring(mem.read_u64(p)) == e
        p += 8
    assert mem.read_u64(p) == 0
    p += 8
    aux = {}
    while True:
        k, v = mem.read_u64(p), mem.read_u64(p + 8)
        p += 16
        if k == pr.AT_NULL:
            break
        aux[k] = v
    assert aux[pr.AT_PAGESZ] == 4096
    assert mem.read(aux[pr.AT_RANDOM], 16) == rnd
    assert mem.read_cstring(aux[pr.AT_PLATFORM]) == b"x86_64"
    assert mem.read_cstring(aux[pr.AT_EXECFN]) == argv[0]
    assert p <= aux[pr.AT_RANDOM] < aux[pr.AT_PLATFORM] < TOP

"""The vector framework (goasm/machine/ops/vec.py): lane arithmetic against element
loops, VEX/EVEX zeroing against legacy-SSE preservation (SDM Vol. 1, 14.1.3 and 15.5),
writemasks and memory fault suppression (SDM Vol. 2, 2.8). Instruction results are
checked against the real CPU by the conformance oracle (tests/test_conformance*.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from goasm.errors import MachineFault
from goasm.machine.machine import Machine
from goasm.machine.ops import vec
from snippets import link_snippet

SCRATCH = 0x10000000


def run(body: str, setup=None) -> Machine:
    image, entry, end = link_snippet(body)
    m = Machine(image)
    m.mem.map(SCRATCH, 0x2000)
    m.mem.write(SCRATCH, bytes(range(256)) * 32)
    m.cpu.regs[0] = SCRATCH
    if setup:
        setup(m)
    m.cpu.pc = entry
    while m.cpu.pc != end:
        m.step()
    return m


@given(st.sampled_from([1, 2, 4, 8]), st.sampled_from([16, 32, 64]), st.data())
def test_swar_add_sub_equal_element_loops(ew, width, data):
    a = data.draw(st.integers(0, vec.FULL[width]))
    b = data.draw(st.integers(0, vec.FULL[width]))
    la, lb = vec.split(a, ew, width), vec.split(b, ew, width)
    assert vec.add_lanes(a, b, ew, width) == vec.join([x + y for x, y in zip(la, lb)], ew, width)
    assert vec.sub_lanes(a, b, ew, width) == vec.join([x - y for x, y in zip(la, lb)], ew, width)


def test_vex_zeroes_above_width_sse_keeps():
    def setup(m):
        for i in range(4):
            m.cpu.set_vec(i, (1 << 512) - 1)
    m = run("PXOR X0, X0\nVPXOR X1, X1, X1\nVPXOR Y2, Y2, Y2\nVPXORD Z3, Z3, Z3\n", setup)
    assert m.cpu.get_vec(0) == ((1 << 512) - 1) ^ ((1 << 128) - 1)     # legacy SSE
    assert m.cpu.get_vec(1) == m.cpu.get_vec(2) == m.cpu.get_vec(3) == 0


def test_writemask_merge_zero_and_broadcast():
    def setup(m):
        m.cpu.kreg[1] = 0b0101
        m.cpu.set_vec(5, (1 << 512) - 1)
        m.cpu.set_vec(6, (1 << 512) - 1)
    m = run("VPADDD.BCST 4(AX), X0, K1, X5\nVPADDD.BCST.Z 4(AX), X0, K1, X6\n", setup)
    elem = 0x07060504
    assert vec.split(m.cpu.get_vec(5), 4, 16) == (elem, 0xFFFFFFFF, elem, 0xFFFFFFFF)
    assert m.cpu.vhi[5] == 0                      # EVEX.128 zeroes bits 128..511
    assert vec.split(m.cpu.get_vec(6), 4, 16) == (elem, 0, elem, 0)


def test_masked_off_elements_never_fault():
    # The last 8 bytes of the vector lie on an unmapped page: a load and a store with
    # those elements masked off succeed; with them selected they fault at that address.
    at = SCRATCH + 0x2000 - 56

    def setup(m, k):
        m.cpu.regs[1] = at
        m.cpu.kreg[1] = k
    run("VMOVDQU64 (CX), K1, Z1\nVMOVDQU64 Z1, K1, (CX)\n", lambda m: setup(m, 0x7F))
    with pytest.raises(MachineFault) as exc:
        run("VMOVDQU64 (CX), K1, Z1\n", lambda m: setup(m, 0xFF))
    assert exc.value.addr == SCRATCH + 0x2000
    m = None
    with pytest.raises(MachineFault):
        m = run("VMOVDQU64 Z1, K1, (CX)\n", lambda m: setup(m, 0x81))
    assert m is None


def test_masked_store_writes_only_selected_elements():
    def setup(m):
        m.cpu.kreg[2] = 0b10
        m.cpu.set_vec(1, (1 << 128) - 1)
    m = run("VMOVDQU32 X1, K2, (AX)\n", setup)
    assert m.mem.read(SCRATCH, 16) == bytes(range(4)) + b"\xff" * 4 + bytes(range(8, 16))


def test_aligned_vex_move_faults_on_misaligned_address():
    with pytest.raises(MachineFault) as exc:
        run("VMOVDQA 16(AX), Y1\n")
    assert exc.value.signal == "SIGSEGV"
    m = run("VMOVDQA 32(AX), Y1\n")
    assert m.reg("Y1") == int.from_bytes(bytes(range(32, 64)), "little")

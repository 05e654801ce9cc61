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


# ------------------------------------------------------------------ masked-off elements

UNMAPPED = SCRATCH + 0x2000          # the page after the scratch area is not mapped


def test_masked_off_elements_at_an_unmapped_page_never_fault():
    """Issue #13, acceptance 3: VPCOMPRESS/VPEXPAND, masked moves (EVEX writemask and
    VEX VMASKMOV) and gathers (VEX and EVEX) never touch a masked-off element, so one
    pointing at an unmapped page does not fault; a selected one does, at its own
    address, with the state the SDM describes (SDM Vol. 2, 2.8; VPGATHERDD)."""
    near = UNMAPPED - 8                       # 8 mapped bytes, then the unmapped page

    def setup(m):
        m.cpu.regs[1] = near
        m.cpu.kreg[1] = 0b11                  # two dwords: both mapped
        m.cpu.set_vec(2, int.from_bytes(bytes(range(100, 164)), "little"))
        # VEX mask: dwords 0, 1 selected (top bit set), 2, 3 not
        m.cpu.set_vec(3, 0x80000000 | 0x80000000 << 32)
        # gather indices: 0, 4, then far into the unmapped page
        m.cpu.set_vec(4, 0 | 4 << 32 | 0x100 << 64 | 0x200 << 96)
    body = ("VPCOMPRESSD Z2, K1, (CX)\n"          # writes 8 bytes: the rest is unmapped
            "VPEXPANDD (CX), K1, Z5\n"            # reads exactly 8 bytes
            "VMOVDQU32 (CX), K1, X6\n"            # 16-byte load, the last 8 masked off
            "VMOVDQU32 X2, K1, (CX)\n"
            "VMASKMOVPS (CX), X3, X7\n"           # VEX: dwords 2, 3 masked off
            "VMASKMOVPS X2, X3, (CX)\n"
            "VPGATHERDD X3, (CX)(X4*1), X8\n"     # VEX gather: elements 2, 3 masked off
            "VPGATHERDD (CX)(X4*1), K1, X9\n")    # EVEX gather: K1 = 0b11
    m = run(body, setup)
    assert m.mem.read(near, 8) == bytes(range(100, 108))
    assert vec.split(m.cpu.get_vec(5), 4, 16)[:2] == (0x67666564, 0x6B6A6968)
    assert m.cpu.get_vec(8) == m.cpu.get_vec(9) == 0x6B6A6968 << 32 | 0x67666564
    assert m.cpu.get_vec(3) == 0 and m.cpu.kreg[1] == 0     # gathers clear their masks


@pytest.mark.parametrize("body, fault_at", [
    ("VMOVDQU32 (CX), K1, X6\n", UNMAPPED),
    ("VPEXPANDD (CX), K1, Z5\n", UNMAPPED),
    ("VPGATHERDD (CX)(X4*1), K1, X9\n", UNMAPPED - 8 + 0x100),
])
def test_a_selected_element_at_an_unmapped_page_faults_there(body, fault_at):
    def setup(m):
        m.cpu.regs[1] = UNMAPPED - 8
        m.cpu.kreg[1] = 0b111                 # the third dword is the first unmapped
        m.cpu.set_vec(4, 0 | 4 << 32 | 0x100 << 64)
    with pytest.raises(MachineFault) as exc:
        run(body, setup)
    assert exc.value.signal == "SIGSEGV" and exc.value.code == "SEGV_MAPERR"
    assert exc.value.addr == fault_at


def test_gather_fault_leaves_completed_elements_and_mask():
    """After a fault at element 2, elements 0 and 1 are loaded and their opmask bits
    cleared; element 2 and later keep their old values and mask bits (SDM: VPGATHERDD
    "... the destination and mask registers are partially updated")."""
    def setup(m):
        m.cpu.regs[1] = UNMAPPED - 8
        m.cpu.kreg[1] = 0b1111
        m.cpu.set_vec(4, 0 | 4 << 32 | 0x100 << 64 | 0 << 96)
        m.cpu.set_vec(9, 0x5E5E5E5E * vec.repeat(4, 16))
    image, entry, end = link_snippet("VPGATHERDD (CX)(X4*1), K1, X9\n")
    m = Machine(image)
    m.mem.map(SCRATCH, 0x2000)
    m.mem.write(SCRATCH, bytes(range(256)) * 32)
    setup(m)
    m.cpu.pc = entry
    with pytest.raises(MachineFault):
        m.step()
    lanes = vec.split(m.cpu.get_vec(9), 4, 16)
    assert lanes[2:] == (0x5E5E5E5E, 0x5E5E5E5E) and m.cpu.kreg[1] == 0b1100
    assert lanes[:2] == (int.from_bytes(bytes(range(0xF8, 0xFC)), "little"),
                         int.from_bytes(bytes(range(0xFC, 0x100)), "little"))


def test_gather_fault_crash_report(tmp_path):
    """The faulting element's address in Go's crash report (exit status 2)."""
    import subprocess
    import sys

    src = tmp_path / "gfault.s"
    src.write_text('#include "textflag.h"\n\n'
                   "DATA vals<>+0(SB)/8, $0x0807060504030201\n"
                   "GLOBL vals<>(SB), RODATA, $8\n\n"
                   "TEXT ·main(SB), NOSPLIT, $0-0\n"
                   "\tLEAQ vals<>(SB), CX\n\tMOVQ $3, AX\n\tKMOVW AX, K1\n"
                   "\tVPXOR X4, X4, X4\n\tMOVL $0x40000000, AX\n"
                   "\tVPINSRD $1, AX, X4, X4\n"
                   "\tVPGATHERDD (CX)(X4*1), K1, X9\n\tRET\n")
    out = subprocess.run([sys.executable, "-m", "goasm", "run", str(src)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "[signal SIGSEGV: segmentation violation code=0x1 addr=0x40600000" in out.stderr
    assert "gfault.s:13" in out.stderr

"""The lazy memory (goasm/machine/memory.py) against a model that keeps every page.

Any mix of mapping (anonymous, PROT_NONE, or backed by segment bytes), unmapping,
protecting, discarding (MADV_DONTNEED), reads, writes, watches, snapshots and restores
must behave exactly like an eager page table; range operations must cost O(mappings)
whatever their size; the memory limit must count touched pages only.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goasm.errors import LimitError, MachineFault
from goasm.image import SegmentData
from goasm.machine.memory import PAGE_SIZE, Memory

BASE = 0x40000
PAGES = 12                      # the window operations start in
LO, HI = -2, 2 * PAGES + 6      # the pages the model follows (all operations reach)
BIG = 1 << 46                   # range operations reach far beyond it


class Model:
    """Every page of the window: None (unmapped) or [readable, writable, bytearray]."""

    def __init__(self):
        self.pages: dict[int, list | None] = {i: None for i in range(LO, HI)}
        self.backing: dict[int, bytes] = {}    # initial contents of backed pages

    def copy(self):
        m = Model()
        m.pages = {i: (None if p is None else [p[0], p[1], bytearray(p[2])])
                   for i, p in self.pages.items()}
        m.backing = dict(self.backing)
        return m


def _span(first: int, count: int):
    return range(max(first, LO), min(first + count, HI))


ops = st.lists(st.one_of(
    st.tuples(st.just("map"), st.integers(-2, PAGES), st.integers(1, PAGES),
              st.sampled_from(["rw", "r", "none"]), st.booleans()),
    st.tuples(st.just("unmap"), st.integers(-2, PAGES), st.integers(1, PAGES + 4)),
    st.tuples(st.just("unmap_huge"), st.integers(0, PAGES)),
    st.tuples(st.just("protect"), st.integers(0, PAGES - 1), st.integers(1, 4),
              st.sampled_from(["rw", "r", "none"])),
    st.tuples(st.just("discard"), st.integers(-2, PAGES), st.integers(1, PAGES + 4)),
    st.tuples(st.just("write"), st.integers(0, PAGES * PAGE_SIZE - 1),
              st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("save")),
    st.tuples(st.just("restore"), st.integers(0, 5)),
    st.tuples(st.just("watch"), st.integers(0, PAGES * PAGE_SIZE - 16)),
), max_size=40)


def _backing_for(first: int, count: int) -> SegmentData:
    data = SegmentData(count * PAGE_SIZE)
    for i in range(count):
        if (first + i) % 2 == 0:
            data[i * PAGE_SIZE + 5:i * PAGE_SIZE + 9] = bytes([(first + i + 1) % 256] * 4)
    return data


def _apply(mem: Memory, model: Model, op, snaps: list):
    kind = op[0]
    if kind == "map":
        _, first, count, prot, backed = op
        readable, writable = prot != "none", prot == "rw"
        backing = _backing_for(first, count) if backed else None
        mem.map(BASE + first * PAGE_SIZE, count * PAGE_SIZE, writable=writable,
                readable=readable, name="m", backing=backing)
        for i in _span(first, count):
            page = model.pages[i]
            if page is None:
                init = bytearray(PAGE_SIZE)
                if backing is not None:
                    off = (i - first) * PAGE_SIZE
                    init = bytearray(backing[off:off + PAGE_SIZE])
                model.pages[i] = [readable, writable, init]
            else:
                page[0], page[1] = readable, writable
    elif kind == "unmap":
        _, first, count = op
        mem.unmap(BASE + first * PAGE_SIZE, count * PAGE_SIZE)
        for i in _span(first, count):
            model.pages[i] = None
    elif kind == "unmap_huge":
        mem.unmap(BASE + op[1] * PAGE_SIZE, BIG)
        for i in _span(op[1], HI):
            model.pages[i] = None
    elif kind == "protect":
        _, first, count, prot = op
        span = _span(first, count)
        if all(model.pages[i] is not None for i in span):
            mem.protect(BASE + first * PAGE_SIZE, count * PAGE_SIZE,
                        writable=prot == "rw", readable=prot != "none")
            for i in span:
                model.pages[i][0], model.pages[i][1] = prot != "none", prot == "rw"
        else:
            with pytest.raises(MachineFault):
                mem.protect(BASE + first * PAGE_SIZE, count * PAGE_SIZE, writable=True)
    elif kind == "discard":
        _, first, count = op
        before = {i: mem.mapping_at(BASE + i * PAGE_SIZE) for i in range(LO, HI)}
        mem.discard(BASE + first * PAGE_SIZE, count * PAGE_SIZE)
        for i in _span(first, count):
            page = model.pages[i]
            if page is not None:
                page[2] = bytearray(_initial(mem, i))
        assert before == {i: mem.mapping_at(BASE + i * PAGE_SIZE) for i in range(LO, HI)}
    elif kind == "write":
        _, off, data = op
        first, last = off // PAGE_SIZE, (off + len(data) - 1) // PAGE_SIZE
        ok = all(model.pages[i] is not None and model.pages[i][1]
                 for i in range(first, last + 1))
        if ok:
            mem.write(BASE + off, data)
            for k, b in enumerate(data):
                model.pages[(off + k) // PAGE_SIZE][2][(off + k) % PAGE_SIZE] = b
        else:
            with pytest.raises(MachineFault):
                mem.write(BASE + off, data)
    elif kind == "save":
        snaps.append((mem.save(), model.copy()))
    elif kind == "restore" and snaps:
        saved, copy = snaps[op[1] % len(snaps)]
        mem.load_saved(saved)
        model.pages, model.backing = copy.copy().pages, copy.backing
    elif kind == "watch":
        mem.watch(BASE + op[1], BASE + op[1] + 8, lambda *a: None)


def _initial(mem: Memory, i: int) -> bytes:
    """What page ``i`` reads as when untouched (its mapping's backing, or zeros)."""
    m = mem._find((BASE >> 12) + i)
    init = m.initial((BASE >> 12) + i) if m is not None else None
    return init if init is not None else bytes(PAGE_SIZE)


def _same(mem: Memory, model: Model):
    for i, page in model.pages.items():
        addr = BASE + i * PAGE_SIZE
        if page is None or not page[0]:
            with pytest.raises(MachineFault) as exc:
                mem.read(addr, 8)
            assert exc.value.code == ("SEGV_MAPERR" if page is None else "SEGV_ACCERR")
            assert (mem.mapping_at(addr) is None) == (page is None)
            continue
        assert mem.read(addr, PAGE_SIZE) == page[2], i
        assert mem.read_u64(addr + 5) == int.from_bytes(page[2][5:13], "little")
        assert mem.is_writable(addr) == page[1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_lazy_memory_behaves_like_an_eager_one(ops):
    mem, model, snaps = Memory(), Model(), []
    for op in ops:
        _apply(mem, model, op, snaps)
        _same(mem, model)
    for saved, copy in snaps:                 # snapshots never changed afterwards
        mem.load_saved(saved)
        _same(mem, copy)


def test_range_operations_cost_mappings_not_pages():
    mem = Memory()
    start = time.process_time()
    for i in range(200):
        base = (1 << 44) + i * (1 << 40)
        mem.map(base, 1 << 40)
        mem.write_u64(base + (1 << 39), i)
        mem.protect(base, 1 << 40, writable=False)
        mem.discard(base, 1 << 40)
        mem.map(base, 1 << 40, readable=False, writable=False)   # MAP_FIXED PROT_NONE
    mem.unmap(0, 1 << 63)
    assert time.process_time() - start < 2.0
    assert mem.mappings() == [] and mem.touched_bytes == 0


def test_untouched_pages_cost_nothing():
    mem = Memory(limit=64 * PAGE_SIZE)
    mem.map(1 << 40, 1 << 45)
    for k in range(1000):                      # reads of untouched memory: the zero page
        assert mem.read_u64((1 << 40) + k * (1 << 30)) == 0
    assert mem.touched_bytes == 0
    for k in range(64):
        mem.write_u8((1 << 40) + k * PAGE_SIZE, 1)
    with pytest.raises(LimitError, match="memory limit of 256 KiB exceeded"):
        mem.write_u8((1 << 40) + 64 * PAGE_SIZE, 1)


def test_backed_pages_read_their_segment_until_written():
    data = SegmentData(3 * PAGE_SIZE)
    data[PAGE_SIZE + 10:PAGE_SIZE + 14] = b"abcd"
    mem = Memory()
    mem.map(0x600000, len(data), writable=False, backing=data)
    assert mem.read(0x601000 + 10, 4) == b"abcd" and mem.read_u64(0x600000) == 0
    mem.load(0x600000, b"xyz")                 # the loader ignores protection
    assert mem.read(0x600000, 3) == b"xyz"
    with pytest.raises(MachineFault):
        mem.write(0x601000, b"no")
    assert mem.touched_bytes == 2 * PAGE_SIZE  # the page read with data, the page loaded


def test_prot_none_faults_with_accerr():
    mem = Memory()
    mem.map(0x10000, 0x3000, readable=False, writable=False, name="guard")
    assert not mem.is_mapped(0x10000) and mem.mapping_at(0x10000)[4] == "guard"
    with pytest.raises(MachineFault) as exc:
        mem.read_u8(0x11000)
    assert exc.value.code == "SEGV_ACCERR" and "PROT_NONE" in str(exc.value)
    mem.protect(0x11000, 0x1000, writable=True)
    mem.write_u8(0x11000, 5)
    assert mem.read_u8(0x11000) == 5
    assert [m[2:4] for m in mem.mappings()] == [(False, False), (True, True), (False, False)]

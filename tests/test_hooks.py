"""Hooks (before/after each instruction, at a symbol/label/file:line/address, on system
calls, on memory ranges) and copy-on-write snapshots of the whole machine."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goasm
from goasm import api
from goasm.errors import GoasmError, MachineFault
from goasm.machine.memory import PAGE_SIZE, Memory

REPO = Path(__file__).resolve().parent.parent
ARITH = REPO / "examples" / "testing" / "arith_amd64.s"
HELLO = REPO / "examples" / "hello" / "hello.s"


@pytest.fixture()
def arith():
    return goasm.Machine(goasm.load([ARITH]), stdout=io.BytesIO(), stderr=io.BytesIO())


def hello(**kw):
    out = io.BytesIO()
    proc = api.start([HELLO], stdout=out, stderr=io.BytesIO(), **kw)
    return proc, out


# ----------------------------------------------------------------------------- code hooks

def test_pc_hooks_by_symbol_label_line_and_address(arith):
    hits = {"entry": 0, "loop": 0, "line": 0, "addr": 0}
    fn = arith.image.functions["main.Sum"]
    arith.add_hook("pc", lambda m: hits.__setitem__("entry", hits["entry"] + 1), at="Sum")
    arith.add_hook("pc", lambda m: hits.__setitem__("loop", hits["loop"] + 1), at="Sum:loop")
    line = next(i.pos.line for i in fn.instrs if i.op == "ADDQ" and i.args[0].base == "SI")
    arith.add_hook("pc", lambda m: hits.__setitem__("line", hits["line"] + 1),
                   at=f"arith_amd64.s:{line}")
    arith.add_hook("pc", lambda m: hits.__setitem__("addr", hits["addr"] + 1),
                   at=fn.symbol.addr + 1)
    assert arith.call("Sum", [1, 2, 3]) == 6
    assert hits == {"entry": 1, "loop": 4, "line": 3, "addr": 1}


def test_instruction_and_after_hooks_see_every_instruction(arith):
    before, after = [], []
    arith.add_hook("instruction", lambda m: before.append(m.cpu.pc))
    arith.add_hook("after", lambda m: after.append((m.last_pc, m.cpu.pc)))
    res = arith.invoke("Add", 1, 2)
    assert len(before) == len(after) == res.steps
    assert [a for a, _ in after] == before
    assert all(nxt == b for (_, nxt), b in zip(after, before[1:]))


def test_hook_stops_before_the_instruction_and_resumes():
    proc, out = hello()
    m = proc.machine
    main = m.image.lookup("main.main").addr
    h = m.add_hook("pc", lambda m: "at main", at="main.main")
    reason = m.run()
    assert (reason.kind, reason.pc, reason.value) == ("hook", main, "at main")
    assert m.cpu.pc == main and out.getvalue() == b""
    m.remove_hook(h)
    assert m.run().kind == "exit" and out.getvalue() == b"hello, world\n"


def test_exceptions_in_hooks_propagate(arith):
    def boom(m):
        raise ValueError("from the hook")
    arith.add_hook("pc", boom, at="Add")
    with pytest.raises(ValueError, match="from the hook"):
        arith.call("Add", 1, 2)


def test_locations_that_do_not_exist(arith):
    for where in ("Nope", "Sum:nolabel", "arith_amd64.s:1"):
        with pytest.raises(GoasmError):
            arith.add_hook("pc", lambda m: None, at=where)
    with pytest.raises(ValueError):
        arith.add_hook("sometimes", lambda m: None)


# ----------------------------------------------------------------------------- syscalls

def test_syscall_hook_observes():
    proc, out = hello()
    seen = []
    proc.machine.add_hook("syscall", lambda m, call: seen.append((call.nr, call.args[0],
                                                                    call.args[2])))
    assert proc.machine.run().kind == "exit"
    assert (1, 1, 13) in seen                     # write(1, msg, 13)
    assert seen[-1][0] == 231                     # exit_group
    assert out.getvalue() == b"hello, world\n"


def test_syscall_hook_replaces():
    proc, out = hello()
    m = proc.machine
    m.add_hook("syscall", lambda m, call: 13 if call.nr == 1 else None)
    assert m.run().kind == "exit"
    assert out.getvalue() == b""                  # the kernel never saw the write


# ----------------------------------------------------------------------------- memory

def _global_counter(tmp_path):
    src = tmp_path / "g.s"
    src.write_text('#include "textflag.h"\n'
                   "GLOBL ·counter(SB), NOPTR, $16\n"
                   "TEXT ·bump(SB), NOSPLIT, $0-8\n"
                   "\tMOVQ ·counter(SB), AX\n\tINCQ AX\n\tMOVQ AX, ·counter(SB)\n"
                   "\tMOVQ AX, ret+0(FP)\n\tRET\n")
    (tmp_path / "g.go").write_text("package main\nfunc bump() int\n")
    m = goasm.Machine(goasm.load([src]), stdout=io.BytesIO(), stderr=io.BytesIO())
    return m, m.image.lookup("main.counter").addr


def test_memory_hooks_report_reads_and_writes_with_pc(tmp_path):
    m, counter = _global_counter(tmp_path)
    seen = []
    m.add_hook("access", lambda m, a: seen.append((a.kind, a.addr, a.size, a.data,
                                                   m.image.code[a.pc].op)),
               start=counter, end=counter + 8)
    assert m.call("bump") == 1
    assert seen == [("read", counter, 8, bytes(8), "MOVQ"),
                    ("write", counter, 8, (1).to_bytes(8, "little"), "MOVQ")]


def test_write_hook_can_stop_after_the_instruction(tmp_path):
    m, counter = _global_counter(tmp_path)
    m.ready()
    m.reset()
    m.add_hook("write", lambda m, a: "written", start=counter, end=counter + 8)
    fn = m.image.functions["main.bump"]
    m.cpu.pc = fn.symbol.addr
    reason = m.run()
    assert reason.kind == "hook" and reason.value == "written"
    assert m.image.code[reason.pc].op == "MOVQ" and m.mem.read_u64(counter) == 1


def test_raising_write_hook_cancels_the_write(tmp_path):
    m, counter = _global_counter(tmp_path)

    def veto(m, a):
        raise PermissionError("read-only counter")
    m.add_hook("write", veto, start=counter, end=counter + 8)
    with pytest.raises(PermissionError):
        m.call("bump", check=False, fresh=True)
    assert m.mem.read_u64(counter) == 0


def test_imprecise_memory_hooks_keep_the_fast_loop():
    """precise=False: a page-granular watch in Memory, no slow loop; only accesses to
    the watched page pay, the hook still sees them."""
    proc, out = hello()
    m = proc.machine
    g0 = m.image.lookup("runtime.g0").addr
    seen = []
    m.add_hook("write", lambda m, a: seen.append(a.addr), start=g0, end=g0 + 8, precise=False)
    assert not m._hooks                           # nothing forces the slow loop
    assert m.run().kind == "exit"
    assert g0 in seen                             # rt0_go: g0.stack.lo


def test_watched_and_unwatched_pages_behave_like_memory():
    mem = Memory()
    mem.map(0x10000, 3 * PAGE_SIZE)
    log = []
    w = mem.watch(0x11000 + 8, 0x11000 + 16, lambda *a: log.append(a))
    mem.write_u64(0x11000, 1)                     # same page, outside the range
    mem.write_u64(0x11008, 2)
    assert mem.read_u64(0x11008) == 2 and mem.read_u8(0x1100f) == 0
    assert mem.read(0x10ff8, 32)[16:] == (2).to_bytes(8, "little") + bytes(8)
    assert [k for k, *_ in log] == ["write", "read", "read", "read"]
    mem.unwatch(w)
    mem.read_u64(0x11008)
    assert len(log) == 4
    with pytest.raises(MachineFault):
        mem.read_u64(0x20000)


# ----------------------------------------------------------------------------- snapshots

_ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 4 * PAGE_SIZE - 16),
              st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("map"), st.integers(4, 6), st.booleans()),
    st.tuples(st.just("unmap"), st.integers(0, 6)),
    st.tuples(st.just("protect"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("restore"), st.integers(0, 5)),
    st.tuples(st.just("watch"), st.integers(0, 4 * PAGE_SIZE - 16)),
), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ops)
def test_copy_on_write_snapshots_behave_like_copies(ops):
    """Against a model that copies everything: any mix of writes, mappings, protection
    changes, watches, snapshots and restores (of the latest or older snapshots)."""
    base = 0x40000
    mem = Memory()
    mem.map(base, 4 * PAGE_SIZE)
    model = {"pages": {base // PAGE_SIZE + i: bytearray(PAGE_SIZE) for i in range(4)},
             "ro": set()}
    snaps = []

    def model_copy():
        return ({k: bytes(v) for k, v in model["pages"].items()}, set(model["ro"]))

    for op in ops:
        kind = op[0]
        if kind == "write":
            _, off, data = op
            addr = base + off
            pns = {addr // PAGE_SIZE, (addr + len(data) - 1) // PAGE_SIZE}
            ok = all(p in model["pages"] and p not in model["ro"] for p in pns)
            if ok:
                mem.write(addr, data)
                for i, b in enumerate(data):
                    a = addr + i
                    model["pages"][a // PAGE_SIZE][a % PAGE_SIZE] = b
            else:
                with pytest.raises(MachineFault):
                    mem.write(addr, data)
        elif kind == "map":
            pn = base // PAGE_SIZE + op[1]
            mem.map(pn * PAGE_SIZE, PAGE_SIZE, writable=op[2])
            model["pages"].setdefault(pn, bytearray(PAGE_SIZE))
            (model["ro"].discard if op[2] else model["ro"].add)(pn)
        elif kind == "unmap":
            pn = base // PAGE_SIZE + op[1]
            mem.unmap(pn * PAGE_SIZE, PAGE_SIZE)
            model["pages"].pop(pn, None)
            model["ro"].discard(pn)
        elif kind == "protect":
            pn = base // PAGE_SIZE + op[1]
            if pn in model["pages"]:
                mem.protect(pn * PAGE_SIZE, PAGE_SIZE, writable=op[2])
                (model["ro"].discard if op[2] else model["ro"].add)(pn)
        elif kind == "snapshot":
            snaps.append((mem.save(), model_copy()))
        elif kind == "restore" and snaps:
            saved, (pages, ro) = snaps[op[1] % len(snaps)]
            mem.load_saved(saved)
            model["pages"] = {k: bytearray(v) for k, v in pages.items()}
            model["ro"] = set(ro)
        elif kind == "watch":
            mem.watch(base + op[1], base + op[1] + 8, lambda *a: None)
        # The memory equals the model, page by page.
        assert mem.mapped_bytes == len(model["pages"]) * PAGE_SIZE
        for pn, data in model["pages"].items():
            assert mem.read(pn * PAGE_SIZE, PAGE_SIZE) == data
            assert mem.is_writable(pn * PAGE_SIZE) == (pn not in model["ro"])
    for saved, (pages, _ro) in snaps:        # snapshots never changed afterwards
        assert {pn: bytes(p) for pn, p in saved.pages.items() if any(p)} == \
            {pn: p for pn, p in pages.items() if any(p)}


def test_restore_of_the_latest_snapshot_touches_only_written_pages(arith):
    arith.reset()
    mem = arith.mem
    arith.call("Add", 1, 2, fresh=False)
    assert 0 < len(mem._dirty) < 10 < mem.mapped_bytes // PAGE_SIZE
    arith.reset()
    assert not mem._dirty

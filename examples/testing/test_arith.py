"""Property tests of arith_amd64.s, run by goasm: no Go toolchain, no build.

goasm's pytest plugin gives the ``goasm_machine`` fixture: the files named in
``goasm_files`` are loaded once per session, the Go runtime is started up to the point
where a goroutine runs, and every ``call`` starts from that state. Arguments are laid
out in the ABI0 frame from the declarations in arith.go; the runtime checker is on, so
a call that writes outside its frame, reads a result before writing it, returns with
SP or BP off, or leaves a result unwritten fails with ``goasm.CheckError``.
"""

from hypothesis import given
from hypothesis import strategies as st

import goasm.strategies as gst

goasm_files = ["arith_amd64.s"]


def wrap64(n: int) -> int:
    """n as a Go int64 (two's complement wrap-around)."""
    return (n + 2**63) % 2**64 - 2**63


@given(gst.go_values("int64"), gst.go_values("int64"))
def test_add(goasm_machine, a, b):
    total, ok = goasm_machine.call("Add", a, b)
    assert total == wrap64(a + b)
    assert ok == (-2**63 <= a + b < 2**63)


@given(gst.go_values("[]int64"))
def test_sum(goasm_machine, xs):
    assert goasm_machine.call("Sum", xs) == wrap64(sum(xs))


@given(st.data())
def test_index_byte(goasm_machine, data):
    s, c = data.draw(gst.arguments(goasm_machine, "IndexByte"))
    assert goasm_machine.call("IndexByte", s, c) == bytes(s).find(bytes([c]))


def test_index_byte_finds_every_position(goasm_machine):
    text = b"hello, world"
    for i, c in enumerate(text):
        assert goasm_machine.call("IndexByte", text, c) == text.index(c) <= i

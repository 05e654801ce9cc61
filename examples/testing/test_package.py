"""arith_amd64.s loaded as ``go build`` sees its package: goasm.load_package(folder).

The folder is the package: its .s and .go files chosen by build constraints for
linux/amd64, the Go declarations of all its .go files, symbols named by its import path
(examples/go.mod says ``module example``: ``example/testing.Add``; short names resolve in
the first package loaded). Machine.unsupported() lists, before
any call, what the package needs that goasm lacks (unresolved symbols, unimplemented
instructions), each with its file:line.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import goasm
import goasm.strategies as gst

PACKAGE = Path(__file__).parent


@pytest.fixture(scope="module")
def arith():
    m = goasm.Machine(goasm.load_package(PACKAGE), cpu="v2")
    m.ready()       # start the runtime now, not in the first (timed) hypothesis example
    return m


def test_nothing_is_missing(arith):
    assert arith.unsupported() == []


@given(st.data())
def test_index_byte(arith, data):
    s, c = data.draw(gst.arguments(arith, "IndexByte"))
    assert arith.call("example/testing.IndexByte", s, c) == bytes(s).find(bytes([c]))


@given(gst.go_values("[]int64"))
def test_sum(arith, xs):
    assert arith.call("Sum", xs) == (sum(xs) + 2**63) % 2**64 - 2**63

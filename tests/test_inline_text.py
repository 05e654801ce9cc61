"""The inline texts of SSE value functions (:func:`goasm.machine.ops.lanes.inline`) compute
what the functions compute: translated code runs the text, the interpreter the function."""

from __future__ import annotations

import random

import pytest

from goasm.machine.ops import sse_int as S

EDGES = (0, (1 << 128) - 1, 0x80 * int("01" * 16, 16), 0x7F * int("01" * 16, 16))


class _Emitter:
    """What the texts use of the translator: named constants."""

    def __init__(self):
        self.consts = {}

    def const(self, value):
        name = f"c{len(self.consts)}"
        self.consts[name] = value
        return name


def _agree(fn, n, rng):
    for _ in range(400):
        args = [rng.choice(EDGES) if rng.random() < 0.3 else rng.getrandbits(128)
                for _ in range(n)]
        e = _Emitter()
        names = ("d", "s")[:n] if n == 2 else ("s",)
        text = fn.goasm_expr(e, *names)
        env = {**e.consts, **dict(zip(names, args))}
        assert eval(text, env) == fn(*args), (text, [hex(a) for a in args])  # noqa: S307


@pytest.mark.parametrize("width", (1, 2, 4, 8))
@pytest.mark.parametrize("sub", (False, True))
def test_padd_psub(width, sub):
    _agree(S._add_sub(width, sub), 2, random.Random(width * 2 + sub))


def test_pcmpeqb():
    _agree(S._cmpeq(1), 2, random.Random(1))


def test_pshufd_every_immediate():
    rng = random.Random(2)
    for imm in range(256):
        _agree(S._pshuf("D", 4, imm), 1, rng)

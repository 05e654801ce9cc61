"""Hypothesis strategies for testing Go assembly with goasm.

- :func:`go_values` — Python values of a Go type (``"int32"``, ``"[]byte"``, a
  :class:`goasm.gosig.GoType`), in the form :meth:`goasm.Machine.call` takes them: every
  integer of the type's range, booleans, strings as ``bytes``, slices as lists (``bytes``
  for ``[]byte``), arrays, structs as dicts, pointers as :class:`goasm.Ref`;
- :func:`arguments` — tuples of arguments for a Go signature (text, a
  :class:`goasm.gosig.Signature`, or a machine and a function name);
- :func:`call_states` — how a call starts: garbage in the scratch registers, how much of
  the goroutine stack is already used (so stack growth happens at every depth);
- :func:`process_starts` — argv, environment, AT_RANDOM and extra auxv entries for a
  process start (``goasm.Machine(image, argv=..., env=..., random=..., auxv=...)``);
- :func:`cpu_models` — the CPU presets (``goasm.api.cpu_model``: ``intel``, ``amd``,
  ``v1`` .. ``v4``, ``host``).

Integer strategies favour the edges (0, ±1, the minimum and maximum of the type), which
is where carries, sign extension and width mistakes show up.
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from goasm.gosig import GoType, Signature, parse_signature, parse_type

_NOT_NUL = st.binary(max_size=48).filter(lambda b: b"\0" not in b)


def _type(t, types=None) -> GoType:
    return t if isinstance(t, GoType) else parse_type(t, types=types)


def integers_of(t: GoType) -> st.SearchStrategy:
    """Every value of an integer type, edges first."""
    bits = 8 * t.size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if t.signed else (0, (1 << bits) - 1)
    edges = sorted({v for v in (lo, lo + 1, -1, 0, 1, hi - 1, hi) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def go_values(t, *, max_len: int = 16, allow_nan: bool = False, types=None,
              pointers: str = "ref") -> st.SearchStrategy:
    """Values of Go type ``t`` (see the module docstring). ``max_len`` bounds strings
    and slices; ``allow_nan`` lets floats be NaN/Inf; ``pointers``: ``"ref"``
    (:class:`goasm.Ref` to a generated pointee), ``"nil"`` (always None)."""
    from goasm.calls import Ref, Slice

    t = _type(t, types)
    k = t.kind

    def sub(u):
        return go_values(u, max_len=max_len, allow_nan=allow_nan, pointers=pointers)

    if k == "int":
        return integers_of(t)
    if k == "bool":
        return st.booleans()
    if k == "float":
        width = 32 if t.size == 4 else 64
        return st.floats(width=width, allow_nan=allow_nan, allow_infinity=allow_nan)
    if k == "complex":
        width = 64 if t.size == 8 else 128
        return st.complex_numbers(width=width, allow_nan=allow_nan, allow_infinity=allow_nan)
    if k == "string":
        return st.binary(max_size=max_len)
    if k == "slice":
        if t.is_bytes:
            items = st.binary(max_size=max_len)
        else:
            items = st.lists(sub(t.elem), max_size=max_len)
        return st.one_of(items, st.builds(
            lambda xs, extra: Slice(xs, len(xs) + extra), items, st.integers(0, 8)))
    if k == "array":
        if t.is_bytes:
            return st.binary(min_size=t.length, max_size=t.length)
        return st.lists(sub(t.elem), min_size=t.length, max_size=t.length)
    if k == "struct":
        return st.fixed_dictionaries({f: sub(ft) for f, ft, _ in t.fields})
    if k == "ptr":
        if pointers == "nil":
            return st.none()
        if t.elem is None:     # unsafe.Pointer: bytes, copied, their address passed
            return st.binary(min_size=1, max_size=max_len)
        return st.builds(Ref, sub(t.elem))
    return st.none()


def arguments(sig, name: str | None = None, **kwargs) -> st.SearchStrategy:
    """Argument tuples for ``sig``: Go signature text (``"func(a, b int64) int64"``), a
    :class:`goasm.gosig.Signature`, or a :class:`goasm.Machine` and the function
    ``name`` (its declaration in the ``.go`` file). ``kwargs`` go to :func:`go_values`."""
    if name is not None:
        sig = sig.signature(name)
        if sig is None:
            raise ValueError(f"no Go declaration for {name}")
    elif isinstance(sig, str):
        sig = parse_signature(sig)
    if not isinstance(sig, Signature):
        raise TypeError(f"not a signature: {sig!r}")
    return st.tuples(*(go_values(p.type, **kwargs) for p in sig.params))


@attrs.frozen
class CallState:
    """How a call starts (see :func:`call_states`): ``regs`` (scratch register name ->
    value; what an ABI0 function must not depend on) and ``stack_used`` (bytes of the
    goroutine stack already in use below its top)."""

    regs: dict = attrs.field(factory=dict)
    stack_used: int = 0


SCRATCH = ("AX", "BX", "CX", "DX", "SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13", "R15")


def call_states(*, max_stack_used: int = 6144) -> st.SearchStrategy:
    """:class:`CallState` values for ``goasm.Machine.call(..., state=...)``."""
    regs = st.dictionaries(st.sampled_from(SCRATCH), st.integers(0, (1 << 64) - 1))
    used = st.integers(0, max_stack_used // 8).map(lambda n: 8 * n)
    return st.builds(CallState, regs, used)


@attrs.frozen
class ProcessStart:
    """What execve(2) gives a new process: ``argv`` (after argv[0]), ``env``
    (``KEY=VALUE`` strings), the 16 ``random`` bytes AT_RANDOM points at, extra ``auxv``
    entries (type -> value)."""

    argv: tuple
    env: tuple
    random: bytes
    auxv: dict


def process_starts(*, max_args: int = 16) -> st.SearchStrategy:
    """:class:`ProcessStart` values: any argument and environment strings without NUL
    bytes, random AT_RANDOM bytes, and sometimes AT_HWCAP2 / AT_SECURE / AT_CLKTCK."""
    env = st.builds(lambda k, v: k + b"=" + v, _NOT_NUL.filter(lambda b: b"=" not in b),
                    _NOT_NUL)
    auxv = st.dictionaries(st.sampled_from([17, 23, 26]), st.integers(0, (1 << 32) - 1),
                           max_size=3)
    return st.builds(ProcessStart, st.lists(_NOT_NUL, max_size=max_args).map(tuple),
                     st.lists(env, max_size=max_args).map(tuple),
                     st.binary(min_size=16, max_size=16), auxv)


def cpu_models() -> st.SearchStrategy:
    """The CPU presets goasm runs (``goasm.api.cpu_model``: intel, amd, v1 .. v4, host)."""
    from goasm.api import cpu_model

    return cpu_names().map(cpu_model)


def cpu_names() -> st.SearchStrategy:
    """The names of the CPU presets (``--cpu``; ``goasm.machine.state.PRESETS``)."""
    from goasm.machine.state import PRESETS

    return st.sampled_from(sorted(PRESETS))

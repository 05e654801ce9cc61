"""Reverse execution: whole-process snapshots keyed by step count.

The machine is deterministic (virtual clock, no host input unless given), so a past
state is reached by restoring a snapshot and executing forward. :class:`History` keeps
snapshots (CPU, memory, the runtime model's and the kernel's Python state, the
program's stream positions) at step 0, every ``interval`` steps and at every stop;
pages equal to those of the previous snapshot are shared.
"""

from __future__ import annotations

import bisect
import copy
import types

import attrs

from goasm.debug.errors import CommandError


@attrs.frozen
class ProcessState:
    """Everything that changes while the program runs: the machine's snapshot and the
    Python state of the runtime model and of the kernel, with stream positions."""

    steps: int
    machine: object
    model: dict
    linux: dict
    events: int
    out_pos: tuple
    in_pos: int


class History:
    """Snapshots of one process keyed by step count (see the module docstring).

    ``take()`` records the current state (once per step count); ``restore(step)``
    returns to the latest snapshot at or before ``step`` and says which one it was.
    Beyond ``limit`` snapshots the one closing the smallest gap is dropped (never step
    0 nor the latest), so old history thins out instead of growing without bound.
    """

    def __init__(self, proc, outputs, stdin, *, interval: int, limit: int) -> None:
        self.proc = proc
        self.outputs = outputs
        self.stdin = stdin
        self.interval = max(1, interval)
        self.limit = max(4, limit)
        self.states: dict[int, ProcessState] = {}
        self.order: list[int] = []

    def _keep(self) -> dict:
        proc = self.proc
        keep = [proc.machine, proc.machine.image, getattr(proc.model, "layout", None),
                getattr(proc.model, "goroot", None), proc.model.events,
                proc.linux, proc.model, self.stdin, *self.outputs]
        keep += list(proc.linux.streams.values())
        for obj in (proc.model, proc.linux):     # read-only tables are shared, not copied
            keep += [v for v in vars(obj).values() if isinstance(v, types.MappingProxyType)]
        return {id(x): x for x in keep if x is not None}

    def take(self) -> None:
        """Snapshot the current state (no-op when one exists for this step)."""
        proc = self.proc
        steps = proc.machine.steps
        if steps in self.states:
            return
        snap = proc.machine.snapshot()     # shares unchanged pages with the last one
        state = ProcessState(
            steps, snap,
            copy.deepcopy(vars(proc.model), self._keep()),
            copy.deepcopy(vars(proc.linux), self._keep()),
            len(proc.model.events),
            tuple(o.pos for o in self.outputs),
            self.stdin.pos)
        self.states[steps] = state
        bisect.insort(self.order, steps)
        while len(self.order) > self.limit:
            self._thin()

    def branch(self) -> None:
        """The state was changed by hand (``set``): forget every snapshot from this
        step on and take a new one, so the changed state is the timeline from here."""
        steps = self.proc.machine.steps
        for s in [s for s in self.order if s >= steps]:
            del self.states[s]
            self.order.remove(s)
        for out in self.outputs:        # what the old future printed is not this one's
            out.high = out.pos
        self.take()

    def _thin(self) -> None:
        order = self.order
        best, best_gap = None, None
        for i in range(1, len(order) - 1):
            gap = order[i + 1] - order[i - 1]
            if best_gap is None or gap < best_gap:
                best, best_gap = i, gap
        if best is None:
            return
        del self.states[order[best]]
        del order[best]

    def at_or_before(self, step: int) -> int:
        i = bisect.bisect_right(self.order, step) - 1
        if i < 0:
            raise CommandError(f"no snapshot at or before step {step}")
        return self.order[i]

    def restore(self, step: int) -> int:
        """Restore the latest snapshot at or before ``step``; returns its step."""
        at = self.at_or_before(step)
        state = self.states[at]
        proc = self.proc
        proc.machine.restore(state.machine)
        del proc.model.events[state.events:]
        for obj, saved in ((proc.model, state.model), (proc.linux, state.linux)):
            fresh = copy.deepcopy(saved, self._keep())
            vars(obj).clear()
            vars(obj).update(fresh)
        for out, pos in zip(self.outputs, state.out_pos):
            out.pos = pos
        self.stdin.pos = state.in_pos
        return at

    def next_boundary(self, step: int) -> int:
        """The next step count at which a periodic snapshot is due."""
        return (step // self.interval + 1) * self.interval

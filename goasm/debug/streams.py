"""The emulated program's standard streams while it is debugged.

Program output is written once per session: each stream counts the bytes the program
has produced and only bytes beyond the furthest point ever reached are passed on, so
re-execution (for reverse execution, or forward again after it) never duplicates
output. Program input is kept as it is read, so re-execution reads the same bytes.
"""

from __future__ import annotations

import codecs


class ProgramOutput:
    """A binary stream the emulated program writes fd 1 or 2 to.

    ``pos`` counts the bytes produced on the current timeline (saved with every
    snapshot); ``high`` is the furthest ever reached. Only bytes beyond ``high`` are
    passed to ``target``, so re-executing a stretch already shown writes nothing.
    ``target`` is a binary stream, a text stream over one (the bytes go to its
    ``buffer`` unchanged) or a text stream alone (then decoded as UTF-8).
    """

    def __init__(self, target, before_write=None) -> None:
        self.target = target
        self.before_write = before_write
        self.pos = 0
        self.high = 0
        self.dangling = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data) -> int:
        data = bytes(data)
        start = self.pos
        self.pos += len(data)
        if self.pos <= self.high:
            return len(data)
        fresh = data[max(0, self.high - start):]
        self.high = self.pos
        if self.target is None or not fresh:
            return len(data)
        if self.before_write is not None:
            self.before_write()
        raw = getattr(self.target, "buffer", None)
        if raw is not None:
            # a text stream over a binary one (sys.stdout): the program's bytes go through
            # unchanged, after the debugger's own text written so far
            self.target.flush()
            raw.write(fresh)
            raw.flush()
        else:
            try:
                self.target.write(fresh)
            except TypeError:
                self.target.write(self._decoder.decode(fresh))
        self.dangling = not fresh.endswith(b"\n")
        try:
            self.target.flush()
        except (AttributeError, ValueError):
            pass
        return len(data)

    def flush(self) -> None:
        pass


class ReplayableInput:
    """The program's stdin: every byte read is kept, so that re-execution after a
    ``rev`` reads the same bytes again (``pos`` is part of each snapshot)."""

    def __init__(self, source=None) -> None:
        self.source = source
        self.buffer = bytearray()
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        want = n if n is not None and n >= 0 else 1 << 20
        if self.pos + want > len(self.buffer) and self.source is not None:
            more = self.source.read(self.pos + want - len(self.buffer))
            if isinstance(more, str):
                more = more.encode("utf-8")
            self.buffer += more or b""
        data = bytes(self.buffer[self.pos:self.pos + want])
        self.pos += len(data)
        return data

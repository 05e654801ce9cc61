"""One exception hierarchy for goasm.

Every error that reaches a user carries a source position (file:line:col) where one
exists, and renders as ``file.s:LINE:COL: message`` followed by the offending line and a
caret, in the style of Go's assembler (``cmd/asm``) and compilers.
"""

from __future__ import annotations

import attrs


@attrs.frozen(order=True)
class Pos:
    """A source position: file name, 1-based line and 1-based column."""

    file: str = "<input>"
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.col <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"


class GoasmError(Exception):
    """Base of every error goasm raises on purpose.

    ``pos`` is where the problem is; ``source_line`` the text of that line (for the caret
    display) when known.
    """

    def __init__(self, message: str, pos: Pos | None = None, source_line: str | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.source_line = source_line

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos is not None else self.message

    def render(self) -> str:
        """The full report: ``file:line:col: message``, then the line and a caret.

        Control characters are shown escaped (``\\x1b``), never written raw to the
        terminal, and a line longer than :data:`SHOWN` characters is cut to a window
        around the column (marked ``...``)."""
        out = [escape(str(self))]
        if self.source_line is not None:
            line = self.source_line.rstrip("\n")
            col = self.pos.col if self.pos is not None else 0
            start = 0
            if len(line) > SHOWN:
                start = max(0, min(col - 1 - SHOWN // 2, len(line) - SHOWN)) if col > 0 else 0
            before, shown = line[start:max(col - 1, start)], line[start:start + SHOWN]
            head = "..." if start > 0 else ""
            tail = "..." if start + SHOWN < len(line) else ""
            out.append(head + escape(shown) + tail)
            if col > 0:
                pad = "".join("\t" if ch == "\t" else " "
                              for ch in head + escape(before))
                out.append(pad + "^")
        return "\n".join(out)


#: The most characters of a source line an error shows.
SHOWN = 160


def escape(text: str) -> str:
    """``text`` with control characters other than tab and newline written as Go
    escapes (``\\x1b``, ``\\u0085``), so that messages never drive the terminal."""
    if text.isprintable() or all(c in "\t\n" or c.isprintable() or ord(c) > 0x9F
                                 for c in text):
        return text
    out = []
    for c in text:
        o = ord(c)
        if c in "\t\n" or not (o < 0x20 or 0x7F <= o <= 0x9F):
            out.append(c)
        elif o <= 0xFF:
            out.append(f"\\x{o:02x}")
        else:
            out.append(f"\\u{o:04x}")
    return "".join(out)


class LoadError(GoasmError):
    """The program cannot be loaded: preprocess, parse or link errors (exit status 1)."""


class PreprocessError(LoadError):
    """A bad directive, include or macro use (cmd/asm/internal/lex behaviour)."""


class ParseError(LoadError):
    """Source text the grammar does not accept."""


class LinkError(LoadError):
    """Symbols, labels, frames: what Go's assembler/linker would reject while laying out."""


class DecodeError(GoasmError):
    """Machine code that is not a whole, valid instruction, or has no Go assembly spelling
    (:mod:`goasm.decode`); ``offset`` is where in the input it starts, ``data`` its bytes."""

    def __init__(self, message: str, pos: Pos | None = None, *, offset: int = 0,
                 data: bytes = b""):
        super().__init__(message, pos)
        self.offset = offset
        self.data = data


class LimitError(GoasmError):
    """A resource limit (steps, memory, include depth, macro expansion) was hit."""


class InputLimitError(LimitError, PreprocessError):
    """A limit of the front end (include depth, macro expansions, line length): both a
    :class:`LimitError` and a load error (the program cannot be loaded, exit status 1)."""


class UnimplementedError(GoasmError):
    """An instruction or syscall that parses/exists but goasm cannot execute."""


class MachineFault(GoasmError):
    """A fault in the emulated program (SIGSEGV, SIGILL, SIGTRAP, ...).

    ``signal`` is the Go/Unix signal name, ``addr`` the faulting address if any,
    ``pc`` the program counter of the faulting instruction.
    """

    def __init__(self, message: str, *, signal: str = "SIGSEGV", addr: int | None = None,
                 pc: int | None = None, code: str | None = None, pos: Pos | None = None):
        super().__init__(message, pos)
        self.signal = signal
        self.addr = addr
        self.pc = pc
        self.code = code

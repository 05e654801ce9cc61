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
        """The full report: ``file:line:col: message``, then the line and a caret."""
        out = [str(self)]
        if self.source_line is not None:
            line = self.source_line.rstrip("\n")
            out.append(line)
            if self.pos is not None and self.pos.col > 0:
                pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.pos.col - 1])
                out.append(pad + "^")
        return "\n".join(out)


class PreprocessError(GoasmError):
    """A bad directive, include or macro use (cmd/asm/internal/lex behaviour)."""


class ParseError(GoasmError):
    """Source text the grammar does not accept."""


class LinkError(GoasmError):
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

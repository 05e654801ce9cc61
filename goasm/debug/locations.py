"""Code locations: delve's location specs, source lines, and how places are named.

Location specs (delve, Documentation/cli/locspec.md): ``symbol`` (``runtime·settls``,
``main.sum``, or a unique suffix such as ``sum``), ``symbol+off`` (offsets count
instructions, the unit of goasm's code addresses), ``file.s:LINE`` (any suffix of the
path), ``LINE`` (in the current file) and ``*ADDR``. Source lines map to the first
instruction at or after them (up to 20 lines further), so a breakpoint on a comment or a
label lands on the next instruction.
"""

from __future__ import annotations

import os
import re

from goasm.debug.errors import CommandError
from goasm.trace import short_path as rel

LINE_SLACK = 20




def pos_text(pos) -> str:
    return f"{rel(pos.file)}:{pos.line}"


class Locations:
    """Locations in one image (``natives``: the machine's modelled functions)."""

    def __init__(self, image, natives) -> None:
        self.image = image
        self.natives = natives
        self._lines = None
        self._sources: dict = {}

    # ------------------------------------------------------------------ names

    def describe(self, addr: int) -> str:
        return self.image.describe(addr)

    def symbolize(self, value: int) -> str:
        """`` <runtime.g0+0x10>`` when ``value`` points into a symbol, else ``""``."""
        if value < 0x1000:
            return ""
        sym, off = self.image.symbol_at(value)
        if sym is None:
            return ""
        return f" <{sym.name}+{off:#x}>" if off else f" <{sym.name}>"

    def is_code(self, addr: int) -> bool:
        return addr in self.image.code or addr in self.natives

    def native_doc(self, addr: int) -> str:
        """The first sentence of a modelled function's docstring."""
        fn = self.natives.get(addr)
        doc = getattr(fn, "__doc__", None) or ""
        first = " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")
        if ". " in first:
            first = first[:first.index(". ") + 1]
        return first

    def where(self, addr: int) -> str:
        """``0xADDR for symbol+off() file:line``."""
        ins = self.image.code.get(addr)
        name = self.describe(addr)
        if ins is not None and ins.pos is not None:
            return f"{addr:#x} for {name}() {pos_text(ins.pos)}"
        return f"{addr:#x} for {name}() (modelled in Python)"

    def frame_where(self, frame) -> tuple:
        """(name+off, file:line) of a frame; a caller is shown at its CALL."""
        name = self.describe(frame.pc)
        if frame.pos is not None:
            return name, pos_text(frame.pos)
        if frame.pc in self.natives:
            return name, "(Go runtime function modelled by goasm)"
        return name, "?"

    # ------------------------------------------------------------------ source

    def line_index(self) -> dict:
        """Source file (real absolute path) -> line -> sorted instruction addresses."""
        if self._lines is None and hasattr(self.image, "source_line_index"):
            self._lines = self.image.source_line_index()     # an executable's line table
        if self._lines is None:
            idx: dict = {}
            for addr, ins in self.image.code.items():
                pos = ins.pos
                if pos is None or pos.line <= 0:
                    continue
                f = os.path.realpath(pos.file)
                idx.setdefault(f, {}).setdefault(pos.line, []).append(addr)
            for lines in idx.values():
                for v in lines.values():
                    v.sort()
            self._lines = idx
        return self._lines

    def find_file(self, name: str) -> str:
        files = list(self.line_index())
        want = os.path.realpath(name)
        if want in files:
            return want
        norm = name.replace("\\", "/").lstrip("./")
        hits = [f for f in files if f.endswith("/" + norm) or os.path.basename(f) == norm]
        if not hits:
            raise CommandError(f"no source file matches {name!r}")
        if len(hits) > 1:
            raise CommandError(f"{name!r} is ambiguous: " + ", ".join(map(rel, hits)))
        return hits[0]

    def file_of(self, pc: int) -> str:
        ins = self.image.code.get(pc)
        if ins is None or ins.pos is None:
            raise CommandError("no current source file (stopped in a modelled function)")
        return os.path.realpath(ins.pos.file)

    def line_address(self, path: str, line: int) -> tuple:
        """(address, line) of the first instruction at or after ``path:line``."""
        lines = self.line_index()[path]
        for ln in range(line, line + LINE_SLACK):
            if ln in lines:
                return lines[ln][0], ln
        raise CommandError(f"no code at {rel(path)}:{line}")

    def source_lines(self, path: str):
        """The lines of a source file (None when it cannot be read)."""
        if path not in self._sources:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    self._sources[path] = fh.read().split("\n")
            except OSError:
                self._sources[path] = None
        return self._sources[path]

    # ------------------------------------------------------------------ specs

    def code_symbol(self, name: str):
        from goasm.image import SymKind

        sym = self.image.lookup(name)
        if sym is None:
            cands = [s for n, s in self.image.symbols.items()
                     if n.endswith("." + name) and s.kind in (SymKind.TEXT, SymKind.NATIVE)]
            if len(cands) == 1:
                sym = cands[0]
            elif cands:
                raise CommandError(f"{name} is ambiguous: "
                                   + ", ".join(sorted(s.name for s in cands)))
        if sym is None:
            raise CommandError(f"location {name!r} not found")
        if sym.kind not in (SymKind.TEXT, SymKind.NATIVE):
            raise CommandError(f"{sym.name} is {sym.kind.value}, not code")
        return sym

    def resolve(self, spec: str, *, pc: int, evaluate) -> tuple:
        """Code addresses for a location spec; ``pc`` for a bare LINE, ``evaluate``
        (text -> int) for ``*ADDR``."""
        spec = spec.strip()
        if not spec:
            raise CommandError("missing location")
        if spec.startswith("*") or re.fullmatch(r"0[xX][0-9a-fA-F]+", spec):
            addr = evaluate(spec.lstrip("*"))
            if not self.is_code(addr):
                raise CommandError(f"no instruction at {addr:#x}")
            return (addr,)
        m = re.fullmatch(r"(.*?):(\d+)", spec)
        if m or spec.isdigit():
            path, line = (m.group(1), int(m.group(2))) if m else ("", int(spec))
            f = self.find_file(path) if path else self.file_of(pc)
            return (self.line_address(f, line)[0],)
        m = re.fullmatch(r"(.+?)\s*\+\s*(0[xX][0-9a-fA-F]+|\d+)", spec)
        if m:
            sym = self.code_symbol(m.group(1))
            addr = sym.addr + int(m.group(2), 0)
            if not self.is_code(addr) or self.image.symbol_at(addr)[0] is not sym:
                raise CommandError(f"{spec}: no instruction of {sym.name} there")
            return (addr,)
        return (self.code_symbol(spec).addr,)

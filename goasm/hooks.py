"""Where hooks go: locations in an image by symbol, label or source line.

:meth:`goasm.machine.machine.Machine.add_hook` (``kind="pc"``) accepts addresses or a
location string, resolved here against the linked :class:`goasm.image.Image`:

- ``main.add``, ``·add``, ``add`` (package main) — the function's first instruction
  (the stack-split prologue when there is one, as a breakpoint on a Go symbol);
  ``add+3`` — three instructions further (goasm lays code out one address per
  instruction);
- ``add:loop`` — the instruction a label names (the labelled statement);
- ``add.s:12`` or a longer path ``dir/add.s:12`` — the first instruction generated from
  that line, in each function it appears in (a RET expands to its epilogue, a macro to
  several instructions: the hook is at the first);
- an int — that address.
"""

from __future__ import annotations

import re
from pathlib import Path

from goasm import ir
from goasm.errors import GoasmError

_FILE_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")
_SYM_OFF = re.compile(r"^(?P<sym>[^:+]+)\+(?P<off>0x[0-9a-fA-F]+|\d+)$")


def function_named(image, name: str):
    """The :class:`goasm.image.Function` for ``name`` (linked or as written, package
    main assumed for a bare name), or None."""
    sym = image.lookup(name)
    if sym is None and "." not in name and "\u00b7" not in name:
        sym = image.lookup("main." + name)
    if sym is None:
        return None
    return image.functions.get(sym.name)


def resolve(image, where) -> list[int]:
    """Addresses for a location (see the module docstring); raises
    :class:`goasm.errors.GoasmError` when nothing matches."""
    if isinstance(where, int):
        return [where]
    text = str(where).strip()
    m = _FILE_LINE.match(text)
    if m and ("." in m.group("file") or "/" in m.group("file")) \
            and function_named(image, m.group("file")) is None:
        return line_addresses(image, m.group("file"), int(m.group("line")))
    if ":" in text:
        fname, label = text.rsplit(":", 1)
        return [label_address(image, fname, label)]
    m = _SYM_OFF.match(text)
    off = 0
    if m:
        text, off = m.group("sym"), int(m.group("off"), 0)
    sym = image.lookup(text)
    if sym is None and "." not in text and "\u00b7" not in text:
        sym = image.lookup("main." + text)
    if sym is None:
        raise GoasmError(f"no symbol {text} to hook")
    return [sym.addr + off]


def _same_file(pos_file: str, wanted: str) -> bool:
    if pos_file == wanted:
        return True
    a, b = Path(pos_file).parts, Path(wanted).parts
    return len(b) <= len(a) and a[len(a) - len(b):] == b


def line_addresses(image, file: str, line: int) -> list[int]:
    """The first instruction of ``file:line`` in each function containing one."""
    out = []
    for fn in image.functions.values():
        for ins in fn.instrs:
            if ins.pos is not None and ins.pos.line == line and _same_file(ins.pos.file, file):
                out.append(ins.addr)
                break
    if not out:
        raise GoasmError(f"no instruction at {file}:{line}")
    return sorted(out)


def label_address(image, function: str, label: str) -> int:
    """The address of ``label`` in ``function``: from the branches that target it, else
    from the source (the statement after the label)."""
    fn = function_named(image, function)
    if fn is None:
        raise GoasmError(f"no function {function} to look for label {label} in")
    for ins in fn.instrs:
        for a in ins.args:
            if getattr(a, "label", None) == label and hasattr(a, "addr"):
                return a.addr
    pos = _label_pos(fn, label)
    if pos is not None:
        for ins in fn.instrs:
            if not ins.synthetic and ins.pos is not None and (ins.pos.line, ins.pos.col) >= \
                    (pos.line, pos.col) and ins.pos.file == pos.file:
                return ins.addr
    raise GoasmError(f"no label {label} in {fn.name}")


def _label_pos(fn, label: str):
    """The position of the first statement after ``label:`` in fn's source, or None."""
    from goasm.parse import parse_file
    from goasm.resources import runtime_dir

    if not fn.file:
        return None
    try:
        prog = parse_file(fn.file, include_dirs=(Path(fn.file).parent, runtime_dir()))
    except (GoasmError, OSError):
        return None
    inside = False
    want = False
    for st in prog.statements:
        if isinstance(st, ir.Text):
            inside = st.pos == fn.text.pos
            continue
        if not inside:
            continue
        if isinstance(st, ir.Label) and st.name == label:
            want = True
        elif want and isinstance(st, ir.Instr):
            return st.pos
    return None

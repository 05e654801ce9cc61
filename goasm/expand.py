"""Text rendering of linked functions in the style of ``go tool asm -S``.

:func:`expand_function` prints what the loader made of a TEXT symbol exactly as the
instruction column of ``go tool asm -S`` does (``cmd/internal/obj/util.go``
``Prog.InstructionString``/``WriteDconv``, ``link.go`` ``TextAttrString``), without pcs,
positions and encodings, and without FUNCDATA/PCDATA (which goasm drops). Two differences
by design: branch targets are *line indices* within the function's instruction lines
(Go prints byte pcs), and instruction prefixes that goasm merged into an instruction
(``LOCK``, ``REP`` ...) are printed on their own line first, as Go lists them.

:func:`function_to_json` / :func:`image_to_json` give the same information as data for
tools.
"""

from __future__ import annotations

import os

from goasm import ir
from goasm.arch import amd64
from goasm.image import Function, Image, LInstr, Target

# link.go textAttrStrings order (the attributes an assembly TEXT can carry), then the ABI,
# then TOPFRAME (LSym.TextAttrString).
_ATTR_ORDER = (
    ("DUPOK", "DUPOK"),
    ("NOSPLIT", "NOSPLIT"),
    ("REFLECTMETHOD", "REFLECTMETHOD"),
    ("WRAPPER", "WRAPPER"),
    ("NEEDCTXT", "NEEDCTXT"),
    ("NOFRAME", "NOFRAME"),
    ("STATIC", None),
    ("ABIWRAPPER", "ABIWRAPPER"),
)

_BRANCH_TO_SYMBOL_OPS = frozenset({"CALL", "JMP", "RET"})   # obj6.go progedit: TYPE_BRANCH

# asm6.go optab gives MOVSWW/MOVZWW the Zmb_r form, whose bytereg renames the source
# register in the listing only (the encoding, hence the meaning, is the word register).
_COSMETIC_BYTE_SRC_OPS = frozenset({"MOVSWW", "MOVZWW"})
_BYTE_REG = dict(zip(amd64.GPR64, amd64.GPR8))


def go_symbol_name(linked: str) -> str:
    """The name Go prints for a linked name: ``foo<>#2`` and ``foo<>`` print as ``foo``,
    ``f<ABIInternal>`` as ``f`` (obj.Addr names carry no decoration in listings)."""
    return linked[: linked.index("<")] if "<" in linked else linked


def _offset(off: int) -> str:
    """util.go offConv."""
    return "" if off == 0 else f"{off:+d}"


def format_mem(m: ir.Mem) -> str:
    """util.go writeNameTo + the index suffix of WriteDconv (TYPE_MEM)."""
    kind = m.kind
    if kind is ir.NameKind.NONE:
        if m.base is None:
            text = str(m.offset)
        elif m.offset == 0:
            text = f"({m.base})"
        else:
            text = f"{m.offset}({m.base})"
    elif kind is ir.NameKind.EXTERN:
        reg = m.base or "SB"
        text = f"{go_symbol_name(m.symbol)}{_offset(m.offset)}({reg})"
    elif kind is ir.NameKind.STATIC:
        reg = m.base or "SB"
        text = f"{go_symbol_name(m.symbol)}<>{_offset(m.offset)}({reg})"
    elif kind is ir.NameKind.PARAM:
        text = f"{m.symbol or ''}{_offset(m.offset)}(FP)"
    else:
        text = f"{m.symbol or ''}{_offset(m.offset)}(SP)"
    if m.index is not None:
        text += f"({m.index}*{m.scale})" if m.scale else f"({m.index})"
    return text


def format_float(value: float) -> str:
    """util.go TYPE_FCONST: ``%.17g``, with ``.0`` added to integral values."""
    text = f"{value:.17g}"
    if not any(c in text for c in ".e") and text not in ("inf", "-inf", "nan"):
        text += ".0"
    return f"$({text})"


def format_operand(arg, display=None, branch_symbol: bool = False) -> str:
    """One operand as WriteDconv prints it. ``display`` maps instruction indices to line
    indices for :class:`Target`; ``branch_symbol`` prints ``sym(SB)`` the way Go prints a
    TYPE_BRANCH to a symbol (no ``<>``, no offset)."""
    if isinstance(arg, Target):
        if arg.index < 0:
            return hex(arg.addr)
        return str(display[arg.index] if display is not None else arg.index)
    if isinstance(arg, ir.Reg):
        return arg.name
    if isinstance(arg, ir.Imm):
        return f"${arg.value}"
    if isinstance(arg, ir.FloatImm):
        return format_float(arg.value)
    if isinstance(arg, ir.StrImm):
        return "$" + ir.quote_bytes(arg.value)
    if isinstance(arg, ir.Mem):
        if (branch_symbol and arg.kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC)
                and arg.base is None and arg.index is None):
            return f"{go_symbol_name(arg.symbol)}(SB)"
        return format_mem(arg)
    if isinstance(arg, ir.Addr):
        return "$" + format_mem(arg.mem)
    if isinstance(arg, ir.Indirect):
        inner = arg.target
        return "*" + (str(inner.value) if isinstance(inner, ir.Imm) else format_mem(inner))
    return str(arg)


def text_attributes(fn: Function) -> str:
    """LSym.TextAttrString for the function after frame processing (``NOSPLIT|NOFRAME``)."""
    parts = []
    for name, flag in _ATTR_ORDER:
        if flag is None:
            if fn.text.symbol.static:
                parts.append(name)
        elif fn.flags & amd64.TEXTFLAG[flag]:
            parts.append(name)
    if fn.symbol.abi == "ABIInternal":
        parts.append("ABIInternal")
    if fn.flags & amd64.TEXTFLAG["TOPFRAME"]:
        parts.append("TOPFRAME")
    return "|".join(parts)


def text_line(fn: Function) -> str:
    """``TEXT\\tmain.add(SB), NOSPLIT, $32-24`` (the final frame size, args if known)."""
    name = go_symbol_name(fn.symbol.name)
    if fn.text.symbol.static:
        name += "<>"
    parts = [f"{name}(SB)"]
    attrs_text = text_attributes(fn)
    if attrs_text:
        parts.append(attrs_text)
    parts.append(f"${fn.frame}" if fn.args is None else f"${fn.frame}-{fn.args}")
    return "TEXT\t" + ", ".join(parts)


def display_indices(fn: Function) -> list:
    """Line index (among instruction lines) of each instruction's first line; merged
    prefixes take a line each, before their instruction. An instruction from a raw run
    is at the line of the raw statement holding its first byte."""
    out = []
    line = 0
    for ins in fn.instrs:
        raw = ins.listing
        if raw is None:
            out.append(line)
            line += len(ins.prefixes) + 1
            continue
        written = len(ins.prefixes) - raw.prefixes
        out.append(line - 1 if raw.inside and not written else line)
        line += written + len(raw.lines)
    return out


def _decoded_text(ins: LInstr, display) -> str:
    mnemonic = ins.op + "".join("." + s for s in ins.suffixes)
    branch_symbol = ins.op in _BRANCH_TO_SYMBOL_OPS
    ops = [format_operand(a, display, branch_symbol and i == len(ins.args) - 1)
           for i, a in enumerate(ins.args)]
    if ins.op in _COSMETIC_BYTE_SRC_OPS and ins.args and isinstance(ins.args[0], ir.Reg):
        ops[0] = _BYTE_REG.get(ops[0], ops[0])
    return mnemonic + ("\t" + ", ".join(ops) if ops else "")


def instruction_lines(ins: LInstr, display=None) -> list:
    """The -S lines of one instruction: its prefixes, then itself. An instruction decoded
    from raw bytes is shown as its source with the decoding beside it
    (``LONG $0xdacb380f  // SHA256RNDS2 X0, X1, X2``: traces, errors, JSON);
    :func:`expand_function` lists raw statements as Go does instead."""
    lines = list(ins.prefixes)
    text = _decoded_text(ins, display)
    if ins.source:
        text = f"{ins.source}  // {text}"
    lines.append(text)
    return lines


def expand_function(fn: Function, comments: bool = True) -> list:
    """The TEXT line and one line per instruction, as ``go tool asm -S`` prints them
    (branch targets as line indices, counting from 0 at the first instruction line).

    Raw ``BYTE``/``WORD``/``LONG``/``QUAD`` runs are listed as Go lists them, one line per
    statement (:class:`goasm.decode.raw.RawListing`); with ``comments`` each decoded
    instruction is added as ``  // SHA256RNDS2\tX0, X1, X2`` to the line of the statement
    where it begins (several instructions beginning in one statement: ``; ``-separated)."""
    display = display_indices(fn)
    lines = [text_line(fn)]
    commented = set()       # indices of lines that already carry a comment
    for ins in fn.instrs:
        raw = ins.listing
        if raw is None:
            lines.extend(instruction_lines(ins, display))
            continue
        written = len(ins.prefixes) - raw.prefixes
        lines.extend(ins.prefixes[:written])
        decoded = ins.source != ""        # data bytes of a run carry no decoding
        if raw.inside and not written:
            at = len(lines) - 1
            lines.extend(raw.lines)
        else:
            at = len(lines)
            lines.extend(raw.lines)
        if comments and decoded and 0 < at < len(lines):
            text = "; ".join((*ins.prefixes[written:], _decoded_text(ins, display)))
            if at in commented:
                lines[at] += "; " + text
            else:
                lines[at] += "  // " + text
                commented.add(at)
    return lines


def _selected(fn: Function, files) -> bool:
    if files is None:
        return True
    wanted = {os.fspath(f) for f in files}
    return fn.file in wanted or os.path.basename(fn.file) in wanted


def expand_image(image: Image, files=None) -> str:
    """Every function of ``image`` (or of ``files`` only) in address order: the TEXT line,
    then the instructions indented by a tab; functions separated by a blank line."""
    blocks = []
    for fn in sorted(image.functions.values(), key=lambda f: f.symbol.addr):
        if not _selected(fn, files):
            continue
        lines = expand_function(fn)
        blocks.append("\n".join([lines[0]] + ["\t" + line for line in lines[1:]]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _pos_text(pos) -> str | None:
    return None if pos is None else str(pos)


def function_to_json(fn: Function) -> dict:
    """A JSON-ready description of one linked function."""
    display = display_indices(fn)
    instrs = []
    for ins in fn.instrs:
        target = next((a for a in ins.args if isinstance(a, Target)), None)
        instrs.append({
            "index": ins.index,
            "line": display[ins.index],
            "addr": ins.addr,
            "text": "; ".join(instruction_lines(ins, display)),
            "op": ins.op,
            "prefixes": list(ins.prefixes),
            "synthetic": ins.synthetic,
            "pos": _pos_text(ins.pos),
            "target": None if target is None else {"index": target.index, "addr": target.addr,
                                                   "label": target.label},
        })
    return {
        "name": fn.name,
        "file": fn.file,
        "addr": fn.symbol.addr,
        "abi": fn.symbol.abi,
        "attributes": text_attributes(fn),
        "flags": fn.flags,
        "frame": fn.frame,
        "args": fn.args,
        "bpsize": fn.bpsize,
        "text": text_line(fn),
        "instrs": instrs,
    }


def image_to_json(image: Image, files=None) -> dict:
    """Symbols, segments and functions of an image as JSON-ready data."""
    return {
        "entry": image.entry,
        "files": list(image.files),
        "symbols": [
            {"name": s.name, "addr": s.addr, "size": s.size, "kind": s.kind.value,
             "written": s.written, "file": s.file, "pos": _pos_text(s.pos), "flags": s.flags,
             "abi": s.abi}
            for s in sorted(image.symbols.values(), key=lambda s: (s.addr, s.name))
        ],
        "segments": [
            {"name": seg.name, "addr": seg.addr, "size": len(seg.data), "writable": seg.writable}
            for seg in image.segments
        ],
        "functions": [function_to_json(fn)
                      for fn in sorted(image.functions.values(), key=lambda f: f.symbol.addr)
                      if _selected(fn, files)],
    }

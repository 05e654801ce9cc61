"""The Go runtime's struct layouts, read from a binary's own DWARF.

A Go executable carries DWARF (unless linked with ``-w``): the ``runtime`` compile unit
describes ``runtime.g``, ``runtime.m``, ``runtime.gobuf``, ``runtime.stack`` and
``runtime.funcval`` (``DW_TAG_structure_type`` with ``DW_TAG_member`` children and their
``DW_AT_data_member_location``) and the package's constants (``DW_TAG_constant`` with
``DW_AT_const_value``: ``runtime.stackGuard``, ``runtime._Grunning`` ...). That is the
same information the compiler writes into ``go_asm.h`` for the runtime's assembly, so the
result is a :class:`goasm.machine.layout.Layout` and everything that decodes g, m and
stacks for ``.s`` programs works on real binaries with their own offsets -- no
``go_asm.h`` and no Go toolchain needed.

Reading the runtime unit with pyelftools takes about two seconds, so layouts are cached
by the binary's sha256 in ``dwarf/`` under goasm's cache folder (:func:`goasm.cache.
cache_root`), as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os

from goasm.errors import GoasmError
from goasm.machine.layout import (_CONST_FALLBACKS, MODELLED_CONSTS, MODELLED_FIELDS, Layout,
                                  Struct)

STRUCTS = ("g", "m", "gobuf", "stack", "funcval")
"""The runtime structs read (``runtime.<name>``)."""

FORMAT = 1

_UNTYPED_FALLBACKS = {
    # runtime/stack.go: uintptrMask & -1314 and & -1234, the same in every release; the
    # compiler emits no DWARF for these uintptr-typed constants.
    "stackPreempt": 0xFFFFFFFFFFFFFADE,
    "stackFork": 0xFFFFFFFFFFFFFB2E,
}


class DwarfError(GoasmError):
    """The binary has no DWARF, or its runtime unit lacks a struct goasm needs."""


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_runtime_types(path: str) -> dict:
    """``{"structs": {name: [size, {field: offset}]}, "consts": {name: value}}`` from the
    ``runtime`` compile unit of the ELF at ``path`` (see the module docstring)."""
    from elftools.elf.elffile import ELFFile

    want = {f"runtime.{n}": n for n in STRUCTS}
    structs: dict = {}
    consts: dict = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info():
            raise DwarfError(f"{path}: no DWARF (linked with -w?)")
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            top = cu.get_top_DIE()
            name = top.attributes.get("DW_AT_name")
            if name is None or name.value != b"runtime":
                continue
            for die in top.iter_children():
                attrs = die.attributes
                if die.tag == "DW_TAG_structure_type":
                    n = attrs.get("DW_AT_name")
                    short = want.get(n.value.decode()) if n is not None else None
                    if short is None or "DW_AT_byte_size" not in attrs:
                        continue
                    fields = {}
                    for member in die.iter_children():
                        if member.tag != "DW_TAG_member":
                            continue
                        mname = member.attributes.get("DW_AT_name")
                        loc = member.attributes.get("DW_AT_data_member_location")
                        if mname is not None and loc is not None and isinstance(loc.value, int):
                            fields[mname.value.decode()] = loc.value
                    structs[short] = [attrs["DW_AT_byte_size"].value, fields]
                elif die.tag == "DW_TAG_constant":
                    n = attrs.get("DW_AT_name")
                    v = attrs.get("DW_AT_const_value")
                    if n is not None and v is not None and isinstance(v.value, int):
                        consts[n.value.decode().removeprefix("runtime.")] = v.value
    missing = [n for n in STRUCTS if n not in structs]
    if missing:
        raise DwarfError(f"{path}: the DWARF of package runtime lacks "
                         + ", ".join(f"runtime.{n}" for n in missing))
    return {"structs": structs, "consts": consts}


def layout_from_types(types: dict, version: str) -> Layout:
    """A :class:`Layout` from :func:`read_runtime_types` output: every member of the
    structs (the modelled ones must be there, as for ``go_asm.h``), the modelled
    constants under their current or older names, the fixed fallbacks for the rest."""
    structs = {}
    missing = []
    for sname, (size, fields) in types["structs"].items():
        structs[sname] = Struct(sname, size, fields)
        for spec in MODELLED_FIELDS.get(sname, ()):
            if spec.optional or spec.name in fields or any(a in fields for a in spec.aliases):
                continue
            missing.append(f"{sname}.{spec.name}")
    consts = {}
    raw = types["consts"]
    for cname, aliases in MODELLED_CONSTS.items():
        value = next((raw[s] for s in (cname,) + aliases if s in raw), None)
        if value is None:
            value = _CONST_FALLBACKS.get(cname, _UNTYPED_FALLBACKS.get(cname))
        if value is not None:
            consts[cname] = value & ((1 << 64) - 1)
    if "tls" in structs["m"].fields and "mstartfn" in structs["m"].fields:
        size = structs["m"].fields["mstartfn"] - structs["m"].fields["tls"]
        consts["tlsSize"], consts["tlsSlots"] = size, size // 8
    if missing:
        raise DwarfError("the runtime's DWARF lacks " + ", ".join(missing))
    return Layout(version=version, structs=structs, consts=consts)


def runtime_layout(path: str | os.PathLike, version: str = "") -> Layout:
    """The layout of the Go runtime linked into the executable at ``path`` (cached, see
    the module docstring)."""
    from goasm.cache import cache_root, write_atomic

    path = os.fspath(path)
    root = cache_root()
    entry = None
    if root is not None:
        entry = root / "dwarf" / f"{_file_hash(path)}-{FORMAT}.json"
        try:
            types = json.loads(entry.read_text(encoding="utf-8"))
            return layout_from_types(types, version)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    types = read_runtime_types(path)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(entry, json.dumps(types).encode())
        except OSError:
            pass
    return layout_from_types(types, version)

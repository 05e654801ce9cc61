"""Layouts of the Go runtime structures goasm's runtime touches: g, m, gobuf, stack, funcval.

The offsets are those of Go 1.27 for linux/amd64, exactly as the compiler writes them
into ``go_asm.h`` (``go build -work -a runtime`` leaves it in ``$WORK/bNNN/``; the
compiler's ``-asmhdr`` output is the oracle and ``tests/test_runtime_model.py`` checks
every field modelled here against it). Only the fields goasm's own runtime
(``runtime_s/*.s`` and :mod:`goasm.machine.runtime`) reads or writes are modelled, but the
struct sizes are the real ones, so ``runtime·g0`` and ``runtime·m0`` are as large as in a
Go binary.

Source structures (Go 1.27): ``runtime/runtime2.go`` (``type g``, ``type m``, ``type
gobuf``, ``type funcval``), ``runtime/stack.go`` (``type stack`` and the stack
constants ``stackGuard``, ``stackMin``, ``stackNosplit``...), ``internal/abi/stack.go``
(``StackSmall``, ``StackBig``: not in the runtime's go_asm.h, which only lists the
runtime package's own constants).

A :class:`Layout` can also be read from any real ``go_asm.h`` (:meth:`Layout.from_go_asm_h`),
so that a real Go runtime of another version can be run with its own offsets; and
:func:`render_go_asm_h` writes the header that ``runtime_s/*.s`` include
(``python -m goasm.machine.layout`` regenerates ``runtime_s/go_asm.h``).
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import attrs

from goasm.errors import GoasmError


def _frozen_map(value) -> types.MappingProxyType:
    return types.MappingProxyType(dict(value))


@attrs.frozen(hash=False)
class Struct:
    """A Go struct's size and the offsets of its modelled fields (``name -> offset``).

    ``s.off("stackguard0")`` or ``s.stackguard0`` give an offset; ``s.size`` the size
    (``g__size`` in go_asm.h).
    """

    name: str
    size: int
    fields: types.MappingProxyType = attrs.field(converter=_frozen_map)

    def off(self, field: str) -> int:
        try:
            return self.fields[field]
        except KeyError:
            raise GoasmError(f"layout of {self.name} has no field {field!r}") from None

    def has(self, field: str) -> bool:
        return field in self.fields

    def __getattr__(self, field: str) -> int:
        # Only called for names that are not attributes of Struct itself.
        try:
            fields = object.__getattribute__(self, "fields")
        except AttributeError:
            raise AttributeError(field) from None
        if field in fields:
            return fields[field]
        raise AttributeError(f"layout of {self.name} has no field {field!r}")


@attrs.frozen
class FieldSpec:
    """A modelled field: its name in go_asm.h (``<struct>_<field>``) and whether a runtime
    version may lack it (``optional``). ``aliases`` are older spellings."""

    name: str
    optional: bool = False
    aliases: tuple = ()


# The fields goasm models, per struct (order = order in the Go struct).
# Required fields are the ones the bootstrap cannot work without.
MODELLED_FIELDS = types.MappingProxyType({
    "stack": (FieldSpec("lo"), FieldSpec("hi")),
    "gobuf": (
        FieldSpec("sp"), FieldSpec("pc"), FieldSpec("g"), FieldSpec("ctxt"),
        FieldSpec("ret", optional=True),          # gone in Go 1.24+
        FieldSpec("lr", optional=True), FieldSpec("bp"),
    ),
    "funcval": (FieldSpec("fn"),),
    "g": (
        FieldSpec("stack"), FieldSpec("stackguard0"), FieldSpec("stackguard1"),
        FieldSpec("_panic", optional=True), FieldSpec("_defer", optional=True),
        FieldSpec("m"), FieldSpec("sched"),
        FieldSpec("syscallsp", optional=True), FieldSpec("syscallpc", optional=True),
        FieldSpec("syscallbp", optional=True),    # Go 1.23+
        FieldSpec("stktopsp", optional=True), FieldSpec("param", optional=True),
        FieldSpec("atomicstatus"), FieldSpec("goid"),
        FieldSpec("schedlink", optional=True), FieldSpec("preempt", optional=True),
        FieldSpec("lockedm", optional=True), FieldSpec("parentGoid", optional=True),
        FieldSpec("gopc", optional=True), FieldSpec("startpc", optional=True),
    ),
    "m": (
        FieldSpec("g0"), FieldSpec("morebuf"), FieldSpec("procid", optional=True),
        FieldSpec("gsignal"), FieldSpec("tls"), FieldSpec("mstartfn", optional=True),
        FieldSpec("curg"), FieldSpec("p", optional=True), FieldSpec("id", optional=True),
        FieldSpec("locks", optional=True), FieldSpec("alllink", optional=True),
        FieldSpec("schedlink", optional=True), FieldSpec("lockedg", optional=True),
    ),
})

# Constants goasm models: go_asm.h name (without ``const_``) -> older spellings.
# ``stackSmall``/``stackBig`` are internal/abi's StackSmall/StackBig, which the runtime's
# go_asm.h does not list; :meth:`Layout.from_go_asm_h` falls back to their fixed values.
MODELLED_CONSTS = types.MappingProxyType({
    "stackSystem": ("_StackSystem",),
    "stackMin": ("_StackMin",),
    "fixedStack": ("_FixedStack",),
    "stackNosplit": ("_StackLimit",),
    "stackGuard": ("_StackGuard",),
    "stackSmall": (),
    "stackBig": (),
    "stackPreempt": ("_StackPreempt",),
    "stackFork": ("_StackFork",),
    "tlsSlots": (),
    "tlsSize": (),
    "_Gidle": (),
    "_Grunnable": (),
    "_Grunning": (),
    "_Gsyscall": (),
    "_Gwaiting": (),
    "_Gdead": (),
    "_Gcopystack": (),
    "_Gpreempted": (),
})

# Values that hold on every Go release goasm knows (internal/abi/stack.go, runtime2.go).
_CONST_FALLBACKS = types.MappingProxyType({
    "stackSmall": 128,
    "stackBig": 4096,
    "tlsSlots": 6,
    "tlsSize": 48,
    "stackSystem": 0,
})

_GO_1_27_STRUCTS = (
    # name, size, {field: offset}   -- from Go 1.27.3's runtime go_asm.h (linux/amd64)
    ("stack", 16, types.MappingProxyType({"lo": 0, "hi": 8})),
    ("gobuf", 48, types.MappingProxyType({"sp": 0, "pc": 8, "g": 16, "ctxt": 24, "lr": 32,
                                         "bp": 40})),
    ("funcval", 8, types.MappingProxyType({"fn": 0})),
    ("g", 456, types.MappingProxyType({
        "stack": 0, "stackguard0": 16, "stackguard1": 24, "_panic": 32, "_defer": 40,
        "m": 48, "sched": 56, "syscallsp": 104, "syscallpc": 112, "syscallbp": 120,
        "stktopsp": 128, "param": 136, "atomicstatus": 144, "goid": 152, "schedlink": 160,
        "preempt": 177, "lockedm": 208, "parentGoid": 280, "gopc": 288, "startpc": 304,
    })),
    ("m", 1832, types.MappingProxyType({
        "g0": 0, "morebuf": 8, "procid": 64, "gsignal": 72, "tls": 128, "mstartfn": 176,
        "curg": 184, "p": 208, "id": 232, "locks": 264, "alllink": 352, "schedlink": 360,
        "lockedg": 384,
    })),
)

_GO_1_27_CONSTS = types.MappingProxyType({
    "stackSystem": 0,
    "stackMin": 2048,
    "fixedStack": 2048,
    "stackNosplit": 800,
    "stackGuard": 928,
    "stackSmall": 128,
    "stackBig": 4096,
    "stackPreempt": 0xFFFFFFFFFFFFFADE,
    "stackFork": 0xFFFFFFFFFFFFFB2E,
    "tlsSlots": 6,
    "tlsSize": 48,
    "_Gidle": 0,
    "_Grunnable": 1,
    "_Grunning": 2,
    "_Gsyscall": 3,
    "_Gwaiting": 4,
    "_Gdead": 6,
    "_Gcopystack": 8,
    "_Gpreempted": 9,
})

_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.*?)[ \t]*$", re.M)


def _int_value(text: str) -> int | None:
    text = text.strip()
    if text in ("true", "false"):
        return int(text == "true")
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_go_asm_h(text: str) -> dict[str, str]:
    """Every ``#define NAME VALUE`` of a go_asm.h, as written (later definitions win)."""
    return {m.group(1): m.group(2) for m in _DEFINE.finditer(text)}


@attrs.frozen(hash=False)
class Layout:
    """The struct layouts and constants of one Go runtime version.

    ``structs``: struct name -> :class:`Struct` (``g``, ``m``, ``gobuf``, ``stack``,
    ``funcval``); ``consts``: constant name as in go_asm.h without ``const_``
    (``stackGuard``) -> value; ``raw``: every define of the go_asm.h it was read from
    (empty for the built-in layout).
    """

    version: str
    structs: types.MappingProxyType = attrs.field(converter=_frozen_map)
    consts: types.MappingProxyType = attrs.field(converter=_frozen_map)
    raw: types.MappingProxyType = attrs.field(converter=_frozen_map, factory=dict)

    # -- convenience
    @property
    def g(self) -> Struct:
        return self.structs["g"]

    @property
    def m(self) -> Struct:
        return self.structs["m"]

    @property
    def gobuf(self) -> Struct:
        return self.structs["gobuf"]

    @property
    def stack(self) -> Struct:
        return self.structs["stack"]

    @property
    def funcval(self) -> Struct:
        return self.structs["funcval"]

    def const(self, name: str) -> int:
        try:
            return self.consts[name]
        except KeyError:
            raise GoasmError(f"layout {self.version} has no constant {name!r}") from None

    @property
    def stack_guard(self) -> int:
        """``stackGuard`` (runtime/stack.go): how far above stack.lo stackguard0 sits."""
        return self.consts["stackGuard"]

    @property
    def stack_small(self) -> int:
        """``abi.StackSmall``: frames up to this size compare SP itself with the guard."""
        return self.consts["stackSmall"]

    @property
    def tls_slots(self) -> int:
        return self.consts["tlsSlots"]

    # g.sched and m.morebuf are gobufs; these give absolute offsets of their fields.
    def g_sched(self, field: str) -> int:
        """Offset of ``g.sched.<field>`` (``g_sched+gobuf_<field>`` in assembly)."""
        return self.g.sched + self.gobuf.off(field)

    def g_stack(self, field: str) -> int:
        """Offset of ``g.stack.<field>`` (``g_stack+stack_<field>``)."""
        return self.g.stack + self.stack.off(field)

    def m_morebuf(self, field: str) -> int:
        return self.m.morebuf + self.gobuf.off(field)

    # -- reading a real header
    @classmethod
    def from_go_asm_h(cls, text: str, *, version: str = "") -> Layout:
        """Build a layout from the text of a runtime ``go_asm.h`` (any Go version).

        Every modelled field must be present unless marked optional (``gobuf_ret`` exists
        only before Go 1.24, ``g_syscallbp`` only from 1.23...); constants fall back to
        older spellings (``const__StackGuard``) and to values fixed across releases
        (``StackSmall`` = 128). Raises :class:`GoasmError` naming what is missing.
        """
        raw = parse_go_asm_h(text)
        if not version:
            m = re.search(r"go\d+\.\d+(?:\.\d+)?", text[:400])
            version = m.group(0) if m else "go_asm.h"
        missing = []
        structs = {}
        for sname, specs in MODELLED_FIELDS.items():
            size = _int_value(raw.get(f"{sname}__size", ""))
            if size is None:
                missing.append(f"{sname}__size")
                continue
            fields = {}
            for spec in specs:
                value = None
                for spelling in (spec.name,) + spec.aliases:
                    value = _int_value(raw.get(f"{sname}_{spelling}", ""))
                    if value is not None:
                        break
                if value is None:
                    if not spec.optional:
                        missing.append(f"{sname}_{spec.name}")
                    continue
                fields[spec.name] = value
            structs[sname] = Struct(sname, size, fields)
        consts = {}
        for cname, aliases in MODELLED_CONSTS.items():
            value = None
            for spelling in (cname,) + aliases:
                value = _int_value(raw.get(f"const_{spelling}", ""))
                if value is not None:
                    break
            if value is None:
                value = _CONST_FALLBACKS.get(cname)
            if value is None:
                if cname.startswith("_G"):
                    continue
                missing.append(f"const_{cname}")
                continue
            consts[cname] = value & ((1 << 64) - 1)
        if missing:
            raise GoasmError("go_asm.h lacks " + ", ".join(missing))
        return cls(version=version, structs=structs, consts=consts, raw=raw)


def go_1_27() -> Layout:
    """The built-in layout: Go 1.27 linux/amd64 (the one ``runtime_s/go_asm.h`` is made from)."""
    return Layout(
        version="go1.27",
        structs={name: Struct(name, size, fields) for name, size, fields in _GO_1_27_STRUCTS},
        consts=_GO_1_27_CONSTS,
    )


def default_layout() -> Layout:
    """The layout goasm's own runtime uses (:func:`go_1_27`)."""
    return go_1_27()


def render_go_asm_h(layout: Layout) -> str:
    """The ``go_asm.h`` text for ``layout``: ``#define <struct>__size``, ``<struct>_<field>``
    and ``const_<name>`` lines in the order and format the Go compiler's ``-asmhdr``
    writes them, preceded by a note that it is generated."""
    out = [
        f"// Code generated by goasm.machine.layout from the {layout.version} layout. DO NOT EDIT.",
        "// Regenerate with: python -m goasm.machine.layout",
        "//",
        "// Offsets of the runtime structures goasm's runtime_s/*.s use; they equal the",
        "// go_asm.h the Go compiler writes for package runtime (compile -asmhdr).",
        "",
    ]
    for sname in MODELLED_FIELDS:
        s = layout.structs.get(sname)
        if s is None:
            continue
        out.append(f"#define {sname}__size {s.size}")
        for spec in MODELLED_FIELDS[sname]:
            if spec.name in s.fields:
                out.append(f"#define {sname}_{spec.name} {s.fields[spec.name]}")
    out.append("")
    for cname in MODELLED_CONSTS:
        if cname in layout.consts:
            out.append(f"#define const_{cname} {layout.consts[cname]}")
    return "\n".join(out) + "\n"


def go_asm_h_path() -> Path:
    """Where the committed header lives (``runtime_s/go_asm.h``)."""
    from goasm.resources import runtime_dir

    return runtime_dir() / "go_asm.h"


def write_go_asm_h(path: str | Path | None = None, layout: Layout | None = None) -> Path:
    """Write :func:`render_go_asm_h` of ``layout`` (default: the built-in one) to ``path``
    (default: ``runtime_s/go_asm.h``); returns the path."""
    target = Path(path) if path is not None else go_asm_h_path()
    target.write_text(render_go_asm_h(layout or default_layout()), encoding="utf-8")
    return target


if __name__ == "__main__":  # pragma: no cover - a maintenance script
    write_go_asm_h()

"""Values the debugger shows: numbers, the runtime's structs (g, m, gobuf, stack) and
their fields, decoded with the layout of the running runtime.

Field types follow runtime/runtime2.go and runtime/stack.go; offsets come from the
layout (:mod:`goasm.machine.layout`, the ``go_asm.h`` of the runtime in use). ``*g``
fields are dereferenced by a further field access, as delve does.
"""

from __future__ import annotations

import re
import types

import attrs

from goasm.debug.errors import CommandError

M64 = (1 << 64) - 1

STRUCT_FIELDS = types.MappingProxyType({
    "stack": types.MappingProxyType({"lo": "uintptr", "hi": "uintptr"}),
    "gobuf": types.MappingProxyType({
        "sp": "uintptr", "pc": "uintptr", "g": "*g", "ctxt": "uintptr", "ret": "uintptr",
        "lr": "uintptr", "bp": "uintptr"}),
    "funcval": types.MappingProxyType({"fn": "uintptr"}),
    "g": types.MappingProxyType({
        "stack": "stack", "stackguard0": "uintptr", "stackguard1": "uintptr",
        "_panic": "uintptr", "_defer": "uintptr", "m": "*m", "sched": "gobuf",
        "syscallsp": "uintptr", "syscallpc": "uintptr", "syscallbp": "uintptr",
        "stktopsp": "uintptr", "param": "uintptr", "atomicstatus": "uint32",
        "goid": "uint64", "schedlink": "*g", "preempt": "bool", "lockedm": "*m",
        "parentGoid": "uint64", "gopc": "uintptr", "startpc": "uintptr"}),
    "m": types.MappingProxyType({
        "g0": "*g", "morebuf": "gobuf", "procid": "uint64", "gsignal": "*g",
        "tls": "[tls]uintptr", "mstartfn": "uintptr", "curg": "*g", "p": "uintptr",
        "id": "int64", "locks": "int32", "alllink": "*m", "schedlink": "*m",
        "lockedg": "*g"}),
})

SCALARS = types.MappingProxyType({
    "uintptr": (8, False), "uint64": (8, False), "int64": (8, True), "int": (8, True),
    "uint": (8, False), "uint32": (4, False), "int32": (4, True), "uint16": (2, False),
    "int16": (2, True), "uint8": (1, False), "int8": (1, True), "byte": (1, False),
    "bool": (1, False), "unsafe.Pointer": (8, False),
})

_BY_SIZE = types.MappingProxyType({1: "uint8", 2: "uint16", 4: "uint32", 8: "uintptr"})

_DECIMAL_FIELDS = frozenset({"goid", "atomicstatus", "id", "locks", "parentGoid", "procid",
                             "preempt"})


@attrs.frozen
class Value:
    """An evaluated expression: ``typ`` is ``int``, a scalar type, a struct (``g``,
    ``m``, ``gobuf``, ``stack``), a pointer (``*g``), an array (``[tls]uintptr``) or
    ``bytes`` (a vector register or a wide memory operand); ``value`` the number, or the
    address of a struct or array; ``addr`` where it lives, if in memory; ``size`` its
    size in bytes when that is not implied by the type."""

    typ: str
    value: int
    addr: int | None = None
    size: int | None = None

    @property
    def is_aggregate(self) -> bool:
        return self.typ in STRUCT_FIELDS or self.typ.startswith("[")

    @property
    def nbytes(self) -> int:
        """The bytes the value occupies in memory (what ``set`` writes, ``watch`` watches)."""
        if self.size is not None:
            return self.size
        if self.typ.startswith("*"):
            return 8
        return SCALARS.get(self.typ, (8, False))[0]


def scalar_type(size: int, go_type: str = "") -> str:
    """The type a variable of ``size`` bytes is shown as (its Go type when scalar)."""
    if go_type in SCALARS and SCALARS[go_type][0] == size:
        return go_type
    return _BY_SIZE.get(size, "bytes")


def binop(op: str, a: int, b: int) -> int:
    """Go's binary operators on unsigned 64-bit words (the Go spec, "Arithmetic
    operators", "Comparison operators")."""
    if op in ("/", "%") and b == 0:
        raise CommandError("division by zero")
    if op in ("<<", ">>") and b > 127:
        raise CommandError("shift count too large")
    res = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
        "%": lambda: a % b, "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
        "|": lambda: a | b, "^": lambda: a ^ b, "&^": lambda: a & ~b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
        "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
    }[op]()
    return res & M64


class ValueModel:
    """Field access and formatting of :class:`Value` over one process.

    ``read(addr, size)`` reads an unsigned little-endian integer (raising
    :class:`CommandError` when unmapped), ``mapped(addr, size)`` tests memory,
    ``symbolize(value)`` gives `` <sym+off>`` or "", ``layout()`` the runtime layout.
    """

    def __init__(self, read, mapped, symbolize, layout) -> None:
        self.read = read
        self.mapped = mapped
        self.symbolize = symbolize
        self.layout = layout

    # ------------------------------------------------------------------ access

    def number(self, v: Value) -> int:
        if v.is_aggregate:
            raise CommandError(f"{v.typ} is a struct, not a number (use & for its address)")
        return v.value

    def deref(self, v: Value) -> Value:
        typ = v.typ[1:]
        if not v.value:
            raise CommandError(f"nil *{typ}")
        if not self.mapped(v.value, self.layout().structs[typ].size):
            raise CommandError(f"*{typ} {v.value:#x} is not in mapped memory")
        return Value(typ, v.value, v.value)

    def field(self, v: Value, name: str) -> Value:
        if v.typ.startswith("*"):
            v = self.deref(v)
        fields = STRUCT_FIELDS.get(v.typ)
        if fields is None:
            raise CommandError(f"a value of type {v.typ} has no fields (.{name})")
        struct = self.layout().structs[v.typ]
        if name not in fields or not struct.has(name):
            known = ", ".join(f for f in fields if struct.has(f))
            raise CommandError(f"runtime.{v.typ} has no field {name!r} (fields: {known})")
        return self.at(fields[name], v.value + struct.off(name))

    def at(self, typ: str, addr: int) -> Value:
        """The value of type ``typ`` stored at ``addr``."""
        if typ in STRUCT_FIELDS or typ.startswith("["):
            return Value(typ, addr, addr)
        if typ.startswith("*"):
            return Value(typ, self.read(addr, 8), addr)
        size, signed = SCALARS[typ]
        raw = self.read(addr, size)
        if signed and raw >> (size * 8 - 1):
            raw -= 1 << (size * 8)
        return Value(typ, raw & M64, addr)

    def _array(self, v: Value) -> tuple:
        m = re.fullmatch(r"\[(\w+)\](\w+)", v.typ)
        n = self.layout().tls_slots if m.group(1) == "tls" else int(m.group(1))
        return n, m.group(2)

    def index(self, v: Value, idx: int) -> Value:
        if not v.typ.startswith("["):
            raise CommandError(f"cannot index a value of type {v.typ}")
        n, elem = self._array(v)
        if not 0 <= idx < n:
            raise CommandError(f"index {idx} out of range [0, {n})")
        return self.at(elem, v.value + idx * SCALARS[elem][0])

    def children(self, v: Value) -> list:
        """[(name, Value)] of a struct (in memory order), an array or a pointer's target."""
        if v.typ.startswith("*"):
            return self.children(self.deref(v))
        if v.typ.startswith("["):
            n, _ = self._array(v)
            return [(f"[{i}]", self.index(v, i)) for i in range(n)]
        fields = STRUCT_FIELDS.get(v.typ)
        if fields is None:
            return []
        struct = self.layout().structs[v.typ]
        return [(name, self.field(v, name))
                for name in sorted((f for f in fields if struct.has(f)), key=struct.off)]

    # ------------------------------------------------------------------ text

    def status_name(self, status: int) -> str:
        for name, value in self.layout().consts.items():
            if name.startswith("_G") and value == status:
                return name[2:].lower()
        return f"status {status}"

    def format(self, v: Value) -> str:
        """How ``print`` shows a value (structs on several lines)."""
        if v.typ in STRUCT_FIELDS:
            lines = [self.summary(v) + " {"]
            lines += [f"    {name}: {text}" for name, text in self._field_texts(v)]
            return "\n".join(lines + ["}"])
        if v.typ.startswith("["):
            return self._array_text(v)
        if v.typ.startswith("*"):
            return f"(*runtime.{v.typ[1:]}) {v.value:#x}{self.symbolize(v.value)}"
        if v.typ == "bytes":
            return f"{v.value:#0{2 * v.nbytes + 2}x}"
        x = v.value & M64
        text = f"{x:#x} ({x}"
        if x >> 63:
            text += f", {x - (1 << 64)}"
        return text + ")" + self.symbolize(x)

    def summary(self, v: Value) -> str:
        """One line: a struct's type and address, otherwise :meth:`format`."""
        if v.typ in STRUCT_FIELDS:
            return f"runtime.{v.typ} @ {v.value:#x}{self.symbolize(v.value)}"
        return self.format(v)

    def field_text(self, name: str, v: Value) -> str:
        """A field's value as structs show it (decimal for counters, ids, statuses)."""
        if v.typ in STRUCT_FIELDS:
            return "{" + ", ".join(f"{k}: {t}" for k, t in self._field_texts(v)) + "}"
        if v.typ.startswith("["):
            return self._array_text(v)
        if name == "atomicstatus":
            return f"{v.value} ({self.status_name(v.value)})"
        if name in _DECIMAL_FIELDS:
            return str(v.value if v.value < 1 << 63 else v.value - (1 << 64))
        return f"{v.value:#x}{self.symbolize(v.value)}"

    def _field_texts(self, v: Value) -> list:
        return [(name, self.field_text(name, fv)) for name, fv in self.children(v)]

    def _array_text(self, v: Value) -> str:
        return "[" + ", ".join(f"{x.value:#x}" for _, x in self.children(v)) + "]"

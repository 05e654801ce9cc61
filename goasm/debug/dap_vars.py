"""DAP scopes and variables: what a stopped frame shows in the editor's Variables view.

Scopes of a frame: *Registers* (the general registers, FLAGS with its bits, the FS and
GS bases, and the vector registers at the CPU's full width with their 64-bit lanes),
*Arguments* and *Locals* (named from the Go declaration or the operands:
:mod:`goasm.debug.variables`) and *Runtime* (``g``, ``m``, ``g0``, ``m0`` decoded with
the runtime's layout, expandable field by field). Containers get a
``variablesReference`` that lives until the program runs again (the DAP specification,
"Lifetime of Objects References").
"""

from __future__ import annotations

from goasm.debug.errors import CommandError
from goasm.debug.registers import flag_names, vector_lanes
from goasm.debug.values import scalar_type

RUNTIME_ROOTS = ("g", "m", "g0", "m0")


class VariableStore:
    """``variablesReference`` handles over one session (reset at every stop)."""

    def __init__(self, session) -> None:
        self.s = session
        self._refs: dict = {}

    def reset(self) -> None:
        self._refs.clear()

    def ref(self, container) -> int:
        n = len(self._refs) + 1
        self._refs[n] = container
        return n

    def get(self, ref: int):
        if ref not in self._refs:
            raise CommandError(f"no variables {ref} (the program ran since)")
        return self._refs[ref]

    # ------------------------------------------------------------------ scopes

    def scopes(self, frame) -> list:
        return [{"name": name, "presentationHint": name.lower(), "expensive": False,
                 "variablesReference": self.ref((name.lower(), frame))}
                for name in ("Registers", "Arguments", "Locals", "Runtime")]

    def variables(self, ref: int) -> list:
        kind, *rest = self.get(ref)
        return getattr(self, "_vars_" + kind)(*rest)

    # ------------------------------------------------------------------ one variable

    def value_var(self, name: str, v, text: str | None = None, evaluate: str = "") -> dict:
        """A variable for :class:`goasm.debug.values.Value` ``v`` (expandable when it is a
        struct, an array or a non-nil pointer)."""
        values = self.s.values
        out = {"name": name, "value": text if text is not None else values.summary(v),
               "type": v.typ, "variablesReference": 0}
        if v.is_aggregate or (v.typ.startswith("*") and v.value):
            out["variablesReference"] = self.ref(("value", v))
        if v.addr is not None:
            out["memoryReference"] = f"{v.addr:#x}"
        if evaluate:
            out["evaluateName"] = evaluate
        return out

    def _reg(self, name: str, value: int, note: str = "", ref: int = 0) -> dict:
        return {"name": name, "value": f"{value:#x}{note}", "type": "register",
                "evaluateName": name, "variablesReference": ref}

    # ------------------------------------------------------------------ containers

    def _vars_registers(self, frame) -> list:
        s = self.s
        if frame.index or not frame.live:
            out = [self._reg("PC", frame.pc, s.locations.symbolize(frame.pc)),
                   self._reg("SP", frame.sp)]
            if frame.cfa is not None:
                out.append({"name": "CFA", "value": f"{frame.cfa:#x}", "type": "address",
                            "variablesReference": 0, "evaluateName": "FP"})
            return out
        out = []
        for name, v in s.registers.general().items():
            if name == "FLAGS":
                out.append(self._reg(name, v, "  [" + " ".join(flag_names(v)) + "]",
                                     self.ref(("flags", v))))
            elif name == "FS":
                out.append(self._reg("FS", v, "  (FS base: TLS)" if v else ""))
            elif name == "GS":
                out.append(self._reg("GS", v, "  (GS base)" if v else ""))
            else:
                out.append(self._reg(name, v, s.locations.symbolize(v)))
        vectors = s.registers.vectors()
        out.append({"name": "Vector registers", "value": f"{len(vectors)} registers",
                    "variablesReference": self.ref(("vectors",))})
        return out

    def _vars_flags(self, rflags: int) -> list:
        from goasm.debug.registers import FLAG_BITS

        return [{"name": f, "value": str(rflags >> bit & 1), "variablesReference": 0}
                for f, bit in FLAG_BITS]

    def _vars_vectors(self) -> list:
        out = []
        for name, bits, v in self.s.registers.vectors():
            ref = self.ref(("lanes", bits, v)) if bits > 64 else 0
            out.append({"name": name, "value": f"{v:#0{bits // 4 + 2}x}",
                        "type": f"{bits}-bit register", "evaluateName": name,
                        "variablesReference": ref})
        return out

    def _vars_lanes(self, bits: int, value: int) -> list:
        return [{"name": f"[{i}]", "value": f"{lane:#018x}", "type": "uint64",
                 "variablesReference": 0}
                for i, lane in enumerate(vector_lanes(value, bits))]

    def _frame_vars(self, frame, kinds) -> list:
        scope = self.s.scope(frame)
        args, locs = scope.variables()
        out = []
        for var in args + locs:
            if var.kind not in kinds:
                continue
            try:
                v = scope.variable_value(var)
                item = self.value_var(var.name, v, self.s.values.format(v), var.written)
            except CommandError as err:
                item = {"name": var.name, "value": f"<{err}>", "variablesReference": 0,
                        "evaluateName": var.written}
            item["type"] = var.typ or scalar_type(var.size)
            out.append(item)
        return out

    def _vars_arguments(self, frame) -> list:
        return self._frame_vars(frame, ("arg", "result"))

    def _vars_locals(self, frame) -> list:
        return self._frame_vars(frame, ("local",))

    def _vars_runtime(self, frame) -> list:
        scope = self.s.scope(frame)
        out = []
        for name in RUNTIME_ROOTS:
            try:
                out.append(self.value_var(name, scope.root(name), evaluate=name))
            except CommandError as err:
                out.append({"name": name, "value": f"<{err}>", "variablesReference": 0})
        return out

    def _vars_value(self, v) -> list:
        values = self.s.values
        return [self.value_var(name, child, values.field_text(name, child))
                for name, child in values.children(v)]

    # ------------------------------------------------------------------ setVariable

    def set(self, ref: int, name: str, text: str) -> dict:
        """DAP ``setVariable``: a register, a frame variable or a struct field."""
        s = self.s
        kind, *rest = self.get(ref)
        if kind in ("registers", "vectors"):
            frame = rest[0] if rest else None
            s.assign(name, text, frame)
            return {"value": f"{s.evaluate_number(name, frame):#x}"}
        if kind in ("arguments", "locals"):
            frame = rest[0]
            args, locs = s.scope(frame).variables()
            var = next((v for v in args + locs if v.name == name), None)
            if var is None:
                raise CommandError(f"no variable {name}")
            s.assign(var.written, text, frame)
            return {"value": s.values.format(s.evaluate(var.written, frame))}
        if kind == "value":
            child = dict(s.values.children(rest[0])).get(name)
            if child is None:
                raise CommandError(f"no field {name}")
            s.store(child, s.evaluate_number(text), name)
            return {"value": s.values.field_text(name, s.values.at(child.typ, child.addr))}
        raise CommandError(f"{name} cannot be set here")

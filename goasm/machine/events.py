"""Runtime and kernel events (TLS base set, goroutine created, stack growth, syscalls...).

Every event is a frozen ``attrs`` class deriving from :class:`Event`: a ``kind`` string,
a ``step`` (the machine's step count when it happened), its own fields, a sentence for
``--trace`` (``__str__``) and :meth:`Event.to_json` for ``--state-json``, the debugger
and tests. ``json_extra`` names derived properties that belong in the JSON too.
"""

from __future__ import annotations

import attrs


class Event:
    """Mixin for event classes (see the module docstring)."""

    kind = "event"
    json_extra: tuple = ()

    def to_json(self) -> dict:
        out = {"kind": self.kind}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        for name in self.json_extra:
            out[name] = getattr(self, name)
        return out

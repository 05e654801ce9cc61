"""goasm's debugger: step through a program and Go's start-up, forwards and backwards.

One session API, two front ends:

- :mod:`goasm.debug.session` -- the process, its history (reverse execution),
  breakpoints and watchpoints, and the commands both front ends are built from;
  with :mod:`~goasm.debug.history`, :mod:`~goasm.debug.streams`,
  :mod:`~goasm.debug.breakpoints`, :mod:`~goasm.debug.locations`,
  :mod:`~goasm.debug.frames`, :mod:`~goasm.debug.variables`,
  :mod:`~goasm.debug.goroutines` and :mod:`~goasm.debug.registers`;
- :mod:`goasm.debug.expr` -- the expression language (with :mod:`~goasm.debug.values`
  and :mod:`~goasm.debug.scope`);
- :mod:`goasm.debug.cli` -- ``goasm debug``, delve's commands in a terminal
  (:mod:`~goasm.debug.commands`, :mod:`~goasm.debug.cli_inspect`,
  :mod:`~goasm.debug.stackmap`);
- :mod:`goasm.debug.dap` -- ``goasm dap``, the Debug Adapter Protocol over stdio for
  VS Code and other editors (:mod:`~goasm.debug.dap_wire`, :mod:`~goasm.debug.dap_vars`).
"""

import importlib

_EXPORTS = {"CommandError": "errors", "Debugger": "cli", "Session": "session",
            "Stop": "session", "add_arguments": "options", "main": "cli",
            "sp_deltas": "frames"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """The package's names, imported when first used (``goasm`` itself only needs
    :mod:`goasm.debug.options` to build its command line)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'goasm.debug' has no attribute {name!r}")
    return getattr(importlib.import_module(f"goasm.debug.{_EXPORTS[name]}"), name)

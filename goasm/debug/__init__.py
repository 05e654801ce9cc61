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

from goasm.debug.cli import Debugger, add_arguments, main
from goasm.debug.errors import CommandError
from goasm.debug.frames import sp_deltas
from goasm.debug.session import Session, Stop

__all__ = ["CommandError", "Debugger", "Session", "Stop", "add_arguments", "main",
           "sp_deltas"]

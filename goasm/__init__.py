"""goasm: run Go's Plan 9-syntax amd64 assembly in Python.

Front end::

    import goasm
    prog = goasm.parse_file("add_amd64.s")      # -> goasm.ir.Program, nodes carry .pos
    print(prog)                                 # canonical Plan 9 text

Running and the testing toolkit live in :mod:`goasm.api` (re-exported here).
"""

from goasm.errors import (GoasmError, LimitError, LinkError, MachineFault, ParseError, Pos,
                          PreprocessError, UnimplementedError)
from goasm.parse import parse_file, parse_lines, parse_source
from goasm.preprocess import Limits

__version__ = "0.1.0"

__all__ = [
    "GoasmError", "LimitError", "LinkError", "MachineFault", "ParseError", "Pos",
    "PreprocessError", "UnimplementedError", "parse_file", "parse_lines", "parse_source", "Limits",
    "__version__",
]

"""goasm: run Go's Plan 9-syntax amd64 assembly in Python.

Front end::

    import goasm
    prog = goasm.parse_file("add_amd64.s")      # -> goasm.ir.Program, nodes carry .pos
    print(prog)                                 # canonical Plan 9 text

Running and the testing toolkit: ``goasm.load(files)`` gives an image (:mod:`goasm.api`),
``goasm.load_package(dir_or_import_path)`` one of Go packages (:mod:`goasm.packages`),
``goasm.Machine(image).call("add", 1, 2)`` calls an assembly function as Go would
(:mod:`goasm.calls`, checked by :mod:`goasm.checker`); :mod:`goasm.strategies` has
hypothesis strategies, :mod:`goasm.pytest_plugin` a pytest fixture.
"""

from goasm.errors import (GoasmError, LimitError, LinkError, MachineFault, ParseError, Pos,
                          PreprocessError, UnimplementedError)
from goasm.parse import parse_file, parse_lines, parse_source
from goasm.preprocess import Limits

__version__ = "0.1.0"

__all__ = [
    "GoasmError", "LimitError", "LinkError", "MachineFault", "ParseError", "Pos",
    "PreprocessError", "UnimplementedError", "parse_file", "parse_lines", "parse_source", "Limits",
    "__version__", "load", "load_package", "Machine", "Ref", "Slice", "CheckError",
]

# The run and testing API is imported on first use, so that ``import goasm`` stays as
# light as the front end: goasm.load (goasm.api), goasm.Machine/Ref/Slice
# (goasm.calls), goasm.CheckError (goasm.checker).
_LAZY = {"load": "goasm.api", "load_package": "goasm.api", "Machine": "goasm.calls",
         "Ref": "goasm.calls",
         "Slice": "goasm.calls", "CheckError": "goasm.checker"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'goasm' has no attribute {name!r}")

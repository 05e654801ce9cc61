"""The command-line options of ``goasm debug`` and ``goasm dap`` (for the ``goasm``
command's subparsers; importing this loads nothing else of the debugger)."""

from __future__ import annotations

import argparse

from goasm.machine.state import PRESETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``goasm debug``."""
    p.add_argument("files", nargs="+", metavar="FILE.s")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="search DIR for #include files")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VAL]",
                   help="predefine a preprocessor macro")
    p.add_argument("--init", metavar="FILE", help="run the debugger commands in FILE first")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="add K=V to the program's environment")
    p.add_argument("--cpu", choices=tuple(PRESETS), default="intel")
    p.add_argument("--goroot", metavar="DIR|auto",
                   help="run that Go release's own runtime assembly instead of goasm's")


def add_dap_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``goasm dap``."""
    p.add_argument("--log", metavar="FILE", help="write every message to FILE")

"""The ``goasm`` command line.

``goasm parse``  print the IR of a file (text or ``--json``);
``goasm run``    run a program through the Go-style start-up;
``goasm expand`` print functions as the loader will execute them (``go tool asm -S`` style);
``goasm debug``  step through a program like delve (goasm.debug);
``goasm dap``    the same debugger for editors: the Debug Adapter Protocol over stdio;
``goasm disasm`` machine code (``--hex``, an ELF object or executable) in Go syntax.

Exit status of ``goasm run`` (documented in the README and in ``goasm run --help``):

====  ==========================================================
0-255 the emulated program's own exit status
1     goasm could not load the program (bad command line, preprocess, parse or link
      error, a front-end limit such as macro expansion)
2     the program crashed (fault, trap), like a real Go program
124   a resource limit was hit while running (``--max-steps``, ``--memory-limit``)
125   the program needs something goasm does not implement
      (an instruction, a syscall, a Go runtime function)
141   the output pipe was closed (the reader went away), as SIGPIPE ends other tools
====  ==========================================================

Every message goasm itself writes starts with ``goasm:``; control characters from the
input are escaped. Only this module prints or exits.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback

from goasm.machine.memory import DEFAULT_LIMIT
from goasm.machine.state import DEFAULT_PRESET, PRESETS
from goasm.errors import (GoasmError, LimitError, LoadError, MachineFault, UnimplementedError,
                          escape)

EXIT_LOAD = 1
EXIT_FAULT = 2
EXIT_LIMIT = 124
EXIT_UNIMPLEMENTED = 125
EXIT_PIPE = 141          # 128 + SIGPIPE, what a shell reports for a tool SIGPIPE ended
EXIT_INTERNAL = 70       # EX_SOFTWARE: a bug in goasm itself

_EXIT_TABLE = """\
exit status:
  0-255  the program's own exit status
  1      the program cannot be loaded (bad command line, preprocess, parse or link
         error, or a front-end limit such as runaway macro expansion)
  2      the program crashed: a Go-style crash report (signal, PC, symbol+offset,
         source line) is printed
  124    a limit was hit while running (--max-steps, --memory-limit)
  125    the program needs something goasm does not implement (it is named)
  141    the output pipe was closed
"""

_RUN_EPILOG = _EXIT_TABLE + f"""
limits:
  --max-steps   none by default: a program that never exits runs until interrupted
  --memory-limit {DEFAULT_LIMIT >> 30} GiB by default, counting the pages the program touches
                (mapping memory, a large GLOBL or mmap, costs nothing until touched)
  source        expressions nested up to 10000 deep; macro expansions, include depth
                and expanded line length are bounded (goasm.preprocess.Limits)

arguments after `--` are the program's own (argv[1:]), e.g.
  goasm run prog.s -- -v input.txt
"""

_SIZE = re.compile(r"(?i)\s*(\d+)\s*(k|m|g|t)?(?:i?b)?\s*")


def _size(text: str) -> int:
    """A byte count for --memory-limit: ``N``, ``NK``, ``NM``, ``NG``, ``NT`` (powers of
    1024; ``KiB``/``KB`` and the like are accepted too)."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 512M or 8G)")
    value = int(m.group(1)) << {None: 0, "k": 10, "m": 20, "g": 30, "t": 40}[
        (m.group(2) or "").lower() or None]
    if value < 4096:
        raise argparse.ArgumentTypeError(f"--memory-limit {text}: at least one 4 KiB page")
    return value


class _UsageError(Exception):
    """A bad command line (argparse's message)."""


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is goasm's exit status 1 and a ``goasm:`` message."""

    def error(self, message):
        raise _UsageError(f"{message}\n{self.format_usage().rstrip()}")


def _add_front_end_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="search DIR for #include files (after the including file's folder)")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VAL]",
                   help="predefine a preprocessor macro (like go tool asm -D)")


def _parser() -> argparse.ArgumentParser:
    top = _ArgumentParser(prog="goasm", description="Run Go's Plan 9 amd64 assembly.",
                          epilog=_EXIT_TABLE.replace("exit status:", "exit status (goasm run):"),
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version="goasm 0.1.0")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a .s file and print its IR")
    p.add_argument("file")
    _add_front_end_options(p)
    p.add_argument("--json", action="store_true", help="print the IR as JSON with positions")

    r = sub.add_parser("run", help="run a program through goasm's Go-style start-up",
                       usage="goasm run FILE.s... [options] [-- ARGS...]",
                       epilog=_RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("files", nargs="+", metavar="FILE.s")
    _add_front_end_options(r)
    r.add_argument("--entry", metavar="SYMBOL", help="start at SYMBOL instead of _rt0_amd64_linux")
    r.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop with status 124 after N instructions (default: no limit)")
    r.add_argument("--memory-limit", type=_size, default=DEFAULT_LIMIT, metavar="SIZE",
                   help="stop with status 124 when the program has touched more than SIZE "
                        f"of memory (default {DEFAULT_LIMIT >> 30}G; K, M, G, T suffixes)")
    r.add_argument("--trace", default=None, metavar="PATH", nargs="?", const="-",
                   help="print every executed instruction to PATH, or to stderr without "
                        "PATH (a FILE.s right after --trace is the program, not PATH)")
    r.add_argument("--cpu", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                   help="CPU model for CPUID and XGETBV (default: %(default)s): "
                        + "; ".join(f"{k}: {p.about}" for k, p in PRESETS.items())
                        + " -- always limited to the instructions goasm executes; the "
                        "v1..v4 presets also assemble with GOAMD64_v1..v4 defined")
    r.add_argument("--cpus", type=int, default=None, metavar="N",
                   help="CPUs sched_getaffinity reports (GOMAXPROCS of a Go executable; "
                        "default 2 for executables, 1 for .s programs)")
    r.add_argument("--until", metavar="SYMBOL", help="stop the first time execution reaches SYMBOL")
    r.add_argument("--state-json", metavar="PATH",
                   help="with --until: write registers, g, g0, m0 and symbols as JSON")
    r.add_argument("--check", action="store_true",
                   help="run the frame/stack checker (goasm.checker) and report what it finds")
    r.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="add K=V to the program's environment (empty otherwise)")
    r.add_argument("--goroot", metavar="DIR",
                   help="run DIR's own Go runtime assembly (DIR=auto: `go env GOROOT` of the "
                        "go beside this Python, else of the go on PATH)")

    d = sub.add_parser("debug", help="step through a program and Go's start-up (delve-like)",
                       usage="goasm debug FILE.s... [options] [-- ARGS...]",
                       epilog="exit status: 0 when the session ends, 1 when the program cannot "
                              "be loaded\n\narguments after `--` are the program's own",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    from goasm.debug import options

    options.add_arguments(d)

    a = sub.add_parser("dap", help="serve the Debug Adapter Protocol on stdin/stdout "
                                   "(VS Code and other editors)")
    options.add_dap_arguments(a)

    e = sub.add_parser("expand", help="print TEXT symbols as the loader will execute them")
    e.add_argument("files", nargs="+", metavar="FILE.s")
    _add_front_end_options(e)
    e.add_argument("--json", action="store_true")

    x = sub.add_parser("disasm", help="decode machine code into Go assembly syntax")
    x.add_argument("file", nargs="?", metavar="FILE",
                   help="an ELF object or executable: print its functions")
    x.add_argument("--hex", metavar="BYTES", help="decode these hex bytes (e.g. 0f01d0)")
    x.add_argument("--symbol", metavar="NAME", help="only this function of FILE")
    return top


def _cmd_parse(ns) -> int:
    from goasm import ir
    from goasm.parse import parse_file

    prog = parse_file(ns.file, include_dirs=ns.include, defines=ns.define)
    if ns.json:
        json.dump({"file": ns.file, "statements": ir.to_json(prog.statements)}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(str(prog))
    return 0


def _cmd_run(ns) -> int:
    from goasm import api

    args = list(ns.program_args)
    if ns.state_json and not ns.until:
        raise LoadError("--state-json needs --until SYMBOL")
    if ns.state_json:
        _check_writable(ns.state_json, "--state-json")
    trace = None
    if ns.trace is not None:
        trace = sys.stderr if ns.trace == "-" else _open_output(ns.trace, "--trace")
    try:
        result = api.run(
            ns.files, include_dirs=ns.include, defines=ns.define, argv=args,
            env=ns.env, entry=ns.entry, max_steps=ns.max_steps, cpu=ns.cpu, until=ns.until,
            trace=trace, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer,
            stdin=sys.stdin.buffer if sys.stdin is not None else None, goroot=ns.goroot,
            check=ns.check, memory_limit=ns.memory_limit, cpus=ns.cpus)
    finally:
        if trace is not None and trace is not sys.stderr:
            trace.close()
    if ns.state_json and result.state is not None:
        with open(ns.state_json, "w", encoding="utf-8") as fh:
            json.dump(result.state, fh, indent=1)
            fh.write("\n")
    for finding in result.findings:
        sys.stderr.write(f"goasm: check: {finding}\n")
    if result.crash_report:
        sys.stdout.flush()
        sys.stderr.write(result.crash_report)
        sys.stderr.flush()
    return result.status


def _open_output(path: str, option: str):
    """Open an output file named on the command line, or fail as a load error."""
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as err:
        raise LoadError(f"{option} {path}: {err.strerror or err}") from None


def _check_writable(path: str, option: str) -> None:
    """Fail before the run, not after it, when ``path`` cannot be written."""
    existed = os.path.lexists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        raise LoadError(f"{option} {path}: {err.strerror or err}") from None
    if not existed:
        os.unlink(path)


def _trace_argv(argv: list[str]) -> list[str]:
    """``--trace`` takes an optional PATH: ``--trace=PATH`` or ``--trace PATH`` write
    the trace to PATH, ``--trace`` alone to stderr. A FILE.s (or a folder) right after
    ``--trace`` is the program to run, not PATH."""
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--trace":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("-") or nxt.endswith(".s") or os.path.isdir(nxt):
                out.append("--trace=-")
            else:
                out.append("--trace=" + nxt)
                i += 1
        else:
            out.append(a)
        i += 1
    return out


def _cmd_expand(ns) -> int:
    from goasm import api

    text = api.expand(ns.files, include_dirs=ns.include, defines=ns.define,
                      as_json=ns.json)
    sys.stdout.write(text)
    return 0


def _cmd_disasm(ns) -> int:
    from goasm.decode import disasm

    if (ns.hex is None) == (ns.file is None):
        raise GoasmError("goasm disasm: give either --hex BYTES or an ELF FILE")
    if ns.hex is not None:
        for line in disasm.disasm_hex(ns.hex):
            sys.stdout.write(line.replace("\t", " ") + "\n")
        return 0
    text, problems = disasm.disasm_elf(ns.file, ns.symbol)
    sys.stdout.write(text)
    for p in problems:
        sys.stderr.write(f"goasm: disasm: {p}\n")
    return EXIT_LOAD if problems else 0


def _cmd_debug(ns) -> int:
    from goasm import debug

    return debug.main(ns)


def _cmd_dap(ns) -> int:
    from goasm.debug import dap

    return dap.main(ns)


def main(argv=None) -> int:
    """Entry point of the ``goasm`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    program_args: list[str] = []
    if "--" in argv:  # everything after `--` belongs to the emulated program
        cut = argv.index("--")
        argv, program_args = argv[:cut], argv[cut + 1:]
    try:
        try:
            ns = _parser().parse_args(_trace_argv(argv))
        except _UsageError as err:
            return _fail(f"error: {err}", EXIT_LOAD)
        ns.program_args = program_args
        handler = {"parse": _cmd_parse, "run": _cmd_run, "expand": _cmd_expand,
                   "debug": _cmd_debug, "dap": _cmd_dap,
                   "disasm": _cmd_disasm}[ns.command]
        status = _report(handler, ns)
        sys.stdout.flush()          # here, where a closed pipe can still be handled
        return status
    except BrokenPipeError:
        return _closed_pipe()


def _fail(message: str, status: int) -> int:
    """Write ``goasm: message`` (escaped) to stderr and return ``status``."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stderr.write("goasm: " + escape(message) + "\n")
    return status


def _closed_pipe() -> int:
    """The reader of stdout (or stderr) went away: end quietly, as a tool ended by
    SIGPIPE does, without Python's complaint when it flushes at exit."""
    for stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
    return EXIT_PIPE


def _report(handler, ns) -> int:
    """Run a subcommand and turn what it raises into a message and an exit status."""
    try:
        return handler(ns)
    except BrokenPipeError:
        raise
    except UnimplementedError as err:
        return _fail(err.render(), EXIT_UNIMPLEMENTED)
    except LoadError as err:        # before LimitError: a front-end limit is a load error
        return _fail(err.render(), EXIT_LOAD)
    except LimitError as err:
        return _fail(err.render(), EXIT_LIMIT)
    except MachineFault as err:
        return _fail(err.render(), EXIT_FAULT)
    except GoasmError as err:
        return _fail(err.render(), EXIT_LOAD)
    except MemoryError:
        return _fail("out of host memory (the program needs more than this machine has; "
                     "--memory-limit bounds what it may touch)", EXIT_LIMIT)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        return _fail(f"{where}{err.strerror or err}", EXIT_LOAD)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:  # a bug in goasm itself: say so in one line, trace only on request
        if os.environ.get("GOASM_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error: {type(err).__name__}: {err} "
                     f"(set GOASM_DEBUG=1 for a traceback; please report it)", EXIT_INTERNAL)

"""The ``goasm`` command line.

``goasm parse``  print the IR of a file (text or ``--json``);
``goasm run``    run a program through the Go-style start-up;
``goasm expand`` print functions as the loader will execute them (``go tool asm -S`` style);
``goasm debug``  step through a program like delve (goasm.debug);
``goasm dap``    the same debugger for editors: the Debug Adapter Protocol over stdio;
``goasm disasm`` machine code (``--hex``, an ELF object or executable) in Go syntax.

Exit status of ``goasm run`` (documented in the README):

====  ==========================================================
0-255 the emulated program's own exit status
1     goasm could not load the program (preprocess, parse or link error)
2     the program crashed (fault, trap), like a real Go program
124   a resource limit was hit (``--max-steps``, memory)
125   the program needs something goasm does not implement
      (an instruction, a syscall, a Go runtime function)
====  ==========================================================

Only this module prints or exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from goasm.machine.state import PRESETS
from goasm.errors import GoasmError, LimitError, MachineFault, UnimplementedError

EXIT_LOAD = 1
EXIT_FAULT = 2
EXIT_LIMIT = 124
EXIT_UNIMPLEMENTED = 125


def _add_front_end_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="search DIR for #include files (after the including file's folder)")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VAL]",
                   help="predefine a preprocessor macro (like go tool asm -D)")


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="goasm", description="Run Go's Plan 9 amd64 assembly.")
    top.add_argument("--version", action="version", version="goasm 0.1.0")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a .s file and print its IR")
    p.add_argument("file")
    _add_front_end_options(p)
    p.add_argument("--json", action="store_true", help="print the IR as JSON with positions")

    r = sub.add_parser("run", help="run a program through goasm's Go-style start-up")
    r.add_argument("files", nargs="+", metavar="FILE.s")
    _add_front_end_options(r)
    r.add_argument("--entry", metavar="SYMBOL", help="start at SYMBOL instead of _rt0_amd64_linux")
    r.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop with status 124 after N instructions")
    r.add_argument("--trace", default=None, metavar="PATH",
                   help="--trace prints every executed instruction to stderr; --trace=PATH to a file")
    r.add_argument("--cpu", choices=tuple(PRESETS), default="intel", help="CPU model for CPUID")
    r.add_argument("--until", metavar="SYMBOL", help="stop the first time execution reaches SYMBOL")
    r.add_argument("--state-json", metavar="PATH",
                   help="with --until: write registers, g, g0, m0 and symbols as JSON")
    r.add_argument("--check", action="store_true",
                   help="run the frame/stack checker (goasm.checker) and report what it finds")
    r.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="add K=V to the program's environment (empty otherwise)")
    r.add_argument("--goroot", metavar="DIR",
                   help="run DIR's own Go runtime assembly (DIR=auto: `go env GOROOT`)")

    d = sub.add_parser("debug", help="step through a program and Go's start-up (delve-like)")
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
        raise GoasmError("--state-json needs --until SYMBOL")
    trace = None
    if ns.trace is not None:
        trace = sys.stderr if ns.trace == "-" else open(ns.trace, "w", encoding="utf-8")
    try:
        result = api.run(
            ns.files, include_dirs=ns.include, defines=ns.define, argv=args,
            env=ns.env, entry=ns.entry, max_steps=ns.max_steps, cpu=ns.cpu, until=ns.until,
            trace=trace, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer,
            stdin=sys.stdin.buffer if sys.stdin is not None else None, goroot=ns.goroot, check=ns.check)
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
    # `--trace` alone traces to stderr; `--trace=PATH` to a file (never eats FILE.s).
    argv = ["--trace=-" if a == "--trace" else a for a in argv]
    ns = _parser().parse_args(argv)
    ns.program_args = program_args
    handler = {"parse": _cmd_parse, "run": _cmd_run, "expand": _cmd_expand,
               "debug": _cmd_debug, "dap": _cmd_dap, "disasm": _cmd_disasm}[ns.command]
    try:
        return handler(ns)
    except UnimplementedError as err:
        sys.stdout.flush()
        sys.stderr.write(f"goasm: {err.render()}\n")
        return EXIT_UNIMPLEMENTED
    except LimitError as err:
        sys.stdout.flush()
        sys.stderr.write(f"goasm: {err.render()}\n")
        return EXIT_LIMIT
    except MachineFault as err:
        sys.stderr.write(f"goasm: {err.render()}\n")
        return EXIT_FAULT
    except GoasmError as err:
        sys.stderr.write(err.render() + "\n")
        return EXIT_LOAD
    except OSError as err:
        sys.stderr.write(f"goasm: {err.filename or ''}: {err.strerror or err}\n")
        return EXIT_LOAD
    except KeyboardInterrupt:
        sys.stderr.write("goasm: interrupted\n")
        return 130
    except Exception as err:  # a bug in goasm itself: say so in one line, trace only on request
        if os.environ.get("GOASM_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(f"goasm: internal error: {type(err).__name__}: {err} "
                         f"(set GOASM_DEBUG=1 for a traceback; please report it)\n")
        return 70

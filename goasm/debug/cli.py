"""``goasm debug``: the command-line front end over a :class:`goasm.debug.session.Session`.

Commands (:mod:`goasm.debug.commands`) are read with readline (history, line editing)
when the input is a terminal and line by line otherwise, so sessions can be scripted;
``--init FILE`` runs a command file first (delve's ``--init``). End of input quits.

Program input and output: what the program writes to fd 1 and 2 goes to the
debugger's output stream (interleaved in order with the debugger's own lines) unless
other streams are given; its stdin is empty unless a stream is given (the terminal
belongs to the debugger's prompt).
"""

from __future__ import annotations

import argparse
import os
import sys

from goasm.debug.breakpoints import EVENTS, parse_watch
from goasm.debug.cli_inspect import InspectCommands
from goasm.debug.commands import COMMAND_TABLE, COMMANDS, PROMPT
from goasm.debug.errors import CommandError
from goasm.debug.locations import pos_text
from goasm.debug.session import Session
from goasm.errors import GoasmError
from goasm.debug.options import add_arguments


def isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Debugger(InspectCommands):
    """The ``goasm debug`` command interpreter.

    ``stdin``/``stdout``: the command input and the debugger's output (text streams;
    default the process's). ``program_stdout``/``program_stderr``: where the program's
    fd 1 and 2 go (default: ``stdout``, so that output interleaves in order);
    ``program_stdin``: its fd 0 (default: empty). ``color``: ANSI highlighting of
    changed registers (default: when ``stdout`` is a terminal). Other keywords go to
    :class:`Session`; ``session`` puts the commands over an existing session instead
    (what the DAP server's Debug Console does with ``dlv <command>``).
    """

    def __init__(self, files=(), *, stdin=None, stdout=None, program_stdout=None,
                 program_stderr=None, color=None, context: int = 2, session=None,
                 **session_args) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = stdout if stdout is not None else sys.stdout
        self.color = isatty(self.out) if color is None else color
        self.context = context
        self.displays: list[str] = []
        self.tracing = False
        self.quit = False
        self.last_command = ""
        self._tracer = None
        if session is None:
            session = Session(
                files, program_stdout=program_stdout if program_stdout is not None else self.out,
                program_stderr=program_stderr if program_stderr is not None else self.out,
                before_output=self._before_program_output, **session_args)
            session.on_notice = self.w
        self.session = session
        self._reset_view()

    # ------------------------------------------------------------------ the process

    @property
    def machine(self):
        return self.session.machine

    @property
    def model(self):
        return self.session.model

    @property
    def proc(self):
        return self.session.proc

    @property
    def image(self):
        return self.session.image

    def goto(self, step: int) -> None:
        self.session.goto(step)

    def _reset_view(self) -> None:
        """After the program ran: the running goroutine, its innermost frame."""
        self.thread = None
        self.frame_index = 0
        self.prev_regs = self.session.registers.general()

    def _before_program_output(self) -> None:
        try:
            self.out.flush()
        except (AttributeError, ValueError):
            pass

    def w(self, text: str = "") -> None:
        """Write a line of debugger output (after any unfinished program line)."""
        for o in getattr(getattr(self, "session", None), "outputs", ()):
            if o.dangling and o.target is self.out:
                self.out.write("\n")
                o.dangling = False
        self.out.write(text + "\n")

    # ------------------------------------------------------------------ running

    def _run(self, fn, *args, what: str = "") -> None:
        """Run a session command and report where it stopped."""
        regs = self.session.registers.general()
        stop = fn(*args)
        self.thread, self.frame_index = None, 0
        self.report_stop(stop, what)
        self.prev_regs = regs

    def report_stop(self, stop, what: str = "") -> None:
        s = self.session
        m = s.machine
        if not self.tracing:
            self._print_events(cap=10)
        else:
            s.events_seen = len(s.model.events)
        if stop.kind == "exit":
            self.w(f"Process {s.pid} has exited with status {m.exit_status}")
            return
        if stop.kind == "fault":
            from goasm.machine import report

            self.w(report.format_fault(m, stop.fault).rstrip("\n"))
            self.w(f"Process stopped by a fault ({stop.fault.signal}); "
                   "use 'rev step' to go back or 'restart'.")
            return
        if stop.kind == "error":
            render = getattr(stop.fault, "render", None)
            self.w(f"goasm: {render() if render else stop.fault}")
            self.w("Process stopped; use 'rev step' to go back or 'restart'.")
            return
        if stop.kind == "start":
            self.w(f"{what}: reached the start of the program (step 0)")
        pc = m.cpu.pc
        ins = s.image.code.get(pc)
        loc = pos_text(ins.pos) if ins is not None and ins.pos else "(modelled in Python)"
        head, tail = "> ", ""
        bp = stop.bp
        if bp is not None:
            head += f"[{bp.kind} {bp.id}] "
            if stop.kind != "rev":
                tail = f" (hits total:{bp.hits})"
        if stop.kind == "interrupt":
            head += "[interrupted] "
        thread_id = getattr(m, "thread_id", None)     # a program with threads names it
        tid = thread_id() if thread_id is not None else None
        if tid is not None:
            tail += f" [thread {tid}]"
        self.w(f"{head}{s.image.describe(pc)}() {loc}{tail} (PC: {pc:#x}) [step {m.steps}]")
        if bp is not None and bp.event in EVENTS:
            self.w(f"    event {bp.event}: {EVENTS[bp.event][1]}")
        if stop.watch is not None:
            h = stop.watch
            self.w(f"    {h.access} of {h.size} bytes at {h.addr:#x} by the previous "
                   f"instruction: {bp.spec} = {h.old:#x} -> {h.new:#x}")
        self.print_location(pc)
        self.print_displays()

    def _print_events(self, cap: int | None = None) -> None:
        new = self.session.new_events()
        if cap is not None and len(new) > cap:
            self.w(f"# ... {len(new) - cap} earlier events (see 'events')")
            new = new[-cap:]
        for ev in new:
            self.w(f"# {ev}")

    # ------------------------------------------------------------------ command loop

    def onecmd(self, line: str) -> None:
        """Execute one command line; errors are reported and the session goes on."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        word, _, rest = line.partition(" ")
        suffix = ""
        if "/" in word:
            word, _, suffix = word.partition("/")
            suffix = "/" + suffix
        cmd = COMMAND_TABLE.get(word)
        if cmd is None:
            self.w(f"Command failed: command not available: {word} (try 'help')")
            return
        try:
            getattr(self, cmd.handler)((suffix + " " + rest).strip() if suffix else rest.strip())
        except (CommandError, GoasmError) as err:
            self.w(f"Command failed: {err}")
        except KeyboardInterrupt:
            self.w("interrupted")
        except Exception as err:  # keep the session alive whatever happens
            if os.environ.get("GOASM_DEBUG"):
                import traceback

                traceback.print_exc()
            self.w(f"Command failed: internal error: {type(err).__name__}: {err}")

    def run_lines(self, lines, *, echo: bool = True) -> None:
        for line in lines:
            if self.quit:
                return
            if echo:
                self.w(PROMPT + line.rstrip("\n"))
            self.onecmd(line)

    def cmdloop(self, init: str | None = None) -> None:
        """Read commands until ``exit`` or end of input (readline on a terminal)."""
        if init:
            self.cmd_source(init)
        interactive = isatty(self.stdin) and isatty(self.out)
        use_input = interactive and self.stdin is sys.stdin and self.out is sys.stdout
        if use_input:
            self._setup_readline()
        while not self.quit:
            try:
                if use_input:
                    line = input(PROMPT)
                else:
                    self.out.write(PROMPT)
                    self.out.flush()
                    line = self.stdin.readline()
                    if not line:
                        raise EOFError
                    if not interactive:
                        self.out.write(line if line.endswith("\n") else line + "\n")
            except EOFError:
                self.out.write("\n" if interactive else "")
                break
            except KeyboardInterrupt:
                self.out.write("^C\n")
                continue
            line = line.strip()
            if not line and interactive:
                line = self.last_command
            elif line:
                self.last_command = line
            self.onecmd(line)
        try:
            self.out.flush()
        except (AttributeError, ValueError):
            pass

    def _setup_readline(self) -> None:
        try:
            import readline
        except ImportError:
            return
        names = sorted(COMMAND_TABLE)

        def complete(text, state):
            buf = readline.get_line_buffer()
            if " " not in buf.lstrip():
                pool = names
            else:
                pool = list(self.image.symbols) + list(EVENTS) + ["syscall"]
            hits = [n for n in pool if n.startswith(text)]
            return hits[state] if state < len(hits) else None

        readline.set_completer(complete)
        readline.set_completer_delims(" \t\n")
        readline.parse_and_bind("tab: complete")

    # ------------------------------------------------------------------ breakpoints

    def cmd_break(self, arg: str) -> None:
        """delve ``break [name] <locspec>``; here also runtime events."""
        if not arg:
            raise CommandError("usage: break <locspec|event> [if <expr>]")
        bp = self.session.add_breakpoint(arg, frame=self.selected_frame())
        cond = f" if {bp.cond}" if bp.cond else ""
        self.w(f"Breakpoint {bp.id} set {'on' if bp.event else 'at'} {bp.desc}{cond}")

    def cmd_watch(self, arg: str) -> None:
        """delve ``watch [-r|-w|-rw] <expr>``."""
        mode, expr = parse_watch(arg)
        bp = self.session.add_watchpoint(mode, expr, self.selected_frame())
        self.w(f"Watchpoint {bp.id} set at {bp.desc}")

    def cmd_breakpoints(self, arg: str) -> None:
        """delve ``breakpoints``."""
        bps = self.session.breakpoints
        if not len(bps):
            self.w("No breakpoints.")
        for bp in bps:
            state = "" if bp.enabled else " (disabled)"
            self.w(f"{bp.kind} {bp.id}{state} {'on' if bp.event else 'at'} {bp.desc} "
                   f"({bp.hits})")
            if bp.cond:
                self.w(f"\tcond {bp.cond}")

    def cmd_clear(self, arg: str) -> None:
        """delve ``clear <id>``."""
        bp = self.session.breakpoints.get(arg)
        self.session.breakpoints.remove(bp)
        self.w(f"{bp.kind} {bp.id} cleared at {bp.desc}")

    def cmd_clearall(self, arg: str) -> None:
        """delve ``clearall``."""
        n = len(self.session.breakpoints)
        self.session.breakpoints.clear()
        self.w(f"{n} breakpoints cleared")

    def cmd_condition(self, arg: str) -> None:
        """delve ``condition <id> <expr>``."""
        ident, _, expr = arg.partition(" ")
        bp = self.session.breakpoints.get(ident)
        if expr.strip():
            self.session.check_syntax(expr)
        bp.cond = expr.strip() or None
        self.w(f"Breakpoint {bp.id}: " + (f"cond {bp.cond}" if bp.cond else "no condition"))

    def cmd_toggle(self, arg: str) -> None:
        """delve ``toggle <id>``."""
        bps = self.session.breakpoints
        bp = bps.get(arg)
        bp.enabled = not bp.enabled
        bps.reindex()
        self.w(f"{bp.kind} {bp.id} {'enabled' if bp.enabled else 'disabled'}")

    # ------------------------------------------------------------------ running

    @staticmethod
    def count(arg: str) -> int:
        if not arg:
            return 1
        if not arg.isdigit() or int(arg) < 1:
            raise CommandError(f"expected a positive count, got {arg!r}")
        return int(arg)

    def cmd_continue(self, arg: str) -> None:
        """delve ``continue [<locspec>]``."""
        self._run(self.session.cont, arg or None)

    def cmd_step(self, arg: str) -> None:
        """delve ``step-instruction``: ``count`` instructions, into CALLs."""
        self._run(self.session.step, self.count(arg))

    def cmd_next(self, arg: str) -> None:
        """delve ``next [count]``: one instruction, a CALL as a whole (breakpoints inside
        the call stop it)."""
        self._run(self.session.next, self.count(arg))

    def cmd_stepout(self, arg: str) -> None:
        """delve ``stepout``: run until the current function returns to its caller."""
        self._run(self.session.stepout)

    def cmd_rev(self, arg: str) -> None:
        """delve ``rev <command>``: step, next, stepout or continue backwards."""
        what = arg.strip()
        s = self.session
        table = {"step": s.rev_step, "s": s.rev_step, "si": s.rev_step,
                 "step-instruction": s.rev_step, "stepi": s.rev_step,
                 "continue": s.rev_continue, "c": s.rev_continue,
                 "next": s.rev_next, "n": s.rev_next,
                 "stepout": s.rev_stepout, "so": s.rev_stepout}
        if what not in table:
            raise CommandError("usage: rev step|next|stepout|continue")
        name = table[what].__name__.replace("rev_", "rev ")
        self._run(table[what], what=name)

    def cmd_rewind(self, arg: str) -> None:
        """delve ``rewind``: rev continue."""
        self.cmd_rev("continue")

    def cmd_restart(self, arg: str) -> None:
        """delve ``restart``: a fresh process; breakpoints, watchpoints and displays are
        kept."""
        self.session.restart()
        self._tracer = None
        if self.tracing:
            self.session.observer = self._observe
        self._reset_view()
        self.w(f"Process restarted with PID {self.session.pid} "
               f"(at {self.image.describe(self.machine.cpu.pc)}, step 0)")

    def cmd_trace(self, arg: str) -> None:
        """``trace on|off`` or delve's ``trace <locspec>`` (a tracepoint)."""
        if arg in ("on", "off"):
            self.tracing = arg == "on"
            self.session.observer = self._observe if self.tracing else None
            self.w(f"instruction trace {arg}")
            return
        if not arg:
            self.w(f"instruction trace {'on' if self.tracing else 'off'}")
            return
        bp = self.session.add_breakpoint(arg, tracepoint=True, frame=self.selected_frame())
        self.w(f"Tracepoint {bp.id} set {'on' if bp.event else 'at'} {bp.desc}")

    def _observe(self, m, step):
        """Print each instruction as ``goasm run --trace`` does (``trace on``)."""
        from goasm.trace import Tracer

        if self._tracer is None or self._tracer.machine is not m:
            self._tracer = Tracer(m, self.model, self.out)
        tr = self._tracer
        pc = m.cpu.pc
        before = tr._registers()
        r = step()
        self.w(tr.line(pc, before, tr._registers()))
        self._print_events()
        return r

    # ------------------------------------------------------------------ session commands

    def cmd_source(self, arg: str) -> None:
        """delve ``source <path>``: run the commands in a file."""
        path = arg.strip()
        if not path:
            raise CommandError("usage: source <path>")
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as err:
            raise CommandError(f"{path}: {err.strerror}") from None
        self.run_lines(lines)

    def cmd_help(self, arg: str) -> None:
        """delve ``help [command]``."""
        if arg:
            cmd = COMMAND_TABLE.get(arg.strip())
            if cmd is None:
                raise CommandError(f"no such command {arg.strip()!r}")
            self.w(cmd.summary)
            self.w("")
            self.w("\t" + cmd.usage)
            if cmd.details:
                self.w("")
                self.w(cmd.details)
            if cmd.aliases:
                self.w("")
                self.w("Aliases: " + " ".join(cmd.aliases))
            return
        self.w("The following commands are available (delve's names; see 'help <command>'):")
        for cmd in COMMANDS:
            names = cmd.name + (f" (alias: {' | '.join(cmd.aliases)})" if cmd.aliases else "")
            self.w(f"    {names:<40} {cmd.summary.splitlines()[0]}")

    def cmd_exit(self, arg: str) -> None:
        """delve ``exit``."""
        self.quit = True


# =========================================================================== entry points

def main(ns, *, stdin=None, stdout=None) -> int:
    """Run ``goasm debug`` for parsed arguments ``ns`` (``files``, ``include``,
    ``define``, ``init``, ``program_args``; optional ``env``, ``cpu``). Returns the exit
    status: 0, or 1 when the program cannot be loaded."""
    out = stdout if stdout is not None else sys.stdout
    try:
        dbg = Debugger(ns.files, include_dirs=getattr(ns, "include", ()) or (),
                       defines=list(getattr(ns, "define", ()) or ()),
                       argv=getattr(ns, "program_args", ()) or (),
                       env=getattr(ns, "env", ()) or (), cpu=getattr(ns, "cpu", None),
                       goroot=getattr(ns, "goroot", None), stdin=stdin, stdout=out)
    except GoasmError as err:
        out.flush()
        sys.stderr.write("goasm: " + err.render() + "\n")
        return 1
    out.write(f"Type 'help' for list of commands. Stopped at "
              f"{dbg.image.describe(dbg.machine.cpu.pc)} (the process entry point), "
              f"step 0.\n")
    dbg.cmdloop(init=getattr(ns, "init", None))
    return 0


def script_main(argv=None) -> int:
    """``python -m goasm.debug FILE.s… [-- ARGS…]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    program_args: list = []
    if "--" in argv:
        cut = argv.index("--")
        argv, program_args = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(prog="python -m goasm.debug",
                                description="Debug a Go assembly program (delve-like).")
    add_arguments(p)
    ns = p.parse_args(argv)
    ns.program_args = program_args
    return main(ns)

"""The CLI's command table: names, aliases, usage and help text.

Names, aliases and behaviour follow delve's command reference (go-delve/delve,
``Documentation/cli/README.md``). ``step`` and ``step-instruction`` are both one
instruction here: the unit of an assembly program. goasm adds ``stackmap`` (a picture of
a goroutine's stack, to scale), ``events`` (the runtime's event log) and ``trace
on|off`` (print every executed instruction, as ``goasm run --trace`` does).
"""

from __future__ import annotations

import types

import attrs

PROMPT = "(goasm) "


@attrs.frozen
class Command:
    """One row of the command table: ``handler`` names a method of the CLI."""

    name: str
    aliases: tuple
    handler: str
    usage: str
    summary: str
    details: str = ""


def _cmd(name, aliases, handler, usage, summary, details=""):
    return Command(name, tuple(aliases), handler, usage, summary, details)


COMMANDS = (
    _cmd("break", ("b",), "cmd_break", "break <locspec|event> [if <expr>]",
         "Sets a breakpoint.",
         "A locspec is a symbol (runtime·settls, main.sum), symbol+offset (runtime.rt0_go+0x1e,\n"
         "offsets count instructions), file.s:LINE, LINE (in the current file) or *0xADDR.\n"
         "Runtime events: settls, morestack, newstack, gogo, syscall [name|number].\n"
         "'if <expr>' stops only when the expression is non-zero (see 'help print')."),
    _cmd("breakpoints", ("bp",), "cmd_breakpoints", "breakpoints",
         "Print out info for active breakpoints and watchpoints."),
    _cmd("clear", (), "cmd_clear", "clear <breakpoint id>", "Deletes breakpoint."),
    _cmd("clearall", (), "cmd_clearall", "clearall", "Deletes all breakpoints."),
    _cmd("condition", ("cond",), "cmd_condition", "condition <breakpoint id> [<expr>]",
         "Set breakpoint condition (none: remove it)."),
    _cmd("toggle", (), "cmd_toggle", "toggle <breakpoint id>",
         "Toggles on or off a breakpoint."),
    _cmd("watch", (), "cmd_watch", "watch [-r|-w|-rw] <expr>",
         "Set watchpoint.",
         "-r stops when the memory location is read, -w when it is written (the default),\n"
         "-rw when it is read or written; it stops after the instruction that made the\n"
         "access. The location is an expression in memory, as 'print' takes it:\n"
         "watch -w g0.stackguard0, watch -rw -8(FS), watch n+0(FP), watch [SP+8].\n"
         "Watchpoints work in reverse too: 'rev continue' stops at the last access."),
    _cmd("continue", ("c",), "cmd_continue", "continue [<locspec>]",
         "Run until breakpoint or program termination.",
         "With a locspec, run until that location is reached (or a breakpoint is hit)."),
    _cmd("next", ("n",), "cmd_next", "next [count]",
         "Step over to the next instruction (a CALL runs until it returns)."),
    _cmd("step", ("s",), "cmd_step", "step [count]",
         "Single step one instruction (into CALLs)."),
    _cmd("step-instruction", ("si", "stepi"), "cmd_step", "step-instruction [count]",
         "Single step a single instruction."),
    _cmd("stepout", ("so",), "cmd_stepout", "stepout",
         "Step out of the current function (run until it returns to its caller)."),
    _cmd("rev", (), "cmd_rev", "rev step|next|stepout|continue",
         "Reverses the execution of the target program for the command specified.",
         "rev step goes back exactly one instruction; rev next goes back to the previous\n"
         "instruction of this function (over calls); rev stepout back to the CALL that\n"
         "entered it; rev continue back to the previous breakpoint hit or watched access\n"
         "(or step 0)."),
    _cmd("rewind", ("rw",), "cmd_rewind", "rewind",
         "Run backwards until breakpoint or the start of the program (rev continue)."),
    _cmd("restart", ("r",), "cmd_restart", "restart",
         "Restart process (breakpoints, watchpoints and displays are kept)."),
    _cmd("regs", (), "cmd_regs", "regs [-a]",
         "Print contents of CPU registers; changed ones are marked with *.",
         "-a also prints the vector registers (X, or Z once the CPU has AVX-512's\n"
         "register file), K0-K7 and MXCSR when the CPU holds them."),
    _cmd("print", ("p",), "cmd_print", "print <expression>",
         "Evaluate an expression.",
         "Registers (AX, SP, PC, FS = the FS base...), the selected frame's arguments and\n"
         "locals (n, n+0(FP), saved-8(SP)), symbols (runtime·g0, main.sum: their address),\n"
         "g (the g in TLS, -8(FS)), g0, m0, m (g.m), curg (m0.curg) and their fields\n"
         "(g.stack.hi, g0.sched.sp, m0.tls[0], g.m.curg.goid), memory words (*(SP+8),\n"
         "[SP+8], -8(FS), 16(R14)), &field, integers and Go operators."),
    _cmd("set", (), "cmd_set", "set <register|memory> = <expr>",
         "Changes the value of a register or of memory.",
         "set AX = 42, set FS = 0, set -8(FS) = g0, set n+0(FP) = 3, set g.stackguard0 = 0.\n"
         "The execution from here on is a new timeline: history after this step is dropped."),
    _cmd("locals", (), "cmd_locals", "locals",
         "Print the local variables of the selected frame (name-off(SP))."),
    _cmd("args", (), "cmd_args", "args",
         "Print the arguments and results of the selected frame (name+off(FP)).",
         "Named from the Go declaration next to the .s file (go vet's names), otherwise\n"
         "from the operands the function uses."),
    _cmd("examinemem", ("x",), "cmd_x", "x/<count><size><format> <address>",
         "Examine raw memory at the given address.",
         "gdb style: x/8gx SP (size b h w g; format x d u o t a c s i).\n"
         "delve style: x -fmt hex|dec|oct|bin|addr -count N -size 1|2|4|8 <address>."),
    _cmd("display", (), "cmd_display", "display [-a <expr> | -d <number>]",
         "Print value of an expression every time the program stops (kept on restart)."),
    _cmd("stack", ("bt",), "cmd_stack", "stack [<depth>] [-offsets]",
         "Print stack trace (frames found from each function's frame layout)."),
    _cmd("frame", (), "cmd_frame", "frame <m> [<command>]",
         "Set the current frame, or execute a command on a different frame.",
         "print, x, locals, args, set and list then use that frame (its PC, SP, FP)."),
    _cmd("up", (), "cmd_up", "up [<m>] [<command>]", "Move the current frame up."),
    _cmd("down", (), "cmd_down", "down [<m>] [<command>]", "Move the current frame down."),
    _cmd("goroutines", ("grs",), "cmd_goroutines", "goroutines", "List program goroutines."),
    _cmd("threads", (), "cmd_threads", "threads",
         "Print out info for every machine thread.",
         "A real Go executable runs on several threads (clone): each with its id, whether\n"
         "it runs, is runnable or waits (and for what), where it is and the instructions\n"
         "it has run. '*' marks the thread on the CPU. .s programs have one thread."),
    _cmd("goroutine", ("gr",), "cmd_goroutine", "goroutine [<id>|g0] [<command>]",
         "Shows or changes the current goroutine.",
         "The goroutine's frames (from its g.sched when it is not running) are then used\n"
         "by stack, frame, print, locals and args; the next run command goes back to the\n"
         "running one."),
    _cmd("stackmap", ("sm",), "cmd_stackmap", "stackmap [g0|<goid>] [-rows N]",
         "Draw a goroutine's stack to scale: hi, frames, SP, stackguard0, lo.",
         "Stopped on g0 inside morestack/newstack, it shows the goroutine being grown."),
    _cmd("list", ("ls", "l"), "cmd_list", "list [<locspec>]", "Show source code."),
    _cmd("disassemble", ("disass",), "cmd_disassemble", "disassemble [-l <locspec>]",
         "Show the instructions of a function as the loader will execute them."),
    _cmd("funcs", (), "cmd_funcs", "funcs [<regex>]", "Print list of functions."),
    _cmd("events", (), "cmd_events", "events [N]",
         "Print the last N runtime events (TLS, stacks, goroutines, syscalls)."),
    _cmd("trace", ("t",), "cmd_trace", "trace on|off | trace <locspec>",
         "on/off: print every executed instruction while running; otherwise set a\n"
         "tracepoint (reports when reached, does not stop)."),
    _cmd("source", (), "cmd_source", "source <path>",
         "Executes a file containing a list of commands."),
    _cmd("help", ("h",), "cmd_help", "help [command]", "Prints the help message."),
    _cmd("exit", ("quit", "q"), "cmd_exit", "exit", "Exit the debugger."),
)


def _command_table() -> types.MappingProxyType:
    table = {}
    for c in COMMANDS:
        table[c.name] = c
        for a in c.aliases:
            table[a] = c
    return types.MappingProxyType(table)


COMMAND_TABLE = _command_table()

"""The CLI's commands that look at (and change) the stopped program: registers,
expressions, memory, frames, goroutines, variables, source and code.

A mixin of :class:`goasm.debug.cli.Debugger`: ``self.session`` is the session,
``self.w`` writes a line, ``self.thread``/``self.frame_index`` are the goroutine and
frame selected with ``goroutine``/``frame``/``up``/``down`` (reset when the program runs).
"""

from __future__ import annotations

import os
import re

from goasm.debug.errors import CommandError
from goasm.debug.locations import pos_text, rel
from goasm.debug.registers import REG_ORDER, flag_names
from goasm.debug.stackmap import kib, render_stackmap
from goasm.errors import MachineFault


def fmt_word(val: int, size: int, fmt: str) -> str:
    """One memory word as ``x`` shows it (gdb's formats)."""
    bits = size * 8
    if fmt in ("x", "a"):
        return f"0x{val:0{size * 2}x}"
    if fmt == "d":
        return str(val - (1 << bits) if val >> (bits - 1) else val)
    if fmt == "u":
        return str(val)
    if fmt == "o":
        return f"0{val:o}"
    if fmt == "t":
        return f"{val:0{bits}b}"
    if fmt == "c":
        return repr(chr(val)) if 32 <= val < 127 else f"\\x{val:02x}"
    return f"{val:#x}"


_X_FORMATS = {"hex": "x", "dec": "d", "oct": "o", "bin": "t", "addr": "a"}


class InspectCommands:
    """See the module docstring."""

    # ------------------------------------------------------------------ selection

    def selected_thread(self):
        s = self.session
        if self.thread is None:
            return s.goroutines.current()
        return s.goroutines.thread(self.thread)

    def selected_frame(self):
        """The selected frame, or None for the innermost frame of the running goroutine
        (then expressions see the CPU's state as it is)."""
        if self.thread is None and self.frame_index == 0:
            return None
        t = self.selected_thread()
        frames = self.session.frames(t, limit=self.frame_index + 1)
        if self.frame_index >= len(frames):
            raise CommandError(f"frame {self.frame_index} does not exist "
                               f"({len(frames)} frames)")
        return frames[self.frame_index]

    def _with_selection(self, thread, index: int, command: str) -> None:
        """Select (``thread``, ``index``); run ``command`` there and go back if given."""
        saved = (self.thread, self.frame_index)
        self.thread, self.frame_index = thread, index
        try:
            frame = self.selected_frame()
        except CommandError:
            self.thread, self.frame_index = saved
            raise
        if command:
            try:
                self.onecmd(command)
            finally:
                self.thread, self.frame_index = saved
            return
        t = self.selected_thread()
        f = frame if frame is not None else self.session.frames(t, limit=1)[0]
        name, where = self.session.locations.frame_where(f)
        self.w(f"Frame {self.frame_index}: {name}() {where} (PC: {f.pc:#x})")
        self.print_location(f.pc, f.pos)

    def cmd_frame(self, arg: str) -> None:
        """delve ``frame <m> [<command>]``."""
        word, _, command = arg.partition(" ")
        if not word.isdigit():
            raise CommandError("usage: frame <m> [<command>]")
        self._with_selection(self.thread, int(word), command.strip())

    def _move(self, arg: str, sign: int) -> None:
        word, _, command = arg.partition(" ")
        n = 1
        if word.isdigit():
            n = int(word)
        elif word:
            command = arg
        index = self.frame_index + sign * n
        if index < 0:
            raise CommandError("already at the innermost frame (frame 0)")
        self._with_selection(self.thread, index, command.strip())

    def cmd_up(self, arg: str) -> None:
        """delve ``up [<m>] [<command>]``: towards the callers."""
        self._move(arg, 1)

    def cmd_down(self, arg: str) -> None:
        """delve ``down [<m>] [<command>]``: towards the innermost frame."""
        self._move(arg, -1)

    def cmd_goroutine(self, arg: str) -> None:
        """delve ``goroutine [<id>] [<command>]``."""
        word, _, command = arg.partition(" ")
        if not word:
            t = self.selected_thread()
            if t is None:
                raise CommandError("no goroutine yet")
            self.w(f"Thread {t.id} ({t.name}) [{t.status}] "
                   f"{self.image.describe(t.pc)}" + (" (running)" if t.current else ""))
            return
        t = self.session.goroutines.by_goid(word)
        before = self.selected_thread()
        if not command.strip():
            self.w(f"Switched from {before.goid if before else '-'} to {t.goid}")
        self._with_selection(None if t.current else t.id, 0, command.strip())

    # ------------------------------------------------------------------ registers & values

    def cmd_regs(self, arg: str) -> None:
        """delve ``regs [-a]`` with Plan 9 register names; ``*`` marks the registers
        changed by the last command that ran the program."""
        if arg.strip() not in ("", "-a"):
            raise CommandError("usage: regs [-a]")
        s = self.session
        now = s.registers.general()
        for name in REG_ORDER:
            v = now[name]
            if name == "PC":
                note = "  " + self.image.describe(v)
            elif name == "FLAGS":
                note = "  [" + " ".join(flag_names(v)) + "]"
            elif name == "FS" and v:
                g = s.peek_int(v - 8, 8) if s.mapped(v - 8) else None
                note = "  (TLS base" + (f"; -8(FS) = {g:#x}{s.locations.symbolize(g)}"
                                        if g is not None else "") + ")"
            else:
                note = s.locations.symbolize(v)
            text = f"{name:>6} = {v:#018x}{note}"
            if self.prev_regs.get(name) != v:
                text = "*" + text[1:]
                if self.color:
                    text = f"\x1b[1;33m{text}\x1b[0m"
            self.w(text)
        if arg.strip() == "-a":
            for name, bits, v in s.registers.vectors():
                self.w(f"{name:>6} = {v:#0{bits // 4 + 2}x}")

    def cmd_print(self, arg: str) -> None:
        """delve ``print <expr>`` (``print/x`` and ``print/d`` as in gdb)."""
        fmt = None
        if arg.startswith("/"):
            fmt, _, arg = arg[1:].partition(" ")
        v = self.session.evaluate(arg, self.selected_frame())
        if fmt in ("x", "d") and not v.is_aggregate:
            self.w(f"{v.value:#x}" if fmt == "x" else str(v.value))
            return
        if fmt not in (None, "x", "d"):
            raise CommandError(f"unknown print format /{fmt} (use /x or /d)")
        self.w(self.session.values.format(v))

    def cmd_set(self, arg: str) -> None:
        """delve ``set <variable> = <value>``: registers and memory."""
        target, eq, value = arg.partition("=")
        if not eq or not target.strip() or not value.strip():
            raise CommandError("usage: set <register|memory> = <expr>")
        frame = self.selected_frame()
        self.session.assign(target, value, frame)
        v = self.session.evaluate(target, frame)
        self.w(f"{target.strip()} = {self.session.values.format(v)}")

    def _print_variables(self, kinds) -> None:
        frame = self.selected_frame()
        scope = self.session.scope(frame)
        args, locs = scope.variables()
        shown = [v for v in args + locs if v.kind in kinds]
        if not shown:
            self.w("(no " + ("locals" if "local" in kinds else "arguments") + ")")
        for var in shown:
            try:
                text = self.session.values.format(scope.variable_value(var))
            except CommandError as err:
                text = f"<error: {err}>"
            typ = f" {var.typ}" if var.typ else ""
            self.w(f"{var.name} = {text}    // {var.written}{typ}")

    def cmd_args(self, arg: str) -> None:
        """delve ``args``: the selected frame's arguments and results."""
        self._print_variables(("arg", "result"))

    def cmd_locals(self, arg: str) -> None:
        """delve ``locals``: the selected frame's locals."""
        self._print_variables(("local",))

    def cmd_display(self, arg: str) -> None:
        """delve ``display -a <expr>`` / ``display -d <n>`` / ``display``."""
        if arg.startswith("-a "):
            expr = arg[3:].strip()
            self.session.check_syntax(expr)
            self.displays.append(expr)
        elif arg.startswith("-d "):
            n = arg[3:].strip()
            if not n.isdigit() or int(n) >= len(self.displays):
                raise CommandError(f"no display {n!r}")
            del self.displays[int(n)]
            return
        elif arg:
            raise CommandError("usage: display [-a <expr> | -d <number>]")
        self.print_displays()

    def print_displays(self) -> None:
        for i, expr in enumerate(self.displays):
            try:
                text = self.session.values.format(self.session.evaluate(expr))
            except CommandError as err:
                text = f"<error: {err}>"
            self.w(f"{i}: {expr} = {text}")

    # ------------------------------------------------------------------ memory

    def _x_args(self, arg: str) -> tuple:
        count, size, fmt = 1, 8, "x"
        if arg.startswith("/"):
            spec, _, arg = arg[1:].partition(" ")
            m = re.fullmatch(r"(\d*)([bhwgxduotacsi]*)", spec)
            if m is None:
                raise CommandError(f"bad format /{spec} (like /8gx)")
            if m.group(1):
                count = int(m.group(1))
            for ch in m.group(2):
                if ch in "bhwg":
                    size = {"b": 1, "h": 2, "w": 4, "g": 8}[ch]
                else:
                    fmt = ch
            return count, size, fmt, arg
        words, rest, i = arg.split(), [], 0
        while i < len(words):
            w = words[i]
            if w in ("-fmt", "-count", "-len", "-size") and i + 1 < len(words):
                v = words[i + 1]
                if w == "-fmt":
                    if v not in _X_FORMATS:
                        raise CommandError(f"unknown -fmt {v} (hex, dec, oct, bin, addr)")
                    fmt = _X_FORMATS[v]
                elif w in ("-count", "-len"):
                    count = self.count(v)
                else:
                    if v not in ("1", "2", "4", "8"):
                        raise CommandError("-size must be 1, 2, 4 or 8")
                    size = int(v)
                i += 2
            else:
                if w != "-x":
                    rest.append(w)
                i += 1
        return count, size, fmt, " ".join(rest)

    def cmd_x(self, arg: str) -> None:
        """gdb ``x/NSF addr`` and delve ``examinemem [-fmt f] [-count n] [-size s] addr``."""
        count, size, fmt, arg = self._x_args(arg)
        if not arg.strip():
            raise CommandError("usage: x/<count><size><format> <address>")
        if count > 1000:
            raise CommandError("count must be at most 1000")
        s = self.session
        v = s.evaluate(arg, self.selected_frame())
        addr = (v.value if v.is_aggregate else s.values.number(v)) & ((1 << 64) - 1)
        if fmt == "i":
            self._x_instructions(addr, count)
            return
        if fmt == "s":
            for _ in range(count):
                try:
                    text = s.machine.mem.read_cstring(addr)
                except MachineFault:
                    raise CommandError(f"cannot access memory at {addr:#x}") from None
                self.w(f"{addr:#x}{s.locations.symbolize(addr)}:\t{text!r}"[:200])
                addr += len(text) + 1
            return
        if fmt == "c":
            size = 1
        per_row = {8: 2, 4: 4, 2: 8, 1: 8}[size]
        sp = s.machine.cpu.regs[4]
        for row in range(0, count, per_row):
            a = addr + row * size
            items, notes = [], []
            for j in range(min(per_row, count - row)):
                val = s.peek_int(a + j * size, size)
                items.append(fmt_word(val, size, fmt))
                if fmt == "a" and s.locations.symbolize(val):
                    notes.append(s.locations.symbolize(val).strip())
            label = s.locations.symbolize(a)
            if not label and sp <= a < sp + (1 << 16):
                label = f" <SP+{a - sp:#x}>"
            line = f"{a:#x}{label}:\t" + "  ".join(items)
            self.w(line + ("   " + " ".join(notes) if notes else ""))

    def _x_instructions(self, addr: int, count: int) -> None:
        s = self.session
        code, natives = self.image.code, s.machine.natives
        if addr not in code and addr not in natives:
            raise CommandError(f"no instruction at {addr:#x}")
        pc = s.machine.cpu.pc
        for _ in range(count):
            ins = code.get(addr)
            mark = "=>" if addr == pc else "  "
            if ins is None:
                if addr in natives:
                    self.w(f"{mark} {addr:#x} {self.image.describe(addr):<28} "
                           "(modelled in Python)")
                break
            pos = pos_text(ins.pos) if ins.pos else ""
            self.w(f"{mark} {addr:#x} {self.image.describe(addr):<28} "
                   f"{str(ins).replace(chr(9), ' '):<36} {pos}")
            addr = ins.next_addr

    # ------------------------------------------------------------------ frames & goroutines

    def cmd_stack(self, arg: str) -> None:
        """delve ``stack [depth] [-offsets]``, alias ``bt``."""
        depth, offsets = 50, False
        for word in arg.split():
            if word == "-offsets":
                offsets = True
            elif word.isdigit():
                depth = int(word)
            else:
                raise CommandError("usage: stack [<depth>] [-offsets]")
        s = self.session
        frames = s.frames(self.selected_thread(), limit=depth + 1)
        for fr in frames[:depth]:
            name, where = s.locations.frame_where(fr)
            self.w(f"{fr.index:>2}  {fr.pc:#018x} in {name}")
            self.w(f"    at {where}")
            if offsets:
                cfa = f"{fr.cfa:#x}" if fr.cfa is not None else "?"
                size = f"{fr.cfa - fr.sp}" if fr.cfa is not None else "?"
                self.w(f"    frame: SP={fr.sp:#x} CFA={cfa} size={size}")
        last = frames[-1] if frames else None
        if len(frames) > depth:
            self.w(f"(more frames; use 'stack {depth * 2}')")
        elif last is not None and last.cfa is None and not s.unwinder.topframe(last.pc):
            self.w(f"({self.image.describe(last.pc)} loaded SP itself (a stack switch): "
                   "the frames beyond it are not followed)")

    def cmd_goroutines(self, arg: str) -> None:
        """delve ``goroutines``: every g the runtime knows, ``*`` on the running one."""
        threads = self.session.goroutines.threads()
        for t in threads:
            ins = self.image.code.get(t.pc)
            where = pos_text(ins.pos) if ins is not None and ins.pos else "-"
            size = kib(t.hi - t.lo) if t.hi > t.lo else "no stack"
            self.w(f"{'*' if t.current else ' '} Goroutine {t.goid}"
                   f"{' (g0)' if t.system else ''} g={t.g:#x} [{t.status}] "
                   f"{self.image.describe(t.pc) if t.pc else '-'} {where}  stack {size}")
        self.w(f"[{len(threads)} goroutines]")

    def cmd_threads(self, arg: str) -> None:
        """delve ``threads``: the machine's threads (a real executable's, see
        :func:`goasm.binary.thread_list`)."""
        from goasm.binary import thread_list

        threads = thread_list(self.session.machine)
        if not threads:
            m = self.session.machine
            self.w(f"* Thread 1 at {m.cpu.pc:#x} {self.image.describe(m.cpu.pc)}")
            return
        for t in threads:
            current = t["state"] == "running"
            if t["pc"] is None:
                self.w(f"  Thread {t['tid']} [exited] after {t['steps']} instructions")
                continue
            ins = self.image.code.get(t["pc"])
            where = pos_text(ins.pos) if ins is not None and ins.pos else "-"
            state = t["waits_for"] or t["state"]
            self.w(f"{'*' if current else ' '} Thread {t['tid']} at {t['pc']:#x} "
                   f"{self.image.describe(t['pc'])} {where} [{state}] "
                   f"{t['steps']} instructions")

    def cmd_stackmap(self, arg: str) -> None:
        """goasm's picture of one goroutine's stack (see ``help stackmap``)."""
        rows, which = 16, None
        words = arg.split()
        i = 0
        while i < len(words):
            if words[i] == "-rows" and i + 1 < len(words):
                rows = self.count(words[i + 1])
                i += 2
            elif which is None:
                which = words[i]
                i += 1
            else:
                raise CommandError("usage: stackmap [g0|<goid>] [-rows N]")
        rows = max(4, min(rows, 200))
        thread, sp, pc, note = self.session.goroutines.stackmap_target(which)
        for line in render_stackmap(self.session, thread, sp, pc, rows, note):
            self.w(line)

    # ------------------------------------------------------------------ source & code

    def print_source(self, path: str, line: int, before: int, after: int,
                     mark: bool = True, current: int | None = None) -> None:
        """Lines around ``line``; ``=>`` marks ``current`` (default ``line``)."""
        current = line if current is None else current
        lines = self.session.locations.source_lines(path)
        if lines is None:
            self.w(f"(no source for {rel(path)})")
            return
        for n in range(max(1, line - before), min(len(lines), line + after) + 1):
            arrow = "=>" if mark and n == current else "  "
            self.w(f"{arrow}{n:6}:\t{lines[n - 1].rstrip()}")

    def print_location(self, pc: int, pos=None) -> None:
        """Source around ``pc`` (or ``pos``, a caller's CALL) and its instruction."""
        s = self.session
        ins = self.image.code.get(pc)
        if ins is None and pc in s.machine.natives:
            self.w("    (a Go runtime function modelled in Python; no assembly) "
                   f"{s.locations.native_doc(pc)}")
        pos = pos if pos is not None else (ins.pos if ins is not None else None)
        if pos is not None and pos.line > 0:
            self.print_source(os.path.abspath(pos.file), pos.line, self.context, self.context)
        if ins is not None:
            note = "   (inserted by the assembler)" if ins.synthetic else ""
            self.w(f"    {pc:#x}:\t{str(ins).replace(chr(9), ' ')}{note}")

    def cmd_list(self, arg: str) -> None:
        """delve ``list [<locspec>]``: source around PC (or the location), ``=>`` marks
        the current line."""
        s = self.session
        frame = self.selected_frame()
        if arg:
            addr = s.resolve(arg, frame)[0]
        else:
            addr = frame.pc if frame is not None else s.machine.cpu.pc
        ins = self.image.code.get(addr)
        if ins is None or ins.pos is None:
            if addr in s.machine.natives:
                self.w(f"{self.image.describe(addr)} is a Go runtime function modelled in "
                       f"Python: {s.locations.native_doc(addr)}")
                return
            raise CommandError(f"no source for {addr:#x}")
        self.w(f"Showing {pos_text(ins.pos)} (PC: {addr:#x})")
        here = self.image.code.get(s.machine.cpu.pc)
        mark = here is not None and here.pos is not None and \
            os.path.abspath(here.pos.file) == os.path.abspath(ins.pos.file)
        line = here.pos.line if mark else ins.pos.line
        self.print_source(os.path.abspath(ins.pos.file), ins.pos.line, 5, 5, mark=mark,
                          current=line)

    def cmd_disassemble(self, arg: str) -> None:
        """delve ``disassemble [-l <locspec>]``: the function's instructions as the
        loader executes them (prologue and stack-split check included)."""
        s = self.session
        spec = arg[3:].strip() if arg.startswith("-l ") else arg.strip()
        addr = s.resolve(spec)[0] if spec else s.machine.cpu.pc
        fn = s.unwinder.function(addr)
        if fn is None:
            raise CommandError(f"{self.image.describe(addr)} has no assembly "
                               "(a Go runtime function modelled in Python)")
        self.w(f"TEXT {fn.name}(SB) {rel(fn.file) if fn.file else ''}".rstrip())
        pc = s.machine.cpu.pc
        for ins in fn.instrs:
            mark = "=>" if ins.addr == pc else "  "
            pos = f"{os.path.basename(ins.pos.file)}:{ins.pos.line}" if ins.pos else ""
            self.w(f"{mark}\t{pos}\t{ins.addr:#x}\t{str(ins).replace(chr(9), ' ')}")

    def cmd_funcs(self, arg: str) -> None:
        """delve ``funcs [<regex>]``."""
        from goasm.image import SymKind

        try:
            rx = re.compile(arg) if arg else None
        except re.error as err:
            raise CommandError(f"bad regex: {err}") from None
        for name, sym in sorted(self.image.symbols.items()):
            if sym.kind not in (SymKind.TEXT, SymKind.NATIVE):
                continue
            if rx is None or rx.search(name):
                self.w(name + ("  (modelled in Python)" if sym.kind is SymKind.NATIVE else ""))

    def cmd_events(self, arg: str) -> None:
        """The runtime model's event log (what ``goasm run --trace`` prints as ``#``)."""
        n = self.count(arg) if arg else 20
        for ev in self.session.model.events[-n:]:
            self.w(f"[step {getattr(ev, 'step', '?')}] {ev}")

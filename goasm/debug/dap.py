"""``goasm dap``: a Debug Adapter Protocol server over stdio (the DAP specification,
microsoft.github.io/debug-adapter-protocol), so VS Code and other editors debug Go
assembly with goasm as they debug Go with delve.

It is a second front end over :class:`goasm.debug.session.Session`: requests become
session calls, stops become ``stopped`` events, program output becomes ``output``
events. Launch arguments: ``program`` (a ``.s`` file, a list of them, or a package
directory), ``args``, ``env`` (an object or ``K=V`` strings), ``goroot``, ``cpu``,
``cwd``, ``stopOnEntry``, ``noDebug``. Threads are goroutines (:mod:`goasm.debug.goroutines`); the
exception breakpoint filter ``fault`` (on by default) stops at a fault with Go's crash
text, otherwise the program dies of it as a real Go program does (exit status 2).

Requests are read on a thread of their own, so ``pause`` reaches a running program;
everything else is handled in order on the main thread.
"""

from __future__ import annotations

import base64
import bisect
import os
import queue
import sys
import threading

from goasm.debug.dap_vars import VariableStore
from goasm.debug.dap_wire import Channel, OutputSink, ProtocolError, read_message
from goasm.debug.errors import CommandError
from goasm.debug.goroutines import SYSTEM_THREAD_BASE
from goasm.errors import GoasmError

CAPABILITIES = {
    "supportsConfigurationDoneRequest": True,
    "supportsFunctionBreakpoints": True,
    "supportsConditionalBreakpoints": True,
    "supportsStepBack": True,
    "supportsSetVariable": True,
    "supportsEvaluateForHovers": True,
    "supportsReadMemoryRequest": True,
    "supportsDisassembleRequest": True,
    "supportsSteppingGranularity": True,
    "supportsInstructionBreakpoints": False,
    "supportsExceptionInfoRequest": True,
    "supportsTerminateRequest": True,
    "supportsRestartRequest": True,
    "supportsDataBreakpoints": True,
    "supportTerminateDebuggee": True,
    "exceptionBreakpointFilters": [
        {"filter": "fault", "label": "Faults (SIGSEGV, SIGFPE, ...)", "default": True,
         "description": "Stop where the program faults, with Go's crash report"}],
}

_WATCH_MODES = {"read": "r", "write": "w", "readWrite": "rw"}
_REVERSE = frozenset({"rev_step", "rev_next", "rev_continue", "rev_stepout"})


def _src(path: str) -> dict:
    return {"name": os.path.basename(path), "path": path}


class DapServer:
    """One DAP session over a pair of binary streams."""

    def __init__(self, rfile, wfile, *, log=None) -> None:
        self.rfile = rfile
        self.chan = Channel(wfile, log)
        self.log = log
        self.session = None
        self.store = None
        self.launch_args: dict = {}
        self.source_bps: dict = {}
        self.function_bps: list = []
        self.data_bps: list = []
        self.stop_on_fault = True
        self.frame_refs: dict = {}
        self.last_fault = None
        self.requests: queue.Queue = queue.Queue()
        self.done = False
        self._cli = None

    # ------------------------------------------------------------------ loop

    def serve(self) -> int:
        """Handle requests until ``disconnect`` or the end of the input."""
        threading.Thread(target=self._reader, daemon=True).start()
        while not self.done:
            msg = self.requests.get()
            if msg is None:
                break
            if msg.get("type") == "request":
                self.dispatch(msg)
        return 0

    def _reader(self) -> None:
        while True:
            try:
                msg = read_message(self.rfile)
            except ProtocolError as err:
                self.chan.event("output", {"category": "console",
                                           "output": f"goasm dap: {err}\n"})
                continue
            if msg is not None and self.log is not None:
                import json

                self.log.write("-> " + json.dumps(msg) + "\n")
                self.log.flush()
            if msg is not None and self.session and \
                    msg.get("command") in ("pause", "disconnect", "terminate"):
                self.session.pause()            # a running program stops soon
            self.requests.put(msg)
            if msg is None:
                return

    def dispatch(self, req: dict) -> None:
        handler = getattr(self, "on_" + req.get("command", ""), None)
        if handler is None:
            self.chan.respond(req, error=f"goasm does not support the request "
                                         f"{req.get('command')!r}")
            return
        try:
            result = handler(req.get("arguments") or {})
        except Exception as err:  # noqa: BLE001 -- every failure is an error response
            self.chan.respond(req, error=self._message(err))
            return
        if not isinstance(result, Reply):
            self.chan.respond(req, result)
            return
        self.chan.respond(req, result.body)
        if result.then is None:
            return
        try:
            result.then()
        except Exception as err:  # noqa: BLE001 -- answered already: report, stay stopped
            msg = self._message(err)
            self._console(f"goasm: {msg}")
            self.chan.event("stopped", {"reason": "step", "description": msg,
                                        "threadId": self._current_id(),
                                        "allThreadsStopped": True})

    @staticmethod
    def _message(err: Exception) -> str:
        if isinstance(err, (CommandError, GoasmError)):
            render = getattr(err, "render", None)
            return render() if render else str(err)
        if os.environ.get("GOASM_DEBUG"):
            import traceback

            traceback.print_exc()
        return f"internal error: {type(err).__name__}: {err}"

    def _current_id(self) -> int:
        thread = self.session.goroutines.current() if self.session else None
        return thread.id if thread is not None else SYSTEM_THREAD_BASE

    def _need(self):
        if self.session is None:
            raise CommandError("no program: send 'launch' first")
        return self.session

    def _console(self, text: str) -> None:
        self.chan.event("output", {"category": "console", "output": text + "\n"})

    # ------------------------------------------------------------------ lifecycle

    def on_initialize(self, args):
        return Reply(CAPABILITIES, lambda: self.chan.event("initialized"))

    def on_launch(self, args):
        from goasm.debug.session import Session

        program = args.get("program")
        if not program:
            raise CommandError("launch: 'program' (a .s file, several, or a folder) is "
                               "required")
        files = [program] if isinstance(program, str) else list(program)
        cwd = args.get("cwd")
        if cwd:
            files = [os.path.join(cwd, f) for f in files]
        env = args.get("env") or {}
        env = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) else list(env)
        self.launch_args = args
        self.session = Session(
            files, argv=[str(a) for a in args.get("args") or ()], env=env,
            cpu=args.get("cpu"), goroot=args.get("goroot"),
            include_dirs=tuple(args.get("includeDirs") or ()),
            defines=list(args.get("defines") or ()),
            program_stdout=OutputSink(self.chan, "stdout"),
            program_stderr=OutputSink(self.chan, "stderr"))
        self.session.on_notice = self._console
        self.store = VariableStore(self.session)
        return None

    def on_configurationDone(self, args):
        s = self._need()
        if self.launch_args.get("stopOnEntry"):
            from goasm.debug.session import Stop

            m = s.machine
            return Reply(None, lambda: self._report(Stop("entry", m.cpu.pc, m.steps)))
        if self.launch_args.get("noDebug"):
            self.stop_on_fault = False
            return self._run(lambda: s.resume(use_bps=False))
        return self._run(s.cont)

    def on_disconnect(self, args):
        self.done = True
        return None

    def on_terminate(self, args):
        self.done = True
        return Reply(None, lambda: self.chan.event("terminated"))

    def on_restart(self, args):
        self._need().restart()
        return self.on_configurationDone(args)

    # ------------------------------------------------------------------ running

    def _run(self, fn, body=None):
        """Answer the request, then run ``fn`` and report where it stopped."""
        s = self._need()
        if getattr(fn, "__name__", "") not in _REVERSE:
            if s.dead and s.fault is not None:
                return Reply(body, self._die_of_fault)      # no going on after a fault
            s.require_live()
        elif s.machine.steps == 0:
            raise CommandError("already at the start of the program (step 0)")
        return Reply(body, lambda: self._report(fn()))

    def on_continue(self, args):
        return self._run(self._need().cont, body={"allThreadsContinued": True})

    def on_next(self, args):
        s = self._need()
        if args.get("granularity") == "instruction":
            return self._run(s.next)
        return self._run(lambda: s.step_line(over=True))

    def on_stepIn(self, args):
        s = self._need()
        if args.get("granularity") == "instruction":
            return self._run(s.step)
        return self._run(lambda: s.step_line(over=False))

    def on_stepOut(self, args):
        return self._run(self._need().stepout)

    def on_stepBack(self, args):
        s = self._need()
        return self._run(s.rev_step if args.get("granularity") == "instruction"
                         else s.rev_next)

    def on_reverseContinue(self, args):
        return self._run(self._need().rev_continue)

    def on_pause(self, args):
        return None          # the reader thread has told the session already

    def _report(self, stop) -> None:
        """Events for a stop: runtime events as console output, then ``stopped``, or
        ``exited`` and ``terminated``."""
        s = self.session
        self.frame_refs.clear()
        self.store.reset()
        for ev in s.new_events()[-20:]:
            self._console(f"# {ev}")
        if stop.kind == "exit":
            self.chan.event("exited", {"exitCode": stop.status})
            self.chan.event("terminated")
            return
        body = {"threadId": self._current_id(), "allThreadsStopped": True}
        if stop.kind in ("fault", "error"):
            self.last_fault = stop
            if stop.kind == "fault" and not self.stop_on_fault:
                self._die_of_fault()
                return
            text = self._fault_text(stop)
            body.update(reason="exception", description=text.splitlines()[0], text=text)
        elif stop.watch is not None:
            h = stop.watch
            body.update(reason="data breakpoint", hitBreakpointIds=[stop.bp.id],
                        description=f"{h.access} of {stop.bp.spec}: {h.old:#x} -> {h.new:#x}")
        elif stop.bp is not None:
            fn = stop.bp in self.function_bps
            body.update(reason="function breakpoint" if fn else "breakpoint",
                        hitBreakpointIds=[stop.bp.id])
        else:
            body["reason"] = {"entry": "entry", "interrupt": "pause"}.get(stop.kind, "step")
            if stop.kind == "start":
                body["description"] = "reached the start of the program (step 0)"
        self.chan.event("stopped", body)

    def _fault_text(self, stop) -> str:
        if stop.kind == "fault":
            from goasm.machine import report

            return report.format_fault(self.session.machine, stop.fault)
        render = getattr(stop.fault, "render", None)
        return f"goasm: {render() if render else stop.fault}\n"

    def _die_of_fault(self) -> None:
        """What a real Go program does after a fault: the crash report on stderr and
        exit status 2."""
        self.chan.event("output", {"category": "stderr",
                                   "output": self._fault_text(self.last_fault)})
        self.chan.event("exited", {"exitCode": 2})
        self.chan.event("terminated")

    # ------------------------------------------------------------------ breakpoints

    def _replace(self, old: list, wanted, make) -> tuple:
        """Remove the breakpoints ``old``; make one per item of ``wanted`` with
        ``make(item)``. Returns (the breakpoints made, DAP Breakpoint objects)."""
        s = self._need()
        for bp in old:
            s.breakpoints.remove(bp)
        made, out = [], []
        for want in wanted or ():
            try:
                bp = make(want)
            except CommandError as err:
                out.append({"verified": False, "message": str(err)})
                continue
            made.append(bp)
            out.append({"id": bp.id, "verified": True, "message": bp.desc})
        return made, out

    @staticmethod
    def _cond(want: dict) -> str:
        return f" if {want['condition']}" if want.get("condition") else ""

    def on_setBreakpoints(self, args):
        s = self._need()
        path = (args.get("source") or {}).get("path") or ""
        made, out = self._replace(
            self.source_bps.pop(path, []), args.get("breakpoints"),
            lambda want: s.add_breakpoint(f"{path}:{int(want.get('line', 0))}"
                                          + self._cond(want)))
        self.source_bps[path] = made
        for want, item in zip(args.get("breakpoints") or (), out):
            item["line"] = int(want.get("line", 0))
            if item["verified"]:
                ins = s.image.code.get(s.breakpoints.get(item["id"]).addrs[0])
                if ins is not None and ins.pos is not None:
                    item.update(source=_src(os.path.realpath(ins.pos.file)),
                                line=ins.pos.line)
        return {"breakpoints": out}

    def on_setFunctionBreakpoints(self, args):
        s = self._need()
        self.function_bps, out = self._replace(
            self.function_bps, args.get("breakpoints"),
            lambda want: s.add_breakpoint(want.get("name", "") + self._cond(want)))
        return {"breakpoints": out}

    def on_setExceptionBreakpoints(self, args):
        self.stop_on_fault = "fault" in (args.get("filters") or ())
        return {"breakpoints": [{"verified": True}] * len(args.get("filters") or ())}

    def on_exceptionInfo(self, args):
        if self.last_fault is None:
            raise CommandError("no exception")
        text = self._fault_text(self.last_fault)
        return {"exceptionId": getattr(self.last_fault.fault, "signal", None) or "error",
                "description": text.splitlines()[0], "breakMode": "always",
                "details": {"message": text, "typeName": type(self.last_fault.fault).__name__}}

    def on_dataBreakpointInfo(self, args):
        s = self._need()
        name = args.get("name", "")
        ref = args.get("variablesReference")
        try:
            if ref:
                item = next(v for v in self.store.variables(ref) if v["name"] == name)
                v = s.evaluate(item.get("evaluateName") or name,
                               self._frame_of_ref(ref))
            else:
                v = s.evaluate(name)
        except (CommandError, StopIteration):
            v = None
        if v is None or v.addr is None or v.is_aggregate:
            return {"dataId": None, "description": f"{name} is not a value in memory"}
        return {"dataId": f"{v.addr:#x}/{v.nbytes}", "description": name,
                "accessTypes": list(_WATCH_MODES), "canPersist": True}

    def on_setDataBreakpoints(self, args):
        s = self._need()

        def make(want):
            addr, _, size = want.get("dataId", "").partition("/")
            mode = _WATCH_MODES.get(want.get("accessType", "write"), "w")
            return s.watch_range(mode, int(addr, 0), int(size), want.get("dataId"))
        self.data_bps, out = self._replace(self.data_bps, args.get("breakpoints"), make)
        return {"breakpoints": out}

    # ------------------------------------------------------------------ state

    def on_threads(self, args):
        s = self._need()
        return {"threads": [{"id": t.id, "name": t.name} for t in s.goroutines.threads()]}

    def _thread(self, ident):
        s = self._need()
        current = s.goroutines.current()
        if current is not None and (ident is None or ident == current.id):
            return current
        return s.goroutines.thread(ident)

    def on_stackTrace(self, args):
        s = self._need()
        thread = self._thread(args.get("threadId"))
        start = int(args.get("startFrame") or 0)
        levels = int(args.get("levels") or 0) or 1000
        frames = s.frames(thread, limit=start + levels + 1)
        out = []
        for fr in frames[start:start + levels]:
            ref = len(self.frame_refs) + 1
            self.frame_refs[ref] = fr
            item = {"id": ref, "name": s.image.describe(fr.pc), "line": 0, "column": 0,
                    "instructionPointerReference": f"{fr.pc:#x}"}
            if fr.pos is not None and fr.pos.line > 0:
                item.update(source=_src(os.path.realpath(fr.pos.file)), line=fr.pos.line,
                            column=max(1, getattr(fr.pos, "col", 1) or 1))
            else:
                item["presentationHint"] = "subtle"
            out.append(item)
        return {"stackFrames": out, "totalFrames": len(frames)}

    def _frame(self, ref):
        if ref is None:
            return None
        if ref not in self.frame_refs:
            raise CommandError(f"no frame {ref} (the program ran since)")
        return self.frame_refs[ref]

    def _frame_of_ref(self, ref):
        container = self.store.get(ref)
        return container[1] if len(container) > 1 and hasattr(container[1], "pc") else None

    def on_scopes(self, args):
        self._need()
        return {"scopes": self.store.scopes(self._frame(args.get("frameId")))}

    def on_variables(self, args):
        self._need()
        return {"variables": self.store.variables(int(args["variablesReference"]))}

    def on_setVariable(self, args):
        self._need()
        return self.store.set(int(args["variablesReference"]), args["name"], args["value"])

    def on_evaluate(self, args):
        s = self._need()
        text = args.get("expression", "")
        if args.get("context") == "repl" and text.startswith("dlv "):
            return self._cli_command(text[4:])
        v = s.evaluate(args.get("expression", ""), self._frame(args.get("frameId")))
        item = self.store.value_var("", v)
        return {"result": item["value"], "type": item["type"],
                "variablesReference": item["variablesReference"],
                **({"memoryReference": item["memoryReference"]}
                   if "memoryReference" in item else {})}

    def _cli_command(self, line: str):
        """``dlv <command>`` in the Debug Console: a ``goasm debug`` command on this
        session (its output is the result; a command that ran the program is
        reported as a stop)."""
        import io

        from goasm.debug.cli import Debugger
        from goasm.debug.session import Stop

        s = self.session
        out = io.StringIO()
        if self._cli is None or self._cli.session is not s:
            self._cli = Debugger(session=s, stdout=out, color=False)
        self._cli.out = out
        before = (s.machine.steps, s.dead)
        self._cli.onecmd(line)
        body = {"result": out.getvalue().rstrip("\n"), "variablesReference": 0}
        if (s.machine.steps, s.dead) == before:
            return body
        m = s.machine
        from goasm.errors import MachineFault

        kind = "exit" if s.dead == "exited" else "limit" if s.fault is None else \
            "fault" if isinstance(s.fault, MachineFault) else "error"
        stop = Stop(kind, m.cpu.pc, m.steps, status=m.exit_status, fault=s.fault)
        return Reply(body, lambda: self._report(stop))

    def on_readMemory(self, args):
        s = self._need()
        addr = (int(args["memoryReference"], 0) + int(args.get("offset") or 0)) % (1 << 64)
        count = int(args.get("count") or 0)
        data = bytearray()
        while len(data) < count:
            a = addr + len(data)
            chunk = min(count - len(data), 4096 - (a & 4095))
            if not s.mapped(a, chunk):
                break
            data += s.peek(a, chunk)
        return {"address": f"{addr:#x}", "data": base64.b64encode(bytes(data)).decode(),
                "unreadableBytes": count - len(data)}

    def on_disassemble(self, args):
        s = self._need()
        addr = int(args["memoryReference"], 0) + int(args.get("offset") or 0)
        code = sorted(set(s.image.code) | set(s.machine.natives))
        i = bisect.bisect_left(code, addr) + int(args.get("instructionOffset") or 0)
        out = []
        for j in range(i, i + int(args.get("instructionCount") or 0)):
            if not 0 <= j < len(code):
                out.append({"address": "0x0", "instruction": "??",
                            "presentationHint": "invalid"})
                continue
            a = code[j]
            ins = s.image.code.get(a)
            item = {"address": f"{a:#x}", "symbol": s.image.describe(a),
                    "instruction": str(ins).replace("\t", " ") if ins is not None
                    else "(a Go runtime function modelled in Python)"}
            if ins is not None and ins.pos is not None:
                item.update(location=_src(os.path.realpath(ins.pos.file)),
                            line=ins.pos.line)
            out.append(item)
        return {"instructions": out}


class Reply:
    """A response body and what to do once it is sent (run requests run then)."""

    def __init__(self, body=None, then=None) -> None:
        self.body = body
        self.then = then


def main(ns) -> int:
    """Serve DAP on stdin/stdout (``goasm dap``). The process ends here: the request
    reader may be blocked reading stdin, which Python cannot interrupt at shutdown."""
    log = open(ns.log, "w", encoding="utf-8") if getattr(ns, "log", None) else None
    try:
        status = DapServer(sys.stdin.buffer, sys.stdout.buffer, log=log).serve()
    finally:
        if log is not None:
            log.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)

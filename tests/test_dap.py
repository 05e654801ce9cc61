"""``goasm dap`` spoken to by a scripted DAP client (tests/dap_client.py) over stdio.

Oracles: the machine state ``goasm run --until`` reaches by the fast loop
(``api.run(..., until=...)``), the program's own output and exit status from
``goasm run``, and the crash report ``goasm run`` prints for a fault.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

from dap_client import DapClient
from goasm import api

REPO = Path(__file__).resolve().parent.parent
RECURSION = REPO / "examples" / "recursion" / "recursion.s"
SYS_S = REPO / "runtime_s" / "sys_linux_amd64.s"


def readme_launch_config() -> dict:
    """The launch.json of the README's "Debugging in VS Code" section, with
    ``${workspaceFolder}`` as VS Code expands it."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Debugging in VS Code"):]
    block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    config = json.loads(block.replace("${workspaceFolder}", str(REPO)))
    (launch,) = config["configurations"]
    assert launch["type"] == "goasm" and launch["request"] == "launch"
    return launch


def line_of(path: Path, pattern: str, after: str = "") -> int:
    """The first line matching ``pattern`` (after the first line matching ``after``)."""
    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if after in ln) if after else 0
    return next(i for i, ln in enumerate(lines) if i >= start and re.search(pattern, ln)) + 1


def variables(client, frame_id: int, scope: str) -> dict:
    """name -> variable of one scope of a frame."""
    scopes = client.body("scopes", {"frameId": frame_id})["scopes"]
    ref = next(s["variablesReference"] for s in scopes if s["name"] == scope)
    return {v["name"]: v for v in client.body("variables", {"variablesReference": ref})
            ["variables"]}


def top_frame(client, thread_id: int) -> dict:
    return client.body("stackTrace", {"threadId": thread_id, "startFrame": 0,
                                      "levels": 20})["stackFrames"][0]


def start(client, launch: dict, breakpoints: dict, *, filters=("fault",)) -> dict:
    init = client.body("initialize", {"adapterID": "goasm", "linesStartAt1": True,
                                      "columnsStartAt1": True, "pathFormat": "path"})
    assert init["supportsStepBack"] and init["supportsConfigurationDoneRequest"]
    client.request("launch", launch)
    client.wait_event("initialized")
    for path, lines in breakpoints.items():
        client.body("setBreakpoints", {"source": {"path": str(path)},
                                       "breakpoints": [{"line": n} for n in lines]})
    client.request("setExceptionBreakpoints", {"filters": list(filters)})
    client.request("configurationDone", {})
    return init


def output_text(client, category: str) -> str:
    return "".join(e["body"]["output"] for e in client.drain("output")
                   if e["body"]["category"] == category)


# --------------------------------------------------------------------------- acceptance 1

def test_protocol_session_breakpoints_registers_args_step_back_and_exit():
    launch = readme_launch_config()
    assert Path(launch["program"]) == RECURSION
    settls_syscall = line_of(SYS_S, r"^\s*SYSCALL", after="TEXT runtime·settls")
    sum_arg = line_of(RECURSION, r"MOVQ n\+0\(FP\), AX")
    oracle = api.run([RECURSION], until="runtime.check", stdout=io.BytesIO()).state
    expected = api.run([RECURSION], stdout=(out := io.BytesIO()))

    client = DapClient()
    try:
        start(client, launch, {SYS_S: [settls_syscall], RECURSION: [sum_arg]})

        # 1. a source breakpoint in runtime_s/: the arch_prctl SYSCALL of settls
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "breakpoint"
        tid = stopped["threadId"]
        assert tid in [t["id"] for t in client.body("threads")["threads"]]
        frame = top_frame(client, tid)
        assert Path(frame["source"]["path"]) == SYS_S.resolve()
        assert frame["line"] == settls_syscall and frame["name"] == "runtime.settls+0x4"
        regs = variables(client, frame["id"], "Registers")
        assert int(regs["FS"]["value"].split()[0], 16) == 0
        assert int(regs["AX"]["value"], 16) == 158                  # SYS_arch_prctl
        assert int(regs["DI"]["value"], 16) == 0x1002              # ARCH_SET_FS
        vectors = client.body("variables", {"variablesReference":
                                            regs["Vector registers"]["variablesReference"]})
        names = [v["name"] for v in vectors["variables"]]
        assert names == [f"Z{i}" for i in range(32)] + [f"K{i}" for i in range(8)] + ["MXCSR"]
        lanes = client.body("variables", {"variablesReference":
                                          vectors["variables"][0]["variablesReference"]})
        assert [v["name"] for v in lanes["variables"]] == [f"[{i}]" for i in range(8)]

        # 2. step over the SYSCALL: FS is set, to &m0.tls + 8 (DESIGN.md; goasm run agrees)
        client.request("next", {"threadId": tid})
        assert client.wait_event("stopped")["body"]["reason"] == "step"
        frame = top_frame(client, tid)
        assert frame["line"] == settls_syscall + 1
        fs = int(variables(client, frame["id"], "Registers")["FS"]["value"].split()[0], 16)
        assert fs == oracle["fs_base"] == oracle["m0"]["addr"] + 128 + 8
        res = client.body("evaluate", {"expression": "&m0.tls + 8", "frameId": frame["id"],
                                       "context": "repl"})
        assert res["result"].startswith(f"{fs:#x} ")
        for expr, want in (("-8(FS)", 0), ("g0.stack.hi", oracle["g0"]["stack_hi"])):
            res = client.body("evaluate", {"expression": expr, "frameId": frame["id"],
                                           "context": "hover"})
            assert res["result"].startswith(f"{want:#x} ({want})"), (expr, res)
        assert "# TLS base (FS) = " in output_text(client, "console")

        # 3. step back: before the SYSCALL again, FS is 0
        client.request("stepBack", {"threadId": tid})
        assert client.wait_event("stopped")["body"]["reason"] == "step"
        frame = top_frame(client, tid)
        assert frame["line"] == settls_syscall
        assert int(variables(client, frame["id"], "Registers")["FS"]["value"].split()[0],
                   16) == 0

        # 4. continue to a breakpoint in the user's file: FP arguments and locals
        client.request("continue", {"threadId": tid})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "breakpoint"
        threads = {t["name"]: t["id"] for t in client.body("threads")["threads"]}
        assert stopped["threadId"] == threads["Goroutine 1"] == 1
        frames = client.body("stackTrace", {"threadId": 1})["stackFrames"]
        assert [f["name"] for f in frames[:3]] == ["main.sum+0x6", "main.main+0x8",
                                                   "runtime.main"]
        assert Path(frames[0]["source"]["path"]) == RECURSION and \
            frames[0]["line"] == sum_arg
        args = variables(client, frames[0]["id"], "Arguments")
        assert args["n"]["value"].startswith("0x4e20 (20000)")
        assert args["n"]["evaluateName"] == "n+0(FP)" and args["n"]["type"] == "uint64"
        assert "ret" in args
        assert "saved" in variables(client, frames[0]["id"], "Locals")
        regs = variables(client, frames[0]["id"], "Registers")
        sp = int(regs["SP"]["value"].split()[0], 16)
        assert int(args["n"]["memoryReference"], 16) == sp + 112 + 8 + 8  # frame+BP+ret
        mem = client.body("readMemory", {"memoryReference": args["n"]["memoryReference"],
                                         "count": 8})
        assert int.from_bytes(base64.b64decode(mem["data"]), "little") == 20000
        for expr, want in (("n", 20000), ("n+0(FP)", 20000), ("g.goid", 1)):
            res = client.body("evaluate", {"expression": expr, "frameId": frames[0]["id"]})
            assert res["result"].startswith(f"{want:#x} ({want})"), (expr, res)
        caller = variables(client, frames[1]["id"], "Registers")    # main.main's frame
        assert int(caller["SP"]["value"].split()[0], 16) == sp + 112 + 8 + 8

        # 5. clear the breakpoints and run to the end: the program's output and status
        client.body("setBreakpoints", {"source": {"path": str(RECURSION)},
                                       "breakpoints": []})
        client.body("setBreakpoints", {"source": {"path": str(SYS_S)}, "breakpoints": []})
        client.request("continue", {"threadId": 1})
        assert client.wait_event("exited")["body"]["exitCode"] == expected.status == 0
        client.wait_event("terminated")
        assert output_text(client, "stdout") == out.getvalue().decode() == "200010000\n"
    finally:
        assert client.close() == 0


# --------------------------------------------------------------------------- acceptance 2

NIL_DEREF = "#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n" \
            "\tMOVQ $0, AX\n\tMOVQ AX, 8(AX)\n\tRET\n"


def test_fault_stops_with_gos_crash_text_and_then_exits_2(tmp_path):
    src = tmp_path / "nil.s"
    src.write_text(NIL_DEREF)
    expected = api.run([src], stdout=io.BytesIO())
    assert expected.status == 2
    client = DapClient()
    try:
        start(client, {"program": str(src)}, {})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "exception"
        assert stopped["description"] == ("panic: runtime error: invalid memory address or "
                                          "nil pointer dereference")
        assert stopped["text"] == expected.crash_report
        frame = top_frame(client, stopped["threadId"])
        assert frame["line"] == 4 and Path(frame["source"]["path"]) == src.resolve()
        info = client.body("exceptionInfo", {"threadId": stopped["threadId"]})
        assert info["exceptionId"] == "SIGSEGV" and info["details"]["message"] == \
            expected.crash_report
        client.request("continue", {"threadId": stopped["threadId"]})
        assert client.wait_event("exited")["body"]["exitCode"] == 2
        assert output_text(client, "stderr") == expected.crash_report
    finally:
        client.close()


def test_faults_filter_off_dies_like_the_program(tmp_path):
    src = tmp_path / "nil.s"
    src.write_text(NIL_DEREF)
    client = DapClient()
    try:
        start(client, {"program": str(src)}, {}, filters=())
        assert client.wait_event("exited")["body"]["exitCode"] == 2
        assert output_text(client, "stderr").startswith("panic: runtime error: invalid")
        assert not client.drain("stopped")
    finally:
        client.close()


# --------------------------------------------------------------------------- more requests

def test_function_breakpoints_stepping_reverse_set_variable_and_disassembly():
    client = DapClient()
    try:
        start(client, {"program": str(RECURSION), "stopOnEntry": True}, {})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "entry"
        tid = stopped["threadId"]
        assert top_frame(client, tid)["name"] == "_rt0_amd64_linux"
        bad = client.request("stepBack", {"threadId": tid}, ok=False)
        assert "already at the start of the program" in bad["message"]
        bps = client.body("setFunctionBreakpoints",
                          {"breakpoints": [{"name": "settls"}, {"name": "main.sum"},
                                           {"name": "nosuch"}]})["breakpoints"]
        assert [b["verified"] for b in bps] == [True, True, False]
        client.request("continue", {"threadId": tid})
        assert client.wait_event("stopped")["body"]["reason"] == "function breakpoint"
        assert top_frame(client, tid)["name"] == "runtime.settls"
        client.request("stepOut", {"threadId": tid})
        client.wait_event("stopped")
        assert top_frame(client, tid)["name"] == "runtime.rt0_go+0x1f"
        client.request("continue", {"threadId": tid})
        client.wait_event("stopped")
        frame = top_frame(client, 1)
        assert frame["name"] == "main.sum"
        # stepIn by line: over the prologue (all on the TEXT line) to the first statement
        client.request("stepIn", {"threadId": 1})
        client.wait_event("stopped")
        frame = top_frame(client, 1)
        assert frame["name"] == "main.sum+0x6" and frame["line"] == \
            line_of(RECURSION, r"MOVQ n\+0\(FP\), AX")
        # one instruction; then set a register and an argument
        client.request("next", {"threadId": 1, "granularity": "instruction"})
        client.wait_event("stopped")
        frame = top_frame(client, 1)
        scopes = client.body("scopes", {"frameId": frame["id"]})["scopes"]
        refs = {s["name"]: s["variablesReference"] for s in scopes}
        assert client.body("setVariable", {"variablesReference": refs["Registers"],
                                           "name": "AX", "value": "0x10"})["value"] == "0x10"
        assert client.body("setVariable", {"variablesReference": refs["Arguments"],
                                           "name": "n", "value": "3"})["value"] == "0x3 (3)"
        res = client.body("evaluate", {"expression": "n + AX", "frameId": frame["id"]})
        assert res["result"].startswith("0x13 (19)")
        # runtime structs decoded
        runtime = variables(client, frame["id"], "Runtime")
        assert runtime["g"]["value"].startswith("runtime.g @ 0x")
        fields = {v["name"]: v for v in client.body(
            "variables", {"variablesReference": runtime["g"]["variablesReference"]})
            ["variables"]}
        assert fields["goid"]["value"] == "1" and "hi" in fields["stack"]["value"]
        # disassembly around PC, and reverse-continue back to the function breakpoint
        pc = frame["instructionPointerReference"]
        dis = client.body("disassemble", {"memoryReference": pc, "instructionOffset": -2,
                                          "instructionCount": 5})["instructions"]
        assert [d["address"] for d in dis][2] == pc and "TESTQ AX, AX" in dis[2]["instruction"]
        client.request("reverseContinue", {"threadId": 1})
        assert client.wait_event("stopped")["body"]["reason"] == "function breakpoint"
        assert top_frame(client, 1)["name"] == "main.sum"
        client.request("reverseContinue", {"threadId": 1})
        client.wait_event("stopped")
        assert top_frame(client, tid)["name"] == "runtime.settls"
        bad = client.request("evaluate", {"expression": "nosuch + 1"}, ok=False)
        assert "nosuch" in bad["message"]
        # goasm debug's commands in the Debug Console
        res = client.body("evaluate", {"expression": "dlv stack", "context": "repl"})
        assert res["result"].startswith(" 0  0x") and "runtime.settls" in res["result"]
        res = client.body("evaluate", {"expression": "dlv stepout", "context": "repl"})
        assert "runtime.rt0_go+0x1f()" in res["result"]
        assert client.wait_event("stopped")["body"]["reason"] == "step"
        client.request("terminate", {})
        client.wait_event("terminated")
    finally:
        client.close()


def test_data_breakpoint_and_pause(tmp_path):
    src = tmp_path / "spin.s"
    src.write_text("#include \"textflag.h\"\nTEXT ·main(SB), NOSPLIT, $0\n"
                   "loop:\n\tINCQ AX\n\tJMP loop\n")
    client = DapClient()
    try:
        start(client, {"program": str(src), "stopOnEntry": True}, {})
        tid = client.wait_event("stopped")["body"]["threadId"]
        info = client.body("dataBreakpointInfo", {"name": "g0.stackguard0"})
        assert info["dataId"] and "write" in info["accessTypes"]
        client.body("setDataBreakpoints", {"breakpoints": [{"dataId": info["dataId"],
                                                            "accessType": "write"}]})
        client.request("continue", {"threadId": tid})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "data breakpoint" and "write" in stopped["description"]
        client.body("setDataBreakpoints", {"breakpoints": []})
        client.request("continue", {"threadId": tid})
        time.sleep(0.5)
        client.request("pause", {"threadId": tid})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "pause"
        assert top_frame(client, 1)["name"].startswith("main.main")
        client.request("continue", {"threadId": tid})
        time.sleep(0.2)
        assert client.close() == 0              # disconnect reaches a running program
    finally:
        client.close()


def test_no_debug_runs_to_the_end(tmp_path):
    client = DapClient()
    try:
        start(client, {"program": str(RECURSION), "noDebug": True}, {RECURSION: [48]})
        assert client.wait_event("exited")["body"]["exitCode"] == 0
        assert output_text(client, "stdout") == "200010000\n"
        assert not client.drain("stopped")
    finally:
        client.close()


def test_launch_errors_are_reported(tmp_path):
    bad = tmp_path / "bad.s"
    bad.write_text("TEXT ·main(SB), $0\n\tFROB AX\n")
    client = DapClient()
    try:
        client.body("initialize", {"adapterID": "goasm"})
        resp = client.request("launch", {"program": str(bad)}, ok=False)
        assert "bad.s:2" in resp["message"]
        resp = client.request("threads", {}, ok=False)
        assert "launch" in resp["message"]
        resp = client.request("frobnicate", {}, ok=False)
        assert "frobnicate" in resp["message"]
    finally:
        assert client.close() == 0


def test_breakpoint_in_the_go_releases_own_runtime_files(goroot):
    """With ``goroot``, breakpoints go on the Go release's runtime ``.s`` lines."""
    sys_s = Path(goroot) / "src" / "runtime" / "sys_linux_amd64.s"
    line = line_of(sys_s, r"^\s*SYSCALL", after="TEXT runtime·settls")
    hello = REPO / "examples" / "hello" / "hello.s"
    client = DapClient()
    try:
        start(client, {"program": str(hello), "goroot": str(goroot)}, {sys_s: [line]})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "breakpoint"
        frame = top_frame(client, stopped["threadId"])
        assert Path(frame["source"]["path"]) == sys_s.resolve() and frame["line"] == line
        client.request("next", {"threadId": stopped["threadId"]})
        client.wait_event("stopped")
        frame = top_frame(client, stopped["threadId"])
        fs = int(variables(client, frame["id"], "Registers")["FS"]["value"].split()[0], 16)
        m0 = client.body("evaluate", {"expression": "&m0.tls + 8", "frameId": frame["id"]})
        assert fs and m0["result"].startswith(f"{fs:#x} ")
        client.body("setBreakpoints", {"source": {"path": str(sys_s)}, "breakpoints": []})
        client.request("continue", {"threadId": stopped["threadId"]})
        assert client.wait_event("exited")["body"]["exitCode"] == 0
        assert output_text(client, "stdout") == "hello, world\n"
    finally:
        client.close()

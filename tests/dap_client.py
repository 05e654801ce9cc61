"""A scripted Debug Adapter Protocol client for the tests: runs ``goasm dap`` as a
subprocess and speaks the base protocol (Content-Length framing, the DAP
specification) over its stdin/stdout, independently of goasm's own framing code."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class DapClient:
    """``request`` sends a request and returns its response; events are kept in order
    and ``wait_event`` takes the next one of a kind."""

    def __init__(self, *extra_args: str, cwd=REPO) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "goasm", "dap", *extra_args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd)
        self.seq = 0
        self.inbox: queue.Queue = queue.Queue()
        self.events: list = []
        self.responses: dict = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            self._read_messages()
        except (OSError, ValueError):       # the stream was closed under us
            self.inbox.put(None)

    def _read_messages(self) -> None:
        out = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                ch = out.read(1)
                if not ch:
                    self.inbox.put(None)
                    return
                header += ch
            fields = dict(line.split(": ", 1) for line in
                          header.decode("ascii").strip().split("\r\n"))
            body = out.read(int(fields["Content-Length"]))
            self.inbox.put(json.loads(body))

    def _pump(self, timeout: float) -> None:
        msg = self.inbox.get(timeout=timeout)
        if msg is None:
            raise AssertionError("goasm dap ended: " + self.proc.stderr.read().decode())
        if msg["type"] == "event":
            self.events.append(msg)
        elif msg["type"] == "response":
            self.responses[msg["request_seq"]] = msg

    def send(self, command: str, arguments=None) -> int:
        self.seq += 1
        msg = {"seq": self.seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return self.seq

    def request(self, command: str, arguments=None, *, ok: bool = True,
                timeout: float = 60.0) -> dict:
        seq = self.send(command, arguments)
        deadline = time.monotonic() + timeout
        while seq not in self.responses:
            self._pump(max(0.01, deadline - time.monotonic()))
        resp = self.responses.pop(seq)
        if ok:
            assert resp["success"], resp
        return resp

    def body(self, command: str, arguments=None) -> dict:
        return self.request(command, arguments).get("body") or {}

    def wait_event(self, name: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["event"] == name:
                    return self.events.pop(i)
            self._pump(max(0.01, deadline - time.monotonic()))

    def drain(self, name: str) -> list:
        """The events of a kind received so far (removed)."""
        got = [e for e in self.events if e["event"] == name]
        self.events = [e for e in self.events if e["event"] != name]
        return got

    def close(self) -> int:
        try:
            if self.proc.poll() is None:
                self.send("disconnect", {})
            return self.proc.wait(timeout=30)
        finally:
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    f.close()
                except OSError:
                    pass

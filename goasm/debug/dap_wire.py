"""The Debug Adapter Protocol's base protocol: JSON messages framed by a
``Content-Length`` header, over a byte stream (the DAP specification, "Base Protocol").

::

    Content-Length: 119\\r\\n
    \\r\\n
    {"seq": 1, "type": "request", "command": "initialize", "arguments": {...}}

:func:`read_message` reads one message; :class:`Channel` writes responses and events
(with their own ``seq`` numbers) from any thread.
"""

from __future__ import annotations

import json
import threading

from goasm.errors import GoasmError


class ProtocolError(GoasmError):
    """A message that does not follow the base protocol."""


def read_message(stream) -> dict | None:
    """The next message from a binary stream, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.rstrip(b"\r\n")
        if not line:
            if length is None:
                continue                 # blank lines between messages
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(f"bad Content-Length header {line!r}") from None
    body = stream.read(length)
    if len(body) < length:
        return None
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"a message is not JSON: {err}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message is not a JSON object")
    return msg


def encode(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Channel:
    """Writes messages to a binary stream; ``log`` (a text stream) gets a copy."""

    def __init__(self, stream, log=None) -> None:
        self.stream = stream
        self.log = log
        self.seq = 0
        self.lock = threading.Lock()

    def send(self, msg: dict) -> None:
        with self.lock:
            self.seq += 1
            msg = {"seq": self.seq, **msg}
            self.stream.write(encode(msg))
            self.stream.flush()
            if self.log is not None:
                self.log.write("<- " + json.dumps(msg) + "\n")
                self.log.flush()

    def respond(self, request: dict, body=None, *, error: str | None = None) -> None:
        msg = {"type": "response", "request_seq": request.get("seq", 0),
               "command": request.get("command", ""), "success": error is None}
        if error is not None:
            msg["message"] = error
        elif body is not None:
            msg["body"] = body
        self.send(msg)

    def event(self, name: str, body=None) -> None:
        msg = {"type": "event", "event": name}
        if body is not None:
            msg["body"] = body
        self.send(msg)


class OutputSink:
    """A binary stream (what the emulated program writes to) that becomes DAP
    ``output`` events of one category (``stdout``, ``stderr``, ``console``)."""

    def __init__(self, channel: Channel, category: str) -> None:
        import codecs

        self.channel = channel
        self.category = category
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, data) -> int:
        text = data if isinstance(data, str) else self._decoder.decode(bytes(data))
        if text:
            self.channel.event("output", {"category": self.category, "output": text})
        return len(data)

    def flush(self) -> None:
        pass

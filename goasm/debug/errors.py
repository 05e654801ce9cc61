"""The debugger's one error type (shared by the session and both front ends)."""

from __future__ import annotations


class CommandError(Exception):
    """A request cannot be carried out: the CLI shows ``Command failed: <message>``, the
    DAP server answers the request with ``success: false`` and the message."""

"""The files an emulated process can open, and its file descriptors.

Nothing on the host is ever opened: the only files are those of :data:`FILES` (fixed
content, the ones the Go runtime probes at start-up and finds on a typical Linux
machine) plus whatever a caller adds; every other path is ``ENOENT``, and opening for
writing fails with ``EROFS`` (a read-only file system). The standard streams 0, 1 and
2 are the host streams goasm was given (see :mod:`goasm.machine.syscalls`).

Descriptors (open(2), fcntl(2), eventfd(2), epoll(7)): a table ``fd -> Descriptor``,
where a :class:`Descriptor` holds the open file description (shared by ``dup``) and
the descriptor's own ``FD_CLOEXEC`` flag. Descriptions are plain Python objects
(:class:`StdStream`, :class:`RegularFile`, :class:`EventFd`, :class:`Pipe` ends,
:class:`Epoll`) so the
debugger's snapshots copy them with the rest of the kernel.
"""

from __future__ import annotations

import posixpath
import types

import attrs

# open(2) flags (include/uapi/asm-generic/fcntl.h).
O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE = 0, 1, 2, 3
O_CREAT = 0o100
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DIRECTORY = 0o200000
O_CLOEXEC = 0o2000000
O_PATH = 0o10000000

FILES = types.MappingProxyType({
    # mm/huge_memory.c: the PMD size on x86-64 (2 MiB); the Go runtime reads it once.
    "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size": b"2097152\n",
})
"""Paths with fixed content. The cgroup files the runtime looks for when sizing
GOMAXPROCS (``/proc/self/cgroup``, ``/proc/self/mountinfo``) are absent: ENOENT, as on a
machine without cgroup limits."""


@attrs.define(eq=False)
class StdStream:
    """fd 0, 1 or 2 of the host (``fd`` says which stream of the kernel it is)."""

    fd: int


@attrs.define(eq=False)
class RegularFile:
    """A read-only file of the virtual file system: ``data`` and the file offset."""

    path: str
    data: bytes
    pos: int = 0


@attrs.define(eq=False)
class EventFd:
    """eventfd(2): a 64-bit counter; ``semaphore`` for EFD_SEMAPHORE."""

    count: int = 0
    semaphore: bool = False


@attrs.define(eq=False)
class Pipe:
    """pipe(2): the bytes written and not yet read (at most ``capacity``, the default
    pipe size of 16 pages, pipe(7)); ``writers`` and ``readers`` count the open ends."""

    data: bytearray = attrs.Factory(bytearray)
    readers: int = 1
    writers: int = 1
    capacity: int = 65536


@attrs.define(eq=False)
class PipeEnd:
    """One end of a :class:`Pipe` (``write`` True for the write end)."""

    pipe: Pipe
    write: bool


@attrs.define(eq=False)
class Interest:
    """One fd registered with an epoll instance: ``events`` mask and user ``data``;
    ``armed`` is False after an EPOLLONESHOT report or an edge already reported."""

    events: int
    data: int
    armed: bool = True


@attrs.define(eq=False)
class Epoll:
    """epoll(7): the interest list, by fd."""

    interest: dict = attrs.Factory(dict)


@attrs.define(eq=False)
class Description:
    """An open file description: the object and its status flags (O_ACCMODE,
    O_NONBLOCK, O_APPEND)."""

    obj: object
    flags: int = O_RDONLY


@attrs.define(eq=False)
class Descriptor:
    """A slot of the descriptor table."""

    desc: Description
    cloexec: bool = False


def normalize(path: str, cwd: str = "/") -> str:
    """An absolute, normalized path (``..`` and ``.`` resolved lexically)."""
    if not path.startswith("/"):
        path = posixpath.join(cwd, path)
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/")


def standard_table() -> dict:
    """The descriptor table of a new process: 0, 1 and 2 open on the host streams
    (stdin read-only, stdout and stderr write-only, as pipes are)."""
    return {0: Descriptor(Description(StdStream(0), O_RDONLY)),
            1: Descriptor(Description(StdStream(1), O_WRONLY)),
            2: Descriptor(Description(StdStream(2), O_WRONLY))}


def lowest_free(table: dict, start: int = 0) -> int:
    """The lowest descriptor number >= ``start`` not in use (open(2): "the lowest-numbered
    file descriptor not currently open")."""
    fd = start
    while fd in table:
        fd += 1
    return fd

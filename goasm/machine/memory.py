"""Sparse paged memory with permissions.

The address space is a set of 4 KiB pages (``goasm.image.PAGE_SIZE``), each a
``bytearray``, keyed by page number (see "Fast and slow tables" below: in the common case
a read and a write are each one dict lookup). Multi-byte values are little-endian
(Intel SDM Vol. 1, 1.3.1). An access that touches an unmapped page, or a write to a page
that is not writable, raises :class:`goasm.errors.MachineFault` with
``signal="SIGSEGV"``, ``addr`` the first offending byte and ``code`` ``"SEGV_MAPERR"`` /
``"SEGV_ACCERR"`` (the ``si_code`` values Linux gives, see sigaction(2)); nothing is
written by a faulting access.
Total mapped memory is bounded by ``limit`` (:class:`goasm.errors.LimitError`).

Addresses are unsigned 64-bit ints; callers mask computed addresses to 64 bits.

Fast and slow tables. ``_pages`` holds every mapped page; ``_r`` and ``_w`` are the
*fast* tables the accessors (and any generated code) consult first: ``_r`` lacks the
pages that are watched for reads, ``_w`` lacks the pages that are read-only, watched for
writes or shared with a snapshot. A miss in a fast table falls back to :meth:`read` /
:meth:`write`, which fault, copy a shared page, or report the access to the watchers.
So copy-on-write snapshots and watchpoints cost nothing per access to other pages, and
work the same under any run loop, as long as a miss always goes through these methods.

Snapshots (:meth:`save` / :meth:`load_saved`) share page objects instead of copying
them: after ``save`` every page is *shared* (immutable from then on) and the first write
to it copies it. Restoring the snapshot last saved or loaded only touches the pages
changed since (``_dirty``), so a save / thousands of restores cycle costs O(pages
written), not O(pages mapped).

Watchpoints (:meth:`watch`): ``fn(kind, addr, size, data)`` is called for every read
(after it, with the bytes read) and every write (before it, with the bytes to be
written; an exception from ``fn`` cancels the write) that overlaps ``[start, end)``.
Pages are watched at page granularity, so only accesses to pages holding a watched
byte take the slow path. :meth:`load` (the loader's write) is not reported.
"""

from __future__ import annotations

import struct

from goasm.errors import LimitError, MachineFault

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
M64 = (1 << 64) - 1

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_U16_FROM, _U16_INTO = _U16.unpack_from, _U16.pack_into
_U32_FROM, _U32_INTO = _U32.unpack_from, _U32.pack_into
_U64_FROM, _U64_INTO = _U64.unpack_from, _U64.pack_into


def _fault(addr: int, write: bool, mapped: bool) -> MachineFault:
    what = "write" if write else "read"
    if mapped:
        msg = f"segmentation violation: {what} of read-only address {addr:#x}"
    else:
        msg = f"segmentation violation: {what} of unmapped address {addr:#x}"
    return MachineFault(msg, signal="SIGSEGV", addr=addr,
                        code="SEGV_ACCERR" if mapped else "SEGV_MAPERR")


class Watch:
    """A watched range (:meth:`Memory.watch`): ``fn(kind, addr, size, data)`` for
    ``"read"`` and/or ``"write"`` accesses overlapping ``[start, end)``."""

    __slots__ = ("start", "end", "read", "write", "fn")

    def __init__(self, start: int, end: int, fn, read: bool, write: bool) -> None:
        self.start, self.end, self.fn, self.read, self.write = start, end, fn, read, write

    def covers_page(self, pn: int) -> bool:
        return self.start < (pn + 1) << PAGE_SHIFT and pn << PAGE_SHIFT < self.end

    def __repr__(self) -> str:
        kinds = "r" * self.read + "w" * self.write
        return f"<Watch [{self.start:#x}, {self.end:#x}) {kinds}>"


class Memory:
    """A sparse, paged, permission-checked address space (see the module docstring)."""

    __slots__ = ("_r", "_w", "_pages", "_writable", "_names", "_shared", "_dirty", "_base",
                 "_watches", "_rwatched", "_wwatched", "limit", "muted")

    def __init__(self, limit: int = 1 << 32) -> None:
        self._r: dict[int, bytearray] = {}         # fast reads
        self._w: dict[int, bytearray] = {}         # fast writes
        self._pages: dict[int, bytearray] = {}     # every mapped page
        self._writable: set[int] = set()
        self._names: dict[int, str] = {}
        self._shared: set[int] = set()             # page objects a snapshot also holds
        self._dirty: set[int] = set()              # changed since _base was saved/loaded
        self._base: dict | None = None
        self._watches: list[Watch] = []
        self._rwatched: set[int] = set()           # mapped pages with a read watch
        self._wwatched: set[int] = set()           # mapped pages with a write watch
        self.limit = limit
        self.muted = False                         # True: watchers are not told

    def _sync(self, pn: int) -> None:
        """Recompute the fast-table entries of page ``pn`` (see the module docstring)."""
        page = self._pages.get(pn)
        if page is None:
            self._r.pop(pn, None)
            self._w.pop(pn, None)
            self._rwatched.discard(pn)
            self._wwatched.discard(pn)
            return
        rw = ww = False
        for w in self._watches:
            if w.covers_page(pn):
                rw = rw or w.read
                ww = ww or w.write
        if rw:
            self._rwatched.add(pn)
            self._r.pop(pn, None)
        else:
            self._rwatched.discard(pn)
            self._r[pn] = page
        if ww:
            self._wwatched.add(pn)
        else:
            self._wwatched.discard(pn)
        if pn in self._writable and not ww and pn not in self._shared:
            self._w[pn] = page
        else:
            self._w.pop(pn, None)

    # ---------------------------------------------------------------- mapping

    def map(self, addr: int, size: int, *, writable: bool = True, name: str = "") -> None:
        """Map the pages covering ``[addr, addr+size)``.

        New pages are zero-filled; pages already mapped keep their contents and take
        the new permission and name (like ``mprotect`` on an existing mapping).
        """
        if size <= 0:
            return
        first, last = addr >> PAGE_SHIFT, (addr + size - 1) >> PAGE_SHIFT
        new = sum(1 for pn in range(first, last + 1) if pn not in self._pages)
        if (len(self._pages) + new) * PAGE_SIZE > self.limit:
            raise LimitError(f"memory limit of {self.limit} bytes exceeded mapping "
                             f"{size} bytes at {addr:#x}")
        for pn in range(first, last + 1):
            if pn not in self._pages:
                self._pages[pn] = bytearray(PAGE_SIZE)
            if writable:
                self._writable.add(pn)
            else:
                self._writable.discard(pn)
            self._names[pn] = name
            self._dirty.add(pn)
            self._sync(pn)

    def unmap(self, addr: int, size: int) -> None:
        """Unmap the pages covering ``[addr, addr+size)`` (unmapped ones are ignored)."""
        if size <= 0:
            return
        for pn in range(addr >> PAGE_SHIFT, ((addr + size - 1) >> PAGE_SHIFT) + 1):
            if self._pages.pop(pn, None) is not None:
                self._writable.discard(pn)
                self._names.pop(pn, None)
                self._shared.discard(pn)
                self._dirty.add(pn)
                self._sync(pn)

    def protect(self, addr: int, size: int, *, writable: bool) -> None:
        """Change the permission of the mapped pages covering ``[addr, addr+size)``;
        faults (SEGV_MAPERR) if any of them is unmapped, changing nothing."""
        pns = range(addr >> PAGE_SHIFT, ((addr + size - 1) >> PAGE_SHIFT) + 1)
        for pn in pns:
            if pn not in self._pages:
                raise _fault(max(pn << PAGE_SHIFT, addr), False, False)
        for pn in pns:
            if writable:
                self._writable.add(pn)
            else:
                self._writable.discard(pn)
            self._dirty.add(pn)
            self._sync(pn)

    def is_mapped(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped."""
        return (addr >> PAGE_SHIFT) in self._pages

    def is_writable(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped writable."""
        return (addr >> PAGE_SHIFT) in self._writable

    @property
    def mapped_bytes(self) -> int:
        """Total mapped memory in bytes."""
        return len(self._pages) * PAGE_SIZE

    def regions(self) -> list[tuple[int, int, bool, str]]:
        """``[(start, end, writable, name)]``: runs of consecutive pages with the same
        permission and name, in address order (like /proc/self/maps)."""
        out: list[list] = []
        for pn in sorted(self._pages):
            start, w, name = pn << PAGE_SHIFT, pn in self._writable, self._names.get(pn, "")
            if out and out[-1][1] == start and out[-1][2] == w and out[-1][3] == name:
                out[-1][1] = start + PAGE_SIZE
            else:
                out.append([start, start + PAGE_SIZE, w, name])
        return [tuple(r) for r in out]

    # ---------------------------------------------------------------- bytes

    def _check(self, addr: int, n: int, write: bool) -> None:
        """Fault (writing nothing) unless every byte of ``[addr, addr+n)`` is mapped
        (and writable, for a write)."""
        pn = addr >> PAGE_SHIFT
        end = (addr + n - 1) >> PAGE_SHIFT
        pages, writable = self._pages, self._writable
        while pn <= end:
            if pn not in pages or (write and pn not in writable):
                a = max(pn << PAGE_SHIFT, addr)
                raise _fault(a & M64, write, pn in pages)
            pn += 1

    def check(self, addr: int, n: int, *, write: bool = False) -> None:
        """Raise the fault an access of ``n`` bytes at ``addr`` would raise, touching
        nothing (masked vector stores check every selected element before writing)."""
        self._check(addr & M64, n, write)

    def _notify(self, kind: str, addr: int, n: int, data) -> None:
        if self.muted:
            return
        end = addr + n
        for w in tuple(self._watches):
            if (w.read if kind == "read" else w.write) and w.start < end and addr < w.end:
                w.fn(kind, addr, n, data)

    def _unshare(self, pn: int):
        """Give page ``pn`` its own copy (copy-on-write) and return it."""
        page = self._pages[pn] = bytearray(self._pages[pn])
        self._shared.discard(pn)
        self._dirty.add(pn)
        self._sync(pn)
        return page

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at ``addr`` (faults if any byte is unmapped)."""
        if n <= 0:
            return b""
        addr &= M64
        off = addr & PAGE_MASK
        page = self._r.get(addr >> PAGE_SHIFT)
        if page is not None and off + n <= PAGE_SIZE:
            return bytes(page[off:off + n])
        self._check(addr, n, False)
        out = bytearray()
        a, left, watched = addr, n, False
        while left:
            off = a & PAGE_MASK
            chunk = min(left, PAGE_SIZE - off)
            pn = a >> PAGE_SHIFT
            watched = watched or pn in self._rwatched
            out += self._pages[pn][off:off + chunk]
            a += chunk
            left -= chunk
        data = bytes(out)
        if watched:
            self._notify("read", addr, n, data)
        return data

    def _store(self, addr: int, data, table) -> None:
        addr &= M64
        n = len(data)
        if n == 0:
            return
        off = addr & PAGE_MASK
        page = table.get(addr >> PAGE_SHIFT)
        if page is not None and off + n <= PAGE_SIZE:
            page[off:off + n] = data
            return
        loading = table is not self._w
        self._check(addr, n, not loading)
        first, last = addr >> PAGE_SHIFT, (addr + n - 1) >> PAGE_SHIFT
        if not loading and any(pn in self._wwatched for pn in range(first, last + 1)):
            self._notify("write", addr, n, bytes(data))
        pos = 0
        while pos < n:
            off = addr & PAGE_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            pn = addr >> PAGE_SHIFT
            page = self._unshare(pn) if pn in self._shared else self._pages[pn]
            page[off:off + chunk] = data[pos:pos + chunk]
            addr += chunk
            pos += chunk

    def write(self, addr: int, data) -> None:
        """Store ``data`` at ``addr`` (faults, writing nothing, unless every byte is
        mapped writable)."""
        self._store(addr, data, self._w)

    def load(self, addr: int, data) -> None:
        """Store ``data`` ignoring write protection (for loaders filling read-only
        segments); the pages must be mapped. Watchers are not told."""
        self._store(addr, data, _NO_FAST_PATH)

    def fill(self, addr: int, value: bytes, count: int) -> None:
        """Write ``value`` ``count`` times from ``addr`` (REP STOS in bulk)."""
        self.write(addr, value * count)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` without its NUL, at most ``limit`` bytes."""
        out = bytearray()
        while len(out) < limit:
            off = addr & PAGE_MASK
            page = self._r.get(addr >> PAGE_SHIFT)
            if page is None:        # unmapped (faults) or watched (reported)
                chunk = self.read(addr, min(PAGE_SIZE, off + limit - len(out)) - off)
            else:
                chunk = page[off:min(PAGE_SIZE, off + limit - len(out))]
            nul = chunk.find(0)
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr = (addr + len(chunk)) & M64
        return bytes(out)

    # ---------------------------------------------------------------- scalars

    def read_u8(self, addr: int) -> int:
        """The byte at ``addr``."""
        page = self._r.get(addr >> PAGE_SHIFT)
        if page is None:
            return self.read(addr, 1)[0]
        return page[addr & PAGE_MASK]

    def read_u16(self, addr: int) -> int:
        """The little-endian 16-bit value at ``addr``."""
        page = self._r.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 2:
            return _U16_FROM(page, off)[0]
        return int.from_bytes(self.read(addr, 2), "little")

    def read_u32(self, addr: int) -> int:
        """The little-endian 32-bit value at ``addr``."""
        page = self._r.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 4:
            return _U32_FROM(page, off)[0]
        return int.from_bytes(self.read(addr, 4), "little")

    def read_u64(self, addr: int) -> int:
        """The little-endian 64-bit value at ``addr``."""
        page = self._r.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 8:
            return _U64_FROM(page, off)[0]
        return int.from_bytes(self.read(addr, 8), "little")

    def read_u128(self, addr: int) -> int:
        """The little-endian 128-bit value at ``addr`` (XMM loads)."""
        return int.from_bytes(self.read(addr, 16), "little")

    def read_int(self, addr: int, n: int) -> int:
        """The little-endian ``n``-byte value at ``addr`` (32/64-byte vector loads)."""
        return int.from_bytes(self.read(addr, n), "little")

    def write_u8(self, addr: int, value: int) -> None:
        """Store the low byte of ``value`` at ``addr``."""
        page = self._w.get(addr >> PAGE_SHIFT)
        if page is None:
            self.write(addr, bytes((value & 0xFF,)))
            return
        page[addr & PAGE_MASK] = value & 0xFF

    def write_u16(self, addr: int, value: int) -> None:
        """Store ``value`` (masked to 16 bits) little-endian at ``addr``."""
        page = self._w.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 2:
            _U16_INTO(page, off, value & 0xFFFF)
        else:
            self.write(addr, (value & 0xFFFF).to_bytes(2, "little"))

    def write_u32(self, addr: int, value: int) -> None:
        """Store ``value`` (masked to 32 bits) little-endian at ``addr``."""
        page = self._w.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 4:
            _U32_INTO(page, off, value & 0xFFFFFFFF)
        else:
            self.write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def write_u64(self, addr: int, value: int) -> None:
        """Store ``value`` (masked to 64 bits) little-endian at ``addr``."""
        page = self._w.get(addr >> PAGE_SHIFT)
        off = addr & PAGE_MASK
        if page is not None and off <= PAGE_SIZE - 8:
            _U64_INTO(page, off, value & M64)
        else:
            self.write(addr, (value & M64).to_bytes(8, "little"))

    def write_u128(self, addr: int, value: int) -> None:
        """Store ``value`` (masked to 128 bits) little-endian at ``addr``."""
        self.write(addr, (value & ((1 << 128) - 1)).to_bytes(16, "little"))

    def write_int(self, addr: int, n: int, value: int) -> None:
        """Store ``value`` (masked to ``n`` bytes) little-endian at ``addr`` (32/64-byte
        vector stores)."""
        self.write(addr, (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little"))

    # ---------------------------------------------------------------- watchpoints

    def watch(self, start: int, end: int, fn, *, read: bool = True, write: bool = True) -> Watch:
        """Report accesses overlapping ``[start, end)`` to ``fn(kind, addr, size, data)``
        (see the module docstring); pages mapped later in the range are watched too.
        Returns a handle for :meth:`unwatch`."""
        if end <= start:
            raise ValueError(f"empty watch range [{start:#x}, {end:#x})")
        w = Watch(start & M64, end, fn, read, write)
        self._watches.append(w)
        self._resync(w)
        return w

    def unwatch(self, w: Watch) -> None:
        """Remove a :meth:`watch`."""
        self._watches.remove(w)
        self._resync(w)

    def _resync(self, w: Watch) -> None:
        first, last = w.start >> PAGE_SHIFT, (w.end - 1) >> PAGE_SHIFT
        if last - first < len(self._pages):
            pns = [pn for pn in range(first, last + 1) if pn in self._pages]
        else:
            pns = [pn for pn in self._pages if first <= pn <= last]
        for pn in pns:
            self._sync(pn)

    # ---------------------------------------------------------------- snapshots

    def save(self) -> dict:
        """A snapshot of every page: ``{page number: (page, writable, name)}``.

        Pages are shared with the live memory, not copied: from now on the live memory
        copies a page before its first write (copy-on-write), so neither side ever sees
        the other's changes. Treat the page objects as read-only."""
        base = self._base
        if base is not None:
            snap = dict(base)
            for pn in self._dirty:
                page = self._pages.get(pn)
                if page is None:
                    snap.pop(pn, None)
                else:
                    snap[pn] = (page, pn in self._writable, self._names.get(pn, ""))
        else:
            snap = {pn: (page, pn in self._writable, self._names.get(pn, ""))
                    for pn, page in self._pages.items()}
        self._shared = set(self._pages)
        self._w.clear()
        self._dirty.clear()
        self._base = snap
        return snap

    def load_saved(self, saved: dict) -> None:
        """Restore a :meth:`save` result in place (the page dicts keep their identity).
        Restoring the snapshot last saved or loaded only revisits the pages changed
        since; pages are shared with ``saved`` (copy-on-write) either way. Entries may
        hold ``bytes`` or ``bytearray`` pages."""
        if saved is self._base:
            pns = self._dirty
        else:
            pns = set(self._pages) | set(saved)
        for pn in pns:
            entry = saved.get(pn)
            if entry is None:
                self._pages.pop(pn, None)
                self._writable.discard(pn)
                self._names.pop(pn, None)
                self._shared.discard(pn)
            else:
                page, writable, name = entry
                self._pages[pn] = page
                if writable:
                    self._writable.add(pn)
                else:
                    self._writable.discard(pn)
                self._names[pn] = name
                self._shared.add(pn)
            self._sync(pn)
        self._dirty = set()
        self._base = saved


_NO_FAST_PATH: dict = {}
"""An always-empty table: :meth:`Memory.load` never takes the fast path."""

"""A lazy, paged, permission-checked address space.

Mappings and pages. The address space is a sorted list of *mappings*: page-aligned
intervals ``[start, end)`` of 4 KiB pages (``goasm.image.PAGE_SIZE``) with a protection
(readable, writable; neither is ``PROT_NONE``: reserved, any access faults), a name and
an optional *backing* (the initial bytes of a data segment; without one, the mapping is
anonymous memory and reads as zeros). A page gets its own ``bytearray`` only when it is
first written (or first read, when its backing holds data there): the pages of a mapping
that were never touched cost nothing, and a read of an untouched anonymous page is served
by one shared zero page, as Linux does. So mapping, unmapping, protecting or discarding
any range costs O(mappings) plus the pages touched in that range, never O(pages in the
range): a 4 TiB ``mmap``, a 2 GB ``GLOBL`` or a ``munmap`` of the whole address space are
instant.

The memory limit (``limit``, bytes, default 4 GiB) bounds the pages touched: making a
page would exceed it raises :class:`goasm.errors.LimitError`. Mapping never counts.

Multi-byte values are little-endian (Intel SDM Vol. 1, 1.3.1). An access that touches an
unmapped page, a read of a ``PROT_NONE`` page or a write to a page that is not writable
raises :class:`goasm.errors.MachineFault` with ``signal="SIGSEGV"``, ``addr`` the first
offending byte and ``code`` ``"SEGV_MAPERR"`` (nothing mapped there) or
``"SEGV_ACCERR"`` (mapped without that permission) -- the ``si_code`` values Linux gives,
see sigaction(2); nothing is written by a faulting access. Addresses are unsigned 64-bit
ints; callers mask computed addresses to 64 bits.

Fast and slow tables. ``_r`` and ``_w`` are the *fast* tables the accessors (and any
generated code, goasm/machine/translate.py) consult first: page number -> page object.
``_r`` holds readable pages that are not watched for reads (an untouched anonymous page
may be there as the shared immutable zero page, a ``bytes``); ``_w`` holds the touched
pages that are writable, not watched for writes and not shared with a snapshot (always a
``bytearray``). The tables are caches: a miss in a fast table falls back to :meth:`read` /
:meth:`write`, which fault, make a page, copy a shared page, or report the access to the
watchers, and fill the tables again. So copy-on-write snapshots, lazy pages and
watchpoints cost nothing per access to other pages, and work the same under any run
loop, as long as a miss always goes through these methods. The dict objects ``_r`` and
``_w`` keep their identity for the life of the memory (generated code holds them).

Snapshots (:meth:`save` / :meth:`load_saved`) share page objects instead of copying
them: after ``save`` every touched page is *shared* (immutable from then on) and the
first write to it copies it. Restoring the snapshot last saved or loaded only touches the
pages changed since (``_dirty``) and the ranges whose mappings changed, so a save /
thousands of restores cycle costs O(pages written), not O(pages mapped).

Watchpoints (:meth:`watch`): ``fn(kind, addr, size, data)`` is called for every read
(after it, with the bytes read) and every write (before it, with the bytes to be
written; an exception from ``fn`` cancels the write) that overlaps ``[start, end)``.
Pages are watched at page granularity, so only accesses to pages holding a watched
byte take the slow path. :meth:`load` (the loader's write) is not reported.
"""

from __future__ import annotations

import bisect
import struct

from goasm.errors import LimitError, MachineFault

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
M64 = (1 << 64) - 1
ADDRESS_PAGES = 1 << (64 - PAGE_SHIFT)      # page numbers are below this

#: The default memory limit: 4 GiB of touched pages (``goasm run --memory-limit``).
DEFAULT_LIMIT = 1 << 32

ZERO_PAGE = bytes(PAGE_SIZE)
"""The page every untouched anonymous page reads as (immutable, shared)."""

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_U16_FROM, _U16_INTO = _U16.unpack_from, _U16.pack_into
_U32_FROM, _U32_INTO = _U32.unpack_from, _U32.pack_into
_U64_FROM, _U64_INTO = _U64.unpack_from, _U64.pack_into


def _fault(addr: int, write: bool, mapped: bool, readable: bool = True) -> MachineFault:
    what = "write" if write else "read"
    if not mapped:
        msg = f"segmentation violation: {what} of unmapped address {addr:#x}"
    elif not readable:
        msg = f"segmentation violation: {what} of inaccessible (PROT_NONE) address {addr:#x}"
    else:
        msg = f"segmentation violation: {what} of read-only address {addr:#x}"
    return MachineFault(msg, signal="SIGSEGV", addr=addr,
                        code="SEGV_ACCERR" if mapped else "SEGV_MAPERR")


def _human(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class Mapping:
    """One mapping: pages ``[start, end)`` (page numbers), its protection, name and
    backing. Immutable: changing a mapping replaces it.

    ``backing`` (or None: anonymous, zeros) holds the initial bytes of the mapping,
    byte 0 at address ``origin``: an object with ``page_bytes(offset, n)`` (bytes or
    None when all zero, see ``goasm.image.SegmentData``) or any bytes-like object."""

    __slots__ = ("start", "end", "read", "write", "name", "backing", "origin")

    def __init__(self, start: int, end: int, read: bool, write: bool, name: str,
                 backing=None, origin: int = 0) -> None:
        self.start, self.end, self.read, self.write = start, end, read, write
        self.name, self.backing, self.origin = name, backing, origin

    def but(self, **changes) -> "Mapping":
        """A copy with some fields changed."""
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update(changes)
        return Mapping(**fields)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return (self.start == other.start and self.end == other.end
                and self.read == other.read and self.write == other.write
                and self.name == other.name and self.origin == other.origin
                and (self.backing is other.backing or self.backing == other.backing))

    __hash__ = None

    def same_kind(self, other: "Mapping") -> bool:
        """Whether two adjacent mappings can be one."""
        return (self.read == other.read and self.write == other.write
                and self.name == other.name and self.backing is other.backing
                and (self.backing is None or self.origin == other.origin))

    def initial(self, pn: int):
        """The initial contents of page ``pn`` of this mapping: bytes, or None (zeros)."""
        backing = self.backing
        if backing is None:
            return None
        off = (pn << PAGE_SHIFT) - self.origin
        size = len(backing)
        if off >= size or off + PAGE_SIZE <= 0:
            return None
        page_bytes = getattr(backing, "page_bytes", None)
        if page_bytes is not None:
            if off >= 0:
                return page_bytes(off, PAGE_SIZE)
            raw = page_bytes(0, PAGE_SIZE + off)
            return None if raw is None else bytes(-off) + raw
        lo, hi = max(off, 0), min(off + PAGE_SIZE, size)
        chunk = bytes(backing[lo:hi])
        if not any(chunk):
            return None
        return bytes(lo - off) + chunk + bytes(off + PAGE_SIZE - hi)

    def __repr__(self) -> str:
        prot = ("r" if self.read else "-") + ("w" if self.write else "-")
        return (f"<Mapping [{self.start << PAGE_SHIFT:#x}, {self.end << PAGE_SHIFT:#x}) "
                f"{prot} {self.name!r}{' backed' if self.backing is not None else ''}>")


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


class Saved:
    """A memory snapshot (:meth:`Memory.save`): ``pages`` ``{page number: page}`` (the
    touched pages; treat them as read-only) and ``maps`` (the mappings, a tuple)."""

    __slots__ = ("pages", "maps")

    def __init__(self, pages: dict, maps: tuple) -> None:
        self.pages, self.maps = pages, maps

    def __eq__(self, other) -> bool:
        if not isinstance(other, Saved):
            return NotImplemented
        return self.maps == other.maps and self.pages == other.pages

    __hash__ = None


class Memory:
    """A lazy, paged, permission-checked address space (see the module docstring)."""

    __slots__ = ("_r", "_w", "_pages", "_maps", "_starts", "_zero", "_shared", "_dirty",
                 "_remapped", "_base", "_watches", "limit", "muted")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._r: dict[int, object] = {}            # fast reads (cache)
        self._w: dict[int, bytearray] = {}         # fast writes (cache)
        self._pages: dict[int, object] = {}        # every touched page
        self._maps: list[Mapping] = []             # sorted, disjoint
        self._starts: list[int] = []               # _maps[i].start, for bisect
        self._zero: set[int] = set()               # pages _r serves as ZERO_PAGE
        self._shared: set[int] = set()             # page objects a snapshot also holds
        self._dirty: set[int] = set()              # pages changed since _base
        self._remapped: list[tuple[int, int]] = []  # page ranges remapped since _base
        self._base: Saved | None = None
        self._watches: list[Watch] = []
        self.limit = limit
        self.muted = False                         # True: watchers are not told

    # ---------------------------------------------------------------- mappings

    def _find(self, pn: int) -> Mapping | None:
        """The mapping holding page ``pn``, or None."""
        i = bisect.bisect_right(self._starts, pn) - 1
        if i >= 0:
            m = self._maps[i]
            if pn < m.end:
                return m
        return None

    def _split(self, pn: int) -> int:
        """Split the mapping that straddles page ``pn`` (if any) so that a mapping starts
        there; the index of the first mapping starting at or after ``pn``."""
        i = bisect.bisect_left(self._starts, pn)
        if i > 0:
            m = self._maps[i - 1]
            if m.start < pn < m.end:
                self._maps[i - 1:i] = [m.but(end=pn), m.but(start=pn)]
                self._starts.insert(i, pn)
        return i

    def _carve(self, first: int, last: int) -> tuple[int, int]:
        """Split mappings at pages ``first`` and ``last``: indices ``[i, j)`` of the
        mappings inside ``[first, last)``."""
        i = self._split(first)
        j = self._split(last)
        return i, j

    def _replace(self, i: int, j: int, new: list[Mapping]) -> None:
        """Put ``new`` (sorted, disjoint) in place of mappings ``[i, j)`` and merge
        neighbours of the same kind."""
        maps = self._maps
        maps[i:j] = new
        lo, hi = max(i - 1, 0), min(i + len(new) + 1, len(maps))
        merged: list[Mapping] = []
        for m in maps[lo:hi]:
            if merged and merged[-1].end == m.start and merged[-1].same_kind(m):
                merged[-1] = merged[-1].but(end=m.end)
            else:
                merged.append(m)
        maps[lo:hi] = merged
        self._starts[:] = [m.start for m in maps]

    @staticmethod
    def _range(addr: int, size: int) -> tuple[int, int]:
        first = (addr & M64) >> PAGE_SHIFT
        last = min(((addr & M64) + size + PAGE_MASK) >> PAGE_SHIFT, ADDRESS_PAGES)
        return first, last

    def map(self, addr: int, size: int, *, writable: bool = True, name: str = "",
            readable: bool = True, backing=None) -> None:
        """Map the pages covering ``[addr, addr+size)``.

        New pages read as zeros, or as ``backing`` (bytes-like or ``page_bytes``, byte 0
        at ``addr``) where given; nothing is allocated until a page is touched. Pages
        already mapped keep their contents and take the new protection and name (like
        ``mprotect`` on an existing mapping). ``readable=False, writable=False`` is a
        ``PROT_NONE`` reservation.
        """
        if size <= 0:
            return
        first, last = self._range(addr, size)
        i, j = self._carve(first, last)
        new: list[Mapping] = []
        at = first
        for m in self._maps[i:j]:
            if at < m.start:
                new.append(Mapping(at, m.start, readable, writable, name, backing, addr))
            new.append(m.but(read=readable, write=writable, name=name))
            at = m.end
        if at < last:
            new.append(Mapping(at, last, readable, writable, name, backing, addr))
        self._replace(i, j, new)
        self._changed(first, last)

    def unmap(self, addr: int, size: int) -> None:
        """Unmap the pages covering ``[addr, addr+size)`` (unmapped ones are ignored)."""
        if size <= 0:
            return
        first, last = self._range(addr, size)
        i, j = self._carve(first, last)
        if i < j:
            self._replace(i, j, [])
        self._drop_pages(first, last)
        self._changed(first, last)

    def discard(self, addr: int, size: int) -> None:
        """Forget what was written to the pages covering ``[addr, addr+size)``: they read
        as their initial contents again (zeros, or the backing), as after
        ``madvise(MADV_DONTNEED)`` on a private mapping. Protections stay."""
        if size <= 0:
            return
        first, last = self._range(addr, size)
        self._drop_pages(first, last)
        self._changed(first, last)

    def protect(self, addr: int, size: int, *, writable: bool, readable: bool = True) -> None:
        """Change the protection of the mapped pages covering ``[addr, addr+size)``;
        faults (SEGV_MAPERR) if any of them is unmapped, changing nothing."""
        if size <= 0:
            return
        first, last = self._range(addr, size)
        hole = self._first_hole(first, last)
        if hole is not None:
            raise _fault(max(hole << PAGE_SHIFT, addr), False, False)
        i, j = self._carve(first, last)
        self._replace(i, j, [m.but(read=readable, write=writable) for m in self._maps[i:j]])
        self._changed(first, last)

    def _first_hole(self, first: int, last: int) -> int | None:
        """The first page of ``[first, last)`` that is not mapped, or None."""
        i = max(bisect.bisect_right(self._starts, first) - 1, 0)
        at = first
        maps = self._maps
        while at < last:
            if i >= len(maps) or maps[i].start > at:
                return at
            if maps[i].end > at:
                at = maps[i].end
            i += 1
        return None

    def is_covered(self, addr: int, size: int) -> bool:
        """True when every page of ``[addr, addr+size)`` is mapped (any protection)."""
        first, last = self._range(addr, size)
        return size <= 0 or self._first_hole(first, last) is None

    def overlaps(self, addr: int, size: int) -> bool:
        """True when any page of ``[addr, addr+size)`` is mapped (any protection)."""
        if size <= 0:
            return False
        first, last = self._range(addr, size)
        i = bisect.bisect_left(self._starts, last) - 1
        return i >= 0 and self._maps[i].end > first

    def is_mapped(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped readable."""
        m = self._find((addr & M64) >> PAGE_SHIFT)
        return m is not None and m.read

    def is_writable(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped writable."""
        m = self._find((addr & M64) >> PAGE_SHIFT)
        return m is not None and m.write

    def mapping_at(self, addr: int) -> tuple | None:
        """``(start, end, readable, writable, name)`` of the mapping holding ``addr``."""
        m = self._find((addr & M64) >> PAGE_SHIFT)
        if m is None:
            return None
        return (m.start << PAGE_SHIFT, m.end << PAGE_SHIFT, m.read, m.write, m.name)

    def mappings(self) -> list[tuple[int, int, bool, bool, str]]:
        """Every mapping as ``(start, end, readable, writable, name)``, in address order,
        ``PROT_NONE`` reservations included (like /proc/self/maps)."""
        return [(m.start << PAGE_SHIFT, m.end << PAGE_SHIFT, m.read, m.write, m.name)
                for m in self._maps]

    def regions(self) -> list[tuple[int, int, bool, str]]:
        """``[(start, end, writable, name)]``: the readable mappings, runs of consecutive
        pages with the same permission and name merged, in address order."""
        out: list[list] = []
        for m in self._maps:
            if not m.read:
                continue
            start, end = m.start << PAGE_SHIFT, m.end << PAGE_SHIFT
            if out and out[-1][1] == start and out[-1][2] == m.write and out[-1][3] == m.name:
                out[-1][1] = end
            else:
                out.append([start, end, m.write, m.name])
        return [tuple(r) for r in out]

    @property
    def mapped_bytes(self) -> int:
        """Total mapped address space in bytes (every mapping, touched or not)."""
        return sum(m.end - m.start for m in self._maps) << PAGE_SHIFT

    @property
    def touched_bytes(self) -> int:
        """Memory the pages touched so far take (what ``limit`` bounds)."""
        return len(self._pages) << PAGE_SHIFT

    # ---------------------------------------------------------------- cache upkeep

    def _pns_in(self, first: int, last: int, keys) -> list[int]:
        """The page numbers of ``keys`` (a dict or set) in ``[first, last)``, in
        O(min(range, len(keys)))."""
        if last - first <= len(keys):
            return [pn for pn in range(first, last) if pn in keys]
        return [pn for pn in keys if first <= pn < last]

    def _drop_pages(self, first: int, last: int) -> None:
        for pn in self._pns_in(first, last, self._pages):
            del self._pages[pn]
            self._shared.discard(pn)
            self._dirty.add(pn)

    def _changed(self, first: int, last: int) -> None:
        """Mappings or pages of ``[first, last)`` changed: refresh the fast tables."""
        self._remapped.append((first, last))
        self._resync(first, last)

    def _resync(self, first: int, last: int) -> None:
        pns = set(self._pns_in(first, last, self._pages))
        pns.update(self._pns_in(first, last, self._r))
        pns.update(self._pns_in(first, last, self._w))
        for pn in pns:
            self._sync(pn)

    def _watched(self, pn: int) -> tuple[bool, bool]:
        rw = ww = False
        for w in self._watches:
            if w.covers_page(pn):
                rw = rw or w.read
                ww = ww or w.write
        return rw, ww

    def _sync(self, pn: int) -> None:
        """Recompute the fast-table entries of page ``pn`` (see the module docstring)."""
        page = self._pages.get(pn)
        m = self._find(pn)
        self._zero.discard(pn)
        if page is None or m is None or not m.read:
            self._r.pop(pn, None)
            self._w.pop(pn, None)
            return
        rw, ww = self._watched(pn) if self._watches else (False, False)
        if rw:
            self._r.pop(pn, None)
        else:
            self._r[pn] = page
        if m.write and not ww and pn not in self._shared:
            self._w[pn] = page
        else:
            self._w.pop(pn, None)

    def _make(self, pn: int, m: Mapping) -> bytearray:
        """Give page ``pn`` of mapping ``m`` its own bytes (first touch)."""
        if len(self._pages) >= self.limit >> PAGE_SHIFT:
            raise LimitError(f"memory limit of {_human(self.limit)} exceeded: touching "
                             f"the page at {pn << PAGE_SHIFT:#x} ({m.name or 'anonymous'}) "
                             f"would make {_human(self.touched_bytes + PAGE_SIZE)} "
                             f"(--memory-limit raises it)")
        init = m.initial(pn)
        page = bytearray(PAGE_SIZE) if init is None else bytearray(init)
        self._pages[pn] = page
        self._dirty.add(pn)
        self._sync(pn)
        return page

    def _page_for_read(self, pn: int):
        """The bytes of readable page ``pn``; caches it in ``_r`` unless watched."""
        page = self._pages.get(pn)
        if page is not None:
            if pn not in self._r:
                self._sync(pn)
            return page
        m = self._find(pn)
        if m.backing is not None and m.initial(pn) is not None:
            return self._make(pn, m)
        if not (self._watches and self._watched(pn)[0]):
            self._r[pn] = ZERO_PAGE
            self._zero.add(pn)
        return ZERO_PAGE

    def _page_for_write(self, pn: int) -> bytearray:
        """A private, writable page object for page ``pn`` (made or copied)."""
        page = self._pages.get(pn)
        if page is None:
            return self._make(pn, self._find(pn))
        if pn in self._shared or type(page) is not bytearray:
            page = self._pages[pn] = bytearray(page)
            self._shared.discard(pn)
            self._dirty.add(pn)
            self._sync(pn)
        return page

    # ---------------------------------------------------------------- bytes

    def _check(self, addr: int, n: int, write: bool, loading: bool = False) -> None:
        """Fault (writing nothing) unless every byte of ``[addr, addr+n)`` is mapped
        readable (writable, for a write; just mapped, for the loader). O(mappings)."""
        pn = addr >> PAGE_SHIFT
        end = (addr + n - 1) >> PAGE_SHIFT
        while pn <= end:
            m = self._find(pn)
            ok = m is not None and (loading or (m.write if write else m.read))
            if not ok:
                a = max(pn << PAGE_SHIFT, addr)
                raise _fault(a & M64, write, m is not None, m is not None and m.read)
            pn = m.end

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

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at ``addr`` (faults if any byte is unmapped or unreadable)."""
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
            if self._watches and not watched:
                watched = self._watched(pn)[0]
            out += self._page_for_read(pn)[off:off + chunk]
            a += chunk
            left -= chunk
        data = bytes(out)
        if watched:
            self._notify("read", addr, n, data)
        return data

    def _store(self, addr: int, data, loading: bool) -> None:
        addr &= M64
        n = len(data)
        if n == 0:
            return
        off = addr & PAGE_MASK
        if not loading:
            page = self._w.get(addr >> PAGE_SHIFT)
            if page is not None and off + n <= PAGE_SIZE:
                page[off:off + n] = data
                return
        self._check(addr, n, not loading, loading)
        first, last = addr >> PAGE_SHIFT, (addr + n - 1) >> PAGE_SHIFT
        if not loading and self._watches and \
                any(self._watched(pn)[1] for pn in range(first, last + 1)):
            self._notify("write", addr, n, bytes(data))
        pos = 0
        while pos < n:
            off = addr & PAGE_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            page = self._page_for_write(addr >> PAGE_SHIFT)
            page[off:off + chunk] = data[pos:pos + chunk]
            addr += chunk
            pos += chunk

    def write(self, addr: int, data) -> None:
        """Store ``data`` at ``addr`` (faults, writing nothing, unless every byte is
        mapped writable)."""
        self._store(addr, data, False)

    def load(self, addr: int, data) -> None:
        """Store ``data`` ignoring protection (for loaders filling read-only segments);
        the pages must be mapped. Watchers are not told."""
        self._store(addr, data, True)

    def fill(self, addr: int, value: bytes, count: int) -> None:
        """Write ``value`` ``count`` times from ``addr`` (REP STOS in bulk)."""
        self.write(addr, value * count)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` without its NUL, at most ``limit`` bytes."""
        out = bytearray()
        while len(out) < limit:
            off = addr & PAGE_MASK
            page = self._r.get(addr >> PAGE_SHIFT)
            if page is None:        # unmapped (faults), untouched or watched (reported)
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
        self._resync(w.start >> PAGE_SHIFT, ((w.end - 1) >> PAGE_SHIFT) + 1)
        return w

    def unwatch(self, w: Watch) -> None:
        """Remove a :meth:`watch`."""
        self._watches.remove(w)
        self._resync(w.start >> PAGE_SHIFT, ((w.end - 1) >> PAGE_SHIFT) + 1)

    # ---------------------------------------------------------------- snapshots

    def save(self) -> Saved:
        """A snapshot of the mappings and the touched pages (:class:`Saved`).

        Pages are shared with the live memory, not copied: from now on the live memory
        copies a page before its first write (copy-on-write), so neither side ever sees
        the other's changes."""
        base = self._base
        if base is not None:
            pages = dict(base.pages)
            for pn in self._dirty:
                page = self._pages.get(pn)
                if page is None:
                    pages.pop(pn, None)
                else:
                    pages[pn] = page
        else:
            pages = dict(self._pages)
        snap = Saved(pages, tuple(self._maps))
        self._shared = set(self._pages)
        self._w.clear()
        self._dirty.clear()
        self._remapped.clear()
        self._base = snap
        return snap

    def load_saved(self, saved: Saved) -> None:
        """Restore a :meth:`save` result in place (the fast tables keep their identity).
        Restoring the snapshot last saved or loaded only revisits the pages and ranges
        changed since; pages are shared with ``saved`` (copy-on-write) either way. Pages
        may be ``bytes`` or ``bytearray`` objects."""
        self._maps[:] = saved.maps
        self._starts[:] = [m.start for m in saved.maps]
        pages = saved.pages
        if saved is self._base:
            pns = set(self._dirty)
            for first, last in self._remapped:
                pns.update(self._pns_in(first, last, self._r))
                pns.update(self._pns_in(first, last, self._pages))
                pns.update(self._pns_in(first, last, pages))
        else:
            pns = set(self._pages) | set(pages)
            self._r.clear()
            self._w.clear()
            self._zero.clear()
        for pn in pns:
            page = pages.get(pn)
            if page is None:
                self._pages.pop(pn, None)
                self._shared.discard(pn)
            else:
                self._pages[pn] = page
                self._shared.add(pn)
            self._sync(pn)
        self._dirty = set()
        self._remapped = []
        self._base = saved

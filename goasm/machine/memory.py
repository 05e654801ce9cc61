"""Sparse paged memory with permissions.

The address space is a set of 4 KiB pages (``goasm.image.PAGE_SIZE``), each a
``bytearray``, held in two dicts keyed by page number: every mapped page in ``_r``, the
writable ones also in ``_w`` (the same object), so a read and a write are each one dict
lookup. Multi-byte values are little-endian (Intel SDM Vol. 1, 1.3.1). An access that
touches an unmapped page, or a write to a page that is not writable, raises
:class:`goasm.errors.MachineFault` with ``signal="SIGSEGV"``, ``addr`` the first
offending byte and ``code`` ``"SEGV_MAPERR"`` / ``"SEGV_ACCERR"`` (the ``si_code``
values Linux gives, see sigaction(2)); nothing is written by a faulting access.
Total mapped memory is bounded by ``limit`` (:class:`goasm.errors.LimitError`).

Addresses are unsigned 64-bit ints; callers mask computed addresses to 64 bits.
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


class Memory:
    """A sparse, paged, permission-checked address space (see the module docstring)."""

    __slots__ = ("_r", "_w", "_names", "limit")

    def __init__(self, limit: int = 1 << 32) -> None:
        self._r: dict[int, bytearray] = {}
        self._w: dict[int, bytearray] = {}
        self._names: dict[int, str] = {}
        self.limit = limit

    # ---------------------------------------------------------------- mapping

    def map(self, addr: int, size: int, *, writable: bool = True, name: str = "") -> None:
        """Map the pages covering ``[addr, addr+size)``.

        New pages are zero-filled; pages already mapped keep their contents and take
        the new permission and name (like ``mprotect`` on an existing mapping).
        """
        if size <= 0:
            return
        first, last = addr >> PAGE_SHIFT, (addr + size - 1) >> PAGE_SHIFT
        new = sum(1 for pn in range(first, last + 1) if pn not in self._r)
        if (len(self._r) + new) * PAGE_SIZE > self.limit:
            raise LimitError(f"memory limit of {self.limit} bytes exceeded mapping "
                             f"{size} bytes at {addr:#x}")
        for pn in range(first, last + 1):
            page = self._r.get(pn)
            if page is None:
                page = self._r[pn] = bytearray(PAGE_SIZE)
            if writable:
                self._w[pn] = page
            else:
                self._w.pop(pn, None)
            self._names[pn] = name

    def unmap(self, addr: int, size: int) -> None:
        """Unmap the pages covering ``[addr, addr+size)`` (unmapped ones are ignored)."""
        if size <= 0:
            return
        for pn in range(addr >> PAGE_SHIFT, ((addr + size - 1) >> PAGE_SHIFT) + 1):
            self._r.pop(pn, None)
            self._w.pop(pn, None)
            self._names.pop(pn, None)

    def protect(self, addr: int, size: int, *, writable: bool) -> None:
        """Change the permission of the mapped pages covering ``[addr, addr+size)``;
        faults (SEGV_MAPERR) if any of them is unmapped, changing nothing."""
        pns = range(addr >> PAGE_SHIFT, ((addr + size - 1) >> PAGE_SHIFT) + 1)
        for pn in pns:
            if pn not in self._r:
                raise _fault(max(pn << PAGE_SHIFT, addr), False, False)
        for pn in pns:
            if writable:
                self._w[pn] = self._r[pn]
            else:
                self._w.pop(pn, None)

    def is_mapped(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped."""
        return (addr >> PAGE_SHIFT) in self._r

    def is_writable(self, addr: int) -> bool:
        """True when the page holding ``addr`` is mapped writable."""
        return (addr >> PAGE_SHIFT) in self._w

    @property
    def mapped_bytes(self) -> int:
        """Total mapped memory in bytes."""
        return len(self._r) * PAGE_SIZE

    def regions(self) -> list[tuple[int, int, bool, str]]:
        """``[(start, end, writable, name)]``: runs of consecutive pages with the same
        permission and name, in address order (like /proc/self/maps)."""
        out: list[list] = []
        for pn in sorted(self._r):
            start, w, name = pn << PAGE_SHIFT, pn in self._w, self._names.get(pn, "")
            if out and out[-1][1] == start and out[-1][2] == w and out[-1][3] == name:
                out[-1][1] = start + PAGE_SIZE
            else:
                out.append([start, start + PAGE_SIZE, w, name])
        return [tuple(r) for r in out]

    # ---------------------------------------------------------------- bytes

    def _check(self, addr: int, n: int, write: bool) -> None:
        table = self._w if write else self._r
        pn = addr >> PAGE_SHIFT
        end = (addr + n - 1) >> PAGE_SHIFT
        while pn <= end:
            if pn not in table:
                a = max(pn << PAGE_SHIFT, addr)
                raise _fault(a & M64, write, pn in self._r)
            pn += 1

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
        while n:
            off = addr & PAGE_MASK
            chunk = min(n, PAGE_SIZE - off)
            out += self._r[addr >> PAGE_SHIFT][off:off + chunk]
            addr += chunk
            n -= chunk
        return bytes(out)

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
        self._check(addr, n, table is self._w)
        pos = 0
        while pos < n:
            off = addr & PAGE_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            table[addr >> PAGE_SHIFT][off:off + chunk] = data[pos:pos + chunk]
            addr += chunk
            pos += chunk

    def write(self, addr: int, data) -> None:
        """Store ``data`` at ``addr`` (faults, writing nothing, unless every byte is
        mapped writable)."""
        self._store(addr, data, self._w)

    def load(self, addr: int, data) -> None:
        """Store ``data`` ignoring write protection (for loaders filling read-only
        segments); the pages must be mapped."""
        self._store(addr, data, self._r)

    def fill(self, addr: int, value: bytes, count: int) -> None:
        """Write ``value`` ``count`` times from ``addr`` (REP STOS in bulk)."""
        self.write(addr, value * count)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` without its NUL, at most ``limit`` bytes."""
        out = bytearray()
        while len(out) < limit:
            off = addr & PAGE_MASK
            page = self._r.get(addr >> PAGE_SHIFT)
            if page is None:
                raise _fault(addr, False, False)
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
            raise _fault(addr, False, False)
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

    def write_u8(self, addr: int, value: int) -> None:
        """Store the low byte of ``value`` at ``addr``."""
        page = self._w.get(addr >> PAGE_SHIFT)
        if page is None:
            raise _fault(addr, True, (addr >> PAGE_SHIFT) in self._r)
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

    # ---------------------------------------------------------------- snapshots

    def save(self) -> dict:
        """A copy of every page: ``{page number: (bytes, writable, name)}``."""
        return {pn: (bytes(page), pn in self._w, self._names.get(pn, ""))
                for pn, page in self._r.items()}

    def load_saved(self, saved: dict) -> None:
        """Restore a :meth:`save` result in place (the page dicts keep their identity)."""
        self._r.clear()
        self._w.clear()
        self._names.clear()
        for pn, (data, writable, name) in saved.items():
            page = self._r[pn] = bytearray(data)
            if writable:
                self._w[pn] = page
            self._names[pn] = name

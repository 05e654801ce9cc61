"""ELF objects and executables: sections, symbols, code bytes and Go's line table.

Reading is done with pyelftools; this module gives goasm what it needs from a binary,
independent of what is done with it (``goasm disasm`` today, running real Go binaries
next): the functions (``STT_FUNC`` symbols; address, size, section), the bytes at any
virtual address of an allocated section, the symbol containing an address, and for
binaries the Go linker built, the file:line of every pc from the ``.gopclntab`` line
table (runtime/symtab.go ``pcHeader``, ``_func``, ``pcvalue``/``step``; the layout of Go
1.18 and later, magic ``0xfffffff0``/``0xfffffff1``).

In a relocatable object (``ET_REL``) sections have no address: each allocated section
is given one (laid out from 0 in section order) so that symbols and bytes still have
distinct addresses; relocations are not applied.
"""

from __future__ import annotations

import bisect
import os

import attrs

from goasm.errors import GoasmError

_PCLN_MAGICS = (0xFFFFFFF0, 0xFFFFFFF1)


class ElfError(GoasmError):
    """A file that is not an ELF goasm can read, or a symbol/address that is not in it."""


@attrs.frozen
class ElfSymbol:
    name: str
    addr: int
    size: int
    section: str
    func: bool


@attrs.frozen
class ElfSegment:
    """A ``PT_LOAD`` program header: ``filesz`` bytes of ``data`` at ``vaddr``, zeros up
    to ``memsz``; ``flags`` are ``PF_R`` (4), ``PF_W`` (2), ``PF_X`` (1) (elf(5))."""

    vaddr: int
    memsz: int
    filesz: int
    flags: int
    data: bytes = attrs.field(repr=False)

    @property
    def readable(self) -> bool:
        return bool(self.flags & 4)

    @property
    def writable(self) -> bool:
        return bool(self.flags & 2)

    @property
    def executable(self) -> bool:
        return bool(self.flags & 1)


@attrs.define
class _Section:
    name: str
    addr: int
    data: bytes
    executable: bool


class ElfFile:
    """One ELF file (x86-64 only), fully read into memory."""

    def __init__(self, path) -> None:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as f:
                elf = ELFFile(f)
                self._read(elf)
        except (ELFError, OSError) as exc:
            raise ElfError(f"{self.path}: not a readable ELF file ({exc})") from None

    def _read(self, elf) -> None:
        if elf.get_machine_arch() != "x64":
            raise ElfError(f"{self.path}: ELF for {elf.get_machine_arch()}, not x86-64")
        self.kind = elf["e_type"]           # ET_EXEC, ET_DYN, ET_REL
        self.entry = elf["e_entry"]
        # Program headers (elf(5)): the loadable segments, the program interpreter of a
        # dynamically linked executable, and where the headers are (for AT_PHDR).
        self.phoff, self.phentsize, self.phnum = elf["e_phoff"], elf["e_phentsize"], elf["e_phnum"]
        self.segments: list = []
        self.interp: str | None = None
        self.dynamic = False
        self.phdr_addr: int | None = None
        for seg in elf.iter_segments():
            ptype = seg["p_type"]
            if ptype == "PT_LOAD":
                self.segments.append(ElfSegment(seg["p_vaddr"], seg["p_memsz"], seg["p_filesz"],
                                                seg["p_flags"], seg.data()))
                if self.phdr_addr is None and seg["p_offset"] == 0:
                    self.phdr_addr = seg["p_vaddr"] + self.phoff
            elif ptype == "PT_PHDR":
                self.phdr_addr = seg["p_vaddr"]
            elif ptype == "PT_INTERP":
                self.interp = seg.get_interp_name()
            elif ptype == "PT_DYNAMIC":
                self.dynamic = True
        self.section_names = tuple(sec.name for sec in elf.iter_sections())
        relocatable = self.kind == "ET_REL"
        self.sections: list = []
        by_index: dict = {}
        next_addr = 0
        for i, sec in enumerate(elf.iter_sections()):
            flags = sec["sh_flags"]
            if not flags & 0x2:                                          # SHF_ALLOC
                if sec.name == ".gopclntab":
                    by_index[i] = _Section(sec.name, 0, sec.data(), False)
                continue
            if sec["sh_type"] == "SHT_NOBITS" and not relocatable:
                # .bss, .noptrbss: no bytes in the file, but symbols (runtime.g0, m0)
                by_index[i] = _Section(sec.name, sec["sh_addr"], b"", False)
                continue
            if sec["sh_type"] == "SHT_NOBITS":
                continue
            addr = sec["sh_addr"]
            if relocatable:
                align = max(sec["sh_addralign"], 1)
                next_addr = (next_addr + align - 1) // align * align
                addr = next_addr
                next_addr += sec["sh_size"]
            s = _Section(sec.name, addr, sec.data(), bool(flags & 0x4))   # SHF_EXECINSTR
            self.sections.append(s)
            by_index[i] = s
        self.symbols: list = []
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                kind = sym["st_info"]["type"]
                shndx = sym["st_shndx"]
                if kind not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") or \
                        not isinstance(shndx, int) or shndx not in by_index or not sym.name:
                    continue
                sec = by_index[shndx]
                addr = sym["st_value"] + (sec.addr if relocatable else 0)
                self.symbols.append(ElfSymbol(sym.name, addr, sym["st_size"], sec.name,
                                              kind == "STT_FUNC"))
        self.symbols.sort(key=lambda s: (s.addr, not s.func, s.name))
        self._starts = [s.addr for s in self.symbols]
        self._by_name = {s.name: s for s in self.symbols}
        pcln = next((s for s in by_index.values() if s.name == ".gopclntab"), None)
        text = self._by_name.get("runtime.text")
        text_addr = text.addr if text is not None else next(
            (s.addr for s in self.sections if s.name == ".text"), 0)
        self.lines = GoLineTable(pcln.data, text_addr) if pcln is not None else None

    # ---- symbols

    def functions(self) -> list:
        """Function symbols in address order (duplicates at one address: the first)."""
        out = []
        seen = set()
        for s in self.symbols:
            if s.func and s.addr not in seen:
                seen.add(s.addr)
                out.append(s)
        return out

    def symbol(self, name: str) -> ElfSymbol:
        """The symbol ``name`` (Go's ABI0 wrappers answer to their Go name too:
        ``main.add`` finds ``main.add.abi0``)."""
        sym = self._by_name.get(name) or self._by_name.get(name + ".abi0")
        if sym is None:
            raise ElfError(f"{self.path}: no symbol {name}")
        return sym

    def symbol_at(self, addr: int):
        """``(ElfSymbol, offset)`` of the symbol containing ``addr``, else ``(None, 0)``."""
        i = bisect.bisect_right(self._starts, addr) - 1
        while i >= 0:
            s = self.symbols[i]
            if s.addr <= addr < s.addr + max(s.size, 1):
                return s, addr - s.addr
            if s.addr < addr and s.size:
                break
            i -= 1
        return None, 0

    # ---- bytes

    def read(self, addr: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``addr`` from the section holding it (fewer at its end)."""
        for s in self.sections:
            if s.addr <= addr < s.addr + len(s.data):
                off = addr - s.addr
                return s.data[off:off + n]
        raise ElfError(f"{self.path}: address {addr:#x} is in no section")

    def code(self, sym: ElfSymbol) -> bytes:
        """The bytes of a function symbol."""
        return self.read(sym.addr, sym.size)

    def line(self, addr: int):
        """``(file, line)`` of ``addr`` from Go's line table, or None."""
        return self.lines.line(addr) if self.lines is not None else None


class GoLineTable:
    """Go's pc -> file:line table (``.gopclntab``), for Go 1.18+ binaries."""

    def __init__(self, data: bytes, text_addr: int) -> None:
        self.data = data
        self.text = text_addr
        self.ok = len(data) >= 8 and int.from_bytes(data[:4], "little") in _PCLN_MAGICS
        if not self.ok:
            return
        self.quantum = data[6]
        ptr = data[7]
        word = [int.from_bytes(data[8 + i * ptr: 8 + (i + 1) * ptr], "little")
                for i in range(8)]
        self.nfunc = word[0]
        self.funcname, self.cutab, self.filetab = word[3], word[4], word[5]
        self.pctab, self.pcln = word[6], word[7]
        tab = data[self.pcln: self.pcln + (2 * self.nfunc + 1) * 4]
        self.entries = [int.from_bytes(tab[8 * i: 8 * i + 4], "little") + text_addr
                        for i in range(self.nfunc)]
        self.funcoffs = [int.from_bytes(tab[8 * i + 4: 8 * i + 8], "little")
                         for i in range(self.nfunc)]
        self._cache: dict = {}

    def _u32(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 4], "little")

    def _string(self, off: int) -> str:
        end = self.data.index(b"\0", off)
        return self.data[off:end].decode("utf-8", "replace")

    def _values(self, table_off: int, entry: int) -> list:
        """The (start, end, value) runs of one pcvalue table (runtime.step)."""
        data = self.data
        p = self.pctab + table_off
        pc, val, first, out = entry, -1, True, []
        while True:
            uv, p = _varint(data, p)
            if uv == 0 and not first:
                return out
            first = False
            val += -(uv & 1) ^ (uv >> 1)
            d, p = _varint(data, p)
            end = pc + d * self.quantum
            out.append((pc, end, val))
            pc = end

    def function(self, addr: int):
        """Name, file and line runs of the function containing ``addr`` (cached)."""
        if not self.ok:
            return None
        i = bisect.bisect_right(self.entries, addr) - 1
        if i < 0:
            return None
        hit = self._cache.get(i)
        if hit is None:
            f = self.pcln + self.funcoffs[i]
            entry = self.entries[i]
            name = self._string(self.funcname + int.from_bytes(self.data[f + 4:f + 8],
                                                                "little", signed=True))
            pcfile, pcln, cu = self._u32(f + 20), self._u32(f + 24), self._u32(f + 32)
            files = self._values(pcfile, entry) if pcfile else []
            lines = self._values(pcln, entry) if pcln else []
            hit = self._cache[i] = (name, files, lines, cu)
        return hit

    def line(self, addr: int):
        """``(file, line)`` for ``addr`` or None (runs found by bisection, file names
        cached: executing a binary asks this for every instruction it decodes)."""
        fn = self.function(addr)
        if fn is None:
            return None
        _name, files, lines, cu = fn
        fno = _run_value(files, addr)
        ln = _run_value(lines, addr)
        if fno is None or ln is None or fno < 0:
            return None
        names = self.__dict__.setdefault("_names", {})
        key = cu + fno
        name = names.get(key)
        if name is None:
            off = self._u32(self.cutab + key * 4)
            if off == 0xFFFFFFFF:
                return None
            name = names[key] = self._string(self.filetab + off)
        return name, ln


def sp_delta(table: "GoLineTable", addr: int):
    """The function's SP adjustment at ``addr`` (its ``pcsp`` table: bytes between SP and
    the return address), or None outside any function."""
    i = bisect.bisect_right(table.entries, addr) - 1
    if i < 0 or not table.ok:
        return None
    cache = table.__dict__.setdefault("_pcsp", {})
    runs = cache.get(i)
    if runs is None:
        f = table.pcln + table.funcoffs[i]
        pcsp = table._u32(f + 16)
        runs = cache[i] = table._values(pcsp, table.entries[i]) if pcsp else []
    return _run_value(runs, addr)


def func_flags(table: "GoLineTable", addr: int) -> int:
    """The ``_func.flag`` byte of the function holding ``addr`` (runtime/symtab.go:
    funcFlag_TOPFRAME = 1, funcFlag_SPWRITE = 2, funcFlag_ASM = 4)."""
    i = bisect.bisect_right(table.entries, addr) - 1
    if i < 0 or not table.ok:
        return 0
    return table.data[table.pcln + table.funcoffs[i] + 41]


def line_runs(table: "GoLineTable"):
    """Every ``(start, end, file, line)`` run of every function in the line table (the
    pcs of ``[start, end)`` come from ``file:line``), in address order."""
    for entry in table.entries:
        fn = table.function(entry)
        if fn is None:
            continue
        for start, end, ln in fn[2]:
            found = table.line(start) if ln > 0 else None
            if found is not None:
                yield start, end, found[0], ln


def _run_value(runs: list, addr: int):
    """The value of the (start, end, value) run holding ``addr`` (runs are sorted and
    contiguous), or None."""
    i = bisect.bisect_right(runs, (addr, _BIG)) - 1
    if i >= 0:
        start, end, value = runs[i]
        if start <= addr < end:
            return value
    return None


_BIG = 1 << 64


def _varint(data: bytes, p: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = data[p]
        p += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, p
        shift += 7

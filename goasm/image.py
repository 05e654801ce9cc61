"""The linked image: what the loader (``goasm.link``) hands to the machine.

An :class:`Image` maps addresses to decoded instructions (:class:`LInstr`) and lays out
data symbols as initialised byte segments. The machine never looks at source text or
IR statements: it executes ``Image.code`` and maps ``Image.segments``; where the
instructions came from (our loader today, a real Go ELF later) does not matter to it.

Addresses: every instruction occupies ``LInstr.size`` address units (1 for code laid out
by goasm's loader, so ``symbol+offset`` in reports counts instructions); data symbols
live in ordinary byte-addressed segments.
"""

from __future__ import annotations

import bisect
import enum

import attrs

from goasm import ir
from goasm.errors import Pos

# Virtual address space layout (linux/amd64-like, see DESIGN.md "Machine").
TEXT_BASE = 0x401000
DATA_BASE = 0x600000
PAGE_SIZE = 0x1000


class SymKind(enum.Enum):
    TEXT = "text"        # a TEXT symbol (assembly function)
    NATIVE = "native"    # a Go-level runtime function modelled in Python
    RODATA = "rodata"    # GLOBL with RODATA: read-only
    DATA = "data"        # GLOBL with DATA initialisers
    NOPTRDATA = "noptrdata"
    BSS = "bss"          # GLOBL without DATA
    NOPTRBSS = "noptrbss"
    UNDEF = "undef"      # referenced, never defined (link(strict=False)): no code, no data


@attrs.define
class Symbol:
    """A linked symbol.

    ``name`` is the unique linked name in Go's dotted form (``runtime.rt0_go``,
    ``main.add``); a file-local ``foo<>`` links as ``foo<>`` when unique, else
    ``foo<>#N``. ``written`` is the name as it appeared in the source
    (``runtime·rt0_go``, ``·add``, ``foo<>``).
    """

    name: str
    addr: int
    size: int
    kind: SymKind
    written: str = ""
    file: str = ""
    pos: Pos | None = None
    flags: int = 0
    abi: str = "ABI0"


@attrs.frozen
class Target:
    """A resolved branch target inside the image: an address and, for display, the
    instruction index within its function and the label it came from."""

    addr: int
    index: int = -1
    label: str | None = None
    pos: Pos | None = attrs.field(default=None, eq=False, repr=False)

    def __str__(self) -> str:
        return str(self.index) if self.index >= 0 else hex(self.addr)


@attrs.frozen
class LInstr:
    """One instruction as the machine executes it.

    ``args`` are IR operands after linking: FP and named-SP (pseudo) references have
    their offsets resolved to hardware-SP offsets (``kind`` kept so ``expand`` can print
    ``a+40(FP)`` as ``go tool asm -S`` does); SB references carry the *linked* symbol
    name in ``Mem.symbol``; branch targets are :class:`Target`. ``synthetic`` marks
    instructions the loader inserted (prologue, epilogue, stack-split check).
    ``source`` is set for instructions decoded from raw ``BYTE``/``LONG`` statements: their
    text (``LONG $0xdacb380f``), which traces and errors print beside the decoded
    instruction; ``listing`` (:class:`goasm.decode.raw.RawListing`, also set for data
    bytes of a raw run) is how ``go tool asm -S`` lists those statements.
    """

    addr: int
    op: str
    args: tuple = ()
    suffixes: tuple = ()
    pos: Pos | None = None
    func: str = ""
    index: int = 0
    size: int = 1
    synthetic: bool = False
    prefixes: tuple = ()     # LOCK / REP / REPN ... merged from preceding statements
    source: str = ""         # raw statements it was decoded from (goasm.decode.raw)
    listing: object = None   # goasm.decode.raw.RawListing for instructions from raw runs

    @property
    def next_addr(self) -> int:
        return self.addr + self.size

    @property
    def mnemonic(self) -> str:
        return self.op + "".join("." + s for s in self.suffixes)

    def __str__(self) -> str:
        """As ``go tool asm -S`` prints it (prefixes first, ``a+40(FP)`` operands)."""
        from goasm.expand import instruction_lines

        return "; ".join(instruction_lines(self))


@attrs.define
class Function:
    """A TEXT symbol after the loader's frame processing (obj6.go ``preprocess``).

    ``frame`` is the final frame size including the saved BP (``$32-24`` for a written
    ``$24-24``); ``flags`` include NOSPLIT added automatically for small leaf functions
    and NOFRAME where no BP is saved; ``args`` is the argument size (None: unknown).
    """

    symbol: Symbol
    text: ir.Text
    flags: int
    frame: int
    args: int | None
    instrs: tuple = ()
    bpsize: int = 0
    file: str = ""

    @property
    def name(self) -> str:
        return self.symbol.name


class SegmentData:
    """The bytes of a segment, stored sparsely: ``size`` bytes of which only the 4 KiB
    blocks that were written exist (the rest reads as zeros). So a 2 GB ``GLOBL`` costs
    nothing until something is written there, in the loader (``goasm expand``) and in
    the machine (which maps it lazily, ``goasm.machine.memory``).

    Supports what a ``bytearray`` segment is used for: ``len``, slicing (returns
    ``bytes``), slice assignment, ``bytes()``; plus :meth:`page_bytes` and
    :meth:`blocks` for the machine."""

    __slots__ = ("size", "_blocks")

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"negative segment size {size}")
        self.size = size
        self._blocks: dict[int, bytearray] = {}

    def __len__(self) -> int:
        return self.size

    def _bounds(self, key: slice) -> tuple[int, int]:
        start, stop, step = key.indices(self.size)
        if step != 1:
            raise ValueError("SegmentData slices take no step")
        return start, max(start, stop)

    def __getitem__(self, key) -> bytes:
        if isinstance(key, int):
            if not -self.size <= key < self.size:
                raise IndexError("segment index out of range")
            key %= self.size
            block = self._blocks.get(key // PAGE_SIZE)
            return block[key % PAGE_SIZE] if block is not None else 0
        start, stop = self._bounds(key)
        return self.page_bytes(start, stop - start) or bytes(stop - start)

    def __setitem__(self, key: slice, data) -> None:
        start, stop = self._bounds(key)
        if len(data) != stop - start:
            raise ValueError("SegmentData cannot change size")
        pos = 0
        while start < stop:
            b, off = divmod(start, PAGE_SIZE)
            n = min(PAGE_SIZE - off, stop - start)
            block = self._blocks.get(b)
            if block is None:
                block = self._blocks[b] = bytearray(PAGE_SIZE)
            block[off:off + n] = data[pos:pos + n]
            pos += n
            start += n

    def __bytes__(self) -> bytes:
        return self[:]

    def __eq__(self, other) -> bool:
        if isinstance(other, SegmentData):
            if other.size != self.size:
                return False
            blocks = set(self._blocks) | set(other._blocks)
            return all(self.page_bytes(b * PAGE_SIZE, PAGE_SIZE)
                       == other.page_bytes(b * PAGE_SIZE, PAGE_SIZE) or
                       not any(self.page_bytes(b * PAGE_SIZE, PAGE_SIZE) or b"") and
                       not any(other.page_bytes(b * PAGE_SIZE, PAGE_SIZE) or b"")
                       for b in blocks)
        try:
            return len(other) == self.size and bytes(other) == bytes(self)
        except TypeError:
            return NotImplemented

    __hash__ = None

    def page_bytes(self, offset: int, n: int) -> bytes | None:
        """``n`` bytes from ``offset`` (zeros past the end), or None when all are zero
        and none was ever written."""
        out = []
        end = offset + n
        at = offset
        any_block = False
        while at < end:
            b, off = divmod(at, PAGE_SIZE)
            k = min(PAGE_SIZE - off, end - at)
            block = self._blocks.get(b) if at < self.size else None
            if block is None:
                out.append(bytes(k))
            else:
                any_block = True
                out.append(bytes(block[off:off + k]))
            at += k
        return b"".join(out) if any_block else None

    def blocks(self):
        """``(offset, bytes)`` of every block that was written, in order."""
        for b in sorted(self._blocks):
            data = self._blocks[b]
            yield b * PAGE_SIZE, bytes(data[:max(0, min(PAGE_SIZE, self.size - b * PAGE_SIZE))])


@attrs.define
class Segment:
    """Initialised (or zero) bytes at ``addr``; ``writable`` False for RODATA. ``data``
    is a :class:`SegmentData` (sparse) from the loader, or any bytes-like object."""

    addr: int
    data: object
    writable: bool = True
    name: str = ""


@attrs.define
class Image:
    """Everything needed to run: symbols, functions, code by address, data segments."""

    symbols: dict = attrs.field(factory=dict)        # linked name -> Symbol
    functions: dict = attrs.field(factory=dict)      # linked name -> Function
    code: dict = attrs.field(factory=dict)           # addr -> LInstr
    segments: list = attrs.field(factory=list)       # [Segment]
    entry: str | None = None
    files: tuple = ()
    packages: dict = attrs.field(factory=dict)       # import path -> goasm.packages.Package
    main_package: str = "main"                       # where short names resolve
    variables: dict = attrs.field(factory=dict)      # linked name -> goasm.packages.Variable
    var_overrides: dict = attrs.field(factory=dict)  # linked name -> Python value
    declarations: object = None                      # goasm.packages.Declarations
    goroot: object = None                            # a goruntime.GoRoot (--goroot images)
    _starts: list = attrs.field(factory=list, repr=False)
    _by_start: list = attrs.field(factory=list, repr=False)

    def index_symbols(self) -> None:
        """(Re)build the address index used by :meth:`symbol_at`."""
        ordered = sorted(self.symbols.values(), key=lambda s: s.addr)
        self._starts = [s.addr for s in ordered]
        self._by_start = ordered

    def symbol_at(self, addr: int):
        """``(Symbol, offset)`` containing ``addr``, or ``(None, 0)``."""
        if not self._starts:
            self.index_symbols()
        i = bisect.bisect_right(self._starts, addr) - 1
        while i >= 0:
            sym = self._by_start[i]
            if sym.addr <= addr < sym.addr + max(sym.size, 1):
                return sym, addr - sym.addr
            if sym.addr < addr:
                break
            i -= 1
        return None, 0

    def describe(self, addr: int) -> str:
        """``runtime.rt0_go+0x3`` style name of an address (Go traceback style)."""
        sym, off = self.symbol_at(addr)
        if sym is None:
            return hex(addr)
        return f"{sym.name}+{off:#x}" if off else sym.name

    def lookup(self, name: str) -> Symbol | None:
        """Find a symbol by linked name (``main.add``) or as written (``·add``, ``main·add``)."""
        if name in self.symbols:
            return self.symbols[name]
        dotted = name.replace("\u00b7", ".").replace("\u2215", "/")
        if dotted.startswith("."):
            dotted = "main" + dotted
        # A Go executable names an assembly function's ABI0 symbol ``runtime.rt0_go.abi0``.
        return self.symbols.get(dotted) or self.symbols.get(dotted + ".abi0")

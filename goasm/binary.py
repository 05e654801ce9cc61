"""Real Go programs: a statically linked linux/amd64 Go executable, run whole.

``goasm run PROGRAM`` on an ELF file (recognised by its magic number) runs the real
program -- its own runtime, scheduler, allocator, garbage collector, timers and panics
-- on :class:`goasm.machine.threads.ThreadedMachine` with the kernel of
:mod:`goasm.machine.kernel`. What goasm shows for ``.s`` files it shows here too: Plan 9
syntax (the instructions are decoded into goasm's IR, :mod:`goasm.decode`),
``symbol+offset`` from the ELF symbol table, file:line from the binary's Go line table
(``.gopclntab``, the table Go's own tracebacks use), and g/m/stack decoded with the
binary's own struct layouts (from its DWARF, :mod:`goasm.dwarf`).

Loading (:func:`load_image`):

- the ``PT_LOAD`` segments are placed at their addresses (writable or not, as their
  flags say); nothing else of the file is mapped;
- symbols come from ``.symtab`` (or, for a stripped binary, the function table of
  ``.gopclntab``);
- instructions are decoded when first executed (:class:`goasm.machine.threads.LazyCode`):
  decoding all of ``.text`` would take seconds and most of it never runs.

Refused at load time, with a :class:`BinaryError` (exit status 1): files that are not
x86-64 ELF executables, dynamically linked executables (an interpreter, a dynamic
section: cgo, or ``-linkmode=external``), position-independent executables, cgo
binaries and non-Go programs.

The process starts as execve(2) leaves it (:func:`goasm.machine.process.start_process`):
argv, envp and an auxiliary vector describing the program headers (AT_PHDR, AT_PHENT,
AT_PHNUM, AT_ENTRY) and no vDSO (no AT_SYSINFO_EHDR), so the runtime uses system calls
for the clock. AT_RANDOM and getrandom(2) are deterministic: every run of a program is
the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from goasm.errors import GoasmError, Pos
from goasm.image import Image, Segment, SymKind, Symbol

ELF_MAGIC = b"\x7fELF"

CGO_SYMBOLS = ("x_cgo_init", "_cgo_topofstack", "crosscall2", "x_cgo_thread_start")
"""Symbols only a cgo binary has (runtime/cgo's C half)."""

_KIND_BY_SECTION = {
    ".text": SymKind.TEXT,
    ".rodata": SymKind.RODATA,
    ".typelink": SymKind.RODATA,
    ".itablink": SymKind.RODATA,
    ".gopclntab": SymKind.RODATA,
    ".go.buildinfo": SymKind.DATA,
    ".noptrdata": SymKind.NOPTRDATA,
    ".data": SymKind.DATA,
    ".bss": SymKind.BSS,
    ".noptrbss": SymKind.NOPTRBSS,
}

# Auxiliary vector entries describing the executable (include/uapi/linux/auxvec.h).
AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY = 3, 4, 5, 7, 8, 9

RANDOM_BYTES = bytes(range(0x47, 0x47 + 16))
"""AT_RANDOM: fixed, so that hash seeds and everything derived from them are the same in
every run."""


class BinaryError(GoasmError):
    """An executable goasm cannot run (see the module docstring)."""


def is_elf(path) -> bool:
    """Does the file start with the ELF magic number?"""
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


@attrs.define(eq=False)
class GoBinary:
    """A checked Go executable: the :class:`goasm.elf.ElfFile`, its Go version and path."""

    path: str
    elf: object
    version: str = ""

    @property
    def lines(self):
        return self.elf.lines


def open_binary(path) -> GoBinary:
    """Read and check a Go executable (raises :class:`BinaryError`, see the module
    docstring)."""
    from goasm.elf import ElfError, ElfFile

    path = os.fspath(path)
    try:
        elf = ElfFile(path)
    except ElfError as err:
        raise BinaryError(f"{path}: cannot run this file: {err.message.removeprefix(path + ': ')}") \
            from None
    if elf.kind == "ET_REL":
        raise BinaryError(f"{path}: an object file, not an executable (link it with go build)")
    if elf.interp or elf.dynamic:
        how = f"interpreter {elf.interp}" if elf.interp else "a dynamic section"
        raise BinaryError(f"{path}: dynamically linked ({how}); goasm runs statically linked "
                          f"Go executables (build with CGO_ENABLED=0)")
    if elf.kind != "ET_EXEC":
        raise BinaryError(f"{path}: a position-independent executable ({elf.kind}); goasm "
                          f"runs ET_EXEC executables (go build without -buildmode=pie)")
    names = {s.name for s in elf.symbols}
    cgo = [n for n in CGO_SYMBOLS if n in names]
    if cgo:
        raise BinaryError(f"{path}: a cgo binary (it has {cgo[0]}); goasm runs pure Go "
                          f"executables (CGO_ENABLED=0)")
    if elf.lines is None or not elf.lines.ok or not any(
            s.executable for s in elf.segments):
        raise BinaryError(f"{path}: not a Go executable (no Go line table .gopclntab)")
    return GoBinary(path, elf, _go_version(elf))


def _go_version(elf) -> str:
    """``runtime.buildVersion`` (a string header in the data: pointer, length)."""
    try:
        sym = elf.symbol("runtime.buildVersion")
        raw = elf.read(sym.addr, 16)
        ptr, n = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")
        if 0 < n < 64:
            return elf.read(ptr, n).decode("ascii", "replace")
    except Exception:      # a stripped or unusual binary: the version is only informative
        pass
    return ""


def _symbols(binary: GoBinary) -> dict:
    """Linked name -> :class:`Symbol`, from .symtab or the line table's functions."""
    elf = binary.elf
    out: dict = {}
    for s in elf.symbols:
        if s.name in out:
            continue
        kind = SymKind.TEXT if s.func else _KIND_BY_SECTION.get(s.section, SymKind.DATA)
        out[s.name] = Symbol(s.name, s.addr, s.size, kind, written=s.name, file=binary.path)
    if not any(s.kind == SymKind.TEXT for s in out.values()):
        lines = elf.lines
        entries = lines.entries
        for i, entry in enumerate(entries):
            fn = lines.function(entry)
            end = entries[i + 1] if i + 1 < len(entries) else entry + 1
            if fn is not None and fn[0] not in out:
                out[fn[0]] = Symbol(fn[0], entry, end - entry, SymKind.TEXT, written=fn[0],
                                    file=binary.path)
    return out


class _Decode:
    """``addr -> LInstr`` for :class:`LazyCode`: the bytes of the executable segments,
    decoded with goasm's decoder; position and function from the Go line table."""

    def __init__(self, binary: GoBinary, image: Image) -> None:
        from goasm.decode import Decoder, absolute_mem

        self.elf = binary.elf
        self.image = image
        self.decoder = Decoder(rip=absolute_mem)
        self.ranges = [(s.vaddr, s.vaddr + s.filesz) for s in binary.elf.segments
                       if s.executable]

    def __call__(self, addr: int):
        from goasm.decode.linked import link_instr

        for lo, hi in self.ranges:
            if lo <= addr < hi:
                break
        else:
            return None
        data = self.elf.read(addr, 15)
        d = self.decoder.decode_one(data, 0, addr)
        line = self.elf.line(addr)
        pos = Pos(line[0], line[1]) if line is not None else None
        sym, _ = self.image.symbol_at(addr)
        return link_instr(d, addr, func=sym.name if sym is not None else "", pos=pos)


@attrs.define
class BinaryImage(Image):
    """The :class:`Image` of an executable: ``code`` decodes on demand, and the source
    lines of the whole program come from the Go line table (nothing needs decoding)."""

    binary: object = None
    _line_index: object = attrs.field(default=None, repr=False)

    def sp_delta(self, pc: int):
        """Bytes between SP and the return address at ``pc`` (Go's ``pcsp`` table), or
        None (the debugger unwinds Go frames with it, as Go's traceback does)."""
        from goasm.elf import sp_delta

        return sp_delta(self.binary.lines, pc)

    def top_frame(self, pc: int) -> bool:
        """Is ``pc`` in a function marked TOPFRAME (``runtime.goexit``, ``mstart``...):
        the outermost frame of a stack?"""
        from goasm.elf import func_flags

        return bool(func_flags(self.binary.lines, pc) & 1)

    def line_at(self, pc: int):
        """The :class:`goasm.errors.Pos` of ``pc`` from the line table (no decoding)."""
        found = self.binary.elf.line(pc)
        return Pos(found[0], found[1]) if found is not None else None

    def syscall_sites(self) -> tuple:
        """Every SYSCALL instruction of the program (for ``break syscall``): the
        functions whose bytes hold ``0F 05`` are decoded from their entry, in order."""
        from goasm.errors import DecodeError

        out = []
        elf = self.binary.elf
        for sym in self.symbols.values():
            if sym.kind != SymKind.TEXT or sym.size <= 0:
                continue
            try:
                data = elf.read(sym.addr, sym.size)
            except Exception:       # a symbol outside the file's sections
                continue
            if b"\x0f\x05" not in data:
                continue
            pc, end = sym.addr, sym.addr + sym.size
            while pc < end:
                try:
                    ins = self.code.get(pc)
                except DecodeError:
                    break
                if ins is None:
                    break
                if ins.op == "SYSCALL":
                    out.append(pc)
                pc = ins.next_addr
        return tuple(sorted(set(out)))

    def call_sites(self):
        """``pc in call_sites()``: is the instruction at ``pc`` a CALL (decoded on
        demand; the debugger asks only about pcs the program executed)."""
        return _OpSites(self.code, "CALL")

    def source_line_index(self) -> dict:
        """Source file (as :func:`os.path.realpath` names it) -> line -> the first pc of
        every run of instructions from that line, sorted (for ``break file.go:LINE``)."""
        if self._line_index is None:
            from goasm.elf import line_runs

            idx: dict = {}
            real: dict = {}
            for start, _end, file, line in line_runs(self.binary.lines):
                f = real.get(file)
                if f is None:
                    f = real[file] = os.path.realpath(file)
                idx.setdefault(f, {}).setdefault(line, []).append(start)
            for lines in idx.values():
                for pcs in lines.values():
                    pcs.sort()
            self._line_index = idx
        return self._line_index


class _OpSites:
    """A set-like view: the addresses whose instruction is ``op``."""

    def __init__(self, code, op: str) -> None:
        self.code, self.op = code, op

    def __contains__(self, pc) -> bool:
        try:
            ins = self.code.get(pc)
        except Exception:       # undecodable bytes are no CALL
            return False
        return ins is not None and ins.op == self.op


def load_image(binary: GoBinary) -> Image:
    """The :class:`Image` of a checked binary (see the module docstring)."""
    from goasm.machine.threads import LazyCode

    elf = binary.elf
    image = BinaryImage(binary=binary)
    image.symbols = _symbols(binary)
    image.index_symbols()
    for seg in elf.segments:
        data = bytearray(seg.data[:seg.filesz])
        data.extend(bytes(seg.memsz - len(data)))
        image.segments.append(Segment(seg.vaddr, data, writable=seg.writable,
                                      name=_segment_name(seg)))
    image.code = LazyCode(_Decode(binary, image))
    entry, _off = image.symbol_at(elf.entry)
    if entry is None or entry.addr != elf.entry:
        raise BinaryError(f"{binary.path}: no symbol at the entry point {elf.entry:#x}")
    image.entry = entry.name
    image.files = (binary.path,)
    return image


def _segment_name(seg) -> str:
    if seg.executable:
        return "text"
    return "data" if seg.writable else "rodata"


# --------------------------------------------------------------------------- the model

class BinaryModel:
    """What the runtime-facing tools (``--trace``, ``--state-json``, the debugger) know
    about a real Go program: its events, its struct layouts (from DWARF, read on first
    use), and its goroutines (the runtime's own ``allgs`` slice)."""

    def __init__(self, binary: GoBinary) -> None:
        self.binary = binary
        self.events: list = []
        self.machine = None
        self._layout = None

    def bind(self, machine) -> None:
        self.machine = machine

    def natives(self):
        return ()

    @property
    def layout(self):
        """The binary's runtime layout (:func:`goasm.dwarf.runtime_layout`)."""
        if self._layout is None:
            from goasm.dwarf import runtime_layout

            self._layout = runtime_layout(self.binary.path, self.binary.version)
        return self._layout

    @property
    def allgs(self) -> list:
        """Every g the runtime has allocated (``runtime.allgs``: pointer, length)."""
        m = self.machine
        sym = m.image.lookup("runtime.allgs") if m is not None else None
        if sym is None:
            return []
        try:
            ptr, n = m.mem.read_u64(sym.addr), m.mem.read_u64(sym.addr + 8)
            return [m.mem.read_u64(ptr + 8 * i) for i in range(min(n, 1 << 16))]
        except Exception:       # not allocated yet (before schedinit), or being grown
            return []

    def state_json(self, machine, *, entry_sp: int | None = None) -> dict:
        """``--state-json`` for a real program: :func:`goasm.machine.runtime.state_json`
        (registers, FS base, symbols, the g in TLS, g0, m0) with the binary's layouts,
        plus ``curg`` (m0's current goroutine), ``goroutines`` (every g of ``allgs``),
        ``threads`` (each thread's id, state, PC, SP and FS base) and ``go_version``."""
        from goasm.dwarf import DwarfError
        from goasm.machine.runtime import decode_g, state_json

        try:
            layout = self.layout
        except DwarfError as err:       # linked with -w: registers and threads only
            out = state_json(machine, _NoLayout(), entry_sp=entry_sp)
            out.update(g=None, g0=None, m0=None, curg=None, goroutines=[],
                       layout_error=err.message)
            out["threads"] = thread_list(machine)
            out["go_version"] = self.binary.version
            return out
        out = state_json(machine, self, entry_sp=entry_sp)
        m0 = out.get("m0") or {}
        curg = m0.get("curg")
        out["curg"] = decode_g(machine, layout, curg) if curg else None
        out["goroutines"] = [g for g in (decode_g(machine, layout, a) for a in self.allgs) if g]
        out["threads"] = thread_list(machine)
        out["go_version"] = self.binary.version
        return out


class _NoLayout:
    """A model for :func:`goasm.machine.runtime.state_json` when the binary has no DWARF:
    structs are not decoded (their fields are unknown)."""

    @property
    def layout(self):
        from goasm.machine.layout import Layout, Struct

        huge = Struct("none", 1 << 62, {})
        return Layout("none", {n: huge for n in ("g", "m", "gobuf", "stack", "funcval")}, {})


def thread_list(machine) -> list:
    """Each thread of the process: ``tid``, ``state``, ``pc``, ``sp``, ``fs_base``,
    ``steps`` (instructions it ran) and, for a waiting thread, what it waits for."""
    from goasm.machine.kernel import _wait_text

    k = getattr(machine, "kernel", None)
    if k is None:
        return []
    out = []
    for t in k.threads.values():
        if t.tid == k.current:
            pc, sp, fs = machine.cpu.pc, machine.cpu.regs[4], machine.cpu.fs_base
            steps = t.steps + machine.steps - k.on_cpu_since
        elif t.cpu is not None:
            pc, sp, fs = t.cpu[5], t.cpu[0][4], t.cpu[6]
            steps = t.steps
        else:
            pc = sp = fs = None
            steps = t.steps
        out.append({"tid": t.tid, "state": t.state, "pc": pc, "sp": sp, "fs_base": fs,
                    "steps": steps, "waits_for": _wait_text(t.wait) if t.wait else None})
    return out


# --------------------------------------------------------------------------- start

def start(path, *, argv=(), env=(), max_steps=None, cpu=None, stdout=None, stderr=None,
          stdin=None, program_name: str | None = None, quantum: int = 10_000,
          memory_limit: int | None = None, cpus: int | None = None):
    """Load the executable at ``path`` and prepare the process as execve(2) would;
    returns a :class:`goasm.api.Process` (machine, model, entry SP, kernel).

    ``argv`` are the arguments after the program name (``program_name``, default the
    path as given); ``env`` the environment strings (``K=V``); ``cpus`` the CPUs the
    process may run on (default :data:`goasm.machine.kernel.CPUS`)."""
    from goasm.api import Process, cpu_model
    from goasm.machine.kernel import ThreadedLinux
    from goasm.machine.process import start_process
    from goasm.machine.threads import ThreadedMachine

    binary = open_binary(path)
    image = load_image(binary)
    kwargs = {} if memory_limit is None else {"memory_limit": memory_limit}
    machine = ThreadedMachine(image, cpu_model=cpu_model(cpu), stdout=stdout, stderr=stderr,
                              stdin=stdin, max_steps=max_steps, **kwargs)
    model = BinaryModel(binary)
    model.bind(machine)
    name = os.fsencode(program_name if program_name is not None else os.fspath(path))
    kernel = ThreadedLinux(stdout=stdout, stderr=stderr, stdin=stdin, events=model.events,
                           quantum=quantum, execfn=os.fsencode(os.path.abspath(path)),
                           **({} if cpus is None else {"cpus": cpus}))
    machine.syscall = kernel
    elf = binary.elf
    auxv = {AT_PHDR: elf.phdr_addr or 0, AT_PHENT: elf.phentsize, AT_PHNUM: elf.phnum,
            AT_BASE: 0, AT_FLAGS: 0, AT_ENTRY: elf.entry}
    sp = start_process(machine, argv=[name] + [os.fsencode(a) for a in argv],
                       env=[os.fsencode(e) for e in env], entry=image.entry,
                       random=RANDOM_BYTES, execfn=name, auxv=auxv)
    kernel.on_cpu_since = machine.steps
    return Process(machine, model, sp, kernel)


def is_program(files) -> bool:
    """True when ``files`` (what ``goasm run`` was given) is one ELF executable."""
    files = list(files)
    return len(files) == 1 and Path(files[0]).is_file() and is_elf(files[0])

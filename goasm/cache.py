"""On-disk caches of the front end: parsed IR by content hash, and Lark's grammar tables.

DESIGN.md, "Performance design": Lark LALR parses ~40 K lines/s, so a second load of the
same files must cost no parsing. :func:`goasm.parse.parse_file` asks :class:`IRCache`
first.

Where
    ``$XDG_CACHE_HOME/goasm`` or ``~/.cache/goasm`` (``ir/`` and ``lark/`` below it);
    ``GOASM_NO_CACHE=1`` turns both caches off, ``GOASM_CACHE_DIR`` moves them.

Key
    sha256 of: the *salt* (goasm's version, the grammar text, and the source of the
    front-end modules, so a changed parser never reads an old entry), the file's path
    as given (positions carry it) and the working directory, its bytes, the ``-I``
    directories, the built-in include directory, the ``-D`` defines and the limits. An entry also records every ``#include`` the file can
    reach (found by scanning the text, also inside ``#ifdef`` branches: a superset of
    what the preprocessor opens) with the candidate paths the preprocessor tries before
    the one it found and the sha256 of the file found. A hit is accepted only when each
    of those still resolves to a file with the same contents -- so editing, adding or
    removing a header anywhere on the search path invalidates the entries that could
    see it, while a hit reads no more than the file and its headers (no
    preprocessing).

Format
    ``marshal`` of ``(dependencies, encoded program)``; the program is encoded as
    nested tuples ``(class id, field, ...)`` of the IR's attrs classes and decoded by
    constructors generated once per class (no ``__init__`` validation, no pickle
    machinery): decoding is several times faster than unpickling the same IR.
    Entries are written to a temporary file in the same folder and renamed into place
    (atomic on POSIX and Windows), so concurrent processes never see half an entry;
    anything unreadable counts as a miss.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import gc
import hashlib
import marshal
import os
import re
import sys
import tempfile
from pathlib import Path

import attrs

from goasm import ir
from goasm.errors import Pos

FORMAT = 1
"""Bumped when the entry layout changes."""

_FRONT_END = ("parse.py", "parse_tree.py", "parse_fast.py", "ir.py", "preprocess.py",
              "errors.py", "cache.py", "arch/amd64.py", "arch/amd64_mnemonics.txt")
_INCLUDE_RE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*"((?:[^"\\\n]|\\.)*)"', re.M)


def cache_root() -> Path | None:
    """The cache folder (see the module docstring), or None when caching is off."""
    if os.environ.get("GOASM_NO_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get("GOASM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "goasm"


@functools.lru_cache(maxsize=None)
def salt() -> bytes:
    """sha256 of goasm's version, the grammar and the front end's source files."""
    from goasm import __version__
    from goasm.resources import grammar_path

    h = hashlib.sha256(f"goasm {__version__} ir-format {FORMAT} "
                       f"python {sys.version_info[:2]}\0".encode())
    h.update(grammar_path().read_bytes())
    here = Path(__file__).resolve().parent
    for name in _FRONT_END:
        try:
            h.update((here / name).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.digest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector while building many acyclic objects (IR
    nodes): with the corpus' IR alive, collections triggered by the allocations cost
    more than the decoding itself. Reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# --------------------------------------------------------------------------- IR codec

def _ir_classes() -> tuple:
    found = [v for v in vars(ir).values() if isinstance(v, type) and attrs.has(v)]
    return tuple(sorted(found, key=lambda c: c.__name__)) + (Pos,)


def _ir_enums() -> tuple:
    found = [v for v in vars(ir).values() if isinstance(v, type) and issubclass(v, enum.Enum)
             and v is not enum.Enum]
    return tuple(sorted(found, key=lambda c: c.__name__))


class Unencodable(Exception):
    """A value the codec has no encoding for (the program is then not cached)."""


_PRIMITIVE_TYPES = frozenset({"str", "int", "bool", "float", "bytes", "str | None",
                              "int | None", "bool | None", "float | None", "bytes | None"})
_PRIMS = (str, int, bool, float, bytes, type(None))


class Codec:
    """Encodes IR programs as marshal-able tuples and decodes them (module docstring).

    Built once per process (:func:`codec`). Each class gets a constructor generated
    from its attrs fields that assigns the slots directly (as attrs' frozen
    ``__init__`` does, minus the argument handling); fields annotated with a plain type
    (``str``, ``int | None`` ...), a ``Pos`` or an enum are decoded without the generic
    dispatch, and :meth:`encode` checks that the values really have those types (else
    the program is not cached)."""

    def __init__(self) -> None:
        self.classes = _ir_classes()
        self.enums = _ir_enums()
        self.class_id = {c: i for i, c in enumerate(self.classes)}
        self.enum_id = {e: len(self.classes) + i for i, e in enumerate(self.enums)}
        self.fields = {c: tuple(attrs.fields(c)) for c in self.classes}
        self.kinds = {c: tuple(self._kind(f) for f in self.fields[c]) for c in self.classes}
        self.members = {e: tuple(e) for e in self.enums}
        self.makers: tuple = ()
        self.encoders = {c: self._encoder(c) for c in self.classes}
        makers = [self._maker(c) for c in self.classes]
        movers = [self._maker(c, relocate=True) for c in self.classes]
        for e in self.enums:
            members = self.members[e]
            makers.append(lambda x, members=members: members[x[1]])
            movers.append(lambda x, file, line, members=members: members[x[1]])
        self.makers = tuple(makers)
        self.movers = tuple(movers)

    def _kind(self, field):
        t = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        t = t.replace("Optional[", "").rstrip("]") if t.startswith("Optional[") else t
        if t in _PRIMITIVE_TYPES:
            return ("prim",)
        if t in ("Pos | None", "Pos"):
            return ("pos",)
        for e in self.enums:
            if t in (e.__name__, f"{e.__name__} | None"):
                return ("enum", e)
        return ("any",)

    def _maker(self, cls, relocate: bool = False):
        """The constructor of ``cls`` from its encoding; with ``relocate``, one taking
        ``(x, file, line)`` whose positions get that file and line (:meth:`relocate`)."""
        ns = {"new": object.__new__, "cls": cls, "tuple": tuple, "list": list,
              "codec": self}
        extra = ", file, line" if relocate else ""
        lines = [f"def make(x{extra}):", "    o = new(cls)"]
        for i, (f, kind) in enumerate(zip(self.fields[cls], self.kinds[cls])):
            ns[f"s{i}"] = cls.__dict__[f.name].__set__
            if kind[0] == "prim":
                lines.append(f"    s{i}(o, x[{i + 1}])")
            elif kind[0] == "pos":
                lines += [f"    v = x[{i + 1}]",
                          f"    s{i}(o, None if v is None else mkpos(v{extra}))"]
            elif kind[0] == "enum":
                ns[f"m{i}"] = self.members[kind[1]]
                lines += [f"    v = x[{i + 1}]",
                          f"    s{i}(o, None if v is None else m{i}[v[1]])"]
            else:
                lines += [f"    v = x[{i + 1}]",
                          "    if type(v) is tuple or type(v) is list:",
                          f"        v = dec(v{extra})",
                          f"    s{i}(o, v)"]
        lines.append("    return o")
        ns["dec"] = self.relocate if relocate else self.decode
        ns["mkpos"] = self._pos_maker(relocate)
        exec("\n".join(lines), ns)  # noqa: S102 - our own generated text
        return ns["make"]

    def _encoder(self, cls):
        """``enc(obj) -> tuple`` for one class; raises :class:`Unencodable` when a
        field's value does not have the type its annotation promises."""
        pos_id = self.class_id[Pos]
        ns = {"cls": cls, "PRIMS": frozenset(_PRIMS), "Pos": Pos, "codec": self,
              "Bad": Unencodable, "type": type}
        lines = ["def enc(o):"]
        parts = [str(self.class_id[cls])]
        for i, (f, kind) in enumerate(zip(self.fields[cls], self.kinds[cls])):
            lines.append(f"    v{i} = o.{f.name}")
            if kind[0] == "prim":
                lines += [f"    if type(v{i}) not in PRIMS:",
                          f"        raise Bad({cls.__name__ + '.' + f.name!r})"]
                parts.append(f"v{i}")
            elif kind[0] == "pos":
                lines += [f"    if v{i} is not None:",
                          f"        if type(v{i}) is not Pos:",
                          f"            raise Bad({cls.__name__ + '.' + f.name!r})",
                          f"        v{i} = ({pos_id}, v{i}.file, v{i}.line, v{i}.col)"]
                parts.append(f"v{i}")
            elif kind[0] == "enum":
                ns[f"E{i}"] = kind[1]
                ns[f"X{i}"] = {m: (self.enum_id[kind[1]], j)
                               for j, m in enumerate(self.members[kind[1]])}
                lines += [f"    if v{i} is not None:",
                          f"        if type(v{i}) is not E{i}:",
                          f"            raise Bad({cls.__name__ + '.' + f.name!r})",
                          f"        v{i} = X{i}[v{i}]"]
                parts.append(f"v{i}")
            else:
                parts.append(f"codec.encode(v{i})")
        lines.append(f"    return ({', '.join(parts)},)")
        exec("\n".join(lines), ns)  # noqa: S102 - our own generated text
        return ns["enc"]

    def _pos_maker(self, relocate: bool = False):
        sf, sl, sc = (Pos.__dict__[n].__set__ for n in ("file", "line", "col"))
        new = object.__new__

        def mkpos_at(x, file, line):
            o = new(Pos)
            sf(o, file)
            sl(o, line)
            sc(o, x[3])
            return o
        if relocate:
            return mkpos_at

        def mkpos(x):
            o = new(Pos)
            sf(o, x[1])
            sl(o, x[2])
            sc(o, x[3])
            return o
        return mkpos

    def encode(self, value):
        t = type(value)
        if t is str or t is int or value is None or t is bool or t is float or t is bytes:
            return value
        if t is tuple:
            return [self.encode(v) for v in value]
        enc = self.encoders.get(t)
        if enc is not None:
            return enc(value)
        eid = self.enum_id.get(t)
        if eid is not None:
            return (eid, self.members[t].index(value))
        raise Unencodable(t.__name__)

    def decode(self, x):
        if type(x) is list:
            return tuple([self.decode(v) if type(v) is tuple or type(v) is list else v
                          for v in x])
        return self.makers[x[0]](x)

    def relocate(self, x, file: str, line: int):
        """Decode ``x`` with every position moved to ``file``:``line`` (columns kept):
        the IR of a line whose text, column and expansion equal a line already parsed
        (:func:`goasm.parse._parse_mixed`)."""
        if type(x) is list:
            return tuple([self.relocate(v, file, line) if type(v) is tuple or type(v) is list
                          else v for v in x])
        return self.movers[x[0]](x, file, line)


@functools.lru_cache(maxsize=None)
def codec() -> Codec:
    return Codec()


# --------------------------------------------------------------------------- includes

def _scan_includes(path: str, data: bytes, dirs_after_own: tuple, out: dict, depth: int = 0):
    """Record every ``#include`` reachable from ``path`` (text ``data``): key
    ``(including folder, name)`` -> (candidates tried in order, index found or -1,
    sha256 of the found file)."""
    if depth > 64:
        return
    own = os.path.dirname(path) or "."
    for m in _INCLUDE_RE.finditer(data):
        try:
            name = m.group(1).decode("utf-8")
        except UnicodeDecodeError:
            continue
        key = (own, name)
        if key in out:
            continue
        if os.path.isabs(name):
            candidates = (name,)
        else:
            dirs: list[str] = []
            for d in (own, *dirs_after_own):
                if d is not None and d not in dirs:
                    dirs.append(d)
            candidates = tuple(os.path.join(d, name) for d in dirs)
        found, digest, text = -1, b"", None
        for i, cand in enumerate(candidates):
            try:
                with open(cand, "rb") as f:
                    text = f.read()
            except OSError:
                continue
            found, digest = i, hashlib.sha256(text).digest()
            break
        out[key] = (candidates, found, digest)
        if text is not None:
            _scan_includes(candidates[found], text, dirs_after_own, out, depth + 1)


def _deps_valid(deps) -> bool:
    for candidates, found, digest in deps:
        for i, cand in enumerate(candidates):
            if i == found:
                try:
                    with open(cand, "rb") as f:
                        if hashlib.sha256(f.read()).digest() != digest:
                            return False
                except OSError:
                    return False
                break
            if os.path.exists(cand):
                return False
    return True


# --------------------------------------------------------------------------- the cache

class IRCache:
    """Parsed programs on disk (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "ir"

    @staticmethod
    def default() -> "IRCache | None":
        root = cache_root()
        return None if root is None else IRCache(root)

    def key(self, path: str, data: bytes, include_dirs, builtin_dirs, defines, limits) -> str:
        h = hashlib.sha256(salt())
        if isinstance(defines, dict) or hasattr(defines, "items"):
            defs = sorted((str(k), None if v is None else str(v)) for k, v in defines.items())
        elif defines is None:
            defs = None
        else:
            defs = [str(d) for d in defines]
        # The path as given (positions carry it) and the working directory (relative
        # paths and include folders are resolved from it).
        meta = repr((os.fspath(path), os.getcwd(), [os.fspath(d) for d in include_dirs],
                     [os.fspath(d) for d in builtin_dirs], defs, repr(limits)))
        h.update(meta.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(data)
        return h.hexdigest()

    def _file(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key[2:]}.ir"

    def get(self, key: str):
        """The program stored under ``key``, or None (missing, stale or unreadable)."""
        try:
            raw = self._file(key).read_bytes()
        except OSError:
            return None
        with no_gc():
            try:
                deps, encoded = marshal.loads(raw)
                if not _deps_valid(deps):
                    return None
                return codec().decode(encoded)
            except Exception:   # noqa: BLE001 - a damaged entry is a miss
                return None

    def put(self, key: str, path: str, data: bytes, include_dirs, builtin_dirs, program) -> None:
        """Store ``program``; failures (read-only home, full disk) are ignored."""
        try:
            with no_gc():
                encoded = codec().encode(program)
        except Unencodable:
            return
        found: dict = {}
        own_dir = os.path.dirname(os.fspath(path)) or "."
        after = tuple(os.fspath(d) for d in (own_dir, *include_dirs, *builtin_dirs))
        _scan_includes(os.fspath(path), data, after, found)
        deps = tuple(found.values())
        try:
            write_atomic(self._file(key), marshal.dumps((deps, encoded)))
        except OSError:
            pass


def lark_cache_file(grammar: str) -> str | None:
    """Where Lark keeps the compiled tables of ``grammar`` (None: caching off). The
    name carries the grammar's hash, so a changed grammar never loads old tables."""
    root = cache_root()
    if root is None:
        return None
    import lark

    h = hashlib.sha256(f"{grammar}\0lark {lark.__version__} {sys.version_info[:2]}".encode())
    return str(root / "lark" / f"plan9_amd64-{h.hexdigest()[:32]}.lark")

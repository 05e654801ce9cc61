"""Where goasm's data files live: the grammar and the embedded runtime (``runtime_s/``).

In a checkout they sit at the top level (``grammar/``, ``runtime_s/``); in an installed
wheel setuptools maps them into the package as ``goasm.grammar`` and ``goasm.runtime_s``
(see ``pyproject.toml``). Both layouts are looked up here and nowhere else.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _locate(folder: str) -> Path:
    """``goasm/<folder>`` in an installed wheel, else ``<checkout>/<folder>``."""
    installed = _PACKAGE / folder
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / folder


@functools.lru_cache(maxsize=None)
def grammar_dir() -> Path:
    """The folder holding ``plan9_amd64.lark``."""
    return _locate("grammar")


def grammar_path() -> Path:
    return grammar_dir() / "plan9_amd64.lark"


@functools.lru_cache(maxsize=None)
def runtime_dir() -> Path:
    """The embedded Plan 9 runtime (``rt0``/``asm``/``sys`` .s files and headers)."""
    return _locate("runtime_s")


def runtime_include_dir() -> Path:
    """The folder searched last by ``#include``: goasm's ``textflag.h``, ``funcdata.h``,
    ``go_tls.h`` and ``asm_amd64.h`` (``runtime_s/include``, Go's ``$GOROOT/pkg/include``
    role). The runtime's ``go_asm.h`` is not there: only the runtime's own files see it
    (a package's ``go_asm.h`` is generated for that package, never borrowed)."""
    return runtime_dir() / "include"

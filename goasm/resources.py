"""Where goasm's data files live: the grammar and the embedded runtime (``runtime_s/``).

In a checkout they sit at the top level (``grammar/``, ``runtime_s/``); in an installed
wheel setuptools maps them into the package as ``goasm.grammar`` and ``goasm.runtime_s``
(see ``pyproject.toml``). Both layouts are looked up here and nowhere else.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _locate(package: str, folder: str) -> Path:
    try:
        found = Path(str(resources.files(package)))
        if found.is_dir():
            return found
    except (ModuleNotFoundError, TypeError):
        pass
    return _CHECKOUT / folder


@functools.lru_cache(maxsize=None)
def grammar_dir() -> Path:
    """The folder holding ``plan9_amd64.lark``."""
    return _locate("goasm.grammar", "grammar")


def grammar_path() -> Path:
    return grammar_dir() / "plan9_amd64.lark"


@functools.lru_cache(maxsize=None)
def runtime_dir() -> Path:
    """The embedded Plan 9 runtime (``rt0``/``asm``/``sys`` .s files and headers)."""
    return _locate("goasm.runtime_s", "runtime_s")


def runtime_include_dir() -> Path:
    """The folder searched last by ``#include`` (textflag.h, funcdata.h, go_tls.h, go_asm.h)."""
    return runtime_dir()

"""goasm's pytest plugin (entry point ``goasm`` in the ``pytest11`` group).

Fixtures:

- ``goasm_machine`` (module scope): a :class:`goasm.Machine` for the ``.s`` files the
  test module names in a module-level ``goasm_files = ["add_amd64.s"]`` (paths relative
  to the module), or else the ``goasm_files`` ini option (relative to the rootdir).
  A module-level ``goasm_options = {"cpu": "amd"}`` passes :class:`goasm.Machine`
  options (and ``include_dirs``/``defines`` for loading).
  The files are loaded, linked and bootstrapped once per session; every
  ``goasm_machine.call(...)`` starts from that bootstrapped state (a copy-on-write
  snapshot), so tests cannot disturb each other and hypothesis can run thousands of
  examples. Module scope keeps it usable from ``@given`` tests.
- ``goasm_load`` (session scope): ``goasm_load(*files, **options)`` returns the session's
  machine for those files and :class:`goasm.Machine` options (``cpu="amd"``,
  ``check="collect"``...), loading them on first use.

Nothing here runs unless a test asks for a fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser) -> None:
    parser.addini("goasm_files", "assembly files for the goasm_machine fixture (relative "
                  "to the rootdir), when a test module sets no goasm_files", type="linelist",
                  default=[])


class MachineCache:
    """The session's machines, keyed by resolved files and options."""

    def __init__(self) -> None:
        self.machines: dict = {}

    def get(self, files, **options):
        import goasm
        from goasm.api import load

        paths = tuple(str(Path(f).resolve()) for f in files)
        if not paths:
            raise pytest.UsageError("goasm: no assembly files given (set goasm_files)")
        load_opts = {k: options.pop(k) for k in ("include_dirs", "defines") if k in options}
        key = (paths, tuple(sorted((k, repr(v)) for k, v in load_opts.items())),
               tuple(sorted((k, repr(v)) for k, v in options.items())))
        m = self.machines.get(key)
        if m is None:
            image = load(list(paths), **load_opts)
            m = goasm.Machine(image, **options)
            m.ready()
            self.machines[key] = m
        return m


@pytest.fixture(scope="session")
def _goasm_cache():
    return MachineCache()


@pytest.fixture(scope="session")
def goasm_load(_goasm_cache):
    """``goasm_load(*files, **options)`` -> the session's :class:`goasm.Machine`."""
    def load(*files, **options):
        return _goasm_cache.get(files, **options)
    return load


@pytest.fixture(scope="module")
def goasm_machine(request, _goasm_cache):
    """A :class:`goasm.Machine` for the module's ``goasm_files`` (see the module
    docstring), at its bootstrapped state."""
    files = getattr(request.module, "goasm_files", None)
    if files is not None:
        base = Path(request.module.__file__).parent
        paths = [base / f for f in ([files] if isinstance(files, str) else files)]
        options = dict(getattr(request.module, "goasm_options", {}) or {})
    else:
        base = Path(str(request.config.rootpath))
        paths = [base / f for f in request.config.getini("goasm_files")]
        options = {}
    machine = _goasm_cache.get(paths, **options)
    machine.reset()
    return machine

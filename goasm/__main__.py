"""``python -m goasm`` is the ``goasm`` command."""

from goasm.cli import main

raise SystemExit(main())

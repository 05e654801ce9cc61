"""``python -m goasm.debug FILE.s…``: the ``goasm debug`` command line."""

import sys

from goasm.debug.cli import script_main

sys.exit(script_main())

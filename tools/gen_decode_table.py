#!/usr/bin/env python3
"""Regenerate goasm/decode/amd64_decode.txt from the installed Go toolchain's encoder tests.

    python tools/gen_decode_table.py [--goroot DIR] [--check] [--verify]

Learns, for every x86 instruction code iced-x86 finds in the ``INSN operands // hex``
lines of cmd/asm's amd64enc.s, amd64enc_extra.s and avx512enc/*.s, the Go mnemonic and
operand order (goasm.decode.gen). ``--check`` compares with the committed file instead of
writing it (exit 1 when they differ); ``--verify`` also decodes every listed encoding with
the resulting tables and reports the lines that do not decode to their text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from goasm.conformance import find_goroot  # noqa: E402
from goasm.decode import gen  # noqa: E402
from goasm.decode import table as dtable  # noqa: E402

OUT = REPO / "goasm" / "decode" / dtable.GENERATED


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goroot")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--verify", action="store_true")
    opts = ap.parse_args(argv)
    goroot = find_goroot(opts.goroot)
    text, learned, lines = gen.generate(goroot)
    for p in learned.problems:
        print("problem:", p)
    print(f"{len(lines)} lines, {len(learned.rules)} codes, {len(learned.problems)} problems, "
          f"{len(learned.different)} listed encodings of a different instruction")
    status = 0
    if opts.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run tools/gen_decode_table.py")
            status = 1
    else:
        OUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUT}")
    if opts.verify:
        rules = {**dtable.parse_rules(text, dtable.GENERATED),
                 **dtable.parse_rules(dtable.read_data(dtable.HAND_RULES), dtable.HAND_RULES)}
        checked, bad = gen.verify(lines, rules)
        for m in bad:
            data = m.line.emitted if m.index < 0 else m.line.encodings[m.index]
            print(f"mismatch: {m.line.name} [{data.hex()}] -> {m.got}")
        print(f"verified {checked} encodings, {len(bad)} do not decode to their line")
    return status


if __name__ == "__main__":
    sys.exit(main())

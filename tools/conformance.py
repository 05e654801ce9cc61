#!/usr/bin/env python3
"""Print goasm's conformance with Unicorn on Go's amd64enc.s, one row per mnemonic.

    tools/conformance.py [--goroot DIR] [--states N] [--category C ...] [--op OP ...]
                         [--unimplemented] [--excluded] [--no-native] [--seed N]

Every form of ``cmd/asm/internal/asm/testdata/amd64enc.s`` is classified (checked,
excluded with a reason, unimplemented); checked forms run from N hypothesis-generated
states (default 50; CI runs 50) in Unicorn and goasm (see :mod:`goasm.conformance`).
Columns: forms, checked, excluded, unimplemented, states run, Unicorn/goasm
disagreements the host processor settled in goasm's favour (``cpu``), and mismatches.
The totals per category, the first mismatch of each failing form, and the number of
amd64error.s ERROR lines goasm rejects at load time follow. Exit status 1 when any
form mismatches.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from goasm import conformance as C  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--goroot", help="GOROOT (default: the go next to this python / PATH)")
    ap.add_argument("--states", type=int, default=50, help="states per form (default 50)")
    ap.add_argument("--category", action="append", choices=C.CATEGORIES,
                    help="only these categories (repeatable)")
    ap.add_argument("--op", action="append", help="only these mnemonics (repeatable)")
    ap.add_argument("--unimplemented", action="store_true",
                    help="list every unimplemented form")
    ap.add_argument("--excluded", action="store_true",
                    help="list every excluded form with its reason")
    ap.add_argument("--no-native", action="store_true",
                    help="never ask the host processor to settle disagreements")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: per group)")
    ns = ap.parse_args(argv)

    t0 = time.perf_counter()
    suite = C.Suite(ns.goroot)
    forms = suite.classified()
    runner = C.Runner(suite, native=not ns.no_native)
    cats = set(ns.category) if ns.category else None
    ops = set(ns.op) if ns.op else None
    groups = suite.groups(categories=cats, ops=ops)
    results = []
    try:
        for name in sorted(groups):
            results += runner.check_group(groups[name], states=ns.states, seed=ns.seed)
    finally:
        runner.close()
    by_form = {id(r.form): r for r in results}

    rows: dict[str, Counter] = {}
    category: dict[str, str] = {}
    for f in forms:
        if cats is not None and f.category not in cats:
            continue
        if ops is not None and f.op not in ops:
            continue
        row = rows.setdefault(f.op, Counter())
        category[f.op] = f.category
        row["forms"] += 1
        row[f.status] += 1
        r = by_form.get(id(f))
        if r is not None:
            row["states"] += r.states
            row["cpu"] += r.cpu_decided
            row["mismatches"] += r.mismatches
    cols = ("forms", "checked", "excluded", "unimplemented", "states", "cpu", "mismatches")
    out = sys.stdout
    out.write(f"{'mnemonic':16}{'category':10}" + "".join(f"{c:>14}" for c in cols) + "\n")
    for op in sorted(rows, key=lambda o: (C.CATEGORIES.index(category[o]), o)):
        row = rows[op]
        out.write(f"{op:16}{category[op]:10}" + "".join(f"{row[c]:>14}" for c in cols) + "\n")
    out.write("\n" + "\n".join(C.format_tally(C.tally(suite, results))) + "\n")

    bad = [r for r in results if r.mismatches]
    for r in bad:
        out.write(f"\nMISMATCH {r.first}\n")
    if ns.unimplemented:
        out.write("\nunimplemented forms:\n")
        for f in forms:
            if f.status == "unimplemented" and (cats is None or f.category in cats):
                out.write(f"  {f.name}    [{f.category}] {f.reason}\n")
    if ns.excluded:
        out.write("\nexcluded forms:\n")
        for f in forms:
            if f.status == "excluded" and (cats is None or f.category in cats):
                out.write(f"  {f.name}    [{f.category}] {f.reason}\n")
    errors = C.check_error_file(suite.goroot)
    rejected = sum(e.rejected for e in errors)
    total_states = sum(r.states for r in results)
    out.write(f"\nforms checked {len(results)}, states checked {total_states}, "
              f"mismatches = {sum(r.mismatches for r in results)} "
              f"(settled by the processor: {sum(r.cpu_decided for r in results)})\n")
    out.write(f"unimplemented forms: {sum(f.status == 'unimplemented' for f in forms)} "
              f"(--unimplemented lists them)\n")
    out.write(f"amd64error.s: goasm rejects {rejected} of {len(errors)} ERROR lines at load "
              f"time\n")
    out.write(f"({time.perf_counter() - t0:.1f} s)\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Print goasm's conformance with Unicorn (amd64enc.s) or the real CPU (VEX/EVEX).

    tools/conformance.py [--goroot DIR] [--states N] [--category C ...] [--op OP ...]
                         [--unimplemented] [--excluded] [--no-native] [--seed N]
    tools/conformance.py --vex [MNEMONIC ...] | --evex [MNEMONIC ...] | --family F ...
                         [--live-only | --recorded-only] [--states N] [--unimplemented]
                         [--details N] [--readme]

SIMD mode (``--vex``, ``--evex``, ``--family``; :mod:`goasm.cpuoracle`): every VEX and
EVEX form of amd64enc.s, amd64enc_extra.s and avx512enc/*.s that goasm implements runs
from the deterministic states of goasm.vecstate and is compared with this machine's
processor (live, where it executes the form) and with the recorded answers in
tests/data/cpu_oracle (any machine). Mismatches show the input state and which
register lanes differ. ``--vex`` alone takes every VEX form, ``--vex VPADDD VPSUBD``
those mnemonics; ``--family AVX512BW`` a family (AVX AVX2 FMA F16C AES PCLMULQDQ
AVX512F AVX512CD AVX512BW AVX512DQ AVX512IFMA AVX512VBMI AVX512VBMI2 AVX512VNNI
AVX512BITALG AVX512VPOPCNTDQ GFNI VAES VPCLMULQDQ). ``--readme`` prints the README's
conformance table (every family, recorded answers replayed).

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
    ap.add_argument("--vex", nargs="*", metavar="MNEMONIC",
                    help="SIMD mode: VEX forms (all, or these mnemonics)")
    ap.add_argument("--evex", nargs="*", metavar="MNEMONIC",
                    help="SIMD mode: EVEX forms (all, or these mnemonics)")
    ap.add_argument("--family", action="append", help="SIMD mode: these families")
    ap.add_argument("--live-only", action="store_true", help="SIMD: only the live CPU")
    ap.add_argument("--recorded-only", action="store_true",
                    help="SIMD: only the recorded answers")
    ap.add_argument("--details", type=int, default=3,
                    help="SIMD: mismatching states shown per form (default 3)")
    ap.add_argument("--readme", action="store_true",
                    help="SIMD: print the README conformance table (markdown)")
    ns = ap.parse_args(argv)
    if ns.vex is not None or ns.evex is not None or ns.family or ns.readme:
        return simd_main(ns)

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


def simd_main(ns) -> int:
    """The VEX/EVEX conformance against the real CPU (see the module docstring)."""
    from goasm import cpuoracle as O
    from goasm.native import HostCPU

    t0 = time.perf_counter()
    suite = O.SimdSuite(ns.goroot)
    encodings, ops = set(), set()
    for flag, enc in ((ns.vex, "vex"), (ns.evex, "evex")):
        if flag is not None:
            encodings.add(enc)
            ops.update(flag)
    if ns.op:
        ops.update(ns.op)
    forms = suite.select(ops=ops or None, families=set(ns.family) if ns.family else None,
                         encodings=encodings or None)
    checked = [f for f in forms if f.status == "checked"]
    states = ns.states
    out = sys.stdout
    results = []
    if not ns.live_only:
        recordings = O.load_recordings()
        host = None if ns.recorded_only else HostCPU()
        results += O.check_recorded(suite, checked, recordings, host=host, n=states,
                                    max_details=ns.details)
        recorded_vendor = next(iter(recordings.values())).header["cpu"]["vendor"] \
            if recordings else None
    else:
        recorded_vendor = None
    live = []
    if not ns.recorded_only and not ns.readme:
        host = HostCPU()
        if host.start():
            live = O.check_live(suite, checked, host, states=range(states),
                                recorded_vendor=recorded_vendor, max_details=ns.details)
            host.close()
        else:
            out.write("(no live check: no native harness on this host)\n")
    if ns.readme:
        out.write(O.format_family_table(O.family_table(suite, results), markdown=True) + "\n")
        return 0
    rows: dict = {}
    for f in forms:
        row = rows.setdefault(f.op, Counter())
        row["forms"] += 1
        row[f.status] += 1
    for kind, rs in (("recorded", results), ("live", live)):
        for r in rs:
            row = rows[r.form.op]
            row[f"{kind}_states"] += r.states
            row["mismatching"] += bool(r.mismatches)
            if r.skipped and kind == "live":
                row["live_skipped"] += 1
    cols = ("forms", "checked", "unimplemented", "excluded", "recorded_states",
            "live_states", "mismatching")
    out.write(f"{'mnemonic':20}" + "".join(f"{c:>16}" for c in cols) + "\n")
    for op in sorted(rows):
        row = rows[op]
        out.write(f"{op:20}" + "".join(f"{row[c]:>16}" for c in cols) + "\n")
    out.write("\n" + O.format_family_table(O.family_table(suite, results + live, forms)) + "\n")
    report = O.format_results([r for r in results + live if r.mismatches], limit=50)
    if report:
        out.write("\n" + report + "\n")
    skipped = [r for r in results + live if r.skipped]
    if skipped:
        out.write(f"\nnot compared: {len(skipped)} (form, reason):\n")
        for r in skipped[:40]:
            out.write(f"  {r.form.name}: {r.skipped}\n")
    if ns.unimplemented:
        out.write("\nunimplemented forms:\n")
        for f in forms:
            if f.status == "unimplemented":
                out.write(f"  {f.name}    [{f.family}] {f.reason}\n")
    if ns.excluded:
        out.write("\nexcluded forms:\n")
        for f in forms:
            if f.status == "excluded":
                out.write(f"  {f.name}    [{f.family}] {f.reason}\n")
    bad = sum(bool(r.mismatches) for r in results + live)
    out.write(f"\nforms {len(forms)}, implemented {len(checked)}, states compared "
              f"{sum(r.states for r in results)} recorded + {sum(r.states for r in live)} "
              f"live, mismatching forms {bad} ({time.perf_counter() - t0:.1f} s)\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Record the host CPU's answers for every VEX and EVEX form (goasm.cpuoracle).

    tools/record_cpu_oracle.py [--goroot DIR] [--out DIR] [--states N] [--source FILE ...]

Every form of amd64enc.s / amd64enc_extra.s (VEX) and avx512enc/*.s (EVEX; not the Xeon
Phi files) runs on this machine from the deterministic states of goasm.vecstate, whether
or not goasm implements it yet. One file per source goes to tests/data/cpu_oracle/
(``<source>.bin.xz``): per form a digest over all states, a 2-byte digest per state and
the whole outcome delta of state 0; the header names this CPU (vendor, family/model,
brand string, /proc/cpuinfo flags, XCR0), the Go release, the state generator version
and a fingerprint of the generated states (tests/test_conformance_cpu.py checks that
the generator still produces them).

The host must expose the AVX-512 state (XCR0 opmask/ZMM) so that the whole register
file is observed; forms it does not execute (#UD in every state) are recorded as
unsupported. Takes about 4 minutes for all ~19,300 forms on one core.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from goasm import cpuoracle as O  # noqa: E402
from goasm import vecstate as V  # noqa: E402
from goasm.native import HostCPU  # noqa: E402


def go_version(goroot: Path) -> str:
    return (goroot / "VERSION").read_text().splitlines()[0].strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--goroot", help="GOROOT (default: the go next to this python / PATH)")
    ap.add_argument("--out", type=Path, default=O.data_dir(), help="output directory")
    ap.add_argument("--states", type=int, default=O.STATES)
    ap.add_argument("--source", action="append", help="only these source files")
    ns = ap.parse_args(argv)

    host = HostCPU()
    if not host.start():
        print("no native harness on this host (linux/amd64 needed)", file=sys.stderr)
        return 1
    if host.view.name != "avx512":
        print(f"this host exposes only the {host.view.name} state; recording needs AVX-512",
              file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    suite = O.SimdSuite(ns.goroot)
    forms = [f for f in suite.classified() if f.status != "excluded"]
    by_source: dict[str, list] = {}
    for f in forms:
        if ns.source is None or f.source in ns.source:
            by_source.setdefault(f.source, []).append(f)
    cpu = host.info.describe()
    total = Counter()
    for source, group in by_source.items():
        t = time.perf_counter()
        records = []
        counts = Counter()
        for f in group:
            r = O.record_form(host, f, ns.states)
            records.append(r)
            counts[r.status] += 1
        header = {
            "format": O.FORMAT, "generator": V.GENERATOR, "states": ns.states,
            "source": source, "go": go_version(suite.goroot), "cpu": cpu,
            "view": host.view.name,
            "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "python": platform.python_version(),
            "fingerprint": fingerprint(group),
            "counts": dict(counts),
        }
        path = O.data_path(source, ns.out)
        O.write_recording(path, header, records)
        total.update(counts)
        print(f"{source:24} {len(group):6} forms  {dict(counts)}  {path.stat().st_size:>9} "
              f"bytes  {time.perf_counter() - t:6.1f} s", flush=True)
    host.close()
    print(f"recorded {sum(total.values())} forms ({dict(total)}) in "
          f"{time.perf_counter() - t0:.0f} s on {cpu['vendor']} family {cpu['family']} "
          f"model {cpu['model']} ({cpu['brand']})")
    return 0


def fingerprint(forms) -> str:
    """A digest of the first states of every 97th form: the generator's output that the
    recording depends on (tests recompute it)."""
    return O.states_fingerprint(forms)


if __name__ == "__main__":
    sys.exit(main())

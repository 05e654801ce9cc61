#!/usr/bin/env python3
"""Regenerate goasm/arch/amd64_simd_features.txt from Go's cmd/asm testdata.

    tools/gen_simd_features.py [--goroot DIR] [--check]

Lists, per CPUID feature (avx, avx2, fma, f16c, avx512f ... vpclmulqdq), the mnemonics
of every VEX/EVEX form of amd64enc.s, amd64enc_extra.s and avx512enc/*.s in that family
(goasm.cpuoracle.feature_mnemonics). goasm's CPU model advertises a feature only when
all of them have handlers. ``--check`` exits 1 when the committed file differs
(tests/test_conformance_cpu.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from goasm import cpuoracle as O  # noqa: E402

TARGET = ROOT / "goasm" / "arch" / O.FEATURES_FILE


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--goroot")
    ap.add_argument("--check", action="store_true")
    ns = ap.parse_args(argv)
    text = O.features_text(O.SimdSuite(ns.goroot))
    if ns.check:
        same = TARGET.read_text() == text
        print("up to date" if same else f"{TARGET} differs: regenerate")
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

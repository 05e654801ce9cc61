"""Benchmark: an integer loop through :class:`goasm.machine.machine.Machine`.

The loop (about 1M instructions)::

        MOVQ $N, CX
        XORQ AX, AX
    loop:
        ADDQ $3, AX
        XORQ CX, AX
        SUBQ $1, CX
        CMPQ CX, $0
        JNE  loop

is built as an Image by hand (no parser or loader involved), run five times from a
fresh state, and the median instructions/second is printed. DESIGN.md's performance
section sets the target (>= 3 M instr/s for now). Usage::

    python bench/bench_int_loop.py [iterations]
"""

from __future__ import annotations

import statistics
import sys
import time

from goasm import ir
from goasm.image import TEXT_BASE, Image, LInstr, Symbol, SymKind, Target
from goasm.machine.machine import Machine


def loop_image(n: int) -> tuple[Image, int]:
    """The loop as an Image; returns (image, end address)."""
    body = [
        ("MOVQ", (ir.Imm(n), ir.Reg("CX"))),
        ("XORQ", (ir.Reg("AX"), ir.Reg("AX"))),
        ("ADDQ", (ir.Imm(3), ir.Reg("AX"))),
        ("XORQ", (ir.Reg("CX"), ir.Reg("AX"))),
        ("SUBQ", (ir.Imm(1), ir.Reg("CX"))),
        ("CMPQ", (ir.Reg("CX"), ir.Imm(0))),
        ("JNE", (Target(TEXT_BASE + 2, label="loop"),)),
    ]
    image = Image()
    for i, (op, args) in enumerate(body):
        image.code[TEXT_BASE + i] = LInstr(TEXT_BASE + i, op, args, func="main.loop", index=i)
    image.symbols["main.loop"] = Symbol("main.loop", TEXT_BASE, len(body), SymKind.TEXT)
    image.index_symbols()
    return image, TEXT_BASE + len(body)


def expected_ax(n: int) -> int:
    ax = 0
    for cx in range(n, 0, -1):
        ax = ((ax + 3) ^ cx) & ((1 << 64) - 1)
    return ax


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 200_000
    image, end = loop_image(n)
    machine = Machine(image)
    rates = []
    for _ in range(5):
        machine.cpu.pc = TEXT_BASE
        machine.steps = 0
        t0 = time.perf_counter()
        machine.run(until=end)
        dt = time.perf_counter() - t0
        rates.append(machine.steps / dt)
    if machine.reg("AX") != expected_ax(n):
        sys.stderr.write("wrong result\n")
        return 1
    median = statistics.median(rates)
    sys.stdout.write(f"{machine.steps} instructions per run; median {median / 1e6:.2f} M "
                     f"instr/s (runs: {', '.join(f'{r / 1e6:.2f}' for r in rates)})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

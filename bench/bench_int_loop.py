"""Benchmark: an integer ALU loop in goasm (translated, per-instruction closures, with a
hook) and the same loop's machine code in Unicorn with a trivial code hook.

The loop (2 + 5n instructions)::

        MOVQ $N, CX             // mov rcx, N        48 c7 c1 imm32
        XORQ AX, AX             // xor rax, rax      48 31 c0
    loop:
        ADDQ $3, AX             // add rax, 3        48 83 c0 03
        XORQ CX, AX             // xor rax, rcx      48 31 c8
        SUBQ $1, CX             // sub rcx, 1        48 83 e9 01
        CMPQ CX, $0             // cmp rcx, 0        48 83 f9 00
        JNE  loop               // jne loop          75 ef

is built as an Image by hand (no parser or loader involved) and run five times per
configuration from the same state; the medians are printed (instructions/second):

- ``translated``: :meth:`Machine.run` with the default engine (hot code translated to
  Python per region, :mod:`goasm.machine.translate`);
- ``closures``: ``GOASM_ENGINE=closure``, one closure per instruction;
- ``hooked``: an ``instruction`` hook that reads three registers (AX, CX, BX through
  ``machine.cpu.regs``), translated engine;
- ``unicorn``: Unicorn 2 executing the machine code above with a ``UC_HOOK_CODE``
  callback that does nothing (and, for reference, one reading three registers).

The ratio translated/unicorn-trivial-hook is printed last. Usage::

    python bench/bench_int_loop.py [iterations]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_env, median_of, report, timed  # noqa: E402

from goasm import ir  # noqa: E402
from goasm.image import TEXT_BASE, Image, LInstr, Symbol, SymKind, Target  # noqa: E402


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


MACHINE_CODE_HEAD = bytes.fromhex("48c7c1")
MACHINE_CODE_BODY = bytes.fromhex("4831c0" "4883c003" "4831c8" "4883e901" "4883f900" "75ef")


def machine_code(n: int) -> bytes:
    """The loop as x86-64 machine code (see the module docstring)."""
    return MACHINE_CODE_HEAD + n.to_bytes(4, "little") + MACHINE_CODE_BODY


def goasm_rate(n: int, engine: str | None, hook: bool = False):
    """Median instructions/second of the loop in a goasm Machine."""
    from goasm.machine.machine import Machine

    image, end = loop_image(n)
    with machine_env(engine):
        machine = Machine(image)
        if hook:
            def read_three(m):
                regs = m.cpu.regs
                regs[0], regs[1], regs[3]
            machine.add_hook("instruction", read_three)

        def once():
            machine.cpu.pc = TEXT_BASE
            machine.steps = 0
            dt = timed(lambda: machine.run(until=end))
            assert machine.steps == 2 + 5 * n
            return machine.steps / dt
        median, values = median_of(once)
    if machine.reg("AX") != expected_ax(n):
        raise SystemExit(f"goasm ({engine or 'default'}): wrong result")
    return median, values


def unicorn_rate(n: int, read_registers: bool = False):
    """Median instructions/second of the machine code in Unicorn with a code hook."""
    from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_MODE_64, Uc
    from unicorn.x86_const import UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX

    base = 0x1000000
    code = machine_code(n)
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(base, 0x1000)
    uc.mem_write(base, code)
    if read_registers:
        def hook(u, address, size, data):
            u.reg_read(UC_X86_REG_RAX)
            u.reg_read(UC_X86_REG_RCX)
            u.reg_read(UC_X86_REG_RBX)
    else:
        def hook(u, address, size, data):
            pass
    uc.hook_add(UC_HOOK_CODE, hook)

    def once():
        dt = timed(lambda: uc.emu_start(base, base + len(code)))
        return (2 + 5 * n) / dt
    median, values = median_of(once)
    if uc.reg_read(UC_X86_REG_RAX) != expected_ax(n):
        raise SystemExit("unicorn: wrong result")
    return median, values


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 200_000
    sys.stdout.write(f"integer loop: {2 + 5 * n} instructions per run, median of runs\n")
    translated, values = goasm_rate(n, None)
    report("goasm translated", translated, values, "M instr/s", 1e6)
    median, values = goasm_rate(n, "closure")
    report("goasm closures (GOASM_ENGINE=closure)", median, values, "M instr/s", 1e6)
    hooked, values = goasm_rate(n // 4, None, hook=True)
    report("goasm translated + hook reading 3 registers", hooked, values, "M instr/s", 1e6)
    median, values = goasm_rate(n // 4, "closure", hook=True)
    report("goasm slow loop + hook reading 3 registers", median, values, "M instr/s", 1e6)
    try:
        uc, values = unicorn_rate(n // 2)
    except ImportError:
        sys.stdout.write("unicorn: not installed (pip install unicorn), no ratio\n")
        return 0
    report("unicorn + trivial code hook", uc, values, "M instr/s", 1e6)
    median, values = unicorn_rate(n // 10, read_registers=True)
    report("unicorn + code hook reading 3 registers", median, values, "M instr/s", 1e6)
    sys.stdout.write(f"ratio goasm translated / unicorn trivial hook: {translated / uc:.2f}\n")
    sys.stdout.write(f"ratio goasm hooked / unicorn trivial hook: {hooked / uc:.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

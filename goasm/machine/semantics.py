"""Instruction semantics: compile each :class:`goasm.image.LInstr` once into a closure.

How an instruction runs (DESIGN.md, "Performance design": decode operands once, never per
step): a *handler* for the instruction family (``goasm.machine.ops.*``, one module per
family, registered with :func:`goasm.machine.ops.handles`) looks at the decoded operands
and writes a few lines of straight-line Python through an :class:`Emitter` — register
indices, masks, symbol addresses and branch targets become constants of the generated
function. The result is a zero-argument closure returning the address of the next
instruction; the machine's run loop is ``pc = code[pc]()``.

Generated source is cached per machine by its text (operand *values* are parameters of a
factory function, not part of the text), so the Python compiler runs once per distinct
instruction shape, not once per instruction.

Conventions inside generated code (the factory parameters, :data:`ENV_NAMES`):
``cpu`` (:class:`goasm.machine.state.CPU`), ``regs``/``xmm`` (its register lists),
``rd8 .. rd128``/``wr8 .. wr128`` (bound :class:`goasm.machine.memory.Memory` methods),
``m`` (the machine), ``mem``; ``_nxt`` is the fall-through address. Values held in
locals are unsigned and masked to the operand width. Each instruction reads its
operands, computes, writes back and only then records flags, so a faulting memory
access leaves registers and flags as they were (SDM Vol. 3, 6.5 "faults ... restart").

Anything without a handler, or an operand form a handler rejects, compiles to a closure
that raises :class:`goasm.errors.UnimplementedError` naming the instruction when (and
only when) it is executed, so loading never fails on it.
"""

from __future__ import annotations

import builtins
import re
from types import MappingProxyType

from goasm.arch.amd64 import canonical_mnemonic
from goasm.errors import LinkError
from goasm.machine import validate
from goasm.machine.ops.base import (BadForm, CONDITION_ALIASES, ENV_NAMES, Emitter,  # noqa: F401
                                    Operand, decode, fault_factory, unimplemented)

# --------------------------------------------------------------------------- compiler

class Compiler:
    """Compiles instructions for one machine; caches generated factories by source."""

    def __init__(self, machine) -> None:
        self.machine = machine
        cpu, mem = machine.cpu, machine.mem
        self.env = (cpu, cpu.regs, cpu.xmm, mem.read_u8, mem.read_u16, mem.read_u32,
                    mem.read_u64, mem.read_u128, mem.write_u8, mem.write_u16, mem.write_u32,
                    mem.write_u64, mem.write_u128, machine, mem, cpu.vhi, cpu.kreg,
                    mem.read_int, mem.write_int)
        self._factories: dict[str, object] = {}

    def factory(self, src: str):
        fn = self._factories.get(src)
        if fn is None:
            namespace: dict = {}
            exec(builtins.compile(src, "<goasm-semantics>", "exec"), namespace)  # noqa: S102
            fn = self._factories[src] = namespace["_make"]
        return fn

    def generate(self, ins, *, checked: bool = False):
        """Run the handler for ``ins``: an :class:`Emitter` holding the generated body
        (``lines``, ``names``, ``params``), or a ready closure when there is no body to
        share (a handler-built closure, an unimplemented instruction, a link error).
        :meth:`compile` and the block translator (:mod:`goasm.machine.translate`) both
        start here, so an instruction has one definition whichever path runs it.
        An instruction Go's assembler rejects raises :class:`LinkError` right away
        (:mod:`goasm.machine.validate`): it is refused at load time, not when run.
        ``checked`` skips that check for instructions decoded from machine code Go's
        toolchain wrote (a real executable): they are forms it assembles by construction,
        and validating each of a program's ~20 K start-up instructions cost ~15%."""
        if not checked:
            problem = validate.check(ins)
            if problem is not None:
                raise LinkError(f"{problem}: {ins}", ins.pos)
            undefined = _undefined_operand(ins, self.machine.image)
            if undefined is not None:   # lazy linking: the error is reaching it
                return _raise_link_error(f"undefined symbol {undefined} (used by {ins})",
                                         ins.pos)
        op = canonical_mnemonic(ins.op)
        entry = TABLE.get(op)
        if entry is None:
            entry = _alias_entry(op)
        if entry is None:
            family = XEON_PHI.get(op)
            if family is not None:
                return unimplemented(f"unimplemented instruction {ins.op}: {family} exists "
                                     f"only on Xeon Phi processors, which no current CPU "
                                     f"runs, so goasm cannot check it{_decoded(ins)}",
                                     ins.pos)
            return unimplemented(f"unimplemented instruction {ins.op}{_decoded(ins)}", ins.pos)
        handler, kwargs = entry
        if ins.suffixes and not getattr(handler, "goasm_suffixes", False):
            return unimplemented(f"unimplemented instruction {ins.mnemonic}{_decoded(ins)}",
                                 ins.pos)
        e = Emitter(self, ins)
        try:
            args = tuple(decode(a, self.machine.image) for a in ins.args)
            result = handler(e, args, **kwargs)
        except BadForm as exc:
            return unimplemented(f"unimplemented instruction {ins.op}: {exc} "
                                  f"(in {ins})", ins.pos)
        except LinkError as exc:
            return _raise_link_error(exc.message, ins.pos)
        if result is not None:      # the handler built the closure itself
            return result
        return e

    def compile(self, ins, *, checked: bool = False):
        """The closure executing ``ins`` (see the module docstring; ``checked`` as for
        :meth:`generate`)."""
        e = self.generate(ins, checked=checked)
        if not isinstance(e, Emitter):
            return e
        fn = self.factory(e.source())(*self.env, *e.params)
        # what Machine.reads_clock asks, answered from the body generated here (asking
        # again would generate the instruction a second time: ~1 s of a Go program's
        # start-up)
        fn.goasm_reaches_machine = any(_MACHINE_NAME.search(line) for line in e.lines)
        return fn


_MACHINE_NAME = re.compile(r"\bm\b")
"""The machine's name inside generated instruction bodies (the ``m`` of ENV_NAMES)."""


XEON_PHI = MappingProxyType({
    **{op: "AVX512ER" for op in (
        "VEXP2PD", "VEXP2PS", "VRCP28PD", "VRCP28PS", "VRCP28SD", "VRCP28SS",
        "VRSQRT28PD", "VRSQRT28PS", "VRSQRT28SD", "VRSQRT28SS")},
    **{f"V{kind}PF{hint}{idx}{data}": "AVX512PF"
       for kind in ("GATHER", "SCATTER") for hint in "01" for idx in "DQ"
       for data in ("PD", "PS")},
    **{op: "AVX512_4FMAPS" for op in ("V4FMADDPS", "V4FMADDSS", "V4FNMADDPS", "V4FNMADDSS")},
    **{op: "AVX512_4VNNIW" for op in ("VP4DPWSSD", "VP4DPWSSDS")},
})
"""The AVX-512 families only Xeon Phi processors implemented (cmd/asm testdata
``avx512er.s``, ``avx512pf.s``, ``avx512_4fmaps.s``, ``avx512_4vnniw.s``; SDM Vol. 2,
"Instructions Only Available on Intel Xeon Phi"): they load, and executing one is an
error naming its family."""


def _decoded(ins) -> str:
    """`` (LONG $0x…  // SHA256RNDS2 …)`` for an instruction decoded from raw bytes."""
    source = getattr(ins, "source", "")
    return f" ({str(ins).replace(chr(9), ' ')})" if source else ""


def _raise_link_error(message: str, pos):
    def _op():
        raise LinkError(message, pos)
    _op.goasm_unresolved = message
    return _op


def _undefined_operand(ins, image) -> str | None:
    """An undefined symbol (``SymKind.UNDEF``, left by a lazy link) that ``ins`` reads,
    writes or takes the address of; a direct CALL/JMP to one is not: it reaches the
    runtime model's stub, which names the Go function."""
    from goasm import ir
    from goasm.image import SymKind

    if not any(isinstance(a, (ir.Mem, ir.Addr, ir.Indirect)) for a in ins.args):
        return None
    direct_branch = ins.op in ("CALL", "JMP")
    for i, a in enumerate(ins.args):
        if isinstance(a, ir.Addr):
            a = a.mem
        elif isinstance(a, ir.Indirect):
            a = a.target
        elif direct_branch and i == len(ins.args) - 1:
            continue
        if isinstance(a, ir.Mem) and a.symbol is not None:
            sym = image.symbols.get(a.symbol)
            if sym is not None and sym.kind is SymKind.UNDEF:
                return a.symbol
    return None


def _alias_entry(op: str):
    """SETcc/CMOVxcc spelled with an x86 condition alias (SETAE, CMOVQNZ)."""
    for prefix in ("SET", "CMOVQ", "CMOVL", "CMOVW"):
        if op.startswith(prefix) and op[len(prefix):] in CONDITION_ALIASES:
            return TABLE.get(prefix + CONDITION_ALIASES[op[len(prefix):]])
    return None


def compile(ins, machine):  # noqa: A001 - the contract's name
    """Compile one :class:`goasm.image.LInstr` for ``machine`` into a zero-argument
    closure that executes it and returns the next pc (``machine.compiler`` caches the
    generated factories)."""
    return machine.compiler.compile(ins)


compile_instruction = compile


def _build_table():
    from goasm.machine import ops

    table: dict = {}
    for handler, specs in ops.all_handlers():
        for mnemonic, kwargs in specs:
            if mnemonic in table:
                raise RuntimeError(f"two handlers for {mnemonic}")
            table[mnemonic] = (handler, MappingProxyType(dict(kwargs)))
    return MappingProxyType(table)


TABLE = _build_table()
"""Canonical Go mnemonic -> (handler, keyword arguments); built once at import."""

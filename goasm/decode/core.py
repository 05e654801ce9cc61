"""x86-64 machine code -> goasm IR, with iced-x86 as the decoder (see :mod:`goasm.decode`).

iced-x86 finds the instruction and its operands (in Intel order); the rules of
:mod:`goasm.decode.table` say how Go writes that instruction code: mnemonic, operand
order, implied registers. Operands become the same IR nodes the parser produces
(:class:`goasm.ir.Reg`, :class:`~goasm.ir.Mem`, :class:`~goasm.ir.Imm`,
:class:`~goasm.ir.RegList`) and EVEX modifiers the same suffixes (``Z``, ``BCST``,
``RN_SAE`` .. ``RZ_SAE``, ``SAE``). Register names follow Go's assembler
(``cmd/internal/obj/x86`` Register list): ``AX`` for RAX/EAX/AX, ``AL``/``AH``,
``SPB``/``BPB``/``SIB``/``DIB`` and ``R8B``.. for the low bytes, ``X``/``Y``/``Z``,
``K``, ``F0``..``F7`` (x87 stack), ``M0``..``M7`` (MMX).

Immediates: fields the CPU sign-extends (imm8 of ``ADDQ``, imm32 of 64-bit operations)
are signed, the others unsigned (``VPERMQ $216``). cmd/asm accepts either spelling of
a field (``$-40`` and ``$216`` are the same imm8): :func:`goasm.decode.equivalent`.

Speed (DESIGN.md, "Performance design"): the IR of an instruction depends only on its
bytes unless it is RIP-relative, so converted instructions are cached by their bytes
(shared frozen IR, ``pos`` None); a direct branch's target is kept outside the IR
(:attr:`Decoded.target`), so branches are cached too. Converters are generated Python,
one per iced code, compiled on first use.
"""

from __future__ import annotations

import array
import functools
import gc

import attrs
import iced_x86 as iced

from goasm import ir
from goasm.arch import amd64
from goasm.decode import table as dtable
from goasm.errors import DecodeError

_M64 = (1 << 64) - 1

# ----------------------------------------------------------------------------- registers


def _reg_names() -> tuple[dict, dict]:
    """Go's name and 64-bit family name of every iced register (None: no Go name)."""
    natural: dict = {}
    wide: dict = {}
    legacy = ("AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI")
    low8 = ("AL", "CL", "DL", "BL", "SPL", "BPL", "SIL", "DIL")
    for name, value in vars(iced.Register).items():
        if not name.isupper() or not isinstance(value, int):
            continue
        go = wide_name = None
        if name in legacy or (name[:1] in "ER" and name[1:] in legacy):
            go = wide_name = name[-2:]
        elif name in low8:
            i = low8.index(name)
            go, wide_name = amd64.GPR8[i], legacy[i]
        elif name in amd64.GPR8_HIGH:
            go, wide_name = name, legacy[amd64.GPR8_HIGH.index(name)]
        elif name.startswith("R") and name[1:].rstrip("LWD").isdigit():
            num = name[1:].rstrip("LWD")
            go = f"R{num}B" if name.endswith("L") else f"R{num}"
            wide_name = f"R{num}"
        elif name in amd64.SEGMENT:
            go = name
        else:
            for prefix, short in (("XMM", "X"), ("YMM", "Y"), ("ZMM", "Z"), ("MM", "M"),
                                  ("ST", "F"), ("K", "K"), ("CR", "CR"), ("DR", "DR")):
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    go = short + name[len(prefix):]
                    break
            if go is not None and go not in amd64.REGISTERS:
                go = None
        natural[value] = go
        wide[value] = wide_name
    return natural, wide


_NATURAL, _WIDE = _reg_names()
_GPR64 = frozenset(getattr(iced.Register, r) for r in (
    "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
    "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"))
_VECTOR = frozenset(v for n, v in vars(iced.Register).items()
                    if n.isupper() and n[:3] in ("XMM", "YMM", "ZMM"))
_RIP = iced.Register.RIP
_NONE = ir.NameKind.NONE
_FS, _GS = iced.Register.FS, iced.Register.GS
_REG = iced.OpKind.REGISTER
_MEMORY = iced.OpKind.MEMORY
_NEAR = frozenset({iced.OpKind.NEAR_BRANCH16, iced.OpKind.NEAR_BRANCH32,
                   iced.OpKind.NEAR_BRANCH64})
_FAR = frozenset({iced.OpKind.FAR_BRANCH16, iced.OpKind.FAR_BRANCH32})
_STRING_MEM = frozenset(getattr(iced.OpKind, n) for n in dir(iced.OpKind)
                        if n.startswith("MEMORY_"))
# Immediate kinds -> (bits of the value the CPU uses, sign-extended?)
_IMM = {
    iced.OpKind.IMMEDIATE8: (8, False),
    iced.OpKind.IMMEDIATE8_2ND: (8, False),
    iced.OpKind.IMMEDIATE16: (16, False),
    iced.OpKind.IMMEDIATE32: (32, False),
    iced.OpKind.IMMEDIATE64: (64, True),
    iced.OpKind.IMMEDIATE8TO16: (16, True),
    iced.OpKind.IMMEDIATE8TO32: (32, True),
    iced.OpKind.IMMEDIATE8TO64: (64, True),
    iced.OpKind.IMMEDIATE32TO64: (64, True),
}
_IMM_BYTES = {
    iced.OpKind.IMMEDIATE8: 1, iced.OpKind.IMMEDIATE8_2ND: 1, iced.OpKind.IMMEDIATE16: 2,
    iced.OpKind.IMMEDIATE32: 4, iced.OpKind.IMMEDIATE64: 8, iced.OpKind.IMMEDIATE8TO16: 1,
    iced.OpKind.IMMEDIATE8TO32: 1, iced.OpKind.IMMEDIATE8TO64: 1,
    iced.OpKind.IMMEDIATE32TO64: 4,
}
_ROUNDING = {
    iced.RoundingControl.ROUND_TO_NEAREST: "RN_SAE",
    iced.RoundingControl.ROUND_DOWN: "RD_SAE",
    iced.RoundingControl.ROUND_UP: "RU_SAE",
    iced.RoundingControl.ROUND_TOWARD_ZERO: "RZ_SAE",
}
# cmd/asm emits UD1 as 0F B9 without the ModRM byte the SDM gives it (asm6.go
# {AUD1, ynone, Pm, opBytes{0xb9, 0}}): accepted at the end of the input.
_GO_UD1 = b"\x0f\xb9"
_UD1 = ir.Instr("UD1")
_ICED_REG_NAMES = {v: k for k, v in vars(iced.Register).items()
                   if k.isupper() and isinstance(v, int)}
_CODE_NAMES = {v: k for k, v in vars(iced.Code).items() if k.isupper() and isinstance(v, int)}
_MNEMONIC_NAMES = {v: k for k, v in vars(iced.Mnemonic).items()
                   if k.isupper() and isinstance(v, int)}


def code_name(code: int) -> str:
    """iced's name of an instruction code (``ADD_RM64_IMM8``)."""
    return _CODE_NAMES.get(code, str(code))


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _maker(cls):
    """A constructor of the frozen slotted attrs class ``cls`` that fills its slots
    directly, all fields positional (attrs' frozen ``__init__`` calls
    ``object.__setattr__`` per field). It makes the very same objects -- same class,
    same fields, equal and hashing as usual -- about 1.4x faster, for the decoder's
    conversions of new byte strings."""
    names = [f.name for f in attrs.fields(cls)]
    env = {"new": object.__new__, "cls": cls}
    body = []
    for i, name in enumerate(names):
        env[f"set{i}"] = cls.__dict__[name].__set__     # the slot's member descriptor
        body.append(f"    set{i}(o, {name})\n")
    src = f"def make({', '.join(names)}):\n    o = new(cls)\n{''.join(body)}    return o\n"
    exec(compile(src, f"<goasm-decode make {cls.__name__}>", "exec"), env)  # noqa: S102
    return env["make"]


_new_instr = _maker(ir.Instr)     # (op, args, suffixes, pos)
_new_mem = _maker(ir.Mem)         # (offset, base, index, scale, symbol, kind, abi, pos)


# ----------------------------------------------------------------------------- results


class Decoded:
    """One decoded instruction.

    ``offset``: where it starts in the input; ``size``: its length in bytes; ``instr``:
    the Go IR (:class:`goasm.ir.Instr`, shared between identical byte strings, ``pos``
    None); ``target``: the absolute address of a direct branch's destination (the
    branch operand Go writes last is *not* in ``instr.args``), else None; ``prefixes``:
    ``LOCK``/``REP``/``REPN`` as Go spells the prefix statements.
    """

    __slots__ = ("offset", "size", "instr", "target", "prefixes")

    def __init__(self, offset, size, instr, target=None, prefixes=()):
        self.offset = offset
        self.size = size
        self.instr = instr
        self.target = target
        self.prefixes = prefixes

    def text(self, target_text=None) -> str:
        """Go syntax, ``; ``-joined with the prefix statements (``LOCK; XADDL AX, (BX)``);
        a branch target prints as ``target_text(addr)`` (default ``0x…``)."""
        ins = self.instr
        out = str(ins)
        if self.target is not None:
            t = target_text(self.target) if target_text else f"{self.target:#x}"
            out += (", " if ins.args else "\t") + t
        return "; ".join((*self.prefixes, out))

    def __repr__(self) -> str:
        return f"Decoded({self.offset}, {self.size}, {self.text()!r})"


class DecodedRun:
    """A decoded byte string in columns: ``offsets`` (``array('q')``, where each
    instruction starts), ``instrs`` (the :class:`goasm.ir.Instr` of each), ``targets``
    (instruction index -> absolute branch target, for direct branches), ``prefixes``
    (index -> ``LOCK``/``REP``/``REPN``), ``end`` (the length decoded)."""

    __slots__ = ("offsets", "instrs", "targets", "prefixes", "end")

    def __init__(self, offsets, instrs, targets, prefixes, end):
        self.offsets = offsets
        self.instrs = instrs
        self.targets = targets
        self.prefixes = prefixes
        self.end = end

    def __len__(self) -> int:
        return len(self.instrs)


class _NoGoName(Exception):
    """An operand (register) Go's assembler has no name for."""


class _Regs(dict):
    """Go registers by iced register number; a register Go has no name for raises."""

    def __missing__(self, reg):
        raise _NoGoName(f"register {_ICED_REG_NAMES.get(reg, reg)} has no Go assembly name")


# ----------------------------------------------------------------------------- decoder


class Decoder:
    """Decodes x86-64 machine code into goasm IR (see the module docstring).

    ``rip``: how a RIP-relative memory operand is written: None refuses it (raw bytes
    in a ``.s`` file: goasm's own layout is not the byte layout they were written
    for); otherwise a callable ``rip(address) -> ir.Mem`` (:func:`absolute_mem` gives
    ``Mem(offset=address)``, an ELF reader may name the symbol).
    One Decoder keeps its converters and its cache of converted byte strings; it is not
    shared between threads.
    """

    def __init__(self, *, rip=None, rules=None) -> None:
        self.rip = rip
        self._rules = dtable.rules() if rules is None else rules
        self._conv: dict = {}
        self._constant: set = set()  # codes whose converter reads nothing of the instance
        self._imm_bytes: dict = {}   # code -> bytes of its immediate fields
        self._cache: dict = {}       # bytes -> plain ir.Instr (the hot path's one lookup)
        self._special: dict = {}     # bytes -> (instr, is_branch, prefixes)
        self._regs = _Regs({v: ir.Reg(n) for v, n in _NATURAL.items() if n is not None})
        self._wide = _Regs({v: ir.Reg(n) for v, n in _WIDE.items() if n is not None})
        self._rel = False
        self._rel_mem = None
        self._rel_cache: dict = {}   # RIP-relative: bytes without the disp32 -> IR parts
        self._rip_done: dict = {}    # (those bytes, address reached) -> converted
        self._by_code: dict = {}     # codes whose IR never depends on the bytes (JMP rel32)
        self._imms: dict = {}
        self._mems: dict = {}
        self._iced = iced.Instruction()

    # ---- whole inputs

    def decode_all(self, data: bytes, addr: int = 0) -> list:
        """Every instruction of ``data`` (placed at ``addr``) in order; raises
        :class:`DecodeError` when the bytes do not decode into whole instructions."""
        run = self.decode_run(data, addr)
        offsets, instrs, targets, prefixes = run.offsets, run.instrs, run.targets, run.prefixes
        ends = list(offsets[1:]) + [run.end]
        return [Decoded(off, end - off, ins, targets.get(i), prefixes.get(i, ()))
                for i, (off, end, ins) in enumerate(zip(offsets, ends, instrs))]

    def decode_run(self, data: bytes, addr: int = 0) -> "DecodedRun":
        """:meth:`decode_all` in columns (:class:`DecodedRun`): the fast path, which
        allocates nothing per instruction beyond what a new byte string needs.

        Python's cyclic garbage collector is paused meanwhile (and restored): decoding
        creates no reference cycles, but collections triggered by the new IR objects
        walk the growing caches and result list again and again (measured: 1.6x the
        time of the decoding itself on a Go binary's text)."""
        if not gc.isenabled():
            return self._decode_run(data, addr)
        gc.disable()
        try:
            return self._decode_run(data, addr)
        finally:
            gc.enable()

    def _decode_run(self, data: bytes, addr: int) -> "DecodedRun":
        data = bytes(data)
        dec = iced.Decoder(64, data, ip=addr)
        starts: list = []           # an array('q') at the end: list.append is cheaper
        instrs: list = []
        targets: dict = {}
        prefixes: dict = {}
        add_start = starts.append
        add_instr = instrs.append
        cache = self._cache
        get = cache.get
        special = self._special
        by_code = self._by_code.get
        pos = 0
        for x in dec:               # iced's iterator: faster than decode_out from Python
            n = x.len
            raw = data[pos:pos + n]
            hit = get(raw)
            if hit is None:         # not a plain instruction seen before (the hot path)
                hit = special.get(raw)
                if hit is None:
                    code = x.code
                    hit = by_code(code)
                    if hit is None:
                        if code == 0:
                            if data[pos:] == _GO_UD1:
                                add_start(pos)
                                add_instr(_UD1)
                                pos = len(data)
                                break
                            raise self._invalid(data, pos, dec)
                        hit = self._convert(x, raw, pos, code)
                    elif hit.__class__ is not tuple:
                        cache[raw] = hit    # INT3, NOPs: the next ones hit at once
                    elif n < 4:
                        special[raw] = hit  # rel8 branches: few distinct byte strings
                if hit.__class__ is tuple:      # a branch or prefixed instruction
                    if hit[1]:
                        targets[len(instrs)] = x.near_branch_target
                    if hit[2]:
                        prefixes[len(instrs)] = hit[2]
                    hit = hit[0]
            add_start(pos)
            add_instr(hit)
            pos += n
        return DecodedRun(array.array("q", starts), instrs, targets, prefixes, pos)

    def decode_one(self, data: bytes, offset: int = 0, addr: int = 0) -> Decoded:
        """The instruction starting at ``data[offset]``, which is at address ``addr``."""
        data = bytes(data)
        dec = iced.Decoder(64, data, ip=addr)
        if offset:
            dec.position = offset
        x = self._iced
        dec.decode_out(x)
        if x.code == 0:
            if data[offset:] == _GO_UD1:
                return Decoded(offset, 2, _UD1)
            raise self._invalid(data, offset, dec)
        n = x.len
        raw = data[offset:offset + n]
        code = x.code
        hit = self._cache.get(raw) or self._special.get(raw) or self._by_code.get(code)
        if hit is None:
            hit = self._convert(x, raw, offset, code)
        if hit.__class__ is not tuple:
            return Decoded(offset, n, hit)
        return Decoded(offset, n, hit[0], x.near_branch_target if hit[1] else None, hit[2])

    def _invalid(self, data: bytes, pos: int, dec) -> DecodeError:
        """The error for undecodable bytes at ``pos``."""
        err = dec.last_error
        chunk = data[pos:pos + 15]
        if err == iced.DecoderError.NO_MORE_BYTES:
            return DecodeError(f"truncated instruction: {chunk.hex()} ends after "
                               f"{len(data) - pos} byte(s)", offset=pos, data=chunk)
        return DecodeError(f"invalid instruction: {chunk.hex()}", offset=pos, data=chunk)

    # ---- one instruction

    def _convert(self, x, raw: bytes, pos: int, code: int):
        """The :class:`goasm.ir.Instr` of the decoded ``x`` (iced code ``code``), or
        ``(instr, is_branch, prefixes)`` for a branch or prefixed instruction; cached by
        ``raw`` (or by code when the IR does not depend on the bytes). A RIP-relative
        instruction depends on its address too: it is cached by its bytes without the
        disp32 and the address it reaches, and by those bytes alone with the position of
        the memory operand, which is replaced per address."""
        key = None
        if x.memory_base == _RIP and self.rip is not None:
            skip = self._imm_bytes.get(code)
            if skip is not None:
                cut = len(raw) - 4 - skip        # the disp32 precedes the immediates
                key = raw[:cut] + raw[cut + 4:]
                target = x.ip_rel_memory_address
                done = self._rip_done.get((key, target))
                if done is not None:          # the same instruction reaching the same address
                    return done
                rel = self._rel_cache.get(key)
                if rel is not None:       # (op, args before, args after, suffixes, extra)
                    ins = _new_instr(rel[0], rel[1] + (self.rip(target),) + rel[2], rel[3],
                                     None)
                    extra = rel[4]
                    done = self._rip_done[key, target] = (ins if extra is None
                                                          else (ins,) + extra)
                    return done
        conv = self._conv.get(code)
        if conv is None:
            conv = self._conv[code] = self._make_converter(x, raw, pos)
            if key is None and x.memory_base == _RIP and self.rip is not None:
                cut = len(raw) - 4 - self._imm_bytes[code]
                key = raw[:cut] + raw[cut + 4:]
        self._rel = False
        try:
            hit = conv(x)
        except _NoGoName as exc:
            raise DecodeError(f"{raw.hex()}: {self._intel(x)}: {exc}", offset=pos,
                              data=raw) from None
        except DecodeError as exc:
            raise DecodeError(f"{raw.hex()}: {exc.message}", offset=pos, data=raw) from None
        if not self._rel:
            if code in self._constant:
                self._by_code[code] = hit
            elif hit.__class__ is tuple:
                self._special[raw] = hit
            else:
                self._cache[raw] = hit
        elif key is not None:
            m = self._rel_mem
            if hit.__class__ is tuple:
                ins, extra = hit[0], hit[1:]
            else:
                ins, extra = hit, None
            j = next(i for i, a in enumerate(ins.args) if a is m)
            self._rel_cache[key] = (ins.op, ins.args[:j], ins.args[j + 1:], ins.suffixes, extra)
            self._rip_done[key, x.ip_rel_memory_address] = hit
        return hit

    @staticmethod
    def _evex_suffixes(x) -> tuple:
        out = []
        rc = x.rounding_control
        if rc:
            out.append(_ROUNDING[rc])
        elif x.suppress_all_exceptions:
            out.append("SAE")
        if x.is_broadcast:
            out.append("BCST")
        if x.zeroing_masking:
            out.append("Z")
        return tuple(out)

    @staticmethod
    def _intel(x) -> str:
        return iced.Formatter(iced.FormatterSyntax.INTEL).format(x)

    @staticmethod
    def _prefixes(x) -> tuple:
        """LOCK, REP/REPN of a string instruction (Go's prefix statements)."""
        out = ("LOCK",) if x.has_lock_prefix else ()
        if x.has_repne_prefix:
            out += ("REPN",)
        elif x.has_rep_prefix:
            out += ("REP",)
        return out

    def _make_converter(self, x, raw: bytes, pos: int):
        """Generate the converter of ``x.code`` from its rule (see the module docstring
        of :mod:`goasm.decode.table` for the template tokens): a function of the iced
        instruction returning the :class:`goasm.ir.Instr`, or ``(instr, is_branch,
        prefixes)`` for a branch or an instruction with prefixes (the cached forms)."""
        name = code_name(x.code)
        rule = self._rules.get(name)
        if rule is None:
            raise DecodeError(f"{raw.hex()}: {self._intel(x)} (iced {name}) has no Go "
                              f"assembly spelling in goasm's decode table",
                              offset=pos, data=raw)
        kinds = [x.op_kind(i) for i in range(x.op_count)]
        if any(k in _FAR for k in kinds):
            raise DecodeError(f"{raw.hex()}: far branches have no Go spelling", offset=pos,
                              data=raw)
        info = iced.OpCodeInfo(x.code)
        self._imm_bytes[x.code] = sum(_IMM_BYTES.get(k, 0) for k in kinds)
        branch = any(k in _NEAR for k in kinds)
        string = any(k in _STRING_MEM for k in kinds)
        evex = info.encoding == iced.EncodingKind.EVEX
        env = {"R": self._regs, "W": self._wide, "M": self._mem, "I": self._imm, "REG": _REG,
               "RL": self._reglist, "C": {}, "Instr": _new_instr, "SFX": self._evex_suffixes,
               "PFX": self._prefixes}
        exprs = []
        for tok in rule.template:
            if tok.startswith("="):
                env["C"][tok] = (ir.Imm(int(tok[2:], 0)) if tok.startswith("=$")
                                 else ir.Reg(tok[1:]))
                exprs.append(f"C[{tok!r}]")
                continue
            head, _, conv = tok.partition(":")
            i = int(head[1:])
            kind = kinds[i] if i < len(kinds) else None
            if conv == "w":
                exprs.append(f"W[x.op{i}_register]")
            elif conv == "l4":
                exprs.append(f"RL(x.op{i}_register)")
            elif kind in _IMM:
                bits, signed = _IMM[kind]
                value = "x.immediate8_2nd" if kind == iced.OpKind.IMMEDIATE8_2ND \
                    else f"x.immediate({i})"
                exprs.append(f"I({value}, {bits}, {signed})")
            elif kind in (_REG, _MEMORY):
                # r/m operands are a register in some encodings and memory in others
                exprs.append(f"(R[x.op{i}_register] if x.op{i}_kind == REG else M(x))")
            else:
                raise DecodeError(f"{raw.hex()}: {self._intel(x)}: template {tok} names an "
                                  f"operand of kind {kind}", offset=pos, data=raw)
        if not evex and prefixes_free(string, info) and all(
                t.startswith("=") for t in rule.template):
            self._constant.add(x.code)
        lines = ["def _conv(x):"]
        lines.append(f"    args = ({', '.join(exprs)}{',' if len(exprs) == 1 else ''})")
        suffixes = "()"
        if evex:
            lines += ["    k = x.op_mask",
                      "    if k:",
                      "        args = args[:-1] + (R[k],) + args[-1:]"]
            suffixes = "SFX(x)"
        ins = f"Instr({rule.op!r}, args, {suffixes}, None)"
        if string or info.can_use_lock_prefix:
            prefixes = "PFX(x)" if string else '("LOCK",) if x.has_lock_prefix else ()'
            lines.append(f"    p = {prefixes}")
            lines.append(f"    return ({ins}, {branch}, p) if {branch} or p else {ins}")
        elif branch:
            lines.append(f"    return {ins}, True, ()")
        else:
            lines.append(f"    return {ins}")
        exec(_compiled("\n".join(lines) + "\n", name), env)  # noqa: S102
        return env["_conv"]

    # ---- operands

    def _imm(self, value: int, bits: int, signed: bool):
        key = (value, bits, signed)
        imm = self._imms.get(key)
        if imm is None:
            v = _signed(value, bits) if signed else value & ((1 << bits) - 1)
            imm = self._imms[key] = ir.Imm(v)
        return imm

    def _reglist(self, reg):
        name = _NATURAL.get(reg)
        if name is None or name[:1] not in "XYZ":
            raise _NoGoName(f"no Go register block starts at {name}")
        return ir.RegList(name, f"{name[0]}{int(name[1:]) + 3}")

    def _mem(self, x):
        base = x.memory_base
        if base == _RIP:
            if self.rip is None:
                raise DecodeError("RIP-relative addressing cannot be placed in goasm's "
                                  "layout of raw bytes")
            self._rel = True
            m = self._rel_mem = self.rip(x.ip_rel_memory_address)
            return m
        index = x.memory_index
        scale = x.memory_index_scale
        disp = x.memory_displacement
        seg = x.segment_prefix
        key = (base, index, scale, disp, seg)
        m = self._mems.get(key)
        if m is not None:
            return m
        if (base and base not in _GPR64) or (index and index not in _GPR64
                                             and index not in _VECTOR):
            raise DecodeError(f"{self._intel(x)}: 32-bit addressing has no Go spelling")
        offset = _signed(disp, 64)
        if seg == _FS:
            if base or index:
                raise DecodeError(f"{self._intel(x)}: an FS-relative address with registers "
                                  f"has no Go spelling")
            # Go's TLS pseudo-register: 0(TLS) is -8(FS), the g slot (go_tls.h, obj6.go).
            m = ir.Mem(offset=_signed(offset + 8, 64), base="TLS")
        elif seg == _GS:
            raise DecodeError(f"{self._intel(x)}: GS-relative addressing has no Go spelling "
                              f"on linux/amd64")
        else:
            m = _new_mem(offset, _NATURAL[base] if base else None,
                         _NATURAL[index] if index else None, scale if index else 0,
                         None, _NONE, None, None)
        self._mems[key] = m
        return m


@functools.lru_cache(maxsize=None)
def _compiled(src: str, name: str):
    """The code object of a generated converter's source: a pure function of the text,
    compiled once per process (each Decoder runs it in its own namespace)."""
    return compile(src, f"<goasm-decode {name}>", "exec")


def prefixes_free(string: bool, info) -> bool:
    """True when no prefix statement can apply to instructions of this code."""
    return not string and not info.can_use_lock_prefix


def absolute_mem(address: int, _none=ir.NameKind.NONE, _mem=_new_mem) -> ir.Mem:
    """A RIP-relative operand as the absolute address it reaches (``Mem(offset=addr)``)."""
    if address >> 63:
        address -= 1 << 64
    return _mem(address, None, None, 0, None, _none, None, None)

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
_CODE_NAMES = {v: k for k, v in vars(iced.Code).items() if k.isupper() and isinstance(v, int)}
_MNEMONIC_NAMES = {v: k for k, v in vars(iced.Mnemonic).items()
                   if k.isupper() and isinstance(v, int)}


def code_name(code: int) -> str:
    """iced's name of an instruction code (``ADD_RM64_IMM8``)."""
    return _CODE_NAMES.get(code, str(code))


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


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


class _Hit:
    """A cached conversion: the IR and what the per-instance part needs."""

    __slots__ = ("instr", "branch", "prefixes")

    def __init__(self, instr, branch, prefixes):
        self.instr = instr
        self.branch = branch
        self.prefixes = prefixes


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
        self._cache: dict = {}
        self._regs = {v: ir.Reg(n) for v, n in _NATURAL.items() if n is not None}
        self._wide = {v: ir.Reg(n) for v, n in _WIDE.items() if n is not None}
        self._imms: dict = {}
        self._mems: dict = {}
        self._iced = iced.Instruction()

    # ---- whole inputs

    def decode_all(self, data: bytes, addr: int = 0) -> list:
        """Every instruction of ``data`` (placed at ``addr``) in order; raises
        :class:`DecodeError` when the bytes do not decode into whole instructions."""
        data = bytes(data)
        dec = iced.Decoder(64, data, ip=addr)
        x = self._iced
        out = []
        cache = self._cache
        pos = 0
        end = len(data)
        while pos < end:
            dec.decode_out(x)
            n = x.len
            if x.code == 0:
                if data[pos:] == _GO_UD1:
                    out.append(Decoded(pos, 2, _UD1))
                    break
                raise self._invalid(data, pos, dec)
            raw = data[pos:pos + n]
            hit = cache.get(raw)
            if hit is None:
                hit = self._convert(x, raw, pos)
            out.append(Decoded(pos, n, hit.instr, x.near_branch_target if hit.branch else None,
                               hit.prefixes))
            pos += n
        return out

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
        hit = self._cache.get(raw)
        if hit is None:
            hit = self._convert(x, raw, offset)
        return Decoded(offset, n, hit.instr, x.near_branch_target if hit.branch else None,
                       hit.prefixes)

    def _invalid(self, data: bytes, pos: int, dec) -> DecodeError:
        """The error for undecodable bytes at ``pos``."""
        err = dec.last_error
        chunk = data[pos:pos + 15]
        if err == iced.DecoderError.NO_MORE_BYTES:
            return DecodeError(f"truncated instruction: {chunk.hex()} ends after "
                               f"{len(data) - pos} byte(s)", offset=pos, data=chunk)
        return DecodeError(f"invalid instruction: {chunk.hex()}", offset=pos, data=chunk)

    # ---- one instruction

    def _convert(self, x, raw: bytes, pos: int) -> _Hit:
        code = x.code
        conv = self._conv.get(code)
        if conv is None:
            conv = self._conv[code] = self._make_converter(x, raw, pos)
        rel = x.is_ip_rel_memory_operand
        if rel and self.rip is None:
            raise DecodeError(f"{raw.hex()}: RIP-relative addressing "
                              f"({iced.Formatter(iced.FormatterSyntax.GAS).format(x)}) cannot "
                              f"be placed in goasm's layout", offset=pos, data=raw)
        op, args, branch, string = conv(x)
        if None in args:
            raise DecodeError(f"{raw.hex()}: {self._intel(x)}: a register Go's assembler "
                              f"has no name for", offset=pos, data=raw)
        suffixes = ()
        if x.op_mask:
            args = args[:-1] + (self._regs[x.op_mask],) + args[-1:]
        if x.encoding == iced.EncodingKind.EVEX:
            suffixes = self._evex_suffixes(x)
        prefixes = ()
        if x.has_lock_prefix:
            prefixes = ("LOCK",)
        if string:
            if x.has_repne_prefix:
                prefixes += ("REPN",)
            elif x.has_rep_prefix:
                prefixes += ("REP",)
        hit = _Hit(ir.Instr(op, args, suffixes), branch, prefixes)
        if not rel:
            self._cache[raw] = hit
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

    def _make_converter(self, x, raw: bytes, pos: int):
        """Generate the converter of ``x.code`` from its rule (see the module docstring
        of :mod:`goasm.decode.table` for the template tokens)."""
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
        branch = any(k in _NEAR for k in kinds)
        string = any(k in _STRING_MEM for k in kinds)
        exprs = []
        env = {"R": self._regs, "W": self._wide, "M": self._mem, "I": self._imm, "REG": _REG,
               "OP": rule.op, "RL": self._reglist, "C": {}}
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
                exprs.append(f"W.get(x.op{i}_register)")
            elif conv == "l4":
                exprs.append(f"RL(x.op{i}_register)")
            elif kind in _IMM:
                bits, signed = _IMM[kind]
                exprs.append(f"I(x.immediate({i}), {bits}, {signed})")
            elif kind in (_REG, _MEMORY):
                # r/m operands are a register in some encodings and memory in others
                exprs.append(f"(R.get(x.op{i}_register) if x.op{i}_kind == REG else M(x))")
            else:
                raise DecodeError(f"{raw.hex()}: {self._intel(x)}: template {tok} names an "
                                  f"operand of kind {kind}", offset=pos, data=raw)
        body = ", ".join(exprs) + ("," if len(exprs) == 1 else "")
        src = (f"def _conv(x):\n    return OP, ({body}), {branch}, {string}\n")
        exec(compile(src, f"<goasm-decode {name}>", "exec"), env)  # noqa: S102
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
        if name is None:
            return None
        return ir.RegList(name, f"{name[0]}{int(name[1:]) + 3}")

    def _mem(self, x):
        base = x.memory_base
        if base == _RIP:
            return self.rip(x.ip_rel_memory_address)
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
            m = ir.Mem(offset=offset, base=_NATURAL[base] if base else None,
                       index=_NATURAL[index] if index else None,
                       scale=scale if index else 0)
        self._mems[key] = m
        return m


def absolute_mem(address: int) -> ir.Mem:
    """A RIP-relative operand as the absolute address it reaches (``Mem(offset=addr)``)."""
    return ir.Mem(offset=_signed(address, 64))

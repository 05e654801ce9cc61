"""Load-time validation: instructions Go's assembler rejects are rejected before running.

cmd/asm refuses some operand combinations that goasm's grammar and loader accept (they
are syntactically fine): an index register that cannot index, an offset that does not
fit in 32 bits, an operand of the wrong class for the instruction. Go reports them as
``invalid instruction`` (``cmd/internal/obj/x86/asm6.go``: ``oclass``/``ytab`` matching
in ``doasm``, ``asmidx``) or ``offset too large`` (``asmandsz``). goasm checks the same
rules when an instruction is compiled for execution (:func:`check`, called by
:meth:`goasm.machine.semantics.Compiler.compile`), so ``goasm run`` fails at load time
with the file:line instead of executing something the real toolchain never builds.

The rules (each mirrors Go's behaviour; tests/test_conformance.py holds them to ``go
tool asm`` on generated probes, to every ERROR line of amd64error.s that concerns an
implemented instruction, and to the whole Go corpus, which must pass):

* memory operands: no index with an ``SB`` (RIP-relative) reference, no base register
  either; the index must be a general register other than SP (vector registers only
  for the VSIB gathers); offsets must fit in int32 (LEAL excepted);
* at most one memory operand; no memory operand for MOV to/from CR/DR registers;
* ``.Z``/rounding/broadcast suffixes only on EVEX (V-prefixed) instructions;
* the integer families (ALU, MOV, shifts, multiply/divide, bit operations, BMI, ...):
  operand classes per position (register, memory, immediate with its range, CL),
  64-bit register names for W/L/Q operations, no XMM registers.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from goasm import ir
from goasm.arch.amd64 import CONDITIONS, GPR8, GPR8_HIGH, GPR64

INVALID = "invalid instruction"
OFFSET = "offset too large"

_GPR64 = frozenset(GPR64) | {"g"}
_GPR8 = frozenset(GPR8) | frozenset(GPR8_HIGH)
_VECTOR = re.compile(r"^[XYZ]\d+$")
_GATHER = re.compile(r"^V(P?GATHER|P?SCATTER|GATHERPF|SCATTERPF)")
_CONTROL = re.compile(r"^(CR|DR)\d+$")


def _mem(arg):
    if isinstance(arg, ir.Mem):
        return arg
    if isinstance(arg, ir.Addr):
        return arg.mem
    if isinstance(arg, ir.Indirect) and isinstance(arg.target, ir.Mem):
        return arg.target
    return None


def check(ins) -> str | None:
    """The message Go's assembler gives for ``ins`` (an IR instruction or a linked
    :class:`goasm.image.LInstr`), or None when it is valid as far as goasm can tell."""
    op = ins.op
    args = ins.args
    for a in args:
        m = _mem(a)
        if m is None:
            continue
        problem = _check_mem(op, m)
        if problem:
            return problem
    mems = [a for a in args if isinstance(a, ir.Mem)]
    if len(mems) > 1:
        return INVALID
    if op in ("MOVQ", "MOVL") and mems and any(
            isinstance(a, ir.Reg) and _CONTROL.match(a.name) for a in args):
        return INVALID
    suffixes = getattr(ins, "suffixes", ())
    if suffixes and not op.startswith("V"):
        return INVALID
    if op.startswith("V"):
        problem = _check_vector(op, args, suffixes)
        if problem:
            return problem
    for a in args:
        if isinstance(a, ir.RegList) and not _reglist_ok(a):
            return INVALID
    form = _FORMS.get(op)
    if form is not None and not any(isinstance(a, ir.Reg) and not _CLASSIFIED.match(a.name)
                                    for a in args):
        return form(op, args)
    return None


# Registers the operand classes below know; forms naming others (MMX, control, debug,
# segment registers) are left to the instruction handlers.
_CLASSIFIED = re.compile(r"^(?:[A-D][XLH]|[SB]P|[SD]I|R\d+|R\d+B|[SB]PB|[SD]IB|g|"
                         r"X([0-9]|1[0-5]))$")


def _check_mem(op: str, m: ir.Mem) -> str | None:
    if m.offset != ((m.offset + (1 << 31)) & 0xFFFFFFFF) - (1 << 31) and op != "LEAL":
        return OFFSET
    branch = op in ("JMP", "CALL")           # jump tables: absolute disp32 + index
    if m.index is not None and m.index != "TLS":
        if m.kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC) and not branch:
            return INVALID                   # amd64: RIP-relative has no index
        if _VECTOR.match(m.index):
            if not _GATHER.match(op):
                return INVALID
        elif m.index not in _GPR64 or m.index == "SP":
            return INVALID
    if m.kind in (ir.NameKind.EXTERN, ir.NameKind.STATIC) and m.base is not None \
            and not branch:
        return INVALID
    if m.base is not None and m.base not in _GPR64 and m.base not in ("TLS", "SB", "FP", "SP"):
        return INVALID
    return None


# --------------------------------------------------------------------------- AVX / AVX-512
# Encoding rules of VEX and EVEX instructions (SDM Vol. 2, 2.3 "Intel Advanced Vector
# Extensions (Intel AVX)", 2.3.12 "Vector SIB (VSIB) Memory Addressing", 2.7 "Intel
# AVX-512 Encoding"; Go's asm6.go evex/avx checks): VSIB gathers need a vector
# index of the right size and distinct mask/index/destination registers; the high 16
# vector registers exist only in EVEX encodings; K0 cannot be a write mask; suffixes
# (rounding, SAE, zeroing, broadcast) need the operands EVEX can encode them with.

_VEX_ONLY = frozenset("""
VADDSUBPD VADDSUBPS VBLENDPD VBLENDPS VBLENDVPD VBLENDVPS VBROADCASTF128 VBROADCASTI128
VDPPD VDPPS VEXTRACTF128 VEXTRACTI128 VHADDPD VHADDPS VHSUBPD VHSUBPS VINSERTF128
VINSERTI128 VLDDQU VMASKMOVDQU VMASKMOVPD VMASKMOVPS VMOVMSKPD VMOVMSKPS VMPSADBW
VPBLENDD VPBLENDVB VPBLENDW VPCMPESTRI VPCMPESTRM VPCMPISTRI VPCMPISTRM VPERM2F128
VPERM2I128 VPHADDD VPHADDSW VPHADDW VPHMINPOSUW VPHSUBD VPHSUBSW VPHSUBW VPMASKMOVD
VPMASKMOVQ VPSIGNB VPSIGND VPSIGNW VPTEST VRCPPS VRCPSS VROUNDPD VROUNDPS VROUNDSD
VROUNDSS VRSQRTPS VRSQRTSS VTESTPD VTESTPS VZEROALL VZEROUPPER
""".split())
# Embedded-rounding arithmetic: it takes a rounding mode, not a bare .SAE.
_ROUNDING_ARITH = re.compile(r"^V(ADD|SUB|MUL|DIV|SQRT|SCALEF)(PD|PS)$")
_ROUNDING = frozenset({"RN_SAE", "RZ_SAE", "RU_SAE", "RD_SAE"})
_VREG = re.compile(r"^([XYZ])(\d+)$")


def _vreg(name: str):
    m = _VREG.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def _check_vector(op: str, args, suffixes) -> str | None:
    regs = [a.name for a in args if isinstance(a, ir.Reg)]
    mems = [m for m in (_mem(a) for a in args) if m is not None]
    if op in _VEX_ONLY and any((_vreg(r) or ("", 0))[1] >= 16 or r[:1] == "Z" for r in regs):
        return INVALID
    if len(args) >= 3 and isinstance(args[-2], ir.Reg) and args[-2].name == "K0":
        return INVALID                          # K0 is "no mask", not a write mask
    if _GATHER.match(op) and "GATHER" in op and not op.startswith("VGATHERPF"):
        problem = _check_gather(op, args, mems)
        if problem:
            return problem
    sfx = set(suffixes)
    if sfx & _ROUNDING:
        vecs = [_vreg(r) for r in regs if _vreg(r)]
        if mems:
            return "illegal SAE with memory argument"
        if op.endswith(("PD", "PS")) and vecs and all(k in "XY" for k, _ in vecs):
            return "unsupported rounding"
    if "SAE" in sfx:
        if mems:
            return "illegal SAE with memory argument"
        if _ROUNDING_ARITH.match(op):
            return "unsupported SAE"
    if "Z" in sfx:
        ks = [r for r in regs if re.fullmatch(r"K[0-7]", r)]
        if regs and re.fullmatch(r"K[0-7]", regs[-1]):
            return "unsupported zeroing"
        if not ks:
            return "mask register must be specified for .Z instructions"
    if "BCST" in sfx:
        if not mems:
            return "illegal broadcast without memory argument"
        if op.endswith(("SD", "SS")):
            return "unsupported broadcast"
    return None


def _check_gather(op: str, args, mems) -> str | None:
    """VSIB gathers: VEX ``VPGATHERDQ mask, mem, dst`` and EVEX ``VPGATHERDQ mem, K,
    dst``."""
    if len(mems) != 1 or mems[0].index is None or not _vreg(mems[0].index):
        return INVALID
    mem = mems[0]
    index = _vreg(mem.index)
    dst = _vreg(args[-1].name) if isinstance(args[-1], ir.Reg) else None
    if dst is None:
        return INVALID
    evex = isinstance(args[-2], ir.Reg) and args[-2].name.startswith("K")
    # The index register each gather takes (SDM Vol. 2, 2.3.12: VM32x/y/z and
    # VM64x/y/z): as wide as the destination when index and element sizes match;
    # dword indices of qword elements use the next smaller register (X for an X
    # destination); qword indices of dword elements the next larger (X or Y for X).
    sizes = "XYZ"
    elem_q = op.endswith(("Q", "PD")) and not op.endswith("QD")
    index_d = "GATHERD" in op
    d, i = sizes.index(dst[0]), sizes.index(index[0])
    if index_d and elem_q:
        ok = i == max(d - 1, 0)
    elif not index_d and not elem_q:
        ok = i in ((0, 1) if d == 0 else (d + 1,))
    else:
        ok = i == d
    if not ok:
        return INVALID
    if not evex:
        mask = _vreg(args[0].name) if isinstance(args[0], ir.Reg) else None
        if mask is None or index[1] >= 16:
            return INVALID
        if len({mask[1], index[1], dst[1]}) < 3:
            return "mask, index, and destination registers should be distinct"
    elif index[1] == dst[1]:
        return "index and destination registers should be distinct"
    return None


def _reglist_ok(rl) -> bool:
    lo, hi = _vreg(rl.lo), _vreg(rl.hi)
    return bool(lo and hi and lo[0] == hi[0] and hi[1] - lo[1] == 3)


# --------------------------------------------------------------------------- operand classes
#
# A form is a tuple of position classes; an instruction is valid when one of its forms
# matches. Classes: "r" general register of the operation's width (64-bit names for
# W/L/Q; byte names for B after the loader's byte-register renaming), "r8" a byte or
# 64-bit register name (the source of MOVB?X), "m" memory, "rm" either, "i" immediate
# in the width's range, "u8" an unsigned 8-bit immediate, "s8" an 8-bit immediate
# either signed or unsigned, "cl" the count register, "x" an XMM register.

def _imm_ok(value: int, cls: str, width: int) -> bool:
    if cls == "u2":
        return 0 <= value <= 3
    if cls == "u8":
        return 0 <= value <= 255
    if cls == "s8":
        return -128 <= value <= 255
    if cls == "i64":
        return -(1 << 63) <= value < (1 << 64)
    return -(1 << 31) <= value < (1 << 32)   # imm32 (8/16-bit ones are truncated)


def _reg_ok(name: str, cls: str, width: int) -> bool:
    if cls == "x":
        return bool(re.fullmatch(r"X([0-9]|1[0-5])", name))
    if cls == "x0":
        return name == "X0"
    if cls == "cl":
        return name in ("CX", "CL")
    if cls == "r8":
        return name in _GPR64 or name in _GPR8
    if width == 1:
        return name in _GPR8 or name in _GPR64
    return name in _GPR64


def _matches(args, form, width) -> bool:
    if len(args) != len(form):
        return False
    for a, cls in zip(args, form):
        if isinstance(a, ir.Imm):
            if cls not in ("i", "u2", "u8", "s8", "i64") or not _imm_ok(a.value, cls, width):
                return False
        elif isinstance(a, (ir.Addr, ir.FloatImm)):
            if cls not in ("i", "i64"):          # $sym(SB), $1.5: immediates
                return False
        elif isinstance(a, ir.Reg):
            if cls not in ("r", "rm", "r8", "r8m", "cl", "x", "x0", "xm", "rx", "xrm"):
                return False
            if cls == "r8m":
                cls = "r8"
            if cls == "x0":
                if a.name != "X0":
                    return False
            elif cls in ("x", "xm"):
                if not _reg_ok(a.name, "x", width):
                    return False
            elif cls in ("rx", "xrm"):
                if not (_reg_ok(a.name, "x", width) or _reg_ok(a.name, "r", width)):
                    return False
            elif not _reg_ok(a.name, cls, width):
                return False
        elif isinstance(a, ir.Mem):
            if cls not in ("m", "rm", "r8m", "xm", "xrm"):
                return False
        else:
            return False
    return True


def _family(forms, widths="BWLQ", *, width_of=None):
    """A checker accepting ``forms`` (tuples of classes) for every width suffix."""
    size = {"B": 1, "W": 2, "L": 4, "Q": 8}

    def check_forms(op, args):
        width = width_of(op) if width_of else size.get(op[-1], 8)
        if any(_matches(args, f, width) for f in forms):
            return None
        return INVALID
    return check_forms


_ALU = (("i", "rm"), ("r", "rm"), ("m", "r"))
_CMP = (("rm", "i"), ("r", "rm"), ("m", "r"))
_TEST = (("i", "rm"), ("r", "rm"), ("m", "r"))
_UNARY = (("r8m",),)                     # cmd/asm takes NEGQ AL as NEGQ AX
_SHIFT = (("u8", "rm"), ("cl", "rm"), ("rm",))
_DSHIFT = (("u8", "r", "rm"), ("cl", "r", "rm"))
_MOVX = (("r8", "r"), ("m", "r"))

_TABLE: dict = {}


def _add(stems, widths, forms, **kw):
    checker = _family(forms, **kw)
    for stem in stems.split():
        for w in widths:
            _TABLE[stem + w] = checker


_add("ADD ADC SUB SBB AND OR XOR", "BWLQ", _ALU)
_add("CMP", "BWLQ", _CMP)
_add("TEST", "BWLQ", _TEST)
_add("NEG NOT", "BWLQ", _UNARY)
_add("INC DEC", "BWLQ", (("rm",),))
_add("MUL DIV IDIV", "BWLQ", (("rm",),))
_add("IMUL", "B", (("rm",),))
_add("IMUL", "WLQ", (("rm",), ("rm", "r"), ("i", "r")))    # IMULQ $i, r = IMUL3Q $i, r, r
_add("IMUL3", "WLQ", (("i", "rm", "r"),))
_add("ROL ROR RCL RCR SAR SAL", "BWLQ", _SHIFT)
_add("SHL SHR", "B", _SHIFT)
_add("SHL SHR", "WLQ", _SHIFT + _DSHIFT)
_add("BT BTS BTR BTC", "WLQ", (("s8", "rm"), ("r", "rm")))
_add("BSF BSR POPCNT LZCNT TZCNT", "WLQ", (("rm", "r"),))
_add("BSWAP", "LQ", (("r",),))
_add("XCHG", "BWLQ", (("r", "rm"), ("m", "r")))
_add("XADD CMPXCHG", "BWLQ", (("r", "rm"),))
_add("LEA", "WLQ", (("m", "r"),))
_add("ANDN", "LQ", (("rm", "r", "r"),))
_add("BEXTR BZHI SARX SHLX SHRX", "LQ", (("r", "rm", "r"),))
_add("PDEP PEXT MULX", "LQ", (("rm", "r", "r"),))
_add("RORX", "LQ", (("s8", "rm", "r"),))
_add("BLSI BLSMSK BLSR", "LQ", (("rm", "r"),))
_add("ADCX ADOX", "LQ", (("rm", "r"),))
_add("MOVBE", "WLQ", (("m", "r"), ("r", "m")))
_add("MOVNTI", "LQ", (("r", "rm"),))
_add("MOV", "BW", (("i", "rm"), ("r", "rm"), ("m", "r")))
_add("MOV", "L", (("i", "rm"), ("r", "rm"), ("m", "r"), ("x", "rm"), ("rm", "x")))
_add("MOV", "Q", (("i64", "r"), ("i", "m"), ("r", "rm"), ("m", "r"), ("x", "rm"),
                  ("rm", "x"), ("x", "x")))
for _name in ("MOVBLSX", "MOVBLZX", "MOVBQSX", "MOVBQZX", "MOVBWSX", "MOVBWZX", "MOVSWW",
              "MOVZWW"):
    _TABLE[_name] = _family(_MOVX, width_of=lambda op: 8)
for _name in ("MOVWLSX", "MOVWLZX", "MOVWQSX", "MOVWQZX", "MOVLQSX", "MOVLQZX"):
    _TABLE[_name] = _family((("rm", "r"),), width_of=lambda op: 8)
for _cc in CONDITIONS:
    _TABLE["SET" + _cc] = _family((("rm",),), width_of=lambda op: 1)
    for _w in "WLQ":
        _TABLE[f"CMOV{_w}{_cc}"] = _family((("rm", "r"),))

# A few non-integer instructions whose operand classes amd64error.s exercises.
_TABLE["EXTRACTPS"] = _family((("u2", "x", "rm"),), width_of=lambda op: 4)
for _name in ("BLENDVPD", "BLENDVPS", "PBLENDVB"):
    _TABLE[_name] = _family((("x0", "xm", "x"), ("xm", "x")), width_of=lambda op: 16)
for _name in ("CLWB", "CLDEMOTE", "CLFLUSH", "CLFLUSHOPT"):
    _TABLE[_name] = _family((("m",),))
for _name in ("TPAUSE", "UMWAIT"):
    _TABLE[_name] = _family((("r",),), width_of=lambda op: 4)
_TABLE["UMONITOR"] = _family((("r",),))
_TABLE["RDPID"] = _family((("r",),))

_FORMS = MappingProxyType(_TABLE)
"""Mnemonic -> checker for the families whose operand classes goasm validates."""

"""Lazily evaluated arithmetic flags (CF PF AF ZF SF OF).

An instruction that writes flags does not compute them: it records *how* they were
produced in five CPU slots and the flags are derived on demand (a conditional branch, a
PUSHFQ, a debugger asking for RFLAGS). This is the "compute flags lazily" rule of
DESIGN.md's performance section. The slots (see :class:`goasm.machine.state.CPU`):

``fk``
    the *kind*: ``family * 4 + width index`` (B=0, W=1, L=2, Q=3), see :func:`kind`.
``fa``, ``fb``
    the operands (unsigned, width-masked) of the operation.
``fr``
    the width-masked result. Invariant for every kind: ``ZF == (fr == 0)``, so EQ/NE
    need no table lookup.
``fc``
    carry-in (ADC/SBB), the previous CF (INC/DEC preserve CF), the last bit shifted out
    (shifts), CF=OF (MUL/IMUL), or ``CF | OF << 11`` (the ROT families).

Families and the formulas (Intel SDM Vol. 1, 3.4.3.1 "Status Flags" and Appendix A
"EFLAGS Cross-Reference"; Vol. 2 instruction pages ADD, ADC, SUB, SBB, CMP, NEG, INC,
DEC, AND/OR/XOR/TEST, SAL/SAR/SHL/SHR, SHLD/SHRD, MUL/IMUL):

=========  ===========================================================================
ADD        CF = r < a; OF = sign bit of (a^r)&(b^r); AF = bit 4 of a^b^r (also XADD)
ADC        CF = a+b+c > mask; OF and AF as ADD
SUB        CF = a < b; OF = sign bit of (a^b)&(a^r); AF as ADD (CMP, NEG as 0-b,
           CMPXCHG, CMPS, SCAS)
SBB        CF = a < b+c; OF and AF as SUB
LOGIC      CF = OF = 0, AF = 0 (undefined); also BSF/BSR/POPCNT where ZF = (src == 0)
INC/DEC    CF = previous CF; OF = r == 0x80.. / 0x7f..; AF = low nibble wrapped
SHIFT      CF = last bit out; OF = sign bit of a^r (the 1-bit-count definition for
           SHL/SHR/SAR/SHLD/SHRD; undefined for larger counts); AF = 0 (undefined)
MUL        CF = OF = fc; SF ZF AF PF undefined (derived from the low result)
EXPLICIT   ``fa`` holds the flag bits themselves (POPFQ, SAHF, BT, CLC/STC ...)
ROT*       CF and OF replaced, the other four kept: rotates (ROL ROR RCL RCR)
=========  ===========================================================================

SF and PF always come from ``fr`` (PF: even parity of its low byte), except EXPLICIT.

Instructions that change only CF and OF (the rotates) stay lazy too: the kind becomes
``ROTATED[fk]``, a ROT family of the same width that keeps ``fa fb fr`` -- so ZF, SF,
PF and AF still come from the previous operation's formulas (ROTA: ADD's AF, for
ADD ADC SUB SBB; ROTI / ROTD: INC's / DEC's; ROT0: AF = 0, for LOGIC SHIFT MUL; ROTX:
EXPLICIT's bits) -- and ``fc`` holds the new ``CF | OF << 11``. No flag is computed.
The tables below are built once at import and never modified.
"""

from __future__ import annotations

import re
from types import MappingProxyType

CF = 0x0001
PF = 0x0004
AF = 0x0010
ZF = 0x0040
SF = 0x0080
TF = 0x0100
IF = 0x0200
DF = 0x0400
OF = 0x0800
NT = 0x4000
AC = 0x40000
ID = 0x200000

ARITH = CF | PF | AF | ZF | SF | OF
"""The six status flags the lazy state represents."""

USER_WRITABLE = ARITH | TF | DF | NT | AC | ID
"""RFLAGS bits POPF can change at CPL 3 with IOPL 0 (SDM Vol. 2, POPF: IF and IOPL are
left unchanged, VM/RF/VIF/VIP are not affected)."""

ALWAYS_ONE = 0x0002
"""RFLAGS bit 1 reads as 1 (SDM Vol. 1, 3.4.3)."""

(ADD, ADC, SUB, SBB, LOGIC, INC, DEC, SHIFT, MUL, EXPLICIT,
 ROTA, ROTI, ROTD, ROT0, ROTX) = range(15)
FAMILY_NAMES = ("ADD", "ADC", "SUB", "SBB", "LOGIC", "INC", "DEC", "SHIFT", "MUL", "EXPLICIT",
                "ROTA", "ROTI", "ROTD", "ROT0", "ROTX")

WIDTH_INDEX = MappingProxyType({1: 0, 2: 1, 4: 2, 8: 3})
WIDTH_BITS = (8, 16, 32, 64)
NKINDS = len(FAMILY_NAMES) * 4


def kind(family: int, width: int) -> int:
    """The ``fk`` value for a flag family at an operand width in bytes (1, 2, 4, 8)."""
    return family * 4 + WIDTH_INDEX[width]


EXPLICIT_KIND = kind(EXPLICIT, 8)


# Each flag and condition is written once, as the text of a Python expression over the
# slot names ``fa fb fr fc`` (with the width constants substituted). The function tables
# below are compiled from this text, and the block translator
# (:mod:`goasm.machine.translate`) inlines the same text with the slots held in locals,
# so there is one definition of every formula.

_ZF = "fr == 0"
_SF = "fr >> {top} & 1 == 1"
_PF = "not (fr & 0xFF).bit_count() & 1"
_AF_ADD = "(fa ^ fb ^ fr) & 0x10 != 0"
_FC = "fc != 0"

# family -> (CF, OF, AF); PF, ZF, SF are the shared ones above except for EXPLICIT.
_FAMILY_FLAGS = {
    ADD: ("fr < fa", "(fa ^ fr) & (fb ^ fr) & {sign} != 0", _AF_ADD),
    ADC: ("fa + fb + fc > {mask}", "(fa ^ fr) & (fb ^ fr) & {sign} != 0", _AF_ADD),
    SUB: ("fa < fb", "(fa ^ fb) & (fa ^ fr) & {sign} != 0", _AF_ADD),
    SBB: ("fa < fb + fc", "(fa ^ fb) & (fa ^ fr) & {sign} != 0", _AF_ADD),
    LOGIC: ("False", "False", "False"),
    INC: (_FC, "fr == {sign}", "fr & 0xF == 0"),
    DEC: (_FC, "fr == {sign_1}", "fr & 0xF == 0xF"),
    SHIFT: (_FC, "(fa ^ fr) & {sign} != 0", "False"),
    MUL: (_FC, _FC, "False"),
    ROTA: ("fc & 1 != 0", "fc & 0x800 != 0", _AF_ADD),
    ROTI: ("fc & 1 != 0", "fc & 0x800 != 0", "fr & 0xF == 0"),
    ROTD: ("fc & 1 != 0", "fc & 0x800 != 0", "fr & 0xF == 0xF"),
    ROT0: ("fc & 1 != 0", "fc & 0x800 != 0", "False"),
}

_ROT_FAMILIES = frozenset({ROTA, ROTI, ROTD, ROT0, ROTX})

# The family a CF/OF-only update (``fc = CF | OF << 11``) turns each family into.
_ROTATED_FAMILY = {ADD: ROTA, ADC: ROTA, SUB: ROTA, SBB: ROTA, INC: ROTI, DEC: ROTD,
                   LOGIC: ROT0, SHIFT: ROT0, MUL: ROT0, EXPLICIT: ROTX,
                   ROTA: ROTA, ROTI: ROTI, ROTD: ROTD, ROT0: ROT0, ROTX: ROTX}

# Conditions (SDM Vol. 1, Appendix B) as compositions of the flags; {cf} ... are the
# parenthesised flag expressions. Families with direct forms override some of them.
_GENERIC_CONDITIONS = {
    "CS": "{cf}", "CC": "not {cf}", "EQ": "fr == 0", "NE": "fr != 0",
    "LS": "fr == 0 or {cf}", "HI": "fr != 0 and not {cf}", "MI": "{sf}", "PL": "not {sf}",
    "OS": "{of}", "OC": "not {of}", "PS": "{pf}", "PC": "not {pf}",
    "LT": "{sf} != {of}", "GE": "{sf} == {of}", "LE": "fr == 0 or {sf} != {of}",
    "GT": "fr != 0 and {sf} == {of}",
}
_SUB_CONDITIONS = {
    "CC": "fa >= fb", "LS": "fa <= fb", "HI": "fa > fb",
    "LT": "(fa ^ {sign}) < (fb ^ {sign})", "GE": "(fa ^ {sign}) >= (fb ^ {sign})",
    "LE": "(fa ^ {sign}) <= (fb ^ {sign})", "GT": "(fa ^ {sign}) > (fb ^ {sign})",
}
_LOGIC_CONDITIONS = {
    "CS": "False", "CC": "True", "LS": "fr == 0", "HI": "fr != 0", "OS": "False",
    "OC": "True", "LT": "fr >> {top} & 1 == 1", "GE": "fr >> {top} & 1 == 0",
    "LE": "fr == 0 or fr >> {top} & 1 == 1", "GT": "fr != 0 and fr >> {top} & 1 == 0",
}
CONDITION_NAMES = tuple(_GENERIC_CONDITIONS)
FLAG_NAMES = ("CF", "PF", "AF", "ZF", "SF", "OF")


def _fill(template: str, bits: int) -> str:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    return template.format(top=bits - 1, mask=hex(mask), sign=hex(sign), sign_1=hex(sign - 1))


def flag_expressions(k: int) -> dict:
    """``{"CF": text, "PF": ..., "OF": ...}`` for flag kind ``k``: Python expressions over
    the slot names ``fa fb fr fc`` (see the module docstring for the formulas)."""
    family, bits = divmod(k, 4)
    bits = WIDTH_BITS[bits]
    if family in (EXPLICIT, ROTX):
        out = {name: f"fa & {bit:#x} != 0" for name, bit in
               (("CF", CF), ("PF", PF), ("AF", AF), ("SF", SF), ("OF", OF))}
        out["ZF"] = _ZF
        if family == ROTX:
            out["CF"], out["OF"] = "fc & 1 != 0", "fc & 0x800 != 0"
    else:
        cf, of, af = _FAMILY_FLAGS[family]
        out = {"CF": cf, "PF": _PF, "AF": af, "ZF": _ZF, "SF": _SF, "OF": of}
    return {name: _fill(out[name], bits) for name in FLAG_NAMES}


def condition_expression(cc: str, k: int, fx: dict | None = None) -> str:
    """A Python expression over ``fa fb fr fc`` testing Go condition ``cc`` (``EQ``,
    ``CS``, ``GT`` ...) for flag kind ``k``: the text both the function tables below and
    translated blocks evaluate (``fx``: ``flag_expressions(k)``, if already made)."""
    family, bits = divmod(k, 4)
    template = None
    if family == SUB:
        template = _SUB_CONDITIONS.get(cc)
    elif family == LOGIC:
        template = _LOGIC_CONDITIONS.get(cc)
    if template is None:
        fx = fx if fx is not None else flag_expressions(k)
        template = _GENERIC_CONDITIONS[cc].format(
            cf=f"({fx['CF']})", sf=f"({fx['SF']})", of=f"({fx['OF']})", pf=f"({fx['PF']})")
        return template
    return _fill(template, WIDTH_BITS[bits])


def carries_expression(k: int, fx: dict | None = None) -> str:
    """A Python expression over ``fa fb fr fc``: ``CF | OF << 11`` (the ``fc`` of the ROT
    kinds, see :data:`ROTATED`)."""
    if k // 4 in _ROT_FAMILIES:
        return "fc"
    fx = fx if fx is not None else flag_expressions(k)
    return f"({fx['CF']}) | ({fx['OF']}) << 11"


def materialize_expression(k: int, fx: dict | None = None) -> str:
    """A Python expression over ``fa fb fr fc``: the six status flags as RFLAGS bits."""
    fx = fx if fx is not None else flag_expressions(k)
    bits = {"CF": CF, "PF": PF, "AF": AF, "ZF": ZF, "SF": SF, "OF": OF}
    return " | ".join(f"({bits[n]:#x} if {fx[n]} else 0)" for n in FLAG_NAMES)


_SLOT = re.compile(r"\b(fa|fb|fr|fc)\b")


def _build_tables():
    """Compile every distinct formula once, all in one ``exec`` (import-time cost)."""
    exprs: dict[str, int] = {}

    def ref(expr: str) -> int:
        return exprs.setdefault(expr, len(exprs))
    getters = {name: [] for name in FLAG_NAMES}
    mat_t = []
    carries_t = []
    cond_t = {cc: [] for cc in CONDITION_NAMES}
    for k in range(NKINDS):
        fx = flag_expressions(k)
        for name, expr in fx.items():
            getters[name].append(ref(expr))
        mat_t.append(ref(materialize_expression(k, fx)))
        carries_t.append(ref(carries_expression(k, fx)))
        for cc in CONDITION_NAMES:
            cond_t[cc].append(ref(condition_expression(cc, k, fx)))
    bodies = [_SLOT.sub(r"c.\1", e) for e in exprs]
    src = "FNS = (\n" + "".join(f"    lambda c: {b},\n" for b in bodies) + ")\n"
    ns: dict = {}
    exec(compile(src, "<goasm-flags>", "exec"), ns)  # noqa: S102 - our own text
    fns = ns["FNS"]
    return (*(tuple(fns[i] for i in getters[n]) for n in FLAG_NAMES),
            tuple(fns[i] for i in mat_t), tuple(fns[i] for i in carries_t),
            MappingProxyType({cc: tuple(fns[i] for i in v) for cc, v in cond_t.items()}))


CF_BY_KIND, PF_BY_KIND, AF_BY_KIND, ZF_BY_KIND, SF_BY_KIND, OF_BY_KIND, \
    MATERIALIZE, CARRIES, CONDITION = _build_tables()

ROTATED = tuple(_ROTATED_FAMILY[k // 4] * 4 + k % 4 for k in range(NKINDS))
"""``ROTATED[fk]``: the kind after an instruction that replaces CF and OF only (the new
values go to ``fc`` as ``CF | OF << 11``), keeping the other flags of kind ``fk``."""
"""Per-kind tables: ``CF_BY_KIND[cpu.fk](cpu) -> bool`` ...; ``MATERIALIZE[k](cpu) -> int``
(the six status bits); ``CARRIES[k](cpu) -> int`` (``CF | OF << 11``);
``CONDITION[cc][k](cpu) -> bool`` for each Go condition suffix
(``goasm.arch.amd64.CONDITIONS``)."""


def arith_flags(cpu) -> int:
    """The six status flags of ``cpu`` as RFLAGS bits."""
    return MATERIALIZE[cpu.fk](cpu)


def carry(cpu) -> int:
    """CF as 0/1."""
    return 1 if CF_BY_KIND[cpu.fk](cpu) else 0


def condition(cpu, cc: str) -> bool:
    """Evaluate a Go condition suffix (``EQ``, ``CS``, ``GT`` ...) on ``cpu``'s flags."""
    return CONDITION[cc][cpu.fk](cpu)


def set_explicit(cpu, bits: int) -> None:
    """Store the six status flags ``bits`` (other bits ignored) as the EXPLICIT kind."""
    bits &= ARITH
    cpu.fk = EXPLICIT_KIND
    cpu.fa = bits
    cpu.fb = 0
    cpu.fc = 0
    cpu.fr = 0 if bits & ZF else 1


def replace(cpu, clear: int, set_: int) -> None:
    """Materialise the flags, clear the bits ``clear`` and set ``set_`` (CLC/STC/CMC,
    rotates, BT: instructions that change some flags and leave the rest unaffected)."""
    set_explicit(cpu, (MATERIALIZE[cpu.fk](cpu) & ~clear) | set_)


def parity(value: int) -> bool:
    """PF for a result: True when its low byte has an even number of 1 bits."""
    return not (value & 0xFF).bit_count() & 1

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
    (shifts), or CF=OF (MUL/IMUL).

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
EXPLICIT   ``fa`` holds the flag bits themselves (POPFQ, SAHF, rotates, CLC/STC ...)
=========  ===========================================================================

SF and PF always come from ``fr`` (PF: even parity of its low byte), except EXPLICIT.
The tables below are built once at import and never modified.
"""

from __future__ import annotations

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

(ADD, ADC, SUB, SBB, LOGIC, INC, DEC, SHIFT, MUL, EXPLICIT) = range(10)
FAMILY_NAMES = ("ADD", "ADC", "SUB", "SBB", "LOGIC", "INC", "DEC", "SHIFT", "MUL", "EXPLICIT")

WIDTH_INDEX = MappingProxyType({1: 0, 2: 1, 4: 2, 8: 3})
WIDTH_BITS = (8, 16, 32, 64)
NKINDS = len(FAMILY_NAMES) * 4


def kind(family: int, width: int) -> int:
    """The ``fk`` value for a flag family at an operand width in bytes (1, 2, 4, 8)."""
    return family * 4 + WIDTH_INDEX[width]


EXPLICIT_KIND = kind(EXPLICIT, 8)


def _flag_functions(family: int, bits: int):
    """The six flag getters (cpu -> bool) for one kind, per the module table."""
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    top = bits - 1

    def zf(c):
        return c.fr == 0

    def sf(c):
        return (c.fr >> top) & 1 == 1

    def pf(c):
        return not (c.fr & 0xFF).bit_count() & 1

    def af_add(c):
        return (c.fa ^ c.fb ^ c.fr) & 0x10 != 0

    def false(c):
        return False

    def fc(c):
        return bool(c.fc)

    if family == ADD:
        def cf(c):
            return c.fr < c.fa

        def of(c):
            return (c.fa ^ c.fr) & (c.fb ^ c.fr) & sign != 0
        af = af_add
    elif family == ADC:
        def cf(c):
            return c.fa + c.fb + c.fc > mask

        def of(c):
            return (c.fa ^ c.fr) & (c.fb ^ c.fr) & sign != 0
        af = af_add
    elif family == SUB:
        def cf(c):
            return c.fa < c.fb

        def of(c):
            return (c.fa ^ c.fb) & (c.fa ^ c.fr) & sign != 0
        af = af_add
    elif family == SBB:
        def cf(c):
            return c.fa < c.fb + c.fc

        def of(c):
            return (c.fa ^ c.fb) & (c.fa ^ c.fr) & sign != 0
        af = af_add
    elif family == LOGIC:
        cf = of = af = false
    elif family == INC:
        cf = fc

        def of(c):
            return c.fr == sign

        def af(c):
            return c.fr & 0xF == 0
    elif family == DEC:
        cf = fc

        def of(c):
            return c.fr == sign - 1

        def af(c):
            return c.fr & 0xF == 0xF
    elif family == SHIFT:
        cf = fc

        def of(c):
            return (c.fa ^ c.fr) & sign != 0
        af = false
    elif family == MUL:
        cf = of = fc
        af = false
    else:  # EXPLICIT
        def cf(c):
            return c.fa & CF != 0

        def pf(c):  # noqa: F811 - EXPLICIT reads the stored bits
            return c.fa & PF != 0

        def af(c):
            return c.fa & AF != 0

        def sf(c):  # noqa: F811
            return c.fa & SF != 0

        def of(c):
            return c.fa & OF != 0
    return cf, pf, af, zf, sf, of


def _materializer(cf, pf, af, zf, sf, of):
    def materialize(c):
        return ((CF if cf(c) else 0) | (PF if pf(c) else 0) | (AF if af(c) else 0)
                | (ZF if zf(c) else 0) | (SF if sf(c) else 0) | (OF if of(c) else 0))
    return materialize


def _conditions(family: int, bits: int, fns) -> dict:
    """Condition-code predicates (cpu -> bool) for one kind (SDM Vol. 1, Appendix B).

    Generic compositions of the flag getters, with direct comparisons where the family
    allows it (SUB: unsigned and signed compares of ``fa`` and ``fb``).
    """
    cf, pf, af, zf, sf, of = fns
    sign = 1 << (bits - 1)
    top = bits - 1
    cond = {
        "CS": cf,
        "CC": lambda c: not cf(c),
        "EQ": zf,
        "NE": lambda c: c.fr != 0,
        "LS": lambda c: c.fr == 0 or cf(c),
        "HI": lambda c: c.fr != 0 and not cf(c),
        "MI": sf,
        "PL": lambda c: not sf(c),
        "OS": of,
        "OC": lambda c: not of(c),
        "PS": pf,
        "PC": lambda c: not pf(c),
        "LT": lambda c: sf(c) != of(c),
        "GE": lambda c: sf(c) == of(c),
        "LE": lambda c: c.fr == 0 or sf(c) != of(c),
        "GT": lambda c: c.fr != 0 and sf(c) == of(c),
    }
    if family == SUB:
        cond.update({
            "CC": lambda c: c.fa >= c.fb,
            "LS": lambda c: c.fa <= c.fb,
            "HI": lambda c: c.fa > c.fb,
            "LT": lambda c: (c.fa ^ sign) < (c.fb ^ sign),
            "GE": lambda c: (c.fa ^ sign) >= (c.fb ^ sign),
            "LE": lambda c: (c.fa ^ sign) <= (c.fb ^ sign),
            "GT": lambda c: (c.fa ^ sign) > (c.fb ^ sign),
        })
    elif family == LOGIC:
        cond.update({
            "CS": lambda c: False,
            "CC": lambda c: True,
            "LS": lambda c: c.fr == 0,
            "HI": lambda c: c.fr != 0,
            "OS": lambda c: False,
            "OC": lambda c: True,
            "LT": lambda c: (c.fr >> top) & 1 == 1,
            "GE": lambda c: (c.fr >> top) & 1 == 0,
            "LE": lambda c: c.fr == 0 or (c.fr >> top) & 1 == 1,
            "GT": lambda c: c.fr != 0 and (c.fr >> top) & 1 == 0,
        })
    return cond


def _build_tables():
    cf_t, pf_t, af_t, zf_t, sf_t, of_t, mat_t = [], [], [], [], [], [], []
    cond_t = {cc: [] for cc in ("CC", "CS", "EQ", "NE", "LS", "HI", "MI", "PL", "OS", "OC",
                                 "PS", "PC", "LT", "GE", "LE", "GT")}
    for family in range(len(FAMILY_NAMES)):
        for bits in WIDTH_BITS:
            fns = _flag_functions(family, bits)
            for table, fn in zip((cf_t, pf_t, af_t, zf_t, sf_t, of_t), fns):
                table.append(fn)
            mat_t.append(_materializer(*fns))
            for cc, fn in _conditions(family, bits, fns).items():
                cond_t[cc].append(fn)
    return (tuple(cf_t), tuple(pf_t), tuple(af_t), tuple(zf_t), tuple(sf_t), tuple(of_t),
            tuple(mat_t), MappingProxyType({cc: tuple(v) for cc, v in cond_t.items()}))


CF_BY_KIND, PF_BY_KIND, AF_BY_KIND, ZF_BY_KIND, SF_BY_KIND, OF_BY_KIND, \
    MATERIALIZE, CONDITION = _build_tables()
"""Per-kind tables: ``CF_BY_KIND[cpu.fk](cpu) -> bool`` ...; ``MATERIALIZE[k](cpu) -> int``
(the six status bits); ``CONDITION[cc][k](cpu) -> bool`` for each Go condition suffix
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

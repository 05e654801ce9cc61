"""SIMD conformance: every VEX and EVEX form of Go's assembler tests, checked against
the real CPU -- live on a host that runs it, and everywhere against recorded answers.

The forms (:class:`SimdSuite`) are the VEX- and EVEX-encoded lines of
``cmd/asm/internal/asm/testdata/amd64enc.s`` and ``amd64enc_extra.s`` (AVX, AVX2, FMA,
F16C, the VEX AES/PCLMULQDQ/VAES/VPCLMULQDQ forms, gathers) and of ``avx512enc/*.s``
(AVX-512 F, CD, BW, DQ, IFMA, VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ, GFNI, VAES,
VPCLMULQDQ; their 128/256-bit forms are AVX-512VL). The Xeon Phi files (ER, PF, 4FMAPS,
4VNNIW) are loaded and listed but not checked: no current CPU executes them. Every line
is parsed and linked by goasm as a user's file would be, and the machine code is what
``go tool asm`` produces for it.

A form runs from :data:`STATES` deterministic states (:mod:`goasm.vecstate`) in goasm
(:class:`GoasmEngine`) and on the host (:class:`goasm.native.HostCPU`); both outcomes
become canonical deltas (what changed: registers, lanes, flags, MXCSR, memory chunks, the
fault) and must be equal.

Recorded answers (``tests/data/cpu_oracle/<source>.bin.xz``, written by
``tools/record_cpu_oracle.py`` on a host that runs every family): per form, an 8-byte
digest over all its states, a 2-byte digest per state (to find which state differs), and
the whole delta of state 0 (to show which lanes differ). The files name the CPU that
produced them, its feature flags, the Go release and the generator version.
:func:`check_recorded` replays them against goasm on any machine, no AVX-512 needed;
:func:`check_live` compares with the host where it can run the form.

Results whose value the architecture leaves to the implementation -- the approximate
reciprocals VRCPPS/VRCPSS/VRSQRTPS/VRSQRTSS (SDM Vol. 2: "relative error ... <= 1.5 *
2^-12") -- are compared with the recording CPU's answers and, live, only on a host of
the same vendor (:data:`HOST_SPECIFIC`).
"""

from __future__ import annotations

import json
import lzma
import re
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from goasm import ir
from goasm import vecstate as V

TESTDATA = "src/cmd/asm/internal/asm/testdata"
STATES = 50
"""States per form (recorded and replayed)."""

FORMAT = 2
"""Version of the recorded-data file format."""

# Families by avx512enc file; the Xeon Phi ones are out of scope.
EVEX_FILES = {
    "avx512f.s": "AVX512F", "avx512cd.s": "AVX512CD", "avx512bw.s": "AVX512BW",
    "avx512dq.s": "AVX512DQ", "avx512_ifma.s": "AVX512IFMA", "avx512_vbmi.s": "AVX512VBMI",
    "avx512_vbmi2.s": "AVX512VBMI2", "avx512_vnni.s": "AVX512VNNI",
    "avx512_bitalg.s": "AVX512BITALG", "avx512_vpopcntdq.s": "AVX512VPOPCNTDQ",
    "gfni_avx512f.s": "GFNI", "aes_avx512f.s": "VAES", "vpclmulqdq_avx512f.s": "VPCLMULQDQ",
}
XEON_PHI_FILES = {"avx512er.s": "AVX512ER", "avx512pf.s": "AVX512PF",
                  "avx512_4fmaps.s": "AVX512_4FMAPS", "avx512_4vnniw.s": "AVX512_4VNNIW"}
VEX_FILES = ("amd64enc.s", "amd64enc_extra.s")

FAMILY_ORDER = ("AVX", "AVX2", "FMA", "F16C", "AES", "PCLMULQDQ", "AVX512F", "AVX512CD",
                "AVX512BW", "AVX512DQ", "AVX512IFMA", "AVX512VBMI", "AVX512VBMI2",
                "AVX512VNNI", "AVX512BITALG", "AVX512VPOPCNTDQ", "GFNI", "VAES",
                "VPCLMULQDQ", "AVX512ER", "AVX512PF", "AVX512_4FMAPS", "AVX512_4VNNIW")

# VEX mnemonics that exist only from AVX2 on (SDM Vol. 1, 14.7 "Promoted vector integer
# instructions in AVX2" and Vol. 2 instruction pages: "AVX2" in the CPUID column).
AVX2_ONLY = frozenset("""
VBROADCASTI128 VPERM2I128 VPERMD VPERMQ VPERMPS VPERMPD VINSERTI128 VEXTRACTI128
VPMASKMOVD VPMASKMOVQ VPSLLVD VPSLLVQ VPSRLVD VPSRLVQ VPSRAVD VPBLENDD VPBROADCASTB
VPBROADCASTW VPBROADCASTD VPBROADCASTQ VGATHERDPS VGATHERDPD VGATHERQPS VGATHERQPD
VPGATHERDD VPGATHERDQ VPGATHERQD VPGATHERQQ
""".split())
# VP-named instructions whose 256-bit forms are AVX (not AVX2).
_AVX_VP = frozenset({"VPTEST", "VPERMILPS", "VPERMILPD", "VPERM2F128"})
_AES = frozenset({"VAESENC", "VAESENCLAST", "VAESDEC", "VAESDECLAST", "VAESIMC",
                  "VAESKEYGENASSIST"})

HOST_SPECIFIC = frozenset({"VRCPPS", "VRCPSS", "VRSQRTPS", "VRSQRTSS"})
"""Approximations whose exact bits differ between processor vendors (SDM Vol. 2, RCPPS:
"the relative error ... is less than or equal to 1.5 * 2^-12")."""

_LINE = re.compile(r"^\t(?P<text>[^/\t][^/]*?)\s*//\s*(?P<hex>[0-9a-f]+(?:\s+or\s+[0-9a-f]+)*)\s*$")


def vex_family(op: str, args) -> str:
    """The CPUID feature a VEX form needs (SDM Vol. 2, each page's CPUID column)."""
    wide = any(isinstance(a, ir.Reg) and a.name[:1] == "Y" for a in args) or any(
        isinstance(a, ir.Mem) and (a.index or "")[:1] == "Y" for a in args)
    if op.startswith(("VFMADD", "VFMSUB", "VFNMADD", "VFNMSUB")):
        return "FMA"
    if op in ("VCVTPH2PS", "VCVTPS2PH"):
        return "F16C"
    if op in _AES:
        return "VAES" if wide else "AES"
    if op == "VPCLMULQDQ":
        return "VPCLMULQDQ" if wide else "PCLMULQDQ"
    if op.startswith("VGF2P8"):
        return "GFNI"
    if op in AVX2_ONLY:
        return "AVX2"
    if op in ("VBROADCASTSS", "VBROADCASTSD") and isinstance(args[0], ir.Reg):
        return "AVX2"
    if wide and (op.startswith("VP") or op in ("VMPSADBW", "VMOVNTDQA")) and op not in _AVX_VP:
        return "AVX2"
    return "AVX"


def encoding(code: bytes) -> str | None:
    """``vex`` or ``evex`` by the first byte after legacy prefixes, else None."""
    i = 0
    while i < len(code) and code[i] in (0x66, 0xF2, 0xF3, 0x67, 0x2E, 0x3E, 0x26, 0x64,
                                        0x65, 0x36, 0xF0):
        i += 1
    if i < len(code) and code[i] in (0xC4, 0xC5):
        return "vex"
    if i < len(code) and code[i] == 0x62:
        return "evex"
    return None


# ---------------------------------------------------------------------------- forms

@dataclass
class SimdForm:
    """One VEX/EVEX line of the Go assembler's tests.

    ``status``: ``checked`` (goasm compiles it), ``unimplemented`` (executing it raises
    "unimplemented instruction"; ``reason`` is goasm's message) or ``excluded``
    (``reason`` says why). ``unit`` indexes :attr:`SimdSuite.machines`.
    """

    source: str
    line: int
    text: str
    code: bytes
    ins: object
    op: str
    encoding: str
    family: str
    unit: int
    status: str = "checked"
    reason: str = ""
    _plan: object = None

    @property
    def addr(self) -> int:
        return self.ins.addr

    @property
    def name(self) -> str:
        return f"{self.source}:{self.line}: {self.text}"

    @property
    def key(self) -> bytes:
        return V.form_key(self.source, self.line, self.text)

    @property
    def plan(self) -> V.Plan:
        if self._plan is None:
            self._plan = V.plan(self.op, self.ins.args)
        return self._plan

    @property
    def vl(self) -> bool:
        """An EVEX form of vector length 128/256 (AVX-512VL)."""
        if self.encoding != "evex":
            return False
        widths = [V.vector_reg(a.name)[1] for a in self.ins.args
                  if isinstance(a, ir.Reg) and V.vector_reg(a.name)]
        return bool(widths) and max(widths) < 64

    def states(self, n: int = STATES) -> list:
        return V.FormStates(self.key, self.plan).states(n)


def _sources(goroot: Path) -> list:
    td = goroot / TESTDATA
    out = [(name, td / name) for name in VEX_FILES]
    for name in sorted(list(EVEX_FILES) + list(XEON_PHI_FILES)):
        out.append((name, td / "avx512enc" / name))
    return out


class SimdSuite:
    """All VEX/EVEX forms (see the module docstring), one linked image per source
    file; :meth:`machine` gives the goasm machine that runs a form."""

    def __init__(self, goroot=None) -> None:
        from goasm.conformance import assemble_lines, find_goroot
        from goasm.link import LinkUnit, link
        from goasm.parse import parse_file

        self.goroot = find_goroot(goroot)
        self.forms: list[SimdForm] = []
        self.images = []
        self._machines: dict[int, object] = {}
        include = [self.goroot / "pkg" / "include"]
        evex_family: dict[str, str] = {}
        for source, path in _sources(self.goroot):
            lines = path.read_text(encoding="utf-8").splitlines()
            hexes = {}
            for n, line in enumerate(lines, 1):
                m = _LINE.match(line)
                if m:
                    hexes[n] = m.group("text").strip()
            go_bytes = assemble_lines(self.goroot, path)
            image = link([LinkUnit(parse_file(path, include_dirs=include), "main")],
                         strict=False)
            unit = len(self.images)
            self.images.append(image)
            by_line = {}
            for ins in image.code.values():
                if ins.pos is not None:
                    by_line.setdefault(ins.pos.line, ins)
            for n, text in hexes.items():
                ins, code = by_line.get(n), go_bytes.get(n)
                if ins is None or not code:
                    continue
                enc = encoding(code)
                op = ins.op
                if enc is None or not op.startswith(("V", "K")):
                    continue
                if source in EVEX_FILES:
                    family = EVEX_FILES[source]
                    evex_family.setdefault(op, family)
                elif source in XEON_PHI_FILES:
                    family = XEON_PHI_FILES[source]
                    evex_family.setdefault(op, family)
                else:
                    family = "" if enc == "evex" else vex_family(op, ins.args)
                self.forms.append(SimdForm(source, n, text, code, ins, op, enc, family, unit))
        for f in self.forms:
            if not f.family:        # EVEX lines of amd64enc_extra.s: by mnemonic
                f.family = evex_family.get(f.op, "AVX512F")
        self._classified = False

    def machine(self, unit: int, vendor: str | None = None):
        """The goasm machine for image ``unit`` (the data window mapped), with the CPU
        model of ``vendor`` (``GenuineIntel``/``AuthenticAMD``: the ``intel``/``amd``
        presets; None: the default model). Where vendors' processors differ (alignment
        checks under an empty mask, gather masks after a fault, ...) goasm follows its CPU
        model's vendor, so a recording is replayed with the vendor that made it."""
        key = (unit, vendor)
        m = self._machines.get(key)
        if m is None:
            from goasm.machine.machine import Machine
            from goasm.machine.state import CPUModel

            preset = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(vendor or "")
            model = CPUModel.preset(preset) if preset else None
            m = Machine(self.images[unit], cpu_model=model)
            m.mem.map(V.DATA, V.DATA_SIZE, name="conformance")
            self._machines[key] = m
        return m

    def classified(self) -> list:
        """The forms with ``status`` and ``reason`` set."""
        if not self._classified:
            phi = set(XEON_PHI_FILES.values())
            for f in self.forms:
                reason = None
                if f.family in phi:
                    reason = f"{f.family} is a Xeon Phi family: no current CPU executes it"
                for a in f.ins.args:
                    if isinstance(a, (ir.PCRel, ir.LabelRef)) or (
                            isinstance(a, ir.Mem) and a.kind in (ir.NameKind.EXTERN,
                                                                 ir.NameKind.STATIC)):
                        reason = "pc-relative or symbol operand"
                if reason is not None:
                    f.status, f.reason = "excluded", reason
                    continue
                fn = self.machine(f.unit).compiled(f.addr)
                unimpl = getattr(fn, "goasm_unimplemented", None)
                if unimpl is not None:
                    f.status, f.reason = "unimplemented", unimpl
                else:
                    f.status, f.reason = "checked", ""
            self._classified = True
        return self.forms

    def select(self, *, ops=None, families=None, sources=None, status=None,
               encodings=None) -> list:
        """Forms filtered by mnemonic, family, source file, status, encoding."""
        out = []
        for f in self.classified():
            if ops is not None and f.op not in ops:
                continue
            if families is not None and f.family not in families:
                continue
            if sources is not None and f.source not in sources:
                continue
            if status is not None and f.status not in (
                    (status,) if isinstance(status, str) else status):
                continue
            if encodings is not None and f.encoding not in encodings:
                continue
            out.append(f)
        return out


# ---------------------------------------------------------------------------- goasm

class GoasmEngine:
    """Runs forms in goasm from :class:`goasm.vecstate.VState` states, on machines whose
    CPU model has the processor vendor ``vendor`` (see :meth:`SimdSuite.machine`)."""

    def __init__(self, suite: SimdSuite, vendor: str | None = None) -> None:
        self.suite = suite
        self.vendor = vendor

    def run(self, form: SimdForm, s: V.VState) -> V.VOutcome:
        from goasm.errors import MachineFault

        m = self.suite.machine(form.unit, self.vendor)
        cpu = m.cpu
        cpu.regs[:] = s.regs
        wide = hasattr(cpu, "vhi")
        if wide:
            cpu.xmm[:] = [v & V.M128 for v in s.vec]
            cpu.vhi[:] = [v >> 128 for v in s.vec]
            cpu.kreg[:] = s.k
            cpu.mxcsr = s.mxcsr
        else:                                   # a register file without Y/Z/K yet
            cpu.xmm[:] = [v & V.M128 for v in s.vec[:len(cpu.xmm)]]
        cpu.set_rflags(s.flags)
        m.mem.write(V.DATA, bytes(s.data))
        cpu.pc = form.addr
        fault = None
        try:
            m.step()
        except MachineFault as exc:
            addr = exc.addr
            if exc.signal in ("SIGILL", "SIGFPE", "SIGTRAP") and addr in (None, form.addr):
                addr = V.AT_PC
            fault = V.Fault(exc.signal, exc.code or "?", addr)
        if wide:
            vec = [cpu.xmm[i] | cpu.vhi[i] << 128 for i in range(32)]
            k = list(cpu.kreg)
            mxcsr = cpu.mxcsr
        else:
            vec = [s.vec[i] & ~V.M128 | cpu.xmm[i] if i < len(cpu.xmm) else s.vec[i]
                   for i in range(32)]
            k = list(s.k)
            mxcsr = s.mxcsr
        state = V.VState(list(cpu.regs), vec, k,
                         cpu.get_rflags() & V.FLAG_MASK | s.flags & ~V.FLAG_MASK, mxcsr,
                         bytearray(m.mem.read(V.DATA, V.DATA_SIZE)))
        return V.VOutcome(state, fault)


# ---------------------------------------------------------------------------- records

@dataclass
class Record:
    """The recorded answers for one form."""

    source: str
    line: int
    text: str
    code: bytes
    status: str               # "ok" | "unsupported" (the recording host raised #UD)
    digest: bytes = b""       # over all states
    states: bytes = b""       # 2 bytes per state
    delta0: bytes = b""       # the whole delta of state 0
    faults: tuple = ()        # per state: the fault as text ("" for none)


@dataclass
class Recording:
    """One data file: header (host, Go release, generator, state count) and records."""

    header: dict
    records: dict = field(default_factory=dict)     # (line, text) -> Record

    def get(self, form: SimdForm):
        return self.records.get((form.line, form.text))


def data_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "tests" / "data" / "cpu_oracle"


def data_path(source: str, directory: Path | None = None) -> Path:
    return (directory or data_dir()) / (source[:-2] + ".bin.xz")


def write_recording(path: Path, header: dict, records: list) -> None:
    """Write a data file: magic, JSON header, then per form: line, text, code, status,
    digests, the state-0 delta and each state's fault (lengths as unsigned shorts or
    bytes), xz-compressed."""
    out = bytearray(b"GOASMCPU")
    head = json.dumps(header, sort_keys=True).encode()
    out += struct.pack("<I", len(head)) + head
    out += struct.pack("<I", len(records))
    for r in records:
        text = r.text.encode()
        status = 1 if r.status == "ok" else 0
        out += struct.pack("<IHB", r.line, len(text), len(r.code)) + text + r.code
        out += struct.pack("<B", status)
        if status:
            out += r.digest + struct.pack("<H", len(r.states)) + r.states
            out += struct.pack("<H", len(r.delta0)) + r.delta0
            for f in r.faults:
                raw = f.encode()
                out += struct.pack("<B", len(raw)) + raw
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(bytes(out), preset=9 | lzma.PRESET_EXTREME))


def read_recording(path: Path) -> Recording:
    raw = lzma.decompress(path.read_bytes())
    if raw[:8] != b"GOASMCPU":
        raise ValueError(f"{path}: not a recording")
    n, = struct.unpack_from("<I", raw, 8)
    header = json.loads(raw[12:12 + n])
    pos = 12 + n
    count, = struct.unpack_from("<I", raw, pos)
    pos += 4
    rec = Recording(header)
    source = header["source"]
    for _ in range(count):
        line, tlen, clen = struct.unpack_from("<IHB", raw, pos)
        pos += 7
        text = raw[pos:pos + tlen].decode()
        pos += tlen
        code = raw[pos:pos + clen]
        pos += clen
        status = raw[pos]
        pos += 1
        r = Record(source, line, text, bytes(code), "ok" if status else "unsupported")
        if status:
            r.digest = bytes(raw[pos:pos + 8])
            slen, = struct.unpack_from("<H", raw, pos + 8)
            r.states = bytes(raw[pos + 10:pos + 10 + slen])
            pos += 10 + slen
            dlen, = struct.unpack_from("<H", raw, pos)
            r.delta0 = bytes(raw[pos + 2:pos + 2 + dlen])
            pos += 2 + dlen
            faults = []
            for _ in range(slen // 2 if header.get("format", 1) >= 2 else 0):
                n = raw[pos]
                faults.append(raw[pos + 1:pos + 1 + n].decode())
                pos += 1 + n
            r.faults = tuple(faults)
        rec.records[(line, text)] = r
    return rec


def load_recordings(directory: Path | None = None) -> dict:
    """``{source: Recording}`` for every data file present."""
    out = {}
    d = directory or data_dir()
    for path in sorted(d.glob("*.bin.xz")):
        r = read_recording(path)
        out[r.header["source"]] = r
    return out


def digests(deltas: list) -> tuple:
    """(form digest, per-state 2-byte digests) of a form's deltas."""
    per = [V.digest(d) for d in deltas]
    import hashlib

    form = hashlib.blake2b(b"".join(per), digest_size=8).digest()
    return form, b"".join(p[:2] for p in per)


def record_form(host, form: SimdForm, n: int = STATES) -> Record:
    """Run a form on the host (all ``n`` states) and make its :class:`Record`; a form
    the host does not execute (#UD in every state) is ``unsupported``."""
    states = form.states(n)
    outs = host.run(form.code, states)
    if all(o.fault is not None and o.fault.signal == "SIGILL" for o in outs):
        return Record(form.source, form.line, form.text, form.code, "unsupported")
    deltas = [V.delta(s, o, host.view) for s, o in zip(states, outs)]
    d, per = digests(deltas)
    return Record(form.source, form.line, form.text, form.code, "ok", d, per, deltas[0],
                  tuple("" if o.fault is None else str(o.fault) for o in outs))


# ---------------------------------------------------------------------------- checking

@dataclass
class Result:
    """How one form fared: ``states`` compared, ``mismatches`` (state indices) and
    readable ``details``; ``skipped`` says why a form was not compared."""

    form: SimdForm
    states: int = 0
    faults: int = 0
    mismatches: list = field(default_factory=list)
    details: list = field(default_factory=list)
    skipped: str = ""


def describe_state(form: SimdForm, s: V.VState, lane: int = 4) -> str:
    """The input values a form reads: its registers, masks, MXCSR, RFLAGS, and the
    memory at its operand."""
    p = form.plan
    parts = []
    for r in sorted(set(p.gprs)):
        parts.append(f"{V.GPR64[r]}={s.regs[r]:#x}")
    for n, w in p.vecs:
        parts.append(f"V{n}={V._fmt_vec(s.vec[n] & ((1 << (8 * 64)) - 1), 64, lane)}")
    for k in sorted(set(p.kregs)):
        parts.append(f"K{k}={s.k[k]:#x}")
    parts.append(f"MXCSR={s.mxcsr:#x} RFLAGS={s.flags & V.FLAG_MASK:#x}")
    if p.mem is not None:
        ea = _effective_address(p.mem, s)
        if ea is not None:
            off = ea - V.DATA
            raw = bytes(s.data[max(off, 0):max(off, 0) + 64]) if 0 <= off < V.DATA_SIZE \
                else b""
            parts.append(f"mem[{ea:#x}]={raw.hex() or '(outside the window)'}")
    return "\n      ".join(parts)


def _effective_address(mem, s: V.VState):
    base = V.GPR_INDEX.get(mem.base) if mem.base else None
    index = V.GPR_INDEX.get(mem.index) if mem.index else None
    ea = mem.offset
    if base is not None:
        ea += s.regs[base]
    if index is not None:
        ea += s.regs[index] * (mem.scale or 1)
    return ea & V.M64


def lane_size(form: SimdForm) -> int:
    k = form.plan.kinds[0]
    return {"f32": 4, "f64": 8, "f16": 2, "i1": 1, "i2": 2, "i4": 4, "i8": 8}[k]


def check_recorded(suite: SimdSuite, forms: list, recordings: dict, host=None,
                   n: int = STATES, max_details: int = 3) -> list:
    """Replay the recorded answers for ``forms`` (checked ones) against goasm, whose
    CPU model has the recording processor's vendor. A form that mismatches is re-run on
    ``host`` (if given, able and of that vendor) to show the lanes of every state."""
    engines: dict = {}
    out = []
    for form in forms:
        res = Result(form)
        out.append(res)
        rec = recordings.get(form.source)
        r = rec.get(form) if rec is not None else None
        if rec is not None:
            vendor = rec.header["cpu"]["vendor"]
            engine = engines.get(vendor)
            if engine is None:
                engine = engines[vendor] = GoasmEngine(suite, vendor)
        if r is None:
            res.skipped = "not recorded"
            continue
        if r.status != "ok":
            res.skipped = "the recording CPU does not execute it"
            continue
        if r.code != form.code:
            res.skipped = f"recorded bytes {r.code.hex()} differ from go tool asm's " \
                          f"{form.code.hex()} (re-record)"
            continue
        states = form.states(n)
        deltas = []
        for s in states:
            o = engine.run(form, s)
            if o.fault is not None:
                res.faults += 1
            deltas.append(V.delta(s, o))
        res.states = len(states)
        d, per = digests(deltas)
        if d == r.digest:
            continue
        bad = [i for i in range(len(states)) if per[2 * i:2 * i + 2] != r.states[2 * i:2 * i + 2]]
        res.mismatches = bad or ["?"]
        lane = lane_size(form)
        for i in bad[:max_details]:
            s = states[i]
            got_fault = V.parse_delta(deltas[i]).get("fault")
            text = f"state {i} (input:\n      {describe_state(form, s, lane)})"
            if r.faults:
                text += f"\n    recorded CPU: {r.faults[i] or 'no fault'}; goasm: " \
                        f"{_fault_text(got_fault) or 'no fault'}"
            want = None
            if i == 0:
                want = r.delta0
            elif host is not None and host.available and host.start() and \
                    host.view.name == "avx512" and host.info.vendor == vendor:
                want = V.delta(s, host.run(form.code, [s])[0], host.view)
            if want is not None:
                diff = V.compare_deltas(want, deltas[i], s, lane=lane)
                text += "\n    " + "\n    ".join(diff)
            else:
                text += "\n    (goasm's outcome: " + ", ".join(
                    str(k) for k in V.parse_delta(deltas[i])) + " changed; the recorded " \
                    "digest differs -- run it live on a host with the family for lanes)"
            res.details.append(text)
        if not bad:
            res.details.append("form digest differs but no state digest does")
    return out


def _fault_text(raw: str | None) -> str:
    """A delta's fault entry (``SIGNAL/CODE/ADDR``) as :class:`goasm.vecstate.Fault`
    prints it."""
    if not raw:
        return ""
    sig, code, addr = raw.split("/")
    return str(V.Fault(sig, code, int(addr) if addr else None))


def host_runs(host, form: SimdForm) -> bool:
    """Whether the host executes the form (a #UD in state 0 says no)."""
    s = form.states(1)
    o = host.run(form.code, s)[0]
    return not (o.fault is not None and o.fault.signal == "SIGILL" and o.fault.addr == V.AT_PC
                and _goasm_accepts(form))


def _goasm_accepts(form) -> bool:
    return form.status == "checked"


def check_live(suite: SimdSuite, forms: list, host, *, states=None, engine=None,
               recorded_vendor: str | None = None, max_details: int = 3) -> list:
    """Run ``forms`` (checked ones) on the host and in goasm (with the host's vendor)
    and compare whole outcomes in the host's view. ``states``: which state indices
    (default all :data:`STATES`). Forms the host cannot execute are skipped."""
    engine = engine or GoasmEngine(suite, host.info.vendor if host.start() else None)
    idx = list(range(STATES)) if states is None else list(states)
    out = []
    view = host.view
    for form in forms:
        res = Result(form)
        out.append(res)
        if form.op in HOST_SPECIFIC and recorded_vendor is not None and \
                host.info.vendor != recorded_vendor:
            res.skipped = f"implementation-specific result; recorded on {recorded_vendor}"
            continue
        gen = V.FormStates(form.key, form.plan)
        sts = [gen.state(i) for i in idx]
        cpu = host.run(form.code, sts)
        if all(o.fault is not None and o.fault.signal == "SIGILL" and o.fault.addr == V.AT_PC
               for o in cpu):
            res.skipped = "the host does not execute it"
            continue
        lane = lane_size(form)
        for i, s, c in zip(idx, sts, cpu):
            g = engine.run(form, s)
            res.states += 1
            if c.fault is not None:
                res.faults += 1
            want, got = V.delta(s, c, view), V.delta(s, g, view)
            if want != got:
                res.mismatches.append(i)
                if len(res.details) < max_details:
                    diff = V.compare_deltas(want, got, s, view=view, lane=lane)
                    res.details.append(f"state {i} (input:\n      "
                                       f"{describe_state(form, s, lane)})\n    "
                                       + "\n    ".join(diff))
    return out


def format_results(results: list, limit: int = 20) -> str:
    """Mismatching forms with their details (for test failures and the tool)."""
    lines = []
    bad = [r for r in results if r.mismatches]
    for r in bad[:limit]:
        lines.append(f"MISMATCH {r.form.name}  [{r.form.family}]  states "
                     f"{r.mismatches[:12]}{' ...' if len(r.mismatches) > 12 else ''} "
                     f"of {r.states}")
        for d in r.details:
            lines.append("  " + d)
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more mismatching forms")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- tables

def family_table(suite: SimdSuite, results=(), forms=None) -> dict:
    """Per family: forms, VL forms, checked, unimplemented, excluded (of ``forms``,
    default the whole suite), and from ``results``: forms compared, states,
    mismatches."""
    table: dict = {}
    for f in (suite.classified() if forms is None else forms):
        t = table.setdefault(f.family, Counter())
        t["forms"] += 1
        t[f.status] += 1
        if f.vl:
            t["vl"] += 1
    for r in results:
        t = table.setdefault(r.form.family, Counter())
        if r.states:
            t["compared"] += 1
        t["states"] += r.states
        t["mismatching"] += bool(r.mismatches)
    return table


def format_family_table(table: dict, markdown: bool = False) -> str:
    cols = ("forms", "vl", "checked", "compared", "states", "mismatching", "unimplemented",
            "excluded")
    fams = [f for f in FAMILY_ORDER if f in table] + sorted(set(table) - set(FAMILY_ORDER))
    total = Counter()
    rows = []
    for fam in fams:
        t = table[fam]
        total.update(t)
        rows.append([fam] + [t[c] for c in cols])
    rows.append(["total"] + [total[c] for c in cols])
    if markdown:
        names = {"forms": "forms", "vl": "of which VL", "checked": "implemented",
                 "states": "states checked", "mismatching": "mismatching",
                 "unimplemented": "not implemented", "excluded": "out of scope"}
        keep = [i for i, c in enumerate(cols) if c in names]
        head = "| family | " + " | ".join(names[cols[i]] for i in keep) + " |"
        sep = "|---|" + "---:|" * len(keep)
        return "\n".join([head, sep] + ["| " + " | ".join([str(r[0])] + [
            str(r[1 + i]) for i in keep]) + " |" for r in rows])
    out = [f"{'family':18}" + "".join(f"{c:>14}" for c in cols)]
    out += [f"{r[0]:18}" + "".join(f"{x:>14}" for x in r[1:]) for r in rows]
    return "\n".join(out)


def shard(forms: list, n: int, i: int) -> list:
    """The ``i``-th of ``n`` interleaved shards (spreads families evenly)."""
    return forms[i::n]


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def states_fingerprint(forms: list, step: int = 97, n: int = 3) -> str:
    """A digest of the first ``n`` generated states of every ``step``-th form: what a
    recording depends on (the replay regenerates the states from the seeds)."""
    import hashlib

    from goasm.native import pack_state

    h = hashlib.blake2b(digest_size=16)
    for f in forms[::step]:
        for s in f.states(n):
            h.update(pack_state(s))
            h.update(s.data)
    return h.hexdigest()


def family_table_results(results: list) -> dict:
    """Per family (JSON-ready): forms ``compared``, ``states``, ``mismatching`` forms,
    faulting states."""
    table: dict = {}
    for r in results:
        t = table.setdefault(r.form.family, {"compared": 0, "states": 0, "mismatching": 0,
                                             "faults": 0})
        t["compared"] += bool(r.states)
        t["states"] += r.states
        t["mismatching"] += bool(r.mismatches)
        t["faults"] += r.faults
    return table


def family_table_status(suite: SimdSuite) -> dict:
    """Per family (JSON-ready): ``forms``, ``vl``, ``checked``, ``unimplemented``,
    ``excluded``."""
    table: dict = {}
    for f in suite.classified():
        t = table.setdefault(f.family, {"forms": 0, "vl": 0, "checked": 0,
                                        "unimplemented": 0, "excluded": 0})
        t["forms"] += 1
        t["vl"] += f.vl
        t[f.status] += 1
    return table


# ---------------------------------------------------------------------------- features

FAMILY_FEATURE = {
    "AVX": "avx", "AES": "avx", "PCLMULQDQ": "avx", "AVX2": "avx2", "FMA": "fma",
    "F16C": "f16c", "AVX512F": "avx512f", "AVX512CD": "avx512cd", "AVX512BW": "avx512bw",
    "AVX512DQ": "avx512dq", "AVX512IFMA": "avx512ifma", "AVX512VBMI": "avx512vbmi",
    "AVX512VBMI2": "avx512vbmi2", "AVX512VNNI": "avx512vnni",
    "AVX512BITALG": "avx512bitalg", "AVX512VPOPCNTDQ": "avx512vpopcntdq", "GFNI": "gfni",
    "VAES": "vaes", "VPCLMULQDQ": "vpclmulqdq",
}
"""The CPUID feature (goasm.machine.state.FEATURES name) each family's forms need; the
VEX forms of AES and PCLMULQDQ count as AVX (CPUID.AES/PCLMULQDQ and AVX both set)."""

FEATURES_FILE = "amd64_simd_features.txt"


def feature_mnemonics(suite: SimdSuite) -> dict:
    """``{feature: sorted mnemonics}`` of the VEX/EVEX forms in scope; ``avx512vl``
    gets the mnemonics that have 128/256-bit EVEX forms."""
    out: dict = {}
    for f in suite.forms:
        feat = FAMILY_FEATURE.get(f.family)
        if feat is None:
            continue
        out.setdefault(feat, set()).add(f.op)
        if f.vl:
            out.setdefault("avx512vl", set()).add(f.op)
    return {k: sorted(v) for k, v in sorted(out.items())}


def features_text(suite: SimdSuite) -> str:
    """The contents of ``goasm/arch/amd64_simd_features.txt``."""
    version = (suite.goroot / "VERSION").read_text().splitlines()[0].strip()
    lines = [f"# Generated by tools/gen_simd_features.py from cmd/asm's testdata ({version}):",
             "# amd64enc.s, amd64enc_extra.s and avx512enc/*.s. One 'feature mnemonic' per",
             "# line: the VEX/EVEX mnemonics goasm must execute before CPUID may report the",
             "# feature (goasm.machine.state.FEATURES). Do not edit; regenerate."]
    for feat, ops in feature_mnemonics(suite).items():
        lines += [f"{feat} {op}" for op in ops]
    return "\n".join(lines) + "\n"


KNOWN_FILE = "known_mismatches.txt"


def known_mismatches(directory: Path | None = None) -> dict:
    """``{mnemonic: reason}`` from ``tests/data/cpu_oracle/known_mismatches.txt``:
    mnemonics whose disagreement with the recorded CPU is known and reported (to the
    engineer who owns them) rather than failing every test run. The test fails as soon
    as a listed mnemonic agrees again, so the list only shrinks."""
    path = (directory or data_dir()) / KNOWN_FILE
    out = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                op, _, reason = line.partition(" ")
                out[op] = reason.strip()
    return out


def outside_window(form: SimdForm, s: V.VState) -> bool:
    """Whether the form's memory operand (its first 64 bytes from the effective
    address) or one of its VSIB elements lies partly outside the data window, that is
    on an unmapped page."""
    p = form.plan
    if p.mem is not None:
        ea = _effective_address(p.mem, s)
        width = max([w for _, w in p.vecs] or [16])
        return ea < V.DATA or ea + width > V.DATA_END
    if p.vsib is not None and p.gather is not None:
        isize, dsize, n = p.gather
        m = p.vsib
        base = s.regs[V.GPR_INDEX[m.base]] if m.base else 0
        idx = s.vec[V.vector_reg(m.index)[0]]
        top = 1 << (8 * isize - 1)
        for j in range(n):
            i = (idx >> (8 * isize * j)) & ((1 << (8 * isize)) - 1)
            i = i - (top << 1) if i & top else i
            a = (base + m.offset + i * (m.scale or 1)) & V.M64
            if a < V.DATA or a + dsize > V.DATA_END:
                return True
    return False

"""The runtime checker: frame and calling-convention mistakes, observed as they happen.

``go vet``'s asmdecl pass reads assembly and guesses (a RET without a write to
``ret+8(FP)`` somewhere above it, an offset that does not match the Go declaration). The
checker watches the program run instead -- ``pc`` hooks at every function entry and
RET, and an access probe on every goroutine stack (and the process stack): filters
generated into translated code (:mod:`goasm.machine.translate`, "Access probes"), memory
watches under the other loops -- and reports, with the
file:line of the instruction:

- ``frame-write``: a write to the stack outside the running function's frame and
  argument area: below the hardware SP (Go asm guide: the frame is ``[SP, SP+framesize)``;
  anything below may be overwritten at any moment, e.g. by an asynchronous preemption
  call), over its own return address, or, addressed from SP/FP, above its arguments
  (``[0(FP), args_size(FP))``, the size from the Go declaration or the TEXT ``$f-args``);
  PUSH and CALL write their own slot just below SP;
- ``result-read``: a read of a result slot (``ret+16(FP)``) before anything wrote it;
- ``sp``: a RET with SP not back at its value at entry (the return address);
- ``bp``: a RET with BP not the value it had at entry (the frame-pointer chain Go's
  tracebacks and profilers walk, see vet's framepointer pass);
- ``callee-saved``: an ABIInternal function returning with R14 no longer g, X15 not zero
  (cmd/compile's abi-internal.md, "amd64 architecture": fixed registers), or, when
  dynamically linked, R15 changed;
- ``result-unwritten``: a RET although a result (or part of one) was never written, in
  vet's words: "RET without writing to 8-byte ret+16(FP)";
- ``argsize``: the TEXT's argument size disagrees with the Go declaration (vet's
  "wrong argument size 16; expected $...-24"), reported when the function runs.

Frames are tracked per stack (a shadow call stack): a function's entry (by CALL, by a
native's call, or by a jump with a new SP) pushes a frame with the entry SP and BP;
its RET checks and pops it; a jump to another function with the same SP is a tail call
and keeps the frame; frames below the SP are dead (``morestack`` never returns). When the
runtime grows a stack (``copystack``) the frames move with it. Natives (Go runtime
functions modelled in Python) are trusted. Every finding is reported once per call site.
"""

from __future__ import annotations

import attrs

from goasm import ir
from goasm.errors import GoasmError, Pos

PROCESS_STACK_WATCHED = 128 * 1024
PUSH_OPS = {"PUSHQ": 8, "PUSHFQ": 8, "CALL": 8, "PUSHW": 2, "PUSHFW": 2, "PUSHL": 4}
KINDS = ("frame-write", "result-read", "sp", "bp", "callee-saved", "result-unwritten",
         "argsize")


@attrs.frozen
class Finding:
    """One mistake: ``kind`` (see the module docstring), ``message``, the instruction's
    ``pos`` and ``pc``, the ``function`` it happened in."""

    kind: str
    message: str
    pos: Pos | None
    pc: int
    function: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos is not None else self.message


class CheckError(GoasmError):
    """A call the checker found mistakes in: ``findings`` and the call's ``result``
    (:class:`goasm.calls.CallResult`)."""

    def __init__(self, findings, result=None, *, after: BaseException | None = None) -> None:
        self.findings = tuple(findings)
        self.result = result
        self.after = after
        lines = "\n".join(f"  {f}" for f in self.findings)
        then = f"\nthen: {after}" if after is not None else ""
        super().__init__(f"the checker found {len(self.findings)} problem(s):\n{lines}{then}")


class _Frame:
    """One live call: ``fn`` is the function running in it now (a tail call replaces
    it), ``abi`` the ABI of the function that was called (its caller's contract: a RET
    reached through a tail jump into a helper of the other ABI is judged by it)."""

    __slots__ = ("fn", "abi", "sig", "entry_sp", "entry_bp", "r14", "r15", "x15", "written",
                 "args_size", "res_lo", "res_hi", "reported")

    def __init__(self, fn, sig, entry_sp, regs, xmm) -> None:
        self.fn = fn
        self.abi = fn.symbol.abi
        self.sig = sig
        self.entry_sp = entry_sp
        self.entry_bp = regs[5]
        self.r14 = regs[14]
        self.r15 = regs[15]
        self.x15 = xmm[15]
        self.set_sig(sig)

    def set_sig(self, sig) -> None:
        self.sig = sig
        if sig is not None:
            self.args_size = sig.args_size
            self.res_lo = sig.results_offset if sig.results else sig.args_size
            self.res_hi = sig.args_size if sig.results else sig.args_size
        else:
            self.args_size = self.fn.args
            self.res_lo = self.res_hi = 0
        self.written = bytearray(max(self.res_hi - self.res_lo, 0))
        self.reported = set()


class _Stack:
    __slots__ = ("lo", "hi", "frames")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi, self.frames = lo, hi, []

    def __contains__(self, addr: int) -> bool:
        return self.lo <= addr <= self.hi


_FAR = 1 << 65
"""Beyond every address: a filter bound that lets nothing through."""


class Checker:
    """Checks a machine as it runs (see the module docstring).

    ``Checker(machine, *, signatures=None, dynlink=False, model=None)``: ``signatures``
    maps linked function names to :class:`goasm.gosig.Signature` (default: the Go
    declarations next to the image's ``.s`` files); ``model``: the runtime model whose
    events announce new and moved stacks (default: ``machine.model`` if any).
    :meth:`attach` installs the hooks, :meth:`detach` removes them; ``findings``.
    """

    def __init__(self, machine, *, signatures=None, dynlink: bool = False, model=None) -> None:
        self.m = machine
        self.image = machine.image
        if signatures is None:
            signatures = signatures_for(self.image)
        self.sigs = dict(signatures)
        self.dynlink = dynlink
        self.model = model if model is not None else getattr(machine, "model", None)
        self.findings: list[Finding] = []
        self._keys: set = set()
        self._entries = {f.symbol.addr: f for f in self.image.functions.values()}
        self._rets: dict = {}
        self._info: dict = {}
        for f in self.image.functions.values():
            for ins in f.instrs:
                if ins.op == "RET":
                    self._rets[ins.addr] = f
        self._stacks: list[_Stack] = []
        self._cur: _Stack | None = None
        self._other = _Stack(0, -1)
        self._nevents = 0
        self._hooks: list = []
        self._watches: list = []
        self._watched: set = set()
        self._argsize_done: set = set()
        self._natives: set = set()
        self._regions: list | None = None
        # The access probe's filter bounds (see probe_write); mutated in place only.
        self.cell = [0, _FAR, -1, _FAR, 0]
        self._observing = False

    # ------------------------------------------------------------------ wiring

    def reset(self) -> None:
        """Forget findings and frames (between calls)."""
        self.findings = []
        self._keys = set()
        for st in self._stacks:
            st.frames = []
        self._other.frames = []
        self._argsize_done = set()
        self._refresh()

    def attach(self) -> None:
        """Install the hooks (``pc`` hooks at every function entry and RET) and the
        access probe (:meth:`goasm.machine.machine.Machine.set_probe`)."""
        if self._hooks:
            return
        self._natives = set(self.m.natives)
        self._discover()
        at = sorted(set(self._entries) | set(self._rets))
        self._hooks.append(self.m.add_hook("pc", self._before, at=at))
        self.m.set_probe(self)
        self._refresh()

    def detach(self) -> None:
        """Remove the hooks, the probe and the watches."""
        for h in self._hooks:
            self.m.remove_hook(h)
        self._hooks = []
        if self.m.probe is self:
            self.m.set_probe(None)
        self.observe(False)

    # ------------------------------------------------------------------ probe

    def observe(self, on: bool) -> None:
        """Probe protocol: watch every known stack for reads and writes (True: the
        slow loop, single steps, the kernel, string instructions) or leave the
        reporting to translated code (False), whose filter (:attr:`cell`) lets through
        every access :meth:`_check` could report."""
        if on == self._observing:
            return
        self._observing = on
        if on:
            for st in self._stacks:
                self._watch(st.lo, st.hi)
        else:
            for w in self._watches:
                self.m.mem.unwatch(w)
            self._watches = []
            self._watched = set()

    def _watch(self, lo: int, hi: int) -> None:
        if (lo, hi) not in self._watched:
            self._watched.add((lo, hi))
            self._watches.append(self.m.mem.watch(lo, hi, self._access))

    def probe_write(self, pc: int, addr: int, size: int, sp: int) -> None:
        """Probe protocol: the instruction at ``pc`` (SP = ``sp``) is about to write
        ``size`` bytes at ``addr``. Translated code calls it only when
        ``slack < sp - addr <= cell[0]`` (below SP in a stack at most ``cell[0]`` bytes
        long; ``slack`` = :meth:`slack`) or ``addr + size > cell[1] and addr <=
        cell[2]`` (reaching the innermost frame's return address or above, up to the
        top of its stack)."""
        self._check("write", pc, addr, size, sp)

    def probe_read(self, pc: int, addr: int, size: int, sp: int) -> None:
        """Probe protocol: the instruction at ``pc`` reads ``size`` bytes at ``addr``.
        Translated code calls it only when ``addr + size > cell[3] and addr <
        cell[4]`` (overlapping a result area not yet fully written)."""
        self._check("read", pc, addr, size, sp)

    def slack(self, pc: int) -> int:
        """Probe protocol: bytes below SP the instruction at ``pc`` may write (its own
        push slot: PUSH, CALL)."""
        return PUSH_OPS.get(self._insinfo(pc)[1], 0)

    def _refresh(self) -> None:
        """Recompute :attr:`cell` from the stacks and their innermost frames: the
        longest stack, the lowest innermost entry SP and the highest address above it
        a finding can concern, the span of result areas still being written."""
        ks, e, h, rlo, rhi = 0, _FAR, -1, _FAR, 0
        for st in (*self._stacks, self._other):
            if st.hi > st.lo:
                ks = max(ks, st.hi - st.lo)
            frames = st.frames
            if not frames:
                continue
            for f in (frames[-1:] if st is not self._other else frames):
                fp = f.entry_sp + 8
                e = min(e, f.entry_sp)
                h = max(h, st.hi, fp + f.res_hi)
                if f.written:
                    rlo = min(rlo, fp + f.res_lo)
                    rhi = max(rhi, fp + f.res_hi)
        cell = self.cell
        cell[0], cell[1], cell[2], cell[3], cell[4] = ks, e, h, rlo, rhi

    def begin_call(self, fn, sig, entry_sp: int, entry_bp: int) -> None:
        """A call is about to start at ``fn`` with SP = ``entry_sp`` (goasm.calls)."""
        self.reset()
        self._discover()
        st = self._stack_for(entry_sp)
        regs = list(self.m.cpu.regs)
        regs[5] = entry_bp
        regs[4] = entry_sp
        st.frames.append(_Frame(fn, sig if sig is not None else self.sigs.get(fn.name),
                                entry_sp, regs, self.m.cpu.xmm))
        self._refresh()

    def _discover(self) -> None:
        """Learn the stacks: the process stack, every goroutine's (runtime events), any
        mapped region named like a stack."""
        if self._regions is None:       # the mappings as first seen (regions() is slow)
            self._regions = []
            for start, end, _w, name in self.m.mem.regions():
                if name == "[goroutine stack]":
                    self._regions.append((start, end))
                elif name == "[stack]":
                    # The process stack: g0's 64 KiB and rt0_go's frame sit at its top
                    # (the rest of the 8 MiB mapping is never used by Go code).
                    self._regions.append((max(start, end - PROCESS_STACK_WATCHED), end))
        for start, end in self._regions:
            self._add_stack(start, end)
        self._sync_events()

    def _add_stack(self, lo: int, hi: int) -> _Stack:
        for st in self._stacks:
            if st.lo == lo and st.hi == hi:
                break
            if st.lo <= lo and hi <= st.hi:
                return st
        else:
            st = _Stack(lo, hi)
            self._stacks.append(st)
        if self._observing:
            self._watch(lo, hi)
        return st

    def _sync_events(self) -> None:
        model = self.model
        if model is None:
            return
        events = model.events
        if self._nevents > len(events):
            self._nevents = 0
        for ev in events[self._nevents:]:
            kind = getattr(ev, "kind", "")
            if kind == "goroutine_created":
                self._add_stack(ev.stack_lo, ev.stack_hi)
            elif kind == "stack_growth":
                self._moved(ev.old_lo, ev.old_hi, ev.new_lo, ev.new_hi)
        self._nevents = len(events)

    def _moved(self, old_lo, old_hi, new_lo, new_hi) -> None:
        delta = new_hi - old_hi
        new = self._add_stack(new_lo, new_hi)
        for st in self._stacks:
            if st.lo == old_lo and st.hi == old_hi and st is not new:
                for f in st.frames:
                    f.entry_sp += delta
                    if old_lo <= f.entry_bp <= old_hi:
                        f.entry_bp += delta
                new.frames = st.frames + new.frames
                st.frames = []
                if self._cur is st:
                    self._cur = new
        self._refresh()

    def _stack_for(self, sp: int) -> _Stack:
        cur = self._cur
        if cur is not None and cur.lo <= sp <= cur.hi:
            return cur
        for st in self._stacks:
            if st.lo <= sp <= st.hi:
                self._cur = st
                return st
        self._cur = self._other
        return self._other

    # ------------------------------------------------------------------ reporting

    def _report(self, kind: str, pc: int, fn, message: str, key=None, pos=None) -> None:
        k = (kind, pc, key)
        if k in self._keys:
            return
        self._keys.add(k)
        name = fn.name if fn is not None else self.image.describe(pc)
        pos = pos if pos is not None else self.m.pos_of(pc)
        self.findings.append(Finding(kind, message, pos, pc, name))

    def _insinfo(self, pc: int):
        info = self._info.get(pc)
        if info is None:
            ins = self.image.code.get(pc)
            if ins is None:
                info = (None, "", False)
            else:
                fn = self.image.functions.get(ins.func)
                sp_rel = any(isinstance(a, ir.Mem) and a.base == "SP" for a in ins.args)
                info = (fn, ins.op, sp_rel)
            self._info[pc] = info
        return info

    # ------------------------------------------------------------------ instructions

    def _before(self, m) -> None:
        """The ``pc`` hook at function entries and RETs."""
        if self.model is not None and len(self.model.events) != self._nevents:
            self._sync_events()
        pc = m.cpu.pc
        fn = self._entries.get(pc)
        if fn is not None:
            self._entry(fn, pc)
        if pc in self._rets:        # also a function whose first instruction is RET
            self._ret(pc)
        self._refresh()

    def _entry(self, fn, pc: int) -> None:
        m = self.m
        regs = m.cpu.regs
        sp = regs[4]
        st = self._stack_for(sp)
        frames = st.frames
        while frames and frames[-1].entry_sp < sp:      # returned or abandoned
            frames.pop()
        sig = self.sigs.get(fn.name)
        if sig is not None and fn.args is not None and fn.args != sig.args_size \
                and fn.name not in self._argsize_done:
            self._argsize_done.add(fn.name)
            self._report("argsize", pc, fn, f"{fn.name}: wrong argument size {fn.args}; "
                         f"expected $...-{sig.args_size}", pos=fn.text.pos)
        if frames and frames[-1].entry_sp == sp:
            top = frames[-1]
            if top.fn is fn:
                return                                  # restart (morestack) or loop
            top.fn = fn                                 # a tail call keeps the frame
            if sig is not None and (top.sig is None or top.sig.args_size != sig.args_size):
                top.set_sig(sig)
        else:
            frames.append(_Frame(fn, sig, sp, regs, m.cpu.xmm))

    def _ret(self, pc: int) -> None:
        m = self.m
        fn = self._rets[pc]
        regs = m.cpu.regs
        sp = regs[4]
        st = self._stack_for(sp)
        frames = st.frames
        i = len(frames) - 1
        while i >= 0 and frames[i].fn is not fn:
            i -= 1
        if i < 0:
            return
        f = frames[i]
        del frames[i:]
        name = fn.name
        if sp != f.entry_sp:
            d = sp - f.entry_sp
            where = "above" if d > 0 else "below"
            self._report("sp", pc, fn, f"{name}: RET with SP {abs(d)} bytes {where} its "
                         f"value at entry (unbalanced stack)")
            return      # RET pops garbage: the other checks would only add noise
        if regs[5] != f.entry_bp:
            self._report("bp", pc, fn, f"{name}: RET with BP = {regs[5]:#x}, not the "
                         f"caller's {f.entry_bp:#x} (BP not restored)")
        if f.abi == "ABIInternal":
            if regs[14] != f.r14:
                self._report("callee-saved", pc, fn, f"{name}: ABIInternal function "
                             f"returns with R14 = {regs[14]:#x}, not g ({f.r14:#x})")
            if f.x15 == 0 and m.cpu.xmm[15] != 0:
                self._report("callee-saved", pc, fn, f"{name}: ABIInternal function "
                             "returns with X15 not zero", key="X15")
            if self.dynlink and regs[15] != f.r15:
                self._report("callee-saved", pc, fn, f"{name}: ABIInternal function "
                             f"returns with R15 = {regs[15]:#x}, not {f.r15:#x} (dynamic "
                             "linking: R15 holds the GOT pointer)", key="R15")
        if f.sig is not None and f.sig.results and f.abi != "ABIInternal":
            base = f.res_lo
            for slot in f.sig.result_slots():
                lo = slot.offset - base
                n = sum(1 for b in f.written[lo:lo + slot.size] if b)
                if n == 0:
                    self._report("result-unwritten", pc, fn, f"{name}: RET without writing "
                                 f"to {slot.size}-byte {slot}", key=slot.name)
                elif n < slot.size:
                    self._report("result-unwritten", pc, fn, f"{name}: RET having written "
                                 f"only {n} of the {slot.size} bytes of {slot}",
                                 key=slot.name)

    # ------------------------------------------------------------------ memory

    def _access(self, kind: str, addr: int, size: int, data) -> None:
        """The memory watches' callback (while observing)."""
        pc = self.m.last_pc
        if pc is not None:
            self._check(kind, pc, addr, size, self.m.cpu.regs[4])

    def _check(self, kind: str, pc: int, addr: int, size: int, sp: int) -> None:
        """An access of ``size`` bytes at ``addr`` by the instruction at ``pc`` with SP
        = ``sp``: the frame-write, result marking and result-read rules."""
        if pc in self._natives:
            return
        if self.model is not None and len(self.model.events) != self._nevents:
            self._sync_events()
        st = self._stack_for(sp)
        frames = st.frames
        while frames and frames[-1].entry_sp < sp:      # returned or abandoned
            frames.pop()
        f = frames[-1] if frames else None
        fn, op, sp_rel = self._insinfo(pc)
        if f is not None and f.fn is not fn:
            # Not the innermost known frame's code (e.g. attached mid-way): only the
            # below-SP rule applies.
            f = None
        end = addr + size
        if kind == "write":
            if addr < sp and st.lo <= addr <= st.hi:
                slack = PUSH_OPS.get(op, 0)
                if not (slack and sp - slack <= addr and end <= sp):
                    self._report("frame-write", pc, fn,
                                 f"{_name(fn, pc, self)}: {size}-byte write to "
                                 f"{addr - sp}(SP), below the stack pointer (outside "
                                 f"the frame)", key=addr - sp)
            if f is None:
                return
            fp = f.entry_sp + 8
            if addr < fp and end > f.entry_sp and op != "CALL":
                self._report("frame-write", pc, fn, f"{f.fn.name}: {size}-byte write over "
                             f"the return address at -8(FP)", key="retaddr")
            if sp_rel and f.args_size is not None and end > fp + f.args_size \
                    and addr < st.hi + 1:
                off = addr - fp
                self._report("frame-write", pc, fn, f"{f.fn.name}: {size}-byte write to "
                             f"{_fp_name(f, off)}, above the {f.args_size}-byte argument "
                             f"area (outside the frame)", key=off)
            if f.written and end > fp + f.res_lo and addr < fp + f.res_hi:
                lo = max(addr, fp + f.res_lo) - fp - f.res_lo
                hi = min(end, fp + f.res_hi) - fp - f.res_lo
                f.written[lo:hi] = b"\x01" * (hi - lo)
        else:
            if f is None or not f.written or f.fn is not fn:
                return
            fp = f.entry_sp + 8
            if end > fp + f.res_lo and addr < fp + f.res_hi:
                lo = max(addr, fp + f.res_lo) - fp - f.res_lo
                hi = min(end, fp + f.res_hi) - fp - f.res_lo
                if not all(f.written[lo:hi]):
                    slot = f.sig.slot_at(f.res_lo + lo + f.written[lo:hi].find(0))
                    what = str(slot) if slot is not None else f"{f.res_lo + lo}(FP)"
                    self._report("result-read", pc, fn, f"{f.fn.name}: read of {what} "
                                 "before any write", key=what)


def _name(fn, pc, checker) -> str:
    return fn.name if fn is not None else checker.image.describe(pc)


def _fp_name(f: _Frame, off: int) -> str:
    if f.sig is not None:
        slot = f.sig.slot_at(off)
        if slot is not None:
            return f"{slot.name}+{off}(FP)"
    return f"{off}(FP)"


def signatures_for(image) -> dict:
    """Linked function name -> Go declaration: from the packages of a
    :func:`goasm.load_package` image, else from the ``.go`` files beside the image's
    assembly files (:func:`goasm.gosig.packages_near`). Declarations that cannot be
    laid out are left out."""
    from pathlib import Path

    from goasm.gosig import SignatureError, packages_near
    from goasm.gosig import split_linked_name

    files = sorted({f.file for f in image.functions.values() if f.file})
    decls = None
    out = {}
    for name, fn in image.functions.items():
        path, short = split_linked_name(name)
        pkg = image.packages.get(path)
        scope = pkg.decls if pkg is not None else None
        if scope is None and fn.file:
            if decls is None:
                decls = packages_near(files)
            scope = decls.get(str(Path(fn.file).resolve().parent))
        if scope is None:
            continue
        try:
            sig = scope.signature(short)
        except SignatureError:
            continue
        if sig is not None:
            out[name] = sig
    return out


@attrs.frozen
class CheckedRun:
    """:func:`run`'s result: the :class:`goasm.api.RunResult` and the ``findings``."""

    result: object
    findings: tuple


def run(files, **kwargs) -> CheckedRun:
    """``goasm run`` with the checker on (:func:`goasm.api.run` with ``check=True``);
    ``kwargs`` as for it (``argv``, ``env``, ``cpu``, ``stdout``, ``stderr``...)."""
    from goasm import api

    options = {"dynlink": kwargs.pop("dynlink", False)}
    res = api.run(files, check=options, **kwargs)
    return CheckedRun(res, res.findings)

"""The host processor as an oracle: run one instruction form's machine code on the real
CPU from a whole :class:`goasm.vecstate.VState` and read the whole state back.

DESIGN.md, "Oracles": the real CPU is the final word. A child process (a Python
interpreter running :func:`_child_main`, linux/amd64 only) maps three windows at fixed
addresses -- the data window (:data:`goasm.vecstate.DATA`, with unmapped pages on both
sides), a code window and a state block -- and for every state:

1. a *prologue* loads RFLAGS (POPFQ), MXCSR (LDMXCSR), the opmask registers (KMOVQ),
   the vector registers (VMOVDQU64 zmm / VMOVDQU ymm / MOVDQU xmm) and the 16 general
   registers from the state block with absolute-address moves, and jumps to the form;
2. the form runs, followed by a jump to an *epilogue* that stores all of it back;
3. a fault does not kill the child: a SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP handler in
   machine code (on an alternate signal stack) records the signal, ``si_code``,
   ``si_addr`` and the faulting RIP, and resumes at the epilogue, so the outcome of a
   faulting state is the register state the fault left (a gather's partly cleared
   mask, SDM Vol. 2, VPGATHERDD "the instruction ... may be restarted") plus the fault.

The prologue and epilogue use only what the host supports (:class:`HostInfo`, from
CPUID and XGETBV run natively at start-up): with AVX-512 state enabled in XCR0 the
view is 32 x 512-bit registers and K0-K7 (``avx512``), with AVX state 16 x 256 bits
(``avx``), otherwise 16 x 128 bits (``sse``). Parts of the state the view does not
cover are reported unchanged.

Protocol: the parent writes ``RUN`` + the form's code + N input blocks and windows; the
child reads all of it, runs the states, and answers N output blocks (each followed by
the window when the form changed it). The child never prints anything else.
"""

from __future__ import annotations

import platform
import struct
import subprocess
import sys
from dataclasses import dataclass

from goasm.vecstate import (AT_PC, DATA, DATA_SIZE, FLAG_MASK, VIEWS, Fault, View, VOutcome,
                            VState)

# ---------------------------------------------------------------------------- layout

CODE = 0x20000000
CODE_SIZE = 0x10000
STATE = 0x30000000
STATE_SIZE = 0x4000
_ENTRY, _EPILOGUE, _SLOT, _HANDLER, _PROBE = (CODE, CODE + 0x1000, CODE + 0x2000,
                                              CODE + 0x3000, CODE + 0x3800)
SLOT_SIZE = 0x1000

# Input block (parent -> child), at STATE.
IN_FLAGS, IN_MXCSR, IN_TARGET, IN_GPR, IN_K, IN_VEC = 0x0, 0x8, 0x10, 0x40, 0xC0, 0x100
IN_SIZE = 0x900
# Output block (child -> parent), at STATE + OUT.
OUT = 0x1000
OUT_GPR, OUT_K, OUT_FLAGS, OUT_MXCSR = 0x000, 0x080, 0x0C0, 0x0C8
OUT_SIG, OUT_CODE, OUT_ADDR, OUT_RIP, OUT_VEC = 0x0D0, 0x0D4, 0x0D8, 0x0E0, 0x100
OUT_SIZE = 0x900
_SAVE = STATE + 0x2000          # the caller's callee-saved registers and MXCSR
_IN_PACK = struct.Struct("<QI4xQ40x16Q8Q")

SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
# si_code values, Linux include/uapi/asm-generic/siginfo.h.
SI_CODES = {
    "SIGSEGV": {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"},
    "SIGILL": {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP",
               5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
    "SIGFPE": {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF",
               5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
    "SIGBUS": {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"},
    "SIGTRAP": {1: "TRAP_BRKPT", 2: "TRAP_TRACE"},
}


def code_name(signal: str, code: int) -> str:
    if code == 0x80:
        return "SI_KERNEL"
    return SI_CODES.get(signal, {}).get(code, str(code))


# ---------------------------------------------------------------------------- encoding
# Hand-encoded moves between registers and absolute 32-bit addresses (ModRM mod=00
# rm=100, SIB base=101 index=100: [disp32]); Intel SDM Vol. 2, 2.1 (ModRM/SIB), 2.3 (VEX),
# 2.7 (EVEX). tests/test_conformance_cpu.py checks them by a round trip on the host.

def _abs(reg: int, addr: int) -> bytes:
    return bytes(((reg & 7) << 3 | 4, 0x25)) + addr.to_bytes(4, "little")


def mov_load(reg: int, addr: int) -> bytes:
    """``mov r64, [addr]``."""
    return bytes((0x48 | (4 if reg >= 8 else 0), 0x8B)) + _abs(reg, addr)


def mov_store(reg: int, addr: int) -> bytes:
    """``mov [addr], r64``."""
    return bytes((0x48 | (4 if reg >= 8 else 0), 0x89)) + _abs(reg, addr)


def movdqu(reg: int, addr: int, store: bool) -> bytes:
    """``movdqu xmm, [addr]`` / ``movdqu [addr], xmm`` (F3 0F 6F/7F)."""
    rex = b"\x44" if reg >= 8 else b""
    return b"\xf3" + rex + bytes((0x0F, 0x7F if store else 0x6F)) + _abs(reg, addr)


def vmovdqu_ymm(reg: int, addr: int, store: bool) -> bytes:
    """``vmovdqu ymm, [addr]`` / store (VEX.256.F3.0F 6F/7F, two-byte VEX)."""
    r = 0 if reg >= 8 else 0x80
    return bytes((0xC5, r | 0x7E, 0x7F if store else 0x6F)) + _abs(reg, addr)


def vmovdqu64_zmm(reg: int, addr: int, store: bool) -> bytes:
    """``vmovdqu64 zmm, [addr]`` / store (EVEX.512.F3.0F.W1 6F/7F)."""
    p0 = (0 if reg & 8 else 0x80) | 0x40 | 0x20 | (0 if reg & 16 else 0x10) | 0x01
    return bytes((0x62, p0, 0xFE, 0x48, 0x7F if store else 0x6F)) + _abs(reg, addr)


def kmovq(reg: int, addr: int, store: bool) -> bytes:
    """``kmovq k, [addr]`` / ``kmovq [addr], k`` (VEX.L0.0F.W1 90/91)."""
    return bytes((0xC4, 0xE1, 0xF8, 0x91 if store else 0x90)) + _abs(reg, addr)


def _ldmxcsr(addr: int) -> bytes:
    return b"\x0f\xae\x14\x25" + addr.to_bytes(4, "little")


def _stmxcsr(addr: int) -> bytes:
    return b"\x0f\xae\x1c\x25" + addr.to_bytes(4, "little")


def _jmp(frm: int, to: int) -> bytes:
    return b"\xe9" + struct.pack("<i", to - (frm + 5))


def _vector_moves(view: View, base: int, store: bool) -> bytes:
    code = b""
    for i in range(view.nvec):
        addr = base + 64 * i
        if view.vbytes == 64:
            code += vmovdqu64_zmm(i, addr, store)
        elif view.vbytes == 32:
            code += vmovdqu_ymm(i, addr, store)
        else:
            code += movdqu(i, addr, store)
    if view.kregs:
        for i in range(8):
            code += kmovq(i, (STATE + OUT + OUT_K if store else STATE + IN_K) + 8 * i, store)
    return code


_CALLEE_SAVED = (4, 3, 5, 12, 13, 14, 15)


def entry_code(view: View) -> bytes:
    """Save the caller's registers, load the state, jump to the form."""
    code = b"".join(mov_store(r, _SAVE + 8 * i) for i, r in enumerate(_CALLEE_SAVED))
    code += _stmxcsr(_SAVE + 0x40)
    code += b"\xbc" + (STATE + IN_FLAGS).to_bytes(4, "little")      # mov esp, flags
    code += b"\x9d"                                                   # popfq
    code += _ldmxcsr(STATE + IN_MXCSR)
    code += _vector_moves(view, STATE + IN_VEC, False)
    code += b"".join(mov_load(i, STATE + IN_GPR + 8 * i) for i in range(16))
    code += b"\xff\x24\x25" + (STATE + IN_TARGET).to_bytes(4, "little")   # jmp [target]
    return code


def epilogue_code(view: View) -> bytes:
    """Store the state, restore the caller's registers, return."""
    o = STATE + OUT
    code = b"".join(mov_store(i, o + OUT_GPR + 8 * i) for i in range(16))
    code += _vector_moves(view, o + OUT_VEC, True)
    code += _stmxcsr(o + OUT_MXCSR)
    code += b"\xbc" + (o + OUT_FLAGS + 8).to_bytes(4, "little")     # mov esp, flags+8
    code += b"\x9c"                                                   # pushfq
    code += b"".join(mov_load(r, _SAVE + 8 * i) for i, r in enumerate(_CALLEE_SAVED))
    code += _ldmxcsr(_SAVE + 0x40)
    code += b"\x68\x02\x02\x00\x00\x9d"                # push $0x202; popfq (DF=AC=0)
    if view.vbytes > 16:
        code += b"\xc5\xf8\x77"                        # vzeroupper
    code += b"\xc3"
    return code


def handler_code() -> bytes:
    """The fault handler ``(sig, siginfo *, ucontext *)``: record the signal, si_code,
    si_addr and RIP (ucontext: uc_mcontext at 40, gregs[REG_RIP=16]), resume at the
    epilogue. A second fault in one run (a harness bug) exits the child with 99."""
    o = STATE + OUT
    d = lambda a: a.to_bytes(4, "little")  # noqa: E731
    code = b"\x8b\x04\x25" + d(o + OUT_SIG)             # mov eax, [sig]
    code += b"\x85\xc0\x74\x0c"                         # test eax, eax; jz +12
    code += b"\xb8\xe7\x00\x00\x00\xbf\x63\x00\x00\x00\x0f\x05"   # exit_group(99)
    code += b"\x89\x3c\x25" + d(o + OUT_SIG)            # mov [sig], edi
    code += b"\x8b\x46\x08"                             # mov eax, [rsi+8]   si_code
    code += b"\x89\x04\x25" + d(o + OUT_CODE)
    code += b"\x48\x8b\x46\x10"                         # mov rax, [rsi+16]  si_addr
    code += b"\x48\x89\x04\x25" + d(o + OUT_ADDR)
    code += b"\x48\x8b\x82\xa8\x00\x00\x00"             # mov rax, [rdx+168] RIP
    code += b"\x48\x89\x04\x25" + d(o + OUT_RIP)
    code += b"\x48\xb8" + _EPILOGUE.to_bytes(8, "little")
    code += b"\x48\x89\x82\xa8\x00\x00\x00"             # mov [rdx+168], rax
    code += b"\xc3"
    return code


def probe_code() -> bytes:
    """``probe(uint32 out[32])``: CPUID leaves 0, 1, 7.0 and 0x80000002-4 (the brand
    string), and XGETBV(0) when CPUID.1:ECX.OSXSAVE is set."""
    code = b"\x53"                                       # push rbx
    for leaf, off in ((0, 0), (1, 16), (7, 32), (0x80000002, 64), (0x80000003, 80),
                      (0x80000004, 96)):
        code += b"\xb8" + leaf.to_bytes(4, "little") + b"\x31\xc9\x0f\xa2"   # cpuid
        code += bytes((0x89, 0x47, off, 0x89, 0x5F, off + 4, 0x89, 0x4F, off + 8,
                       0x89, 0x57, off + 12))
    code += b"\x8b\x47\x18"                              # mov eax, [rdi+24] (leaf 1 ECX)
    code += b"\x0f\xba\xe0\x1b"                          # bt eax, 27
    code += b"\x73\x0b"                                  # jnc +11
    code += b"\x31\xc9\x0f\x01\xd0"                      # xor ecx, ecx; xgetbv
    code += b"\x89\x47\x30\x89\x57\x34"                  # [rdi+48] = eax, [rdi+52] = edx
    code += b"\x5b\xc3"                                  # pop rbx; ret
    return code


# ---------------------------------------------------------------------------- host info

@dataclass(frozen=True)
class HostInfo:
    """What the host processor is and what the harness can observe on it."""

    vendor: str
    family: int
    model: int
    stepping: int
    brand: str
    xcr0: int
    leaf1: tuple
    leaf7: tuple
    flags: tuple          # /proc/cpuinfo flags (what the kernel reports)

    @property
    def view(self) -> View:
        avx512f = self.leaf7[1] >> 16 & 1
        avx = self.leaf1[2] >> 28 & 1
        if avx512f and self.xcr0 & 0xE6 == 0xE6:
            return VIEWS["avx512"]
        if avx and self.xcr0 & 0x6 == 0x6:
            return VIEWS["avx"]
        return VIEWS["sse"]

    def describe(self) -> dict:
        return {"vendor": self.vendor, "family": self.family, "model": self.model,
                "stepping": self.stepping, "brand": self.brand, "xcr0": self.xcr0,
                "view": self.view.name, "flags": " ".join(self.flags)}


def _parse_probe(raw: bytes) -> HostInfo:
    w = struct.unpack("<32I", raw)
    vendor = struct.pack("<III", w[1], w[3], w[2]).decode("ascii", "replace")
    eax1 = w[4]
    family = (eax1 >> 8) & 0xF
    model = (eax1 >> 4) & 0xF
    if family in (6, 15):
        model |= (eax1 >> 12) & 0xF0
    if family == 15:
        family += (eax1 >> 20) & 0xFF
    brand = struct.pack("<12I", *w[16:28]).split(b"\0")[0].decode("ascii", "replace").strip()
    flags: tuple = ()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = tuple(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return HostInfo(vendor, family, model, eax1 & 0xF, brand, w[12] | w[13] << 32,
                    tuple(w[4:8]), tuple(w[8:12]), flags)


# ---------------------------------------------------------------------------- child

def _child_main() -> None:  # pragma: no cover - runs in the child process
    """The child of :class:`HostCPU` (see the module docstring)."""
    import ctypes
    import faulthandler
    import mmap as _mmap

    faulthandler.disable()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    fixed_noreplace = 0x100000
    flags = _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS | fixed_noreplace
    rw, rwx = _mmap.PROT_READ | _mmap.PROT_WRITE, 7
    # The pages around the data window must be free (then left unmapped).
    for addr in (DATA - 0x1000, DATA + DATA_SIZE):
        if libc.mmap(addr, 0x1000, rw, flags, -1, 0) != addr:
            out.write(b"NO")
            out.flush()
            return
        libc.munmap(addr, 0x1000)
    for addr, size, prot in ((DATA, DATA_SIZE, rw), (CODE, CODE_SIZE, rwx),
                             (STATE, STATE_SIZE, rw)):
        if libc.mmap(addr, size, prot, flags, -1, 0) != addr:
            out.write(b"NO")
            out.flush()
            return
    probe = probe_code()
    ctypes.memmove(_PROBE, probe, len(probe))
    buf = ctypes.create_string_buffer(128)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_PROBE)(buf)
    info = _parse_probe(buf.raw)
    view = info.view
    entry = entry_code(view)
    epi = epilogue_code(view)
    handler = handler_code()
    ctypes.memmove(_ENTRY, entry, len(entry))
    ctypes.memmove(_EPILOGUE, epi, len(epi))
    ctypes.memmove(_HANDLER, handler, len(handler))
    # Alternate signal stack, then the handler for the synchronous signals.
    stack = ctypes.create_string_buffer(1 << 18)

    class StackT(ctypes.Structure):
        _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                    ("ss_size", ctypes.c_size_t)]

    class SigAction(ctypes.Structure):
        _fields_ = [("sa_handler", ctypes.c_void_p), ("sa_mask", ctypes.c_uint64 * 16),
                    ("sa_flags", ctypes.c_int), ("sa_restorer", ctypes.c_void_p)]

    st = StackT(ctypes.addressof(stack), 0, len(stack))
    if libc.sigaltstack(ctypes.byref(st), None) != 0:
        out.write(b"NO")
        out.flush()
        return
    sa = SigAction()
    sa.sa_handler = _HANDLER
    sa.sa_flags = 0x4 | 0x08000000 | 0x40000000      # SA_SIGINFO | SA_ONSTACK | SA_NODEFER
    for sig in SIGNALS:
        if libc.sigaction(sig, ctypes.byref(sa), None) != 0:
            out.write(b"NO")
            out.flush()
            return
    out.write(b"OK" + buf.raw)
    out.flush()
    fn = ctypes.CFUNCTYPE(None)(_ENTRY)
    target = struct.pack("<Q", _SLOT)
    zero_fault = bytes(16)
    while True:
        head = inp.read(12)
        if len(head) < 12 or head[:4] != b"RUN ":
            return
        n_code, n_states = struct.unpack_from("<II", head, 4)
        code = inp.read(n_code)
        slot = code + _jmp(_SLOT + len(code), _EPILOGUE)
        ctypes.memmove(_SLOT, slot, len(slot))
        payload = inp.read(n_states * (IN_SIZE + DATA_SIZE))
        replies = []
        for i in range(n_states):
            base = i * (IN_SIZE + DATA_SIZE)
            block = payload[base:base + IN_SIZE]
            data = payload[base + IN_SIZE:base + IN_SIZE + DATA_SIZE]
            ctypes.memmove(STATE, block[:IN_TARGET] + target + block[IN_TARGET + 8:], IN_SIZE)
            ctypes.memmove(STATE + OUT + OUT_SIG, zero_fault, 16)
            ctypes.memmove(DATA, data, DATA_SIZE)
            fn()
            res = ctypes.string_at(STATE + OUT, OUT_SIZE)
            after = ctypes.string_at(DATA, DATA_SIZE)
            replies.append(res + (b"\x01" + after if after != data else b"\x00"))
        out.write(b"".join(replies))
        out.flush()


# ---------------------------------------------------------------------------- parent

class HarnessError(RuntimeError):
    """The native harness itself failed (not the form)."""


def pack_state(s: VState) -> bytes:
    """The input block of a state (see the layout constants)."""
    block = _IN_PACK.pack(s.flags & FLAG_MASK | 0x202, s.mxcsr, _SLOT, *s.regs, *s.k)
    return block + b"".join(v.to_bytes(64, "little") for v in s.vec)


class HostCPU:
    """Runs forms on the host processor (see the module docstring). ``available`` is
    False off linux/amd64 or when the child cannot map its windows; ``info`` (a
    :class:`HostInfo`) after :meth:`start`."""

    def __init__(self) -> None:
        self.proc = None
        self.info: HostInfo | None = None
        self.available = platform.system() == "Linux" and platform.machine() in (
            "x86_64", "AMD64")
        self.runs = 0

    def start(self) -> bool:
        if self.proc is not None and self.proc.poll() is None:
            return True
        if not self.available:
            return False
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from goasm.native import _child_main; _child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        head = self.proc.stdout.read(2)
        if head != b"OK":
            self.available = False
            self.close()
            return False
        self.info = _parse_probe(self.proc.stdout.read(128))
        return True

    @property
    def view(self) -> View:
        if not self.start():
            raise HarnessError("no native harness on this host")
        return self.info.view

    def run(self, code: bytes, states: list) -> list:
        """The outcome of ``code`` (one instruction) from each state, as the host CPU
        computes it; parts of the state outside :attr:`view` come back unchanged."""
        if not self.start():
            raise HarnessError("no native harness on this host")
        if len(code) + 5 > SLOT_SIZE:
            raise ValueError("form too long")
        proc = self.proc
        req = [b"RUN " + struct.pack("<II", len(code), len(states)), code]
        for s in states:
            req.append(pack_state(s))
            req.append(bytes(s.data))
        try:
            proc.stdin.write(b"".join(req))
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise HarnessError(f"native harness died: {exc}") from exc
        view = self.info.view
        out = []
        for s in states:
            res = proc.stdout.read(OUT_SIZE + 1)
            if len(res) < OUT_SIZE + 1:
                code_ = proc.wait()
                self.proc = None
                raise HarnessError(f"native harness died (status {code_})")
            data = s.data
            if res[OUT_SIZE]:
                data = bytearray(proc.stdout.read(DATA_SIZE))
            out.append(self._outcome(s, res, data, view))
        self.runs += len(states)
        return out

    @staticmethod
    def _outcome(s: VState, res: bytes, data, view: View) -> VOutcome:
        regs = list(struct.unpack_from("<16Q", res, OUT_GPR))
        flags, = struct.unpack_from("<Q", res, OUT_FLAGS)
        mxcsr, sig, code, addr, rip = struct.unpack_from("<I4xIIQQ", res, OUT_MXCSR)
        vec = list(s.vec)
        vmask = view.vmask
        for i in range(view.nvec):
            v = int.from_bytes(res[OUT_VEC + 64 * i:OUT_VEC + 64 * i + view.vbytes], "little")
            vec[i] = vec[i] & ~vmask | v
        k = list(struct.unpack_from("<8Q", res, OUT_K)) if view.kregs else list(s.k)
        fault = None
        if sig:
            if rip != _SLOT:
                raise HarnessError(f"fault (signal {sig}) outside the form at {rip:#x}")
            name = SIGNALS.get(sig, f"signal {sig}")
            cname = code_name(name, code)
            if cname == "SI_KERNEL":
                at = 0
            elif addr == rip:
                at = AT_PC
            else:
                at = addr
            fault = Fault(name, cname, at)
        state = VState(regs, vec, k, flags & FLAG_MASK | s.flags & ~FLAG_MASK, mxcsr,
                       bytearray(data) if data is not s.data else bytearray(s.data))
        return VOutcome(state, fault)

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None

"""The initial process stack, as Linux builds it for a new program (execve).

From the top of the stack down (fs/exec.c ``copy_strings``, fs/binfmt_elf.c
``create_elf_tables``; the System V AMD64 ABI, 3.4.1 "Initial Stack and Register
State"):

=====================================  =============================================
8 zero bytes                           end marker, just below ``stack_top``
the program file name (``AT_EXECFN``)  NUL-terminated
environment strings, argument strings  NUL-terminated, argv[0] lowest
(16-byte alignment)
platform string ``"x86_64"``           pointed to by ``AT_PLATFORM``
16 random bytes                        pointed to by ``AT_RANDOM``
(padding so the final SP is 16-aligned)
auxiliary vector                       (type, value) pairs ending with AT_NULL
NULL, envp[n-1] ... envp[0]            pointers to the environment strings
NULL, argv[argc-1] ... argv[0]         pointers to the argument strings
argc                                   at SP; SP % 16 == 0
=====================================  =============================================

Registers other than SP are zero at entry (RDX = 0: no function for atexit).
"""

from __future__ import annotations

import types

import attrs

from goasm.errors import GoasmError, LimitError

# Auxiliary vector types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
AT_NULL = 0
AT_PHDR = 3
AT_PAGESZ = 6
AT_ENTRY = 9
AT_UID = 11
AT_EUID = 12
AT_GID = 13
AT_EGID = 14
AT_PLATFORM = 15
AT_HWCAP = 16
AT_CLKTCK = 17
AT_SECURE = 23
AT_RANDOM = 25
AT_HWCAP2 = 26
AT_EXECFN = 31
AT_SYSINFO_EHDR = 33

AUXV_NAMES = types.MappingProxyType({
    AT_NULL: "AT_NULL",
    AT_PHDR: "AT_PHDR",
    AT_PAGESZ: "AT_PAGESZ",
    AT_ENTRY: "AT_ENTRY",
    AT_UID: "AT_UID",
    AT_EUID: "AT_EUID",
    AT_GID: "AT_GID",
    AT_EGID: "AT_EGID",
    AT_PLATFORM: "AT_PLATFORM",
    AT_HWCAP: "AT_HWCAP",
    AT_CLKTCK: "AT_CLKTCK",
    AT_SECURE: "AT_SECURE",
    AT_RANDOM: "AT_RANDOM",
    AT_HWCAP2: "AT_HWCAP2",
    AT_EXECFN: "AT_EXECFN",
    AT_SYSINFO_EHDR: "AT_SYSINFO_EHDR",
})

PLATFORM = b"x86_64"
DEFAULT_STACK_TOP = 0x7FFF_FFFF_F000
DEFAULT_STACK_SIZE = 8 << 20


@attrs.frozen
class InitialStack:
    """The initial stack of a process: ``data`` is to be written at ``sp`` (it reaches
    up to ``top``); the other fields say where things are, for tests and ``--trace``."""

    sp: int
    top: int
    data: bytes
    argc: int
    argv: tuple          # addresses of the argument strings
    envp: tuple          # addresses of the environment strings
    auxv: tuple          # ((type, value), ...) without the final AT_NULL
    random_addr: int
    platform_addr: int
    execfn_addr: int

    def auxv_dict(self) -> dict:
        return dict(self.auxv)


def _align_down(x: int, a: int) -> int:
    return x & ~(a - 1)


def build_initial_stack(*, argv: list[bytes], env: list[bytes], stack_top: int = DEFAULT_STACK_TOP,
                        random: bytes = bytes(16), execfn: bytes | None = None,
                        hwcap: int = 0, auxv: dict | None = None, uid: int = 1000,
                        gid: int = 1000) -> InitialStack:
    """Lay out the initial stack (see the module docstring) without touching memory.

    ``auxv`` entries are added to (or replace) the default vector: AT_HWCAP, AT_PAGESZ
    (4096), AT_CLKTCK (100), AT_UID/EUID/GID/EGID, AT_SECURE (0), AT_RANDOM, AT_HWCAP2
    (0), AT_EXECFN, AT_PLATFORM — the order Linux uses, without the entries that
    describe an ELF file or the vDSO (there are none).
    """
    argv = [bytes(a) for a in argv]
    env = [bytes(e) for e in env]
    for s in argv + env:
        if b"\0" in s:
            raise GoasmError(f"argument or environment string {s!r} contains a NUL byte")
    if len(random) != 16:
        raise GoasmError("AT_RANDOM needs exactly 16 bytes")
    if execfn is None:
        execfn = argv[0] if argv else b""
    if stack_top & 0xF:
        raise GoasmError(f"stack top {stack_top:#x} is not 16-byte aligned")

    # Strings, from the top down: end marker, file name, then the argv and envp strings
    # (copied as one block with argv first, as execve's copy_strings leaves them).
    p = stack_top - 8
    p -= len(execfn) + 1
    execfn_addr = p
    strings = b"".join(a + b"\0" for a in argv) + b"".join(e + b"\0" for e in env)
    p -= len(strings)
    strings_addr = p
    argv_addrs, cur = [], strings_addr
    for a in argv:
        argv_addrs.append(cur)
        cur += len(a) + 1
    envp_addrs = []
    for e in env:
        envp_addrs.append(cur)
        cur += len(e) + 1

    p = _align_down(p, 16)
    p -= len(PLATFORM) + 1
    platform_addr = p
    p -= 16
    random_addr = p
    p = _align_down(p, 16)

    vector = {
        AT_HWCAP: hwcap,
        AT_PAGESZ: 4096,
        AT_CLKTCK: 100,
        AT_UID: uid,
        AT_EUID: uid,
        AT_GID: gid,
        AT_EGID: gid,
        AT_SECURE: 0,
        AT_RANDOM: random_addr,
        AT_HWCAP2: 0,
        AT_EXECFN: execfn_addr,
        AT_PLATFORM: platform_addr,
    }
    if auxv:
        vector.update(auxv)
    vector.pop(AT_NULL, None)
    pairs = tuple(vector.items())

    # argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL pair.
    words = 1 + len(argv) + 1 + len(env) + 1 + 2 * len(pairs) + 2
    sp = _align_down(p - 8 * words, 16)
    table = [len(argv), *argv_addrs, 0, *envp_addrs, 0]
    for k, v in pairs:
        table += [k, v]
    table += [AT_NULL, 0]
    blob = bytearray(stack_top - sp)
    def put(addr: int, data: bytes) -> None:
        blob[addr - sp:addr - sp + len(data)] = data
    put(sp, b"".join((w & ((1 << 64) - 1)).to_bytes(8, "little") for w in table))
    put(random_addr, random)
    put(platform_addr, PLATFORM + b"\0")
    put(strings_addr, strings)
    put(execfn_addr, execfn + b"\0")
    return InitialStack(sp=sp, top=stack_top, data=bytes(blob), argc=len(argv),
                        argv=tuple(argv_addrs), envp=tuple(envp_addrs), auxv=pairs,
                        random_addr=random_addr, platform_addr=platform_addr,
                        execfn_addr=execfn_addr)


def _hwcap(machine) -> int:
    """AT_HWCAP on x86 is CPUID leaf 1's EDX (arch/x86/include/asm/elf.h ELF_HWCAP)."""
    model = getattr(machine, "cpu_model", None)
    if model is None:
        return 0
    try:
        return model.cpuid(1, 0)[3]
    except Exception:  # pragma: no cover - a custom model without leaf 1
        return 0


def start_process(machine, *, argv: list[bytes], env: list[bytes] = (),
                  entry: str = "_rt0_amd64_linux", stack_top: int = DEFAULT_STACK_TOP,
                  stack_size: int = DEFAULT_STACK_SIZE, random: bytes = bytes(16),
                  execfn: bytes | None = None, auxv: dict | None = None) -> int:
    """Prepare ``machine`` as execve(2) leaves a new process; returns the entry SP.

    Maps ``[stack_top - stack_size, stack_top)`` writable (named ``[stack]``), writes the
    initial stack (:func:`build_initial_stack`) at its top, zeroes the registers and
    points SP at argc and PC at the ``entry`` symbol. ``argv[0]`` is the program name.
    """
    entry_sym = machine.image.lookup(entry)
    if entry_sym is None:
        raise GoasmError(f"entry symbol {entry} is not defined")
    layout = build_initial_stack(argv=list(argv), env=list(env), stack_top=stack_top,
                                 random=random, execfn=execfn, hwcap=_hwcap(machine), auxv=auxv)
    if stack_top - layout.sp > stack_size:
        raise LimitError(f"argument list too long: {stack_top - layout.sp} bytes do not fit "
                         f"a {stack_size}-byte stack (E2BIG)")
    machine.mem.map(stack_top - stack_size, stack_size, writable=True, name="[stack]")
    machine.mem.write(layout.sp, layout.data)
    regs = machine.cpu.regs
    regs[:] = [0] * len(regs)
    regs[4] = layout.sp
    machine.cpu.pc = entry_sym.addr
    return layout.sp

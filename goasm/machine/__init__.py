"""goasm's abstract amd64 machine.

Contract between the machine and its users (the runtime model, syscalls, process start,
the API and CLI). Modules and their single owners:

- ``state.py``: :class:`CPU` — ``regs`` (list of 16 unsigned 64-bit ints in hardware
  order AX CX DX BX SP BP SI DI R8..R15, see ``goasm.arch.amd64.GPR64``), ``pc``,
  ``fs_base``, ``gs_base``, ``xmm`` (list of 16 Python ints, 128 bits each),
  lazily computed RFLAGS (``get_rflags()`` / ``set_rflags(value)``; CF PF AF ZF SF OF DF).
- ``memory.py``: :class:`Memory` — sparse 4 KiB pages with permissions.
  ``map(addr, size, *, writable=True, name="")``, ``unmap(addr, size)``,
  ``is_mapped(addr)``, ``read(addr, n) -> bytes``, ``write(addr, data)``,
  ``read_u8/u16/u32/u64(addr)``, ``write_u8/u16/u32/u64(addr, value)``,
  ``read_cstring(addr, limit=4096) -> bytes``. An access to an unmapped page, or a write
  to a read-only one, raises :class:`goasm.errors.MachineFault` (``signal="SIGSEGV"``,
  ``addr`` set). Total mapped memory is limited (``LimitError``).
- ``flags.py``: the flag formulas shared by ADD/ADC/SUB/SBB/CMP/NEG/logic/shifts.
- ``semantics.py``: one handler per instruction family, registered in a table by
  explicit decorator arguments; compiles an :class:`goasm.image.LInstr` once, at load
  time, into a closure; anything not implemented raises ``UnimplementedError``
  naming the instruction and its file:line when executed.
- ``machine.py``: :class:`Machine` — ``Machine(image, *, cpu_model=None, stdout=None,
  stderr=None, stdin=None, max_steps=None, memory_limit=...)`` with attributes
  ``image``, ``cpu``, ``mem``, ``natives`` (address -> Python callable taking the
  machine; it must leave ``cpu.pc`` where execution continues, usually via
  :meth:`Machine.ret`), ``syscall`` (callable taking the machine, invoked by SYSCALL),
  ``steps`` (instructions executed); methods ``reg(name)``/``set_reg(name, value)``
  (any Plan 9 register name incl. AL/AH/X0), ``push(value)``, ``pop()``, ``ret()``,
  ``call(addr, return_addr)``, ``jump(addr)``, ``step()``, ``run(*, until=None,
  max_steps=None) -> StopReason``, ``exit(status)`` (raises :class:`ProgramExit`).
- ``report.py``: Go-style crash reports for faults.

The runtime model (``runtime.py``), Linux syscalls (``syscalls.py``), the initial process
stack (``process.py``) and the g/m/gobuf/stack layouts (``layout.py``) build on these.
"""

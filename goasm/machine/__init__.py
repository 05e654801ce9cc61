"""goasm's abstract amd64 machine.

Contract between the machine and its users (the runtime model, syscalls, process start,
the API and CLI). Modules and their single owners:

- ``state.py``: :class:`CPU` — ``regs`` (list of 16 unsigned 64-bit ints in hardware
  order AX CX DX BX SP BP SI DI R8..R15, see ``goasm.arch.amd64.GPR64``), ``pc``,
  ``fs_base``, ``gs_base``, ``xmm`` (list of 16 Python ints, 128 bits each),
  lazily computed RFLAGS (``get_rflags()`` / ``set_rflags(value)``; CF PF AF ZF SF OF DF).
- ``memory.py``: :class:`Memory` — interval mappings of 4 KiB pages with permissions;
  a page costs memory only once touched (the limit, default 4 GiB, counts those).
  ``map(addr, size, *, writable=True, name="", readable=True, backing=None)``,
  ``unmap(addr, size)``,
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
- ``translate.py``: the fast path. Hot code (a pc entered 16 times; ``GOASM_HOT``) is
  translated into one Python function per region, built from the *same* source the
  handlers emit for the per-instruction closures (registers and flag slots become
  locals); ``GOASM_ENGINE=translate|eager|closure`` selects the engine. Steps, faults
  and ``instruction`` hooks behave exactly as in the closure loop
  (tests/test_translate.py checks the engines against each other).
- ``validate.py``: operand forms Go's assembler rejects (``invalid instruction``) are
  refused when the machine compiles the image (a LinkError with file:line).

The runtime model (``runtime.py``), Linux syscalls (``syscalls.py``), the initial process
stack (``process.py``) and the g/m/gobuf/stack layouts (``layout.py``) build on these.

Refinements, as implemented by the machine core:

- Running. ``run`` returns a :class:`machine.StopReason` ``(kind, pc, status, value)``:
  ``"exit"`` (a :class:`machine.ProgramExit` raised by ``exit()`` is caught; ``status``
  and ``machine.exit_status`` hold the code), ``"until"`` (pc reached ``until``, an
  address or a callable ``until(machine) -> bool``; the instruction at the starting pc
  always executes), ``"max_steps"`` (the budget of this call), ``"hook"``. ``step()``
  returns ``StopReason("step")`` or ``"exit"`` and ignores hooks. The constructor's
  ``max_steps`` is a hard limit: :class:`goasm.errors.LimitError` "step limit N reached
  at sym+off (file:line)". Faults propagate as ``MachineFault`` with ``pc``, ``pos`` and
  (SIGFPE/SIGILL) ``addr`` filled in; ``cpu.pc`` is left at the faulting instruction.
  ``steps`` counts instructions and native calls started.
- Hooks: ``add_hook(kind, fn, *, at=None, start=None, end=None, precise=True)`` ->
  handle, ``remove_hook(handle)``. Kinds: ``"instruction"`` (``fn(machine)`` before each
  instruction, ``cpu.pc`` current), ``"after"`` (after each), ``"pc"`` (before the
  instruction at ``at``: addresses or ``symbol``/``symbol:label``/``file.s:line``),
  ``"syscall"`` (``fn(machine, SyscallCall)``; an int result replaces the call),
  ``"read"``/``"write"``/``"access"`` (``fn(machine, Access)`` for accesses overlapping
  ``[start, end)``). A non-None result stops ``run`` (``StopReason("hook")``); exceptions
  propagate. Hooks run in the slow loop, except ``precise=False`` memory hooks, which
  page-granular watches in ``Memory`` serve under any loop. ``last_pc`` is the instruction
  (or native) being executed, for hooks; ``hooks_suspended()`` is a context without
  hooks (used while bootstrapping calls).
- ``natives`` is a mutable mapping; assigning installs the callable in the code table,
  deleting restores the instruction compiled at that address. A native is entered with
  ``cpu.pc`` = its address and continues wherever it leaves ``cpu.pc``.
- ``syscall(machine)`` is entered with ``cpu.pc`` at the instruction after SYSCALL and
  RCX/R11 set as the instruction does (return address, RFLAGS).
- ``snapshot()``/``restore(snap)`` copy CPU, memory, ``steps`` and ``exit_status``; memory
  pages are shared copy-on-write, and restoring the latest snapshot again only revisits
  the pages written since (``Memory.save``/``load_saved``).
- ``cpu_model`` (:class:`state.CPUModel`: vendor, max leaves, ``cpuid(leaf, subleaf)``)
  answers CPUID; ``Machine.image.entry`` (when set) gives the initial pc.
- ``semantics.compile(linstr, machine)`` -> closure returning the next pc; handlers live
  in ``ops/`` (one module per family); ``semantics.TABLE`` lists every mnemonic.
- ``Memory`` also has ``protect``, ``discard`` (MADV_DONTNEED), ``is_writable``,
  ``is_covered``/``overlaps`` (any protection), ``load`` (ignores protection, for
  loaders), ``regions()``, ``mappings()`` (PROT_NONE included), ``mapped_bytes``,
  ``touched_bytes``, ``save()``/``load_saved()``,
  ``watch(start, end, fn)``/``unwatch``. ``_r``/``_w`` are fast tables: code that reads
  them directly must fall back to the ``read``/``write`` methods on a miss (a missing
  page may be watched or copy-on-write, not only unmapped). Fault codes
  are ``"SEGV_MAPERR"``/``"SEGV_ACCERR"`` (and ``"SI_KERNEL"`` for #GP), which
  ``report.format_fault`` prints as Go's ``code=0x1``/``0x2``/``0x80``.
- ``CPU`` also has ``df``, ``flag(name)``, ``save()``/``load(state)``; the lazy flag
  slots ``fk fa fb fr fc`` are described in ``flags.py``.
"""

"""What names mean in one stack frame: the scope expressions are evaluated in.

In a frame of the running goroutine the registers are the CPU's, except PC and SP,
which are the frame's (a caller's PC is its return address, its SP the callee's CFA).
In a goroutine that is not running only PC and SP are known (from its gobuf and the
unwinder). ``g`` is the frame's goroutine. The pseudo-registers place arguments
(``FP`` = the CFA) and locals (pseudo-SP = CFA - 8 - saved BP) as Go's assembler does.
"""

from __future__ import annotations

from goasm.debug.errors import CommandError
from goasm.debug.registers import canonical, vector_width
from goasm.debug.values import Value, scalar_type


class Scope:
    """A frame of a session (``frame`` None: the innermost frame of the CPU's state)."""

    def __init__(self, session, frame=None) -> None:
        self.s = session
        self._frame = frame
        self.values = session.values

    @property
    def frame(self):
        if self._frame is None:
            self._frame = self.s.top_frame()
        return self._frame

    @staticmethod
    def is_register(name: str) -> bool:
        return canonical(name) is not None

    def register(self, name: str) -> int:
        reg = canonical(name)
        if reg is None:
            raise CommandError(f"unknown register {name}")
        frame = self.frame
        if reg == "PC":
            return frame.pc
        if reg == "SP":
            return frame.sp
        if not frame.live:
            raise CommandError(f"{reg} is not known for a goroutine that is not running "
                               "(only PC and SP are)")
        return self.s.registers.get(reg)

    # ------------------------------------------------------------------ frame variables

    def function(self):
        return self.s.unwinder.function(self.frame.pc)

    def variables(self) -> tuple:
        """(arguments and results, locals) of the frame's function."""
        fn = self.function()
        if fn is None:
            return (), ()
        return self.s.variables.of(fn)

    def _base(self, pseudo: str) -> int:
        frame = self.frame
        if frame.cfa is None:
            raise CommandError(f"the frame of {self.s.image.describe(frame.pc)} is not "
                               "known here (no FP or pseudo-SP)")
        if pseudo == "FP":
            return frame.cfa
        fn = self.function()
        return frame.cfa - 8 - (fn.bpsize if fn is not None else 0)

    def variable_value(self, var) -> Value:
        """The value of a :class:`goasm.debug.variables.Variable` in this frame."""
        addr = self._base("FP") + var.rel
        typ = scalar_type(var.size, var.typ)
        if typ == "bytes":
            return Value("bytes", self.values.read(addr, var.size), addr, var.size)
        return self.values.at(typ, addr)

    def pseudo(self, name, off: int, reg: str) -> Value:
        """``name+off(FP)`` or ``name-off(SP)``: sized as the variable of that name and
        place when there is one, else a word."""
        addr = self._base(reg) + off
        args, locs = self.variables()
        for var in (args if reg == "FP" else locs):
            if self._base("FP") + var.rel == addr and (name is None or var.name == name):
                return self.variable_value(var)
        return self.values.at("uintptr", addr)

    # ------------------------------------------------------------------ names

    def root(self, name: str, *, fields: bool = False) -> Value | None:
        """``g``, ``g0``, ``m0``, ``m``, ``curg``, the frame's variables, registers and
        symbols (``fields``: more ``.field`` accesses follow)."""
        s = self.s
        if name == "g":
            return self._g()
        if name in ("g0", "m0"):
            sym = s.image.lookup(f"runtime.{name}")
            if sym is None:
                raise CommandError(f"runtime.{name} is not linked")
            return Value(name[0], sym.addr, sym.addr)
        if name == "m":
            return self.values.field(self._g(), "m")
        if name == "curg":
            return self.values.field(self.root("m0"), "curg")
        if name.isidentifier() and "\u00b7" not in name:     # arguments and locals
            args, locs = self.variables()
            for var in args + locs:
                if var.name == name:
                    return self.variable_value(var)
        reg = canonical(name)
        if reg is not None:
            bits = vector_width(reg)
            if bits:
                return Value("bytes", self.register(name), None, bits // 8)
            return Value("int", self.register(name))
        sym = s.image.lookup(name)
        if sym is None:
            return None
        if fields and sym.name in ("runtime.g0", "runtime.m0"):
            return Value(sym.name[-2], sym.addr, sym.addr)
        return Value("uintptr", sym.addr)

    def _g(self) -> Value:
        s = self.s
        g = self.frame.g
        if not g:                       # a frame of the running goroutine: the TLS g
            if not s.machine.cpu.fs_base:
                raise CommandError("g: TLS is not set up yet (the FS base is 0)")
            g = s.goroutines.current_g()
            if not s.goroutines.g_ok(g):
                raise CommandError(f"g: -8(FS) holds {g:#x}, not a g")
        return Value("g", g, g)

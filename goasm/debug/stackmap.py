"""``stackmap``: a goroutine's stack drawn to scale (hi at the top, lo at the bottom),
with the frames found by the unwinder, SP and stackguard0 (runtime/stack.go: a function
whose SP would go below stackguard0 calls morestack, and the stack is doubled)."""

from __future__ import annotations

from goasm.debug.errors import CommandError

BAR_WIDTH = 12


def kib(n: int) -> str:
    v = n / 1024
    return f"{v:.0f} KiB" if v == int(v) else f"{v:.1f} KiB"


def compress(names: list) -> str:
    """``a, b x3, ...`` for frame names stacked in one row."""
    groups: list = []
    for n in names:
        if groups and groups[-1][0] == n:
            groups[-1][1] += 1
        else:
            groups.append([n, 1])
    parts = [n if k == 1 else f"{n} x{k}" for n, k in groups]
    if len(parts) > 4:
        parts = parts[:2] + ["..."] + parts[-1:]
    return ", ".join(parts)


def render_stackmap(session, thread, sp: int, pc: int, rows: int, note: str = "") -> list:
    """The lines of the picture of ``thread``'s stack with SP ``sp`` at ``pc``."""
    image = session.image
    lo, hi = thread.lo, thread.hi
    guard = session.goroutines.field(thread.g, "stackguard0")
    size = hi - lo
    if size <= 0:
        raise CommandError(f"goroutine {thread.goid} has no stack yet")
    name = "g0" if thread.system else f"goroutine {thread.goid}"
    used = hi - sp if lo <= sp <= hi else None
    row = size // rows
    row_text = kib(row) if row >= 1024 else f"{row} bytes"
    out = [f"{name} (g={thread.g:#x}) stack {kib(size)} [{lo:#x}, {hi:#x})"
           + (f", {used} bytes used ({100 * used // size}%)" if used is not None
              else f", SP {sp:#x} is outside")
           + f", one row = {row_text}"]
    if note:
        out.append(f"({note})")
    frames = []
    if lo <= sp <= hi and pc:
        frames = [f for f in session.unwinder.unwind(pc, sp, limit=1 << 20) if f.sp <= hi]
    unit = size / rows

    def row_of(addr):
        return min(rows - 1, max(0, int((hi - addr) / unit))) if addr < hi else 0

    by_row: list = [[] for _ in range(rows)]
    for fr in frames:
        top = min(fr.cfa if fr.cfa is not None else fr.sp + 8, hi)
        sym = image.symbol_at(fr.pc)[0]
        by_row[row_of(top - 1)].append(sym.name if sym is not None else hex(fr.pc))
    markers: list = [[] for _ in range(rows)]
    if lo <= sp <= hi:
        markers[row_of(sp)].append(("SP", sp))
    if lo <= guard <= hi:
        markers[row_of(guard)].append(("stackguard0", guard))
    out.append(f"{hi:#18x} +{'-' * BAR_WIDTH}+ hi")
    for r in range(rows):
        top = hi - r * unit
        used_part = max(0.0, min(1.0, (top - sp) / unit)) if lo <= sp <= hi else 0.0
        n_used = round(BAR_WIDTH * used_part)
        free_ch = ":" if lo <= guard <= hi and top <= guard + unit / 2 else "."
        bar = "#" * n_used + free_ch * (BAR_WIDTH - n_used)
        names = compress(by_row[r])
        mk = markers[r]
        left = f"{mk[0][1]:#18x}" if mk else " " * 18
        text = ""
        if mk:
            text = " ".join(f"<- {label}" for label, _ in mk)
            if any(label == "SP" for label, _ in mk) and pc:
                text += f" ({image.describe(pc)})"
        if names:
            text = (text + "  " if text else "") + names
        out.append(f"{left} |{bar}| {text}".rstrip())
    out.append(f"{lo:#18x} +{'-' * BAR_WIDTH}+ lo")
    return out

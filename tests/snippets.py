"""Test helper: link a snippet of Plan 9 instructions as one function with goasm's own
loader (used by the differential tests against Unicorn)."""

from __future__ import annotations

from goasm.image import Image
from goasm.link import LinkUnit, link
from goasm.parse import parse_source

NOSPLIT_NOFRAME = 4 | 512


def link_snippet(body: str) -> tuple[Image, int, int]:
    """A one-function image for ``body``, laid out by goasm's loader (labels, n(PC) and
    prefixes resolved; NOSPLIT|NOFRAME with a $0 frame, so no prologue or epilogue is
    inserted). Returns (image, entry address, end address)."""
    prog = parse_source(f"TEXT ·f(SB), {NOSPLIT_NOFRAME}, $0\n{body}\n", "form.s")
    image = link([LinkUnit(prog, "main")], strict=False, entry="main.f")
    fn = image.functions["main.f"]
    return image, fn.symbol.addr, fn.instrs[-1].next_addr

"""Fast printf for the event loop: formats compiled once into Python bytes formatting.

printf events can arrive at hundreds of thousands per second, so the per-event
path must stay in C-level Python operations: one struct unpack of the record
and one `bytes % tuple`.  A format qualifies when every directive is one that
Python's %-formatting renders exactly as bpftrace does (plain flags, width,
precision for strings only; d u x X o s with no or 64-bit length modifiers) and every
argument is an integer or a string.  Anything else — `%%`, `%p`, `%r`, short
length modifiers, stacks or symbols as arguments — goes through
output.printf.format_printf, which reproduces bpftrace's quirks one by one.
"""
from __future__ import annotations

import re
import struct
from typing import Callable

from pybpftrace.resources import FormatInfo
from pybpftrace.types import Kind, tuple_layout

# Integers take no precision and %c is left out: C and Python disagree on
# `%.0d` of 0 and on `%08.3d`, and bpftrace cuts a piece at a %c of NUL.
_DIRECTIVE = re.compile(r"%(-?[0-9]*)(?:ll|l|j|z|t)?([duxXo])|%(-?[0-9]*(?:\.[0-9]+)?)(s)")
_MASK64 = (1 << 64) - 1


def compile_printf(info: FormatInfo) -> Callable[[bytes], bytes] | None:
    """A function from an event record to the printed bytes, or None if this
    format needs the general formatter."""
    fmt = info.fmt
    directives = list(_DIRECTIVE.finditer(fmt))
    if fmt.count("%") != len(directives) or len(directives) != len(info.args):
        return None
    if info.layout is None:
        text = fmt.encode("utf-8", "surrogateescape")
        return lambda record: text
    offsets, _ = tuple_layout(info.layout)
    codes, fixups = ["<"], []
    pos = 0  # bytes of the argument tuple consumed so far
    for d, t, off in zip(directives, info.args, offsets):
        conv = d.group(2) or d.group(4)
        if off > pos:
            codes.append(f"{off - pos}x")
        if t.kind is Kind.INT and t.bits == 64 and conv != "s":
            codes.append("q" if t.signed else "Q")
            pos = off + 8
            if conv == "d":
                fixups.append(None if t.signed else _signed)
            else:
                fixups.append(_unsigned if t.signed else None)
        elif t.kind is Kind.STRING and conv == "s":
            codes.append(f"{t.size}s")
            pos = off + t.size
            fixups.append(_cstring)
        else:
            return None
    pyfmt = _DIRECTIVE.sub(_python_directive, fmt)
    pyfmt_bytes = pyfmt.encode("utf-8", "surrogateescape")
    unpack = struct.Struct("".join(codes)).unpack_from
    if all(f is None for f in fixups):
        return lambda record: pyfmt_bytes % unpack(record, 8)
    return lambda record: pyfmt_bytes % tuple(
        v if f is None else f(v) for f, v in zip(fixups, unpack(record, 8)))


def _python_directive(m: re.Match) -> str:
    if m.group(4):
        return "%" + m.group(3) + "s"
    return "%" + m.group(1) + ("d" if m.group(2) == "u" else m.group(2))


def _unsigned(v: int) -> int:
    return v & _MASK64


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _cstring(v: bytes) -> bytes:
    return v.split(b"\0", 1)[0]

"""Format strings of printf(), cat() and system(), and time()'s strftime.

bpftrace 0.17 (src/format_string.cpp) finds its specifiers with the regex
`%-?[0-9]*(\\.[0-9]+)?(TYPE)` where TYPE is s, r, rx, rh, c, or an optional length
(hh h l ll j z t) and one of d u o x X p.  No other flag (`+`, space, `#`)
and no `*` is recognised, and there is no %i.  It then cuts the format after
each match, and formats piece i with the C library's snprintf(piece, arg_i);
the text after the last specifier is copied as it is.  Consequences kept here:

* `%%` becomes `%` before a specifier but stays `%%` after the last one (and
  in a format without arguments);
* in `%%d` the regex still finds `%d`, so the argument is taken and the
  output is `%d`;
* a directive the regex misses (`%+d`) is formatted by snprintf anyway and
  takes the argument meant for the specifier after it;
* `%hd` prints the low 16 bits of the 64-bit argument, `%hhd` 8, as C does;
* `%r` / `%rx` / `%rh` only work bare (`%10r` is printed literally);
* snprintf output is cut at a NUL byte, so `%c` of 0 ends its piece.

One deliberate deviation (tests/golden/README.md): 0.17 passed the 64-bit
argument of `%d`, `%x`, `%u`, `%o` without a length modifier to a plain `int`
conversion, printing only its low 32 bits (`%d` of 2^32 + 1 printed 1); later
bpftrace fixed this, and so do we: no length means the full 64 bits, as `%ld`.
"""
from __future__ import annotations

import re
import time as _time

from pybpftrace.output.values import Stack, format_buffer
from pybpftrace.format_string import TOKEN


# A C directive as glibc parses it; `conv` may be a character glibc does not know.
_DIRECTIVE = re.compile(
    rb"%(?P<flags>[-+ #0'I]*)(?P<width>\*|[0-9]+)?(?:\.(?P<prec>\*|[0-9]*))?"
    rb"(?P<length>hh|h|ll|l|L|q|j|z|Z|t)?(?P<conv>.)", re.S)

_LENGTH_BITS = {b"hh": 8, b"h": 16}  # no length or any other length modifier: 64 bits

# How 0.17 names argument types in its printf errors.  Symbol-like types
# count as strings and pointers as integers.
def format_printf(fmt: str, args: list) -> str:
    """Format `args` as 0.17's FormatString::format does (see the module docstring).

    Arguments are ints (signed values already negative), str, Stack (printed
    like print() does), or bytes for %r / %rx / %rh.
    """
    parts, convs, last = [], [], 0
    for m in TOKEN.finditer(fmt):
        parts.append(fmt[last:m.end()])
        convs.append(m.group(1))
        last = m.end()
    if last < len(fmt):
        parts.append(fmt[last:])
    out = b""
    for part, conv, arg in zip(parts, convs, args):
        raw = part.encode("utf-8", "surrogateescape")
        if conv in ("r", "rx", "rh") and part[part.rfind("%"):] in ("%r", "%rx", "%rh"):
            raw = re.sub(rb"%r[x|h]?", b"%s", raw)
            arg = format_buffer(arg, keep_ascii=conv == "r", escape_hex=conv != "rh")
        out += _snprintf(raw, arg).split(b"\0", 1)[0]
    if len(args) < len(parts):
        out += parts[len(args)].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


def _snprintf(fmt: bytes, arg) -> bytes:
    """glibc's snprintf(fmt, arg) for a format piece holding one argument.

    A piece has one argument but may hold several directives (`%+d|%d`):
    they take the argument in turn and the later ones get 0 / NULL, where
    0.17 passes whatever is in the next register.  Conversions other than
    d i u o x X c s p % are copied verbatim (glibc does that for unknown ones;
    for float ones 0.17's output is garbage anyway).
    """
    queue = [arg]
    out, pos = [], 0
    for m in _DIRECTIVE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        conv = m.group("conv")
        if conv not in b"diuoxXcsp%":
            length_at = m.start("length") if m.group("length") else m.end() - 1
            out.append(fmt[m.start():length_at] + conv)  # glibc drops the length
            continue
        if conv == b"%":
            out.append(b"%")
            continue
        flags = m.group("flags").decode()
        width = m.group("width")
        if width == b"*":
            width = _to_int(queue.pop(0) if queue else 0, 32, True)
            if width < 0:
                flags, width = flags + "-", -width
        width = int(width or 0)
        prec = m.group("prec")
        if prec == b"*":
            prec = _to_int(queue.pop(0) if queue else 0, 32, True)
            prec = None if prec < 0 else prec
        elif prec is not None:
            prec = int(prec or 0)
        value = queue.pop(0) if queue else None
        out.append(_convert(conv.decode(), flags, width, prec, m.group("length"), value))
    out.append(fmt[pos:])
    return b"".join(out)


def _to_int(value, bits: int, signed: bool) -> int:
    """The low `bits` bits of a 64-bit argument, as C's varargs would read them."""
    v = (value if isinstance(value, int) else 0) & ((1 << bits) - 1)
    return v - (1 << bits) if signed and v >> (bits - 1) else v


def _sign(negative: bool, flags: str) -> str:
    return "-" if negative else "+" if "+" in flags else " " if " " in flags else ""


def _pad(body: bytes, width: int, flags: str) -> bytes:
    return body.ljust(width) if "-" in flags else body.rjust(width)


def _convert(conv: str, flags: str, width: int, prec: int | None, length: bytes | None,
             value) -> bytes:
    if conv == "s":
        if isinstance(value, Stack):
            value = value.render(8)
        if isinstance(value, str):
            text = value.encode("utf-8", "surrogateescape")
        else:
            text = b"(null)"
        return _pad(text if prec is None else text[:prec], width, flags)
    if conv == "c":
        return _pad(bytes([_to_int(value, 8, False)]), width, flags)
    if conv == "p":
        v = _to_int(value, 64, False)
        if v == 0:
            return _pad(b"(nil)", width, flags)
        return _number(v, 16, _sign(False, flags) + "0x", flags, width, prec)
    bits = _LENGTH_BITS.get(length, 64)
    if conv in "di":
        v = _to_int(value, bits, True)
        return _number(abs(v), 10, _sign(v < 0, flags), flags, width, prec)
    v = _to_int(value, bits, False)
    base = {"u": 10, "o": 8, "x": 16, "X": 16}[conv]
    prefix = "0x" if conv in "xX" and "#" in flags and v else ""
    body = _number(v, base, prefix, flags, width, prec, alt_octal=conv == "o" and "#" in flags)
    return body.upper() if conv == "X" else body


def _number(v: int, base: int, prefix: str, flags: str, width: int, prec: int | None,
            alt_octal: bool = False) -> bytes:
    """An unsigned magnitude with sign/0x prefix, precision and padding, glibc style."""
    digits = "" if prec == 0 and v == 0 else format(v, {8: "o", 10: "d", 16: "x"}[base])
    if prec is not None:
        digits = digits.rjust(prec, "0")
    if alt_octal and not digits.startswith("0"):
        digits = "0" + digits
    if "0" in flags and "-" not in flags and prec is None:
        digits = digits.rjust(width - len(prefix), "0")
    return _pad((prefix + digits).encode(), width, flags)


def format_time(fmt: str = "%H:%M:%S\n", when: float | None = None) -> str | None:
    """time(fmt): local time through strftime, as 0.17 prints it.

    0.17 formats into a 64-byte buffer and reports "strftime returned 0"
    instead of printing when the result is empty or does not fit; None
    signals that case.
    """
    text = _time.strftime(fmt, _time.localtime(when))
    if not text or len(text.encode("utf-8", "surrogateescape")) > 63:
        return None
    return text


def format_strftime(fmt: str, boot_sec: int, boot_nsec: int, nsecs: int) -> str:
    """strftime(fmt, nsecs) as 0.17 prints it: `nsecs` counts from boot, and the
    boot time (boot_sec, boot_nsec) is wall-clock time.  `%f` is replaced by the
    microseconds first; a result that is empty or longer than 63 bytes is
    "(?)" (0.17 also logs "strftime returned 0")."""
    when = int(boot_sec + (boot_nsec + nsecs) / 1e9)  # 0.17's double arithmetic
    usecs = (boot_nsec + nsecs) % 1000000000 // 1000
    try:
        text = _time.strftime(fmt.replace("%f", f"{usecs:06d}"), _time.localtime(when))
    except (ValueError, OverflowError, OSError):
        text = ""
    if not text or len(text.encode("utf-8", "surrogateescape")) > 63:
        return "(?)"
    return text

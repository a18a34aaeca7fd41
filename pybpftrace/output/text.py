"""bpftrace 0.17's text output (the default `-f text`).

Two deliberate deviations from 0.17 (tests/golden/README.md): maps of
ksym/usym/inet/stack values print one entry per line (0.17 runs them
together: `@k[1]: 0x1@k[2]: 0x2`), and hist() labels go past [2G, 4G) up to
the E(xa) suffix, because our hist() buckets values up to 2^63.
"""
from __future__ import annotations

import struct

from pybpftrace.output.base import Output, bucket_span, key_fields, ordered_entries
from pybpftrace.output.values import (Array, Hist, LHist, MapDump, Pointer, Record, Stack, Tuple,
                                      c_div, format_buffer)

_BAR_WIDTH = 52


class TextOutput(Output):
    def attached_probes(self, n: int) -> None:
        self._write(f"Attaching {n} probe{'' if n == 1 else 's'}...\n")

    def printf(self, text: str) -> None:
        self._write(text)

    def time(self, text: str) -> None:
        self._write(text)

    def cat(self, text: str) -> None:
        self._write(text)

    def system(self, text: str) -> None:
        self._write(text)

    def join(self, text: str) -> None:
        self._write(text + "\n")

    def lost_events(self, n: int) -> None:
        self._write(f"Lost {n} events\n")

    def map(self, dump: MapDump, top: int = 0, div: int = 1) -> None:
        self._write(map_text(dump, top, div))

    def value(self, v) -> None:
        self._write(value_text(v) + "\n")


def map_text(dump: MapDump, top: int = 0, div: int = 1) -> str:
    """print(@m, top, div) in text mode.

    Entries are `@m[k1, k2]: v` lines.  A histogram entry puts its rows on
    the lines after `@m[k]: ` and is followed by a blank line; avg/stats maps
    end with an extra blank line.  An empty map still prints its trailing
    newline(s), which is what 0.17 does.  Every kind of map gets one entry per
    line; 0.17 printed ksym/usym/inet/stack-valued entries without newlines
    between them, a bug we do not copy.
    """
    div = div or 1
    entries = ordered_entries(dump, top)
    if div == 1 and dump.kind in ("count", "sum", "min", "max", "value") and \
            all(v.__class__ is int for _, v in entries):
        # The common big case (100k-key count maps at exit) without per-field dispatch.
        name = dump.name
        lines = [f"{name}: {v}" if k is None else f"{name}[{_key_text(k)}]: {v}" for k, v in entries]
        return "\n".join(lines) + "\n"
    lines = []
    for key, value in entries:
        head = dump.name + (f"[{', '.join(key_fields(key))}]" if key is not None else "") + ": "
        if dump.kind == "hist":
            lines.append(head + "\n" + hist_text(value, div))
        elif dump.kind == "lhist":
            lines.append(head + "\n" + lhist_text(value))
        elif dump.kind == "stats":
            lines.append(head + f"count {value.count}, average {value.average}, total {value.total}")
        elif dump.kind == "avg":
            lines.append(head + str(c_div(value.average, div)))
        else:
            lines.append(head + value_text(value, div))
    end = "\n\n" if dump.kind in ("avg", "stats") else "\n"
    return "\n".join(lines) + end


def _key_text(key) -> str:
    """A key's fields joined; ints and strings print as themselves."""
    if key.__class__ is int or key.__class__ is str:
        return str(key)
    if key.__class__ is Tuple and all(f.__class__ is int or f.__class__ is str for f in key.items):
        return ", ".join(map(str, key.items))
    return ", ".join(key_fields(key))


def value_text(v, div: int = 1) -> str:
    """One value as 0.17's value_to_str prints it; `div` divides every integer in it."""
    if isinstance(v, Pointer):
        return str(v)
    if isinstance(v, int):
        return str(c_div(v, div))
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return format_buffer(v)
    if isinstance(v, Stack):
        return v.render(8)
    if isinstance(v, Tuple):
        return "(" + ", ".join(value_text(x, div) for x in v.items) + ")"
    if isinstance(v, Record):
        return "{ " + ", ".join(f".{name} = {value_text(x, div)}" for name, x in v.fields) + " }"
    if isinstance(v, Array):
        return "[" + ",".join(value_text(x, div) for x in v.items) + "]"
    raise TypeError(f"cannot print {type(v).__name__}")


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _row(label: str, count: int, shown: int, max_count: int) -> str:
    """One histogram row; 0.17 sizes the bar in single-precision float."""
    bar = int(_f32(_f32(_f32(count) / _f32(max_count)) * _BAR_WIDTH))
    return f"{label:<16}{shown:>8} |{'@' * bar:<{_BAR_WIDTH}}|\n"


_SUFFIXES = ((60, "E"), (50, "P"), (40, "T"), (30, "G"), (20, "M"), (10, "K"))


def _hist_label(power: int) -> str:
    """2^power with a K/M/G/T/P/E suffix: 512, 1K, 2M, 4G, 8T, 16P, 4E.

    Up to 2^31 these are 0.17's labels; 0.17 computed them in a C int and
    never needed more, since its hist() stopped at [2G, 4G).
    """
    for shift, suffix in _SUFFIXES:
        if power >= shift:
            return f"{1 << (power - shift)}{suffix}"
    return str(1 << power)


def hist_text(h: Hist, div: int = 1) -> str:
    """The rows of a hist(); counts are divided by `div`, bars are not."""
    span = bucket_span(h.buckets)
    if span is None:
        return ""
    top = max(h.buckets)
    rows = []
    for i in range(span[0], span[1] + 1):
        if i == 0:
            label = "(..., 0)"
        elif i == 1:
            label = "[0]"
        elif i == 2:
            label = "[1]"
        else:
            label = f"[{_hist_label(i - 2)}, {_hist_label(i - 1)})"
        rows.append(_row(label, h.buckets[i], h.buckets[i] // div, top))
    return "".join(rows)


def _lhist_label(n: int) -> str:
    if n != 0 and n % (1 << 20) == 0:
        return f"{n // (1 << 20)}M"
    if n != 0 and n % 1024 == 0:
        return f"{n // 1024}K"
    return str(n)


def lhist_text(h: LHist) -> str:
    """The rows of an lhist(); print()'s div does not apply to it in 0.17."""
    span = bucket_span(h.buckets)
    if span is None:
        return ""
    top = max(h.buckets)
    last = (h.max - h.min) // h.step + 1
    rows = []
    for i in range(span[0], span[1] + 1):
        if i == 0:
            label = f"(..., {_lhist_label(h.min)})"
        elif i == last:
            label = f"[{_lhist_label(h.max)}, ...)"
        else:
            label = f"[{_lhist_label((i - 1) * h.step + h.min)}, {_lhist_label(i * h.step + h.min)})"
        rows.append(_row(label, h.buckets[i], h.buckets[i], top))
    return "".join(rows)

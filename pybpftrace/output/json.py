"""bpftrace 0.17's JSON output (`-f json`): one object per line.

Every line is `{"type": T, "data": ...}` with a space after each colon and
comma, as 0.17 writes them by hand.  Deliberate deviations from 0.17
(tests/golden/README.md): text beyond ASCII is escaped as valid JSON (0.17
wrote `\uffffffXX` for each byte >= 0x80, see json_escape), and hist()
buckets beyond [1G, 2G) get their real bounds.
"""
from __future__ import annotations

from pybpftrace.output.base import Output, bucket_span, key_fields, ordered_entries
from pybpftrace.output.values import (Array, Hist, LHist, MapDump, Pointer, Record, Stack, Tuple,
                                      c_div, format_buffer)

_MAP_TYPE = {"hist": "hist", "lhist": "hist", "avg": "stats", "stats": "stats"}


class JsonOutput(Output):
    def _message(self, kind: str, text: str) -> None:
        self._write(f'{{"type": "{kind}", "data": "{json_escape(text)}"}}\n')

    def attached_probes(self, n: int) -> None:
        self._write(f'{{"type": "attached_probes", "data": {{"probes": {n}}}}}\n')

    def printf(self, text: str) -> None:
        self._message("printf", text)

    def time(self, text: str) -> None:
        self._message("time", text)

    def cat(self, text: str) -> None:
        self._message("cat", text)

    def system(self, text: str) -> None:
        self._message("syscall", text)

    def join(self, text: str) -> None:
        self._message("join", text)

    def lost_events(self, n: int) -> None:
        self._write(f'{{"type": "lost_events", "data": {{"events": {n}}}}}\n')

    def message(self, kind: str, text: str) -> None:
        self._message(kind, text)

    def helper_error(self, helper: str, retcode: int, line: int, col: int, warning: str) -> None:
        self._write(f'{{"type": "helper_error", "helper": "{helper}", "retcode": {retcode}, '
                    f'"line": {line}, "col": {col}}}\n')

    def map(self, dump: MapDump, top: int = 0, div: int = 1) -> None:
        self._write(map_json(dump, top, div))

    def value(self, v) -> None:
        self._write(f'{{"type": "value", "data": {value_json(v)}}}\n')


def json_escape(text: str) -> str:
    """The inside of a JSON string: 0.17's escaping for ASCII, valid JSON beyond it.

    Like 0.17's JsonOutput::json_escape, `"` `\\` \\n \\r \\t get their short
    escapes, other characters <= 0x1f become \\u00XX and the rest of ASCII
    (0x7f included) passes through.  Other characters are escaped as
    json.dumps() does by default: \\uXXXX, a surrogate pair above U+FFFF.
    A byte that was not UTF-8 (a surrogateescape'd U+DC80..U+DCFF, see
    values.py) becomes \\u00XX of the byte, so a parser reads it as the
    Latin-1 character.

    0.17 escaped each byte >= 0x80 as `\\uffffffXX` (a signed char printed
    as an int), which is not JSON; that bug is not reproduced.
    """
    out = []
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o <= 0x1F:
            out.append(f"\\u{o:04x}")
        elif o <= 0x7F:
            out.append(ch)
        elif 0xDC80 <= o <= 0xDCFF:  # a raw byte kept by surrogateescape
            out.append(f"\\u{o - 0xDC00:04x}")
        elif o > 0xFFFF:
            o -= 0x10000
            out.append(f"\\u{0xD800 | (o >> 10):04x}\\u{0xDC00 | (o & 0x3FF):04x}")
        else:
            out.append(f"\\u{o:04x}")
    return "".join(out)


def map_json(dump: MapDump, top: int = 0, div: int = 1) -> str:
    """print(@m, top, div) in JSON mode; an empty map prints nothing.

    Keys are the key fields joined by "," (`"1,abc"`); a scalar map's value
    sits directly under its name.  avg() maps are typed "stats" even though
    their values are plain numbers.
    """
    if not dump.entries:
        return ""
    div = div or 1
    items = []
    for key, value in ordered_entries(dump, top):
        if dump.kind == "hist":
            text = hist_json(value, div)
        elif dump.kind == "lhist":
            text = lhist_json(value)
        elif dump.kind == "stats":
            text = (f'{{"count": {value.count}, "average": {value.average}, '
                    f'"total": {value.total}}}')
        elif dump.kind == "avg":
            text = str(c_div(value.average, div))
        else:
            text = value_json(value, div)
        if key is not None:
            text = f'"{json_escape(",".join(key_fields(key)))}": {text}'
        items.append(text)
    body = ", ".join(items)
    if dump.entries[0][0] is not None:
        body = "{" + body + "}"
    kind = _MAP_TYPE.get(dump.kind, "map")
    return f'{{"type": "{kind}", "data": {{"{json_escape(dump.name)}": {body}}}}}\n'


def value_json(v, div: int = 1) -> str:
    """One value: numbers (pointers too, unsigned) bare, tuples and arrays as
    lists, structs as objects, strings and stacks quoted."""
    if isinstance(v, Pointer):
        return str(v)
    if isinstance(v, int):
        return str(c_div(v, div))
    if isinstance(v, str):
        return f'"{json_escape(v)}"'
    if isinstance(v, bytes):
        return f'"{json_escape(format_buffer(v))}"'
    if isinstance(v, Stack):
        return f'"{json_escape(v.render(8))}"'
    if isinstance(v, Tuple):
        return "[" + ",".join(value_json(x, div) for x in v.items) + "]"
    if isinstance(v, Record):
        return "{ " + ", ".join(f'"{name}": {value_json(x, div)}' for name, x in v.fields) + " }"
    if isinstance(v, Array):
        return "[" + ",".join(value_json(x, div) for x in v.items) + "]"
    raise TypeError(f"cannot print {type(v).__name__}")


def hist_json(h: Hist, div: int = 1) -> str:
    """Buckets as {"min", "max", "count"} with closed bounds.

    Bucket i >= 3 is {"min": 2^(i-2), "max": 2^(i-1) - 1}.  0.17 computed
    these in a C int, which was right only up to [1G, 2G); its one bucket
    beyond, [2G, 4G), read {"min": -2147483648, "max": 0}.
    """
    span = bucket_span(h.buckets)
    if span is None:
        return "[]"
    rows = []
    for i in range(span[0], span[1] + 1):
        if i == 0:
            bounds = '"max": -1, '
        elif i == 1:
            bounds = '"min": 0, "max": 0, '
        elif i == 2:
            bounds = '"min": 1, "max": 1, '
        else:
            bounds = f'"min": {1 << (i - 2)}, "max": {(1 << (i - 1)) - 1}, '
        rows.append(f'{{{bounds}"count": {h.buckets[i] // div}}}')
    return "[" + ", ".join(rows) + "]"


def lhist_json(h: LHist) -> str:
    """Buckets with closed bounds; underflow has only "max", overflow only "min"."""
    span = bucket_span(h.buckets)
    if span is None:
        return "[]"
    last = (h.max - h.min) // h.step + 1
    rows = []
    for i in range(span[0], span[1] + 1):
        if i == 0:
            bounds = f'"max": {h.min - 1}, '
        elif i == last:
            bounds = f'"min": {h.max}, '
        else:
            bounds = f'"min": {(i - 1) * h.step + h.min}, "max": {i * h.step + h.min - 1}, '
        rows.append(f'{{{bounds}"count": {h.buckets[i]}}}')
    return "[" + ", ".join(rows) + "]"

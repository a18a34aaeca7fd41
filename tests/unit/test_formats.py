"""The compiled printf fast path must print exactly what the general formatter prints."""
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpftrace.output.printf import format_printf
from pybpftrace.resources import FormatInfo
from pybpftrace.runtime.formats import compile_printf
from pybpftrace.types import INT64, UINT64, String, Tuple

SPECS = ["%d", "%u", "%x", "%X", "%o", "%ld", "%lld", "%lu", "%llx", "%5d", "%-5d",
         "%08x", "%s", "%10s", "%-10s", "%.3s", "%-6.2s"]


def record(args, values):
    layout = Tuple(*args)
    data = bytearray(8 + layout.byte_size)
    off = 8
    for t, v in zip(args, values):
        if t.kind.value == "int":
            struct.pack_into("<q" if t.signed else "<Q", data, off, v)
            off += 8
        else:
            data[off:off + len(v)] = v
            off += t.size
    return bytes(data), layout


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SPECS), st.integers(-2**31, 2**31 - 1),
                          st.text(alphabet="abcxyz ", max_size=15), st.booleans()),
                min_size=0, max_size=4),
       st.text(alphabet="ab |:", max_size=5))
def test_fast_path_matches_general_formatter(items, sep):
    fmt, args, values, general = "", [], [], []
    for spec, n, s, signed in items:
        fmt += sep + spec
        if spec.endswith("s"):
            args.append(String(16))
            values.append(s.encode())
            general.append(s)
        else:
            args.append(INT64 if signed else UINT64)
            values.append(n if signed else n & (2**64 - 1))
            general.append(n if signed else n & (2**64 - 1))
    fmt += "\n"
    rec, layout = record(args, values)
    fast = compile_printf(FormatInfo(fmt, args, layout if args else None))
    assert fast is not None
    assert fast(rec).decode() == format_printf(fmt, general)


def test_formats_with_quirks_use_the_general_formatter():
    for fmt in ("100%%\n", "%c\n", "%.0d\n", "%p\n", "%hd\n", "%r\n"):
        args = [] if "%%" in fmt else [INT64]
        assert compile_printf(FormatInfo(fmt, args, Tuple(*args) if args else None)) is None

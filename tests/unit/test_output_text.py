"""TextOutput against bpftrace 0.17's text format.

The golden replays rebuild each recorded case from hand-made values and must
reproduce tests/golden/cases/NAME.txt byte for byte.  The other expected
strings here were printed by bpftrace 0.17 too (stack frames from a BEGIN
probe, `Lost`/`Attaching` lines from its source), except where a test says
"Deviation" (see tests/golden/README.md).
"""
import importlib.util
import io
from pathlib import Path

import pytest

from pybpftrace.output.base import cxx_sort, ordered_entries
from pybpftrace.output.text import TextOutput, hist_text, map_text
from pybpftrace.output.values import Hist, MapDump, Stack, Stats, Tuple, hist_index

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
_spec = importlib.util.spec_from_file_location("golden_scenarios", GOLDEN / "scenarios.py")
scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenarios)


def render(fn) -> bytes:
    buf = io.BytesIO()
    fn(TextOutput(buf))
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_golden_replay(name):
    expected = (GOLDEN / "cases" / f"{name}.txt").read_bytes()
    assert render(scenarios.SCENARIOS[name]) == expected


def test_every_golden_case_has_a_replay():
    cases = {p.stem for p in (GOLDEN / "cases").glob("*.bt")}
    assert cases == set(scenarios.SCENARIOS)


# ---- messages ---------------------------------------------------------------

def test_messages():
    def calls(out):
        out.attached_probes(1)
        out.attached_probes(3)
        out.printf("a")
        out.time("04:03:16\n")
        out.cat("x")
        out.system("hi\nx")
        out.join("mkdir -p")
        out.lost_events(7)
    assert render(calls) == (b"Attaching 1 probe...\nAttaching 3 probes...\na04:03:16\n"
                             b"xhi\nxmkdir -p\nLost 7 events\n")


def test_end_separator_goes_to_the_console():
    """With -o FILE, 0.17 still writes the two newlines to stdout."""
    out, console = io.BytesIO(), io.BytesIO()
    TextOutput(out, console).end_separator()
    assert (out.getvalue(), console.getvalue()) == (b"", b"\n\n")


def test_raw_bytes_pass_through():
    buf = io.BytesIO()
    TextOutput(buf).printf(b"\xe9\xff|".decode("utf-8", "surrogateescape"))
    assert buf.getvalue() == b"\xe9\xff|"


# ---- stacks -------------------------------------------------------------------

FRAMES = ("syscall+25", "0x7ffc6cf459d8")


def test_stack_key_is_indented_by_4():
    dump = MapDump("@", "count", [(Stack(FRAMES + ("0x55af9275da60",)), 1)])
    assert map_text(dump) == ("@[\n    syscall+25\n    0x7ffc6cf459d8\n"
                              "    0x55af9275da60\n]: 1\n")


def test_stack_values_are_indented_by_8_one_entry_per_line():
    """Deviation: 0.17 ran stack-valued entries together (`...0x7ffc6cf459d8\n@v[2]: `)."""
    dump = MapDump("@v", "ustack", [(2, Stack(FRAMES)), (1, Stack(FRAMES))])
    one = "\n        syscall+25\n        0x7ffc6cf459d8\n"
    assert map_text(dump) == f"@v[1]: {one}\n@v[2]: {one}\n"


@pytest.mark.parametrize("kind", ["ksym", "usym", "inet"])
def test_symbol_values_one_entry_per_line(kind):
    """Deviation: 0.17 printed `@k[1]: 0x1@k[2]: 0x2`."""
    dump = MapDump("@k", kind, [(2, "b"), (1, "a")])
    assert map_text(dump) == "@k[1]: a\n@k[2]: b\n"


def test_perf_stack():
    perf = Stack(("7f79f0f1f829 syscall+25 (/usr/lib/x86_64-linux-gnu/libc.so.6)",
                  "7ffc6cf459d8 0x7ffc6cf459d8 ([unknown])"), mode="perf")
    assert map_text(MapDump("@p", "count", [(perf, 1)])) == (
        "@p[\n\t7f79f0f1f829 syscall+25 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
        "\t7ffc6cf459d8 0x7ffc6cf459d8 ([unknown])\n]: 1\n")


def test_print_of_a_stack_value():
    buf = io.BytesIO()
    TextOutput(buf).value(Stack(FRAMES))
    assert buf.getvalue() == b"\n        syscall+25\n        0x7ffc6cf459d8\n\n"


def test_missing_stack_prints_nothing():
    assert Stack((), found=False).render(8) == ""
    assert Stack(()).render(8) == "\n"


# ---- ordering -------------------------------------------------------------------

def test_int_keys_sort_unsigned():
    dump = MapDump("@u", "value", [(-1, "neg"), (5, "five"), (0, "zero")])
    assert map_text(dump) == "@u[0]: zero\n@u[5]: five\n@u[-1]: neg\n"


def test_unsigned_values_sort_unsigned():
    dump = MapDump("@u", "value", [(1, 2**63), (2, 5)], signed=False)
    assert [k for k, _ in ordered_entries(dump)] == [2, 1]


def test_multi_key_sorts_by_first_field_then_next():
    dump = MapDump("@m", "value", [(Tuple((2, "a")), "x"), (Tuple((1, "b")), "y"),
                                   (Tuple((1, "a")), "z")])
    assert [k.items for k, _ in ordered_entries(dump)] == [(1, "a"), (1, "b"), (2, "a")]


def test_stats_ignores_top_but_avg_does_not():
    entries = [(k, Stats(1, k)) for k in (1, 2, 3)]
    assert len(ordered_entries(MapDump("@s", "stats", entries), top=1)) == 3
    assert len(ordered_entries(MapDump("@a", "avg", entries), top=1)) == 1


def test_cxx_sort_matches_libstdcxx():
    """Recorded from g++'s std::sort on (i*7)%5 for i < 60 (introsort path)."""
    got = cxx_sort(list(range(60)), key=lambda i: (i * 7) % 5)
    assert got == [15, 30, 35, 25, 40, 20, 45, 50, 10, 5, 0, 55, 13, 8, 28, 33, 58, 3, 23, 38,
                   18, 43, 53, 48, 51, 56, 41, 36, 1, 46, 31, 6, 26, 11, 21, 16, 59, 29, 4, 54,
                   9, 49, 14, 44, 19, 39, 24, 34, 17, 42, 47, 12, 22, 37, 52, 7, 27, 57, 2, 32]


# ---- histograms ---------------------------------------------------------------------

def test_hist_index():
    assert [hist_index(n) for n in (-5, 0, 1, 2, 3, 4, 7, 8)] == [0, 1, 2, 3, 3, 4, 4, 5]
    assert hist_index(2**31 - 1) == 32
    # Deviation: 0.17 capped its log2 at 31 shifts, everything from 2^31 up was bucket 33.
    assert [hist_index(n) for n in (2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1)] == [
        33, 33, 34, 64, 64]


def test_big_hist_labels():
    """Past [1G, 2G) the labels go on with G, T, P and E (0.17 stopped at [2G, 4G))."""
    buckets = [0] * 66
    for i in (32, 33, 34, 42, 52, 62, 64, 65):
        buckets[i] = 1
    labels = [row[:16].rstrip() for row in hist_text(Hist(buckets)).splitlines()
              if not row[16:24].strip() == "0"]
    assert labels == ["[1G, 2G)", "[2G, 4G)", "[4G, 8G)", "[1T, 2T)", "[1P, 2P)", "[1E, 2E)",
                      "[4E, 8E)", "[8E, 16E)"]


def test_hist_rows():
    h = Hist([1, 0, 3] + [0] * 62)
    assert hist_text(h) == (
        "(..., 0)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[0]                    0 |                                                    |\n"
        "[1]                    3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n")


def test_empty_hist_prints_only_its_head():
    dump = MapDump("@h", "hist", [(1, Hist([0] * 65))])
    assert map_text(dump) == "@h[1]: \n\n"


def test_empty_maps():
    assert map_text(MapDump("@c", "count", [])) == "\n"
    assert map_text(MapDump("@h", "hist", [])) == "\n"
    assert map_text(MapDump("@s", "stats", [])) == "\n\n"
    assert map_text(MapDump("@a", "avg", [])) == "\n\n"


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        MapDump("@x", "histogram", [])

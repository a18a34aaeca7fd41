"""Hand-built replays of the golden cases, for the output-layer unit tests.

Each function makes on an Output the calls that the runtime should make when
it runs cases/NAME.bt: printf/print as they happen, then end_separator() and
one map() per map in name order.  Rendered with TextOutput and JsonOutput
they must give cases/NAME.txt and cases/NAME.json byte for byte.  Map
entries are listed in a valid collection order (see MapDump): for hist,
lhist, avg and stats maps that is raw key-byte order, which matters for ties.
"""
from pybpftrace.output.printf import format_printf
from pybpftrace.output.values import (Array, Hist, LHist, MapDump, Record, Stats, Tuple,
                                      hist_index, lhist_index)


def hist(*samples: int) -> Hist:
    buckets = [0] * 65
    for n in samples:
        buckets[hist_index(n)] += 1
    return Hist(buckets)


def lhist(lo: int, hi: int, step: int, *samples: int) -> LHist:
    buckets = [0] * ((hi - lo) // step + 2)
    for n in samples:
        buckets[lhist_index(n, lo, hi, step)] += 1
    return LHist(buckets, lo, hi, step)


def stats(*samples: int) -> Stats:
    return Stats(len(samples), sum(samples))


def scalar(name: str, kind: str, value) -> MapDump:
    return MapDump(name, kind, [(None, value)])


def keyed(name: str, kind: str, entries: dict) -> MapDump:
    return MapDump(name, kind, list(entries.items()))


def finish(out, *dumps: MapDump) -> None:
    out.end_separator()
    for d in dumps:
        out.map(d)


def printfs(out, *calls) -> None:
    for fmt, *args in calls:
        out.printf(format_printf(fmt, args))


def count_ordering(out):
    out.attached_probes(1)
    finish(out, scalar("@", "count", 2),
           keyed("@c", "count", {i * 10: (7 - i) * 2 for i in range(1, 7)}),
           scalar("@single", "count", 1))


def sum_signed(out):
    out.attached_probes(1)
    finish(out, keyed("@s", "sum", {"minus": -57, "zero": 0, "plus": 100, "small": 3}),
           scalar("@total", "sum", -12345678901),
           keyed("@u", "sum", {1: 5, 2: 4000000000, 3: 2}))


def min_max(out):
    out.attached_probes(1)
    finish(out, keyed("@mn", "min", {1: 3, 2: -4, 3: 100}),
           keyed("@mx", "max", {1: 30, 2: 5, 3: 1000}),
           scalar("@mx_negative", "max", -7),  # 0.17 never stored max(-7): fixed
           scalar("@mx_scalar", "max", 42))


def avg_values(out):
    out.attached_probes(1)
    finish(out, keyed("@a", "avg", {"big": stats(1000000), "minus": stats(-10, -5, 0),
                                    "one": stats(1), "seven_halves": stats(3, 4)}),
           scalar("@neg_trunc", "avg", stats(-7, 0)),
           scalar("@scalar", "avg", stats(10, 11, 12)))


def stats_values(out):
    out.attached_probes(1)
    finish(out, scalar("@scalar", "stats", stats(5, 6, 8)),
           keyed("@st", "stats", {1: stats(10, 20), 2: stats(-3, -4), 3: stats(1000),
                                  4: stats(0)}))


def hist_basic(out):
    out.attached_probes(1)
    finish(out, scalar("@h", "hist", hist(*range(100), *(i * i for i in range(100)))))


def hist_negative_zero(out):
    out.attached_probes(1)
    finish(out, scalar("@h", "hist", hist(-1, -1000, -5, 0, 0, 1, 2, 3)),
           scalar("@only_negative", "hist", hist(-3)),
           scalar("@only_zero", "hist", hist(0)))


def hist_large(out):
    out.attached_probes(1)
    finish(out, scalar("@g", "hist", hist(3000000000)),
           scalar("@h", "hist", hist(1023, 1024, 2047, 1048576, 5000000, 1073741824,
                                     2147483648, 4294967296, 1099511627776,
                                     9223372036854775807)))


def hist_keyed(out):
    out.attached_probes(1)
    finish(out, keyed("@h", "hist", {"often": hist(*range(20)), "rare": hist(64),
                                     "some": hist(4, 5, 4096)}),
           keyed("@m", "hist", {Tuple((1, "x")): hist(10), Tuple((2, "y")): hist(10, 10)}))


def hist_ties(out):
    out.attached_probes(1)
    finish(out, keyed("@h", "hist", {i: hist(1) for i in range(40)}),
           keyed("@s", "stats", {i: stats(5) for i in range(40)}))


def lhist_basic(out):
    out.attached_probes(1)
    finish(out, scalar("@l", "lhist", lhist(0, 20, 5, *range(-3, 25))),
           scalar("@mid", "lhist", lhist(10, 30, 5, 3, 17)),
           scalar("@over", "lhist", lhist(0, 10, 1, 10, 100)),
           scalar("@under", "lhist", lhist(0, 10, 1, -1)))


def lhist_labels(out):
    out.attached_probes(1)
    finish(out, keyed("@k", "lhist", {1: lhist(1024, 3072, 1024, 2048),
                                      2: lhist(1024, 3072, 1024, 2100, 1500)}),
           scalar("@l", "lhist", lhist(0, 4096, 512, -5, 0, 1024, 1600, 5000, 5000)),
           scalar("@m", "lhist", lhist(0, 3145728, 1048576, 3, 3145728)))


def multi_key(out):
    out.attached_probes(1)
    finish(out, keyed("@m", "value", {Tuple((2, "a")): "x", Tuple((1, "b")): "y",
                                      Tuple((1, "a")): "z", Tuple((-1, "a")): "w",
                                      Tuple((0, "c")): "v"}),
           keyed("@n", "value", {Tuple((3, 4, "q")): 30, Tuple((1, 2, "p")): 10,
                                 Tuple((5, 6, "r")): 20}))


def strings(out):
    out.attached_probes(1)
    finish(out, keyed("@key", "value", {"x y": 1, "x": 2}),
           scalar("@name", "value", "scalar"),
           keyed("@num", "value", {5: "five", -1: "minus one", 0: "zero", 300: "three hundred"}),
           keyed("@str", "value", {"k": "hello", "j": "world", "a": "", "ab": "with space"}))


def tuples(out):
    out.attached_probes(1)
    out.value(Tuple((1, "a", -3)))
    out.value(Tuple((5, Tuple((6, 7)))))
    finish(out, scalar("@nested", "value", Tuple((1, Tuple((2, "two")), "end"))),
           scalar("@scalar", "value", Tuple((7, "seven"))),
           keyed("@t", "value", {2: Tuple((3, "x", 4)), 1: Tuple((1, "abc", -2))}))


def print_top_div(out):
    out.attached_probes(1)
    c = keyed("@c", "count", {3: 4, 1: 1, 2: 2})
    for top, div in ((0, 1), (2, 1), (0, 2), (1, 3), (10, 1)):
        out.map(c, top, div)
    out.map(keyed("@h", "hist", {1: hist(1), 2: hist(2, 2), 3: hist(100, 100, 100, 1)}), 2, 2)
    out.map(keyed("@l", "lhist", {1: lhist(0, 10, 1, 1), 2: lhist(0, 10, 1, 2, 2)}), 1, 3)
    out.map(keyed("@a", "avg", {1: stats(10), 2: stats(20), 3: stats(30)}), 2, 3)
    out.map(keyed("@s", "value", {"a": "z", "b": "y", "c": "x"}), 2)
    out.map(keyed("@t", "value", {1: Tuple((10, "ten")), 2: Tuple((21, "twenty-one"))}), 0, 2)
    out.map(scalar("@v", "value", -9), 0, 2)
    finish(out, *(MapDump(n, k, []) for n, k in (("@a", "avg"), ("@c", "count"), ("@h", "hist"),
                                                 ("@l", "lhist"), ("@s", "value"),
                                                 ("@t", "value"), ("@v", "value"))))


def print_stats_top(out):
    out.attached_probes(1)
    st = keyed("@st", "stats", {5: stats(10, -3), 6: stats(100), 7: stats(50)})
    out.map(st, 1, 2)
    finish(out, st)


def print_values(out):
    out.attached_probes(1)
    for v in (5, -5, "str", -1, -1, 255, "bpftrace", 42, Tuple(("a", 1))):
        out.value(v)
    finish(out)


def clear_zero(out):
    out.attached_probes(1)
    zeroed = keyed("@h", "hist", {1: Hist([0] * 65), 2: Hist([0] * 65)})
    out.map(zeroed)
    out.map(MapDump("@gone", "value", []))
    out.map(MapDump("@gone_hist", "hist", []))
    out.map(MapDump("@gone_stats", "stats", []))
    out.printf("--\n")
    finish(out, keyed("@a", "avg", {1: Stats(0, 0)}),
           keyed("@c", "count", {1: 0}),
           MapDump("@gone", "value", []),
           MapDump("@gone_hist", "hist", []),
           MapDump("@gone_stats", "stats", []),
           zeroed,
           scalar("@l", "lhist", LHist([0] * 12, 0, 10, 1)),
           scalar("@s", "stats", Stats(0, 0)),
           scalar("@x", "value", 0))


def printf_ints(out):
    out.attached_probes(1)
    printfs(out,
            ("a|%d|%u|%x|%X|%o|%c|%p|\n", -1, -3, 255, 255, 8, 65, 4096),
            ("b|%5d|%-5d|%05d|%.3d|%5.3d|%-08x|\n", 42, 42, 42, 42, 42, 255),
            ("c|%d|%ld|%lld|%lu|%llx|%hd|%hhd|%hu|%hhx|\n", 0x123456789, 0x123456789,
             0x123456789, -1, -1, 70000, 300, -1, 0x1ff),
            ("d|%x|%u|%d|%lx|%lx|\n", -1, -1, 4000000000, -1, 255),
            ("e|%jd|%zd|%td|%jx|%zu|%tX|\n", 0x123456789, 0x123456789, -0x123456789, -1, 77,
             3054),
            ("f|%p|%p|%8p|%-8p|\n", 0, -1, 16, 16),
            ("g|%5c|%-3c|%c%c|\n", 66, 67, 0x41 + 256, 0x42),
            ("h|%.0d|%.0x|%3.0d|%08.3d|%-8d|\n", 0, 0, 0, 7, 7),
            ("i|%lo|%ho|%hho|%10.4lX|\n", -1, -1, -1, 48879))
    finish(out)


def printf_strings(out):
    out.attached_probes(1)
    printfs(out,
            ("a|%s|%10s|%-10s|%.2s|%5.1s|%.0s|\n", *["abc"] * 6),
            ("c|%r|%rx|\n", b"A\x01b\xff", b"A\x01"),
            ("d|%s|%s|\n", "x", ""),
            ("e|%d %s %x|\n", 1, "two", 3),
            ("f|%s|\n", "BEGIN"))
    finish(out)


def printf_quirks(out):
    out.attached_probes(1)
    printfs(out,
            ("a|100%%|%d%%|\n", 5),
            ("b|%%d|\n", 7),
            ("c|100%%\n",),
            ("d|%c|x\n", 0),
            ("e|%10r|%-5rx|\n", b"AB", b"AB"),
            ("f|%%r %r|\n", b"AB", b"CD"),
            ("g|%o|%#o|\n", 8),
            ("h|%5%|%d\n", 1),
            ("no newline at the end",),
            ("\n",),
            ("",),
            ("i|\ttab\\backslash\"quote\n",))
    finish(out)


def map_names(out):
    out.attached_probes(1)
    finish(out, scalar("@", "value", 6), scalar("@Alpha", "value", 2),
           scalar("@_under", "value", 4), scalar("@a1", "value", 5),
           scalar("@alpha", "value", 3), keyed("@beta", "value", {1: 7}),
           scalar("@zeta", "value", 1))


def end_probe(out):
    out.attached_probes(2)
    out.printf("begin\n")
    out.printf("end\n")
    out.map(scalar("@c", "count", 1))
    finish(out, scalar("@c", "count", 1), keyed("@e", "value", {"end": 1}))


def int_types(out):
    out.attached_probes(1)
    finish(out, scalar("@big", "value", -1),
           keyed("@k", "value", {-1: "minus", 3: "three"}),
           keyed("@q", "value", {-1: 1, 3: 2}),
           keyed("@vals", "value", {1: -5, 2: 7, 3: -20}),
           MapDump("@w", "value", [(None, 4000000000)], signed=False),
           scalar("@x", "value", -3),
           MapDump("@y", "value", [(None, 250)], signed=False),
           scalar("@z", "value", -1000))


def json_escapes(out):
    out.attached_probes(1)
    printfs(out, ("quote\" backslash\\ tab\t cr\r ctl\x01\x1f del\x7f\n",), ("utf8 é\n",))
    out.value('x"y')
    finish(out, keyed("@m", "value", {"é": "ü", 'a"b': "c\\d", "new\nline": "t\tab"}))


def buffers(out):
    out.attached_probes(1)
    out.value(b"x\n")
    finish(out, scalar("@b", "value", b'ab\x01\x7f"'), keyed("@k", "value", {b"a\x00b": 1}))


def symbols(out):
    out.attached_probes(1)
    finish(out, keyed("@k", "ksym", {2: "0x2", 1: "0x1"}),
           keyed("@n", "inet", {3: "127.0.0.1", 1: "127.0.0.2"}),
           scalar("@one", "inet", "127.0.0.1"),
           scalar("@v6", "inet", "::1"))


def unroll_loop(out):
    out.attached_probes(1)
    finish(out, keyed("@neg", "value", {i: 100 - 7 * i for i in range(1, 21)}),
           keyed("@sq", "value", {i: i * i for i in range(1, 21)}))


def cat_file(out):
    out.attached_probes(1)
    out.cat("Linux\n")
    out.printf("|\n")
    out.cat("Linux\n")
    finish(out)


def byte_functions(out):
    out.attached_probes(1)
    printfs(out, ("%lx %lx %lx %lx\n", 0x12, 0x3412, 0x44332211, 0x8877665544332211),
            ("%d %d %d %d\n", 1, 0, 1, 1), ("%s [%s]\n", "61:62:01:FE:0A:00", "%"))
    finish(out, keyed("@contains", "value", {"world": 1, "word": 0}),
           MapDump("@swapped", "value", [(2, 4278190079), (1, 513)], signed=False),
           scalar("@t", "value", "42"))


def struct_values(out):
    out.attached_probes(1)
    root = Record((("val", 0),))
    extent = Record((("first", 0), ("lower_first", 0), ("count", 4294967295)))
    unused = Record((("first", 0), ("lower_first", 0), ("count", 0)))
    out.value(root)
    out.value(0)
    out.value(Array((extent, unused, unused, unused, unused)))
    key_extent = Record((("first", 0), ("lower_first", 0), ("count", -1)))  # keys: signed
    finish(out, keyed("@by_gid", "value", {root: 7}),
           keyed("@extents", "value", {key_extent: 1}),
           scalar("@first", "value", extent),
           keyed("@ids", "value", {1: root, 2: root}),
           scalar("@pair", "value", Tuple((root, 5))),
           scalar("@uid", "value", root))


def btf_constants(out):
    out.attached_probes(1)
    out.value(0)
    out.value(11)
    printfs(out, ("%d %d\n", 4, 16), ("%d\n", 8))
    finish(out, keyed("@state", "value", {1: 1, 10: 2}))


SCENARIOS = {f.__name__: f for f in (
    count_ordering, sum_signed, min_max, avg_values, stats_values, hist_basic,
    hist_negative_zero, hist_large, hist_keyed, hist_ties, lhist_basic, lhist_labels,
    multi_key, strings, tuples, print_top_div, print_stats_top, print_values, clear_zero,
    printf_ints, printf_strings, printf_quirks, map_names, end_probe, int_types,
    json_escapes, buffers, symbols, unroll_loop, cat_file, byte_functions, struct_values,
    btf_constants)}

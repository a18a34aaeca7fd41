"""The Output interface, and the entry ordering both output formats share.

The runtime calls one Output for everything a script prints.  TextOutput and
JsonOutput (text.py, json.py) render bpftrace 0.17's two formats.  Streams
are binary so that the bytes a script prints (comm names, strings, %c of any
byte) reach the user unchanged: pass `sys.stdout.buffer`, not `sys.stdout`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import BinaryIO, Callable

from pybpftrace.output.values import (MASK64, Array, MapDump, Pointer, Record, Stack, Tuple,
                                      format_buffer)

# Map kinds whose entries 0.17 orders by value; everything else by key.
_BY_VALUE = {"count", "sum", "min", "max"}


class Output(ABC):
    """Where a running script's output goes; one method per kind of message.

    `out` receives everything; `console` receives only the two newlines that
    precede the exit-time map dump, because 0.17 writes those to stdout even
    with `-o FILE`.
    """

    def __init__(self, out: BinaryIO, console: BinaryIO | None = None) -> None:
        self.out = out
        self.console = out if console is None else console

    def _write(self, text: str, stream: BinaryIO | None = None) -> None:
        """Write and flush at once, as 0.17's std::endl does, so output shows up live."""
        stream = self.out if stream is None else stream
        stream.write(text.encode("utf-8", "surrogateescape"))
        stream.flush()

    def end_separator(self) -> None:
        """The "\\n\\n" 0.17 prints at exit, before the map dump, in both formats."""
        self._write("\n\n", self.console)

    def message(self, kind: str, text: str) -> None:
        """A runtime notice of one of 0.17's message types ("lost_events" for
        watchpoint registers running out): its text, or a JSON message."""
        self._write(text + "\n")

    def helper_error(self, helper: str, retcode: int, line: int, col: int, warning: str) -> None:
        """-k: a helper call failed.  `warning` is the located warning 0.17's
        text output prints (to the output stream, not stderr)."""
        self._write(warning)

    @abstractmethod
    def attached_probes(self, n: int) -> None: ...

    @abstractmethod
    def printf(self, text: str) -> None: ...

    @abstractmethod
    def time(self, text: str) -> None: ...

    @abstractmethod
    def cat(self, text: str) -> None: ...

    @abstractmethod
    def system(self, text: str) -> None: ...

    @abstractmethod
    def join(self, text: str) -> None: ...

    @abstractmethod
    def lost_events(self, n: int) -> None: ...

    @abstractmethod
    def map(self, dump: MapDump, top: int = 0, div: int = 1) -> None:
        """print(@m, top, div) and the exit-time dump of one map."""

    @abstractmethod
    def value(self, v) -> None:
        """print() of anything that is not a map."""


def ordered_entries(dump: MapDump, top: int = 0) -> list[tuple]:
    """The entries of `dump` in 0.17's print order, cut to the last `top` ones.

    Entries go in ascending order, so the biggest comes last: hist/lhist by
    the sum of their buckets, avg/stats by average, count/sum/min/max and
    integer values by value; every other map (strings, tuples, stacks,
    symbols...) by key.  `top` keeps the last N; 0.17 ignores it for stats().
    """
    entries = list(dump.entries)
    kind = dump.kind
    if kind in ("hist", "lhist"):
        entries = cxx_sort(entries, lambda e: e[1].total)
    elif kind in ("avg", "stats"):
        entries = cxx_sort(entries, lambda e: e[1].average)
    elif kind in _BY_VALUE or (kind == "value" and entries and type(entries[0][1]) is int):
        # These come in the kernel's hash order, so 0.17's order of ties is
        # random anyway: a stable C-speed sort is as faithful and much faster
        # than replaying std::sort (maps can hold 100k keys).
        entries.sort(key=(lambda e: e[1]) if dump.signed else (lambda e: e[1] & MASK64))
    else:
        entries = sort_by_key(entries)
    if top and kind != "stats" and len(entries) > top:
        entries = entries[len(entries) - top:]
    return entries


def key_fields(key) -> list[str]:
    """The printed fields of a map key (0.17's MapKey::argument_value_list).

    Stacks in keys are indented by 4, not the 8 of values.
    """
    return [_key_value(f) for f in _fields(key)]


def _key_value(f) -> str:
    """One key field; structs print compactly in keys: `{.a=1,.b=[1,2]}`."""
    if isinstance(f, Stack):
        return f.render(4)
    if isinstance(f, bytes):
        return format_buffer(f)
    if isinstance(f, Record):
        return "{" + ",".join(f".{name}={_key_value(v)}" for name, v in f.fields) + "}"
    if isinstance(f, Array):
        return "[" + ",".join(_key_value(v) for v in f.items) + "]"
    if isinstance(f, Pointer):
        return f.hex()
    return str(f)


def _fields(key) -> tuple:
    return key.items if isinstance(key, Tuple) else (key,)


def bucket_span(buckets: list[int]) -> tuple[int, int] | None:
    """First and last non-zero bucket; 0.17 prints only the buckets between them."""
    used = [i for i, n in enumerate(buckets) if n > 0]
    return (used[0], used[-1]) if used else None


def sort_by_key(entries: list[tuple]) -> list[tuple]:
    """0.17's BPFtrace::sort_by_key: stable sorts from the last key field to the first.

    Integer fields compare as unsigned (so -1 sorts after 5), strings
    bytewise; stacks and buffers are left in map order.  0.17 also leaves
    symbol, inet and username keys in (hash-seeded, so random) map order;
    they are plain strings here and get sorted, which is one of its orders.
    """
    if not entries or entries[0][0] is None:
        return entries
    for i in reversed(range(len(_fields(entries[0][0])))):
        sample = _fields(entries[0][0])[i]
        if isinstance(sample, int):
            entries = sorted(entries, key=lambda e: _fields(e[0])[i] & MASK64)
        elif isinstance(sample, str):
            entries = sorted(entries,
                             key=lambda e: _fields(e[0])[i].encode("utf-8", "surrogateescape"))
    return entries


# ---------------------------------------------------------------------------
# libstdc++'s std::sort, step for step.  0.17 orders entries with std::sort,
# which is not stable; to print ties in the same order we must permute them
# exactly the same way (introsort, median-of-3, heapsort fallback, final
# insertion sort with a 16-element threshold).

_THRESHOLD = 16


def cxx_sort(items: list, key: Callable) -> list:
    """A copy of `items` sorted exactly as std::sort(begin, end, a.key < b.key) would."""
    a = list(items)
    keys = [key(x) for x in a]
    pairs = list(zip(keys, range(len(a))))  # sort (key, original index) slots
    n = len(pairs)
    if n:
        _introsort_loop(pairs, 0, n, 2 * (n.bit_length() - 1))
        _final_insertion_sort(pairs, 0, n)
    return [a[i] for _, i in pairs]


def _less(x, y) -> bool:
    return x[0] < y[0]


def _introsort_loop(a, first, last, depth):
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last)
        _introsort_loop(a, cut, last, depth)
        last = cut


def _partition_pivot(a, first, last):
    mid = first + (last - first) // 2
    _move_median_to_first(a, first, first + 1, mid, last - 1)
    lo, hi = first + 1, last
    while True:
        while _less(a[lo], a[first]):
            lo += 1
        hi -= 1
        while _less(a[first], a[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _move_median_to_first(a, result, x, y, z):
    if _less(a[x], a[y]):
        if _less(a[y], a[z]):
            m = y
        elif _less(a[x], a[z]):
            m = z
        else:
            m = x
    elif _less(a[x], a[z]):
        m = x
    elif _less(a[y], a[z]):
        m = z
    else:
        m = y
    a[result], a[m] = a[m], a[result]


def _final_insertion_sort(a, first, last):
    if last - first > _THRESHOLD:
        _insertion_sort(a, first, first + _THRESHOLD)
        for i in range(first + _THRESHOLD, last):
            _linear_insert(a, i)
    else:
        _insertion_sort(a, first, last)


def _insertion_sort(a, first, last):
    for i in range(first + 1, last):
        if _less(a[i], a[first]):
            a[first:i + 1] = [a[i]] + a[first:i]
        else:
            _linear_insert(a, i)


def _linear_insert(a, last):
    val = a[last]
    while _less(val, a[last - 1]):
        a[last] = a[last - 1]
        last -= 1
    a[last] = val


def _heap_sort(a, first, last):
    """std::__partial_sort(first, last, last): make_heap, then sort_heap."""
    n = last - first
    for parent in range((n - 2) // 2, -1, -1):
        _adjust_heap(a, first, parent, n, a[first + parent])
    while last - first > 1:
        last -= 1
        val = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, val)


def _adjust_heap(a, first, hole, n, val):
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if _less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if n % 2 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and _less(a[first + parent], val):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = val


"""Neutral values: what the runtime decodes map bytes and event records into.

The output layer never sees BPF bytes.  The runtime turns each map, each
print() argument and each printf() argument into the plain values below, and
TextOutput / JsonOutput render them exactly as bpftrace 0.17 does, except
where 0.17 has a plain bug (listed in tests/golden/README.md).

Scalars are ordinary Python values:

* integers are `int`, already decoded with their type's width and sign;
* strings, ksym/usym names, ntop() addresses, usernames, probe names and
  cgroup paths are `str`, decoded as UTF-8 with "surrogateescape" so that
  bytes which are not UTF-8 come back out unchanged;
* buf() values are `bytes`;
* pointers are `Pointer`, an int printed as an unsigned decimal (in map
  keys in hex).

Struct values are `Record`s and arrays (not char arrays, which are strings)
are `Array`s, holding values of the kinds above.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MASK64 = (1 << 64) - 1


class Pointer(int):
    """A pointer value.  As a value (map values, tuple fields, struct
    members) 0.17 prints it in decimal, and so do we, but unsigned:
    18446612687109160960, where 0.17 wrote the signed -131386600390656
    (tests/golden/README.md).  In map keys it is hex (`hex()`), as in 0.17."""

    def __str__(self) -> str:
        return str(self & MASK64)

    def hex(self) -> str:
        return f"0x{self & MASK64:x}"

    __repr__ = __str__


@dataclass(frozen=True, slots=True)
class Record:
    """A struct or union value: (member name, value) pairs, in declaration order."""
    fields: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class Array:
    """An array value, e.g. of a struct's `unsigned long bits[4]`."""
    items: tuple


@dataclass(frozen=True, slots=True)
class Stack:
    """A kstack/ustack.

    `frames` hold the already-symbolised text of each frame, innermost first:
    in "bpftrace" mode `do_syscall_64+115` (or `0x7ffc6cf459d8` when
    unresolved); in "perf" mode the whole line after the tab, i.e.
    `<hex address> <sym+off>` plus ` (<module>)` for user stacks; in "raw"
    mode (later bpftrace) the hex address alone.
    `found` is False when the stack id could not be looked up; 0.17 then
    prints nothing at all, not even the leading newline.
    """
    frames: tuple[str, ...]
    mode: str = "bpftrace"
    found: bool = True

    def render(self, indent: int) -> str:
        """0.17's get_stack(): a newline, then one line per frame.

        bpftrace mode indents each frame by `indent` spaces (8 for values and
        printf, 4 for map keys); perf mode always uses one tab, raw mode none.
        """
        if not self.found:
            return ""
        pad = {"perf": "\t", "raw": ""}.get(self.mode, " " * indent)
        return "\n" + "".join(f"{pad}{f}\n" for f in self.frames)


@dataclass(frozen=True, slots=True)
class Tuple:
    """A tuple value, or the key of a multi-key map (`@m[1, "a"]`)."""
    items: tuple

    def __init__(self, items) -> None:
        object.__setattr__(self, "items", tuple(items))


def format_buffer(data: bytes, keep_ascii: bool = True, escape_hex: bool = True) -> str:
    """A buf() value as 0.17 prints it: printable ASCII kept, other bytes `\\xNN`.

    With keep_ascii=False (printf's %rx) every byte is escaped; with
    escape_hex=False as well (%rh) the bytes are bare hex pairs: `48 65 00`.
    """
    if not escape_hex:
        return " ".join(f"{b:02x}" for b in data)
    return "".join(chr(b) if keep_ascii and 32 <= b <= 126 else f"\\x{b:02x}" for b in data)


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


@dataclass(frozen=True, slots=True)
class Stats:
    """The per-key value of avg() and stats(): a count and a total."""
    count: int
    total: int

    @property
    def average(self) -> int:
        """total / count as 0.17 computes it: C division, 0 for an empty entry."""
        return c_div(self.total, self.count) if self.count else 0


def hist_index(n: int) -> int:
    """The hist() bucket of `n`, as pybpftrace's generated code computes it.

    0 holds negatives, 1 holds zero, 2 holds 1, and bucket i >= 3 holds
    [2^(i-2), 2^(i-1)), up to bucket 64 = [2^62, 2^63) for the largest int64
    (the codegen counts a u64 >= 2^63 as negative, like bpftrace).  Deviation from 0.17, whose log2 shifts by at most
    31 bits and so puts every value >= 2^31 in bucket 33, [2G, 4G)
    (tests/golden/README.md).
    """
    if n < 0:
        return 0
    return n.bit_length() + 1


def lhist_index(n: int, lo: int, hi: int, step: int) -> int:
    """The lhist() bucket of `n`: 0 below `lo`, last at or above `hi`."""
    if n < lo:
        return 0
    if n >= hi:
        return (hi - lo) // step + 1
    return (n - lo) // step + 1


@dataclass(frozen=True, slots=True)
class Hist:
    """A hist() value: `buckets[i]` is the count of bucket i (see hist_index)."""
    buckets: list[int]

    @property
    def total(self) -> int:
        return sum(self.buckets)


@dataclass(frozen=True, slots=True)
class LHist:
    """An lhist() value: buckets[0] underflow, buckets[-1] overflow.

    There are (max - min) // step buckets between them; 0.17 prints bucket i
    as [min + (i-1)*step, min + i*step).
    """
    buckets: list[int]
    min: int
    max: int
    step: int

    @property
    def total(self) -> int:
        return sum(self.buckets)


KINDS = frozenset({"value", "count", "sum", "min", "max", "avg", "stats", "hist", "lhist",
                   "ksym", "usym", "inet", "kstack", "ustack"})


@dataclass(slots=True)
class MapDump:
    """One map, as print(@m) and the exit-time dump see it.

    `name` is "@x" or "@".  `kind` is the value type: an aggregation name,
    one of "ksym", "usym", "inet", "kstack", "ustack", or "value" for
    anything else.

    `entries` are (key, value) pairs; key is None for a scalar map, a single
    value for one key, a Tuple for several keys.  Their order must be the
    order in which 0.17 would have collected them, because 0.17 sorts with
    the unstable std::sort: for hist, lhist, avg and stats that is ascending
    raw key bytes (0.17 gathers them in a std::map), for all others the
    kernel's map iteration order.

    `signed` says whether an integer value type is signed; plain ints are
    ordered as that type (0.17 compares them as int64 or uint64).
    """
    name: str
    kind: str
    entries: list[tuple] = field(default_factory=list)
    signed: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown map kind {self.kind!r}")

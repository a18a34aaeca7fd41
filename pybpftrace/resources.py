"""What the compiler hands the runtime besides BPF bytecode (bpftrace's RequiredResources).

Everything here is plain data: which maps to create and how to decode them,
which asynchronous actions the programs can send and their argument layouts,
and which concrete probes to attach.  The runtime never looks at the AST.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from pybpftrace.diag import Location
from pybpftrace.types import Kind, Type


class Action(IntEnum):
    """Ids of asynchronous events sent through the ring buffer (first u64 of a record).

    printf formats use ids from PRINTF_BASE up, so one table covers all of them.
    """
    EXIT = 1
    PRINT_MAP = 2
    CLEAR = 3
    ZERO = 4
    TIME = 5
    JOIN = 6
    HELPER_ERROR = 7  # -k: a helper call failed (codegen.helper_errors)
    WATCHPOINT_ATTACH = 8  # a watched function was called: watch the address (codegen.watchpoints)
    WATCHPOINT_DETACH = 9  # unwatch(addr)
    SYSTEM_BASE = 1000
    CAT_BASE = 2000
    PRINT_VALUE_BASE = 3000
    PRINTF_BASE = 10000


@dataclass
class MapInfo:
    """One user map.  `key` is None for a scalar map; `value` is the map's value type.

    Aggregations are stored per CPU.  hist/lhist keys carry an extra u64 bucket
    index after the user key, as bpftrace does.
    """
    name: str               # "@x", or "@" for the anonymous map
    key: Type | None
    value: Type
    max_entries: int = 4096
    fd: int = -1            # filled in by the runtime once created

    @property
    def percpu(self) -> bool:
        return self.value.is_aggregation

    @property
    def is_array(self) -> bool:
        """A key-less count(): 0.17 keeps it in a one-entry per-CPU array, so it
        exists (and prints `@: 0`) from the start, and clear() and delete()
        zero it instead of removing it."""
        return self.key is None and self.value.kind is Kind.COUNT

    @property
    def key_size(self) -> int:
        if self.is_array:
            return 4  # an array index; the programs' 8-byte zero key reads as index 0
        size = self.key.byte_size if self.key is not None else 8
        if self.value.kind in (Kind.HIST, Kind.LHIST):
            size += 8
        return size

    @property
    def value_size(self) -> int:
        if self.value.kind in (Kind.HIST, Kind.LHIST, Kind.COUNT, Kind.SUM):
            return 8
        if self.value.kind in (Kind.MIN, Kind.MAX, Kind.AVG, Kind.STATS):
            return 16
        return max(self.value.byte_size, 1)


@dataclass
class FormatInfo:
    """A format string and the types of its arguments, laid out as a tuple after the id."""
    fmt: str
    args: list[Type]
    layout: Type | None = None  # TUPLE of the args (None when there are none)


@dataclass
class ProbeInfo:
    """One concrete attach point, e.g. provider "tracepoint", target "syscalls", func "sys_enter_read"."""
    name: str          # full name as the `probe` builtin prints it
    provider: str
    target: str = ""
    func: str = ""
    freq: int = 0      # interval/profile period in ns or frequency in hz (see unit)
    unit: str = ""
    count: int = 0     # software/hardware sample period
    offset: int = 0    # uprobe/uretprobe: file offset of the probed instruction in `target`
    # watchpoints: the address watched (or, on a function, the argument holding
    # it: FUNC+argN), how many bytes, and the access mode ("w", "rw", "x").
    address: int = 0
    length: int = 0
    mode: str = ""
    pin: str = ""      # iter: where to pin the iterator's link in bpffs instead of running it
    # usdt: the semaphore's file offset (the uprobe's ref_ctr_offset, 0: none) and
    # the location's arguments (semantic.usdt.UsdtArg; None: unparsable specs).
    ref_ctr: int = 0
    usdt_args: tuple | None = ()
    program: int = -1  # index into Resources.programs


@dataclass
class HelperErrorInfo:
    """Where a -k checked helper call is: its name (as 0.17 prints it) and the
    location of the expression or statement that made it."""
    helper: str
    loc: Location


@dataclass
class Resources:
    maps: list[MapInfo] = field(default_factory=list)
    printfs: list[FormatInfo] = field(default_factory=list)
    systems: list[FormatInfo] = field(default_factory=list)
    cats: list[FormatInfo] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)      # separators, by join id
    strftimes: list[str] = field(default_factory=list)  # strftime() formats, by call id
    cgroup_paths: list[str] = field(default_factory=list)  # cgroup_path() filters, by call id
    print_values: list[Type] = field(default_factory=list)
    probes: list[ProbeInfo] = field(default_factory=list)
    helper_errors: list[HelperErrorInfo] = field(default_factory=list)  # by error id
    strlen: int = 64
    legacy_reads: bool = False  # codegen read memory of unknown address space (0.17 warns)

    def map_by_name(self, name: str) -> MapInfo:
        for m in self.maps:
            if m.name == name:
                return m
        raise KeyError(name)

    def map_for(self, ast_name: str) -> MapInfo:
        """The map an AST access names (the AST keeps names without the `@`)."""
        return self.map_by_name("@" + ast_name)

    def map_id(self, name: str) -> int:
        return next(i for i, m in enumerate(self.maps) if m.name == name)

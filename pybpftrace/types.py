"""The BpfScript type model, shared by the semantic passes, codegen and the runtime.

A `Type` is an immutable value.  `kind` says what it is; the other fields only
matter for some kinds (integer width and sign, string/buffer size, tuple
fields, stack mode and limit, lhist bounds).  Sizes are the sizes the value has
in a BPF map or an event record, which is what codegen lays out and the
runtime decodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import NamedTuple


class Kind(Enum):
    NONE = "none"          # statements, calls that return nothing
    INT = "int"
    STRING = "string"
    BUFFER = "buffer"      # buf(): u8 length + bytes
    TUPLE = "tuple"
    PTR = "ptr"            # pointer to `inner` (only int pointers in the core)
    KSTACK = "kstack"
    USTACK = "ustack"
    KSYM = "ksym"          # an address printed as a kernel symbol
    USYM = "usym"
    INET = "inet"          # ntop(): af + 16 bytes
    USERNAME = "username"
    PROBE = "probe"        # probe id, printed as the probe name
    TIMESTAMP = "timestamp"
    CGROUP_PATH = "cgroup_path"
    MAC_ADDRESS = "mac_address"  # macaddr(): 6 bytes
    STRERROR = "strerror"  # strerror(): an errno value, printed as its message
    RECORD = "record"      # a C struct or union (kernel BTF, tracepoint `args`, script structs)
    ARRAY = "array"        # `inner`[size], e.g. pton()'s uint8[4]
    STACK_MODE = "stack mode"  # the `bpftrace` / `perf` argument of kstack()/ustack()
    # map value kinds of aggregation functions
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    STATS = "stats"
    HIST = "hist"
    LHIST = "lhist"


AGGREGATIONS = {Kind.COUNT, Kind.SUM, Kind.MIN, Kind.MAX, Kind.AVG, Kind.STATS, Kind.HIST, Kind.LHIST}


@dataclass(frozen=True, slots=True)
class Type:
    kind: Kind
    bits: int = 64              # INT, and the integer inside SUM/MIN/MAX/AVG/STATS
    signed: bool = False
    size: int = 0               # STRING / BUFFER capacity in bytes; RECORD: sizeof
    fields: tuple["Type", ...] = ()   # TUPLE elements
    inner: "Type | None" = None       # PTR target
    stack_mode: str = "bpftrace"      # KSTACK / USTACK print mode
    stack_limit: int = 127
    lhist: tuple[int, int, int] = (0, 0, 0)  # min, max, step
    hist_bits: int = 0          # hist(n, k): k
    name: str = ""              # RECORD: "struct _tracepoint_syscalls_sys_enter_read"
    ctx: bool = False           # a pointer into the probe context (tracepoint `args`)
    btf_id: int = 0             # RECORD: the kernel BTF type id of a struct/union (0: none)
    # RECORD: the members, when the record's value is stored or printed (empty
    # while it is only navigated).  Derived from name/btf_id, so not compared.
    members: tuple["Member", ...] = field(default=(), compare=False)
    # RECORD: its C alignment, as a tuple lays it out (0: unknown, then guessed from the size).
    record_align: int = field(default=0, compare=False)

    # ---- predicates -------------------------------------------------------
    @property
    def is_int(self) -> bool:
        return self.kind is Kind.INT

    @property
    def is_aggregation(self) -> bool:
        return self.kind in AGGREGATIONS

    # ---- layout -----------------------------------------------------------
    @property
    def byte_size(self) -> int:
        """Size of the value as stored in a map key/value or an event record."""
        k = self.kind
        if k is Kind.INT:
            return self.bits // 8
        if k is Kind.STRING:
            return self.size
        if k is Kind.BUFFER:
            return 8 + self.size  # u8 length, padded to 8, then the bytes
        if k is Kind.TUPLE:
            return tuple_layout(self)[1]
        if k is Kind.INET:
            return 24  # u64 af, 16 bytes address
        if k is Kind.USTACK or k is Kind.USYM:
            return 16  # u64 stack id or address, u64 pid (user symbols are per process)
        if k is Kind.TIMESTAMP or k is Kind.CGROUP_PATH:
            return 16  # u64 strftime()/cgroup_path() call id, u64 nsecs / cgroup id
        if k is Kind.MAC_ADDRESS:
            return 6
        if k is Kind.AVG or k is Kind.STATS:
            return 16  # count, total
        if k is Kind.ARRAY:
            return self.size * (self.inner.byte_size if self.inner is not None else 1)
        if k is Kind.RECORD:
            return self.size
        if k is Kind.NONE:
            return 0
        return 8

    @property
    def align(self) -> int:
        if self.kind is Kind.INT:
            return self.bits // 8
        if self.kind is Kind.STRING or self.kind is Kind.MAC_ADDRESS:
            return 1
        if self.kind is Kind.TUPLE:
            return max((f.align for f in self.fields), default=1)
        if self.kind is Kind.ARRAY:
            return self.inner.align if self.inner is not None else 1
        if self.kind is Kind.RECORD:  # else the largest power of 2 in the size
            return self.record_align or (min(self.size & -self.size, 8) if self.size else 1)
        return 8

    def __str__(self) -> str:
        return describe(self)


class Member(NamedTuple):
    """A member of a record value: where its bytes are and how to read them.

    `offset` is in bytes from the start of the record.  A bitfield has `bits`
    > 0: its value is the `bits` bits starting `bit_offset` (0-7) bits into
    the little-endian bytes at `offset`."""
    name: str
    type: Type
    offset: int
    bit_offset: int = 0
    bits: int = 0


@lru_cache(maxsize=None)
def tuple_layout(t: Type) -> tuple[list[int], int]:
    """Field offsets and total size of a tuple: C struct layout, padded to its alignment."""
    offsets, off = [], 0
    for f in t.fields:
        a = f.align
        off = (off + a - 1) // a * a
        offsets.append(off)
        off += f.byte_size
    a = t.align
    return offsets, (off + a - 1) // a * a


def Int(bits: int = 64, signed: bool = True) -> Type:
    return Type(Kind.INT, bits=bits, signed=signed)


def String(size: int) -> Type:
    return Type(Kind.STRING, size=size)


def Tuple(*fields: Type) -> Type:
    return Type(Kind.TUPLE, fields=tuple(fields))


NONE = Type(Kind.NONE)
INT64 = Int(64, True)
UINT64 = Int(64, False)
UINT32 = Int(32, False)
INT32 = Int(32, True)


# ---- bpftrace 0.17's names of types (messages and -d output) ------------------

_TYPESTR = {Kind.INT: "integer", Kind.PTR: "pointer", Kind.STRING: "string", Kind.BUFFER: "buffer",
            Kind.TUPLE: "tuple"}


def typestr(t: Type) -> str:
    """The name of a type's kind (0.17's `typestr(Type)`): "integer", "string", "count"."""
    return _TYPESTR.get(t.kind, t.kind.value)


def describe(t: Type) -> str:
    """A sized type as 0.17 prints it in messages: "unsigned int64", "string[16]", "(int64,int8)"."""
    k = t.kind
    if k is Kind.RECORD:
        return t.name
    if k is Kind.PTR:
        inner = describe(t.inner) if t.inner is not None else "void"
        return ("(ctx) " if t.ctx else "") + inner + " *"
    if k is Kind.INT:
        return f"{'' if t.signed else 'unsigned '}int{t.bits}"
    if k is Kind.ARRAY:
        return f"{describe(t.inner)}[{t.size}]"
    if k is Kind.STRING:
        return f"string[{t.size}]"
    if k is Kind.BUFFER:
        return f"buffer[{t.size + 1}]"  # 0.17 counts the length byte
    if k is Kind.TUPLE:
        return "(" + ",".join(describe(f) for f in t.fields) + ")"
    return typestr(t)

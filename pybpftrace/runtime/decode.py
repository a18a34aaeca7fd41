"""Raw map and event bytes -> the neutral values of output.values.

Layouts come from `types.tuple_layout`, the same function codegen used to lay
the bytes out, so encoder and decoder cannot drift apart.
"""
from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from typing import Callable

from pybpftrace.output.values import (Array, Hist, LHist, MapDump, Pointer, Record, Stack, Stats,
                                     Tuple)
from pybpftrace.resources import MapInfo
from pybpftrace.types import Kind, Type, tuple_layout


class Symbolizer:
    """Turns addresses, stack ids and probe ids into text; supplied by the session."""

    def ksym(self, addr: int) -> str:
        return hex(addr)

    def usym(self, addr: int, pid: int) -> str:
        return hex(addr)

    def stack(self, t: Type, stack_id: int, pid: int) -> Stack:
        return Stack((), t.stack_mode, found=False)

    def probe(self, probe_id: int) -> str:
        return str(probe_id)

    def timestamp(self, strftime_id: int, nsecs: int) -> str:
        return str(nsecs)

    def cgroup_path(self, path_id: int, cgroup_id: int) -> str:
        return str(cgroup_id)


def decode(t: Type, data: bytes | memoryview, sym: Symbolizer, off: int = 0):
    """The value of type `t` stored at data[off:]."""
    return decoder(t, sym)(data, off)


_DECODERS: dict[tuple[Type, int], Callable] = {}


def decoder(t: Type, sym: Symbolizer) -> Callable:
    """A function (data, off) -> value for type `t`, built once per type.

    Map dumps decode every key of maps with 100k entries, so integers and
    strings are read with one precompiled struct per tuple, not field by field.
    """
    key = (t, id(sym))
    fn = _DECODERS.get(key)
    if fn is None:
        fn = _DECODERS[key] = _build(t, sym)
    return fn


def _build(t: Type, sym: Symbolizer) -> Callable:
    k = t.kind
    if k is Kind.INT:
        unpack = struct.Struct("<" + _INT_CODES[(t.bits, t.signed)]).unpack_from
        return lambda data, off: unpack(data, off)[0]
    if k is Kind.USERNAME:  # a uid, named as getpwuid() names it
        return lambda data, off: _username(int.from_bytes(data[off:off + 8], "little"))
    if k is Kind.STRING:
        size = t.size
        return lambda data, off: bytes(data[off:off + size]).split(b"\0", 1)[0].decode(
            "utf-8", "surrogateescape")
    if k is Kind.TUPLE:
        offs, _ = tuple_layout(t)
        if all(f.kind in (Kind.INT, Kind.STRING) for f in t.fields):
            return _flat_tuple(t, offs)
        parts = [(decoder(f, sym), o) for f, o in zip(t.fields, offs)]
        return lambda data, off: Tuple(fn(data, off + o) for fn, o in parts)
    if k is Kind.BUFFER:
        size = t.size
        return lambda data, off: bytes(
            data[off + 8:off + 8 + min(int.from_bytes(data[off:off + 8], "little"), size)])
    if k is Kind.INET:
        return _inet
    if k is Kind.RECORD:
        return _record(t, sym)
    if k is Kind.ARRAY:
        elem, step, n = decoder(t.inner, sym), t.inner.byte_size, t.size
        return lambda data, off: Array(tuple(elem(data, off + i * step) for i in range(n)))
    if k is Kind.MAC_ADDRESS:  # strings; 0.17 wrote these three bare in JSON
        return lambda data, off: ":".join(f"{b:02X}" for b in data[off:off + 6])
    if k is Kind.TIMESTAMP:
        return lambda data, off: sym.timestamp(*struct.unpack_from("<QQ", data, off))
    if k is Kind.CGROUP_PATH:
        return lambda data, off: sym.cgroup_path(*struct.unpack_from("<QQ", data, off))
    u64 = struct.Struct("<Q").unpack_from
    if k is Kind.KSYM:
        return lambda data, off: sym.ksym(u64(data, off)[0])
    if k is Kind.USYM:
        return lambda data, off: sym.usym(u64(data, off)[0], u64(data, off + 8)[0])
    if k is Kind.PROBE:
        return lambda data, off: sym.probe(u64(data, off)[0])
    if k is Kind.STRERROR:  # C's strerror() takes an int
        i32 = struct.Struct("<i").unpack_from
        return lambda data, off: os.strerror(i32(data, off)[0])
    if k is Kind.KSTACK:
        return lambda data, off: sym.stack(t, u64(data, off)[0], 0)
    if k is Kind.USTACK:
        return lambda data, off: sym.stack(t, u64(data, off)[0], u64(data, off + 8)[0])
    if k is Kind.PTR:
        return lambda data, off: Pointer(u64(data, off)[0])
    return lambda data, off: u64(data, off)[0]


def _record(t: Type, sym: Symbolizer) -> Callable:
    """A struct value: each member at its offset; bitfields shifted and masked."""
    parts = []
    for m in t.members:
        if m.bits:
            parts.append((m.name, _bitfield(m.bit_offset, m.bits, m.type), m.offset))
        else:
            parts.append((m.name, decoder(m.type, sym), m.offset))
    return lambda data, off: Record(tuple((name, fn(data, off + o)) for name, fn, o in parts))


def _bitfield(bit: int, bits: int, t: Type) -> Callable:
    """A bitfield's value as a member access reads it (codegen.lower.bitfield):
    zero-extended unless the field is as wide as its signed type."""
    nbytes, mask = (bit + bits + 7) // 8, (1 << bits) - 1
    signed = t.signed and bits == t.bits

    def decode_bitfield(data, off):
        v = int.from_bytes(data[off:off + nbytes], "little") >> bit & mask
        return v - (1 << bits) if signed and v >> (bits - 1) else v
    return decode_bitfield


_INT_CODES = {(8, True): "b", (8, False): "B", (16, True): "h", (16, False): "H",
              (32, True): "i", (32, False): "I", (64, True): "q", (64, False): "Q"}


def _flat_tuple(t: Type, offs: list[int]) -> Callable:
    codes, pos, strings = ["<"], 0, []
    for i, (f, o) in enumerate(zip(t.fields, offs)):
        if o > pos:
            codes.append(f"{o - pos}x")
        if f.kind is Kind.INT:
            codes.append(_INT_CODES[(f.bits, f.signed)])
            pos = o + f.bits // 8
        else:
            codes.append(f"{f.size}s")
            pos = o + f.size
            strings.append(i)
    unpack = struct.Struct("".join(codes)).unpack_from
    if not strings:
        return lambda data, off: Tuple(unpack(data, off))

    def decode_tuple(data, off):
        items = list(unpack(data, off))
        for i in strings:
            items[i] = items[i].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        return Tuple(items)
    return decode_tuple


def _inet(data, off):
    """ntop()'s address; empty for a family other than AF_INET(6), as in 0.17."""
    family = int.from_bytes(data[off:off + 4], "little")  # 0.17 passes it on as an int
    if family not in (socket.AF_INET, socket.AF_INET6):
        return ""
    size = 16 if family == socket.AF_INET6 else 4
    return socket.inet_ntop(family, bytes(data[off + 8:off + 8 + size]))


def map_kind(t: Type) -> str:
    """The MapDump kind 0.17 uses for a map whose values have type t."""
    if t.is_aggregation:
        return t.kind.value
    if t.kind in (Kind.KSYM, Kind.USYM, Kind.KSTACK, Kind.USTACK, Kind.INET):
        return t.kind.value
    return "value"


@dataclass
class RawMap:
    """A map's contents as read in bulk: `count` keys packed in `keys`, their values
    in `values`, `stride` bytes apart (all CPUs' slots of an entry for per-CPU maps)."""
    keys: bytes
    values: bytes
    count: int
    stride: int
    ncpus: int


def _percpu(raw: RawMap, fields: str) -> list[tuple]:
    """Each entry's per-CPU slots unpacked with `fields` (a struct format per slot)."""
    slot = raw.stride // raw.ncpus
    pad = slot - struct.calcsize("<" + fields)
    fmt = "<" + (fields + (f"{pad}x" if pad else "")) * raw.ncpus
    return list(struct.iter_unpack(fmt, raw.values)) if raw.count else []


def dump_map(info: MapInfo, raw: RawMap, sym: Symbolizer) -> MapDump:
    """A MapDump of a map read in bulk; per-CPU values are merged here."""
    t = info.value
    kind = t.kind
    dump = MapDump(info.name, map_kind(t), signed=t.signed if t.is_int or t.is_aggregation else True)
    ks, n = info.key_size, raw.count
    if kind in (Kind.HIST, Kind.LHIST):
        return _dump_hist(info, raw, sym, dump)
    if info.key is None:
        keys = [None] * n
    else:
        key_decoder = decoder(info.key, sym)
        keys = [key_decoder(raw.keys, i * ks) for i in range(n)]
    sign = "q" if t.signed else "Q"
    if kind in (Kind.COUNT, Kind.SUM):
        dump.entries = [(k, _wrap(sum(v), t.signed)) for k, v in zip(keys, _percpu(raw, sign))]
    elif kind in (Kind.MIN, Kind.MAX):
        pick = min if kind is Kind.MIN else max
        for k, slots in zip(keys, _percpu(raw, sign + "Q")):
            present = [slots[i] for i in range(0, len(slots), 2) if slots[i + 1]]
            if present:
                dump.entries.append((k, pick(present)))
    elif kind in (Kind.AVG, Kind.STATS):
        # 0.17 collects these in a std::map: the order of raw key bytes.
        order = sorted(range(n), key=lambda i: raw.keys[i * ks:(i + 1) * ks])
        slots = _percpu(raw, "Q" + sign)
        dump.entries = [(keys[i], Stats(sum(slots[i][0::2]), sum(slots[i][1::2]))) for i in order]
    else:
        value_decoder = decoder(t, sym)
        dump.entries = [(k, value_decoder(raw.values, i * raw.stride)) for i, k in enumerate(keys)]
    return dump


def _dump_hist(info: MapInfo, raw: RawMap, sym: Symbolizer, dump: MapDump) -> MapDump:
    """hist/lhist keys end in a u64 bucket index: group the buckets by user key."""
    t = info.value
    ks = info.key_size
    user = ks - 8
    nbuckets = 66 if t.kind is Kind.HIST else (t.lhist[1] - t.lhist[0]) // t.lhist[2] + 2
    grouped: dict[bytes, list[int]] = {}
    for i, slots in enumerate(_percpu(raw, "Q")):
        key = raw.keys[i * ks:(i + 1) * ks]
        bucket = int.from_bytes(key[user:], "little")
        counts = grouped.setdefault(key[:user], [0] * nbuckets)
        if bucket < nbuckets:
            counts[bucket] += sum(slots)
    key_decoder = decoder(info.key, sym) if info.key is not None else (lambda data, off: None)
    for user_key in sorted(grouped):
        counts = grouped[user_key]
        value = Hist(counts) if t.kind is Kind.HIST else LHist(counts, *t.lhist)
        dump.entries.append((key_decoder(user_key, 0), value))
    return dump


def _wrap(v: int, signed: bool) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if signed and v >> 63 else v


def _username(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)

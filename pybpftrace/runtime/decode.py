"""Raw map and event bytes -> the neutral values of output.values.

Layouts come from `types.tuple_layout`, the same function codegen used to lay
the bytes out, so encoder and decoder cannot drift apart.
"""
from __future__ import annotations

import socket

from pybpftrace.output.values import Hist, LHist, MapDump, Stack, Stats, Tuple
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


def decode(t: Type, data: bytes | memoryview, sym: Symbolizer, off: int = 0):
    """The value of type `t` stored at data[off:]."""
    k = t.kind
    if k is Kind.INT:
        return int.from_bytes(data[off:off + t.bits // 8], "little", signed=t.signed)
    if k in (Kind.STRING, Kind.USERNAME):
        raw = bytes(data[off:off + t.size])
        return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    if k is Kind.TUPLE:
        offs, _ = tuple_layout(t)
        return Tuple(decode(f, data, sym, off + o) for f, o in zip(t.fields, offs))
    if k is Kind.BUFFER:
        n = int.from_bytes(data[off:off + 8], "little")
        return bytes(data[off + 8:off + 8 + min(n, t.size)])
    u64 = int.from_bytes(data[off:off + 8], "little")
    if k is Kind.INET:
        family = socket.AF_INET6 if u64 == socket.AF_INET6 else socket.AF_INET
        size = 16 if family == socket.AF_INET6 else 4
        return socket.inet_ntop(family, bytes(data[off + 8:off + 8 + size]))
    if k is Kind.KSYM:
        return sym.ksym(u64)
    if k is Kind.USYM:
        return sym.usym(u64, 0)
    if k is Kind.PROBE:
        return sym.probe(u64)
    if k is Kind.KSTACK:
        return sym.stack(t, u64, 0)
    if k is Kind.USTACK:
        return sym.stack(t, u64, int.from_bytes(data[off + 8:off + 16], "little"))
    if k is Kind.PTR:
        return u64
    return u64


def _percpu_u64(values, off: int = 0, signed: bool = False) -> list[int]:
    return [int.from_bytes(v[off:off + 8], "little", signed=signed) for v in values]


def map_kind(t: Type) -> str:
    """The MapDump kind 0.17 uses for a map whose values have type t."""
    if t.is_aggregation:
        return t.kind.value
    if t.kind in (Kind.KSYM, Kind.USYM, Kind.KSTACK, Kind.USTACK, Kind.INET):
        return t.kind.value
    return "value"


def dump_map(info: MapInfo, items: list[tuple[bytes, object]], sym: Symbolizer) -> MapDump:
    """A MapDump of a map's raw (key, value) pairs; per-CPU values are merged here."""
    t = info.value
    kind = t.kind
    dump = MapDump(info.name, map_kind(t), signed=t.signed if t.is_int or t.is_aggregation else True)
    key_of = (lambda raw: None) if info.key is None else (lambda raw: decode(info.key, raw, sym))
    if kind in (Kind.HIST, Kind.LHIST):
        ksize = info.key_size - 8
        nbuckets = 66 if kind is Kind.HIST else (t.lhist[1] - t.lhist[0]) // t.lhist[2] + 2
        grouped: dict[bytes, list[int]] = {}
        for raw_key, values in items:
            bucket = int.from_bytes(raw_key[ksize:ksize + 8], "little")
            counts = grouped.setdefault(bytes(raw_key[:ksize]), [0] * nbuckets)
            if bucket < nbuckets:
                counts[bucket] += sum(_percpu_u64(values))
        for raw_key in sorted(grouped):
            counts = grouped[raw_key]
            value = Hist(counts) if kind is Kind.HIST else LHist(counts, *t.lhist)
            dump.entries.append((key_of(raw_key), value))
        return dump
    if kind in (Kind.AVG, Kind.STATS):
        for raw_key, values in sorted(items, key=lambda kv: bytes(kv[0])):
            count = sum(_percpu_u64(values, 0))
            total = sum(_percpu_u64(values, 8, signed=t.signed))
            dump.entries.append((key_of(raw_key), Stats(count, total)))
        return dump
    for raw_key, value in items:
        if kind in (Kind.COUNT, Kind.SUM):
            v = sum(_percpu_u64(value, 0, signed=t.signed))
            v = _wrap(v, t.signed)
        elif kind in (Kind.MIN, Kind.MAX):
            present = [int.from_bytes(x[0:8], "little", signed=t.signed)
                       for x in value if int.from_bytes(x[8:16], "little")]
            if not present:
                continue
            v = min(present) if kind is Kind.MIN else max(present)
        else:
            v = decode(t, value, sym)
        dump.entries.append((key_of(raw_key), v))
    return dump


def _wrap(v: int, signed: bool) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if signed and v >> 63 else v

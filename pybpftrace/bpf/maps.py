"""BPF maps: create, read and write them from user space.

Keys and values are raw bytes; decoding them is the runtime's job.  Per-CPU
maps (`uapi.PERCPU_MAP_TYPES`) hold one value per possible CPU: the kernel
copies them out as consecutive slots of roundup(value_size, 8) bytes, and this
module hands them back as a list with one `value_size` bytes entry per CPU.

Whole-map reads go through BPF_MAP_LOOKUP_BATCH, one syscall per few thousand
entries, because bpftrace prints maps with 100k+ keys; map types without
batch support fall back to GET_NEXT_KEY + LOOKUP per key.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
from typing import Iterator, Sequence

from pybpftrace.bpf import sys, uapi
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import Cmd, MapType

# Entries per batch syscall: big enough that 100k keys take ~25 calls, small
# enough that the buffers stay a few MiB.
BATCH_ENTRIES = 4096

# errnos meaning "this map type has no batch operations".
_NO_BATCH = (errno.EINVAL, errno.EOPNOTSUPP, uapi.ENOTSUPP)

Value = bytes | list[bytes]


def parse_cpu_list(text: str) -> list[int]:
    """'0-3,5' -> [0, 1, 2, 3, 5] (the sysfs cpu list format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


@functools.cache
def possible_cpus() -> list[int]:
    """CPUs the kernel keeps per-CPU map slots for."""
    with open("/sys/devices/system/cpu/possible") as f:
        return parse_cpu_list(f.read())


def online_cpus() -> list[int]:
    """CPUs that can take a per-CPU perf event right now."""
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())


def _addr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


class Map:
    """A BPF map: owns its fd (close() or use as a context manager)."""

    def __init__(self, fd: int, map_type: int, key_size: int, value_size: int,
                 max_entries: int, name: str = ""):
        self.fd = fd
        self.map_type = MapType(map_type)
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.name = name or f"fd {fd}"
        self.percpu = self.map_type in uapi.PERCPU_MAP_TYPES
        self.ncpus = len(possible_cpus()) if self.percpu else 1
        self._slot = (value_size + 7) & ~7 if self.percpu else value_size
        self._batch_ok = True  # until the kernel says this map type has no batch ops

    @classmethod
    def create(cls, map_type: int, key_size: int, value_size: int, max_entries: int,
               name: str = "", flags: int = 0) -> "Map":
        """BPF_MAP_CREATE.  `name` is for messages ("@x"); the kernel gets uapi.obj_name(name)."""
        attr = uapi.MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size,
                                  max_entries=max_entries, map_flags=flags,
                                  map_name=uapi.obj_name(name))
        fd = sys.bpf(Cmd.MAP_CREATE, attr, f"create map {name or MapType(map_type).name}")
        return cls(fd, map_type, key_size, value_size, max_entries, name)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Map":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Map {self.name} {self.map_type.name} fd={self.fd}>"

    # ---- single elements -------------------------------------------------

    def lookup(self, key: bytes) -> Value | None:
        """The value at `key` (a per-CPU list for per-CPU maps), or None if absent."""
        kbuf, vbuf = self._key_buf(key), self._value_buf(1)
        try:
            self._elem(Cmd.MAP_LOOKUP_ELEM, kbuf, vbuf, 0, "look up in")
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return self._decode(vbuf.raw)

    def update(self, key: bytes, value: Value, flags: int = uapi.BPF_ANY) -> None:
        """Store `value`; for per-CPU maps a single bytes value goes to every CPU."""
        self._elem(Cmd.MAP_UPDATE_ELEM, self._key_buf(key), self._encode([value]), flags,
                   "update")

    def delete(self, key: bytes) -> bool:
        """Remove `key`; False if it was not there."""
        try:
            self._elem(Cmd.MAP_DELETE_ELEM, self._key_buf(key), None, 0, "delete from")
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return False
            raise
        return True

    def keys(self) -> Iterator[bytes]:
        """Iterate the keys with GET_NEXT_KEY (one syscall per key)."""
        prev, nxt = None, ctypes.create_string_buffer(self.key_size)
        while True:
            try:
                self._elem(Cmd.MAP_GET_NEXT_KEY, prev, nxt, 0, "iterate")
            except BpfError as e:
                if e.errno == errno.ENOENT:
                    return
                raise
            yield nxt.raw
            prev, nxt = nxt, ctypes.create_string_buffer(self.key_size)

    def freeze(self) -> None:
        """Make the map read-only for user space (needed for BPF_F_RDONLY_PROG
        data such as bpf_snprintf formats)."""
        sys.bpf(Cmd.MAP_FREEZE, uapi.FdAttr(fd=self.fd), f"freeze map {self.name}")

    # ---- whole map -------------------------------------------------------

    def items(self) -> list[tuple[bytes, Value]]:
        """Every (key, value) pair, read in batches where the map type allows it."""
        pairs = self._batched(Cmd.MAP_LOOKUP_BATCH, "read")
        if pairs is not None:
            return pairs
        return [(k, v) for k in self.keys() if (v := self.lookup(k)) is not None]

    def clear(self) -> None:
        """Delete every entry; array entries cannot be deleted, so they are zeroed."""
        if self.map_type in uapi.ARRAY_MAP_TYPES:
            self.zero()
        elif self._batched(Cmd.MAP_LOOKUP_AND_DELETE_BATCH, "clear") is None:
            for key in list(self.keys()):
                self.delete(key)

    def zero(self) -> None:
        """Set every value to zero and keep the keys."""
        if self.map_type in uapi.ARRAY_MAP_TYPES:
            keys = [i.to_bytes(4, "little") for i in range(self.max_entries)]
        else:
            keys = [k for k, _ in self.items()]
        if self._batch_ok:
            try:
                self._zero_batch(keys)
                return
            except BpfError as e:
                if e.errno not in _NO_BATCH:
                    raise
                self._batch_ok = False
        zero = bytes(self.value_size)
        for key in keys:
            self.update(key, zero)

    # ---- internals -------------------------------------------------------

    def _key_buf(self, key: bytes):
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key is {len(key)} bytes, expected {self.key_size}")
        return ctypes.create_string_buffer(key, self.key_size)

    def _value_buf(self, n: int):
        return ctypes.create_string_buffer(n * self.ncpus * self._slot)

    def _encode(self, values: Sequence[Value]):
        """Values -> one buffer of kernel value slots (per-CPU maps: ncpus slots each)."""
        pad = bytes(self._slot - self.value_size)
        parts = []
        for value in values:
            per_cpu = [value] * self.ncpus if isinstance(value, (bytes, bytearray)) else value
            if len(per_cpu) != self.ncpus or any(len(v) != self.value_size for v in per_cpu):
                raise ValueError(f"map {self.name}: value must be {self.value_size} bytes"
                                 + (f" (or a list of {self.ncpus})" if self.percpu else ""))
            for v in per_cpu:
                parts += (v, pad)
        size = len(values) * self.ncpus * self._slot
        return ctypes.create_string_buffer(b"".join(parts), size)

    def _decode(self, raw: bytes) -> Value:
        if not self.percpu:
            return raw[:self.value_size]
        slot, size = self._slot, self.value_size
        return [raw[i * slot:i * slot + size] for i in range(self.ncpus)]

    def _elem(self, cmd: Cmd, key, value, flags: int, verb: str) -> None:
        attr = uapi.MapElemAttr(map_fd=self.fd, key=_addr(key), value=_addr(value), flags=flags)
        sys.bpf(cmd, attr, f"{verb} map {self.name}")

    def _batched(self, cmd: Cmd, verb: str) -> list[tuple[bytes, Value]] | None:
        """Every (key, value) pair by a LOOKUP(_AND_DELETE)_BATCH loop; None if the
        map type has no batch support."""
        chunks = self._batch_chunks(cmd, verb)
        if chunks is None:
            return None
        ks, vs = self.key_size, self.ncpus * self._slot
        pairs: list[tuple[bytes, Value]] = []
        for kraw, vraw, count in chunks:
            if self.percpu:
                pairs.extend((kraw[i * ks:(i + 1) * ks], self._decode(vraw[i * vs:(i + 1) * vs]))
                             for i in range(count))
            else:
                pairs.extend((kraw[i * ks:(i + 1) * ks], vraw[i * vs:(i + 1) * vs])
                             for i in range(count))
        return pairs

    def items_raw(self) -> tuple[bytes, bytes, int]:
        """All keys and all values as two packed blobs, and the entry count: entry i
        is keys[i*key_size:] and values[i*value_stride:].  For decoding big maps in
        bulk (struct.iter_unpack) instead of one Python object per value and CPU."""
        chunks = self._batch_chunks(Cmd.MAP_LOOKUP_BATCH, "read")
        if chunks is None:
            pairs = self.items()
            pad = bytes(self._slot - self.value_size)
            values = [b"".join(v + pad for v in value) if self.percpu else value for _, value in pairs]
            return b"".join(k for k, _ in pairs), b"".join(values), len(pairs)
        return (b"".join(k for k, _, _ in chunks), b"".join(v for _, v, _ in chunks),
                sum(n for _, _, n in chunks))

    @property
    def value_stride(self) -> int:
        """Bytes per entry in items_raw()'s value blob."""
        return self.ncpus * self._slot

    def _batch_chunks(self, cmd: Cmd, verb: str) -> list[tuple[bytes, bytes, int]] | None:
        """The raw (keys, values, count) of each batch of a whole-map batch loop."""
        if not self._batch_ok:
            return None
        n = max(1, min(BATCH_ENTRIES, self.max_entries))
        ks, vs = self.key_size, self.ncpus * self._slot
        keys, values = ctypes.create_string_buffer(n * ks), self._value_buf(n)
        # The batch token is a u32 bucket index for hashes and a key for arrays.
        token_in = ctypes.create_string_buffer(max(ks, 8))
        token_out = ctypes.create_string_buffer(max(ks, 8))
        chunks: list[tuple[bytes, bytes, int]] = []
        first, done = True, False
        while not done:
            attr = uapi.MapBatchAttr(in_batch=0 if first else ctypes.addressof(token_in),
                                     out_batch=ctypes.addressof(token_out),
                                     keys=ctypes.addressof(keys), values=ctypes.addressof(values),
                                     count=n, map_fd=self.fd)
            try:
                sys.bpf(cmd, attr, f"{verb} map {self.name}")
            except BpfError as e:
                if e.errno in _NO_BATCH and first:
                    self._batch_ok = False
                    return None
                if e.errno != errno.ENOENT:
                    raise
                done = True  # the last batch: `count` still says how many came back
            count = attr.count
            chunks.append((ctypes.string_at(keys, count * ks), ctypes.string_at(values, count * vs),
                           count))
            ctypes.memmove(token_in, token_out, len(token_in))
            first = False
        return chunks

    def _zero_batch(self, keys: list[bytes]) -> None:
        """MAP_UPDATE_BATCH of `keys` with all-zero values."""
        for start in range(0, len(keys), BATCH_ENTRIES):
            chunk = keys[start:start + BATCH_ENTRIES]
            kbuf = ctypes.create_string_buffer(b"".join(chunk), len(chunk) * self.key_size)
            vbuf = self._value_buf(len(chunk))
            attr = uapi.MapBatchAttr(keys=ctypes.addressof(kbuf), values=ctypes.addressof(vbuf),
                                     count=len(chunk), map_fd=self.fd)
            sys.bpf(Cmd.MAP_UPDATE_BATCH, attr, f"zero map {self.name}")

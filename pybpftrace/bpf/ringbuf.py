"""Consumer side of a BPF_MAP_TYPE_RINGBUF map, read through mmap.

Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos, which we own and map
read-write; page 1 holds producer_pos, followed by the data area mapped twice
in a row so that a record wrapping past the end reads as one contiguous span.
Both are mapped read-only.  Each record starts with an 8-byte header: a u32
length whose bit 31 means "still being written" and bit 30 "discarded", then a
u32 page offset we do not need.  Records are 8-byte aligned.

One wakeup usually finds many records, so `drain()` consumes everything that
is committed before returning, and we store consumer_pos after each record so
the producers get space back even while a slow callback runs.
"""
from __future__ import annotations

import mmap
import select
import struct
from typing import Callable

from pybpftrace.bpf import uapi

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_PAGE = mmap.PAGESIZE
_HDR = uapi.BPF_RINGBUF_HDR_SZ
_BUSY = uapi.BPF_RINGBUF_BUSY_BIT
_DISCARD = uapi.BPF_RINGBUF_DISCARD_BIT
_LEN_MASK = ~(_BUSY | _DISCARD) & 0xFFFFFFFF


class RingBuffer:
    """Reads records from one ring buffer map; `size` is the map's max_entries."""

    def __init__(self, map_fd: int, size: int):
        if size <= 0 or size & (size - 1) or size % _PAGE:
            raise ValueError(f"ring buffer size {size}: not a power-of-2 multiple of the page size")
        self._mask = size - 1
        self._consumer = mmap.mmap(map_fd, _PAGE, mmap.MAP_SHARED,
                                   mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._producer = mmap.mmap(map_fd, _PAGE + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                                   offset=_PAGE)
        self._epoll = select.epoll()
        self._epoll.register(map_fd, select.EPOLLIN)

    def fileno(self) -> int:
        """An epoll fd that is readable when records are waiting (for an outer loop)."""
        return self._epoll.fileno()

    def poll(self, timeout_ms: int, callback: Callable[[bytes], object]) -> int:
        """Deliver waiting records to `callback`, waiting up to `timeout_ms`
        (-1: forever) if there are none.  Returns the number of records."""
        n = self.drain(callback)
        if n == 0:
            self._epoll.poll(timeout_ms / 1000 if timeout_ms >= 0 else -1)
            n = self.drain(callback)
        return n

    def drain(self, callback: Callable[[bytes], object]) -> int:
        """Deliver the records committed when called, in order, skipping discarded
        ones.  A record counts as consumed even if `callback` raises (as in
        libbpf).  Records written meanwhile wait for the next call: a probe in a
        tight loop (a usdt marker in a busy loop) writes faster than Python
        reads, and would otherwise keep one call going for ever."""
        consumer, data, mask = self._consumer, self._producer, self._mask
        load32, load64, store64 = _U32.unpack_from, _U64.unpack_from, _U64.pack_into
        cons = load64(consumer, 0)[0]
        count = 0
        prod = load64(data, 0)[0]
        while cons < prod:
            start = _PAGE + (cons & mask)
            header = load32(data, start)[0]
            if header & _BUSY:
                return count  # not committed yet
            length = header & _LEN_MASK
            record = None if header & _DISCARD else data[start + _HDR:start + _HDR + length]
            cons += (_HDR + length + 7) & ~7
            store64(consumer, 0, cons)  # the copy is taken: give the space back
            if record is not None:
                count += 1
                callback(record)
        return count

    def close(self) -> None:
        self._epoll.close()
        self._consumer.close()
        self._producer.close()

    def __enter__(self) -> "RingBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

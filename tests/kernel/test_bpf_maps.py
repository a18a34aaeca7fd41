"""Maps of every type pybpftrace uses, against the real kernel."""
import errno
import time

import pytest

from pybpftrace.bpf.maps import Map, possible_cpus
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import BPF_NOEXIST, MapType

pytestmark = pytest.mark.kernel

NCPUS = len(possible_cpus())


def k(i: int) -> bytes:
    return i.to_bytes(4, "little")


def v(i: int) -> bytes:
    return i.to_bytes(8, "little")


def test_hash_elements():
    with Map.create(MapType.HASH, 4, 8, 100, name="@h") as m:
        assert m.lookup(k(1)) is None
        m.update(k(1), v(10))
        m.update(k(2), v(20))
        assert m.lookup(k(1)) == v(10)
        with pytest.raises(BpfError) as exc:
            m.update(k(1), v(11), BPF_NOEXIST)
        assert exc.value.errno == errno.EEXIST
        assert str(exc.value) == "update map @h: File exists"
        assert sorted(m.keys()) == [k(1), k(2)]
        assert sorted(m.items()) == [(k(1), v(10)), (k(2), v(20))]
        assert m.delete(k(1)) is True
        assert m.delete(k(1)) is False
        m.zero()
        assert m.items() == [(k(2), v(0))]
        m.clear()
        assert m.items() == [] and list(m.keys()) == []


def test_array_elements():
    with Map.create(MapType.ARRAY, 4, 8, 4, name="@a") as m:
        assert m.lookup(k(3)) == v(0)
        m.update(k(3), v(7))
        assert m.items() == [(k(0), v(0)), (k(1), v(0)), (k(2), v(0)), (k(3), v(7))]
        assert list(m.keys()) == [k(0), k(1), k(2), k(3)]
        with pytest.raises(BpfError, match="update map @a: Argument list too long"):
            m.update(k(4), v(1))
        m.clear()  # arrays cannot lose keys: clearing zeroes them
        assert m.lookup(k(3)) == v(0)


@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY])
def test_percpu_values(map_type):
    with Map.create(map_type, 4, 4, 8, name="@p") as m:
        values = [bytes([cpu + 1, 0, 0, 0]) for cpu in range(NCPUS)]
        m.update(k(1), values)
        assert m.lookup(k(1)) == values
        assert dict(m.items())[k(1)] == values
        m.zero()
        assert m.lookup(k(1)) == [bytes(4)] * NCPUS
        m.update(k(1), b"\x05\0\0\0")
        m.clear()
        expected = [bytes(4)] * NCPUS if map_type == MapType.PERCPU_ARRAY else None
        assert m.lookup(k(1)) == expected


def test_ringbuf_and_stack_trace_maps_can_be_created():
    with Map.create(MapType.RINGBUF, 0, 0, 1 << 16, name="ringbuf") as rb:
        assert rb.fd >= 0
    with Map.create(MapType.STACK_TRACE, 4, 127 * 8, 128, name="stack") as st:
        assert st.lookup(k(1)) is None
        assert st.items() == []  # no batch support for stack maps: falls back to iteration
        st.clear()


def test_freeze_makes_a_map_read_only_for_user_space():
    with Map.create(MapType.ARRAY, 4, 8, 1, name="fmt") as m:
        m.update(k(0), v(99))
        m.freeze()
        with pytest.raises(BpfError) as exc:
            m.update(k(0), v(1))
        assert exc.value.errno == errno.EPERM
        assert m.lookup(k(0)) == v(99)


def _fill(m: Map, n: int) -> dict[bytes, bytes]:
    """Write n entries, one update each, and return them."""
    entries = {k(i): v(i * 7) for i in range(n)}
    for key, value in entries.items():
        m.update(key, value)
    return entries


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.LRU_HASH, MapType.ARRAY])
def test_batch_read_of_many_keys(map_type):
    n = 12_000
    # An LRU map evicts before it is full (per-CPU free lists), so leave room.
    max_entries = 2 * n if map_type == MapType.LRU_HASH else n
    with Map.create(map_type, 4, 8, max_entries, name="@big") as m:
        entries = _fill(m, n)
        assert dict(m.items()) == entries
        m.zero()
        assert all(value == v(0) for _, value in m.items())


def test_batch_read_of_percpu_hash():
    n = 10_500
    with Map.create(MapType.PERCPU_HASH, 4, 8, n, name="@pc") as m:
        for i in range(n):
            m.update(k(i), [v(i + cpu) for cpu in range(NCPUS)])
        items = dict(m.items())
        assert len(items) == n
        assert items[k(1234)] == [v(1234 + cpu) for cpu in range(NCPUS)]
        m.clear()
        assert m.items() == []


def test_reading_100k_keys_is_fast():
    n = 100_000
    with Map.create(MapType.HASH, 4, 8, n, name="@huge") as m:
        _fill(m, n)
        start = time.perf_counter()
        items = m.items()
        elapsed = time.perf_counter() - start
        assert len(items) == n
        assert elapsed < 1.0, f"reading {n} keys took {elapsed:.2f} s"
        start = time.perf_counter()
        m.clear()
        assert time.perf_counter() - start < 1.0
        assert m.items() == []

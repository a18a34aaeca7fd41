"""Error paths of the bpf layer, driven through a fake syscall backend (no kernel)."""
import ctypes
import errno
import os

import pytest

from pybpftrace.bpf import maps, sys, uapi
from pybpftrace.bpf.maps import Map
from pybpftrace.bpf.programs import Program, VerifierError, summarize
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import Cmd, MapType, ProgType
from pybpftrace.probes import attach

EXIT = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])


class Fake:
    """A syscall backend whose answers come from per-command handlers; records calls.
    fds it hands out are real (/dev/null) so that close() works."""

    def __init__(self, **handlers):
        self.handlers = handlers
        self.calls = []
        self.fds = []

    def new_fd(self) -> int:
        fd = os.open(os.devnull, os.O_RDONLY)
        self.fds.append(fd)
        return fd

    def bpf(self, cmd, attr):
        self.calls.append(uapi.Cmd(cmd))
        return self.handlers[uapi.Cmd(cmd).name](attr)

    def perf_event_open(self, attr, pid, cpu, group_fd, flags):
        self.calls.append("perf_event_open")
        return self.handlers["perf_event_open"](attr)

    def ioctl(self, fd, request, arg):
        self.calls.append("ioctl")
        return self.handlers["ioctl"](fd, request)

    def open_fds(self):
        return [fd for fd in self.fds if _is_open(fd)]


def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _write(addr, data: bytes):
    ctypes.memmove(addr, data, len(data))


def test_error_names_the_operation_and_keeps_errno():
    with sys.override(Fake(MAP_CREATE=lambda attr: -errno.EPERM)):
        with pytest.raises(BpfError) as exc:
            Map.create(MapType.HASH, 8, 8, 16, name="@x")
    assert str(exc.value) == "create map @x: Operation not permitted"
    assert exc.value.errno == errno.EPERM
    assert isinstance(exc.value, OSError)


def test_kernel_internal_enotsupp_has_a_message():
    with sys.override(Fake(MAP_FREEZE=lambda attr: -uapi.ENOTSUPP)) as fake:
        m = Map(fake.new_fd(), MapType.HASH, 4, 4, 1, "@m")
        with pytest.raises(BpfError, match=r"freeze map @m: Operation not supported \(ENOTSUPP\)"):
            m.freeze()


def test_map_name_passed_to_kernel_is_sanitised():
    seen = {}

    def create(attr):
        seen["name"] = attr.map_name
        return fake.new_fd()

    with sys.override(Fake(MAP_CREATE=create)) as fake:
        Map.create(MapType.ARRAY, 4, 8, 1, name="@a-very-long-map-name!").close()
    assert seen["name"] == b"AT_averylongmap"


def test_prog_load_is_retried_on_eagain():
    answers = [-errno.EAGAIN, -errno.EAGAIN]
    fake = Fake(PROG_LOAD=lambda attr: answers.pop() if answers else fake.new_fd())
    with sys.override(fake):
        prog = Program.load(ProgType.RAW_TRACEPOINT, EXIT, name="p")
    assert fake.calls == [Cmd.PROG_LOAD] * 3
    assert prog.insn_count == 1
    prog.close()


def test_eagain_is_not_retried_forever_nor_for_other_commands():
    with sys.override(Fake(PROG_LOAD=lambda attr: -errno.EAGAIN)) as fake:
        with pytest.raises(BpfError) as exc:
            sys.bpf(Cmd.PROG_LOAD, uapi.ProgLoadAttr(), "load program p")
    assert len(fake.calls) == 5 and exc.value.errno == errno.EAGAIN
    with sys.override(Fake(MAP_CREATE=lambda attr: -errno.EAGAIN)) as fake:
        with pytest.raises(BpfError):
            Map.create(MapType.HASH, 4, 4, 1)
    assert fake.calls == [Cmd.MAP_CREATE]


LOG = "0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0\n\n"


def test_rejection_is_loaded_again_with_a_log():
    levels = []

    def load(attr):
        levels.append(attr.log_level)
        if attr.log_level:
            _write(attr.log_buf, LOG.encode())
        return -errno.EACCES

    with sys.override(Fake(PROG_LOAD=load)):
        with pytest.raises(VerifierError) as exc:
            Program.load(ProgType.RAW_TRACEPOINT, EXIT, name="bad")
    assert levels == [0, 1]
    assert exc.value.log == LOG
    assert exc.value.summary == ["0: (95) exit", "R0 !read_ok"]
    assert str(exc.value) == "load program bad: Permission denied: R0 !read_ok"
    assert exc.value.errno == errno.EACCES


def test_refusal_without_a_log_is_not_a_verifier_error():
    with sys.override(Fake(PROG_LOAD=lambda attr: -errno.EPERM)):
        with pytest.raises(BpfError) as exc:
            Program.load(ProgType.TRACING, EXIT, name="fentry")
    assert type(exc.value) is BpfError
    assert str(exc.value) == "load program fentry: Operation not permitted"


def test_log_buffer_grows_when_the_kernel_says_it_was_too_small():
    sizes = []

    def load(attr):
        sizes.append(attr.log_size)
        if attr.log_size < (4 << 20):
            attr.log_true_size = 4 << 20
            return -errno.ENOSPC
        _write(attr.log_buf, b"big log\n")
        return fake.new_fd()

    with sys.override(Fake(PROG_LOAD=load)) as fake:
        prog = Program.load(ProgType.RAW_TRACEPOINT, EXIT, log_level=1)
    assert sizes == [1 << 20, 4 << 20] and prog.log == "big log\n"
    prog.close()


def test_summary_skips_statistics():
    assert summarize("a\nb\nc\nd\nverification time 5 usec\nstack depth 0\n") == ["b", "c", "d"]
    assert summarize("") == []


def test_program_must_be_whole_instructions():
    with pytest.raises(ValueError):
        Program.load(ProgType.RAW_TRACEPOINT, b"\x95\x00")


class DictMap:
    """A fake hash map: the handlers of the elem and batch commands over a dict."""

    def __init__(self, key_size, value_size, entries, slot=None):
        self.ks, self.vs = key_size, slot or value_size
        self.data = dict(entries)
        self.batch_calls = 0

    def lookup(self, attr):
        key = ctypes.string_at(attr.key, self.ks)
        if key not in self.data:
            return -errno.ENOENT
        _write(attr.value, self.data[key])
        return 0

    def update(self, attr):
        self.data[ctypes.string_at(attr.key, self.ks)] = ctypes.string_at(attr.value, self.vs)
        return 0

    def next_key(self, attr):
        keys = sorted(self.data)
        if attr.key:
            cur = ctypes.string_at(attr.key, self.ks)
            keys = [k for k in keys if k > cur]
        if not keys:
            return -errno.ENOENT
        _write(attr.value, keys[0])
        return 0

    def lookup_batch(self, attr):
        """Like the kernel: a u32 position token; ENOENT (with count) on the last batch."""
        self.batch_calls += 1
        start = int.from_bytes(ctypes.string_at(attr.in_batch, 4), "little") if attr.in_batch else 0
        items = sorted(self.data.items())[start:start + attr.count]
        for i, (k, v) in enumerate(items):
            _write(attr.keys + i * self.ks, k)
            _write(attr.values + i * self.vs, v)
        attr.count = len(items)
        end = start + len(items)
        _write(attr.out_batch, end.to_bytes(4, "little"))
        return -errno.ENOENT if end >= len(self.data) else 0


def _entries(n):
    return {i.to_bytes(4, "big"): (i * 3).to_bytes(8, "little") for i in range(n)}


def test_batch_read_collects_partial_last_batch(monkeypatch):
    monkeypatch.setattr(maps, "BATCH_ENTRIES", 7)
    fake_map = DictMap(4, 8, _entries(30))
    with sys.override(Fake(MAP_LOOKUP_BATCH=fake_map.lookup_batch)) as fake:
        m = Map(fake.new_fd(), MapType.HASH, 4, 8, 100, "@h")
        assert m.items() == sorted(_entries(30).items())
    assert fake_map.batch_calls == 5  # 7+7+7+7+2, the last one ending in ENOENT


def test_without_batch_support_items_falls_back_to_iteration():
    fake_map = DictMap(4, 8, _entries(5))
    with sys.override(Fake(MAP_LOOKUP_BATCH=lambda attr: -errno.EINVAL,
                           MAP_GET_NEXT_KEY=fake_map.next_key,
                           MAP_LOOKUP_ELEM=fake_map.lookup)) as fake:
        m = Map(fake.new_fd(), MapType.STACK_TRACE, 4, 8, 100, "@s")
        assert m.items() == sorted(_entries(5).items())
        assert m.items() == sorted(_entries(5).items())
    assert fake.calls.count(Cmd.MAP_LOOKUP_BATCH) == 1  # remembered after the first EINVAL


def test_batch_errors_other_than_unsupported_propagate():
    with sys.override(Fake(MAP_LOOKUP_BATCH=lambda attr: -errno.EFAULT)) as fake:
        m = Map(fake.new_fd(), MapType.HASH, 4, 8, 100, "@h")
        with pytest.raises(BpfError, match="read map @h: Bad address"):
            m.items()


def test_lookup_absent_is_none_and_other_errors_raise():
    fake_map = DictMap(4, 8, {})
    fake = Fake(MAP_LOOKUP_ELEM=fake_map.lookup, MAP_DELETE_ELEM=lambda attr: -errno.ENOENT)
    with sys.override(fake):
        m = Map(fake.new_fd(), MapType.HASH, 4, 8, 100, "@h")
        assert m.lookup(bytes(4)) is None
        assert m.delete(bytes(4)) is False
        with pytest.raises(ValueError, match="key is 3 bytes, expected 4"):
            m.lookup(bytes(3))
    with sys.override(Fake(MAP_LOOKUP_ELEM=lambda attr: -errno.EFAULT)):
        with pytest.raises(BpfError, match="look up in map @h: Bad address"):
            m.lookup(bytes(4))


def test_percpu_values_use_8_byte_slots_per_possible_cpu():
    ncpus = len(maps.possible_cpus())
    fake_map = DictMap(4, 4, {}, slot=8 * ncpus)
    fake = Fake(MAP_UPDATE_ELEM=fake_map.update, MAP_LOOKUP_ELEM=fake_map.lookup)
    with sys.override(fake):
        m = Map(fake.new_fd(), MapType.PERCPU_ARRAY, 4, 4, 1, "@p")
        values = [bytes([i, 0, 0, 1]) for i in range(ncpus)]
        m.update(bytes(4), values)
        raw = fake_map.data[bytes(4)]
        assert raw == b"".join(v + bytes(4) for v in values)
        assert m.lookup(bytes(4)) == values
        m.update(bytes(4), b"abcd")  # one value: the same on every CPU
        assert m.lookup(bytes(4)) == [b"abcd"] * ncpus
        with pytest.raises(ValueError):
            m.update(bytes(4), [b"abcd"] * (ncpus + 1))


def test_failed_link_closes_the_perf_event(monkeypatch):
    monkeypatch.setattr(attach, "online_cpus", lambda: [0, 1])
    fake = Fake(perf_event_open=lambda attr: fake.new_fd(),
                LINK_CREATE=lambda attr: -errno.EINVAL if len(fake.fds) > 2 else fake.new_fd(),
                ioctl=lambda fd, request: 0)
    with sys.override(fake):
        prog = Program(fake.new_fd(), ProgType.PERF_EVENT, "p", 1)
        with pytest.raises(BpfError, match=r"attach perf_event:software:0: Invalid argument"):
            attach.attach_perf_event(prog, uapi.PerfType.SOFTWARE, 0, sample_freq=99)
    assert fake.open_fds() == [prog.fd]  # both events and the first link were closed
    prog.close()


def test_perf_event_open_error_names_the_probe():
    fake = Fake(perf_event_open=lambda attr: -errno.ENOENT)
    with sys.override(fake):
        prog = Program(fake.new_fd(), ProgType.PERF_EVENT, "p", 1)
        with pytest.raises(BpfError, match="open perf_event:hardware:0 on cpu 0: No such file"):
            attach.attach_perf_event(prog, uapi.PerfType.HARDWARE, 0, sample_period=1000, cpus=[0])
    prog.close()


def test_sample_freq_sets_the_freq_bit():
    seen = []

    def perf_event_open(attr):
        seen.append((attr.sample_period, attr.flags, attr.size))
        return fake.new_fd()

    fake = Fake(perf_event_open=perf_event_open, LINK_CREATE=lambda attr: fake.new_fd(),
                ioctl=lambda fd, request: 0)
    sw = uapi.PerfType.SOFTWARE
    with sys.override(fake):
        prog = Program(fake.new_fd(), ProgType.PERF_EVENT, "p", 1)
        attach.attach_perf_event(prog, sw, 0, sample_freq=99, cpus=[0]).close()
        attach.attach_perf_event(prog, sw, 0, sample_period=10**8, cpus=[0]).close()
    assert seen == [(99, uapi.PERF_ATTR_DISABLED | uapi.PERF_ATTR_FREQ, 136),
                    (10**8, uapi.PERF_ATTR_DISABLED, 136)]
    assert fake.open_fds() == [prog.fd]
    prog.close()

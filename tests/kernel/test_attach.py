"""Attaching hand-assembled programs to real events, and detaching them fast."""
import ctypes
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pybpftrace.bpf.maps import Map
from pybpftrace.bpf.programs import Program
from pybpftrace.bpf.uapi import MapType, PerfSwConfig, PerfType, ProgType
from pybpftrace.probes import attach, tracefs
from test_bpf_programs import counter, read_counter  # the tiny assembler

pytestmark = pytest.mark.kernel

SYSCALLS = Path(tracefs.TRACEFS) / "events" / "syscalls"


def _count_map():
    return Map.create(MapType.ARRAY, 4, 8, 1, name="@count")


def _sys_enter_names():
    tracefs.tracefs_root()
    return sorted(p.name for p in SYSCALLS.iterdir() if p.name.startswith("sys_enter_"))


def test_tracepoint_counts_our_getppid_calls():
    with _count_map() as m:
        code = counter(m.fd, tgid=os.getpid())
        with Program.load(ProgType.TRACEPOINT, code, name="getppid") as p, \
                attach.attach_tracepoint(p, "syscalls", "sys_enter_getppid"):
            for _ in range(25):
                os.getppid()
        assert read_counter(m) == 25


def test_missing_tracepoint_is_a_clear_error():
    with pytest.raises(tracefs.TracefsError, match="tracepoint not found: syscalls:no_such_event"):
        tracefs.tracepoint_id("syscalls", "no_such_event")


@pytest.fixture
def fresh_tracefs(monkeypatch):
    """tracefs looked up again, at paths the test chooses."""
    monkeypatch.setattr(tracefs, "_root", None)
    monkeypatch.setattr(tracefs, "LEGACY_TRACEFS", "/nonexistent")
    yield
    tracefs.set_tracefs_root(None)


def test_tracefs_is_mounted_when_missing(tmp_path, monkeypatch, fresh_tracefs):
    mount_point = tmp_path / "tracing"
    mount_point.mkdir()
    monkeypatch.setattr(tracefs, "TRACEFS", str(mount_point))
    try:
        assert tracefs.tracefs_root() == str(mount_point)
        assert (mount_point / "events" / "syscalls").is_dir()
    finally:
        ctypes.CDLL(None).umount2(str(mount_point).encode(), 0)


def test_tracefs_mount_failure_is_a_clear_error(tmp_path, monkeypatch, fresh_tracefs):
    monkeypatch.setattr(tracefs, "TRACEFS", str(tmp_path / "missing"))
    with pytest.raises(tracefs.TracefsError, match="could not mount tracefs at .*/missing: No such file"):
        tracefs.tracefs_root()


def test_raw_tracepoint_fires():
    with _count_map() as m:
        code = counter(m.fd, tgid=os.getpid())
        with Program.load(ProgType.RAW_TRACEPOINT, code, name="raw") as p, \
                attach.attach_raw_tracepoint(p, "sys_enter"):
            for _ in range(10):
                os.getppid()
        assert read_counter(m) >= 10


def test_perf_event_cpu_clock_fires_on_every_cpu_and_interval_on_one():
    with _count_map() as m, Program.load(ProgType.PERF_EVENT, counter(m.fd), name="prof") as p:
        with attach.attach_perf_event(p, PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK,
                                      sample_freq=1000) as profile:
            assert len(profile.event_fds) == len(os.sched_getaffinity(0))
            _spin(0.2)
        assert read_counter(m) > 20
        m.update(bytes(4), bytes(8))
        with attach.attach_perf_event(p, PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK,
                                      sample_period=10_000_000, cpus=[0]) as interval:
            assert len(interval.event_fds) == 1
            time.sleep(0.25)
        assert 10 <= read_counter(m) <= 40  # 100 Hz for 0.25 s, loosely


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_detach_all_of_every_sys_enter_tracepoint_is_fast():
    """bpftrace 0.17 needs ~30 s to detach these; closing tracepoint events is
    slow on this kernel, so detach_all() must hand that work off."""
    names = _sys_enter_names()
    assert len(names) >= 300
    fds_before = len(os.listdir("/proc/self/fd"))
    with _count_map() as m, Program.load(ProgType.TRACEPOINT, counter(m.fd), name="all") as p:
        attachments = [attach.attach_tracepoint(p, "syscalls", name) for name in names]
        os.getppid()
        assert read_counter(m) > 0
        start = time.perf_counter()
        attach.detach_all(attachments)
        elapsed = time.perf_counter() - start
        stopped_at = read_counter(m)
        for _ in range(50):
            os.getppid()
        time.sleep(0.05)
        assert read_counter(m) == stopped_at, "a program still ran after detach_all()"
    assert elapsed < 2.0, f"detach_all() of {len(names)} tracepoints took {elapsed:.2f} s"
    assert all(not a.link_fds and not a.event_fds for a in attachments)
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_detach_all_of_mixed_kinds_stops_every_program():
    fds_before = len(os.listdir("/proc/self/fd"))
    with _count_map() as m:
        with Program.load(ProgType.TRACEPOINT, counter(m.fd), name="tp") as tp, \
                Program.load(ProgType.RAW_TRACEPOINT, counter(m.fd), name="raw") as raw, \
                Program.load(ProgType.PERF_EVENT, counter(m.fd), name="prof") as prof:
            attachments = [
                attach.attach_tracepoint(tp, "syscalls", "sys_enter_getppid"),
                attach.attach_raw_tracepoint(raw, "sys_enter"),
                attach.attach_perf_event(prof, PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK,
                                         sample_freq=1000),
            ]
            _spin(0.05)
            attach.detach_all(attachments)
            stopped_at = read_counter(m)
            assert stopped_at > 0
            _spin(0.05)
            os.getppid()
            assert read_counter(m) == stopped_at
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_tracer_exits_at_once_and_background_closer_finishes(tmp_path):
    """A tracer writing to a pipe: the reader sees EOF as soon as the tracer
    exits, although the closer process goes on closing events for seconds."""
    script = tmp_path / "tracer_for_detach_test.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {os.getcwd()!r}]
        from test_bpf_programs import counter
        from pybpftrace.bpf.maps import Map
        from pybpftrace.bpf.programs import Program
        from pybpftrace.bpf.uapi import MapType, ProgType
        from pybpftrace.probes import attach, tracefs
        m = Map.create(MapType.ARRAY, 4, 8, 1)
        p = Program.load(ProgType.TRACEPOINT, counter(m.fd))
        names = {_sys_enter_names()[:50]!r}
        attach.detach_all([attach.attach_tracepoint(p, "syscalls", n) for n in names])
        print(time.time(), flush=True)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, check=True)
    eof_delay = time.time() - float(out.stdout)
    assert out.stderr == ""
    assert eof_delay < 0.5, f"the tracer's output pipe stayed open {eof_delay:.2f} s after detach"
    closer_started = time.monotonic()
    while _processes_running(script.name):
        assert time.monotonic() < closer_started + 60, "background closer did not finish"
        time.sleep(0.1)
    assert time.monotonic() - closer_started > eof_delay  # the closer really outlived the tracer


def _processes_running(needle: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False

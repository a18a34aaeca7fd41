"""tracefs: tracepoint lists, format files and ids, read from copies of real files."""
import ctypes
import os

import pytest

from pybpftrace.probes import tracefs
from pybpftrace.probes.tracefs import Field, TracefsError

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tracefs")


@pytest.fixture
def fixture_root():
    tracefs.set_tracefs_root(FIXTURE)
    yield FIXTURE
    tracefs.set_tracefs_root(None)


def test_list_tracepoints_sorted_as_cat_colon_name(fixture_root):
    found = tracefs.list_tracepoints("*", "*")
    assert found == sorted(found, key=lambda t: f"{t[0]}:{t[1]}")
    assert ("syscalls", "sys_enter_openat") in found
    assert len(found) == 57


def test_list_tracepoints_patterns(fixture_root):
    assert tracefs.list_tracepoints("sched", "sched_switch") == [("sched", "sched_switch")]
    assert tracefs.list_tracepoints("timer", "hrtimer_s*") == [("timer", "hrtimer_setup"),
                                                               ("timer", "hrtimer_start")]
    assert tracefs.list_tracepoints("*", "sys_enter_*") == [
        ("syscalls", "sys_enter_execve"), ("syscalls", "sys_enter_openat"), ("syscalls", "sys_enter_read")]
    assert tracefs.list_tracepoints("sched", "nope") == []


def test_list_tracepoints_keeps_017_glob_quirks(fixture_root):
    # Only `*` is special (`?` and `[..]` are literal), and a trailing token
    # must be found at its first occurrence.
    assert tracefs.list_tracepoints("s*d", "sched_switch") == [("sched", "sched_switch")]
    assert tracefs.list_tracepoints("sched", "sched_sw?tch") == []
    assert tracefs.list_tracepoints("sched", "sched_sw[i]tch") == []
    assert tracefs.list_tracepoints("sched", "*h") == []


def test_find_tracepoints_errors_in_017_words(fixture_root):
    with pytest.raises(TracefsError, match=r"^tracepoint not found: sched:nope$"):
        tracefs.find_tracepoints("sched", "nope")
    with pytest.raises(TracefsError, match=r"^tracepoints not found: \*:nomatch\*$"):
        tracefs.find_tracepoints("*", "nomatch*")


def test_format_of_syscall_tracepoint(fixture_root):
    fields = tracefs.tracepoint_format("syscalls", "sys_enter_openat")
    assert [f.decl for f in fields] == [
        "int __syscall_nr", "int dfd", "const char * filename", "int flags", "umode_t mode"]
    assert fields[2] == Field(decl="const char * filename", name="filename", ctype="const char *",
                              offset=24, size=8, signed=False)
    assert fields[0].signed and fields[0].offset == 8  # after the 8 bytes of common_* fields


def test_format_arrays_data_loc_and_pointer_types(fixture_root):
    comm = tracefs.tracepoint_format("sched", "sched_switch")[0]
    assert (comm.name, comm.ctype, comm.array_len, comm.size) == ("prev_comm", "char", 16, 16)
    filename = tracefs.tracepoint_format("sched", "sched_process_exec")[0]
    assert (filename.decl, filename.name, filename.ctype, filename.data_loc) == (
        "__data_loc char[] filename", "filename", "char", True)
    argv = tracefs.tracepoint_format("syscalls", "sys_enter_execve")[2]
    assert (argv.name, argv.ctype) == ("argv", "const char *const *")


@pytest.mark.parametrize("decl, name, ctype, array_len", [
    ("const void* ptr", "ptr", "const void*", 0),
    ("char buf[]", "buf", "char", 0),
    ("struct robust_list_head * * head", "head", "struct robust_list_head * *", 0),
    ("unsigned long args[6]", "args", "unsigned long", 6),
])
def test_parse_field_declarations(decl, name, ctype, array_len):
    f = tracefs.parse_field(f"\tfield:{decl};\toffset:16;\tsize:8;\tsigned:0;")
    assert (f.decl, f.name, f.ctype, f.array_len) == (decl, name, ctype, array_len)


def test_parse_field_ignores_other_lines():
    assert tracefs.parse_field("print fmt: \"%d\", REC->x") is None
    assert tracefs.parse_field("") is None


def test_tracepoint_id_and_missing(fixture_root):
    with open(os.path.join(FIXTURE, "events/sched/sched_switch/id")) as f:
        assert tracefs.tracepoint_id("sched", "sched_switch") == int(f.read())
    with pytest.raises(TracefsError, match="tracepoint not found: sched:nope"):
        tracefs.tracepoint_id("sched", "nope")
    with pytest.raises(TracefsError, match="tracepoint not found: nope:x"):
        tracefs.tracepoint_format("nope", "x")


def test_unmounted_tracefs_needs_root(monkeypatch):
    tracefs.set_tracefs_root(None)
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(TracefsError, match="^tracefs is not mounted at /sys/kernel/tracing "
                                           "and mounting it needs root$"):
        tracefs.tracefs_root()
    tracefs.set_tracefs_root(None)


def test_unmounted_tracefs_is_mounted_as_root(monkeypatch):
    calls = []

    class FakeLibc:
        def mount(self, *args):
            calls.append(args)
            ctypes.set_errno(1)
            return -1 if len(calls) == 1 else 0

    tracefs.set_tracefs_root(None)
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: FakeLibc())
    with pytest.raises(TracefsError, match="could not mount tracefs at /sys/kernel/tracing: "
                                           "Operation not permitted"):
        tracefs.tracefs_root()
    assert calls[0][:3] == (b"nodev", b"/sys/kernel/tracing", b"tracefs")
    assert tracefs.tracefs_root() == "/sys/kernel/tracing"
    tracefs.set_tracefs_root(None)


@pytest.mark.kernel
def test_real_tracefs():
    tracefs.set_tracefs_root(None)
    assert os.path.isdir(os.path.join(tracefs.tracefs_root(), "events"))
    assert ("syscalls", "sys_enter_openat") in tracefs.list_tracepoints("syscalls", "*")
    fields = {f.name: f for f in tracefs.tracepoint_format("syscalls", "sys_enter_openat")}
    assert fields["filename"].ctype == "const char *"
    assert tracefs.tracepoint_id("syscalls", "sys_enter_openat") > 0

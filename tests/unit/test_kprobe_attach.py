"""kprobe attach plumbing against a fake kernel: the syscalls (bpf/sys.py
`override`), a fake sysfs event_source directory and a fake tracefs.

Each attach method is checked down to what the kernel is handed: the
perf_event_attr of the kprobe PMU (type, config1 string, config2 offset,
retprobe bit), the lines written to and removed from kprobe_events, and the
LINK_CREATE attributes of perf-event and kprobe_multi links.
"""
import ctypes
import errno
import itertools
import os
from types import SimpleNamespace

import pytest

from pybpftrace.bpf import features, sys, uapi
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import AttachType, Cmd, PerfType
from pybpftrace.probes import attach, kprobes, tracefs
from pybpftrace.resources import ProbeInfo

PROG = SimpleNamespace(fd=77)  # an already loaded program: only its fd is used
KPROBE_PMU_TYPE = 6


class FakeKernel:
    """Answers perf_event_open, LINK_CREATE and the enable ioctl like a kernel
    with kprobes, recording what it was asked.  The fds it hands out are real
    (/dev/null) so that closing them works."""

    def __init__(self, refuse: set[str] = frozenset()):
        self.events = []  # dict per perf_event_open: attr fields, config1 text, pid, cpu
        self.links = []   # dict per LINK_CREATE
        self.ioctls = []
        self.refuse = refuse  # functions whose perf_event_open fails with ENOENT
        self.fds = []

    def _fd(self) -> int:
        fd = os.open(os.devnull, os.O_RDONLY)
        self.fds.append(fd)
        return fd

    def perf_event_open(self, attr, pid, cpu, group_fd, flags):
        where = ctypes.string_at(attr.config1).decode() if attr.type == KPROBE_PMU_TYPE else ""
        self.events.append(dict(type=attr.type, config=attr.config, config1=where,
                                config2=attr.config2, pid=pid, cpu=cpu,
                                disabled=attr.flags & uapi.PERF_ATTR_DISABLED))
        if where in self.refuse:
            return -errno.ENOENT
        fd = self._fd()
        self.events[-1]["fd"] = fd
        return fd

    def bpf(self, cmd, attr):
        assert cmd == Cmd.LINK_CREATE
        if attr.attach_type == AttachType.TRACE_KPROBE_MULTI:
            multi = uapi.KprobeMultiLinkAttr.from_buffer_copy(bytes(attr))
            names = (ctypes.c_char_p * multi.cnt).from_address(multi.syms)
            self.links.append(dict(prog_fd=multi.prog_fd, attach_type=multi.attach_type,
                                   flags=multi.kprobe_multi_flags, cnt=multi.cnt,
                                   syms=[n.decode() for n in names], addrs=multi.addrs))
        else:
            self.links.append(dict(prog_fd=attr.prog_fd, target_fd=attr.target_fd,
                                   attach_type=attr.attach_type))
        return self._fd()

    def ioctl(self, fd, request, arg):
        self.ioctls.append((fd, request))
        return 0


@pytest.fixture
def kernel():
    fake = FakeKernel()
    with sys.override(fake):
        yield fake
    for fd in fake.fds:
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    """/sys/bus/event_source/devices with a kprobe PMU whose retprobe bit is 0."""
    root = tmp_path / "devices"
    (root / "kprobe" / "format").mkdir(parents=True)
    (root / "kprobe" / "type").write_text(f"{KPROBE_PMU_TYPE}\n")
    (root / "kprobe" / "format" / "retprobe").write_text("config:0\n")
    monkeypatch.setattr(attach, "EVENT_SOURCES", str(root))
    return root


@pytest.fixture
def method(monkeypatch):
    """Choose the attach method the kernel "offers"."""
    def choose(name, multi=False):
        monkeypatch.setattr(features, "kprobe_attach_method", lambda: name)
        monkeypatch.setattr(features, "have_kprobe_multi", lambda: multi)
    return choose


def probe(func, kind="kprobe", offset=0, module=""):
    where = f"{module}:{func}" if module else func
    return ProbeInfo(f"{kind}:{where}{f'+{offset}' if offset else ''}", kind, module, func,
                     offset=offset)


# ---- probing the kernel for a method ------------------------------------------------

@pytest.fixture
def probe_kernel(tmp_path, monkeypatch):
    """features.kprobe_attach_method over a fake sysfs and tracefs."""
    pmu, tracing = tmp_path / "kprobe", tmp_path / "tracing"
    tracing.mkdir()
    monkeypatch.setattr(features, "KPROBE_PMU", str(pmu))
    monkeypatch.setattr(features, "TRACEFS_DIRS", (str(tracing),))
    monkeypatch.setattr(features, "have_prog_type", lambda t: True)
    features.kprobe_attach_method.cache_clear()
    yield pmu, tracing
    features.kprobe_attach_method.cache_clear()


def test_method_is_the_pmu_when_the_kernel_has_one(probe_kernel):
    pmu, tracing = probe_kernel
    pmu.mkdir()
    (pmu / "type").write_text("6\n")
    (tracing / "kprobe_events").write_text("")
    assert features.kprobe_attach_method() == "pmu"
    assert features.have_kprobe()


def test_method_is_legacy_with_only_kprobe_events(probe_kernel):
    _, tracing = probe_kernel
    (tracing / "kprobe_events").write_text("")
    assert features.kprobe_attach_method() == "legacy"


def test_no_method_without_either(probe_kernel):
    assert features.kprobe_attach_method() is None
    assert not features.have_kprobe()


# ---- the kprobe PMU -------------------------------------------------------------------

def test_pmu_kprobe_event(kernel, sysfs, method):
    method("pmu")
    a = kprobes.attach_kprobe(PROG, "tcp_sendmsg", 16)
    (event,) = kernel.events
    assert {k: event[k] for k in ("type", "config", "config1", "config2", "pid", "cpu")} == dict(
        type=KPROBE_PMU_TYPE, config=0, config1="tcp_sendmsg", config2=16, pid=-1, cpu=0)
    assert event["disabled"]
    assert kernel.links == [dict(prog_fd=77, target_fd=event["fd"],
                                 attach_type=AttachType.PERF_EVENT)]
    assert kernel.ioctls == [(event["fd"], uapi.PERF_EVENT_IOC_ENABLE)]
    assert a.name == "kprobe:tcp_sendmsg" and a.event_fds == [event["fd"]]
    a.close()


def test_pmu_kretprobe_sets_the_retprobe_bit_of_the_format_file(kernel, sysfs, method):
    (sysfs / "kprobe" / "format" / "retprobe").write_text("config:3\n")
    method("pmu")
    kprobes.attach_kprobe(PROG, "vfs_read", retprobe=True, module="").close()
    kprobes.attach_kprobe(PROG, "ext4_sync_fs", retprobe=True, module="ext4").close()
    assert [(e["config"], e["config1"], e["config2"]) for e in kernel.events] == [
        (1 << 3, "vfs_read", 0), (1 << 3, "ext4:ext4_sync_fs", 0)]


def test_kernel_without_a_kprobe_pmu_says_so(kernel, tmp_path, monkeypatch):
    monkeypatch.setattr(attach, "EVENT_SOURCES", str(tmp_path))
    with pytest.raises(OSError, match="kprobes are not supported by this kernel"):
        attach.attach_probe_pmu(PROG, "kprobe", "kprobe:f", "f", 0)
    assert kernel.events == []


def test_no_method_at_all_is_refused_before_any_syscall(kernel, method):
    method(None)
    with pytest.raises(OSError, match="kprobe:f: kprobes are not supported by this kernel"):
        kprobes.attach_kprobe(PROG, "f")
    assert kernel.events == kernel.links == []


# ---- legacy kprobe_events -------------------------------------------------------------

@pytest.fixture
def legacy_tracefs(tmp_path, monkeypatch):
    """A tracefs with kprobe_events (a plain file: writes append) and the event
    directories the kernel would create for our next two event names."""
    root = tmp_path / "tracing"
    root.mkdir()
    (root / "kprobe_events").write_text("p:kprobes/other_tool_event do_exit\n")
    monkeypatch.setattr(kprobes, "_event_numbers", itertools.count())
    monkeypatch.setattr(kprobes, "_swept", False)
    for n, event_id in ((0, 1501), (1, 1502)):
        d = root / "events" / "kprobes" / f"pybpftrace_{os.getpid()}_{n}"
        d.mkdir(parents=True)
        (d / "id").write_text(f"{event_id}\n")
    tracefs.set_tracefs_root(str(root))
    yield root
    tracefs.set_tracefs_root(None)


def test_legacy_kprobe_event_written_opened_and_removed(kernel, legacy_tracefs, method):
    method("legacy")
    pid = os.getpid()
    a = kprobes.attach_kprobe(PROG, "tcp_sendmsg", 16, name="kprobe:tcp_sendmsg+16")
    r = kprobes.attach_kprobe(PROG, "ext4_sync_fs", retprobe=True, module="ext4")
    events = legacy_tracefs / "kprobe_events"
    assert events.read_text().splitlines() == [
        "p:kprobes/other_tool_event do_exit",
        f"p:pybpftrace_{pid}_0 tcp_sendmsg+16",
        f"r:pybpftrace_{pid}_1 ext4:ext4_sync_fs"]
    assert [(e["type"], e["config"], e["pid"], e["cpu"]) for e in kernel.events] == [
        (PerfType.TRACEPOINT, 1501, -1, 0), (PerfType.TRACEPOINT, 1502, -1, 0)]
    assert [link["attach_type"] for link in kernel.links] == [AttachType.PERF_EVENT] * 2
    assert (a.name, r.name) == ("kprobe:tcp_sendmsg+16", "kretprobe:ext4:ext4_sync_fs")
    # Detaching closes the events in this process, then removes them from tracefs.
    attach.detach_all([a, r])
    assert events.read_text().splitlines()[3:] == [f"-:kprobes/pybpftrace_{pid}_0",
                                                   f"-:kprobes/pybpftrace_{pid}_1"]
    assert all(_closed(e["fd"]) for e in kernel.events)


def test_legacy_event_is_removed_when_attaching_to_it_fails(legacy_tracefs, method):
    method("legacy")
    with sys.override(SimpleNamespace(perf_event_open=lambda *a: -errno.EINVAL)):
        with pytest.raises(BpfError, match="^attach kprobe:vfs_read: Invalid argument$"):
            kprobes.attach_kprobe(PROG, "vfs_read")
    assert (legacy_tracefs / "kprobe_events").read_text().splitlines()[-1] == (
        f"-:kprobes/pybpftrace_{os.getpid()}_0")


def test_legacy_events_of_dead_tracers_are_swept(kernel, legacy_tracefs, method):
    method("legacy")
    events = legacy_tracefs / "kprobe_events"
    with events.open("a") as f:
        f.write("p:kprobes/pybpftrace_1_0 vfs_read\n"            # pid 1 lives
                "r10:kprobes/pybpftrace_999999999_4 vfs_read\n")  # no such process
    kprobes.attach_kprobe(PROG, "vfs_write").close()
    lines = events.read_text().splitlines()
    assert "-:kprobes/pybpftrace_999999999_4" in lines
    assert not any(line.startswith("-:kprobes/pybpftrace_1_") for line in lines)
    assert lines[-1] == f"-:kprobes/pybpftrace_{os.getpid()}_0"


def test_legacy_without_kprobe_events_names_the_probe(kernel, tmp_path, method):
    method("legacy")
    tracefs.set_tracefs_root(str(tmp_path))
    try:
        with pytest.raises(BpfError, match="create kprobe event for kprobe:vfs_read: "
                                           "No such file or directory"):
            kprobes.attach_kprobe(PROG, "vfs_read")
    finally:
        tracefs.set_tracefs_root(None)


# ---- kprobe_multi and wildcards -----------------------------------------------------

def test_wildcard_program_gets_one_kprobe_multi_link(kernel, method):
    method("pmu", multi=True)
    probes = [probe("tcp_sendmsg", "kretprobe"), probe("tcp_sendpage", "kretprobe"),
              probe("ext4_sync_fs", "kretprobe")]
    assert kprobes.multi_attach_type(probes) == AttachType.TRACE_KPROBE_MULTI
    (a,) = kprobes.attach_kprobes(PROG, probes, strict=False)
    assert kernel.links == [dict(prog_fd=77, attach_type=AttachType.TRACE_KPROBE_MULTI,
                                 flags=uapi.BPF_F_KPROBE_MULTI_RETURN, cnt=3, addrs=0,
                                 syms=["tcp_sendmsg", "tcp_sendpage", "ext4_sync_fs"])]
    assert kernel.events == [] and a.event_fds == []
    a.close()


def test_kprobe_multi_entry_probes_have_no_return_flag(kernel, method):
    method("pmu", multi=True)
    kprobes.attach_kprobes(PROG, [probe("a"), probe("b")], strict=False)[0].close()
    assert kernel.links[0]["flags"] == 0


@pytest.mark.parametrize("probes, why", [
    ([probe("tcp_sendmsg")], "one function: a plain kprobe"),
    ([probe("a", offset=4), probe("b")], "an offset: kprobe_multi probes function entries"),
    ([probe("a", module="ext4"), probe("b")], "a module: kprobe_multi takes bare names"),
    ([probe("a"), probe("b", "kretprobe")], "entries and returns: one kind per link"),
])
def test_kprobe_multi_only_for_many_function_entries(kernel, sysfs, method, probes, why):
    method("pmu", multi=True)
    assert kprobes.multi_attach_type(probes) == 0, why
    for a in kprobes.attach_kprobes(PROG, probes, strict=False):
        a.close()
    assert [e["config1"] for e in kernel.events] == [
        f"{p.target}:{p.func}" if p.target else p.func for p in probes]


def test_without_kprobe_multi_one_attachment_per_function(kernel, sysfs, method):
    method("pmu", multi=False)
    probes = [probe("vfs_read"), probe("vfs_write")]
    assert kprobes.multi_attach_type(probes) == 0
    attachments = kprobes.attach_kprobes(PROG, probes, strict=False)
    assert [a.name for a in attachments] == ["kprobe:vfs_read", "kprobe:vfs_write"]
    assert [e["config1"] for e in kernel.events] == ["vfs_read", "vfs_write"]
    attach.detach_all(attachments)


def test_wildcard_match_that_cannot_be_probed_is_skipped_with_a_warning(sysfs, method):
    method("pmu")
    fake = FakeKernel(refuse={"vfs_notrace"})
    warnings = []
    with sys.override(fake):
        attachments = kprobes.attach_kprobes(PROG, [probe("vfs_read"), probe("vfs_notrace")],
                                             strict=False, warn=warnings.append)
    assert [a.name for a in attachments] == ["kprobe:vfs_read"]
    assert warnings == ["could not attach probe kprobe:vfs_notrace, skipping."]
    attach.detach_all(attachments)


def test_explicit_function_that_cannot_be_probed_is_an_error(sysfs, method):
    method("pmu")
    with sys.override(FakeKernel(refuse={"nosuch"})):
        with pytest.raises(BpfError, match="open kprobe:nosuch: No such file or directory"):
            kprobes.attach_kprobes(PROG, [probe("nosuch")], strict=True)


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
        return False
    except OSError:
        return True

"""`-l` / `-lv` output, compared with what bpftrace 0.17 printed.

The recorded cases (tests/fixtures/tracefs/listing_0.17.json) only use the
categories whose every event is in the fixture tracefs (sched, timer) or exact
names of fixture events, so the real kernel's output is also the fixture's.
"""
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from pybpftrace.probes import kernel_functions, listing, tracefs
from pybpftrace.probes.listing import list_probes

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tracefs")
with open(os.path.join(FIXTURE, "listing_0.17.json")) as f:
    RECORDED = json.load(f)["cases"]


# Newer bpftrace forms pybpftrace accepts where 0.17 reported an error.
# (Covered by test_kprobes_from_available_filter_functions.)
NEWER_FORMS = {"k:a:b": "kprobe:MODULE:FUNC is newer bpftrace's form",
               "kfunc:vfs_read": "kfunc functions are listed from BTF even where the kernel "
                                 "cannot run them (tests/e2e/test_fentry.py)",
               "iter:task": "0.17's feature probe wrongly finds no iterators on this kernel "
                            "(test_iterators_by_name_are_those_the_kernel_runs)"}


@pytest.fixture
def no_kallsyms(monkeypatch, tmp_path):
    """Without /proc/kallsyms there is no fallback list of kernel functions, as in
    0.17, which only reads available_filter_functions."""
    monkeypatch.setattr(kernel_functions, "KALLSYMS", str(tmp_path / "no-kallsyms"))


@pytest.fixture
def fixture_root(no_kallsyms):
    tracefs.set_tracefs_root(FIXTURE)
    yield FIXTURE
    tracefs.set_tracefs_root(None)


def run(pattern, verbose=False):
    out, err = io.StringIO(), io.StringIO()
    code = list_probes(pattern, verbose, out, err)
    return out.getvalue(), err.getvalue(), code


@pytest.mark.parametrize("case", RECORDED, ids=[f"{c['flag']} {c['pattern']!r}" for c in RECORDED])
def test_matches_recorded_017_output(fixture_root, case):
    if case["pattern"] in NEWER_FORMS:
        pytest.skip(NEWER_FORMS[case["pattern"]])
    assert run(case["pattern"], case["flag"] == "-lv") == (case["stdout"], case["stderr"],
                                                           case["exit"])


def test_verbose_tracepoint_fields(fixture_root):
    assert run("t:syscalls:sys_enter_read", verbose=True) == (
        "tracepoint:syscalls:sys_enter_read\n"
        "    int __syscall_nr\n"
        "    unsigned int fd\n"
        "    char * buf\n"
        "    size_t count\n", "", 0)


def test_fixed_lines_of_types_that_do_not_search(fixture_root):
    out, _, _ = run("software:*,hardware:cycles:100,interval:s:1,BEGIN,watchpoint:0x1000:8:w")
    assert out == "software:*:\nhardware:cycles:\ninterval:\nspecial::\nwatchpoint::\n"


def test_error_format(fixture_root):
    assert run("t:sched:sched_switch,software:nope") == ("", (
        "stdin:1:22-35: ERROR: nope is not a software probe\n"
        "t:sched:sched_switch,software:nope\n"
        "                     ~~~~~~~~~~~~~\n"), 1)


def test_generated_attach_points_have_empty_spans(fixture_root):
    _, err, code = run("*:")
    assert code == 1
    assert err.startswith("stdin:1:1-1: ERROR: hardware probe must have a hardware event name\n*:\n\n")


def test_unknown_provider(fixture_root):
    # 0.17 aborts here (exit 134); we print its message and exit 1.
    assert run("sleep") == ("", "FATAL: Invalid probe type made it to attachpoint parser\n", 1)


def test_everything_without_a_pattern(fixture_root, monkeypatch, tmp_path):
    monkeypatch.setattr(listing, "VMLINUX_BTF", str(tmp_path / "none"))
    out, err, code = run(None)
    lines = out.splitlines()
    assert lines[:2] == ["hardware:*:", "software:*:"]
    assert lines[2:] == [f"tracepoint:{c}:{n}" for c, n in tracefs.list_tracepoints()]
    assert err == (f"WARNING: Could not read symbols from {FIXTURE}/available_filter_functions: "
                   "No such file or directory\n")
    assert code == 0


def test_iterators_need_kernel_btf(fixture_root, monkeypatch, tmp_path):
    monkeypatch.setattr(listing, "VMLINUX_BTF", str(tmp_path))
    assert run("iter:*", verbose=True)[0] == ("iter:task\n    struct task_struct * task\n"
                                              "iter:task_file\n    struct task_struct * task\n"
                                              "    int fd\n    struct file * file\n")


@pytest.mark.parametrize("runs, expected", [
    (("task", "task_file"), ("iter:task\n", "", 0)),
    ((), ("", "stdin:1:1-10: ERROR: iter task not available for your kernel version.\n"
              "iter:task\n~~~~~~~~~\n", 1)),  # as 0.17 says where its feature probe fails
])
def test_iterators_by_name_are_those_the_kernel_runs(fixture_root, monkeypatch, runs, expected):
    monkeypatch.setattr(listing.KernelInfo, "iterators", lambda self: runs)
    assert run("iter:task") == expected


@pytest.fixture
def kernel_with_kprobes(monkeypatch):
    monkeypatch.setattr(listing.features, "kprobe_attach_method", lambda: "pmu")


def test_kprobes_from_available_filter_functions(tmp_path, kernel_with_kprobes):
    (tmp_path / "available_filter_functions").write_text(
        "vfs_read\nvfs_write\nvfs_open.part.0\next4_sync_fs [ext4]\n")
    tracefs.set_tracefs_root(str(tmp_path))
    try:
        assert run("kprobe:vfs_*") == ("kprobe:vfs_read\nkprobe:vfs_write\n", "", 0)
        assert run("kretprobe:ext4_sync_fs")[0] == "kretprobe:ext4_sync_fs\n"
        assert run("kprobe:ext4:*_fs")[0] == "kprobe:ext4:ext4_sync_fs\n"
        assert run("kprobe:vmlinux:vfs_w*")[0] == "kprobe:vmlinux:vfs_write\n"
        assert run("kprobe:*:vfs_read,kprobe:*:ext4_sync_fs")[0] == (
            "kprobe:vmlinux:vfs_read\nkprobe:ext4:ext4_sync_fs\n")
        assert run("kprobe:vfs_read", verbose=True)[0] == "kprobe:vfs_read\n"  # no arguments
    finally:
        tracefs.set_tracefs_root(None)


KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff813ae1f0 t __pfx_finish_task_switch.isra.0
ffffffff813ae200 t finish_task_switch.isra.0
ffffffff816d5370 T vfs_read
ffffffff816d5380 t vfs_read.cold
ffffffff816d5390 t vfs_open.part.0
ffffffff816d53a0 W vfs_weak
ffffffff826d5370 D vfs_data
ffffffffc0001000 t ext4_sync_fs\t[ext4]
"""


def test_kprobes_from_kallsyms_when_ftrace_is_locked(tmp_path, monkeypatch):
    """available_filter_functions unreadable (here: EPERM; in the test: absent):
    kallsyms' text symbols, without padding symbols and .cold/.part clones; a
    kernel without kprobes still lists them, and says it cannot probe them."""
    (tmp_path / "kallsyms").write_text(KALLSYMS)
    (tmp_path / "available_events").write_text("sched:sched_switch\n")
    monkeypatch.setattr(kernel_functions, "KALLSYMS", str(tmp_path / "kallsyms"))
    monkeypatch.setattr(listing.features, "kprobe_attach_method", lambda: None)
    tracefs.set_tracefs_root(str(tmp_path))
    try:
        assert run("kprobe:*") == (
            "kprobe:_stext\nkprobe:ext4_sync_fs\nkprobe:finish_task_switch.isra.0\n"
            "kprobe:vfs_read\nkprobe:vfs_weak\n",
            "WARNING: kprobes are not supported by this kernel\n", 0)
        assert run("kprobe:ext4:*")[0] == "kprobe:ext4:ext4_sync_fs\n"
        # Found as a kernel probe type: no warning, as 0.17 lists it with the others.
        assert run("*finish_task*") == ("hardware:*finish_task*:\n"
                                        "kprobe:finish_task_switch.isra.0\n"
                                        "software:*finish_task*:\n", "", 0)
    finally:
        tracefs.set_tracefs_root(None)


def test_uprobe_functions_of_a_binary(tmp_path):
    target = shutil.which("bash") or pytest.skip("no bash")
    target = os.path.realpath(target)
    out, _, code = run(f"uprobe:{target}:main")
    assert (out, code) == (f"uprobe:{target}:main\n", 0)
    _, err, code = run(f"uprobe:{tmp_path}/nope:f")
    assert err.splitlines()[0] == (f"stdin:1:1-{len(str(tmp_path)) + 15}: ERROR: uprobe target file "
                                   f"'{tmp_path}/nope' does not exist or is not executable")


@pytest.mark.parametrize("python", sorted({os.path.realpath(sys.executable),
                                            os.path.realpath("/usr/bin/python3")}))
def test_usdt_probes_of_a_binary(python):
    out, _, _ = run(f"usdt:{python}:*:function__entry")
    if not out:
        pytest.skip(f"{python} has no USDT probes")
    assert out == f"usdt:{python}:python:function__entry\n"


BPFTRACE = "/usr/bin/bpftrace"


@pytest.mark.kernel
@pytest.mark.skipif(not os.path.exists(BPFTRACE), reason="needs bpftrace 0.17 to compare with")
@pytest.mark.parametrize("flag, pattern", [
    ("-l", None), ("-l", "*sleep*"), ("-l", "t:*:*_start"), ("-lv", "t:sched:*"),
    ("-l", "uprobe:/bin/bash:readl*"), ("-l", "*:cs,t:sched:sched_switch"),
])
def test_same_as_real_bpftrace(flag, pattern, no_kallsyms):
    tracefs.set_tracefs_root(None)
    real = subprocess.run([BPFTRACE, flag] + ([pattern] if pattern else []), capture_output=True, text=True)
    err = "".join(line for line in real.stderr.splitlines(True) if "RLIMIT_MEMLOCK" not in line)
    assert run(pattern, flag == "-lv") == (real.stdout, err, real.returncode)

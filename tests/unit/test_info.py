"""`--info` formatting, with a fake feature set: no kernel needed."""
import io
import os

from pybpftrace import __version__
from pybpftrace.bpf.features import Helper
from pybpftrace.bpf.uapi import MapType, ProgType
from pybpftrace.runtime import info

UNAME = os.uname_result(("Linux", "host", "6.18.0-test", "#1 SMP", "x86_64"))


class FakeFeatures:
    """Answers like this VM, except where a test says otherwise."""

    def __init__(self, everything: bool | None = None):
        self.everything = everything

    def _ans(self, truth: bool) -> bool:
        return truth if self.everything is None else self.everything

    def have_helper(self, prog_type, helper):
        return self._ans(prog_type == ProgType.KPROBE and helper != Helper.OVERRIDE_RETURN)

    def have_map_type(self, map_type):
        return self._ans(map_type != MapType.RINGBUF)

    def have_prog_type(self, prog_type):
        return self._ans(True)

    def have_iter(self, name):
        return self._ans(name == "task")

    def instruction_limit(self):
        return 4096

    def __getattr__(self, name):  # have_loop, have_kprobe, ...: yes unless told
        return lambda: self._ans(name not in ("have_kprobe", "have_kfunc"))


def report(fake=None):
    return info.report(fake or FakeFeatures(), uname=UNAME, llvm_version="22.1.0")


EXPECTED = f"""\
System
  OS: Linux 6.18.0-test #1 SMP
  Arch: x86_64

Build
  version: v{__version__}
  LLVM: 22.1.0
  unsafe uprobe: no
  bfd: no
  libdw (DWARF support): yes

Kernel helpers
  probe_read: yes
  probe_read_str: yes
  probe_read_user: yes
  probe_read_user_str: yes
  probe_read_kernel: yes
  probe_read_kernel_str: yes
  get_current_cgroup_id: yes
  send_signal: yes
  override_return: no
  get_boot_ns: yes
  dpath: no
  skboutput: no

Kernel features
  Instruction limit: 4096
  Loop support: yes
  btf: yes
  map batch: yes
  uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount): yes

Map types
  hash: yes
  percpu hash: yes
  array: yes
  percpu array: yes
  stack_trace: yes
  perf_event_array: yes
  ringbuf: no

Probe types
  kprobe: no
  tracepoint: yes
  perf_event: yes
  kfunc: no
  iter:task: yes
  iter:task_file: no
  kprobe_multi: yes
  raw_tp_special: yes
  tp_btf: yes

"""


def test_whole_report():
    assert report() == EXPECTED


def test_sections_are_bpftrace_017s_in_order():
    titles = [line for line in report().splitlines() if line and not line.startswith(" ")]
    assert titles == ["System", "Build", "Kernel helpers", "Kernel features", "Map types",
                      "Probe types"]
    assert report().endswith("\n\n")


def test_answers_follow_the_features():
    no, yes = report(FakeFeatures(everything=False)), report(FakeFeatures(everything=True))
    for label in ("override_return", "kprobe", "kfunc", "Loop support", "btf", "ringbuf",
                  "iter:task_file", "raw_tp_special", "tp_btf"):
        assert f"  {label}: no\n" in no
        assert f"  {label}: yes\n" in yes
    # Build facts are ours, not the kernel's.
    assert "  bfd: no\n" in yes and "  libdw (DWARF support): yes\n" in yes


def test_print_info_writes_the_report(monkeypatch):
    monkeypatch.setattr(info, "report", lambda: "REPORT\n")
    out = io.StringIO()
    assert info.print_info(out) == 0
    assert out.getvalue() == "REPORT\n"


def test_llvm_version_is_llvmlites():
    import llvmlite.binding as llvm
    assert info._llvm_version() == ".".join(map(str, llvm.llvm_version_info))


class _DenyEverything:
    """A syscall backend that refuses every call, like an unprivileged user."""

    def bpf(self, cmd, attr):
        return -1  # EPERM

    def perf_event_open(self, *args):
        return -1

    def ioctl(self, *args):
        return -1


def _clear_feature_caches():
    from pybpftrace.bpf import features
    for obj in vars(features).values():
        if hasattr(obj, "cache_clear"):
            obj.cache_clear()


def test_refused_probes_say_no_and_never_raise():
    from pybpftrace.bpf import features, sys
    _clear_feature_caches()
    try:
        with sys.override(_DenyEverything()):
            text = info.report(features, uname=UNAME, llvm_version="22.1.0")
    finally:
        _clear_feature_caches()  # later tests must see the real kernel again
    for label in ("probe_read", "Loop support", "map batch", "hash", "ringbuf", "tracepoint",
                  "iter:task", "raw_tp_special", "tp_btf", "kfunc"):
        assert f"  {label}: no\n" in text

"""bpf.features against the measured truth of the dev/CI VM (kernel 6.18,
see shared/research/kernel-capabilities.md): no kprobes, fentry refused with
EPERM, no override_return, but tracepoints, iterators and ringbuf work."""
import io

import pytest

from pybpftrace.bpf import features as f
from pybpftrace.bpf.features import Helper
from pybpftrace.bpf.uapi import MapType, ProgType
from pybpftrace.runtime.info import print_info

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("probe, expected", [
    (lambda: f.have_prog_type(ProgType.TRACEPOINT), True),
    (lambda: f.have_prog_type(ProgType.PERF_EVENT), True),
    (lambda: f.have_prog_type(ProgType.RAW_TRACEPOINT), True),
    (lambda: f.have_prog_type(ProgType.KPROBE), True),   # loads: it is what uprobes use
    (lambda: f.have_kprobe(), False),                    # ... but there is nowhere to attach
    (lambda: f.have_kprobe_multi(), False),
    (lambda: f.have_kfunc(), False),
    (lambda: f.have_iter("task"), True),
    (lambda: f.have_iter("task_file"), True),
    (lambda: f.have_tp_btf(), True),
    (lambda: f.have_raw_tp_special(), True),
    (lambda: f.have_loop(), True),
    (lambda: f.have_btf(), True),
    (lambda: f.have_map_batch(), True),
    (lambda: f.have_uprobe_refcount(), True),
    (lambda: f.have_map_type(MapType.RINGBUF), True),
    (lambda: f.have_map_type(MapType.STACK_TRACE), True),
    (lambda: f.have_map_type(MapType.PERCPU_HASH), True),
], ids=["tracepoint", "perf_event", "raw_tp", "kprobe_prog", "kprobe", "kprobe_multi", "kfunc",
        "iter_task", "iter_task_file", "tp_btf", "raw_tp_special", "loop", "btf", "map_batch",
        "uprobe_refcount", "ringbuf", "stack_trace", "percpu_hash"])
def test_measured_truth(probe, expected):
    assert probe() is expected


@pytest.mark.parametrize("prog_type", [ProgType.KPROBE, ProgType.TRACEPOINT,
                                       ProgType.RAW_TRACEPOINT, ProgType.PERF_EVENT])
def test_helpers_per_prog_type(prog_type):
    # probe_read_kernel is known even though our bare call fails on its
    # arguments; override_return is refused with "cannot use helper" (6.x).
    assert f.have_helper(prog_type, Helper.PROBE_READ_KERNEL) is True
    assert f.have_helper(prog_type, Helper.GET_CURRENT_CGROUP_ID) is True
    assert f.have_helper(prog_type, Helper.OVERRIDE_RETURN) is False


def test_kfunc_only_helpers_are_unavailable():
    assert f.have_helper(ProgType.TRACING, Helper.D_PATH) is False


def test_instruction_limit():
    assert f.instruction_limit() == 1000000


def test_btf_lookup():
    assert f.btf_func_id("bpf_iter_task") > 0
    assert f.btf_func_id("pybpftrace_no_such_function") == 0


def test_odd_questions_answer_no_and_never_raise():
    assert f.have_helper(ProgType.KPROBE, 99999) is False
    assert f.have_map_type(9999) is False
    assert f.have_prog_type(9999) is False
    assert f.have_iter("no_such_iterator") is False


def test_info_report_is_true_and_fast():
    import time
    start = time.monotonic()
    out = io.StringIO()
    assert print_info(out) == 0
    assert time.monotonic() - start < 1.0
    text = out.getvalue()
    for line in ("  override_return: no", "  probe_read_kernel: yes", "  kprobe: no",
                 "  tracepoint: yes", "  kfunc: no", "  tp_btf: yes", "  iter:task: yes",
                 "  Loop support: yes",
                 "  Instruction limit: 1000000", "  ringbuf: yes"):
        assert line + "\n" in text

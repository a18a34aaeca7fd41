"""`--info`: bpftrace 0.17's report, with answers that are true for this kernel.

The sections, labels and order are bpftrace 0.17's, so people (and scripts)
reading it find what they expect; lines 0.17 lacks come last in their section
(ringbuf; tp_btf, which raw tracepoints load as).  "kfunc" is fentry/fexit.
The answers differ on purpose: 0.17 probes helpers and probe types in ways
that 6.x kernels fool ("override_return: yes", "kprobe: yes" on a kernel with
neither), while bpf.features loads real programs.  Build facts are ours: our
version, the LLVM inside llvmlite, "no" for bfd, which we do not use, and
"yes" for libdw: its DWARF support (uprobe `args`) is semantic.dwarf's, on pyelftools.
"""
from __future__ import annotations

import os
from typing import TextIO

from pybpftrace import __version__
from pybpftrace.bpf import features
from pybpftrace.bpf.features import Helper
from pybpftrace.bpf.uapi import MapType, ProgType

# (label, prog type probed in, helper): bpftrace probes most helpers in kprobe
# programs and d_path/skb_output in kfunc (fentry) ones, where they live.
HELPERS = [
    ("probe_read", ProgType.KPROBE, Helper.PROBE_READ),
    ("probe_read_str", ProgType.KPROBE, Helper.PROBE_READ_STR),
    ("probe_read_user", ProgType.KPROBE, Helper.PROBE_READ_USER),
    ("probe_read_user_str", ProgType.KPROBE, Helper.PROBE_READ_USER_STR),
    ("probe_read_kernel", ProgType.KPROBE, Helper.PROBE_READ_KERNEL),
    ("probe_read_kernel_str", ProgType.KPROBE, Helper.PROBE_READ_KERNEL_STR),
    ("get_current_cgroup_id", ProgType.KPROBE, Helper.GET_CURRENT_CGROUP_ID),
    ("send_signal", ProgType.KPROBE, Helper.SEND_SIGNAL),
    ("override_return", ProgType.KPROBE, Helper.OVERRIDE_RETURN),
    ("get_boot_ns", ProgType.KPROBE, Helper.KTIME_GET_BOOT_NS),
    ("dpath", ProgType.TRACING, Helper.D_PATH),
    ("skboutput", ProgType.TRACING, Helper.SKB_OUTPUT),
]

# bpftrace 0.17's map list, plus ringbuf, which our output channel needs.
MAP_TYPES = [
    ("hash", MapType.HASH),
    ("percpu hash", MapType.PERCPU_HASH),
    ("array", MapType.ARRAY),
    ("percpu array", MapType.PERCPU_ARRAY),
    ("stack_trace", MapType.STACK_TRACE),
    ("perf_event_array", MapType.PERF_EVENT_ARRAY),
    ("ringbuf", MapType.RINGBUF),
]


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def _llvm_version() -> str:
    try:
        import llvmlite.binding as llvm
        return ".".join(map(str, llvm.llvm_version_info))
    except Exception:
        return "unknown"


def report(f=features, uname: os.uname_result | None = None,
           llvm_version: str | None = None) -> str:
    """The whole report.  `f` is anything with bpf.features' probe functions
    (tests pass a fake), `uname` and `llvm_version` default to this machine."""
    u = uname or os.uname()
    sections = {
        "System": [
            ("OS", f"{u.sysname} {u.release} {u.version}"),
            ("Arch", u.machine),
        ],
        "Build": [
            ("version", f"v{__version__}"),
            ("LLVM", llvm_version or _llvm_version()),
            ("unsafe uprobe", "no"),
            ("bfd", "no"),
            ("libdw (DWARF support)", "yes"),
        ],
        "Kernel helpers": [(name, _yn(f.have_helper(pt, h))) for name, pt, h in HELPERS],
        "Kernel features": [
            ("Instruction limit", str(f.instruction_limit())),
            ("Loop support", _yn(f.have_loop())),
            ("btf", _yn(f.have_btf())),
            ("map batch", _yn(f.have_map_batch())),
            # 0.17's wording, kept because tools (bpftrace's own test engine)
            # look for this exact line.
            ("uprobe refcount (depends on Build:bcc bpf_attach_uprobe refcount)",
             _yn(f.have_uprobe_refcount())),
        ],
        "Map types": [(name, _yn(f.have_map_type(mt))) for name, mt in MAP_TYPES],
        "Probe types": [
            ("kprobe", _yn(f.have_kprobe())),
            ("tracepoint", _yn(f.have_prog_type(ProgType.TRACEPOINT))),
            ("perf_event", _yn(f.have_prog_type(ProgType.PERF_EVENT))),
            ("kfunc", _yn(f.have_kfunc())),
            ("iter:task", _yn(f.have_iter("task"))),
            ("iter:task_file", _yn(f.have_iter("task_file"))),
            ("kprobe_multi", _yn(f.have_kprobe_multi())),
            ("raw_tp_special", _yn(f.have_raw_tp_special())),
            ("tp_btf", _yn(f.have_tp_btf())),
        ],
    }
    return "".join(title + "\n" + "".join(f"  {k}: {v}\n" for k, v in rows) + "\n"
                   for title, rows in sections.items())


def print_info(out: TextIO) -> int:
    """`--info`: write the report to `out`; the exit status is 0."""
    out.write(report())
    return 0

"""The real semantic.kinfo.KernelInfo: tracefs for tracepoints, bpf.features for the rest."""
from __future__ import annotations

import os
from functools import lru_cache

import fnmatch

from pybpftrace import btf
from pybpftrace.btf.types import Kind as BtfKind
from pybpftrace.bpf import features
from pybpftrace.probes import tracefs
from pybpftrace.semantic.kinfo import TracepointField


@lru_cache(maxsize=1)
def raw_tracepoint_names() -> tuple[str, ...]:
    """The kernel's raw tracepoints: one BTF typedef `btf_trace_<name>` each."""
    try:
        b = btf.vmlinux()
    except (btf.BtfError, OSError):
        return ()
    prefix = "btf_trace_"
    return tuple(sorted(n[len(prefix):] for t in b.iter_types(BtfKind.TYPEDEF)
                        if (n := b.name(t)).startswith(prefix)))


def raw_tracepoint_params(name: str) -> list | None:
    """The typed arguments (btf Params) of raw tracepoint `name`, without the
    leading `void *__data` of the kernel's prototype; None if there is none."""
    try:
        b = btf.vmlinux()
    except (btf.BtfError, OSError):
        return None
    proto = b.tp_btf_proto(name)
    if proto is None:
        return None
    params = list(proto.params)
    if params and b.type_name(params[0].type) == "void *":
        params = params[1:]
    return params


class KernelInfo:
    def raw_tracepoints(self, module: str, name: str) -> list[str]:
        """Raw tracepoint names matching the glob `name` (vmlinux only: no modules)."""
        if module not in ("", "vmlinux", "*"):
            return []
        return [n for n in raw_tracepoint_names() if fnmatch.fnmatchcase(n, name)]

    def raw_tracepoint_params(self, name: str) -> list | None:
        return raw_tracepoint_params(name)

    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        return tracefs.list_tracepoints(category, name)

    @lru_cache(maxsize=None)
    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        return tracefs.tracepoint_format(category, name)

    def kernel_lacks(self, provider: str) -> str | None:
        """One sentence naming what this kernel lacks for `provider`, found by probing it."""
        if provider in ("kprobe", "kretprobe") and not features.have_kprobe():
            return "kprobes are not supported by this kernel"
        if provider == "hardware" and not os.path.exists("/sys/bus/event_source/devices/cpu"):
            return "hardware events are not supported by this kernel (no PMU)"
        if provider in ("kfunc", "kretfunc") and not features.have_kfunc():
            return "kfunc/kretfunc not available for your kernel version."
        return None

    def kernel_btf(self):
        """vmlinux's BTF, or None when the kernel has none."""
        try:
            return btf.vmlinux()
        except (btf.BtfError, OSError):
            return None

"""The real semantic.kinfo.KernelInfo: tracefs for tracepoints, bpf.features for the rest."""
from __future__ import annotations

import os
from functools import lru_cache

from pybpftrace import btf
from pybpftrace.bpf import features
from pybpftrace.probes import tracefs
from pybpftrace.semantic.kinfo import TracepointField


class KernelInfo:
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

"""The real semantic.kinfo.KernelInfo: tracefs for tracepoints, plus feature facts."""
from __future__ import annotations

import os
from functools import lru_cache

from pybpftrace.probes import tracefs
from pybpftrace.semantic.kinfo import TracepointField

KPROBE_PMU = "/sys/bus/event_source/devices/kprobe"


class KernelInfo:
    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        return tracefs.list_tracepoints(category, name)

    @lru_cache(maxsize=None)
    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        return tracefs.tracepoint_format(category, name)

    def kernel_lacks(self, provider: str) -> str | None:
        if provider in ("kprobe", "kretprobe"):
            if not os.path.exists(KPROBE_PMU) and not os.path.exists(
                    os.path.join(tracefs.tracefs_root(), "kprobe_events")):
                return "kprobes are not supported by this kernel"
        if provider == "hardware" and not os.path.exists("/sys/bus/event_source/devices/cpu"):
            return "hardware events are not supported by this kernel (no PMU)"
        if provider in ("kfunc", "kretfunc"):
            return "kfunc/kretfunc not available for your kernel version."
        return None

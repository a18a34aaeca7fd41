"""Shared test setup.

Tests marked `kernel` load and attach real BPF programs: they need root and a
kernel with BPF.  Elsewhere they skip with the reason.  With
PYBPFTRACE_REQUIRE_KERNEL=1 (set by .ci/run) a skipped kernel test counts as a
failure, so CI cannot pass by skipping.
"""
import ctypes
import os

import pytest

REQUIRE_KERNEL = os.environ.get("PYBPFTRACE_REQUIRE_KERNEL") == "1"


def _kernel_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    libc = ctypes.CDLL(None, use_errno=True)
    # BPF_MAP_CREATE of a 1-entry array: map_type=2, key 4, value 4, max 1.
    attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)
    fd = libc.syscall(321, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        return f"bpf(BPF_MAP_CREATE) failed: {os.strerror(ctypes.get_errno())}"
    os.close(fd)
    return None


_REASON = _kernel_unavailable()


def pytest_collection_modifyitems(config, items):
    if _REASON is None:
        return
    skip = pytest.mark.skip(reason=f"kernel test: {_REASON}")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_KERNEL and report.skipped and "kernel" in item.keywords:
        report.outcome = "failed"
        report.longrepr = f"kernel test skipped under PYBPFTRACE_REQUIRE_KERNEL=1: {report.longrepr}"

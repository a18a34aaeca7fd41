"""The one door to the kernel: bpf(2), perf_event_open(2) and ioctl(2).

Every other module calls these three functions and nothing else, so that
  * a failure always becomes a `BpfError` that names what we were doing
    ("create map @x: Operation not permitted"), never a bare errno; and
  * tests can swap the kernel for a fake (`override(fake)`, after aya's
    `override_syscall`) and exercise error paths without root.

A backend returns the raw result: a non-negative value, or -errno.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from typing import Iterator, Protocol

from pybpftrace.bpf import uapi

# The kernel may answer PROG_LOAD with EAGAIN when a signal interrupts the
# verifier; libbpf and cilium retry a few times, so do we.
_PROG_LOAD_ATTEMPTS = 5

# Kernel-internal codes that os.strerror() does not know.
_EXTRA_STRERROR = {uapi.ENOTSUPP: "Operation not supported (ENOTSUPP)"}


class BpfError(OSError):
    """A failed syscall; `op` says what we were doing, `errno` why it failed."""

    def __init__(self, op: str, err: int):
        super().__init__(err, _EXTRA_STRERROR.get(err) or os.strerror(err))
        self.op = op

    def __str__(self) -> str:
        return f"{self.op}: {self.strerror}"


class Backend(Protocol):
    """What a syscall backend (the kernel or a test fake) provides."""

    def bpf(self, cmd: int, attr: ctypes.Structure) -> int: ...

    def perf_event_open(self, attr: uapi.PerfEventAttr, pid: int, cpu: int,
                        group_fd: int, flags: int) -> int: ...

    def ioctl(self, fd: int, request: int, arg: int) -> int: ...


class Kernel:
    """The real backend: libc's syscall(), returning -errno on failure."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._syscall = self._libc.syscall
        self._syscall.restype = ctypes.c_long

    def _call(self, *args) -> int:
        ret = self._syscall(*args)
        return ret if ret >= 0 else -ctypes.get_errno()

    def bpf(self, cmd: int, attr: ctypes.Structure) -> int:
        return self._call(ctypes.c_long(uapi.SYS_BPF), ctypes.c_int(cmd), ctypes.byref(attr),
                          ctypes.c_uint(ctypes.sizeof(attr)))

    def perf_event_open(self, attr: uapi.PerfEventAttr, pid: int, cpu: int,
                        group_fd: int, flags: int) -> int:
        return self._call(ctypes.c_long(uapi.SYS_PERF_EVENT_OPEN), ctypes.byref(attr),
                          ctypes.c_int(pid), ctypes.c_int(cpu), ctypes.c_int(group_fd),
                          ctypes.c_ulong(flags))

    def ioctl(self, fd: int, request: int, arg: int) -> int:
        return self._call(ctypes.c_long(uapi.SYS_IOCTL), ctypes.c_int(fd),
                          ctypes.c_ulong(request), ctypes.c_long(arg))


backend: Backend = Kernel()


@contextlib.contextmanager
def override(fake: Backend) -> Iterator[Backend]:
    """Route every syscall to `fake` inside the block (for tests)."""
    global backend
    saved, backend = backend, fake
    try:
        yield fake
    finally:
        backend = saved


def bpf(cmd: int, attr: ctypes.Structure, op: str = "") -> int:
    """bpf(cmd, attr); `op` names the operation in the error ("create map @x")."""
    attempts = _PROG_LOAD_ATTEMPTS if cmd == uapi.Cmd.PROG_LOAD else 1
    for _ in range(attempts):
        ret = backend.bpf(cmd, attr)
        if ret != -errno.EAGAIN:
            break
    if ret < 0:
        raise BpfError(op or f"bpf({uapi.Cmd(cmd).name})", -ret)
    return ret


def perf_event_open(attr: uapi.PerfEventAttr, pid: int, cpu: int, group_fd: int = -1,
                    flags: int = uapi.PERF_FLAG_FD_CLOEXEC, op: str = "") -> int:
    """perf_event_open(2); returns the event fd."""
    attr.size = ctypes.sizeof(attr)
    ret = backend.perf_event_open(attr, pid, cpu, group_fd, flags)
    if ret < 0:
        raise BpfError(op or "perf_event_open", -ret)
    return ret


def ioctl(fd: int, request: int, arg: int = 0, op: str = "") -> int:
    """ioctl(2) with an integer argument (all the perf ioctls we use take one)."""
    ret = backend.ioctl(fd, request, arg)
    if ret < 0:
        raise BpfError(op or f"ioctl({request:#x})", -ret)
    return ret

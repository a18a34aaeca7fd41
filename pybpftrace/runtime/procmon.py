"""`-p PID`: the running process to trace, as bpftrace 0.17's ProcMon watches it.

The pid is checked with 0.17's words (`pid 'x' is not a valid decimal
number`, `... out of valid pid range [1,4194304]`), held through a pidfd so
that its exit is seen even if the number is reused, and the tracer ends when
the process does.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import select

PID_MAX = 4 * 1024 * 1024
LONG_MAX = (1 << 63) - 1
NR_PIDFD_OPEN = 434


class ProcMonError(Exception):
    """A bad or gone pid; str() is 0.17's message."""


def parse_pid(text: str) -> int:
    """0.17's parse_pid: std::stol in base 10 (leading blanks and a sign allowed),
    the whole string a number, in the kernel's pid range."""
    m = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    if m is None:
        raise ProcMonError(f"pid '{text}' is not a valid decimal number")
    value = int(m.group(1))
    if not -LONG_MAX - 1 <= value <= LONG_MAX:
        raise ProcMonError(f"pid '{text}' outside of integer range")
    if m.end() < len(text):
        raise ProcMonError(f"pid '{text}' is not a valid decimal number")
    if not 1 <= value <= PID_MAX:
        raise ProcMonError(f"pid '{text}' out of valid pid range [1,{PID_MAX}]")
    return value


class ProcMon:
    """A process given by -p, watched through a pidfd."""

    def __init__(self, text: str):
        self.pid = parse_pid(text)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(NR_PIDFD_OPEN, self.pid, 0)
        if fd < 0:
            err = ctypes.get_errno()
            # 0.17's wording, empty context included (": No such process").
            prefix = "" if err == errno.ESRCH else "Failed to pidfd_open pid"
            raise ProcMonError(f"{prefix}: {os.strerror(err)}")
        self.pidfd = fd

    def is_alive(self) -> bool:
        """The pidfd becomes readable when the process exits."""
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return not readable

"""Helpers for the real-event runtime tests (test_runtime.py).

`Tracer` runs `python3 -m pybpftrace` as a subprocess and waits until every
probe is attached: with `__BPFTRACE_NOTIFY_PROBES_ATTACHED` in its
environment, pybpftrace (like bpftrace) prints that name on its own stderr
line once attaching is done.  Its stdout and stderr are collected by threads,
so a chatty tracer can never block on a full pipe.

The workloads cause real events: each is a child process whose pid is known
before it does anything traced.  `gated()` starts a command behind a shell
that waits for one line on stdin and then `exec`s it, keeping its pid, so a
tracer filtering on `pid == $1` can be started in between.  `named()` runs
Python code in a process whose comm was set with prctl(PR_SET_NAME) to a name
no other process on the machine uses.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTIFY = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"


class Tracer:
    """One pybpftrace run.  Use as a context manager: leaving the block kills
    the tracer (SIGKILL) if a test left it running."""

    def __init__(self, program: str, *params: str, flags: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, attach_timeout: float = 30) -> None:
        argv = [sys.executable, "-m", "pybpftrace", *flags, "-e", program, *params]
        full_env = {**os.environ, NOTIFY: "1", **(env or {})}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out = bytearray()
        self._err = bytearray()
        self._attached = threading.Event()
        self._readers = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._readers:
            t.start()
        if not self.wait_attached(attach_timeout):
            self.kill()
            raise AssertionError(f"tracer did not attach: rc={self.proc.returncode} "
                                 f"stderr={self.stderr!r} stdout={self.stdout!r}")
        self.attached_after = time.monotonic() - self.started

    # ---- reading ------------------------------------------------------------
    def _read_out(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self._out += chunk

    def _read_err(self) -> None:
        for line in iter(self.proc.stderr.readline, b""):
            if line.rstrip(b"\n") == NOTIFY.encode():
                self._attached.set()
            else:
                self._err += line
        self._attached.set()  # EOF: the tracer ended (wait_attached checks how)

    def wait_attached(self, timeout: float) -> bool:
        return self._attached.wait(timeout) and self.proc.poll() is None

    @property
    def stdout(self) -> bytes:
        return bytes(self._out)

    @property
    def stderr(self) -> bytes:
        """stderr without the notification line."""
        return bytes(self._err)

    def wait_for_output(self, needle: bytes, timeout: float = 10) -> bool:
        """Wait until `needle` appears on stdout (events are printed as they come)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self._out:
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return needle in self._out

    # ---- ending -------------------------------------------------------------
    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Send `sig` and wait for the tracer to end; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 20) -> int:
        """Wait for the tracer to end by itself (exit() in a probe)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"tracer still running after {timeout} s; "
                                 f"stdout={self.stdout[-2000:]!r} stderr={self.stderr!r}")
        for t in self._readers:
            t.join(10)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for t in self._readers:
            t.join(10)

    def __enter__(self) -> "Tracer":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def run_tracer(program: str, *params: str, flags: tuple[str, ...] = (),
               timeout: float = 30) -> subprocess.CompletedProcess:
    """Run pybpftrace to its end (for programs that exit() or fail)."""
    return subprocess.run([sys.executable, "-m", "pybpftrace", *flags, "-e", program, *params],
                          cwd=ROOT, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# ---- workloads ---------------------------------------------------------------

def unique_name(prefix: str = "pbt") -> str:
    """A short name no other process uses; fits in a 15-byte comm."""
    return f"{prefix}{uuid.uuid4().hex[:15 - len(prefix)]}"


def run(*argv: str, timeout: float = 20, cwd: Path | str | None = None) -> int:
    """Run a command to completion, quietly; returns its pid."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=cwd)
    assert p.wait(timeout) == 0, argv
    return p.pid


def cat(path: Path | str | bytes, cwd: Path | str | None = None) -> int:
    """`cat PATH` (in `cwd`): one openat() of PATH by a process named "cat";
    returns its pid."""
    return run("cat", os.fsdecode(path), cwd=cwd)


def sleep(seconds: float = 0.1) -> int:
    return run("sleep", str(seconds))


class Gated:
    """A command started but held until go(): `sh -c 'read _; exec CMD'`.

    The pid is the command's pid from the start (exec keeps it), so a
    tracer can filter on it before the command runs.
    """

    def __init__(self, *argv: str) -> None:
        script = 'read _ && exec "$@"'
        self.proc = subprocess.Popen(["sh", "-c", script, "sh", *argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid

    def go(self, timeout: float = 20) -> int:
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()
        rc = self.proc.wait(timeout)
        assert rc == 0, self.proc.stderr.read()
        return rc

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def gated(*argv: str) -> Gated:
    return Gated(*argv)


def dd(path: Path | str, count: int, bs: str = "4k") -> Gated:
    """dd writing `count` blocks of `bs` zeros, held until go(); status=none so
    that the only write() calls are the data blocks."""
    return gated("dd", "if=/dev/zero", f"of={path}", f"bs={bs}", f"count={count}", "status=none")


_NAMED = """\
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(15, ctypes.c_char_p(sys.argv[1].encode()), 0, 0, 0) != 0:  # PR_SET_NAME
    raise SystemExit("prctl failed")
del sys.argv[1]
"""


def named(comm: str, code: str, *args: str, timeout: float = 30) -> int:
    """Run Python `code` in a process whose comm is `comm` (set before `code`
    runs; `sys.argv[1:]` are `args`); returns its pid after it ended."""
    assert len(comm.encode()) <= 15, comm
    source = _NAMED + textwrap.dedent(code)
    return run(sys.executable, "-c", source, comm, *args, timeout=timeout)


def open_n(comm: str, path: Path | str, n: int) -> int:
    """A process named `comm` that opens `path` n times (n openat calls)."""
    return named(comm, """
        import os, sys
        path, n = sys.argv[1], int(sys.argv[2])
        for _ in range(n):
            os.close(os.open(path, os.O_RDONLY))
    """, str(path), str(n))


def syscalls_n(comm: str, n: int) -> int:
    """A process named `comm` that calls getppid() n times and nothing else
    of note after its name is set."""
    return named(comm, """
        import os, sys
        n = int(sys.argv[1])
        for _ in range(n):
            os.getppid()
    """, str(n))


def exec_as(comm: str, *argv: str) -> int:
    """A process named `comm` that execs argv (sys_enter_execve sees `comm`)."""
    return named(comm, """
        import os, sys
        os.execvp(sys.argv[1], sys.argv[1:])
    """, *argv)


def udp_send(comm: str, port: int, payloads: list[bytes]) -> int:
    """A process named `comm` that sends each payload as one UDP datagram to
    127.0.0.1:port; returns its pid."""
    return named(comm, """
        import socket, sys
        port = int(sys.argv[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for p in sys.argv[2:]:
            s.sendto(bytes.fromhex(p), ("127.0.0.1", port))
        s.close()
    """, str(port), *(p.hex() for p in payloads))


def touch_pages(comm: str, pages: int) -> int:
    """A process named `comm` that faults in `pages` fresh anonymous pages."""
    return named(comm, """
        import mmap, sys
        n = int(sys.argv[1])
        m = mmap.mmap(-1, n * 4096)
        for i in range(0, n * 4096, 4096):
            m[i] = 1
        m.close()
    """, str(pages))


def free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def map_lines(output: bytes, name: str) -> dict[str, str]:
    """`@name[key]: value` lines of a text map dump as {key: value}."""
    prefix = f"{name}["
    found = {}
    for line in output.decode("utf-8", "replace").splitlines():
        if line.startswith(prefix) and "]: " in line:
            key, _, value = line[len(prefix):].rpartition("]: ")
            found[key] = value
    return found

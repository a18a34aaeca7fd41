"""`-c CMD`: the command to trace, as bpftrace 0.17's ChildProc runs it.

The command is forked before the programs are generated (its pid is the
`cpid` constant compiled into them, and the pid uprobes are attached for), but
it waits, before exec, until the probes are attached and `run()` lets it go:
so nothing it does happens untraced.  It is not run through a shell: 0.17
splits the command at each single space, quotes included (`-c "prog 'A'"`
passes `'A'`, quotes and all), and the program must be one ELF executable.
When it exits, the tracer ends as on Ctrl-C; when the tracer ends first, it
gets SIGTERM (SIGKILL if it outlives the tracer's teardown).
"""
from __future__ import annotations

import ctypes
import os
import signal

from pybpftrace.semantic.binaries import resolve_binary_path

MAX_ARGS = 256
PR_SET_PDEATHSIG = 1
GO = b"g"


class ChildError(Exception):
    """The command cannot be run; str() is 0.17's reason."""


def split_command(cmd: str) -> list[str]:
    """0.17's split_string(cmd, ' '): every single space separates, so two in a
    row make an empty argument; a trailing one does not."""
    words = cmd.split(" ")
    if words and words[-1] == "":
        words.pop()
    return words


def resolve_command(cmd: str) -> list[str]:
    """The argv to exec, its program resolved as 0.17's validate_cmd does."""
    argv = split_command(cmd)
    paths = resolve_binary_path(argv[0] if argv else "")
    if not paths:
        raise ChildError(f"path '{argv[0] if argv else ''}' does not exist or is not executable")
    if len(paths) > 1:
        raise ChildError(f"path '{argv[0]}' must refer to a unique binary but matched "
                         f"{len(paths)} binaries")
    if len(argv) >= MAX_ARGS - 1:
        raise ChildError(f"Too many arguments for command ({len(argv)} > {MAX_ARGS - 1})")
    return [paths[0], *argv[1:]]


class ChildProc:
    """A forked command held before exec until run()."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.exit_code: int | None = None
        self.term_signal: int | None = None
        self._released = False
        rfd, self._go = os.pipe2(os.O_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:  # the child: nothing here may return into the tracer's code
            try:
                os.close(self._go)
                ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
                if os.read(rfd, 1) == GO:
                    os.execve(argv[0], argv, os.environ)
                    # not reached
            except OSError as e:
                os.write(2, f"child: failed to execve: {argv[0]}: {e.strerror}\n".encode())
            finally:
                os._exit(12)
        os.close(rfd)

    def run(self) -> None:
        """Let the command exec."""
        if not self._released:
            self._released = True
            os.write(self._go, GO)
            os.close(self._go)

    def is_alive(self) -> bool:
        if self.exit_code is None and self.term_signal is None:
            self._reap(os.WNOHANG)
        return self.exit_code is None and self.term_signal is None

    def terminate(self, force: bool = False) -> None:
        """SIGTERM (SIGKILL when `force`, and wait for it) if it still runs."""
        if not self.is_alive():
            return
        os.kill(self.pid, signal.SIGKILL if force else signal.SIGTERM)
        self._reap(0 if force else os.WNOHANG)

    def close(self) -> None:
        """The tracer is done: a command still held or running is killed."""
        if not self._released:
            os.close(self._go)
            self._released = True
        self.terminate(force=True)

    def _reap(self, flags: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.exit_code = -1
            return
        if pid == 0:
            return
        if os.WIFEXITED(status):
            self.exit_code = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            self.term_signal = os.WTERMSIG(status)

"""The Python API: run a program, get its output as Python objects.

It drives the same runtime as the CLI (the same compiler, session, kernel
programs and maps); only the Output differs: instead of text, events are
collected and every map's final contents come back as output.values.MapDump.

    result = pybpftrace.run('tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }',
                            duration=1.0)
    result.maps["@"].entries      # [(comm, count), ...]
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError
from pybpftrace.output.base import Output
from pybpftrace.output.values import MapDump
from pybpftrace.probes.kernelinfo import KernelInfo
from pybpftrace.runtime.session import RunOptions, Session


@dataclass
class Result:
    """What a run produced: async output in order, and the maps at exit."""
    events: list[tuple[str, object]] = field(default_factory=list)  # ("printf", text), ("print", dump)...
    maps: dict[str, MapDump] = field(default_factory=dict)
    probes: int = 0
    lost: int = 0

    @property
    def printed(self) -> str:
        """All printf/time/cat/system/join text, concatenated."""
        return "".join(v for k, v in self.events if isinstance(v, str))


class _Collector(Output):
    """An Output that keeps values instead of rendering them.  Maps printed
    during the run are events; the exit-time dump fills `maps`."""

    def __init__(self, result: Result):
        super().__init__(out=None)
        self.result = result
        self.at_exit = False

    def end_separator(self) -> None:
        self.at_exit = True

    def attached_probes(self, n: int) -> None:
        self.result.probes = n

    def printf(self, text: str) -> None:
        self.result.events.append(("printf", text))

    def time(self, text: str) -> None:
        self.result.events.append(("time", text))

    def cat(self, text: str) -> None:
        self.result.events.append(("cat", text))

    def system(self, text: str) -> None:
        self.result.events.append(("system", text))

    def join(self, text: str) -> None:
        self.result.events.append(("join", text + "\n"))

    def lost_events(self, n: int) -> None:
        self.result.lost += n

    def map(self, dump: MapDump, top: int = 0, div: int = 1) -> None:
        if self.at_exit:
            self.result.maps[dump.name] = dump
        else:
            self.result.events.append(("print", dump))

    def value(self, v) -> None:
        self.result.events.append(("value", v))


def run(source: str, *params: str, duration: float | None = None, unsafe: bool = False,
        strlen: int = 64, max_map_keys: int = 4096, include_dirs=(), includes=()) -> Result:
    """Compile and run `source` until it calls exit() or `duration` seconds pass.

    `include_dirs` and `includes` are the CLI's -I DIR and --include FILE, for
    the program's `#include`s.  Raises diag.DiagnosticError (its str() is
    bpftrace's error text) for a bad program, and OSError subclasses when the
    kernel refuses something.  Must be called from the main thread (the run
    handles SIGINT/SIGTERM like the CLI).
    """
    kinfo = KernelInfo()
    opts = driver.Options(strlen=strlen, max_map_keys=max_map_keys, unsafe=unsafe,
                          params=list(params), include_dirs=list(include_dirs),
                          includes=list(includes))
    analysed = driver.analyse(source, "stdin", kinfo, opts)
    result = Result()
    session = Session(analysed, kinfo, _Collector(result), opts.params, RunOptions())
    timer = None
    if duration is not None:
        timer = threading.Timer(duration, session.stop)
        timer.start()
    try:
        session.run()
    finally:
        if timer is not None:
            timer.cancel()
        session.close()
    return result


__all__ = ["run", "Result", "DiagnosticError"]

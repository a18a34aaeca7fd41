"""Watchpoints at run time: hardware breakpoints, attached up front or on request.

`watchpoint:ADDR:LEN:MODE` is attached with the other probes: a
PERF_TYPE_BREAKPOINT event in the traced process (-p/-c; in the kernel on
every CPU without one).  `watchpoint:FUNC+argN:LEN:MODE` attaches its setup
program (codegen.watchpoints) as a uprobe on FUNC instead; each
WATCHPOINT_ATTACH record it sends names the probe and the address to watch,
and the probe's body is attached to a breakpoint there -- once per address,
as in 0.17 -- before the process, stopped by the setup program, is let go
(SIGCONT; `asyncwatchpoint`s do not stop it).  The CPU has only a few debug
registers: when they run out, 0.17's message goes out as a lost-events line.
unwatch(ADDR) detaches every watchpoint on ADDR.
"""
from __future__ import annotations

import errno
import os
import signal

from pybpftrace.bpf.programs import Program
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import ProgType
from pybpftrace.output.base import Output
from pybpftrace.probes import attach as attaching
from pybpftrace.resources import ProbeInfo

OUT_OF_REGISTERS = "Failed to attach watchpoint probe. You are out of watchpoint registers."


class Watchpoints:
    def __init__(self, probes: list[ProbeInfo], out: Output, pid: int):
        self.probes = probes
        self.out = out
        self.pid = pid                        # the traced process, -1 for the kernel
        self.setups: dict[int, Program] = {}  # probe index -> setup program
        self.bodies: dict[int, Program] = {}  # probe index -> the probe's own program
        self.watched: dict[int, int] = {}     # probe index -> address last watched
        self.active: list[tuple[int, attaching.Attachment]] = []  # (address, breakpoint)

    def load_setups(self, setups: dict[int, bytes]) -> list[Program]:
        """Load a unit's setup programs; returns them (the caller owns them)."""
        for index, insns in setups.items():
            self.setups[index] = Program.load(ProgType.KPROBE, insns, name=f"wp_setup{index}")
        return [self.setups[i] for i in setups]

    def attach(self, prog: Program, index: int) -> attaching.Attachment | None:
        """Attach probe `index`: its setup uprobe (returned), or its breakpoint
        at once (kept here, for unwatch(); None is returned)."""
        probe = self.probes[index]
        if probe.func:
            self.bodies[index] = prog
            return attaching.attach_uprobe(self.setups[index], probe.target, probe.offset,
                                           pid=self.pid)
        self._watch(prog, probe, probe.address)
        return None

    def on_attach(self, index: int, address: int) -> None:
        """A WATCHPOINT_ATTACH record: watch `address` for probe `index`, then
        let the stopped process continue."""
        probe = self.probes[index]
        if self.watched.get(index) != address:
            self.watched[index] = address
            try:
                self._watch(self.bodies[index], probe, address)
            except BpfError as e:  # anything but full registers ends the run
                if e.errno != errno.ENOSPC:
                    raise
                self.out.message("lost_events", OUT_OF_REGISTERS)
        if probe.provider == "watchpoint" and self.pid > 0:
            os.kill(self.pid, signal.SIGCONT)

    def on_detach(self, address: int) -> None:
        """unwatch(address)."""
        for watched, attachment in [w for w in self.active if w[0] == address]:
            attachment.close()
            self.active.remove((watched, attachment))

    def take_all(self) -> list[attaching.Attachment]:
        """The breakpoints still attached, handed over for detaching."""
        taken = [a for _, a in self.active]
        self.active = []
        return taken

    def _watch(self, prog: Program, probe: ProbeInfo, address: int) -> None:
        attachment = attaching.attach_breakpoint(prog, address, probe.length, probe.mode, self.pid)
        self.active.append((address, attachment))

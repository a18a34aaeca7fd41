"""Attach loaded programs to tracepoints, raw tracepoints, perf events and the
kprobe/uprobe PMUs (probes/kprobes.py chooses how kprobes attach), and detach
many of them fast.

Every attachment is a bpf_link (LINK_CREATE with BPF_PERF_EVENT, or
RAW_TRACEPOINT_OPEN), because closing a link detaches its program at once,
while the perf event under it can stay open.  That split is what makes exit
fast: closing a tracepoint perf event waits for an RCU tasks-trace grace period
(60-220 ms each here, serialised by the kernel's event_mutex), so closing the
~360 events of `tracepoint:syscalls:sys_enter_*` takes 15-30 s, which is how
long bpftrace 0.17 needs to exit.  `detach_all()` instead
  1. closes every link fd from a pool of threads: each close also waits for a
     grace period, but outside any mutex, so concurrent closes share grace
     periods (360 links: ~0.2 s) -- after this no program runs any more;
  2. hands the perf event fds that are slow to close to a detached grandchild
     process, which closes them in the background and exits, and drops this
     process's copies (cheap: only the last close of an event is slow).
"""
from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Sequence

from pybpftrace.bpf import sys, uapi
from pybpftrace.bpf.maps import online_cpus
from pybpftrace.bpf.programs import Program
from pybpftrace.bpf.uapi import AttachType, Cmd, PerfType
from pybpftrace.probes import tracefs

# Link fds closed at once by detach_all(); more threads share grace periods
# better (360 links: 16 threads 0.9 s, 64 0.27 s, 128 0.15 s).
_DETACH_THREADS = 128


class Attachment:
    """One probe's attachment: closing `link_fds` detaches the program;
    `event_fds` are the perf events the links sit on.  `slow_close` marks
    events whose close waits for a grace period (tracepoints).  `cleanup`
    runs once the events are closed (removing a tracefs kprobe event, which
    the kernel refuses while an event is open)."""

    def __init__(self, name: str, link_fds: list[int], event_fds: list[int],
                 slow_close: bool = False, cleanup: Callable[[], None] | None = None):
        self.name = name
        self.link_fds = link_fds
        self.event_fds = event_fds
        self.slow_close = slow_close
        self.cleanup = cleanup

    def close(self) -> None:
        """Detach now, in this process (may take ~0.1 s per tracepoint)."""
        for fd in self.link_fds + self.event_fds:
            os.close(fd)
        self.link_fds, self.event_fds = [], []
        self.run_cleanup()

    def run_cleanup(self) -> None:
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()

    def __enter__(self) -> "Attachment":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Attachment {self.name} links={self.link_fds} events={self.event_fds}>"


# ---- attaching ------------------------------------------------------------

def attach_tracepoint(prog: Program, category: str, name: str, cookie: int = 0) -> Attachment:
    """Run a TRACEPOINT program on category:name.  One perf event on CPU 0
    serves all CPUs: the program hangs off the tracepoint, not the event.
    `cookie` is what bpf_get_attach_cookie() returns in the program: one
    program serving many tracepoints learns from it which one fired."""
    probe = f"tracepoint:{category}:{name}"
    attr = uapi.PerfEventAttr(type=PerfType.TRACEPOINT, config=tracefs.tracepoint_id(category, name),
                              sample_period=1, wakeup_events=1, flags=uapi.PERF_ATTR_DISABLED)
    event = sys.perf_event_open(attr, -1, 0, op=f"open {probe}")
    try:
        link = _link_and_enable(prog, event, probe, cookie)
    except BaseException:
        os.close(event)
        raise
    return Attachment(probe, [link], [event], slow_close=True)


def attach_perf_event(prog: Program, type: int, config: int, sample_period: int = 0,
                      sample_freq: int = 0, cpus: Sequence[int] | None = None,
                      pid: int = -1) -> Attachment:
    """Run a PERF_EVENT program on a sampling event on each of `cpus` (default:
    every online CPU; profile uses all of them, interval only [0])."""
    probe = f"perf_event:{PerfType(type).name.lower()}:{config}"
    attr = uapi.PerfEventAttr(type=type, config=config, flags=uapi.PERF_ATTR_DISABLED)
    if sample_freq:
        attr.sample_period, attr.flags = sample_freq, attr.flags | uapi.PERF_ATTR_FREQ
    else:
        attr.sample_period = sample_period
    return _attach_events(prog, attr, probe, online_cpus() if cpus is None else cpus, pid)


# perf's hw_breakpoint types (HW_BREAKPOINT_R/W/X) for a watchpoint's mode letters.
BREAKPOINT_TYPES = {"r": 1, "w": 2, "x": 4}


def attach_breakpoint(prog: Program, address: int, length: int, mode: str,
                      pid: int = -1) -> Attachment:
    """Run a PERF_EVENT program on every access (`mode`: letters of "rwx") to
    `length` bytes at `address`: a hardware watchpoint in process `pid`, or,
    with pid -1, in the kernel, on every online CPU.  The CPU's few debug
    registers run out with ENOSPC (a BpfError)."""
    probe = f"watchpoint:0x{address:x}:{length}:{mode}"
    attr = uapi.PerfEventAttr(type=PerfType.BREAKPOINT, sample_period=1,
                              bp_type=sum(BREAKPOINT_TYPES[c] for c in mode),
                              config1=address, config2=length, flags=uapi.PERF_ATTR_DISABLED)
    return _attach_events(prog, attr, probe, [-1] if pid > 0 else online_cpus(), pid)


def _attach_events(prog: Program, attr: uapi.PerfEventAttr, probe: str, cpus: Sequence[int],
                   pid: int) -> Attachment:
    """Open the event `attr` for `pid` on each of `cpus` and link `prog` to each."""
    attachment = Attachment(probe, [], [])
    try:
        for cpu in cpus:
            attachment.event_fds.append(
                sys.perf_event_open(attr, pid, cpu, op=f"open {probe} on cpu {cpu}"))
            attachment.link_fds.append(
                _link_and_enable(prog, attachment.event_fds[-1], probe))
    except BaseException:
        attachment.close()
        raise
    return attachment


# perf's dynamic PMUs ("kprobe", "uprobe"): each has a `type` file and, in
# format/retprobe, the `config` bit that makes an event a return probe.
EVENT_SOURCES = "/sys/bus/event_source/devices"


def pmu_type(pmu: str) -> int:
    """The perf event type of PMU `pmu`; OSError when the kernel has no such PMU."""
    try:
        with open(f"{EVENT_SOURCES}/{pmu}/type") as f:
            return int(f.read())
    except (OSError, ValueError) as e:
        raise OSError(f"{pmu}s are not supported by this kernel (no {pmu} PMU: {e})") from e


def _retprobe_bit(pmu: str) -> int:
    """The `config` bit that makes an event of `pmu` a return probe ("config:0")."""
    try:
        with open(f"{EVENT_SOURCES}/{pmu}/format/retprobe") as f:
            return int(f.read().strip().split(":")[1].split("-")[0])
    except (OSError, ValueError, IndexError):
        return 0


def attach_probe_pmu(prog: Program, pmu: str, probe: str, where: str, offset: int,
                     retprobe: bool = False, pid: int = -1, ref_ctr: int = 0) -> Attachment:
    """Run a KPROBE-type program on a kprobe or uprobe PMU event: `where` (a
    kernel function, or a binary's path) goes in config1, `offset` (into the
    function, or the file) in config2.  One event on CPU 0 (pid -1) fires on
    every CPU: the program hangs off the probe, not the event.  `ref_ctr`: a
    uprobe's reference counter (a USDT semaphore's file offset, config bits
    32-63), which the kernel increments in every process the probe is in."""
    ptype = pmu_type(pmu)
    cwhere = ctypes.create_string_buffer(where.encode())
    config = ((1 << _retprobe_bit(pmu)) if retprobe else 0) | (ref_ctr << 32)
    attr = uapi.PerfEventAttr(type=ptype, config=config,
                              config1=ctypes.addressof(cwhere), config2=offset,
                              sample_period=1, wakeup_events=1, flags=uapi.PERF_ATTR_DISABLED)
    event = sys.perf_event_open(attr, pid, 0 if pid == -1 else -1, op=f"open {probe}")
    del cwhere
    try:
        link = _link_and_enable(prog, event, probe)
    except BaseException:
        os.close(event)
        raise
    return Attachment(probe, [link], [event], slow_close=True)


def attach_uprobe(prog: Program, path: str, offset: int, retprobe: bool = False,
                  pid: int = -1, ref_ctr: int = 0) -> Attachment:
    """Run a KPROBE-type program at file offset `offset` of `path` through the
    perf uprobe PMU (a return probe when `retprobe`).  One event on CPU 0
    (pid -1) covers every process that maps the file.  `ref_ctr`: see
    attach_probe_pmu (usdt semaphores)."""
    probe = f"{'uretprobe' if retprobe else 'uprobe'}:{path}:0x{offset:x}"
    return attach_probe_pmu(prog, "uprobe", probe, path, offset, retprobe, pid, ref_ctr)


def attach_raw_tracepoint(prog: Program, name: str) -> Attachment:
    """Run a RAW_TRACEPOINT program on the kernel tracepoint `name` (e.g. "sys_enter")."""
    cname = ctypes.create_string_buffer(name.encode())
    attr = uapi.RawTracepointOpenAttr(name=ctypes.addressof(cname), prog_fd=prog.fd)
    link = sys.bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, f"attach rawtracepoint:{name}")
    return Attachment(f"rawtracepoint:{name}", [link], [])


def _link_and_enable(prog: Program, event: int, probe: str, cookie: int = 0) -> int:
    attr = uapi.LinkCreateAttr(prog_fd=prog.fd, target_fd=event, attach_type=AttachType.PERF_EVENT,
                               bpf_cookie=cookie)
    link = sys.bpf(Cmd.LINK_CREATE, attr, f"attach {probe}")
    try:
        sys.ioctl(event, uapi.PERF_EVENT_IOC_ENABLE, 0, op=f"enable {probe}")
    except BaseException:
        os.close(link)
        raise
    return link


# ---- detaching ------------------------------------------------------------

def detach_all(attachments: Iterable[Attachment]) -> None:
    """Detach every attachment and return quickly (see the module docstring):
    when this returns no program runs any more, and the slow perf event closes
    continue in a background process that does not hold our stdout/stderr."""
    attachments = list(attachments)
    links = [fd for a in attachments for fd in a.link_fds]
    if len(links) > 1:
        with ThreadPoolExecutor(min(len(links), _DETACH_THREADS)) as pool:
            list(pool.map(os.close, links))
    else:
        for fd in links:
            os.close(fd)
    # Events with a cleanup are closed here: the cleanup needs them closed.
    slow = [fd for a in attachments if a.slow_close and not a.cleanup for fd in a.event_fds]
    for a in attachments:
        if not a.slow_close or a.cleanup:
            for fd in a.event_fds:
                os.close(fd)
        a.link_fds, a.event_fds = [], []
        a.run_cleanup()
    if slow:
        _close_in_background(slow)


def _close_in_background(fds: list[int]) -> None:
    """Give `fds` to a detached grandchild that closes them, then close ours.
    The double fork with setsid means nobody has to reap it and it leaves our
    session, so terminal signals do not reach it.  The grandchild waits for EOF
    on a pipe until we have closed our copies: otherwise it could close an fd
    first, and our close, being the last, would pay the grace period."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                _closer(fds, ready_r)
        finally:
            os._exit(0)
    os.close(ready_r)
    os.waitpid(pid, 0)
    for fd in fds:
        os.close(fd)
    os.close(ready_w)


def _closer(fds: list[int], ready: int) -> None:
    """Body of the background closer: let go of everything except `fds` (stdio
    too, so a pipeline reading our output sees EOF), wait until the parent has
    dropped its copies, then close `fds`."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    low = 3
    for fd in sorted([*fds, ready]):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))
    os.read(ready, 1)
    for fd in fds:
        os.close(fd)
    os._exit(0)

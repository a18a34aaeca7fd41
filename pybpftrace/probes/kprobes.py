"""Attach KPROBE programs to kernel functions, the best way the kernel offers.

`features.kprobe_attach_method()` has probed the kernel and says which way:
  "pmu"     perf's kprobe PMU: perf_event_open(type = devices/kprobe/type,
            config1 = &"[MODULE:]FUNC", config2 = offset, the format/retprobe
            bit of `config` for a kretprobe), then a bpf_link on the event;
  "legacy"  an event of our own in tracefs kprobe_events
            ("p:pybpftrace_<pid>_<n> FUNC+OFF", "r:..." for a kretprobe),
            opened as a tracepoint by its id and removed again on detach.
One program serving many functions (a wildcard) gets a single kprobe_multi
link instead when the kernel has BPF_TRACE_KPROBE_MULTI; the program must then
be loaded for it (`multi_attach_type`).  A kernel with neither kprobe way but
with BPF trampolines ("fentry") runs kprobes as fentry/fexit programs, which
attach as such (probes.trampolines, semantic.kprobe_fentry).  On a kernel with
none of these, the session stops before attaching anything, and
`tracepoint_alternative` names what to use instead.
"""
from __future__ import annotations

import ctypes
import errno
import itertools
import os
import re
import sys as _sys
from typing import Sequence

from pybpftrace.bpf import features, sys, uapi
from pybpftrace.bpf.programs import Program
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import AttachType, Cmd
from pybpftrace.probe_types import has_wildcard
from pybpftrace.probes import tracefs
from pybpftrace.probes.attach import Attachment, attach_probe_pmu, attach_tracepoint

KPROBE_KINDS = ("kprobe", "kretprobe")
# 0.17 refuses to attach these kretprobes (a return probe there can lock up
# the system), after the programs are loaded and before any kprobe attaches.
BANNED_KRETPROBES = ("_raw_spin_lock", "_raw_spin_lock_irqsave", "_raw_spin_unlock_irqrestore",
                     "queued_spin_lock_slowpath")
EVENT_GROUP = "kprobes"  # where kprobe_events puts an event named without a group
_EVENT_PREFIX = "pybpftrace_"
_event_numbers = itertools.count()
_swept = False


def _target(func: str, module: str) -> str:
    """How the kernel names a function: `MODULE:FUNC` outside vmlinux."""
    return f"{module}:{func}" if module else func


# ---- which way -------------------------------------------------------------------

def uses_multi(probes: Sequence) -> bool:
    """Whether one kprobe_multi link serves these probes (ProbeInfos of one
    program): several function entries (or returns) of one kind, named
    without a module (kprobe_multi looks up bare symbol names), and a kernel
    that can."""
    return (len(probes) > 1 and len({p.provider for p in probes}) == 1
            and not any(p.offset or p.target for p in probes)
            and features.have_kprobe_multi())


def multi_attach_type(probes: Sequence) -> int:
    """The expected_attach_type to load the probes' program with (0: none)."""
    return AttachType.TRACE_KPROBE_MULTI if uses_multi(probes) else 0


# ---- attaching -------------------------------------------------------------------

def attach_kprobes(prog: Program, probes: Sequence, strict: bool,
                   warn=None) -> list[Attachment]:
    """Attach `prog` to every probe (ProbeInfo: provider, func, target = module,
    offset, name).  `strict`: the probe names one function explicitly, so a
    failure is an error; otherwise, as bpftrace 0.17 does for wildcard
    matches, a function that cannot be probed is skipped with a warning."""
    if uses_multi(probes):
        return [attach_kprobe_multi(prog, probes)]
    warn = warn or (lambda text: _sys.stderr.write(f"WARNING: {text}\n"))
    out = []
    for p in probes:
        try:
            out.append(attach_kprobe(prog, p.func, p.offset, p.provider == "kretprobe",
                                     p.target, p.name))
        except OSError:
            if strict:
                raise
            warn(f"could not attach probe {p.name}, skipping.")
    return out


def attach_kprobe(prog: Program, func: str, offset: int = 0, retprobe: bool = False,
                  module: str = "", name: str = "") -> Attachment:
    """One kprobe (or kretprobe) on FUNC+OFFSET, by the kernel's best method."""
    name = name or f"{'kretprobe' if retprobe else 'kprobe'}:{_target(func, module)}"
    method = features.kprobe_attach_method()
    if method == "pmu":
        return attach_probe_pmu(prog, "kprobe", name, _target(func, module), offset, retprobe)
    if method == "legacy":
        return attach_kprobe_legacy(prog, func, offset, retprobe, module, name)
    raise OSError(f"{name}: kprobes are not supported by this kernel")


def attach_kprobe_multi(prog: Program, probes: Sequence) -> Attachment:
    """One kprobe_multi link running `prog` on every probe's function (all of
    one kind: entry, or return with BPF_F_KPROBE_MULTI_RETURN)."""
    names = [ctypes.c_char_p(p.func.encode()) for p in probes]
    syms = (ctypes.c_char_p * len(names))(*names)
    retprobe = probes[0].provider == "kretprobe"
    attr = uapi.KprobeMultiLinkAttr(
        prog_fd=prog.fd, attach_type=AttachType.TRACE_KPROBE_MULTI, cnt=len(names),
        syms=ctypes.addressof(syms),
        kprobe_multi_flags=uapi.BPF_F_KPROBE_MULTI_RETURN if retprobe else 0)
    label = f"{probes[0].provider}:{{{len(names)} functions}}"
    link = sys.bpf(Cmd.LINK_CREATE, attr, f"attach {label}")
    return Attachment(label, [link], [])


# ---- legacy: tracefs kprobe_events ------------------------------------------------

def _kprobe_events() -> str:
    return os.path.join(tracefs.tracefs_root(), "kprobe_events")


def _write_kprobe_events(line: str) -> None:
    """Append one command to kprobe_events (O_APPEND: opening it to truncate
    would delete every kprobe event on the system)."""
    fd = os.open(_kprobe_events(), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def attach_kprobe_legacy(prog: Program, func: str, offset: int = 0, retprobe: bool = False,
                         module: str = "", name: str = "") -> Attachment:
    """Create a kprobe event in tracefs, attach to it as to a tracepoint, and
    remove the event again when the attachment is closed."""
    global _swept
    if not _swept:
        _swept = True
        remove_stale_events()
    event = f"{_EVENT_PREFIX}{os.getpid()}_{next(_event_numbers)}"
    where = _target(func, module) + (f"+{offset}" if offset else "")
    name = name or f"{'kretprobe' if retprobe else 'kprobe'}:{where}"
    try:
        _write_kprobe_events(f"{'r' if retprobe else 'p'}:{event} {where}")
    except OSError as e:
        raise BpfError(f"create kprobe event for {name}", e.errno or errno.EINVAL) from e
    try:
        attachment = attach_tracepoint(prog, EVENT_GROUP, event)
    except BpfError as e:
        remove_event(event)
        raise BpfError(f"attach {name}", e.errno) from e
    except BaseException:
        remove_event(event)
        raise
    attachment.name = name
    attachment.cleanup = lambda: remove_event(event)
    return attachment


def remove_event(event: str) -> None:
    """Delete one of our kprobe events (best effort: it may be gone already)."""
    try:
        _write_kprobe_events(f"-:{EVENT_GROUP}/{event}")
    except OSError:
        pass


_OUR_EVENT = re.compile(rf"^[pr]\S*:{EVENT_GROUP}/({_EVENT_PREFIX}(\d+)_\d+) ", re.M)


def remove_stale_events() -> None:
    """Delete the events a pybpftrace that died without detaching left behind
    (their process no longer exists)."""
    try:
        with open(_kprobe_events()) as f:
            text = f.read()
    except OSError:
        return
    for event, pid in _OUR_EVENT.findall(text):
        if not os.path.exists(f"/proc/{pid}"):
            remove_event(event)


# ---- the alternative on kernels without kprobes ----------------------------------

# Kernel functions whose moment a tracepoint marks too (other arguments, though).
_SCHEDULER = {"finish_task_switch": "sched:sched_switch", "__schedule": "sched:sched_switch",
              "try_to_wake_up": "sched:sched_wakeup", "wake_up_new_task": "sched:sched_wakeup_new",
              "do_exit": "sched:sched_process_exit", "kernel_clone": "sched:sched_process_fork"}
# The functions behind a system call: __x64_sys_read, __se_sys_read, ksys_read, ...
_SYSCALL_FUNC = re.compile(r"(?:__x64_sys|__ia32_sys|__se_sys|__do_sys|ksys|do_sys|sys)_(\w+)")
# ... and workers named otherwise, by the system call most of their callers are.
_SYSCALL_OF = {"do_sys_openat2": "openat", "do_sys_open": "openat"}


def tracepoint_alternative(func: str, retprobe: bool) -> str | None:
    """A tracepoint that fires where kprobe:FUNC (kretprobe:FUNC) would, if the
    kernel has one: `tracepoint:syscalls:sys_enter_read` for the functions of a
    system call (sys_exit_* for a kretprobe), the sched tracepoints for the
    scheduler functions, else a tracepoint of the same name (tcp_retransmit_skb).
    None for a wildcard: no one tracepoint stands for it."""
    if has_wildcard(func):
        return None
    base = func.split(".", 1)[0]  # finish_task_switch.isra.0
    m = _SYSCALL_FUNC.fullmatch(base)
    syscall = _SYSCALL_OF.get(base) or (m and m[1])
    candidates = []
    if syscall:
        candidates.append(("syscalls", f"sys_{'exit' if retprobe else 'enter'}_{syscall}"))
    if not retprobe:
        if base in _SCHEDULER:
            candidates.append(tuple(_SCHEDULER[base].split(":")))
        candidates.append(("*", base))
    for category, event in candidates:
        try:
            found = tracefs.list_tracepoints(category, event)
        except (OSError, tracefs.TracefsError):
            return None
        if found:
            return "tracepoint:{}:{}".format(*found[0])
    return None

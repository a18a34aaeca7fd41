"""BPF trampoline programs (BPF_PROG_TYPE_TRACING): fentry/fexit, tp_btf and
BPF iterators.

A TRACING program is verified for the one kernel function or tracepoint it
will run on, so it names it when it is loaded: an attach type (fentry, fexit
or tp_btf) and a BTF id -- of the function's FUNC, or of the tracepoint's
`btf_trace_<name>` typedef -- in vmlinux's BTF, or in a module's BTF, whose
kernel object then goes along as an fd.  In return the verifier knows the
types of the program's context slots (one u64 per argument), so it lets the
program load through pointer arguments directly.

All attach alike: BPF_LINK_CREATE with no target fd (fentry/fexit
since 5.10, tp_btf since 6.10), or on older kernels BPF_RAW_TRACEPOINT_OPEN
without a name.  Either gives a bpf_link; closing it detaches.

An iterator (`iter:task`) is verified for its kernel iterator's FUNC
`bpf_iter_<name>`.  Its link runs nothing by itself: each ITER_CREATE on it
opens a file whose read() walks the kernel objects, calling the program once
per object and once more with NULL at the end (`open_iterator`); pinned in
bpffs, the link is walked by whoever reads the pinned file (`pin`).
"""
from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

from pybpftrace.bpf import sys, uapi
from pybpftrace.bpf.programs import Program
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import AttachType, Cmd, ProgType
from pybpftrace.btf.types import Kind as BtfKind
from pybpftrace.probes import kernelinfo
from pybpftrace.probes.attach import Attachment
from pybpftrace.resources import ProbeInfo

VMLINUX = "vmlinux"
FUNCTION_KINDS = {"kfunc": AttachType.TRACE_FENTRY, "kretfunc": AttachType.TRACE_FEXIT}
# kprobes on a kernel that has only trampolines for them (semantic.kprobe_fentry)
KPROBE_STAND_INS = {"kprobe": AttachType.TRACE_FENTRY, "kretprobe": AttachType.TRACE_FEXIT}
BPFFS = "/sys/fs/bpf"
_MODULE_NAME_LEN = 64  # MODULE_NAME_LEN


class TrampolineError(OSError):
    """What a TRACING program should attach to is not in the kernel's BTF."""


@dataclass(frozen=True)
class Target:
    """What one TRACING program attaches to."""
    probe: str              # the probe's name, for messages
    attach_type: AttachType
    btf_id: int             # in `module`'s BTF
    module: str = VMLINUX


def target_of(probe: ProbeInfo) -> Target:
    """The target of a fentry/fexit probe (kfunc/kretfunc, or a kprobe/kretprobe
    standing in for one), an iterator or a raw tracepoint loaded as tp_btf; its
    module is the probe's target ("" or "vmlinux": the kernel itself)."""
    module = probe.target or VMLINUX
    if probe.provider == "iter":
        attach_type = AttachType.TRACE_ITER
        btf_id = kernelinfo.btf_id(module, f"bpf_iter_{probe.func}", BtfKind.FUNC)
    elif probe.provider in FUNCTION_KINDS or probe.provider in KPROBE_STAND_INS:
        attach_type = FUNCTION_KINDS.get(probe.provider) or KPROBE_STAND_INS[probe.provider]
        btf_id = kernelinfo.btf_id(module, probe.func, BtfKind.FUNC)
    else:
        attach_type = AttachType.TRACE_RAW_TP
        btf_id = kernelinfo.btf_id(module, f"btf_trace_{probe.func}", BtfKind.TYPEDEF)
    if not btf_id:
        raise TrampolineError(errno.ENOENT, f"No BTF found for {probe.func} in {module}")
    return Target(probe.name, attach_type, btf_id, module)


def load(target: Target, insns: bytes, name: str) -> Program:
    """BPF_PROG_LOAD of a TRACING program for `target` (see Program.load for errors)."""
    obj_fd = kernel_btf_fd(target.module) if target.module != VMLINUX else 0
    try:
        return Program.load(ProgType.TRACING, insns, name=name,
                            expected_attach_type=target.attach_type, attach_btf_id=target.btf_id,
                            attach_btf_obj_fd=obj_fd)
    finally:
        if obj_fd:
            os.close(obj_fd)


def attach(prog: Program, target: Target) -> Attachment:
    """Attach a loaded TRACING program to its target; the Attachment's link
    detaches it when closed."""
    op = f"attach {target.probe}"
    attr = uapi.LinkCreateAttr(prog_fd=prog.fd, target_fd=0, attach_type=target.attach_type)
    try:
        link = sys.bpf(Cmd.LINK_CREATE, attr, op)
    except BpfError as e:
        # EINVAL: a kernel that links these the old way only (iterators have no old way)
        if e.errno != errno.EINVAL or target.attach_type == AttachType.TRACE_ITER:
            raise
        link = sys.bpf(Cmd.RAW_TRACEPOINT_OPEN, uapi.RawTracepointOpenAttr(prog_fd=prog.fd), op)
    return Attachment(target.probe, [link], [])


def open_iterator(link: Attachment) -> int:
    """A new walk of an iterator's link: an fd to read() until EOF."""
    return sys.bpf(Cmd.ITER_CREATE, uapi.FdAttr(fd=link.link_fds[0]), f"iterate {link.name}")


def pin(link: Attachment, path: str) -> str:
    """Pin an iterator's link in bpffs at `path` (relative: under /sys/fs/bpf,
    as 0.17 takes it); returns the full path."""
    if not path.startswith("/"):
        path = f"{BPFFS}/{path}"
    cpath = ctypes.create_string_buffer(path.encode())
    sys.bpf(Cmd.OBJ_PIN, uapi.ObjPinAttr(pathname=ctypes.addressof(cpath), bpf_fd=link.link_fds[0]),
            f"pin {link.name} at {path}")
    return path


def kernel_btf_fd(module: str) -> int:
    """An fd of the kernel's BTF object of `module`.  Objects are only known
    by id, and their names only through their info: walk them all."""
    next_id = 0
    while True:
        ids = uapi.GetIdAttr(start_id=next_id)
        try:
            sys.bpf(Cmd.BTF_GET_NEXT_ID, ids, "list the kernel's BTF objects")
        except BpfError as e:
            if e.errno == errno.ENOENT:  # the last one
                raise TrampolineError(errno.ENOENT, f"No BTF found for module {module}") from None
            raise
        next_id = ids.next_id
        try:
            fd = sys.bpf(Cmd.BTF_GET_FD_BY_ID, uapi.GetIdAttr(start_id=next_id))
        except BpfError:
            continue  # gone since (a module unloaded), or not ours to see
        try:
            if _btf_name(fd) == module:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _btf_name(fd: int) -> str | None:
    """The module name of a kernel BTF object (None for a program's BTF)."""
    name = ctypes.create_string_buffer(_MODULE_NAME_LEN)
    info = uapi.BtfInfo(name=ctypes.addressof(name), name_len=_MODULE_NAME_LEN)
    attr = uapi.InfoByFdAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    sys.bpf(Cmd.OBJ_GET_INFO_BY_FD, attr, "get info of a BTF object")
    return name.value.decode() if info.kernel_btf else None

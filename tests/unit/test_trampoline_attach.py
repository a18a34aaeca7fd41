"""Loading and attaching fentry/fexit programs, against a fake syscall layer.

This kernel refuses fentry programs (EPERM), so what pybpftrace asks of a
kernel that has them is checked here on the bpf(2) attrs it sends: the
program type and attach type, the BTF id of the function (looked up in the
real /sys/kernel/btf/vmlinux, compared with bpf.features' own index of it),
the module BTF object for module functions, the link, and the detach.
tp_btf goes through the same code and is tested for real
(tests/e2e/test_tp_btf.py).
"""
import ctypes
import errno
import os

import pytest
from test_bpf_fake_sys import Fake, _is_open  # tests/unit/test_bpf_fake_sys.py
from test_btf import Builder, kernelish  # tests/unit/test_btf.py

from pybpftrace.bpf import features, sys, uapi
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import AttachType, Cmd, ProgType
from pybpftrace.probes import attach, kernelinfo, trampolines
from pybpftrace.resources import ProbeInfo

EXIT = bytes([0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])  # r0 = 0; exit

needs_btf = pytest.mark.skipif(not os.path.exists(features.VMLINUX_BTF),
                               reason="needs the kernel's BTF")


def probe(kind, func, module="vmlinux"):
    return ProbeInfo(f"{kind}:{module}:{func}", kind, module, func)


class Recorder(Fake):
    """A kernel that accepts everything and remembers the attrs it was sent."""

    def __init__(self, **handlers):
        self.attrs = {}
        defaults = {"PROG_LOAD": self.keep("PROG_LOAD"), "LINK_CREATE": self.keep("LINK_CREATE"),
                    "RAW_TRACEPOINT_OPEN": self.keep("RAW_TRACEPOINT_OPEN")}
        super().__init__(**{**defaults, **handlers})

    def keep(self, cmd):
        def handler(attr):
            self.attrs[cmd] = type(attr).from_buffer_copy(attr)
            return self.new_fd()
        return handler


def load_and_attach(fake, info):
    with sys.override(fake):
        target = trampolines.target_of(info)
        prog = trampolines.load(target, EXIT, "p0_0")
        link = trampolines.attach(prog, target)
    return target, prog, link


@needs_btf
@pytest.mark.parametrize("kind, attach_type", [("kfunc", AttachType.TRACE_FENTRY),
                                               ("kretfunc", AttachType.TRACE_FEXIT)])
def test_fentry_fexit_load_and_link(kind, attach_type):
    fake = Recorder()
    target, prog, link = load_and_attach(fake, probe(kind, "vfs_read"))
    load = fake.attrs["PROG_LOAD"]
    assert load.prog_type == ProgType.TRACING == 26
    assert load.expected_attach_type == attach_type
    assert load.attach_btf_id == features.btf_func_id("vfs_read") != 0
    assert load.attach_prog_fd == 0  # attach_btf_obj_fd: vmlinux needs none
    assert load.insn_cnt == 2 and load.prog_name == b"p0_0"
    created = fake.attrs["LINK_CREATE"]
    assert (created.prog_fd, created.target_fd, created.attach_type) == (prog.fd, 0, attach_type)
    assert fake.calls == [Cmd.PROG_LOAD, Cmd.LINK_CREATE]
    assert link.name == f"{kind}:vmlinux:vfs_read" and link.event_fds == []
    fd, = link.link_fds
    attach.detach_all([link])  # detaching is closing the link
    assert not _is_open(fd) and link.link_fds == []
    prog.close()


@needs_btf
def test_tp_btf_targets_the_btf_trace_typedef():
    fake = Recorder()
    _, prog, link = load_and_attach(fake, ProbeInfo("rawtracepoint:sched_switch", "rawtracepoint",
                                                    "", "sched_switch"))
    load = fake.attrs["PROG_LOAD"]
    assert load.expected_attach_type == AttachType.TRACE_RAW_TP == 23
    assert load.attach_btf_id == features._btf_id(features.BtfKind.TYPEDEF,
                                                  "btf_trace_sched_switch") != 0
    assert fake.attrs["LINK_CREATE"].attach_type == 23
    link.close()
    prog.close()


@needs_btf
def test_kernels_without_tracing_links_attach_through_raw_tracepoint_open():
    fake = Recorder(LINK_CREATE=lambda attr: -errno.EINVAL)
    _, prog, link = load_and_attach(fake, probe("kfunc", "vfs_read"))
    assert fake.calls == [Cmd.PROG_LOAD, Cmd.LINK_CREATE, Cmd.RAW_TRACEPOINT_OPEN]
    opened = fake.attrs["RAW_TRACEPOINT_OPEN"]
    assert (opened.name, opened.prog_fd) == (0, prog.fd)  # no name: the program's own target
    link.close()
    prog.close()


@needs_btf
def test_iterators_load_for_their_kernel_iterator_and_only_link_create_links_them():
    fake = Recorder()
    _, prog, link = load_and_attach(fake, ProbeInfo("iter:task", "iter", func="task"))
    load = fake.attrs["PROG_LOAD"]
    assert load.expected_attach_type == AttachType.TRACE_ITER == 28
    assert load.attach_btf_id == features.btf_func_id("bpf_iter_task") != 0
    assert fake.attrs["LINK_CREATE"].attach_type == AttachType.TRACE_ITER
    link.close()
    prog.close()
    fake = Recorder(LINK_CREATE=lambda attr: -errno.EINVAL)
    with pytest.raises(BpfError, match="^attach iter:task: Invalid argument$"):
        load_and_attach(fake, ProbeInfo("iter:task", "iter", func="task"))
    assert fake.calls == [Cmd.PROG_LOAD, Cmd.LINK_CREATE]


@needs_btf
def test_refusals_name_the_probe():
    with sys.override(Recorder(PROG_LOAD=lambda attr: -errno.EPERM)):
        with pytest.raises(BpfError, match="^load program p0_0: Operation not permitted$"):
            trampolines.load(trampolines.target_of(probe("kfunc", "vfs_read")), EXIT, "p0_0")
    fake = Recorder(LINK_CREATE=lambda attr: -errno.EBUSY)
    with pytest.raises(BpfError, match="^attach kfunc:vmlinux:vfs_read: Device or resource busy$"):
        load_and_attach(fake, probe("kfunc", "vfs_read"))


@needs_btf
def test_functions_without_btf_have_no_target():
    with pytest.raises(trampolines.TrampolineError, match="No BTF found for __x64_sys_getpid"):
        trampolines.target_of(probe("kfunc", "__x64_sys_getpid"))


# ---- module functions ------------------------------------------------------------------

MODULE_OBJECTS = {1: "vmlinux", 5: "", 9: "nf_conntrack"}  # BTF object id -> name ("": a program's)


@pytest.fixture
def module_btf(monkeypatch):
    """A module "nf_conntrack" whose BTF (split, on a small base) has nf_ct_get."""
    base, t = kernelish()
    mod = Builder(base)
    fn = mod.func("nf_ct_get", mod.func_proto(t["int"], [("sk", t["sock_ptr"])]))
    base_btf = base.btf()
    btfs = {"vmlinux": base_btf, "nf_conntrack": mod.btf(base=base_btf)}
    monkeypatch.setattr(kernelinfo, "module_btf", btfs.get)
    return fn


class ModuleKernel(Recorder):
    """Also lists BTF objects by id and tells their names."""

    def __init__(self):
        self.fd_ids = {}
        super().__init__(BTF_GET_NEXT_ID=self.next_id, BTF_GET_FD_BY_ID=self.fd_by_id,
                         OBJ_GET_INFO_BY_FD=self.info)

    def next_id(self, attr):
        later = [i for i in MODULE_OBJECTS if i > attr.start_id]
        if not later:
            return -errno.ENOENT
        attr.next_id = min(later)
        return 0

    def fd_by_id(self, attr):
        fd = self.new_fd()
        self.fd_ids[fd] = attr.start_id
        return fd

    def info(self, attr):
        info = uapi.BtfInfo.from_address(attr.info)
        name = MODULE_OBJECTS[self.fd_ids[attr.bpf_fd]].encode()
        ctypes.memmove(info.name, name + b"\0", len(name) + 1)
        info.kernel_btf = int(bool(name))
        return 0


def test_module_functions_load_with_the_module_btf_object(module_btf):
    fake = ModuleKernel()
    with sys.override(fake):
        target = trampolines.target_of(probe("kfunc", "nf_ct_get", "nf_conntrack"))
        prog = trampolines.load(target, EXIT, "p0_0")
    load = fake.attrs["PROG_LOAD"]
    assert load.attach_btf_id == module_btf  # an id in the module's (split) BTF
    assert fake.fd_ids[load.attach_prog_fd] == 9  # attach_btf_obj_fd: nf_conntrack's object
    assert not _is_open(load.attach_prog_fd)  # only needed while loading
    assert [fd for fd in fake.fd_ids if _is_open(fd)] == []  # the others were closed too
    prog.close()


def test_a_module_without_a_btf_object(module_btf):
    with sys.override(ModuleKernel()):
        with pytest.raises(trampolines.TrampolineError, match="No BTF found for module nope"):
            trampolines.kernel_btf_fd("nope")


# ---- the feature probe -------------------------------------------------------------------

@needs_btf
@pytest.mark.parametrize("answer, available", [(None, True), (-errno.EPERM, False)])
def test_the_fentry_feature_probe_loads_an_fentry_program(answer, available):
    fake = Recorder(**({"PROG_LOAD": lambda attr: answer} if answer else {}))
    features.have_kfunc.cache_clear()
    try:
        with sys.override(fake):
            assert features.have_kfunc() is available
    finally:
        features.have_kfunc.cache_clear()  # later tests must see the real kernel again
    if available:
        load = fake.attrs["PROG_LOAD"]
        assert (load.prog_type, load.expected_attach_type) == (ProgType.TRACING,
                                                               AttachType.TRACE_FENTRY)
        assert load.attach_btf_id == kernelinfo.function_btf_id("vmlinux",
                                                                features.KFUNC_PROBE_TARGET)

"""kprobes as fentry/fexit on a kernel that has BPF trampolines but no kprobes.

This kernel has neither, so the fallback is driven with the feature probe
faked to answer "fentry" (bpf.features.kprobe_attach_method, the one decision
point) and the syscalls faked (bpf/sys.py `override`): the real compiler, with
the real KernelInfo and the kernel's real BTF, generates the programs, and a
real Session loads and attaches them; what reaches the fake kernel is checked
down to the bpf(2) attrs and the instructions.  On this real kernel the
behaviour is checked unchanged: the one-line "kprobes are not supported" error.
"""
import os
import struct
import subprocess
import sys as _sys

import pytest
from test_bpf_fake_sys import Fake  # tests/unit/test_bpf_fake_sys.py

from pybpftrace import driver
from pybpftrace.bpf import features, sys
from pybpftrace.bpf.uapi import AttachType, Cmd, ProgType
from pybpftrace.codegen.lower import PT_REGS_ARGS, PT_REGS_AX, InternalMaps
from pybpftrace.diag import DiagnosticError
from pybpftrace.probes import attach
from pybpftrace.probes.kernelinfo import KernelInfo
from pybpftrace.runtime.session import RunOptions, Session

pytestmark = pytest.mark.skipif(not os.path.exists(features.VMLINUX_BTF),
                                reason="needs the kernel's BTF")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERNAL = InternalMaps(ringbuf=3, status=4, scratch=5, stacks={127: 6}, ncpus=2)
PROGRAM = "kprobe:vfs_read { @[arg2] = count(); } kretprobe:vfs_read { @r = hist(retval); }"
LDX_DW, CALL, GET_FUNC_IP = 0x79, 0x85, 173
VFS_READ_PARAMS = 4  # vfs_read(struct file *, char *, size_t, loff_t *)


class Recorder(Fake):
    """A kernel that accepts program loads and links, remembering their attrs."""

    def __init__(self):
        self.loads, self.links = [], []
        super().__init__(PROG_LOAD=self.keep(self.loads), LINK_CREATE=self.keep(self.links))

    def keep(self, into):
        def handler(attr):
            into.append(type(attr).from_buffer_copy(attr))
            return self.new_fd()
        return handler


@pytest.fixture
def fentry_only(monkeypatch):
    """A kernel without kprobes whose fentry programs load."""
    monkeypatch.setattr(features, "kprobe_attach_method", lambda: "fentry")
    return KernelInfo()


def compiled(kinfo, src=PROGRAM):
    analysed = driver.analyse(src, "stdin", kinfo, driver.Options())
    units = driver.program_units(analysed, kinfo)
    for i, m in enumerate(analysed.resources.maps):
        m.fd = 10 + i  # only embedded in the instructions: the fake kernel never sees them
    driver.generate(analysed, units, INTERNAL, [])
    return analysed, units


def instructions(code: bytes):
    """(opcode, dst, src, off) of each instruction."""
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, _ = struct.unpack_from("<BBhi", code, i)
        out.append((op, regs & 0xF, regs >> 4, off))
    return out


def context_loads(code: bytes) -> list[int]:
    """The offsets of the 8-byte loads from the context (r1 at entry, before
    anything overwrites it)."""
    found = []
    for op, dst, src, off in instructions(code):
        if op == LDX_DW and src == 1:
            found.append(off)
        if dst == 1:
            break
    return found


def test_decision_point_reports_fentry_and_kprobes_are_not_lacking(fentry_only):
    assert fentry_only.kprobe_attach_method() == "fentry"
    assert fentry_only.kernel_lacks("kprobe") is None
    assert fentry_only.kernel_lacks("kretprobe") is None
    assert not features.have_kprobe()  # --info's "kprobe" stays about real kprobes


def test_programs_read_the_argument_slots(fentry_only):
    _, (entry, ret) = compiled(fentry_only)
    assert (entry.provider, ret.provider) == ("kprobe", "kretprobe")
    assert entry.ctx.tracing and ret.ctx.tracing
    assert ret.ctx.retval_slot == VFS_READ_PARAMS
    assert context_loads(entry.insns) == [16]                    # arg2: slot 2
    assert context_loads(ret.insns) == [8 * VFS_READ_PARAMS]     # retval: after the params
    pt_regs = {*PT_REGS_ARGS, PT_REGS_AX}
    for unit in (entry, ret):
        loads = {off for op, _, src, off in instructions(unit.insns) if op == LDX_DW and src == 1}
        assert not loads & pt_regs


def test_loaded_as_tracing_and_linked(fentry_only):
    analysed, units = compiled(fentry_only)
    fake = Recorder()
    session = Session(analysed, fentry_only, None, [], RunOptions())
    with sys.override(fake):
        session.load(units)
        session.check_attachable(units)
        session.attach(units)
    btf_id = features.btf_func_id("vfs_read")
    assert btf_id
    assert [(a.prog_type, a.expected_attach_type, a.attach_btf_id, a.attach_prog_fd)
            for a in fake.loads] == [
        (ProgType.TRACING, AttachType.TRACE_FENTRY, btf_id, 0),
        (ProgType.TRACING, AttachType.TRACE_FEXIT, btf_id, 0)]
    assert [a.prog_name for a in fake.loads] == [b"p0_0", b"p1_0"]
    assert [a.insn_cnt * 8 for a in fake.loads] == [len(u.insns) for u in units]
    # kprobes attach last-first (as 0.17), so the kretprobe's link comes first
    by_prog = {p.fd: u for u in units for p in [u.program]}
    assert [(by_prog[link.prog_fd].provider, link.target_fd, link.attach_type)
            for link in fake.links] == [("kretprobe", 0, AttachType.TRACE_FEXIT),
                                        ("kprobe", 0, AttachType.TRACE_FENTRY)]
    assert [a.name for a in session.attachments] == ["kretprobe:vfs_read", "kprobe:vfs_read"]
    assert [c for c in fake.calls] == [Cmd.PROG_LOAD, Cmd.PROG_LOAD, Cmd.LINK_CREATE,
                                       Cmd.LINK_CREATE]
    attach.detach_all(session.attachments)
    for p in session.programs:
        p.close()


def test_func_is_the_function_address_from_get_func_ip(fentry_only):
    _, (unit,) = compiled(fentry_only, "kprobe:vfs_read { @[func] = count(); }")
    calls = [struct.unpack_from("<i", unit.insns, 8 * n + 4)[0]
             for n, (op, *_) in enumerate(instructions(unit.insns)) if op == CALL]
    assert calls[0] == GET_FUNC_IP
    assert context_loads(unit.insns) == []  # not pt_regs->ip


def errors(kinfo, src) -> str:
    with pytest.raises(DiagnosticError) as exc:
        compiled(kinfo, src)
    return exc.value.diags.render()


WHY = "kprobes are not supported by this kernel, and fentry, which stands in for them,"


@pytest.mark.parametrize("src, message, marker", [
    ('kprobe:vfs_read { @ = reg("di"); }',
     f"reg() is not available here: {WHY} has no registers", "~~~~~~~~~"),
    ("kprobe:vfs_read { @ = sarg0; }",
     f"sarg0 is not available here: {WHY} has no registers", "~~~~~"),
    ("kprobe:vfs_read { @ = arg4; }",
     f"cannot attach kprobe:vfs_read: {WHY} sees only the 4 arguments of vfs_read (no arg4)",
     "~~~~~~~~~~~~~~~"),
    ("kprobe:pybpftrace_no_such_function { @ = count(); }",
     (f"cannot attach kprobe:pybpftrace_no_such_function: {WHY} needs BTF for "
      "pybpftrace_no_such_function, which the kernel lacks"), "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"),
    ("kprobe:vfs_read+4 { @ = count(); }",
     f"cannot attach kprobe:vfs_read+4: {WHY} attaches at a function's entry only",
     "~~~~~~~~~~~~~~~~~"),
])
def test_what_needs_registers_is_refused_naming_why(fentry_only, src, message, marker):
    text = errors(fentry_only, src)
    assert text.splitlines()[0].endswith(f"ERROR: {message}")
    assert marker in text.splitlines()[2]


def test_wildcard_skips_functions_fentry_cannot_serve(fentry_only, capsys):
    _, units = compiled(fentry_only, "kprobe:vfs_read* { @[arg3] = count(); }")
    funcs = {u.probes[0].func for u in units}
    assert "vfs_read" in funcs and all(u.ctx.tracing and len(u.probes) == 1 for u in units)
    for u in units:
        params = fentry_only.btf_function_proto("vmlinux", u.probes[0].func).params
        assert len(params) > 3
    skipped = capsys.readouterr().err
    assert "WARNING: could not attach probe kprobe:vfs_readlink, skipping." in skipped  # 3 args
    assert all(line.startswith("WARNING: could not attach probe kprobe:")
               for line in skipped.splitlines())


@pytest.mark.skipif(features.kprobe_attach_method() is not None,
                    reason="this kernel can attach kprobes")
def test_this_kernel_still_says_kprobes_are_unsupported():
    p = subprocess.run([_sys.executable, "-m", "pybpftrace", "-e", PROGRAM], cwd=ROOT,
                       check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == ("stdin:1:1-16: ERROR: kprobes are not supported by this "
                                        "kernel: cannot attach kprobe:vfs_read")

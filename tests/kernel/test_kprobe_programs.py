"""kprobe programs through the real verifier.

A kernel without kprobes (this VM) still loads BPF_PROG_TYPE_KPROBE programs
(uprobes use them), so every program pybpftrace generates for kprobes and
kretprobes is loaded here for real, with the kernel's functions, BTF types and
the maps of a real session.  Then the session refuses to attach, with the one
located error, before it attaches anything.
"""
from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from pybpftrace import driver
from pybpftrace.bpf import features
from pybpftrace.bpf.uapi import AttachType, ProgType
from pybpftrace.diag import DiagnosticError
from pybpftrace.output.text import TextOutput
from pybpftrace.probes.kernelinfo import KernelInfo
from pybpftrace.runtime.session import RunOptions, Session

pytestmark = pytest.mark.kernel

SEEDS = Path("/work/shared/seeds-check/cases.toml")


def session_for(source: str) -> Session:
    kinfo = KernelInfo()
    analysed = driver.analyse(source, "stdin", kinfo, driver.Options())
    return Session(analysed, kinfo, TextOutput(io.BytesIO(), io.BytesIO()), [], RunOptions())


def load(source: str) -> list[driver.ProgramUnit]:
    """Compile `source` and load every program through the verifier."""
    session = session_for(source)
    try:
        internal = session.create_maps()
        units = driver.program_units(session.analysed, session.kinfo)
        driver.generate(session.analysed, units, internal, [])
        session.load(units)  # raises if the verifier says no
        for unit in units:
            assert unit.program.info().verified_insns > 0
            if unit.provider in ("kprobe", "kretprobe"):
                assert unit.program.prog_type == ProgType.KPROBE
        return units
    finally:
        session.close()


def test_the_issue_example_loads():
    units = load("kprobe:tcp_sendmsg { @[arg2] = count(); } "
                 "kretprobe:tcp_sendmsg { @r = hist(retval); }")
    assert [(u.provider, [p.name for p in u.probes]) for u in units] == [
        ("kprobe", ["kprobe:tcp_sendmsg"]), ("kretprobe", ["kretprobe:tcp_sendmsg"])]


@pytest.mark.parametrize("source", [
    # Every kprobe builtin, and kernel memory through the arguments.
    "kprobe:vfs_read { @[arg0, arg1, arg2, arg3, arg4, arg5] = count(); @s = sum(sarg0 + sarg2); }",
    "kprobe:vfs_read { @f[func] = count(); @k[kstack] = count(); @k3[kstack(3)] = count(); }",
    "kretprobe:vfs_read { @f[func, retval] = count(); @l = lhist(retval, 0, 100, 10); }",
    "kprobe:vfs_read+4 { @[probe] = count(); }",
    'kprobe:vfs_read { @[ksym(reg("ip")), reg("sp") & 7] = count(); }',
    'kprobe:do_sys_openat2 { printf("%s %d %s\\n", comm, pid, str(arg1)); }',
    # BTF: struct navigation from a cast argument, as the seeds do with headers.
    "kprobe:vfs_read { $f = (struct file *)arg0; @[$f->f_inode->i_ino, $f->f_flags] = count(); }",
    "kprobe:try_to_wake_up { $p = (struct task_struct *)arg0; @w[$p->pid] = kstack; }",
    "kprobe:tcp_sendmsg { @sk[tid] = arg0; } kretprobe:tcp_sendmsg /@sk[tid]/ { "
    "$sk = (struct sock *)@sk[tid]; @[$sk->__sk_common.skc_family, retval] = count(); }",
    # Wildcards: one program for all functions, or one each when `probe` is used.
    "kprobe:vfs_read* { @[func] = count(); }",
    "kprobe:vfs_read*, kretprobe:vfs_write { @[probe] = count(); }",
])
def test_kprobe_programs_load(source):
    assert load(source)


def test_probe_builtin_gives_each_function_its_program():
    units = load("kprobe:vfs_read* { @[probe] = count(); }")
    assert len(units) > 1 and all(len(u.probes) == 1 for u in units)


def test_wildcard_program_loads_for_kprobe_multi(monkeypatch):
    """Where the kernel has kprobe_multi, a wildcard's program is loaded for it."""
    monkeypatch.setattr(features, "have_kprobe_multi", lambda: True)
    (unit,) = load("kretprobe:vfs_read* { @[func] = count(); }")
    assert len(unit.probes) > 1
    from pybpftrace.probes.kprobes import multi_attach_type
    assert multi_attach_type(unit.probes) == AttachType.TRACE_KPROBE_MULTI


def _seed_cases():
    if not SEEDS.exists():
        return []
    cases = tomllib.loads(SEEDS.read_text())["case"]
    return [pytest.param(c["program"], id=c["id"]) for c in cases
            if "kprobe" in c.get("needs", []) and c.get("program")
            and "#include" not in c["program"]]


@pytest.mark.skipif(not SEEDS.exists(), reason="seeds-check cases not present")
@pytest.mark.parametrize("source", _seed_cases())
def test_seed_kprobe_programs_load(source):
    assert load(source)


def test_seed_tcp_sendmsg_tool_loads_with_its_macro_spelled_out():
    """tcp_sendmsg.bt from the seeds: AF_INET comes from headers we cannot
    read (here it is written as 2); the rest compiles from BTF and verifies."""
    source = (Path(__file__).parents[1] / "fixtures" / "tcp_sendmsg.bt").read_text()
    assert len(load(source.replace("AF_INET", "2"))) == 2


@pytest.mark.skipif(features.have_kprobe(), reason="this kernel has kprobes")
def test_session_stops_before_attaching_after_verifying():
    session = session_for("BEGIN { } kprobe:ksys_read { @ = count(); }")
    try:
        with pytest.raises(DiagnosticError) as e:
            session.run()
        first, source, marker, rest = str(e.value).split("\n")
        assert first == ("stdin:1:10-27: ERROR: kprobes are not supported by this kernel: cannot "
                         "attach kprobe:ksys_read (try tracepoint:syscalls:sys_enter_read instead)")
        assert (source, marker.strip(), rest) == (session.analysed.diags.source, "~" * 17, "")
        assert len(session.programs) == 2  # both loaded, i.e. verified
        assert session.attachments == [] and session.begin == []
    finally:
        session.close()

"""Raw tracepoints loaded as tp_btf (BTF-typed TRACING programs), on this kernel.

Where the kernel has tp_btf, `rawtracepoint:` probes are TRACING programs
attached to `btf_trace_<name>`: their pointer arguments are typed, so members
are read with plain loads.  These tests run them on events whose values they
know: a child process of their own with a known pid and comm.
"""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from pybpftrace import driver
from pybpftrace.probes.kernelinfo import KernelInfo

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD_COMM = "tpbtf_child"
SYS_KILL = 62

# A child named CHILD_COMM that, after a delay that lets the probes attach,
# sleeps briefly (so it is switched out and in) and sends itself signal 0
# (kill(2): arg0 = its own pid) many times.
CHILD = textwrap.dedent(f"""
    import ctypes, os, time
    ctypes.CDLL(None).prctl(15, b"{CHILD_COMM}", 0, 0, 0)
    time.sleep(1.5)
    for _ in range(200):
        os.kill(os.getpid(), 0)
        time.sleep(0.005)
""")


def run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def with_child(program: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run `program`, with CHILD replaced by the child's pid, while the child
    runs; the result and the pid."""
    child = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        return run("-e", program.replace("CHILD", str(child.pid))), child.pid
    finally:
        child.wait()


def test_raw_tracepoints_with_readable_arguments_are_tp_btf():
    """tp_btf where the verifier can read every argument; raw_tp where it cannot
    (cpuhp_enter's `fun` is a function pointer: "arg3 type FUNC_PROTO is not a struct")."""
    kinfo = KernelInfo()
    analysed = driver.analyse("rawtracepoint:sched_switch,rawtracepoint:cpuhp_enter { }", "stdin",
                              kinfo, driver.Options())
    units = driver.program_units(analysed, kinfo)
    assert {u.probes[0].func: u.ctx.tracing for u in units} == {"sched_switch": True,
                                                               "cpuhp_enter": False}


def test_sched_switch_prev_pid_and_comm():
    r, pid = with_child('rawtracepoint:sched_switch /args.prev->pid == CHILD/ '
                        '{ printf("%d %s\\n", args.prev->pid, args.prev->comm); exit(); }')
    assert r.returncode == 0, r.stderr
    assert f"{pid} {CHILD_COMM}" in r.stdout.splitlines(), r.stdout


def test_sched_switch_next_pid_and_comm_through_arrow_and_dot():
    r, pid = with_child('rawtracepoint:sched_switch /args.next->pid == CHILD/ '
                        '{ printf("%d %s %s\\n", args->next->pid, args.next->comm, comm); '
                        'exit(); }')
    assert r.returncode == 0, r.stderr
    line = next((x for x in r.stdout.splitlines() if x.startswith(f"{pid} ")), None)
    assert line is not None, r.stdout
    _, next_comm, running = line.split()
    assert next_comm == CHILD_COMM and running != CHILD_COMM  # the switch happens before it runs


def test_sys_enter_args_of_a_known_syscall():
    """kill(getpid(), 0) from the child: args.id is kill's number, args.regs->di its pid."""
    r, pid = with_child(f'rawtracepoint:sys_enter /pid == CHILD && args.id == {SYS_KILL}/ '
                        '{ @[comm, args.regs->di, args.regs->si] = count(); } '
                        'interval:s:4 { exit(); }')
    assert r.returncode == 0, r.stderr
    found = re.findall(r"^@\[(\S+), (\d+), (\d+)\]: (\d+)$", r.stdout, re.M)
    assert [(c, int(di), int(si)) for c, di, si, _ in found] == [(CHILD_COMM, pid, 0)], r.stdout
    assert int(found[0][3]) == 200


def test_a_struct_member_through_a_member_pointer():
    r, pid = with_child('rawtracepoint:sched_switch /args.prev->pid == CHILD/ '
                        '{ printf("%d %d\\n", args.prev->real_parent->pid, args.prev->tgid); '
                        'exit(); }')
    assert r.returncode == 0, r.stderr
    assert f"{os.getpid()} {pid}" in r.stdout.splitlines(), r.stdout


def test_kstack_starts_at_the_scheduler():
    """The frames of the BPF machinery (bpf_prog_*, bpf_trace_runN,
    __traceiter_sched_switch) are skipped: the stack starts in __schedule."""
    r, _ = with_child('rawtracepoint:sched_switch /args.prev->pid == CHILD/ '
                      '{ @[kstack] = count(); exit(); }')
    assert r.returncode == 0, r.stderr
    frames = re.search(r"^@\[\n(.*?)\n\]: 1$", r.stdout, re.M | re.S)
    assert frames, r.stdout
    frames = [f.strip() for f in frames.group(1).splitlines()]
    assert frames[0].startswith("__schedule+"), r.stdout
    assert not any(f.startswith(("bpf_", "__traceiter")) for f in frames), r.stdout


def test_maybe_null_arguments_are_checked_before_loading_through_them():
    """The kernel marks sched_pi_setprio's pi_task maybe-NULL: loads through it
    verify only after a NULL check, which codegen adds."""
    r = run("-e", "rawtracepoint:sched_pi_setprio "
                  "{ @[args.pi_task->pid, args.tsk->pid] = count(); } interval:ms:100 { exit(); }")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Attaching 2 probes...")


def test_typed_and_untyped_raw_tracepoints_in_one_probe():
    r = run("-e", "rawtracepoint:sched_switch,rawtracepoint:cpuhp_enter { @[probe] = count(); } "
                  "interval:ms:300 { exit(); }")
    assert r.returncode == 0, r.stderr
    assert "Attaching 3 probes..." in r.stdout
    assert re.search(r"^@\[rawtracepoint:sched_switch\]: [1-9]", r.stdout, re.M), r.stdout

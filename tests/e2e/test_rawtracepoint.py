"""rawtracepoint:NAME probes: RAW_TRACEPOINT programs, argN and BTF-typed args."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


# A child that calls getppid() (x86_64 syscall 110) many times, after a delay
# that lets the probe attach first.
GETPPID_LOOP = textwrap.dedent("""
    import os, time
    time.sleep(1.5)
    for _ in range(2000):
        os.getppid()
""")


def getppid_child():
    return subprocess.Popen([sys.executable, "-c", GETPPID_LOOP])


@pytest.mark.kernel
def test_sched_switch_counts_by_comm():
    r = run("-e", "rawtracepoint:sched_switch { @[comm] = count(); } "
                  "interval:ms:500 { exit(); }")
    assert r.returncode == 0, r.stderr
    entries = re.findall(r"^@\[(.*)\]: (\d+)$", r.stdout, re.M)
    assert entries, r.stdout
    assert all(int(n) > 0 for _, n in entries)


@pytest.mark.kernel
def test_sys_enter_arg1_is_the_syscall_id():
    child = getppid_child()
    try:
        r = run("-e", f"rt:sys_enter /pid == {child.pid}/ {{ @[arg1] = count(); }} "
                      "interval:s:4 { exit(); }")
    finally:
        child.wait()
    assert r.returncode == 0, r.stderr
    counts = dict(re.findall(r"^@\[(\d+)\]: (\d+)$", r.stdout, re.M))
    assert int(counts.get("110", 0)) >= 2000, r.stdout


@pytest.mark.kernel
def test_sys_enter_typed_args_id():
    child = getppid_child()
    try:
        r = run("-e", f"rawtracepoint:sys_enter /pid == {child.pid} && args.id == 110/ "
                      "{ @n = count(); @id = max(args->id); } interval:s:4 { exit(); }")
    finally:
        child.wait()
    assert r.returncode == 0, r.stderr
    assert re.search(r"^@id: 110$", r.stdout, re.M), r.stdout
    n = re.search(r"^@n: (\d+)$", r.stdout, re.M)
    assert n and int(n.group(1)) >= 2000, r.stdout


@pytest.mark.kernel
def test_sched_switch_next_pid_through_btf():
    r = run("-e", 'rawtracepoint:sched_switch /args.next->pid > 0/ '
                  '{ printf("next=%d %d\\n", args.next->pid, args->next->pid); exit(); }')
    assert r.returncode == 0, r.stderr
    m = re.search(r"^next=(\d+) (\d+)$", r.stdout, re.M)
    assert m, r.stdout
    assert int(m.group(1)) > 0 and m.group(1) == m.group(2)


@pytest.mark.kernel
def test_probe_builtin_names_the_raw_tracepoint():
    r = run("-e", 'rawtracepoint:sched_switch { printf("%s\\n", probe); exit(); }')
    assert r.returncode == 0, r.stderr
    assert "rawtracepoint:sched_switch" in r.stdout.splitlines()


@pytest.mark.kernel
def test_wildcard_expands_over_btf_names():
    r = run("-e", "rawtracepoint:sched_process_e* { @[probe] = count(); } "
                  "interval:ms:100 { exit(); }")
    assert r.returncode == 0, r.stderr
    assert "Attaching 3 probes..." in r.stdout


def test_unknown_raw_tracepoint_is_an_error():
    r = run("-e", "rawtracepoint:no_such_tracepoint_xyz { @ = count(); }")
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].endswith("ERROR: raw tracepoint not found: no_such_tracepoint_xyz")


@pytest.mark.kernel  # needs the kernel's BTF
def test_unknown_arg_name_is_an_error():
    r = run("-e", "rawtracepoint:sched_switch { @ = args.bogus; }")
    assert r.returncode == 1
    assert "Raw tracepoint sched_switch has no argument named 'bogus'" in r.stderr


@pytest.mark.kernel  # needs the kernel's BTF
def test_list_and_list_verbose():
    r = run("-l", "rawtracepoint:sched_*")
    assert r.returncode == 0, r.stderr
    assert "rawtracepoint:sched_switch" in r.stdout.splitlines()
    r = run("-lv", "rt:sched_switch")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "rawtracepoint:sched_switch",
        "    bool preempt",
        "    struct task_struct * prev",
        "    struct task_struct * next",
        "    unsigned int prev_state",
    ]

"""BPF iterators (`iter:task`, `iter:task_file`), run for real.

An iterator program runs once per kernel object while pybpftrace reads the
iterator to its end; then the run ends by itself, as after exit(): END runs
and the maps are printed.  These tests look for objects they know: this test
process (its pid and comm), kthreadd, and files a child process holds open.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYBPFTRACE = [sys.executable, "-m", "pybpftrace"]


def run(*args, timeout=60):
    """A run that must end by itself (the timeout is only a safety net)."""
    return subprocess.run([*PYBPFTRACE, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def own_comm() -> str:
    with open("/proc/self/comm") as f:
        return f.read().strip()


def test_task_visits_this_process():
    r = run("-e", 'iter:task { printf("%s:%d\\n", ctx->task->comm, ctx->task->pid); }')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 1 probe..."
    assert f"{own_comm()}:{os.getpid()}" in lines
    assert "kthreadd:2" in lines


def test_task_counts_end_with_begin_end_and_the_maps_in_order():
    r = run("-e", 'BEGIN { printf("begin\\n"); } iter:task { @[ctx->task->comm] = count(); '
                  '@tasks = count(); } END { printf("end\\n"); }')
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("Attaching 3 probes...\nbegin\nend\n\n\n")
    assert re.search(rf"^@\[{re.escape(own_comm())}\]: [1-9]\d*$", out, re.M)
    assert "@[kthreadd]: 1\n" in out
    # Once per task: as many as the tasks under /proc, give or take a few that come and go.
    tasks = int(re.search(r"^@tasks: (\d+)$", out, re.M).group(1))
    threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in os.listdir("/proc")
                  if p.isdigit() and os.path.isdir(f"/proc/{p}/task"))
    assert abs(tasks - threads) < threads // 4


# A child that opens the file it is given, says which fd it got, and waits.
HOLDER = "import os, sys, time; print(os.open(sys.argv[1], os.O_RDONLY), flush=True); time.sleep(30)"


def test_task_file_lists_the_files_a_process_holds():
    with tempfile.NamedTemporaryFile(prefix="iter_probe_") as held:
        child = subprocess.Popen([sys.executable, "-c", HOLDER, held.name], text=True,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        try:
            fd = int(child.stdout.readline())
            r = run("-e", 'iter:task_file /ctx->task->pid == $1/ { printf("%d %s\\n", ctx->fd, '
                          'str(ctx->file->f_path.dentry->d_name.name)); }', str(child.pid))
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()[1:]
    assert f"{fd} {os.path.basename(held.name)}" in lines
    assert "2 null" in lines
    # As in 0.17, a context member that is 0 ends the program: fd 0 is never shown.
    assert not any(line.startswith("0 ") for line in lines)


def test_exit_in_the_iterator_stops_its_output():
    r = run("-e", 'iter:task { printf("%d\\n", ctx->task->pid); exit(); }')
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Attaching 1 probe...\n2\n\n\n"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_pinned_iterator_is_left_in_bpffs():
    """`iter:task:PIN` pins the iterator's link instead of running it; a read
    of the pinned file runs it.  bpffs is mounted in a mount namespace of the
    test's own, so nothing is left behind."""
    script = ('mount -t bpf bpf /sys/fs/bpf && "$@" && test -f /sys/fs/bpf/iter_test && '
              'cat /sys/fs/bpf/iter_test > /dev/null && echo read-ok')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *PYBPFTRACE, "-e",
                        "iter:task:iter_test { @ = count(); }"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Attaching 1 probe...\nProgram pinned to /sys/fs/bpf/iter_test\n")
    assert r.stdout.rstrip().endswith("read-ok")


def test_pin_failure_is_reported_and_the_run_ends():
    r = run("-e", "iter:task:no_such_dir/x { @ = count(); } END { printf(\"end\\n\"); }")
    assert r.returncode == 0
    assert r.stderr == "ERROR: Failed to pin iter probe link\n"
    assert r.stdout.startswith("Attaching 2 probes...\nend\n")

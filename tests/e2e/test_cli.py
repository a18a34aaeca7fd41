"""The command line: modes and options, run as a user runs them."""
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, env=None, timeout=60):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_no_arguments_prints_usage_and_fails():
    p = run()
    assert p.returncode == 1
    assert p.stderr.startswith("USAGE:\n")
    assert "[options] -e 'program'" in p.stderr


def test_help_goes_to_stdout():
    p = run("-h")
    assert p.returncode == 0
    assert "-l [search]    list probes" in p.stdout


def test_version():
    p = run("-V")
    assert p.returncode == 0
    assert p.stdout.startswith("pybpftrace v")


def test_debug_dumps_the_ast_without_running():
    p = run("-d", "-e", "k:vfs_read { @[pid] = count(); }")
    assert p.returncode == 0, p.stderr
    assert "AST after: parser" in p.stdout and "AST after: Semantic" in p.stdout
    assert " kprobe:vfs_read\n" in p.stdout
    assert "    builtin: pid :: type[unsigned int64, ctx: 0]\n" in p.stdout
    assert "Attaching" not in p.stdout


def test_syntax_error_is_a_diagnostic_not_a_traceback():
    p = run("-e", "BEGIN { $x = 1 +; }")
    assert p.returncode == 1
    assert p.stderr.startswith("stdin:1:")
    assert "ERROR: syntax error" in p.stderr
    assert "Traceback" not in p.stderr


def test_missing_script_file():
    p = run("/nonexistent/script.bt")
    assert p.returncode == 1
    assert p.stderr == "ERROR: failed to open file '/nonexistent/script.bt': No such file or directory\n"


@pytest.mark.kernel
def test_kprobe_needs_a_kernel_with_kprobes():
    p = run("-e", "kprobe:vfs_read { @ = count(); }")
    if p.returncode == 0:
        pytest.skip("this kernel has kprobes")
    assert "kprobes are not supported by this kernel" in p.stderr


@pytest.mark.kernel
def test_info_reports_probed_features():
    p = run("--info")
    assert p.returncode == 0
    assert "  tracepoint: yes\n" in p.stdout
    assert "  Loop support: yes\n" in p.stdout


@pytest.mark.kernel
def test_verbose_shows_programs_and_attach_lines():
    p = run("-v", "-e", "tracepoint:syscalls:sys_enter_getppid { @ = count(); } interval:ms:50 { exit(); }")
    assert p.returncode == 0, p.stderr
    assert "Program ID: " in p.stderr
    assert "Attaching tracepoint:syscalls:sys_enter_getppid\n" in p.stderr


@pytest.mark.kernel
def test_quiet_hides_the_attach_line():
    p = run("-q", "-e", 'BEGIN { printf("only\\n"); exit(); }')
    assert p.stdout == "only\n\n\n"


@pytest.mark.kernel
def test_output_file_gets_the_output(tmp_path):
    out = tmp_path / "out.txt"
    p = run("-o", str(out), "-e", 'BEGIN { printf("to file\\n"); @x = 1; exit(); }')
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "Attaching 1 probe...\nto file\n@x: 1\n"
    assert p.stdout == "\n\n"


@pytest.mark.kernel
def test_full_buffering_still_prints_everything():
    p = run("-B", "full", "-e", 'BEGIN { printf("a\\n"); printf("b\\n"); exit(); }')
    assert p.stdout == "Attaching 1 probe...\na\nb\n\n\n"


@pytest.mark.kernel
def test_lost_events_are_counted_and_reported():
    # String literals stay under 0.17's 64-byte limit.
    # One page per CPU cannot hold 200 records of ~140 bytes written in one go.
    prog = ('BEGIN { unroll(100) { printf("%s %s\\n", "' + "a" * 60 + '", "' + "b" * 60 + '"); } '
            'unroll(100) { printf("%s %s\\n", "' + "c" * 60 + '", "' + "d" * 60 + '"); } exit(); }')
    p = run("-e", prog, env={"BPFTRACE_PERF_RB_PAGES": "1"})
    assert p.returncode == 0, p.stderr
    printed = p.stdout.count("\n" + "a" * 60) + p.stdout.count("\n" + "c" * 60)
    lost = [line for line in (p.stdout + p.stderr).splitlines() if line.startswith("Lost ")]
    assert lost, p.stdout
    assert printed + sum(int(line.split()[1]) for line in lost) == 200


@pytest.mark.kernel
def test_max_probes_limit():
    p = run("-e", "tracepoint:syscalls:sys_enter_* { @ = count(); }", env={"BPFTRACE_MAX_PROBES": "10"})
    assert p.returncode == 1
    assert "exceeds the current limit of 10 probes" in p.stderr


@pytest.mark.kernel
def test_max_programs_limit_comes_first():
    """As in 0.17, the generated-programs limit is checked before the probes limit.
    A wildcard that reads `probe` shares one program; `args` needs one each."""
    shared = run("-e", "tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { exit(); }",
                 env={"BPFTRACE_MAX_BPF_PROGS": "10"})
    assert shared.returncode == 0, shared.stderr
    p = run("-e", "tracepoint:syscalls:sys_enter_* { @[args.__syscall_nr] = count(); }",
            env={"BPFTRACE_MAX_BPF_PROGS": "10", "BPFTRACE_MAX_PROBES": "10"})
    assert p.returncode == 1
    assert p.stderr.startswith("ERROR: Your program is trying to generate more than ")
    assert "BPFTRACE_MAX_BPF_PROGS" in p.stderr and "MAX_PROBES" not in p.stderr


@pytest.mark.kernel
def test_many_tracepoints_exit_fast():
    """bpftrace 0.17 needs ~30 s here to detach ~360 syscall tracepoints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybpftrace", "-e",
         "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1"))
    for line in proc.stderr:
        if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
            break
    subprocess.run(["/bin/true"])
    start = time.monotonic()
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - start < 3
    assert "@[tracepoint:syscalls:sys_enter_" in out


@pytest.mark.kernel
def test_exit_ends_the_run_even_when_its_event_is_lost():
    fill = 'unroll(100) { printf("%s\\n", "' + "x" * 60 + '"); } '
    start = time.monotonic()
    p = run("-e", "BEGIN { " + fill * 2 + "exit(); }", env={"BPFTRACE_PERF_RB_PAGES": "1"}, timeout=20)
    assert p.returncode == 0, p.stderr
    assert "Lost " in p.stdout + p.stderr
    assert time.monotonic() - start < 10

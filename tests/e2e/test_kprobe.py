"""kprobe/kretprobe through the real CLI.

On a kernel without kprobes (this VM) a kprobe program is compiled and
verified, then refused with one located error naming the probe, the reason
and, where there is one, the tracepoint to use instead; the seeds' kprobe
programs all end that way.  `-l` lists kprobes from kallsyms when ftrace's
list is locked.  The argument and return value code kprobes share with
uprobes is run for values on a gcc-built target through uprobes.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pybpftrace.bpf import features
from workloads import ROOT, Tracer

pytestmark = pytest.mark.kernel

SEEDS = Path("/work/shared/seeds-check/cases.toml")
no_kprobes = pytest.mark.skipif(features.have_kprobe(), reason="this kernel has kprobes")


def pybpftrace(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


# ---- the clear error --------------------------------------------------------------

@no_kprobes
@pytest.mark.parametrize("program, first_line", [
    ("kprobe:do_sys_openat2 { @ = count(); }",
     "stdin:1:1-22: ERROR: kprobes are not supported by this kernel: cannot attach "
     "kprobe:do_sys_openat2 (try tracepoint:syscalls:sys_enter_openat instead)"),
    ("kretprobe:ksys_read { @ = hist(retval); }",
     "stdin:1:1-20: ERROR: kprobes are not supported by this kernel: cannot attach "
     "kretprobe:ksys_read (try tracepoint:syscalls:sys_exit_read instead)"),
    ("k:tcp_send* { @[func] = count(); }",
     "stdin:1:1-12: ERROR: kprobes are not supported by this kernel: cannot attach kprobe:tcp_send*"),
    ("kprobe:tcp_sendmsg { @[arg2] = count(); } kretprobe:tcp_sendmsg { @r = hist(retval); }",
     "stdin:1:1-19: ERROR: kprobes are not supported by this kernel: cannot attach "
     "kprobe:tcp_sendmsg"),
])
def test_one_located_error_naming_the_probe_and_the_alternative(program, first_line):
    p = pybpftrace("-e", program)
    assert p.returncode == 1 and p.stdout == ""
    lines = p.stderr.splitlines()
    assert lines[0] == first_line
    assert lines[1] == program and set(lines[2].strip()) == {"~"} and len(lines) == 3


@no_kprobes
def test_the_error_comes_after_the_verifier_accepted_the_program():
    """A program the verifier refuses is reported as such: it is compiled and loaded first."""
    p = pybpftrace("-v", "-e", "kprobe:vfs_read { @ = count(); }")
    assert re.search(r"^Program ID: \d+ \(kprobe:vfs_read\)$", p.stderr, re.M), p.stderr
    assert p.stderr.count("ERROR:") == 1 and "Attaching" not in p.stdout


def _seed_cases():
    if not SEEDS.exists():
        return []
    cases = tomllib.loads(SEEDS.read_text())["case"]
    return [pytest.param(c, id=c["id"]) for c in cases
            if "kprobe" in c.get("needs", []) and c.get("program")]


@no_kprobes
@pytest.mark.skipif(not SEEDS.exists(), reason="seeds-check cases not present")
@pytest.mark.parametrize("case", _seed_cases())
def test_seed_kprobe_programs_fail_cleanly(case):
    p = pybpftrace(*case.get("args", []), "-e", case["program"])
    assert p.returncode != 0 and "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if "ERROR:" in line]
    assert len(errors) == 1, p.stderr
    assert "kprobes are not supported by this kernel: cannot attach k" in errors[0], p.stderr


# ---- listing ----------------------------------------------------------------------

def test_list_kprobes_by_pattern():
    p = pybpftrace("-l", "kprobe:tcp_send*")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert "kprobe:tcp_sendmsg" in lines and "kprobe:tcp_sendmsg_locked" in lines
    assert all(line.startswith("kprobe:tcp_send") for line in lines)
    assert lines == sorted(lines)
    if not features.have_kprobe():
        assert p.stderr == "WARNING: kprobes are not supported by this kernel\n"
    # -lv: 0.17 prints no arguments for kprobes
    assert pybpftrace("-lv", "kprobe:tcp_send*").stdout == p.stdout


def test_list_kretprobes_and_the_module_form():
    assert pybpftrace("-l", "kretprobe:vfs_read").stdout == "kretprobe:vfs_read\n"
    assert pybpftrace("-l", "kprobe:vmlinux:vfs_read").stdout == "kprobe:vmlinux:vfs_read\n"
    assert pybpftrace("-l", "kprobe:no_such_function_*").stdout == ""


# ---- the shared pt_regs code, for values, through uprobes --------------------------

TARGET_C = r"""
#include <unistd.h>
long __attribute__((noinline)) f8(long a, long b, long c, long d, long e, long f,
                                   long g, long h) {
    return a + b + c + d + e + f + g + h;
}
int main() {
    sleep(1);
    long total = 0;
    for (long i = 0; i < 3; i++) total += f8(i, 10, 20, 30, 40, 50, 60 + i, 70);
    return total == 0;
}
"""


@pytest.fixture
def target(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "t.c").write_text(TARGET_C)
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True)
    return str(tmp_path / "t")


def test_register_and_stack_arguments_and_return_value(target):
    program = (f'uprobe:{target}:f8 {{ printf("%d %d %d %d %d %d | %d %d\\n", arg0, arg1, arg2, '
               f'arg3, arg4, arg5, sarg0, sarg1); }} '
               f'uretprobe:{target}:f8 {{ @r[retval] = count(); }}')
    with Tracer(program) as t:
        subprocess.run([target], timeout=30)
        t.stop()
        out = t.stdout.decode()
    rows = re.findall(r"^(\d+ .*)$", out, re.M)
    assert rows == [f"{i} 10 20 30 40 50 | {60 + i} 70" for i in range(3)], out
    for i in range(3):
        assert re.search(rf"^@r\[{i + 280 + i}\]: 1$", out, re.M), out

"""Kernel struct navigation through BTF: casts to struct pointers, `->` and `.`,
member types (integers, bitfields, pointers, char arrays, arrays), run for real."""
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(program, timeout=60):
    return subprocess.run([sys.executable, "-m", "pybpftrace", "-e", program], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def output_lines(p):
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if line and not line.startswith("Attaching")]


def test_curtask_pid_is_the_tracers_pid():
    p = run('BEGIN { printf("%d %d\\n", curtask->pid, pid); exit(); }')
    (line,) = output_lines(p)
    a, b = line.split()
    assert a == b and int(a) > 0


def test_cast_curtask_pid_seed_case():
    p = run('BEGIN { $x = 1; $y = "hello"; $z = (struct task_struct *)curtask; '
            'printf("%d %s %d\\n", $x, $y, $z->pid); exit(); }')
    (line,) = output_lines(p)
    assert re.fullmatch(r"1 hello [1-9]\d*", line), line


def test_comm_member_is_a_string():
    p = run('BEGIN { printf("%s|%s|\\n", curtask->comm, str(curtask->comm)); '
            '@[curtask->comm] = count(); exit(); }')
    lines = output_lines(p)
    assert lines[0] == "bpftrace|bpftrace|"
    assert "@[bpftrace]: 1" in lines


def test_pointer_member_keeps_navigating():
    p = run('BEGIN { printf("%d\\n", ((struct task_struct *)curtask)->real_parent->pid); '
            'exit(); }')
    (line,) = output_lines(p)
    # `python -m pybpftrace` runs in the subprocess, whose parent is this test.
    assert int(line) == os.getpid()


def test_nested_member_and_deref():
    p = run('BEGIN { $t = (struct task_struct *)curtask; '
            'printf("%d %d %d\\n", $t->se.vruntime, (*$t).tgid, pid); exit(); }')
    (line,) = output_lines(p)
    vruntime, tgid, pid = (int(x) for x in line.split())
    assert vruntime >= 0 and tgid == pid


def test_bitfield_and_array_members():
    # in_execve is a 1-bit bitfield; cpus_mask.bits is an array of unsigned long.
    p = run('BEGIN { printf("%d %d\\n", curtask->in_execve, curtask->cpus_mask.bits[0]); '
            'exit(); }')
    (line,) = output_lines(p)
    execve, mask = (int(x) for x in line.split())
    assert execve == 0 and mask > 0


def test_sizeof_and_offsetof_struct():
    from pybpftrace import btf
    b = btf.vmlinux()
    task = b.lookup("struct task_struct")
    p = run('BEGIN { printf("%d %d\\n", sizeof(struct task_struct), '
            'offsetof(struct task_struct, pid)); exit(); }')
    (line,) = output_lines(p)
    assert line.split() == [str(b.sizeof(task)), str(b.member(task, "pid").byte_offset)]


def test_unknown_struct_is_an_error():
    p = run("BEGIN { $x = (struct foo *)curtask; exit(); }")
    assert p.returncode == 1
    assert "ERROR: Unknown struct/union: 'struct foo'" in p.stderr


def test_missing_field_is_an_error():
    p = run("BEGIN { $t = (struct task_struct *)curtask; print($t->nope); exit(); }")
    assert p.returncode == 1
    assert ("ERROR: Struct/union of type 'struct task_struct' does not contain a field named "
            "'nope'") in p.stderr

"""Kernel types from BTF, run for real: casts to struct pointers, `->` and `.`,
member types (integers, bitfields, pointers, char arrays, arrays), struct
values copied, stored and printed, typedef casts, enumerators, pointer
arithmetic, and kernel vs user memory."""
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from pybpftrace import btf
from workloads import Tracer, named, syscalls_n, unique_name

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


# ---- struct values, typedefs, enums, pointers -------------------------------------

def test_task_copied_out_of_the_kernel_for_a_child():
    """`*curtask` copied to a variable and a map (big: the scratch map), its
    members read back, against the pid, parent and comm the test knows."""
    name = unique_name()
    program = (f'tracepoint:syscalls:sys_enter_getppid /comm == "{name}"/ {{ '
               '$t = *curtask; @copy[1] = *curtask; '
               'printf("%d %d %d %s %s %s\\n", $t.pid, $t.real_parent->tgid, @copy[1].tgid, '
               '$t.comm, str(curtask->comm), @copy[1].comm); '
               'print($t.cred->euid); exit(); }')
    with Tracer(program) as t:
        child = syscalls_n(name, 1)
        assert t.wait() == 0, t.stderr
    lines = [x for x in t.stdout.decode().splitlines() if x]
    assert lines[1].split() == [str(child), str(os.getpid()), str(child), name, name, name]
    assert lines[2] == f"{{ .val = {os.geteuid()} }}"
    copy = [x for x in lines if x.startswith("@copy[1]: { .thread_info = {")]
    assert len(copy) == 1 and f".pid = {child}, .tgid = {child}," in copy[0]
    assert f'.comm = {name},' in copy[0]


def test_struct_values_print_store_and_key():
    p = run('BEGIN { print(curtask->cred->uid); @v = curtask->cred->gid; '
            '@k[curtask->cred->euid] = 1; $s = curtask->se.load; print($s.weight == '
            'curtask->se.load.weight); print(curtask->nsproxy->uts_ns->name); exit(); }')
    lines = output_lines(p)
    u = os.uname()
    assert lines[:2] == [f"{{ .val = {os.getuid()} }}", "1"]
    assert lines[2].startswith(f"{{ .sysname = {u.sysname}, .nodename = {u.nodename}, "
                               f".release = {u.release}, .version = {u.version}, "
                               f".machine = {u.machine}, .domainname = ")
    assert f"@k[{{.val={os.geteuid()}}}]: 1" in lines
    assert f"@v: {{ .val = {os.getgid()} }}" in lines


def test_struct_value_json():
    p = subprocess.run([sys.executable, "-m", "pybpftrace", "-f", "json", "-e",
                        "BEGIN { print(curtask->cred->uid); @[curtask->cred->gid] = 2; "
                        "print(curtask->sched_class); exit(); }"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert f'{{"type": "value", "data": {{ "val": {os.getuid()} }}}}' in lines
    assert f'{{"type": "map", "data": {{"@": {{"{{.val={os.getgid()}}}": 2}}}}}}' in lines
    # a pointer prints as a JSON number: the address, unsigned (0.17: signed)
    assert any(re.fullmatch(r'\{"type": "value", "data": 1844674\d{13}\}', x) for x in lines)


def test_typedef_casts_and_sizes():
    p = run('BEGIN { printf("%d %d %d %d %d\\n", (pid_t)0x1ffffffff, (u16)-1, (sector_t)-1 > 0, '
            'sizeof(pid_t), sizeof(atomic_t)); $a = (atomic_t *)curtask; '
            'printf("%d\\n", (uint64)($a + 3) - (uint64)$a); exit(); }')
    assert output_lines(p) == ["-1 65535 1 4 4", "12"]


def test_enum_constants_from_btf():
    b = btf.vmlinux()
    want = [b.enum_value(n)[0] for n in ("TCP_LISTEN", "PIDTYPE_TGID", "BPF_MAP_TYPE_ARRAY")]
    p = run('BEGIN { printf("%d %d %d\\n", TCP_LISTEN, PIDTYPE_TGID, BPF_MAP_TYPE_ARRAY); '
            'exit(); }')
    assert output_lines(p) == [" ".join(map(str, want))]
    p = run("BEGIN { print(NO_SUCH_ENUMERATOR); exit(); }")
    assert p.returncode == 1 and "ERROR: Unknown identifier: 'NO_SUCH_ENUMERATOR'" in p.stderr


def test_pointer_arithmetic_indexing_and_address_of():
    b = btf.vmlinux()
    task = b.lookup("struct task_struct")
    off, size = b.member(task, "pid").byte_offset, b.sizeof(task)
    p = run(f'BEGIN {{ $p = (int32 *)curtask; $i = {off // 4}; '
            f'printf("%d %d %d %d\\n", $p[{off // 4}] == pid, $p[$i] == pid, '
            f'*($p + {off // 4}) == pid, *(&curtask->pid) == pid); '
            f'printf("%d %d\\n", (uint64)(curtask + 1) - (uint64)curtask, '
            f'(uint64)&curtask->pid - (uint64)curtask); exit(); }}')
    assert output_lines(p) == ["1 1 1 1", f"{size} {off}"]


def test_kernel_pointers_in_a_user_context_are_read_from_the_kernel():
    """In a syscall tracepoint (where `args` pointers are user addresses),
    strings reached through kernel structs are still kernel memory."""
    name = unique_name()
    program = (f'tracepoint:syscalls:sys_enter_getppid /comm == "{name}"/ {{ '
               '$d = curtask->mm->exe_file->f_path.dentry; '
               'printf("%s|%s|%r\\n", str($d->d_name.name), str(curtask->comm), '
               'buf(curtask->comm, 3)); exit(); }')
    with Tracer(program) as t:
        syscalls_n(name, 1)
        assert t.wait() == 0, t.stderr
    exe = os.path.basename(os.path.realpath(sys.executable))
    assert f"{exe}|{name}|{name[:3]}" in t.stdout.decode()


def test_ntop_of_socket_struct_fields():
    """ntop() of a struct sock's u32 address, of its 16-byte IPv6 address array,
    and with the family read from the struct, on real TCP connects."""
    name = unique_name()
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    v4.listen()
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen()
    program = (f'tracepoint:sock:inet_sock_set_state /comm == "{name}" && '
               'args->newstate == TCP_SYN_SENT/ { $sk = (struct sock *)args->skaddr; '
               'printf("%s|%s|%d\\n", ntop($sk->__sk_common.skc_family, '
               '$sk->__sk_common.skc_daddr), '
               'ntop(10, $sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), '
               '$sk->__sk_common.skc_family); }')
    with v4, v6, Tracer(program) as t:
        named(name, """
            import socket, sys
            for host, port in (("127.0.0.1", sys.argv[1]), ("::1", sys.argv[2])):
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(fam) as s:
                    s.connect((host, int(port)))
        """, str(v4.getsockname()[1]), str(v6.getsockname()[1]))
        assert t.wait_for_output(b"|10\n"), t.stdout
        t.stop()
    lines = [x for x in t.stdout.decode().splitlines() if "|" in x]
    assert lines == ["127.0.0.1|::ffff:127.0.0.1|2", "::|::1|10"]


USER_C = r"""
#include <sys/uio.h>
#include <unistd.h>
struct ts { long long tv_sec; long long tv_nsec; };
int __attribute__((noinline)) take(struct ts *t, struct iovec *v, int *arr) {
    return t->tv_sec + v->iov_len + arr[2];
}
int main() {
    struct ts t = {5, 7};
    char msg[] = "hello-user";
    struct iovec v = { msg, sizeof(msg) };
    int arr[4] = {10, 20, 30, 40};
    usleep(300000);
    take(&t, &v, arr);
    return 0;
}
"""


def test_kernel_struct_types_over_user_memory(tmp_path):
    """A uprobe's arguments are user addresses: structs (kernel BTF types) read
    through them come from the process, and so do the strings they point to."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "t.c").write_text(USER_C)
    binary = tmp_path / "t"
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(tmp_path / "t.c")], check=True)
    program = (f'uprobe:{binary}:take {{ $t = (struct __kernel_timespec *)arg0; print(*$t); '
               '$v = (struct iovec *)arg1; print(str($v->iov_base)); print($v->iov_len); '
               '$a = (int32 *)arg2; $i = 3; printf("%d %d %d\\n", $a[2], $a[$i], *($a + 1)); '
               '@t = *$t; exit(); }')
    with Tracer(program) as t:
        subprocess.run([str(binary)], check=True, timeout=30)
        assert t.wait() == 0, t.stderr
    lines = [x for x in t.stdout.decode().splitlines() if x and not x.startswith("Attaching")]
    assert lines == ["{ .tv_sec = 5, .tv_nsec = 7 }", "hello-user", "11", "30 40 20",
                     "@t: { .tv_sec = 5, .tv_nsec = 7 }"]

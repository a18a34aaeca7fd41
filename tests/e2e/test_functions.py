"""Builtin functions on real events: addresses and symbols, stacks in every mode,
strftime(), cgroups, reg(), kptr()/uptr(), strcontains() and debugf().

The user-space cases trace a gcc-built target, once as a PIE executable (where
bpftrace 0.17's uaddr() reads the wrong address) and once as a fixed-address
one (where 0.17 and pybpftrace print the same).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from workloads import Tracer, open_n, run_tracer, unique_name

pytestmark = pytest.mark.kernel

TARGET_C = r"""
#include <unistd.h>
int counter = 5;
short small = 7;
unsigned char mac[6] = {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xfe};
void __attribute__((noinline)) level2(void) { close(999); counter++; }
void __attribute__((noinline)) level1(void) { level2(); }
int main(void) { level1(); level1(); sleep(2); return 0; }
"""


def build(tmp_path, pie: bool) -> str:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the target")
    src = tmp_path / "target.c"
    src.write_text(TARGET_C)
    binary = tmp_path / ("target_pie" if pie else "target_fixed")
    flags = ["-fPIE", "-pie"] if pie else ["-fno-pie", "-no-pie"]
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", *flags, "-o", str(binary), str(src)],
                   check=True)
    return str(binary)


@pytest.fixture(params=[True, False], ids=["pie", "fixed"])
def target(request, tmp_path):
    return build(tmp_path, request.param)


@pytest.fixture
def pie_target(tmp_path):
    return build(tmp_path, True)


def trace_target(program: str, binary: str, expect: bytes, times: int = 1) -> str:
    """Run the target under the tracer; stop the tracer while the target still
    lives (user symbols are resolved at print time), once `expect` was printed
    `times` times."""
    with Tracer(program) as t:
        proc = subprocess.Popen([binary])
        try:
            deadline = time.monotonic() + 15
            while t.stdout.count(expect) < times and time.monotonic() < deadline:
                time.sleep(0.05)
            assert t.stdout.count(expect) >= times, (t.stdout, t.stderr)
            assert t.stop() == 0, t.stderr
        finally:
            proc.wait(10)
        return t.stdout.decode()


def test_uaddr_reads_the_symbols_of_the_probed_binary(target):
    """uaddr() is the run-time address (PIE too); its pointee width is the symbol's size."""
    out = trace_target(
        f'uprobe:{target}:level2 {{ printf("%d %d %s\\n", *uaddr("counter"), *uaddr("small"), '
        f'macaddr(uaddr("mac"))); }} '
        f'uretprobe:{target}:level2 {{ printf("ret %d\\n", *uaddr("counter")); }}',
        target, b"ret 7\n")
    assert re.findall(r"^(?:ret )?\d.*$", out, re.M) == [
        "5 7 00:1B:21:AA:BB:FE", "ret 6", "6 7 00:1B:21:AA:BB:FE", "ret 7"], out


def test_usym_of_reg_ip_names_the_probed_function(pie_target):
    out = trace_target(
        f'uprobe:{pie_target}:level2 {{ printf("%s %s|\\n", usym(reg("ip")), '
        f'usym(uaddr("counter"))); @[usym(reg("ip"))] = count(); @sp = max(reg("sp") > 0); }}',
        pie_target, b"|\n")
    # Data is not in an executable mapping: bcc, and so 0.17, leave it as an address.
    assert re.search(r"^level2 0x[0-9a-f]+\|$", out, re.M), out
    assert re.search(r"^@\[level2\]: 2$", out, re.M), out
    assert re.search(r"^@sp: 1$", out, re.M), out


def test_kptr_and_uptr_choose_the_memory_a_pointer_reads(pie_target):
    """In a uprobe, addresses are user addresses unless kptr() says otherwise;
    kaddr() is a kernel address unless uptr() says otherwise."""
    out = trace_target(
        f'uprobe:{pie_target}:level2 {{ printf("%d %d %d %d|\\n", *kaddr("vfs_read") != 0, '
        f'*uptr(kaddr("vfs_read")) != 0, *reg("sp") != 0, *kptr(reg("sp")) != 0); }}',
        pie_target, b"|\n")
    assert re.search(r"^1 0 1 0\|$", out, re.M), out


def test_kaddr_is_the_kallsyms_address():
    with open("/proc/kallsyms") as f:
        addr = next(int(l.split()[0], 16) for l in f if l.split()[2:3] == ["vfs_read"])
    p = run_tracer('BEGIN { printf("%lx %s\\n", kaddr("vfs_read"), ksym(kaddr("vfs_read"))); '
                   'exit(); }')
    assert p.returncode == 0, p.stderr
    assert f"{addr:x} vfs_read\n".encode() in p.stdout


def test_kaddr_of_an_unknown_symbol_fails_to_compile():
    p = run_tracer('BEGIN { print(kaddr("no_such_symbol_here")); }')
    assert p.returncode == 1
    assert p.stderr == b"ERROR: Failed to compile: Failed to resolve kernel symbol: " \
                       b"no_such_symbol_here\n"


# ---- stacks ---------------------------------------------------------------------------

KSTACK_PROGRAM = """tracepoint:syscalls:sys_enter_openat /comm == "{comm}"/ {{
    printf("A%sB\\n", kstack);
    printf("C%sD\\n", kstack(perf, 3));
    printf("E%sF\\n", kstack(raw));
    print(kstack(perf));
    @k[kstack(2)] = count();
    @r[kstack(raw, 1)] = count();
}}"""


def test_kstack_modes_on_a_syscall_tracepoint(tmp_path):
    comm = unique_name("ks")
    (tmp_path / "f").write_text("x")
    with Tracer(KSTACK_PROGRAM.format(comm=comm)) as t:
        open_n(comm, tmp_path / "f", 2)
        assert t.wait_for_output(b"F\n", 15), t.stderr
        assert t.stop() == 0, t.stderr
        out = t.stdout.decode()
    plain = re.search(r"A\n((?:        \S+\n)+)B", out)
    assert plain and re.search(r"^        do_syscall_64\+\d+$", plain.group(1), re.M), out
    perf = re.search(r"C\n((?:\t[0-9a-f]+ \S+\n)+)D", out)
    assert perf and len(perf.group(1).splitlines()) == 3, out  # kstack(perf, 3): 3 frames
    raw = re.search(r"E\n((?:[0-9a-f]{16}\n)+)F", out)
    assert raw, out
    assert re.search(r"^\t[0-9a-f]{16} do_syscall_64\+\d+$", out, re.M), out  # print()
    # Map keys: bpftrace mode indents by 4; raw mode not at all; kstack(2) two frames.
    key = re.search(r"^@k\[\n((?:    \S+\n)+)\]: 2$", out, re.M)
    assert key and len(key.group(1).splitlines()) == 2, out
    assert re.search(r"^@r\[\n[0-9a-f]{16}\n\]: 2$", out, re.M), out


def test_kstack_of_the_scheduler_names_schedule():
    program = 'tracepoint:sched:sched_switch { @[kstack(perf)] = count(); exit(); }'
    p = run_tracer(program)
    assert p.returncode == 0, p.stderr
    assert re.search(rb"^\t[0-9a-f]+ __?schedule\+\d+$", p.stdout, re.M), p.stdout


def test_kstack_in_json_is_a_quoted_string(tmp_path):
    comm = unique_name("kj")
    (tmp_path / "f").write_text("x")
    with Tracer(f'tracepoint:syscalls:sys_enter_openat /comm == "{comm}"/ '
                f'{{ @[kstack(perf, 2)] = count(); print(kstack(1)); }}',
                flags=("-f", "json")) as t:
        open_n(comm, tmp_path / "f", 1)
        assert t.wait_for_output(b'"value"', 15), t.stderr
        assert t.stop() == 0, t.stderr
    lines = [json.loads(l) for l in t.stdout.decode().splitlines() if l.strip()]
    value = next(l for l in lines if l["type"] == "value")["data"]
    assert re.fullmatch(r"\n        \S+\n", value), value
    stacks = next(l for l in lines if l["type"] == "map")["data"]["@"]
    (key, count), = stacks.items()
    assert count == 1 and re.fullmatch(r"\n(\t[0-9a-f]+ \S+\n){2}", key), key


def test_ustack_modes_on_a_user_program(pie_target):
    out = trace_target(
        'tracepoint:syscalls:sys_enter_close /comm == "target_pie"/ { '
        'printf("A%sB\\n", ustack); printf("C%sD\\n", ustack(perf, 4)); '
        'printf("E%sF\\n", ustack(raw, 3)); }',
        pie_target, b"F\n", times=3)  # two closes by ld.so, then the target's own
    # Frame pointers: level2 called close() last, so the frames go close, level1, main.
    assert re.search(r"^A\n        close\+\d+\n        level1\+\d+\n        main\+\d+\n", out,
                     re.M), out
    perf = re.findall(r"C\n((?:\t[0-9a-f]+ .+\n)+)D", out)[-1].splitlines()
    assert len(perf) == 4, out
    assert re.fullmatch(rf"\t[0-9a-f]+ level1\+\d+ \({re.escape(pie_target)}\)", perf[1]), out
    raw = re.findall(r"E\n((?:[0-9a-f]+\n)+)F", out)[-1].splitlines()
    assert len(raw) == 3 and perf[1].split()[0] == raw[1], out


# ---- time, cgroups, strings ---------------------------------------------------------------

def test_strftime_prints_wall_clock_time_of_a_boot_timestamp():
    before = time.time()
    p = run_tracer('BEGIN { printf("%s|%s\\n", strftime("%s", nsecs), strftime("%f", nsecs)); '
                   '@t = strftime("%Y", nsecs); exit(); }')
    after = time.time()
    assert p.returncode == 0, p.stderr
    m = re.search(rb"^(\d+)\|(\d{6})$", p.stdout, re.M)
    assert m, p.stdout
    assert int(before) - 1 <= int(m.group(1)) <= after + 1
    assert re.search(rb"^@t: 20\d\d$", p.stdout, re.M), p.stdout


def _cgroup2() -> tuple[str, str]:
    """The cgroup2 mount point and this process's cgroup2 path."""
    with open("/proc/mounts") as f:
        mount = next((l.split()[1] for l in f if l.split()[2:3] == ["cgroup2"]), None)
    with open("/proc/self/cgroup") as f:
        path = next((l.strip()[3:] for l in f if l.startswith("0::")), None)
    if mount is None or path is None:
        pytest.skip("no cgroup2 hierarchy")
    return mount, path


def test_cgroupid_and_cgroup_path_name_the_current_cgroup():
    mount, path = _cgroup2()
    full = os.path.normpath(mount + path)
    p = run_tracer(f'BEGIN {{ printf("%d %d\\n", cgroupid("{full}"), cgroup); '
                   f'printf("%s\\n", cgroup_path(cgroup, "unified")); exit(); }}')
    assert p.returncode == 0, p.stderr
    ids = re.search(rb"^(\d+) (\d+)$", p.stdout, re.M)
    assert ids and ids.group(1) == ids.group(2) == str(os.stat(full).st_ino).encode(), p.stdout
    assert f"\nunified:{path}\n".encode() in p.stdout


def test_cgroupid_of_a_missing_path_fails_to_compile():
    p = run_tracer('BEGIN { print(cgroupid("/no/such/cgroup")); }')
    assert p.returncode == 1
    assert p.stderr == (b'ERROR: Failed to compile: Failed to get `cgroupid` for path: '
                        b'"/no/such/cgroup": No such file or directory\n')


def test_strcontains_on_file_names():
    comm = unique_name("sc")
    files = {f"/tmp/{comm}_needle": 1, f"/tmp/{comm}_plain": 2}  # short: str() keeps 64 bytes
    for name in files:
        with open(name, "w"):
            pass
    try:
        with Tracer(f'tracepoint:syscalls:sys_enter_openat /comm == "{comm}"/ '
                    f'{{ @[str(args->filename), strcontains(str(args->filename), "needle")] '
                    f'= count(); }}') as t:
            for name, n in files.items():
                open_n(comm, name, n)
            time.sleep(0.5)
            assert t.stop() == 0, t.stderr
    finally:
        for name in files:
            os.unlink(name)
    out = t.stdout.decode()
    assert f"@[/tmp/{comm}_needle, 1]: 1\n" in out, out
    assert f"@[/tmp/{comm}_plain, 0]: 2\n" in out, out


def test_reg_in_a_perf_event_reads_its_pt_regs():
    p = run_tracer('profile:hz:99 { @ip = max(reg("ip") > 0); @[ksym(reg("ip"))] = count(); '
                   'exit(); }')
    assert p.returncode == 0, p.stderr
    assert re.search(rb"^@ip: 1$", p.stdout, re.M), p.stdout


def test_debugf_writes_to_the_trace_buffer():
    tracing = "/sys/kernel/tracing" if os.path.isdir("/sys/kernel/tracing/instances") \
        else "/sys/kernel/debug/tracing"
    if not os.path.exists(f"{tracing}/trace"):
        pytest.skip("no tracefs")
    marker = unique_name("dbg")
    p = run_tracer(f'BEGIN {{ debugf("{marker} %d %s\\n", 42, "abc"); exit(); }}')
    assert p.returncode == 0, p.stderr
    assert b"WARNING: The debugf() builtin is not recommended" in p.stderr
    with open(f"{tracing}/trace") as f:
        assert any(f"{marker} 42 abc" in line for line in f)

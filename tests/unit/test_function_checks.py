"""Builtin functions in the front end and the output layer, no kernel needed.

The diagnostics were recorded from /usr/bin/bpftrace 0.17 (stderr without its
RLIMIT_MEMLOCK line).  The compile-time lookups (kaddr, cgroupid, the helper
checks of path() and override()) go through a fake KernelInfo; uaddr() reads
/bin/bash, the binary the recordings probed.
"""
from __future__ import annotations

import os

import pytest

from test_typecheck import FakeKernel  # tests/unit/test_typecheck.py

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError
from pybpftrace.lang import ast
from pybpftrace.output.printf import format_strftime
from pybpftrace.output.values import Stack
from pybpftrace.runtime.cgroups import CgroupPaths
from pybpftrace.types import Int, Kind, Type


class FunctionKernel(FakeKernel):
    """The fake kernel plus the lookups builtin functions make at compile time."""

    def kernel_symbol_address(self, name: str) -> int | None:
        return {"vfs_read": 0xFFFFFFFF816D5370}.get(name)

    def cgroup_id(self, path: str) -> int:
        if path != "/sys/fs/cgroup/unified":
            raise FileNotFoundError(2, "No such file or directory")
        return 1

    def helper_unavailable(self, func: str) -> str | None:
        return {"path": "BPF_FUNC_d_path not available for your kernel version"}.get(func)


KERNEL = FunctionKernel()


def analyse(source: str, unsafe: bool = False):
    return driver.analyse(source, "stdin", KERNEL, driver.Options(unsafe=unsafe))


def diagnostics(source: str, unsafe: bool = False) -> str:
    try:
        analysed = analyse(source, unsafe)
    except DiagnosticError as e:
        return e.diags.render()
    return analysed.diags.render(("WARNING",))


def _err(src: str, col: int, end: int, msg: str, severity: str = "ERROR") -> str:
    return f"stdin:1:{col}-{end}: {severity}: {msg}\n{src}\n{' ' * (col - 1)}{'~' * (end - col)}\n"


def _case(src: str, *errors: tuple, unsafe: bool = False):
    return pytest.param(src, "".join(_err(src, *e) for e in errors), unsafe, id=src[:60])


CASES = [
    _case('BEGIN { reg("ip") }', (9, 18, 'reg can not be used with "BEGIN" probes')),
    _case('tracepoint:syscalls:sys_enter_read { reg("ip") }',
          (38, 47, 'reg can not be used with "tracepoint" probes')),
    _case('BEGIN { uaddr("x") }', (9, 19, 'uaddr can not be used with "BEGIN" probes'),
          (9, 19, "Could not resolve symbol: :x")),
    _case('BEGIN { kaddr(1) }', (9, 17, "kaddr() expects a string literal (integer provided)")),
    _case('BEGIN { $x = strftime("%H"); }',
          (14, 28, "strftime() requires at least 2 arguments (1 provided)")),
    _case('BEGIN { $x = strftime(1, 2); }',
          (14, 28, "strftime() expects a string literal (integer provided)")),
    _case('BEGIN { $x = strftime("%H", "a"); }',
          (14, 33, "strftime() only supports integer arguments (string provided)")),
    _case('BEGIN { @=macaddr("abcdef"); }', (9, 28, "macaddr() argument must be 6 bytes in size"),
          (9, 28, "macaddr() does not support literal string arguments")),
    _case('BEGIN { @=macaddr(comm); }', (9, 24, "macaddr() argument must be 6 bytes in size")),
    _case('BEGIN { $a = pton("1.2.3.4"); @=macaddr($a); }',
          (31, 44, "macaddr() argument must be 6 bytes in size")),
    _case('BEGIN { @=macaddr((1,2)); }',
          (9, 25, "macaddr() only supports array or pointer arguments (tuple provided)")),
    _case('BEGIN { @=bswap("a"); }',
          (9, 21, "bswap() only supports integer arguments (string provided)")),
    _case('BEGIN { @=bswap(1,2); }', (9, 21, "bswap() requires one argument (2 provided)")),
    _case('BEGIN { @=strcontains(1, "a"); }',
          (9, 30, "strcontains() only supports string arguments (integer provided)")),
    _case('BEGIN { @ = strcontains("abc"); }',
          (13, 31, "strcontains() requires 2 arguments (1 provided)")),
    _case('BEGIN { @=kptr("a"); }',
          (9, 20, "kptr() only supports integer or pointer arguments (string provided)")),
    _case('BEGIN { @=uptr(1,2); }', (9, 20, "uptr() requires one argument (2 provided)")),
    _case('BEGIN { @=path(1); }',
          (9, 18, "BPF_FUNC_d_path not available for your kernel version"),
          (9, 18, "The path function can only be used with 'kfunc', 'kretfunc', 'iter' probes")),
    _case('BEGIN { override(1); }', (9, 20, "override can only be used with kprobes."),
          unsafe=True),
    _case('BEGIN { override(1); }',
          (9, 20, "override() is an unsafe function being used in safe mode"),
          (9, 20, "override can only be used with kprobes.")),
    _case('BEGIN { @=cgroup_path("a"); }',
          (9, 27, "cgroup_path() only supports integer arguments (string provided)")),
    _case('BEGIN { @=cgroup_path(1, 2); }',
          (9, 28, "cgroup_path() only supports string arguments (integer provided)")),
    _case('BEGIN { @=cgroupid(1); }', (9, 22, "cgroupid() expects a string literal "
                                          "(integer provided)")),
    _case('BEGIN { debugf("%d %s\\n", 1); }',
          (9, 29, "The debugf() builtin is not recommended for production use. For more "
                  "information see bpf_trace_printk in bpf-helpers(7).", "WARNING"),
          (9, 29, "debugf: Not enough arguments for format string (1 supplied, 2 expected)")),
    _case('BEGIN { debugf("x"); }',
          (9, 20, "The debugf() builtin is not recommended for production use. For more "
                  "information see bpf_trace_printk in bpf-helpers(7).", "WARNING")),
    _case('BEGIN { $x = kstack(perf, -1); }',
          (14, 30, "kstack([int limit]): limit shouldn't exceed 1024, 18446744073709551615 given")),
]


@pytest.mark.parametrize("src, expected, unsafe", CASES)
def test_diagnostics_match_bpftrace_017(src, expected, unsafe):
    assert diagnostics(src, unsafe) == expected


@pytest.mark.parametrize("src, expected", [
    ('BEGIN { kaddr("nosuchsym") }',
     "ERROR: Failed to compile: Failed to resolve kernel symbol: nosuchsym\n"),
    ('BEGIN { print(cgroupid("/nonexistent")); exit() }',
     'ERROR: Failed to compile: Failed to get `cgroupid` for path: "/nonexistent": '
     "No such file or directory\n"),
])
def test_lookup_failures_are_reported_after_a_clean_analysis(src, expected):
    assert diagnostics(src) == expected


def test_compile_time_lookups_become_constants():
    program = analyse('BEGIN { @a = kaddr("vfs_read"); @c = cgroupid("/sys/fs/cgroup/unified"); }'
                      ).program
    calls = {c.name: c for c in _calls(program)}
    assert calls["kaddr"].address == 0xFFFFFFFF816D5370
    assert calls["cgroupid"].cgroup_id == 1


def _calls(node):
    if isinstance(node, ast.Call):
        yield node
    for c in ast.children(node):
        yield from _calls(c)


BASH = "/bin/bash"
needs_bash = pytest.mark.skipif(not os.path.isfile(BASH), reason="needs /bin/bash")


@needs_bash
@pytest.mark.parametrize("src, expected", [
    ('uprobe:/bin/bash:readline { uaddr("no_such") }',
     ((29, 45, "Could not resolve symbol: /bin/bash:no_such"),)),
    ('uprobe:/bin/bash:readline { uaddr("a b") }',
     ((29, 41, 'uaddr() expects a string that is a valid symbol (^[a-zA-Z0-9./_-]+$) as input '
               '("a b" provided)'),)),
    ('uprobe:/bin/bash:readline { uaddr(1) }',
     ((29, 37, "uaddr() expects a string literal (integer provided)"),)),
    ('uprobe:/bin/bash:readline { reg("foo") }',
     ((29, 39, "'foo' is not a valid register on this architecture (x86_64)"),)),
    ('uprobe:/bin/bash:readline,tracepoint:syscalls:sys_enter_read '
     '{ $x = uaddr("glob_asciirange"); }',
     ((69, 93, 'uaddr can not be used with "tracepoint" probes'),
      (69, 93, "Could not resolve symbol: syscalls:glob_asciirange"),
      (69, 93, 'Symbol size mismatch between probes. Symbol "glob_asciirange" has size 4 for '
               'probe "uprobe:/bin/bash" but size 0 for probe "tracepoint:syscalls"'))),
])
def test_uaddr_and_reg_diagnostics_in_uprobes(src, expected):
    assert diagnostics(src) == "".join(_err(src, *e) for e in expected)


@needs_bash
def test_uaddr_points_at_an_integer_of_the_symbols_size():
    """0.17: 1, 2 and 4-byte symbols give int8/16/32 pointers, all others int64."""
    program = analyse('uprobe:/bin/bash:readline { $a = uaddr("history_expansion_char"); '
                      '$b = uaddr("glob_asciirange"); $c = uaddr("sh_syntaxtab"); }').program
    inner = [c.type.inner for c in _calls(program) if c.name == "uaddr"]
    assert inner == [Int(8), Int(32), Int(64)]
    assert all(c.addrspace == "user" for c in _calls(program) if c.name == "uaddr")


def test_function_result_types():
    program = analyse('BEGIN { $a = bswap((uint16)1); $b = strftime("%H", nsecs); '
                      '$c = kptr((uint8 *)1); $d = strcontains("a", "b"); $e = cgroup_path(1); '
                      '$s = "abcde"; $f = macaddr($s); }').program
    types = {c.name: c.type for c in _calls(program)}
    assert types["bswap"] == Int(16, False)
    assert types["strftime"].kind is Kind.TIMESTAMP and types["strftime"].byte_size == 16
    assert types["kptr"] == Type(Kind.PTR, inner=Int(8, False))
    assert types["strcontains"] == Int(64, False)
    assert types["cgroup_path"].kind is Kind.CGROUP_PATH
    assert types["macaddr"].kind is Kind.MAC_ADDRESS and types["macaddr"].byte_size == 6


def test_raw_stack_mode_is_accepted():
    program = analyse('BEGIN { @[kstack(raw, 3)] = count(); }').program
    stack = next(c for c in _calls(program) if c.name == "kstack")
    assert (stack.type.stack_mode, stack.type.stack_limit) == ("raw", 3)


# ---- output -------------------------------------------------------------------------

def test_raw_stacks_print_bare_addresses():
    """Later bpftrace's raw mode: one hex address per line, no indent (also as a map key)."""
    stack = Stack(("ffffffff81234567", "ffffffff81000130"), "raw")
    assert stack.render(8) == "\nffffffff81234567\nffffffff81000130\n"
    assert stack.render(4) == stack.render(8)


def test_strftime_counts_from_boot_and_fills_in_microseconds(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    try:
        # Booted at 2024-01-02 03:04:05.999999000 UTC; 2.5 ms later.
        assert format_strftime("%Y-%m-%d %H:%M:%S.%f", 1704164645, 999999000, 2500000) == \
            "2024-01-02 03:04:06.002499"
        assert format_strftime("%f%%", 0, 0, 1234) == "000001%"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_strftime_that_does_not_fit_prints_a_question_mark():
    assert format_strftime("", 0, 0, 0) == "(?)"
    assert format_strftime("x" * 64, 0, 0, 0) == "(?)"
    assert format_strftime("x" * 63, 0, 0, 0) == "x" * 63


def test_cgroup_paths_name_each_hierarchy(tmp_path):
    """`unified` (cgroup2) first, then v1 hierarchies by mount directory name; those
    without a cgroup of that id are left out, and the filter is a wildcard."""
    v2, cpu, pids = tmp_path / "unified", tmp_path / "cpu", tmp_path / "pids"
    (v2 / "system.slice" / "x.service").mkdir(parents=True)
    (cpu / "x.service").mkdir(parents=True)
    pids.mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"tmpfs {tmp_path} tmpfs rw 0 0\ncgroup {pids} cgroup rw,pids 0 0\n"
                      f"cgroup {cpu} cgroup rw,cpu 0 0\ncgroup2 {v2} cgroup2 rw 0 0\n")
    paths = CgroupPaths(str(mounts))
    leaf = os.stat(v2 / "system.slice" / "x.service").st_ino
    assert paths.describe(leaf, "*") == "unified:/system.slice/x.service"
    assert paths.describe(os.stat(cpu / "x.service").st_ino, "*") == "cpu:/x.service"
    root = os.stat(v2).st_ino
    assert paths.describe(root, "unified") == "unified:/"
    assert paths.describe(root, "p*") == ""

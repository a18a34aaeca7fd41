"""fentry/fexit (kfunc/kretfunc) on this kernel, which refuses to load them.

What can be checked here: the one-line error (after the program was type
checked and compiled), the tracepoint suggested instead, and listing the
functions fentry could attach to, with their BTF prototypes.  The generated
code is checked in tests/unit/test_fentry_frontend.py, the load and attach
requests in tests/unit/test_trampoline_attach.py.
"""
import os
import re
import struct
import subprocess
import sys

import pytest

import pybpftrace
from pybpftrace import driver
from pybpftrace.diag import DiagnosticError

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNSUPPORTED = ("fentry/fexit probes are not supported by this kernel "
               "(BPF trampolines are unavailable)")


def run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_kernel_without_trampolines_is_one_clear_error():
    src = "fentry:vfs_read { @[comm] = sum(args.count); @p = args.file->f_pos; }"
    r = run("-e", src)
    assert r.returncode == 1
    assert r.stdout == ""  # nothing attached, so no "Attaching 1 probe..."
    assert r.stderr == (f"stdin:1:1-16: ERROR: {UNSUPPORTED}: "
                        "cannot attach kfunc:vmlinux:vfs_read\n"
                        f"{src}\n" + "~" * 15 + "\n")


@pytest.mark.parametrize("src, alternative", [
    ("fentry:__do_sys_getpid { @ = count(); }", "tracepoint:syscalls:sys_enter_getpid"),
    ("fexit:ksys_read { @ = hist(retval); }", "tracepoint:syscalls:sys_exit_read"),
    ("kretfunc:do_sys_openat2 { @ = retval; }", "tracepoint:syscalls:sys_exit_openat"),
])
def test_syscall_functions_suggest_their_tracepoint(src, alternative):
    r = run("-e", src)
    assert r.returncode == 1
    first = r.stderr.splitlines()[0]
    assert first.endswith(f"(try {alternative} instead)") and UNSUPPORTED in first


def test_type_errors_come_before_the_kernel_error():
    """The program is checked (and compiled) before the kernel is asked."""
    r = run("-e", "fexit:vfs_read { @ = args.nope + retval; }")
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == "stdin:1:22-27: ERROR: Can't find function parameter nope"
    r = run("-e", "fentry:vfs_read { @ = retval; }")
    assert r.stderr.splitlines()[0] == "stdin:1:23-29: ERROR: Can't find a field $retval"


def test_the_program_is_compiled_before_the_kernel_refuses_it(monkeypatch):
    compiled = []
    generate = driver.generate

    def recording(analysed, units, *rest, **options):
        ir = generate(analysed, units, *rest, **options)
        compiled.extend(units)
        return ir
    monkeypatch.setattr(driver, "generate", recording)
    with pytest.raises(DiagnosticError, match=re.escape(UNSUPPORTED)):
        pybpftrace.run("fentry:vfs_read { @ = sum(args.count); }")
    unit, = compiled
    insns = [struct.unpack_from("<BBhi", unit.insns, i) for i in range(0, len(unit.insns), 8)]
    assert (0x79, 16) in {(op, off) for op, _, off, _ in insns}  # ldxdw rX, [r1 + 16]: args.count


def test_functions_without_btf_cannot_be_traced():
    r = run("-e", "fentry:__x64_sys_getpid { }")  # an alias of __do_sys_getpid, no BTF FUNC
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == "stdin:1:1-24: ERROR: No BTF found for __x64_sys_getpid"


def test_list_functions_from_btf():
    r = run("-l", "kfunc:vfs_re*")
    assert r.returncode == 0
    assert "kfunc:vmlinux:vfs_read" in r.stdout.splitlines()
    assert all(line.startswith("kfunc:vmlinux:vfs_re") for line in r.stdout.splitlines())
    assert r.stderr == f"WARNING: {UNSUPPORTED}\n"


@pytest.mark.parametrize("pattern, kind", [("fentry:vfs_read", "kfunc"),
                                           ("fexit:vmlinux:vfs_read", "kretfunc")])
def test_list_verbose_prints_the_prototype_and_retval(pattern, kind):
    r = run("-lv", pattern)
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        f"{kind}:vmlinux:vfs_read",
        "    struct file * file",
        "    char * buf",
        "    size_t count",
        "    loff_t * pos",
        "    ssize_t retval",
    ]


def test_info_says_no_kfunc_and_yes_tp_btf():
    r = run("--info")
    assert "  kfunc: no\n" in r.stdout and "  tp_btf: yes\n" in r.stdout

"""The front end's diagnostics, byte for byte as bpftrace 0.17 prints them.

Every expected text in CASES was recorded from /usr/bin/bpftrace 0.17 (`-d`,
stderr, without its RLIMIT_MEMLOCK line); DEVIATIONS lists where pybpftrace
deliberately differs.  The property tests push mangled programs through the
whole front end - parse, attach points, type check and lowering to LLVM IR,
verified by LLVM - with a fake kernel: the result must be diagnostics or a
program, never an exception.  No kernel is needed.
"""
from __future__ import annotations

import fnmatch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mangle  # tests/unit/mangle.py

from pybpftrace import driver
from pybpftrace.codegen.emit import new_module, optimise
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.diag import DiagnosticError
from pybpftrace.semantic.kinfo import TracepointField
from pybpftrace.semantic.typecheck import c_int, describe, field_type
from pybpftrace.types import Int, Kind, String, Type


def _f(name, ctype, offset, size, signed=False, array_len=0, data_loc=False):
    return TracepointField(name, ctype, offset, size, signed, array_len, data_loc)


_SYSCALL_NR = _f("__syscall_nr", "int", 8, 4, True)
TRACEPOINTS = {
    ("syscalls", "sys_enter_openat"): [
        _SYSCALL_NR, _f("dfd", "int", 16, 8), _f("filename", "const char *", 24, 8),
        _f("flags", "int", 32, 8), _f("mode", "umode_t", 40, 8)],
    ("syscalls", "sys_enter_read"): [
        _SYSCALL_NR, _f("fd", "unsigned int", 16, 8), _f("buf", "char *", 24, 8),
        _f("count", "size_t", 32, 8)],
    ("syscalls", "sys_enter_execve"): [
        _SYSCALL_NR, _f("filename", "const char *", 16, 8),
        _f("argv", "const char *const *", 24, 8), _f("envp", "const char *const *", 32, 8)],
    ("syscalls", "sys_exit_read"): [_SYSCALL_NR, _f("ret", "long", 16, 8, True)],
    ("raw_syscalls", "sys_enter"): [
        _f("id", "long", 8, 8, True), _f("args", "unsigned long", 16, 48, False, 6)],
    ("raw_syscalls", "sys_exit"): [_f("id", "long", 8, 8, True), _f("ret", "long", 16, 8, True)],
    ("sched", "sched_switch"): [
        _f("prev_comm", "char", 8, 16, False, 16), _f("prev_pid", "pid_t", 24, 4, True),
        _f("prev_prio", "int", 28, 4, True), _f("prev_state", "long", 32, 8, True),
        _f("next_comm", "char", 40, 16, False, 16), _f("next_pid", "pid_t", 56, 4, True),
        _f("next_prio", "int", 60, 4, True)],
    ("sched", "sched_process_exec"): [
        _f("filename", "__data_loc char[]", 8, 4, True, 0, True), _f("pid", "pid_t", 12, 4, True),
        _f("old_pid", "pid_t", 16, 4, True)],
}


class FakeKernel:
    """semantic.kinfo.KernelInfo over the table above."""

    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        return sorted(k for k in TRACEPOINTS
                      if fnmatch.fnmatchcase(k[0], category) and fnmatch.fnmatchcase(k[1], name))

    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        return TRACEPOINTS.get((category, name), [])

    def kernel_lacks(self, provider: str) -> str | None:
        return "kprobes are not supported by this kernel" if provider.startswith("kprobe") else None


KERNEL = FakeKernel()


def diagnostics(source: str, params=(), unsafe: bool = False) -> str:
    """What the front end prints on stderr: errors, or the warnings of a good program."""
    opts = driver.Options(params=list(params), unsafe=unsafe)
    try:
        analysed = driver.analyse(source, "stdin", KERNEL, opts)
    except DiagnosticError as e:
        return e.diags.render()
    return analysed.diags.render(("WARNING",))


def lower(source: str, params=(), unsafe: bool = True) -> str | None:
    """The whole front end down to verified LLVM IR; None when the program has errors."""
    opts = driver.Options(params=list(params), unsafe=unsafe)
    try:
        analysed = driver.analyse(source, "stdin", KERNEL, opts)
    except DiagnosticError as e:
        assert e.diags.has_errors()
        e.diags.render()
        return None
    analysed.diags.render()
    units = driver.program_units(analysed, KERNEL)
    module = new_module()
    internal = InternalMaps(ringbuf=3, status=4, scratch=5, stacks=dict.fromkeys(range(1025), 6), ncpus=2)
    for unit in units:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, internal, {}, 0,
                list(params)).generate()
    return str(optimise(module))


# ---- diagnostics recorded from bpftrace 0.17 --------------------------------------

def _case(src: str, text: str, params=(), unsafe: bool = False):
    return pytest.param(src, text, params, unsafe, id=src[:60])


CASES = [
    _case('BEGIN { $x = 1 + "a"; }',
     "stdin:1:14-21: ERROR: Type mismatch for '+': comparing 'int64' with 'string[2]'\n"
     'BEGIN { $x = 1 + "a"; }\n'
     '             ~~~~~~~\n'),
    _case('BEGIN { $x = comm == 1; }',
     "stdin:1:14-23: ERROR: Type mismatch for '==': comparing 'string[16]' with 'int64'\n"
     'BEGIN { $x = comm == 1; }\n'
     '             ~~~~~~~~~\n'),
    _case('BEGIN { $x = (1, 2) + 1; }',
     "stdin:1:14-24: ERROR: Type mismatch for '+': comparing '(int64,int64)' with 'int64'\n"
     'BEGIN { $x = (1, 2) + 1; }\n'
     '             ~~~~~~~~~~\n'),
    _case('BEGIN { $x = comm < "a"; }',
     'stdin:1:19-20: ERROR: The < operator can not be used on expressions of types string[16], string[2]\n'
     'BEGIN { $x = comm < "a"; }\n'
     '                  ~\n'),
    _case('BEGIN { $x = comm && comm; }',
     'stdin:1:19-21: ERROR: The && operator can not be used on expressions of types string[16], string[16]\n'
     'BEGIN { $x = comm && comm; }\n'
     '                  ~~\n'),
    _case('BEGIN { if (comm) { } }',
     'stdin:1:1-1: ERROR: Invalid condition in if(): string\n'
     'BEGIN { if (comm) { } }\n'
     '\n'),
    _case('BEGIN { $x = comm ? 1 : 2; }',
     'stdin:1:14-26: ERROR: Invalid condition in ternary: string\n'
     'BEGIN { $x = comm ? 1 : 2; }\n'
     '             ~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = 1 ? 1 : "a"; }',
     "stdin:1:14-25: ERROR: Ternary operator must return the same type: have 'integer' and 'string'\n"
     'BEGIN { $x = 1 ? 1 : "a"; }\n'
     '             ~~~~~~~~~~~\n'),
    _case('BEGIN { $x = 1 ? (1, 2) : (3, 4); }',
     'stdin:1:14-33: ERROR: Ternary return type unsupported tuple\n'
     'BEGIN { $x = 1 ? (1, 2) : (3, 4); }\n'
     '             ~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = comm && 1; }',
     "stdin:1:14-23: ERROR: Type mismatch for '&&': comparing 'string[16]' with 'int64'\n"
     'BEGIN { $x = comm && 1; }\n'
     '             ~~~~~~~~~\n'),
    _case('BEGIN { $x = $y; }',
     'stdin:1:14-16: ERROR: Undefined or undeclared variable: $y\n'
     'BEGIN { $x = $y; }\n'
     '             ~~\n'),
    _case('BEGIN { @x = @y; }',
     'stdin:1:14-16: ERROR: Undefined map: @y\n'
     'BEGIN { @x = @y; }\n'
     '             ~~\n'
     'stdin:1:9-11: ERROR: Undefined map: @x\n'
     'BEGIN { @x = @y; }\n'
     '        ~~\n'
     'stdin:1:14-16: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { @x = @y; }\n'
     '             ~~\n'),
    _case('BEGIN { print(@y); }',
     'stdin:1:9-17: ERROR: Undefined map: @y\n'
     'BEGIN { print(@y); }\n'
     '        ~~~~~~~~\n'),
    _case('BEGIN { $x = 1; $x = "a"; }',
     "stdin:1:20-21: ERROR: Type mismatch for $x: trying to assign value of type 'string[2]' when variable already contains a value of type 'int64'\n"
     'BEGIN { $x = 1; $x = "a"; }\n'
     '                   ~\n'),
    _case('BEGIN { @x[1] = 1; @x["a"] = 1; }',
     'stdin:1:20-27: ERROR: Argument mismatch for @x: trying to access with arguments: [string[2]] when map expects arguments: [unsigned int64]\n'
     'BEGIN { @x[1] = 1; @x["a"] = 1; }\n'
     '                   ~~~~~~~\n'),
    _case('BEGIN { @x[1] = 1; @x[1,2] = 1; }',
     'stdin:1:20-27: ERROR: Argument mismatch for @x: trying to access with arguments: [unsigned int64, unsigned int64] when map expects arguments: [unsigned int64]\n'
     'BEGIN { @x[1] = 1; @x[1,2] = 1; }\n'
     '                   ~~~~~~~\n'),
    _case('BEGIN { @x = 1; @x[1] = 2; }',
     'stdin:1:17-22: ERROR: Argument mismatch for @x: trying to access with arguments: [unsigned int64] when map expects arguments: []\n'
     'BEGIN { @x = 1; @x[1] = 2; }\n'
     '                ~~~~~\n'),
    _case('BEGIN { @x[comm] = 1; @x[pid] = 2; }',
     'stdin:1:23-30: ERROR: Argument mismatch for @x: trying to access with arguments: [unsigned int64] when map expects arguments: [string[16]]\n'
     'BEGIN { @x[comm] = 1; @x[pid] = 2; }\n'
     '                      ~~~~~~~\n'),
    _case('BEGIN { @x = count(1); }',
     'stdin:1:14-22: ERROR: count() requires no arguments (1 provided)\n'
     'BEGIN { @x = count(1); }\n'
     '             ~~~~~~~~\n'),
    _case('BEGIN { @x = hist(); }',
     'stdin:1:14-20: ERROR: hist() requires one argument (0 provided)\n'
     'BEGIN { @x = hist(); }\n'
     '             ~~~~~~\n'),
    _case('BEGIN { @x = lhist(1, 2); }',
     'stdin:1:14-25: ERROR: lhist() requires 4 arguments (2 provided)\n'
     'BEGIN { @x = lhist(1, 2); }\n'
     '             ~~~~~~~~~~~\n'),
    _case('BEGIN { @x = sum("a"); }',
     'stdin:1:14-22: ERROR: sum() only supports integer arguments (string provided)\n'
     'BEGIN { @x = sum("a"); }\n'
     '             ~~~~~~~~\n'),
    _case('BEGIN { $x = count(); }',
     'stdin:1:14-21: ERROR: count() should be directly assigned to a map\n'
     'BEGIN { $x = count(); }\n'
     '             ~~~~~~~\n'),
    _case('BEGIN { count(); }',
     'stdin:1:9-16: ERROR: count() should be directly assigned to a map\n'
     'BEGIN { count(); }\n'
     '        ~~~~~~~\n'),
    _case('BEGIN { @x = 1 + count(); }',
     'stdin:1:18-25: ERROR: count() should be directly assigned to a map\n'
     'BEGIN { @x = 1 + count(); }\n'
     '                 ~~~~~~~\n'),
    _case('BEGIN { printf("%d\\n"); }',
     'stdin:1:9-23: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { printf("%d\\n"); }\n'
     '        ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf("%d\\n", 1, 2); }',
     'stdin:1:9-29: ERROR: printf: Too many arguments for format string (2 supplied, 1 expected)\n'
     'BEGIN { printf("%d\\n", 1, 2); }\n'
     '        ~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf("%s\\n", 1); }',
     'stdin:1:9-26: ERROR: printf: %s specifier expects a value of type string (integer supplied)\n'
     'BEGIN { printf("%s\\n", 1); }\n'
     '        ~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf("%d\\n", "a"); }',
     'stdin:1:9-28: ERROR: printf: %d specifier expects a value of type integer (string supplied)\n'
     'BEGIN { printf("%d\\n", "a"); }\n'
     '        ~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf("%d %s\\n", 1, 2); }',
     'stdin:1:9-32: ERROR: printf: %s specifier expects a value of type string (integer supplied)\n'
     'BEGIN { printf("%d %s\\n", 1, 2); }\n'
     '        ~~~~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf("%z\\n", 1); }',
     'stdin:1:9-26: ERROR: printf: Too many arguments for format string (1 supplied, 0 expected)\n'
     'BEGIN { printf("%z\\n", 1); }\n'
     '        ~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { printf(1); }',
     'stdin:1:9-18: ERROR: printf() expects a string literal (integer provided)\n'
     'BEGIN { printf(1); }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { $x = printf("a"); }',
     'stdin:1:14-25: ERROR: printf() should not be used in an assignment or as a map key\n'
     'BEGIN { $x = printf("a"); }\n'
     '             ~~~~~~~~~~~\n'),
    _case('BEGIN { system("ls"); }',
     'stdin:1:9-21: ERROR: system() is an unsafe function being used in safe mode\n'
     'BEGIN { system("ls"); }\n'
     '        ~~~~~~~~~~~~\n'),
    _case('BEGIN { signal(9); }',
     'stdin:1:9-18: ERROR: signal() is an unsafe function being used in safe mode\n'
     'BEGIN { signal(9); }\n'
     '        ~~~~~~~~~\n'
     'stdin:1:9-18: ERROR: signal can not be used with "BEGIN" probes\n'
     'BEGIN { signal(9); }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { signal("SIGFOO"); }',
     'stdin:1:9-25: ERROR: signal() is an unsafe function being used in safe mode\n'
     'BEGIN { signal("SIGFOO"); }\n'
     '        ~~~~~~~~~~~~~~~~\n'
     'stdin:1:9-25: ERROR: signal can not be used with "BEGIN" probes\n'
     'BEGIN { signal("SIGFOO"); }\n'
     '        ~~~~~~~~~~~~~~~~\n'
     'stdin:1:9-25: ERROR: SIGFOO is not a valid signal\n'
     'BEGIN { signal("SIGFOO"); }\n'
     '        ~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { signal("KILL"); }',
     'stdin:1:9-23: ERROR: signal can not be used with "BEGIN" probes\n'
     'BEGIN { signal("KILL"); }\n'
     '        ~~~~~~~~~~~~~~\n', unsafe=True),
    _case('tracepoint:syscalls:sys_enter_openat { signal(0); }',
     'stdin:1:40-49: ERROR: 0 is not a valid signal, allowed range: [1,64]\n'
     'tracepoint:syscalls:sys_enter_openat { signal(0); }\n'
     '                                       ~~~~~~~~~\n', unsafe=True),
    _case('tracepoint:syscalls:sys_enter_openat { signal("sigfoo"); }',
     'stdin:1:40-56: ERROR: sigfoo is not a valid signal\n'
     'tracepoint:syscalls:sys_enter_openat { signal("sigfoo"); }\n'
     '                                       ~~~~~~~~~~~~~~~~\n', unsafe=True),
    _case('tracepoint:syscalls:sys_enter_openat { signal(comm); }',
     'stdin:1:40-52: ERROR: signal only accepts string literals or integers\n'
     'tracepoint:syscalls:sys_enter_openat { signal(comm); }\n'
     '                                       ~~~~~~~~~~~~\n', unsafe=True),
    _case('BEGIN { foo(); }',
     'stdin:1:9-12: ERROR: Unknown function: foo\n'
     'BEGIN { foo(); }\n'
     '        ~~~\n'),
    _case('BEGIN { $x = foo; }',
     "stdin:1:14-17: ERROR: Unknown identifier: 'foo'\n"
     'BEGIN { $x = foo; }\n'
     '             ~~~\n'),
    _case('BEGIN { $x = pid(); }',
     'stdin:1:14-17: ERROR: Unknown function: pid\n'
     'BEGIN { $x = pid(); }\n'
     '             ~~~\n'),
    _case('BEGIN { $x = args->foo; }',
     'stdin:1:14-18: ERROR: The args builtin can only be used with tracepoint/kfunc/uprobeprobes (special used here)\n'
     'BEGIN { $x = args->foo; }\n'
     '             ~~~~\n'),
    _case('BEGIN { $x = arg0; }',
     "stdin:1:14-18: ERROR: The arg0 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes\n"
     'BEGIN { $x = arg0; }\n'
     '             ~~~~\n'),
    _case('BEGIN { $x = arg9; }',
     "stdin:1:14-18: ERROR: The arg9 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes\n"
     'BEGIN { $x = arg9; }\n'
     '             ~~~~\n'
     "stdin:1:14-18: ERROR: x86_64 doesn't support arg9\n"
     'BEGIN { $x = arg9; }\n'
     '             ~~~~\n'),
    _case('BEGIN { $x = retval; }',
     "stdin:1:14-20: ERROR: The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes\n"
     'BEGIN { $x = retval; }\n'
     '             ~~~~~~\n'),
    _case('BEGIN { $x = func; }',
     "stdin:1:14-18: ERROR: The func builtin can not be used with 'BEGIN' probes\n"
     'BEGIN { $x = func; }\n'
     '             ~~~~\n'),
    _case('BEGIN { $x = cpid; }',
     'stdin:1:14-18: ERROR: cpid cannot be used without child command\n'
     'BEGIN { $x = cpid; }\n'
     '             ~~~~\n'),
    _case('tracepoint:syscalls:sys_enter_openat { $x = args->nosuch; }',
     "stdin:1:45-57: ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_openat' does not contain a field named 'nosuch'\n"
     'tracepoint:syscalls:sys_enter_openat { $x = args->nosuch; }\n'
     '                                            ~~~~~~~~~~~~\n'),
    _case('tracepoint:syscalls:sys_enter_openat { $x = retval; }',
     "stdin:1:45-51: ERROR: The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes (try to use args->ret instead)\n"
     'tracepoint:syscalls:sys_enter_openat { $x = retval; }\n'
     '                                            ~~~~~~\n'),
    _case('tracepoint:syscalls:sys_enter_openat { $x = ctx; }',
     'stdin:1:45-48: ERROR: Use args instead of ctx in tracepoint\n'
     'tracepoint:syscalls:sys_enter_openat { $x = ctx; }\n'
     '                                            ~~~\n'),
    _case('tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_enter_read { $x = args->fd; }',
     "stdin:1:80-88: ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_openat' does not contain a field named 'fd'\n"
     'tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_enter_read { $x = args->fd; }\n'
     '                                                                               ~~~~~~~~\n'),
    _case('BEGIN { exit(1); }',
     'stdin:1:9-16: ERROR: exit() requires no arguments (1 provided)\n'
     'BEGIN { exit(1); }\n'
     '        ~~~~~~~\n'),
    _case('BEGIN { $x = str(); }',
     'stdin:1:14-19: ERROR: str() requires at least one argument (0 provided)\n'
     'BEGIN { $x = str(); }\n'
     '             ~~~~~\n'),
    _case('BEGIN { $x = str(1, 2, 3); }',
     'stdin:1:14-26: ERROR: str() takes up to 2 arguments (3 provided)\n'
     'BEGIN { $x = str(1, 2, 3); }\n'
     '             ~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = str(comm); }',
     'stdin:1:14-23: ERROR: str() expects an integer or a pointer type as first argument (string[16] provided)\n'
     'BEGIN { $x = str(comm); }\n'
     '             ~~~~~~~~~\n'),
    _case('BEGIN { $x = strncmp("a", "b"); }',
     'stdin:1:14-31: ERROR: strncmp() requires 3 arguments (2 provided)\n'
     'BEGIN { $x = strncmp("a", "b"); }\n'
     '             ~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = strncmp("a", 1, 1); }',
     'stdin:1:14-32: ERROR: strncmp() only supports string arguments (integer provided)\n'
     'BEGIN { $x = strncmp("a", 1, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = strncmp("a", "b", -1); }',
     'stdin:1:14-35: ERROR: Builtin strncmp requires a non-negative size\n'
     'BEGIN { $x = strncmp("a", "b", -1); }\n'
     '             ~~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = strncmp("a", "b", nsecs); }',
     'stdin:1:14-38: ERROR: strncmp() expects a integer literal (integer provided)\n'
     'BEGIN { $x = strncmp("a", "b", nsecs); }\n'
     '             ~~~~~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { delete(@x); }',
     'stdin:1:9-18: ERROR: Undefined map: @x\n'
     'BEGIN { delete(@x); }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { @x[1] = 1; delete(@x[1], 1); }',
     'stdin:1:20-36: ERROR: delete() requires one argument (2 provided)\n'
     'BEGIN { @x[1] = 1; delete(@x[1], 1); }\n'
     '                   ~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { delete(1); }',
     'stdin:1:9-18: ERROR: delete() expects a map to be provided\n'
     'BEGIN { delete(1); }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { clear(1); }',
     'stdin:1:9-17: ERROR: clear() expects a map to be provided\n'
     'BEGIN { clear(1); }\n'
     '        ~~~~~~~~\n'),
    _case('BEGIN { @x = 1; clear(@x[1]); }',
     'stdin:1:17-29: ERROR: The map passed to clear() should not be indexed by a key\n'
     'BEGIN { @x = 1; clear(@x[1]); }\n'
     '                ~~~~~~~~~~~~\n'),
    _case('BEGIN { @x[1] = 1; print(@x[1]); }',
     'stdin:1:20-32: ERROR: The map passed to print() should not be indexed by a key\n'
     'BEGIN { @x[1] = 1; print(@x[1]); }\n'
     '                   ~~~~~~~~~~~~\n'),
    _case('BEGIN { @x[1] = 1; print(@x, 1, 2, 3); }',
     'stdin:1:20-38: ERROR: print() takes up to 3 arguments (4 provided)\n'
     'BEGIN { @x[1] = 1; print(@x, 1, 2, 3); }\n'
     '                   ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { print(1, 2); }',
     'stdin:1:9-20: ERROR: Non-map print() only takes 1 argument, 2 found\n'
     'BEGIN { print(1, 2); }\n'
     '        ~~~~~~~~~~~\n'),
    _case('BEGIN { @x = 1; print(@x, "a"); }',
     'stdin:1:17-31: ERROR: print() expects a integer literal (string provided)\n'
     'BEGIN { @x = 1; print(@x, "a"); }\n'
     '                ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = 1; zero(@x, 1); }',
     'stdin:1:17-28: ERROR: zero() requires one argument (2 provided)\n'
     'BEGIN { @x = 1; zero(@x, 1); }\n'
     '                ~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (1, 2); $y = $x.2; }',
     'stdin:1:27-31: ERROR: Invalid tuple index: 2. Found 2 elements in tuple.\n'
     'BEGIN { $x = (1, 2); $y = $x.2; }\n'
     '                          ~~~~\n'
     'stdin:1:25-26: ERROR: Undefined variable: $y\n'
     'BEGIN { $x = (1, 2); $y = $x.2; }\n'
     '                        ~\n'
     'stdin:1:27-31: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { $x = (1, 2); $y = $x.2; }\n'
     '                          ~~~~\n'),
    _case('BEGIN { $x = (1, 2); $x.0 = 1; }',
     'stdin:1:22-30: ERROR: Tuples are immutable once created. Consider creating a new tuple and assigning it instead.\n'
     'BEGIN { $x = (1, 2); $x.0 = 1; }\n'
     '                     ~~~~~~~~\n'),
    _case('BEGIN { $x = 1; $y = $x.0; }',
     "stdin:1:22-26: ERROR: Can not access index 0 on expression of type 'int64'\n"
     'BEGIN { $x = 1; $y = $x.0; }\n'
     '                     ~~~~\n'
     'stdin:1:20-21: ERROR: Undefined variable: $y\n'
     'BEGIN { $x = 1; $y = $x.0; }\n'
     '                   ~\n'
     'stdin:1:22-26: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { $x = 1; $y = $x.0; }\n'
     '                     ~~~~\n'),
    _case('BEGIN { $x = 1; $y = $x.foo; }',
     "stdin:1:22-25: ERROR: Can not access field 'foo' on expression of type 'int64'\n"
     'BEGIN { $x = 1; $y = $x.foo; }\n'
     '                     ~~~\n'
     'stdin:1:20-21: ERROR: Undefined variable: $y\n'
     'BEGIN { $x = 1; $y = $x.foo; }\n'
     '                   ~\n'
     'stdin:1:22-25: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { $x = 1; $y = $x.foo; }\n'
     '                     ~~~\n'),
    _case('BEGIN { $x = (1, 2); $y = $x.foo; }',
     'stdin:1:27-30: ERROR: Tuples must be indexed with a constant and non-negative integer\n'
     'BEGIN { $x = (1, 2); $y = $x.foo; }\n'
     '                          ~~~\n'),
    _case('BEGIN { $x = 1; $y = $x[0]; }',
     'stdin:1:22-27: ERROR: The array index operator [] can only be used on arrays and pointers, found integer.\n'
     'BEGIN { $x = 1; $y = $x[0]; }\n'
     '                     ~~~~~\n'
     'stdin:1:20-21: ERROR: Undefined variable: $y\n'
     'BEGIN { $x = 1; $y = $x[0]; }\n'
     '                   ~\n'
     'stdin:1:22-27: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { $x = 1; $y = $x[0]; }\n'
     '                     ~~~~~\n'),
    _case('BEGIN { $x = (1, 2); $x = (1, "a"); }',
     'stdin:1:25-26: ERROR: Tuple type mismatch: (int64,int64) != (int64,string[2]).\n'
     'BEGIN { $x = (1, 2); $x = (1, "a"); }\n'
     '                        ~\n'),
    _case('BEGIN { @x = (1, "a"); @x = ((uint64)1, "b"); }',
     'stdin:1:27-28: ERROR: Tuple type mismatch: (int64,string[2]) != (unsigned int64,string[2]).\n'
     'BEGIN { @x = (1, "a"); @x = ((uint64)1, "b"); }\n'
     '                          ~\n'),
    _case('BEGIN { @x = (1, 2); @y[@x] = 1; }',
     'stdin:1:22-28: ERROR: tuple cannot be used as a map key. Try a multi-key associative array instead (eg `@map[$1, $2] = ...)`.\n'
     'BEGIN { @x = (1, 2); @y[@x] = 1; }\n'
     '                     ~~~~~~\n'),
    _case('BEGIN { unroll(0) { } }',
     'stdin:1:9-18: ERROR: unroll minimum value is 1\n'
     'BEGIN { unroll(0) { } }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { unroll(101) { } }',
     'stdin:1:9-20: ERROR: unroll maximum value is 100\n'
     'BEGIN { unroll(101) { } }\n'
     '        ~~~~~~~~~~~\n'),
    _case('BEGIN { unroll(nsecs) { } }',
     'stdin:1:9-21: ERROR: syntax error, unexpected builtin, expecting $# or - or positional parameter or integer\n'
     'BEGIN { unroll(nsecs) { } }\n'
     '        ~~~~~~~~~~~~\n'),
    _case('BEGIN { unroll(1+1) { } }',
     'stdin:1:9-18: ERROR: syntax error, unexpected +, expecting )\n'
     'BEGIN { unroll(1+1) { } }\n'
     '        ~~~~~~~~~\n'),
    _case('BEGIN { break; }',
     'stdin:1:9-14: ERROR: break used outside of a loop\n'
     'BEGIN { break; }\n'
     '        ~~~~~\n'),
    _case('BEGIN { continue; }',
     'stdin:1:9-17: ERROR: continue used outside of a loop\n'
     'BEGIN { continue; }\n'
     '        ~~~~~~~~\n'),
    _case('BEGIN { $x = (int8)"a"; }',
     'stdin:1:14-20: ERROR: Casts are not supported for type: "string[2]"\n'
     'BEGIN { $x = (int8)"a"; }\n'
     '             ~~~~~~\n'),
    _case('BEGIN { $x = (foo)1; }',
     "stdin:1:14-19: ERROR: Unknown struct/union: 'foo'\n"
     'BEGIN { $x = (foo)1; }\n'
     '             ~~~~~\n'),
    _case('BEGIN { @x = count(); @x++; }',
     "stdin:1:23-27: ERROR: The ++ operator can not be used on expressions of type 'count'\n"
     'BEGIN { @x = count(); @x++; }\n'
     '                      ~~~~\n'),
    _case('BEGIN { @x = count(); $y = @x + 1; }',
     "stdin:1:28-34: ERROR: Type mismatch for '+': comparing 'count' with 'int64'\n"
     'BEGIN { @x = count(); $y = @x + 1; }\n'
     '                           ~~~~~~\n'),
    _case('BEGIN { @x = sum(5); if (@x > 1) { } }',
     "stdin:1:25-32: ERROR: Type mismatch for '>': comparing 'sum' with 'int64'\n"
     'BEGIN { @x = sum(5); if (@x > 1) { } }\n'
     '                        ~~~~~~~\n'),
    _case('BEGIN { $x++; }',
     'stdin:1:9-11: ERROR: Undefined or undeclared variable: $x\n'
     'BEGIN { $x++; }\n'
     '        ~~\n'),
    _case('BEGIN { comm++; }',
     'stdin:1:9-13: ERROR: The ++ operator must be applied to a map or variable\n'
     'BEGIN { comm++; }\n'
     '        ~~~~\n'),
    _case('BEGIN { $x = "a"; $x++; }',
     "stdin:1:19-23: ERROR: The ++ operator can not be used on expressions of type 'string[2]'\n"
     'BEGIN { $x = "a"; $x++; }\n'
     '                  ~~~~\n'),
    _case('BEGIN { @x = lhist(1, -1, 10, 1); }',
     'stdin:1:14-33: ERROR: lhist() min must be non-negative (provided min -1)\n'
     'BEGIN { @x = lhist(1, -1, 10, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = lhist(1, 10, 1, 1); }',
     'stdin:1:14-32: ERROR: lhist() min must be less than max (provided min 10 and max 1)\n'
     'BEGIN { @x = lhist(1, 10, 1, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~\n'
     'stdin:1:14-32: ERROR: lhist() step is too large for the given range (provided step 1 for range -9)\n'
     'BEGIN { @x = lhist(1, 10, 1, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = lhist(1, 0, 10, 0); }',
     'stdin:1:14-32: ERROR: lhist() step must be >= 1 (0 provided)\n'
     'BEGIN { @x = lhist(1, 0, 10, 0); }\n'
     '             ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = lhist(1, 0, 10000, 1); }',
     'stdin:1:14-35: ERROR: lhist() too many buckets, must be <= 1000 (would need 10000)\n'
     'BEGIN { @x = lhist(1, 0, 10000, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = lhist(1, $x, 10, 1); }',
     'stdin:1:23-25: ERROR: Undefined or undeclared variable: $x\n'
     'BEGIN { @x = lhist(1, $x, 10, 1); }\n'
     '                      ~~\n'
     'stdin:1:14-33: ERROR: lhist() expects a integer literal (none provided)\n'
     'BEGIN { @x = lhist(1, $x, 10, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = lhist("a", 0, 10, 1); }',
     'stdin:1:14-34: ERROR: lhist() only supports integer arguments (string provided)\n'
     'BEGIN { @x = lhist("a", 0, 10, 1); }\n'
     '             ~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { time(1); }',
     'stdin:1:9-16: ERROR: time() expects a string literal (integer provided)\n'
     'BEGIN { time(1); }\n'
     '        ~~~~~~~\n'),
    _case('BEGIN { time("%H", 1); }',
     'stdin:1:9-22: ERROR: time() takes up to one argument (2 provided)\n'
     'BEGIN { time("%H", 1); }\n'
     '        ~~~~~~~~~~~~~\n'),
    _case('BEGIN { join(1, 2); }',
     'stdin:1:9-19: ERROR: join() expects a string literal (integer provided)\n'
     'BEGIN { join(1, 2); }\n'
     '        ~~~~~~~~~~\n'),
    _case('BEGIN { join(1, "a", 3); }',
     'stdin:1:9-24: ERROR: join() takes up to 2 arguments (3 provided)\n'
     'BEGIN { join(1, "a", 3); }\n'
     '        ~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = kstack(3, 4); }',
     'stdin:1:14-26: ERROR: kstack() expects a stack mode literal (integer provided)\n'
     'BEGIN { $x = kstack(3, 4); }\n'
     '             ~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = kstack(perf, 2000); }',
     "stdin:1:14-32: ERROR: kstack([int limit]): limit shouldn't exceed 1024, 2000 given\n"
     'BEGIN { $x = kstack(perf, 2000); }\n'
     '             ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = ustack(nsecs); }',
     'stdin:1:14-27: ERROR: ustack() expects a integer literal (integer provided)\n'
     'BEGIN { $x = ustack(nsecs); }\n'
     '             ~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = buf(1); }',
     'stdin:1:14-20: ERROR: buf() expects a length argument for non-array type integer\n'
     'BEGIN { $x = buf(1); }\n'
     '             ~~~~~~\n'),
    _case('BEGIN { $x = ntop("abc"); }',
     ""),
    _case('BEGIN { $x = pton("abc"); }',
     'stdin:1:14-25: ERROR: pton() expects an string argument of an IPv4/IPv6 address, got abc\n'
     'BEGIN { $x = pton("abc"); }\n'
     '             ~~~~~~~~~~~\n'),
    _case('BEGIN { $x = pton("1.2.3.400"); }',
     'stdin:1:14-31: ERROR: pton() expects a valid IPv4/IPv6 address, got 1.2.3.400\n'
     'BEGIN { $x = pton("1.2.3.400"); }\n'
     '             ~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = ksym("a"); }',
     'stdin:1:14-23: ERROR: ksym() expects an integer or pointer argument\n'
     'BEGIN { $x = ksym("a"); }\n'
     '             ~~~~~~~~~\n'),
    _case('BEGIN { $x = *comm; }',
     "stdin:1:14-15: ERROR: The dereference operator can not be used on expressions of type 'string[16]'\n"
     'BEGIN { $x = *comm; }\n'
     '             ~\n'
     'stdin:1:12-13: ERROR: Undefined variable: $x\n'
     'BEGIN { $x = *comm; }\n'
     '           ~\n'
     'stdin:1:14-15: ERROR: Invalid expression for assignment: none\n'
     'BEGIN { $x = *comm; }\n'
     '             ~\n'),
    _case('BEGIN { $x = !comm; }',
     "stdin:1:14-15: ERROR: The ! operator can not be used on expressions of type 'string[16]'\n"
     'BEGIN { $x = !comm; }\n'
     '             ~\n'),
    _case('BEGIN { $x = -comm; }',
     "stdin:1:14-15: ERROR: The - operator can not be used on expressions of type 'string[16]'\n"
     'BEGIN { $x = -comm; }\n'
     '             ~\n'),
    _case('BEGIN { $x = ~"a"; }',
     "stdin:1:14-15: ERROR: The ~ operator can not be used on expressions of type 'string[2]'\n"
     'BEGIN { $x = ~"a"; }\n'
     '             ~\n'),
    _case('BEGIN { $x = 1; $y = $1; }',
     ""),
    _case('BEGIN { printf("%s\\n", $1); }',
     'stdin:1:9-27: ERROR: printf: %s specifier expects a value of type string (integer supplied)\n'
     'BEGIN { printf("%s\\n", $1); }\n'
     '        ~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = str($#); }',
     'stdin:1:14-20: ERROR: use $#, not str($#)\n'
     'BEGIN { $x = str($#); }\n'
     '             ~~~~~~\n'),
    _case('BEGIN { exit(); } BEGIN { exit(); }',
     'stdin:1:18-24: ERROR: More than one BEGIN probe defined\n'
     'BEGIN { exit(); } BEGIN { exit(); }\n'
     '                 ~~~~~~\n'),
    _case('END { exit(); } END { exit(); }',
     'stdin:1:16-20: ERROR: More than one END probe defined\n'
     'END { exit(); } END { exit(); }\n'
     '               ~~~~\n'),
    _case('BEGIN /comm/ { exit(); }',
     'stdin:1:7-13: ERROR: Invalid type for predicate: string\n'
     'BEGIN /comm/ { exit(); }\n'
     '      ~~~~~~\n'),
    _case('BEGIN { $x = "0123456789012345678901234567890123456789012345678901234567890123456789"; }',
     'stdin:1:14-86: ERROR: String is too long (over 64 bytes): 0123456789012345678901234567890123456789012345678901234567890123456789\n'
     'BEGIN { $x = "0123456789012345678901234567890123456789012345678901234567890123456789"; }\n'
     '             ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }',
     "stdin:1:42-43: WARNING: arithmetic on integers of different signs: 'int64' and 'unsigned int32' can lead to undefined behavior\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                         ~\n'
     "stdin:1:56-57: WARNING: comparison of integers of different signs: 'int64' and 'unsigned int32' can lead to undefined behavior\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                       ~\n'
     "stdin:1:70-71: WARNING: signed operands for '/' can lead to undefined behavior (cast to unsigned to silence warning)\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                                     ~\n'
     "stdin:1:83-84: WARNING: signed operands for '%' can lead to undefined behavior (cast to unsigned to silence warning)\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                                                  ~\n'
     "stdin:1:97-98: WARNING: arithmetic on integers of different signs: 'int64' and 'unsigned int32' can lead to undefined behavior\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                                                                ~\n'
     "stdin:1:111-112: WARNING: arithmetic on integers of different signs: 'int64' and 'unsigned int32' can lead to undefined behavior\n"
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                                                                              ~\n'
     'stdin:1:117-131: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $a = -1; $b = (uint32)2; $c = $a + $b; $d = $a < $b; $e = $a / 2; $f = 10 % $a; $g = $a * $b; $h = $a - $b; printf("%d\\n"); }\n'
     '                                                                                                                    ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = comm == "0123456789abcdefghij"; printf("%d\\n"); }',
     'stdin:1:14-44: WARNING: The literal is longer than the variable string (size=16), condition will always be false\n'
     'BEGIN { $x = comm == "0123456789abcdefghij"; printf("%d\\n"); }\n'
     '             ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n'
     'stdin:1:46-60: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = comm == "0123456789abcdefghij"; printf("%d\\n"); }\n'
     '                                             ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = 5 / $1; $y = $1 % 3; $z = 2 / 1; printf("%d\\n"); }',
     'stdin:1:47-61: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = 5 / $1; $y = $1 % 3; $z = 2 / 1; printf("%d\\n"); }\n'
     '                                              ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (uint32)5 > -1; $y = 1 < (uint8)3; printf("%d\\n"); }',
     "stdin:1:24-25: WARNING: comparison of integers of different signs: 'unsigned int32' and 'int64' can lead to undefined behavior\n"
     'BEGIN { $x = (uint32)5 > -1; $y = 1 < (uint8)3; printf("%d\\n"); }\n'
     '                       ~\n'
     'stdin:1:49-63: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = (uint32)5 > -1; $y = 1 < (uint8)3; printf("%d\\n"); }\n'
     '                                                ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { if (1) { exit(); return; printf("x"); } printf("%d\\n"); }',
     "stdin:1:26-32: WARNING: All code after a 'return' is unreachable.\n"
     'BEGIN { if (1) { exit(); return; printf("x"); } printf("%d\\n"); }\n'
     '                         ~~~~~~\n'
     'stdin:1:49-63: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { if (1) { exit(); return; printf("x"); } printf("%d\\n"); }\n'
     '                                                ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $i = 0; while ($i < 3) { $i++; break; $i++; } printf("%d\\n"); }',
     "stdin:1:40-45: WARNING: All code after a 'break' is unreachable.\n"
     'BEGIN { $i = 0; while ($i < 3) { $i++; break; $i++; } printf("%d\\n"); }\n'
     '                                       ~~~~~\n'
     'stdin:1:55-69: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $i = 0; while ($i < 3) { $i++; break; $i++; } printf("%d\\n"); }\n'
     '                                                      ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $i = 0; while ($i < 3) { print(@x); $i++; } @x = 1; printf("%d\\n"); }',
     "stdin:1:34-43: WARNING: Due to it's asynchronous nature using 'print()' in a loop can lead to unexpected behavior. The map will likely be updated before the runtime can 'print' it.\n"
     'BEGIN { $i = 0; while ($i < 3) { print(@x); $i++; } @x = 1; printf("%d\\n"); }\n'
     '                                 ~~~~~~~~~\n'
     'stdin:1:61-75: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $i = 0; while ($i < 3) { print(@x); $i++; } @x = 1; printf("%d\\n"); }\n'
     '                                                            ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @x = stats(1); print(@x, 2); printf("%d\\n"); }',
     "stdin:1:24-36: WARNING: print()'s top and div arguments are ignored when used on stats() maps.\n"
     'BEGIN { @x = stats(1); print(@x, 2); printf("%d\\n"); }\n'
     '                       ~~~~~~~~~~~~\n'
     'stdin:1:38-52: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { @x = stats(1); print(@x, 2); printf("%d\\n"); }\n'
     '                                     ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { @b = buf("abc", 3); @b = buf("ab", 2); }',
     'stdin:1:32-33: ERROR: Buffer size mismatch: 4 != 3.\n'
     'BEGIN { @b = buf("abc", 3); @b = buf("ab", 2); }\n'
     '                               ~\n'),
    _case('BEGIN { $x = buf(comm, 1000); printf("%d\\n"); }',
     'stdin:1:14-29: WARNING: buf() length is too long and will be shortened to 64 bytes (see BPFTRACE_STRLEN)\n'
     'BEGIN { $x = buf(comm, 1000); printf("%d\\n"); }\n'
     '             ~~~~~~~~~~~~~~~\n'
     'stdin:1:31-45: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = buf(comm, 1000); printf("%d\\n"); }\n'
     '                              ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = buf(comm, -1); }',
     'stdin:1:14-27: ERROR: buf cannot use negative length (-1)\n'
     'BEGIN { $x = buf(comm, -1); }\n'
     '             ~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = buf(comm, nsecs); printf("%d\\n"); }',
     'stdin:1:32-46: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = buf(comm, nsecs); printf("%d\\n"); }\n'
     '                               ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (1, "a"); $x = (1, "abc"); @y = (1, "a"); @y = (2, "bcd"); printf("%d\\n"); }',
     'stdin:1:73-87: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = (1, "a"); $x = (1, "abc"); @y = (1, "a"); @y = (2, "bcd"); printf("%d\\n"); }\n'
     '                                                                        ~~~~~~~~~~~~~~\n'),
    _case('tracepoint:syscalls:sys_enter_execve /str(args->filename) == "/bin/echo"/ { printf("%d\\n"); }',
     'stdin:1:59-61: WARNING: Addrspace mismatch\n'
     'tracepoint:syscalls:sys_enter_execve /str(args->filename) == "/bin/echo"/ { printf("%d\\n"); }\n'
     '                                                          ~~\n'
     'stdin:1:77-91: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'tracepoint:syscalls:sys_enter_execve /str(args->filename) == "/bin/echo"/ { printf("%d\\n"); }\n'
     '                                                                            ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = str($1 + 10); }',
     'stdin:1:21-25: ERROR: only addition of a single constant less or equal to the length of $1 (which is 0) is allowed inside str()\n'
     'BEGIN { $x = str($1 + 10); }\n'
     '                    ~~~~\n'),
    _case('BEGIN { $x = str($1 - 1); }',
     'stdin:1:21-24: ERROR: only addition of a single constant less or equal to the length of $1 (which is 0) is allowed inside str()\n'
     'BEGIN { $x = str($1 - 1); }\n'
     '                    ~~~\n'),
    _case('BEGIN { $x = str(nsecs + $1); }',
     'stdin:1:24-28: ERROR: only addition of a single constant less or equal to the length of $1 (which is 0) is allowed inside str()\n'
     'BEGIN { $x = str(nsecs + $1); }\n'
     '                       ~~~~\n'),
    _case('BEGIN { $x = str(1, "a"); }',
     'stdin:1:14-25: ERROR: str() only supports integer arguments (string provided)\n'
     'BEGIN { $x = str(1, "a"); }\n'
     '             ~~~~~~~~~~~\n'),
    _case('BEGIN { print(kstack(perf)); printf("%d\\n"); }',
     'stdin:1:30-44: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { print(kstack(perf)); printf("%d\\n"); }\n'
     '                             ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (uint8*)1; $y = $x + 1; $z = $x - 1; $w = $x == $x; $v = $x * 2; }',
     'stdin:1:74-75: ERROR: The * operator can not be used on expressions of types unsigned int8 *, int64\n'
     'BEGIN { $x = (uint8*)1; $y = $x + 1; $z = $x - 1; $w = $x == $x; $v = $x * 2; }\n'
     '                                                                         ~\n'),
    _case('BEGIN { $x = (uint8*)1; $y = 1 - $x; }',
     'stdin:1:32-33: ERROR: The - operator can not be used on expressions of types int64, unsigned int8 *\n'
     'BEGIN { $x = (uint8*)1; $y = 1 - $x; }\n'
     '                               ~\n'),
    _case('BEGIN { $x = (int32*)1; $y = (uint8*)2; $z = $x == $y; printf("%d\\n"); }',
     "stdin:1:46-54: WARNING: comparison of distinct pointer types ('int32, 'unsigned int8')\n"
     'BEGIN { $x = (int32*)1; $y = (uint8*)2; $z = $x == $y; printf("%d\\n"); }\n'
     '                                             ~~~~~~~~\n'
     'stdin:1:56-70: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = (int32*)1; $y = (uint8*)2; $z = $x == $y; printf("%d\\n"); }\n'
     '                                                       ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (int8**)1; printf("%d\\n"); }',
     'stdin:1:25-39: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = (int8**)1; printf("%d\\n"); }\n'
     '                        ~~~~~~~~~~~~~~\n'),
    _case('BEGIN { $x = (int8)1 + (uint16)2; printf("%d\\n"); }',
     "stdin:1:22-23: WARNING: arithmetic on integers of different signs: 'int8' and 'unsigned int16' can lead to undefined behavior\n"
     'BEGIN { $x = (int8)1 + (uint16)2; printf("%d\\n"); }\n'
     '                     ~\n'
     'stdin:1:35-49: ERROR: printf: Not enough arguments for format string (0 supplied, 1 expected)\n'
     'BEGIN { $x = (int8)1 + (uint16)2; printf("%d\\n"); }\n'
     '                                  ~~~~~~~~~~~~~~\n'),
]


@pytest.mark.parametrize("src,expected,params,unsafe", CASES)
def test_diagnostics_match_bpftrace_017(src, expected, params, unsafe):
    assert diagnostics(src, params, unsafe) == expected


@pytest.mark.parametrize("src,expected", [
    ('BEGIN { $x = $1; }',
     'stdin:1:14-16: ERROR: $1 used numerically but given "abc". Try using str($1).\n'
     'BEGIN { $x = $1; }\n'
     '             ~~\n'),
    ('BEGIN { $x = str($1 + 10); }',
     'stdin:1:21-25: ERROR: only addition of a single constant less or equal to the length of $1 '
     '(which is 3) is allowed inside str()\n'
     'BEGIN { $x = str($1 + 10); }\n'
     '                    ~~~~\n'),
    ('BEGIN { unroll($1) { } }',
     'stdin:1:9-18: ERROR: $1 used numerically but given "abc"\n'
     'BEGIN { unroll($1) { } }\n'
     '        ~~~~~~~~~\n'
     'stdin:1:9-19: ERROR: invalid unroll value\n'
     'BEGIN { unroll($1) { } }\n'
     '        ~~~~~~~~~~\n'),
    ('BEGIN { $x = $2 + 1; $y = str($1); $z = str($1 + 3); unroll($2) { } @ = lhist(1, 0, $2, 1); }',
     ""),
])
def test_positional_parameter_diagnostics(src, expected):
    assert diagnostics(src, ["abc", "5"]) == expected


# ---- where pybpftrace deliberately differs from 0.17 -----------------------------

@pytest.mark.parametrize("src,expected", [
    # 0.17 drops the closing quote of the map's type.
    ('BEGIN { @x = 1; @x = "a"; }',
     "stdin:1:17-19: ERROR: Type mismatch for @x: trying to assign value of type 'string[2]' "
     "when map already contains a value of type 'int64'\n"
     'BEGIN { @x = 1; @x = "a"; }\n'
     '                ~~\n'),
    # 0.17: "() only supports ..." (the function's name is missing).
    ('BEGIN { join("a"); }',
     'stdin:1:9-18: ERROR: join() only supports int or pointer arguments (string provided)\n'
     'BEGIN { join("a"); }\n'
     '        ~~~~~~~~~\n'),
    # 0.17: "strcannot use negative length".
    ('BEGIN { $x = str(1, -1); }',
     'stdin:1:14-24: ERROR: str() cannot use negative length (-1)\n'
     'BEGIN { $x = str(1, -1); }\n'
     '             ~~~~~~~~~~\n'),
    # 0.17 repeats this warning once per analysis pass (ten times).
    ('BEGIN { $b = buf("abc", 3); $b = buf("ab", 2); }',
     'stdin:1:32-33: WARNING: Buffer size mismatch: 4 != 3. The value may contain garbage.\n'
     'BEGIN { $b = buf("abc", 3); $b = buf("ab", 2); }\n'
     '                               ~\n'),
    # 0.17 accepts these and stores garbage (or aborts, for lhist); later versions refuse.
    ('BEGIN { @x = hist(1); @y = @x; }',
     "stdin:1:28-30: ERROR: Map value 'hist' cannot be assigned from one map to another. The "
     "function that returns this type must be called directly e.g. `@a = hist(...);`.\n"
     'BEGIN { @x = hist(1); @y = @x; }\n'
     '                           ~~\n'),
    ('BEGIN { @x = avg(1); $y = @x; }',
     "stdin:1:27-29: ERROR: Map value 'avg' cannot be assigned from one map to another. The "
     "function that returns this type must be called directly e.g. `@a = avg(...);`.\n"
     'BEGIN { @x = avg(1); $y = @x; }\n'
     '                          ~~\n'),
])
def test_deliberate_deviations(src, expected):
    assert diagnostics(src) == expected


@pytest.mark.parametrize("src", [
    # Beyond 0.17: for loops, let, delete(@m, key), tuple equality.
    'BEGIN { @s = 0; for ($i : 0..10) { if ($i == 2) { continue; } if ($i > 5) { break; } @s += $i; } }',
    'BEGIN { let $x: uint8 = 300; let $y; $y = 2; @[$x, $y] = count(); }',
    'BEGIN { @m[1] = 2; delete(@m, 1); delete(@m[1]); }',
    'BEGIN { $t = (1, "a"); @eq = $t == (1, "b"); }',
    # Later bpftrace's raw stack mode (0.17: "Unknown identifier: 'raw'").
    'BEGIN { $x = kstack(raw); @u[ustack(raw, 3)] = count(); }',
    # Later bpftrace's `args.f` on tracepoints (0.17: "Can not access field
    # 'filename' on type '(ctx) struct ... *'. Try dereferencing it first, or using '->'").
    'tracepoint:syscalls:sys_enter_openat { $x = args.filename; }',
])
def test_extensions_are_accepted(src):
    assert diagnostics(src) == ""


# ---- types 0.17's way ----------------------------------------------------------------

def test_tracepoint_field_types_follow_the_c_declarations():
    fields = {f.name: field_type(f) for f in TRACEPOINTS[("syscalls", "sys_enter_openat")]}
    assert fields["dfd"] == Int(32, True)        # `int` in an 8-byte slot: the low 4 bytes
    assert fields["mode"] == Int(16, False)      # umode_t, whatever the format's size
    assert fields["filename"] == Type(Kind.PTR, inner=Int(8, True))
    assert field_type(TRACEPOINTS[("syscalls", "sys_enter_read")][1]) == Int(32, False)  # unsigned int fd
    argv = field_type(TRACEPOINTS[("syscalls", "sys_enter_execve")][2])
    assert describe(argv) == "int8 * *"
    sw = {f.name: field_type(f) for f in TRACEPOINTS[("sched", "sched_switch")]}
    assert sw["prev_comm"] == String(16) and sw["prev_pid"] == Int(32, True)
    args = field_type(TRACEPOINTS[("raw_syscalls", "sys_enter")][1])
    assert describe(args) == "unsigned int64[6]"
    assert field_type(TRACEPOINTS[("sched", "sched_process_exec")][0]) == Int(64, True)


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("12", 12), ("-3", -3), ("0x1f", 31), ("010", 8), (" 7", 7), ("+5", 5),
    ("", None), ("abc", None), ("12abc", None), ("08", None), ("0x", None), ("1e3", None),
    ("99999999999999999999", None),
])
def test_positional_parameters_read_as_strtoll_does(text, value):
    assert c_int(text) == value


def test_map_types_for_the_runtime():
    analysed = driver.analyse(
        'BEGIN { @a[(int8)-1, "xy"] = (uint32)5; @a[2, "xyz"] = 3; @b = count(); '
        '@c[comm] = hist(1); @d = (1, "a"); @d = (2, "abc"); }', "stdin", KERNEL, driver.Options())
    maps = {m.name: m for m in analysed.resources.maps}
    # Integer keys are 64-bit and printed signed, as 0.17 prints them; strings grow.
    assert describe(maps["@a"].key) == "(int64,string[4])"
    assert maps["@a"].value == Int(64, False)
    assert maps["@b"].key is None and maps["@b"].value.kind is Kind.COUNT
    assert describe(maps["@d"].value) == "(int64,string[4])"


# ---- the whole front end never raises ---------------------------------------------

VALID = [
    'BEGIN { @x = 1; $y = "s\\n"; @m[1, comm] = count(); printf("%d %s\\n", pid, comm); exit(); }',
    'BEGIN { $a = 0x10 + 010 - 1_000 * 1e3; $b = $a / 3 % 2 << 1 >> 1 & 7 | 8 ^ 9; '
    '$c = -$a < $b && !($a >= 2) || ~$b != 0; $d = (uint8)$c; $e = (int16)-$d; print(($a, $e)); }',
    'BEGIN { $i = 0; while ($i < 5) { $i++; if ($i == 2) { continue; } else if ($i > 3) { break; } '
    'else { @w[$i] = sum($i); } } unroll(3) { @u++; --@v; } @t = $i ? "yes" : "no"; }',
    'BEGIN { @h = hist(nsecs); @l = lhist(rand, 0, 100, 10); @s = stats(cpu); @a = avg(uid); '
    '@mn = min(gid); @mx = max(elapsed); print(@h, 3, 1); clear(@l); zero(@s); delete(@a); }',
    'BEGIN { @s[str($1)] = count(); printf("%s %d %d\\n", str($2, 3), $#, $3); time("%H:%M\\n"); '
    'cat("/etc/%s", "hostname"); system("true"); exit(); }',
    'tracepoint:syscalls:sys_enter_openat /comm == "cat"/ { @[str(args->filename)] = count(); '
    '@f[args->flags, args->mode] = sum(args->dfd); signal("KILL"); }',
    'tracepoint:syscalls:sys_enter_execve { join(args->argv); join(args->argv, ","); '
    '@b = buf(args->filename, 8); printf("%r %s\\n", @b, probe); }',
    'tracepoint:raw_syscalls:sys_exit { @lat = hist(args->ret); @s = stats(args->ret); '
    '@id[args->id] = lhist(args->ret, 0, 1000, 100); }',
    'tracepoint:sched:sched_switch { @[args->prev_comm, args->next_pid] = count(); } '
    'tracepoint:sched:sched_process_exec { @e[str(args->filename)] = count(); }',
    'tracepoint:raw_syscalls:sys_enter { @a[args->args[0]] = count(); @k[kstack, ustack(perf, 3)] '
    '= count(); @p[probe, username, cgroup] = count(); }',
    'interval:ms:100 { @t = ntop(0x0100007f); @u = ntop(pton("::1")); @k = ksym(1); exit(); } '
    'profile:hz:99 { @c[cpu] = count(); } software:cpu-clock:1000 { @x = strncmp(comm, "a", 2); }',
    'BEGIN { for ($i : 0..4) { @f[$i] = $i; } let $z: int32 = -1; $t = (1, "a"); '
    '@e = $t == (1, "b"); delete(@f, 1); $q = (int8 *)1; $r = *$q; $p = $q + 2; }',
    'BEGIN { printf("%5d|%-5s|%05x|%c|%%|%lu|%hhd\\n", 1, "a", 255, 65, 2, 3); print(comm); '
    'print(-1); print((1, (2, "x"))); if (pid > 0) { return; } exit(); } END { printf("e\\n"); }',
]

FRAGMENTS = list('{}()[]/*+-=<>!~&|^%?:;,."\\$@#_ \n0123456789axz') + [
    "if", "else", "unroll", "while", "for", "let", "++", "--", "->", "..", "0x", "1e", '"',
    "$1", "$#", "@", "@m[", "comm", "pid", "args", "kstack", "count()", "hist(", "str(", "printf(",
    "(uint8)", "(int8 *)", ", ", "exit()", "BEGIN", "t:syscalls:sys_enter_read", "==", "\u00e9",
]


@pytest.mark.parametrize("src", VALID)
def test_valid_programs_lower_to_verified_ir(src):
    assert lower(src, ["x", "y", "3"]) is not None, diagnostics(src, ["x", "y", "3"], True)


edit = mangle.edits(FRAGMENTS, 4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.lists(edit, min_size=1, max_size=5),
       st.lists(st.sampled_from(["1", "abc", "", "0x10", "-2"]), max_size=3), st.booleans())
def test_mangled_programs_never_raise(program, edits, params, unsafe):
    """Errors come back as diagnostics; a program that type checks lowers to valid IR."""
    program = mangle.apply(program, edits)
    lower(program, params, unsafe)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_token_soup_in_a_probe_never_raises(text):
    lower("BEGIN { " + text + " }")
    lower("tracepoint:syscalls:sys_enter_read /" + text + "/ { @ = count(); }")


# Random programs built from the grammar: most do not type check, but enough do
# to drive the lowering through unusual combinations.
ATOMS = ["0", "1", "-1", "0xff", "255", '"a"', '"abc"', "comm", "pid", "nsecs", "cpu", "probe",
         "username", "$x", "$y", "$t", "@m", "@n[1]", "@s[comm]", "$1", "$#", "kstack", "rand",
         "args->ret", "args->id", "(1, \"b\")", "str($1)"]
UNARY = ["!", "~", "-", "(int8)", "(uint16)", "(uint64)", "(int32 *)", "*", "++$x", "@c++"]
BINARY = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=",
          "&&", "||"]
CALLS = ["str({})", "str({}, 3)", "buf({}, 4)", "ksym({})", "ntop({})", "strncmp({}, \"ab\", 2)",
         "sum({})", "hist({})", "count()", "avg({})", "min({})", "lhist({}, 0, 10, 1)",
         "stats({})", "max({})", "kstack({})", "ustack(perf, {})", "pton(\"1.2.3.4\")"]


@st.composite
def expressions(draw, depth=0):
    choice = draw(st.integers(0, 5 if depth < 3 else 0))
    if choice == 0:
        return draw(st.sampled_from(ATOMS))
    if choice == 1:
        return draw(st.sampled_from(UNARY)) + "(" + draw(expressions(depth + 1)) + ")"
    if choice == 2:
        return f"({draw(expressions(depth + 1))} {draw(st.sampled_from(BINARY))} " \
               f"{draw(expressions(depth + 1))})"
    if choice == 3:
        return draw(st.sampled_from(CALLS)).format(draw(expressions(depth + 1)))
    if choice == 4:
        return f"({draw(expressions(depth + 1))} ? {draw(expressions(depth + 1))} : " \
               f"{draw(expressions(depth + 1))})"
    return f"({draw(expressions(depth + 1))}, {draw(expressions(depth + 1))}).0"


@st.composite
def statements(draw, depth=0):
    e = draw(expressions())
    choice = draw(st.integers(0, 9 if depth < 2 else 6))
    if choice == 0:
        return f"$x = {e};"
    if choice == 1:
        return f"@m = {e};"
    if choice == 2:
        return f"@n[{draw(expressions())}] = {e};"
    if choice == 3:
        return f'printf("%d %s\\n", {e}, {draw(expressions())});'
    if choice == 4:
        return f"print({e});"
    if choice == 5:
        return f"$y {draw(st.sampled_from(['+=', '-=', '<<=', '%=']))} {e};"
    if choice == 6:
        return f"@s[comm] = {e};"
    body = " ".join(draw(st.lists(statements(depth + 1), max_size=3)))
    if choice == 7:
        return f"if ({e}) {{ {body} }} else {{ {body} }}"
    if choice == 8:
        return f"while ({e}) {{ {body} break; }}"
    return f"unroll(2) {{ {body} }}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statements(), min_size=1, max_size=5),
       st.sampled_from(["BEGIN", "tracepoint:raw_syscalls:sys_exit", "interval:s:1"]))
def test_generated_programs_never_raise(stmts, probe):
    prologue = '$x = 1; $y = 2; $t = (1, "a"); @m = 3; @n[1] = 4; @c = 0; '
    lower(f"{probe} {{ {prologue}{' '.join(stmts)} }}", ["5"], True)


# ---- `-d`: the typed AST, as 0.17 prints "AST after: Semantic" ------------------------

SEMANTIC_DUMPS = [
    ('tracepoint:raw_syscalls:sys_exit /comm == "workload"/ { @lat[comm] = hist(args->ret); @s = stats(args->ret); }',
     'Program\n'
     ' tracepoint:raw_syscalls:sys_exit\n'
     '  pred\n'
     '   == :: type[unsigned int64, ctx: 0, AS(kernel)]\n'
     '    builtin: comm :: type[string[16], ctx: 0, AS(kernel)]\n'
     '    string: workload :: type[string[9], ctx: 0, AS(kernel)]\n'
     '  =\n'
     '   map: @lat :: type[hist, ctx: 0]\n'
     '    builtin: comm :: type[string[16], ctx: 0, AS(kernel)]\n'
     '   call: hist :: type[hist, ctx: 0]\n'
     '    .\n'
     '     dereference\n'
     '      builtin: args :: type[(ctx) struct _tracepoint_raw_syscalls_sys_exit *, ctx: 1, AS(kernel)]\n'
     '     ret\n'
     '  =\n'
     '   map: @s :: type[stats, ctx: 0]\n'
     '   call: stats :: type[stats, ctx: 0]\n'
     '    .\n'
     '     dereference\n'
     '      builtin: args :: type[(ctx) struct _tracepoint_raw_syscalls_sys_exit *, ctx: 1, AS(kernel)]\n'
     '     ret\n'),
    ('BEGIN { $t = (1, (int8)-1, "a", comm); @m[(int16)3, "x"] = (int32)5; $x = 1; $x += 2; @a++; $z = $x > 1 ? "a" : "b"; printf("%s %d\\n", $z, $t.0); }',
     'Program\n'
     ' BEGIN\n'
     '  =\n'
     '   variable: $t :: type[(int64,int8,string[2],string[16]), ctx: 0]\n'
     '   tuple:\n'
     '    int: 1 :: type[int64, ctx: 0]\n'
     '    (int8)\n'
     '     int: -1 :: type[int64, ctx: 0]\n'
     '    string: a :: type[string[2], ctx: 0, AS(kernel)]\n'
     '    builtin: comm :: type[string[16], ctx: 0, AS(kernel)]\n'
     '  =\n'
     '   map: @m :: type[int64, ctx: 0]\n'
     '    (int64)\n'
     '     (int16)\n'
     '      int: 3 :: type[int64, ctx: 0]\n'
     '    string: x :: type[string[2], ctx: 0, AS(kernel)]\n'
     '   (int32)\n'
     '    int: 5 :: type[int64, ctx: 0]\n'
     '  =\n'
     '   variable: $x :: type[int64, ctx: 0]\n'
     '   int: 1 :: type[int64, ctx: 0]\n'
     '  =\n'
     '   variable: $x :: type[int64, ctx: 0]\n'
     '   + :: type[int64, ctx: 0]\n'
     '    variable: $x :: type[int64, ctx: 0]\n'
     '    int: 2 :: type[int64, ctx: 0]\n'
     '  map: @a :: type[int64, ctx: 0]\n'
     '   ++\n'
     '  =\n'
     '   variable: $z :: type[string[64], ctx: 0]\n'
     '   ?:\n'
     '    > :: type[int64, ctx: 0]\n'
     '     variable: $x :: type[int64, ctx: 0]\n'
     '     int: 1 :: type[int64, ctx: 0]\n'
     '    string: a :: type[string[2], ctx: 0, AS(kernel)]\n'
     '    string: b :: type[string[2], ctx: 0, AS(kernel)]\n'
     '  call: printf :: type[none, ctx: 0]\n'
     '   string: %s %d\\n :: type[string[7], ctx: 0]\n'
     '   variable: $z :: type[string[64], ctx: 0]\n'
     '   .\n'
     '    variable: $t :: type[(int64,int8,string[2],string[16]), ctx: 0]\n'
     '    0\n'),
    ('tracepoint:syscalls:sys_enter_openat { @[str(args->filename)] = count(); if (args->dfd == -100) { @b = buf(args->filename, 8); } }',
     'Program\n'
     ' tracepoint:syscalls:sys_enter_openat\n'
     '  =\n'
     '   map: @ :: type[count, ctx: 0]\n'
     '    call: str :: type[string[64], ctx: 0, AS(user)]\n'
     '     .\n'
     '      dereference\n'
     '       builtin: args :: type[(ctx) struct _tracepoint_syscalls_sys_enter_openat *, ctx: 1, AS(user)]\n'
     '      filename\n'
     '   call: count :: type[count, ctx: 0]\n'
     '  if\n'
     '   == :: type[int64, ctx: 0, AS(user)]\n'
     '    .\n'
     '     dereference\n'
     '      builtin: args :: type[(ctx) struct _tracepoint_syscalls_sys_enter_openat *, ctx: 1, AS(user)]\n'
     '     dfd\n'
     '    int: -100 :: type[int64, ctx: 0]\n'
     '   then\n'
     '    =\n'
     '     map: @b :: type[buffer[9], ctx: 0, AS(kernel)]\n'
     '     call: buf :: type[buffer[9], ctx: 0, AS(kernel)]\n'
     '      .\n'
     '       dereference\n'
     '        builtin: args :: type[(ctx) struct _tracepoint_syscalls_sys_enter_openat *, ctx: 1, AS(user)]\n'
     '       filename\n'
     '      int: 8 :: type[int64, ctx: 0]\n'),
]


@pytest.mark.parametrize("src,expected", SEMANTIC_DUMPS)
def test_semantic_dump_matches_bpftrace_017(src, expected):
    from pybpftrace.lang.printer import dump
    analysed = driver.analyse(src, "stdin", KERNEL, driver.Options())
    assert dump(analysed.program, with_types=True) == expected

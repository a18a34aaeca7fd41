"""Programs from bpftrace 0.17's own runtime tests (tests/runtime/*), run for
real, with the output 0.17 gives: C definitions clang accepts, script types
that redefine kernel ones, tracepoint fields that point to kernel structs,
pointer values and pointer arithmetic, tuple layout, string stores and
positional parameters.  Where pybpftrace deviates on purpose (pointers print
unsigned) the deviation is tests/golden/README.md's."""
import re
import shutil
import socket
import subprocess
import time

import pytest

from workloads import Tracer, gated, run_tracer

pytestmark = pytest.mark.kernel


def out_lines(p: subprocess.CompletedProcess) -> list[str]:
    assert p.returncode == 0, p.stderr.decode()
    return [x for x in p.stdout.decode().splitlines() if x and not x.startswith("Attaching")]


# ---- C definitions ------------------------------------------------------------------

def test_missing_semicolon_before_closing_brace():
    """pointers."Struct pointer math", builtin.ctx, struct."nested struct ..."."""
    p = run_tracer('struct A {int32_t a; int32_t b; char c[28] }; BEGIN { $a=(struct A*) 1024; '
                   'printf("%lu - 5 x %lu = %lu\\n", $a, sizeof(struct A), $a-5); exit(); }')
    assert out_lines(p) == ["1024 - 5 x 36 = 844"]
    p = run_tracer('struct Foo { struct { int m[1] } y; struct { int n } a; } struct x {unsigned '
                   'long x}; BEGIN { printf("%d %d\\n", sizeof(struct Foo), sizeof(struct x)); '
                   'exit(); }')
    assert out_lines(p) == ["8 8"]


def test_redefining_a_kernel_type_the_program_uses_hides_btf():
    """btf.redefine_btf_type(_missing_def): curtask makes 0.17 take task_struct
    from BTF; a script definition of it conflicts, and then the definitions
    get no BTF types at all."""
    p = run_tracer('struct task_struct { int x; } BEGIN { printf("%d\\n", curtask->x); exit() }')
    assert re.fullmatch(r"-?\d+", out_lines(p)[0])
    p = run_tracer('struct task_struct { struct thread_info x; } '
                   'BEGIN { printf("%d\\n", curtask->x.status); }')
    assert p.returncode == 1 and p.stdout == b""
    assert p.stderr.decode() == (
        "stdin:1:41-42: ERROR: field has incomplete type 'struct thread_info'\n"
        "struct task_struct { struct thread_info x; } "
        "BEGIN { printf(\"%d\\n\", curtask->x.status); }\n" + " " * 40 + "~\n")
    # Without the conflict the kernel's struct thread_info is there (btf.user_supplied_c_def...).
    p = run_tracer('struct foo { struct thread_info x; } BEGIN { printf("%d\\n", '
                   'sizeof(struct foo) > 0); exit(); }')
    assert out_lines(p) == ["1"]


def test_sizeof_a_btf_enumerator():
    """btf.enum_value_reference: an enumerator is a uint64."""
    p = run_tracer('BEGIN { printf("%d %d\\n", sizeof(BTF_VAR_STATIC), BTF_VAR_STATIC); exit(); }')
    assert out_lines(p) == ["8 0"]


# ---- tracepoint fields through BTF -------------------------------------------------------

def test_tracepoint_struct_pointer_fields_resolve_through_btf():
    """btf.tracepoint_pointer_type_resolution: `struct __kernel_timespec *rqtp`
    of a syscall tracepoint, read from user memory."""
    sleeper = gated("sleep", "1.25")  # a relative clock_nanosleep of 1.25 s
    prog = ('tracepoint:syscalls:sys_enter_clock_nanosleep /pid == $1/ '
            '{ printf("%d %d\\n", args->rqtp->tv_sec, args->rqtp->tv_nsec); exit(); }')
    with Tracer(prog, str(sleeper.pid)) as t:
        sleeper.go()
        assert t.wait() == 0
        assert t.stdout.decode().splitlines()[1] == "1 250000000"
    # nested: napi->dev->name (kernel memory); compiles, attaches, and is typed as a string
    p = run_tracer('tracepoint:napi:napi_poll { args->napi->dev->name; } BEGIN { exit(); }')
    assert p.returncode == 0, p.stderr.decode()


def test_u8_array_fields_are_arrays_not_strings():
    """`__u8 saddr[4]` is an array of integers in 0.17 (only char arrays are strings)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    prog = ('tracepoint:sock:inet_sock_set_state /args->newstate == 1/ '
            '{ print(args->saddr); printf("%s %d\\n", ntop(args->saddr), args->saddr[0]); '
            'exit(); }')
    with Tracer(prog) as t:
        socket.create_connection(listener.getsockname()).close()
        assert t.wait() == 0
        assert t.stdout.decode().splitlines()[1:3] == ["[127,0,0,1]", "127.0.0.1 127"]
    listener.close()


# ---- pointers -------------------------------------------------------------------------

@pytest.mark.parametrize("prog, want", [
    ("@=(int32*) 32; @+=6;", "@: 56"),
    ("@=(int32*) 32; @--;", "@: 28"),
    ("@=(int16*) 32; @++;", "@: 34"),
    ("@=(int64*) 32; ++@;", "@: 40"),
    ("@=(int8*) 32; @++;", "@: 33"),
    ("@dec = 4; @=(int32*) 32; @-=@dec;", "@: 16"),
    ("@[1] = (int32*) 4; @[1]++;", "@[1]: 8"),
])
def test_pointer_map_arithmetic_and_decimal_values(prog, want):
    """pointers.*: map values step by the pointee's size and print in decimal."""
    p = run_tracer(f"BEGIN {{ {prog} exit(); }}")
    assert want in out_lines(p)


def test_pointer_values_unsigned_keys_hex():
    p = run_tracer("BEGIN { @y = (int8*)-1; @k[(int8*)255] = 1; @t = (1, (int16*)-2); exit(); }")
    assert out_lines(p) == ["@k[0xff]: 1", "@t: (1, 18446744073709551614)",
                            "@y: 18446744073709551615"]
    p = run_tracer("BEGIN { @y = (int8*)-1; exit(); }", flags=("-f", "json"))
    assert '{"type": "map", "data": {"@y": 18446744073709551615}}' in p.stdout.decode()


STRUCT_WALK_C = r"""
#include <stdint.h>
#include <stdlib.h>
struct C { uint32_t a; uint64_t b; };
__attribute__((noinline)) void clear(struct C *c, size_t size)
{
  for (size_t t = 0; t < size; t++) { c[t].a = 0; c[t].b = 0; }
}
int main(void)
{
  struct C *c = malloc(sizeof(struct C) * 10);
  for (size_t t = 0; t < 10; t++) { c[t].a = t; c[t].b = 100; }
  clear(c, 10);
  return 0;
}
"""


@pytest.fixture
def struct_walk(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "struct_walk.c").write_text(STRUCT_WALK_C)
    subprocess.run(["gcc", "-O0", "-o", str(tmp_path / "struct_walk"),
                    str(tmp_path / "struct_walk.c")], check=True)
    return str(tmp_path / "struct_walk")


def test_pointer_walk_through_user_structs(struct_walk):
    """pointers."Pointer walk through struct": `$c++` and `$c + 1` keep
    pointing into user memory."""
    prog = (f"struct C {{ uint32_t a; uint64_t b; }}; uprobe:{struct_walk}:clear {{ "
            "$c = (struct C *) arg0; $d = $c + 1; printf(\"%d %d\\n\", $d->a, ($d + 1)->b); "
            "$i = 10; while ($i-- > 0) { @a += $c->a; @b += ($c++)->b; } "
            "printf(\"a: %d b: %d\\n\", @a, @b); clear(@a); clear(@b); exit(); }")
    with Tracer(prog) as t:
        subprocess.run([struct_walk], check=True)
        assert t.wait() == 0
        assert t.stdout.decode().splitlines()[1:3] == ["1 100", "a: 45 b: 1000"]


# ---- tuples, strings, positional parameters -----------------------------------------------

def test_struct_in_tuple_is_laid_out_at_its_own_alignment():
    """tuples."struct in tuple sizing": (int32, struct {int; int}) is 12 bytes."""
    p = run_tracer("struct Foo { int m; int n; } BEGIN { "
                   "$t = ((int32)1, *((struct Foo *)curtask)); print(sizeof($t)); exit(); }")
    assert out_lines(p) == ["12"]


def test_shorter_string_replaces_a_longer_one():
    """variable."map string type resize" / "tuple string resize" / map keys."""
    p = run_tracer('BEGIN { @ = "hello"; @t = ("hello", 0); @k["hello"] = 0; $x = "hello"; '
                   '@ = "hi"; @t = ("hi", 1); @k["hi"] = 1; $x = "hi"; printf("%s\\n", $x); '
                   'exit(); }')
    assert out_lines(p) == ["hi", "@: hi", "@k[hello]: 0", "@k[hi]: 1", "@t: (hi, 1)"]


def test_strncmp_length_from_a_positional_parameter():
    """other."positional strncmp"."""
    p = run_tracer('BEGIN { if (strncmp("hello", "hell", $1) == 0) { printf("ok\\n"); } '
                   'exit(); }', "3")
    assert out_lines(p) == ["ok"]


# ---- probe order, BEGIN, exit() ----------------------------------------------------------

ORDERED = """{kind}
{{
  @probe1_ready = 1;
  if (@go == 1) {{ printf("first"); }}
}}
{kind}
{{
  @probe2_ready = 1;
  if (@go == 1) {{ printf(" second\\n"); exit(); }}
}}
{kind}
{{
  if (@probe1_ready == 1 && @probe2_ready == 1) {{ @go = 1; }}
}}"""


@pytest.mark.parametrize("kind", ["software:faults:1", "uprobe:/bin/bash:echo_builtin",
                                  "uretprobe:/bin/bash:echo_builtin"])
def test_probes_on_one_event_run_in_program_order(kind):
    """probe.software_order / uprobe_order / uretprobe_order: the kernel runs
    these kinds last-attached-first, so they are attached in reverse."""
    with Tracer(ORDERED.format(kind=kind)) as t:
        for _ in range(2):
            subprocess.run(["bash", "-c", "echo lala"], check=True, stdout=subprocess.DEVNULL)
        assert t.wait() == 0
        assert "first second" in t.stdout.decode()


def test_begin_runs_before_the_other_probes_attach():
    """call.printf_llu: the interval's first tick comes one second after BEGIN."""
    p = run_tracer('BEGIN { @start = nsecs; } interval:s:1 { printf("%llus\\n", '
                   '(nsecs - @start) / 1000000000); clear(@start); exit(); }')
    assert out_lines(p) == ["1s"]


def test_exit_ends_the_probe():
    """other."exit exits immediately": nothing after exit() runs."""
    p = run_tracer("interval:ms:100 { @++; exit(); @++ }")
    assert out_lines(p) == ["@: 1"]
    p = run_tracer('BEGIN { $i = 0; while ($i < 5) { $i++; if ($i == 3) { exit(); } '
                   'printf("%d\\n", $i); } printf("end\\n"); }')
    assert out_lines(p) == ["1", "2"]


# ---- maps, printf, strerror(), func ------------------------------------------------------

def test_keyless_count_map_is_zeroed_not_removed():
    """basic."clear count-map" / "delete count-map": 0.17 keeps `@ = count()`
    in a one-entry array, which exists from the start; keyed maps are emptied."""
    for call in ("clear(@); clear(@a);", "delete(@); delete(@a[1]);"):
        p = run_tracer(f"BEGIN {{ @ = count(); @a[1] = count(); {call} exit(); }}")
        # @: 0, then the blank line of the empty @a (bytes as 0.17 prints them)
        assert p.stdout.decode() == "Attaching 1 probe...\n\n\n@: 0\n\n", p.stderr
    p = run_tracer("BEGIN { if (0) { @ = count(); } @s[1] = count(); zero(@s); exit(); }")
    assert out_lines(p) == ["@: 0", "@s[1]: 0"]


def test_printf_buffer_formats():
    """call.buf_no_ascii_no_escaping: %rh is hex bytes; %rx escapes every byte."""
    p = run_tracer('BEGIN { printf("%rh|%rx|%r\\n", buf("Hello\\0", 6), buf("Hi\\n", 3), '
                   'buf("A\\x01", 2)); exit(); }')
    assert out_lines(p) == ["48 65 6c 6c 6f 00|\\x48\\x69\\x0a|A\\x01"]


def test_strerror_of_an_errno_macro():
    """call.strerror: the message of the value, from C's strerror()."""
    p = run_tracer('BEGIN { print(strerror(EPERM)); printf("%s|\\n", strerror(2)); '
                   '@t = (1, strerror(5)); @n = strerror(-1); exit(); }',
                   flags=("--include", "errno.h"))
    assert out_lines(p) == ["Operation not permitted", "No such file or directory|",
                            "@n: Unknown error -1", "@t: (1, Input/output error)"]
    p = run_tracer("BEGIN { @x = strerror(4); exit(); }", flags=("-f", "json"))
    assert '{"type": "map", "data": {"@x": "Interrupted system call"}}' in p.stdout.decode()


@pytest.mark.parametrize("kind", ["uprobe", "uretprobe"])
def test_func_of_a_uprobe_names_the_function(kind):
    """builtin.func_uprobe (a uretprobe names its function, as kretprobes do here)."""
    with Tracer(f'{kind}:/bin/bash:echo_builtin {{ printf("%s\\n", func); exit(); }}') as t:
        # bash lives on while its address is named from its memory maps
        # (`; true`: bash must not exec sleep, which would replace its memory maps)
        subprocess.run(["bash", "-c", "echo lala; sleep 1; true"], check=True,
                       stdout=subprocess.DEVNULL)
        assert t.wait() == 0
        assert t.stdout.decode().splitlines()[1] == "echo_builtin"


# ---- attach points 0.17 refuses or leaves out ----------------------------------------------

def test_uprobe_address_and_offset_must_lie_in_a_function():
    """probe.uprobe_address_fail_resolve / uprobe_offset_fail_size."""
    p = run_tracer("uprobe:/bin/bash:10 { exit(); }")
    assert p.returncode == 1
    assert p.stderr.decode().startswith(
        "stdin:1:1-20: ERROR: Could not resolve address: /bin/bash:0xa\n")
    p = run_tracer("uprobe:/bin/bash:echo_builtin+1000000 { exit(); }")
    assert p.returncode == 1
    assert re.match(r"stdin:1:1-38: ERROR: Offset outside the function bounds \('echo_builtin' "
                    r"size is \d+\)\n", p.stderr.decode())


def test_banned_kretprobes_are_refused_when_attaching():
    """banned_probes.*: 0.17's message, "error:" included."""
    p = run_tracer("kretprobe:_raw_spin_lock { exit(); }")
    assert p.returncode == 1
    assert p.stderr.decode().endswith(
        "ERROR: error: kretprobe:_raw_spin_lock can't be used as it might lock up your system.\n")


def test_kprobe_on_a_missing_module_is_a_tracepoint_mistake():
    """probe.kprobe_target / kretprobe_target."""
    p = run_tracer("kretprobe:syscalls:sys_exit_nanosleep { exit(); }")
    assert p.returncode == 1
    assert p.stderr.decode().startswith(
        "stdin:1:1-38: ERROR: kretprobe probe type requires 1 argument (no kernel module "
        "'syscalls' is loaded)\n")
    assert "HINT: did you mean tracepoint:syscalls:sys_exit_nanosleep?\n" in p.stderr.decode()


def test_unknown_kprobe_of_a_probe_using_probe_is_left_out():
    """regression.async_id_invalid_probe_expansion: 0.17 expands such a probe
    over the kernel's functions, which gives it no attach point at all."""
    p = run_tracer('kprobe:zzzzz { probe; printf("asdf\\n") } '
                   'BEGIN { printf("_%s_\\n", "success"); exit() }')
    assert out_lines(p) == ["_success_"]
    assert p.stdout.decode().startswith("Attaching 1 probe...\n")
    p = run_tracer('kprobe:zzzzz { probe; }')
    assert (p.returncode, p.stdout) == (1, b"No probes to attach\n")


# ---- ctx, unknown address spaces, locations after struct casts ----------------------------

def test_ctx_of_a_perf_event_probe_is_its_bpf_perf_event_data():
    """builtin.ctx: `ctx` points to the context; its members are loaded from it."""
    p = run_tracer('struct x {unsigned long x}; i:ms:1 { $a = ((struct x*)ctx)->x; '
                   'printf("SUCCESS %d %d\\n", $a == ctx->regs.r15, ctx->sample_period); exit(); }')
    assert out_lines(p) == ["SUCCESS 1 1000000"], p.stderr


def test_ctx_of_a_uprobe_is_its_pt_regs():
    with Tracer('uprobe:/bin/bash:echo_builtin { printf("%d %d %d\\n", ctx->ip == reg("ip"), '
                'ctx->di == arg0, ((struct pt_regs *)ctx)->sp == reg("sp")); exit(); }') as t:
        subprocess.run(["bash", "-c", "echo lala"], check=True, stdout=subprocess.DEVNULL)
        assert t.wait() == 0
        assert t.stdout.decode().splitlines()[1] == "1 1 1"


@pytest.mark.parametrize("prog, error", [
    ("BEGIN { $x = ctx; }", "stdin:1:14-17: ERROR: invalid program type"),
    ("tracepoint:syscalls:sys_enter_read { $x = ctx; }",
     "stdin:1:43-46: ERROR: Use args instead of ctx in tracepoint"),
    ("i:ms:1, uprobe:/bin/bash:echo_builtin { $x = ctx; }",
     "stdin:1:46-49: ERROR: ctx cannot be used in different BPF program types: "
     "BPF_PROG_TYPE_PERF_EVENT and BPF_PROG_TYPE_KPROBE"),
    ("i:ms:1 { @x = ctx; }", "stdin:1:13-14: ERROR: context cannot be assigned to a map"),
    ("i:ms:1 { @x[ctx] = 1; }", "stdin:1:10-17: ERROR: context cannot be used as a map key"),
    ("i:ms:1 { $x = (int32*)ctx; }",
     "stdin:1:15-22: ERROR: Integer pointer casts are not supported for type: ctx"),
])
def test_ctx_errors_as_0_17(prog, error):
    p = run_tracer(prog)
    assert p.returncode == 1
    assert p.stderr.decode().splitlines()[0] == error


def test_a_read_of_unknown_address_space_is_the_legacy_probe_read():
    """json-output.helper_error: a pointer cast from an integer in BEGIN has no
    address space; 0.17 reads it with bpf_probe_read, which faults with -14
    (probe_read_kernel would refuse a user address with -34).  0.17's span ends
    one column further right (37-58): its lexer reads the `*` after `struct foo`
    twice, a plain bug we do not copy."""
    prog = 'struct foo {int a;}; BEGIN { $tmp = ((struct foo*) 0)->a; exit(); }'
    p = run_tracer(prog, flags=("-kk", "-q", "-f", "json"))
    assert p.stdout.decode().splitlines()[0] == (
        '{"type": "helper_error", "helper": "probe_read", "retcode": -14, "line": 1, "col": 37}')
    p = run_tracer(prog, flags=("-kk",))
    assert p.stdout.decode().splitlines()[1:3] == [
        "stdin:1:37-57: WARNING: Failed to probe_read: Bad address (-14)", prog]
    p = run_tracer('BEGIN { printf("%s|%d\\n", str(0), *(int32*)0); exit(); }', flags=("-kk",))
    assert "stdin:1:27-33: WARNING: Failed to probe_read_str: Bad address (-14)" in \
        p.stdout.decode()
    assert p.stderr.decode() == "WARNING: Addrspace is not set\n"  # once, as 0.17
    p = run_tracer('BEGIN { printf("%d\\n", *(int32*)0); exit(); }', flags=("--no-warnings",))
    assert (p.stdout.decode().splitlines()[1], p.stderr) == ("0", b"")


def test_columns_after_a_struct_cast_are_where_the_text_is():
    """0.17 reports these one column further right (57-62, 69-82): a plain bug."""
    p = run_tracer("struct foo {int a;}; BEGIN { $x = (struct foo*)0; $y = $x->b; "
                   "$z = (struct bar)1; }")
    assert [line for line in p.stderr.decode().splitlines() if "ERROR" in line] == [
        "stdin:1:56-61: ERROR: Struct/union of type 'struct foo' does not contain a field "
        "named 'b'",
        "stdin:1:68-80: ERROR: Unknown struct/union: 'struct bar'"]


def test_ctrl_c_under_a_flood_of_system_calls_ends_at_once():
    """other."sigint under heavy load": each sched_switch asks for a shell, which
    switches again.  After SIGINT the events already sent are still read, but
    their commands are not started (and say so); END comes at once."""
    prog = 'tracepoint:sched:sched_switch { system("echo foo"); } END { printf("end\\n"); }'
    with Tracer(prog, flags=("--unsafe",)) as t:
        assert t.wait_for_output(b"foo\n")
        time.sleep(0.5)
        started = time.monotonic()
        assert t.stop(timeout=10) == 0
        assert time.monotonic() - started < 3
        assert t.stdout.decode().endswith("end\n\n\n")
        assert re.search(r"^WARNING: \d+ system\(\) commands requested before the stop were "
                         r"not run$", t.stderr.decode(), re.M)

"""Property tests: the parser never raises.  Whatever the input (valid programs
mangled by deletions, insertions and substitutions, or arbitrary text), parse()
returns a Program, or returns None and leaves an error diagnostic; and whatever
it returns can be printed and its diagnostics rendered."""
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mangle  # tests/unit/mangle.py

from pybpftrace.diag import Diagnostics
from pybpftrace.lang.parser import parse
from pybpftrace.lang.printer import dump

SEEDS = Path("/work/shared/seeds-check/cases.toml")

BASE_PROGRAMS = [
    'BEGIN { @x = 1; $y = "s\\n"; @m[1, comm] = count(); printf("%d %s\\n", pid, comm); exit(); }',
    "kprobe:vfs_read /pid == $1 && comm != \"bash\"/ { @start[tid] = nsecs; }\n"
    "kretprobe:vfs_read /@start[tid]/ { @us = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }",
    "#include <linux/sched.h>\nstruct X { int a; };\n"
    "kprobe:f { $t = (struct task_struct *)curtask; @[$t->parent->pid, kstack(3)] = sum(arg0 << 2); }",
    'uprobe:/bin/bash:readline,uretprobe:"/bin/bash":readline { if (retval > 0) { @a++; } '
    "else if (!retval) { --@b; } else { @c -= 1 } unroll(3) { $i += 1; } }",
    "t:syscalls:sys_enter_* { $x = args->fd ? 0x10 : -1_000; $t = (1, \"a\",); $u = $t.0; "
    "while ($x < 10) { $x++; if ($x == 5) { break; } } }",
    "BEGIN { let $a: uint16 = 5; for ($i : 0..10) { continue; } for ($kv : @m) { return; } "
    "$s = sizeof(struct sock) + offsetof(struct sock, f) + (uint8)*$p + &$a; }",
    "interval:s:1 { print(@x, 5, 10); clear(@y); zero(@z); @[probe] = lhist(1e3, 0, 100, 10); }",
]
if SEEDS.exists():
    BASE_PROGRAMS += [c["program"] for c in tomllib.loads(SEEDS.read_text())["case"] if c.get("program")]

FRAGMENTS = list('{}()[]/*+-=<>!~&|^%?:;,."\'\\$@#_ \n\t0123456789abcxyz') + [
    "if", "else", "struct", "unroll", "while", "for", "let", "++", "--", "->", "..", "0x", "1e",
    "/*", "*/", "//", '"', "\\x", "$1", "$#", "@", "BEGIN", "k:f", "\x00", "\u00e9", "\udcff", "\ud800",
]


def check(source: str) -> None:
    diags = Diagnostics(source)
    program = parse(source, diags)
    if program is None:
        assert diags.has_errors()
    else:
        dump(program)
    diags.render()


edit = mangle.edits(FRAGMENTS, 6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASE_PROGRAMS), st.lists(edit, min_size=1, max_size=6))
def test_mangled_programs_never_raise(program, edits):
    program = mangle.apply(program, edits)
    check(program)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    check(data.decode("latin-1"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_random_token_soup_never_raises(text):
    check(text)
    check("BEGIN { " + text + " }")
    check("k:f /" + text + "/ { }")

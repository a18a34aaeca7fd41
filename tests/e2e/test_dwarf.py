"""uprobe `args` typed from DWARF (semantic.dwarf): real uprobes on a gcc -g
target, reading parameters by name from their registers and structs through
them from user memory; `-lv` listing the parameters."""
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET_C = r"""
#include <string.h>
struct Inner { short s; long l; };
struct Rec { char tag; int vals[3]; char name[8]; struct Inner in; struct Inner *link;
             unsigned flag:1; unsigned level:5; };
int __attribute__((noinline)) scalars(char c, short s, int i, long l, unsigned char u, int neg)
{ return c + s + i + l + u + neg; }
int __attribute__((noinline)) walk(struct Rec *r, const char *label, int **pp)
{ return r->tag + label[0] + **pp; }
int main(void) {
    struct Inner far = { .s = -7, .l = 1234567890123L };
    struct Rec r = { .tag = 'q', .vals = { 10, -20, 30 }, .in = { 5, 6 }, .link = &far,
                     .flag = 1, .level = 19 };
    strcpy(r.name, "rec-1");
    int x = 42, *px = &x;
    char label[] = "hello";  /* on the stack: a literal's page may not be faulted in yet */
    scalars('z', -300, 70000, -5000000000L, 200, -1);
    return walk(&r, label, &px) == 0;
}
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    d = tmp_path_factory.mktemp("dwarf")
    (d / "t.c").write_text(TARGET_C)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(d / "t"), str(d / "t.c")], check=True)
    return str(d / "t")


def trace(program: str, target: str) -> str:
    p = subprocess.run([sys.executable, "-m", "pybpftrace", "-e", program, "-c", target],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_scalar_args_by_name(target):
    out = trace(f'uprobe:{target}:scalars {{ printf("%c %d %d %d %d %d\\n", args->c, args->s, '
                f'args->i, args->l, args->u, args->neg); }}', target)
    assert "z -300 70000 -5000000000 200 -1\n" in out, out


def test_struct_members_through_args(target):
    out = trace(f'uprobe:{target}:walk {{ printf("%c %s %s %d %d %d %d %d\\n", args->r->tag, '
                f'args->r->name, str(args->label), args->r->in.s, args->r->link->l, **args->pp, '
                f'args->r->flag, args->r->level); print(args->r->vals); }}', target)
    assert "q rec-1 hello 5 1234567890123 42 1 19\n" in out, out
    assert "[10,-20,30]\n" in out, out


def test_struct_value_and_cast(target):
    out = trace(f'uprobe:{target}:walk {{ print(*args->r->link); '
                f'@ = ((struct Inner *)((struct Rec *)arg0)->link)->s; }}', target)
    assert "{ .s = -7, .l = 1234567890123 }\n" in out, out
    assert "@: -7\n" in out, out


def test_list_params(target):
    p = subprocess.run([sys.executable, "-m", "pybpftrace", "-lv", f"uprobe:{target}:walk"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.stdout == (f"uprobe:{target}:walk\n    struct Rec* r\n    const char* label\n"
                        "    int** pp\n"), p.stderr

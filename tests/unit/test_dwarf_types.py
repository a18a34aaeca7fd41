"""DWARF debug info as BpfScript types (semantic.dwarf): struct layouts read
from a gcc -g binary checked against gcc's own sizeof/_Alignof/offsetof (the
layouts test_cdefs checks our C layout against), parameters and their
spellings as 0.17's `-lv` prints them, and the type checker typing a uprobe's
`args->NAME` and the binary's structs from DWARF.  No kernel is needed."""
import re
import shutil
import subprocess

import pytest
from fakekernel import NoKernel  # tests/unit/fakekernel.py
from test_cdefs import LAYOUTS, gcc_layout  # tests/unit/test_cdefs.py

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError
from pybpftrace.semantic import dwarf
from pybpftrace.types import Int, Kind, String, Type

TARGET_C = r"""
struct Foo { int a; char b[10]; int c[3]; struct Foo *next; unsigned char u[4]; };
typedef unsigned long ulong_t;
enum colour { RED, GREEN };
int f_ints(char c, short s, int i, long l, unsigned u, ulong_t t, enum colour e, _Bool b)
{ return c + s + i + l + u + t + e + b; }
const char *f_ptrs(struct Foo *foo, const char *name, void *v, int **pp, char *const cp,
                   struct Foo f, double d) { return name; }
static int f_static(int x) { return x; }
int f_many(int a, int b, int c, int d, int e, int f, int g) { return a + g; }
int main(void) { return f_static(0); }
"""

# Explicit alignment or packing, which DWARF does not record as such.
_ATTRIBUTED = {"struct s14", "struct s15", "struct s16", "struct s17", "struct s18"}


def gcc_g(tmp_path, source: str, name: str = "t", debug: bool = True) -> str:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / f"{name}.c").write_text(source)
    binary = tmp_path / name
    subprocess.run(["gcc", "-O0", *(["-g"] if debug else []), "-o", str(binary),
                    str(tmp_path / f"{name}.c")], check=True)
    return str(binary)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    return gcc_g(tmp_path_factory.mktemp("dwarf"), TARGET_C)


def test_layouts_match_gcc(tmp_path):
    names = re.findall(r"^((?:struct|union) \w+) \{", LAYOUTS, re.M)
    uses = "".join(f"{n} g{i};\n" for i, n in enumerate(names))  # so that gcc emits each type
    binary = gcc_g(tmp_path, LAYOUTS + uses + "int main(void) { return 0; }\n")
    info = dwarf.debug_info(binary)
    records = [info.record(n) for n in names]
    subprocess.run(["gcc", "-o", str(tmp_path / "layout"), "-x", "c", "-"],
                   input=gcc_layout(LAYOUTS, records), text=True, check=True)
    expected = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True,
                              check=True).stdout
    ours = "".join(f"{r.name} {r.size} {'?' if r.name in _ATTRIBUTED else r.align}\n"
                   + "".join(f"  {m.name} {m.bit_offset}\n" for m in r.members if m.name)
                   for r in records)
    expected = re.sub(r"^((struct|union) (\w+) \d+) \d+$",
                      lambda m: m[1] + (" ?" if f"{m[2]} {m[3]}" in _ATTRIBUTED else m[0][len(m[1]):]),
                      expected, flags=re.M)
    assert ours == expected


def test_member_types(target):
    foo = dwarf.debug_info(target).record("struct Foo")
    types = {m.name: m.ctype.type for m in foo.members}
    assert types["a"] == Int(32, True)
    assert types["b"] == String(10)
    assert types["c"] == Type(Kind.ARRAY, size=3, inner=Int(32, True))
    assert types["next"].kind is Kind.PTR and types["next"].inner.name == "struct Foo"
    assert types["u"] == String(4)  # 0.17: arrays of unsigned char are strings too
    assert foo.size == 48 and foo.align == 8


def test_params_types_and_spellings(target):
    info = dwarf.debug_info(target)
    ints = info.function_params("f_ints")
    assert [(p.spelling, p.name) for p in ints] == [
        ("char", "c"), ("short int", "s"), ("int", "i"), ("long int", "l"),
        ("unsigned int", "u"), ("ulong_t", "t"), ("enum colour", "e"), ("_Bool", "b")]
    assert [p.ctype.type for p in ints] == [
        Int(8, True), Int(16, True), Int(32, True), Int(64, True), Int(32, False),
        Int(64, False), Int(32, False), Int(8, False)]
    ptrs = info.function_params("f_ptrs")
    assert [(p.spelling, p.name) for p in ptrs] == [
        ("struct Foo*", "foo"), ("const char*", "name"), ("void*", "v"), ("int**", "pp"),
        ("char* const", "cp"), ("struct Foo", "f"), ("double", "d")]
    assert ptrs[0].ctype.type.inner.name == "struct Foo"
    assert ptrs[2].ctype.type == Type(Kind.PTR)
    assert ptrs[6].ctype.type is None
    assert [p.name for p in info.function_params("f_static")] == ["x"]
    assert info.function_params("nosuch") is None


def analyse(src: str):
    return driver.analyse(src, "stdin", NoKernel(), driver.Options())


def error(src: str) -> str:
    with pytest.raises(DiagnosticError) as e:
        analyse(src)
    return str(e.value)


def _field_accesses(node):
    from pybpftrace.lang import ast
    seen = []

    def walk(n):
        if isinstance(n, ast.FieldAccess):
            seen.append(n)
        for v in vars(n).values() if hasattr(n, "__dict__") else ():
            for c in v if isinstance(v, list) else [v]:
                if isinstance(c, ast.Node):
                    walk(c)
    walk(node)
    return seen


def test_args_typed_from_dwarf(target):
    analysed = analyse(f"uprobe:{target}:f_ptrs {{ @a = args->foo->c; @b = args->name; "
                       f"@c = *args->pp; @d = args->foo->next->a; }}")
    fields = {f.field: f for f in _field_accesses(analysed.program)}
    assert fields["pp"].arg_index == 3 and fields["pp"].addrspace == "user"
    assert fields["name"].type == Type(Kind.PTR, inner=Int(8, True))
    assert fields["c"].type == Type(Kind.ARRAY, size=3, inner=Int(32, True))
    assert fields["c"].addrspace == "user"


def test_cast_to_a_dwarf_struct_and_script_override(target):
    analyse(f"uprobe:{target}:f_ints {{ @ = ((struct Foo *)arg0)->b; }}")
    err = error(f"struct Foo {{ int z; }} uprobe:{target}:f_ints {{ @ = ((struct Foo *)arg0)->b; }}")
    assert "does not contain a field named 'b'" in err


def test_args_errors(target, tmp_path):
    assert error(f"uprobe:{target}:f_ptrs {{ @ = args->nope; }}").endswith(
        "ERROR: Can't find function parameter nope\n"
        f"uprobe:{target}:f_ptrs {{ @ = args->nope; }}\n"
        f"{' ' * (len(target) + 21)}~~~~~~~~~~\n")
    assert "ERROR: d has unsupported type" in error(f"uprobe:{target}:f_ptrs {{ @ = args->d; }}")
    assert "ERROR: g is parameter 6: only the first 6, passed in registers, can be read" in \
        error(f"uprobe:{target}:f_many {{ @ = args->g; }}")
    analyse(f"uprobe:{target}:f_many {{ @ = args->f; }}")
    assert "ERROR: args cannot be assigned to a variable" in \
        error(f"uprobe:{target}:f_ptrs {{ $a = args; }}")
    assert "ERROR: (ctx) struct uprobe_args * type passed to print() is not printable" in \
        error(f"uprobe:{target}:f_ptrs {{ print(args); }}")
    assert "ERROR: Probe has attach points with mixed arguments" in \
        error(f"uprobe:{target}:f_* {{ @ = args->c; }}")
    plain = gcc_g(tmp_path, TARGET_C, "plain", debug=False)
    assert f"stdin:1:1-{len(plain) + 15}: ERROR: No debuginfo found for {plain}\n" in \
        error(f"uprobe:{plain}:f_ptrs {{ @ = args->name; }}")

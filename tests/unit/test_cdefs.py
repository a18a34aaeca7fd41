"""C definitions of scripts as BpfScript types (semantic.cdefs, semantic.records):
layouts checked against gcc's own sizeof/_Alignof/offsetof and bitfield
positions, member types, types resolved through the kernel's BTF, errors in
bpftrace's form, and the type checker using script records before BTF's."""
import re
import shutil
import subprocess

import pytest
from fakekernel import NoKernel  # tests/unit/fakekernel.py

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError, Diagnostics
from pybpftrace.lang.preprocess import preprocess
from pybpftrace.semantic.cdefs import parse_cdefs
from pybpftrace.types import Int, Kind, String, Type


def cdefs(defs: str, btf=None, filename="t.bt", include_dirs=(), kernel_types=frozenset()):
    src = defs + "\nBEGIN { }\n"
    d = Diagnostics(src, filename)
    pre = preprocess(src, filename, d, include_dirs, have_btf=btf is not None)
    out = parse_cdefs(pre.text, filename, d, btf, kernel_types)
    return out, d


def ok(defs: str, btf=None, include_dirs=()):
    out, d = cdefs(defs, btf, include_dirs=include_dirs)
    assert not d.has_errors(), d.render()
    return out


def errors(defs: str, btf=None) -> str:
    return cdefs(defs, btf)[1].render()


@pytest.fixture(scope="module")
def vmlinux():
    from pybpftrace import btf
    try:
        return btf.vmlinux()
    except (btf.BtfError, OSError):
        pytest.skip("no kernel BTF")


# ---- layouts, as gcc lays them out --------------------------------------------------

# A header, as a script includes it: bpftrace's grammar has no typedefs in scripts.
LAYOUTS = r"""
#include <stdint.h>
struct s1 { char c; int i; short s; };
struct s2 { char c; double d; char e; };
struct s3 { unsigned a:3; unsigned b:30; unsigned char c; };
struct s4 { char c; int a:7; int b:25; short s:9; };
struct s5 { char c; long l:40; int i:20; };
struct s6 { int a:3; int :0; int b:2; char c; };
struct s7 { char a; char :0; char b; };
struct s8 { short a; union { int i; char b[7]; }; char c; };
struct s9 { struct s1 in; char c[3]; struct s1 arr[2]; void *p; };
struct s10 { char c; struct { char x; long y; } n; int z; };
union u1 { char c; int i; long l; char b[9]; };
struct s11 { int n; char data[]; };
struct s12 { char c; unsigned long long a:1; char d; };
struct s13 { char c; _Bool b:1; unsigned short u:15; };
struct s14 { char c; int i; } __attribute__((packed));
struct s15 { char c; unsigned a:3; unsigned b:7; long l; } __attribute__((__packed__));
struct s16 { char c; } __attribute__((aligned(16)));
struct s17 { short s; int x; } __attribute__((packed, aligned(4)));
struct s18 { char c; struct s14 p; struct s16 a; };
enum e1 { E1A = 1, E1B = 0xffffffff };
enum e2 { E2A = -1, E2B = 5 };
enum e3 { E3A = 0x100000000 };
struct s19 { char c; enum e1 a; enum e2 b; enum e3 d; };
struct s20 { unsigned char a:4; unsigned char b:5; unsigned char c:7; };
struct s21 { int a; char b[3][5]; long long c; int (*fn)(int); };
struct s22 { char c; int :3; char d; };
struct s23 { uint8_t a; uint64_t b; int32_t c[4 * 2 + 1]; uint16_t d; };
typedef struct { short x, y; } point_t;
struct s24 { char c; point_t p; point_t *pp; };
struct s25 { long double ld; char c; };
"""


def gcc_layout(defs: str, records) -> str:
    """sizeof, _Alignof and every named member's bit offset, as gcc computes them."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <string.h>", defs,
             "int main(void) {"]
    for rec in records:
        t = rec.name
        lines.append(f'printf("{t} %zu %zu\\n", sizeof({t}), _Alignof({t}));')
        for m in rec.members:
            if m.bitfield_size:  # the lowest bit a field of all ones sets
                lines.append(
                    f"{{ {t} v; memset(&v, 0, sizeof v); v.{m.name} = -1; "
                    "const unsigned char *b = (const unsigned char *)&v; int bit = 0; "
                    "while (!(b[bit / 8] >> bit % 8 & 1)) bit++; "
                    f'printf("  {m.name} %d\\n", bit); }}')
            elif m.name:
                lines.append(f'printf("  {m.name} %zu\\n", offsetof({t}, {m.name}) * 8);')
    lines.append("return 0; }")
    return "\n".join(lines)


def test_layouts_match_gcc(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "layouts.h").write_text(LAYOUTS)
    out = ok('#include "layouts.h"', include_dirs=[str(tmp_path)])
    names = re.findall(r"^((?:struct|union) \w+) \{", LAYOUTS, re.M)
    records = [out.records[n] for n in names]
    (tmp_path / "layout.c").write_text(gcc_layout(LAYOUTS, records))
    subprocess.run(["gcc", "-o", str(tmp_path / "layout"), str(tmp_path / "layout.c")],
                   check=True)
    expected = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True,
                              check=True).stdout
    ours = "".join(f"{r.name} {r.size} {r.align}\n"
                   + "".join(f"  {m.name} {m.bit_offset}\n" for m in r.members if m.name)
                   for r in records)
    assert ours == expected


def test_packed_script_struct():
    """Beyond 0.17, whose lexer stops at the attribute: `} __attribute__((packed))`."""
    out = ok("struct p { char c; int i; } __attribute__((packed))\nstruct q { char c; int i; };")
    packed = out.records["struct p"]
    assert packed.size == 5 and out.member(packed, "i").bit_offset == 8
    assert out.records["struct q"].size == 8


def test_anonymous_members_are_found_through_their_record():
    out = ok("struct a { int x; union { int u; struct { char p, q; }; }; };")
    rec = out.records["struct a"]
    q = out.member(rec, "q")
    assert q.bit_offset == 40 and q.ctype.type == Int(8, True)
    assert out.member(rec, "u").bit_offset == 32
    assert out.member(rec, "nope") is None


def test_enum_constants():
    out = ok("enum color { RED, GREEN = 5, BLUE, BIG = 1 << 40, NEG = -BLUE, Q = 'q' };")
    assert out.enums == {"RED": 0, "GREEN": 5, "BLUE": 6, "BIG": 1 << 40, "NEG": -6, "Q": 113}


# ---- member types --------------------------------------------------------------------

def test_member_types_map_like_btf_members():
    out = ok("struct node { struct node *next; void *v; char name[16]; unsigned char raw[4];"
             " int vals[3]; float f; int (*fn)(void); _Bool b; struct node *pair[2]; "
             "unsigned long long big; };")
    m = {x.name: x.ctype.type for x in out.records["struct node"].members}
    assert m["next"] == Type(Kind.PTR, inner=Type(Kind.RECORD, name="struct node"))
    assert m["v"] == Type(Kind.PTR) and m["fn"] == Type(Kind.PTR)
    assert m["name"] == String(16)
    # Only plain char arrays are strings (clang's Char_S for 0.17): not unsigned char ones.
    assert m["raw"] == Type(Kind.ARRAY, size=4, inner=Int(8, False))
    assert m["vals"] == Type(Kind.ARRAY, size=3, inner=Int(32, True))
    assert m["f"] is None
    assert m["b"] == Int(8, False) and m["big"] == Int(64, False)
    assert m["pair"].kind is Kind.ARRAY and m["pair"].inner.kind is Kind.PTR


def test_kernel_types_come_from_btf(vmlinux):
    out = ok("struct mine { u32 a; pid_t p; struct task_struct *t; struct list_head l; "
             "atomic_t n; char c; };", vmlinux)
    rec = out.records["struct mine"]
    m = {x.name: x for x in rec.members}
    assert m["a"].ctype.type == Int(32, False) and m["p"].ctype.type == Int(32, True)
    task = m["t"].ctype.type
    assert task.kind is Kind.PTR and task.inner.name == "struct task_struct"
    assert m["l"].bit_offset == 128 and m["l"].ctype.size == 16  # list_head: two pointers
    assert m["n"].bit_offset == 256 and m["c"].bit_offset == 288 and rec.size == 40
    assert out.typedefs["u32"].size == 4


def test_redefining_a_kernel_record_btf_would_supply_drops_btf(vmlinux):
    """0.17: once the script redefines a record its BTF header holds (one the
    program uses, one the definitions name, or one they embed by value),
    clang sees a redefinition and the definitions get no BTF types."""
    task = frozenset({"struct task_struct"})  # the program uses curtask
    out, d = cdefs("struct task_struct { struct thread_info x; };", vmlinux, kernel_types=task)
    assert d.render() == (
        "t.bt:1:41-42: ERROR: field has incomplete type 'struct thread_info'\n"
        "struct task_struct { struct thread_info x; };\n" + " " * 40 + "~\n")
    assert ok("struct task_struct { struct thread_info x; };", vmlinux)  # no curtask: fine
    assert ok("struct foo { struct thread_info x; };", vmlinux).records["struct foo"].size > 0
    # list_head is embedded in task_struct: defining it conflicts too, so u32 is unknown
    out, d = cdefs("struct list_head { u32 x; };", vmlinux, kernel_types=task)
    assert "unknown type name 'u32'" in d.render()
    # ... and so does a record a script record names, or one that embeds.
    out, d = cdefs("struct mine { struct task_struct *t; }; struct list_head { u32 x; };",
                   vmlinux)
    assert "unknown type name 'u32'" in d.render()
    assert ok("struct mine { struct task_struct *t; }; struct mm_struct { u32 x; };", vmlinux)


def test_btf_typedefs_are_not_used_where_the_name_is_declared(vmlinux, tmp_path):
    (tmp_path / "t.h").write_text("typedef long u32;\n")
    out = ok('#include "t.h"\nstruct x { u32 a; int pid_t; };', vmlinux, [str(tmp_path)])
    m = {x.name: x.ctype for x in out.records["struct x"].members}
    assert m["a"].size == 8 and m["pid_t"].type == Int(32, True)


# ---- errors ---------------------------------------------------------------------------

def test_unknown_type_name():
    assert errors("struct foo { int a; unknown_t b; }") == (
        "t.bt:1:21-30: ERROR: unknown type name 'unknown_t'\n"
        "struct foo { int a; unknown_t b; }\n                    ~~~~~~~~~\n"
        "HINT: Include headers with missing type definitions or install BTF information to "
        "your system.\n")
    assert errors("struct foo {\n  const nope_t *p;\n}") == (
        "t.bt:2:9-15: ERROR: unknown type name 'nope_t'\n  const nope_t *p;\n        ~~~~~~\n"
        "HINT: Include headers with missing type definitions or install BTF information to "
        "your system.\n")


def test_syntax_errors():
    assert errors("struct foo { int a; int b c; }") == (
        "t.bt:1:27-28: ERROR: syntax error in C definitions, unexpected c\n"
        "struct foo { int a; int b c; }\n                          ~\n")
    assert errors("\nstruct foo { int a; ] }") == (
        "t.bt:2:21-22: ERROR: syntax error in C definitions, unexpected ]\n"
        "struct foo { int a; ] }\n                    ~\n")


def test_missing_semicolon_before_closing_brace():
    """clang only warns about it, so 0.17 accepts `struct A { ...; char c[28] }`."""
    out = ok("struct A {int a; int b; char c[28] }; struct x {unsigned long x}; "
             "struct Foo { struct { int m[1] } y; struct { int n } a; }; "
             "union U { int i; char c }; enum E { A, B }; struct E2 { int e[2] };")
    assert (out.records["struct A"].size, out.records["struct x"].size) == (36, 8)
    assert out.records["struct Foo"].size == 8 and out.records["union U"].size == 4
    assert [m.name for m in out.records["struct Foo"].members] == ["y", "a"]
    assert out.enums == {"A": 0, "B": 1}
    # The error still points into the script where a `;` is really missing.
    assert errors("struct a { int x int y; }") == (
        "t.bt:1:18-21: ERROR: syntax error in C definitions, unexpected int\n"
        "struct a { int x int y; }\n                 ~~~\n")


def test_layout_errors():
    assert errors("struct a { struct nope n; }") == (
        "t.bt:1:24-25: ERROR: field has incomplete type 'struct nope'\n"
        "struct a { struct nope n; }\n                       ~\n")
    assert "width of bit-field 'x' (9 bits) exceeds the width of its type (8 bits)" in \
        errors("struct a { char x:9; }")
    assert "bit-field 'p' has non-integral type 'int8 *'" in errors("struct a { char *p:3; }")
    assert "use of undeclared identifier 'N'" in errors("struct a { char x[N]; }")
    assert "field has incomplete type 'struct a'" in errors("struct a { struct a self; }")


# ---- the type checker ---------------------------------------------------------------------

def analyse(src: str, btf=None):
    return driver.analyse(src, "t.bt", NoKernel(btf), driver.Options())


def test_script_struct_members_sizeof_offsetof_and_enums():
    prog = analyse("struct foo { int a; char name[8]; unsigned f:3; struct foo *next; }\n"
                   "enum { ONE = 1, TWO }\n"
                   "BEGIN { $p = (struct foo *)0; @a = $p->a; @n = $p->name; @f = $p->f; "
                   "@x = $p->next->a; @s = sizeof(struct foo); @o = offsetof(struct foo, next); "
                   "@e = TWO; }").program
    types = {n.field: n.type for n in _walk(prog) if getattr(n, "btf_member", None) is not None}
    assert types == {"a": Int(32, True), "name": String(8), "f": Int(32, False),
                     "next": Type(Kind.PTR, inner=Type(Kind.RECORD, name="struct foo", size=24))}
    fields = {n.field: n.btf_member for n in _walk(prog)
              if getattr(n, "btf_member", None) is not None}
    assert fields["a"].bit_offset == 0 and fields["name"].bit_offset == 32
    assert fields["f"] == (96, 3, 4) and fields["next"].bit_offset == 128
    sizeof = next(n for n in _walk(prog) if type(n).__name__ == "Sizeof")
    offsetof = next(n for n in _walk(prog) if type(n).__name__ == "Offsetof")
    assert sizeof.size == 24 and offsetof.offset == 16
    two = next(n for n in _walk(prog) if getattr(n, "name", None) == "TWO")
    assert two.enum_value == 2 and two.type == Int(64, False)


def test_script_errors_in_the_type_checker():
    with pytest.raises(DiagnosticError) as e:
        analyse("struct foo { int a; float f; }\nBEGIN { $p = (struct foo *)0; @ = $p->b; }")
    assert "Struct/union of type 'struct foo' does not contain a field named 'b'" in str(e.value)
    with pytest.raises(DiagnosticError) as e:
        analyse("struct foo { int a; float f; }\nBEGIN { $p = (struct foo *)0; @ = $p->f; }")
    assert "Field 'f' of 'struct foo' has type 'float', which pybpftrace does not support yet" \
        in str(e.value)


def test_script_definitions_win_over_btf(vmlinux):
    prog = analyse("struct sock { long only; }\nstruct x { struct sock s; int after; }\n"
                   "BEGIN { $s = (struct sock *)0; @ = $s->only; $x = (struct x *)0; "
                   "@b = $x->after; }", vmlinux).program
    fields = {n.field: n.btf_member for n in _walk(prog)
              if getattr(n, "btf_member", None) is not None}
    assert fields["only"].bit_offset == 0 and fields["after"].bit_offset == 64
    with pytest.raises(DiagnosticError) as e:
        analyse("struct sock { long only; }\nBEGIN { $s = (struct sock *)0; @ = $s->sk_state; }",
                vmlinux)
    assert "does not contain a field named 'sk_state'" in str(e.value)


def test_types_the_script_only_names_come_from_btf(vmlinux):
    prog = analyse("struct req { struct task_struct *task; }\n"
                   "BEGIN { $r = (struct req *)0; @ = $r->task->pid; @c = $r->task->comm; }",
                   vmlinux).program
    types = {n.field: n.type for n in _walk(prog) if getattr(n, "btf_member", None) is not None}
    assert types["pid"] == Int(32, True) and types["comm"] == String(16)
    assert types["task"].kind is Kind.PTR and types["task"].inner.btf_id


def _walk(node):
    from pybpftrace.lang import ast
    yield node
    for c in ast.children(node):
        yield from _walk(c)

"""The C preprocessor of a script's C definitions (lang.preprocess) and the
lexer's expansion of its macros: include search (-I, --include, the system
dirs, BTF standing in for missing kernel headers), macro expansion with the
macro use's location, and errors at the script's own lines and columns."""
import os
import re

import pytest
from fakekernel import NoKernel  # tests/unit/fakekernel.py

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError, Diagnostics
from pybpftrace.lang import preprocess as pp
from pybpftrace.lang.lexer import c_preamble, tokenize
from pybpftrace.lang.parser import parse
from pybpftrace.lang.printer import dump


def run_pp(src: str, have_btf=True, **kw):
    d = Diagnostics(src, "t.bt")
    out = pp.preprocess(src, "t.bt", d, have_btf=have_btf, **kw)
    return out, d


def expand(macros, text):
    value, errors = macros.expand(text)
    assert not errors
    return value


# ---- the C part of a script ------------------------------------------------------

def test_c_part_keeps_lines_and_columns_and_closes_struct_definitions():
    src = ("#!/usr/bin/bpftrace\n#include <x.h>\n  struct A { int a; }\n/* c */ #define B 1\n"
           "BEGIN { printf(\"%d\", 1); }\n")
    text = pp.c_part(src, c_preamble(src))
    assert [line.rstrip() for line in text.split("\n")[:4]] == [
        "", "#include <x.h>", "  struct A { int a; };", "        #define B 1"]
    assert "BEGIN" not in text and "bpftrace" not in text


def test_c_preamble_continues_define_lines():
    src = "#define SUM(a, b) \\\n    ((a) + (b))\nBEGIN { }"
    (tok,) = c_preamble(src)
    assert tok.kind == "CPREPROC" and tok.text == "#define SUM(a, b) \\\n    ((a) + (b))"


def test_no_c_definitions_no_preprocessing():
    assert c_preamble("BEGIN { exit(); }") == []


# ---- macros --------------------------------------------------------------------------

def test_object_and_function_like_macros():
    out, d = run_pp('#define A 2\n#define B (A + A)\n#define SQ(x) ((x) * (x))\n'
                    '#define STR(x) #x\n#define CAT(a, b) a##b\n#define C \'a\'\n'
                    '#define BIG 0x10UL\n#define HUGE 1ULL << 40\nBEGIN { }')
    assert not d.has_errors(), d.render()
    m = out.macros
    assert expand(m, "B") == "(2 + 2)"
    assert expand(m, "SQ($x + @m[1])") == "(($x + @m[1]) * ($x + @m[1]))"
    assert expand(m, "STR(hi there)") == '"hi there"'
    assert expand(m, "CAT(4, 2)") == "42"
    assert expand(m, "C") == "97"
    assert expand(m, "BIG") == "0x10" and expand(m, "HUGE") == "1 << 40"
    assert "SQ" in m and m.takes_args("SQ") and not m.takes_args("A")
    assert "__FILE__" not in m and "__DATE__" not in m


def test_macro_argument_count_is_checked():
    out, _ = run_pp("#define F(x) (x)\nBEGIN { }")
    value, errors = out.macros.expand("F(1, 2)")
    assert errors == ["Macro F requires 1 arguments but was passed 2"]


def test_have_btf_is_defined_with_btf():
    src = "#ifdef BPFTRACE_HAVE_BTF\n#define HAVE 1\n#else\n#define HAVE 0\n#endif\nBEGIN { }"
    assert expand(run_pp(src, have_btf=True)[0].macros, "HAVE") == "1"
    assert expand(run_pp(src, have_btf=False)[0].macros, "HAVE") == "0"


# ---- includes --------------------------------------------------------------------------

def test_missing_kernel_header_is_btf_and_builtin_macros():
    out, d = run_pp("#include <net/sock.h>\n#include <linux/no_such_header.h>\nBEGIN { }")
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "AF_INET") == "2"
    assert expand(out.macros, "AF_INET6") == "10"
    assert expand(out.macros, "O_CREAT") == "00000100"
    assert expand(out.macros, "TASK_UNINTERRUPTIBLE") == "0x00000002"
    assert out.text.count("__kernel_macros.h") <= 1  # included once


def test_missing_header_without_btf_is_an_error():
    _, d = run_pp("#include <net/sock.h>\nBEGIN { }", have_btf=False)
    assert d.render() == ("t.bt:1:11-21: ERROR: 'net/sock.h' file not found\n"
                          "#include <net/sock.h>\n          ~~~~~~~~~~\n")


def test_missing_header_outside_the_kernel_tree_is_an_error_even_with_btf():
    _, d = run_pp("#include <lol/no.h>\nBEGIN { }")
    assert d.render() == ("t.bt:1:11-19: ERROR: 'lol/no.h' file not found\n"
                          "#include <lol/no.h>\n          ~~~~~~~~\n")


def test_missing_quoted_include_is_an_error_at_its_name():
    _, d = run_pp('\n  #include "nothere.h" // x\nBEGIN { }')
    assert d.render() == ("t.bt:2:13-22: ERROR: 'nothere.h' file not found\n"
                          '  #include "nothere.h" // x\n            ~~~~~~~~~\n')


def test_system_headers_are_read():
    if not os.path.exists("/usr/include/linux/sched.h"):
        pytest.skip("no /usr/include/linux headers")
    out, d = run_pp("#include <sys/socket.h>\n#include <linux/sched.h>\nBEGIN { }")
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "SOCK_STREAM") == "SOCK_STREAM"  # glibc: an enumerator
    assert expand(out.macros, "CLONE_VM") == "0x00000100"
    assert "struct clone_args" in out.text


def test_include_dirs_and_quote_includes_relative_to_the_script(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.h").write_text('#include "two.h"\n#define ONE 1\n')
    (tmp_path / "a" / "two.h").write_text("#define TWO 2\n")
    out, d = run_pp("#include <one.h>\nBEGIN { }", include_dirs=[str(tmp_path / "a")])
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "ONE + TWO") == "1 + 2"
    script = tmp_path / "s.bt"
    src = '#include "a/one.h"\nBEGIN { }'
    d = Diagnostics(src, str(script))
    out = pp.preprocess(src, str(script), d)
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "TWO") == "2"


def test_include_files_come_first(tmp_path, monkeypatch):
    (tmp_path / "first.h").write_text("#define FIRST 7\n")
    monkeypatch.chdir(tmp_path)
    out, d = run_pp("#define SECOND (FIRST + 1)\nBEGIN { }", includes=["first.h"])
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "SECOND") == "(7 + 1)"
    _, d = run_pp("BEGIN { }", includes=["nothere.h"])
    assert d.render() == "ERROR: --include: 'nothere.h' file not found\n"


def test_error_directive():
    _, d = run_pp("\n#error not on this kernel\nBEGIN { }")
    assert d.render() == ("t.bt:2:1-26: ERROR: #error not on this kernel\n"
                          "#error not on this kernel\n~~~~~~~~~~~~~~~~~~~~~~~~~\n")


def test_line_markers_name_the_script():
    out, _ = run_pp("\n\nstruct A { int a; };\nBEGIN { }")
    assert out.text == '#line 3 "t.bt"\nstruct A { int a; };\n'



# ---- GNU attributes -----------------------------------------------------------------------

def test_attributes_are_blanked_and_record_ones_become_markers():
    text = ("struct a { char c; } __attribute__((packed));\n"
            "struct __attribute__ ((__packed__)) b { char c;\n"
            "  int i __attribute__((aligned(8)));\n};\n"
            "typedef unsigned long long u64 __attribute__((aligned(8)));\n"
            "struct c { int x; } __attribute__((packed, aligned(sizeof(long))));\n")
    out = pp.gnu_attributes(text)
    mark = pp.ATTRIBUTE_MARK
    lines = out.split("\n")
    assert "__attribute" not in out and len(lines) == len(text.split("\n"))
    assert lines[0].startswith(f"struct a {{ char c; {mark} __pybpftrace_packed[1]; }}")
    assert lines[2] == "  int i" + " " * 28 + ";"
    assert lines[3] == f"{mark} __pybpftrace_packed[1]; }};"
    assert lines[4] == "typedef unsigned long long u64" + " " * 28 + ";"
    assert f"{mark} __pybpftrace_aligned[sizeof(long)]; }}" in lines[5]


def test_builtin_kernel_macros_agree_with_btf_enums():
    """Where the kernel has an enum for what the built-in header defines
    (socket types, TCP states, IP protocols), the values must agree."""
    btf = pytest.importorskip("pybpftrace.btf")
    try:
        b = btf.vmlinux()
    except (btf.BtfError, OSError):
        pytest.skip("no kernel BTF")
    header = open(pp.KERNEL_MACROS).read()
    out, _ = run_pp("#include <net/sock.h>\nBEGIN { }")
    checked = 0
    for name in re.findall(r"^#define ((?:TCP|SOCK|IPPROTO)_\w+)\s", header, re.M):
        found = b.enum_value(name)
        if found is not None:
            assert int(expand(out.macros, name), 0) == found[0], name
            checked += 1
    assert checked >= 20


# ---- the lexer's macro expansion ----------------------------------------------------------

def analyse(src: str) -> driver.Analysed:
    return driver.analyse(src, "t.bt", NoKernel(), driver.Options())


def error_of(src: str) -> str:
    with pytest.raises(DiagnosticError) as e:
        analyse(src)
    return str(e.value)


def test_expanded_tokens_carry_the_macro_use_location():
    src = '#define BAD ("a" + 1)\n#define F(x) ((x) + "s")\nBEGIN { $y = BAD; }\n'
    err = error_of(src)
    assert err.startswith("t.bt:3:14-17: ERROR: ")
    assert "BEGIN { $y = BAD; }\n             ~~~\n" in err
    err = error_of('#define F(x) ((x) + "s")\nBEGIN {\n  $y = F(1 +\n 2);\n}')
    assert err.startswith("t.bt:3-4: ERROR: ")


def test_macros_in_bodies_and_predicates():
    prog = analyse("#define ME 42\n#define TWICE(v) (2 * (v))\n"
                   "BEGIN /ME == 42/ { @[TWICE(ME)] = count(); }").program
    text = dump(prog)
    assert "int: 42" in text and "int: 2" in text


def test_builtins_keywords_and_tags_are_not_replaced():
    diags = Diagnostics()
    out = pp.preprocess("#define pid 1\n#define foo 2\n#define F(x) x\nBEGIN { }", "t.bt", diags)
    toks = tokenize("BEGIN { pid; (struct foo *)0; F; }", diags)
    assert not diags.has_errors()
    body = [t.text for t in toks if t.kind != "EOF"]
    assert body == ["BEGIN", "{", "pid", ";", "(", "struct", "foo", "*", ")", "0", ";", "F", ";",
                    "}"]
    parsed = parse("BEGIN { pid; (struct foo *)0; F; foo; }", diags, out.macros)
    assert parsed is not None and not diags.has_errors(), diags.render()
    assert "int: 2" in dump(parsed)


def test_a_bad_expansion_is_reported_at_the_use():
    err = error_of("#define X 1 $\nBEGIN { @ = X; }")
    assert err.startswith("t.bt:2:13-14: ERROR: invalid character '$' (in the expansion of "
                          "macro X: 1 $)")


def test_kernel_header_trees_give_macros_only(tmp_path, monkeypatch):
    """With /lib/modules/$(uname -r)/build, kernel headers are found first; their
    GNU C declarations are not read (BTF has the types) nor their errors shown."""
    inc = tmp_path / "include" / "net"
    inc.mkdir(parents=True)
    (inc / "sock.h").write_text("#include <generated/autoconf.h>\n#define SK_MAGIC 99\n"
                                "struct sock { __weird_gnu_c x; };\n#error kernel build only\n")
    monkeypatch.setattr(pp, "kernel_header_dirs", lambda: [str(tmp_path / "include")])
    out, d = run_pp("#include <net/sock.h>\nBEGIN { }", have_btf=False)
    assert not d.has_errors(), d.render()
    assert expand(out.macros, "SK_MAGIC") == "99" and expand(out.macros, "__KERNEL__") == "1"
    assert "struct sock" not in out.text


@pytest.mark.parametrize("directive, message", [
    ("#define", "macro name missing"),
    ("#undef", "macro name missing"),
    ("#ifdef", "macro name missing"),
    ("#if", "#if with no expression"),
    ("#include", '#include expects "FILENAME" or <FILENAME>'),
    ("#if 1", "Unterminated #if 1"),
    ("#endif", "Misplaced #endif"),
])
def test_malformed_directives_are_errors(directive, message):
    _, d = run_pp(f"{directive}\nBEGIN {{ }}")
    assert d.render().startswith(f"t.bt:1:1-{len(directive) + 1}: ERROR: {message}\n")


def test_a_header_including_itself_stops(tmp_path):
    (tmp_path / "self.h").write_text('#include "self.h"\n')
    _, d = run_pp('#include "self.h"\nBEGIN { }', include_dirs=[str(tmp_path)])
    assert f"{tmp_path}/self.h:1: #include nested depth 201 exceeds maximum of 200" in d.render()

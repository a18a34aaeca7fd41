"""Tokenizer tests: token kinds and values, bpftrace 0.17 locations, the
attach-point / predicate states, literals, and lexical errors with their wording."""
import pytest

from pybpftrace.diag import Diagnostics, Location
from pybpftrace.lang.lexer import Token, describe, string_bytes, tokenize


def lex(src: str) -> tuple[list[Token], Diagnostics]:
    d = Diagnostics(src)
    return tokenize(src, d), d


def kinds(src: str) -> list[str]:
    toks, d = lex(src)
    assert not d.has_errors(), d.render()
    return [t.kind for t in toks]


def body(src: str) -> list[Token]:
    """Tokens of `src` placed inside a probe body (without BEGIN { ... } EOF)."""
    toks, d = lex("BEGIN { " + src + " }")
    assert not d.has_errors(), d.render()
    return toks[2:-2]


def values(src: str) -> list:
    return [t.value if t.value is not None else t.kind for t in body(src)]


# ---- basic tokens -------------------------------------------------------------

def test_probe_structure_tokens():
    assert kinds("BEGIN { @x = 1; }") == ["ATTACH", "{", "MAP", "=", "INT", ";", "}", "EOF"]


def test_identifiers_variables_maps_params():
    toks = body("pid $x $_y1 @m @ @_2 $1 $12 $# foo_bar")
    assert [(t.kind, t.value) for t in toks] == [
        ("IDENT", "pid"), ("VAR", "x"), ("VAR", "_y1"), ("MAP", "m"), ("MAP", ""), ("MAP", "_2"),
        ("PARAM", 1), ("PARAM", 12), ("PARAMCOUNT", None), ("IDENT", "foo_bar")]


def test_keywords():
    for kw in ("if", "else", "unroll", "while", "for", "return", "continue", "break", "let"):
        assert [t.kind for t in body(kw)] == [kw]
    assert [t.kind for t in body("iff sizeof")] == ["IDENT", "IDENT"]


@pytest.mark.parametrize("op", [
    "<<=", ">>=", "->", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "==", "!=",
    "<=", ">=", "<<", ">>", "&&", "||", "..", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~",
    "<", ">", "=", "?", ":", ";", ",", ".", "(", ")", "[", "]",
])
def test_every_operator(op):
    assert [t.kind for t in body("$a " + op + " $b")] == ["VAR", op, "VAR"]


def test_longest_match():
    assert [t.kind for t in body("$a<<=$b>>$c->d++")] == ["VAR", "<<=", "VAR", ">>", "VAR", "->", "IDENT", "++"]
    assert [t.kind for t in body("0..10")] == ["INT", "..", "INT"]
    assert [t.kind for t in body("$t.0")] == ["VAR", ".", "INT"]


def test_comments_and_shebang():
    src = "#!/usr/bin/env bpftrace\n// line\nBEGIN /* block\n spanning */ { 1 // tail\n }"
    assert kinds(src) == ["ATTACH", "{", "INT", "}", "EOF"]


# ---- locations ----------------------------------------------------------------

def test_locations_are_one_based_and_end_exclusive():
    toks, _ = lex("BEGIN {\n  @x = 10;\n}")
    assert toks[0].loc == Location(1, 1, 1, 6)
    assert toks[2].loc == Location(2, 3, 2, 5)     # @x
    assert toks[4].loc == Location(2, 8, 2, 10)    # 10


def test_token_starts_at_its_run_like_bpftrace():
    """bpftrace only moves a token's start past blanks: `$x` in `print($x)` spans `print($x`."""
    toks = body("print($x)")
    assert toks[2].kind == "VAR" and toks[2].loc == Location(1, 9, 1, 17)
    assert toks[0].loc == Location(1, 9, 1, 14)


def test_attach_point_after_comma_starts_afresh():
    toks, _ = lex("k:f,k:g { }")
    assert toks[0].loc == Location(1, 1, 1, 4)
    assert toks[2].loc == Location(1, 5, 1, 8)


def test_eof_location():
    toks, _ = lex("BEGIN { 1 ")
    assert toks[-1].kind == "EOF" and toks[-1].loc == Location(1, 11, 1, 11)


# ---- integer literals ---------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("0", 0), ("123", 123), ("0x1F", 31), ("0X1f", 31), ("0777", 511), ("00", 0),
    ("1_000", 1000), ("1__0", 10), ("0_7", 7), ("1e3", 1000), ("1E3", 1000), ("1e0", 1),
    ("5e16", 5 * 10 ** 16), ("10u", 10), ("10UL", 10), ("10Ul", 10), ("10ll", 10), ("10ULL", 10),
    ("10l", 10), ("1e3u", 1000),
    ("9223372036854775807", 2 ** 63 - 1),
    ("9223372036854775808", -2 ** 63),          # int64 wrap, as 0.17
    ("18446744073709551615", -1), ("0xffffffffffffffff", -1),
])
def test_integer_literals(text, value):
    toks = body(text)
    assert len(toks) == 1 and toks[0].kind == "INT" and toks[0].value == value


def test_number_followed_by_identifier_characters():
    assert [(t.kind, t.text) for t in body("1_")] == [("INT", "1"), ("IDENT", "_")]
    assert [(t.kind, t.text) for t in body("0x")] == [("INT", "0"), ("IDENT", "x")]
    assert [(t.kind, t.text) for t in body("0x10ul")] == [("INT", "0x10"), ("IDENT", "ul")]
    assert [(t.kind, t.text) for t in body("5e")] == [("INT", "5"), ("IDENT", "e")]


@pytest.mark.parametrize("text,message", [
    ("12e4", "Coefficient part of scientific literal must be in range (0,9), got: 12"),
    ("1_1e100", "Coefficient part of scientific literal must be in range (0,9), got: 11"),
    ("1e17", "Exponent will overflow integer range: 17"),
    ("08", "Found trailing non-numeric characters"),
    ("18446744073709551616", "Integer literal out of range: 18446744073709551616"),
    ("0x10000000000000000", "Integer literal out of range: 0x10000000000000000"),
])
def test_bad_integer_literals_are_reported_and_dropped(text, message):
    toks, d = lex("BEGIN { " + text + "; }")
    assert [e.message for e in d.errors] == [message]
    assert [t.kind for t in toks] == ["ATTACH", "{", ";", "}", "EOF"]


def test_bad_integer_location():
    _, d = lex("k:f { print(1e17); }")
    assert d.render().splitlines()[0] == "stdin:1:7-17: ERROR: Exponent will overflow integer range: 17"


# ---- string literals ----------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    (r'"abc"', "abc"), (r'""', ""), (r'"a\nb"', "a\nb"), (r'"\t\r"', "\t\r"),
    (r'"\\"', "\\"), (r'"\""', '"'), (r'"\x41\x4"', "A\x04"), (r'"\x4g"', "\x04g"),
    (r'"\101\1012"', "AA2"), (r'"\0"', "\x00"), (r'"%d\n"', "%d\n"), ('"é"', "é"),
    (r'"\xff\377"', "\udcff\udcff"),
])
def test_string_escapes(text, value):
    toks = body(text)
    assert [t.kind for t in toks] == ["STRING"] and toks[0].value == value


def test_high_escapes_encode_to_the_exact_bytes():
    (tok,) = body(r'"\xff\x80é\n"')
    assert string_bytes(tok.value) == b"\xff\x80\xc3\xa9\n"
    assert string_bytes("\ud800") == b"\xed\xa0\x80"  # a stray surrogate in the source text


@pytest.mark.parametrize("esc", ["q", "8", "e", "a", "x", "'", "?"])
def test_invalid_escape(esc):
    src = 'BEGIN { $x = "\\' + esc + '"; }'
    toks, d = lex(src)
    assert d.render() == (
        f"stdin:1:14-17: ERROR: invalid escape character '\\{esc}'\n{src}\n"
        + " " * 13 + "~~~\n")
    assert "STRING" in [t.kind for t in toks]  # lexing goes on, like bpftrace


def test_octal_escape_out_of_range():
    _, d = lex(r'BEGIN { print("\777"); }')
    assert d.errors[0].message == r"octal escape sequence out of range '\777'"
    assert d.errors[0].loc == Location(1, 9, 1, 20)


def test_unterminated_string_ends_the_stream():
    src = 'BEGIN { printf("abc); }'
    toks, d = lex(src)
    assert toks[-1].kind == "EOF"
    assert d.render() == f"stdin:1:9-24: ERROR: unterminated string\n{src}\n        " + "~" * 15 + "\n"


def test_unterminated_string_at_newline_includes_it():
    toks, d = lex('BEGIN { printf("abc\n); }')
    assert d.errors[0].loc == Location(1, 9, 1, 21)
    assert toks[-1].kind == "EOF"


def test_backslash_newline_does_not_continue_a_string():
    _, d = lex('BEGIN { "ab\\\ncd"; }')
    assert d.errors[0].message == "unterminated string"


# ---- lexical errors ----------------------------------------------------------

def test_invalid_character_stops():
    src = "BEGIN { @x = 1 ` }"
    toks, d = lex(src)
    assert toks[-1].kind == "ERROR"
    assert d.render() == f"stdin:1:16-17: ERROR: invalid character '`'\n{src}\n" + " " * 15 + "~\n"


def test_lone_dollar_is_invalid():
    _, d = lex("BEGIN { $ }")
    assert d.errors[0].message == "invalid character '$'"


def test_unterminated_comment():
    src = "BEGIN { 1 } /* unterminated"
    toks, d = lex(src)
    assert toks[-1].kind == "ERROR"
    assert d.errors[0].message == "end of file during comment"
    assert d.errors[0].loc == Location(1, 13, 1, 28)


# ---- attach points ------------------------------------------------------------

def attach_points(src: str) -> list[str]:
    toks, d = lex(src)
    assert not d.has_errors(), d.render()
    return [t.value for t in toks if t.kind == "ATTACH"]


@pytest.mark.parametrize("ap", [
    "BEGIN", "END", "kprobe:vfs_read", "k:f+0x10", "kretprobe:vfs_*", "tracepoint:syscalls:sys_enter_*",
    "t:syscalls:sys_enter_[or]*", "uprobe:/bin/bash:readline", "ur:/bin/bash:readline",
    "usdt:/usr/lib/x.so:p", "usdt:/usr/lib/x.so:prov:p", 'uprobe:"/path with space":f',
    'uprobe:/bin/bash:"readline"', "software:major-faults:1", "hardware:cpu-cycles:1000000",
    "interval:s:10", "profile:hz:99", "kprobe:f.isra.0", "kprobe:$1", "w:0x1000:8:rw",
    "uprobe:/lib/libc.so.6:malloc", "kprobe:mod:f",
])
def test_attach_point_text(ap):
    assert attach_points(ap + " { 1 }") == [ap]
    assert attach_points(ap + "{ 1 }") == [ap]


def test_attach_point_list_over_lines():
    assert attach_points("BEGIN\n,\nEND,k:f { 1 }") == ["BEGIN", "END", "k:f"]


def test_slash_before_colon_opens_predicate():
    assert kinds("BEGIN/1/{ 1 }") == ["ATTACH", "/", "INT", "ENDPRED", "{", "INT", "}", "EOF"]


def test_slash_after_colon_is_a_path():
    """As in bpftrace, `kprobe:f/pid/{` is one attach point."""
    assert attach_points("kprobe:vfs_read/pid/{ 1 }") == ["kprobe:vfs_read/pid/"]


def test_predicate_after_space_or_newline():
    assert kinds("kprobe:f /pid/ { 1 }")[:4] == ["ATTACH", "/", "IDENT", "ENDPRED"]
    assert kinds("kprobe:f\n/pid/\n{ 1 }")[:4] == ["ATTACH", "/", "IDENT", "ENDPRED"]


def test_division_inside_predicate():
    assert kinds("k:f /pid / 2/ { 1 }")[:6] == ["ATTACH", "/", "IDENT", "/", "INT", "ENDPRED"]
    assert kinds("k:f /pid/2/ { 1 }")[:6] == ["ATTACH", "/", "IDENT", "/", "INT", "ENDPRED"]


def test_predicate_end_before_comment():
    assert kinds("k:f /pid/ // c\n{ 1 }")[:5] == ["ATTACH", "/", "IDENT", "ENDPRED", "{"]
    assert kinds("k:f /pid // c\n/ { 1 }")[:5] == ["ATTACH", "/", "IDENT", "ENDPRED", "{"]


def test_second_predicate_is_a_plain_slash():
    assert kinds("k:f /pid/ /tid/ { 1 }")[:5] == ["ATTACH", "/", "IDENT", "ENDPRED", "/"]


def test_braces_in_body_do_not_end_the_probe():
    src = "BEGIN { if (1) { @x = 1 } } END { }"
    assert attach_points(src) == ["BEGIN", "END"]


def test_unterminated_quote_in_attach_point():
    toks, d = lex('uprobe:"/bin/bash:f { }')
    assert d.errors[0].message == "unterminated string"
    assert toks[-1].kind == "EOF"


# ---- C preamble ------------------------------------------------------------

def test_preprocessor_lines():
    toks, _ = lex("#include <linux/sched.h>\n  #define X 1\nBEGIN { }")
    assert [(t.kind, t.value) for t in toks[:2]] == [
        ("CPREPROC", "#include <linux/sched.h>"), ("CPREPROC", "#define X 1")]


def test_struct_definitions():
    src = "struct X { int a; struct { int b; } c; };\nunion U { int a; }\nenum E { A, B };\nBEGIN { }"
    toks, _ = lex(src)
    assert [(t.kind, t.value) for t in toks[:3]] == [
        ("STRUCT_DEFN", "struct X { int a; struct { int b; } c; };"),
        ("STRUCT_DEFN", "union U { int a; }"),
        ("STRUCT_DEFN", "enum E { A, B };"),
    ]
    assert toks[0].loc == Location(1, 1, 1, 42)


def test_struct_keyword_in_body_is_a_keyword():
    assert [t.kind for t in body("(struct sock *)arg0")] == ["(", "struct", "IDENT", "*", ")", "IDENT"]


# ---- token names for syntax errors ---------------------------------------------------

@pytest.mark.parametrize("src,name", [
    ("pid", "builtin"), ("arg3", "builtin"), ("args", "builtin"), ("kstack", "call_builtin"),
    ("printf", "call"), ("count", "call"), ("sizeof", "call"), ("perf", "stack_mode"),
    ("foo", "identifier"), ("raw", "identifier"), ("1", "integer"), ('"s"', "string"),
    ("$x", "variable"), ("@x", "map"), ("$1", "positional parameter"), ("$#", "$#"),
    ("if", "if"), (";", ";"), ("+=", "+="),
])
def test_describe(src, name):
    (tok,) = body(src)
    assert describe(tok) == name

"""The C preprocessor of a script's C definitions: `#include`, `#define`, -I, --include.

bpftrace 0.17 hands the C part of a script (the `#` lines and the struct,
union and enum definitions before the first probe) to clang, keeps every
macro clang saw, and parses the program again with its lexer replacing macro
names by their values.  We do the same with pcpp, a C99 preprocessor in Python:

* `preprocess()` runs pcpp over the C part *at its own lines and columns*
  (the rest of the file is blanked), so C errors point into the script.  It
  returns C text with `#line` markers (for semantic.cdefs) and the macros
  (`Macros`), which the lexer expands in probe bodies and predicates.
* Search path: -I dirs, our compiler headers (include/: stddef.h, stdarg.h,
  stdbool.h), the kernel header trees if installed, /usr/local/include,
  /usr/include/<arch>-linux-gnu, /usr/include.  Kernel trees give macros
  only: their declarations are GNU C, and kernel types come from BTF.
* With BTF (then BPFTRACE_HAVE_BTF is defined, as bpftrace defines it), an
  `#include <...>` of a kernel header (under a directory of the kernel's
  include tree: linux/, net/, asm/, ...) found nowhere is not an error: BTF
  has its types.  Any other missing header is, as with bpftrace.  BTF has no macros, so include/__kernel_macros.h
  (AF_INET, O_*, TASK_*, ...) is included in its place, once.  bpftrace 0.17
  on a machine without kernel headers fails there instead ("fatal error:
  'net/sock.h' file not found").
* GNU C that pycparser cannot read is defined away (`__extension__`,
  `__asm__`, ...); `__GNUC__` stays undefined, so glibc's headers take their
  portable branches.  `__attribute__((...))` is blanked out after
  preprocessing, except that `packed` and `aligned(N)` on a struct or union
  become marker members (`ATTRIBUTE_MARK`) that semantic.cdefs lays out by.
"""
from __future__ import annotations

import io
import os
import platform
import re
from dataclasses import dataclass

from pcpp import Action, OutputDirective, Preprocessor

from pybpftrace.diag import Diagnostics, Location
from pybpftrace.lang.lexer import Token, c_preamble

INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
KERNEL_MACROS = os.path.join(INCLUDE_DIR, "__kernel_macros.h")
# The top directories of a kernel header tree (include/ and arch/*/include/):
# a missing header under one of these stands for kernel types, which BTF has.
KERNEL_HEADER_DIRS = frozenset((
    "acpi", "asm", "asm-generic", "clocksource", "crypto", "drm", "dt-bindings", "keys",
    "kvm", "linux", "math-emu", "media", "misc", "net", "pcmcia", "ras", "rdma", "scsi",
    "soc", "sound", "target", "trace", "uapi", "vdso", "video", "xen"))

# What a C compiler for x86_64 Linux predefines and glibc's headers look at,
# and GNU C words pycparser does not know (their meaning does not change the
# layout of anything we lay out on x86_64).
PREDEFINED = [
    "__STDC__ 1", "__STDC_VERSION__ 201112L", "__STDC_HOSTED__ 1",
    "__linux__ 1", "__linux 1", "__unix__ 1", "__unix 1", "__ELF__ 1",
    "__x86_64__ 1", "__x86_64 1", "__amd64__ 1", "__amd64 1", "__LP64__ 1", "_LP64 1",
    "__CHAR_BIT__ 8", "__SIZEOF_SHORT__ 2", "__SIZEOF_INT__ 4", "__SIZEOF_LONG__ 8",
    "__SIZEOF_LONG_LONG__ 8", "__SIZEOF_POINTER__ 8", "__SIZEOF_SIZE_T__ 8",
    "__ORDER_LITTLE_ENDIAN__ 1234", "__ORDER_BIG_ENDIAN__ 4321", "__ORDER_PDP_ENDIAN__ 3412",
    "__BYTE_ORDER__ __ORDER_LITTLE_ENDIAN__",
    "__SIZE_TYPE__ unsigned long", "__PTRDIFF_TYPE__ long", "__WCHAR_TYPE__ int",
    "__signed__ signed", "__signed signed", "__inline__ inline", "__inline inline",
    "__restrict restrict", "__restrict__ restrict", "__volatile__ volatile", "__const const",
    "__extension__", "__asm__(x)", "__asm(x)",
]
# Left to gnu_attributes(): a header's own definition of these (glibc's cdefs.h
# defines __attribute__ away for compilers other than gcc) is ignored.
ATTRIBUTE_WORDS = frozenset({"__attribute__", "__attribute"})
# The type of the marker members that carry a record's attributes:
# `ATTRIBUTE_MARK __pybpftrace_packed[1];`, `ATTRIBUTE_MARK __pybpftrace_aligned[N];`.
ATTRIBUTE_MARK = "__pybpftrace_attribute"
# Directives that need an argument (pcpp fails on them without one), and clang's
# complaint when it is missing.
_ARGUMENT_NEEDED = {"define": "macro name missing", "undef": "macro name missing",
                    "ifdef": "macro name missing", "ifndef": "macro name missing",
                    "if": "#if with no expression", "elif": "#elif with no expression",
                    "include": "#include expects \"FILENAME\" or <FILENAME>"}
MAX_INCLUDE_DEPTH = 200
# pcpp's own macros: not C definitions of the script.
PCPP_MACROS = frozenset({"__DATE__", "__TIME__", "__PCPP__", "__FILE__", "__LINE__", "__COUNTER__"})

_ATTRIBUTE = re.compile(r"\b__attribute(?:__)?\s*\(\s*\(")
_PACKED = re.compile(r"\b(?:__)?packed(?:__)?\b")
_ALIGNED = re.compile(r"\b(?:__)?aligned(?:__)?\b(?:\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\))?")
_RECORD_BODY = re.compile(r"\s*(?:[A-Za-z_]\w*\s*)?\{")
_INT_SUFFIX = re.compile(r"^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*$")
_SUFFIX_REST = re.compile(r"^[uUlL]+$")  # pcpp reads 1ULL as 1UL, L
_CHAR_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8,
                 "f": 12, "v": 11}


@dataclass
class Preprocessed:
    text: str        # the C definitions, preprocessed, with #line markers
    macros: "Macros"


def kernel_header_dirs() -> list[str]:
    """The include dirs of the running kernel's header tree, as bpftrace's
    get_kernel_cflags() lists them; [] when /lib/modules/$(uname -r) has none."""
    base = os.path.join("/lib/modules", os.uname().release)
    ksrc, kobj = os.path.join(base, "source"), os.path.join(base, "build")
    if not os.path.isdir(ksrc):
        ksrc = kobj
    if not os.path.isdir(kobj):
        kobj = ksrc
    if not os.path.isdir(ksrc):
        return []
    arch = "x86" if platform.machine() == "x86_64" else platform.machine()
    dirs = [f"{ksrc}/arch/{arch}/include", f"{kobj}/arch/{arch}/include/generated",
            f"{ksrc}/include", f"{kobj}/include", f"{ksrc}/arch/{arch}/include/uapi",
            f"{kobj}/arch/{arch}/include/generated/uapi", f"{ksrc}/include/uapi",
            f"{kobj}/include/generated/uapi"]
    return list(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


def system_include_dirs() -> list[str]:
    machine = platform.machine()
    return [d for d in ("/usr/local/include", f"/usr/include/{machine}-linux-gnu", "/usr/include")
            if os.path.isdir(d)]


def c_part(source: str, preamble: list[Token]) -> str:
    """The C definitions (`preamble`, lexer.c_preamble()) of `source` at their
    own lines and columns, all else blanked.  A struct definition gets the `;`
    that bpftrace's grammar adds."""
    if not preamble:
        return ""
    starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
    last = preamble[-1]
    out = [c if c == "\n" else " " for c in source[:starts[last.loc.line - 1] + last.loc.col - 1
                                                        + len(last.text)]]
    for t in reversed(preamble):  # from the end, so that an added `;` moves nothing still to do
        pos = starts[t.loc.line - 1] + t.loc.col - 1
        text = t.text + (";" if t.kind == "STRUCT_DEFN" and not t.text.endswith(";") else "")
        out[pos:pos + len(t.text)] = text
    return "".join(out) + "\n"


def preprocess(source: str, filename: str, diags: Diagnostics, include_dirs=(), includes=(),
               have_btf: bool = False) -> Preprocessed:
    """Run the C preprocessor over the C definitions of `source` (after the
    `--include` files); errors go to `diags`."""
    preamble = c_preamble(source)
    kernel_dirs = kernel_header_dirs()
    cpp = _Cpp(have_btf, kernel_dirs)
    for d in [*include_dirs, INCLUDE_DIR, *kernel_dirs, *system_include_dirs()]:
        cpp.add_path(d)
    # `#line` markers name the script as diagnostics do, headers by absolute path.
    cpp.rewrite_paths = [(re.escape(os.path.abspath(filename)) + "$",
                          filename.replace("\\", "\\\\"))]
    for d in PREDEFINED:
        cpp.define(d)
    if kernel_dirs:
        cpp.define("__KERNEL__ 1")
    if have_btf:
        cpp.define("BPFTRACE_HAVE_BTF 1")
    out = io.StringIO()
    lines = []
    for name in includes:  # clang's -include: the working directory first, then the path
        if os.path.isfile(name):
            lines.append(f'#include "{os.path.abspath(name)}"')
        elif cpp.find(name, system=True):
            lines.append(f"#include <{name}>")
        else:  # named on the command line: a file the user has, not a stand-in for BTF
            diags.error(f"--include: '{name}' file not found")
    if lines:
        cpp.parse("\n".join(lines) + "\n", "<command line>")
        cpp.write(out)
    cpp.parse(c_part(source, preamble), filename)
    cpp.write(out)
    text = gnu_attributes(out.getvalue())
    _report(cpp.errors, diags, filename, source)
    for file, line, message in cpp.warnings:
        diags.warning(f"{file}:{line}: {message}")
    return Preprocessed(text, Macros(cpp))


def gnu_attributes(text: str) -> str:
    """`text` with every `__attribute__((...))` blanked (lines and columns
    stay), and a marker member for `packed` / `aligned(N)` of a struct or union
    put before the record's closing brace: an attribute after the `}` or right
    after the `struct` keyword is the record's.  Others (of members, typedefs,
    functions) are dropped."""
    out = list(text)
    marks: list[tuple[int, str]] = []
    for m in _ATTRIBUTE.finditer(text):
        end = _close(text, m.end() - 2)
        body = text[m.end():end]
        out[m.start():end] = re.sub(r"[^\n]", " ", text[m.start():end])
        mark = ""
        if _PACKED.search(body):
            mark += f"{ATTRIBUTE_MARK} __pybpftrace_packed[1]; "
        aligned = _ALIGNED.search(body)
        if aligned:
            mark += f"{ATTRIBUTE_MARK} __pybpftrace_aligned[{aligned.group(1) or 16}]; "
        closing = _record_end(text, m.start(), end) if mark else None
        if closing is not None:
            marks.append((closing, mark))
    for pos, mark in sorted(marks, reverse=True):
        out[pos:pos] = mark
    return "".join(out)


def _close(text: str, open_paren: int) -> int:
    """The index just past the `)` that matches the `(` at `open_paren`."""
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return len(text)


def _record_end(text: str, start: int, end: int) -> int | None:
    """The `}` of the record an attribute at text[start:end] belongs to, or None."""
    i = start - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    if i >= 0 and text[i] == "}":
        return i
    if not re.search(r"\b(?:struct|union)$", text[max(0, i - 6):i + 1]):
        return None
    body = _RECORD_BODY.match(text, end)
    if body is None:
        return None
    depth = 0
    for i in range(body.end() - 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None


def _report(errors, diags: Diagnostics, filename: str, source: str) -> None:
    lines = source.split("\n")
    for file, line, message, needle in errors:
        if file == filename and 0 < line <= len(lines):
            text = lines[line - 1]
            col = text.find(needle) + 1 if needle and needle in text else \
                len(text) - len(text.lstrip()) + 1
            width = len(needle) if needle and needle in text else len(text.strip())
            diags.error(message, Location(line, col, line, col + max(width, 1)))
        elif file == "<command line>":
            diags.error(f"--include: {message}")
        else:
            diags.error(f"{file}:{line}: {message}")


class _Cpp(Preprocessor):
    """pcpp with bpftrace's include rules (see the module docstring) and its
    messages collected instead of printed."""

    def __init__(self, have_btf: bool, kernel_dirs: list[str]):
        super().__init__()
        self.line_directive = "#line"
        self.have_btf = have_btf
        self.kernel_dirs = [os.path.join(d, "") for d in kernel_dirs]
        self.kernel_macros_done = False
        self.errors: list[tuple[str, int, str, str | None]] = []  # file, line, message, text
        self.warnings: list[tuple[str, int, str]] = []

    def _in_kernel_tree(self, path: str | None) -> bool:
        return bool(path) and any(os.path.abspath(path).startswith(k) for k in self.kernel_dirs)

    def _complain(self, file, line, message, text=None):
        """Record an error, except in a kernel header tree: those headers are read
        for their macros on a best-effort basis (they are GNU C for a kernel build)."""
        if not self._in_kernel_tree(file):
            self.errors.append((file, line, message, text))

    def on_error(self, file, line, msg):
        self._complain(file, line, msg)
        self.return_code += 1

    def define(self, tokens):
        name = (self.tokenize(tokens) if isinstance(tokens, str) else tokens)[0].value
        if name not in ATTRIBUTE_WORDS:
            super().define(tokens)

    def on_directive_handle(self, directive, toks, ifpassthru, precedingtoks):
        super().on_directive_handle(directive, toks, ifpassthru, precedingtoks)
        if directive.value in _ARGUMENT_NEEDED and not self.tokenstrip(list(toks)):
            self._complain(directive.source, directive.lineno, _ARGUMENT_NEEDED[directive.value])
            raise OutputDirective(Action.IgnoreAndRemove)
        return True

    def on_file_open(self, is_system_include, includepath):
        return open(includepath, encoding="utf-8", errors="replace")

    def on_directive_unknown(self, directive, toks, ifpassthru, precedingtoks):
        text = "".join(t.value for t in toks).strip()
        if directive.value == "error":
            self._complain(directive.source, directive.lineno, f"#error {text}")
        elif directive.value == "warning" and not self._in_kernel_tree(directive.source):
            self.warnings.append((directive.source, directive.lineno, f"#warning {text}"))
        elif directive.value in ("pragma", "line"):
            return None  # pycparser reads these
        return True  # others (#include_next, #ident, ...) have no meaning here

    def include(self, tokens, original_line):
        if self.include_depth > MAX_INCLUDE_DEPTH:
            d = self.lastdirective
            self._complain(d.source, d.lineno, f"#include nested depth {self.include_depth} "
                           f"exceeds maximum of {MAX_INCLUDE_DEPTH}")
            return
        name, system = self._include_name(tokens)
        if name is None:  # malformed: pcpp says so
            yield from super().include(tokens, original_line)
            return
        found = self.find(name, system)
        if found is None:
            if system and self.have_btf and _kernel_header(name):  # its types are in BTF
                if not self.kernel_macros_done:
                    self.kernel_macros_done = True
                    yield from super().include(self.tokenize(f'"{KERNEL_MACROS}"'), original_line)
                return
            d = self.lastdirective
            self._complain(d.source, d.lineno, f"'{name}' file not found", name)
            return
        if self._in_kernel_tree(found):
            for _ in super().include(tokens, original_line):
                pass  # macros only
            return
        yield from super().include(tokens, original_line)

    def _include_name(self, tokens) -> tuple[str | None, bool]:
        tokens = self.tokenstrip(list(tokens))
        if tokens and tokens[0].value != "<" and tokens[0].type != self.t_STRING:
            tokens = self.tokenstrip(self.expand_macros(tokens))
        if not tokens:
            return None, False
        if tokens[0].type == self.t_STRING:
            return tokens[0].value[1:-1], False
        if tokens[0].value == "<":
            values = [t.value for t in tokens[1:]]
            if ">" in values:
                return "".join(values[:values.index(">")]), True
        return None, False

    def find(self, name: str, system: bool) -> str | None:
        for d in (self.path if system else self.temp_path + self.path) or [""]:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
        return None


class Macros:
    """The macros the C definitions left defined, for the BpfScript lexer:
    which names are macros, and the expansion of a use (`NAME` or `NAME(args)`)
    as BpfScript text.  Integer suffixes (1UL) and character constants ('a')
    become plain integers, which is what they are to BpfScript."""

    def __init__(self, cpp: _Cpp):
        self._cpp = cpp
        self._names = {n for n in cpp.macros if n not in PCPP_MACROS}

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def takes_args(self, name: str) -> bool:
        return self._cpp.macros[name].arglist is not None

    def expand(self, text: str) -> tuple[str, list[str]]:
        """The expansion of the macro use `text`, and the preprocessor's complaints."""
        cpp = self._cpp
        before = len(cpp.errors)
        tokens = cpp.tokenize(text)
        for t in tokens:
            if t.type in cpp.t_COMMENT:
                t.type, t.value = cpp.t_SPACE, " "
        out, after_int = [], False
        for t in cpp.expand_macros(tokens):
            m = _INT_SUFFIX.match(t.value) if t.type == cpp.t_INTEGER else None
            if m:
                out.append(m.group(1))
            elif t.type == cpp.t_CHAR and char_value(t.value) is not None:
                out.append(str(char_value(t.value)))
            elif not (after_int and t.type == cpp.t_ID and _SUFFIX_REST.match(t.value)):
                out.append(t.value)
            after_int = m is not None
        errors = [message for _, _, message, _ in cpp.errors[before:]]
        del cpp.errors[before:]
        return "".join(out), errors


def char_value(text: str) -> int | None:
    """The value of a C character constant such as 'a' or '\\n' (None: not a simple one)."""
    body = text[1:-1] if len(text) >= 3 and text[0] == text[-1] == "'" else ""
    if len(body) == 1:
        return ord(body)
    if len(body) == 2 and body[0] == "\\" and body[1] in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[body[1]]
    return None


def _kernel_header(name: str) -> bool:
    return name.split("/", 1)[0] in KERNEL_HEADER_DIRS and "/" in name

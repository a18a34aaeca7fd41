"""The BpfScript tokenizer.

bpftrace's grammar is context dependent at the top level: an attach point such
as `uprobe:/bin/bash:readline` or `kprobe:vfs_*` is not made of ordinary
tokens.  The lexer therefore runs a small state machine, driven only by the
tokens it produces itself (so it can run ahead of the parser):

* HEADER - outside any probe body.  Produces C preamble lines (CPREPROC,
  STRUCT_DEFN), whole attach points (ATTACH), `,`, the `/` that opens a
  predicate, and the `{` that opens a body.
* PRED   - inside `/ ... /`.  Ordinary expression tokens; a `/` whose next
  non-blank character is `{` or `/` is the closing ENDPRED (as in bpftrace,
  so `/a / b/ {` divides and `/pid/ {` ends).
* BODY   - inside `{ ... }`, counting braces; the closing `}` returns to HEADER.

An attach point runs to whitespace, `{`, `}`, `,`, `;`, `(` or `)`.  A `/` ends
it only before the first `:` (`BEGIN/pid/`); after a `:` it is part of a path
(`uprobe:/bin/bash:f`, and, as in bpftrace, `kprobe:f/pid/`).  `"..."` parts are
kept verbatim, spaces included.

Given the macros of the script's C definitions (lang.preprocess.Macros), an
identifier in a body or predicate that names a macro is replaced by the tokens
of its expansion, as bpftrace 0.17's lexer re-reads a macro's value; they all
carry the span of the macro's use.  Builtins, function names and keywords are
never replaced, nor the tag after `struct`.

Locations follow bpftrace 0.17, whose lexer only moves a token's start past
whitespace and comments: a token's span starts where its run of non-blank
characters starts.  In `print($x)` the `$x` token spans `print($x`.  That is
what makes diagnostics on these tokens render byte-identically to bpftrace.

Lexical errors are reported to the Diagnostics with bpftrace's wording.  A bad
character or an unterminated comment ends the token stream with an ERROR token
(bpftrace prints nothing after those); an unterminated string yields EOF, so the
parser adds bpftrace's "unexpected end of file"; a malformed number is dropped,
so the parser complains about what follows it, again as bpftrace does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from pybpftrace.diag import Diagnostics, Location

KEYWORDS = frozenset({
    "if", "else", "unroll", "while", "for", "return", "continue", "break", "let",
    "struct", "union", "enum",
})

INT_TYPES = frozenset(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64))

# How bpftrace 0.17's lexer classifies identifiers.  Only used to name tokens
# in syntax errors ("unexpected builtin") and by the AST printer; the parser
# treats all of them as plain identifiers.
BUILTIN_NAMES = frozenset(
    "pid tid cgroup uid gid nsecs elapsed numaid cpu curtask rand ctx comm retval func probe "
    "username args cpid".split()
    + [f"arg{i}" for i in range(10)] + [f"sarg{i}" for i in range(10)]
)
CALL_BUILTIN_NAMES = frozenset({"kstack", "ustack"})
STACK_MODE_NAMES = frozenset({"bpftrace", "perf"})
CALL_NAMES = frozenset(
    "avg buf cat cgroupid clear count delete exit hist join kaddr kptr ksym lhist macaddr max min "
    "ntop override print printf cgroup_path reg signal sizeof stats str strftime strncmp sum "
    "system time uaddr uptr usym zero path unwatch bswap skboutput pton strerror strcontains "
    "debugf".split()
)

# Names a C macro cannot replace: bpftrace 0.17's lexer matches its builtins,
# functions and keywords before it looks an identifier up among the macros.
NOT_MACROS = BUILTIN_NAMES | CALL_BUILTIN_NAMES | STACK_MODE_NAMES | CALL_NAMES | KEYWORDS \
    | {"offsetof"}

# Longest first, so that `<<=` wins over `<<` and `<`.
OPERATORS = sorted(
    "<<= >>= -> ++ -- += -= *= /= %= &= |= ^= == != <= >= << >> && || .. "
    "+ - * / % & | ^ ! ~ < > = ? : ; , . ( ) [ ] { }".split(),
    key=len, reverse=True,
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAP_NAME = re.compile(r"[A-Za-z0-9_]*")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_DIGITS = r"[0-9](?:[0-9_]*[0-9])?"
_DECIMAL = re.compile(rf"({_DIGITS})(?:[eE]({_DIGITS}))?(?:[uU](?:[lL][lL]?)?|[lL][lL]?)?")
_C_DEFN = re.compile(r"(?:struct|union|enum)(?:\s+[A-Za-z_][A-Za-z0-9_]*)?\s*\{")
_C_ATTRIBUTE = re.compile(r"[ \t]*__attribute(?:__)?[ \t]*\(")
_AP_STOP = frozenset(" \t\r\n\f\v{},;()")
_PARAM = re.compile(r"[0-9]+")
_NUMERIC_ESCAPE = re.compile(r"x[0-9a-fA-F]{1,2}|[0-7]{1,3}")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}

HEADER, PRED, BODY = "header", "pred", "body"

UINT64_MAX = (1 << 64) - 1


@dataclass(slots=True)
class Token:
    """One token.  `kind` is the operator or keyword text itself ("+=", "if")
    or one of INT STRING IDENT VAR MAP PARAM PARAMCOUNT ATTACH CPREPROC
    STRUCT_DEFN ENDPRED EOF ERROR.  `value` holds the decoded literal: the int
    of INT, the text of STRING, the name (without sigil) of VAR/MAP, N of PARAM.
    """

    kind: str
    text: str
    loc: Location
    value: object = None


def describe(tok: Token) -> str:
    """The token as bison names it in "syntax error, unexpected X"."""
    k = tok.kind
    if k == "IDENT":
        name = tok.text
        if name in BUILTIN_NAMES:
            return "builtin"
        if name in CALL_BUILTIN_NAMES:
            return "call_builtin"
        if name in STACK_MODE_NAMES:
            return "stack_mode"
        if name in CALL_NAMES:
            return "call"
        return "identifier"
    return {
        "INT": "integer", "STRING": "string", "VAR": "variable", "MAP": "map",
        "PARAM": "positional parameter", "PARAMCOUNT": "$#", "ATTACH": "identifier",
        "CPREPROC": "preprocessor directive", "STRUCT_DEFN": "struct definition",
        "ENDPRED": "end predicate", "EOF": "end of file",
    }.get(k, k)


def string_bytes(value: str) -> bytes:
    r"""The bytes of a String literal's value, as bpftrace stores them.

    Text is UTF-8; the surrogates U+DC80..U+DCFF that the lexer makes for
    `\xHH` / `\NNN` escapes of 0x80 and up stand for the single byte HH.
    """
    return b"".join(
        bytes([ord(c) - 0xDC00]) if 0xDC80 <= ord(c) <= 0xDCFF else c.encode("utf-8", "surrogatepass")
        for c in value)


def wrap_int64(v: int) -> int:
    """bpftrace 0.17 keeps every integer literal in an int64: 2**63 and up wrap negative."""
    v &= UINT64_MAX
    return v - (1 << 64) if v >= 1 << 63 else v


class Lexer:
    """Produces tokens on demand; see the module docstring for the states."""

    def __init__(self, source: str, diags: Diagnostics, macros=None):
        self.src = source
        self.diags = diags
        self.macros = macros       # the C definitions' macros (lang.preprocess.Macros), or None
        self.pending: list[Token] = []  # the rest of a macro's expansion
        self.last = ""             # kind of the last body/predicate token
        self.pos = 0
        self.line = 1
        self.col = 1
        self.run = (1, 1)          # start of the current run of non-blank characters
        self.state = HEADER
        self.depth = 0             # brace depth inside a probe body
        self.done = False
        if source.startswith("#!"):
            self._advance(self._line_end())

    # ---- character helpers ------------------------------------------------
    def _peek(self, off: int = 0) -> str:
        p = self.pos + off
        return self.src[p] if p < len(self.src) else ""

    def _line_end(self) -> int:
        """Characters left on the current line (newline excluded)."""
        nl = self.src.find("\n", self.pos)
        return (len(self.src) if nl < 0 else nl) - self.pos

    def _advance(self, n: int) -> None:
        for ch in self.src[self.pos:self.pos + n]:
            if ch == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
        self.pos += n

    def _loc(self) -> Location:
        """bpftrace's span for the text consumed since the run started."""
        return Location(self.run[0], self.run[1], self.line, self.col)

    def _token(self, kind: str, n: int, value: object = None) -> Token:
        text = self.src[self.pos:self.pos + n]
        self._advance(n)
        return Token(kind, text, self._loc(), value)

    def _fail(self, message: str, loc: Location, kind: str = "ERROR") -> Token:
        self.diags.error(message, loc)
        self.done = True
        return Token(kind, "", loc)

    # ---- whitespace and comments -----------------------------------------
    def _skip_blanks(self) -> Token | None:
        """Skip whitespace and comments; an unterminated comment gives an ERROR token."""
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch in " \t\r\n\f\v":
                self._advance(1)
                self.run = (self.line, self.col)
            elif ch == "/" and self._peek(1) == "/" and not self._closes_predicate():
                self._advance(self._line_end())
                self.run = (self.line, self.col)
            elif ch == "/" and self._peek(1) == "*" and not self._closes_predicate():
                end = self.src.find("*/", self.pos + 2)
                if end < 0:
                    self._advance(len(self.src) - self.pos)
                    return self._fail("end of file during comment", self._loc())
                self._advance(end + 2 - self.pos)
                self.run = (self.line, self.col)
            else:
                return None
        return None

    def _closes_predicate(self) -> bool:
        """In a predicate, `pid//x` closes it with `/` (then a comment); `pid // x` is a comment."""
        return self.state == PRED and self.run != (self.line, self.col)

    def _is_endpred(self) -> bool:
        p = self.pos + 1
        while p < len(self.src) and self.src[p] in " \t\r\n\f\v":
            p += 1
        return p < len(self.src) and self.src[p] in "{/"

    # ---- the token stream ---------------------------------------------------
    def __iter__(self) -> Iterator[Token]:
        while True:
            tok = self.next()
            yield tok
            if tok.kind in ("EOF", "ERROR"):
                return

    def next(self) -> Token:
        while True:
            tok = self._next()
            if tok is not None:  # None: a malformed number was reported and dropped
                return tok

    def _next(self) -> Token | None:
        if self.pending:
            return self._track(self.pending.pop(0))
        if self.done:
            return Token("EOF", "", Location(self.line, self.col, self.line, self.col))
        err = self._skip_blanks()
        if err is not None:
            return err
        if self.pos >= len(self.src):
            self.done = True
            return Token("EOF", "", self._loc())
        if self.state == HEADER:
            return self._header_token()
        if self.state == PRED and self.src[self.pos] == "/" and self._is_endpred():
            self.state = HEADER
            return self._token("ENDPRED", 1)
        tok = self._expr_token()
        return None if tok is None else self._track(tok)

    def _track(self, tok: Token) -> Token:
        """Follow the braces of a body (or a predicate's `{`)."""
        if tok.kind == "{":
            self.depth += 1
            self.state = BODY
        elif tok.kind == "}" and self.state == BODY:
            self.depth -= 1
            if self.depth == 0:
                self.state = HEADER
        self.last = tok.kind
        return tok

    def _header_token(self) -> Token:
        ch = self.src[self.pos]
        if ch == "#":
            n = self._line_end()
            while self.src[self.pos:self.pos + n].endswith("\\") and self.pos + n < len(self.src):
                nl = self.src.find("\n", self.pos + n + 1)  # a C line continuation
                n = (len(self.src) if nl < 0 else nl) - self.pos
            text = self.src[self.pos:self.pos + n]
            return self._preamble(self._token("CPREPROC", n, text.strip()))
        m = _C_DEFN.match(self.src, self.pos)
        if m:
            return self._preamble(self._c_definition(m.end()))
        if ch == "{":
            self.state = BODY
            self.depth = 1
            return self._token("{", 1)
        if ch == "/":
            self.state = PRED
            return self._token("/", 1)
        if ch in _AP_STOP:
            return self._token(ch, 1)
        return self._attach_point()

    def _preamble(self, tok: Token) -> Token:
        """C preamble tokens end a run (bpftrace steps its location past them)."""
        self.run = (self.line, self.col)
        return tok

    def _c_definition(self, after_brace: int) -> Token:
        """`struct X { ... }` with nested braces, plus a `;` right after it.
        Beyond 0.17, a GNU `__attribute__((packed))` after the `}` belongs to it."""
        depth, p = 1, after_brace
        while p < len(self.src) and depth:
            depth += {"{": 1, "}": -1}.get(self.src[p], 0)
            p += 1
        if depth:
            self._advance(len(self.src) - self.pos)
            return self._fail("syntax error, unexpected end of file", self._loc())
        m = _C_ATTRIBUTE.match(self.src, p)
        if m:
            depth, p = 0, m.end() - 1
            while p < len(self.src) and (depth or p < m.end()):
                depth += {"(": 1, ")": -1}.get(self.src[p], 0)
                p += 1
        q = p
        while q < len(self.src) and self.src[q] in " \t":
            q += 1
        if q < len(self.src) and self.src[q] == ";":
            p = q + 1
        return self._token("STRUCT_DEFN", p - self.pos, self.src[self.pos:p])

    def _attach_point(self) -> Token:
        self.run = (self.line, self.col)  # after `k:f,` the next attach point starts afresh
        p, seen_colon = self.pos, False
        while p < len(self.src):
            ch = self.src[p]
            if ch == '"':
                end = p + 1
                while end < len(self.src) and self.src[end] not in '"\n':
                    end += 2 if self.src[end] == "\\" else 1
                if end >= len(self.src) or self.src[end] != '"':
                    return self._unterminated(end)
                p = end + 1
                continue
            if ch in _AP_STOP or (ch == "/" and not seen_colon):
                break
            seen_colon = seen_colon or ch == ":"
            p += 1
        return self._token("ATTACH", p - self.pos, self.src[self.pos:p])

    def _expr_token(self) -> Token | None:
        src, pos = self.src, self.pos
        ch = src[pos]
        if ch in "0123456789":
            return self._number()
        if ch == '"':
            return self._string()
        if ch == "$":
            nxt = self._peek(1)
            if nxt == "#":
                return self._token("PARAMCOUNT", 2)
            m = _PARAM.match(src, pos + 1)
            if m:
                return self._token("PARAM", m.end() - pos, int(m.group()))
            m = _IDENT.match(src, pos + 1)
            if m:
                return self._token("VAR", m.end() - pos, m.group())
            self._advance(1)
            return self._fail("invalid character '$'", self._loc())
        if ch == "@":
            m = _MAP_NAME.match(src, pos + 1)
            return self._token("MAP", m.end() - pos, m.group())
        m = _IDENT.match(src, pos)
        if m:
            word = m.group()
            if self.macros is not None and word in self.macros and word not in NOT_MACROS \
                    and self.last not in ("struct", "union", "enum"):
                return self._expand(word)
            return self._token(word if word in KEYWORDS else "IDENT", len(word), word)
        for op in OPERATORS:
            if src.startswith(op, pos):
                return self._token(op, len(op))
        self._advance(1)
        return self._fail(f"invalid character '{ch}'", self._loc())

    def _expand(self, name: str) -> Token | None:
        """A use of macro `name`, replaced by the tokens of its expansion, as
        bpftrace 0.17's lexer re-reads a macro's value.  Every token of the
        expansion carries the span of the use (`F(1, 2)` with its arguments);
        the expansion itself is the C preprocessor's (lang.preprocess)."""
        end = self.pos + len(name)
        if self.macros.takes_args(name):
            end = self._macro_args_end(end)
            if end is None:  # a function-like macro's name without `(` is no use of it
                return self._token("IDENT", len(name), name)
        text = self.src[self.pos:end]
        self._advance(end - self.pos)
        loc = self._loc()
        expansion, errors = self.macros.expand(text)
        sub = Lexer(expansion, Diagnostics(expansion))
        sub.state, sub.depth = BODY, 1 << 30
        tokens = [t for t in sub if t.kind != "EOF"]
        errors += [d.message for d in sub.diags.errors]
        if errors:
            for message in errors:
                self.diags.error(
                    f"{message} (in the expansion of macro {name}: {expansion.strip()})", loc)
            self.done = True
            return Token("ERROR", "", loc)
        for t in tokens:
            t.loc = loc
        self.pending = tokens[1:]
        return tokens[0] if tokens else None

    def _macro_args_end(self, p: int) -> int | None:
        """Where the `( ... )` after a function-like macro's name ends (None: no `(`)."""
        src = self.src
        while p < len(src) and src[p] in " \t\r\n\f\v":
            p += 1
        if p >= len(src) or src[p] != "(":
            return None
        depth = 0
        while p < len(src):
            ch = src[p]
            if ch == '"':
                p += 1
                while p < len(src) and src[p] not in '"\n':
                    p += 2 if src[p] == "\\" else 1
            elif src.startswith("//", p):
                p = src.find("\n", p)
                p = len(src) if p < 0 else p
                continue
            elif src.startswith("/*", p):
                p = src.find("*/", p + 2)
                p = len(src) if p < 0 else p + 1
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return p + 1
            p += 1
        return len(src)  # unterminated: the preprocessor says so

    def _number(self) -> Token | None:
        """An integer literal as bpftrace 0.17 reads it; on error, report and return None."""
        m = _HEX.match(self.src, self.pos) or _DECIMAL.match(self.src, self.pos)
        self._advance(m.end() - self.pos)
        loc = self._loc()
        error = None
        if m.re is _HEX:
            value = int(m.group(), 16)
        else:
            digits, exp = m.group(1).replace("_", ""), m.group(2)
            if exp is not None:
                value, e = int(digits), int(exp.replace("_", ""))
                if value > 9:
                    error = f"Coefficient part of scientific literal must be in range (0,9), got: {digits}"
                elif e > 16:
                    error = f"Exponent will overflow integer range: {exp}"
                else:
                    value *= 10 ** e
            elif len(digits) > 1 and digits[0] == "0":
                value = 0
                if any(c in "89" for c in digits):
                    error = "Found trailing non-numeric characters"
                else:
                    value = int(digits, 8)
            else:
                value = int(digits)
        if error is None and value > UINT64_MAX:
            error = f"Integer literal out of range: {m.group()}"
        if error is not None:
            self.diags.error(error, loc)
            return None
        return Token("INT", m.group(), loc, wrap_int64(value))

    def _unterminated(self, end: int) -> Token:
        """A string cut off at `end` (a newline or the end of input): the span
        includes the newline, as in bpftrace, and the stream ends."""
        self._advance(min(end, len(self.src)) - self.pos)
        loc = self._loc()
        if end < len(self.src):
            loc = Location(loc.line, loc.col, loc.end_line, loc.end_col + 1)
        return self._fail("unterminated string", loc, "EOF")

    def _string(self) -> Token:
        r"""A string literal.  Escapes decode to characters; a byte value of 0x80
        or more (from \xHH or \NNN) becomes the surrogate U+DC80..U+DCFF, so
        that string_bytes() gives exactly the bytes bpftrace would store."""
        src = self.src
        p, out = self.pos + 1, []
        while True:
            if p >= len(src) or src[p] == "\n":
                return self._unterminated(p)
            ch = src[p]
            if ch == '"':
                break
            if ch != "\\":
                out.append(ch)
                p += 1
                continue
            esc = src[p + 1:p + 2]
            if esc in ("", "\n"):  # a backslash cannot continue the string onto the next line
                p += 1
                continue
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
                p += 2
                continue
            m = _NUMERIC_ESCAPE.match(src, p + 1)
            if m and m.group()[0] == "x":
                byte = int(m.group()[1:], 16)
            elif m:
                byte = int(m.group(), 8)
            else:
                byte = None
            end = p + 1 + (len(m.group()) if m else len(esc))
            if byte is None or byte > 0xFF:
                what = "invalid escape character" if byte is None else "octal escape sequence out of range"
                loc = Location(self.run[0], self.run[1], self.line, self.col + end - self.pos)
                self.diags.error(f"{what} '{src[p:end]}'", loc)
                byte = 0
            out.append(chr(byte) if byte < 0x80 else chr(0xDC00 + byte))
            p = end
        return self._token("STRING", p + 1 - self.pos, "".join(out))


def c_preamble(source: str) -> list[Token]:
    """The C definitions before the first probe: its CPREPROC and STRUCT_DEFN tokens."""
    tokens = []
    for tok in Lexer(source, Diagnostics(source)):
        if tok.kind not in ("CPREPROC", "STRUCT_DEFN"):
            break
        tokens.append(tok)
    return tokens


def tokenize(source: str, diags: Diagnostics) -> list[Token]:
    """All tokens of `source`, ending with EOF or ERROR (for tests and tools)."""
    return list(Lexer(source, diags))

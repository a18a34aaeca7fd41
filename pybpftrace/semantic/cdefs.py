"""A script's C definitions (structs, unions, enums, typedefs) as BpfScript types.

bpftrace 0.17 compiles the C part of a script with clang and keeps the struct
layouts clang computed.  We read the preprocessed C (lang.preprocess) with
pycparser and lay the records out ourselves, as gcc does on x86_64 (SysV
ABI): natural alignment and padding, bitfields packed into units of their
declared type without straddling one, zero-width bitfields, anonymous
struct/union members, flexible array members.  Members get BpfScript types
by the rules semantic.btftypes applies to BTF members, so a script struct and
a kernel struct behave alike in the type checker and in codegen.

What the definitions only name comes from the kernel's BTF, as bpftrace
resolves unknown types from BTF: typedefs such as `u32` or `pid_t` (only in
the script and in headers the user passed, not in system headers, which
declare their own), structs behind pointers (`struct task_struct *`), and
kernel structs embedded by value, with their BTF size and alignment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pycparser import c_ast
from pycparser.c_lexer import CLexer, _Token
from pycparser.c_parser import CParser, ParseError

from pybpftrace.diag import Diagnostics, Location
from pybpftrace.lang.preprocess import (
    ATTRIBUTE_MARK, INCLUDE_DIR, char_value, system_include_dirs,
)
from pybpftrace.semantic import btftypes
from pybpftrace.types import Int, Kind, String, Type


@dataclass(frozen=True)
class CType:
    """A C type as a layout needs it: size and alignment in bytes, the
    BpfScript type of a value of it (None: none fits, e.g. float), and its C
    spelling for messages.  `char`: arrays of it are strings."""
    size: int
    align: int
    type: Type | None
    spelling: str
    char: bool = False
    complete: bool = True


@dataclass(frozen=True)
class Member:
    """A member of a record: "" names an anonymous struct/union member, whose
    own members are found through it (CDefs.member)."""
    name: str
    ctype: CType
    bit_offset: int
    bitfield_size: int = 0


@dataclass(frozen=True)
class Record:
    name: str          # "struct foo", or "struct (anonymous at x.bt:3:5)"
    size: int
    align: int
    members: tuple[Member, ...]


@dataclass
class CDefs:
    """What the C definitions define: laid-out records by name, enum
    constants, and typedef names (to a CType)."""
    records: dict[str, Record] = field(default_factory=dict)
    enums: dict[str, int] = field(default_factory=dict)
    typedefs: dict[str, CType] = field(default_factory=dict)

    def record(self, name: str) -> Record | None:
        """The record called `name` ("struct foo"), or that a typedef name stands for."""
        rec = self.records.get(name)
        if rec is None and name in self.typedefs:
            t = self.typedefs[name].type
            rec = self.records.get(t.name) if t is not None and t.kind is Kind.RECORD else None
        return rec

    def member(self, rec: Record, name: str) -> Member | None:
        """Member `name` of `rec`, looking into anonymous members as C does;
        its bit offset is from the start of `rec`."""
        for m in rec.members:
            if m.name == name:
                return m
            if not m.name and m.ctype.type is not None and m.ctype.type.kind is Kind.RECORD:
                inner = self.records.get(m.ctype.type.name)
                found = self.member(inner, name) if inner is not None else None
                if found is not None:
                    return replace(found, bit_offset=m.bit_offset + found.bit_offset)
        return None


class CError(Exception):
    """A C definition that cannot be laid out; `coord` is pycparser's."""

    def __init__(self, message: str, coord=None):
        super().__init__(message)
        self.coord = coord


_INTEGER = re.compile(r"^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*$")
_QUALIFIERS = frozenset({"const", "volatile", "static", "extern", "register", "typedef"})
_C_WORDS = frozenset("auto break case char const continue default do double else enum extern "
                     "float for goto if inline int long register restrict return short signed "
                     "sizeof static struct switch typedef union unsigned void volatile while "
                     "_Bool _Complex _Alignas _Alignof _Atomic _Noreturn _Static_assert "
                     "_Thread_local".split())


def parse_cdefs(text: str, filename: str, diags: Diagnostics, btf=None,
                kernel_types: frozenset[str] = frozenset()) -> CDefs:
    """Read the preprocessed C definitions `text` (with `#line` markers; the
    script's own lines say `filename`).  Errors go to `diags`; `btf` is the
    kernel's BTF or None; `kernel_types` the records the program itself takes
    from BTF ("struct task_struct" for curtask).  When the definitions
    redefine a kernel type BTF would supply, they get no BTF at all (see
    btf_conflict)."""
    system_dirs = tuple(d.rstrip("/") + "/" for d in [INCLUDE_DIR, *system_include_dirs()])
    parser = _CParser(btf, lambda file: file == filename or not file.startswith(system_dirs))
    try:
        tree = parser.parse(text, filename)
    except ParseError as e:
        _syntax_error(str(e), filename, diags, btf)
        return CDefs()
    builder = _Builder(filename, diags, btf)
    builder.collect(tree)
    if btf is not None and btf_conflict(btf, builder.defs, kernel_types):
        builder = _Builder(filename, diags, None)
        builder.collect(tree)
    return builder.build(tree)


def btf_conflict(b, defs: dict[str, c_ast.Node], kernel_types: frozenset[str]) -> bool:
    """Would 0.17's BTF header redefine one of the records `defs` defines?

    0.17 gives clang a header dumped from BTF (libbpf's btf_dump) of the
    kernel types the program uses, then adds the records the definitions
    name but do not define (members and pointees) and dumps again.  A dump
    holds each such type and, recursively, the records it embeds by value;
    a record it only points to is declared, not defined.  If the script
    defines one of those, clang reports a redefinition and 0.17 drops BTF
    from the C definitions altogether: `struct task_struct { struct
    thread_info x; }` with curtask then fails with "field has incomplete
    type 'struct thread_info'"."""
    defined = set(defs)
    if not any(_btf_record(b, name) for name in defined):
        return False
    dumped, pointees = _btf_dump(b, kernel_types)
    if defined & dumped:
        return True
    named = {name for node in defs.values() for name in _named_records(node)}
    more, _ = _btf_dump(b, (named | pointees) - defined)
    return bool(defined & more)


def _btf_record(b, name: str) -> int | None:
    try:
        tid = b.lookup(name)
    except Exception:
        return None
    return tid if tid and b.get(tid).kind.name in ("STRUCT", "UNION") else None


def _btf_dump(b, names) -> tuple[set[str], set[str]]:
    """The named records btf_dump defines to dump BTF records `names`, and
    the records their members point to."""
    dumped, pointees, seen = set(), set(), set()
    todo = [tid for name in names if (tid := _btf_record(b, name))]
    while todo:
        tid = todo.pop()
        if tid in seen:
            continue
        seen.add(tid)
        t = b.get(tid)
        if t.name:
            dumped.add(f"{t.kind.name.lower()} {t.name}")
        for m in t.members:
            inner, pointer = _btf_member_record(b, m.type)
            if inner and pointer:
                target = b.get(inner)
                if target.name:
                    pointees.add(f"{target.kind.name.lower()} {target.name}")
            elif inner:
                todo.append(inner)
    return dumped, pointees


def _btf_member_record(b, tid: int) -> tuple[int | None, bool]:
    """The record a member of BTF type `tid` holds by value (through arrays:
    the dump defines it) or points to directly (not through an array, as
    0.17's incomplete-type scan sees it), and whether it points."""
    array = pointer = False
    for _ in range(64):
        tid = b.resolve(tid)
        kind = b.get(tid).kind.name if tid else "VOID"
        if kind in ("STRUCT", "UNION"):
            return tid, pointer
        if kind == "ARRAY" and not pointer:
            tid, array = b.get(tid).type, True
        elif kind == "PTR" and not pointer and not array:
            tid, pointer = b.get(tid).type, True
        else:
            break
    return None, False


def _named_records(node) -> set[str]:
    """The named records the members of a record definition hold or point
    to directly (`struct x m;`, `struct x *m;`: not arrays), the members
    0.17's incomplete-type scan looks at."""
    out = set()
    for decl in node.decls or []:
        t = getattr(decl, "type", None)
        if isinstance(t, c_ast.PtrDecl):
            t = t.type
        if isinstance(t, c_ast.TypeDecl):
            t = t.type
        if isinstance(t, (c_ast.Struct, c_ast.Union)) and t.name:
            out.add(f"{'union' if isinstance(t, c_ast.Union) else 'struct'} {t.name}")
    return out


class _CParser(CParser):
    """pycparser, knowing the kernel's typedef names: an identifier that is
    not declared where it is used, but is a typedef in BTF, is a type name
    (bpftrace resolves unknown typedefs from BTF the same way)."""

    def __init__(self, btf, from_user):
        super().__init__(lexer=_RecordSemicolonLexer)
        self._btf = btf
        self._from_user = from_user   # may this file use BTF's typedefs?
        self._btf_names: dict[str, bool] = {}

    def _lex_type_lookup_func(self, name):
        if self._is_type_in_scope(name) or name == ATTRIBUTE_MARK:
            return True
        if self._btf is None or any(name in scope for scope in self._scope_stack) \
                or not self._from_user(self.clex.filename):
            return False
        if name not in self._btf_names:
            self._btf_names[name] = _btf_typedef(self._btf, name) is not None
        return self._btf_names[name]

    def _parse_error(self, msg, coord):
        """pycparser 3 gives only the file for some errors: add the token at hand."""
        tok = self._peek() if not getattr(coord, "line", None) and hasattr(self, "_peek") else None
        if tok is not None:
            msg, coord = f"{msg} before: {tok.value}", self._tok_coord(tok)
        super()._parse_error(msg, coord)


class _RecordSemicolonLexer(CLexer):
    """pycparser's lexer, adding the `;` that may be missing before the `}`
    of a struct or union: clang only warns "expected ';' at end of
    declaration list" (bpftrace shows no clang warnings), so bpftrace accepts
    `struct A { int a; char c[28] }`.  The added token sits where the `}`
    is, so every position stays the script's."""

    def _init_state(self) -> None:
        super()._init_state()
        self._braces: list[bool] = []       # per open `{`: is it a record body?
        self._recent: list[str] = []        # types of the last two tokens produced
        self._held: _Token | None = None    # a `}` held back behind an added `;`

    def token(self):
        if self._held is not None:
            tok, self._held = self._held, None
            return self._note(tok)
        tok = super().token()
        if tok is None:
            return None
        if tok.type == "LBRACE":
            before = self._recent[-2:]
            record = bool(before) and (before[-1] in ("STRUCT", "UNION") or (
                len(before) == 2 and before[0] in ("STRUCT", "UNION")
                and before[1] in ("ID", "TYPEID")))
            self._braces.append(record)
        elif tok.type == "RBRACE" and self._braces and self._braces[-1] \
                and self._recent and self._recent[-1] not in ("SEMI", "LBRACE"):
            self._held = tok
            return self._note(_Token("SEMI", ";", tok.lineno, tok.column))
        return self._note(tok)

    def _note(self, tok: _Token) -> _Token:
        if tok.type == "RBRACE" and self._braces:
            self._braces.pop()
        self._recent = [*self._recent[-1:], tok.type]
        return tok


def _btf_typedef(b, name: str) -> int | None:
    try:
        tid = b.lookup(name)
    except Exception:
        return None
    return tid if tid and b.get(tid).kind.name == "TYPEDEF" else None


def _syntax_error(message: str, filename: str, diags: Diagnostics, btf) -> None:
    """A pycparser error ("file:line:col: before: x") in bpftrace's form, with
    clang's "unknown type name" where an identifier stands for a type."""
    m = re.match(r"^(.*):(\d+):(\d+): (.*?)(?: ?before: (.*))?$", message, re.S)
    if m is None:
        diags.error(f"C definitions: {message}")
        return
    file, line, col, what, token = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), \
        m.group(5)
    text = _source_line(diags, line) if file == filename else ""
    unknown = None
    if token and re.fullmatch(r"[A-Za-z_]\w*", token) and token not in _C_WORDS and what:
        unknown, width = token, len(token)      # "Invalid specifier list before: foo_t"
    elif what == "Missing type in declaration":  # `const foo_t *x;`
        word = re.match(rf"(?:(?:{'|'.join(_QUALIFIERS)})\s+)*([A-Za-z_]\w*)", text[col - 1:])
        if word and word.group(1) not in _C_WORDS:
            unknown, col, width = word.group(1), col + word.start(1), len(word.group(1))
    elif token and not what:                    # `foo_t x;`: an unknown foo_t, then x
        word = re.search(r"([A-Za-z_]\w*)\s*$", text[:col - 1])
        before = text[:word.start()].rstrip() if word else ""
        if word and word.group(1) not in _C_WORDS and (
                not before or before[-1] in "{;(," or before.split()[-1] in _QUALIFIERS):
            unknown, col, width = word.group(1), word.start(1) + 1, len(word.group(1))
    if unknown is not None:
        message = f"unknown type name '{unknown}'"
        hint = None if btf is not None else ("Include headers with missing type definitions "
                                             "or install BTF information to your system.")
    else:
        message = f"syntax error in C definitions, unexpected {token}" if token else what
        width, hint = len(token) if token else 1, None
    if file == filename:
        diags.error(message, Location(line, col, line, col + width), hint)
    else:
        diags.error(f"{file}:{line}:{col}: {message}", hint=hint)


class _Builder:
    """Walks the C AST: collects definitions, evaluates enum constants, lays out records."""

    def __init__(self, filename: str, diags: Diagnostics, btf):
        self.filename = filename
        self.diags = diags
        self.btf = btf
        self.out = CDefs()
        self.defs: dict[str, c_ast.Node] = {}        # record name -> its Struct/Union definition
        self.names: dict[int, str] = {}              # id(Struct/Union node) -> record name
        self.typedef_nodes: dict[str, c_ast.Node] = {}
        self.enum_defs: dict[str, c_ast.Enum] = {}
        self.busy: set[str] = set()                  # records being laid out
        self.broken: set[str] = set()

    def collect(self, tree: c_ast.FileAST) -> None:
        """Find the definitions (records into `defs`, typedefs, enums)."""
        for ext in tree.ext:
            if isinstance(ext, c_ast.FuncDef):
                ext = ext.decl  # a function's body defines nothing we can use
            self._collect(ext)

    def build(self, tree: c_ast.FileAST) -> CDefs:
        """Evaluate and lay out what collect() found."""
        for ext in tree.ext:
            self._enums(ext.decl if isinstance(ext, c_ast.FuncDef) else ext)
        for name, node in self.defs.items():
            try:
                self.record(name)
            except CError as e:
                self.broken.add(name)
                self._report(e, node.coord)
        for name, node in self.typedef_nodes.items():
            try:
                self.typedef(name)
            except CError as e:
                self._report(e, node.coord)
        return self.out

    def _report(self, e: CError, where) -> None:
        """Errors in the script's own definitions stop the program; those in
        headers only make their type unavailable (BTF may still have it)."""
        coord = e.coord or where
        if coord is not None and coord.file == self.filename:
            text = _source_line(self.diags, coord.line)
            col = coord.column or 1
            word = re.match(r"\w+", text[col - 1:])
            self.diags.error(str(e), Location(coord.line, col, coord.line,
                                              col + (len(word.group()) if word else 1)))

    # ---- collecting -----------------------------------------------------------
    def _collect(self, node) -> None:
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            if node.decls is not None:
                name = self.record_name(node)
                self.defs[name] = node
            for d in node.decls or []:
                self._collect(d)
            return
        if isinstance(node, c_ast.Enum):
            if node.values is not None and node.name:
                self.enum_defs[f"enum {node.name}"] = node
            return
        if isinstance(node, c_ast.Typedef):
            self.typedef_nodes[node.name] = node.type
        for _, child in node.children():
            self._collect(child)

    def record_name(self, node) -> str:
        kind = "union" if isinstance(node, c_ast.Union) else "struct"
        if node.name:
            return f"{kind} {node.name}"
        if id(node) not in self.names:
            c = node.coord
            self.names[id(node)] = f"{kind} (anonymous at {c.file}:{c.line}:{c.column})"
        return self.names[id(node)]

    def _enums(self, node) -> None:
        """Enum constants in declaration order (a value may use earlier ones)."""
        if isinstance(node, c_ast.Enum) and node.values is not None:
            value = -1
            for e in node.values.enumerators:
                try:
                    value = self.const(e.value) if e.value is not None else value + 1
                except CError as err:
                    self._report(err, e.coord)
                    value += 1
                self.out.enums[e.name] = value
            return
        for _, child in node.children():
            self._enums(child)

    # ---- types --------------------------------------------------------------------
    def ctype(self, node) -> CType:
        """The CType of a type node (TypeDecl, PtrDecl, ArrayDecl, ...)."""
        if isinstance(node, (c_ast.TypeDecl, c_ast.Typename)):
            return self.ctype(node.type)
        if isinstance(node, c_ast.IdentifierType):
            return self.base(node.names, node.coord)
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            return self.record_ctype(self.record_name(node), node.coord)
        if isinstance(node, c_ast.Enum):
            return self.enum_ctype(node)
        if isinstance(node, c_ast.PtrDecl):
            target = self.target(node.type)
            return CType(8, 8, Type(Kind.PTR, inner=target), f"{_spell(target)} *")
        if isinstance(node, c_ast.ArrayDecl):
            elem = self.ctype(node.type)
            if not elem.complete or (elem.size == 0 and elem.type is None):
                raise CError(f"array has incomplete element type '{elem.spelling}'", node.coord)
            n = self.const(node.dim) if node.dim is not None else 0
            if n < 0:
                raise CError("array has a negative size", node.coord)
            if elem.char:
                t = String(n) if n else None
            elif elem.type is None or n == 0 or elem.size == 0:
                t = None
            else:
                t = Type(Kind.ARRAY, size=n, inner=elem.type)
            return CType(n * elem.size, elem.align, t, f"{elem.spelling}[{n}]")
        if isinstance(node, c_ast.FuncDecl):
            return CType(0, 1, None, "function", complete=False)
        raise CError(f"unsupported C type ({type(node).__name__})", getattr(node, "coord", None))

    def target(self, node) -> Type | None:
        """The BpfScript type a pointer points to: records by name only (they
        may be incomplete, or the record being laid out)."""
        while isinstance(node, (c_ast.TypeDecl, c_ast.Typename)):
            node = node.type
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            return Type(Kind.RECORD, name=self.record_name(node))
        if isinstance(node, c_ast.PtrDecl):
            return Type(Kind.PTR, inner=self.target(node.type))
        if isinstance(node, c_ast.IdentifierType) and len(node.names) == 1 \
                and node.names[0] in self.typedef_nodes:
            return self.target(self.typedef_nodes[node.names[0]])
        if isinstance(node, c_ast.FuncDecl):
            return None
        if isinstance(node, c_ast.IdentifierType) and node.names == ["void"]:
            return None
        return self.ctype(node).type

    def base(self, names: list[str], coord) -> CType:
        """int, unsigned long, char, _Bool, ... (x86_64 LP64), or a typedef name."""
        words = [w for w in names if w != "signed"]
        unsigned = "unsigned" in words
        words = [w for w in words if w != "unsigned"]
        spelling = " ".join(names)
        if len(words) == 1 and words[0] not in _C_WORDS and words[0] not in ("__int128",):
            return self.typedef(words[0], coord)
        longs = words.count("long")
        if "void" in words:
            return CType(0, 1, None, "void", complete=False)
        if "_Bool" in words:
            return CType(1, 1, Int(8, False), spelling)
        if "char" in words:  # only arrays of plain char are strings, as clang tells 0.17
            return CType(1, 1, Int(8, not unsigned), spelling, char=names == ["char"])
        if "float" in words:
            return CType(4, 4, None, spelling)
        if "double" in words:
            return CType(16, 16, None, spelling) if longs else CType(8, 8, None, spelling)
        if "__int128" in words:
            return CType(16, 16, None, spelling)
        size = 2 if "short" in words else 8 if longs else 4
        return CType(size, size, Int(size * 8, not unsigned), spelling)

    def typedef(self, name: str, coord=None) -> CType:
        known = self.out.typedefs.get(name)
        if known is not None:
            return known
        if name in self.typedef_nodes:
            ct = replace(self.ctype(self.typedef_nodes[name]), spelling=name)
        elif self.btf is not None and (tid := _btf_typedef(self.btf, name)) is not None:
            ct = self.btf_ctype(tid, name)
        else:
            raise CError(f"unknown type name '{name}'", coord)
        self.out.typedefs[name] = ct
        return ct

    def btf_ctype(self, tid: int, spelling: str) -> CType:
        b = self.btf
        try:
            size = b.sizeof(tid)
        except Exception:
            return CType(0, 1, btftypes.to_type(b, tid), spelling, complete=False)
        resolved = b.get(b.resolve(tid))
        return CType(size, btftypes.align(b, tid), btftypes.to_type(b, tid), spelling,
                     btftypes.is_plain_char(resolved))

    def record_ctype(self, name: str, coord) -> CType:
        rec = self.record(name)
        if rec is not None:
            return CType(rec.size, rec.align,
                         Type(Kind.RECORD, name=name, size=rec.size, record_align=rec.align), name)
        if self.btf is not None:
            t = btftypes.record(self.btf, name)
            if t is not None and t.btf_id:
                return replace(self.btf_ctype(t.btf_id, name), type=t)
        return CType(0, 1, Type(Kind.RECORD, name=name), name, complete=False)

    def enum_ctype(self, node: c_ast.Enum) -> CType:
        name = f"enum {node.name}" if node.name else "enum"
        values = node.values
        if values is None:
            values = self.enum_defs[name].values if name in self.enum_defs else None
        if values is not None:
            vals = [self.out.enums.get(e.name, 0) for e in values.enumerators]
            signed = any(v < 0 for v in vals)
            wide = any(v >= (1 << 31 if signed else 1 << 32) or v < -(1 << 31) for v in vals)
            size = 8 if wide else 4
            return CType(size, size, Int(size * 8, signed), name)
        if self.btf is not None:
            try:
                tid = self.btf.lookup(name)
            except Exception:
                tid = None
            if tid:
                return self.btf_ctype(tid, name)
        return CType(4, 4, Int(32, False), name, complete=False)

    # ---- layout ---------------------------------------------------------------------
    def record(self, name: str) -> Record | None:
        """The laid-out script record `name`, or None if the script does not define it."""
        if name in self.out.records:
            return self.out.records[name]
        node = self.defs.get(name)
        if node is None or name in self.broken:
            return None
        if name in self.busy:
            raise CError(f"field has incomplete type '{name}'", node.coord)
        self.busy.add(name)
        try:
            rec = self.layout(name, node)
        finally:
            self.busy.discard(name)
        self.out.records[name] = rec
        return rec

    def layout(self, name: str, node) -> Record:
        """gcc's x86_64 layout of a struct or union (packed: members at any byte,
        bitfields at any bit; aligned(N): at least N-aligned)."""
        union = isinstance(node, c_ast.Union)
        packed, min_align = False, 1
        for decl in node.decls:
            attribute = _attribute(decl)
            if attribute == "__pybpftrace_packed":
                packed = True
            elif attribute == "__pybpftrace_aligned":
                min_align = max(min_align, self.const(decl.type.dim))
        bit = end = 0
        align = min_align
        members = []
        for decl in node.decls:
            if not isinstance(decl, c_ast.Decl) or _attribute(decl):
                continue  # #pragma, attribute markers
            if decl.name is None and decl.bitsize is None and not (
                    isinstance(decl.type, (c_ast.Struct, c_ast.Union)) and decl.type.name is None):
                continue  # `struct tag { ... };` inside a struct declares no member
            if isinstance(decl.type, c_ast.FuncDecl):
                raise CError(f"field '{decl.name}' declared as a function", decl.coord)
            ct = self.ctype(decl.type)
            if packed:
                ct = replace(ct, align=1)
            flexible = isinstance(decl.type, c_ast.ArrayDecl) and decl.type.dim is None
            if not ct.complete and not flexible:
                raise CError(f"field has incomplete type '{ct.spelling}'", decl.coord)
            if decl.bitsize is not None:
                width = self.const(decl.bitsize)
                if ct.type is None or ct.type.kind is not Kind.INT:
                    raise CError(f"bit-field '{decl.name}' has non-integral type '{ct.spelling}'",
                                 decl.coord)
                if width < 0:
                    raise CError(f"bit-field '{decl.name}' has negative width ({width})",
                                 decl.coord)
                if width > ct.size * 8:
                    raise CError(f"width of bit-field '{decl.name}' ({width} bits) exceeds the "
                                 f"width of its type ({ct.size * 8} bits)", decl.coord)
                unit = ct.size * 8
                if width == 0:  # `int : 0`: the next bitfield starts a new unit
                    bit = _round_up(bit, ct.align * 8) if not union else bit
                    continue
                if union:
                    offset = 0
                else:
                    if not packed and bit // unit != (bit + width - 1) // unit:
                        bit = _round_up(bit, unit)
                    offset, bit = bit, bit + width
                end = max(end, offset + width)
                if decl.name:  # unnamed bitfields are padding: they do not align the record
                    align = max(align, ct.align)
                    members.append(Member(decl.name, ct, offset, width))
                continue
            offset = 0 if union else _round_up(bit, ct.align * 8)
            bit = offset + ct.size * 8 if not union else bit
            end = max(end, offset + ct.size * 8)
            align = max(align, ct.align)
            members.append(Member(decl.name or "", ct, offset))
        size = _round_up((end + 7) // 8, align)
        return Record(name, size, align, tuple(members))

    # ---- constant expressions ----------------------------------------------------
    def const(self, e) -> int:
        """An integer constant expression (array sizes, bitfield widths, enum values)."""
        if isinstance(e, c_ast.Constant):
            if e.type == "char":
                v = char_value(e.value)
                if v is None:
                    raise CError(f"unsupported character constant {e.value}", e.coord)
                return v
            m = _INTEGER.match(e.value)
            if m is None:
                raise CError(f"expected an integer constant, got {e.value}", e.coord)
            digits = m.group(1)
            return int(digits, 8) if digits[:1] == "0" and digits[1:2].isdigit() else int(digits, 0)
        if isinstance(e, c_ast.ID):
            if e.name in self.out.enums:
                return self.out.enums[e.name]
            found = self.btf.enum_value(e.name) if self.btf is not None else None
            if found is None:
                raise CError(f"use of undeclared identifier '{e.name}'", e.coord)
            return found[0]
        if isinstance(e, c_ast.UnaryOp):
            if e.op == "sizeof":
                if not isinstance(e.expr, c_ast.Typename):
                    raise CError("sizeof of an expression is not supported here", e.coord)
                return self.ctype(e.expr).size
            if e.op == "_Alignof":
                return self.ctype(e.expr).align
            v = self.const(e.expr)
            ops = {"-": lambda: -v, "+": lambda: v, "~": lambda: ~v, "!": lambda: int(not v)}
            if e.op in ops:
                return ops[e.op]()
        if isinstance(e, c_ast.BinaryOp):
            a, b = self.const(e.left), self.const(e.right)
            if e.op in ("/", "%") and b == 0:
                raise CError("division by zero in a constant expression", e.coord)
            ops = {
                "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "/": lambda: abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1),
                "%": lambda: a - abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1) * b,
                "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
                "|": lambda: a | b, "^": lambda: a ^ b, "&&": lambda: int(bool(a and b)),
                "||": lambda: int(bool(a or b)), "==": lambda: int(a == b),
                "!=": lambda: int(a != b), "<": lambda: int(a < b), ">": lambda: int(a > b),
                "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
            }
            if e.op in ops:
                return ops[e.op]()
        if isinstance(e, c_ast.TernaryOp):
            return self.const(e.iftrue) if self.const(e.cond) else self.const(e.iffalse)
        if isinstance(e, c_ast.Cast):
            return self.const(e.expr)
        raise CError("expected an integer constant expression", getattr(e, "coord", None))


def _attribute(decl) -> str | None:
    """The attribute a marker member (lang.preprocess.gnu_attributes) carries."""
    t = decl.type if isinstance(decl, c_ast.Decl) else None
    if isinstance(t, c_ast.ArrayDecl) and isinstance(t.type, c_ast.TypeDecl) \
            and isinstance(t.type.type, c_ast.IdentifierType) \
            and t.type.type.names == [ATTRIBUTE_MARK]:
        return decl.name
    return None


def _source_line(diags: Diagnostics, n: int) -> str:
    lines = diags.source.split("\n")
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def _spell(t: Type | None) -> str:
    return "void" if t is None else str(t)


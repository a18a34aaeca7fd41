"""Render an AST the way `bpftrace -d` (0.17) prints it.

The tree is printed one node per line, one space of indentation per level,
exactly as 0.17's "AST after: parser" section, minus the ` :: type[...]`
suffixes, which 0.17 prints as `type[none, ctx: 0]` before semantic analysis.
With `with_types=True` the suffixes are added on the nodes 0.17 types (like
its "AST after: Semantic"), from each node's `type`.

Where our AST differs from 0.17's, the printer converts so the output still
matches: `a->f` prints as a field access on a "dereference"; `x op= e` prints
as `x = x op e`; several map keys print as the map's children; attach points
print with the provider alias expanded and integers in decimal
(`k:f+0x10` -> `kprobe:f+16`).  Constructs 0.17 lacks (let, for, offsetof,
&) use the layout of later bpftrace versions.
"""
from __future__ import annotations

import re

from pybpftrace.lang import ast
from pybpftrace.lang.lexer import BUILTIN_NAMES, CALL_BUILTIN_NAMES, STACK_MODE_NAMES, string_bytes
from pybpftrace.types import Kind, Type, describe

PROVIDER_ALIASES = {
    "k": "kprobe", "kr": "kretprobe", "u": "uprobe", "ur": "uretprobe", "U": "usdt",
    "t": "tracepoint", "p": "profile", "i": "interval", "s": "software", "h": "hardware",
    "w": "watchpoint", "aw": "asyncwatchpoint", "f": "kfunc", "fr": "kretfunc", "it": "iter",
    "fentry": "kfunc", "fexit": "kretfunc",
}

UNOP_NAMES = {"*": "dereference"}

_INT = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_AP_PART = re.compile(r'"(?:\\.|[^"\\])*"|[^:"]+|:')


def dump(program: ast.Program, with_types: bool = False) -> str:
    """The program as `bpftrace -d` prints it (no trailing blank line)."""
    p = _Printer(with_types)
    p.program(program)
    return "".join(p.out)


def attach_point_name(raw: str) -> str:
    """An attach point as bpftrace names it: `k:f+0x10` -> `kprobe:f+16`,
    `uprobe:"/a b":f` -> `uprobe:/a b:f`."""
    parts, cur = [], ""
    for piece in _AP_PART.findall(raw):
        if piece == ":":
            parts.append(cur)
            cur = ""
        elif piece.startswith('"'):
            cur += piece[1:-1].replace('\\"', '"')
        else:
            cur += piece
    parts.append(cur)
    parts[0] = PROVIDER_ALIASES.get(parts[0], parts[0])
    for i, part in enumerate(parts[1:], 1):
        if "/" in part:
            continue
        base, plus, offset = part.partition("+")
        if _INT.fullmatch(base):
            base = str(_int_literal(base))
        if plus and _INT.fullmatch(offset):
            offset = str(_int_literal(offset))
        parts[i] = base + plus + offset
    return ":".join(parts)


def _int_literal(text: str) -> int:
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if len(text) > 1 and text[0] == "0" and all(c in "01234567" for c in text):
        return int(text, 8)
    return int(text)


def typestr(t: Type) -> str:
    """A type as 0.17 writes it in `-d` output: "unsigned int64", "sum", "(int64,string[2])"."""
    return describe(t)


def escape(value: str) -> str:
    """A string literal's value as 0.17 prints it: printable ASCII as is (with
    \\ and " escaped), \\n \\t \\r, and every other byte as \\xHH."""
    out = []
    for byte in string_bytes(value):
        c = chr(byte)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif 0x20 <= byte < 0x7F:
            out.append(c)
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def _cast_name(typename: str) -> str:
    """"struct sock *" -> "struct sock*", as 0.17 prints cast types."""
    return re.sub(r"\s*(\*+)$", r"\1", typename)


class _Printer:
    def __init__(self, with_types: bool):
        self.with_types = with_types
        self.out: list[str] = []

    def line(self, depth: int, text: str) -> None:
        self.out.append(" " * depth + text + "\n")

    def typed(self, depth: int, text: str, node: ast.Expr) -> None:
        if self.with_types:
            space = getattr(node, "addrspace", "none")  # a tuple's own type has none
            text += f" :: type[{typestr(node.type)}, ctx: {int(node.type.ctx)}" + (
                f", AS({space})]" if isinstance(space, str) and space != "none" else "]")
        self.line(depth, text)

    def key(self, e: ast.Expr, d: int) -> None:
        """A map key: 0.17 casts integer keys narrower than 64 bits, and prints the cast."""
        t = e.type
        if self.with_types and t.kind is Kind.INT and t.bits < 64:
            self.line(d, f"({'' if t.signed else 'u'}int64)")
            d += 1
        self.expr(e, d)

    # ---- program ------------------------------------------------------------
    def program(self, prog: ast.Program) -> None:
        if prog.c_definitions:
            self.out.append(prog.c_definitions + "\n")
        self.line(0, "Program")
        for probe in prog.probes:
            for ap in probe.attach_points:
                self.line(1, attach_point_name(ap.raw))
            if probe.pred is not None:
                self.line(2, "pred")
                self.expr(probe.pred, 3)
            self.stmts(probe.block, 2)

    def stmts(self, block: ast.Block | None, depth: int) -> None:
        if block is not None:
            for s in block.stmts:
                self.stmt(s, depth)

    # ---- statements ---------------------------------------------------------
    def stmt(self, s: ast.Statement, d: int) -> None:
        if isinstance(s, ast.ExprStatement):
            self.expr(s.expr, d)
        elif isinstance(s, (ast.AssignMap, ast.AssignVar)):
            target = s.map if isinstance(s, ast.AssignMap) else s.var
            if isinstance(s, ast.AssignVar) and s.decl:
                self.line(d, "decl" + (f" :: [{s.typename}]" if s.typename else ""))
                self.expr(target, d + 1)
                if s.expr is not None:
                    self.expr(s.expr, d + 1)
                return
            self.line(d, "=")
            self.expr(target, d + 1)
            if s.op is None:
                self.expr(s.expr, d + 1)
            else:
                self.typed(d + 1, s.op, target)
                self.expr(target, d + 2)
                self.expr(s.expr, d + 2)
        elif isinstance(s, ast.If):
            self.line(d, "if")
            self.expr(s.cond, d + 1)
            self.line(d + 1, "then")
            self.stmts(s.then, d + 2)
            if s.orelse is not None:
                self.line(d + 1, "else")
                self.stmts(s.orelse, d + 2)
        elif isinstance(s, ast.Unroll):
            self.line(d, "unroll")
            self.expr(s.count, d + 1)
            self.line(d + 1, "block")
            self.stmts(s.body, d + 2)
        elif isinstance(s, ast.While):
            self.line(d, "while(")
            self.expr(s.cond, d + 1)
            self.line(d + 1, ")")
            self.stmts(s.body, d + 2)
        elif isinstance(s, ast.For):
            self.line(d, "for")
            self.line(d + 1, "decl")
            self.expr(s.var, d + 2)
            if s.end is None:
                self.expr(s.start, d + 2)
            else:
                self.line(d + 2, "start")
                self.expr(s.start, d + 3)
                self.line(d + 2, "end")
                self.expr(s.end, d + 3)
            self.line(d + 1, "stmts")
            self.stmts(s.body, d + 2)
        elif isinstance(s, ast.Jump):
            self.line(d, s.kind)
        else:
            raise TypeError(f"cannot print {type(s).__name__}")

    # ---- expressions --------------------------------------------------------
    def expr(self, e: ast.Expr, d: int) -> None:
        if isinstance(e, ast.Integer):
            self.typed(d, f"int: {e.value}", e)
        elif isinstance(e, ast.String):
            self.typed(d, f"string: {escape(e.value)}", e)
        elif isinstance(e, ast.Builtin):
            self.typed(d, f"{_identifier_kind(e.name)}: {e.name}", e)
        elif isinstance(e, ast.PositionalParam):
            self.typed(d, f"param: ${e.n if e.n else '#'}", e)
        elif isinstance(e, ast.Variable):
            self.typed(d, f"variable: ${e.name}", e)
        elif isinstance(e, ast.Map):
            self.typed(d, f"map: @{e.name}", e)
            if isinstance(e.key, ast.Tuple) and e.key.keys:
                for k in e.key.elems:
                    self.key(k, d + 1)
            elif e.key is not None:
                self.key(e.key, d + 1)
        elif isinstance(e, ast.Call):
            self.typed(d, f"call: {e.name}", e)
            for a in e.args:
                self.expr(a, d + 1)
        elif isinstance(e, ast.Sizeof):
            self.typed(d, "call: sizeof", e)
            if e.expr is not None:
                self.expr(e.expr, d + 1)
            else:
                self.line(d + 1, f"identifier: {e.typename}")
        elif isinstance(e, ast.Offsetof):
            self.line(d, "offsetof: ")
            self.line(d + 1, e.typename)
            for f in e.field.split("."):
                self.line(d + 1, f)
        elif isinstance(e, ast.Binop):
            self.typed(d, e.op, e)
            self.expr(e.left, d + 1)
            self.expr(e.right, d + 1)
        elif isinstance(e, ast.Unop):
            name = UNOP_NAMES.get(e.op, e.op)
            if e.post:
                self.expr(e.expr, d)
                self.line(d + 1, name)
            else:
                self.line(d, name)
                self.expr(e.expr, d + 1)
        elif isinstance(e, ast.Ternary):
            self.line(d, "?:")
            self.expr(e.cond, d + 1)
            self.expr(e.left, d + 1)
            self.expr(e.right, d + 1)
        elif isinstance(e, ast.FieldAccess):
            self.line(d, ".")
            if e.arrow:
                self.line(d + 1, "dereference")
                self.expr(e.expr, d + 2)
            else:
                self.expr(e.expr, d + 1)
            self.line(d + 1, e.field)
        elif isinstance(e, ast.ArrayAccess):
            self.line(d, "[]")
            self.expr(e.expr, d + 1)
            self.expr(e.index, d + 1)
        elif isinstance(e, ast.Cast):
            self.line(d, f"({_cast_name(e.typename)})")
            self.expr(e.expr, d + 1)
        elif isinstance(e, ast.Tuple):
            self.line(d, "tuple:")
            for x in e.elems:
                self.expr(x, d + 1)
        else:
            raise TypeError(f"cannot print {type(e).__name__}")


def _identifier_kind(name: str) -> str:
    """0.17's lexer tells builtins, stack modes and other identifiers apart; so does its printer."""
    if name in BUILTIN_NAMES or name in CALL_BUILTIN_NAMES:
        return "builtin"
    if name in STACK_MODE_NAMES:
        return "stack_mode"
    return "identifier"

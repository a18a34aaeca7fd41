"""The BpfScript parser: recursive descent, with precedence climbing for binary operators.

    program    := (CPREPROC | STRUCT_DEFN)* probe+
    probe      := ATTACH ("," ATTACH)* ["/" expr ENDPRED] block
    block      := "{" [stmt (sep stmt)*] "}"     (sep: ";" after a simple statement;
                                                  nothing after if/unroll/while/for)
    expr       := binary ["?" expr ":" expr]
    binary     := unary (binop unary)*           (C precedence, left-associative)
    unary      := ("!" | "~" | "-" | "*" | "&") unary | ("++" | "--") map_or_var
                | "(" type ")" unary | postfix
    postfix    := primary ("." field | "->" field | "[" expr "]")* [("++" | "--")]

The accepted language is bpftrace 0.17's, plus what the brief asks beyond it:
`let`, `for`, `offsetof`, address-of `&` and trailing-comma tuples `(a,)`.  As
in 0.17, only bpftrace's own function names can be called ("Unknown function:
foo" otherwise), the unroll count is an integer literal or a positional
parameter, and `(name)` before an operand is a cast to the type `name`.

Syntax errors use bpftrace/bison's wording ("syntax error, unexpected ;,
expecting }") and the parser stops at the first one, as bpftrace does.  The
"expecting" lists reproduce bison's for the common states; elsewhere bison
lists nothing and neither do we.

Locations follow bpftrace 0.17 so that semantic diagnostics can render
byte-identically.  Leaf tokens start where their run of non-blank characters
starts (see lexer.py).  Most nodes span the whole construct; the exceptions
are the spots bpftrace itself points at:

    prefix Unop (! ~ - * & ++ --)   the operator token (postfix ++ --: the operator too)
    Binop                           both operands; `op_loc` is the operator token
    AttachPoint                     from the end of the previous token (1:1 at the start)
    Cast                            "(type)", without the operand
    FieldAccess with "."            up to and including the "." (`$x.` of `$x.f`)
    ArrayAccess                     from the "[" token (its run) to "]"
    AssignVar with plain "="        the "=" token
    If / Unroll / While / For       the keyword through the ")" of its header

A literal `-N` is folded into Integer(-N) as bpftrace's grammar does.  Integer
values are int64 as in 0.17 (0xffffffffffffffff is -1).
"""
from __future__ import annotations

from pybpftrace.diag import NOWHERE, Diagnostics, Location
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import (
    BUILTIN_NAMES, CALL_BUILTIN_NAMES, CALL_NAMES, INT_TYPES, KEYWORDS, STACK_MODE_NAMES, Lexer,
    Token, describe, wrap_int64,
)

BINARY_PRECEDENCE = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5,
    "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
    "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}
COMPOUND_ASSIGN = {"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
EXPR_START = {
    "INT", "STRING", "IDENT", "VAR", "MAP", "PARAM", "PARAMCOUNT",
    "(", "!", "~", "-", "*", "&", "++", "--",
}
STMT_KEYWORDS = {"if", "unroll", "while", "for", "break", "continue", "return", "let"}
TAGS = {"struct", "union", "enum"}

# Deeper nesting than this is reported instead of exhausting Python's stack.
MAX_NESTING = 100


class _Stop(Exception):
    """Unwinds the parser after the first error has been reported."""


def span(a: Location, b: Location) -> Location:
    return Location(a.line, a.col, b.end_line, b.end_col)


def parse(source: str, diags: Diagnostics, macros=None) -> ast.Program | None:
    """Parse a whole program.  Returns None if any error was reported (to `diags`).

    `macros` (lang.preprocess.Macros) are expanded in probe bodies and predicates."""
    errors_before = len(diags.errors)
    parser = _Parser(source, diags, macros)
    try:
        program = parser.program()
    except _Stop:
        return None
    except RecursionError:  # MAX_NESTING normally stops this first
        diags.error("program is nested too deeply", parser.last.loc if parser.last else NOWHERE)
        return None
    return None if len(diags.errors) > errors_before else program


class _Parser:
    def __init__(self, source: str, diags: Diagnostics, macros=None):
        self.lexer = Lexer(source, diags, macros)
        self.diags = diags
        self.buf: list[Token] = []
        self.last: Token | None = None   # the most recently consumed token
        self.depth = 0
        # Full source extent of expressions whose `loc` is narrower (see module doc),
        # and the ids of parenthesised expressions (which are not lvalues).
        self.extent: dict[int, Location] = {}
        self.grouped: set[int] = set()

    # ---- token plumbing -----------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        while len(self.buf) <= k:
            tok = self.lexer.next()
            if tok.kind == "ERROR":  # the lexer already reported it
                raise _Stop
            self.buf.append(tok)
        return self.buf[k]

    def take(self) -> Token:
        tok = self.peek()
        self.buf.pop(0)
        self.last = tok
        return tok

    def accept(self, kind: str) -> Token | None:
        return self.take() if self.peek().kind == kind else None

    def expect(self, kind: str, expecting: str | None = None) -> Token:
        if self.peek().kind != kind:
            self.unexpected(expecting if expecting is not None else kind)
        return self.take()

    def error(self, message: str, loc: Location):
        self.diags.error(message, loc)
        raise _Stop

    def unexpected(self, expecting: str | None = None):
        tok = self.peek()
        msg = f"syntax error, unexpected {describe(tok)}"
        if expecting:
            msg += f", expecting {expecting}"
        self.error(msg, tok.loc)

    def full(self, node: ast.Node) -> Location:
        return self.extent.get(id(node), node.loc)

    def nest(self):
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error("program is nested too deeply", self.peek().loc)

    # ---- program structure --------------------------------------------------
    def program(self) -> ast.Program:
        first = self.peek().loc
        c_defs = []
        while self.peek().kind in ("CPREPROC", "STRUCT_DEFN"):
            tok = self.take()
            c_defs.append(tok.value + ("\n" if tok.kind == "CPREPROC" else ";\n"))
        probes = [self.probe()]
        while self.peek().kind != "EOF":
            probes.append(self.probe())
        end = self.peek().loc
        return ast.Program(probes=probes, c_definitions="".join(c_defs), loc=span(first, end))

    def probe(self) -> ast.Probe:
        tok = self.peek()
        if tok.kind == "{":
            self.error("No attach points for probe", tok.loc)
        if tok.kind != "ATTACH":
            self.no_block(None)
        aps = [self.attach_point()]
        while self.accept(","):
            if self.peek().kind != "ATTACH":
                self.no_block(aps[0].loc)
            aps.append(self.attach_point())
        pred = None
        pred_loc = NOWHERE
        if self.peek().kind == "/":
            slash = self.take()
            pred = self.expr()
            end = self.expect("ENDPRED", "end predicate")
            pred_loc = span(slash.loc, end.loc)
        elif self.peek().kind != "{":
            self.no_block(aps[0].loc)
        block = self.block()
        return ast.Probe(aps, pred, block, loc=span(aps[0].loc, block.loc), pred_loc=pred_loc)

    def attach_point(self) -> ast.AttachPoint:
        """bison gives an attach point (an empty rule plus its parts) a location that
        starts where the previous token ended, or at 1:1 at the start of the input."""
        prev = self.last
        tok = self.take()
        start = Location(prev.loc.end_line, prev.loc.end_col, 0, 0) if prev else Location(1, 1, 0, 0)
        return ast.AttachPoint(tok.value, loc=span(start, tok.loc))

    def no_block(self, start: Location | None):
        """The probe header is not followed by a block."""
        tok = self.peek()
        if tok.kind == "EOF":
            loc = tok.loc if start is None else span(start, self.last.loc)
            self.error("unexpected end of file, expected {", loc)
        self.unexpected("{")

    def block(self) -> ast.Block:
        self.nest()
        open_ = self.expect("{")
        stmts = []
        while self.peek().kind != "}":
            tok = self.peek()
            if tok.kind not in EXPR_START and tok.kind not in STMT_KEYWORDS:
                self.unexpected("}")
            stmt = self.statement()
            stmts.append(stmt)
            if isinstance(stmt, (ast.If, ast.Unroll, ast.While, ast.For)):
                continue
            if not self.accept(";") and self.peek().kind != "}":
                self.unexpected("}")
        close = self.take()
        self.depth -= 1
        return ast.Block(stmts, loc=span(open_.loc, close.loc))

    # ---- statements ---------------------------------------------------------
    def statement(self) -> ast.Statement:
        kind = self.peek().kind
        if kind == "if":
            return self.if_stmt()
        if kind in ("unroll", "while"):
            kw = self.take()
            self.expect("(")
            expr = self.unroll_count() if kind == "unroll" else self.expr()
            close = self.expect(")")
            body = self.block()
            cls = ast.Unroll if kind == "unroll" else ast.While
            return cls(expr, body, loc=span(kw.loc, close.loc))
        if kind == "for":
            return self.for_stmt()
        if kind in ("break", "continue", "return"):
            tok = self.take()
            return ast.Jump(kind, loc=tok.loc)
        if kind == "let":
            return self.let_stmt()
        return self.simple_statement()

    def unroll_count(self) -> ast.Expr:
        """0.17's grammar: an integer literal (maybe negative) or a positional parameter."""
        tok = self.peek()
        if tok.kind == "INT":
            self.take()
            return ast.Integer(tok.value, loc=tok.loc)
        if tok.kind == "-":
            self.take()
            lit = self.expect("INT", "integer")
            return ast.Integer(wrap_int64(-lit.value), loc=span(tok.loc, lit.loc))
        if tok.kind in ("PARAM", "PARAMCOUNT"):
            return self.primary()
        self.unexpected("$# or - or positional parameter or integer")

    def if_stmt(self) -> ast.If:
        kw = self.take()
        self.expect("(")
        cond = self.expr()
        close = self.expect(")")
        then = self.block()
        orelse = None
        if self.accept("else"):
            if self.peek().kind == "if":
                nested = self.if_stmt()
                orelse = ast.Block([nested], loc=span(nested.loc, self.last.loc))
            elif self.peek().kind == "{":
                orelse = self.block()
            else:
                self.unexpected("{ or if")
        return ast.If(cond, then, orelse, loc=span(kw.loc, close.loc))

    def for_stmt(self) -> ast.For:
        kw = self.take()
        self.expect("(")
        var_tok = self.expect("VAR", "variable")
        var = ast.Variable(var_tok.value, loc=var_tok.loc)
        self.expect(":")
        start = self.expr()
        end = None
        if self.accept(".."):
            end = self.expr()
        elif not (isinstance(start, ast.Map) and self.peek().kind == ")"):
            self.unexpected("..")
        close = self.expect(")")
        body = self.block()
        return ast.For(var, start, end, body, loc=span(kw.loc, close.loc))

    def let_stmt(self) -> ast.AssignVar:
        kw = self.take()
        var_tok = self.expect("VAR", "variable")
        var = ast.Variable(var_tok.value, loc=var_tok.loc)
        typename = None
        if self.accept(":"):
            typename = self.typename()
        expr = None
        if self.accept("="):
            expr = self.expr()
        end = self.full(expr) if expr is not None else self.last.loc
        return ast.AssignVar(var, expr, decl=True, typename=typename, loc=span(kw.loc, end))

    def simple_statement(self) -> ast.Statement:
        target = self.expr()
        op_tok = self.peek()
        if op_tok.kind != "=" and op_tok.kind not in COMPOUND_ASSIGN:
            return ast.ExprStatement(target, loc=self.full(target))
        lvalue = isinstance(target, (ast.Map, ast.Variable)) and id(target) not in self.grouped
        if not lvalue:
            if isinstance(target, ast.FieldAccess) and target.field.isdigit():
                self.take()
                value = self.expr()
                self.error("Tuples are immutable once created. Consider creating a new tuple "
                           "and assigning it instead.", span(self.full(target), self.full(value)))
            self.unexpected("}")
        self.take()
        value = self.expr()
        op = None if op_tok.kind == "=" else op_tok.kind[:-1]
        whole = span(self.full(target), self.full(value))
        if isinstance(target, ast.Map):
            return ast.AssignMap(target, value, op, loc=whole, op_loc=op_tok.loc)
        return ast.AssignVar(target, value, op, loc=op_tok.loc if op is None else whole,
                             op_loc=op_tok.loc)

    # ---- expressions ------------------------------------------------------------
    def expr(self) -> ast.Expr:
        self.nest()
        cond = self.binary(1)
        if self.accept("?"):
            left = self.expr()
            self.expect(":")
            right = self.expr()
            cond = ast.Ternary(cond, left, right, loc=span(self.full(cond), self.full(right)))
        self.depth -= 1
        return cond

    def binary(self, min_prec: int) -> ast.Expr:
        left = self.unary()
        while True:
            op = self.peek().kind
            prec = BINARY_PRECEDENCE.get(op)
            if prec is None or prec < min_prec:
                return left
            op_tok = self.take()
            right = self.binary(prec + 1)
            left = ast.Binop(op, left, right, loc=span(self.full(left), self.full(right)),
                             op_loc=op_tok.loc)

    def unary(self) -> ast.Expr:
        tok = self.peek()
        kind = tok.kind
        if kind in ("!", "~", "-", "*", "&"):
            self.take()
            if kind == "-" and self.peek().kind == "INT":
                lit = self.take()
                node = ast.Integer(wrap_int64(-lit.value), loc=span(tok.loc, lit.loc))
                return self.postfix(node)
            self.nest()
            operand = self.unary()
            self.depth -= 1
            node = ast.Unop(kind, operand, loc=tok.loc)
            self.extent[id(node)] = span(tok.loc, self.full(operand))
            return node
        if kind in ("++", "--"):
            self.take()
            nxt = self.peek()
            if nxt.kind == "IDENT":
                self.error(f"The {kind} operator must be applied to a map or variable", tok.loc)
            if nxt.kind not in ("MAP", "VAR"):
                self.unexpected()
            operand = self.map_or_var()
            node = ast.Unop(kind, operand, loc=tok.loc)
            self.extent[id(node)] = span(tok.loc, self.full(operand))
            return node
        if kind == "(" and self.cast_ahead():
            self.take()
            k = 0
            while self.peek(k).kind not in ("*", ")", "EOF"):
                k += 1
            end = self.peek(k)  # 0.17's cast spans `(` to the type's first `*`, else to `)`
            typename = self.typename()
            self.expect(")", ") or *" if typename.count("*") < 2 else ")")  # 0.17: ** at most
            self.nest()
            operand = self.unary()
            self.depth -= 1
            node = ast.Cast(typename, operand, loc=span(tok.loc, end.loc))
            self.extent[id(node)] = span(tok.loc, self.full(operand))
            return node
        return self.postfix(self.primary())

    def cast_ahead(self) -> bool:
        """Is the `(` at the cursor the start of a cast `(type)`?"""
        k = 1
        first = self.peek(k)
        if first.kind in TAGS:
            return True  # `(struct` starts nothing but a cast
        if first.kind != "IDENT" or first.text in BUILTIN_NAMES or first.text in CALL_NAMES \
                or first.text in CALL_BUILTIN_NAMES or first.text in STACK_MODE_NAMES:
            return False  # bpftrace's lexer makes those other tokens than IDENT
        k += 1
        while self.peek(k).kind == "*":
            k += 1
        return self.peek(k).kind == ")"

    def typename(self) -> str:
        """`uint32`, `struct sock`, `my_typedef`, each with optional `*`s: "struct sock **"."""
        tok = self.peek()
        if tok.kind in TAGS:
            self.take()
            name = f"{tok.kind} {self.expect('IDENT', 'identifier').text}"
        else:
            name = self.expect("IDENT", "identifier").text
        stars = 0
        while self.accept("*"):
            stars += 1
        return name + (" " + "*" * stars if stars else "")

    def postfix(self, node: ast.Expr) -> ast.Expr:
        while True:
            tok = self.peek()
            if tok.kind == "." or tok.kind == "->":
                self.take()
                field_tok = self.peek()
                if field_tok.kind == "INT" and tok.kind == ".":
                    field = str(field_tok.value)
                elif field_tok.kind == "IDENT" or field_tok.kind in KEYWORDS:
                    field = field_tok.text
                else:
                    self.unexpected()
                self.take()
                whole = span(self.full(node), field_tok.loc)
                narrow = tok.kind == "." and field_tok.kind != "INT"
                node = ast.FieldAccess(node, field, arrow=tok.kind == "->",
                                       loc=tok.loc if narrow else whole)
                self.extent[id(node)] = whole
            elif tok.kind == "[":
                self.take()
                index = self.expr()
                close = self.expect("]")
                whole = span(self.full(node), close.loc)
                node = ast.ArrayAccess(node, index, loc=span(tok.loc, close.loc))
                self.extent[id(node)] = whole
            elif tok.kind in ("++", "--"):
                if isinstance(node, (ast.Map, ast.Variable)) and id(node) not in self.grouped:
                    self.take()
                    node = ast.Unop(tok.kind, node, post=True, loc=tok.loc)
                    self.extent[id(node)] = span(self.full(node.expr), tok.loc)
                    return node
                if isinstance(node, ast.Builtin):
                    self.error(f"The {tok.kind} operator must be applied to a map or variable",
                               node.loc)
                return node
            else:
                return node

    def map_or_var(self) -> ast.Expr:
        tok = self.take()
        if tok.kind == "VAR":
            return ast.Variable(tok.value, loc=tok.loc)
        if not self.accept("["):
            return ast.Map(tok.value, loc=tok.loc)
        keys = self.expr_list()
        close = self.expect("]", '] or ","')
        key = keys[0] if len(keys) == 1 else ast.Tuple(
            keys, loc=span(self.full(keys[0]), self.full(keys[-1])), keys=True)
        return ast.Map(tok.value, key, loc=span(tok.loc, close.loc))

    def expr_list(self) -> list[ast.Expr]:
        """expr ("," expr)*: call arguments and map keys."""
        items = [self.expr()]
        while self.accept(","):
            items.append(self.expr())
        return items

    def primary(self) -> ast.Expr:
        tok = self.peek()
        kind = tok.kind
        if kind == "INT":
            self.take()
            return ast.Integer(tok.value, loc=tok.loc)
        if kind == "STRING":
            self.take()
            return ast.String(tok.value, loc=tok.loc)
        if kind == "PARAM":
            self.take()
            return ast.PositionalParam(tok.value, loc=tok.loc)
        if kind == "PARAMCOUNT":
            self.take()
            return ast.PositionalParam(0, loc=tok.loc)
        if kind in ("VAR", "MAP"):
            return self.map_or_var()
        if kind == "IDENT":
            self.take()
            if self.peek().kind != "(":
                return ast.Builtin(tok.text, loc=tok.loc)
            if tok.text == "sizeof":
                return self.sizeof(tok)
            if tok.text == "offsetof":
                return self.offsetof(tok)
            self.take()
            args = [] if self.peek().kind == ")" else self.expr_list()
            close = self.expect(")", ') or ","')
            if tok.text not in CALL_NAMES and tok.text not in CALL_BUILTIN_NAMES:
                # bpftrace's lexer only makes its own function names callable.
                self.error(f"Unknown function: {tok.text}", tok.loc)
            return ast.Call(tok.text, args, loc=span(tok.loc, close.loc))
        if kind == "(":
            return self.paren()
        self.unexpected()

    def paren(self) -> ast.Expr:
        """`(e)` (grouping) or a tuple `(a, b)` / `(a,)`."""
        open_ = self.take()
        first = self.expr()
        if self.accept(")"):
            self.grouped.add(id(first))
            self.extent[id(first)] = span(open_.loc, self.last.loc)
            return first
        if self.peek().kind != ",":
            self.unexpected(') or ","')
        elems = [first]
        while self.accept(","):
            if self.peek().kind == ")":
                break
            elems.append(self.expr())
        close = self.expect(")", ') or ","')
        return ast.Tuple(elems, loc=span(open_.loc, close.loc))

    def sizeof(self, name: Token) -> ast.Sizeof:
        self.take()
        if self.type_ahead():
            typename, expr = self.typename(), None
        else:
            typename, expr = None, self.expr()
        close = self.expect(")", ') or ","')
        return ast.Sizeof(typename, expr, loc=span(name.loc, close.loc))

    def type_ahead(self) -> bool:
        """In sizeof( ), is the argument a type?  Integer types, `struct X`, and a lone
        identifier that is not a builtin (a typedef name) are types."""
        tok = self.peek()
        if tok.kind in TAGS:
            return True
        if tok.kind != "IDENT":
            return False
        if tok.text in INT_TYPES:
            return True
        return tok.text not in BUILTIN_NAMES and self.peek(1).kind in (")", "*")

    def offsetof(self, name: Token) -> ast.Offsetof:
        self.take()
        typename = self.typename()
        self.expect(",")
        fields = [self.expect("IDENT", "identifier").text]
        while self.accept("."):
            fields.append(self.expect("IDENT", "identifier").text)
        close = self.expect(")")
        return ast.Offsetof(typename, ".".join(fields), loc=span(name.loc, close.loc))

"""The typed abstract syntax tree of BpfScript.

All nodes are declared here so they share one shape: a dataclass with a `loc`
(source span).  Expressions also carry `type`, which the semantic passes fill
in.  `children()` walks any node's sub-nodes generically.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from pybpftrace.diag import NOWHERE, Location
from pybpftrace.types import NONE, Type


@dataclass(eq=False)
class Node:
    loc: Location = field(default=NOWHERE, kw_only=True)


@dataclass(eq=False)
class Expr(Node):
    type: Type = field(default=NONE, kw_only=True)


# ---- expressions ------------------------------------------------------------

@dataclass(eq=False)
class Integer(Expr):
    value: int


@dataclass(eq=False)
class String(Expr):
    value: str  # escapes already decoded


@dataclass(eq=False)
class Builtin(Expr):
    """pid, tid, comm, nsecs, arg0, args, retval, curtask, kstack, ... (an identifier)."""
    name: str


@dataclass(eq=False)
class PositionalParam(Expr):
    """$1 .. $N; n == 0 means `$#` (the number of parameters)."""
    n: int


@dataclass(eq=False)
class Variable(Expr):
    """A scratch variable `$name` (stored without the `$`)."""
    name: str


@dataclass(eq=False)
class Map(Expr):
    """`@name`, `@name[k]`, `@name[k1, k2]` (name without `@`; "" is the anonymous map).

    `key` is None for a scalar map, a single expression, or a Tuple for several keys.
    """
    name: str
    key: Expr | None = None


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr] = field(default_factory=list)


@dataclass(eq=False)
class Binop(Expr):
    """`loc` spans both operands; `op_loc` is the operator token, where bpftrace
    0.17 puts a binop's own location (its warnings and some errors point there)."""
    op: str  # + - * / % & | ^ << >> == != < <= > >= && ||
    left: Expr
    right: Expr
    op_loc: Location = field(default=NOWHERE, kw_only=True)


@dataclass(eq=False)
class Unop(Expr):
    """! ~ - * (deref) & (address-of), and ++/-- (pre or post) on variables and maps."""
    op: str
    expr: Expr
    post: bool = False


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    left: Expr
    right: Expr


@dataclass(eq=False)
class FieldAccess(Expr):
    """`expr.field` or `expr->field` (arrow=True); `$t.0` on tuples has field "0"."""
    expr: Expr
    field: str
    arrow: bool = False


@dataclass(eq=False)
class ArrayAccess(Expr):
    expr: Expr
    index: Expr


@dataclass(eq=False)
class Cast(Expr):
    """`(type)expr`; `typename` is the written type, e.g. "uint32", "struct sock *"."""
    typename: str
    expr: Expr


@dataclass(eq=False)
class Tuple(Expr):
    """A tuple `(a, b)`; with `keys=True`, the key list of `@m[a, b]` instead."""
    elems: list[Expr] = field(default_factory=list)
    keys: bool = field(default=False, kw_only=True)


@dataclass(eq=False)
class Sizeof(Expr):
    """sizeof(type) (typename set) or sizeof(expr)."""
    typename: str | None = None
    expr: Expr | None = None


@dataclass(eq=False)
class Offsetof(Expr):
    typename: str
    field: str


# ---- statements -------------------------------------------------------------

@dataclass(eq=False)
class Statement(Node):
    pass


@dataclass(eq=False)
class ExprStatement(Statement):
    expr: Expr


@dataclass(eq=False)
class AssignMap(Statement):
    """`@m[k] = e`; `op` is the compound operator ("+" for `+=`) or None."""
    map: Map
    expr: Expr
    op: str | None = None
    op_loc: Location = field(default=NOWHERE, kw_only=True)  # the `=` / `op=` token


@dataclass(eq=False)
class AssignVar(Statement):
    """`$x = e`, `$x op= e`, and `let $x[: type] [= e]` (decl=True; expr may be None)."""
    var: Variable
    expr: Expr | None
    op: str | None = None
    decl: bool = False
    typename: str | None = None
    op_loc: Location = field(default=NOWHERE, kw_only=True)  # the `=` / `op=` token


@dataclass(eq=False)
class Block(Node):
    stmts: list[Statement] = field(default_factory=list)


@dataclass(eq=False)
class If(Statement):
    """`else if` is an If as the only statement of `orelse`."""
    cond: Expr
    then: Block
    orelse: Block | None = None


@dataclass(eq=False)
class Unroll(Statement):
    count: Expr
    body: Block


@dataclass(eq=False)
class While(Statement):
    cond: Expr
    body: Block


@dataclass(eq=False)
class For(Statement):
    """`for ($i : start..end)` (range) or `for ($kv : @map)` (map iteration, end None)."""
    var: Variable
    start: Expr
    end: Expr | None
    body: Block


@dataclass(eq=False)
class Jump(Statement):
    kind: str  # "break", "continue", "return"


# ---- program ----------------------------------------------------------------

@dataclass(eq=False)
class AttachPoint(Node):
    """One attach point exactly as written, e.g. "t:syscalls:sys_enter_*".

    The semantic pass splits it into provider/target/func and expands wildcards.
    """
    raw: str
    provider: str = ""
    target: str = ""
    func: str = ""
    freq: int = 0


@dataclass(eq=False)
class Probe(Node):
    """A probe block.  `provider` and `expansions` are filled in by semantic.attach:
    the canonical provider name and the concrete attach points (resources.ProbeInfo)."""
    attach_points: list[AttachPoint]
    pred: Expr | None
    block: Block
    provider: str = field(default="", kw_only=True)
    expansions: list = field(default_factory=list, kw_only=True)
    pred_loc: Location = field(default=NOWHERE, kw_only=True)  # `/ pred /`, both slashes


@dataclass(eq=False)
class Program(Node):
    probes: list[Probe] = field(default_factory=list)
    c_definitions: str = ""  # #include / #define / struct text before the probes


# ---- traversal --------------------------------------------------------------

def children(node: Node):
    """The child nodes of `node`, in source order."""
    for f in fields(node):
        if f.name in ("loc", "type"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, Node):
            yield v
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, Node):
                    yield x


def builtins_and_calls(node: Node):
    """The builtins and function calls of a subtree, in source order."""
    if isinstance(node, (Builtin, Call)):
        yield node
    for c in children(node):
        yield from builtins_and_calls(c)


def uses(node: Node, names: set[str]) -> bool:
    """Does the subtree use one of these builtins or functions?"""
    return any(n.name in names for n in builtins_and_calls(node))


"""Type inference and checking (bpftrace's semantic analyser).

Sets `expr.type` on every expression, fixes the key and value types of every
map and the type of every scratch variable, and reports misuse with bpftrace
0.17's wording.  Maps may be read in one probe and assigned in a later one, so
the walk runs twice: the first walk only learns map types, the second reports.
"""
from __future__ import annotations

from pybpftrace.diag import Diagnostics, Location
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import string_bytes
from pybpftrace.semantic.builtins import (
    AGGREGATION_KINDS, ARG_PROVIDERS, BUILTIN_VARIABLES, FUNCTIONS, RETVAL_PROVIDERS, SIGNALS,
)
from pybpftrace.semantic.kinfo import TracepointField
from pybpftrace.types import INT64, NONE, UINT64, Int, Kind, String, Tuple, Type

INT_TYPES = {f"{'u' if u else ''}int{b}": Int(b, not u) for b in (8, 16, 32, 64) for u in (0, 1)}
MAP_FUNCS = {"delete", "clear", "zero", "print"}
ASYNC_MAP_FUNCS = {"clear", "zero"}


def widen(t: Type) -> Type:
    """The type a value has once stored in a map or tuple: integers become 64-bit."""
    if t.kind is Kind.INT:
        return Int(64, t.signed)
    if t.kind is Kind.TUPLE:
        return Tuple(*(widen(f) for f in t.fields))
    if t.kind in (Kind.COUNT, Kind.SUM, Kind.MIN, Kind.MAX, Kind.AVG):
        return Int(64, t.signed)
    return t


def describe(t: Type) -> str:
    """A type as bpftrace 0.17 names it in messages."""
    if t.kind is Kind.INT:
        return f"{'' if t.signed else 'unsigned '}int{t.bits}"
    if t.kind is Kind.PTR:
        return f"{describe(t.inner)} *" if t.inner else "pointer"
    return str(t)


def same_shape(a: Type, b: Type) -> bool:
    """Whether values of b can be stored where a is expected (sizes may differ)."""
    if a.is_integral and b.is_integral:
        return True
    if a.kind is not b.kind:
        return False
    if a.kind is Kind.TUPLE:
        return len(a.fields) == len(b.fields) and all(map(same_shape, a.fields, b.fields))
    return True


def merge(a: Type, b: Type) -> Type:
    """The common storage type of two same-shape types (largest strings)."""
    if a.kind in (Kind.STRING, Kind.BUFFER) and b.size > a.size:
        return b
    if a.kind is Kind.TUPLE:
        return Tuple(*(merge(x, y) for x, y in zip(a.fields, b.fields)))
    return a


class MapDecl:
    def __init__(self, key: Type | None, value: Type | None):
        self.key = key
        self.value = value


class TypeChecker:
    def __init__(self, diags: Diagnostics, params: list[str], strlen: int = 64,
                 unsafe: bool = False, tp_fields=None):
        self.diags = diags
        self.params = params
        self.strlen = strlen
        self.unsafe = unsafe
        self.tp_fields = tp_fields or (lambda probe: [])
        self.maps: dict[str, MapDecl] = {}
        self.var_types: dict[int, dict[str, Type]] = {}   # per probe id
        self.report = False
        self.probe: ast.Probe | None = None
        self.vars: dict[str, Type] = {}
        self.loop_depth = 0

    # ---- driver -----------------------------------------------------------
    def run(self, program: ast.Program) -> None:
        for self.report in (False, True):
            for probe in program.probes:
                self.probe = probe
                self.vars = self.var_types.setdefault(id(probe), {})
                if self.report:
                    self.vars.clear()
                if probe.pred is not None:
                    self.condition(probe.pred, "predicate")
                self.block(probe.block)
        for name, decl in self.maps.items():
            if decl.value is None and not self.diags.has_errors():
                self.diags.error(f"Undefined map: @{name}")

    def error(self, msg: str, loc: Location) -> None:
        if self.report:
            self.diags.error(msg, loc)

    # ---- statements -------------------------------------------------------
    def block(self, block: ast.Block) -> None:
        for s in block.stmts:
            self.statement(s)

    def statement(self, s: ast.Statement) -> None:
        if isinstance(s, ast.ExprStatement):
            self.expr(s.expr, statement=True)
        elif isinstance(s, ast.AssignMap):
            self.assign_map(s)
        elif isinstance(s, ast.AssignVar):
            self.assign_var(s)
        elif isinstance(s, ast.If):
            self.condition(s.cond, "if()")
            self.block(s.then)
            if s.orelse is not None:
                self.block(s.orelse)
        elif isinstance(s, ast.Unroll):
            self.expr(s.count)
            if not isinstance(s.count, ast.Integer):
                self.error("unroll count must be a literal integer", s.count.loc)
            elif s.count.value > 100:
                self.error("unroll maximum value is 100", s.loc)
            elif s.count.value < 1:
                self.error("unroll minimum value is 1", s.loc)
            self.block(s.body)
        elif isinstance(s, ast.While):
            self.condition(s.cond, "while()")
            self.loop(s.body)
        elif isinstance(s, ast.For):
            self.for_loop(s)
        elif isinstance(s, ast.Jump):
            if s.kind in ("break", "continue") and self.loop_depth == 0:
                self.error(f"{s.kind} statement is not allowed outside of a loop", s.loc)

    def loop(self, body: ast.Block) -> None:
        self.loop_depth += 1
        self.block(body)
        self.loop_depth -= 1

    def for_loop(self, s: ast.For) -> None:
        if s.end is None:
            self.error("for loops over maps are not supported by pybpftrace yet", s.loc)
            return
        for e in (s.start, s.end):
            if not self.expr(e).is_integral:
                self.error("Loop range requires integer expressions", e.loc)
        self.set_var(s.var, widen(s.start.type) if s.start.type.is_int else INT64, s.var.loc)
        self.loop(s.body)

    def condition(self, e: ast.Expr, what: str) -> None:
        t = self.expr(e)
        if not t.is_integral and t.kind is not Kind.NONE:
            self.error(f"Invalid condition in {what}: {describe(t)}", e.loc)

    def set_var(self, var: ast.Variable, t: Type, loc: Location) -> None:
        old = self.vars.get(var.name)
        if old is None or old.kind is Kind.NONE:
            self.vars[var.name] = t
        elif not same_shape(old, t):
            self.error(f"Type mismatch for ${var.name}: trying to assign value of type "
                       f"'{describe(t)}' when variable already contains a value of type "
                       f"'{describe(old)}'", loc)
        else:
            self.vars[var.name] = merge(old, t) if not old.is_int else old
        var.type = self.vars[var.name]

    def assign_var(self, s: ast.AssignVar) -> None:
        declared = None
        if s.typename is not None:
            declared = INT_TYPES.get(s.typename)
            if declared is None:
                self.error(f"Unknown type: {s.typename}", s.loc)
                declared = INT64
        if s.expr is None:
            self.set_var(s.var, declared or INT64, s.var.loc)
            return
        t = self.expr(s.expr)
        if s.expr.type.is_aggregation and isinstance(s.expr, ast.Call):
            self.error(f"{s.expr.name}() should be directly assigned to a map", s.expr.loc)
            return
        if s.op is not None:
            old = self.vars.get(s.var.name)
            if old is None:
                self.error(f"Undefined or undeclared variable: ${s.var.name}", s.var.loc)
                return
            self.arith_operands(s.op, old, t, s.loc)
            s.var.type = old
            return
        if t.kind is Kind.NONE:
            self.error("Invalid expression for assignment: none", s.expr.loc)
            return
        if declared is not None:
            t = declared
        self.set_var(s.var, t, s.var.loc)

    def assign_map(self, s: ast.AssignMap) -> None:
        m = s.map
        key = self.map_key(m)
        e = s.expr
        if isinstance(e, ast.Call) and e.name in AGGREGATION_KINDS and s.op is None:
            value = self.aggregation(e)
            if value is None:
                return
        else:
            value = self.expr(e)
            if value.kind is Kind.NONE:
                self.error("Invalid expression for assignment: none", e.loc)
                return
            if value.kind in (Kind.HIST, Kind.LHIST, Kind.STATS):
                self.error(f"Map value '{describe(value)}' cannot be assigned from one map to another. "
                           "The function that returns this type must be called directly e.g. "
                           f"`@a = {value.kind.value}(...);`.", e.loc)
                return
            value = widen(value)
            if s.op is not None:
                decl = self.maps.get(m.name)
                old = decl.value if decl and decl.value else INT64
                self.arith_operands(s.op, old, value, s.loc)
                value = old
        self.declare_map(m, key, value, s.loc)

    def aggregation(self, e: ast.Call) -> Type | None:
        self.check_arity(e)
        kind = AGGREGATION_KINDS[e.name]
        for a in e.args:
            self.expr(a)
        if e.name == "count":
            return Type(Kind.COUNT)
        if not e.args:
            return None
        arg = e.args[0].type
        if not arg.is_integral:
            self.error(f"{e.name}() only supports integer arguments ({describe(arg)} provided)", e.loc)
            return None
        if kind is Kind.LHIST:
            bounds = []
            for a, what in zip(e.args[1:], ("min", "max", "step")):
                if not isinstance(a, ast.Integer):
                    self.error(f"lhist() {what} must be a literal integer", a.loc)
                    return None
                bounds.append(a.value)
            lo, hi, step = bounds
            if step <= 0:
                self.error("lhist() step must be >= 1", e.args[3].loc)
                return None
            if lo < 0:
                self.error("lhist() min must be non-negative (provided min " + str(lo) + ")", e.args[1].loc)
                return None
            if lo >= hi:
                self.error(f"lhist() min must be less than max (provided min {lo} and max {hi})", e.loc)
                return None
            if (hi - lo) // step > 1000:
                self.error(f"lhist() too many buckets, must be <= 1000 (would need {(hi - lo) // step})", e.loc)
                return None
            return Type(Kind.LHIST, lhist=(lo, hi, step))
        return Type(kind, signed=arg.signed)

    def declare_map(self, m: ast.Map, key: Type | None, value: Type, loc: Location) -> None:
        decl = self.maps.get(m.name)
        if decl is None:
            self.maps[m.name] = decl = MapDecl(key, value)
        elif decl.value is None:
            decl.value = value
        elif not self.compatible_value(decl.value, value):
            self.error(f"Type mismatch for @{m.name}: trying to assign value of type '{describe(value)}' "
                       f"when map already contains a value of type '{describe(decl.value)}'", loc)
            return
        else:
            decl.value = merge(decl.value, value)
        m.type = decl.value

    @staticmethod
    def compatible_value(old: Type, new: Type) -> bool:
        if old.is_aggregation or new.is_aggregation:
            if old.kind is not new.kind:
                return False
            return old.kind is not Kind.LHIST or old.lhist == new.lhist
        return same_shape(old, new)

    def map_key(self, m: ast.Map) -> Type | None:
        """Type the key of a map access and check it against the map's known key."""
        if m.key is None:
            key = None
        elif isinstance(m.key, ast.Tuple):
            for e in m.key.elems:
                self.expr(e)
            key = Tuple(*(widen(e.type) for e in m.key.elems))
            m.key.type = key
        else:
            key = widen(self.expr(m.key))
        if key is not None and any(f.kind is Kind.NONE or f.is_aggregation
                                   for f in (key.fields if key.kind is Kind.TUPLE else (key,))):
            self.error(f"Invalid map key type: {describe(key)}", m.key.loc)
        decl = self.maps.get(m.name)
        if decl is None:
            self.maps[m.name] = MapDecl(key, None)
            return key
        if (decl.key is None) != (key is None) or (key is not None and not same_shape(decl.key, key)):
            have = "[]" if key is None else "[" + ", ".join(describe(f) for f in self.key_parts(key)) + "]"
            want = "[]" if decl.key is None else "[" + ", ".join(describe(f) for f in self.key_parts(decl.key)) + "]"
            self.error(f"Argument mismatch for @{m.name}: trying to access with arguments: {have} "
                       f"when map expects arguments: {want}", m.loc)
            return decl.key
        if key is not None:
            decl.key = merge(decl.key, key)
        return decl.key

    @staticmethod
    def key_parts(key: Type) -> tuple[Type, ...]:
        return key.fields if key.kind is Kind.TUPLE else (key,)

    # ---- expressions ------------------------------------------------------
    def expr(self, e: ast.Expr, statement: bool = False) -> Type:
        meth = getattr(self, "expr_" + type(e).__name__)
        t = meth(e) if not statement or not isinstance(e, ast.Call) else self.expr_Call(e, statement=True)
        e.type = t
        return t

    def expr_Integer(self, e: ast.Integer) -> Type:
        return INT64

    def expr_String(self, e: ast.String) -> Type:
        return String(len(string_bytes(e.value)) + 1)

    def expr_PositionalParam(self, e: ast.PositionalParam) -> Type:
        if e.n == 0:
            return INT64
        value = self.params[e.n - 1] if e.n <= len(self.params) else ""
        if value and not _is_number(value):
            return String(len(value.encode()) + 1)
        return INT64

    def expr_Variable(self, e: ast.Variable) -> Type:
        t = self.vars.get(e.name)
        if t is None:
            self.error(f"Undefined or undeclared variable: ${e.name}", e.loc)
            return NONE
        return t

    def expr_Map(self, e: ast.Map) -> Type:
        self.map_key(e)
        decl = self.maps[e.name]
        if decl.value is None:
            self.error(f"Undefined map: @{e.name}", e.loc)
            return NONE
        if decl.value.kind in (Kind.HIST, Kind.LHIST, Kind.STATS):
            return decl.value
        return decl.value

    def expr_Builtin(self, e: ast.Builtin) -> Type:
        name = e.name
        provider = self.probe.provider if self.probe else ""
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        if name.startswith("arg") and name[3:].isdigit():
            if provider not in ARG_PROVIDERS:
                self.error(f"The {name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes", e.loc)
            return UINT64
        if name == "retval":
            if provider not in RETVAL_PROVIDERS:
                self.error("The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes", e.loc)
            return UINT64
        if name == "func":
            return Type(Kind.KSYM)
        if name == "args":
            if provider != "tracepoint":
                self.error("The args builtin can only be used with tracepoint/kfunc/uprobe"
                           f"probes ({_probe_kind_name(provider)} used here)", e.loc)
            return Type(Kind.NONE, size=-1)  # only meaningful with a field access
        self.error(f"Unknown identifier: '{name}'", e.loc)
        return NONE

    def expr_FieldAccess(self, e: ast.FieldAccess) -> Type:
        if isinstance(e.expr, ast.Builtin) and e.expr.name == "args":
            self.expr(e.expr)
            if self.probe is None or self.probe.provider != "tracepoint":
                return NONE
            for f in self.tp_fields(self.probe):
                if f.name == e.field:
                    return field_type(f, self.probe)
            ap = self.probe.expansions[0].name if self.probe.expansions else "?"
            self.error(f"Struct/union of type 'struct {_tp_struct(ap)}' does not contain a field named "
                       f"'{e.field}'", e.loc)
            return NONE
        t = self.expr(e.expr)
        if t.kind is Kind.TUPLE:
            if not e.field.isdigit():
                self.error(f"Can not access field '{e.field}' on type '{describe(t)}'", e.loc)
                return NONE
            i = int(e.field)
            if i >= len(t.fields):
                self.error(f"Invalid tuple index: {i}. Found {len(t.fields)} elements in tuple.", e.loc)
                return NONE
            return t.fields[i]
        if t.kind is not Kind.NONE:
            self.error(f"Can not access field '{e.field}' on expression of type '{describe(t)}'", e.loc)
        return NONE

    def expr_ArrayAccess(self, e: ast.ArrayAccess) -> Type:
        t = self.expr(e.expr)
        it = self.expr(e.index)
        if t.kind is Kind.STRING and it.is_integral:
            return Int(8, True)
        if t.kind is Kind.PTR and it.is_integral:
            return t.inner or Int(8, True)
        if t.kind is Kind.TUPLE and isinstance(e.index, ast.Integer):
            if e.index.value >= len(t.fields):
                self.error(f"Invalid tuple index: {e.index.value}. Found {len(t.fields)} elements in tuple.", e.loc)
                return NONE
            return t.fields[e.index.value]
        if t.kind is not Kind.NONE:
            self.error(f"The array index operator [] can only be used on arrays and pointers, "
                       f"found {describe(t)}.", e.loc)
        return NONE

    def expr_Cast(self, e: ast.Cast) -> Type:
        t = self.expr(e.expr)
        name = e.typename.replace(" ", "")
        if name in INT_TYPES:
            if not t.is_integral and t.kind is not Kind.NONE:
                self.error(f"Cannot cast from \"{describe(t)}\" to \"{e.typename}\"", e.loc)
            return INT_TYPES[name]
        if name.endswith("*") and name.rstrip("*") in INT_TYPES:
            return Type(Kind.PTR, inner=INT_TYPES[name.rstrip("*")])
        self.error(f"Unknown struct/union: '{e.typename.rstrip(' *')}'", e.loc)
        return NONE

    def expr_Tuple(self, e: ast.Tuple) -> Type:
        for x in e.elems:
            if self.expr(x).kind is Kind.NONE:
                return NONE
        return Tuple(*(widen(x.type) for x in e.elems))

    def expr_Ternary(self, e: ast.Ternary) -> Type:
        self.condition(e.cond, "ternary")
        a, b = self.expr(e.left), self.expr(e.right)
        if a.kind is Kind.NONE or b.kind is Kind.NONE:
            return NONE
        if not same_shape(a, b):
            self.error(f"Ternary operator must return the same type: have '{_family(a)}' and '{_family(b)}'", e.loc)
            return NONE
        if a.is_integral:
            return Int(64, a.signed and b.signed)
        return merge(a, b)

    def expr_Unop(self, e: ast.Unop) -> Type:
        if e.op in ("++", "--"):
            return self.incdec(e)
        t = self.expr(e.expr)
        if t.kind is Kind.NONE:
            return NONE
        if e.op == "*":
            if t.kind is Kind.PTR:
                return t.inner or INT64
            if t.is_integral:
                return UINT64
        elif e.op in ("!", "~", "-"):
            if t.is_integral:
                return Int(64, True) if e.op in ("!", "-") else Int(64, t.signed)
        self.error(f"The {e.op} operator can not be used on expressions of type '{describe(t)}'", e.loc)
        return NONE

    def incdec(self, e: ast.Unop) -> Type:
        target = e.expr
        if isinstance(target, ast.Variable):
            t = self.vars.get(target.name)
            if t is None:
                self.error(f"Undefined or undeclared variable: ${target.name}", target.loc)
                return NONE
            target.type = t
        elif isinstance(target, ast.Map):
            key = self.map_key(target)
            decl = self.maps[target.name]
            t = decl.value or INT64
            self.declare_map(target, key, t, target.loc)
        else:
            self.error(f"The {e.op} operator must be applied to a map or variable", e.loc)
            return NONE
        if not t.is_integral:
            self.error(f"The {e.op} operator can not be used on expressions of type '{describe(t)}'", e.loc)
            return NONE
        return t

    def expr_Binop(self, e: ast.Binop) -> Type:
        a, b = self.expr(e.left), self.expr(e.right)
        if a.kind is Kind.NONE or b.kind is Kind.NONE:
            return NONE
        if e.op in ("&&", "||"):
            for side, t in ((e.left, a), (e.right, b)):
                if not t.is_integral:
                    self.error(f"Invalid condition in {e.op}: {describe(t)}", side.loc)
            return INT64
        if e.op in ("==", "!=") and a.kind is Kind.STRING and b.kind is Kind.STRING:
            return INT64
        if e.op in ("==", "!=") and a.kind is Kind.TUPLE and b.kind is Kind.TUPLE and same_shape(a, b):
            return INT64
        return self.arith_operands(e.op, a, b, e.loc)

    def arith_operands(self, op: str, a: Type, b: Type, loc: Location) -> Type:
        if not (a.is_integral and b.is_integral):
            self.error(f"Type mismatch for '{op}': comparing '{describe(a)}' with '{describe(b)}'", loc)
            return NONE
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return INT64
        return Int(64, a.signed and b.signed)

    def expr_Sizeof(self, e: ast.Sizeof) -> Type:
        if e.expr is not None:
            self.expr(e.expr)
        return UINT64

    def expr_Offsetof(self, e: ast.Offsetof) -> Type:
        self.error(f"Unknown struct/union: '{e.typename}'", e.loc)
        return NONE

    # ---- calls ------------------------------------------------------------
    def check_arity(self, e: ast.Call) -> bool:
        sig = FUNCTIONS[e.name]
        n = len(e.args)
        if sig.min_args <= n <= sig.max_args:
            return True
        if sig.min_args == sig.max_args == 0:
            self.error(f"{e.name}() requires no arguments ({n} provided)", e.loc)
        elif sig.min_args == sig.max_args == 1:
            self.error(f"{e.name}() requires one argument ({n} provided)", e.loc)
        elif sig.min_args == sig.max_args:
            self.error(f"{e.name}() requires {sig.min_args} arguments ({n} provided)", e.loc)
        elif n < sig.min_args:
            self.error(f"{e.name}() requires at least {sig.min_args} argument{'s' if sig.min_args > 1 else ''}"
                       f" ({n} provided)", e.loc)
        else:
            self.error(f"{e.name}() takes up to {sig.max_args} arguments ({n} provided)", e.loc)
        return False

    def expr_Call(self, e: ast.Call, statement: bool = False) -> Type:
        sig = FUNCTIONS.get(e.name)
        if sig is None:
            self.error(f"Unknown function: {e.name}", e.loc)
            for a in e.args:
                self.expr(a)
            return NONE
        if sig.unsafe and not self.unsafe:
            self.error(f"{e.name}() is an unsafe function being used in safe mode", e.loc)
        if sig.map_value:
            self.aggregation(e)
            self.error(f"{e.name}() should be directly assigned to a map", e.loc)
            return NONE
        if e.name in MAP_FUNCS:
            return self.map_function(e)
        if not self.check_arity(e):
            for a in e.args:
                self.expr(a)
            return NONE
        for a in e.args:
            self.expr(a)
        return getattr(self, "call_" + e.name)(e)

    def map_function(self, e: ast.Call) -> Type:
        if not self.check_arity(e):
            return NONE
        first = e.args[0]
        if e.name == "print" and not isinstance(first, ast.Map):
            if len(e.args) > 1:
                self.error("Non-map print() only takes 1 argument, 2 found", e.loc)
            t = self.expr(first)
            if t.kind is Kind.NONE:
                return NONE
            return NONE
        if not isinstance(first, ast.Map):
            self.error(f"{e.name}() expects a map to be provided", e.loc)
            return NONE
        if e.name == "delete":
            if len(e.args) == 2:
                if first.key is not None:
                    self.error("delete() takes a map without a key and the key as second argument", e.loc)
                first.key = e.args.pop()
            self.map_key(first)
        elif first.key is not None and e.name in ASYNC_MAP_FUNCS | {"print"}:
            self.error(f"The map passed to {e.name}() should not be indexed by a key", e.loc)
            return NONE
        decl = self.maps.get(first.name)
        if decl is None or decl.value is None:
            if decl is None:
                self.maps[first.name] = MapDecl(None, None)
            self.error(f"Undefined map: @{first.name}", e.loc)
            return NONE
        first.type = decl.value
        for a in e.args[1:]:
            if not self.expr(a).is_integral:
                self.error(f"{e.name}() arguments after the map must be integers", a.loc)
        return NONE

    def format_args(self, e: ast.Call) -> None:
        fmt = e.args[0]
        if not isinstance(fmt, ast.String):
            self.error(f"{e.name}() expects a string literal as the first argument", fmt.loc)
            return
        from pybpftrace.output.printf import validate_printf
        for msg in validate_printf(fmt.value, [a.type for a in e.args[1:]]):
            self.error(msg, e.loc)

    def call_printf(self, e: ast.Call) -> Type:
        self.format_args(e)
        return NONE

    call_system = call_printf
    call_cat = call_printf

    def call_time(self, e: ast.Call) -> Type:
        if e.args and not isinstance(e.args[0], ast.String):
            self.error("time() expects a string literal as the first argument", e.args[0].loc)
        return NONE

    def call_exit(self, e: ast.Call) -> Type:
        return NONE

    def call_str(self, e: ast.Call) -> Type:
        t = e.args[0].type
        if t.kind is Kind.STRING:
            size = t.size
        elif t.is_integral:
            size = self.strlen
        else:
            self.error(f"str() expects an integer or a pointer type as first argument ({describe(t)} provided)",
                       e.loc)
            return NONE
        if len(e.args) == 2:
            if not e.args[1].type.is_integral:
                self.error(f"str() only accepts an integer length ({describe(e.args[1].type)} provided)", e.loc)
            if isinstance(e.args[1], ast.Integer):
                size = min(size, max(e.args[1].value, 0) + 1)
        return String(size)

    def call_buf(self, e: ast.Call) -> Type:
        size = self.strlen
        if len(e.args) == 2 and isinstance(e.args[1], ast.Integer):
            size = min(size, e.args[1].value)
        elif e.args[0].type.kind is Kind.STRING:
            size = e.args[0].type.size
        return Type(Kind.BUFFER, size=size)

    def call_join(self, e: ast.Call) -> Type:
        if not e.args[0].type.is_integral:
            self.error(f"join() expects an integer or a pointer type as first argument "
                       f"({describe(e.args[0].type)} provided)", e.loc)
        if len(e.args) == 2 and not isinstance(e.args[1], ast.String):
            self.error("join() expects a string literal as the second argument", e.args[1].loc)
        return NONE

    def call_strncmp(self, e: ast.Call) -> Type:
        a, b, n = (x.type for x in e.args)
        if a.kind is not Kind.STRING or b.kind is not Kind.STRING:
            self.error("strncmp() expects strings as the first two arguments", e.loc)
        if not isinstance(e.args[2], ast.Integer):
            self.error("strncmp() expects an integer literal as the third argument", e.args[2].loc)
        return INT64

    def call_signal(self, e: ast.Call) -> Type:
        a = e.args[0]
        if isinstance(a, ast.String):
            if a.value not in SIGNALS:
                self.error(f"Invalid string for signal: {a.value}", e.loc)
        elif isinstance(a, ast.Integer):
            if not 1 <= a.value <= 64:
                self.error(f"Invalid signal: {a.value}", e.loc)
        elif not a.type.is_integral:
            self.error("signal only accepts string literals or integers", e.loc)
        return NONE

    def call_ksym(self, e: ast.Call) -> Type:
        if not e.args[0].type.is_integral:
            self.error(f"{e.name}() expects an integer or pointer argument", e.loc)
        return Type(Kind.KSYM if e.name == "ksym" else Kind.USYM)

    call_usym = call_ksym

    def call_ntop(self, e: ast.Call) -> Type:
        addr = e.args[-1].type
        if len(e.args) == 2 and not e.args[0].type.is_integral:
            self.error("ntop() expects an integer address family as first argument", e.loc)
        if not (addr.is_integral or (addr.kind is Kind.BUFFER and addr.size in (4, 16))
                or (addr.kind is Kind.STRING and addr.size in (4, 16))):
            self.error(f"ntop() expects an integer or array argument, got {describe(addr)}", e.loc)
        return Type(Kind.INET)

    def call_pton(self, e: ast.Call) -> Type:
        import socket
        a = e.args[0]
        if not isinstance(a, ast.String):
            self.error("pton() expects a string literal argument", e.loc)
            return NONE
        for family, size in ((socket.AF_INET, 4), (socket.AF_INET6, 16)):
            try:
                socket.inet_pton(family, a.value)
                return Type(Kind.BUFFER, size=size)
            except OSError:
                pass
        self.error(f"pton() expects a valid IPv4 or IPv6 address, got {a.value}", e.loc)
        return NONE

    def call_kstack(self, e: ast.Call) -> Type:
        mode, limit = "bpftrace", 127
        for a in e.args:
            if isinstance(a, ast.Builtin) and a.name in ("bpftrace", "perf", "raw"):
                mode = a.name
                a.type = NONE
            elif isinstance(a, ast.Integer):
                limit = a.value
            else:
                self.error(f"{e.name}() expects a stack mode (bpftrace, perf, raw) and/or an integer limit", a.loc)
        if not 0 <= limit <= 1024:
            self.error(f"{e.name}() limit must be between 0 and 1024", e.loc)
        kind = Kind.KSTACK if e.name == "kstack" else Kind.USTACK
        return Type(kind, stack_mode=mode, stack_limit=limit)

    call_ustack = call_kstack


def field_type(f: TracepointField, probe: ast.Probe) -> Type:
    """The BpfScript type of a tracepoint field."""
    if f.array_len and f.ctype.replace("const ", "").strip() in ("char", "unsigned char", "u8", "s8"):
        return String(f.array_len)
    if f.data_loc:
        return Type(Kind.INT, bits=32, signed=False)
    if "*" in f.ctype:
        return Type(Kind.PTR, inner=Int(8, True))
    if f.size in (1, 2, 4, 8):
        return Int(f.size * 8, f.signed)
    return UINT64


def _is_number(s: str) -> bool:
    try:
        int(s, 0)
        return True
    except ValueError:
        return False


def _probe_kind_name(provider: str) -> str:
    return "special" if provider in ("BEGIN", "END") else provider


def _tp_struct(name: str) -> str:
    return "_tracepoint_" + "_".join(name.split(":")[1:])


def _family(t: Type) -> str:
    return "integer" if t.is_integral else ("string" if t.kind is Kind.STRING else describe(t))

"""Type inference and checking: a port of bpftrace 0.17's SemanticAnalyser.

Sets `expr.type` on every expression, fixes the key and value types of every
map and the type of every scratch variable, and reports misuse with 0.17's
wording at 0.17's source spans.

The structure follows 0.17 (src/ast/passes/semantic_analyser.cpp) because the
structure decides which errors a user sees:

* the program is walked up to ten times, so that maps and variables used
  before the statement that assigns them get a type;
* some checks run in every pass, others only in the last one; the analysis
  stops after the first pass that reported an error, and only that pass's
  errors are shown, in the order they were found;
* map key types are only compared from the second pass on;
* warnings are printed as they are found, before the errors of their pass.

0.17's own quirks are kept where they are behaviour (aggregations such as
count() are not integers; `if` errors point at line 1), and dropped where they
are plain mistakes (a missing closing quote in "Type mismatch for @x", the
missing "join" and the missing space in two messages; a warning that 0.17
repeats once per pass is reported once).

Beyond 0.17: `let`, `for ($i : a..b)`, `delete(@m, key)`, tuple `==`, str() of a
kernel struct's char array, casts to and sizeof of any BTF typedef (`(pid_t)x`),
print() of pointers, `&` of struct members, and pointers indexed by any integer.
Kernel structs come from BTF (semantic.btftypes) instead of 0.17's clang, and
so do enumerators used as constants.  A struct value is copied out of kernel
memory only where it is stored or printed; `$t->a.b` reads just `b`.
"""
from __future__ import annotations

import fnmatch
import re
import socket
from dataclasses import dataclass, replace

from pybpftrace.diag import Diagnostics, Location
from pybpftrace.format_string import validate_printf
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import BUILTIN_NAMES, CALL_BUILTIN_NAMES, string_bytes
from pybpftrace.probe_types import ITERATORS
from pybpftrace.semantic.builtins import (
    BUILTIN_VARIABLES, MAX_STACK_SIZE, PT_REGS, STACK_MODES, STRING_SIZE, SUPPORTED_FUNCTIONS,
    UNAVAILABLE_IN, UNSAFE_FUNCTIONS, signal_number,
)
from pybpftrace.semantic import btftypes
from pybpftrace.semantic.records import NoSuchField, Records, UnknownRecord
from pybpftrace.semantic.kinfo import FunctionProto, TracepointField
from pybpftrace.types import INT64, NONE, UINT64, Int, Kind, String, Tuple, Type, describe, typestr

NUM_PASSES = 10
INT_TYPES = {f"{'u' if u else ''}int{b}": Int(b, not u) for b in (8, 16, 32, 64) for u in (0, 1)}
IF_LOC = Location(1, 1, 1, 1)  # 0.17's If node has no location of its own
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
ARITHMETIC = ("+", "-", "*", "/", "%")
PERF_EVENT_PROVIDERS = ("profile", "interval", "software", "hardware")
MAX_ARG = 5  # x86_64: arg0..arg5


# ---- 0.17's names and comparisons of types --------------------------------------

def size_of(t: Type) -> int:
    """0.17's SizedType::GetSize()."""
    k = t.kind
    if k is Kind.INT:
        return t.bits // 8
    if k in (Kind.STRING, Kind.ARRAY, Kind.TUPLE):
        return t.byte_size
    if k is Kind.BUFFER:
        return t.size + 1
    if k is Kind.RECORD:
        return t.size
    if k in (Kind.NONE, Kind.STACK_MODE):
        return 0
    if k is Kind.INET:
        return 24
    if k in (Kind.USYM, Kind.TIMESTAMP, Kind.CGROUP_PATH):
        return 16
    if k is Kind.MAC_ADDRESS:
        return 6
    return 8


def same_type(a: Type, b: Type) -> bool:
    """0.17's SizedType::IsSameType: same kind (records by name, pointers by target)."""
    if a.kind is not b.kind:
        return False
    if a.kind is Kind.RECORD:
        return a.name == b.name
    if a.kind is Kind.PTR and a.inner is not None and b.inner is not None:
        return same_type(a.inner, b.inner)
    return True


def equal(a: Type, b: Type) -> bool:
    """0.17's SizedType::IsEqual (operator==)."""
    if a.kind is not b.kind:
        return False
    k = a.kind
    if k is Kind.RECORD:
        return a.name == b.name
    if k is Kind.PTR:
        return (a.inner is None) == (b.inner is None) and (a.inner is None or equal(a.inner, b.inner))
    if k is Kind.ARRAY:
        return a.size == b.size and equal(a.inner, b.inner)
    if k is Kind.TUPLE:
        return len(a.fields) == len(b.fields) and all(map(equal, a.fields, b.fields))
    return size_of(a) == size_of(b) and a.signed == b.signed


def fits_into(a: Type, b: Type) -> bool:
    """0.17's SizedType::FitsInto: can a value of type a be stored where b is?"""
    if a.kind is Kind.STRING and b.kind is Kind.STRING:
        return a.size <= b.size
    if a.kind is Kind.TUPLE and b.kind is Kind.TUPLE:
        return len(a.fields) == len(b.fields) and all(map(fits_into, a.fields, b.fields))
    return equal(a, b)


def grow_strings(old: Type, new: Type) -> Type:
    """0.17's update_string_size: strings (also inside tuples) grow to the larger size."""
    if old.kind is Kind.STRING and new.kind is Kind.STRING:
        return old if old.size >= new.size else String(new.size)
    if old.kind is Kind.TUPLE and new.kind is Kind.TUPLE and len(old.fields) == len(new.fields):
        return Tuple(*(grow_strings(a, b) for a, b in zip(old.fields, new.fields)))
    return old


# 0.17's SizedType::IsByteArray(): values kept as bytes, which macaddr() may read.
BYTE_ARRAYS = (Kind.STRING, Kind.USYM, Kind.INET, Kind.BUFFER, Kind.TIMESTAMP, Kind.MAC_ADDRESS,
               Kind.CGROUP_PATH)


def printable(t: Type) -> bool:
    """Can print() show it?  Beyond 0.17: pointers (0.17 refuses them), as unsigned decimals."""
    if t.kind is Kind.RECORD and not t.size:
        return False  # a struct only declared, never defined
    return t.kind not in (Kind.NONE, Kind.STACK_MODE) and not t.ctx


def key_view(t: Type) -> Type:
    """How 0.17 shows a key: every integer in it as signed (MapKey::argument_value),
    also inside structs and arrays (a u32 0xffffffff member prints as -1).  Such
    a struct is marked `signed`: members do not take part in comparing types,
    and the runtime must not take it for the struct as a value."""
    if t.kind is Kind.INT:
        return Int(t.bits, True)
    if t.kind is Kind.ARRAY and t.inner is not None:
        return Type(Kind.ARRAY, size=t.size, inner=key_view(t.inner))
    if t.kind is Kind.RECORD and t.members:
        return replace(t, signed=True,
                       members=tuple(m._replace(type=key_view(m.type)) for m in t.members))
    return t


def in_traced_memory(e: ast.Expr) -> bool:
    """Is `e` an lvalue in the traced kernel's or process's memory, read (and
    addressable) through a pointer: `*p`, `p->member`, `p[i]` and the members
    and elements of those?  Every other value lives in the BPF program."""
    if isinstance(e, ast.Unop):
        return e.op == "*" and e.expr.type.kind is Kind.PTR
    if isinstance(e, ast.FieldAccess):
        return getattr(e, "btf_member", None) is not None and (e.arrow or in_traced_memory(e.expr))
    if isinstance(e, ast.ArrayAccess):
        return e.expr.type.kind is Kind.PTR or in_traced_memory(e.expr)
    return False


_C_INT = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def c_int(s: str) -> int | None:
    """The value of `s` as C's strtoll(s, &end, 0) reads a whole string; None if it is not one."""
    m = _C_INT.fullmatch(s)
    if m is None:
        return None
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        v = int(digits, 16)
    elif len(digits) > 1 and digits[0] == "0":
        v = int(digits, 8)
    else:
        v = int(digits)
    v = -v if m.group(1) == "-" else v
    return v if -(1 << 63) <= v < (1 << 63) else None


# 0.17's find_addrspace(): where a probe's arguments point.
_ADDRSPACE = {
    **dict.fromkeys(("kprobe", "kretprobe", "kfunc", "kretfunc", "tracepoint", "iter",
                     "rawtracepoint"), "kernel"),
    **dict.fromkeys(("uprobe", "uretprobe", "usdt"), "user"),
}


def param_value(params: list[str], n: int, in_str: bool) -> str:
    """0.17's get_param: a missing parameter is "0", or "" inside str()."""
    if n > len(params):
        return "" if in_str else "0"
    return params[n - 1]


_C_INTS = {
    **dict.fromkeys(("char", "signed char", "s8", "__s8"), (8, True)),
    **dict.fromkeys(("unsigned char", "u8", "__u8", "bool", "_Bool"), (8, False)),
    **dict.fromkeys(("short", "short int", "signed short", "s16", "__s16"), (16, True)),
    **dict.fromkeys(("unsigned short", "unsigned short int", "u16", "__u16", "umode_t",
                     "__be16", "__le16", "sa_family_t"), (16, False)),
    **dict.fromkeys(("int", "signed int", "signed", "s32", "__s32", "pid_t", "key_t",
                     "clockid_t", "timer_t", "mqd_t"), (32, True)),
    **dict.fromkeys(("unsigned int", "unsigned", "u32", "__u32", "uid_t", "gid_t", "qid_t",
                     "__be32", "__le32", "gfp_t", "fmode_t", "dev_t", "blk_opf_t"), (32, False)),
    **dict.fromkeys(("long", "long int", "signed long", "long long", "long long int", "s64",
                     "__s64", "loff_t", "ssize_t", "off_t", "time64_t", "__kernel_time_t",
                     "time_t", "ktime_t"), (64, True)),
    **dict.fromkeys(("unsigned long", "unsigned long int", "unsigned long long",
                     "unsigned long long int", "u64", "__u64", "size_t", "sector_t", "dma_addr_t",
                     "resource_size_t", "__be64", "__le64", "aio_context_t", "cap_user_header_t",
                     "key_serial_t"), (64, False)),
}


def field_type(f: TracepointField, records: Records | None = None) -> Type:
    """The type of a tracepoint field, as 0.17's clang parser makes it from the
    C declaration (integer widths come from the C type, not the format's size).
    `records` resolves what a pointer points to beyond integers (`struct
    __kernel_timespec *`, from BTF as 0.17's BTF header supplies it); without
    it, or when it does not know the name, the target is an int8."""
    base = " ".join(f.ctype.replace("const", " ").replace("volatile", " ").split())
    if f.data_loc:
        return INT64  # 0.17 rewrites __data_loc fields to a 64-bit address
    if "*" in base:
        stars = base.count("*")
        name = base.replace("*", " ").strip()
        target = Int(*_C_INTS[name]) if name in _C_INTS else \
            records.named_type(name) if records is not None else None
        t = Type(Kind.PTR, inner=target or Int(8, True))
        for _ in range(stars - 1):
            t = Type(Kind.PTR, inner=t)
        return t
    if f.array_len:
        if base == "char":  # `__u8 saddr[4]` is an array of integers, as clang tells 0.17
            return String(f.array_len)
        elem = f.size // f.array_len if f.array_len else f.size
        bits, signed = _C_INTS.get(base, (elem * 8, f.signed))
        return Type(Kind.ARRAY, size=f.array_len, inner=Int(bits, signed))
    # Syscall tracepoints keep every argument in 8 bytes, but only the C type's
    # low bytes are meaningful: `int dfd` of AT_FDCWD holds 0x00000000ffffff9c.
    # 0.17 widens such fields to 64 bits and so shows -100 as 4294967196
    # (its 32-bit printf("%d") hides that); we read the C type's width.
    bits, signed = _C_INTS.get(base, (f.size * 8 if f.size in (1, 2, 4, 8) else 64, f.signed))
    return Int(bits, signed)


# Kinds whose `args` is a record of typed u64 context slots, from BTF.
FUNCTION_KINDS = ("kfunc", "kretfunc")
# 0.17's progtype() of each probe kind whose `ctx` it types, and the record `ctx` points to.
_PROG_TYPES = {
    **dict.fromkeys(("kprobe", "kretprobe", "uprobe", "uretprobe", "usdt"), "BPF_PROG_TYPE_KPROBE"),
    "tracepoint": "BPF_PROG_TYPE_TRACEPOINT",
    **dict.fromkeys(("profile", "interval", "software", "hardware", "watchpoint",
                     "asyncwatchpoint"), "BPF_PROG_TYPE_PERF_EVENT"),
    **dict.fromkeys(("kfunc", "kretfunc", "iter"), "BPF_PROG_TYPE_TRACING"),
}
_CONTEXT_RECORDS = {"BPF_PROG_TYPE_KPROBE": "struct pt_regs",
                    "BPF_PROG_TYPE_PERF_EVENT": "struct bpf_perf_event_data"}
_ARGS_RECORDS = {"rawtracepoint": "struct _rawtracepoint_",
                 **dict.fromkeys(FUNCTION_KINDS, "struct _kfunc_")}


def raw_tracepoint_struct(name: str, kind: str = "rawtracepoint") -> str:
    """The name of the `args` record of a raw tracepoint or fentry/fexit function."""
    return _ARGS_RECORDS[kind] + name


def _is_raw_args(t: Type) -> bool:
    return t.kind is Kind.RECORD and t.ctx and t.name.startswith(tuple(_ARGS_RECORDS.values()))


# 0.17's placeholder record of a uprobe's `args`: its fields are the probed
# function's parameters, from DWARF (semantic.dwarf), each read from its register.
UPROBE_ARGS = "struct uprobe_args"


def _debug_info(path: str):
    """semantic.dwarf's debug info of `path`, imported on first use: DWARF
    reading brings pyelftools and pycparser (~50 ms) that most programs never need."""
    from pybpftrace.semantic import dwarf
    return dwarf.debug_info(path)


def _is_uprobe_args(t: Type) -> bool:
    """`args` of a uprobe (a pointer), or what `->` reaches through it."""
    record = t.inner if t.kind is Kind.PTR and t.inner is not None else t
    return t.ctx and record.name == UPROBE_ARGS


def tracepoint_struct(category: str, event: str) -> str:
    return f"struct _tracepoint_{category}_{event}"


@dataclass
class _OneTracepoint:
    """A stand-in probe with one expansion, to ask `tp_fields` about that tracepoint."""
    info: object
    provider: str = "tracepoint"

    @property
    def expansions(self) -> list:
        return [self.info]


@dataclass
class MapDecl:
    """What the rest of the compiler needs to know about a map."""
    key: Type | None
    value: Type | None


class TypeChecker:
    def __init__(self, diags: Diagnostics, params: list[str], strlen: int = 64,
                 unsafe: bool = False, tp_fields=None, kernel_btf=None, raw_params=None,
                 kinfo=None, cdefs=None, has_child: bool = False):
        self.diags = diags
        self.has_child = has_child  # -c CMD given: `cpid` is its pid
        self.kinfo = kinfo  # for the optional compile-time lookups of kaddr() and cgroupid()
        # Errors 0.17 only finds in codegen, after a clean analysis: reported then, first only.
        self.codegen_errors: list[str] = []
        self.raw_params = raw_params or (lambda name: None)  # KernelInfo.raw_tracepoint_params
        self._function_protos: dict[int, tuple] = {}  # probe -> (FunctionProto | None, error)
        self._kernel_btf = kernel_btf or (lambda: None)  # KernelInfo.kernel_btf
        self._btf = None
        self._btf_asked = False
        # The script's C definitions (semantic.cdefs), a uprobe binary's DWARF, then BTF.
        self.records = Records(cdefs, self.btf, self.debug_info)
        self._debug_infos: dict[int, object] = {}  # probe -> semantic.dwarf.DebugInfo | None
        self._uprobe_params: dict[int, tuple] = {}  # probe -> (dwarf Params | None, error, loc)
        self.params = params
        self.strlen = strlen
        self.unsafe = unsafe
        self.tp_fields = tp_fields or (lambda probe: [])
        self.maps: dict[str, MapDecl] = {}
        # State kept across passes, as 0.17 keeps it.
        self.map_val: dict[str, Type] = {}
        self.map_key: dict[str, list[Type]] = {}
        self.map_space: dict[str, str] = {}
        self.var_space: dict[tuple[int, str], str] = {}
        self.var_val: dict[int, dict[str, Type]] = {}
        # Per-walk state.
        self.pass_ = 0
        self.errors: list[tuple[str, Location]] = []
        self.warned: set[tuple[str, Location]] = set()
        self.probe: ast.Probe | None = None
        self.func = ""
        self.func_arg = -1
        self.has_pos_param = False
        self.loop_depth = 0
        self.has_begin = self.has_end = False
        # Parent links 0.17 keeps on its nodes: which map/variable a call is
        # assigned to, and which map an expression is a key of.
        self.assigned_map: dict[int, ast.Map] = {}
        self.assigned_var: dict[int, ast.Variable] = {}
        self.key_of: dict[int, ast.Map] = {}
        self.literal_calls: set[int] = set()    # str($N) calls, which count as literals
        self.skip_keys: set[int] = set()        # maps passed to print()/clear()/zero()

    # ---- driver -----------------------------------------------------------
    @property
    def final(self) -> bool:
        return self.pass_ == NUM_PASSES

    def run(self, program: ast.Program) -> None:
        self.c_definitions = program.c_definitions
        self.link(program)
        for self.pass_ in range(1, NUM_PASSES + 1):
            self.errors = []
            self.has_begin = self.has_end = False
            for probe in program.probes:
                self.visit_probe(probe)
            if self.errors:
                for msg, loc in self.errors:
                    self.diags.error(msg, loc)
                return
        if self.codegen_errors:
            self.diags.error(f"Failed to compile: {self.codegen_errors[0]}")
            return
        self.collect_maps()

    def error(self, msg: str, loc: Location) -> None:
        self.errors.append((msg, loc))

    def immediate_error(self, msg: str, loc: Location) -> None:
        if (msg, loc) not in self.warned:
            self.warned.add((msg, loc))
            self.diags.error(msg, loc)

    def warning(self, msg: str, loc: Location) -> None:
        if (msg, loc) not in self.warned:
            self.warned.add((msg, loc))
            self.diags.warning(msg, loc)

    def link(self, program: ast.Program) -> None:
        """Record the parent links that 0.17's AST constructors set."""
        todo: list[ast.Node] = [program]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.AssignMap):
                self.assigned_map[id(node.expr)] = node.map
            elif isinstance(node, ast.AssignVar) and node.expr is not None:
                self.assigned_var[id(node.expr)] = node.var
            elif isinstance(node, ast.Map) and node.key is not None:
                for k in self.key_exprs(node):
                    self.key_of[id(k)] = node
            todo.extend(ast.children(node))

    def collect_maps(self) -> None:
        """The maps' final key and value types, as the runtime lays them out."""
        for name in sorted(set(self.map_val) | set(self.map_key)):
            value = self.map_val.get(name)
            if value is None or value.kind is Kind.NONE:
                continue
            if value.kind is Kind.INT:
                value = Int(64, value.signed)
            parts = [Int(64, True) if k.kind is Kind.INT else key_view(k)
                     for k in self.map_key.get(name, [])]
            if not parts:
                key = None
            elif len(parts) == 1:
                key = parts[0]
            else:
                key = Tuple(*parts)
            self.maps[name] = MapDecl(key, value)

    # ---- probes -----------------------------------------------------------
    def visit_probe(self, probe: ast.Probe) -> None:
        self.probe = probe
        self.vars = self.var_val.setdefault(id(probe), {})
        if self.final:
            for ap in probe.attach_points:
                if ap.provider == "BEGIN":
                    if self.has_begin:
                        self.error("More than one BEGIN probe defined", ap.loc)
                    self.has_begin = True
                elif ap.provider == "END":
                    if self.has_end:
                        self.error("More than one END probe defined", ap.loc)
                    self.has_end = True
        if probe.pred is not None:
            t = self.expr(probe.pred)
            if self.final and t.kind not in (Kind.INT, Kind.PTR):
                self.error(f"Invalid type for predicate: {typestr(t)}", probe.pred_loc)
        self.statements(probe.block.stmts, top=True)

    def providers(self) -> list[str]:
        """The canonical provider name of each attach point of the current probe."""
        return [ap.provider for ap in self.probe.attach_points] if self.probe else []

    def single_provider(self) -> str:
        """0.17's single_provider_type(): the probes' kind, "invalid" if they differ."""
        kinds = {("special" if p in ("BEGIN", "END") else p) for p in self.providers()}
        return kinds.pop() if len(kinds) == 1 else "invalid"

    # ---- statements -------------------------------------------------------
    def statements(self, stmts: list[ast.Statement], top: bool = False) -> None:
        for i, s in enumerate(stmts):
            self.statement(s)
            if self.final and not top and isinstance(s, ast.Jump) and i < len(stmts) - 1:
                self.warning(f"All code after a '{s.kind}' is unreachable.", s.loc)

    def statement(self, s: ast.Statement) -> None:
        if isinstance(s, ast.ExprStatement):
            self.expr(s.expr)
        elif isinstance(s, ast.AssignMap):
            self.assign_map(s)
        elif isinstance(s, ast.AssignVar):
            self.assign_var(s)
        elif isinstance(s, ast.If):
            t = self.expr(s.cond)
            if self.final and t.kind is not Kind.INT:
                self.error(f"Invalid condition in if(): {typestr(t)}", IF_LOC)
            self.statements(s.then.stmts)
            if s.orelse is not None:
                self.statements(s.orelse.stmts)
        elif isinstance(s, ast.Unroll):
            self.unroll(s)
        elif isinstance(s, ast.While):
            t = self.expr(s.cond)
            if self.final and t.kind not in (Kind.INT, Kind.PTR):  # 0.17 fails in codegen
                self.error(f"Invalid condition in while(): {typestr(t)}", s.loc)
            self.loop_depth += 1
            self.statements(s.body.stmts)
            self.loop_depth -= 1
        elif isinstance(s, ast.For):
            self.for_loop(s)
        elif isinstance(s, ast.Jump):
            if s.kind in ("break", "continue") and self.loop_depth == 0:
                self.error(f"{s.kind} used outside of a loop", s.loc)

    def unroll(self, s: ast.Unroll) -> None:
        self.expr(s.count)
        n = self.int_literal(s.count)
        if n is None:
            self.error("invalid unroll value", s.loc)
            return
        if n > 100:
            self.error("unroll maximum value is 100", s.loc)
        elif n < 1:
            self.error("unroll minimum value is 1", s.loc)
        s.count_value = n
        self.statements(s.body.stmts)

    def for_loop(self, s: ast.For) -> None:
        """`for ($i : start..end)` (not in 0.17): $i counts from start up to end - 1."""
        if s.end is None:
            self.error("for loops over maps are not supported by pybpftrace yet", s.loc)
            return
        for e in (s.start, s.end):
            t = self.expr(e)
            if self.final and t.kind is not Kind.INT:
                self.error(f"Loop range requires an integer expression ({describe(t)} provided)",
                           e.loc)
        start = s.start.type
        t = Int(64, start.signed) if start.kind is Kind.INT else INT64
        old = self.vars.get(s.var.name)
        if old is None:
            self.vars[s.var.name] = t
        elif not same_type(old, t):
            self.error(f"Type mismatch for ${s.var.name}: trying to assign value of type "
                       f"'{describe(t)}' when variable already contains a value of type "
                       f"'{describe(old)}'", s.var.loc)
        s.var.type = self.vars[s.var.name]
        self.loop_depth += 1
        self.statements(s.body.stmts)
        self.loop_depth -= 1

    def desugared(self, s: ast.AssignMap | ast.AssignVar) -> ast.Expr:
        """`x op= e` is `x = x op e`, as 0.17's parser builds it."""
        if s.op is None:
            return s.expr
        binop = getattr(s, "binop", None)
        if binop is None:
            target = s.map if isinstance(s, ast.AssignMap) else s.var
            binop = ast.Binop(s.op, target, s.expr, loc=s.loc, op_loc=s.op_loc)
            s.binop = binop
        return binop

    def copies_aggregate(self, value: ast.Expr, t: Type) -> bool:
        """Copying a hist/lhist/stats/avg map's value (0.17 stores garbage; later
        versions refuse, as we do)."""
        if isinstance(value, ast.Map) and t.kind in (Kind.HIST, Kind.LHIST, Kind.STATS, Kind.AVG):
            name = t.kind.value
            self.error(f"Map value '{name}' cannot be assigned from one map to another. The "
                       f"function that returns this type must be called directly e.g. "
                       f"`@a = {name}(...);`.", value.loc)
            return True
        return False

    def assign_map(self, s: ast.AssignMap) -> None:
        m = s.map
        value = self.desugared(s)
        self.expr(m)
        t = self.value_type(self.expr(value))
        if self.copies_aggregate(value, t):
            return
        stored = self.map_val.get(m.name, NONE)
        loc = s.op_loc if s.op is None else s.loc
        if t.kind is Kind.RECORD and stored.kind is Kind.RECORD and stored.name != t.name:
            # 0.17 ends this message with a stray quote (''): not copied.
            self.error(f"Type mismatch for @{m.name}: trying to assign value of type "
                       f"'{t.name}' when map already contains a value of type '{stored.name}'",
                       loc)
            return
        self.assign_map_type(m, t, self.space(value))
        stored = self.map_val.get(m.name, NONE)
        if t.kind is Kind.STRING:
            if size_of(stored) < t.size:
                self.warning(f"String size mismatch: {size_of(stored)} < {t.size}. "
                             "The value may be truncated.", loc)
        elif t.kind is Kind.BUFFER:
            if size_of(stored) != size_of(t):
                msg = f"Buffer size mismatch: {size_of(stored)} != {size_of(t)}."
                if size_of(stored) < size_of(t):
                    self.warning(msg + " The value may be truncated.", loc)
                else:
                    self.error(msg, loc)
        elif t.ctx:
            self.error("context cannot be assigned to a map", loc)
        elif t.kind is Kind.RECORD and not t.size:
            self.error(f"Cannot store a value of incomplete type '{t.name}'", loc)
        elif t.kind is Kind.TUPLE:
            if self.final and not fits_into(t, stored):
                self.error(f"Tuple type mismatch: {describe(stored)} != {describe(t)}.", loc)
        elif t.kind is Kind.ARRAY:
            if not equal(stored, t):
                self.error(f"Array type mismatch: {describe(stored)} != {describe(t)}.", loc)
        if self.final and t.kind is Kind.NONE:
            self.error("Invalid expression for assignment: none", value.loc)

    def assign_map_type(self, m: ast.Map, t: Type, space: str = "none") -> None:
        old = self.map_val.get(m.name)
        if old is None:
            self.map_val[m.name] = Int(64, t.signed) if t.kind is Kind.INT else t
            self.map_space[m.name] = space
            return
        if old.kind is Kind.NONE:
            if self.final:
                self.error(f"Undefined map: @{m.name}", m.loc)
            else:
                self.map_val[m.name] = old = t
                self.map_space[m.name] = space
        elif old.kind is not t.kind:
            self.error(f"Type mismatch for @{m.name}: trying to assign value of type "
                       f"'{describe(t)}' when map already contains a value of type "
                       f"'{describe(old)}'", m.loc)
        if old.kind in (Kind.STRING, Kind.TUPLE):
            self.map_val[m.name] = grow_strings(old, t)

    def assign_var(self, s: ast.AssignVar) -> None:
        if s.decl:
            self.declare(s)
            return
        value = self.desugared(s)
        t = self.value_type(self.expr(value))
        if _is_raw_args(t) or _is_uprobe_args(t):
            self.error("args cannot be assigned to a variable", s.op_loc if s.op is None else s.loc)
            return
        if self.copies_aggregate(value, t):
            return
        name = s.var.name
        old = self.vars.get(name)
        loc = s.op_loc if s.op is None else s.loc
        if old is not None:
            if old.kind is Kind.NONE:
                if self.final:
                    self.error(f"Undefined variable: ${name}", loc)
                else:
                    self.vars[name] = t
                    self.var_space[(id(self.probe), name)] = self.space(value)
            elif (old.kind is Kind.STRING and t.kind is Kind.STRING) or \
                    (old.kind is Kind.TUPLE and t.kind is Kind.TUPLE):
                self.vars[name] = grow_strings(old, t)
            elif not same_type(old, t):
                self.error(f"Type mismatch for ${name}: trying to assign value of type "
                           f"'{describe(t)}' when variable already contains a value of type "
                           f"'{describe(old)}'", loc)
        else:
            self.vars[name] = t
            self.var_space[(id(self.probe), name)] = self.space(value)
        stored = self.vars[name]
        s.var.type = stored
        s.var.addrspace = self.var_space.get((id(self.probe), name), "none")
        if t.kind is Kind.BUFFER and size_of(stored) != size_of(t):
            self.warning(f"Buffer size mismatch: {size_of(stored)} != {size_of(t)}" +
                         (". The value may be truncated." if size_of(stored) < size_of(t)
                          else ". The value may contain garbage."), loc)
        elif t.kind is Kind.TUPLE and self.final and not fits_into(t, stored):
            self.error(f"Tuple type mismatch: {describe(stored)} != {describe(t)}.", loc)
        if self.final and t.kind is Kind.NONE:
            self.error("Invalid expression for assignment: none", value.loc)

    def declare(self, s: ast.AssignVar) -> None:
        """`let $x[: type] [= e]` (not in 0.17)."""
        declared = None
        if s.typename is not None:
            declared = INT_TYPES.get(s.typename.replace(" ", ""))
            if declared is None:
                self.error(f"Unknown type: {s.typename}", s.loc)
                declared = INT64
        t = declared
        if s.expr is not None:
            et = self.expr(s.expr)
            if declared is not None and et.kind is not Kind.INT:
                self.error(f"Type mismatch for ${s.var.name}: trying to assign value of type "
                           f"'{describe(et)}' when variable already contains a value of type "
                           f"'{describe(declared)}'", s.loc)
            t = t or et
            if self.final and et.kind is Kind.NONE:
                self.error("Invalid expression for assignment: none", s.expr.loc)
        t = t or INT64
        old = self.vars.get(s.var.name)
        if old is None or old.kind is Kind.NONE:
            self.vars[s.var.name] = t
        elif old.kind in (Kind.STRING, Kind.TUPLE) and old.kind is t.kind:
            self.vars[s.var.name] = grow_strings(old, t)
        s.var.type = self.vars[s.var.name]

    # ---- expressions ------------------------------------------------------
    def expr(self, e: ast.Expr) -> Type:
        e.addrspace = "none"
        t = getattr(self, "expr_" + type(e).__name__)(e)
        e.type = t
        return t

    @staticmethod
    def space(e: ast.Expr):
        """The address space 0.17 attaches to a value's type: "kernel", "user" or "none";
        for a tuple, the tuple of its elements' spaces."""
        return getattr(e, "addrspace", "none")

    def is_literal(self, e: ast.Expr) -> bool:
        if isinstance(e, (ast.Integer, ast.String, ast.PositionalParam)):
            return True
        if isinstance(e, ast.Builtin) and e.name in STACK_MODES:
            return True
        return id(e) in self.literal_calls

    def int_literal(self, e: ast.Expr) -> int | None:
        """0.17's get_int_literal."""
        if isinstance(e, ast.Integer):
            return e.value
        if isinstance(e, ast.PositionalParam):
            if e.n == 0:
                return len(self.params)
            value = param_value(self.params, e.n, False)
            n = c_int(value)
            if n is None:  # 0.17 prints this at once, outside its error list
                self.immediate_error(f'${e.n} used numerically but given "{value}"', e.loc)
            return n
        return None

    def string_literal(self, e: ast.Expr) -> str:
        """0.17's get_string_literal ("" for anything else)."""
        if isinstance(e, ast.String):
            return e.value
        if isinstance(e, ast.Call) and e.name == "str" and id(e) in self.literal_calls:
            return param_value(self.params, e.args[0].n, True)
        return ""

    def expr_Integer(self, e: ast.Integer) -> Type:
        return INT64

    def expr_String(self, e: ast.String) -> Type:
        size = len(string_bytes(e.value))
        if self.func == "printf" and self.func_arg == 0:
            return String(size + 1)  # not part of the BPF program: no limit, no address space
        e.addrspace = "kernel"
        if size > STRING_SIZE - 1:
            self.error(f"String is too long (over {STRING_SIZE} bytes): {e.value}", e.loc)
        return String(size + 1)

    def expr_PositionalParam(self, e: ast.PositionalParam) -> Type:
        in_str = self.func == "str"
        if in_str:
            self.has_pos_param = True
            if self.final and e.n:
                e.addrspace = "kernel"
        if e.n == 0:
            if in_str:
                self.error("use $#, not str($#)", e.loc)
            return INT64
        if self.final:
            value = param_value(self.params, e.n, in_str)
            if not in_str and c_int(value) is None:
                self.error(f'${e.n} used numerically but given "{value}". Try using str(${e.n}).',
                           e.loc)
        return INT64

    def expr_Builtin(self, e: ast.Builtin) -> Type:
        name = e.name
        if name in STACK_MODES:
            return Type(Kind.STACK_MODE, stack_mode=name)
        if name in CALL_BUILTIN_NAMES:
            return Type(Kind.KSTACK if name == "kstack" else Kind.USTACK)
        if name not in BUILTIN_NAMES:
            # An enumerator of the script's or a kernel enum (TCP_ESTABLISHED), as 0.17 types it.
            e.enum_value = self.records.enum_value(name)
            if e.enum_value is not None:
                return UINT64
            self.error(f"Unknown identifier: '{name}'", e.loc)
            if "#include" in self.c_definitions:  # lang.preprocess: no kernel headers here
                self.warning(f"{name} is no macro of the included headers: where kernel headers "
                             "are missing, BTF supplies types and enums, and pybpftrace's "
                             "built-in header only well-known kernel macros", e.loc)
            return NONE
        if name == "comm":
            e.addrspace = "kernel"
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        providers = self.providers()
        if name.startswith(("arg", "sarg")) and providers:
            e.addrspace = _ADDRSPACE.get(providers[0], "none")
        elif name == "retval":
            e.addrspace = _ADDRSPACE.get(self.single_provider(), "none")
        elif name == "curtask":
            e.addrspace = "kernel"
        if name == "ctx":
            return self.context(e)
        if name == "curtask":
            task = self.records.record("struct task_struct")
            return Type(Kind.PTR, inner=task or Type(Kind.RECORD, name="struct task_struct"))
        if name == "retval":
            kind = self.single_provider()
            if kind in ("kretprobe", "uretprobe"):
                return UINT64
            if kind in FUNCTION_KINDS:
                return self.function_retval(e)
            self.error("The retval builtin can only be used with 'kretprobe' and 'uretprobe' and "
                       "'kfunc' probes" + (" (try to use args->ret instead)"
                                           if kind == "tracepoint" else ""), e.loc)
            return NONE
        if name == "func":
            t = NONE
            for p in providers:
                if p in ("kprobe", "kretprobe", *FUNCTION_KINDS):
                    t = Type(Kind.KSYM)
                elif p in ("uprobe", "uretprobe"):
                    t = Type(Kind.USYM)
                else:
                    self.error(f"The func builtin can not be used with '{p}' probes", e.loc)
            return t
        if name.startswith("arg") and len(name) == 4 and name[3].isdigit():
            for p in providers:
                if p not in ("kprobe", "uprobe", "usdt", "rawtracepoint"):
                    self.error(f"The {name} builtin can only be used with 'kprobes', 'uprobes' "
                               "and 'usdt' probes", e.loc)
            if int(name[3]) > MAX_ARG and "rawtracepoint" not in providers:
                self.error(f"x86_64 doesn't support {name}", e.loc)
            elif "usdt" in providers:
                self.check_usdt_arg(int(name[3]), e)
            return UINT64
        if name.startswith("sarg") and len(name) == 5 and name[4].isdigit():
            for ap in self.probe.attach_points if self.probe else []:
                if ap.provider not in ("kprobe", "uprobe"):
                    self.error(f"The {name} builtin can only be used with 'kprobes' and 'uprobes' "
                               "probes", e.loc)
                elif self.final and ("+" in ap.raw.rsplit(":", 1)[-1] or not ap.func):  # +off, addr
                    self.warning("Using an address offset with the sargX built-in can"  # sic
                                 "lead to unexpected behavior ", e.loc)
            return UINT64
        if name == "cpid":
            if not self.has_child:
                self.error("cpid cannot be used without child command", e.loc)
            return Int(32, False)
        if name == "args" and self.single_provider() in _ARGS_RECORDS:
            # Later bpftrace: `args` of a raw tracepoint or fentry/fexit function is
            # a record of its typed arguments (from BTF); each is one u64 of the context.
            e.addrspace = "kernel"
            first = self.probe.expansions[0] if self.probe and self.probe.expansions else None
            return Type(Kind.RECORD, name=raw_tracepoint_struct(first.func if first else "",
                                                                self.single_provider()),
                        ctx=True)
        if name == "args" and self.single_provider() == "uprobe":
            # 0.17: a placeholder whose fields (`args->NAME`) are the function's parameters.
            e.addrspace = "user"
            return Type(Kind.PTR, inner=Type(Kind.RECORD, name=UPROBE_ARGS), ctx=True)
        if name == "args":
            t = NONE
            for ap in (self.probe.attach_points if self.probe else []):
                # 0.17 types `args` as the record of the first tracepoint each attach
                # point matches; the last attach point wins.
                first = next((p for p in self.probe.expansions if p.provider == "tracepoint"
                              and fnmatch.fnmatchcase(p.target, ap.target or "*")
                              and fnmatch.fnmatchcase(p.func, ap.func or "*")), None)
                if ap.provider == "tracepoint" and first is not None:
                    e.addrspace = "user" if first.target == "syscalls" else "kernel"
                    record = Type(Kind.RECORD, name=tracepoint_struct(first.target, first.func))
                    t = Type(Kind.PTR, inner=record, ctx=True)
            kind = self.single_provider()
            if kind != "tracepoint":
                self.error("The args builtin can only be used with tracepoint/kfunc/uprobeprobes "
                           f"({kind} used here)", e.loc)
            return t
        self.error(f"Unknown builtin variable: '{name}'", e.loc)
        return NONE

    def expr_Variable(self, e: ast.Variable) -> Type:
        t = self.vars.get(e.name)
        e.addrspace = self.var_space.get((id(self.probe), e.name), "none")
        if t is None:
            self.error(f"Undefined or undeclared variable: ${e.name}", e.loc)
            return NONE
        return t

    @staticmethod
    def key_exprs(m: ast.Map) -> list[ast.Expr]:
        if m.key is None:
            return []
        if isinstance(m.key, ast.Tuple) and m.key.keys:
            return m.key.elems
        return [m.key]

    def expr_Map(self, e: ast.Map) -> Type:
        key_types = []
        for k in self.key_exprs(e):
            t = self.expr(k)
            if t.kind is Kind.INT and t.bits < 64:
                t = Int(64, t.signed)  # 0.17 inserts a cast to 64 bits here
            elif t.ctx:
                self.error("context cannot be used as a map key", e.loc)
            elif t.kind is Kind.RECORD and not t.size:
                self.error(f"Cannot use a value of incomplete type '{t.name}' as a map key",
                           e.loc)
            elif t.kind is Kind.TUPLE:
                self.error("tuple cannot be used as a map key. Try a multi-key associative array "
                           "instead (eg `@map[$1, $2] = ...)`.", e.loc)
            if self.final and t.kind is Kind.NONE:
                self.error("Invalid expression for assignment: ", k.loc)
            key_types.append(Int(t.bits, False) if t.kind is Kind.INT else self.value_type(t))
        if isinstance(e.key, ast.Tuple) and e.key.keys:
            e.key.type = Tuple(*(k.type for k in e.key.elems))
        if self.pass_ > 1 and id(e) not in self.skip_keys:
            self.update_key_type(e, key_types)
        t = self.map_val.get(e.name)
        e.addrspace = self.map_space.get(e.name, "none")
        if t is None:
            if self.final:
                self.error(f"Undefined map: @{e.name}", e.loc)
            return NONE
        return t

    def update_key_type(self, m: ast.Map, new: list[Type]) -> None:
        old = self.map_key.get(m.name)
        if old is None:
            self.map_key[m.name] = list(new)
            return
        valid = len(old) == len(new)
        if valid:
            for i, (a, b) in enumerate(zip(old, new)):
                if a.kind is Kind.STRING and b.kind is Kind.STRING:
                    old[i] = String(max(a.size, b.size))
                elif not equal(a, b):
                    valid = False
                    break
        if not valid:
            have = "[" + ", ".join(describe(t) for t in new) + "]"
            want = "[" + ", ".join(describe(t) for t in old) + "]"
            self.error(f"Argument mismatch for @{m.name}: trying to access with arguments: {have} "
                       f"when map expects arguments: {want}", m.loc)

    def expr_FieldAccess(self, e: ast.FieldAccess) -> Type:
        t = self.expr(e.expr)
        e.addrspace = self.space(e.expr)
        # `args->x` and `args.x` are alike: on raw tracepoints and fentry `args`
        # is a record, on tracepoints and uprobes a pointer (0.17's `->`; later
        # bpftrace's `args` is a record, so `.` reaches through it too).
        args_pointer = isinstance(e.expr, ast.Builtin) and e.expr.name == "args" \
            and t.kind is Kind.PTR
        if (e.arrow and not _is_raw_args(t)) or args_pointer:
            t = self.dereference(t, e.loc)
        if t.kind is Kind.PTR:
            self.error(f"Can not access field '{e.field}' on type '{describe(t)}'. Try "
                       "dereferencing it first, or using '->'", e.loc)
            return NONE
        is_index = e.field.isdigit() and not e.arrow
        if t.kind not in (Kind.RECORD, Kind.TUPLE):
            if self.final:
                what = f"index {e.field}" if is_index else f"field '{e.field}'"
                self.error(f"Can not access {what} on expression of type '{describe(t)}'", e.loc)
            return NONE
        if t.kind is Kind.TUPLE:
            if not is_index:
                self.error("Tuples must be indexed with a constant and non-negative integer", e.loc)
                return NONE
            i = int(e.field)
            if i >= len(t.fields):
                if self.final:
                    self.error(f"Invalid tuple index: {i}. Found {len(t.fields)} elements in tuple.",
                               e.loc)
                return NONE
            spaces = self.space(e.expr)
            e.addrspace = spaces[i] if isinstance(spaces, tuple) and i < len(spaces) else "none"
            return t.fields[i]
        return self.record_field(t, e)

    def dereference(self, t: Type, loc: Location) -> Type:
        """The type of `*x` (0.17 parses `a->f` as `(*a).f`)."""
        if self.final and t.kind is not Kind.INT and t.kind is not Kind.PTR:
            self.error(f"The dereference operator can not be used on expressions of type "
                       f"'{describe(t)}'", loc)
        if t.kind is Kind.PTR:
            inner = t.inner or NONE
            return Type(inner.kind, bits=inner.bits, signed=inner.signed, size=inner.size,
                        fields=inner.fields, inner=inner.inner, name=inner.name, ctx=t.ctx,
                        btf_id=inner.btf_id)
        if t.kind is Kind.RECORD:
            self.error(f"Can not dereference struct/union of type '{t.name}'. It is not a pointer.",
                       loc)
        if t.kind is Kind.INT:
            return UINT64
        return NONE

    def record_field(self, t: Type, e: ast.FieldAccess) -> Type:
        if _is_raw_args(t):
            return self.raw_tracepoint_arg(e)
        if _is_uprobe_args(t):
            return self.uprobe_arg(e)
        if not (t.ctx and t.name.startswith("struct _tracepoint_")):
            return self.btf_field(t, e)
        found = NONE
        for p in (self.probe.expansions if self.probe else []):
            for f in self.tp_fields(_OneTracepoint(p)):
                if f.name == e.field:
                    found = field_type(f, self.records)
                    if f.offset < 8:
                        self.error("BPF does not support accessing common tracepoint fields",
                                   e.loc)
                    break
            else:
                self.error(f"Struct/union of type '{tracepoint_struct(p.target, p.func)}' does "
                           f"not contain a field named '{e.field}'", e.loc)
        return found

    def raw_tracepoint_arg(self, e: ast.FieldAccess) -> Type:
        """An argument of a raw tracepoint, typed from BTF (the first attach point's)."""
        if self.single_provider() in FUNCTION_KINDS:
            return self.function_arg(e)
        found = NONE
        b = self.btf()
        for p in (self.probe.expansions if self.probe else []):
            params = self.raw_params(p.func) if b is not None else None
            if params is None:
                self.error(f"No BTF for the arguments of raw tracepoint {p.func}", e.loc)
                return NONE
            param = next((x for x in params if x.name == e.field), None)
            if param is None:
                self.error(f"Raw tracepoint {p.func} has no argument named '{e.field}'", e.loc)
                return NONE
            if found is NONE:
                found = btftypes.to_type(b, param.type)
                if found is None:
                    self.error(f"Argument '{e.field}' of raw tracepoint {p.func} has type "
                               f"'{b.type_name(param.type)}', which pybpftrace does not "
                               "support yet", e.loc)
                    return NONE
                if found.kind not in (Kind.INT, Kind.PTR):
                    self.error(f"Argument '{e.field}' of raw tracepoint {p.func} is not an "
                               "integer or a pointer", e.loc)
                    return NONE
                e.addrspace = "user" if btftypes.user_pointer(b, param.type) else "kernel"
        return found

    def function_arg(self, e: ast.FieldAccess) -> Type:
        """`args.NAME` of fentry/fexit: parameter NAME of the function, from BTF."""
        proto = self.function_proto()
        if proto is None:
            return NONE
        param = next((x for x in proto.params if x.name == e.field), None)
        if param is None:
            self.error(f"Can't find function parameter {e.field}", e.loc)
            return NONE
        e.addrspace = "user" if btftypes.user_pointer(proto.btf, param.type) else "kernel"
        return self.function_value(proto.btf, param.type, e.field, e.loc)

    def context(self, e: ast.Builtin) -> Type:
        """`ctx`: a pointer to what the kernel passes the program, typed as 0.17
        types it by program type (the first attach point's); its members are
        loaded straight from the context, where the verifier checks them."""
        progtypes = [_PROG_TYPES.get(p, "") for p in self.providers()]
        for other in progtypes[1:]:
            if other != progtypes[0] and progtypes[0] and other:
                self.error("ctx cannot be used in different BPF program types: "
                           f"{progtypes[0]} and {other}", e.loc)
        progtype = progtypes[0] if progtypes else ""
        if progtype == "BPF_PROG_TYPE_TRACEPOINT":
            self.error("Use args instead of ctx in tracepoint", e.loc)
        elif progtype == "BPF_PROG_TYPE_TRACING" and self.providers()[0] == "iter":
            return self.iter_context(e)
        elif progtype in _CONTEXT_RECORDS:
            e.addrspace = "kernel"
            name = _CONTEXT_RECORDS[progtype]
            record = self.records.record(name) or Type(Kind.RECORD, name=name)
            return Type(Kind.PTR, inner=record, ctx=True)
        else:
            self.error("invalid program type", e.loc)
        return NONE

    def uprobe_arg(self, e: ast.FieldAccess) -> Type:
        """`args->NAME` of a uprobe: parameter NAME of the function, typed from
        DWARF, read from its argument register (`e.arg_index`) by codegen."""
        params = self.uprobe_params()
        if params is None:
            return NONE
        index = next((i for i, p in enumerate(params) if p.name == e.field), None)
        if index is None:
            self.error(f"Can't find function parameter {e.field}", e.loc)
            return NONE
        t = params[index].ctype.type
        # 0.17 reads a struct passed by value from a register too (garbage): refused here.
        if t is None or t.kind not in (Kind.INT, Kind.PTR):
            self.error(f"{e.field} has unsupported type", e.loc)
            return NONE
        if index > MAX_ARG:
            self.error(f"{e.field} is parameter {index}: only the first {MAX_ARG + 1}, passed "
                       "in registers, can be read", e.loc)
            return NONE
        e.arg_index = index
        e.addrspace = "user"
        return t

    def uprobe_params(self):
        """The DWARF parameters (semantic.dwarf.Param) of this uprobe's functions
        (the first's; all must agree, as in 0.17), or None after reporting why."""
        found = self._uprobe_params.get(id(self.probe))
        if found is None:
            found = self._uprobe_params[id(self.probe)] = self._find_uprobe_params()
        params, problem, loc = found
        if problem:
            self.error(problem, loc)
        return params

    def _find_uprobe_params(self) -> tuple:
        ap = next(a for a in self.probe.attach_points if a.provider == "uprobe")
        first = None
        for p in self.probe.expansions:
            debug = _debug_info(p.target)
            if debug is None:
                return None, f"No debuginfo found for {ap.target}", ap.loc
            params = debug.function_params(p.func) or []
            key = [(x.name, x.ctype.type) for x in params]
            if first is None:
                first = params, key
            elif key != first[1]:
                return None, "Probe has attach points with mixed arguments", ap.loc
        return (first[0] if first else []), "", None

    def debug_info(self):
        """The DWARF of this uprobe probe's binary (0.17 looks for records there
        first), or None: not a uprobe probe, or no debug info."""
        key = id(self.probe)
        if key not in self._debug_infos:
            first = next((p for p in (self.probe.expansions if self.probe else [])
                          if p.provider in ("uprobe", "uretprobe")), None)
            self._debug_infos[key] = _debug_info(first.target) if first else None
        return self._debug_infos[key]

    def check_usdt_arg(self, index: int, e: ast.Builtin) -> None:
        """argN of a usdt probe must be in every location's note (semantic.usdt),
        in 0.17's words (which it says without a location, when generating code)."""
        for p in self.probe.expansions if self.probe else ():
            if p.provider == "usdt" and (p.usdt_args is None or index >= len(p.usdt_args)):
                self.error(f"couldn't get argument {index} for {p.name[len('usdt:'):]}", e.loc)
                return

    def iter_context(self, e: ast.Builtin) -> Type:
        """`ctx` of an iterator: a pointer to the kernel's `struct bpf_iter__<name>`
        (0.17 knows task and task_file), whose members the program loads
        straight from its context."""
        func = self.probe.attach_points[0].func
        name = f"struct bpf_iter__{func}" if func in ITERATORS else ""
        if not name:
            self.error(f"unsupported iter type: {func}", e.loc)
        e.addrspace = "kernel"
        record = self.records.record(name) if name else None
        return Type(Kind.PTR, inner=record or Type(Kind.RECORD, name=name), ctx=True)

    def function_retval(self, e: ast.Builtin) -> Type:
        """`retval` of fexit, typed from BTF; fentry has none (0.17's message)."""
        if self.single_provider() != "kretfunc":
            self.error("Can't find a field $retval", e.loc)
            return NONE
        proto = self.function_proto()
        if proto is None:
            return NONE
        if not proto.ret:
            self.error(f"The function {self.probe.expansions[0].func} returns void: there is "
                       "no retval", e.loc)
            return NONE
        return self.function_value(proto.btf, proto.ret, "retval", e.loc)

    def function_value(self, b, tid: int, what: str, loc: Location) -> Type:
        """An argument or return value of a kernel function: a u64 context slot,
        which holds an integer or a pointer (0.17: "has unsupported type")."""
        t = btftypes.to_type(b, tid)
        if t is None or t.kind not in (Kind.INT, Kind.PTR):
            self.error(f"{what} has unsupported type", loc)
            return NONE
        return t

    def function_proto(self) -> FunctionProto | None:
        """The BTF prototype of this fentry/fexit probe's functions (the first's:
        as in 0.17 they must all have the same argument names), or None after
        reporting why, at the attach point as 0.17 does."""
        found = self._function_protos.get(id(self.probe))
        if found is None:
            found = self._function_protos[id(self.probe)] = self._find_function_proto()
        proto, problem = found
        if problem:
            ap = next(a for a in self.probe.attach_points if a.provider in FUNCTION_KINDS)
            self.error(problem, ap.loc)
        return proto

    def _find_function_proto(self) -> tuple[FunctionProto | None, str]:
        lookup = getattr(self.kinfo, "btf_function_proto", None)
        first = None
        for p in self.probe.expansions:
            proto = lookup(p.target, p.func) if lookup else None
            if proto is None:
                return None, f"kfunc:{p.func}: no BTF data for {p.func}"
            if len(proto.params) > MAX_ARG + 1:
                return None, (f"kfunc:{p.func}: functions with more than {MAX_ARG + 1} "
                              "parameters are not supported.")
            if first is None:
                first = proto
            elif [x.name for x in proto.params] != [x.name for x in first.params]:
                return None, "Probe has attach points with mixed arguments"
        return first, ""

    def value_type(self, t: Type) -> Type:
        """`t` as a stored value: a record (or an array of records) with its members,
        so that codegen can copy it and the runtime decode it."""
        if t.kind is Kind.RECORD or (t.kind is Kind.ARRAY and t.inner is not None):
            return self.records.complete(t)
        return t

    def btf(self):
        """The kernel's BTF (asked for once, when first needed), or None."""
        if not self._btf_asked:
            self._btf_asked = True
            self._btf = self._kernel_btf()
        return self._btf

    def btf_field(self, t: Type, e: ast.FieldAccess) -> Type:
        """A member of a struct/union of the script or of BTF (0.17's Field of a Record)."""
        try:
            f = self.records.field(t, e.field)
        except UnknownRecord:
            self.error(f"Unknown struct/union: '{t.name}'", e.loc)
            return NONE
        except NoSuchField:
            self.error(f"Struct/union of type '{t.name}' does not contain a field named "
                       f"'{e.field}'", e.loc)
            return NONE
        ft = f.type
        if ft is None:
            self.error(f"Field '{e.field}' of '{t.name}' has type '{f.spelling}', "
                       "which pybpftrace does not support yet", e.loc)
            return NONE
        if f.access.bitfield_size and ft.kind is not Kind.INT:
            self.error(f"Bitfield '{e.field}' of '{t.name}' is not an integer", e.loc)
            return NONE
        e.btf_member = f.access
        if t.ctx and ft.kind in (Kind.ARRAY, Kind.RECORD):
            ft = replace(ft, ctx=True)  # e.g. ((struct bpf_perf_event_data *)ctx)->regs.ax
        # As in 0.17, a member is where its struct is: user memory for a struct
        # reached from a user address (a uprobe's arg0), else the kernel's; unknown
        # where neither it nor the probe kind tells (`((struct x *)0)->a` in BEGIN).
        space = self.space(e.expr)
        if space == "none" and _ADDRSPACE.get(self.single_provider(), "none") == "none":
            e.addrspace = "none"
        else:
            e.addrspace = "user" if space == "user" else "kernel"
        return ft

    def expr_ArrayAccess(self, e: ast.ArrayAccess) -> Type:
        t = self.expr(e.expr)
        it = self.expr(e.index)
        e.addrspace = self.space(e.expr)
        if self.final:
            if t.kind not in (Kind.ARRAY, Kind.PTR):
                self.error(f"The array index operator [] can only be used on arrays and pointers, "
                           f"found {typestr(t)}.", e.loc)
                return NONE
            if t.kind is Kind.PTR and (t.inner is None or size_of(t.inner) == 0):
                self.error("The array index operator [] cannot be used on a pointer to an unsized "
                           "type (void *).", e.loc)
            if it.kind is Kind.INT and self.is_literal(e.index):
                if t.kind is Kind.ARRAY:
                    index = self.int_literal(e.index)
                    if index is None:
                        self.error("invalid index expression", e.loc)
                    elif index % (1 << 64) >= t.size:
                        self.error(f"the index {index} is out of bounds for array of size "
                                   f"{t.size}", e.loc)
                    e.index_value = index
            elif not (t.kind is Kind.PTR and it.kind is Kind.INT):
                # Beyond 0.17: a pointer takes any integer index (`$p[$i]`), as in C;
                # the element is read with bpf_probe_read, so no bounds are needed.
                self.error("The array index operator [] only accepts literal integer indices.",
                           e.loc)
        if t.kind in (Kind.ARRAY, Kind.PTR) and t.inner is not None:
            return t.inner
        return NONE

    def expr_Cast(self, e: ast.Cast) -> Type:
        t = self.expr(e.expr)
        e.addrspace = self.space(e.expr)
        if t.kind is Kind.RECORD:
            self.error(f'Cannot cast from struct type "{describe(t)}"', e.loc)
        elif t.kind is Kind.NONE:
            self.error(f'Cannot cast from "{describe(t)}" type', e.loc)
        name = e.typename
        base = " ".join(name.replace("*", " ").split())
        stars = name.count("*")
        if base.split()[0] in ("struct", "union"):
            return self.cast_to_record(e, t, self.records.record(base), base, stars)
        target = INT_TYPES.get(base)
        if target is None:
            # Beyond 0.17, which knows only typedefs of structs: any typedef from
            # BTF, e.g. `(pid_t)x`, `(u64)x`, `(sector_t)x`, `(atomic_t *)p`.
            target = self.records.named_type(base)
            if target is not None and target.kind is Kind.RECORD:
                return self.cast_to_record(e, t, target, base, stars)
            if target is not None and target.kind not in (Kind.INT, Kind.PTR):
                target = None
        if target is not None:
            if stars:
                if stars > 2:
                    self.error(f"Unknown struct/union: '{base}'", e.loc)
                    return NONE
                target = Type(Kind.PTR, inner=target)
                if t.ctx:
                    self.error("Integer pointer casts are not supported for type: ctx", e.loc)
                elif t.kind not in (Kind.INT, Kind.PTR, Kind.RECORD, Kind.NONE):
                    # A value in the BPF program has no address (0.17 crashes on it).
                    self.error(f'Casts are not supported for type: "{describe(t)}"', e.loc)
                if stars == 2:
                    target = Type(Kind.PTR, inner=target)
                return target
            if t.kind not in (Kind.INT, Kind.RECORD, Kind.PTR) and not t.ctx:
                self.error(f'Casts are not supported for type: "{describe(t)}"', e.loc)
            return target
        self.error(f"Unknown struct/union: '{base}'", e.loc)
        return NONE

    def cast_to_record(self, e: ast.Cast, t: Type, rec: Type | None, base: str,
                       stars: int) -> Type:
        """`(struct foo *)x`: a pointer to record `rec` (None: unknown)."""
        if rec is None:
            self.error(f"Unknown struct/union: '{base}'", e.loc)
            return NONE
        if stars == 0:
            self.error(f"Cannot cast to struct type \"{base}\"", e.loc)
            return NONE
        if t.kind not in (Kind.INT, Kind.PTR) and not t.ctx and t.kind is not Kind.NONE:
            self.error(f'Casts are not supported for type: "{describe(t)}"', e.loc)
        if isinstance(e.addrspace, str) and e.addrspace == "none":
            # 0.17's find_addrspace: unknown (so read with bpf_probe_read) where
            # the probe kind does not tell, e.g. BEGIN, interval.
            e.addrspace = _ADDRSPACE.get(self.single_provider(), "none")
        target = rec
        for _ in range(stars):
            target = Type(Kind.PTR, inner=target)
        return replace(target, ctx=True) if t.ctx else target  # `(struct x *)ctx`

    def expr_Tuple(self, e: ast.Tuple) -> Type:
        fields = []
        for x in e.elems:
            t = self.expr(x)
            if t.kind is Kind.NONE or size_of(t) == 0:
                return NONE
            fields.append(self.value_type(t))
        e.addrspace = tuple(self.space(x) for x in e.elems)
        return Tuple(*fields)

    def expr_Ternary(self, e: ast.Ternary) -> Type:
        cond = self.expr(e.cond)
        a = self.expr(e.left)
        b = self.expr(e.right)
        if self.final:
            if a.kind is not b.kind:
                self.error(f"Ternary operator must return the same type: have '{typestr(a)}' and "
                           f"'{typestr(b)}'", e.loc)
            if cond.kind is not Kind.INT:
                self.error(f"Invalid condition in ternary: {typestr(cond)}", e.loc)
        if a.kind is Kind.STRING:
            return String(STRING_SIZE)
        if a.kind is Kind.INT:
            return Int(64, a.signed)
        if a.kind is Kind.NONE:
            return NONE
        self.error(f"Ternary return type unsupported {typestr(a)}", e.loc)
        return NONE

    def expr_Unop(self, e: ast.Unop) -> Type:
        op = e.op
        name = "dereference" if op == "*" else op
        if op == "&":  # not in 0.17 (later bpftrace has it)
            t = self.expr(e.expr)
            e.addrspace = self.space(e.expr)
            m = getattr(e.expr, "btf_member", None)
            if not in_traced_memory(e.expr):
                self.error("The & operator can only be used on struct members, array elements "
                           "and dereferenced pointers", e.loc)
                return NONE
            if m is not None and m.bitfield_size:
                self.error("The & operator can not be used on a bitfield", e.loc)
                return NONE
            return Type(Kind.PTR, inner=t)
        if op in ("++", "--"):
            if not isinstance(e.expr, (ast.Map, ast.Variable)):
                self.error(f"The {op} operator must be applied to a map or variable", e.loc)
            if isinstance(e.expr, ast.Map) and e.expr.name not in self.map_val:
                self.assign_map_type(e.expr, INT64)
        t = self.expr(e.expr)
        if (op == "*" and t.kind is Kind.PTR) or op in ("++", "--"):
            e.addrspace = self.space(e.expr)
        valid_ptr_op = op in ("++", "--", "*")
        if self.final and t.kind is not Kind.INT and not (t.kind is Kind.PTR and valid_ptr_op):
            self.error(f"The {name} operator can not be used on expressions of type "
                       f"'{describe(t)}'", e.loc)
        if op == "*":
            if t.kind is Kind.PTR:
                return self.dereference(t, e.loc)
            if t.kind is Kind.RECORD:
                self.error(f"Can not dereference struct/union of type '{t.name}'. It is not a "
                           "pointer.", e.loc)
            if t.kind is Kind.INT:
                return UINT64
            return NONE
        if op == "!":
            size = size_of(t)
            if size not in (0, 1, 2, 4, 8):
                self.error(f"The {name} operator can not be used on expressions of type "
                           f"'{describe(t)}'", e.loc)
                return NONE
            return Int(max(size, 1) * 8, False)
        if t.kind is Kind.PTR and valid_ptr_op:
            return t
        return Int(64, t.signed)

    def bt_loc(self, e: ast.Expr) -> Location:
        """The location 0.17 gives a node: a binop's is its operator token."""
        return e.op_loc if isinstance(e, ast.Binop) and e.op_loc else e.loc

    def expr_Binop(self, e: ast.Binop) -> Type:
        a = self.expr(e.left)
        b = self.expr(e.right)
        if a.kind is Kind.PTR or b.kind is Kind.PTR:
            return self.binop_ptr(e, a, b)
        signed = a.signed if e.op in ("<<", ">>") else (a.signed and b.signed)
        result = Int(64, signed)
        op_loc = self.bt_loc(e)
        ls, rs = (sp if isinstance(sp, str) else "none" for sp in (self.space(e.left),
                                                                    self.space(e.right)))
        if ls != rs and ls != "none" and rs != "none":
            if self.final:
                self.warning("Addrspace mismatch", op_loc)
        else:
            e.addrspace = ls if ls != "none" else rs
        if not self.final:
            return result
        if a.kind is Kind.INT and b.kind is Kind.INT:
            self.binop_int(e, a, b, op_loc)
        elif a.kind is Kind.ARRAY and b.kind is Kind.ARRAY:
            if e.op not in ("==", "!="):
                self.error(f"The {e.op} operator cannot be used on arrays.", op_loc)
            if a.size != b.size:
                self.error("Only arrays of same size support comparison operators.", op_loc)
            if a.inner is None or a.inner.kind is not Kind.INT or not equal(a, b):
                self.error("Only arrays of same sized integer support comparison operators.",
                           op_loc)
        elif a.kind is not b.kind:
            self.error(f"Type mismatch for '{e.op}': comparing '{describe(a)}' with "
                       f"'{describe(b)}'", self.bt_loc(e.left).to(self.bt_loc(e.right)))
        elif e.op not in ("==", "!="):
            self.error(f"The {e.op} operator can not be used on expressions of types "
                       f"{describe(a)}, {describe(b)}", op_loc)
        elif a.kind is Kind.TUPLE and (len(a.fields) != len(b.fields) or
                                       not all(map(same_type, a.fields, b.fields))):
            self.error(f"Type mismatch for '{e.op}': comparing '{describe(a)}' with "
                       f"'{describe(b)}'", self.bt_loc(e.left).to(self.bt_loc(e.right)))
        elif e.op == "==" and a.kind is Kind.STRING and \
                self.is_literal(e.left) != self.is_literal(e.right):
            lit, other = (e.left, e.right) if self.is_literal(e.left) else (e.right, e.left)
            lit_len = len(string_bytes(self.string_literal(lit)))
            if lit_len > other.type.size:
                self.warning(f"The literal is longer than the variable string (size="
                             f"{other.type.size}), condition will always be false",
                             self.bt_loc(e.left).to(self.bt_loc(e.right)))
        return result

    def binop_int(self, e: ast.Binop, a: Type, b: Type, loc: Location) -> None:
        lsign, rsign = a.signed, b.signed
        left, right = e.left, e.right

        def nonneg_literal(x: ast.Expr) -> bool:
            v = self.int_literal(x) if self.is_literal(x) else None
            return v is not None and v >= 0

        if lsign != rsign:
            if lsign and not rsign and nonneg_literal(left):
                lsign = False
            elif not lsign and rsign and nonneg_literal(right):
                rsign = False
            elif e.op in COMPARISONS:
                self.warning(f"comparison of integers of different signs: '{describe(a)}' and "
                             f"'{describe(b)}' can lead to undefined behavior", loc)
            elif e.op in ARITHMETIC:
                self.warning(f"arithmetic on integers of different signs: '{describe(a)}' and "
                             f"'{describe(b)}' can lead to undefined behavior", loc)
        if e.op in ("/", "%"):
            if lsign and nonneg_literal(left):
                lsign = False
            if rsign and nonneg_literal(right):
                rsign = False
            if lsign or rsign:
                self.warning(f"signed operands for '{e.op}' can lead to undefined behavior "
                             "(cast to unsigned to silence warning)", loc)
        if self.func == "str":
            param, offset = left, right
            if not isinstance(param, ast.PositionalParam):
                param, offset = right, left
            if isinstance(param, ast.PositionalParam):
                length = len(param_value(self.params, param.n, True).encode())
                if not isinstance(offset, ast.Integer) or e.op != "+" or offset.value < 0 or \
                        offset.value > length:
                    self.error(f"only addition of a single constant less or equal to the length "
                               f"of ${param.n} (which is {length}) is allowed inside str()",
                               loc.to(self.bt_loc(e.right)))

    def binop_ptr(self, e: ast.Binop, a: Type, b: Type) -> Type:
        left_is_ptr = a.kind is Kind.PTR
        ptr, other = (a, b) if left_is_ptr else (b, a)
        compare = e.op in COMPARISONS
        op_loc = self.bt_loc(e)

        def invalid() -> Type:
            self.error(f"The {e.op} operator can not be used on expressions of types "
                       f"{describe(a)}, {describe(b)}", op_loc)
            return Int(64, False)

        if other.kind is Kind.PTR:
            if not compare:
                return invalid()
            if self.final and not equal(a.inner or NONE, b.inner or NONE):
                self.warning(f"comparison of distinct pointer types ('{describe(a.inner)}, "
                             f"'{describe(b.inner)}')", self.bt_loc(e.left).to(self.bt_loc(e.right)))
            return Int(64, False)
        if other.kind is Kind.INT:
            if e.op == "-" and not left_is_ptr:
                return invalid()
            if e.op in ("+", "-"):  # points where the pointer did, as in 0.17
                e.addrspace = self.space(e.left if left_is_ptr else e.right)
                return Type(Kind.PTR, inner=ptr.inner)
            if compare:
                return INT64
        return invalid()

    def expr_Sizeof(self, e: ast.Sizeof) -> Type:
        if e.expr is not None:
            self.expr(e.expr)
        elif e.typename.isidentifier() and self.records.enum_value(e.typename) is not None:
            e.size = 8  # an enumerator is a uint64 (expr_Builtin), as 0.17 types it
        elif e.typename.replace(" ", "") not in INT_TYPES:
            # Beyond 0.17: typedefs of integers (`sizeof(pid_t)`) and pointer types.
            base = " ".join(e.typename.replace("*", " ").split())
            t = INT_TYPES.get(base) or self.records.named_type(base)
            if t is not None and "*" in e.typename:
                e.size = 8
            elif t is not None and t.btf_id:
                e.size = self.btf().sizeof(t.btf_id)
            elif t is not None and (t.kind is not Kind.RECORD or t.size):
                e.size = t.byte_size
            else:
                self.error(f"Unknown identifier: '{e.typename}'", e.loc)
        return UINT64

    def expr_Offsetof(self, e: ast.Offsetof) -> Type:
        base = " ".join(e.typename.split())
        rec = self.records.named_type(base) if "*" not in base else None
        if rec is None or rec.kind is not Kind.RECORD or not (rec.btf_id or rec.size):
            self.error(f"Unknown struct/union: '{e.typename}'", e.loc)
            return NONE
        try:
            e.offset = self.records.offsetof(rec, e.field)
        except LookupError:
            self.error(f"Struct/union of type '{base}' does not contain a field named "
                       f"'{e.field}'", e.loc)
            return NONE
        return UINT64

    # ---- calls ------------------------------------------------------------
    def expr_Call(self, e: ast.Call) -> Type:
        name = e.name
        if not self.unsafe and name in UNSAFE_FUNCTIONS:
            self.error(f"{name}() is an unsafe function being used in safe mode", e.loc)
        if e.args and isinstance(e.args[0], ast.Map) and (
                name in ("print", "clear", "zero") or self.two_arg_delete(e)):
            self.skip_keys.add(id(e.args[0]))
        saved = self.func, self.func_arg
        self.func = name
        for i, a in enumerate(e.args):
            self.func_arg = i
            self.expr(a)
        self.func, self.func_arg = saved[0], -1
        for p in self.providers():
            if p in UNAVAILABLE_IN.get(name, ()):
                self.error(f'{name} can not be used with "{p}" probes', e.loc)
        if name not in SUPPORTED_FUNCTIONS:
            self.error(f"{name}() is not supported by pybpftrace yet", e.loc)
            return NONE
        t = getattr(self, "call_" + name)(e)
        return NONE if t is None else t

    @staticmethod
    def two_arg_delete(e: ast.Call) -> bool:
        return e.name == "delete" and len(e.args) == 2 and isinstance(e.args[0], ast.Map) \
            and e.args[0].key is None

    # helpers with 0.17's wording
    def check_assignment(self, e: ast.Call, want_map: bool) -> bool:
        m = self.assigned_map.get(id(e))
        if want_map:
            if m is None:
                self.error(f"{e.name}() should be directly assigned to a map", e.loc)
                return False
        elif m is not None or id(e) in self.assigned_var or id(e) in self.key_of:
            self.error(f"{e.name}() should not be used in an assignment or as a map key", e.loc)
            return False
        return True

    def check_nargs(self, e: ast.Call, n: int) -> bool:
        have = len(e.args)
        if have == n:
            return True
        if n == 0:
            what = f"{e.name}() requires no arguments"
        elif n == 1:
            what = f"{e.name}() requires one argument"
        else:
            what = f"{e.name}() requires {n} arguments"
        self.error(f"{what} ({have} provided)", e.loc)
        return False

    def check_varargs(self, e: ast.Call, lo: int, hi: int) -> bool:
        n = len(e.args)
        if n < lo:
            what = "at least one argument" if lo == 1 else f"at least {lo} arguments"
            self.error(f"{e.name}() requires {what} ({n} provided)", e.loc)
            return False
        if n > hi:
            if hi == 0:
                what = "requires no arguments"
            elif hi == 1:
                what = "takes up to one argument"
            else:
                what = f"takes up to {hi} arguments"
            self.error(f"{e.name}() {what} ({n} provided)", e.loc)
            return False
        return True

    def check_arg(self, e: ast.Call, kind: Kind, i: int, want_literal: bool = False,
                  fail: bool = True) -> bool:
        if not e.args or i >= len(e.args):
            return False
        arg = e.args[i]
        want = typestr(Type(kind))
        if want_literal and (not self.is_literal(arg) or arg.type.kind is not kind):
            if fail:
                self.error(f"{e.name}() expects a {want} literal ({typestr(arg.type)} provided)",
                           e.loc)
                if kind is Kind.STRING and isinstance(arg, ast.PositionalParam) and arg.n:
                    self.error(f"Use str(${arg.n}) to treat ${arg.n} as a string", e.loc)
            return False
        if self.final and arg.type.kind is not kind:
            if fail:
                self.error(f"{e.name}() only supports {want} arguments ({typestr(arg.type)} "
                           "provided)", e.loc)
            return False
        return True

    # aggregations
    def call_hist(self, e: ast.Call) -> Type:
        self.check_assignment(e, True)
        self.check_nargs(e, 1)
        self.check_arg(e, Kind.INT, 0)
        return Type(Kind.HIST)

    def call_lhist(self, e: ast.Call) -> Type:
        self.check_assignment(e, True)
        if self.check_nargs(e, 4):
            self.check_arg(e, Kind.INT, 0)
            for i in (1, 2, 3):
                self.check_arg(e, Kind.INT, i, True)
        bounds = (0, 0, 0)
        if self.final and len(e.args) == 4:
            values = [self.int_literal(a) if self.is_literal(a) else None for a in e.args[1:]]
            for v, what in zip(values, ("min", "max", "step")):
                if v is None:
                    self.error(f"lhist: invalid {what} value", e.loc)
                    return Type(Kind.LHIST)
            lo, hi, step = values
            if step <= 0:
                self.error(f"lhist() step must be >= 1 ({step} provided)", e.loc)
            else:
                buckets = int((hi - lo) / step)
                if buckets > 1000:
                    self.error(f"lhist() too many buckets, must be <= 1000 (would need {buckets})",
                               e.loc)
            if lo < 0:
                self.error(f"lhist() min must be non-negative (provided min {lo})", e.loc)
            if lo > hi:
                self.error(f"lhist() min must be less than max (provided min {lo} and max {hi})",
                           e.loc)
            if hi - lo < step:
                self.error(f"lhist() step is too large for the given range (provided step {step} "
                           f"for range {hi - lo})", e.loc)
            bounds = (lo, hi, step)
        elif len(e.args) == 4:
            values = [self.int_literal(a) if self.is_literal(a) else None for a in e.args[1:]]
            if None not in values:
                bounds = tuple(values)
        return Type(Kind.LHIST, lhist=bounds)

    def call_count(self, e: ast.Call) -> Type:
        self.check_assignment(e, True)
        self.check_nargs(e, 0)
        return Type(Kind.COUNT)

    def _signed_aggregation(self, e: ast.Call, kind: Kind) -> Type:
        signed = False
        self.check_assignment(e, True)
        if self.check_nargs(e, 1):
            self.check_arg(e, Kind.INT, 0)
            signed = e.args[0].type.signed
        return Type(kind, signed=signed)

    def call_sum(self, e: ast.Call) -> Type:
        return self._signed_aggregation(e, Kind.SUM)

    def call_min(self, e: ast.Call) -> Type:
        return self._signed_aggregation(e, Kind.MIN)

    def call_max(self, e: ast.Call) -> Type:
        return self._signed_aggregation(e, Kind.MAX)

    def call_avg(self, e: ast.Call) -> Type:
        self.check_assignment(e, True)
        self.check_nargs(e, 1)
        self.check_arg(e, Kind.INT, 0)
        return Type(Kind.AVG, signed=True)

    def call_stats(self, e: ast.Call) -> Type:
        self.check_assignment(e, True)
        self.check_nargs(e, 1)
        self.check_arg(e, Kind.INT, 0)
        return Type(Kind.STATS, signed=True)

    # maps
    def call_delete(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if self.two_arg_delete(e):
            # delete(@m, key) (later bpftrace): check it as delete(@m[key]).
            access = getattr(e, "access", None)
            if access is None:
                m = e.args[0]
                access = e.access = ast.Map(m.name, e.args[1], loc=m.loc.to(e.args[1].loc))
            self.expr(access)
            return NONE
        if self.check_nargs(e, 1) and not isinstance(e.args[0], ast.Map):
            self.error("delete() expects a map to be provided", e.loc)
        return NONE

    def _map_only(self, e: ast.Call) -> None:
        self.check_assignment(e, False)
        if self.check_nargs(e, 1):
            arg = e.args[0]
            if not isinstance(arg, ast.Map):
                self.error(f"{e.name}() expects a map to be provided", e.loc)
            elif arg.key is not None:
                self.error(f"The map passed to {e.name}() should not be indexed by a key", e.loc)

    def call_clear(self, e: ast.Call) -> Type:
        self._map_only(e)
        return NONE

    def call_zero(self, e: ast.Call) -> Type:
        self._map_only(e)
        return NONE

    def call_print(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if self.loop_depth and self.final:
            self.warning("Due to it's asynchronous nature using 'print()' in a loop can lead to "
                         "unexpected behavior. The map will likely be updated before the runtime "
                         "can 'print' it.", e.loc)
        if not self.check_varargs(e, 1, 3):
            return NONE
        arg = e.args[0]
        if isinstance(arg, ast.Map):
            if arg.key is not None:
                self.error(f"The map passed to {e.name}() should not be indexed by a key", e.loc)
            if self.final:
                if len(e.args) > 1:
                    self.check_arg(e, Kind.INT, 1, True)
                if len(e.args) > 2:
                    self.check_arg(e, Kind.INT, 2, True)
                if arg.type.kind is Kind.STATS and len(e.args) > 1:
                    self.warning("print()'s top and div arguments are ignored when used on "
                                 "stats() maps.", e.loc)
        elif printable(arg.type):
            arg.type = self.value_type(arg.type)
            if len(e.args) != 1:
                self.error(f"Non-map print() only takes 1 argument, {len(e.args)} found", e.loc)
        elif self.final:
            self.error(f"{describe(arg.type)} type passed to {e.name}() is not printable", e.loc)
        return NONE

    # output
    def call_printf(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if self.check_varargs(e, 1, 128):
            self.check_arg(e, Kind.STRING, 0, True)
            if self.final and isinstance(e.args[0], ast.String):
                for msg in validate_printf(e.args[0].value, [a.type for a in e.args[1:]], e.name):
                    self.error(msg, e.loc)
        return NONE

    call_system = call_printf
    call_cat = call_printf

    def call_debugf(self, e: ast.Call) -> Type:
        """printf() to the kernel's trace pipe (bpf_trace_printk: at most 3 arguments)."""
        self.call_printf(e)
        if self.final:
            if len(e.args) > 4:
                self.error(f"debugf() takes at most 3 arguments after the format "
                           f"({len(e.args) - 1} provided)", e.loc)
            self.warning("The debugf() builtin is not recommended for production use. For more "
                         "information see bpf_trace_printk in bpf-helpers(7).", e.loc)
        return NONE

    def call_strftime(self, e: ast.Call) -> Type:
        if self.check_varargs(e, 2, 2) and self.final and self.check_arg(e, Kind.STRING, 0, True):
            self.check_arg(e, Kind.INT, 1)
        return Type(Kind.TIMESTAMP)

    def call_cgroupid(self, e: ast.Call) -> Type:
        """The id of a cgroup2 directory, looked up at compile time."""
        if self.check_nargs(e, 1) and self.check_arg(e, Kind.STRING, 0, True) and self.final:
            path = self.string_literal(e.args[0])
            try:
                e.cgroup_id = self.kinfo.cgroup_id(path)
            except AttributeError:  # a KernelInfo without cgroups
                e.cgroup_id = 0
            except OSError as err:
                self.codegen_errors.append(f'Failed to get `cgroupid` for path: "{path}": '
                                           f"{err.strerror}")
        return UINT64

    def call_cgroup_path(self, e: ast.Call) -> Type:
        if self.check_varargs(e, 1, 2):
            self.check_arg(e, Kind.INT, 0)
            if len(e.args) > 1:
                self.check_arg(e, Kind.STRING, 1)
        return Type(Kind.CGROUP_PATH)

    def call_macaddr(self, e: ast.Call) -> Type | None:
        if not self.check_nargs(e, 1):
            return None
        arg = e.args[0]
        t = arg.type
        in_bytes = t.kind is Kind.ARRAY or t.kind in BYTE_ARRAYS
        if t.kind not in (Kind.INT, Kind.PTR) and not in_bytes:
            self.error(f"macaddr() only supports array or pointer arguments ({typestr(t)} "
                       "provided)", e.loc)
        if in_bytes and size_of(t) != 6:
            self.error("macaddr() argument must be 6 bytes in size", e.loc)
        if t.kind is Kind.STRING and self.is_literal(arg):
            self.error("macaddr() does not support literal string arguments", e.loc)
        return Type(Kind.MAC_ADDRESS)

    def call_bswap(self, e: ast.Call) -> Type | None:
        if not self.check_nargs(e, 1):
            return None
        t = e.args[0].type
        if t.kind is not Kind.INT:
            self.error(f"bswap() only supports integer arguments ({typestr(t)} provided)", e.loc)
            return None
        return Int(t.bits, False)

    def call_strcontains(self, e: ast.Call) -> Type:
        if self.check_nargs(e, 2):
            self.check_arg(e, Kind.STRING, 0)
            self.check_arg(e, Kind.STRING, 1)
        return UINT64

    def call_unwatch(self, e: ast.Call) -> None:
        """unwatch(addr): stop watching an address (runtime: every watchpoint on it)."""
        if self.check_nargs(e, 1):
            self.check_arg(e, Kind.INT, 0)

    def call_kptr(self, e: ast.Call) -> Type | None:
        """kptr(p) / uptr(p): p, read from kernel / user memory from now on."""
        if not self.check_nargs(e, 1):
            return None
        t = e.args[0].type
        if t.kind not in (Kind.INT, Kind.PTR):
            self.error(f"{e.name}() only supports integer or pointer arguments ({typestr(t)} "
                       "provided)", e.loc)
            return None
        e.addrspace = "kernel" if e.name == "kptr" else "user"
        return t

    call_uptr = call_kptr

    def helper_check(self, e: ast.Call) -> None:
        """0.17's check that the kernel has the BPF helper a function needs."""
        lacks = getattr(self.kinfo, "helper_unavailable", None)
        reason = lacks(e.name) if lacks else None
        if reason:
            self.error(reason, e.loc)

    def call_path(self, e: ast.Call) -> Type:
        """d_path() of a struct path: only fentry/fexit and iter programs may call it."""
        self.helper_check(e)
        if self.check_varargs(e, 1, 1) and \
                not self.check_arg(e, Kind.RECORD, 0, fail=False) and \
                not self.check_arg(e, Kind.PTR, 0, fail=False):
            self.error(f"path() only supports pointer or record argument "
                       f"({typestr(e.args[0].type)} provided)", e.loc)
        for p in self.providers():
            if p not in ("kfunc", "kretfunc", "iter"):
                self.error("The path function can only be used with 'kfunc', 'kretfunc', 'iter' "
                           "probes", e.loc)
        return String(self.strlen)

    def call_override(self, e: ast.Call) -> Type:
        """Override a kprobed function's return value (bpf_override_return)."""
        self.helper_check(e)
        self.check_assignment(e, False)
        if self.check_varargs(e, 1, 1):
            self.check_arg(e, Kind.INT, 0)
        for p in self.providers():
            if p != "kprobe":
                self.error("override can only be used with kprobes.", e.loc)
        return NONE

    def call_exit(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        self.check_nargs(e, 0)
        return NONE

    def call_time(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if self.check_varargs(e, 0, 1) and self.final and e.args:
            self.check_arg(e, Kind.STRING, 0, True)
        return NONE

    def call_join(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if not self.check_varargs(e, 1, 2) or not self.final:
            return NONE
        t = e.args[0].type
        if t.kind not in (Kind.INT, Kind.PTR):
            self.error(f"join() only supports int or pointer arguments ({typestr(t)} provided)",
                       e.loc)
        if len(e.args) > 1:
            self.check_arg(e, Kind.STRING, 1, True)
        return NONE

    def call_signal(self, e: ast.Call) -> Type:
        self.check_assignment(e, False)
        if not self.check_varargs(e, 1, 1):
            return NONE
        arg = e.args[0]
        if arg.type.kind is Kind.STRING and self.is_literal(arg):
            sig = self.string_literal(arg)
            if signal_number(sig) < 1:
                self.error(f"{sig} is not a valid signal", e.loc)
        elif arg.type.kind is Kind.INT and self.is_literal(arg):
            sig = self.int_literal(arg)
            if sig is None or not 1 <= sig <= 64:
                self.error(f"{sig} is not a valid signal, allowed range: [1,64]", e.loc)
        elif arg.type.kind is not Kind.INT:
            self.error("signal only accepts string literals or integers", e.loc)
        return NONE

    # strings and buffers
    def call_str(self, e: ast.Call) -> Type:
        t = String(self.strlen)
        if self.check_varargs(e, 1, 2):
            arg = e.args[0]
            # Beyond 0.17: str() of a kernel struct's char array (`str($task->comm)`);
            # 0.17 rejects str() of other strings, and so do we.
            btf_chars = arg.type.kind is Kind.STRING and in_traced_memory(arg)
            if arg.type.kind not in (Kind.INT, Kind.PTR) and not btf_chars:
                self.error(f"str() expects an integer or a pointer type as first argument "
                           f"({describe(arg.type)} provided)", e.loc)
            if self.has_pos_param:
                if isinstance(arg, ast.PositionalParam):
                    self.literal_calls.add(id(e))
                elif not (isinstance(arg, ast.Binop) and (isinstance(arg.left, ast.PositionalParam)
                                                          or isinstance(arg.right,
                                                                        ast.PositionalParam))):
                    self.error("str() only accepts positional parameters directly or with a "
                               "single constant offset added", e.loc)
            if self.final and len(e.args) == 2 and self.check_arg(e, Kind.INT, 1):
                n = e.args[1]
                if isinstance(n, ast.Integer) and n.value < 0:
                    self.error(f"str() cannot use negative length ({n.value})", e.loc)
        self.has_pos_param = False
        if e.args:
            e.addrspace = self.space(e.args[0])
        return t

    def call_buf(self, e: ast.Call) -> Type | None:
        if not self.check_varargs(e, 1, 2):
            return None
        arg = e.args[0]
        if self.final and arg.type.kind not in (Kind.INT, Kind.STRING, Kind.PTR, Kind.ARRAY):
            self.error(f"buf() expects an integer, string, or array argument but saw "
                       f"{typestr(arg.type)}", e.loc)
        size = self.strlen
        if len(e.args) == 1:
            if arg.type.kind is Kind.ARRAY:
                size = arg.type.byte_size
            elif self.final:
                self.error(f"buf() expects a length argument for non-array type "
                           f"{typestr(arg.type)}", e.loc)
        else:
            if self.final:
                self.check_arg(e, Kind.INT, 1)
            n = e.args[1]
            if n.type.kind is Kind.INT and self.is_literal(n):
                value = self.int_literal(n)
                if value is None:
                    self.error("buf: invalid length value", e.loc)
                else:
                    if value < 0:
                        self.error(f"buf cannot use negative length ({value})", e.loc)
                    size = value
        if size > self.strlen:
            if self.final:
                self.warning(f"buf() length is too long and will be shortened to {self.strlen} "
                             "bytes (see BPFTRACE_STRLEN)", e.loc)
            size = self.strlen
        e.addrspace = "kernel"
        return Type(Kind.BUFFER, size=max(size, 0))

    def call_strncmp(self, e: ast.Call) -> Type:
        if self.check_nargs(e, 3):
            self.check_arg(e, Kind.STRING, 0)
            self.check_arg(e, Kind.STRING, 1)
            if self.check_arg(e, Kind.INT, 2, True):
                size = self.int_literal(e.args[2])
                if size is None:
                    self.error("strncmp: invalid size value", e.loc)
                elif size < 0:
                    self.error("Builtin strncmp requires a non-negative size", e.loc)
                e.size = size  # the literal or positional parameter, for codegen
        return UINT64

    # symbols, addresses, stacks
    def call_ksym(self, e: ast.Call) -> Type:
        if self.check_nargs(e, 1) and e.args[0].type.kind not in (Kind.INT, Kind.PTR):
            self.error(f"{e.name}() expects an integer or pointer argument", e.loc)
        return Type(Kind.KSYM if e.name == "ksym" else Kind.USYM)

    call_usym = call_ksym

    def call_strerror(self, e: ast.Call) -> Type:
        if self.check_nargs(e, 1):
            self.check_arg(e, Kind.INT, 0)
        return Type(Kind.STRERROR)

    def call_reg(self, e: ast.Call) -> Type:
        """A register of the probe's pt_regs, by 0.17's x86_64 name."""
        if self.check_nargs(e, 1) and self.check_arg(e, Kind.STRING, 0, True):
            name = self.string_literal(e.args[0])
            if name not in PT_REGS:
                self.error(f"'{name}' is not a valid register on this architecture (x86_64)",
                           e.loc)
            e.reg_offset = 8 * PT_REGS.index(name) if name in PT_REGS else 0
        e.addrspace = _ADDRSPACE.get(self.single_provider(), "none")
        return UINT64

    def call_kaddr(self, e: ast.Call) -> Type:
        """The address of a kernel symbol, from /proc/kallsyms at compile time."""
        if self.check_nargs(e, 1) and self.check_arg(e, Kind.STRING, 0, True) and self.final:
            name = self.string_literal(e.args[0])
            lookup = getattr(self.kinfo, "kernel_symbol_address", None)
            e.address = lookup(name) if lookup else None
            if not e.address:
                self.codegen_errors.append(f"Failed to resolve kernel symbol: {name}")
        e.addrspace = "kernel"
        return UINT64

    def call_uaddr(self, e: ast.Call) -> Type | None:
        """The address of a data symbol of the probed binary, typed by the symbol's size.

        0.17 returns the symbol's link-time address, which is wrong in PIE
        executables and libraries; the code generator adds the load bias, found
        at run time from the probed instruction's address (see lower.call_uaddr).
        `e.uaddr_deltas` maps each (binary, file offset) the probe attaches to the
        symbol's distance from the probed instruction, as linked."""
        if not self.check_nargs(e, 1):
            return None
        if not (self.check_arg(e, Kind.STRING, 0, True) and self.check_symbol(e)):
            return None
        from pybpftrace.semantic import elfsyms  # pyelftools costs ~30 ms to import
        name = self.string_literal(e.args[0])
        user = ("uprobe", "uretprobe")
        # 0.17 resolves the symbol once per attach point, as PROVIDER:BINARY.
        aps = self.probe.attach_points
        places = list(dict.fromkeys(
            [(p.provider, p.target) for p in self.probe.expansions if p.provider in user] +
            [(ap.provider, ap.target) for ap in aps if ap.provider not in user]))
        sizes = []
        for kind, target in places:
            found = elfsyms.data_symbol(target, name) if target else None
            if found is None:
                self.error(f"Could not resolve symbol: {target}:{name}", e.loc)
            sizes.append((found[1] if found else 0, kind + (f":{target}" if target else "")))
        e.uaddr_deltas = {}
        for p in self.probe.expansions:
            found = elfsyms.data_symbol(p.target, name) if p.provider in user else None
            if found is not None:
                probed = elfsyms.offset_vaddr(p.target, p.offset) or 0
                e.uaddr_deltas[(p.target, p.offset)] = found[0] - probed
        for size, label in sizes[1:]:
            if size != sizes[0][0]:
                self.error(f'Symbol size mismatch between probes. Symbol "{name}" has size '
                           f'{sizes[0][0]} for probe "{sizes[0][1]}" but size {size} for probe '
                           f'"{label}"', e.loc)
        e.addrspace = "user"
        size = sizes[0][0] if sizes else 0
        return Type(Kind.PTR, inner=Int(size * 8 if size in (1, 2, 4) else 64, True))

    def check_symbol(self, e: ast.Call) -> bool:
        name = self.string_literal(e.args[0])
        if re.fullmatch(r"[a-zA-Z0-9./_-]+", name):
            return True
        self.error(f"{e.name}() expects a string that is a valid symbol (^[a-zA-Z0-9./_-]+$) as "
                   f'input ("{name}" provided)', e.loc)
        return False

    def call_ntop(self, e: ast.Call) -> Type | None:
        if not self.check_varargs(e, 1, 2):
            return None
        arg = e.args[0]
        if len(e.args) == 2:
            arg = e.args[1]
            self.check_arg(e, Kind.INT, 0)
        t = arg.type
        if t.kind not in (Kind.INT, Kind.STRING, Kind.ARRAY):
            self.error(f"ntop() expects an integer or array argument, got {typestr(t)}", e.loc)
        if t.kind in (Kind.STRING, Kind.ARRAY) and size_of(t) not in (4, 16):
            self.error("ntop() argument must be 4 or 16 bytes in size", e.loc)
        return Type(Kind.INET)

    def call_pton(self, e: ast.Call) -> Type | None:
        if not self.check_nargs(e, 1):
            return None
        addr = self.string_literal(e.args[0])
        if "." in addr:
            family, size = socket.AF_INET, 4
        elif ":" in addr:
            family, size = socket.AF_INET6, 16
        else:
            self.error(f"pton() expects an string argument of an IPv4/IPv6 address, got {addr}",
                       e.loc)
            return None
        try:
            socket.inet_pton(family, addr)
        except OSError:
            self.error(f"pton() expects a valid IPv4/IPv6 address, got {addr}", e.loc)
            return None
        e.addrspace = "kernel"
        return Type(Kind.ARRAY, size=size, inner=Int(8, False))

    def call_kstack(self, e: ast.Call) -> Type:
        kind = Kind.KSTACK if e.name == "kstack" else Kind.USTACK
        if not self.check_varargs(e, 0, 2):
            return Type(kind)
        mode, limit = "bpftrace", 127
        if len(e.args) == 1:
            arg = e.args[0]
            if arg.type.kind is Kind.STACK_MODE:
                mode = arg.type.stack_mode
            elif self.check_arg(e, Kind.INT, 0, True):
                value = self.int_literal(arg)
                if value is None:
                    self.error(f"{e.name}: invalid limit value", e.loc)
                else:
                    limit = value
        elif len(e.args) == 2:
            if self.check_arg(e, Kind.STACK_MODE, 0, True):
                mode = e.args[0].type.stack_mode
            if self.check_arg(e, Kind.INT, 1, True):
                value = self.int_literal(e.args[1])
                if value is None:
                    self.error(f"{e.name}: invalid limit value", e.loc)
                else:
                    limit = value
        limit %= 1 << 64  # 0.17 keeps the limit in a uint64: -1 is too large
        if limit > MAX_STACK_SIZE:
            self.error(f"{e.name}([int limit]): limit shouldn't exceed {MAX_STACK_SIZE}, "
                       f"{limit} given", e.loc)
            limit = MAX_STACK_SIZE
        return Type(kind, stack_mode=mode, stack_limit=limit)

    call_ustack = call_kstack

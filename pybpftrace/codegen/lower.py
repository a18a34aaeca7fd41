"""AST -> LLVM IR, one function per BPF program (bpftrace's CodegenLLVM).

Values are lowered in two representations: scalar types (integers, pointers,
symbol addresses, probe ids, stack ids) become i64 SSA values; everything with
a size of its own (strings, tuples, buffers, user stacks, struct values)
lives in a stack buffer and is passed around as an i8* to it.  Map values and
event records use the layouts in `types.tuple_layout`, which the runtime
decodes with the same function.

Values in the traced kernel's or process's memory (`*p`, `p->member`, `p[i]`:
typecheck.in_traced_memory) are not copied as a whole when only part of them
is used: `$t->se.vruntime` reads 8 bytes.  A struct there evaluates to its
address; it is copied (bpf_probe_read straight into the map value, key or
event record) only where it is stored or printed.  Buffers too big for the
512-byte BPF stack (big structs) are carved out of a per-CPU scratch map.

Aggregations write to per-CPU hash maps in place: one lookup, then an add
through the returned pointer, and an update only for a key's first event.
"""
from __future__ import annotations

import functools
import socket
from dataclasses import dataclass, field

from llvmlite import ir

from pybpftrace.codegen.helper_errors import HelperChecks
from pybpftrace.codegen.irbuilder import BPF_NOEXIST, I8, I8P, I32, I64, BpfBuilder, Helper, const
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import string_bytes
from pybpftrace.resources import Action, FormatInfo, MapInfo, ProbeInfo, Resources
from pybpftrace.semantic.builtins import PT_REGS, signal_number
from pybpftrace.semantic.kinfo import TracepointField
from pybpftrace.semantic.typecheck import (INT_TYPES, c_int, field_type, in_traced_memory,
                                           param_value)
from pybpftrace.semantic.typecheck import size_of as type_size
from pybpftrace.types import Kind, Tuple, Type, tuple_layout

MEMORY_KINDS = {Kind.STRING, Kind.TUPLE, Kind.BUFFER, Kind.USTACK, Kind.USYM, Kind.INET,
                Kind.ARRAY, Kind.RECORD, Kind.TIMESTAMP, Kind.CGROUP_PATH, Kind.MAC_ADDRESS}
BPF_F_USER_STACK = 1 << 8


def in_memory(t: Type) -> bool:
    return t.kind in MEMORY_KINDS


@dataclass
class InternalMaps:
    """File descriptors of the maps every program may use besides the user's."""
    ringbuf: int
    status: int         # array[1] of {u64 lost events, u64 exit requested} (not per-CPU)
    scratch: int        # per-CPU array[1] of scratch_value_size() bytes
    stacks: dict[int, int] = field(default_factory=dict)  # stack limit -> stack trace map
    ncpus: int = 1
    scratch_size: int = 0  # the scratch value's size (0: unknown, not checked)


# x86_64 struct pt_regs offsets: the argument registers (di, si, dx, cx, r8, r9),
# ax (the return value), ip and sp.  kprobes and uprobes see the probed task's
# registers as their context.
PT_REGS_ARGS = (112, 104, 96, 88, 72, 64)
PT_REGS_AX = 80
PT_REGS_IP = 128
PT_REGS_SP = 152
PT_REGS_PROVIDERS = ("kprobe", "kretprobe", "uprobe", "uretprobe")


@dataclass
class ProgramContext:
    """What lowering needs to know about the program being generated."""
    probe: ast.Probe
    provider: str
    info: ProbeInfo | None                     # the concrete attach point, None if shared
    fields: dict[str, TracepointField] = field(default_factory=dict)
    user_pointers: bool = False                # syscall tracepoints pass user addresses
    raw_args: dict[str, int] = field(default_factory=dict)  # rawtracepoint/fentry: arg -> slot
    retval_slot: int = -1                      # fexit: the context slot of the return value
    # Loaded as a BPF TRACING program (fentry/fexit, tp_btf, iter): its context
    # slots are BTF-typed, and the verifier knows what their pointers point to.
    tracing: bool = False


# Frames of the BPF machinery at the top of a kernel stack, skipped so that it
# starts where the probe fired.  Raw tracepoints (raw_tp and tp_btf alike,
# seen here): bpf_prog_*, bpf_trace_runN, __traceiter_*.  fentry/fexit:
# bpf_prog_* and the bpf_trampoline_* that called it from the function's
# entry (from the frame layout: this kernel cannot run fentry).
_KSTACK_SKIP = {"rawtracepoint": 3, "kfunc": 2, "kretfunc": 2}


def _is_args_field(e: ast.Expr) -> bool:
    """`args.x`: an argument of the probe (a context slot or record field)."""
    return isinstance(e, ast.FieldAccess) and isinstance(e.expr, ast.Builtin) \
        and e.expr.name == "args"


def _locates(method):
    """Make a Lowerer method that lowers expression `e` (its last argument) set
    `self.node` to it meanwhile: the location -k's warnings point to."""
    @functools.wraps(method)
    def located(self, *args):
        outer, self.node = self.node, args[-1]
        try:
            return method(self, *args)
        finally:
            self.node = outer
    return located


class LoopTargets:
    def __init__(self, brk: ir.Block, cont: ir.Block):
        self.brk = brk
        self.cont = cont


class Lowerer:
    """Generates one BPF program function for a probe."""

    def __init__(self, module: ir.Module, name: str, ctx: ProgramContext, res: Resources,
                 internal: InternalMaps, format_ids: dict[int, int], boot_ns_at_start: int,
                 params: list[str], cpid: int = 0, helper_check: int = 0):
        self.ctx = ctx
        self.params = params
        self.cpid = cpid  # the -c child's pid: `cpid` is a constant of the program
        self.res = res
        self.internal = internal
        self.format_ids = format_ids
        self.start_ns = boot_ns_at_start
        func = ir.Function(module, ir.FunctionType(I64, [I8P]), name=name)
        func.section = f"prog_{name}"
        self.func = func
        self.bb = BpfBuilder(module, func)
        self.b = self.bb.b
        self.ctxptr = func.args[0]
        self.vars: dict[str, ir.Value | int] = {}  # slot, or offset in the scratch value
        self.loops: list[LoopTargets] = []
        self.ret_block = self.bb.block("done")
        self._comm: ir.Value | None = None
        # The scratch map's value, looked up once in the first block (`prologue`)
        # if the program needs it; `scratch_top` is the next free byte in it.
        self.prologue = self.b.block
        self._scratch: ir.Value | None = None
        self.record_area = record_area(ctx.probe, res.strlen)
        self.scratch_top = self.record_area
        # The statement or expression being lowered: where a -k warning points.
        self.node: ast.Node | None = None
        self.helper_checks = HelperChecks(helper_check, self.bb, res, lambda: self.node,
                                          self.emit) if helper_check else None
        # A kprobe loaded as fentry/fexit (semantic.kprobe_fentry): its context
        # is the function's argument slots, not struct pt_regs.
        self.fentry_kprobe = ctx.tracing and ctx.provider in ("kprobe", "kretprobe")

    # ---- entry ------------------------------------------------------------
    def generate(self) -> ir.Function:
        probe = self.ctx.probe
        self.b.position_at_end(self.bb.block("start"))
        start = self.b.block
        if probe.pred is not None:
            cond = self.bb.to_bool(self.expr(probe.pred))
            body = self.bb.block("body")
            self.b.cbranch(cond, body, self.ret_block)
            self.b.position_at_end(body)
        self.block(probe.block)
        if not self.b.block.is_terminated:
            self.b.branch(self.ret_block)
        self.b.position_at_end(self.ret_block)
        self.b.ret(const(0))
        self.b.position_at_end(self.prologue)
        if self._scratch is None:
            self.b.branch(start)
        else:
            self.b.cbranch(self.b.icmp_unsigned("==", self._scratch, ir.Constant(I8P, None)),
                           self.ret_block, start)
        self.bb.finish()
        return self.func

    # ---- statements -------------------------------------------------------
    def block(self, block: ast.Block) -> None:
        for s in block.stmts:
            if self.b.block.is_terminated:
                self.b.position_at_end(self.bb.block("dead"))
            mark = len(self.bb.temps)
            self.node = s
            getattr(self, "stmt_" + type(s).__name__)(s)
            self.bb.end_temporaries(mark)

    def stmt_ExprStatement(self, s: ast.ExprStatement) -> None:
        self.expr(s.expr)

    def stmt_AssignVar(self, s: ast.AssignVar) -> None:
        t = s.var.type
        slot = self.var_slot(s.var.name, t)
        if s.expr is None:
            self.bb.memset(slot, self.size_of(t))
            return
        expr = getattr(s, "binop", s.expr)  # `$x op= e` is `$x = $x op e`
        if in_memory(t):
            self.write_into(slot, 0, t, expr)
            return
        value = self.expr(expr)
        # Scalars live in 64-bit slots, already extended to 64 bits as their type says.
        if t.kind is Kind.INT and t.bits < 64 and not (
                expr.type.kind is Kind.INT and expr.type.bits <= t.bits and
                expr.type.signed == t.signed):
            value = self.extend(self.b.trunc(value, ir.IntType(t.bits)), t.signed)
        self.bb.store(value, slot)

    def stmt_AssignMap(self, s: ast.AssignMap) -> None:
        m = self.res.map_for(s.map.name)
        if m.value.is_aggregation and isinstance(s.expr, ast.Call) and s.op is None:
            self.aggregate(m, s.map, s.expr)
            return
        expr = getattr(s, "binop", s.expr)  # `@m op= e` is `@m = @m op e`
        if in_memory(m.value):  # built in place: a struct is read straight into it
            key = self.map_key(m, s.map)
            buf = self.buffer(m.value_size, "val")
            if m.value.kind not in (Kind.RECORD, Kind.ARRAY):
                self.bb.memset(buf, m.value_size)  # padding inside tuples
            self.write_into(buf, 0, m.value, expr)
        else:
            value = self.expr(expr)
            key = self.map_key(m, s.map)
            buf = self.bb.alloca(m.value_size, "val")
            self.store_value(buf, 0, m.value, expr.type, value)
        self.bb.map_update(m.fd, key, buf)

    def stmt_If(self, s: ast.If) -> None:
        cond = self.bb.to_bool(self.expr(s.cond))
        if s.orelse is None:
            with self.b.if_then(cond):
                self.block(s.then)
        else:
            with self.b.if_else(cond) as (then, otherwise):
                with then:
                    self.block(s.then)
                with otherwise:
                    self.block(s.orelse)

    def stmt_Unroll(self, s: ast.Unroll) -> None:
        for _ in range(s.count_value):
            self.block(s.body)

    def stmt_While(self, s: ast.While) -> None:
        self.loop(lambda: self.bb.to_bool(self.expr(s.cond)), s.body, None)

    def stmt_For(self, s: ast.For) -> None:
        slot = self.var_slot(s.var.name, s.var.type)
        end_slot = self.bb.alloca(8, "end")
        self.bb.store(self.expr(s.start), slot)
        self.bb.store(self.expr(s.end), end_slot)
        signed = s.var.type.signed

        def cond():
            cur, end = self.bb.load(slot), self.bb.load(end_slot)
            return self.b.icmp_signed("<", cur, end) if signed else self.b.icmp_unsigned("<", cur, end)

        def step():
            self.bb.store(self.b.add(self.bb.load(slot), const(1)), slot)
        self.loop(cond, s.body, step)

    def loop(self, cond, body: ast.Block, step) -> None:
        head, body_bb = self.bb.block("loop_head"), self.bb.block("loop_body")
        cont, done = self.bb.block("loop_cont"), self.bb.block("loop_done")
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(cond(), body_bb, done)
        self.b.position_at_end(body_bb)
        self.loops.append(LoopTargets(done, cont))
        self.block(body)
        self.loops.pop()
        if not self.b.block.is_terminated:
            self.b.branch(cont)
        self.b.position_at_end(cont)
        if step is not None:
            step()
        self.b.branch(head)
        self.b.position_at_end(done)

    def stmt_Jump(self, s: ast.Jump) -> None:
        if s.kind == "return":
            self.b.branch(self.ret_block)
        elif s.kind == "break":
            self.b.branch(self.loops[-1].brk)
        else:
            self.b.branch(self.loops[-1].cont)

    # ---- variables and sizes ----------------------------------------------
    def size_of(self, t: Type) -> int:
        return t.byte_size if in_memory(t) else 8

    def extend(self, v: ir.Value, signed: bool) -> ir.Value:
        return self.b.sext(v, I64) if signed else self.b.zext(v, I64)

    def var_slot(self, name: str, t: Type) -> ir.Value:
        slot = self.vars.get(name)
        if slot is None:
            size = self.size_of(t)
            slot = self.vars[name] = self.scratch_region(size) if size > STACK_BUFFER_MAX else \
                self.bb.alloca(size, "var_" + name, temporary=False)
        if isinstance(slot, int):  # a big struct: its own region of the scratch value
            return self.bb.gep(self.scratch_base(), slot)
        return slot

    def store_value(self, buf: ir.Value, off: int, dst: Type, src: Type, value: ir.Value) -> None:
        """Store `value` (of type src) into a slot of type dst at buf+off."""
        if not in_memory(dst):
            width = dst.bits if dst.kind is Kind.INT else 64
            self.bb.store(value, buf, off, width)
            return
        dsize = dst.byte_size
        if dst.kind is Kind.TUPLE and src.kind is Kind.TUPLE and dst != src:
            # Field-wise: strings inside may have different sizes.
            d_offs, _ = tuple_layout(dst)
            s_offs, _ = tuple_layout(src)
            for df, sf, do, so in zip(dst.fields, src.fields, d_offs, s_offs):
                if in_memory(df):
                    self.store_value(buf, off + do, df, sf, self.bb.gep(value, so))
                else:
                    width = sf.bits if sf.kind is Kind.INT else 64
                    self.store_value(buf, off + do, df, sf, self.bb.load(value, so, width, sf.signed))
            return
        target = self.bb.gep(buf, off)
        if src.byte_size < dsize:
            self.zero(target, dsize)
        self.copy(target, value, min(dsize, src.byte_size))

    def zero(self, buf: ir.Value, size: int) -> None:
        """Zero a buffer: inline up to a few words, else with one failing
        bpf_probe_read_kernel (of address 0), which zero-fills its destination."""
        if size <= COPY_INLINE_MAX:
            self.bb.memset(buf, size)
        else:
            self.bb.probe_read(buf, size, const(0), False, checked=False)

    def copy(self, dst: ir.Value, src: ir.Value, size: int) -> None:
        """Copy between BPF buffers: inline up to a few words, else with one
        bpf_probe_read_kernel (a struct of kilobytes would be hundreds of
        instructions inline)."""
        if size <= COPY_INLINE_MAX:
            self.bb.memcpy(dst, src, size)
        else:
            self.bb.probe_read(dst, size, src, False, checked=False)

    # ---- expressions ------------------------------------------------------
    @_locates
    def expr(self, e: ast.Expr) -> ir.Value:
        return getattr(self, "expr_" + type(e).__name__)(e)

    def expr_Integer(self, e: ast.Integer) -> ir.Value:
        return const(e.value)

    def expr_String(self, e: ast.String) -> ir.Value:
        return self.string_constant(string_bytes(e.value), e.type.size)

    def string_constant(self, data: bytes, size: int) -> ir.Value:
        buf = self.bb.alloca(size, "str")
        padded = data.ljust((size + 7) // 8 * 8, b"\0")
        for off in range(0, len(padded), 8):
            self.bb.store(const(int.from_bytes(padded[off:off + 8], "little")), buf, off)
        return buf

    def expr_PositionalParam(self, e: ast.PositionalParam) -> ir.Value:
        if e.n == 0:
            return const(len(self.params))
        return const(c_int(param_value(self.params, e.n, False)) or 0)

    def expr_Variable(self, e: ast.Variable) -> ir.Value:
        slot = self.var_slot(e.name, e.type)
        if in_memory(e.type):
            return slot
        return self.bb.load(slot)

    def expr_Builtin(self, e: ast.Builtin) -> ir.Value:
        n = e.name
        bb = self.bb
        if getattr(e, "enum_value", None) is not None:  # an enumerator from BTF
            return const(e.enum_value)
        if n in ("pid", "tid"):
            v = bb.helper(Helper.GET_CURRENT_PID_TGID, [])
            return self.b.lshr(v, const(32)) if n == "pid" else self.b.and_(v, const(0xFFFFFFFF))
        if n in ("uid", "gid"):
            v = bb.helper(Helper.GET_CURRENT_UID_GID, [])
            return self.b.and_(v, const(0xFFFFFFFF)) if n == "uid" else self.b.lshr(v, const(32))
        if n == "nsecs":
            return bb.helper(Helper.KTIME_GET_BOOT_NS, [])
        if n == "elapsed":
            return self.b.sub(bb.helper(Helper.KTIME_GET_BOOT_NS, []), const(self.start_ns))
        if n == "cpu":
            return self.b.zext(bb.helper(Helper.GET_SMP_PROCESSOR_ID, [], I32), I64)
        if n == "cgroup":
            return bb.helper(Helper.GET_CURRENT_CGROUP_ID, [])
        if n == "numaid":
            return self.b.zext(bb.helper(Helper.GET_NUMA_NODE_ID, [], I32), I64)
        if n == "rand":
            return self.b.zext(bb.helper(Helper.GET_PRANDOM_U32, [], I32), I64)
        if n == "curtask":
            return bb.helper(Helper.GET_CURRENT_TASK, [])
        if n == "jiffies":
            return bb.helper(Helper.JIFFIES64, [])
        if n == "cpid":
            return const(self.cpid)
        if n == "comm":  # the helper writes all 16 bytes (NUL padded): no memset needed
            buf = bb.alloca(16, "comm")
            bb.helper(Helper.GET_CURRENT_COMM, [buf, const(16, I32)])
            return buf
        if n == "probe":
            if self.ctx.info is not None:
                return const(self.res.probes.index(self.ctx.info))
            return bb.helper(Helper.GET_ATTACH_COOKIE, [self.ctxptr])
        if n.startswith("arg") and n[3:].isdigit() and self.ctx.provider == "rawtracepoint":
            return self.bb.load(self.ctxptr, 8 * int(n[3:]))  # ctx is an array of u64
        if self.ctx.provider in ("kfunc", "kretfunc") or self.fentry_kprobe:
            # ctx: the u64 args, then retval (a kprobe's argN is slot N)
            if n.startswith("arg") and n[3:].isdigit():
                return self.bb.load(self.ctxptr, 8 * int(n[3:]))
            if n == "retval":
                return self.raw_tracepoint_arg(self.ctx.retval_slot, e.type)
            if n == "func":
                return bb.helper(Helper.GET_FUNC_IP, [self.ctxptr])
        if self.ctx.provider == "usdt" and n.startswith("arg") and n[3:].isdigit():
            return self.usdt_arg(self.ctx.info.usdt_args[int(n[3:])])
        if self.ctx.provider in PT_REGS_PROVIDERS:  # ctx is struct pt_regs
            if n.startswith("arg") and n[3:].isdigit():
                return self.bb.load(self.ctxptr, PT_REGS_ARGS[int(n[3:])])
            if n.startswith("sarg") and n[4:].isdigit():
                return self.stack_arg(int(n[4:]))
            if n == "retval":
                return self.bb.load(self.ctxptr, PT_REGS_AX)
            if n == "func" and self.ctx.provider == "kprobe":
                return self.bb.load(self.ctxptr, PT_REGS_IP)  # as 0.17: ksym() finds the function
            if n == "func" and self.ctx.provider == "kretprobe":
                # After the return, ip is the caller's: the kernel remembers the function.
                return bb.helper(Helper.GET_FUNC_IP, [self.ctxptr])
            if n == "func" and self.ctx.provider == "uprobe":
                return self.usym(self.bb.load(self.ctxptr, PT_REGS_IP))
            if n == "func" and self.ctx.provider == "uretprobe":  # as kretprobe
                return self.usym(bb.helper(Helper.GET_FUNC_IP, [self.ctxptr]))
        if n in ("args", "ctx"):  # the record itself: the context pointer
            return self.b.ptrtoint(self.ctxptr, I64)
        if n == "kstack":
            return self.stack(e.type)
        if n == "ustack":
            return self.stack(e.type)
        if n == "username":
            return self.b.and_(bb.helper(Helper.GET_CURRENT_UID_GID, []), const(0xFFFFFFFF))
        raise AssertionError(f"builtin {n} reached codegen")

    def usdt_arg(self, arg) -> ir.Value:
        """A usdt argument (semantic.usdt.UsdtArg) as a u64, sign- or zero-extended
        from its size as 0.17 does: a constant, the low bytes of a pt_regs
        register, or memory of the traced process at base + offset + index * scale."""
        if arg.constant is not None:
            bits = 8 * arg.size
            value = arg.constant & ((1 << bits) - 1)
            if arg.signed and value >> (bits - 1):
                value -= 1 << bits
            return const(value)
        reg = 8 * PT_REGS.index(arg.base)
        if not arg.deref:
            return self.bb.load(self.ctxptr, reg, 8 * arg.size, arg.signed)
        addr = self.b.add(self.bb.load(self.ctxptr, reg), const(arg.offset))
        if arg.index:
            index = self.bb.load(self.ctxptr, 8 * PT_REGS.index(arg.index))
            addr = self.b.add(addr, self.b.mul(index, const(arg.scale)))
        buf = self.bb.alloca(8, "usdt_arg")
        self.bb.probe_read(buf, arg.size, addr, True)
        return self.bb.load(buf, 0, 8 * arg.size, arg.signed)

    def stack_arg(self, index: int) -> ir.Value:
        """sargN: argument N passed on the stack (x86_64: the 7th argument on).
        At function entry sp points at the return address; the arguments follow."""
        buf = self.bb.alloca(8, "sarg")
        sp = self.bb.load(self.ctxptr, PT_REGS_SP)
        self.bb.probe_read(buf, 8, self.b.add(sp, const(8 * (index + 1))), self.ctx.user_pointers)
        return self.bb.load(buf)

    def stack(self, t: Type) -> ir.Value:
        user = t.kind is Kind.USTACK
        skip = _KSTACK_SKIP.get("kfunc" if self.fentry_kprobe else self.ctx.provider, 0)
        # One stack map per limit, as in 0.17: the kernel cuts a stack to its map's
        # value size, so stacks that differ only below the limit share an id.
        stacks = self.internal.stacks[t.stack_limit]
        sid = self.bb.helper(Helper.GET_STACKID, [self.ctxptr, self.bb.map_fd(stacks),
                                                  const(BPF_F_USER_STACK if user else skip)])
        if not user:
            return sid
        buf = self.bb.alloca(16, "ustack")
        self.bb.store(sid, buf, 0)
        pid = self.b.lshr(self.bb.helper(Helper.GET_CURRENT_PID_TGID, []), const(32))
        self.bb.store(pid, buf, 8)
        return buf

    def expr_FieldAccess(self, e: ast.FieldAccess) -> ir.Value:
        if isinstance(e.expr, ast.Builtin) and e.expr.name == "args" \
                and self.ctx.provider in ("rawtracepoint", "kfunc", "kretfunc"):
            return self.raw_tracepoint_arg(self.ctx.raw_args[e.field], e.type)
        if isinstance(e.expr, ast.Builtin) and e.expr.name == "args" \
                and self.ctx.provider == "uprobe":  # a parameter, from its register
            return self.narrow(self.bb.load(self.ctxptr, PT_REGS_ARGS[e.arg_index]), e.type)
        if isinstance(e.expr, ast.Builtin) and e.expr.name == "args":
            return self.tracepoint_field(self.ctx.fields[e.field], e.type)
        if isinstance(e.expr, ast.Builtin) and e.expr.name == "ctx" and self.ctx.provider == "iter":
            return self.iter_context_member(e)
        if getattr(e, "btf_member", None) is not None:
            return self.read_traced(e) if in_traced_memory(e) else self.buffer_member(e)
        return self.tuple_field(self.expr(e.expr), e.expr.type, int(e.field))

    def iter_context_member(self, e: ast.FieldAccess) -> ir.Value:
        """`ctx->m` of an iterator, loaded from the context itself, as the
        verifier requires.  Its pointers may be NULL (the task of the
        iterator's last call), and pointers the verifier knows as
        maybe-NULL must be checked before use: as in 0.17, a member that is
        0 (so also fd 0 of task_file) ends the program there."""
        t, m = e.type, e.btf_member
        width = t.bits if t.kind is Kind.INT else 64
        value = self.bb.load(self.ctxptr, m.bit_offset // 8, width, t.signed)
        nonzero = self.bb.block("ctx_member")
        self.b.cbranch(self.b.icmp_unsigned("==", value, const(0)), self.ret_block, nonzero)
        self.b.position_at_end(nonzero)
        return value

    # ---- traced memory (see the module docstring) -------------------------
    def user(self, e: ast.Expr) -> bool | None:
        """Is `e` (a pointer, or a value in traced memory) in user memory?  As
        0.17 decides: by the address space the type checker gave it, and where
        that is unknown, by the kind of probe; None where nothing tells (a
        cast of an integer in BEGIN), which 0.17 reads with bpf_probe_read."""
        space = getattr(e, "addrspace", "none")
        if space == "none" and not self.ctx.user_pointers:
            self.res.legacy_reads = True
            return None
        return space == "user" or (space != "kernel" and self.ctx.user_pointers)

    def address(self, e: ast.Expr) -> ir.Value:
        """The address of `e`, an lvalue in traced memory (in_traced_memory)."""
        if isinstance(e, ast.Unop):  # *p
            return self.expr(e.expr)
        if isinstance(e, ast.FieldAccess):
            base = self.expr(e.expr) if e.arrow else self.address(e.expr)
            return self.b.add(base, const(e.btf_member.bit_offset // 8))
        size = e.type.byte_size  # p[i] (scaled as in C) or array[i]
        if e.expr.type.kind is Kind.PTR:
            return self.b.add(self.expr(e.expr), self.b.mul(self.expr(e.index), const(size)))
        return self.b.add(self.address(e.expr), const(e.index_value * size))

    def read_traced(self, e: ast.Expr) -> ir.Value:
        """The value of `e`, in traced memory: a struct stays there (its address
        is its value until it is stored or printed); arrays and char arrays are
        copied to a buffer; scalars and bitfields are read."""
        t = e.type
        addr = self.address(e)
        if t.kind is Kind.RECORD:
            return addr
        user = self.user(e)
        if in_memory(t):
            buf = self.buffer(t.byte_size, "member")
            self.bb.probe_read(buf, t.byte_size, addr, user)
            return buf
        m = getattr(e, "btf_member", None)
        if m is not None and not m.bitfield_size and (self.btf_typed(e) or e.expr.type.ctx):
            # The verifier refuses helpers' reads of the context (`ctx->...`), but loads it checks.
            return self.direct_load(e, addr)
        buf = self.bb.alloca(8, "member")
        self.bb.store(const(0), buf)
        if m is not None and m.bitfield_size:
            bit = m.bit_offset % 8
            self.bb.probe_read(buf, min((bit + m.bitfield_size + 7) // 8, 8), addr, user)
            return self.bitfield(self.bb.load(buf), bit, m.bitfield_size, t)
        width = t.bits if t.kind is Kind.INT else 64
        self.bb.probe_read(buf, min(m.size, width // 8) if m is not None and m.size else width // 8,
                           addr, user)
        return self.bb.load(buf, 0, width, t.signed)

    def btf_typed(self, e: ast.FieldAccess) -> bool:
        """Whether the verifier knows the kernel struct member `e` is in
        (PTR_TO_BTF_ID): in a trampoline program, the struct a pointer
        argument points to (`args.x->m`), and those reached from it through
        members (`.`) and pointers to structs (`->`).  There it allows plain
        loads: each is checked against BTF, and a fault reads 0, as with
        bpf_probe_read_kernel, in one instruction instead of a helper call."""
        if not self.ctx.tracing or getattr(e, "btf_member", None) is None:
            return False
        base = e.expr
        if not isinstance(base, ast.FieldAccess):
            return False
        if e.arrow and _is_args_field(base):
            return base.addrspace != "user"  # the verifier refuses loads from `T __user *`
        return (not e.arrow or base.type.inner.kind is Kind.RECORD) and self.btf_typed(base)

    def direct_load(self, e: ast.FieldAccess, addr: ir.Value) -> ir.Value:
        """Load member `e` (an integer or a pointer) of a struct the verifier
        knows, at `addr`.  Straight through an argument the pointer may be one
        the kernel marks maybe-NULL (some tracepoints' arguments), which may
        only be loaded through after a NULL check: NULL reads 0."""
        t, m = e.type, e.btf_member
        width = t.bits if t.kind is Kind.INT else 64
        size = min(m.size, width // 8) or 8
        aligned = (m.bit_offset // 8) % size == 0

        def load() -> ir.Value:
            return self.bb.load(self.b.inttoptr(addr, I8P), 0, size * 8, t.signed, aligned)
        if not _is_args_field(e.expr):
            return load()
        before = self.b.block
        with self.b.if_then(self.bb.to_bool(self.expr(e.expr))):
            loaded, then = load(), self.b.block
        value = self.b.phi(I64)
        value.add_incoming(const(0), before)
        value.add_incoming(loaded, then)
        return value

    def buffer_member(self, e: ast.FieldAccess) -> ir.Value:
        """A member of a struct value in BPF memory (a variable, a map value)."""
        t, m = e.type, e.btf_member
        base, off = self.expr(e.expr), m.bit_offset // 8
        if in_memory(t):
            return self.bb.gep(base, off)
        if m.bitfield_size:
            bit = m.bit_offset % 8
            word = self.bb.alloca(8, "bits")
            self.bb.store(const(0), word)
            self.bb.memcpy(word, self.bb.gep(base, off), min((bit + m.bitfield_size + 7) // 8, 8))
            return self.bitfield(self.bb.load(word), bit, m.bitfield_size, t)
        width = t.bits if t.kind is Kind.INT else 64
        return self.bb.load(base, off, width, t.signed, aligned=off % (width // 8) == 0)

    def bitfield(self, word: ir.Value, bit: int, bits: int, t: Type) -> ir.Value:
        """The `bits`-bit field of type `t` starting `bit` bits into the
        little-endian `word`, shifted and masked as 0.17 reads it: a field
        narrower than its type is zero-extended even when the type is signed
        (`short b:8` holding 0xd9 is 217, as bpftrace's runtime tests expect)."""
        v = self.b.lshr(word, const(bit)) if bit else word
        if bits == t.bits:
            return self.extend(self.b.trunc(v, ir.IntType(bits)), t.signed) if bits < 64 else v
        return self.b.and_(v, const((1 << bits) - 1))

    def raw_tracepoint_arg(self, index: int, t: Type) -> ir.Value:
        """Argument `index` of a raw tracepoint or fentry/fexit function (or an
        fexit's return value): the context's u64 number `index`, cut to the
        width of its C type."""
        return self.narrow(self.bb.load(self.ctxptr, 8 * index), t)

    def narrow(self, v: ir.Value, t: Type) -> ir.Value:
        """A u64 argument slot or register `v`, cut to the width of its C type `t`."""
        if t.kind is Kind.INT and t.bits < 64:
            return self.extend(self.b.trunc(v, ir.IntType(t.bits)), t.signed)
        return v

    def tracepoint_field(self, f: TracepointField, t: Type) -> ir.Value:
        """A field of the tracepoint record (the context), shaped as `t`.

        The type is this attach point's own field type; `t` (from the first
        attach point of a wildcard probe) only decides the buffer size."""
        ft = field_type(f)
        if in_memory(t):
            size = t.byte_size
            buf = self.bb.alloca(size, "field")
            n = min(f.size, size)
            if n < size:
                self.bb.memset(buf, size)
            off = 0
            while off < n:  # the verifier wants naturally aligned context loads
                for width in (64, 32, 16, 8):
                    w = width // 8
                    if n - off >= w and (f.offset + off) % w == 0:
                        break
                self.bb.store(self.bb.load(self.ctxptr, f.offset + off, width), buf, off, width)
                off += w
            return buf
        if f.data_loc:  # u32: length << 16 | offset of the data in the record
            loc = self.bb.load(self.ctxptr, f.offset, 32, False)
            return self.b.add(self.b.and_(loc, const(0xFFFF)), self.b.ptrtoint(self.ctxptr, I64))
        width = ft.bits if ft.kind is Kind.INT else 64
        return self.bb.load(self.ctxptr, f.offset, width, ft.signed, f.offset % (width // 8) == 0)

    def tuple_field(self, base: ir.Value, t: Type, i: int) -> ir.Value:
        offs, _ = tuple_layout(t)
        f = t.fields[i]
        if in_memory(f):
            return self.bb.gep(base, offs[i])
        return self.bb.load(base, offs[i], f.bits if f.kind is Kind.INT else 64, f.signed)

    def expr_ArrayAccess(self, e: ast.ArrayAccess) -> ir.Value:
        if in_traced_memory(e):  # p[i], or an element of an array in a kernel struct
            return self.read_traced(e)
        # An array in BPF memory (pton(), a tracepoint field, a stored struct's); literal index
        elem = e.type
        base, off = self.expr(e.expr), e.index_value * elem.byte_size
        if in_memory(elem):
            return self.bb.gep(base, off)
        width = elem.bits if elem.kind is Kind.INT else 64
        return self.bb.load(base, off, width, elem.signed, aligned=False)

    def expr_Cast(self, e: ast.Cast) -> ir.Value:
        v = self.expr(e.expr)
        t = e.type
        if t.kind is Kind.INT and t.bits < 64:
            return self.extend(self.b.trunc(v, ir.IntType(t.bits)), t.signed)
        return v

    def expr_Tuple(self, e: ast.Tuple) -> ir.Value:
        t = e.type
        offs, size = tuple_layout(t)
        buf = self.buffer(size, "tuple")
        self.zero(buf, size)
        for x, f, off in zip(e.elems, t.fields, offs):
            self.write_into(buf, off, f, x)
        return buf

    def expr_Ternary(self, e: ast.Ternary) -> ir.Value:
        cond = self.bb.to_bool(self.expr(e.cond))
        t = e.type
        if t.kind is Kind.NONE:  # `c ? printf(..) : exit()`: only the side effects
            with self.b.if_else(cond) as (then, otherwise):
                with then:
                    self.expr(e.left)
                with otherwise:
                    self.expr(e.right)
            return const(0)
        if not in_memory(t):
            slot = self.bb.alloca(8, "tern")
        else:
            slot = self.bb.alloca(t.byte_size, "tern")
            self.bb.memset(slot, t.byte_size)
        with self.b.if_else(cond) as (then, otherwise):
            with then:
                self.store_value(slot, 0, t if in_memory(t) else _I64, e.left.type, self.expr(e.left))
            with otherwise:
                self.store_value(slot, 0, t if in_memory(t) else _I64, e.right.type, self.expr(e.right))
        return slot if in_memory(t) else self.bb.load(slot)

    def expr_Unop(self, e: ast.Unop) -> ir.Value:
        if e.op in ("++", "--"):
            return self.incdec(e)
        if e.op == "&":
            return self.address(e.expr)
        if e.op == "*" and in_traced_memory(e):
            return self.read_traced(e)
        v = self.expr(e.expr)
        if e.op == "!":
            return self.b.zext(self.b.icmp_unsigned("==", v, const(0)), I64)
        if e.op == "~":
            return self.b.not_(v)
        if e.op == "-":
            return self.b.neg(v)
        if e.op == "*":  # of an integer: 0.17 reads a u64 at that address, in its space
            buf = self.bb.alloca(8, "deref")
            self.bb.probe_read(buf, 8, v, self.user(e.expr))
            return self.bb.load(buf)
        raise AssertionError(e.op)

    def incdec(self, e: ast.Unop) -> ir.Value:
        """`x++`, `--@m[k]`, ...: a pointer steps by the size of its target, as in C."""
        target = e.expr
        t = target.type
        step = max(t.inner.byte_size, 1) if t.kind is Kind.PTR and t.inner is not None else 1
        delta = const(step if e.op == "++" else -step)
        if isinstance(target, ast.Variable):
            slot = self.var_slot(target.name, t)
            old = self.bb.load(slot)
            new = self.b.add(old, delta)
            if t.kind is Kind.INT and t.bits < 64:  # the variable wraps at its own width
                new = self.extend(self.b.trunc(new, ir.IntType(t.bits)), t.signed)
            self.bb.store(new, slot)
            return old if e.post else new
        m = self.res.map_for(target.name)
        key = self.map_key(m, target)
        old = self.map_read(m, key)
        new = self.b.add(old, delta)
        buf = self.bb.alloca(8, "val")
        self.bb.store(new, buf)
        self.bb.map_update(m.fd, key, buf)
        return old if e.post else new

    def expr_Binop(self, e: ast.Binop) -> ir.Value:
        op = e.op
        if op in ("&&", "||"):
            return self.logical(e)
        lt, rt = e.left.type, e.right.type
        if in_memory(lt) and op in ("==", "!="):
            if lt.kind is Kind.STRING:
                eq = self.memory_equal(e.left, e.right)
            else:
                eq = self.values_equal(self.value_buffer(e.left), lt, self.value_buffer(e.right),
                                       rt)
            res = eq if op == "==" else self.b.not_(eq)
            return self.b.zext(res, I64)
        a, b = self.expr(e.left), self.expr(e.right)
        if lt.kind is Kind.PTR or rt.kind is Kind.PTR:
            if op in ("+", "-"):  # C pointer arithmetic: scaled by the target's size
                ptr_left = lt.kind is Kind.PTR
                inner = (lt if ptr_left else rt).inner
                scale = const(max(inner.byte_size, 1) if inner is not None else 1)
                if ptr_left:
                    b = self.b.mul(b, scale)
                else:
                    a = self.b.mul(a, scale)
            return self.arith(op, a, b, False)
        return self.arith(op, a, b, e.type.signed)

    def values_equal(self, a: ir.Value, at: Type, b: ir.Value, bt: Type) -> ir.Value:
        """Equality of two in-memory values of the same shape (tuples field by field)."""
        if at.kind is Kind.TUPLE:
            a_offs, _ = tuple_layout(at)
            b_offs, _ = tuple_layout(bt)
            result = ir.Constant(ir.IntType(1), 1)
            for af, bf, ao, bo in zip(at.fields, bt.fields, a_offs, b_offs):
                if in_memory(af):
                    eq = self.values_equal(self.bb.gep(a, ao), af, self.bb.gep(b, bo), bf)
                else:
                    x = self.bb.load(a, ao, af.bits if af.kind is Kind.INT else 64, af.signed)
                    y = self.bb.load(b, bo, bf.bits if bf.kind is Kind.INT else 64, bf.signed)
                    eq = self.b.icmp_unsigned("==", x, y)
                result = self.b.and_(result, eq)
            return result
        return self.buffers_equal(a, b, min(at.byte_size, bt.byte_size), min(at.align, bt.align))

    def buffers_equal(self, a: ir.Value, b: ir.Value, n: int, align: int = 8) -> ir.Value:
        """Are the first `n` bytes of two `align`-aligned buffers equal?  Compared
        in words as wide as the alignment allows."""
        result = ir.Constant(ir.IntType(1), 1)
        off = 0
        while off < n:
            width = next(w for w in (64, 32, 16, 8) if w // 8 <= min(n - off, align))
            x, y = self.bb.load(a, off, width), self.bb.load(b, off, width)
            result = self.b.and_(result, self.b.icmp_unsigned("==", x, y))
            off += width // 8
        return result

    def value_buffer(self, e: ast.Expr) -> ir.Value:
        """The value of in-memory `e` in a BPF buffer: a struct in traced memory
        (whose value is its address) is copied out."""
        if e.type.kind is Kind.RECORD and in_traced_memory(e):
            buf = self.buffer(e.type.byte_size, "struct")
            self.bb.probe_read(buf, e.type.byte_size, self.address(e), self.user(e))
            return buf
        return self.expr(e)

    def arith(self, op: str, a: ir.Value, b: ir.Value, signed: bool) -> ir.Value:
        B = self.b
        if op in ("==", "!=", "<", "<=", ">", ">="):
            cmp = B.icmp_signed(op, a, b) if signed else B.icmp_unsigned(op, a, b)
            return B.zext(cmp, I64)
        simple = {"+": B.add, "-": B.sub, "*": B.mul, "&": B.and_, "|": B.or_, "^": B.xor, "<<": B.shl}
        if op in simple:
            return simple[op](a, b)
        if op == ">>":
            return B.ashr(a, b) if signed else B.lshr(a, b)
        if op in ("/", "%"):
            # Division by zero yields 1, as later bpftrace does (0.17's result depends on
            # what LLVM makes of the undefined behaviour).
            nonzero = B.icmp_unsigned("!=", b, const(0))
            safe_b = B.select(nonzero, b, const(1))
            if not isinstance(b, ir.Constant):
                # Hide the divisor from LLVM: a divisor it can prove is a power of two
                # becomes a shift by cttz(), which the BPF backend builds with a lookup
                # table in .rodata, which a program loaded on its own cannot have.
                safe_b = B.call(self.bb.opaque, [safe_b])
            result = self.signed_divide(op, a, safe_b) if signed else \
                (B.udiv(a, safe_b) if op == "/" else B.urem(a, safe_b))
            return B.select(nonzero, result, const(1))
        raise AssertionError(op)

    def signed_divide(self, op: str, a: ir.Value, b: ir.Value) -> ir.Value:
        """C's truncating signed / and % built from unsigned ones: the BPF
        instruction set before v4 has no signed division."""
        B = self.b
        a_neg, b_neg = B.icmp_signed("<", a, const(0)), B.icmp_signed("<", b, const(0))
        ua, ub = B.select(a_neg, B.neg(a), a), B.select(b_neg, B.neg(b), b)
        if op == "/":
            q = B.udiv(ua, ub)
            return B.select(B.xor(a_neg, b_neg), B.neg(q), q)
        r = B.urem(ua, ub)
        return B.select(a_neg, B.neg(r), r)

    def logical(self, e: ast.Binop) -> ir.Value:
        slot = self.bb.alloca(8, "logic")
        left = self.bb.to_bool(self.expr(e.left))
        short = const(0) if e.op == "&&" else const(1)
        self.bb.store(short, slot)
        rhs_when = left if e.op == "&&" else self.b.not_(left)
        with self.b.if_then(rhs_when):
            right = self.bb.to_bool(self.expr(e.right))
            self.bb.store(self.b.zext(right, I64), slot)
        return self.bb.load(slot)

    def memory_equal(self, left: ast.Expr, right: ast.Expr) -> ir.Value:
        """String/tuple equality.  String buffers are zero-padded, so comparing the
        common prefix (the shorter side includes its NUL) decides equality."""
        if isinstance(left, ast.String) and not isinstance(right, ast.String):
            left, right = right, left
        n = min(left.type.byte_size, right.type.byte_size)
        a = self.expr(left)
        if isinstance(right, ast.String):
            data = string_bytes(right.value).ljust(right.type.size, b"\0")[:n]
            result = ir.Constant(ir.IntType(1), 1)
            off = 0
            while off < n:
                width = 64 if n - off >= 8 else (32 if n - off >= 4 else (16 if n - off >= 2 else 8))
                chunk = int.from_bytes(data[off:off + width // 8], "little")
                eq = self.b.icmp_unsigned("==", self.bb.load(a, off, width), const(chunk))
                result = self.b.and_(result, eq)
                off += width // 8
            return result
        return self.buffers_equal(a, self.expr(right), n)  # 8-byte aligned: stack or map values

    def expr_Sizeof(self, e: ast.Sizeof) -> ir.Value:
        if e.expr is not None:
            return const(type_size(e.expr.type))
        if getattr(e, "size", None) is not None:  # sizeof(struct foo), from BTF
            return const(e.size)
        return const(INT_TYPES[e.typename.replace(" ", "")].bits // 8)

    def expr_Offsetof(self, e: ast.Offsetof) -> ir.Value:
        return const(e.offset)

    # ---- maps -------------------------------------------------------------
    def map_key(self, m: MapInfo, access: ast.Map, extra: int = 0) -> ir.Value:
        """A buffer with the key of `access` (plus `extra` trailing bytes).

        Every byte of a key counts, so padding must be zero; fields themselves
        are written whole (store_value pads short strings), so the buffer is
        only cleared when the layout has gaps."""
        size = (m.key.byte_size if m.key is not None else 8) + extra
        if m.key is None:
            buf = self.bb.alloca(size, "key")
            self.bb.store(const(0), buf)
            return buf
        if isinstance(access.key, ast.Tuple) and access.key.keys:
            fields, exprs = m.key.fields, access.key.elems
            offs, _ = tuple_layout(m.key)
        else:
            if not extra and in_memory(m.key) and _fresh_buffer(access.key) \
                    and access.key.type == m.key:
                return self.expr(access.key)  # already a buffer of the key's exact shape
            fields, exprs, offs = [m.key], [access.key], [0]
        buf = self.buffer(size, "key")
        covered = sum(f.byte_size for f in fields)
        if covered != m.key.byte_size:
            self.zero(buf, m.key.byte_size)
        for x, f, off in zip(exprs, fields, offs):
            self.write_into(buf, off, f, x)
        return buf

    @_locates
    def write_into(self, buf: ir.Value, off: int, dst: Type, e: ast.Expr) -> None:
        """Store the value of `e` at buf+off as type `dst`, building it in place when
        that saves a copy."""
        if isinstance(e, ast.Builtin) and e.name == "comm" and dst.kind is Kind.STRING \
                and dst.size >= 16:
            target = self.bb.gep(buf, off)
            self.bb.helper(Helper.GET_CURRENT_COMM, [target, const(16, I32)])
            if dst.size > 16:
                self.bb.memset(self.bb.gep(target, 16), dst.size - 16)
            return
        if isinstance(e, ast.Call) and e.name == "str" and dst.kind is Kind.STRING \
                and dst.size == e.type.size:
            self.call_str(e, self.bb.gep(buf, off))
            return
        if in_memory(dst) and in_memory(e.type) and in_traced_memory(e):
            # A struct, array or char array in kernel/user memory: read it in place.
            target = self.bb.gep(buf, off)
            n = min(dst.byte_size, e.type.byte_size)
            self.bb.probe_read(target, n, self.address(e), self.user(e))
            if n < dst.byte_size:
                self.zero(self.bb.gep(target, n), dst.byte_size - n)
            return
        self.store_value(buf, off, dst, e.type, self.expr(e))

    def expr_Map(self, e: ast.Map) -> ir.Value:
        m = self.res.map_for(e.name)
        key = self.map_key(m, e)
        return self.map_read(m, key)

    def map_read(self, m: MapInfo, key: ir.Value) -> ir.Value:
        """The value under `key`, or zero; per-CPU aggregations are summed over CPUs."""
        t = m.value
        if m.percpu:
            return self.percpu_read(m, key)
        if in_memory(t):
            out = self.buffer(t.byte_size, "mapval")
            p = self.bb.map_lookup(m.fd, key)
            with self.bb.if_nonnull(p) as (found, missing):
                with found:
                    self.copy(out, p, t.byte_size)
                with missing:
                    self.zero(out, t.byte_size)
                    if self.helper_checks is not None:
                        self.helper_checks.lookup_missed()
            return out
        slot = self.bb.alloca(8, "mapval")
        self.bb.store(const(0), slot)
        p = self.bb.map_lookup(m.fd, key)
        with self.b.if_then(self.b.icmp_unsigned("!=", p, ir.Constant(I8P, None))):
            width = t.bits if t.kind is Kind.INT else 64
            self.bb.store(self.bb.load(p, 0, width, t.signed), slot)
        if self.helper_checks is not None:
            with self.b.if_then(self.b.icmp_unsigned("==", p, ir.Constant(I8P, None))):
                self.helper_checks.lookup_missed()
        return self.bb.load(slot)

    def percpu_read(self, m: MapInfo, key: ir.Value) -> ir.Value:
        total = self.bb.alloca(16, "total")
        self.bb.memset(total, 16)
        kind = m.value.kind
        for cpu in range(self.internal.ncpus):
            p = self.bb.helper(Helper.MAP_LOOKUP_PERCPU_ELEM, [self.bb.map_fd(m.fd), key, const(cpu, I32)], I8P)
            with self.b.if_then(self.b.icmp_unsigned("!=", p, ir.Constant(I8P, None))):
                if kind in (Kind.MIN, Kind.MAX):
                    v, is_set = self.bb.load(p, 0), self.bb.load(p, 8)
                    cur, have = self.bb.load(total, 0), self.bb.load(total, 8)
                    op = "<" if kind is Kind.MIN else ">"
                    better = self.b.icmp_signed(op, v, cur) if m.value.signed else self.b.icmp_unsigned(op, v, cur)
                    take = self.b.and_(self.bb.to_bool(is_set),
                                       self.b.or_(self.b.not_(self.bb.to_bool(have)), better))
                    self.bb.store(self.b.select(take, v, cur), total, 0)
                    self.bb.store(self.b.select(take, const(1), have), total, 8)
                else:
                    for off in ((0, 8) if kind in (Kind.AVG, Kind.STATS) else (0,)):
                        self.bb.store(self.b.add(self.bb.load(total, off), self.bb.load(p, off)), total, off)
        if kind in (Kind.AVG, Kind.STATS):
            count, tot = self.bb.load(total, 0), self.bb.load(total, 8)
            return self.arith("/", tot, count, m.value.signed)
        return self.bb.load(total, 0)

    def aggregate(self, m: MapInfo, access: ast.Map, call: ast.Call) -> None:
        kind = m.value.kind
        arg = self.expr(call.args[0]) if call.args else None
        if kind in (Kind.HIST, Kind.LHIST):
            ukey = m.key.byte_size if m.key is not None else 8
            key = self.map_key(m, access, extra=8)
            bucket = self.log2(arg, call.args[0].type.signed) if kind is Kind.HIST \
                else self.linear(arg, m.value.lhist)
            self.bb.store(bucket, key, ukey)
            self.bump(m, key, [(0, const(1))])
            return
        key = self.map_key(m, access)
        if kind is Kind.COUNT:
            self.bump(m, key, [(0, const(1))])
        elif kind is Kind.SUM:
            self.bump(m, key, [(0, arg)])
        elif kind in (Kind.AVG, Kind.STATS):
            self.bump(m, key, [(0, const(1)), (8, arg)])
        else:
            self.minmax(m, key, arg)

    def bump(self, m: MapInfo, key: ir.Value, adds: list[tuple[int, ir.Value]]) -> None:
        """Add to the u64 fields of a per-CPU value, creating it on the key's first event."""
        p = self.bb.map_lookup(m.fd, key)
        with self.bb.if_nonnull(p) as (found, missing):
            with found:
                for off, v in adds:
                    self.bb.store(self.b.add(self.bb.load(p, off), v), p, off)
            with missing:
                buf = self.bb.alloca(m.value_size, "init")
                self.bb.memset(buf, m.value_size)
                for off, v in adds:
                    self.bb.store(v, buf, off)
                self.bb.map_update(m.fd, key, buf, BPF_NOEXIST)

    def minmax(self, m: MapInfo, key: ir.Value, v: ir.Value) -> None:
        op = "<" if m.value.kind is Kind.MIN else ">"
        p = self.bb.map_lookup(m.fd, key)
        with self.bb.if_nonnull(p) as (found, missing):
            with found:
                cur = self.bb.load(p, 0)
                better = self.b.icmp_signed(op, v, cur) if m.value.signed else self.b.icmp_unsigned(op, v, cur)
                with self.b.if_then(better):
                    self.bb.store(v, p, 0)
            with missing:
                buf = self.bb.alloca(16, "init")
                self.bb.store(v, buf, 0)
                self.bb.store(const(1), buf, 8)
                self.bb.map_update(m.fd, key, buf, BPF_NOEXIST)

    def log2(self, v: ir.Value, signed: bool) -> ir.Value:
        """bpftrace's hist() bucket: 0 for negatives, 1 for zero, 2 + floor(log2(v)) above.

        A binary search by branches: three instructions a step (`if n <= mask
        goto +2; n >>= k; r += k`).  The empty asm keeps LLVM from turning the
        steps into selects, which the BPF backend expands into twice the code."""
        B = self.b
        start = B.block
        done = self.bb.block("log2_done")
        incoming = []
        if signed:
            nonneg = self.bb.block("log2_nonneg")
            B.cbranch(B.icmp_signed("<", v, const(0)), done, nonneg)
            incoming.append((const(0), start))
            B.position_at_end(nonneg)
        positive = self.bb.block("log2_positive")
        B.cbranch(B.icmp_unsigned("==", v, const(0)), done, positive)
        incoming.append((const(1), B.block))
        B.position_at_end(positive)
        n, r = v, const(2)
        for shift in (32, 16, 8, 4, 2, 1):
            take, nxt = self.bb.block(f"log2_{shift}"), self.bb.block(f"log2_after{shift}")
            here = B.block
            B.cbranch(B.icmp_unsigned(">", n, const((1 << shift) - 1)), take, nxt)
            B.position_at_end(take)
            B.call(self.bb.barrier, [])
            n2, r2 = B.lshr(n, const(shift)), B.add(r, const(shift))
            B.branch(nxt)
            B.position_at_end(nxt)
            n_phi, r_phi = B.phi(I64), B.phi(I64)
            n_phi.add_incoming(n, here)
            n_phi.add_incoming(n2, take)
            r_phi.add_incoming(r, here)
            r_phi.add_incoming(r2, take)
            n, r = n_phi, r_phi
        B.branch(done)
        incoming.append((r, B.block))
        B.position_at_end(done)
        bucket = B.phi(I64)
        for value, block in incoming:
            bucket.add_incoming(value, block)
        return bucket

    def linear(self, v: ir.Value, bounds: tuple[int, int, int]) -> ir.Value:
        lo, hi, step = bounds
        B = self.b
        last = (hi - lo) // step + 1
        idx = B.add(B.udiv(B.sub(v, const(lo)), const(step)), const(1))
        idx = B.select(B.icmp_signed(">=", v, const(hi)), const(last), idx)
        return B.select(B.icmp_signed("<", v, const(lo)), const(0), idx)

    # ---- calls ------------------------------------------------------------
    def expr_Call(self, e: ast.Call) -> ir.Value:
        return getattr(self, "call_" + e.name)(e)

    def emit(self, record: ir.Value, size: int) -> None:
        """Send a record through the ring buffer; count it as lost if the buffer is full."""
        self.bb.output(self.internal.ringbuf, self.internal.status, record, size)

    def record(self, action: int, args: list[ast.Expr], layout: Type | None) -> None:
        """A record of the action id followed by the arguments laid out as `layout`."""
        size = 8 + (layout.byte_size if layout is not None else 0)
        if size <= RECORD_ON_STACK_MAX:
            buf = self.bb.alloca(size, "rec")
        else:
            buf = self.scratch(size)  # the BPF stack has only 512 bytes
        if layout is not None and sum(f.byte_size for f in layout.fields) != layout.byte_size:
            self.bb.memset(buf, size)  # padding between fields goes out too
        self.bb.store(const(action), buf, 0)
        if layout is not None:
            offs, _ = tuple_layout(layout)
            for x, f, off in zip(args, layout.fields, offs):
                self.write_into(buf, 8 + off, f, x)
        self.emit(buf, size)

    def formatted(self, e: ast.Call, table: list[FormatInfo], base: int) -> None:
        key = id(e)
        if key not in self.format_ids:
            args = [_storage(a.type) for a in e.args[1:]]
            layout = Tuple(*args) if args else None
            table.append(FormatInfo(e.args[0].value, args, layout))
            self.format_ids[key] = len(table) - 1
        info = table[self.format_ids[key]]
        self.record(base + self.format_ids[key], e.args[1:], info.layout)

    def call_printf(self, e: ast.Call) -> ir.Value:
        self.formatted(e, self.res.printfs, Action.PRINTF_BASE)
        return const(0)

    def call_system(self, e: ast.Call) -> ir.Value:
        self.formatted(e, self.res.systems, Action.SYSTEM_BASE)
        return const(0)

    def call_cat(self, e: ast.Call) -> ir.Value:
        self.formatted(e, self.res.cats, Action.CAT_BASE)
        return const(0)

    def call_exit(self, e: ast.Call) -> ir.Value:
        self.record(Action.EXIT, [], None)
        # Also raise the exit flag beside the lost counter: a full ring buffer
        # may drop the EXIT record, and exit() must still end the run.
        flag = self.b.add(self.bb.map_value(self.internal.status), const(EXIT_FLAG_OFFSET))
        self.b.store(const(1), self.b.inttoptr(flag, I64.as_pointer()))
        # The probe ends here, as in 0.17: what follows exit() is dead code.
        self.b.branch(self.ret_block)
        self.b.position_at_end(self.bb.block("after_exit"))
        return const(0)

    def table_id(self, e: ast.Call, table: list, entry) -> int:
        """The index of a call site's entry in one of the Resources tables (added
        on the site's first use; a probe with several programs lowers it again)."""
        key = id(e)
        if key not in self.format_ids:
            table.append(entry)
            self.format_ids[key] = len(table) - 1
        return self.format_ids[key]

    def call_time(self, e: ast.Call) -> ir.Value:
        tid = self.table_id(e, self.res.times, e.args[0].value if e.args else "%H:%M:%S\n")
        buf = self.bb.alloca(16, "rec")
        self.bb.store(const(Action.TIME), buf, 0)
        self.bb.store(const(tid), buf, 8)
        self.emit(buf, 16)
        return const(0)

    def id_and_value(self, tid: int, value: ir.Value) -> ir.Value:
        """A {u64 call id, u64 value} pair: how strftime() and cgroup_path() values
        travel, to be formatted by the runtime."""
        buf = self.bb.alloca(16, "pair")
        self.bb.store(const(tid), buf, 0)
        self.bb.store(value, buf, 8)
        return buf

    def call_strftime(self, e: ast.Call) -> ir.Value:
        tid = self.table_id(e, self.res.strftimes, e.args[0].value)
        return self.id_and_value(tid, self.expr(e.args[1]))

    def call_cgroup_path(self, e: ast.Call) -> ir.Value:
        pattern = e.args[1].value if len(e.args) > 1 and isinstance(e.args[1], ast.String) else "*"
        tid = self.table_id(e, self.res.cgroup_paths, pattern)
        return self.id_and_value(tid, self.expr(e.args[0]))

    def call_cgroupid(self, e: ast.Call) -> ir.Value:
        return const(e.cgroup_id)

    def call_macaddr(self, e: ast.Call) -> ir.Value:
        """6 bytes: copied from a 6-byte value, or read from the address given."""
        arg = e.args[0]
        buf = self.bb.alloca(6, "macaddr")
        if in_memory(arg.type):
            self.bb.memcpy(buf, self.expr(arg), 6)
        else:
            self.bb.memset(buf, 6)
            self.bb.probe_read(buf, 6, self.expr(arg), self.user(arg))
        return buf

    def call_bswap(self, e: ast.Call) -> ir.Value:
        return self.bb.bswap(self.expr(e.args[0]), e.type.bits)

    def call_kptr(self, e: ast.Call) -> ir.Value:
        return self.expr(e.args[0])  # only the type's address space changes

    call_uptr = call_kptr

    def call_strcontains(self, e: ast.Call) -> ir.Value:
        """0.17's strcontains(): for each start j up to size(hay) - size(needle)
        (buffer sizes), does needle match there up to its NUL?  Stops at the
        haystack's NUL.  Two real loops (their bounds hidden from LLVM, so that it
        does not unroll them), not 0.17's size x size unrolled compares."""
        hay, needle = e.args
        n1, n2 = hay.type.size, needle.type.size
        if isinstance(hay, ast.String) and isinstance(needle, ast.String):
            return const(int(string_bytes(needle.value) in string_bytes(hay.value) + b"\0"))
        if n1 < n2:
            return const(0)
        a, b = self.expr(hay), self.expr(needle)
        B, bb = self.b, self.bb
        result, j, i = bb.alloca(8, "found"), bb.alloca(8, "j"), bb.alloca(8, "i")
        bb.store(const(0), result)
        bb.store(const(0), j)
        names = ("outer", "inner_start", "inner", "inner_body", "compare", "step_i", "next_j",
                 "step_j", "found", "done")
        outer, inner_start, inner, inner_body, compare, step_i, next_j, step_j, found, done = \
            (bb.block("strcontains_" + n) for n in names)

        def byte(p, index):
            return B.load(B.gep(p, [index]))

        B.branch(outer)
        B.position_at_end(outer)
        jv = bb.load(j)
        B.cbranch(B.icmp_unsigned("<=", jv, B.call(bb.opaque, [const(n1 - n2)])), inner_start, done)
        B.position_at_end(inner_start)
        bb.store(const(0), i)
        B.branch(inner)
        B.position_at_end(inner)
        iv = bb.load(i)
        B.cbranch(B.icmp_unsigned("<", iv, B.call(bb.opaque, [const(n2)])), inner_body, next_j)
        B.position_at_end(inner_body)
        r = byte(b, iv)
        B.cbranch(B.icmp_unsigned("==", r, const(0, I8)), found, compare)
        B.position_at_end(compare)
        B.cbranch(B.icmp_unsigned("!=", byte(a, B.add(iv, jv)), r), next_j, step_i)
        B.position_at_end(step_i)
        bb.store(B.add(iv, const(1)), i)
        B.branch(inner)
        B.position_at_end(next_j)
        B.cbranch(B.icmp_unsigned("==", byte(a, jv), const(0, I8)), done, step_j)
        B.position_at_end(step_j)
        bb.store(B.add(jv, const(1)), j)
        B.branch(outer)
        B.position_at_end(found)
        bb.store(const(1), result)
        B.branch(done)
        B.position_at_end(done)
        return bb.load(result)

    def call_path(self, e: ast.Call) -> ir.Value:
        """bpf_d_path() of a struct path into a string buffer."""
        buf = self.bb.alloca(e.type.size, "path")
        self.bb.memset(buf, e.type.size)
        self.bb.helper(Helper.D_PATH, [self.bb._as_ptr(self.expr(e.args[0])), buf,
                                       const(e.type.size, I32)])
        return buf

    def call_override(self, e: ast.Call) -> ir.Value:
        self.bb.helper(Helper.OVERRIDE_RETURN, [self.ctxptr, self.expr(e.args[0])])
        return const(0)

    def call_debugf(self, e: ast.Call) -> ir.Value:
        """bpf_trace_printk(): the format from the stack, strings by address."""
        data = string_bytes(e.args[0].value) + b"\0"
        fmt = self.string_constant(data, len(data))
        args = [self.expr(a) for a in e.args[1:]]
        args = [self.b.ptrtoint(a, I64) if isinstance(a.type, ir.PointerType) else a for a in args]
        self.bb.helper(Helper.TRACE_PRINTK, [fmt, const(len(data), I32), *args])
        return const(0)

    def map_action(self, action: int, e: ast.Call, extra: list[ir.Value]) -> None:
        m = e.args[0]
        buf = self.bb.alloca(8 * (2 + len(extra)), "rec")
        self.bb.store(const(action), buf, 0)
        self.bb.store(const(self.res.map_id("@" + m.name)), buf, 8)
        for i, v in enumerate(extra):
            self.bb.store(v, buf, 16 + 8 * i)
        self.emit(buf, 8 * (2 + len(extra)))

    def call_print(self, e: ast.Call) -> ir.Value:
        if not isinstance(e.args[0], ast.Map):
            key = id(e)
            if key not in self.format_ids:
                self.res.print_values.append(_storage(e.args[0].type))
                self.format_ids[key] = len(self.res.print_values) - 1
            vid = self.format_ids[key]
            self.record(Action.PRINT_VALUE_BASE + vid, e.args[:1], Tuple(self.res.print_values[vid]))
            return const(0)
        top = self.expr(e.args[1]) if len(e.args) > 1 else const(0)
        div = self.expr(e.args[2]) if len(e.args) > 2 else const(0)
        self.map_action(Action.PRINT_MAP, e, [top, div])
        return const(0)

    def call_clear(self, e: ast.Call) -> ir.Value:
        self.map_action(Action.CLEAR, e, [])
        return const(0)

    def call_zero(self, e: ast.Call) -> ir.Value:
        self.map_action(Action.ZERO, e, [])
        return const(0)

    def call_delete(self, e: ast.Call) -> ir.Value:
        access = getattr(e, "access", e.args[0])  # delete(@m, k) is checked as delete(@m[k])
        m = self.res.map_for(access.name)
        if m.value.kind in (Kind.HIST, Kind.LHIST):
            return const(0)  # per-bucket keys: deleted by key prefix is not possible in BPF
        key = self.map_key(m, access)
        if m.is_array:  # an array entry cannot be deleted: 0.17 stores zero (this CPU's)
            zero = self.bb.alloca(m.value_size, "zero")
            self.bb.memset(zero, m.value_size)
            self.bb.map_update(m.fd, key, zero)
        else:
            self.bb.map_delete(m.fd, key)
        return const(0)

    def call_str(self, e: ast.Call, buf: ir.Value | None = None) -> ir.Value:
        """Read a string into `buf` (a new stack buffer by default), zero padded."""
        size = limit = e.type.size
        src = e.args[0]
        param = _param_source(src)
        if param is not None:
            # str($N) and str($N + k): the parameter's text, read from a stack copy as 0.17 does.
            n, offset = param
            data = param_value(self.params, n, True).encode("utf-8", "surrogateescape")
            ptr = self.bb.gep(self.string_constant(data, len(data) + 1), min(offset, len(data)))
            user = False
        elif src.type.kind is Kind.STRING:  # str($task->comm): read the char array where it is
            ptr, user = self.address(src), self.user(src)
            limit = min(size, src.type.size)
        else:  # a pointer, from the kernel or from user space (see user())
            ptr, user = self.expr(src), self.user(src)
        if buf is None:
            buf = self.bb.alloca(size, "str")
        self.bb.memset(buf, size)
        if len(e.args) == 2:
            # Read at most min(len + 1, strlen) bytes (the +1 is for the NUL).
            n = self.b.add(self.expr(e.args[1]), const(1))
            n = self.b.select(self.b.icmp_unsigned("<=", n, const(limit)), n, const(limit))
            hid = Helper.PROBE_READ_USER_STR if user else Helper.PROBE_READ_KERNEL_STR
            self.bb.helper(hid, [buf, self.b.trunc(n, I32), self.bb._as_ptr(ptr)])
        else:
            self.bb.probe_read_str(buf, limit, ptr, user)
        return buf

    def call_buf(self, e: ast.Call) -> ir.Value:
        """A BUFFER value: u64 length, then up to `size` bytes."""
        size = e.type.size
        src = e.args[0]
        buf = self.bb.alloca(8 + size, "buf")
        self.bb.memset(buf, 8 + size)
        if len(e.args) == 2 and not isinstance(e.args[1], ast.Integer):
            n = self.expr(e.args[1])
            n = self.b.select(self.b.icmp_unsigned("<=", n, const(size)), n, const(size))
        else:
            n = const(size)
        self.bb.store(n, buf, 0)
        if not size:
            return buf
        if in_memory(src.type) and not in_traced_memory(src):  # a string or array on the stack
            self.bb.memcpy(self.bb.gep(buf, 8), self.expr(src), min(size, src.type.byte_size))
            return buf
        # buf($task->comm, 8) reads just those bytes of the array, where it is.
        ptr = self.address(src) if in_memory(src.type) else self.expr(src)
        user = self.user(src)
        if isinstance(n, ir.Constant):
            self.bb.probe_read(self.bb.gep(buf, 8), size, ptr, user)
        else:
            hid = Helper.PROBE_READ_USER if user else Helper.PROBE_READ_KERNEL
            self.bb.helper(hid, [self.bb.gep(buf, 8), self.b.trunc(n, I32), self.bb._as_ptr(ptr)])
        return buf

    def call_strncmp(self, e: ast.Call) -> ir.Value:
        a, b = self.expr(e.args[0]), self.expr(e.args[1])
        n = min(e.size, e.args[0].type.size, e.args[1].type.size)
        # 0 if the first n bytes match up to a NUL, 1 otherwise.
        slot = self.bb.alloca(8, "cmp")
        self.bb.store(const(0), slot)
        done = self.bb.block("strncmp_done")
        for i in range(n):
            x, y = self.bb.load(a, i, 8), self.bb.load(b, i, 8)
            differ = self.bb.block("strncmp_differ")
            same = self.bb.block("strncmp_same")
            self.b.cbranch(self.b.icmp_unsigned("!=", x, y), differ, same)
            self.b.position_at_end(differ)
            self.bb.store(const(1), slot)
            self.b.branch(done)
            self.b.position_at_end(same)
            nxt = self.bb.block("strncmp_next")
            self.b.cbranch(self.b.icmp_unsigned("==", x, const(0)), done, nxt)
            self.b.position_at_end(nxt)
        self.b.branch(done)
        self.b.position_at_end(done)
        return self.bb.load(slot)

    def call_join(self, e: ast.Call) -> ir.Value:
        jid = self.table_id(e, self.res.joins, e.args[1].value if len(e.args) > 1 else " ")
        strlen = self.res.strlen
        nargs = JOIN_MAX_ARGS
        size = 16 + nargs * strlen
        scratch = self.scratch(size)
        self.bb.store(const(Action.JOIN), scratch, 0)
        self.bb.store(const(jid), scratch, 8)
        argv = self.expr(e.args[0])
        user = self.ctx.user_pointers
        ptrbuf = self.bb.alloca(8, "argp")
        for i in range(nargs):
            self.bb.store(const(0), ptrbuf)
            self.bb.probe_read(ptrbuf, 8, self.b.add(argv, const(8 * i)), user)
            dst = self.bb.gep(scratch, 16 + i * strlen)
            self.bb.store(const(0, I8), dst, 0, 8)
            arg = self.bb.load(ptrbuf)
            with self.b.if_then(self.b.icmp_unsigned("!=", arg, const(0))):
                self.bb.probe_read_str(dst, strlen, arg, user)
        self.emit(scratch, size)
        return const(0)

    def scratch_base(self) -> ir.Value:
        """The scratch map's per-CPU value (i8*), looked up once in the prologue,
        which also leaves the program if the lookup fails (it cannot)."""
        if self._scratch is None:
            with self.b.goto_block(self.prologue):
                zero = self.bb.alloca(8, "zero", temporary=False)
                self.bb.store(const(0, I32), zero, 0, 32)
                self._scratch = self.bb.map_lookup(self.internal.scratch, zero)
        return self._scratch

    def scratch(self, size: int) -> ir.Value:
        """The scratch value's record area, where one record at a time too big
        for the 512-byte BPF stack is built."""
        assert size <= self.record_area, "record_area() too small"
        return self.scratch_base()

    def buffer(self, size: int, name: str, temporary: bool = True) -> ir.Value:
        """A buffer for a value: on the BPF stack, or when too big for it, a
        region of the scratch value that is its own for the whole program."""
        if size <= STACK_BUFFER_MAX:
            return self.bb.alloca(size, name, temporary)
        return self.bb.gep(self.scratch_base(), self.scratch_region(size))

    def scratch_region(self, size: int) -> int:
        """The offset of `size` fresh bytes of the scratch value (see scratch_value_size)."""
        off = self.scratch_top
        self.scratch_top += (size + 7) // 8 * 8
        limit = self.internal.scratch_size
        assert not limit or self.scratch_top <= limit, "scratch_value_size() too small"
        return off

    def call_signal(self, e: ast.Call) -> ir.Value:
        a = e.args[0]
        sig = const(signal_number(a.value)) if isinstance(a, ast.String) else self.expr(a)
        self.bb.helper(Helper.SEND_SIGNAL, [self.b.trunc(sig, I32)])
        return const(0)

    def call_unwatch(self, e: ast.Call) -> ir.Value:
        buf = self.bb.alloca(16, "unwatch")
        self.bb.store(const(Action.WATCHPOINT_DETACH), buf, 0)
        self.bb.store(self.expr(e.args[0]), buf, 8)
        self.emit(buf, 16)
        return const(0)

    def call_ksym(self, e: ast.Call) -> ir.Value:
        return self.expr(e.args[0])

    call_strerror = call_ksym  # the value itself; named when printed

    def call_usym(self, e: ast.Call) -> ir.Value:
        return self.usym(self.expr(e.args[0]))

    def usym(self, addr: ir.Value) -> ir.Value:
        """A USYM value: the address and the pid whose mappings resolve it at print time."""
        buf = self.bb.alloca(16, "usym")
        self.bb.store(addr, buf, 0)
        self.bb.store(self.b.lshr(self.bb.helper(Helper.GET_CURRENT_PID_TGID, []), const(32)),
                      buf, 8)
        return buf

    def call_reg(self, e: ast.Call) -> ir.Value:
        """A u64 of struct pt_regs: the context of uprobes, and the first member
        of perf events' context (bpf_perf_event_data)."""
        return self.bb.load(self.ctxptr, e.reg_offset)

    def call_kaddr(self, e: ast.Call) -> ir.Value:
        return const(e.address)

    def call_uaddr(self, e: ast.Call) -> ir.Value:
        """The symbol's run-time address: its link-time distance from the probed
        instruction plus where that instruction is in this process (the kernel's
        bpf_get_func_ip() of a uprobe), so PIE executables and libraries work too."""
        info = self.ctx.info
        delta = e.uaddr_deltas[(info.target, info.offset)]
        return self.b.add(self.bb.helper(Helper.GET_FUNC_IP, [self.ctxptr]), const(delta))

    def call_pton(self, e: ast.Call) -> ir.Value:
        """An ARRAY of 4 or 16 bytes: the address in network order."""
        family = socket.AF_INET if e.type.size == 4 else socket.AF_INET6
        data = socket.inet_pton(family, e.args[0].value)
        return self.string_constant(data, len(data))

    def call_ntop(self, e: ast.Call) -> ir.Value:
        """An INET value: u64 address family, then 16 address bytes."""
        addr_arg = e.args[-1]
        buf = self.bb.alloca(24, "inet")
        self.bb.memset(buf, 24)
        t = addr_arg.type
        if not in_memory(t):
            size = 4
            self.bb.store(self.expr(addr_arg), buf, 8, 32)
        elif in_traced_memory(addr_arg):  # e.g. a struct's `u8 addr[16]`: read it in place
            size = t.byte_size
            self.bb.probe_read(self.bb.gep(buf, 8), size, self.address(addr_arg),
                               self.user(addr_arg))
        else:
            size = t.byte_size
            self.bb.memcpy(self.bb.gep(buf, 8), self.expr(addr_arg), size)
        if len(e.args) == 2:
            self.bb.store(self.expr(e.args[0]), buf, 0)
        else:
            self.bb.store(const(socket.AF_INET if size == 4 else socket.AF_INET6), buf, 0)
        return buf

    def call_kstack(self, e: ast.Call) -> ir.Value:
        return self.stack(e.type)

    call_ustack = call_kstack


JOIN_MAX_ARGS = 16
STACK_BUFFER_MAX = 128  # bigger value buffers (big structs) go to the scratch map
COPY_INLINE_MAX = 64  # bigger copies between buffers call bpf_probe_read_kernel
SCRATCH_MAX = 32768  # the kernel's limit for a per-CPU map value (PCPU_MIN_UNIT_SIZE)


def record_area(probe: ast.Probe, strlen: int) -> int:
    """The first bytes of the scratch value: room for the biggest event record
    of the probe (a join(), a print() of a big struct) built there."""
    def biggest(node: ast.Node) -> int:
        own = 0
        if isinstance(node, ast.Call):  # generous: every argument padded, ints as 8 bytes
            own = 8 + sum(max(a.type.byte_size, 8) + 8 for a in node.args)
        return max([own, *(biggest(c) for c in ast.children(node))])
    return max(16 + JOIN_MAX_ARGS * strlen, biggest(probe))


def scratch_value_size(program: ast.Program, maps: list[MapInfo], strlen: int) -> int:
    """The size of the scratch map's value: the record area, then room for
    every buffer too big for the BPF stack that the most demanding probe asks
    Lowerer.buffer() for, each of which gets a region of its own: variables,
    map keys and values, tuples, arrays read out of kernel structs, structs
    copied out to be compared.  Counted generously."""
    sizes = {m.name: (m.key.byte_size if m.key is not None else 0, m.value_size) for m in maps}

    def big(n: int) -> int:
        return (n + 7) // 8 * 8 if n > STACK_BUFFER_MAX else 0

    def need(node: ast.Node, variables: set[str]) -> int:
        total = sum(need(c, variables) for c in ast.children(node))
        t = getattr(node, "type", None)
        size = t.byte_size if isinstance(t, Type) and in_memory(t) else 0
        if isinstance(node, ast.Variable) and node.name not in variables:
            variables.add(node.name)
            total += big(size)
        elif isinstance(node, (ast.Map, ast.AssignMap)):
            key, value = sizes.get("@" + (node.name if isinstance(node, ast.Map)
                                          else node.map.name), (0, 0))
            total += big(key + 8) + big(value)
        elif isinstance(node, ast.Tuple):
            total += big(size)
        elif isinstance(node, ast.Binop) and node.left.type.kind is Kind.RECORD:
            total += 2 * big(node.left.type.byte_size)
        elif isinstance(node, ast.Expr) and t is not None and t.kind is not Kind.RECORD \
                and in_traced_memory(node):
            total += big(size)
        return total

    return max((record_area(p, strlen) + need(p, set()) for p in program.probes),
               default=16 + JOIN_MAX_ARGS * strlen)


EXIT_FLAG_OFFSET = 8  # in the status map's value: u64 lost events, then u64 exit requested
RECORD_ON_STACK_MAX = 256  # bigger event records are built in the per-CPU scratch buffer


def _fresh_buffer(e: ast.Expr) -> bool:
    """Does `e` evaluate to a buffer that nothing writes to while a map key made
    from it is in use?"""
    return isinstance(e, (ast.Variable, ast.String, ast.Call, ast.Tuple, ast.Ternary)) or (
        isinstance(e, ast.Builtin) and e.name == "comm")


def _param_source(e: ast.Expr) -> tuple[int, int] | None:
    """(N, offset) for the argument of str($N) or str($N + k); None for other arguments."""
    if isinstance(e, ast.PositionalParam) and e.n:
        return e.n, 0
    if isinstance(e, ast.Binop) and e.op == "+":
        for p, k in ((e.left, e.right), (e.right, e.left)):
            if isinstance(p, ast.PositionalParam) and p.n and isinstance(k, ast.Integer):
                return p.n, max(k.value, 0)
    return None

_I64 = Type(Kind.INT, bits=64, signed=True)


def _storage(t: Type) -> Type:
    """How a value is stored in an event record: integers as 64-bit."""
    if t.kind is Kind.INT:
        return Type(Kind.INT, bits=64, signed=t.signed)
    if t.kind is Kind.TUPLE:
        return Tuple(*(_storage(f) for f in t.fields))
    return t



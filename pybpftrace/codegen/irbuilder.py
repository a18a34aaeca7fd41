"""BPF-level operations on top of llvmlite's IRBuilder (bpftrace's IRBuilderBPF).

Lowering code speaks in BPF terms — "look up this key in that map", "read a
user string" — and this module turns each into LLVM IR: helper calls through
`inttoptr` of the helper id, map file descriptors through `llvm.bpf.pseudo`,
and stack buffers as allocas in the entry block (BPF has no dynamic stack).
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I1 = ir.IntType(1)
I8P = I8.as_pointer()


class Helper:
    """Kernel helper function ids (include/uapi/linux/bpf.h)."""
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    PROBE_READ = 4          # legacy: kernel or user memory by the address (x86)
    KTIME_GET_NS = 5
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    GET_NUMA_NODE_ID = 42
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    TRACE_PRINTK = 6
    GET_STACKID = 27
    OVERRIDE_RETURN = 58
    GET_CURRENT_TASK = 35
    GET_CURRENT_CGROUP_ID = 80
    PROBE_READ_STR = 45     # legacy, as PROBE_READ
    SEND_SIGNAL = 109
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    KTIME_GET_BOOT_NS = 125
    D_PATH = 147
    RINGBUF_OUTPUT = 130
    JIFFIES64 = 118
    GET_FUNC_IP = 173
    GET_ATTACH_COOKIE = 174
    MAP_LOOKUP_PERCPU_ELEM = 195


BPF_ANY = 0
BPF_NOEXIST = 1
BPF_PSEUDO_MAP_VALUE = 2


def const(v: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, v & ((1 << ty.width) - 1))


class BpfBuilder:
    """An IRBuilder positioned in one probe function, with BPF conveniences."""

    def __init__(self, module: ir.Module, func: ir.Function):
        self.module = module
        self.func = func
        # Allocas get a block of their own, so inserting one never disturbs the
        # position of the main builder; finish() links it to the code.
        self.entry = func.append_basic_block("entry")
        self._alloca_builder = ir.IRBuilder(self.entry)
        self._code = func.append_basic_block("code")
        self.b = ir.IRBuilder(self._code)
        self._pseudo = _intrinsic(module, "llvm.bpf.pseudo", ir.FunctionType(I64, [I64, I64]))
        self._memset = _intrinsic(module, "llvm.memset.p0i8.i64",
                                  ir.FunctionType(ir.VoidType(), [I8P, I8, I64, I1]))
        self._memcpy = _intrinsic(module, "llvm.memcpy.p0i8.p0i8.i64",
                                  ir.FunctionType(ir.VoidType(), [I8P, I8P, I64, I1]))
        lifetime = ir.FunctionType(ir.VoidType(), [I64, I8P])
        self._lifetime_start = _intrinsic(module, "llvm.lifetime.start.p0i8", lifetime)
        self._lifetime_end = _intrinsic(module, "llvm.lifetime.end.p0i8", lifetime)
        self.temps: list[tuple[ir.Value, int]] = []
        # -k: called with (helper id, result) after each helper call that may
        # be checked (see helper_errors.HelperChecks); None adds no code.
        self.check_result: Callable[[int, ir.Value], None] | None = None
        # An empty asm statement with side effects: code that must stay where it is
        # (LLVM may neither speculate nor merge across it); it emits no instruction.
        self.barrier = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "", "", side_effect=True)
        # The identity function on an i64 that LLVM cannot see through.
        self.opaque = ir.InlineAsm(ir.FunctionType(I64, [I64]), "", "=r,0")

    # ---- stack ------------------------------------------------------------
    def alloca(self, size: int, name: str = "", temporary: bool = True) -> ir.Value:
        """An 8-byte aligned stack buffer of `size` bytes, as an i8*.

        Temporaries get lifetime markers (ended by end_temporaries() after the
        statement that made them), so LLVM can reuse their stack slots: BPF
        programs have only 512 bytes of stack.
        """
        slot = self._alloca_builder.alloca(ir.ArrayType(I64, max((size + 7) // 8, 1)), name=name)
        slot.align = 8
        # In the entry block too, so that it dominates every use (a variable first
        # assigned in one branch may be read in another).
        ptr = self._alloca_builder.bitcast(slot, I8P)
        if temporary:
            n = const((size + 7) // 8 * 8)
            self.b.call(self._lifetime_start, [n, ptr])
            self.temps.append((ptr, n))
        return ptr

    def end_temporaries(self, mark: int) -> None:
        """End the lifetime of the temporaries made since `mark` (a len(self.temps))."""
        if not self.b.block.is_terminated:
            for ptr, n in self.temps[mark:]:
                self.b.call(self._lifetime_end, [n, ptr])
        del self.temps[mark:]

    def finish(self) -> None:
        """Close the alloca block; call once all code is generated."""
        self._alloca_builder.branch(self._code)

    def memset(self, ptr: ir.Value, size: int) -> None:
        if size:
            self.b.call(self._memset, [ptr, const(0, I8), const(size), const(0, I1)])

    def memcpy(self, dst: ir.Value, src: ir.Value, size: int) -> None:
        if size:
            self.b.call(self._memcpy, [dst, src, const(size), const(0, I1)])

    def gep(self, ptr: ir.Value, offset: int) -> ir.Value:
        return self.b.gep(ptr, [const(offset)]) if offset else ptr

    def store(self, value: ir.Value, ptr: ir.Value, offset: int = 0, width: int = 64) -> None:
        ty = ir.IntType(width)
        if value.type != ty:
            value = self.b.trunc(value, ty) if value.type.width > width else self.b.zext(value, ty)
        p = self.b.bitcast(self.gep(ptr, offset), ty.as_pointer())
        self.b.store(value, p).align = min(width // 8, 8) if offset % (width // 8) == 0 else 1

    def load(self, ptr: ir.Value, offset: int = 0, width: int = 64, signed: bool = False,
             aligned: bool = True) -> ir.Value:
        """Load an integer and extend it to i64."""
        ty = ir.IntType(width)
        p = self.b.bitcast(self.gep(ptr, offset), ty.as_pointer())
        v = self.b.load(p)
        v.align = width // 8 if aligned else 1
        if width == 64:
            return v
        return self.b.sext(v, I64) if signed else self.b.zext(v, I64)

    # ---- helpers ----------------------------------------------------------
    def helper(self, hid: int, args: list[ir.Value], ret: ir.Type = I64,
               checked: bool = True) -> ir.Value:
        fnty = ir.FunctionType(ret, [a.type for a in args])
        fn = self.b.inttoptr(const(hid), fnty.as_pointer())
        result = self.b.call(fn, args)
        if checked and self.check_result is not None:
            self.check_result(hid, result)
        return result

    def map_fd(self, fd: int) -> ir.Value:
        return self.b.call(self._pseudo, [const(1), const(fd)])

    def map_value(self, fd: int) -> ir.Value:
        """The address of the first value of an array map (BPF_PSEUDO_MAP_VALUE), as i64."""
        return self.b.call(self._pseudo, [const(BPF_PSEUDO_MAP_VALUE), const(fd)])

    def map_lookup(self, fd: int, key: ir.Value) -> ir.Value:
        return self.helper(Helper.MAP_LOOKUP_ELEM, [self.map_fd(fd), key], I8P)

    def map_update(self, fd: int, key: ir.Value, value: ir.Value, flags: int = BPF_ANY) -> ir.Value:
        return self.helper(Helper.MAP_UPDATE_ELEM, [self.map_fd(fd), key, value, const(flags)])

    def map_delete(self, fd: int, key: ir.Value) -> ir.Value:
        return self.helper(Helper.MAP_DELETE_ELEM, [self.map_fd(fd), key])

    def output(self, ringbuf_fd: int, lost_fd: int, record: ir.Value, size: int) -> None:
        """Send a record through the ring buffer; when it is full, count the
        record as lost in the u64 that is the value of array map `lost_fd`
        (addressed directly, no lookup call, and bumped with an atomic add)."""
        rc = self.helper(Helper.RINGBUF_OUTPUT, [self.map_fd(ringbuf_fd), record, const(size),
                                                 const(0)])
        with self.b.if_then(self.b.icmp_unsigned("!=", rc, const(0))):
            counter = self.b.inttoptr(self.map_value(lost_fd), I64.as_pointer())
            self.b.atomic_rmw("add", counter, const(1), "monotonic")

    def probe_read_str(self, dst: ir.Value, size: int, src: ir.Value,
                       user: bool | None) -> ir.Value:
        hid = (Helper.PROBE_READ_STR if user is None
               else Helper.PROBE_READ_USER_STR if user else Helper.PROBE_READ_KERNEL_STR)
        return self.helper(hid, [dst, const(size, I32), self._as_ptr(src)])

    def probe_read(self, dst: ir.Value, size: int, src: ir.Value, user: bool | None,
                   checked: bool = True) -> ir.Value:
        """bpf_probe_read_{user,kernel}, or where the address space is unknown
        (`user` None) the legacy bpf_probe_read, as 0.17; `checked=False` for
        the reads that copy between BPF buffers or zero one, whose results are
        no news (-k)."""
        hid = (Helper.PROBE_READ if user is None
               else Helper.PROBE_READ_USER if user else Helper.PROBE_READ_KERNEL)
        return self.helper(hid, [dst, const(size, I32), self._as_ptr(src)], checked=checked)

    def _as_ptr(self, v: ir.Value) -> ir.Value:
        return self.b.inttoptr(v, I8P) if isinstance(v.type, ir.IntType) else v

    def bswap(self, v: ir.Value, bits: int) -> ir.Value:
        """The low `bits` bits of `v` with their bytes reversed, zero-extended to i64."""
        if bits == 8:
            return self.b.and_(v, const(0xFF))
        ty = ir.IntType(bits)
        fn = _intrinsic(self.module, f"llvm.bswap.i{bits}", ir.FunctionType(ty, [ty]))
        return self.b.zext(self.b.call(fn, [self.b.trunc(v, ty)]), I64)

    # ---- control flow -----------------------------------------------------
    def block(self, name: str) -> ir.Block:
        return self.func.append_basic_block(name)

    def if_nonnull(self, ptr: ir.Value):
        """Context manager pair (then, otherwise) on `ptr != NULL`."""
        cond = self.b.icmp_unsigned("!=", ptr, ir.Constant(ptr.type, None))
        return self.b.if_else(cond)

    def to_bool(self, v: ir.Value) -> ir.Value:
        zero = ir.Constant(v.type, None if isinstance(v.type, ir.PointerType) else 0)
        return self.b.icmp_unsigned("!=", v, zero)


def _intrinsic(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    if name in module.globals:
        return module.globals[name]
    return ir.Function(module, fnty, name)

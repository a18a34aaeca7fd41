"""fentry/fexit (kfunc/kretfunc) in the front end and codegen, on a small fake BTF.

This kernel refuses to load fentry programs, so the verifier cannot check
what codegen makes of them: these tests read the generated IR and the BPF
instructions instead.  The same lowering of u64 context slots and of loads
through BTF-typed pointers runs for real in tp_btf programs
(tests/e2e/test_tp_btf.py).
"""
from __future__ import annotations

import re
import struct

import pytest
from fakekernel import NoKernel, analyse, errors  # tests/unit/fakekernel.py
from test_btf import Builder, kernelish  # tests/unit/test_btf.py

from pybpftrace import driver
from pybpftrace.btf import Kind as BtfKind
from pybpftrace.codegen.emit import emit, new_module, optimise
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.probe_types import has_wildcard, parse_attach_point, wildcard_match
from pybpftrace.semantic.kinfo import FunctionProto
from pybpftrace.types import Kind

PROBE_READ_USER, PROBE_READ_KERNEL, GET_FUNC_IP, GET_STACKID = 112, 113, 173, 27


class FentryKernel(NoKernel):
    """Kernel functions with BTF: vmlinux's, and one module's (split BTF)."""

    def __init__(self):
        b, t = kernelish()
        self.t = t
        task_p = b.ptr(t["task"])
        # int wake_up_task(struct task_struct *p, int flags)
        b.func("wake_up_task", b.func_proto(t["int"], [("p", task_p), ("flags", t["int"])]))
        # ssize_t vfs_write(struct file *file, const char *buf, size_t count, loff_t *pos)
        b.func("vfs_write", b.func_proto(t["ssize_t"], [
            ("file", t["file_p"]), ("buf", t["cchar_p"]), ("count", t["size_t"]),
            ("pos", t["loff_p"])]))
        b.func("vfs_fsync", b.func_proto(t["int"], [("file", t["file_p"]), ("datasync", t["int"])]))
        b.func("do_idle", b.func_proto(0, []))
        user_sock_p = b.ptr(b.ref(BtfKind.TYPE_TAG, t["sock"], "user"))  # struct sock __user *
        b.func("sock_from_user", b.func_proto(t["int"], [("us", user_sock_p)]))
        b.func("seven", b.func_proto(t["int"], [(f"a{i}", t["int"]) for i in range(7)]))
        b.func("by_value", b.func_proto(t["int"], [("s", t["sock"])]))
        mod = Builder(b)
        mod.func("nf_hook", mod.func_proto(t["int"], [("skb", t["sock_ptr"])]))
        mod.func("vfs_fsync", mod.func_proto(t["int"], [("f", t["file_p"])]))  # a same-named one
        self.vmlinux = b.btf()
        super().__init__(self.vmlinux)
        self.modules = {"vmlinux": self.vmlinux, "nf": mod.btf(base=self.vmlinux)}

    def _own_funcs(self, module):
        btf = self.modules[module]
        first = btf.start_id if module != "vmlinux" else 1
        return {btf.name(i): i for i in btf.iter_types(BtfKind.FUNC) if i >= first}

    def btf_functions(self, module, name):
        found = []
        for mod in self.modules:
            if module and not wildcard_match(module, mod):
                continue
            for f in self._own_funcs(mod):
                if f == name or (has_wildcard(name) and wildcard_match(name, f)):
                    found.append((mod, f))
        return sorted(found)

    def btf_function_proto(self, module, name):
        btf = self.modules[module]
        tid = self._own_funcs(module).get(name)
        if tid is None:
            return None
        proto = btf.get(btf.get(tid).type)
        return FunctionProto(btf, proto.params, proto.ret)



@pytest.fixture(scope="module")
def kernel():
    return FentryKernel()


INTERNAL = InternalMaps(ringbuf=3, status=4, scratch=5, stacks={127: 6}, ncpus=2)


def units(kernel, src):
    analysed = analyse(kernel, src)
    return analysed, driver.program_units(analysed, kernel)


def lower(kernel, src) -> str:
    """The optimised IR of the program's BPF functions."""
    analysed, us = units(kernel, src)
    module = new_module()
    for unit in us:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, INTERNAL, {}, 0, []).generate()
    return str(optimise(module))


def instructions(kernel, src) -> list[tuple[int, int, int, int, int]]:
    """The first program's BPF instructions: (opcode, dst, src, off, imm)."""
    analysed, us = units(kernel, src)
    module = new_module()
    for unit in us:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, INTERNAL, {}, 0, []).generate()
    code = emit(module)[0][us[0].name]
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, imm = struct.unpack_from("<BBhi", code, i)
        out.append((op, regs & 0xF, regs >> 4, off, imm))
    return out


LDX_DW, CALL = 0x79, 0x85


# ---- attach points -----------------------------------------------------------------

@pytest.mark.parametrize("raw, kind, module, func", [
    ("fentry:vfs_read", "kfunc", "", "vfs_read"),
    ("fexit:vfs_read", "kretfunc", "", "vfs_read"),
    ("f:vfs_read", "kfunc", "", "vfs_read"),
    ("fr:nf:nf_hook", "kretfunc", "nf", "nf_hook"),
    ("kfunc:vfs_*", "kfunc", "*", "vfs_*"),
    ("fentry:vmlinux:vfs_read", "kfunc", "vmlinux", "vfs_read"),
])
def test_attach_point_spellings(raw, kind, module, func):
    ap = parse_attach_point(raw)
    assert (ap.kind.name, ap.target, ap.func) == (kind, module, func)


def test_expansions_are_named_with_their_module(kernel):
    res = analyse(kernel, "fentry:vfs_re*,fexit:nf_hook { @[probe] = count(); }").resources
    assert [p.name for p in res.probes] == ["kfunc:vmlinux:vfs_read", "kretfunc:nf:nf_hook"]
    assert [(p.provider, p.target, p.func) for p in res.probes] == [
        ("kfunc", "vmlinux", "vfs_read"), ("kretfunc", "nf", "nf_hook")]


def test_unknown_and_ambiguous_functions(kernel):
    assert "ERROR: No BTF found for nope\n" in errors(kernel, "fentry:nope { }")
    assert "ERROR: No BTF found for any function matching *:nope*\n" in \
        errors(kernel, "fentry:nope* { }")
    assert "ERROR: ambiguous attach point, please specify module containing the function " \
           "'vfs_fsync'\n" in errors(kernel, "fentry:vfs_fsync { }")
    analyse(kernel, "fentry:nf:vfs_fsync { @ = args.f; }")


# ---- args and retval ----------------------------------------------------------------

def assigned(kernel, src):
    """The types of the expressions assigned in the first probe, in order."""
    prog = analyse(kernel, src).program
    return [s.expr.type for s in prog.probes[0].block.stmts]


def test_args_are_typed_from_the_prototype(kernel):
    count, pos, file = assigned(kernel, "fentry:vfs_read { @a = args.count; @b = args->pos; "
                                        "@c = args.file; }")
    flags, pid = assigned(kernel, "fentry:wake_up_task { @d = args.flags; @e = args.p->pid; }")
    assert (count.kind, count.bits, count.signed) == (Kind.INT, 64, False)  # size_t
    assert pos.kind is Kind.PTR and pos.inner.bits == 64 and pos.inner.signed  # loff_t *
    assert file.kind is Kind.PTR
    assert (flags.bits, flags.signed) == (32, True)
    assert (pid.bits, pid.signed) == (32, True)


def test_retval_of_fexit_is_the_return_type(kernel):
    ret, = assigned(kernel, "fexit:vfs_read { @r = retval; }")
    assert (ret.kind, ret.bits, ret.signed) == (Kind.INT, 64, True)  # ssize_t
    both = assigned(kernel, "fexit:wake_up_task { @r = retval; @p = args.p; }")
    assert both[0].bits == 32 and both[1].kind is Kind.PTR


def test_func_is_a_kernel_symbol(kernel):
    t, = assigned(kernel, "fentry:vfs_read { @f = func; }")
    assert t.kind is Kind.KSYM


@pytest.mark.parametrize("src, message", [
    ("fentry:vfs_read { @ = retval; }", "stdin:1:23-29: ERROR: Can't find a field $retval"),
    ("fentry:vfs_read { @ = args.nope; }",
     "stdin:1:23-28: ERROR: Can't find function parameter nope"),
    ("fentry:vfs_read { @ = arg0; }", "ERROR: The arg0 builtin can only be used with 'kprobes', "
                                      "'uprobes' and 'usdt' probes"),
    ("fexit:do_idle { @ = retval; }",
     "ERROR: The function do_idle returns void: there is no retval"),
    ("fentry:seven { @ = args.a0; }",
     "stdin:1:1-13: ERROR: kfunc:seven: functions with more than 6 parameters are not supported."),
    ("fentry:by_value { @ = args.s; }", "ERROR: s has unsupported type"),
    ("fentry:vfs_* { @ = args.file; }",
     "stdin:1:1-13: ERROR: Probe has attach points with mixed arguments"),
    ("fentry:vfs_read { $a = args; }", "ERROR: args cannot be assigned to a variable"),
    ("fentry:vfs_read,fexit:vfs_read { @ = args.count; }",
     "ERROR: The args builtin can only be used with tracepoint/kfunc/uprobeprobes "
     "(invalid used here)"),
    ("BEGIN { @ = retval; }", "ERROR: The retval builtin can only be used with "
                              "'kretprobe' and 'uretprobe' and 'kfunc' probes"),
])
def test_errors(kernel, src, message):
    assert message in errors(kernel, src)


def test_wildcards_with_the_same_argument_names_share_args(kernel):
    analyse(kernel, "fentry:vfs_* { }")  # different arguments, but args is not used
    res = analyse(kernel, "fentry:vfs_read,fentry:vfs_write { @[args.count] = count(); }")
    assert len(res.resources.probes) == 2


# ---- codegen -------------------------------------------------------------------------

def test_one_program_per_function(kernel):
    _, us = units(kernel, "fentry:vfs_read,fentry:vfs_write { @ = count(); }")
    assert [(u.probes[0].func, u.ctx.tracing) for u in us] == [("vfs_read", True),
                                                              ("vfs_write", True)]
    assert us[0].ctx.raw_args == {"file": 0, "buf": 1, "count": 2, "pos": 3}
    assert us[0].ctx.retval_slot == 4


def test_scalar_args_and_retval_are_context_slots(kernel):
    ir = lower(kernel, "fexit:vfs_read { @[args.count] = sum(retval); }")
    ctx = "%.1"
    assert f"getelementptr i8, ptr {ctx}, i64 16" in ir    # args.count: ctx[2]
    assert f"getelementptr i8, ptr {ctx}, i64 32" in ir    # retval: ctx[4], after 4 args
    assert f"inttoptr (i64 {PROBE_READ_KERNEL}" not in ir  # no helper reads
    insns = instructions(kernel, "fexit:vfs_read { @[args.count] = sum(retval); }")
    loads = {(src, off) for op, dst, src, off, imm in insns if op == LDX_DW}
    assert {(1, 16), (1, 32)} <= loads                     # straight from r1, the context
    assert not [i for i in insns if i[0] == CALL and i[4] == PROBE_READ_KERNEL]


def test_narrow_args_are_cut_to_their_c_type(kernel):
    ir = lower(kernel, "fentry:wake_up_task { @ = args.flags; }")  # int: ctx[1], sign-extended
    assert "getelementptr i8, ptr %.1, i64 8" in ir
    assert re.search(r"shl i64 %\S+, 32", ir) and re.search(r"ashr exact i64 %\S+, 32", ir)


def test_members_through_pointer_args_are_plain_loads(kernel):
    """In a trampoline program `args.p->pid` is one load (after a NULL check)."""
    src = "fentry:wake_up_task { @ = args.p->pid; }"
    ir = lower(kernel, src)
    assert f"inttoptr (i64 {PROBE_READ_KERNEL}" not in ir
    assert "icmp eq i64" in ir or "icmp ne i64" in ir       # the NULL check
    assert "load i32" in ir
    insns = instructions(kernel, src)
    assert not [i for i in insns if i[0] == CALL and i[4] == PROBE_READ_KERNEL]


def test_user_pointers_are_read_from_user_memory(kernel):
    """`T __user *` arguments (BTF type tag "user"): the verifier refuses plain
    loads through them, and they point into user memory."""
    prog = analyse(kernel, "fentry:vfs_read { @ = args.buf; }").program
    assert prog.probes[0].block.stmts[0].expr.addrspace == "user"
    ir = lower(kernel, "fentry:sock_from_user { @ = args.us->sk_rcvbuf; }")
    assert f"inttoptr (i64 {PROBE_READ_USER}" in ir
    assert f"inttoptr (i64 {PROBE_READ_KERNEL}" not in ir


def test_pointer_chains_are_plain_loads(kernel):
    """args.p->sk: a pointer to a struct, loaded from a struct the verifier
    knows, is one it knows too; `.` into an embedded struct keeps that."""
    ir = lower(kernel, "fentry:wake_up_task { @ = args.p->sk->__sk_common.skc_family; }")
    assert f"inttoptr (i64 {PROBE_READ_KERNEL}" not in ir
    assert "load i16" in ir


def test_strings_and_bitfields_still_use_the_helper(kernel):
    ir = lower(kernel, "fentry:wake_up_task { printf(\"%s\\n\", args.p->comm); }")
    assert f"inttoptr (i64 {PROBE_READ_KERNEL}" in ir
    ir = lower(kernel, "fentry:wake_up_task { @ = args.p->sk->__sk_common.skc_state; }")
    assert ir.count(f"inttoptr (i64 {PROBE_READ_KERNEL}") == 1  # the bitfield; not the pointer


def test_func_kstack_and_probe(kernel):
    ir = lower(kernel, "fentry:vfs_read { @[func, kstack, probe] = count(); }")
    assert f"inttoptr (i64 {GET_FUNC_IP}" in ir
    # the stack skips bpf_prog_* and bpf_trampoline_*
    assert f"call i64 inttoptr (i64 {GET_STACKID} to ptr)(ptr %.1, i64 %" in ir
    assert ", i64 2)" in ir

"""BPF iterators (`iter:task`, `iter:task_file`) in the front end and codegen,
on a small fake BTF: 0.17's attach point checks and messages, the type of
`ctx`, and the context loads the verifier insists on.  Real runs are in
tests/e2e/test_iter.py."""
from __future__ import annotations

import struct

import pytest
from fakekernel import NoKernel, analyse, errors  # tests/unit/fakekernel.py
from test_btf import kernelish  # tests/unit/test_btf.py

from pybpftrace import driver
from pybpftrace.codegen.emit import emit, new_module
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.types import Kind


class IterKernel(NoKernel):
    """The kernel's iterator context structs, and the iterators it can run."""

    def __init__(self, iterators=("task", "task_file")):
        b, t = kernelish()
        meta = b.struct("bpf_iter_meta", 24, [("seq", b.ptr(0), 0), ("session_id", t["u64"], 64),
                                              ("seq_num", t["u64"], 128)])
        meta_p, task_p = b.ptr(meta), b.ptr(t["task"])
        b.struct("bpf_iter__task", 16, [("meta", meta_p, 0), ("task", task_p, 64)])
        b.struct("bpf_iter__task_file", 32, [("meta", meta_p, 0), ("task", task_p, 64),
                                             ("fd", t["uint"], 128), ("file", t["file_p"], 192)])
        super().__init__(b.btf())
        self._iterators = tuple(iterators)

    def iterators(self):
        return self._iterators


@pytest.fixture(scope="module")
def kernel():
    return IterKernel()


# ---- attach points -----------------------------------------------------------------

def test_iterators_are_probes_named_as_in_0_17(kernel):
    res = analyse(kernel, "iter:task { } it:task_file:pinned { }").resources
    assert [(p.name, p.provider, p.func, p.pin) for p in res.probes] == [
        ("iter:task", "iter", "task", ""), ("iter:task_file", "iter", "task_file", "pinned")]


@pytest.mark.parametrize("src, message", [
    ("iter:task,iter:task_file { }",
     "stdin:1:1-10: ERROR: Only single iter attach point is allowed.\n"
     "iter:task,iter:task_file { }\n~~~~~~~~~"),
    ("BEGIN,it:task { }",
     "stdin:1:7-14: ERROR: Only single iter attach point is allowed.\n"
     "BEGIN,it:task { }\n      ~~~~~~~"),
    ("iter:task_vma { }",
     "stdin:1:1-14: ERROR: iter task_vma not available for your kernel version."),
    ("iter:task* { }", "stdin:1:1-11: ERROR: iter probe type does not support wildcards"),
    ("iter:task:a:b { }", "ERROR: iter probe type takes 2 arguments (1 optional)"),
])
def test_attach_point_errors(kernel, src, message):
    assert message in errors(kernel, src)


def test_an_iterator_the_kernel_cannot_run():
    assert "stdin:1:1-15: ERROR: iter task_file not available for your kernel version." in \
        errors(IterKernel(iterators=("task",)), "iter:task_file { }")


# ---- ctx -----------------------------------------------------------------------------

def assigned(kernel, src):
    """The types of the expressions assigned in the first probe, in order."""
    prog = analyse(kernel, src).program
    return [s.expr.type for s in prog.probes[0].block.stmts]


def test_ctx_is_the_iterators_context_struct(kernel):
    task, pid, comm = assigned(kernel, "iter:task { $t = ctx->task; $p = ctx->task->pid; "
                                       "$c = ctx->task->comm; }")
    assert task.kind is Kind.PTR and task.inner.name == "struct task_struct"
    assert (pid.kind, pid.bits, pid.signed) == (Kind.INT, 32, True)
    assert comm.kind is Kind.STRING
    fd, seq = assigned(kernel, "iter:task_file { $f = ctx->fd; $n = ctx->meta->seq_num; }")
    assert (fd.kind, fd.bits, fd.signed) == (Kind.INT, 32, False)
    assert (seq.kind, seq.bits) == (Kind.INT, 64)
    ctx = analyse(kernel, "iter:task { $t = ctx->task; }").program.probes[0] \
        .block.stmts[0].expr.expr
    assert ctx.type.ctx and ctx.type.inner.name == "struct bpf_iter__task"
    assert ctx.addrspace == "kernel"


@pytest.mark.parametrize("src, message", [
    ("iter:task { @ = ctx->tas; }",
     "stdin:1:17-25: ERROR: Struct/union of type 'struct bpf_iter__task' does not contain a "
     "field named 'tas'"),
    ("iter:task { @[ctx] = 1; }", "stdin:1:13-19: ERROR: context cannot be used as a map key"),
    ("iter:task { @ = ctx; }", "ERROR: context cannot be assigned to a map"),
    ("iter:task { @ = args->foo; }",
     "ERROR: The args builtin can only be used with tracepoint/kfunc/uprobeprobes (iter used "
     "here)"),
    ("iter:task { @ = retval; }", "ERROR: The retval builtin can only be used with"),
    ("iter:task { printf(\"%s\", func); }", "ERROR: The func builtin can not be used with "
                                            "'iter' probes"),
    ("iter:task { signal(1); }", 'ERROR: signal can not be used with "iter" probes'),
])
def test_ctx_and_builtin_errors(kernel, src, message):
    assert message in errors(kernel, src)


# ---- codegen -------------------------------------------------------------------------

INTERNAL = InternalMaps(ringbuf=3, status=4, scratch=5, stacks={127: 6}, ncpus=2)
LDX_W, LDX_DW = 0x61, 0x79
# Tests of a register against 0: JEQ/JNE, of 64 or 32 bits (BPF_JMP32).
ZERO_TESTS = (0x15, 0x55, 0x16, 0x56)


def instructions(kernel, src) -> list[tuple[int, int, int, int, int]]:
    """The program's BPF instructions: (opcode, dst, src, off, imm)."""
    analysed = analyse(kernel, src)
    units = driver.program_units(analysed, kernel)
    module = new_module()
    for unit in units:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, INTERNAL, {}, 0, []).generate()
    code = emit(module)[0][units[0].name]
    return [(op, regs & 0xF, regs >> 4, off, imm)
            for op, regs, off, imm in struct.iter_unpack("<BBhi", code)]


def test_iterators_are_tracing_programs(kernel):
    units = driver.program_units(analyse(kernel, "iter:task { }"), kernel)
    assert [(u.provider, u.ctx.tracing) for u in units] == [("iter", True)]


@pytest.mark.parametrize("src, opcode, offset", [
    ("iter:task { @ = ctx->task->pid; }", LDX_DW, 8),
    ("iter:task_file { @ = ctx->fd; }", LDX_W, 16),
    ("iter:task_file { @ = ctx->file; }", LDX_DW, 24),
])
def test_context_members_are_loaded_from_ctx_and_zero_ends_the_program(kernel, src, opcode,
                                                                       offset):
    """The verifier wants context members loaded from the context (r1) with their
    own width, and its maybe-NULL pointers checked: as 0.17, a 0 member returns."""
    insns = instructions(kernel, src)
    loads = [i for i, (op, _, src_reg, off, _) in enumerate(insns)
             if op == opcode and src_reg == 1 and off == offset]
    assert len(loads) == 1
    dst = insns[loads[0]][1]
    test = insns[loads[0] + 1]
    assert test[0] in ZERO_TESTS and test[1] == dst and test[4] == 0

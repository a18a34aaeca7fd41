"""rawtracepoint probes in the front end and codegen, on a small fake BTF."""
from __future__ import annotations

import pytest
from fakekernel import NoKernel, analyse, errors  # tests/unit/fakekernel.py
from test_typecheck_btf import blob  # tests/unit/test_typecheck_btf.py

from pybpftrace import driver
from pybpftrace.btf.types import Param
from pybpftrace.codegen.emit import new_module, optimise
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.probe_types import check_attach_point, parse_attach_point
from pybpftrace.types import Kind


class RawKernel(NoKernel):
    def __init__(self, kb):
        super().__init__(kb[0])
        t = kb[1]
        self.params = {"sched_switch": [Param("preempt", t["bool"]), Param("prev", t["task_ptr"]),
                                        Param("next", t["task_ptr"]), Param("state", t["uint"])],
                       "sys_enter": [Param("regs", t["voidp"]), Param("id", t["long"])]}

    def raw_tracepoints(self, module, name):
        import fnmatch
        return sorted(n for n in self.params if fnmatch.fnmatchcase(n, name))

    def raw_tracepoint_params(self, name):
        return self.params.get(name)


@pytest.fixture(scope="module")
def kernel():
    return RawKernel(blob())


def lower(kernel, src) -> str:
    analysed = analyse(kernel, src)
    module = new_module()
    internal = InternalMaps(ringbuf=3, status=4, scratch=5, stacks=dict.fromkeys(range(1025), 6), ncpus=2)
    for unit in driver.program_units(analysed, kernel):
        Lowerer(module, unit.name, unit.ctx, analysed.resources, internal, {}, 0, []).generate()
    return str(optimise(module))


@pytest.mark.parametrize("raw, module, name", [
    ("rawtracepoint:sched_switch", "", "sched_switch"),
    ("rt:sys_enter", "", "sys_enter"),
    ("rawtracepoint:vmlinux:sched_*", "vmlinux", "sched_*"),
])
def test_parse(raw, module, name):
    ap = parse_attach_point(raw)
    assert (ap.kind.name, ap.target, ap.func) == ("rawtracepoint", module, name)
    assert check_attach_point(ap) == []


def test_wildcards_expand_and_probe_names(kernel):
    res = analyse(kernel, "rt:s* { @[probe] = count(); }").resources
    assert [p.name for p in res.probes] == ["rawtracepoint:sched_switch", "rawtracepoint:sys_enter"]


def test_unknown_name(kernel):
    assert "ERROR: raw tracepoint not found: nope" in errors(kernel, "rawtracepoint:nope { }")


def test_args_are_typed_from_btf(kernel):
    prog = analyse(kernel, "rawtracepoint:sched_switch { @a = args.next->pid; @b = args->state; "
                           "@c = args.preempt; }").program
    assigns = prog.probes[0].block.stmts
    next_pid = assigns[0].expr
    assert next_pid.expr.type.kind is Kind.PTR and next_pid.type.bits == 32
    assert (assigns[1].expr.type.bits, assigns[1].expr.type.signed) == (32, False)
    assert assigns[2].expr.type.bits == 8


def test_argn_is_allowed(kernel):
    analyse(kernel, "rawtracepoint:sys_enter { @[arg1] = count(); }")


def test_bad_arg_names(kernel):
    assert "Raw tracepoint sched_switch has no argument named 'x'" in \
        errors(kernel, "rawtracepoint:sched_switch { @ = args.x; }")


def test_codegen_reads_ctx_slots(kernel):
    ir = lower(kernel, "rawtracepoint:sys_enter { @[args.id, arg0] = count(); }")
    ctx = "%.1"  # the program's context argument: an array of u64
    assert f"getelementptr i8, ptr {ctx}, i64 8" in ir  # args.id is ctx[1]
    assert f"load i64, ptr {ctx}, align 8" in ir          # arg0 is ctx[0]

"""Kernel struct types from BTF: the BTF type -> BpfScript Type mapping
(semantic.btftypes), and the type checker's casts, `->`/`.` members and
errors.  Most tests use a hand-built BTF blob (no kernel needed); the last
ones check the mapping against the running kernel's vmlinux BTF."""
from __future__ import annotations

import pytest
from test_btf import INT_BOOL, INT_SIGNED, kernelish  # tests/unit/test_btf.py

from pybpftrace import driver
from pybpftrace.codegen.emit import new_module, optimise
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.diag import DiagnosticError
from pybpftrace.semantic import btftypes
from pybpftrace.types import Int, Kind, String, Type


def blob():
    b, t = kernelish()
    t["bool"] = b.int("_Bool", 1, INT_BOOL)
    t["arr"] = b.array(t["int"], 4, t["int"])
    t["structarr"] = b.array(t["sock"], 2, t["int"])
    t["voidp"] = b.ptr(0)
    t["pp"] = b.ptr(t["sock_ptr"])
    t["s64"] = b.int("long long int", 8, INT_SIGNED)
    # struct demo { int a[4]; bool b; enum bpf_map_type ty; void *v; struct sock **pp;
    #               int neg:3; unsigned int pos:5; struct sock s[2]; struct task_struct *t; }
    t["task_ptr"] = b.ptr(t["task"])
    t["demo"] = b.struct("demo", 128, [
        ("a", t["arr"], 0), ("b", t["bool"], 128), ("ty", t["map_type"], 160),
        ("v", t["voidp"], 192), ("pp", t["pp"], 256), ("neg", t["int"], 320, 3),
        ("pos", t["uint"], 323, 5), ("s", t["structarr"], 384), ("t", t["task_ptr"], 768)])
    return b.btf(), t


@pytest.fixture(scope="module")
def kb():
    return blob()


class FakeKernel:
    def __init__(self, btf):
        self.btf = btf

    def tracepoints(self, category, name):
        return []

    def tracepoint_fields(self, category, name):
        return []

    def kernel_lacks(self, provider):
        return None

    def kernel_btf(self):
        return self.btf


def analyse(kb, src):
    return driver.analyse(src, "stdin", FakeKernel(kb[0]), driver.Options())


def errors(kb, src) -> str:
    with pytest.raises(DiagnosticError) as exc:
        analyse(kb, src)
    return exc.value.diags.render()


def lower(kb, src) -> str:
    kernel = FakeKernel(kb[0])
    analysed = driver.analyse(src, "stdin", kernel, driver.Options())
    module = new_module()
    internal = InternalMaps(ringbuf=3, status=4, scratch=5, stacks=6, ncpus=2)
    for unit in driver.program_units(analysed, kernel):
        Lowerer(module, unit.name, unit.ctx, analysed.resources, internal, {}, 0, []).generate()
    return str(optimise(module))


def member_type(kb, struct, path):
    b, t = kb
    return btftypes.to_type(b, b.member(t[struct], path).type)


# ---- the mapping ----------------------------------------------------------------

def test_integers_keep_width_and_sign(kb):
    assert member_type(kb, "task", "pid") == Int(32, True)
    assert member_type(kb, "sock", "__sk_common.skc_family") == Int(16, False)
    assert member_type(kb, "sock_common", "skc_addrpair") == Int(64, False)  # typedef chain
    assert member_type(kb, "demo", "b") == Int(8, False)


def test_enums_are_integers(kb):
    assert member_type(kb, "demo", "ty") == Int(32, False)


def test_char_array_is_a_string(kb):
    assert member_type(kb, "task", "comm") == String(16)


def test_other_arrays(kb):
    t = member_type(kb, "demo", "a")
    assert t.kind is Kind.ARRAY and t.size == 4 and t.inner == Int(32, True)
    assert member_type(kb, "demo", "s") is None  # arrays of structs: not yet


def test_pointers(kb):
    b, t = kb
    sk = member_type(kb, "task", "sk")
    assert sk.kind is Kind.PTR and sk.inner.kind is Kind.RECORD
    assert sk.inner.name == "struct sock" and sk.inner.btf_id == t["sock"]
    assert member_type(kb, "demo", "v") == Type(Kind.PTR, inner=None)
    pp = member_type(kb, "demo", "pp")
    assert pp.inner.kind is Kind.PTR and pp.inner.inner.name == "struct sock"


def test_nested_and_anonymous_records(kb):
    b, t = kb
    common = member_type(kb, "sock", "__sk_common")
    assert common.kind is Kind.RECORD and common.btf_id == t["sock_common"]
    assert member_type(kb, "sock", "__sk_common.skc_daddr") == Int(32, False)


def test_record_lookup(kb):
    b, t = kb
    assert btftypes.record(b, "struct task_struct").btf_id == t["task"]
    assert btftypes.record(b, "struct nope") is None
    assert btftypes.record(None, "struct task_struct") is None
    assert btftypes.record(b, "task_struct") is None


# ---- the type checker -------------------------------------------------------------

def test_cast_and_members_typecheck(kb):
    a = analyse(kb, 'BEGIN { $t = (struct task_struct *)curtask; '
                    'printf("%d %s %d\\n", $t->pid, $t->comm, $t->sk->__sk_common.skc_family); }')
    assert a is not None


def test_curtask_is_a_task_struct_pointer(kb):
    a = analyse(kb, "BEGIN { @ = curtask->pid; @c[curtask->comm] = count(); }")
    assert a is not None


def test_unknown_struct(kb):
    out = errors(kb, "BEGIN { $x = (struct foo *)0; }")
    assert "ERROR: Unknown struct/union: 'struct foo'" in out


def test_unknown_struct_without_btf():
    out = errors((None, {}), "BEGIN { $x = (struct task_struct *)0; }")
    assert "ERROR: Unknown struct/union: 'struct task_struct'" in out


def test_missing_field(kb):
    out = errors(kb, "BEGIN { $x = (struct task_struct *)0; @ = $x->nope; }")
    assert ("ERROR: Struct/union of type 'struct task_struct' does not contain a field named "
            "'nope'") in out


def test_arrow_on_struct_value_and_dot_on_pointer(kb):
    out = errors(kb, "BEGIN { $x = (struct sock *)0; @ = $x->__sk_common->skc_family; }")
    assert "Can not dereference struct/union of type 'struct sock_common'" in out
    out = errors(kb, "BEGIN { $x = (struct sock *)0; @ = $x.sk_rcvbuf; }")
    assert "Can not access field 'sk_rcvbuf' on type 'struct sock *'" in out


def test_str_of_char_array(kb):
    assert analyse(kb, "BEGIN { @[str(curtask->comm)] = count(); }") is not None


def test_sizeof_offsetof(kb):
    ir = lower(kb, "BEGIN { @a = sizeof(struct sock); @b = offsetof(struct sock, sk_rcvbuf); }")
    assert "i64 24" in ir and "i64 16" in ir


# ---- lowering ---------------------------------------------------------------------

def test_member_reads_use_probe_read_kernel(kb):
    ir = lower(kb, 'BEGIN { $t = (struct task_struct *)curtask; '
                   'printf("%d %s\\n", $t->pid, $t->comm); }')
    assert "inttoptr (i64 113 to" in ir  # bpf_probe_read_kernel


def test_bitfields_and_arrays_lower(kb):
    ir = lower(kb, "BEGIN { $d = (struct demo *)0; "
                   'printf("%d %d %d %d\\n", $d->neg, $d->pos, $d->a[2], $d->ty); }')
    assert "ashr" in ir and "lshr" in ir


# ---- the running kernel ---------------------------------------------------------

@pytest.mark.kernel
def test_vmlinux_task_struct_mapping():
    from pybpftrace import btf
    b = btf.vmlinux()
    task = btftypes.record(b, "struct task_struct")
    assert task.kind is Kind.RECORD and task.name == "struct task_struct"
    assert btftypes.to_type(b, b.member(task.btf_id, "pid").type) == Int(32, True)
    assert btftypes.to_type(b, b.member(task.btf_id, "comm").type) == String(16)
    parent = btftypes.to_type(b, b.member(task.btf_id, "real_parent").type)
    assert parent.kind is Kind.PTR and parent.inner.btf_id == task.btf_id
    assert btftypes.to_type(b, b.member(task.btf_id, "se.vruntime").type) == Int(64, False)


def test_struct_values_cannot_be_printed_or_stored_yet(kb):
    out = errors(kb, "BEGIN { print(((struct sock *)0)->__sk_common); }")
    assert "struct sock_common type passed to print() is not printable" in out
    out = errors(kb, "BEGIN { @m = ((struct sock *)0)->__sk_common; }")
    assert "cannot store struct values in maps yet" in out
    out = errors(kb, "BEGIN { @m[((struct sock *)0)->__sk_common] = 1; }")
    assert "cannot use struct values as map keys yet" in out

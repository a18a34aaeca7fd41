"""Kernel types from BTF: the BTF type -> BpfScript Type mapping
(semantic.btftypes), the type checker's casts, `->`/`.` members, typedefs,
enumerators, struct values and errors, their lowering, and how struct values
are decoded and printed.  Most tests use a hand-built BTF blob (no kernel
needed); the last ones check the mapping against the running kernel's
vmlinux BTF."""
from __future__ import annotations

import pytest
from fakekernel import NoKernel  # tests/unit/fakekernel.py
from test_btf import INT_BOOL, INT_SIGNED, kernelish  # tests/unit/test_btf.py

from pybpftrace import driver
from pybpftrace.codegen.emit import new_module, optimise
from pybpftrace.codegen.lower import InternalMaps, Lowerer, record_area, scratch_value_size
from pybpftrace.diag import DiagnosticError
from pybpftrace.output.json import value_json
from pybpftrace.output.text import map_text, value_text
from pybpftrace.output.values import Array, MapDump, Pointer, Record
from pybpftrace.runtime.decode import Symbolizer, decode
from pybpftrace.semantic import btftypes
from pybpftrace.semantic.kinfo import TracepointField
from pybpftrace.semantic.records import Records
from pybpftrace.semantic.typecheck import field_type
from pybpftrace.types import Int, Kind, Member, String, Type


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
    # typedef int pid_t; typedef struct { int counter; } atomic_t; struct big { char b[600]; }
    t["pid_t"] = b.typedef("pid_t", t["int"])
    t["atomic"] = b.typedef("atomic_t", b.struct("", 4, [("counter", t["int"], 0)]))
    t["holder"] = b.struct("holder", 8, [("a", t["atomic"], 0), ("p", t["pid_t"], 32)])
    t["big"] = b.struct("big", 600, [("b", b.array(t["char"], 600, t["int"]), 0)])
    return b.btf(), t


@pytest.fixture(scope="module")
def kb():
    return blob()


def analyse(kb, src):
    return driver.analyse(src, "stdin", NoKernel(kb[0]), driver.Options())


def errors(kb, src) -> str:
    with pytest.raises(DiagnosticError) as exc:
        analyse(kb, src)
    return exc.value.diags.render()


def lower(kb, src) -> str:
    kernel = NoKernel(kb[0])
    analysed = driver.analyse(src, "stdin", kernel, driver.Options())
    module = new_module()
    internal = InternalMaps(ringbuf=3, status=4, scratch=5, stacks=dict.fromkeys(range(1025), 6), ncpus=2)
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


def test_only_plain_char_arrays_are_strings():
    """0.17 gets kernel types through clang, which makes strings of `char`
    arrays only: `unsigned char`/`__u8` arrays are arrays of integers."""
    b, t = kernelish()
    uchar = b.int("unsigned char", 1)
    s = b.struct("addrs", 20, [("v4", b.array(uchar, 4, t["int"]), 0),
                               ("name", b.array(t["char"], 16, t["int"]), 32)])
    btf = b.btf()
    assert btftypes.to_type(btf, btf.member(s, "v4").type) == \
        Type(Kind.ARRAY, size=4, inner=Int(8, False))
    assert btftypes.to_type(btf, btf.member(s, "name").type) == String(16)


def test_records_know_their_alignment(kb):
    """A tuple lays a record out at the record's C alignment (0.17's
    Struct::CreateTuple): (int32, struct holder) is 12 bytes, not 16."""
    b, t = kb
    holder = btftypes.to_type(b, t["holder"])
    assert (holder.byte_size, holder.align) == (8, 4)
    assert Type(Kind.TUPLE, fields=(Int(32, True), holder)).byte_size == 12
    assert btftypes.to_type(b, t["task"]).align == 8


def test_tracepoint_pointer_fields_point_to_btf_records(kb):
    """`struct sock *` in a tracepoint's format resolves through BTF, as 0.17's
    generated BTF header makes it; integers and unknown names stay as before."""
    field = lambda ctype: TracepointField("f", ctype, 8, 8, False)  # noqa: E731
    records = Records(None, lambda: kb[0])
    sk = field_type(field("const struct sock *"), records)
    assert sk.kind is Kind.PTR and sk.inner.name == "struct sock" and sk.inner.btf_id
    assert field_type(field("pid_t *"), records) == Type(Kind.PTR, inner=Int(32, True))
    assert field_type(field("struct nope *"), records) == Type(Kind.PTR, inner=Int(8, True))
    assert field_type(field("struct sock *")) == Type(Kind.PTR, inner=Int(8, True))


def test_other_arrays(kb):
    t = member_type(kb, "demo", "a")
    assert t.kind is Kind.ARRAY and t.size == 4 and t.inner == Int(32, True)
    s = member_type(kb, "demo", "s")
    assert s.kind is Kind.ARRAY and s.size == 2 and s.inner.name == "struct sock"
    assert s.byte_size == 48


def test_records_are_sized_and_typedefs_name_anonymous_ones(kb):
    b, t = kb
    assert btftypes.record(b, "struct sock").byte_size == 24
    assert member_type(kb, "holder", "a") == Type(Kind.RECORD, name="atomic_t",
                                                   btf_id=b.resolve(t["atomic"]), size=4)
    assert member_type(kb, "holder", "p") == Int(32, True)
    assert btftypes.named_type(b, "pid_t") == Int(32, True)
    assert btftypes.named_type(b, "u64") == Int(64, False)
    assert btftypes.named_type(b, "atomic_t").name == "atomic_t"
    assert btftypes.named_type(b, "struct sock").btf_id == t["sock"]
    assert btftypes.named_type(b, "nope_t") is None


def test_complete_lays_a_record_out_as_0_17_prints_it(kb):
    """Anonymous struct/union members are listed flat; bitfields keep their bits."""
    b, t = kb
    common = btftypes.complete(b, btftypes.record(b, "struct sock_common"))
    assert common.members == (
        Member("skc_addrpair", Int(64, False), 0), Member("skc_daddr", Int(32, False), 0),
        Member("skc_rcv_saddr", Int(32, False), 4), Member("skc_family", Int(16, False), 8),
        Member("skc_state", Int(32, False), 10, 0, 4),
        Member("skc_reuse", Int(32, False), 10, 4, 4))
    sock = btftypes.complete(b, btftypes.record(b, "struct sock"))
    assert sock.members[0].type.members == common.members  # nested records complete too
    arr = btftypes.complete(b, member_type(kb, "demo", "s"))
    assert arr.inner.members == sock.members


def test_enum_values(kb):
    b, _ = kb
    assert btftypes.enum_value(b, "BPF_MAP_TYPE_HASH") == 1
    assert btftypes.enum_value(b, "TASK_COMM_LEN") == 16
    assert btftypes.enum_value(b, "NOPE") is None


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
    # Shifted and masked, as 0.17 reads them: no sign extension of the 3-bit `int neg:3`.
    assert "lshr" in ir and "ashr" not in ir


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


# ---- typedefs, enumerators, struct values, pointers ---------------------------------

def test_casts_to_typedefs(kb):
    a = analyse(kb, "BEGIN { @a = (pid_t)5; @b = (u64)1; $h = (atomic_t *)0; @c = $h->counter; "
                    "@d = sizeof(pid_t); @e = sizeof(atomic_t); @f = sizeof(struct sock *); }")
    assert {m.name: m.value for m in a.resources.maps}["@a"] == Int(64, True)
    out = errors(kb, "BEGIN { @a = (nope_t)5; }")
    assert "ERROR: Unknown struct/union: 'nope_t'" in out
    out = errors(kb, "BEGIN { @a = sizeof(nope_t); }")
    assert "ERROR: Unknown identifier: 'nope_t'" in out
    out = errors(kb, 'BEGIN { $x = (int32 *)"a"; }')
    assert 'ERROR: Casts are not supported for type: "string[2]"' in out


def test_typedef_cast_lowers_to_its_width(kb):
    ir = lower(kb, "BEGIN { @a = (pid_t)0x1ffffffff; @s = sizeof(pid_t) + sizeof(atomic_t); }")
    assert "i64 -1" in ir and "i64 8" in ir


def test_enumerators_are_constants(kb):
    ir = lower(kb, "BEGIN { @x = BPF_MAP_TYPE_HASH + 41; }")
    assert "i64 42" in ir
    out = errors(kb, "BEGIN { @x = BPF_MAP_TYPE_NOPE; }")
    assert "ERROR: Unknown identifier: 'BPF_MAP_TYPE_NOPE'" in out


def test_struct_values_can_be_printed_stored_and_used_as_keys(kb):
    a = analyse(kb, "BEGIN { $s = (struct sock *)0; print($s->__sk_common); @m = *$s; "
                    "@k[$s->__sk_common] = 1; $v = *$s; print($v.sk_rcvbuf); "
                    "@t = ($s->__sk_common, 1); print(((struct demo *)0)->s); }")
    maps = {m.name: m for m in a.resources.maps}
    assert maps["@m"].value.name == "struct sock" and maps["@m"].value.members
    assert maps["@k"].key.members[0].name == "skc_addrpair"
    assert maps["@t"].value.fields[0].members


def test_struct_keys_show_integers_signed_as_0_17(kb):
    a = analyse(kb, "BEGIN { @k[((struct sock *)0)->__sk_common] = 1; }")
    key = a.resources.maps[0].key
    assert all(m.type.signed for m in key.members)


def test_struct_value_errors(kb):
    out = errors(kb, "BEGIN { @m = ((struct sock *)0)->__sk_common; @m = *(struct sock *)0; }")
    assert ("ERROR: Type mismatch for @m: trying to assign value of type 'struct sock' when map "
            "already contains a value of type 'struct sock_common'\n") in out
    out = errors(kb, "BEGIN { $v = *(struct sock *)0; $v = *(struct task_struct *)0; }")
    assert "ERROR: Type mismatch for $v: trying to assign value of type 'struct task_struct'" \
        in out


def test_address_of(kb):
    ir = lower(kb, "BEGIN { $s = (struct sock *)0x1000; @p = &$s->sk_rcvbuf; "
                   "@q = &$s->__sk_common.skc_family; }")
    assert "i64 4112" in ir and "i64 4104" in ir  # 0x1000 + 16, 0x1000 + 8
    out = errors(kb, "BEGIN { $x = 1; @p = &$x; }")
    assert ("ERROR: The & operator can only be used on struct members, array elements and "
            "dereferenced pointers") in out
    out = errors(kb, "BEGIN { @p = &((struct demo *)0)->neg; }")
    assert "ERROR: The & operator can not be used on a bitfield" in out


def test_pointer_index_may_be_a_variable_but_an_array_index_may_not(kb):
    assert analyse(kb, "BEGIN { $p = (int32 *)0; $i = 2; @x = $p[$i]; }") is not None
    out = errors(kb, "BEGIN { $d = (struct demo *)0; $i = 2; @x = $d->a[$i]; }")
    assert "ERROR: The array index operator [] only accepts literal integer indices." in out


def test_pointer_arithmetic_is_scaled_by_the_record_size(kb):
    ir = lower(kb, "BEGIN { $s = (struct sock *)0x1000; @p = $s + 2; @q = (int32 *)0x10 + 3; }")
    assert "i64 4144" in ir and "i64 28" in ir  # 0x1000 + 2 * 24, 0x10 + 3 * 4


def test_big_struct_values_go_to_the_scratch_map(kb):
    src = "BEGIN { $b = (struct big *)0; @m = *$b; print(*$b); $v = *$b; @k[$v] = 1; }"
    kernel = NoKernel(kb[0])
    a = driver.analyse(src, "stdin", kernel, driver.Options())
    size = scratch_value_size(a.program, a.resources.maps, 64)
    area = record_area(a.program.probes[0], 64)
    assert area >= 8 + 600 and size >= area + 3 * 600  # print()'s record; @m, $v, @k
    ir = lower(kb, src)
    assert "alloca [75 x i64]" not in ir  # no 600-byte stack buffer
    assert "@llvm.bpf.pseudo(i64 1, i64 5)" in ir  # the scratch map


# ---- decoding and printing struct values ------------------------------------------

def test_struct_values_decode_and_print_as_0_17(kb):
    b, _ = kb
    common = btftypes.complete(b, btftypes.record(b, "struct sock_common"))
    data = bytes([1, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0x75, 0, 0, 0, 0, 0])  # state 5, reuse 7
    v = decode(common, data, Symbolizer())
    assert v == Record((("skc_addrpair", 0x200000001), ("skc_daddr", 1), ("skc_rcv_saddr", 2),
                        ("skc_family", 10), ("skc_state", 5), ("skc_reuse", 7)))
    assert value_text(v) == ("{ .skc_addrpair = 8589934593, .skc_daddr = 1, .skc_rcv_saddr = 2, "
                             ".skc_family = 10, .skc_state = 5, .skc_reuse = 7 }")
    assert value_json(v) == ('{ "skc_addrpair": 8589934593, "skc_daddr": 1, "skc_rcv_saddr": 2, '
                             '"skc_family": 10, "skc_state": 5, "skc_reuse": 7 }')
    key = Record((("a", -1), ("b", Array((1, 2))), ("c", "x"), ("p", Pointer(0xff))))
    assert map_text(MapDump("@", "value", [(key, Array((1, 2)))])) == \
        "@[{.a=-1,.b=[1,2],.c=x,.p=0xff}]: [1,2]\n"
    assert value_json(Record((("s", "x"), ("p", Pointer(16))))) == '{ "s": "x", "p": 16 }'


def test_bitfields_and_pointers_decode(kb):
    b, t = kb
    demo = btftypes.complete(b, btftypes.record(b, "struct demo"))
    data = bytearray(128)
    data[40] = 0b11111_101  # neg:3 = 0b101, pos:5 = 31
    data[96:104] = (0xffff888100001000).to_bytes(8, "little")
    v = dict(decode(demo, bytes(data), Symbolizer()).fields)
    # A bitfield narrower than its type is zero-extended, as 0.17's member reads do;
    # a pointer member prints as an unsigned decimal (0.17: signed).
    assert v["neg"] == 5 and v["pos"] == 31 and value_text(v["t"]) == str(0xffff888100001000)


def test_ntop_of_an_unknown_family_is_empty():
    """0.17's resolve_inet prints nothing for a family other than AF_INET(6),
    e.g. ntop($sk->__sk_common.skc_family, ...) of a socket of another family."""
    inet = Type(Kind.INET)
    assert decode(inet, (2).to_bytes(8, "little") + bytes([10, 0, 0, 1]) + bytes(12),
                  Symbolizer()) == "10.0.0.1"
    assert decode(inet, (1).to_bytes(8, "little") + bytes(16), Symbolizer()) == ""

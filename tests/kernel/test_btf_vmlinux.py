"""pybpftrace.btf against the running kernel's BTF (/sys/kernel/btf/vmlinux).

Facts a script relies on (task_struct's pid and comm, sock's skc_family, enum
constants, vfs_read's prototype) are checked as `kernel` tests.  The
cross-checks against `bpftool btf dump ... format raw` (an independent
decoder: libbpf) render every one of our decoded types in bpftool's format and
compare the whole dump; they need bpftool, which the project does not install,
so they are not `kernel` tests and skip without it.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from pybpftrace.btf import VMLINUX, Btf, Kind, Linkage, reader

pytestmark = pytest.mark.skipif(not os.path.exists(VMLINUX), reason=f"no {VMLINUX}")
kernel = pytest.mark.kernel
BPFTOOL = shutil.which("bpftool") or next(
    (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.access(p, os.X_OK)), None)
needs_bpftool = pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("btf-cache"))


@pytest.fixture(scope="module")
def btf(cache_dir):
    return Btf.load(VMLINUX, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def raw_dump():
    """bpftool's raw dump: {id: [header line, member lines...]}."""
    out = subprocess.run([BPFTOOL, "btf", "dump", "file", VMLINUX, "format", "raw"],
                         check=True, capture_output=True, text=True).stdout
    types, current = {}, None
    for line in out.splitlines():
        if line.startswith("["):
            current = int(line[1:line.index("]")])
            types[current] = [line]
        else:
            types[current].append(line)
    return types


# ---- what scripts rely on ---------------------------------------------------------

@kernel
def test_task_struct_pid_and_comm(btf):
    task = btf.lookup("struct task_struct")
    assert task is not None and btf.kind(task) == Kind.STRUCT
    pid = btf.member(task, "pid")
    assert btf.type_name(pid.type) == "pid_t" and pid.bitfield_size == 0
    pid_int = btf.get(btf.resolve(pid.type))
    assert pid_int.kind == Kind.INT and pid_int.size == 4 and pid_int.signed
    comm = btf.member(task, "comm")
    assert btf.type_name(comm.type) == "char[16]" and btf.sizeof(comm.type) == 16
    size = btf.sizeof(task)
    assert 0 < pid.byte_offset < comm.byte_offset < size
    assert pid.bit_offset % 32 == 0 and comm.bit_offset % 8 == 0


@kernel
def test_sock_skc_family_through_sock_common(btf):
    sock = btf.lookup("struct sock")
    ref = btf.member(sock, "__sk_common.skc_family")
    assert btf.type_name(ref.type) == "short unsigned int" and btf.sizeof(ref.type) == 2
    common = btf.member(sock, "__sk_common")
    assert btf.type_name(common.type) == "struct sock_common" and common.bit_offset == 0
    direct = btf.member(btf.lookup("struct sock_common"), "skc_family")
    assert direct.bit_offset == ref.bit_offset


def _through_anonymous(btf, tid, base=0):
    """(name, bit offset) of every member reachable through anonymous
    struct/union members of `tid`, found by walking the decoded types."""
    for m in btf.get(btf.resolve(tid)).members:
        if m.name:
            continue
        inner = btf.resolve(m.type)
        if btf.kind(inner) in (Kind.STRUCT, Kind.UNION):
            for im in btf.get(inner).members:
                if im.name:
                    yield im.name, base + m.bit_offset + im.bit_offset
            yield from _through_anonymous(btf, inner, base + m.bit_offset)


@kernel
@pytest.mark.parametrize("name", ["sock_common", "sk_buff", "file", "page", "inode"])
def test_members_inside_anonymous_unions(btf, name):
    """Members declared inside anonymous structs/unions (skc_daddr in
    sock_common, next/prev in sk_buff...) are found by name, at the offset
    the nesting adds up to.  (On this kernel's config task_struct has none.)"""
    tid = btf.lookup(f"struct {name}")
    nested = list(_through_anonymous(btf, tid))
    assert nested, f"struct {name} has no anonymous members on this kernel"
    direct = {m.name for m in btf.get(tid).members if m.name}
    for member, bit_offset in nested:
        if member not in direct:          # C would refuse the name clash anyway
            assert btf.member(tid, member).bit_offset == bit_offset, member


@kernel
def test_skc_daddr_two_levels_deep(btf):
    common = btf.lookup("struct sock_common")
    daddr = btf.member(common, "skc_daddr")
    assert btf.type_name(daddr.type) == "__be32"
    assert btf.member(btf.lookup("struct sock"), "__sk_common.skc_daddr") == daddr


@kernel
def test_enum_constants(btf):
    value, enum_id = btf.enum_value("BPF_MAP_TYPE_HASH")
    assert value == 1 and btf.type_name(enum_id) == "enum bpf_map_type"
    assert btf.enum_value("TASK_COMM_LEN")[0] == 16
    assert btf.enum_value("BPF_MAP_TYPE_ARRAY")[0] == 2
    assert btf.enum_value("NO_SUCH_ENUMERATOR_X") is None


@kernel
def test_vfs_read_prototype(btf):
    proto = btf.func_proto("vfs_read")
    assert [(p.name, btf.type_name(p.type)) for p in proto.params] == [
        ("file", "struct file *"), ("buf", "char *"), ("count", "size_t"), ("pos", "loff_t *")]
    assert btf.type_name(proto.ret) == "ssize_t" and not proto.variadic


@kernel
@pytest.mark.parametrize("name", ["u64", "size_t"])
def test_typedefs_resolve_to_unsigned_8_byte_ints(btf, name):
    t = btf.get(btf.resolve(btf.lookup(name)))
    assert t.kind == Kind.INT and t.size == 8 and not t.signed
    assert btf.sizeof(btf.lookup(name)) == 8


@kernel
def test_sched_switch_tp_btf_args(btf):
    proto = btf.tp_btf_proto("sched_switch")
    names = [p.name for p in proto.params]
    assert names[0] == "__data" and "prev" in names and "next" in names
    nxt = proto.params[names.index("next")]
    assert btf.type_name(nxt.type) == "struct task_struct *"


@kernel
def test_cached_index_is_used_and_agrees(btf, cache_dir, monkeypatch):
    monkeypatch.setattr(reader, "_build_index", lambda *a: pytest.fail("index rebuilt"))
    warm = Btf.load(VMLINUX, cache_dir=cache_dir)
    assert warm.end_id == btf.end_id
    for name in ("task_struct", "sock", "vfs_read", "u64"):
        assert warm.find(name) == btf.find(name)
    assert warm.enum_value("BPF_MAP_TYPE_HASH") == btf.enum_value("BPF_MAP_TYPE_HASH")


@kernel
def test_start_up_is_fast(cache_dir):
    """The warm path (cached index) plus one struct member costs a few ms."""
    Btf.load(VMLINUX, cache_dir=cache_dir)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        b = Btf.load(VMLINUX, cache_dir=cache_dir)
        b.member(b.lookup("struct task_struct"), "comm")
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05, f"warm load + one member took {best * 1e3:.1f} ms"


# ---- against bpftool (libbpf) -------------------------------------------------------------

_INT_ENC = {(False, False, False): "(none)", (True, False, False): "SIGNED",
            (False, True, False): "CHAR", (False, False, True): "BOOL"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def _enum64_suffix(t) -> str:
    """bpftool prints ENUM64 values as C literals."""
    return "" if t.kind == Kind.ENUM else "LL" if t.signed else "ULL"


def _q(name: str) -> str:
    return f"'{name or '(anon)'}'"


def render(btf: Btf, tid: int) -> list[str]:
    """Our decoding of `tid` in bpftool's raw format."""
    t = btf.get(tid)
    k = t.kind
    head = f"[{tid}] {k.name} {_q(t.name)}"
    if k == Kind.INT:
        enc = _INT_ENC.get((t.signed, t.is_char, t.is_bool), "UNKN")
        return [f"{head} size={t.size} bits_offset={t.offset} nr_bits={t.bits} encoding={enc}"]
    if k in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
        return [f"{head} type_id={t.type}"]
    if k == Kind.ARRAY:
        return [f"{head} type_id={t.type} index_type_id={t.index_type} nr_elems={t.nelems}"]
    if k in (Kind.STRUCT, Kind.UNION):
        return [f"{head} size={t.size} vlen={len(t.members)}"] + [
            f"\t{_q(m.name)} type_id={m.type} bits_offset={m.bit_offset}"
            + (f" bitfield_size={m.bitfield_size}" if m.bitfield_size else "")
            for m in t.members]
    if k in (Kind.ENUM, Kind.ENUM64):
        enc = "SIGNED" if t.signed else "UNSIGNED"
        return [f"{head} encoding={enc} size={t.size} vlen={len(t.values)}"] + [
            f"\t{_q(v.name)} val={v.value}{_enum64_suffix(t)}" for v in t.values]
    if k == Kind.FWD:
        return [f"{head} fwd_kind={'union' if t.is_union else 'struct'}"]
    if k == Kind.FUNC:
        return [f"{head} type_id={t.type} linkage={t.linkage.name.lower()}"]
    if k == Kind.FUNC_PROTO:
        params = [(p.name, p.type) for p in t.params] + ([("", 0)] if t.variadic else [])
        return [f"{head} ret_type_id={t.ret} vlen={len(params)}"] + [
            f"\t{_q(n)} type_id={pt}" for n, pt in params]
    if k == Kind.VAR:
        return [f"{head} type_id={t.type}, linkage={_VAR_LINKAGE[t.linkage]}"]
    if k == Kind.DATASEC:
        return [f"{head} size={t.size} vlen={len(t.vars)}"] + [
            f"\ttype_id={v.type} offset={v.offset} size={v.size} "
            f"({btf.kind(v.type).name} {_q(btf.name(v.type))})" for v in t.vars]
    if k == Kind.FLOAT:
        return [f"{head} size={t.size}"]
    if k == Kind.DECL_TAG:
        return [f"{head} type_id={t.type} component_idx={t.component_idx}"]
    raise AssertionError(f"unexpected kind {k}")


@needs_bpftool
def test_every_type_matches_bpftool(btf, raw_dump):
    """All ~130k types decoded, compared with libbpf's decoding line by line."""
    assert max(raw_dump) == btf.end_id - 1
    mismatches = []
    for tid in range(1, btf.end_id):
        ours = render(btf, tid)
        if ours != raw_dump[tid]:
            mismatches.append((tid, ours, raw_dump[tid]))
    assert not mismatches, f"{len(mismatches)} types differ, first: {mismatches[:3]}"


@needs_bpftool
@pytest.mark.parametrize("struct_name, members", [
    ("task_struct", ["pid", "tgid", "comm", "real_parent", "mm", "flags"]),
    ("sock_common", ["skc_family", "skc_state", "skc_daddr", "skc_dport"]),
    ("sk_buff", ["len", "data", "head", "protocol"]),
])
def test_member_offsets_match_bpftool(btf, raw_dump, struct_name, members):
    """member() (with its path search) against the offsets bpftool prints."""
    tid = btf.find_one(struct_name, Kind.STRUCT)
    printed = {}
    for line in raw_dump[tid][1:]:
        m = re.match(r"\t'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?",
                     line)
        printed[m[1]] = (int(m[2]), int(m[3]), int(m[4] or 0))
    for name in members:
        if name in printed:            # a direct member: exactly what bpftool says
            assert tuple(btf.member(tid, name)) == printed[name], name
        else:                          # inside an anonymous member: offset adds up
            ref = btf.member(tid, name)
            assert 0 <= ref.byte_offset < btf.sizeof(tid), name


@needs_bpftool
def test_linkage_names_cover_kernel_funcs(btf, raw_dump):
    tid = btf.find_one("vfs_read", Kind.FUNC)
    assert f"linkage={btf.get(tid).linkage.name.lower()}" in raw_dump[tid][0]
    assert btf.get(tid).linkage in (Linkage.GLOBAL, Linkage.STATIC)

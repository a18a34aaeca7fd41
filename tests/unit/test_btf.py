"""pybpftrace.btf on hand-built BTF blobs.

`Builder` below is a tiny BTF encoder written from the format spec
(Documentation/bpf/btf.rst), independent of the reader: each test builds
exactly the types it is about (bitfields, anonymous unions, typedef chains,
split BTF...) and checks what the reader decodes and answers.
"""
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpftrace.btf import Btf, BtfError, Kind, Linkage, MemberRef, reader

K = Kind
INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4


class Builder:
    """Encodes types into a BTF blob.  Methods return the new type's id.
    With `base` (a Builder), encodes split BTF: ids and string offsets
    continue the base's, and strings the base has are not repeated."""

    def __init__(self, base: "Builder | None" = None, split_starts_with_nul: bool = False):
        self.base = base
        self.records: list[bytes] = []
        self.start_id = base.next_id if base else 1
        self.str_base = len(base.strings) if base else 0
        self.strings = bytearray(b"\0" if base is None or split_starts_with_nul else b"")
        self._str_index: dict[str, int] = {}

    @property
    def next_id(self) -> int:
        return self.start_id + len(self.records)

    def s(self, name: str) -> int:
        if not name:
            return 0
        if self.base and name in self.base._str_index:
            return self.base._str_index[name]
        if name not in self._str_index:
            self._str_index[name] = self.str_base + len(self.strings)
            self.strings += name.encode() + b"\0"
        return self._str_index[name]

    def raw_string(self, name: str) -> int:
        """Append `name` even if already present (for non-deduplicated blobs)."""
        off = self.str_base + len(self.strings)
        self.strings += name.encode() + b"\0"
        return off

    def add(self, kind: int, name: str | int, vlen: int, size_or_type: int,
            extra: bytes = b"", kflag: int = 0) -> int:
        name_off = name if isinstance(name, int) else self.s(name)
        info = (kflag << 31) | (kind << 24) | vlen
        self.records.append(struct.pack("<III", name_off, info, size_or_type) + extra)
        return self.next_id - 1

    # one method per kind
    def int(self, name, size, enc=0, bits=None, offset=0):
        bits = size * 8 if bits is None else bits
        return self.add(K.INT, name, 0, size, struct.pack("<I", enc << 24 | offset << 16 | bits))

    def ptr(self, t):
        return self.add(K.PTR, "", 0, t)

    def array(self, t, n, index_type=0):
        return self.add(K.ARRAY, "", 0, 0, struct.pack("<III", t, index_type, n))

    def struct(self, name, size, members, union=False, kflag=None):
        """members: (name, type, bit_offset[, bitfield_size])."""
        if kflag is None:
            kflag = int(any(len(m) > 3 and m[3] for m in members))
        extra = b""
        for m in members:
            off = m[2] | ((m[3] if len(m) > 3 else 0) << 24) if kflag else m[2]
            extra += struct.pack("<III", self.s(m[0]), m[1], off)
        return self.add(K.UNION if union else K.STRUCT, name, len(members), size, extra, kflag)

    def enum(self, name, values, size=4, signed=False):
        extra = b"".join(struct.pack("<Ii", self.s(n), v) if v < 0 else
                         struct.pack("<II", self.s(n), v) for n, v in values)
        return self.add(K.ENUM, name, len(values), size, extra, int(signed))

    def enum64(self, name, values, signed=False):
        extra = b""
        for n, v in values:
            v &= (1 << 64) - 1
            extra += struct.pack("<III", self.s(n), v & 0xFFFFFFFF, v >> 32)
        return self.add(K.ENUM64, name, len(values), 8, extra, int(signed))

    def fwd(self, name, union=False):
        return self.add(K.FWD, name, 0, 0, kflag=int(union))

    def ref(self, kind, t, name=""):
        return self.add(kind, name, 0, t)

    def typedef(self, name, t):
        return self.add(K.TYPEDEF, name, 0, t)

    def func(self, name, proto, linkage=Linkage.GLOBAL):
        return self.add(K.FUNC, name, linkage, proto)

    def func_proto(self, ret, params, variadic=False):
        params = list(params) + ([("", 0)] if variadic else [])
        extra = b"".join(struct.pack("<II", self.s(n), t) for n, t in params)
        return self.add(K.FUNC_PROTO, "", len(params), ret, extra)

    def var(self, name, t, linkage=1):
        return self.add(K.VAR, name, 0, t, struct.pack("<I", linkage))

    def datasec(self, name, size, vars_):
        extra = b"".join(struct.pack("<III", *v) for v in vars_)
        return self.add(K.DATASEC, name, len(vars_), size, extra)

    def float(self, name, size):
        return self.add(K.FLOAT, name, 0, size)

    def decl_tag(self, name, t, component_idx=-1):
        return self.add(K.DECL_TAG, name, 0, t, struct.pack("<i", component_idx))

    def blob(self, magic=0xEB9F, version=1) -> bytes:
        types = b"".join(self.records)
        header = struct.pack("<HBBIIIII", magic, version, 0, 24, 0, len(types), len(types),
                             len(self.strings))
        return header + types + bytes(self.strings)

    def btf(self, base: Btf | None = None, **kw) -> Btf:
        return Btf.from_bytes(self.blob(), base=base, **kw)


def kernelish() -> tuple[Builder, dict]:
    """A few kernel-like types, shared by several tests."""
    b = Builder()
    t = {}
    t["uint"] = b.int("unsigned int", 4)
    t["int"] = b.int("int", 4, INT_SIGNED)
    t["char"] = b.int("char", 1, INT_CHAR | INT_SIGNED)
    t["u16"] = b.int("short unsigned int", 2)
    t["ulong"] = b.int("long unsigned int", 8)
    t["long"] = b.int("long int", 8, INT_SIGNED)
    t["bool"] = b.int("_Bool", 1, INT_BOOL)
    t["u64"] = b.typedef("u64", b.typedef("__u64", b.int("long long unsigned int", 8)))
    t["size_t"] = b.typedef("size_t", b.typedef("__kernel_size_t", t["ulong"]))
    t["comm"] = b.array(t["char"], 16, t["int"])
    # struct sock_common { union { u64 skc_addrpair; struct { u32 daddr, rcv_saddr; }; };
    #                      unsigned short skc_family; unsigned char state:4, reuse:4; }
    inner = b.struct("", 8, [("skc_daddr", t["uint"], 0), ("skc_rcv_saddr", t["uint"], 32)])
    anon_u = b.struct("", 8, [("skc_addrpair", t["u64"], 0), ("", inner, 0)], union=True)
    t["sock_common"] = b.struct("sock_common", 16, [
        ("", anon_u, 0), ("skc_family", t["u16"], 64),
        ("skc_state", t["uint"], 80, 4), ("skc_reuse", t["uint"], 84, 4)])
    t["sock"] = b.struct("sock", 24, [("__sk_common", t["sock_common"], 0),
                                      ("sk_rcvbuf", t["int"], 128)])
    t["sock_ptr"] = b.ptr(t["sock"])
    t["task"] = b.struct("task_struct", 32, [("pid", t["int"], 0), ("comm", t["comm"], 32),
                                             ("sk", t["sock_ptr"], 192)])
    t["file_fwd"] = b.fwd("file")
    t["cchar"] = b.ref(K.CONST, t["char"])
    t["cchar_p"] = b.ptr(t["cchar"])
    t["char_p"] = b.ptr(t["char"])
    t["user_tag"] = b.ref(K.TYPE_TAG, t["char"], "user")
    t["user_char_p"] = b.ptr(t["user_tag"])
    t["loff_p"] = b.ptr(b.typedef("loff_t", t["long"]))
    t["file_p"] = b.ptr(t["file_fwd"])
    t["ssize_t"] = b.typedef("ssize_t", t["long"])
    t["vfs_read_proto"] = b.func_proto(t["ssize_t"], [
        ("file", t["file_p"]), ("buf", t["user_char_p"]), ("count", t["size_t"]),
        ("pos", t["loff_p"])])
    t["vfs_read"] = b.func("vfs_read", t["vfs_read_proto"])
    t["map_type"] = b.enum("bpf_map_type", [("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1)])
    t["anon_enum"] = b.enum("", [("TASK_COMM_LEN", 16)])
    return b, t


@pytest.fixture
def kb():
    b, t = kernelish()
    return b.btf(), t


# ---- header and index ---------------------------------------------------------------

def test_ids_and_counts(kb):
    btf, t = kb
    assert btf.start_id == 1 and btf.end_id == t["anon_enum"] + 1
    assert btf.nr_types == t["anon_enum"]
    assert btf.kind(0) == K.VOID and btf.name(0) == "" and btf.get(0).kind == K.VOID
    assert btf.kind(t["sock"]) == K.STRUCT and btf.name(t["sock"]) == "sock"
    with pytest.raises(BtfError, match="no BTF type id"):
        btf.get(btf.end_id)


@pytest.mark.parametrize("mutate, message", [
    (lambda blob: blob[:10], "too short"),
    (lambda blob: b"\x00\x00" + blob[2:], "bad magic"),
    (lambda blob: struct.pack(">H", 0xEB9F) + blob[2:], "other byte order"),
    (lambda blob: blob[:2] + b"\x02" + blob[3:], "version 2"),
    (lambda blob: blob[:-8], "out of bounds"),
])
def test_bad_headers(mutate, message):
    blob = kernelish()[0].blob()
    with pytest.raises(BtfError, match=message):
        Btf.from_bytes(mutate(blob))


def test_unknown_kind_and_truncated_record():
    b = Builder()
    b.int("int", 4, INT_SIGNED)
    b.add(25, "weird", 0, 0)
    with pytest.raises(BtfError, match="type 2 has unknown kind 25"):
        b.btf()
    b = Builder()
    b.int("int", 4, INT_SIGNED)
    b.records.append(struct.pack("<III", 0, K.STRUCT << 24 | 2, 8) + b"\0" * 12)  # 1 of 2 members
    with pytest.raises(BtfError, match="ends inside type 2"):
        b.btf()


def test_empty_type_section():
    btf = Builder().btf()
    assert btf.nr_types == 0 and btf.find("x") == [] and list(btf.iter_types()) == []


# ---- decoding every kind ---------------------------------------------------------------

def test_ints():
    b = Builder()
    ids = [b.int("int", 4, INT_SIGNED), b.int("char", 1, INT_CHAR), b.int("_Bool", 1, INT_BOOL),
           b.int("__int128 unsigned", 16)]
    btf = b.btf()
    i, c, bl, big = (btf.get(x) for x in ids)
    assert (i.size, i.signed, i.is_char, i.is_bool, i.bits, i.offset) == (4, True, False, False,
                                                                           32, 0)
    assert c.is_char and not c.signed and bl.is_bool and big.size == 16 and big.bits == 128
    assert btf.sizeof(ids[3]) == 16


def test_struct_with_bitfields(kb):
    btf, t = kb
    sc = btf.get(t["sock_common"])
    assert sc.kind == K.STRUCT and sc.size == 16 and not sc.is_union
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in sc.members] == [
        ("", 0, 0), ("skc_family", 64, 0), ("skc_state", 80, 4), ("skc_reuse", 84, 4)]
    assert btf.member(t["sock_common"], "skc_reuse") == MemberRef(t["uint"], 84, 4)


def test_old_style_bitfields_in_int_encoding():
    """kind_flag 0: the member's INT carries bits and a bit offset."""
    b = Builder()
    u = b.int("unsigned int", 4)
    bf3 = b.int("unsigned int", 4, bits=3, offset=2)
    s = b.struct("flags", 4, [("a", u, 0), ("b", bf3, 0)], kflag=0)
    btf = b.btf()
    assert btf.get(s).members[0].bitfield_size == 0
    assert btf.member(s, "b") == MemberRef(bf3, 2, 3)


def test_union_and_anonymous_members(kb):
    btf, t = kb
    # through the anonymous union, then the anonymous struct inside it
    assert btf.member(t["sock_common"], "skc_addrpair") == MemberRef(t["u64"], 0, 0)
    assert btf.member(t["sock_common"], "skc_rcv_saddr") == MemberRef(t["uint"], 32, 0)
    # through an embedded struct
    ref = btf.member(t["sock"], "__sk_common.skc_family")
    assert ref == MemberRef(t["u16"], 64, 0) and ref.byte_offset == 8
    assert btf.member(t["sock"], ["__sk_common", "skc_rcv_saddr"]).bit_offset == 32
    anon = btf.get(btf.get(t["sock_common"]).members[0].type)
    assert anon.kind == K.UNION and anon.is_union and anon.name == ""


def test_member_errors(kb):
    btf, t = kb
    with pytest.raises(BtfError, match="struct sock has no member 'nope'"):
        btf.member(t["sock"], "nope")
    with pytest.raises(BtfError, match=r"struct sock \* is not a struct or union"):
        btf.member(t["task"], "sk.sk_rcvbuf")   # a pointer must be dereferenced first
    with pytest.raises(BtfError, match="int is not a struct"):
        btf.member(t["task"], "pid.x")


def test_member_through_typedef_and_const():
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    s = b.struct("pt", 8, [("x", i, 0), ("y", i, 32)])
    td = b.typedef("pt_t", b.ref(K.CONST, s))
    btf = b.btf()
    assert btf.member(td, "y") == MemberRef(i, 32, 0)


def test_typedef_chain_resolves(kb):
    btf, t = kb
    u64 = btf.find_one("u64", K.TYPEDEF)
    assert u64 == t["u64"]
    target = btf.get(btf.resolve(u64))
    assert target.kind == K.INT and target.size == 8 and not target.signed
    assert btf.sizeof(u64) == 8 and btf.sizeof(t["size_t"]) == 8
    # qualifiers, tags and typedefs all stripped
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    chain = b.ref(K.TYPE_TAG, b.ref(K.RESTRICT, b.typedef("a", b.ref(K.VOLATILE,
                                                                      b.ref(K.CONST, i)))), "x")
    assert b.btf().resolve(chain) == i


def test_modifier_loop_is_an_error():
    b = Builder()
    b.typedef("a", 2)
    b.typedef("b", 1)
    with pytest.raises(BtfError, match="loop"):
        b.btf().resolve(1)


def test_arrays(kb):
    btf, t = kb
    arr = btf.get(t["comm"])
    assert (arr.type, arr.index_type, arr.nelems) == (t["char"], t["int"], 16)
    assert btf.sizeof(t["comm"]) == 16
    assert btf.member(t["task"], "comm") == MemberRef(t["comm"], 32, 0)
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    grid = b.array(b.array(i, 3), 2)
    assert b.btf().sizeof(grid) == 24


def test_enums():
    b = Builder()
    u = b.enum("color", [("RED", 0), ("BIG", 0xFFFFFFFF)])
    s = b.enum("delta", [("DOWN", -1), ("UP", 1)], signed=True)
    e64 = b.enum64("huge", [("H1", 1 << 40), ("H2", 0xFFFFFFFFFFFFFFFF)])
    s64 = b.enum64("neg64", [("N", -(1 << 40))], signed=True)
    btf = b.btf()
    assert [(v.name, v.value) for v in btf.get(u).values] == [("RED", 0), ("BIG", 0xFFFFFFFF)]
    assert not btf.get(u).signed and btf.get(s).signed
    assert [v.value for v in btf.get(s).values] == [-1, 1]
    assert btf.get(e64).kind == K.ENUM64 and btf.sizeof(e64) == 8
    assert [v.value for v in btf.get(e64).values] == [1 << 40, 0xFFFFFFFFFFFFFFFF]
    assert btf.get(s64).values[0].value == -(1 << 40)
    assert btf.enum_value("BIG") == (0xFFFFFFFF, u)
    assert btf.enum_value("DOWN") == (-1, s)
    assert btf.enum_value("H2") == (0xFFFFFFFFFFFFFFFF, e64)
    assert btf.enum_value("N") == (-(1 << 40), s64)
    assert btf.enum_value("color") is None      # a type name, not an enumerator
    assert btf.enum_value("NOPE") is None


def test_enum_value_in_anonymous_enum_and_duplicates(kb):
    btf, t = kb
    assert btf.enum_value("TASK_COMM_LEN") == (16, t["anon_enum"])
    assert btf.enum_value("BPF_MAP_TYPE_HASH") == (1, t["map_type"])
    b = Builder()
    e1 = b.enum("a", [("X", 1), ("Y", 2)])
    e2 = b.enum("b", [("Y", 7)])
    btf = b.btf()
    assert btf.enum_values("Y") == [(2, e1), (7, e2)]
    assert btf.enum_value("Y") == (2, e1)


def test_enumerator_name_shared_with_a_member():
    """The enumerator's name string is also a member name and a type name:
    only the enumerator counts."""
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    b.struct("VAL", 4, [("VAL", i, 0)])
    e = b.enum("e", [("OTHER", 3), ("VAL", 9)])
    assert b.btf().enum_values("VAL") == [(9, e)]


def test_fwd(kb):
    btf, t = kb
    f = btf.get(t["file_fwd"])
    assert f.kind == K.FWD and f.name == "file" and not f.is_union
    with pytest.raises(BtfError, match="incomplete"):
        btf.sizeof(t["file_fwd"])


def test_func_and_proto(kb):
    btf, t = kb
    f = btf.get(t["vfs_read"])
    assert f.kind == K.FUNC and f.linkage == Linkage.GLOBAL and f.type == t["vfs_read_proto"]
    proto = btf.func_proto("vfs_read")
    assert [p.name for p in proto.params] == ["file", "buf", "count", "pos"]
    assert proto.ret == t["ssize_t"] and not proto.variadic
    assert [btf.type_name(p.type) for p in proto.params] == [
        "struct file *", "char *", "size_t", "loff_t *"]
    assert btf.func_proto("nope") is None
    with pytest.raises(BtfError, match="incomplete"):
        btf.sizeof(t["vfs_read"])


def test_variadic_and_void_protos():
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    cc = b.ptr(b.ref(K.CONST, b.int("char", 1, INT_CHAR)))
    printk = b.func_proto(i, [("fmt", cc)], variadic=True)
    b.func("_printk", printk)
    noargs = b.func_proto(0, [])
    b.func("schedule", noargs, Linkage.STATIC)
    btf = b.btf()
    p = btf.func_proto("_printk")
    assert p.variadic and [x.name for x in p.params] == ["fmt"]
    assert btf.type_name(printk) == "int (const char *, ...)"
    assert btf.type_name(noargs) == "void (void)"
    assert btf.get(btf.find_one("schedule")).linkage == Linkage.STATIC
    assert btf.type_name(btf.find_one("_printk")) == "int _printk(const char *, ...)"


def test_var_datasec_float_decl_tag():
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    v = b.var("jiffies_x", i, linkage=1)
    ds = b.datasec(".data", 4, [(v, 0, 4)])
    fl = b.float("double", 8)
    s = b.struct("tagged", 4, [("m", i, 0)])
    tag = b.decl_tag("bpf_kfunc", s, 0)
    tag2 = b.decl_tag("whole", s)
    btf = b.btf()
    var = btf.get(v)
    assert (var.kind, var.name, var.type, var.linkage) == (K.VAR, "jiffies_x", i, Linkage.GLOBAL)
    sec = btf.get(ds)
    assert sec.name == ".data" and sec.size == 4 and sec.vars[0] == (v, 0, 4)
    assert btf.get(fl).size == 8 and btf.sizeof(fl) == 8 and btf.type_name(fl) == "double"
    assert btf.get(tag).component_idx == 0 and btf.get(tag2).component_idx == -1
    assert btf.get(tag).type == s
    assert btf.sizeof(v) == 4 and btf.type_name(v) == "int jiffies_x"


def test_decoded_types_are_memoised_and_immutable(kb):
    btf, t = kb
    assert btf.get(t["sock"]) is btf.get(t["sock"]) is btf[t["sock"]]
    with pytest.raises(AttributeError):
        btf.get(t["sock"]).size = 3


# ---- names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("sock_ptr", "struct sock *"),
    ("uint", "unsigned int"),
    ("comm", "char[16]"),
    ("cchar_p", "const char *"),
    ("user_char_p", "char *"),          # __user tag left out, as bpftrace does
    ("file_p", "struct file *"),
    ("u64", "u64"),
    ("map_type", "enum bpf_map_type"),
    ("anon_enum", "enum {...}"),
    ("vfs_read_proto", "ssize_t (struct file *, char *, size_t, loff_t *)"),
    ("vfs_read", "ssize_t vfs_read(struct file *, char *, size_t, loff_t *)"),
])
def test_type_names(kb, name, expected):
    btf, t = kb
    assert btf.type_name(t[name]) == expected


def test_declarator_names():
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    c = b.int("char", 1, INT_CHAR)
    vp = b.ptr(0)
    fn = b.func_proto(i, [("", vp), ("", b.int("long int", 8, INT_SIGNED))])
    anon_s = b.struct("", 4, [("x", i, 0)])
    anon_u = b.struct("", 4, [("x", i, 0)], union=True)
    ids = {
        "void *": vp,
        "char **": b.ptr(b.ptr(c)),
        "char * const": b.ref(K.CONST, b.ptr(c)),
        "const char * const": b.ref(K.CONST, b.ptr(b.ref(K.CONST, c))),
        "volatile int": b.ref(K.VOLATILE, i),
        "int (*)(void *, long int)": b.ptr(fn),
        "int (*[4])(void *, long int)": b.array(b.ptr(fn), 4),
        "char *[4]": b.array(b.ptr(c), 4),
        "char (*)[16]": b.ptr(b.array(c, 16)),
        "int[2][3]": b.array(b.array(i, 3), 2),
        "struct {...}": anon_s,
        "union {...} *": b.ptr(anon_u),
        "union u": b.fwd("u", union=True),
    }
    btf = b.btf()
    assert {name: btf.type_name(tid) for name, tid in ids.items()} == {n: n for n in ids}
    assert btf.type_name(0) == "void"


def test_find_and_kinds(kb):
    btf, t = kb
    assert btf.find("sock") == [t["sock"]]
    assert btf.find("sock", K.STRUCT) == [t["sock"]]
    assert btf.find("sock", K.UNION) == []
    assert btf.find("sock_common") == [t["sock_common"]]   # "sock" is a prefix of it
    assert btf.find("unsigned int") == [t["uint"]]
    assert btf.find("nope") == [] and btf.find("") == [] and btf.find("a\0b") == []
    assert btf.find("pid") == []            # member names are not types
    assert btf.find("RED") == []
    assert btf.find_one("vfs_read", K.FUNC) == t["vfs_read"]
    assert btf.find_one("vfs_read", [K.STRUCT, K.UNION]) is None


def test_same_name_many_kinds():
    b = Builder()
    fwd = b.fwd("foo")
    s = b.struct("foo", 4, [("x", b.int("int", 4, INT_SIGNED), 0)])
    td = b.typedef("foo", s)
    fu = b.fwd("bar", union=True)
    btf = b.btf()
    assert btf.find("foo") == [fwd, s, td]
    assert btf.find("foo", [K.STRUCT, K.FWD]) == [fwd, s]
    assert btf.lookup("struct foo") == s                 # definition over declaration
    assert btf.lookup("foo") == td
    assert btf.lookup("union bar") == fu                 # only a declaration exists
    assert btf.lookup("struct bar") is None


def test_lookup_c_names(kb):
    btf, t = kb
    assert btf.lookup("struct task_struct") == t["task"]
    assert btf.lookup("struct  sock") == t["sock"]
    assert btf.lookup("enum bpf_map_type") == t["map_type"]
    assert btf.lookup("unsigned int") == t["uint"]
    assert btf.lookup("u64") == t["u64"]
    assert btf.lookup("void") == 0
    assert btf.lookup("struct nope") is None and btf.lookup("union sock") is None


def test_duplicate_strings_when_not_deduplicated():
    """A blob that repeats a string: each copy's types are found, unless the
    caller promised unique strings (as for the kernel's BTF)."""
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    first = b.typedef("dup", i)
    second = b.add(K.TYPEDEF, b.raw_string("dup"), 0, i)
    assert b.btf().find("dup") == [first, second]
    assert b.btf(unique_strings=True).find("dup") == [first]


def test_iter_types(kb):
    btf, t = kb
    assert list(btf.iter_types()) == list(range(1, btf.end_id))
    assert list(btf.iter_types(K.FUNC)) == [t["vfs_read"]]
    assert list(btf.iter_types(K.ENUM)) == [t["map_type"], t["anon_enum"]]
    assert list(btf.iter_types(K.FWD)) == [t["file_fwd"]]


def test_ptr_size_follows_long():
    b = Builder()
    b.int("long int", 4, INT_SIGNED)
    p = b.ptr(0)
    assert b.btf().sizeof(p) == 4
    b = Builder()
    assert b.btf().ptr_size == 8


def test_sizeof_void_is_an_error():
    with pytest.raises(BtfError, match=r"sizeof\(void\)"):
        Builder().btf().sizeof(0)


def test_tp_btf_proto():
    b = Builder()
    vp = b.ptr(0)
    i = b.int("int", 4, INT_SIGNED)
    unnamed = b.func_proto(0, [("", vp), ("", i)])
    b.typedef("btf_trace_foo", b.ptr(unnamed))
    named = b.func_proto(0, [("__data", vp), ("cpu", i)])
    b.func("__bpf_trace_bar", named, Linkage.STATIC)
    b.typedef("btf_trace_bar", b.ptr(unnamed))
    btf = b.btf()
    assert btf.tp_btf_proto("foo").id == unnamed
    assert [p.name for p in btf.tp_btf_proto("bar").params] == ["__data", "cpu"]
    assert btf.tp_btf_proto("baz") is None


# ---- split BTF -------------------------------------------------------------------------------

def split_pair(split_starts_with_nul=False):
    base, t = kernelish()
    mod = Builder(base, split_starts_with_nul)
    m = {}
    m["state"] = mod.enum("nf_state", [("NF_NEW", 1), ("TASK_COMM_LEN", 99)])  # new strings
    m["conn"] = mod.struct("nf_conn", 16, [
        ("task", base_ptr := mod.ptr(t["task"]), 0),          # refers into the base
        ("pid", t["int"], 64),                                # base string "pid"
        ("st", m["state"], 96)])
    m["conn_p"] = mod.ptr(m["conn"])
    m["sock_td"] = mod.typedef("sock", t["sock"])                  # base's string "sock"
    m["proto"] = mod.func_proto(t["int"], [("ct", m["conn_p"]), ("sk", t["sock_ptr"])])
    m["fn"] = mod.func("nf_ct_get", m["proto"])
    m["base_ptr"] = base_ptr
    base_btf = base.btf()
    return base_btf, mod.btf(base=base_btf), t, m, mod


@pytest.mark.parametrize("nul", [False, True], ids=["no-leading-nul", "leading-nul"])
def test_split_btf(nul):
    base, mod, t, m, builder = split_pair(nul)
    assert mod.start_id == base.end_id == builder.start_id and mod.base is base
    assert m["state"] == mod.start_id
    # base types through the split object
    assert mod.get(t["sock"]) is base.get(t["sock"])
    assert mod.type_name(t["sock_ptr"]) == "struct sock *"
    # split types
    conn = mod.get(m["conn"])
    assert [x.name for x in conn.members] == ["task", "pid", "st"]
    assert mod.type_name(m["conn_p"]) == "struct nf_conn *"
    assert mod.type_name(m["base_ptr"]) == "struct task_struct *"
    assert mod.member(m["conn"], "pid") == MemberRef(t["int"], 64, 0)
    assert mod.sizeof(m["conn"]) == 16
    # names across both; the first split string has offset base.str_len
    assert mod.find("nf_state") == [m["state"]]
    assert mod.find("sock") == [t["sock"], m["sock_td"]]
    assert mod.find("sock", K.TYPEDEF) == [m["sock_td"]]
    assert base.find("sock") == [t["sock"]]
    assert mod.lookup("struct sock") == t["sock"]
    assert mod.enum_value("NF_NEW") == (1, m["state"])
    assert mod.enum_values("TASK_COMM_LEN") == [(16, t["anon_enum"]), (99, m["state"])]
    assert mod.enum_value("BPF_MAP_TYPE_HASH") == (1, t["map_type"])
    proto = mod.func_proto("nf_ct_get")
    assert [(p.name, mod.type_name(p.type)) for p in proto.params] == [
        ("ct", "struct nf_conn *"), ("sk", "struct sock *")]
    assert mod.func_proto("vfs_read").params[0].name == "file"
    assert list(mod.iter_types(K.FUNC)) == [t["vfs_read"], m["fn"]]
    assert mod.kind(m["fn"]) == K.FUNC and mod.name(t["task"]) == "task_struct"
    with pytest.raises(BtfError):
        base.get(m["conn"])          # the base knows nothing of its split


def test_split_btf_of_split_btf():
    _base, mod, _t, m, builder = split_pair()
    sub = Builder(builder)
    x = sub.typedef("nf_conn_t", m["conn"])
    btf = sub.btf(base=mod)
    assert btf.start_id == mod.end_id == x
    assert btf.member(x, "st").type == m["state"]
    assert btf.find("nf_conn") == [m["conn"]]
    assert btf.str_at(0) == ""


# ---- loading files and the index cache ------------------------------------------------------

@pytest.fixture
def blob_file(tmp_path):
    b, t = kernelish()
    path = tmp_path / "vmlinux"
    path.write_bytes(b.blob())
    return path, t


def test_load_file_without_cache(blob_file):
    path, t = blob_file
    btf = Btf.load(str(path), cache_dir=False)
    assert btf.lookup("struct sock") == t["sock"] and btf.origin == str(path)
    assert not btf.unique_strings


def test_load_missing_file(tmp_path):
    with pytest.raises(BtfError, match="No such file"):
        Btf.load(str(tmp_path / "nope"))


def test_load_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(BtfError, match="too short"):
        Btf.load(str(tmp_path / "empty"), cache_dir=False)


def test_index_cache(blob_file, tmp_path, monkeypatch):
    path, t = blob_file
    cache = tmp_path / "cache"
    monkeypatch.setattr(reader, "CACHE_MIN_BYTES", 0)
    first = Btf.load(str(path), cache_dir=str(cache))
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].startswith("btf-vmlinux-") and files[0].endswith(".idx")

    built = []
    monkeypatch.setattr(reader, "_build_index", lambda *a: built.append(1) or [])
    second = Btf.load(str(path), cache_dir=str(cache))
    assert not built, "the cached index was not used"
    for name in ("sock", "task_struct", "vfs_read", "u64"):
        assert second.find(name) == first.find(name)
    assert second.enum_value("TASK_COMM_LEN") == (16, t["anon_enum"])
    assert list(second.iter_types(K.ENUM)) == [t["map_type"], t["anon_enum"]]
    assert second.member(t["sock"], "__sk_common.skc_family").bit_offset == 64


def test_index_cache_invalidated_by_change(blob_file, tmp_path, monkeypatch):
    path, _ = blob_file
    cache = tmp_path / "cache"
    monkeypatch.setattr(reader, "CACHE_MIN_BYTES", 0)
    Btf.load(str(path), cache_dir=str(cache))
    old = os.listdir(cache)
    b, _ = kernelish()
    b.typedef("extra_t", 1)
    path.write_bytes(b.blob())
    btf = Btf.load(str(path), cache_dir=str(cache))
    assert btf.find("extra_t") == [btf.end_id - 1]
    new = os.listdir(cache)
    assert len(new) == 1 and new != old, "the old entry is pruned"


def test_damaged_cache_is_rebuilt(blob_file, tmp_path, monkeypatch):
    path, t = blob_file
    cache = tmp_path / "cache"
    monkeypatch.setattr(reader, "CACHE_MIN_BYTES", 0)
    Btf.load(str(path), cache_dir=str(cache))
    entry = cache / os.listdir(cache)[0]
    data = bytearray(entry.read_bytes())
    hdr = reader._CACHE_HEADER.size
    data[hdr:hdr + 4] = struct.pack("<I", 3)       # first offset no longer 0
    entry.write_bytes(bytes(data))
    btf = Btf.load(str(path), cache_dir=str(cache))
    assert btf.lookup("struct sock") == t["sock"]
    entry.write_bytes(b"garbage")
    assert Btf.load(str(path), cache_dir=str(cache)).lookup("struct sock") == t["sock"]


def test_unwritable_cache_dir_means_no_cache(blob_file, tmp_path, monkeypatch):
    path, t = blob_file
    monkeypatch.setattr(reader, "CACHE_MIN_BYTES", 0)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    btf = Btf.load(str(path), cache_dir=str(not_a_dir / "sub"))
    assert btf.lookup("struct sock") == t["sock"]


def test_small_files_are_not_cached(blob_file, tmp_path):
    path, _ = blob_file
    Btf.load(str(path), cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()


def test_default_cache_dir(monkeypatch):
    monkeypatch.setenv("PYBPFTRACE_CACHE_DIR", "/x/y")
    assert reader.default_cache_dir() == "/x/y"
    monkeypatch.setenv("PYBPFTRACE_CACHE_DIR", "")
    assert reader.default_cache_dir() is None
    monkeypatch.delenv("PYBPFTRACE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert reader.default_cache_dir() == "/xdg/pybpftrace"


# ---- the index against a straightforward decoder, on random type sections -----------------

_kind_records = st.one_of(
    st.tuples(st.just(K.INT), st.integers(0, 0)),
    st.tuples(st.sampled_from([K.PTR, K.TYPEDEF, K.CONST, K.VOLATILE, K.FWD, K.FLOAT]),
              st.integers(0, 0)),
    st.tuples(st.just(K.ARRAY), st.integers(0, 0)),
    st.tuples(st.sampled_from([K.STRUCT, K.UNION, K.ENUM, K.ENUM64, K.FUNC_PROTO, K.DATASEC]),
              st.integers(0, 40)),
    st.tuples(st.sampled_from([K.VAR, K.DECL_TAG]), st.integers(0, 0)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_kind_records, max_size=60), st.booleans())
def test_index_matches_record_sizes(records, kflag):
    """Random type sections: every record is found where its predecessors'
    spec-given sizes put it, with its kind, name and vlen intact."""
    b = Builder()
    for n, (kind, vlen) in enumerate(records):
        per = {K.STRUCT: 12, K.UNION: 12, K.ENUM: 8, K.ENUM64: 12, K.FUNC_PROTO: 8,
               K.DATASEC: 12}.get(kind, 0)
        fixed = {K.INT: 4, K.ARRAY: 12, K.VAR: 4, K.DECL_TAG: 4}.get(kind, 0)
        b.add(kind, f"t{n}", vlen, 0, b"\0" * (fixed + per * vlen), kflag)
    btf = b.btf()
    assert btf.nr_types == len(records)
    for n, (kind, vlen) in enumerate(records, start=1):
        assert btf.kind(n) == kind and btf.name(n) == f"t{n - 1}"
        assert btf.find(f"t{n - 1}") == [n]


def test_unknown_linkage_is_a_btf_error():
    b = Builder()
    b.func("f", b.func_proto(0, []), linkage=7)
    with pytest.raises(BtfError, match="unknown linkage 7"):
        b.btf().get(2)


def test_declarations_for_struct_listings():
    b = Builder()
    i = b.int("int", 4, INT_SIGNED)
    c = b.int("char", 1, INT_CHAR)
    comm = b.array(c, 16)
    fn_p = b.ptr(b.func_proto(i, [("", b.ptr(0))]))
    const_p = b.ref(K.CONST, b.ptr(c))
    btf = b.btf()
    assert btf.declaration(comm, "comm") == "char comm[16]"
    assert btf.declaration(i, "pid") == "int pid"
    assert btf.declaration(fn_p, "fn") == "int (*fn)(void *)"
    assert btf.declaration(const_p, "p") == "char * const p"

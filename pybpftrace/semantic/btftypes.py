"""Kernel types from BTF, as BpfScript types (struct navigation without headers).

The BTF object (a pybpftrace.btf.Btf; the semantic layer gets it from
KernelInfo.kernel_btf() and only uses its methods) is asked only when a
program names a struct or uses `curtask`.  A BTF struct or union is a `Kind.RECORD` Type whose `name`
is the C name ("struct task_struct") and whose `btf_id` is its type id (so
anonymous members' types are reachable too).  Member types map as 0.17's BTF
parser maps them:

* integers keep their width and sign (`bool` and `char` are 8-bit), enums are
  integers of their size;
* pointers point to the mapped target (`void *` and pointers to functions are
  pointers to nothing);
* arrays of chars are strings of the array's length; other arrays are
  `Kind.ARRAY` of their element;
* structs and unions are records, sized as in C.  A record only gets its
  members (`complete()`) when its value is copied out of the kernel, to be
  stored or printed: navigating `curtask->mm->...` never decodes a member list.

What cannot be mapped (floats, functions, zero-sized arrays) gives None.

Typedef names (`pid_t`, `u64`, `atomic_t`) name the type they stand for
(`named_type()`), and enumerators are integer constants (`enum_value()`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from pybpftrace.types import Int, Kind, Member, String, Type


def record(b, name: str) -> Type | None:
    """The record type of "struct foo" / "union foo" in BTF `b` (None: no such type)."""
    if b is None:
        return None
    words = name.split()
    if len(words) != 2 or words[0] not in ("struct", "union"):
        return None
    try:
        tid = b.lookup(name)
    except Exception:
        return None
    if tid is None:
        return None
    return to_type(b, tid)


def record_id(b, t: Type) -> int | None:
    """The BTF id of a record type (looked up by name when not recorded)."""
    if t.btf_id:
        return t.btf_id
    r = record(b, t.name) if t.name else None
    return r.btf_id if r is not None else None


def is_plain_char(t) -> bool:
    """Is BTF type `t` plain `char`?  Only arrays of it are strings: 0.17 gets
    kernel types through clang, which makes strings of `char` arrays only,
    not of `unsigned char` or `__u8` ones (those are arrays of integers)."""
    return t.kind.name == "INT" and t.size == 1 and (t.is_char or t.name == "char")


def to_type(b, tid: int, depth: int = 0) -> Type | None:
    """The BpfScript Type of BTF type `tid`."""
    alias = _typedef_name(b, tid)
    tid = b.resolve(tid)
    if tid == 0:
        return None
    t = b.get(tid)
    k = t.kind.name
    if k == "INT":
        if t.size not in (1, 2, 4, 8):
            return None
        return Int(t.size * 8, t.signed and not t.is_bool)
    if k in ("ENUM", "ENUM64"):
        return Int(t.size * 8 if t.size in (1, 2, 4, 8) else 64, t.signed)
    if k in ("STRUCT", "UNION"):
        word = "union" if k == "UNION" else "struct"
        # An anonymous one is known by its typedef's name (kuid_t), as clang names it for 0.17.
        name = f"{word} {t.name}" if t.name else alias or b.type_name(tid)
        return Type(Kind.RECORD, name=name, btf_id=tid, size=t.size, record_align=align(b, tid))
    if k == "FWD":
        full = b.lookup(f"{'union' if t.is_union else 'struct'} {t.name}")
        if full is not None and b.kind(full).name != "FWD":
            return to_type(b, full, depth)
        return Type(Kind.RECORD, name=f"{'union' if t.is_union else 'struct'} {t.name}")
    if k == "PTR":
        inner = to_type(b, t.type, depth + 1) if depth < 8 else None
        return Type(Kind.PTR, inner=inner)
    if k == "ARRAY":
        elem = b.get(b.resolve(t.type))
        if is_plain_char(elem):
            return String(t.nelems) if t.nelems else None
        inner = to_type(b, t.type, depth + 1)
        if inner is None or t.nelems == 0 or inner.byte_size == 0:
            return None
        return Type(Kind.ARRAY, size=t.nelems, inner=inner)
    return None


def _typedef_name(b, tid: int) -> str:
    """The name of the last typedef on the way from `tid` to the type it stands for."""
    name = ""
    for _ in range(64):
        if tid == 0 or b.kind(tid).name not in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT",
                                                "TYPE_TAG"):
            break
        t = b.get(tid)
        if t.kind.name == "TYPEDEF":
            name = t.name
        tid = t.type
    return name


def named_type(b, name: str) -> Type | None:
    """The type a C type name stands for: "struct sock", "union bpf_attr", or a
    typedef or base type name ("pid_t", "u64", "sector_t", "atomic_t"), looked
    through to an integer, pointer or record."""
    if b is None:
        return None
    words = name.split()
    if words and words[0] in ("struct", "union"):
        return record(b, name)
    try:
        tid = b.lookup(name)
    except Exception:
        return None
    if not tid:
        return None
    return to_type(b, tid)


def enum_value(b, name: str) -> int | None:
    """The value of enumerator `name` (of the first enum that has one), or None."""
    if b is None:
        return None
    found = b.enum_value(name)
    return found[0] if found is not None else None


_COMPLETE: dict[tuple[int, int], Type] = {}


def complete(b, t: Type) -> Type:
    """Record `t` with its members (and those of records and arrays of records
    inside it) filled in, as 0.17 lays a struct out for printing: members of
    anonymous structs and unions are listed as members of the record around
    them; members that cannot be mapped are left out.  Other types come back
    as they are."""
    if t.kind is Kind.ARRAY and t.inner is not None and t.inner.kind is Kind.RECORD:
        return Type(Kind.ARRAY, size=t.size, inner=complete(b, t.inner))
    if t.kind is not Kind.RECORD or t.members or not t.btf_id or b is None:
        return t
    key = (id(b), t.btf_id)
    done = _COMPLETE.get(key)
    if done is None:
        members: list[Member] = []
        flatten_members(t.btf_id, 0, members, lambda tid: _btf_members(b, tid),
                        lambda mt: complete(b, mt))
        done = _COMPLETE[key] = Type(Kind.RECORD, name=t.name, btf_id=t.btf_id, size=t.size,
                                     members=tuple(members), record_align=t.record_align)
    return done if done.name == t.name else Type(Kind.RECORD, name=t.name, btf_id=t.btf_id,
                                                 size=t.size, members=done.members,
                                                 record_align=t.record_align)


class RawMember(NamedTuple):
    """One member as a record's source describes it (BTF, or a script's C
    definition), for flatten_members."""
    name: str
    bit_offset: int
    bitfield_size: int
    type: Type | None      # the mapped type of a named member
    anonymous: object      # an anonymous struct/union member: its record, as members_of takes it


def flatten_members(record, bit_base: int, out: list[Member], members_of, complete_type) -> None:
    """Append `record`'s members to `out` as 0.17 lists them for printing:
    members of anonymous structs and unions in place, members without a
    BpfScript type (or of size 0) left out, bitfields only when integers.
    `members_of(record)` gives RawMembers; `complete_type` fills nested records."""
    for m in members_of(record):
        bit = bit_base + m.bit_offset
        if not m.name:
            if m.anonymous is not None:
                flatten_members(m.anonymous, bit, out, members_of, complete_type)
            continue
        mt = m.type
        if mt is None or mt.byte_size == 0:
            continue
        if m.bitfield_size:
            if mt.kind is Kind.INT:
                out.append(Member(m.name, mt, bit // 8, bit % 8, m.bitfield_size))
            continue
        out.append(Member(m.name, complete_type(mt), bit // 8))


def _btf_members(b, tid: int):
    for m in b.get(b.resolve(tid)).members:
        if m.name:
            yield RawMember(m.name, m.bit_offset, m.bitfield_size, to_type(b, m.type), None)
        else:
            inner = b.get(b.resolve(m.type))
            yield RawMember("", m.bit_offset, 0, None,
                            inner.id if inner.kind.name in ("STRUCT", "UNION") else None)


@lru_cache(maxsize=None)
def align(b, tid: int) -> int:
    """The alignment of BTF type `tid`, which BTF does not record: that of its
    widest member (x86_64 SysV), or 1 for a struct that has a member at an
    offset its type cannot have (a packed struct).  For laying out script
    structs that embed kernel types (semantic.cdefs)."""
    tid = b.resolve(tid)
    t = b.get(tid)
    k = t.kind.name
    if k in ("INT", "ENUM", "ENUM64", "FLOAT"):
        return t.size if t.size in (1, 2, 4, 8, 16) else 1
    if k == "PTR":
        return b.ptr_size
    if k == "ARRAY":
        return align(b, t.type)
    if k in ("STRUCT", "UNION"):
        widest = 1
        for m in t.members:
            a = align(b, m.type)
            if not m.bitfield_size and m.bit_offset % (a * 8):
                return 1
            widest = max(widest, a)
        return widest if t.size % widest == 0 else 1
    return 1


def user_pointer(b, tid: int) -> bool:
    """Whether BTF type `tid` is a pointer into user memory (`T __user *`: the
    pointee carries the type tag "user", where the kernel's BTF has tags)."""
    t = b.get(b.resolve(tid))
    if t.kind.name != "PTR":
        return False
    pointee = t.type
    while pointee and b.kind(pointee).name in ("CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
        if b.kind(pointee).name == "TYPE_TAG" and b.name(pointee) == "user":
            return True
        pointee = b.get(pointee).type
    return False


class MemberAccess(NamedTuple):
    """Where a member lives, for codegen: bit offset from the start of the
    record, bitfield size (0: not a bitfield) and the member type's size."""
    bit_offset: int
    bitfield_size: int
    size: int

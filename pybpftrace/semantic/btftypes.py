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
* structs and unions are records.

What cannot be mapped (floats, functions, zero-sized arrays) gives None.
"""
from __future__ import annotations

from typing import NamedTuple

from pybpftrace.types import Int, Kind, String, Type


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


def _is_char(t) -> bool:
    return t.kind.name == "INT" and t.size == 1 and (t.is_char or "char" in t.name)


def to_type(b, tid: int, depth: int = 0) -> Type | None:
    """The BpfScript Type of BTF type `tid`."""
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
        return Type(Kind.RECORD, name=f"{word} {t.name}" if t.name else b.type_name(tid),
                    btf_id=tid)
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
        if _is_char(elem):
            return String(t.nelems) if t.nelems else None
        inner = to_type(b, t.type, depth + 1)
        if inner is None or t.nelems == 0 or inner.kind is Kind.RECORD:
            return None
        return Type(Kind.ARRAY, size=t.nelems, inner=inner)
    return None


class MemberAccess(NamedTuple):
    """Where a member lives, for codegen: bit offset from the start of the
    record, bitfield size (0: not a bitfield) and the member type's size."""
    bit_offset: int
    bitfield_size: int
    size: int

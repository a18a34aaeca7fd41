"""Decoded BTF types: one small immutable record per BTF kind.

The reader (reader.py) decodes a type only when it is asked for, into one of
these.  They hold type *ids*, never other decoded types, so decoding
`struct task_struct` does not drag in the ~thousand types it reaches; callers
follow ids through `Btf.get()` as far as they need.  Field names follow the
kernel's uapi/linux/btf.h and Documentation/bpf/btf.rst.

They are typed NamedTuples rather than dataclasses on purpose: defining
eighteen frozen slotted dataclasses costs ~15 ms of import time (each one
exec()s generated code), NamedTuples ~2 ms, and this module is on the start-up
path of every script that touches a kernel type.  Every record has a `kind`
field, so records of different kinds never compare equal.
"""
from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class BtfError(Exception):
    """Malformed BTF, or a question about it that has no answer (no such
    member, not a struct, sizeof an incomplete type)."""


class Kind(IntEnum):
    """BTF_KIND_* from uapi/linux/btf.h (bits 24-28 of btf_type.info)."""
    VOID = 0          # BTF_KIND_UNKN; only type id 0 ("void") is this
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Kinds that only qualify or rename another type: resolve() looks through them.
MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
QUALIFIERS = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}


class Linkage(IntEnum):
    """btf_func_linkage (FUNC's vlen) and the VAR linkage word."""
    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class Void(NamedTuple):
    id: int = 0
    name: str = ""
    kind: Kind = Kind.VOID


class Int(NamedTuple):
    """A C integer.  `bits`/`offset` are the BTF_INT_BITS/OFFSET of the
    encoding word: they differ from size*8/0 only in old-style bitfield BTF."""
    id: int
    name: str
    size: int
    signed: bool
    is_char: bool
    is_bool: bool
    bits: int
    offset: int
    kind: Kind = Kind.INT


class Ptr(NamedTuple):
    id: int
    name: str
    type: int
    kind: Kind = Kind.PTR


class Array(NamedTuple):
    id: int
    name: str
    type: int
    index_type: int
    nelems: int
    kind: Kind = Kind.ARRAY


class Member(NamedTuple):
    """A struct/union member.  `bit_offset` is from the start of the
    enclosing struct; `bitfield_size` is 0 for an ordinary member."""
    name: str
    type: int
    bit_offset: int
    bitfield_size: int


class Struct(NamedTuple):
    """STRUCT or UNION (see `kind`).  An empty name is an anonymous one."""
    id: int
    name: str
    kind: Kind
    size: int
    members: tuple[Member, ...]

    @property
    def is_union(self) -> bool:
        return self.kind == Kind.UNION


class Enumerator(NamedTuple):
    name: str
    value: int


class Enum(NamedTuple):
    """ENUM or ENUM64 (see `kind`); values already sign-corrected."""
    id: int
    name: str
    kind: Kind
    size: int
    signed: bool
    values: tuple[Enumerator, ...]


class Fwd(NamedTuple):
    """A forward declaration: `struct foo;` or `union foo;`."""
    id: int
    name: str
    is_union: bool
    kind: Kind = Kind.FWD


class Ref(NamedTuple):
    """TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG: a name or qualifier on
    `type` (a TYPE_TAG's name is the tag, e.g. "user" for __user)."""
    id: int
    name: str
    kind: Kind
    type: int


class Func(NamedTuple):
    """A kernel (or program) function; `type` is its FUNC_PROTO."""
    id: int
    name: str
    type: int
    linkage: Linkage
    kind: Kind = Kind.FUNC


class Param(NamedTuple):
    name: str
    type: int


class FuncProto(NamedTuple):
    """Return type id (0 = void) and parameters; a trailing `...` is
    `variadic`, not a Param."""
    id: int
    name: str
    ret: int
    params: tuple[Param, ...]
    variadic: bool
    kind: Kind = Kind.FUNC_PROTO


class Var(NamedTuple):
    id: int
    name: str
    type: int
    linkage: Linkage
    kind: Kind = Kind.VAR


class VarSecinfo(NamedTuple):
    type: int
    offset: int
    size: int


class Datasec(NamedTuple):
    id: int
    name: str
    size: int
    vars: tuple[VarSecinfo, ...]
    kind: Kind = Kind.DATASEC


class Float(NamedTuple):
    id: int
    name: str
    size: int
    kind: Kind = Kind.FLOAT


class DeclTag(NamedTuple):
    """A tag on `type` itself (component_idx -1) or on its member/param
    number `component_idx`."""
    id: int
    name: str
    type: int
    component_idx: int
    kind: Kind = Kind.DECL_TAG


BtfType = (Void | Int | Ptr | Array | Struct | Enum | Fwd | Ref | Func | FuncProto
           | Var | Datasec | Float | DeclTag)


class MemberRef(NamedTuple):
    """Where `Btf.member()` found a (possibly nested) member: its type id, its
    bit offset from the start of the outermost struct, and its bitfield size
    (0 unless a bitfield)."""
    type: int
    bit_offset: int
    bitfield_size: int

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8

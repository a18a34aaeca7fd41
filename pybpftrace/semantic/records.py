"""Where the type checker finds C types by name: the script's C definitions
first (semantic.cdefs), then the kernel's BTF (semantic.btftypes).

bpftrace 0.17 keeps one table of struct layouts, filled from the script's C
definitions and from BTF, and a definition in the script wins over BTF's; its
enum constants are identifiers of the program.  `Records` answers the
questions btftypes answers for BTF (record, named type, enumerator, members,
complete value layout) over both sources.  A script record is a
`Kind.RECORD` Type without a `btf_id`, found by name; a member of either
kind is a `btftypes.MemberAccess`, which is all codegen needs to read it.

In a uprobe's program, 0.17 also finds records in the probed binary's DWARF
(semantic.dwarf, a CDefs too), after the script's and before BTF's.
"""
from __future__ import annotations

from typing import NamedTuple

from pybpftrace.semantic import btftypes
from pybpftrace.types import Kind, Member, Type


class UnknownRecord(LookupError):
    pass


class NoSuchField(LookupError):
    pass


class Field(NamedTuple):
    type: Type | None      # None: a C type no BpfScript type fits (`spelling` says which)
    access: btftypes.MemberAccess
    spelling: str          # the member's C type, for messages


class Records:
    def __init__(self, cdefs, btf, dwarf=lambda: None):
        self.cdefs = cdefs   # semantic.cdefs.CDefs, or None when the script has no C definitions
        self.btf = btf       # () -> the kernel's BTF or None (asked for when first needed)
        self.dwarf = dwarf   # () -> the probed binary's semantic.dwarf.DebugInfo, or None

    def _defs(self, name: str):
        """(the C definitions defining record `name`, its Record), or (None, None):
        the script's, else (only asked when needed) the probed binary's DWARF."""
        if not name:
            return None, None
        if self.cdefs is not None and (rec := self.cdefs.record(name)) is not None:
            return self.cdefs, rec
        debug = self.dwarf() if name.split()[:1] in (["struct"], ["union"]) else None
        rec = debug.record(name) if debug is not None else None
        return (debug, rec) if rec is not None else (None, None)

    def _script(self, name: str):
        return self._defs(name)[1]

    def _sized(self, t: Type | None, depth: int = 0) -> Type | None:
        """`t` with its records resolved: a script struct names what it points
        to before that is laid out, or by name only (`struct task_struct *`)."""
        if t is None or depth > 8:
            return t
        if t.kind is Kind.PTR and t.inner is not None:
            inner = self._sized(t.inner, depth + 1)
            return t if inner is t.inner else Type(Kind.PTR, inner=inner, ctx=t.ctx)
        if t.kind is Kind.RECORD and not t.btf_id and not t.size:
            return self.record(t.name) or t
        return t

    def record(self, name: str) -> Type | None:
        """The record type "struct foo" / "union foo", or None."""
        rec = self._script(name) if name.split()[:1] in (["struct"], ["union"]) else None
        if rec is not None:
            return Type(Kind.RECORD, name=rec.name, size=rec.size, record_align=rec.align)
        return btftypes.record(self.btf(), name)

    def named_type(self, name: str) -> Type | None:
        """What a C type name stands for (see btftypes.named_type): a script
        record or typedef, else BTF's."""
        if self.cdefs is not None:
            if name.split()[:1] in (["struct"], ["union"]):
                if self._script(name) is not None:
                    return self.record(name)
            elif name in self.cdefs.typedefs:
                return self._sized(self.cdefs.typedefs[name].type)
        return btftypes.named_type(self.btf(), name)

    def enum_value(self, name: str) -> int | None:
        """The value of enumerator `name` of the script's enums, else of BTF's."""
        if self.cdefs is not None and name in self.cdefs.enums:
            return self.cdefs.enums[name]
        return btftypes.enum_value(self.btf(), name)

    def field(self, t: Type, name: str) -> Field:
        """Member `name` of record type `t`; raises UnknownRecord or NoSuchField."""
        defs, rec = self._defs(t.name)
        if rec is not None:
            m = defs.member(rec, name)
            if m is None:
                raise NoSuchField(name)
            return Field(self._sized(m.ctype.type),
                         btftypes.MemberAccess(m.bit_offset, m.bitfield_size, m.ctype.size),
                         m.ctype.spelling)
        b = self.btf()
        tid = btftypes.record_id(b, t) if b is not None else None
        if tid is None:
            raise UnknownRecord(t.name)
        try:
            ref = b.member(tid, name)
        except Exception:
            raise NoSuchField(name) from None
        ft = btftypes.to_type(b, ref.type)
        size = b.sizeof(ref.type) if ft is not None else 0
        return Field(ft, btftypes.MemberAccess(ref.bit_offset, ref.bitfield_size, size),
                     b.type_name(ref.type))

    def offsetof(self, t: Type, path: str) -> int:
        """offsetof(t, a.b) in bytes; raises UnknownRecord or NoSuchField."""
        offset = 0
        for part in path.split("."):
            if t is None or t.kind is not Kind.RECORD:
                raise NoSuchField(part)
            f = self.field(t, part)
            offset += f.access.bit_offset // 8
            t = f.type
        return offset

    def complete(self, t: Type) -> Type:
        """Record `t` (or an array of records) with its members, for storing
        or printing its value (see btftypes.complete)."""
        if t.kind is Kind.ARRAY and t.inner is not None and t.inner.kind is Kind.RECORD:
            return Type(Kind.ARRAY, size=t.size, inner=self.complete(t.inner))
        rec = self._script(t.name) if t.kind is Kind.RECORD and not t.members else None
        if rec is None:
            return btftypes.complete(self.btf(), t)
        members: list[Member] = []
        btftypes.flatten_members(rec, 0, members, self._raw_members, self.complete)
        return Type(Kind.RECORD, name=rec.name, size=rec.size, record_align=rec.align,
                    members=tuple(members))

    def _raw_members(self, rec):
        for m in rec.members:
            mt = self._sized(m.ctype.type)
            anonymous = None if m.name or mt is None else self._script(mt.name)
            yield btftypes.RawMember(m.name, m.bit_offset, m.bitfield_size, mt, anonymous)

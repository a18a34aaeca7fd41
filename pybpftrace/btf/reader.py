"""A lazy reader of the kernel's BTF (/sys/kernel/btf/vmlinux and modules).

Why lazy: vmlinux BTF is ~5 MB and ~130k types, and a one-liner that casts to
one struct must start about as fast as one that touches none.  So the file is
mapped (mmap, zero copy; read() where mmap is refused), and the only work done
up front is an *index*: the word offset of every type record, one tight pass
over the type section (~28 ms for vmlinux), cached on disk keyed by the file's
identity so later runs load it in about a millisecond.  Types are decoded one
at a time when asked for.

Names are looked up without a dict of all ~130k names (building one costs
~30 ms): the name is found in the string section with a C-speed `find` (the
kernel's strings are deduplicated, so the first hit is the only one), then its
string offset is found, again with `find`, in a packed table of every type's
name offset.  Enumerators get the same kind of table.  A lookup costs 0.1-2
ms; the tables are built on first use (5-10 ms each for vmlinux) and cached
with the index.

Split BTF (kernel modules) continues type ids after its base and string
offsets after the base's strings; `Btf.load(path, base=vmlinux)` reads it and
answers for both, asking the base for what is the base's.

Only native-endian BTF is read, which is what the running kernel provides.
"""
from __future__ import annotations

import mmap
import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from .types import (
    MODIFIERS,
    QUALIFIERS,
    Array,
    BtfError,
    BtfType,
    Datasec,
    DeclTag,
    Enum,
    Enumerator,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Linkage,
    Member,
    MemberRef,
    Param,
    Ptr,
    Ref,
    Struct,
    Var,
    VarSecinfo,
    Void,
)

BTF_SYSFS = "/sys/kernel/btf"
VMLINUX = BTF_SYSFS + "/vmlinux"
MAGIC = 0xEB9F
_HEADER = struct.Struct("=HBBIIIII")   # magic version flags hdr_len type_off/len str_off/len
_LITTLE = sys.byteorder == "little"
_VOID = Void()

# Words (u32) that follow a type's 3-word btf_type header: fixed, and per vlen item.
_EXTRA_WORDS = {Kind.INT: (1, 0), Kind.PTR: (0, 0), Kind.ARRAY: (3, 0), Kind.STRUCT: (0, 3),
                Kind.UNION: (0, 3), Kind.ENUM: (0, 2), Kind.FWD: (0, 0), Kind.TYPEDEF: (0, 0),
                Kind.VOLATILE: (0, 0), Kind.CONST: (0, 0), Kind.RESTRICT: (0, 0),
                Kind.FUNC: (0, 0), Kind.FUNC_PROTO: (0, 2), Kind.VAR: (1, 0),
                Kind.DATASEC: (0, 3), Kind.FLOAT: (0, 0), Kind.DECL_TAG: (1, 0),
                Kind.TYPE_TAG: (0, 0), Kind.ENUM64: (0, 3)}
# The same, indexed by `info >> 24` (kind in bits 0-4, kind_flag in bit 7) so the
# index loop needs no masking.  Invalid kinds are None: the loop then fails with
# a TypeError, which costs nothing per type and is turned into a BtfError.
_STEP_BASE: list[int | None] = [None] * 256
_STEP_MULT: list[int | None] = [None] * 256
for _kind, (_fixed, _per) in _EXTRA_WORDS.items():
    for _flag in (0, 0x80):
        _STEP_BASE[_kind | _flag], _STEP_MULT[_kind | _flag] = 3 + _fixed, _per

# Below this type-section size indexing takes well under a millisecond: no cache.
CACHE_MIN_BYTES = 256 * 1024
_CACHE_MAGIC = b"PYBTFIX1"
_CACHE_HEADER = struct.Struct("=8sQII")   # magic, key, number of types, of enumerators


class Btf:
    """One BTF object (vmlinux, a module on top of it, or a blob).

    Type ids are global: 0 is void, the base's ids come first, then this
    object's own `start_id .. end_id - 1`.  Every method answers for the base's
    types too."""

    def __init__(self, buf, base: Btf | None = None, *, origin: str = "<bytes>",
                 tables: dict | None = None, unique_strings: bool = False):
        """Use `Btf.load()` or `Btf.from_bytes()`.  `buf` is bytes or an mmap.
        `unique_strings`: the string section holds each string once (as the
        kernel's, deduplicated by pahole, does), so a name search may stop at
        the first hit instead of scanning the whole section (~1 ms)."""
        if len(buf) < _HEADER.size:
            raise BtfError(f"{origin}: too short for a BTF header")
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            _HEADER.unpack_from(buf)
        if magic != MAGIC:
            swapped = magic == 0x9FEB
            raise BtfError(f"{origin}: " + ("BTF of the other byte order is not supported"
                                            if swapped else "not BTF (bad magic)"))
        if version != 1:
            raise BtfError(f"{origin}: unsupported BTF version {version}")
        self.origin = origin
        self.base = base
        self.unique_strings = unique_strings
        self._buf = buf
        self._ts, self._tl = hdr_len + type_off, type_len
        self._ss, self._sl = hdr_len + str_off, str_len
        if self._ts + type_len > len(buf) or self._ss + str_len > len(buf) or type_len % 4:
            raise BtfError(f"{origin}: type or string section out of bounds")
        self._words = memoryview(buf)[self._ts:self._ts + type_len].cast("I")
        # Memos of the two searches a name lookup makes (each scans megabytes):
        # string -> its own offsets, and name -> ids of own types with that name.
        self._offsets_of: dict[str, list[int]] = {}
        self._ids_named: dict[str, list[int]] = {}
        self.start_id = base.end_id if base else 1
        self._str_base = base._str_base + base._sl if base else 0
        tables = tables or {}
        self._offs: array = tables.get("offsets") or _build_index(self._words, origin,
                                                                  self.start_id)
        # Derived tables, built on first use (or read from the cache):
        self._names_be: bytes | None = tables.get("names")    # name_off per type
        self._kinds: bytes | None = tables.get("kinds")       # info >> 24 per type
        self._enum_names_be: bytes | None = tables.get("enum_names")  # per enumerator
        self._enum_pos: array | None = tables.get("enum_pos")         # its word offset
        self._types: dict[int, BtfType] = {}
        self._ptr_size: int | None = None

    # ---- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str = VMLINUX, base: Btf | None = None,
             cache_dir: str | None | bool = None) -> Btf:
        """Map `path` and index it.  `base` is the BTF a split (module) BTF
        continues.  `cache_dir`: None for the default index cache directory
        (see `default_cache_dir()`), False for no cache, or a directory."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise BtfError(f"{path}: {e.strerror}") from None
        try:
            st = os.fstat(fd)
            buf = _map(fd, st.st_size)
        finally:
            os.close(fd)
        unique = os.path.realpath(path).startswith(BTF_SYSFS + "/")
        if cache_dir is None:
            cache_dir = default_cache_dir()
        header = buf[:_HEADER.size]
        if not cache_dir or len(buf) < _HEADER.size \
                or _HEADER.unpack(header)[5] < CACHE_MIN_BYTES:
            return cls(buf, base, origin=path, unique_strings=unique)
        key = _identity(path, st, buf)
        cached = _read_cache(cache_dir, path, key)
        if cached is not None:
            try:
                btf = cls(buf, base, origin=path, tables=cached, unique_strings=unique)
                btf._check_index()
                return btf
            except BtfError:
                pass  # stale or damaged: rebuild below
        btf = cls(buf, base, origin=path, unique_strings=unique)
        _write_cache(cache_dir, path, key, btf._all_tables())
        return btf

    @classmethod
    def from_bytes(cls, data: bytes, base: Btf | None = None, origin: str = "<bytes>",
                   unique_strings: bool = False) -> Btf:
        """A blob already in memory (tests, BTF from an ELF section)."""
        return cls(bytes(data), base, origin=origin, unique_strings=unique_strings)

    def _check_index(self) -> None:
        """Cheap sanity of a cached index: it starts at 0 and its last record
        ends exactly where the type section does."""
        offs, words = self._offs, self._words
        if not offs or offs[0] != 0:
            raise BtfError("bad index")
        last = offs[-1]
        if last + 1 >= len(words):
            raise BtfError("bad index")
        info = words[last + 1]
        base, mult = _STEP_BASE[info >> 24], _STEP_MULT[info >> 24]
        if base is None or last + base + (info & 0xFFFF) * mult != len(words):
            raise BtfError("bad index")

    # ---- ids, strings and raw fields ----------------------------------------------

    @property
    def end_id(self) -> int:
        """One past the last type id (a split BTF on top of this starts here)."""
        return self.start_id + len(self._offs)

    @property
    def nr_types(self) -> int:
        """Number of types in this object alone (not the base)."""
        return len(self._offs)

    def __repr__(self) -> str:
        return f"<Btf {self.origin} ids {self.start_id}..{self.end_id - 1}>"

    def _rec(self, tid: int) -> int:
        """Word offset of own type `tid`'s record."""
        try:
            return self._offs[tid - self.start_id]
        except IndexError:
            raise BtfError(f"no BTF type id {tid} in {self.origin}") from None

    def _owner(self, tid: int) -> Btf:
        btf = self
        while tid < btf.start_id:
            if btf.base is None:
                raise BtfError(f"bad BTF type id {tid}")
            btf = btf.base
        return btf

    def str_at(self, off: int) -> str:
        """The string at string offset `off` (base offsets come first)."""
        if off < self._str_base:
            return self.base.str_at(off)
        off -= self._str_base
        if off >= self._sl:
            raise BtfError(f"string offset {off + self._str_base} out of range")
        start = self._ss + off
        end = self._buf.find(b"\0", start, self._ss + self._sl)
        if end < 0:
            raise BtfError(f"unterminated string at {off + self._str_base}")
        return self._buf[start:end].decode("utf-8", "replace")

    def kind(self, tid: int) -> Kind:
        """The kind of `tid`, without decoding it."""
        if tid == 0:
            return Kind.VOID
        btf = self._owner(tid)
        return Kind(btf._words[btf._rec(tid) + 1] >> 24 & 0x1F)

    def name(self, tid: int) -> str:
        """The name of `tid` ("" for anonymous types and void), without decoding it."""
        if tid == 0:
            return ""
        btf = self._owner(tid)
        return btf.str_at(btf._words[btf._rec(tid)])

    # ---- decoding ------------------------------------------------------------------

    def get(self, tid: int) -> BtfType:
        """The decoded type `tid` (memoised)."""
        if tid == 0:
            return _VOID
        if tid < self.start_id:
            return self._owner(tid).get(tid)
        t = self._types.get(tid)
        if t is None:
            t = self._types[tid] = self._decode(tid)
        return t

    __getitem__ = get

    def _decode(self, tid: int) -> BtfType:
        w, words = self._rec(tid), self._words
        name_off, info, size_or_type = words[w], words[w + 1], words[w + 2]
        kind, vlen, kflag = Kind(info >> 24 & 0x1F), info & 0xFFFF, info >> 31
        name = self.str_at(name_off)
        p = w + 3
        if kind == Kind.INT:
            enc = words[p]
            return Int(tid, name, size_or_type, signed=bool(enc >> 24 & 1),
                       is_char=bool(enc >> 24 & 2), is_bool=bool(enc >> 24 & 4),
                       bits=enc & 0xFF, offset=enc >> 16 & 0xFF)
        if kind == Kind.PTR:
            return Ptr(tid, name, size_or_type)
        if kind == Kind.ARRAY:
            return Array(tid, name, words[p], words[p + 1], words[p + 2])
        if kind in (Kind.STRUCT, Kind.UNION):
            return Struct(tid, name, kind, size_or_type, tuple(
                self._member(words[q], words[q + 1], words[q + 2], kflag)
                for q in range(p, p + 3 * vlen, 3)))
        if kind == Kind.ENUM:
            conv = _s32 if kflag else int
            return Enum(tid, name, kind, size_or_type, bool(kflag), tuple(
                Enumerator(self.str_at(words[q]), conv(words[q + 1]))
                for q in range(p, p + 2 * vlen, 2)))
        if kind == Kind.ENUM64:
            conv = _s64 if kflag else int
            return Enum(tid, name, kind, size_or_type, bool(kflag), tuple(
                Enumerator(self.str_at(words[q]), conv(words[q + 1] | words[q + 2] << 32))
                for q in range(p, p + 3 * vlen, 3)))
        if kind == Kind.FWD:
            return Fwd(tid, name, bool(kflag))
        if kind in MODIFIERS:
            return Ref(tid, name, kind, size_or_type)
        if kind == Kind.FUNC:
            return Func(tid, name, size_or_type, _linkage(vlen, tid))
        if kind == Kind.FUNC_PROTO:
            params = [Param(self.str_at(words[q]), words[q + 1])
                      for q in range(p, p + 2 * vlen, 2)]
            variadic = bool(params) and params[-1] == Param("", 0)
            return FuncProto(tid, name, size_or_type, tuple(params[:-1] if variadic else params),
                             variadic)
        if kind == Kind.VAR:
            return Var(tid, name, size_or_type, _linkage(words[p], tid))
        if kind == Kind.DATASEC:
            return Datasec(tid, name, size_or_type, tuple(
                VarSecinfo(words[q], words[q + 1], words[q + 2])
                for q in range(p, p + 3 * vlen, 3)))
        if kind == Kind.FLOAT:
            return Float(tid, name, size_or_type)
        if kind == Kind.DECL_TAG:
            return DeclTag(tid, name, size_or_type, _s32(words[p]))
        raise BtfError(f"type {tid}: unexpected kind {kind}")

    def _member(self, name_off: int, tid: int, offset: int, kflag: int) -> Member:
        """kind_flag set: offset holds bitfield size (bits 24-31) and bit offset.
        Unset: a bitfield, if any, is described by the member's INT encoding
        (old-style BTF), whose offset adds to the member's."""
        if kflag:
            return Member(self.str_at(name_off), tid, offset & 0xFFFFFF, offset >> 24)
        bits = 0
        if tid and self.kind(tid) == Kind.INT:
            t = self.get(tid)
            if t.bits != t.size * 8 or t.offset:
                bits, offset = t.bits, offset + t.offset
        return Member(self.str_at(name_off), tid, offset, bits)

    # ---- lookup by name --------------------------------------------------------------

    def _own_string_offsets(self, name: str) -> list[int]:
        """Global offsets of the string `name` in this object's own string
        section.  BTF strings are deduplicated, so this is usually one."""
        memo = self._offsets_of.get(name)
        if memo is not None:
            return memo
        needle = name.encode() + b"\0"
        buf, start, end = self._buf, self._ss, self._ss + self._sl
        found = []
        # A split BTF's string section need not start with "", so its first
        # string has no NUL in front of it.
        if buf[start:start + len(needle)] == needle:
            found.append(self._str_base)
        pos = -1 if found and self.unique_strings else buf.find(b"\0" + needle, start, end)
        while pos >= 0:
            found.append(pos + 1 - start + self._str_base)
            pos = -1 if self.unique_strings else buf.find(b"\0" + needle, pos + 1, end)
        self._offsets_of[name] = found
        return found

    def _string_offsets(self, name: str) -> list[int]:
        """Offsets of `name` in the strings this object's types may use:
        its own and, for split BTF, its base's."""
        if not name or "\0" in name:
            return []
        found = self.base._string_offsets(name) if self.base else []
        return found + self._own_string_offsets(name)

    def _names_table(self) -> bytes:
        """name_off of every own type in id order, as big-endian u32s."""
        if self._names_be is None:
            names = array("I", map(self._words.__getitem__, self._offs))
            self._names_be = _big_endian(names)
        return self._names_be

    def _kinds_table(self) -> bytes:
        """`info >> 24` (kind, and kind_flag in bit 7) of every own type."""
        if self._kinds is None:
            infos = array("I", map(self._words[1:].__getitem__, self._offs))
            top = infos.tobytes()
            self._kinds = top[3::4] if _LITTLE else top[0::4]
        return self._kinds

    def _enum_table(self) -> tuple[bytes, array]:
        """(big-endian name_off, word offset) of every enumerator of every
        own ENUM and ENUM64, found through the kinds table."""
        if self._enum_names_be is None:
            kinds, offs, words = self._kinds_table(), self._offs, self._words
            ids = sorted(_positions(kinds, (Kind.ENUM, Kind.ENUM | 0x80, Kind.ENUM64,
                                            Kind.ENUM64 | 0x80)))
            names, pos = array("I"), array("I")
            for i in ids:
                rec = offs[i]
                per = 2 if kinds[i] & 0x1F == Kind.ENUM else 3
                for q in range(rec + 3, rec + 3 + per * (words[rec + 1] & 0xFFFF), per):
                    pos.append(q)
                    names.append(words[q])
            self._enum_names_be, self._enum_pos = _big_endian(names), pos
        return self._enum_names_be, self._enum_pos

    def _all_tables(self) -> dict:
        """Every table, built now: what goes into the cache."""
        enum_names, enum_pos = self._enum_table()
        return {"offsets": self._offs, "names": self._names_table(), "kinds": self._kinds_table(),
                "enum_names": enum_names, "enum_pos": enum_pos}

    def find(self, name: str, kind: Kind | Iterable[Kind] | None = None) -> list[int]:
        """Ids of the types called `name` (of `kind`, or any of the kinds given),
        lowest id first.  Members and enumerators are not types: see `member()`
        and `enum_value()`."""
        kinds = None if kind is None else {kind} if isinstance(kind, int) else set(kind)
        ids = self.base.find(name, kinds) if self.base else []
        own = self._ids_named.get(name)
        if own is None:
            names = self._names_table()
            own = self._ids_named[name] = sorted(
                self.start_id + i for off in self._string_offsets(name)
                for i in _word_hits(names, off))
        return ids + [t for t in own if kinds is None or self.kind(t) in kinds]

    def find_one(self, name: str, kind: Kind | Iterable[Kind] | None = None) -> int | None:
        """The lowest id `find()` gives, or None."""
        ids = self.find(name, kind)
        return ids[0] if ids else None

    def lookup(self, cname: str) -> int | None:
        """The id of a type named as in C: "struct sock", "union bpf_attr",
        "enum bpf_map_type", "u64", "unsigned int" (not pointers or arrays).
        A complete definition is preferred to a forward declaration."""
        words = cname.split()
        if len(words) >= 2 and words[0] in ("struct", "union", "enum"):
            name = " ".join(words[1:])
            kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,),
                     "enum": (Kind.ENUM, Kind.ENUM64)}[words[0]]
            ids = self.find(name, kinds)
            if not ids and words[0] != "enum":
                ids = [t for t in self.find(name, Kind.FWD)
                       if self.get(t).is_union == (words[0] == "union")]
            return ids[0] if ids else None
        if cname.strip() == "void":
            return 0
        return self.find_one(" ".join(words), (Kind.TYPEDEF, Kind.INT, Kind.FLOAT))

    def iter_types(self, kind: Kind | None = None) -> Iterator[int]:
        """All type ids (base first), or those of one kind.  A full pass: for
        listings, not for the compiler's hot path."""
        if self.base:
            yield from self.base.iter_types(kind)
        if kind is None:
            yield from range(self.start_id, self.end_id)
            return
        for i in sorted(_positions(self._kinds_table(), (kind, kind | 0x80))):
            yield self.start_id + i

    # ---- helpers for the compiler ----------------------------------------------------

    def resolve(self, tid: int) -> int:
        """`tid` with typedefs, const/volatile/restrict and type tags stripped."""
        for _ in range(64):
            if tid == 0 or self.kind(tid) not in MODIFIERS:
                return tid
            tid = self.get(tid).type
        raise BtfError(f"type {tid}: modifier loop")

    @property
    def ptr_size(self) -> int:
        """BTF does not record pointer size; like libbpf, take that of `long`."""
        if self._ptr_size is None:
            tid = self.find_one("long int", Kind.INT) or self.find_one("long unsigned int",
                                                                         Kind.INT)
            self._ptr_size = self.get(tid).size if tid else 8
        return self._ptr_size

    def sizeof(self, tid: int) -> int:
        """Size in bytes, as C's sizeof.  Raises BtfError for void, forward
        declarations and functions."""
        t = self.get(self.resolve(tid))
        if t.kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT,
                      Kind.DATASEC):
            return t.size
        if t.kind == Kind.PTR:
            return self.ptr_size
        if t.kind == Kind.ARRAY:
            return t.nelems * self.sizeof(t.type)
        if t.kind == Kind.VAR:
            return self.sizeof(t.type)
        raise BtfError(f"sizeof({self.type_name(tid)}): incomplete type")

    def type_name(self, tid: int) -> str:
        """The C name of a type as bpftrace -lv prints it: "struct sock *",
        "unsigned int", "char[16]", "const char *", "int (*)(void *)".
        Type tags (__user, __rcu) are left out, as bpftrace does."""
        t = self.get(tid)
        if t.kind == Kind.FUNC:
            return self._decl(t.type, t.name)
        if t.kind == Kind.VAR:
            return self._decl(t.type, t.name)
        return self._decl(tid, "")

    def declaration(self, tid: int, name: str) -> str:
        """C declaration of `name` with type `tid`, as in a struct listing
        (-lv): "char comm[16]", "struct sock *sk", "int (*fn)(void *)"."""
        return self._decl(tid, name)

    def _decl(self, tid: int, d: str) -> str:
        """C declaration text of type `tid` around declarator `d`."""
        t = self.get(tid)
        k = t.kind
        if k == Kind.TYPE_TAG:
            return self._decl(t.type, d)
        if k == Kind.PTR or (k in QUALIFIERS and self.kind(self._skip_tags(t.type)) == Kind.PTR):
            ptr = t if k == Kind.PTR else self.get(self._skip_tags(t.type))
            d = "*" + (f" {QUALIFIERS[k]}" if k != Kind.PTR else "") + (
                (" " if k != Kind.PTR and d else "") + d)
            if self.kind(self._skip_tags(ptr.type)) in (Kind.ARRAY, Kind.FUNC_PROTO):
                d = f"({d})"
            return self._decl(ptr.type, d)
        if k in QUALIFIERS:
            return f"{QUALIFIERS[k]} {self._decl(t.type, d)}"
        if k == Kind.ARRAY:
            return self._decl(t.type, f"{d}[{t.nelems}]")
        if k == Kind.FUNC_PROTO:
            params = [self._decl(p.type, "") for p in t.params] + (["..."] if t.variadic else [])
            return self._decl(t.ret, f"{d}({', '.join(params) or 'void'})")
        spec = self._spec(t)
        if not d:
            return spec
        return spec + d if d.startswith("[") else f"{spec} {d}"

    def _skip_tags(self, tid: int) -> int:
        while tid and self.kind(tid) == Kind.TYPE_TAG:
            tid = self.get(tid).type
        return tid

    @staticmethod
    def _spec(t: BtfType) -> str:
        if t.kind == Kind.VOID:
            return "void"
        if t.kind in (Kind.STRUCT, Kind.UNION):
            word = "union" if t.kind == Kind.UNION else "struct"
            return f"{word} {t.name}" if t.name else f"{word} {{...}}"
        if t.kind in (Kind.ENUM, Kind.ENUM64):
            return f"enum {t.name}" if t.name else "enum {...}"
        if t.kind == Kind.FWD:
            return f"{'union' if t.is_union else 'struct'} {t.name}"
        return t.name

    def member(self, tid: int, path: str | Iterable[str]) -> MemberRef:
        """Find member `path` ("a.b.c") of struct/union `tid` (typedefs and
        qualifiers allowed), looking into anonymous struct/union members as C
        does, and through embedded (not pointed-to) structs for each dot.
        Returns (type id, bit offset from the start of `tid`, bitfield size)."""
        parts = path.split(".") if isinstance(path, str) else list(path)
        cur, bit_offset, bitfield = tid, 0, 0
        for part in parts:
            comp = self.get(self.resolve(cur))
            if comp.kind not in (Kind.STRUCT, Kind.UNION):
                raise BtfError(f"{self.type_name(cur)} is not a struct or union "
                               f"(looking for member '{part}')")
            found = self._find_member(comp, part)
            if found is None:
                raise BtfError(f"{self.type_name(comp.id)} has no member '{part}'")
            cur, off, bitfield = found
            bit_offset += off
        return MemberRef(cur, bit_offset, bitfield)

    def _find_member(self, comp: Struct, name: str) -> tuple[int, int, int] | None:
        for m in comp.members:
            if m.name == name:
                return m.type, m.bit_offset, m.bitfield_size
            if not m.name:
                inner = self.get(self.resolve(m.type))
                if inner.kind in (Kind.STRUCT, Kind.UNION):
                    found = self._find_member(inner, name)
                    if found is not None:
                        return found[0], m.bit_offset + found[1], found[2]
        return None

    def enum_values(self, name: str) -> list[tuple[int, int]]:
        """(value, enum type id) of every enumerator called `name`, lowest id
        first.  Only the enums that contain it are decoded."""
        found = self.base.enum_values(name) if self.base else []
        offsets = self._string_offsets(name)
        if not offsets:
            return found
        names, pos = self._enum_table()
        own = []
        for off in offsets:
            for j in _word_hits(names, off):
                w = pos[j]
                i = bisect_right(self._offs, w) - 1
                per = 2 if self._kinds_table()[i] & 0x1F == Kind.ENUM else 3
                tid = self.start_id + i
                own.append((self.get(tid).values[(w - self._offs[i] - 3) // per].value, tid))
        return found + sorted(own, key=lambda vt: vt[1])

    def enum_value(self, name: str) -> tuple[int, int] | None:
        """(value, enum type id) of enumerator `name` (the first, if several
        enums define it), or None."""
        found = self.enum_values(name)
        return found[0] if found else None

    def func_proto(self, name: str) -> FuncProto | None:
        """The prototype of kernel function `name` (params carry names), or None."""
        tid = self.find_one(name, Kind.FUNC)
        if tid is None:
            return None
        proto = self.get(self.get(tid).type)
        return proto if proto.kind == Kind.FUNC_PROTO else None

    def tp_btf_proto(self, tracepoint: str) -> FuncProto | None:
        """The prototype of raw tracepoint `tracepoint` (tp_btf / raw_tp
        args): that of the kernel's `__bpf_trace_<name>`, whose params are
        named, else the `btf_trace_<name>` typedef's.  Its first param is the
        tracepoint's `void *__data`, which is not an argument of the event."""
        proto = self.func_proto(f"__bpf_trace_{tracepoint}")
        if proto is not None:
            return proto
        tid = self.find_one(f"btf_trace_{tracepoint}", Kind.TYPEDEF)
        if tid is None:
            return None
        ptr = self.get(self.resolve(tid))
        if ptr.kind != Kind.PTR:
            return None
        proto = self.get(self.resolve(ptr.type))
        return proto if proto.kind == Kind.FUNC_PROTO else None


# ---- the index -------------------------------------------------------------------------

def _build_index(words: memoryview, origin: str, start_id: int = 1) -> array:
    """Word offset of every type record: one pass, nothing decoded."""
    offs = array("I")
    append = offs.append
    base, mult = _STEP_BASE, _STEP_MULT
    i, n, k = 0, len(words), 0
    try:
        while i < n:
            append(i)
            info = words[i + 1]
            k = info >> 24
            i += base[k] + (info & 0xFFFF) * mult[k]
    except TypeError:
        raise BtfError(f"{origin}: type {start_id + len(offs) - 1} has unknown kind "
                       f"{k & 0x1F} (info byte {k:#04x})") from None
    except IndexError:
        i = n + 1
    if i != n:
        raise BtfError(f"{origin}: type section ends inside type {start_id + len(offs) - 1}")
    return offs


def _big_endian(words: array) -> bytes:
    if _LITTLE:
        words.byteswap()
    return words.tobytes()


def _word_hits(table: bytes, value: int) -> Iterator[int]:
    """Indexes of the big-endian u32 `value` in `table`.  The needle leaves
    out the value's leading zero bytes: string offsets are < 2**24, so most
    table bytes are zeros, and a needle with zeros in it makes `find` crawl
    (~0.7 ms for vmlinux's table; ~0.05 ms without)."""
    full = value.to_bytes(4, "big")
    pat = full.lstrip(b"\0")
    if len(pat) < 2:        # too short to be selective: search for all of it
        pat = full
    lead = 4 - len(pat)
    pos = table.find(pat)
    while pos >= 0:
        start = pos - lead
        if start % 4 == 0 and table[start:start + 4] == full:
            yield start // 4
        pos = table.find(pat, pos + 1)


def _positions(table: bytes, values: Iterable[int]) -> Iterator[int]:
    """Indexes of every byte of `table` equal to one of `values` (memchr speed)."""
    for v in values:
        pos = table.find(v)
        while pos >= 0:
            yield pos
            pos = table.find(v, pos + 1)


def _linkage(value: int, tid: int) -> Linkage:
    try:
        return Linkage(value)
    except ValueError:
        raise BtfError(f"type {tid}: unknown linkage {value}") from None


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


def _map(fd: int, size: int):
    """The file's bytes: a read-only private mapping (sysfs BTF allows only
    that, since Linux 6.16), else one read()."""
    if size:
        try:
            return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            pass
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


# ---- the on-disk index cache -------------------------------------------------------------

def default_cache_dir() -> str | None:
    """$PYBPFTRACE_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/pybpftrace,
    else /var/cache/pybpftrace for root and ~/.cache/pybpftrace for others."""
    env = os.environ.get("PYBPFTRACE_CACHE_DIR")
    if env is not None:
        return env or None
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(xdg, "pybpftrace")
    if os.geteuid() == 0:
        return "/var/cache/pybpftrace"
    home = os.path.expanduser("~")
    return os.path.join(home, ".cache", "pybpftrace") if home != "~" else None


def _identity(path: str, st: os.stat_result, buf) -> int:
    """64-bit key of the file's identity: path, size, mtime, and checksums of
    its header and first and last 4 KiB (vmlinux BTF's mtime is the boot)."""
    meta = f"{os.path.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    sample = bytes(buf[:4096]) + bytes(buf[-4096:])
    return zlib.crc32(meta + sample) << 32 | zlib.adler32(sample + meta)


def _cache_prefix(path: str) -> str:
    """Cache file names of one BTF file (by real path) start with this."""
    real = os.path.realpath(path)
    return f"btf-{os.path.basename(real)}-{zlib.crc32(real.encode()):08x}-"


def _cache_path(cache_dir: str, path: str, key: int) -> str:
    return os.path.join(cache_dir, f"{_cache_prefix(path)}{key:016x}.idx")


def _read_cache(cache_dir: str, path: str, key: int) -> dict | None:
    """The tables `_all_tables()` wrote, or None.  Only files we own are
    trusted (a forged index would make us misread types)."""
    try:
        with open(_cache_path(cache_dir, path, key), "rb") as f:
            if os.fstat(f.fileno()).st_uid != os.geteuid():
                return None
            data = f.read()
    except OSError:
        return None
    if len(data) < _CACHE_HEADER.size:
        return None
    magic, got_key, n, m = _CACHE_HEADER.unpack_from(data)
    sizes = (4 * n, 4 * n, n, 4 * m, 4 * m)
    if magic != _CACHE_MAGIC or got_key != key or len(data) != _CACHE_HEADER.size + sum(sizes):
        return None
    parts, pos = [], _CACHE_HEADER.size
    for size in sizes:
        parts.append(data[pos:pos + size])
        pos += size
    offsets, enum_pos = array("I"), array("I")
    offsets.frombytes(parts[0])
    enum_pos.frombytes(parts[4])
    return {"offsets": offsets, "names": parts[1], "kinds": parts[2],
            "enum_names": parts[3], "enum_pos": enum_pos}


def _write_cache(cache_dir: str, path: str, key: int, tables: dict) -> None:
    """Best effort: write atomically, drop this file's older entries; any
    error just means no cache."""
    target = _cache_path(cache_dir, path, key)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_CACHE_HEADER.pack(_CACHE_MAGIC, key, len(tables["offsets"]),
                                       len(tables["enum_pos"])))
            f.writelines(tables[part] for part in ("offsets", "names", "kinds", "enum_names", "enum_pos"))
        os.replace(tmp, target)
        prefix = _cache_prefix(path)
        for entry in os.listdir(cache_dir):
            if entry.startswith(prefix) and entry.endswith(".idx") \
                    and entry != os.path.basename(target):
                os.unlink(os.path.join(cache_dir, entry))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass

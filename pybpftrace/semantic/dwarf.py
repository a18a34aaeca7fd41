"""Types from a binary's DWARF debug info: uprobe `args` and the binary's structs.

bpftrace 0.17 built with libdw types a uprobe's `args->NAME` as parameter NAME
of the probed function (read from argument register N, N its position), and
finds `struct Foo` of a uprobe's program in the binary's DWARF when the
script does not define it.  We read DWARF with pyelftools, from the binary or
its separate debug file (/usr/lib/debug/.build-id/xx/yyyy.debug, as libdw's
standard find_debuginfo finds it).

Parsing is lazy and cached per file: nothing is read until a uprobe program
asks, and then only the compilation unit holding the function (found through
.debug_aranges by the function's address, else by walking CU headers).  A
struct asked for by name (a cast) is looked for in the CUs already parsed
first, then in the others.

Types map as 0.17's Dwarf::get_stype maps them: typedefs, const, volatile are
looked through; booleans, chars and integers keep their width and sign; enums
are unsigned of their size; arrays of chars (signed or unsigned) are strings;
structs and unions are records laid out as DWARF says, with their members
(bitfields too, which 0.17 leaves to clang), as semantic.cdefs records.
Floats and functions map to nothing (None).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpftrace.semantic.cdefs import CDefs, CType, Member, Record
from pybpftrace.types import Int, Kind, String, Type

_PEELED = ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type",
           "DW_TAG_restrict_type", "DW_TAG_atomic_type")
_RECORD_TAGS = {"DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union"}


class Param(NamedTuple):
    """A formal parameter of a function: its name, C type, and spelling as 0.17's -lv prints it."""
    name: str
    ctype: CType
    spelling: str


def _name(die) -> str:
    a = die.attributes.get("DW_AT_name")
    return a.value.decode(errors="replace") if a is not None else ""


def _type_die(die):
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _origin(die):
    """The DIE that holds `die`'s name and type: itself, or what it is an
    out-of-line instance or definition of (abstract origin, specification)."""
    for _ in range(4):
        for attr in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if attr in die.attributes:
                die = die.get_DIE_from_attribute(attr)
                break
        else:
            return die
    return die


def spelling(die) -> str:
    """A type DIE's name as 0.17's Dwarf::get_type_name spells it (`struct Foo*`,
    `char const*`... only `const` among qualifiers, and `<unknown type>` else)."""
    if die is None:  # `const void`: libdw finds no type DIE to name
        return "<unknown type>"
    tag = die.tag
    if tag in ("DW_TAG_base_type", "DW_TAG_typedef"):
        return _name(die)
    if tag == "DW_TAG_pointer_type":
        inner = _type_die(die)
        return spelling(inner) + "*" if inner is not None else "void*"
    if tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_enumeration_type"):
        prefix = {"DW_TAG_structure_type": "struct ", "DW_TAG_union_type": "union "}.get(tag, "enum ")
        return prefix + (_name(die) or "<anonymous>")
    if tag == "DW_TAG_const_type":
        inner = _type_die(die)
        if inner is not None and inner.tag == "DW_TAG_pointer_type":
            return spelling(inner) + " const"
        return "const " + spelling(inner)
    return "<unknown type>"


def _peel(die):
    while die is not None and die.tag in _PEELED:
        die = _type_die(die)
    return die


def _int_attr(die, name: str, default: int = 0) -> int:
    a = die.attributes.get(name)
    return a.value if a is not None and isinstance(a.value, int) else default


def _member_location(die) -> int:
    """DW_AT_data_member_location in bytes: a constant, or (DWARF 2) the
    expression DW_OP_plus_uconst N."""
    a = die.attributes.get("DW_AT_data_member_location")
    if a is None:
        return 0
    if isinstance(a.value, int):
        return a.value
    expr = list(a.value)
    if expr and expr[0] == 0x23:  # DW_OP_plus_uconst, ULEB128 operand
        value, shift = 0, 0
        for byte in expr[1:]:
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return value
    return 0


class DebugInfo(CDefs):
    """The DWARF of one binary: function parameters, and its records by name
    (a CDefs, so that semantic.records finds them as it finds the script's)."""

    def __init__(self, elf: ELFFile, symbols: ELFFile):
        super().__init__()
        self._dwarf = elf.get_dwarf_info()
        self._symbols = symbols
        self._symtab = None
        self._aranges = None
        self._aranges_read = False
        self._parsed: dict[int, object] = {}  # offset -> CU whose DIEs were walked, in order
        self._ctypes: dict[int, CType] = {}
        self._funcs: dict[str, object] = {}
        self._all_funcs: dict[str, object] | None = None  # name -> DIE, of every CU (the slow path)
        self._strings: list[bytes] | None = None  # .debug_str and .debug_info, for _mentions

    # ---- functions --------------------------------------------------------
    def function_params(self, func: str) -> list[Param] | None:
        """The parameters of function `func`, or None if DWARF has no such function."""
        if func not in self._funcs:
            self._funcs[func] = self._find_function(func)
        die = self._funcs[func]
        if die is None:
            return None
        params = []
        for child in _origin(die).iter_children():
            if child.tag != "DW_TAG_formal_parameter":
                continue
            src = _origin(child)
            t = _type_die(src)
            params.append(Param(_name(src), self.ctype(t), spelling(t)))
        return params

    def _find_function(self, func: str):
        """The subprogram DIE named `func`, as 0.17 finds it: in the first CU
        that has one.  Fast path: the CU .debug_aranges says holds the
        symbol's address (one CU parsed).  Else (an alias such as malloc, a
        stub, an inline definition from a header; or no aranges) every CU is
        walked once, at a cost of seconds on libc's debug file."""
        cu = self._cu_at(self._address(func)) if self._aranges_table() is not None else None
        found = self._function_in(cu, func) if cu is not None else None
        if found is None and self._mentions(func):
            if self._all_funcs is None:
                self._all_funcs = {}
                for cu in self._dwarf.iter_CUs():
                    for die in self._subprograms(cu):
                        self._all_funcs.setdefault(_name(_origin(die)), die)
            found = self._all_funcs.get(func)
        return found

    def _function_in(self, cu, func: str):
        return next((d for d in self._subprograms(cu) if _name(_origin(d)) == func), None)

    def _mentions(self, name: str) -> bool:
        """Whether any DIE can be named `name`: a cheap test before walking every
        CU, on the raw string sections (names are there, or inline in .debug_info)."""
        if self._strings is None:
            self._strings = []
            for sec in (self._dwarf.debug_str_sec, self._dwarf.debug_info_sec):
                if sec is not None:
                    sec.stream.seek(0)
                    self._strings.append(sec.stream.read())
        needle = name.encode() + b"\0"
        return any(needle in data for data in self._strings)

    def _subprograms(self, cu):
        """The function definitions at the top of `cu` (noting it as parsed)."""
        self._parsed.setdefault(cu.cu_offset, cu)
        return (die for die in cu.get_top_DIE().iter_children()
                if die.tag == "DW_TAG_subprogram" and "DW_AT_declaration" not in die.attributes)

    def _address(self, func: str) -> int | None:
        if self._symtab is None:  # kept: it indexes its names on the first lookup
            self._symtab = self._symbols.get_section_by_name(".symtab") or \
                self._symbols.get_section_by_name(".dynsym") or ()
        table = self._symtab
        for sym in (table.get_symbol_by_name(func) or ()) if table else ():
            if sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and sym["st_value"]:
                return sym["st_value"]
        return None

    def _aranges_table(self):
        if not self._aranges_read:
            self._aranges_read = True
            self._aranges = self._dwarf.get_aranges()
        return self._aranges

    def _cu_at(self, address: int | None):
        offset = self._aranges.cu_offset_at_addr(address) if address is not None else None
        return self._dwarf.get_CU_at(offset) if offset is not None else None

    # ---- records ----------------------------------------------------------
    def record(self, name: str) -> Record | None:
        """Struct/union `name` ("struct Foo"): from the CUs already read, then the others."""
        if name not in self.records:
            words = name.split()
            if len(words) != 2 or words[0] not in ("struct", "union"):
                return None
            tag = {v: k for k, v in _RECORD_TAGS.items()}[words[0]]
            if not self._mentions(words[1]):  # `struct task_struct` in a uprobe: not here
                return None
            for cu in [*self._parsed.values(), *(cu for cu in self._dwarf.iter_CUs()
                                                 if cu.cu_offset not in self._parsed)]:
                die = next((d for d in cu.get_top_DIE().iter_children()
                            if d.tag == tag and _name(d) == words[1]
                            and "DW_AT_declaration" not in d.attributes), None)
                if die is not None:
                    self.ctype(die)
                    break
        return self.records.get(name)

    def ctype(self, die) -> CType:
        """The CType of type DIE `die` (None: void)."""
        if die is None:
            return CType(0, 1, None, "void")
        found = self._ctypes.get(die.offset)
        if found is None:
            found = self._ctypes[die.offset] = self._make_ctype(die)
        return found

    def _make_ctype(self, die) -> CType:
        spelled = spelling(die)
        t = _peel(die)
        if t is None:
            return CType(0, 1, None, spelled)
        size = _int_attr(t, "DW_AT_byte_size")
        tag = t.tag
        if tag == "DW_TAG_base_type":
            enc = _int_attr(t, "DW_AT_encoding")
            char = enc in (0x06, 0x08)   # DW_ATE_signed_char, DW_ATE_unsigned_char
            signed = enc in (0x05, 0x06)  # DW_ATE_signed, DW_ATE_signed_char
            ok = enc in (0x02, 0x05, 0x06, 0x07, 0x08) and size in (1, 2, 4, 8)  # + boolean, unsigned
            return CType(size, size or 1, Int(size * 8, signed) if ok else None, spelled, char)
        if tag == "DW_TAG_enumeration_type":
            return CType(size, size or 1, Int(size * 8, False) if size in (1, 2, 4, 8) else None,
                         spelled)
        if tag == "DW_TAG_pointer_type":
            inner = _type_die(t)
            # A pointer names its target; a record target is laid out when first asked for.
            target = self._target(inner) if inner is not None else None
            return CType(8, 8, Type(Kind.PTR, inner=target), spelled)
        if tag in _RECORD_TAGS:
            return self._record_ctype(t, spelled)
        if tag == "DW_TAG_array_type":
            return self._array_ctype(t, spelled)
        return CType(size, size or 1, None, spelled)

    def _target(self, die) -> Type | None:
        """What a pointer points to: a record by name (sized when it is needed), else the type."""
        t = _peel(die)
        if t is not None and t.tag in _RECORD_TAGS:
            name = _name(t)
            if name and "DW_AT_declaration" in t.attributes:
                return Type(Kind.RECORD, name=f"{_RECORD_TAGS[t.tag]} {name}")
        return self.ctype(die).type

    def _record_ctype(self, die, spelled: str) -> CType:
        name = f"{_RECORD_TAGS[die.tag]} {_name(die) or f'(anonymous at {die.offset:#x})'}"
        if "DW_AT_declaration" in die.attributes:
            return CType(0, 1, Type(Kind.RECORD, name=name), spelled, complete=False)
        size = _int_attr(die, "DW_AT_byte_size")
        # Put a placeholder first: members may point back to this record.
        self._ctypes[die.offset] = CType(size, 1, Type(Kind.RECORD, name=name, size=size), spelled)
        members, align = [], 1
        for m in die.iter_children():
            if m.tag != "DW_TAG_member":
                continue
            ct = self.ctype(_type_die(m))
            align = max(align, ct.align)
            byte = _member_location(m)
            bits = _int_attr(m, "DW_AT_bit_size")
            if "DW_AT_data_bit_offset" in m.attributes:
                bit_offset = _int_attr(m, "DW_AT_data_bit_offset")
            elif bits and "DW_AT_bit_offset" in m.attributes:  # DWARF 2/3: from the storage unit's MSB
                unit = _int_attr(m, "DW_AT_byte_size", ct.size)
                bit_offset = byte * 8 + unit * 8 - _int_attr(m, "DW_AT_bit_offset") - bits
            else:
                bit_offset = byte * 8
            members.append(Member(_name(m), ct, bit_offset, bits))
        # DWARF says no alignment unless one was asked for (DW_AT_alignment); a
        # packed record shows in its layout: the largest natural one that fits.
        while align > 1 and (size % align or any(m.bit_offset % (align * 8)
                                                   and not m.bitfield_size
                                                   and m.ctype.align >= align
                                                   for m in members)):
            align //= 2
        align = _int_attr(die, "DW_AT_alignment", align)
        self.records[name] = Record(name, size, align, tuple(members))
        return CType(size, align, Type(Kind.RECORD, name=name, size=size, record_align=align),
                     spelled)

    def _array_ctype(self, die, spelled: str) -> CType:
        elem = self.ctype(_type_die(die))
        dims = []
        for sub in die.iter_children():
            if sub.tag == "DW_TAG_subrange_type":
                if "DW_AT_count" in sub.attributes:
                    dims.append(_int_attr(sub, "DW_AT_count"))
                elif "DW_AT_upper_bound" in sub.attributes:
                    dims.append(_int_attr(sub, "DW_AT_upper_bound") + 1)
                else:
                    dims.append(0)
        t, size = elem.type, elem.size
        for i, n in enumerate(reversed(dims)):
            if t is None or n == 0:
                t = None
            elif i == 0 and elem.char:
                t = String(n)
            else:
                t = Type(Kind.ARRAY, size=n, inner=t)
            size *= n
        return CType(size, elem.align, t, spelled)


def _build_id_file(elf: ELFFile) -> str | None:
    """The separate debug file of a binary, by build id, as libdw finds it."""
    section = elf.get_section_by_name(".note.gnu.build-id")
    for note in section.iter_notes() if section is not None else ():
        if note["n_type"] == "NT_GNU_BUILD_ID":
            bid = note["n_desc"]
            path = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
            return path if os.path.isfile(path) else None
    return None


def _open(path: str) -> ELFFile | None:
    try:
        return ELFFile(open(path, "rb"))
    except (OSError, ELFError):
        return None


@lru_cache(maxsize=16)
def _load(path: str, mtime: int, size: int) -> DebugInfo | None:
    elf = _open(path)
    if elf is None:
        return None
    for candidate in (elf, _open(_build_id_file(elf) or "")):
        if candidate is not None and candidate.get_section_by_name(".debug_info") is not None:
            return DebugInfo(candidate, candidate if candidate.get_section_by_name(".symtab")
                             else elf)
    return None


def debug_info(path: str) -> DebugInfo | None:
    """The DWARF of binary `path` (cached while the file is unchanged), or
    None when neither it nor a debug file of it has any."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _load(os.path.realpath(path), st.st_mtime_ns, st.st_size)

"""ELF symbol lookups for uprobe attach points (function name -> file offset)
and for uaddr() (data symbol -> address and size).

The uprobe PMU takes a file offset: symbol vaddr - PT_LOAD p_vaddr + p_offset.
(runtime.usyms uses vaddr_to_offset for the reverse, symbolising addresses.)
"""
from __future__ import annotations

from functools import lru_cache

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile


def vaddr_to_offset(loads, vaddr: int) -> int | None:
    for seg in loads:
        if seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_memsz"]:
            return vaddr - seg["p_vaddr"] + seg["p_offset"]
    return None


def function_offsets(path: str) -> dict[str, tuple[int, int]]:
    """Function symbol name -> (file offset, size) of one ELF file; the file
    offset is what the uprobe PMU takes.  Raises OSError/ELFError when the
    file cannot be read as ELF."""
    out: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        for name in (".dynsym", ".symtab"):
            table = elf.get_section_by_name(name)
            if table is None:
                continue
            for sym in table.iter_symbols():
                if sym["st_info"]["type"] not in ("STT_FUNC", "STT_GNU_IFUNC") \
                        or not sym["st_value"] or not sym.name:
                    continue
                off = vaddr_to_offset(loads, sym["st_value"])
                if off is not None:
                    out[sym.name] = (off, sym["st_size"])
    return out


def symbol_at(path: str, vaddr: int) -> tuple[str, int] | None:
    """(name, offset of `vaddr` into it) of the first symbol, of any type, whose
    [st_value, st_value + st_size) holds `vaddr`, in symbol table order: what
    0.17 resolves `uprobe:BIN:ADDRESS` to.  None if no symbol holds it."""
    with open(path, "rb") as f:
        for table in ELFFile(f).iter_sections():
            if table["sh_type"] not in ("SHT_SYMTAB", "SHT_DYNSYM"):
                continue
            for sym in table.iter_symbols():
                start = sym["st_value"]
                if start <= vaddr < start + sym["st_size"]:
                    return sym.name, vaddr - start
    return None


def address_offset(path: str, vaddr: int) -> int | None:
    """The file offset of virtual address `vaddr` of one ELF file, or None."""
    with open(path, "rb") as f:
        loads = [s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD"]
        return vaddr_to_offset(loads, vaddr)


@lru_cache(maxsize=64)
def data_symbol(path: str, name: str) -> tuple[int, int] | None:
    """(vaddr, size) of the data symbol `name` of one ELF file, as 0.17's
    resolve_uname() finds it for uaddr(): the first STT_OBJECT of that name in
    the symbol tables, in section order.  None when there is none, its address
    is 0, or the file cannot be read."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for table in elf.iter_sections():
                if table["sh_type"] not in ("SHT_SYMTAB", "SHT_DYNSYM"):
                    continue
                for sym in table.get_symbol_by_name(name) or ():
                    if sym["st_info"]["type"] == "STT_OBJECT":
                        return (sym["st_value"], sym["st_size"]) if sym["st_value"] else None
    except (OSError, ELFError):
        return None
    return None


@lru_cache(maxsize=64)
def offset_vaddr(path: str, offset: int) -> int | None:
    """The virtual address (as linked) of file offset `offset` of one ELF file, or None."""
    with open(path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD" and \
                    seg["p_offset"] <= offset < seg["p_offset"] + seg["p_filesz"]:
                return offset - seg["p_offset"] + seg["p_vaddr"]
    return None

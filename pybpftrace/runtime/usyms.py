"""User-space symbolisation: /proc/PID/maps to find the file, ELF symbols to name it.

Addresses are resolved when they are printed, so the process must still be
alive then (bpftrace has the same limit).  Each binary's symbol tables are read
once and kept sorted for bisection.  Like bcc for 0.17, the
symbols of a separate debug file (found by build id, else by debuglink, under
/usr/lib/debug) come first, so local functions such as glibc's
`__libc_start_call_main` get their names when the -dbg package is installed.
"""
from __future__ import annotations

import bisect
import os
import struct
from functools import lru_cache

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from pybpftrace.semantic.elfsyms import vaddr_to_offset as _vaddr_to_offset

DEBUG_ROOT = "/usr/lib/debug"


def debug_file(elf: ELFFile, path: str) -> str | None:
    """The separate debug file of an ELF file, as gdb and bcc look for it."""
    notes = elf.get_section_by_name(".note.gnu.build-id")
    for note in (notes.iter_notes() if notes is not None else ()):
        if note["n_type"] == "NT_GNU_BUILD_ID":
            bid = note["n_desc"]
            candidate = f"{DEBUG_ROOT}/.build-id/{bid[:2]}/{bid[2:]}.debug"
            if os.path.isfile(candidate):
                return candidate
    link = elf.get_section_by_name(".gnu_debuglink")
    if link is not None:
        name = link.data().split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        here = os.path.dirname(path)
        for candidate in (os.path.join(here, name), os.path.join(here, ".debug", name),
                          DEBUG_ROOT + os.path.join(here, name)):
            if os.path.isfile(candidate) and os.path.realpath(candidate) != os.path.realpath(path):
                return candidate
    return None


_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym: name, info, other, shndx, value, size
_STT_ADDRESSES = frozenset({0, 1, 2, 10})  # NOTYPE, OBJECT, FUNC, GNU_IFUNC


def _symbols_of(elf: ELFFile) -> list[tuple[int, int, str]]:
    """(value, size, name) of the defined symbols of .symtab then .dynsym.
    The tables are unpacked whole: libc's debug file has 10k+ symbols, too
    many to walk one pyelftools object at a time (64-bit little-endian ELF only)."""
    out = []
    if elf.elfclass != 64 or not elf.little_endian:
        return out
    for name in (".symtab", ".dynsym"):
        table = elf.get_section_by_name(name)
        if not isinstance(table, SymbolTableSection):  # a debug file's .dynsym has no data
            continue
        strings = elf.get_section(table["sh_link"]).data()
        for st_name, info, _, shndx, value, size in _SYM.iter_unpack(table.data()):
            if value and st_name and shndx and info & 0xF in _STT_ADDRESSES:
                end = strings.index(b"\0", st_name)
                out.append((value, size, strings[st_name:end].decode("utf-8", "surrogateescape")))
    return out


class ElfSymbols:
    """The symbols of one ELF file and of its debug file, addressed by file offset."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            elf = ELFFile(f)
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            symbols = []
            extra = debug_file(elf, path)
            if extra is not None:
                try:
                    with open(extra, "rb") as g:
                        symbols = _symbols_of(ELFFile(g))
                except (OSError, ELFError):
                    symbols = []
            symbols += _symbols_of(elf)
        found = {}
        for value, size, name in symbols:
            off = _vaddr_to_offset(loads, value)
            if off is not None:
                found[off] = (size, name)  # the last alias wins, as in bcc
        self.entries: list[tuple[int, int, str]] = sorted(
            (off, size, name) for off, (size, name) in found.items())  # (file offset, size, name)
        self.starts = [e[0] for e in self.entries]

    def resolve(self, offset: int) -> tuple[str, int] | None:
        """(name, offset into it) of the symbol containing `offset`, found as bcc
        does: step back from the next symbol through nested ones, never past a
        symbol that ends before the one just below the next."""
        i = bisect.bisect_right(self.starts, offset)
        if i == 0:
            return None
        limit = self.starts[i] if i < len(self.starts) else None
        for k in range(i - 1, -1, -1):
            start, size, name = self.entries[k]
            if offset < start + size:
                return name, offset - start
            if limit is None or limit > start + size:
                return None
        return None


@lru_cache(maxsize=64)
def _symbols(path: str) -> ElfSymbols | None:
    try:
        return ElfSymbols(path)
    except (OSError, ELFError):
        return None


class UserSymbols:
    """Resolves code addresses of live processes, from a snapshot of each
    process's mappings, taken again when an address falls outside all of them
    (the process mapped more since: libc after ld.so, dlopen())."""

    def __init__(self):
        self._maps: dict[int, list[tuple[int, int, int, str]]] = {}

    @staticmethod
    def _read_mappings(pid: int) -> list[tuple[int, int, int, str]]:
        """(start, end, file offset, path) of every mapping; path "" for anonymous
        ones and "-" for non-executable ones (bcc names code only)."""
        entries = []
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    parts = line.split(maxsplit=5)
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    path = parts[5].rstrip("\n") if len(parts) == 6 else ""
                    if "x" not in parts[1]:
                        path = "-"
                    entries.append((lo, hi, int(parts[2], 16), path))
        except OSError:
            pass
        return entries

    def _mapping(self, addr: int, pid: int) -> tuple[int, int, int, str] | None:
        fresh = pid not in self._maps
        while True:
            if fresh:
                self._maps[pid] = self._read_mappings(pid)
            for m in self._maps[pid]:
                if m[0] <= addr < m[1]:
                    return m
            if fresh:
                return None
            fresh = True

    def symbol(self, addr: int, pid: int) -> tuple[str, int, str] | None:
        """(name, offset into the symbol, module path) of an address in process
        pid, or None when no symbol covers it."""
        m = self._mapping(addr, pid)
        if m is None or not m[3].startswith("/"):
            return None
        lo, _, offset, path = m
        syms = _symbols(path)
        found = syms.resolve(addr - lo + offset) if syms else None
        return (*found, path) if found else None

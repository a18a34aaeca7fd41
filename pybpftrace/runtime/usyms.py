"""User-space symbolisation: /proc/PID/maps to find the file, ELF symbols to name it.

Addresses are resolved when they are printed, so the process must still be
alive then (bpftrace has the same limit).  Each binary's symbol table is read
once (pyelftools) and kept sorted for bisection.
"""
from __future__ import annotations

import bisect
from functools import lru_cache

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpftrace.semantic.elfsyms import vaddr_to_offset as _vaddr_to_offset


class ElfSymbols:
    """Function symbols of one ELF file, addressed by file offset."""

    def __init__(self, path: str):
        self.starts: list[int] = []
        self.entries: list[tuple[int, int, str]] = []  # (file offset, size, name)
        with open(path, "rb") as f:
            elf = ELFFile(f)
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            found = {}
            for name in (".symtab", ".dynsym"):
                table = elf.get_section_by_name(name)
                if table is None:
                    continue
                for sym in table.iter_symbols():
                    if sym["st_info"]["type"] != "STT_FUNC" or not sym["st_value"] or not sym.name:
                        continue
                    off = _vaddr_to_offset(loads, sym["st_value"])
                    if off is not None:
                        found[off] = (sym["st_size"], sym.name)  # the last alias wins, as in bcc
        self.entries = sorted((off, size, name) for off, (size, name) in found.items())
        self.starts = [e[0] for e in self.entries]

    def resolve(self, offset: int) -> str | None:
        i = bisect.bisect_right(self.starts, offset) - 1
        if i < 0:
            return None
        start, size, name = self.entries[i]
        if size and offset >= start + size:
            return None
        return f"{name}+{offset - start}"


@lru_cache(maxsize=64)
def _symbols(path: str) -> ElfSymbols | None:
    try:
        return ElfSymbols(path)
    except (OSError, ELFError):
        return None


class UserSymbols:
    """Resolves addresses of live processes; one maps snapshot per pid."""

    def __init__(self):
        self._maps: dict[int, list[tuple[int, int, int, str]]] = {}

    def _mappings(self, pid: int) -> list[tuple[int, int, int, str]]:
        if pid not in self._maps:
            entries = []
            try:
                with open(f"/proc/{pid}/maps") as f:
                    for line in f:
                        parts = line.split(maxsplit=5)
                        if len(parts) == 6 and parts[5].startswith("/"):
                            lo, hi = (int(x, 16) for x in parts[0].split("-"))
                            entries.append((lo, hi, int(parts[2], 16), parts[5].rstrip("\n")))
            except OSError:
                pass
            self._maps[pid] = entries
        return self._maps[pid]

    def resolve(self, addr: int, pid: int) -> tuple[str | None, str | None]:
        """(sym+off or None, the module path or None) for an address in process pid."""
        for lo, hi, offset, path in self._mappings(pid):
            if lo <= addr < hi:
                syms = _symbols(path)
                return (syms.resolve(addr - lo + offset) if syms else None), path
        return None, None

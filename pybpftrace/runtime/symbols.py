"""Kernel symbolisation from /proc/kallsyms, loaded once on first use."""
from __future__ import annotations

import bisect


class KernelSymbols:
    def __init__(self, path: str = "/proc/kallsyms"):
        self._path = path
        self._addrs: list[int] | None = None
        self._names: list[str] = []

    def _load(self) -> None:
        pairs = []
        with open(self._path, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3 or parts[1] in (b"a", b"A", b"U"):
                    continue
                addr = int(parts[0], 16)
                if addr:
                    pairs.append((addr, parts[2].decode()))
        pairs.sort()
        self._addrs = [a for a, _ in pairs]
        self._names = [n for _, n in pairs]

    def resolve(self, addr: int, offset: bool = False) -> str:
        """`sym` or `sym+off` for a kernel address; hex when nothing covers it."""
        if self._addrs is None:
            self._load()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return hex(addr)
        name, off = self._names[i], addr - self._addrs[i]
        return f"{name}+{off}" if offset else name

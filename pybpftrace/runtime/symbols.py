"""Addresses, stack ids and probe ids to text: kernel symbols from /proc/kallsyms
(loaded once, on first use), user symbols (usyms.py), stacks from the stack trace map."""
from __future__ import annotations

import bisect

from pybpftrace.bpf.maps import Map
from pybpftrace.output.values import Stack
from pybpftrace.resources import Resources
from pybpftrace.runtime.decode import Symbolizer
from pybpftrace.runtime.usyms import UserSymbols
from pybpftrace.types import Kind, Type


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
            return hex(addr) if addr else "0"  # bpftrace streams a null pointer as 0
        name, off = self._names[i], addr - self._addrs[i]
        return f"{name}+{off}" if offset else name


class SessionSymbolizer(Symbolizer):
    """The symbolizer of a running session: kernel symbols and the session's stack map."""

    def __init__(self, res: Resources, stacks: Map | None):
        self.res = res
        self.stacks = stacks
        self.ksyms = KernelSymbols()
        self.usyms = UserSymbols()

    def ksym(self, addr: int) -> str:
        return self.ksyms.resolve(addr)

    def probe(self, probe_id: int) -> str:
        return self.res.probes[probe_id].name

    def stack(self, t: Type, stack_id: int, pid: int) -> Stack:
        raw = self.stacks.lookup(stack_id.to_bytes(4, "little")) if self.stacks and stack_id < 2**31 else None
        if raw is None:
            return Stack((), t.stack_mode, found=False)
        addrs = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
        addrs = [a for a in addrs if a][: t.stack_limit]
        user = t.kind is Kind.USTACK
        frames = []
        for a in addrs:
            if user:
                name, module = self.usyms.resolve(a, pid)
                sym = name or hex(a)
            else:
                sym = self.ksyms.resolve(a, offset=True)
            if t.stack_mode == "perf":
                frames.append(f"{a:x} {sym}" + (f" ({module or '[unknown]'})" if user else ""))
            elif t.stack_mode == "raw":
                frames.append(f"{a:x}")
            else:
                frames.append(sym)
        return Stack(tuple(frames), t.stack_mode)

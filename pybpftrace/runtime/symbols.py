"""Addresses, stack ids and probe ids to text: kernel symbols from /proc/kallsyms
(loaded once, on first use), user symbols (usyms.py), stacks from the stack trace
maps; and the values formatted at print time: strftime() and cgroup_path()."""
from __future__ import annotations

import bisect
import time
from functools import cached_property

from pybpftrace.bpf.maps import Map
from pybpftrace.output.printf import format_strftime
from pybpftrace.output.values import Stack
from pybpftrace.resources import Resources
from pybpftrace.runtime.cgroups import CgroupPaths
from pybpftrace.runtime.decode import Symbolizer
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
            return _pointer(addr)
        name, off = self._names[i], addr - self._addrs[i]
        return f"{name}+{off}" if offset else name


class SessionSymbolizer(Symbolizer):
    """The symbolizer of a running session: kernel symbols, user symbols of live
    processes, and the session's stack maps (one per stack limit, as 0.17 has)."""

    def __init__(self, res: Resources, stacks: dict[int, Map]):
        self.res = res
        self.stacks = stacks
        self.ksyms = KernelSymbols()
        self.cgroups = CgroupPaths()
        self.boot_time: tuple[int, int] | None = None  # wall-clock (s, ns) of boot

    @cached_property
    def usyms(self):
        """User symbols, made on first use: they need pyelftools, whose import
        (~25 ms) most runs can skip."""
        from pybpftrace.runtime.usyms import UserSymbols
        return UserSymbols()

    def ksym(self, addr: int) -> str:
        return self.ksyms.resolve(addr)

    def usym(self, addr: int, pid: int) -> str:
        """0.17's usym(): the symbol's name without offset, else the address in hex."""
        found = self.usyms.symbol(addr, pid)
        return found[0] if found else _pointer(addr)

    def probe(self, probe_id: int) -> str:
        return self.res.probes[probe_id].name

    def timestamp(self, strftime_id: int, nsecs: int) -> str:
        if self.boot_time is None:
            self.boot_time = boot_wallclock()
        return format_strftime(self.res.strftimes[strftime_id], *self.boot_time, nsecs)

    def cgroup_path(self, path_id: int, cgroup_id: int) -> str:
        return self.cgroups.describe(cgroup_id, self.res.cgroup_paths[path_id])

    def stack(self, t: Type, stack_id: int, pid: int) -> Stack:
        stacks = self.stacks.get(t.stack_limit)
        raw = stacks.lookup(stack_id.to_bytes(4, "little")) if stacks and stack_id < 2**31 else None
        if raw is None:
            return Stack((), t.stack_mode, found=False)
        frames = []
        for i in range(0, len(raw), 8):
            a = int.from_bytes(raw[i:i + 8], "little")
            if not a:
                break
            frames.append(self._frame(a, t, pid))
        return Stack(tuple(frames), t.stack_mode)

    def _frame(self, addr: int, t: Type, pid: int) -> str:
        """One frame as 0.17's get_stack() prints it (without the indent)."""
        mode = t.stack_mode
        if mode == "raw":  # later bpftrace: the address only
            return f"{addr:x}"
        if t.kind is Kind.USTACK:
            found = self.usyms.symbol(addr, pid)
            sym = f"{found[0]}+{found[1]}" if found else _pointer(addr)
            if mode == "perf":
                sym += f" ({found[2] if found else '[unknown]'})"
        else:
            sym = self.ksyms.resolve(addr, offset=True)
        return f"{addr:x} {sym}" if mode == "perf" else sym


def boot_wallclock() -> tuple[int, int]:
    """The wall-clock time of boot as (seconds, nanoseconds), measured as 0.17
    does: CLOCK_BOOTTIME between two CLOCK_REALTIME reads, the tightest of five."""
    best = None
    for _ in range(5):
        before = time.clock_gettime_ns(time.CLOCK_REALTIME)
        boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        after = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if best is None or after - before < best[0]:
            best = (after - before, (before + after) // 2 - boot)
    return divmod(best[1], 1_000_000_000)


def _pointer(addr: int) -> str:
    """An address as C++ streams a void*: hex with 0x, and a null pointer as 0."""
    return hex(addr) if addr else "0"

"""The kernel functions a kprobe can name, and the modules they live in.

bpftrace 0.17 reads tracefs `available_filter_functions` ("func" or
"func [module]" a line): the functions ftrace can patch.  Where that file
cannot be read (this VM answers EPERM: ftrace is locked down), /proc/kallsyms
stands in: its text symbols (t/T/w/W, "[module]" after module symbols).  A
kprobe can sit on any kernel text outside the kprobe blacklist, so that list
is a superset of the ftrace one; the kernel has the last word when attaching.
Dropped from kallsyms: `__pfx_*`/`__cfi_*` (padding before a function, not
functions) and `*.cold` (split-off unlikely paths, never entered by a call).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from pybpftrace.probe_types import has_wildcard, wildcard_match
from pybpftrace.probes import tracefs

KALLSYMS = "/proc/kallsyms"
VMLINUX = ""  # the module name of functions built into the kernel image
_TEXT = frozenset(b"tTwW")
_NOT_FUNCTIONS = (b"__pfx_", b"__cfi_")


@dataclass(frozen=True)
class FunctionList:
    """Function name -> the modules that define it (VMLINUX for the kernel image),
    and where the list came from."""
    modules: dict[str, frozenset[str]]
    source: str
    error: str = ""  # why available_filter_functions could not be read ("" if it was)

    def find(self, func: str, module: str = "") -> list[tuple[str, str]]:
        """(module, function) pairs matching `func` (a 0.17 wildcard or a name)
        in `module` ("" or "*": any; "vmlinux": the kernel image), sorted.
        `.part.N` clones are left out, as 0.17 does: they cannot be traced."""
        if has_wildcard(func):
            names = [f for f in self.modules if wildcard_match(func, f) and ".part." not in f]
        else:
            names = [func] if func in self.modules else []
        return sorted((m, f) for f in names for m in self.modules[f]
                      if _in_module(m, module))


def _in_module(have: str, want: str) -> bool:
    if want in ("", "*"):
        return True
    if want == "vmlinux":
        return have == VMLINUX
    return wildcard_match(want, have) if has_wildcard(want) else have == want


def _add(table: dict[str, set[str]], func: str, module: str) -> None:
    table.setdefault(func, set()).add(module)


def read_available_filter_functions(path: str) -> dict[str, set[str]]:
    """available_filter_functions: "func" or "func [module]" per line."""
    table: dict[str, set[str]] = {}
    with open(path, "rb") as f:
        for line in f:
            parts = line.split()
            if parts:
                module = parts[1].strip(b"[]").decode() if len(parts) > 1 else VMLINUX
                _add(table, parts[0].decode(), module)
    return table


def read_kallsyms(path: str = KALLSYMS) -> dict[str, set[str]]:
    """The text symbols of /proc/kallsyms ("ADDR TYPE NAME [\\t[MODULE]]")."""
    table: dict[str, set[str]] = {}
    with open(path, "rb") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1][0] not in _TEXT:
                continue
            name = parts[2]
            if name.startswith(_NOT_FUNCTIONS) or name.endswith(b".cold"):
                continue
            module = parts[3].strip(b"[]").decode() if len(parts) > 3 else VMLINUX
            _add(table, name.decode(), module)
    return table


def kernel_functions() -> FunctionList:
    """The kernel's functions: available_filter_functions, else kallsyms."""
    try:
        path = os.path.join(tracefs.tracefs_root(), "available_filter_functions")
    except tracefs.TracefsError as e:
        path, error = "", str(e)
    else:
        error = ""
    return _load(path, error, KALLSYMS)


@functools.cache
def _load(path: str, error: str, kallsyms: str) -> FunctionList:
    """Read once per process and source: the list does not change while we
    run, and kallsyms is 100k+ lines."""
    if path:
        try:
            return _frozen(read_available_filter_functions(path), path, "")
        except OSError as e:
            error = f"Could not read symbols from {path}: {e.strerror}"
    try:
        return _frozen(read_kallsyms(kallsyms), kallsyms, error)
    except OSError:
        return _frozen({}, "", error)


def _frozen(table: dict[str, set[str]], source: str, error: str) -> FunctionList:
    return FunctionList({f: frozenset(m) for f, m in table.items()}, source, error)

"""What the semantic passes may know about the kernel, as an interface.

The compiler never touches tracefs or bpf(2) itself: the driver passes in an
object with these methods (probes.kernelinfo.KernelInfo on a real machine, a
fake in unit tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TracepointField:
    """One field of a tracepoint's record, as the tracefs format file describes it."""
    name: str
    ctype: str        # C type without the name or array dims, e.g. "const char *", "int"
    offset: int
    size: int
    signed: bool
    array_len: int = 0  # element count for `char comm[16]`, 0 when not an array
    data_loc: bool = False


class KernelInfo(Protocol):
    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        """(category, event) pairs matching the two glob patterns, sorted."""

    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        """The non-common fields of a tracepoint, in record order."""

    def kernel_lacks(self, provider: str) -> str | None:
        """A sentence saying why this kernel cannot attach `provider` probes, or None."""

    def kernel_btf(self):
        """The kernel's BTF (a pybpftrace.btf.Btf: lookup, member, resolve, get,
        sizeof, type_name), or None when it has none.  Optional: a KernelInfo
        without this method knows no kernel structs."""

    def raw_tracepoints(self, module: str, name: str) -> list[str]:
        """Raw tracepoint names matching the glob `name`, sorted.  Optional."""

    def raw_tracepoint_params(self, name: str):
        """The typed arguments (btf Params: name, type id into kernel_btf())
        of raw tracepoint `name`, or None.  Optional."""

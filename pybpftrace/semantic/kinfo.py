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


@dataclass(frozen=True)
class FunctionProto:
    """A kernel function's prototype from BTF, for fentry/fexit `args` and
    `retval`: `params` are btf Params (name, type id) and `ret` the return
    type's id (0: void), all ids into `btf` (vmlinux's BTF, or a module's
    split BTF on top of it)."""
    btf: object
    params: tuple
    ret: int


class KernelInfo(Protocol):
    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        """(category, event) pairs matching the two glob patterns, sorted."""

    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        """The non-common fields of a tracepoint, in record order."""

    def kernel_functions(self, module: str, func: str) -> list[tuple[str, str]] | None:
        """(module, function) pairs matching a kprobe's MODULE ("" or "*": any)
        and FUNC (a glob or a name), sorted; module "" is the kernel image.
        None when the kernel's function list is unknown.  Optional."""

    def kernel_lacks(self, provider: str) -> str | None:
        """A sentence saying why this kernel cannot attach `provider` probes, or None."""

    def kprobe_attach_method(self) -> str | None:
        """How kprobes attach (bpf.features.kprobe_attach_method): "fentry" makes
        kprobe/kretprobe programs fentry/fexit ones.  Optional (not "fentry")."""

    def kernel_btf(self):
        """The kernel's BTF (a pybpftrace.btf.Btf: lookup, member, resolve, get,
        sizeof, type_name), or None when it has none.  Optional: a KernelInfo
        without this method knows no kernel structs."""

    def raw_tracepoints(self, module: str, name: str) -> list[str]:
        """Raw tracepoint names matching the glob `name`, sorted.  Optional."""

    def raw_tracepoint_params(self, name: str):
        """The typed arguments (btf Params: name, type id into kernel_btf())
        of raw tracepoint `name`, or None.  Optional."""

    def typed_raw_tracepoint(self, name: str) -> bool:
        """Whether raw tracepoint `name` loads as a BTF-typed tp_btf program,
        whose pointer arguments the verifier knows the types of (else it is a
        plain raw_tp program).  Optional (no)."""

    def btf_functions(self, module: str, name: str) -> list[tuple[str, str]]:
        """(module, function) of the kernel functions with BTF that fentry can
        attach to, matching the glob patterns; "vmlinux" is the kernel's own
        module.  Optional."""

    def btf_function_proto(self, module: str, name: str) -> FunctionProto | None:
        """The prototype of function `name` of `module`, or None.  Optional."""

    def kernel_symbol_address(self, name: str) -> int | None:
        """The address of kernel symbol `name` (for kaddr()), or None.  Optional."""

    def cgroup_id(self, path: str) -> int:
        """The id of the cgroup2 directory `path` (for cgroupid()); raises OSError.
        Optional."""

    def iterators(self) -> tuple[str, ...]:
        """The iterators of probe_types.ITERATORS whose `iter:` programs this
        kernel can run.  Optional (none)."""

    def helper_unavailable(self, func: str) -> str | None:
        """Why the kernel cannot run function `func` (its BPF helper is missing), or
        None.  Optional."""

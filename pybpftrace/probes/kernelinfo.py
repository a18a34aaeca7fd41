"""The real semantic.kinfo.KernelInfo: tracefs for tracepoints, kernel_functions for
kprobes, bpf.features for the rest."""
from __future__ import annotations

import os
from functools import lru_cache

import fnmatch

from pybpftrace import btf
from pybpftrace.btf.types import Kind as BtfKind
from pybpftrace.bpf import features
from pybpftrace.bpf.uapi import ProgType
from pybpftrace.probes import tracefs
from pybpftrace.probes.kernel_functions import kernel_functions as function_list
from pybpftrace.probe_types import ITERATORS, has_wildcard, wildcard_match
from pybpftrace.semantic.kinfo import FunctionProto, TracepointField

# x86_64 passes 6 arguments in registers; 0.17 leaves longer functions out of
# kfunc wildcards and listings.
MAX_FUNC_ARGS = 6


@lru_cache(maxsize=1)
def raw_tracepoint_names() -> tuple[str, ...]:
    """The kernel's raw tracepoints: one BTF typedef `btf_trace_<name>` each."""
    try:
        b = btf.vmlinux()
    except (btf.BtfError, OSError):
        return ()
    prefix = "btf_trace_"
    return tuple(sorted(n[len(prefix):] for t in b.iter_types(BtfKind.TYPEDEF)
                        if (n := b.name(t)).startswith(prefix)))


def raw_tracepoint_params(name: str) -> list | None:
    """The typed arguments (btf Params) of raw tracepoint `name`, without the
    leading `void *__data` of the kernel's prototype; None if there is none."""
    try:
        b = btf.vmlinux()
    except (btf.BtfError, OSError):
        return None
    proto = b.tp_btf_proto(name)
    if proto is None:
        return None
    params = list(proto.params)
    if params and b.type_name(params[0].type) == "void *":
        params = params[1:]
    return params


def btf_modules() -> list[str]:
    """"vmlinux" and the loaded modules with BTF (/sys/kernel/btf), in that order."""
    try:
        names = os.listdir(btf.BTF_DIR)
    except OSError:
        return []
    return ["vmlinux"] * ("vmlinux" in names) + sorted(n for n in names if n != "vmlinux")


@lru_cache(maxsize=None)
def module_btf(module: str):
    """The BTF of vmlinux or of a module (split on top of vmlinux's), or None."""
    try:
        return btf.vmlinux() if module == "vmlinux" else btf.module(module)
    except (btf.BtfError, OSError):
        return None


def _own_ids(module: str, b) -> int:
    """The first type id of `module`'s own BTF: a module's split BTF also
    answers for the vmlinux types under it."""
    return 1 if module == "vmlinux" else b.start_id


@lru_cache(maxsize=None)
def _function_names(module: str) -> tuple[str, ...]:
    """The FUNCs of `module`'s own BTF (a full pass: for wildcards)."""
    b = module_btf(module)
    if b is None:
        return ()
    first = _own_ids(module, b)
    return tuple(b.name(t) for t in b.iter_types(BtfKind.FUNC) if t >= first)


def btf_id(module: str, name: str, kind: BtfKind) -> int:
    """The id of the `kind` type `name` in `module`'s own BTF, or 0: what a
    BPF trampoline program attaches to (a FUNC for fentry/fexit, the typedef
    btf_trace_<tracepoint> for tp_btf)."""
    b = module_btf(module)
    if b is None:
        return 0
    first = _own_ids(module, b)
    return next((t for t in b.find(name, kind) if t >= first), 0)


def function_btf_id(module: str, name: str) -> int:
    """The BTF id of kernel function `name` of `module`, or 0."""
    return btf_id(module, name, BtfKind.FUNC)


def traceable_functions():
    """The functions ftrace can hook, which fentry needs ({name: modules}), or
    None when available_filter_functions cannot be read (this VM: EPERM;
    kallsyms, the kprobes' stand-in, says nothing about ftrace)."""
    functions = function_list()
    return None if functions.error or not functions.source else functions.modules


def btf_functions(module: str, name: str) -> list[tuple[str, str]]:
    """(module, function) pairs fentry can attach to that match `module:name`
    as 0.17 matches them; an empty module means any.  Functions ftrace cannot
    hook are left out when the kernel says which they are, and wildcards skip
    functions with more than 6 arguments, as 0.17's kfunc listing does."""
    traceable = traceable_functions()
    wild = has_wildcard(name)
    found = []
    for mod in btf_modules():
        if module and not wildcard_match(module, mod):
            continue
        if wild:
            names = [n for n in _function_names(mod) if wildcard_match(name, n)]
        else:
            names = [name] * bool(function_btf_id(mod, name))
        for n in names:
            if traceable is not None and n not in traceable:
                continue
            if wild and len(function_proto(mod, n).params) > MAX_FUNC_ARGS:
                continue
            found.append((mod, n))
    return sorted(found)


def function_proto(module: str, name: str) -> FunctionProto | None:
    """The BTF prototype of function `name` of `module`, or None."""
    tid = function_btf_id(module, name)
    if not tid:
        return None
    b = module_btf(module)
    proto = b.get(b.get(tid).type)
    if proto.kind != BtfKind.FUNC_PROTO:
        return None
    return FunctionProto(b, proto.params, proto.ret)


# What a tp_btf program may read from its context, after typedefs and
# qualifiers: the verifier refuses other argument types ("arg3 type
# FUNC_PROTO is not a struct": function pointers, pointers to pointers, ...).
_CTX_SCALARS = (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.STRUCT, BtfKind.UNION)
_CTX_POINTEES = (BtfKind.VOID, BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION)


@lru_cache(maxsize=None)
def typed_raw_tracepoint(name: str) -> bool:
    """Whether raw tracepoint `name` can be a tp_btf program: the kernel has
    tp_btf and the verifier lets it read every argument (else raw_tp serves)."""
    params = raw_tracepoint_params(name)
    if params is None or not features.have_tp_btf():
        return False
    b = btf.vmlinux()
    for p in params:
        t = b.get(b.resolve(p.type))
        if t.kind == BtfKind.PTR:
            t = b.get(b.resolve(t.type))
            if t.kind not in _CTX_POINTEES:
                return False
        elif t.kind not in _CTX_SCALARS:
            return False
    return True


# Functions that need a helper not every kernel has: (program type, helper id, 0.17's error).
_FUNCTION_HELPERS = {
    "path": (ProgType.TRACING, 147, "BPF_FUNC_d_path not available for your kernel version"),
    "override": (ProgType.KPROBE, 58,
                 "BPF_FUNC_override_return not available for your kernel version"),
}


class KernelInfo:
    def raw_tracepoints(self, module: str, name: str) -> list[str]:
        """Raw tracepoint names matching the glob `name` (vmlinux only: no modules)."""
        if module not in ("", "vmlinux", "*"):
            return []
        return [n for n in raw_tracepoint_names() if fnmatch.fnmatchcase(n, name)]

    def raw_tracepoint_params(self, name: str) -> list | None:
        return raw_tracepoint_params(name)

    def typed_raw_tracepoint(self, name: str) -> bool:
        return typed_raw_tracepoint(name)

    def btf_functions(self, module: str, name: str) -> list[tuple[str, str]]:
        return btf_functions(module, name)

    def btf_function_proto(self, module: str, name: str) -> FunctionProto | None:
        return function_proto(module, name)

    def tracepoints(self, category: str, name: str) -> list[tuple[str, str]]:
        return tracefs.list_tracepoints(category, name)

    @lru_cache(maxsize=None)
    def tracepoint_fields(self, category: str, name: str) -> list[TracepointField]:
        return tracefs.tracepoint_format(category, name)

    def kernel_functions(self, module: str, func: str) -> list[tuple[str, str]] | None:
        """(module, function) pairs for a kprobe's [MODULE:]FUNC; None when the
        kernel's function list cannot be read at all."""
        functions = function_list()
        return functions.find(func, module) if functions.source else None

    def kprobe_attach_method(self) -> str | None:
        return features.kprobe_attach_method()

    def kernel_lacks(self, provider: str) -> str | None:
        """One sentence naming what this kernel lacks for `provider`, found by probing it."""
        if provider in ("kprobe", "kretprobe") and features.kprobe_attach_method() is None:
            return "kprobes are not supported by this kernel"  # nor fentry, their stand-in
        if provider == "hardware" and not os.path.exists("/sys/bus/event_source/devices/cpu"):
            return "hardware events are not supported by this kernel (no PMU)"
        if provider in ("kfunc", "kretfunc") and not features.have_kfunc():
            return ("fentry/fexit probes are not supported by this kernel "
                    "(BPF trampolines are unavailable)")
        return None

    def kernel_symbol_address(self, name: str) -> int | None:
        """The address /proc/kallsyms gives the first symbol called `name` (0.17's
        resolve_kname), or None (no such symbol, or addresses hidden)."""
        try:
            with open("/proc/kallsyms", "rb") as f:
                want = name.encode()
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[2] == want:
                        return int(parts[0], 16) or None
        except OSError:
            return None
        return None

    def cgroup_id(self, path: str) -> int:
        """The id of the cgroup at `path` (a cgroup2 directory): its inode number,
        which is the kernfs node id that bpf_get_current_cgroup_id() returns.
        Raises OSError when the path cannot be read."""
        return os.stat(path).st_ino

    def iterators(self) -> tuple[str, ...]:
        """0.17's check: the kernel loads the iterator's program and has BTF."""
        if self.kernel_btf() is None:
            return ()
        return tuple(name for name in ITERATORS if features.have_iter(name))

    def helper_unavailable(self, func: str) -> str | None:
        """0.17's sentence when the kernel lacks the BPF helper that `func` needs."""
        need = _FUNCTION_HELPERS.get(func)
        if need is None or features.have_helper(*need[:2]):
            return None
        return need[2]

    def kernel_btf(self):
        """vmlinux's BTF, or None when the kernel has none."""
        try:
            return btf.vmlinux()
        except (btf.BtfError, OSError):
            return None

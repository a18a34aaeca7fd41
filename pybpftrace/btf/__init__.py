"""The kernel's BTF, read lazily: types of vmlinux and modules without headers.

    from pybpftrace import btf
    k = btf.vmlinux()                                  # mapped + indexed once
    task = k.lookup("struct task_struct")
    k.member(task, "comm")                             # MemberRef(type, bit_offset, bitfield_size)
    k.type_name(k.member(task, "comm").type)           # 'char[16]'
    k.enum_value("BPF_MAP_TYPE_HASH")                  # (1, <enum id>)
    k.func_proto("vfs_read").params                    # (Param('file', ...), ...)

See reader.py for why it is lazy and how the index is cached.
"""
from __future__ import annotations

import functools
import os

from .reader import BTF_SYSFS, VMLINUX, Btf, default_cache_dir
from .types import (
    Array,
    BtfError,
    BtfType,
    Datasec,
    DeclTag,
    Enum,
    Enumerator,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Kind,
    Linkage,
    Member,
    MemberRef,
    Param,
    Ptr,
    Ref,
    Struct,
    Var,
    VarSecinfo,
    Void,
)

BTF_DIR = BTF_SYSFS


@functools.cache
def vmlinux() -> Btf:
    """The running kernel's BTF (BtfError if it has none)."""
    return Btf.load(VMLINUX)


@functools.cache
def module(name: str) -> Btf:
    """A kernel module's split BTF, on top of vmlinux's."""
    return Btf.load(os.path.join(BTF_DIR, name), base=vmlinux())


__all__ = [
    "BTF_DIR",
    "VMLINUX",
    "Array",
    "Btf",
    "BtfError",
    "BtfType",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enumerator",
    "Float",
    "Func",
    "FuncProto",
    "Fwd",
    "Int",
    "Kind",
    "Linkage",
    "Member",
    "MemberRef",
    "Param",
    "Ptr",
    "Ref",
    "Struct",
    "Var",
    "VarSecinfo",
    "Void",
    "default_cache_dir",
    "module",
    "vmlinux",
]

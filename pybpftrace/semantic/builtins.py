"""Tables of builtin variables and functions: types, arity, where they are allowed.

Keeping these as data (in the spirit of ply's func.h) means the type checker
and code generator look a name up instead of growing a switch per builtin.
"""
from __future__ import annotations

from dataclasses import dataclass

from pybpftrace.types import Kind, String, Type, UINT64

COMM = String(16)

# name -> type; `args`, argN, retval, kstack/ustack, func and probe are special-cased.
BUILTIN_VARIABLES: dict[str, Type] = {
    "pid": UINT64, "tid": UINT64, "uid": UINT64, "gid": UINT64,
    "nsecs": UINT64, "elapsed": UINT64, "cpu": UINT64, "cgroup": UINT64,
    "rand": UINT64, "curtask": UINT64, "jiffies": UINT64,
    "comm": COMM,
    "probe": Type(Kind.PROBE),
    "username": Type(Kind.USERNAME, size=0),
    "kstack": Type(Kind.KSTACK), "ustack": Type(Kind.USTACK),
}

# Providers whose programs receive registers (pt_regs): arg0..argN, retval.
ARG_PROVIDERS = ("kprobe", "uprobe", "usdt")
RETVAL_PROVIDERS = ("kretprobe", "uretprobe", "kretfunc")


@dataclass(frozen=True)
class Signature:
    min_args: int
    max_args: int
    unsafe: bool = False
    map_value: bool = False     # must be assigned directly to a map (count(), hist(), ...)


FUNCTIONS: dict[str, Signature] = {
    "printf": Signature(1, 128),
    "time": Signature(0, 1),
    "exit": Signature(0, 0),
    "str": Signature(1, 2),
    "buf": Signature(1, 2),
    "join": Signature(1, 2),
    "strncmp": Signature(3, 3),
    "count": Signature(0, 0, map_value=True),
    "sum": Signature(1, 1, map_value=True),
    "avg": Signature(1, 1, map_value=True),
    "min": Signature(1, 1, map_value=True),
    "max": Signature(1, 1, map_value=True),
    "stats": Signature(1, 1, map_value=True),
    "hist": Signature(1, 1, map_value=True),
    "lhist": Signature(4, 4, map_value=True),
    "delete": Signature(1, 2),
    "clear": Signature(1, 1),
    "zero": Signature(1, 1),
    "print": Signature(1, 3),
    "system": Signature(1, 128, unsafe=True),
    "signal": Signature(1, 1, unsafe=True),
    "cat": Signature(1, 128),
    "ksym": Signature(1, 1),
    "ntop": Signature(1, 2),
    "pton": Signature(1, 1),
    "usym": Signature(1, 1),
    "kstack": Signature(0, 2),
    "ustack": Signature(0, 2),
}

# Aggregation function -> map value kind.
AGGREGATION_KINDS = {
    "count": Kind.COUNT, "sum": Kind.SUM, "avg": Kind.AVG, "min": Kind.MIN,
    "max": Kind.MAX, "stats": Kind.STATS, "hist": Kind.HIST, "lhist": Kind.LHIST,
}

SIGNALS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
    "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12,
    "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17,
    "SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22,
    "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27,
    "SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30, "SIGSYS": 31,
}

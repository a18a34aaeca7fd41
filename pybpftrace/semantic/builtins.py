"""Tables of builtin variables and functions, as bpftrace 0.17 knows them.

Keeping these as data (in the spirit of ply's func.h) means the type checker
and code generator look a name up instead of growing a switch per builtin.
"""
from __future__ import annotations

from pybpftrace.types import UINT64, Kind, String, Type

COMM_SIZE = 16
# kstack()/ustack() modes: 0.17's two, and "raw" (addresses only) of later bpftrace.
STACK_MODES = frozenset({"bpftrace", "perf", "raw"})
STRING_SIZE = 64        # 0.17's fixed size of string ternaries and string literal limit
MAX_STACK_SIZE = 1024

# Builtin variables whose type does not depend on the probe.  `args`, argN,
# sargN, retval, func, ctx, cpid and curtask are handled by the type checker.
BUILTIN_VARIABLES: dict[str, Type] = {
    "pid": UINT64, "tid": UINT64, "uid": UINT64, "gid": UINT64,
    "nsecs": UINT64, "elapsed": UINT64, "cpu": UINT64, "cgroup": UINT64,
    "rand": UINT64, "numaid": UINT64,
    "comm": String(COMM_SIZE),
    "probe": Type(Kind.PROBE),
    "username": Type(Kind.USERNAME),
}

# Functions pybpftrace generates code for.  Every other name bpftrace 0.17's
# lexer knows as a function (lexer.CALL_NAMES) is reported as unsupported.
SUPPORTED_FUNCTIONS = frozenset(
    "printf time exit str buf join strncmp count sum avg min max stats hist lhist delete clear "
    "zero print system signal cat ksym usym ntop pton kstack ustack sizeof uaddr kaddr reg "
    "strftime cgroupid cgroup_path macaddr bswap strcontains kptr uptr path override "
    "debugf strerror unwatch".split())

UNSAFE_FUNCTIONS = frozenset({"system", "signal", "override"})

# 0.17's check_available(): the probe kinds where some functions cannot be used
# (`NAME can not be used with "PROVIDER" probes`).  rawtracepoint (newer than
# 0.17) has no pt_regs, so reg() is not available there either.
_NO_REGS = ("BEGIN", "END", "tracepoint", "kfunc", "kretfunc", "iter", "rawtracepoint")
UNAVAILABLE_IN = {
    "reg": frozenset(_NO_REGS),
    "uaddr": frozenset(_NO_REGS + ("kprobe", "kretprobe", "profile", "interval", "software",
                                   "hardware", "watchpoint", "asyncwatchpoint")),
    "signal": frozenset({"BEGIN", "END", "interval", "software", "hardware", "watchpoint",
                         "asyncwatchpoint", "iter"}),
}

# reg(): 0.17's x86_64 register names, in struct pt_regs order (offset = 8 * index).
PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
           "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss")

# Aggregation function -> map value kind.
AGGREGATION_KINDS = {
    "count": Kind.COUNT, "sum": Kind.SUM, "avg": Kind.AVG, "min": Kind.MIN,
    "max": Kind.MAX, "stats": Kind.STATS, "hist": Kind.HIST, "lhist": Kind.LHIST,
}

# signal(): the names 0.17 accepts (src/ast/signal.cpp), upper-cased, "SIG" optional.
SIGNALS = {
    "SIGABRT": 6, "SIGALRM": 14, "SIGBUS": 7, "SIGCHLD": 17, "SIGCONT": 18, "SIGFPE": 8,
    "SIGHUP": 1, "SIGILL": 4, "SIGINT": 2, "SIGKILL": 9, "SIGPIPE": 13, "SIGPOLL": 29,
    "SIGQUIT": 3, "SIGSEGV": 11, "SIGSTOP": 19, "SIGSYS": 31, "SIGTERM": 15, "SIGTRAP": 5,
    "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGUSR1": 10, "SIGUSR2": 12,
    "SIGVTALRM": 26, "SIGWINCH": 28, "SIGXCPU": 24, "SIGXFSZ": 25,
}


def signal_number(name: str) -> int:
    """0.17's signal_name_to_num: case-insensitive, the SIG prefix optional; -1 if unknown."""
    if not name:
        return -1
    sig = name.upper()
    if sig[0] != "S":
        sig = "SIG" + sig
    return SIGNALS.get(sig, -1)

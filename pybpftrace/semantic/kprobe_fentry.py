"""kprobes as fentry/fexit, on a kernel without kprobes but with BPF trampolines.

There kinfo.kprobe_attach_method() says "fentry", and a `kprobe:FUNC` /
`kretprobe:FUNC` program is loaded as an fentry/fexit (TRACING) program for
FUNC's BTF id instead.  Its context is then not the task's registers but the
function's arguments, one u64 each (the return value after them in fexit), so
argN reads slot N, retval the slot after the last parameter, func comes from
bpf_get_func_ip().  What needs registers or another place than the entry --
reg(), sargN (the stack pointer), ctx (struct pt_regs), FUNC+OFFSET -- cannot
be had, and is refused here, naming why, before anything is loaded.
"""
from __future__ import annotations

import re
import sys

from pybpftrace.diag import DiagnosticError, Diagnostics
from pybpftrace.lang import ast
from pybpftrace.resources import ProbeInfo
from pybpftrace.semantic.kinfo import KernelInfo

KINDS = ("kprobe", "kretprobe")
_WHY = "kprobes are not supported by this kernel, and fentry, which stands in for them,"
_ARG, _SARG = re.compile(r"arg(\d+)"), re.compile(r"sarg\d+")


def via_fentry(kinfo: KernelInfo) -> bool:
    """Whether kprobe/kretprobe probes are compiled and attached as fentry/fexit."""
    return getattr(kinfo, "kprobe_attach_method", lambda: None)() == "fentry"


def _register_use(node: ast.Node) -> str | None:
    """What `node` names that lives in the probed task's registers, or None."""
    if isinstance(node, ast.Call) and node.name == "reg":
        return "reg()"
    if isinstance(node, ast.Builtin) and (node.name == "ctx" or _SARG.fullmatch(node.name)):
        return node.name
    return None


def fentry_expansions(probe: ast.Probe, kinfo: KernelInfo, diags: Diagnostics,
                      warn=None) -> list[ProbeInfo]:
    """The kprobe/kretprobe attach points of `probe` that fentry/fexit can
    serve; raises DiagnosticError for what it cannot (in a wildcard's match,
    a function without BTF, or with fewer arguments than argN wants, is
    skipped with a warning instead, as 0.17 skips functions it cannot attach)."""
    warn = warn or (lambda text: sys.stderr.write(f"WARNING: {text}\n"))
    errors = Diagnostics(diags.source, diags.filename)
    kept = []
    for node in ast.builtins_and_calls(probe):
        if (what := _register_use(node)) is not None:
            errors.error(f"{what} is not available here: {_WHY} has no registers", node.loc)
    args = [int(m[1]) for n in ast.builtins_and_calls(probe) if isinstance(n, ast.Builtin)
            and (m := _ARG.fullmatch(n.name))]
    for p in (e for e in probe.expansions if e.provider in KINDS):
        ap = next((a for a in probe.attach_points if a.provider == p.provider and a.func == p.func),
                  next((a for a in probe.attach_points if a.provider == p.provider), None))
        loc = ap.loc if ap is not None else probe.loc
        explicit = ap is not None and ap.func == p.func
        proto = kinfo.btf_function_proto(p.target or "vmlinux", p.func)
        if p.offset:
            errors.error(f"cannot attach {p.name}: {_WHY} attaches at a function's entry only",
                         loc)
            continue
        if proto is None:
            problem = f"needs BTF for {p.func}, which the kernel lacks"
        elif args and max(args) >= len(proto.params):
            problem = f"sees only the {len(proto.params)} arguments of {p.func} (no arg{max(args)})"
        else:
            kept.append(p)
            continue
        if explicit:
            errors.error(f"cannot attach {p.name}: {_WHY} {problem}", loc)
        else:
            warn(f"could not attach probe {p.name}, skipping.")
    if errors.has_errors():
        raise DiagnosticError(errors)
    return kept

"""Attach point resolution: parse each attach point and expand its wildcards.

Fills `Probe.provider` and `Probe.expansions` (one resources.ProbeInfo per
concrete attach point).  Unsupported kinds end here with one clear sentence,
naming the kernel feature when the kernel is what lacks it.
"""
from __future__ import annotations

import fnmatch
import glob
import os

from pybpftrace import probe_types as pt
from pybpftrace.diag import Diagnostics
from pybpftrace.lang import ast
from pybpftrace.perf_events import find_event
from pybpftrace.resources import ProbeInfo
from pybpftrace.semantic.kinfo import KernelInfo

# Kinds this version can attach; the others get a "not supported" error.
# fentry/fexit (kfunc/kretfunc) are compiled on every kernel and refused when
# loaded where BPF trampolines are missing, so that their code is still checked.
ATTACHABLE = {"BEGIN", "END", "tracepoint", "interval", "profile", "software", "rawtracepoint",
              "uprobe", "uretprobe", "kfunc", "kretfunc", "kprobe", "kretprobe"}
# kprobes are resolved and compiled on every kernel; one without kprobes is told
# so when attaching (runtime.session), after the programs passed the verifier.

# 0.17 refuses these kretprobes: a return probe there can lock up the system.
BANNED_KRETPROBES = ("_raw_spin_lock", "_raw_spin_lock_irqsave", "_raw_spin_unlock_irqrestore",
                     "queued_spin_lock_slowpath")


def resolve_attach_points(program: ast.Program, diags: Diagnostics, kinfo: KernelInfo,
                          params: list[str], dry_run: bool = False) -> list[ProbeInfo]:
    """Expand every probe's attach points; returns all concrete probes in program order.

    A dry run (-d) never attaches, so kinds this kernel cannot attach are kept.
    """
    probes: list[ProbeInfo] = []
    for probe in program.probes:
        for ap in probe.attach_points:
            for info in _expand(ap, diags, kinfo, params, dry_run):
                if not probe.provider:
                    probe.provider = info.provider
                probe.expansions.append(info)
                probes.append(info)
    return probes


def _expand(ap: ast.AttachPoint, diags: Diagnostics, kinfo: KernelInfo,
            params: list[str], dry_run: bool) -> list[ProbeInfo]:
    try:
        raws = [ap.raw]
        provider = pt.lex_attach_point(ap.raw, params)[0]
        if pt.has_wildcard(provider):
            raws = pt.expand_provider(ap.raw, kfunc_available=not kinfo.kernel_lacks("kfunc"))
        elif pt.resolve_provider(provider) is None:
            diags.error(f"Invalid probe type: {provider}", ap.loc)
            return []
        out = []
        for raw in raws:
            spec = pt.parse_attach_point(raw, params, ignore_invalid=len(raws) > 1 or raw != ap.raw)
            if spec is None:
                continue
            errors = pt.check_attach_point(spec)
            for e in errors:
                diags.error(e, ap.loc)
            if not errors:
                out += _concrete(spec, ap, diags, kinfo, dry_run)
        return out
    except pt.AttachPointError as e:
        diags.error(str(e), ap.loc)
        return []


def _concrete(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
              kinfo: KernelInfo, dry_run: bool) -> list[ProbeInfo]:
    kind = spec.kind.name
    ap.provider = kind
    ap.target, ap.func = spec.target, spec.func
    if kind not in ATTACHABLE and dry_run:
        return [ProbeInfo(f"{kind}:{spec.target + ':' if spec.target else ''}{spec.func}", kind,
                          spec.target, spec.func)]
    if kind not in ATTACHABLE:
        reason = kinfo.kernel_lacks(kind)
        diags.error(reason or f"{kind} probes are not supported by pybpftrace yet", ap.loc)
        return []
    if kind in ("BEGIN", "END"):
        return [ProbeInfo(kind, kind)]
    if kind == "tracepoint":
        found = kinfo.tracepoints(spec.target, spec.func)
        if not found:
            what = "tracepoints" if pt.has_wildcard(spec.target + spec.func) else "tracepoint"
            diags.error(f"{what} not found: {spec.target}:{spec.func}", ap.loc)
        return [ProbeInfo(f"tracepoint:{c}:{n}", kind, c, n) for c, n in found]
    if kind == "rawtracepoint":
        lister = getattr(kinfo, "raw_tracepoints", None)
        found = lister(spec.target, spec.func) if lister else []
        if not found:
            what = "raw tracepoints" if pt.has_wildcard(spec.func) else "raw tracepoint"
            diags.error(f"{what} not found: {spec.func}", ap.loc)
        return [ProbeInfo(f"rawtracepoint:{n}", kind, "", n) for n in found]
    if kind in ("uprobe", "uretprobe"):
        return _uprobes(spec, ap, diags)
    if kind in ("kfunc", "kretfunc"):
        return _functions(spec, ap, diags, kinfo)
    if kind in ("kprobe", "kretprobe"):
        return _kprobes(spec, ap, diags, kinfo)
    if kind in ("interval", "profile"):
        period, freq = pt.timer_spec(spec.target, spec.freq)
        name = f"{kind}:{spec.target}:{spec.freq}"
        return [ProbeInfo(name, kind, spec.target, freq=freq or period, unit="hz" if freq else "ns")]
    event = find_event(kind, spec.target)
    count = spec.freq or event.default_count
    return [ProbeInfo(f"{kind}:{event.name}:{count}", kind, event.name, count=count)]


def _functions(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
               kinfo: KernelInfo) -> list[ProbeInfo]:
    """fentry/fexit on `[MODULE:]FUNC` (globs in both): the kernel functions
    with BTF, named with their module as 0.17 names them (kfunc:vmlinux:vfs_read)."""
    kind = spec.kind.name
    lister = getattr(kinfo, "btf_functions", None)
    found = lister(spec.target, spec.func) if lister else []
    if not pt.has_wildcard(spec.func) and not spec.target and len(found) > 1:
        diags.error("ambiguous attach point, please specify module containing the function "
                    f"'{spec.func}'", ap.loc)
        return []
    if not found:
        what = spec.func if not pt.has_wildcard(spec.target + spec.func) else \
            f"any function matching {spec.target}:{spec.func}"
        diags.error(f"No BTF found for {what}", ap.loc)
    return [ProbeInfo(f"{kind}:{m}:{f}", kind, m, f) for m, f in found]


def _kprobes(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
             kinfo: KernelInfo) -> list[ProbeInfo]:
    """kprobe/kretprobe on [MODULE:]FUNC[+OFFSET]: a wildcard expands over the
    kernel's functions.  A name the kernel does not list is kept, with 0.17's
    warning, as the kernel decides when attaching (and not at all where it has
    no kprobes: the attach error says everything then)."""
    kind, module, func = spec.kind.name, spec.target, spec.func
    wildcard = pt.has_wildcard(func) or pt.has_wildcard(module)
    lister = getattr(kinfo, "kernel_functions", None)
    found = lister(module, func) if lister else None
    if not wildcard and not found:
        if found is not None and kinfo.kernel_lacks(kind) is None:
            d = diags.warning(f'{func} is not traceable (either non-existing, inlined, or marked '
                              'as "notrace"); attaching to it will likely fail', ap.loc)
            clones = lister(module, f"{func}.*")
            if clones:
                d.hints.append(f"the kernel has {', '.join(f for _, f in clones)}")
        found = [("" if module == "vmlinux" else module, func)]
    if not found:
        diags.error(f"kprobes not found: {module + ':' if module else ''}{func}", ap.loc)
        return []
    if not module:  # the kernel finds a function by name in any module
        found = sorted({("", f) for _, f in found})
    suffix = f"+{spec.offset}" if spec.offset else ""
    out = []
    for mod, name in found:
        if kind == "kretprobe" and name in BANNED_KRETPROBES:
            diags.error(f"kretprobe:{name} can't be used as it might lock up your system.", ap.loc)
            continue
        where = f"{mod or 'vmlinux'}:{name}" if module else name
        out.append(ProbeInfo(f"{kind}:{where}{suffix}", kind, mod, name, offset=spec.offset))
    return out


def _binaries(target: str) -> list[str]:
    """Executables a uprobe target names: a path or glob, else a $PATH lookup (first hit)."""
    if "/" in target:
        candidates = sorted(glob.glob(target)) if pt.has_wildcard(target) else [target]
    else:
        candidates = [os.path.join(d, target) for d in os.environ.get("PATH", "").split(":") if d]
    found = [p for p in candidates if os.path.isfile(p) and os.access(p, os.X_OK)]
    return found if "/" in target else found[:1]


def _uprobes(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics) -> list[ProbeInfo]:
    """uprobe/uretprobe on BINARY:function[+offset] or BINARY:address, resolved to file offsets."""
    from elftools.common.exceptions import ELFError

    from pybpftrace.semantic import elfsyms

    kind = spec.kind.name
    paths = _binaries(spec.target)
    if not paths:
        diags.error(f"uprobe target file '{spec.target}' does not exist or is not executable",
                    ap.loc)
        return []
    out = []
    for path in paths:
        try:
            if not spec.func:
                off = elfsyms.address_offset(path, spec.address)
                if off is None:
                    diags.error(f"Could not resolve address: {path}:0x{spec.address:x}", ap.loc)
                    continue
                out.append(ProbeInfo(f"{kind}:{path}:{spec.address}", kind, path, "", offset=off))
                continue
            funcs = elfsyms.function_offsets(path)
        except (OSError, ELFError) as e:
            diags.error(f"uprobe target file '{path}' is not a readable ELF file: {e}", ap.loc)
            continue
        if pt.has_wildcard(spec.func):
            names = sorted(n for n in funcs if fnmatch.fnmatchcase(n, spec.func))
        else:
            names = [spec.func] if spec.func in funcs else []
        if not names and not pt.has_wildcard(spec.func):
            diags.error(f"Could not resolve symbol: {path}:{spec.func}", ap.loc)
        for name in names:
            suffix = f"+{spec.offset}" if spec.offset else ""
            out.append(ProbeInfo(f"{kind}:{path}:{name}{suffix}", kind, path, name,
                                 offset=funcs[name] + spec.offset))
    if not out and pt.has_wildcard(spec.func) and not diags.has_errors():
        diags.error(f"uprobes not found: {spec.target}:{spec.func}", ap.loc)
    return out

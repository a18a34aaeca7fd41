"""Attach point resolution: parse each attach point and expand its wildcards.

Fills `Probe.provider` and `Probe.expansions` (one resources.ProbeInfo per
concrete attach point).  Unsupported kinds end here with one clear sentence,
naming the kernel feature when the kernel is what lacks it.
"""
from __future__ import annotations

import fnmatch
import os

from pybpftrace import probe_types as pt
from pybpftrace.diag import Diagnostics
from pybpftrace.lang import ast
from pybpftrace.perf_events import find_event
from pybpftrace.resources import ProbeInfo
from pybpftrace.semantic import binaries
from pybpftrace.semantic.kinfo import KernelInfo

# Kinds this version can attach; the others get a "not supported" error.
# fentry/fexit (kfunc/kretfunc) are compiled on every kernel and refused when
# loaded where BPF trampolines are missing, so that their code is still checked.
ATTACHABLE = {"BEGIN", "END", "tracepoint", "interval", "profile", "software", "rawtracepoint",
              "uprobe", "uretprobe", "kfunc", "kretfunc", "kprobe", "kretprobe", "iter",
              "watchpoint", "asyncwatchpoint", "usdt"}
# kprobes are resolved and compiled on every kernel; one without kprobes is told
# so when attaching (runtime.session), after the programs passed the verifier.


def resolve_attach_points(program: ast.Program, diags: Diagnostics, kinfo: KernelInfo,
                          params: list[str], dry_run: bool = False, pid: int = 0,
                          child_exe: str = "") -> list[ProbeInfo]:
    """Expand every probe's attach points; returns all concrete probes in program order.

    A dry run (-d) never attaches, so kinds this kernel cannot attach are kept.
    `pid` is -p's process (0: none): uprobe binaries are found in its mount
    namespace, and `uprobe:FUNC` means a function of its executable.
    `child_exe`: -c's program (watchpoints on function arguments need -p or -c).
    """
    probes: list[ProbeInfo] = []
    process = _Process(pid, child_exe)
    for probe in program.probes:
        if _mixes_iter(probe, diags):
            continue
        expanded = ast.uses(probe, {"probe"})
        for ap in probe.attach_points:
            for info in _expand(ap, diags, kinfo, params, dry_run, process):
                if expanded and _unlisted_kprobe(info, kinfo):
                    continue
                if not probe.provider:
                    probe.provider = info.provider
                probe.expansions.append(info)
                probes.append(info)
    return probes


def _unlisted_kprobe(info: ProbeInfo, kinfo: KernelInfo) -> bool:
    """A kprobe on a function the kernel does not list.  0.17 builds the
    programs of a probe that uses `probe` from its attach points' matches in
    that list, so such an attach point gets none: it is left out, after the
    "not traceable" warning, and the other probes run."""
    if info.provider not in ("kprobe", "kretprobe"):
        return False
    lister = getattr(kinfo, "kernel_functions", None)
    return lister is not None and lister(info.target, info.func) == []


def _mixes_iter(probe: ast.Probe, diags: Diagnostics) -> bool:
    """0.17 runs an iterator alone: an iter attach point cannot share its probe."""
    if len(probe.attach_points) < 2:
        return False
    for ap in probe.attach_points:
        kind = pt.resolve_provider(ap.raw.split(":", 1)[0])
        if kind is not None and kind.name == "iter":
            diags.error("Only single iter attach point is allowed.", ap.loc)
            return True
    return False


class _Process:
    """The traced process of -p/-c, as attach point resolution needs it."""

    def __init__(self, pid: int, child_exe: str):
        self.pid = pid
        self.given = pid > 0 or bool(child_exe)
        self.exe = binaries.pid_exe(pid) if pid > 0 else None
        # The binary whose functions a watchpoint's FUNC+argN names, as 0.17 names it.
        self.watched_binary = child_exe or (f"/proc/{pid}/exe" if pid > 0 else "")


def _expand(ap: ast.AttachPoint, diags: Diagnostics, kinfo: KernelInfo,
            params: list[str], dry_run: bool, process: _Process) -> list[ProbeInfo]:
    try:
        raws = [ap.raw]
        provider = pt.lex_attach_point(ap.raw, params)[0]
        if pt.has_wildcard(provider):
            raws = pt.expand_provider(ap.raw, kfunc_available=not kinfo.kernel_lacks("kfunc"),
                                      have_pid=process.pid > 0)
        elif pt.resolve_provider(provider) is None:
            diags.error(f"Invalid probe type: {provider}", ap.loc)
            return []
        out = []
        for raw in raws:
            spec = pt.parse_attach_point(raw, params, ignore_invalid=len(raws) > 1 or raw != ap.raw,
                                         process_exe=process.exe)
            if spec is None:
                continue
            errors = pt.check_attach_point(spec, iters=_iterators(kinfo, spec),
                                           have_process=process.given)
            for e in errors:
                diags.error(e, ap.loc)
            if not errors:
                out += _concrete(spec, ap, diags, kinfo, dry_run, process)
        return out
    except pt.AttachPointError as e:
        diags.error(str(e), ap.loc)
        return []


def _iterators(kinfo: KernelInfo, spec: pt.AttachPointSpec) -> tuple[str, ...]:
    """The iterators the kernel can run, asked only for an iter attach point."""
    if spec.kind.name != "iter":
        return ()
    return getattr(kinfo, "iterators", tuple)()


def _concrete(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
              kinfo: KernelInfo, dry_run: bool, process: _Process) -> list[ProbeInfo]:
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
    if kind == "iter":
        return [ProbeInfo(f"iter:{spec.func}", kind, func=spec.func, pin=spec.pin)]
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
        return _uprobes(spec, ap, diags, process.pid)
    if kind == "usdt":
        return _usdts(spec, ap, diags, process.pid)
    if kind in ("watchpoint", "asyncwatchpoint"):
        return _watchpoints(spec, ap, diags, process)
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
    if module and module != "vmlinux" and not pt.has_wildcard(module) and lister \
            and lister(module, "*") == []:
        # No such module: 0.17 (which has no MODULE:FUNC form) says this, and the
        # likely mistake is a tracepoint written as a kprobe.
        d = diags.error(f"{kind} probe type requires 1 argument (no kernel module '{module}' "
                        "is loaded)", ap.loc)
        if kinfo.tracepoints(module, func):
            d.hints.append(f"did you mean tracepoint:{module}:{func}?")
        return []
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
        where = f"{mod or 'vmlinux'}:{name}" if module else name
        out.append(ProbeInfo(f"{kind}:{where}{suffix}", kind, mod, name, offset=spec.offset))
    return out


def _binaries(target: str, pid: int) -> list[str]:
    """Executables and libraries a uprobe target names: a path or glob, else a
    $PATH lookup (first hit); `libNAME` is the library process `pid` maps."""
    if pid > 0 and target.startswith("lib") and not pt.has_wildcard(target):
        lib = binaries.library_of_process(target[3:], pid)
        if lib is not None:
            return [lib]
    found = binaries.resolve_binary_path(target, pid)
    return found if pt.has_wildcard(target) else found[:1]


def _uprobes(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
             pid: int) -> list[ProbeInfo]:
    """uprobe/uretprobe on BINARY:function[+offset] or BINARY:address, resolved to file offsets."""
    from elftools.common.exceptions import ELFError

    from pybpftrace.semantic import elfsyms

    kind = spec.kind.name
    paths = _binaries(spec.target, pid)
    if not paths:
        diags.error(f"uprobe target file '{spec.target}' does not exist or is not executable",
                    ap.loc)
        return []
    out = []
    for path in paths:
        try:
            if not spec.func:
                # As 0.17: the address must lie in a symbol, and a uretprobe at its start.
                held = elfsyms.symbol_at(path, spec.address)
                off = elfsyms.address_offset(path, spec.address) if held else None
                if off is None:
                    diags.error(f"Could not resolve address: {path}:0x{spec.address:x}", ap.loc)
                    continue
                if kind == "uretprobe" and held[1]:
                    diags.error("uretprobes cannot be attached at function offset. (address "
                                f"resolved to: {held[0]}+{held[1]})", ap.loc)
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
            start, size = funcs[name]
            if spec.offset and spec.offset >= size:
                diags.error(f"Offset outside the function bounds ('{name}' size is {size})",
                            ap.loc)
                continue
            suffix = f"+{spec.offset}" if spec.offset else ""
            out.append(ProbeInfo(f"{kind}:{path}:{name}{suffix}", kind, path, name,
                                 offset=start + spec.offset))
    if not out and pt.has_wildcard(spec.func) and not diags.has_errors():
        diags.error(f"uprobes not found: {spec.target}:{spec.func}", ap.loc)
    return out


def _usdt_binaries(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
                   pid: int) -> list[str]:
    """The files a usdt attach point searches, as 0.17 finds them: the target
    (a glob: every match; else the first, with a warning when $PATH has more),
    or with -p and no target (or a glob) the files the process maps; with -p
    they are named as the process maps them."""
    if pid > 0 and (not spec.target or pt.has_wildcard(spec.target)):
        return [p for p in binaries.process_binaries(pid)
                if not spec.target or pt.wildcard_match(spec.target, p)]
    if not spec.target:
        diags.error("usdt probe must specify at least path or pid to probe", ap.loc)
        return []
    paths = binaries.resolve_binary_path(spec.target, pid)
    if not paths:
        diags.error(f"usdt target file '{spec.target}' does not exist or is not executable",
                    ap.loc)
    elif len(paths) > 1 and not pt.has_wildcard(spec.target):
        diags.warning(f"attaching to usdt target file '{paths[0]}' but matched {len(paths)} "
                      "binaries", ap.loc)
    paths = paths if pt.has_wildcard(spec.target) else paths[:1]
    return [_mapped_name(path, pid) for path in paths] if pid > 0 else paths


def _mapped_name(path: str, pid: int) -> str:
    """A file as process `pid` maps it (named through /proc/PID/root, as 0.17's
    usdt probes with -p are), or `path` when the process does not map it."""
    for mapped in binaries.process_binaries(pid):
        try:
            if os.path.samefile(mapped, path):
                return mapped
        except OSError:
            continue
    return path


def _usdts(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
           pid: int) -> list[ProbeInfo]:
    """usdt:BINARY:[PROVIDER:]NAME (globs anywhere): one concrete probe per
    location of each matching probe (an inlined marker has several), each
    with its semaphore and its arguments (semantic.usdt)."""
    from elftools.common.exceptions import ELFError

    from pybpftrace.semantic import usdt

    out = []
    for path in _usdt_binaries(spec, ap, diags, pid):
        try:
            found = usdt.notes(path)
        except (OSError, ELFError) as e:
            diags.error(f"usdt target file '{path}' is not a readable ELF file: {e}", ap.loc)
            continue
        for note in found:
            if pt.wildcard_match(spec.ns or "*", note.provider) and \
                    pt.wildcard_match(spec.func, note.name):
                out.append(ProbeInfo(f"usdt:{path}:{note.provider}:{note.name}", "usdt", path,
                                     note.name, offset=note.offset, ref_ctr=note.semaphore,
                                     usdt_args=note.args))
    return out  # none found: as 0.17, the probe is left out ("No probes to attach")


def _watchpoints(spec: pt.AttachPointSpec, ap: ast.AttachPoint, diags: Diagnostics,
                 process: _Process) -> list[ProbeInfo]:
    """watchpoint:ADDR:LEN:MODE watches one address from the start.
    watchpoint:FUNC+argN:LEN:MODE (FUNC may be a wildcard) watches, each time
    FUNC of the traced process's binary is called, the address in its argN:
    one concrete probe per function, named as 0.17 names it
    (`watchpoint:./prog:increment:1:4:w`, the argument index left out when 0),
    whose `offset` is where its setup uprobe goes."""
    from elftools.common.exceptions import ELFError

    from pybpftrace.semantic import elfsyms

    kind, tail = spec.kind.name, f":{spec.length}:{spec.mode}"
    watch = dict(address=spec.address, length=spec.length, mode=spec.mode)
    if not spec.func:
        return [ProbeInfo(f"{kind}:{spec.address}{tail}", kind, **watch)]
    path = process.watched_binary
    try:
        funcs = elfsyms.function_offsets(path)
    except (OSError, ELFError) as e:
        diags.error(f"watchpoint target file '{path}' is not a readable ELF file: {e}", ap.loc)
        return []
    names = sorted(n for n in funcs if pt.wildcard_match(spec.func, n)) \
        if pt.has_wildcard(spec.func) else [spec.func] * (spec.func in funcs)
    if not names:
        diags.error(f"Could not resolve symbol: {path}:{spec.func}", ap.loc)
    arg = f":{spec.address}" if spec.address else ""
    return [ProbeInfo(f"{kind}:{path}:{name}{arg}{tail}", kind, path, name,
                      offset=funcs[name][0], **watch) for name in names]

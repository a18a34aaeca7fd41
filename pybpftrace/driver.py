"""The compiler pipeline: source -> checked AST + Resources -> BPF programs.

The front end (`analyse`) needs no kernel access beyond the injected
KernelInfo; the back end (`generate`) needs the file descriptors of the maps
the runtime created from `Resources`, because map fds are embedded in the
instructions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from pybpftrace.codegen.emit import emit, new_module, object_file
from pybpftrace.codegen.lower import InternalMaps, Lowerer, ProgramContext
from pybpftrace.codegen.watchpoints import needs_setup, setup_program
from pybpftrace.diag import Diagnostics
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import c_preamble
from pybpftrace.lang.printer import attach_point_name
from pybpftrace.lang.parser import parse
from pybpftrace.resources import MapInfo, ProbeInfo, Resources
from pybpftrace.semantic import kprobe_fentry
from pybpftrace.semantic.attach import resolve_attach_points
from pybpftrace.semantic.kinfo import KernelInfo
from pybpftrace.semantic.typecheck import TypeChecker
from pybpftrace.types import Kind


@dataclass
class Options:
    strlen: int = 64
    max_map_keys: int = 4096
    unsafe: bool = False
    params: list[str] = field(default_factory=list)
    dry_run: bool = False
    include_dirs: list[str] = field(default_factory=list)   # -I DIR
    includes: list[str] = field(default_factory=list)       # --include FILE
    pid: int = 0              # -p PID (0: none)
    child_exe: str = ""       # -c CMD's program, as named ("": no -c; `cpid` is invalid)


@dataclass
class Analysed:
    program: ast.Program
    resources: Resources
    diags: Diagnostics


@dataclass
class ProgramUnit:
    """One BPF program and the concrete probes it is attached to."""
    name: str
    provider: str
    probes: list[ProbeInfo]
    ctx: ProgramContext
    insns: bytes = b""
    # watchpoint:FUNC+argN probes: probe index -> its setup uprobe program
    setups: dict[int, bytes] = field(default_factory=dict)


def analyse(source: str, filename: str, kinfo: KernelInfo, opts: Options,
            on_parsed=None) -> Analysed:
    """Parse and check; raises diag.DiagnosticError when there are errors.

    `on_parsed(program)` sees the AST before semantic analysis (for -d).
    """
    diags = Diagnostics(source, filename)
    pre = cdefs = None
    if opts.includes or c_preamble(source):
        pre = _preprocess(source, filename, kinfo, opts, diags)
    program = parse(source, diags, pre.macros if pre is not None else None)
    diags.check()
    if pre is not None:
        cdefs = _c_definitions(pre, filename, kinfo, program, diags)
    if on_parsed is not None:
        on_parsed(program)
    res = Resources(strlen=opts.strlen)
    res.probes = resolve_attach_points(program, diags, kinfo, opts.params, opts.dry_run,
                                       opts.pid, opts.child_exe)
    diags.check()

    def fields(probe: ast.Probe):
        if probe.provider != "tracepoint" or not probe.expansions:
            return []
        first = probe.expansions[0]
        return kinfo.tracepoint_fields(first.target, first.func)

    checker = TypeChecker(diags, opts.params, opts.strlen, opts.unsafe, fields,
                          getattr(kinfo, "kernel_btf", None),
                          getattr(kinfo, "raw_tracepoint_params", None), kinfo=kinfo,
                          cdefs=cdefs, has_child=bool(opts.child_exe))
    checker.run(program)
    diags.check()
    for name in sorted(checker.maps):
        decl = checker.maps[name]
        res.maps.append(MapInfo("@" + name, decl.key, decl.value, opts.max_map_keys))
    return Analysed(program, res, diags)


def _preprocess(source: str, filename: str, kinfo: KernelInfo, opts: Options,
                diags: Diagnostics):
    """The first half of bpftrace's clang pass: preprocess the C definitions
    before the first probe (with -I and --include); the result's macros are
    for the parser (lang.preprocess.Preprocessed)."""
    # Imported here: pcpp and pycparser cost start-up time that scripts
    # without C definitions should not pay.
    from pybpftrace.lang.preprocess import preprocess

    btf = getattr(kinfo, "kernel_btf", lambda: None)()
    pre = preprocess(source, filename, diags, opts.include_dirs, opts.includes,
                     have_btf=btf is not None)
    diags.check()
    return pre


def _c_definitions(pre, filename: str, kinfo: KernelInfo, program: ast.Program,
                   diags: Diagnostics):
    """The second half: the types of the preprocessed C definitions
    (semantic.cdefs.CDefs), knowing which kernel records the program uses."""
    from pybpftrace.semantic.cdefs import parse_cdefs

    btf = getattr(kinfo, "kernel_btf", lambda: None)()
    used = frozenset({"struct task_struct"} if ast.uses(program, {"curtask"}) else ())
    cdefs = parse_cdefs(pre.text, filename, diags, btf, used)
    diags.check()
    return cdefs


# argN of a usdt probe (semantic.usdt): where each argument is differs per location.
USDT_ARGS = {f"arg{i}" for i in range(10)}


def program_units(analysed: Analysed, kinfo: KernelInfo) -> list[ProgramUnit]:
    """Split probes into programs: one per probe, or one per concrete attach point
    when the body depends on the attach point's record layout (`args`).  A
    shared tracepoint program learns which probe fired from its attach cookie;
    other kinds get one program per attach point when they use `probe`, and
    uprobes when they use uaddr() (its value depends on the probed binary).
    BPF trampoline programs (fentry/fexit, iterators, and raw tracepoints
    loaded as tp_btf) are loaded for one kernel function, iterator or
    tracepoint each.  A probe
    whose attach points are of several kinds (`kprobe:f, kretprobe:f`) gets
    programs of each kind.  A usdt probe's arguments are where each location's
    note says: one program per location when it reads them.  On a kernel
    whose kprobes are fentry (semantic.kprobe_fentry), kprobe/kretprobe
    programs are fentry/fexit ones, one per function."""
    units = []
    typed_raw = getattr(kinfo, "typed_raw_tracepoint", lambda name: False)
    # Asked only of programs with kprobes: finding out loads a probe program.
    kprobes_fentry = any(p.provider in kprobe_fentry.KINDS for p in analysed.resources.probes) \
        and kprobe_fentry.via_fentry(kinfo)

    def tracing(probe: ProbeInfo) -> bool:
        return probe.provider in ("kfunc", "kretfunc", "iter") or (
            probe.provider == "rawtracepoint" and typed_raw(probe.func)) or (
            kprobes_fentry and probe.provider in kprobe_fentry.KINDS)

    for i, probe in enumerate(analysed.program.probes):
        kinds: dict[str, list[ProbeInfo]] = {}
        expansions = probe.expansions
        if kprobes_fentry and any(p.provider in kprobe_fentry.KINDS for p in expansions):
            fit = kprobe_fentry.fentry_expansions(probe, kinfo, analysed.diags)
            expansions = [p for p in expansions
                          if p.provider not in kprobe_fentry.KINDS or p in fit]
        for p in expansions:
            kinds.setdefault(p.provider, []).append(p)
        groups = []
        for provider, expansions in kinds.items():
            uses_probe = ast.uses(probe, {"probe"}) and provider != "tracepoint"
            specific = any(tracing(p) for p in expansions) or (
                len(expansions) > 1 and (ast.uses(probe, {"args", "uaddr"}) or uses_probe
                                         or (provider == "usdt" and ast.uses(probe, USDT_ARGS))))
            groups += [[p] for p in expansions] if specific else [expansions]
        for j, group in enumerate(groups):
            first = group[0]
            provider = first.provider
            ctx = ProgramContext(probe, provider, first if len(group) == 1 else None)
            if provider == "tracepoint":
                ctx.fields = {f.name: f for f in kinfo.tracepoint_fields(first.target, first.func)}
                ctx.user_pointers = first.target == "syscalls"
            elif provider in ("uprobe", "uretprobe", "usdt"):
                ctx.user_pointers = True
            elif provider == "rawtracepoint":
                params = getattr(kinfo, "raw_tracepoint_params", lambda n: None)(first.func)
                ctx.raw_args = {p.name: i for i, p in enumerate(params or [])}
            elif provider in ("kfunc", "kretfunc") or (kprobes_fentry
                                                        and provider in kprobe_fentry.KINDS):
                proto = kinfo.btf_function_proto(first.target or "vmlinux", first.func)
                ctx.raw_args = {p.name: i for i, p in enumerate(proto.params)}
                ctx.retval_slot = len(proto.params)
            ctx.tracing = len(group) == 1 and tracing(first)
            units.append(ProgramUnit(f"p{i}_{j}", provider, group, ctx))
    return units


def stack_limits(node: ast.Node) -> set[int]:
    """The limits of the kstack/ustack values a program makes (one stack map each)."""
    found = set()
    if isinstance(node, ast.Expr) and node.type.kind in (Kind.KSTACK, Kind.USTACK):
        found.add(node.type.stack_limit)
    for c in ast.children(node):
        found |= stack_limits(c)
    return found


def dry_run_maps(analysed: Analysed) -> InternalMaps:
    """Map "file descriptors" for programs compiled but not loaded (--emit-elf,
    -d): each map's number, as 0.17's ELF holds map ids, for a loader to
    replace (in each BPF_PSEUDO_MAP_FD ld_imm64) with the real map's fd.  The
    user's maps in Resources order, then the ring buffer, the status map, the
    scratch map, and one stack map per stack limit, smallest first."""
    for i, m in enumerate(analysed.resources.maps):
        m.fd = i
    n = len(analysed.resources.maps)
    limits = sorted(stack_limits(analysed.program))
    return InternalMaps(n, n + 1, n + 2, {lim: n + 3 + i for i, lim in enumerate(limits)})


@dataclass
class Listing:
    """What --emit-llvm, -dd and --emit-elf show of a compilation."""
    original_ir: str = ""
    elf: bytes = b""


def section_names(units: list[ProgramUnit], probes: list[ProbeInfo]) -> dict[str, str]:
    """0.17's ELF section of each program: `s_` + the probe's name (its attach
    points, or the one it was expanded to) + `_` + the program's number in
    the probe, from 1; a watchpoint's setup program is `s_`NAME`_wp_setup_`N."""
    names, count = {}, {}
    for unit in units:
        probe = unit.ctx.probe
        n = count[id(probe)] = count.get(id(probe), 0) + 1
        whole = ",".join(attach_point_name(ap.raw) for ap in probe.attach_points)
        name = unit.probes[0].name if len(unit.probes) == 1 and len(probe.expansions) > 1 else whole
        names[unit.name] = f"s_{name}_{n}"
        for p in filter(needs_setup, unit.probes):
            names[f"{unit.name}_setup{probes.index(p)}"] = f"s_{p.name}_wp_setup_{n}"
    return names


def codegen_warnings(analysed: Analysed) -> str:
    """0.17's warnings from code generation (its LOG(WARNING): --no-warnings
    silences them), once generate() has run."""
    return "WARNING: Addrspace is not set\n" if analysed.resources.legacy_reads else ""


def generate(analysed: Analysed, units: list[ProgramUnit], internal: InternalMaps,
             params: list[str], cpid: int = 0, helper_check: int = 0,
             listing: Listing | None = None) -> str:
    """Fill in each unit's instructions; returns the optimised IR (for -d).
    `cpid`: the pid of -c's child, compiled into the programs that use `cpid`.
    `helper_check`: -k (1) or -kk (2), see codegen.helper_errors.
    `listing`: filled in with the IR before optimisation and the ELF object."""
    module = new_module()
    format_ids: dict[int, int] = {}
    start_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    probes = analysed.resources.probes
    for unit in units:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, internal, format_ids,
                start_ns, params, cpid, helper_check).generate()
        for p in filter(needs_setup, unit.probes):
            setup_program(module, f"{unit.name}_setup{probes.index(p)}", internal,
                          probes.index(p), p)
    if listing is not None:
        listing.original_ir = str(module)
        listing.elf = object_file(module, section_names(units, probes))
    code, ir_text = emit(module)
    for unit in units:
        unit.insns = code[unit.name]
        unit.setups = {probes.index(p): code[f"{unit.name}_setup{probes.index(p)}"]
                       for p in filter(needs_setup, unit.probes)}
    return ir_text

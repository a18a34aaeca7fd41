"""The compiler pipeline: source -> checked AST + Resources -> BPF programs.

The front end (`analyse`) needs no kernel access beyond the injected
KernelInfo; the back end (`generate`) needs the file descriptors of the maps
the runtime created from `Resources`, because map fds are embedded in the
instructions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from pybpftrace.codegen.emit import emit, new_module
from pybpftrace.codegen.lower import InternalMaps, Lowerer, ProgramContext
from pybpftrace.codegen.watchpoints import needs_setup, setup_program
from pybpftrace.diag import Diagnostics
from pybpftrace.lang import ast
from pybpftrace.lang.lexer import c_preamble
from pybpftrace.lang.parser import parse
from pybpftrace.resources import MapInfo, ProbeInfo, Resources
from pybpftrace.semantic.attach import resolve_attach_points
from pybpftrace.semantic.kinfo import KernelInfo
from pybpftrace.semantic.typecheck import TypeChecker


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
    programs of each kind."""
    units = []
    typed_raw = getattr(kinfo, "typed_raw_tracepoint", lambda name: False)

    def tracing(probe: ProbeInfo) -> bool:
        return probe.provider in ("kfunc", "kretfunc", "iter") or (
            probe.provider == "rawtracepoint" and typed_raw(probe.func))

    for i, probe in enumerate(analysed.program.probes):
        kinds: dict[str, list[ProbeInfo]] = {}
        for p in probe.expansions:
            kinds.setdefault(p.provider, []).append(p)
        groups = []
        for provider, expansions in kinds.items():
            uses_probe = ast.uses(probe, {"probe"}) and provider != "tracepoint"
            specific = any(tracing(p) for p in expansions) or (
                len(expansions) > 1 and (ast.uses(probe, {"args", "uaddr"}) or uses_probe))
            groups += [[p] for p in expansions] if specific else [expansions]
        for j, group in enumerate(groups):
            first = group[0]
            provider = first.provider
            ctx = ProgramContext(probe, provider, first if len(group) == 1 else None)
            if provider == "tracepoint":
                ctx.fields = {f.name: f for f in kinfo.tracepoint_fields(first.target, first.func)}
                ctx.user_pointers = first.target == "syscalls"
            elif provider in ("uprobe", "uretprobe"):
                ctx.user_pointers = True
            elif provider == "rawtracepoint":
                params = getattr(kinfo, "raw_tracepoint_params", lambda n: None)(first.func)
                ctx.raw_args = {p.name: i for i, p in enumerate(params or [])}
            elif provider in ("kfunc", "kretfunc"):
                proto = kinfo.btf_function_proto(first.target, first.func)
                ctx.raw_args = {p.name: i for i, p in enumerate(proto.params)}
                ctx.retval_slot = len(proto.params)
            ctx.tracing = len(group) == 1 and tracing(first)
            units.append(ProgramUnit(f"p{i}_{j}", provider, group, ctx))
    return units


def generate(analysed: Analysed, units: list[ProgramUnit], internal: InternalMaps,
             params: list[str], cpid: int = 0, helper_check: int = 0) -> str:
    """Fill in each unit's instructions; returns the optimised IR (for -d).
    `cpid`: the pid of -c's child, compiled into the programs that use `cpid`.
    `helper_check`: -k (1) or -kk (2), see codegen.helper_errors."""
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
    code, ir_text = emit(module)
    for unit in units:
        unit.insns = code[unit.name]
        unit.setups = {probes.index(p): code[f"{unit.name}_setup{probes.index(p)}"]
                       for p in filter(needs_setup, unit.probes)}
    return ir_text

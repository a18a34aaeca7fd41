"""The `pybpftrace` command: bpftrace 0.17's command line, exit codes and messages.

Whatever goes wrong ends as a message and an exit status, never a Python
traceback: diagnostics in bpftrace's `file:line:col: ERROR:` form (exit 1),
kernel refusals as one `ERROR:` line (exit 1).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

from pybpftrace import __version__

# Start-up time is part of the user experience (bpftrace starts in ~250 ms):
# compiling our modules from source costs ~80 ms a run, so keep their bytecode
# even where PYTHONDONTWRITEBYTECODE is set.
sys.dont_write_bytecode = False

USAGE = """\
USAGE:
    pybpftrace [options] filename
    pybpftrace [options] - <stdin input>
    pybpftrace [options] -e 'program'

OPTIONS:
    -B MODE        output buffering mode ('full', 'none')
    -f FORMAT      output format ('text', 'json')
    -o file        redirect bpftrace output to file
    -e 'program'   execute this program
    -h, --help     show this help message
    -I DIR         add the directory to the include search path
    --include FILE add an #include file before preprocessing
    -l [search]    list probes
    -p PID         enable USDT probes on PID
    -c 'CMD'       run CMD and enable USDT probes on resulting process
    --usdt-file-activation
                   activate usdt semaphores based on file path
    --unsafe       allow unsafe builtin functions
    -q             keep messages quiet
    --info         Print information about kernel BPF support
    -k             emit a warning when a bpf helper returns an error (except read functions)
    -kk            check all bpf helper functions
    -V, --version  bpftrace version
    --no-warnings  disable all warning messages

TROUBLESHOOTING OPTIONS:
    -v                      verbose messages
    -d                      (dry run) debug info
    -dd                     (dry run) verbose debug info
    --emit-elf FILE         (dry run) generate ELF file with bpf programs and write to FILE
    --emit-llvm FILE        write LLVM IR to FILE.original.ll and FILE.optimized.ll

ENVIRONMENT:
    BPFTRACE_STRLEN             [default: 64] bytes on BPF stack per str()
    BPFTRACE_MAP_KEYS_MAX       [default: 4096] max keys in a map
    BPFTRACE_CAT_BYTES_MAX      [default: 10k] maximum bytes read by cat builtin
    BPFTRACE_MAX_PROBES         [default: 512] max number of probes
    BPFTRACE_MAX_BPF_PROGS      [default: 512] max number of generated BPF programs

EXAMPLES:
pybpftrace -l '*sleep*'
    list probes containing "sleep"
pybpftrace -e 'tracepoint:syscalls:sys_enter_nanosleep { printf("PID %d sleeping...\\n", pid); }'
    trace processes calling sleep
pybpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    count syscalls by process name
"""


class UsageError(Exception):
    """A bad command line: `ERROR: message` and exit 1."""


class BadOption(Exception):
    """An option getopt rejects: its message, then the usage, exit 1 (0.17's `default:` case)."""


class Args:
    def __init__(self):
        self.program: str | None = None
        self.filename = "stdin"
        self.params: list[str] = []
        self.include_dirs: list[str] = []
        self.includes: list[str] = []
        self.list = False
        self.list_pattern: str | None = None
        self.verbose = False
        self.debug = 0                    # -d: 1, -dd: 2
        self.emit_elf = ""                # --emit-elf FILE
        self.emit_llvm = ""               # --emit-llvm FILE
        self.output: str | None = None
        self.buffering = "line"
        self.format = "text"
        self.quiet = False
        self.unsafe = False
        self.info = False
        self.version = False
        self.help = False
        self.pid: str | None = None       # -p, validated by runtime.procmon
        self.command: str | None = None   # -c
        self.helper_check = 0             # -k, -kk
        self.no_warnings = False


# 0.17's getopt_long table: short options (":" after one taking an argument)
# and long options (name -> takes an argument).  -b/--btf and
# --usdt-file-activation are accepted and change nothing here: usdt semaphores
# are always activated, by the kernel, in every process running the file (the
# uprobe's ref_ctr_offset; 0.17 does the same where the kernel has it).
SHORT_OPTIONS = "dbB:f:e:hlp:vqc:Vo:I:k"
LONG_OPTIONS = {"help": False, "version": False, "usdt-file-activation": False, "unsafe": False,
                "btf": False, "include": True, "info": False, "no-warnings": False,
                "emit-elf": True, "emit-llvm": True}


def getopt_long(argv: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """glibc's getopt_long, as bpftrace calls it: (options in order, operands).

    Operands may come between options (they are moved to the end); `--` ends
    the options; `-abc` is three short options, and an option taking an
    argument takes the rest of the word or the next one; long options may be
    abbreviated to a unique prefix.  Errors raise BadOption with glibc's words.
    """
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            operands += argv[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            matches = [n for n in LONG_OPTIONS if n.startswith(name)]
            if name in LONG_OPTIONS:
                matches = [name]
            if not matches:
                raise BadOption(f"unrecognized option '--{name}'")
            if len(matches) > 1:
                raise BadOption(f"option '--{name}' is ambiguous; possibilities:"
                                + "".join(f" '--{m}'" for m in matches))
            name = matches[0]
            if not LONG_OPTIONS[name]:
                if eq:
                    raise BadOption(f"option '--{name}' doesn't allow an argument")
                value = None
            elif not eq:
                if i >= len(argv):
                    raise BadOption(f"option '--{name}' requires an argument")
                value, i = argv[i], i + 1
            opts.append(("--" + name, value))
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                c = arg[j]
                where = SHORT_OPTIONS.find(c)
                if c == ":" or where < 0:
                    raise BadOption(f"invalid option -- '{c}'")
                if SHORT_OPTIONS[where + 1:where + 2] != ":":
                    opts.append(("-" + c, None))
                    j += 1
                    continue
                if j + 1 < len(arg):
                    opts.append(("-" + c, arg[j + 1:]))
                elif i < len(argv):
                    opts.append(("-" + c, argv[i]))
                    i += 1
                else:
                    raise BadOption(f"option requires an argument -- '{c}'")
                break
        else:
            operands.append(arg)
    return opts, operands


def parse_args(argv: list[str]) -> Args:
    """The command line as bpftrace 0.17's parse_args reads it, checks included."""
    a = Args()
    opts, operands = getopt_long(argv)
    for opt, value in opts:
        if opt == "-e":
            a.program = value
        elif opt == "-I":
            a.include_dirs.append(value)
        elif opt == "--include":
            a.includes.append(value)
        elif opt == "-l":
            a.list = True
        elif opt == "-v":
            a.verbose = True
        elif opt == "-d":
            a.debug += 1
            if a.debug > 2:  # 0.17's debug level wraps around to none: the usage
                raise BadOption(None)
        elif opt == "--emit-elf":
            a.emit_elf = value
        elif opt == "--emit-llvm":
            a.emit_llvm = value
        elif opt == "-o":
            a.output = value
        elif opt == "-B":
            if value not in ("line", "full", "none"):
                raise UsageError("USAGE: -B must be either 'line', 'full', or 'none'.")
            a.buffering = value
        elif opt == "-f":
            a.format = value
        elif opt == "-p":
            a.pid = value
        elif opt == "-c":
            a.command = value
        elif opt == "-k":
            a.helper_check += 1
            if a.helper_check >= 3:
                raise BadOption(None)
        elif opt == "-q":
            a.quiet = True
        elif opt == "--unsafe":
            a.unsafe = True
        elif opt == "--no-warnings":
            a.no_warnings = True
        elif opt == "--info":
            a.info = True
        elif opt in ("-V", "--version"):
            a.version = True
        elif opt in ("-h", "--help"):
            a.help = True
    if a.help or a.version or a.info:
        return a  # these act during parsing in 0.17, before any check below
    if not argv:
        raise BadOption(None)
    if a.verbose and a.debug:
        raise UsageError("USAGE: Use either -v or -d.")
    if a.command and a.pid:
        sys.stderr.write("ERROR: USAGE: Cannot use both -c and -p.\n")
        raise BadOption(None)
    if a.format not in ("text", "json"):
        raise UsageError(f"Invalid output format \"{a.format}\"\nValid formats: 'text', 'json'")
    if a.list:
        if len(operands) > 1:
            raise BadOption(None)
        a.list_pattern = operands[0] if operands else None
        return a
    if not a.program:
        a.program = None
        if not operands:
            raise UsageError("USAGE: filename or -e 'program' required.")
        a.filename = operands.pop(0)
    a.params = operands
    return a


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text, 0)
    except ValueError:
        raise UsageError(f"Env var '{name}' did not contain a valid uint64_t, or was zero-valued.")


def _set_comm(name: bytes) -> None:
    """Name this process like bpftrace, so `comm` in BEGIN/END and the usual
    `/comm != "bpftrace"/` filters see the tracer as they would see bpftrace."""
    libc = ctypes.CDLL(None)
    libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _set_comm(b"bpftrace")
    # Like any C tool (and bpftrace), end quietly when a reader such as `head` goes away.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return _main(argv)
    except UsageError as e:
        sys.stderr.write(f"ERROR: {e}\n")
        return 1
    except BadOption as e:  # glibc's getopt message, then the usage
        if e.args and e.args[0]:
            sys.stderr.write(f"pybpftrace: {e}\n")
        sys.stderr.write(USAGE)
        return 1
    except KeyboardInterrupt:
        return 1
    except Exception as e:  # a bug: say so in one line; the traceback on request
        if os.environ.get("PYBPFTRACE_DEBUG"):
            raise
        sys.stderr.write(f"ERROR: internal error in pybpftrace: {type(e).__name__}: {e}\n"
                         "(set PYBPFTRACE_DEBUG=1 to see where)\n")
        return 2


class ChildFailed(Exception):
    """-c's command cannot be run: 0.17 says so and exits with 255."""


class Target:
    """The process to trace: -p's (checked at once, as 0.17 does) and -c's
    command (resolved at once; forked once the program is compiled)."""

    def __init__(self, args: Args):
        from pybpftrace.runtime.child import ChildError, resolve_command
        from pybpftrace.runtime.procmon import ProcMon, ProcMonError

        self.procmon = None
        self.command: list[str] | None = None
        if args.pid:
            try:
                self.procmon = ProcMon(args.pid)
            except ProcMonError as e:
                raise UsageError(str(e))
        if args.command:
            try:
                self.command = resolve_command(args.command)
            except ChildError as e:
                raise ChildFailed(str(e))

    @property
    def pid(self) -> int:
        return self.procmon.pid if self.procmon is not None else 0


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.help:
        sys.stdout.write(USAGE)
        return 0
    if args.version:
        sys.stdout.write(f"pybpftrace v{__version__} (bpftrace v0.17.0 compatible)\n")
        return 0
    if args.info:
        from pybpftrace.runtime.info import print_info
        return print_info(sys.stdout)
    try:
        target = Target(args)
    except ChildFailed as e:
        sys.stderr.write(f"ERROR: Failed to fork child: {e}\n")
        return 255
    if args.list:
        from pybpftrace.probes.listing import list_probes
        return list_probes(args.list_pattern, args.verbose, sys.stdout, pid=target.pid)
    if args.program is None:
        try:
            with open(args.filename if args.filename != "-" else "/dev/stdin") as f:
                source = f.read()
        except OSError as e:
            raise UsageError(f"failed to open file '{args.filename}': {e.strerror}")
        filename = args.filename if args.filename != "-" else "stdin"
    else:
        source, filename = args.program, "stdin"
    return run(source, filename, args, target)


def run(source: str, filename: str, args: Args, target: Target) -> int:
    from pybpftrace import driver
    from pybpftrace.diag import DiagnosticError
    from pybpftrace.probes.kernelinfo import KernelInfo
    from pybpftrace.probes.tracefs import TracefsError

    opts = driver.Options(
        strlen=_env_int("BPFTRACE_STRLEN", 64),
        max_map_keys=_env_int("BPFTRACE_MAP_KEYS_MAX", 4096),
        unsafe=args.unsafe,
        params=args.params,
        dry_run=bool(args.debug or args.emit_elf),
        include_dirs=args.include_dirs,
        includes=args.includes,
        pid=target.pid,
        child_exe=target.command[0] if target.command is not None else "",
    )
    if opts.strlen > 200:
        raise UsageError("'BPFTRACE_STRLEN' must be <= 200")
    kinfo = KernelInfo()
    on_parsed = (lambda program: _dump_ast("parser", program)) if args.debug else None
    try:
        analysed = driver.analyse(source, filename, kinfo, opts, on_parsed)
    except DiagnosticError as e:
        sys.stderr.write(e.diags.render(("ERROR",) if args.no_warnings else ("WARNING", "ERROR")))
        return 1
    except TracefsError as e:
        sys.stderr.write(f"ERROR: {e}\n")
        return 1
    warnings = analysed.diags.render(("WARNING",))
    if warnings and not args.no_warnings:
        sys.stderr.write(warnings)
    if args.debug:
        for stage in ("Semantic", "NodeCounter", "ResourceAnalyser"):  # 0.17's passes
            _dump_ast(stage, analysed.program)
    if args.debug or args.emit_elf:
        return _compile_only(analysed, kinfo, args, opts)
    if not analysed.resources.probes:  # all were kprobes on functions the kernel lacks
        if not args.quiet:
            sys.stdout.write("No probes to attach\n")
        return 1
    return _execute(analysed, kinfo, args, opts, target)


def _compile_only(analysed, kinfo, args: Args, opts) -> int:
    """-d, -dd, --emit-elf: compile without loading, maps numbered in place
    of their fds (driver.dry_run_maps); show the IR, write the files asked for."""
    from pybpftrace import driver

    listing = driver.Listing()
    units = driver.program_units(analysed, kinfo)
    optimised = driver.generate(analysed, units, driver.dry_run_maps(analysed), opts.params,
                                helper_check=args.helper_check, listing=listing)
    if not args.no_warnings:
        sys.stderr.write(driver.codegen_warnings(analysed))
    if args.debug >= 2:
        sys.stdout.write("Before optimization\n-------------------\n\n" + listing.original_ir
                         + "\nAfter optimization\n------------------\n\n")
    if args.debug:
        sys.stdout.write(optimised)
    _write_llvm(args, listing.original_ir, optimised)
    if args.emit_elf:
        try:
            with open(args.emit_elf, "wb") as f:
                f.write(listing.elf)
        except OSError as e:
            raise UsageError(f"failed to write elf: Failed to open: {args.emit_elf}: {e.strerror}")
    return 0


def _write_llvm(args: Args, original: str, optimised: str) -> None:
    """--emit-llvm FILE: FILE.original.ll and FILE.optimized.ll, as 0.17 writes
    them: a file that cannot be written is left out without a word."""
    if not args.emit_llvm:
        return
    for suffix, text in ((".original.ll", original), (".optimized.ll", optimised)):
        try:
            with open(args.emit_llvm + suffix, "w") as f:
                f.write(text)
        except OSError:
            pass


def _dump_ast(stage: str, program) -> None:
    """One section of -d output, as bpftrace 0.17 prints it."""
    from pybpftrace.lang.printer import dump
    sys.stdout.write(f"\nAST after: {stage}\n-------------------\n")
    sys.stdout.write(dump(program, with_types=True) + "\n")


def _execute(analysed, kinfo, args: Args, opts, target: Target) -> int:
    from pybpftrace.bpf.sys import BpfError
    from pybpftrace.diag import DiagnosticError
    from pybpftrace.output.json import JsonOutput
    from pybpftrace.output.text import TextOutput
    from pybpftrace.runtime.child import ChildProc
    from pybpftrace.runtime.session import RunOptions, Session, SessionError

    console = sys.stdout.buffer
    try:
        out_stream = open(args.output, "wb") if args.output else console
    except OSError as e:
        sys.stderr.write(f'ERROR: Failed to open output file: "{args.output}": {e.strerror}\n')
        return 1
    if args.buffering == "full":
        out_stream = FullyBuffered(out_stream)
    Output = JsonOutput if args.format == "json" else TextOutput
    out = Output(out_stream, console)
    if args.quiet:
        out.attached_probes = lambda n: None
    run_opts = RunOptions(verbose=args.verbose,
                          cat_bytes_max=_env_int("BPFTRACE_CAT_BYTES_MAX", 10240),
                          ringbuf_pages=_env_int("BPFTRACE_PERF_RB_PAGES", 0),
                          max_probes=_env_int("BPFTRACE_MAX_PROBES", 512),
                          max_programs=_env_int("BPFTRACE_MAX_BPF_PROGS", 512),
                          procmon=target.procmon, helper_check=args.helper_check,
                          no_warnings=args.no_warnings,
                          on_compiled=(lambda original, optimised:
                                       _write_llvm(args, original, optimised))
                          if args.emit_llvm else None)
    sys.stdout.flush()
    if target.command is not None:
        run_opts.child = ChildProc(target.command)
    session = Session(analysed, kinfo, out, opts.params, run_opts)
    try:
        return session.run()
    except DiagnosticError as e:  # located at an attach point the kernel cannot attach
        sys.stderr.write(str(e))
        return 1
    except (BpfError, SessionError, OSError) as e:
        sys.stderr.write(f"ERROR: {e}\n")
        return 1
    finally:
        session.close()
        if run_opts.child is not None:
            run_opts.child.close()
        if isinstance(out_stream, FullyBuffered):
            out_stream.flush_all()
        if args.output:
            out_stream.close()


class FullyBuffered:
    """`-B full`: the output stream's flushes are ignored until the tracer exits."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def flush(self) -> None:
        pass

    def flush_all(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()

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
    --unsafe       allow unsafe builtin functions
    -q             keep messages quiet
    --info         Print information about kernel BPF support
    -V, --version  bpftrace version

TROUBLESHOOTING OPTIONS:
    -v                      verbose messages
    -d                      (dry run) debug info

ENVIRONMENT:
    BPFTRACE_STRLEN             [default: 64] bytes on BPF stack per str()
    BPFTRACE_MAP_KEYS_MAX       [default: 4096] max keys in a map
    BPFTRACE_CAT_BYTES_MAX      [default: 10k] maximum bytes read by cat builtin
    BPFTRACE_MAX_PROBES         [default: 512] max number of probes

EXAMPLES:
pybpftrace -l '*sleep*'
    list probes containing "sleep"
pybpftrace -e 'tracepoint:syscalls:sys_enter_nanosleep { printf("PID %d sleeping...\\n", pid); }'
    trace processes calling sleep
pybpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    count syscalls by process name
"""


class UsageError(Exception):
    pass


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
        self.debug = False
        self.output: str | None = None
        self.buffering = "line"
        self.format = "text"
        self.quiet = False
        self.unsafe = False
        self.info = False
        self.version = False
        self.help = False


def parse_args(argv: list[str]) -> Args:
    a = Args()
    i = 0
    positional: list[str] = []

    def value(opt: str) -> str:
        nonlocal i
        i += 1
        if i >= len(argv):
            raise UsageError(f"option requires an argument -- '{opt.lstrip('-')}'")
        return argv[i]

    while i < len(argv):
        arg = argv[i]
        if positional or (not arg.startswith("-") or arg == "-"):
            positional.append(arg)
        elif arg == "--":
            positional.extend(argv[i + 1:])
            break
        elif arg == "-e":
            a.program = value(arg)
        elif arg == "-I":
            a.include_dirs.append(value(arg))
        elif arg.startswith("-I"):
            a.include_dirs.append(arg[2:])
        elif arg == "--include":
            a.includes.append(value(arg))
        elif arg.startswith("--include="):
            a.includes.append(arg[len("--include="):])
        elif arg in ("-l", "--list"):
            a.list = True
        elif arg == "-lv":
            a.list = a.verbose = True
        elif arg in ("-v", "--verbose"):
            a.verbose = True
        elif arg in ("-d", "-dd", "--debug"):
            a.debug = True
        elif arg in ("-o", "--output"):
            a.output = value(arg)
        elif arg == "-B":
            a.buffering = value(arg)
            if a.buffering not in ("line", "full", "none"):
                raise UsageError("USAGE: -B must be either 'line', 'full', or 'none'.")
        elif arg == "-f":
            a.format = value(arg)
            if a.format not in ("text", "json"):
                raise UsageError(f"Invalid output format \"{a.format}\"\nValid formats: 'text', 'json'")
        elif arg in ("-q", "--quiet"):
            a.quiet = True
        elif arg == "--unsafe":
            a.unsafe = True
        elif arg == "--info":
            a.info = True
        elif arg in ("-V", "--version"):
            a.version = True
        elif arg in ("-h", "--help"):
            a.help = True
        elif arg.startswith("-e") and len(arg) > 2:
            a.program = arg[2:]
        else:
            raise UsageError(f"unrecognized option '{arg}'")
        i += 1
    if a.list:
        if positional and a.program is None:
            a.list_pattern = positional[0]
        return a
    if a.program is None and positional:
        a.filename = positional.pop(0)
    a.params = positional
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
    except KeyboardInterrupt:
        return 1
    except Exception as e:  # a bug: say so in one line; the traceback on request
        if os.environ.get("PYBPFTRACE_DEBUG"):
            raise
        sys.stderr.write(f"ERROR: internal error in pybpftrace: {type(e).__name__}: {e}\n"
                         "(set PYBPFTRACE_DEBUG=1 to see where)\n")
        return 2


def _main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(USAGE)
        return 1
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
    if args.list:
        from pybpftrace.probes.listing import list_probes
        return list_probes(args.list_pattern, args.verbose, sys.stdout)
    if args.program is None:
        if args.filename == "stdin":
            sys.stderr.write(USAGE)
            return 1
        try:
            with open(args.filename if args.filename != "-" else "/dev/stdin") as f:
                source = f.read()
        except OSError as e:
            raise UsageError(f"failed to open file '{args.filename}': {e.strerror}")
        filename = args.filename if args.filename != "-" else "stdin"
    else:
        source, filename = args.program, "stdin"
    return run(source, filename, args)


def run(source: str, filename: str, args: Args) -> int:
    from pybpftrace import driver
    from pybpftrace.diag import DiagnosticError
    from pybpftrace.probes.kernelinfo import KernelInfo
    from pybpftrace.probes.tracefs import TracefsError

    opts = driver.Options(
        strlen=_env_int("BPFTRACE_STRLEN", 64),
        max_map_keys=_env_int("BPFTRACE_MAP_KEYS_MAX", 4096),
        unsafe=args.unsafe,
        params=args.params,
        dry_run=args.debug,
        include_dirs=args.include_dirs,
        includes=args.includes,
    )
    if opts.strlen > 200:
        raise UsageError("'BPFTRACE_STRLEN' must be <= 200")
    max_probes = _env_int("BPFTRACE_MAX_PROBES", 512)
    kinfo = KernelInfo()
    on_parsed = (lambda program: _dump_ast("parser", program)) if args.debug else None
    try:
        analysed = driver.analyse(source, filename, kinfo, opts, on_parsed)
    except DiagnosticError as e:
        sys.stderr.write(e.diags.render())
        return 1
    except TracefsError as e:
        sys.stderr.write(f"ERROR: {e}\n")
        return 1
    warnings = analysed.diags.render(("WARNING",))
    if warnings:
        sys.stderr.write(warnings)
    if args.debug:
        _dump_ast("Semantic", analysed.program)
        return 0
    if len(analysed.resources.probes) > max_probes:
        sys.stderr.write(f"ERROR: Can't attach to {len(analysed.resources.probes)} probes because it "
                         f"exceeds the current limit of {max_probes} probes.\nYou can increase the limit "
                         "through the BPFTRACE_MAX_PROBES environment variable, but BE CAREFUL since a "
                         "high number of probes attached can cause your system to crash.\n")
        return 1
    return _execute(analysed, kinfo, args, opts)


def _dump_ast(stage: str, program) -> None:
    """One section of -d output, as bpftrace 0.17 prints it."""
    from pybpftrace.lang.printer import dump
    sys.stdout.write(f"\nAST after: {stage}\n-------------------\n")
    sys.stdout.write(dump(program, with_types=True) + "\n")


def _execute(analysed, kinfo, args: Args, opts) -> int:
    from pybpftrace.bpf.sys import BpfError
    from pybpftrace.diag import DiagnosticError
    from pybpftrace.output.json import JsonOutput
    from pybpftrace.output.text import TextOutput
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
                          ringbuf_pages=_env_int("BPFTRACE_PERF_RB_PAGES", 0))
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

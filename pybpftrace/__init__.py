"""pybpftrace: bpftrace, the Linux eBPF tracer, written in Python.

`pybpftrace.run(program, duration=...)` runs a program and returns its events
and maps as Python objects (see pybpftrace.api); the `pybpftrace` command is
pybpftrace.cli.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Imported on first use, so `import pybpftrace` (and the CLI's -h, -V, -l)
    # does not pay for LLVM.
    if name in ("run", "Result"):
        from pybpftrace import api
        return getattr(api, name)
    raise AttributeError(f"module 'pybpftrace' has no attribute {name!r}")

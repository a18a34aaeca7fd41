"""pybpftrace: bpftrace, the Linux eBPF tracer, written in Python."""

__version__ = "0.1.0"

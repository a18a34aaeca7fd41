"""BPF programs: load (with the verifier's log on failure), test-run, inspect.

Loading is first tried without a log, since asking for one slows the verifier
down on big programs.  Only if the kernel refuses the program do we load it
again with log_level=1 to learn why, and raise `VerifierError` carrying the
whole log and a short summary (its last meaningful lines).
"""
from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

from pybpftrace.bpf import sys, uapi
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import Cmd, ProgType

# The first log buffer; a larger one is used when the kernel reports (6.4+
# `log_true_size`) that the full log did not fit, up to _MAX_LOG.
_LOG_SIZE = 1 << 20
_MAX_LOG = 256 << 20

# Lines at the end of a log that are statistics, not the reason for a rejection.
_STAT_PREFIXES = ("processed ", "verification time", "stack depth", "max_states_per_insn",
                  "peak_states", "mark_precise")
_SUMMARY_LINES = 3


class VerifierError(BpfError):
    """The verifier rejected a program; `log` is the full log, `summary` its last
    meaningful lines."""

    def __init__(self, op: str, err: int, log: str):
        super().__init__(op, err)
        self.log = log
        self.summary = summarize(log)

    def __str__(self) -> str:
        last = self.summary[-1] if self.summary else ""
        return f"{self.op}: {self.strerror}: {last}" if last else super().__str__()


def summarize(log: str) -> list[str]:
    """The last few lines of a verifier log that explain a rejection."""
    lines = [line.rstrip() for line in log.splitlines()]
    while lines and (not lines[-1] or lines[-1].startswith(_STAT_PREFIXES)):
        lines.pop()
    return lines[-_SUMMARY_LINES:]


@dataclass(frozen=True)
class ProgramInfo:
    """What the kernel reports about a loaded program (BPF_OBJ_GET_INFO_BY_FD)."""

    id: int
    name: str
    tag: str
    xlated_len: int        # bytes of the program after verifier rewrites
    jited_len: int         # bytes of native code
    verified_insns: int    # instructions the verifier walked
    run_count: int         # needs kernel.bpf_stats_enabled, else 0
    run_time_ns: int


class Program:
    """A loaded BPF program: owns its fd (close() or use as a context manager)."""

    def __init__(self, fd: int, prog_type: int, name: str, insn_count: int, log: str = ""):
        self.fd = fd
        self.prog_type = ProgType(prog_type)
        self.name = name or f"fd {fd}"
        self.insn_count = insn_count
        self.log = log  # the verifier log when loaded with log_level > 0

    @classmethod
    def load(cls, prog_type: int, insns: bytes, license: str = "GPL", name: str = "",
             expected_attach_type: int = 0, attach_btf_id: int = 0, attach_btf_obj_fd: int = 0,
             log_level: int = 0, prog_btf_fd: int = 0, func_info: bytes = b"",
             func_info_rec_size: int = 8, line_info: bytes = b"",
             line_info_rec_size: int = 16) -> "Program":
        """BPF_PROG_LOAD.  Raises VerifierError when the verifier says no and
        BpfError when the kernel refuses without a log (e.g. EPERM by policy).

        TRACING programs name what they attach to when loaded: `attach_btf_id`
        is a type id in vmlinux's BTF, or in the module BTF object whose fd is
        `attach_btf_obj_fd`."""
        if len(insns) % uapi.BPF_INSN_SIZE:
            raise ValueError(f"program {name}: {len(insns)} bytes is not a whole number of insns")
        op = f"load program {name}" if name else "load program"
        bufs = {
            "insns": ctypes.create_string_buffer(insns, len(insns)),
            "license": ctypes.create_string_buffer(license.encode()),
            "func_info": ctypes.create_string_buffer(func_info, len(func_info)),
            "line_info": ctypes.create_string_buffer(line_info, len(line_info)),
        }
        attr = uapi.ProgLoadAttr(
            prog_type=prog_type, insn_cnt=len(insns) // uapi.BPF_INSN_SIZE,
            insns=ctypes.addressof(bufs["insns"]), license=ctypes.addressof(bufs["license"]),
            prog_name=uapi.obj_name(name), expected_attach_type=expected_attach_type,
            prog_btf_fd=prog_btf_fd, attach_btf_id=attach_btf_id,
            attach_prog_fd=attach_btf_obj_fd)  # the same union member in the UAPI
        if func_info:
            attr.func_info = ctypes.addressof(bufs["func_info"])
            attr.func_info_rec_size = func_info_rec_size
            attr.func_info_cnt = len(func_info) // func_info_rec_size
        if line_info:
            attr.line_info = ctypes.addressof(bufs["line_info"])
            attr.line_info_rec_size = line_info_rec_size
            attr.line_info_cnt = len(line_info) // line_info_rec_size

        if log_level == 0:
            try:
                return cls(sys.bpf(Cmd.PROG_LOAD, attr, op), prog_type, name, attr.insn_cnt)
            except BpfError:
                log_level = uapi.BPF_LOG_LEVEL1  # load again, this time to learn why
        fd, log = _load_with_log(attr, log_level, op)
        return cls(fd, prog_type, name, attr.insn_cnt, log)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Program":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Program {self.name} {self.prog_type.name} fd={self.fd}>"

    def test_run(self, ctx_in: bytes = b"") -> int:
        """Run the program once in this task (BPF_PROG_TEST_RUN) and return its
        return value.  On 6.18 only raw_tp programs support this; for them
        `ctx_in` is the u64 argument array."""
        ctx = ctypes.create_string_buffer(ctx_in, len(ctx_in))
        attr = uapi.TestRunAttr(prog_fd=self.fd, ctx_size_in=len(ctx_in),
                                ctx_in=ctypes.addressof(ctx) if ctx_in else 0)
        sys.bpf(Cmd.PROG_TEST_RUN, attr, f"test-run program {self.name}")
        return attr.retval

    def info(self) -> ProgramInfo:
        """Sizes and counters the kernel keeps for this program (for -v)."""
        info = uapi.ProgInfo()
        attr = uapi.InfoByFdAttr(bpf_fd=self.fd, info_len=ctypes.sizeof(info),
                                 info=ctypes.addressof(info))
        sys.bpf(Cmd.OBJ_GET_INFO_BY_FD, attr, f"get info of program {self.name}")
        return ProgramInfo(id=info.id, name=info.name.decode(errors="replace"),
                           tag=bytes(info.tag).hex(), xlated_len=info.xlated_prog_len,
                           jited_len=info.jited_prog_len, verified_insns=info.verified_insns,
                           run_count=info.run_cnt, run_time_ns=info.run_time_ns)


def _load_with_log(attr: uapi.ProgLoadAttr, log_level: int, op: str) -> tuple[int, str]:
    """PROG_LOAD with a verifier log buffer; grows the buffer once if the kernel
    says the log was cut short.  Returns (fd, log)."""
    size = _LOG_SIZE
    while True:
        buf = ctypes.create_string_buffer(size)
        attr.log_level, attr.log_size, attr.log_buf = log_level, size, ctypes.addressof(buf)
        attr.log_true_size = 0
        try:
            fd = sys.bpf(Cmd.PROG_LOAD, attr, op)
            return fd, buf.value.decode(errors="replace")
        except BpfError as e:
            log = buf.value.decode(errors="replace")
            if e.errno == errno.ENOSPC and size < attr.log_true_size <= _MAX_LOG:
                size = attr.log_true_size
                continue
            if not log:
                raise
            raise VerifierError(op, e.errno, log) from None

"""The setup program of a watchpoint on a function argument, as bpftrace 0.17 generates it.

`watchpoint:FUNC+argN:LEN:MODE` cannot be attached up front: the address is
known only when FUNC runs.  So a uprobe on FUNC runs this small program: it
stops the process (bpf_send_signal(SIGSTOP); not for `asyncwatchpoint`), and
sends a WATCHPOINT_ATTACH record with the probe's index and argN; the runtime
then attaches the probe's body to a hardware watchpoint on that address and
lets the process continue (SIGCONT).
"""
from __future__ import annotations

import signal

from llvmlite import ir

from pybpftrace.codegen.irbuilder import I8P, I32, I64, BpfBuilder, Helper, const
from pybpftrace.codegen.lower import PT_REGS_ARGS, InternalMaps
from pybpftrace.resources import Action, ProbeInfo

WATCH_KINDS = ("watchpoint", "asyncwatchpoint")
RECORD_SIZE = 24  # u64 action, u64 probe index, u64 address


def needs_setup(probe: ProbeInfo) -> bool:
    """Is this a watchpoint on a function's argument (rather than on an address)?"""
    return probe.provider in WATCH_KINDS and bool(probe.func)


def setup_program(module: ir.Module, name: str, internal: InternalMaps, probe_index: int,
                  probe: ProbeInfo) -> None:
    """Add the setup program of `probe` (number `probe_index`) to `module` as `name`."""
    func = ir.Function(module, ir.FunctionType(I64, [I8P]), name=name)
    func.section = f"prog_{name}"
    bb = BpfBuilder(module, func)
    if probe.provider == "watchpoint":
        bb.helper(Helper.SEND_SIGNAL, [const(signal.SIGSTOP, I32)])
    address = bb.load(func.args[0], PT_REGS_ARGS[probe.address])  # argN: address = N
    record = bb.alloca(RECORD_SIZE, "watchpoint")
    bb.store(const(Action.WATCHPOINT_ATTACH), record, 0)
    bb.store(const(probe_index), record, 8)
    bb.store(address, record, 16)
    bb.output(internal.ringbuf, internal.status, record, RECORD_SIZE)
    bb.b.ret(const(0))
    bb.finish()

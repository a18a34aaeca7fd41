"""-k / -kk: report failing helper calls at run time, as bpftrace 0.17 does.

With -k, after each call of a helper 0.17 checks, the program tests the
result and, when it is an error (negative; for a map read, "not found"),
sends a HELPER_ERROR record: the action id, an index into
Resources.helper_errors (the helper's name and the source location of the
expression or statement that called it) and the return code.  The runtime
prints 0.17's warning for it.  -k leaves out the reads (probe_read*,
map_lookup_elem), whose failures already give zeroes a script can test; -kk
checks them too.  Without -k no code is added: the checks cost a branch and
a record per call.
"""
from __future__ import annotations

from typing import Callable

from llvmlite import ir

from pybpftrace.codegen.irbuilder import I32, I64, BpfBuilder, Helper, const
from pybpftrace.diag import Location
from pybpftrace.resources import Action, HelperErrorInfo, Resources

# The helpers 0.17 checks, by the name its messages use (libbpf's bpf_func_name).
CHECKED = {
    Helper.MAP_LOOKUP_ELEM: "map_lookup_elem",
    Helper.MAP_UPDATE_ELEM: "map_update_elem",
    Helper.MAP_DELETE_ELEM: "map_delete_elem",
    Helper.PROBE_READ: "probe_read",
    Helper.PROBE_READ_STR: "probe_read_str",
    Helper.PROBE_READ_USER: "probe_read_user",
    Helper.PROBE_READ_KERNEL: "probe_read_kernel",
    Helper.PROBE_READ_USER_STR: "probe_read_user_str",
    Helper.PROBE_READ_KERNEL_STR: "probe_read_kernel_str",
    Helper.GET_STACKID: "get_stackid",
    Helper.GET_CURRENT_COMM: "get_current_comm",
    Helper.SEND_SIGNAL: "send_signal",
    Helper.D_PATH: "d_path",
}
# Checked only with -kk.
READS = {Helper.MAP_LOOKUP_ELEM, Helper.PROBE_READ, Helper.PROBE_READ_STR, Helper.PROBE_READ_USER, Helper.PROBE_READ_KERNEL,
         Helper.PROBE_READ_USER_STR, Helper.PROBE_READ_KERNEL_STR}

RECORD_SIZE = 24  # u64 action, u64 error id, i64 return code


class HelperChecks:
    """The -k checks of one program: hooked into its BpfBuilder's helper calls.

    `where()` gives the node being lowered (for the location); `emit(buf,
    size)` sends a record through the ring buffer.
    """

    def __init__(self, level: int, bb: BpfBuilder, res: Resources, where: Callable,
                 emit: Callable[[ir.Value, int], None]):
        self.level = level
        self.bb = bb
        self.res = res
        self.where = where
        self.emit = emit
        bb.check_result = self.after_call

    def checks(self, hid: int) -> bool:
        return hid in CHECKED and (self.level >= 2 or hid not in READS)

    def after_call(self, hid: int, rc: ir.Value) -> None:
        """Report `rc` if it is negative (an int, as the helpers return)."""
        if not self.checks(hid) or hid == Helper.MAP_LOOKUP_ELEM:
            return
        b = self.bb.b
        rc32 = b.trunc(rc, I32)
        with b.if_then(b.icmp_signed("<", rc32, const(0, I32)), likely=False):
            self.report(hid, b.sext(rc32, I64))

    def lookup_missed(self) -> None:
        """A map read found no value: 0.17 reports map_lookup_elem returning 0."""
        if self.checks(Helper.MAP_LOOKUP_ELEM):
            self.report(Helper.MAP_LOOKUP_ELEM, const(0))

    def report(self, hid: int, rc: ir.Value) -> None:
        node = self.where()
        loc = node.loc if node is not None else Location()
        self.res.helper_errors.append(HelperErrorInfo(CHECKED[hid], loc))
        buf = self.bb.alloca(RECORD_SIZE, "helper_error")
        self.bb.store(const(Action.HELPER_ERROR), buf, 0)
        self.bb.store(const(len(self.res.helper_errors) - 1), buf, 8)
        self.bb.store(rc, buf, 16)
        self.emit(buf, RECORD_SIZE)

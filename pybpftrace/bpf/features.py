"""What this kernel can really do, learned by loading tiny programs.

Why not read the kernel version or trust existing probers: feature sets are
configured per build (this 6.18 VM has no kprobes, refuses fentry with EPERM,
has no override_return), and older probers (bpftool 7.1, bpftrace 0.17
`--info`) misread 6.x verifier messages as "supported".  So every answer here
comes from the kernel itself: a program is loaded, a map created, a link made.

Every probe is cached (the kernel does not change under us) and never raises:
a probe that fails for an unexpected reason answers "no", because a feature we
cannot demonstrate is a feature we must not rely on.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import struct

from pybpftrace import btf
from pybpftrace.bpf import sys, uapi
from pybpftrace.bpf.maps import Map
from pybpftrace.bpf.programs import Program, VerifierError
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.uapi import AttachType, Cmd, MapType, ProgType
from pybpftrace.btf.types import Kind as BtfKind

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
KPROBE_PMU = "/sys/bus/event_source/devices/kprobe"
UPROBE_REF_CTR = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset"
TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

# Verifier messages meaning "this helper cannot be called from this program".
# 6.x says "program of this type cannot use helper", which old probers miss;
# "not allowed in probe" (d_path outside its allowlist) and "might sleep"
# (sleepable-only helpers) also mean the helper is unusable where we asked.
_NO_HELPER = ("unknown func", "invalid func", "program of this type cannot use helper",
              "is not allowed in probe", "might sleep in a non-sleepable prog")

# The fentry target used to probe kfunc and kfunc-only helpers: bpftrace's
# choice, and on d_path's allowlist so a d_path probe is not refused for it.
KFUNC_PROBE_TARGET = "dentry_open"


class Helper:
    """bpf_func_id numbers of the helpers `--info` reports."""

    PROBE_READ = 4
    PROBE_READ_STR = 45
    OVERRIDE_RETURN = 58
    GET_CURRENT_CGROUP_ID = 80
    SEND_SIGNAL = 109
    SKB_OUTPUT = 111
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    KTIME_GET_BOOT_NS = 125
    D_PATH = 147


# ---- a five-instruction assembler ------------------------------------------

def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def _mov_r0(imm: int) -> bytes:
    return _insn(0xB7, imm=imm)          # r0 = imm


def _call(helper: int) -> bytes:
    return _insn(0x85, imm=helper)       # call helper


_EXIT = _insn(0x95)                      # exit
_RETURN_0 = _mov_r0(0) + _EXIT
# r0 = 0; loop: r0 += 1; if r0 < 4 goto loop; exit  (a bounded back-edge)
_BOUNDED_LOOP = _mov_r0(0) + _insn(0x07, imm=1) + _insn(0xA5, off=-2, imm=4) + _EXIT


# ---- plumbing ----------------------------------------------------------------

def _probe(fn):
    """Cache `fn` and turn any exception into False ("not demonstrated")."""
    @functools.cache
    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return bool(fn(*args))
        except Exception:
            return False
    return wrapper


def _loads(prog_type: int, insns: bytes = _RETURN_0, **kw) -> bool:
    """Whether the kernel accepts the program (it is closed again at once)."""
    try:
        Program.load(prog_type, insns, name="feature_probe", **kw).close()
        return True
    except BpfError:
        return False


# ---- program types and helpers -----------------------------------------------

@_probe
def have_prog_type(prog_type: ProgType) -> bool:
    """A `return 0` program of this type loads.  TRACING programs cannot load
    without an attach target, so for them any of fentry, iter or tp_btf counts."""
    if prog_type == ProgType.TRACING:
        return have_kfunc() or have_iter("task") or have_tp_btf()
    return _loads(prog_type)


@_probe
def have_helper(prog_type: ProgType, helper_id: int) -> bool:
    """The verifier lets a program of `prog_type` call helper `helper_id`.
    The call has no arguments set up, so a known helper usually fails on its
    arguments: only the "cannot use this helper" messages mean no.  TRACING
    programs are probed as fentry on KFUNC_PROBE_TARGET."""
    kw = {}
    if prog_type == ProgType.TRACING:
        btf_id = btf_func_id(KFUNC_PROBE_TARGET)
        if not btf_id:
            return False
        kw = dict(expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=btf_id)
    try:
        Program.load(prog_type, _call(helper_id) + _RETURN_0, name="helper_probe", **kw).close()
        return True
    except VerifierError as e:
        return not any(msg in e.log for msg in _NO_HELPER)
    except BpfError:
        return False  # refused before verification (EPERM, unknown prog type, ...)


# ---- maps ----------------------------------------------------------------------

# (key_size, value_size, max_entries, flags) that each map type accepts.
_MAP_SHAPES = {
    MapType.STACK_TRACE: (4, 8 * 127, 1, 0),
    MapType.PERF_EVENT_ARRAY: (4, 4, 1, 0),
    MapType.PROG_ARRAY: (4, 4, 1, 0),
    MapType.RINGBUF: (0, 0, os.sysconf("SC_PAGE_SIZE"), 0),
    MapType.LPM_TRIE: (8, 8, 1, uapi.BPF_F_NO_PREALLOC),
    MapType.QUEUE: (0, 8, 1, 0),
    MapType.STACK: (0, 8, 1, 0),
    MapType.BLOOM_FILTER: (0, 8, 1, 0),
}


@_probe
def have_map_type(map_type: MapType) -> bool:
    """A small map of this type can be created."""
    key, value, entries, flags = _MAP_SHAPES.get(map_type, (4, 8, 1, 0))
    Map.create(map_type, key, value, entries, name="feature_probe", flags=flags).close()
    return True


@_probe
def have_map_batch() -> bool:
    """BPF_MAP_LOOKUP_BATCH works on a hash: an empty map answers ENOENT
    (nothing more to read); a kernel without batch ops says EINVAL."""
    with Map.create(MapType.HASH, 4, 8, 1, name="feature_probe") as m:
        keys, values, token = (ctypes.create_string_buffer(8) for _ in range(3))
        attr = uapi.MapBatchAttr(out_batch=ctypes.addressof(token), keys=ctypes.addressof(keys),
                                 values=ctypes.addressof(values), count=1, map_fd=m.fd)
        try:
            sys.bpf(Cmd.MAP_LOOKUP_BATCH, attr, "probe map batch")
        except BpfError as e:
            return e.errno == errno.ENOENT
        return True


# ---- verifier ------------------------------------------------------------------

@_probe
def have_loop() -> bool:
    """A program with a bounded loop loads (verifier support since 5.3)."""
    return _loads(ProgType.KPROBE, _BOUNDED_LOOP)


@functools.cache
def instruction_limit() -> int:
    """The verifier's instruction budget, read from its own statistics line
    ("processed 2 insns (limit 1000000) ..."); if that fails, 1000000 on 5.2+
    and 4096 before."""
    try:
        with Program.load(ProgType.KPROBE, _RETURN_0, name="feature_probe",
                          log_level=uapi.BPF_LOG_LEVEL1) as p:
            found = re.search(r"\(limit (\d+)\)", p.log)
        if found:
            return int(found.group(1))
    except Exception:
        pass
    major, minor = (int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    return 1000000 if (major, minor) >= (5, 2) else 4096


# ---- BTF -----------------------------------------------------------------------

@_probe
def have_btf() -> bool:
    """The kernel describes its own types (/sys/kernel/btf/vmlinux)."""
    return os.path.exists(VMLINUX_BTF)


def _btf_id(kind: BtfKind, name: str) -> int:
    """The vmlinux BTF id of a FUNC/TYPEDEF called `name`, or 0 (the lazy,
    cached reader: a name costs a string search, not a walk of ~150k types)."""
    try:
        return btf.vmlinux().find_one(name, kind) or 0
    except Exception:
        return 0


def btf_func_id(name: str) -> int:
    """The BTF id of kernel function `name` (for fentry and iter attach), or 0."""
    return _btf_id(BtfKind.FUNC, name)


# ---- probe types ---------------------------------------------------------------

@functools.cache
def kprobe_attach_method() -> str | None:
    """How this kernel attaches kprobes, best first: "pmu" (perf's kprobe PMU,
    4.17+), "legacy" (an event written to tracefs kprobe_events), "fentry"
    when it has neither (no CONFIG_KPROBES) but runs BPF trampolines, so a
    kprobe/kretprobe on a function's entry/return becomes fentry/fexit; None
    when it has none of these (this VM: no kprobes, fentry refused).  This is
    the one place that decides how `kprobe:` probes are compiled and attached."""
    if have_prog_type(ProgType.KPROBE):
        if os.path.isfile(os.path.join(KPROBE_PMU, "type")):
            return "pmu"
        if any(os.path.exists(os.path.join(d, "kprobe_events")) for d in TRACEFS_DIRS):
            return "legacy"
    return "fentry" if have_kfunc() else None


def have_kprobe() -> bool:
    """Real kprobes (CONFIG_KPROBES: a kprobe PMU or tracefs kprobe_events),
    not the fentry stand-in."""
    return kprobe_attach_method() in ("pmu", "legacy")


@_probe
def have_uprobe_refcount() -> bool:
    """The uprobe PMU takes a USDT semaphore offset (ref_ctr_offset)."""
    return os.path.exists(UPROBE_REF_CTR)


def _tracing_loads(attach_type: AttachType, btf_id: int) -> bool:
    return bool(btf_id) and _loads(ProgType.TRACING, expected_attach_type=attach_type,
                                   attach_btf_id=btf_id)


@_probe
def have_kfunc() -> bool:
    """An fentry program loads (this VM refuses any TRACING fentry with EPERM)."""
    return _tracing_loads(AttachType.TRACE_FENTRY, btf_func_id(KFUNC_PROBE_TARGET))


@_probe
def have_iter(name: str) -> bool:
    """An `iter:<name>` program loads against the kernel's bpf_iter_<name>."""
    return _tracing_loads(AttachType.TRACE_ITER, btf_func_id(f"bpf_iter_{name}"))


@_probe
def have_tp_btf() -> bool:
    """A BTF-typed raw tracepoint program loads (against btf_trace_sched_switch)."""
    return _tracing_loads(AttachType.TRACE_RAW_TP, _btf_id(BtfKind.TYPEDEF,
                                                           "btf_trace_sched_switch"))


@_probe
def have_kprobe_multi() -> bool:
    """LINK_CREATE(kprobe_multi) on a symbol that does not exist: a kernel that
    can do it looks the symbol up and answers ESRCH/ENOENT; one built without
    it says EOPNOTSUPP, and an older one EINVAL.  Nothing is ever attached."""
    with Program.load(ProgType.KPROBE, _RETURN_0, name="feature_probe",
                      expected_attach_type=AttachType.TRACE_KPROBE_MULTI) as prog:
        sym = ctypes.c_char_p(b"pybpftrace_no_such_symbol")
        attr = uapi.KprobeMultiLinkAttr(prog_fd=prog.fd, cnt=1, syms=ctypes.addressof(sym),
                                        attach_type=AttachType.TRACE_KPROBE_MULTI)
        try:
            os.close(sys.bpf(Cmd.LINK_CREATE, attr, "probe kprobe_multi"))
            return True
        except BpfError as e:
            return e.errno in (errno.ESRCH, errno.ENOENT)


@_probe
def have_raw_tp_special() -> bool:
    """A RAW_TRACEPOINT program runs under BPF_PROG_TEST_RUN and returns what it
    should: how BEGIN/END run in the tracer's own task."""
    with Program.load(ProgType.RAW_TRACEPOINT, _mov_r0(42) + _EXIT, name="feature_probe") as p:
        return p.test_run(bytes(8)) == 42

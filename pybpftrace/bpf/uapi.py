"""Constants and ctypes layouts from the Linux UAPI headers (x86_64).

Source: include/uapi/linux/bpf.h and include/uapi/linux/perf_event.h of
Linux 6.18.  Only what pybpftrace uses is here.  `bpf_attr` is a union in C;
we declare one Structure per command instead, which the kernel accepts because
it zero-extends a short attr (it only checks that bytes it does not know are
zero).  Pointers travel as u64 addresses, as in the UAPI.
"""
from __future__ import annotations

import ctypes
from enum import IntEnum

c_u8 = ctypes.c_uint8
c_u16 = ctypes.c_uint16
c_u32 = ctypes.c_uint32
c_u64 = ctypes.c_uint64
c_s32 = ctypes.c_int32

# x86_64 syscall numbers.
SYS_IOCTL = 16
SYS_PERF_EVENT_OPEN = 298
SYS_BPF = 321

BPF_OBJ_NAME_LEN = 16
BPF_INSN_SIZE = 8


def obj_name(name: str) -> bytes:
    """A map/program name the kernel accepts (alphanumerics, '_' and '.', at most
    15 bytes); '@x' becomes 'AT_x' as in bpftrace, so `bpftool` shows the same names."""
    name = name.replace("@", "AT_")
    kept = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "_."))
    return kept.encode()[:BPF_OBJ_NAME_LEN - 1]


class Cmd(IntEnum):
    """enum bpf_cmd."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    PROG_TEST_RUN = 10
    OBJ_GET_INFO_BY_FD = 15
    RAW_TRACEPOINT_OPEN = 17
    BTF_GET_FD_BY_ID = 19
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    ITER_CREATE = 33
    LINK_DETACH = 34


class MapType(IntEnum):
    """enum bpf_map_type (the tracing-relevant part)."""

    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    QUEUE = 22
    STACK = 23
    RINGBUF = 27
    BLOOM_FILTER = 30


PERCPU_MAP_TYPES = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH})
ARRAY_MAP_TYPES = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY})


class ProgType(IntEnum):
    """enum bpf_prog_type (the tracing-relevant part)."""

    SOCKET_FILTER = 1
    KPROBE = 2
    TRACEPOINT = 5
    PERF_EVENT = 7
    RAW_TRACEPOINT = 17
    TRACING = 26


class AttachType(IntEnum):
    """enum bpf_attach_type (the tracing-relevant part)."""

    NONE = 0
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    MODIFY_RETURN = 26
    TRACE_ITER = 28
    PERF_EVENT = 41
    TRACE_KPROBE_MULTI = 42
    TRACE_UPROBE_MULTI = 48


# Map creation flags.
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_MMAPABLE = 1 << 10

# Element update flags.
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2

# Verifier log levels; BPF_LOG_FIXED turns off the 6.4+ rotating log.
BPF_LOG_LEVEL1 = 1
BPF_LOG_LEVEL2 = 2
BPF_LOG_STATS = 4

# Ring buffer record header bits (in the u32 length word).
BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8

# Kernel-internal errno that leaks to user space for "operation not supported".
ENOTSUPP = 524


class MapCreateAttr(ctypes.Structure):
    _fields_ = [
        ("map_type", c_u32),
        ("key_size", c_u32),
        ("value_size", c_u32),
        ("max_entries", c_u32),
        ("map_flags", c_u32),
        ("inner_map_fd", c_u32),
        ("numa_node", c_u32),
        ("map_name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("map_ifindex", c_u32),
        ("btf_fd", c_u32),
        ("btf_key_type_id", c_u32),
        ("btf_value_type_id", c_u32),
        ("btf_vmlinux_value_type_id", c_u32),
        ("map_extra", c_u64),
    ]


class MapElemAttr(ctypes.Structure):
    """MAP_LOOKUP/UPDATE/DELETE_ELEM, MAP_GET_NEXT_KEY (`value` is `next_key` there)."""

    _fields_ = [
        ("map_fd", c_u32),
        ("key", c_u64),
        ("value", c_u64),
        ("flags", c_u64),
    ]


class ObjPinAttr(ctypes.Structure):
    """OBJ_PIN: pin the object `bpf_fd` at `pathname` (a char *) in bpffs."""

    _fields_ = [
        ("pathname", c_u64),
        ("bpf_fd", c_u32),
        ("file_flags", c_u32),
    ]


class MapBatchAttr(ctypes.Structure):
    _fields_ = [
        ("in_batch", c_u64),
        ("out_batch", c_u64),
        ("keys", c_u64),
        ("values", c_u64),
        ("count", c_u32),
        ("map_fd", c_u32),
        ("elem_flags", c_u64),
        ("flags", c_u64),
    ]


class FdAttr(ctypes.Structure):
    """The attr of commands that take a lone fd: MAP_FREEZE, LINK_DETACH,
    ITER_CREATE (of a link)."""

    _fields_ = [("fd", c_u32)]


class ProgLoadAttr(ctypes.Structure):
    _fields_ = [
        ("prog_type", c_u32),
        ("insn_cnt", c_u32),
        ("insns", c_u64),
        ("license", c_u64),
        ("log_level", c_u32),
        ("log_size", c_u32),
        ("log_buf", c_u64),
        ("kern_version", c_u32),
        ("prog_flags", c_u32),
        ("prog_name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("prog_ifindex", c_u32),
        ("expected_attach_type", c_u32),
        ("prog_btf_fd", c_u32),
        ("func_info_rec_size", c_u32),
        ("func_info", c_u64),
        ("func_info_cnt", c_u32),
        ("line_info_rec_size", c_u32),
        ("line_info", c_u64),
        ("line_info_cnt", c_u32),
        ("attach_btf_id", c_u32),
        ("attach_prog_fd", c_u32),
        ("core_relo_cnt", c_u32),
        ("fd_array", c_u64),
        ("core_relos", c_u64),
        ("core_relo_rec_size", c_u32),
        ("log_true_size", c_u32),
    ]


class TestRunAttr(ctypes.Structure):
    __test__ = False  # not a pytest class

    _fields_ = [
        ("prog_fd", c_u32),
        ("retval", c_u32),
        ("data_size_in", c_u32),
        ("data_size_out", c_u32),
        ("data_in", c_u64),
        ("data_out", c_u64),
        ("repeat", c_u32),
        ("duration", c_u32),
        ("ctx_size_in", c_u32),
        ("ctx_size_out", c_u32),
        ("ctx_in", c_u64),
        ("ctx_out", c_u64),
        ("flags", c_u32),
        ("cpu", c_u32),
        ("batch_size", c_u32),
    ]


class InfoByFdAttr(ctypes.Structure):
    _fields_ = [
        ("bpf_fd", c_u32),
        ("info_len", c_u32),
        ("info", c_u64),
    ]


class GetIdAttr(ctypes.Structure):
    """BTF_GET_NEXT_ID (start_id -> next_id) and BTF_GET_FD_BY_ID (start_id is the id)."""

    _fields_ = [
        ("start_id", c_u32),
        ("next_id", c_u32),
        ("open_flags", c_u32),
    ]


class BtfInfo(ctypes.Structure):
    """struct bpf_btf_info: `kernel_btf` is set for vmlinux and module BTF."""

    _fields_ = [
        ("btf", c_u64),
        ("btf_size", c_u32),
        ("id", c_u32),
        ("name", c_u64),
        ("name_len", c_u32),
        ("kernel_btf", c_u32),
    ]


class RawTracepointOpenAttr(ctypes.Structure):
    _fields_ = [
        ("name", c_u64),
        ("prog_fd", c_u32),
    ]


class LinkCreateAttr(ctypes.Structure):
    """LINK_CREATE; `bpf_cookie` is the perf_event member of the trailing union."""

    _fields_ = [
        ("prog_fd", c_u32),
        ("target_fd", c_u32),
        ("attach_type", c_u32),
        ("flags", c_u32),
        ("bpf_cookie", c_u64),
    ]


BPF_F_KPROBE_MULTI_RETURN = 1  # kprobe_multi.flags: fire on return (a kretprobe)


class KprobeMultiLinkAttr(ctypes.Structure):
    """LINK_CREATE with the kprobe_multi member of its trailing union: one link
    runs the program on `cnt` functions, named by `syms` (char *[]) or `addrs`."""

    _fields_ = [
        ("prog_fd", c_u32),
        ("target_fd", c_u32),
        ("attach_type", c_u32),
        ("flags", c_u32),
        ("kprobe_multi_flags", c_u32),
        ("cnt", c_u32),
        ("syms", c_u64),
        ("addrs", c_u64),
        ("cookies", c_u64),
    ]


class ProgInfo(ctypes.Structure):
    """struct bpf_prog_info, up to attach_btf_id."""

    _fields_ = [
        ("type", c_u32),
        ("id", c_u32),
        ("tag", c_u8 * 8),
        ("jited_prog_len", c_u32),
        ("xlated_prog_len", c_u32),
        ("jited_prog_insns", c_u64),
        ("xlated_prog_insns", c_u64),
        ("load_time", c_u64),
        ("created_by_uid", c_u32),
        ("nr_map_ids", c_u32),
        ("map_ids", c_u64),
        ("name", ctypes.c_char * BPF_OBJ_NAME_LEN),
        ("ifindex", c_u32),
        ("gpl_compatible", c_u32),
        ("netns_dev", c_u64),
        ("netns_ino", c_u64),
        ("nr_jited_ksyms", c_u32),
        ("nr_jited_func_lens", c_u32),
        ("jited_ksyms", c_u64),
        ("jited_func_lens", c_u64),
        ("btf_id", c_u32),
        ("func_info_rec_size", c_u32),
        ("func_info", c_u64),
        ("nr_func_info", c_u32),
        ("nr_line_info", c_u32),
        ("line_info", c_u64),
        ("jited_line_info", c_u64),
        ("nr_jited_line_info", c_u32),
        ("line_info_rec_size", c_u32),
        ("jited_line_info_rec_size", c_u32),
        ("nr_prog_tags", c_u32),
        ("prog_tags", c_u64),
        ("run_time_ns", c_u64),
        ("run_cnt", c_u64),
        ("recursion_misses", c_u64),
        ("verified_insns", c_u32),
        ("attach_btf_obj_id", c_u32),
        ("attach_btf_id", c_u32),
    ]


# ---- perf_event_open(2) ----------------------------------------------------

class PerfType(IntEnum):
    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class PerfSwConfig(IntEnum):
    """enum perf_sw_ids."""

    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


# Bits of perf_event_attr.flags (the C bitfield starting at `disabled`).
PERF_ATTR_DISABLED = 1 << 0
PERF_ATTR_FREQ = 1 << 10

PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3

# ioctl requests: _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32).
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr (PERF_ATTR_SIZE_VER8, 136 bytes)."""

    _fields_ = [
        ("type", c_u32),
        ("size", c_u32),
        ("config", c_u64),
        ("sample_period", c_u64),   # sample_freq when flags has PERF_ATTR_FREQ
        ("sample_type", c_u64),
        ("read_format", c_u64),
        ("flags", c_u64),
        ("wakeup_events", c_u32),
        ("bp_type", c_u32),
        ("config1", c_u64),         # bp_addr, uprobe path
        ("config2", c_u64),         # bp_len, uprobe offset
        ("branch_sample_type", c_u64),
        ("sample_regs_user", c_u64),
        ("sample_stack_user", c_u32),
        ("clockid", c_s32),
        ("sample_regs_intr", c_u64),
        ("aux_watermark", c_u32),
        ("sample_max_stack", c_u16),
        ("reserved_2", c_u16),
        ("aux_sample_size", c_u32),
        ("reserved_3", c_u32),
        ("sig_data", c_u64),
        ("config3", c_u64),
    ]


assert ctypes.sizeof(PerfEventAttr) == 136
assert ctypes.sizeof(ProgLoadAttr) == 144
assert ctypes.sizeof(ProgInfo) == 232

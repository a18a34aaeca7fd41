"""Loading, test-running and inspecting hand-assembled BPF programs.

The tiny assembler below (also used by test_attach.py) encodes raw
instructions, so these tests need neither LLVM nor our code generator.
"""
import errno
import os
import struct

import pytest

from pybpftrace.bpf.maps import Map
from pybpftrace.bpf.programs import Program, VerifierError
from pybpftrace.bpf.ringbuf import RingBuffer
from pybpftrace.bpf.uapi import MapType, ProgType

pytestmark = pytest.mark.kernel

# ---- a tiny BPF assembler -------------------------------------------------

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
MOV_IMM, MOV_REG, ADD_IMM, RSH_IMM = 0xB7, 0xBF, 0x07, 0x77
JEQ_IMM, JNE_REG, CALL, EXIT = 0x15, 0x5D, 0x85, 0x95
LDX_DW, STX_DW, ST_W, ATOMIC_DW = 0x79, 0x7B, 0x62, 0xDB
MAP_LOOKUP_ELEM, GET_CURRENT_PID_TGID = 1, 14
RINGBUF_OUTPUT, RINGBUF_RESERVE, RINGBUF_DISCARD = 130, 131, 133


def insn(code, dst=0, src=0, off=0, imm=0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def ld_map(dst, fd) -> bytes:
    """ld_imm64 dst, map fd (BPF_PSEUDO_MAP_FD)."""
    return insn(0x18, dst, 1, imm=fd) + insn(0)


def n_insns(code: bytes) -> int:
    return len(code) // 8


RETURN_0 = insn(MOV_IMM, R0, imm=0) + insn(EXIT)


def counter(map_fd, tgid=None) -> bytes:
    """array map[0] += 1 (atomically), only in process `tgid` if given; returns 0."""
    count = (ld_map(R1, map_fd) + insn(MOV_REG, R2, R10) + insn(ADD_IMM, R2, imm=-4)
             + insn(ST_W, R10, off=-4, imm=0) + insn(CALL, imm=MAP_LOOKUP_ELEM)
             + insn(JEQ_IMM, R0, off=2, imm=0) + insn(MOV_IMM, R1, imm=1)
             + insn(ATOMIC_DW, R0, R1))
    if tgid is not None:
        count = (insn(CALL, imm=GET_CURRENT_PID_TGID) + insn(RSH_IMM, R0, imm=32)
                 + insn(MOV_IMM, R1, imm=tgid) + insn(JNE_REG, R0, R1, off=n_insns(count))
                 + count)
    return count + RETURN_0


def read_counter(m: Map) -> int:
    return int.from_bytes(m.lookup(bytes(4)), "little")


# ---- tests ------------------------------------------------------------------

def test_raw_tp_test_run_returns_the_program_result():
    with Program.load(ProgType.RAW_TRACEPOINT, insn(MOV_IMM, R0, imm=42) + insn(EXIT),
                      name="answer") as prog:
        assert prog.test_run() == 42
        assert prog.insn_count == 2


def test_test_run_passes_ctx_args():
    code = insn(LDX_DW, R0, R1, off=8) + insn(EXIT)  # return args[1]
    with Program.load(ProgType.RAW_TRACEPOINT, code) as prog:
        assert prog.test_run(struct.pack("<QQ", 7, 42)) == 42


def test_verifier_rejection_carries_the_log():
    with pytest.raises(VerifierError) as exc:
        Program.load(ProgType.RAW_TRACEPOINT, insn(EXIT), name="bad")
    err = exc.value
    assert err.errno == errno.EACCES
    assert "R0 !read_ok" in err.log
    assert err.summary[-1] == "R0 !read_ok"
    assert str(err) == "load program bad: Permission denied: R0 !read_ok"


def test_log_level_keeps_the_log_of_a_good_program():
    with Program.load(ProgType.RAW_TRACEPOINT, RETURN_0, log_level=2) as prog:
        assert "processed 2 insns" in prog.log


def test_info_reports_sizes():
    with Map.create(MapType.ARRAY, 4, 8, 1) as m, \
            Program.load(ProgType.TRACEPOINT, counter(m.fd), name="cnt") as prog:
        info = prog.info()
    assert info.name == "cnt"
    assert info.xlated_len >= prog.insn_count * 8
    assert info.jited_len > 0
    assert info.verified_insns > 0  # ld_imm64 counts once
    assert len(info.tag) == 16 and info.id > 0


def test_ringbuf_records_are_read_back_in_order_and_discards_skipped():
    """Each run outputs args[0] as an 8-byte record, then reserves and discards
    a 16-byte one.  A one-page ring makes the 300 records wrap around."""
    ring = Map.create(MapType.RINGBUF, 0, 0, os.sysconf("SC_PAGE_SIZE"), name="events")
    code = (insn(LDX_DW, R6, R1) + insn(STX_DW, R10, R6, off=-8)
            + ld_map(R1, ring.fd) + insn(MOV_REG, R2, R10) + insn(ADD_IMM, R2, imm=-8)
            + insn(MOV_IMM, R3, imm=8) + insn(MOV_IMM, R4, imm=0) + insn(CALL, imm=RINGBUF_OUTPUT)
            + ld_map(R1, ring.fd) + insn(MOV_IMM, R2, imm=16) + insn(MOV_IMM, R3, imm=0)
            + insn(CALL, imm=RINGBUF_RESERVE) + insn(JEQ_IMM, R0, off=3, imm=0)
            + insn(MOV_REG, R1, R0) + insn(MOV_IMM, R2, imm=0) + insn(CALL, imm=RINGBUF_DISCARD)
            + RETURN_0)
    got = []
    with ring, Program.load(ProgType.RAW_TRACEPOINT, code, name="emit") as prog, \
            RingBuffer(ring.fd, ring.max_entries) as rb:
        assert rb.poll(0, got.append) == 0
        for batch in range(30):
            for i in range(10):
                prog.test_run(struct.pack("<Q", batch * 10 + i))
            assert rb.poll(1000, got.append) == 10
        assert rb.drain(got.append) == 0
    assert got == [struct.pack("<Q", i) for i in range(300)]

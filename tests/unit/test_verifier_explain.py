"""Verifier rejections are explained in terms of the script."""
from pybpftrace.bpf.programs import VerifierError
from pybpftrace.runtime.verifier import explain

TOO_LARGE = """0: (b7) r6 = 0
12: (07) r6 += 1
BPF program is too large. Processed 1000001 insn
processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 1 peak_states 1 mark_read 1
"""


def test_too_large_names_the_probe_and_the_loop():
    text = explain(VerifierError("load program p0_0", 7, TOO_LARGE), "BEGIN", verbose=False)
    assert text.splitlines() == [
        "ERROR: Error loading program: BEGIN (the kernel's BPF verifier rejected it)",
        "  12: (07) r6 += 1",
        "  BPF program is too large. Processed 1000001 insn",
        "HINT: the verifier follows every iteration of every loop: use fewer loop iterations, "
        "or fewer statements inside loops",
    ]


def test_unknown_rejection_points_at_the_log():
    log = "0: (79) r1 = *(u64 *)(r1 +0)\nR1 invalid mem access 'scalar'\n"
    text = explain(VerifierError("load program p0_0", 13, log), "tracepoint:a:b", verbose=True)
    assert "HINT: this is probably a pybpftrace bug" in text
    assert text.rstrip().endswith("R1 invalid mem access 'scalar'")

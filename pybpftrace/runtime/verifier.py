"""Verifier rejections explained in a user's terms.

The verifier's last lines name a register and an instruction, which tells a
BpfScript user little.  The common causes map to the script construct behind
them; anything else is most likely a pybpftrace bug, and -v shows the log.
"""
from __future__ import annotations

from pybpftrace.bpf.programs import VerifierError

_HINTS = (
    (("BPF program is too large", "too many states", "complexity limit"),
     "the verifier follows every iteration of every loop: use fewer loop iterations, "
     "or fewer statements inside loops"),
    (("infinite loop detected", "back-edge", "unbounded loop"),
     "the verifier could not prove that a loop ends: give the loop a fixed bound"),
    (("stack limit", "combined stack size", "invalid write to stack", "stack depth"),
     "the program needs more than the 512 bytes of BPF stack: use fewer or shorter "
     "strings (BPFTRACE_STRLEN) and tuples in one probe"),
)


def explain(error: VerifierError, probes: str, verbose: bool) -> str:
    """The message for a rejected program serving `probes`."""
    lines = [f"ERROR: Error loading program: {probes} (the kernel's BPF verifier rejected it)"]
    lines += [f"  {line}" for line in error.summary[-2:]] or [f"  {error.strerror}"]
    text = "\n".join(error.summary)
    for needles, hint in _HINTS:
        if any(n in text for n in needles):
            lines.append(f"HINT: {hint}")
            break
    else:
        lines.append("HINT: this is probably a pybpftrace bug; please report it with the "
                     "verifier log that -v prints")
    if verbose:
        lines.append(error.log.rstrip())
    return "\n".join(lines) + "\n"

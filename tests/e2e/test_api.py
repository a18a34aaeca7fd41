"""The Python API runs programs on the same runtime as the CLI."""
import subprocess

import pytest

import pybpftrace
from pybpftrace.diag import DiagnosticError


@pytest.mark.kernel
def test_run_returns_events_and_maps():
    result = pybpftrace.run('BEGIN { printf("hi %d\\n", 5); @c["a"] = count(); @c["a"] = count(); '
                            '@h = hist(100); exit(); }')
    assert result.printed == "hi 5\n"
    assert result.probes == 1
    assert result.maps["@c"].entries == [("a", 2)]
    assert result.maps["@h"].kind == "hist"
    assert sum(result.maps["@h"].entries[0][1].buckets) == 1


@pytest.mark.kernel
def test_run_for_a_duration_counts_real_events():
    # The child keeps opening files, so some opens fall inside the traced
    # second however long compiling and attaching take on a busy machine.
    child = subprocess.Popen(["/bin/sh", "-c", "while :; do read x < /etc/hostname; sleep 0.05; done"])
    try:
        result = pybpftrace.run(
            f"tracepoint:syscalls:sys_enter_openat /pid == {child.pid}/ {{ @opens = count(); }}",
            duration=1.5)
    finally:
        child.kill()
        child.wait()
    assert result.maps["@opens"].entries[0][1] >= 1


def test_bad_program_raises_a_diagnostic():
    with pytest.raises(DiagnosticError) as e:
        pybpftrace.run("BEGIN { $x = $y; }")
    assert "Undefined or undeclared variable: $y" in str(e.value)

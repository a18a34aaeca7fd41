"""Run every golden case through pybpftrace and compare stdout byte for byte.

The expected outputs in tests/golden/cases were recorded from bpftrace 0.17
(tests/golden/record.py).  Only stdout is compared: 0.17 prints warnings and
an RLIMIT_MEMLOCK error line on stderr.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "golden" / "cases"
TIMEOUT = 120

NAMES = sorted(p.stem for p in CASES.glob("*.bt"))
FORMATS = {"text": ([], ".txt"), "json": (["-f", "json"], ".json")}


@pytest.mark.kernel
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, fmt: str) -> None:
    flags, suffix = FORMATS[fmt]
    script = CASES / f"{name}.bt"
    proc = subprocess.run([sys.executable, "-m", "pybpftrace", *flags, str(script)],
                          cwd=ROOT, capture_output=True, timeout=TIMEOUT)
    expected = (CASES / f"{name}{suffix}").read_bytes()
    assert proc.stdout == expected, proc.stderr.decode("utf-8", "replace")


def test_every_case_has_both_outputs() -> None:
    assert len(NAMES) >= 25
    for name in NAMES:
        assert (CASES / f"{name}.txt").is_file(), name
        assert (CASES / f"{name}.json").is_file(), name


def _record_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("golden_record", ROOT / "tests/golden/record.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deviations_keep_the_017_bytes() -> None:
    """Each deliberate deviation (README.md) keeps what 0.17 printed in NAME.SUFFIX.v017,
    differs from it, and is known to record.py so re-recording cannot undo it."""
    listed = {f"{name}{suffix}" for name, suffixes in _record_module().DEVIATIONS.items()
              for suffix in suffixes}
    kept = {p.name[:-len(".v017")] for p in CASES.glob("*.v017")}
    assert listed == kept
    for name in kept:
        assert (CASES / name).read_bytes() != (CASES / f"{name}.v017").read_bytes(), name

"""Record the golden outputs from the real bpftrace 0.17.

    sudo python3 tests/golden/record.py [NAME ...]

For each cases/NAME.bt, runs `bpftrace NAME.bt` and `bpftrace -f json NAME.bt`
three times each, refuses outputs that differ between runs (a case must be
deterministic to be a golden case), and writes stdout byte for byte to
cases/NAME.txt and cases/NAME.json.  stderr (warnings, the RLIMIT_MEMLOCK
error line) is not recorded.
"""
import subprocess
import sys
from pathlib import Path

BPFTRACE = "/usr/bin/bpftrace"
CASES = Path(__file__).parent / "cases"
RUNS = 3


def run(args: list[str]) -> bytes:
    proc = subprocess.run([BPFTRACE, *args], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{args}: exit {proc.returncode}\n{proc.stderr.decode()}")
    return proc.stdout


def main() -> int:
    version = subprocess.run([BPFTRACE, "--version"], capture_output=True, text=True).stdout
    if "v0.17." not in version:
        raise SystemExit(f"need bpftrace 0.17, found {version.strip()}")
    names = sys.argv[1:] or sorted(p.stem for p in CASES.glob("*.bt"))
    for name in names:
        script = str(CASES / f"{name}.bt")
        for suffix, args in ((".txt", [script]), (".json", ["-f", "json", script])):
            outputs = {run(args) for _ in range(RUNS)}
            if len(outputs) != 1:
                raise SystemExit(f"{name}{suffix}: output differs between runs")
            (CASES / f"{name}{suffix}").write_bytes(outputs.pop())
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

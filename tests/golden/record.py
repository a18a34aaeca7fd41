"""Record the golden outputs from the real bpftrace 0.17.

    sudo python3 tests/golden/record.py [NAME ...]

For each cases/NAME.bt, runs `bpftrace NAME.bt` and `bpftrace -f json NAME.bt`
three times each, refuses outputs that differ between runs (a case must be
deterministic to be a golden case), and writes stdout byte for byte to
cases/NAME.txt and cases/NAME.json.  stderr (warnings, the RLIMIT_MEMLOCK
error line) is not recorded.

The outputs in DEVIATIONS show a 0.17 bug that pybpftrace fixes; their
expected files hold hand-corrected bytes (README.md, "Deviations from 0.17"),
so for them the recording goes to NAME.txt.v017 / NAME.json.v017 instead and
the corrected file is left alone.
"""
import subprocess
import sys
from pathlib import Path

BPFTRACE = "/usr/bin/bpftrace"
CASES = Path(__file__).parent / "cases"
RUNS = 3

# case -> the outputs whose expected bytes differ from 0.17's on purpose.
DEVIATIONS = {
    "byte_functions": (".json",),
    "hist_large": (".txt", ".json"),
    "json_escapes": (".json",),
    "min_max": (".txt", ".json"),
    "printf_ints": (".txt", ".json"),
    "symbols": (".txt",),
}


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
            target = CASES / f"{name}{suffix}"
            if suffix in DEVIATIONS.get(name, ()):
                target = CASES / f"{name}{suffix}.v017"
                print(f"{name}{suffix}: deviates from 0.17, recorded to {target.name}; "
                      f"update {name}{suffix} by hand if needed")
            target.write_bytes(outputs.pop())
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

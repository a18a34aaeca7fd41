"""Start-up side by side: a one-liner with and without BTF struct types, pybpftrace vs bpftrace.

Usage: python3 tools/startup_btf.py [REPS] (as root; set PYBPFTRACE to the real script, not a pyenv shim)."""
import os
import shutil
import statistics
import subprocess
import sys
import time

OURS = [os.environ.get("PYBPFTRACE") or shutil.which("pybpftrace") or "pybpftrace"]
THEIRS = [os.environ.get("BPFTRACE", "/usr/bin/bpftrace")]
PROGS = {
    "plain": 'BEGIN { printf("%d\\n", pid); exit(); }',
    "btf": 'BEGIN { $t = (struct task_struct *)curtask; printf("%d\\n", $t->real_parent->pid); exit(); }',
}
N = int(sys.argv[1]) if len(sys.argv) > 1 else 7
res = {}
for rep in range(N):
    order = [("ours", OURS), ("bpftrace", THEIRS)]
    if rep % 2:
        order.reverse()
    for name, prog in PROGS.items():
        for who, cmd in order:
            t = time.perf_counter()
            p = subprocess.run(cmd + ["-e", prog], capture_output=True)
            dt = time.perf_counter() - t
            assert p.returncode == 0, (who, name, p.stderr)
            res.setdefault((who, name), []).append(dt)
for name in PROGS:
    o = statistics.median(res[("ours", name)]); b = statistics.median(res[("bpftrace", name)])
    print(f"{name:6s} ours {o*1000:7.1f} ms  bpftrace {b*1000:7.1f} ms  ratio {o/b:.2f}")
print("btf-plain delta: ours %.1f ms, bpftrace %.1f ms" % (
    1000*(statistics.median(res[("ours","btf")]) - statistics.median(res[("ours","plain")])),
    1000*(statistics.median(res[("bpftrace","btf")]) - statistics.median(res[("bpftrace","plain")]))))

"""User stacks are symbolised from the process's mappings and ELF symbols."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET = r"""
#include <unistd.h>
void __attribute__((noinline)) level2(void) { close(999); }
void __attribute__((noinline)) level1(void) { level2(); }
int main(void) { sleep(1); level1(); sleep(3); return 0; }
"""


@pytest.mark.kernel
def test_ustack_names_functions_of_a_live_process(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the target")
    src = tmp_path / "ustk.c"
    src.write_text(TARGET)
    binary = tmp_path / "ustk"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(binary), str(src)], check=True)
    target = subprocess.Popen([str(binary)])
    try:
        p = subprocess.run(
            [sys.executable, "-m", "pybpftrace", "-e",
             f"tracepoint:syscalls:sys_enter_close /pid == {target.pid}/ "
             "{ @[ustack] = count(); @p[ustack(perf)] = count(); } interval:s:2 { exit(); }"],
            cwd=ROOT, capture_output=True, text=True, timeout=30)
    finally:
        target.wait()
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert any(l.startswith("    level1+") for l in lines), p.stdout
    assert any(l.startswith("    main+") for l in lines), p.stdout
    assert any(l.endswith(f" ({binary})") and " main+" in l for l in lines), p.stdout

"""uprobe:BINARY:function / uretprobe: perf uprobe PMU events, argN, retval and str()."""
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET_C = r"""
#include <string.h>
#include <unistd.h>
int __attribute__((noinline)) add(int a, int b) { return a + b; }
char * __attribute__((noinline)) greet(char *s) { return s + 1; }
int main() {
    char buf[16];
    strcpy(buf, "xhello");
    sleep(1);
    for (int i = 0; i < 5; i++) add(i, 10);
    greet(buf);
    sleep(1);
    return 0;
}
"""


def run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def target(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    src = tmp_path / "target.c"
    src.write_text(TARGET_C)
    binary = tmp_path / "target"
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(src)], check=True)
    return str(binary)


def trace_while_running(script: str, binary: str) -> tuple[int, str, str]:
    """Run pybpftrace, start `binary` once the probes are attached, then SIGINT."""
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    tracer = subprocess.Popen([sys.executable, "-m", "pybpftrace", "-e", script], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        err = []
        for line in tracer.stderr:
            err.append(line)
            if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
                break
        else:
            out, rest = tracer.communicate(timeout=30)
            return tracer.returncode, out, "".join(err) + rest
        subprocess.run([binary], check=True, timeout=30)
        tracer.send_signal(signal.SIGINT)
        out, rest = tracer.communicate(timeout=30)
        return tracer.returncode, out, "".join(err) + rest
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()


@pytest.mark.kernel
def test_uprobe_args_and_uretprobe_retval(target):
    rc, out, err = trace_while_running(
        f'uprobe:{target}:add {{ printf("%d %d\\n", arg0, arg1); }} '
        f'uretprobe:{target}:add {{ @r = sum(retval); }}', target)
    assert rc == 0, err
    lines = re.findall(r"^(\d+ \d+)$", out, re.M)
    assert lines == [f"{i} 10" for i in range(5)], out
    assert re.search(r"^@r: 60$", out, re.M), out


@pytest.mark.kernel
def test_uprobe_user_strings(target):
    rc, out, err = trace_while_running(
        f'u:{target}:greet {{ printf("in %s\\n", str(arg0)); }} '
        f'ur:{target}:greet {{ printf("out %s\\n", str(retval)); }}', target)
    assert rc == 0, err
    assert "in xhello\n" in out and "out hello\n" in out, out


def test_uprobe_missing_binary():
    r = run("-e", "uprobe:/nonexistent/binary:f { printf(\"x\\n\"); }")
    assert r.returncode == 1
    assert "uprobe target file '/nonexistent/binary' does not exist or is not executable" \
        in r.stderr


def test_uprobe_missing_function(target):
    r = run("-e", f"uprobe:{target}:no_such_function {{ }}")
    assert r.returncode == 1
    assert f"Could not resolve symbol: {target}:no_such_function" in r.stderr

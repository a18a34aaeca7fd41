"""#include, #define, C struct definitions, -I and --include, run for real:
a script's struct laid over a uprobe argument of a gcc-built program, macro
values printed from BEGIN, AF_INET from the built-in kernel macros where this
machine has no kernel headers, the seed tools that include kernel headers,
and the errors, in bpftrace's form."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pybpftrace

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds-check" / "cases.toml"

STRUCTS = """\
struct inner { short s; long l; };
struct foo {
    int a;
    char name[8];
    unsigned int flag : 1, level : 3;
    int neg : 5;
    struct inner in;
    union { int u32; char bytes[4]; };
    struct foo *next;
};
"""

TARGET_C = STRUCTS + r"""
#include <unistd.h>
int __attribute__((noinline)) consume(struct foo *f) { return f->a; }
int main(void) {
    struct foo second = { .a = 2, .name = "second" };
    struct foo f = { .a = 42, .name = "hello", .flag = 1, .level = 5, .neg = -3,
                     .in = { .s = -7, .l = 123456789012 }, .u32 = 0x64636261, .next = &second };
    sleep(1);
    consume(&f);
    return 0;
}
"""


def pybpftrace_cli(*args, cwd=ROOT, timeout=60):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def target(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "target.c").write_text(TARGET_C)
    subprocess.run(["gcc", "-O0", "-o", str(tmp_path / "target"), str(tmp_path / "target.c")],
                   check=True)
    return str(tmp_path / "target")


@pytest.mark.kernel
def test_script_struct_over_a_uprobe_argument(target, tmp_path):
    script = tmp_path / "foo.bt"
    script.write_text(STRUCTS + f"""
uprobe:{target}:consume
{{
    $f = (struct foo *)arg0;
    printf("%d %s %d %d %d %d %ld %x %d %s\\n", $f->a, $f->name, $f->flag, $f->level, $f->neg,
           $f->in.s, $f->in.l, $f->u32, $f->next->a, $f->next->name);
    exit();
}}
""")
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    tracer = subprocess.Popen([sys.executable, "-m", "pybpftrace", str(script)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in tracer.stderr:
            if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
                break
        subprocess.run([target], check=True, timeout=30)
        out, err = tracer.communicate(timeout=30)
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
    assert tracer.returncode == 0, err
    # As bpftrace 0.17 (and its runtime test other.bitfield_access_2): a bitfield
    # narrower than its type is shifted and masked, not sign-extended, so neg = -3 reads 29.
    assert "42 hello 1 5 29 -7 123456789012 64636261 2 second\n" in out


@pytest.mark.kernel
def test_defines_enums_and_struct_sizes_from_begin():
    p = pybpftrace_cli("-e", """\
#define GREETING "hi"
#define SQ(x) ((x) * (x))
#define FLAGS (1 << 3 | 1)
struct pair { char c; long l; }
enum color { RED, GREEN = 5, BLUE }
BEGIN {
  printf("%s %d %d %d %d %d\\n", GREETING, SQ(7), FLAGS, BLUE, sizeof(struct pair),
         offsetof(struct pair, l));
  exit();
}""")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "hi 49 9 6 16 8"


@pytest.mark.kernel
def test_kernel_macros_without_kernel_headers():
    p = pybpftrace_cli("-e", '#include <net/sock.h>\n#include <linux/fs.h>\n'
                       'BEGIN { printf("%d %d %d %d\\n", AF_INET, AF_INET6, O_CREAT, '
                       'TCP_LISTEN); exit(); }')
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "2 10 64 10"


@pytest.mark.kernel
def test_include_dirs_and_include_files(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "mine.h").write_text("#define MAGIC 1234\nstruct point { int x, y; };\n")
    (tmp_path / "first.h").write_text("#define EXTRA 77\n")
    prog = ('#include <mine.h>\nBEGIN { printf("%d %d %d\\n", MAGIC, EXTRA, '
            'sizeof(struct point)); exit(); }')
    p = pybpftrace_cli("-I", str(tmp_path / "inc"), "--include", "first.h", "-e", prog,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "1234 77 8"
    p = pybpftrace_cli(f"-I{tmp_path / 'inc'}", f"--include={tmp_path / 'first.h'}", "-e", prog)
    assert p.stdout.splitlines()[1] == "1234 77 8", p.stderr
    result = pybpftrace.run(prog, include_dirs=[str(tmp_path / "inc")],
                            includes=[str(tmp_path / "first.h")])
    assert result.printed == "1234 77 8\n"


def test_errors_are_reported_in_bpftrace_form(tmp_path):
    script = tmp_path / "bad.bt"
    script.write_text('#include "nothere.h"\nBEGIN { exit(); }\n')
    p = pybpftrace_cli(str(script))
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr == (f"{script}:1:11-20: ERROR: 'nothere.h' file not found\n"
                        '#include "nothere.h"\n          ~~~~~~~~~\n')
    p = pybpftrace_cli("-e", "struct foo { int a; int b c; }\nBEGIN { exit(); }")
    assert p.returncode == 1
    assert p.stderr == ("stdin:1:27-28: ERROR: syntax error in C definitions, unexpected c\n"
                        "struct foo { int a; int b c; }\n                          ~\n")
    p = pybpftrace_cli("-e", "#include <net/sock.h>\nBEGIN { @ = AF_NOPE; }")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "stdin:2:13-20: ERROR: Unknown identifier: 'AF_NOPE'\n" in p.stderr
    p = pybpftrace_cli("--include", "nothere.h", "-e", "BEGIN { exit(); }")
    assert p.returncode == 1 and p.stderr == "ERROR: --include: 'nothere.h' file not found\n"


def _seed(case_id: str) -> str:
    if not SEEDS.exists():
        pytest.skip("seeds-check cases not present")
    (case,) = [c for c in tomllib.loads(SEEDS.read_text())["case"] if c["id"] == case_id]
    return case["program"]


def test_seed_tcp_sendmsg_checks_with_af_inet_and_struct_sock(tmp_path):
    script = tmp_path / "tcp_sendmsg.bt"
    script.write_text(_seed("003-tcp-sendmsg-bt"))
    p = pybpftrace_cli("-d", str(script))
    assert p.returncode == 0, p.stderr
    semantic = p.stdout.split("AST after: Semantic")[1]
    assert re.search(r"== :: type\[unsigned int64.*\n\s+variable: \$af :: type\[unsigned int16"
                     r".*\n\s+int: 2 ", semantic), semantic  # $af == AF_INET
    assert "variable: $sk :: type[struct sock *" in semantic


def test_seed_offwake_checks_with_struct_task_struct(tmp_path):
    script = tmp_path / "offwake.bt"
    script.write_text(_seed("003-offwake-bt"))
    p = pybpftrace_cli("-d", str(script))
    assert p.returncode == 0, p.stderr
    assert "variable: $prev :: type[struct task_struct *" in p.stdout

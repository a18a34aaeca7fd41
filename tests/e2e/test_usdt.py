"""usdt: probes on SystemTap SDT notes: arguments of every operand form, several
locations of one probe, semaphores the kernel activates, -c/-p, -l, errors.

The target writes its notes as <sys/sdt.h> writes them (the header is not
installed here), so the argument specs are whatever gcc picks for each
constraint: registers (`-8@%rax`), constants (`4@$5`), stack memory
(`-8@-40(%rbp)`), a global (`-8@counter(%rip)`) and base+index*scale
(`8@(%rax,%rdx,8)`).
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SDT_H = r"""
/* What <sys/sdt.h> writes for a probe: a nop, and a note naming it. */
#define SDT_NOTE(provider, name, sem, args) \
    ".pushsection .note.stapsdt,\"?\",\"note\"\n" \
    ".balign 4\n" \
    ".4byte 992f-991f, 994f-993f, 3\n" \
    "991: .asciz \"stapsdt\"\n" \
    "992: .balign 4\n" \
    "993: .8byte 990b\n" \
    ".8byte _.stapsdt.base\n" \
    ".8byte " sem "\n" \
    ".asciz \"" provider "\"\n" \
    ".asciz \"" name "\"\n" \
    ".asciz \"" args "\"\n" \
    "994: .balign 4\n" \
    ".popsection\n" \
    ".ifndef _.stapsdt.base\n" \
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
    ".weak _.stapsdt.base\n" \
    ".hidden _.stapsdt.base\n" \
    "_.stapsdt.base: .space 1\n" \
    ".size _.stapsdt.base, 1\n" \
    ".popsection\n" \
    ".endif\n"
#define PROBE(provider, name, sem, args, ...) \
    __asm__ __volatile__("990: nop\n" SDT_NOTE(provider, name, sem, args) :: __VA_ARGS__)
"""

TARGET_C = r"""
#include <stdlib.h>
#include <unistd.h>

#include "sdt.h"

unsigned short demo_gated_semaphore __attribute__((section(".probes"))) = 0;
long counter = -5;

static inline __attribute__((always_inline)) void twice(int v) {
    PROBE("demo", "inlined", "0", "-4@%[a]", [a] "r" (v));
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    long big = -579005069656919568L;
    short neg = -3600;
    long arr[3] = {7, 8, 9};
    long *p = arr;
    long idx = 2;
    for (int i = 0; i < n; i++) {
        PROBE("demo", "regs", "0", "-8@%[a] -2@%[b] 4@$5 -4@$-16", [a] "r" (big), [b] "r" (neg));
        PROBE("demo", "mem", "0", "-8@%[a] -8@%[c] 8@(%[p],%[i],8)", [a] "m" (big),
              [c] "m" (counter), [p] "r" (p), [i] "r" (idx));
        if (demo_gated_semaphore)
            PROBE("demo", "gated", "demo_gated_semaphore", "4@%[a] 2@%[s]", [a] "r" (i),
                  [s] "r" (demo_gated_semaphore));
        twice(100 + i);
        twice(999);
        usleep(100000);
    }
    return 0;
}
"""

# A probe in a shared library, reading a global of the library (`(%rax)`
# or `libcount(%rip)`, as gcc likes).
LIB_C = r"""
#include "sdt.h"
long libcount = 41;
void libfn(int x) {
    libcount++;
    PROBE("lp", "hit", "0", "-4@%[a] -8@%[c]", [a] "r" (x), [c] "m" (libcount));
}
"""
USELIB_C = r"""
#include <unistd.h>
void libfn(int x);
int main(void) { for (int i = 0; i < 300; i++) { libfn(i); usleep(100000); } return 0; }
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    d = tmp_path_factory.mktemp("usdt")
    (d / "sdt.h").write_text(SDT_H)
    (d / "target.c").write_text(TARGET_C)
    (d / "lib.c").write_text(LIB_C)
    (d / "uselib.c").write_text(USELIB_C)
    subprocess.run(["gcc", "-O0", "-o", str(d / "target"), str(d / "target.c")], check=True)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(d / "libdemo.so"),
                    str(d / "lib.c")], check=True)
    subprocess.run(["gcc", "-o", str(d / "uselib"), str(d / "uselib.c"), f"-L{d}", "-ldemo",
                    f"-Wl,-rpath,{d}"], check=True)
    return str(d / "target")


def run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_arguments_of_every_operand_form(target):
    r = run("-e", 'usdt:%s:demo:regs { printf("R %%lld %%lld %%lld %%lld\\n", arg0, arg1, arg2, '
            'arg3); } usdt:%s:demo:mem { printf("M %%lld %%lld %%lld\\n", arg0, arg1, arg2); }'
            % (target, target), "-c", f"{target} 2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 2 probes..."
    assert lines.count("R -579005069656919568 -3600 5 -16") == 2
    assert lines.count("M -579005069656919568 -5 9") == 2


def test_inlined_marker_has_one_probe_per_location(target):
    r = run("-e", 'usdt:%s:demo:inlined { printf("%%s %%d\\n", probe, arg0); }' % target,
            "-c", f"{target} 3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Attaching 2 probes..."
    values = [line.rsplit(" ", 1) for line in lines[1:] if line]
    assert {name for name, _ in values} == {f"usdt:{target}:demo:inlined"}
    assert [v for _, v in values] == ["100", "999", "101", "999", "102", "999"]


def test_semaphore_is_activated_while_attached(target):
    # The marker is behind its semaphore: it fires only because the kernel
    # counts the attached probe in it (the uprobe's ref_ctr_offset).
    r = run("-e", 'usdt:%s:demo:gated { printf("G %%d %%d\\n", arg0, arg1); }' % target,
            "-c", f"{target} 3")
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("G")] == \
        ["G 0 1", "G 1 1", "G 2 1"]


def test_wildcards_and_listing(target):
    r = run("-l", f"usdt:{target}:*")
    assert r.stdout.splitlines() == [f"usdt:{target}:demo:{n}"
                                     for n in ("gated", "inlined", "mem", "regs")]
    r = run("-e", 'usdt:%s:demo:* { exit(); }' % target, "-c", target)
    assert r.stdout.splitlines()[0] == "Attaching 5 probes..."
    r = run("-e", 'usdt:%s:*eg* { printf("%%s\\n", probe); exit(); }' % target, "-c", target)
    assert r.stdout.split() == ["Attaching", "1", "probe...", f"usdt:{target}:demo:regs"]


def test_pid_finds_probes_in_the_process(target):
    proc = subprocess.Popen([target, "300"])
    try:
        time.sleep(0.2)
        r = run("-e", 'usdt::demo:regs { printf("%s %d\\n", probe, arg1); exit(); }',
                "-p", str(proc.pid))
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[:2] == [
            "Attaching 1 probe...", f"usdt:/proc/{proc.pid}/root{target}:demo:regs -3600"]
        r = run("-e", 'usdt:inlined { printf("%d\\n", arg0); exit(); }', "-p", str(proc.pid))
        assert r.stdout.split("\n")[0] == "Attaching 2 probes..."
        r = run("-l", "usdt:*", "-p", str(proc.pid))
        assert f"usdt:/proc/{proc.pid}/root{target}:demo:mem" in r.stdout.splitlines()
    finally:
        proc.kill()
        proc.wait()


def test_library_probe_with_pid(target):
    lib = os.path.join(os.path.dirname(target), "libdemo.so")
    proc = subprocess.Popen([os.path.join(os.path.dirname(target), "uselib")])
    try:
        time.sleep(0.2)
        r = run("-e", 'usdt:%s:lp:hit { printf("%%s %%d\\n", probe, arg1 - arg0); exit(); }'
                % lib, "-p", str(proc.pid))
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[:2] == [
            "Attaching 1 probe...", f"usdt:/proc/{proc.pid}/root{lib}:lp:hit 42"]
    finally:
        proc.kill()
        proc.wait()


def test_errors(target):
    r = run("-e", 'usdt:%s:demo:* { print(arg3); }' % target)
    assert r.returncode == 1
    assert f"ERROR: couldn't get argument 3 for {target}:demo:" in r.stderr
    r = run("-e", 'usdt:%s:demo:nope { exit(); }' % target)
    assert (r.returncode, r.stdout) == (1, "No probes to attach\n")
    r = run("-e", 'usdt::demo:regs { exit(); }')
    assert "ERROR: usdt probe must specify at least path or pid to probe" in r.stderr
    r = run("-e", 'usdt:/nonexistent:demo:regs { exit(); }')
    assert "ERROR: usdt target file '/nonexistent' does not exist or is not executable" \
        in r.stderr

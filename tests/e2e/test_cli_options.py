"""Command-line options that shape a run: -c, -p, -k/-kk, SIGUSR1, watchpoints,
and 0.17's getopt handling (combined flags, bad flags, `--`).

Real runs of the CLI on a small gcc-built target; kernel tests are marked.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pybpftrace.cli import BadOption, UsageError, parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# argv: calls, delay between calls (ms), exit code.  It prints its pid first,
# calls getppid() and tick() `calls` times, then increment() on a heap int,
# and writes that int again 0.2 s later.
TARGET_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int tick(int i) { return i * 2; }
__attribute__((noinline)) void increment(int *p) { (*p)++; }
int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 5;
    int delay_ms = argc > 2 ? atoi(argv[2]) : 0;
    printf("child=%d\n", getpid());
    fflush(stdout);
    for (int i = 0; i < calls; i++) {
        getppid();
        tick(i);
        if (delay_ms)
            usleep(delay_ms * 1000);
    }
    int *v = malloc(sizeof(int));
    *v = 0;
    increment(v);
    usleep(200000);
    (*v)++;
    return argc > 3 ? atoi(argv[3]) : 0;
}
"""


def run(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=timeout)


def start(*args, env=None) -> subprocess.Popen:
    """Start the tracer; return once its probes are attached."""
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1", **(env or {}))
    tracer = subprocess.Popen([sys.executable, "-m", "pybpftrace", *args], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in tracer.stderr:
        if "__BPFTRACE_NOTIFY_PROBES_ATTACHED" in line:
            return tracer
    out, err = tracer.communicate(timeout=30)
    pytest.fail(f"the tracer did not attach: {err}{out}")


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    d = tmp_path_factory.mktemp("cli_options")
    (d / "target.c").write_text(TARGET_C)
    binary = d / "target"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(binary),
                    str(d / "target.c")], check=True)
    return str(binary)


# ---- option parsing (no kernel) ---------------------------------------------

def test_combined_short_flags_and_attached_values():
    a = parse_args(["-ve", "BEGIN {}", "x", "y"])
    assert (a.verbose, a.program, a.params) == (True, "BEGIN {}", ["x", "y"])
    a = parse_args(["-kk", "-qBfull", "-e", "BEGIN {}"])
    assert (a.helper_check, a.quiet, a.buffering) == (2, True, "full")
    a = parse_args(["-c", "/bin/true x", "script.bt"])
    assert (a.command, a.filename) == ("/bin/true x", "script.bt")
    assert parse_args(["-p1", "-lv"]).pid == "1"


def test_operands_may_come_first_and_double_dash_ends_options():
    a = parse_args(["script.bt", "-v", "--", "-x", "--y"])
    assert (a.filename, a.verbose, a.params) == ("script.bt", True, ["-x", "--y"])


def test_long_options_by_unique_prefix():
    a = parse_args(["--uns", "--no-warn", "--include=a.h", "--include", "b.h", "-e", "BEGIN {}"])
    assert (a.unsafe, a.no_warnings, a.includes) == (True, True, ["a.h", "b.h"])


@pytest.mark.parametrize("argv, message", [
    (["-idonotexist"], "invalid option -- 'i'"),
    (["--foo"], "unrecognized option '--foo'"),
    (["-e"], "option requires an argument -- 'e'"),
    (["--in"], "option '--in' is ambiguous; possibilities: '--include' '--info'"),
    (["--unsafe=1", "-e", "x"], "option '--unsafe' doesn't allow an argument"),
])
def test_bad_options_are_getopts_words(argv, message):
    with pytest.raises(BadOption, match="^" + message.replace("(", r"\(") + "$"):
        parse_args(argv)


def test_kkk_and_extra_list_operands_print_the_usage():
    for argv in (["-kkk", "-e", "BEGIN {}"], ["-l", "a", "b"]):
        with pytest.raises(BadOption):
            parse_args(argv)


@pytest.mark.parametrize("argv, message", [
    (["-v", "-d", "-e", "BEGIN {}"], "USAGE: Use either -v or -d."),
    (["-v"], "USAGE: filename or -e 'program' required."),
    (["-B", "half", "-e", "BEGIN {}"], "USAGE: -B must be either 'line', 'full', or 'none'."),
])
def test_usage_errors(argv, message):
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(") + "$"):
        parse_args(argv)


def test_bad_flag_prints_usage_and_fails():
    p = run("-idonotexist")
    assert p.returncode == 1
    assert p.stderr.startswith("pybpftrace: invalid option -- 'i'\nUSAGE:\n")


@pytest.mark.parametrize("pid, message", [
    ("a1111", "pid 'a1111' is not a valid decimal number"),
    ("111a1", "pid '111a1' is not a valid decimal number"),
    ("5000000", "pid '5000000' out of valid pid range [1,4194304]"),
    ("99999999999999999999", "pid '99999999999999999999' outside of integer range"),
])
def test_bad_pids_are_refused_before_anything_else(pid, message):
    p = run("-p", pid, "no_such_file.bt")
    assert (p.returncode, p.stderr) == (1, f"ERROR: {message}\n")


def test_child_command_must_name_one_executable(tmp_path):
    p = run("-c", str(tmp_path / "missing") + " arg", "-e", "BEGIN { exit(); }")
    assert p.returncode == 255
    assert p.stderr == (f"ERROR: Failed to fork child: path '{tmp_path / 'missing'}' does not "
                        "exist or is not executable\n")
    p = run("-c", "/bin/true", "-p", "1", "-e", "BEGIN { exit(); }")
    assert p.returncode == 1
    assert p.stderr.startswith("ERROR: USAGE: Cannot use both -c and -p.\nUSAGE:\n")


def test_cpid_needs_a_child_command():
    p = run("-e", "BEGIN { print(cpid); exit(); }")
    assert p.returncode == 1
    assert "ERROR: cpid cannot be used without child command" in p.stderr


def test_invalid_character_in_a_listing_pattern():
    p = run("-l", "\\n")
    assert (p.returncode, p.stderr) == (1, "stdin:1:1-2: ERROR: invalid character '\\'\n\\n\n~\n")


# ---- -c: the traced command -------------------------------------------------

@pytest.mark.kernel
def test_child_is_traced_from_its_first_instruction(target):
    """cpid is the child's pid, and its very first calls are seen: it waits
    before exec until the probes are attached."""
    p = run("-e", 'BEGIN { printf("cpid=%d\\n", cpid); } '
                  "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); } "
                  "uprobe:" + target + ":tick { @ticks = count(); }",
            "-c", f"{target} 7")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    child = next(int(x[6:]) for x in lines if x.startswith("child="))
    assert f"cpid={child}" in lines
    assert "@calls: 7" in lines and "@ticks: 7" in lines


@pytest.mark.kernel
def test_tracer_ends_when_the_child_exits(target):
    start_time = time.monotonic()
    p = run("-v", "-e", 'END { printf("end ran\\n"); } interval:s:30 { exit(); }',
            "-c", f"{target} 3 100 3")
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - start_time < 15
    assert p.stdout.endswith("end ran\n\n\nChild exited with code: 3\n"), p.stdout


@pytest.mark.kernel
def test_child_command_is_split_at_single_spaces_like_017(target):
    """No shell: each space separates, so two make an empty argument (and
    quotes would stay in the arguments): `T  2` runs T with "" and "2"."""
    script = "uprobe:" + target + ":tick { @[arg0] = count(); }"
    p = run("-e", script, "-c", f"{target} 2 0")
    assert p.returncode == 0, p.stderr
    assert "\n@[0]: 1\n" in p.stdout and "\n@[1]: 1\n" in p.stdout
    p = run("-e", script, "-c", f"{target}  2")
    assert p.returncode == 0, p.stderr
    assert "@[" not in p.stdout  # atoi("") calls: none


@pytest.mark.kernel
def test_exit_stops_the_child(target):
    p = run("-e", "uprobe:" + target + ":tick { exit(); }", "-c", f"{target} 1000 100",
            timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("child=") == 1


# ---- -p: a running process --------------------------------------------------

@pytest.mark.kernel
def test_pid_limits_uprobes_to_that_process_and_ends_with_it(target):
    """Two copies of the target run; with -p only the first one's calls are
    counted (uprobe events opened for that pid), and the tracer ends when it does."""
    first = subprocess.Popen([target, "15", "100"], stdout=subprocess.DEVNULL)
    second = subprocess.Popen([target, "40", "100"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        p = run("-p", str(first.pid), "-e",
                "uprobe:" + target + ":tick { @[pid] = count(); } "
                "uprobe:tick { @short[pid] = count(); }", timeout=30)
    finally:
        first.kill()
        second.kill()
        first.wait()
        second.wait()
    assert p.returncode == 0, p.stderr
    assert f"@[{second.pid}]" not in p.stdout and f"@short[{second.pid}]" not in p.stdout
    assert f"@[{first.pid}]: " in p.stdout, p.stdout
    assert f"@short[{first.pid}]: " in p.stdout, p.stdout


@pytest.mark.kernel
def test_list_uprobes_of_a_process(target):
    proc = subprocess.Popen([target, "100", "100"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.1)
        p = run("-l", "uprobe:*", "-p", str(proc.pid))
        everything = run("-l", "-p", str(proc.pid))
    finally:
        proc.kill()
        proc.wait()
    assert p.returncode == 0, p.stderr
    assert f"uprobe:/proc/{proc.pid}/root{target}:tick\n" in p.stdout
    assert f"uprobe:/proc/{proc.pid}/root{target}:increment\n" in everything.stdout


# ---- -k / -kk ---------------------------------------------------------------

@pytest.mark.kernel
def test_k_warns_about_failing_helpers_at_their_location():
    prog = "BEGIN { @[1] = 1; delete(@[2]); exit(); }"
    p = run("-k", "-e", prog)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("Attaching 1 probe...\n"
                        "stdin:1:19-31: WARNING: Failed to map_delete_elem: No such file or "
                        "directory (-2)\n" + prog + "\n" + " " * 18 + "~" * 12 + "\n\n\n@[1]: 1\n")
    assert "WARNING" not in run("-e", prog).stdout
    assert "WARNING" not in run("-k", "--no-warnings", "-e", prog).stdout


@pytest.mark.kernel
def test_kk_also_checks_reads_and_json_has_the_fields():
    prog = 'BEGIN { @[1] = 1; printf("%d\\n", @[2]); exit(); }'
    assert "Failed to map_lookup_elem" not in run("-k", "-e", prog).stdout
    p = run("-kk", "-e", prog)
    assert "stdin:1:34-38: WARNING: Failed to map_lookup_elem: 0\n" in p.stdout
    p = run("-kk", "-q", "-f", "json", "-e", prog)
    assert p.stdout.splitlines()[0] == ('{"type": "helper_error", "helper": "map_lookup_elem", '
                                        '"retcode": 0, "line": 1, "col": 34}')


@pytest.mark.kernel
def test_k_adds_code_only_after_checked_helpers():
    def insns(*flags, prog):
        p = run("-v", *flags, "-e", prog)
        assert p.returncode == 0, p.stderr
        line = next(x for x in p.stderr.splitlines() if x.startswith("  instructions:"))
        return int(line.split()[1])
    plain = 'BEGIN { printf("%d\\n", pid); exit(); }'
    assert insns("-k", prog=plain) == insns(prog=plain)
    deleting = "BEGIN { delete(@x[1]); @x[2] = 3; exit(); }"
    assert insns("-k", prog=deleting) > insns(prog=deleting)


# ---- SIGUSR1 ----------------------------------------------------------------

@pytest.mark.kernel
@pytest.mark.parametrize("fmt, line", [("text", "@scalar: 5"),
                                       ("json", '{"type": "map", "data": {"@scalar": 5}}')])
def test_sigusr1_prints_all_maps_and_keeps_running(fmt, line):
    tracer = start("-f", fmt, "-e", "BEGIN { @scalar = 5; } interval:s:2 { exit(); }")
    time.sleep(0.3)
    tracer.send_signal(signal.SIGUSR1)
    out, err = tracer.communicate(timeout=30)
    assert tracer.returncode == 0, err
    assert out.count(line + "\n") == 2, out


# ---- watchpoints ------------------------------------------------------------

@pytest.mark.kernel
def test_watchpoint_on_a_function_argument(target):
    p = run("-e", 'watchpoint:increment+arg0:4:w { printf("%s hit\\n", probe); exit(); }',
            "-c", f"{target} 1", timeout=30)
    assert p.returncode == 0, p.stderr
    assert f"watchpoint:{target}:increment:4:w hit\n" in p.stdout


@pytest.mark.kernel
def test_unwatch_stops_watching(target):
    """Watched: the write in increment(); unwatched before the one 0.2 s later."""
    p = run("-e", "uprobe:" + target + ":increment { @addr = arg0; } "
                  "watchpoint:increment+arg0:4:w { @hits = count(); unwatch(@addr); }",
            "-c", f"{target} 1", timeout=30)
    assert p.returncode == 0, p.stderr
    assert "@hits: 1\n" in p.stdout


@pytest.mark.kernel
def test_async_watchpoint_keeps_the_process_running(target):
    p = run("-e", 'asyncwatchpoint:increment+arg0:4:w { printf("hit\\n"); exit(); }',
            "-c", f"{target} 1", timeout=30)
    assert p.returncode == 0, p.stderr
    assert "hit\n" in p.stdout


# ---- -d/-dd, --emit-llvm, --emit-elf ------------------------------------------

def test_dd_shows_the_ir_before_and_after_optimisation_without_running():
    p = run("-dd", "-e", "BEGIN { @ = count(); exit(); }")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for stage in ("parser", "Semantic", "NodeCounter", "ResourceAnalyser"):
        assert f"\nAST after: {stage}\n-------------------\n" in out
    before, after = out.split("Before optimization\n-------------------\n\n")[1].split(
        "\nAfter optimization\n------------------\n\n")
    assert 'section "prog_p0_0"' in before and 'section "prog_p0_0"' in after
    assert "Attaching" not in out
    assert "Before optimization" not in run("-d", "-e", "BEGIN { exit(); }").stdout
    p = run("-ddd", "-e", "BEGIN { exit(); }")
    assert p.returncode == 1 and p.stderr.startswith("USAGE:")


def test_emit_llvm_writes_both_irs_and_still_runs(tmp_path):
    p = run("--emit-llvm", str(tmp_path / "prog"), "--usdt-file-activation", "--no-warnings",
            "-e", 'BEGIN { printf("ran\\n"); exit(); }')
    assert p.returncode == 0, p.stderr
    assert "ran\n" in p.stdout
    original = (tmp_path / "prog.original.ll").read_text()
    optimised = (tmp_path / "prog.optimized.ll").read_text()
    assert 'section "prog_p0_0"' in original and 'section "prog_p0_0"' in optimised
    assert original != optimised


def test_emit_elf_is_a_dry_run_with_0_17_section_names(tmp_path):
    from pybpftrace.codegen.emit import elf_sections

    elf = tmp_path / "prog.o"
    p = run("--emit-elf", str(elf), "-e", "BEGIN { @ = count(); } "
            "tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_enter_write "
            "{ @c[args->count] = count(); } i:s:1, i:s:2 { exit(); }")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    names = [n for n, _ in elf_sections(elf.read_bytes()) if n.startswith("s_")]
    assert names == ["s_BEGIN_1", "s_tracepoint:syscalls:sys_enter_read_1",
                     "s_tracepoint:syscalls:sys_enter_write_2", "s_interval:s:1,interval:s:2_1"]
    p = run("--emit-elf", str(tmp_path / "no" / "prog.o"), "-e", "BEGIN { exit(); }")
    assert p.returncode == 1
    assert p.stderr == (f"ERROR: failed to write elf: Failed to open: {tmp_path}/no/prog.o: "
                        "No such file or directory\n")


def _map_fds_in(insns: bytes, fds: dict[int, int]) -> bytes:
    """`insns` with each map number of a BPF_PSEUDO_MAP_FD/VALUE ld_imm64 (what
    --emit-elf writes, as 0.17's ELF holds map ids) replaced by a real map's fd."""
    import struct

    out = bytearray(insns)
    for off in range(0, len(out), 8):
        if out[off] == 0x18 and out[off + 1] >> 4 in (1, 2):
            struct.pack_into("<i", out, off + 4, fds[struct.unpack_from("<i", out, off + 4)[0]])
    return bytes(out)


@pytest.mark.kernel
@pytest.mark.parametrize("case_id, kinds", [
    ("003-tcp-sendmsg-bt", ["kprobe", "kretprobe"]),
    ("003-offwake-bt", ["BEGIN", "kprobe", "kprobe", "END"]),
])
def test_emit_elf_of_the_seed_tools_loads_through_the_verifier(tmp_path, case_id, kinds):
    """The seeds' tcp_sendmsg.bt and offwake.bt compile here (--emit-elf), and
    the ELF's programs, given real maps, pass the kernel's verifier: the
    kprobe ones as BPF_PROG_TYPE_KPROBE programs (this kernel cannot attach
    kprobes, but loads their programs)."""
    import io
    import tomllib
    from pathlib import Path

    from pybpftrace import driver
    from pybpftrace.bpf.programs import Program
    from pybpftrace.bpf.uapi import ProgType
    from pybpftrace.codegen.emit import elf_sections
    from pybpftrace.output.text import TextOutput
    from pybpftrace.probes.kernelinfo import KernelInfo
    from pybpftrace.runtime.session import PROG_TYPES, RunOptions, Session

    seeds = Path("/work/shared/seeds-check/cases.toml")
    if not seeds.exists():
        pytest.skip("seeds-check cases not present")
    (case,) = [c for c in tomllib.loads(seeds.read_text())["case"] if c["id"] == case_id]
    script, elf = tmp_path / "tool.bt", tmp_path / "tool.o"
    script.write_text(case["program"])
    p = run("--emit-elf", str(elf), str(script))
    assert (p.returncode, p.stdout) == (0, ""), p.stderr
    sections = [(n, data) for n, data in elf_sections(elf.read_bytes()) if n.startswith("s_")]
    # The same analysis numbers the maps alike; real maps stand for the numbers.
    kinfo = KernelInfo()
    analysed = driver.analyse(case["program"], str(script), kinfo, driver.Options(dry_run=True))
    numbers = driver.dry_run_maps(analysed)
    user = {m.name: m.fd for m in analysed.resources.maps}
    session = Session(analysed, kinfo, TextOutput(io.BytesIO(), io.BytesIO()), [], RunOptions())
    try:
        real = session.create_maps()
        fds = {numbers.ringbuf: real.ringbuf, numbers.status: real.status,
               numbers.scratch: real.scratch,
               **{numbers.stacks[n]: real.stacks[n] for n in numbers.stacks},
               **{user[m.name]: m.fd for m in analysed.resources.maps}}
        loaded = []
        for name, insns in sections:
            kind = name[2:].split(":")[0].rsplit("_", 1)[0]  # s_kprobe:f_1 -> kprobe
            prog = Program.load(PROG_TYPES[kind], _map_fds_in(insns, fds), name=kind)
            try:
                assert prog.info().verified_insns > 0
                assert kind not in ("kprobe", "kretprobe") or prog.prog_type == ProgType.KPROBE
            finally:
                prog.close()
            loaded.append(kind)
    finally:
        session.close()
    assert loaded == kinds

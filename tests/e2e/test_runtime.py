"""pybpftrace on real kernel events, driven by real workloads.

Each module-scoped fixture below is one tracer run: it starts
`python3 -m pybpftrace` (tests/e2e/workloads.py: Tracer), waits until every
probe is attached, runs workloads that cause the events (cat of a unique
temporary file, sleep, dd, a UDP sender, processes with a unique comm), stops
the tracer the way the fixture is about (SIGINT, SIGTERM, exit() in a probe)
and keeps its output; several tests then check different parts of it.
Workload processes are recognised by pid, unique file names or a unique comm,
so other activity on the machine does not disturb the counts.

Expected formats are bpftrace 0.17's (checked against /usr/bin/bpftrace where
it matters: `-o FILE` leaves only the two exit newlines on stdout, `-q`
drops the Attaching line, error messages).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from workloads import (Tracer, cat, dd, exec_as, free_udp_port, map_lines, named, open_n,
                       run_tracer, sleep, syscalls_n, touch_pages, udp_send, unique_name)

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def tmp():
    # A short directory: traced file names must fit str()'s 64 bytes, and
    # pytest's own numbered directories grow (pytest-99 -> pytest-101).
    d = Path(tempfile.mkdtemp(prefix="pbt-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _lines(run: dict) -> list[str]:
    return run["tracer"].stdout.decode("utf-8", "surrogateescape").splitlines()


def _clean_exit(tracer: Tracer, rc: int) -> None:
    assert rc == 0, tracer.stderr
    assert b"Traceback" not in tracer.stderr
    assert tracer.stderr == b"", tracer.stderr


# ---- SIGINT: printf, count() by comm, join(), END ------------------------------------------

@pytest.fixture(scope="module")
def syscalls_run(tmp):
    paths = [tmp / f"opened-{unique_name('')}-{i}" for i in range(3)]
    for p in paths:
        p.write_text("data\n")
    raw_name = f"raw-{unique_name('')}-\xe9\xff".encode("latin-1")  # opened from tmp
    with open(os.path.join(os.fsencode(tmp), raw_name), "w") as f:
        f.write("data\n")
    comm = unique_name()
    token = unique_name("tok")
    program = f"""
tracepoint:syscalls:sys_enter_openat /comm == "cat"/ {{
  printf("open pid=%d comm=%s file=%s\\n", pid, comm, str(args->filename));
}}
tracepoint:syscalls:sys_enter_openat {{ @opens[comm] = count(); }}
tracepoint:syscalls:sys_enter_execve /comm == "{comm}"/ {{ join(args->argv); }}
tracepoint:syscalls:sys_enter_clock_nanosleep /comm == "sleep"/ {{ printf("sleep pid=%d\\n", pid); }}
END {{ printf("END ran\\n"); }}
"""
    with Tracer(program) as t:
        cat_pids = [cat(p) for p in paths]
        raw_pid = cat(raw_name, cwd=tmp)
        open_n(comm, paths[0], 7)
        exec_as(comm, shutil.which("echo"), token, "two words", "3")
        sleep_pid = sleep(0.1)
        assert t.wait_for_output(f"sleep pid={sleep_pid}\n".encode())
        rc = t.stop(signal.SIGINT)
    return dict(tracer=t, rc=rc, paths=paths, cat_pids=cat_pids, comm=comm, token=token,
                sleep_pid=sleep_pid, raw_name=raw_name, raw_pid=raw_pid)


def test_sigint_ends_cleanly(syscalls_run):
    _clean_exit(syscalls_run["tracer"], syscalls_run["rc"])


def test_attaching_line(syscalls_run):
    assert syscalls_run["tracer"].stdout.startswith(b"Attaching 5 probes...\n")


def test_printf_of_pid_comm_and_filename(syscalls_run):
    lines = _lines(syscalls_run)
    for pid, path in zip(syscalls_run["cat_pids"], syscalls_run["paths"]):
        assert lines.count(f"open pid={pid} comm=cat file={path}") == 1, path


def test_file_name_bytes_pass_through(syscalls_run):
    """Bytes that are not UTF-8 reach stdout unchanged."""
    line = b"open pid=%d comm=cat file=%s\n" % (syscalls_run["raw_pid"], syscalls_run["raw_name"])
    assert syscalls_run["tracer"].stdout.count(line) == 1


def test_count_by_comm(syscalls_run):
    opens = map_lines(syscalls_run["tracer"].stdout, "@opens")
    assert opens[syscalls_run["comm"]] == "7"


def test_join_of_execve_argv(syscalls_run):
    lines = _lines(syscalls_run)
    assert lines.count(f"{shutil.which('echo')} {syscalls_run['token']} two words 3") == 1


def test_sleep_event(syscalls_run):
    lines = _lines(syscalls_run)
    assert lines.count(f"sleep pid={syscalls_run['sleep_pid']}") == 1


def test_sigint_runs_end_then_prints_maps(syscalls_run):
    out = syscalls_run["tracer"].stdout
    end = out.index(b"END ran\n")
    assert out[end:].startswith(b"END ran\n\n\n@opens[")
    assert out.endswith(b"\n") and not out.endswith(b"\n\n")


# ---- exit() in a probe: hist/lhist of dd's writes, filtered by $1 ----------------------------

DD_BLOCKS = 5


@pytest.fixture(scope="module")
def dd_run(tmp):
    workload = dd(tmp / "dd.out", DD_BLOCKS)
    program = """
tracepoint:syscalls:sys_exit_write /pid == $1/ {
  @hist = hist(args->ret); @lhist = lhist(args->ret, 0, 8192, 1024); @bytes = sum(args->ret);
}
tracepoint:sched:sched_process_exit /pid == $1/ { printf("exit pid=%d comm=%s\\n", pid, comm); exit(); }
"""
    try:
        with Tracer(program, str(workload.pid)) as t:
            workload.go()
            rc = t.wait(20)
    finally:
        workload.cancel()
    return dict(tracer=t, rc=rc, pid=workload.pid)


def test_exit_in_a_probe_ends_with_0(dd_run):
    _clean_exit(dd_run["tracer"], dd_run["rc"])
    assert f"exit pid={dd_run['pid']} comm=dd\n".encode() in dd_run["tracer"].stdout


def _full_row(label: str, count: int) -> str:
    return f"{label:<16}{count:>8} |{'@' * 52}|\n"


def test_hist_of_write_sizes(dd_run):
    out = dd_run["tracer"].stdout.decode()
    assert f"\n@hist: \n{_full_row('[4K, 8K)', DD_BLOCKS)}\n" in out


def test_lhist_of_write_sizes(dd_run):
    out = dd_run["tracer"].stdout.decode()
    assert f"\n@lhist: \n{_full_row('[4K, 5K)', DD_BLOCKS)}\n" in out


def test_sum_of_write_sizes(dd_run):
    assert f"\n@bytes: {DD_BLOCKS * 4096}\n".encode() in dd_run["tracer"].stdout


# ---- interval, profile, software events --------------------------------------------------------

@pytest.fixture(scope="module")
def timers_run():
    spinner, faulter = unique_name("spin"), unique_name("flt")
    program = f"""
interval:ms:100 {{ @ticks = count(); }}
profile:hz:99 /comm == "{spinner}"/ {{ @samples = count(); }}
software:page-faults:1 /comm == "{faulter}"/ {{ @faults = count(); }}
software:faults /comm == "{faulter}"/ {{ @faults_per_100 = count(); }}
interval:ms:1500 {{ exit(); }}
"""
    with Tracer(program) as t:
        named(spinner, """
            import time
            end = time.process_time() + 0.5
            while time.process_time() < end:
                pass
        """)
        touch_pages(faulter, 4000)
        finished_in_time = t.proc.poll() is None
        rc = t.wait(10)
    assert finished_in_time, "the workloads took longer than the 1.5 s trace; machine too busy"
    return dict(tracer=t, rc=rc, counts={k: int(v) for k, v in _scalars(t.stdout).items()})


def _scalars(out: bytes) -> dict[str, str]:
    return dict(re.findall(r"^@(\w+): (\d+)$", out.decode(), re.M))


def test_timers_end_cleanly(timers_run):
    _clean_exit(timers_run["tracer"], timers_run["rc"])
    assert timers_run["tracer"].stdout.startswith(b"Attaching 5 probes...\n")


def test_interval_fires_every_100ms(timers_run):
    # 1.5 s / 100 ms; interval timers start when attached, one by one.
    assert 13 <= timers_run["counts"]["ticks"] <= 16


def test_profile_samples_a_busy_process(timers_run):
    # 0.5 s of CPU at 99 Hz is about 50 samples.
    assert 25 <= timers_run["counts"]["samples"] <= 80


def test_page_faults(timers_run):
    faults = timers_run["counts"]["faults"]
    assert 4000 <= faults <= 6000
    # software:faults is page-faults with 0.17's default count of 100.
    assert abs(timers_run["counts"]["faults_per_100"] - faults // 100) <= 2


# ---- tracepoint wildcards, -q, fast exit -----------------------------------------------------

GETPPID_CALLS = 123


@pytest.fixture(scope="module")
def wildcard_run():
    comm = unique_name()
    program = f'tracepoint:syscalls:sys_enter_* /comm == "{comm}"/ {{ @[probe] = count(); }}'
    with Tracer(program, flags=("-q",), attach_timeout=60) as t:
        syscalls_n(comm, GETPPID_CALLS)
        stopped = time.monotonic()
        rc = t.stop(signal.SIGINT)
        stop_time = time.monotonic() - stopped
    return dict(tracer=t, rc=rc, stop_time=stop_time)


def test_wildcard_counts_by_probe(wildcard_run):
    _clean_exit(wildcard_run["tracer"], wildcard_run["rc"])
    counts = map_lines(wildcard_run["tracer"].stdout, "@")
    assert counts["tracepoint:syscalls:sys_enter_getppid"] == str(GETPPID_CALLS)
    assert counts["tracepoint:syscalls:sys_enter_exit_group"] == "1"


def test_wildcard_exits_fast_after_sigint(wildcard_run):
    assert wildcard_run["stop_time"] < 3


def test_quiet_has_no_attaching_line(wildcard_run):
    assert wildcard_run["tracer"].stdout.startswith(b"\n\n@[tracepoint:syscalls:")


# ---- SIGTERM, -f json, -o FILE, UDP -----------------------------------------------------------

@pytest.fixture(scope="module")
def json_file_run(tmp):
    comm = unique_name("udp")
    port = free_udp_port()
    # 8 distinctive bytes, then padding: 10, 100 and 1000 bytes long.
    payloads = [f"p{n:04d}{unique_name('')[:3]}".encode().ljust(n, b".") for n in (10, 100, 1000)]
    out_file = tmp / "trace.json"
    # Opened by relative name: str() keeps 64 bytes, too few for a temporary path.
    names = [f"utf8-{unique_name('')}-é€😀", f"raw-{unique_name('')}-\udce9\udcff"]
    for name in names:
        (tmp / name).write_text("data\n")
    program = f"""
tracepoint:syscalls:sys_enter_openat /comm == "cat"/ {{ printf("open %s\\n", str(args->filename)); }}
tracepoint:syscalls:sys_enter_sendto /comm == "{comm}"/ {{
  printf("sendto %d %s\\n", args->len, str(args->buff, 8));
  @len = hist(args->len);
  @sent[comm] = count();
}}
END {{ printf("END ran\\n"); }}
"""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", port))
    try:
        with Tracer(program, flags=("-f", "json", "-o", str(out_file))) as t:
            for name in names:
                cat(name, cwd=tmp)
            udp_send(comm, port, payloads)
            received = [receiver.recv(2000) for _ in payloads]
            rc = t.stop(signal.SIGTERM)
    finally:
        receiver.close()
    assert received == payloads
    lines = out_file.read_bytes().decode().splitlines()
    return dict(tracer=t, rc=rc, lines=lines, comm=comm, payloads=payloads,
                opened=names)


def test_sigterm_ends_cleanly(json_file_run):
    _clean_exit(json_file_run["tracer"], json_file_run["rc"])


def test_output_file_leaves_only_the_exit_newlines_on_stdout(json_file_run):
    # bpftrace 0.17 writes the two newlines before the map dump to stdout even with -o.
    assert json_file_run["tracer"].stdout == b"\n\n"


def test_json_lines(json_file_run):
    events = [json.loads(line) for line in json_file_run["lines"] if line]
    assert events[0] == {"type": "attached_probes", "data": {"probes": 3}}
    printfs = [e["data"] for e in events
               if e["type"] == "printf" and not e["data"].startswith("open ")]
    expected = [f"sendto {len(p)} {p[:8].decode()}\n" for p in json_file_run["payloads"]]
    assert printfs == expected + ["END ran\n"]
    maps = {k: v for e in events if e["type"] in ("map", "hist") for k, v in e["data"].items()}
    assert maps["@sent"] == {json_file_run["comm"]: 3}
    assert maps["@len"] == [{"min": 8, "max": 15, "count": 1},
                            *({"min": 2 ** i, "max": 2 ** (i + 1) - 1, "count": 0}
                              for i in range(4, 6)),
                            {"min": 64, "max": 127, "count": 1},
                            *({"min": 2 ** i, "max": 2 ** (i + 1) - 1, "count": 0}
                              for i in range(7, 9)),
                            {"min": 512, "max": 1023, "count": 1}]


def test_json_of_text_beyond_ascii(json_file_run):
    """UTF-8 names come back from a JSON parser intact; other bytes as U+00XX
    (a deviation: 0.17 wrote \\uffffffXX, which is not JSON)."""
    utf8, raw = json_file_run["opened"]
    raw_as_parsed = raw.replace("\udce9", "\u00e9").replace("\udcff", "\u00ff")
    opens = [json.loads(line)["data"] for line in json_file_run["lines"] if '"open ' in line]
    assert opens.count(f"open {utf8}\n") == 1
    assert opens.count(f"open {raw_as_parsed}\n") == 1
    assert all(line.isascii() for line in json_file_run["lines"])


def test_json_file_layout(json_file_run):
    # The map dump follows the END printf without the "\n\n" (that went to stdout).
    lines = json_file_run["lines"]
    assert lines[-3] == '{"type": "printf", "data": "END ran\\n"}'
    assert [json.loads(x)["type"] for x in lines[-2:]] == ["hist", "map"]


# ---- system() and cat() with --unsafe ------------------------------------------------------------

@pytest.fixture(scope="module")
def unsafe_run(tmp):
    path = tmp / f"cat-{unique_name('')}"
    path.write_text("first line\nsecond line\n")
    program = f"""
tracepoint:syscalls:sys_enter_openat /comm == "cat" && str(args->filename) == "{path}"/ {{
  system("echo system saw pid %d", pid);
  cat("%s", str(args->filename));
  printf("--\\n");
}}
"""
    with Tracer(program, flags=("--unsafe",)) as t:
        pid = cat(path)
        assert t.wait_for_output(b"--\n")
        rc = t.stop()
    return dict(tracer=t, rc=rc, pid=pid)


def test_system_and_cat(unsafe_run):
    tracer = unsafe_run["tracer"]
    assert unsafe_run["rc"] == 0, tracer.stderr
    # As 0.17 does, the predicate's user-space string == a literal on the BPF stack is
    # warned about (one warning: the message, the source line, the marker).
    lines = tracer.stderr.splitlines()
    assert len(lines) == 3 and lines[0].endswith(b": WARNING: Addrspace mismatch"), tracer.stderr
    assert unsafe_run["tracer"].stdout == (
        f"Attaching 1 probe...\nsystem saw pid {unsafe_run['pid']}\n"
        "first line\nsecond line\n--\n\n\n").encode()


# ---- errors: exit 1, bpftrace's messages, no traceback ---------------------------------------------

ERRORS = [
    ('BEGIN { printf("x" }',
     'stdin:1:20-21: ERROR: syntax error, unexpected }, expecting ) or ","\n'
     'BEGIN { printf("x" }\n                   ~\n'),
    ("tracepoint:syscalls:sys_enter_nosuchcall { exit(); }",
     "stdin:1:1-41: ERROR: tracepoint not found: syscalls:sys_enter_nosuchcall\n"
     "tracepoint:syscalls:sys_enter_nosuchcall { exit(); }\n" + "~" * 40 + "\n"),
    ('BEGIN { system("echo hi"); }',
     "stdin:1:9-26: ERROR: system() is an unsafe function being used in safe mode\n"
     'BEGIN { system("echo hi"); }\n        ' + "~" * 17 + "\n"),
    ('BEGIN { printf("%d %d\\n", 1); }',
     "stdin:1:9-29: ERROR: printf: Not enough arguments for format string "
     "(1 supplied, 2 expected)\n"
     'BEGIN { printf("%d %d\\n", 1); }\n        ' + "~" * 20 + "\n"),
]


@pytest.mark.parametrize("program,message", ERRORS)
def test_errors(program, message):
    proc = run_tracer(program)
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == (1, b"", message)


def test_usage_error():
    proc = run_tracer("BEGIN {}", flags=("-f", "xml"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, b"", b"ERROR: Invalid output format \"xml\"\nValid formats: 'text', 'json'\n")


def test_cat_of_a_missing_file_is_reported_and_tracing_goes_on():
    proc = run_tracer('BEGIN { cat("/nonexistent/pybpftrace"); printf("after\\n"); exit(); }')
    assert proc.returncode == 0
    assert proc.stdout == b"Attaching 1 probe...\nafter\n\n\n"
    assert proc.stderr == (b"ERROR: failed to open file '/nonexistent/pybpftrace': "
                           b"No such file or directory\n")


def test_unwritable_output_file():
    proc = run_tracer("BEGIN { exit(); }", flags=("-o", "/nonexistent/pybpftrace/out"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, b"", b'ERROR: Failed to open output file: "/nonexistent/pybpftrace/out": '
                b"No such file or directory\n")


def test_int_syscall_arguments_keep_their_sign(tmp):
    """`int dfd` sits in an 8-byte slot; AT_FDCWD must read as -100, also as a map key."""
    target = Path("/tmp") / unique_name("dfd")  # literals are limited to 64 bytes
    target.write_text("x")
    proc = run_tracer(
        f'tracepoint:syscalls:sys_enter_openat /str(args->filename) == "{target}"/ '
        '{ printf("dfd %d\\n", args->dfd); @[args->dfd] = count(); } '
        f'BEGIN {{ system("cat {target} > /dev/null"); }} interval:ms:500 {{ exit(); }}',
        flags=("--unsafe",))
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    target.unlink()
    assert "dfd -100\n" in out
    assert "@[-100]: 1\n" in out

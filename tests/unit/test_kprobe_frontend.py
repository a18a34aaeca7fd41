"""kprobe/kretprobe in the front end: attach points, wildcard expansion over the
kernel's functions, the probe-specific builtins, and the code they lower to
(which is the uprobes' code: both read struct pt_regs)."""
import fnmatch

import pytest
from fakekernel import NoKernel  # tests/unit/fakekernel.py

from pybpftrace import driver
from pybpftrace.codegen.emit import emit, new_module
from pybpftrace.codegen.lower import InternalMaps, Lowerer
from pybpftrace.diag import DiagnosticError
from pybpftrace.probe_types import AttachPointError, parse_attach_point
from pybpftrace.probes.kprobes import BANNED_KRETPROBES

FUNCTIONS = [("", "vfs_read"), ("", "vfs_write"), ("", "vfs_open.part.0"),
             ("", "finish_task_switch.isra.0"), ("", "_raw_spin_lock"),
             ("ext4", "ext4_sync_fs"), ("xfs", "xfs_sync_fs")]


class FakeKernel(NoKernel):
    """semantic.kinfo.KernelInfo with a few kernel functions; kprobes or not."""

    def __init__(self, has_kprobes: bool = True):
        super().__init__()
        self.has_kprobes = has_kprobes

    def kernel_functions(self, module, func):
        return sorted((m, f) for m, f in FUNCTIONS if fnmatch.fnmatchcase(f, func)
                      and ".part." not in f
                      and (module in ("", "*") or (m or "vmlinux") == module
                           or fnmatch.fnmatchcase(m, module)))

    def kernel_lacks(self, provider):
        if provider in ("kprobe", "kretprobe"):
            return None if self.has_kprobes else "kprobes are not supported by this kernel"
        return None


def analyse(source, kernel=None):
    return driver.analyse(source, "stdin", kernel or FakeKernel(), driver.Options())


def probes(source, kernel=None):
    """(name, target, func, offset) of each concrete probe."""
    return [(p.name, p.target, p.func, p.offset) for p in analyse(source, kernel).resources.probes]


def diagnostics(source, kernel=None):
    try:
        return analyse(source, kernel).diags.render()
    except DiagnosticError as e:
        return e.diags.render()


# ---- attach points --------------------------------------------------------------

@pytest.mark.parametrize("raw, want", [
    ("kprobe:vfs_read", ("kprobe", "", "vfs_read", 0)),
    ("k:vfs_read+0x10", ("kprobe", "", "vfs_read", 16)),
    ("kprobe:ext4:ext4_sync_fs", ("kprobe", "ext4", "ext4_sync_fs", 0)),
    ("k:ext4:ext4_sync_fs+8", ("kprobe", "ext4", "ext4_sync_fs", 8)),
    ("kr:tcp_*", ("kretprobe", "", "tcp_*", 0)),
    ("kretprobe:*:vfs_read", ("kretprobe", "*", "vfs_read", 0)),
])
def test_attach_point_fields(raw, want):
    ap = parse_attach_point(raw)
    assert (ap.provider, ap.target, ap.func, ap.offset) == want


@pytest.mark.parametrize("raw, message", [
    ("kretprobe:vfs_read+4", "Offset not allowed"),
    ("kretprobe:ext4:f+4", "Offset not allowed"),
    ("kprobe:a:b:c", "kprobe probe type requires 1 or 2 arguments"),
])
def test_attach_point_errors(raw, message):
    with pytest.raises(AttachPointError, match=message):
        parse_attach_point(raw)


# ---- expansion ------------------------------------------------------------------

def test_wildcard_expands_over_kernel_functions_without_part_clones():
    assert probes("kprobe:vfs_* { }") == [("kprobe:vfs_read", "", "vfs_read", 0),
                                          ("kprobe:vfs_write", "", "vfs_write", 0)]


def test_module_forms():
    assert probes("kprobe:ext4:* { }") == [("kprobe:ext4:ext4_sync_fs", "ext4", "ext4_sync_fs", 0)]
    assert probes("kretprobe:*:*_sync_fs { }") == [
        ("kretprobe:ext4:ext4_sync_fs", "ext4", "ext4_sync_fs", 0),
        ("kretprobe:xfs:xfs_sync_fs", "xfs", "xfs_sync_fs", 0)]
    # vmlinux is the kernel image: the kernel is given the bare name.
    assert probes("k:vmlinux:vfs_read { }") == [("kprobe:vmlinux:vfs_read", "", "vfs_read", 0)]
    # Without a module, a wildcard matches functions of every module by name.
    assert probes("k:*_sync_fs { }") == [("kprobe:ext4_sync_fs", "", "ext4_sync_fs", 0),
                                         ("kprobe:xfs_sync_fs", "", "xfs_sync_fs", 0)]


def test_offset_is_in_the_name_in_decimal_as_in_bpftrace():
    assert probes("k:vfs_read+0x10 { }") == [("kprobe:vfs_read+16", "", "vfs_read", 16)]


def test_wildcard_with_no_match_is_an_error():
    assert diagnostics("kprobe:nosuch_* { }") == (
        "stdin:1:1-16: ERROR: kprobes not found: nosuch_*\nkprobe:nosuch_* { }\n"
        "~~~~~~~~~~~~~~~\n")


def test_unknown_function_warns_as_017_and_names_its_clones():
    assert diagnostics("kprobe:finish_task_switch { }") == (
        'stdin:1:1-26: WARNING: finish_task_switch is not traceable (either non-existing, '
        'inlined, or marked as "notrace"); attaching to it will likely fail\n'
        "kprobe:finish_task_switch { }\n~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "HINT: the kernel has finish_task_switch.isra.0\n")
    assert probes("kprobe:finish_task_switch { }") == [
        ("kprobe:finish_task_switch", "", "finish_task_switch", 0)]


def test_no_traceability_warning_where_kprobes_cannot_attach_at_all():
    # The attach error says it all there (runtime.session).
    assert diagnostics("kprobe:finish_task_switch { }", FakeKernel(has_kprobes=False)) == ""


def test_unknown_list_takes_the_name_as_written():
    class NoList(FakeKernel):
        def kernel_functions(self, module, func):
            return None
    assert probes("kprobe:whatever { }", NoList()) == [("kprobe:whatever", "", "whatever", 0)]
    assert "kprobes not found: vfs_*" in diagnostics("kprobe:vfs_* { }", NoList())


@pytest.mark.parametrize("func", BANNED_KRETPROBES[:1])
def test_banned_kretprobes_pass_the_front_end(func):
    # 0.17 refuses them when attaching (runtime.session; tests/e2e/test_runtime_conformance.py).
    assert diagnostics(f"kretprobe:{func} {{ }}") == ""
    assert diagnostics(f"kprobe:{func} {{ }}") == ""


# ---- builtins ---------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "kprobe:vfs_read { @[arg0, arg5, sarg0, sarg3] = count(); }",
    "kretprobe:vfs_read { @ = hist(retval); @f[func] = count(); }",
    "kprobe:vfs_* { @[func, probe, kstack] = count(); @t = curtask; }",
])
def test_builtins_of_kprobes(source):
    assert diagnostics(source) == ""


@pytest.mark.parametrize("source, message", [
    ("kprobe:vfs_read { @ = retval; }",
     "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'kfunc' probes"),
    ("kretprobe:vfs_read { @ = arg0; }",
     "The arg0 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"),
    ("kretprobe:vfs_read { @ = sarg0; }",
     "The sarg0 builtin can only be used with 'kprobes' and 'uprobes' probes"),
    ("kprobe:vfs_read { @ = arg6; }", "x86_64 doesn't support arg6"),
])
def test_builtin_errors_in_017_words(source, message):
    assert f"ERROR: {message}\n" in diagnostics(source)


def test_stack_argument_at_an_offset_warns_as_017():
    assert diagnostics("kprobe:vfs_read+4 { @ = sarg0; }").startswith(
        "stdin:1:25-30: WARNING: Using an address offset with the sargX built-in canlead to "
        "unexpected behavior \n")


def test_func_is_a_kernel_symbol():
    analysed = analyse("kretprobe:vfs_read { @[func] = count(); }")
    (m,) = analysed.resources.maps
    assert m.key.kind.name == "KSYM"


# ---- the code: kprobes read pt_regs exactly as uprobes do --------------------------

def instructions(source):
    """Every program of `source`, lowered and emitted (no kernel needed)."""
    analysed = analyse(source)
    units = driver.program_units(analysed, FakeKernel())
    module = new_module()
    internal = InternalMaps(ringbuf=3, status=4, scratch=5, stacks={127: 6}, ncpus=2)
    for unit in units:
        Lowerer(module, unit.name, unit.ctx, analysed.resources, internal, {}, 0, []).generate()
    code, _ = emit(module)
    return [code[u.name] for u in units]


def test_arguments_are_the_uprobe_code():
    body = "{ @a = arg0 + arg1 * arg5; }"
    assert instructions(f"kprobe:vfs_read {body}") == instructions(
        f"uprobe:/bin/bash:readline {body}")


def test_return_value_is_the_uretprobe_code():
    body = "{ @r = hist(retval); }"
    assert instructions(f"kretprobe:vfs_read {body}") == instructions(
        f"uretprobe:/bin/bash:readline {body}")


def test_stack_arguments_read_kernel_memory_in_kprobes_and_user_memory_in_uprobes():
    (k,) = instructions("kprobe:vfs_read { @s = sarg1; }")
    (u,) = instructions("uprobe:/bin/bash:readline { @s = sarg1; }")
    calls = lambda code: [code[i + 4] for i in range(0, len(code), 8) if code[i] == 0x85]
    assert 113 in calls(k) and 112 not in calls(k)  # bpf_probe_read_kernel
    assert 112 in calls(u) and 113 not in calls(u)  # bpf_probe_read_user
    assert len(k) == len(u)


def test_func_of_a_kretprobe_asks_the_kernel_and_of_a_kprobe_reads_ip():
    (ret,) = instructions("kretprobe:vfs_read { @[func] = count(); }")
    (entry,) = instructions("kprobe:vfs_read { @[func] = count(); }")
    calls = lambda code: [code[i + 4] for i in range(0, len(code), 8) if code[i] == 0x85]
    assert 173 in calls(ret)       # bpf_get_func_ip: after the return, ip is the caller's
    assert 173 not in calls(entry)
    # r1 = *(u64 *)(ctx + 128): pt_regs->ip
    assert any(entry[i] == 0x79 and int.from_bytes(entry[i + 2:i + 4], "little") == 128
               for i in range(0, len(entry), 8))


def test_a_probe_of_both_kinds_gets_a_program_of_each_kind():
    """`kprobe:f, kretprobe:f` needs kprobe code for one and kretprobe code
    (func from the kernel's helper, not ip) for the other."""
    analysed = analyse("kprobe:vfs_read, kretprobe:vfs_read, kprobe:vfs_write { @[func] = count(); }")
    units = driver.program_units(analysed, FakeKernel())
    assert [(u.provider, [p.func for p in u.probes]) for u in units] == [
        ("kprobe", ["vfs_read", "vfs_write"]), ("kretprobe", ["vfs_read"])]
    mixed = instructions("kprobe:vfs_read, kretprobe:vfs_read { @[func] = count(); }")
    assert mixed == instructions("kprobe:vfs_read { @[func] = count(); }") + instructions(
        "kretprobe:vfs_read { @[func] = count(); }")

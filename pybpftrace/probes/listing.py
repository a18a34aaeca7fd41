"""`bpftrace -l [PATTERN]` and `-lv`, printed exactly as bpftrace 0.17 prints them.

0.17 treats the pattern as a list of attach points and runs it through its
attach-point parser and the attach-point checks of its semantic analyser, so a
listing fails with the same errors a program would.  Then every attach point
prints its matches, sorted, as `TYPE:MATCH` (plus the arguments with -v).  Some
types print a fixed line instead of searching:

    software:*:   hardware:cycles:   interval:   watchpoint::   special::   (BEGIN/END)

Without a pattern everything is listed ("*:*"); a pattern without `:` but with
a `*` searches every kernel probe type (`-l '*sleep*'`).  Kernel functions come
from available_filter_functions; where it is unreadable (as here) 0.17 warns
and lists none, while we list the text symbols of /proc/kallsyms.  `-lv` of a
kprobe prints no arguments, as in 0.17.  `kprobe:MODULE:FUNC` (newer
bpftrace) lists `kprobe:MODULE:FUNC` lines.

Deviations from 0.17, where 0.17 crashes or needs libraries we lack: an unknown
provider prints 0.17's FATAL line but exits 1 instead of aborting;
`uprobe:libNAME` is not resolved through ld.so.cache.  uprobe `-lv` lists
the parameters from DWARF (semantic.dwarf), as 0.17 with libdw does.  kfunc (fentry) functions are the kernel's BTF FUNCs,
listed as 0.17 lists them (`kfunc:vmlinux:vfs_read`, -lv with the prototype
and retval) even where the kernel cannot run fentry probes (0.17 refuses or
throws there), with a warning saying so.
"""
from __future__ import annotations

import os
import re
import sys
import zlib

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpftrace.probe_types import (AttachPointError, AttachPointSpec, check_attach_point,
                                    expand_provider, has_wildcard, lex_attach_point,
                                    parse_attach_point, wildcard_match)
from pybpftrace.bpf import features
from pybpftrace import btf
from pybpftrace.probes import tracefs
from pybpftrace.probes.kernel_functions import FunctionList, kernel_functions as function_list
from pybpftrace.probes.kernelinfo import (KernelInfo, btf_functions, function_proto,
                                          raw_tracepoint_params)
from pybpftrace.semantic import binaries, dwarf, usdt

# The arguments `-lv` shows for 0.17's iterators (probe_types.ITERATORS).  Named
# without a wildcard, one the kernel cannot run is an error, as in 0.17 (whose
# feature probe fails here, so that it refuses even `-l iter:task`).
ITER_ARGS = {"task": ["struct task_struct * task"],
             "task_file": ["struct task_struct * task", "int fd", "struct file * file"]}
# 0.17 finds iterators in the kernel's BTF; without it there are none to list.
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"

# Characters 0.17's lexer accepts in a list of attach points.
_AP_CHARS = re.compile(r'[#*+\-./0-9A-Za-z\[\]_:,"$\s]')


Span = tuple[int, int] | None  # (column, length) of an attach point; None when generated


class _Listing:
    """One `-l` run: the pattern's attach points, their diagnostics, their output."""

    def __init__(self, source: str, verbose: bool, out, err, pid: int = 0):
        self.source, self.verbose, self.out, self.err = source, verbose, out, err
        self.pid = pid  # -p: user-space probes of this process
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.no_dwarf_warned: set[str] = set()
        self.warned: set[str] = set()

    def diag(self, into: list[str], message: str, span: Span) -> None:
        """Queue a located diagnostic; generated attach points get 0.17's empty span."""
        col, length = span or (1, 0)
        severity = "ERROR" if into is self.errors else "WARNING"
        into.append(f"stdin:1:{col}-{col + length}: {severity}: {message}\n{self.source}\n"
                    f"{' ' * (col - 1)}{'~' * length}\n")

    def flush(self) -> int:
        """Print the queued errors, else the warnings (as 0.17 stops at errors); 1 if errors."""
        failed = bool(self.errors)
        self.err.write("".join(self.errors or self.warnings))
        self.errors, self.warnings = [], []
        return int(failed)

    def warn(self, message: str) -> None:
        self.err.write(f"WARNING: {message}\n")

    # -- the three stages, as in 0.17 -----------------------------------------------

    def parse(self) -> list[tuple[AttachPointSpec, Span]] | None:
        """The attach-point parser: the attach points, or None after a fatal error.

        Attach points made from a provider wildcard go to the end of the list,
        as in 0.17, and have no source span.
        """
        queue: list[tuple[str, Span, bool]] = []
        for m in re.finditer(r'[^,"]*(?:"[^"]*"[^,"]*)*', self.source):
            raw = m.group().strip()
            if raw and not re.search(r"\s", raw):
                queue.append((raw, (m.start() + m.group().index(raw) + 1, len(raw)), False))
        aps, remaining = [], 0  # remaining: attach points that got a provider
        for raw, span, generated in queue:
            try:
                if has_wildcard(lex_attach_point(raw)[0]):
                    expanded = expand_provider(raw, kfunc_available=features.have_kfunc(),
                                               have_pid=self.pid > 0)
                    if len(expanded) > 1:
                        queue += [(r, None, True) for r in expanded]
                        continue
                    raw = expanded[0]
            except AttachPointError as e:
                self.diag(self.errors, str(e), span)
                continue
            try:
                ap = parse_attach_point(raw, listing=True, ignore_invalid=generated,
                                        process_exe=binaries.pid_exe(self.pid) if self.pid else None)
            except AttachPointError as e:
                if e.fatal:
                    self.flush()
                    self.err.write(f"FATAL: {e}\n")
                    return None
                self.diag(self.errors, str(e), span)
                remaining += 1
                continue
            if ap is not None:
                aps.append((ap, span))
                remaining += 1
        if not remaining:
            self.diag(self.errors, "No attach points for probe", None)
        return aps

    def check(self, aps: list[tuple[AttachPointSpec, Span]]) -> None:
        """The semantic checks, plus finding the binaries of uprobes and usdt probes."""
        for ap, span in aps:
            iters = KernelInfo().iterators() if ap.kind.name == "iter" else ()
            for message in check_attach_point(ap, listing=True, iters=iters):
                self.diag(self.errors, message, span)
            if ap.kind.name in ("uprobe", "uretprobe", "usdt"):
                self.resolve_target(ap, span)

    def resolve_target(self, ap: AttachPointSpec, span: Span) -> None:
        kind = "usdt" if ap.kind.name == "usdt" else "uprobe"
        if not ap.target and kind == "usdt":
            if not self.pid:
                self.diag(self.errors, "usdt probe must specify at least path or pid to probe",
                          span)
            return
        if ap.target == "*" or (kind == "usdt" and self.pid and has_wildcard(ap.target)):
            return
        lib = None
        if self.pid and ap.target.startswith("lib") and not has_wildcard(ap.target):
            lib = binaries.library_of_process(ap.target[3:], self.pid)
        paths = [lib] if lib else _binary_paths(ap.target, self.pid)
        if not paths:
            self.diag(self.errors, f"{kind} target file '{ap.target}' does not exist or is not executable",
                      span)
        elif len(paths) == 1 or not has_wildcard(ap.target):
            if len(paths) > 1:
                self.diag(self.warnings, f"attaching to {kind} target file '{paths[0]}' but matched "
                          f"{len(paths)} binaries", span)
            ap.target = paths[0]

    def print_matches(self, ap: AttachPointSpec) -> None:
        for match in self.matches(ap):
            self.out.write(f"{ap.kind.type_name}:{match}\n")
            if self.verbose:
                for param in self.params(ap, match):
                    self.out.write(f"    {param}\n")

    def matches(self, ap: AttachPointSpec) -> list[str]:
        name = ap.kind.name
        if name == "tracepoint":
            return [f"{c}:{n}" for c, n in tracefs.list_tracepoints(ap.target, ap.func)]
        if name in ("kprobe", "kretprobe"):
            functions = self.kernel_functions(explicit=not ap.ignore_invalid)
            if ap.target:  # kprobe:MODULE:FUNC (newer bpftrace)
                return [f"{m or 'vmlinux'}:{f}" for m, f in functions.find(ap.func, ap.target)]
            return _search(ap.func, functions.modules)
        if name in ("uprobe", "uretprobe"):
            if not ap.func:
                return [ap.target + ":"]
            return _search(f"{ap.target}:{ap.func}", _for_binaries(ap.target, _elf_functions))
        if name == "usdt":
            if self.pid and (not ap.target or has_wildcard(ap.target)):  # the process's files
                return _search(f"{ap.target or '*'}:{ap.ns or '*'}:{ap.func}",
                               [f"{path}:{p}" for path in binaries.process_binaries(self.pid)
                                for p in usdt.probe_names(path)])
            return _search(f"{ap.target}:{ap.ns or '*'}:{ap.func}",
                           _for_binaries(ap.target, usdt.probe_names))
        if name == "iter":
            return _search(ap.func, ITER_ARGS if os.path.exists(VMLINUX_BTF) else [])
        if name == "rawtracepoint":
            return KernelInfo().raw_tracepoints(ap.target, ap.func)
        if name in ("kfunc", "kretfunc"):
            reason = KernelInfo().kernel_lacks(name)
            if reason and reason not in self.warned:
                self.warned.add(reason)
                self.warn(reason)
            return [f"{m}:{f}" for m, f in btf_functions(ap.target, ap.func)]
        if name in ("software", "hardware"):
            return [ap.target + ":"]
        if name in ("profile", "interval"):
            return [""]
        return [f"{ap.target}:{ap.func}"]  # BEGIN/END, watchpoints

    def kernel_functions(self, explicit: bool) -> FunctionList:
        """The kernel's functions: available_filter_functions as in 0.17, else
        /proc/kallsyms (this VM: the former gives EPERM).  kprobes asked for by
        name on a kernel without them are listed with that said plainly; with
        no list at all, 0.17's file-access warning."""
        functions = function_list()
        if explicit and not features.have_kprobe():
            self.warn("kprobes are not supported by this kernel")
        elif not functions.source:
            self.warn(functions.error)
        return functions

    def params(self, ap: AttachPointSpec, match: str) -> list[str]:
        """The `-lv` argument lines of one match."""
        name = ap.kind.name
        if name == "tracepoint":
            return [f.decl for f in tracefs.tracepoint_format(*match.split(":", 1))]
        if name == "iter":
            return ITER_ARGS[match]
        if name == "rawtracepoint":
            b = btf.vmlinux()
            return [f"{b.type_name(p.type)} {p.name}" for p in raw_tracepoint_params(match) or []]
        if name in ("kfunc", "kretfunc"):  # both show retval, as in 0.17
            proto = function_proto(*match.split(":", 1))
            b = proto.btf
            return [f"{b.type_name(p.type)} {p.name}" for p in proto.params] + \
                [f"{b.type_name(proto.ret)} retval"] * bool(proto.ret)
        if name == "uprobe":
            path, func = match.rsplit(":", 1)
            if path not in self.no_dwarf_warned and not _has_dwarf(path):
                self.no_dwarf_warned.add(path)
                self.warn(f'No DWARF found for "{path}", cannot show parameter info')
            debug = dwarf.debug_info(path)
            params = debug.function_params(func) if debug is not None else None
            return [f"{p.spelling} {p.name}" for p in params or ()]
        return []


def list_probes(pattern: str | None, verbose: bool, out, err=None, pid: int = 0) -> int:
    """Print the probes matching `pattern` (all when None) to `out`; the exit code.

    Errors and warnings go to `err` (stderr by default) in 0.17's words.
    With `pid` (-p), a pattern without a probe type lists the user-space
    probes, and `uprobe:FUNC` the functions of that process's executable
    (named through /proc/PID/root, as 0.17 names them).
    """
    err = err or sys.stderr
    if pattern == "":
        err.write("Log: cannot resolve location before calling set_source().\n"
                  "ERROR: No attach points for probe\n")
        return 1
    if (pattern is not None and pattern.split(":")[0] in ("usdt", "U") and pattern.count(":") == 1
            and not has_wildcard(pattern.split(":")[1])):
        pattern += ":*"  # `-l usdt:BINARY` lists all of the binary's probes
    listing = _Listing(pattern if pattern is not None else "*:*", verbose, out, err, pid)
    bad = _invalid_character(listing.source)
    if bad is not None:
        c = listing.source[bad]
        what = f"invalid character '{c}'" if c in "'`\\" or not c.isascii() \
            else f"syntax error, unexpected {c}, expecting {{"
        listing.diag(listing.errors, what, (1, bad + 1))
        return listing.flush()
    try:
        aps = listing.parse()
        if aps is None or listing.flush():
            return 1
        listing.check(aps)
        if listing.flush():
            return 1
        for ap, _ in aps:
            listing.print_matches(ap)
    except tracefs.TracefsError as e:
        err.write(f"ERROR: {e}\n")
        return 1
    return 0


# ---- helpers ------------------------------------------------------------------------

def _search(pattern: str, candidates) -> list[str]:
    """Matches of a 0.17 wildcard pattern, sorted and without the untraceable .part.N clones."""
    return sorted({c for c in candidates if wildcard_match(pattern, c) and ".part." not in c})


def _invalid_character(source: str) -> int | None:
    """The index of the first character 0.17's lexer rejects outside quotes, or None."""
    quoted = False
    for i, c in enumerate(source):
        if c == '"':
            quoted = not quoted
        elif not quoted and not _AP_CHARS.match(c):
            return i
    return None


def _binary_paths(target: str, pid: int = 0) -> list[str]:
    """Executables and libraries a uprobe/usdt target names (see semantic.binaries)."""
    return binaries.resolve_binary_path(target, pid)


def _for_binaries(target: str, entries) -> list[str]:
    """"PATH:entry" for every entry of every binary the (resolved) target names."""
    return [f"{path}:{e}" for path in _binary_paths(target) for e in entries(path)]


def _open_elf(path: str):
    try:
        return ELFFile(open(path, "rb"))
    except (OSError, ELFError):
        return None


def _debug_file(elf: ELFFile, path: str) -> str | None:
    """The separate debug file of a binary, found by build id or debuglink, as bcc does."""
    for section in elf.iter_sections():
        if section.name == ".note.gnu.build-id":
            for note in section.iter_notes():
                build_id = note["n_desc"]
                candidate = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
                if os.path.exists(candidate):
                    return candidate
    link = elf.get_section_by_name(".gnu_debuglink")
    if link is None:
        return None
    data = link.data()
    name = data[:data.index(b"\0")].decode()
    crc = int.from_bytes(data[-4:], "little" if elf.little_endian else "big")
    directory = os.path.dirname(os.path.realpath(path))
    for candidate in (os.path.join(directory, name), os.path.join(directory, ".debug", name),
                      f"/usr/lib/debug{directory}/{name}"):
        if os.path.isfile(candidate) and zlib.crc32(open(candidate, "rb").read()) == crc:
            return candidate
    return None


def _elf_functions(path: str) -> set[str]:
    """Function symbols (FUNC and GNU_IFUNC) of a binary and of its debug file."""
    names: set[str] = set()
    elf = _open_elf(path)
    for e in (elf, elf and _open_elf(_debug_file(elf, path) or "")):
        for section in e.iter_sections() if e else ():
            if section.header["sh_type"] in ("SHT_SYMTAB", "SHT_DYNSYM"):
                names.update(s.name for s in section.iter_symbols()
                             if s.name and s["st_shndx"] != "SHN_UNDEF"
                             and s["st_info"]["type"] in ("STT_FUNC", "STT_LOOS"))
    return names


def _has_dwarf(path: str) -> bool:
    """Whether the binary or its debug file has DWARF type information."""
    elf = _open_elf(path)
    debug = elf and _open_elf(_debug_file(elf, path) or "")
    return any(e and e.get_section_by_name(".debug_info") for e in (elf, debug))

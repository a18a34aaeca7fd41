"""One run of a compiled program: maps, programs, attachments, events, exit.

The order follows bpftrace: create maps, generate and load the programs,
run BEGIN, attach every other probe (and let -c's command run), then read
events until exit(), a signal or the end of the traced process (-c/-p);
SIGUSR1 prints every map meanwhile.  Then detach, run END, drain the last
events, report lost events and print every map.  BEGIN and END are raw-tracepoint programs run with
BPF_PROG_TEST_RUN, so they execute in this process, synchronously.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

from pybpftrace import driver
from pybpftrace.bpf.maps import Map, possible_cpus
from pybpftrace.bpf.programs import Program, VerifierError
from pybpftrace.bpf.sys import BpfError
from pybpftrace.bpf.ringbuf import RingBuffer
from pybpftrace.bpf.uapi import MapType, ProgType
from pybpftrace.codegen.lower import (EXIT_FLAG_OFFSET, JOIN_MAX_ARGS, SCRATCH_MAX, InternalMaps,
                                      scratch_value_size)
from pybpftrace.codegen.watchpoints import WATCH_KINDS
from pybpftrace.output.base import Output
from pybpftrace.output.text import TextOutput
from pybpftrace.output.printf import format_printf, format_time
from pybpftrace.probes import attach as attaching, kprobes, trampolines
from pybpftrace.probe_types import has_wildcard
from pybpftrace.diag import Diagnostic, DiagnosticError, Diagnostics
from pybpftrace.lang.printer import attach_point_name
from pybpftrace.perf_events import PERF_TYPE_SOFTWARE, find_event
from pybpftrace.resources import Action, ProbeInfo
from pybpftrace.runtime.child import ChildProc
from pybpftrace.runtime.decode import RawMap, decode, dump_map
from pybpftrace.runtime.procmon import ProcMon
from pybpftrace.runtime.watchpoints import Watchpoints
from pybpftrace.runtime.formats import compile_printf
from pybpftrace.runtime.symbols import SessionSymbolizer
from pybpftrace.runtime.verifier import explain

RINGBUF_SIZE = 8 << 20  # default; BPFTRACE_PERF_RB_PAGES sets pages per CPU instead
PAGE_SIZE = 4096
# printf lines written at once; output must keep flowing while a long drain runs.
PENDING_LINES = 512
PERF_COUNT_SW_CPU_CLOCK = 0
PROG_TYPES = {"BEGIN": ProgType.RAW_TRACEPOINT, "END": ProgType.RAW_TRACEPOINT,
              "tracepoint": ProgType.TRACEPOINT, "rawtracepoint": ProgType.RAW_TRACEPOINT,
              "interval": ProgType.PERF_EVENT,
              "profile": ProgType.PERF_EVENT, "software": ProgType.PERF_EVENT,
              "uprobe": ProgType.KPROBE, "uretprobe": ProgType.KPROBE, "usdt": ProgType.KPROBE,
              "kprobe": ProgType.KPROBE, "kretprobe": ProgType.KPROBE,
              "watchpoint": ProgType.PERF_EVENT, "asyncwatchpoint": ProgType.PERF_EVENT}
# Kinds whose programs on one event the kernel runs in reverse attach order
# (0.17's attach_reverse); the others run in attach order.
REVERSE_ATTACH = {"kprobe", "uprobe", "uretprobe", "usdt", "software", "kfunc", "iter"}


class SessionError(Exception):
    """A failure to run the program, with a message for the user."""


@dataclass
class RunOptions:
    verbose: bool = False
    cat_bytes_max: int = 10240
    ringbuf_pages: int = 0  # per CPU; 0 for the default size
    max_probes: int = 512    # BPFTRACE_MAX_PROBES
    max_programs: int = 512  # BPFTRACE_MAX_BPF_PROGS
    # The traced process: -c's command (started once the probes are attached)
    # or -p's process.  Uprobes fire only in it; the run ends when it does.
    child: ChildProc | None = None
    procmon: ProcMon | None = None
    helper_check: int = 0      # -k / -kk
    no_warnings: bool = False  # --no-warnings (the text form of -k's warnings too)
    # --emit-llvm: given the IR before and after optimisation, once compiled.
    on_compiled: Callable[[str, str], None] | None = None

    @property
    def target_pid(self) -> int:
        """The traced process's pid, -1 for none."""
        if self.child is not None:
            return self.child.pid
        return self.procmon.pid if self.procmon is not None else -1


def ringbuf_size(pages_per_cpu: int) -> int:
    """The ring buffer's size: one shared buffer, as large as bpftrace's per-CPU
    buffers together, rounded up to the power of two the kernel requires."""
    if not pages_per_cpu:
        return RINGBUF_SIZE
    want = pages_per_cpu * PAGE_SIZE * len(possible_cpus())
    return 1 << max(want - 1, PAGE_SIZE - 1).bit_length()


class Session:
    def __init__(self, analysed: driver.Analysed, kinfo, out: Output, params: list[str],
                 opts: RunOptions):
        self.analysed = analysed
        self.res = analysed.resources
        self.kinfo = kinfo
        self.out = out
        self.params = params
        self.opts = opts
        self.maps: dict[str, Map] = {}
        self.internal_maps: list[Map] = []
        self.programs: list[Program] = []
        self.attachments: list[attaching.Attachment] = []
        self.begin: list[Program] = []
        self.iterators: list[tuple[ProbeInfo, attaching.Attachment]] = []
        self.end: list[Program] = []
        self.stopping = False
        self.print_requested = False  # SIGUSR1 came
        self.exit_called = False      # exit() ran (a signal stops too, but keeps the events)
        self.exit_read = False        # ... and its EXIT record was read
        # SIGINT/SIGTERM: the events already sent are still shown, but their
        # system() commands are not started after the user asked to stop.
        self.signalled = False
        self.skipped_systems = 0
        self.watch = Watchpoints(self.res.probes, out, opts.target_pid)
        self.lost_reported = 0
        # printf ids -> compiled formatter (None: use the general one); text
        # output of compiled formats is batched per ring buffer drain.
        self.fast_printf: dict[int, object] = {}
        self.pending: list[bytes] = []
        self.batch_text = isinstance(out, TextOutput)

    # ---- setup ------------------------------------------------------------
    def create_maps(self) -> InternalMaps:
        for m in self.res.maps:
            if m.is_array:
                map_type, entries = MapType.PERCPU_ARRAY, 1
            else:
                map_type = MapType.PERCPU_HASH if m.percpu else MapType.HASH
                entries = m.max_entries
            bpf_map = Map.create(map_type, m.key_size, m.value_size, entries, name=m.name)
            m.fd = bpf_map.fd
            self.maps[m.name] = bpf_map
        self.ringbuf_size = ringbuf_size(self.opts.ringbuf_pages)
        self.ringbuf_map = self._internal(MapType.RINGBUF, 0, 0, self.ringbuf_size, "events")
        # One u64 of events the ring buffer refused, one u64 "exit() was called".
        self.status_map = self._internal(MapType.ARRAY, 4, 16, 1, "status")
        scratch_size = scratch_value_size(self.analysed.program, self.res.maps, self.res.strlen)
        if scratch_size > SCRATCH_MAX:
            raise SessionError(f"the struct values of a probe need {scratch_size} bytes of "
                               f"scratch memory, more than the {SCRATCH_MAX} a per-CPU map value "
                               "can hold: store or print fewer of them, or smaller members")
        scratch = self._internal(MapType.PERCPU_ARRAY, 4, scratch_size, 1, "scratch")
        limits = sorted(driver.stack_limits(self.analysed.program))
        self.stack_maps = {n: self._stack_map(n) for n in limits}
        return InternalMaps(self.ringbuf_map.fd, self.status_map.fd, scratch.fd,
                            {n: m.fd for n, m in self.stack_maps.items()}, len(possible_cpus()),
                            scratch_size)

    def _stack_map(self, limit: int) -> Map:
        try:
            return self._internal(MapType.STACK_TRACE, 4, 8 * limit, 4096, f"stack_{limit}")
        except BpfError as e:
            raise SessionError(
                f"failed to create stack id map: {e.strerror}\nERROR: This might have happened "
                f"because kernel.perf_event_max_stack is smaller than {limit}. Try to tweak this "
                "value with sysctl kernel.perf_event_max_stack=<new value>") from e

    def _internal(self, map_type, key_size, value_size, max_entries, name) -> Map:
        m = Map.create(map_type, key_size, value_size, max_entries, name=name)
        self.internal_maps.append(m)
        return m

    def load(self, units: list[driver.ProgramUnit]) -> None:
        for unit in units:
            try:
                if unit.ctx.tracing:  # fentry/fexit, tp_btf: loaded for their one target
                    prog = trampolines.load(trampolines.target_of(unit.probes[0]), unit.insns,
                                            unit.name)
                else:
                    prog = Program.load(PROG_TYPES[unit.provider], unit.insns, name=unit.name,
                                        expected_attach_type=_expected_attach_type(unit))
            except VerifierError as e:
                raise SessionError(explain(e, _probe_names(unit), self.opts.verbose)
                                   .removeprefix("ERROR: ").rstrip())
            self.programs.append(prog)
            unit.program = prog
            self.programs += self.watch.load_setups(unit.setups)
            if self.opts.verbose:
                info = prog.info()
                sys.stderr.write(f"\nProgram ID: {info.id} ({_probe_names(unit)})\n"
                                 f"  instructions: {len(unit.insns) // 8} generated, "
                                 f"{info.xlated_len // 8} after kernel rewrites, "
                                 f"{info.verified_insns} verified; {info.jited_len} bytes JITed\n")

    def check_attachable(self, units: list[driver.ProgramUnit]) -> None:
        """Stop before attaching anything when this kernel cannot attach a probe
        (kprobes on a kernel without them): the programs were generated and
        passed the verifier, so the one error left is the kernel's, located at
        the attach point, with the tracepoint to use instead if there is one.
        fentry/fexit programs are checked before loading, which such a kernel
        refuses without a verifier log.  The kretprobes 0.17 bans are refused
        first, as 0.17 does when attaching them."""
        for unit in units:
            for probe in unit.probes:
                if probe.provider == "kretprobe" and probe.func in kprobes.BANNED_KRETPROBES:
                    raise SessionError(f"error: kretprobe:{probe.func} can't be used as it might "
                                       "lock up your system.")  # sic, 0.17's "ERROR: error: "
                reason = self.kinfo.kernel_lacks(probe.provider)
                if reason is None:
                    continue
                aps = unit.ctx.probe.attach_points
                ap = next((a for a in aps if a.provider == probe.provider and a.func == probe.func),
                          next((a for a in aps if a.provider == probe.provider), aps[0]))
                name = attach_point_name(ap.raw) if has_wildcard(ap.func) else probe.name
                message = f"{reason}: cannot attach {name}"
                if probe.provider in (*kprobes.KPROBE_KINDS, *trampolines.FUNCTION_KINDS):
                    alternative = kprobes.tracepoint_alternative(
                        probe.func, probe.provider in ("kretprobe", "kretfunc"))
                    message += f" (try {alternative} instead)" if alternative else ""
                diags = Diagnostics(self.analysed.diags.source, self.analysed.diags.filename)
                diags.error(message, ap.loc)
                raise DiagnosticError(diags)

    def special_programs(self, units: list[driver.ProgramUnit]) -> None:
        """The BEGIN and END programs, which are run rather than attached."""
        for unit in units:
            for probe in unit.probes:
                if probe.provider == "BEGIN":
                    self.begin.append(unit.program)
                elif probe.provider == "END":
                    self.end.append(unit.program)

    def attach(self, units: list[driver.ProgramUnit]) -> None:
        """Attach every probe but BEGIN and END in 0.17's order, so that probes
        on one event run in program order: the kinds whose programs the kernel
        runs last-attached-first (REVERSE_ATTACH) are attached from the end of
        the program, after the others are attached from its start.  A kprobe
        program is attached to all its functions at once."""
        items = []
        for unit in units:
            if unit.provider in kprobes.KPROBE_KINDS and not unit.ctx.tracing:
                items.append((unit, None))
            else:
                items += [(unit, p) for p in unit.probes if p.provider not in ("BEGIN", "END")]
        forward = [i for i in items if i[0].provider not in REVERSE_ATTACH]
        backward = [i for i in reversed(items) if i[0].provider in REVERSE_ATTACH]
        for unit, probe in forward + backward:
            if probe is None:
                if self.opts.verbose:
                    sys.stderr.write("".join(f"Attaching {p.name}\n" for p in unit.probes))
                aps = unit.ctx.probe.attach_points
                strict = len(aps) == 1 and not has_wildcard(aps[0].func + aps[0].target)
                self.attachments += kprobes.attach_kprobes(unit.program, unit.probes, strict)
            else:
                if self.opts.verbose:
                    how = " (as fentry/fexit)" if probe.provider in kprobes.KPROBE_KINDS else ""
                    sys.stderr.write(f"Attaching {probe.name}{how}\n")
                if probe.provider in WATCH_KINDS:
                    attachment = self.watch.attach(unit.program, self.res.probes.index(probe))
                    self.attachments += [attachment] if attachment is not None else []
                    continue
                self.attachments.append(self._attach_one(unit.program, probe))
                if probe.provider == "iter":
                    self.iterators.append((probe, self.attachments[-1]))

    def _attach_one(self, prog: Program, probe):
        kind = probe.provider
        if prog.prog_type == ProgType.TRACING:
            return trampolines.attach(prog, trampolines.target_of(probe))
        if kind == "tracepoint":
            return attaching.attach_tracepoint(prog, probe.target, probe.func,
                                               cookie=self.res.probes.index(probe))
        if kind == "rawtracepoint":
            return attaching.attach_raw_tracepoint(prog, probe.func)
        if kind in ("uprobe", "uretprobe", "usdt"):
            return attaching.attach_uprobe(prog, probe.target, probe.offset,
                                           retprobe=kind == "uretprobe", pid=self.opts.target_pid,
                                           ref_ctr=probe.ref_ctr)
        if kind in ("interval", "profile"):
            period, freq = (0, probe.freq) if probe.unit == "hz" else (probe.freq, 0)
            cpus = [0] if kind == "interval" else None
            return attaching.attach_perf_event(prog, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK,
                                               sample_period=period, sample_freq=freq, cpus=cpus)
        event = find_event(kind, probe.target)
        return attaching.attach_perf_event(prog, event.type, event.config, sample_period=probe.count)

    # ---- running ----------------------------------------------------------
    def run(self) -> int:
        # Signals only set a flag (and wake the event loop through the wakeup
        # fd), from the start: a Ctrl-C while attaching still ends with END and
        # the maps printed.
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup = signal.set_wakeup_fd(wfd)
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        # SIGUSR1 prints every map; SIGCHLD only wakes the loop to see -c's command end.
        handlers[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._on_sigusr1)
        handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        try:
            self.setup()
            if self.iterators:
                self.iterate()
            elif not self.stopping:
                self.event_loop(rfd)
            self.finish()
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
            signal.set_wakeup_fd(old_wakeup)
            os.close(rfd)
            os.close(wfd)
        return 0

    def setup(self) -> None:
        """Everything up to and including the attaching (BEGIN has run)."""
        units = driver.program_units(self.analysed, self.kinfo)
        self.check_limits(len(units))
        internal = self.create_maps()
        listing = driver.Listing() if self.opts.on_compiled is not None else None
        optimised = driver.generate(self.analysed, units, internal, self.params,
                                    cpid=self.opts.child.pid if self.opts.child is not None else 0,
                                    helper_check=self.opts.helper_check, listing=listing)
        if listing is not None:
            self.opts.on_compiled(listing.original_ir, optimised)
        if not self.opts.no_warnings:
            sys.stderr.write(driver.codegen_warnings(self.analysed))
        # fentry/fexit cannot even be loaded where the kernel lacks them.
        self.check_attachable([u for u in units if u.provider in trampolines.FUNCTION_KINDS])
        self.load(units)
        self.check_attachable(units)
        self.out.attached_probes(len(self.res.probes))
        self.ringbuf = RingBuffer(self.ringbuf_map.fd, self.ringbuf_size)
        # As in 0.17, BEGIN runs before the other probes are attached (its
        # output is read with theirs, after the attaching).
        self.special_programs(units)
        for prog in self.begin:
            prog.test_run(bytes(8))
        self.attach(units)
        if self.opts.child is not None and not self.stopping:
            self.opts.child.run()
        if os.environ.get("__BPFTRACE_NOTIFY_PROBES_ATTACHED") is not None:
            os.write(2, b"__BPFTRACE_NOTIFY_PROBES_ATTACHED\n")
        self.drain()

    def check_limits(self, programs: int) -> None:
        """0.17's two limits, in its order: programs generated, then probes attached."""
        if programs > self.opts.max_programs:
            raise SessionError(
                f"Your program is trying to generate more than {programs} BPF programs, which "
                f"exceeds the current limit of {self.opts.max_programs}.\nYou can increase the "
                "limit through the BPFTRACE_MAX_BPF_PROGS environment variable.")
        probes = len(self.res.probes)
        if probes > self.opts.max_probes:
            raise SessionError(
                f"Can't attach to {probes} probes because it exceeds the current limit of "
                f"{self.opts.max_probes} probes.\nYou can increase the limit through the "
                "BPFTRACE_MAX_PROBES environment variable, but BE CAREFUL since a high number of "
                "probes attached can cause your system to crash.")

    def event_loop(self, wakeup_fd: int) -> None:
        ep = select.epoll()
        ep.register(self.ringbuf.fileno(), select.EPOLLIN)
        ep.register(wakeup_fd, select.EPOLLIN)
        try:
            while not self.stopping:
                ep.poll(0.2)
                self.drain()
                self.check_lost()
                if not self.target_alive():
                    break  # nothing left to trace: end as on Ctrl-C
                if self.print_requested:
                    self.print_requested = False
                    self.print_all_maps()
        finally:
            ep.close()

    def iterate(self) -> None:
        """Walk each iterator once, in program order, or pin it (`iter:task:PIN`),
        as 0.17 does with its one: the program runs for every object in the
        read(), which walks them all in one go; then the run ends as after exit()."""
        for probe, link in self.iterators:
            if probe.pin:
                try:
                    path = trampolines.pin(link, probe.pin)
                except BpfError:
                    sys.stderr.write("ERROR: Failed to pin iter probe link\n")
                else:
                    sys.stdout.write(f"Program pinned to {path}\n")
                    sys.stdout.flush()
                continue
            try:
                fd = trampolines.open_iterator(link)
            except BpfError as e:
                raise SessionError("Failed to open iter probe link") from e
            try:
                while os.read(fd, PAGE_SIZE):  # our programs write nothing here: reads just walk
                    pass
            except OSError:
                pass  # 0.17 ends the walk at a failing read as at EOF
            finally:
                os.close(fd)
            self.drain()

    def _on_signal(self, signum, frame) -> None:
        self.stopping = self.signalled = True

    def _on_sigusr1(self, signum, frame) -> None:
        self.print_requested = True

    def target_alive(self) -> bool:
        """Is the traced process (-c/-p), if there is one, still running?"""
        child, procmon = self.opts.child, self.opts.procmon
        return (child is None or child.is_alive()) and (procmon is None or procmon.is_alive())

    def stop(self) -> None:
        """End the run as exit() would (safe from another thread: the event
        loop looks at the flag at least every 200 ms)."""
        self.stopping = True

    def drain(self) -> None:
        self.ringbuf.drain(self.on_event)
        self.flush_pending()

    def flush_pending(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending.clear()
            self.out.out.write(data)
            self.out.out.flush()

    def finish(self) -> None:
        attaching.detach_all(self.attachments + self.watch.take_all())
        self.attachments = []
        if self.opts.child is not None:
            self.opts.child.terminate()  # as 0.17: the command does not outlive the tracing
        # What the probes sent before they were detached; after exit(), as
        # 0.17, only up to its EXIT record (its flag may come first).
        self.drain()
        self.exit_read = False  # END's output is shown even after exit()
        if self.skipped_systems:
            sys.stderr.write(f"WARNING: {self.skipped_systems} system() commands requested "
                             "before the stop were not run\n")
        for prog in self.end:
            prog.test_run(bytes(8))
        self.drain()
        self.check_lost()
        self.out.end_separator()
        self.print_all_maps()
        if self.opts.verbose and self.opts.child is not None:
            self.report_child(self.opts.child)

    def print_all_maps(self) -> None:
        for m in self.res.maps:
            self.print_map(m.name, 0, 0)

    def report_child(self, child: ChildProc) -> None:
        """-v: how the command ended, on stdout as 0.17 prints it."""
        child.is_alive()
        lines = ""
        if child.term_signal is not None:
            lines += f"Child terminated by signal: {child.term_signal}\n"
        if child.exit_code is not None:
            lines += f"Child exited with code: {child.exit_code}\n"
        self.out.console.write(lines.encode())
        self.out.console.flush()

    def check_lost(self) -> None:
        """Report newly lost events; stop if exit() ran but its event was lost."""
        value = self.status_map.lookup(bytes(4))
        total = int.from_bytes(value[:8], "little")
        if int.from_bytes(value[EXIT_FLAG_OFFSET:EXIT_FLAG_OFFSET + 8], "little"):
            self.stopping = self.exit_called = True
        if total > self.lost_reported:
            self.out.lost_events(total - self.lost_reported)
            self.lost_reported = total

    # ---- events -----------------------------------------------------------
    def on_event(self, record) -> None:
        if self.exit_read:
            return
        action = int.from_bytes(record[0:8], "little")
        if action >= Action.PRINTF_BASE and self.batch_text:
            fid = action - Action.PRINTF_BASE
            fast = self.fast_printf.get(fid, False)
            if fast is False:
                fast = self.fast_printf[fid] = compile_printf(self.res.printfs[fid])
            if fast is not None:
                self.pending.append(fast(record))
                if len(self.pending) >= PENDING_LINES:
                    self.flush_pending()
                return
        self.flush_pending()
        res = self.res
        sym = self.symbolizer
        if action >= Action.PRINTF_BASE:
            info = res.printfs[action - Action.PRINTF_BASE]
            self.out.printf(format_printf(info.fmt, self._args(info, record, sym)))
        elif action >= Action.PRINT_VALUE_BASE:
            t = res.print_values[action - Action.PRINT_VALUE_BASE]
            self.out.value(decode(t, record, sym, 8))
        elif action >= Action.CAT_BASE:
            info = res.cats[action - Action.CAT_BASE]
            self.cat(format_printf(info.fmt, self._args(info, record, sym)))
        elif action >= Action.SYSTEM_BASE:
            if self.signalled:
                self.skipped_systems += 1
                return
            info = res.systems[action - Action.SYSTEM_BASE]
            self.system(format_printf(info.fmt, self._args(info, record, sym)))
        elif action == Action.EXIT:
            self.stopping = self.exit_called = self.exit_read = True
        elif action == Action.TIME:
            text = format_time(res.times[int.from_bytes(record[8:16], "little")])
            if text is not None:
                self.out.time(text)
        elif action == Action.JOIN:
            self.join(record)
        elif action == Action.HELPER_ERROR:
            self.helper_error(record)
        elif action == Action.WATCHPOINT_ATTACH:
            self.watch.on_attach(int.from_bytes(record[8:16], "little"),
                                 int.from_bytes(record[16:24], "little"))
        elif action == Action.WATCHPOINT_DETACH:
            self.watch.on_detach(int.from_bytes(record[8:16], "little"))
        else:
            name = res.maps[int.from_bytes(record[8:16], "little")].name
            if action == Action.PRINT_MAP:
                top = int.from_bytes(record[16:24], "little")
                div = int.from_bytes(record[24:32], "little")
                self.print_map(name, top, div)
            elif action == Action.CLEAR:
                self.maps[name].clear()
            elif action == Action.ZERO:
                self.maps[name].zero()

    @property
    def symbolizer(self) -> SessionSymbolizer:
        sym = getattr(self, "_sym", None)
        if sym is None:
            sym = self._sym = SessionSymbolizer(self.res, self.stack_maps)
        return sym

    @staticmethod
    def _args(info, record, sym) -> list:
        if info.layout is None:
            return []
        return list(decode(info.layout, record, sym, 8).items)

    def print_map(self, name: str, top: int, div: int) -> None:
        info = self.res.map_by_name(name)
        bpf_map = self.maps[name]
        keys, values, count = bpf_map.items_raw()
        raw = RawMap(keys, values, count, bpf_map.value_stride, bpf_map.ncpus)
        self.out.map(dump_map(info, raw, self.symbolizer), top, div or 1)

    def join(self, record) -> None:
        strlen = self.res.strlen
        sep = self.res.joins[int.from_bytes(record[8:16], "little")]
        args = []
        for i in range(JOIN_MAX_ARGS):
            raw = bytes(record[16 + i * strlen:16 + (i + 1) * strlen]).split(b"\0", 1)[0]
            if not raw:
                break
            args.append(raw.decode("utf-8", "surrogateescape"))
        self.out.join(sep.join(args))

    def helper_error(self, record) -> None:
        """-k: 0.17's "Failed to HELPER: strerror (rc)" warning, at the call's location."""
        info = self.res.helper_errors[int.from_bytes(record[8:16], "little")]
        rc = int.from_bytes(record[16:24], "little", signed=True)
        reason = f"{os.strerror(-rc)} ({rc})" if rc < 0 else str(rc)
        warning = "" if self.opts.no_warnings else self.analysed.diags.render_one(
            Diagnostic("WARNING", f"Failed to {info.helper}: {reason}", info.loc))
        self.out.helper_error(info.helper, rc, info.loc.line, info.loc.col, warning)

    def cat(self, path: str) -> None:
        try:
            with open(path, "rb") as f:
                data = f.read(self.opts.cat_bytes_max)
        except OSError as e:
            sys.stderr.write(f"ERROR: failed to open file '{path}': {e.strerror}\n")
            return
        self.out.cat(data.decode("utf-8", "surrogateescape"))

    def system(self, command: str) -> None:
        result = subprocess.run(command, shell=True, stdout=subprocess.PIPE)
        self.out.system(result.stdout.decode("utf-8", "surrogateescape"))

    # ---- teardown ---------------------------------------------------------
    def close(self) -> None:
        attaching.detach_all(self.attachments + self.watch.take_all())
        for p in self.programs:
            p.close()
        for m in [*self.maps.values(), *self.internal_maps]:
            m.close()


def _expected_attach_type(unit: driver.ProgramUnit) -> int:
    """What a program must be loaded for besides its type: kprobe_multi, when
    one link will run it on all of its kprobes."""
    return kprobes.multi_attach_type(unit.probes) if unit.provider in kprobes.KPROBE_KINDS else 0


def _probe_names(unit: driver.ProgramUnit) -> str:
    """The probes a program serves, for messages: the first three, then "..."."""
    return ", ".join(p.name for p in unit.probes[:3]) + (", ..." if len(unit.probes) > 3 else "")

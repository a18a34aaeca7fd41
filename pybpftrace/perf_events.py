"""bpftrace 0.17's software and hardware perf events.

`software:NAME[:count]` and `hardware:NAME[:count]` attach to one of these
perf_event_open(2) events; without a count, the probe fires every
`default_count` events.  Names, aliases and default counts are 0.17's
(src/types.h, SW_PROBE_LIST and HW_PROBE_LIST), in its alphabetical order.
"""
from __future__ import annotations

from dataclasses import dataclass

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1


@dataclass(frozen=True)
class PerfEvent:
    name: str
    alias: str           # "" when there is none
    type: int            # PERF_TYPE_*
    config: int          # PERF_COUNT_SW_* / PERF_COUNT_HW_*
    default_count: int   # sample_period when the probe gives no count

    def period(self, count: int) -> int:
        """The sample_period for `software:NAME:count`; 0.17 treats 0 as no count."""
        return count or self.default_count


def _sw(name, alias, config, count):
    return PerfEvent(name, alias, PERF_TYPE_SOFTWARE, config, count)


def _hw(name, alias, config, count):
    return PerfEvent(name, alias, PERF_TYPE_HARDWARE, config, count)


SOFTWARE_EVENTS: tuple[PerfEvent, ...] = (
    _sw("alignment-faults", "", 7, 1),
    _sw("bpf-output", "", 10, 1),
    _sw("context-switches", "cs", 3, 1000),
    _sw("cpu-clock", "cpu", 0, 1000000),
    _sw("cpu-migrations", "", 4, 1),
    _sw("dummy", "", 9, 1),
    _sw("emulation-faults", "", 8, 1),
    _sw("major-faults", "", 6, 1),
    _sw("minor-faults", "", 5, 100),
    _sw("page-faults", "faults", 2, 100),
    _sw("task-clock", "", 1, 1),
)

HARDWARE_EVENTS: tuple[PerfEvent, ...] = (
    _hw("backend-stalls", "", 8, 1000000),
    _hw("branch-instructions", "branches", 4, 100000),
    _hw("branch-misses", "", 5, 100000),
    _hw("bus-cycles", "", 6, 100000),
    _hw("cache-misses", "", 3, 1000000),
    _hw("cache-references", "", 2, 1000000),
    _hw("cpu-cycles", "cycles", 0, 1000000),
    _hw("frontend-stalls", "", 7, 1000000),
    _hw("instructions", "", 1, 1000000),
    _hw("ref-cycles", "", 9, 1000000),
)

_TABLES = {"software": SOFTWARE_EVENTS, "hardware": HARDWARE_EVENTS}


def find_event(provider: str, name: str) -> PerfEvent | None:
    """The "software" or "hardware" event called `name` (its full name or alias)."""
    return next((e for e in _TABLES[provider] if name and name in (e.name, e.alias)), None)

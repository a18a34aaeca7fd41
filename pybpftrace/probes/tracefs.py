"""Tracepoints as the kernel describes them in tracefs.

Everything pybpftrace knows about a tracepoint comes from three tracefs files:
`available_events` (the list), `events/CAT/NAME/format` (the record layout, which
is also what `-lv` prints) and `events/CAT/NAME/id` (the perf config to attach).

tracefs is often not mounted on a fresh machine, so `tracefs_root()` mounts it
when it can (we are root) instead of letting every later lookup fail with a
confusing "tracepoint not found".  Tests point the root at a fixture directory
with `set_tracefs_root()`.
"""
from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass

from pybpftrace.probe_types import wildcard_match

TRACEFS = "/sys/kernel/tracing"
# Kernels that predate the dedicated mount point expose tracefs inside debugfs.
LEGACY_TRACEFS = "/sys/kernel/debug/tracing"


class TracefsError(Exception):
    """A tracefs problem, worded as bpftrace 0.17 words it where it has a wording."""


_root: str | None = None


def set_tracefs_root(path: str | None) -> None:
    """Use `path` as the tracefs root (None: find the real one again)."""
    global _root
    _root = path


def tracefs_root() -> str:
    """The tracefs mount point, mounting tracefs first if it is missing and we are root."""
    global _root
    if _root is None:
        _root = _find_or_mount()
    return _root


def _find_or_mount() -> str:
    for path in (TRACEFS, LEGACY_TRACEFS):
        if os.path.isdir(os.path.join(path, "events")):
            return path
    if os.geteuid() != 0:
        raise TracefsError(f"tracefs is not mounted at {TRACEFS} and mounting it needs root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", TRACEFS.encode(), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        raise TracefsError(f"could not mount tracefs at {TRACEFS}: {os.strerror(err)}")
    return TRACEFS


def _path(*parts: str) -> str:
    return os.path.join(tracefs_root(), *parts)


def _read(*parts: str) -> str:
    """A tracefs file's text.  Unbuffered: tracefs regenerates the text on every
    read(2), and buffered text I/O makes several; this halves `-lv` time."""
    with open(_path(*parts), "rb", buffering=0) as f:
        return f.read().decode()


def list_tracepoints(pattern_cat: str = "*", pattern_name: str = "*") -> list[tuple[str, str]]:
    """(category, event) pairs matching the two patterns, sorted as "cat:name" strings.

    The list comes from `available_events`, as in bpftrace 0.17: the `events/`
    directory also holds the `ftrace:*` entries, which are not attachable.  The
    patterns use bpftrace's own wildcard rules (`wildcard_match`), applied to the
    joined "cat:name" as 0.17 does, so a `*` may also span the colon.
    """
    pattern = f"{pattern_cat}:{pattern_name}"
    names = set(_read("available_events").split())
    return [tuple(n.split(":", 1)) for n in sorted(names) if wildcard_match(pattern, n)]


def find_tracepoints(cat: str, name: str) -> list[tuple[str, str]]:
    """Like list_tracepoints, but finding none is an error in 0.17's words."""
    found = list_tracepoints(cat, name)
    if not found:
        what = "tracepoints" if "*" in cat + name else "tracepoint"
        raise TracefsError(f"{what} not found: {cat}:{name}")
    return found


@dataclass(frozen=True)
class Field:
    """One field of a tracepoint record.

    `decl` is the declaration exactly as the format file writes it (what `-lv`
    prints); the other attributes are that declaration taken apart.  The names
    match `semantic.kinfo.TracepointField`, so a Field can be used where one is
    expected.
    """
    decl: str          # "char prev_comm[16]", "const char * filename", "__data_loc char[] name"
    name: str
    ctype: str         # the type without name or array dims: "char", "const char *"
    offset: int        # from the start of the record, common fields included
    size: int
    signed: bool
    array_len: int = 0     # element count of `char comm[16]`; 0 when not a fixed array
    data_loc: bool = False  # `__data_loc T[] name`: a u32 (len << 16 | offset) to the data


_FIELD = re.compile(
    r"^\tfield:(?P<decl>[^;]*);\toffset:(?P<offset>\d+);\tsize:(?P<size>\d+);\tsigned:(?P<signed>\d+);")
_DECL = re.compile(r"^(?P<ctype>.*?)\s*(?P<name>[A-Za-z_]\w*)\s*(?:\[(?P<len>\d*)\])?$")


def parse_field(line: str) -> Field | None:
    """The Field on one `\\tfield:` line of a format file, or None for other lines."""
    m = _FIELD.match(line)
    if not m:
        return None
    decl = m["decl"]
    data_loc = decl.startswith("__data_loc ")
    d = _DECL.match(decl.removeprefix("__data_loc ").replace("[]", "", 1) if data_loc else decl)
    if not d:
        raise TracefsError(f"cannot parse tracepoint field: {decl}")
    return Field(decl=decl, name=d["name"], ctype=d["ctype"], offset=int(m["offset"]),
                 size=int(m["size"]), signed=m["signed"] == "1",
                 array_len=int(d["len"]) if d["len"] else 0, data_loc=data_loc)


def tracepoint_format(cat: str, name: str) -> list[Field]:
    """The fields of CAT:NAME after the common_* header, in record order.

    Like bpftrace 0.17, the header is everything up to the first blank line; the
    offsets stay absolute, so the skipped header still shapes the layout.
    """
    try:
        text = _read("events", cat, name, "format")
    except FileNotFoundError:
        raise TracefsError(f"tracepoint not found: {cat}:{name}") from None
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return [fld for line in body.splitlines() if (fld := parse_field(line))]


def tracepoint_id(cat: str, name: str) -> int:
    """The perf config (PERF_TYPE_TRACEPOINT) of CAT:NAME."""
    try:
        return int(_read("events", cat, name, "id"))
    except FileNotFoundError:
        raise TracefsError(f"tracepoint not found: {cat}:{name}") from None

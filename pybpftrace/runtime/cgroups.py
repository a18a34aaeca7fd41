"""cgroup_path(): a cgroup id as the path of that cgroup in every mounted hierarchy.

As 0.17 does it (src/utils.cpp get_cgroup_paths): each cgroup mount in
/proc/mounts is a hierarchy, named "unified" for cgroup2 and by its mount
directory's name for cgroup v1; the ones whose name matches the call's
wildcard filter are searched for a directory whose inode number is the id.
The answer is `name:path` per hierarchy, "unified" first, then by name,
joined by commas; hierarchies without such a directory are left out.
"""
from __future__ import annotations

import os

from pybpftrace.probe_types import wildcard_match


def hierarchies(mounts: str = "/proc/mounts") -> list[tuple[str, str]]:
    """(name, mount point) of every cgroup hierarchy, in mount order."""
    found = []
    try:
        with open(mounts) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0] in ("cgroup", "cgroup2"):
                    name = "unified" if parts[0] == "cgroup2" else os.path.basename(parts[1])
                    found.append((name, parts[1]))
    except OSError:
        pass
    return found


class CgroupPaths:
    """Resolves cgroup ids, remembering where each id was found."""

    def __init__(self, mounts: str = "/proc/mounts"):
        self.mounts = mounts
        self._cache: dict[tuple[int, str], str] = {}

    def path_in(self, cgroup_id: int, root: str) -> str:
        """The path of cgroup `cgroup_id` below `root` ("/" for root itself), or ""."""
        cached = self._cache.get((cgroup_id, root))
        if cached is not None and _inode(root + cached if cached != "/" else root) == cgroup_id:
            return cached
        if _inode(root) == cgroup_id:
            self._cache[(cgroup_id, root)] = "/"
            return "/"
        for here, dirs, _ in os.walk(root):
            for d in dirs:
                full = os.path.join(here, d)
                if _inode(full) == cgroup_id:
                    self._cache[(cgroup_id, root)] = full[len(root):]
                    return full[len(root):]
        return ""

    def describe(self, cgroup_id: int, pattern: str) -> str:
        roots = [(n, p) for n, p in hierarchies(self.mounts) if wildcard_match(pattern, n)]
        roots.sort(key=lambda r: (r[0] != "unified", r[0]))
        paths = ((n, self.path_in(cgroup_id, p)) for n, p in roots)
        return ",".join(f"{n}:{p}" for n, p in paths if p)


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None

"""The files a uprobe target or a `-c` command names, found as bpftrace 0.17 finds them.

0.17's resolve_binary_path: the name itself, plus each $PATH directory joined
with it when it has no `/`; `*` globs; and keep what is an ELF executable
(any ELF file with execute permission) or a shared object (ET_DYN, executable
or not: `uprobe:./libfoo.so:f` works on a mode 0644 library).  With `-p PID`
in another mount namespace, names are looked up in that process's root
(`/proc/PID/root/...`) and $PATH is the process's own.
"""
from __future__ import annotations

import glob
import os

ET_NONE, ET_DYN = 0, 3


def elf_type(path: str) -> int:
    """The ELF e_type of a file (ET_NONE when it is not an ELF file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError:
        return ET_NONE
    if len(head) < 18 or head[:4] != b"\x7fELF":
        return ET_NONE
    return int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")


def is_probeable(path: str) -> bool:
    """bcc_elf_is_exe(path) || bcc_elf_is_shared_obj(path)."""
    if not os.path.isfile(path):
        return False
    kind = elf_type(path)
    return kind == ET_DYN or (kind != ET_NONE and os.access(path, os.X_OK))


def pid_in_different_mountns(pid: int) -> bool:
    """Does process `pid` see another file system tree than this one?"""
    try:
        return os.stat("/proc/self/ns/mnt").st_ino != os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return False


def path_for_pid_mountns(pid: int, path: str) -> str:
    """`path` as seen by process `pid`, reached through its /proc/PID/root."""
    root = f"/proc/{pid}/root"
    if path.startswith(root):
        return path
    return root + ("" if path.startswith("/") else "/") + path


def _search_path(pid: int) -> str | None:
    if pid > 0 and pid_in_different_mountns(pid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                for var in f.read().split(b"\0"):
                    if var.startswith(b"PATH="):
                        return var[5:].decode(errors="surrogateescape")
        except OSError:
            pass
        return ""
    return os.environ.get("PATH")


def resolve_binary_path(cmd: str, pid: int = 0) -> list[str]:
    """Every probeable file `cmd` may name, in 0.17's order (the name, then $PATH)."""
    candidates = [cmd]
    paths = _search_path(pid)
    if paths is not None and "/" not in cmd:
        candidates += [f"{d}/{cmd}" for d in paths.split(":")]
    if "*" in cmd:
        candidates = [p for c in candidates for p in sorted(glob.glob(c))]
    other_ns = pid > 0 and pid_in_different_mountns(pid)
    found = []
    for path in candidates:
        rel = path_for_pid_mountns(pid, path) if other_ns else path
        if is_probeable(rel):
            found.append(rel)
    return found


def pid_exe(pid: int) -> str:
    """The executable of process `pid` as 0.17 names it for `uprobe:FUNC` with -p:
    its path inside the process's root, reached through /proc/PID/root."""
    return path_for_pid_mountns(pid, os.readlink(f"/proc/{pid}/exe"))


def library_of_process(libname: str, pid: int) -> str | None:
    """bcc_procutils_which_so with a pid: the first mapping of process `pid`
    named like lib<libname>.<...> or lib<libname>-<...> (`uprobe:libc:f`)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(None, 5)
        path = parts[5] if len(parts) == 6 else ""
        if f"/lib{libname}." in path or f"/lib{libname}-" in path:
            return path_for_pid_mountns(pid, path) if pid_in_different_mountns(pid) else path
    return None


def process_binaries(pid: int) -> list[str]:
    """The executable and libraries process `pid` maps, in map order, each once,
    named through /proc/PID/root as 0.17 names them: where `usdt:PROVIDER:NAME`
    with -p looks for probes (bcc's USDT context of a pid)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found: list[str] = []
    for line in lines:
        parts = line.split(None, 5)
        path = parts[5] if len(parts) == 6 else ""
        if not path.startswith("/"):
            continue
        path = path_for_pid_mountns(pid, path)
        if path not in found and is_probeable(path):
            found.append(path)
    return found

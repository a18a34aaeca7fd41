"""USDT probes: the SystemTap SDT notes (.note.stapsdt) of an ELF file and
their x86_64 argument specs, as bcc (which bpftrace 0.17 uses) reads them.

Each note is one location of a probe: the address of its `nop`, the address
of its semaphore (0: none), and its arguments as GNU assembler operands with
a size, e.g. `-4@%eax 8@-16(%rbp) 4@$5 8@(%rax,%rdx,8)` (negative size:
signed).  Both addresses are link-time ones, corrected by how far the
`.stapsdt.base` section moved (prelink), then turned into the file offsets
the uprobe PMU takes (pc: the probe; semaphore: its `ref_ctr_offset`).
Lives in semantic because attach points and argument types need the notes
at compile time; it reads files only, never the kernel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpftrace.semantic.elfsyms import data_symbol, vaddr_to_offset

# bcc's x86_64 register names -> struct pt_regs member (semantic.builtins.PT_REGS).
_REGS = {"rip": "ip", "eip": "ip"}
for _r in ("ax", "bx", "cx", "dx"):
    _REGS.update({f"r{_r}": _r, f"e{_r}": _r, _r: _r, f"{_r[0]}l": _r})
for _r in ("si", "di", "bp", "sp"):
    _REGS.update({f"r{_r}": _r, f"e{_r}": _r, _r: _r, f"{_r}l": _r})
for _n in range(8, 16):
    _REGS.update({f"r{_n}{s}": f"r{_n}" for s in ("", "d", "w", "b", "l")})

_NUM = r"(?:0[xX][0-9a-fA-F]+|\d+)"
_OPERAND = re.compile(
    rf"\$(?P<const>-?{_NUM})"
    r"|%(?P<reg>\w+)"
    rf"|(?P<ident>[A-Za-z_.][\w.$]*)?(?P<off>[+-]?{_NUM})?"
    r"\(%(?P<base>\w+)(?:,%(?P<index>\w+)(?:,(?P<scale>\d+))?)?\)")


@dataclass(frozen=True)
class UsdtArg:
    """One argument: a constant, a register, or memory at
    base + offset + index * scale (read from the traced process)."""
    size: int                  # bytes: 1, 2, 4 or 8
    signed: bool
    constant: int | None = None
    base: str = ""             # pt_regs member, e.g. "ax"
    deref: bool = False        # a memory operand
    offset: int = 0
    index: str = ""
    scale: int = 1
    ident: str = ""            # SYMBOL(%rip), until resolved against the probe's address


@dataclass(frozen=True)
class UsdtNote:
    """One location of a USDT probe, with file offsets for the uprobe PMU."""
    provider: str
    name: str
    offset: int                # file offset of the probed instruction
    semaphore: int             # file offset of the semaphore, 0 when none
    args: tuple[UsdtArg, ...] | None  # None: a spec bcc's parser rejects
    arg_text: str


def _reg(name: str, spec: str) -> str:
    if name not in _REGS:
        raise ValueError(f"unknown register '%{name}' in usdt argument '{spec}'")
    return _REGS[name]


def parse_arg(spec: str) -> UsdtArg:
    """One argument spec, `[-]SIZE@OPERAND` (SIZE alone when omitted: 8, signed).
    ValueError when bcc's x86_64 parser would reject it."""
    size_text, at, operand = spec.partition("@")
    if not at:
        size_text, operand = "-8", spec
    try:
        size = int(size_text)
    except ValueError:
        raise ValueError(f"bad size in usdt argument '{spec}'") from None
    if abs(size) not in (1, 2, 4, 8):
        raise ValueError(f"bad size in usdt argument '{spec}'")
    m = _OPERAND.fullmatch(operand)
    if m is None:
        raise ValueError(f"cannot parse usdt argument '{spec}'")
    arg = dict(size=abs(size), signed=size < 0)
    if m["const"] is not None:
        return UsdtArg(constant=int(m["const"], 0), **arg)
    if m["reg"] is not None:
        return UsdtArg(base=_reg(m["reg"], spec), **arg)
    return UsdtArg(base=_reg(m["base"], spec), deref=True, offset=int(m["off"] or "0", 0),
                   index=_reg(m["index"], spec) if m["index"] else "",
                   scale=int(m["scale"] or "1"), ident=m["ident"] or "", **arg)


def parse_args(text: str) -> tuple[UsdtArg, ...]:
    """A note's argument string: specs separated by blanks."""
    return tuple(parse_arg(s) for s in text.split())


def _read_notes(elf: ELFFile):
    """(provider, name, pc, semaphore, args text) of each stapsdt note, in file order,
    with the addresses corrected for a moved .stapsdt.base (prelink), as bcc does."""
    section = elf.get_section_by_name(".note.stapsdt")
    if section is None:
        return
    base_section = elf.get_section_by_name(".stapsdt.base")
    width = elf.elfclass // 8
    order = "little" if elf.little_endian else "big"
    for note in section.iter_notes():
        if note["n_name"] != "stapsdt":
            continue
        desc = note["n_descdata"]
        pc, base, sem = (int.from_bytes(desc[i * width:(i + 1) * width], order) for i in range(3))
        provider, name, args = (desc[3 * width:].split(b"\0") + [b"", b""])[:3]
        if base_section is not None and base:
            shift = base_section["sh_addr"] - base
            pc += shift
            sem += shift if sem else 0
        yield provider.decode(), name.decode(), pc, sem, args.decode()


def _resolve_ident(arg: UsdtArg, path: str, pc: int) -> UsdtArg:
    """SYMBOL+OFF(%rip) names a variable: at the probe, ip is the probe's own
    address, so the variable is at ip + (SYMBOL + OFF - pc), also in PIE
    executables and libraries.  (0.17 refuses these: "deref ident is not
    handled yet".)"""
    if not arg.ident:
        return arg
    if arg.base != "ip" or arg.index:
        raise ValueError(f"cannot resolve usdt argument {arg.ident}")
    found = data_symbol(path, arg.ident)
    if found is None:
        raise ValueError(f"unknown symbol {arg.ident} in usdt argument")
    return replace(arg, ident="", offset=found[0] + arg.offset - pc)


def probe_names(path: str) -> list[str]:
    """"provider:name" of every note of a binary (one per location); [] if unreadable."""
    try:
        with open(path, "rb") as f:
            return [f"{p}:{n}" for p, n, *_ in _read_notes(ELFFile(f))]
    except (OSError, ELFError):
        return []


@lru_cache(maxsize=64)
def notes(path: str) -> tuple[UsdtNote, ...]:
    """Every location of every USDT probe of one ELF file.  OSError/ELFError when
    it cannot be read."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        out = []
        for provider, name, pc, sem, args in _read_notes(elf):
            offset = vaddr_to_offset(loads, pc)
            if offset is None:
                continue
            try:
                parsed = tuple(_resolve_ident(a, path, pc) for a in parse_args(args))
            except ValueError:
                parsed = None
            out.append(UsdtNote(provider, name, offset,
                                (vaddr_to_offset(loads, sem) or 0) if sem else 0, parsed, args))
        return tuple(out)

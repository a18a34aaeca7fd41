"""bpftrace 0.17's format-string directives, and the check of a format against
its argument types.

The compiler validates printf/cat/system formats here; output.printf formats
them at run time with the same directive pattern.  A leaf module, so the
semantic passes need not import the output layer.
"""
from __future__ import annotations

import re

from pybpftrace.types import Kind, Type

# 0.17 (src/format_string.cpp) finds its specifiers with this pattern only.
TOKEN = re.compile(r"%-?[0-9]*(?:\.[0-9]+)?(rx|rh|r|s|c|(?:hh|h|ll|l|j|z|t)?[duoxXp])")

_STRINGISH = {Kind.STRING, Kind.KSYM, Kind.USYM, Kind.PROBE, Kind.USERNAME, Kind.KSTACK,
              Kind.USTACK, Kind.INET, Kind.TIMESTAMP, Kind.CGROUP_PATH, Kind.MAC_ADDRESS,
              Kind.STRERROR}


def _type_name(t: Type) -> str:
    if t.kind in _STRINGISH:
        return "string"
    if t.kind in (Kind.INT, Kind.PTR):
        return "integer"
    return t.kind.value


def _expected(conv: str) -> str:
    return {"s": "string", "r": "buffer", "rx": "buffer", "rh": "buffer"}.get(conv, "integer")


def validate_printf(fmt: str, arg_types: list[Type], func: str = "printf") -> list[str]:
    """0.17's check of a format string against its argument types.

    Returns the error message (0.17 stops at the first one) or an empty
    list.  `func` is "printf", "cat" or "system"; it starts the message.
    """
    convs = [m.group(1) for m in TOKEN.finditer(fmt)]
    if len(arg_types) < len(convs):
        return [f"{func}: Not enough arguments for format string "
                f"({len(arg_types)} supplied, {len(convs)} expected)"]
    if len(arg_types) > len(convs):
        return [f"{func}: Too many arguments for format string "
                f"({len(arg_types)} supplied, {len(convs)} expected)"]
    for conv, t in zip(convs, arg_types):
        if _type_name(t) != _expected(conv):
            return [f"{func}: %{conv} specifier expects a value of type {_expected(conv)} "
                    f"({_type_name(t)} supplied)"]
    return []

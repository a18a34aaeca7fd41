"""JsonOutput against bpftrace 0.17's `-f json` format.

Like test_output_text.py, the golden replays must reproduce the recorded
tests/golden/cases/NAME.json byte for byte; the other expectations were
printed by bpftrace 0.17 too, except where a test says "Deviation" (see
tests/golden/README.md).
"""
import importlib.util
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpftrace.output.json import JsonOutput, hist_json, json_escape, map_json
from pybpftrace.output.values import Hist, LHist, MapDump, Stack, Stats, Tuple

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
_spec = importlib.util.spec_from_file_location("golden_scenarios", GOLDEN / "scenarios.py")
scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenarios)


def render(fn) -> bytes:
    buf = io.BytesIO()
    fn(JsonOutput(buf))
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_golden_replay(name):
    expected = (GOLDEN / "cases" / f"{name}.json").read_bytes()
    assert render(scenarios.SCENARIOS[name]) == expected


def test_messages():
    def calls(out):
        out.attached_probes(1)
        out.printf("")
        out.time("2026|")
        out.cat("line1\nline2")
        out.system("hi\nx")
        out.join("a b")
        out.lost_events(3)
        out.end_separator()
    assert render(calls).decode() == (
        '{"type": "attached_probes", "data": {"probes": 1}}\n'
        '{"type": "printf", "data": ""}\n'
        '{"type": "time", "data": "2026|"}\n'
        '{"type": "cat", "data": "line1\\nline2"}\n'
        '{"type": "syscall", "data": "hi\\nx"}\n'
        '{"type": "join", "data": "a b"}\n'
        '{"type": "lost_events", "data": {"events": 3}}\n'
        "\n\n")


def test_values():
    def calls(out):
        out.value(5)
        out.value("str")
        out.value(Tuple((1, "a", -3)))
        out.value("2026")
        out.value(b"x\n")
    assert render(calls).decode() == (
        '{"type": "value", "data": 5}\n'
        '{"type": "value", "data": "str"}\n'
        '{"type": "value", "data": [1,"a",-3]}\n'
        '{"type": "value", "data": "2026"}\n'
        '{"type": "value", "data": "x\\\\x0a"}\n')


def test_json_escape():
    assert json_escape('q" b\\ \t\r\n\x01\x1f\x7f') == 'q\\" b\\\\ \\t\\r\\n\\u0001\\u001f\x7f'
    # Deviation: 0.17 wrote every byte >= 0x80 as \uffffffXX; we write valid JSON.
    assert json_escape("é") == "\\u00e9"
    assert json_escape("€😀") == "\\u20ac\\ud83d\\ude00"
    # Bytes that are not UTF-8 come as \u00XX of the byte.
    assert json_escape(b"\xff\xc3(".decode("utf-8", "surrogateescape")) == "\\u00ff\\u00c3("


@given(st.text())
def test_json_escape_is_json(text):
    """Any text comes back from a JSON parser unchanged, escaped like json.dumps beyond ASCII."""
    assert json.loads(f'"{json_escape(text)}"') == text
    if all(ord(c) > 0x7F for c in text):
        assert json_escape(text) == json.dumps(text)[1:-1]


@given(st.binary())
def test_json_escape_of_raw_bytes_is_json(data):
    text = data.decode("utf-8", "surrogateescape")
    parsed = json.loads(f'"{json_escape(text)}"')
    # Valid UTF-8 comes back as text; each other byte as the Latin-1 character.
    assert parsed == "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c
                             for c in text)


def test_every_json_fixture_line_is_json():
    for path in sorted((GOLDEN / "cases").glob("*.json")):
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                json.loads(line)


def test_strftime_values_are_json_strings():
    # 0.17 wrote them bare: {"@t": 12:30:00} is not JSON.
    assert map_json(MapDump("@t", "value", [(None, "12:30:00")])) == (
        '{"type": "map", "data": {"@t": "12:30:00"}}\n')


def test_stack_key():
    stack = Stack(("syscall+25", "0x7ffde14edc58"))
    assert map_json(MapDump("@", "count", [(stack, 1)])) == (
        '{"type": "map", "data": {"@": {"\\n    syscall+25\\n    0x7ffde14edc58\\n": 1}}}\n')


def test_stack_value():
    stack = Stack(("syscall+25",))
    assert map_json(MapDump("@v", "ustack", [(1, stack)])) == (
        '{"type": "map", "data": {"@v": {"1": "\\n        syscall+25\\n"}}}\n')


def test_empty_maps_print_nothing():
    for kind in ("count", "hist", "stats", "avg"):
        assert map_json(MapDump("@m", kind, [])) == ""


def test_avg_is_typed_stats():
    assert map_json(MapDump("@a", "avg", [(1, Stats(2, 7))]), div=2) == (
        '{"type": "stats", "data": {"@a": {"1": 1}}}\n')


def test_hist_bucket_bounds():
    buckets = [1, 1, 1, 1] + [0] * 28 + [1, 1] + [0] * 29 + [1, 0, 1]
    assert hist_json(Hist(buckets)) == (
        '[{"max": -1, "count": 1}, {"min": 0, "max": 0, "count": 1}, '
        '{"min": 1, "max": 1, "count": 1}, {"min": 2, "max": 3, "count": 1}, '
        + "".join(f'{{"min": {1 << i}, "max": {(1 << (i + 1)) - 1}, "count": 0}}, '
                  for i in range(2, 30))
        + '{"min": 1073741824, "max": 2147483647, "count": 1}, '
        # Deviation: 0.17 computed the bounds in a C int, [2^31, 2^32) read min -2^31, max 0.
        '{"min": 2147483648, "max": 4294967295, "count": 1}, '
        + "".join(f'{{"min": {1 << i}, "max": {(1 << (i + 1)) - 1}, "count": 0}}, '
                  for i in range(32, 61))
        + '{"min": 2305843009213693952, "max": 4611686018427387903, "count": 1}, '
        '{"min": 4611686018427387904, "max": 9223372036854775807, "count": 0}, '
        '{"min": 9223372036854775808, "max": 18446744073709551615, "count": 1}]')


def test_lhist_bounds():
    h = LHist([1, 0, 2, 3], 0, 20, 10)
    assert map_json(MapDump("@l", "lhist", [(None, h)])) == (
        '{"type": "hist", "data": {"@l": [{"max": -1, "count": 1}, '
        '{"min": 0, "max": 9, "count": 0}, {"min": 10, "max": 19, "count": 2}, '
        '{"min": 20, "count": 3}]}}\n')

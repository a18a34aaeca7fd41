"""Imports point down the layers.

Two stacks meet only in the driver and the runtime: a pure compiler (lang,
semantic, codegen — it learns about the kernel through semantic.kinfo's
interface) and a kernel interface (bpf, btf, probes — no language).  Output
renders neutral values and knows neither.  Leaf modules (types, diag,
resources, probe tables, format strings) may be used by all.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "pybpftrace"
LEAVES = {"pybpftrace", "pybpftrace.types", "pybpftrace.diag", "pybpftrace.resources",
          "pybpftrace.probe_types", "pybpftrace.perf_events", "pybpftrace.format_string"}

# layer -> the layers it may import (besides itself and the leaves)
ALLOWED = {
    "lang": set(),
    "semantic": {"lang"},
    "codegen": {"lang", "semantic"},
    "bpf": {"btf"},   # bpf.features finds its fentry/iter/tp_btf probe targets in BTF
    "btf": set(),
    "probes": {"bpf", "btf", "semantic"},   # probes.kernelinfo implements semantic.kinfo
    "output": set(),
    "runtime": {"lang", "semantic", "codegen", "bpf", "btf", "probes", "output", "driver"},
    "driver": {"lang", "semantic", "codegen"},
    "cli": {"lang", "semantic", "codegen", "bpf", "btf", "probes", "output", "runtime", "driver"},
    "api": {"lang", "semantic", "codegen", "bpf", "btf", "probes", "output", "runtime", "driver"},
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pybpftrace" or len(parts) < 2 or ".".join(parts[:2]) in LEAVES:
        return None
    return parts[1]


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "pybpftrace":  # `from pybpftrace import driver`
                found |= {f"pybpftrace.{a.name}" for a in node.names if not a.name.startswith("__")}
    return {m for m in found if m.startswith("pybpftrace")}


# The package's __init__ and __main__ are its public face: they may reach the
# API and the CLI (lazily, on first use).
MODULES = sorted(p for p in PACKAGE.rglob("*.py")
                 if p.name != "__main__.py" and p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    me = ".".join(rel.parts).removesuffix(".__init__")
    mine = layer_of(me)
    if mine is None:
        bad = {m for m in imports(path) if layer_of(m) is not None}
        assert not bad, f"leaf module {me} imports {sorted(bad)}"
        return
    allowed = ALLOWED[mine] | {mine}
    bad = {m for m in imports(path) if (layer_of(m) or mine) not in allowed}
    assert not bad, f"{me} ({mine}) imports {sorted(bad)}"

"""LLVM IR -> optimised BPF object -> instruction bytes per program.

Map file descriptors are embedded with `llvm.bpf.pseudo` and every program is
one self-contained function (no globals, no calls), so the object needs no
relocation processing: each program's bytes are its ELF section.  A
relocation in a program section would mean codegen produced something the
loader cannot handle, and is reported as an internal error.
"""
from __future__ import annotations

import io
from functools import lru_cache

import llvmlite.binding as llvm
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from llvmlite import ir


class CodegenError(Exception):
    pass


@lru_cache(maxsize=1)
def _target_machine():
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    return llvm.Target.from_triple("bpfel").create_target_machine(opt=3, codemodel="small")


def new_module() -> ir.Module:
    module = ir.Module("pybpftrace")
    module.triple = "bpfel"
    module.data_layout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
    return module


def optimise(module: ir.Module) -> llvm.ModuleRef:
    tm = _target_machine()
    ref = llvm.parse_assembly(str(module))
    ref.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=2)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(ref, pb)
    return ref


def emit(module: ir.Module) -> tuple[dict[str, bytes], str]:
    """Compile; returns {function name: instruction bytes} and the optimised IR text."""
    ref = optimise(module)
    obj = _target_machine().emit_object(ref)
    elf = ELFFile(io.BytesIO(obj))
    programs = {}
    for sec in elf.iter_sections():
        if isinstance(sec, RelocationSection) and sec.name.startswith(".relprog_"):
            raise CodegenError(f"internal error: relocations in {sec.name[4:]}")
        if sec.name.startswith("prog_"):
            programs[sec.name[5:]] = sec.data()
    return programs, str(ref)

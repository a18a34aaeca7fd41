"""LLVM IR -> optimised BPF object -> instruction bytes per program.

Map file descriptors are embedded with `llvm.bpf.pseudo` and every program is
one self-contained function (no globals, no calls), so the object needs no
relocation processing: each program's bytes are its ELF section.  A
relocation in a program section would mean codegen produced something the
loader cannot handle, and is reported as an internal error.
"""
from __future__ import annotations

import struct
from functools import lru_cache

import llvmlite.binding as llvm
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
    programs = {}
    for name, data in elf_sections(obj):
        if name.startswith(".relprog_"):
            raise CodegenError(f"internal error: relocations in {name[4:]}")
        if name.startswith("prog_"):
            programs[name[5:]] = data
    return programs, str(ref)


def object_file(module: ir.Module, sections: dict[str, str]) -> bytes:
    """The optimised BPF ELF object of `module`, each function in the section
    `sections` names for it (--emit-elf; the module is left as it was)."""
    before = {f.name: f.section for f in module.functions if f.name in sections}
    try:
        for f in module.functions:
            if f.name in sections:
                f.section = sections[f.name]
        return _target_machine().emit_object(optimise(module))
    finally:
        for f in module.functions:
            if f.name in before:
                f.section = before[f.name]


_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")   # Elf64_Ehdr
_SHDR = struct.Struct("<IIQQQQIIQQ")         # Elf64_Shdr
_SHT_NOBITS = 8


def elf_sections(obj: bytes) -> list[tuple[str, bytes]]:
    """(name, contents) of each section of LLVM's little-endian ELF64 object.

    Reading the few headers by hand spares every run pyelftools' import
    (~30 ms, a sixth of a one-liner's start-up)."""
    ehdr = _EHDR.unpack_from(obj)
    shoff, shentsize, shnum, shstrndx = ehdr[6], ehdr[11], ehdr[12], ehdr[13]
    headers = [_SHDR.unpack_from(obj, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx]
    names = obj[strtab[4]:strtab[4] + strtab[5]]
    sections = []
    for sh_name, sh_type, _, _, offset, size, *_ in headers:
        name = names[sh_name:names.index(b"\0", sh_name)].decode()
        sections.append((name, b"" if sh_type == _SHT_NOBITS else obj[offset:offset + size]))
    return sections

"""emit.elf_sections reads LLVM's object as pyelftools does."""
import io

from elftools.elf.elffile import ELFFile
from llvmlite import ir

from pybpftrace.codegen import emit


def test_sections_match_pyelftools():
    module = emit.new_module()
    for name, value in (("p0", 7), ("p1", 9)):
        f = ir.Function(module, ir.FunctionType(ir.IntType(64), [ir.IntType(8).as_pointer()]), name)
        f.section = f"prog_{name}"
        ir.IRBuilder(f.append_basic_block()).ret(ir.Constant(ir.IntType(64), value))
    obj = emit._target_machine().emit_object(emit.optimise(module))
    expected = [(s.name, b"" if s["sh_type"] == "SHT_NOBITS" else s.data())
                for s in ELFFile(io.BytesIO(obj)).iter_sections()]
    assert emit.elf_sections(obj) == expected
    programs, _ = emit.emit(module)
    assert set(programs) == {"p0", "p1"}
    assert all(len(code) % 8 == 0 and code for code in programs.values())

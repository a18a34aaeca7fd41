"""semantic.usdt: bcc's x86_64 USDT argument specs, parsed into UsdtArg."""
import pytest

from pybpftrace.semantic.usdt import UsdtArg, parse_arg, parse_args


@pytest.mark.parametrize("spec, expected", [
    ("-4@%eax", UsdtArg(size=4, signed=True, base="ax")),
    ("-8@%rdx", UsdtArg(size=8, signed=True, base="dx")),
    ("2@%r8w", UsdtArg(size=2, signed=False, base="r8")),
    ("1@%sil", UsdtArg(size=1, signed=False, base="si")),
    ("-1@%al", UsdtArg(size=1, signed=True, base="ax")),
    ("4@$5", UsdtArg(size=4, signed=False, constant=5)),
    ("-4@$-16", UsdtArg(size=4, signed=True, constant=-16)),
    ("8@$0x10", UsdtArg(size=8, signed=False, constant=16)),
    ("8@-16(%rbp)", UsdtArg(size=8, signed=False, base="bp", deref=True, offset=-16)),
    ("-4@0x10(%rsp)", UsdtArg(size=4, signed=True, base="sp", deref=True, offset=16)),
    ("8@(%rax)", UsdtArg(size=8, signed=False, base="ax", deref=True)),
    ("8@(%rax,%rdx,8)", UsdtArg(size=8, signed=False, base="ax", deref=True, index="dx",
                                scale=8)),
    ("-2@4(%r12,%rcx)", UsdtArg(size=2, signed=True, base="r12", deref=True, offset=4,
                                index="cx")),
    ("-8@counter(%rip)", UsdtArg(size=8, signed=True, base="ip", deref=True, ident="counter")),
    ("8@buf+8(%rip)", UsdtArg(size=8, signed=False, base="ip", deref=True, offset=8,
                              ident="buf")),
    ("%rdi", UsdtArg(size=8, signed=True, base="di")),  # no size: a signed 64-bit value
])
def test_parse_arg(spec, expected):
    assert parse_arg(spec) == expected


@pytest.mark.parametrize("spec", ["3@%eax", "4@%xmm0", "4@", "x@%eax", "4@(%rax", "4@$"])
def test_parse_arg_rejects(spec):
    with pytest.raises(ValueError):
        parse_arg(spec)


def test_parse_args_splits_on_blanks():
    assert parse_args("-4@%eax 8@-16(%rbp)  4@$5") == (
        UsdtArg(size=4, signed=True, base="ax"),
        UsdtArg(size=8, signed=False, base="bp", deref=True, offset=-16),
        UsdtArg(size=4, signed=False, constant=5))
    assert parse_args("") == ()

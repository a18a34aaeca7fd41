"""The KernelInfo the front-end unit tests start from: a kernel with no
tracepoints, that lacks nothing, with the BTF it is given (or none).  Tests
that need more subclass it and add only what they are about.  Also the two
calls the front-end tests make on such kernels."""
import pytest

from pybpftrace import driver
from pybpftrace.diag import DiagnosticError


class NoKernel:
    def __init__(self, btf=None):
        self.btf = btf

    def tracepoints(self, category, name):
        return []

    def tracepoint_fields(self, category, name):
        return []

    def kernel_lacks(self, provider):
        return None

    def kernel_btf(self):
        return self.btf


def analyse(kernel, src: str) -> driver.Analysed:
    """The front end over `src` as `-e` would run it, on `kernel`."""
    return driver.analyse(src, "stdin", kernel, driver.Options())


def errors(kernel, src: str) -> str:
    """The rendered diagnostics of a program the front end must refuse."""
    with pytest.raises(DiagnosticError) as exc:
        analyse(kernel, src)
    return exc.value.diags.render()

"""The KernelInfo the front-end unit tests start from: a kernel with no
tracepoints, that lacks nothing, with the BTF it is given (or none).  Tests
that need more subclass it and add only what they are about."""


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

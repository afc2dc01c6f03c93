"""The one compiled part of nncli: nncli/_kernels.c (float32 tanh, sigmoid and per-id sums
for `nncli train`). Everything else is in pyproject.toml.

The extension is optional: where it does not build (no C compiler), the install goes on and
nncli computes the same formulas with numpy (`nncli --version` says which it uses).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Vectorising the kernels' loops needs comparisons that may not trap (no floating-point
# exceptions are read) and libm calls that need not set errno; results are unchanged.
UNIX_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno"]


class BuildKernels(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                ext.extra_compile_args = UNIX_FLAGS
        super().build_extensions()


setup(
    ext_modules=[Extension("nncli._kernels", ["nncli/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildKernels},
)

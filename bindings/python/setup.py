"""Bundles libfactorconv.so into the wheel so that `pip install ./bindings/python` just works.

The library comes from factorconv/libfactorconv.so if present, else $FACTORCONV_LIB, else the
repository's .build/release (run `make lib` first). Without any of them the package is pure
Python and finds the library at import time the same way (see factorconv/_lib.py).
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = "libfactorconv.so"


def built_library():
    """The path of the library to bundle, or None."""
    for path in (os.path.join(HERE, "factorconv", LIB), os.environ.get("FACTORCONV_LIB", ""),
                 os.path.join(HERE, "..", "..", ".build", "release", LIB)):
        if path and os.path.isfile(path):
            return path
    return None


class BuildPyWithLibrary(build_py):
    """build_py that also copies the shared library into the built package."""

    def run(self):
        super().run()
        source = built_library()
        if source is not None:
            target = os.path.join(self.build_lib, "factorconv", LIB)
            if not os.path.exists(target):
                shutil.copy2(source, target)


class BinaryDistribution(Distribution):
    """Marks the wheel platform-specific when it carries the native library."""

    def has_ext_modules(self):
        return built_library() is not None


class PlatformWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>: ctypes needs no CPython ABI, only the .so's platform."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
      distclass=BinaryDistribution)

"""FactorConv's PEP 517 build backend (pyproject.toml: build-backend = "factorconv_build").

`pip install .`, `pip install git+URL` and `pip wheel .` call it from the repository root. A
wheel is the Python package of bindings/python/factorconv plus libfactorconv.so, built by SwiftPM
through `make lib` (a machine with Swift 6.1 or newer and make; the first build takes minutes, a
checkout where `make lib` already ran is reused) and stripped. Its tag is py3-none (ctypes needs
no CPython ABI) and manylinux_X_Y for the newest glibc the library needs. The library is
self-contained but for libc, libm, libstdc++ and libgcc_s, and finds OpenBLAS with LAPACKE at
run time in scipy-openblas32, which the wheel declares as a dependency (see
Sources/FactorConvBLAS/blas_loader.c for the search order).

Options (environment variables): MAKE, the make program; SWIFT, the swift driver `make lib`
runs; SOURCE_DATE_EPOCH, the timestamp of the archives' entries.
"""

import os
import tempfile

from . import archive, library, platform_tag, project

PACKAGE_SOURCE = os.path.join("bindings", "python", "factorconv")

#: What an sdist carries: everything `make lib` and this backend read. SwiftPM checks at load
#: time that every target the manifest declares has its directory, so the Swift test and
#: benchmark targets' sources come along too.
SDIST_CONTENT = ["pyproject.toml", "Package.swift", "Makefile", "mk", "README.md", "include", "Sources",
                 "packaging/python", "bindings/python/README.md", PACKAGE_SOURCE,
                 "Tests/Support", "Tests/FactorConvNumericsTests", "Tests/FactorConvTests",
                 "Tests/FactorConvCTests", "Benchmarks/ConvBench", "Benchmarks/DecompositionBench"]


def _root():
    """The source tree: PEP 517 runs every hook with the working directory at its root."""
    return os.getcwd()


def get_requires_for_build_wheel(config_settings=None):
    """No Python packages beyond pyproject.toml's build requirements."""
    return []


def get_requires_for_build_sdist(config_settings=None):
    """No Python packages beyond pyproject.toml's build requirements."""
    return []


def _package_files(root):
    """(archive path, bytes) of the Python package's modules (never a stray library copy)."""
    source = os.path.join(root, PACKAGE_SOURCE)
    for directory, subdirectories, names in os.walk(source):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py") or name == "py.typed":
                full = os.path.join(directory, name)
                with open(full, "rb") as file:
                    yield os.path.relpath(full, os.path.dirname(source)).replace(os.sep, "/"), file.read()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """Builds the library, then writes NAME-VERSION-py3-none-manylinux_X_Y_ARCH.whl."""
    root = _root()
    built = library.build(root)
    name, version = project.distribution_name(root), project.version(root)
    tag = "py3-none-" + platform_tag.wheel_platform(built)
    dist_info = "%s-%s.dist-info" % (name, version)
    with tempfile.TemporaryDirectory() as scratch:
        stripped = os.path.join(scratch, "libfactorconv.so")
        library.stripped_copy(built, stripped)
        with open(stripped, "rb") as file:
            native = file.read()
    entries = [(path, data, False) for path, data in _package_files(root)]
    entries.append(("factorconv/libfactorconv.so", native, True))
    wheel_info = "Wheel-Version: 1.0\nGenerator: factorconv_build\nRoot-Is-Purelib: false\nTag: %s\n" % tag
    entries += [(dist_info + "/METADATA", project.core_metadata(root).encode("utf-8"), False),
                (dist_info + "/WHEEL", wheel_info.encode("ascii"), False),
                (dist_info + "/top_level.txt", b"factorconv\n", False)]
    filename = "%s-%s-%s.whl" % (name, version, tag)
    archive.write_wheel(os.path.join(wheel_directory, filename), entries, dist_info)
    return filename


def _sdist_files(root):
    """The files of SDIST_CONTENT, relative to ``root``, sorted; no caches or built libraries."""
    files = []
    for entry in SDIST_CONTENT:
        full = os.path.join(root, entry)
        if os.path.isfile(full):
            files.append(entry)
            continue
        for directory, subdirectories, names in os.walk(full):
            subdirectories[:] = [d for d in subdirectories if d != "__pycache__" and not d.startswith(".")]
            files += [os.path.relpath(os.path.join(directory, n), root) for n in names
                      if not n.endswith((".pyc", ".so"))]
    return sorted(f.replace(os.sep, "/") for f in files)


def build_sdist(sdist_directory, config_settings=None):
    """Writes NAME-VERSION.tar.gz: the sources a wheel is built from, and PKG-INFO."""
    root = _root()
    name, version = project.distribution_name(root), project.version(root)
    top = "%s-%s" % (name, version)
    archive.write_sdist(os.path.join(sdist_directory, top + ".tar.gz"), root, _sdist_files(root),
                        project.core_metadata(root), top)
    return top + ".tar.gz"

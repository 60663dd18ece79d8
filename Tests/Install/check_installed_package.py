"""Run by an installed environment's python, from a directory outside the repository and with
no FactorConv environment variables (Tests/Install/test_python_install.sh): the factorconv
package imports from that environment's site-packages with the library it carries, works, and
runs on scipy-openblas32's OpenBLAS from the same environment, not on the system's.

Usage: python check_installed_package.py REPOSITORY_ROOT
"""

import os
import sys
import sysconfig

import numpy as np

repository = os.path.realpath(sys.argv[1])
for variable in ("FACTORCONV_LIB", "FACTORCONV_BLAS", "PYTHONPATH"):
    assert variable not in os.environ, "%s is set" % variable
assert not os.path.realpath(os.getcwd()).startswith(repository + os.sep), "run from inside the repository"

import factorconv as fc  # noqa: E402 (after the checks above)

site_packages = os.path.realpath(sysconfig.get_paths()["purelib"])
package = os.path.realpath(os.path.dirname(fc.__file__))
assert package == os.path.join(site_packages, "factorconv"), package
library = os.path.join(package, "libfactorconv.so")
assert os.path.isfile(library), "the package carries no library"
assert fc.library_version() == fc.__version__, (fc.library_version(), fc.__version__)

# Compress a kernel (a LAPACK-backed Tucker decomposition) and run it against the dense conv.
rng = np.random.default_rng(0)
weight = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
conv = fc.FactorizedConv.from_conv(weight, padding=1, factorization="tucker", rank=[8, 4, 3, 3])
y, dense = conv(x), fc.conv(x, weight, padding=1)
assert y.shape == (2, 8, 9, 9)
assert np.linalg.norm(y - dense) / np.linalg.norm(dense) < 1e-4

with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if "/" in line}
scipy_blas = os.path.join(site_packages, "scipy_openblas32", "lib", "libscipy_openblas.so")
assert os.path.realpath(library) in {os.path.realpath(p) for p in mapped}, "the bundled library is not the one loaded"
assert scipy_blas in mapped, "scipy-openblas32's library is not loaded: %s" % sorted(p for p in mapped if "blas" in p)
system = sorted(p for p in mapped if os.path.basename(p).startswith(("libopenblas", "liblapacke")))
assert not system, "the system's OpenBLAS is loaded too: %s" % system
print("installed package ok: %s, FactorConv %s, BLAS %s" % (package, fc.__version__, scipy_blas))

"""FactorConv: factorized N-D convolutions (CP, Tucker, tensor-train) — numpy in, numpy out.

A ctypes binding of the C library ``libfactorconv.so`` (see include/factorconv.h). The library
is found through ``$FACTORCONV_LIB``, a copy bundled in this package, or a source checkout's
``.build/release``; importing fails with ImportError if none loads or its ABI version differs.

Public API:
    FactorizedConv(in_channels, out_channels, kernel_size, ...)  a factorized conv layer
        (tltorch.FactorizedConv: CP / Tucker / TT / dense kernels, layer grids, from_conv,
        state_dict interop); SubFactorizedConv is what conv.get_conv(indices) returns
    conv(x, weight, bias=None, stride=1, padding=0, dilation=1)   dense N-D convolution
    set_num_threads(n), get_num_threads()                         worker threads per call
    set_memory_limit(bytes), get_memory_limit()                   allocation bound per call
    library_version(), abi_version(), __version__                 versions
    FactorConvError and its subclasses                            errors
"""

import operator

from . import _lib
from ._errors import (
    FactorConvError, InvalidArgumentError, ShapeMismatchError, LayerIndexError,
    UnsupportedError, OutOfMemoryError, FormatError, FactorConvIOError, IOError,
    CancelledError, BufferTooSmallError, NumericalError, InternalError,
)
from .functional import conv
from .layer import FactorizedConv, SubFactorizedConv

#: The package version: the loaded library's, which the wheel carries (both are
#: FCONV_VERSION_STRING of include/factorconv.h).
__version__ = _lib.lib.fconv_version_string().decode("ascii")

#: The C ABI version these bindings require (FCONV_ABI_VERSION of their header).
ABI_VERSION = _lib.EXPECTED_ABI_VERSION

# fc.IOError (API.md's name) is deliberately not in __all__: a star-import would shadow the
# builtin IOError (= OSError) in the importing module.
__all__ = [
    "FactorizedConv", "SubFactorizedConv", "conv", "set_num_threads", "get_num_threads",
    "set_memory_limit", "get_memory_limit", "library_version", "abi_version",
    "ABI_VERSION", "__version__",
    "FactorConvError", "InvalidArgumentError", "ShapeMismatchError", "LayerIndexError",
    "UnsupportedError", "OutOfMemoryError", "FormatError", "FactorConvIOError",
    "CancelledError", "BufferTooSmallError", "NumericalError", "InternalError",
]


def library_version():
    """The version string of the loaded libfactorconv.so, e.g. ``"0.1.0"``."""
    return _lib.lib.fconv_version_string().decode("ascii")


def abi_version():
    """The ABI version reported by the loaded library (equal to ``ABI_VERSION`` once imported)."""
    return int(_lib.lib.fconv_abi_version())


def set_num_threads(n):
    """Sets how many worker threads one FactorConv call may use (process-wide).

    ``n`` is 0 to 1024; 0 restores the default ($FACTORCONV_NUM_THREADS, else the core count).
    Call it while no other FactorConv call is running. Raises InvalidArgumentError otherwise.
    """
    n = operator.index(n)
    if not -2**31 <= n < 2**31:
        # Outside int32 ctypes would wrap silently; report it as the library would.
        raise InvalidArgumentError("n_threads must be 0 (default) to 1024, got %d" % n)
    _lib.check(_lib.lib.fconv_set_num_threads(n))


def get_num_threads():
    """The number of worker threads one FactorConv call may use (always >= 1)."""
    return int(_lib.lib.fconv_get_num_threads())


def set_memory_limit(n_bytes):
    """Sets the process-wide bound on what one FactorConv call may allocate, in bytes.

    0 restores the default ($FACTORCONV_MAX_BYTES, else 3/4 of physical memory). Requests
    beyond it fail with OutOfMemoryError before allocating. Call it while no other FactorConv
    call is running.
    """
    n_bytes = operator.index(n_bytes)
    if not 0 <= n_bytes < 2**64:
        raise InvalidArgumentError("bytes must be 0 (default) or a positive byte count below "
                                   "2^64, got %d" % n_bytes)
    _lib.check(_lib.lib.fconv_set_memory_limit(n_bytes))


def get_memory_limit():
    """The current per-call allocation bound in bytes (always > 0)."""
    return int(_lib.lib.fconv_get_memory_limit())

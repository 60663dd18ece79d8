"""FactorConv: factorized N-D convolutions (CP, Tucker, tensor-train) — numpy in, numpy out.

A ctypes binding of the C library ``libfactorconv.so`` (see include/factorconv.h). The library
is found through ``$FACTORCONV_LIB``, a copy bundled in this package, or a source checkout's
``.build/release``; importing fails with ImportError if none loads or its ABI version differs. torch is never
imported here; ``factorconv.torch`` (imported on its own) is the ``torch.nn.Module`` adapter.

Public API:
    FactorizedConv(in_channels, out_channels, kernel_size, ...)  a factorized conv layer with
        tltorch.FactorizedConv's API (CP / Tucker / TT / dense kernels, layer grids, from_conv,
        from_factorization, state_dict interop); SubFactorizedConv is what conv[indices] returns
    CPTensor, TuckerTensor, TTTensor, DenseTensor                 factorized tensors (numpy):
        what conv.weight returns and from_factorization takes
    IncompatibleKeys                                              load_state_dict's result
    save_layers(layers, path), layers_to_bytes(layers),           model bundles: many named
        load_layers(path_or_bytes) -> LayerMapping                layers in one .safetensors file
    conv(x, weight, bias=None, stride=1, padding=0, dilation=1)   dense N-D convolution
    compress_model(weights, output, ...)                          every conv of a model into a
        bundle, with a report (``python -m factorconv compress-model``)
    set_num_threads(n), get_num_threads()                         worker threads per call
    set_memory_limit(bytes), get_memory_limit()                   allocation bound per call
    interrupt()                                                   stop the calls in progress
    release_memory()                                              free the kept scratch memory
    set_output_check(enabled), get_output_check()                 refuse overflowed outputs
    library_version(), abi_version(), __version__                 versions
    FactorConvError and its subclasses                            errors
"""

import operator

from . import _lib
from ._errors import (
    FactorConvError, InvalidArgumentError, ShapeMismatchError, LayerIndexError,
    UnsupportedError, OutOfMemoryError, FormatError, FactorConvIOError, IOError,
    CancelledError, BufferTooSmallError, NumericalError, InternalError, StateDictError,
)
from .bundle import LayerMapping, layers_to_bytes, load_layers, save_layers
from .functional import conv
from .compress import compress_model, CompressionInterrupted
from .layer import FactorizedConv, SubFactorizedConv, IncompatibleKeys
from .tensors import FactorizedTensor, CPTensor, TuckerTensor, TTTensor, DenseTensor

#: The package version: the loaded library's, which the wheel carries (both are
#: FCONV_VERSION_STRING of include/factorconv.h).
__version__ = _lib.lib.fconv_version_string().decode("ascii")

#: The C ABI version these bindings require (FCONV_ABI_VERSION of their header).
ABI_VERSION = _lib.EXPECTED_ABI_VERSION

# fc.IOError (the documented name) is deliberately not in __all__: a star-import would shadow the
# builtin IOError (= OSError) in the importing module.
__all__ = [
    "FactorizedConv", "SubFactorizedConv", "IncompatibleKeys", "FactorizedTensor", "CPTensor",
    "TuckerTensor", "TTTensor", "DenseTensor", "conv", "save_layers", "layers_to_bytes",
    "load_layers", "LayerMapping", "set_num_threads", "get_num_threads",
    "set_memory_limit", "get_memory_limit", "release_memory", "set_output_check",
    "get_output_check", "interrupt", "library_version", "abi_version", "compress_model",
    "CompressionInterrupted",
    "ABI_VERSION", "__version__",
    "FactorConvError", "InvalidArgumentError", "ShapeMismatchError", "LayerIndexError",
    "UnsupportedError", "OutOfMemoryError", "FormatError", "FactorConvIOError",
    "CancelledError", "BufferTooSmallError", "NumericalError", "InternalError", "StateDictError",
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


def interrupt():
    """Interrupts every FactorConv call in progress in this process, on any thread
    (fconv_interrupt): decompositions and forwards stop at their next check point and raise
    CancelledError; calls started afterwards are not affected. Ctrl-C does this by itself for
    the call the main thread is waiting for (which then raises KeyboardInterrupt instead)."""
    _lib.lib.fconv_interrupt()


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


def release_memory():
    """Returns to the system the memory FactorConv keeps between calls for reuse.

    That is the pool of scratch buffers forwards borrow (it keeps up to a quarter of the memory
    limit, and frees buffers left unused for a few seconds only when a later call borrows or
    returns one) and the transformed kernels ``conv`` keeps for its last few weights. What a
    layer owns stays until the layer is closed. Safe to call at any time.
    """
    _lib.lib.fconv_release_memory()


def set_output_check(enabled):
    """Turns the check of forward outputs on (the default) or off, process-wide.

    While on, a layer's forward and ``conv`` raise NumericalError when their output holds NaN or
    Inf: because an operand does (the message names it) or because finite values overflowed
    float32's range (about 3.4e38; "the output overflowed to inf/NaN"). While off, such outputs
    are returned as they are. NaN/Inf in a layer's input is refused either way.
    """
    if not isinstance(enabled, (bool, int)) or isinstance(enabled, int) and enabled not in (0, 1):
        raise InvalidArgumentError("enabled must be True or False, got %r" % (enabled,))
    _lib.check(_lib.lib.fconv_set_output_check(int(enabled)))


def get_output_check():
    """True while forward outputs are checked for NaN/Inf (see ``set_output_check``)."""
    return bool(_lib.lib.fconv_get_output_check())

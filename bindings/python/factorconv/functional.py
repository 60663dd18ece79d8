"""Functional dense N-D convolution (``factorconv.conv``) over fconv_dense_conv_forward."""

import ctypes
import math
import operator

import numpy as np

from . import _lib
from ._convert import as_float32  # noqa: F401 - also imported from here by callers
from ._errors import InvalidArgumentError, ShapeMismatchError

__all__ = ["conv"]

_INT64 = np.iinfo(np.int64)

def _geometry(value, name, n_spatial):
    """One int64 per spatial dimension from an int or a sequence of ints (validated by C later)."""
    try:
        if np.ndim(value) == 0:
            values = [operator.index(value)] * n_spatial
        else:
            values = [operator.index(v) for v in value]
    except TypeError:
        raise InvalidArgumentError("%s must be an int or a sequence of ints, got %r"
                                   % (name, value)) from None
    if len(values) != n_spatial:
        raise InvalidArgumentError("%s has %d entries but the input has %d spatial dimensions"
                                   % (name, len(values), n_spatial))
    if any(not _INT64.min <= v <= _INT64.max for v in values):
        raise InvalidArgumentError("%s entries must fit in int64, got %r" % (name, values))
    return (ctypes.c_int64 * n_spatial)(*values)


def _int64_array(values):
    return (ctypes.c_int64 * len(values))(*values)


def conv(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Dense N-D convolution with PyTorch semantics (``torch.nn.functional.convNd``, any N >= 1).

    Cross-correlation with symmetric zero padding; each output size is
    ``floor((S + 2p - d(K - 1) - 1) / s) + 1``.

    Args:
        x: input, shape ``(batch, in_channels, S_1, ..., S_N)``.
        weight: kernel, shape ``(out_channels, in_channels, K_1, ..., K_N)``.
        bias: ``out_channels`` values, or None.
        stride, padding, dilation: an int for every spatial dimension or a sequence of N ints.

    Arrays of any real dtype and layout are accepted and converted to float32 C-contiguous
    (without copying when they already are).

    Returns:
        A new float32 C-contiguous array of shape ``(batch, out_channels, S'_1, ..., S'_N)``.

    Ctrl-C stops a large convolution within a fraction of a second (KeyboardInterrupt).

    Raises:
        ShapeMismatchError: shapes that do not agree (ndim, channels, kernel larger than the
            padded input, bias length).
        InvalidArgumentError: non-positive sizes, stride or dilation < 1, padding < 0.
        OutOfMemoryError: the library could not allocate its workspace.
    """
    x = as_float32(x, "x")
    weight = as_float32(weight, "weight")
    # ndim < 3 is left to the library (it owns that error); geometry then has no entries.
    n_spatial = max(x.ndim - 2, 0)
    geometry = [_geometry(v, n, n_spatial) for v, n in
                ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))]
    bias_ptr = None
    if bias is not None:
        bias = as_float32(bias, "bias")
        # The C function reads out_channels values from bias without a length: check it here.
        if weight.ndim < 1 or bias.shape != (weight.shape[0],):
            raise ShapeMismatchError("bias must have shape (out_channels,) = (%s,), got %s"
                                     % (weight.shape[0] if weight.ndim else "?", bias.shape))
        bias_ptr = _lib.float_argument(bias)

    x_shape, w_shape = _int64_array(x.shape), _int64_array(weight.shape)
    out_shape = (ctypes.c_int64 * max(x.ndim, 1))()
    _lib.check(_lib.lib.fconv_dense_conv_output_shape(
        x_shape, x.ndim, w_shape, weight.ndim, *geometry, n_spatial, out_shape, len(out_shape)))

    output = np.empty(tuple(out_shape[:x.ndim]), dtype=np.float32)
    args = (_lib.float_argument(x), x_shape, x.ndim, _lib.float_argument(weight), w_shape,
            weight.ndim, bias_ptr, *geometry, n_spatial, _lib.float_argument(output), output.size)
    # The shape query succeeded, so weight is (out_channels, in_channels, *kernel).
    if output.size * math.prod(weight.shape[1:]) >= _lib.INTERRUPTIBLE_MACS:
        _lib.check(*_lib.call_interruptibly(_lib.lib.fconv_dense_conv_forward, *args))
    else:
        _lib.check(_lib.lib.fconv_dense_conv_forward(*args))
    return output

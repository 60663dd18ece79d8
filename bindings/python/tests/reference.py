"""Independent numpy references for N-D convolution (PyTorch semantics), computed in float64.

``conv_reference`` shifts and accumulates: for every kernel tap it takes the strided window of
the zero-padded input that the tap sees and contracts the channels with einsum.
``conv_scalar_loops`` is the textbook seven-loop definition, only for tiny cases, used to check
``conv_reference`` itself.
"""

import itertools

import numpy as np


def output_size(size, kernel, stride, padding, dilation):
    """floor((S + 2p - d(K - 1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _per_dim(value, n):
    return [value] * n if np.ndim(value) == 0 else list(value)


def conv_reference(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Dense N-D cross-correlation with zero padding, in float64."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n = x.ndim - 2
    stride, padding, dilation = (_per_dim(v, n) for v in (stride, padding, dilation))
    kernel = weight.shape[2:]
    out_sizes = [output_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i])
                 for i in range(n)]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    y = np.zeros((x.shape[0], weight.shape[0], *out_sizes))
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                       for t, d, s, o in zip(tap, dilation, stride, out_sizes))
        y += np.einsum("bi...,oi->bo...", xp[(slice(None), slice(None)) + window],
                       weight[(slice(None), slice(None)) + tap])
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape((1, -1) + (1,) * n)
    return y


def conv_scalar_loops(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The definition, one multiply-add at a time (bounds-checked instead of padded)."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n = x.ndim - 2
    stride, padding, dilation = (_per_dim(v, n) for v in (stride, padding, dilation))
    kernel, sizes = weight.shape[2:], x.shape[2:]
    out_sizes = [output_size(sizes[i], kernel[i], stride[i], padding[i], dilation[i])
                 for i in range(n)]
    y = np.zeros((x.shape[0], weight.shape[0], *out_sizes))
    for b, o, i in itertools.product(range(x.shape[0]), range(weight.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(s) for s in out_sizes)):
            for tap in itertools.product(*(range(k) for k in kernel)):
                src = [p * s - pad + t * d
                       for p, s, pad, t, d in zip(pos, stride, padding, tap, dilation)]
                if all(0 <= c < size for c, size in zip(src, sizes)):
                    y[(b, o) + pos] += x[(b, i) + tuple(src)] * weight[(o, i) + tap]
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape((1, -1) + (1,) * n)
    return y


def relative_error(actual, expected):
    """max |actual - expected| / max |expected| (the golden-set metric)."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.max(np.abs(expected))
    return float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected)) / max(scale, 1e-30))

"""Conversions of Python values to what the C ABI takes: checked ints, int64 arrays, float32
C-contiguous arrays, layer indices, file paths. Tensors of other libraries (torch) are read by
duck typing (``.detach().cpu()``): nothing here imports them."""

import ctypes
import os
import operator

import numpy as np

from ._errors import InvalidArgumentError, ShapeMismatchError

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def to_numpy(value):
    """An ndarray view of ``value``: numpy data as is, torch-like tensors through
    ``.detach().cpu()`` (duck typing: torch is never imported here)."""
    if hasattr(value, "detach"):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
    return np.asarray(value)


def as_float32(array, name):
    """``array`` as a float32 C-contiguous ndarray; no copy when it already is one.

    Any real numeric dtype (bool, int, float) and any memory layout is accepted; complex and
    non-numeric data raise InvalidArgumentError naming ``name``.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InvalidArgumentError("%s must hold real numbers, got dtype %s" % (name, array.dtype))
    return np.ascontiguousarray(array, dtype=np.float32)


def tensor_float32(value, name):
    """``value`` (array-like or torch-like tensor) as a float32 C-contiguous ndarray."""
    return as_float32(to_numpy(value), name)


def is_bool(value):
    """True for Python and numpy booleans (which are ints to ``operator.index``)."""
    return isinstance(value, (bool, np.bool_))


def to_int(value, name):
    """A Python int from an int-like (not bool, not float), checked to fit in int64."""
    if is_bool(value):
        raise InvalidArgumentError("%s must be an int, got the bool %r" % (name, value))
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidArgumentError("%s must be an int, got %r (%s)"
                                   % (name, value, type(value).__name__)) from None
    if not INT64_MIN <= v <= INT64_MAX:
        raise InvalidArgumentError("%s = %d does not fit in int64" % (name, v))
    return v


def to_ints(values, name):
    """A list of ints from a (possibly nested) sequence of int-likes; flattened in C order."""
    if isinstance(values, (str, bytes)):
        raise InvalidArgumentError("%s must be an int or a sequence of ints, got %r" % (name, values))
    array = np.asarray(values, dtype=object).ravel()
    return [to_int(v, "%s[%d]" % (name, i)) for i, v in enumerate(array)]


def int64_array(values):
    """A ctypes int64 array holding ``values`` (at least one element, so it is never NULL)."""
    return (ctypes.c_int64 * max(len(values), 1))(*values)


def is_sequence(value):
    """True for the sequence types accepted where an int or one int per item is allowed."""
    return isinstance(value, (tuple, list, np.ndarray))


def geometry_list(value, name, order):
    """One int per spatial dimension from an int or a sequence of ``order`` ints."""
    if is_sequence(value):
        values = to_ints(value, name)
        if len(values) != order:
            raise ShapeMismatchError("%s has %d entries but the convolution has order %d"
                                     % (name, len(values), order))
        return values
    return [to_int(value, name)] * order


def normalize_indices(indices, layers_shape):
    """``indices`` of a layer grid with negative entries counted from the end (as numpy does);
    anything else is returned as is, for the library to judge. A tuple of one int on a 1-D grid
    stays a tuple."""
    if not layers_shape:
        return indices
    if isinstance(indices, (tuple, list)):
        if len(indices) != len(layers_shape):
            return indices
        return tuple(_wrap(i, n) for i, n in zip(indices, layers_shape))
    if len(layers_shape) == 1:
        return _wrap(indices, layers_shape[0])
    return indices


def _wrap(index, size):
    try:
        i = operator.index(index)
    except TypeError:
        return index
    if is_bool(index):
        return index
    return i + size if -size <= i < 0 else i


def layer_argument(indices, name="indices"):
    """``indices`` (None, an int or a tuple of ints) as (int64 array or None, ndim)."""
    if indices is None:
        return None, 0
    if type(indices) is int and 0 <= indices <= INT64_MAX:     # the common case, kept cheap
        return (ctypes.c_int64 * 1)(indices), 1
    if isinstance(indices, (tuple, list, np.ndarray)):
        values = to_ints(indices, name)
        return (int64_array(values) if values else None), len(values)
    return int64_array([to_int(indices, name)]), 1


def path_bytes(path):
    """A file system path (str, bytes or os.PathLike) as bytes for C."""
    try:
        path = os.fsencode(path)
    except TypeError:
        raise InvalidArgumentError("path must be a str, bytes or os.PathLike, got %r"
                                   % (path,)) from None
    if b"\0" in path:
        raise InvalidArgumentError("path must not contain NUL bytes")
    return path

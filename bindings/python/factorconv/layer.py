"""``factorconv.FactorizedConv``: tltorch's FactorizedConv over the C ABI (numpy in, numpy out).

Every operation is one or a few calls of include/factorconv.h on an ``fconv_conv`` handle; the
library validates the arguments and its messages name the argument at fault. This module only
converts Python values (ints, floats, strings, sequences, numpy arrays, torch-like tensors) to
the C representation and back, and keeps handles and callbacks alive for as long as needed.

Threads: any method may run on one layer from several threads at once (ctypes releases the GIL
during the C call), and no Python lock is taken: the library makes each change atomic with
respect to forwards (a forward runs wholly before or after it), keeps a layer alive while a
call uses it, and turns a handle closed by another thread into an error. A forward allocates its
output from the shape it last saw for that input and asks the library to check it
(``fconv_conv_forward_shaped``), so a concurrent ``set`` that changes the output shape costs a
new shape query, never a wrongly shaped result.

Ctrl-C: on the main thread, decompositions and large forwards run on a helper thread while the
main thread waits interruptibly (``_lib.call_interruptibly``), so that KeyboardInterrupt stops
them through fconv_interrupt() within a fraction of a second.
"""

import ctypes
import math
import numbers
import operator
import os
import sys

import numpy as np

from . import _lib
from ._errors import (ERR_BUFFER_TOO_SMALL, ERR_SHAPE_MISMATCH, CancelledError,
                      InvalidArgumentError, ShapeMismatchError, UnsupportedError)
from .functional import as_float32

__all__ = ["FactorizedConv", "SubFactorizedConv"]

_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1

# Pinned enumerations of include/factorconv.h.
_FACTORIZATIONS = {0: "cp", 1: "tucker", 2: "tt", 3: "dense"}
_IMPLEMENTATIONS = {"factorized": 0, "reconstructed": 1, "mobilenet": 2, "auto": 3}
_IMPLEMENTATION_NAMES = {v: k for k, v in _IMPLEMENTATIONS.items()}
_INFO = {
    "in_channels": 0, "out_channels": 1, "order": 2, "kernel_size": 3, "rank": 4, "n_layers": 5,
    "factorization": 6, "implementation": 7, "parameter_count": 8, "has_bias": 9, "stride": 10,
    "padding": 11, "dilation": 12, "bias_parameter": 13, "shape": 14, "layer": 15,
}

# Keys of decomposition_kwargs and the option each becomes (random_state becomes the seed).
_DECOMPOSITION_KEYS = ("n_iter_max", "tol", "l2_reg", "init", "random_state", "cp_regularization",
                       "n_restarts")

# Forwards retried when a concurrent change of the layer moves the output shape between the
# shape query and the forward (each retry queries the shape again).
_SHAPE_ATTEMPTS = 64

_lib_ = _lib.lib
_c_int64_p = ctypes.POINTER(ctypes.c_int64)
_c_float_p = ctypes.POINTER(ctypes.c_float)

# Forwards of at least this many dense-equivalent multiply-adds (output elements x in_channels x
# kernel volume) run through _lib.call_interruptibly on the main thread; smaller ones are called
# directly. Starting the helper thread is then a small fraction of the call, while no forward
# below it runs long enough for a delayed KeyboardInterrupt to matter. (Factorized paths do
# fewer multiply-adds than the dense count, so for them the bound is on the high side.)
_INTERRUPTIBLE_FORWARD_MACS = 4 * 10**9


# ------------------------------------------------------------------------------------------
# Small conversions
# ------------------------------------------------------------------------------------------

def _to_numpy(value):
    """An ndarray view of ``value``: numpy data as is, torch-like tensors through
    ``.detach().cpu()`` (duck typing: torch is never imported here)."""
    if hasattr(value, "detach"):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
    return np.asarray(value)


def _as_float32(value, name):
    """``value`` (array-like or torch-like tensor) as a float32 C-contiguous ndarray."""
    return as_float32(_to_numpy(value), name)


def _int(value, name):
    """A Python int from an int-like (not bool, not float), checked to fit in int64."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError("%s must be an int, got the bool %r" % (name, value))
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidArgumentError("%s must be an int, got %r (%s)"
                                   % (name, value, type(value).__name__)) from None
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise InvalidArgumentError("%s = %d does not fit in int64" % (name, v))
    return v


def _ints(values, name):
    """A list of ints from a (possibly nested) sequence of int-likes; flattened in C order."""
    if isinstance(values, (str, bytes)):
        raise InvalidArgumentError("%s must be an int or a sequence of ints, got %r" % (name, values))
    array = np.asarray(values, dtype=object).ravel()
    return [_int(v, "%s[%d]" % (name, i)) for i, v in enumerate(array)]


def _int64_array(values):
    return (ctypes.c_int64 * max(len(values), 1))(*values)


def _layer_arg(indices, name="indices"):
    """``indices`` (None, an int or a tuple of ints) as (int64 array or None, ndim)."""
    if indices is None:
        return None, 0
    if type(indices) is int and 0 <= indices <= _INT64_MAX:     # the common case, kept cheap
        return (ctypes.c_int64 * 1)(indices), 1
    if isinstance(indices, (tuple, list, np.ndarray)):
        values = _ints(indices, name)
        return (_int64_array(values) if values else None), len(values)
    return _int64_array([_int(indices, name)]), 1


def _is_sequence(value):
    return isinstance(value, (tuple, list, np.ndarray))


def _geometry_list(value, name, order):
    """One int per spatial dimension from an int or a sequence of ``order`` ints."""
    if _is_sequence(value):
        values = _ints(value, name)
        if len(values) != order:
            raise ShapeMismatchError("%s has %d entries but the convolution has order %d"
                                     % (name, len(values), order))
        return values
    return [_int(value, name)] * order


def _path_bytes(path):
    """A file system path (str, bytes or os.PathLike) as bytes for C."""
    try:
        path = os.fsencode(path)
    except TypeError:
        raise InvalidArgumentError("path must be a str, bytes or os.PathLike, got %r"
                                   % (path,)) from None
    if b"\0" in path:
        raise InvalidArgumentError("path must not contain NUL bytes")
    return path


class _Options:
    """An ``fconv_options`` handle, freed on exit; setters pick the C setter by Python type."""

    def __init__(self):
        self.ptr = _lib.POINTER_OPTIONS()
        _lib.check(_lib_.fconv_options_create(ctypes.byref(self.ptr)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib_.fconv_options_free(self.ptr)
        self.ptr = None

    def set_string(self, key, value):
        _lib.check(_lib_.fconv_options_set_string(self.ptr, key.encode(), value.encode("utf-8")))

    def set_int(self, key, value):
        _lib.check(_lib_.fconv_options_set_int(self.ptr, key.encode(), _int(value, key)))

    def set_float(self, key, value):
        _lib.check(_lib_.fconv_options_set_float(self.ptr, key.encode(), float(value)))

    def set_ints(self, key, values):
        values = _ints(values, key)
        if not values:
            raise InvalidArgumentError("%s must not be empty" % key)
        _lib.check(_lib_.fconv_options_set_ints(self.ptr, key.encode(), _int64_array(values),
                                                len(values)))

    def set_flag(self, key, value):
        """A bool (or 0/1) as int 0/1."""
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        self.set_int(key, value)

    def set_int_or_ints(self, key, value):
        if _is_sequence(value):
            self.set_ints(key, value)
        else:
            self.set_int(key, value)

    def set_name(self, key, value):
        """A string option (factorization, implementation, init, ...)."""
        if not isinstance(value, str):
            raise InvalidArgumentError("%s must be a string, got %r" % (key, value))
        self.set_string(key, value)

    def set_rank(self, rank):
        if isinstance(rank, str):
            self.set_string("rank", rank)
        elif isinstance(rank, (bool, np.bool_)) or rank is None:
            raise InvalidArgumentError("rank must be 'same', a float, an int or a tuple of ints, "
                                       "got %r" % (rank,))
        elif isinstance(rank, numbers.Integral):
            self.set_int("rank", rank)
        elif isinstance(rank, numbers.Real):
            self.set_float("rank", rank)
        elif _is_sequence(rank):
            self.set_ints("rank", rank)
        else:
            raise InvalidArgumentError("rank must be 'same', a float, an int or a tuple of ints, "
                                       "got %r" % (rank,))

    def set_common(self, factorization, implementation, rank, fixed_rank_modes, seed):
        self.set_name("factorization", factorization)
        self.set_name("implementation", implementation)
        self.set_rank(rank)
        if fixed_rank_modes is not None:
            if isinstance(fixed_rank_modes, str):
                self.set_string("fixed_rank_modes", fixed_rank_modes)
            else:
                self.set_ints("fixed_rank_modes", fixed_rank_modes)
        self.set_int("seed", 0 if seed is None else seed)


# ------------------------------------------------------------------------------------------
# Progress callbacks
# ------------------------------------------------------------------------------------------

class _TextProgressBar:
    """A one-line progress bar on stderr: iteration / the library's iteration bound, and the
    relative error."""

    def __init__(self, stream=None, width=30):
        self.total = 1
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.drawn = False

    def __call__(self, iteration, error, total=None):
        if total is not None:
            self.total = max(int(total), 1)
        filled = min(self.width, int(self.width * iteration / self.total))
        self.stream.write("\rdecomposing [%s%s] %d/%d  rel. error %.3e"
                          % ("#" * filled, "-" * (self.width - filled), iteration, self.total,
                             error))
        self.stream.flush()
        self.drawn = True
        return True

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class _Progress:
    """Wraps a Python progress function as an fconv_progress_fn. Exceptions raised by the
    function never cross into C: the first one is kept, the decomposition is cancelled, and
    ``reraise`` raises it after the C call returns.

    Ctrl-C cannot be caught here: Python raises its KeyboardInterrupt on the main thread when
    that thread next checks for signals, which can be the callback's first instruction, before
    the ``try`` below; the exception then escaped into ctypes, which printed "Exception ignored
    on calling ctypes callback function" and let the decomposition run on. So decompositions
    called on the main thread run on a helper thread (``_lib.call_interruptibly``), where this
    callback runs too, while the main thread waits and receives the KeyboardInterrupt."""

    def __init__(self, function):
        self.function = function
        self.error = None
        self.c_function = _lib.PROGRESS_FN(self._call)   # referenced by self while C uses it

    def _call(self, iteration, total, error, _user_data):
        try:
            if isinstance(self.function, _TextProgressBar):
                keep_going = self.function(int(iteration), float(error), int(total))
            else:
                keep_going = self.function(int(iteration), float(error))
            return 0 if (keep_going is not None and not keep_going) else 1
        except BaseException as exc:   # noqa: B902 - must not propagate through C
            if self.error is None:
                self.error = exc
            return 0

    def reraise(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _make_progress(progress):
    """(_Progress or None, text bar or None) for ``progress`` = None | bool | callable."""
    if progress is None or progress is False:
        return None, None
    if progress is True:
        bar = _TextProgressBar()
        return _Progress(bar), bar
    if callable(progress):
        return _Progress(progress), None
    raise InvalidArgumentError("progress must be None, True/False or a callable "
                               "progress(iteration, error) -> bool, got %r" % (progress,))


# ------------------------------------------------------------------------------------------
# Reading a torch-like convolution without importing torch
# ------------------------------------------------------------------------------------------

def _conv_source(conv_or_weight, bias, stride, padding, dilation, name):
    """(weight, bias, stride, padding, dilation) from a numpy kernel or a ConvNd-like object."""
    if not hasattr(conv_or_weight, "weight"):
        return _as_float32(conv_or_weight, name), bias, stride, padding, dilation
    conv = conv_or_weight
    groups = getattr(conv, "groups", 1)
    if groups != 1:
        raise UnsupportedError("%s has groups=%r; grouped convolutions cannot be factorized "
                               "(only groups=1)" % (name, groups))
    padding_mode = getattr(conv, "padding_mode", "zeros")
    if padding_mode != "zeros":
        raise UnsupportedError("%s has padding_mode=%r; only zero padding ('zeros') is "
                               "supported" % (name, padding_mode))
    if bias is not None:
        raise InvalidArgumentError("bias must be None when %s is a convolution object "
                                   "(its .bias is used)" % name)
    weight = _as_float32(conv.weight, name + ".weight")
    conv_bias = getattr(conv, "bias", None)
    return (weight, conv_bias,
            getattr(conv, "stride", stride), getattr(conv, "padding", padding),
            getattr(conv, "dilation", dilation))


def _check_padding(padding, name):
    if isinstance(padding, str):
        raise UnsupportedError("%s=%r: string padding is not supported; give the zero padding "
                               "per dimension as ints" % (name, padding))


def _bias_array(bias, out_channels, name):
    if bias is None:
        return None
    bias = _as_float32(bias, name)
    if bias.shape != (out_channels,):
        raise ShapeMismatchError("%s must have shape (out_channels,) = (%d,), got %s"
                                 % (name, out_channels, bias.shape))
    return bias


def _set_decomposition(options, decomposition_kwargs, seed, decompose_weights):
    """Sets decompose, n_iter_max, tol, ... and seed on the options handle."""
    options.set_flag("decompose", bool(decompose_weights))
    kwargs = dict(decomposition_kwargs or {})
    unknown = sorted(str(k) for k in kwargs if k not in _DECOMPOSITION_KEYS)
    if unknown:
        raise InvalidArgumentError("decomposition_kwargs has unknown keys %s; known: %s"
                                   % (unknown, ", ".join(_DECOMPOSITION_KEYS)))
    random_state = kwargs.pop("random_state", None)
    if random_state is not None:
        if seed is not None and _int(seed, "seed") != _int(random_state, "random_state"):
            raise InvalidArgumentError("seed=%r and decomposition_kwargs['random_state']=%r "
                                       "disagree; give one" % (seed, random_state))
        seed = random_state
    for key, value in kwargs.items():
        if key in ("n_iter_max", "n_restarts"):
            options.set_int(key, value)
        elif key in ("tol", "l2_reg"):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise InvalidArgumentError("decomposition_kwargs['%s'] must be a float, got %r"
                                           % (key, value))
            options.set_float(key, value)
        else:   # init, cp_regularization
            options.set_name(key, value)
    options.set_int("seed", 0 if seed is None else seed)


# ------------------------------------------------------------------------------------------
# The layer
# ------------------------------------------------------------------------------------------

class FactorizedConv:
    """A factorized N-D convolution (tltorch.FactorizedConv), computed by libfactorconv.

    ``FactorizedConv(in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
    dilation=1, bias=False, has_bias=None, n_layers=1, factorization='cp', rank='same',
    implementation='factorized', fixed_rank_modes=None, seed=None)``

    * kernel_size: an int (then ``order`` is required) or a sequence (``order`` is ignored).
    * factorization: 'cp' | 'tucker' | 'tt' | 'dense' (case-insensitive).
    * implementation: 'factorized' | 'reconstructed' | 'mobilenet' (CP only) | 'auto'.
    * rank: 'same' | float (fraction of the dense parameter count) | int | tuple (per mode).
    * n_layers: an int or a tuple (a grid of layers sharing one factorization).
    * has_bias: None means "same as ``bias``"; or a bool / per-layer sequence.
    * seed: initialization seed (None means 0): reconstruction ~ N(0, 0.02^2), bias 0.

    ``conv(x, indices=0)`` runs layer ``indices`` on ``x`` of shape (batch, in_channels,
    *spatial) and returns a new float32 array. Release the native layer with ``close()`` or a
    ``with`` block (the garbage collector also does it).
    """

    _handle = None

    def __init__(self, in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
                 dilation=1, bias=False, has_bias=None, n_layers=1, factorization="cp",
                 rank="same", implementation="factorized", fixed_rank_modes=None, seed=None):
        if _is_sequence(kernel_size):
            kernel = _ints(kernel_size, "kernel_size")
        else:
            if order is None:
                raise InvalidArgumentError(
                    "kernel_size: if int given for kernel_size, order (dimension of the "
                    "convolution) should also be provided.")
            order = _int(order, "order")
            if order < 1:
                raise InvalidArgumentError("order should be the (positive integer) order of the "
                                           "convolution, got order=%d" % order)
            kernel = [_int(kernel_size, "kernel_size")] * order
        in_channels = _int(in_channels, "in_channels")
        out_channels = _int(out_channels, "out_channels")
        with _Options() as options:
            options.set_common(factorization, implementation, rank, fixed_rank_modes, seed)
            for key, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
                _check_padding(value, key)
                options.set_int_or_ints(key, value)
            options.set_flag("bias", bias if isinstance(bias, (bool, np.bool_)) else _int(bias, "bias"))
            if has_bias is not None:
                if _is_sequence(has_bias):
                    options.set_ints("has_bias", [int(bool(v)) for v in np.asarray(has_bias).ravel()])
                else:
                    options.set_flag("has_bias", has_bias)
            options.set_int_or_ints("n_layers", n_layers)
            handle = _lib.POINTER_CONV()
            _lib.check(_lib_.fconv_conv_create(in_channels, out_channels, _int64_array(kernel),
                                               len(kernel), options.ptr, ctypes.byref(handle)))
        self._adopt(handle, seed)

    # -- construction helpers ----------------------------------------------------------------

    def _adopt(self, handle, seed, parent=None):
        self._handle = handle
        self._seed = 0 if seed is None else _int(seed, "seed")
        self._parent = parent
        self._output_shapes = {}   # (input shape, indices) -> the output shape last computed
        self._free = _lib_.fconv_conv_free   # kept so __del__ works during interpreter shutdown

    @classmethod
    def _from_handle(cls, handle, seed, parent=None):
        self = cls.__new__(cls)
        self._adopt(handle, seed, parent)
        return self

    @classmethod
    def from_conv(cls, conv_or_weight, bias=None, *, stride=1, padding=0, dilation=1,
                  rank="same", implementation="reconstructed", factorization="cp",
                  decompose_weights=True, decomposition_kwargs=None, fixed_rank_modes=None,
                  seed=None, progress=None):
        """Compresses a dense convolution (tltorch FactorizedConv.from_conv).

        ``conv_or_weight`` is a kernel (out_channels, in_channels, *kernel) — numpy or any
        array-like — or an object with ``.weight``, ``.bias``, ``.stride``, ``.padding``,
        ``.dilation`` and ``.groups`` such as a ``torch.nn.Conv2d`` (its attributes then replace
        ``bias``/``stride``/``padding``/``dilation``). The kernel is decomposed in float64 at
        ``rank`` (CP-ALS, Tucker-HOOI or TT-SVD) unless ``decompose_weights`` is False.

        decomposition_kwargs: ``n_iter_max``, ``tol``, ``l2_reg``, ``init`` ('svd'|'random'),
        ``random_state`` (the seed), ``cp_regularization`` ('proximal'|'ridge').
        progress: None, True (a progress bar on stderr) or ``callable(iteration, error)``
        returning False to cancel (then CancelledError is raised). An exception raised by the
        callable cancels the decomposition and is re-raised. Called from a helper thread when
        ``from_conv`` is called on the main thread.

        Ctrl-C (KeyboardInterrupt) stops the decomposition within a fraction of a second and is
        re-raised; no layer is created.
        """
        weight, bias, stride, padding, dilation = _conv_source(
            conv_or_weight, bias, stride, padding, dilation, "conv_or_weight")
        _check_padding(padding, "padding")
        if weight.ndim < 3:
            raise ShapeMismatchError("conv_or_weight must be a kernel (out_channels, in_channels, "
                                     "*kernel_size), got shape %s" % (weight.shape,))
        bias = _bias_array(bias, weight.shape[0], "bias")
        def geometry(options):
            for key, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
                options.set_int_or_ints(key, value)

        def create(options, handle):
            return _lib_.fconv_conv_from_conv(
                _lib.float_pointer(weight), _int64_array(weight.shape), weight.ndim,
                None if bias is None else _lib.float_pointer(bias), options, handle)

        return cls._decompose(create, factorization, implementation, rank, fixed_rank_modes, seed,
                              decomposition_kwargs, decompose_weights, progress, configure=geometry)

    @classmethod
    def from_conv_list(cls, convs_or_weights, biases=None, *, stride=1, padding=0, dilation=1,
                       rank="same", implementation="reconstructed", factorization="cp",
                       decompose_weights=True, decomposition_kwargs=None, fixed_rank_modes=None,
                       seed=None, progress=None):
        """Compresses several dense convolutions of one kernel shape into one layer grid
        (tltorch from_conv_list): ``n_layers = len(convs_or_weights)``, one shared
        factorization, each layer with its own geometry and bias.

        Each item is a kernel or a ConvNd-like object (as for ``from_conv``). ``biases`` is None
        or one entry (None or out_channels values) per kernel. ``stride``/``padding``/
        ``dilation`` (for kernels given as arrays) are an int, one int per spatial dimension, or
        one such entry per convolution. Other arguments as for ``from_conv``.
        """
        items = list(convs_or_weights)
        if not items:
            raise InvalidArgumentError("convs_or_weights must hold at least one convolution")
        if biases is not None:
            biases = list(biases)
            if len(biases) != len(items):
                raise ShapeMismatchError("biases has %d entries but convs_or_weights has %d"
                                         % (len(biases), len(items)))
        weights, bias_arrays, rows = [], [], {"stride": [], "padding": [], "dilation": []}

        def per_conv(value, i):
            if _is_sequence(value) and len(value) == len(items) and \
                    all(_is_sequence(v) for v in value):
                return value[i]
            return value

        for i, item in enumerate(items):
            name = "convs_or_weights[%d]" % i
            bias_i = None if biases is None else biases[i]
            weight, bias_i, s, p, d = _conv_source(item, bias_i, per_conv(stride, i),
                                                   per_conv(padding, i), per_conv(dilation, i), name)
            _check_padding(p, name + ".padding")
            if weight.ndim < 3:
                raise ShapeMismatchError("%s must be a kernel (out_channels, in_channels, "
                                         "*kernel_size), got shape %s" % (name, weight.shape))
            if weights and weight.shape != weights[0].shape:
                raise ShapeMismatchError("%s has shape %s but convs_or_weights[0] has %s; every "
                                         "kernel must have the same shape"
                                         % (name, weight.shape, weights[0].shape))
            order = weight.ndim - 2
            weights.append(weight)
            bias_arrays.append(_bias_array(bias_i, weight.shape[0], name + " bias"))
            for key, value in (("stride", s), ("padding", p), ("dilation", d)):
                rows[key].extend(_geometry_list(value, "%s %s" % (name, key), order))
        n = len(weights)
        weight_ptrs = (_c_float_p * n)(*[_lib.float_pointer(w) for w in weights])
        bias_ptrs = None
        if any(b is not None for b in bias_arrays):
            bias_ptrs = (_c_float_p * n)(*[None if b is None else _lib.float_pointer(b)
                                           for b in bias_arrays])
        geometry = [_int64_array(rows[k]) for k in ("stride", "padding", "dilation")]
        def create(options, handle):
            return _lib_.fconv_conv_from_conv_list(
                n, weight_ptrs, _int64_array(weights[0].shape), weights[0].ndim, bias_ptrs,
                *geometry, options, handle)

        return cls._decompose(create, factorization, implementation, rank, fixed_rank_modes, seed,
                              decomposition_kwargs, decompose_weights, progress)

    @classmethod
    def _decompose(cls, create, factorization, implementation, rank, fixed_rank_modes, seed,
                   decomposition_kwargs, decompose_weights, progress, configure=None):
        """The shared body of from_conv and from_conv_list: fills an options handle, runs
        ``create(options_ptr, handle_ref)`` (an fconv_conv_from_conv* call) with the progress
        callback, and wraps the new handle. Exceptions raised by the callback are re-raised."""
        with _Options() as options:
            options.set_common(factorization, implementation, rank, fixed_rank_modes, seed)
            if configure is not None:
                configure(options)
            _set_decomposition(options, decomposition_kwargs, seed, decompose_weights)
            seed_used = seed if seed is not None else (decomposition_kwargs or {}).get("random_state")
            callback, bar = _make_progress(progress)
            if callback is not None:
                _lib.check(_lib_.fconv_options_set_progress(options.ptr, callback.c_function, None))
            handle = _lib.POINTER_CONV()
            try:
                # A layer created although Ctrl-C came is freed before KeyboardInterrupt is raised.
                status, message = _lib.call_interruptibly(
                    create, options.ptr, ctypes.byref(handle),
                    discard=lambda: _lib_.fconv_conv_free(handle))
            finally:
                if bar is not None:
                    bar.close()
            if callback is not None:
                callback.reraise()
            _lib.check(status, message)
        return cls._from_handle(handle, seed_used)

    # -- files -------------------------------------------------------------------------------

    def save(self, path):
        """Saves the layer as one ``.safetensors`` file: the parameters under their state_dict
        names and the configuration in ``__metadata__`` (a sub-convolution saves its main
        layer). The file is replaced atomically; a symlink's target is written; a directory,
        FIFO or device at ``path`` is refused and left alone; a replaced file keeps its mode and
        (where permitted) owner. Raises fc.IOError when it cannot be written."""
        _lib.check(_lib_.fconv_conv_save(self._live(), _path_bytes(path)))

    @classmethod
    def load(cls, path):
        """A layer from a ``.safetensors`` file written by ``save`` (or by the safetensors
        package with the same names and metadata). Raises fc.IOError (unreadable, or not a
        regular file: FIFOs, devices and directories are refused without blocking) or
        fc.FormatError (malformed or inconsistent file)."""
        handle = _lib.POINTER_CONV()
        _lib.check(_lib_.fconv_conv_load(_path_bytes(path), ctypes.byref(handle)))
        return cls._from_handle(handle, None)

    def to_bytes(self):
        """The bytes of the layer's ``.safetensors`` file (what ``save`` writes): parameters
        and configuration, for keeping or sending a layer without a file."""
        handle = self._live()
        size = ctypes.c_size_t()
        while True:
            buffer = ctypes.create_string_buffer(max(size.value, 1))
            status = _lib_.fconv_conv_save_to_buffer(handle, buffer, size.value, ctypes.byref(size))
            # The first call asks the size; a change of the layer in between asks again.
            if status != ERR_BUFFER_TOO_SMALL:
                _lib.check(status)
                return buffer.raw[:size.value]

    @classmethod
    def from_bytes(cls, data):
        """A layer from the bytes of a layer file (``to_bytes()``, or a file's contents); the
        checks of ``load``. Raises fc.FormatError for malformed or inconsistent bytes."""
        data = bytes(data)
        handle = _lib.POINTER_CONV()
        _lib.check(_lib_.fconv_conv_load_from_buffer(data, len(data), ctypes.byref(handle)))
        return cls._from_handle(handle, None)

    # -- copying and pickling: an independent layer made from the layer file's bytes ----------

    def __reduce__(self):
        return (_layer_from_bytes, (self.to_bytes(), self._seed))

    def __copy__(self):
        return _layer_from_bytes(self.to_bytes(), self._seed)

    def __deepcopy__(self, memo):
        return self.__copy__()

    # -- lifetime ----------------------------------------------------------------------------

    def close(self):
        """Releases the native layer (idempotent). A main layer freed before its
        sub-convolutions stays alive natively until the last of them is closed."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)   # a racing close frees a handle no longer live: a no-op

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None:
            self._handle = None
            try:
                self._free(handle)
            except Exception:   # noqa: BLE001 - never raise from a finalizer
                pass

    @property
    def closed(self):
        """True once ``close()`` was called."""
        return self._handle is None

    def _live(self):
        handle = self._handle
        if handle is None:
            raise InvalidArgumentError("conv: this FactorizedConv is closed")
        return handle

    # -- getters -----------------------------------------------------------------------------

    def _ints_info(self, key):
        handle = self._live()
        count = ctypes.c_size_t()
        buffer = (ctypes.c_int64 * 64)()
        status = _lib_.fconv_conv_get_ints(handle, _INFO[key], buffer, 64, ctypes.byref(count))
        if status == ERR_BUFFER_TOO_SMALL:   # count says how many are needed
            buffer = (ctypes.c_int64 * count.value)()
            status = _lib_.fconv_conv_get_ints(handle, _INFO[key], buffer, count.value,
                                               ctypes.byref(count))
        _lib.check(status)
        return list(buffer[:count.value])

    @property
    def in_channels(self):
        return self._ints_info("in_channels")[0]

    @property
    def out_channels(self):
        return self._ints_info("out_channels")[0]

    @property
    def order(self):
        """The number of spatial dimensions."""
        return self._ints_info("order")[0]

    @property
    def kernel_size(self):
        return tuple(self._ints_info("kernel_size"))

    @property
    def _layers_shape(self):
        return tuple(self._ints_info("n_layers"))

    @property
    def n_layers(self):
        """1 for a single convolution, an int for a 1-D grid, a tuple for a larger grid."""
        shape = self._layers_shape
        if not shape:
            return 1
        return shape[0] if len(shape) == 1 else shape

    @property
    def factorization(self):
        """'cp', 'tucker', 'tt' or 'dense'."""
        return _FACTORIZATIONS.get(self._ints_info("factorization")[0], "unknown")

    @property
    def implementation(self):
        """'factorized', 'reconstructed', 'mobilenet' or 'auto'; assign to change it."""
        return _IMPLEMENTATION_NAMES.get(self._ints_info("implementation")[0], "unknown")

    @implementation.setter
    def implementation(self, value):
        self.set_implementation(value)

    def set_implementation(self, implementation):
        """Changes the forward implementation ('factorized' | 'reconstructed' | 'mobilenet' |
        'auto'). Raises UnsupportedError for an implementation the factorization lacks."""
        if not isinstance(implementation, str):
            raise InvalidArgumentError("implementation must be a string, got %r" % (implementation,))
        code = _IMPLEMENTATIONS.get(implementation.lower())
        if code is None:
            raise InvalidArgumentError("implementation must be one of %s, got %r"
                                       % (", ".join(_IMPLEMENTATIONS), implementation))
        _lib.check(_lib_.fconv_conv_set_implementation(self._live(), code))
        return self

    @property
    def rank(self):
        """The current rank: an int (CP), a tuple (Tucker, TT), None (dense)."""
        values = self._ints_info("rank")
        if not values:
            return None
        return values[0] if self.factorization == "cp" else tuple(values)

    @property
    def shape(self):
        """The factorized tensor's shape (layer modes first; TT layout for TT)."""
        return tuple(self._ints_info("shape"))

    def _per_layer(self, key):
        values = self._ints_info(key)
        shape = self._layers_shape
        if not shape or self._parent is not None:
            return values
        return np.asarray(values).reshape(shape + (-1,)).tolist()

    @property
    def stride(self):
        """A list per spatial dimension; a list of such lists per layer when n_layers > 1."""
        return self._per_layer("stride")

    @property
    def padding(self):
        """A list per spatial dimension; a list of such lists per layer when n_layers > 1."""
        return self._per_layer("padding")

    @property
    def dilation(self):
        """A list per spatial dimension; a list of such lists per layer when n_layers > 1."""
        return self._per_layer("dilation")

    @property
    def has_bias(self):
        """Whether the layer applies a bias: a bool, or a (nested) list per layer of a grid."""
        values = [bool(v) for v in self._ints_info("has_bias")]
        shape = self._layers_shape
        if not shape or self._parent is not None:
            return values[0]
        return np.asarray(values, dtype=bool).reshape(shape).tolist()

    @property
    def n_parameters(self):
        """Scalars stored (factors, core/weights and bias)."""
        return self._ints_info("parameter_count")[0]

    def chosen_implementation(self, x_shape, indices=0):
        """The implementation a forward of layer ``indices`` on an input of shape ``x_shape``
        would use (with 'auto': the one it picks)."""
        shape = _ints(x_shape, "x_shape")
        layer, layer_ndim = self._layer(indices)
        result = ctypes.c_int32()
        _lib.check(_lib_.fconv_conv_chosen_implementation(
            self._live(), _int64_array(shape), len(shape), layer, layer_ndim,
            ctypes.byref(result)))
        return _IMPLEMENTATION_NAMES.get(result.value, "unknown")

    def __repr__(self):
        if self._handle is None:
            return "FactorizedConv(<closed>)"
        return "FactorizedConv(%s)" % self._repr_text()

    def _repr_text(self):
        handle = self._live()
        length = ctypes.c_size_t()
        buffer = ctypes.create_string_buffer(1024)
        status = _lib_.fconv_conv_repr(handle, buffer, len(buffer), ctypes.byref(length))
        if status == ERR_BUFFER_TOO_SMALL:
            buffer = ctypes.create_string_buffer(length.value + 1)
            status = _lib_.fconv_conv_repr(handle, buffer, len(buffer), ctypes.byref(length))
        _lib.check(status)
        return buffer.value.decode("utf-8", "replace")

    # -- forward -----------------------------------------------------------------------------

    def _layer(self, indices):
        return _layer_arg(indices)

    def forward(self, x, indices=0):
        """Runs layer ``indices`` (0 for a single convolution, an int or a tuple for a grid) on
        ``x`` (batch, in_channels, *spatial) of any real dtype/layout; float32 C-contiguous input
        is used without a copy. Returns a new float32 C-contiguous array. Ctrl-C stops a large
        forward within a fraction of a second (KeyboardInterrupt; the layer stays usable)."""
        x = _as_float32(x, "x")
        layer, layer_ndim = self._layer(indices)
        handle = self._live()
        x_shape = _int64_array(x.shape)
        try:
            key = (x.shape, indices)
            out_shape = self._output_shapes.get(key)
        except TypeError:   # unhashable indices (a list): no cached shape
            key, out_shape = None, None
        for _ in range(_SHAPE_ATTEMPTS):
            if out_shape is None:
                out_shape = self._output_shape(handle, x_shape, x.ndim, layer, layer_ndim)
            y = np.empty(out_shape, dtype=np.float32)
            args = (handle, _lib.float_argument(x), x_shape, x.ndim, layer, layer_ndim,
                    _lib.float_argument(y), _int64_array(out_shape), len(out_shape))
            if y.size * x.shape[1] * self._kernel_volume(handle) >= _INTERRUPTIBLE_FORWARD_MACS:
                status, message = _lib.call_interruptibly(_lib_.fconv_conv_forward_shaped, *args)
            else:
                status, message = _lib_.fconv_conv_forward_shaped(*args), None
            if status != ERR_SHAPE_MISMATCH:
                break
            # The layer changed since the shape was computed (or the input is wrong, which the
            # new shape query reports): query again and retry.
            out_shape = None
        _lib.check(status, message)
        if key is not None:
            if len(self._output_shapes) >= 16:
                self._output_shapes.clear()
            self._output_shapes[key] = out_shape
        return y

    def _output_shape(self, handle, x_shape, x_ndim, layer, layer_ndim):
        out = (ctypes.c_int64 * max(x_ndim, 1))()
        _lib.check(_lib_.fconv_conv_output_shape(handle, x_shape, x_ndim, layer, layer_ndim,
                                                 out, len(out)))
        return tuple(out[:x_ndim])

    def _kernel_volume(self, handle):
        """The product of the kernel size, cached on the main layer (only ``transduct`` changes
        it; a stale value only moves the choice of an interruptible call)."""
        root = self if self._parent is None else self._parent
        volume = root.__dict__.get("_kernel_volume_cache")
        if volume is None:
            count = ctypes.c_size_t()
            sizes = (ctypes.c_int64 * 64)()
            _lib.check(_lib_.fconv_conv_get_ints(handle, _INFO["kernel_size"], sizes, 64,
                                                 ctypes.byref(count)))
            volume = math.prod(sizes[:count.value])
            root._kernel_volume_cache = volume
        return volume

    def __call__(self, x, indices=0):
        return self.forward(x, indices)

    # -- parameters --------------------------------------------------------------------------

    def _parameter_names(self, handle):
        count = ctypes.c_size_t()
        _lib.check(_lib_.fconv_conv_parameter_count(handle, ctypes.byref(count)))
        names = []
        for i in range(count.value):
            length = ctypes.c_size_t()
            buffer = ctypes.create_string_buffer(64)
            status = _lib_.fconv_conv_parameter_name(handle, i, buffer, len(buffer),
                                                     ctypes.byref(length))
            if status == ERR_BUFFER_TOO_SMALL:
                buffer = ctypes.create_string_buffer(length.value + 1)
                status = _lib_.fconv_conv_parameter_name(handle, i, buffer, len(buffer),
                                                         ctypes.byref(length))
            _lib.check(status)
            names.append(buffer.value.decode("utf-8"))
        return names

    def state_dict(self):
        """``{name: float32 ndarray}`` with tltorch's names ('bias', 'weight.weights',
        'weight.core', 'weight.factors.factor_<i>', 'weight.tensor'); copies. A
        sub-convolution returns its main layer's parameters (as tltorch's shared ones)."""
        result = {}
        handle = self._live()
        for name in self._parameter_names(handle):
            key = name.encode("utf-8")
            ndim = ctypes.c_size_t()
            shape = (ctypes.c_int64 * 32)()
            _lib.check(_lib_.fconv_conv_parameter_shape(handle, key, shape, 32,
                                                        ctypes.byref(ndim)))
            value = np.empty(tuple(shape[:ndim.value]), dtype=np.float32)
            _lib.check(_lib_.fconv_conv_get_parameter(handle, key, _lib.float_pointer(value),
                                                      value.size))
            result[name] = value
        return result

    def load_state_dict(self, state_dict, strict=True):
        """Replaces parameters from ``{name: array}`` (numpy arrays or torch tensors, e.g. a
        tltorch state_dict as is). Unknown names, missing names (``strict``), wrong shapes and
        NaN/Inf raise, and then nothing changes. A complete set of factors may change the rank."""
        if not hasattr(state_dict, "items"):
            raise InvalidArgumentError("state_dict must be a mapping name -> array, got %s"
                                       % type(state_dict).__name__)
        names, arrays = [], []
        for name, value in state_dict.items():
            if not isinstance(name, str):
                raise InvalidArgumentError("state_dict keys must be strings, got %r" % (name,))
            array = _as_float32(value, "state_dict[%r]" % name)
            if array.ndim == 0:
                array = array.reshape(1)
            names.append(name)
            arrays.append(array)
        n = len(names)
        c_names = (ctypes.c_char_p * max(n, 1))(*[s.encode("utf-8") for s in names])
        c_values = (_c_float_p * max(n, 1))(*[_lib.float_pointer(a) for a in arrays])
        shapes = [_int64_array(a.shape) for a in arrays]
        c_shapes = (_c_int64_p * max(n, 1))(*[ctypes.cast(s, _c_int64_p) for s in shapes])
        c_ndims = (ctypes.c_size_t * max(n, 1))(*[a.ndim for a in arrays])
        _lib.check(_lib_.fconv_conv_set_parameters(self._live(), n, c_names, c_values,
                                                   c_shapes, c_ndims, 1 if strict else 0))
        return self

    def reconstruct_kernel(self, indices=None):
        """The dense kernel (out, in, *kernel_size) of layer ``indices``; with a grid and
        ``indices=None`` every layer stacked: (*layers, out, in, *kernel_size)."""
        layer, layer_ndim = self._layer(indices)
        handle = self._live()
        ndim = ctypes.c_size_t()
        shape = (ctypes.c_int64 * 40)()
        _lib.check(_lib_.fconv_conv_kernel_shape(handle, layer, layer_ndim, shape, 40,
                                                 ctypes.byref(ndim)))
        kernel = np.empty(tuple(shape[:ndim.value]), dtype=np.float32)
        _lib.check(_lib_.fconv_conv_reconstruct_kernel(handle, layer, layer_ndim,
                                                       _lib.float_pointer(kernel), kernel.size))
        return kernel

    def reset_parameters(self, std=0.02, seed=None):
        """Re-initializes: reconstruction ~ N(0, std^2), bias 0. ``seed`` None means the seed
        the layer was created with (so the result is reproducible)."""
        if isinstance(std, (bool, np.bool_)) or not isinstance(std, numbers.Real):
            raise InvalidArgumentError("std must be a float, got %r" % (std,))
        seed = self._seed if seed is None else _int(seed, "seed")
        if seed < 0:
            raise InvalidArgumentError("seed must be >= 0, got %d" % seed)
        _lib.check(_lib_.fconv_conv_reset_parameters(self._live(), float(std), seed))
        return self

    # -- layer grid ----------------------------------------------------------------------------

    def set(self, indices, stride=1, padding=0, dilation=1, bias=None):
        """Sets layer ``indices``'s stride, padding and dilation (unspecified values reset to
        1 / 0 / 1, as tltorch) and, if ``bias`` is given, its bias (which turns it on)."""
        order = self.order
        geometry = [_int64_array(_geometry_list(v, k, order)) for k, v in
                    (("stride", stride), ("padding", padding), ("dilation", dilation))]
        layer, layer_ndim = self._layer(indices)
        bias_ptr, bias_count = None, 0
        if bias is not None:
            bias = _as_float32(bias, "bias")
            if bias.ndim != 1:
                raise ShapeMismatchError("bias must have shape (out_channels,), got %s"
                                         % (bias.shape,))
            bias_ptr, bias_count = _lib.float_pointer(bias), bias.size
        _lib.check(_lib_.fconv_conv_set(self._live(), layer, layer_ndim, *geometry, order,
                                        bias_ptr, bias_count))
        return self

    def get_conv(self, indices):
        """The sub-convolution of layer ``indices`` (tltorch get_conv / conv[indices]): it
        shares this layer's parameters, and keeps the native layer alive."""
        layer, layer_ndim = self._layer(indices)
        out = _lib.POINTER_CONV()
        _lib.check(_lib_.fconv_conv_get_conv(self._live(), layer, layer_ndim,
                                             ctypes.byref(out)))
        sub = SubFactorizedConv._from_handle(out, self._seed, parent=self)
        sub.indices = indices
        return sub

    def __getitem__(self, indices):
        return self.get_conv(indices)

    def transduct(self, kernel_size, mode=0, padding=0, stride=1, dilation=1):
        """Adds a spatial dimension of size ``kernel_size`` before spatial dimension ``mode``
        (tltorch transduct; CP/Tucker/Dense: the old kernel at the centre tap, TT: replicated).
        Returns self."""
        args = [_int(v, n) for v, n in ((kernel_size, "kernel_size"), (mode, "mode"),
                                        (padding, "padding"), (stride, "stride"),
                                        (dilation, "dilation"))]
        self._kernel_volume_cache = None
        _lib.check(_lib_.fconv_conv_transduct(self._live(), *args))
        return self


class SubFactorizedConv(FactorizedConv):
    """One layer of a FactorizedConv grid (tltorch SubFactorizedConv): ``sub(x)`` runs
    ``main_conv(x, indices)``. It shares the main layer's parameters; closing the main layer
    first is fine (the native layer lives until its last sub-convolution is closed)."""

    indices = None

    def __init__(self, *args, **kwargs):
        raise TypeError("SubFactorizedConv objects come from FactorizedConv.get_conv(indices)")

    @property
    def main_conv(self):
        return self._parent

    def __reduce__(self):
        # The main layer travels whole (the parameters are shared), then the same sub-convolution.
        return (_sub_layer_from_bytes, (self.to_bytes(), self._seed, self.indices))

    def __copy__(self):
        return _sub_layer_from_bytes(self.to_bytes(), self._seed, self.indices)

    def _layer(self, indices):
        # A sub-convolution always means its own layer; anything else is passed on so the
        # library reports it.
        return _layer_arg(indices)

    def forward(self, x, indices=None):
        return FactorizedConv.forward(self, x, indices)

    def __call__(self, x, indices=None):
        return self.forward(x, indices)

    def reconstruct_kernel(self, indices=None):
        return FactorizedConv.reconstruct_kernel(self, indices)

    def chosen_implementation(self, x_shape, indices=None):
        return FactorizedConv.chosen_implementation(self, x_shape, indices)

    def __repr__(self):
        if self._handle is None:
            return "SubFactorizedConv(<closed>)"
        return self._repr_text()


def _layer_from_bytes(data, seed):
    """Unpickles a FactorizedConv (module level, so that pickle can name it)."""
    layer = FactorizedConv.from_bytes(data)
    layer._seed = seed
    return layer


def _sub_layer_from_bytes(data, seed, indices):
    """Unpickles a SubFactorizedConv: its main layer, then the sub-convolution."""
    return _layer_from_bytes(data, seed).get_conv(indices)

"""``ConvHandle``: the owner of one ``fconv_conv *`` — its lifetime (freed once, by ``close`` or
the garbage collector), its copies (new layers from the layer file's bytes) — and one thin method
per C call on it, taking and returning numpy arrays and Python values.

Threads: any method may run on one handle from several threads at once (ctypes releases the GIL
during the C call) and no Python lock is taken: the library makes each change atomic with respect
to forwards (a forward runs wholly before or after it), keeps a layer alive while a call uses it,
and turns a handle closed by another thread into an error. A forward allocates its output from the
shape it last saw for that input (one C call per forward), or else from the shape it computes
from the layer's geometry (read once per handle) after comparing its size with the memory bound
(two C calls), and asks the library to check it (``fconv_conv_forward_shaped``). A concurrent
change of the output shape costs a new shape query (``fconv_conv_output_shape``), never a
wrongly shaped result.
"""

import ctypes
import math
import numbers

import numpy as np

from . import _lib
from ._constants import ERR_BUFFER_TOO_SMALL, ERR_SHAPE_MISMATCH, INFO
from ._convert import as_float32, int64_array, is_bool, layer_argument, path_bytes
from ._errors import InvalidArgumentError, ShapeMismatchError

# Forwards retried when a concurrent change of the layer moves the output shape between the
# shape query and the forward (each retry queries the shape again).
_SHAPE_ATTEMPTS = 64
# Output shapes remembered per handle (input shape, indices) before the cache is emptied.
_SHAPE_CACHE_SIZE = 16
# Most dimensions a parameter or kernel has: 16 spatial modes, 2 channel modes and a grid.
_MAX_NDIM = 40

_c_float_p = ctypes.POINTER(ctypes.c_float)
_c_int64_p = ctypes.POINTER(ctypes.c_int64)


def new_pointer():
    """An empty ``fconv_conv *`` for a constructor's ``out`` argument."""
    return _lib.POINTER_CONV()


class ConvHandle:
    """Owns one ``fconv_conv *`` (a layer, or a sub-convolution of one)."""

    ptr = None

    def __init__(self, ptr):
        self.ptr = ptr
        self._free = _lib.lib.fconv_conv_free   # kept so __del__ works during interpreter shutdown
        self._forward_calls = {}                 # (input shape, indices) -> _forward_call
        self._geometry = None                    # _Geometry, read at the first forward

    # -- lifetime ------------------------------------------------------------------------------

    def close(self):
        """Frees the native layer (idempotent). A layer freed before its sub-convolutions stays
        alive natively until the last of them is freed."""
        ptr, self.ptr = self.ptr, None
        if ptr is not None:
            self._free(ptr)   # a racing close frees a handle no longer live: a no-op

    def __del__(self):
        ptr = getattr(self, "ptr", None)
        if ptr is not None:
            self.ptr = None
            try:
                self._free(ptr)
            except Exception:   # noqa: BLE001 - never raise from a finalizer
                pass

    @property
    def closed(self):
        """True once freed."""
        return self.ptr is None

    def live(self):
        """The pointer; InvalidArgumentError once closed."""
        ptr = self.ptr
        if ptr is None:
            raise InvalidArgumentError("conv: this FactorizedConv is closed")
        return ptr

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def create(cls, in_channels, out_channels, kernel_size, options):
        """``fconv_conv_create`` with an ``_options.Options``."""
        out = new_pointer()
        _lib.check(_lib.lib.fconv_conv_create(in_channels, out_channels, int64_array(kernel_size),
                                              len(kernel_size), options.ptr, ctypes.byref(out)))
        return cls(out)

    @classmethod
    def from_conv(cls, weight, bias, options):
        """``fconv_conv_from_conv``: a float32 kernel, a float32 bias or None."""
        out = new_pointer()
        _lib.check(*_lib.call_interruptibly(
            _lib.lib.fconv_conv_from_conv,
            _lib.float_pointer(weight), int64_array(weight.shape), weight.ndim,
            None if bias is None else _lib.float_pointer(bias), options.ptr, ctypes.byref(out),
            discard=lambda: _lib.lib.fconv_conv_free(out)))
        return cls(out)

    @classmethod
    def from_conv_list(cls, weights, biases, stride, padding, dilation, options):
        """``fconv_conv_from_conv_list``: float32 kernels of one shape, a float32 bias or None
        each, and the geometry as flat lists (one row of ``order`` values per kernel)."""
        n = len(weights)
        c_weights = (_c_float_p * n)(*[_lib.float_pointer(w) for w in weights])
        c_biases = None
        if any(b is not None for b in biases):
            c_biases = (_c_float_p * n)(*[None if b is None else _lib.float_pointer(b)
                                          for b in biases])
        out = new_pointer()
        _lib.check(*_lib.call_interruptibly(
            _lib.lib.fconv_conv_from_conv_list,
            n, c_weights, int64_array(weights[0].shape), weights[0].ndim, c_biases,
            int64_array(stride), int64_array(padding), int64_array(dilation), options.ptr,
            ctypes.byref(out), discard=lambda: _lib.lib.fconv_conv_free(out)))
        return cls(out)

    @classmethod
    def load(cls, path):
        """``fconv_conv_load``."""
        out = new_pointer()
        _lib.check(_lib.lib.fconv_conv_load(path_bytes(path), ctypes.byref(out)))
        return cls(out)

    @classmethod
    def from_bytes(cls, data):
        """``fconv_conv_load_from_buffer`` on the bytes of a layer file."""
        data = bytes(data)
        out = new_pointer()
        _lib.check(_lib.lib.fconv_conv_load_from_buffer(data, len(data), ctypes.byref(out)))
        return cls(out)

    def to_bytes(self):
        """``fconv_conv_save_to_buffer``: the bytes of the layer's file."""
        ptr = self.live()
        size = ctypes.c_size_t()
        while True:
            buffer = ctypes.create_string_buffer(max(size.value, 1))
            status = _lib.lib.fconv_conv_save_to_buffer(ptr, buffer, size.value, ctypes.byref(size))
            # The first call asks the size; a change of the layer in between asks again.
            if status != ERR_BUFFER_TOO_SMALL:
                _lib.check(status)
                return buffer.raw[:size.value]

    def copy(self):
        """An independent layer with the same parameters and configuration (a sub-convolution
        copies its whole main layer)."""
        return ConvHandle.from_bytes(self.to_bytes())

    def save(self, path):
        """``fconv_conv_save``."""
        _lib.check(_lib.lib.fconv_conv_save(self.live(), path_bytes(path)))

    def get_conv(self, indices):
        """``fconv_conv_get_conv``: a handle on one layer of the grid."""
        layer, layer_ndim = layer_argument(indices)
        out = new_pointer()
        _lib.check(_lib.lib.fconv_conv_get_conv(self.live(), layer, layer_ndim, ctypes.byref(out)))
        return ConvHandle(out)

    # -- getters -------------------------------------------------------------------------------

    def ints(self, key):
        """``fconv_conv_get_ints`` for the ``_constants.INFO`` key ``key``, as a list."""
        ptr = self.live()
        count = ctypes.c_size_t()
        buffer = (ctypes.c_int64 * 64)()
        status = _lib.lib.fconv_conv_get_ints(ptr, INFO[key], buffer, 64, ctypes.byref(count))
        if status == ERR_BUFFER_TOO_SMALL:   # count says how many are needed
            buffer = (ctypes.c_int64 * count.value)()
            status = _lib.lib.fconv_conv_get_ints(ptr, INFO[key], buffer, count.value,
                                                  ctypes.byref(count))
        _lib.check(status)
        return list(buffer[:count.value])

    def _text(self, function, *args):
        """A NUL-terminated string filled by ``function(ptr, *args, buffer, capacity, &length)``."""
        ptr = self.live()
        length = ctypes.c_size_t()
        buffer = ctypes.create_string_buffer(1024)
        status = function(ptr, *args, buffer, len(buffer), ctypes.byref(length))
        if status == ERR_BUFFER_TOO_SMALL:
            buffer = ctypes.create_string_buffer(length.value + 1)
            status = function(ptr, *args, buffer, len(buffer), ctypes.byref(length))
        _lib.check(status)
        return buffer.value.decode("utf-8", "replace")

    def repr_text(self):
        """``fconv_conv_repr``: tltorch's extra_repr (or SubFactorizedConv repr) text."""
        return self._text(_lib.lib.fconv_conv_repr)

    def chosen_implementation(self, x_shape, indices):
        """``fconv_conv_chosen_implementation``: an FCONV_IMPL_* value."""
        layer, layer_ndim = layer_argument(indices)
        result = ctypes.c_int32()
        _lib.check(_lib.lib.fconv_conv_chosen_implementation(
            self.live(), int64_array(x_shape), len(x_shape), layer, layer_ndim,
            ctypes.byref(result)))
        return result.value

    # -- parameters ----------------------------------------------------------------------------

    def parameter_names(self):
        """The state_dict names, in the library's order."""
        count = ctypes.c_size_t()
        _lib.check(_lib.lib.fconv_conv_parameter_count(self.live(), ctypes.byref(count)))
        return [self._text(_lib.lib.fconv_conv_parameter_name, i) for i in range(count.value)]

    def parameter(self, name):
        """A copy of parameter ``name`` as a float32 array."""
        ptr = self.live()
        key = name.encode("utf-8")
        ndim = ctypes.c_size_t()
        shape = (ctypes.c_int64 * _MAX_NDIM)()
        _lib.check(_lib.lib.fconv_conv_parameter_shape(ptr, key, shape, _MAX_NDIM,
                                                       ctypes.byref(ndim)))
        value = np.empty(tuple(shape[:ndim.value]), dtype=np.float32)
        _lib.check(_lib.lib.fconv_conv_get_parameter(ptr, key, _lib.float_pointer(value),
                                                     value.size))
        return value

    def state_dict(self):
        """``{name: float32 array}`` of every parameter (copies)."""
        return {name: self.parameter(name) for name in self.parameter_names()}

    def set_parameters(self, arrays, strict):
        """``fconv_conv_set_parameters`` from ``{name: float32 C-contiguous array}``."""
        names = list(arrays)
        values = [arrays[name] for name in names]
        n = len(names)
        c_names = (ctypes.c_char_p * max(n, 1))(*[s.encode("utf-8") for s in names])
        c_values = (_c_float_p * max(n, 1))(*[_lib.float_pointer(a) for a in values])
        shapes = [int64_array(a.shape) for a in values]
        c_shapes = (_c_int64_p * max(n, 1))(*[ctypes.cast(s, _c_int64_p) for s in shapes])
        c_ndims = (ctypes.c_size_t * max(n, 1))(*[a.ndim for a in values])
        _lib.check(_lib.lib.fconv_conv_set_parameters(self.live(), n, c_names, c_values,
                                                      c_shapes, c_ndims, 1 if strict else 0))

    def reconstruct_kernel(self, indices):
        """``fconv_conv_reconstruct_kernel`` into a new array."""
        layer, layer_ndim = layer_argument(indices)
        ptr = self.live()
        ndim = ctypes.c_size_t()
        shape = (ctypes.c_int64 * _MAX_NDIM)()
        _lib.check(_lib.lib.fconv_conv_kernel_shape(ptr, layer, layer_ndim, shape, _MAX_NDIM,
                                                    ctypes.byref(ndim)))
        kernel = np.empty(tuple(shape[:ndim.value]), dtype=np.float32)
        _lib.check(_lib.lib.fconv_conv_reconstruct_kernel(ptr, layer, layer_ndim,
                                                          _lib.float_pointer(kernel), kernel.size))
        return kernel

    def reset_parameters(self, std, seed):
        """``fconv_conv_reset_parameters``."""
        _lib.check(_lib.lib.fconv_conv_reset_parameters(self.live(), std, seed))

    # -- changes -------------------------------------------------------------------------------

    def set(self, indices, stride, padding, dilation, bias):
        """``fconv_conv_set``: lists of ``order`` ints, and a float32 bias or None."""
        layer, layer_ndim = layer_argument(indices)
        self._geometry = None
        bias_ptr, bias_count = None, 0
        if bias is not None:
            bias_ptr, bias_count = _lib.float_pointer(bias), bias.size
        _lib.check(_lib.lib.fconv_conv_set(
            self.live(), layer, layer_ndim, int64_array(stride), int64_array(padding),
            int64_array(dilation), len(stride), bias_ptr, bias_count))

    def transduct(self, kernel_size, mode, padding, stride, dilation):
        """``fconv_conv_transduct``."""
        self._geometry = None
        _lib.check(_lib.lib.fconv_conv_transduct(self.live(), kernel_size, mode, padding, stride,
                                                 dilation))

    def set_implementation(self, code):
        """``fconv_conv_set_implementation`` with an FCONV_IMPL_* value."""
        _lib.check(_lib.lib.fconv_conv_set_implementation(self.live(), code))

    # -- forward -------------------------------------------------------------------------------

    def geometry(self):
        """The layer's sizes and geometry (``_Geometry``), read once and kept until ``set`` or
        ``transduct`` through this handle, or a forward that finds them stale (changed through
        another handle: its shape check fails and they are read again)."""
        geometry = self._geometry
        if geometry is None:
            geometry = self._geometry = _Geometry(self)
        return geometry

    def kernel_volume(self):
        """The product of the kernel size (a stale value only moves the choice of an
        interruptible call)."""
        return self.geometry().kernel_volume

    def output_shape(self, x_shape, layer, layer_ndim):
        """``fconv_conv_output_shape`` for an int64 ctypes shape."""
        ndim = len(x_shape)
        out = (ctypes.c_int64 * max(ndim, 1))()
        _lib.check(_lib.lib.fconv_conv_output_shape(self.live(), x_shape, ndim, layer,
                                                    layer_ndim, out, len(out)))
        return tuple(out[:ndim])

    def forward(self, x, indices):
        """Runs layer ``indices`` on ``x`` (a float32 C-contiguous array): a new float32 array."""
        ptr = self.live()
        try:
            key = (x.shape, indices)
            call = self._forward_calls.get(key)
        except TypeError:   # unhashable indices (a list): nothing cached
            key, call = None, None
        for attempt in range(_SHAPE_ATTEMPTS):
            if call is None:
                call = self._forward_call(x.shape, indices, ask_library=attempt > 0)
            x_shape, layer, layer_ndim, out_shape, y_shape, interruptible = call
            y = np.empty(out_shape, dtype=np.float32)
            args = (ptr, _lib.float_argument(x), x_shape, x.ndim, layer, layer_ndim,
                    _lib.float_argument(y), y_shape, len(out_shape))
            if interruptible:
                status, message = _lib.call_interruptibly(_lib.lib.fconv_conv_forward_shaped, *args)
            else:
                status, message = _lib.lib.fconv_conv_forward_shaped(*args), None
            if status != ERR_SHAPE_MISMATCH:
                break
            # The layer changed since the shape was computed (or the input is wrong, which the
            # library's shape query reports): ask the library and retry.
            self._geometry = None
            call = None
        _lib.check(status, message)
        if key is not None and self._forward_calls.get(key) is not call:
            if len(self._forward_calls) >= _SHAPE_CACHE_SIZE:
                self._forward_calls.clear()
            self._forward_calls[key] = call
        return y

    def _forward_call(self, x_shape, indices, ask_library):
        """What a forward on inputs of shape ``x_shape`` passes besides the two buffers, built
        once per (shape, indices) (the ctypes arrays cost more than the rest of a small call):
        (input shape array, layer indices array, their count, output shape, output shape array,
        whether to run interruptibly). The output shape comes from the cached geometry, or from
        the library when ``ask_library`` (after a shape mismatch) or near the memory bound."""
        layer, layer_ndim = layer_argument(indices)
        x_array = int64_array(x_shape)
        out_shape = None if ask_library else self.geometry().output_shape(x_shape, indices)
        # Never allocate an output the library would refuse: beyond the memory bound, the shape
        # query reports it (as fconv_conv_output_shape does, before allocating).
        if out_shape is not None and 4 * math.prod(out_shape) > _lib.lib.fconv_get_memory_limit():
            out_shape = None
        if out_shape is None:
            out_shape = self.output_shape(x_array, layer, layer_ndim)
        interruptible = math.prod(out_shape) * x_shape[1] * self.kernel_volume() >= _lib.INTERRUPTIBLE_MACS
        return x_array, layer, layer_ndim, out_shape, int64_array(out_shape), interruptible


class _Geometry:
    """What a forward's output shape follows from, read from the library in one go (6 calls): the
    output channels, kernel size, the grid's shape, and the stride, padding and dilation of each
    layer (one row for a sub-convolution)."""

    def __init__(self, handle):
        self.out_channels = handle.ints("out_channels")[0]
        self.kernel_size = handle.ints("kernel_size")
        self.kernel_volume = math.prod(self.kernel_size)
        self.grid = handle.ints("n_layers")
        order = len(self.kernel_size)
        rows = [handle.ints(key) for key in ("stride", "padding", "dilation")]
        self.rows = [tuple(values[i:i + order] for values in rows)
                     for i in range(0, len(rows[0]), order)]

    def output_shape(self, x_shape, indices):
        """The output shape of layer ``indices`` for an input of shape ``x_shape`` (PyTorch's
        convolution arithmetic), or None when the library must judge the arguments (a wrong
        rank or index, an input smaller than the kernel): its shape query then reports them.
        The library checks the shape again in the forward itself."""
        order = len(self.kernel_size)
        if len(x_shape) != order + 2:
            return None
        row = self._row(indices)
        if row is None:
            return None
        stride, padding, dilation = self.rows[row]
        spatial = []
        for size, k, s, p, d in zip(x_shape[2:], self.kernel_size, stride, padding, dilation):
            out = (size + 2 * p - d * (k - 1) - 1) // s + 1
            if out < 1:
                return None
            spatial.append(out)
        return (x_shape[0], self.out_channels, *spatial)

    def _row(self, indices):
        """The geometry row of ``indices`` (already normalized by the layer), or None. A
        sub-convolution (indices None) has the one row of its layer."""
        if indices is None or not self.grid:
            return 0 if len(self.rows) == 1 and indices in (None, 0, ()) else None
        if type(indices) is int:
            indices = (indices,)
        if not isinstance(indices, tuple) or len(indices) != len(self.grid):
            return None
        flat = 0
        for index, size in zip(indices, self.grid):
            if type(index) is not int or not 0 <= index < size:
                return None
            flat = flat * size + index
        return flat if flat < len(self.rows) else None


def float32_bias(bias, name="bias"):
    """A bias given to ``set`` as a float32 vector (anything 1-D; the library checks its length)."""
    bias = as_float32(bias, name)
    if bias.ndim != 1:
        raise ShapeMismatchError("%s must have shape (out_channels,), got %s" % (name, bias.shape))
    return bias


def checked_std(std):
    """``std`` for reset_parameters as a float (the library checks that it is finite and >= 0)."""
    if is_bool(std) or not isinstance(std, numbers.Real):
        raise InvalidArgumentError("std must be a float, got %r" % (std,))
    return float(std)


"""``factorconv.FactorizedConv``: tltorch's FactorizedConv over the C ABI, numpy in, numpy out.

The constructor, classmethods, methods and attributes have tltorch's names, signatures,
positional order and defaults (README "Coming from tltorch" lists every difference); FactorConv's
own additions (``seed``, ``progress``, ``save`` / ``load``, ``reconstruct_kernel``,
``implementation='auto'``, ...) are keyword-only or new names. The native layer is owned by a
``_handle.ConvHandle``; this module turns arguments into its calls.
"""

import numpy as np

from . import _build, _state, tensors
from ._build import GEOMETRY
from ._constants import FACTORIZATION_NAMES, IMPLEMENTATIONS, IMPLEMENTATION_NAMES
from ._convert import geometry_list, normalize_indices, tensor_float32, to_int, to_ints
from ._errors import InvalidArgumentError
from ._handle import ConvHandle, checked_std, float32_bias
from ._options import seed_or_fresh
from ._state import IncompatibleKeys

__all__ = ["FactorizedConv", "SubFactorizedConv", "IncompatibleKeys"]


def _read_only(array):
    array.setflags(write=False)
    return array


class FactorizedConv:
    """A factorized N-D convolution (tltorch.FactorizedConv), computed by libfactorconv.

    ``FactorizedConv(in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
    dilation=1, bias=False, has_bias=False, n_layers=1, factorization='cp', rank='same',
    implementation='factorized', fixed_rank_modes=None, device=None, dtype=None, *, seed=None)``

    * kernel_size: an int (then ``order`` is required) or a sequence (``order`` is ignored).
    * stride / padding / dilation: an int, one int per spatial dimension, or an array of shape
      ``layers_shape + (order,)`` (one row per layer).
    * bias: whether a bias parameter (one row per layer) exists. has_bias: whether each layer of
      a grid applies it (tltorch's default False: a grid built with ``bias=True`` applies no
      bias until ``has_bias`` or ``set(i, bias=...)`` says so, with a warning); a single
      convolution applies its bias whenever it exists.
    * factorization: 'cp' | 'tucker' | 'tt' | 'dense' (case-insensitive), or a factorized tensor
      (as for ``from_factorization``).
    * implementation: 'factorized' | 'reconstructed' | 'mobilenet' (CP only) | 'auto' (ours: the
      cheapest for the layer and input shape).
    * rank: 'same' | a fraction of the dense parameter count (float) | int | per-mode tuple.
    * n_layers: an int or a tuple (a grid of layers sharing one factorization).
    * device: None or 'cpu'; dtype: None or float32 (nothing else exists here).
    * seed: the initialization seed (reconstruction ~ N(0, 0.02^2), bias 0); None draws a fresh
      one from numpy's global generator, so two layers differ unless seeded.

    ``conv(x, indices=0)`` runs layer ``indices`` on ``x`` (batch, in_channels, *spatial) and
    returns a new float32 array. ``close()`` or a ``with`` block releases the native layer (the
    garbage collector also does it).
    """

    _handle = None
    _input_rank = None

    def __init__(self, in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
                 dilation=1, bias=False, has_bias=False, n_layers=1, factorization="cp",
                 rank="same", implementation="factorized", fixed_rank_modes=None, device=None,
                 dtype=None, *, seed=None):
        handle, weight = _build.create(
            in_channels, out_channels, kernel_size, order, stride, padding, dilation, bias,
            has_bias, n_layers, factorization, rank, implementation, fixed_rank_modes, device,
            dtype, seed)
        self._adopt(handle, input_rank=rank)
        if weight is not None:
            self.load_state_dict(tensors.state_dict_of(weight), strict=False)

    # -- construction helpers ------------------------------------------------------------------

    def _adopt(self, handle, parent=None, input_rank=None):
        self._handle = handle
        self._parent = parent
        self._input_rank = input_rank

    @classmethod
    def _from_handle(cls, handle, input_rank=None):
        self = cls.__new__(cls)
        self._adopt(handle, input_rank=input_rank)
        return self

    @classmethod
    def from_conv(cls, conv_layer, rank="same", implementation="reconstructed",
                  factorization="cp", decompose_weights=True, decomposition_kwargs=None,
                  fixed_rank_modes=None, *, bias=None, stride=1, padding=0, dilation=1, seed=None,
                  progress=None, **kwargs):
        """Compresses a dense convolution (tltorch FactorizedConv.from_conv; same positional
        order and defaults).

        ``conv_layer`` is a ``torch.nn.Conv1d/2d/3d`` (or any object with ``.weight``,
        ``.bias``, ``.stride``, ``.padding``, ``.dilation``, ``.groups``), or a kernel array
        (out_channels, in_channels, *kernel), whose bias and geometry are then the keyword-only
        ``bias``, ``stride``, ``padding``, ``dilation``. The kernel is decomposed in float64
        (CP-ALS, Tucker-HOOI or TT-SVD) at ``rank`` unless ``decompose_weights`` is False (then
        the layer is initialized as ``reset_parameters`` does). Transposed and grouped
        convolutions are refused.

        decomposition_kwargs: tensorly's keywords (see ``factorconv._decomposition``), plus
        ``cp_regularization`` and ``n_restarts``. seed: the decomposition / initialization seed
        (None: fresh, or ``decomposition_kwargs['random_state']``). progress: None, True (a bar on
        stderr) or ``callable(iteration, error)`` returning False to cancel (CancelledError).
        kwargs: the constructor's ``has_bias``, ``device``, ``dtype``, ``order`` (as tltorch
        passes them on).
        """
        handle = _build.compress_conv(conv_layer, rank, implementation, factorization,
                                      decompose_weights, decomposition_kwargs, fixed_rank_modes,
                                      bias, stride, padding, dilation, seed, progress, kwargs)
        return cls._from_handle(handle, input_rank=rank)

    @classmethod
    def from_conv_list(cls, conv_list, rank="same", implementation="reconstructed",
                       factorization="cp", decompose_weights=True, decomposition_kwargs=None, *,
                       biases=None, stride=1, padding=0, dilation=1, fixed_rank_modes=None,
                       seed=None, progress=None, **kwargs):
        """Compresses several dense convolutions of one kernel shape into one layer grid
        (tltorch from_conv_list): ``n_layers = len(conv_list)``, one shared factorization, each
        layer with its own geometry and bias (applied where the convolution has one).

        Items are ConvNd-like objects or kernels (as for ``from_conv``); for kernels, ``biases``
        is None or one entry (None or out_channels values) per kernel, and ``stride`` /
        ``padding`` / ``dilation`` an int, one int per spatial dimension, or one such entry per
        kernel. Other arguments as for ``from_conv``.
        """
        handle = _build.compress_conv_list(conv_list, rank, implementation, factorization,
                                           decompose_weights, decomposition_kwargs, biases,
                                           stride, padding, dilation, fixed_rank_modes, seed,
                                           progress, kwargs)
        return cls._from_handle(handle, input_rank=rank)

    @classmethod
    def from_factorization(cls, factorization, implementation="factorized", stride=1, padding=0,
                           dilation=1, bias=None, n_layers=1):
        """A layer whose weight is a given factorized tensor (tltorch from_factorization; same
        positional order and defaults).

        ``factorization``: a tltorch FactorizedTensor (CPTensor, TuckerTensor, TTTensor,
        DenseTensor: read by duck typing, torch is not imported), a tensorly CPTensor /
        TuckerTensor / TTTensor, or ``factorconv.CPTensor(weights, factors)`` and its siblings
        (numpy factors). Its shape is ``layers + (out, in, *kernel)`` (TT: ``layers + (in,
        *kernel, out)``), with ``len(layers_shape(n_layers))`` layer modes. ``bias``: None or
        ``layers + (out,)`` values (a grid applies it only where has_bias is set, as tltorch).
        """
        tensor, in_channels, out_channels, kernel = _build.factorization_layout(factorization,
                                                                               n_layers)
        layer = cls(in_channels, out_channels, kernel, implementation=implementation,
                    stride=stride, padding=padding, dilation=dilation, bias=bias is not None,
                    n_layers=n_layers, factorization=tensor.name.lower(),
                    rank="same" if tensor.rank is None else tensor.rank, seed=0)
        state = tensors.state_dict_of(tensor)
        if bias is not None:
            state["bias"] = tensor_float32(bias, "bias")
        layer.load_state_dict(state)
        layer._input_rank = tensor.rank
        return layer

    # -- files and bytes -----------------------------------------------------------------------

    def save(self, path):
        """Saves the layer as one ``.safetensors`` file: the parameters under their state_dict
        names and the configuration in ``__metadata__`` (a sub-convolution saves its main
        layer). The file is replaced atomically. Raises fc.IOError when it cannot be written."""
        self._live().save(path)

    @classmethod
    def load(cls, path):
        """A layer from a ``.safetensors`` file written by ``save`` (or by the safetensors
        package with the same names and metadata). Raises fc.IOError (unreadable) or
        fc.FormatError (malformed or inconsistent file)."""
        return cls._from_handle(ConvHandle.load(path))

    def to_bytes(self):
        """The bytes of the layer's ``.safetensors`` file (what ``save`` writes): parameters
        and configuration, for keeping or sending a layer without a file."""
        return self._live().to_bytes()

    @classmethod
    def from_bytes(cls, data):
        """A layer from the bytes of a layer file (``to_bytes()``, or a file's contents); the
        checks of ``load``. Raises fc.FormatError for malformed or inconsistent bytes."""
        return cls._from_handle(ConvHandle.from_bytes(data))

    # -- copying and pickling: an independent layer made from the layer file's bytes ----------

    def __reduce__(self):
        return (_layer_from_bytes, (self.to_bytes(), self._input_rank))

    def __copy__(self):
        return _layer_from_bytes(self.to_bytes(), self._input_rank)

    def __deepcopy__(self, memo):
        return self.__copy__()

    # -- lifetime ------------------------------------------------------------------------------

    def close(self):
        """Releases the native layer (idempotent). A main layer freed before its
        sub-convolutions stays alive natively until the last of them is closed."""
        if self._handle is not None:
            self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        """True once ``close()`` was called."""
        return self._handle is None or self._handle.closed

    def _live(self):
        handle = self._handle
        if handle is None or handle.closed:
            raise InvalidArgumentError("conv: this FactorizedConv is closed")
        return handle

    # -- attributes (tltorch's) ----------------------------------------------------------------

    def _ints(self, key):
        return self._live().ints(key)

    @property
    def in_channels(self):
        """Input channels."""
        return self._ints("in_channels")[0]

    @property
    def out_channels(self):
        """Output channels."""
        return self._ints("out_channels")[0]

    @property
    def order(self):
        """The number of spatial dimensions."""
        return self._ints("order")[0]

    @property
    def kernel_size(self):
        """The kernel size per spatial dimension (a tuple)."""
        return tuple(self._ints("kernel_size"))

    @property
    def layers_shape(self):
        """The layer grid: () for a single convolution, (n,) or a tuple (tltorch's). Fixed for
        a layer's life: read with its geometry, which a forward reads too (no C call per
        forward for indexing a grid)."""
        return tuple(self._live().geometry().grid)

    @property
    def n_layers(self):
        """1 for a single convolution, an int for a 1-D grid, a tuple for a larger grid."""
        shape = self.layers_shape
        if not shape:
            return 1
        return shape[0] if len(shape) == 1 else shape

    @property
    def factorization(self):
        """'cp', 'tucker', 'tt' or 'dense'."""
        return FACTORIZATION_NAMES.get(self._ints("factorization")[0], "unknown")

    @property
    def implementation(self):
        """'factorized', 'reconstructed', 'mobilenet' or 'auto'; assign to change it."""
        return IMPLEMENTATION_NAMES.get(self._ints("implementation")[0], "unknown")

    @implementation.setter
    def implementation(self, value):
        self.set_implementation(value)

    def set_implementation(self, implementation):
        """Changes the forward implementation ('factorized' | 'reconstructed' | 'mobilenet' |
        'auto'). Raises UnsupportedError for an implementation the factorization lacks."""
        if not isinstance(implementation, str):
            raise InvalidArgumentError("implementation must be a string, got %r" % (implementation,))
        code = IMPLEMENTATIONS.get(implementation.lower())
        if code is None:
            raise InvalidArgumentError("implementation must be one of %s, got %r"
                                       % (", ".join(IMPLEMENTATIONS), implementation))
        self._live().set_implementation(code)
        return self

    @property
    def rank(self):
        """The current rank: an int (CP), a tuple (Tucker, TT), None (dense)."""
        values = self._ints("rank")
        if not values:
            return None
        return values[0] if self.factorization == "cp" else tuple(values)

    @property
    def input_rank(self):
        """The rank as requested when the layer was built (tltorch's ``input_rank``); None for
        a layer loaded from a file or bytes."""
        return self._input_rank

    @property
    def shape(self):
        """The factorized tensor's shape (layer modes first; TT layout for TT)."""
        return tuple(self._ints("shape"))

    @property
    def kernel_shape(self):
        """tltorch's ``kernel_shape``: (out_channels, in_channels, *kernel_size), in the TT
        layout (in_channels, *kernel_size, out_channels) for TT."""
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        if self.factorization == "tt":
            shape = shape[1:] + shape[:1]
        return shape

    def _geometry_rows(self, key):
        """The layer's ``key`` values as an int32 array of shape layers_shape + (order,)."""
        values = np.asarray(self._ints(key), dtype=np.int32)
        shape = self.layers_shape if self._parent is None else ()
        return values.reshape(tuple(shape) + (-1,))

    def _set_geometry(self, key, value):
        """Assigns ``key`` for every layer (the others keep their values)."""
        order = self.order
        shape = self.layers_shape if self._parent is None else ()
        target = np.broadcast_to(np.asarray(value), tuple(shape) + (order,))
        current = {name: self._geometry_rows(name) for name in GEOMETRY}
        current[key] = target
        for index in np.ndindex(*shape):
            rows = [np.asarray(current[name][index]).tolist() for name in GEOMETRY]
            self._live().set(index if shape else None, *rows, None)

    @property
    def stride(self):
        """Per-layer strides: a read-only int32 array of shape layers_shape + (order,) (assign
        a new value, or use ``set``, to change it)."""
        return _read_only(self._geometry_rows("stride"))

    @stride.setter
    def stride(self, value):
        self._set_geometry("stride", value)

    @property
    def padding(self):
        """Per-layer zero padding: a read-only int32 array of shape layers_shape + (order,)
        (assign a new value, or use ``set``, to change it)."""
        return _read_only(self._geometry_rows("padding"))

    @padding.setter
    def padding(self, value):
        self._set_geometry("padding", value)

    @property
    def dilation(self):
        """Per-layer dilation: a read-only int32 array of shape layers_shape + (order,) (assign
        a new value, or use ``set``, to change it)."""
        return _read_only(self._geometry_rows("dilation"))

    @dilation.setter
    def dilation(self, value):
        self._set_geometry("dilation", value)

    @property
    def has_bias(self):
        """Whether each layer applies its bias: a read-only int32 array of shape layers_shape
        (0-d for a single convolution, which applies its bias whenever it has one)."""
        values = np.asarray(self._ints("has_bias"), dtype=np.int32)
        shape = self.layers_shape if self._parent is None else ()
        return _read_only(values.reshape(shape))

    @property
    def n_parameters(self):
        """Scalars stored (factors, core/weights and bias)."""
        return self._ints("parameter_count")[0]

    @property
    def weight(self):
        """The factorized kernel as a read-only ``CPTensor`` / ``TuckerTensor`` / ``TTTensor`` /
        ``DenseTensor`` (tltorch's layouts; ``weight.to_tensor()``, ``weight[i]`` for grids).
        A snapshot: later changes of the layer do not change it."""
        state = self._live().state_dict()
        return tensors.from_state_dict(self.factorization, state)

    @property
    def bias(self):
        """The bias parameter (layers_shape + (out_channels,)) as a read-only copy, or None."""
        if not self._ints("bias_parameter")[0]:
            return None
        return _read_only(self._live().parameter("bias"))

    def chosen_implementation(self, x_shape, indices=0):
        """The implementation a forward of layer ``indices`` on an input of shape ``x_shape``
        would use (with 'auto': the one it picks)."""
        code = self._live().chosen_implementation(to_ints(x_shape, "x_shape"),
                                                  self._indices(indices))
        return IMPLEMENTATION_NAMES.get(code, "unknown")

    def extra_repr(self):
        """tltorch's ``extra_repr`` text (without its dangling ', ')."""
        return self._live().repr_text()

    def __repr__(self):
        if self.closed:
            return "FactorizedConv(<closed>)"
        weight_line = "(weight): %r" % (self.weight,)
        return "FactorizedConv(\n  %s\n  %s\n)" % (self.extra_repr().replace("\n", "\n  "),
                                                   weight_line)

    # -- forward -------------------------------------------------------------------------------

    def _indices(self, indices):
        return normalize_indices(indices, self.layers_shape) if self._parent is None else indices

    def forward(self, x, indices=0):
        """Runs layer ``indices`` (0 for a single convolution; an int, negative ones counted from
        the end, or a tuple for a grid) on ``x`` (batch, in_channels, *spatial) of any real dtype
        and layout; float32 C-contiguous input is used without a copy. Returns a new float32
        C-contiguous array."""
        if type(indices) is not int or indices < 0:     # a plain index >= 0 needs no lookup
            indices = self._indices(indices)
        return self._live().forward(tensor_float32(x, "x"), indices)

    def __call__(self, x, indices=0):
        return self.forward(x, indices)

    # -- parameters ----------------------------------------------------------------------------

    def state_dict(self):
        """``{name: float32 ndarray}`` with tltorch's names ('bias', 'weight.weights',
        'weight.core', 'weight.factors.factor_<i>', 'weight.tensor'); copies. A
        sub-convolution returns its main layer's parameters (as tltorch's shared ones)."""
        return self._live().state_dict()

    def load_state_dict(self, state_dict, strict=True):
        """Replaces parameters from ``{name: array}`` (numpy arrays or torch tensors, e.g. a
        tltorch state_dict as is), with torch's ``strict`` semantics: with ``strict`` a missing
        or unexpected name raises StateDictError (also a RuntimeError); without it, unexpected
        names are ignored and missing ones keep their values. Wrong shapes and NaN/Inf raise in
        either case; on any error nothing changes. A complete set of factors may change the
        rank. Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``."""
        return _state.load_state_dict(self._live(), state_dict, strict)

    def reconstruct_kernel(self, indices=None):
        """The dense kernel (out, in, *kernel_size) of layer ``indices``; with a grid and
        ``indices=None`` every layer stacked: (*layers, out, in, *kernel_size)."""
        return self._live().reconstruct_kernel(self._indices(indices))

    def reset_parameters(self, std=0.02, *, seed=None):
        """Re-initializes: reconstruction ~ N(0, std^2), bias 0. ``seed`` None draws fresh
        values (as torch does); an int reproduces them."""
        self._live().reset_parameters(checked_std(std), seed_or_fresh(seed))
        return self

    # -- layer grid ----------------------------------------------------------------------------

    def set(self, indices, stride=1, padding=0, dilation=1, bias=None):
        """Sets layer ``indices``'s stride, padding and dilation (unspecified values reset to
        1 / 0 / 1, as tltorch) and, if ``bias`` is given, its bias (which turns it on)."""
        order = self.order
        rows = [geometry_list(value, name, order)
                for name, value in zip(GEOMETRY, (stride, padding, dilation))]
        self._live().set(self._indices(indices), *rows,
                         None if bias is None else float32_bias(tensor_float32(bias, "bias")))
        return self

    def get_conv(self, indices):
        """The sub-convolution of layer ``indices`` (tltorch get_conv / conv[indices]; negative
        indices count from the end): it shares this layer's parameters and keeps the native
        layer alive."""
        indices = self._indices(indices)
        sub = SubFactorizedConv.__new__(SubFactorizedConv)
        sub._adopt(self._live().get_conv(indices), parent=self, input_rank=self._input_rank)
        sub.indices = indices
        return sub

    def __getitem__(self, indices):
        return self.get_conv(indices)

    def transduct(self, kernel_size, mode=0, padding=0, stride=1, dilation=1,
                  fine_tune_transduction_only=True):
        """Adds a spatial dimension of size ``kernel_size`` before spatial dimension ``mode``
        (tltorch transduct; CP/Tucker/Dense: the old kernel at the centre tap, TT: replicated).
        ``fine_tune_transduction_only`` is accepted for tltorch's signature (nothing trains
        here). Returns self."""
        args = [to_int(v, n) for v, n in ((kernel_size, "kernel_size"), (mode, "mode"),
                                          (padding, "padding"), (stride, "stride"),
                                          (dilation, "dilation"))]
        self._live().transduct(*args)
        return self


class SubFactorizedConv(FactorizedConv):
    """One layer of a FactorizedConv grid (tltorch SubFactorizedConv): ``sub(x)`` runs
    ``main_conv(x, indices)``. It shares the main layer's parameters; closing the main layer
    first is fine (the native layer lives until its last sub-convolution is closed)."""

    #: The layer of the main convolution this sub-convolution runs.
    indices = None

    def __init__(self, *args, **kwargs):
        raise TypeError("SubFactorizedConv objects come from FactorizedConv.get_conv(indices)")

    @property
    def main_conv(self):
        """The FactorizedConv this sub-convolution came from."""
        return self._parent

    def __reduce__(self):
        # The main layer travels whole (the parameters are shared), then the same sub-convolution.
        return (_sub_layer_from_bytes, (self.to_bytes(), self._input_rank, self.indices))

    def __copy__(self):
        return _sub_layer_from_bytes(self.to_bytes(), self._input_rank, self.indices)

    def forward(self, x, indices=None):
        """Runs this layer on ``x`` (``indices`` must stay None: a sub-convolution is one layer)."""
        return self._live().forward(tensor_float32(x, "x"), indices)

    def __call__(self, x, indices=None):
        return self.forward(x, indices)

    def reconstruct_kernel(self, indices=None):
        """This layer's dense kernel (out, in, *kernel_size)."""
        return self._live().reconstruct_kernel(indices)

    def chosen_implementation(self, x_shape, indices=None):
        """The implementation a forward on ``x_shape`` would use."""
        code = self._live().chosen_implementation(to_ints(x_shape, "x_shape"), indices)
        return IMPLEMENTATION_NAMES.get(code, "unknown")

    def __repr__(self):
        if self.closed:
            return "SubFactorizedConv(<closed>)"
        return self._live().repr_text()


def _layer_from_bytes(data, input_rank=None):
    """Unpickles a FactorizedConv (module level, so that pickle can name it)."""
    layer = FactorizedConv.from_bytes(data)
    layer._input_rank = input_rank
    return layer


def _sub_layer_from_bytes(data, input_rank, indices):
    """Unpickles a SubFactorizedConv: its main layer, then the sub-convolution."""
    return _layer_from_bytes(data, input_rank).get_conv(indices)

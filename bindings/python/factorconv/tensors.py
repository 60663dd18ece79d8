"""Factorized tensors as numpy values: ``CPTensor``, ``TuckerTensor``, ``TTTensor``,
``DenseTensor`` — what ``FactorizedConv.weight`` returns (a read-only view of the layer's
parameters) and what ``FactorizedConv.from_factorization`` takes.

They have the members of tltorch's FactorizedTensor that read a factorization: ``name``,
``shape``, ``rank``, ``order``, ``ndim``, ``dim()``, ``numel()``, ``size()``, ``factors`` /
``weights`` / ``core`` / ``tensor``, ``decomposition``, ``to_tensor()``, ``tensor[indices]`` and
``tensor(indices)``; the arrays are read-only float32 copies. ``as_factorized_tensor`` reads any
object shaped like one (tltorch's FactorizedTensor, tensorly's CPTensor / TuckerTensor /
TTTensor, these classes) without importing torch or tensorly.
"""

import functools

import numpy as np

from . import _tensor_math as tm
from ._convert import to_numpy
from ._errors import InvalidArgumentError, ShapeMismatchError

__all__ = ["FactorizedTensor", "CPTensor", "TuckerTensor", "TTTensor", "DenseTensor",
           "as_factorized_tensor"]

_einsum = functools.partial(np.einsum, optimize=True)


def _frozen(value, name):
    """A read-only float32 copy of an array-like or torch-like tensor."""
    array = to_numpy(value)
    if array.dtype.kind not in "biuf":
        raise InvalidArgumentError("%s must hold real numbers, got dtype %s" % (name, array.dtype))
    array = np.array(array, dtype=np.float32, copy=True)
    array.setflags(write=False)
    return array


class FactorizedTensor:
    """Base class: a tensor held in factorized form (read-only)."""

    #: tltorch's registry name of the factorization ('CP', 'Tucker', 'TT', 'Dense').
    name = None

    @property
    def shape(self):
        """The full tensor's shape (a tuple)."""
        raise NotImplementedError

    @property
    def rank(self):
        """The rank: an int (CP), a tuple (Tucker, TT), None (Dense)."""
        raise NotImplementedError

    @property
    def order(self):
        """The number of modes (``len(shape)``)."""
        return len(self.shape)

    @property
    def ndim(self):
        """The number of modes (``len(shape)``)."""
        return len(self.shape)

    def dim(self):
        """The number of modes (``len(shape)``)."""
        return len(self.shape)

    def numel(self):
        """The number of entries of the full tensor."""
        return int(np.prod(self.shape))

    def size(self, index=None):
        """``shape``, or ``shape[index]``."""
        return self.shape if index is None else self.shape[index]

    @property
    def tensor_shape(self):
        """``shape`` (tltorch's alias)."""
        return self.shape

    def to_tensor(self):
        """The full tensor, a new float32 array."""
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None):
        tensor = self.to_tensor()
        return tensor if dtype is None else tensor.astype(dtype)

    def __getitem__(self, indices):
        raise NotImplementedError

    def __call__(self, indices=None):
        """``self``, or ``self[indices]`` (tltorch's ``forward``)."""
        return self if indices is None else self[indices]

    def __repr__(self):
        return "%s(shape=%s, rank=%s)" % (type(self).__name__, self.shape, self.rank)


class CPTensor(FactorizedTensor):
    """A CP tensor: ``sum_r weights[r] * factors[0][:, r] o factors[1][:, r] o ...``.

    Args:
        weights: (R,) values.
        factors: one (I_i, R) matrix per mode.
    """

    name = "CP"

    def __init__(self, weights, factors):
        self._weights = _frozen(weights, "weights")
        self._factors = tuple(_frozen(f, "factors[%d]" % i) for i, f in enumerate(factors))
        rank = self._weights.shape[0] if self._weights.ndim == 1 else None
        if rank is None or not self._factors or any(
                f.ndim != 2 or f.shape[1] != rank for f in self._factors):
            raise ShapeMismatchError("a CP tensor needs weights (R,) and factors (I_i, R); got "
                                     "weights %s and factors %s" % (self._weights.shape,
                                                                   [f.shape for f in self._factors]))

    @property
    def weights(self):
        """The (R,) weights."""
        return self._weights

    @property
    def factors(self):
        """The (I_i, R) factors, one per mode."""
        return self._factors

    @property
    def decomposition(self):
        """(weights, factors), as tltorch's."""
        return self._weights, self._factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the factors' row counts."""
        return tuple(f.shape[0] for f in self._factors)

    @property
    def rank(self):
        """R, the number of weights."""
        return int(self._weights.shape[0])

    def to_tensor(self):
        """The full tensor, sum over r of weights[r] times the outer product of the factors' columns r."""
        return tm.cp_to_tensor(self._weights, self._factors).astype(np.float32)

    def __getitem__(self, indices):
        result = tm.cp_index(self._weights, self._factors, indices)
        if isinstance(result, tuple):
            return CPTensor(*result)
        return np.float32(result)


class TuckerTensor(FactorizedTensor):
    """A Tucker tensor: ``core x_0 factors[0] x_1 factors[1] ...``.

    Args:
        core: (R_0, ..., R_N-1) values.
        factors: one (I_i, R_i) matrix per mode.
    """

    name = "Tucker"

    def __init__(self, core, factors):
        self._core = _frozen(core, "core")
        self._factors = tuple(_frozen(f, "factors[%d]" % i) for i, f in enumerate(factors))
        if (not self._factors or self._core.ndim != len(self._factors)
                or any(f.ndim != 2 or f.shape[1] != r for f, r in zip(self._factors, self._core.shape))):
            raise ShapeMismatchError("a Tucker tensor needs a core (R_0, ..., R_N-1) and factors "
                                     "(I_i, R_i); got core %s and factors %s"
                                     % (self._core.shape, [f.shape for f in self._factors]))

    @property
    def core(self):
        """The core tensor."""
        return self._core

    @property
    def factors(self):
        """The (I_i, R_i) factors, one per mode."""
        return self._factors

    @property
    def decomposition(self):
        """(core, factors), as tltorch's."""
        return self._core, self._factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the factors' row counts."""
        return tuple(f.shape[0] for f in self._factors)

    @property
    def rank(self):
        """The core's shape."""
        return tuple(int(r) for r in self._core.shape)

    def to_tensor(self):
        """The full tensor, the core multiplied by each factor along its mode."""
        return tm.tucker_to_tensor(self._core, self._factors, _einsum).astype(np.float32)

    def __getitem__(self, indices):
        result = tm.tucker_index(self._core, self._factors, indices, _einsum)
        if isinstance(result, tuple):
            return TuckerTensor(*result)
        return np.float32(result)


class TTTensor(FactorizedTensor):
    """A tensor train: ``T[i_0, ..., i_N-1] = G_0[0, i_0, :] G_1[:, i_1, :] ... G_N-1[:, i_N-1, 0]``.

    Args:
        factors: the cores, (R_i, I_i, R_i+1) each, with R_0 = R_N = 1.
    """

    name = "TT"

    def __init__(self, factors):
        self._factors = tuple(_frozen(f, "factors[%d]" % i) for i, f in enumerate(factors))
        f = self._factors
        if (not f or any(c.ndim != 3 for c in f) or f[0].shape[0] != 1 or f[-1].shape[2] != 1
                or any(a.shape[2] != b.shape[0] for a, b in zip(f, f[1:]))):
            raise ShapeMismatchError("a TT tensor needs cores (R_i, I_i, R_i+1) with R_0 = R_N = 1; "
                                     "got %s" % [c.shape for c in f])

    @property
    def factors(self):
        """The (R_i, I_i, R_i+1) cores."""
        return self._factors

    @property
    def decomposition(self):
        """The cores, as tltorch's."""
        return self._factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the cores' middle sizes."""
        return tuple(f.shape[1] for f in self._factors)

    @property
    def rank(self):
        """(1, R_1, ..., 1): the cores' bond sizes."""
        return tuple(int(f.shape[0]) for f in self._factors) + (1,)

    def to_tensor(self):
        """The full tensor, the cores contracted along their bonds."""
        return tm.tt_to_tensor(self._factors).astype(np.float32)

    def __getitem__(self, indices):
        result = tm.tt_index(self._factors, indices)
        if isinstance(result, list):
            return TTTensor(result)
        return np.float32(result)


class DenseTensor(FactorizedTensor):
    """A tensor stored as is (tltorch's 'Dense' factorization)."""

    name = "Dense"

    def __init__(self, tensor):
        self._tensor = _frozen(tensor, "tensor")

    @property
    def tensor(self):
        """The tensor."""
        return self._tensor

    @property
    def decomposition(self):
        """The tensor, as tltorch's."""
        return self._tensor

    @property
    def shape(self):
        """The tensor's shape."""
        return tuple(self._tensor.shape)

    @property
    def rank(self):
        """None (a dense tensor has no rank)."""
        return None

    def to_tensor(self):
        """The tensor itself."""
        return self._tensor

    def __getitem__(self, indices):
        result = self._tensor[indices]
        return DenseTensor(result) if np.ndim(result) else np.float32(result)


_CLASSES = {"cp": CPTensor, "tucker": TuckerTensor, "tt": TTTensor, "dense": DenseTensor}


def factorization_name(tensor):
    """'cp', 'tucker', 'tt' or 'dense' for a factorized-tensor-like object, or None: its
    ``name`` / ``_name`` (tltorch, these classes), else its class name (tensorly's CPTensor, ...)."""
    for attribute in ("name", "_name"):
        name = getattr(tensor, attribute, None)
        if isinstance(name, str) and name.lower() in _CLASSES:
            return name.lower()
    class_name = type(tensor).__name__.lower()
    if class_name.endswith("tensor") and class_name[:-len("tensor")] in _CLASSES:
        return class_name[:-len("tensor")]
    return None


def as_factorized_tensor(tensor):
    """One of this module's classes holding float32 copies of ``tensor``'s parameters: a
    tltorch FactorizedTensor (its tensors through ``.detach().cpu()``), a tensorly CPTensor /
    TuckerTensor / TTTensor, or an instance of these classes (returned as is)."""
    if isinstance(tensor, FactorizedTensor):
        return tensor
    name = factorization_name(tensor)
    if name is None:
        raise InvalidArgumentError(
            "factorization must be a factorized tensor (tltorch's CPTensor / TuckerTensor / "
            "TTTensor / DenseTensor, tensorly's, or factorconv.CPTensor, ...), got %s"
            % type(tensor).__name__)
    if name == "dense":
        return DenseTensor(tensor.tensor if hasattr(tensor, "tensor") else tensor.to_tensor())
    factors = [to_numpy(f) for f in tensor.factors]
    if name == "cp":
        weights = getattr(tensor, "weights", None)
        if weights is None:
            weights = np.ones(factors[0].shape[1], dtype=np.float32)
        return CPTensor(weights, factors)
    if name == "tucker":
        return TuckerTensor(tensor.core, factors)
    return TTTensor(factors)


def kernel_shape(tensor, n_layer_modes):
    """(layers_shape, (out_channels, in_channels, *kernel_size)) of a factorized conv weight with
    ``n_layer_modes`` leading layer modes; a TT weight is laid out (layers, C_in, K..., C_out)."""
    shape = tensor.shape
    layers, kernel = shape[:n_layer_modes], shape[n_layer_modes:]
    if tensor.name == "TT":
        kernel = kernel[-1:] + kernel[:-1]
    if len(kernel) < 3:
        raise ShapeMismatchError("a convolution weight needs (out_channels, in_channels, kernel...) "
                                 "after %d layer mode(s); the tensor has shape %s"
                                 % (n_layer_modes, shape))
    return tuple(layers), tuple(kernel)


def state_dict_of(tensor):
    """The ``weight.*`` state_dict entries of a factorized tensor (tltorch's names)."""
    if tensor.name == "Dense":
        return {"weight.tensor": tensor.tensor}
    state = {"weight.factors.factor_%d" % i: f for i, f in enumerate(tensor.factors)}
    if tensor.name == "CP":
        state["weight.weights"] = tensor.weights
    elif tensor.name == "Tucker":
        state["weight.core"] = tensor.core
    return state


def from_state_dict(name, state):
    """The factorized tensor of factorization ``name`` from a layer's state_dict (read-only:
    the arrays are marked so)."""
    if name == "dense":
        return DenseTensor(state["weight.tensor"])
    count = sum(1 for key in state if key.startswith("weight.factors.factor_"))
    factors = [state["weight.factors.factor_%d" % i] for i in range(count)]
    if name == "cp":
        return CPTensor(state["weight.weights"], factors)
    if name == "tucker":
        return TuckerTensor(state["weight.core"], factors)
    return TTTensor(factors)

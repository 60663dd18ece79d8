"""Factorized tensors as ``torch.nn.Module``s with tltorch's layout and state_dict names: the
``weight`` of ``factorconv.torch.FactorizedConv``.

``CPTensor`` (``weights``, ``factors.factor_<i>``), ``TuckerTensor`` (``core``,
``factors.factor_<i>``), ``TTTensor`` (``factors.factor_<i>``), ``DenseTensor`` (``tensor``):
the members of tltorch's FactorizedTensor that read a factorization (``name``, ``shape``,
``rank``, ``order``, ``to_tensor()``, ``tensor[indices]``, ``tensor(indices)``, ...), computed
with torch from the parameters. Loading a state_dict whose parameters form a factorization of
another rank resizes them (tltorch would report a size mismatch).
"""

import math

import numpy as np
import torch
from torch import nn

from .. import _tensor_math as tm
from .. import tensors as numpy_tensors


def _register(module, name, value):
    """A Parameter as a parameter, any other tensor (an indexing result) as a buffer."""
    if isinstance(value, nn.Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def frozen_parameter(value):
    """A float32 CPU Parameter without gradients (the adapter computes no gradients)."""
    if torch.is_tensor(value):
        return nn.Parameter(value.detach().to(torch.float32).clone(), requires_grad=False)
    return nn.Parameter(torch.from_numpy(np.array(value, dtype=np.float32)), requires_grad=False)


class FactorList(nn.Module):
    """tltorch's FactorList: ``factor_0``, ``factor_1``, ... as parameters (or buffers),
    indexable, iterable and sized."""

    def __init__(self, factors=()):
        super().__init__()
        self._count = 0
        for factor in factors:
            _register(self, "factor_%d" % self._count, factor)
            self._count += 1

    def __getitem__(self, index):
        items = [getattr(self, "factor_%d" % i) for i in range(self._count)]
        return items[index]

    def __len__(self):
        return self._count

    def __iter__(self):
        return (getattr(self, "factor_%d" % i) for i in range(self._count))

    def extra_repr(self):
        """One line per factor: its name and size."""
        return "\n".join("  (factor_%d): Parameter of size %s" % (i, "x".join(map(str, f.shape)))
                         for i, f in enumerate(self))


class FactorizedTensor(nn.Module):
    """Base class: a tensor in factorized form, its parameters registered on the module."""

    #: tltorch's registry name ('CP', 'Tucker', 'TT', 'Dense').
    _name = None

    @property
    def name(self):
        """The factorization's name ('CP', 'Tucker', 'TT', 'Dense')."""
        return self._name

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
        """The number of modes."""
        return len(self.shape)

    @property
    def ndim(self):
        """The number of modes."""
        return len(self.shape)

    @property
    def tensor_shape(self):
        """``shape`` (tltorch's alias)."""
        return self.shape

    def dim(self):
        """The number of modes."""
        return len(self.shape)

    def numel(self):
        """The number of entries of the full tensor."""
        return math.prod(self.shape)

    def size(self, index=None):
        """``shape``, or ``shape[index]``."""
        return self.shape if index is None else self.shape[index]

    def forward(self, indices=None):
        """``self``, or ``self[indices]`` (tltorch's forward)."""
        return self if indices is None else self[indices]

    def to_tensor(self):
        """The full tensor (a new torch tensor)."""
        raise NotImplementedError

    def numpy_view(self):
        """The same factorization as a read-only ``factorconv.tensors`` value (copies)."""
        raise NotImplementedError

    def __repr__(self):
        return "%s(shape=%s, rank=%s)" % (type(self).__name__, self.shape, self.rank)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # A complete set of parameters of another (consistent) rank: resize ours first, then
        # torch copies the values in. Parameter objects are kept.
        names = [name for name, _ in self.named_parameters()]
        given = {name: state_dict.get(prefix + name) for name in names}
        if all(torch.is_tensor(v) for v in given.values()) and any(
                tuple(v.shape) != tuple(p.shape)
                for v, (_, p) in zip(given.values(), self.named_parameters())):
            try:
                type(self).numpy_type(given)
            except ValueError:
                pass           # inconsistent shapes: torch reports the size mismatch
            else:
                for name, parameter in self.named_parameters():
                    parameter.data = torch.empty(tuple(given[name].shape), dtype=parameter.dtype,
                                                 device=parameter.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _factor_values(given, prefix="factors.factor_"):
    count = sum(1 for name in given if name.startswith(prefix))
    return [given[prefix + str(i)].detach().numpy() for i in range(count)]


class CPTensor(FactorizedTensor):
    """A CP tensor: ``weights`` (R,) and ``factors`` (I_i, R)."""

    _name = "CP"

    def __init__(self, weights, factors):
        super().__init__()
        _register(self, "weights", weights)
        self.factors = FactorList(factors)

    @staticmethod
    def numpy_type(given):
        """The numpy tensor of named parameter values (checks their shapes)."""
        return numpy_tensors.CPTensor(given["weights"].detach().numpy(), _factor_values(given))

    @property
    def decomposition(self):
        """(weights, factors)."""
        return self.weights, self.factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the factors' row counts."""
        return tuple(int(f.shape[0]) for f in self.factors)

    @property
    def rank(self):
        """R, the number of weights."""
        return int(self.weights.shape[0])

    def to_tensor(self):
        """The full tensor, sum over r of weights[r] times the outer product of the factors' columns r."""
        return tm.cp_to_tensor(self.weights, list(self.factors))

    def __getitem__(self, indices):
        result = tm.cp_index(self.weights, list(self.factors), indices)
        return CPTensor(*result) if isinstance(result, tuple) else result

    def numpy_view(self):
        """The same CP tensor as a read-only factorconv.CPTensor (copies)."""
        return numpy_tensors.CPTensor(self.weights.detach(), [f.detach() for f in self.factors])


class TuckerTensor(FactorizedTensor):
    """A Tucker tensor: ``core`` (R_0, ...) and ``factors`` (I_i, R_i)."""

    _name = "Tucker"

    def __init__(self, core, factors):
        super().__init__()
        _register(self, "core", core)
        self.factors = FactorList(factors)

    @staticmethod
    def numpy_type(given):
        """The numpy tensor of named parameter values (checks their shapes)."""
        return numpy_tensors.TuckerTensor(given["core"].detach().numpy(), _factor_values(given))

    @property
    def decomposition(self):
        """(core, factors)."""
        return self.core, self.factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the factors' row counts."""
        return tuple(int(f.shape[0]) for f in self.factors)

    @property
    def rank(self):
        """The core's shape."""
        return tuple(int(r) for r in self.core.shape)

    def to_tensor(self):
        """The full tensor, the core multiplied by each factor along its mode."""
        return tm.tucker_to_tensor(self.core, list(self.factors), torch.einsum)

    def __getitem__(self, indices):
        result = tm.tucker_index(self.core, list(self.factors), indices, torch.einsum)
        return TuckerTensor(*result) if isinstance(result, tuple) else result

    def numpy_view(self):
        """The same Tucker tensor as a read-only factorconv.TuckerTensor (copies)."""
        return numpy_tensors.TuckerTensor(self.core.detach(), [f.detach() for f in self.factors])


class TTTensor(FactorizedTensor):
    """A tensor train: cores ``factors`` (R_i, I_i, R_i+1), R_0 = R_N = 1."""

    _name = "TT"

    def __init__(self, factors):
        super().__init__()
        self.factors = FactorList(factors)

    @staticmethod
    def numpy_type(given):
        """The numpy tensor of named parameter values (checks their shapes)."""
        return numpy_tensors.TTTensor(_factor_values(given))

    @property
    def decomposition(self):
        """The cores."""
        return self.factors

    @property
    def shape(self):
        """(I_0, I_1, ...): the cores' middle sizes."""
        return tuple(int(f.shape[1]) for f in self.factors)

    @property
    def rank(self):
        """(1, R_1, ..., 1): the cores' bond sizes."""
        return tuple(int(f.shape[0]) for f in self.factors) + (1,)

    def to_tensor(self):
        """The full tensor, the cores contracted along their bonds."""
        return tm.tt_to_tensor(list(self.factors))

    def __getitem__(self, indices):
        result = tm.tt_index(list(self.factors), indices)
        return TTTensor(result) if isinstance(result, list) else result

    def numpy_view(self):
        """The same tensor train as a read-only factorconv.TTTensor (copies)."""
        return numpy_tensors.TTTensor([f.detach() for f in self.factors])


class DenseTensor(FactorizedTensor):
    """A tensor stored as is (``tensor``)."""

    _name = "Dense"

    def __init__(self, tensor):
        super().__init__()
        _register(self, "tensor", tensor)

    @staticmethod
    def numpy_type(given):
        """The numpy tensor of named parameter values."""
        return numpy_tensors.DenseTensor(given["tensor"].detach().numpy())

    @property
    def decomposition(self):
        """The tensor."""
        return self.tensor

    @property
    def shape(self):
        """The tensor's shape."""
        return tuple(self.tensor.shape)

    @property
    def rank(self):
        """None (a dense tensor has no rank)."""
        return None

    def to_tensor(self):
        """The tensor itself."""
        return self.tensor

    def __getitem__(self, indices):
        result = self.tensor[indices]
        return DenseTensor(result) if result.ndim else result

    def numpy_view(self):
        """The same tensor as a read-only factorconv.DenseTensor (a copy)."""
        return numpy_tensors.DenseTensor(self.tensor.detach())


def from_numpy_tensor(tensor):
    """The module of a ``factorconv.tensors`` value, its arrays as frozen Parameters."""
    name = tensor.name.lower()
    if name == "dense":
        return DenseTensor(frozen_parameter(tensor.tensor))
    factors = [frozen_parameter(f) for f in tensor.factors]
    if name == "cp":
        return CPTensor(frozen_parameter(tensor.weights), factors)
    if name == "tucker":
        return TuckerTensor(frozen_parameter(tensor.core), factors)
    return TTTensor(factors)

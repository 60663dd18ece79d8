"""The way back to training: FactorConv layers as ``tltorch.FactorizedConv`` modules with the same
factors, and a helper that puts them into a torch model.

    to_tltorch(layer)                    one layer -> tltorch.FactorizedConv
    to_tltorch_model(model, layers=None) named submodules (or every factorconv.torch layer) of a
                                         model replaced by tltorch layers, in place

The loop they close: compress (from_conv, a saved layer file) -> to_tltorch_model -> fine-tune
with tltorch (autograd) -> ``factorconv.torch.convert(model)`` -> FactorConv inference.
"""

import numpy as np
import torch

from .. import layer as numpy_layer
from ._conv import FactorizedConv, SubFactorizedConv
from ._module_tree import replace_children


def _tltorch():
    try:
        import tltorch
    except ImportError as error:   # pragma: no cover - exercised only without tltorch
        raise ImportError("to_tltorch needs tltorch (pip install tensorly-torch)") from error
    return tltorch


def _tltorch_implementation(implementation, factorization):
    """tltorch has no 'auto' (ours): every path computes the same convolution, so 'auto' becomes
    tltorch's default 'factorized' ('reconstructed' for Dense, which has only that path)."""
    if factorization == "dense":
        return "reconstructed"
    return "factorized" if implementation == "auto" else implementation


def _int_array(value, shape):
    """A writable int32 copy of a geometry / has_bias array, in tltorch's shape."""
    return np.array(np.broadcast_to(np.asarray(value, dtype=np.int32), shape))


def to_tltorch(layer):
    """A ``tltorch.FactorizedConv`` with the configuration and parameters of ``layer`` (a
    ``factorconv.torch.FactorizedConv`` or a numpy ``factorconv.FactorizedConv``): the same
    factorization and rank, factors, bias, stride, padding, dilation, has_bias and n_layers, so
    that it computes the same convolution; its parameters require gradients (tltorch's default),
    ready to be trained. Its implementation is the layer's ('auto' becomes 'factorized').

    A sub-convolution (``layer[i]``) is refused: convert its main layer. The result is
    independent of ``layer`` (copies, not shared storage).
    """
    if isinstance(layer, (SubFactorizedConv, numpy_layer.SubFactorizedConv)):
        raise TypeError("to_tltorch takes a whole layer; for a sub-convolution convert its "
                        "main_conv and take get_conv(indices) of the result")
    if isinstance(layer, FactorizedConv):
        state = {name: value.detach().clone() for name, value in layer.state_dict().items()}
        factorization = layer.weight.name.lower()
    elif isinstance(layer, numpy_layer.FactorizedConv):
        state = {name: torch.from_numpy(np.array(value)) for name, value in
                 layer.state_dict().items()}
        factorization = layer.factorization
    else:
        raise TypeError("to_tltorch takes a factorconv.torch.FactorizedConv or a "
                        "factorconv.FactorizedConv, not %s" % type(layer).__name__)
    layers_shape = tuple(layer.layers_shape)
    geometry_shape = layers_shape + (layer.order,)
    tltorch = _tltorch()
    converted = tltorch.FactorizedConv(
        layer.in_channels, layer.out_channels, tuple(layer.kernel_size),
        stride=_int_array(layer.stride, geometry_shape),
        padding=_int_array(layer.padding, geometry_shape),
        dilation=_int_array(layer.dilation, geometry_shape), bias="bias" in state,
        has_bias=_int_array(layer.has_bias, layers_shape) if layers_shape else False,
        n_layers=layer.n_layers, factorization=factorization, rank=layer.rank,
        implementation=_tltorch_implementation(layer.implementation, factorization))
    converted.load_state_dict(state)
    return converted


def _submodule(model, qualified):
    """(parent module, attribute name) of the submodule called ``qualified`` ('a.b.0')."""
    parent, _, name = qualified.rpartition(".")
    try:
        owner = model.get_submodule(parent) if parent else model
    except AttributeError:
        owner = None
    if owner is None or name not in owner._modules:
        raise KeyError("the model has no submodule %r" % qualified)
    return owner, name


def to_tltorch_model(model, layers=None):
    """Replaces submodules of ``model`` by ``tltorch.FactorizedConv`` layers, in place, for
    fine-tuning.

    ``layers`` maps qualified submodule names ('features.3', as ``named_modules`` gives them) to
    compressed layers (``factorconv.torch.FactorizedConv`` or numpy ``factorconv.FactorizedConv``,
    e.g. compressed from those very convolutions): each named submodule is replaced by
    ``to_tltorch(layer)``. With ``layers`` None, every ``factorconv.torch.FactorizedConv`` in the
    model is replaced by its tltorch twin (sub-convolutions by the twin's ``get_conv``).

    Returns ``{qualified name: the module it replaced}``. ``factorconv.torch.convert(model)``
    goes back.
    """
    replaced = {}
    if layers is not None:
        for qualified in layers:
            _submodule(model, qualified)          # every name checked before anything changes
        converted = {qualified: to_tltorch(layer) for qualified, layer in layers.items()}
        for qualified, new in converted.items():
            owner, name = _submodule(model, qualified)
            replaced[qualified] = owner._modules[name]
            setattr(owner, name, new)
        return replaced
    twins = {}                                    # id(adapter) -> its tltorch layer

    def twin_of(adapter):
        if id(adapter) not in twins:
            twins[id(adapter)] = to_tltorch(adapter)
        return twins[id(adapter)]

    def replacement(child, qualified):
        if isinstance(child, FactorizedConv):
            return twin_of(child)
        if isinstance(child, SubFactorizedConv):
            return twin_of(child.main_conv).get_conv(child.indices)
        return None

    return replace_children(model, replacement)

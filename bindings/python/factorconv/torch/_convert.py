"""``convert(model, ...)``: a model's tltorch factorized convolutions (and, if asked, its dense
convolutions) replaced in place by ``factorconv.torch.FactorizedConv`` modules."""

import warnings

from torch import nn

from ._conv import FactorizedConv
from ._module_tree import KEEP, replace_children

_DENSE_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _is_tltorch(module, class_name):
    """A tltorch class recognised by name (tltorch itself is not imported)."""
    kind = type(module)
    return kind.__name__ == class_name and kind.__module__.split(".")[0] == "tltorch"


def _why_not_compressible(conv):
    """Why a dense convolution cannot go through from_conv, or None."""
    if conv.groups != 1:
        return "groups=%d" % conv.groups
    if conv.padding_mode != "zeros":
        return "padding_mode=%r" % conv.padding_mode
    if isinstance(conv.padding, str):
        return "padding=%r" % conv.padding
    return None


def convert(model, factorization=None, rank="same", implementation=None,
            decomposition_kwargs=None, *, seed=None):
    """Replaces, in place, every ``tltorch.FactorizedConv`` in ``model`` by a
    ``factorconv.torch.FactorizedConv`` with the same configuration and parameters (and every
    tltorch ``SubFactorizedConv`` by the adapter's sub-convolution of the same layer); with
    ``factorization`` ('cp', 'tucker', 'tt', 'dense') also every ``torch.nn.Conv1d/2d/3d``,
    compressed through ``from_conv(conv, rank, implementation or 'reconstructed',
    factorization, decomposition_kwargs=...)``. Grouped convolutions, other padding modes and
    string padding stay dense, with a warning naming them.

    ``implementation`` None keeps each tltorch layer's; a name ('auto', ...) is used for every
    replaced layer. ``seed`` seeds the decompositions (None: torch's generator).

    Returns ``{qualified name: the module it replaced}``, in the model's order.
    """
    if _is_tltorch(model, "FactorizedConv"):
        raise ValueError("convert replaces the modules inside a model; for a FactorizedConv "
                         "itself use factorconv.torch.FactorizedConv.from_tltorch(layer)")
    skipped = []
    adapters = {}          # id(tltorch FactorizedConv) -> its adapter (shared by sub-convs)

    def adapter_of(layer):
        """The one adapter of a tltorch layer (its sub-convolutions share it)."""
        if id(layer) not in adapters:
            adapter = FactorizedConv.from_tltorch(layer)
            if implementation is not None:
                adapter.implementation = implementation
            adapters[id(layer)] = adapter
        return adapters[id(layer)]

    def replacement(child, qualified):
        """The module that takes ``child``'s place, KEEP, or None to look inside it."""
        if _is_tltorch(child, "FactorizedConv"):
            return adapter_of(child)
        if _is_tltorch(child, "SubFactorizedConv"):
            return adapter_of(child.main_conv).get_conv(child.indices)
        if factorization is not None and isinstance(child, _DENSE_CONVS):
            reason = _why_not_compressible(child)
            if reason is not None:
                skipped.append("%s (%s)" % (qualified, reason))
                return KEEP
            return FactorizedConv.from_conv(
                child, rank, implementation or "reconstructed", factorization,
                decomposition_kwargs=decomposition_kwargs, seed=seed)
        return None

    replaced = replace_children(model, replacement)
    if skipped:
        warnings.warn("convert left these convolutions dense: %s" % ", ".join(skipped),
                      UserWarning, stacklevel=2)
    return replaced

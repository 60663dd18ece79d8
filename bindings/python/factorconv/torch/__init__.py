"""``factorconv.torch``: FactorConv inside PyTorch models (needs torch; ``import factorconv`` alone
never imports it).

    FactorizedConv        a torch.nn.Module with tltorch.FactorizedConv's constructor,
                          classmethods (from_conv, from_conv_list, from_factorization, plus
                          from_tltorch), methods, attributes and state_dict keys; CPU float32
                          inference, zero-copy in and out
    SubFactorizedConv     what FactorizedConv[indices] returns
    convert(model, ...)   replaces a model's tltorch FactorizedConv layers (and optionally its
                          dense Conv1d/2d/3d, compressed) in place; returns what it replaced
    to_tltorch(layer)     a layer as a tltorch.FactorizedConv with the same factors (to train)
    to_tltorch_model(model, layers=None)
                          named submodules (or every adapter) of a model replaced by tltorch
                          layers, in place: the way back to fine-tuning (convert() returns)
    CPTensor, TuckerTensor, TTTensor, DenseTensor, FactorList
                          the modules holding a layer's factorized weight (tltorch's layout)

A tltorch checkpoint (state_dict) loads into the converted model and the converted model's loads
into tltorch; ``torch.save`` / ``torch.load`` of a model holding these modules work.
"""

try:
    import torch as _torch  # noqa: F401 - fails early with a clear message
except ImportError as error:   # pragma: no cover - exercised only without torch
    raise ImportError("factorconv.torch needs PyTorch (pip install torch); the numpy API "
                      "(import factorconv) does not") from error

from ._conv import FactorizedConv, SubFactorizedConv
from ._convert import convert
from ._tltorch import to_tltorch, to_tltorch_model
from ._tensors import CPTensor, DenseTensor, FactorList, FactorizedTensor, TTTensor, TuckerTensor

__all__ = ["FactorizedConv", "SubFactorizedConv", "convert", "to_tltorch", "to_tltorch_model",
           "FactorizedTensor", "CPTensor", "TuckerTensor", "TTTensor", "DenseTensor", "FactorList"]

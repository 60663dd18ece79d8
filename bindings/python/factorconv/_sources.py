"""What layers are built from, read without importing torch: a dense convolution (a kernel array,
or an object with ``.weight`` / ``.bias`` / ``.stride`` / ``.padding`` / ``.dilation`` /
``.groups`` such as ``torch.nn.Conv2d``), and the ``device`` / ``dtype`` arguments of tltorch's
signatures (only the CPU and float32 exist here)."""

import numpy as np

from ._convert import tensor_float32
from ._errors import InvalidArgumentError, ShapeMismatchError, UnsupportedError


class DenseConv:
    """A dense convolution's kernel (float32), bias (float32 or None) and geometry (as given:
    ints or sequences)."""

    def __init__(self, weight, bias, stride, padding, dilation):
        self.weight, self.bias = weight, bias
        self.stride, self.padding, self.dilation = stride, padding, dilation


def _refuse_transposed(conv, name):
    transposed = getattr(conv, "transposed", False)
    if transposed is True or "transpose" in type(conv).__name__.lower():
        raise UnsupportedError(
            "%s is a transposed convolution (%s); FactorizedConv factorizes forward "
            "convolutions only, whose kernel is (out_channels, in_channels, *kernel_size): a "
            "transposed kernel is (in_channels, out_channels / groups, *kernel_size) and would "
            "build a layer with the channels swapped" % (name, type(conv).__name__))


def read_conv(conv_or_weight, bias, stride, padding, dilation, name):
    """A ``DenseConv`` from a kernel array (with the given bias and geometry) or a ConvNd-like
    object (whose own bias and geometry are used; ``bias`` must then be None). Transposed and
    grouped convolutions, padding modes other than zeros and string padding are refused."""
    if not hasattr(conv_or_weight, "weight"):
        weight = tensor_float32(conv_or_weight, name)
    else:
        conv = conv_or_weight
        _refuse_transposed(conv, name)
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
        weight = tensor_float32(conv.weight, name + ".weight")
        bias = getattr(conv, "bias", None)
        stride = getattr(conv, "stride", stride)
        padding = getattr(conv, "padding", padding)
        dilation = getattr(conv, "dilation", dilation)
    check_padding(padding, name + ".padding")
    if weight.ndim < 3:
        raise ShapeMismatchError("%s must be a kernel (out_channels, in_channels, *kernel_size), "
                                 "got shape %s" % (name, weight.shape))
    return DenseConv(weight, bias_vector(bias, weight.shape[0], name + " bias"),
                     stride, padding, dilation)


def check_padding(padding, name):
    """String padding ('same', 'valid') is refused: give the zero padding as ints."""
    if isinstance(padding, str):
        raise UnsupportedError("%s=%r: string padding is not supported; give the zero padding "
                               "per dimension as ints" % (name, padding))


def bias_vector(bias, out_channels, name):
    """``bias`` as a float32 (out_channels,) array, or None."""
    if bias is None:
        return None
    bias = tensor_float32(bias, name)
    if bias.shape != (out_channels,):
        raise ShapeMismatchError("%s must have shape (out_channels,) = (%d,), got %s"
                                 % (name, out_channels, bias.shape))
    return bias


def check_device(device):
    """None, 'cpu' or a torch.device('cpu'); anything else is refused (CPU only)."""
    if device is None:
        return
    kind = getattr(device, "type", device)
    if str(kind) != "cpu":
        raise UnsupportedError("device=%r: FactorConv runs on the CPU only (device=None or "
                               "'cpu')" % (device,))


def check_dtype(dtype):
    """None, float32 (numpy's, 'float32' or torch.float32); anything else is refused."""
    if dtype is None:
        return
    if str(dtype) in ("torch.float32", "float32"):
        return
    try:
        if np.dtype(dtype) == np.float32:
            return
    except TypeError:
        pass
    raise UnsupportedError("dtype=%r: FactorConv computes in float32 only (dtype=None or float32)"
                           % (dtype,))

"""``factorconv.torch.FactorizedConv``: a ``torch.nn.Module`` with tltorch's FactorizedConv API
(constructor, classmethods, methods, attributes, state_dict keys) whose forward runs FactorConv.

The module's parameters (``bias``, ``weight.*``, frozen: no gradients) and its geometry arrays
(``stride``, ``padding``, ``dilation``, ``has_bias``, edits apply) are what the user sees and
what ``state_dict`` / ``torch.save`` hold; a native layer (``factorconv.FactorizedConv``) mirrors
them. Before each forward the module compares a cheap signature of its parameters (identity,
version counter, storage) and geometry with the one the native layer was built from, and brings
the native layer up to date when they differ: parameters are copied in, other changes rebuild it.
Changes made through the module's own methods (``set``, ``transduct``, ``reset_parameters``)
run on the native layer and are copied back.

Forward: CPU float32 tensors only (another device or dtype is an error), zero-copy in (a
contiguous input is read in place, others are made contiguous) and out (the result is a tensor
over the native output buffer), inference only (a forward that would need gradients raises).
"""

import warnings

import numpy as np
import torch
from torch import nn

from .. import layer as numpy_layer
from .. import tensors as numpy_tensors
from .._convert import normalize_indices
from .._errors import UnsupportedError
from . import _tensors

_GEOMETRY = ("stride", "padding", "dilation")
_IMPLEMENTATIONS = ("factorized", "reconstructed", "mobilenet", "auto")


def torch_seed():
    """A seed drawn from torch's global generator: fresh on every call, reproducible under
    ``torch.manual_seed``."""
    return int(torch.randint(0, 2**62, (1,)).item())


def _numpy(value):
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


def _tltorch_implementation(layer, factorization):
    """tltorch's implementation string as one of ours: tltorch runs Tucker and TT 'factorized'
    for any string other than 'reconstructed'."""
    implementation = getattr(layer, "implementation", "factorized")
    if implementation in _IMPLEMENTATIONS:
        return implementation
    return "factorized" if factorization in ("tucker", "tt") else implementation


class FactorizedConv(nn.Module):
    """tltorch's ``FactorizedConv`` as a ``torch.nn.Module`` computed by FactorConv.

    ``FactorizedConv(in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
    dilation=1, bias=False, has_bias=False, n_layers=1, factorization='cp', rank='same',
    implementation='factorized', fixed_rank_modes=None, device=None, dtype=None, *, seed=None)``
    — the arguments of ``factorconv.FactorizedConv`` (tltorch's). An unseeded layer draws its
    seed from torch's global generator.

    ``module(x, indices=0)`` takes a CPU float32 tensor (batch, in_channels, *spatial) and returns
    a new one. Parameters have ``requires_grad=False``; a forward that would need gradients (an
    input that requires them, or a parameter switched back on) raises RuntimeError: train with
    ``tltorch.FactorizedConv``, which takes this module's state_dict (and gives its own back).
    """

    _version = 1
    _native = None
    _synced = None

    def __init__(self, in_channels, out_channels, kernel_size, order=None, stride=1, padding=0,
                 dilation=1, bias=False, has_bias=False, n_layers=1, factorization="cp",
                 rank="same", implementation="factorized", fixed_rank_modes=None, device=None,
                 dtype=None, *, seed=None):
        super().__init__()
        if not isinstance(factorization, str) and isinstance(factorization, _tensors.FactorizedTensor):
            factorization = factorization.numpy_view()
        native = numpy_layer.FactorizedConv(
            in_channels, out_channels, kernel_size, order, stride, padding, dilation, bias,
            has_bias, n_layers, factorization, rank, implementation, fixed_rank_modes, device,
            dtype, seed=torch_seed() if seed is None else seed)
        self._adopt(native, factorization, has_bias, rank)

    # -- the native layer and the module's state -------------------------------------------------

    @classmethod
    def _from_native(cls, native, factorization, has_bias, input_rank):
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self._adopt(native, factorization, has_bias, input_rank)
        return self

    def _adopt(self, native, factorization, has_bias, input_rank):
        """Takes the native layer's configuration and parameters as the module's."""
        self.in_channels = native.in_channels
        self.out_channels = native.out_channels
        self.n_layers = native.n_layers
        self.layers_shape = native.layers_shape
        self.factorization = factorization if isinstance(factorization, str) else native.factorization
        self.input_rank = input_rank
        self._implementation = native.implementation
        if self.layers_shape:
            self.has_bias = np.array(native.has_bias)
        else:
            # tltorch keeps a single convolution's has_bias as given (and ignores it).
            self.has_bias = np.array(np.asarray(has_bias).astype(np.int32))
        self._native = native
        self._pull(native, parameters=True)

    def _pull(self, native, parameters):
        """Copies the native layer's geometry (and parameters) into the module."""
        self.order = native.order
        self.kernel_size = native.kernel_size
        self.kernel_shape = native.kernel_shape
        for name in _GEOMETRY:
            setattr(self, name, np.array(getattr(native, name)))
        if self.layers_shape:
            self.has_bias = np.array(native.has_bias)
        if parameters:
            self._pull_parameters(native)
        self._synced = self._signature(self._parameter_list())

    def _pull_parameters(self, native):
        state = native.state_dict()
        bias = state.pop("bias", None)
        if bias is None:
            self.register_parameter("bias", None)
        elif getattr(self, "bias", None) is not None and tuple(self.bias.shape) == bias.shape:
            with torch.no_grad():
                self.bias.copy_(torch.from_numpy(bias))
        else:
            self.bias = _tensors.frozen_parameter(bias)
        view = numpy_tensors.from_state_dict(native.factorization, state)
        current = getattr(self, "weight", None)
        if (isinstance(current, _tensors.FactorizedTensor) and current.name == view.name
                and [tuple(p.shape) for _, p in current.named_parameters()]
                == [state["weight." + n].shape for n, _ in current.named_parameters()]):
            with torch.no_grad():
                for name, parameter in current.named_parameters():
                    parameter.copy_(torch.from_numpy(state["weight." + name]))
        else:
            self.weight = _tensors.from_numpy_tensor(view)

    def _parameter_list(self):
        """Every parameter of the module and its submodules, read from the modules' parameter
        dictionaries (what ``parameters()`` yields, without its generic walk: a forward's hot
        path)."""
        found, stack = [], [self]
        while stack:
            module = stack.pop()
            found.extend(p for p in module._parameters.values() if p is not None)
            stack.extend(module._modules.values())
        return found

    def _signature(self, parameters):
        """What the native layer was built from: each parameter's identity, version counter and
        storage, and the geometry arrays' bytes."""
        return (tuple((id(p), p._version, p.data_ptr()) for p in parameters),
                tuple((a.shape, a.dtype, a.tobytes()) for a in
                      (np.asarray(self.stride), np.asarray(self.padding),
                       np.asarray(self.dilation), np.asarray(self.has_bias))))

    def _numpy_state(self):
        """The parameters as numpy arrays (zero-copy), refusing what FactorConv cannot run."""
        state = {}
        for name, parameter in self.named_parameters():
            if parameter.device.type != "cpu" or parameter.dtype != torch.float32:
                raise UnsupportedError(
                    "%s is a %s tensor on %s: FactorConv runs float32 on the CPU (move the "
                    "module back with .float().cpu())" % (name, parameter.dtype, parameter.device))
            state[name] = parameter.detach().numpy()
        return state

    def _rebuild(self):
        """A new native layer from the module's configuration and parameters."""
        state = self._numpy_state()
        bias = state.pop("bias", None)
        weight = numpy_tensors.from_state_dict(self.weight.name.lower(), state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # said when the module was built
            native = numpy_layer.FactorizedConv(
                self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                padding=self.padding, dilation=self.dilation, bias=bias is not None,
                has_bias=self.has_bias if self.layers_shape else False,
                n_layers=self.layers_shape or 1, factorization=weight,
                implementation=self._implementation, seed=0)
        if bias is not None:
            native.load_state_dict({"bias": bias}, strict=False)
        return native

    def _ready(self, parameters=None):
        """The native layer, up to date with the module's parameters and geometry."""
        signature = self._signature(self._parameter_list() if parameters is None else parameters)
        synced = self._synced
        if synced == signature and self._native is not None:
            return self._native
        if self._native is None or synced is None or synced[1] != signature[1]:
            self._native = self._rebuild()
        else:
            self._native.load_state_dict(self._numpy_state())
        self._synced = signature
        return self._native

    def __getstate__(self):
        # The native layer is rebuilt from the parameters and geometry after unpickling.
        state = self.__dict__.copy()
        state["_native"] = None
        state["_synced"] = None
        return state

    # -- tltorch's attributes ---------------------------------------------------------------------

    @property
    def implementation(self):
        """'factorized', 'reconstructed', 'mobilenet' or 'auto' (assigning it takes effect)."""
        return self._implementation

    @implementation.setter
    def implementation(self, value):
        self._ready().set_implementation(value)
        self._implementation = self._native.implementation

    @property
    def rank(self):
        """The current rank (read from the parameters)."""
        return self.weight.rank

    @property
    def shape(self):
        """The factorized tensor's shape (layer modes first; TT layout for TT)."""
        return self.weight.shape

    def extra_repr(self):
        """tltorch's extra_repr (without its dangling ', ')."""
        return self._ready().extra_repr()

    # -- forward ------------------------------------------------------------------------------

    def forward(self, x, indices=0):
        """Runs layer ``indices`` (0 for a single convolution; an int, negative ones counted from
        the end, or a tuple for a grid) on a CPU float32 tensor (batch, in_channels, *spatial)."""
        parameters = self._parameter_list()
        if torch.is_grad_enabled() and (x.requires_grad or any(
                p.requires_grad for p in parameters)):
            raise RuntimeError(
                "factorconv.torch.FactorizedConv runs inference only, and this forward would need "
                "gradients (the input or a parameter requires them): run it under "
                "torch.no_grad() / torch.inference_mode(), or train with tltorch.FactorizedConv "
                "(it loads this module's state_dict)")
        if x.device.type != "cpu":
            raise UnsupportedError("the input is on %s: FactorConv runs on the CPU only "
                                   "(x.cpu())" % x.device)
        if x.dtype != torch.float32:
            raise UnsupportedError("the input is %s: FactorConv computes in float32 only "
                                   "(x.float())" % x.dtype)
        if not self.layers_shape and not (isinstance(indices, int) and indices == 0):
            raise ValueError("Only one convolution was parametrized (n_layers=1) but tried to "
                             "access %r." % (indices,))
        data = x.detach()
        if not data.is_contiguous():
            data = data.contiguous()
        return torch.from_numpy(self._ready(parameters).forward(data.numpy(), indices))

    # -- tltorch's methods ----------------------------------------------------------------------

    def reset_parameters(self, std=0.02, *, seed=None):
        """Re-initializes: reconstruction ~ N(0, std^2), bias 0; ``seed`` None draws one from
        torch's generator."""
        native = self._ready()
        native.reset_parameters(std, seed=torch_seed() if seed is None else seed)
        self._pull(native, parameters=True)
        return self

    def set(self, indices, stride=1, padding=0, dilation=1, bias=None):
        """Sets layer ``indices``'s stride, padding and dilation (unspecified values reset to
        1 / 0 / 1) and, if ``bias`` is given, its bias (which turns it on)."""
        native = self._ready()
        native.set(indices, stride, padding, dilation, None if bias is None else _numpy(bias))
        self._pull(native, parameters=bias is not None)

    def get_conv(self, indices):
        """The sub-convolution of layer ``indices``: a module running ``self(x, indices)``."""
        if not self.layers_shape:
            raise ValueError("A single convolution is parametrized, directly use the main class.")
        indices = normalize_indices(indices, self.layers_shape)
        self._ready().get_conv(indices).close()      # checks the index
        return SubFactorizedConv(self, indices)

    def __getitem__(self, indices):
        return self.get_conv(indices)

    def transduct(self, kernel_size, mode=0, padding=0, stride=1, dilation=1,
                  fine_tune_transduction_only=True):
        """Adds a spatial dimension of size ``kernel_size`` before spatial dimension ``mode``
        (``fine_tune_transduction_only`` is accepted; nothing trains here). Returns self."""
        native = self._ready()
        native.transduct(kernel_size, mode, padding, stride, dilation)
        self._pull(native, parameters=True)
        return self

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_conv(cls, conv_layer, rank="same", implementation="reconstructed",
                  factorization="cp", decompose_weights=True, decomposition_kwargs=None,
                  fixed_rank_modes=None, *, seed=None, progress=None, **kwargs):
        """Compresses a ``torch.nn.Conv1d/2d/3d`` (tltorch from_conv; see
        ``factorconv.FactorizedConv.from_conv``). An unseeded call without a ``random_state``
        draws its seed from torch's generator."""
        if seed is None and (decomposition_kwargs or {}).get("random_state") is None:
            seed = torch_seed()
        native = numpy_layer.FactorizedConv.from_conv(
            conv_layer, rank, implementation, factorization, decompose_weights,
            decomposition_kwargs, fixed_rank_modes, seed=seed, progress=progress, **kwargs)
        return cls._from_native(native, factorization, kwargs.get("has_bias", False), rank)

    @classmethod
    def from_conv_list(cls, conv_list, rank="same", implementation="reconstructed",
                       factorization="cp", decompose_weights=True, decomposition_kwargs=None, *,
                       seed=None, progress=None, **kwargs):
        """Compresses convolutions of one kernel shape into a layer grid (tltorch
        from_conv_list; see ``factorconv.FactorizedConv.from_conv_list``)."""
        if seed is None and (decomposition_kwargs or {}).get("random_state") is None:
            seed = torch_seed()
        native = numpy_layer.FactorizedConv.from_conv_list(
            conv_list, rank, implementation, factorization, decompose_weights,
            decomposition_kwargs, seed=seed, progress=progress, **kwargs)
        return cls._from_native(native, factorization, False, rank)

    @classmethod
    def from_factorization(cls, factorization, implementation="factorized", stride=1, padding=0,
                           dilation=1, bias=None, n_layers=1):
        """A layer whose weight is a given factorized tensor (tltorch from_factorization): a
        tltorch FactorizedTensor, this module's, or ``factorconv.CPTensor`` and its siblings."""
        if isinstance(factorization, _tensors.FactorizedTensor):
            factorization = factorization.numpy_view()
        native = numpy_layer.FactorizedConv.from_factorization(
            factorization, implementation, stride, padding, dilation, bias, n_layers)
        return cls._from_native(native, native.factorization, False, native.rank)

    @classmethod
    def from_tltorch(cls, layer):
        """The adapter of a ``tltorch.FactorizedConv``: the same configuration, parameters,
        geometry, has_bias and implementation (tltorch itself is not imported)."""
        weight = numpy_tensors.as_factorized_tensor(layer.weight)
        factorization = weight.name.lower()
        layers_shape = tuple(layer.layers_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # tltorch's own has_bias default
            native = numpy_layer.FactorizedConv(
                layer.in_channels, layer.out_channels, tuple(layer.kernel_size),
                stride=np.asarray(layer.stride), padding=np.asarray(layer.padding),
                dilation=np.asarray(layer.dilation), bias=layer.bias is not None,
                has_bias=np.asarray(layer.has_bias) if layers_shape else False,
                n_layers=layer.n_layers, factorization=weight,
                implementation=_tltorch_implementation(layer, factorization), seed=0)
        if layer.bias is not None:
            native.load_state_dict({"bias": _numpy(layer.bias)}, strict=False)
        return cls._from_native(native, layer.factorization if isinstance(layer.factorization, str)
                                else factorization, np.asarray(layer.has_bias),
                                getattr(layer, "input_rank", weight.rank))


class SubFactorizedConv(nn.Module):
    """One layer of a grid (tltorch SubFactorizedConv): ``sub(x) = main_conv(x, indices)``,
    sharing the main layer's parameters."""

    def __init__(self, main_conv, indices):
        super().__init__()
        self.main_conv = main_conv
        self.indices = indices

    def forward(self, x):
        """``main_conv(x, indices)``."""
        return self.main_conv(x, self.indices)

    def __repr__(self):
        sub = self.main_conv._ready().get_conv(self.indices)
        try:
            return repr(sub)
        finally:
            sub.close()

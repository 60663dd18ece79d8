"""Bad inputs to fc.FactorizedConv: the right exception class and status code, a message naming
the argument, nothing crashes, and the layer is unchanged afterwards."""

import numpy as np
import pytest

import factorconv as fc

X = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)


def make_single():
    return fc.FactorizedConv(4, 6, (3, 3), padding=1, bias=True, seed=1)


def make_multi():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=3, bias=True, factorization="tucker", seed=2)
    conv.set(1, stride=2, padding=1)
    return conv


def snapshot(conv):
    """Everything observable: parameters, geometry, rank, implementation, a forward per layer."""
    layers = [0] if conv.n_layers == 1 else range(conv.n_layers)
    return {
        "state": conv.state_dict(), "rank": conv.rank, "stride": conv.stride.tolist(),
        "padding": conv.padding.tolist(), "dilation": conv.dilation.tolist(),
        "has_bias": conv.has_bias.tolist(),
        "implementation": conv.implementation, "order": conv.order, "repr": repr(conv),
        "y": [conv(X, i) for i in layers],
    }


def assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        if key == "state":
            assert before[key].keys() == after[key].keys()
            for name in before[key]:
                np.testing.assert_array_equal(before[key][name], after[key][name])
        elif key == "y":
            for a, b in zip(before[key], after[key]):
                np.testing.assert_array_equal(a, b)
        else:
            assert before[key] == after[key], key


# (id, layer factory, call, exception class, status code, words the message must contain)
ON_LAYER = [
    ("x complex", make_single, lambda c: c(X.astype(np.complex64)), fc.InvalidArgumentError, 1, ["x", "dtype"]),
    ("x strings", make_single, lambda c: c(np.array([["a"]])), fc.InvalidArgumentError, 1, ["x"]),
    ("x ndim 3", make_single, lambda c: c(X[0]), fc.ShapeMismatchError, 2, ["input shape", "4 dimensions"]),
    ("x ndim 5", make_single, lambda c: c(X[:, :, None]), fc.ShapeMismatchError, 2, ["input shape"]),
    ("x channels", make_single, lambda c: c(X[:, :3]), fc.ShapeMismatchError, 2, ["channels"]),
    ("x zero channels", make_single, lambda c: c(X[:, :0]), fc.InvalidArgumentError, 1, ["input shape", "axis 1"]),
    ("x zero spatial", make_single, lambda c: c(X[:, :, :0]), fc.InvalidArgumentError, 1, ["input shape", "axis 2"]),
    ("x smaller than kernel", make_multi, lambda c: c(X[:, :, :2, :2], 0), fc.ShapeMismatchError, 2, ["kernel"]),
    ("x NaN", make_single, lambda c: c(np.where(X > 2, np.nan, X)), fc.NumericalError, 10, ["input", "NaN"]),
    ("x Inf", make_single, lambda c: c(np.where(X > 2, np.inf, X)), fc.NumericalError, 10, ["input", "infinite"]),
    ("single index 1", make_single, lambda c: c(X, 1), fc.LayerIndexError, 3, ["layer", "n_layers=1"]),
    ("single index -1", make_single, lambda c: c(X, -1), fc.LayerIndexError, 3, ["layer"]),
    ("index 3 of 3", make_multi, lambda c: c(X, 3), fc.LayerIndexError, 3, ["layer index", "out of range"]),
    ("index -4 of 3", make_multi, lambda c: c(X, -4), fc.LayerIndexError, 3, ["layer index"]),
    ("index (0, 0) of 3", make_multi, lambda c: c(X, (0, 0)), fc.LayerIndexError, 3, ["layer index", "1 entry"]),
    ("index None of 3", make_multi, lambda c: c(X, None), fc.LayerIndexError, 3, ["layer index"]),
    ("index str", make_multi, lambda c: c(X, "1"), fc.InvalidArgumentError, 1, ["indices"]),
    ("index 2^70", make_multi, lambda c: c(X, 2**70), fc.InvalidArgumentError, 1, ["indices", "int64"]),
    ("state_dict unknown name", make_single,
     lambda c: c.load_state_dict(dict(c.state_dict(), foo=np.ones(3))), fc.StateDictError, 6, ["unexpected key", '"foo"']),
    ("state_dict missing name", make_single,
     lambda c: c.load_state_dict({"bias": np.ones(6)}), fc.StateDictError, 6, ["missing key", "weight.weights"]),
    ("state_dict bias shape", make_single,
     lambda c: c.load_state_dict(dict(c.state_dict(), bias=np.ones(5))), fc.ShapeMismatchError, 2, ["bias", "shape"]),
    ("state_dict factor shape", make_single,
     lambda c: c.load_state_dict(dict(c.state_dict(), **{"weight.factors.factor_0": np.ones((5, 14))})),
     fc.ShapeMismatchError, 2, ["shape"]),
    ("state_dict partial rank change", make_single,
     lambda c: c.load_state_dict({"weight.factors.factor_0": np.ones((6, 10))}, strict=False),
     fc.ShapeMismatchError, 2, ["weight.factors.factor_0"]),
    ("state_dict NaN", make_single,
     lambda c: c.load_state_dict(dict(c.state_dict(), bias=np.full(6, np.nan))), fc.NumericalError, 10, ["bias", "NaN"]),
    ("state_dict non-numeric", make_single,
     lambda c: c.load_state_dict(dict(c.state_dict(), bias="abc")), fc.InvalidArgumentError, 1, ["state_dict['bias']"]),
    ("state_dict not a mapping", make_single, lambda c: c.load_state_dict([1, 2]), fc.InvalidArgumentError, 1, ["state_dict"]),
    ("state_dict key not str", make_single, lambda c: c.load_state_dict({1: np.ones(6)}), fc.InvalidArgumentError, 1, ["keys"]),
    ("set index 5", make_multi, lambda c: c.set(5), fc.LayerIndexError, 3, ["layer index"]),
    ("set stride 0", make_multi, lambda c: c.set(2, stride=0), fc.InvalidArgumentError, 1, ["stride"]),
    ("set padding -1", make_multi, lambda c: c.set(2, padding=-1), fc.InvalidArgumentError, 1, ["padding"]),
    ("set dilation length", make_multi, lambda c: c.set(2, dilation=(1, 1, 1)), fc.ShapeMismatchError, 2, ["dilation"]),
    ("set bias length", make_multi, lambda c: c.set(2, bias=np.ones(5)), fc.ShapeMismatchError, 2, ["bias"]),
    ("set bias 2-D", make_multi, lambda c: c.set(2, bias=np.ones((6, 1))), fc.ShapeMismatchError, 2, ["bias"]),
    ("get_conv of a single conv", make_single, lambda c: c.get_conv(0), fc.InvalidArgumentError, 1, ["single convolution"]),
    ("get_conv index 3", make_multi, lambda c: c[3], fc.LayerIndexError, 3, ["layer index"]),
    ("transduct mode 5", make_single, lambda c: c.transduct(3, mode=5), fc.InvalidArgumentError, 1, ["mode"]),
    ("transduct kernel 0", make_single, lambda c: c.transduct(0), fc.InvalidArgumentError, 1, ["kernel_size"]),
    ("transduct stride 0", make_single, lambda c: c.transduct(3, stride=0), fc.InvalidArgumentError, 1, ["stride"]),
    ("implementation unknown", make_single, lambda c: c.set_implementation("fast"), fc.InvalidArgumentError, 1, ["implementation"]),
    ("implementation mobilenet on Tucker", make_multi, lambda c: setattr(c, "implementation", "mobilenet"),
     fc.UnsupportedError, 4, ["mobilenet"]),
    ("reset std -1", make_single, lambda c: c.reset_parameters(std=-1), fc.InvalidArgumentError, 1, ["std"]),
    ("reset std NaN", make_single, lambda c: c.reset_parameters(std=float("nan")), fc.InvalidArgumentError, 1, ["std"]),
    ("reset seed -1", make_single, lambda c: c.reset_parameters(seed=-1), fc.InvalidArgumentError, 1, ["seed"]),
    ("reconstruct index 3", make_multi, lambda c: c.reconstruct_kernel(3), fc.LayerIndexError, 3, ["layer index"]),
    ("chosen_implementation shape", make_single, lambda c: c.chosen_implementation((2, 4, 8)),
     fc.ShapeMismatchError, 2, ["input shape"]),
]


@pytest.mark.parametrize("factory,call,cls,code,words", [c[1:] for c in ON_LAYER],
                         ids=[c[0] for c in ON_LAYER])
def test_bad_input_on_a_layer(factory, call, cls, code, words):
    with factory() as conv:
        before = snapshot(conv)
        with pytest.raises(cls) as info:
            call(conv)
        assert isinstance(info.value, fc.FactorConvError) and info.value.code == code
        for word in words:
            assert word in info.value.message, (word, info.value.message)
        assert_same(before, snapshot(conv))


def create(**kwargs):
    args = dict(in_channels=4, out_channels=6, kernel_size=(3, 3))
    args.update(kwargs)
    return fc.FactorizedConv(**args)


CONSTRUCTION = [
    ("rank 0", dict(rank=0), fc.InvalidArgumentError, ["rank"]),
    ("rank -1", dict(rank=-1), fc.InvalidArgumentError, ["rank"]),
    ("rank 0.0", dict(rank=0.0), fc.InvalidArgumentError, ["rank"]),
    ("rank resolving to 0", dict(rank=1e-9), fc.InvalidArgumentError, ["rank", "resolves to 0"]),
    ("rank NaN", dict(rank=float("nan")), fc.InvalidArgumentError, ["finite"]),
    ("rank word", dict(rank="half"), fc.InvalidArgumentError, ["rank", "same"]),
    ("rank bool", dict(rank=True), fc.InvalidArgumentError, ["rank"]),
    ("rank tuple for CP", dict(rank=(1, 2)), fc.InvalidArgumentError, ["CP rank"]),
    ("Tucker rank length", dict(rank=(1, 2), factorization="tucker"), fc.InvalidArgumentError, ["Tucker rank"]),
    ("TT rank boundary", dict(rank=(2, 2, 2, 2, 2), factorization="tt"), fc.InvalidArgumentError, ["TT rank"]),
    ("factorization unknown", dict(factorization="svd"), fc.InvalidArgumentError, ["factorization", "svd"]),
    ("factorization not str", dict(factorization=3), fc.InvalidArgumentError, ["factorization"]),
    ("implementation unknown", dict(implementation="fast"), fc.InvalidArgumentError, ["implementation", "fast"]),
    ("mobilenet for TT", dict(implementation="mobilenet", factorization="tt"), fc.UnsupportedError, ["mobilenet"]),
    ("int kernel without order", dict(kernel_size=3), fc.InvalidArgumentError, ["order", "kernel_size"]),
    ("order 0", dict(kernel_size=3, order=0), fc.InvalidArgumentError, ["order"]),
    ("kernel 0", dict(kernel_size=(0, 3)), fc.InvalidArgumentError, ["kernel_size"]),
    ("kernel -1", dict(kernel_size=(-1, 3)), fc.InvalidArgumentError, ["kernel_size"]),
    ("kernel 2^62", dict(kernel_size=(2**62, 3)), fc.InvalidArgumentError, ["kernel_size"]),
    ("kernel 2^64", dict(kernel_size=(2**64, 3)), fc.InvalidArgumentError, ["kernel_size"]),
    ("kernel float", dict(kernel_size=(3.0, 3)), fc.InvalidArgumentError, ["kernel_size"]),
    ("in_channels 0", dict(in_channels=0), fc.InvalidArgumentError, ["in_channels"]),
    ("out_channels 2^62", dict(out_channels=2**62), fc.InvalidArgumentError, ["out_channels"]),
    ("stride 0", dict(stride=0), fc.InvalidArgumentError, ["stride"]),
    ("stride length", dict(stride=(1, 1, 1)), fc.InvalidArgumentError, ["stride"]),
    ("padding -1", dict(padding=-1), fc.InvalidArgumentError, ["padding"]),
    ("padding 'same'", dict(padding="same"), fc.UnsupportedError, ["padding"]),
    ("dilation 0", dict(dilation=(1, 0)), fc.InvalidArgumentError, ["dilation"]),
    ("n_layers 0", dict(n_layers=0), fc.InvalidArgumentError, ["n_layers"]),
    ("n_layers (2, -1)", dict(n_layers=(2, -1)), fc.InvalidArgumentError, ["n_layers"]),
    ("has_bias length", dict(n_layers=3, bias=True, has_bias=[1, 0]), fc.InvalidArgumentError, ["has_bias"]),
    ("seed -1", dict(seed=-1), fc.InvalidArgumentError, ["seed"]),
    ("device cuda", dict(device="cuda"), fc.UnsupportedError, ["device"]),
    ("dtype float64", dict(dtype=np.float64), fc.UnsupportedError, ["dtype"]),
    ("has_bias without bias", dict(n_layers=2, has_bias=True), fc.InvalidArgumentError, ["has_bias"]),
    ("geometry rows shape", dict(n_layers=2, stride=np.ones((3, 2), dtype=int)), fc.InvalidArgumentError,
     ["stride", "one row per layer"]),
    ("fixed_rank_modes out of range", dict(factorization="tucker", fixed_rank_modes=(9,)),
     fc.InvalidArgumentError, ["fixed_rank_modes"]),
]


@pytest.mark.parametrize("kwargs,cls,words", [c[1:] for c in CONSTRUCTION], ids=[c[0] for c in CONSTRUCTION])
def test_bad_constructor_arguments(kwargs, cls, words):
    with pytest.raises(cls) as info:
        create(**kwargs)
    for word in words:
        assert word in info.value.message, (word, info.value.message)


K = np.random.default_rng(1).standard_normal((5, 4, 3, 3)).astype(np.float32)


class FakeConv:
    """A torch.nn.Conv2d look-alike (duck typing is all from_conv needs)."""

    def __init__(self, weight=K, bias=None, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                 groups=1, padding_mode="zeros", transposed=False):
        self.weight, self.bias, self.stride, self.padding = weight, bias, stride, padding
        self.dilation, self.groups, self.padding_mode = dilation, groups, padding_mode
        self.transposed = transposed


def raise_key_error(iteration, error):
    raise KeyError("from the callback")


FROM_CONV = [
    ("kernel 2-D", lambda: fc.FactorizedConv.from_conv(np.ones((3, 3))), fc.ShapeMismatchError, ["kernel"]),
    ("kernel NaN", lambda: fc.FactorizedConv.from_conv(np.where(K > 1, np.nan, K)), fc.NumericalError, ["NaN"]),
    ("bias length", lambda: fc.FactorizedConv.from_conv(K, bias=np.ones(4)), fc.ShapeMismatchError, ["bias"]),
    ("rank 0", lambda: fc.FactorizedConv.from_conv(K, rank=0), fc.InvalidArgumentError, ["rank"]),
    ("unknown kwarg", lambda: fc.FactorizedConv.from_conv(K, decomposition_kwargs={"bogus": 1}),
     fc.InvalidArgumentError, ["decomposition_kwargs", "bogus"]),
    ("rank kwarg", lambda: fc.FactorizedConv.from_conv(K, decomposition_kwargs={"rank": 3}),
     fc.InvalidArgumentError, ["decomposition_kwargs", "rank"]),
    ("init unknown", lambda: fc.FactorizedConv.from_conv(K, decomposition_kwargs={"init": "zeros"}),
     fc.InvalidArgumentError, ["init"]),
    ("tol string", lambda: fc.FactorizedConv.from_conv(K, decomposition_kwargs={"tol": "1e-3"}),
     fc.InvalidArgumentError, ["tol"]),
    ("n_iter_max -1", lambda: fc.FactorizedConv.from_conv(K, decomposition_kwargs={"n_iter_max": -1}),
     fc.InvalidArgumentError, ["nIterMax"]),
    ("seed vs random_state", lambda: fc.FactorizedConv.from_conv(K, seed=1, decomposition_kwargs={"random_state": 2}),
     fc.InvalidArgumentError, ["random_state"]),
    ("grouped conv", lambda: fc.FactorizedConv.from_conv(FakeConv(groups=2)), fc.UnsupportedError, ["groups"]),
    ("string padding", lambda: fc.FactorizedConv.from_conv(FakeConv(padding="same")), fc.UnsupportedError, ["padding"]),
    ("reflect padding", lambda: fc.FactorizedConv.from_conv(FakeConv(padding_mode="reflect")),
     fc.UnsupportedError, ["padding_mode"]),
    ("conv and bias", lambda: fc.FactorizedConv.from_conv(FakeConv(), bias=np.ones(5)), fc.InvalidArgumentError, ["bias"]),
    ("transposed conv", lambda: fc.FactorizedConv.from_conv(FakeConv(transposed=True)), fc.UnsupportedError,
     ["transposed"]),
    ("device", lambda: fc.FactorizedConv.from_conv(K, device="cuda"), fc.UnsupportedError, ["device", "CPU"]),
    ("dtype", lambda: fc.FactorizedConv.from_conv(K, dtype="float64"), fc.UnsupportedError, ["dtype", "float32"]),
    ("n_layers", lambda: fc.FactorizedConv.from_conv(K, n_layers=2), fc.InvalidArgumentError, ["n_layers"]),
    ("progress not callable", lambda: fc.FactorizedConv.from_conv(K, progress=3), fc.InvalidArgumentError, ["progress"]),
    ("progress cancels", lambda: fc.FactorizedConv.from_conv(K, rank=4, progress=lambda i, e: False),
     fc.CancelledError, ["cancelled"]),
    ("list empty", lambda: fc.FactorizedConv.from_conv_list([]), fc.InvalidArgumentError, ["conv_list"]),
    ("list shapes differ", lambda: fc.FactorizedConv.from_conv_list([K, K[:, :, :2]]), fc.ShapeMismatchError,
     ["conv_list[1]"]),
    ("list biases length", lambda: fc.FactorizedConv.from_conv_list([K, K], biases=[None]), fc.ShapeMismatchError,
     ["biases"]),
]


@pytest.mark.parametrize("call,cls,words", [c[1:] for c in FROM_CONV], ids=[c[0] for c in FROM_CONV])
def test_bad_from_conv_arguments(call, cls, words):
    with pytest.raises(cls) as info:
        call()
    for word in words:
        assert word in info.value.message, (word, info.value.message)


def test_exception_in_progress_callback_is_reraised_not_propagated_through_c():
    with pytest.raises(KeyError, match="from the callback"):
        fc.FactorizedConv.from_conv(K, rank=4, progress=raise_key_error)
    # The library is still fine afterwards.
    assert fc.FactorizedConv.from_conv(K, rank=4, progress=lambda i, e: True).rank == 4


def test_closed_layer_raises():
    conv = make_single()
    conv.close()
    assert conv.closed and repr(conv) == "FactorizedConv(<closed>)"
    for call in (lambda: conv(X), lambda: conv.state_dict(), lambda: conv.rank,
                 lambda: conv.set(0), lambda: conv.load_state_dict({})):
        with pytest.raises(fc.InvalidArgumentError, match="closed"):
            call()

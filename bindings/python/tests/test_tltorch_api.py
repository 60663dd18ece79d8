"""fc.FactorizedConv against real tltorch: the same constructor call and the same state_dict give
the same output in every configuration, and each part of tltorch's API (its signatures,
attributes, weight view, repr, state_dict semantics, seeds, refusals) behaves as tltorch's."""

import copy
import re
import warnings

import numpy as np
import pytest

import factorconv as fc
from reference import relative_error

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")
tltorch = pytest.importorskip("tltorch", reason="tltorch is not importable here (make deps)")

TOLERANCE = 1e-5
IMPLEMENTATIONS = [("cp", "factorized"), ("cp", "reconstructed"), ("cp", "mobilenet"),
                   ("tucker", "factorized"), ("tucker", "reconstructed"),
                   ("tt", "factorized"), ("tt", "reconstructed"), ("dense", "reconstructed")]
# order -> (kernel_size, stride, padding, dilation, input spatial shape)
GEOMETRY = {
    1: ((3,), (2,), (1,), (2,), (13,)),
    2: ((3, 2), (2, 1), (1, 2), (1, 2), (9, 8)),
    3: ((3, 1, 2), (1, 2, 1), (1, 0, 1), (2, 1, 1), (7, 6, 5)),
}


def numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def layer_indices(n_layers):
    if n_layers == 1:
        return [0]
    if isinstance(n_layers, int):
        return list(range(n_layers))
    return list(np.ndindex(*n_layers))


def same_call(factorization, implementation, n_layers, bias, order, **extra):
    """tltorch's layer (initialized, random bias) and ours from the same call and state_dict."""
    kernel, stride, padding, dilation, _ = GEOMETRY[order]
    args = dict(stride=stride, padding=padding, dilation=dilation, bias=bias, n_layers=n_layers,
                factorization=factorization, rank=0.6, implementation=implementation, **extra)
    theirs = tltorch.FactorizedConv(4, 6, kernel, **args)
    theirs.reset_parameters()
    if bias:
        with torch.no_grad():
            theirs.bias.copy_(torch.randn(theirs.bias.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # the grid-bias warning (tested below)
        ours = fc.FactorizedConv(4, 6, kernel, **args)
    ours.load_state_dict(numpy_state(theirs))
    return theirs, ours


def assert_same_outputs(theirs, ours, order, n_layers):
    x = torch.randn((2, 4) + GEOMETRY[order][4])
    for i in layer_indices(n_layers):
        with torch.no_grad():
            expected = theirs(x, i).numpy()
        got = ours(x.numpy(), i)
        assert got.shape == expected.shape, i
        assert relative_error(got, expected) <= TOLERANCE, i


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("n_layers", [1, 3, (2, 2)])
@pytest.mark.parametrize("factorization,implementation", IMPLEMENTATIONS)
def test_same_call_and_state_dict_give_tltorch_output(factorization, implementation, n_layers,
                                                      bias, order):
    torch.manual_seed(hash((factorization, implementation, str(n_layers), bias, order)) % 1000)
    theirs, ours = same_call(factorization, implementation, n_layers, bias, order)
    assert_same_outputs(theirs, ours, order, n_layers)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_grid_with_has_bias_arrays(factorization):
    # has_bias=True, and one flag per layer as tltorch takes it (an ndarray).
    torch.manual_seed(3)
    for has_bias in (True, np.array([1, 0, 1], dtype=np.int32)):
        theirs, ours = same_call(factorization, "factorized", 3, True, 2, has_bias=has_bias)
        assert ours.has_bias.tolist() == np.broadcast_to(has_bias, (3,)).astype(int).tolist()
        assert_same_outputs(theirs, ours, 2, 3)


def test_issue_example_grid_bias_is_not_applied_and_warns():
    """FactorizedConv(4, 6, 3, order=2, rank=0.5, n_layers=3, bias=True): the bias exists but no
    layer applies it (tltorch's has_bias=False default), and we say so."""
    torch.manual_seed(0)
    theirs = tltorch.FactorizedConv(4, 6, 3, order=2, rank=0.5, n_layers=3, bias=True)
    theirs.reset_parameters()
    with torch.no_grad():
        theirs.bias.normal_()
    with pytest.warns(UserWarning, match="has_bias"):
        ours = fc.FactorizedConv(4, 6, 3, order=2, rank=0.5, n_layers=3, bias=True)
    ours.load_state_dict(theirs.state_dict())
    assert ours.has_bias.tolist() == theirs.has_bias.tolist() == [0, 0, 0]
    assert_same_outputs(theirs, ours, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no warning when the bias is applied or absent
        fc.FactorizedConv(4, 6, 3, order=2, n_layers=3, bias=True, has_bias=True)
        fc.FactorizedConv(4, 6, 3, order=2, n_layers=3)
        fc.FactorizedConv(4, 6, 3, order=2, bias=True)


def test_constructor_signature_matches_tltorch():
    import inspect
    ours = inspect.signature(fc.FactorizedConv.__init__).parameters
    theirs = inspect.signature(tltorch.FactorizedConv.__init__).parameters
    positional = [p for p in ours.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [(p.name, p.default) for p in positional] == \
        [(p.name, p.default) for p in theirs.values()]
    conv = fc.FactorizedConv(4, 6, 3, 2, 1, 1, 1, True, False, 1, "tucker", 0.5, "factorized",
                             None, "cpu", torch.float32)
    assert conv.order == 2 and conv.factorization == "tucker" and conv.padding.tolist() == [1, 1]
    for method in ("from_conv", "from_conv_list", "from_factorization", "transduct", "set",
                   "get_conv", "reset_parameters", "forward"):
        ours_method = inspect.signature(getattr(fc.FactorizedConv, method)).parameters
        theirs_method = inspect.signature(getattr(tltorch.FactorizedConv, method)).parameters
        ours_positional = [(p.name, p.default) for p in ours_method.values()
                           if p.kind is p.POSITIONAL_OR_KEYWORD]
        theirs_positional = [(p.name, p.default) for p in theirs_method.values()
                             if p.kind is p.POSITIONAL_OR_KEYWORD]
        # names and order are tltorch's; mutable defaults ({} / dict()) are None here
        assert [n for n, _ in ours_positional] == [n for n, _ in theirs_positional], method
        for (_, a), (_, b) in zip(ours_positional, theirs_positional):
            assert a == b or (b == {} and a is None) or (isinstance(a, str) and a.lower() == str(b).lower()), method


# -- from_conv and its arguments ------------------------------------------------------------------

def torch_conv(seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(in_channels=4, out_channels=6, kernel_size=3, padding=1)
    args.update(kwargs)
    return torch.nn.Conv2d(**args)


@pytest.mark.slow
def test_from_conv_positional_order_is_tltorchs():
    conv = torch_conv()
    a = fc.FactorizedConv.from_conv(conv, 0.5)                       # rank
    assert a.rank == tltorch.FactorizedConv.from_conv(conv, 0.5).rank
    b = fc.FactorizedConv.from_conv(conv, "same", "reconstructed", "tucker")
    assert b.factorization == "tucker" and b.implementation == "reconstructed"
    c = fc.FactorizedConv.from_conv(conv, (6, 4, 3, 3), "factorized", "tucker", True, {}, None)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        expected = conv(x).numpy()
    assert relative_error(c(x.numpy()), expected) <= 1e-4       # full Tucker ranks: exact
    d = fc.FactorizedConv.from_conv(conv, 0.5, decompose_weights=False, seed=1)
    assert abs(d.reconstruct_kernel().std() - 0.02) < 0.01       # initialized, not decomposed


def test_from_conv_takes_constructor_keywords():
    conv = torch_conv()
    layer = fc.FactorizedConv.from_conv(conv, rank=0.5, has_bias=True, device="cpu",
                                        dtype=torch.float32)
    assert layer.has_bias
    layer = fc.FactorizedConv.from_conv(conv, rank=0.5, device=torch.device("cpu"))
    with pytest.raises(fc.UnsupportedError, match="CPU"):
        fc.FactorizedConv.from_conv(conv, rank=0.5, device="cuda")
    with pytest.raises(fc.UnsupportedError, match="float32"):
        fc.FactorizedConv.from_conv(conv, rank=0.5, dtype=torch.float64)
    with pytest.raises(TypeError, match="bogus"):
        fc.FactorizedConv.from_conv(conv, rank=0.5, bogus=1)


def test_tensorly_decomposition_keywords_are_accepted():
    conv = torch_conv()
    # the keys a tltorch user passes: honoured (verbose draws a bar; a RandomState seeds)
    state = np.random.RandomState(4)
    layer = fc.FactorizedConv.from_conv(conv, rank=8, decomposition_kwargs=dict(
        verbose=False, svd="truncated_svd", normalize_factors=True, random_state=state,
        n_iter_max=20, init="svd", tol=1e-6, l2_reg=1e-5, linesearch=True,
        cvg_criterion="abs_rec_error"))
    factors = layer.weight.factors
    for factor in factors:          # normalize_factors: unit columns, norms in the weights
        np.testing.assert_allclose(np.linalg.norm(factor, axis=0), 1, rtol=1e-5)
    again = fc.FactorizedConv.from_conv(conv, rank=8, decomposition_kwargs=dict(
        random_state=np.random.RandomState(4), n_iter_max=20, tol=1e-6, normalize_factors=True))
    np.testing.assert_array_equal(again.reconstruct_kernel(), layer.reconstruct_kernel())
    # keys without an effect here: accepted, with a warning naming each
    for key, value in (("orthogonalise", True), ("return_errors", True), ("sparsity", 0.1),
                       ("mask", np.ones((6, 4, 3, 3))), ("fixed_modes", [0]), ("callback", print),
                       ("svd", "randomized_svd"), ("cvg_criterion", "rec_error")):
        with pytest.warns(UserWarning, match=key):
            fc.FactorizedConv.from_conv(conv, rank=4, decomposition_kwargs={key: value,
                                                                             "n_iter_max": 2})
    with pytest.warns(UserWarning, match="l2_reg"):          # a key Tucker does not take
        fc.FactorizedConv.from_conv(conv, rank=0.5, factorization="tucker",
                                    decomposition_kwargs={"l2_reg": 1e-3, "fixed_factors": None})
    with pytest.warns(UserWarning, match="unsqueezed_modes"):
        fc.FactorizedConv.from_conv(conv, rank=0.5, factorization="tucker",
                                    decomposition_kwargs={"unsqueezed_modes": [2]})


def test_verbose_draws_a_progress_bar(capsys):
    fc.FactorizedConv.from_conv(torch_conv(), rank=4,
                                decomposition_kwargs=dict(verbose=True, n_iter_max=3, tol=0))
    assert "decomposing" in capsys.readouterr().err


def test_transposed_conv_is_refused():
    with pytest.raises(fc.UnsupportedError, match="transposed"):
        fc.FactorizedConv.from_conv(torch.nn.ConvTranspose2d(4, 6, 3))
    with pytest.raises(fc.UnsupportedError, match="transposed"):
        fc.FactorizedConv.from_conv_list([torch.nn.ConvTranspose1d(4, 6, 3)])
    with pytest.raises(fc.UnsupportedError, match="groups"):
        fc.FactorizedConv.from_conv(torch.nn.Conv2d(4, 6, 3, groups=2))


def test_fixed_rank_modes_warns_outside_tucker_as_tltorch():
    with pytest.warns(UserWarning, match="fixed_rank_modes"):
        conv = fc.FactorizedConv(4, 6, (3, 3), fixed_rank_modes="spatial")
    assert conv.rank == 14


# -- from_factorization ---------------------------------------------------------------------------

@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
@pytest.mark.parametrize("factorization", ["CP", "Tucker", "TT"])
def test_from_factorization_of_a_tltorch_tensor(factorization, implementation):
    from tltorch.factorized_layers.factorized_convolution import (
        kernel_shape_to_factorization_shape, tensor_to_kernel)
    torch.manual_seed(1)
    shape = kernel_shape_to_factorization_shape(factorization, (5, 4, 3, 3))
    tensor = tltorch.FactorizedTensor.new(shape=shape, rank=0.5,
                                          factorization=factorization).normal_(0, 1)
    bias = torch.randn(5)
    theirs = tltorch.FactorizedConv.from_factorization(tensor, implementation=implementation,
                                                       bias=bias, padding=1)
    ours = fc.FactorizedConv.from_factorization(tensor, implementation=implementation, bias=bias,
                                                padding=1)
    x = torch.randn(2, 4, 8, 7)
    with torch.no_grad():
        expected = theirs(x).numpy()
    assert relative_error(ours(x.numpy()), expected) <= TOLERANCE
    kernel = tensor_to_kernel(factorization, tensor.to_tensor()).detach().numpy()
    assert relative_error(ours.reconstruct_kernel(), kernel) <= 1e-6
    np.testing.assert_array_equal(ours.bias, bias.numpy())
    assert ours.rank == (tensor.rank if isinstance(tensor.rank, int) else tuple(tensor.rank))


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt", "dense"])
def test_from_factorization_of_numpy_factors_and_weight_views(factorization):
    rng = np.random.default_rng(0)
    tensors = {
        "cp": lambda: fc.CPTensor(rng.standard_normal(3), [rng.standard_normal((n, 3))
                                                           for n in (2, 5, 4, 3, 3)]),
        "tucker": lambda: fc.TuckerTensor(rng.standard_normal((2, 3, 2, 2, 2)),
                                          [rng.standard_normal((n, r)) for n, r in
                                           zip((2, 5, 4, 3, 3), (2, 3, 2, 2, 2))]),
        "tt": lambda: fc.TTTensor([rng.standard_normal(s) for s in
                                   ((1, 2, 3), (3, 4, 2), (2, 3, 3), (3, 3, 2), (2, 5, 1))]),
        "dense": lambda: fc.DenseTensor(rng.standard_normal((2, 5, 4, 3, 3))),
    }
    tensor = tensors[factorization]()
    bias = rng.standard_normal((2, 5)).astype(np.float32)
    with pytest.warns(UserWarning, match="has_bias"):      # a grid: tltorch does not apply it
        conv = fc.FactorizedConv.from_factorization(tensor, "reconstructed", 1, 1, 1, bias, 2)
    assert conv.n_layers == 2 and conv.factorization == factorization
    full = tensor.to_tensor()
    kernels = np.moveaxis(full, -1, 1) if factorization == "tt" else full
    assert relative_error(conv.reconstruct_kernel(), kernels) <= 1e-6
    # the weight view goes back in unchanged, and is a copy of the parameters
    again = fc.FactorizedConv.from_factorization(conv.weight, n_layers=2,
                                                 implementation="reconstructed")
    np.testing.assert_array_equal(again.reconstruct_kernel(), conv.reconstruct_kernel())


def test_from_factorization_of_tensorly_like_objects():
    class TuckerTensor:         # tensorly's class has .core and .factors and no .name
        def __init__(self, core, factors):
            self.core, self.factors = core, factors

    rng = np.random.default_rng(2)
    core = rng.standard_normal((3, 2, 2, 2))
    factors = [rng.standard_normal((n, r)) for n, r in zip((5, 4, 3, 3), (3, 2, 2, 2))]
    conv = fc.FactorizedConv.from_factorization(TuckerTensor(core, factors))
    expected = np.einsum("abcd,ia,jb,kc,ld->ijkl", core, *factors)
    assert relative_error(conv.reconstruct_kernel(), expected) <= 1e-6


# -- attributes, the weight view, repr --------------------------------------------------------------

@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt", "dense"])
def test_attributes_and_weight_view_match_tltorch(factorization):
    torch.manual_seed(2)
    implementation = "reconstructed" if factorization == "dense" else "factorized"
    theirs, ours = same_call(factorization, implementation, 3, True, 2)
    for name in ("in_channels", "out_channels", "order", "kernel_size", "layers_shape",
                 "kernel_shape", "n_layers"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("stride", "padding", "dilation", "has_bias"):
        ours_value, theirs_value = getattr(ours, name), getattr(theirs, name)
        assert isinstance(ours_value, np.ndarray) and ours_value.dtype == theirs_value.dtype
        assert ours_value.shape == theirs_value.shape and ours_value.tolist() == theirs_value.tolist()
    assert ours.input_rank == theirs.input_rank
    weight, expected = ours.weight, theirs.weight
    assert weight.name == expected.name and type(weight).__name__ == type(expected).__name__
    assert tuple(weight.shape) == tuple(expected.shape)
    assert weight.rank == (expected.rank if expected.rank is None or isinstance(expected.rank, int)
                           else tuple(expected.rank))
    assert relative_error(weight.to_tensor(), expected.to_tensor().detach().numpy()) <= 1e-6
    for i in (0, 2, -1):
        assert relative_error(weight[i].to_tensor(), expected[i].to_tensor().detach().numpy()) \
            <= 1e-6
    if factorization != "dense":
        for a, b in zip(weight.factors, expected.factors):
            np.testing.assert_array_equal(a, b.detach().numpy())
    np.testing.assert_array_equal(ours.bias, theirs.bias.detach().numpy())
    arrays = [weight.tensor] if factorization == "dense" else list(weight.factors)
    with pytest.raises(ValueError, match="read-only"):
        arrays[0][...] = 0


def test_repr_is_tltorchs_module_repr():
    torch.manual_seed(0)
    for args in (dict(), dict(bias=True, padding=1), dict(n_layers=2, factorization="tucker"),
                 dict(factorization="tt", stride=(2, 1), dilation=2)):
        theirs = tltorch.FactorizedConv(4, 6, (3, 3), **args)
        ours = fc.FactorizedConv(4, 6, (3, 3), **args)
        # the one deliberate difference: no dangling ", " at the end of a line
        assert repr(ours) == re.sub(r", (\n|$)", r"\1", repr(theirs))
    grid = fc.FactorizedConv(4, 6, (3, 3), n_layers=2, padding=1, factorization="tucker")
    theirs = repr(tltorch.FactorizedConv(4, 6, (3, 3), n_layers=2, padding=1)[1])
    # tltorch prints bias=False exactly when the layer has a bias (inverted); ours when it has none
    assert repr(grid[1]) == theirs[:-1] + ", bias=False)"


# -- geometry arrays, indices, state_dict, seeds -----------------------------------------------------

def test_geometry_arrays_are_read_only_and_assignment_applies():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=3)
    assert conv.stride.tolist() == [[1, 1]] * 3
    with pytest.raises(ValueError, match="read-only"):
        conv.padding[1] = 2             # never a silently lost edit
    conv.padding = np.array([[0, 0], [1, 1], [2, 1]])
    conv.stride = 2
    assert conv.padding.tolist() == [[0, 0], [1, 1], [2, 1]]
    assert conv.stride.tolist() == [[2, 2]] * 3
    x = np.random.default_rng(0).standard_normal((1, 4, 9, 9)).astype(np.float32)
    assert conv(x, 2).shape == (1, 6, 6, 5)


def test_per_layer_geometry_in_the_constructor():
    torch.manual_seed(4)
    padding = np.array([[1, 1], [0, 2], [2, 0]], dtype=np.int32)
    stride = np.array([[1, 2], [2, 1], [1, 1]], dtype=np.int32)
    theirs = tltorch.FactorizedConv(4, 6, (3, 2), n_layers=3, padding=padding.copy(),
                                    stride=stride.copy(), rank=0.6, bias=True, has_bias=True)
    theirs.reset_parameters()
    ours = fc.FactorizedConv(4, 6, (3, 2), n_layers=3, padding=padding, stride=stride, rank=0.6,
                             bias=True, has_bias=True)
    ours.load_state_dict(theirs.state_dict())
    assert ours.padding.tolist() == padding.tolist() and ours.stride.tolist() == stride.tolist()
    x = torch.randn(2, 4, 9, 8)
    for i in range(3):
        with torch.no_grad():
            expected = theirs(x, i).numpy()
        assert relative_error(ours(x.numpy(), i), expected) <= TOLERANCE


def test_negative_indices_count_from_the_end():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=(2, 3), seed=1)
    x = np.random.default_rng(0).standard_normal((1, 4, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(conv[-1, -2](x), conv(x, (1, 1)))
    np.testing.assert_array_equal(conv(x, (-1, -2)), conv(x, (1, 1)))
    grid = fc.FactorizedConv(4, 6, (3, 3), n_layers=3, seed=1)
    grid.set(-1, stride=2)
    assert grid[-1].indices == 2 and grid.stride[2].tolist() == [2, 2]
    np.testing.assert_array_equal(grid(x, -1), grid(x, 2))
    with pytest.raises(fc.LayerIndexError):
        grid[-4]


def test_load_state_dict_strict_semantics_and_result():
    conv = fc.FactorizedConv(4, 6, (3, 3), bias=True, seed=1)
    state = conv.state_dict()
    result = conv.load_state_dict(state)
    assert result == ([], []) and repr(result) == "<All keys matched successfully>"
    assert isinstance(result, fc.IncompatibleKeys)
    before = conv.state_dict()
    result = conv.load_state_dict({"bias": np.ones(6), "extra": np.ones(2),
                                   "weight.bogus": np.ones(1)}, strict=False)
    assert result.unexpected_keys == ["extra", "weight.bogus"]
    assert sorted(result.missing_keys) == sorted(k for k in state if k != "bias")
    np.testing.assert_array_equal(conv.bias, np.ones(6))
    np.testing.assert_array_equal(conv.state_dict()["weight.weights"], before["weight.weights"])
    with pytest.raises(RuntimeError, match="extra"):           # torch's exception type
        conv.load_state_dict(dict(state, extra=np.ones(2)))
    with pytest.raises(fc.StateDictError, match="missing"):
        conv.load_state_dict({"bias": np.ones(6)})


def test_unseeded_layers_and_resets_are_fresh():
    a, b = fc.FactorizedConv(4, 6, (3, 3)), fc.FactorizedConv(4, 6, (3, 3))
    assert not np.array_equal(a.reconstruct_kernel(), b.reconstruct_kernel())
    first = a.reconstruct_kernel()
    a.reset_parameters()
    second = a.reconstruct_kernel()
    a.reset_parameters()
    assert not np.array_equal(first, second)
    assert not np.array_equal(second, a.reconstruct_kernel())
    a.reset_parameters(seed=5)
    seeded = a.reconstruct_kernel()
    a.reset_parameters(seed=5)
    np.testing.assert_array_equal(seeded, a.reconstruct_kernel())


def test_transduct_accepts_fine_tune_transduction_only():
    conv = fc.FactorizedConv(4, 6, (3, 3), padding=1, seed=1)
    assert conv.transduct(3, 0, 1, 1, 1, False) is conv and conv.order == 3
    assert conv.transduct(3, fine_tune_transduction_only=True).order == 4


def test_copies_keep_the_input_rank():
    conv = fc.FactorizedConv(4, 6, (3, 3), rank=0.5)
    assert copy.deepcopy(conv).input_rank == 0.5

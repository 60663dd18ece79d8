"""factorconv.torch against real torch and tltorch: the adapter is a torch.nn.Module with
tltorch's API; tltorch's own layer test passes unchanged against it; a small CNN built with
tltorch layers converts to equal outputs, exchanges state_dicts both ways and survives
torch.save / torch.load; and the parts of tltorch's API that need a module."""

import copy
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import factorconv as fc
from reference import relative_error

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")
tltorch = pytest.importorskip("tltorch", reason="tltorch is not importable here (make deps)")
import factorconv.torch as fct  # noqa: E402 - after the skip: it needs torch
from torch import nn  # noqa: E402

TOLERANCE = 1e-5


# -- tltorch's own test of a layer, unchanged, against the adapter ------------------------------------

@pytest.mark.parametrize("factorization,implementation", [
    ("CP", "factorized"), ("CP", "reconstructed"), ("CP", "mobilenet"), ("CP", "auto"),
    ("Tucker", "factorized"), ("Tucker", "reconstructed"), ("Tucker", "auto"),
    ("TT", "factorized"), ("TT", "reconstructed"), ("TT", "auto")])
def test_tltorch_layer_test_passes_unchanged(monkeypatch, factorization, implementation):
    """tltorch/factorized_layers/tests/test_factorized_convolution.py::test_single_conv, its
    code as shipped with tltorch, with its FactorizedConv name bound to the adapter."""
    from tltorch.factorized_layers.tests import test_factorized_convolution as upstream
    monkeypatch.setattr(upstream, "FactorizedConv", fct.FactorizedConv)
    upstream.test_single_conv(factorization, implementation)


# -- a small CNN built with tltorch layers ------------------------------------------------------------

def small_cnn(factorization, n_layers, seed=0):
    """conv -> BN -> ReLU -> max-pool -> factorized conv(s) -> BN -> ReLU -> avg-pool -> linear,
    the convolutions tltorch FactorizedConv layers; with n_layers=3 the middle stage is the three
    sub-convolutions of one grid (each its own geometry; layer 1 applies no bias)."""
    torch.manual_seed(seed)

    def factorized(cin, cout, **kwargs):
        conv = tltorch.FactorizedConv(cin, cout, 3, order=2, bias=True, rank=0.5,
                                      factorization=factorization, **kwargs)
        conv.reset_parameters()           # tltorch's constructor leaves memory uninitialized
        with torch.no_grad():
            conv.bias.normal_(0, 0.1)
        return conv

    layers = [factorized(3, 12, padding=1), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2)]
    if n_layers == 1:
        layers += [factorized(12, 12, padding=1, implementation="reconstructed"),
                   nn.BatchNorm2d(12), nn.ReLU()]
    else:
        grid = factorized(12, 12, n_layers=3)
        for i, (padding, dilation) in enumerate(((1, 1), (2, 2), (1, 1))):
            grid.set(i, padding=padding, dilation=dilation,
                     bias=None if i == 1 else torch.randn(12))
            layers += [grid[i], nn.ReLU()]
        layers += [nn.BatchNorm2d(12)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 10)]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.01)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.normal_(1, 0.1)
    return model.eval()


def rescale_first_conv(model):
    """tltorch's init makes tiny activations (TT's std is off by sqrt(prod(R))): scale the first
    conv so every layer's output is of order 1 and the comparison sees real numbers."""
    with torch.no_grad():
        for conv in (m for m in model.modules() if type(m).__name__ == "FactorizedConv"):
            for factor in conv.weight.factors:
                factor.mul_(3.0)


def run(model, x):
    with torch.no_grad():
        return model(x)


CNN_CASES = [(f, n) for f in ("cp", "tucker", "tt") for n in (1, 3)]


@pytest.mark.parametrize("factorization,n_layers", CNN_CASES)
def test_convert_gives_tltorch_outputs(factorization, n_layers):
    theirs = small_cnn(factorization, n_layers)
    rescale_first_conv(theirs)
    ours = copy.deepcopy(theirs)
    replaced = fct.convert(ours)
    expected_names = {name for name, m in theirs.named_children()
                      if type(m).__module__.startswith("tltorch")}
    assert set(replaced) == expected_names
    assert all(type(m).__module__.startswith("tltorch") for m in replaced.values())
    assert not any(type(m).__module__.startswith("tltorch") for m in ours.modules())
    x = torch.randn(4, 3, 16, 16)
    expected = run(theirs, x)
    assert torch.abs(expected).max() > 1e-3
    assert relative_error(run(ours, x).numpy(), expected.numpy()) <= TOLERANCE


@pytest.mark.parametrize("factorization,n_layers", CNN_CASES)
def test_state_dict_both_ways(factorization, n_layers):
    theirs = small_cnn(factorization, n_layers, seed=1)
    ours = copy.deepcopy(theirs)
    fct.convert(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 3, 16, 16)
    # a tltorch checkpoint of other values loads into the converted model...
    checkpoint = small_cnn(factorization, n_layers, seed=2)
    rescale_first_conv(checkpoint)
    result = ours.load_state_dict(checkpoint.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert relative_error(run(ours, x).numpy(), run(checkpoint, x).numpy()) <= TOLERANCE
    # ...and the converted model's state_dict loads into tltorch's
    fresh = small_cnn(factorization, n_layers, seed=3)
    fresh.load_state_dict(ours.state_dict())
    assert relative_error(run(fresh, x).numpy(), run(ours, x).numpy()) <= TOLERANCE


@pytest.mark.parametrize("factorization,n_layers", CNN_CASES)
def test_torch_save_and_load_of_the_converted_model(tmp_path, factorization, n_layers):
    theirs = small_cnn(factorization, n_layers)
    rescale_first_conv(theirs)
    ours = copy.deepcopy(theirs)
    fct.convert(ours)
    x = torch.randn(2, 3, 16, 16)
    expected = run(ours, x)
    torch.save(ours, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    assert [type(m) for m in loaded.modules()] == [type(m) for m in ours.modules()]
    assert torch.equal(run(loaded, x), expected)
    torch.save(ours.state_dict(), tmp_path / "weights.pt")
    again = copy.deepcopy(theirs)
    fct.convert(again)
    again.load_state_dict(torch.load(tmp_path / "weights.pt"))       # weights_only (default)
    assert torch.equal(run(again, x), expected)


def test_convert_compresses_dense_convs_and_keeps_the_others():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.Identity(),
                          nn.Sequential(nn.Conv2d(8, 6, (3, 1), stride=(2, 1), padding=(1, 0))))
    reference = copy.deepcopy(model).eval()
    with pytest.warns(UserWarning, match="groups=2"):
        replaced = fct.convert(model, "tucker", rank=2.0, implementation="auto")
    assert list(replaced) == ["0", "4.0"]
    assert isinstance(model[0], fct.FactorizedConv) and isinstance(model[4][0], fct.FactorizedConv)
    assert isinstance(model[2], nn.Conv2d)                         # grouped: stays dense
    assert model[0].implementation == "auto" and model[4][0].stride.tolist() == [2, 1]
    x = torch.randn(2, 3, 10, 10)
    # rank 2.0 asks for more than every mode has: full Tucker ranks, the dense convs' outputs
    assert relative_error(run(model, x).numpy(), run(reference, x).numpy()) <= 1e-4


# -- a torch.nn.Module, as tltorch's layer is -------------------------------------------------------

def test_it_is_a_module_inside_a_model_with_weight_and_bias():
    torch.manual_seed(0)
    conv = fct.FactorizedConv(4, 6, 3, order=2, padding=1, bias=True, rank=0.5)
    assert isinstance(conv, nn.Module)
    model = nn.Sequential(conv, nn.ReLU())
    assert isinstance(conv.weight, fct.CPTensor) and isinstance(conv.weight, nn.Module)
    assert isinstance(conv.bias, nn.Parameter) and conv.bias.shape == (6,)
    assert [n for n, _ in model.named_parameters()] == [
        "0.bias", "0.weight.weights", "0.weight.factors.factor_0", "0.weight.factors.factor_1",
        "0.weight.factors.factor_2", "0.weight.factors.factor_3"]
    y = model(torch.randn(2, 4, 8, 8))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (2, 6, 8, 8)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    assert isinstance(torch.load(buffer, weights_only=False)[0], fct.FactorizedConv)


def test_module_attributes_and_repr_are_tltorchs():
    torch.manual_seed(0)
    args = dict(n_layers=2, factorization="tucker", rank=0.5, padding=1)
    ours, theirs = fct.FactorizedConv(4, 6, (3, 3), **args), tltorch.FactorizedConv(4, 6, (3, 3), **args)
    for name in ("in_channels", "out_channels", "order", "kernel_size", "layers_shape",
                 "kernel_shape", "n_layers", "rank", "shape", "implementation", "input_rank",
                 "factorization"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("stride", "padding", "dilation", "has_bias"):
        assert getattr(ours, name).tolist() == getattr(theirs, name).tolist(), name
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs).replace(", \n", "\n")
    assert ours.weight[1].rank == theirs.weight[1].rank
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(ours.weight.to_tensor(), theirs.weight.to_tensor(), atol=1e-7)


def test_forward_needing_gradients_points_to_tltorch():
    conv = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    x = torch.randn(1, 4, 6, 6, requires_grad=True)
    with pytest.raises(RuntimeError, match="tltorch"):
        conv(x)
    with torch.no_grad():
        assert conv(x).shape == (1, 6, 4, 4)
    with torch.inference_mode():
        conv(x)
    conv.weight.factors[0].requires_grad_(True)
    with pytest.raises(RuntimeError, match="inference only"):
        conv(x.detach())


def test_other_devices_and_dtypes_are_refused():
    conv = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    with pytest.raises(fc.UnsupportedError, match="float32"):
        conv(torch.randn(1, 4, 6, 6, dtype=torch.float64))
    if hasattr(torch, "device"):
        meta = torch.randn(1, 4, 6, 6, device="meta")
        with pytest.raises(fc.UnsupportedError, match="CPU"):
            conv(meta)
    conv.double()
    with pytest.raises(fc.UnsupportedError, match="float32"):
        conv(torch.randn(1, 4, 6, 6))
    conv.float()
    assert conv(torch.randn(1, 4, 6, 6)).shape == (1, 6, 4, 4)
    with pytest.raises(fc.UnsupportedError, match="CPU"):
        fct.FactorizedConv(4, 6, (3, 3), device="cuda")


def test_zero_copy_in_and_out(monkeypatch):
    conv = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    x = torch.randn(2, 4, 8, 8)
    seen = {}
    native_forward = fc.FactorizedConv.forward

    def spy(self, array, indices=0):
        seen["input"] = array
        seen["output"] = native_forward(self, array, indices)
        return seen["output"]

    monkeypatch.setattr(fc.FactorizedConv, "forward", spy)
    y = conv(x)
    assert np.shares_memory(seen["input"], x.numpy())                  # in: no copy
    assert y.data_ptr() == seen["output"].ctypes.data                  # out: no copy
    conv(x.transpose(2, 3))                                            # a view: made contiguous
    assert seen["input"].flags.c_contiguous


def test_import_factorconv_never_imports_torch():
    code = "import sys, factorconv; assert 'torch' not in sys.modules, 'torch imported'"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fc.__file__)))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- edits apply, as in tltorch ----------------------------------------------------------------------

def test_parameter_and_geometry_edits_apply_like_tltorch():
    torch.manual_seed(0)
    theirs = tltorch.FactorizedConv(4, 6, 3, order=2, n_layers=2, bias=True, has_bias=True,
                                    rank=0.5, factorization="cp")
    theirs.reset_parameters()
    ours = fct.FactorizedConv.from_tltorch(theirs)
    x = torch.randn(2, 4, 9, 9)

    def same():
        for i in range(2):
            assert relative_error(ours(x, i).numpy(), run_layer(theirs, x, i).numpy()) \
                <= TOLERANCE

    same()
    for model in (theirs, ours):
        model.padding[1] = [2, 1]                 # numpy edits of the geometry arrays
        model.stride[0, 1] = 2
        model.has_bias[0] = 0
        with torch.no_grad():                     # in-place parameter edits
            model.weight.factors[2].mul_(-2)
            model.bias[1].fill_(0.5)
    same()
    for model in (theirs, ours):
        model.set(0, stride=1, padding=1, bias=torch.ones(6))
    same()


def run_layer(model, x, i):
    with torch.no_grad():
        return model(x, i)


def test_load_state_dict_of_another_rank():
    """tltorch's TT from_conv truncates ranks: its checkpoint has smaller factors than a fresh
    layer of the same call; the adapter resizes (tltorch itself would refuse)."""
    torch.manual_seed(0)
    dense = nn.Conv2d(4, 6, 3, padding=1)
    theirs = tltorch.FactorizedConv.from_conv(dense, rank=(1, 7, 7, 7, 1), factorization="tt")
    ours = fct.FactorizedConv(4, 6, 3, order=2, padding=1, bias=True, factorization="tt",
                              rank=(1, 7, 7, 7, 1), implementation="reconstructed")
    ours.load_state_dict(theirs.state_dict())
    assert ours.rank == tuple(f.shape[0] for f in theirs.weight.factors) + (1,)
    x = torch.randn(1, 4, 8, 8)
    assert relative_error(ours(x).numpy(), run(theirs, x).numpy()) <= TOLERANCE
    with pytest.raises(RuntimeError, match="size mismatch"):
        ours.load_state_dict({**ours.state_dict(), "weight.factors.factor_0": torch.ones(1, 4, 3)})


def test_methods_match_tltorch():
    torch.manual_seed(0)
    dense = [nn.Conv2d(4, 6, 3, padding=1), nn.Conv2d(4, 6, 3, stride=2, bias=False)]
    x = torch.randn(2, 4, 9, 9)
    # from_conv_list with full Tucker ranks reproduces the convolutions
    ours = fct.FactorizedConv.from_conv_list(dense, (2, 6, 4, 3, 3), factorization="tucker")
    for i, conv in enumerate(dense):
        assert relative_error(ours(x, i).numpy(), run(conv, x).numpy()) <= 1e-4
        assert relative_error(ours[i](x).numpy(), run(conv, x).numpy()) <= 1e-4
    # transduct on a tltorch layer and on its adapter: equal 3-D outputs
    theirs = tltorch.FactorizedConv(4, 6, 3, order=2, padding=1, rank=0.5, factorization="cp")
    theirs.reset_parameters()
    adapter = fct.FactorizedConv.from_tltorch(theirs)
    theirs.transduct(3, padding=1)
    assert adapter.transduct(3, padding=1) is adapter and adapter.order == 3
    video = torch.randn(1, 4, 5, 8, 8)
    assert relative_error(adapter(video).numpy(), run(theirs, video).numpy()) <= TOLERANCE
    # reset_parameters: fresh unless seeded, reproducible under torch.manual_seed
    a = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    before = a.weight.to_tensor().clone()
    a.reset_parameters()
    assert not torch.equal(before, a.weight.to_tensor())
    torch.manual_seed(7)
    b = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    torch.manual_seed(7)
    c = fct.FactorizedConv(4, 6, (3, 3), rank=0.5)
    assert torch.equal(b.weight.to_tensor(), c.weight.to_tensor())
    with pytest.raises(ValueError, match="single convolution"):
        a.get_conv(0)


def test_from_factorization_of_the_adapters_weight_and_of_tltorchs():
    torch.manual_seed(0)
    tensor = tltorch.FactorizedTensor.new((5, 4, 3, 3), rank=0.5, factorization="Tucker")
    tensor.normal_(0, 1)
    ours = fct.FactorizedConv.from_factorization(tensor, padding=1, bias=torch.ones(5))
    theirs = tltorch.FactorizedConv.from_factorization(tensor, padding=1, bias=torch.ones(5))
    x = torch.randn(1, 4, 7, 7)
    assert relative_error(ours(x).numpy(), run(theirs, x).numpy()) <= TOLERANCE
    again = fct.FactorizedConv.from_factorization(ours.weight, padding=1)
    assert torch.equal(again.weight.to_tensor(), ours.weight.to_tensor())


def test_pickle_and_deepcopy_of_the_module():
    conv = fct.FactorizedConv(4, 6, 3, order=2, n_layers=2, bias=True, has_bias=True, rank=0.5)
    x = torch.randn(1, 4, 7, 7)
    expected = conv(x, 1)
    for clone in (copy.deepcopy(conv), pickle.loads(pickle.dumps(conv))):
        assert torch.equal(clone(x, 1), expected)
        with torch.no_grad():
            clone.bias.zero_()
        assert torch.equal(conv(x, 1), expected)          # independent of the original

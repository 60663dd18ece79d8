"""The fine-tuning loop: compressed layers -> tltorch.FactorizedConv (factorconv.torch.to_tltorch,
to_tltorch_model) -> a few optimizer steps in tltorch -> factorconv.torch.convert, with the
outputs of the FactorConv model checked against tltorch's at every step (torch/tltorch is the
reference), for CP, Tucker and TT."""

import copy

import numpy as np
import pytest

import factorconv as fc

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")
tltorch = pytest.importorskip("tltorch", reason="tltorch is not importable here (make deps)")
import factorconv.torch as fct  # noqa: E402 - after the skip: it needs torch
from torch import nn  # noqa: E402

TOLERANCE = 1e-5
FACTORIZATIONS = ["cp", "tucker", "tt"]


def relative(a, b):
    return float((a - b).norm() / b.norm())


def dense_model(seed=0):
    """A small CNN with two dense 3x3 convolutions (submodules '0' and '2')."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))


def compressed_layers(model, factorization):
    """The model's convolutions compressed at rank 0.5: one as a numpy layer (what a layer file
    or bundle loads as), one as a factorconv.torch module."""
    return {"0": fc.FactorizedConv.from_conv(model[0], 0.5, "auto", factorization, seed=1),
            "2": fct.FactorizedConv.from_conv(model[2], 0.5, "factorized", factorization, seed=2)}


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_to_tltorch_keeps_the_layer(factorization):
    dense = dense_model()
    for layer in compressed_layers(dense, factorization).values():
        twin = fct.to_tltorch(layer)
        assert isinstance(twin, tltorch.FactorizedConv)
        assert twin.weight.name.lower() == factorization
        assert np.array_equal(np.atleast_1d(twin.rank), np.atleast_1d(layer.rank))
        state = layer.state_dict()
        assert list(twin.state_dict()) == list(state)
        for name, value in twin.state_dict().items():
            assert np.array_equal(value.numpy(), np.asarray(state[name])), name
        assert all(p.requires_grad for p in twin.parameters())
        x = torch.randn(2, layer.in_channels, 9, 9)
        with torch.no_grad():
            expected = twin(x)
        ours = layer(x.numpy()) if isinstance(layer, fc.FactorizedConv) else layer(x).numpy()
        assert relative(torch.from_numpy(np.asarray(ours)), expected) < TOLERANCE


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_fine_tuning_loop(factorization):
    dense = dense_model()
    x = torch.randn(8, 3, 12, 12)
    with torch.no_grad():
        target = dense(x)                            # distil the dense model into the compressed
    model = copy.deepcopy(dense)
    replaced = fct.to_tltorch_model(model, compressed_layers(dense, factorization))
    assert list(replaced) == ["0", "2"] and isinstance(replaced["0"], nn.Conv2d)
    assert isinstance(model[0], tltorch.FactorizedConv) and isinstance(model[2], tltorch.FactorizedConv)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, first = [], copy.deepcopy(model[2].state_dict())
    for step in range(4):
        # The FactorConv model of this step's parameters computes what tltorch computes.
        snapshot = copy.deepcopy(model)
        assert sorted(fct.convert(snapshot)) == ["0", "2"]
        assert isinstance(snapshot[0], fct.FactorizedConv)
        with torch.no_grad():
            assert relative(snapshot(x), model(x)) < TOLERANCE, step
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert any(not torch.equal(value, model[2].state_dict()[name]) for name, value in first.items())
    # Back to FactorConv in place, for inference.
    with torch.no_grad():
        expected = model(x)
    assert sorted(fct.convert(model)) == ["0", "2"]
    with torch.no_grad():
        assert relative(model(x), expected) < TOLERANCE


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_a_model_bundle_into_tltorch(factorization):
    """compress_model's output: a bundle of named layers, loaded, into the model it came from."""
    dense = dense_model()
    layers = {name: fc.FactorizedConv.from_conv(dense[int(name)], 0.5, "auto", factorization,
                                                seed=0) for name in ("0", "2")}
    bundle = fc.load_layers(fc.layers_to_bytes(layers))
    model = copy.deepcopy(dense)
    assert list(fct.to_tltorch_model(model, bundle)) == ["0", "2"]
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        expected = model(x)
    fct.convert(model)
    with torch.no_grad():
        assert relative(model(x), expected) < TOLERANCE
    # And against the bundle's own layers, run by FactorConv outside torch.
    hidden = np.maximum(bundle["0"](x.numpy()), 0)
    with torch.no_grad():
        assert relative(model[2](torch.relu(model[0](x))),
                        torch.from_numpy(bundle["2"](hidden))) < TOLERANCE


def test_to_tltorch_model_replaces_every_adapter_and_convert_goes_back():
    dense = dense_model()
    model = copy.deepcopy(dense)
    fct.convert(model, factorization="tucker", rank=0.5, seed=0)
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        ours = model(x)
    replaced = fct.to_tltorch_model(model)
    assert sorted(replaced) == ["0", "2"]
    assert all(isinstance(replaced[name], fct.FactorizedConv) for name in replaced)
    assert isinstance(model[2], tltorch.FactorizedConv)
    with torch.no_grad():
        assert relative(model(x), ours) < TOLERANCE


def test_grid_layers_and_their_sub_convolutions():
    torch.manual_seed(0)
    convs = [nn.Conv2d(6, 6, 3, padding=p) for p in (0, 1, 2)]
    grid = fct.FactorizedConv.from_conv_list(convs, 0.5, factorization="tt", seed=0)
    model = nn.Sequential(grid.get_conv(1), nn.ReLU(), grid.get_conv(2))
    x = torch.randn(1, 6, 8, 8)
    with torch.no_grad():
        ours = model(x)
    fct.to_tltorch_model(model)
    assert type(model[0]).__name__ == "SubFactorizedConv" and type(model[0]).__module__.startswith("tltorch")
    assert model[0].main_conv is model[2].main_conv          # one twin per grid, shared
    with torch.no_grad():
        assert relative(model(x), ours) < TOLERANCE


def test_misuse_is_refused_and_leaves_the_model_unchanged():
    dense = dense_model()
    layers = compressed_layers(dense, "cp")
    with pytest.raises(TypeError):
        fct.to_tltorch(dense[0])
    with pytest.raises(TypeError):
        fct.to_tltorch(fct.FactorizedConv.from_conv_list([dense[2], dense[2]], 0.5).get_conv(0))
    model = copy.deepcopy(dense)
    with pytest.raises(KeyError):
        fct.to_tltorch_model(model, {"0": layers["0"], "9": layers["2"]})
    with pytest.raises(KeyError):
        fct.to_tltorch_model(model, {"0": layers["0"], "1.weight": layers["2"]})
    with pytest.raises(KeyError):
        fct.to_tltorch_model(model, {"0": layers["0"], "head.0": layers["2"]})
    assert isinstance(model[0], nn.Conv2d)                    # nothing replaced

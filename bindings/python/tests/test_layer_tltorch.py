"""Interop with real tltorch (installed by make deps): tltorch layers move to
factorconv through state_dict() and back, with equal forward outputs; torch.nn.ConvNd objects
go into FactorizedConv.from_conv directly."""

import numpy as np
import pytest

import factorconv as fc
from reference import relative_error

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")
tltorch = pytest.importorskip("tltorch", reason="tltorch is not importable here (make deps installs it)")

TOLERANCE = 1e-5
# (stride, padding, dilation) per layer; layer 0 of a grid gets no bias (tltorch's default).
GEOMETRY = [((1, 1), (1, 1), (1, 1)), ((2, 1), (0, 2), (1, 2)), ((1, 2), (2, 1), (2, 1))]


def to_numpy(state):
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def build_tltorch(factorization, n_layers, implementation, seed):
    torch.manual_seed(seed)
    layer = tltorch.FactorizedConv(5, 7, (3, 3), n_layers=n_layers, bias=True, rank=0.5,
                                   factorization=factorization, implementation=implementation)
    layer.reset_parameters()
    with torch.no_grad():
        if n_layers == 1:
            layer.bias.copy_(torch.randn(7))
        else:
            for i, (s, p, d) in enumerate(GEOMETRY):
                layer.set(i, stride=s, padding=p, dilation=d,
                          bias=torch.randn(7) if i else None)
    return layer


def build_ours(factorization, n_layers, implementation):
    if n_layers == 1:
        return fc.FactorizedConv(5, 7, (3, 3), bias=True, rank=0.5, factorization=factorization,
                                 implementation=implementation)
    conv = fc.FactorizedConv(5, 7, (3, 3), n_layers=n_layers, bias=True, has_bias=False,
                             rank=0.5, factorization=factorization, implementation=implementation)
    for i, (s, p, d) in enumerate(GEOMETRY):
        conv.set(i, stride=s, padding=p, dilation=d)
    return conv


def outputs_agree(ours, theirs, n_layers, bias_layers):
    x = np.random.default_rng(7).standard_normal((2, 5, 11, 9)).astype(np.float32)
    for i in range(n_layers):
        with torch.no_grad():
            expected = theirs(torch.from_numpy(x), i).numpy()
        got = ours(x, i)
        assert got.shape == expected.shape
        assert relative_error(got, expected) <= TOLERANCE, "layer %d" % i
        if n_layers > 1:
            assert ours.has_bias[i] == (i in bias_layers)


@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_state_dict_round_trip_with_tltorch(factorization, n_layers, implementation):
    theirs = build_tltorch(factorization, n_layers, implementation, seed=11)
    state = to_numpy(theirs.state_dict())
    ours = build_ours(factorization, n_layers, implementation)
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state)           # tltorch -> factorconv (numpy arrays)
    if n_layers > 1:
        for i in (1, 2):                  # the layers tltorch applies a bias to
            s, p, d = GEOMETRY[i]
            ours.set(i, stride=s, padding=p, dilation=d, bias=state["bias"][i])
    outputs_agree(ours, theirs, n_layers, {1, 2})
    assert ours.rank == (theirs.rank if isinstance(theirs.rank, int) else tuple(theirs.rank))

    # factorconv -> tltorch: new parameters on our side, loaded into tltorch as tensors.
    ours.reset_parameters(std=0.05, seed=3)
    rng = np.random.default_rng(5)
    bias = rng.standard_normal((7,) if n_layers == 1 else (3, 7)).astype(np.float32)
    ours.load_state_dict({"bias": bias}, strict=False)
    back = {k: torch.from_numpy(v) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(back)
    outputs_agree(ours, theirs, n_layers, {1, 2})
    ours.close()


def test_torch_tensors_load_directly():
    theirs = build_tltorch("cp", 1, "factorized", seed=2)
    ours = build_ours("cp", 1, "factorized")
    ours.load_state_dict(theirs.state_dict())     # tensors with requires_grad, no .numpy()
    outputs_agree(ours, theirs, 1, set())


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_from_conv_accepts_torch_conv(factorization):
    torch.manual_seed(0)
    dense = torch.nn.Conv2d(6, 8, (3, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    conv = fc.FactorizedConv.from_conv(dense, rank=1.5, factorization=factorization)
    assert conv.stride.tolist() == [2, 1] and conv.padding.tolist() == [1, 0]
    assert conv.dilation.tolist() == [1, 2]
    np.testing.assert_array_equal(conv.state_dict()["bias"], dense.bias.detach().numpy())
    x = np.random.default_rng(1).standard_normal((2, 6, 10, 12)).astype(np.float32)
    with torch.no_grad():
        expected = dense(torch.from_numpy(x)).numpy()
    kernel = conv.reconstruct_kernel()
    weight = dense.weight.detach().numpy()
    kernel_error = np.linalg.norm(kernel - weight) / np.linalg.norm(weight)
    assert kernel_error < 0.5
    assert relative_error(conv(x), expected) <= 2 * kernel_error + 1e-5


def test_from_conv_list_accepts_torch_convs():
    torch.manual_seed(0)
    convs = [torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.Conv2d(4, 6, 3, stride=2, bias=False)]
    conv = fc.FactorizedConv.from_conv_list(convs, rank=(2, 6, 4, 3, 3), factorization="tucker")
    assert conv.n_layers == 2 and conv.has_bias.tolist() == [1, 0]
    assert conv.stride.tolist() == [[1, 1], [2, 2]] and conv.padding.tolist() == [[1, 1], [0, 0]]
    x = np.random.default_rng(1).standard_normal((1, 4, 9, 9)).astype(np.float32)
    for i, dense in enumerate(convs):
        with torch.no_grad():
            expected = dense(torch.from_numpy(x)).numpy()
        assert relative_error(conv(x, i), expected) <= 1e-4   # full Tucker ranks: exact


def test_grouped_and_string_padding_convs_are_refused():
    with pytest.raises(fc.UnsupportedError, match="groups"):
        fc.FactorizedConv.from_conv(torch.nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(fc.UnsupportedError, match="padding"):
        fc.FactorizedConv.from_conv(torch.nn.Conv2d(4, 4, 3, padding="same"))

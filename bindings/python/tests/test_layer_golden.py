"""Every golden case (Tests/Fixtures/golden, produced by real tltorch) through fc.FactorizedConv:
construct with the case's configuration, load_state_dict of the stored factors under tltorch's
names, set per layer, forward with indices, transduct, from_conv."""

import numpy as np
import pytest

import factorconv as fc
import golden
from reference import relative_error

TOLERANCE = 1e-5
MANIFEST_CASES = golden.cases()
SINGLE = golden.cases("single")
MULTI = golden.cases("multi")
TRANSDUCT = golden.cases("transduct")
FROM_CONV = golden.cases("from_conv")


def ids(cases):
    return [c["name"] for c in cases]


def golden_state_dict(case, prefix=""):
    """The stored factors under tltorch's state_dict names (TT cores are weight.factors.*)."""
    result = {}
    for name in case["tensors"]:
        if not name.startswith(prefix + "fact."):
            continue
        part = name[len(prefix) + len("fact."):]
        if part == "weights":
            key = "weight.weights"
        elif part == "core":
            key = "weight.core"
        elif part.startswith("factor_"):
            key = "weight.factors." + part
        elif part.startswith("core_"):
            key = "weight.factors.factor_" + part[len("core_"):]
        else:
            raise AssertionError("unexpected golden tensor " + name)
        result[key] = golden.tensor(case, name)
    return result


def stored_rank(weight):
    """The case's resolved rank as the `rank` argument (int for CP, tuple otherwise)."""
    rank = weight["rank"]
    return rank if isinstance(rank, int) else tuple(rank)


def test_every_kind_is_covered():
    assert len(MANIFEST_CASES) == 68
    assert (len(SINGLE), len(MULTI), len(TRANSDUCT), len(FROM_CONV)) == (43, 6, 4, 15)


@pytest.mark.parametrize("case", SINGLE, ids=ids(SINGLE))
def test_single_layer_case(case):
    # The case's own rank argument: the rank rules must resolve it to the stored factors' shapes.
    conv = fc.FactorizedConv(
        case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
        padding=case["padding"], dilation=case["dilation"], bias=case["bias"],
        factorization=case["factorization"], rank=case["rank_arg"],
        implementation=case["implementation"], fixed_rank_modes=case["fixed_rank_modes"])
    with conv:
        assert conv.rank == stored_rank(case["weight"])
        state = golden_state_dict(case)
        if case["bias"]:
            state["bias"] = golden.tensor(case, "bias")
        conv.load_state_dict(state)
        assert set(conv.state_dict()) == set(state)
        for name, value in conv.state_dict().items():
            np.testing.assert_array_equal(value, state[name])
        kernel = conv.reconstruct_kernel()
        assert relative_error(kernel, golden.tensor(case, "kernel")) <= TOLERANCE
        y = conv(golden.tensor(case, "x"))
        expected = golden.tensor(case, "y_ref_f64")
        assert y.shape == expected.shape and y.dtype == np.float32
        assert relative_error(y, expected) <= TOLERANCE
        assert relative_error(y, golden.tensor(case, "y")) <= TOLERANCE


@pytest.mark.parametrize("implementation", ["reconstructed", "auto"])
@pytest.mark.parametrize("case", SINGLE[::5], ids=ids(SINGLE[::5]))
def test_single_layer_case_other_implementations(case, implementation):
    conv = fc.FactorizedConv(
        case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
        padding=case["padding"], dilation=case["dilation"], bias=case["bias"],
        factorization=case["factorization"], rank=stored_rank(case["weight"]),
        implementation=implementation)
    state = golden_state_dict(case)
    if case["bias"]:
        state["bias"] = golden.tensor(case, "bias")
    conv.load_state_dict(state)
    assert relative_error(conv(golden.tensor(case, "x")), golden.tensor(case, "y_ref_f64")) \
        <= TOLERANCE
    conv.close()


@pytest.mark.parametrize("case", MULTI, ids=ids(MULTI))
def test_multi_layer_case(case):
    layers = case["layers"]
    conv = fc.FactorizedConv(
        case["in_channels"], case["out_channels"], case["kernel_size"], bias=True,
        has_bias=False, n_layers=case["n_layers"], factorization=case["factorization"],
        rank=case["rank_arg"], implementation=case["implementation"])
    with conv:
        assert conv.n_layers == 3 and conv.rank == stored_rank(case["weight"])
        state = golden_state_dict(case)
        bias_all = golden.tensor(case, "bias_all")
        state["bias"] = bias_all
        conv.load_state_dict(state)
        for layer in layers:
            i = layer["index"]
            conv.set(i, stride=layer["stride"], padding=layer["padding"],
                     dilation=layer["dilation"], bias=bias_all[i] if layer["has_bias"] else None)
        assert conv.has_bias.tolist() == [layer["has_bias"] for layer in layers]
        assert conv.stride.tolist() == [layer["stride"] for layer in layers]
        assert conv.padding.tolist() == [layer["padding"] for layer in layers]
        assert conv.dilation.tolist() == [layer["dilation"] for layer in layers]
        x = golden.tensor(case, "x")
        kernels = conv.reconstruct_kernel()
        assert kernels.shape[0] == 3
        for layer in layers:
            i = layer["index"]
            expected = golden.tensor(case, "layer%d.y_ref_f64" % i)
            y = conv(x, indices=i)
            assert y.shape == expected.shape
            assert relative_error(y, expected) <= TOLERANCE
            assert relative_error(kernels[i], golden.tensor(case, "layer%d.kernel" % i)) \
                <= TOLERANCE
            assert relative_error(conv.reconstruct_kernel(i),
                                  golden.tensor(case, "layer%d.kernel" % i)) <= TOLERANCE
            with conv[i] as sub:
                assert sub.has_bias == layer["has_bias"] and sub.stride.tolist() == layer["stride"]
                np.testing.assert_array_equal(sub(x), y)


@pytest.mark.parametrize("case", TRANSDUCT, ids=ids(TRANSDUCT))
def test_transduct_case(case):
    args = case["transduct_args"]
    padding2d = list(case["padding"])
    del padding2d[args["mode"]]
    before = case["weight_before"]
    shape = before["shape"]
    kernel_size = shape[1:-1] if case["factorization"] == "tt" else shape[2:]
    conv = fc.FactorizedConv(case["in_channels"], case["out_channels"], tuple(kernel_size),
                             padding=padding2d, bias="bias" in case["tensors"],
                             factorization=case["factorization"], rank=stored_rank(before),
                             implementation=case["implementation"])
    state = golden_state_dict(case, "before.")
    if "bias" in case["tensors"]:
        state["bias"] = golden.tensor(case, "bias")
    conv.load_state_dict(state)
    assert relative_error(conv(golden.tensor(case, "x2d")), golden.tensor(case, "y2d")) <= TOLERANCE

    assert conv.transduct(**args) is conv
    assert conv.order == 3 and conv.padding.tolist() == case["padding"]
    assert conv.stride.tolist() == case["stride"]
    assert conv.rank == stored_rank(case["weight_after"])
    expected = golden_state_dict(case, "after.")
    if "bias" in case["tensors"]:
        expected["bias"] = golden.tensor(case, "bias")
    got = conv.state_dict()
    assert set(got) == set(expected)
    for name, value in got.items():
        assert value.shape == expected[name].shape, name
        assert relative_error(value, expected[name]) <= 1e-6, name
    y3d = conv(golden.tensor(case, "x3d"))
    assert relative_error(y3d, golden.tensor(case, "y3d_ref_f64")) <= TOLERANCE
    conv.close()


def from_conv_layer(case, **kwargs):
    rank = case["rank_arg"]
    return fc.FactorizedConv.from_conv(
        golden.tensor(case, "conv_weight"), bias=golden.tensor(case, "conv_bias"),
        stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
        rank=tuple(rank) if isinstance(rank, list) else rank,
        factorization=case["factorization"], implementation=case["implementation"], **kwargs)


@pytest.mark.parametrize("case", FROM_CONV, ids=ids(FROM_CONV))
def test_from_conv_stored_factors(case):
    """The stored (tltorch-decomposed) factors loaded into a layer give tltorch's outputs."""
    conv = fc.FactorizedConv(
        case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
        padding=case["padding"], dilation=case["dilation"], bias=True,
        factorization=case["factorization"], rank=stored_rank(case["weight"]),
        implementation=case["implementation"])
    state = golden_state_dict(case)
    state["bias"] = golden.tensor(case, "bias")
    conv.load_state_dict(state)
    assert relative_error(conv(golden.tensor(case, "x")), golden.tensor(case, "y_ref_f64")) \
        <= TOLERANCE
    conv.close()


@pytest.mark.parametrize("case", FROM_CONV, ids=ids(FROM_CONV))
def test_from_conv_decomposition(case):
    """Our decomposition: same ranks and geometry as tltorch, the bias kept, the forward equal
    to a dense conv with our kernel; the kernel error is a soft check (xfail, reported)."""
    weight = golden.tensor(case, "conv_weight")
    with from_conv_layer(case) as conv:
        assert conv.rank == stored_rank(case["weight"])
        assert conv.implementation == case["implementation"]
        assert conv.padding.tolist() == case["padding"] and conv.stride.tolist() == case["stride"]
        np.testing.assert_array_equal(conv.state_dict()["bias"], golden.tensor(case, "conv_bias"))
        kernel = conv.reconstruct_kernel()
        x = golden.tensor(case, "x")
        dense = fc.conv(x, kernel, golden.tensor(case, "conv_bias"), case["stride"],
                        case["padding"], case["dilation"])
        assert relative_error(conv(x), dense) <= TOLERANCE
        error = float(np.linalg.norm(kernel - weight) / np.linalg.norm(weight))
    stored = case["kernel_rel_err"]
    if case["exact_rank_of_source_kernel"] is not None and case["factorization"] != "cp":
        assert error <= 1e-5, "exact-rank kernel recovered to %.3g" % error
    if error > stored + 0.01:
        pytest.xfail("soft check: kernel error %.4g > tltorch's %.4g + 0.01" % (error, stored))

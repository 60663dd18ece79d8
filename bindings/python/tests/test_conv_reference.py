"""fc.conv against the independent numpy reference on random problems (orders 1-4)."""

import numpy as np
import pytest

import factorconv as fc
from reference import conv_reference, conv_scalar_loops, output_size, relative_error

TOLERANCE = 1e-5


def random_case(seed):
    """A random valid problem: order 1-4, per-dimension stride/padding/dilation, bias or not."""
    rng = np.random.default_rng(seed)
    order = int(rng.integers(1, 5))
    # Keep the volume small for high orders so the reference stays fast.
    max_size = {1: 40, 2: 14, 3: 8, 4: 6}[order]
    kernel = [int(k) for k in rng.integers(1, 4, order)]
    stride = [int(s) for s in rng.integers(1, 4, order)]
    dilation = [int(d) for d in rng.integers(1, 3, order)]
    padding = [int(rng.integers(0, k + 1)) for k in kernel]
    sizes = []
    for k, p, d in zip(kernel, padding, dilation):
        span = d * (k - 1) + 1
        sizes.append(int(rng.integers(max(span - 2 * p, 1), max(span - 2 * p, 1) + max_size)))
    batch, c_in, c_out = (int(v) for v in rng.integers(1, 5, 3))
    x = rng.standard_normal((batch, c_in, *sizes)).astype(np.float32)
    weight = rng.standard_normal((c_out, c_in, *kernel)).astype(np.float32)
    bias = rng.standard_normal(c_out).astype(np.float32) if rng.random() < 0.5 else None
    return x, weight, bias, stride, padding, dilation


@pytest.mark.parametrize("seed", range(48))
def test_random_case_matches_reference(seed):
    x, weight, bias, stride, padding, dilation = random_case(seed)
    y = fc.conv(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    expected = conv_reference(x, weight, bias, stride, padding, dilation)
    assert y.shape == expected.shape
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert relative_error(y, expected) <= TOLERANCE


def test_random_cases_cover_every_order():
    # Guards the parametrization above: a generator change must not silently drop an order.
    assert {random_case(seed)[0].ndim - 2 for seed in range(48)} == {1, 2, 3, 4}


def test_reference_agrees_with_scalar_loops():
    # The einsum reference is checked against the textbook definition on a small 3-D case.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 2, 5, 6, 4))
    weight = rng.standard_normal((3, 2, 2, 3, 2))
    bias = rng.standard_normal(3)
    geometry = dict(stride=(2, 1, 3), padding=(1, 2, 0), dilation=(2, 1, 1))
    assert relative_error(conv_reference(x, weight, bias, **geometry),
                          conv_scalar_loops(x, weight, bias, **geometry)) < 1e-12


def test_output_size_formula():
    assert output_size(56, 3, 1, 1, 1) == 56
    assert output_size(10, 3, 2, 0, 2) == 3   # span 5: positions 0, 2, 4 start a window
    assert output_size(7, 5, 2, 3, 2) == 3


def test_int_geometry_equals_sequence_geometry():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    a = fc.conv(x, weight, stride=2, padding=1, dilation=2)
    b = fc.conv(x, weight, stride=(2, 2), padding=[1, 1], dilation=np.array([2, 2]))
    np.testing.assert_array_equal(a, b)


def test_any_dtype_and_layout_gives_the_float32_result():
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((5, 3, 3)).astype(np.float32)
    x_view = rng.standard_normal((2, 11, 3)).transpose(0, 2, 1)   # float64, not contiguous
    expected = fc.conv(np.ascontiguousarray(x_view, dtype=np.float32), weight)
    np.testing.assert_array_equal(fc.conv(x_view, weight), expected)
    np.testing.assert_array_equal(fc.conv(x_view.tolist(), weight.tolist()), expected)
    # int and float16 inputs are converted as well.
    ints = np.arange(2 * 3 * 7).reshape(2, 3, 7)
    np.testing.assert_array_equal(fc.conv(ints, weight), fc.conv(ints.astype(np.float32), weight))
    np.testing.assert_array_equal(fc.conv(ints.astype(np.float16), weight),
                                  fc.conv(ints.astype(np.float32), weight))


def test_float32_contiguous_input_is_not_copied():
    from factorconv.functional import as_float32
    x = np.ones((1, 2, 3), dtype=np.float32)
    assert as_float32(x, "x") is x
    assert as_float32(x[..., ::2], "x") is not x


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    weight = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    copies = [a.copy() for a in (x, weight, bias)]
    fc.conv(x, weight, bias, padding=1)
    for before, after in zip(copies, (x, weight, bias)):
        np.testing.assert_array_equal(before, after)


def test_read_only_inputs_give_the_same_result():
    # Writable arrays reach C as byref of a float over their buffer, read-only ones (which
    # ctypes cannot view that way) as pointers: both must read the same data.
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in ((2, 3, 7), (4, 3, 3), (4,))]
    expected = fc.conv(*arrays, padding=1)
    for a in arrays:
        a.setflags(write=False)
    np.testing.assert_array_equal(fc.conv(*arrays, padding=1), expected)
    np.testing.assert_allclose(expected, conv_reference(*arrays, 1, 1, 1), rtol=1e-5, atol=1e-5)


def test_pointwise_and_large_channel_case():
    # A 1x1 kernel (the library's GEMM path) and enough channels to need several blocks.
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 70, 9, 10)).astype(np.float32)
    weight = rng.standard_normal((33, 70, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(33).astype(np.float32)
    assert relative_error(fc.conv(x, weight, bias), conv_reference(x, weight, bias)) <= TOLERANCE


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 16, 20, 20)).astype(np.float32)
    weight = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    try:
        fc.set_num_threads(1)
        one = fc.conv(x, weight, padding=1)
        fc.set_num_threads(2)
        two = fc.conv(x, weight, padding=1)
    finally:
        fc.set_num_threads(0)
    assert relative_error(one, two) <= TOLERANCE

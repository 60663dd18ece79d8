"""How many C calls a Python forward makes: one for an input shape seen before (its output shape
is cached), two for a new one (the output shape computed from the layer's geometry, read once
per handle, and compared with the memory bound), and still the right result when the layer
changes under the caches (through this layer or through a sub-convolution)."""

import numpy as np
import pytest

import factorconv as fc
from factorconv import _lib
from reference import conv_reference, relative_error

RNG = np.random.default_rng(7)


class CountingLibrary:
    """Wraps the loaded library: records the name of every fconv_* function called."""

    def __init__(self, library):
        self._library = library
        self.calls = []

    def __getattr__(self, name):
        function = getattr(self._library, name)
        if not name.startswith("fconv_"):
            return function

        def counted(*args):
            self.calls.append(name)
            return function(*args)
        return counted


@pytest.fixture
def counting(monkeypatch):
    library = CountingLibrary(_lib.lib)
    monkeypatch.setattr(_lib, "lib", library)
    return library


def reference(conv, x, indices=0, stride=1, padding=0, dilation=1):
    kernel = conv.reconstruct_kernel(indices) if conv.layers_shape else conv.reconstruct_kernel()
    return conv_reference(x, kernel, None, stride, padding, dilation)


def test_repeated_forward_is_one_call(counting):
    with fc.FactorizedConv(3, 5, 3, order=2, padding=1, factorization="tucker", rank=0.5) as conv:
        x = RNG.standard_normal((2, 3, 7, 6)).astype(np.float32)
        conv(x)
        del counting.calls[:]
        for _ in range(3):
            y = conv(x)
        assert counting.calls == ["fconv_conv_forward_shaped"] * 3
        assert y.shape == (2, 5, 7, 6)
        assert relative_error(y, reference(conv, x, padding=1)) < 1e-5


NEW_SHAPE = ["fconv_get_memory_limit", "fconv_conv_forward_shaped"]


def test_new_input_shapes_need_no_shape_query_once_the_geometry_is_read(counting):
    with fc.FactorizedConv(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                           factorization="cp", rank=4) as conv:
        conv(RNG.standard_normal((1, 3, 9, 9)).astype(np.float32))
        for shape in [(1, 3, 10, 7), (3, 3, 5, 12), (0, 3, 8, 8), (2, 3, 17, 3)]:
            x = RNG.standard_normal(shape).astype(np.float32)
            del counting.calls[:]
            y = conv(x)
            assert counting.calls == NEW_SHAPE, shape
            expected = reference(conv, x, stride=(2, 1), padding=(1, 0), dilation=(1, 2))
            assert y.shape == expected.shape
            if y.size:
                assert relative_error(y, expected) < 1e-5


def test_grid_layers_use_their_own_geometry(counting):
    with fc.FactorizedConv(2, 3, 3, order=1, n_layers=(2, 2), factorization="tt", rank=0.5) as conv:
        conv.set((1, 0), stride=2, padding=1)
        conv.set((0, 1), dilation=2)
        x = RNG.standard_normal((2, 2, 11)).astype(np.float32)
        conv(x, (0, 0))
        for indices, geometry in [((1, 0), dict(stride=2, padding=1)), ((0, 1), dict(dilation=2)),
                                  ((1, 1), {}), ((-1, -1), {})]:
            del counting.calls[:]
            y = conv(x, indices)
            flat = (1, 1) if indices == (-1, -1) else indices
            # (-1, -1) is the layer (1, 1) just run: its output shape is cached.
            assert counting.calls == (NEW_SHAPE if flat is indices else NEW_SHAPE[1:]), indices
            assert relative_error(y, reference(conv, x, flat, **geometry)) < 1e-5, indices


def test_a_change_through_another_handle_costs_a_query_not_a_wrong_result(counting):
    with fc.FactorizedConv(2, 2, 3, order=1, n_layers=2, factorization="cp", rank=3) as conv:
        sub = conv.get_conv(1)
        x = RNG.standard_normal((1, 2, 12)).astype(np.float32)
        assert sub(x).shape == (1, 2, 10)
        conv.set(1, stride=3, padding=2)          # through the parent: sub's caches are stale
        del counting.calls[:]
        y = sub(x)
        assert counting.calls[0] == "fconv_conv_forward_shaped"   # the stale shape, refused
        assert "fconv_conv_output_shape" in counting.calls
        assert y.shape == (1, 2, 5)
        assert relative_error(y, reference(conv, x, 1, stride=3, padding=2)) < 1e-5
        del counting.calls[:]
        sub(x)
        assert counting.calls == ["fconv_conv_forward_shaped"]


def test_set_and_transduct_through_the_layer_refresh_its_geometry(counting):
    with fc.FactorizedConv(2, 3, 3, order=1, factorization="cp", rank=3) as conv:
        x = RNG.standard_normal((1, 2, 9)).astype(np.float32)
        conv(x)
        conv.set(0, stride=2)
        assert conv(RNG.standard_normal((1, 2, 11)).astype(np.float32)).shape == (1, 3, 5)
        conv.transduct(3, mode=0, padding=1)
        x2 = RNG.standard_normal((1, 2, 4, 9)).astype(np.float32)
        y = conv(x2)
        assert y.shape == (1, 3, 4, 4)
        assert relative_error(y, conv_reference(x2, conv.reconstruct_kernel(), None, (1, 2), (1, 0))) < 1e-5


def test_wrong_inputs_are_still_the_library_errors(counting):
    with fc.FactorizedConv(3, 4, 3, order=2) as conv:
        with pytest.raises(fc.ShapeMismatchError, match="channels"):
            conv(np.zeros((1, 2, 5, 5), np.float32))
        with pytest.raises(fc.ShapeMismatchError):
            conv(np.zeros((1, 3, 5), np.float32))
        with pytest.raises(fc.ShapeMismatchError):
            conv(np.zeros((1, 3, 2, 5), np.float32))    # smaller than the kernel
        with pytest.raises(fc.LayerIndexError):
            conv(np.zeros((1, 3, 5, 5), np.float32), 1)

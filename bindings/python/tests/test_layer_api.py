"""fc.FactorizedConv's surface: defaults, properties, repr, dtypes, zero-copy input, state_dict,
set/get_conv/transduct, from_conv / from_conv_list with progress, concurrency and lifetimes."""

import gc
import io
import sys
import threading
import weakref

import numpy as np
import pytest

import factorconv as fc
from factorconv import layer as layer_module
from reference import conv_reference, relative_error

RNG = np.random.default_rng(42)
X = RNG.standard_normal((2, 4, 9, 10)).astype(np.float32)


def test_defaults_follow_tltorch():
    with fc.FactorizedConv(4, 6, (3, 3)) as conv:
        assert conv.factorization == "cp" and conv.implementation == "factorized"
        assert conv.in_channels == 4 and conv.out_channels == 6
        assert conv.kernel_size == (3, 3) and conv.order == 2 and conv.n_layers == 1
        assert conv.layers_shape == () and conv.kernel_shape == (6, 4, 3, 3)
        assert conv.stride.tolist() == [1, 1] and conv.padding.tolist() == [0, 0]
        assert conv.dilation.tolist() == [1, 1] and conv.stride.dtype == np.int32
        assert conv.has_bias.shape == () and not conv.has_bias and conv.bias is None
        assert "bias" not in conv.state_dict()
        assert conv.rank == 14 and conv.input_rank == "same"   # round(216 / 16), behaviour notes §3.1
        assert conv.n_parameters == 14 * (6 + 4 + 3 + 3) + 14
        assert conv.extra_repr() == ("in_channels=4, out_channels=6, kernel_size=(3, 3), "
                                     "rank=14, order=2, bias=False")
        assert repr(conv) == ("FactorizedConv(\n  in_channels=4, out_channels=6, "
                              "kernel_size=(3, 3), rank=14, order=2, bias=False\n"
                              "  (weight): CPTensor(shape=(6, 4, 3, 3), rank=14)\n)")


def test_int_kernel_size_with_order_and_rank_kinds():
    conv = fc.FactorizedConv(8, 16, 3, order=2, factorization="Tucker", rank=0.5)
    assert conv.kernel_size == (3, 3) and conv.factorization == "tucker"
    assert isinstance(conv.rank, tuple) and len(conv.rank) == 4
    assert fc.FactorizedConv(8, 16, 3, order=1, rank=7).rank == 7
    assert fc.FactorizedConv(8, 16, (3, 3), factorization="tt", rank=(1, 2, 3, 4, 1)).rank == \
        (1, 2, 3, 4, 1)
    assert fc.FactorizedConv(8, 16, (3, 3), factorization="tucker", rank=np.int64(3)).rank == \
        (3, 3, 3, 3)
    assert fc.FactorizedConv(8, 16, (3,), factorization="dense",
                             implementation="reconstructed").rank is None
    # kernel_size as a sequence: order is ignored, as in tltorch
    assert fc.FactorizedConv(4, 4, (3, 3, 3), order=1).order == 3


def test_seed_makes_initialization_reproducible():
    a = fc.FactorizedConv(4, 6, (3, 3), seed=5).state_dict()
    b = fc.FactorizedConv(4, 6, (3, 3), seed=5).state_dict()
    c = fc.FactorizedConv(4, 6, (3, 3), seed=6).state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[n], c[n]) for n in a)
    # Unseeded layers draw their seed from numpy's global generator, as torch draws from its own.
    np.random.seed(3)
    d = fc.FactorizedConv(4, 6, (3, 3)).state_dict()
    np.random.seed(3)
    e = fc.FactorizedConv(4, 6, (3, 3)).state_dict()
    for name in d:
        np.testing.assert_array_equal(d[name], e[name])


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt", "dense"])
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed", "auto"])
def test_forward_equals_dense_conv_of_the_kernel(factorization, implementation):
    if factorization == "dense" and implementation == "factorized":
        pytest.skip("dense has no factorized path")
    conv = fc.FactorizedConv(4, 5, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                             bias=True, factorization=factorization, rank=0.7,
                             implementation=implementation, seed=3)
    conv.load_state_dict({"bias": RNG.standard_normal(5)}, strict=False)
    kernel, bias = conv.reconstruct_kernel(), conv.state_dict()["bias"]
    expected = conv_reference(X, kernel, bias, (2, 1), (1, 2), (1, 2))
    assert relative_error(conv(X), expected) <= 1e-5
    assert conv.chosen_implementation(X.shape) in ("factorized", "reconstructed", "mobilenet")


def test_mobilenet_and_implementation_setter():
    conv = fc.FactorizedConv(4, 5, (3, 3), padding=1, implementation="mobilenet")
    y = conv(X)
    conv.implementation = "reconstructed"
    assert conv.implementation == "reconstructed"
    assert relative_error(conv(X), y) <= 1e-5
    assert conv.set_implementation("AUTO") is conv and conv.implementation == "auto"


def test_any_dtype_and_layout_in_float32_out():
    conv = fc.FactorizedConv(4, 5, (3, 3), padding=1, bias=True)
    expected = conv(X)
    for x in (X.astype(np.float64), X.astype(np.float16).astype(np.float64),
              np.asfortranarray(X), X.tolist()):
        y = conv(x)
        assert y.dtype == np.float32 and y.flags.c_contiguous
        assert relative_error(y, conv(np.asarray(x, dtype=np.float32))) <= 1e-6
    big = np.zeros((2, 4, 9, 20), dtype=np.float32)
    big[..., ::2] = X
    assert relative_error(conv(big[..., ::2]), expected) == 0
    assert conv(X.astype(np.int64)).dtype == np.float32


def test_read_only_input():
    # Writable inputs reach C as byref of a float over their buffer; read-only ones, which
    # ctypes cannot view that way, as pointers: same data either way.
    conv = fc.FactorizedConv(4, 5, (3, 3), padding=1, bias=True)
    expected = conv(X)
    frozen = X.copy()
    frozen.setflags(write=False)
    assert np.array_equal(conv(frozen), expected)


def test_float32_contiguous_input_is_not_copied(monkeypatch):
    seen = []
    original = layer_module.tensor_float32

    def spy(value, name):
        out = original(value, name)
        seen.append(out)
        return out

    monkeypatch.setattr(layer_module, "tensor_float32", spy)
    conv = fc.FactorizedConv(4, 5, (3, 3))
    conv(X)
    assert seen[0] is X or np.shares_memory(seen[0], X)


def test_state_dict_names_shapes_and_round_trip():
    names = {
        "cp": ["bias", "weight.factors.factor_0", "weight.factors.factor_1",
               "weight.factors.factor_2", "weight.factors.factor_3", "weight.weights"],
        "tucker": ["bias", "weight.core", "weight.factors.factor_0", "weight.factors.factor_1",
                   "weight.factors.factor_2", "weight.factors.factor_3"],
        "tt": ["bias", "weight.factors.factor_0", "weight.factors.factor_1",
               "weight.factors.factor_2", "weight.factors.factor_3"],
        "dense": ["bias", "weight.tensor"],
    }
    for factorization, expected in names.items():
        implementation = "reconstructed" if factorization == "dense" else "factorized"
        conv = fc.FactorizedConv(4, 6, (3, 3), bias=True, factorization=factorization, seed=1,
                                 implementation=implementation)
        state = conv.state_dict()
        assert sorted(state) == expected
        assert all(v.dtype == np.float32 for v in state.values())
        other = fc.FactorizedConv(4, 6, (3, 3), bias=True, factorization=factorization, seed=2,
                                  implementation=implementation)
        other.load_state_dict(state)
        np.testing.assert_array_equal(other(X), conv(X))
        # state_dict returns copies
        state["bias"][:] = 7
        assert not np.any(conv.state_dict()["bias"] == 7)
    tt = fc.FactorizedConv(4, 6, (3, 3), factorization="tt", rank=(1, 2, 3, 4, 1)).state_dict()
    assert tt["weight.factors.factor_0"].shape == (1, 4, 2)      # TT layout (C_in, K..., C_out)
    assert tt["weight.factors.factor_3"].shape == (4, 6, 1)


def test_load_state_dict_with_a_new_rank_and_tensor_like_values():
    conv = fc.FactorizedConv(4, 6, (3, 3), factorization="cp", rank=3)
    rng = np.random.default_rng(0)
    new = {"weight.weights": rng.standard_normal(5),
           "weight.factors.factor_0": rng.standard_normal((6, 5)),
           "weight.factors.factor_1": rng.standard_normal((4, 5)).tolist(),
           "weight.factors.factor_2": FakeTensor(rng.standard_normal((3, 5))),
           "weight.factors.factor_3": rng.standard_normal((3, 5)).astype(np.float16)}
    conv.load_state_dict(new)
    assert conv.rank == 5 and "rank=5" in repr(conv)


class FakeTensor:
    """A torch.Tensor look-alike: only .detach().cpu() and __array__."""

    def __init__(self, array):
        self.array = np.asarray(array)
        self.detached = False

    def detach(self):
        self.detached = True
        return self

    def cpu(self):
        return self

    def __array__(self, dtype=None, copy=None):
        assert self.detached, "must be detached before conversion"
        return self.array if dtype is None else self.array.astype(dtype)


def test_reconstruct_kernel_of_grid_and_sub_convs():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=(2, 3), factorization="tucker", seed=4)
    assert conv.n_layers == (2, 3)
    kernels = conv.reconstruct_kernel()
    assert kernels.shape == (2, 3, 6, 4, 3, 3)
    # one layer's kernel is contracted differently from the whole grid's: rounding differs
    assert relative_error(conv.reconstruct_kernel((1, 2)), kernels[1, 2]) <= 1e-6
    with conv[1, 2] as sub:
        assert isinstance(sub, fc.SubFactorizedConv) and sub.main_conv is conv
        np.testing.assert_array_equal(sub.reconstruct_kernel(), conv.reconstruct_kernel((1, 2)))
        np.testing.assert_array_equal(sub(X), conv(X, (1, 2)))
    assert np.asarray(conv.stride).shape == (2, 3, 2)
    assert np.asarray(conv.has_bias).shape == (2, 3)


def test_set_and_get_conv_share_parameters():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=3, bias=True, has_bias=False)
    assert conv.has_bias.tolist() == [0, 0, 0]
    sub = conv.get_conv(2)
    assert not sub.has_bias and sub.stride.tolist() == [1, 1]
    bias = np.arange(6, dtype=np.float32)
    assert conv.set(2, stride=(2, 1), padding=1, dilation=(1, 2), bias=bias) is conv
    # the sub-convolution sees the change (shared layer), and the geometry is per layer
    assert sub.has_bias and sub.stride.tolist() == [2, 1] and sub.padding.tolist() == [1, 1]
    assert conv.stride.tolist() == [[1, 1], [1, 1], [2, 1]] and conv.dilation[2].tolist() == [1, 2]
    np.testing.assert_array_equal(conv.state_dict()["bias"][2], bias)
    y = sub(X)
    expected = conv_reference(X, conv.reconstruct_kernel(2), bias, (2, 1), 1, (1, 2))
    assert relative_error(y, expected) <= 1e-5
    # set's defaults reset unspecified values (tltorch)
    conv.set(2)
    assert sub.stride.tolist() == [1, 1] and sub.padding.tolist() == [0, 0] and sub.has_bias
    assert repr(sub).startswith("SubConv 2 from main factorized layer.")
    # a reset through the main layer is seen by the sub-convolution
    conv.reset_parameters(std=0.1, seed=9)
    np.testing.assert_array_equal(sub.reconstruct_kernel(), conv.reconstruct_kernel(2))
    assert not np.any(sub.state_dict()["bias"])


def test_repr_of_grid_lists_layers():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=2, factorization="tt",
                             rank=(1, 2, 2, 3, 4, 1))
    conv.set(1, stride=2)
    assert repr(conv) == ("FactorizedConv(\n  in_channels=4, out_channels=6, kernel_size=(3, 3), "
                          "rank=(1, 2, 2, 3, 4, 1), order=2\n   * Conv(0,): bias=False\n"
                          "   * Conv(1,): stride=[2, 2], bias=False\n"
                          "  (weight): TTTensor(shape=(2, 4, 3, 3, 6), rank=(1, 2, 2, 3, 4, 1))\n)")


def test_transduct_cp_is_framewise():
    conv = fc.FactorizedConv(4, 5, (3, 3), padding=1, bias=True, seed=2)
    conv.load_state_dict({"bias": RNG.standard_normal(5)}, strict=False)
    frames = RNG.standard_normal((1, 4, 4, 6, 6)).astype(np.float32)
    per_frame = np.stack([conv(frames[:, :, t]) for t in range(4)], axis=2)
    assert conv.transduct(3, mode=0, padding=1) is conv
    assert conv.kernel_size == (3, 3, 3) and conv.padding.tolist() == [1, 1, 1] and conv.order == 3
    assert relative_error(conv(frames), per_frame) <= 1e-5


def test_transduct_grid_inserts_geometry_per_layer():
    conv = fc.FactorizedConv(4, 5, (3, 3), n_layers=2, factorization="tucker")
    conv.set(1, padding=(1, 2))
    conv.transduct(5, mode=1, padding=9, stride=1)
    assert conv.padding.tolist() == [[0, 9, 0], [1, 9, 2]] and conv.kernel_size == (3, 5, 3)


def test_reset_parameters_statistics_and_seed():
    conv = fc.FactorizedConv(32, 32, (3, 3), factorization="tt", bias=True)
    conv.load_state_dict({"bias": np.ones(32)}, strict=False)
    conv.reset_parameters(std=0.05, seed=1)
    assert abs(conv.reconstruct_kernel().std() - 0.05) < 0.01
    assert not np.any(conv.state_dict()["bias"])
    a = conv.reconstruct_kernel()
    conv.reset_parameters(std=0.05, seed=1)
    np.testing.assert_array_equal(conv.reconstruct_kernel(), a)


def smooth_kernel(out_channels=8, in_channels=6, size=3, seed=0):
    rng = np.random.default_rng(seed)
    a, b, c = (rng.standard_normal((n, 3)) for n in (out_channels, in_channels, size * size))
    kernel = np.einsum("or,ir,kr->oik", a, b, c).reshape(out_channels, in_channels, size, size)
    return (kernel + 1e-3 * rng.standard_normal(kernel.shape)).astype(np.float32)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_from_conv_numpy_kernel(factorization):
    kernel = smooth_kernel()
    bias = np.linspace(-1, 1, 8).astype(np.float32)
    conv = fc.FactorizedConv.from_conv(kernel, bias=bias, stride=(1, 2), padding=1, rank=0.9,
                                       factorization=factorization, seed=3)
    assert conv.implementation == "reconstructed"   # from_conv's default
    assert conv.stride.tolist() == [1, 2] and conv.padding.tolist() == [1, 1] and conv.has_bias
    error = np.linalg.norm(conv.reconstruct_kernel() - kernel) / np.linalg.norm(kernel)
    # the kernel has CP rank 3 (+ noise); in the TT layout the (k1, k2) bond needs more than 5
    assert error < (0.2 if factorization == "tt" else 0.01)
    expected = conv_reference(X[:, :, :, :].repeat(2, axis=1)[:, :6], kernel, bias, (1, 2), 1)
    assert relative_error(conv(X.repeat(2, axis=1)[:, :6]), expected) < 2 * error + 1e-5


def test_from_conv_decompose_false_initializes():
    kernel = smooth_kernel()
    conv = fc.FactorizedConv.from_conv(kernel, decompose_weights=False, rank=4, seed=1)
    assert conv.rank == 4
    assert abs(conv.reconstruct_kernel().std() - 0.02) < 0.01


def test_from_conv_decomposition_kwargs_and_seed():
    kernel = smooth_kernel()
    a = fc.FactorizedConv.from_conv(kernel, rank=5, decomposition_kwargs=dict(
        n_iter_max=7, tol=0.0, l2_reg=1e-4, init="random", random_state=3,
        cp_regularization="ridge"))
    b = fc.FactorizedConv.from_conv(kernel, rank=5, seed=3, decomposition_kwargs=dict(
        n_iter_max=7, tol=0.0, l2_reg=1e-4, init="random", cp_regularization="ridge"))
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[name])
    iterations = []
    fc.FactorizedConv.from_conv(kernel, rank=5, decomposition_kwargs=dict(n_iter_max=7, tol=0.0, n_restarts=1),
                                progress=lambda i, e: iterations.append((i, e)))
    assert [i for i, _ in iterations] == list(range(1, 8))
    # With restarts the iteration count goes on across the runs.
    iterations.clear()
    fc.FactorizedConv.from_conv(kernel, rank=5, decomposition_kwargs=dict(n_iter_max=7, tol=0.0, n_restarts=2),
                                progress=lambda i, e: iterations.append((i, e)))
    assert [i for i, _ in iterations] == list(range(1, 15))
    assert all(np.isfinite(e) and e >= 0 for _, e in iterations)


def test_progress_bar_on_stderr(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    conv = fc.FactorizedConv.from_conv(smooth_kernel(), rank=5, progress=True,
                                       decomposition_kwargs=dict(n_iter_max=12, tol=0.0, n_restarts=2))
    text = stream.getvalue()
    assert conv.rank == 5
    assert "24/24" in text and "rel. error" in text and text.endswith("\n")
    assert "\r" in text   # redrawn in place


def test_progress_cancel_creates_nothing_and_callback_is_released():
    calls = []

    def stop_at_three(iteration, error):
        calls.append(iteration)
        return iteration < 3

    with pytest.raises(fc.CancelledError):
        fc.FactorizedConv.from_conv(smooth_kernel(), rank=5, progress=stop_at_three,
                                    decomposition_kwargs=dict(n_iter_max=50, tol=0.0))
    assert calls == [1, 2, 3]
    ref = weakref.ref(stop_at_three)
    del stop_at_three
    gc.collect()
    assert ref() is None   # no reference kept after the call


def test_from_conv_list_numpy_with_per_conv_geometry():
    k0, k1 = smooth_kernel(seed=1), smooth_kernel(seed=2)
    b1 = np.ones(8, dtype=np.float32)
    conv = fc.FactorizedConv.from_conv_list(
        [k0, k1], biases=[None, b1], stride=[(1, 1), (2, 2)], padding=[(1, 1), (0, 1)],
        rank=(2, 8, 6, 3, 3), factorization="tucker")
    assert conv.n_layers == 2 and conv.has_bias.tolist() == [0, 1]
    assert conv.stride.tolist() == [[1, 1], [2, 2]] and conv.padding.tolist() == [[1, 1], [0, 1]]
    x = X.repeat(2, axis=1)[:, :6]
    assert relative_error(conv(x, 0), conv_reference(x, k0, None, 1, 1)) <= 1e-4
    assert relative_error(conv(x, 1), conv_reference(x, k1, b1, 2, (0, 1))) <= 1e-4


def test_from_conv_uses_conv_like_objects_without_torch():
    class Conv:
        weight = smooth_kernel()
        bias = np.full(8, 0.5, dtype=np.float32)
        stride, padding, dilation, groups = (2, 1), (1, 0), (1, 1), 1

    conv = fc.FactorizedConv.from_conv(Conv(), rank=0.9, factorization="tucker")
    assert conv.stride.tolist() == [2, 1] and conv.padding.tolist() == [1, 0]
    np.testing.assert_array_equal(conv.state_dict()["bias"], Conv.bias)


# -- concurrency ---------------------------------------------------------------------------

@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_eight_threads_forward_like_a_serial_run(factorization):
    conv = fc.FactorizedConv(16, 16, (3, 3), padding=1, n_layers=2, bias=True,
                             factorization=factorization, implementation="auto", seed=1)
    conv.set(1, stride=2, bias=np.ones(16))
    inputs = [np.random.default_rng(i).standard_normal((2, 16, 20, 20)).astype(np.float32)
              for i in range(8)]
    serial = [[conv(x, i % 2) for i, x in enumerate(inputs)] for _ in range(3)]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(t):
        barrier.wait()
        results[t] = [[conv(x, i % 2) for i, x in enumerate(inputs)] for _ in range(3)]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        for a_round, b_round in zip(got, serial):
            for a, b in zip(a_round, b_round):
                np.testing.assert_array_equal(a, b)


def test_writers_wait_for_readers():
    conv = fc.FactorizedConv(8, 8, (3, 3), padding=1, seed=1)
    x = np.random.default_rng(0).standard_normal((4, 8, 32, 32)).astype(np.float32)
    errors = []

    def forward_loop():
        try:
            for _ in range(20):
                y = conv(x)
                assert y.shape == (4, 8, 32, 32)
        except Exception as error:   # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=forward_loop) for _ in range(4)]
    for t in threads:
        t.start()
    for seed in range(10):
        conv.reset_parameters(seed=seed)
        conv.implementation = ("factorized", "reconstructed")[seed % 2]
    for t in threads:
        t.join()
    assert not errors


# -- lifetimes -------------------------------------------------------------------------------

def test_close_parent_before_child():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=3, seed=1)
    expected = conv(X, 1)
    sub = conv[1]
    conv.close()
    np.testing.assert_array_equal(sub(X), expected)    # the native parent is still alive
    assert sub.rank == 34   # 'same' for the (3, 6, 4, 3, 3) grid tensor
    sub.close()
    sub.close()


def test_close_child_before_parent_and_double_close():
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=3)
    sub = conv.get_conv(0)
    sub.close()
    assert conv(X, 0).shape == (2, 6, 7, 8)
    conv.close()
    conv.close()
    assert conv.closed and sub.closed


def test_context_manager_closes():
    with fc.FactorizedConv(4, 6, (3, 3)) as conv:
        assert conv(X).shape == (2, 6, 7, 8)
    assert conv.closed
    with pytest.raises(fc.InvalidArgumentError):
        conv(X)


def test_garbage_collection_frees_in_any_order():
    for order in range(2):
        conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=2)
        subs = [conv[0], conv[1]]
        if order:
            del conv
            gc.collect()
            assert subs[0](X).shape == (2, 6, 7, 8)
            del subs
        else:
            del subs
            gc.collect()
            assert conv(X, 1).shape == (2, 6, 7, 8)
            del conv
        gc.collect()


def test_sub_conv_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        fc.SubFactorizedConv(4, 6, (3, 3))


# -- files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_save_load_round_trip(tmp_path, factorization):
    conv = fc.FactorizedConv(4, 6, (3, 3), n_layers=2, bias=True, has_bias=[False, True],
                             factorization=factorization, rank=0.6, seed=3)
    conv.set(1, stride=2, padding=(1, 0), bias=np.arange(6))
    path = tmp_path / "layer.safetensors"
    conv.save(path)
    with fc.FactorizedConv.load(str(path)) as loaded:
        assert repr(loaded) == repr(conv)
        assert loaded.has_bias.tolist() == conv.has_bias.tolist()
        assert loaded.stride.tolist() == conv.stride.tolist()
        for i in range(2):
            np.testing.assert_array_equal(loaded(X, i), conv(X, i))
    conv[1].save(tmp_path / "sub.safetensors")      # a sub-convolution saves its main layer
    assert fc.FactorizedConv.load(tmp_path / "sub.safetensors").n_layers == 2


def test_save_load_errors(tmp_path):
    conv = fc.FactorizedConv(4, 6, (3, 3))
    with pytest.raises(fc.IOError):
        conv.save(tmp_path / "missing-dir" / "x.safetensors")
    with pytest.raises(fc.IOError):
        fc.FactorizedConv.load(tmp_path / "nothing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(fc.FormatError):
        fc.FactorizedConv.load(bad)
    with pytest.raises(fc.InvalidArgumentError, match="path"):
        fc.FactorizedConv.load(3.5)


def test_saved_file_reads_with_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip(
        "safetensors.numpy", reason="safetensors is not importable here (the reference venv "
                                    "has it)")
    conv = fc.FactorizedConv(4, 6, (3, 3), bias=True, factorization="tucker", seed=1)
    conv.save(tmp_path / "a.safetensors")
    tensors = safetensors_numpy.load_file(str(tmp_path / "a.safetensors"))
    state = conv.state_dict()
    assert set(tensors) == set(state)
    for name in state:
        np.testing.assert_array_equal(tensors[name], state[name])


def test_memory_limit_refuses_large_requests():
    old = fc.get_memory_limit()
    assert old > 0
    try:
        fc.set_memory_limit(1 << 20)
        assert fc.get_memory_limit() == 1 << 20
        with pytest.raises(fc.OutOfMemoryError):
            fc.FactorizedConv(1024, 1024, (5, 5), factorization="dense",
                              implementation="reconstructed")
    finally:
        fc.set_memory_limit(0)
    assert fc.get_memory_limit() == old
    with pytest.raises(fc.InvalidArgumentError):
        fc.set_memory_limit(-1)


def test_text_progress_bar_shows_elapsed_time_and_an_upper_estimate_of_the_time_left():
    from factorconv._progress import TextProgressBar
    now = [100.0]
    stream = io.StringIO()
    bar = TextProgressBar(stream=stream, clock=lambda: now[0])
    now[0] += 90.0                       # 10 of 40 iterations in 1:30 -> at most 4:30 left
    bar(10, 0.25, 40)
    assert stream.getvalue().endswith("10/40  rel. error 2.500e-01  1:30  <= 4:30 left")
    now[0] += 3600.0
    bar(40, 0.125, 40)
    assert stream.getvalue().endswith("40/40  rel. error 1.250e-01  1:01:30  <= 0:00 left")

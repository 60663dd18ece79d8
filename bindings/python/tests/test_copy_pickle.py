"""Layers that copy, pickle and travel to other processes: each copy is an independent layer
made from the layer file's bytes, and gives bit-identical outputs wherever it runs."""

import concurrent.futures
import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import factorconv as fc

X = np.random.default_rng(7).standard_normal((2, 4, 9, 10)).astype(np.float32)


def _grid():
    conv = fc.FactorizedConv(4, 6, 3, order=2, padding=1, bias=True, has_bias=True, n_layers=3,
                             factorization="tucker", rank=0.5, seed=11)
    conv.set(1, stride=2, padding=1, bias=np.arange(6, dtype=np.float32))
    conv.reset_parameters(seed=12)
    return conv


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt", "dense"])
def test_bytes_round_trip_is_exact(factorization):
    conv = fc.FactorizedConv(4, 6, (3, 3), padding=1, bias=True, factorization=factorization,
                             rank=0.5, implementation="auto", seed=3)
    again = fc.FactorizedConv.from_bytes(conv.to_bytes())
    assert again.to_bytes() == conv.to_bytes()
    assert again.implementation == "auto" and again.factorization == factorization
    assert np.array_equal(again(X), conv(X))


def test_bytes_are_the_file(tmp_path):
    conv = _grid()
    path = tmp_path / "layer.safetensors"
    conv.save(path)
    assert path.read_bytes() == conv.to_bytes()
    assert np.array_equal(fc.FactorizedConv.from_bytes(path.read_bytes())(X, 1), conv(X, 1))


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"\xff" * 64, b"not a safetensors file at all"])
def test_hostile_bytes_are_format_errors(data):
    with pytest.raises(fc.FormatError):
        fc.FactorizedConv.from_bytes(data)


def test_truncated_bytes_are_format_errors():
    data = _grid().to_bytes()
    for cut in (8, 16, len(data) // 2, len(data) - 1):
        with pytest.raises(fc.FormatError):
            fc.FactorizedConv.from_bytes(data[:cut])


def test_copy_is_independent_of_the_original():
    original = _grid()
    expected = original(X, 1)
    twin = copy.copy(original)
    del twin                                   # used to free the original's native layer
    assert np.array_equal(original(X, 1), expected)
    twin = copy.copy(original)
    original.close()
    assert np.array_equal(twin(X, 1), expected)
    twin.set(1, stride=1, padding=1)           # changing the copy leaves others alone
    assert twin(X, 1).shape == (2, 6, 9, 10)


def test_deepcopy_and_pickle_keep_everything():
    original = _grid()
    for clone in (copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        assert clone.to_bytes() == original.to_bytes()
        assert clone.stride.tolist() == original.stride.tolist()
        assert clone.has_bias.tolist() == original.has_bias.tolist()
        for i in range(3):
            assert np.array_equal(clone(X, i), original(X, i))
        clone.close()


def test_sub_convolutions_copy_and_pickle_with_their_layer():
    grid = _grid()
    sub = grid[1]
    for clone in (copy.copy(sub), copy.deepcopy(sub), pickle.loads(pickle.dumps(sub))):
        assert isinstance(clone, fc.SubFactorizedConv)
        assert np.array_equal(clone(X), sub(X))
    # A list holding a layer and its sub-convolution pickles too.
    layer, part = pickle.loads(pickle.dumps([grid, sub]))
    assert np.array_equal(part(X), sub(X)) and np.array_equal(layer(X, 2), grid(X, 2))


def _forward(conv, indices):
    return conv(X, indices)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_layers_travel_to_multiprocessing_pools(method):
    grid = _grid()
    expected = [grid(X, i) for i in range(3)]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.starmap(_forward, [(grid, i) for i in range(3)])
    for got, want in zip(results, expected):
        assert np.array_equal(got, want)


@pytest.mark.slow
def test_layers_travel_to_a_process_pool_executor():
    grid = _grid()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_forward, [grid] * 3, range(3)))
    for i, got in enumerate(results):
        assert np.array_equal(got, grid(X, i))


@pytest.mark.slow
def test_layers_travel_to_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    grid = _grid()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        remote = client.scatter(grid, broadcast=True)
        futures = [client.submit(_forward, remote, i, pure=False) for i in range(3)]
        results = client.gather(futures)
        pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2
    for i, got in enumerate(results):
        assert np.array_equal(got, grid(X, i))

"""Layer files (.safetensors) across Swift, C and Python, interop with the safetensors package,
and the `factorconv` command-line tool (compress / info / run / bench, exit codes)."""

import json

import numpy as np
import pytest

import factorconv as fc
from cli_tool import run_cli as _run

FACTORIZATIONS = ["cp", "tucker", "tt", "dense"]


def _impl(factorization):
    return "reconstructed" if factorization == "dense" else "factorized"


def _grid_layer(factorization):
    conv = fc.FactorizedConv(3, 5, (3, 2), n_layers=3, bias=True, has_bias=[True, False, False],
                             factorization=factorization, rank=0.5, implementation=_impl(factorization),
                             seed=4)
    conv.set(1, stride=(2, 1), padding=1, bias=np.linspace(-1, 1, 5))
    conv.set(2, dilation=(1, 2), padding=(0, 2))
    return conv


def _assert_same(a, b, x, layers):
    assert repr(a) == repr(b)
    assert (a.factorization, a.rank, a.kernel_size, a.n_layers) == (b.factorization, b.rank, b.kernel_size, b.n_layers)
    for name in ("stride", "padding", "dilation", "has_bias"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    assert a.implementation == b.implementation
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name])
    for i in layers:
        np.testing.assert_array_equal(a(x, i), b(x, i))


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_round_trip_grid(tmp_path, factorization):
    conv = _grid_layer(factorization)
    conv.save(str(tmp_path / "g.safetensors"))
    loaded = fc.FactorizedConv.load(str(tmp_path / "g.safetensors"))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 7)).astype(np.float32)
    _assert_same(conv, loaded, x, [0, 1, 2])
    # save(load(save(conv))) is byte-identical
    loaded.save(str(tmp_path / "g2.safetensors"))
    assert (tmp_path / "g.safetensors").read_bytes() == (tmp_path / "g2.safetensors").read_bytes()


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_round_trip_single_from_conv(tmp_path, factorization):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((6, 4, 3)).astype(np.float32)
    conv = fc.FactorizedConv.from_conv(weight, bias=rng.standard_normal(6), stride=2, padding=1,
                                       factorization=factorization, rank=0.5)
    conv.save(str(tmp_path / "s.safetensors"))
    loaded = fc.FactorizedConv.load(str(tmp_path / "s.safetensors"))
    _assert_same(conv, loaded, rng.standard_normal((2, 4, 11)).astype(np.float32), [0])


safetensors_numpy = pytest.importorskip("safetensors.numpy")


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
def test_our_files_load_in_safetensors(tmp_path, factorization):
    from safetensors import safe_open
    conv = _grid_layer(factorization)
    path = str(tmp_path / "a.safetensors")
    conv.save(path)
    tensors = safetensors_numpy.load_file(path)
    state = conv.state_dict()
    assert set(tensors) == set(state)
    for name in state:
        assert tensors[name].dtype == np.float32
        np.testing.assert_array_equal(tensors[name], state[name])
    with safe_open(path, framework="numpy") as f:
        config = json.loads(f.metadata()["factorconv"])
    assert config["factorization"] == factorization
    assert config["n_layers"] == [3] and config["has_bias"] == [True, True, False]
    assert config["stride"][1] == [2, 1] and config["dilation"][2] == [1, 2]
    assert config["library_version"] == fc.library_version()


@pytest.mark.parametrize("factorization", FACTORIZATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_safetensors_files_load_in_factorconv(tmp_path, factorization, dtype):
    from safetensors import safe_open
    conv = _grid_layer(factorization)
    ours = str(tmp_path / "ours.safetensors")
    conv.save(ours)
    with safe_open(ours, framework="numpy") as f:
        metadata = f.metadata()
    # Written by the safetensors package, in its own tensor order, float32 or float64.
    theirs = str(tmp_path / "theirs.safetensors")
    state = {name: value.astype(dtype) for name, value in conv.state_dict().items()}
    safetensors_numpy.save_file(state, theirs, metadata={"factorconv": metadata["factorconv"]})
    loaded = fc.FactorizedConv.load(theirs)
    x = np.random.default_rng(2).standard_normal((1, 3, 7, 7)).astype(np.float32)
    _assert_same(conv, loaded, x, [0, 1, 2])


def test_safetensors_file_without_metadata_is_a_format_error(tmp_path):
    path = str(tmp_path / "plain.safetensors")
    safetensors_numpy.save_file({"weight.tensor": np.zeros((2, 2, 3), np.float32)}, path)
    with pytest.raises(fc.FormatError, match="factorconv"):
        fc.FactorizedConv.load(path)


def test_inconsistent_metadata_is_a_format_error(tmp_path):
    conv = fc.FactorizedConv(3, 4, (3,), factorization="tucker", rank=0.5)
    path = str(tmp_path / "x.safetensors")
    conv.save(path)
    from safetensors import safe_open
    with safe_open(path, framework="numpy") as f:
        config = json.loads(f.metadata()["factorconv"])
    config["kernel_size"] = [5]
    safetensors_numpy.save_file(conv.state_dict(), path, metadata={"factorconv": json.dumps(config)})
    with pytest.raises(fc.FormatError, match="kernel_size|shape"):
        fc.FactorizedConv.load(path)


# -- the command-line tool ------------------------------------------------------------------

def test_cli_compress_info_run(tmp_path):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    x = rng.standard_normal((2, 4, 9, 9))          # float64 input, converted by the tool
    np.save(tmp_path / "w.npy", weight)
    np.save(tmp_path / "b.npy", bias)
    np.save(tmp_path / "x.npy", x)
    layer = tmp_path / "layer.safetensors"
    r = _run("compress", tmp_path / "w.npy", "-o", layer, "--factorization", "cp", "--rank", "0.5",
             "--padding", "1", "--stride", "2,1", "--bias-npy", tmp_path / "b.npy", "--seed", "1")
    assert r.returncode == 0, r.stderr
    for key in ("rank", "parameters", "compression", "kernel error", "time"):
        assert key in r.stdout
    conv = fc.FactorizedConv.load(str(layer))          # written by the Swift tool, read through C
    assert conv.stride.tolist() == [2, 1] and conv.padding.tolist() == [1, 1]
    assert conv.factorization == "cp"
    r = _run("info", layer)
    assert r.returncode == 0, r.stderr
    assert "weight.factors.factor_0" in r.stdout and "FactorizedConv" not in r.stderr
    r = _run("run", layer, tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    y = np.load(tmp_path / "y.npy")
    expected = fc.conv(x.astype(np.float32), conv.reconstruct_kernel(), bias, stride=(2, 1), padding=1)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y, conv(x.astype(np.float32)))


def test_cli_compress_from_safetensors_and_bench(tmp_path):
    rng = np.random.default_rng(4)
    safetensors_numpy.save_file({"conv.weight": rng.standard_normal((6, 3, 3)).astype(np.float32),
                                 "conv.bias": np.zeros(6, np.float32)}, str(tmp_path / "m.safetensors"))
    layer = tmp_path / "tt.safetensors"
    r = _run("compress", tmp_path / "m.safetensors", "--tensor", "conv.weight", "-o", layer,
             "--factorization", "tt", "--rank", "1,2,2,1", "--implementation", "factorized", "-q")
    assert r.returncode == 0, r.stderr
    assert fc.FactorizedConv.load(str(layer)).rank == (1, 2, 2, 1)
    r = _run("bench", layer, "--input-shape", "2,3,32", "--repeats", "2")
    assert r.returncode == 0, r.stderr
    assert "factorized" in r.stdout and "reconstructed" in r.stdout and "auto" in r.stdout


def test_cli_exit_codes(tmp_path):
    r = _run("info", tmp_path / "missing.safetensors")
    assert r.returncode == 1
    assert r.stderr.startswith("factorconv: error: ")
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 20)
    r = _run("info", tmp_path / "bad.safetensors")
    assert r.returncode == 1 and "is not a safetensors file" in r.stderr
    assert _run("compress").returncode == 2                      # missing argument
    assert _run("compress", "w.npy", "-o", "x", "--rank", "abc").returncode == 2
    assert _run("bench", "x", "--input-shape", "1,2", "--repeats", "0").returncode == 2
    assert _run("frobnicate").returncode == 2
    r = _run("--help")
    assert r.returncode == 0 and "compress" in r.stdout
    assert _run("--version").stdout.strip() == fc.library_version()

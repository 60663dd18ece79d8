"""fc.compress_model: layer selection and its reasons, max_error reached on every compressed layer
of a real network (Silero VAD's trained Conv1d kernels) as measured independently from the
bundle, minimal CP ranks, the report's numbers against plain formulas, seeds, and the same bundle
from this process and from local worker processes."""

import json
import os

import numpy as np
import pytest

import factorconv as fc
from factorconv import _bundle_io, _compress_task


# The encoder's geometry, which the safetensors file lacks (the package's ONNX model has it:
# test_silero_vad_onnx_geometry_and_kernels).
SILERO_GEOMETRY = {"conv1": (1, 1, 1), "conv2": (2, 1, 1), "conv3": (2, 1, 1), "conv4": (1, 1, 1)}


def _silero_weights():
    """The path of Silero VAD's 16 kHz safetensors weights (the silero-vad package ships it)."""
    silero_vad = pytest.importorskip("silero_vad")
    path = os.path.join(os.path.dirname(silero_vad.__file__), "data", "silero_vad_16k.safetensors")
    if not os.path.isfile(path):
        pytest.skip("silero-vad %s ships no silero_vad_16k.safetensors" % silero_vad.__version__)
    return path


def _error64(layer, weight):
    """The relative kernel error in float64, computed here (not by the package)."""
    w = weight.astype(np.float64)
    return np.linalg.norm(w - layer.reconstruct_kernel().astype(np.float64)) / np.linalg.norm(w)


def _by_name(report):
    return {e["name"]: e for e in report["layers"]}


@pytest.mark.parametrize("factorization, target", [("tt", 0.25), ("tucker", 0.3)])
def test_max_error_on_silero_vad(tmp_path, factorization, target):
    from safetensors.numpy import load_file
    path = _silero_weights()
    tensors = load_file(path)
    report = fc.compress_model(path, tmp_path / "vad.bundle", factorization=factorization,
                               max_error=target, geometry=SILERO_GEOMETRY, workers=1,
                               progress=False, report=tmp_path / "report.json")
    layers = _by_name(report)
    assert "one input channel" in layers["stft_conv"]["reason"]
    assert "fewer than 3 taps" in layers["final_conv"]["reason"]
    bundle = _bundle_io.read_bundle(str(tmp_path / "vad.bundle"))
    compressed = [n for n, e in layers.items() if e["status"] == "compressed"]
    assert sorted(bundle) == sorted(compressed) and len(compressed) >= 2
    for name in compressed:
        weight, layer = tensors[name + ".weight"], bundle[name]
        error = _error64(layer, weight)
        assert error <= target, (name, error)
        assert error == pytest.approx(layers[name]["kernel_error"], rel=1e-12)
        assert layer.factorization == factorization and list(layer.rank) == list(layers[name]["rank"])
        np.testing.assert_array_equal(layer.bias, tensors[name + ".bias"])
        assert layer.stride.tolist() == [SILERO_GEOMETRY[name][0]]
        assert layer.n_parameters == layers[name]["params_after"] < layers[name]["params_before"]
    # Every layer not compressed was skipped for a stated reason.
    for name, entry in layers.items():
        assert entry["status"] in ("compressed", "skipped") and (entry["status"] == "compressed") != bool(entry["reason"])
    assert json.loads((tmp_path / "report.json").read_text())["layers"] == json.loads(json.dumps(report["layers"]))


def test_silero_vad_onnx_geometry_and_kernels():
    """The package's ONNX model: its Conv nodes' geometry (SILERO_GEOMETRY) and kernel shapes
    are the safetensors file's (its trained values are another export's)."""
    pytest.importorskip("onnx")
    from safetensors.numpy import load_file
    from factorconv import _weights_readers
    path = _silero_weights()
    convs = {c.name: c for c in _weights_readers.read_convs(path.replace(
        "silero_vad_16k.safetensors", "silero_vad_16k_op15.onnx"))}
    tensors = load_file(path)
    for i in range(4):
        conv = convs["model.encoder.%d.reparam_conv" % i]
        stride, padding, dilation = SILERO_GEOMETRY["conv%d" % (i + 1)]
        assert (conv.stride, conv.padding, conv.dilation) == ((stride,), (padding,), (dilation,))
        assert conv.weight.shape == tensors["conv%d.weight" % (i + 1)].shape
    assert convs["/model/stft/Conv"].stride == (128,)     # an unnamed weight: the node's name


def test_tt_rank_from_truncation_bound_is_what_tt_svd_needs():
    """The TT ranks chosen from the singular values: the truncated TT-SVD meets the target, and
    one fewer kept value in any bond breaks the bound it was chosen from."""
    from factorconv import _rank_by_error as rbe
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((12, 10, 3)).astype(np.float32)
    ranks = rbe.tt_ranks_for_error(weight, 0.4)
    layer = fc.FactorizedConv.from_conv(weight, ranks, "auto", "tt", seed=0)
    assert layer.rank == ranks and _error64(layer, weight) <= 0.4
    smaller = fc.FactorizedConv.from_conv(weight, (1, ranks[1] - 1, ranks[2], 1), "auto", "tt", seed=0)
    assert _error64(smaller, weight) > _error64(layer, weight)


def test_cp_max_error_finds_the_smallest_rank(tmp_path):
    """A kernel of CP rank 5 plus 1% noise: bisection over from_conv runs returns the smallest
    rank that meets the target (checked by building rank - 1 with the same seed)."""
    rng = np.random.default_rng(2)
    factors = [rng.standard_normal((n, 5)) for n in (16, 12, 3, 3)]
    weight = np.einsum("ar,br,cr,dr->abcd", *factors)
    weight = (weight + 0.01 * np.linalg.norm(weight) / np.sqrt(weight.size)
              * rng.standard_normal(weight.shape)).astype(np.float32)
    target = 0.05
    report = fc.compress_model({"c.weight": weight}, tmp_path / "cp.bundle", factorization="cp",
                               max_error=target, workers=1, progress=False,
                               input_shape=(1, 64, 64))
    entry = report["layers"][0]
    assert entry["status"] == "compressed", entry["reason"]
    rank = entry["rank"]
    assert rank <= 8
    layer = _bundle_io.read_bundle(str(tmp_path / "cp.bundle"))["c"]
    assert _error64(layer, weight) <= target
    below = fc.FactorizedConv.from_conv(weight, rank - 1, "auto", "cp", seed=entry["seed"])
    assert _error64(below, weight) > target


def test_selection_reasons(tmp_path):
    rng = np.random.default_rng(4)
    w = lambda *shape: rng.standard_normal(shape).astype(np.float32)   # noqa: E731
    tensors = {
        "pointwise.weight": w(16, 8, 1, 1),       # 1x1
        "depthwise.weight": w(16, 1, 3, 3),       # one input channel per group
        "grouped.weight": w(16, 4, 3, 3),         # groups 4 from the geometry mapping
        "excluded.weight": w(16, 16, 3, 3),
        "dense_wins.weight": w(16, 16, 3, 3),     # CP at rank 'same': the dense path is cheaper
        "kept.weight": w(64, 64, 3, 3),
        "kept.bias": w(64),
        "asym.weight": w(8, 8, 1, 5),             # 5 taps in one dimension: eligible
    }
    report = fc.compress_model(
        tensors, tmp_path / "m.bundle", factorization="cp", rank=0.25, exclude="excl*",
        overrides={"dense_wins": {"rank": "same"}}, geometry={"grouped": {"groups": 4}},
        workers=1, progress=False)
    layers = _by_name(report)
    assert "fewer than 3 taps" in layers["pointwise"]["reason"]
    assert "one input channel per group" in layers["depthwise"]["reason"]
    assert layers["grouped"]["reason"] == "grouped convolution (groups=4)"
    assert layers["excluded"]["reason"] == "excluded by 'excl*'"
    assert "slower than the dense conv" in layers["dense_wins"]["reason"]
    assert layers["kept"]["status"] == "compressed" and layers["asym"]["status"] == "compressed"
    # The cost-model reason agrees with the library's auto choice on that input.
    probe = fc.FactorizedConv.from_conv(tensors["dense_wins.weight"], "same", "auto", "cp",
                                        decompose_weights=False, seed=0)
    assert probe.chosen_implementation(layers["dense_wins"]["input_shape"]) == "reconstructed"
    only = fc.compress_model(tensors, tmp_path / "i.bundle", include=["kept"], rank=0.25,
                             workers=1, progress=False)
    assert [e["name"] for e in only["layers"] if e["status"] == "compressed"] == ["kept"]
    assert _by_name(only)["asym"]["reason"] == "not matched by include ['kept']"
    with pytest.raises(fc.InvalidArgumentError, match="factorization"):
        fc.compress_model(tensors, tmp_path / "x.bundle", factorization="dense")
    with pytest.raises(fc.InvalidArgumentError, match="max_error"):
        fc.compress_model(tensors, tmp_path / "x.bundle", max_error=1.5)
    with pytest.raises(fc.InvalidArgumentError, match="unknown keys"):
        fc.compress_model(tensors, tmp_path / "x.bundle", overrides={"kept": {"ranks": 3}})


def test_report_numbers(tmp_path):
    """Parameters, FLOPs (against output sizes from fc.conv), the default input shape, times and
    totals of one compressed layer with stride and padding."""
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(24).astype(np.float32)
    report = fc.compress_model({"a.weight": weight, "a.bias": bias}, tmp_path / "r.bundle",
                               factorization="tucker", rank=0.3, workers=1, progress=False,
                               geometry={"a": {"stride": 2, "padding": 1}})
    entry = report["layers"][0]
    assert entry["status"] == "compressed"
    assert entry["input_shape"] == [1, 16, 32, 32]          # the documented default
    out = fc.conv(np.zeros(entry["input_shape"], np.float32), weight, stride=2, padding=1)
    assert entry["flops_before"] == 2 * out.size * 16 * 9
    r_out, r_in, r_h, r_w = entry["rank"]
    positions = out.shape[2] * out.shape[3]
    expected = 2 * (r_in * 32 * 32 * 16 + r_out * positions * r_in * 9 + 24 * r_out * positions)
    assert entry["implementation"] == "factorized" and entry["flops_after"] == expected
    layer = _bundle_io.read_bundle(str(tmp_path / "r.bundle"))["a"]
    assert entry["params_before"] == weight.size + bias.size
    assert entry["params_after"] == layer.n_parameters
    assert entry["time_dense_s"] > 0 and entry["time_factorized_s"] > 0
    totals = report["totals"]
    assert (totals["layers"], totals["compressed"]) == (1, 1)
    assert totals["compression"] == pytest.approx(entry["params_before"] / entry["params_after"])
    assert report["defaults"]["geometry"] == {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}


def test_layer_seeds_are_stable_hashes():
    assert _compress_task.layer_seed(0, "conv1") == _compress_task.layer_seed(0, "conv1")
    assert _compress_task.layer_seed(0, "conv1") != _compress_task.layer_seed(1, "conv1")
    assert _compress_task.layer_seed(0, "conv1") != _compress_task.layer_seed(0, "conv2")
    # A fixed value: the derivation must not change between versions or processes.
    import hashlib
    digest = hashlib.blake2b(b"7\x00enc.conv", digest_size=8).digest()
    assert _compress_task.layer_seed(7, "enc.conv") == int.from_bytes(digest, "little") >> 2


def _small_model(seed=6):
    rng = np.random.default_rng(seed)
    return {"l%d.weight" % i: rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
            for i in range(3)}


def test_same_bundle_in_process_and_in_local_workers(tmp_path):
    model = _small_model()
    fc.compress_model(model, tmp_path / "one.bundle", factorization="cp", rank=0.2, workers=1,
                      progress=False)
    report = fc.compress_model(model, tmp_path / "two.bundle", factorization="cp", rank=0.2,
                               workers=2, progress=False)
    assert report["settings"]["executor"] == "local processes (2)"
    assert report["totals"]["compressed"] == 3
    assert (tmp_path / "one.bundle").read_bytes() == (tmp_path / "two.bundle").read_bytes()
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        fc.compress_model(model, tmp_path / "threads.bundle", factorization="cp", rank=0.2,
                          executor=threads, progress=False)
    assert (tmp_path / "threads.bundle").read_bytes() == (tmp_path / "one.bundle").read_bytes()
    other_seed = fc.compress_model(model, tmp_path / "three.bundle", factorization="cp",
                                   rank=0.2, workers=1, progress=False, seed=1)
    assert other_seed["layers"][0]["seed"] != report["layers"][0]["seed"]


def test_layer_progress_bar_text():
    from io import StringIO
    from factorconv._progress import LayerProgressBar
    stream, now = StringIO(), [100.0]
    bar = LayerProgressBar(4, stream=stream, width=8, clock=lambda: now[0])
    now[0] = 130.0
    bar(1, "enc.conv1")
    bar.close()
    # 1 of 4 after 30 s: 2 of 8 cells, 0:30 elapsed, 3 x 30 s = 1:30 left.
    assert stream.getvalue() == "\r\033[Kcompressing [##------] 1/4 enc.conv1  0:30  ~1:30 left\n"


def test_progress_callable_sees_every_layer(tmp_path):
    seen = []
    fc.compress_model(_small_model(), tmp_path / "p.bundle", rank=0.2, workers=1,
                      progress=lambda done, total, name: seen.append((done, total, name)))
    assert seen == [(1, 3, "l0"), (2, 3, "l1"), (3, 3, "l2")]


def test_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report = fc.compress_model(_small_model(), tmp_path / "p.bundle", rank=0.2, workers=1,
                               progress=False, plot=tmp_path / "plot.png")
    assert report["plot"] == str(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

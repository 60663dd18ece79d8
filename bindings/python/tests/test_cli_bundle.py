"""The `factorconv` tool on model bundles: `info` lists the layers (name, factorization, grid,
kernel shape, rank, parameters), `run` runs the layer --layer-name chooses, giving the output the
Python layer gives, and `bench` times it; a missing or unknown name, and --layer-name on a
single-layer file, are clear errors (exit 1)."""

import numpy as np

import factorconv as fc
from cli_tool import run_cli

ERROR = "factorconv: error: "


def _bundle(tmp_path):
    """Writes a bundle of two layers and an input x.npy; returns (path, layers, x)."""
    layers = {
        "backbone.conv1": fc.FactorizedConv(3, 4, (3, 3), padding=1, bias=True, rank=0.5,
                                            factorization="cp", seed=1),
        "head.conv": fc.FactorizedConv(3, 2, (1, 3), n_layers=2, factorization="tucker",
                                       rank=0.5, seed=2),
    }
    path = tmp_path / "model.safetensors"
    fc.save_layers(layers, path)
    x = np.random.default_rng(5).standard_normal((1, 3, 6, 7)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return path, layers, x


def test_info_lists_the_layers(tmp_path):
    path, layers, _ = _bundle(tmp_path)
    result = run_cli("info", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    total = sum(conv.n_parameters for conv in layers.values())
    assert lines[0] == "model bundle: 2 layers, %s parameters" % format(total, ",")
    assert lines[1].split() == ["name", "factorization", "n_layers", "kernel", "(out,", "in,", "k...)",
                                "rank", "parameters"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert list(rows) == list(layers)
    for name, conv in layers.items():
        row = rows[name]
        assert " %s " % conv.factorization in row
        assert row.endswith(" " + format(conv.n_parameters, ","))
        assert "[%s]" % ", ".join(map(str, (conv.out_channels, conv.in_channels) + tuple(conv.kernel_size))) in row
    assert " [2] " in rows["head.conv"] and " 1 " in rows["backbone.conv1"]


def test_run_a_named_layer(tmp_path):
    path, layers, x = _bundle(tmp_path)
    for name, index in [("backbone.conv1", None), ("head.conv", "1")]:
        args = ["run", path, tmp_path / "x.npy", "--layer-name", name, "-o", tmp_path / "y.npy"]
        if index is not None:
            args += ["--layer", index]
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        expected = layers[name](x, 0 if index is None else int(index))
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


def test_run_needs_a_known_name_unless_the_bundle_has_one_layer(tmp_path):
    path, layers, x = _bundle(tmp_path)
    missing = run_cli("run", path, tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert missing.returncode == 1
    assert missing.stderr.startswith(ERROR) and "choose one with --layer-name" in missing.stderr
    assert "'backbone.conv1'" in missing.stderr and "'head.conv'" in missing.stderr
    unknown = run_cli("run", path, tmp_path / "x.npy", "--layer-name", "backbone", "-o", tmp_path / "y.npy")
    assert unknown.returncode == 1 and "has no layer named 'backbone'" in unknown.stderr, unknown.stderr
    assert not (tmp_path / "y.npy").exists()
    # A bundle of one layer runs it without a name.
    single = tmp_path / "one.safetensors"
    fc.save_layers({"only": layers["backbone.conv1"]}, single)
    result = run_cli("run", single, tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), layers["backbone.conv1"](x))
    # --layer-name on a single-layer file is refused.
    layers["backbone.conv1"].save(tmp_path / "layer.safetensors")
    wrong = run_cli("run", tmp_path / "layer.safetensors", tmp_path / "x.npy", "--layer-name", "a",
                    "-o", tmp_path / "z.npy")
    assert wrong.returncode == 1 and "is a single-layer file" in wrong.stderr, wrong.stderr


def test_bench_a_named_layer(tmp_path):
    path, _, _ = _bundle(tmp_path)
    result = run_cli("bench", path, "--input-shape", "1,3,8,8", "--layer-name", "head.conv", "--layer", "1",
                     "--repeats", "1")
    assert result.returncode == 0, result.stderr
    # head.conv's repr and output shape (2 channels, a (1, 3) kernel), not backbone.conv1's.
    assert "in_channels=3, out_channels=2, kernel_size=(1, 3)" in result.stdout, result.stdout
    assert "output [1, 2, 8, 6]" in result.stdout, result.stdout
    missing = run_cli("bench", path, "--input-shape", "1,3,8,8", "--repeats", "1")
    assert missing.returncode == 1 and "choose one with --layer-name" in missing.stderr, missing.stderr

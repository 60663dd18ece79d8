"""The command-line tool on a layer the loader accepts but whose dense size overflows 64 bits:
`info` describes it, `run` with implementation=auto runs it as 'factorized' instead of failing on
the candidates that cannot be built, and `bench` times what can run and reports what cannot."""

import json
import struct

import numpy as np
import pytest

import factorconv as fc
from cli_tool import run_cli


def _write_safetensors(path, tensors, metadata):
    """A safetensors file (float32 tensors, in order) written byte by byte."""
    header, offset = {"__metadata__": metadata}, 0
    for name, value in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(value.shape),
                        "data_offsets": [offset, offset + value.nbytes]}
        offset += value.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for value in tensors.values():
            f.write(np.ascontiguousarray(value, "<f4").tobytes())


def _overflowing_layer(path, implementation):
    """The issue's layer: CP rank 1, kernel_size [2^20] x 4, padding 2^19 (dense size 2^80)."""
    k = 1 << 20
    config = {"format_version": 1, "library_version": fc.library_version(), "factorization": "cp",
              "in_channels": 1, "out_channels": 1, "kernel_size": [k] * 4, "rank": [1], "n_layers": [],
              "stride": [[1] * 4], "padding": [[k // 2] * 4], "dilation": [[1] * 4], "has_bias": [False],
              "implementation": implementation}
    tensors = {"weight.weights": np.ones(1, np.float32),
               "weight.factors.factor_0": np.ones((1, 1), np.float32),
               "weight.factors.factor_1": np.ones((1, 1), np.float32)}
    for mode in range(4):
        tensors["weight.factors.factor_%d" % (mode + 2)] = np.full((k, 1), 0.5, np.float32)
    _write_safetensors(path, tensors, {"factorconv": json.dumps(config)})


@pytest.mark.parametrize("implementation", ["auto", "factorized"])
def test_cli_info_and_run_a_layer_whose_dense_size_overflows(tmp_path, implementation):
    layer = tmp_path / "huge.safetensors"
    _overflowing_layer(layer, implementation)
    r = run_cli("info", layer)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "dense equivalent" in r.stdout and "kernel size     [1048576, 1048576, 1048576, 1048576]" in r.stdout
    np.save(tmp_path / "x.npy", np.full((1, 1, 1, 1, 1, 1), 2.0, np.float32))
    r = run_cli("run", layer, tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "(factorized)" in r.stdout
    y = np.load(tmp_path / "y.npy")
    # Each output sums the input against one tap per mode: 2 * 0.5^4.
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2, 2, 2), 0.125, np.float32))
    r = run_cli("bench", layer, "--input-shape", "1,1,1,1,1,1", "--repeats", "1")
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "mobilenet       cannot run" in r.stdout and "reconstructed   cannot run" in r.stdout
    assert "(chose factorized)" in r.stdout

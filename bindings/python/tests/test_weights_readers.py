"""compress_model's readers (factorconv._weights_readers): safetensors, PyTorch state_dicts and
checkpoints, ONNX Conv nodes, in-memory mappings — names, values, biases and geometry against
what was written."""

import numpy as np
import pytest

import factorconv as fc
from factorconv import _weights_readers as readers


def _tensors(seed=0):
    """A small state_dict: two convs (one 2-D with bias, one 1-D without), a linear layer and a
    norm layer's vectors (not convolutions)."""
    rng = np.random.default_rng(seed)
    return {
        "features.0.weight": rng.standard_normal((8, 4, 3, 3)).astype(np.float32),
        "features.0.bias": rng.standard_normal(8).astype(np.float32),
        "features.1.weight": rng.standard_normal((8,)).astype(np.float32),   # a norm: 1-D
        "head.conv.weight": rng.standard_normal((6, 8, 5)).astype(np.float32),
        "head.fc.weight": rng.standard_normal((3, 6)).astype(np.float32),    # linear: 2-D
    }


def _check_convs(convs, tensors):
    assert [c.name for c in convs] == ["features.0", "head.conv"]
    first, second = convs
    np.testing.assert_array_equal(first.weight, tensors["features.0.weight"])
    np.testing.assert_array_equal(first.bias, tensors["features.0.bias"])
    np.testing.assert_array_equal(second.weight, tensors["head.conv.weight"])
    assert second.bias is None
    assert first.weight.dtype == np.float32 and first.order == 2 and second.order == 1


def test_safetensors_state_dict(tmp_path):
    from safetensors.numpy import save_file
    tensors = _tensors()
    save_file(tensors, str(tmp_path / "model.safetensors"))
    convs = readers.read_convs(str(tmp_path / "model.safetensors"))
    _check_convs(convs, tensors)
    # No geometry in the file: the documented defaults.
    assert convs[0].stride == (1, 1) and convs[0].padding == (0, 0) and convs[0].dilation == (1, 1)
    assert convs[0].groups == 1 and convs[0].geometry_from == "default"


def test_geometry_mapping_exact_name_before_patterns():
    tensors = _tensors()
    convs = readers.read_convs(tensors, geometry={
        "head.*": {"stride": 2, "padding": 2},
        "features.0": (2, 1, 1),
        "features.*": (1, 0, 3)})
    assert (convs[0].stride, convs[0].padding, convs[0].dilation) == ((2, 2), (1, 1), (1, 1))
    assert (convs[1].stride, convs[1].padding, convs[1].dilation) == ((2,), (2,), (1,))
    assert convs[0].geometry_from == "geometry"
    with pytest.raises(fc.InvalidArgumentError, match="unknown keys"):
        readers.read_convs(tensors, geometry={"head.conv": {"strides": 2}})
    with pytest.raises(fc.InvalidArgumentError, match="2 ints"):
        readers.read_convs(tensors, geometry={"features.0": {"padding": (1, 1, 1)}})


def test_torch_state_dict_and_checkpoint_give_the_same_convs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                torch.nn.Conv2d(8, 8, 3, bias=False))
    state = {k: v.clone() for k, v in model.state_dict().items()}   # before the step below
    torch.save(state, tmp_path / "state.pt")
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(1, 4, 8, 8)).sum().backward()
    optimizer.step()      # the optimizer state now holds tensors of the weights' shapes
    torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                "optimizer": optimizer.state_dict()}, tmp_path / "checkpoint.pth")
    from_state = readers.read_convs(str(tmp_path / "state.pt"))
    from_checkpoint = readers.read_convs(str(tmp_path / "checkpoint.pth"))
    assert [c.name for c in from_state] == ["0", "2"] == [c.name for c in from_checkpoint]
    np.testing.assert_array_equal(from_state[0].weight, state["0.weight"].numpy())
    np.testing.assert_array_equal(from_state[0].bias, state["0.bias"].numpy())
    assert from_state[1].bias is None
    np.testing.assert_array_equal(from_checkpoint[1].weight, model[2].weight.detach().numpy())
    # A nested dict without a checkpoint key: flattened with dotted names.
    torch.save({"encoder": {"conv.weight": model[0].weight.detach()}}, tmp_path / "nested.pt")
    assert [c.name for c in readers.read_convs(str(tmp_path / "nested.pt"))] == ["encoder.conv"]
    # A pickled module is refused by weights_only loading, with a message saying what to save.
    torch.save(model, tmp_path / "module.pt")
    with pytest.raises(fc.FormatError, match="weights_only"):
        readers.read_convs(str(tmp_path / "module.pt"))


def _onnx_model(path):
    """A model of four Conv nodes: named weight with bias, stride 2 and padding 1; an
    exporter-named weight in a grouped conv; asymmetric padding; auto_pad SAME_UPPER."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal(8).astype(np.float32)
    w2 = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)      # groups 2: in 8 / 2
    w3 = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    w4 = rng.standard_normal((8, 8, 5, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "enc.conv1.weight", "enc.conv1.bias"], ["h1"],
                         name="/enc/conv1/Conv", strides=[2, 2], pads=[1, 1, 1, 1],
                         dilations=[1, 1]),
        helper.make_node("Conv", ["h1", "onnx::Conv_7"], ["h2"], name="/enc/conv2/Conv",
                         group=2, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["h2", "enc.conv3.weight"], ["h3"], name="c3",
                         pads=[0, 0, 1, 1]),
        helper.make_node("Conv", ["h3", "enc.conv4.weight"], ["y"], name="c4",
                         auto_pad="SAME_UPPER", dilations=[2, 1]),
    ]
    initializers = [numpy_helper.from_array(a, n) for a, n in
                    ((w1, "enc.conv1.weight"), (b1, "enc.conv1.bias"), (w2, "onnx::Conv_7"),
                     (w3, "enc.conv3.weight"), (w4, "enc.conv4.weight"))]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, 4, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 7, 7])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return w1, b1, w2


def test_onnx_conv_nodes(tmp_path):
    w1, b1, w2 = _onnx_model(tmp_path / "model.onnx")
    convs = readers.read_convs(str(tmp_path / "model.onnx"))
    assert [c.name for c in convs] == ["enc.conv1", "/enc/conv2/Conv", "enc.conv3", "enc.conv4"]
    first, second, third, fourth = convs
    np.testing.assert_array_equal(first.weight, w1)
    np.testing.assert_array_equal(first.bias, b1)
    assert (first.stride, first.padding, first.dilation, first.groups) == ((2, 2), (1, 1), (1, 1), 1)
    assert first.geometry_from == "file" and first.problem is None
    np.testing.assert_array_equal(second.weight, w2)
    assert second.groups == 2 and second.bias is None
    assert "asymmetric padding" in third.problem
    # SAME_UPPER with stride 1: total padding d(k-1) = 8 and 4, split equally.
    assert fourth.padding == (4, 2) and fourth.dilation == (2, 1) and fourth.problem is None
    # compress_model reports why the grouped and asymmetric ones stay dense.
    report = fc.compress_model(str(tmp_path / "model.onnx"), str(tmp_path / "b.bundle"),
                               factorization="tucker", rank=0.5, workers=1, progress=False)
    reasons = {e["name"]: e["reason"] for e in report["layers"]}
    assert reasons["/enc/conv2/Conv"] == "grouped convolution (groups=2)"
    assert "asymmetric padding" in reasons["enc.conv3"]


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"\x89HDF")
    with pytest.raises(fc.UnsupportedError, match="unknown weights format"):
        readers.read_convs(str(tmp_path / "w.h5"))
    with pytest.raises(fc.IOError, match="no such file"):
        readers.read_convs(str(tmp_path / "missing.safetensors"))
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(fc.FormatError):
        readers.read_convs(str(tmp_path / "bad.safetensors"))

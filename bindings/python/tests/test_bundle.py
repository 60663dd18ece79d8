"""Model bundles (fc.save_layers / fc.layers_to_bytes / fc.load_layers): many named layers in one
.safetensors file. Round trips give layers whose outputs equal the originals' bit for bit, in the
saved order; the file reads with the safetensors package (an independent reader) under
``<name>.<state_dict key>``; hostile bundles written with plain JSON and bytes are refused with
fc.FormatError; bad arguments with fc.InvalidArgumentError."""

import collections
import json
import pickle
import re
import struct

import numpy as np
import pytest
import safetensors.numpy

import factorconv as fc

KEY = "factorconv_bundle"


def _layers():
    """Four layers of every factorization under module-path names, in a non-sorted order."""
    grid = fc.FactorizedConv(3, 5, (3, 3), n_layers=2, bias=True, has_bias=[False, True],
                             factorization="cp", rank=0.5, seed=1)
    grid.set(1, stride=(2, 1), padding=1, bias=np.linspace(-1, 1, 5))
    rng = np.random.default_rng(2)
    tucker = fc.FactorizedConv.from_conv(rng.standard_normal((5, 3, 3, 3)).astype(np.float32),
                                         bias=rng.standard_normal(5), padding=1, rank=0.6,
                                         factorization="tucker", seed=2)
    tt = fc.FactorizedConv(3, 5, (1, 3), factorization="tt", rank=2, padding=(0, 1), seed=3)
    dense = fc.FactorizedConv(3, 5, (3, 3), factorization="dense", implementation="reconstructed",
                              dilation=2, seed=4)
    return collections.OrderedDict([("backbone.layer2.0.conv1", grid), ("backbone.layer1.0.conv2", tucker),
                                    ("head.ü", tt), ("a", dense)])


X = np.random.default_rng(0).standard_normal((2, 3, 11, 10)).astype(np.float32)


def _assert_same_layers(originals, loaded):
    assert list(loaded) == list(originals)
    for name, conv in originals.items():
        copy = loaded[name]
        assert type(copy) is fc.FactorizedConv and copy is not conv
        assert repr(copy) == repr(conv)
        for attribute in ("stride", "padding", "dilation", "has_bias"):
            assert getattr(copy, attribute).tolist() == getattr(conv, attribute).tolist(), (name, attribute)
        assert copy.implementation == conv.implementation
        for index in range(conv.n_layers):
            np.testing.assert_array_equal(copy(X, index), conv(X, index))


def test_round_trip_through_a_file_and_bytes(tmp_path):
    layers = _layers()
    path = tmp_path / "model.safetensors"
    assert fc.save_layers(layers, path) is None
    data = fc.layers_to_bytes(layers)
    assert isinstance(data, bytes) and path.read_bytes() == data
    for source in (path, str(path), data, bytearray(data), memoryview(data)):
        loaded = fc.load_layers(source)
        assert isinstance(loaded, fc.LayerMapping)
        _assert_same_layers(layers, loaded)
    # Saving what was loaded writes the same bytes.
    assert fc.layers_to_bytes(fc.load_layers(data)) == data


def test_the_file_reads_with_the_safetensors_package(tmp_path):
    layers = _layers()
    path = tmp_path / "model.safetensors"
    fc.save_layers(layers, path)
    tensors = safetensors.numpy.load_file(str(path))
    expected = {"%s.%s" % (name, key): value for name, conv in layers.items()
                for key, value in conv.state_dict().items()}
    assert sorted(tensors) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(tensors[name], value)
    with safetensors.safe_open(str(path), "np") as f:
        manifest = json.loads(f.metadata()[KEY])
    assert manifest["format_version"] == 1
    assert [entry["name"] for entry in manifest["layers"]] == list(layers)
    for entry, (name, conv) in zip(manifest["layers"], layers.items()):
        assert sorted(entry["tensors"]) == sorted("%s.%s" % (name, key) for key in conv.state_dict())
        assert entry["configuration"]["factorization"] == conv.factorization


def test_loaded_layers_are_independent_and_pickle():
    layers = _layers()
    data = fc.layers_to_bytes(layers)
    first, second = fc.load_layers(data), fc.load_layers(data)
    before = layers["head.ü"](X)
    first["head.ü"].reset_parameters(std=0.5, seed=9)
    assert not np.array_equal(first["head.ü"](X), before)
    np.testing.assert_array_equal(second["head.ü"](X), before)
    np.testing.assert_array_equal(layers["head.ü"](X), before)
    # Each loaded layer pickles, and so does the whole mapping.
    for name, conv in second.items():
        copy = pickle.loads(pickle.dumps(conv))
        for index in range(conv.n_layers):
            np.testing.assert_array_equal(copy(X, index), layers[name](X, index))
    again = pickle.loads(pickle.dumps(second))
    assert type(again) is fc.LayerMapping
    _assert_same_layers(layers, again)


def test_the_mapping_is_read_only_and_closes_its_layers():
    loaded = fc.load_layers(fc.layers_to_bytes(_layers()))
    with pytest.raises(TypeError):
        loaded["x"] = loaded["a"]
    with pytest.raises(TypeError):
        del loaded["a"]
    with pytest.raises(KeyError):
        loaded["nope"]
    assert len(loaded) == 4 and "a" in loaded and "b" not in loaded
    assert dict(loaded) == {name: loaded[name] for name in loaded}
    assert "backbone.layer2.0.conv1" in repr(loaded)
    with loaded:
        pass
    assert all(conv.closed for conv in loaded.values())


def test_empty_bundle_and_one_layer_under_two_names():
    assert len(fc.load_layers(fc.layers_to_bytes({}))) == 0
    conv = _layers()["a"]
    twice = fc.load_layers(fc.layers_to_bytes({"x": conv, "y": conv}))
    assert twice["x"] is not twice["y"]
    np.testing.assert_array_equal(twice["x"](X), twice["y"](X))


@pytest.mark.parametrize("name", ["", "a\tb", "a\nb", "nul\0x", "del\x7f", "c1\x85",
                                  "x" * 1025, "lone\ud800surrogate"], ids=lambda name: repr(name[:12]))
def test_invalid_names_are_refused(name):
    conv = _layers()["a"]
    with pytest.raises(fc.InvalidArgumentError):
        fc.layers_to_bytes({name: conv})


def test_bad_arguments_are_refused(tmp_path):
    layers = _layers()
    conv = layers["a"]
    cases = [
        [("a", conv)],                               # not a Mapping
        {1: conv},                                   # a name that is not a str
        {"a": "not a layer"},                        # a value that is not a FactorizedConv
        {"a": layers["backbone.layer2.0.conv1"][1]},  # a sub-convolution
    ]
    for layers_argument in cases:
        with pytest.raises(fc.InvalidArgumentError):
            fc.layers_to_bytes(layers_argument)
        with pytest.raises(fc.InvalidArgumentError):
            fc.save_layers(layers_argument, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()
    closed = fc.FactorizedConv(2, 2, 1, order=1)
    closed.close()
    with pytest.raises(fc.InvalidArgumentError):
        fc.layers_to_bytes({"a": closed})
    with pytest.raises(fc.IOError):
        fc.save_layers(layers, tmp_path)
    with pytest.raises(fc.IOError):
        fc.load_layers(tmp_path / "absent.safetensors")
    with pytest.raises(fc.InvalidArgumentError):
        fc.load_layers(12)


def test_layer_files_and_bundles_are_told_apart(tmp_path):
    conv = _layers()["a"]
    with pytest.raises(fc.FormatError, match="single-layer file"):
        fc.load_layers(conv.to_bytes())
    conv.save(tmp_path / "layer.safetensors")
    with pytest.raises(fc.FormatError, match="single-layer file"):
        fc.load_layers(tmp_path / "layer.safetensors")
    data = fc.layers_to_bytes({"a": conv})
    with pytest.raises(fc.FormatError, match="model bundle"):
        fc.FactorizedConv.from_bytes(data)


# -- hostile bundles, written with plain JSON and bytes ---------------------------------------


def _split(data):
    """(header dict, manifest dict, tensor data bytes) of a bundle's bytes."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length], object_pairs_hook=collections.OrderedDict)
    manifest = json.loads(header["__metadata__"][KEY], object_pairs_hook=collections.OrderedDict)
    return header, manifest, data[8 + length:]


def _join(header, manifest, payload):
    header = collections.OrderedDict(header)
    header["__metadata__"] = dict(header["__metadata__"], **{KEY: json.dumps(manifest)})
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def _hostile_cases():
    valid = fc.layers_to_bytes(_layers())
    cases = {}

    def case(what, expected):
        def register(edit):
            header, manifest, payload = _split(valid)
            result = edit(header, manifest, payload)
            cases[what] = (_join(*(result or (header, manifest, payload))), expected)
        return register

    @case("duplicate names", "used by an earlier layer")
    def _(header, manifest, payload):
        manifest["layers"][1]["name"] = manifest["layers"][0]["name"]

    @case("a tensor claimed by two layers", "claimed by layers")
    def _(header, manifest, payload):
        # Renamed "backbone", the first layer may list "backbone.*" tensors, and lists one of
        # the second layer's.
        manifest["layers"][0]["name"] = "backbone"
        manifest["layers"][0]["tensors"].append(manifest["layers"][1]["tensors"][0])

    @case("a tensor claimed twice by one layer", "twice by layer")
    def _(header, manifest, payload):
        manifest["layers"][2]["tensors"].append(manifest["layers"][2]["tensors"][0])

    @case("a missing tensor", "missing from the file")
    def _(header, manifest, payload):
        manifest["layers"][2]["tensors"][0] = "head.ü.weight.factors.factor_7"

    @case("a tensor no layer lists", "belongs to no layer")
    def _(header, manifest, payload):
        del manifest["layers"][3]

    @case("two tensors on the same bytes", "overlap")
    def _(header, manifest, payload):
        names = [n for n in header if n != "__metadata__"]
        first, last = header[names[0]], header[names[-1]]
        size = last["data_offsets"][1] - last["data_offsets"][0]
        last["data_offsets"] = [0, size]
        return header, manifest, payload[:len(payload) - size]

    @case("a wrong shape", "layer 'a'")
    def _(header, manifest, payload):
        manifest["layers"][3]["configuration"]["out_channels"] = 4

    @case("a wrong rank", "rank")
    def _(header, manifest, payload):
        manifest["layers"][2]["configuration"]["rank"] = [1, 3, 3, 3, 1]

    @case("format version 2", "format_version 2")
    def _(header, manifest, payload):
        manifest["format_version"] = 2

    @case("a layer's configuration version 9", "format_version 9")
    def _(header, manifest, payload):
        manifest["layers"][0]["configuration"]["format_version"] = 9

    @case("an absurd layer count", "layers (at most")
    def _(header, manifest, payload):
        manifest["layers"] = [None] * 100001

    @case("an absurd tensor count", "tensors (at most")
    def _(header, manifest, payload):
        manifest["layers"][3]["tensors"] = ["a.weight.tensor"] * 65

    @case("a name with a control character", "control character")
    def _(header, manifest, payload):
        manifest["layers"][3]["name"] = "a\x1b"

    @case("NaN in a parameter", "NaN")
    def _(header, manifest, payload):
        return header, manifest, payload[:-4] + struct.pack("<f", float("nan"))

    @case("both kinds of metadata", "not both")
    def _(header, manifest, payload):
        header["__metadata__"]["factorconv"] = json.dumps(manifest["layers"][3]["configuration"])

    cases["truncated data"] = (valid[:-5], "reach past the")
    cases["truncated header"] = (valid[:100], "header length")
    return cases


HOSTILE = _hostile_cases()


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_hostile_bundles_are_refused(tmp_path, what):
    data, expected = HOSTILE[what]
    with pytest.raises(fc.FormatError, match=re.escape(expected)):
        fc.load_layers(data)
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(data)
    with pytest.raises(fc.FormatError):
        fc.load_layers(path)

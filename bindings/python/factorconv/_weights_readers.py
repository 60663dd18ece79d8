"""Reading a model's convolutions for ``compress_model``: from a safetensors state_dict, a PyTorch
checkpoint or state_dict (``.pt`` / ``.pth``, when torch is importable), an ONNX model (``Conv``
nodes, when onnx is importable), or an in-memory mapping of names to arrays.

A convolution is a tensor named ``X.weight`` with at least 3 dimensions, ``X`` being the layer's
name; ``X.bias`` is its bias when present. Files without geometry (safetensors, PyTorch) take it
from the ``geometry`` mapping, else ``DEFAULT_GEOMETRY``. ONNX nodes carry their own (stride,
padding, dilation, groups); a ``geometry`` entry overrides it.
"""

import fnmatch
import os
from collections.abc import Mapping

import numpy as np

from ._errors import FactorConvIOError, FormatError, InvalidArgumentError, UnsupportedError

#: The geometry assumed for a convolution whose file does not say it and that ``geometry`` does
#: not name: stride 1, padding 0, dilation 1, groups 1 in every spatial dimension.
DEFAULT_GEOMETRY = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}

#: The keys of a checkpoint dict whose value is the model's state_dict, tried in this order when
#: the top level of a PyTorch file is not a state_dict itself.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")

_WEIGHT_SUFFIX = ".weight"


class ConvSource:
    """One convolution of a model: its ``name``, float32 ``weight`` (out, in/groups, *kernel),
    ``bias`` (float32 or None), ``stride`` / ``padding`` / ``dilation`` (a tuple per spatial
    dimension), ``groups``, where the geometry came from (``geometry_from``: 'file', 'geometry'
    or 'default') and, when it cannot be compressed whatever the settings, ``problem`` (why)."""

    def __init__(self, name, weight, bias, stride, padding, dilation, groups, geometry_from,
                 problem=None):
        self.name, self.weight, self.bias = name, weight, bias
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.geometry_from, self.problem = groups, geometry_from, problem

    @property
    def order(self):
        """The number of spatial dimensions."""
        return self.weight.ndim - 2

    def geometry(self):
        """``{'stride': ..., 'padding': ..., 'dilation': ...}`` as tuples (what from_conv takes)."""
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}


def _as_array(value, name):
    """A numpy array from a numpy array or a torch tensor (duck typing: torch is not imported)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise FormatError("tensor %r has dtype %s; a convolution's weight must be real numbers"
                          % (name, array.dtype))
    return array


def _per_dimension(value, name, order):
    """An int or ``order`` ints as a tuple of ``order`` ints."""
    values = [value] * order if np.ndim(value) == 0 else list(value)
    try:
        values = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidArgumentError("%s must be an int or %d ints, got %r"
                                   % (name, order, value)) from None
    if len(values) != order:
        raise InvalidArgumentError("%s must be an int or %d ints, got %r" % (name, order, value))
    return values


def lookup(mapping, name):
    """The value of ``mapping`` for layer ``name``: its exact entry, else the first key (in the
    mapping's order) that matches it as an fnmatch pattern, else None."""
    if not mapping:
        return None
    if name in mapping:
        return mapping[name]
    for pattern, value in mapping.items():
        if fnmatch.fnmatchcase(name, pattern):
            return value
    return None


def parse_geometry_entry(value, name):
    """A ``geometry`` mapping's value as a dict of stride / padding / dilation / groups: a dict
    with any of those keys, or a (stride, padding, dilation[, groups]) sequence."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(DEFAULT_GEOMETRY)
        if unknown:
            raise InvalidArgumentError("geometry for %r has unknown keys %s (expected %s)"
                                       % (name, sorted(unknown), ", ".join(DEFAULT_GEOMETRY)))
        return dict(value)
    if isinstance(value, (list, tuple)) and 3 <= len(value) <= 4:
        return dict(zip(DEFAULT_GEOMETRY, value))
    raise InvalidArgumentError("geometry for %r must be a dict of stride/padding/dilation/groups "
                               "or a (stride, padding, dilation) tuple, got %r" % (name, value))


def _with_geometry(name, weight, bias, file_geometry, geometry, problem=None):
    """A ConvSource whose geometry is the ``geometry`` mapping's entry for ``name`` over the
    file's (``file_geometry``, None for formats without one) over DEFAULT_GEOMETRY."""
    order = weight.ndim - 2
    given = lookup(geometry, name)
    values = dict(DEFAULT_GEOMETRY)
    source = "default"
    if file_geometry is not None:
        values.update(file_geometry)
        source = "file"
    if given is not None:
        values.update(parse_geometry_entry(given, name))
        source = "geometry"
    groups = int(values["groups"])
    return ConvSource(name, weight, bias,
                      *(_per_dimension(values[k], "%s %s" % (name, k), order)
                        for k in ("stride", "padding", "dilation")),
                      groups, source, problem)


def convs_from_tensors(tensors, geometry=None, file_geometries=None):
    """The convolutions of a flat ``{name: array}`` state_dict, in its order (see the module
    comment); ``file_geometries`` maps layer names to a geometry the file gave."""
    found = []
    for key, value in tensors.items():
        if not key.endswith(_WEIGHT_SUFFIX) or len(key) == len(_WEIGHT_SUFFIX):
            continue
        if np.ndim(value) < 3:
            continue
        name = key[:-len(_WEIGHT_SUFFIX)]
        weight = np.ascontiguousarray(_as_array(value, key), dtype=np.float32)
        bias = tensors.get(name + ".bias")
        if bias is not None:
            bias = np.ascontiguousarray(_as_array(bias, name + ".bias"), dtype=np.float32)
            if bias.shape != (weight.shape[0],):
                bias = None   # not a convolution bias (another shape): the layer gets none
        file_geometry = (file_geometries or {}).get(name)
        found.append(_with_geometry(name, weight, bias, file_geometry, geometry))
    return found


def _flatten(mapping, prefix=""):
    """A nested dict of tensors as one flat dict with dotted names."""
    flat = {}
    for key, value in mapping.items():
        name = "%s%s" % (prefix, key)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        elif hasattr(value, "shape"):
            flat[name] = value
    return flat


def state_dict_of(loaded):
    """The flat state_dict in a loaded PyTorch file: the object itself when it holds tensors at
    its top level, else the first of CHECKPOINT_KEYS that holds a dict (a training checkpoint
    such as ``{"epoch": 3, "state_dict": {...}, "optimizer": {...}}``); nested dicts are
    flattened with dotted names."""
    if not isinstance(loaded, Mapping):
        raise FormatError("the PyTorch file holds a %s, not a state_dict or a checkpoint dict: "
                          "save model.state_dict() instead" % type(loaded).__name__)
    if any(hasattr(v, "shape") for v in loaded.values()):
        return _flatten(loaded)
    for key in CHECKPOINT_KEYS:
        if isinstance(loaded.get(key), Mapping):
            return _flatten(loaded[key])
    return _flatten(loaded)


def read_safetensors(path):
    """``{name: array}`` of a safetensors file (numpy, through the safetensors package)."""
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise UnsupportedError("reading %s needs the safetensors package (pip install "
                               "safetensors)" % path) from None
    try:
        return load_file(path)
    except Exception as error:   # noqa: BLE001 - the package raises its own error types
        raise FormatError("%s: not a readable safetensors file (%s)" % (path, error)) from None


def read_torch(path):
    """``{name: tensor}`` of a PyTorch state_dict or checkpoint (torch.load, weights_only)."""
    try:
        import torch
    except ImportError:
        raise UnsupportedError("reading %s needs PyTorch (pip install torch); or save the "
                               "state_dict as safetensors" % path) from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # noqa: BLE001 - torch raises many types (pickle, zip, ...)
        raise FormatError("%s: torch.load(weights_only=True) failed: %s" % (path, error)) from None
    return state_dict_of(loaded)


def _onnx_geometry(node, weight, helper):
    """(file geometry dict, problem or None) from a Conv node's attributes."""
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    order = weight.ndim - 2
    stride = list(attributes.get("strides", [1] * order))
    dilation = list(attributes.get("dilations", [1] * order))
    groups = int(attributes.get("group", 1))
    auto_pad = attributes.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    problem = None
    padding = [0] * order
    if auto_pad in ("NOTSET", ""):
        pads = list(attributes.get("pads", [0] * (2 * order)))
        begin, end = pads[:order], pads[order:]
        if begin != end:
            problem = "asymmetric padding (ONNX pads %s): FactorConv pads both sides equally" % pads
        padding = begin
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
        if any(s != 1 for s in stride) or any(t % 2 for t in totals):
            problem = ("auto_pad %s with stride %s and kernel %s pads unequally or by the input "
                       "size" % (auto_pad, stride, tuple(weight.shape[2:])))
        padding = [t // 2 for t in totals]
    elif auto_pad != "VALID":
        problem = "unknown auto_pad %r" % auto_pad
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}, problem


def read_onnx(path, geometry=None):
    """The Conv nodes of an ONNX model whose weight is a constant (an initializer or a Constant
    node). A layer is named after its weight (its name without '.weight'); a weight whose name
    does not end in '.weight' (an exporter's 'onnx::Conv_12') names it after the node, or the
    weight itself when the node has no name."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise UnsupportedError("reading %s needs the onnx package (pip install onnx)" % path) from None
    try:
        model = onnx.load(path)
    except Exception as error:   # noqa: BLE001 - protobuf decode errors and others
        raise FormatError("%s: not a readable ONNX model (%s)" % (path, error)) from None
    constants = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value":
                    constants[node.output[0]] = attribute.t
    found, seen = [], {}
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Conv" or len(node.input) < 2:
            continue
        weight_name = node.input[1]
        if weight_name not in constants:
            continue   # a weight computed at run time: nothing to compress
        weight = np.ascontiguousarray(numpy_helper.to_array(constants[weight_name]), np.float32)
        bias = None
        if len(node.input) > 2 and node.input[2] in constants:
            bias = np.ascontiguousarray(numpy_helper.to_array(constants[node.input[2]]), np.float32)
        if weight_name.endswith(_WEIGHT_SUFFIX) and len(weight_name) > len(_WEIGHT_SUFFIX):
            name = weight_name[:-len(_WEIGHT_SUFFIX)]
        else:
            name = node.name or weight_name or "Conv_%d" % index
        file_geometry, problem = _onnx_geometry(node, weight, helper)
        if name in seen:
            problem = "its weight is shared with layer %r, already listed" % seen[name]
            name = "%s#%d" % (name, index)
        seen.setdefault(name, name)
        found.append(_with_geometry(name, weight, bias, file_geometry, geometry, problem))
    return found


#: File name endings and the reader of each.
FORMATS = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch", ".bin": "torch",
           ".ckpt": "torch", ".onnx": "onnx"}


def read_convs(weights, geometry=None):
    """The convolutions of ``weights`` (a path, or a mapping of names to arrays / tensors) as a
    list of ConvSource, in the file's order. The format follows the file name's ending
    (FORMATS)."""
    if isinstance(weights, Mapping):
        return convs_from_tensors(_flatten(weights), geometry)
    if not isinstance(weights, (str, bytes, os.PathLike)):
        raise InvalidArgumentError("weights must be a file path or a mapping of names to arrays, "
                                   "got %s" % type(weights).__name__)
    path = os.fsdecode(weights)
    if not os.path.isfile(path):
        raise FactorConvIOError("%s: no such file" % path)
    kind = FORMATS.get(os.path.splitext(path)[1].lower())
    if kind == "safetensors":
        return convs_from_tensors(read_safetensors(path), geometry)
    if kind == "torch":
        return convs_from_tensors(read_torch(path), geometry)
    if kind == "onnx":
        return read_onnx(path, geometry)
    raise UnsupportedError("%s: unknown weights format; expected one of %s"
                           % (path, ", ".join(sorted(FORMATS))))

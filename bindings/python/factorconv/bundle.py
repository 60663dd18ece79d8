"""Model bundles: many named layers in one ``.safetensors`` file (``fconv_bundle_*``).

``save_layers({"backbone.conv1": a, "head.conv": b}, "model.safetensors")`` writes every layer's
parameters under ``<name>.<state_dict key>`` and a table of contents (each layer's name,
configuration and tensor names) in the file's metadata; ``load_layers(path_or_bytes)`` gives them
back as a read-only mapping in the saved order, each an independent ``FactorizedConv``.

Names: non-empty str of at most 1024 UTF-8 bytes, no control characters, distinct. A
single-layer file (``FactorizedConv.save``) is not a bundle: ``load_layers`` refuses it with
fc.FormatError, as ``FactorizedConv.load`` refuses a bundle.
"""

import ctypes
from collections.abc import Mapping

from . import _lib
from ._constants import ERR_BUFFER_TOO_SMALL
from ._convert import path_bytes
from ._errors import InvalidArgumentError
from ._handle import ConvHandle, new_pointer
from .layer import FactorizedConv

__all__ = ["save_layers", "layers_to_bytes", "load_layers", "LayerMapping"]


class LayerMapping(Mapping):
    """What ``load_layers`` returns: an ordered, read-only mapping name -> FactorizedConv.

    Iteration follows the bundle's order. The layers are independent of each other and of the
    file; ``close()`` (or a ``with`` block) closes them all. Pickling and ``dict(mapping)``
    work as for any mapping of layers.
    """

    __slots__ = ("_layers",)

    def __init__(self, layers=()):
        self._layers = dict(layers)

    def __getitem__(self, name):
        return self._layers[name]

    def __iter__(self):
        return iter(self._layers)

    def __len__(self):
        return len(self._layers)

    def __contains__(self, name):
        return name in self._layers

    def __repr__(self):
        count = len(self._layers)
        return "<LayerMapping of %d layer%s%s>" % (
            count, "" if count == 1 else "s", (": " if count else "") + ", ".join(map(repr, self._layers)))

    def __reduce__(self):
        return (LayerMapping, (list(self._layers.items()),))

    def close(self):
        """Closes every layer (idempotent)."""
        for layer in self._layers.values():
            layer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _c_arguments(layers):
    """``(n, names, convs, items)``: the C arrays of a save call for a Mapping name -> layer;
    the caller holds ``items`` (the layers) until the call returns, so that none is freed
    during it."""
    if not isinstance(layers, Mapping):
        raise InvalidArgumentError("layers must be a Mapping name -> FactorizedConv (e.g. a dict), "
                                   "got %s" % type(layers).__name__)
    items = list(layers.items())
    names, pointers = [], []
    for name, layer in items:
        if not isinstance(name, str):
            raise InvalidArgumentError("layer names must be str, got %r" % (name,))
        if "\0" in name:
            raise InvalidArgumentError("the layer name %r contains a NUL character" % (name,))
        try:
            names.append(name.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgumentError("the layer name %r is not valid Unicode text "
                                       "(lone surrogates)" % (name,)) from None
        if not isinstance(layer, FactorizedConv):
            raise InvalidArgumentError("layer %r must be a FactorizedConv, got %s"
                                       % (name, type(layer).__name__))
        pointers.append(layer._live().live())
    n = len(items)
    return (n, (ctypes.c_char_p * max(n, 1))(*names), (_lib.POINTER_CONV * max(n, 1))(*pointers),
            items)


def save_layers(layers, path):
    """Saves ``layers`` (a Mapping name -> FactorizedConv, e.g. a dict; its order is kept) as one
    model bundle file at ``path`` (str, bytes or os.PathLike), replaced atomically as
    ``FactorizedConv.save`` does.

    Each name is typically a module path (``"backbone.layer1.0.conv1"``): non-empty, at most 1024
    UTF-8 bytes, no control characters. Sub-convolutions (``conv[i]``) are refused: save the
    main layer. Raises fc.InvalidArgumentError (names, types, closed layers) or fc.IOError.
    """
    n, names, convs, items = _c_arguments(layers)
    _lib.check(_lib.lib.fconv_bundle_save(path_bytes(path), n, names, convs))
    del items


def layers_to_bytes(layers):
    """The bytes ``save_layers(layers, path)`` would write, as ``bytes``."""
    n, names, convs, items = _c_arguments(layers)   # noqa: F841 - items keeps the layers alive
    size = ctypes.c_size_t()
    while True:
        buffer = ctypes.create_string_buffer(max(size.value, 1))
        status = _lib.lib.fconv_bundle_save_to_buffer(n, names, convs, buffer, size.value,
                                                      ctypes.byref(size))
        # The first call asks the size; a layer changed in between asks again.
        if status != ERR_BUFFER_TOO_SMALL:
            _lib.check(status)
            return buffer.raw[:size.value]


def load_layers(path_or_bytes):
    """Opens a model bundle and returns its layers as a ``LayerMapping`` (ordered, read-only)
    name -> FactorizedConv, each an independent layer.

    ``path_or_bytes``: a path (str or os.PathLike) or the file's contents (bytes, bytearray or
    memoryview; a bytes object is always taken as contents, never as a path). Everything is
    checked before a layer is built. Raises fc.FormatError (malformed or inconsistent bundle, or
    a single-layer file), fc.IOError (unreadable path), fc.OutOfMemoryError.
    """
    out = ctypes.POINTER(_lib.fconv_bundle)()
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        _lib.check(_lib.lib.fconv_bundle_open_buffer(data, len(data), ctypes.byref(out)))
    else:
        _lib.check(_lib.lib.fconv_bundle_open(path_bytes(path_or_bytes), ctypes.byref(out)))
    layers = []
    try:
        count = ctypes.c_size_t()
        _lib.check(_lib.lib.fconv_bundle_count(out, ctypes.byref(count)))
        for i in range(count.value):
            name = ctypes.c_char_p()
            _lib.check(_lib.lib.fconv_bundle_name(out, i, ctypes.byref(name)))
            conv = new_pointer()
            _lib.check(_lib.lib.fconv_bundle_get_layer(out, name.value, ctypes.byref(conv)))
            layers.append((name.value.decode("utf-8"), FactorizedConv._from_handle(ConvHandle(conv))))
    except BaseException:
        for _, layer in layers:
            layer.close()
        raise
    finally:
        _lib.lib.fconv_bundle_free(out)
    return LayerMapping(layers)

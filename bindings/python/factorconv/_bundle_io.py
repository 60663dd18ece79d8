"""Where ``compress_model`` writes its bundle and its tests read one back: the one place that
names the bundle functions (``save_layers`` / ``load_layers`` of ``bundle.py``)."""

from .bundle import load_layers, save_layers
from .layer import FactorizedConv


def write_bundle(layer_bytes, path):
    """Writes the layers ``{name: layer file bytes}`` (in that order) as a bundle at ``path``."""
    layers = {name: FactorizedConv.from_bytes(data) for name, data in layer_bytes.items()}
    try:
        save_layers(layers, path)
    finally:
        for layer in layers.values():
            layer.close()


def read_bundle(path):
    """``{name: FactorizedConv}`` of the bundle at ``path``, in its order."""
    return load_layers(path)

"""Where ``compress_model`` writes its bundle and its tests read one back: the one place that
names the bundle functions, so that switching them is one line each.

INTERIM: the model-bundle functions (``save_layers`` / ``load_layers``) are being added on another
branch. Until they are merged, a bundle is written as a safetensors file holding each layer's file
bytes as a uint8 tensor under the layer's name; once they are, ``write_bundle`` calls
``save_layers`` and ``read_bundle`` calls ``load_layers``.
"""

import numpy as np

from .layer import FactorizedConv


def write_bundle(layer_bytes, path):
    """Writes the layers ``{name: layer file bytes}`` (in that order) as a bundle at ``path``."""
    from safetensors.numpy import save_file
    save_file({name: np.frombuffer(data, dtype=np.uint8) for name, data in layer_bytes.items()},
              path, metadata={"factorconv_interim_bundle": "1"})


def read_bundle(path):
    """``{name: FactorizedConv}`` of the bundle at ``path``."""
    from safetensors.numpy import load_file
    return {name: FactorizedConv.from_bytes(data.tobytes())
            for name, data in load_file(path).items()}

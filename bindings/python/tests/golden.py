"""A small reader for the golden vectors in Tests/Fixtures/golden (manifest.json + tensors.bin)."""

import json
import os

import numpy as np

GOLDEN_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                           "Tests", "Fixtures", "golden"))

_DTYPES = {"f32": "<f4", "f64": "<f8", "i64": "<i8"}


def load_manifest(directory=GOLDEN_DIR):
    """The parsed manifest.json."""
    with open(os.path.join(directory, "manifest.json")) as f:
        return json.load(f)


def cases(kind=None, directory=GOLDEN_DIR):
    """The manifest's cases, optionally only those of one ``kind`` ("single", "multi", ...)."""
    return [c for c in load_manifest(directory)["cases"] if kind is None or c["kind"] == kind]


def tensor(case, name, directory=GOLDEN_DIR):
    """Array ``name`` of ``case``: ``count`` little-endian elements at byte ``offset``, C order."""
    spec = case["tensors"][name]
    dtype = np.dtype(_DTYPES[spec["dtype"]])
    with open(os.path.join(directory, "tensors.bin"), "rb") as f:
        f.seek(spec["offset"])
        raw = f.read(spec["count"] * dtype.itemsize)
    if len(raw) != spec["count"] * dtype.itemsize:
        raise ValueError("tensors.bin is truncated at %s/%s" % (case["name"], name))
    return np.frombuffer(raw, dtype=dtype).reshape(spec["shape"]).astype(dtype.newbyteorder("="))

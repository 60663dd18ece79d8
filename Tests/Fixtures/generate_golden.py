"""Writes the golden fixtures of Tests/Fixtures/golden (manifest.json and tensors.bin) from real
tltorch, or checks that the committed ones are what tltorch gives today.

Usage (with the benchmark venv, which has CPU torch, tensorly and tltorch; `make golden` and
`make golden-check` run these):
    PY=$(bash Benchmarks/refenv.sh)
    "$PY" Tests/Fixtures/generate_golden.py OUT_DIR     # writes OUT_DIR/manifest.json, tensors.bin
    "$PY" Tests/Fixtures/generate_golden.py --check     # regenerates into a scratch directory and
                                                        # compares with Tests/Fixtures/golden byte
                                                        # for byte; exit status 1 on a difference

What a case is, the file format and the layouts are described in golden/README.md. In short:
every case seeds torch and numpy's global generator with its own seed (101, 102, ... in the
order below), builds a tltorch layer (or decomposes a torch conv), and stores its factors as
tltorch holds them, its fp32 kernel and output, and a float64 reference output computed from the
same fp32 factors. Everything runs on one torch thread, so the fp32 outputs have one reduction
order and two runs write identical files.

Reproducibility: with torch 2.13.0+cpu, tensorly 0.10.0, tensorly-torch 0.5.0 and numpy 2.4.6
(what Benchmarks/refenv.sh installs), the regenerated files have the committed cases, tensor
offsets, inputs, factors, kernels and float64 references byte for byte. The fp32 outputs of
torch's own convolutions are the exception: their last bits depend on the CPU's oneDNN kernels
(golden/README.md records how far they moved on the machine this generator was written on), so
`--check` compares those within CONV_OUTPUT_TOLERANCE and everything else exactly. Other library
versions may change the random draws (torch.randn, tensorly's SVD init); the check then names
the tensors that differ.
"""

import argparse
import copy
import filecmp
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import tensorly as tl
import tltorch
from tltorch.factorized_layers.factorized_convolution import (
    kernel_shape_to_factorization_shape, tensor_to_kernel)
from tltorch.factorized_tensors import CPTensor, TTTensor, TuckerTensor

HERE = os.path.dirname(os.path.abspath(__file__))
COMMITTED = os.path.join(HERE, "golden")
#: The path the manifest names as its generator (relative to the repository root).
GENERATOR = "Tests/Fixtures/generate_golden.py"
FILES = ("manifest.json", "tensors.bin")

#: torch's functional convolution and module class per spatial order.
CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}

#: How tltorch's from_conv decomposes each factorization (recorded in from_conv cases).
DECOMPOSITION = {
    "cp": "tensorly parafac(init=svd, n_iter_max=100, tol=1e-8, l2_reg=1e-5) on the fp32 kernel; "
          "where rank > a mode size the SVD init pads that factor with uniform [0,1) columns "
          "from numpy's global RandomState (seeded with the case seed)",
    "tucker": "tensorly tucker/HOOI(init=svd, n_iter_max=100, tol=1e-4) on the fp32 kernel",
    "tt": "tensorly tensor_train (TT-SVD) on moveaxis(kernel, 0, -1)",
}
#: What transduct adds to each factorization (recorded in transduct cases).
TRANSDUCT_NOTE = {
    "cp": "new temporal factor = zeros(k, R) with row k//2 set to 1 (frame-wise conv)",
    "tt": "new TT core (r, k, r) = identity at every tap (sums over the k frames)",
}
#: tltorch 0.5.0 behaviours that have no case because they fail there.
KNOWN_FAILURES = {
    "transduct_tucker": "FactorizedConv.transduct with factorization='tucker' raises AttributeError: "
                        "'TuckerTensor' object has no attribute 'transduct' (and has already mutated "
                        "order/padding/stride/kernel_size before failing)",
}
FORMAT = ("golden-v1: tensors.bin = little-endian C-order arrays at 8-byte aligned offsets; "
          "dtype f32|f64|i64; shape; offset in bytes; count in elements")

#: The two single-layer variants per spatial order: v0 has tltorch's defaults (stride 1,
#: 'same' padding, a bias, rank 'same'); v1 anisotropic geometry, rank 0.5, no bias.
SINGLE_VARIANTS = {
    1: [dict(cin=4, cout=6, kernel=3, stride=1, padding=1, dilation=1, bias=True, rank="same", spatial=(23,)),
        dict(cin=5, cout=3, kernel=5, stride=2, padding=3, dilation=2, bias=False, rank=0.5, spatial=(23,))],
    2: [dict(cin=4, cout=6, kernel=3, stride=1, padding=1, dilation=1, bias=True, rank="same", spatial=(11, 13)),
        dict(cin=5, cout=3, kernel=(3, 5), stride=(2, 1), padding=(0, 2), dilation=(1, 2), bias=False,
             rank=0.5, spatial=(11, 13))],
    3: [dict(cin=4, cout=6, kernel=3, stride=1, padding=1, dilation=1, bias=True, rank="same", spatial=(6, 7, 5)),
        dict(cin=5, cout=3, kernel=(2, 3, 3), stride=(1, 2, 2), padding=(1, 0, 1), dilation=(2, 1, 1),
             bias=False, rank=0.5, spatial=(6, 9, 8))],
}
#: The input's spatial size per order in from_conv cases.
FROM_CONV_SPATIAL = {1: (19,), 2: (9, 8), 3: (6, 5, 7)}


def ints(values):
    """A flat list of Python ints (for the manifest) from a tuple, list or array of ints."""
    return [int(v) for v in np.asarray(values).reshape(-1)]


def seed_everything(seed):
    """Seeds torch and numpy's global RandomState, which tensorly's CP SVD init draws from."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def factors_of(weight):
    """The raw tensors of a tltorch factorized tensor, named as the manifest names them."""
    if isinstance(weight, CPTensor):
        return {"weights": weight.weights, **{"factor_%d" % i: f for i, f in enumerate(weight.factors)}}
    if isinstance(weight, TuckerTensor):
        return {"core": weight.core, **{"factor_%d" % i: f for i, f in enumerate(weight.factors)}}
    if isinstance(weight, TTTensor):
        return {"core_%d" % i: f for i, f in enumerate(weight.factors)}
    raise TypeError("not a CP, Tucker or TT tensor: %r" % type(weight))


def describe(weight):
    """type, shape and rank of a factorized tensor, as the manifest records them."""
    rank = weight.rank
    return {"type": weight._name, "shape": ints(weight.shape),
            "rank": [int(r) for r in rank] if isinstance(rank, (tuple, list)) else int(rank)}


def float64_kernel(layer, index=None):
    """The layer's kernel (out, in, k...) rebuilt in float64 from its fp32 factors (the layer
    itself is left in fp32: a copy is widened)."""
    wide = copy.deepcopy(layer).double()
    weight = wide.weight if index is None else wide.weight(index)
    return tensor_to_kernel(weight._name, weight.to_tensor())


def randomize(layer, std):
    """Replaces tltorch's initialization: factors for a kernel of standard deviation `std`, and
    a bias drawn from N(0, 0.5) when the layer has one."""
    layer.weight.normal_(0, std)
    if layer.bias is not None:
        with torch.no_grad():
            layer.bias.normal_(0, 0.5)


def geometry(layer, index=None):
    """stride, padding and dilation keywords of the layer (or of one layer of a grid) for torch's
    functional convolution."""
    pick = (lambda v: v) if index is None else (lambda v: v[index])
    return dict(stride=ints(pick(layer.stride)), padding=ints(pick(layer.padding)),
                dilation=ints(pick(layer.dilation)))


class TensorPack:
    """The bytes of tensors.bin, built up tensor by tensor: each array little-endian and C
    order, starting at an 8-byte aligned offset."""

    DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int64): "i64"}

    def __init__(self):
        self.parts = []
        self.size = 0

    def append(self, value):
        """Adds one array (a torch tensor or numpy array); returns its manifest entry."""
        array = value.detach().cpu().numpy() if torch.is_tensor(value) else value
        array = np.ascontiguousarray(array)
        code = self.DTYPES[array.dtype]
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        entry = {"dtype": code, "shape": list(array.shape), "offset": self.size, "count": int(array.size)}
        padded = data + bytes(-len(data) % 8)
        self.parts.append(padded)
        self.size += len(padded)
        return entry

    def append_all(self, tensors):
        """Adds every array of the dict `tensors`, in its order; returns name -> entry."""
        return {name: self.append(value) for name, value in tensors.items()}

    def bytes(self):
        return b"".join(self.parts)


class GoldenSet:
    """The cases and their tensors, in the order they are made."""

    def __init__(self):
        self.pack = TensorPack()
        self.cases = []

    def single(self, name, factorization, order, implementation, seed, cin, cout, kernel, stride,
               padding, dilation, bias, rank, spatial, fixed_rank_modes=None):
        """One layer built by tltorch's constructor, randomized, run on a batch of 2."""
        seed_everything(seed)
        layer = tltorch.FactorizedConv(cin, cout, kernel, order=order, stride=stride, padding=padding,
                                       dilation=dilation, bias=bias, factorization=factorization, rank=rank,
                                       implementation=implementation, fixed_rank_modes=fixed_rank_modes)
        randomize(layer, 0.5)
        x = torch.randn(2, cin, *spatial)
        conv, where = CONV_FN[order], geometry(layer)
        with torch.no_grad():
            y = layer(x)
            kernel32 = tensor_to_kernel(factorization, layer.weight.to_tensor())
            y_dense = conv(x, kernel32, layer.bias, **where)
            y64 = conv(x.double(), float64_kernel(layer), None if layer.bias is None else layer.bias.double(),
                       **where)
        tensors = {"x": x, "kernel": kernel32, "y": y, "y_dense_f32": y_dense, "y_ref_f64": y64}
        if layer.bias is not None:
            tensors["bias"] = layer.bias
        tensors.update({"fact." + k: v for k, v in factors_of(layer.weight).items()})
        self.cases.append({
            "name": name, "kind": "single", "factorization": factorization, "order": order,
            "implementation": implementation, "in_channels": cin, "out_channels": cout,
            "kernel_size": list(layer.kernel_size), **where, "bias": layer.bias is not None,
            "rank_arg": rank, "fixed_rank_modes": fixed_rank_modes, "weight": describe(layer.weight),
            "seed": seed, "max_abs_y_minus_ref64": float((y.double() - y64).abs().max()),
            "tensors": self.pack.append_all(tensors)})

    def grid(self, name, factorization, implementation, seed, n_layers=3, rank=0.5):
        """An n_layers=3 grid of 2-D 4 -> 6 layers sharing one factorization; layer 0 keeps the
        defaults and no bias, layers 1 and 2 get their own geometry and a bias (`set`)."""
        cin, cout = 4, 6
        seed_everything(seed)
        layer = tltorch.FactorizedConv(cin, cout, 3, order=2, factorization=factorization, rank=rank,
                                       n_layers=n_layers, implementation=implementation, bias=True)
        randomize(layer, 0.5)
        layer.set(1, stride=2, padding=1, dilation=1, bias=layer.bias[1].detach().clone())
        layer.set(2, stride=1, padding=2, dilation=2, bias=layer.bias[2].detach().clone())
        x = torch.randn(2, cin, 11, 10)
        tensors = {"x": x, "bias_all": layer.bias}
        tensors.update({"fact." + k: v for k, v in factors_of(layer.weight).items()})
        records = []
        with torch.no_grad():
            for i in range(n_layers):
                y = layer.get_conv(i)(x)
                weight = layer.weight(i)
                bias = layer.bias[i] if layer.has_bias[i] else None
                where = geometry(layer, i)
                y64 = F.conv2d(x.double(), float64_kernel(layer, i), None if bias is None else bias.double(),
                               **where)
                tensors["layer%d.kernel" % i] = tensor_to_kernel(factorization, weight.to_tensor())
                tensors["layer%d.y" % i] = y
                tensors["layer%d.y_ref_f64" % i] = y64
                tensors.update({"layer%d.fact.%s" % (i, k): v for k, v in factors_of(weight).items()})
                records.append({"index": i, **where, "has_bias": bool(layer.has_bias[i]),
                                "weight": describe(weight),
                                "max_abs_y_minus_ref64": float((y.double() - y64).abs().max())})
        self.cases.append({
            "name": name, "kind": "multi", "factorization": factorization, "order": 2,
            "implementation": implementation, "in_channels": cin, "out_channels": cout,
            "kernel_size": list(layer.kernel_size), "n_layers": n_layers, "rank_arg": rank,
            "weight": describe(layer.weight), "seed": seed, "layers": records,
            "tensors": self.pack.append_all(tensors)})

    def from_conv(self, name, factorization, order, rank, seed, implementation="factorized", exact_rank=None):
        """tltorch's from_conv of a torch ConvNd(6, 8, 3, padding=1); with `exact_rank`, the
        conv's kernel is first replaced by a random one of exactly that rank."""
        cin, cout = 6, 8
        seed_everything(seed)
        conv = CONV_MODULE[order](cin, cout, 3, padding=1, bias=True)
        if exact_rank is not None:
            shape = kernel_shape_to_factorization_shape(factorization, tuple(conv.weight.shape))
            source = tltorch.FactorizedTensor.new(shape, rank=exact_rank, factorization=factorization)
            source = source.normal_(0, 0.5)
            with torch.no_grad():
                conv.weight.copy_(tensor_to_kernel(factorization, source.to_tensor()))
        x = torch.randn(2, cin, *FROM_CONV_SPATIAL[order])
        layer = tltorch.FactorizedConv.from_conv(conv, rank=rank, factorization=factorization,
                                                 implementation=implementation, decomposition_kwargs={})
        where = geometry(layer)
        with torch.no_grad():
            y_conv = conv(x)
            y = layer(x)
            kernel32 = tensor_to_kernel(factorization, layer.weight.to_tensor())
            kernel_error = float((kernel32 - conv.weight).norm() / conv.weight.norm())
            y64 = CONV_FN[order](x.double(), float64_kernel(layer), layer.bias.double(), **where)
        tensors = {"x": x, "conv_weight": conv.weight, "conv_bias": conv.bias, "y_conv": y_conv,
                   "kernel": kernel32, "bias": layer.bias, "y": y, "y_ref_f64": y64}
        tensors.update({"fact." + k: v for k, v in factors_of(layer.weight).items()})
        self.cases.append({
            "name": name, "kind": "from_conv", "factorization": factorization, "order": order,
            "implementation": implementation, "in_channels": cin, "out_channels": cout,
            "kernel_size": list(layer.kernel_size), **where, "bias": True, "rank_arg": rank,
            "exact_rank_of_source_kernel": exact_rank, "weight": describe(layer.weight),
            "decomposition": DECOMPOSITION[factorization], "decomposition_kwargs": {},
            "kernel_rel_err": kernel_error, "rel_err_y_vs_conv": float((y - y_conv).norm() / y_conv.norm()),
            "seed": seed, "tensors": self.pack.append_all(tensors)})

    def transduct(self, name, factorization, implementation, seed):
        """A 2-D 4 -> 5 layer (rank 0.5, padding 1) run, then transducted to 3-D (a time axis of
        3 taps in front, padding 1) and run again."""
        seed_everything(seed)
        layer = tltorch.FactorizedConv(4, 5, 3, order=2, factorization=factorization, rank=0.5,
                                       implementation=implementation, padding=1, bias=True)
        randomize(layer, 0.5)
        x2 = torch.randn(2, 4, 9, 8)
        tensors = {"x2d": x2}
        with torch.no_grad():
            tensors["y2d"] = layer(x2)
            tensors["kernel2d"] = tensor_to_kernel(factorization, layer.weight.to_tensor())
        tensors["bias"] = layer.bias
        tensors.update({"before.fact." + k: v.detach().clone() for k, v in factors_of(layer.weight).items()})
        before = describe(layer.weight)
        arguments = {"kernel_size": 3, "mode": 0, "padding": 1, "stride": 1, "dilation": 1}
        layer.transduct(arguments["kernel_size"], mode=arguments["mode"], padding=arguments["padding"],
                        stride=arguments["stride"], dilation=arguments["dilation"])
        x3 = torch.randn(2, 4, 5, 9, 8)
        where = geometry(layer)
        with torch.no_grad():
            y3 = layer(x3)
            kernel3 = tensor_to_kernel(factorization, layer.weight.to_tensor())
            y64 = F.conv3d(x3.double(), float64_kernel(layer), layer.bias.double(), **where)
        tensors.update({"x3d": x3, "y3d": y3, "kernel3d": kernel3, "y3d_ref_f64": y64})
        tensors.update({"after.fact." + k: v for k, v in factors_of(layer.weight).items()})
        self.cases.append({
            "name": name, "kind": "transduct", "factorization": factorization,
            "implementation": implementation, "in_channels": 4, "out_channels": 5,
            "transduct_args": arguments, "weight_before": before, "weight_after": describe(layer.weight),
            **where, "note": TRANSDUCT_NOTE[factorization], "seed": seed,
            "tensors": self.pack.append_all(tensors)})


def build():
    """Every case, in the order (and so with the seeds and offsets) of the committed files."""
    golden = GoldenSet()
    seeds = iter(range(101, 1000))
    for factorization in ("cp", "tucker", "tt"):
        implementations = ["factorized", "reconstructed"] + (["mobilenet"] if factorization == "cp" else [])
        for order in (1, 2, 3):
            for implementation in implementations:
                for v, variant in enumerate(SINGLE_VARIANTS[order]):
                    golden.single("single_%s_%dd_%s_v%d" % (factorization, order, implementation, v),
                                  factorization, order, implementation, next(seeds), **variant)
    golden.single("single_tucker_2d_factorized_fixedspatial", "tucker", 2, "factorized", next(seeds),
                  cin=8, cout=8, kernel=3, stride=1, padding=1, dilation=1, bias=True, rank=0.3,
                  spatial=(10, 9), fixed_rank_modes="spatial")
    for factorization in ("cp", "tucker", "tt"):
        for implementation in ("factorized", "reconstructed"):
            golden.grid("multi_%s_%s" % (factorization, implementation), factorization, implementation, next(seeds))
    for factorization in ("cp", "tucker", "tt"):
        for order in (1, 2, 3):
            golden.from_conv("from_conv_%s_%dd_same" % (factorization, order), factorization, order, "same",
                             next(seeds))
        golden.from_conv("from_conv_%s_2d_r0.5_reconstructed" % factorization, factorization, 2, 0.5,
                         next(seeds), implementation="reconstructed")
    golden.from_conv("from_conv_cp_2d_exact_rank4", "cp", 2, 4, next(seeds), exact_rank=4)
    golden.from_conv("from_conv_tucker_2d_exact_rank", "tucker", 2, (5, 3, 2, 2), next(seeds),
                     exact_rank=(5, 3, 2, 2))
    golden.from_conv("from_conv_tt_2d_exact_rank", "tt", 2, (1, 3, 2, 4, 1), next(seeds),
                     exact_rank=(1, 3, 2, 4, 1))
    for factorization in ("cp", "tt"):      # Tucker: see KNOWN_FAILURES
        for implementation in ("factorized", "reconstructed"):
            golden.transduct("transduct_%s_%s" % (factorization, implementation), factorization, implementation,
                             next(seeds))
    return golden


def write(directory):
    """Generates every case and writes manifest.json and tensors.bin into `directory`."""
    golden = build()
    blob = golden.pack.bytes()
    manifest = {
        "format": FORMAT,
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "tensorly": tl.__version__,
                     "tltorch": getattr(tltorch, "__version__", "0.5.0"), "numpy": np.__version__},
        "torch_num_threads": 1,
        "tensors_bin_sha256": hashlib.sha256(blob).hexdigest(),
        "tensors_bin_bytes": len(blob),
        "known_failures": KNOWN_FAILURES,
        "cases": golden.cases,
    }
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "tensors.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("%d cases, %d tensors, tensors.bin %d bytes -> %s"
          % (len(golden.cases), sum(len(c["tensors"]) for c in golden.cases), len(blob), directory))


#: The fp32 outputs of torch's own convolutions: their last bits depend on the CPU's oneDNN
#: kernels (AVX-512 or AVX2), so `--check` compares them within CONV_OUTPUT_TOLERANCE instead of
#: bit for bit. Every other tensor (inputs, factors, kernels, float64 references) must be equal.
CONV_OUTPUTS = ("y", "y_dense_f32", "y_conv", "y2d", "y3d")
#: Largest accepted |made - committed| / max |committed| of a CONV_OUTPUTS tensor: a few fp32
#: roundings, and 5x below the 1e-5 the golden tests allow.
CONV_OUTPUT_TOLERANCE = 2e-6
#: Manifest numbers computed from CONV_OUTPUTS, which move with them.
DERIVED_FIELDS = ("max_abs_y_minus_ref64", "rel_err_y_vs_conv")


def read_fixtures(directory):
    """(manifest, tensors.bin bytes) of a fixture directory."""
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(directory, "tensors.bin"), "rb") as f:
        return manifest, f.read()


def array(blob, entry):
    """One tensor of a tensors.bin, as its manifest entry describes it."""
    dtype = {"f32": "<f4", "f64": "<f8", "i64": "<i8"}[entry["dtype"]]
    return np.frombuffer(blob, dtype=dtype, count=entry["count"], offset=entry["offset"]).reshape(entry["shape"])


def same_fields(made, committed):
    """Whether two manifest records (a case, a layer) agree: exactly, except DERIVED_FIELDS,
    which may move by 1e-5 relative, and the tensors maps, compared separately."""
    if set(made) != set(committed):
        return False
    for key, value in committed.items():
        if key == "tensors":
            continue
        if key in DERIVED_FIELDS:
            if abs(made[key] - value) > 1e-5 * max(abs(value), 1.0):
                return False
        elif key == "layers":
            if len(made[key]) != len(value) or not all(map(same_fields, made[key], value)):
                return False
        elif made[key] != value:
            return False
    return True


def compare(made_dir, committed_dir):
    """(problems, rounded): lines naming what differs beyond what the CPU explains, and lines
    naming the CONV_OUTPUTS tensors that differ within CONV_OUTPUT_TOLERANCE."""
    (made, made_blob), (committed, committed_blob) = read_fixtures(made_dir), read_fixtures(committed_dir)
    problems, rounded = [], []
    if hashlib.sha256(committed_blob).hexdigest() != committed["tensors_bin_sha256"]:
        problems.append("the committed tensors.bin does not have the sha256 its manifest records")
    top = [k for k in committed if k not in ("cases", "tensors_bin_sha256")]
    for key in top:
        if made.get(key) != committed[key]:
            problems.append("manifest field %r: %r, committed %r" % (key, made.get(key), committed[key]))
    made_cases = {c["name"]: c for c in made["cases"]}
    if [c["name"] for c in made["cases"]] != [c["name"] for c in committed["cases"]]:
        problems.append("the cases or their order differ")
    for case in committed["cases"]:
        other = made_cases.get(case["name"])
        if other is None:
            continue
        if not same_fields(other, case):
            problems.append("case %s: manifest fields differ" % case["name"])
        if other["tensors"].keys() != case["tensors"].keys():
            problems.append("case %s: another set of tensors" % case["name"])
            continue
        for key, entry in case["tensors"].items():
            made_entry = other["tensors"][key]
            if made_entry != entry:
                problems.append("case %s, %s: another dtype, shape or offset" % (case["name"], key))
                continue
            a, b = array(made_blob, made_entry), array(committed_blob, entry)
            if a.tobytes() == b.tobytes():
                continue
            difference = float(np.abs(a.astype(np.float64) - b).max() / max(float(np.abs(b).max()), 1e-30))
            line = "case %s, %s: max relative difference %.1e" % (case["name"], key, difference)
            if key.split(".")[-1] in CONV_OUTPUTS and difference <= CONV_OUTPUT_TOLERANCE:
                rounded.append(line)
            else:
                problems.append(line)
    return problems, rounded


def check():
    """Regenerates into a scratch directory and compares with the committed fixtures; returns
    the exit status (0: identical, or different only by the CPU's rounding of conv outputs)."""
    scratch = tempfile.mkdtemp(prefix="factorconv-golden.")
    try:
        write(scratch)
        problems, rounded = compare(scratch, COMMITTED)
        identical = all(filecmp.cmp(os.path.join(scratch, f), os.path.join(COMMITTED, f), shallow=False)
                        for f in FILES)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if problems:
        print("the regenerated fixtures differ from %s:" % COMMITTED)
        for line in problems[:30] + (["..."] if len(problems) > 30 else []):
            print("  " + line)
        return 1
    if identical:
        print("identical to %s, byte for byte (%s)" % (COMMITTED, ", ".join(FILES)))
    else:
        print("equal to %s except the last bits of %d fp32 convolution outputs (at most %.1e relative, "
              "within %.0e: torch's float32 convolution rounds differently on this CPU); every input, "
              "factor, kernel and float64 reference is identical byte for byte"
              % (COMMITTED, len(rounded), max(float(line.rsplit(" ", 1)[1]) for line in rounded),
                 CONV_OUTPUT_TOLERANCE))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", nargs="?", help="where to write manifest.json and tensors.bin")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a scratch directory and compare with Tests/Fixtures/golden")
    args = parser.parse_args()
    if args.check == bool(args.directory):
        parser.error("give an output directory or --check (not both)")
    warnings.filterwarnings("ignore")
    tl.set_backend("pytorch")
    torch.set_num_threads(1)        # one reduction order for the stored fp32 outputs
    if args.check:
        return check()
    write(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())

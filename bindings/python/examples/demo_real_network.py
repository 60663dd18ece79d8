"""FactorConv on a real trained network: Silero VAD (16 kHz) on speech synthesised by espeak-ng.

1. Speech: three English sentences spoken by espeak-ng with pauses between them (speech.py).
2. The network: silero_net.SileroVAD16k, a plain-torch re-implementation of the silero-vad
   package's model with that model's parameters; checked here against the package's own
   TorchScript model on the recording.
3. For each setting in SETTINGS: the four trained convolutions (conv1..conv4) compressed by
   fc.compress_model into a model bundle, loaded back with fc.load_layers, put into the network
   as factorconv.torch modules, and the network run on the recording again: the per-layer
   table, the total compression, the speech probabilities against the original's, and the
   speech segments each finds.
Run: make demo (or FACTORCONV_LIB=... PYTHONPATH=bindings/python python3 this file).
"""

import copy
import os
import sys
import tempfile
import time

import numpy as np
import torch

import factorconv as fc
import factorconv.torch as fct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import silero_net  # noqa: E402
import speech  # noqa: E402

#: (label, compress_model keywords): one that keeps the segments, one that shows a tolerance
#: target, one aggressive enough to change them.
SETTINGS = (
    ("CP, rank 0.5", {"factorization": "cp", "rank": 0.5}),
    ("TT, max_error 0.05", {"factorization": "tt", "max_error": 0.05}),
    ("CP, rank 0.25", {"factorization": "cp", "rank": 0.25}),
)
CHUNK_MS = 1000 * silero_net.CHUNK / silero_net.SAMPLE_RATE
SEGMENT_RULE = dict(onset=0.5, offset=0.35, min_speech_chunks=8, min_silence_chunks=10)


def conv_weights(network):
    """{name.weight / name.bias: array} of the convolutions to compress, and their geometry."""
    weights, geometry = {}, {}
    for name in silero_net.CONV_NAMES:
        conv = getattr(network, name)
        weights[name + ".weight"] = conv.weight.detach().numpy()
        weights[name + ".bias"] = conv.bias.detach().numpy()
        geometry[name] = (conv.stride[0], conv.padding[0], conv.dilation[0])
    return weights, geometry


def compressed_network(network, bundle_path, n_chunks, **settings):
    """(copy of ``network`` with its convolutions replaced by factorconv.torch modules, report):
    fc.compress_model on the convolutions (measured on the recording's input shapes), the
    bundle loaded back, each layer turned into a module. Layers the report skips stay dense."""
    weights, geometry = conv_weights(network)
    input_shapes = {"conv1": (n_chunks, 4), "conv2": (n_chunks, 4), "conv3": (n_chunks, 2),
                    "conv4": (n_chunks, 1)}     # frames per chunk at each stage
    report = fc.compress_model(weights, bundle_path, geometry=geometry, input_shape=input_shapes,
                               workers=1, progress=False, seed=0, **settings)
    model = copy.deepcopy(network)
    for name, layer in fc.load_layers(bundle_path).items():
        setattr(model, name, fct.FactorizedConv.from_factorization(
            layer.weight, layer.implementation, layer.stride, layer.padding, layer.dilation,
            layer.bias))
    return model, report


def seconds(segments):
    return [(a * CHUNK_MS / 1000, b * CHUNK_MS / 1000) for a, b in segments]


def print_layers(report):
    row = "  %-6s %-10s %-11s %-16s %7s %8s %7s %10s"
    print(row % ("layer", "shape", "status", "rank", "params", "after", "compr.", "kernel err"))
    for e in report["layers"]:
        rank = e["rank"]
        rank = "-" if rank is None else str(tuple(rank) if isinstance(rank, list) else rank)
        after = e.get("params_after")
        print(row % (e["name"], "x".join(map(str, e["shape"])), e["status"], rank,
                     e["params_before"], after if after is not None else "(dense)",
                     "%.2fx" % (e["params_before"] / after) if after else "-",
                     "%.3e" % e["kernel_error"] if e["kernel_error"] is not None else "-"))
    for e in report["layers"]:
        if e["status"] != "compressed":
            print("  %s %s: %s" % (e["name"], e["status"], e["reason"]))


def print_segments(original, compressed):
    print("  %-26s %-26s %s" % ("segments, original (s)", "compressed (s)", "boundary shift"))
    for i in range(max(len(original), len(compressed))):
        a = original[i] if i < len(original) else None
        b = compressed[i] if i < len(compressed) else None
        text = lambda s: "-" if s is None else "%6.3f - %6.3f" % (s[0] * CHUNK_MS / 1000,
                                                                   s[1] * CHUNK_MS / 1000)
        shift = ("%+d / %+d ms" % ((b[0] - a[0]) * CHUNK_MS, (b[1] - a[1]) * CHUNK_MS)
                 if a and b else "")
        print("  %-26s %-26s %s" % (text(a), text(b), shift))


def main():
    started = time.perf_counter()
    torch.set_num_threads(1)   # as the silero-vad package does: the network is small
    print("factorconv %s, %d threads; torch %s, 1 thread"
          % (fc.__version__, fc.get_num_threads(), torch.__version__))
    audio, sentences = speech.synthesise()
    print("speech: %.2f s at 16 kHz from espeak-ng, sentences at %s s"
          % (len(audio) / silero_net.SAMPLE_RATE,
             ", ".join("%.2f-%.2f" % s for s in sentences)))
    network = silero_net.SileroVAD16k()
    x = torch.from_numpy(audio)
    with torch.inference_mode():
        original = network(x)
    package = silero_net.package_probabilities(audio)
    print("Silero VAD 16 kHz in plain torch: %d parameters (convolutions conv1..conv4: %d); "
          "against the package's TorchScript model on this speech: max |dp| = %.1e"
          % (sum(p.numel() for p in network.parameters()),
             sum(getattr(network, n).weight.numel() + getattr(network, n).bias.numel()
                 for n in silero_net.CONV_NAMES),
             float((original - package).abs().max())))
    segments = silero_net.speech_segments(original.numpy(), **SEGMENT_RULE)
    print("speech segments: onset p >= %(onset)s, offset after %(min_silence_chunks)d chunks "
          "(%(ms_silence)d ms) below %(offset)s, segments shorter than %(min_speech_chunks)d "
          "chunks (%(ms_speech)d ms) dropped; one chunk = %(chunk)d ms"
          % dict(SEGMENT_RULE, ms_silence=SEGMENT_RULE["min_silence_chunks"] * CHUNK_MS,
                 ms_speech=SEGMENT_RULE["min_speech_chunks"] * CHUNK_MS, chunk=CHUNK_MS))
    with tempfile.TemporaryDirectory() as scratch:
        for label, settings in SETTINGS:
            print()
            t0 = time.perf_counter()
            model, report = compressed_network(network, os.path.join(scratch, "bundle"),
                                               len(original), **settings)
            t1 = time.perf_counter()
            with torch.inference_mode():
                probabilities = model(x)
            t2 = time.perf_counter()
            totals = report["totals"]
            print("== %s: %d of %d convolutions compressed (compress_model %.1f s, network "
                  "%.2f s)" % (label, totals["compressed"], totals["layers"], t1 - t0, t2 - t1))
            print_layers(report)
            saved = totals["params_before"] - totals["params_after"]
            whole = sum(p.numel() for p in network.parameters())
            print("  convolutions: %d -> %d parameters (%.2fx); whole network: %d -> %d (%.2fx)"
                  % (totals["params_before"], totals["params_after"], totals["compression"],
                     whole, whole - saved, whole / (whole - saved)))
            difference = (probabilities - original).abs()
            print("  speech probability vs the original: max |dp| = %.3f, mean |dp| = %.4f"
                  % (float(difference.max()), float(difference.mean())))
            print_segments(segments,
                           silero_net.speech_segments(probabilities.numpy(), **SEGMENT_RULE))
    print()
    print("kernel err = ||W' - W|| / ||W|| (for a skipped layer: of the rank compress_model tried);")
    print("skipped layers stay dense; compr. < 1: the factorized layer holds more parameters than")
    print("the dense one at that error (compress_model keeps it when its forward is cheaper).")
    print("total %.1f s" % (time.perf_counter() - started))


if __name__ == "__main__":
    main()

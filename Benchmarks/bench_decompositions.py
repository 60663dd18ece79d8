"""Side-by-side benchmark of from_conv's decompositions: tltorch vs FactorConv, speed and error.

Run: make bench-decompositions
 (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks $(bash Benchmarks/refenv.sh) \
      Benchmarks/bench_decompositions.py [--threads 1 2] [--repeats 3] [--quick])

Both sides are called the way a user calls them, from Python on a float32 kernel:
tltorch.FactorizedConv.from_conv(conv, rank, factorization=...) (CP: decomposition_kwargs
random_state=0; it runs TensorLy's parafac / tucker / tensor_train) and
factorconv.FactorizedConv.from_conv(kernel, rank, 'reconstructed', factorization, seed=0).
Each row prints the best wall time of --repeats calls (one call when the first takes over 2 s),
the relative kernel error ||K - K_hat|| / ||K|| of both, the speed-up (tltorch s / ours s) and
the error ratio (ours / tltorch: <= 1 means ours is at least as accurate).

Kernels:
- random: 256x256x3x3 standard normal (white: no structure to find);
- decaying: 256x256x3x3 whose channel spectra decay like a trained layer's;
- low-rank+noise: a CP rank-24 256x256x3x3 kernel (Gaussian factors) plus Gaussian noise of
  10% of its norm;
- Silero VAD's four Conv1d kernels (the silero-vad package's silero_vad_16k.safetensors);
- PP-OCRv4's non-grouped, non-1x1 Conv kernels of the detection and recognition models
  (ONNX initializers in rapidocr_onnxruntime, read with onnx).
Ranks: tltorch's fractions 0.1, 0.25, 0.5 (parameter count relative to the dense kernel); on the
256x256x3x3 kernels CP at fixed ranks 32 and 64 instead (CP at rank 0.25 = 286 takes tltorch
minutes per call).
Threads: torch.set_num_threads(t) for tltorch, fc.set_num_threads(t) for ours.
"""

import argparse
import importlib.util
import os
import sys
import time
import warnings

import numpy as np

from harness import record_results

FRACTIONS = [0.1, 0.25, 0.5]


def decaying_kernel(out_ch=256, in_ch=256, k=3, seed=0):
    """A conv kernel whose mode-0 and mode-1 spectra decay like a trained layer's (not white noise)."""
    rng = np.random.default_rng(seed)
    # Tucker-like construction with geometrically decaying core energy plus a little noise.
    u0, _ = np.linalg.qr(rng.standard_normal((out_ch, out_ch)))
    u1, _ = np.linalg.qr(rng.standard_normal((in_ch, in_ch)))
    core = rng.standard_normal((out_ch, in_ch, k, k))
    decay0 = np.exp(-np.arange(out_ch) / 24.0)
    decay1 = np.exp(-np.arange(in_ch) / 24.0)
    core *= decay0[:, None, None, None] * decay1[None, :, None, None]
    kernel = np.einsum("ab,bcij,dc->adij", u0, core, u1)
    kernel += 1e-3 * np.abs(kernel).max() * rng.standard_normal(kernel.shape)
    return (kernel / np.linalg.norm(kernel) * 10).astype(np.float32)


def low_rank_plus_noise(shape=(256, 256, 3, 3), rank=24, noise=0.1, seed=0):
    """A CP rank-`rank` kernel (Gaussian factors, unit norm) plus Gaussian noise of norm `noise`."""
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((size, rank)) for size in shape]
    kernel = np.einsum("ar,br,cr,dr->abcd", *factors)
    kernel /= np.linalg.norm(kernel)
    n = rng.standard_normal(shape)
    return (kernel + noise * n / np.linalg.norm(n)).astype(np.float32)


def random_kernel(shape=(256, 256, 3, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def package_file(package, relative):
    """A data file of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit("%s is not installed: rebuild the venv with Benchmarks/refenv.sh" % package)
    return os.path.join(os.path.dirname(spec.origin), relative)


def silero_kernels():
    """Silero VAD's Conv1d kernels (out, in, k), as trained."""
    from safetensors.numpy import load_file
    tensors = load_file(package_file("silero_vad", "data/silero_vad_16k.safetensors"))
    return [("silero %s" % name, tensors[name + ".weight"]) for name in ("conv1", "conv2", "conv3", "conv4")]


def ppocr_kernels():
    """PP-OCRv4's ungrouped Conv kernels larger than 1x1 with at least 8 input channels; the
    models keep their weights as Constant nodes (or initializers)."""
    import onnx
    from onnx import numpy_helper
    out = []
    for model in ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"):
        graph = onnx.load(package_file("rapidocr_onnxruntime", "models/" + model)).graph
        values = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                values.update({node.output[0]: a.t for a in node.attribute if a.name == "value"})
        seen = set()
        for node in graph.node:
            groups = [a.i for a in node.attribute if a.name == "group"]
            if node.op_type != "Conv" or (groups and groups[0] != 1) or node.input[1] not in values:
                continue
            w = numpy_helper.to_array(values[node.input[1]]).astype(np.float32)
            if w.ndim < 3 or int(np.prod(w.shape[2:])) == 1 or w.shape[1] < 8 or w.shape in seen:
                continue
            seen.add(w.shape)   # one kernel per shape (the detection neck repeats 24x96x3x3)
            out.append(("ppocr %s %s" % (model.split("_")[2], node.input[1].split(".")[0]), w))
    return out


def best_time(fn, repeats):
    best, result = float("inf"), None
    for i in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        if i == 0 and best > 2.0:
            break
    return best, result


def rel_err(rebuilt, kernel):
    k = kernel.astype(np.float64)
    return float(np.linalg.norm(np.asarray(rebuilt, dtype=np.float64) - k) / np.linalg.norm(k))


def tltorch_run(torch, tltorch, kernel, factorization, rank, repeats):
    dims = kernel.ndim - 2
    conv = [torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d][dims - 1](
        kernel.shape[1], kernel.shape[0], tuple(kernel.shape[2:]), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel))
    kwargs = {"random_state": 0} if factorization == "cp" else {}

    def run():
        return tltorch.FactorizedConv.from_conv(conv, rank=rank, factorization=factorization,
                                                decomposition_kwargs=kwargs)

    seconds, layer = best_time(run, repeats)
    with torch.no_grad():
        t = layer.weight.to_tensor().detach().double().numpy()
    if factorization == "tt":   # tltorch's TT layout is (in, k.., out)
        t = np.moveaxis(t, -1, 0)
    return seconds, rel_err(t, kernel)


def ours_run(fc, kernel, factorization, rank, repeats):
    def run():
        return fc.FactorizedConv.from_conv(kernel, rank, "reconstructed", factorization, seed=0)

    seconds, layer = best_time(run, repeats)
    t = layer.weight.to_tensor()
    if factorization == "tt":   # the same layout as tltorch's
        t = np.moveaxis(t, -1, 0)
    return seconds, rel_err(t, kernel), layer.rank


def rank_label(rank):
    return str(tuple(rank)) if isinstance(rank, (tuple, list)) else str(rank)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip the 256x256x3x3 kernels")
    args = ap.parse_args()

    warnings.filterwarnings("ignore")   # TensorLy's n_eigenvecs clamping warnings
    import torch
    import tltorch
    import factorconv as fc

    big = [] if args.quick else [("random", random_kernel()), ("decaying", decaying_kernel()),
                                 ("low-rank+noise", low_rank_plus_noise())]
    trained = silero_kernels() + ppocr_kernels()
    cases = []
    for name, kernel in big:
        cases += [(name, kernel, "cp", r) for r in (32, 64)]
        cases += [(name, kernel, f, r) for f in ("tucker", "tt") for r in FRACTIONS]
    for name, kernel in trained:
        cases += [(name, kernel, f, r) for f in ("cp", "tucker", "tt") for r in FRACTIONS]

    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        fc.set_num_threads(threads)
        for name, kernel, fact, rank in cases:
            t_ref, e_ref = tltorch_run(torch, tltorch, kernel, fact, rank, args.repeats)
            t_ours, e_ours, resolved = ours_run(fc, kernel, fact, rank, args.repeats)
            label = "%s %s" % (rank, rank_label(resolved)) if isinstance(rank, float) else str(rank)
            rows.append((name, "x".join(map(str, kernel.shape)), fact.upper() if fact != "tucker" else "Tucker",
                         label, threads, t_ref, t_ours, e_ref, e_ours))
            print("done: %s %s %s, %d thread(s): speed-up %.1fx, error ratio %.4f"
                  % (name, fact, label, threads, t_ref / t_ours, e_ours / e_ref), file=sys.stderr)

    table = ["from_conv, tltorch %s / torch %s vs factorconv %s; best of %d calls (1 if over 2 s); seed 0"
             % (tltorch.__version__, torch.__version__, fc.__version__, args.repeats),
             "| kernel | shape | factorization | rank (resolved) | threads | tltorch s | ours s | speed-up "
             "| tltorch rel err | ours rel err | ours/tltorch err |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, shape, fact, label, threads, t_ref, t_ours, e_ref, e_ours in rows:
        table.append("| %s | %s | %s | %s | %d | %.4f | %.4f | %.1fx | %.4e | %.4e | %.4f |"
                     % (name, shape, fact, label, threads, t_ref, t_ours, t_ref / t_ours, e_ref, e_ours,
                        e_ours / e_ref if e_ref > 0 else float("nan")))
    worst = max((r for r in rows if r[2] == "CP"), key=lambda r: r[8] / r[7], default=None)
    slowest = min((r for r in rows if r[2] == "CP"), key=lambda r: r[5] / r[6], default=None)
    if worst:
        table.append("")
        table.append("CP: worst error ratio ours/tltorch %.4f (%s %s, rank %s); smallest speed-up %.1fx (%s %s, rank %s)"
                     % (worst[8] / worst[7], worst[0], worst[1], worst[3],
                        slowest[5] / slowest[6], slowest[0], slowest[1], slowest[3]))
    text = "\n".join(table)
    print(text)
    record_results("Decompositions", text)

if __name__ == "__main__":
    main()

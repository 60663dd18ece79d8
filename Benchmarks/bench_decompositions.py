"""Side-by-side benchmark of from_conv decompositions: tltorch vs FactorConv (float64, LAPACK).

Run with the reference venv's python (it has torch + tltorch):
    PY=$(bash Benchmarks/refenv.sh) && "$PY" Benchmarks/bench_decompositions.py [--threads 1 2] [--bin PATH]

One 256x256x3x3 kernel with a decaying spectrum (the same bytes for both sides) is decomposed by
tltorch's FactorizedConv.from_conv (CP rank 32 and 64, Tucker (64,64,3,3), TT rank 0.1) and by
Benchmarks/DecompositionBench (built in release unless --bin is given). Both report the best
wall time over --repeats runs and the relative kernel error ||K - K_hat|| / ||K||.
Threads: torch.set_num_threads(t) for tltorch, FACTORCONV_NUM_THREADS=t for ours.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from harness import record_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


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


def best_time(fn, repeats):
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def tltorch_run(torch, tltorch, kernel, factorization, rank, repeats):
    conv = torch.nn.Conv2d(kernel.shape[1], kernel.shape[0], kernel.shape[2], bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel))
    kwargs = {"random_state": 0} if factorization == "cp" else {}

    def run():
        return tltorch.FactorizedConv.from_conv(conv, rank=rank, factorization=factorization,
                                                decomposition_kwargs=kwargs)

    seconds, layer = best_time(run, repeats)
    with torch.no_grad():
        t = layer.weight.to_tensor().detach().double().numpy()
    if factorization == "tt":
        t = np.moveaxis(t, -1, 0)
    err = float(np.linalg.norm(t - kernel.astype(np.float64)) / np.linalg.norm(kernel.astype(np.float64)))
    return seconds, err, layer.weight.rank


def ours_run(binary, path, shape, op, rank_arg, repeats, threads):
    env = dict(os.environ, FACTORCONV_NUM_THREADS=str(threads))
    cmd = [binary, op, path, ",".join(map(str, shape)), rank_arg, str(repeats)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    d = json.loads(out.strip().splitlines()[-1])
    return d["seconds"], d["rel_err"], d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bin", default=None, help="DecompositionBench binary (default: swift build -c release)")
    args = ap.parse_args()

    import torch
    import tltorch
    from tensorly.tt_tensor import validate_tt_rank

    binary = args.bin
    if binary is None:
        # Its own scratch path: a build in .build with other flags would undo `make lib`'s.
        subprocess.run(["swift", "build", "-c", "release", "--product", "DecompositionBench",
                        "--scratch-path", ".build-bench"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, ".build-bench", "release", "DecompositionBench")

    kernel = decaying_kernel()
    shape = list(kernel.shape)
    tt_ranks = list(validate_tt_rank((shape[1], shape[2], shape[3], shape[0]), rank=0.1))
    cases = [
        ("CP rank 32", "cp", 32, "cp", "32"),
        ("CP rank 64", "cp", 64, "cp", "64"),
        ("Tucker (64,64,3,3)", "tucker", (64, 64, 3, 3), "tucker", "64,64,3,3"),
        ("TT rank 0.1", "tt", 0.1, "tt", ",".join(map(str, tt_ranks))),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.f32")
        kernel.tofile(path)
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            for label, fact, rank, op, rank_arg in cases:
                t_ref, e_ref, _ = tltorch_run(torch, tltorch, kernel, fact, rank, args.repeats)
                t_ours, e_ours, info = ours_run(binary, path, shape, op, rank_arg, args.repeats, threads)
                if fact == "tt":  # both sides truncate the resolved ranks to what the unfoldings allow
                    label = "TT rank 0.1 -> %s" % "x".join(map(str, info["ranks"]))
                rows.append((label, threads, t_ref, t_ours, e_ref, e_ours, info.get("blas", "")))
                print("done: %s, %d thread(s)" % (label, threads), file=sys.stderr)

    table = ["kernel %s, decaying spectrum; best of %d runs; tltorch %s / torch %s; ours BLAS kernels: %s"
             % (tuple(shape), args.repeats, tltorch.__version__, torch.__version__, rows[0][6]), "",
             "| case | threads | tltorch s | ours s | speedup | tltorch rel err | ours rel err |",
             "|---|---|---|---|---|---|---|"]
    for label, threads, t_ref, t_ours, e_ref, e_ours, _ in rows:
        table.append("| %s | %d | %.4f | %.4f | %.1fx | %.4e | %.4e |"
                     % (label, threads, t_ref, t_ours, t_ref / t_ours, e_ref, e_ours))
    print("\n".join(table))
    print("recorded in", record_results("Decompositions", "\n".join(table)))


if __name__ == "__main__":
    main()

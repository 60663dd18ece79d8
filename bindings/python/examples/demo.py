"""FactorConv demo: compress a dense convolution with CP, Tucker and TT and run it.

Builds a 64 -> 64 3x3 convolution kernel with a decaying multilinear spectrum (what trained
kernels look like; fixed seed), compresses it with fc.FactorizedConv.from_conv to a quarter of
its parameters with each factorization (CP-ALS, Tucker-HOOI, TT-SVD, in float64), and prints for
each: the rank, the parameter count, the compression ratio, the kernel error ||K' - K|| / ||K||,
the output error against the dense conv on an input, and the forward time next to fc.conv
(dense). The real-network demo (demo_real_network.py) runs before it in make demo.
Run: make demo (or FACTORCONV_LIB=... PYTHONPATH=bindings/python python3 this file).
"""

import os
import sys
import time

import numpy as np

import factorconv as fc

C_IN = C_OUT = 64
K = 3
RANKS = (0.25,)               # fraction of the dense parameter count
X_SHAPE = (8, C_IN, 32, 32)


def decaying_kernel(seed=0):
    """K = core x_0 U_0 x_1 U_1 x_2 U_2 x_3 U_3 with orthonormal U_i and a core whose entries
    decay geometrically along every mode, plus 1% noise: a smooth random kernel whose
    singular values fall off like a trained one's."""
    rng = np.random.default_rng(seed)
    shape = (C_OUT, C_IN, K, K)
    decay = [0.93 ** np.arange(n) for n in (C_OUT, C_IN)] + [0.5 ** np.arange(K)] * 2
    core = rng.standard_normal(shape)
    for mode, d in enumerate(decay):
        core *= d.reshape([-1 if m == mode else 1 for m in range(4)])
    kernel = core
    for mode, n in enumerate(shape):
        u, _ = np.linalg.qr(rng.standard_normal((n, n)))
        kernel = np.moveaxis(np.tensordot(u, kernel, axes=(1, mode)), 0, mode)
    kernel += 0.01 * np.std(kernel) * rng.standard_normal(shape)
    return (kernel / np.std(kernel) * 0.05).astype(np.float32)


def best_time(function, repeats=5):
    function()   # warm-up (workspaces, cached derived weights)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def relative(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b))


def main():
    print("factorconv %s (library %s, ABI %d), %d threads"
          % (fc.__version__, fc.library_version(), fc.abi_version(), fc.get_num_threads()))
    kernel = decaying_kernel()
    bias = np.linspace(-0.1, 0.1, C_OUT).astype(np.float32)
    x = np.random.default_rng(1).standard_normal(X_SHAPE).astype(np.float32)
    y_dense = fc.conv(x, kernel, bias, padding=1)
    dense_time = best_time(lambda: fc.conv(x, kernel, bias, padding=1))
    dense_params = kernel.size + bias.size
    print("dense conv: kernel %s, input %s, %d parameters, fc.conv %.2f ms"
          % (kernel.shape, X_SHAPE, dense_params, dense_time * 1e3))
    print()
    header = ("factorization", "rank", "params", "compr.", "kernel err", "output err",
              "impl.", "forward", "vs dense", "decomp.")
    row = "%-13s %-24s %8s %7s %10s %10s %-13s %9s %8s %8s"
    print(row % header)
    print("-" * 120)
    for factorization in ("cp", "tucker", "tt"):
        for rank in RANKS:
            start = time.perf_counter()
            conv = fc.FactorizedConv.from_conv(kernel, rank=rank, bias=bias, padding=1,
                                               factorization=factorization,
                                               implementation="auto", seed=0)
            decomposition_time = time.perf_counter() - start
            with conv:
                kernel_error = relative(conv.reconstruct_kernel(), kernel)
                y = conv(x)
                output_error = relative(y, y_dense)
                forward_time = best_time(lambda: conv(x))
                print(row % (factorization, "%s -> %s" % (rank, conv.rank),
                             conv.n_parameters, "%.1fx" % (dense_params / conv.n_parameters),
                             "%.3e" % kernel_error, "%.3e" % output_error,
                             conv.chosen_implementation(X_SHAPE),
                             "%.2f ms" % (forward_time * 1e3),
                             "%.2fx" % (dense_time / forward_time),
                             "%.2f s" % decomposition_time))
    print()
    print("compr. = dense parameters / layer parameters; errors are relative Frobenius norms;")
    print("'vs dense' > 1 means the compressed layer ran faster than fc.conv with the dense kernel.")
    if len(sys.argv) > 1:
        # Leave the built-in data for the command-line part of the demo (make demo).
        os.makedirs(sys.argv[1], exist_ok=True)
        np.save(os.path.join(sys.argv[1], "kernel.npy"), kernel)
        np.save(os.path.join(sys.argv[1], "bias.npy"), bias)
        np.save(os.path.join(sys.argv[1], "x.npy"), x)
        np.save(os.path.join(sys.argv[1], "y_dense.npy"), y_dense)


if __name__ == "__main__":
    main()

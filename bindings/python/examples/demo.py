"""FactorConv demo: the functional dense convolution on built-in random data.

Checks fc.conv against a small numpy reference, then times a ResNet-style layer
(x 8x64x56x56, 3x3 kernel, padding 1, 64 -> 64 channels) and prints shape, checksum and speed.
Run: make demo (or FACTORCONV_LIB=... PYTHONPATH=bindings/python python3 this file).
"""

import itertools
import time

import numpy as np

import factorconv as fc


def reference_conv2d(x, weight, bias, padding):
    """Plain numpy 2-D convolution (stride 1), float64: one einsum per kernel tap."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    kh, kw = weight.shape[2:]
    h, w = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    y = np.zeros((x.shape[0], weight.shape[0], h, w)) + bias.reshape(1, -1, 1, 1)
    for i, j in itertools.product(range(kh), range(kw)):
        y += np.einsum("bchw,oc->bohw", xp[:, :, i:i + h, j:j + w], weight[:, :, i, j])
    return y


def main():
    rng = np.random.default_rng(0)
    print("factorconv %s (library %s, ABI %d), %d threads"
          % (fc.__version__, fc.library_version(), fc.abi_version(), fc.get_num_threads()))

    # Correctness on a small case.
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    ref = reference_conv2d(x, w, b, padding=1)
    err = np.abs(fc.conv(x, w, b, padding=1) - ref).max() / np.abs(ref).max()
    print("small case %s -> %s: max relative error vs numpy %.2e" % (x.shape, ref.shape, err))

    # The main layer.
    x = rng.standard_normal((8, 64, 56, 56)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    y = fc.conv(x, w, padding=1)  # warm-up: workspaces, thread pools
    times = []
    for _ in range(5):
        start = time.perf_counter()
        y = fc.conv(x, w, padding=1)
        times.append(time.perf_counter() - start)
    flops = 2.0 * y.size * 64 * 9
    best = min(times)
    print("conv2d x %s  weight %s  padding 1 -> y %s" % (x.shape, w.shape, y.shape))
    print("checksum %.6e  mean |y| %.6f" % (float(y.sum(dtype=np.float64)), float(np.abs(y).mean())))
    print("time best %.2f ms, median %.2f ms over %d runs (%.1f GFLOP/s)"
          % (1e3 * best, 1e3 * sorted(times)[len(times) // 2], len(times), flops / best / 1e9))
    return 0 if err <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())

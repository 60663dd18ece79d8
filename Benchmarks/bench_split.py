"""Batch 1 at 1 thread against 2: where splitting one image's stages over the workers pays.

A forward of one image runs its stages on one thread unless the image has at least
`FACTORCONV_MIN_SPLIT_MFLOP` (default 2) million FLOPs per worker. A layer reads the setting
when it builds its pipelines (on its first forward), so one process can hold three copies of a
layer: one that never splits, one that always splits, and one with the default. Per layer
(bench_ort's batch-1 shapes, CP, Tucker and TT at rank 0.1 and 0.25) they alternate
(`interleaved`: per round each contender's fastest call, median of the rounds), so load from
other processes falls on every side:
    1 thr            the never-splitting copy at 1 thread
    2 thr, no split  the never-splitting copy at 2 threads
    2 thr, split     the always-splitting copy at 2 threads
    2 thr, default   the default copy at 2 threads (what users get)
MFLOP is the image's work (2 x multiply-adds of the cheapest direct algorithm,
bench_layers.multiply_adds_per_position). Recorded in Benchmarks/RESULTS.md ("Batch-1 split
over threads").

Run: make bench-split   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks python3 Benchmarks/bench_split.py)
"""

import os
import sys

import numpy as np

import factorconv as fc
from bench_layers import multiply_adds_per_position
from bench_ort import FACTORIZATIONS, LATENCY, LATENCY_RANKS, interleaved, make_layer
from harness import at_threads, machine_line, publish

SETTING = "FACTORCONV_MIN_SPLIT_MFLOP"


def copy_with_setting(layer, x, setting):
    """A copy of `layer` whose pipelines were built with FACTORCONV_MIN_SPLIT_MFLOP = setting
    (None: unset, the default)."""
    saved = os.environ.pop(SETTING, None)
    try:
        if setting is not None:
            os.environ[SETTING] = setting
        clone = fc.FactorizedConv.from_bytes(layer.to_bytes())
        fc.set_num_threads(2)
        clone(x)          # builds the pipelines under the setting
        return clone
    finally:
        os.environ.pop(SETTING, None)
        if saved is not None:
            os.environ[SETTING] = saved


def main():
    print("machine:", machine_line(), "| load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    head = "| layer | fact. | rank | MFLOP | 1 thr ms | 2 thr, no split | 2 thr, split | 2 thr, default | split / 1 thr | default / 1 thr |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    slower = 0
    for name, xshape, cout, k, p in LATENCY:
        x = np.random.default_rng(3).standard_normal(xshape).astype(np.float32)
        positions = int(np.prod(xshape[2:]))
        for factorization in FACTORIZATIONS:
            for rank in LATENCY_RANKS:
                layer = make_layer(xshape, cout, k, p, factorization, rank)
                mflop = 2 * positions * multiply_adds_per_position(
                    layer.state_dict(), factorization, xshape[1], cout, [k] * (len(xshape) - 2), xshape[2:]) / 1e6
                never = copy_with_setting(layer, x, "1e12")
                always = copy_with_setting(layer, x, "0")
                default = copy_with_setting(layer, x, None)
                fc.set_num_threads(1)
                reference = never(x)
                fc.set_num_threads(2)
                # Split or not, the same result up to rounding (a dense stage's blocking may
                # follow the workers).
                np.testing.assert_allclose(always(x), reference, rtol=1e-4, atol=1e-5)
                one, two, split, chosen = interleaved([at_threads(fc, 1, never, x), at_threads(fc, 2, never, x),
                                                       at_threads(fc, 2, always, x), at_threads(fc, 2, default, x)])
                slower += chosen > one
                lines.append("| %s | %s | %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |" % (
                    name, factorization, rank, mflop, one * 1e3, two * 1e3, split * 1e3, chosen * 1e3,
                    split / one, chosen / one))
                print(lines[-1], file=sys.stderr, flush=True)
                for l in (layer, never, always, default):
                    l.close()
    lines.append("\nWith the default, 2 threads slower than 1 on %d of %d rows." % (slower, len(lines) - 2))
    publish("Batch-1 split over threads", "\n".join(lines))


if __name__ == "__main__":
    main()

"""A small CNN built with tltorch FactorizedConv layers, run by torch, against the same model after
factorconv.torch.convert: batch 1 and 8, 1 and 2 threads, each factorization.

The model (CIFAR-sized input, 3x32x32): factorized conv 3->32, BN, ReLU, max-pool; factorized
conv 32->64, BN, ReLU, max-pool; then either one factorized conv 64->64 ("single") or the three
layers of one n_layers=3 grid 64->64, each followed by ReLU ("grid"); BN, average pool, linear.
Every factorized conv is tltorch's (rank 0.5, implementation 'factorized', its default), its
parameters initialized by reset_parameters. "converted" is ``convert(copy)`` (same
implementations); "auto" is ``convert(copy, implementation='auto')``. Outputs are checked equal
(<= 1e-5 relative) before timing; each contender is timed in alternation (harness).

OpenMP's idle threads: the converted model alternates torch's ops (BN, ReLU, pooling, linear:
torch's OpenMP pool) with FactorConv's calls (its own worker threads). OpenMP workers spin
after each op by default, taking the cores FactorConv's workers need next (and torch's own
threads lose the same way to any other load on the machine), so this benchmark sets
OMP_WAIT_POLICY=PASSIVE unless the environment sets it: the same for both models.

Run: make bench-cnn   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks python3 Benchmarks/bench_cnn.py)
"""

import copy
import os
import sys

# Read by libgomp when torch loads it: before `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import tltorch
from torch import nn

import factorconv as fc
import factorconv.torch as fct
from harness import machine_line, record_results, set_threads, timeit_interleaved

FACTORIZATIONS = ["cp", "tucker", "tt"]
MODELS = ["single", "grid"]
BATCHES = [1, 8]
THREADS = [1, 2]
MIN_TIME = 1.5


def build_cnn(factorization, model, seed=0):
    """The benchmark CNN with tltorch layers, in eval mode."""
    torch.manual_seed(seed)

    def factorized(cin, cout, **kwargs):
        conv = tltorch.FactorizedConv(cin, cout, 3, order=2, bias=True, rank=0.5,
                                      factorization=factorization, **kwargs)
        conv.reset_parameters()
        with torch.no_grad():
            conv.bias.normal_(0, 0.1)
            for factor in conv.weight.factors:   # activations of order 1 through the model
                factor.mul_(2.0)
        return conv

    layers = [factorized(3, 32, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
              factorized(32, 64, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2)]
    if model == "single":
        layers += [factorized(64, 64, padding=1), nn.ReLU()]
    else:
        grid = factorized(64, 64, n_layers=3, has_bias=True)
        for i in range(3):
            grid.set(i, padding=1, bias=torch.randn(64) * 0.1)
            layers += [grid[i], nn.ReLU()]
    layers += [nn.BatchNorm2d(64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers).eval()


def relative(a, b):
    return float((a - b).abs().max() / b.abs().max())


def bench_one(factorization, model, batch):
    theirs = build_cnn(factorization, model)
    converted = copy.deepcopy(theirs)
    fct.convert(converted)
    auto = copy.deepcopy(theirs)
    fct.convert(auto, implementation="auto")
    x = torch.randn(batch, 3, 32, 32)
    with torch.inference_mode():
        expected = theirs(x)
        errors = [relative(converted(x), expected), relative(auto(x), expected)]
        if max(errors) > 1e-5:
            raise AssertionError("outputs differ from tltorch's: %s" % errors)
        times = timeit_interleaved([lambda: theirs(x), lambda: converted(x), lambda: auto(x)],
                                   min_time=MIN_TIME)
    return times, max(errors)


def main():
    versions = "torch %s, tltorch %s, factorconv %s, OMP_WAIT_POLICY=%s" % (
        torch.__version__, tltorch.__version__, fc.__version__, os.environ["OMP_WAIT_POLICY"])
    print("machine:", machine_line())
    print(versions)
    rows = []
    set_threads(1, torch, fc)
    bench_one("cp", "single", 1)        # one-off costs of a process's first torch calls
    for threads in THREADS:
        set_threads(threads, torch, fc)
        for model in MODELS:
            for factorization in FACTORIZATIONS:
                for batch in BATCHES:
                    (t_tltorch, t_converted, t_auto), error = bench_one(factorization, model, batch)
                    row = (model, factorization, batch, threads, t_tltorch, t_converted, t_auto,
                           error)
                    rows.append(row)
                    print("%-6s %-6s batch %d threads %d: tltorch %7.3f ms  converted %7.3f ms "
                          "(%.2fx)  auto %7.3f ms (%.2fx)  max rel. diff %.1e"
                          % (model, factorization, batch, threads, t_tltorch * 1e3,
                             t_converted * 1e3, t_converted / t_tltorch, t_auto * 1e3,
                             t_auto / t_tltorch, error))
                    sys.stdout.flush()
    table = [versions + "; largest relative difference from tltorch: %.1e" % max(r[7] for r in rows), "",
             "| model | fact. | batch | threads | tltorch ms | converted ms | converted / tltorch "
             "| auto ms | auto / tltorch |", "|---|---|---|---|---|---|---|---|---|"]
    for model, factorization, batch, threads, t_tltorch, t_converted, t_auto, _ in rows:
        table.append("| %s | %s | %d | %d | %.3f | %.3f | %.2f | %.3f | %.2f |" % (
            model, factorization, batch, threads, t_tltorch * 1e3, t_converted * 1e3,
            t_converted / t_tltorch, t_auto * 1e3, t_auto / t_tltorch))
    ratios = np.array([[r[5] / r[4], r[6] / r[4]] for r in rows])
    table += ["", "converted / tltorch: %.2f-%.2f (geometric mean %.2f); auto / tltorch: %.2f-%.2f "
              "(geometric mean %.2f)" % (ratios[:, 0].min(), ratios[:, 0].max(),
                                         np.exp(np.log(ratios[:, 0]).mean()), ratios[:, 1].min(),
                                         ratios[:, 1].max(), np.exp(np.log(ratios[:, 1]).mean()))]
    print("\n" + "\n".join(table))
    print("recorded in", record_results("A converted CNN", "\n".join(table)))


if __name__ == "__main__":
    main()

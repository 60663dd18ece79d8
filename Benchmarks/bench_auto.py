"""How good is implementation='auto'? Its pick against the fastest path, per layer, at 1 thread.

'auto' chooses a layer's forward path (factorized, reconstructed, or for CP mobilenet) from a
cost model (Sources/FactorConvNumerics/Convolution/CostModel.swift) without running anything.
Here every candidate runs: for bench_ort's anchor layers (ranks 0.1, 0.25, 0.5) and batch-1
shapes (ranks 0.1, 0.25), CP / Tucker / TT, one copy of the layer per implementation, the
copies alternating (`bench_ort.interleaved`: per round each one's fastest call, median of the
rounds) at 1 thread. Columns: each candidate's time, auto's pick, and its time over the fastest
candidate's ("loss"; a pick within 5% of the fastest counts as right, as timings move that much).

Recorded in Benchmarks/RESULTS.md ("implementation='auto' against the fastest path").

Run: make bench-auto   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks python3 Benchmarks/bench_auto.py)
Environment: SECTIONS (default "anchors,latency").
"""

import os
import sys

import numpy as np

import factorconv as fc
from bench_ort import ANCHOR_RANKS, ANCHORS, FACTORIZATIONS, LATENCY, LATENCY_RANKS, interleaved
from harness import machine_line, record_results

SECTIONS = os.environ.get("SECTIONS", "anchors,latency").split(",")
#: A pick this much slower than the fastest candidate, or less, counts as right.
TOLERANCE = 1.05


def candidates(factorization):
    """The implementations 'auto' chooses among for a factorization."""
    return ["factorized", "reconstructed"] + (["mobilenet"] if factorization == "cp" else [])


def layer_copy(xshape, cout, k, p, factorization, rank, implementation):
    """bench_ort's layer (same seed, so every copy has the same weights) with `implementation`."""
    return fc.FactorizedConv(xshape[1], cout, k, order=len(xshape) - 2, padding=p, bias=True,
                             factorization=factorization, rank=rank, seed=1, implementation=implementation)


def row(name, xshape, cout, k, p, factorization, rank):
    """One layer: every candidate timed in alternation, and auto's pick."""
    x = np.random.default_rng(3).standard_normal(xshape).astype(np.float32)
    names = candidates(factorization)
    copies = [layer_copy(xshape, cout, k, p, factorization, rank, n) for n in names]
    pick = layer_copy(xshape, cout, k, p, factorization, rank, "auto").chosen_implementation(xshape)
    reference = copies[0](x)
    for layer in copies[1:]:
        y = layer(x)
        err = float(np.abs(y - reference).max() / max(np.abs(reference).max(), 1e-30))
        assert err < 1e-4, "%s %s %s: paths differ by %.1e" % (name, factorization, rank, err)
    times = dict(zip(names, interleaved([lambda layer=layer: layer(x) for layer in copies])))
    loss = times[pick] / min(times.values())
    cells = " | ".join("%.3f" % (times[n] * 1e3) if n in times else "-" for n in
                       ["factorized", "reconstructed", "mobilenet"])
    line = "| %s | %s | %s | %s | %s | %.2f%s |" % (name, factorization, rank, cells, pick, loss,
                                                   "" if loss <= TOLERANCE else " (wrong)")
    print(line, file=sys.stderr, flush=True)
    return line, loss


def main():
    fc.set_num_threads(1)
    print("machine:", machine_line(), "| load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    head = "| layer | fact. | rank | factorized ms | reconstructed ms | mobilenet ms | auto's pick | loss |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    losses = []
    layers = (ANCHORS if "anchors" in SECTIONS else []) + (LATENCY if "latency" in SECTIONS else [])
    for name, xshape, cout, k, p in layers:
        ranks = ANCHOR_RANKS if (name, xshape, cout, k, p) in ANCHORS else LATENCY_RANKS
        for factorization in FACTORIZATIONS:
            for rank in ranks:
                line, loss = row(name, xshape, cout, k, p, factorization, rank)
                lines.append(line)
                losses.append(loss)
    wrong = [v for v in losses if v > TOLERANCE]
    lines.append("")
    lines.append("1 thread. auto picked the fastest path (within %d%%) on %d of %d layers; where not, its pick "
                 "took %s the fastest's time." % (round((TOLERANCE - 1) * 100), len(losses) - len(wrong), len(losses),
                                                 "%.2f-%.2fx" % (min(wrong), max(wrong)) if wrong else "-"))
    text = "\n".join(lines)
    print(text)
    print("recorded in", record_results("implementation='auto' against the fastest path", text))
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()

"""Batch 1 at 1 thread against 2: where splitting one image's stages over the workers pays.

A forward of one image runs its stages on one thread unless the image has at least
`FACTORCONV_MIN_SPLIT_MFLOP` (default 30) million FLOPs per worker; the value is read once per
process, so each setting runs in a child process. Per layer (bench_ort's batch-1 shapes, CP,
Tucker and TT at rank 0.1 and 0.25) the child times our layer at 1 and at 2 threads in
alternation (`fc.set_num_threads` between calls; per round each side's fastest call, median of
the rounds), so that load from other processes falls on both sides. Printed: one table of
milliseconds and the 2-thread / 1-thread ratio per setting; recorded in Benchmarks/RESULTS.md
("Batch-1 split over threads").

Run: make bench-split   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks python3 Benchmarks/bench_split.py)
Environment: SETTINGS (default "30,4,1,0": the MFLOP values compared).
"""

import json
import os
import subprocess
import sys

SETTINGS = [s for s in os.environ.get("SETTINGS", "30,4,1,0").split(",") if s]


def child():
    """Times every layer at 1 and 2 threads under this process's split setting; prints JSON."""
    import numpy as np
    import factorconv as fc
    from bench_ort import FACTORIZATIONS, LATENCY, LATENCY_RANKS, interleaved, make_layer

    rows = []
    for name, xshape, cout, k, p in LATENCY:
        x = np.random.default_rng(3).standard_normal(xshape).astype(np.float32)
        for factorization in FACTORIZATIONS:
            for rank in LATENCY_RANKS:
                layer = make_layer(xshape, cout, k, p, factorization, rank)

                def at(threads):
                    def call():
                        fc.set_num_threads(threads)
                        layer(x)
                    return call
                fc.set_num_threads(1)
                reference = layer(x)
                fc.set_num_threads(2)
                # Splitting changes only who computes what, not the sums' order within a stage.
                np.testing.assert_allclose(layer(x), reference, rtol=1e-5, atol=1e-5)
                one, two = interleaved([at(1), at(2)])
                rows.append([name, factorization, rank, one, two])
                print("%-16s %-6s %-4s 1 thr %.3f ms  2 thr %.3f ms  %.2f" % (
                    name, factorization, rank, one * 1e3, two * 1e3, two / one), file=sys.stderr, flush=True)
    print(json.dumps(rows))


def main():
    from harness import machine_line, record_results
    print("machine:", machine_line(), "| load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    results = {}
    for setting in SETTINGS:
        print("FACTORCONV_MIN_SPLIT_MFLOP=%s" % setting, file=sys.stderr, flush=True)
        env = dict(os.environ, FACTORCONV_MIN_SPLIT_MFLOP=setting)
        out = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        results[setting] = json.loads(out.strip().splitlines()[-1])
    head = "| layer | fact. | rank |" + "".join(" %s: 1 thr | 2 thr | 2/1 |" % s for s in SETTINGS)
    lines = ["Milliseconds per forward at FACTORCONV_MIN_SPLIT_MFLOP = " + ", ".join(SETTINGS) + ".\n",
             head, "|" + "---|" * (head.count("|") - 1)]
    for i, (name, factorization, rank, *_) in enumerate(results[SETTINGS[0]]):
        line = "| %s | %s | %s |" % (name, factorization, rank)
        for setting in SETTINGS:
            one, two = results[setting][i][3:5]
            line += " %.3f | %.3f | %.2f |" % (one * 1e3, two * 1e3, two / one)
        lines.append(line)
    text = "\n".join(lines)
    print(text)
    print("recorded in", record_results("Batch-1 split over threads", text))
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    child() if sys.argv[1:] == ["--child"] else main()

"""Factorized layers: factorconv vs tltorch vs torch's dense conv, side by side, 1 and 2 threads.

For each benchmark shape, factorization (CP, Tucker, TT) and rank (0.1, 'same'), one tltorch
layer is built and initialized; factorconv loads the same parameters through its state_dict, so
both run the same layer. Printed per row: torch's dense conv of the reconstructed kernel,
tltorch's best implementation, ours (best implementation and 'auto'), the layer's roofline, and
the ratios ours_best / tltorch_best (goal <= 0.5) and auto / torch_dense (goal <= 1.1).

The roofline is max(FLOPs / measured GEMM peak, bytes / measured bandwidth), with the FLOPs of the
cheapest direct algorithm for the layer (its factorized contraction or the dense conv, whichever
has fewer) and the bytes of the input, output and parameters. Where it exceeds 0.5x tltorch's best,
the 0.5 goal is out of physical reach and the goal becomes the roofline.

Run: make bench-layers   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python $(bash Benchmarks/refenv.sh) Benchmarks/bench_layers.py)
"""

import sys

import numpy as np
import torch
import tltorch

import factorconv as fc
from harness import machine_line, machine_peaks, record_results, roofline, set_threads, timeit_interleaved

SHAPES = [
    ("2-D 8x64x56x56 k3 p1", (8, 64, 56, 56), 64, 3, 1),
    ("2-D 1x256x14x14 k3 p1", (1, 256, 14, 14), 256, 3, 1),
    ("1-D 16x128x1024 k5 p2", (16, 128, 1024), 128, 5, 2),
    ("3-D 2x32x16x32x32 k3 p1", (2, 32, 16, 32, 32), 32, 3, 1),
]
FACTORIZATIONS = ["cp", "tucker", "tt"]
RANKS = [0.1, "same"]
MIN_TIME = 0.7


def tltorch_impls(factorization):
    return ["factorized", "reconstructed"] + (["mobilenet"] if factorization == "cp" else [])


def ours_impls(factorization):
    return ["factorized", "reconstructed"] + (["mobilenet"] if factorization == "cp" else [])


def packed_rows(rows):
    """Rows of FactorConv's packed GEMM panels for `rows` output channels: panels of 32, and a
    last one of 16 when at most 16 rows remain."""
    full, rest = divmod(rows, 32)
    return 32 * full + (0 if rest == 0 else 16 if rest <= 16 else 32)


def winograd_fraction(cin, cout, kernel, plane=None):
    """The multiplications of FactorConv's Winograd convolution over a direct one's, for a dense
    stride-1 conv with at least 16 channels in and out (1 for any other conv):

    - kernels ending in 3x3: F(2x2, 3x3) (16 per 2x2 tile of outputs, where direct takes 36) or
      F(4x4, 3x3) (36 per 4x4 tile, direct 144), the one FactorConv picks on an AVX2 machine for
      the output plane `plane` (its last two sizes): F(4x4) when the plane has at least 25 4x4
      tiles, F(4x4) then does at most 3/4 of F(2x2)'s multiplications, and its transformed
      kernel is packed (C_out padded to whole panels wastes at most a tenth; GEMM depth
      C_in x stacked outer taps at most 256); else F(2x2). Tiles that reach past the plane's
      edges are counted whole. Without `plane`: the fewest FactorConv may do, F(4x4) on a plane
      of whole tiles (1/4);
    - 1-D kernels of 3 or 5 taps: F(2, r) (r + 1 per 2 outputs, direct 2r).

    Transforms are not counted, so the product with the direct count is a lower bound on the
    arithmetic."""
    if min(cin, cout) < 16:
        return 1.0
    if len(kernel) >= 2 and tuple(kernel[-2:]) == (3, 3):
        if plane is None:
            return 36 / 144
        h, w = plane[-2:]
        tiles2, tiles4 = -(-h // 2) * -(-w // 2), -(-h // 4) * -(-w // 4)
        depth = cin * (kernel[-3] if len(kernel) > 2 else 1)
        f4x4 = tiles4 >= 25 and 4 * 36 * tiles4 <= 3 * 16 * tiles2 and 10 * packed_rows(cout) <= 11 * cout \
            and depth <= 256
        return (36 * tiles4 if f4x4 else 16 * tiles2) / (9 * h * w)
    if len(kernel) == 1 and kernel[0] in (3, 5):
        return (kernel[0] + 1) / (2 * kernel[0])
    return 1.0


def multiply_adds_per_position(state, factorization, cin, cout, kernel, plane=None):
    """Multiply-adds per output position of the cheapest algorithm FactorConv or the contenders
    run: the dense conv or the factorized contraction (CP: 1x1, per-mode depthwise or one N-D
    depthwise, 1x1; Tucker: 1x1, core conv (per-mode depthwise on min(R_0, R_1) channels when the
    spatial ranks are 1), 1x1; TT: `tt_multiply_adds`), with a dense conv's or Tucker core's
    multiplications reduced by Winograd (`winograd_fraction`, for the output plane `plane` when
    given). Stride 1 is assumed (every benchmark layer has it)."""
    dense = cin * cout * int(np.prod(kernel)) * winograd_fraction(cin, cout, kernel, plane)
    if factorization == "cp":
        r = state["weight.weights"].shape[0]
        factorized = cin * r + r * min(sum(kernel), int(np.prod(kernel))) + r * cout
    elif factorization == "tucker":
        r0, r1, *spatial = state["weight.core"].shape
        if all(r == 1 for r in spatial):
            r = min(r0, r1)
            factorized = cin * r + r * sum(kernel) + r * cout
        else:
            factorized = cin * r1 + r0 * r1 * int(np.prod(kernel)) * winograd_fraction(r1, r0, kernel, plane) \
                + r0 * cout
    else:
        factorized = tt_multiply_adds(state, cin, cout)
    return min(dense, factorized)


def tt_multiply_adds(state, cin, cout):
    """Per position, the cheapest TT chain: 1x1 (C_in -> R_1), a conv R_m -> R_{m+1} of K_m taps
    per mode, 1x1 (R_N -> C_out), with either 1x1 folded or not into its neighbouring conv."""
    cores = [state["weight.factors.factor_%d" % i].shape for i in range(len(state))
             if "weight.factors.factor_%d" % i in state][1:-1]           # (R_m, K_m, R_{m+1})
    best = None
    for fold_first in (False, True):
        for fold_last in (False, True):
            convs = [[r0, k, r1] for r0, k, r1 in cores]
            total = 0
            if fold_first:
                convs[0][0] = cin
            else:
                total += cin * cores[0][0]
            if fold_last:
                convs[-1][2] = cout
            else:
                total += cores[-1][2] * cout
            total += sum(r0 * k * r1 for r0, k, r1 in convs)
            best = total if best is None else min(best, total)
    return best


def layer_roofline(xshape, cout, state, factorization, kernel, peaks):
    """The layer's roofline in seconds (stride 1, 'same' output size)."""
    positions = xshape[0] * int(np.prod(xshape[2:]))
    flops = 2 * positions * multiply_adds_per_position(state, factorization, xshape[1], cout, kernel, xshape[2:])
    nbytes = 4 * (int(np.prod(xshape)) + positions * cout + sum(v.size for v in state.values()))
    return roofline(flops, nbytes, peaks)


def bench_one(xshape, cout, k, p, factorization, rank, peaks):
    order = len(xshape) - 2
    torch.manual_seed(0)
    ref = tltorch.FactorizedConv(xshape[1], cout, k, order=order, padding=p, factorization=factorization,
                                 rank=rank, implementation="factorized")
    ref.reset_parameters()
    x = torch.randn(*xshape)
    xn = x.numpy()
    state = {name: value.detach().numpy().copy() for name, value in ref.state_dict().items()}

    def ours_layer(impl):
        """Our layer with tltorch's parameters and implementation `impl`."""
        layer = fc.FactorizedConv(xshape[1], cout, k, order=order, padding=p, factorization=factorization,
                                  rank=tuple(ref.weight.rank) if factorization != "cp" else ref.weight.rank,
                                  implementation=impl)
        layer.load_state_dict(state)
        return layer

    ours = ours_layer("factorized")
    kernel = ours.reconstruct_kernel()
    dense = [None, torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d][order]
    wt = torch.from_numpy(kernel)

    # Every contender (torch's dense conv, each tltorch implementation, each of ours) is timed in
    # alternation (harness.timeit_interleaved), after checking our outputs against torch's.
    results = {}
    with torch.no_grad():
        y_dense = dense(x, wt, padding=p).numpy()
        names, fns = ["torch_dense"], [lambda: dense(x, wt, padding=p)]
        for impl in tltorch_impls(factorization):
            layer = tltorch.FactorizedConv(xshape[1], cout, k, order=order, padding=p, factorization=factorization,
                                           rank=rank, implementation=impl)
            layer.load_state_dict(ref.state_dict())
            names.append(("tltorch", impl))
            fns.append(lambda layer=layer: layer(x))
        max_err = 0.0
        for impl in ours_impls(factorization) + ["auto"]:
            # A separate layer per implementation, with the same parameters, so that none is re-planned.
            mine = ours_layer(impl)
            y = mine(xn)
            max_err = max(max_err, float(np.abs(y - y_dense).max() / np.abs(y_dense).max()))
            if impl == "auto":
                results["auto_choice"] = mine.chosen_implementation(xshape)
            names.append(("ours", impl))
            fns.append(lambda mine=mine: mine(xn))
        times = timeit_interleaved(fns, min_time=MIN_TIME)
    results["torch_dense"] = times[0]
    best = {}
    for name, t in zip(names[1:], times[1:]):
        side, impl = name
        if side == "ours" and impl == "auto":
            results["auto"] = (results.pop("auto_choice"), t)
        elif side not in best or t < best[side][1]:
            best[side] = (impl, t)
    results["tltorch_best"] = best["tltorch"]
    best = best["ours"]
    results["ours_best"] = best
    results["rank"] = ours.rank
    results["err"] = max_err
    results["roofline"] = layer_roofline(xshape, cout, state, factorization, [k] * order, peaks)
    return results


def main():
    versions = "torch %s, tltorch %s, factorconv %s" % (torch.__version__, tltorch.__version__, fc.__version__)
    print("machine:", machine_line())
    print(versions)
    rows, peak_lines = [], []
    # One untimed pass over the first layer: the first torch/tltorch calls of a process pay
    # one-off costs (oneDNN JIT, allocator growth) that a per-row warm-up does not absorb.
    set_threads(1, torch, fc)
    bench_one(*SHAPES[0][1:], FACTORIZATIONS[0], RANKS[0], machine_peaks(torch, 1))
    for threads in (1, 2):
        peaks = machine_peaks(torch, threads)
        peak_lines.append("threads %d: GEMM peak %.0f GFLOP/s, copy bandwidth %.1f GB/s"
                          % (threads, peaks[0] / 1e9, peaks[1] / 1e9))
        print(peak_lines[-1])
        set_threads(threads, torch, fc)
        for name, xshape, cout, k, p in SHAPES:
            for factorization in FACTORIZATIONS:
                for rank in RANKS:
                    r = bench_one(xshape, cout, k, p, factorization, rank, peaks)
                    row = (name, threads, factorization, rank, r)
                    rows.append(row)
                    print(format_row(row))
                    sys.stdout.flush()
    table = [versions + "; largest relative difference from torch's dense conv: %.1e" % max(r["err"] for *_, r in rows), ""]
    table += [line + "  " for line in peak_lines] + [""]
    table += ["| layer | thr | fact. | rank | torch dense ms | tltorch best ms | ours best ms | auto ms (choice) | roofline ms | ours/tltorch | goal met | auto/dense |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    table += [format_markdown(row) for row in rows]
    met = sum(goal_met(r) for *_, r in rows)
    table += ["", "goal met (ours <= max(0.5 x tltorch best, roofline)) on %d of %d rows; 0.5 x tltorch on %d" % (
        met, len(rows), sum(r["ours_best"][1] <= 0.5 * r["tltorch_best"][1] for *_, r in rows))]
    print("\n" + "\n".join(table))
    print("recorded in", record_results("Factorized layers", "\n".join(table)))


def goal(r):
    """0.5x tltorch's best, or the roofline where that is out of physical reach."""
    return max(0.5 * r["tltorch_best"][1], r["roofline"])


def goal_met(r):
    """Whether ours meets `goal`."""
    return r["ours_best"][1] <= goal(r)


def format_row(row):
    name, threads, factorization, rank, r = row
    return ("%-24s t%d %-6s %-5s dense %7.2f  tltorch %-13s %7.2f  ours %-13s %7.2f  auto %-13s %7.2f  "
            "roofline %6.2f  ours/tltorch %.2f%s  auto/dense %.2f  (err %.1e)" % (
                name, threads, factorization, rank, r["torch_dense"] * 1e3, r["tltorch_best"][0],
                r["tltorch_best"][1] * 1e3, r["ours_best"][0], r["ours_best"][1] * 1e3, r["auto"][0],
                r["auto"][1] * 1e3, r["roofline"] * 1e3, r["ours_best"][1] / r["tltorch_best"][1],
                "" if goal_met(r) else " (goal missed)", r["auto"][1] / r["torch_dense"], r["err"]))


def format_markdown(row):
    name, threads, factorization, rank, r = row
    return "| %s | %d | %s | %s | %.2f | %.2f (%s) | %.2f (%s) | %.2f (%s) | %.2f | %.2f | %s | %.2f |" % (
        name, threads, factorization, rank, r["torch_dense"] * 1e3, r["tltorch_best"][1] * 1e3,
        r["tltorch_best"][0], r["ours_best"][1] * 1e3, r["ours_best"][0], r["auto"][1] * 1e3, r["auto"][0],
        r["roofline"] * 1e3, r["ours_best"][1] / r["tltorch_best"][1],
        ("yes" if r["ours_best"][1] <= 0.5 * r["tltorch_best"][1] else "roofline") if goal_met(r) else "no",
        r["auto"][1] / r["torch_dense"])


if __name__ == "__main__":
    main()

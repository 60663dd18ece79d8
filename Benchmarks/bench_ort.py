"""Factorized layers: factorconv vs ONNX Runtime running the same decomposition, side by side.

A deployment engineer who compresses a conv with CP, Tucker or TT usually exports the
decomposition as a chain of plain convs and runs it in ONNX Runtime (ORT):
    CP:     1x1 (C_in -> R), one depthwise conv per spatial mode (K_m taps along mode m), 1x1 (R -> C_out)
    Tucker: 1x1 (C_in -> R_1), the core conv (R_1 -> R_0, the full K_1 x .. x K_N kernel), 1x1 (R_0 -> C_out)
    TT:     1x1 (C_in -> R_1), per spatial mode a conv R_m -> R_m+1 with K_m taps along mode m, 1x1 (-> C_out)
Each chain is built with onnx.helper from OUR layer's factors (same ranks, same weights, same bias),
and its output is checked against ours before anything is timed. ORT's dense conv runs the
layer's reconstructed kernel.

Tables printed (markdown, after progress lines) and recorded in Benchmarks/RESULTS.md's
"ONNX Runtime" block (harness.record_results):
  1. anchors: four layers x CP/Tucker/TT x ranks 0.1, 0.25, 0.5 at 1 and 2 threads (ORT
     intra_op_num_threads, ours fc.set_num_threads): ours ('auto'), ORT decomposed, ORT dense,
     ratios ours/ORT-decomposed (goal <= 0.5) and ours/ORT-dense, and the roofline;
  2. dense: fc.conv vs ORT's dense conv on the same four layers (goal <= 0.7);
  3. batch-1 latency on late-CNN-stage shapes (7x7, 14x14, 28x28 with 128-512 channels, k3);
  4. per-call overhead on a tiny layer: ours from Python, ORT from Python, ours from C
     (Benchmarks/CallOverhead/call_overhead.c, path in $FC_CALL_OVERHEAD; skipped when unset).

Contenders alternate within one process (`interleaved`: per round, each contender's fastest of
a few calls; per contender, the median of ROUNDS >= 5 rounds), so load from other processes
spreads over every side; the fastest call of a round is the one the other processes' bursts
left alone. The roofline is max(FLOPs / compute peak, bytes / copy bandwidth) (`machine_peaks`:
the fastest of many GEMMs, FMA chains and copies, measured per thread count before its rows and
again after all rows, the higher of the two used), with the FLOPs of the cheapest of ORT's chain
and the direct algorithms of bench_layers.multiply_adds_per_position, and the bytes of input,
output and parameters. The goal column (`goal_status`): "met" at <= 0.5x ORT's decomposed time (0.7x its
dense conv); where the roofline itself exceeds that, "at bound" within 1.3x of the roofline;
else "missed". Rows at 2 threads also show their time over the same row's at 1 thread.

Run: make bench-ort   (or: FACTORCONV_LIB=... PYTHONPATH=bindings/python:Benchmarks $(bash Benchmarks/refenv.sh) Benchmarks/bench_ort.py)
Environment: ROUNDS (default 5), THREADS (default "1,2"), SECTIONS (default "anchors,dense,latency,overhead").
"""

import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

import factorconv as fc
from bench_layers import multiply_adds_per_position, winograd_fraction
from harness import at_threads, machine_line, record_results, roofline

ROUNDS = max(5, int(os.environ.get("ROUNDS", "5")))
THREADS = [int(t) for t in os.environ.get("THREADS", "1,2").split(",")]
SECTIONS = os.environ.get("SECTIONS", "anchors,dense,latency,overhead").split(",")
MIN_TIME = 0.35               # seconds per contender per row, spread over the rounds

ANCHORS = [   # name, input shape, out channels, kernel, padding
    ("2-D 1x256x14x14 k3", (1, 256, 14, 14), 256, 3, 1),
    ("2-D 8x64x56x56 k3", (8, 64, 56, 56), 64, 3, 1),
    ("1-D 16x128x1024 k5", (16, 128, 1024), 128, 5, 2),
    ("3-D 2x32x16x32x32 k3", (2, 32, 16, 32, 32), 32, 3, 1),
]
ANCHOR_RANKS = [0.1, 0.25, 0.5]
LATENCY = [
    ("1x512x7x7 k3", (1, 512, 7, 7), 512, 3, 1),
    ("1x256x7x7 k3", (1, 256, 7, 7), 256, 3, 1),
    ("1x256x14x14 k3", (1, 256, 14, 14), 256, 3, 1),
    ("1x512x14x14 k3", (1, 512, 14, 14), 512, 3, 1),
    ("1x128x28x28 k3", (1, 128, 28, 28), 128, 3, 1),
    ("1x256x28x28 k3", (1, 256, 28, 28), 256, 3, 1),
]
LATENCY_RANKS = [0.1, 0.25]
FACTORIZATIONS = ["cp", "tucker", "tt"]


class Chain:
    """A chain of ONNX Conv nodes (numpy weights) run by an ORT session, with its multiply-adds."""

    def __init__(self, xshape):
        self.xshape, self.nodes, self.inits, self.last = list(xshape), [], [], "x"
        self.order = len(xshape) - 2
        self.spatial = list(xshape[2:])
        self.macs = 0
        self.params = 0

    def conv(self, weight, pads=None, group=1, bias=None):
        """Appends Conv(weight (C_out, C_in / group, K...), symmetric `pads` per mode, bias)."""
        n = len(self.nodes)
        inputs = [self.last, "w%d" % n]
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(weight, dtype=np.float32), "w%d" % n))
        if bias is not None:
            inputs.append("b%d" % n)
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(bias, dtype=np.float32), "b%d" % n))
        pads = list(pads or [0] * self.order)
        self.nodes.append(helper.make_node("Conv", inputs, ["t%d" % n], group=group,
                                           kernel_shape=list(weight.shape[2:]), pads=pads + pads))
        self.last = "t%d" % n
        self.spatial = [s + 2 * p - k + 1 for s, p, k in zip(self.spatial, pads, weight.shape[2:])]
        self.channels = weight.shape[0]
        self.macs += self.xshape[0] * int(np.prod(self.spatial)) * weight.size
        self.params += weight.size + (0 if bias is None else bias.size)

    def session(self, threads):
        """An ORT session of the chain with `threads` intra-op threads, all graph optimizations."""
        self.nodes[-1].output[0] = "y"
        graph = helper.make_graph(self.nodes, "chain",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.xshape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                 [self.xshape[0], self.channels] + self.spatial)],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def fastest(fn, budget, min_runs=3):
    """The shortest of at least `min_runs` timed calls of fn(), calling for `budget` seconds."""
    best = float("inf")
    end = time.perf_counter() + budget
    runs = 0
    while runs < min_runs or time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
        if runs >= 1000:
            break
    return best


def interleaved(fns, rounds=ROUNDS, budget=None):
    """Per function, the median over `rounds` rounds of its fastest call in the round; the
    functions alternate within each round, after two warm-up calls each."""
    budget = MIN_TIME if budget is None else budget
    for fn in fns:
        fn()
        fn()
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            samples[i].append(fastest(fn, budget / rounds))
    return [statistics.median(s) for s in samples]


def machine_peaks(threads):
    """Float32 multiply-add peak (FLOP/s) and copy bandwidth (bytes/s) with `threads` threads.

    Compute: the largest of a torch GEMM's rate, the FMA throughput of `threads` threads running
    independent vector FMA chains (Benchmarks/Peak/fma_peak.c, path in $FC_FMA_PEAK), and
    `threads` times one thread's FMA throughput (every core has the same units; a lower
    measurement with more threads means other processes took a core). The FMA rate is the
    hardware's ceiling, which no kernel beats, so FLOPs / peak is a true lower bound on time.
    Bandwidth: the fastest of many 8 MB copies (the size of an anchor layer's input or output,
    which stay in cache between calls). Each is the fastest of many trials, which the other
    processes of a shared machine slow down least."""
    torch.set_num_threads(threads)
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    compute = 2 * n ** 3 / fastest(lambda: torch.mm(a, b), 1.0)
    program = os.environ.get("FC_FMA_PEAK")
    if program:
        def fma(t):
            out = subprocess.run([program, str(t), "1"], check=True, capture_output=True, text=True).stdout
            return float(out) * 1e9
        compute = max(compute, fma(threads), threads * fma(1))
    src = torch.ones(8 * 1024 * 1024 // 4)
    dst = torch.empty_like(src)
    bandwidth = 2 * src.numel() * 4 / fastest(lambda: dst.copy_(src), 0.5)
    torch.set_num_threads(1)
    return compute, bandwidth


def measured_peaks(threads):
    """`machine_peaks(threads)`, or the stated assumptions PEAK_GFLOPS and BANDWIDTH_GBS (per
    thread) when both are set."""
    if "PEAK_GFLOPS" in os.environ and "BANDWIDTH_GBS" in os.environ:
        return float(os.environ["PEAK_GFLOPS"]) * 1e9 * threads, float(os.environ["BANDWIDTH_GBS"]) * 1e9 * threads
    return machine_peaks(threads)


def along(order, mode, value, rest):
    """A per-mode list: `value` at `mode`, `rest` elsewhere."""
    return [value if m == mode else rest for m in range(order)]


def decomposed_chain(layer, xshape, padding):
    """ORT's chain for our layer's factors (see the module doc). Stride and dilation are 1."""
    weight, bias = layer.weight, layer.bias
    order = len(xshape) - 2
    one = [1] * order
    chain = Chain(xshape)
    if isinstance(weight, fc.CPTensor):
        out_f, in_f, *modes = weight.factors                       # (C_out, R), (C_in, R), (K_m, R)
        r = weight.rank
        chain.conv(in_f.T.reshape(r, -1, *one))
        for m, f in enumerate(modes):
            chain.conv(f.T.reshape(r, 1, *along(order, m, f.shape[0], 1)), along(order, m, padding, 0), group=r)
        chain.conv((out_f * weight.weights).reshape(out_f.shape[0], r, *one), bias=bias)
    elif isinstance(weight, fc.TuckerTensor):
        core = weight.core                                         # (R_0, R_1, S_1..S_N)
        out_f, in_f, *modes = weight.factors
        for m, f in enumerate(modes):                              # the core kernel (R_0, R_1, K...)
            core = np.moveaxis(np.tensordot(core, f, axes=([2 + m], [1])), -1, 2 + m)
        chain.conv(in_f.T.reshape(in_f.shape[1], -1, *one))
        chain.conv(core, [padding] * order)
        chain.conv(out_f.reshape(out_f.shape[0], -1, *one), bias=bias)
    elif isinstance(weight, fc.TTTensor):
        first, *modes, last = weight.factors                       # (1, C_in, R_1), (R_m, K_m, R_m+1), (R_N, C_out, 1)
        chain.conv(first[0].T.reshape(first.shape[2], -1, *one))
        for m, core in enumerate(modes):
            kernel = core.transpose(2, 0, 1)                       # (R_m+1, R_m, K_m)
            chain.conv(kernel.reshape(*kernel.shape[:2], *along(order, m, kernel.shape[2], 1)),
                       along(order, m, padding, 0))
        chain.conv(last[:, :, 0].T.reshape(last.shape[1], -1, *one), bias=bias)
    else:
        raise ValueError("no chain for %s" % type(weight).__name__)
    return chain


def dense_chain(kernel, bias, xshape, padding):
    """ORT's dense conv of the reconstructed kernel."""
    chain = Chain(xshape)
    chain.conv(kernel, [padding] * (len(xshape) - 2), bias=bias)
    return chain


def make_layer(xshape, cout, k, p, factorization, rank):
    """Our layer ('auto') with a reproducible initialization and a nonzero bias."""
    order = len(xshape) - 2
    layer = fc.FactorizedConv(xshape[1], cout, k, order=order, padding=p, bias=True,
                              factorization=factorization, rank=rank, seed=1, implementation="auto")
    state = layer.state_dict()
    state["bias"] = np.random.default_rng(2).standard_normal(cout).astype(np.float32) * 0.1
    layer.load_state_dict(state)
    return layer


def assert_close(y, y_ref, what):
    """Our output equals ORT's to float32 accumulation accuracy (relative to its largest value)."""
    assert y.shape == y_ref.shape, (what, y.shape, y_ref.shape)
    err = float(np.abs(y - y_ref).max() / max(np.abs(y_ref).max(), 1e-30))
    assert err < 1e-4, "%s: ours and ORT differ by %.2e (relative)" % (what, err)
    return err


def layer_work(layer, chain, xshape, cout, k):
    """(FLOPs, bytes) of the layer's roofline: the FLOPs of the cheaper of ORT's chain and
    bench_layers' direct algorithm; the bytes of input, output and parameters."""
    order = len(xshape) - 2
    positions = xshape[0] * int(np.prod(xshape[2:]))
    state = layer.state_dict()
    direct = positions * multiply_adds_per_position(state, factorization_of(layer), xshape[1], cout, [k] * order,
                                                     xshape[2:])
    flops = 2 * min(direct, chain.macs)
    nbytes = 4 * (int(np.prod(xshape)) + positions * cout + chain.params)
    return flops, nbytes


def factorization_of(layer):
    return {fc.CPTensor: "cp", fc.TuckerTensor: "tucker", fc.TTTensor: "tt"}[type(layer.weight)]


def bench_factorized(xshape, cout, k, p, factorization, rank, threads, dense_session):
    """One row: ours vs ORT's decomposed chain vs ORT's dense conv, alternating."""
    layer = make_layer(xshape, cout, k, p, factorization, rank)
    x = np.random.default_rng(3).standard_normal(xshape).astype(np.float32)
    chain = decomposed_chain(layer, xshape, p)
    session = chain.session(threads)
    y = layer(x)
    err = assert_close(y, session.run(None, {"x": x})[0], "%s %s %s" % (xshape, factorization, rank))
    def ours(threads):
        return at_threads(fc, threads, layer, x)
    contenders = [ours(threads), lambda: session.run(None, {"x": x})]
    if dense_session is not None:
        dense, dense_bias = dense_session
        assert_close(y, dense.run(None, {"x": x})[0], "dense %s %s %s" % (xshape, factorization, rank))
        contenders.append(lambda: dense.run(None, {"x": x}))
    if threads > 1:
        # Ours at 1 thread in the same alternation: the 2-thread row's comparison with 1 thread
        # then sees the same load (the 1-thread rows ran minutes earlier).
        contenders.append(ours(1))
    times = interleaved(contenders)
    fc.set_num_threads(threads)
    return {
        "rank": layer.rank, "choice": layer.chosen_implementation(xshape), "ours": times[0],
        "ort": times[1], "ort_dense": times[2] if dense_session is not None else None,
        "ours_1_thread": times[-1] if threads > 1 else None,
        "work": layer_work(layer, chain, xshape, cout, k), "err": err,
    }


def anchors(threads, rows):
    for name, xshape, cout, k, p in ANCHORS:
        for factorization in FACTORIZATIONS:
            for rank in ANCHOR_RANKS:
                # ORT's dense conv of this layer's reconstructed kernel, timed alongside.
                layer = make_layer(xshape, cout, k, p, factorization, rank)
                dense = dense_chain(layer.reconstruct_kernel(), layer.bias, xshape, p).session(threads)
                r = bench_factorized(xshape, cout, k, p, factorization, rank, threads, (dense, layer.bias))
                rows.append((name, threads, factorization, rank, r))
                print(progress(rows[-1]), file=sys.stderr, flush=True)


def latency(threads, rows):
    for name, xshape, cout, k, p in LATENCY:
        for factorization in FACTORIZATIONS:
            for rank in LATENCY_RANKS:
                r = bench_factorized(xshape, cout, k, p, factorization, rank, threads, None)
                rows.append((name, threads, factorization, rank, r))
                print(progress(rows[-1]), file=sys.stderr, flush=True)


def dense(threads, rows):
    """fc.conv vs ORT's dense conv of one random kernel per anchor layer."""
    rng = np.random.default_rng(4)
    for name, xshape, cout, k, p in ANCHORS:
        order = len(xshape) - 2
        x = rng.standard_normal(xshape).astype(np.float32)
        w = (rng.standard_normal((cout, xshape[1], *[k] * order)) * 0.05).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        chain = dense_chain(w, b, xshape, p)
        session = chain.session(threads)
        err = assert_close(fc.conv(x, w, b, padding=p), session.run(None, {"x": x})[0], "dense " + name)
        def ours(threads):
            return at_threads(fc, threads, fc.conv, x, w, b, padding=p)
        contenders = [ours(threads), lambda: session.run(None, {"x": x})]
        if threads > 1:
            contenders.append(ours(1))     # in the same rounds, as in bench_factorized
        times = interleaved(contenders)
        fc.set_num_threads(threads)
        positions = xshape[0] * int(np.prod(xshape[2:]))
        flops = 2 * chain.macs * winograd_fraction(xshape[1], cout, [k] * order, xshape[2:])
        work = (flops, 4 * (x.size + positions * cout + w.size))
        rows.append((name, threads, times[0], times[1], work, err, times[2] if threads > 1 else None))
        r = rows[-1]
        print("dense %-22s t%d ours %8.3f ms  ORT %8.3f ms  ratio %.2f" % (name, threads, r[2] * 1e3, r[3] * 1e3,
                                                                        r[2] / r[3]), file=sys.stderr, flush=True)


def overhead(threads):
    """Per-call time on a tiny layer (1x4x8x8, CP, 3x3): ours and ORT's chain from Python, ours from C."""
    xshape = (1, 4, 8, 8)
    layer = make_layer(xshape, 4, 3, 1, "cp", 0.5)
    x = np.random.default_rng(5).standard_normal(xshape).astype(np.float32)
    session = decomposed_chain(layer, xshape, 1).session(threads)
    assert_close(layer(x), session.run(None, {"x": x})[0], "tiny layer")
    ours, theirs = interleaved([lambda: layer(x), lambda: session.run(None, {"x": x})])
    c_us = None
    program = os.environ.get("FC_CALL_OVERHEAD")
    if program:
        out = subprocess.run([program, "cp", "auto", "2000", str(threads)], check=True,
                             capture_output=True, text=True).stdout
        medians = dict(line.split() for line in out.splitlines())
        c_us = float(medians["forward_shaped"]) / 1e3
    return threads, ours * 1e6, theirs * 1e6, c_us


def progress(row):
    name, threads, factorization, rank, r = row
    dense_part = "" if r["ort_dense"] is None else "  ORT dense %8.3f" % (r["ort_dense"] * 1e3)
    return "%-22s t%d %-6s %-4s ours %8.3f (%s)  ORT %8.3f%s  ratio %.2f" % (
        name, threads, factorization, rank, r["ours"] * 1e3, r["choice"], r["ort"] * 1e3, dense_part,
        r["ours"] / r["ort"])


GOAL = 0.5            # ours / ORT's decomposed chain, on every row
DENSE_GOAL = 0.7      # fc.conv / ORT's dense conv
NEAR_BOUND = 1.3      # a row whose roofline exceeds GOAL x ORT's time must come this close to it


def goal_status(ours, ort_time, bound, goal):
    """'met' when ours <= goal x ORT's time; else, when the roofline itself exceeds goal x ORT's
    time (the goal is out of reach), 'at bound' when ours is within NEAR_BOUND of the roofline;
    else 'missed'."""
    if ours <= goal * ort_time:
        return "met"
    if bound > goal * ort_time:
        return "at bound" if ours <= NEAR_BOUND * bound else "missed (%.2fx roofline)" % (ours / bound)
    return "missed"


def factorized_table(rows, with_dense, peaks, out):
    head = "| layer | thr | fact. | rank | ours ms (choice) | ORT decomposed ms |"
    head += " ORT dense ms |" if with_dense else ""
    head += " ours / ORT-dec. |" + (" ours / ORT dense |" if with_dense else "")
    head += " roofline ms | goal | ours / ours at 1 thr (same rounds) |"
    out.append(head)
    out.append("|" + "---|" * (head.count("|") - 1))
    counts, slower = {}, 0
    for name, threads, factorization, rank, r in rows:
        bound = roofline(*r["work"], peaks[threads])
        status = goal_status(r["ours"], r["ort"], bound, GOAL)
        counts[status.split(" (")[0]] = counts.get(status.split(" (")[0], 0) + 1
        line = "| %s | %d | %s | %s (%s) | %.3f (%s) | %.3f |" % (
            name, threads, factorization, rank, r["rank"], r["ours"] * 1e3, r["choice"], r["ort"] * 1e3)
        if with_dense:
            line += " %.3f |" % (r["ort_dense"] * 1e3)
        line += " %.2f |" % (r["ours"] / r["ort"])
        if with_dense:
            line += " %.2f |" % (r["ours"] / r["ort_dense"])
        base = r["ours_1_thread"]
        slower += base is not None and r["ours"] > base
        line += " %.3f | %s | %s |" % (bound * 1e3, status, "-" if base is None else "%.2f" % (r["ours"] / base))
        out.append(line)
    out.append("\nGoal (ours <= %.1fx ORT's decomposed chain, or within %.1fx of the roofline where the roofline "
               "exceeds %.1fx ORT's time): met on %d, at bound on %d, missed on %d of %d rows; with more threads "
               "slower than with 1 on %d rows.\n" % (
                   GOAL, NEAR_BOUND, GOAL, counts.get("met", 0), counts.get("at bound", 0),
                   counts.get("missed", 0), len(rows), slower))


def main():
    print("machine:", machine_line(), "| load average %.2f %.2f %.2f" % os.getloadavg())
    print("onnxruntime", ort.__version__, "onnx", onnx.__version__, "factorconv", fc.__version__,
          "| rounds", ROUNDS)
    factorized_rows, latency_rows, dense_rows, overhead_rows = [], [], [], []
    # The peaks of each thread count, measured before its rows and again after all of them:
    # rooflines use the higher of the two (a peak is a ceiling, and other processes or a lower
    # clock at one moment only pull a measurement down).
    first, last = {}, {}
    for threads in sorted(THREADS):
        first[threads] = measured_peaks(threads)
        print("threads %d: compute peak %.0f GFLOP/s, copy bandwidth %.1f GB/s" % (
            threads, first[threads][0] / 1e9, first[threads][1] / 1e9), flush=True)
        torch.set_num_threads(1)
        fc.set_num_threads(threads)
        if "anchors" in SECTIONS:
            anchors(threads, factorized_rows)
        if "dense" in SECTIONS:
            dense(threads, dense_rows)
        if "latency" in SECTIONS:
            latency(threads, latency_rows)
        if "overhead" in SECTIONS:
            overhead_rows.append(overhead(threads))
    for threads in sorted(THREADS):
        last[threads] = measured_peaks(threads)
    peaks, floor, peak_notes = {}, (0.0, 0.0), []
    for threads in sorted(THREADS):
        # More threads never lower the machine's peaks: a lower measurement means other
        # processes took the cores, so the peaks of fewer threads stand in.
        peaks[threads] = tuple(max(a, b, c) for a, b, c in zip(first[threads], last[threads], floor))
        floor = peaks[threads]
        peak_notes.append("%d thread(s): %.0f GFLOP/s, %.1f GB/s (before its rows %.0f / %.1f, after all rows %.0f / %.1f)"
                          % (threads, peaks[threads][0] / 1e9, peaks[threads][1] / 1e9, first[threads][0] / 1e9,
                             first[threads][1] / 1e9, last[threads][0] / 1e9, last[threads][1] / 1e9))
    out = []
    if factorized_rows:
        out.append("### Anchor layers: ours ('auto') vs ORT running the same decomposition\n")
        factorized_table(factorized_rows, True, peaks, out)
    if dense_rows:
        out.append("### Dense conv: fc.conv vs ORT's Conv (goal <= %.1f)\n" % DENSE_GOAL)
        out.append("| layer | thr | ours ms | ORT ms | ours / ORT | roofline ms | goal | ours / ours at 1 thr (same rounds) |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name, threads, ours, theirs, work, _, base in dense_rows:
            bound = roofline(*work, peaks[threads])
            out.append("| %s | %d | %.3f | %.3f | %.2f | %.3f | %s | %s |" % (
                name, threads, ours * 1e3, theirs * 1e3, ours / theirs, bound * 1e3,
                goal_status(ours, theirs, bound, DENSE_GOAL), "-" if base is None else "%.2f" % (ours / base)))
        out.append("")
    if latency_rows:
        out.append("### Batch-1 latency, late-CNN-stage shapes\n")
        factorized_table(latency_rows, False, peaks, out)
    if overhead_rows:
        out.append("### Per-call overhead, tiny layer (1x4x8x8 CP 3x3)\n")
        out.append("| thr | ours from Python us | ORT from Python us | ours from C us |")
        out.append("|---|---|---|---|")
        for threads, ours, theirs, c_us in overhead_rows:
            out.append("| %d | %.1f | %.1f | %s |" % (threads, ours, theirs, "-" if c_us is None else "%.1f" % c_us))
    text = "\n".join(out)
    print(text)
    print("recorded in", record_results("ONNX Runtime", "onnxruntime %s, onnx %s, rounds %d; peaks %s\n\n%s" % (
        ort.__version__, onnx.__version__, ROUNDS, "; ".join(peak_notes), text)))
    print("\nload average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()

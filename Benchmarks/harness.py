"""Shared pieces of the side-by-side benchmarks: timing, thread control, machine roofline.

Run with the reference venv's python (Benchmarks/refenv.sh), which has torch and tltorch;
factorconv is imported from bindings/python and the library from $FACTORCONV_LIB.
"""

import os
import platform
import statistics
import time


def timeit(fn, min_time=0.4, min_runs=5, warmup=2):
    """Median wall time of fn() in seconds, after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return statistics.median(times)


def timeit_interleaved(fns, rounds=7, min_time=0.7):
    """Median wall times of several functions measured in alternation.

    After a warm-up round, each of `rounds` rounds times every function in turn (timeit with min_time / rounds); the
    result per function is the median of its round medians. On a shared machine, interference
    comes in bursts of seconds: timed one after the other, a burst can land on one side only,
    while alternation spreads it over all sides.
    """
    for fn in fns:              # a warm-up round: JIT kernels, allocator pools, caches
        fn()
        fn()
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            samples[i].append(timeit(fn, min_time=min_time / rounds, min_runs=3, warmup=1))
    return [statistics.median(s) for s in samples]


def set_threads(n, torch=None, fc=None):
    """Use n threads in torch and factorconv alike."""
    if torch is not None:
        torch.set_num_threads(n)
    if fc is not None:
        fc.set_num_threads(n)


def machine_peaks(torch, threads):
    """Measured peak float32 GEMM rate (FLOP/s) and memory copy bandwidth (bytes/s) with
    `threads` threads."""
    torch.set_num_threads(threads)
    n = 2048
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    t = timeit(lambda: torch.mm(a, b), min_time=0.5)
    gemm = 2 * n ** 3 / t
    # An 8 MB copy with torch's `threads` threads: the size of a benchmark layer's input or
    # output, which stay in cache between its timed calls (an out-of-cache copy would understate
    # the bandwidth those calls see).
    src = torch.ones(8 * 1024 * 1024 // 4)
    dst = torch.empty_like(src)
    tb = timeit(lambda: dst.copy_(src), min_time=0.5)
    bandwidth = 2 * src.numel() * 4 / tb
    return gemm, bandwidth


def roofline(flops, nbytes, peaks):
    """The lower bound on time: max(FLOPs / peak GEMM rate, bytes / bandwidth)."""
    gemm, bandwidth = peaks
    return max(flops / gemm, nbytes / bandwidth)


def machine_line():
    """A one-line description of this machine for benchmark tables."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, %s" % (cpu, os.cpu_count(), time.strftime("%Y-%m-%d"))

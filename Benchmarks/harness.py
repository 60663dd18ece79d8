"""Shared pieces of the side-by-side benchmarks: timing, thread control, machine roofline, and
the record of each run in Benchmarks/RESULTS.md (`record_results`).

Run with the reference venv's python (Benchmarks/refenv.sh), which has torch and tltorch;
factorconv is imported from bindings/python and the library from $FACTORCONV_LIB.
"""

import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

#: The results file each benchmark rewrites its own section of; $FACTORCONV_BENCH_RESULTS
#: names another file (the tests of `record_results` write to a scratch copy).
RESULTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")

#: The load average when the benchmark started (this module is imported first thing), recorded
#: beside the one at its end: a loaded machine moves timings.
_LOAD_AT_START = os.getloadavg()


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


def publish(section, text):
    """Prints a benchmark's table, records it as `section` of Benchmarks/RESULTS.md
    (`record_results`), and prints where, with the load average at the end of the run."""
    print(text)
    print("recorded in", record_results(section, text))
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


def at_threads(fc, threads, fn, *args, **kwargs):
    """A call of fn(*args, **kwargs) with factorconv at `threads` threads, set before every call:
    contenders alternating in one process at different thread counts each run at theirs."""
    def call():
        fc.set_num_threads(threads)
        return fn(*args, **kwargs)
    return call


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
    """A one-line description of this machine and the date, for the benchmarks' printed header."""
    return "%s; %s" % (machine_description(), time.strftime("%Y-%m-%d"))


def machine_description():
    """The machine as `lscpu` and `nproc` describe it: CPU model with its family and model numbers
    (a virtual machine's model name may not tell one CPU generation from another: AMD family 23
    model 1 is Zen 1, family 25 Zen 3), the CPUs this process may use, L2 and L3 caches and
    hypervisor, e.g. "AMD EPYC (family 23, model 1); nproc 2 (of 2 CPUs); L2 1 MiB (2 instances);
    L3 8 MiB (1 instance); KVM"."""
    fields = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    model = fields.get("Model name") or platform.processor() or platform.machine()
    try:
        usable = int(subprocess.run(["nproc"], capture_output=True, text=True, timeout=30).stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        usable = len(os.sched_getaffinity(0))
    if "CPU family" in fields and "Model" in fields:
        model += " (family %s, model %s)" % (fields["CPU family"], fields["Model"])
    parts = [model, "nproc %d (of %s CPUs)" % (usable, fields.get("CPU(s)", os.cpu_count()))]
    for cache in ("L2", "L3"):
        if cache + " cache" in fields:
            parts.append(cache + " " + fields[cache + " cache"])
    if "avx512f" in fields.get("Flags", "").split():
        parts.append("AVX-512")
    if "Hypervisor vendor" in fields:
        parts.append(fields["Hypervisor vendor"])
    return "; ".join(parts)


def _marker(section, end=False):
    """The comment line that opens (or closes) `section`'s generated block in RESULTS.md."""
    return "<!-- %s: %s -->" % ("end of results" if end else "results", section)


def record_results(section, text, command=None, path=None):
    """(Re)writes the block of `section` (a benchmark's name, e.g. "Dense convolution") in
    Benchmarks/RESULTS.md: the date, the machine (`machine_description`), the load average at
    the start and end of the run, the command, then `text` (the printed table, Markdown) as is.
    Only the lines between the section's two marker comments are replaced; every other line of
    the file (other benchmarks, hand-written notes) is left as it is. A section not yet in the
    file is appended under a heading of its name. `command` defaults to this process's command
    line; `path` to $FACTORCONV_BENCH_RESULTS, else RESULTS_PATH. Returns the path written."""
    if not section or "\n" in section or "-->" in section:
        raise ValueError("a section name is one line without '-->': %r" % (section,))
    path = path or os.environ.get("FACTORCONV_BENCH_RESULTS") or RESULTS_PATH
    if command is None:
        command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)
    end_load = os.getloadavg()
    block = [
        _marker(section),
        "- date: %s" % time.strftime("%Y-%m-%d %H:%M %Z"),
        "- machine: %s" % machine_description(),
        "- load average (1/5/15 min): %s at the start, %s at the end" % (
            " ".join("%.2f" % v for v in _LOAD_AT_START), " ".join("%.2f" % v for v in end_load)),
        "- command: `%s`" % command,
        "",
        text.strip("\n"),
        _marker(section, end=True),
    ]
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        lines = ["# Benchmark results", ""]
    begin = [i for i, line in enumerate(lines) if line.strip() == _marker(section)]
    end = [i for i, line in enumerate(lines) if line.strip() == _marker(section, end=True)]
    if len(begin) > 1 or len(end) > 1 or len(begin) != len(end) or (begin and end[0] < begin[0]):
        raise ValueError("%s: the markers of section %r are not one begin/end pair; fix the file by hand"
                         % (path, section))
    if begin:
        lines[begin[0]:end[0] + 1] = block
    else:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += ["", "## " + section, ""] + block
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    os.replace(tmp, path)
    return path

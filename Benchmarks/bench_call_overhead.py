"""Per-call overhead of a forward on a tiny layer (4 -> 4 channels, 3x3, input 1x4x8x8), where the
arithmetic is negligible and what is timed is the path from the caller to the kernels: C calls
per Python forward, and the time per forward from Python and from C.

    FACTORCONV_LIB=.build/release/libfactorconv.so PYTHONPATH=bindings/python \\
        python3 Benchmarks/bench_call_overhead.py [--label NAME]

Compiles Benchmarks/CallOverhead/call_overhead.c against include/ and $FACTORCONV_LIB. Prints one
table and records it in Benchmarks/RESULTS.md (`make bench-call-overhead`).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import factorconv as fc
from factorconv import _lib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import record_results, timeit  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = [("cp", "factorized"), ("cp", "auto"), ("tucker", "auto"), ("tt", "factorized")]
C_CALLS = 20000


class CountingLibrary:
    """Wraps the loaded library and counts fconv_* calls."""

    def __init__(self, library):
        self._library = library
        self.calls = 0

    def __getattr__(self, name):
        function = getattr(self._library, name)
        if not name.startswith("fconv_"):
            return function

        def counted(*args):
            self.calls += 1
            return function(*args)
        return counted


def python_side(factorization, implementation):
    """C calls of the first forward on a new layer, of a forward on a new input shape, of a
    repeated forward; microseconds per repeated forward."""
    conv = fc.FactorizedConv(4, 4, 3, order=2, padding=1, factorization=factorization,
                             implementation=implementation)
    x = np.ones((1, 4, 8, 8), np.float32)
    real, counting = _lib.lib, CountingLibrary(_lib.lib)
    _lib.lib = counting
    try:
        counts = []
        for shape in [(1, 4, 8, 8), (1, 4, 9, 8), (1, 4, 8, 8)]:
            before = counting.calls
            conv(np.ones(shape, np.float32))
            counts.append(counting.calls - before)
    finally:
        _lib.lib = real
    seconds = timeit(lambda: conv(x), min_time=1.0, min_runs=2000)
    conv.close()
    return counts, seconds * 1e6


def c_side(executable, factorization, implementation):
    """Nanoseconds per fconv_conv_forward_shaped and per fconv_conv_output_shape from C."""
    out = subprocess.run([executable, factorization, implementation, str(C_CALLS)], check=True,
                         capture_output=True, text=True).stdout
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="", help="a name for the library measured")
    args = parser.parse_args()
    library = os.environ.get("FACTORCONV_LIB") or sys.exit("set FACTORCONV_LIB")
    with tempfile.TemporaryDirectory() as work:
        # The program loads the library by its SONAME: give it this library under that name.
        dynamic = subprocess.run(["readelf", "-d", library], check=True, capture_output=True,
                                 text=True).stdout
        soname = re.search(r"Library soname: \[(.*?)\]", dynamic)
        shutil.copy(library, os.path.join(work, soname.group(1) if soname else "libfactorconv.so"))
        executable = os.path.join(work, "call_overhead")
        subprocess.run(["cc", "-std=c99", "-O2", "-I" + os.path.join(ROOT, "include"),
                        os.path.join(ROOT, "Benchmarks", "CallOverhead", "call_overhead.c"),
                        "-o", executable, library, "-Wl,-rpath," + work], check=True)
        lines = ["library: %s %s (threads %d)" % (os.path.basename(library), args.label, fc.get_num_threads()),
                 "",
                 "| layer | C calls: new / shape / again | Python µs/forward | C µs/forward | C µs/output_shape |",
                 "|---|---|---|---|---|"]
        for factorization, implementation in LAYERS:
            counts, python_us = python_side(factorization, implementation)
            c = c_side(executable, factorization, implementation)
            lines.append("| %s/%s | %s | %.1f | %.1f | %.1f |" % (
                factorization, implementation, " / ".join(map(str, counts)), python_us,
                c["forward_shaped"] / 1e3, c["output_shape"] / 1e3))
    text = "\n".join(lines)
    print(text)
    record_results("Call overhead", text)

if __name__ == "__main__":
    main()

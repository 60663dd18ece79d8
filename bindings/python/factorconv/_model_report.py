"""The report of ``compress_model``: the input shape each layer is measured on, the FLOPs of the
dense and factorized forwards there, their measured times, the totals and the printed table.

FLOPs count 2 per multiply-add of the convolutions a forward runs (bias additions and the
reconstruction of a dense kernel are left out), following the implementations of the behaviour
notes §5.3-5.7 for the one the layer's 'auto' picks on that input.
"""

import math
import time

import numpy as np

from ._weights_readers import lookup

#: The spatial size per dimension of the default input (batch 1): 32 for 1-D and 2-D
#: convolutions, 16 for 3-D and more; never less than the dilated kernel's extent.
DEFAULT_SPATIAL = {1: 32, 2: 32}
DEFAULT_SPATIAL_HIGHER = 16

#: Forward timing: the best of at least this many runs after one warm-up run, and more while
#: the total stays under TIME_BUDGET seconds (at most MAX_RUNS).
MIN_RUNS, MAX_RUNS, TIME_BUDGET = 3, 50, 0.2

DEFAULT_INPUT_TEXT = ("batch 1 and 32 per spatial dimension for 1-D and 2-D convolutions, 16 for "
                      "3-D (at least the dilated kernel's extent)")


def input_shape_for(source, input_shape):
    """The input (batch, in_channels, *spatial) layer ``source`` is measured on: ``input_shape``
    is None (the default above), a (batch, *spatial) tuple for every layer with as many spatial
    dimensions, or a mapping of layer names / fnmatch patterns to such tuples."""
    given = lookup(input_shape, source.name) if isinstance(input_shape, dict) else input_shape
    order = source.order
    in_channels = source.weight.shape[1] * source.groups
    if given is not None and len(given) == order + 1:
        return (int(given[0]), in_channels) + tuple(int(s) for s in given[1:])
    size = DEFAULT_SPATIAL.get(order, DEFAULT_SPATIAL_HIGHER)
    spatial = tuple(max(size, d * (k - 1) + 1)
                    for k, d in zip(source.weight.shape[2:], source.dilation))
    return (1, in_channels) + spatial


def _out_size(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def dense_flops(weight_shape, geometry, input_shape):
    """FLOPs of the dense convolution of a kernel ``weight_shape`` on ``input_shape``."""
    out_channels, in_channels, kernel = weight_shape[0], weight_shape[1], weight_shape[2:]
    spatial = [_out_size(s, k, st, p, d) for s, k, st, p, d in
               zip(input_shape[2:], kernel, geometry["stride"], geometry["padding"],
                   geometry["dilation"])]
    return 2 * input_shape[0] * out_channels * math.prod(spatial) * in_channels * math.prod(kernel)


def factorized_flops(layer, implementation, geometry, input_shape):
    """FLOPs of ``layer``'s forward with ``implementation`` on ``input_shape``."""
    out_channels, in_channels, kernel = layer.out_channels, layer.in_channels, layer.kernel_size
    if implementation == "reconstructed":
        return dense_flops((out_channels, in_channels) + kernel, geometry, input_shape)
    batch, spatial = input_shape[0], list(input_shape[2:])
    # The spatial sizes after each spatial mode's stage (modes convolved one after another).
    stages = [list(spatial)]
    for n, k in enumerate(kernel):
        stages.append(list(stages[-1]))
        stages[-1][n] = _out_size(spatial[n], k, geometry["stride"][n], geometry["padding"][n],
                                  geometry["dilation"][n])
    size_in, size_out = math.prod(spatial), math.prod(stages[-1])
    rank = layer.rank
    if layer.factorization == "cp":
        macs = rank * size_in * in_channels + out_channels * rank * size_out
        if implementation == "mobilenet":
            macs += rank * size_out * math.prod(kernel)
        else:
            macs += sum(rank * math.prod(stages[n + 1]) * k for n, k in enumerate(kernel))
    elif layer.factorization == "tucker":
        rank_out, rank_in = rank[0], rank[1]
        macs = (rank_in * size_in * in_channels + rank_out * size_out * rank_in * math.prod(kernel)
                + out_channels * rank_out * size_out)
    elif layer.factorization == "tt":
        macs = rank[1] * size_in * in_channels + out_channels * rank[-2] * size_out
        macs += sum(rank[n + 2] * math.prod(stages[n + 1]) * rank[n + 1] * k
                    for n, k in enumerate(kernel))
    else:
        return dense_flops((out_channels, in_channels) + kernel, geometry, input_shape)
    return 2 * batch * macs


def best_time(function):
    """The shortest of several timed calls of ``function()`` (seconds), after a warm-up call."""
    function()
    times = []
    start = time.perf_counter()
    while len(times) < MIN_RUNS or (len(times) < MAX_RUNS
                                    and time.perf_counter() - start < TIME_BUDGET):
        begin = time.perf_counter()
        function()
        times.append(time.perf_counter() - begin)
    return min(times)


def measure(entry, source, layer, input_shape):
    """Fills ``entry`` with the FLOPs and forward times of the dense conv and of ``layer``."""
    from .functional import conv
    geometry = source.geometry()
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    implementation = layer.chosen_implementation(input_shape)
    entry["implementation"] = implementation
    entry["flops_before"] = dense_flops(source.weight.shape, geometry, input_shape)
    entry["flops_after"] = factorized_flops(layer, implementation, geometry, input_shape)
    entry["time_dense_s"] = best_time(lambda: conv(x, source.weight, source.bias, **geometry))
    entry["time_factorized_s"] = best_time(lambda: layer(x))


def totals(entries):
    """Totals: parameters over every convolution of the model (a layer not compressed counts
    with its dense parameters on both sides); FLOPs and times over the compressed layers (the
    ones measured)."""
    total = {"layers": len(entries)}
    for status in ("compressed", "skipped", "interrupted", "failed"):
        total[status] = sum(1 for e in entries if e["status"] == status)
    for before, after in (("params_before", "params_after"), ("flops_before", "flops_after"),
                          ("time_dense_s", "time_factorized_s")):
        measured = [e for e in entries if e.get(before) is not None]
        total[before] = sum(e[before] for e in measured)
        total[after] = sum(e[after] if e.get(after) is not None else e[before] for e in measured)
    total["compression"] = (total["params_before"] / total["params_after"]
                            if total["params_after"] else None)
    return total


def _number(value, unit=1.0, digits=1):
    return "-" if value is None else "%.*f" % (digits, value / unit)


def table(report):
    """The report as a text table (one line per layer, then the totals)."""
    header = ("%-24s %-15s %-6s %-14s %9s %9s %7s %9s %9s %8s %8s  %s"
              % ("layer", "shape", "fact.", "rank", "params", "after", "ratio", "error",
                 "MFLOP", "ms dense", "ms fact.", "status"))
    lines = [header, "-" * len(header)]
    for e in report["layers"]:
        ratio = (e["params_before"] / e["params_after"]) if e.get("params_after") else None
        status = e["status"] if not e.get("reason") else "%s: %s" % (e["status"], e["reason"])
        lines.append("%-24s %-15s %-6s %-14s %9d %9s %7s %9s %9s %8s %8s  %s" % (
            e["name"][:24], "x".join(map(str, e["shape"])), e.get("factorization") or "-",
            "-" if e.get("rank") is None else str(e["rank"]).replace(" ", ""),
            e["params_before"], "-" if e.get("params_after") is None else e["params_after"],
            _number(ratio, digits=2), "-" if e.get("kernel_error") is None
            else "%.3e" % e["kernel_error"],
            _number(e.get("flops_after"), 1e6, 2), _number(e.get("time_dense_s"), 1e-3, 3),
            _number(e.get("time_factorized_s"), 1e-3, 3), status))
    t = report["totals"]
    lines.append("-" * len(header))
    lines.append("%d layers: %d compressed, %d skipped, %d interrupted, %d failed; parameters "
                 "%d -> %d (x%s); the compressed layers: %s -> %s MFLOP, forwards %s -> %s ms"
                 % (t["layers"], t["compressed"], t["skipped"], t["interrupted"], t["failed"],
                    t["params_before"], t["params_after"], _number(t["compression"], digits=2),
                    _number(t["flops_before"], 1e6, 2), _number(t["flops_after"], 1e6, 2),
                    _number(t["time_dense_s"], 1e-3, 3), _number(t["time_factorized_s"], 1e-3, 3)))
    return "\n".join(lines)

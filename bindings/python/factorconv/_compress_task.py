"""One layer of ``compress_model``: the task a worker runs, self-contained so that any executor
(local processes, a Dask cluster) can run it: ``compress_layer(name, weight, bias, geometry,
settings, seed)`` returns a plain dict with the outcome and the layer's bytes (``to_bytes``).

Determinism: a decomposition's result depends on the number of threads FactorConv splits it
over, so every task first sets FactorConv's thread count to 1 in the process that runs it. With
the same seed the same task then gives the same bytes on any machine running the same library.
"""

import hashlib

from . import _rank_by_error
from .layer import FactorizedConv

#: The implementation of the layers compress_model builds: the cheapest for each input shape.
IMPLEMENTATION = "auto"


def layer_seed(seed, name):
    """The seed of layer ``name`` for run seed ``seed``: a stable hash of both (BLAKE2b, not
    Python's per-process ``hash``), an int in [0, 2^62)."""
    digest = hashlib.blake2b(("%d\0%s" % (seed, name)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 2


def _from_conv(weight, bias, geometry, factorization, rank, seed, decompose=True):
    """The library's from_conv with compress_model's fixed choices."""
    return FactorizedConv.from_conv(weight, rank, IMPLEMENTATION, factorization,
                                    decompose_weights=decompose, bias=bias, seed=seed, **geometry)


def _slower(layer, input_shape):
    """The skip reason when the cost model picks the dense path for ``input_shape``, else None."""
    if layer.chosen_implementation(input_shape) == "reconstructed":
        return ("the cost model predicts the factorized forward slower than the dense conv on "
                "input %s (rank %s)" % (tuple(input_shape), layer.rank))
    return None


def dense_parameters(weight, bias):
    """The parameters of the dense convolution: its kernel and its bias."""
    return int(weight.size + (0 if bias is None else bias.size))


def _larger(layer, weight, bias):
    """The skip reason when ``layer`` stores at least as many parameters as the dense conv
    (kernel and bias on both sides), else None: such a layer compresses nothing."""
    factorized, dense = layer.n_parameters, dense_parameters(weight, bias)
    if factorized >= dense:
        return ("factorized has %d parameters, dense %d (rank %s): no compression"
                % (factorized, dense, layer.rank))
    return None


def compress_layer(name, weight, bias, geometry, settings, seed):
    """Compresses one convolution; returns ``{"name", "status": "compressed" | "skipped",
    "reason", "rank", "kernel_error", "bytes", "seed"}``.

    ``settings``: ``factorization``, ``rank`` (tltorch's rules) or ``max_error`` (a target for
    the measured relative kernel error), and ``input_shape`` (where the cost model decides
    whether the factorized forward pays). ``geometry``: stride / padding / dilation.

    The layer is skipped (kept dense) when its factorized form has at least as many parameters
    as the dense kernel and bias, or else when the cost model picks the dense forward."""
    from . import set_num_threads   # the package's; imported here to avoid an import cycle
    set_num_threads(1)
    factorization = settings["factorization"]
    input_shape = settings["input_shape"]
    result = {"name": name, "status": "skipped", "reason": None, "rank": None,
              "kernel_error": None, "bytes": None, "seed": seed}
    max_error = settings.get("max_error")
    if max_error is None:
        # A layer with random values answers the cost question before the decomposition runs.
        with _from_conv(weight, bias, geometry, factorization, settings["rank"], seed,
                        decompose=False) as probe:
            result["rank"] = probe.rank
            # CP and Tucker layers keep the probe's ranks. TT's decomposition lowers ranks above
            # what the kernel's unfoldings allow, so a TT probe answers neither question: both
            # are asked of the layer built (below).
            if factorization != "tt":
                result["reason"] = _larger(probe, weight, bias) or _slower(probe, input_shape)
                if result["reason"] is not None:
                    return result
        layer = _from_conv(weight, bias, geometry, factorization, settings["rank"], seed)
        error = _rank_by_error.measured_error(layer, weight)
    else:
        max_cp_rank = None
        if factorization == "cp":
            # The CP search's upper bound: the rank of 'same' (the dense parameter count).
            with _from_conv(weight, bias, geometry, factorization, "same", seed,
                            decompose=False) as probe:
                max_cp_rank = probe.rank
        layer, error, reached = _rank_by_error.build_within_error(
            lambda rank: _from_conv(weight, bias, geometry, factorization, rank, seed),
            weight, factorization, max_error, max_cp_rank)
        if not reached:
            result.update(rank=layer.rank, kernel_error=error,
                          reason="max_error %g not reached: the largest rank tried (%s) gives %.3e"
                                 % (max_error, layer.rank, error))
            layer.close()
            return result
    with layer:
        result["rank"], result["kernel_error"] = layer.rank, error
        # With max_error this is the smallest rank found within the target: when even it does
        # not compress, the layer stays dense.
        result["reason"] = _larger(layer, weight, bias) or _slower(layer, input_shape)
        if result["reason"] is None:
            result["status"] = "compressed"
            result["bytes"] = layer.to_bytes()
    return result

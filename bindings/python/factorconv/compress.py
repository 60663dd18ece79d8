"""``factorconv.compress_model``: every convolution of a trained model compressed into one bundle
of FactorizedConv layers, with a report (per layer: rank, parameters, measured kernel error,
FLOPs and forward times, or why it was skipped).

The work is one task per layer (``_compress_task.compress_layer``), run by local worker processes,
by any ``concurrent.futures.Executor`` (a Dask client's ``get_executor()``), or in this process.
Ctrl-C stops it: pending tasks are cancelled, local workers ended, the layers finished so far
written, and ``CompressionInterrupted`` (a KeyboardInterrupt carrying the report) raised.
"""

import concurrent.futures
import json
import multiprocessing
import os
import signal
import sys

from . import _bundle_io, _compress_task, _model_report, _plot
from ._errors import InvalidArgumentError
from ._progress import LayerProgressBar
from ._weights_readers import DEFAULT_GEOMETRY, lookup, read_convs
from .layer import FactorizedConv

__all__ = ["compress_model", "CompressionInterrupted", "FACTORIZATIONS"]

#: The factorizations compress_model builds.
FACTORIZATIONS = ("cp", "tucker", "tt")

#: The smallest kernel compress_model factorizes: at least this many taps in some dimension.
MIN_TAPS = 3

_OVERRIDE_KEYS = ("factorization", "rank", "max_error")


class CompressionInterrupted(KeyboardInterrupt):
    """Raised by ``compress_model`` on Ctrl-C once the bundle holds the layers finished before it:
    ``report`` is the report (the others marked 'interrupted')."""

    def __init__(self, report):
        super().__init__("compression interrupted: %d of %d layers kept"
                         % (report["totals"]["compressed"], report["totals"]["layers"]))
        self.report = report


def _patterns(value, name):
    """None, or a list of fnmatch patterns from a string or a sequence of strings."""
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(p, str) for p in patterns):
        raise InvalidArgumentError("%s must be a pattern or a list of patterns, got %r"
                                   % (name, value))
    return patterns


def _matches(name, patterns):
    import fnmatch
    return next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)


def _check_settings(settings, where):
    """Validates one layer's factorization / max_error (the library validates the rank)."""
    if settings["factorization"] not in FACTORIZATIONS:
        raise InvalidArgumentError("%sfactorization must be one of %s, got %r"
                                   % (where, ", ".join(FACTORIZATIONS), settings["factorization"]))
    target = settings["max_error"]
    if target is not None and not (isinstance(target, (int, float)) and 0 < target < 1):
        raise InvalidArgumentError("%smax_error must be a number in (0, 1), got %r"
                                   % (where, target))


def layer_settings(name, factorization, rank, max_error, overrides):
    """The factorization / rank / max_error of layer ``name``: the run's, updated by its entry of
    ``overrides`` (exact name, else the first matching pattern). An override giving a rank but
    no max_error compresses at that rank."""
    settings = {"factorization": factorization, "rank": rank, "max_error": max_error}
    override = lookup(overrides, name)
    if override is not None:
        unknown = set(override) - set(_OVERRIDE_KEYS)
        if unknown:
            raise InvalidArgumentError("overrides for %r has unknown keys %s (expected %s)"
                                       % (name, sorted(unknown), ", ".join(_OVERRIDE_KEYS)))
        settings.update(override)
        if "rank" in override and "max_error" not in override:
            settings["max_error"] = None
    settings["factorization"] = str(settings["factorization"]).lower()
    _check_settings(settings, "overrides for %r: " % name if override else "")
    return settings


def selection_reason(source, include, exclude):
    """Why ``source`` is not compressed whatever its rank, or None."""
    if include is not None and _matches(source.name, include) is None:
        return "not matched by include %s" % include
    if exclude is not None:
        pattern = _matches(source.name, exclude)
        if pattern is not None:
            return "excluded by %r" % pattern
    if source.problem:
        return source.problem
    kernel = source.weight.shape[2:]
    if all(k < MIN_TAPS for k in kernel):
        return "kernel %s has fewer than %d taps in every dimension" % (
            "x".join(map(str, kernel)), MIN_TAPS)
    if source.groups > 1:
        return "grouped convolution (groups=%d)" % source.groups
    if source.weight.shape[1] == 1:
        return ("one input channel per group (a depthwise convolution, or a single input "
                "channel): nothing to factorize across channels")
    return None


def _entry(source, settings):
    """A layer's report entry before compression."""
    return {
        "name": source.name, "shape": list(source.weight.shape), "status": None, "reason": None,
        "factorization": settings["factorization"] if settings else None,
        "requested_rank": settings["rank"] if settings and settings["max_error"] is None else None,
        "max_error": settings["max_error"] if settings else None,
        "rank": None, "kernel_error": None, "has_bias": source.bias is not None,
        "stride": list(source.stride), "padding": list(source.padding),
        "dilation": list(source.dilation), "groups": source.groups,
        "geometry_from": source.geometry_from,
        "params_before": int(source.weight.size + (0 if source.bias is None else source.bias.size)),
        "params_after": None, "input_shape": None, "implementation": None,
        "flops_before": None, "flops_after": None, "time_dense_s": None,
        "time_factorized_s": None, "seed": None,
    }


def _ignore_sigint():
    """Local workers ignore Ctrl-C: the parent handles it (and ends them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _end_local_workers(pool):
    """Ends a local pool's worker processes at once (their running tasks are abandoned):
    ``terminate_workers`` where Python has it (3.14), else the pool's process table."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(2)


def _run_tasks(tasks, workers, executor, on_done):
    """Runs ``compress_layer(*task)`` for every task, calling ``on_done(index, result or
    exception)`` as each finishes. Ctrl-C (KeyboardInterrupt) cancels what has not started,
    ends local workers, and propagates."""
    if executor is None and (workers <= 1 or len(tasks) <= 1):
        from . import get_num_threads, set_num_threads
        previous = get_num_threads()
        try:
            for index, task in enumerate(tasks):
                try:
                    result = _compress_task.compress_layer(*task)
                except Exception as error:   # noqa: BLE001 - a failed task fails its layer only
                    result = error
                on_done(index, result)
        finally:
            set_num_threads(previous)
        return
    own_pool = executor is None
    pool = executor
    if own_pool:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_ignore_sigint)
    futures = {}
    interrupted = False
    try:
        for index, task in enumerate(tasks):
            futures[pool.submit(_compress_task.compress_layer, *task)] = index
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except Exception as error:   # noqa: BLE001 - a failed task fails its layer only
                result = error
            on_done(futures[future], result)
    except KeyboardInterrupt:
        interrupted = True
        for future in futures:
            future.cancel()
        if own_pool:
            _end_local_workers(pool)
        else:
            # Tasks running on threads of this process (a ThreadPoolExecutor) stop at their
            # next check point; other executors' workers are not reached by this.
            from . import interrupt
            interrupt()
        raise
    finally:
        if own_pool:
            pool.shutdown(wait=not interrupted, cancel_futures=True)


def _progress_function(progress, total):
    """(callable(done, name) or None, bar to close or None) for ``progress``."""
    if progress is None:
        progress = sys.stderr.isatty()
    if progress is True:
        bar = LayerProgressBar(total)
        return bar, bar
    if progress is False:
        return None, None
    if callable(progress):
        return (lambda done, name: progress(done, total, name)), None
    raise InvalidArgumentError("progress must be None, True/False or a callable "
                               "progress(done, total, name), got %r" % (progress,))


def _dask_executor(scheduler):
    """(executor, client) for a Dask scheduler address."""
    try:
        from distributed import Client
    except ImportError:
        raise InvalidArgumentError("a scheduler address needs Dask's distributed package "
                                   "(pip install distributed)") from None
    client = Client(scheduler)
    return client.get_executor(), client


def compress_model(weights, output, *, factorization="cp", rank="same", max_error=None,
                   include=None, exclude=None, overrides=None, geometry=None, input_shape=None,
                   workers=None, executor=None, seed=0, report=None, plot=None, progress=None):
    """Compresses every convolution of a model into one bundle file and returns the report.

    weights: a safetensors state_dict, a PyTorch state_dict or checkpoint (.pt/.pth, needs
        torch), an ONNX model (.onnx, needs onnx), or a mapping of names to arrays. A
        convolution is a tensor ``X.weight`` with at least 3 dimensions (bias ``X.bias``).
    output: the bundle's path; it holds the compressed layers under their names.
    factorization: 'cp', 'tucker' or 'tt'. rank: tltorch's rule (a fraction of the dense
        parameters, 'same', an int, a tuple), given to ``FactorizedConv.from_conv``.
    max_error: instead of ``rank``, the smallest rank whose relative kernel error
        ||W - W'|| / ||W||, measured on the layer built, is at most this (see _rank_by_error).
    include / exclude: fnmatch patterns (or lists) of layer names to compress / leave dense.
    overrides: {name or pattern: {'factorization', 'rank', 'max_error'}} per layer.
    geometry: {name or pattern: {'stride', 'padding', 'dilation', 'groups'} or (stride, padding,
        dilation)} for files without geometry; otherwise stride 1, padding 0, dilation 1,
        groups 1 (DEFAULT_GEOMETRY).
    input_shape: where FLOPs and times are measured and the cost model decides whether the
        factorized forward pays: None (batch 1, 32 per spatial dimension for 1-D and 2-D, 16
        for 3-D), a (batch, *spatial) tuple, or {name or pattern: (batch, *spatial)}.
    workers: local worker processes (default min(cores, layers); 1 runs in this process).
    executor: a concurrent.futures.Executor to run the layers on instead (e.g. a Dask client's
        ``client.get_executor()``), or a Dask scheduler's address (a client is made and closed).
    seed: the run's seed; each layer's is derived from it and the layer's name, so the same
        seed gives the same bundle, byte for byte, on any executor.
    report: a path to write the report as JSON. plot: a path for a PNG of kernel error against
        compression (needs matplotlib; the report's 'plot' says whether it was written).
    progress: None (a bar on stderr when it is a terminal), True, False, or
        ``callable(done, total, name)``.

    Layers are skipped, with the reason in the report, when: not included / excluded; a kernel
    with fewer than 3 taps in every dimension; grouped or depthwise (one input channel per
    group); when the cost model picks the dense forward for the factorized layer at its input
    shape; when max_error cannot be reached. Raises CompressionInterrupted (a
    KeyboardInterrupt) on Ctrl-C after writing the layers finished before it.
    """
    include, exclude = _patterns(include, "include"), _patterns(exclude, "exclude")
    if overrides is not None and not isinstance(overrides, dict):
        raise InvalidArgumentError("overrides must be a dict, got %r" % (overrides,))
    _check_settings({"factorization": str(factorization).lower(), "max_error": max_error}, "")
    sources = read_convs(weights, geometry)
    entries, tasks, task_sources = [], [], []
    for source in sources:
        reason = selection_reason(source, include, exclude)
        settings = None if reason else layer_settings(source.name, factorization, rank,
                                                      max_error, overrides)
        entry = _entry(source, settings)
        entries.append(entry)
        if reason:
            entry.update(status="skipped", reason=reason)
            continue
        shape = _model_report.input_shape_for(source, input_shape)
        entry["input_shape"] = list(shape)
        entry["seed"] = _compress_task.layer_seed(seed, source.name)
        settings = dict(settings, input_shape=shape)
        tasks.append((source.name, source.weight, source.bias, source.geometry(), settings,
                      entry["seed"]))
        task_sources.append((entry, source))
    if workers is None:
        workers = min(len(os.sched_getaffinity(0)), max(len(tasks), 1))
    if isinstance(executor, str):
        executor, client = _dask_executor(executor)
    else:
        client = None
    layer_bytes = {}
    draw, bar = _progress_function(progress, len(tasks))
    if bar is not None and tasks:
        bar(0)
    done = [0]

    def on_done(index, result):
        entry = task_sources[index][0]
        if isinstance(result, BaseException):
            entry.update(status="failed", reason="%s: %s" % (type(result).__name__, result))
        else:
            entry.update(status=result["status"], reason=result["reason"], rank=result["rank"],
                         kernel_error=result["kernel_error"])
            if result["status"] == "compressed":
                layer_bytes[entry["name"]] = result["bytes"]
        done[0] += 1
        if draw is not None:
            draw(done[0], entry["name"])

    interrupted = False
    try:
        _run_tasks(tasks, workers, executor, on_done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
    for entry, source in task_sources:
        if entry["status"] is None:
            entry.update(status="interrupted", reason="Ctrl-C before this layer finished")
        if entry["name"] in layer_bytes:
            with FactorizedConv.from_bytes(layer_bytes[entry["name"]]) as layer:
                entry["params_after"] = layer.n_parameters
                if not interrupted:
                    try:
                        _model_report.measure(entry, source, layer, tuple(entry["input_shape"]))
                    except KeyboardInterrupt:
                        interrupted = True   # the layers are all built: keep them, unmeasured
    # The bundle keeps the model's order.
    ordered = {e["name"]: layer_bytes[e["name"]] for e in entries if e["name"] in layer_bytes}
    _bundle_io.write_bundle(ordered, os.fspath(output))
    result = {
        "weights": os.fspath(weights) if isinstance(weights, (str, os.PathLike)) else "<mapping>",
        "bundle": os.fspath(output),
        "settings": {"factorization": str(factorization).lower(), "rank": rank,
                     "max_error": max_error, "include": include, "exclude": exclude,
                     "overrides": overrides, "seed": seed,
                     "executor": (type(executor).__name__ if executor is not None
                                  else "local processes (%d)" % workers if workers > 1 and len(tasks) > 1
                                  else "this process")},
        "defaults": {"geometry": DEFAULT_GEOMETRY, "input_shape": _model_report.DEFAULT_INPUT_TEXT},
        "interrupted": interrupted,
        "layers": entries,
    }
    result["totals"] = _model_report.totals(entries)
    if plot is not None:
        result["plot"] = os.fspath(plot) if _plot.plot_report(result, plot) else None
    if report is not None:
        with open(report, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2, default=_json_default)
            file.write("\n")
    if interrupted:
        raise CompressionInterrupted(result)
    return result


def _json_default(value):
    """JSON for the values a report holds besides plain ones (numpy scalars, tuples)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError("not JSON serializable: %r" % (value,))

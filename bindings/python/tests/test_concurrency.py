"""One layer used from several threads and across fork: changes never starve or mix with
forwards, a forked child can change and close what its parent was using, and a stale handle
never reaches another layer."""

import copy
import gc
import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

import factorconv as fc


def _layer(**kwargs):
    args = dict(factorization="cp", rank=0.5, padding=1, bias=True, seed=3)
    args.update(kwargs)
    return fc.FactorizedConv(8, 8, 3, order=2, **args)


def _run_within(seconds, function):
    """Runs ``function`` in a thread; fails the test if it has not returned after ``seconds``."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:   # noqa: B902 - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "%s did not return within %s s" % (function, seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class _LoopingForwards:
    """Threads that run ``conv(x)`` back to back until stopped, keeping every result."""

    def __init__(self, conv, x, threads=2):
        self.conv, self.x, self.stop = conv, x, threading.Event()
        self.results, self.errors = [], []
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def _loop(self):
        while not self.stop.is_set():
            try:
                self.results.append(self.conv(self.x))
            except fc.FactorConvError as exc:
                self.errors.append(exc)

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_changes_do_not_wait_for_a_stream_of_forwards():
    conv = _layer()
    x = np.random.default_rng(0).standard_normal((2, 8, 32, 32)).astype(np.float32)
    state = conv.state_dict()
    with _LoopingForwards(conv, x) as loop:
        _run_within(10, lambda: conv.set(0, stride=2, padding=1))
        _run_within(10, lambda: conv.load_state_dict(state))
        _run_within(10, lambda: conv.reset_parameters(seed=5))
        _run_within(10, lambda: setattr(conv, "implementation", "reconstructed"))
        _run_within(10, conv.close)
    assert loop.results, "the forwards never ran"
    # After the close the loop's calls fail cleanly.
    assert all(isinstance(e, fc.InvalidArgumentError) for e in loop.errors)


def test_forwards_racing_set_give_the_output_of_one_geometry():
    conv = _layer()
    x = np.random.default_rng(1).standard_normal((1, 8, 24, 24)).astype(np.float32)
    stride1 = conv(x)
    conv.set(0, stride=2, padding=1)
    stride2 = conv(x)
    stop = threading.Event()

    def flip():
        strides = [1, 2]
        while not stop.is_set():
            conv.set(0, stride=strides[0], padding=1)
            strides.reverse()

    flipper = threading.Thread(target=flip, daemon=True)
    with _LoopingForwards(conv, x) as loop:
        flipper.start()
        time.sleep(1.0)
        stop.set()
        flipper.join(10)
    assert not loop.errors, loop.errors[:3]
    shapes = {r.shape for r in loop.results}
    assert shapes == {stride1.shape, stride2.shape}, shapes
    for r in loop.results:
        reference = stride1 if r.shape == stride1.shape else stride2
        assert np.array_equal(r, reference)


def _child_uses_the_layer(conv, x, queue):
    conv.set(0, stride=2, padding=1)
    y = conv(x)
    conv.close()
    queue.put(y.shape)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_of_a_process_running_forwards_can_change_and_close_the_layer():
    conv = _layer()
    x = np.random.default_rng(2).standard_normal((4, 8, 32, 32)).astype(np.float32)
    context = multiprocessing.get_context("fork")
    with _LoopingForwards(conv, x):
        for _ in range(3):
            queue = context.Queue()
            child = context.Process(target=_child_uses_the_layer, args=(conv, x, queue))
            child.start()
            child.join(30)
            if child.is_alive():
                child.kill()
                pytest.fail("the forked child hung")
            assert child.exitcode == 0
            assert queue.get(timeout=5) == (4, 8, 16, 16)
    conv.close()


def test_a_stale_handle_never_reaches_a_newer_layer():
    original = _layer(factorization="tucker")
    twin = copy.copy(original)
    original.close()
    others = [_layer(factorization="tt", seed=s) for s in range(50)]
    try:
        # Either the copy is a layer of its own (Tucker), or its handle is dead: never a TT layer.
        assert twin.factorization == "tucker"
    except fc.InvalidArgumentError:
        pass
    del twin
    gc.collect()
    x = np.ones((1, 8, 8, 8), np.float32)
    for layer in others:
        assert layer.factorization == "tt"
        assert layer(x).shape == (1, 8, 8, 8)

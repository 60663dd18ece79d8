"""Ctrl-C stops long calls: a child process (interrupt_child.py) starts a decomposition or a
forward that would run far longer than the test waits, receives SIGINT once the call is
running, and must end with KeyboardInterrupt promptly — with or without a progress callback,
never printing "Exception ignored" (a KeyboardInterrupt lost inside the ctypes callback) — and,
after an interrupted forward, with the layer still giving its earlier results.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import factorconv as fc
from factorconv import _lib
from child_signals import child_environment, default_sigint

# Each test starts a child process with a long call: left out of `make check`.
pytestmark = pytest.mark.slow

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interrupt_child.py")

# How long after SIGINT the child may take to exit. Interrupted calls return within a fraction
# of a second; the margin absorbs a loaded CI machine. A call that ignores the interrupt runs
# for tens of seconds, far beyond it.
EXIT_WITHIN = 3.0
# How long the child may take to reach its long call (imports and setup).
START_WITHIN = 30.0
# After "started", let the call get going before the signal, so that it lands inside the C call.
SETTLE = 0.3


def _interrupt_child(case):
    """Runs the child until its call is under way, sends SIGINT; returns (seconds from the
    signal to its exit or None if it did not exit within EXIT_WITHIN, return code, stdout,
    stderr)."""
    child = subprocess.Popen([sys.executable, CHILD, case], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=child_environment(),
                             preexec_fn=default_sigint)
    try:
        lines = []
        reader = threading.Thread(target=lambda: lines.append(child.stdout.readline()))
        reader.start()
        reader.join(START_WITHIN)
        if not lines or lines[0] != b"started\n":
            child.kill()
            out, err = child.communicate()
            pytest.fail("the child did not start its call: stdout %r, stderr %s"
                        % (b"".join(lines) + out, err.decode(errors="replace")[-2000:]))
        time.sleep(SETTLE)
        signalled = time.monotonic()
        child.send_signal(signal.SIGINT)
        try:
            out, err = child.communicate(timeout=EXIT_WITHIN)
            elapsed = time.monotonic() - signalled
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            elapsed = None
        return elapsed, child.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def _expect_keyboard_interrupt(case):
    elapsed, code, out, err = _interrupt_child(case)
    assert elapsed is not None, ("%s: still running %.1f s after SIGINT (stderr: %s)"
                                 % (case, EXIT_WITHIN, err[-2000:]))
    assert "Exception ignored" not in err, err[-2000:]
    # An uncaught KeyboardInterrupt ends Python with SIGINT, after printing its traceback.
    assert code == -signal.SIGINT, "%s: exit status %r, stderr: %s" % (case, code, err[-2000:])
    assert err.rstrip().endswith("KeyboardInterrupt"), err[-2000:]
    return out


@pytest.mark.parametrize("case", ["from_conv", "from_conv_progress_bar",
                                  "from_conv_progress_callable", "from_conv_list",
                                  "from_conv_tucker"])
def test_ctrl_c_stops_a_decomposition(case):
    _expect_keyboard_interrupt(case)


@pytest.mark.parametrize("case", ["forward", "dense_conv"])
def test_ctrl_c_stops_a_forward_and_the_layer_stays_usable(case):
    out = _expect_keyboard_interrupt(case)
    assert "usable" in out.split()


def test_interrupt_stops_a_call_on_another_thread():
    # fc.interrupt() (fconv_interrupt) from the main thread: a decomposition running on another
    # thread, where no KeyboardInterrupt can reach it, stops with CancelledError.
    w = np.random.default_rng(4).standard_normal((96, 96, 3, 3)).astype(np.float32)
    running, outcome = threading.Event(), []

    def decompose():
        try:
            fc.FactorizedConv.from_conv(w, rank="same", progress=lambda it, err: running.set() or True,
                                        decomposition_kwargs={"n_iter_max": 10**6, "tol": 0.0})
        except BaseException as exc:   # noqa: B902 - inspected below
            outcome.append(exc)

    worker = threading.Thread(target=decompose, daemon=True)   # a failure must not hang pytest
    worker.start()
    assert running.wait(START_WITHIN)
    interrupted = time.monotonic()
    fc.interrupt()
    worker.join(EXIT_WITHIN)
    assert not worker.is_alive(), "still running %.1f s after fc.interrupt()" % EXIT_WITHIN
    assert time.monotonic() - interrupted < EXIT_WITHIN
    assert len(outcome) == 1 and isinstance(outcome[0], fc.CancelledError), outcome
    assert "interrupted" in str(outcome[0])


def test_interrupt_is_harmless_between_calls():
    # An interrupt when nothing runs affects no later call.
    fc.interrupt()
    w = np.random.default_rng(5).standard_normal((4, 3, 3, 3)).astype(np.float32)
    conv = fc.FactorizedConv.from_conv(w, rank=0.5, factorization="tucker")
    x = np.ones((1, 3, 5, 5), dtype=np.float32)
    assert conv(x).shape == (1, 4, 3, 3)


def test_exceptions_raised_while_waiting_interrupt_the_call(monkeypatch):
    # call_interruptibly on the main thread: an exception raised in the waiting thread (here by
    # a patched fconv_interrupt's first caller, the lock wait) stops the call, the created layer
    # is discarded, and the exception comes out. Driven through a fake C function so that the
    # timing is exact: it blocks until fconv_interrupt is called.
    interrupted = threading.Event()
    discarded = []
    real = _lib.lib

    class Library:
        def __getattr__(self, name):
            if name == "fconv_interrupt":
                return interrupted.set
            return getattr(real, name)

    def slow_call():
        assert interrupted.wait(10)
        return 0

    def raise_soon():
        time.sleep(0.2)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    def handler(signum, frame):
        raise RuntimeError("from a signal handler")

    monkeypatch.setattr(_lib, "lib", Library())
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        threading.Thread(target=raise_soon).start()
        with pytest.raises(RuntimeError, match="from a signal handler"):
            _lib.call_interruptibly(slow_call, discard=lambda: discarded.append(True))
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert interrupted.is_set()
    assert discarded == [True]


def test_calls_off_the_main_thread_run_directly():
    seen = []

    def call():
        seen.append(threading.current_thread())
        return 0

    worker = threading.Thread(target=lambda: _lib.call_interruptibly(call))
    worker.start()
    worker.join()
    assert seen == [worker]

"""From Python: outputs that overflow float32 are refused (as NaN inputs
are) unless the check is turned off; empty batches give empty outputs; an output beyond the
memory bound is refused before numpy allocates it; the memory estimate does not grow with
threads a forward cannot use and stays above what it allocates; fc.release_memory returns the
workspace pool to the system."""

import os
import re

import numpy as np
import pytest

import factorconv as fc

from reference import conv_reference

# Forwards sized against the memory bound and peak-RSS measurements: left out of `make check`.
pytestmark = pytest.mark.slow

IMPLEMENTATIONS = [("cp", "factorized"), ("cp", "reconstructed"), ("cp", "mobilenet"), ("cp", "auto"),
                   ("tucker", "factorized"), ("tucker", "reconstructed"), ("tucker", "auto"),
                   ("tt", "factorized"), ("tt", "reconstructed"), ("tt", "auto"),
                   ("dense", "reconstructed")]
ONES = np.ones((16, 16, 3, 3), np.float32)   # rank 1: every factorization reproduces it
PROCESSORS = os.sysconf("SC_NPROCESSORS_ONLN")   # what the library counts running workers against


def ones_layer(factorization, implementation, stride=1):
    return fc.FactorizedConv.from_conv(ONES, stride=stride, padding=1, factorization=factorization,
                                       rank="same" if factorization == "dense" else 1,
                                       implementation=implementation)


def status_field(name):
    """A field of /proc/self/status in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/self/status" % name)


@pytest.fixture
def settings():
    """Restores the process-wide settings a test changes."""
    yield
    fc.set_num_threads(0)
    fc.set_memory_limit(0)
    fc.set_output_check(True)


# -- 10: overflow -------------------------------------------------------------------------------

@pytest.mark.parametrize("factorization,implementation", IMPLEMENTATIONS)
def test_layer_overflow_is_refused(factorization, implementation):
    layer = ones_layer(factorization, implementation)
    for batch in (1, 3):
        with pytest.raises(fc.NumericalError, match="overflowed") as caught:
            layer(np.full((batch, 16, 10, 12), 1e38, np.float32))
        assert caught.value.code == 10
        # One spot of the last image, the rest ordinary values.
        x = np.random.default_rng(batch).standard_normal((batch, 16, 10, 12)).astype(np.float32)
        x[-1, :, 5, 7] = 3e38
        with pytest.raises(fc.NumericalError, match="overflowed"):
            layer(x)
        x[0, 0, 0, 0] = np.nan
        with pytest.raises(fc.NumericalError, match="input"):
            layer(x)
    # Large but finite outputs pass, equal to the float64 reference.
    x = (np.random.default_rng(5).standard_normal((2, 16, 10, 12)) * 1e35).astype(np.float32)
    y = layer(x)
    expected = conv_reference(x, ONES, padding=1)
    assert np.isfinite(y).all()
    assert np.abs(y - expected).max() <= 1e-5 * np.abs(expected).max()


def test_dense_conv_overflow_is_refused():
    for x_shape, w_shape, padding in [((2, 16, 9, 11), (16, 16, 3, 3), 1), ((1, 4, 9, 11), (5, 4, 3, 3), 0),
                                      ((3, 8, 6, 7), (8, 8, 1, 1), 0), ((2, 16, 40), (16, 16, 5), 2)]:
        w = np.ones(w_shape, np.float32)
        with pytest.raises(fc.NumericalError, match="overflowed"):
            fc.conv(np.full(x_shape, 1e38, np.float32), w, padding=padding)
        x = np.ones(x_shape, np.float32)
        x.flat[-1] = np.inf
        with pytest.raises(fc.NumericalError, match="input"):
            fc.conv(x, w, padding=padding)
        with pytest.raises(fc.NumericalError, match="bias"):
            fc.conv(np.ones(x_shape, np.float32), w, bias=np.full(w_shape[0], np.nan, np.float32), padding=padding)


def test_output_check_opt_out(settings):
    assert fc.get_output_check() is True
    layer = ones_layer("cp", "factorized")
    x = np.full((1, 16, 10, 12), 1e38, np.float32)
    fc.set_output_check(False)
    assert fc.get_output_check() is False
    assert not np.isfinite(layer(x)).any()
    assert not np.isfinite(fc.conv(x, ONES, padding=1)).any()
    fc.set_output_check(True)
    with pytest.raises(fc.NumericalError):
        layer(x)
    with pytest.raises(fc.InvalidArgumentError):
        fc.set_output_check(2)


# -- 12: empty batches, outputs beyond the bound --------------------------------------------------

@pytest.mark.parametrize("factorization,implementation", IMPLEMENTATIONS)
def test_empty_batch(factorization, implementation):
    layer = ones_layer(factorization, implementation, stride=2)
    y = layer(np.zeros((0, 16, 10, 12), np.float32))
    assert y.shape == (0, 16, 5, 6) and y.dtype == np.float32
    with pytest.raises(fc.InvalidArgumentError):
        layer(np.zeros((1, 16, 0, 12), np.float32))


def test_dense_conv_empty_batch():
    y = fc.conv(np.zeros((0, 4, 6, 6), np.float32), np.ones((3, 4, 3, 3), np.float32), stride=(2, 1))
    assert y.shape == (0, 3, 2, 4) and y.dtype == np.float32


def test_output_beyond_the_bound_is_refused_before_allocating(settings, monkeypatch):
    fc.set_memory_limit(32 << 20)
    asked = []
    real_empty = np.empty

    def spy(shape, *args, **kwargs):
        asked.append(int(np.prod(shape)) * 4)
        return real_empty(shape, *args, **kwargs)

    monkeypatch.setattr(np, "empty", spy)
    layer = fc.FactorizedConv(1, 1, (1, 1), rank=1)
    x = np.zeros((1, 1, 4096, 4096), np.float32)        # a 64 MiB output under a 32 MiB bound
    for call in (lambda: layer(x), lambda: fc.conv(x, np.ones((1, 1, 1, 1), np.float32))):
        with pytest.raises(fc.OutOfMemoryError, match="memory limit") as caught:
            call()
        assert caught.value.code == 5
    assert max(asked, default=0) <= 32 << 20, "numpy allocated an output beyond the bound"


# -- 11: memory accounting, release ----------------------------------------------------------------

def estimate(layer, x):
    """The bytes the library's memory check counts for ``layer(x)``: read from the refusal under
    a bound just above the output alone (which output_shape checks first)."""
    output_bytes = layer(x[:1, :, ...]).nbytes * x.shape[0]
    fc.set_memory_limit(output_bytes + 1)
    try:
        layer(x)
        return float(output_bytes)
    except fc.OutOfMemoryError as error:
        value, unit = re.search(r"needs ([0-9.]+) (bytes|KiB|MiB|GiB)", error.message).groups()
        return float(value) * {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]
    finally:
        fc.set_memory_limit(0)


LAYERS = {
    "cp": lambda: fc.FactorizedConv(64, 64, (3, 3), padding=1, factorization="cp", rank=0.1),
    "cp mobilenet": lambda: fc.FactorizedConv(64, 64, (3, 3), padding=1, factorization="cp", rank=0.1,
                                              implementation="mobilenet"),
    "tucker": lambda: fc.FactorizedConv(64, 64, (3, 3), padding=1, factorization="tucker", rank=0.5),
    "tt": lambda: fc.FactorizedConv(64, 64, (3, 3), padding=1, factorization="tt", rank=0.5),
    "reconstructed": lambda: fc.FactorizedConv(64, 64, (3, 3), padding=1, factorization="cp", rank=0.1,
                                               implementation="reconstructed"),
    "reconstructed 1-D": lambda: fc.FactorizedConv(32, 32, (5,), padding=2, factorization="tucker", rank=0.5,
                                                   implementation="reconstructed"),
    "reconstructed strided": lambda: fc.FactorizedConv(8, 8, (3, 3), stride=2, factorization="cp", rank=0.5,
                                                       implementation="reconstructed"),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_estimate_ignores_idle_threads_and_bounds_the_peak(name, settings):
    layer = LAYERS[name]()
    x_shape = (1, layer.in_channels) + ((96 * 1024,) if layer.order == 1 else (320, 320))
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    estimates = {}
    for threads in sorted({1, 2, PROCESSORS, 64}):
        fc.set_num_threads(threads)
        estimates[threads] = estimate(layer, x)
        # Warm up: OpenBLAS keeps a packing buffer per thread that calls it, outside the library's
        # accounting (and the pool); it must exist before measuring. Which worker-pool thread
        # runs which part of a call is not fixed (a late helper's parts run on the caller), so
        # a few calls are needed before every thread has called BLAS at least once.
        for _ in range(6):
            layer(x)
        fc.release_memory()
        # The peak resident set during the forward, above what was resident before it.
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = status_field("VmRSS")
        layer(x)
        grown = status_field("VmHWM") - before
        if name == "tt" and threads > 1 and grown > estimates[threads] + (8 << 20):
            # Known defect, open: since forwards run on the persistent worker pool, the TT
            # layer's peak at 2+ threads is sometimes about one stage's scratch (~10 MB here)
            # above the estimate, depending on which thread ran which part.
            pytest.xfail("TT peak above the estimate under worker-pool scheduling: %r"
                         % ((threads, grown, estimates[threads]),))
        assert grown <= estimates[threads] + (8 << 20), (threads, grown, estimates[threads])
    # Threads beyond the processors add nothing (but a flag per worker of a split).
    assert estimates[64] <= estimates[PROCESSORS] + 65536, estimates
    if not name.startswith("reconstructed"):
        # Batch 1 runs one image at a time: only its stages' small per-worker scratch may grow.
        assert estimates[64] <= 1.02 * estimates[1], estimates


def test_batch_one_fits_at_64_threads_when_it_fits_at_one(settings):
    layer = LAYERS["cp"]()
    x = np.random.default_rng(1).standard_normal((1, 64, 512, 512)).astype(np.float32)
    fc.set_num_threads(1)
    expected = layer(x)
    limit = int(estimate(layer, x) * 1.01) + 4096
    fc.set_memory_limit(limit)
    fc.set_num_threads(64)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_release_memory_returns_the_pool(settings):
    fc.release_memory()
    layer = fc.FactorizedConv(16, 16, (3, 3), padding=1, factorization="tucker", rank="same")
    x = np.random.default_rng(2).standard_normal((1, 16, 1024, 1024)).astype(np.float32)
    # A first forward: OpenBLAS keeps a packing buffer per thread that calls it, outside the pool.
    layer(x)
    fc.release_memory()
    baseline = status_field("VmRSS")
    y = layer(x)
    del y
    held = status_field("VmRSS") - baseline
    assert held > 64 << 20, "the forward kept no workspace: the test measures nothing"
    fc.release_memory()
    released = status_field("VmRSS") - baseline
    assert released < held / 4, (held, released)
    assert fc.release_memory() is None

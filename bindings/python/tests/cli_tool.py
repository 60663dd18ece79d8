"""Runs the `factorconv` command-line tool from the tests: the binary named by $FACTORCONV_CLI
(the Makefile sets it) or the source tree's release build; tests skip when it is not built."""

import os
import subprocess

import numpy as np
import pytest


def cli_path():
    """The tool's path; skips the calling test when it is not built."""
    path = os.environ.get("FACTORCONV_CLI")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "..", ".build-cli", "factorconv")
    if not os.path.isfile(path):
        pytest.skip("the factorconv tool is not built (make cli)")
    return path


def run_cli(*args, timeout=300):
    """Runs the tool with `args` (converted to str); returns the CompletedProcess. A call still
    running after `timeout` seconds is killed and fails the test (no test waits forever)."""
    try:
        return subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("factorconv %s did not finish within %s s" % (" ".join(map(str, args)), timeout))


# A timeout far above what refusing a path takes: a call that blocks on a FIFO reaches it.
FIFO_TIMEOUT = 10


def kernel_files(directory):
    """Writes a small kernel (w.npy, 4x3x3), bias (b.npy) and input (x.npy, 1x3x8) into
    `directory` and compresses the kernel into layer.safetensors (CP rank 2); returns its path."""
    rng = np.random.default_rng(7)
    np.save(directory / "w.npy", rng.standard_normal((4, 3, 3)).astype(np.float32))
    np.save(directory / "b.npy", rng.standard_normal(4).astype(np.float32))
    np.save(directory / "x.npy", rng.standard_normal((1, 3, 8)).astype(np.float32))
    layer = directory / "layer.safetensors"
    r = run_cli("compress", directory / "w.npy", "-o", layer, "--rank", "2", "-q")
    assert r.returncode == 0, r.stderr
    return layer


def expect_not_regular(result, path):
    """Checks that the tool failed (exit 1) saying that `path` is not a regular file."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("factorconv: error: ")
    assert str(path) in result.stderr and "not a regular file" in result.stderr, result.stderr

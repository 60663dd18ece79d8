"""Readers refuse paths that are not regular files before `open` can block:
a FIFO as any input of the command-line tool or of `FactorizedConv.load` is an error naming
it, within a timeout (a regression fails instead of hanging the suite); so is a directory."""

import os
import subprocess
import sys

import pytest

import factorconv as fc
from factorconv import _lib
from cli_tool import FIFO_TIMEOUT, expect_not_regular, kernel_files, run_cli

FIFO_INPUTS = {
    "info": lambda fifo, files: ("info", fifo),
    "run layer": lambda fifo, files: ("run", fifo, files / "x.npy", "-o", files / "y.npy"),
    "run input": lambda fifo, files: ("run", files / "layer.safetensors", fifo, "-o", files / "y.npy"),
    "compress kernel": lambda fifo, files: ("compress", fifo, "-o", files / "out.safetensors"),
    "compress bias": lambda fifo, files: ("compress", files / "w.npy", "--bias-npy", fifo,
                                          "-o", files / "out.safetensors"),
    "bench": lambda fifo, files: ("bench", fifo, "--input-shape", "1,3,8"),
}


@pytest.mark.parametrize("case", sorted(FIFO_INPUTS))
def test_cli_refuses_a_fifo_input(tmp_path, case):
    kernel_files(tmp_path)
    npy = case in ("run input", "compress kernel", "compress bias")
    fifo = tmp_path / ("in.npy" if npy else "in.safetensors")
    os.mkfifo(fifo)
    expect_not_regular(run_cli(*FIFO_INPUTS[case](fifo, tmp_path), timeout=FIFO_TIMEOUT), fifo)
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "out.safetensors").exists()


def test_cli_refuses_a_directory_input(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    expect_not_regular(run_cli("info", tmp_path / "d.safetensors", timeout=FIFO_TIMEOUT),
                       tmp_path / "d.safetensors")


def test_python_load_refuses_a_fifo(tmp_path):
    # fconv_conv_load through ctypes, in a child process so that a blocking open cannot hang us.
    fifo = tmp_path / "f.safetensors"
    os.mkfifo(fifo)
    code = ("import factorconv as fc, sys\n"
            "try:\n    fc.FactorizedConv.load(sys.argv[1])\n"
            "except fc.IOError as e:\n    print('IOError', e)\n")
    env = dict(os.environ, FACTORCONV_LIB=_lib.lib._name,
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(fc.__file__))))
    try:
        r = subprocess.run([sys.executable, "-c", code, str(fifo)], env=env, capture_output=True,
                           text=True, timeout=FIFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("FactorizedConv.load blocked on a FIFO")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("IOError") and "not a regular file" in r.stdout and str(fifo) in r.stdout

"""The tool's messages as a user meets them: one error style for usage and runtime errors, a
.npy file named as such where a layer file is expected, a warning for a rank that makes the
layer larger than the dense conv, completion scripts, and the progress bar's elapsed time and
estimate on a terminal."""

import os
import pty
import select
import subprocess

import numpy as np

from cli_tool import cli_path, kernel_files, run_cli

ERROR = "factorconv: error: "


def test_usage_and_runtime_errors_share_one_style(tmp_path):
    layer = kernel_files(tmp_path)
    usage = run_cli("compress", tmp_path / "w.npy", "-o", tmp_path / "out.safetensors", "--no-such-option")
    assert usage.returncode == 2
    assert usage.stderr.startswith(ERROR + "Unknown option '--no-such-option'"), usage.stderr
    assert "Usage: factorconv compress" in usage.stderr
    missing = run_cli("info")
    assert missing.returncode == 2 and missing.stderr.startswith(ERROR + "Missing expected argument"), missing.stderr
    runtime = run_cli("run", layer, tmp_path / "absent.npy", "-o", tmp_path / "y.npy")
    assert runtime.returncode == 1 and runtime.stderr.startswith(ERROR), runtime.stderr
    assert "Error:" not in usage.stderr + missing.stderr + runtime.stderr


def test_info_on_a_npy_file_says_it_is_not_a_safetensors_file(tmp_path):
    kernel_files(tmp_path)
    result = run_cli("info", tmp_path / "w.npy")
    assert result.returncode == 1
    assert result.stderr == "%s'%s' is not a safetensors file (it is a .npy file)\n" % (ERROR, tmp_path / "w.npy")


def test_rank_above_the_dense_size_warns(tmp_path):
    kernel_files(tmp_path)
    larger = run_cli("compress", tmp_path / "w.npy", "-o", tmp_path / "big.safetensors", "--rank", "1.5", "-q")
    assert larger.returncode == 0, larger.stderr
    assert larger.stderr.startswith("factorconv: warning: rank 1.5 gives "), larger.stderr
    assert "more than the dense conv's 36" in larger.stderr
    smaller = run_cli("compress", tmp_path / "w.npy", "-o", tmp_path / "small.safetensors", "--rank", "0.5", "-q")
    assert smaller.returncode == 0 and smaller.stderr == "", smaller.stderr
    assert "above 1 makes the factorized layer larger" in run_cli("compress", "--help").stdout


def test_completion_scripts():
    for shell, marker in [("bash", "complete -o filenames -F _factorconv factorconv"),
                          ("zsh", "#compdef factorconv"), ("fish", "complete -c 'factorconv'")]:
        result = run_cli("completion", shell)
        assert result.returncode == 0 and marker in result.stdout, (shell, result.stderr)
        assert "compress" in result.stdout and "rank" in result.stdout
    wrong = run_cli("completion", "tcsh")
    assert wrong.returncode == 2 and wrong.stderr.startswith(ERROR + "The value 'tcsh' is invalid")


def test_progress_bar_shows_elapsed_time_and_estimate_on_a_terminal(tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "w.npy", rng.standard_normal((32, 32, 3, 3)).astype(np.float32))
    leader, follower = pty.openpty()
    # A tolerance no iteration reaches, so CP-ALS runs every sweep and the bar redraws.
    process = subprocess.Popen([cli_path(), "compress", str(tmp_path / "w.npy"), "-o", str(tmp_path / "l.safetensors"),
                                "--rank", "16", "--n-iter-max", "40", "--tol", "0"],
                               stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            process.kill()
            raise AssertionError("no progress output within 120 s: %r" % drawn)
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the tool exited and closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    lines = drawn.decode("utf-8").split("\r")
    progress = [line for line in lines if "iteration" in line]
    assert progress, drawn
    assert any("s, ≤ " in line and line.rstrip().endswith("s left") for line in progress), progress

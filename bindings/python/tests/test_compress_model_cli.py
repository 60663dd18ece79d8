"""`python -m factorconv compress-model` and the `factorconv compress-model` tool that runs it:
a run end to end (bundle, JSON report, table), usage errors, and Ctrl-C — SIGINT once the first
layer is done and the next ones are deep in decompositions far longer than the test waits: the
command exits 130 promptly, ends its worker processes, and leaves a bundle with the finished
layer and a report marking the others 'interrupted'."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import factorconv as fc
from factorconv import _bundle_io
from child_signals import child_environment, default_sigint
from cli_tool import cli_path

# How long after SIGINT the command may take to exit (the interrupted decomposition stops
# within a fraction of a second; the rest is writing the bundle and report on a loaded machine).
EXIT_WITHIN = 10.0
# How long the first, small layer may take (imports included).
FIRST_LAYER_WITHIN = 60.0


def _model(path):
    """A safetensors model: 'a_fast', an exact CP rank-2 kernel (its max_error search is quick),
    then two 128x128x3x3 random kernels whose CP search starts with a rank-563 decomposition
    (tens of seconds)."""
    from safetensors.numpy import save_file
    rng = np.random.default_rng(8)
    a, b, c = rng.standard_normal((8, 2)), rng.standard_normal((8, 2)), rng.standard_normal((3, 2))
    tensors = {"a_fast.weight": np.einsum("ar,br,cr->abc", a, b, c).astype(np.float32),
               "a_fast.bias": rng.standard_normal(8).astype(np.float32)}
    for name in ("b_slow1", "b_slow2"):
        tensors[name + ".weight"] = rng.standard_normal((128, 128, 3, 3)).astype(np.float32)
    save_file(tensors, str(path))


def test_compress_model_command(tmp_path):
    _model(tmp_path / "m.safetensors")
    result = subprocess.run(
        [sys.executable, "-m", "factorconv", "compress-model", str(tmp_path / "m.safetensors"),
         "-o", str(tmp_path / "m.bundle"), "--report", str(tmp_path / "r.json"),
         "--factorization", "tucker", "--rank", "0.2", "--exclude", "b_slow2",
         "--geometry", "b_*=1,1,1", "--workers", "1"],
        capture_output=True, text=True, env=child_environment(), timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    layers = {e["name"]: e for e in report["layers"]}
    assert layers["b_slow1"]["status"] == "compressed" and layers["b_slow1"]["padding"] == [1, 1]
    assert layers["b_slow2"]["reason"] == "excluded by 'b_slow2'"
    assert "b_slow1" in result.stdout and "kept" in result.stdout
    assert "[1/" in result.stderr   # stderr is not a terminal: one line per layer
    bundle = _bundle_io.read_bundle(str(tmp_path / "m.bundle"))
    assert sorted(bundle) == sorted(n for n, e in layers.items() if e["status"] == "compressed")
    assert bundle["b_slow1"].padding.tolist() == [1, 1]


@pytest.mark.parametrize("arguments, message", [
    (["--rank", "abc"], "rank must be"),
    (["--max-error", "2"], "max-error must be"),
    (["--geometry", "conv1=1,1"], "NAME=stride,padding,dilation"),
])
def test_usage_errors_exit_2(tmp_path, arguments, message):
    result = subprocess.run([sys.executable, "-m", "factorconv", "compress-model", "w.safetensors",
                             "-o", "b.bundle", *arguments], capture_output=True, text=True,
                            env=child_environment(), cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and message in result.stderr


def test_missing_weights_exit_1(tmp_path):
    result = subprocess.run([sys.executable, "-m", "factorconv", "compress-model",
                             str(tmp_path / "none.safetensors"), "-o", str(tmp_path / "b.bundle")],
                            capture_output=True, text=True, env=child_environment(), timeout=120)
    assert result.returncode == 1 and "no such file" in result.stderr


def _children(pid):
    """The pids of the processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as file:
                    fields = file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _command(runner):
    """The compress-model command: the Python module's, or the `factorconv` tool's (which
    replaces itself with the same Python command)."""
    if runner == "tool":
        return [cli_path(), "compress-model"]
    return [sys.executable, "-m", "factorconv", "compress-model"]


@pytest.mark.parametrize("runner, workers", [("python", 1), ("python", 2), ("tool", 2)])
def test_ctrl_c_keeps_the_finished_layers(tmp_path, runner, workers):
    _model(tmp_path / "m.safetensors")
    command = _command(runner) + [
        str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "m.bundle"),
        "--report", str(tmp_path / "r.json"), "--factorization", "cp", "--max-error", "0.01",
        "--workers", str(workers)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=child_environment(), preexec_fn=default_sigint)
    lines = []

    def read_stderr():
        for line in child.stderr:
            lines.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + FIRST_LAYER_WITHIN
        while not any(line.startswith("[1/3] a_fast") for line in lines):
            if time.monotonic() > deadline or child.poll() is not None:
                pytest.fail("the first layer did not finish: %r" % "".join(lines))
            time.sleep(0.05)
        time.sleep(0.5)               # the slow decompositions are under way
        workers_seen = _children(child.pid)
        assert len(workers_seen) >= (2 if workers > 1 else 0)
        signalled = time.monotonic()
        child.send_signal(signal.SIGINT)
        try:
            child.wait(EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail("compress-model did not exit within %.0f s of SIGINT" % EXIT_WITHIN)
        elapsed = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader.join(5)
    stdout = child.stdout.read()
    assert child.returncode == 130, (child.returncode, "".join(lines))
    assert elapsed < EXIT_WITHIN
    assert "kept 1 compressed layer(s)" in "".join(lines) and "a_fast" in "".join(lines)
    assert "interrupted" in stdout
    bundle = _bundle_io.read_bundle(str(tmp_path / "m.bundle"))
    assert list(bundle) == ["a_fast"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["interrupted"] is True
    status = {e["name"]: e["status"] for e in report["layers"]}
    assert status == {"a_fast": "compressed", "b_slow1": "interrupted", "b_slow2": "interrupted"}
    # No worker process outlives the command.
    time.sleep(0.2)
    assert not [pid for pid in workers_seen if _alive(pid)]


def test_tool_runs_the_python_command(tmp_path):
    """`factorconv compress-model` gives the Python command's bundle, output and exit codes."""
    tool = cli_path()
    _model(tmp_path / "m.safetensors")
    arguments = [str(tmp_path / "m.safetensors"), "--factorization", "tt", "--rank", "0.2",
                 "--exclude", "b_*", "--workers", "1"]
    env = child_environment()
    by_tool = subprocess.run([tool, "compress-model", *arguments, "-o", str(tmp_path / "t.bundle")],
                             capture_output=True, text=True, env=env, timeout=300)
    assert by_tool.returncode == 0, by_tool.stderr
    by_python = subprocess.run([sys.executable, "-m", "factorconv", "compress-model", *arguments,
                                "-o", str(tmp_path / "p.bundle")],
                               capture_output=True, text=True, env=env, timeout=300)
    assert by_python.returncode == 0, by_python.stderr
    assert (tmp_path / "t.bundle").read_bytes() == (tmp_path / "p.bundle").read_bytes()
    assert list(fc.load_layers(str(tmp_path / "t.bundle"))) == ["a_fast"]
    usage = subprocess.run([tool, "compress-model", "w.safetensors", "-o", "b", "--rank", "x"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert usage.returncode == 2 and "rank must be" in usage.stderr
    helped = subprocess.run([tool, "compress-model", "--", "--help"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert helped.returncode == 0 and "--max-error" in helped.stdout


def test_tool_says_what_is_missing(tmp_path):
    tool = cli_path()
    env = dict(child_environment(), FACTORCONV_PYTHON=str(tmp_path / "no-python3"))
    result = subprocess.run([tool, "compress-model", "m.safetensors", "-o", "b"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "cannot be started" in result.stderr and "no-python3" in result.stderr
    # A Python that cannot import the package (its library cannot be loaded).
    env = dict(child_environment(), FACTORCONV_LIB=str(tmp_path / "missing.so"))
    result = subprocess.run([tool, "compress-model", "m.safetensors", "-o", "b"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "cannot import" in result.stderr and "missing.so" in result.stderr

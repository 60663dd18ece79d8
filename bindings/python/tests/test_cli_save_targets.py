"""What a save does with what is already at the output path, through the
command-line tool and the Python layer: FIFOs and device nodes are refused and left in place,
symlinks are written through, an existing file keeps its owner and mode, names up to NAME_MAX
work, and errors name the final path."""

import os
import stat

import numpy as np
import pytest

import factorconv as fc
from cli_tool import FIFO_TIMEOUT, expect_not_regular, kernel_files, run_cli

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (device nodes, chown)")

SAVES = {
    "compress": lambda files, out: ("compress", files / "w.npy", "-o", out, "--rank", "2", "-q"),
    "run": lambda files, out: ("run", files / "layer.safetensors", files / "x.npy", "-o", out),
}


def _check_saved(kind, path):
    if kind == "compress":
        assert fc.FactorizedConv.load(str(path)).rank == 2
    else:
        assert np.load(path).shape == (1, 4, 6)


@pytest.mark.parametrize("kind", sorted(SAVES))
def test_cli_output_to_a_fifo_is_refused(tmp_path, kind):
    kernel_files(tmp_path)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    expect_not_regular(run_cli(*SAVES[kind](tmp_path, fifo), timeout=FIFO_TIMEOUT), fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@as_root
@pytest.mark.parametrize("kind", sorted(SAVES))
def test_cli_output_to_a_character_device_is_refused(tmp_path, kind):
    kernel_files(tmp_path)
    device = tmp_path / "null"          # a device node like /dev/null, in the test's own directory
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = os.lstat(device)
    expect_not_regular(run_cli(*SAVES[kind](tmp_path, device), timeout=FIFO_TIMEOUT), device)
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


@pytest.mark.parametrize("kind", sorted(SAVES))
def test_cli_output_through_a_symlink_writes_its_target(tmp_path, kind):
    kernel_files(tmp_path)
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "target.out"
    target.write_bytes(b"old")
    link = tmp_path / "link.out"
    os.symlink("sub/target.out", link)
    r = run_cli(*SAVES[kind](tmp_path, link))
    assert r.returncode == 0, r.stderr
    assert os.path.islink(link) and os.readlink(link) == "sub/target.out"
    _check_saved(kind, target)
    assert sorted(os.listdir(tmp_path / "sub")) == ["target.out"]


@as_root
@pytest.mark.parametrize("kind", sorted(SAVES))
def test_cli_output_keeps_owner_and_mode(tmp_path, kind):
    kernel_files(tmp_path)
    out = tmp_path / "owned.out"
    out.write_bytes(b"old")
    os.chown(out, 4242, 4343)
    os.chmod(out, 0o600)
    r = run_cli(*SAVES[kind](tmp_path, out))
    assert r.returncode == 0, r.stderr
    info = os.lstat(out)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o600)
    _check_saved(kind, out)


@pytest.mark.parametrize("kind", sorted(SAVES))
def test_cli_output_name_of_252_characters(tmp_path, kind):
    kernel_files(tmp_path)
    out = tmp_path / ("n" * 248 + ".out")
    before = set(os.listdir(tmp_path))
    r = run_cli(*SAVES[kind](tmp_path, out))
    assert r.returncode == 0, r.stderr
    _check_saved(kind, out)
    assert set(os.listdir(tmp_path)) - before == {out.name}


def test_cli_output_error_names_the_final_path(tmp_path):
    kernel_files(tmp_path)
    out = tmp_path / "missing" / "layer.safetensors"
    r = run_cli(*SAVES["compress"](tmp_path, out))
    assert r.returncode == 1 and str(out) in r.stderr and ".tmp" not in r.stderr, r.stderr


def test_python_save_refuses_a_fifo_and_writes_through_a_symlink(tmp_path):
    conv = fc.FactorizedConv(2, 3, (3,), factorization="cp", rank=2, seed=1)
    fifo = tmp_path / "f.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(fc.IOError, match="not a regular file"):
        conv.save(str(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "t.safetensors").write_bytes(b"")
    os.symlink("t.safetensors", tmp_path / "l.safetensors")
    conv.save(str(tmp_path / "l.safetensors"))
    assert os.path.islink(tmp_path / "l.safetensors")
    assert fc.FactorizedConv.load(str(tmp_path / "t.safetensors")).rank == 2

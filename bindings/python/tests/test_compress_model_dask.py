"""compress_model on a Dask cluster: a LocalCluster of worker processes started here gives the
same bundle, byte for byte, as local worker processes (each layer's seed comes from the run's
seed and its name, and every task runs FactorConv on one thread)."""

import subprocess
import sys

import numpy as np
import pytest

import factorconv as fc
from child_signals import child_environment


def test_dask_local_cluster_gives_the_same_bundle_as_local_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    # Kernels of a shape whose CP decomposition depends on the thread count.
    model = {"block%d.conv.weight" % i: rng.standard_normal((128, 129, 3)).astype(np.float32)
             for i in range(4)}
    model["block0.conv.bias"] = rng.standard_normal(128).astype(np.float32)
    from safetensors.numpy import save_file
    save_file(model, str(tmp_path / "m.safetensors"))
    for factorization in ("cp", "tt"):
        fc.compress_model(model, tmp_path / ("local-%s.bundle" % factorization),
                          factorization=factorization, rank=0.3, workers=2, progress=False, seed=3)
    # The cluster's workers default to another thread count than this process's workers: the
    # tasks' own setting (one thread) is what makes the bytes equal.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None, silence_logs=40,
                                  env={"FACTORCONV_NUM_THREADS": "3"}) as cluster, \
            distributed.Client(cluster) as client:
        for factorization in ("cp", "tt"):
            report = fc.compress_model(model, tmp_path / ("dask-%s.bundle" % factorization),
                                       factorization=factorization, rank=0.3, progress=False,
                                       seed=3, executor=client.get_executor())
            assert report["totals"]["compressed"] == 4
            local = (tmp_path / ("local-%s.bundle" % factorization)).read_bytes()
            assert (tmp_path / ("dask-%s.bundle" % factorization)).read_bytes() == local
        # The command's --scheduler: a client of its own on the same cluster.
        result = subprocess.run(
            [sys.executable, "-m", "factorconv", "compress-model", str(tmp_path / "m.safetensors"),
             "-o", str(tmp_path / "scheduler.bundle"), "--rank", "0.3", "--seed", "3",
             "--scheduler", cluster.scheduler_address],
            capture_output=True, text=True, env=child_environment(), timeout=300)
        assert result.returncode == 0, result.stderr
        assert ((tmp_path / "scheduler.bundle").read_bytes()
                == (tmp_path / "local-cp.bundle").read_bytes())

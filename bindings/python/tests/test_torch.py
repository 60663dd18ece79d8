"""fc.conv against torch.nn.functional.conv{1,2,3}d (torch is installed by make deps)."""

import numpy as np
import pytest

import factorconv as fc
from reference import relative_error

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_matches_torch(order, seed):
    rng = np.random.default_rng(100 * order + seed)
    sizes = rng.integers(5, {1: 30, 2: 14, 3: 8}[order], order)
    kernel = rng.integers(1, 4, order)
    stride, padding, dilation = (rng.integers(1, 3, order), rng.integers(0, 2, order),
                                 rng.integers(1, 3, order))
    x = rng.standard_normal((2, 5, *sizes)).astype(np.float32)
    weight = rng.standard_normal((6, 5, *kernel)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32) if seed % 2 else None
    geometry = [tuple(int(v) for v in g) for g in (stride, padding, dilation)]
    functional = getattr(torch.nn.functional, "conv%dd" % order)
    expected = functional(torch.from_numpy(x), torch.from_numpy(weight),
                          None if bias is None else torch.from_numpy(bias), *geometry).numpy()
    got = fc.conv(x, weight, bias, *geometry)
    assert got.shape == expected.shape
    assert relative_error(got, expected) <= 1e-5

"""fc.conv reproduces y_dense_f32 (tltorch/PyTorch fp32 dense conv) of every single-layer case."""

import numpy as np
import pytest

import factorconv as fc
import golden
from reference import conv_reference, relative_error

TOLERANCE = 1e-5
SINGLE = golden.cases("single")


def test_golden_set_is_present():
    # 43 single-layer cases in golden-v1; an empty parametrization below would pass vacuously.
    assert len(SINGLE) == 43


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_dense_conv_reproduces_golden(case):
    x, kernel = golden.tensor(case, "x"), golden.tensor(case, "kernel")
    bias = golden.tensor(case, "bias") if "bias" in case["tensors"] else None
    expected = golden.tensor(case, "y_dense_f32")
    y = fc.conv(x, kernel, bias, stride=case["stride"], padding=case["padding"],
                dilation=case["dilation"])
    assert y.shape == expected.shape
    assert relative_error(y, expected) <= TOLERANCE


@pytest.mark.parametrize("case", SINGLE[::7], ids=[c["name"] for c in SINGLE[::7]])
def test_reference_reproduces_golden(case):
    # Ties the numpy reference used elsewhere to PyTorch's results.
    x, kernel = golden.tensor(case, "x"), golden.tensor(case, "kernel")
    bias = golden.tensor(case, "bias") if "bias" in case["tensors"] else None
    expected = golden.tensor(case, "y_dense_f32")
    got = conv_reference(x, kernel, bias, case["stride"], case["padding"], case["dilation"])
    assert relative_error(got, expected) <= TOLERANCE


def test_loader_reads_little_endian_at_offset():
    case = SINGLE[0]
    spec = case["tensors"]["x"]
    raw = np.fromfile(golden.os.path.join(golden.GOLDEN_DIR, "tensors.bin"), dtype="<f4",
                      count=spec["count"], offset=spec["offset"])
    np.testing.assert_array_equal(golden.tensor(case, "x").ravel(), raw)

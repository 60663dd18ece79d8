"""Library status codes become the right exception classes, with messages naming the argument."""

import pickle

import numpy as np
import pytest

import factorconv as fc
from factorconv import _errors, _lib

X = np.zeros((1, 3, 8, 8), dtype=np.float32)
W = np.zeros((4, 3, 3, 3), dtype=np.float32)


def raised(exc_type, *args, **kwargs):
    """The exception fc.conv(*args, **kwargs) raises; it must be an ``exc_type``."""
    with pytest.raises(exc_type) as info:
        fc.conv(*args, **kwargs)
    return info.value


# (description, call arguments, expected class, expected status code, word the message names)
LIBRARY_ERRORS = [
    ("channel mismatch", (X, np.zeros((4, 2, 3, 3))), {}, fc.ShapeMismatchError, 2, "channels"),
    ("ndim mismatch", (X, np.zeros((4, 3, 3))), {}, fc.ShapeMismatchError, 2, "weight_ndim"),
    ("input ndim < 3", (np.zeros((1, 3)), np.zeros((4, 3))), {}, fc.ShapeMismatchError, 2,
     "input_ndim"),
    ("kernel too large", (X, np.zeros((4, 3, 9, 3))), {}, fc.ShapeMismatchError, 2, "kernel"),
    ("negative stride", (X, W), {"stride": -1}, fc.InvalidArgumentError, 1, "stride"),
    ("zero stride", (X, W), {"stride": (1, 0)}, fc.InvalidArgumentError, 1, "stride"),
    ("negative padding", (X, W), {"padding": -2}, fc.InvalidArgumentError, 1, "padding"),
    ("zero dilation", (X, W), {"dilation": 0}, fc.InvalidArgumentError, 1, "dilation"),
]


@pytest.mark.parametrize("args,kwargs,cls,code,word",
                         [case[1:] for case in LIBRARY_ERRORS], ids=[c[0] for c in LIBRARY_ERRORS])
def test_library_errors_map_to_classes(args, kwargs, cls, code, word):
    error = raised(cls, *args, **kwargs)
    assert isinstance(error, ValueError) and isinstance(error, fc.FactorConvError)
    assert error.code == code
    assert error.code_name == _errors.code_name(code)
    assert word in error.message
    assert str(error).startswith(error.code_name + ": ")


# Errors the binding raises itself, before the call, where C could not check (no lengths passed).
@pytest.mark.parametrize("kwargs,cls,word", [
    ({"bias": np.zeros(3)}, fc.ShapeMismatchError, "bias"),
    ({"bias": np.zeros((4, 1))}, fc.ShapeMismatchError, "bias"),
    ({"stride": (1, 1, 1)}, fc.InvalidArgumentError, "stride"),
    ({"padding": (1,)}, fc.InvalidArgumentError, "padding"),
    ({"dilation": 1.5}, fc.InvalidArgumentError, "dilation"),
    ({"stride": 2**63}, fc.InvalidArgumentError, "stride"),
])
def test_binding_side_errors(kwargs, cls, word):
    error = raised(cls, X, W, **kwargs)
    assert word in error.message


def test_complex_input_is_refused():
    error = raised(fc.InvalidArgumentError, X.astype(np.complex64), W)
    assert "x" in error.message and "complex" in error.message


def test_error_survives_a_valid_call_in_between():
    # Each raised error carries its own message, not whatever the library reports later.
    first = raised(fc.InvalidArgumentError, X, W, stride=-1)
    fc.conv(X, W)
    assert "stride" in first.message


def test_set_num_threads_out_of_range():
    for n in (-1, 1025, 2**40):
        with pytest.raises(fc.InvalidArgumentError) as info:
            fc.set_num_threads(n)
        assert "n_threads" in info.value.message
    assert fc.get_num_threads() >= 1


EXPECTED_BASES = {
    fc.InvalidArgumentError: ValueError, fc.ShapeMismatchError: ValueError,
    fc.LayerIndexError: IndexError, fc.UnsupportedError: NotImplementedError,
    fc.OutOfMemoryError: MemoryError, fc.FormatError: ValueError, fc.FactorConvIOError: OSError,
    fc.BufferTooSmallError: ValueError, fc.NumericalError: ArithmeticError,
    fc.InternalError: RuntimeError, fc.CancelledError: fc.FactorConvError,
}


@pytest.mark.parametrize("cls,base", EXPECTED_BASES.items(), ids=lambda v: v.__name__)
def test_classes_are_also_builtins(cls, base):
    assert issubclass(cls, fc.FactorConvError) and issubclass(cls, base)
    error = _errors.make_error(cls.status_code, "the message")
    assert type(error) is cls
    assert (error.code, error.message) == (cls.status_code, "the message")
    assert error.code_name == _lib.lib.fconv_status_string(cls.status_code).decode()
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), clone.code, clone.message) == (cls, error.code, error.message)


def test_io_error_alias_and_no_fake_errno():
    assert fc.IOError is fc.FactorConvIOError
    error = _errors.make_error(_errors.ERR_IO, "cannot open x.safetensors")
    assert isinstance(error, OSError) and error.errno is None


def test_unknown_code_is_a_plain_factorconv_error():
    error = _errors.make_error(99, "future code")
    assert type(error) is fc.FactorConvError
    assert error.code == 99 and error.code_name == "FCONV_UNKNOWN_STATUS"
    assert _lib.lib.fconv_status_string(99).decode() == "FCONV_UNKNOWN_STATUS"


def test_star_import_keeps_builtin_ioerror():
    namespace = {}
    exec("from factorconv import *", namespace)
    assert "IOError" not in namespace and "FactorConvIOError" in namespace

"""Exception classes of FactorConv and the mapping from the C ABI's pinned status codes.

Every error is a :class:`FactorConvError` carrying the status ``code``, its ``code_name``
(as returned by ``fconv_status_string``) and the library's ``message``. Each subclass also
derives from the matching builtin, so ``except ValueError`` keeps working for callers that do
not know about FactorConv.
"""

from ._constants import (  # noqa: F401 - re-exported: the status codes are part of this module's API
    OK, ERR_INVALID_ARGUMENT, ERR_SHAPE_MISMATCH, ERR_INDEX_OUT_OF_RANGE, ERR_UNSUPPORTED,
    ERR_OUT_OF_MEMORY, ERR_FORMAT, ERR_IO, ERR_CANCELLED, ERR_BUFFER_TOO_SMALL, ERR_NUMERICAL,
    ERR_INTERNAL, STATUS_NAMES,
)


def code_name(code):
    """The ``FCONV_*`` name of a status code, or ``"FCONV_UNKNOWN_STATUS"``."""
    return STATUS_NAMES.get(code, "FCONV_UNKNOWN_STATUS")


class FactorConvError(Exception):
    """Base class of every FactorConv error.

    Attributes:
        code: the integer status code of the C ABI.
        code_name: its name, e.g. ``"FCONV_ERR_SHAPE_MISMATCH"``.
        message: the library's explanation, naming the argument at fault.
    """

    #: The status code this class stands for (None for the base class).
    status_code = None

    def __init__(self, message, code=None):
        if code is None:
            code = self.status_code if self.status_code is not None else ERR_INTERNAL
        self.code = int(code)
        self.code_name = code_name(self.code)
        self.message = str(message)
        # One positional argument only: OSError would otherwise read (code, message) as
        # (errno, strerror) and claim an errno that FactorConv never set.
        Exception.__init__(self, "%s: %s" % (self.code_name, self.message))

    def __str__(self):
        return "%s: %s" % (self.code_name, self.message)

    def __reduce__(self):
        # Keeps errors picklable (multiprocessing) despite the non-standard __init__.
        return (type(self), (self.message, self.code))


class InvalidArgumentError(FactorConvError, ValueError):
    """A NULL/missing argument or a value outside its domain (FCONV_ERR_INVALID_ARGUMENT)."""
    status_code = ERR_INVALID_ARGUMENT


class ShapeMismatchError(FactorConvError, ValueError):
    """Shapes that disagree with each other or with the layer (FCONV_ERR_SHAPE_MISMATCH)."""
    status_code = ERR_SHAPE_MISMATCH


class LayerIndexError(FactorConvError, IndexError):
    """A layer index outside the layer grid (FCONV_ERR_INDEX_OUT_OF_RANGE)."""
    status_code = ERR_INDEX_OUT_OF_RANGE


class UnsupportedError(FactorConvError, NotImplementedError):
    """A valid request that FactorConv does not implement (FCONV_ERR_UNSUPPORTED)."""
    status_code = ERR_UNSUPPORTED


class OutOfMemoryError(FactorConvError, MemoryError):
    """An allocation failed or would exceed the memory bound (FCONV_ERR_OUT_OF_MEMORY)."""
    status_code = ERR_OUT_OF_MEMORY


class FormatError(FactorConvError, ValueError):
    """A malformed file or parameter dictionary (FCONV_ERR_FORMAT)."""
    status_code = ERR_FORMAT


class StateDictError(FormatError, RuntimeError):
    """``load_state_dict`` with missing or unexpected keys under ``strict=True``, or values of the
    wrong shape (FCONV_ERR_FORMAT). Also a RuntimeError, which is what torch raises there."""
    status_code = ERR_FORMAT


class FactorConvIOError(FactorConvError, OSError):
    """A file could not be read or written (FCONV_ERR_IO). Exported as ``factorconv.IOError``."""
    status_code = ERR_IO


class CancelledError(FactorConvError):
    """A progress callback asked to stop, or ``interrupt()`` stopped the call
    (FCONV_ERR_CANCELLED)."""
    status_code = ERR_CANCELLED


class BufferTooSmallError(FactorConvError, ValueError):
    """A caller-allocated output has too few elements (FCONV_ERR_BUFFER_TOO_SMALL)."""
    status_code = ERR_BUFFER_TOO_SMALL


class NumericalError(FactorConvError, ArithmeticError):
    """NaN/Inf input or a failed linear-algebra routine (FCONV_ERR_NUMERICAL)."""
    status_code = ERR_NUMERICAL


class InternalError(FactorConvError, RuntimeError):
    """A bug in FactorConv (FCONV_ERR_INTERNAL); please report it."""
    status_code = ERR_INTERNAL


# The documented name is IOError; inside the package namespace it shadows the builtin alias of OSError.
IOError = FactorConvIOError

_CLASS_BY_CODE = {
    cls.status_code: cls
    for cls in (InvalidArgumentError, ShapeMismatchError, LayerIndexError, UnsupportedError,
                OutOfMemoryError, FormatError, FactorConvIOError, CancelledError,
                BufferTooSmallError, NumericalError, InternalError)
}


def error_class(code):
    """The exception class for a non-OK status code (FactorConvError for an unknown code)."""
    return _CLASS_BY_CODE.get(code, FactorConvError)


def make_error(code, message):
    """An exception instance for status ``code`` with the library's ``message``."""
    return error_class(code)(message, code)

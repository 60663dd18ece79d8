"""The ``fconv_options`` handle of a create / from_conv / from_conv_list call, filled from Python
values: each setter picks the C setter by the value's type. Keys are those of
``_constants.OPTION_KEYS`` (the header's list); the library validates the values."""

import ctypes
import numbers

import numpy as np

from . import _lib
from ._constants import OPTION_KEYS
from ._convert import int64_array, is_bool, is_sequence, to_int, to_ints
from ._errors import InvalidArgumentError

_RANK_KINDS = "'same', a float, an int or a tuple of ints"


class Options:
    """An ``fconv_options`` handle, freed on exit (use it in a ``with`` block)."""

    def __init__(self):
        self.ptr = _lib.POINTER_OPTIONS()
        _lib.check(_lib.lib.fconv_options_create(ctypes.byref(self.ptr)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.lib.fconv_options_free(self.ptr)
        self.ptr = None

    @staticmethod
    def _key(key, kind):
        # A key or kind outside the header's list is a bug in this package, not a user error.
        assert kind in OPTION_KEYS[key], (key, kind)
        return key.encode()

    def set_string(self, key, value):
        """A string option (its value checked by the library)."""
        _lib.check(_lib.lib.fconv_options_set_string(self.ptr, self._key(key, "string"),
                                                     value.encode("utf-8")))

    def set_int(self, key, value):
        """An integer option; ``value`` must be an int (bools are refused)."""
        _lib.check(_lib.lib.fconv_options_set_int(self.ptr, self._key(key, "int"),
                                                  to_int(value, key)))

    def set_float(self, key, value):
        """A floating-point option."""
        _lib.check(_lib.lib.fconv_options_set_float(self.ptr, self._key(key, "float"),
                                                    float(value)))

    def set_ints(self, key, values):
        """An integer-list option from a (nested) sequence, flattened in C order."""
        values = to_ints(values, key)
        if not values:
            raise InvalidArgumentError("%s must not be empty" % key)
        _lib.check(_lib.lib.fconv_options_set_ints(self.ptr, self._key(key, "ints"),
                                                   int64_array(values), len(values)))

    def set_flag(self, key, value):
        """A bool (or 0/1) as int 0/1."""
        self.set_int(key, int(value) if is_bool(value) else value)

    def set_int_or_ints(self, key, value):
        """An int, or a sequence of ints."""
        if is_sequence(value):
            self.set_ints(key, value)
        else:
            self.set_int(key, value)

    def set_name(self, key, value):
        """A string option (factorization, implementation, init, ...), refusing non-strings."""
        if not isinstance(value, str):
            raise InvalidArgumentError("%s must be a string, got %r" % (key, value))
        self.set_string(key, value)

    def set_rank(self, rank):
        """'same' | a fraction (float) | one rank (int) | per-mode ranks (sequence)."""
        if isinstance(rank, str):
            self.set_string("rank", rank)
        elif is_bool(rank) or rank is None:
            raise InvalidArgumentError("rank must be %s, got %r" % (_RANK_KINDS, rank))
        elif isinstance(rank, numbers.Integral):
            self.set_int("rank", rank)
        elif isinstance(rank, numbers.Real):
            self.set_float("rank", rank)
        elif is_sequence(rank):
            self.set_ints("rank", rank)
        else:
            raise InvalidArgumentError("rank must be %s, got %r" % (_RANK_KINDS, rank))

    def set_fixed_rank_modes(self, fixed_rank_modes):
        """None (nothing set), 'spatial', or absolute modes."""
        if fixed_rank_modes is None:
            return
        if isinstance(fixed_rank_modes, str):
            self.set_string("fixed_rank_modes", fixed_rank_modes)
        else:
            self.set_ints("fixed_rank_modes", fixed_rank_modes)

    def set_common(self, factorization, implementation, rank, fixed_rank_modes, seed):
        """The options every layer-building call shares; ``seed`` must be an int here."""
        self.set_name("factorization", factorization)
        self.set_name("implementation", implementation)
        self.set_rank(rank)
        self.set_fixed_rank_modes(fixed_rank_modes)
        self.set_int("seed", seed)

    def set_progress(self, callback):
        """A ``_progress.Progress`` (kept alive by the caller for the duration of the call)."""
        _lib.check(_lib.lib.fconv_options_set_progress(self.ptr, callback.c_function, None))


def fresh_seed():
    """A seed drawn from numpy's global random generator: fresh values on every call, and
    reproducible under ``np.random.seed`` (as torch's draws are under ``torch.manual_seed``)."""
    return int(np.random.randint(0, 2**62, dtype=np.int64))


def seed_or_fresh(seed):
    """``seed`` checked (an int >= 0), or a fresh one when it is None."""
    if seed is None:
        return fresh_seed()
    seed = to_int(seed, "seed")
    if seed < 0:
        raise InvalidArgumentError("seed must be >= 0, got %d" % seed)
    return seed

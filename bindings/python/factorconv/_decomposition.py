"""``decomposition_kwargs`` of from_conv / from_conv_list: the keywords tensorly's ``parafac``,
``tucker`` and ``tensor_train`` take (and tltorch's Tucker ``init_from_tensor`` adds), turned into
library options where they mean something here, and a warning naming each one that does not.

What each key does here:

* honoured: ``n_iter_max``, ``tol``, ``l2_reg`` (CP), ``init`` ('svd' | 'random'),
  ``random_state`` (an int, a ``numpy.random.RandomState`` or ``Generator``: the seed is drawn
  from it), ``verbose`` (a progress bar on stderr), ``normalize_factors`` (CP: unit-norm factor
  columns, the norms in ``weights``), ``svd='truncated_svd'`` (what is computed, exactly),
  ``linesearch`` (the default CP iteration line-searches), ``cvg_criterion='abs_rec_error'``
  (the stopping rule used).
* FactorConv's own: ``cp_regularization`` ('proximal' | 'ridge'), ``n_restarts``.
* accepted with a warning when given a value other than tensorly's default, since nothing here
  uses them: ``orthogonalise``, ``return_errors``, ``sparsity``, ``mask``, ``fixed_modes``,
  ``svd_mask_repeats``, ``callback``, ``fixed_factors``, ``unsqueezed_modes``,
  ``unsqueezed_init``, another ``svd`` or ``cvg_criterion``, and any key the chosen
  factorization's decomposition does not take (e.g. ``l2_reg`` for Tucker).
"""

import numbers
import warnings

import numpy as np

from ._convert import is_bool, to_int
from ._errors import InvalidArgumentError

_CP, _TUCKER, _TT = "cp", "tucker", "tt"
_ALL = frozenset((_CP, _TUCKER, _TT))

#: key -> (tensorly's default value, the decompositions that take it).
TENSORLY_KEYS = {
    "n_iter_max": (100, {_CP, _TUCKER}),
    "init": ("svd", {_CP, _TUCKER}),
    "svd": ("truncated_svd", _ALL),
    "normalize_factors": (False, {_CP}),
    "orthogonalise": (False, {_CP}),
    "tol": (None, {_CP, _TUCKER}),
    "random_state": (None, _ALL),
    "verbose": (False, _ALL),
    "return_errors": (False, {_CP, _TUCKER}),
    "sparsity": (None, {_CP}),
    "l2_reg": (None, {_CP}),
    "mask": (None, {_CP, _TUCKER}),
    "cvg_criterion": ("abs_rec_error", {_CP}),
    "fixed_modes": (None, {_CP}),
    "svd_mask_repeats": (5, {_CP}),
    "linesearch": (False, {_CP}),
    "callback": (None, {_CP}),
    "fixed_factors": (None, {_TUCKER}),
    "unsqueezed_modes": (None, {_TUCKER}),      # tltorch's TuckerTensor.init_from_tensor
    "unsqueezed_init": ("average", {_TUCKER}),  # idem
}

#: FactorConv's own keys and the decompositions that use them.
OWN_KEYS = {"cp_regularization": {_CP}, "n_restarts": {_CP}}

#: Keys given as arguments of the decomposition functions, never as keywords of from_conv.
_POSITIONAL = ("rank", "tensor", "input_tensor")

# Keys honoured by setting an option (the option of the same name).
_INT_OPTIONS = ("n_iter_max", "n_restarts")
_FLOAT_OPTIONS = ("tol", "l2_reg")
_STRING_OPTIONS = ("cp_regularization",)


class Decomposition:
    """What a from_conv call's decomposition_kwargs asked for, after ``apply``: the seed used,
    whether to draw a progress bar (``verbose``) and whether to normalize CP factors."""

    def __init__(self):
        self.seed = None
        self.verbose = False
        self.normalize_factors = False


def seed_from_random_state(random_state):
    """An int seed from tensorly's ``random_state`` (None, an int, a RandomState or Generator);
    a generator is advanced by the draw, as tensorly's use would advance it."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**62, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**62))
    seed = to_int(random_state, "decomposition_kwargs['random_state']")
    if seed < 0:
        raise InvalidArgumentError("decomposition_kwargs['random_state'] must be >= 0, got %d"
                                   % seed)
    return seed


def _warn(message):
    warnings.warn(message, UserWarning, stacklevel=4)


def _is_default(value, default):
    if default is None:
        return value is None
    try:
        return bool(value == default)
    except Exception:   # noqa: BLE001 - arrays and odd objects are "not the default"
        return False


def apply(options, factorization, decomposition_kwargs, seed):
    """Sets the decomposition options for ``decomposition_kwargs`` on ``options`` and returns a
    ``Decomposition``. ``seed`` (from the caller's ``seed=``) and ``random_state`` must agree
    when both are given; the seed used is the one given, else None (the caller draws one)."""
    kwargs = dict(decomposition_kwargs or {})
    result = Decomposition()
    factorization = factorization.lower() if isinstance(factorization, str) else factorization
    for key in kwargs:
        if not isinstance(key, str) or (key not in TENSORLY_KEYS and key not in OWN_KEYS):
            if key in _POSITIONAL:
                raise InvalidArgumentError("decomposition_kwargs['%s']: give it as from_conv's "
                                           "own argument" % key)
            raise InvalidArgumentError(
                "decomposition_kwargs has the unknown key %r; known: the keywords of tensorly's "
                "parafac / tucker / tensor_train (%s) and %s"
                % (key, ", ".join(sorted(TENSORLY_KEYS)), ", ".join(sorted(OWN_KEYS))))

    random_state = seed_from_random_state(kwargs.pop("random_state", None))
    if random_state is not None and seed is not None and random_state != seed:
        raise InvalidArgumentError("seed=%r and decomposition_kwargs['random_state'] (seed %r) "
                                   "disagree; give one" % (seed, random_state))
    result.seed = seed if seed is not None else random_state

    for key, value in kwargs.items():
        default, users = TENSORLY_KEYS.get(key) or (None, OWN_KEYS[key])
        if factorization not in users:
            if not _is_default(value, default):
                _warn("decomposition_kwargs['%s'] is not used by the %s decomposition; ignored"
                      % (key, factorization))
            continue
        if key in _INT_OPTIONS:
            options.set_int(key, value)
        elif key in _FLOAT_OPTIONS:
            if is_bool(value) or not isinstance(value, numbers.Real):
                raise InvalidArgumentError("decomposition_kwargs['%s'] must be a float, got %r"
                                           % (key, value))
            options.set_float(key, value)
        elif key in _STRING_OPTIONS:
            options.set_name(key, value)
        elif key == "init":
            if isinstance(value, str):
                options.set_string("init", value)    # the library refuses unknown names
            else:
                _warn("decomposition_kwargs['init']=%r: an initial factorization is not "
                      "supported ('svd' and 'random' are); 'svd' is used" % (value,))
        elif key == "verbose":
            result.verbose = bool(value)
        elif key == "normalize_factors":
            result.normalize_factors = bool(value)
        elif key == "linesearch":
            pass    # the default CP iteration (cp_regularization='proximal') line-searches
        elif not _is_default(value, default):
            _warn("decomposition_kwargs['%s']=%r has no effect in FactorConv; ignored (see the "
                  "README's 'Coming from tltorch')" % (key, value))
    return result


def normalize_cp_factors(state, factor_names):
    """CP parameters with unit-norm factor columns and the norms moved into ``weights`` (the
    same tensor; tensorly's ``normalize_factors=True`` layout). Zero columns stay as they are."""
    weights = state["weight.weights"].astype(np.float64)
    result = dict(state)
    for name in factor_names:
        factor = state[name].astype(np.float64)
        norms = np.linalg.norm(factor, axis=0)
        safe = np.where(norms > 0, norms, 1.0)
        result[name] = (factor / safe).astype(np.float32)
        weights = weights * safe
    result["weight.weights"] = weights.astype(np.float32)
    return result

"""``load_state_dict`` with torch's semantics over ``fconv_conv_set_parameters``, and its result
type ``IncompatibleKeys``."""

import collections

from ._convert import tensor_float32
from ._errors import InvalidArgumentError, StateDictError


class IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                              ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns, as torch's: the names it did not find in the
    state_dict, and the names it did not know."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def load_state_dict(handle, state_dict, strict):
    """Loads ``{name: array or tensor}`` into the layer of ``handle``: with ``strict`` a missing
    or unexpected name raises StateDictError (also a RuntimeError, as torch's); without it,
    unexpected names are ignored and missing ones keep their values. Nothing changes on an
    error. Returns ``IncompatibleKeys``."""
    if not hasattr(state_dict, "items"):
        raise InvalidArgumentError("state_dict must be a mapping name -> array, got %s"
                                   % type(state_dict).__name__)
    known = handle.parameter_names()
    arrays, unexpected = {}, []
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise InvalidArgumentError("state_dict keys must be strings, got %r" % (name,))
        if name not in known:
            unexpected.append(name)
            continue
        array = tensor_float32(value, "state_dict[%r]" % name)
        arrays[name] = array.reshape(1) if array.ndim == 0 else array
    missing = [name for name in known if name not in arrays]
    if strict and (missing or unexpected):
        problems = []
        if unexpected:
            problems.append("unexpected key(s) in state_dict (unknown parameter names): %s"
                            % ", ".join('"%s"' % k for k in unexpected))
        if missing:
            problems.append("missing key(s) in state_dict (missing parameter names): %s"
                            % ", ".join('"%s"' % k for k in missing))
        raise StateDictError("Error(s) in loading state_dict for FactorizedConv: "
                             + "; ".join(problems))
    if arrays:
        # Every parameter given: the library may change the rank (a complete set of factors).
        handle.set_parameters(arrays, strict=not missing)
    return IncompatibleKeys(missing, unexpected)

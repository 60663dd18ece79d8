"""Reconstruction and indexing of CP, Tucker and TT tensors from their parameters, written once
for numpy arrays and torch tensors alike: only indexing, ``reshape``, ``*``, ``@``, ``.sum()`` and
an ``einsum`` passed in by the caller are used (their meaning is the same in both libraries).

Layouts are tltorch's: CP ``weights (R,)`` and ``factors[i] (I_i, R)``; Tucker ``core (R_0..)``
and ``factors[i] (I_i, R_i)``; TT ``factors[i] (R_i, I_i, R_i+1)`` with ``R_0 = R_N = 1``.
Indexing (``tensor[indices]``) contracts the leading modes named by ints and slices those named
by slices, as tltorch's FactorizedTensor ``__getitem__`` does: the result is the same kind of
factorization, or a scalar when every mode is contracted.
"""

import operator
import string

_LETTERS = string.ascii_letters


def cp_to_tensor(weights, factors):
    """sum_r weights[r] * factors[0][:, r] o factors[1][:, r] o ..., computed as
    ``(F_0 * w) @ KhatriRao(F_1, ...)^T`` and reshaped."""
    first = factors[0] * weights
    shape = tuple(f.shape[0] for f in factors)
    if len(factors) == 1:
        return first.sum(1)
    rest = factors[1]
    for factor in factors[2:]:
        # (a, R), (b, R) -> (a * b, R): the rows of `rest` vary slowest (C order).
        rest = (rest[:, None, :] * factor[None, :, :]).reshape((-1, factor.shape[1]))
    return (first @ rest.T).reshape(shape)


def tucker_to_tensor(core, factors, einsum):
    """core x_0 factors[0] x_1 factors[1] ..., one mode product at a time."""
    result = core
    n = len(factors)
    for mode, factor in enumerate(factors):
        modes = _LETTERS[:n]
        out = modes[:mode] + _LETTERS[n] + modes[mode + 1:]
        result = einsum("%s,%s%s->%s" % (modes, _LETTERS[n], modes[mode], out), result, factor)
    return result


def tt_to_tensor(factors):
    """G_0[0, i_0, :] G_1[:, i_1, :] ... G_N-1[:, i_N-1, 0], by successive reshapes and products."""
    shape = tuple(f.shape[1] for f in factors)
    result = factors[0].reshape((-1, factors[0].shape[2]))
    for factor in factors[1:]:
        rank_in, size, rank_out = factor.shape
        result = (result @ factor.reshape((rank_in, size * rank_out))).reshape((-1, rank_out))
    return result.reshape(shape)


def _as_int(index):
    """``index`` as an int if it is one (numpy ints too), else None."""
    if isinstance(index, bool):
        return None
    try:
        return operator.index(index)
    except TypeError:
        return None


def index_list(indices, order):
    """``indices`` (an int, a slice, or a tuple of them) as a list of at most ``order`` entries."""
    entries = list(indices) if isinstance(indices, tuple) else [indices]
    if len(entries) > order:
        raise IndexError("too many indices (%d) for a tensor of order %d" % (len(entries), order))
    for entry in entries:
        if entry is Ellipsis:
            raise IndexError("Ellipsis is not supported in factorized tensor indices")
        if _as_int(entry) is None and not isinstance(entry, slice):
            raise IndexError("factorized tensor indices must be ints or slices, got %r" % (entry,))
    return entries


def cp_index(weights, factors, indices):
    """(weights, factors) of ``cp[indices]``, or a scalar when every mode is contracted."""
    entries = index_list(indices, len(factors))
    kept = []
    for entry, factor in zip(entries, factors):
        i = _as_int(entry)
        if i is None:
            kept.append(factor[entry, :])
        else:
            weights = weights * factor[i, :]
    kept += list(factors[len(entries):])
    if not kept:
        return weights.sum()
    return weights, kept


def tucker_index(core, factors, indices, einsum):
    """(core, factors) of ``tucker[indices]``, or the contracted core (a scalar) when every mode
    is contracted."""
    entries = index_list(indices, len(factors))
    kept = []
    position = 0          # the mode of `core` that the current entry refers to
    for entry, factor in zip(entries, factors):
        i = _as_int(entry)
        if i is None:
            kept.append(factor[entry, :])
            position += 1
        else:
            modes = _LETTERS[:core.ndim]
            out = modes[:position] + modes[position + 1:]
            core = einsum("%s,%s->%s" % (modes, modes[position], out), core, factor[i, :])
    kept += list(factors[len(entries):])
    if not kept:
        return core
    return core, kept


def tt_index(factors, indices):
    """The cores of ``tt[indices]``, or a scalar when every mode is contracted. A contracted mode
    leaves an (R_i, R_i+1) matrix, multiplied into the next kept core (or the last kept one)."""
    entries = index_list(indices, len(factors))
    cores = []
    pending = None        # product of the matrices since the last kept core
    for position, factor in enumerate(factors):
        entry = entries[position] if position < len(entries) else slice(None)
        i = _as_int(entry)
        if i is not None:
            matrix = factor[:, i, :]
            pending = matrix if pending is None else pending @ matrix
            continue
        core = factor[:, entry, :]
        if pending is not None:
            rank_in, size, rank_out = core.shape
            core = (pending @ core.reshape((rank_in, size * rank_out))).reshape(
                (pending.shape[0], size, rank_out))
            pending = None
        cores.append(core)
    if pending is not None:
        if not cores:
            return pending.reshape(())
        last = cores[-1]
        rank_in, size, rank_out = last.shape
        cores[-1] = (last.reshape((rank_in * size, rank_out)) @ pending).reshape(
            (rank_in, size, pending.shape[1]))
    return cores

"""``max_error`` for ``compress_model``: the smallest rank whose layer reconstructs the kernel W
within a relative error ``||W - W_hat|| / ||W|| <= target``.

* TT: TT-SVD truncation. Each of the d - 1 sweeps of TT-SVD discards singular values; the error
  is at most the root of the sum of their squares, so keeping at each sweep the fewest singular
  values whose discarded tail is at most ``target * ||W|| / sqrt(d - 1)`` meets the target.
* Tucker: HOSVD truncation. The error of the truncated HOSVD is at most the root of the sum, over
  the modes, of the discarded singular values squared of each unfolding: each mode keeps the
  fewest whose tail is at most ``target * ||W|| / sqrt(N)``. The layer is then built by the
  library's Tucker-HOOI at those ranks, which is no worse than HOSVD in exact arithmetic.
* CP: no such bound exists; the rank is bisected over from_conv runs between 1 and the rank with
  as many parameters as the dense kernel ('same'), assuming the error falls as the rank grows.

Whatever the bound says, the error compared with the target is always the one measured on the
layer built (``measured_error``); when it is above the target (float32 storage, a decomposition
that did not converge), TT and Tucker ranks are raised and the layer rebuilt until it is not, or
no rank is left to raise.
"""

import math

import numpy as np


def measured_error(layer, weight):
    """``||W - W_hat|| / ||W||`` in float64, W_hat being ``layer.reconstruct_kernel()``."""
    w = np.asarray(weight, dtype=np.float64)
    difference = w - np.asarray(layer.reconstruct_kernel(), dtype=np.float64)
    norm = np.linalg.norm(w)
    return float(np.linalg.norm(difference) / norm) if norm > 0 else float(np.linalg.norm(difference))


def _kept(singular_values, allowed_tail):
    """The fewest leading singular values (at least 1) whose discarded tail norm is at most
    ``allowed_tail``."""
    energy = np.asarray(singular_values, dtype=np.float64) ** 2
    # tails[j] = sum of energy[j:]; tails[len] = 0.
    tails = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    fits = np.nonzero(tails <= allowed_tail ** 2)[0]
    return max(int(fits[0]), 1)


def tt_layout(weight):
    """The kernel (out, in, *k) in TT's layout (in, *k, out) (behaviour notes §2)."""
    return np.moveaxis(np.asarray(weight, dtype=np.float64), 0, -1)


def tt_max_ranks(shape):
    """The largest TT ranks the unfoldings of a tensor of ``shape`` (TT layout) allow."""
    return [1] + [min(math.prod(shape[:k + 1]), math.prod(shape[k + 1:]))
                  for k in range(len(shape) - 1)] + [1]


def tt_ranks_for_error(weight, target):
    """TT ranks (1, r_1, ..., 1) of the TT-SVD of ``weight`` truncated so that its error bound
    is at most ``target``."""
    tensor = tt_layout(weight)
    dims = tensor.shape
    allowed = target * np.linalg.norm(tensor) / math.sqrt(len(dims) - 1)
    ranks, rest, rank = [1], tensor, 1
    for k in range(len(dims) - 1):
        matrix = rest.reshape(rank * dims[k], -1)
        _, s, vt = np.linalg.svd(matrix, full_matrices=False)
        rank = _kept(s, allowed)
        rest = s[:rank, None] * vt[:rank]
        ranks.append(rank)
    return tuple(ranks + [1])


def raise_tt_ranks(ranks, shape):
    """Larger TT ranks (each inner one up by an eighth, at least 1, within the maximum), or None
    when all are at their maximum."""
    limit = tt_max_ranks(shape)
    bigger = [min(r + max(1, r // 8), m) for r, m in zip(ranks, limit)]
    bigger[0] = bigger[-1] = 1
    return tuple(bigger) if tuple(bigger) != tuple(ranks) else None


def tucker_singular_values(weight):
    """The singular values of every mode unfolding of ``weight``, mode by mode."""
    w = np.asarray(weight, dtype=np.float64)
    return [np.linalg.svd(np.moveaxis(w, mode, 0).reshape(w.shape[mode], -1), compute_uv=False)
            for mode in range(w.ndim)]


def tucker_ranks_for_error(weight, target, singular_values=None):
    """Tucker ranks (one per mode of (out, in, *k)) of the HOSVD of ``weight`` truncated so that
    its error bound is at most ``target``."""
    values = singular_values or tucker_singular_values(weight)
    allowed = target * np.linalg.norm(np.asarray(weight, dtype=np.float64)) / math.sqrt(len(values))
    return tuple(_kept(s, allowed) for s in values)


def raise_tucker_ranks(ranks, shape, singular_values):
    """Tucker ranks with one more component in the mode whose first discarded singular value is
    the largest, or None when every mode is at full rank."""
    best, best_value = None, -1.0
    for mode, (r, s) in enumerate(zip(ranks, singular_values)):
        if r < shape[mode]:
            value = float(s[r]) if r < len(s) else 0.0
            if value > best_value:
                best, best_value = mode, value
    if best is None:
        return None
    bigger = list(ranks)
    bigger[best] += 1
    return tuple(bigger)


def build_within_error(build, weight, factorization, target, max_cp_rank):
    """``(layer, error, reached)``: the layer of smallest rank found whose measured error is at
    most ``target`` (``reached`` True), else the best attempt (the largest rank tried).

    ``build(rank)`` returns a FactorizedConv (from_conv at that rank); ``max_cp_rank`` bounds the
    CP search (the 'same' rank)."""
    if factorization == "cp":
        return _cp_bisection(build, weight, target, max_cp_rank)
    if factorization == "tt":
        ranks = tt_ranks_for_error(weight, target)
        grow = lambda r: raise_tt_ranks(r, tt_layout(weight).shape)   # noqa: E731
    elif factorization == "tucker":
        values = tucker_singular_values(weight)
        ranks = tucker_ranks_for_error(weight, target, values)
        grow = lambda r: raise_tucker_ranks(r, weight.shape, values)   # noqa: E731
    else:
        raise ValueError("max_error needs factorization 'cp', 'tucker' or 'tt', got %r"
                         % (factorization,))
    while True:
        layer = build(ranks)
        error = measured_error(layer, weight)
        if error <= target:
            return layer, error, True
        bigger = grow(ranks)
        if bigger is None:
            return layer, error, False
        layer.close()
        ranks = bigger


def _cp_bisection(build, weight, target, max_rank):
    """The CP search of ``build_within_error``: the largest rank first (if it misses the
    target, nothing smaller is tried), then bisection for the smallest rank that meets it."""
    layer = build(max_rank)
    error = measured_error(layer, weight)
    if error > target:
        return layer, error, False
    best = (layer, error)
    low, high = 1, max_rank          # every rank >= high meets the target (assumed monotone)
    while low < high:
        middle = (low + high) // 2
        candidate = build(middle)
        candidate_error = measured_error(candidate, weight)
        if candidate_error <= target:
            best[0].close()
            best, high = (candidate, candidate_error), middle
        else:
            candidate.close()
            low = middle + 1
    return best[0], best[1], True

"""Building native layers from tltorch's arguments: the constructor's (``create``), from_conv's
and from_conv_list's (``compress_conv``, ``compress_conv_list``: a decomposition with its
options, seed, progress and ``decomposition_kwargs``), and from_factorization's
(``factorization_layout``). Each returns a ``ConvHandle``; ``layer.py`` wraps it."""

import warnings

import numpy as np

from . import _decomposition, tensors
from ._convert import geometry_list, is_bool, is_sequence, to_int, to_ints
from ._errors import FactorConvError, InvalidArgumentError, ShapeMismatchError
from ._handle import ConvHandle
from ._options import Options, fresh_seed, seed_or_fresh
from ._progress import make_progress
from ._sources import check_device, check_dtype, check_padding, read_conv

#: The geometry arguments, in the order the C calls take them.
GEOMETRY = ("stride", "padding", "dilation")


def layers_shape_of(n_layers):
    """tltorch's ``layers_shape``: () for 1, (n,) for an int n, the tuple itself otherwise."""
    shape = tuple(to_ints(n_layers, "n_layers")) if is_sequence(n_layers) else \
        (to_int(n_layers, "n_layers"),)
    if not shape or any(n < 1 for n in shape):
        raise InvalidArgumentError("n_layers must be a positive int or a tuple of positive ints, "
                                   "got %r" % (n_layers,))
    return () if shape == (1,) and not is_sequence(n_layers) else shape


def kernel_size_of(kernel_size, order):
    """tltorch's kernel_size / order rule: a sequence gives both; an int needs ``order``."""
    if is_sequence(kernel_size):
        return to_ints(kernel_size, "kernel_size")
    if order is None:
        raise InvalidArgumentError("kernel_size: if int given for kernel_size, order (dimension "
                                   "of the convolution) should also be provided.")
    order = to_int(order, "order")
    if order < 1:
        raise InvalidArgumentError("order should be the (positive integer) order of the "
                                   "convolution, got order=%d" % order)
    return [to_int(kernel_size, "kernel_size")] * order


def per_layer_geometry(value, name, layers_shape, order):
    """A per-layer array (layers_shape + (order,)) when ``value`` is one, else None (a value for
    every layer, which the library broadcasts)."""
    if not layers_shape or isinstance(value, str):
        return None
    array = np.asarray(value, dtype=object)
    if array.ndim == len(layers_shape) + 1:
        if array.shape != tuple(layers_shape) + (order,):
            raise InvalidArgumentError("%s has shape %s; expected an int, %d ints, or an array "
                                       "of shape %s (one row per layer)"
                                       % (name, array.shape, order, tuple(layers_shape) + (order,)))
        return np.asarray(to_ints(array, name), dtype=np.int64).reshape(array.shape)
    return None


def has_bias_flags(has_bias, layers_shape):
    """tltorch's has_bias (a bool / int, or one per layer) as a list of 0/1 per layer."""
    count = int(np.prod(layers_shape)) if layers_shape else 1
    if is_sequence(has_bias):
        flags = [1 if bool(v) else 0 for v in np.asarray(has_bias, dtype=object).ravel()]
        if len(flags) not in (1, count):
            raise InvalidArgumentError("has_bias has %d entries; expected one, or one per layer "
                                       "(%d)" % (len(flags), count))
        return flags * count if len(flags) == 1 else flags
    if not is_bool(has_bias):
        to_int(has_bias, "has_bias")
    return [1 if has_bias else 0] * count


def warn_fixed_rank_modes(fixed_rank_modes, factorization):
    """tltorch's warning: fixed_rank_modes only means something for Tucker (then ignored)."""
    if fixed_rank_modes is not None and str(factorization).lower() != "tucker":
        warnings.warn("Got fixed_rank_modes=%r which is only used for factorization=tucker but "
                      "got factorization=%s; ignored" % (fixed_rank_modes, factorization),
                      UserWarning, stacklevel=4)
        return None
    return fixed_rank_modes


def check_constructor_kwargs(method, kwargs):
    """The constructor keywords tltorch's from_conv / from_conv_list pass on: has_bias (a
    single convolution ignores it), device, dtype, order (the kernel gives it), n_layers == 1."""
    for key, value in kwargs.items():
        if key == "device":
            check_device(value)
        elif key == "dtype":
            check_dtype(value)
        elif key in ("has_bias", "order"):
            pass
        elif key == "n_layers":
            if layers_shape_of(value):
                raise InvalidArgumentError("%s builds n_layers from the convolutions given; "
                                           "got n_layers=%r" % (method, value))
        else:
            raise TypeError("%s() got an unexpected keyword argument %r" % (method, key))


def create(in_channels, out_channels, kernel_size, order, stride, padding, dilation, bias,
           has_bias, n_layers, factorization, rank, implementation, fixed_rank_modes, device,
           dtype, seed):
    """The constructor's native layer: ``(handle, weight)`` where ``weight`` is the factorized
    tensor given as ``factorization`` (its parameters still to be loaded), or None."""
    check_device(device)
    check_dtype(dtype)
    kernel = kernel_size_of(kernel_size, order)
    in_channels = to_int(in_channels, "in_channels")
    out_channels = to_int(out_channels, "out_channels")
    layers_shape = layers_shape_of(n_layers)
    weight = None
    if not isinstance(factorization, str):
        # tltorch also takes the factorized tensor itself as `factorization`.
        weight = tensors.as_factorized_tensor(factorization)
        layers, kernel_shape = tensors.kernel_shape(weight, len(layers_shape))
        if layers != layers_shape or kernel_shape != (out_channels, in_channels) + tuple(kernel):
            raise InvalidArgumentError(
                "factorization has shape %s: a %s layer grid of kernels %s, but the layer is "
                "%s of (%d, %d, %s)" % (weight.shape, layers, kernel_shape, layers_shape,
                                        out_channels, in_channels, tuple(kernel)))
        factorization = weight.name.lower()
        rank = "same" if weight.rank is None else weight.rank
    fixed_rank_modes = warn_fixed_rank_modes(fixed_rank_modes, factorization)
    bias = bool(bias) if is_bool(bias) else bool(to_int(bias, "bias"))
    geometry = dict(zip(GEOMETRY, (stride, padding, dilation)))
    per_layer = {}
    with Options() as options:
        options.set_common(factorization, implementation, rank, fixed_rank_modes,
                           seed_or_fresh(seed))
        for name, value in geometry.items():
            check_padding(value, name)
            rows = per_layer_geometry(value, name, layers_shape, len(kernel))
            if rows is None:
                options.set_int_or_ints(name, value)
            else:
                per_layer[name] = rows
        options.set_flag("bias", bias)
        if layers_shape:
            flags = has_bias_flags(has_bias, layers_shape)
            options.set_ints("has_bias", flags)
            if bias and not any(flags):
                warnings.warn("bias=True with has_bias=False: the layers of this grid do not "
                              "apply their bias (tltorch's default) until has_bias=True or "
                              "set(i, bias=...) turns it on", UserWarning, stacklevel=3)
            options.set_ints("n_layers", layers_shape)
        handle = ConvHandle.create(in_channels, out_channels, kernel, options)
    if per_layer:
        for index in np.ndindex(*layers_shape):
            rows = [per_layer[name][index].tolist() if name in per_layer
                    else geometry_list(value, name, len(kernel))
                    for name, value in geometry.items()]
            handle.set(index, *rows, None)
    return handle, weight


def compress(create_handle, factorization, implementation, rank, fixed_rank_modes, seed,
             decomposition_kwargs, decompose_weights, progress, configure=None):
    """The shared body of from_conv and from_conv_list: fills an options handle (``configure``
    adds the geometry), runs ``create_handle(options) -> ConvHandle`` with the progress
    callback, and applies what decomposition_kwargs asked for afterwards (normalize_factors)."""
    if not isinstance(factorization, str):
        raise InvalidArgumentError("factorization must be a string ('cp', 'tucker', 'tt', "
                                   "'dense'), got %r" % (factorization,))
    fixed_rank_modes = warn_fixed_rank_modes(fixed_rank_modes, factorization)
    with Options() as options:
        options.set_name("factorization", factorization)
        options.set_name("implementation", implementation)
        options.set_rank(rank)
        options.set_fixed_rank_modes(fixed_rank_modes)
        if configure is not None:
            configure(options)
        options.set_flag("decompose", bool(decompose_weights))
        plan = _decomposition.apply(options, factorization, decomposition_kwargs,
                                    None if seed is None else seed_or_fresh(seed))
        options.set_int("seed", fresh_seed() if plan.seed is None else plan.seed)
        if progress is None and plan.verbose:
            progress = True
        callback, bar = make_progress(progress)
        if callback is not None:
            options.set_progress(callback)
        try:
            handle = create_handle(options)
        except FactorConvError:
            if callback is not None:
                callback.reraise()   # an exception of the callback wins over the cancel
            raise
        finally:
            if bar is not None:
                bar.close()
    if plan.normalize_factors and decompose_weights and factorization.lower() == "cp":
        state = handle.state_dict()
        names = [n for n in state if n.startswith("weight.factors.")]
        handle.set_parameters(_decomposition.normalize_cp_factors(state, names), strict=False)
    return handle


def compress_conv(conv_layer, rank, implementation, factorization, decompose_weights,
                  decomposition_kwargs, fixed_rank_modes, bias, stride, padding, dilation, seed,
                  progress, kwargs):
    """from_conv's native layer (see ``FactorizedConv.from_conv``)."""
    check_constructor_kwargs("from_conv", kwargs)
    source = read_conv(conv_layer, bias, stride, padding, dilation, "conv_layer")

    def configure(options):
        """The convolution's geometry as options."""
        for name in GEOMETRY:
            options.set_int_or_ints(name, getattr(source, name))

    return compress(lambda options: ConvHandle.from_conv(source.weight, source.bias, options),
                    factorization, implementation, rank, fixed_rank_modes, seed,
                    decomposition_kwargs, decompose_weights, progress, configure)


def compress_conv_list(conv_list, rank, implementation, factorization, decompose_weights,
                       decomposition_kwargs, biases, stride, padding, dilation, fixed_rank_modes,
                       seed, progress, kwargs):
    """from_conv_list's native layer (see ``FactorizedConv.from_conv_list``)."""
    check_constructor_kwargs("from_conv_list", kwargs)
    items = list(conv_list)
    if not items:
        raise InvalidArgumentError("conv_list must hold at least one convolution")
    if biases is not None:
        biases = list(biases)
        if len(biases) != len(items):
            raise ShapeMismatchError("biases has %d entries but conv_list has %d"
                                     % (len(biases), len(items)))

    def per_conv(value, i):
        """Entry ``i`` of a value given per convolution, else the value itself."""
        if is_sequence(value) and len(value) == len(items) and all(is_sequence(v) for v in value):
            return value[i]
        return value

    sources, rows = [], {name: [] for name in GEOMETRY}
    for i, item in enumerate(items):
        name = "conv_list[%d]" % i
        source = read_conv(item, None if biases is None else biases[i], per_conv(stride, i),
                           per_conv(padding, i), per_conv(dilation, i), name)
        if sources and source.weight.shape != sources[0].weight.shape:
            raise ShapeMismatchError("%s has shape %s but conv_list[0] has %s; every kernel "
                                     "must have the same shape"
                                     % (name, source.weight.shape, sources[0].weight.shape))
        sources.append(source)
        order = source.weight.ndim - 2
        for key in GEOMETRY:
            rows[key].extend(geometry_list(getattr(source, key), "%s %s" % (name, key), order))

    def create_handle(options):
        """The library's from_conv_list on the kernels read above."""
        return ConvHandle.from_conv_list([s.weight for s in sources], [s.bias for s in sources],
                                         rows["stride"], rows["padding"], rows["dilation"],
                                         options)

    return compress(create_handle, factorization, implementation, rank, fixed_rank_modes, seed,
                    decomposition_kwargs, decompose_weights, progress)


def factorization_layout(factorization, n_layers):
    """from_factorization's reading of a factorized tensor: ``(tensor, in_channels,
    out_channels, kernel_size)`` with its leading ``n_layers`` modes checked."""
    tensor = tensors.as_factorized_tensor(factorization)
    layers_shape = layers_shape_of(n_layers)
    layers, (out_channels, in_channels, *kernel) = tensors.kernel_shape(tensor, len(layers_shape))
    if layers != layers_shape:
        raise InvalidArgumentError("factorization has shape %s, whose leading %d mode(s) %s are "
                                   "not the layer grid n_layers=%r"
                                   % (tensor.shape, len(layers_shape), layers, n_layers))
    return tensor, in_channels, out_channels, kernel

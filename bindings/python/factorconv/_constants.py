"""Every pinned value of include/factorconv.h that the Python package uses, defined once.

Status codes, the factorization / implementation / info enumerations and the option keys of
``fconv_options``. tests/test_abi.py parses the header and checks each of them.
"""

# -- status codes (fconv_status) ----------------------------------------------------------------
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_SHAPE_MISMATCH = 2
ERR_INDEX_OUT_OF_RANGE = 3
ERR_UNSUPPORTED = 4
ERR_OUT_OF_MEMORY = 5
ERR_FORMAT = 6
ERR_IO = 7
ERR_CANCELLED = 8
ERR_BUFFER_TOO_SMALL = 9
ERR_NUMERICAL = 10
ERR_INTERNAL = 11

#: status code -> its FCONV_* name (what fconv_status_string returns).
STATUS_NAMES = {
    OK: "FCONV_OK",
    ERR_INVALID_ARGUMENT: "FCONV_ERR_INVALID_ARGUMENT",
    ERR_SHAPE_MISMATCH: "FCONV_ERR_SHAPE_MISMATCH",
    ERR_INDEX_OUT_OF_RANGE: "FCONV_ERR_INDEX_OUT_OF_RANGE",
    ERR_UNSUPPORTED: "FCONV_ERR_UNSUPPORTED",
    ERR_OUT_OF_MEMORY: "FCONV_ERR_OUT_OF_MEMORY",
    ERR_FORMAT: "FCONV_ERR_FORMAT",
    ERR_IO: "FCONV_ERR_IO",
    ERR_CANCELLED: "FCONV_ERR_CANCELLED",
    ERR_BUFFER_TOO_SMALL: "FCONV_ERR_BUFFER_TOO_SMALL",
    ERR_NUMERICAL: "FCONV_ERR_NUMERICAL",
    ERR_INTERNAL: "FCONV_ERR_INTERNAL",
}

# -- fconv_factorization: FCONV_FACTORIZATION_<NAME> = value; Python names are lower case -------
FACTORIZATIONS = {"cp": 0, "tucker": 1, "tt": 2, "dense": 3}
FACTORIZATION_NAMES = {value: name for name, value in FACTORIZATIONS.items()}

# -- fconv_implementation: FCONV_IMPL_<NAME> = value ---------------------------------------------
IMPLEMENTATIONS = {"factorized": 0, "reconstructed": 1, "mobilenet": 2, "auto": 3}
IMPLEMENTATION_NAMES = {value: name for name, value in IMPLEMENTATIONS.items()}

# -- fconv_info: FCONV_INFO_<NAME> = value (keys of fconv_conv_get_ints) --------------------------
INFO = {
    "in_channels": 0, "out_channels": 1, "order": 2, "kernel_size": 3, "rank": 4, "n_layers": 5,
    "factorization": 6, "implementation": 7, "parameter_count": 8, "has_bias": 9, "stride": 10,
    "padding": 11, "dilation": 12, "bias_parameter": 13, "shape": 14, "layer": 15,
}

# -- fconv_options keys (the header's fconv_options comment) and the setters each takes ----------
OPTION_KEYS = {
    "factorization": ("string",), "implementation": ("string",),
    "rank": ("string", "float", "int", "ints"), "fixed_rank_modes": ("ints", "string"),
    "stride": ("int", "ints"), "padding": ("int", "ints"), "dilation": ("int", "ints"),
    "bias": ("int",), "has_bias": ("int", "ints"), "n_layers": ("int", "ints"), "seed": ("int",),
    "decompose": ("int",), "n_iter_max": ("int",), "tol": ("float",), "l2_reg": ("float",),
    "init": ("string",), "cp_regularization": ("string",), "n_restarts": ("int",),
}

#: The state_dict names of a layer's parameters (the header's "Parameters" section).
BIAS_NAME = "bias"
WEIGHTS_NAME = "weight.weights"
CORE_NAME = "weight.core"
TENSOR_NAME = "weight.tensor"
FACTOR_PREFIX = "weight.factors.factor_"

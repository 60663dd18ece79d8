/*
 * factorconv.h — the C interface of FactorConv, a runtime for factorized N-D convolutions
 * (CP, Tucker and tensor-train kernels, as in TensorLy-Torch's tltorch.FactorizedConv).
 *
 * GLOBAL RULES (they hold for every function below unless its comment says otherwise)
 *
 * Status.  Every fallible function returns an fconv_status. FCONV_OK (0) means success; any other
 *   value is an error, fconv_status_string() names it, and fconv_last_error_message() returns a
 *   sentence that says which argument was wrong and what was expected. On failure nothing the
 *   caller can observe has changed: output buffers may be partially written, but handles and
 *   their parameters are untouched, and constructors set *out to NULL.
 *
 * Tensors.  Every tensor is a caller-owned, C-contiguous (row-major) float32 buffer described
 *   by `const int64_t *shape` and `size_t ndim`. Activations are laid out (batch, channels,
 *   spatial...), kernels as in PyTorch (out_channels, in_channels, kernel...). Outputs are
 *   allocated by the caller after a shape query, and their capacity is passed in elements.
 *   The library never returns memory for the caller to free and keeps no pointer to caller
 *   memory after a call returns.
 *
 * Geometry.  stride, padding and dilation are arrays with one entry per spatial dimension;
 *   NULL means the PyTorch default (stride 1, padding 0, dilation 1). Convolution is PyTorch's:
 *   cross-correlation with symmetric zero padding; output size per dimension is
 *   floor((S + 2p - d(K - 1) - 1) / s) + 1.
 *
 * Threads.  Distinct calls on distinct objects are independent. The numbers of worker threads
 *   the library uses inside one call is process-wide (fconv_set_num_threads).
 *
 * Versions.  FCONV_ABI_VERSION changes whenever a signature or a pinned value changes; a binding
 *   must refuse a library whose fconv_abi_version() differs from the header it was built with.
 */
#ifndef FACTORCONV_H
#define FACTORCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Versions                                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define FCONV_VERSION_MAJOR 0
#define FCONV_VERSION_MINOR 1
#define FCONV_VERSION_PATCH 0
/** The library version as a string literal, "MAJOR.MINOR.PATCH". */
#define FCONV_VERSION_STRING "0.1.0"
/** The ABI version this header describes. */
#define FCONV_ABI_VERSION 1

/** The version of the loaded library, e.g. "0.1.0". Static storage; never NULL. */
const char *fconv_version_string(void);

/** The ABI version of the loaded library; compare with FCONV_ABI_VERSION. */
int32_t fconv_abi_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Status codes and errors                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** A status code. The values are pinned: they never change meaning within an ABI version. */
typedef int32_t fconv_status;

#define FCONV_OK                    0  /**< success */
#define FCONV_ERR_INVALID_ARGUMENT  1  /**< NULL where a pointer is required, a value out of its domain */
#define FCONV_ERR_SHAPE_MISMATCH    2  /**< shapes that do not agree with each other or with the layer */
#define FCONV_ERR_INDEX_OUT_OF_RANGE 3 /**< a layer index outside the layer grid */
#define FCONV_ERR_UNSUPPORTED       4  /**< a valid request this library does not implement */
#define FCONV_ERR_OUT_OF_MEMORY     5  /**< an allocation failed or would exceed the memory bound */
#define FCONV_ERR_FORMAT            6  /**< a malformed file or parameter dictionary */
#define FCONV_ERR_IO                7  /**< a file could not be read or written */
#define FCONV_ERR_CANCELLED         8  /**< a progress callback asked to stop */
#define FCONV_ERR_BUFFER_TOO_SMALL  9  /**< a caller-allocated output has too few elements */
#define FCONV_ERR_NUMERICAL        10  /**< NaN/Inf input, or a linear-algebra routine that failed */
#define FCONV_ERR_INTERNAL         11  /**< a bug in FactorConv; please report it */

/**
 * The name of a status code, e.g. "FCONV_ERR_SHAPE_MISMATCH"; "FCONV_UNKNOWN_STATUS" for a
 * value not listed above. Static storage; never NULL.
 */
const char *fconv_status_string(fconv_status status);

/**
 * A message describing the last failure of a FactorConv call on the calling thread ("" if none).
 * Thread-local: each thread sees only its own failures. The pointer stays valid until the next
 * FactorConv call on the same thread. Successful calls do not clear it.
 */
const char *fconv_last_error_message(void);

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * Sets how many worker threads one FactorConv call may use (process-wide). 0 restores the
 * default: the environment variable FACTORCONV_NUM_THREADS if set, else the number of cores.
 *
 * @param n_threads [in] 0 to 1024.
 * @return FCONV_OK, or FCONV_ERR_INVALID_ARGUMENT for a negative or too large value.
 * Threads: call it while no other FactorConv call is running.
 */
fconv_status fconv_set_num_threads(int32_t n_threads);

/** The number of worker threads one FactorConv call may use (always >= 1). */
int32_t fconv_get_num_threads(void);

/* ------------------------------------------------------------------------------------------ */
/* Functional dense convolution                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * The output shape of a dense N-D convolution, without computing it.
 *
 * @param input_shape  [in]  (batch, in_channels, S_1..S_N); input_ndim = N + 2, N >= 1.
 * @param weight_shape [in]  (out_channels, in_channels, K_1..K_N); weight_ndim = input_ndim.
 * @param stride, padding, dilation [in] N entries each, or NULL for 1 / 0 / 1.
 * @param n_spatial    [in]  N; must equal input_ndim - 2 (it sizes the geometry arrays).
 * @param out_shape    [out] receives (batch, out_channels, S'_1..S'_N).
 * @param out_shape_capacity [in] entries available in out_shape; at least input_ndim.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULL pointers, non-positive sizes, stride or
 *   dilation < 1, padding < 0, sizes whose product overflows); FCONV_ERR_SHAPE_MISMATCH
 *   (ndim disagreement, channel mismatch, kernel larger than the padded input);
 *   FCONV_ERR_BUFFER_TOO_SMALL (out_shape_capacity < input_ndim).
 */
fconv_status fconv_dense_conv_output_shape(const int64_t *input_shape, size_t input_ndim,
                                           const int64_t *weight_shape, size_t weight_ndim,
                                           const int64_t *stride, const int64_t *padding,
                                           const int64_t *dilation, size_t n_spatial,
                                           int64_t *out_shape, size_t out_shape_capacity);

/**
 * A dense N-D convolution with PyTorch semantics (torch.nn.functional.conv1d/2d/3d for N <= 3,
 * the same definition for any N >= 1): output = conv(input, weight) + bias.
 *
 * @param input   [in]  float32, shape input_shape (batch, in_channels, S_1..S_N).
 * @param weight  [in]  float32, shape weight_shape (out_channels, in_channels, K_1..K_N).
 * @param bias    [in]  float32, out_channels entries, or NULL for no bias.
 * @param stride, padding, dilation, n_spatial  as in fconv_dense_conv_output_shape.
 * @param output  [out] float32, receives the (batch, out_channels, S'_1..S'_N) result.
 * @param output_capacity [in] elements available in output.
 * @return FCONV_OK; the codes of fconv_dense_conv_output_shape; FCONV_ERR_BUFFER_TOO_SMALL when
 *   output_capacity is below the output's element count; FCONV_ERR_OUT_OF_MEMORY.
 * Threads: safe to call concurrently; uses up to fconv_get_num_threads() workers.
 */
fconv_status fconv_dense_conv_forward(const float *input, const int64_t *input_shape,
                                      size_t input_ndim, const float *weight,
                                      const int64_t *weight_shape, size_t weight_ndim,
                                      const float *bias, const int64_t *stride,
                                      const int64_t *padding, const int64_t *dilation,
                                      size_t n_spatial, float *output, size_t output_capacity);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FACTORCONV_H */

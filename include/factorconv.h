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
 * Memory.  Any function that allocates may also return FCONV_ERR_OUT_OF_MEMORY: requests beyond
 *   the memory bound (fconv_set_memory_limit) are refused before anything is allocated. Scratch
 *   buffers are kept between calls for reuse, within bounds (fconv_release_memory).
 *
 * Handles.  A handle (fconv_conv *, fconv_options *, fconv_bundle *) is an opaque value, not an
 *   address: it is never reused after its object is freed, so a freed, foreign or wrong-type
 *   handle is always FCONV_ERR_INVALID_ARGUMENT (and a free of one is a no-op), never another
 *   caller's object.
 *
 * Threads.  The library is thread-safe: distinct calls on distinct objects are independent, and
 *   calls on one layer may come from any threads at once. Forwards and getters run in parallel;
 *   a change (fconv_conv_set, _transduct, _set_parameters, _reset_parameters,
 *   _set_implementation) is atomic: each concurrent forward runs wholly on the parameters before
 *   or after it, and checks its output buffer against the shape it actually computes
 *   (FCONV_ERR_BUFFER_TOO_SMALL, or FCONV_ERR_SHAPE_MISMATCH with fconv_conv_forward_shaped,
 *   instead of a write past the buffer). A free racing other calls on the same handle is safe:
 *   calls already inside finish on the object, later ones fail with FCONV_ERR_INVALID_ARGUMENT.
 *   Results are only meaningful if the caller orders its own changes, so the per-object rules
 *   below say which calls need exclusive access; breaking them gives an error or a result of
 *   the layer before or after a change, never memory corruption. An fconv_options handle is
 *   not synchronized: use one from one thread at a time. The number of worker threads inside
 *   one call is process-wide (fconv_set_num_threads).
 *
 * Fork.  fork() may be called at any time, also while other threads are inside the library: it
 *   waits for the internal critical sections in progress (microseconds) and for the OpenBLAS /
 *   LAPACK calls in progress (at most one call each: up to about a second in a large
 *   decomposition, far less in a forward) to end, so the child inherits every lock of the
 *   library and of OpenBLAS free and every layer consistent. In the child, all handles of the
 *   parent stay valid and usable, and the library can be used as in any process. Calls that
 *   other parent threads were running do not exist in the child; memory they were using is not
 *   reclaimed there. (Do not call fork() from inside a progress callback.)
 *
 * Interruption.  fconv_interrupt() makes the long calls in progress — decompositions and
 *   forwards — fail with FCONV_ERR_CANCELLED soon after, on every thread (see its comment).
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
#define FCONV_ERR_CANCELLED         8  /**< a progress callback asked to stop, or fconv_interrupt */
#define FCONV_ERR_BUFFER_TOO_SMALL  9  /**< a caller-allocated output has too few elements */
#define FCONV_ERR_NUMERICAL        10  /**< NaN/Inf input, an output that overflowed, or a linear-algebra routine that failed */
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
/* Interrupting long calls                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * Interrupts every interruptible call in progress in the process, on any thread, as
 * sqlite3_interrupt does for a connection: each returns FCONV_ERR_CANCELLED at its next check
 * point, normally well under a second later. Calls that start after fconv_interrupt returns are
 * not affected (each call notes, when it starts, how many interrupts came before it).
 *
 * Interruptible calls: fconv_conv_from_conv and fconv_conv_from_conv_list (checked between the
 *   decomposition's iterations and steps and inside them), fconv_conv_forward and
 *   fconv_dense_conv_forward (checked per image, between stages and per block). A single BLAS or
 *   LAPACK call in progress runs to its end first. A call that finishes its work while the
 *   interrupt arrives may still fail with FCONV_ERR_CANCELLED.
 * State left: an interrupted from_conv / from_conv_list sets *out to NULL and creates nothing;
 *   an interrupted forward leaves its output partly written. Layers are never changed: a layer
 *   whose forward was interrupted gives the same results as before on its next call.
 * Threads and signals: async-signal-safe (one lock-free atomic increment; no allocation, no
 *   lock, never waits): it may be called from any thread and from a signal handler, e.g. a
 *   SIGINT handler, while the interrupted calls run on other threads or below the handler.
 *   It interrupts every thread's calls; callers that need to stop only some should use a
 *   progress callback (decompositions) or split the work.
 */
void fconv_interrupt(void);

/* ------------------------------------------------------------------------------------------ */
/* Memory bound                                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * Sets the process-wide bound on what one call may allocate, in bytes; 0 restores the default
 * (FACTORCONV_MAX_BYTES if set, else 3/4 of physical memory). Requests beyond it — a layer,
 * rank, input, decomposition or file too large — fail with FCONV_ERR_OUT_OF_MEMORY before any
 * allocation. Threads: call it while no other FactorConv call is running.
 */
fconv_status fconv_set_memory_limit(uint64_t bytes);

/** The current memory bound in bytes (always > 0). */
uint64_t fconv_get_memory_limit(void);

/**
 * Returns to the system the memory the library keeps between calls for reuse: the pool of
 * scratch buffers that forwards borrow (which otherwise keeps up to a quarter of the memory bound,
 * freeing buffers left unused for a few seconds only when a later call borrows or returns one)
 * and the transformed kernels fconv_dense_conv_forward keeps for its last few weights. What a
 * layer owns stays until fconv_conv_free. The next forward allocates its scratch again.
 * Threads: safe at any time, also while other calls run (their buffers stay theirs).
 */
void fconv_release_memory(void);

/* ------------------------------------------------------------------------------------------ */
/* Output check                                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * Turns the check of forward outputs on (1, the default) or off (0), process-wide. While on,
 * fconv_conv_forward and fconv_dense_conv_forward fail with FCONV_ERR_NUMERICAL when their
 * output holds NaN or Inf: from NaN/Inf operands (the message names the input, weight or bias),
 * or from finite ones whose results overflowed float32's range (about 3.4e38; the message says
 * "the output overflowed to inf/NaN"). The check reads each output once, mostly while it is
 * still in cache. While off, such outputs are returned with FCONV_OK. NaN/Inf in a layer's
 * input is refused either way.
 *
 * @param enabled [in] 1 or 0.
 * @return FCONV_OK, or FCONV_ERR_INVALID_ARGUMENT for any other value.
 * Threads: calls that start after it returns use the new setting.
 */
fconv_status fconv_set_output_check(int32_t enabled);

/** 1 while forward outputs are checked for NaN/Inf (fconv_set_output_check), else 0. */
int32_t fconv_get_output_check(void);

/* ------------------------------------------------------------------------------------------ */
/* Enumerations (values pinned)                                                                */
/* ------------------------------------------------------------------------------------------ */

/** How a layer's kernel is factorized. */
typedef int32_t fconv_factorization;
#define FCONV_FACTORIZATION_CP     0  /**< CP: weights (R) and factors (dim_i, R) */
#define FCONV_FACTORIZATION_TUCKER 1  /**< Tucker: core (R_0..R_M) and factors (dim_i, R_i) */
#define FCONV_FACTORIZATION_TT     2  /**< tensor train over (C_in, K..., C_out): cores (R_i, dim_i, R_i+1) */
#define FCONV_FACTORIZATION_DENSE  3  /**< no factorization: the kernel itself */

/** How a layer computes its forward pass. */
typedef int32_t fconv_implementation;
#define FCONV_IMPL_FACTORIZED    0  /**< separable stages straight from the factors */
#define FCONV_IMPL_RECONSTRUCTED 1  /**< one dense conv with the (cached) reconstructed kernel */
#define FCONV_IMPL_MOBILENET     2  /**< CP only: 1x1, one depthwise N-D conv, 1x1 */
#define FCONV_IMPL_AUTO          3  /**< the cheapest of the above for the layer and input shape */

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
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULL pointers, non-positive sizes other than a
 *   batch of 0, stride or dilation < 1, padding < 0, sizes whose product overflows);
 *   FCONV_ERR_SHAPE_MISMATCH (ndim disagreement, channel mismatch, kernel larger than the padded
 *   input); FCONV_ERR_BUFFER_TOO_SMALL (out_shape_capacity < input_ndim);
 *   FCONV_ERR_OUT_OF_MEMORY (the output alone exceeds the memory bound: the forward would
 *   refuse it, so it is refused before the caller allocates it).
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
 * A batch of 0 is allowed: nothing is read or written (input and output must still not be NULL).
 * @return FCONV_OK; the codes of fconv_dense_conv_output_shape; FCONV_ERR_BUFFER_TOO_SMALL when
 *   output_capacity is below the output's element count; FCONV_ERR_OUT_OF_MEMORY (the output
 *   plus the scratch of the workers the call uses beyond the memory bound); FCONV_ERR_NUMERICAL
 *   when the output holds NaN/Inf (fconv_set_output_check): NaN/Inf in the input, weight or bias,
 *   or finite values whose result overflowed; FCONV_ERR_CANCELLED (fconv_interrupt during the
 *   call: the output is partly written).
 * Threads: safe to call concurrently; uses up to fconv_get_num_threads() workers.
 */
fconv_status fconv_dense_conv_forward(const float *input, const int64_t *input_shape,
                                      size_t input_ndim, const float *weight,
                                      const int64_t *weight_shape, size_t weight_ndim,
                                      const float *bias, const int64_t *stride,
                                      const int64_t *padding, const int64_t *dilation,
                                      size_t n_spatial, float *output, size_t output_capacity);

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * An options handle: named settings for fconv_conv_create, fconv_conv_from_conv and
 * fconv_conv_from_conv_list, so the set of options can grow without changing any signature.
 * Keys (case-sensitive) and the setter each takes; unknown keys and wrong types are errors:
 *
 *   "factorization"     string  "cp" (default) | "tucker" | "tt" | "dense" (case-insensitive)
 *   "implementation"    string  "factorized" (create's default) | "reconstructed" (from_conv's
 *                               default) | "mobilenet" | "auto"
 *   "rank"              string "same" (default) | float (fraction of the dense parameter count)
 *                       | int (one rank) | ints (per-mode: Tucker (R_0..R_M), TT (1, R_1, ..., 1))
 *   "fixed_rank_modes"  ints (absolute modes) | string "spatial"      (Tucker only)
 *   "stride", "padding", "dilation"
 *                       int (every dimension) | ints (one per spatial dimension)
 *   "bias"              int 0/1: create a bias parameter (create only; default 0)
 *   "has_bias"          int 0/1 | ints (one per layer): which layers apply their bias
 *                       (create only; default: same as "bias")
 *   "n_layers"          int | ints (a grid of layers sharing one factorization; default 1)
 *   "seed"              int >= 0: initialization / decomposition seed (default 0)
 *   "decompose"         int 0/1: from_conv decomposes the kernel (default 1) or initializes
 *   "n_iter_max"        int >= 0: CP-ALS / Tucker-HOOI sweeps (default 100)
 *   "tol"               float >= 0: convergence tolerance (default CP 1e-8, Tucker 1e-4)
 *   "l2_reg"            float >= 0: CP regularization weight (default 1e-5)
 *   "init"              string "svd" (default) | "random"
 *   "cp_regularization" string "proximal" (default, with line search) | "ridge" (tltorch's exact
 *                       iteration: ridge term, no line search)
 *   "n_restarts"        int 1..100: CP-ALS runs from consecutive seeds, keeping the best
 *                       (default: 3 when tensor elements x rank <= 2^21, else 1)
 *
 * Ownership: the caller owns the handle and frees it with fconv_options_free; functions that
 * take options copy what they need. Threads: a handle may be read by several calls at once but
 * must not be modified while in use.
 */
typedef struct fconv_options fconv_options;

/** Creates an empty options handle (every option at its default); *out is NULL on failure. */
fconv_status fconv_options_create(fconv_options **out);

/** Frees an options handle; NULL is a no-op. */
void fconv_options_free(fconv_options *options);

/** Sets an integer option. @return FCONV_OK, FCONV_ERR_INVALID_ARGUMENT (NULL, unknown key). */
fconv_status fconv_options_set_int(fconv_options *options, const char *key, int64_t value);

/** Sets an integer-list option (count >= 1). @return as fconv_options_set_int. */
fconv_status fconv_options_set_ints(fconv_options *options, const char *key, const int64_t *values,
                                    size_t count);

/** Sets a floating-point option. @return as fconv_options_set_int. */
fconv_status fconv_options_set_float(fconv_options *options, const char *key, double value);

/** Sets a string option (copied). @return as fconv_options_set_int. */
fconv_status fconv_options_set_string(fconv_options *options, const char *key, const char *value);

/**
 * A progress callback for long decompositions: called after every iteration with the 1-based
 * iteration number (counting on across CP restarts and TT cores), an upper bound on the number
 * of iterations (the run may converge and stop earlier), and the current relative
 * reconstruction error. Return nonzero to continue, 0 to cancel (the call then fails with
 * FCONV_ERR_CANCELLED and creates nothing). Called on the calling thread. fconv_interrupt is the
 * way to cancel from elsewhere (another thread, a signal handler).
 */
typedef int32_t (*fconv_progress_fn)(int64_t iteration, int64_t max_iterations, double relative_error,
                                     void *user_data);

/** Sets (or with fn NULL clears) the progress callback used by from_conv / from_conv_list. */
fconv_status fconv_options_set_progress(fconv_options *options, fconv_progress_fn fn, void *user_data);

/* ------------------------------------------------------------------------------------------ */
/* Factorized convolution layers                                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * A factorized N-D convolution layer (tltorch.FactorizedConv), or a sub-convolution of one
 * (fconv_conv_get_conv). Opaque; freed with fconv_conv_free.
 *
 * Layer indices: a layer of a grid is named by `layer` / `layer_ndim` (one entry per grid
 * dimension). A single convolution takes layer_ndim 0 (or the index {0}); a sub-convolution
 * takes layer_ndim 0 and always means its own layer.
 *
 * Threads: fconv_conv_forward, fconv_conv_output_shape and every getter may run concurrently on
 * one handle and give identical results. fconv_conv_set, fconv_conv_transduct,
 * fconv_conv_set_parameters, fconv_conv_reset_parameters, fconv_conv_set_implementation and
 * fconv_conv_free should have exclusive access to the handle (and to its sub-convolutions'
 * parent) for results to be predictable; without it they are still safe (GLOBAL RULES, Threads).
 */
typedef struct fconv_conv fconv_conv;

/**
 * Creates a layer, initialized reproducibly (reconstruction ~ N(0, 0.02^2) from "seed", bias 0).
 *
 * @param in_channels, out_channels [in] >= 1.
 * @param kernel_size [in] `order` sizes >= 1 (any order >= 1).
 * @param options     [in] NULL for defaults, or keys: factorization, implementation, rank,
 *                    fixed_rank_modes, stride, padding, dilation, bias, has_bias, n_layers, seed.
 * @param out         [out] the new layer; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (a rank that resolves to 0, bad sizes, bad
 *   option values, an order of 17 to 32); FCONV_ERR_SHAPE_MISMATCH (order 0 or above 32);
 *   FCONV_ERR_UNSUPPORTED (an implementation the factorization lacks); FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_conv_create(int64_t in_channels, int64_t out_channels, const int64_t *kernel_size,
                               size_t order, const fconv_options *options, fconv_conv **out);

/**
 * Compresses a dense convolution (tltorch FactorizedConv.from_conv): decomposes its kernel in
 * float64 (CP-ALS, Tucker-HOOI or TT-SVD) at the requested rank and keeps its bias and geometry.
 *
 * @param weight       [in] float32 kernel (out_channels, in_channels, K_1..K_N), N >= 1.
 * @param weight_shape [in] its shape; weight_ndim = N + 2.
 * @param bias         [in] out_channels values, or NULL.
 * @param options      [in] NULL or keys: factorization, implementation (default
 *                     "reconstructed"), rank, fixed_rank_modes, stride, padding, dilation, seed,
 *                     decompose, n_iter_max, tol, l2_reg, init, cp_regularization, and the
 *                     progress callback.
 * @param out          [out] the new layer; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_SHAPE_MISMATCH; FCONV_ERR_NUMERICAL
 *   (NaN/Inf in the kernel or bias, a failed factorization); FCONV_ERR_UNSUPPORTED (an
 *   implementation the factorization lacks); FCONV_ERR_CANCELLED (the progress callback, or
 *   fconv_interrupt during the call); FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_conv_from_conv(const float *weight, const int64_t *weight_shape, size_t weight_ndim,
                                  const float *bias, const fconv_options *options, fconv_conv **out);

/**
 * Compresses n_convs dense convolutions of one kernel shape into a grid of n_convs layers
 * sharing one factorization (tltorch from_conv_list). Each layer keeps its own geometry and bias.
 *
 * @param weights   [in] n_convs pointers to float32 kernels of shape weight_shape.
 * @param biases    [in] NULL (no bias anywhere) or n_convs pointers, each NULL or out_channels values.
 * @param strides, paddings, dilations [in] NULL (defaults) or n_convs * N values (row per conv).
 * @param options   [in] as for fconv_conv_from_conv (its stride/padding/dilation are ignored).
 * @return as fconv_conv_from_conv.
 */
fconv_status fconv_conv_from_conv_list(size_t n_convs, const float *const *weights,
                                       const int64_t *weight_shape, size_t weight_ndim,
                                       const float *const *biases, const int64_t *strides,
                                       const int64_t *paddings, const int64_t *dilations,
                                       const fconv_options *options, fconv_conv **out);

/**
 * Releases a handle; NULL is a no-op. A parent stays alive until its last sub-convolution is
 * freed, so handles may be freed in any order.
 */
void fconv_conv_free(fconv_conv *conv);

/**
 * Sets layer `layer`'s stride, padding and dilation (NULL arrays mean 1 / 0 / 1, like tltorch,
 * which resets unspecified values) and, if `bias` is not NULL, its bias (which turns it on).
 *
 * @param n_spatial [in] entries in each non-NULL geometry array: the layer's order.
 * @param bias, bias_count [in] NULL/0, or out_channels values.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_INDEX_OUT_OF_RANGE;
 *   FCONV_ERR_SHAPE_MISMATCH (bias_count, n_spatial). Nothing changes on failure.
 */
fconv_status fconv_conv_set(fconv_conv *conv, const int64_t *layer, size_t layer_ndim,
                            const int64_t *stride, const int64_t *padding, const int64_t *dilation,
                            size_t n_spatial, const float *bias, size_t bias_count);

/**
 * A handle on one layer of a grid (tltorch get_conv / conv[indices]), sharing the parent's
 * parameters: changes through either are seen by both. It keeps the parent alive.
 *
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (a single convolution, or conv is itself a
 *   sub-convolution); FCONV_ERR_INDEX_OUT_OF_RANGE. *out is NULL on failure.
 */
fconv_status fconv_conv_get_conv(fconv_conv *conv, const int64_t *layer, size_t layer_ndim,
                                 fconv_conv **out);

/**
 * Adds a spatial dimension of kernel size `kernel_size` before spatial dimension `mode`
 * (0..order) — tltorch transduct: CP and Tucker put the old kernel at the centre tap (frame-wise
 * conv), TT replicates it along the new dimension. The new dimension's padding, stride and
 * dilation are inserted at the same position of every layer's geometry.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (mode, sizes, an order above 16; sub-convolution
 *   handles).
 */
fconv_status fconv_conv_transduct(fconv_conv *conv, int64_t kernel_size, int64_t mode, int64_t padding,
                                  int64_t stride, int64_t dilation);

/**
 * The output shape (batch, out_channels, S'_1..S'_N) of layer `layer` for an input shape.
 * A batch of 0 is allowed and gives an empty output; other sizes must be positive.
 * @param out_shape_capacity [in] at least input_ndim.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_SHAPE_MISMATCH;
 *   FCONV_ERR_INDEX_OUT_OF_RANGE; FCONV_ERR_BUFFER_TOO_SMALL; FCONV_ERR_OUT_OF_MEMORY (the output
 *   alone exceeds the memory bound: refused before the caller allocates it).
 */
fconv_status fconv_conv_output_shape(const fconv_conv *conv, const int64_t *input_shape, size_t input_ndim,
                                     const int64_t *layer, size_t layer_ndim, int64_t *out_shape,
                                     size_t out_shape_capacity);

/**
 * Runs layer `layer` on a float32 input (batch, in_channels, S_1..S_N) into a caller-allocated
 * output of fconv_conv_output_shape's shape. A batch of 0 reads and writes nothing.
 * @return FCONV_OK; the codes of fconv_conv_output_shape; FCONV_ERR_BUFFER_TOO_SMALL;
 *   FCONV_ERR_NUMERICAL (NaN or Inf in the input; or, while fconv_set_output_check is on, a
 *   finite input whose output overflowed to inf/NaN); FCONV_ERR_OUT_OF_MEMORY (the output plus
 *   the scratch of the workers the call uses beyond the memory bound); FCONV_ERR_CANCELLED
 *   (fconv_interrupt during the call: the output is partly written, the layer unchanged).
 * Threads: concurrent calls on one handle are safe and give identical results.
 */
fconv_status fconv_conv_forward(const fconv_conv *conv, const float *input, const int64_t *input_shape,
                                size_t input_ndim, const int64_t *layer, size_t layer_ndim, float *output,
                                size_t output_capacity);

/**
 * fconv_conv_forward with the output's shape instead of its capacity: the call fails with
 * FCONV_ERR_SHAPE_MISMATCH, writing nothing, unless the output has exactly `output_shape`
 * (as fconv_conv_output_shape reports it). `output` holds the product of output_shape floats.
 * A binding that allocates from a cached shape calls this alone, and queries the shape again
 * only when it fails.
 * @return the codes of fconv_conv_forward.
 */
fconv_status fconv_conv_forward_shaped(const fconv_conv *conv, const float *input, const int64_t *input_shape,
                                       size_t input_ndim, const int64_t *layer, size_t layer_ndim, float *output,
                                       const int64_t *output_shape, size_t output_ndim);

/** Changes the forward implementation. @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_UNSUPPORTED. */
fconv_status fconv_conv_set_implementation(fconv_conv *conv, fconv_implementation implementation);

/**
 * The implementation a forward of `layer` on `input_shape` would use (for FCONV_IMPL_AUTO: the
 * one it picks). @param implementation [out] an FCONV_IMPL_* value.
 */
fconv_status fconv_conv_chosen_implementation(const fconv_conv *conv, const int64_t *input_shape,
                                              size_t input_ndim, const int64_t *layer, size_t layer_ndim,
                                              fconv_implementation *implementation);

/* Parameters (tltorch state_dict names: "bias", "weight.weights", "weight.core",
 * "weight.factors.factor_<i>", "weight.tensor") -------------------------------------------- */

/** The number of named parameters. A sub-convolution reports its parent's. */
fconv_status fconv_conv_parameter_count(const fconv_conv *conv, size_t *count);

/**
 * The name of parameter `index` (0..count-1), NUL-terminated into `buffer`.
 * @param length [out] optional: the name's length without the NUL.
 * @return FCONV_OK; FCONV_ERR_INDEX_OUT_OF_RANGE; FCONV_ERR_BUFFER_TOO_SMALL (length is still set).
 */
fconv_status fconv_conv_parameter_name(const fconv_conv *conv, size_t index, char *buffer, size_t capacity,
                                       size_t *length);

/**
 * The shape of parameter `name`. @param ndim [out] its number of dimensions (set even when the
 * capacity is too small). @return FCONV_OK; FCONV_ERR_FORMAT (unknown name); FCONV_ERR_BUFFER_TOO_SMALL.
 */
fconv_status fconv_conv_parameter_shape(const fconv_conv *conv, const char *name, int64_t *shape,
                                        size_t capacity, size_t *ndim);

/** Copies parameter `name` (C order) into `values`. @return as fconv_conv_parameter_shape. */
fconv_status fconv_conv_get_parameter(const fconv_conv *conv, const char *name, float *values,
                                      size_t capacity);

/**
 * Replaces parameters at once (tltorch load_state_dict). Every name must be known and every
 * shape must fit; with `strict` nonzero every parameter must be given. A complete set of
 * factors may change the rank. Nothing changes on failure. A layer made of given factors
 * (tltorch from_factorization) is fconv_conv_create at the factors' rank, then this call with
 * every parameter.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs); FCONV_ERR_FORMAT (unknown / missing
 *   names); FCONV_ERR_SHAPE_MISMATCH; FCONV_ERR_NUMERICAL (NaN/Inf values).
 */
fconv_status fconv_conv_set_parameters(fconv_conv *conv, size_t count, const char *const *names,
                                       const float *const *values, const int64_t *const *shapes,
                                       const size_t *ndims, int32_t strict);

/**
 * The dense kernel in PyTorch layout: for layer `layer` (C_out, C_in, K...), or with
 * layer_ndim 0 on a grid every layer stacked (layers..., C_out, C_in, K...).
 * Query the shape with fconv_conv_kernel_shape.
 */
fconv_status fconv_conv_reconstruct_kernel(const fconv_conv *conv, const int64_t *layer, size_t layer_ndim,
                                           float *kernel, size_t capacity);

/** The shape fconv_conv_reconstruct_kernel produces; `ndim` [out] is set even if capacity is short. */
fconv_status fconv_conv_kernel_shape(const fconv_conv *conv, const int64_t *layer, size_t layer_ndim,
                                     int64_t *shape, size_t capacity, size_t *ndim);

/** Re-initializes: reconstruction ~ N(0, std^2) from `seed`, bias zero. std finite and >= 0. */
fconv_status fconv_conv_reset_parameters(fconv_conv *conv, double std, uint64_t seed);

/* Getters -------------------------------------------------------------------------------- */

/** What fconv_conv_get_ints reports. Values pinned. */
typedef int32_t fconv_info;
#define FCONV_INFO_IN_CHANNELS     0  /**< 1 value */
#define FCONV_INFO_OUT_CHANNELS    1  /**< 1 value */
#define FCONV_INFO_ORDER           2  /**< 1 value: spatial dimensions */
#define FCONV_INFO_KERNEL_SIZE     3  /**< order values */
#define FCONV_INFO_RANK            4  /**< CP: 1 value; Tucker/TT: one per mode; Dense: 0 values */
#define FCONV_INFO_N_LAYERS        5  /**< the grid's shape (0 values for a single convolution) */
#define FCONV_INFO_FACTORIZATION   6  /**< 1 value: FCONV_FACTORIZATION_* */
#define FCONV_INFO_IMPLEMENTATION  7  /**< 1 value: FCONV_IMPL_* */
#define FCONV_INFO_PARAMETER_COUNT 8  /**< 1 value: scalars stored (factors + bias) */
#define FCONV_INFO_HAS_BIAS        9  /**< one 0/1 per layer (sub-convolution: its layer) */
#define FCONV_INFO_STRIDE         10  /**< order values per layer, row per layer */
#define FCONV_INFO_PADDING        11  /**< as FCONV_INFO_STRIDE */
#define FCONV_INFO_DILATION       12  /**< as FCONV_INFO_STRIDE */
#define FCONV_INFO_BIAS_PARAMETER 13  /**< 1 value: 1 if a bias parameter exists */
#define FCONV_INFO_SHAPE          14  /**< the factorized tensor's shape (layer modes first) */
#define FCONV_INFO_LAYER          15  /**< a sub-convolution's layer index (0 values otherwise) */

/**
 * Reads integer information about a layer into `values`.
 * @param count [out] the number of values (set even when capacity is too small).
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (unknown key, NULLs); FCONV_ERR_BUFFER_TOO_SMALL.
 */
fconv_status fconv_conv_get_ints(const fconv_conv *conv, fconv_info key, int64_t *values, size_t capacity,
                                 size_t *count);

/**
 * The layer's description in tltorch's extra_repr layout (docs/tltorch-behaviour.md §9), NUL-terminated.
 * @param length [out] optional: the text's length without the NUL (set even if capacity is short).
 * @return FCONV_OK; FCONV_ERR_BUFFER_TOO_SMALL.
 */
fconv_status fconv_conv_repr(const fconv_conv *conv, char *buffer, size_t capacity, size_t *length);

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/**
 * Saves a layer as one .safetensors file: every parameter under its state_dict name (float32,
 * little-endian) and the configuration (factorization, ranks, kernel size, per-layer geometry,
 * has_bias, implementation, library version) as JSON in the "__metadata__" entry. The file is
 * written to a temporary name in the target's directory and renamed, so a failure never leaves
 * a partial file at `path`. A symlink at `path` is followed and its target replaced; a path that
 * names a directory, FIFO, device or socket is refused (FCONV_ERR_IO) and left as it is; a
 * replaced file keeps its permission bits and, where the process may set it, its owner.
 * A sub-convolution saves its whole parent.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs); FCONV_ERR_IO (naming `path`).
 */
fconv_status fconv_conv_save(const fconv_conv *conv, const char *path);

/**
 * Loads a layer saved by fconv_conv_save (or written by another safetensors writer with the same
 * names and metadata). Every offset, length, dtype and shape is checked before use.
 * @param out [out] the new layer; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_IO (cannot read, or not a regular
 *   file: a FIFO, device or directory is refused without blocking on it); FCONV_ERR_FORMAT
 *   (malformed or inconsistent file); FCONV_ERR_OUT_OF_MEMORY (sizes beyond the memory bound).
 */
fconv_status fconv_conv_load(const char *path, fconv_conv **out);

/**
 * The bytes fconv_conv_save would write (the layer's .safetensors file), into a caller buffer:
 * to keep, send or embed a layer without a file. Call with buffer NULL and capacity 0 to learn
 * the size (then FCONV_ERR_BUFFER_TOO_SMALL); the size of a layer changes only when its
 * parameters or configuration do.
 * @param buffer   [out] capacity bytes, or NULL when capacity is 0.
 * @param size     [out] the layer file's size in bytes, set on FCONV_OK and on
 *                 FCONV_ERR_BUFFER_TOO_SMALL.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_BUFFER_TOO_SMALL; FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_conv_save_to_buffer(const fconv_conv *conv, void *buffer, size_t capacity, size_t *size);

/**
 * Loads a layer from `size` bytes of a layer file in memory (fconv_conv_save_to_buffer's output,
 * or a file's contents), with every check of fconv_conv_load. The library copies what it needs:
 * the buffer may be freed or reused as soon as the call returns.
 * @param out [out] the new layer; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_FORMAT (malformed, truncated or
 *   inconsistent bytes); FCONV_ERR_OUT_OF_MEMORY (sizes beyond the memory bound).
 */
fconv_status fconv_conv_load_from_buffer(const void *data, size_t size, fconv_conv **out);

/* ------------------------------------------------------------------------------------------ */
/* Model bundles                                                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * A model bundle: many named layers in one .safetensors file, e.g. every factorized convolution
 * of a network under its module path ("backbone.layer1.0.conv1"). Opaque; opened with
 * fconv_bundle_open or fconv_bundle_open_buffer, freed with fconv_bundle_free.
 *
 * File.  Each layer's parameters are tensors named "<name>.<state_dict name>"
 *   ("backbone.layer1.0.conv1.weight.factors.factor_0"), and the "__metadata__" entry
 *   "factorconv_bundle" holds a JSON table of contents: a format version and the ordered list of
 *   layers, each with its name, its configuration (the JSON a single-layer file stores under
 *   "factorconv") and the names of its tensors. Readers take names from that list and never split
 *   tensor names at dots. A single-layer file (fconv_conv_save) is not a bundle: the bundle
 *   functions refuse it with FCONV_ERR_FORMAT, as fconv_conv_load refuses a bundle.
 *
 * Names.  A layer name is non-empty UTF-8 of at most 1024 bytes with no control characters
 *   (U+0000 to U+001F, U+007F to U+009F); the names of one bundle are distinct. A bundle holds
 *   0 to 100000 layers.
 *
 * Ownership and threads.  The caller owns the handle. A bundle never changes once opened: every
 *   function may be called on one handle from any threads at once, and its layers are copied out
 *   (fconv_bundle_get_layer), never shared. A free racing other calls is safe (GLOBAL RULES,
 *   Handles and Threads), but the name pointers of a freed bundle dangle.
 */
typedef struct fconv_bundle fconv_bundle;

/**
 * Opens the bundle file at `path`. Everything is checked before any layer is built: offsets and
 * lengths inside the file, no two tensors sharing bytes and no bytes outside a tensor, the table
 * of contents (format version, counts, valid and unique names), every listed tensor present and
 * listed by one layer only, every tensor listed, then each layer's tensors against its
 * configuration (names, shapes, ranks, finite values) as fconv_conv_load checks them.
 * @param out [out] the new bundle; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs); FCONV_ERR_IO (cannot read, or not a
 *   regular file: a FIFO, device or directory is refused without blocking on it);
 *   FCONV_ERR_FORMAT (malformed or inconsistent file, naming the layer; a single-layer file);
 *   FCONV_ERR_OUT_OF_MEMORY (sizes beyond the memory bound).
 */
fconv_status fconv_bundle_open(const char *path, fconv_bundle **out);

/**
 * Opens a bundle from `size` bytes of a bundle file in memory (fconv_bundle_save_to_buffer's
 * output, or a file's contents), with every check of fconv_bundle_open. The library copies what
 * it needs: the buffer may be freed or reused as soon as the call returns.
 * @param out [out] the new bundle; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_FORMAT (malformed, truncated or
 *   inconsistent bytes); FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_bundle_open_buffer(const void *data, size_t size, fconv_bundle **out);

/** Releases a bundle (and its name strings); NULL is a no-op. Layers taken from it stay valid. */
void fconv_bundle_free(fconv_bundle *bundle);

/**
 * The number of layers. @param count [out] set on FCONV_OK.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs, not a live bundle).
 */
fconv_status fconv_bundle_count(const fconv_bundle *bundle, size_t *count);

/**
 * The name of layer `index` (0..count-1, in file order).
 * @param name [out] a NUL-terminated UTF-8 string owned by the bundle: valid until
 *   fconv_bundle_free(bundle), unchanged until then; the caller must not free or modify it.
 *   NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT; FCONV_ERR_INDEX_OUT_OF_RANGE.
 */
fconv_status fconv_bundle_name(const fconv_bundle *bundle, size_t index, const char **name);

/**
 * A new layer with the parameters and configuration of the layer named `name` (exact match).
 * Each call returns a new, independent layer that the caller owns and frees with fconv_conv_free:
 * changing it changes neither the bundle nor other layers taken from it, and it stays valid after
 * the bundle is freed.
 * @param out [out] the new layer; NULL on failure.
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs, no layer of that name);
 *   FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_bundle_get_layer(const fconv_bundle *bundle, const char *name, fconv_conv **out);

/**
 * Saves `n` layers as one bundle file: layer i is convs[i] under the name names[i], in that
 * order (names as described for fconv_bundle, distinct). Each layer is saved from one consistent
 * snapshot of its parameters; the same layer may appear under two names (it is stored twice).
 * Sub-convolutions (fconv_conv_get_conv) are refused: save their parent. The file is written as
 * fconv_conv_save writes: to a temporary name in the target's directory, then renamed, so a
 * failure never leaves a partial file at `path`; symlinks are followed; a directory, FIFO,
 * device or socket is refused and left as it is; a replaced file keeps its mode and owner.
 * @param names [in] n NUL-terminated UTF-8 strings (NULL allowed when n is 0); copied.
 * @param convs [in] n live layer handles (NULL allowed when n is 0).
 * @return FCONV_OK; FCONV_ERR_INVALID_ARGUMENT (NULLs, an invalid or repeated name, a dead or
 *   sub-convolution handle, n above the limit); FCONV_ERR_IO (naming `path`);
 *   FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_bundle_save(const char *path, size_t n, const char *const *names,
                               const fconv_conv *const *convs);

/**
 * The bytes fconv_bundle_save would write, into a caller buffer, with the size-query convention
 * of fconv_conv_save_to_buffer: call with buffer NULL and capacity 0 to learn the size (then
 * FCONV_ERR_BUFFER_TOO_SMALL). The size changes only when a layer's parameters or configuration do.
 * @param buffer [out] capacity bytes, or NULL when capacity is 0.
 * @param size   [out] the bundle's size in bytes, set on FCONV_OK and FCONV_ERR_BUFFER_TOO_SMALL.
 * @return FCONV_OK; the argument errors of fconv_bundle_save; FCONV_ERR_BUFFER_TOO_SMALL;
 *   FCONV_ERR_OUT_OF_MEMORY.
 */
fconv_status fconv_bundle_save_to_buffer(size_t n, const char *const *names, const fconv_conv *const *convs,
                                         void *buffer, size_t capacity, size_t *size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FACTORCONV_H */

// Hand-written AVX-512 kernels for the hot loops where OpenBLAS and portable Swift fall short:
// the Winograd convolution's GEMMs (OpenBLAS re-packs the transformed kernel, up to several MB,
// on every call, and its kernels are slower on a 49-tile block's GEMMs than a register-blocked
// kernel on panels packed once per weight) and transforms;
// channel mixing (OpenBLAS copies X and zero-fills Y first); the per-mode convolutions of the CP
// and TT paths.
//
// Internal to libfactorconv (hidden by the release .so's version script). Every function here
// except fck_avx512_available, fck_avx2_available, fck_pack_panels, fck_packed_rows, fck_prefetch
// and fck_all_finite requires fck_avx512_available() == 1, but those named *_avx2, which require
// fck_avx2_available() == 1; callers fall back to BLAS otherwise. No function allocates or fails: callers pass valid
// pointers and sizes.
//
// The module also holds the interrupt state behind fconv_interrupt (factorconv_interrupt.h,
// included here so that every user of the module sees it).
#ifndef FACTORCONV_KERNELS_H
#define FACTORCONV_KERNELS_H

#include <stddef.h>

#include "factorconv_interrupt.h"

/// Rows per packed panel of A (two 16-float AVX-512 vectors).
#define FCK_PANEL_ROWS 32

/// 1 when the CPU and OS support the AVX-512 F/VL instructions these kernels use, else 0.
int fck_avx512_available(void);

/// Rows of a packed matrix of `rows` rows, padding included: full panels of 32 rows, and a last
/// panel of 16 when at most 16 rows remain.
int fck_packed_rows(int rows);

/// Packs the `rows` × `depth` row-major matrix `a` (row stride `lda`) into panels:
/// panel p (rows 32p...) holds packed[32p · depth + k · width + r] = a[(32p + r) · lda + k], with
/// width 32, or 16 for a last half panel, and zeros for rows past `rows`. `packed` holds
/// fck_packed_rows(rows) · depth floats.
void fck_pack_panels(const float *a, ptrdiff_t lda, int rows, int depth, float *packed);

/// C = A · B, or C += A · B when `accumulate` is nonzero, for A (`rows` × `depth`) given as
/// packed panels (fck_pack_panels), starting at a panel and ending at a multiple of 32 rows or
/// at the packed matrix's last row (so that the panel widths match the packing), B row-major
/// (`depth` × `columns`, row stride `ldb`), and C stored transposed: element (i, j) at
/// c[j · ldc + i], so that each output column is a run of rows (channels).
void fck_gemm_packed(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb, int columns,
                     float *c, ptrdiff_t ldc, int accumulate);

/// fck_gemm_packed with AVX2 and FMA only (fck_avx2_available), for CPUs without AVX-512: the
/// same arguments, panels and result.
void fck_gemm_packed_avx2(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb, int columns,
                          float *c, ptrdiff_t ldc, int accumulate);

/// The input transform of Winograd F(2, r), r = 3 or 5 (`taps`), vectorized over tiles: Bᵀ d of
/// `tiles` tiles whose inputs d_{2i} = even[k + i], d_{2i+1} = odd[k + i] (fck_deinterleave);
/// position ξ of tile k goes to v[ξ · xi_stride + k].
void fck_winograd_input_line(int taps, const float *even, const float *odd, int tiles, float *v, ptrdiff_t xi_stride);

/// fck_winograd_input_line with AVX2 and FMA only (fck_avx2_available): the same arguments and result.
void fck_winograd_input_line_avx2(int taps, const float *even, const float *odd, int tiles, float *v,
                                  ptrdiff_t xi_stride);

/// Channel mixing (a 1×1 convolution) Y = W · X + bias: W is `rows` × `depth` (row stride `ldw`),
/// X is `depth` × `columns` (row stride `ldx`), Y is `rows` × `columns` (row stride `ldy`),
/// all row-major; `bias` (`rows` floats) may be NULL. X is read in place — or, when its rows are
/// a multiple of 4 KB apart and `rows` > 64, through `scratch` (32 · `depth` floats, may be NULL
/// to never do so) — and each output written once (BLAS copies X into a packed buffer and
/// zero-fills Y first).
/// When `nonfinite` is not NULL, X is also checked for NaN and infinities, and *nonfinite set
/// to 1 if it has any (left unchanged otherwise): any of them makes its column of Y non-finite,
/// so Y's first row is checked, and X's block only when that row is not finite. `rows` ≥ 1.
void fck_mix_channels(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx,
                      int columns, float *y, ptrdiff_t ldy, const float *bias, float *scratch, int *nonfinite);

/// fck_mix_channels with AVX2 and FMA only (requires fck_avx2_available() instead): the same
/// arguments, result and non-finite check; `scratch`, when given, holds 16 · `depth` floats and
/// is used for full blocks when `rows` > 24 and X's rows are a multiple of 4 KB apart or
/// `depth` ≥ 128, and for blocks narrower than their tile (the head and the last block, when
/// neither 16 nor 8 columns wide) when `rows` > 6.
/// When `nonfinite_output` is not NULL, Y is checked as well and *nonfinite_output set to 1 if
/// it holds NaN or infinities (left unchanged otherwise), at about no cost: each block's outputs
/// are summed as they are stored, and the block is checked value by value only when its sum is
/// not finite.
void fck_mix_channels_avx2(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx,
                           int columns, float *y, ptrdiff_t ldy, const float *bias, float *scratch, int *nonfinite,
                           int *nonfinite_output);

/// Depthwise 1-D convolution of one channel along one mode: `outer` blocks, each of `size` input
/// rows of `inner` contiguous floats, become `out_size` output rows; output row o is
/// Σ_t w[t] · row(o · stride − pad + t · dilation) over the taps t < `taps` whose row exists
/// (zero padding). Each output is written once.
void fck_depthwise_mode(const float *src, float *dst, int outer, int size, int inner, int out_size,
                        const float *w, int taps, int stride, int pad, int dilation);

/// 1 when the CPU has AVX2 and FMA (the *_avx2 functions may run), else 0.
int fck_avx2_available(void);

/// fck_depthwise_mode with AVX2 and FMA only, for CPUs without AVX-512: the same arguments and result.
void fck_depthwise_mode_avx2(const float *src, float *dst, int outer, int size, int inner, int out_size,
                             const float *w, int taps, int stride, int pad, int dilation);

/// The two depthwise 1-D convolutions along the last two modes in one pass, the first one's
/// output never stored: `channels` channels, each of `outer` planes of `rows` rows of `width`
/// floats (channel c's weights at w_rows + c · taps_rows and w_cols + c · taps_cols). First along
/// the rows, at stride 1: output row o (of `out_rows`) is Σ_t w_rows[t] · row(o − pad_rows + t ·
/// dil_rows) over the `taps_rows` taps whose row exists; then along each of those rows, 'same'
/// (stride 1, `width` columns out): column x is Σ_t w_cols[t] · v(x − pad_cols + t · dil_cols)
/// over the columns that exist. Equal to fck_depthwise_mode along the rows into a buffer, then
/// along the columns. Returns 0, or −1 without writing when fck_depthwise_plane_handles says no.
int fck_depthwise_plane(const float *src, float *dst, int channels, int outer, int rows, int width, int out_rows,
                        const float *w_rows, int taps_rows, int pad_rows, int dil_rows, const float *w_cols,
                        int taps_cols, int pad_cols, int dil_cols);

/// A depthwise 2-D convolution of one plane per channel in one pass, with a full kernel per
/// channel (CP's mobilenet path): `channels` planes of `rows` rows of `width` floats, channel c's
/// at src + c · src_cs (output at dst + c · dst_cs), its `taps_rows` × `taps_cols` kernel
/// row-major at kernels + c · kernel_cs. Output row o (of `out_rows`, stride 1), column x ('same')
/// is Σ_{t,u} k[t][u] · in(o − pad_rows + t · dil_rows, x − pad_cols + u · dil_cols) over the
/// positions that exist; added to the output when `accumulate` is nonzero (the outer taps of an
/// N-D kernel), else written. Returns 0, or −1 without writing when fck_depthwise_plane_handles
/// says no.
int fck_depthwise_2d(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels, int rows,
                     int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs, int taps_rows, int pad_rows,
                     int dil_rows, int taps_cols, int pad_cols, int dil_cols, int accumulate);

/// 1 when fck_depthwise_plane and fck_depthwise_2d handle planes `width` wide with these taps, else 0: at most 8
/// taps in either pass, dilations ≥ 1, 'same' columns (2 · pad_cols = (taps_cols − 1) ·
/// dil_cols) whose taps reach at most 16 columns (pad_cols ≤ 16), and a width whose lanes'
/// columns repeat within 256 vectors (width / gcd(width, 16) ≤ 256).
int fck_depthwise_plane_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols);

/// fck_depthwise_plane with AVX2 and FMA only, for CPUs without AVX-512: the same arguments and result; −1
/// without writing when fck_depthwise_plane_avx2_handles says no.
int fck_depthwise_plane_avx2(const float *src, float *dst, int channels, int outer, int rows, int width,
                             int out_rows, const float *w_rows, int taps_rows, int pad_rows, int dil_rows,
                             const float *w_cols, int taps_cols, int pad_cols, int dil_cols);

/// Three depthwise convs of 3-D images in one pass, AVX2 and FMA only: along the depth (mode 0, stride
/// 1: `taps_depth` taps, zero padding `pad_depth`, dilation `dil_depth`, channel c's taps at
/// w_depth + c · taps_depth), then the pair of fck_depthwise_plane_avx2 over the last two modes.
/// Channel c's input is `depth` planes of rows × width at src + c · src_cs, its output `out_depth`
/// planes of out_rows × width at dst + c · dst_cs, each channel's planes contiguous. Strides
/// larger than depth · rows · width let a caller run a slab of a larger volume's planes: planes
/// outside the slab count as padding, so the slab must hold every plane its outputs reach that
/// the volume has. Each output plane's depth sum is made in `plane` (rows · width floats, the
/// caller's) and handed to the pair, so that it never goes to memory. The result equals the
/// depth stage by fck_depthwise_mode_avx2 followed by fck_depthwise_plane_avx2, bit for bit.
/// Returns 0, or −1 without writing when fck_depthwise_plane_avx2_handles says no or the depth
/// geometry is invalid.
int fck_depthwise_volume_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels,
                              int depth, int out_depth, int rows, int width, int out_rows, const float *w_depth,
                              int taps_depth, int pad_depth, int dil_depth, const float *w_rows, int taps_rows,
                              int pad_rows, int dil_rows, const float *w_cols, int taps_cols, int pad_cols,
                              int dil_cols, float *plane);

/// fck_depthwise_2d with AVX2 and FMA only, for CPUs without AVX-512: the same arguments and result; −1
/// without writing when fck_depthwise_plane_avx2_handles says no.
int fck_depthwise_2d_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels, int rows,
                          int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs, int taps_rows,
                          int pad_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols, int accumulate);

/// fck_depthwise_plane_handles for the AVX2 kernels: the same taps, but a width whose 8-lane vectors' columns
/// repeat within 64 vectors (width / gcd(width, 8) ≤ 64: every width up to 63, even ones up to 126, multiples
/// of 4 up to 256 and of 8 up to 512).
int fck_depthwise_plane_avx2_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols,
                                     int dil_cols);

/// 1 when none of the `n` floats at `x` is NaN or infinite, else 0. Runs on any CPU.
int fck_all_finite(const float *x, size_t n);

/// Asks the CPU to start loading `bytes` bytes at `start` into cache (a hint; no effect off x86-64).
void fck_prefetch(const void *start, size_t bytes);

/// Splits a row into even and odd columns after `pad` columns of left padding:
/// even[k] = x[2k − pad], odd[k] = x[2k + 1 − pad] for k < `count`, zero outside [0, width)
/// and everywhere when `x` is NULL (a padding row).
void fck_deinterleave(const float *x, int width, int pad, int count, float *even, float *odd);

/// fck_deinterleave with AVX2 only (fck_avx2_available): the same arguments and result.
void fck_deinterleave_avx2(const float *x, int width, int pad, int count, float *even, float *odd);

/// The input transform of Winograd F(2×2, 3×3), vectorized over tiles: Bᵀ d B of `tiles`
/// consecutive 4×4 tiles whose 4 rows r are given split (fck_deinterleave) at
/// even + r · row_stride and odd + r · row_stride, each `tiles` + 1 long (tile k covers columns
/// e_k, o_k, e_{k+1}, o_{k+1}). Writes position ξ = 4i + j of tile k to v[ξ · xi_stride + k].
void fck_winograd_input_2x2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles, float *v,
                            ptrdiff_t xi_stride);

/// fck_winograd_input_2x2 with AVX2 and FMA only (fck_avx2_available): the same arguments and result.
void fck_winograd_input_2x2_avx2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles, float *v,
                                 ptrdiff_t xi_stride);

/// Most taps fck_mode_conv handles.
#define FCK_MODE_CONV_MAX_TAPS 64

/// Dense convolution along one mode (a kernel of 1 with trivial geometry in every other
/// dimension): output channel o, row r is Σ_c Σ_t w[(o · cin + c) · taps + t] · row(c, r · stride −
/// pad + t · dilation) (+ bias[o]; `bias` may be NULL), rows outside [0, size) being zero. Channel
/// c of the input starts at in + c · in_cs and holds `outer` blocks of `size` rows of `inner`
/// contiguous floats; channel o of the output starts at out + o · out_cs (blocks of `out_size`
/// rows). Returns 0, or −1 without writing when it does not handle the case (more than
/// FCK_MODE_CONV_MAX_TAPS taps, or a strided innermost mode).
int fck_mode_conv(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs, int outer,
                  int size, int inner, int out_size, const float *w, int taps, int stride, int pad, int dilation,
                  const float *bias);

/// fck_mode_conv with AVX2 and FMA only, for CPUs without AVX-512: the same arguments and result.
int fck_mode_conv_avx2(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs, int outer,
                       int size, int inner, int out_size, const float *w, int taps, int stride, int pad, int dilation,
                       const float *bias);

/// The output transform of Winograd F(2×2, 3×3), vectorized over channels: for `tile_rows`
/// rows of `tiles` tiles and `channels` channels, Aᵀ m A + bias, where
/// m[ξ · xi_stride + (tr · tiles + t) · tile_stride + c] is position ξ (4i + j) of tile t of tile
/// row tr, channel c. Writes out[c · plane_stride + (2 tr + i) · width + 2t + j], stopping at
/// `rows` output rows and `width` columns. `bias` may be NULL.
void fck_winograd_output_2x2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles, int tile_rows,
                             int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width, int rows);

/// fck_winograd_output_2x2 with AVX2 and FMA only (fck_avx2_available): the same arguments and result.
void fck_winograd_output_2x2_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                  int tile_rows, int channels, const float *bias, float *out, ptrdiff_t plane_stride,
                                  int width, int rows);

/// The output transform of Winograd F(2×2, 3×3) for products stored channel-major (by BLAS),
/// vectorized over tiles: Aᵀ m A + bias of `tiles` consecutive tiles of one channel and tile row
/// (position ξ of tile k at m[ξ · xi_stride + k]), written as output rows `row0` and `row1`
/// (NULL past the output's end), tile k at columns 2k and 2k + 1, stopping at `width` columns.
void fck_winograd_output_2x2_tiles(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                   float *row0, float *row1);

/// fck_winograd_output_2x2_tiles with AVX2 and FMA only (fck_avx2_available): the same arguments and result.
void fck_winograd_output_2x2_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                        float *row0, float *row1);

/// The output transform of Winograd F(2, r), r = 3 or 5 (`taps`), vectorized over channels: for
/// `tiles` consecutive tiles and `channels` channels, Aᵀ m + bias with m laid out as for
/// fck_winograd_output_2x2 (ξ < r + 1), written to out[c · plane_stride + 2t + j], stopping at
/// `width` outputs. `bias` may be NULL.
void fck_winograd_output_line(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                              int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width);

/// fck_winograd_output_line with AVX2 and FMA only (fck_avx2_available): the same arguments and result.
void fck_winograd_output_line_avx2(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                   int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width);

/// Splits input row `x` (`width` floats, or NULL for a padding row) into its 4 column phases
/// after `pad` zeros of left padding, for Winograd F(4×4, 3×3): out[r · stride + k] =
/// x[4k + r − pad] for r < 4 and k < count, zero outside the row. AVX2 (fck_avx2_available).
void fck_deinterleave4_avx2(const float *x, int width, int pad, int count, float *out, ptrdiff_t stride);

/// The input transform of Winograd F(4×4, 3×3), vectorized over tiles (AVX2, fck_avx2_available):
/// Bᵀ d B of `tiles` consecutive 6×6 tiles whose 6 rows a are given as 4 column phases
/// (fck_deinterleave4_avx2) at phases + a · row_stride + r · phase_stride, each `tiles` + 1 long
/// (tile k covers columns 4k … 4k + 5). Writes position ξ = 6i + j of tile k to v[ξ · xi_stride + k].
/// Reads whole vectors of 8 tiles: each phase must have 8 · ⌈`tiles` / 8⌉ + 1 readable floats
/// (what lies past its first `tiles` + 1 only reaches lanes that are not written).
void fck_winograd_input_4x4_avx2(const float *phases, ptrdiff_t phase_stride, ptrdiff_t row_stride, int tiles,
                                 float *v, ptrdiff_t xi_stride);

/// The output transform of Winograd F(4×4, 3×3) for products stored channel-major (by BLAS),
/// vectorized over tiles (AVX2): Aᵀ m A + bias of `tiles` consecutive tiles of one channel and
/// tile row (position ξ = 6i + j of tile k at m[ξ · xi_stride + k]), output row i of tile k at
/// out[i · width + 4k + j], stopping at `rows` rows and `width` columns.
void fck_winograd_output_4x4_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                        int rows, float *out);

/// The output transform of Winograd F(4×4, 3×3), vectorized over channels (AVX2): as
/// fck_winograd_output_2x2 with 36 positions ξ = 6i + j and 4×4 outputs per tile, written to
/// out[c · plane_stride + (4 tr + i) · width + 4t + j], stopping at `rows` rows and `width` columns.
void fck_winograd_output_4x4_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                  int tile_rows, int channels, const float *bias, float *out, ptrdiff_t plane_stride,
                                  int width, int rows);

#endif

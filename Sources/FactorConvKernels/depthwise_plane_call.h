// The call record both depthwise plane kernels (depthwise_plane.c, AVX-512; depthwise_plane_avx2.c,
// AVX2) pass to their drivers. Private to this target.
#ifndef FACTORCONV_DEPTHWISE_PLANE_CALL_H
#define FACTORCONV_DEPTHWISE_PLANE_CALL_H

#include <stddef.h>

/// A call of either depthwise plane entry point (depthwise_plane.c, depthwise_plane_avx2.c): the
/// planes of `channels` channels, `outer` planes each (channel c's at src + c · src_cs and
/// dst + c · dst_cs, plane after plane), separable (`kernels` NULL: channel c's weights at
/// w_rows + c · taps_rows and w_cols + c · taps_cols) or full (channel c's kernel at
/// kernels + c · kernel_cs).
///
/// With `w_outer` (AVX2's separable kernel only, fck_depthwise_volume_avx2), a depthwise conv
/// along the outer mode (stride 1) comes first: output plane o of a channel is the pair run on
/// Σ_t w_outer[c · taps_outer + t] · input plane (o − pad_outer + t · dil_outer), over the
/// planes that exist, combined into `combined` (rows · width floats); `outer` counts the input
/// planes and `outer_out` the output ones. Entry points without it leave these fields zero.
typedef struct {
    const float *src;
    float *dst;
    ptrdiff_t src_cs, dst_cs, kernel_cs;
    int channels, outer, rows, width, out_rows;
    const float *w_rows, *w_cols, *kernels;
    int taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, accumulate;
    const float *w_outer;
    int taps_outer, pad_outer, dil_outer, outer_out;
    float *combined;
} plane_call;

#endif

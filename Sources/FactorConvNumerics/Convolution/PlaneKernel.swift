import FactorConvKernels

/// The one-pass depthwise kernels over the last two modes (along the rows at stride 1, then along
/// the columns 'same'; two separable stages, or a full 2-D kernel): `fck_depthwise_plane` and
/// `fck_depthwise_2d` with AVX-512, their AVX2 + FMA counterparts `fck_depthwise_plane_avx2` and
/// `fck_depthwise_2d_avx2` otherwise. Both compute the same result; they differ in the plane
/// widths they take. The kernel this CPU runs is `KernelSet.best` (nil: the stages run one at a
/// time).
typealias PlaneKernel = KernelSet

extension KernelSet {
    /// True when this kernel takes planes `width` wide with these row taps and ('same') column taps.
    func takes(width: Int, rowTaps: Int, rowDilation: Int, columnTaps: Int, columnPadding: Int,
               columnDilation: Int) -> Bool {
        guard width <= Int(Int32.max), rowTaps <= Int(Int32.max), rowDilation <= Int(Int32.max),
              columnTaps <= Int(Int32.max), columnPadding <= Int(Int32.max), columnDilation <= Int(Int32.max)
        else { return false }
        let handles = self == .avx512 ? fck_depthwise_plane_handles : fck_depthwise_plane_avx2_handles
        return handles(Int32(width), Int32(rowTaps), Int32(rowDilation), Int32(columnTaps), Int32(columnPadding),
                       Int32(columnDilation)) == 1
    }

    /// `fck_depthwise_plane` or `fck_depthwise_plane_avx2`: 0, or −1 without writing when `takes` says no.
    func plane(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, channels: Int32, outer: Int32,
               rows: Int32, width: Int32, outRows: Int32, rowWeights: UnsafePointer<Float>, rowTaps: Int32,
               rowPadding: Int32, rowDilation: Int32, columnWeights: UnsafePointer<Float>, columnTaps: Int32,
               columnPadding: Int32, columnDilation: Int32) -> Int32 {
        let run = self == .avx512 ? fck_depthwise_plane : fck_depthwise_plane_avx2
        return run(src, dst, channels, outer, rows, width, outRows, rowWeights, rowTaps, rowPadding, rowDilation,
                   columnWeights, columnTaps, columnPadding, columnDilation)
    }

    /// `fck_depthwise_2d` or `fck_depthwise_2d_avx2`: 0, or −1 without writing when `takes` says no.
    func twoD(_ src: UnsafePointer<Float>, sourceStride: Int, _ dst: UnsafeMutablePointer<Float>,
              destinationStride: Int, channels: Int32, rows: Int32, width: Int32, outRows: Int32,
              kernels: UnsafePointer<Float>, kernelStride: Int, rowTaps: Int32, rowPadding: Int32, rowDilation: Int32,
              columnTaps: Int32, columnPadding: Int32, columnDilation: Int32, accumulate: Bool) -> Int32 {
        let run = self == .avx512 ? fck_depthwise_2d : fck_depthwise_2d_avx2
        return run(src, sourceStride, dst, destinationStride, channels, rows, width, outRows, kernels, kernelStride,
                   rowTaps, rowPadding, rowDilation, columnTaps, columnPadding, columnDilation, accumulate ? 1 : 0)
    }
}

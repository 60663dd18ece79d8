import FactorConvKernels

/// Two consecutive depthwise stages of a separable path (CP, separable Tucker) that run as one
/// pass: along the second-to-last spatial mode at stride 1 (the rows), then along the last mode
/// with 'same' padding (the columns). The plane kernel (`PlaneKernel`: `fck_depthwise_plane` with
/// AVX-512, `fck_depthwise_plane_avx2` with AVX2) keeps the row pass's output in registers or a
/// small buffer in L1 instead of writing a whole intermediate image and reading it back.
struct DepthwisePlanePair: Sendable {
    /// The stages' taps, (C, 1, …, K, 1) and (C, 1, …, 1, K): channel c's K taps are contiguous.
    let rowTaps: Tensor<Float>, columnTaps: Tensor<Float>
    /// Taps, padding and dilation of the row pass (stride 1) and of the column pass ('same').
    let rowKernel: Int, rowPadding: Int, rowDilation: Int
    let columnKernel: Int, columnPadding: Int, columnDilation: Int
    /// The kernel that runs the pair.
    let kernel: PlaneKernel

    /// The pair that `first` then `second` form, or nil when they are not two depthwise stages
    /// along the last two modes with the geometry above, or `kernel` is nil (default: the one this
    /// CPU runs, `KernelSet.best`; nil without AVX-512 and AVX2).
    init?(_ first: ConvStage, _ second: ConvStage, kernel: PlaneKernel? = KernelSet.best) {
        guard let kernel, case .depthwise(let rows, let rowGeometry) = first,
              case .depthwise(let columns, let columnGeometry) = second else { return nil }
        let order = rowGeometry.order
        guard order >= 2, rows.shape[0] == columns.shape[0],
              Self.isLine(rows, rowGeometry, mode: order - 2), Self.isLine(columns, columnGeometry, mode: order - 1),
              rowGeometry.stride[order - 2] == 1, columnGeometry.stride[order - 1] == 1 else { return nil }
        self.kernel = kernel
        rowTaps = rows
        columnTaps = columns
        rowKernel = rows.shape[order - 1]
        rowPadding = rowGeometry.padding[order - 2]
        rowDilation = rowGeometry.dilation[order - 2]
        columnKernel = columns.shape[order]
        columnPadding = columnGeometry.padding[order - 1]
        columnDilation = columnGeometry.dilation[order - 1]
        // 'Same' columns; the kernel checks the rest (tap counts, reach, the width's lane period).
        guard 2 * columnPadding == (columnKernel - 1) * columnDilation else { return nil }
    }

    /// True when the depthwise stage with `taps` (C, K_1..K_N) and `geometry` acts along `mode`
    /// only: one tap and trivial geometry in every other mode.
    static func isLine(_ taps: Tensor<Float>, _ geometry: ConvGeometry, mode: Int) -> Bool {
        DepthwiseConvolution.activeModes(kernel: Array(taps.shape.dropFirst()), geometry: geometry).allSatisfy { $0 == mode }
    }

    /// True when the pair's kernel takes images whose last mode is `width` long.
    func handles(width: Int) -> Bool {
        kernel.takes(width: width, rowTaps: rowKernel, rowDilation: rowDilation, columnTaps: columnKernel,
                     columnPadding: columnPadding, columnDilation: columnDilation)
    }

    /// Runs both stages on `channels` of one image (C, S_1..S_N) → (C, S_1..S'_{N−1}, S_N), sizes
    /// validated by the caller (the pipeline's image shapes) and `handles(width: S_N)` true.
    func forward(input: UnsafePointer<Float>, spatial: [Int], outputRows: Int, output: UnsafeMutablePointer<Float>,
                 channels: Range<Int>) {
        let n = spatial.count
        let outer = spatial[..<(n - 2)].reduce(1, *), rows = spatial[n - 2], width = spatial[n - 1]
        guard !channels.isEmpty else { return }
        let status = rowTaps.scalars.withUnsafeBufferPointer { rowWeights in
            columnTaps.scalars.withUnsafeBufferPointer { columnWeights in
                kernel.plane(input + channels.lowerBound * outer * rows * width,
                             output + channels.lowerBound * outer * outputRows * width, channels: Int32(channels.count),
                             outer: Int32(outer), rows: Int32(rows), width: Int32(width), outRows: Int32(outputRows),
                             rowWeights: rowWeights.baseAddress! + channels.lowerBound * rowKernel,
                             rowTaps: Int32(rowKernel), rowPadding: Int32(rowPadding), rowDilation: Int32(rowDilation),
                             columnWeights: columnWeights.baseAddress! + channels.lowerBound * columnKernel,
                             columnTaps: Int32(columnKernel), columnPadding: Int32(columnPadding),
                             columnDilation: Int32(columnDilation))
            }
        }
        precondition(status == 0, "the \(kernel) plane kernel refused a case handles(width:) accepted")
    }
}

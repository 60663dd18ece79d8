import FactorConvKernels

/// Two consecutive depthwise stages of a separable path (CP, separable Tucker) that run as one
/// pass: along the second-to-last spatial mode at stride 1 (the rows), then along the last mode
/// with 'same' padding (the columns). `fck_depthwise_plane` keeps the row pass's output in
/// registers instead of writing it to a buffer and reading it back, which roughly halves the
/// pair's memory traffic.
struct DepthwisePlanePair: Sendable {
    /// The stages' taps, (C, 1, …, K, 1) and (C, 1, …, 1, K): channel c's K taps are contiguous.
    let rowTaps: Tensor<Float>, columnTaps: Tensor<Float>
    /// Taps, padding and dilation of the row pass (stride 1) and of the column pass ('same').
    let rowKernel: Int, rowPadding: Int, rowDilation: Int
    let columnKernel: Int, columnPadding: Int, columnDilation: Int

    /// The pair that `first` then `second` form, or nil when they are not two depthwise stages
    /// along the last two modes with the geometry above (or the CPU lacks AVX-512).
    init?(_ first: ConvStage, _ second: ConvStage) {
        guard AVX512.isAvailable, case .depthwise(let rows, let rowGeometry) = first,
              case .depthwise(let columns, let columnGeometry) = second else { return nil }
        let order = rowGeometry.order
        guard order >= 2, rows.shape[0] == columns.shape[0],
              Self.isLine(rows, rowGeometry, mode: order - 2), Self.isLine(columns, columnGeometry, mode: order - 1),
              rowGeometry.stride[order - 2] == 1, columnGeometry.stride[order - 1] == 1 else { return nil }
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
    private static func isLine(_ taps: Tensor<Float>, _ geometry: ConvGeometry, mode: Int) -> Bool {
        DepthwiseConvolution.activeModes(kernel: Array(taps.shape.dropFirst()), geometry: geometry).allSatisfy { $0 == mode }
    }

    /// True when `fck_depthwise_plane` takes images whose last mode is `width` long.
    func handles(width: Int) -> Bool {
        DepthwiseConvolution.planeKernelTakes(width: width, rowTaps: rowKernel, rowDilation: rowDilation,
                                              columnTaps: columnKernel, columnPadding: columnPadding,
                                              columnDilation: columnDilation)
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
                fck_depthwise_plane(input + channels.lowerBound * outer * rows * width,
                                    output + channels.lowerBound * outer * outputRows * width, Int32(channels.count),
                                    Int32(outer), Int32(rows), Int32(width), Int32(outputRows),
                                    rowWeights.baseAddress! + channels.lowerBound * rowKernel, Int32(rowKernel),
                                    Int32(rowPadding), Int32(rowDilation),
                                    columnWeights.baseAddress! + channels.lowerBound * columnKernel, Int32(columnKernel),
                                    Int32(columnPadding), Int32(columnDilation))
            }
        }
        precondition(status == 0, "fck_depthwise_plane refused a case handles(width:) accepted")
    }
}

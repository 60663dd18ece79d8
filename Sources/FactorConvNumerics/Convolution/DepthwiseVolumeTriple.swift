import FactorConvKernels

/// Three per-mode depthwise stages of a 3-D image (CP's: depth, rows, columns) run as one pass
/// (`fck_depthwise_volume_avx2`): each output plane's depth sum is made in a plane-sized buffer
/// and handed straight to the rows-and-columns pair (`DepthwisePlanePair`), so the depth stage's
/// output never goes to memory. The result equals the three stages run one at a time, bit for
/// bit. AVX2 only: other CPUs run the depth stage, then the pair.
struct DepthwiseVolumeTriple: Sendable {
    /// The depth stage's taps, (C, K_0, 1, 1): channel c's K_0 taps are contiguous.
    let depthTaps: Tensor<Float>
    /// Taps, padding and dilation of the depth stage (stride 1).
    let depthKernel: Int, depthPadding: Int, depthDilation: Int
    /// The rows-and-columns stages after it.
    let pair: DepthwisePlanePair

    /// The triple that `first`, `second` and `third` form, or nil unless the image is 3-D, `first`
    /// is a depthwise stage along mode 0 only at stride 1 over as many channels as the pair of
    /// `second` and `third` (`DepthwisePlanePair`) with taps, padding and dilation that fit the
    /// kernel's 32-bit arguments, and `kernel` is the AVX2 set (default: the one this CPU runs,
    /// `KernelSet.best`).
    init?(_ first: ConvStage, _ second: ConvStage, _ third: ConvStage, kernel: PlaneKernel? = KernelSet.best) {
        guard kernel == .avx2, case .depthwise(let taps, let geometry) = first, geometry.order == 3,
              let pair = DepthwisePlanePair(second, third, kernel: kernel), taps.shape[0] == pair.rowTaps.shape[0],
              DepthwisePlanePair.isLine(taps, geometry, mode: 0), geometry.stride[0] == 1,
              [taps.shape[1], geometry.padding[0], geometry.dilation[0]].allSatisfy({ $0 <= Int(Int32.max) })
        else { return nil }
        depthTaps = taps
        depthKernel = taps.shape[1]
        depthPadding = geometry.padding[0]
        depthDilation = geometry.dilation[0]
        self.pair = pair
    }

    /// True when the pair's kernel takes images of shape `shape` (C, D, H, W) and a plane fits the
    /// kernel's 32-bit arguments.
    func handles(shape: [Int]) -> Bool {
        shape.count == 4 && pair.handles(width: shape[3]) && shape[2] * shape[3] <= Int(Int32.max)
    }

    /// Floats of the buffer each worker passes to `forward`: one input plane (H · W).
    func planeFloats(shape: [Int]) -> Int { shape[2] * shape[3] }

    /// True when every slab of output planes reads at least one input plane of a `depth`-plane
    /// image (`inputPlanes(for:depth:)` not empty): the padding does not exceed the taps' reach.
    var slabsReadInput: Bool { depthPadding <= (depthKernel - 1) * depthDilation }

    /// The input planes that output planes `outputPlanes` of an image of `depth` planes read: from
    /// the first one the first output's first tap reaches to the last one the last output's last
    /// tap reaches, clipped to the image.
    func inputPlanes(for outputPlanes: Range<Int>, depth: Int) -> Range<Int> {
        let first = max(0, outputPlanes.lowerBound - depthPadding)
        let end = min(depth, outputPlanes.upperBound - depthPadding + (depthKernel - 1) * depthDilation)
        return first..<max(first, end)
    }

    /// Runs the three stages on `channels` of one image (C, D, H, W) → (C, D', H', W), sizes
    /// validated by the caller (the pipeline's image shapes) and `handles(shape:)` true, with
    /// `plane` holding `planeFloats(shape:)` floats: the output planes `outputPlanes` (default:
    /// all D'), which read only the input planes `inputPlanes(for:depth:)`; when not all, those
    /// must not be empty (`slabsReadInput`). Channels are `channelStrides` floats apart in the
    /// input and the output (default: D · H · W and D' · H' · W, contiguous).
    func forward(input: UnsafePointer<Float>, spatial: [Int], outputSpatial: [Int], output: UnsafeMutablePointer<Float>,
                 channels: Range<Int>, outputPlanes: Range<Int>? = nil, channelStrides: (input: Int, output: Int)? = nil,
                 plane: UnsafeMutablePointer<Float>) {
        let (depth, rows, width) = (spatial[0], spatial[1], spatial[2])
        let outDepth = outputSpatial[0], outRows = outputSpatial[1]
        let outputs = outputPlanes ?? 0..<outDepth
        guard !channels.isEmpty, !outputs.isEmpty else { return }
        // The slab of input planes, whose first plane is then plane 0 of the kernel's volume: the
        // padding before it shrinks by the planes skipped.
        let inputs = outputPlanes == nil ? 0..<depth : inputPlanes(for: outputs, depth: depth)
        let padding = depthPadding - (outputs.lowerBound - inputs.lowerBound)
        let inputPlane = rows * width, outputPlane = outRows * width
        let (inputStride, outputStride) = channelStrides ?? (depth * inputPlane, outDepth * outputPlane)
        let status = depthTaps.scalars.withUnsafeBufferPointer { depthWeights in
            pair.rowTaps.scalars.withUnsafeBufferPointer { rowWeights in
                pair.columnTaps.scalars.withUnsafeBufferPointer { columnWeights in
                    fck_depthwise_volume_avx2(
                        input + channels.lowerBound * inputStride + inputs.lowerBound * inputPlane, inputStride,
                        output + channels.lowerBound * outputStride + outputs.lowerBound * outputPlane, outputStride,
                        Int32(channels.count), Int32(inputs.count), Int32(outputs.count),
                        Int32(rows), Int32(width), Int32(outRows),
                        depthWeights.baseAddress! + channels.lowerBound * depthKernel, Int32(depthKernel),
                        Int32(padding), Int32(depthDilation),
                        rowWeights.baseAddress! + channels.lowerBound * pair.rowKernel, Int32(pair.rowKernel),
                        Int32(pair.rowPadding), Int32(pair.rowDilation),
                        columnWeights.baseAddress! + channels.lowerBound * pair.columnKernel, Int32(pair.columnKernel),
                        Int32(pair.columnPadding), Int32(pair.columnDilation), plane)
                }
            }
        }
        precondition(status == 0, "the AVX2 volume kernel refused a case handles(shape:) accepted")
    }
}

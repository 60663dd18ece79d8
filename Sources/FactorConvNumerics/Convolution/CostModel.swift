/// A simple roofline-style time estimate of a pipeline, used by `implementation='auto'` to pick
/// the fastest path deterministically. Rates are per-core estimates (calibrated with
/// Benchmarks/ConvBench); only their ratios matter for the choice.
public enum CostModel {
    /// Sustained GEMM rate of the BLAS kernels (FLOP/s).
    static let gemmRate = 110e9
    /// Rate of the depthwise shifted-axpy kernel (FLOP/s).
    static let depthwiseRate = 6e9
    /// Streaming memory bandwidth (bytes/s) for stage inputs/outputs and im2col blocks.
    static let bandwidth = 12e9

    /// Estimated seconds for one forward pass of `pipeline` over an input of shape `input`.
    public static func seconds(_ pipeline: ConvPipeline, input: [Int]) throws -> Double {
        let shapes = try pipeline.imageShapes(input: Array(input.dropFirst()))
        let batch = Double(input[0])
        var total = 0.0
        for (i, stage) in pipeline.stages.enumerated() {
            let inCount = Double(shapes[i].reduce(1, *)), outCount = Double(shapes[i + 1].reduce(1, *))
            let flops = stage.flops(shapes[i], shapes[i + 1])
            var seconds = 4 * (inCount + outCount) / bandwidth
            switch stage {
            case .pointwise:
                seconds += flops / gemmRate
            case .depthwise:
                seconds += flops / depthwiseRate
            case .dense(let w, let g, _):
                let isPointwise = ConvProblem.isPointwise(kernel: w.shape.dropFirst(2), geometry: g)
                let positions = Double(shapes[i + 1].dropFirst().reduce(1, *))
                if let winograd = WinogradKernel(weightShape: w.shape, geometry: g) {
                    // F(2×2, 3×3): 16 multiplies per 4 outputs instead of 36 (F(m, r): m + r − 1
                    // per m instead of m·r), and the transformed input and products (this many
                    // floats per output position and channel) pass through the transforms.
                    let expansion = Double(winograd.positionCount) / Double(winograd.outputsPerTile)
                    seconds += flops * Double(winograd.positionCount) / Double(winograd.directMultipliesPerTile) / gemmRate
                    seconds += 4 * expansion * Double(w.shape[0] + w.shape[1]) * positions / bandwidth
                } else if !isPointwise {
                    // im2col writes (C_in·ΠK) × positions floats once.
                    seconds += flops / gemmRate + 4 * Double(w.count / w.shape[0]) * positions / bandwidth
                } else {
                    seconds += flops / gemmRate
                }
            }
            total += seconds
        }
        return total * batch
    }
}

/// A simple roofline-style time estimate of a pipeline, used by `implementation='auto'` to pick
/// the fastest path deterministically. Only the ratios of the rates matter for the choice; they
/// differ by the kernels the CPU runs (`KernelSet.best`). `make bench-auto`
/// (Benchmarks/bench_auto.py) times every candidate beside auto's pick.
package enum CostModel {
    /// Per-core rates of the kernels a forward runs.
    struct Rates: Sendable {
        /// Channel mixings (pointwise stages) and the GEMMs of dense convs (FLOP/s).
        let mixing: Double, gemm: Double
        /// Depthwise stages (FLOP/s).
        let depthwise: Double
        /// Streaming memory bandwidth (bytes/s) for stage inputs/outputs and im2col blocks.
        let bandwidth: Double
    }

    /// With the AVX-512 kernels, or BLAS and the portable loops (calibrated with
    /// Benchmarks/ConvBench on an AVX-512 machine).
    static let avx512Rates = Rates(mixing: 110e9, gemm: 110e9, depthwise: 6e9, bandwidth: 12e9)
    /// With the AVX2 kernels (fitted to every candidate's time on bench_auto's layers and on
    /// compress_model-style layers, on an AVX2-only machine): depthwise kernels far faster than
    /// the portable loops, and dense GEMMs (packed or BLAS alike) slower than the mixing kernel.
    static let avx2Rates = Rates(mixing: 80e9, gemm: 60e9, depthwise: 30e9, bandwidth: 12e9)
    /// The rates of this CPU's kernels.
    static let rates = KernelSet.best == .avx2 ? avx2Rates : avx512Rates

    /// Estimated seconds for one forward pass of `pipeline` over an input of shape `input`.
    package static func seconds(_ pipeline: ConvPipeline, input: [Int]) throws -> Double {
        try seconds(pipeline, input: input, rates: rates)
    }

    /// Estimated seconds for one forward pass under `rates`.
    static func seconds(_ pipeline: ConvPipeline, input: [Int], rates: Rates) throws -> Double {
        let shapes = try pipeline.imageShapes(input: Array(input.dropFirst()))
        let stages = pipeline.stages
        /// Seconds to read `count` floats and write them back once.
        func traffic(_ floats: Double) -> Double { 4 * floats / rates.bandwidth }
        // A streamed image's intermediates are charged no memory traffic, only its input and
        // output (ConvPipeline+Slabs.swift: the slabs read them back from cache, and their
        // padded channels keep power-of-two volumes from crowding a few cache sets).
        let streamed = pipeline.slabPlan(shapes) != nil
        /// Floats of the image before stage `i` that go through memory.
        func memoryFloats(_ i: Int) -> Double {
            streamed && i != 0 && i != stages.count ? 0 : Double(shapes[i].reduce(1, *))
        }
        var total = 0.0, i = 0
        while i < stages.count {
            let span = pipeline.stagesInOnePass(from: i, imageShape: shapes[i])
            if span > 1 {
                // Two or three depthwise stages in one pass: their intermediates never reach memory.
                let flops = (i..<(i + span)).reduce(0.0) { $0 + stages[$1].flops(shapes[$1], shapes[$1 + 1]) }
                total += traffic(memoryFloats(i) + memoryFloats(i + span)) + flops / rates.depthwise
                i += span
                continue
            }
            let flops = stages[i].flops(shapes[i], shapes[i + 1])
            total += traffic(memoryFloats(i) + memoryFloats(i + 1))
            switch stages[i] {
            case .pointwise:
                total += flops / rates.mixing
            case .depthwise, .expansion:
                total += flops / rates.depthwise
            case .dense(let w, let g, _):
                let isPointwise = ConvProblem.isPointwise(kernel: w.shape.dropFirst(2), geometry: g)
                let positions = Double(shapes[i + 1].dropFirst().reduce(1, *))
                let problem = try ConvProblem(inputShape: [1] + shapes[i], weightShape: w.shape, geometry: g)
                if let winograd = DenseConvolution.winogradLayout(problem) {
                    // The plan the convolution runs: F(2×2, 3×3) does 16 multiplies per 4 outputs
                    // instead of 36, F(4×4, 3×3) 36 per 16 instead of 144, F(m, r) m + r − 1 per
                    // m instead of m·r; the transformed input and products (this many floats per
                    // output position and channel) pass through the transforms.
                    // Products on packed panels run at the GEMM rate; unpacked ones on the
                    // channel-mixing kernel (or BLAS, where the rates price both alike).
                    let expansion = Double(winograd.positionCount) / Double(winograd.outputsPerTile)
                    let multiplies = flops * Double(winograd.positionCount) / Double(winograd.directMultipliesPerTile)
                    total += multiplies / (winograd.packed ? rates.gemm : rates.mixing)
                    total += traffic(expansion * Double(w.shape[0] + w.shape[1]) * positions)
                } else if !isPointwise {
                    // im2col writes (C_in·ΠK) × positions floats once.
                    total += flops / rates.gemm + traffic(Double(w.count / w.shape[0]) * positions)
                } else {
                    total += flops / rates.mixing      // the channel-mixing kernels run it
                }
            }
            i += 1
        }
        return total * Double(input[0])
    }
}

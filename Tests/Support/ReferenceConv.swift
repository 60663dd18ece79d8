import FactorConvNumerics

/// A deliberately plain N-D convolution (direct loops, float64 accumulation): the independent
/// reference the fast kernels are tested against.
public func referenceConv(_ x: Tensor<Float>, weight: Tensor<Float>, bias: [Float]? = nil,
                          stride: [Int], padding: [Int], dilation: [Int]) -> Tensor<Double> {
    let n = x.rank - 2
    let batch = x.shape[0], cin = x.shape[1], cout = weight.shape[0]
    let sizes = Array(x.shape[2...]), kernel = Array(weight.shape[2...])
    var outSizes = [Int]()
    for d in 0..<n {
        outSizes.append((sizes[d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1) / stride[d] + 1)
    }
    var y = Tensor<Double>(shape: [batch, cout] + outSizes)
    let outPositions = outSizes.reduce(1, *), taps = kernel.reduce(1, *), inPositions = sizes.reduce(1, *)
    let inStrides = Tensor<Float>.rowMajorStrides(sizes)
    for b in 0..<batch {
        for o in 0..<cout {
            for p in 0..<outPositions {
                // output coordinate of position p
                var rest = p
                var oc = [Int](repeating: 0, count: n)
                for d in (0..<n).reversed() { oc[d] = rest % outSizes[d]; rest /= outSizes[d] }
                var acc = Double(bias?[o] ?? 0)
                for c in 0..<cin {
                    for t in 0..<taps {
                        var trest = t
                        var inside = true
                        var offset = 0
                        var tc = [Int](repeating: 0, count: n)
                        for d in (0..<n).reversed() { tc[d] = trest % kernel[d]; trest /= kernel[d] }
                        for d in 0..<n {
                            let i = oc[d] * stride[d] - padding[d] + tc[d] * dilation[d]
                            if i < 0 || i >= sizes[d] { inside = false; break }
                            offset += i * inStrides[d]
                        }
                        if !inside { continue }
                        acc += Double(x.scalars[(b * cin + c) * inPositions + offset])
                            * Double(weight.scalars[(o * cin + c) * taps + t])
                    }
                }
                y.scalars[(b * cout + o) * outPositions + p] = acc
            }
        }
    }
    return y
}

/// max |a - b| / max |b|: the relative error measure used for convolution outputs.
public func relativeMaxError<A: TensorScalar, B: TensorScalar>(_ a: Tensor<A>, _ b: Tensor<B>) -> Double {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var diff = 0.0, scale = 0.0
    for (u, v) in zip(a.scalars, b.scalars) {
        diff = max(diff, abs(Double(u) - Double(v)))
        scale = max(scale, abs(Double(v)))
    }
    return scale == 0 ? diff : diff / scale
}

/// A small deterministic generator for test data (SplitMix64), so failures are reproducible.
public struct TestRandom {
    private var state: UInt64
    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    /// A float tensor of the given shape with entries uniform in [-1, 1).
    public mutating func tensor(_ shape: [Int]) -> Tensor<Float> {
        var t = Tensor<Float>(shape: shape)
        for i in t.scalars.indices { t.scalars[i] = Float(uniform() * 2 - 1) }
        return t
    }
}

/// Runs a convolution plan on raw buffers — `run(input, weight, bias, output)` — and returns its
/// output as a tensor of `outputShape` (the output starts as NaN, so unwritten entries show).
public func runOnBuffers(_ x: Tensor<Float>, weight: Tensor<Float>, bias: [Float], outputShape: [Int],
                         _ run: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void)
    throws -> Tensor<Float> {
    try runOnBuffers(x, weight: weight, optionalBias: bias, outputShape: outputShape) { run($0, $1, $2!, $3) }
}

/// `runOnBuffers` with an optional bias (nil reaches the plan as a nil pointer).
public func runOnBuffers(_ x: Tensor<Float>, weight: Tensor<Float>, optionalBias bias: [Float]?, outputShape: [Int],
                         _ run: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>) -> Void)
    throws -> Tensor<Float> {
    var y = [Float](repeating: .nan, count: outputShape.reduce(1, *))
    x.scalars.withUnsafeBufferPointer { xp in
        weight.scalars.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                if let bias {
                    bias.withUnsafeBufferPointer { bp in run(xp.baseAddress!, wp.baseAddress!, bp.baseAddress!, yp.baseAddress!) }
                } else {
                    run(xp.baseAddress!, wp.baseAddress!, nil, yp.baseAddress!)
                }
            }
        }
    }
    return try Tensor(shape: outputShape, scalars: y)
}

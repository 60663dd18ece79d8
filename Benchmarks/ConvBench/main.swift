// Times the Swift dense convolution on the benchmark layers (no Python in the loop).
// Usage: swift run -c release ConvBench [threads] [layers]
import FactorConv

#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Median seconds of `body` over at least 5 runs / 0.4 s, after 2 warm-up runs.
func measure(_ body: () throws -> Void) rethrows -> Double {
    try body(); try body()
    var times = [Double]()
    let start = now()
    while times.count < 5 || (now() - start < 0.4 && times.count < 200) {
        let t0 = now()
        try body()
        times.append(now() - t0)
    }
    return times.sorted()[times.count / 2]
}

let threads = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1 : 1
Parallel.threadCount = threads
try BLAS.require()
print("threads \(threads), BLAS kernels \(BLAS.kernelName)")
let layers: [(String, [Int], Int, Int, Int)] = [
    ("2-D 8x64x56x56 k3 p1", [8, 64, 56, 56], 64, 3, 1),
    ("2-D 1x256x14x14 k3 p1", [1, 256, 14, 14], 256, 3, 1),
    ("1-D 16x128x1024 k5 p2", [16, 128, 1024], 128, 5, 2),
    ("3-D 2x32x16x32x32 k3 p1", [2, 32, 16, 32, 32], 32, 3, 1),
]
// CONVBENCH_ONLY=<substring> times only the matching layers (for profiling one layer).
let only = getenv("CONVBENCH_ONLY").map { String(cString: $0) }
for (name, xShape, cout, k, p) in layers where only.map({ name.contains($0) }) ?? true {
    let order = xShape.count - 2
    let x = Tensor<Float>(repeating: 0.5, shape: xShape)
    let w = Tensor<Float>(repeating: 0.01, shape: [cout, xShape[1]] + Array(repeating: k, count: order))
    let g = try ConvGeometry(order: order, padding: Array(repeating: p, count: order))
    let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
    var y = [Float](repeating: 0, count: problem.outputCount)
    let t = x.scalars.withUnsafeBufferPointer { xp in
        w.scalars.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                measure {
                    DenseConvolution.forward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: yp.baseAddress!)
                }
            }
        }
    }
    let ms = (t * 1e5).rounded() / 100, gflops = (problem.flops / t / 1e9).rounded()
    print("\(name): \(ms) ms, \(gflops) GFLOP/s")
}

if CommandLine.arguments.count > 2 && CommandLine.arguments[2] == "layers" {
    try benchLayers(layers)
}

// DecompositionBench: times FactorConv's float64 decompositions on a kernel shared with the
// Python side (Benchmarks/bench_decompositions.py), and runs the big-rank CP memory check.
//
//   DecompositionBench cp <kernel.f32> <shape> <rank> [repeats] [nIterMax] [ridge|proximal] [seed]
//   DecompositionBench tucker <kernel.f32> <shape> <r0,r1,...> [repeats]
//   DecompositionBench tt <kernel.f32> <shape> <1,r1,...,1> [repeats]   (TT layout: out axis moved last)
//   DecompositionBench memory [rank] [nIterMax]   (CP of a seeded 1024×512×3×3×3 kernel)
//
// <kernel.f32> is raw little-endian float32 in C order; <shape> is comma-separated.
// Prints one JSON object per run: the best time over the repeats and the relative kernel error.
import Foundation
import FactorConvNumerics

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

func ints(_ s: String) -> [Int] {
    s.split(separator: ",").map { part -> Int in
        guard let v = Int(part) else { fail("bad integer list \(s)") }
        return v
    }
}

func loadKernel(_ path: String, _ shape: [Int]) -> Tensor<Float> {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let count = shape.reduce(1, *)
    guard data.count == 4 * count else { fail("\(path) has \(data.count) bytes, shape \(shape) needs \(4 * count)") }
    let values = data.withUnsafeBytes { raw in
        (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
    }
    return try! Tensor(shape: shape, scalars: values)
}

/// float32 → float64 (outside the timed regions: the timed ones widen as from_conv does).
func widened(_ t: Tensor<Float>) -> Tensor<Double> {
    try! Tensor(shape: t.shape, scalars: t.scalars.map { Double($0) })
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Runs `body` `repeats` times; returns the best time and the last result.
func timed<T>(_ repeats: Int, _ body: () throws -> T) rethrows -> (Double, T) {
    var best = Double.infinity
    var result: T?
    for _ in 0..<max(1, repeats) {
        let t0 = now()
        result = try body()
        best = min(best, now() - t0)
    }
    return (best, result!)
}

func report(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: see the header of Benchmarks/DecompositionBench/main.swift") }
let threads = Parallel.threadCount

do {
    switch args[1] {
    case "cp":
        guard args.count >= 5 else { fail("cp <kernel> <shape> <rank> [repeats] [nIterMax] [ridge|proximal] [seed]") }
        let kernel = loadKernel(args[2], ints(args[3]))
        let rank = Int(args[4])!
        let repeats = args.count > 5 ? Int(args[5])! : 3
        var options = CPOptions()
        if args.count > 6 { options.nIterMax = Int(args[6])! }
        if args.count > 7 { options.regularization = args[7] == "ridge" ? .ridge : .proximal }
        if args.count > 8 { options.seed = UInt64(args[8])! }
        let (seconds, cp) = try timed(repeats) { try parafac(kernel.converted(to: Double.self), rank: rank, options: options) }
        let err = try cp.reconstructed().relativeError(to: widened(kernel))
        report(["op": "cp", "rank": rank, "seconds": seconds, "rel_err": err, "sweeps": cp.iterations, "threads": threads,
                "blas": BLAS.kernelName])
    case "tucker":
        guard args.count >= 5 else { fail("tucker <kernel> <shape> <ranks> [repeats]") }
        let kernel = loadKernel(args[2], ints(args[3]))
        let ranks = ints(args[4])
        let repeats = args.count > 5 ? Int(args[5])! : 3
        let (seconds, tk) = try timed(repeats) { try tucker(kernel.converted(to: Double.self), ranks: ranks) }
        let err = try tk.reconstructed().relativeError(to: widened(kernel))
        report(["op": "tucker", "ranks": tk.ranks, "seconds": seconds, "rel_err": err, "sweeps": tk.iterations,
                "threads": threads, "blas": BLAS.kernelName])
    case "tt":
        guard args.count >= 5 else { fail("tt <kernel> <shape> <ranks> [repeats]") }
        let kernel = loadKernel(args[2], ints(args[3]))
        let ranks = ints(args[4])
        let repeats = args.count > 5 ? Int(args[5])! : 3
        let last = kernel.rank - 1
        let (seconds, tt) = try timed(repeats) {
            // As from_conv: the axis is moved in float32, then the tensor is widened.
            try tensorTrain(kernel.movingAxis(0, to: last).converted(to: Double.self), ranks: ranks)
        }
        let err = try tt.reconstructed().movingAxis(last, to: 0).relativeError(to: widened(kernel))
        report(["op": "tt", "ranks": tt.ranks, "seconds": seconds, "rel_err": err, "threads": threads, "blas": BLAS.kernelName])
    case "memory":
        let rank = args.count > 2 ? Int(args[2])! : 9162
        let iterations = args.count > 3 ? Int(args[3])! : 2
        let shape = [1024, 512, 3, 3, 3]
        // A seeded float32 kernel, widened to float64 as from_conv does.
        var state: UInt64 = 42
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values[i] = Float(Double(state >> 11) * 0x1.0p-53 - 0.5) * 0.05
        }
        let kernel = try Tensor(shape: shape, scalars: values)
        let t0 = now()
        var sweepTimes: [Double] = []
        let cp = try parafac(widened(kernel), rank: rank, options: CPOptions(nIterMax: iterations),
                             progress: { _, _ in sweepTimes.append(now() - t0); return true })
        let seconds = now() - t0
        report(["op": "cp-memory", "shape": shape, "rank": rank, "seconds": seconds, "sweep_end_times": sweepTimes,
                "errors": cp.errors, "threads": threads, "blas": BLAS.kernelName])
    default:
        fail("unknown command \(args[1])")
    }
} catch {
    fail("error: \(error)")
}

import Foundation
@testable import FactorConvNumerics

/// Test-only helpers for the decomposition tests: a seeded Gaussian source and plain-loop
/// references that share no code with the library.
enum DecompositionFixtures {
    /// SplitMix64 + Box–Muller: reproducible normal samples.
    struct Normal {
        var state: UInt64
        init(seed: UInt64) { state = seed &+ 0x1234_5678 }
        mutating func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) * 0x1.0p-53
        }
        mutating func next() -> Double {
            let u1 = max(uniform(), 1e-300), u2 = uniform()
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
        mutating func matrix(_ rows: Int, _ cols: Int) -> Tensor<Double> {
            Tensor(uncheckedShape: [rows, cols], scalars: (0..<(rows * cols)).map { _ in next() })
        }
        mutating func tensor(_ shape: [Int]) -> Tensor<Double> {
            Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in next() })
        }
    }

    /// Multi-index of a flat row-major position.
    static func index(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rem = flat, idx = [Int](repeating: 0, count: shape.count)
        for k in stride(from: shape.count - 1, through: 0, by: -1) { idx[k] = rem % shape[k]; rem /= shape[k] }
        return idx
    }

    /// Σ_r w_r Π_k U_k[i_k, r] by plain loops.
    static func cpDense(weights: [Double], factors: [Tensor<Double>]) -> Tensor<Double> {
        let shape = factors.map { $0.shape[0] }, r = weights.count
        let values = (0..<shape.reduce(1, *)).map { flat -> Double in
            let idx = index(flat, shape)
            var s = 0.0
            for c in 0..<r {
                var p = weights[c]
                for (k, f) in factors.enumerated() { p *= f.scalars[idx[k] * r + c] }
                s += p
            }
            return s
        }
        return Tensor(uncheckedShape: shape, scalars: values)
    }

    /// core ×_n U_n by plain loops.
    static func tuckerDense(core: Tensor<Double>, factors: [Tensor<Double>]) -> Tensor<Double> {
        let shape = factors.map { $0.shape[0] }, ranks = core.shape
        let values = (0..<shape.reduce(1, *)).map { flat -> Double in
            let idx = index(flat, shape)
            var s = 0.0
            for cflat in 0..<core.count {
                let cidx = index(cflat, ranks)
                var p = core.scalars[cflat]
                for (k, f) in factors.enumerated() { p *= f.scalars[idx[k] * ranks[k] + cidx[k]] }
                s += p
            }
            return s
        }
        return Tensor(uncheckedShape: shape, scalars: values)
    }

    /// Contracts TT cores by plain loops: T[i] = G_0[0, i_0, :] G_1[:, i_1, :] … G_{N-1}[:, i_{N-1}, 0].
    static func ttDense(cores: [Tensor<Double>]) -> Tensor<Double> {
        let shape = cores.map { $0.shape[1] }
        let values = (0..<shape.reduce(1, *)).map { flat -> Double in
            let idx = index(flat, shape)
            var vec = [1.0]
            for (k, g) in cores.enumerated() {
                let (r0, n, r1) = (g.shape[0], g.shape[1], g.shape[2])
                vec = (0..<r1).map { b in (0..<r0).reduce(0.0) { $0 + vec[$1] * g.scalars[($1 * n + idx[k]) * r1 + b] } }
            }
            return vec[0]
        }
        return Tensor(uncheckedShape: shape, scalars: values)
    }

    /// ‖a − b‖ / ‖b‖ by plain loops.
    static func relErr(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
        var d = 0.0, n = 0.0
        for (x, y) in zip(a.scalars, b.scalars) { d += (x - y) * (x - y); n += y * y }
        return (d / n).squareRoot()
    }

    /// Max |(AᵀA − I)| for the columns of a matrix tensor.
    static func orthonormalityDefect(_ u: Tensor<Double>) -> Double {
        let (m, k) = (u.shape[0], u.shape[1])
        var worst = 0.0
        for a in 0..<k {
            for b in 0..<k {
                var s = 0.0
                for i in 0..<m { s += u.scalars[i * k + a] * u.scalars[i * k + b] }
                worst = max(worst, abs(s - (a == b ? 1 : 0)))
            }
        }
        return worst
    }
}

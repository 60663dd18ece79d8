#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, reproducible normal generator: xoshiro256** seeded through SplitMix64, Box-Muller
/// transform. The same seed gives the same stream on every platform (no libc RNG involved).
package struct NormalGenerator: Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spare: Double?

    /// Creates a generator whose stream is fully determined by `seed`.
    package init(seed: UInt64) {
        // SplitMix64 spreads any seed (even 0) over the 256-bit state, which must not be all zero.
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 random bits (xoshiro256**).
    package mutating func nextUInt64() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// A uniform double in (0, 1] (never 0, so its logarithm is finite).
    package mutating func nextUniform() -> Double {
        Double((nextUInt64() >> 11) + 1) * 0x1.0p-53
    }

    /// A standard normal sample (Box-Muller; the second value of each pair is kept for the next call).
    package mutating func nextNormal() -> Double {
        if let z = spare {
            spare = nil
            return z
        }
        let u1 = nextUniform(), u2 = nextUniform()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// A tensor of i.i.d. `N(0, std²)` samples, in row-major order.
    package mutating func normalTensor(shape: [Int], std: Double) -> Tensor<Float> {
        var t = Tensor<Float>(shape: shape)
        for i in t.scalars.indices { t.scalars[i] = Float(std * nextNormal()) }
        return t
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

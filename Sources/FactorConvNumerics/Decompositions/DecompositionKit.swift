/// Internal building blocks shared by the decompositions (namespaced to avoid clashes inside the module).
enum DecompositionKit {
    /// A row-major matrix of doubles on the heap. A reference type so that parallel workers can
    /// write disjoint parts of one buffer; freed as soon as the last reference goes away (large
    /// R×R temporaries must not outlive their use: peak memory matters for big CP ranks).
    final class Matrix: @unchecked Sendable {
        let rows: Int
        let cols: Int
        let data: UnsafeMutablePointer<Double>

        /// An uninitialized `rows × cols` matrix (sizes already validated by the caller).
        init(rows: Int, cols: Int) {
            self.rows = rows
            self.cols = cols
            data = .allocate(capacity: max(1, rows * cols))
        }

        /// A `rows × cols` matrix filled with `value`.
        convenience init(rows: Int, cols: Int, repeating value: Double) {
            self.init(rows: rows, cols: cols)
            data.initialize(repeating: value, count: rows * cols)
        }

        /// A copy of `scalars` viewed as `rows × cols`.
        convenience init(rows: Int, cols: Int, copying scalars: [Double]) {
            precondition(scalars.count == rows * cols)
            self.init(rows: rows, cols: cols)
            scalars.withUnsafeBufferPointer { data.initialize(from: $0.baseAddress!, count: rows * cols) }
        }

        deinit { data.deallocate() }

        var count: Int { rows * cols }

        /// A copy of the elements in row-major order.
        var array: [Double] { Array(UnsafeBufferPointer(start: data, count: count)) }

        /// This matrix as a `Tensor` of the given shape (element count must match).
        func tensor(shape: [Int]) -> Tensor<Double> {
            Tensor(uncheckedShape: shape, scalars: array)
        }

        /// A deep copy.
        func copy() -> Matrix {
            let m = Matrix(rows: rows, cols: cols)
            m.data.initialize(from: data, count: count)
            return m
        }

        /// Sum of squares.
        var squaredNorm: Double { sumOfSquares(data, count: count) }
    }

    /// A deterministic generator (SplitMix64): the same seed gives the same stream on every
    /// platform, so decompositions are reproducible (TensorLy uses numpy's global RNG instead).
    struct Random {
        private var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Uniform in [0, 1) with 53 random bits.
        mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    }

    /// Checks a decomposition input: at least one mode, no empty mode, finite values.
    static func validateInput(_ tensor: Tensor<Double>, _ what: String) throws {
        guard tensor.rank >= 1 else { throw FactorConvError.invalid("\(what): the tensor must have at least one mode, got a scalar") }
        guard tensor.shape.allSatisfy({ $0 >= 1 }) else {
            throw FactorConvError.invalid("\(what): every mode must have size ≥ 1, got shape \(tensor.shape)")
        }
        if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw FactorConvError(.numerical, "\(what): the tensor holds a non-finite value (\(tensor.scalars[bad])) at flat index \(bad)")
        }
    }

    /// `validateInput` and the squared Frobenius norm in one pass: a finite sum of squares proves
    /// every value finite (NaN and ±inf propagate), so the element-wise scan runs only when the
    /// sum is not finite — to name the bad value, or to accept finite values whose squares overflow.
    static func validatedSquaredNorm(_ tensor: Tensor<Double>, _ what: String) throws -> Double {
        guard tensor.rank >= 1, tensor.shape.allSatisfy({ $0 >= 1 }) else {
            try validateInput(tensor, what)   // throws the shape error
            return 0
        }
        let sum = tensor.scalars.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: $0.count) }
        if !sum.isFinite { try validateInput(tensor, what) }
        return sum
    }

    /// Σ x² over `count` values with eight independent partial sums: one running sum waits on
    /// every addition's latency, eight keep the adders busy.
    static func sumOfSquares(_ x: UnsafePointer<Double>, count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Double>.self)
            acc += v * v
            i += 8
        }
        var total = acc.sum()
        while i < count { total += x[i] * x[i]; i += 1 }
        return total
    }

    /// Throws `.cancelled` when the progress hook asks to stop.
    static func report(_ progress: DecompositionProgress?, _ iteration: Int, _ error: Double, _ what: String) throws {
        if let progress, !progress(iteration, error) {
            throw FactorConvError(.cancelled, "\(what) cancelled by the progress hook at iteration \(iteration)")
        }
    }

    /// Throws `.numerical` if a result went non-finite (e.g. a diverging ALS).
    static func ensureFinite(_ m: Matrix, _ what: String) throws {
        for i in 0..<m.count where !m.data[i].isFinite {
            throw FactorConvError(.numerical, "\(what) produced a non-finite value; the input is too ill-conditioned for this rank")
        }
    }

    /// Row blocks `[lo, hi)` of a lower-triangular sweep over `n` rows, listed so that a contiguous
    /// split across workers gets equal work (heavy and light blocks alternate).
    static func balancedLowerBlocks(_ n: Int, block: Int) -> [(Int, Int)] {
        var blocks: [(Int, Int)] = []
        var lo = 0
        while lo < n { blocks.append((lo, min(n, lo + block))); lo += block }
        var order: [(Int, Int)] = []
        var a = 0, b = blocks.count - 1
        while a <= b {
            order.append(blocks[b]); b -= 1
            if a <= b { order.append(blocks[a]); a += 1 }
        }
        return order
    }
}

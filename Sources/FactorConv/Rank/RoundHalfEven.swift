/// numpy's `int(np.round(x))`: round half to even, then convert to `Int`.
/// - Throws: `.invalidArgument` naming `what` when `x` is not finite or does not fit an `Int`.
func roundHalfEvenToInt(_ x: Double, _ what: String) throws -> Int {
    let r = x.rounded(.toNearestOrEven)
    // 2^62 keeps later sums and products of ranks far from overflow.
    guard r.isFinite, abs(r) < 4.611686018427388e18 else {
        throw FactorConvError.invalid("\(what): the computed rank \(x) is not a representable integer")
    }
    return Int(r)
}

/// Checks that a fraction rank is a positive finite number.
func validateFraction(_ f: Double) throws {
    guard f.isFinite, f > 0 else {
        throw FactorConvError.invalid("rank fraction must be a positive finite number, got \(f)")
    }
}

/// Checks a factorized tensor shape used for rank resolution.
func validateRankShape(_ shape: [Int]) throws {
    guard !shape.isEmpty else { throw FactorConvError.invalid("cannot resolve a rank for a tensor with no modes") }
    guard shape.allSatisfy({ $0 >= 1 }) else {
        throw FactorConvError.invalid("cannot resolve a rank for shape \(shape): every mode size must be at least 1")
    }
}

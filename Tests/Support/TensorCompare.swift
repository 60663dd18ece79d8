import FactorConvNumerics

/// Comparisons used by tests against golden data and plain-loop references.
public enum TensorCompare {
    /// `‖a − b‖_F / ‖b‖_F` accumulated in Double (`‖a − b‖_F` when `b` is zero); infinity when
    /// the shapes differ, so a shape bug can never pass a tolerance check.
    public static func relativeError<A: TensorScalar, B: TensorScalar>(_ a: Tensor<A>, _ b: Tensor<B>) -> Double {
        guard a.shape == b.shape else { return .infinity }
        var diff = 0.0, ref = 0.0
        for (x, y) in zip(a.scalars, b.scalars) {
            let d = Double(x) - Double(y)
            diff += d * d
            ref += Double(y) * Double(y)
        }
        return ref == 0 ? diff.squareRoot() : (diff / ref).squareRoot()
    }
}

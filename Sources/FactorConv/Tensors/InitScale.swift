#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-entry standard deviation σ of `count` i.i.d. normal parameters whose products are
/// summed over `terms` independent terms: each reconstructed entry then has variance
/// `terms · σ^(2·count)`, which equals `std²` for `σ = (std / √terms)^(1/count)`.
func initSigma(std: Double, terms: Double, count: Int) -> Double {
    if std == 0 { return 0 }
    return pow(std / terms.squareRoot(), 1 / Double(count))
}

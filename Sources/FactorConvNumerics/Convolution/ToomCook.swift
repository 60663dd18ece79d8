/// Transform matrices of Winograd's minimal filtering algorithm F(m, r) — m outputs of an r-tap
/// correlation from α = m + r − 1 inputs with α multiplications — by the Toom-Cook construction:
/// the correlation is the transpose of the linear convolution of an m-vector with the r taps,
/// evaluated at α points (here 0, 1, −1, 2, −2, ½, −½ and ∞) and interpolated back:
/// `y = Aᵀ [(G g) ⊙ (Bᵀ d)]` with Aᵀ = V_mᵀ, G = V_r and Bᵀ = (V_α⁻¹)ᵀ, where V_k holds the
/// powers 0 ..< k of each point (the point ∞ selects the leading coefficient).
struct ToomCook {
    let outputs: Int, taps: Int
    /// Aᵀ (m × α), G (α × r), Bᵀ (α × α), row-major.
    let at: [Double], g: [Double], bt: [Double]
    var alpha: Int { outputs + taps - 1 }

    static let finitePoints: [Double] = [0, 1, -1, 2, -2, 0.5, -0.5]

    /// The matrices for F(`outputs`, `taps`); needs α − 1 ≤ 7 finite points.
    init(outputs: Int, taps: Int) {
        let alpha = outputs + taps - 1
        precondition(alpha >= 2 && alpha - 1 <= Self.finitePoints.count, "F(\(outputs), \(taps)) needs too many points")
        self.outputs = outputs
        self.taps = taps
        /// Row i of V_k: the powers of point i, or e_{k−1} for the point at infinity.
        func vandermonde(_ k: Int) -> [Double] {
            var v = [Double](repeating: 0, count: alpha * k)
            for i in 0..<alpha {
                if i == alpha - 1 { v[i * k + k - 1] = 1; continue }
                var power = 1.0
                for j in 0..<k { v[i * k + j] = power; power *= Self.finitePoints[i] }
            }
            return v
        }
        let vm = vandermonde(outputs)
        var transposed = [Double](repeating: 0, count: outputs * alpha)
        for i in 0..<alpha { for j in 0..<outputs { transposed[j * alpha + i] = vm[i * outputs + j] } }
        at = transposed
        g = vandermonde(taps)
        let inverse = Self.inverse(vandermonde(alpha), size: alpha)
        var b = [Double](repeating: 0, count: alpha * alpha)
        for i in 0..<alpha { for j in 0..<alpha { b[j * alpha + i] = inverse[i * alpha + j] } }
        bt = b
    }

    /// The inverse of a small invertible matrix by Gauss-Jordan elimination with partial pivoting.
    static func inverse(_ matrix: [Double], size n: Int) -> [Double] {
        var a = matrix
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
            if pivot != col {
                for j in 0..<n { a.swapAt(col * n + j, pivot * n + j); inv.swapAt(col * n + j, pivot * n + j) }
            }
            let scale = 1 / a[col * n + col]
            for j in 0..<n { a[col * n + j] *= scale; inv[col * n + j] *= scale }
            for row in 0..<n where row != col {
                let f = a[row * n + col]
                guard f != 0 else { continue }
                for j in 0..<n { a[row * n + j] -= f * a[col * n + j]; inv[row * n + j] -= f * inv[col * n + j] }
            }
        }
        return inv
    }
}

/// Public options and results of the float64 decompositions (CP-ALS, Tucker-HOOI, TT-SVD).

/// A progress callback of a decomposition, called on the calling thread after every iteration
/// (CP/Tucker: ALS/HOOI sweep; TT: core) with the 1-based iteration and the current relative
/// reconstruction error. Return `false` to cancel: the decomposition then throws
/// `FactorConvError(.cancelled, …)` and, being a pure function, changes nothing.
package typealias DecompositionProgress = (_ iteration: Int, _ relativeError: Double) -> Bool

/// How CP-ALS initializes its factors (behaviour notes §10.2).
package enum CPInitialization: Sendable, Equatable {
    /// Leading left singular vectors of each unfolding, factor 0 scaled by the singular values;
    /// columns beyond a mode's size are uniform [0, 1) from the seeded generator.
    case svd
    /// Every factor uniform [0, 1) from the seeded generator.
    case random
}

/// The Tikhonov term that keeps CP-ALS's R×R normal equations positive definite.
package enum CPRegularization: Sendable, Equatable {
    /// tltorch/TensorLy: `F = M (P + λI)⁻¹` — pulls factors towards zero, so even an exactly
    /// low-rank tensor converges to a biased fit (about 1e-4 relative error with λ = 1e-5).
    case ridge
    /// Ours (default): `F = (M + λ F_prev)(P + λI)⁻¹` — a proximal step towards the previous
    /// iterate. Same conditioning as `.ridge`, but any fixed point is an exact ALS fixed point,
    /// so exact low-rank tensors are recovered to rounding level.
    case proximal
}

/// Options of `parafac` (CP-ALS). The defaults are tltorch's `from_conv` settings except
/// `regularization` (`.proximal`) and `lineSearch` (on); `CPOptions.tltorch` reproduces tltorch.
package struct CPOptions: Sendable, Equatable {
    /// Maximum number of ALS sweeps (TensorLy `n_iter_max`).
    package var nIterMax: Int
    /// Stop when two consecutive relative errors differ by less than this (TensorLy `tol`).
    package var tol: Double
    /// The regularization weight λ (tltorch passes `l2_reg=1e-5`). Must be ≥ 0.
    package var l2Reg: Double
    /// Factor initialization.
    package var initialization: CPInitialization
    /// Ridge (tltorch) or proximal (ours) regularization.
    package var regularization: CPRegularization
    /// Seed of the generator that fills random columns; equal seeds give equal results.
    package var seed: UInt64
    /// Extrapolate the factors along the last sweep's step from the third sweep on, and keep the
    /// jump when it lowers the error (TensorLy's `linesearch=True`, off in tltorch). Over-
    /// parameterized CP (rank 'same') converges slowly through ALS "swamps"; the jump typically
    /// saves hundreds of sweeps for one extra MTTKRP per sweep.
    package var lineSearch: Bool
    /// A second stop (0: off, tltorch has none): after `stallWindow` sweeps, stop when the
    /// relative error fell by less than `stallTol × error` over the last `stallWindow` sweeps —
    /// ALS has stalled, and the remaining sweeps would move the error by a negligible fraction.
    package var stallTol: Double
    /// The number of sweeps `stallTol` looks back over (≥ 1).
    package static let stallWindow = 5

    /// Creates CP-ALS options; every argument defaults to tltorch's value except
    /// `regularization` and `lineSearch`.
    package init(nIterMax: Int = 100, tol: Double = 1e-8, l2Reg: Double = 1e-5,
                initialization: CPInitialization = .svd, regularization: CPRegularization = .proximal,
                seed: UInt64 = 0, lineSearch: Bool = true, stallTol: Double = 0) {
        self.nIterMax = nIterMax
        self.tol = tol
        self.l2Reg = l2Reg
        self.initialization = initialization
        self.regularization = regularization
        self.seed = seed
        self.lineSearch = lineSearch
        self.stallTol = stallTol
    }

    /// Exactly tltorch's `from_conv` settings (ridge regularization, no line search).
    package static var tltorch: CPOptions { CPOptions(regularization: .ridge, lineSearch: false) }
}

/// A CP decomposition `T ≈ Σ_r w_r U_0[:, r] ∘ … ∘ U_{N-1}[:, r]`.
package struct CPDecomposition: Sendable, Equatable {
    /// The weights `w`, shape `(R,)`; all ones (tltorch never normalizes).
    package var weights: Tensor<Double>
    /// One factor per mode, shape `(I_n, R)`.
    package var factors: [Tensor<Double>]
    /// The relative error after each sweep (TensorLy's formula, behaviour notes §10.2).
    package var errors: [Double]
    /// The number of ALS sweeps run.
    package var iterations: Int

    /// Creates a CP decomposition from its parts (no validation; see `reconstructed()`).
    package init(weights: Tensor<Double>, factors: [Tensor<Double>], errors: [Double], iterations: Int) {
        self.weights = weights
        self.factors = factors
        self.errors = errors
        self.iterations = iterations
    }

    /// The CP rank R.
    package var rank: Int { weights.count }
    /// The shape of the decomposed tensor.
    package var shape: [Int] { factors.map { $0.shape[0] } }
}

/// How Tucker-HOOI initializes its factors (behaviour notes §10.3).
package enum TuckerInitialization: Sendable, Equatable {
    /// Leading left singular vectors of each unfolding.
    case svd
    /// Uniform [0, 1) factors from the seeded generator (then refined by HOOI).
    case random
}

/// Options of `tucker` (HOOI). Defaults are TensorLy's (`n_iter_max=100`, `tol=1e-4`, SVD init).
package struct TuckerOptions: Sendable, Equatable {
    /// Maximum number of HOOI sweeps.
    package var nIterMax: Int
    /// Stop (after at least 3 sweeps) when consecutive relative errors differ by less than this.
    package var tol: Double
    /// Factor initialization.
    package var initialization: TuckerInitialization
    /// Seed for `.random` initialization.
    package var seed: UInt64
    /// Modes whose rank is forced to the mode's size (a square orthogonal factor). tltorch's
    /// `fixed_rank_modes` are applied by rank resolution already; this is a convenience.
    package var fixedModes: [Int]

    /// Creates HOOI options with TensorLy's defaults.
    package init(nIterMax: Int = 100, tol: Double = 1e-4, initialization: TuckerInitialization = .svd,
                seed: UInt64 = 0, fixedModes: [Int] = []) {
        self.nIterMax = nIterMax
        self.tol = tol
        self.initialization = initialization
        self.seed = seed
        self.fixedModes = fixedModes
    }
}

/// A Tucker decomposition `T ≈ core ×_0 U_0 ×_1 U_1 … ×_{N-1} U_{N-1}`.
package struct TuckerDecomposition: Sendable, Equatable {
    /// The core, shape `ranks`.
    package var core: Tensor<Double>
    /// One factor per mode, shape `(I_n, R_n)`, orthonormal columns (SVD init).
    package var factors: [Tensor<Double>]
    /// The ranks actually used (requested ranks clamped to the mode sizes).
    package var ranks: [Int]
    /// The relative error after each sweep (TensorLy's formula `sqrt(|‖T‖² − ‖core‖²|)/‖T‖`).
    package var errors: [Double]
    /// The number of HOOI sweeps run.
    package var iterations: Int

    /// Creates a Tucker decomposition from its parts.
    package init(core: Tensor<Double>, factors: [Tensor<Double>], ranks: [Int], errors: [Double], iterations: Int) {
        self.core = core
        self.factors = factors
        self.ranks = ranks
        self.errors = errors
        self.iterations = iterations
    }
}

/// A tensor-train decomposition: core `k` has shape `(r_k, I_k, r_{k+1})`, `r_0 = r_N = 1`.
package struct TTDecomposition: Sendable, Equatable {
    /// The TT cores.
    package var cores: [Tensor<Double>]
    /// The ranks actually used, length N+1 (requested ranks truncated to what the unfoldings allow).
    package var ranks: [Int]
    /// The relative error `‖T − TT‖/‖T‖` computed from the discarded singular values.
    package var relativeError: Double

    /// Creates a TT decomposition from its parts.
    package init(cores: [Tensor<Double>], ranks: [Int], relativeError: Double) {
        self.cores = cores
        self.ranks = ranks
        self.relativeError = relativeError
    }
}

/// Options of the decomposition run by `FactorizedConv.fromConv` (tltorch's
/// `decomposition_kwargs`). `nil` means the algorithm's default (CP: 100 sweeps, tol 1e-8, and
/// on small problems seed screening with a stall stop unless `nIterMax`, `tol` or `tltorchRidge`
/// is given; Tucker: 100 sweeps, tol 1e-4). TT-SVD has no options.
public struct DecompositionOptions: Sendable, Equatable {
    /// Maximum ALS (CP) or HOOI (Tucker) sweeps.
    public var nIterMax: Int?
    /// Convergence tolerance on the change of the relative error.
    public var tol: Double?
    /// CP regularization weight (tltorch: 1e-5).
    public var l2Reg: Double
    /// 'svd' (default) or 'random' initialization.
    public var randomInit: Bool
    /// CP: tltorch's exact iteration — its ridge term and no line search — instead of
    /// FactorConv's proximal term with line search (see `CPRegularization`).
    public var tltorchRidge: Bool
    /// Seed for random initial columns; equal seeds give equal results.
    public var seed: UInt64
    /// CP-ALS runs from this many seeds (seed, seed+1, ...) and keeps the lowest error (with
    /// `cpOwnStops`, the seed lowest after `cpScreenSweeps` sweeps is the one run to the end); nil
    /// means 3 for small problems (tensor elements × rank ≤ 2^21, where a run is cheap and
    /// the random initial columns decide which local minimum ALS reaches)
    /// and 1 otherwise.
    public var restarts: Int?

    /// Creates options; the defaults reproduce tltorch except the proximal CP regularization.
    public init(nIterMax: Int? = nil, tol: Double? = nil, l2Reg: Double = 1e-5, randomInit: Bool = false,
                tltorchRidge: Bool = false, seed: UInt64 = 0, restarts: Int? = nil) {
        self.nIterMax = nIterMax
        self.tol = tol
        self.l2Reg = l2Reg
        self.randomInit = randomInit
        self.tltorchRidge = tltorchRidge
        self.seed = seed
        self.restarts = restarts
    }

    /// The number of CP-ALS runs for a tensor of `count` elements at rank `rank`.
    func cpRuns(count: Int, rank: Int) -> Int {
        if let restarts { return max(1, restarts) }
        let (work, overflow) = count.multipliedReportingOverflow(by: rank)
        return !overflow && work <= (1 << 21) ? 3 : 1
    }

    /// Whether CP-ALS runs on FactorConv's own stopping rules: neither `nIterMax` nor `tol` was
    /// given (either one asks for TensorLy's plain loop) and `tltorchRidge` is off.
    var cpOwnStops: Bool { nIterMax == nil && tol == nil && !tltorchRidge }

    /// With several CP runs and `cpOwnStops`: every seed runs this many sweeps, and only the
    /// seed with the lowest error then runs to convergence; nil runs every seed in full.
    var cpScreenSweeps: Int? {
        cpOwnStops ? 10 : nil
    }

    /// `CPOptions.stallTol` of screened runs (small problems only: on big ones the stall stop
    /// costs accuracy and the runs are single anyway).
    static let cpScreenedStallTol = 1e-4

    var cp: CPOptions {
        var o = CPOptions(l2Reg: l2Reg, initialization: randomInit ? .random : .svd,
                          regularization: tltorchRidge ? .ridge : .proximal, seed: seed, lineSearch: !tltorchRidge)
        if let nIterMax { o.nIterMax = nIterMax }
        if let tol { o.tol = tol }
        return o
    }

    /// Fixed rank modes are already part of the resolved ranks, so none are passed here.
    var tucker: TuckerOptions {
        var o = TuckerOptions(initialization: randomInit ? .random : .svd, seed: seed)
        if let nIterMax { o.nIterMax = nIterMax }
        if let tol { o.tol = tol }
        return o
    }
}

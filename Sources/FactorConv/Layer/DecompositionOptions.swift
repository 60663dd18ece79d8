/// Options of the decomposition run by `FactorizedConv.fromConv` (tltorch's
/// `decomposition_kwargs`). `nil` means the algorithm's default (CP: 100 sweeps, tol 1e-8;
/// Tucker: 100 sweeps, tol 1e-4). TT-SVD has no options.
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
    /// CP-ALS runs from this many seeds (seed, seed+1, ...) and keeps the lowest error; nil
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

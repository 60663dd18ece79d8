
/// Derived weights of a layer: one `ConvPipeline` per (layer, implementation, variant), built on first use
/// and kept until the parameters change (the state's version moves on). The forward plans of
/// each input shape live in the layer's state instead (`ForwardPlanCache`).
final class PipelineCache: Sendable {
    private struct Key: Hashable { var layer: Int; var implementation: Implementation; var variant: ForwardPlans.Variant }
    private struct Entries {
        var version = -1
        var pipelines: [Key: ConvPipeline] = [:]
    }
    private let entries = LibraryMutex(Entries(), kind: .pipelineCache)

    /// The cached pipeline for `layer`, `implementation` and `variant` at `version`, or `build()`'s result,
    /// which is then cached. Building happens outside the lock; two racing builders produce equal
    /// pipelines, and either may be kept.
    func pipeline(layer: Int, implementation: Implementation, variant: ForwardPlans.Variant, version: Int,
                  build: () throws -> ConvPipeline) throws -> ConvPipeline {
        let key = Key(layer: layer, implementation: implementation, variant: variant)
        if let hit = entries.withLock({ $0.version == version ? $0.pipelines[key] : nil }) { return hit }
        let built = try build()
        entries.withLock { e in
            if e.version < version { e = Entries(version: version) }
            if e.version == version { e.pipelines[key] = built }
        }
        return built
    }
}

/// The forward plans of one parameter version, per (layer, input shape). It is part of the layer's
/// state (`FactorizedConv.State`), so that a forward reads the parameters and the plan for its
/// shape under one lock; a change of the parameters starts it empty.
struct ForwardPlanCache: Sendable {
    private struct Key: Hashable { var layer: Int; var input: [Int] }
    private var plans: [Key: ForwardPlan] = [:]

    /// Plans kept; a layer run on many input shapes starts again when it has this many.
    static let capacity = 64

    /// The plan of flat layer `layer` for `input`, if one was made.
    subscript(layer layer: Int, input input: [Int]) -> ForwardPlan? { plans[Key(layer: layer, input: input)] }

    /// Keeps `plan` for flat layer `layer` and `input`.
    mutating func insert(_ plan: ForwardPlan, layer: Int, input: [Int]) {
        if plans.count >= Self.capacity { plans = [:] }
        plans[Key(layer: layer, input: input)] = plan
    }
}

/// What a forward of one layer on one input shape runs: the pipeline (the implementation chosen,
/// for `.auto`), its image shapes (`ConvPipeline.imageShapes`) and the output's shape and size.
/// Worked out once per input shape and parameter version, from a validated input shape.
struct ForwardPlan: Sendable {
    let pipeline: ConvPipeline
    let imageShapes: [[Int]]
    let outputShape: [Int]
    let outputCount: Int
}

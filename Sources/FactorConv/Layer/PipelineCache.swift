
/// Derived weights of a layer: one `ConvPipeline` per (layer, implementation), built on first use
/// and kept until the parameters change (the state's version moves on); and the forward plan of
/// each (layer, input shape) seen, so that a repeated forward does no planning.
final class PipelineCache: Sendable {
    private struct Key: Hashable { var layer: Int; var implementation: Implementation }
    private struct PlanKey: Hashable { var layer: Int; var implementation: Implementation; var input: [Int] }
    private struct Entries {
        var version = -1
        var pipelines: [Key: ConvPipeline] = [:]
        var plans: [PlanKey: ForwardPlan] = [:]
    }
    private let entries = LibraryMutex(Entries(), kind: .pipelineCache)

    /// Plans kept per version; a layer run on many input shapes starts again when it has this many.
    static let maxPlans = 64

    /// The cached pipeline for `layer` and `implementation` at `version`, or `build()`'s result,
    /// which is then cached. Building happens outside the lock; two racing builders produce equal
    /// pipelines, and either may be kept.
    func pipeline(layer: Int, implementation: Implementation, version: Int,
                  build: () throws -> ConvPipeline) throws -> ConvPipeline {
        let key = Key(layer: layer, implementation: implementation)
        if let hit = entries.withLock({ $0.version == version ? $0.pipelines[key] : nil }) { return hit }
        let built = try build()
        entries.withLock { e in
            if e.version < version { e = Entries(version: version) }
            if e.version == version { e.pipelines[key] = built }
        }
        return built
    }

    /// The cached plan of layer `layer` (whose implementation setting is `implementation`) for
    /// `input` at `version`, or `make()`'s result, which is then cached (as `pipeline`).
    func plan(layer: Int, implementation: Implementation, input: [Int], version: Int,
              make: () throws -> ForwardPlan) throws -> ForwardPlan {
        let key = PlanKey(layer: layer, implementation: implementation, input: input)
        if let hit = entries.withLock({ $0.version == version ? $0.plans[key] : nil }) { return hit }
        let made = try make()
        entries.withLock { e in
            if e.version < version { e = Entries(version: version) }
            guard e.version == version else { return }
            if e.plans.count >= Self.maxPlans { e.plans = [:] }
            e.plans[key] = made
        }
        return made
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

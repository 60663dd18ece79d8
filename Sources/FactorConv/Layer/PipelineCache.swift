
/// Derived weights of a layer: one `ConvPipeline` per (layer, implementation), built on first use
/// and kept until the parameters change (the state's version moves on).
final class PipelineCache: Sendable {
    private struct Key: Hashable { var layer: Int; var implementation: Implementation }
    private struct Entries { var version = -1; var pipelines: [Key: ConvPipeline] = [:] }
    private let entries = LibraryMutex(Entries())

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
}

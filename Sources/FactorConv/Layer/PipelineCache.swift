
/// Derived weights of a layer: one `ConvPipeline` per (layer, implementation), built on first use
/// and kept until the parameters change (the state's version moves on); and the implementation
/// 'auto' chose per (layer, image shape), so that repeated forwards skip the cost model.
final class PipelineCache: Sendable {
    private struct Key: Hashable { var layer: Int; var implementation: Implementation }
    private struct ChoiceKey: Hashable { var layer: Int; var image: [Int] }
    private struct Entries {
        var version = -1
        var pipelines: [Key: ConvPipeline] = [:]
        var choices: [ChoiceKey: Implementation] = [:]
    }
    private let entries = LibraryMutex(Entries())
    /// The most choices kept per version: a caller cycling through many input shapes re-runs the
    /// cost model rather than growing the cache without bound.
    static let maxChoices = 64

    /// The implementation 'auto' chose for `layer` on images of shape `image` (C, S...) at
    /// `version`, or `choose()`'s result, which is then kept. The choice does not depend on the
    /// batch size (the cost model is linear in it).
    func choice(layer: Int, image: [Int], version: Int, choose: () throws -> Implementation) throws -> Implementation {
        let key = ChoiceKey(layer: layer, image: image)
        if let hit = entries.withLock({ $0.version == version ? $0.choices[key] : nil }) { return hit }
        let chosen = try choose()
        entries.withLock { e in
            if e.version < version { e = Entries(version: version) }
            guard e.version == version else { return }
            if e.choices.count >= Self.maxChoices { e.choices.removeAll() }
            e.choices[key] = chosen
        }
        return chosen
    }

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

/// Which inputs along one mode the outputs of a stride-1 convolution along that mode read: output
/// o reads inputs o − padding + t · dilation for t in 0..<taps, those that exist. A step that
/// streams an image slab by slab along the mode (ConvPipeline+Slabs.swift) runs a slab of
/// outputs on the slab of inputs they read, its first input then counting as input 0.
struct LineReach: Sendable {
    let taps: Int, padding: Int, dilation: Int

    /// True when every nonempty range of outputs reads at least one input of a line that has
    /// one: the padding does not exceed the taps' reach.
    var slabsReadInput: Bool { padding <= (taps - 1) * dilation }

    /// The inputs that `outputs` read in a line of `count` inputs: from the first one the first
    /// output's first tap reaches to the last one the last output's last tap reaches, clipped
    /// to the line (empty when they read none).
    func inputs(for outputs: Range<Int>, count: Int) -> Range<Int> {
        let first = max(0, outputs.lowerBound - padding)
        let end = min(count, outputs.upperBound - padding + (taps - 1) * dilation)
        return first..<max(first, end)
    }

    /// The padding before the slab `inputs(for: outputs, count:)`: the original padding less the
    /// inputs the slab skips before its first output's reach.
    func slabPadding(for outputs: Range<Int>, count: Int) -> Int {
        padding - (outputs.lowerBound - inputs(for: outputs, count: count).lowerBound)
    }
}

import FactorConvKernels
import Synchronization

/// A fast test for NaN and infinities in float32 data, and the process-wide switch of the check
/// that forwards run on their outputs.
public enum FiniteCheck {
    private static let outputsChecked = Atomic<Bool>(true)

    /// Whether forwards (every layer implementation, the dense convolution) refuse an output that
    /// overflowed to inf/NaN from finite operands with `.numerical` (`FactorConvError.overflow`).
    /// On by default; process-wide (`fconv_set_output_check`). Off, such outputs are returned as
    /// they are. NaN/Inf in a layer's input is refused either way.
    public static var checksOutputs: Bool {
        get { outputsChecked.load(ordering: .relaxed) }
        set { outputsChecked.store(newValue, ordering: .relaxed) }
    }

    /// True when every value is finite: `fck_all_finite`, an OR-reduction over the bit patterns
    /// (an all-ones exponent plus one carries into the sign bit, and only NaN/Inf have an
    /// all-ones exponent), vectorized and cloned for AVX2.
    package static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress, values.count > 0 else { return true }
        return fck_all_finite(base, values.count) != 0
    }

    /// `allFinite` split over up to `Parallel.threadCount` workers (it runs on every forward
    /// input, and a single core streams only about half the memory bandwidth).
    package static func allFiniteParallel(_ values: UnsafeBufferPointer<Float>) -> Bool {
        allFinite(values, workers: Parallel.threadCount)
    }

    /// `allFinite` split over up to `workers` workers (one below 2^18 values, where waking
    /// workers costs more than it saves).
    package static func allFinite(_ values: UnsafeBufferPointer<Float>, workers: Int) -> Bool {
        let parts = values.count >= (1 << 18) ? max(1, workers) : 1
        if parts <= 1 { return allFinite(values) }
        let bad = UnsafeMutablePointer<Bool>.allocate(capacity: parts)
        defer { bad.deallocate() }
        Parallel.forEach(parts, maxWorkers: parts) { part in
            let share = Parallel.share(of: values.count, part: part, parts: parts)
            bad[part] = !allFinite(UnsafeBufferPointer(rebasing: values[share]))
        }
        return !(0..<parts).contains { bad[$0] }
    }

    /// `allFinite` over an array.
    package static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { allFinite($0) }
    }

    /// Throws `.numerical` when `output` (`count` floats, written by a forward from `operands`)
    /// holds NaN or infinities: naming the first operand that holds any (nil operands, such as an
    /// absent bias, are skipped), else as an overflow (`FactorConvError.overflow`). The operands
    /// are only read on that error path. Does nothing when `checksOutputs` is off.
    package static func requireFiniteOutput(_ output: UnsafePointer<Float>, count: Int, workers: Int,
                                           operands: [(name: String, values: UnsafePointer<Float>?, count: Int)]) throws {
        guard checksOutputs, !allFinite(UnsafeBufferPointer(start: output, count: count), workers: workers) else { return }
        for operand in operands {
            guard let values = operand.values else { continue }
            if !allFinite(UnsafeBufferPointer(start: values, count: operand.count), workers: workers) {
                throw FactorConvError.nonFinite(operand.name)
            }
        }
        throw FactorConvError.overflow
    }
}

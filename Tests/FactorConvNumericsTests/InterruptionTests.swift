import Dispatch
import Foundation
@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// Interrupting running calls (`Interruption`, the C ABI's `fconv_interrupt`): a call that is
/// running stops promptly with `.cancelled`, from another thread, while calls started after the
/// interrupt run normally, and nothing the interrupted call touched is left unusable.
///
/// The calls run under an `InterruptSource` of their own: the process-wide interrupt would also
/// cancel the calls of tests running in parallel (the Python suite covers `fconv_interrupt` in
/// child processes). The interrupt path is the same (`fck_interrupt_requested` sees either).
@Suite("Interruption of running calls")
struct InterruptionTests {
    typealias F = DecompositionFixtures

    /// How long an interrupted call may take to return. Its check points come every few
    /// milliseconds; the margin absorbs a loaded machine. The calls interrupted here would run
    /// for minutes otherwise.
    static let returnsWithin = 2.0

    /// Decompositions that never converge: tolerance 0 and an unreachable sweep count.
    static let endlessCP = CPOptions(nIterMax: 1_000_000, tol: 0)
    static let endlessTucker = TuckerOptions(nIterMax: 1_000_000, tol: 0)

    /// The outcome of a call run on another thread.
    final class Outcome: @unchecked Sendable {
        var error: (any Error)?
        var returned: DispatchTime?
    }

    /// Runs `body` on another thread as an interruptible call under `source`; once the call has
    /// started (its scope is entered; `settle` seconds later, so that its work is under way),
    /// interrupts it and returns the seconds until it returned (nil: not within 10 s) and what
    /// it threw.
    static func interruptRunningCall(_ source: InterruptSource, settle: Double,
                                     _ body: @escaping @Sendable () throws -> Void) -> (Double?, (any Error)?) {
        let entered = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            do {
                try Interruption.interruptible("the test call", source: source) {
                    entered.signal()
                    try body()
                }
            } catch {
                outcome.error = error
            }
            outcome.returned = .now()
            done.signal()
        }
        entered.wait()
        Thread.sleep(forTimeInterval: settle)
        let interrupted = DispatchTime.now()
        source.interrupt()
        guard done.wait(timeout: .now() + 10) == .success, let returned = outcome.returned else { return (nil, nil) }
        return (Double(returned.uptimeNanoseconds - interrupted.uptimeNanoseconds) / 1e9, outcome.error)
    }

    static func expectCancelled(_ result: (Double?, (any Error)?), _ what: String) {
        guard let seconds = result.0 else {
            Issue.record("\(what): still running 10 s after the interrupt")
            return
        }
        #expect(seconds < returnsWithin, "\(what) returned \(seconds) s after the interrupt")
        let error = result.1 as? FactorConvError
        #expect(error?.kind == .cancelled, "\(what): \(String(describing: result.1))")
    }

    @Test("A running CP-ALS stops promptly when interrupted from another thread; one started afterwards runs normally")
    func cpFromAnotherThread() throws {
        var rng = F.Normal(seed: 11)
        let t = rng.tensor([48, 40, 9])
        let short = CPOptions(nIterMax: 4)
        let reference = try parafac(t, rank: 60, options: short)
        let source = InterruptSource()
        let result = Self.interruptRunningCall(source, settle: 0.2) {
            _ = try parafac(t, rank: 60, options: Self.endlessCP)
        }
        Self.expectCancelled(result, "parafac")
        // Started after the interrupt, under the same source: not interrupted, same result.
        let again = try Interruption.interruptible("the test call", source: source) {
            try parafac(t, rank: 60, options: short)
        }
        #expect(again == reference)
    }

    @Test("A call started after an interrupt runs normally while the interrupted one winds down")
    func laterCallRunsWhileEarlierStops() throws {
        var rng = F.Normal(seed: 12)
        let t = rng.tensor([40, 30, 8])
        let short = TuckerOptions(nIterMax: 3, tol: 0)
        let reference = try tucker(t, ranks: [10, 10, 4], options: short)
        let source = InterruptSource()
        let entered = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            do {
                try Interruption.interruptible("the endless Tucker", source: source) {
                    entered.signal()
                    _ = try tucker(t, ranks: [10, 10, 4], options: Self.endlessTucker)
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        entered.wait()
        Thread.sleep(forTimeInterval: 0.1)
        source.interrupt()
        // Immediately, while the first call may still be between check points.
        let later = try Interruption.interruptible("the later Tucker", source: source) {
            try tucker(t, ranks: [10, 10, 4], options: short)
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect((outcome.error as? FactorConvError)?.kind == .cancelled, "\(String(describing: outcome.error))")
        #expect(later.core == reference.core && later.factors == reference.factors)
    }

    @Test("An interrupt lands at the next check point of CP, Tucker, TT and the truncated SVD")
    func checkPointsOfEveryDecomposition() throws {
        var rng = F.Normal(seed: 13)
        let t = rng.tensor([12, 10, 6, 5])
        // The progress hook runs on the calling thread, inside the call: interrupting there makes
        // the next check point throw, before the next iteration reports. The iteration bounds
        // are finite so that missing check points fail the test instead of hanging it.
        let cp = CPOptions(nIterMax: 30, tol: 0), hooi = TuckerOptions(nIterMax: 30, tol: 0)
        func expectStopsAfterTwo(_ what: String, _ run: (InterruptSource, @escaping DecompositionProgress) throws -> Void) {
            let source = InterruptSource()
            var seen: [Int] = []
            let error = #expect(throws: FactorConvError.self, "\(what)") {
                try Interruption.interruptible(what, source: source) {
                    try run(source) { iteration, _ in
                        seen.append(iteration)
                        if iteration == 2 { source.interrupt() }
                        return true
                    }
                }
            }
            #expect(error?.kind == .cancelled, "\(what): \(String(describing: error))")
            #expect(error?.message.contains("interrupted") == true, "\(what): \(String(describing: error))")
            #expect(seen == [1, 2], "\(what)")
        }
        expectStopsAfterTwo("parafac") { _, progress in _ = try parafac(t, rank: 5, options: cp, progress: progress) }
        expectStopsAfterTwo("tucker") { _, progress in
            _ = try tucker(t, ranks: [4, 4, 3, 3], options: hooi, progress: progress)
        }
        expectStopsAfterTwo("tensorTrain") { _, progress in _ = try tensorTrain(t, ranks: [1, 3, 4, 3, 1], progress: progress) }
        // Interrupted before it starts: an SVD inside the interrupted call throws at its first check.
        let source = InterruptSource()
        let error = #expect(throws: FactorConvError.self) {
            try Interruption.interruptible("the test call", source: source) {
                source.interrupt()
                _ = try truncatedSVD(rng.matrix(20, 30), rank: 3)
            }
        }
        #expect(error?.kind == .cancelled)
        // Outside any interruptible call nothing is ever interrupted.
        #expect(!Interruption.isRequested)
        _ = try truncatedSVD(rng.matrix(20, 30), rank: 3)
    }

    /// A float buffer shared with the thread that runs the call, filled with NaN: what the
    /// interrupted call did not write stays NaN.
    final class Output: @unchecked Sendable {
        let values: UnsafeMutablePointer<Float>
        let count: Int
        init(count: Int) {
            self.count = count
            values = .allocate(capacity: count)
            values.initialize(repeating: .nan, count: count)
        }
        deinit { values.deallocate() }
        /// Whether some value was never written (the call stopped before the end).
        var skippedWork: Bool { (0..<count).contains { values[$0].isNaN } }
    }

    @Test("A long dense convolution stops promptly; its first, interrupted run leaves no half-built cache")
    func denseForward() throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = 1   // long on any machine
        var rng = TestRandom(seed: 21)
        // 3×3, stride 1, 128 channels: the Winograd path, whose transformed kernel the pipeline
        // computes on its first run and keeps.
        let w = rng.tensor([128, 128, 3, 3])
        let g = try ConvGeometry(order: 2, padding: [1, 1])
        let pipeline = ConvPipeline(stages: [.dense(weight: w, geometry: g, bias: nil)])
        let x = rng.tensor([8, 128, 128, 128])
        let output = Output(count: x.count)
        let result = Self.interruptRunningCall(InterruptSource(), settle: 0.02) {
            try x.scalars.withUnsafeBufferPointer {
                try pipeline.forward(input: $0.baseAddress!, inputShape: x.shape, output: output.values)
            }
        }
        Self.expectCancelled(result, "the dense forward")
        #expect(output.skippedWork, "the interrupted forward ran to its end")
        let small = rng.tensor([2, 128, 10, 10])
        let fresh = ConvPipeline(stages: [.dense(weight: w, geometry: g, bias: nil)])
        #expect(try pipeline.forward(small) == fresh.forward(small))
    }

    @Test("A long forward of a large 3-D kernel (many GEMMs per block) stops promptly")
    func lineConvolutionForward() throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = 1
        var rng = TestRandom(seed: 22)
        let w = rng.tensor([16, 16, 13, 13, 13])
        let problem = try ConvProblem(inputShape: [1, 16, 48, 48, 48], weightShape: w.shape,
                                      geometry: ConvGeometry(order: 3, padding: [6, 6, 6]))
        let x = rng.tensor(problem.inputShape)
        let output = Output(count: problem.outputCount)
        let result = Self.interruptRunningCall(InterruptSource(), settle: 0.1) {
            x.scalars.withUnsafeBufferPointer { xp in
                w.scalars.withUnsafeBufferPointer { wp in
                    DenseConvolution.forward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil,
                                             output: output.values)
                }
            }
        }
        Self.expectCancelled(result, "the 3-D dense convolution")
        #expect(output.skippedWork, "the interrupted convolution ran to its end")
    }

    @Test("A factorized pipeline stops between images and stages, on several workers; it stays usable")
    func pipelineForward() throws {
        var rng = TestRandom(seed: 23)
        let channels = 16, rank = 8
        let g = try ConvGeometry(order: 2, padding: [12, 12])
        let pipeline = ConvPipeline(stages: [
            .pointwise(weight: rng.tensor([rank, channels]), bias: nil),
            .depthwise(taps: rng.tensor([rank, 25, 25]), geometry: g),
            .pointwise(weight: rng.tensor([channels, rank]), bias: rng.tensor([channels]).scalars),
        ])
        let small = rng.tensor([3, channels, 12, 12])
        let before = try pipeline.forward(small)
        let x = rng.tensor([128, channels, 64, 64])
        let output = Output(count: x.count)
        let result = Self.interruptRunningCall(InterruptSource(), settle: 0.02) {
            try x.scalars.withUnsafeBufferPointer {
                try pipeline.forward(input: $0.baseAddress!, inputShape: x.shape, output: output.values)
            }
        }
        Self.expectCancelled(result, "the factorized forward")
        #expect(output.skippedWork, "the interrupted forward ran to its end")
        #expect(try pipeline.forward(small) == before)
    }
}

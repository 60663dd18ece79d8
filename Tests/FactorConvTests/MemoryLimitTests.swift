import FactorConv
import Testing

/// Requests beyond the memory bound fail with `.outOfMemory` before allocating (the default
/// bound is 3/4 of physical memory; these requests are petabytes).
@Suite struct MemoryLimitTests {
    @Test func hugeLayerIsRefusedBeforeAllocating() throws {
        let error = #expect(throws: FactorConvError.self) {
            _ = try FactorizedConv(inChannels: 1 << 24, outChannels: 1 << 24, kernelSize: [3, 3], factorization: .cp)
        }
        #expect(error?.kind == .outOfMemory)
        #expect(error?.message.contains("memory limit") == true)
    }

    @Test func hugeInputIsRefusedBeforeAllocating() throws {
        let conv = try FactorizedConv(inChannels: 2, outChannels: 3, kernelSize: [3], padding: [1])
        let error = #expect(throws: FactorConvError.self) {
            _ = try conv.outputShape(inputShape: [1 << 20, 2, 1 << 30])
            var y = [Float](repeating: 0, count: 1)
            let x = [Float](repeating: 0, count: 1)
            // Never reads x: the bound check comes first.
            _ = try x.withUnsafeBufferPointer { xp in
                try y.withUnsafeMutableBufferPointer { yp in
                    try conv.forward(input: xp.baseAddress!, inputShape: [1 << 20, 2, 1 << 30], output: yp)
                }
            }
        }
        #expect(error?.kind == .outOfMemory)
    }

    @Test func limitDefaultsToAPositiveValue() {
        #expect(MemoryLimit.bytes > 0)
        #expect(MemoryLimit.defaultBytes > 0)
    }
}

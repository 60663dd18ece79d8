import FactorConvNumerics
import Testing

@Suite struct FiniteCheckTests {
    @Test func detectsEveryNonFiniteValueAnywhere() {
        let finite: [Float] = [0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, .leastNormalMagnitude, .leastNormalMagnitude / 3]
        #expect(FiniteCheck.allFinite(finite))
        #expect(FiniteCheck.allFinite([Float]()))
        for bad: Float in [.nan, -.nan, .infinity, -.infinity, .signalingNaN] {
            for position in [0, 4, 1000] {
                var values = [Float](repeating: 1.5, count: 1001)
                values[position] = bad
                #expect(!FiniteCheck.allFinite(values), "\(bad) at \(position)")
            }
        }
    }
}

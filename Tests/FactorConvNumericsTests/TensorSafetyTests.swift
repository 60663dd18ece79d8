import FactorConvNumerics
import Testing

/// `Tensor`'s element count cannot drift from its shape: the kernels read `shape.product`
/// elements from the storage, so a shorter array behind a layer input read past it (a
/// heap-buffer-overflow under ASan) before `scalars` checked its mutations.
@Suite struct TensorSafetyTests {
    @Test func elementsChangeInPlace() throws {
        var t = try Tensor<Float>(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        t.scalars[4] = 40
        t.scalars.withUnsafeMutableBufferPointer { $0[0] = -1 }
        t.scalars = [6, 5, 4, 3, 2, 1]
        t[1, 2] = 9
        #expect(t.scalars == [6, 5, 4, 3, 2, 9])
        #expect(t.shape == [2, 3])
    }

    @Test func assigningAnotherCountTraps() async {
        await #expect(processExitsWith: .failure) {
            var x = Tensor<Float>(shape: [1, 8, 16, 16])
            x.scalars = [1, 2, 3]
        }
    }

    @Test func appendingTraps() async {
        await #expect(processExitsWith: .failure) {
            var x = Tensor<Float>(shape: [4])
            x.scalars.append(1)
        }
    }

    @Test func removingTraps() async {
        await #expect(processExitsWith: .failure) {
            var x = Tensor<Double>(shape: [4])
            x.scalars.removeLast()
        }
    }
}

import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The dense convolution reproduces tltorch's `y_dense_f32` (torch's convNd of the stored fp32
/// kernel) for every single-layer golden case.
@Suite struct DenseConvolutionGoldenTests {
    static let cases = GoldenManifest.shared.cases(kind: "single")

    @Test func coversEverySingleCase() {
        #expect(Self.cases.count == 43)
    }

    @Test(arguments: DenseConvolutionGoldenTests.cases)
    func reproducesTorchDenseConv(_ c: GoldenCase) throws {
        let x = try c.tensor("x"), kernel = try c.tensor("kernel"), want = try c.tensor("y_dense_f32")
        let geometry = try ConvGeometry(order: kernel.rank - 2, stride: c.stride, padding: c.padding, dilation: c.dilation)
        let bias = c.has("bias") ? try c.tensor("bias") : nil
        let y = try DenseConvolution.forward(x, weight: kernel, bias: bias, geometry: geometry)
        #expect(y.shape == want.shape)
        #expect(relativeMaxError(y, want) <= 1e-5, "\(c.name)")
    }
}

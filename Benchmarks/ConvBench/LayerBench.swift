import FactorConv

/// Times every implementation of CP / Tucker / TT layers (rank 0.1 and 'same') on the
/// benchmark shapes against the dense conv of the same kernel, and shows what 'auto' picks.
func benchLayers(_ layers: [(String, [Int], Int, Int, Int)]) throws {
    for (name, xShape, cout, k, p) in layers {
        let order = xShape.count - 2
        let x = Tensor<Float>(repeating: 0.5, shape: xShape)
        print("\n\(name)")
        for factorization in [Factorization.cp, .tucker, .tt] {
            for rank in [RankSpec.fraction(0.1), .same] {
                let conv = try FactorizedConv(inChannels: xShape[1], outChannels: cout,
                                              kernelSize: Array(repeating: k, count: order),
                                              padding: [p], factorization: factorization, rank: rank, seed: 1)
                let kernel = try conv.reconstructKernel()
                let g = try ConvGeometry(order: order, padding: Array(repeating: p, count: order))
                let dense = try measure { _ = try DenseConvolution.forward(x, weight: kernel, geometry: g) }
                var line = "  \(factorization) rank \(conv.rank) dense \(ms(dense))"
                var candidates: [Implementation] = [.factorized, .reconstructed]
                if factorization == .cp { candidates.append(.mobilenet) }
                for implementation in candidates + [.auto] {
                    try conv.setImplementation(implementation)
                    let t = try measure { _ = try conv.forward(x) }
                    line += "  \(implementation) \(ms(t))"
                }
                line += "  auto→\(try conv.chosenImplementation(inputShape: xShape))"
                print(line)
            }
        }
    }
}

/// Milliseconds with two decimals.
func ms(_ seconds: Double) -> String { "\((seconds * 1e5).rounded() / 100)" }

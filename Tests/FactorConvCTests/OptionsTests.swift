import CFactorConvABI
import FactorConv
@testable import FactorConvC
import Testing

// The typed value an `fconv_options` handle holds: every option parsed when it is set, a refused
// value failing its setter with the key named and leaving the option as it was.

/// A fresh options handle, freed after `body`.
private func withOptions(_ body: (OpaquePointer?) throws -> Void) throws {
    var options: OpaquePointer?
    try check(fconv_options_create(&options), "options_create")
    defer { fconv_options_free(options) }
    try body(options)
}

/// The typed options behind a handle.
private func parsed(_ options: OpaquePointer?) throws -> LayerOptions {
    try Handles.resolve(options, as: OptionsHandle.self, "options").options
}

@Test func everyOptionIsStoredTyped() throws {
    try withOptions { o in
        try check(fconv_options_set_string(o, "factorization", "Tucker"), "factorization")
        try check(fconv_options_set_string(o, "implementation", "AUTO"), "implementation")
        try check(fconv_options_set_float(o, "rank", 0.5), "rank")
        try check(fconv_options_set_string(o, "fixed_rank_modes", "spatial"), "fixed_rank_modes")
        try check(fconv_options_set_int(o, "stride", 2), "stride")
        try check(fconv_options_set_ints(o, "padding", [1, 0], 2), "padding")
        try check(fconv_options_set_int(o, "bias", 1), "bias")
        try check(fconv_options_set_ints(o, "has_bias", [1, 0, 1], 3), "has_bias")
        try check(fconv_options_set_ints(o, "n_layers", [3], 1), "n_layers")
        try check(fconv_options_set_int(o, "seed", 7), "seed")
        try check(fconv_options_set_int(o, "decompose", 0), "decompose")
        try check(fconv_options_set_int(o, "n_iter_max", 12), "n_iter_max")
        try check(fconv_options_set_float(o, "tol", 1e-3), "tol")
        try check(fconv_options_set_float(o, "l2_reg", 0.25), "l2_reg")
        try check(fconv_options_set_string(o, "init", "random"), "init")
        try check(fconv_options_set_string(o, "cp_regularization", "ridge"), "cp_regularization")
        try check(fconv_options_set_int(o, "n_restarts", 2), "n_restarts")
        let p = try parsed(o)
        #expect(p.factorization == .tucker && p.implementation == .auto && p.rank == .fraction(0.5))
        #expect(p.fixedRankModes == .spatial && p.stride == [2] && p.padding == [1, 0] && p.dilation == nil)
        #expect(p.bias == true && p.hasBias == [true, false, true] && p.nLayers == [3] && p.decompose == false)
        #expect(p.seed == 7)
        #expect(p.decomposition == DecompositionOptions(nIterMax: 12, tol: 1e-3, l2Reg: 0.25, randomInit: true,
                                                        tltorchRidge: true, seed: 7, restarts: 2))
    }
}

@Test func unsetOptionsAreNil() throws {
    try withOptions { o in
        let p = try parsed(o)
        #expect(p.factorization == nil && p.implementation == nil && p.rank == nil && p.fixedRankModes == nil)
        #expect(p.stride == nil && p.bias == nil && p.hasBias == nil && p.nLayers == nil && p.decompose == nil)
        #expect(p.decomposition == DecompositionOptions())
    }
}

/// (setter call, the word its message names) for values wrong whatever the layer.
private let refused: [(String, @Sendable (OpaquePointer?) -> fconv_status, String)] = [
    ("factorization svd", { fconv_options_set_string($0, "factorization", "svd") }, "factorization"),
    ("implementation fast", { fconv_options_set_string($0, "implementation", "fast") }, "implementation"),
    ("rank 'half'", { fconv_options_set_string($0, "rank", "half") }, "'same'"),
    ("rank -0.5", { fconv_options_set_float($0, "rank", -0.5) }, "fraction"),
    ("fixed_rank_modes 'all'", { fconv_options_set_string($0, "fixed_rank_modes", "all") }, "'spatial'"),
    ("bias 2", { fconv_options_set_int($0, "bias", 2) }, "option 'bias' must be 0 or 1"),
    ("has_bias [1, 2]", { fconv_options_set_ints($0, "has_bias", [1, 2], 2) }, "has_bias"),
    ("decompose -1", { fconv_options_set_int($0, "decompose", -1) }, "decompose"),
    ("seed -1", { fconv_options_set_int($0, "seed", -1) }, "option 'seed' must be >= 0"),
    ("init zeros", { fconv_options_set_string($0, "init", "zeros") }, "'svd' or 'random'"),
    ("cp_regularization l1", { fconv_options_set_string($0, "cp_regularization", "l1") }, "'proximal' or 'ridge'"),
    ("n_restarts 101", { fconv_options_set_int($0, "n_restarts", 101) }, "1...100"),
    ("stride as a string", { fconv_options_set_string($0, "stride", "1") }, "takes int or ints, not string"),
]

@Test func badValuesFailTheirSetterAndChangeNothing() throws {
    try withOptions { o in
        try check(fconv_options_set_string(o, "factorization", "tt"), "factorization")
        try check(fconv_options_set_int(o, "seed", 3), "seed")
        for (what, set, word) in refused {
            #expect(set(o) == FCONV_ERR_INVALID_ARGUMENT, "\(what)")
            let message = String(cString: fconv_last_error_message())
            #expect(message.hasPrefix("fconv_options_set_") && message.contains(word), "\(what): \(message)")
        }
        let p = try parsed(o)
        #expect(p.factorization == .tt && p.seed == 3 && p.implementation == nil && p.rank == nil && p.bias == nil)
        #expect(p.hasBias == nil && p.decomposition == DecompositionOptions(seed: 3))
    }
}

import CFactorConvABI
import FactorConv

extension Factorization {
    /// The pinned FCONV_FACTORIZATION_* value.
    var code: Int {
        switch self {
        case .cp: Int(FCONV_FACTORIZATION_CP)
        case .tucker: Int(FCONV_FACTORIZATION_TUCKER)
        case .tt: Int(FCONV_FACTORIZATION_TT)
        case .dense: Int(FCONV_FACTORIZATION_DENSE)
        }
    }
}

/// The values `fconv_conv_get_ints` reports for `key`.
private func info(_ handle: ConvHandle, _ key: fconv_info) throws -> [Int] {
    let c = handle.conv
    // A sub-convolution reports its own layer's per-layer values.
    let layerRange: Range<Int> = try handle.fixedLayer.map { let f = try c.layers.flatIndex($0); return f..<(f + 1) } ?? 0..<c.layers.count
    let geometry = c.geometry
    switch key {
    case FCONV_INFO_IN_CHANNELS: return [c.inChannels]
    case FCONV_INFO_OUT_CHANNELS: return [c.outChannels]
    case FCONV_INFO_ORDER: return [c.order]
    case FCONV_INFO_KERNEL_SIZE: return c.kernelSize
    case FCONV_INFO_RANK: return c.rank.values
    case FCONV_INFO_N_LAYERS: return c.layers.shape
    case FCONV_INFO_FACTORIZATION: return [c.factorization.code]
    case FCONV_INFO_IMPLEMENTATION: return [Int(c.implementation.code)]
    case FCONV_INFO_PARAMETER_COUNT: return [c.parameterCount]
    case FCONV_INFO_HAS_BIAS: return c.hasBias[layerRange].map { $0 && c.bias != nil ? 1 : 0 }
    case FCONV_INFO_STRIDE: return geometry[layerRange].flatMap(\.stride)
    case FCONV_INFO_PADDING: return geometry[layerRange].flatMap(\.padding)
    case FCONV_INFO_DILATION: return geometry[layerRange].flatMap(\.dilation)
    case FCONV_INFO_BIAS_PARAMETER: return [c.bias == nil ? 0 : 1]
    case FCONV_INFO_SHAPE: return c.shape
    case FCONV_INFO_LAYER: return handle.fixedLayer ?? []
    default: throw FactorConvError.invalid("key \(key) is not an FCONV_INFO_* value (0...15)")
    }
}

@c @implementation
public func fconv_conv_get_ints(_ conv: OpaquePointer?, _ key: fconv_info, _ values: UnsafeMutablePointer<Int64>?,
                                _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_get_ints") {
        let result = try info(try convHandle(conv), key)
        try Arguments.copy(result, into: values, capacity: capacity, count: count, "values (capacity)")
    }
}

@c @implementation
public func fconv_conv_repr(_ conv: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                            _ length: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_repr") {
        let handle = try convHandle(conv)
        let text = try handle.fixedLayer.map { try handle.conv.subConv(at: $0).description } ?? handle.conv.description
        try Arguments.copy(text, into: buffer, capacity: capacity, length: length, "buffer (capacity)")
    }
}

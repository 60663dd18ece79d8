import CFactorConvABI
import FactorConv

@c @implementation
public func fconv_conv_save(_ conv: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> fconv_status {
    guarded("fconv_conv_save") {
        let handle = try convHandle(conv)
        let path = try Arguments.string(path, "path")
        // A sub-convolution's `conv` is its parent: the whole layer is saved.
        try handle.conv.save(to: path)
    }
}

@c @implementation
public func fconv_conv_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_load") {
        let out = try Arguments.required(out, "out")
        let path = try Arguments.string(path, "path")
        let conv = try FactorizedConv.load(from: path)
        out.pointee = Handles.register(ConvHandle(conv: conv))
    }
}

@c @implementation
public func fconv_conv_save_to_buffer(_ conv: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ capacity: Int,
                                      _ size: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_save_to_buffer") {
        let size = try Arguments.required(size, "size")
        let bytes = try convHandle(conv).conv.fileBytes()
        size.pointee = bytes.count
        guard capacity >= bytes.count else {
            throw FactorConvError(.bufferTooSmall, "buffer holds \(capacity) bytes but the layer file needs \(bytes.count) (now in *size)")
        }
        let out = try Arguments.required(buffer, "buffer")
        bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
}

@c @implementation
public func fconv_conv_load_from_buffer(_ data: UnsafeRawPointer?, _ size: Int,
                                        _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_load_from_buffer") {
        let out = try Arguments.required(out, "out")
        let bytes = try Arguments.fileBytes(data, size, "a layer file")
        out.pointee = Handles.register(ConvHandle(conv: try FactorizedConv.load(fileBytes: bytes)))
    }
}

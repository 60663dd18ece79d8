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

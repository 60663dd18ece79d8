import CFactorConvABI
import FactorConv
#if canImport(Glibc)
import Glibc
#endif

/// The object behind an `fconv_bundle *`: an opened bundle, never changed, and its names as C
/// strings that live as long as the handle (what `fconv_bundle_name` hands out).
final class BundleHandle {
    let bundle: LayerBundle
    private let cNames: [UnsafeMutablePointer<CChar>]

    init(_ bundle: LayerBundle) throws {
        var names: [UnsafeMutablePointer<CChar>] = []
        names.reserveCapacity(bundle.count)
        for name in bundle.names {
            guard let copy = name.withCString({ strdup($0) }) else {
                names.forEach { free($0) }
                throw FactorConvError(.outOfMemory, "cannot copy the layer names")
            }
            names.append(copy)
        }
        self.bundle = bundle
        self.cNames = names
    }

    deinit { cNames.forEach { free($0) } }

    /// The name of layer `index` as a C string owned by this handle.
    func cName(_ index: Int) throws -> UnsafePointer<CChar> {
        guard index >= 0 && index < cNames.count else {
            throw FactorConvError(.indexOutOfRange, "index \(UInt(bitPattern: index)) is outside the bundle's \(cNames.count) layers")
        }
        return UnsafePointer(cNames[index])
    }
}

/// Resolves a bundle handle argument.
private func bundleHandle(_ pointer: OpaquePointer?) throws -> BundleHandle {
    try Handles.resolve(pointer, as: BundleHandle.self, "bundle")
}

/// The bundle of the `n` names and layer handles of a save call.
private func bundleArgument(_ n: Int, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                            _ convs: UnsafePointer<OpaquePointer?>?) throws -> LayerBundle {
    guard n >= 0 && n <= LayerBundle.maxLayers else {
        throw FactorConvError.invalid("n \(UInt(bitPattern: n)) is above the \(LayerBundle.maxLayers) layers a bundle may hold")
    }
    if n == 0 { return try LayerBundle([]) }
    let names = try Arguments.required(names, "names")
    let convs = try Arguments.required(convs, "convs")
    var layers: [(name: String, layer: FactorizedConv)] = []
    layers.reserveCapacity(n)
    for i in 0..<n {
        guard let raw = names[i] else { throw FactorConvError.invalid("names[\(i)] is NULL") }
        guard let name = String(validatingCString: raw) else { throw FactorConvError.invalid("names[\(i)] is not valid UTF-8") }
        let handle = try Handles.resolve(convs[i], as: ConvHandle.self, "convs[\(i)]")
        guard handle.fixedLayer == nil else {
            throw FactorConvError.invalid("convs[\(i)] ('\(name)') is a sub-convolution; a bundle stores whole layers: save its parent")
        }
        layers.append((name, handle.conv))
    }
    return try LayerBundle(layers)
}

@c @implementation
public func fconv_bundle_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_bundle_open") {
        let out = try Arguments.required(out, "out")
        let path = try Arguments.string(path, "path")
        out.pointee = Handles.register(try BundleHandle(try LayerBundle.load(from: path)))
    }
}

@c @implementation
public func fconv_bundle_open_buffer(_ data: UnsafeRawPointer?, _ size: Int,
                                     _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_bundle_open_buffer") {
        let out = try Arguments.required(out, "out")
        let bytes = try Arguments.fileBytes(data, size, "a bundle")
        out.pointee = Handles.register(try BundleHandle(try LayerBundle.load(fileBytes: bytes)))
    }
}

@c @implementation
public func fconv_bundle_free(_ bundle: OpaquePointer?) {
    Handles.release(bundle, as: BundleHandle.self)
}

@c @implementation
public func fconv_bundle_count(_ bundle: OpaquePointer?, _ count: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_bundle_count") {
        let count = try Arguments.required(count, "count")
        count.pointee = try bundleHandle(bundle).bundle.count
    }
}

@c @implementation
public func fconv_bundle_name(_ bundle: OpaquePointer?, _ index: Int,
                              _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> fconv_status {
    name?.pointee = nil
    return guarded("fconv_bundle_name") {
        let name = try Arguments.required(name, "name")
        name.pointee = try bundleHandle(bundle).cName(index)
    }
}

@c @implementation
public func fconv_bundle_get_layer(_ bundle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_bundle_get_layer") {
        let out = try Arguments.required(out, "out")
        let handle = try bundleHandle(bundle)
        let name = try Arguments.string(name, "name")
        guard let layer = handle.bundle[name] else {
            let some = handle.bundle.names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
            let more = handle.bundle.count > 8 ? ", ..." : ""
            let listed = handle.bundle.count == 0 ? "the bundle is empty" : "its \(handle.bundle.count) layers: \(some)\(more)"
            throw FactorConvError.invalid("no layer named '\(name)' in the bundle (\(listed))")
        }
        out.pointee = Handles.register(ConvHandle(conv: try layer.copy()))
    }
}

@c @implementation
public func fconv_bundle_save(_ path: UnsafePointer<CChar>?, _ n: Int, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                              _ convs: UnsafePointer<OpaquePointer?>?) -> fconv_status {
    guarded("fconv_bundle_save") {
        let path = try Arguments.string(path, "path")
        try bundleArgument(n, names, convs).save(to: path)
    }
}

@c @implementation
public func fconv_bundle_save_to_buffer(_ n: Int, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ convs: UnsafePointer<OpaquePointer?>?, _ buffer: UnsafeMutableRawPointer?,
                                        _ capacity: Int, _ size: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_bundle_save_to_buffer") {
        let size = try Arguments.required(size, "size")
        let bytes = try bundleArgument(n, names, convs).fileBytes()
        size.pointee = bytes.count
        guard capacity >= bytes.count else {
            throw FactorConvError(.bufferTooSmall, "buffer holds \(capacity) bytes but the bundle needs \(bytes.count) (now in *size)")
        }
        let out = try Arguments.required(buffer, "buffer")
        bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }
}

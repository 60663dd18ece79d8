import CFactorConvABI
import FactorConv
import FactorConvErrorState
#if canImport(Glibc)
import Glibc
#endif

/// The library version (FCONV_VERSION_STRING of include/factorconv.h, where it is defined) as
/// a C string that lives as long as the process: fconv_version_string returns static storage.
/// Written once (a lazily initialized global) and only read after that.
nonisolated(unsafe) private let libraryVersion: UnsafePointer<CChar> = UnsafePointer(strdup(FactorizedConv.libraryVersion)!)

/// Records `message` as this thread's last error and returns `status`.
func fail(_ status: Int32, _ message: String) -> fconv_status {
    message.withCString { factorconv_internal_set_last_error($0) }
    return status
}

/// Runs `body`, mapping a thrown `FactorConvError` (or any other error) to its status code and
/// message. Every exported function goes through here so no Swift error escapes to C.
func guarded(_ function: String, _ body: () throws -> Void) -> fconv_status {
    do {
        try BLAS.require()
        try body()
        return FCONV_OK
    } catch let error as FactorConvError {
        return fail(error.kind.rawValue, "\(function): \(error.message)")
    } catch {
        return fail(FCONV_ERR_INTERNAL, "\(function): unexpected error \(error)")
    }
}

private func staticCString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func fconv_version_string() -> UnsafePointer<CChar>! { libraryVersion }

@c @implementation
public func fconv_abi_version() -> Int32 { FCONV_ABI_VERSION }

@c @implementation
public func fconv_status_string(_ status: fconv_status) -> UnsafePointer<CChar>! {
    switch status {
    case FCONV_OK: return staticCString("FCONV_OK")
    case FCONV_ERR_INVALID_ARGUMENT: return staticCString("FCONV_ERR_INVALID_ARGUMENT")
    case FCONV_ERR_SHAPE_MISMATCH: return staticCString("FCONV_ERR_SHAPE_MISMATCH")
    case FCONV_ERR_INDEX_OUT_OF_RANGE: return staticCString("FCONV_ERR_INDEX_OUT_OF_RANGE")
    case FCONV_ERR_UNSUPPORTED: return staticCString("FCONV_ERR_UNSUPPORTED")
    case FCONV_ERR_OUT_OF_MEMORY: return staticCString("FCONV_ERR_OUT_OF_MEMORY")
    case FCONV_ERR_FORMAT: return staticCString("FCONV_ERR_FORMAT")
    case FCONV_ERR_IO: return staticCString("FCONV_ERR_IO")
    case FCONV_ERR_CANCELLED: return staticCString("FCONV_ERR_CANCELLED")
    case FCONV_ERR_BUFFER_TOO_SMALL: return staticCString("FCONV_ERR_BUFFER_TOO_SMALL")
    case FCONV_ERR_NUMERICAL: return staticCString("FCONV_ERR_NUMERICAL")
    case FCONV_ERR_INTERNAL: return staticCString("FCONV_ERR_INTERNAL")
    default: return staticCString("FCONV_UNKNOWN_STATUS")
    }
}

@c @implementation
public func fconv_last_error_message() -> UnsafePointer<CChar>! { factorconv_internal_last_error() }

@c @implementation
public func fconv_set_num_threads(_ n: Int32) -> fconv_status {
    guard n >= 0 && n <= 1024 else {
        return fail(FCONV_ERR_INVALID_ARGUMENT, "fconv_set_num_threads: n_threads must be 0 (default) to 1024, got \(n)")
    }
    Parallel.threadCount = Int(n)
    return FCONV_OK
}

@c @implementation
public func fconv_get_num_threads() -> Int32 { Int32(Parallel.threadCount) }

@c @implementation
public func fconv_set_memory_limit(_ bytes: UInt64) -> fconv_status {
    guard bytes <= UInt64(Int.max) else {
        return fail(FCONV_ERR_INVALID_ARGUMENT, "fconv_set_memory_limit: bytes must be at most 2^63 - 1, got \(bytes)")
    }
    MemoryLimit.bytes = Int(bytes)
    return FCONV_OK
}

@c @implementation
public func fconv_get_memory_limit() -> UInt64 { UInt64(MemoryLimit.bytes) }

@c @implementation
public func fconv_release_memory() { releaseMemory() }

@c @implementation
public func fconv_set_output_check(_ enabled: Int32) -> fconv_status {
    guard enabled == 0 || enabled == 1 else {
        return fail(FCONV_ERR_INVALID_ARGUMENT, "fconv_set_output_check: enabled must be 0 or 1, got \(enabled)")
    }
    FiniteCheck.checksOutputs = enabled == 1
    return FCONV_OK
}

@c @implementation
public func fconv_get_output_check() -> Int32 { FiniteCheck.checksOutputs ? 1 : 0 }

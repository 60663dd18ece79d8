#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic file writing: the bytes go to a temporary file in the target's directory, which is
/// flushed and renamed over `path`, so readers never see a partial file.
enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    /// - Throws: `.io` naming the step that failed; no partial file is left at `path`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        guard !path.isEmpty else { throw FactorConvError(.io, "the file path is empty") }
        let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FactorConvError(.io, "cannot create '\(temp)': \(FileKind.errnoText())") }
        var ok = false
        defer { if !ok { unlink(temp) } }
        do {
            defer { close(fd) }
            var done = 0
            try bytes.withUnsafeBytes { raw in
                while done < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FactorConvError(.io, "cannot write '\(temp)': \(FileKind.errnoText())")
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw FactorConvError(.io, "cannot flush '\(temp)': \(FileKind.errnoText())") }
        }
        guard rename(temp, path) == 0 else {
            throw FactorConvError(.io, "cannot rename '\(temp)' to '\(path)': \(FileKind.errnoText())")
        }
        ok = true
    }
}

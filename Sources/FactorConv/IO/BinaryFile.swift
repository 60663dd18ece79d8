#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file for reading with bounds-checked positional reads (POSIX, no Foundation).
final class InputFile {
    private let fd: Int32
    /// The file's path, for messages.
    let path: String
    /// The file's size in bytes.
    let size: Int

    /// Opens `path` for reading.
    /// - Throws: `.io` when it cannot be opened or is not a regular file.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FactorConvError(.io, "cannot open '\(path)' for reading: \(InputFile.errnoText())") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw FactorConvError(.io, "cannot stat '\(path)': \(InputFile.errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FactorConvError(.io, "'\(path)' is not a regular file")
        }
        self.fd = fd
        self.size = Int(info.st_size)
    }

    deinit { close(fd) }

    /// Reads exactly `count` bytes at `offset` (which must lie inside the file).
    /// - Throws: `.format` when the range is outside the file, `.io` on a read error.
    func read(offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FactorConvError(.format, "'\(path)' is truncated: bytes \(offset)..<\(offset &+ count) requested but the file has \(size)")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        try buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FactorConvError(.io, "cannot read '\(path)': \(InputFile.errnoText())")
                }
                if n == 0 { throw FactorConvError(.format, "'\(path)' ended early (it changed while being read)") }
                done += n
            }
        }
        return buffer
    }

    /// The C library's message for the current `errno`.
    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Atomic file writing: the bytes go to a temporary file in the target's directory, which is
/// flushed and renamed over `path`, so readers never see a partial file.
enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    /// - Throws: `.io` naming the step that failed; no partial file is left at `path`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        guard !path.isEmpty else { throw FactorConvError(.io, "the file path is empty") }
        let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FactorConvError(.io, "cannot create '\(temp)': \(InputFile.errnoText())") }
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
                        throw FactorConvError(.io, "cannot write '\(temp)': \(InputFile.errnoText())")
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw FactorConvError(.io, "cannot flush '\(temp)': \(InputFile.errnoText())") }
        }
        guard rename(temp, path) == 0 else {
            throw FactorConvError(.io, "cannot rename '\(temp)' to '\(path)': \(InputFile.errnoText())")
        }
        ok = true
    }
}

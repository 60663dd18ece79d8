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

    /// Opens `path` for reading. Anything but a regular file (symlinks are followed) is refused
    /// before it is opened: opening a FIFO with no writer blocks until one appears, and opening a
    /// device node can have effects of its own. The open descriptor is checked again, in case the
    /// path was replaced between the two checks.
    /// - Throws: `.io` when it cannot be opened or is not a regular file.
    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FactorConvError(.io, "cannot open '\(path)' for reading: \(FileKind.errnoText())")
        }
        guard FileKind.isRegular(info.st_mode) else { throw FileKind.notRegular("cannot read '\(path)'", info.st_mode) }
        // O_NONBLOCK: should a FIFO have taken the path's place since the stat, `open` returns
        // at once instead of waiting for a writer; O_NOCTTY: a terminal never becomes ours.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            throw FactorConvError(.io, "cannot open '\(path)' for reading: \(FileKind.errnoText())")
        }
        guard fstat(fd, &info) == 0 else {
            let error = FactorConvError(.io, "cannot stat '\(path)': \(FileKind.errnoText())")
            close(fd)
            throw error
        }
        guard FileKind.isRegular(info.st_mode) else {
            close(fd)
            throw FileKind.notRegular("cannot read '\(path)'", info.st_mode)
        }
        // Reads block as usual from here (the flag means nothing for a regular file; it is
        // cleared so that nothing comes to depend on it).
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let error = FactorConvError(.io, "cannot read '\(path)': \(FileKind.errnoText())")
            close(fd)
            throw error
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
                    throw FactorConvError(.io, "cannot read '\(path)': \(FileKind.errnoText())")
                }
                if n == 0 { throw FactorConvError(.format, "'\(path)' ended early (it changed while being read)") }
                done += n
            }
        }
        return buffer
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What kind of file system object a `stat` describes, for the checks that readers and savers
/// make before touching a user's path: only regular files are read or replaced.
enum FileKind {
    /// True when `mode` (a `st_mode`) is a regular file.
    static func isRegular(_ mode: mode_t) -> Bool { (mode & S_IFMT) == S_IFREG }

    /// "a FIFO", "a directory", "a character device", ... for messages.
    static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "of unknown type"
        }
    }

    /// The `.io` error of a path that is not a regular file: `failure` says what could not be
    /// done to which path ("cannot read 'x'"), followed by what the path is.
    static func notRegular(_ failure: String, _ mode: mode_t) -> FactorConvError {
        FactorConvError(.io, "\(failure): it is not a regular file (it is \(describe(mode)))")
    }

    /// The C library's message for the current `errno`.
    static func errnoText() -> String { String(cString: strerror(errno)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a save writes, decided before anything is created: the caller's path with symlinks
/// followed (a link's target is replaced, the link stays), refused unless it names a regular
/// file or nothing, and the status of the file it will replace (whose mode and owner the new
/// file keeps).
struct SaveTarget {
    /// The path as the caller gave it, for messages.
    let requested: String
    /// The path after following symlinks: the name the new file is renamed to.
    let path: String
    /// The directory holding `path`, where the temporary file is created (a rename cannot
    /// cross file systems, and the target's directory is on the target's).
    let directory: String
    /// The status of the regular file at `path`, or nil when there is none yet.
    let existing: stat?

    /// The most symlinks followed before giving up (Linux's own limit for path resolution).
    private static let maxLinks = 40

    /// Resolves `requested`.
    /// - Throws: `.io` naming `requested` when it is empty, names something other than a regular
    ///   file (directory, FIFO, device, socket), has too many levels of symlinks, or cannot be
    ///   examined.
    init(resolving requested: String) throws {
        guard !requested.isEmpty else { throw FactorConvError(.io, "cannot save: the file path is empty") }
        self.requested = requested
        var current = requested
        for _ in 0...Self.maxLinks {
            var info = stat()
            guard lstat(current, &info) == 0 else {
                guard errno == ENOENT else { throw Self.failure(requested, current, FileKind.errnoText()) }
                // Nothing there (or a dangling link's target): a new file. A missing directory
                // shows up when the temporary file cannot be created in it.
                (path, directory, existing) = (current, Self.directory(of: current), nil)
                return
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                current = try Self.follow(link: current, requested: requested)
                continue
            }
            guard FileKind.isRegular(info.st_mode) else {
                throw FileKind.notRegular("cannot save to \(Self.name(requested, current))", info.st_mode)
            }
            (path, directory, existing) = (current, Self.directory(of: current), info)
            return
        }
        throw Self.failure(requested, current, "too many levels of symbolic links")
    }

    /// "'requested'" or, when symlinks led elsewhere, "'requested' (a link to 'resolved')".
    static func name(_ requested: String, _ resolved: String) -> String {
        resolved == requested ? "'\(requested)'" : "'\(requested)' (a link to '\(resolved)')"
    }

    /// The `.io` error of a save that failed at `resolved` because of `reason`.
    static func failure(_ requested: String, _ resolved: String, _ reason: String) -> FactorConvError {
        FactorConvError(.io, "cannot save \(name(requested, resolved)): \(reason)")
    }

    /// The `.io` error of this save failing because of `reason`.
    func failure(_ reason: String) -> FactorConvError { Self.failure(requested, path, reason) }

    /// The path a symlink points to; a relative target is taken from the link's directory.
    private static func follow(link: String, requested: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(link, &buffer, buffer.count - 1)
        guard n >= 0 else { throw failure(requested, link, "cannot read the symbolic link: \(FileKind.errnoText())") }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let base = directory(of: link)
        if target.hasPrefix("/") || base == "." { return target }
        return base == "/" ? "/" + target : base + "/" + target
    }

    /// The directory part of `path`: "." for a bare name, "/" for a name in the root.
    static func directory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }
}

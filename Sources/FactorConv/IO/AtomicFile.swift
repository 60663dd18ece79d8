#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How every file the library writes (layer files, `.npy`) is saved. The bytes go to a temporary
/// file in the target's directory, which is flushed and renamed over the target, so readers see
/// the old file or the new one, never a partial one. Symlinks are followed and their target is
/// replaced (`SaveTarget`); a path naming anything but a regular file (a device, FIFO, socket or
/// directory) is refused and left alone; a replaced file's mode and owner carry over to the new
/// one where the process may set them. The temporary name is short and fixed in length, so any
/// target name up to NAME_MAX works, and errors name the caller's path, never the temporary one.
enum AtomicFile {
    /// Writes `bytes` to `path` as described above.
    /// - Throws: `.io` naming `path` and the step that failed; nothing is left behind.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { fd, target in
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw target.failure("write error: \(FileKind.errnoText())")
                    }
                    done += n
                }
            }
        }
    }

    /// Saves to `path`, with `contents` writing the file's bytes to the open temporary file's
    /// descriptor (`target` is there for its error messages). When `contents` or any later step
    /// throws, the temporary file is removed and whatever was at the target is unchanged.
    static func write(to path: String, contents: (Int32, SaveTarget) throws -> Void) throws {
        let target = try SaveTarget(resolving: path)
        let (fd, temporary) = try createTemporary(for: target)
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try contents(fd, target)
            if let existing = target.existing { try keepOwnerAndMode(of: existing, on: fd, target) }
            guard fsync(fd) == 0 else { throw target.failure("cannot flush the data: \(FileKind.errnoText())") }
        }
        guard rename(temporary, target.path) == 0 else {
            throw target.failure("cannot replace it: \(FileKind.errnoText())")
        }
        renamed = true
        syncDirectory(target.directory)
    }

    /// Creates a new file named `.fconv-<16 hex digits>.tmp` (27 bytes whatever the target's
    /// name) in the target's directory, retrying on a name already taken.
    private static func createTemporary(for target: SaveTarget) throws -> (Int32, String) {
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let name = ".fconv-" + String(repeating: "0", count: 16 - suffix.count) + suffix + ".tmp"
            let temporary = target.directory == "/" ? "/" + name : target.directory + "/" + name
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 { return (fd, temporary) }
            if errno != EEXIST {
                throw target.failure("cannot create a temporary file in '\(target.directory)': \(FileKind.errnoText())")
            }
        }
        throw target.failure("cannot create a temporary file in '\(target.directory)': every name tried exists")
    }

    /// Gives the new file the replaced file's owner, group and permission bits. Changing the
    /// owner needs privilege: without it the file stays the caller's (the group is still kept
    /// when the caller belongs to it), and set-user/group-ID bits are kept only with the owner
    /// or group they belong to, so a save never makes a file run as someone it did not before.
    private static func keepOwnerAndMode(of existing: stat, on fd: Int32, _ target: SaveTarget) throws {
        var current = stat()
        guard fstat(fd, &current) == 0 else { throw target.failure("cannot stat the new file: \(FileKind.errnoText())") }
        if current.st_uid != existing.st_uid || current.st_gid != existing.st_gid {
            if fchown(fd, existing.st_uid, existing.st_gid) != 0 {
                guard errno == EPERM else { throw target.failure("cannot keep its owner: \(FileKind.errnoText())") }
                _ = fchown(fd, uid_t.max, existing.st_gid)   // uid -1: the group only
            }
            guard fstat(fd, &current) == 0 else { throw target.failure("cannot stat the new file: \(FileKind.errnoText())") }
        }
        var mode = existing.st_mode & 0o7777
        if current.st_uid != existing.st_uid { mode &= ~S_ISUID }
        if current.st_gid != existing.st_gid { mode &= ~S_ISGID }
        guard fchmod(fd, mode) == 0 else { throw target.failure("cannot keep its mode: \(FileKind.errnoText())") }
    }

    /// Flushes the directory entry of the rename, so the new file survives a crash (best effort:
    /// the file itself is already complete and in place).
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

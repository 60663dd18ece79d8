import Foundation
import Testing
import FactorConv

// What a save does with what is already at the path: it writes through
// symlinks to their target, refuses devices, FIFOs and directories without replacing them,
// keeps an existing file's mode and owner, fits its temporary name within NAME_MAX, and names
// the path the caller gave in its errors, never the temporary file.

/// The small layer the layer-save cases write (seeded: every call gives the same parameters).
private func sampleLayer() throws -> FactorizedConv {
    try FactorizedConv(inChannels: 2, outChannels: 3, kernelSize: [2], bias: true, factorization: .tt,
                       rank: .int(2), seed: 5)
}

/// The two savers of the library: a layer file and an `.npy` array. `check` reads the file back
/// and expects what `save` wrote.
struct IOSaver: Sendable, CustomTestStringConvertible {
    let name: String
    let save: @Sendable (String) throws -> Void
    let check: @Sendable (String) throws -> Bool
    var testDescription: String { name }
}

let ioSavers: [IOSaver] = [
    IOSaver(name: "layer save", save: { try sampleLayer().save(to: $0) },
          check: { try FactorizedConv.load(from: $0).stateDict().map(\.value) == sampleLayer().stateDict().map(\.value) }),
    IOSaver(name: "NPY.write", save: { try NPY.write(try ioRandomTensor([2, 3], seed: 4), to: $0) },
          check: { try NPY.read(from: $0) == ioRandomTensor([2, 3], seed: 4) }),
]

/// Expects `body` to throw a `.io` error naming `path` (the final path) and not a temporary name.
private func expectSaveError(_ path: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () throws -> Void) -> FactorConvError? {
    do {
        try body()
        Issue.record("\(what): the save succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as FactorConvError {
        #expect(error.kind == .io, "\(what): .\(error.kind): \(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains("'\(path)'"), "\(what): \(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.contains(".tmp"), "\(what): names a temporary file: \(error.message)",
                sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("\(what): unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("IO save targets")
struct IOSaveTargetTests {
    @Test("a symlink's target is written; the link stays", arguments: ioSavers)
    func symlinkTarget(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let target = try scratch.write([1, 2, 3], "target.bin")
        let link = scratch.path("link.bin")
        #expect(symlink("target.bin", link) == 0)
        try saver.save(link)
        #expect(fileType(link) == S_IFLNK)
        #expect(fileType(target) == S_IFREG)
        #expect(try saver.check(target))
        #expect(directoryNames(scratch.directory) == ["link.bin", "target.bin"])
    }

    @Test("a chain of relative symlinks across directories is followed", arguments: ioSavers)
    func symlinkChain(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let a = scratch.directory.appendingPathComponent("a"), b = scratch.directory.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: a, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: false)
        let target = try scratch.write([9], "b/final.bin")
        #expect(symlink("../b/middle", a.appendingPathComponent("first").path) == 0)
        #expect(symlink("final.bin", b.appendingPathComponent("middle").path) == 0)
        try saver.save(a.appendingPathComponent("first").path)
        #expect(fileType(a.appendingPathComponent("first").path) == S_IFLNK)
        #expect(fileType(b.appendingPathComponent("middle").path) == S_IFLNK)
        #expect(try saver.check(target))
        #expect(directoryNames(a) == ["first"] && directoryNames(b) == ["final.bin", "middle"])
    }

    @Test("a dangling symlink's target is created", arguments: ioSavers)
    func danglingSymlink(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let link = scratch.path("link.bin")
        #expect(symlink("new.bin", link) == 0)
        try saver.save(link)
        #expect(fileType(link) == S_IFLNK)
        #expect(try saver.check(scratch.path("new.bin")))
    }

    @Test("a FIFO is refused and left in place", arguments: ioSavers)
    func fifo(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("out.fifo")
        try makeFIFO(path)
        if let error = expectSaveError(path, saver.name, { try saver.save(path) }) {
            expectNotRegularFileError(error, path, saver.name)
        }
        #expect(fileType(path) == S_IFIFO)
        #expect(directoryNames(scratch.directory) == ["out.fifo"])
    }

    @Test("a symlink to a FIFO is refused; both are left in place", arguments: ioSavers)
    func symlinkToFIFO(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let fifo = scratch.path("out.fifo"), link = scratch.path("link")
        try makeFIFO(fifo)
        #expect(symlink("out.fifo", link) == 0)
        _ = expectSaveError(link, saver.name) { try saver.save(link) }
        #expect(fileType(fifo) == S_IFIFO && fileType(link) == S_IFLNK)
    }

    @Test("a character device node is refused and left in place", .enabled(if: runningAsRoot), arguments: ioSavers)
    func characterDevice(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("null")
        try makeCharacterDevice(path)
        let before = try #require(linkStatus(path))
        if let error = expectSaveError(path, saver.name, { try saver.save(path) }) {
            expectNotRegularFileError(error, path, saver.name)
        }
        let after = try #require(linkStatus(path))
        #expect(after.st_mode & S_IFMT == S_IFCHR && after.st_rdev == before.st_rdev && after.st_ino == before.st_ino)
        #expect(directoryNames(scratch.directory) == ["null"])
    }

    @Test("a directory is refused and left in place", arguments: ioSavers)
    func directory(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("out")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        if let error = expectSaveError(path, saver.name, { try saver.save(path) }) {
            expectNotRegularFileError(error, path, saver.name)
        }
        #expect(fileType(path) == S_IFDIR)
        #expect(directoryNames(scratch.directory) == ["out"])
    }

    @Test("a missing directory is an error naming the path", arguments: ioSavers)
    func missingDirectory(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("missing/out.bin")
        _ = expectSaveError(path, saver.name) { try saver.save(path) }
    }

    @Test("an existing file keeps its mode", arguments: ioSavers)
    func keepsMode(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = try scratch.write([1], "out.bin")
        #expect(chmod(path, 0o640) == 0)
        try saver.save(path)
        #expect(try saver.check(path))
        #expect(try #require(linkStatus(path)).st_mode & 0o7777 == 0o640)
    }

    @Test("an existing file owned by another user keeps its owner, group and mode", .enabled(if: runningAsRoot),
          arguments: ioSavers)
    func keepsOwner(saver: IOSaver) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = try scratch.write([1], "out.bin")
        #expect(chown(path, 4242, 4343) == 0)
        #expect(chmod(path, 0o600) == 0)
        try saver.save(path)
        #expect(try saver.check(path))
        let info = try #require(linkStatus(path))
        #expect(info.st_uid == 4242 && info.st_gid == 4343)
        #expect(info.st_mode & 0o7777 == 0o600)
    }

    @Test("names up to NAME_MAX (255 bytes) are saved", arguments: ioSavers, [252, 255])
    func longName(saver: IOSaver, length: Int) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let name = String(repeating: "n", count: length - 4) + ".bin"
        let path = scratch.path(name)
        try saver.save(path)
        #expect(try saver.check(path))
        #expect(directoryNames(scratch.directory) == [name])
        // Replacing it works too, and leaves no temporary file behind.
        try saver.save(path)
        #expect(directoryNames(scratch.directory) == [name])
    }
}

import Foundation
import Testing
import FactorConv

// Readers refuse paths that are not regular files before `open` can block on them: a FIFO with
// no writer blocked `open` forever; directories and device nodes are refused
// with the same `.io` error naming the path.

/// Every reader of a user path, by name: the safetensors reader, the layer loader, the NPY reader.
private let readers: [String: @Sendable (String) throws -> Void] = [
    "SafeTensors.read": { _ = try SafeTensors.read(from: $0) },
    "FactorizedConv.load": { _ = try FactorizedConv.load(from: $0) },
    "NPY.read": { _ = try NPY.read(from: $0) },
]

@Suite("IO special files are refused by readers")
struct IOSpecialFileReadTests {
    @Test("a FIFO is refused without blocking", arguments: readers.keys.sorted())
    func fifo(reader: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("fifo.safetensors")
        try makeFIFO(path)
        let read = readers[reader]!
        expectNotRegularFile(runAgainstFIFODeadline(fifo: path) { try read(path) }, path, reader)
        #expect(fileType(path) == S_IFIFO)
    }

    @Test("a symlink to a FIFO is refused without blocking", arguments: readers.keys.sorted())
    func symlinkToFIFO(reader: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let fifo = scratch.path("fifo"), link = scratch.path("link.npy")
        try makeFIFO(fifo)
        #expect(symlink("fifo", link) == 0)
        let read = readers[reader]!
        expectNotRegularFile(runAgainstFIFODeadline(fifo: fifo) { try read(link) }, link, reader)
    }

    @Test("a directory is refused", arguments: readers.keys.sorted())
    func directory(reader: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("dir.safetensors")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        expectNotRegularFile(runAgainstFIFODeadline(fifo: path) { try readers[reader]!(path) }, path, reader)
    }

    @Test("a character device node is refused", .enabled(if: runningAsRoot), arguments: readers.keys.sorted())
    func characterDevice(reader: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("null.npy")
        try makeCharacterDevice(path)
        expectNotRegularFile(runAgainstFIFODeadline(fifo: path) { try readers[reader]!(path) }, path, reader)
    }
}

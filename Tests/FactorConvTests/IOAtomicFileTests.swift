import Foundation
import Testing
@testable import FactorConv

// AtomicFile when the save fails after its temporary file exists: the error reaches the caller,
// the temporary file is removed and the file at the path is untouched. (The public savers cannot
// be made to fail at that point on demand, so the writer's own entry point is driven here.)

@Suite("IO atomic file")
struct IOAtomicFileTests {
    @Test("a failure while writing removes the temporary file and keeps the old one")
    func failureCleansUp() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = try scratch.write([7, 7, 7], "out.bin")
        var temporaryNames: [String] = []
        do {
            try AtomicFile.write(to: path) { fd, target in
                #expect(Glibc.write(fd, [1, 2, 3, 4], 4) == 4)
                temporaryNames = directoryNames(scratch.directory).filter { $0 != "out.bin" }
                throw target.failure("stopped by the test")
            }
            Issue.record("the write succeeded")
        } catch let error as FactorConvError {
            #expect(error.kind == .io && error.message.contains("'\(path)'") && error.message.contains("stopped by the test"))
        }
        #expect(temporaryNames.count == 1, "\(temporaryNames)")
        #expect(temporaryNames.allSatisfy { $0.utf8.count < 32 && $0.hasPrefix(".") })
        #expect(directoryNames(scratch.directory) == ["out.bin"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([7, 7, 7]))
    }

    @Test("the directory of a path", arguments: [
        ("a.bin", "."), ("/a.bin", "/"), ("/x/y/a.bin", "/x/y"), ("x/a.bin", "x"), ("x//a.bin", "x/"), ("x/y/", "x"),
    ])
    func directoryOfPath(path: String, directory: String) {
        #expect(SaveTarget.directory(of: path) == directory)
    }
}

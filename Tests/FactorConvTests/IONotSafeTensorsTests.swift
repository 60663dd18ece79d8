import Testing
import FactorConv

// Files that are not safetensors files at all (a .npy kernel passed where a layer file is
// expected, any other bytes) are named as such, instead of reading their first 8 bytes as an
// absurd header length.

/// The message of the `.format` error `body` throws, or nil (recorded as an issue) otherwise.
private func formatMessage(_ what: String, _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("\(what): nothing was thrown")
    } catch let error as FactorConvError {
        #expect(error.kind == .format, "\(what): got .\(error.kind): \(error.message)")
        return error.message
    } catch {
        Issue.record("\(what): unexpected error \(error)")
    }
    return nil
}

@Test func npyFileIsNamedNotSafeTensors() throws {
    let scratch = try IOScratch()
    defer { scratch.cleanup() }
    let path = scratch.path("w.npy")
    try NPY.write(try ioRandomTensor([4, 3, 3, 3], seed: 1), to: path)
    for (what, load) in [("SafeTensors.read", { _ = try SafeTensors.read(from: path) }),
                         ("FactorizedConv.load", { _ = try FactorizedConv.load(from: path) })] {
        let message = formatMessage(what, load)
        #expect(message?.contains("'\(path)' is not a safetensors file (it is a .npy file)") == true, "\(what): \(message ?? "")")
        #expect(message?.contains("header length") == false)
    }
    let bytes = NPY.encode(try ioRandomTensor([2], seed: 2))
    let message = formatMessage("load(fileBytes:)") { _ = try FactorizedConv.load(fileBytes: bytes) }
    #expect(message?.contains("not a safetensors file (it is a .npy file)") == true, "\(message ?? "")")
}

@Test func otherBytesAreNamedNotSafeTensors() throws {
    let scratch = try IOScratch()
    defer { scratch.cleanup() }
    let path = try scratch.write(Array("#!/bin/sh\necho not a layer\n".utf8), "script.safetensors")
    let message = formatMessage("SafeTensors.read") { _ = try SafeTensors.read(from: path) }
    #expect(message?.contains("is not a safetensors file (its header does not start with '{'") == true, "\(message ?? "")")
    let decoded = formatMessage("SafeTensors.decode") { _ = try SafeTensors.decode(Array("0123456789abcdef".utf8)) }
    #expect(decoded?.contains("not a safetensors file") == true, "\(decoded ?? "")")
}

@Test func truncatedSafeTensorsStillSaysTruncated() throws {
    // A real header cut short keeps its own message: the check looks at the format, not the size.
    let scratch = try IOScratch()
    defer { scratch.cleanup() }
    let path = try scratch.write(safetensorsBytes(header: "{}", data: [], lengthOverride: 64), "cut.safetensors")
    let message = formatMessage("SafeTensors.read") { _ = try SafeTensors.read(from: path) }
    #expect(message?.contains("truncated file?") == true, "\(message ?? "")")
}

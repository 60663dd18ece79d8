import Foundation
import Testing
import FactorConv

// .npy: round trips, float64 conversion, and a table of bad headers.

/// A .npy file from a header dictionary text and data (version 1.0, padded like numpy).
private func npyBytes(_ dict: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
    var header = Array(dict.utf8)
    let prefix = version == 1 ? 10 : 12
    while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let n = header.count
    out += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]
    return out + header + data
}

@Suite("IO npy")
struct IONPYTests {
    @Test("float32 round trip for several shapes", arguments: [[5], [2, 3], [1, 2, 3, 4], [0, 3], []])
    func roundTrip(shape: [Int]) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let t = try ioRandomTensor(shape, seed: 9)
        let path = scratch.path("a.npy")
        try NPY.write(t, to: path)
        #expect(try NPY.read(from: path) == t)
        #expect(try NPY.decode(NPY.encode(t)) == t)
        #expect(NPY.encode(t).count % 16 == (t.count * 4) % 16)  // the header is padded to 64 bytes
    }

    @Test("float64 arrays are converted, version 2.0 headers are read")
    func float64() throws {
        var data = [UInt8]()
        for v in [0.5, -1.25, 3.0] as [Double] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        let t = try NPY.decode(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", data: data, version: 2))
        #expect(t == (try Tensor(shape: [3], scalars: [0.5, -1.25, 3.0])))
    }

    @Test("bad files are .format errors (or .outOfMemory for huge claims)", arguments: [
        ("not npy", Array("hello world, this is text".utf8)),
        ("too short", [0x93, 0x4E]),
        ("version 9", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0], version: 9)),
        ("big-endian", npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])),
        ("int64", npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8))),
        ("fortran order", npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 16))),
        ("missing shape", npyBytes("{'descr': '<f4', 'fortran_order': False, }", data: [0, 0, 0, 0])),
        ("missing descr", npyBytes("{'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])),
        ("shape not a tuple", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': 1, }", data: [0, 0, 0, 0])),
        ("negative shape", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data: [0, 0, 0, 0])),
        ("garbage after dict", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", data: [0, 0, 0, 0])),
        ("unterminated dict", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,", data: [0, 0, 0, 0])),
        ("duplicate key", npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])),
        ("short data", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: [0, 0, 0, 0])),
        ("long data", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 0])),
        ("huge shape", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", data: [0, 0, 0, 0])),
        ("huge single dim", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data: [0, 0, 0, 0])),
        ("header length past end", [0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF] + Array("{}".utf8)),
    ] as [(String, [UInt8])])
    func badFiles(name: String, bytes: [UInt8]) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = try scratch.write(bytes, "bad.npy")
        expectIOError([.format, .outOfMemory], name) { _ = try NPY.read(from: path) }
        expectIOError([.format, .outOfMemory], name + " (in memory)") { _ = try NPY.decode(bytes) }
    }

    @Test("a missing file is an .io error")
    func missing() {
        expectIOError([.io], "missing") { _ = try NPY.read(from: "/nonexistent/x.npy") }
    }
}

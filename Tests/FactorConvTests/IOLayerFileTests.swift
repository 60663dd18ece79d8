import Foundation
import Testing
import FactorConv

// Layer files: save → load gives identical parameters, configuration and outputs, for every
// factorization, single layers and grids with per-layer geometry and bias flags.

private func expectSameLayer(_ a: FactorizedConv, _ b: FactorizedConv, input: Tensor<Float>, layers: [[Int]],
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(a.factorization == b.factorization, sourceLocation: sourceLocation)
    #expect(a.inChannels == b.inChannels && a.outChannels == b.outChannels, sourceLocation: sourceLocation)
    #expect(a.kernelSize == b.kernelSize, sourceLocation: sourceLocation)
    #expect(a.layers == b.layers, sourceLocation: sourceLocation)
    #expect(a.rank == b.rank, sourceLocation: sourceLocation)
    #expect(a.geometry == b.geometry, sourceLocation: sourceLocation)
    #expect(a.hasBias == b.hasBias, sourceLocation: sourceLocation)
    #expect(a.implementation == b.implementation, sourceLocation: sourceLocation)
    #expect(a.description == b.description, sourceLocation: sourceLocation)
    let da = a.stateDict(), db = b.stateDict()
    #expect(da.map(\.name) == db.map(\.name), sourceLocation: sourceLocation)
    for (x, y) in zip(da, db) { #expect(x.value == y.value, "\(x.name)", sourceLocation: sourceLocation) }
    for layer in layers {
        #expect(try a.forward(input, layer: layer) == b.forward(input, layer: layer), "layer \(layer)", sourceLocation: sourceLocation)
    }
}

@Suite("IO layer files")
struct IOLayerFileTests {
    @Test("round trip, single layer", arguments: Factorization.allCases)
    func roundTripSingle(factorization: Factorization) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 4, outChannels: 5, kernelSize: [3, 2], stride: [2, 1], padding: [1, 0],
                                      dilation: [1, 2], bias: true, factorization: factorization, rank: .fraction(0.5),
                                      implementation: factorization == .dense ? .reconstructed : .factorized, seed: 7)
        try conv.set(bias: (0..<5).map { Float($0) / 10 })
        let path = scratch.path("single.safetensors")
        try conv.save(to: path)
        let loaded = try FactorizedConv.load(from: path)
        try expectSameLayer(conv, loaded, input: try ioRandomTensor([2, 4, 7, 6], seed: 1), layers: [[]])
        // Saving the loaded layer again gives the same bytes.
        let again = scratch.path("again.safetensors")
        try loaded.save(to: again)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: URL(fileURLWithPath: again)))
    }

    @Test("round trip, 3 layers with per-layer geometry and bias flags", arguments: Factorization.allCases)
    func roundTripGrid(factorization: Factorization) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 3, outChannels: 4, kernelSize: [3], bias: true, hasBias: [false, false, false],
                                      nLayers: [3], factorization: factorization, rank: .same,
                                      implementation: factorization == .dense ? .auto : .reconstructed, seed: 3)
        try conv.set(layer: [0], stride: [2], padding: [1])
        try conv.set(layer: [1], dilation: [2], bias: [1, 2, 3, 4])
        try conv.set(layer: [2], padding: [2])
        let path = scratch.path("grid.safetensors")
        try conv.save(to: path)
        let loaded = try FactorizedConv.load(from: path)
        #expect(loaded.hasBias == [false, true, false])
        try expectSameLayer(conv, loaded, input: try ioRandomTensor([2, 3, 9], seed: 2), layers: [[0], [1], [2]])
    }

    @Test("a layer without bias, 3D kernel, Tucker grid 2x2")
    func roundTripNoBias() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 2, outChannels: 3, kernelSize: [2, 2, 2], nLayers: [2, 2],
                                      factorization: .tucker, rank: .fraction(0.7), seed: 11)
        let path = scratch.path("tucker.safetensors")
        try conv.save(to: path)
        let loaded = try FactorizedConv.load(from: path)
        #expect(loaded.bias == nil)
        try expectSameLayer(conv, loaded, input: try ioRandomTensor([1, 2, 4, 4, 4], seed: 5), layers: [[0, 1], [1, 0]])
    }

    @Test("the file's tensors use tltorch state_dict names and the metadata JSON")
    func fileContents() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], bias: true, factorization: .cp, rank: .int(5))
        let path = scratch.path("cp.safetensors")
        try conv.save(to: path)
        let file = try SafeTensors.read(from: path)
        #expect(file.tensors.map(\.name) == ["weight.weights", "weight.factors.factor_0", "weight.factors.factor_1",
                                             "weight.factors.factor_2", "weight.factors.factor_3", "bias"])
        let config = try JSONValue.parse(Array(file.metadata["factorconv"]!.utf8))
        #expect(config["factorization"] == .string("cp"))
        #expect(config["rank"] == .array([.number(5)]))
        #expect(config["library_version"] == .string(FactorizedConv.libraryVersion))
        #expect(config["has_bias"] == .array([.bool(true)]))
    }

    @Test("save is atomic: a failed save leaves no file and no temporary")
    func atomicSave() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 2, outChannels: 2, kernelSize: [1])
        expectIOError([.io], "missing directory") { try conv.save(to: scratch.path("missing/dir/x.safetensors")) }
        let path = scratch.path("x.safetensors")
        try conv.save(to: path)
        try conv.save(to: path)  // overwrite
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.directory.path) == ["x.safetensors"])
    }

    @Test("F64 and F16 tensors are converted to float32 on load")
    func otherDtypes() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        var data = [UInt8]()
        for v in [1.5, -2.25] as [Double] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        for h in [0x3C00, 0xC000] as [UInt16] { withUnsafeBytes(of: h.littleEndian) { data += $0 } }  // 1.0, -2.0
        let header = #"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[2,1],"data_offsets":[16,20]}}"#
        let file = try SafeTensors.read(from: scratch.write(safetensorsBytes(header: header, data: data), "d.safetensors"))
        #expect(file["a"] == (try Tensor(shape: [2], scalars: [1.5, -2.25])))
        #expect(file["b"] == (try Tensor(shape: [2, 1], scalars: [1.0, -2.0])))
    }

    @Test("the memory bound refuses a (sparse) 5 GB file before reading its data")
    func memoryBound() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let bytes = 5 << 30
        let header = #"{"weight.tensor":{"dtype":"F32","shape":[\#(bytes / 4)],"data_offsets":[0,\#(bytes)]}}"#
        let path = try scratch.write(safetensorsBytes(header: header, data: []), "huge.safetensors")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(8 + header.utf8.count + bytes))
        try handle.close()
        expectIOError([.outOfMemory], "5 GB claim") { _ = try FactorizedConv.load(from: path) }
        expectIOError([.outOfMemory], "5 GB claim") { _ = try SafeTensors.read(from: path) }
    }
}

/// tltorch's `extra_repr` layout (behaviour notes §9), without its dangling ", ".
extension FactorizedConv: CustomStringConvertible {
    /// `in_channels=16, out_channels=32, kernel_size=(3, 5), rank=43, order=2, stride=[2, 1], bias=False`;
    /// a grid adds one line per layer: `\n * Conv(0,): padding=[1, 1]`.
    public var description: String {
        let s = snapshot
        let base = "in_channels=\(inChannels), out_channels=\(outChannels), kernel_size=\(pythonTuple(s.kernelSize)), "
            + "rank=\(s.weight.rank), order=\(s.kernelSize.count)"
        if layers.isSingle {
            let items = Self.geometryItems(s.geometry[0]) + (s.hasBias[0] && s.bias != nil ? [] : ["bias=False"])
            return items.isEmpty ? base : base + ", " + items.joined(separator: ", ")
        }
        var text = base
        for flat in 0..<layers.count {
            let items = Self.geometryItems(s.geometry[flat]) + (s.hasBias[flat] && s.bias != nil ? [] : ["bias=False"])
            text += "\n * Conv\(pythonTuple(layers.indices(ofFlat: flat))): " + items.joined(separator: ", ")
        }
        return text
    }

    /// tltorch's `SubFactorizedConv.__repr__`, printing `bias=False` only when the layer has none.
    func subConvDescription(layer: [Int]) -> String {
        let s = snapshot
        let flat = (try? layers.flatIndex(layer)) ?? 0
        let index = layer.count == 1 ? "\(layer[0])" : pythonTuple(layer)
        let items = Self.geometryItems(s.geometry[flat]) + (s.hasBias[flat] && s.bias != nil ? [] : ["bias=False"])
        return "SubConv \(index) from main factorized layer.\n        SubFactorizedConv(in_channels=\(inChannels), out_channels=\(outChannels)"
            + items.map { ", " + $0 }.joined() + ")"
    }

    /// The non-default geometry entries, as Python lists.
    static func geometryItems(_ g: ConvGeometry) -> [String] {
        func list(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
        var items = [String]()
        if g.stride.contains(where: { $0 != 1 }) { items.append("stride=\(list(g.stride))") }
        if g.padding.contains(where: { $0 != 0 }) { items.append("padding=\(list(g.padding))") }
        if g.dilation.contains(where: { $0 != 1 }) { items.append("dilation=\(list(g.dilation))") }
        return items
    }
}

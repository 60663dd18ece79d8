/// Axis permutations, unfoldings and foldings (TensorLy's conventions, C order).
extension Tensor {
    /// Axes reordered: result axis `i` is this tensor's axis `axes[i]` (numpy `transpose`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw FactorConvError.invalid("permutation \(axes) is not a permutation of 0..<\(rank)")
        }
        if axes == Array(0..<rank) { return self }
        let newShape = axes.map { shape[$0] }
        if let r = axes.first, axes == (0..<rank).map({ ($0 + r) % rank }) {
            // A rotation of the axes (moveaxis to/from the ends, as TT layouts and unfoldings of
            // the last mode do) is a matrix transpose: do it in cache-sized blocks.
            let rows = shape[..<r].reduce(1, *), cols = shape[r...].reduce(1, *)
            return Tensor(uncheckedShape: newShape, scalars: Self.transposed(scalars, rows: rows, cols: cols))
        }
        let oldStrides = strides
        let srcStrides = axes.map { oldStrides[$0] }
        var out = [Scalar](repeating: 0, count: count)
        if count == 0 { return Tensor(uncheckedShape: newShape, scalars: out) }
        // Walk the output in order with an odometer over the source offset.
        var index = [Int](repeating: 0, count: rank)
        var src = 0
        scalars.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let last = rank - 1
                let innerN = newShape[last], innerStride = srcStrides[last]
                var dst = 0
                while dst < o.count {
                    var p = src
                    for _ in 0..<innerN { o[dst] = s[p]; dst += 1; p += innerStride }
                    // advance all but the innermost axis
                    var axis = last - 1
                    while axis >= 0 {
                        index[axis] += 1
                        src += srcStrides[axis]
                        if index[axis] < newShape[axis] { break }
                        src -= srcStrides[axis] * newShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
        }
        return Tensor(uncheckedShape: newShape, scalars: out)
    }

    /// The (cols × rows) transpose of a row-major (rows × cols) matrix, in 32×32 blocks written
    /// one output row at a time: contiguous stores with strided loads are faster than strided
    /// stores with contiguous loads. Large matrices split their output rows
    /// over the workers.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func transposed(_ values: [Scalar], rows: Int, cols: Int) -> [Scalar] {
        let block = 32
        return [Scalar](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { source in
                guard let src = source.baseAddress, let dst = out.baseAddress else { return }
                let columnBlocks = (cols + block - 1) / block
                let parts = values.count >= (1 << 18) ? min(Parallel.threadCount, columnBlocks) : 1
                Parallel.forEach(parts) { part in
                    for cb in Parallel.share(of: columnBlocks, part: part, parts: parts) {
                        let c0 = cb * block, c1 = min(c0 + block, cols)
                        for r0 in stride(from: 0, to: rows, by: block) {
                            let r1 = min(r0 + block, rows)
                            for c in c0..<c1 {
                                let o = dst + c * rows
                                for r in r0..<r1 { o[r] = src[r * cols + c] }
                            }
                        }
                    }
                }
            }
            initialized = values.count
        }
    }

    /// Moves axis `source` to position `destination`, other axes keeping their order (numpy `moveaxis`).
    package func movingAxis(_ source: Int, to destination: Int) throws -> Tensor {
        guard (0..<rank).contains(source), (0..<rank).contains(destination) else {
            throw FactorConvError.invalid("moveaxis(\(source), \(destination)) out of range for a tensor of rank \(rank)")
        }
        var order = Array(0..<rank)
        order.remove(at: source)
        order.insert(source, at: destination)
        return try permuted(order)
    }

    /// Mode-n unfolding `reshape(moveaxis(T, n, 0), (I_n, -1))`, shape `(I_n, count / I_n)`.
    package func unfolded(_ mode: Int) throws -> Tensor {
        let moved = try movingAxis(mode, to: 0)
        let rows = shape[mode]
        return Tensor(uncheckedShape: [rows, rows == 0 ? 0 : count / rows], scalars: moved.scalars)
    }

    /// The inverse of `unfolded(mode)`: a `(shape[mode], -1)` matrix folded back into `shape`.
    package static func folded(_ matrix: Tensor, mode: Int, shape: [Int]) throws -> Tensor {
        guard (0..<shape.count).contains(mode) else { throw FactorConvError.invalid("fold mode \(mode) out of range for shape \(shape)") }
        var movedShape = shape
        movedShape.remove(at: mode)
        movedShape.insert(shape[mode], at: 0)
        let moved = try Tensor(shape: movedShape, scalars: matrix.scalars)
        return try moved.movingAxis(0, to: mode)
    }
}

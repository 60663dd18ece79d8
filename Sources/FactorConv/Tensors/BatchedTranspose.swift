/// Batched 2-D transposes for the TT layout changes (moving the out-channel axis between the
/// end and the front). A generic axis permutation reads with a large stride and misses the cache
/// on every element; 32×32 tiles keep both the rows read and the rows written cache-resident.
enum BatchedTranspose {
    /// Views `t` as `(batch, rows, cols)` (`batch` = product of axes before `axis`, `cols` = the
    /// last axis) and returns `(batch, cols, rows)` with shape `shape[..<axis] + [last] + shape[axis..<last]`:
    /// the last axis moved to position `axis`.
    static func movingLastAxis<S: TensorScalar>(_ t: Tensor<S>, to axis: Int) throws -> Tensor<S> {
        let n = t.rank
        guard axis >= 0, axis < n else { throw FactorConvError.invalid("cannot move the last axis of shape \(t.shape) to \(axis)") }
        let batch = t.shape[..<axis].reduce(1, *), rows = t.shape[axis..<(n - 1)].reduce(1, *), cols = t.shape[n - 1]
        var shape = t.shape
        shape.insert(shape.removeLast(), at: axis)
        return try Tensor(shape: shape, scalars: transpose(t.scalars, batch: batch, rows: rows, cols: cols))
    }

    /// The inverse: moves axis `axis` to the end (`(batch, rows, cols)` with `rows` = `shape[axis]`).
    static func movingAxisLast<S: TensorScalar>(_ t: Tensor<S>, from axis: Int) throws -> Tensor<S> {
        let n = t.rank
        guard axis >= 0, axis < n else { throw FactorConvError.invalid("cannot move axis \(axis) of shape \(t.shape) last") }
        let batch = t.shape[..<axis].reduce(1, *), rows = t.shape[axis], cols = t.shape[(axis + 1)...].reduce(1, *)
        var shape = t.shape
        shape.append(shape.remove(at: axis))
        return try Tensor(shape: shape, scalars: transpose(t.scalars, batch: batch, rows: rows, cols: cols))
    }

    /// `out[b, c, r] = input[b, r, c]`, tiled.
    static func transpose<S: TensorScalar>(_ input: [S], batch: Int, rows: Int, cols: Int) -> [S] {
        var out = [S](repeating: 0, count: input.count)
        let tile = 32
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<batch {
                    let base = b * rows * cols
                    for r0 in stride(from: 0, to: rows, by: tile) {
                        let r1 = min(r0 + tile, rows)
                        for c0 in stride(from: 0, to: cols, by: tile) {
                            let c1 = min(c0 + tile, cols)
                            for r in r0..<r1 {
                                for c in c0..<c1 { dst[base + c * rows + r] = src[base + r * cols + c] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

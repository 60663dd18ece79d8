/// Khatri-Rao product of matrices that all have `columns` columns: the result has
/// `Π rows` rows, the first matrix's row index varying slowest (TensorLy's convention). The
/// product of no matrices is a single row of ones, so callers need no special case. The one
/// full Khatri-Rao product of the package (`Tensor.khatriRao` checks its arguments and calls
/// it; CP-ALS streams row blocks of it instead, `DecompositionKit.khatriRaoRows`). Callers check
/// the shapes and the size.
package func khatriRaoProduct<S: TensorScalar>(_ matrices: ArraySlice<Tensor<S>>, columns r: Int) -> Tensor<S> {
    var acc = Tensor<S>(repeating: 1, shape: [1, r])
    for next in matrices {
        let rowsA = acc.shape[0], rowsB = next.shape[0]
        var out = Tensor<S>(shape: [rowsA * rowsB, r])
        acc.scalars.withUnsafeBufferPointer { a in
            next.scalars.withUnsafeBufferPointer { b in
                out.scalars.withUnsafeMutableBufferPointer { o in
                    for i in 0..<rowsA {
                        for j in 0..<rowsB {
                            let dst = (i * rowsB + j) * r, ai = i * r, bj = j * r
                            for c in 0..<r { o[dst + c] = a[ai + c] * b[bj + c] }
                        }
                    }
                }
            }
        }
        acc = out
    }
    return acc
}

/// The product of `values`, or nil when it overflows `Int` (sizes read from the command line or
/// a layer file can describe counts beyond 2^63).
func checkedProduct(_ values: [Int]) -> Int? {
    var product = 1
    for value in values {
        let (result, overflow) = product.multipliedReportingOverflow(by: value)
        if overflow { return nil }
        product = result
    }
    return product
}

/// `a + b`, or nil when it overflows `Int`.
func checkedSum(_ a: Int, _ b: Int) -> Int? {
    let (result, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : result
}

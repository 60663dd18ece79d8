// The FactorConv layer module (see Package.swift).
//
// FactorConvNumerics is re-exported so that its few public types (Tensor, TensorScalar,
// FactorConvError, ConvGeometry and the process-wide settings) are part of `import FactorConv`;
// everything else in it has `package` access: visible to this package's modules (the C exports,
// the tests, the benchmarks), not to users. Tests/API/public-symbols.txt lists the public API.
@_exported import FactorConvNumerics

// The FactorConv layer module (see Package.swift).
@_exported import FactorConvNumerics

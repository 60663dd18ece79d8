internal import CFactorConvABI

extension FactorizedConv {
    /// FactorConv's version, "MAJOR.MINOR.PATCH". It is defined once, as FCONV_VERSION_STRING
    /// in include/factorconv.h; the C ABI, the layer files, the tool, the Python package and
    /// the install files (pkg-config, CMake, wheel) all read it from there.
    public static let libraryVersion: String = FCONV_VERSION_STRING
}

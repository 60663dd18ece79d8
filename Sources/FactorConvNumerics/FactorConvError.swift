/// An error thrown by FactorConv. `kind` maps one-to-one to the C ABI's status codes.
public struct FactorConvError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The category of a failure; raw values are the pinned `FCONV_ERR_*` codes of the C ABI.
    public enum Kind: Int32, Sendable, CaseIterable {
        case invalidArgument = 1
        case shapeMismatch = 2
        case indexOutOfRange = 3
        case unsupported = 4
        case outOfMemory = 5
        case format = 6
        case io = 7
        case cancelled = 8
        case bufferTooSmall = 9
        case numerical = 10
        case `internal` = 11
    }

    /// The category of the failure.
    public let kind: Kind
    /// What was wrong and what was expected, naming the argument.
    public let message: String

    /// Creates an error of the given kind with a message naming the argument at fault.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Shorthand for an `.invalidArgument` error.
    package static func invalid(_ message: String) -> FactorConvError { .init(.invalidArgument, message) }
    /// Shorthand for a `.shapeMismatch` error.
    package static func shape(_ message: String) -> FactorConvError { .init(.shapeMismatch, message) }
    /// The `.numerical` error of values (`what`) that hold NaN or infinities.
    package static func nonFinite(_ what: String) -> FactorConvError { .init(.numerical, "\(what) contains NaN or infinite values") }
    /// The `.numerical` error of a forward whose finite operands gave an output that does not fit
    /// in float32 (`FiniteCheck.checksOutputs`).
    package static let overflow = FactorConvError(.numerical,
        "the output overflowed to inf/NaN although the input is finite: some results exceed float32's range (about 3.4e38); "
        + "scale the input or the weights down, or turn the check off (fconv_set_output_check(0), fc.set_output_check(False))")
}

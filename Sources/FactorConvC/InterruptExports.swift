import CFactorConvABI
import FactorConv

// fconv_interrupt may run inside a signal handler: it only calls the C increment behind
// Interruption.interruptCallsInProgress (no allocation, no lock, no Swift runtime call).
@c @implementation
public func fconv_interrupt() { Interruption.interruptCallsInProgress() }

/// Returns to the system the memory FactorConv keeps between calls for reuse: the workspace
/// pool's buffers (`Workspace.releaseAll`, which also trims the allocator) and the transformed
/// kernels the functional convolution keeps for recent weights (`DenseConvolution`). What a
/// layer owns (its cached kernels) stays until the layer is freed. Safe at any time: buffers a
/// running call is using stay its own and return to the pool afterwards.
/// The C ABI's `fconv_release_memory`; Python's `factorconv.release_memory()`.
public func releaseMemory() {
    DenseConvolution.releaseCachedKernels()
    Workspace.shared.releaseAll()
}

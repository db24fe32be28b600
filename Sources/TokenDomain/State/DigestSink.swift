/// Where ``ServerState/digest(into:)`` streams the canonical bytes of the state, in order;
/// typically a SHA-256 context in the engine, so the state is never materialised as one
/// buffer.
public protocol DigestSink {
    /// Consumes the next bytes; the pointer is valid only during the call.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
}

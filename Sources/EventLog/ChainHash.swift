/// A SHA-256 value of the hash chain, stored inline (no heap allocation).
///
/// Record *n*'s hash is SHA-256 over record *n-1*'s hash followed by record *n*'s canonical
/// bytes; the record before sequence 1 has the hash ``zero``. Bytes, hex and parsing come from
/// ``InlineSHA256``.
public struct ChainHash: InlineSHA256 {
    public var w0, w1, w2, w3: UInt64

    /// Thirty-two zero bytes: the "previous hash" of the first record.
    public static let zero = ChainHash(w0: 0, w1: 0, w2: 0, w3: 0)

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }
}

import TextCoding

/// A SHA-256 value of the hash chain, stored inline (no heap allocation).
///
/// Record *n*'s hash is SHA-256 over record *n-1*'s hash followed by record *n*'s canonical
/// bytes; the record before sequence 1 has the hash ``zero``.
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    public var w0, w1, w2, w3: UInt64

    /// Thirty-two zero bytes: the "previous hash" of the first record.
    public static let zero = ChainHash(w0: 0, w1: 0, w2: 0, w3: 0)

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Reads 32 bytes; `bytes` must hold at least that many.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        w0 = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    /// Parses 64 hex digits; `nil` for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self = bytes.withUnsafeBytes { ChainHash(bytes: $0) }
    }

    /// The 32 bytes in order.
    public var bytes: [UInt8] {
        var copy = self
        return withUnsafeBytes(of: &copy) { Array($0) }
    }

    /// Calls `body` with the 32 bytes, without allocating.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try withUnsafeBytes(of: &copy) { try body($0) }
    }

    /// Lower-case hex, 64 digits.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }
}

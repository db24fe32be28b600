import TextCoding

/// A SHA-256 value kept inline as four words (no heap allocation), with its bytes, hex and
/// parsing: what ``ChainHash`` and ``MerkleHash`` share, so that the two kinds of hash stay
/// distinct types over one way of storing 32 bytes.
public protocol InlineSHA256: Hashable, Sendable, CustomStringConvertible {
    var w0: UInt64 { get }
    var w1: UInt64 { get }
    var w2: UInt64 { get }
    var w3: UInt64 { get }
    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64)
}

extension InlineSHA256 {
    /// Reads 32 bytes; `bytes` must hold at least that many.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        self.init(
            w0: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            w1: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            w2: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            w3: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Parses 64 hex digits; `nil` for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self = bytes.withUnsafeBytes { Self(bytes: $0) }
    }

    /// The 32 bytes in order.
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// Calls `body` with the 32 bytes, without allocating.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: (w0, w1, w2, w3)) { try body($0) }
    }

    /// Lower-case hex, 64 digits.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }
}

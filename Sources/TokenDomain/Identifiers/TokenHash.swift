import TextCoding

/// The SHA-256 of a login token's 32 secret bytes: how a token is stored, looked up and
/// recorded in events. The secret itself is never stored.
///
/// The 32 bytes live inline in four words (no heap allocation). Word `w0` holds bytes 0...7
/// read big-endian, and so on, so comparing words compares the bytes lexicographically.
/// Equality is not constant-time; that is fine for a hash of 256 random bits, which an
/// attacker cannot steer. Compare secrets themselves with ``ConstantTime``.
public struct TokenHash: Hashable, Sendable, Comparable, CustomStringConvertible {
    let w0: UInt64
    let w1: UInt64
    let w2: UInt64
    let w3: UInt64

    /// The length of a hash in bytes.
    public static let byteCount = 32

    /// Reads exactly 32 bytes; `nil` for any other length.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(unchecked: bytes)
    }

    /// Copies exactly 32 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard let hash = bytes.withUnsafeBytes({ TokenHash($0) }) else { return nil }
        self = hash
    }

    /// Reads the 32 bytes at the start of `bytes`; the caller has checked the length.
    init(unchecked bytes: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Calls `body` with the 32 bytes in order; the pointer is valid only inside `body`.
    public func withUnsafeBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        let words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public static func < (lhs: TokenHash, rhs: TokenHash) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    /// 64 lowercase hex digits.
    public var description: String { Hex.encode(bytes) }
}

import TextCoding

/// The first 8 bytes of the SHA-256 of a backend credential (spec §9): what the log records
/// when an operator sets one, so an auditor sees that one was set or rotated, and which,
/// without the secret. 16 lower-case hex digits in text.
public struct BackendCredentialFingerprint: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 8
    public let bytes: [UInt8]

    /// `nil` unless `bytes` has exactly ``byteCount`` bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public var description: String { Hex.encode(bytes) }
}

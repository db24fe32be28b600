/// A hash of one transmitted TAN (32 bytes), made by the engine: the TAN itself never
/// enters the domain, an event, a log line or an error.
///
/// A TAN has few digits, so its plain SHA-256 could be reversed by trying every code: the
/// engine should hash it keyed (e.g. HMAC-SHA-256 with a server secret, or with the
/// challenge id and a per-code salt). The domain only compares two hashes, in constant time
/// (``ConstantTime``). Its descriptions never show the bytes.
public struct TANHash: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    let digest: TokenHash

    /// Copies exactly 32 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard let digest = TokenHash(bytes: bytes) else { return nil }
        self.digest = digest
    }

    init(digest: TokenHash) {
        self.digest = digest
    }

    /// The 32 bytes as an array (for the codec and the engine's tests).
    public var bytes: [UInt8] { digest.bytes }

    /// Whether `other` holds the same bytes, reading all 32 of both whatever they hold.
    public func constantTimeEquals(_ other: TANHash) -> Bool {
        digest.withUnsafeBytes { left in
            other.digest.withUnsafeBytes { right in ConstantTime.equals(left, right) }
        }
    }

    public var description: String { "TANHash(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

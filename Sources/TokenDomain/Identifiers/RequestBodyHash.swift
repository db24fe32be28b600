/// The SHA-256 of a protected request's body, made by the engine: a challenge is bound to
/// it, and the repeated request must carry the same body (spec §6).
public struct RequestBodyHash: Hashable, Sendable, CustomStringConvertible {
    let digest: TokenHash

    /// Copies exactly 32 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard let digest = TokenHash(bytes: bytes) else { return nil }
        self.digest = digest
    }

    init(digest: TokenHash) {
        self.digest = digest
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] { digest.bytes }

    /// 64 lowercase hex digits.
    public var description: String { digest.description }
}

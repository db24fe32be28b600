import Crypto
import TokenDomain

/// Making and recognising login tokens. The secret exists only in the one response that
/// returns it; everything stored or compared is its SHA-256.
public enum LoginTokenSecret {
    /// A fresh token: 32 bytes from the system's secure generator, as text, and its hash.
    static func generate() -> (text: String, hash: TokenHash) {
        let secret = SecureRandom.bytes(LoginToken.secretByteCount)
        return (LoginToken.encode(secret: secret), hash(secret))
    }

    /// The hash of a presented token (`secret-token:` and 52 Crockford base32 characters),
    /// or `nil` when it is not of that form.
    public static func hash(ofPresented text: some StringProtocol) -> TokenHash? {
        guard let secret = LoginToken.decode(text) else { return nil }
        return hash(secret)
    }

    static func hash(_ secret: [UInt8]) -> TokenHash {
        SHA256.hash(data: secret).withUnsafeBytes { TokenHash($0)! }
    }
}

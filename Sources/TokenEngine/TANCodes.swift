import Crypto
import TokenDomain

/// Making TANs and the keyed hashes the log keeps of them.
///
/// A TAN has only a few digits, so a plain hash of it could be reversed by trying every code;
/// the log keeps HMAC-SHA-256 under the operator's key instead, over the instance, the
/// challenge and the code, so one code hashes differently in every challenge.
public enum TANCodes {
    /// A code of `digits` decimal digits (1...18), uniformly drawn from the system's secure
    /// generator.
    static func generate(digits: Int) -> String {
        let digits = min(max(digits, 1), 18)
        var bound: UInt64 = 1
        for _ in 0..<digits { bound *= 10 }
        var generator = SystemRandomNumberGenerator()
        let text = String(UInt64.random(in: 0..<bound, using: &generator))
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The keyed hash of `code` for one challenge of one instance.
    static func hash(
        _ code: String, challenge: ChallengeID, instance: InstanceID, key: [UInt8]
    ) -> TANHash {
        var message = Array("tallystick-tan-v1".utf8)
        message.append(0)
        message += Array(instance.rawValue.utf8)
        message.append(0)
        message += Array(challenge.rawValue.utf8)
        message.append(0)
        message += Array(code.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return TANHash(bytes: Array(mac))!
    }

    /// 32 fresh random bytes, for a ``TwoFactorConfiguration/codeKey``.
    public static func randomKey() -> [UInt8] {
        SecureRandom.bytes(32)
    }

    /// The address as the `202` shows it (`tan_info`): enough to recognise, not to read.
    /// `merchant@example.com` → `m***@example.com`; `+41791234567` → `+*********67`.
    public static func mask(_ address: String, channel: TANChannel) -> String {
        let characters = Array(address)
        switch channel {
        case .email:
            guard let at = characters.lastIndex(of: "@"), at > 0 else {
                return String(characters.prefix(1)) + "***"
            }
            return String(characters[0]) + "***" + String(characters[at...])
        case .sms:
            let kept = min(2, characters.count / 4)
            var out = ""
            for (index, character) in characters.enumerated() {
                let visible =
                    index >= characters.count - kept || (index == 0 && character == "+")
                out.append(visible ? character : "*")
            }
            return out
        }
    }
}
